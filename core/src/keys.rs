//! Transparency-log public keys: parsing (PEM, DER SubjectPublicKeyInfo, base64 DER, C2SP verifier keys),
//! Rekor log ids and signed-note key hints, and signature verification with `ring`.
//!
//! Only the two algorithms Rekor uses are accepted: ECDSA P-256 with SHA-256 (Rekor v1) and Ed25519
//! (Rekor v2, C2SP signed notes). Everything else is a typed [`KeyError`] naming what was found.
//! The DER parser is strict (definite, minimal lengths; no trailing bytes) because the SPKI bytes are
//! hashed into the log id: two encodings of one key must not yield two ids.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1, ED25519};
use sha2::{Digest, Sha256};
use std::fmt;

/// Length of an uncompressed SEC1 P-256 point: 0x04 || X || Y.
pub const P256_POINT_LEN: usize = 65;
/// Length of an Ed25519 public key and of the coordinate inside it.
pub const ED25519_KEY_LEN: usize = 32;
/// Length of an Ed25519 signature.
pub const ED25519_SIG_LEN: usize = 64;

/// C2SP signed-note signature type byte for Ed25519 keys.
pub const VKEY_TYPE_ED25519: u8 = 0x01;
/// C2SP signed-note signature type byte for ECDSA keys given as DER SPKI (transparency-dev/formats).
pub const VKEY_TYPE_ECDSA: u8 = 0x02;
/// Longest key input read (PEM, base64 or DER): a P-256 or Ed25519 key is under 200 bytes in any
/// form; the limit keeps a hostile key from costing more than its own size to reject.
pub const MAX_KEY_INPUT_BYTES: usize = 16 * 1024;

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_PRIME256V1: &str = "1.2.840.10045.3.1.7";
const OID_ED25519: &str = "1.3.101.112";

/// DER of SEQUENCE { SEQUENCE { id-ecPublicKey, prime256v1 }, BIT STRING (66 bytes) } up to the point.
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86,
    0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
/// DER of SEQUENCE { SEQUENCE { id-Ed25519 }, BIT STRING (33 bytes) } up to the key.
const ED25519_SPKI_PREFIX: [u8; 12] =
    [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

const DER_SEQUENCE: u8 = 0x30;
const DER_OID: u8 = 0x06;
const DER_BIT_STRING: u8 = 0x03;

/// The signature algorithms a [`LogKey`] can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// ECDSA on NIST P-256 over SHA-256 of the message, signatures ASN.1 DER (Rekor v1).
    EcdsaP256,
    /// Pure Ed25519 (RFC 8032) over the message (Rekor v2, C2SP signed notes).
    Ed25519,
}

impl KeyType {
    pub fn as_str(&self) -> &'static str {
        match self {
            KeyType::EcdsaP256 => "ecdsa-p256-sha256",
            KeyType::Ed25519 => "ed25519",
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Exactly what is wrong with a key (or verifier key string) that was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyError {
    /// The input is empty or only whitespace.
    Empty,
    /// The PEM armour is malformed (missing END line, not text, ...).
    BadPem { reason: &'static str },
    /// A well-formed PEM block of another kind (e.g. "RSA PUBLIC KEY", "CERTIFICATE").
    PemLabel { label: String },
    /// Text that should be standard, padded, canonical base64 is not.
    BadBase64 { what: &'static str, detail: String },
    /// The DER ends before the element that starts at `offset` is complete.
    TruncatedDer { offset: usize, need: usize, have: usize },
    /// The DER at `offset` breaks a rule (wrong tag, non-minimal length, ...).
    BadDer { offset: usize, reason: String },
    /// Bytes left over after a complete element.
    TrailingData { offset: usize, extra: usize },
    /// A key algorithm (or EC curve) other than ECDSA P-256 and Ed25519.
    UnsupportedAlgorithm { oid: String, name: Option<&'static str>, curve: bool },
    /// The algorithm parameters are not the ones the algorithm requires.
    BadAlgorithmParameters { reason: &'static str },
    /// The public key bytes are not a usable point of the key's curve.
    BadPoint { key_type: KeyType, reason: &'static str },
    /// The C2SP verifier key string is malformed.
    BadVkey { reason: &'static str },
    /// The verifier key's signature type byte is not one this crate verifies.
    UnsupportedVkeyType { type_byte: u8 },
    /// The verifier key's hint does not match the hint computed from its name and key.
    VkeyHintMismatch { name: String, given: String, computed: String },
    /// The key input is longer than [`MAX_KEY_INPUT_BYTES`].
    TooLong { got: usize, limit: usize },
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use KeyError::*;
        match self {
            Empty => f.write_str("public key input is empty"),
            TooLong { got, limit } => write!(f, "public key input is {got} bytes, over the limit of {limit}"),
            BadPem { reason } => write!(f, "bad PEM: {reason}"),
            PemLabel { label } => write!(
                f,
                "bad PEM: block is \"{label}\", want \"PUBLIC KEY\" (a SubjectPublicKeyInfo)"
            ),
            BadBase64 { what, detail } => write!(f, "bad base64 in {what}: {detail}"),
            TruncatedDer { offset, need, have } => write!(
                f,
                "truncated DER: element at byte {offset} needs {need} more bytes, only {have} left"
            ),
            BadDer { offset, reason } => write!(f, "bad DER at byte {offset}: {reason}"),
            TrailingData { offset, extra } => {
                write!(f, "trailing data: {extra} unexpected bytes after the key, from byte {offset}")
            }
            UnsupportedAlgorithm { oid, name, curve } => {
                let what = if *curve { "elliptic curve" } else { "public key algorithm" };
                match name {
                    Some(n) => write!(f, "unsupported {what} {n} (OID {oid}): only ECDSA P-256 and Ed25519 are supported"),
                    None => write!(f, "unsupported {what} with OID {oid}: only ECDSA P-256 and Ed25519 are supported"),
                }
            }
            BadAlgorithmParameters { reason } => write!(f, "bad algorithm parameters: {reason}"),
            BadPoint { key_type, reason } => write!(f, "bad {key_type} public key: {reason}"),
            BadVkey { reason } => write!(f, "bad verifier key: {reason}"),
            UnsupportedVkeyType { type_byte } => write!(
                f,
                "unsupported verifier key type 0x{type_byte:02x}: only 0x01 (Ed25519) and 0x02 (ECDSA) are supported"
            ),
            VkeyHintMismatch { name, given, computed } => write!(
                f,
                "verifier key hint mismatch for {name:?}: key says {given}, name and key give {computed}"
            ),
        }
    }
}

impl std::error::Error for KeyError {}

/// A transparency log's public key, validated, with its canonical DER SPKI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogKey {
    key_type: KeyType,
    spki: Vec<u8>,
    raw: Vec<u8>,
}

impl LogKey {
    /// Accepts PEM text ("-----BEGIN PUBLIC KEY-----"), DER SubjectPublicKeyInfo bytes, or base64 of DER
    /// (whitespace tolerated).
    pub fn parse(input: &[u8]) -> Result<LogKey, KeyError> {
        if input.len() > MAX_KEY_INPUT_BYTES {
            return Err(KeyError::TooLong { got: input.len(), limit: MAX_KEY_INPUT_BYTES });
        }
        // Binary DER starts with a SEQUENCE tag; base64 of a SEQUENCE starts with 'M', so this never
        // misreads text. DER is not trimmed: its last bytes may legitimately be whitespace values.
        if input.first() == Some(&DER_SEQUENCE) {
            return LogKey::from_spki_der(input);
        }
        let text = std::str::from_utf8(input).map_err(|_| KeyError::BadBase64 {
            what: "key text",
            detail: "input is neither DER nor UTF-8 text".into(),
        })?;
        let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
        if text.is_empty() {
            return Err(KeyError::Empty);
        }
        if text.starts_with("-----BEGIN ") {
            return LogKey::from_spki_der(&pem_decode(text)?);
        }
        let der = decode_base64_lenient(text, "base64 DER key")?;
        LogKey::from_spki_der(&der)
    }

    /// Parses a DER SubjectPublicKeyInfo, strictly: one complete element, nothing after it.
    pub fn from_spki_der(der: &[u8]) -> Result<LogKey, KeyError> {
        if der.is_empty() {
            return Err(KeyError::Empty);
        }
        let mut top = DerReader::new(der, 0);
        let spki = top.read(DER_SEQUENCE, "SubjectPublicKeyInfo SEQUENCE")?;
        top.finish()?;

        let mut fields = spki;
        let mut alg = fields.read(DER_SEQUENCE, "AlgorithmIdentifier SEQUENCE")?;
        let mut bits = fields.read(DER_BIT_STRING, "subjectPublicKey BIT STRING")?;
        fields.finish()?;

        let oid = alg.read_oid("algorithm OID")?;
        let key_type = match oid.as_str() {
            OID_EC_PUBLIC_KEY => {
                if alg.is_empty() {
                    return Err(KeyError::BadAlgorithmParameters {
                        reason: "id-ecPublicKey without a named curve",
                    });
                }
                if alg.peek_tag() == Some(DER_SEQUENCE) {
                    return Err(KeyError::BadAlgorithmParameters {
                        reason:
                            "explicit EC curve parameters are not accepted, only the named curve prime256v1",
                    });
                }
                let curve = alg.read_oid("EC named curve OID")?;
                alg.finish()?;
                if curve != OID_PRIME256V1 {
                    let name = curve_name(&curve);
                    return Err(KeyError::UnsupportedAlgorithm { oid: curve, name, curve: true });
                }
                KeyType::EcdsaP256
            }
            OID_ED25519 => {
                // RFC 8410 §3: the parameters MUST be absent.
                if !alg.is_empty() {
                    return Err(KeyError::BadAlgorithmParameters {
                        reason: "Ed25519 AlgorithmIdentifier must have no parameters (RFC 8410)",
                    });
                }
                KeyType::Ed25519
            }
            _ => {
                let name = algorithm_name(&oid);
                return Err(KeyError::UnsupportedAlgorithm { oid, name, curve: false });
            }
        };

        let unused_at = bits.absolute_offset();
        match bits.take_byte() {
            Some(0) => {}
            Some(n) => {
                return Err(KeyError::BadDer {
                    offset: unused_at,
                    reason: format!("public key BIT STRING has {n} unused bits, want 0"),
                })
            }
            None => {
                return Err(KeyError::BadDer {
                    offset: unused_at,
                    reason: "empty public key BIT STRING".into(),
                })
            }
        }
        let key = bits.rest();
        match key_type {
            KeyType::EcdsaP256 => LogKey::from_p256_point(key),
            KeyType::Ed25519 => LogKey::from_ed25519_raw(key),
        }
    }

    /// An ECDSA P-256 key from its 65-byte uncompressed SEC1 point.
    pub fn from_p256_point(point: &[u8]) -> Result<LogKey, KeyError> {
        let bad = |reason| KeyError::BadPoint { key_type: KeyType::EcdsaP256, reason };
        let (&format, coords) = point.split_first().ok_or(bad("empty point"))?;
        match format {
            0x04 => {}
            0x02 | 0x03 => return Err(bad("compressed points are not accepted, want uncompressed (0x04)")),
            0x00 => return Err(bad("point at infinity")),
            _ => return Err(bad("unknown SEC1 point format byte, want 0x04")),
        }
        if point.len() != P256_POINT_LEN {
            return Err(bad("uncompressed point is not 65 bytes"));
        }
        let (x, y) = coords.split_at_checked(32).ok_or(bad("uncompressed point is not 65 bytes"))?;
        p256_on_curve(x, y).map_err(bad)?;
        let mut spki = P256_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(point);
        Ok(LogKey { key_type: KeyType::EcdsaP256, spki, raw: point.to_vec() })
    }

    /// An Ed25519 key from its 32 raw bytes; rejects non-canonical, off-curve and small-order keys.
    pub fn from_ed25519_raw(raw: &[u8]) -> Result<LogKey, KeyError> {
        let bad = |reason| KeyError::BadPoint { key_type: KeyType::Ed25519, reason };
        let bytes: &[u8; ED25519_KEY_LEN] = raw.try_into().map_err(|_| bad("key is not 32 bytes"))?;
        ed25519_key_check(bytes).map_err(bad)?;
        let mut spki = ED25519_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(raw);
        Ok(LogKey { key_type: KeyType::Ed25519, spki, raw: raw.to_vec() })
    }

    /// Parses a C2SP signed-note verifier key `name+hexhint+base64(type || key)` and checks its hint.
    /// Type 0x01 is a raw Ed25519 key; type 0x02 an ECDSA P-256 DER SPKI (transparency-dev/formats).
    pub fn parse_vkey(vkey: &str) -> Result<(String, LogKey), KeyError> {
        let vkey = vkey.trim_matches(|c: char| c.is_ascii_whitespace());
        let (name, rest) =
            vkey.split_once('+').ok_or(KeyError::BadVkey { reason: "no '+' after the name" })?;
        let (hint_hex, key_b64) =
            rest.split_once('+').ok_or(KeyError::BadVkey { reason: "no '+' after the key hint" })?;
        if !is_valid_note_name(name) {
            return Err(KeyError::BadVkey { reason: "name is empty or contains whitespace or '+'" });
        }
        if hint_hex.len() != 8 || !hint_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(KeyError::BadVkey { reason: "key hint is not 8 hex digits" });
        }
        let given = hex::decode(hint_hex)
            .map_err(|_| KeyError::BadVkey { reason: "key hint is not 8 hex digits" })?;
        let blob = STANDARD
            .decode(key_b64)
            .map_err(|e| KeyError::BadBase64 { what: "verifier key", detail: e.to_string() })?;
        let (&type_byte, key_bytes) = blob.split_first().ok_or(KeyError::BadVkey { reason: "empty key" })?;
        let key = match type_byte {
            VKEY_TYPE_ED25519 => LogKey::from_ed25519_raw(key_bytes)?,
            VKEY_TYPE_ECDSA => {
                let key = LogKey::from_spki_der(key_bytes)?;
                if key.key_type != KeyType::EcdsaP256 {
                    return Err(KeyError::BadVkey { reason: "type 0x02 (ECDSA) carries a non-ECDSA key" });
                }
                key
            }
            t => return Err(KeyError::UnsupportedVkeyType { type_byte: t }),
        };
        let computed = key.key_hint(name);
        if given.as_slice() != computed.as_slice() {
            return Err(KeyError::VkeyHintMismatch {
                name: name.to_string(),
                given: hint_hex.to_ascii_lowercase(),
                computed: hex::encode(computed),
            });
        }
        Ok((name.to_string(), key))
    }

    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// Canonical DER SubjectPublicKeyInfo (the strict parser only accepts the canonical encoding).
    pub fn spki_der(&self) -> &[u8] {
        &self.spki
    }

    /// 65-byte uncompressed SEC1 point for P-256, 32 bytes for Ed25519.
    pub fn raw_public_key(&self) -> &[u8] {
        &self.raw
    }

    /// ECDSA P-256: `sig` is ASN.1 DER over SHA-256(msg). Ed25519: 64-byte signature over msg.
    /// Never panics; any malformed signature is simply `false`.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match self.key_type {
            KeyType::EcdsaP256 => {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &self.raw).verify(msg, sig).is_ok()
            }
            // ring rejects S >= L and compares R byte-for-byte with the recomputed canonical encoding.
            KeyType::Ed25519 => {
                sig.len() == ED25519_SIG_LEN
                    && UnparsedPublicKey::new(&ED25519, &self.raw).verify(msg, sig).is_ok()
            }
        }
    }

    /// Rekor logID: ECDSA → SHA-256(SPKI DER); Ed25519 → SHA-256(signer_name || 0x0A || 0x01 || raw key).
    pub fn log_id(&self, signer_name: &str) -> [u8; 32] {
        match self.key_type {
            KeyType::EcdsaP256 => Sha256::digest(&self.spki).into(),
            KeyType::Ed25519 => {
                let mut h = Sha256::new();
                h.update(signer_name.as_bytes());
                h.update([b'\n', VKEY_TYPE_ED25519]);
                h.update(&self.raw);
                h.finalize().into()
            }
        }
    }

    /// Signed-note key hint: the first 4 bytes of [`LogKey::log_id`].
    pub fn key_hint(&self, signer_name: &str) -> [u8; 4] {
        let id = self.log_id(signer_name);
        [id[0], id[1], id[2], id[3]]
    }
}

/// Longest signer name a trusted log may have (rekor_add_log): log names are host names and paths,
/// far shorter; the limit keeps a hostile name from being stored, indexed and hashed at any size.
pub const MAX_SIGNER_NAME_BYTES: usize = 1024;

/// C2SP signed-note name rule (as golang.org/x/mod/sumdb/note): non-empty, no whitespace, no '+'.
pub fn is_valid_note_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

fn decode_base64_lenient(text: &str, what: &'static str) -> Result<Vec<u8>, KeyError> {
    let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if compact.is_empty() {
        return Err(KeyError::Empty);
    }
    STANDARD.decode(&compact).map_err(|e| KeyError::BadBase64 { what, detail: e.to_string() })
}

/// Decodes one "PUBLIC KEY" PEM block (already trimmed); nothing may follow its END line.
fn pem_decode(text: &str) -> Result<Vec<u8>, KeyError> {
    let after_begin = text.strip_prefix("-----BEGIN ").ok_or(KeyError::BadPem { reason: "no BEGIN line" })?;
    let (label, body_and_end) = after_begin
        .split_once("-----")
        .ok_or(KeyError::BadPem { reason: "BEGIN line is not closed by \"-----\"" })?;
    if label != "PUBLIC KEY" {
        return Err(KeyError::PemLabel { label: label.chars().take(64).collect() });
    }
    let end_marker = "-----END PUBLIC KEY-----";
    let (body, after_end) = body_and_end
        .split_once(end_marker)
        .ok_or(KeyError::BadPem { reason: "no \"-----END PUBLIC KEY-----\" line" })?;
    if !after_end.is_empty() {
        return Err(KeyError::BadPem { reason: "text after the END line (only one PEM block is accepted)" });
    }
    decode_base64_lenient(body, "PEM body")
}

fn algorithm_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "1.2.840.113549.1.1.1" => "rsaEncryption (RSA)",
        "1.2.840.113549.1.1.10" => "RSASSA-PSS",
        "1.2.840.10040.4.1" => "DSA",
        "1.3.101.110" => "X25519",
        "1.3.101.111" => "X448",
        "1.3.101.113" => "Ed448",
        "1.2.840.10045.2.1" => "id-ecPublicKey",
        _ => return None,
    })
}

fn curve_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "1.3.132.0.34" => "secp384r1 (P-384)",
        "1.3.132.0.35" => "secp521r1 (P-521)",
        "1.3.132.0.33" => "secp224r1 (P-224)",
        "1.2.840.10045.3.1.1" => "prime192v1 (P-192)",
        "1.3.132.0.10" => "secp256k1",
        "1.3.36.3.3.2.8.1.1.7" => "brainpoolP256r1",
        "1.2.156.10197.1.301" => "SM2",
        _ => return None,
    })
}

/// A cursor over DER contents; offsets in errors are absolute positions in the outermost input.
struct DerReader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> DerReader<'a> {
    fn new(buf: &'a [u8], base: usize) -> Self {
        DerReader { buf, pos: 0, base }
    }

    fn absolute_offset(&self) -> usize {
        self.base + self.pos
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    fn peek_tag(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn take_byte(&mut self) -> Option<u8> {
        let b = self.buf.get(self.pos).copied()?;
        self.pos += 1;
        Some(b)
    }

    fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    /// Reads one TLV with tag `tag` and returns a reader over its contents.
    fn read(&mut self, tag: u8, what: &'static str) -> Result<DerReader<'a>, KeyError> {
        let start = self.absolute_offset();
        let truncated = |need: usize, have: usize| KeyError::TruncatedDer { offset: start, need, have };
        let found = self.take_byte().ok_or(truncated(2, 0))?;
        if found != tag {
            return Err(KeyError::BadDer {
                offset: start,
                reason: format!("expected {what} (tag 0x{tag:02x}), found tag 0x{found:02x}"),
            });
        }
        let first = self.take_byte().ok_or(truncated(1, 0))?;
        let len = match first {
            0..=0x7f => usize::from(first),
            0x80 => {
                return Err(KeyError::BadDer {
                    offset: start,
                    reason: format!("indefinite length in {what}"),
                })
            }
            _ => {
                let n = usize::from(first & 0x7f);
                if n > 3 {
                    return Err(KeyError::BadDer {
                        offset: start,
                        reason: format!("{what} length uses {n} bytes, too long for a public key"),
                    });
                }
                let have = self.remaining();
                let bytes = self.buf.get(self.pos..self.pos + n).ok_or(truncated(n, have))?;
                self.pos += n;
                let len = bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
                // DER: long form only for lengths >= 128, and without leading zero bytes.
                if bytes.first() == Some(&0) || len < 0x80 {
                    return Err(KeyError::BadDer {
                        offset: start,
                        reason: format!("non-minimal length encoding in {what}"),
                    });
                }
                len
            }
        };
        let have = self.remaining();
        let content_start = self.pos;
        let contents = self.buf.get(content_start..content_start + len).ok_or(truncated(len, have))?;
        self.pos += len;
        Ok(DerReader::new(contents, self.base + content_start))
    }

    /// Reads an OBJECT IDENTIFIER and returns it in dotted form.
    fn read_oid(&mut self, what: &'static str) -> Result<String, KeyError> {
        let start = self.absolute_offset();
        let body = self.read(DER_OID, what)?;
        decode_oid(body.rest())
            .ok_or_else(|| KeyError::BadDer { offset: start, reason: format!("malformed {what}") })
    }

    /// Errors unless every byte has been consumed.
    fn finish(&self) -> Result<(), KeyError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(KeyError::TrailingData { offset: self.absolute_offset(), extra: self.remaining() })
        }
    }
}

/// Dotted form of a DER OID body; None for empty, non-minimal or overlong arcs.
fn decode_oid(body: &[u8]) -> Option<String> {
    if body.is_empty() || body.last().is_some_and(|b| b & 0x80 != 0) {
        return None;
    }
    let mut arcs: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    let mut fresh = true;
    for &b in body {
        // A leading 0x80 would encode a redundant zero group: not minimal, so not DER.
        if fresh && b == 0x80 {
            return None;
        }
        acc = acc.checked_mul(128)?.checked_add(u64::from(b & 0x7f))?;
        fresh = b & 0x80 == 0;
        if fresh {
            arcs.push(acc);
            acc = 0;
        }
    }
    let (&first, rest) = arcs.split_first()?;
    let (a, b) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first - 40),
        _ => (2, first - 80),
    };
    let mut out = format!("{a}.{b}");
    for arc in rest {
        out.push('.');
        out.push_str(&arc.to_string());
    }
    Some(out)
}

// ---------------------------------------------------------------------------------------------------------
// Point validation. ring validates P-256 points on every verify but offers no way to validate a key alone,
// and accepts some Ed25519 keys that no honest log uses; these checks give a precise error at parse time.
// The arithmetic is on public data only, so it needs no constant-time care; tests cross-check it against
// the RustCrypto p256 and dalek crates.

/// A 256-bit unsigned integer, little-endian 64-bit limbs.
type U256 = [u64; 4];

const P256_P: U256 =
    [0xffff_ffff_ffff_ffff, 0x0000_0000_ffff_ffff, 0x0000_0000_0000_0000, 0xffff_ffff_0000_0001];
const P256_B: U256 =
    [0x3bce_3c3e_27d2_604b, 0x651d_06b0_cc53_b0f6, 0xb3eb_bd55_7698_86bc, 0x5ac6_35d8_aa3a_93e7];
const P25519: U256 =
    [0xffff_ffff_ffff_ffed, 0xffff_ffff_ffff_ffff, 0xffff_ffff_ffff_ffff, 0x7fff_ffff_ffff_ffff];
/// Edwards d = -121665/121666 mod 2^255-19.
const ED25519_D: U256 =
    [0x75eb_4dca_1359_78a3, 0x0070_0a4d_4141_d8ab, 0x8cc7_4079_7779_e898, 0x5203_6cee_2b6f_fe73];

fn u256_from_be(bytes: &[u8]) -> Option<U256> {
    let b: &[u8; 32] = bytes.try_into().ok()?;
    let mut out = [0u64; 4];
    for (limb, chunk) in out.iter_mut().rev().zip(b.chunks_exact(8)) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        *limb = u64::from_be_bytes(w);
    }
    Some(out)
}

fn u256_from_le(b: &[u8; 32]) -> U256 {
    let mut out = [0u64; 4];
    for (limb, chunk) in out.iter_mut().zip(b.chunks_exact(8)) {
        let mut w = [0u8; 8];
        w.copy_from_slice(chunk);
        *limb = u64::from_le_bytes(w);
    }
    out
}

fn u256_lt(a: &U256, b: &U256) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x < y;
        }
    }
    false
}

fn u256_is_zero(a: &U256) -> bool {
    a.iter().all(|&l| l == 0)
}

/// a + b, with the carry out of bit 256.
fn u256_add(a: &U256, b: &U256) -> (U256, bool) {
    let mut out = [0u64; 4];
    let mut carry = false;
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        let (s1, c1) = x.overflowing_add(*y);
        let (s2, c2) = s1.overflowing_add(u64::from(carry));
        *o = s2;
        carry = c1 || c2;
    }
    (out, carry)
}

/// a - b, with the borrow out of bit 256.
fn u256_sub(a: &U256, b: &U256) -> (U256, bool) {
    let mut out = [0u64; 4];
    let mut borrow = false;
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        let (d1, b1) = x.overflowing_sub(*y);
        let (d2, b2) = d1.overflowing_sub(u64::from(borrow));
        *o = d2;
        borrow = b1 || b2;
    }
    (out, borrow)
}

/// (a + b) mod p for a, b < p.
fn add_mod(a: &U256, b: &U256, p: &U256) -> U256 {
    let (s, carry) = u256_add(a, b);
    if carry || !u256_lt(&s, p) {
        u256_sub(&s, p).0
    } else {
        s
    }
}

/// (a - b) mod p for a, b < p.
fn sub_mod(a: &U256, b: &U256, p: &U256) -> U256 {
    let (d, borrow) = u256_sub(a, b);
    if borrow {
        u256_add(&d, p).0
    } else {
        d
    }
}

/// (a * b) mod p for a, b < p, by double-and-add over the bits of b (a few microseconds; parse time only).
fn mul_mod(a: &U256, b: &U256, p: &U256) -> U256 {
    let mut r = [0u64; 4];
    for limb in b.iter().rev() {
        for bit in (0..64).rev() {
            r = add_mod(&r, &r, p);
            if (limb >> bit) & 1 == 1 {
                r = add_mod(&r, a, p);
            }
        }
    }
    r
}

fn shr1(a: &mut U256) {
    let mut carry = 0u64;
    for limb in a.iter_mut().rev() {
        let next = *limb & 1;
        *limb = (*limb >> 1) | (carry << 63);
        carry = next;
    }
}

/// Jacobi symbol (a/n) for odd n by the binary algorithm: 1, -1, or 0 when gcd(a, n) > 1.
fn jacobi(a: &U256, n: &U256) -> i8 {
    let mut a = *a;
    let mut n = *n;
    // Reduce a below n first (a < 2n for every caller, but loop to be safe for any input).
    while !u256_lt(&a, &n) {
        a = u256_sub(&a, &n).0;
    }
    let mut t: i8 = 1;
    while !u256_is_zero(&a) {
        while a[0] & 1 == 0 {
            shr1(&mut a);
            let r = n[0] & 7;
            if r == 3 || r == 5 {
                t = -t;
            }
        }
        if u256_lt(&a, &n) {
            std::mem::swap(&mut a, &mut n);
            if a[0] & 3 == 3 && n[0] & 3 == 3 {
                t = -t;
            }
        }
        a = u256_sub(&a, &n).0;
    }
    if n == [1, 0, 0, 0] {
        t
    } else {
        0
    }
}

/// Checks x, y < p and y² = x³ - 3x + b on P-256.
fn p256_on_curve(x: &[u8], y: &[u8]) -> Result<(), &'static str> {
    let x = u256_from_be(x).ok_or("coordinate is not 32 bytes")?;
    let y = u256_from_be(y).ok_or("coordinate is not 32 bytes")?;
    if !u256_lt(&x, &P256_P) || !u256_lt(&y, &P256_P) {
        return Err("coordinate is not below the field prime");
    }
    let p = &P256_P;
    let lhs = mul_mod(&y, &y, p);
    let x3 = mul_mod(&mul_mod(&x, &x, p), &x, p);
    let three_x = add_mod(&add_mod(&x, &x, p), &x, p);
    let rhs = add_mod(&sub_mod(&x3, &three_x, p), &P256_B, p);
    if lhs == rhs {
        Ok(())
    } else {
        Err("point is not on the P-256 curve")
    }
}

/// Encodings of the Ed25519 points of small order (the 8 torsion points, plus the two x = 0 points
/// with the sign bit set): with such a key a signature can verify for many messages at once.
const ED25519_SMALL_ORDER: [[u8; 32]; 10] = [
    [
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ],
    [
        0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80,
    ],
    [
        0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f,
    ],
    [
        0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ],
    [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    ],
    [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80,
    ],
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a,
        0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a,
    ],
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a,
        0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0xfa,
    ],
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5,
        0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05,
    ],
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5,
        0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x85,
    ],
];

/// Rejects Ed25519 keys that are non-canonical (y >= p), not on the curve, or of small order.
fn ed25519_key_check(key: &[u8; 32]) -> Result<(), &'static str> {
    if ED25519_SMALL_ORDER.contains(key) {
        return Err("small-order point (a weak key that can verify forged signatures)");
    }
    let mut y_bytes = *key;
    y_bytes[31] &= 0x7f;
    let y = u256_from_le(&y_bytes);
    if !u256_lt(&y, &P25519) {
        return Err("non-canonical encoding (y is not below 2^255-19)");
    }
    // x² = (y² - 1) / (d·y² + 1) must have a root, i.e. (y² - 1)(d·y² + 1) must not be a non-residue.
    let p = &P25519;
    let one: U256 = [1, 0, 0, 0];
    let y2 = mul_mod(&y, &y, p);
    let u = sub_mod(&y2, &one, p);
    let v = add_mod(&mul_mod(&ED25519_D, &y2, p), &one, p);
    if u256_is_zero(&v) {
        return Err("point is not on the Ed25519 curve");
    }
    if jacobi(&mul_mod(&u, &v, p), p) == -1 {
        return Err("point is not on the Ed25519 curve");
    }
    Ok(())
}

#[cfg(test)]
mod tests;
