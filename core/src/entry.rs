//! Rekor transparency-log entries in the shapes users hold them, parsed strictly into one form:
//!
//! - a Rekor v1 REST response (`GET/POST /api/v1/log/entries`): an object keyed by entry UUID;
//! - a Rekor v2 REST response: one bare `TransparencyLogEntry` (protobuf JSON), accepted by
//!   [`parse_rest_response`] too and by [`parse_tlog_entry`];
//! - a Sigstore bundle (v0.1 to v0.3): `verificationMaterial.tlogEntries[]`.
//!
//! Also: the canonical JSON a signed entry timestamp (SET) signs, RFC 8785 canonical JSON in general,
//! entry UUIDs, and the canonicalized body (`kind`, `apiVersion`, `spec`) with the digests it carries.
//!
//! This module only parses: it verifies no signature and no proof. Every failure is an
//! [`EntryError`] naming the JSON path of the offending field.

use crate::merkle::{self, Hash, HASH_LEN};
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use serde_json::{Map, Value};
use std::fmt;

/// Longest inclusion proof accepted (a 2^64-leaf tree needs at most 64 hashes).
pub const MAX_PROOF_HASHES: usize = merkle::MAX_PROOF_HASHES;
/// Most entries accepted in one REST response or bundle: real ones carry one, so more is abuse.
pub const MAX_ENTRIES: usize = 1000;
/// Length of a Rekor log ID: SHA-256 of the log's key.
pub const LOG_ID_LEN: usize = 32;
/// Largest checkpoint text accepted (the same bound as the signed-note parser).
pub const MAX_CHECKPOINT_BYTES: usize = 1 << 20;
/// Most signatures read from one entry body.
pub const MAX_BODY_SIGNATURES: usize = 100;
/// Most in-toto subject digests taken from one statement; the rest are ignored.
pub const MAX_SUBJECT_DIGESTS: usize = 1024;
/// Largest integer accepted anywhere: Rekor and protobuf hold indexes and times in int64.
pub const MAX_INT: u64 = i64::MAX as u64;

/// The Sigstore bundle media types this parser knows the shape of.
pub const BUNDLE_MEDIA_TYPES: [&str; 4] = [
    "application/vnd.dev.sigstore.bundle+json;version=0.1",
    "application/vnd.dev.sigstore.bundle+json;version=0.2",
    "application/vnd.dev.sigstore.bundle+json;version=0.3",
    "application/vnd.dev.sigstore.bundle.v0.3+json",
];

/// An inclusion proof as the entry carries it (not yet verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InclusionProof {
    /// Index of the leaf inside the tree the proof is for (the shard's tree for Rekor v1).
    pub log_index: u64,
    pub tree_size: u64,
    pub root_hash: [u8; 32],
    pub hashes: Vec<[u8; 32]>,
    /// The signed-note text of the checkpoint, exactly as given.
    pub checkpoint: Option<String>,
}

/// One transparency-log entry, the same whichever shape it came in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    /// REST v1: the object key (64 or 80 hex digits, lowercased); otherwise None.
    pub uuid: Option<String>,
    /// The canonicalized body bytes (the Merkle leaf).
    pub body: Vec<u8>,
    /// Seconds since the epoch; 0 when absent (Rekor v2 has no integrated time).
    pub integrated_time: i64,
    /// 32 bytes.
    pub log_id: Vec<u8>,
    /// The global (virtual) index across all shards: the one the SET signs.
    pub log_index: u64,
    /// From the bundle's `kindVersion`; REST responses do not carry it.
    pub kind: Option<String>,
    pub kind_version: Option<String>,
    pub inclusion_proof: Option<InclusionProof>,
    pub signed_entry_timestamp: Option<Vec<u8>>,
}

/// What a digest in an entry body is the digest of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DigestRole {
    /// The signed artifact (hashedrekord, rekord, helm chart, jar, rpm, alpine package).
    Artifact,
    /// A DSSE / in-toto / COSE payload.
    Payload,
    /// A whole DSSE / in-toto / COSE envelope.
    Envelope,
    /// The attestation an old intoto v0.0.1 entry stored (`attestationHash`).
    Attestation,
    /// A subject of the in-toto statement carried in the body.
    Subject,
}

impl DigestRole {
    pub fn as_str(&self) -> &'static str {
        match self {
            DigestRole::Artifact => "artifact",
            DigestRole::Payload => "payload",
            DigestRole::Envelope => "envelope",
            DigestRole::Attestation => "attestation",
            DigestRole::Subject => "subject",
        }
    }
}

impl fmt::Display for DigestRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A digest found in an entry body.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Digest {
    pub role: DigestRole,
    /// "sha256", "sha384" or "sha512".
    pub algorithm: String,
    /// The raw digest bytes (32, 48 or 64 of them, as the algorithm says).
    pub value: Vec<u8>,
}

/// One signature an entry body records, with the verifier logged next to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodySignature {
    /// The raw signature bytes (e.g. ASN.1 DER ECDSA).
    pub signature: Vec<u8>,
    /// Rekor v1 kinds: the PEM text of the key or certificate; Rekor v2: DER key or certificate.
    pub verifier: Option<Vec<u8>>,
}

/// What a canonicalized body says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedBody {
    pub kind: String,
    pub api_version: String,
    /// Distinct digests, in the order the body gives them.
    pub digests: Vec<Digest>,
    /// The first signature in the body.
    pub signature: Option<Vec<u8>>,
    /// The first public key or certificate in the body (PEM text for v1 kinds, DER for Rekor v2).
    pub public_key: Option<Vec<u8>>,
    /// Every signature with its verifier (DSSE and in-toto entries may have several).
    pub signatures: Vec<BodySignature>,
}

/// Exactly which field of an entry is wrong, and how. `path` is the JSON path of that field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryError {
    Missing {
        path: String,
    },
    WrongType {
        path: String,
        expected: &'static str,
        got: &'static str,
    },
    /// A number that is not an integer (fraction, exponent or beyond the JSON integer range).
    NotAnInteger {
        path: String,
        got: String,
    },
    Negative {
        path: String,
        got: String,
    },
    TooLarge {
        path: String,
        got: String,
    },
    /// A string that should hold a decimal integer but does not (sign, spaces, leading zeros, ...).
    BadDecimal {
        path: String,
        got: String,
    },
    BadBase64 {
        path: String,
        detail: String,
    },
    BadHex {
        path: String,
        detail: String,
    },
    WrongLength {
        path: String,
        what: &'static str,
        got: usize,
        want: usize,
    },
    Empty {
        path: String,
    },
    TooManyHashes {
        path: String,
        got: usize,
    },
    IndexNotBelowSize {
        path: String,
        index: u64,
        size: u64,
    },
    BadUuid {
        path: String,
        got: String,
    },
    /// A REST entry whose UUID is not the leaf hash of its body.
    UuidBodyMismatch {
        path: String,
        uuid_leaf: Hash,
        body_leaf: Hash,
    },
    NoEntries {
        path: String,
    },
    /// More entries (or body signatures) than the limit; `what` names them.
    TooMany {
        path: String,
        what: &'static str,
        got: usize,
        limit: usize,
    },
    UnsupportedMediaType {
        path: String,
        got: String,
    },
    TooLong {
        path: String,
        got: usize,
        limit: usize,
    },
    NotJson {
        path: String,
        detail: String,
    },
}

impl EntryError {
    /// The JSON path of the field the error is about ("$" is the whole document).
    pub fn path(&self) -> &str {
        use EntryError::*;
        match self {
            Missing { path }
            | WrongType { path, .. }
            | NotAnInteger { path, .. }
            | Negative { path, .. }
            | TooLarge { path, .. }
            | BadDecimal { path, .. }
            | BadBase64 { path, .. }
            | BadHex { path, .. }
            | WrongLength { path, .. }
            | Empty { path }
            | TooManyHashes { path, .. }
            | IndexNotBelowSize { path, .. }
            | BadUuid { path, .. }
            | UuidBodyMismatch { path, .. }
            | NoEntries { path }
            | TooMany { path, .. }
            | UnsupportedMediaType { path, .. }
            | TooLong { path, .. }
            | NotJson { path, .. } => path,
        }
    }
}

impl fmt::Display for EntryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use EntryError::*;
        match self {
            Missing { path } => write!(f, "{path}: required field is missing"),
            WrongType { path, expected, got } => write!(f, "{path}: expected {expected}, got {got}"),
            NotAnInteger { path, got } => {
                write!(f, "{path}: expected a non-negative integer, got the number {got}")
            }
            Negative { path, got } => write!(f, "{path}: must not be negative, got {got}"),
            TooLarge { path, got } => {
                write!(f, "{path}: {got} is beyond the int64 maximum {MAX_INT}")
            }
            BadDecimal { path, got } => write!(f, "{path}: expected a decimal string, got {got:?}"),
            BadBase64 { path, detail } => write!(f, "{path}: invalid base64: {detail}"),
            BadHex { path, detail } => write!(f, "{path}: invalid hex: {detail}"),
            WrongLength { path, what, got, want } => {
                write!(f, "{path}: {what} is {got} bytes, want {want}")
            }
            Empty { path } => write!(f, "{path}: must not be empty"),
            TooManyHashes { path, got } => {
                write!(f, "{path}: {got} hashes, more than the limit of {MAX_PROOF_HASHES}")
            }
            IndexNotBelowSize { path, index, size } => {
                write!(f, "{path}: proof log index {index} is not below tree size {size}")
            }
            BadUuid { path, got } => {
                write!(f, "{path}: entry UUID must be 64 or 80 hex digits, got {got:?}")
            }
            UuidBodyMismatch { path, uuid_leaf, body_leaf } => write!(
                f,
                "{path}: the UUID's leaf hash {} is not the body's leaf hash {}",
                hex::encode(uuid_leaf),
                hex::encode(body_leaf)
            ),
            NoEntries { path } => write!(f, "{path}: no log entries"),
            TooMany { path, what, got, limit } => {
                write!(f, "{path}: {got} {what}, more than the limit of {limit}")
            }
            UnsupportedMediaType { path, got } => write!(
                f,
                "{path}: unsupported bundle media type {got:?} (supported: {})",
                BUNDLE_MEDIA_TYPES.join(", ")
            ),
            TooLong { path, got, limit } => {
                write!(f, "{path}: {got} bytes, more than the limit of {limit}")
            }
            NotJson { path, detail } => write!(f, "{path}: not JSON: {detail}"),
        }
    }
}

impl std::error::Error for EntryError {}

// ---------------------------------------------------------------------------------------------
// JSON field access
// ---------------------------------------------------------------------------------------------

/// The JSON type name of a value, for error messages.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// At most 80 characters of user text, so errors stay readable whatever the input.
pub(crate) fn snippet(s: &str) -> String {
    const LIMIT: usize = 80;
    if s.chars().count() <= LIMIT {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(LIMIT).collect();
        out.push('…');
        out
    }
}

/// `prefix.key`, or just `key` at the top level.
pub(crate) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

/// An object with the path it sits at, so every lookup can name the field it is about.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    /// `v` must be an object; `path` names it ("$" at the top level of a document).
    fn new(v: &'a Value, path: &str, expected: &'static str) -> Result<Obj<'a>, EntryError> {
        match v {
            Value::Object(map) => Ok(Obj { map, path: path.to_string() }),
            other => Err(EntryError::WrongType { path: path.to_string(), expected, got: type_name(other) }),
        }
    }

    fn field(&self, key: &str) -> String {
        if self.path == "$" {
            key.to_string()
        } else {
            join(&self.path, key)
        }
    }

    /// The value of `key`; JSON null counts as absent, as protobuf JSON defines it.
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn req(&self, key: &str) -> Result<&'a Value, EntryError> {
        self.get(key).ok_or_else(|| EntryError::Missing { path: self.field(key) })
    }

    fn opt_obj(&self, key: &str) -> Result<Option<Obj<'a>>, EntryError> {
        self.get(key).map(|v| Obj::new(v, &self.field(key), "an object")).transpose()
    }

    fn req_obj(&self, key: &str) -> Result<Obj<'a>, EntryError> {
        Obj::new(self.req(key)?, &self.field(key), "an object")
    }

    fn opt_str(&self, key: &str) -> Result<Option<&'a str>, EntryError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(EntryError::WrongType {
                path: self.field(key),
                expected: "a string",
                got: type_name(other),
            }),
        }
    }

    fn req_str(&self, key: &str) -> Result<&'a str, EntryError> {
        self.opt_str(key)?.ok_or_else(|| EntryError::Missing { path: self.field(key) })
    }

    fn opt_array(&self, key: &str) -> Result<Option<&'a Vec<Value>>, EntryError> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(a)) => Ok(Some(a)),
            Some(other) => Err(EntryError::WrongType {
                path: self.field(key),
                expected: "an array",
                got: type_name(other),
            }),
        }
    }
}

/// How integers are written in a shape: REST uses JSON numbers; protobuf JSON writes int64 as a
/// decimal string but its parsers accept plain numbers too.
#[derive(Clone, Copy, PartialEq, Eq)]
enum IntStyle {
    Number,
    NumberOrString,
}

/// A non-negative integer no larger than int64's maximum.
fn parse_int(v: &Value, path: &str, style: IntStyle) -> Result<u64, EntryError> {
    match v {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                if u > MAX_INT {
                    return Err(EntryError::TooLarge { path: path.into(), got: n.to_string() });
                }
                return Ok(u);
            }
            if n.as_i64().is_some() {
                return Err(EntryError::Negative { path: path.into(), got: n.to_string() });
            }
            // A float: negative or huge values get the specific message, fractions the generic one.
            let f = n.as_f64().unwrap_or(f64::NAN);
            if f.fract() == 0.0 && f < 0.0 {
                Err(EntryError::Negative { path: path.into(), got: n.to_string() })
            } else if f.fract() == 0.0 && f >= MAX_INT as f64 {
                Err(EntryError::TooLarge { path: path.into(), got: n.to_string() })
            } else {
                Err(EntryError::NotAnInteger { path: path.into(), got: n.to_string() })
            }
        }
        Value::String(s) if style == IntStyle::NumberOrString => parse_decimal(s, path),
        other => Err(EntryError::WrongType {
            path: path.into(),
            expected: match style {
                IntStyle::Number => "an integer",
                IntStyle::NumberOrString => "a decimal string or an integer",
            },
            got: type_name(other),
        }),
    }
}

/// A protobuf JSON int64 string, canonical form only: digits, no sign, no leading zeros.
fn parse_decimal(s: &str, path: &str) -> Result<u64, EntryError> {
    let bad = || EntryError::BadDecimal { path: path.into(), got: snippet(s) };
    if let Some(rest) = s.strip_prefix('-') {
        if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
            return Err(EntryError::Negative { path: path.into(), got: snippet(s) });
        }
        return Err(bad());
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(bad());
    }
    match s.parse::<u64>() {
        Ok(u) if u <= MAX_INT => Ok(u),
        _ => Err(EntryError::TooLarge { path: path.into(), got: snippet(s) }),
    }
}

/// Both RFC 4648 alphabets, padding optional, as protobuf JSON and DSSE allow; trailing bits must
/// be zero so that each byte string has one spelling per alphabet and padding choice.
const B64_STANDARD_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
const B64_URL_SAFE_ANY_PAD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes standard or URL-safe base64, with or without padding (never a mix of alphabets).
/// CR and LF are skipped, as Go's and Python's decoders do: PostgreSQL's `encode(x, 'base64')`
/// wraps lines at 76 characters. No other non-alphabet byte is accepted.
pub(crate) fn decode_base64_any(s: &str) -> Result<Vec<u8>, String> {
    // The alphabet (URL-safe letters) and line breaks, each by a SIMD search (a byte loop costs as
    // much as the decoding itself).
    let url_safe = memchr::memchr2(b'-', b'_', s.as_bytes()).is_some();
    let breaks = memchr::memchr2(b'\r', b'\n', s.as_bytes()).is_some();
    let engine = if url_safe { &B64_URL_SAFE_ANY_PAD } else { &B64_STANDARD_ANY_PAD };
    if breaks {
        let compact: Vec<u8> = s.bytes().filter(|&b| b != b'\r' && b != b'\n').collect();
        return engine.decode(compact).map_err(|e| e.to_string());
    }
    engine.decode(s).map_err(|e| e.to_string())
}

fn b64_field(s: &str, path: &str) -> Result<Vec<u8>, EntryError> {
    decode_base64_any(s).map_err(|detail| EntryError::BadBase64 { path: path.into(), detail })
}

fn hex_field(s: &str, path: &str) -> Result<Vec<u8>, EntryError> {
    hex::decode(s).map_err(|e| EntryError::BadHex { path: path.into(), detail: e.to_string() })
}

fn to_hash32(bytes: Vec<u8>, path: &str, what: &'static str) -> Result<[u8; 32], EntryError> {
    let got = bytes.len();
    <[u8; 32]>::try_from(bytes).map_err(|_| EntryError::WrongLength {
        path: path.into(),
        what,
        got,
        want: HASH_LEN,
    })
}

fn to_i64(u: u64, path: &str) -> Result<i64, EntryError> {
    i64::try_from(u).map_err(|_| EntryError::TooLarge { path: path.into(), got: u.to_string() })
}

/// How binary fields are written: REST uses hex for hashes, protobuf JSON base64.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Hex,
    Base64,
}

fn decode_field(s: &str, path: &str, enc: Encoding) -> Result<Vec<u8>, EntryError> {
    match enc {
        Encoding::Hex => hex_field(s, path),
        Encoding::Base64 => b64_field(s, path),
    }
}

fn hash_field(v: &Value, path: &str, enc: Encoding, what: &'static str) -> Result<[u8; 32], EntryError> {
    match v {
        Value::String(s) => to_hash32(decode_field(s, path, enc)?, path, what),
        other => Err(EntryError::WrongType {
            path: path.into(),
            expected: match enc {
                Encoding::Hex => "a hex string",
                Encoding::Base64 => "a base64 string",
            },
            got: type_name(other),
        }),
    }
}

fn proof_hashes(list: &[Value], path: &str, enc: Encoding) -> Result<Vec<[u8; 32]>, EntryError> {
    if list.len() > MAX_PROOF_HASHES {
        return Err(EntryError::TooManyHashes { path: path.into(), got: list.len() });
    }
    list.iter().enumerate().map(|(i, h)| hash_field(h, &format!("{path}[{i}]"), enc, "proof hash")).collect()
}

fn checkpoint_text(s: &str, path: &str) -> Result<Option<String>, EntryError> {
    if s.len() > MAX_CHECKPOINT_BYTES {
        return Err(EntryError::TooLong { path: path.into(), got: s.len(), limit: MAX_CHECKPOINT_BYTES });
    }
    // Protobuf JSON writes an absent string as ""; an empty note is no checkpoint either way.
    Ok((!s.is_empty()).then(|| s.to_string()))
}

fn body_field(s: &str, path: &str) -> Result<Vec<u8>, EntryError> {
    let body = b64_field(s, path)?;
    if body.is_empty() {
        return Err(EntryError::Empty { path: path.into() });
    }
    Ok(body)
}

fn set_field(s: &str, path: &str) -> Result<Vec<u8>, EntryError> {
    let set = b64_field(s, path)?;
    if set.is_empty() {
        return Err(EntryError::Empty { path: path.into() });
    }
    Ok(set)
}

fn check_index_below_size(index: u64, size: u64, path: &str) -> Result<(), EntryError> {
    if index >= size {
        return Err(EntryError::IndexNotBelowSize { path: path.into(), index, size });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Entry UUIDs
// ---------------------------------------------------------------------------------------------

fn is_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The Rekor v1 shard tree id an 80-hex-digit UUID starts with; None for 64-digit or invalid UUIDs.
pub fn uuid_tree_id(uuid: &str) -> Option<u64> {
    if uuid.len() != 80 || !is_hex(uuid) {
        return None;
    }
    u64::from_str_radix(uuid.get(..16)?, 16).ok()
}

fn uuid_leaf_at(uuid: &str, path: &str) -> Result<[u8; 32], EntryError> {
    let bad = || EntryError::BadUuid { path: path.into(), got: snippet(uuid) };
    if !is_hex(uuid) {
        return Err(bad());
    }
    let leaf = match uuid.len() {
        64 => uuid,
        80 => uuid.get(16..).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    to_hash32(hex_field(leaf, path)?, path, "UUID leaf hash")
}

/// The leaf hash a 64- or 80-hex-digit entry UUID ends with (mixed case accepted).
pub fn uuid_leaf_hash(uuid: &str) -> Result<[u8; 32], EntryError> {
    uuid_leaf_at(uuid, "uuid")
}

// ---------------------------------------------------------------------------------------------
// REST responses
// ---------------------------------------------------------------------------------------------

/// A Rekor REST response. Rekor v1 (`GET/POST /api/v1/log/entries`): an object keyed by entry UUID,
/// one or more entries, returned in key order. Rekor v2 answers with one bare
/// `TransparencyLogEntry` instead; it is recognised by its `canonicalizedBody` field (never a UUID)
/// and parsed as [`parse_tlog_entry`] does.
pub fn parse_rest_response(v: &Value) -> Result<Vec<LogEntry>, EntryError> {
    let root = Obj::new(v, "$", "an object keyed by entry UUID")?;
    if root.map.contains_key("canonicalizedBody") {
        return Ok(vec![parse_tlog_at(v, "")?]);
    }
    if root.map.is_empty() {
        return Err(EntryError::NoEntries { path: "$".into() });
    }
    if root.map.len() > MAX_ENTRIES {
        return Err(EntryError::TooMany {
            path: "$".into(),
            what: "entries",
            got: root.map.len(),
            limit: MAX_ENTRIES,
        });
    }
    root.map.iter().map(|(uuid, entry)| parse_rest_entry(uuid, entry)).collect()
}

fn parse_rest_entry(uuid: &str, v: &Value) -> Result<LogEntry, EntryError> {
    let path = format!("[{:?}]", snippet(uuid));
    let uuid_leaf = uuid_leaf_at(uuid, &path)?;
    let e = Obj::new(v, &path, "an object (a log entry)")?;

    let body = body_field(e.req_str("body")?, &e.field("body"))?;
    let itime_path = e.field("integratedTime");
    let integrated_time =
        to_i64(parse_int(e.req("integratedTime")?, &itime_path, IntStyle::Number)?, &itime_path)?;
    let log_id = hex_field(e.req_str("logID")?, &e.field("logID"))?;
    check_log_id(&log_id, &e.field("logID"))?;
    let log_index = parse_int(e.req("logIndex")?, &e.field("logIndex"), IntStyle::Number)?;

    let mut inclusion_proof = None;
    let mut signed_entry_timestamp = None;
    if let Some(ver) = e.opt_obj("verification")? {
        if let Some(p) = ver.opt_obj("inclusionProof")? {
            let index_path = p.field("logIndex");
            let proof_index = parse_int(p.req("logIndex")?, &index_path, IntStyle::Number)?;
            let tree_size = parse_int(p.req("treeSize")?, &p.field("treeSize"), IntStyle::Number)?;
            let root_hash = hash_field(p.req("rootHash")?, &p.field("rootHash"), Encoding::Hex, "root hash")?;
            let hashes_path = p.field("hashes");
            let list =
                p.opt_array("hashes")?.ok_or_else(|| EntryError::Missing { path: hashes_path.clone() })?;
            let hashes = proof_hashes(list, &hashes_path, Encoding::Hex)?;
            let checkpoint = match p.opt_str("checkpoint")? {
                Some(s) => checkpoint_text(s, &p.field("checkpoint"))?,
                None => None,
            };
            check_index_below_size(proof_index, tree_size, &index_path)?;
            inclusion_proof =
                Some(InclusionProof { log_index: proof_index, tree_size, root_hash, hashes, checkpoint });
        }
        if let Some(s) = ver.opt_str("signedEntryTimestamp")? {
            signed_entry_timestamp = Some(set_field(s, &ver.field("signedEntryTimestamp"))?);
        }
    }

    // The UUID is the body's leaf hash: a response where they differ is not one Rekor wrote.
    let body_leaf = merkle::leaf_hash(&body);
    if !merkle::hashes_equal(&uuid_leaf, &body_leaf) {
        return Err(EntryError::UuidBodyMismatch { path, uuid_leaf, body_leaf });
    }

    Ok(LogEntry {
        uuid: Some(uuid.to_ascii_lowercase()),
        body,
        integrated_time,
        log_id,
        log_index,
        kind: None,
        kind_version: None,
        inclusion_proof,
        signed_entry_timestamp,
    })
}

fn check_log_id(log_id: &[u8], path: &str) -> Result<(), EntryError> {
    if log_id.len() != LOG_ID_LEN {
        return Err(EntryError::WrongLength {
            path: path.into(),
            what: "log ID",
            got: log_id.len(),
            want: LOG_ID_LEN,
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Sigstore bundles and TransparencyLogEntry
// ---------------------------------------------------------------------------------------------

/// The transparency-log entries of a Sigstore bundle (media types v0.1, v0.2, v0.3):
/// `verificationMaterial.tlogEntries[]`, at least one.
pub fn parse_bundle(v: &Value) -> Result<Vec<LogEntry>, EntryError> {
    let root = Obj::new(v, "$", "an object (a Sigstore bundle)")?;
    let media_type = root.req_str("mediaType")?;
    if !BUNDLE_MEDIA_TYPES.contains(&media_type) {
        return Err(EntryError::UnsupportedMediaType { path: "mediaType".into(), got: snippet(media_type) });
    }
    let vm = root.req_obj("verificationMaterial")?;
    let list_path = vm.field("tlogEntries");
    let list = vm.opt_array("tlogEntries")?.ok_or_else(|| EntryError::Missing { path: list_path.clone() })?;
    if list.is_empty() {
        return Err(EntryError::NoEntries { path: list_path });
    }
    if list.len() > MAX_ENTRIES {
        return Err(EntryError::TooMany {
            path: list_path,
            what: "entries",
            got: list.len(),
            limit: MAX_ENTRIES,
        });
    }
    list.iter().enumerate().map(|(i, e)| parse_tlog_at(e, &format!("{list_path}[{i}]"))).collect()
}

/// One protobuf-JSON `TransparencyLogEntry`: a bundle's `tlogEntries[i]`, or a Rekor v2 REST answer.
/// As protobuf JSON defines, an absent `logIndex`, `integratedTime` or proof `logIndex` is 0.
pub fn parse_tlog_entry(v: &Value) -> Result<LogEntry, EntryError> {
    parse_tlog_at(v, "")
}

fn parse_tlog_at(v: &Value, path: &str) -> Result<LogEntry, EntryError> {
    let root_path = if path.is_empty() { "$" } else { path };
    let e = Obj::new(v, root_path, "an object (a transparency log entry)")?;
    let int = |o: &Obj, key: &str| -> Result<u64, EntryError> {
        match o.get(key) {
            Some(v) => parse_int(v, &o.field(key), IntStyle::NumberOrString),
            None => Ok(0),
        }
    };

    let log_index = int(&e, "logIndex")?;
    let log_id_obj = e.req_obj("logId")?;
    let log_id = b64_field(log_id_obj.req_str("keyId")?, &log_id_obj.field("keyId"))?;
    check_log_id(&log_id, &log_id_obj.field("keyId"))?;

    let (kind, kind_version) = match e.opt_obj("kindVersion")? {
        Some(kv) => (kv.opt_str("kind")?.map(str::to_string), kv.opt_str("version")?.map(str::to_string)),
        None => (None, None),
    };
    let integrated_time = to_i64(int(&e, "integratedTime")?, &e.field("integratedTime"))?;

    let signed_entry_timestamp = match e.opt_obj("inclusionPromise")? {
        Some(p) => Some(set_field(p.req_str("signedEntryTimestamp")?, &p.field("signedEntryTimestamp"))?),
        None => None,
    };

    let inclusion_proof = match e.opt_obj("inclusionProof")? {
        Some(p) => {
            let proof_index = int(&p, "logIndex")?;
            let tree_size = parse_int(p.req("treeSize")?, &p.field("treeSize"), IntStyle::NumberOrString)?;
            let root_hash =
                hash_field(p.req("rootHash")?, &p.field("rootHash"), Encoding::Base64, "root hash")?;
            // Protobuf JSON omits an empty repeated field: a size-1 tree's proof has no hashes.
            let hashes = match p.opt_array("hashes")? {
                Some(list) => proof_hashes(list, &p.field("hashes"), Encoding::Base64)?,
                None => Vec::new(),
            };
            let checkpoint = match p.opt_obj("checkpoint")? {
                Some(c) => match c.opt_str("envelope")? {
                    Some(s) => checkpoint_text(s, &c.field("envelope"))?,
                    None => None,
                },
                None => None,
            };
            check_index_below_size(proof_index, tree_size, &p.field("logIndex"))?;
            Some(InclusionProof { log_index: proof_index, tree_size, root_hash, hashes, checkpoint })
        }
        None => None,
    };

    let body = body_field(e.req_str("canonicalizedBody")?, &e.field("canonicalizedBody"))?;

    Ok(LogEntry {
        uuid: None,
        body,
        integrated_time,
        log_id,
        log_index,
        kind,
        kind_version,
        inclusion_proof,
        signed_entry_timestamp,
    })
}

// ---------------------------------------------------------------------------------------------
// Signed entry timestamp payload and RFC 8785 canonical JSON
// ---------------------------------------------------------------------------------------------

/// The bytes a Rekor v1 signed entry timestamp signs (with ECDSA over their SHA-256): RFC 8785
/// canonical JSON `{"body":"<base64 body>","integratedTime":<int>,"logID":"<hex>","logIndex":<int>}`
/// where logIndex is the global index.
pub fn set_payload(e: &LogEntry) -> Vec<u8> {
    set_payload_parts(&e.body, e.integrated_time, &e.log_id, e.log_index)
}

/// [`set_payload`] from its parts.
pub fn set_payload_parts(body: &[u8], integrated_time: i64, log_id: &[u8], log_index: u64) -> Vec<u8> {
    // Encoded in place: the payload is the only copy of the body made.
    let mut out = String::with_capacity(body.len() / 3 * 4 + 4 + 2 * log_id.len() + 132);
    out.push_str("{\"body\":\"");
    STANDARD.encode_string(body, &mut out);
    out.push_str("\",\"integratedTime\":");
    out.push_str(&jcs_i64(integrated_time));
    out.push_str(",\"logID\":\"");
    out.push_str(&hex::encode(log_id));
    out.push_str("\",\"logIndex\":");
    out.push_str(&jcs_u64(log_index));
    out.push('}');
    out.into_bytes()
}

/// Integers at most this large in magnitude are exact in an IEEE double.
const MAX_SAFE_INTEGER: u64 = 1 << 53;

/// RFC 8785 numbers are IEEE doubles printed as ECMAScript does: Rekor's canonicalizer parses
/// every number as float64, so integers beyond 2^53 are signed rounded; below, this is plain decimal.
fn jcs_u64(u: u64) -> String {
    if u <= MAX_SAFE_INTEGER {
        u.to_string()
    } else {
        es_number(u as f64)
    }
}

fn jcs_i64(i: i64) -> String {
    if i.unsigned_abs() <= MAX_SAFE_INTEGER {
        i.to_string()
    } else {
        es_number(i as f64)
    }
}

/// ECMAScript Number::toString (ECMA-262 §7.1.12.1) of a finite double, as RFC 8785 §3.2.2.3 requires.
fn es_number(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        // JSON has no NaN or infinity; -0 prints as 0.
        return "0".to_string();
    }
    // Rust's shortest round-trip digits are the ones ECMAScript picks: d.ddd…e<exp>.
    let sci = format!("{:e}", x.abs());
    let (mantissa, exp) = match sci.split_once('e') {
        Some(parts) => parts,
        None => return sci,
    };
    let digits: Vec<u8> = mantissa.bytes().filter(u8::is_ascii_digit).collect();
    let Ok(e) = exp.parse::<i32>() else { return sci };
    let k = digits.len() as i32;
    let n = e + 1;
    let mut out = String::new();
    if x < 0.0 {
        out.push('-');
    }
    let push_digits = |out: &mut String, ds: &[u8]| out.extend(ds.iter().map(|&d| d as char));
    if k <= n && n <= 21 {
        push_digits(&mut out, &digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        for (i, &d) in digits.iter().enumerate() {
            if i as i32 == n {
                out.push('.');
            }
            out.push(d as char);
        }
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        push_digits(&mut out, &digits);
    } else {
        for (i, &d) in digits.iter().enumerate() {
            if i == 1 {
                out.push('.');
            }
            out.push(d as char);
        }
        out.push('e');
        out.push(if n - 1 < 0 { '-' } else { '+' });
        out.push_str(&(n - 1).unsigned_abs().to_string());
    }
    out
}

/// Appends `s` as an RFC 8785 string: only '"', '\\' and control characters are escaped.
pub(crate) fn jcs_string(out: &mut String, s: &str) {
    out.push('"');
    jcs_escape(out, s);
    out.push('"');
}

/// Appends the characters of `s` escaped as in an RFC 8785 string, without the quotes.
fn jcs_escape(out: &mut String, s: &str) {
    // RFC 8785 escapes only '"', '\\' and the control characters (all ASCII, so every cut below is at
    // a char boundary): the runs between them are copied whole.
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(s.get(start..i).unwrap_or_default());
        if esc.is_empty() {
            out.push_str(&format!("\\u{b:04x}"));
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(s.get(start..).unwrap_or_default());
}

fn jcs_number(n: &serde_json::Number) -> String {
    if let Some(u) = n.as_u64() {
        jcs_u64(u)
    } else if let Some(i) = n.as_i64() {
        jcs_i64(i)
    } else {
        es_number(n.as_f64().unwrap_or(0.0))
    }
}

/// RFC 8785 (JCS) canonical JSON: object members sorted by the UTF-16 code units of their names,
/// no whitespace, minimal string escaping, ECMAScript number formatting. Iterative, so no input
/// depth can exhaust the stack.
pub fn canonical_json(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    canonical_json_chunks(v, &mut |chunk| out.extend_from_slice(chunk));
    out
}

/// SHA-256 of [`canonical_json`], without holding the canonical text: a string of control
/// characters escapes to six times its size.
pub fn canonical_json_sha256(v: &Value) -> [u8; 32] {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    canonical_json_chunks(v, &mut |chunk| h.update(chunk));
    h.finalize().into()
}

/// [`canonical_json`] handed to `sink` in pieces of about 64 KiB.
pub fn canonical_json_chunks(v: &Value, sink: &mut dyn FnMut(&[u8])) {
    const CHUNK: usize = 64 * 1024;
    enum Item<'a> {
        Value(&'a Value),
        Key(&'a str),
        Raw(&'static str),
    }
    // A long string is escaped a slice at a time (at char boundaries; escaping is per char).
    fn string(out: &mut String, s: &str, sink: &mut dyn FnMut(&[u8])) {
        out.push('"');
        let mut rest = s;
        while !rest.is_empty() {
            let mut cut = rest.len().min(CHUNK);
            while !rest.is_char_boundary(cut) {
                cut -= 1;
            }
            jcs_escape(out, &rest[..cut]);
            rest = &rest[cut..];
            if out.len() >= CHUNK {
                sink(out.as_bytes());
                out.clear();
            }
        }
        out.push('"');
    }
    let mut out = String::new();
    let mut stack = vec![Item::Value(v)];
    while let Some(item) = stack.pop() {
        match item {
            Item::Raw(s) => out.push_str(s),
            Item::Key(k) => string(&mut out, k, sink),
            Item::Value(Value::Null) => out.push_str("null"),
            Item::Value(Value::Bool(b)) => out.push_str(if *b { "true" } else { "false" }),
            Item::Value(Value::Number(n)) => out.push_str(&jcs_number(n)),
            Item::Value(Value::String(s)) => string(&mut out, s, sink),
            Item::Value(Value::Array(a)) => {
                out.push('[');
                stack.push(Item::Raw("]"));
                for (i, x) in a.iter().enumerate().rev() {
                    stack.push(Item::Value(x));
                    if i > 0 {
                        stack.push(Item::Raw(","));
                    }
                }
            }
            Item::Value(Value::Object(m)) => {
                let mut members: Vec<(&String, &Value)> = m.iter().collect();
                members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
                out.push('{');
                stack.push(Item::Raw("}"));
                for (i, (k, x)) in members.into_iter().enumerate().rev() {
                    stack.push(Item::Value(x));
                    stack.push(Item::Raw(":"));
                    stack.push(Item::Key(k));
                    if i > 0 {
                        stack.push(Item::Raw(","));
                    }
                }
            }
        }
        if out.len() >= CHUNK {
            sink(out.as_bytes());
            out.clear();
        }
    }
    sink(out.as_bytes());
}

// ---------------------------------------------------------------------------------------------
// Canonicalized bodies
// ---------------------------------------------------------------------------------------------

/// "sha256" / "sha384" / "sha512" and their digest length, for Rekor's spellings ("sha256",
/// "SHA2_256", "SHA-256"); None for anything else (e.g. SHA3), which is skipped, not an error.
fn normalize_algorithm(name: &str) -> Option<(&'static str, usize)> {
    let folded: String =
        name.chars().filter(|c| *c != '-' && *c != '_').flat_map(char::to_lowercase).collect();
    match folded.as_str() {
        "sha256" | "sha2256" => Some(("sha256", 32)),
        "sha384" | "sha2384" => Some(("sha384", 48)),
        "sha512" | "sha2512" => Some(("sha512", 64)),
        _ => None,
    }
}

/// A protobuf `HashAlgorithm`: its name, or the enum number protobuf JSON parsers also accept.
fn normalize_algorithm_enum(v: &Value) -> Option<(&'static str, usize)> {
    match v {
        Value::String(s) => normalize_algorithm(s),
        Value::Number(n) => match n.as_u64() {
            Some(1) => Some(("sha256", 32)),
            Some(2) => Some(("sha384", 48)),
            Some(3) => Some(("sha512", 64)),
            _ => None,
        },
        _ => None,
    }
}

/// Collects what a body carries. In strict mode (the kinds Sigstore clients write) a malformed
/// field is an error; in lenient mode (the other kinds, best effort) it is skipped.
struct Extractor {
    strict: bool,
    digests: Vec<Digest>,
    signatures: Vec<BodySignature>,
    public_key: Option<Vec<u8>>,
}

impl Extractor {
    fn keep<T>(&self, r: Result<Option<T>, EntryError>) -> Result<Option<T>, EntryError> {
        match r {
            Ok(x) => Ok(x),
            Err(e) if self.strict => Err(e),
            Err(_) => Ok(None),
        }
    }

    fn add_digest(&mut self, d: Option<Digest>) {
        if let Some(d) = d {
            if !self.digests.contains(&d) {
                self.digests.push(d);
            }
        }
    }

    fn add_key(&mut self, key: Option<Vec<u8>>) {
        if self.public_key.is_none() {
            self.public_key = key;
        }
    }
}

/// Walks `keys` down from `v`: None when a step is absent, an error when a step is not an object.
fn descend<'a>(v: &'a Value, base: &str, keys: &[&str]) -> Result<Option<(&'a Value, String)>, EntryError> {
    let mut cur = v;
    let mut path = base.to_string();
    for k in keys {
        let o = Obj::new(cur, &path, "an object")?;
        match o.get(k) {
            Some(next) => {
                path = o.field(k);
                cur = next;
            }
            None => return Ok(None),
        }
    }
    Ok(Some((cur, path)))
}

/// A Rekor v1 hash object `{algorithm, value (hex)}` at `keys` below `spec`.
fn hex_hash(spec: &Value, keys: &[&str], role: DigestRole) -> Result<Option<Digest>, EntryError> {
    let Some((v, path)) = descend(spec, "spec", keys)? else { return Ok(None) };
    let o = Obj::new(v, &path, "an object {algorithm, value}")?;
    let Some((algorithm, want)) = normalize_algorithm(o.req_str("algorithm")?) else { return Ok(None) };
    let value_path = o.field("value");
    let value = hex_field(o.req_str("value")?, &value_path)?;
    if value.len() != want {
        return Err(EntryError::WrongLength { path: value_path, what: "digest", got: value.len(), want });
    }
    Ok(Some(Digest { role, algorithm: algorithm.into(), value }))
}

/// A Rekor v2 `HashOutput {algorithm, digest (base64)}` at `keys` below `spec`.
fn b64_hash(spec: &Value, keys: &[&str], role: DigestRole) -> Result<Option<Digest>, EntryError> {
    let Some((v, path)) = descend(spec, "spec", keys)? else { return Ok(None) };
    let o = Obj::new(v, &path, "an object {algorithm, digest}")?;
    // An absent algorithm is protobuf's HASH_ALGORITHM_UNSPECIFIED: nothing to index.
    let Some((algorithm, want)) = o.get("algorithm").and_then(normalize_algorithm_enum) else {
        return Ok(None);
    };
    let digest_path = o.field("digest");
    let value = b64_field(o.req_str("digest")?, &digest_path)?;
    if value.len() != want {
        return Err(EntryError::WrongLength { path: digest_path, what: "digest", got: value.len(), want });
    }
    Ok(Some(Digest { role, algorithm: algorithm.into(), value }))
}

/// The base64 string at `keys` below `spec`, decoded.
fn b64_bytes(spec: &Value, keys: &[&str]) -> Result<Option<Vec<u8>>, EntryError> {
    let Some((v, path)) = descend(spec, "spec", keys)? else { return Ok(None) };
    match v {
        Value::String(s) => Ok(Some(b64_field(s, &path)?)),
        other => Err(EntryError::WrongType { path, expected: "a base64 string", got: type_name(other) }),
    }
}

/// The array at `keys` below `spec` (bounded), with its path.
fn sig_array<'a>(spec: &'a Value, keys: &[&str]) -> Result<Option<(&'a Vec<Value>, String)>, EntryError> {
    let Some((v, path)) = descend(spec, "spec", keys)? else { return Ok(None) };
    match v {
        Value::Array(a) if a.len() > MAX_BODY_SIGNATURES => {
            Err(EntryError::TooMany { path, what: "signatures", got: a.len(), limit: MAX_BODY_SIGNATURES })
        }
        Value::Array(a) => Ok(Some((a, path))),
        other => Err(EntryError::WrongType { path, expected: "an array", got: type_name(other) }),
    }
}

/// Parses a canonicalized body: a JSON object with string `kind`, string `apiVersion` and object
/// `spec`. Known kinds yield their digests, signatures and keys; unknown kinds yield none (still Ok).
pub fn parse_body(body: &[u8]) -> Result<ParsedBody, EntryError> {
    // Size, depth and value count first: a Value can take many times its text.
    crate::json::check_json_limits(body).map_err(|e| EntryError::NotJson { path: "$".into(), detail: e.to_string() })?;
    // The shapes Sigstore clients write, without a Value tree (the same result; anything else below).
    if let Some(parsed) = fast::parse(body) {
        return Ok(parsed);
    }
    parse_body_general(body)
}

/// `parse_body` by the general parser alone (after the limits check), for any body.
fn parse_body_general(body: &[u8]) -> Result<ParsedBody, EntryError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| EntryError::NotJson { path: "$".into(), detail: e.to_string() })?;
    let root = Obj::new(&v, "$", "an object {kind, apiVersion, spec}")?;
    let kind = root.req_str("kind")?;
    if kind.is_empty() {
        return Err(EntryError::Empty { path: "kind".into() });
    }
    let api_version = root.req_str("apiVersion")?;
    if api_version.is_empty() {
        return Err(EntryError::Empty { path: "apiVersion".into() });
    }
    let spec = root.req("spec")?;
    Obj::new(spec, "spec", "an object")?;

    let strict = matches!(kind, "hashedrekord" | "dsse" | "intoto" | "rekord");
    let mut x = Extractor { strict, digests: Vec::new(), signatures: Vec::new(), public_key: None };
    match kind {
        "hashedrekord" | "rekord" | "jar" => {
            if descend(spec, "spec", &["hashedRekordV002"])?.is_some() {
                extract_hashedrekord_v2(&mut x, spec)?;
            } else {
                let data = if kind == "jar" { ["archive", "hash"] } else { ["data", "hash"] };
                let d = x.keep(hex_hash(spec, &data, DigestRole::Artifact))?;
                x.add_digest(d);
                let sig = x.keep(b64_bytes(spec, &["signature", "content"]))?;
                let key = x.keep(b64_bytes(spec, &["signature", "publicKey", "content"]))?;
                push_signature(&mut x, sig, key);
            }
        }
        "dsse" => {
            if descend(spec, "spec", &["dsseV002"])?.is_some() {
                extract_dsse_v2(&mut x, spec)?;
            } else {
                extract_dsse_v1(&mut x, spec)?;
            }
        }
        "intoto" => extract_intoto(&mut x, spec)?,
        "helm" => {
            let d = x.keep(hex_hash(spec, &["chart", "hash"], DigestRole::Artifact))?;
            x.add_digest(d);
            let sig = x.keep(b64_bytes(spec, &["chart", "provenance", "signature", "content"]))?;
            let key = x.keep(b64_bytes(spec, &["publicKey", "content"]))?;
            push_signature(&mut x, sig, key);
        }
        "rpm" | "alpine" => {
            let d = x.keep(hex_hash(spec, &["package", "hash"], DigestRole::Artifact))?;
            x.add_digest(d);
            let key = x.keep(b64_bytes(spec, &["publicKey", "content"]))?;
            x.add_key(key);
        }
        "cose" => {
            let d = x.keep(hex_hash(spec, &["data", "payloadHash"], DigestRole::Payload))?;
            x.add_digest(d);
            let d = x.keep(hex_hash(spec, &["data", "envelopeHash"], DigestRole::Envelope))?;
            x.add_digest(d);
            let key = x.keep(b64_bytes(spec, &["publicKey"]))?;
            x.add_key(key);
        }
        // rfc3161, tuf and kinds this parser does not know: their canonical bodies carry no digest.
        _ => {}
    }

    let signature = x.signatures.first().map(|s| s.signature.clone());
    Ok(ParsedBody {
        kind: kind.to_string(),
        api_version: api_version.to_string(),
        digests: x.digests,
        signature,
        public_key: x.public_key,
        signatures: x.signatures,
    })
}

fn push_signature(x: &mut Extractor, sig: Option<Vec<u8>>, key: Option<Vec<u8>>) {
    x.add_key(key.clone());
    if let Some(signature) = sig {
        x.signatures.push(BodySignature { signature, verifier: key });
    }
}

/// hashedrekord v0.0.2 (Rekor v2): `spec.hashedRekordV002 {data, signature {content, verifier}}`.
fn extract_hashedrekord_v2(x: &mut Extractor, spec: &Value) -> Result<(), EntryError> {
    let d = x.keep(b64_hash(spec, &["hashedRekordV002", "data"], DigestRole::Artifact))?;
    x.add_digest(d);
    let sig = x.keep(b64_bytes(spec, &["hashedRekordV002", "signature", "content"]))?;
    let key = x.keep(match descend(spec, "spec", &["hashedRekordV002", "signature"]) {
        Ok(Some((sig, path))) => v2_verifier_at(sig, &path),
        Ok(None) => Ok(None),
        Err(e) => Err(e),
    })?;
    push_signature(x, sig, key);
    Ok(())
}

/// dsse v0.0.1: `spec {envelopeHash, payloadHash, signatures [{signature, verifier}]}`; the
/// signature is the envelope's base64 `sig` string, the verifier base64 PEM.
fn extract_dsse_v1(x: &mut Extractor, spec: &Value) -> Result<(), EntryError> {
    let d = x.keep(hex_hash(spec, &["payloadHash"], DigestRole::Payload))?;
    x.add_digest(d);
    let d = x.keep(hex_hash(spec, &["envelopeHash"], DigestRole::Envelope))?;
    x.add_digest(d);
    if let Some((list, path)) = x.keep(sig_array(spec, &["signatures"]))? {
        for (i, item) in list.iter().enumerate() {
            let base = format!("{path}[{i}]");
            let sig = x.keep(b64_bytes_at(item, &base, "signature"))?;
            let key = x.keep(b64_bytes_at(item, &base, "verifier"))?;
            push_signature(x, sig, key);
        }
    }
    Ok(())
}

/// dsse v0.0.2 (Rekor v2): `spec.dsseV002 {payloadHash, signatures [{content, verifier}]}`.
fn extract_dsse_v2(x: &mut Extractor, spec: &Value) -> Result<(), EntryError> {
    let d = x.keep(b64_hash(spec, &["dsseV002", "payloadHash"], DigestRole::Payload))?;
    x.add_digest(d);
    if let Some((list, path)) = x.keep(sig_array(spec, &["dsseV002", "signatures"]))? {
        for (i, item) in list.iter().enumerate() {
            let base = format!("{path}[{i}]");
            let sig = x.keep(b64_bytes_at(item, &base, "content"))?;
            let key = x.keep(v2_verifier_at(item, &base))?;
            push_signature(x, sig, key);
        }
    }
    Ok(())
}

/// intoto v0.0.1 / v0.0.2: `spec.content {hash (the envelope), payloadHash, envelope?}`. Old
/// entries keep the envelope, whose payload and signatures are usually base64 twice over.
fn extract_intoto(x: &mut Extractor, spec: &Value) -> Result<(), EntryError> {
    let d = x.keep(hex_hash(spec, &["content", "hash"], DigestRole::Envelope))?;
    x.add_digest(d);
    let d = x.keep(hex_hash(spec, &["content", "payloadHash"], DigestRole::Payload))?;
    x.add_digest(d);
    let d = x.keep(hex_hash(spec, &["content", "attestationHash"], DigestRole::Attestation))?;
    x.add_digest(d);
    // v0.0.2 keeps the envelope as an object; v0.0.1 had a string (never in canonical bodies).
    if let Some((Value::Object(_), _)) = descend(spec, "spec", &["content", "envelope"])? {
        if let Ok(Some(payload)) = b64_bytes(spec, &["content", "envelope", "payload"]) {
            for d in intoto_subject_digests(&unwrap_inner_base64(payload)) {
                x.add_digest(Some(d));
            }
        }
        if let Some((list, path)) = x.keep(sig_array(spec, &["content", "envelope", "signatures"]))? {
            for (i, item) in list.iter().enumerate() {
                let base = format!("{path}[{i}]");
                let sig = x.keep(b64_bytes_at(item, &base, "sig"))?.map(unwrap_inner_base64);
                let key = x.keep(b64_bytes_at(item, &base, "publicKey"))?;
                push_signature(x, sig, key);
            }
        }
    }
    let key = x.keep(b64_bytes(spec, &["publicKey"]))?;
    x.add_key(key);
    Ok(())
}

/// Rekor's Go clients log an in-toto signature as base64 of the envelope's base64 `sig` text, but
/// some real entries hold the raw signature base64 once: decode again only when the bytes are
/// base64 text (a DER or raw signature never is, as it contains bytes outside the alphabet).
fn unwrap_inner_base64(once: Vec<u8>) -> Vec<u8> {
    match std::str::from_utf8(&once).ok().map(decode_base64_any) {
        Some(Ok(inner)) if !inner.is_empty() => inner,
        _ => once,
    }
}

/// The base64 string member `key` of the object `item` at `base`, decoded; None when absent.
fn b64_bytes_at(item: &Value, base: &str, key: &str) -> Result<Option<Vec<u8>>, EntryError> {
    let o = Obj::new(item, base, "an object")?;
    match o.opt_str(key)? {
        Some(s) => Ok(Some(b64_field(s, &o.field(key))?)),
        None => Ok(None),
    }
}

/// The `verifier` of a Rekor v2 signature object: `{publicKey {rawBytes}} | {x509Certificate
/// {rawBytes}}`, DER bytes.
fn v2_verifier_at(item: &Value, base: &str) -> Result<Option<Vec<u8>>, EntryError> {
    let Some((v, path)) = descend(item, base, &["verifier"])? else { return Ok(None) };
    let o = Obj::new(v, &path, "an object")?;
    for kind in ["publicKey", "x509Certificate"] {
        if let Some(inner) = o.opt_obj(kind)? {
            if let Some(s) = inner.opt_str("rawBytes")? {
                return Ok(Some(b64_field(s, &inner.field("rawBytes"))?));
            }
        }
    }
    Ok(None)
}

/// The subject digests (sha256/384/512) of an in-toto statement, best effort: anything that is
/// not a statement, or a digest that is not well-formed hex of the right length, is skipped.
pub fn intoto_subject_digests(statement: &[u8]) -> Vec<Digest> {
    let Ok(v) = serde_json::from_slice::<Value>(statement) else { return Vec::new() };
    let Some(subjects) = v.get("subject").and_then(Value::as_array) else { return Vec::new() };
    let mut out: Vec<Digest> = Vec::new();
    for s in subjects {
        let Some(digests) = s.get("digest").and_then(Value::as_object) else { continue };
        for (alg, val) in digests {
            let Some((algorithm, want)) = normalize_algorithm(alg) else { continue };
            let Some(value) = val.as_str().and_then(|h| hex::decode(h).ok()) else { continue };
            let d = Digest { role: DigestRole::Subject, algorithm: algorithm.into(), value };
            if d.value.len() == want && !out.contains(&d) {
                out.push(d);
            }
            if out.len() >= MAX_SUBJECT_DIGESTS {
                return out;
            }
        }
    }
    out
}

mod fast;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod base64_tests {
    use super::decode_base64_any;

    #[test]
    fn base64_with_cr_and_lf_decodes_as_go_and_python_do_and_nothing_else_is_skipped() {
        let wrapped = "YWJj\nZGVm\r\nZ2hp";
        assert_eq!(decode_base64_any(wrapped).unwrap(), b"abcdefghi");
        assert_eq!(decode_base64_any("YWJjZGVm\n").unwrap(), b"abcdef");
        for bad in ["YWJj ZGVm", "YWJj\tZGVm", "YWJj\u{0}ZGVm", "YW=Jj"] {
            assert!(decode_base64_any(bad).is_err(), "{bad:?}");
        }
    }
}
