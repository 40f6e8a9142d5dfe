//! A stored entry back out as a Sigstore bundle v0.3 (`application/vnd.dev.sigstore.bundle.v0.3+json`)
//! in protobuf JSON form, as sigstore-go and cosign read it: int64 fields as decimal strings, bytes
//! as standard base64, zero values and empty lists omitted.
//!
//! `verificationMaterial.tlogEntries[0]` is the entry exactly as the log issued it: logIndex (the
//! global index a SET signs), logId, kindVersion, integratedTime (Rekor v1 only), inclusionPromise
//! (where a SET exists), inclusionProof with its checkpoint envelope, and the canonicalized body.
//! The content is the DSSE envelope when one is given (it must be the one the body logs), otherwise
//! the message signature the body itself records (hashedrekord, rekord). The verification material
//! is the verifier given (a queue item's) or the one the body records: a certificate as
//! `certificate.rawBytes`, a public key as `publicKey.hint` (the key itself travels out of band,
//! `cosign --key`).

use crate::dsse::{parse_envelope, DsseError};
use crate::entry::{parse_body, DigestRole, EntryError, LogEntry};
use crate::verifier::{parse_verifier, VerifierError, VerifierKind};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use sha2::{Digest as _, Sha256};
use std::fmt;

pub const BUNDLE_V03_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Most RFC 3161 timestamps put in one bundle (sigstore-python refuses more than 32).
pub const MAX_TIMESTAMPS: usize = 32;

/// The stored fields of an entry (a `rekor_entries` row).
#[derive(Debug, Clone, Copy)]
pub struct StoredEntry<'a> {
    /// The canonicalized body: the Merkle leaf.
    pub body: &'a [u8],
    pub log_id: &'a [u8],
    /// The global (virtual) index, the one a SET signs.
    pub log_index: u64,
    /// None for Rekor v2 (no integrated time): the field is omitted.
    pub integrated_time: Option<i64>,
    pub kind: &'a str,
    pub api_version: &'a str,
    pub signed_entry_timestamp: Option<&'a [u8]>,
    /// The index inside the tree the proof is for (the shard's tree for Rekor v1).
    pub proof_log_index: u64,
    pub tree_size: u64,
    pub root_hash: &'a [u8],
    pub proof_hashes: &'a [[u8; 32]],
    /// The signed-note text the proof ends in.
    pub checkpoint: &'a str,
}

impl<'a> StoredEntry<'a> {
    /// The fields of a parsed entry, as rekor_entries stores them; None without an inclusion proof
    /// and checkpoint (such an entry is never stored). `kind` / `api_version` are the body's.
    pub fn from_log_entry(e: &'a LogEntry, kind: &'a str, api_version: &'a str) -> Option<StoredEntry<'a>> {
        let p = e.inclusion_proof.as_ref()?;
        Some(StoredEntry {
            body: &e.body,
            log_id: &e.log_id,
            log_index: e.log_index,
            integrated_time: if e.integrated_time == 0 && e.signed_entry_timestamp.is_none() {
                None
            } else {
                Some(e.integrated_time)
            },
            kind,
            api_version,
            signed_entry_timestamp: e.signed_entry_timestamp.as_deref(),
            proof_log_index: p.log_index,
            tree_size: p.tree_size,
            root_hash: &p.root_hash,
            proof_hashes: &p.hashes,
            checkpoint: p.checkpoint.as_deref()?,
        })
    }
}

/// What the entry came with besides the log's evidence (a queue item's envelope and verifier, the
/// timestamps that were verified on ingest).
#[derive(Debug, Clone, Default)]
pub struct Material<'a> {
    /// The DSSE envelope JSON as received (`{payload, payloadType, signatures[{sig, keyid}]}`).
    pub dsse_envelope: Option<&'a Value>,
    /// PEM, base64 DER or DER of the signer's SubjectPublicKeyInfo or X.509 certificate.
    pub verifier: Option<&'a [u8]>,
    /// DER TimeStampResp bytes, as `signedTimestamp` carries them.
    pub rfc3161_timestamps: Vec<&'a [u8]>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExportError {
    /// The stored body does not parse (it did when stored: data corruption).
    Body(EntryError),
    Envelope(DsseError),
    /// The body logs neither the envelope's payload hash nor its PAE hash.
    EnvelopeMismatch { body: String, envelope: String },
    /// The body records no message signature and no envelope was given (dsse / intoto entries
    /// need their envelope; rpm, helm, cose, ... have no bundle form).
    NoContent { kind: String },
    /// No verifier given and none in the body.
    NoVerifier,
    Verifier(VerifierError),
    TooManyTimestamps { got: usize },
    /// A stored field a bundle cannot hold (e.g. a negative integrated time).
    BadField { field: &'static str, detail: String },
}

impl fmt::Display for ExportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExportError::Body(e) => write!(f, "the stored body does not parse: {e}"),
            ExportError::Envelope(e) => write!(f, "the DSSE envelope does not parse: {e}"),
            ExportError::EnvelopeMismatch { body, envelope } => write!(
                f,
                "the DSSE envelope is not the one the entry logs: the body logs {body}; the envelope has {envelope}"
            ),
            ExportError::NoContent { kind } => write!(
                f,
                "a {kind} entry carries no message signature: its bundle needs the DSSE envelope, which is not stored"
            ),
            ExportError::NoVerifier => f.write_str("no verifier: neither given nor recorded in the body"),
            ExportError::Verifier(e) => write!(f, "the verifier: {e}"),
            ExportError::TooManyTimestamps { got } => {
                write!(f, "{got} RFC 3161 timestamps, over the limit of {MAX_TIMESTAMPS}")
            }
            ExportError::BadField { field, detail } => write!(f, "stored {field}: {detail}"),
        }
    }
}

impl std::error::Error for ExportError {}

fn b64(bytes: &[u8]) -> Value {
    Value::String(STANDARD.encode(bytes))
}

/// Protobuf JSON of an int64: a decimal string.
fn int64(i: impl fmt::Display) -> Value {
    Value::String(i.to_string())
}

/// The entry as a protobuf-JSON `TransparencyLogEntry` (dev.sigstore.rekor.v1).
pub fn tlog_entry_json(e: &StoredEntry) -> Result<Value, ExportError> {
    let mut m = Map::new();
    // proto3 JSON omits zero values: index 0 and "no integrated time" print nothing.
    if e.log_index != 0 {
        m.insert("logIndex".into(), int64(e.log_index));
    }
    m.insert("logId".into(), json!({ "keyId": b64(e.log_id) }));
    m.insert("kindVersion".into(), json!({ "kind": e.kind, "version": e.api_version }));
    match e.integrated_time {
        Some(t) if t < 0 => {
            return Err(ExportError::BadField { field: "integrated_time", detail: format!("{t} is before 1970") })
        }
        Some(0) | None => {}
        Some(t) => {
            m.insert("integratedTime".into(), int64(t));
        }
    }
    if let Some(set) = e.signed_entry_timestamp {
        m.insert("inclusionPromise".into(), json!({ "signedEntryTimestamp": b64(set) }));
    }
    if e.root_hash.len() != 32 {
        return Err(ExportError::BadField { field: "root_hash", detail: format!("{} bytes, not 32", e.root_hash.len()) });
    }
    let mut p = Map::new();
    if e.proof_log_index != 0 {
        p.insert("logIndex".into(), int64(e.proof_log_index));
    }
    p.insert("rootHash".into(), b64(e.root_hash));
    p.insert("treeSize".into(), int64(e.tree_size));
    if !e.proof_hashes.is_empty() {
        p.insert("hashes".into(), Value::Array(e.proof_hashes.iter().map(|h| b64(h)).collect()));
    }
    p.insert("checkpoint".into(), json!({ "envelope": e.checkpoint }));
    m.insert("inclusionProof".into(), Value::Object(p));
    m.insert("canonicalizedBody".into(), b64(e.body));
    Ok(Value::Object(m))
}

fn hash_algorithm_enum(alg: &str) -> &'static str {
    match alg {
        "sha384" => "SHA2_384",
        "sha512" => "SHA2_512",
        _ => "SHA2_256",
    }
}

/// The whole bundle v0.3.
pub fn export_bundle(e: &StoredEntry, m: &Material) -> Result<Value, ExportError> {
    let body = parse_body(e.body).map_err(ExportError::Body)?;
    let mut bundle = Map::new();
    bundle.insert("mediaType".into(), Value::String(BUNDLE_V03_MEDIA_TYPE.into()));

    let mut vm = Map::new();
    let verifier_bytes = match m.verifier {
        Some(v) => v.to_vec(),
        None => body.signatures.iter().find_map(|s| s.verifier.clone()).or(body.public_key.clone()).ok_or(ExportError::NoVerifier)?,
    };
    let v = parse_verifier(&verifier_bytes).map_err(ExportError::Verifier)?;
    match v.kind {
        VerifierKind::Certificate => {
            vm.insert("certificate".into(), json!({ "rawBytes": b64(&v.der) }));
        }
        VerifierKind::PublicKey => {
            // sigstore-go's hint for a key: base64 of SHA-256 of its DER SubjectPublicKeyInfo.
            vm.insert("publicKey".into(), json!({ "hint": b64(&Sha256::digest(&v.spki)) }));
        }
    }
    vm.insert("tlogEntries".into(), Value::Array(vec![tlog_entry_json(e)?]));
    if m.rfc3161_timestamps.len() > MAX_TIMESTAMPS {
        return Err(ExportError::TooManyTimestamps { got: m.rfc3161_timestamps.len() });
    }
    if !m.rfc3161_timestamps.is_empty() {
        let list: Vec<Value> = m.rfc3161_timestamps.iter().map(|t| json!({ "signedTimestamp": b64(t) })).collect();
        vm.insert("timestampVerificationData".into(), json!({ "rfc3161Timestamps": list }));
    }
    bundle.insert("verificationMaterial".into(), Value::Object(vm));

    if let Some(env_json) = m.dsse_envelope {
        let env = parse_envelope(env_json).map_err(ExportError::Envelope)?;
        // The body logs the payload's hash (dsse, intoto), or, as a hashedrekord (Rekor v2
        // logs DSSE bundles so), the hash of the PAE the signature covers.
        let (payload, pae) = (env.payload_sha256(), env.pae_sha256());
        let bound = body.digests.iter().any(|d| {
            d.algorithm == "sha256"
                && ((d.role == DigestRole::Payload && d.value == payload) || (d.role == DigestRole::Artifact && d.value == pae))
        });
        if !bound {
            let logged: Vec<String> =
                body.digests.iter().map(|d| format!("{} {}:{}", d.role, d.algorithm, hex::encode(&d.value))).collect();
            return Err(ExportError::EnvelopeMismatch {
                body: if logged.is_empty() { "none".into() } else { logged.join(", ") },
                envelope: format!("payload sha256:{}, PAE sha256:{}", hex::encode(payload), hex::encode(pae)),
            });
        }
        let sigs: Vec<Value> = env
            .signatures
            .iter()
            .map(|s| {
                let mut o = Map::new();
                o.insert("sig".into(), b64(&s.sig));
                // proto3 JSON omits an empty string.
                if let Some(k) = s.keyid.as_deref().filter(|k| !k.is_empty()) {
                    o.insert("keyid".into(), Value::String(k.to_string()));
                }
                Value::Object(o)
            })
            .collect();
        bundle.insert(
            "dsseEnvelope".into(),
            json!({ "payload": b64(&env.payload), "payloadType": env.payload_type, "signatures": sigs }),
        );
    } else {
        let digest = body.digests.iter().find(|d| d.role == DigestRole::Artifact);
        match (digest, body.signature.as_ref()) {
            (Some(d), Some(sig)) => {
                bundle.insert(
                    "messageSignature".into(),
                    json!({
                        "messageDigest": { "algorithm": hash_algorithm_enum(&d.algorithm), "digest": b64(&d.value) },
                        "signature": b64(sig),
                    }),
                );
            }
            _ => return Err(ExportError::NoContent { kind: body.kind.clone() }),
        }
    }
    Ok(Value::Object(bundle))
}

/// What a bundle carries besides its log entries and the body lacks: the DSSE envelope (its
/// protobuf JSON is the DSSE JSON envelope: payload, payloadType, signatures[{sig, keyid}]) and the
/// verifier's DER (`certificate.rawBytes`, or the leaf of `x509CertificateChain`; a `publicKey`
/// carries only a hint, so none). Base64 as Go's protojson reads it (CR and LF skipped).
pub fn bundle_material(bundle: &Value) -> Result<(Option<Value>, Option<Vec<u8>>), ExportError> {
    let vm = bundle.get("verificationMaterial");
    let raw = vm
        .and_then(|m| m.get("certificate"))
        .and_then(|c| c.get("rawBytes"))
        .or_else(|| {
            vm.and_then(|m| m.get("x509CertificateChain"))
                .and_then(|c| c.get("certificates"))
                .and_then(|c| c.get(0))
                .and_then(|c| c.get("rawBytes"))
        });
    let verifier = match raw {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            let compact: Vec<u8> = s.bytes().filter(|b| *b != b'\n' && *b != b'\r').collect();
            let der = STANDARD.decode(compact).map_err(|e| ExportError::BadField {
                field: "verificationMaterial certificate rawBytes",
                detail: format!("not base64: {e}"),
            })?;
            Some(der)
        }
        Some(_) => {
            return Err(ExportError::BadField {
                field: "verificationMaterial certificate rawBytes",
                detail: "not a string".into(),
            })
        }
    };
    let envelope = match bundle.get("dsseEnvelope") {
        None | Some(Value::Null) => None,
        Some(env) => {
            parse_envelope(env).map_err(ExportError::Envelope)?;
            Some(env.clone())
        }
    };
    Ok((envelope, verifier))
}

#[cfg(test)]
mod tests;
