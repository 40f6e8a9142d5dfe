//! The signer's verifier that Rekor wants with every submission: a public key (DER
//! SubjectPublicKeyInfo) or an X.509 certificate, as PEM, base64 DER or DER. Parsed strictly, its key
//! type named, and checked against the DSSE envelope it is queued with (a verifier under which no
//! signature verifies could never be logged).
use crate::dsse::Envelope;
use crate::keys::LogKey;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::signature::{UnparsedPublicKey, ECDSA_P384_SHA384_ASN1};
use std::fmt;
use x509_cert::der::{Decode, Encode};
use x509_cert::spki::SubjectPublicKeyInfoRef;
use x509_cert::Certificate;

/// Longest verifier accepted (a certificate chain's leaf is a few KiB).
pub const MAX_VERIFIER_BYTES: usize = 16 * 1024;

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";
const OID_ED25519: &str = "1.3.101.112";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifierKind {
    PublicKey,
    Certificate,
}

impl VerifierKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VerifierKind::PublicKey => "public_key",
            VerifierKind::Certificate => "x509_certificate",
        }
    }
}

/// The signature algorithms a queued envelope may be signed with (what Rekor accepts and rekor_meta
/// can check): ECDSA P-256/SHA-256, ECDSA P-384/SHA-384 (ASN.1 DER signatures), Ed25519.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifierKeyType {
    EcdsaP256,
    EcdsaP384,
    Ed25519,
}

impl VerifierKeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            VerifierKeyType::EcdsaP256 => "ecdsa-p256",
            VerifierKeyType::EcdsaP384 => "ecdsa-p384",
            VerifierKeyType::Ed25519 => "ed25519",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifierError {
    TooLong { got: usize },
    Empty,
    BadPem(&'static str),
    BadBase64(String),
    /// Neither a SubjectPublicKeyInfo nor a certificate; the two DER errors.
    NotSpkiOrCertificate { as_spki: String, as_certificate: String },
    UnsupportedKey { algorithm: String },
    BadKey(String),
}

impl fmt::Display for VerifierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VerifierError::TooLong { got } => write!(f, "verifier is {got} bytes, over the limit of {MAX_VERIFIER_BYTES}"),
            VerifierError::Empty => f.write_str("verifier is empty"),
            VerifierError::BadPem(why) => write!(f, "malformed PEM: {why}"),
            VerifierError::BadBase64(e) => write!(f, "not PEM, base64 DER or DER: {e}"),
            VerifierError::NotSpkiOrCertificate { as_spki, as_certificate } => write!(
                f,
                "neither a SubjectPublicKeyInfo ({as_spki}) nor an X.509 certificate ({as_certificate})"
            ),
            VerifierError::UnsupportedKey { algorithm } => write!(
                f,
                "unsupported key algorithm {algorithm}: supported are ECDSA P-256, ECDSA P-384 and Ed25519"
            ),
            VerifierError::BadKey(e) => write!(f, "invalid public key: {e}"),
        }
    }
}

impl std::error::Error for VerifierError {}

/// A parsed verifier: what was given (DER), its kind, and the key to check signatures with.
#[derive(Debug, Clone)]
pub struct Verifier {
    pub kind: VerifierKind,
    /// The DER of what was given: the SPKI, or the whole certificate.
    pub der: Vec<u8>,
    pub key_type: VerifierKeyType,
    /// DER SubjectPublicKeyInfo (a certificate's subjectPublicKeyInfo).
    pub spki: Vec<u8>,
    /// The raw public key: SEC1 point or 32 Ed25519 bytes.
    raw: Vec<u8>,
    /// P-256 and Ed25519 keys are checked (point on the curve) by the log key parser.
    log_key: Option<LogKey>,
}

/// Parses PEM ("PUBLIC KEY" or "CERTIFICATE"), base64 of DER, or DER bytes.
pub fn parse_verifier(input: &[u8]) -> Result<Verifier, VerifierError> {
    if input.len() > MAX_VERIFIER_BYTES {
        return Err(VerifierError::TooLong { got: input.len() });
    }
    let der = if input.first() == Some(&0x30) {
        input.to_vec()
    } else {
        let text = std::str::from_utf8(input).map_err(|_| VerifierError::BadBase64("neither DER nor UTF-8 text".into()))?;
        let text = text.trim();
        if text.is_empty() {
            return Err(VerifierError::Empty);
        }
        let body = if let Some(rest) = text.strip_prefix("-----BEGIN ") {
            let (label, rest) = rest.split_once("-----").ok_or(VerifierError::BadPem("no end of the BEGIN line"))?;
            if label != "PUBLIC KEY" && label != "CERTIFICATE" {
                return Err(VerifierError::BadPem("the PEM label must be PUBLIC KEY or CERTIFICATE"));
            }
            let end = format!("-----END {label}-----");
            let (body, after) = rest.split_once(end.as_str()).ok_or(VerifierError::BadPem("no matching END line"))?;
            if !after.trim().is_empty() {
                return Err(VerifierError::BadPem("text after the END line (one PEM block only)"));
            }
            body
        } else {
            text
        };
        let compact: Vec<u8> = body.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        STANDARD.decode(&compact).map_err(|e| VerifierError::BadBase64(e.to_string()))?
    };
    if der.is_empty() {
        return Err(VerifierError::Empty);
    }
    match SubjectPublicKeyInfoRef::from_der(&der) {
        Ok(spki) => from_spki(VerifierKind::PublicKey, der.clone(), spki),
        Err(spki_err) => match Certificate::from_der(&der) {
            Ok(cert) => {
                let spki_der = cert
                    .tbs_certificate
                    .subject_public_key_info
                    .to_der()
                    .map_err(|e| VerifierError::BadKey(e.to_string()))?;
                let spki = SubjectPublicKeyInfoRef::from_der(&spki_der).map_err(|e| VerifierError::BadKey(e.to_string()))?;
                let mut v = from_spki(VerifierKind::Certificate, der.clone(), spki)?;
                v.spki = spki_der;
                Ok(v)
            }
            Err(cert_err) => Err(VerifierError::NotSpkiOrCertificate {
                as_spki: spki_err.to_string(),
                as_certificate: cert_err.to_string(),
            }),
        },
    }
}

fn from_spki(kind: VerifierKind, der: Vec<u8>, spki: SubjectPublicKeyInfoRef<'_>) -> Result<Verifier, VerifierError> {
    let alg = spki.algorithm.oid.to_string();
    let curve = spki.algorithm.parameters.as_ref().and_then(|p| p.decode_as::<x509_cert::der::asn1::ObjectIdentifier>().ok());
    let raw = spki.subject_public_key.as_bytes().ok_or_else(|| VerifierError::BadKey("public key BIT STRING has unused bits".into()))?.to_vec();
    let spki_der = spki.to_der().map_err(|e| VerifierError::BadKey(e.to_string()))?;
    let key_type = match (alg.as_str(), curve.map(|c| c.to_string()).as_deref()) {
        (OID_EC_PUBLIC_KEY, Some(OID_P256)) => VerifierKeyType::EcdsaP256,
        (OID_EC_PUBLIC_KEY, Some(OID_P384)) => VerifierKeyType::EcdsaP384,
        (OID_ED25519, _) => VerifierKeyType::Ed25519,
        (a, c) => {
            return Err(VerifierError::UnsupportedKey {
                algorithm: match c {
                    Some(c) => format!("{a} (curve {c})"),
                    None => a.to_string(),
                },
            })
        }
    };
    let log_key = match key_type {
        VerifierKeyType::EcdsaP256 | VerifierKeyType::Ed25519 => {
            Some(LogKey::from_spki_der(&spki_der).map_err(|e| VerifierError::BadKey(e.to_string()))?)
        }
        VerifierKeyType::EcdsaP384 => {
            if raw.len() != 97 || raw.first() != Some(&4) {
                return Err(VerifierError::BadKey(format!(
                    "a P-384 key is a 97-byte uncompressed point, got {} bytes",
                    raw.len()
                )));
            }
            None
        }
    };
    Ok(Verifier { kind, der, key_type, spki: spki_der, raw, log_key })
}

impl Verifier {
    /// Verifies `sig` over `msg` with the key's algorithm (ECDSA signatures are ASN.1 DER).
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        match (&self.log_key, self.key_type) {
            (Some(k), _) => k.verify(msg, sig),
            (None, VerifierKeyType::EcdsaP384) => UnparsedPublicKey::new(&ECDSA_P384_SHA384_ASN1, &self.raw).verify(msg, sig).is_ok(),
            (None, _) => false,
        }
    }

    /// The index of the first envelope signature that verifies over the envelope's PAE.
    pub fn signs(&self, envelope: &Envelope) -> Option<usize> {
        let pae = envelope.pae();
        envelope.signatures.iter().position(|s| self.verify(&pae, &s.sig))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dsse::parse_envelope;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P384_SHA384_ASN1_SIGNING};

    const P256_PREFIX: [u8; 26] = [
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
        0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];
    const P384_PREFIX: [u8; 23] = [
        0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81, 0x04,
        0x00, 0x22, 0x03, 0x62, 0x00,
    ];
    const ED_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

    fn pem(der: &[u8], label: &str) -> String {
        format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", STANDARD.encode(der))
    }

    fn envelope(sig: &[u8], payload: &[u8]) -> Envelope {
        let v = serde_json::json!({"payloadType": "application/vnd.in-toto+json", "payload": STANDARD.encode(payload),
                                   "signatures": [{"sig": STANDARD.encode([1u8, 2, 3])}, {"sig": STANDARD.encode(sig)}]});
        parse_envelope(&v).unwrap()
    }

    fn pae(payload: &[u8]) -> Vec<u8> {
        crate::dsse::pae("application/vnd.in-toto+json", payload)
    }

    #[test]
    fn p256_p384_and_ed25519_keys_verify_the_envelope_they_signed_and_no_other() {
        let rng = SystemRandom::new();
        let payload = b"{\"a\":1}";
        let p256 = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING,
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap().as_ref(), &rng).unwrap();
        let p384 = EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_ASN1_SIGNING,
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_ASN1_SIGNING, &rng).unwrap().as_ref(), &rng).unwrap();
        let ed = Ed25519KeyPair::from_seed_unchecked(&[9u8; 32]).unwrap();
        let cases: Vec<(Vec<u8>, Vec<u8>, VerifierKeyType)> = vec![
            ([&P256_PREFIX[..], p256.public_key().as_ref()].concat(), p256.sign(&rng, &pae(payload)).unwrap().as_ref().to_vec(), VerifierKeyType::EcdsaP256),
            ([&P384_PREFIX[..], p384.public_key().as_ref()].concat(), p384.sign(&rng, &pae(payload)).unwrap().as_ref().to_vec(), VerifierKeyType::EcdsaP384),
            ([&ED_PREFIX[..], ed.public_key().as_ref()].concat(), ed.sign(&pae(payload)).as_ref().to_vec(), VerifierKeyType::Ed25519),
        ];
        for (spki, sig, kt) in cases {
            for input in [pem(&spki, "PUBLIC KEY").into_bytes(), STANDARD.encode(&spki).into_bytes(), spki.clone()] {
                let v = parse_verifier(&input).unwrap_or_else(|e| panic!("{kt:?}: {e}"));
                assert_eq!((v.kind, v.key_type), (VerifierKind::PublicKey, kt));
                assert_eq!(v.spki, spki);
                assert_eq!(v.signs(&envelope(&sig, payload)), Some(1), "{kt:?}");
                assert_eq!(v.signs(&envelope(&sig, b"{\"a\":2}")), None, "{kt:?}: another payload");
            }
        }
    }

    #[test]
    fn malformed_and_unsupported_verifiers_are_refused_naming_why() {
        assert!(matches!(parse_verifier(b""), Err(VerifierError::Empty)));
        assert!(matches!(parse_verifier(b"-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----"), Err(VerifierError::BadPem(_))));
        assert!(matches!(parse_verifier(b"not base64!"), Err(VerifierError::BadBase64(_))));
        assert!(matches!(parse_verifier(&[0x30, 0x03, 0x02, 0x01, 0x01]), Err(VerifierError::NotSpkiOrCertificate { .. })));
        assert!(matches!(parse_verifier(&vec![b'A'; MAX_VERIFIER_BYTES + 1]), Err(VerifierError::TooLong { .. })));
        // An RSA SubjectPublicKeyInfo (rsaEncryption, NULL parameters, a tiny key).
        let rsa = [0x30, 0x1a, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
                   0x03, 0x09, 0x00, 0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x03];
        assert!(matches!(parse_verifier(&rsa), Err(VerifierError::UnsupportedKey { .. })), "{:?}", parse_verifier(&rsa));
        // A P-256 point that is not on the curve.
        let mut bad = P256_PREFIX.to_vec();
        bad.push(4);
        bad.extend_from_slice(&[1u8; 64]);
        assert!(matches!(parse_verifier(&bad), Err(VerifierError::BadKey(_))));
    }

    #[test]
    fn the_real_dsse_bundles_certificate_verifies_its_envelope() {
        let p = format!("{}/../tests/fixtures/upstream/bundle-dsse.sigstore.json", env!("CARGO_MANIFEST_DIR"));
        let b: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        let vm = &b["verificationMaterial"];
        let cert_b64 = vm["certificate"]["rawBytes"]
            .as_str()
            .or_else(|| vm["x509CertificateChain"]["certificates"][0]["rawBytes"].as_str())
            .expect("a certificate");
        let der = STANDARD.decode(cert_b64).unwrap();
        for input in [pem(&der, "CERTIFICATE").into_bytes(), cert_b64.as_bytes().to_vec(), der.clone()] {
            let v = parse_verifier(&input).unwrap();
            assert_eq!((v.kind, v.key_type), (VerifierKind::Certificate, VerifierKeyType::EcdsaP256));
            assert_eq!(v.der, der);
            let env = parse_envelope(&b["dsseEnvelope"]).unwrap();
            assert_eq!(v.signs(&env), Some(0));
        }
        // A PEM labelled PUBLIC KEY that holds a certificate is still a certificate (the DER decides).
        let mut flipped = der.clone();
        let n = flipped.len();
        flipped[n - 10] ^= 1;
        if let Ok(v) = parse_verifier(&flipped) {
            let env = parse_envelope(&b["dsseEnvelope"]).unwrap();
            assert_eq!(v.signs(&env), Some(0), "a flip in the certificate's own signature leaves the key intact");
        }
    }
}

#[cfg(test)]
mod p384_pem_tests {
    use super::*;
    use crate::dsse::parse_envelope;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P384_SHA384_ASN1_SIGNING};

    #[test]
    fn a_p384_envelope_verifies_under_its_chunked_pem() {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap();
        let mut spki = hex::decode("3076301006072a8648ce3d020106052b81040022036200").unwrap();
        spki.extend_from_slice(key.public_key().as_ref());
        let b64 = STANDARD.encode(&spki);
        let lines: Vec<&str> = b64.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
        let pem = format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", lines.join("\n"));
        let payload = r#"{"_type":"https://in-toto.io/Statement/v0.1","subject":[],"predicate":{"n":1}}"#;
        let pt = "application/vnd.in-toto+json";
        let pae = crate::dsse::pae(pt, payload.as_bytes());
        let sig = key.sign(&rng, &pae).unwrap();
        let env = serde_json::json!({"payloadType": pt, "payload": STANDARD.encode(payload.as_bytes()),
                                     "signatures": [{"keyid": "", "sig": STANDARD.encode(sig.as_ref())}]});
        let v = parse_verifier(pem.as_bytes()).unwrap();
        assert_eq!(v.key_type, VerifierKeyType::EcdsaP384);
        assert_eq!(v.signs(&parse_envelope(&env).unwrap()), Some(0));
    }
}
