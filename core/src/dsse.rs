//! DSSE envelopes (github.com/secure-systems-lab/dsse): strict parsing, the pre-authentication
//! encoding (PAE) signatures are made over, and the hashes Rekor logs for an envelope.
//!
//! Rekor's dsse v0.0.1 type logs `payloadHash` = SHA-256 of the decoded payload and
//! `envelopeHash` = SHA-256 of the envelope JSON *bytes the client sent* (pkg/types/dsse/v0.0.1,
//! `sha256.Sum256([]byte(*ProposedContent.Envelope))`): there is no canonical form, so the envelope
//! hash can only be recomputed by re-serialising the envelope the way the client did.
//! [`EnvelopeForm`] lists the serialisations real clients use.

use crate::entry::{decode_base64_any, jcs_string, type_name};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};
use std::fmt;

/// Most signatures accepted on one envelope.
pub const MAX_SIGNATURES: usize = 100;

/// One DSSE signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DsseSignature {
    /// The optional, unauthenticated key hint; Some("") when the envelope carries an empty one.
    pub keyid: Option<String>,
    pub sig: Vec<u8>,
}

/// A parsed DSSE envelope, payload and signatures decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub payload_type: String,
    pub payload: Vec<u8>,
    pub signatures: Vec<DsseSignature>,
}

/// Exactly which field of an envelope is wrong; `path` is its JSON path ("$" is the envelope).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DsseError {
    Missing { path: String },
    WrongType { path: String, expected: &'static str, got: &'static str },
    Empty { path: String },
    BadBase64 { path: String, detail: String },
    TooManySignatures { path: String, got: usize },
}

impl DsseError {
    pub fn path(&self) -> &str {
        use DsseError::*;
        match self {
            Missing { path }
            | WrongType { path, .. }
            | Empty { path }
            | BadBase64 { path, .. }
            | TooManySignatures { path, .. } => path,
        }
    }
}

impl fmt::Display for DsseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DsseError::*;
        match self {
            Missing { path } => write!(f, "{path}: required field is missing"),
            WrongType { path, expected, got } => write!(f, "{path}: expected {expected}, got {got}"),
            Empty { path } => write!(f, "{path}: must not be empty"),
            BadBase64 { path, detail } => write!(f, "{path}: invalid base64: {detail}"),
            TooManySignatures { path, got } => {
                write!(f, "{path}: {got} signatures, more than the limit of {MAX_SIGNATURES}")
            }
        }
    }
}

impl std::error::Error for DsseError {}

fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, DsseError> {
    v.as_object().ok_or_else(|| DsseError::WrongType {
        path: path.into(),
        expected: "an object",
        got: type_name(v),
    })
}

/// The string member `key` of `m` (JSON null counts as absent).
fn opt_str<'a>(m: &'a Map<String, Value>, key: &str, path: &str) -> Result<Option<&'a str>, DsseError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => {
            Err(DsseError::WrongType { path: path.into(), expected: "a string", got: type_name(other) })
        }
    }
}

fn req_str<'a>(m: &'a Map<String, Value>, key: &str, path: &str) -> Result<&'a str, DsseError> {
    opt_str(m, key, path)?.ok_or_else(|| DsseError::Missing { path: path.into() })
}

fn b64(s: &str, path: &str) -> Result<Vec<u8>, DsseError> {
    decode_base64_any(s).map_err(|detail| DsseError::BadBase64 { path: path.into(), detail })
}

/// Parses a DSSE envelope (JSON envelope format): `payloadType` a non-empty string, `payload`
/// base64 (standard or URL-safe, padded or not, as DSSE allows), `signatures` a non-empty array of
/// at most [`MAX_SIGNATURES`] `{sig, keyid?}` with `sig` non-empty base64. Unknown fields are ignored.
pub fn parse_envelope(v: &Value) -> Result<Envelope, DsseError> {
    let m = object(v, "$")?;
    let payload_type = req_str(m, "payloadType", "payloadType")?;
    if payload_type.is_empty() {
        return Err(DsseError::Empty { path: "payloadType".into() });
    }
    let payload = b64(req_str(m, "payload", "payload")?, "payload")?;
    let sigs = match m.get("signatures") {
        None | Some(Value::Null) => return Err(DsseError::Missing { path: "signatures".into() }),
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(DsseError::WrongType {
                path: "signatures".into(),
                expected: "an array",
                got: type_name(other),
            })
        }
    };
    if sigs.is_empty() {
        return Err(DsseError::Empty { path: "signatures".into() });
    }
    if sigs.len() > MAX_SIGNATURES {
        return Err(DsseError::TooManySignatures { path: "signatures".into(), got: sigs.len() });
    }
    let mut signatures = Vec::with_capacity(sigs.len());
    for (i, s) in sigs.iter().enumerate() {
        let base = format!("signatures[{i}]");
        let o = object(s, &base)?;
        let sig_path = format!("{base}.sig");
        let sig = b64(req_str(o, "sig", &sig_path)?, &sig_path)?;
        if sig.is_empty() {
            return Err(DsseError::Empty { path: sig_path });
        }
        let keyid = opt_str(o, "keyid", &format!("{base}.keyid"))?.map(str::to_string);
        signatures.push(DsseSignature { keyid, sig });
    }
    Ok(Envelope { payload_type: payload_type.to_string(), payload, signatures })
}

/// DSSE v1 pre-authentication encoding: `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`, with
/// LEN the decimal byte length. Signatures are over these bytes, never over the payload alone.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let t = payload_type.as_bytes();
    let mut out = Vec::with_capacity(32 + t.len() + payload.len());
    out.extend_from_slice(b"DSSEv1 ");
    out.extend_from_slice(t.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(t);
    out.push(b' ');
    out.extend_from_slice(payload.len().to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(payload);
    out
}

impl Envelope {
    /// The bytes each signature signs.
    pub fn pae(&self) -> Vec<u8> {
        pae(&self.payload_type, &self.payload)
    }

    /// SHA-256 of the decoded payload: Rekor's dsse `payloadHash` and intoto `payloadHash`.
    pub fn payload_sha256(&self) -> [u8; 32] {
        Sha256::digest(&self.payload).into()
    }

    /// SHA-256 of the PAE: the digest an ECDSA P-256 signature over the envelope signs.
    pub fn pae_sha256(&self) -> [u8; 32] {
        // Hashed in pieces: the PAE is never held (it is as large as the payload).
        let t = self.payload_type.as_bytes();
        let mut h = Sha256::new();
        h.update(b"DSSEv1 ");
        h.update(t.len().to_string().as_bytes());
        h.update(b" ");
        h.update(t);
        h.update(b" ");
        h.update(self.payload.len().to_string().as_bytes());
        h.update(b" ");
        h.update(&self.payload);
        h.finalize().into()
    }
}

/// SHA-256 of the RFC 8785 canonical JSON of `v` as given (sorted keys, no whitespace). This is
/// Rekor's dsse `envelopeHash` when the client sent exactly that form, which sigstore-go does for
/// envelopes without key ids; for other clients see [`envelope_hash_candidates`].
pub fn envelope_sha256(v: &Value) -> [u8; 32] {
    crate::entry::canonical_json_sha256(v)
}

/// A way a client serialises an envelope when it submits it to Rekor. All are compact JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeForm {
    /// RFC 8785 of the envelope as given: members sorted, unknown members kept.
    Canonical,
    /// Protobuf JSON (sigstore-go, cosign): `payload`, `payloadType`, `signatures[{sig, keyid}]`,
    /// an empty or absent keyid omitted.
    ProtoJson,
    /// As [`EnvelopeForm::ProtoJson`] but `keyid` always written, "" when absent (sigstore-java, sigstore-js).
    ProtoJsonWithKeyid,
    /// Go encoding/json of go-securesystemslib's `dsse.Envelope` (rekor-cli, older cosign):
    /// `payloadType`, `payload`, `signatures[{keyid, sig}]`, HTML characters escaped.
    GoStruct,
}

impl EnvelopeForm {
    pub const ALL: [EnvelopeForm; 4] = [
        EnvelopeForm::Canonical,
        EnvelopeForm::ProtoJson,
        EnvelopeForm::ProtoJsonWithKeyid,
        EnvelopeForm::GoStruct,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            EnvelopeForm::Canonical => "canonical",
            EnvelopeForm::ProtoJson => "protojson",
            EnvelopeForm::ProtoJsonWithKeyid => "protojson-with-keyid",
            EnvelopeForm::GoStruct => "go-struct",
        }
    }
}

/// Go's encoding/json string escaping: JSON's required escapes plus <, >, & and U+2028/U+2029.
fn go_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The bytes a client using `form` would have sent for the envelope `v`. The strings are taken as
/// they are in `v` (so a payload keeps its base64 spelling); `v` must parse as an envelope.
pub fn envelope_serialization(v: &Value, form: EnvelopeForm) -> Result<Vec<u8>, DsseError> {
    parse_envelope(v)?;
    if form == EnvelopeForm::Canonical {
        return Ok(crate::entry::canonical_json(v));
    }
    let m = object(v, "$")?;
    let payload = req_str(m, "payload", "payload")?;
    let payload_type = req_str(m, "payloadType", "payloadType")?;
    let mut sigs: Vec<(&str, Option<&str>)> = Vec::new();
    if let Some(Value::Array(list)) = m.get("signatures") {
        for (i, s) in list.iter().enumerate() {
            let o = object(s, &format!("signatures[{i}]"))?;
            let sig = req_str(o, "sig", &format!("signatures[{i}].sig"))?;
            let keyid = opt_str(o, "keyid", &format!("signatures[{i}].keyid"))?;
            sigs.push((sig, keyid));
        }
    }
    let string: fn(&mut String, &str) = if form == EnvelopeForm::GoStruct { go_string } else { jcs_string };
    let mut out = String::new();
    let member = |out: &mut String, name: &str, value: &str, first: bool| {
        if !first {
            out.push(',');
        }
        string(out, name);
        out.push(':');
        string(out, value);
    };
    out.push('{');
    if form == EnvelopeForm::GoStruct {
        member(&mut out, "payloadType", payload_type, true);
        member(&mut out, "payload", payload, false);
    } else {
        member(&mut out, "payload", payload, true);
        member(&mut out, "payloadType", payload_type, false);
    }
    out.push_str(",\"signatures\":[");
    for (i, (sig, keyid)) in sigs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('{');
        match form {
            EnvelopeForm::GoStruct => {
                member(&mut out, "keyid", keyid.unwrap_or(""), true);
                member(&mut out, "sig", sig, false);
            }
            EnvelopeForm::ProtoJsonWithKeyid => {
                member(&mut out, "sig", sig, true);
                member(&mut out, "keyid", keyid.unwrap_or(""), false);
            }
            _ => {
                member(&mut out, "sig", sig, true);
                if let Some(k) = keyid.filter(|k| !k.is_empty()) {
                    member(&mut out, "keyid", k, false);
                }
            }
        }
        out.push('}');
    }
    out.push_str("]}");
    Ok(out.into_bytes())
}

/// SHA-256 of the envelope in every [`EnvelopeForm`] (forms can coincide: with no key id,
/// Canonical and ProtoJson are the same bytes).
pub fn envelope_hash_candidates(v: &Value) -> Result<Vec<(EnvelopeForm, [u8; 32])>, DsseError> {
    EnvelopeForm::ALL
        .iter()
        .map(|&form| Ok((form, Sha256::digest(envelope_serialization(v, form)?).into())))
        .collect()
}

/// The first form whose SHA-256 equals `expected` (e.g. a dsse body's `envelopeHash`), if any.
/// None does not prove the envelope differs from the logged one: the client may have sent other
/// bytes (whitespace, key order); the payload hash and signatures are what bind it.
pub fn match_envelope_hash(v: &Value, expected: &[u8]) -> Result<Option<EnvelopeForm>, DsseError> {
    Ok(envelope_hash_candidates(v)?.into_iter().find(|(_, h)| h.as_slice() == expected).map(|(f, _)| f))
}

#[cfg(test)]
mod tests;
