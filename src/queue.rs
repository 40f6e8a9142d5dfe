//! SQL helpers of the submission queue (sql/040_queue.sql): DSSE envelope validation and digests on
//! enqueue, and the check that a logged Rekor entry is exactly the queued envelope.
use crate::args::Jsonb;
use crate::error::{raise, INVALID_PARAMETER};
use pgrx::prelude::*;
use rekor_meta_core::dsse;
use rekor_meta_core::entry::{parse_body, DigestRole};
use sha2::{Digest, Sha256};

/// Validates a DSSE envelope (payloadType, base64 payload, signatures[] with base64 sig and optional
/// keyid) and returns the digests the queue stores; 22023 naming the bad field otherwise.
#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_dsse_info(
    envelope: Jsonb,
) -> TableIterator<
    'static,
    (
        name!(payload_type, String),
        name!(payload_sha256, Vec<u8>),
        name!(envelope_sha256, Vec<u8>),
        name!(pae_sha256, Vec<u8>),
    ),
> {
    let env = dsse::parse_envelope(&envelope.0)
        .unwrap_or_else(|e| raise(INVALID_PARAMETER, format!("invalid DSSE envelope: {e}"), format!("at {}", e.path())));
    let (payload_sha256, envelope_sha256, pae_sha256) =
        (env.payload_sha256().to_vec(), dsse::envelope_sha256(&envelope.0).to_vec(), env.pae_sha256().to_vec());
    drop(envelope);
    // Moved, not cloned: the payload type is the only part of the envelope returned.
    TableIterator::once((env.payload_type, payload_sha256, envelope_sha256, pae_sha256))
}

/// Why the entry `body` does not log `envelope`, or NULL when it does:
/// dsse — same payload hash and the same signatures; intoto — same payload hash;
/// hashedrekord — the artifact digest is SHA-256 of the envelope's PAE and the signature is one of
/// the envelope's (the form Rekor v2 accepts).
#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_entry_envelope_mismatch(body: &[u8], envelope: Jsonb) -> Option<String> {
    let env = match dsse::parse_envelope(&envelope.0) {
        Ok(e) => e,
        Err(e) => return Some(format!("the queued envelope does not parse: {e}")),
    };
    let parsed = match parse_body(body) {
        Ok(p) => p,
        Err(e) => return Some(format!("the entry body does not parse: {e}")),
    };
    let has = |role: DigestRole, value: &[u8]| {
        parsed.digests.iter().any(|d| d.role == role && d.algorithm == "sha256" && d.value == value)
    };
    let env_sigs: Vec<&[u8]> = env.signatures.iter().map(|s| s.sig.as_slice()).collect();
    let body_sigs: Vec<&[u8]> = parsed.signatures.iter().map(|s| s.signature.as_slice()).collect();
    let payload = env.payload_sha256();
    match parsed.kind.as_str() {
        "dsse" => {
            if !has(DigestRole::Payload, &payload) {
                return Some(format!("dsse payload hash is not SHA-256 of the envelope payload ({})", hex::encode(payload)));
            }
            let mut a = env_sigs.clone();
            let mut b = body_sigs.clone();
            a.sort();
            b.sort();
            if a != b {
                return Some(format!(
                    "dsse signatures differ: the envelope has {} signature(s), the entry {}, or their bytes differ",
                    a.len(),
                    b.len()
                ));
            }
            None
        }
        "intoto" => {
            if has(DigestRole::Payload, &payload) {
                None
            } else {
                Some(format!("intoto payload hash is not SHA-256 of the envelope payload ({})", hex::encode(payload)))
            }
        }
        "hashedrekord" => {
            let pae: [u8; 32] = Sha256::digest(env.pae()).into();
            if !has(DigestRole::Artifact, &pae) {
                return Some(format!(
                    "hashedrekord artifact digest is not SHA-256 of the envelope's DSSE PAE ({})",
                    hex::encode(pae)
                ));
            }
            if !body_sigs.iter().any(|s| env_sigs.contains(s)) {
                return Some("hashedrekord signature is none of the envelope's signatures".to_string());
            }
            None
        }
        other => Some(format!("a {} entry cannot log a DSSE envelope (expected dsse, intoto or hashedrekord)", crate::error::snippet(other))),
    }
}
