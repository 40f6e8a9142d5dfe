//! A typed, borrowing parse of the body shapes Sigstore clients write (hashedrekord v0.0.1 and
//! v0.0.2, dsse v0.0.1 and v0.0.2), for the ingest path: no `serde_json::Value` tree and no path
//! strings. It answers only for a body in exactly such a shape (every member known, every string
//! free of escapes, every digest and base64 field valid); anything else is `None`, and
//! `parse_body`'s general parser decides (and names the error). For a body it answers, its result
//! is the general parser's: the oracle test `fast_parse_agrees_with_the_general_parser` pins that.
//! (serde's derived structs also accept a JSON array of the members in order, which the general
//! parser refuses: so a body may hold no `[` but the one of a DSSE signature list.)
use super::{
    b64_field, hex_field, normalize_algorithm, push_signature, Digest, DigestRole, Extractor, ParsedBody,
    MAX_BODY_SIGNATURES,
};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body<'a> {
    #[serde(borrow)]
    kind: &'a str,
    #[serde(rename = "apiVersion", borrow)]
    api_version: &'a str,
    #[serde(borrow)]
    spec: Spec<'a>,
}

/// The members of every shape handled here; a body may use only one shape's (checked below).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec<'a> {
    #[serde(borrow)]
    data: Option<HrData<'a>>,
    #[serde(borrow)]
    signature: Option<HrSignature<'a>>,
    #[serde(rename = "hashedRekordV002", borrow)]
    hashed_rekord_v002: Option<HrV2<'a>>,
    #[serde(rename = "envelopeHash", borrow)]
    envelope_hash: Option<HexHash<'a>>,
    #[serde(rename = "payloadHash", borrow)]
    payload_hash: Option<HexHash<'a>>,
    #[serde(borrow)]
    signatures: Option<Vec<DsseV1Signature<'a>>>,
    #[serde(rename = "dsseV002", borrow)]
    dsse_v002: Option<DsseV2<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HrData<'a> {
    #[serde(borrow)]
    hash: HexHash<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HexHash<'a> {
    algorithm: &'a str,
    value: &'a str,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HrSignature<'a> {
    content: &'a str,
    #[serde(rename = "publicKey", borrow)]
    public_key: Content<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Content<'a> {
    content: &'a str,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HrV2<'a> {
    #[serde(borrow)]
    data: B64Hash<'a>,
    #[serde(borrow)]
    signature: V2Signature<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct B64Hash<'a> {
    algorithm: &'a str,
    digest: &'a str,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct V2Signature<'a> {
    content: &'a str,
    #[serde(borrow)]
    verifier: V2Verifier<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct V2Verifier<'a> {
    #[serde(rename = "publicKey", borrow)]
    public_key: Option<RawBytes<'a>>,
    #[serde(rename = "x509Certificate", borrow)]
    x509_certificate: Option<RawBytes<'a>>,
    #[serde(rename = "keyDetails", borrow)]
    #[allow(dead_code)] // read only so that the shape is complete; the general parser ignores it too
    key_details: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBytes<'a> {
    #[serde(rename = "rawBytes")]
    raw_bytes: &'a str,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DsseV1Signature<'a> {
    signature: &'a str,
    verifier: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DsseV2<'a> {
    #[serde(rename = "payloadHash", borrow)]
    payload_hash: B64Hash<'a>,
    #[serde(borrow)]
    signatures: Vec<V2Signature<'a>>,
}

/// `parse_body` for the shapes above (after `check_json_limits`), or None: ask the general parser.
pub(super) fn parse(body: &[u8]) -> Option<ParsedBody> {
    let brackets = memchr::memchr_iter(b'[', body).count();
    if brackets > 1 {
        return None;
    }
    let b: Body<'_> = serde_json::from_slice(body).ok()?;
    if b.api_version.is_empty() {
        return None;
    }
    let s = &b.spec;
    let mut x = Extractor { strict: true, digests: Vec::new(), signatures: Vec::new(), public_key: None };
    match b.kind {
        "hashedrekord" if brackets == 0 => match (&s.hashed_rekord_v002, &s.data, &s.signature) {
            (None, Some(data), Some(sig)) if none_of_dsse(s) => {
                x.add_digest(Some(hex_hash(&data.hash, DigestRole::Artifact)?));
                let signature = b64(sig.content)?;
                let key = b64(sig.public_key.content)?;
                push_signature(&mut x, Some(signature), Some(key));
            }
            (Some(v2), None, None) if none_of_dsse(s) => {
                x.add_digest(Some(b64_hash(&v2.data, DigestRole::Artifact)?));
                let (signature, key) = v2_signature(&v2.signature)?;
                push_signature(&mut x, Some(signature), Some(key));
            }
            _ => return None,
        },
        // The one `[` is the signature list's (a Vec needs one), so no struct was read from an array.
        "dsse" if brackets == 1 && s.data.is_none() && s.signature.is_none() && s.hashed_rekord_v002.is_none() => {
            match (&s.dsse_v002, &s.payload_hash, &s.envelope_hash, &s.signatures) {
                (None, Some(payload), Some(envelope), Some(list)) if list.len() <= MAX_BODY_SIGNATURES => {
                    x.add_digest(Some(hex_hash(payload, DigestRole::Payload)?));
                    x.add_digest(Some(hex_hash(envelope, DigestRole::Envelope)?));
                    for item in list {
                        let signature = b64(item.signature)?;
                        let key = match item.verifier {
                            Some(v) => Some(b64(v)?),
                            None => None,
                        };
                        push_signature(&mut x, Some(signature), key);
                    }
                }
                (Some(v2), None, None, None) if v2.signatures.len() <= MAX_BODY_SIGNATURES => {
                    x.add_digest(Some(b64_hash(&v2.payload_hash, DigestRole::Payload)?));
                    for item in &v2.signatures {
                        let (signature, key) = v2_signature(item)?;
                        push_signature(&mut x, Some(signature), Some(key));
                    }
                }
                _ => return None,
            }
        }
        _ => return None,
    }
    let signature = x.signatures.first().map(|s| s.signature.clone());
    Some(ParsedBody {
        kind: b.kind.to_string(),
        api_version: b.api_version.to_string(),
        digests: x.digests,
        signature,
        public_key: x.public_key,
        signatures: x.signatures,
    })
}

fn none_of_dsse(s: &Spec<'_>) -> bool {
    s.envelope_hash.is_none() && s.payload_hash.is_none() && s.signatures.is_none() && s.dsse_v002.is_none()
}

fn b64(s: &str) -> Option<Vec<u8>> {
    b64_field(s, "").ok()
}

/// A v1 `{algorithm, value (hex)}` of a known algorithm and the right length (else None: the
/// general parser either skips an unknown algorithm or reports the error).
fn hex_hash(h: &HexHash<'_>, role: DigestRole) -> Option<Digest> {
    let (algorithm, want) = normalize_algorithm(h.algorithm)?;
    let value = hex_field(h.value, "").ok()?;
    (value.len() == want).then(|| Digest { role, algorithm: algorithm.into(), value })
}

/// A v2 `{algorithm (enum name), digest (base64)}`, likewise.
fn b64_hash(h: &B64Hash<'_>, role: DigestRole) -> Option<Digest> {
    let (algorithm, want) = normalize_algorithm(h.algorithm)?;
    let value = b64(h.digest)?;
    (value.len() == want).then(|| Digest { role, algorithm: algorithm.into(), value })
}

/// A v2 signature with exactly one verifier (a public key or a certificate).
fn v2_signature(s: &V2Signature<'_>) -> Option<(Vec<u8>, Vec<u8>)> {
    let raw = match (&s.verifier.public_key, &s.verifier.x509_certificate) {
        (Some(k), None) | (None, Some(k)) => k.raw_bytes,
        _ => return None,
    };
    Some((b64(s.content)?, b64(raw)?))
}
