//! RFC 3161 signed timestamps as Sigstore bundles carry them
//! (`verificationMaterial.timestampVerificationData.rfc3161Timestamps[].signedTimestamp`: the DER
//! TimeStampResp of RFC 3161 §2.4.2, or a bare TimeStampToken), verified against the timestamp
//! authorities of a Sigstore trusted root (`timestampAuthorities[]`).
//!
//! A token verifies when, in this order (the first failure is reported, [`TimestampError::check`]
//! names it):
//! 1. `parse`: it is DER: a granted TimeStampResp (or a TimeStampToken), a CMS SignedData
//!    (RFC 5652) with one SignerInfo and an id-ct-TSTInfo eContent, a TSTInfo of version 1;
//! 2. `imprint`: the TSTInfo's message imprint (SHA-256/384/512) is the hash of the signature the
//!    token timestamps;
//! 3. `chain`: the signer (SignerInfo sid) is the leaf certificate of a trusted authority, a
//!    certificate the token embeds for that sid is that very certificate, and the authority's
//!    chain verifies certificate by certificate up to a self-signed root;
//! 4. `signature`: the signed attributes carry content-type id-ct-TSTInfo, the message digest of
//!    the eContent and (where present) the ESSCertIDv2 hash of the leaf, and their DER verifies
//!    under the leaf's key (ECDSA P-256/P-384, RSA PKCS#1 v1.5, Ed25519);
//! 5. `eku`: the leaf is an end entity whose only extended key usage is id-kp-timeStamping, marked
//!    critical (RFC 3161 §2.3); an intermediate restricts no usage or allows timestamping;
//! 6. `validity`: genTime lies within every certificate's validity and within the authority's
//!    `validFor` (a closed interval, as protobuf-specs' TimeRange).
//!
//! These are the checks of sigstore/timestamp-authority's `VerifyTimestampResponse` plus
//! sigstore-go's `validFor` check. Nothing here reads a clock: the token's genTime is the time.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{Any, ObjectIdentifier, OctetString};
use der::{Decode, Encode, Sequence, Tag, Tagged};
use ring::signature::{self as sig, UnparsedPublicKey};
use serde_json::Value;
use sha2::{Digest as _, Sha256, Sha384, Sha512};
use std::fmt;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, SubjectKeyIdentifier};
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_tsp::{MessageImprint, TimeStampResp};

/// Largest token accepted (real ones are 0.5 to 6 KiB; FreeTSA's with its chain is the largest).
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;
/// Most certificates in one authority's chain, and in one token.
pub const MAX_CHAIN_CERTS: usize = 10;
/// Largest certificate accepted in a chain.
pub const MAX_CERT_BYTES: usize = 16 * 1024;
/// Most timestamp authorities read from one trusted root.
pub const MAX_AUTHORITIES: usize = 100;

const OID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const OID_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const OID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const OID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const OID_SIGNING_CERTIFICATE_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const OID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const OID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const OID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const OID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const OID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const OID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const OID_ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const OID_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_RSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const OID_RSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const OID_RSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const OID_ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const OID_EXT_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const OID_EXT_EKU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const OID_EXT_SKI: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
const OID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
const OID_ANY_EKU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37.0");

/// A point in time: seconds since the epoch and nanoseconds within the second (genTime and
/// `validFor` may carry fractions; a comparison at whole seconds could let a late token through).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant {
    pub secs: i64,
    pub nanos: u32,
}

impl Instant {
    pub fn from_secs(secs: i64) -> Instant {
        Instant { secs, nanos: 0 }
    }
}

impl fmt::Display for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.secs.div_euclid(86_400);
        let rem = self.secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        write!(f, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60)?;
        if self.nanos != 0 {
            let frac = format!("{:09}", self.nanos);
            write!(f, ".{}", frac.trim_end_matches('0'))?;
        }
        f.write_str("Z")
    }
}

/// A timestamp authority of a trusted root: its certificate chain (leaf first, root last, DER)
/// and the closed interval `validFor` during which the root trusts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampAuthority {
    /// For display: the trusted root's `subject` ("O=sigstore.dev, CN=sigstore-tsa-selfsigned").
    pub subject: String,
    pub uri: Option<String>,
    /// DER certificates, leaf first; 1 to [`MAX_CHAIN_CERTS`] of them.
    pub chain: Vec<Vec<u8>>,
    pub valid_from: Instant,
    /// None: no end.
    pub valid_until: Option<Instant>,
}

/// What a verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedTimestamp {
    /// TSTInfo genTime: the authenticated signing time.
    pub gen_time: Instant,
    /// Index of the authority (in the slice given) whose leaf signed the token.
    pub authority: usize,
    pub tsa_subject: String,
    pub tsa_uri: Option<String>,
    /// "sha256", "sha384" or "sha512": the message imprint's hash.
    pub imprint_algorithm: &'static str,
    /// TSTInfo serialNumber (big-endian, as encoded).
    pub serial_number: Vec<u8>,
}

/// Why a token or an authority was rejected. [`TimestampError::check`] names the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimestampError {
    TooLong { what: &'static str, got: usize, limit: usize },
    /// Not the DER structure RFC 3161 / RFC 5652 define; `what` names the part.
    Parse { what: &'static str, detail: String },
    /// A TimeStampResp whose status is not granted (0) or grantedWithMods (1).
    NotGranted { status: String },
    Unsupported { what: &'static str, got: String },
    /// The message imprint is not the hash of the timestamped signature.
    Imprint { algorithm: &'static str, token: String, expected: String },
    /// No trusted authority's leaf certificate is the token's signer.
    UntrustedSigner { sid: String },
    /// A certificate chain does not verify; `index` is the certificate (0 = leaf).
    Chain { index: usize, detail: String },
    /// The signed attributes or the signature over them are wrong.
    Signature { detail: String },
    Eku { detail: String },
    /// genTime outside a certificate's validity or the authority's validFor.
    Validity { detail: String },
    /// A trusted root's timestampAuthorities entry that is not well formed; `path` is its JSON path.
    BadAuthority { path: String, detail: String },
}

impl TimestampError {
    /// The check that failed: "parse", "imprint", "chain", "signature", "eku", "validity" or
    /// "trusted root" (a malformed authority).
    pub fn check(&self) -> &'static str {
        match self {
            TimestampError::TooLong { .. }
            | TimestampError::Parse { .. }
            | TimestampError::NotGranted { .. }
            | TimestampError::Unsupported { .. } => "parse",
            TimestampError::Imprint { .. } => "imprint",
            TimestampError::UntrustedSigner { .. } | TimestampError::Chain { .. } => "chain",
            TimestampError::Signature { .. } => "signature",
            TimestampError::Eku { .. } => "eku",
            TimestampError::Validity { .. } => "validity",
            TimestampError::BadAuthority { .. } => "trusted root",
        }
    }
}

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use TimestampError::*;
        match self {
            TooLong { what, got, limit } => write!(f, "timestamp parse: {what} is {got}, over the limit of {limit}"),
            Parse { what, detail } => write!(f, "timestamp parse: {what}: {detail}"),
            NotGranted { status } => write!(f, "timestamp parse: the TimeStampResp status is {status}, not granted"),
            Unsupported { what, got } => write!(f, "timestamp parse: unsupported {what} {got}"),
            Imprint { algorithm, token, expected } => write!(
                f,
                "timestamp imprint: the token's {algorithm} message imprint {token} is not the hash of the signature ({expected})"
            ),
            UntrustedSigner { sid } => {
                write!(f, "timestamp chain: the signer ({sid}) is no trusted timestamp authority's certificate")
            }
            Chain { index, detail } => write!(f, "timestamp chain: certificate {index}: {detail}"),
            Signature { detail } => write!(f, "timestamp signature: {detail}"),
            Eku { detail } => write!(f, "timestamp eku: {detail}"),
            Validity { detail } => write!(f, "timestamp validity: {detail}"),
            BadAuthority { path, detail } => write!(f, "trusted root: {path}: {detail}"),
        }
    }
}

impl std::error::Error for TimestampError {}

fn parse_err(what: &'static str, e: impl fmt::Display) -> TimestampError {
    TimestampError::Parse { what, detail: e.to_string() }
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

/// TSTInfo (RFC 3161 §2.4.2) with genTime kept as raw DER: RFC 3161 allows fractional seconds,
/// which der's GeneralizedTime refuses.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct TstInfo {
    version: u8,
    policy: ObjectIdentifier,
    message_imprint: MessageImprint,
    serial_number: der::asn1::Int,
    gen_time: Any,
    #[asn1(optional = "true")]
    accuracy: Option<x509_tsp::Accuracy>,
    #[asn1(default = "Default::default")]
    ordering: bool,
    #[asn1(optional = "true")]
    nonce: Option<der::asn1::Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    tsa: Option<Any>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    extensions: Option<x509_cert::ext::Extensions>,
}

/// SigningCertificateV2 (RFC 5035 §3): the hash of the signer's certificate, signed along.
#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
    #[asn1(optional = "true")]
    policies: Option<Any>,
}

#[derive(Clone, Debug, Eq, PartialEq, Sequence)]
struct EssCertIdV2 {
    /// Absent means SHA-256.
    #[asn1(optional = "true")]
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    #[asn1(optional = "true")]
    issuer_serial: Option<Any>,
}

/// A parsed (not yet verified) timestamp token.
#[derive(Debug, Clone)]
pub struct ParsedTimestamp {
    pub gen_time: Instant,
    pub imprint_algorithm: &'static str,
    pub hashed_message: Vec<u8>,
    pub serial_number: Vec<u8>,
    pub policy: String,
    /// DER of the certificates the token embeds (often none).
    pub embedded_certs: Vec<Vec<u8>>,
    /// The eContent bytes (the DER TSTInfo), which the message-digest attribute covers.
    econtent: Vec<u8>,
    signer: SignerInfo,
}

/// Parses a TimeStampResp (what Sigstore bundles hold) or a bare TimeStampToken (CMS ContentInfo).
pub fn parse_timestamp(token: &[u8]) -> Result<ParsedTimestamp, TimestampError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TimestampError::TooLong { what: "the token", got: token.len(), limit: MAX_TOKEN_BYTES });
    }
    // TimeStampResp starts with the PKIStatusInfo SEQUENCE, a ContentInfo with its content-type OID.
    let content_info = match ContentInfo::from_der(token) {
        Ok(ci) => ci,
        Err(ci_err) => {
            let resp = TimeStampResp::from_der(token).map_err(|e| {
                parse_err("the token is neither a TimeStampResp nor a TimeStampToken", format!("{e}; as a token: {ci_err}"))
            })?;
            let status = resp.status.status as u8;
            if status > 1 {
                return Err(TimestampError::NotGranted { status: format!("{:?} ({status})", resp.status.status) });
            }
            resp.time_stamp_token.ok_or_else(|| parse_err("TimeStampResp", "a granted response without a timeStampToken"))?
        }
    };
    if content_info.content_type != OID_SIGNED_DATA {
        return Err(TimestampError::Unsupported {
            what: "token content type",
            got: content_info.content_type.to_string(),
        });
    }
    let sd_der = content_info.content.to_der().map_err(|e| parse_err("SignedData", e))?;
    let sd = SignedData::from_der(&sd_der).map_err(|e| parse_err("SignedData", e))?;
    if sd.encap_content_info.econtent_type != OID_TST_INFO {
        return Err(TimestampError::Unsupported {
            what: "eContent type",
            got: sd.encap_content_info.econtent_type.to_string(),
        });
    }
    let econtent = sd
        .encap_content_info
        .econtent
        .as_ref()
        .ok_or_else(|| parse_err("SignedData", "no eContent (a detached TSTInfo)"))?;
    if econtent.tag() != Tag::OctetString {
        return Err(parse_err("eContent", format!("{} where an OCTET STRING belongs", econtent.tag())));
    }
    let econtent = econtent.value().to_vec();
    let tst = TstInfo::from_der(&econtent).map_err(|e| parse_err("TSTInfo", e))?;
    if tst.version != 1 {
        return Err(TimestampError::Unsupported { what: "TSTInfo version", got: tst.version.to_string() });
    }
    let imprint_algorithm = match hash_name(&tst.message_imprint.hash_algorithm.oid) {
        Some(name) => name,
        None => {
            return Err(TimestampError::Unsupported {
                what: "message imprint hash algorithm (SHA-256, SHA-384 or SHA-512)",
                got: tst.message_imprint.hash_algorithm.oid.to_string(),
            })
        }
    };
    check_null_params(tst.message_imprint.hash_algorithm.parameters.as_ref(), "message imprint hash algorithm")?;
    let gen_time = generalized_time(&tst.gen_time)?;
    let mut signers = sd.signer_infos.0.into_vec();
    if signers.len() != 1 {
        return Err(parse_err("SignedData", format!("{} SignerInfos; a timestamp token has exactly one", signers.len())));
    }
    let signer = signers.remove(0);
    // RFC 5652 5.1: digestAlgorithms lists the signers' digest algorithms.
    if !sd.digest_algorithms.iter().any(|a| a.oid == signer.digest_alg.oid) {
        return Err(parse_err("SignedData", "the signer's digest algorithm is not in digestAlgorithms"));
    }
    let mut embedded_certs = Vec::new();
    if let Some(set) = &sd.certificates {
        if set.0.len() > MAX_CHAIN_CERTS {
            return Err(TimestampError::TooLong {
                what: "the token's certificate count",
                got: set.0.len(),
                limit: MAX_CHAIN_CERTS,
            });
        }
        for c in set.0.iter() {
            if let CertificateChoices::Certificate(cert) = c {
                embedded_certs.push(cert.to_der().map_err(|e| parse_err("embedded certificate", e))?);
            }
        }
    }
    Ok(ParsedTimestamp {
        gen_time,
        imprint_algorithm,
        hashed_message: tst.message_imprint.hashed_message.as_bytes().to_vec(),
        serial_number: tst.serial_number.as_bytes().to_vec(),
        policy: tst.policy.to_string(),
        embedded_certs,
        econtent,
        signer,
    })
}

fn hash_name(oid: &ObjectIdentifier) -> Option<&'static str> {
    match *oid {
        OID_SHA256 => Some("sha256"),
        OID_SHA384 => Some("sha384"),
        OID_SHA512 => Some("sha512"),
        _ => None,
    }
}

fn digest(name: &str, data: &[u8]) -> Vec<u8> {
    match name {
        "sha384" => Sha384::digest(data).to_vec(),
        "sha512" => Sha512::digest(data).to_vec(),
        _ => Sha256::digest(data).to_vec(),
    }
}

/// Hash AlgorithmIdentifiers carry absent or NULL parameters (RFC 5754 §2).
fn check_null_params(p: Option<&Any>, what: &'static str) -> Result<(), TimestampError> {
    match p {
        None => Ok(()),
        Some(a) if a.tag() == Tag::Null && a.value().is_empty() => Ok(()),
        Some(a) => Err(parse_err(what, format!("parameters must be absent or NULL, got {}", a.tag()))),
    }
}

/// GeneralizedTime `YYYYMMDDHHMMSS[.f+]Z` (X.690 §11.7: UTC, no trailing zeros in the fraction).
fn generalized_time(any: &Any) -> Result<Instant, TimestampError> {
    if any.tag() != Tag::GeneralizedTime {
        return Err(parse_err("TSTInfo genTime", format!("{} where a GeneralizedTime belongs", any.tag())));
    }
    let bad = || parse_err("TSTInfo genTime", "not YYYYMMDDHHMMSS[.fraction]Z");
    let s = std::str::from_utf8(any.value()).map_err(|_| bad())?;
    let s = s.strip_suffix('Z').ok_or_else(bad)?;
    let (main, frac) = match s.split_once('.') {
        Some((m, f)) => (m, Some(f)),
        None => (s, None),
    };
    if main.len() != 14 || !main.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, TimestampError> {
        main.get(r).and_then(|t| t.parse::<i64>().ok()).ok_or_else(bad)
    };
    let nanos = match frac {
        None => 0,
        Some(f) => {
            if f.is_empty() || f.len() > 9 || f.ends_with('0') || !f.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let padded = format!("{f:0<9}");
            padded.parse::<u32>().map_err(|_| bad())?
        }
    };
    let secs = civil_to_unix(num(0..4)?, num(4..6)?, num(6..8)?, num(8..10)?, num(10..12)?, num(12..14)?).ok_or_else(bad)?;
    Ok(Instant { secs, nanos })
}

/// Seconds since the epoch of a proleptic Gregorian UTC time; None for an impossible date.
fn civil_to_unix(y: i64, m: i64, d: i64, hh: i64, mm: i64, ss: i64) -> Option<i64> {
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let max_day = *month_days.get(usize::try_from(m - 1).ok()?)?;
    // Second 60 is a leap second: Go and RustCrypto refuse it too.
    if d < 1 || d > max_day || hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let yy = if m <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss)
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// RFC 3339 as protobuf JSON writes a Timestamp: `YYYY-MM-DDTHH:MM:SS[.f]` then `Z` or `±HH:MM`.
pub fn parse_rfc3339(s: &str) -> Option<Instant> {
    let b = s.as_bytes();
    if b.len() < 20 || b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !matches!(b.get(10), Some(b'T' | b't'))
        || b.get(13) != Some(&b':') || b.get(16) != Some(&b':')
    {
        return None;
    }
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        if t.bytes().all(|c| c.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    let mut rest = s.get(19..)?;
    let mut nanos = 0u32;
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || n > 9 {
            return None;
        }
        nanos = format!("{:0<9}", r.get(..n)?).parse().ok()?;
        rest = r.get(n..)?;
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let ob = rest.as_bytes();
            if ob.len() != 6 || ob.get(3) != Some(&b':') {
                return None;
            }
            let sign = match ob.first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return None,
            };
            let h: i64 = rest.get(1..3)?.parse().ok()?;
            let m: i64 = rest.get(4..6)?.parse().ok()?;
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
    };
    let secs = civil_to_unix(digits(0..4)?, digits(5..7)?, digits(8..10)?, digits(11..13)?, digits(14..16)?, digits(17..19)?)?;
    Some(Instant { secs: secs - offset, nanos })
}

// ---------------------------------------------------------------------------------------------
// Trusted root
// ---------------------------------------------------------------------------------------------

/// The `timestampAuthorities[]` of a Sigstore trusted root (none when it has the field not).
pub fn parse_trusted_root_authorities(root: &Value) -> Result<Vec<TimestampAuthority>, TimestampError> {
    let bad = |path: String, detail: &str| TimestampError::BadAuthority { path, detail: detail.to_string() };
    let obj = root.as_object().ok_or_else(|| bad("$".into(), "a trusted root is a JSON object"))?;
    let list = match obj.get("timestampAuthorities") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(bad("timestampAuthorities".into(), "must be an array")),
    };
    if list.len() > MAX_AUTHORITIES {
        return Err(TimestampError::TooLong { what: "timestampAuthorities", got: list.len(), limit: MAX_AUTHORITIES });
    }
    list.iter()
        .enumerate()
        .map(|(i, a)| TimestampAuthority::from_json(a, &format!("timestampAuthorities[{i}]")))
        .collect()
}

impl TimestampAuthority {
    /// One `timestampAuthorities[i]` (protobuf-specs CertificateAuthority); `path` names it in errors.
    pub fn from_json(v: &Value, path: &str) -> Result<TimestampAuthority, TimestampError> {
        let bad = |p: &str, detail: String| TimestampError::BadAuthority { path: format!("{path}.{p}"), detail };
        let o = v.as_object().ok_or_else(|| TimestampError::BadAuthority {
            path: path.to_string(),
            detail: "must be an object".into(),
        })?;
        let subject = match o.get("subject") {
            Some(Value::Object(s)) => {
                let mut parts = Vec::new();
                if let Some(Value::String(org)) = s.get("organization") {
                    parts.push(format!("O={org}"));
                }
                if let Some(Value::String(cn)) = s.get("commonName") {
                    parts.push(format!("CN={cn}"));
                }
                parts.join(", ")
            }
            _ => String::new(),
        };
        let uri = match o.get("uri") {
            Some(Value::String(u)) if !u.is_empty() => Some(u.clone()),
            _ => None,
        };
        let certs = o
            .get("certChain")
            .and_then(|c| c.get("certificates"))
            .and_then(Value::as_array)
            .ok_or_else(|| bad("certChain.certificates", "missing or not an array".into()))?;
        if certs.is_empty() {
            return Err(bad("certChain.certificates", "empty: an authority needs its certificate".into()));
        }
        if certs.len() > MAX_CHAIN_CERTS {
            return Err(TimestampError::TooLong { what: "a certificate chain", got: certs.len(), limit: MAX_CHAIN_CERTS });
        }
        let mut chain = Vec::with_capacity(certs.len());
        for (i, c) in certs.iter().enumerate() {
            let p = format!("certChain.certificates[{i}].rawBytes");
            let raw = c.get("rawBytes").and_then(Value::as_str).ok_or_else(|| bad(&p, "missing or not a string".into()))?;
            if raw.len() > MAX_CERT_BYTES * 4 / 3 + 4 {
                return Err(TimestampError::TooLong { what: "a certificate", got: raw.len(), limit: MAX_CERT_BYTES });
            }
            let der = STANDARD.decode(raw).map_err(|e| bad(&p, format!("not base64: {e}")))?;
            Certificate::from_der(&der).map_err(|e| bad(&p, format!("not an X.509 certificate: {e}")))?;
            chain.push(der);
        }
        let vf = o.get("validFor").and_then(Value::as_object);
        let start = vf
            .and_then(|v| v.get("start"))
            .and_then(Value::as_str)
            .ok_or_else(|| bad("validFor.start", "missing: an authority must say from when it is trusted".into()))?;
        let valid_from = parse_rfc3339(start).ok_or_else(|| bad("validFor.start", format!("{start:?} is not RFC 3339")))?;
        let valid_until = match vf.and_then(|v| v.get("end")) {
            None | Some(Value::Null) => None,
            Some(Value::String(end)) => {
                Some(parse_rfc3339(end).ok_or_else(|| bad("validFor.end", format!("{end:?} is not RFC 3339")))?)
            }
            Some(_) => return Err(bad("validFor.end", "not a string".into())),
        };
        Ok(TimestampAuthority { subject, uri, chain, valid_from, valid_until })
    }
}

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

/// Verifies `token` as a timestamp over `signature` (the bundle's message signature or DSSE
/// signature bytes) under one of `authorities`.
pub fn verify_timestamp(
    token: &[u8],
    signature: &[u8],
    authorities: &[TimestampAuthority],
) -> Result<VerifiedTimestamp, TimestampError> {
    let ts = parse_timestamp(token)?;
    verify_parsed(&ts, signature, authorities)
}

/// [`verify_timestamp`] of a token already parsed.
pub fn verify_parsed(
    ts: &ParsedTimestamp,
    signature: &[u8],
    authorities: &[TimestampAuthority],
) -> Result<VerifiedTimestamp, TimestampError> {
    // 2. imprint
    let expected = digest(ts.imprint_algorithm, signature);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(expected.as_slice(), ts.hashed_message.as_slice())) {
        return Err(TimestampError::Imprint {
            algorithm: ts.imprint_algorithm,
            token: hex::encode(&ts.hashed_message),
            expected: hex::encode(&expected),
        });
    }
    // 3. the signer is a trusted authority's leaf: the first authority whose leaf is the sid.
    let mut last_err = None;
    for (i, tsa) in authorities.iter().enumerate() {
        match verify_with_authority(ts, tsa) {
            Ok(()) => {
                return Ok(VerifiedTimestamp {
                    gen_time: ts.gen_time,
                    authority: i,
                    tsa_subject: tsa.subject.clone(),
                    tsa_uri: tsa.uri.clone(),
                    imprint_algorithm: ts.imprint_algorithm,
                    serial_number: ts.serial_number.clone(),
                })
            }
            Err(None) => {}
            // An authority whose leaf is the signer decides; a later one with the same leaf may
            // still verify (a root lists a rotated TSA twice with other validFor windows).
            Err(Some(e)) => {
                if last_err.is_none() {
                    last_err = Some(e);
                }
            }
        }
    }
    Err(last_err.unwrap_or_else(|| TimestampError::UntrustedSigner { sid: sid_display(&ts.signer.sid) }))
}

/// Most timestamps read from one bundle (sigstore-python refuses more than 32).
pub const MAX_BUNDLE_TIMESTAMPS: usize = 32;

/// The DER tokens of a bundle's `verificationMaterial.timestampVerificationData.rfc3161Timestamps[]`
/// (none when absent). Base64 is decoded as Go's protojson does: CR and LF are skipped.
pub fn bundle_timestamps(bundle: &Value) -> Result<Vec<Vec<u8>>, TimestampError> {
    let list = match bundle
        .get("verificationMaterial")
        .and_then(|vm| vm.get("timestampVerificationData"))
        .and_then(|t| t.get("rfc3161Timestamps"))
    {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(parse_err("rfc3161Timestamps", "not an array")),
    };
    if list.len() > MAX_BUNDLE_TIMESTAMPS {
        return Err(TimestampError::TooLong { what: "rfc3161Timestamps", got: list.len(), limit: MAX_BUNDLE_TIMESTAMPS });
    }
    let mut out = Vec::with_capacity(list.len());
    for t in list {
        let text = t
            .get("signedTimestamp")
            .and_then(Value::as_str)
            .ok_or_else(|| parse_err("rfc3161Timestamps[].signedTimestamp", "missing or not a string"))?;
        if text.len() > MAX_TOKEN_BYTES * 2 {
            return Err(TimestampError::TooLong { what: "a signedTimestamp", got: text.len(), limit: MAX_TOKEN_BYTES });
        }
        let compact: Vec<u8> = text.bytes().filter(|b| *b != b'\n' && *b != b'\r').collect();
        out.push(STANDARD.decode(compact).map_err(|e| parse_err("rfc3161Timestamps[].signedTimestamp", format!("not base64: {e}")))?);
    }
    Ok(out)
}

/// Verifies `token` over whichever of an entry's signatures its imprint names (the body's
/// signatures: one for hashedrekord, one per signer for DSSE). The imprint error, when none
/// matches, names the first signature.
pub fn verify_for_signatures(
    token: &[u8],
    signatures: &[&[u8]],
    authorities: &[TimestampAuthority],
) -> Result<VerifiedTimestamp, TimestampError> {
    let ts = parse_timestamp(token)?;
    let matching = signatures.iter().find(|s| {
        let h = digest(ts.imprint_algorithm, s);
        bool::from(subtle::ConstantTimeEq::ct_eq(h.as_slice(), ts.hashed_message.as_slice()))
    });
    let signature = matching.or(signatures.first()).copied().unwrap_or_default();
    verify_parsed(&ts, signature, authorities)
}

fn sid_display(sid: &SignerIdentifier) -> String {
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(is) => {
            format!("issuer {}, serial {}", is.issuer, hex::encode(is.serial_number.as_bytes()))
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => format!("subject key id {}", hex::encode(ski.0.as_bytes())),
    }
}

/// Ok: verified under this authority. Err(None): its leaf is not the signer. Err(Some): it is,
/// and a check failed.
fn verify_with_authority(ts: &ParsedTimestamp, tsa: &TimestampAuthority) -> Result<(), Option<TimestampError>> {
    let chain_err = |index: usize, detail: String| Some(TimestampError::Chain { index, detail });
    let mut certs = Vec::with_capacity(tsa.chain.len() + 1);
    for (i, der) in tsa.chain.iter().enumerate() {
        certs.push(Certificate::from_der(der).map_err(|e| chain_err(i, format!("not an X.509 certificate: {e}")))?);
    }
    let first = certs.first().ok_or_else(|| chain_err(0, "the authority has no certificate".into()))?;
    // As sigstore-go: a chain that starts with a CA names no leaf; the token must embed it.
    let leaf_der: Vec<u8> = if is_ca(first).map_err(|d| chain_err(0, d))? {
        let embedded = ts
            .embedded_certs
            .iter()
            .find(|der| Certificate::from_der(der).is_ok_and(|c| is_signer(&c, &ts.signer.sid)))
            .ok_or(None)?;
        let c = Certificate::from_der(embedded).map_err(|e| chain_err(0, e.to_string()))?;
        certs.insert(0, c);
        embedded.clone()
    } else {
        if !is_signer(first, &ts.signer.sid) {
            return Err(None);
        }
        let leaf_der = tsa.chain.first().ok_or(None)?.clone();
        // A certificate embedded for this sid must be the trusted one, not a look-alike.
        for emb in &ts.embedded_certs {
            if let Ok(c) = Certificate::from_der(emb) {
                if is_signer(&c, &ts.signer.sid) && *emb != leaf_der {
                    return Err(chain_err(0, "the certificate the token embeds for its signer is not the trusted root's".into()));
                }
            }
        }
        leaf_der
    };
    let leaf = certs.first().ok_or(None)?;
    if certs.len() > MAX_CHAIN_CERTS + 1 {
        return Err(chain_err(0, format!("{} certificates, over the limit of {MAX_CHAIN_CERTS}", certs.len())));
    }
    // 3. chain, signature by signature, to a self-signed root.
    for i in 0..certs.len() {
        let (cert, issuer) = match (certs.get(i), certs.get(i + 1).or(certs.get(i))) {
            (Some(c), Some(p)) => (c, p),
            _ => return Err(chain_err(i, "missing".into())),
        };
        if cert.tbs_certificate.issuer != issuer.tbs_certificate.subject {
            return Err(chain_err(
                i,
                format!("issuer {} is not the next certificate's subject {}", cert.tbs_certificate.issuer, issuer.tbs_certificate.subject),
            ));
        }
        if i > 0 && !is_ca(cert).map_err(|d| chain_err(i, d))? {
            return Err(chain_err(i, "an issuing certificate must be a CA (basicConstraints cA)".into()));
        }
        let tbs = cert.tbs_certificate.to_der().map_err(|e| chain_err(i, e.to_string()))?;
        let alg = &cert.signature_algorithm;
        if cert.tbs_certificate.signature != *alg {
            return Err(chain_err(i, "the signature algorithm inside and outside the TBS differ".into()));
        }
        let sig_bytes = cert.signature.as_bytes().ok_or_else(|| chain_err(i, "signature BIT STRING has unused bits".into()))?;
        let what = if i + 1 < certs.len() { "the next certificate" } else { "itself (the root)" };
        verify_signature(issuer, &alg.oid, None, &tbs, sig_bytes)
            .map_err(|d| chain_err(i, format!("its signature does not verify under {what}: {d}")))?;
    }
    // 4. signed attributes and the signature over them.
    let sig_err = |detail: String| Some(TimestampError::Signature { detail });
    let si = &ts.signer;
    let digest_alg = hash_name(&si.digest_alg.oid).ok_or_else(|| {
        Some(TimestampError::Unsupported { what: "SignerInfo digest algorithm", got: si.digest_alg.oid.to_string() })
    })?;
    let attrs = si.signed_attrs.as_ref().ok_or_else(|| sig_err("the SignerInfo has no signed attributes".into()))?;
    let single = |oid: ObjectIdentifier, name: &str| -> Result<&Any, Option<TimestampError>> {
        let mut found = attrs.iter().filter(|a| a.oid == oid);
        let a = found.next().ok_or_else(|| sig_err(format!("no {name} signed attribute")))?;
        if found.next().is_some() || a.values.len() != 1 {
            return Err(sig_err(format!("the {name} attribute must occur once with one value")));
        }
        a.values.get(0).ok_or_else(|| sig_err(format!("empty {name} attribute")))
    };
    let ct = single(OID_CONTENT_TYPE, "content-type")?
        .decode_as::<ObjectIdentifier>()
        .map_err(|e| sig_err(format!("content-type attribute: {e}")))?;
    if ct != OID_TST_INFO {
        return Err(sig_err(format!("the content-type attribute is {ct}, not id-ct-TSTInfo")));
    }
    let md = single(OID_MESSAGE_DIGEST, "message-digest")?
        .decode_as::<OctetString>()
        .map_err(|e| sig_err(format!("message-digest attribute: {e}")))?;
    let econtent_digest = digest(digest_alg, &ts.econtent);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(md.as_bytes(), econtent_digest.as_slice())) {
        return Err(sig_err(format!(
            "the message-digest attribute {} is not the {digest_alg} of the TSTInfo ({})",
            hex::encode(md.as_bytes()),
            hex::encode(&econtent_digest)
        )));
    }
    if attrs.iter().any(|a| a.oid == OID_SIGNING_CERTIFICATE_V2) {
        let v = single(OID_SIGNING_CERTIFICATE_V2, "signingCertificateV2")?;
        let scv2 = v.decode_as::<SigningCertificateV2>().map_err(|e| sig_err(format!("signingCertificateV2: {e}")))?;
        let first = scv2.certs.first().ok_or_else(|| sig_err("signingCertificateV2 names no certificate".into()))?;
        let alg = match &first.hash_algorithm {
            None => "sha256",
            Some(a) => hash_name(&a.oid).ok_or_else(|| {
                sig_err(format!("signingCertificateV2 hash algorithm {} is not SHA-256/384/512", a.oid))
            })?,
        };
        let h = digest(alg, &leaf_der);
        if first.cert_hash.as_bytes() != h.as_slice() {
            return Err(sig_err(format!(
                "the signingCertificateV2 hash {} is not the {alg} of the TSA certificate ({})",
                hex::encode(first.cert_hash.as_bytes()),
                hex::encode(&h)
            )));
        }
    }
    let signed = attrs.to_der().map_err(|e| sig_err(e.to_string()))?;
    verify_signature(leaf, &si.signature_algorithm.oid, Some(digest_alg), &signed, si.signature.as_bytes())
        .map_err(|d| sig_err(format!("the signature over the signed attributes does not verify under the TSA certificate: {d}")))?;
    // 5. EKU: the leaf is an end entity for timestamping only; intermediates allow it.
    check_leaf_eku(leaf).map_err(Some)?;
    for (i, c) in certs.iter().enumerate().skip(1).take(certs.len().saturating_sub(2)) {
        if let Some((_, ekus)) = eku(c).map_err(|d| chain_err(i, d))? {
            if !ekus.iter().any(|o| *o == OID_KP_TIME_STAMPING || *o == OID_ANY_EKU) {
                return Err(Some(TimestampError::Eku { detail: format!("intermediate certificate {i} does not allow timestamping") }));
            }
        }
    }
    // 6. validity: at genTime every certificate was valid and the root trusted the authority.
    let t = ts.gen_time;
    for (i, c) in certs.iter().enumerate() {
        let v = &c.tbs_certificate.validity;
        let nb = Instant::from_secs(secs(v.not_before.to_unix_duration()));
        let na = Instant::from_secs(secs(v.not_after.to_unix_duration()));
        if t < nb || t > na {
            return Err(Some(TimestampError::Validity {
                detail: format!("genTime {t} is outside certificate {i}'s validity [{nb}, {na}]"),
            }));
        }
    }
    if t < tsa.valid_from || tsa.valid_until.is_some_and(|end| t > end) {
        return Err(Some(TimestampError::Validity {
            detail: format!(
                "genTime {t} is outside the trusted root's validFor [{}, {}] of {}",
                tsa.valid_from,
                tsa.valid_until.map_or("open".to_string(), |e| e.to_string()),
                if tsa.subject.is_empty() { "the authority" } else { tsa.subject.as_str() }
            ),
        }));
    }
    Ok(())
}

/// RFC 3161 §2.3: the TSA certificate is an end entity whose extended key usage is critical and
/// id-kp-timeStamping only.
pub fn check_leaf_eku(leaf: &Certificate) -> Result<(), TimestampError> {
    let eku_err = |detail: String| TimestampError::Eku { detail };
    let chain_err = |detail: String| TimestampError::Chain { index: 0, detail };
    if is_ca(leaf).map_err(chain_err)? {
        return Err(eku_err("the TSA certificate is a CA, not an end entity".into()));
    }
    let (critical, ekus) =
        eku(leaf).map_err(chain_err)?.ok_or_else(|| eku_err("the TSA certificate has no extended key usage".into()))?;
    if !critical {
        return Err(eku_err("the TSA certificate's extended key usage is not critical (RFC 3161 2.3)".into()));
    }
    if ekus != [OID_KP_TIME_STAMPING] {
        let list: Vec<String> = ekus.iter().map(ToString::to_string).collect();
        return Err(eku_err(format!(
            "the TSA certificate's extended key usages are [{}], not only id-kp-timeStamping",
            list.join(", ")
        )));
    }
    Ok(())
}

fn secs(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

fn is_signer(cert: &Certificate, sid: &SignerIdentifier) -> bool {
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(is) => {
            cert.tbs_certificate.issuer == is.issuer && cert.tbs_certificate.serial_number == is.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(want) => extension(cert, OID_EXT_SKI)
            .ok()
            .flatten()
            .and_then(|(_, v)| SubjectKeyIdentifier::from_der(v).ok())
            .is_some_and(|have| have.0.as_bytes() == want.0.as_bytes()),
    }
}

/// The extension's (critical, DER value); an extension present twice is an error (RFC 5280 4.2).
fn extension(cert: &Certificate, oid: ObjectIdentifier) -> Result<Option<(bool, &[u8])>, String> {
    let mut found = None;
    for e in cert.tbs_certificate.extensions.iter().flatten() {
        if e.extn_id == oid {
            if found.is_some() {
                return Err(format!("extension {oid} occurs twice"));
            }
            found = Some((e.critical, e.extn_value.as_bytes()));
        }
    }
    Ok(found)
}

fn is_ca(cert: &Certificate) -> Result<bool, String> {
    match extension(cert, OID_EXT_BASIC_CONSTRAINTS)? {
        None => Ok(false),
        Some((_, v)) => Ok(BasicConstraints::from_der(v).map_err(|e| format!("basicConstraints: {e}"))?.ca),
    }
}

fn eku(cert: &Certificate) -> Result<Option<(bool, Vec<ObjectIdentifier>)>, String> {
    match extension(cert, OID_EXT_EKU)? {
        None => Ok(None),
        Some((critical, v)) => {
            let e = ExtendedKeyUsage::from_der(v).map_err(|e| format!("extendedKeyUsage: {e}"))?;
            Ok(Some((critical, e.0)))
        }
    }
}

/// Verifies `sig` over `msg` under `cert`'s key with the signature algorithm `alg` (for a CMS
/// signer whose algorithm names only the key type, `digest_alg` gives the hash).
fn verify_signature(cert: &Certificate, alg: &ObjectIdentifier, digest_alg: Option<&str>, msg: &[u8], sig_bytes: &[u8]) -> Result<(), String> {
    let spki = &cert.tbs_certificate.subject_public_key_info;
    let key = spki.subject_public_key.as_bytes().ok_or("the public key BIT STRING has unused bits")?;
    let key_alg = spki.algorithm.oid;
    let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
    // The hash the signature algorithm names, which a CMS signer's digestAlgorithm must agree with.
    let named_hash = match *alg {
        OID_ECDSA_SHA256 | OID_RSA_SHA256 => Some("sha256"),
        OID_ECDSA_SHA384 | OID_RSA_SHA384 => Some("sha384"),
        OID_ECDSA_SHA512 | OID_RSA_SHA512 => Some("sha512"),
        _ => None,
    };
    if let (Some(n), Some(d)) = (named_hash, digest_alg) {
        if n != d {
            return Err(format!("signature algorithm {alg} hashes with {n}, the digest algorithm is {d}"));
        }
    }
    let hash = named_hash.or(digest_alg);
    let algorithm: &dyn sig::VerificationAlgorithm = match (key_alg, curve, *alg, hash) {
        (OID_EC_PUBLIC_KEY, Some(OID_P256), OID_ECDSA_SHA256 | OID_EC_PUBLIC_KEY, Some("sha256")) => &sig::ECDSA_P256_SHA256_ASN1,
        (OID_EC_PUBLIC_KEY, Some(OID_P256), OID_ECDSA_SHA384 | OID_EC_PUBLIC_KEY, Some("sha384")) => &sig::ECDSA_P256_SHA384_ASN1,
        (OID_EC_PUBLIC_KEY, Some(OID_P384), OID_ECDSA_SHA256 | OID_EC_PUBLIC_KEY, Some("sha256")) => &sig::ECDSA_P384_SHA256_ASN1,
        (OID_EC_PUBLIC_KEY, Some(OID_P384), OID_ECDSA_SHA384 | OID_EC_PUBLIC_KEY, Some("sha384")) => &sig::ECDSA_P384_SHA384_ASN1,
        (OID_RSA, _, OID_RSA_SHA256 | OID_RSA, Some("sha256")) => &sig::RSA_PKCS1_2048_8192_SHA256,
        (OID_RSA, _, OID_RSA_SHA384 | OID_RSA, Some("sha384")) => &sig::RSA_PKCS1_2048_8192_SHA384,
        (OID_RSA, _, OID_RSA_SHA512 | OID_RSA, Some("sha512")) => &sig::RSA_PKCS1_2048_8192_SHA512,
        (OID_ED25519, _, OID_ED25519, _) => &sig::ED25519,
        (k, c, a, h) => {
            return Err(format!(
                "unsupported key / signature algorithm: key {k}{}, signature {a}{}",
                c.map(|c| format!(" (curve {c})")).unwrap_or_default(),
                h.map(|h| format!(" with {h}")).unwrap_or_default()
            ))
        }
    };
    UnparsedPublicKey::new(algorithm, key).verify(msg, sig_bytes).map_err(|_| "bad signature".to_string())
}

#[cfg(test)]
mod tests;
