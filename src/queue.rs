//! SQL helpers of the submission queue (sql/040_queue.sql): DSSE envelope validation and digests on
//! enqueue, and the check that a logged Rekor entry is exactly the queued envelope.
use crate::args::{Jsonb, JsonbArray, Text};
use crate::error::{raise, INVALID_PARAMETER};
use pgrx::prelude::*;
use rekor_meta_core::dsse;
use rekor_meta_core::entry::{parse_body, DigestRole};
use sha2::{Digest, Sha256};

/// One row of rekor_dsse_info: the payload type and the digests the queue stores.
type DsseInfo = (String, Vec<u8>, Vec<u8>, Vec<u8>);

/// The DsseInfo of one envelope, or 22023 naming the bad field (`at`: where the DETAIL says it is).
fn dsse_info(envelope: Jsonb, at: impl Fn(&str) -> String) -> DsseInfo {
    let env = dsse::parse_envelope(&envelope.0)
        .unwrap_or_else(|e| raise(INVALID_PARAMETER, format!("invalid DSSE envelope: {e}"), at(e.path())));
    let (payload_sha256, envelope_sha256, pae_sha256) =
        (env.payload_sha256().to_vec(), dsse::envelope_sha256(&envelope.0).to_vec(), env.pae_sha256().to_vec());
    drop(envelope);
    // Moved, not cloned: the payload type is the only part of the envelope returned.
    (env.payload_type, payload_sha256, envelope_sha256, pae_sha256)
}

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
    TableIterator::once(dsse_info(envelope, |path| format!("at {path}")))
}

/// rekor_dsse_info of every envelope of a batch, in order, in one call (rekor_enqueue_batch): the
/// same checks and errors, the element named in the DETAIL. One call per envelope paid the SET
/// clause of the function (every setting saved and restored) each time, a tenth of a batch's CPU.
#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_dsse_info_batch(
    envelopes: JsonbArray<'_>,
) -> TableIterator<
    'static,
    (
        name!(payload_type, String),
        name!(payload_sha256, Vec<u8>),
        name!(envelope_sha256, Vec<u8>),
        name!(pae_sha256, Vec<u8>),
    ),
> {
    let rows: Vec<DsseInfo> = (0..envelopes.len())
        .map(|i| {
            let Some(envelope) = envelopes.get(i) else {
                raise(INVALID_PARAMETER, "envelopes must not contain NULL", format!("envelopes[{}] is NULL", i + 1))
            };
            dsse_info(envelope, |path| format!("envelopes[{}] at {path}", i + 1))
        })
        .collect();
    TableIterator::new(rows)
}

/// Why the entry `body` does not log `envelope`, or NULL when it does:
/// dsse — same payload hash and the same signatures; intoto — same payload hash;
/// hashedrekord — the artifact digest is SHA-256 of the envelope's PAE and the signature is one of
/// the envelope's (the form Rekor v2 accepts).
#[pg_extern(immutable, parallel_safe, strict)]
pub(crate) fn rekor_entry_envelope_mismatch(body: &[u8], envelope: Jsonb) -> Option<String> {
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
            if !has(DigestRole::Payload, &payload) {
                return Some(format!("intoto payload hash is not SHA-256 of the envelope payload ({})", hex::encode(payload)));
            }
            // The payload alone does not make it this envelope: someone else may have signed it.
            if body_sigs.is_empty() {
                return Some("intoto entry carries no signatures (v0.0.1): it cannot be shown to log this envelope's signatures".to_string());
            }
            let mut a = env_sigs.clone();
            let mut b = body_sigs.clone();
            a.sort();
            b.sort();
            if a != b {
                return Some(format!(
                    "intoto signatures differ: the envelope has {} signature(s), the entry {}, or their bytes differ",
                    a.len(),
                    b.len()
                ));
            }
            None
        }
        "hashedrekord" => {
            // Rekor v2 hashes the PAE with the signing algorithm's hash: SHA-256 (P-256, Ed25519ph)
            // or SHA-384 (P-384).
            let pae_bytes = env.pae();
            let pae: [u8; 32] = Sha256::digest(&pae_bytes).into();
            let pae384: Vec<u8> = sha2::Sha384::digest(&pae_bytes).to_vec();
            let has384 = parsed.digests.iter().any(|d| d.role == DigestRole::Artifact && d.algorithm == "sha384" && d.value == pae384);
            if !has(DigestRole::Artifact, &pae) && !has384 {
                return Some(format!(
                    "hashedrekord artifact digest is neither SHA-256 ({}) nor SHA-384 of the envelope's DSSE PAE",
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

/// The shape of an array argument, for set-based SQL functions that must refuse a huge one before
/// anything unpacks it: its unpacked size (read from the TOAST header alone), then, when that is at
/// most `max_bytes`, its dimensions, element count and first NULL element (1-based, row-major).
/// The unpacked copy it reads is freed before it returns, so the check costs no memory after it.
/// The signer's verifier for a queued envelope (PEM or base64 DER of a SubjectPublicKeyInfo or an
/// X.509 certificate): its DER, kind, key type and SubjectPublicKeyInfo. 22023 when it does not
/// parse, has an unsupported key type, or no signature of the envelope verifies under it (such an
/// envelope could never be logged with this verifier).
#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_verifier_check(
    envelope: Jsonb,
    verifier: Text<'_>,
) -> TableIterator<
    'static,
    (name!(der, Vec<u8>), name!(kind, String), name!(key_type, String), name!(spki, Vec<u8>), name!(signature_index, i32)),
> {
    let env = dsse::parse_envelope(&envelope.0)
        .unwrap_or_else(|e| raise(INVALID_PARAMETER, format!("invalid DSSE envelope: {e}"), format!("at {}", e.path())));
    let v = rekor_meta_core::verifier::parse_verifier(verifier.as_bytes()).unwrap_or_else(|e| {
        raise(INVALID_PARAMETER, format!("invalid verifier: {e}"), format!("verifier is {} bytes", verifier.len()))
    });
    let Some(i) = v.signs(&env) else {
        raise(
            INVALID_PARAMETER,
            "no signature of the envelope verifies under the verifier",
            format!(
                "{} signature(s) over the DSSE PAE of payload type {:?}; verifier: {} {} (SPKI SHA-256 {})",
                env.signatures.len(),
                crate::error::snippet(&env.payload_type),
                v.kind.as_str(),
                v.key_type.as_str(),
                hex::encode(Sha256::digest(&v.spki))
            ),
        )
    };
    let index = i32::try_from(i).unwrap_or(i32::MAX);
    TableIterator::once((v.der, v.kind.as_str().to_string(), v.key_type.as_str().to_string(), v.spki, index))
}

#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_array_shape(
    a: pgrx::AnyArray,
    max_bytes: i64,
) -> TableIterator<
    'static,
    (
        name!(raw_size, i64),
        name!(ndims, Option<i32>),
        name!(dims, Option<String>),
        name!(items, Option<i64>),
        name!(first_null, Option<i64>),
    ),
> {
    let datum = a.datum();
    // SAFETY: `datum` is a non-NULL array datum (strict function, anyarray argument);
    // toast_raw_datum_size reads only its header (or TOAST pointer).
    let raw = unsafe { pg_sys::toast_raw_datum_size(datum) } as i64;
    if raw > max_bytes {
        return TableIterator::once((raw, None, None, None, None));
    }
    let original = datum.cast_mut_ptr::<pg_sys::varlena>();
    // SAFETY: detoasting an array varlena gives a flat ArrayType (a copy when it was toasted or
    // expanded, the same pointer otherwise); RawArray only reads its header, dims and null bitmap.
    let (ndims, dims, items, first_null) = unsafe {
        let flat = pg_sys::pg_detoast_datum(original);
        let Some(nn) = std::ptr::NonNull::new(flat.cast::<pg_sys::ArrayType>()) else {
            raise(INVALID_PARAMETER, "not an array".to_string(), String::new())
        };
        let mut arr = pgrx::array::RawArray::from_ptr(nn);
        let dims: Vec<i32> = arr.dims().to_vec();
        let items = arr.len();
        let first_null = arr.nulls().and_then(|bits| {
            let bits = bits.as_ref();
            (0..items).find(|&i| bits.get(i / 8).is_some_and(|b| b & (1u8 << (i % 8)) == 0))
        });
        if flat != original {
            pg_sys::pfree(flat.cast());
        }
        (dims.len() as i32, dims, items, first_null)
    };
    let text = dims.iter().map(|d| format!("[{d}]")).collect::<String>();
    TableIterator::once((raw, Some(ndims), Some(text), Some(items as i64), first_null.map(|i| i as i64 + 1)))
}
