use super::*;
use serde_json::Value;

const KEYS: &str = include_str!("../../../tests/fixtures/keys.json");
const CHECKPOINTS: &str = include_str!("../../../tests/fixtures/checkpoints.json");
const SIGNED_NOTES: &str = include_str!("../../../tests/fixtures/signed_notes.json");

/// Real keys of unsupported kinds, generated with OpenSSL 3 (`openssl genpkey ... | openssl pkey -pubout`).
const RSA_1024_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC++VNAdRRTIHFfIgFp9l6fpI5/
IaNoTm3zArKq8DbYTnQmPLdo7DzqVuLbsXgxj83sipxWKhfZxd4VZzrvWrNaVkwM
xH5L9akPMFa8foiCNPasGpwX6G0UpXCBQbjmYZu25KJYAKNdxmC4d188oMkF0xuM
uQ0GU8VEc+pu87iqPwIDAQAB
-----END PUBLIC KEY-----
";
const P384_PEM: &str = "-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEnP4fPxtuz3at1BnYK3egZQ+Gr90WXTvL
Gl7tVZFucywiYOrRLvp5TsohPhkTyxumFUcownHO79q3MQqGjHOUYK1ksRNO6bDK
/Bgoid3tr5G8wzKmdEI3bdatqlS2BD4p
-----END PUBLIC KEY-----
";
const SECP256K1_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFYwEAYHKoZIzj0CAQYFK4EEAAoDQgAEKHVSNYDr/Pkbu2IxRNErpOKa+usawuz+
vUAdeAw1gbzq1CtUa8PPnlt8jLqu0aIhux5p4W2bWN6av1KW1jtYwQ==
-----END PUBLIC KEY-----
";
const ED448_PEM: &str = "-----BEGIN PUBLIC KEY-----
MEMwBQYDK2VxAzoAdbFUsEGelUDYhszbjjdT+8Y1MjYdJVNy1Ty4z4Gv8COMqDu8
h750PXl92kLDhq3p3b3jcshcbdoA
-----END PUBLIC KEY-----
";
/// A P-256 key with the curve spelled out (explicit parameters) instead of named.
const P256_EXPLICIT_PEM: &str = "-----BEGIN PUBLIC KEY-----
MIIBSzCCAQMGByqGSM49AgEwgfcCAQEwLAYHKoZIzj0BAQIhAP////8AAAABAAAA
AAAAAAAAAAAA////////////////MFsEIP////8AAAABAAAAAAAAAAAAAAAA////
///////////8BCBaxjXYqjqT57PrvVV2mIa8ZR0GsMxTsPY7zjw+J9JgSwMVAMSd
NgiG5wSTamZ44ROdJreBn36QBEEEaxfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5
RdiYwpZP40Li/hp/m47n60p8D54WK84zV2sxXs7LtkBoN79R9QIhAP////8AAAAA
//////////+85vqtpxeehPO5ysL8YyVRAgEBA0IABFouF1pFxuMxhHMZgoqAlVMn
AvZeS5QKq0/b7EIQJ7rQgJMQ1x71EFalnEL1meHilewxDQTndzj6jiJfXeVM+lQ=
-----END PUBLIC KEY-----
";

fn json(s: &str) -> Value {
    serde_json::from_str(s).expect("fixture json")
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).expect("fixture hex")
}

fn fixture_keys() -> Vec<Value> {
    json(KEYS)["keys"].as_array().expect("keys array").clone()
}

fn s<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field].as_str().unwrap_or_else(|| panic!("fixture field {field} missing"))
}

fn production_ecdsa() -> LogKey {
    let k = fixture_keys().into_iter().find(|k| s(k, "id") == "production:rekor.sigstore.dev").expect("key");
    LogKey::parse(s(&k, "public_key_pem").as_bytes()).expect("parses")
}

fn production_ed25519() -> LogKey {
    let k = fixture_keys()
        .into_iter()
        .find(|k| s(k, "id") == "production:log2025-1.rekor.sigstore.dev")
        .expect("key");
    LogKey::parse(s(&k, "public_key_pem").as_bytes()).expect("parses")
}

/// A real (message, signature) pair from checkpoints.json for the named checkpoint.
fn real_signature(id: &str) -> (Vec<u8>, Vec<u8>) {
    let cps = json(CHECKPOINTS);
    let cp =
        cps["checkpoints"].as_array().expect("array").iter().find(|c| s(c, "id") == id).expect("cp").clone();
    (h(s(&cp, "signed_message_hex")), h(s(&cp["signature_lines"][0], "signature_hex")))
}

/// Deterministic bytes for "random" inputs (xorshift64*), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

// ---------------------------------------------------------------- fixture keys

#[test]
fn every_fixture_key_parses_from_pem_spki_base64_and_raw_der_to_the_same_key() {
    let keys = fixture_keys();
    assert!(keys.len() >= 8, "fixture has {} keys", keys.len());
    for k in &keys {
        let id = s(k, "id");
        let der = h(s(k, "spki_der_hex"));
        let from_pem =
            LogKey::parse(s(k, "public_key_pem").as_bytes()).unwrap_or_else(|e| panic!("{id}: {e}"));
        let from_b64 = LogKey::parse(s(k, "spki_der_b64").as_bytes()).unwrap_or_else(|e| panic!("{id}: {e}"));
        let from_der = LogKey::parse(&der).unwrap_or_else(|e| panic!("{id}: {e}"));
        let direct = LogKey::from_spki_der(&der).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(from_pem, from_b64, "{id}");
        assert_eq!(from_pem, from_der, "{id}");
        assert_eq!(from_pem, direct, "{id}");
        assert_eq!(from_pem.spki_der(), der.as_slice(), "{id}: canonical SPKI differs from the fixture DER");
        assert_eq!(from_pem.raw_public_key(), h(s(k, "raw_public_key_hex")).as_slice(), "{id}");
        let want_type = match s(k, "key_details") {
            "PKIX_ECDSA_P256_SHA_256" => KeyType::EcdsaP256,
            "PKIX_ED25519" => KeyType::Ed25519,
            other => panic!("{id}: unexpected key_details {other}"),
        };
        assert_eq!(from_pem.key_type(), want_type, "{id}");
        assert_eq!(from_pem.raw_public_key().len(), if want_type == KeyType::EcdsaP256 { 65 } else { 32 });
    }
}

#[test]
fn base64_key_with_line_breaks_and_spaces_is_accepted() {
    for k in fixture_keys() {
        let b64 = s(&k, "spki_der_b64");
        let spaced: String = b64
            .chars()
            .enumerate()
            .flat_map(|(i, c)| if i % 16 == 15 { vec![c, '\n', ' '] } else { vec![c] })
            .collect();
        let text = format!("  \r\n{spaced}\t\n");
        assert_eq!(
            LogKey::parse(text.as_bytes()).expect("spaced base64"),
            LogKey::parse(b64.as_bytes()).expect("plain base64")
        );
    }
}

#[test]
fn pem_with_crlf_line_endings_and_surrounding_whitespace_is_accepted() {
    for k in fixture_keys() {
        let pem = s(&k, "public_key_pem");
        let crlf = format!("\n  {}  \n", pem.replace('\n', "\r\n"));
        assert_eq!(
            LogKey::parse(crlf.as_bytes()).expect("crlf pem"),
            LogKey::parse(pem.as_bytes()).expect("pem")
        );
    }
}

#[test]
fn log_id_and_key_hint_equal_the_fixture_values_under_the_note_signer_name() {
    for k in fixture_keys() {
        let id = s(&k, "id");
        let key = LogKey::parse(s(&k, "public_key_pem").as_bytes()).expect("parses");
        let name = s(&k, "note_signer_name");
        assert_eq!(hex::encode(key.log_id(name)), s(&k, "log_id_hex"), "{id}");
        assert_eq!(hex::encode(key.key_hint(name)), s(&k, "note_key_id_hex"), "{id}");
        if key.key_type() == KeyType::EcdsaP256 {
            // Rekor v1 does not bind the name: any name gives the same id.
            assert_eq!(key.log_id("some.other.name"), key.log_id(name), "{id}");
        } else {
            assert_ne!(key.log_id("some.other.name"), key.log_id(name), "{id}");
        }
    }
}

#[test]
fn fixture_note_vkeys_parse_to_the_fixture_key_and_signer_name() {
    for k in fixture_keys() {
        let Some(vkey) = k["note_vkey"].as_str() else { continue };
        let (name, key) = LogKey::parse_vkey(vkey).unwrap_or_else(|e| panic!("{}: {e}", s(&k, "id")));
        assert_eq!(name, s(&k, "note_signer_name"));
        assert_eq!(key, LogKey::parse(s(&k, "public_key_pem").as_bytes()).expect("pem"));
    }
}

#[test]
fn signed_notes_vkey_vectors_parse_with_their_hint_type_and_key() {
    for v in json(SIGNED_NOTES)["vkeys"].as_array().expect("vkeys") {
        let (name, key) =
            LogKey::parse_vkey(s(v, "vkey")).unwrap_or_else(|e| panic!("{}: {e}", s(v, "vkey")));
        assert_eq!(name, s(v, "name"));
        assert_eq!(hex::encode(key.key_hint(&name)), s(v, "key_id_hex"));
        match v["signature_type"].as_u64() {
            Some(1) => {
                assert_eq!(key.key_type(), KeyType::Ed25519);
                assert_eq!(hex::encode(key.raw_public_key()), s(v, "public_key_hex"));
            }
            Some(2) => {
                assert_eq!(key.key_type(), KeyType::EcdsaP256);
                assert_eq!(hex::encode(key.spki_der()), s(v, "public_key_hex"));
            }
            other => panic!("unexpected signature_type {other:?}"),
        }
    }
}

#[test]
fn key_type_strings_are_stable() {
    assert_eq!(KeyType::EcdsaP256.as_str(), "ecdsa-p256-sha256");
    assert_eq!(KeyType::Ed25519.as_str(), "ed25519");
    assert_eq!(KeyType::Ed25519.to_string(), "ed25519");
}

// ---------------------------------------------------------------- verification

#[test]
fn real_ecdsa_and_ed25519_checkpoint_signatures_verify() {
    let (msg, sig) = real_signature("cp-rekor.sigstore.dev-1193050959916656506-1511664556");
    assert!(production_ecdsa().verify(&msg, &sig));
    let (msg, sig) = real_signature("cp-log2025-1.rekor.sigstore.dev-4855115");
    assert!(production_ed25519().verify(&msg, &sig));
}

#[test]
fn signature_under_the_wrong_key_or_message_does_not_verify() {
    let (msg, sig) = real_signature("cp-rekor.sigstore.dev-1193050959916656506-1511664556");
    assert!(!production_ed25519().verify(&msg, &sig), "ECDSA signature under an Ed25519 key");
    let staging =
        fixture_keys().into_iter().find(|k| s(k, "id") == "staging:rekor.sigstage.dev").expect("key");
    let staging = LogKey::parse(s(&staging, "public_key_pem").as_bytes()).expect("parses");
    assert!(!staging.verify(&msg, &sig), "production signature under the staging key");
    let mut other = msg.clone();
    other.push(b'x');
    assert!(!production_ecdsa().verify(&other, &sig));

    let (msg, sig) = real_signature("cp-log2025-1.rekor.sigstore.dev-4855115");
    assert!(!production_ecdsa().verify(&msg, &sig), "Ed25519 signature under an ECDSA key");
    let mut other = msg.clone();
    other.pop();
    assert!(!production_ed25519().verify(&other, &sig));
}

#[test]
fn every_single_bit_flip_of_a_real_signature_fails_verification() {
    for (key, id) in [
        (production_ecdsa(), "cp-rekor.sigstore.dev-1193050959916656506-1511664556"),
        (production_ed25519(), "cp-log2025-1.rekor.sigstore.dev-4855115"),
    ] {
        let (msg, sig) = real_signature(id);
        for i in 0..sig.len() {
            for bit in 0..8 {
                let mut bad = sig.clone();
                bad[i] ^= 1 << bit;
                assert!(!key.verify(&msg, &bad), "{id}: flip of bit {bit} in byte {i} still verifies");
            }
        }
    }
}

#[test]
fn verify_returns_false_and_never_panics_on_arbitrary_signature_bytes() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let keys = [production_ecdsa(), production_ed25519()];
    let (msg, ecdsa_sig) = real_signature("cp-rekor.sigstore.dev-1193050959916656506-1511664556");
    for key in &keys {
        for len in 0..200 {
            for _ in 0..4 {
                assert!(!key.verify(&msg, &rng.bytes(len)));
            }
        }
        // Truncations and extensions of a real signature.
        for cut in 0..ecdsa_sig.len() {
            assert!(!key.verify(&msg, &ecdsa_sig[..cut]));
        }
        let mut longer = ecdsa_sig.clone();
        longer.push(0);
        assert!(!key.verify(&msg, &longer));
        // DER-looking garbage: a SEQUENCE of two INTEGERs with random contents.
        for _ in 0..500 {
            let mut der = vec![0x30, 0x44, 0x02, 0x20];
            der.extend(rng.bytes(32));
            der.extend([0x02, 0x20]);
            der.extend(rng.bytes(32));
            assert!(!key.verify(&msg, &der));
        }
    }
}

#[test]
fn ed25519_signature_with_non_canonical_s_is_rejected() {
    // L, the order of the Ed25519 base point, little-endian.
    let l: [u8; 32] =
        h("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010").try_into().expect("32");
    let (msg, sig) = real_signature("cp-log2025-1.rekor.sigstore.dev-4855115");
    let key = production_ed25519();
    assert!(key.verify(&msg, &sig));
    // S + L is the same scalar mod L: a lax verifier would accept it (signature malleability).
    let mut malleated = sig.clone();
    let mut carry = 0u16;
    for (i, lb) in l.iter().enumerate() {
        let sum = u16::from(malleated[32 + i]) + u16::from(*lb) + carry;
        malleated[32 + i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0, "S + L fits in 256 bits");
    assert_ne!(malleated, sig);
    assert!(!key.verify(&msg, &malleated));
}

// ---------------------------------------------------------------- rejections

#[test]
fn rsa_key_is_rejected_as_unsupported_algorithm_naming_rsa() {
    let err = LogKey::parse(RSA_1024_PEM.as_bytes()).expect_err("RSA must be rejected");
    assert_eq!(
        err,
        KeyError::UnsupportedAlgorithm {
            oid: "1.2.840.113549.1.1.1".into(),
            name: Some("rsaEncryption (RSA)"),
            curve: false
        }
    );
    assert!(err.to_string().contains("RSA"), "{err}");
    assert!(err.to_string().contains("1.2.840.113549.1.1.1"), "{err}");
}

#[test]
fn hand_built_rsa_spki_is_rejected_as_unsupported_algorithm() {
    // SEQUENCE { SEQUENCE { rsaEncryption, NULL }, BIT STRING { 0, SEQUENCE { INTEGER 0x00c5, INTEGER 3 } } }
    let rsa_pub = [0x30, 0x07, 0x02, 0x02, 0x00, 0xc5, 0x02, 0x01, 0x03];
    let mut bits = vec![0x03, 1 + rsa_pub.len() as u8, 0x00];
    bits.extend(rsa_pub);
    let alg = [0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00];
    let mut spki = vec![0x30, (alg.len() + bits.len()) as u8];
    spki.extend(alg);
    spki.extend(bits);
    let err = LogKey::from_spki_der(&spki).expect_err("rejected");
    assert!(
        matches!(err, KeyError::UnsupportedAlgorithm { ref oid, curve: false, .. } if oid == "1.2.840.113549.1.1.1"),
        "{err}"
    );
}

#[test]
fn p384_key_is_rejected_as_unsupported_curve_naming_p384() {
    let err = LogKey::parse(P384_PEM.as_bytes()).expect_err("P-384 must be rejected");
    assert_eq!(
        err,
        KeyError::UnsupportedAlgorithm {
            oid: "1.3.132.0.34".into(),
            name: Some("secp384r1 (P-384)"),
            curve: true
        }
    );
    assert!(err.to_string().contains("P-384"), "{err}");
}

#[test]
fn secp256k1_and_ed448_keys_are_rejected_as_unsupported() {
    let err = LogKey::parse(SECP256K1_PEM.as_bytes()).expect_err("secp256k1");
    assert!(
        matches!(err, KeyError::UnsupportedAlgorithm { ref oid, curve: true, .. } if oid == "1.3.132.0.10"),
        "{err}"
    );
    let err = LogKey::parse(ED448_PEM.as_bytes()).expect_err("Ed448");
    assert!(
        matches!(err, KeyError::UnsupportedAlgorithm { ref oid, curve: false, .. } if oid == "1.3.101.113"),
        "{err}"
    );
}

#[test]
fn unknown_algorithm_oid_is_shown_in_dotted_form() {
    // The Ed25519 SPKI with its OID arc 112 changed to 200 (encoded 0x81 0x48).
    let mut der = vec![0x30, 0x2b, 0x30, 0x06, 0x06, 0x04, 0x2b, 0x65, 0x81, 0x48, 0x03, 0x21, 0x00];
    der.extend([7u8; 32]);
    let err = LogKey::from_spki_der(&der).expect_err("unknown");
    assert_eq!(err, KeyError::UnsupportedAlgorithm { oid: "1.3.101.200".into(), name: None, curve: false });
    assert!(err.to_string().contains("1.3.101.200"));
}

#[test]
fn explicit_ec_curve_parameters_are_rejected() {
    let err = LogKey::parse(P256_EXPLICIT_PEM.as_bytes()).expect_err("explicit params");
    assert!(matches!(err, KeyError::BadAlgorithmParameters { .. }), "{err}");
}

#[test]
fn ed25519_spki_with_parameters_is_rejected() {
    // Ed25519 AlgorithmIdentifier with a NULL parameter, which RFC 8410 forbids.
    let mut der = vec![0x30, 0x2c, 0x30, 0x07, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x05, 0x00, 0x03, 0x21, 0x00];
    der.extend(production_ed25519().raw_public_key());
    let err = LogKey::from_spki_der(&der).expect_err("params");
    assert!(matches!(err, KeyError::BadAlgorithmParameters { .. }), "{err}");
}

#[test]
fn ec_key_without_named_curve_is_rejected() {
    let mut der =
        vec![0x30, 0x4f, 0x30, 0x09, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x03, 0x42, 0x00];
    der.extend(production_ecdsa().raw_public_key());
    let err = LogKey::from_spki_der(&der).expect_err("no curve");
    assert!(matches!(err, KeyError::BadAlgorithmParameters { .. }), "{err}");
}

#[test]
fn every_truncation_of_a_valid_der_key_is_rejected() {
    for k in fixture_keys() {
        let der = h(s(&k, "spki_der_hex"));
        for cut in 0..der.len() {
            let err = LogKey::from_spki_der(&der[..cut]).expect_err("truncated DER accepted");
            if cut > 0 {
                assert!(
                    matches!(err, KeyError::TruncatedDer { .. }),
                    "{}: cut at {cut} gave {err}",
                    s(&k, "id")
                );
            }
        }
    }
}

#[test]
fn trailing_garbage_after_der_key_is_rejected() {
    for k in fixture_keys() {
        let mut der = h(s(&k, "spki_der_hex"));
        let len = der.len();
        der.extend([0x00, 0x01]);
        assert_eq!(LogKey::from_spki_der(&der), Err(KeyError::TrailingData { offset: len, extra: 2 }));
        assert_eq!(LogKey::parse(&der), Err(KeyError::TrailingData { offset: len, extra: 2 }));
    }
}

#[test]
fn trailing_text_after_pem_end_line_is_rejected() {
    let pem = s(&fixture_keys()[0], "public_key_pem").to_string();
    let err = LogKey::parse(format!("{pem}garbage\n").as_bytes()).expect_err("trailing text");
    assert!(matches!(err, KeyError::BadPem { .. }), "{err}");
    let err = LogKey::parse(format!("{pem}{pem}").as_bytes()).expect_err("two blocks");
    assert!(matches!(err, KeyError::BadPem { .. }), "{err}");
}

#[test]
fn pem_of_another_kind_is_rejected_naming_its_label() {
    let pem = s(&fixture_keys()[0], "public_key_pem").replace("PUBLIC KEY", "RSA PUBLIC KEY");
    let err = LogKey::parse(pem.as_bytes()).expect_err("label");
    assert_eq!(err, KeyError::PemLabel { label: "RSA PUBLIC KEY".into() });
    assert!(err.to_string().contains("RSA PUBLIC KEY"));
}

#[test]
fn pem_without_end_line_is_rejected() {
    let pem = s(&fixture_keys()[0], "public_key_pem").replace("-----END PUBLIC KEY-----", "");
    assert!(matches!(LogKey::parse(pem.as_bytes()), Err(KeyError::BadPem { .. })));
}

#[test]
fn bad_base64_in_key_text_is_rejected() {
    let keys = fixture_keys();
    let b64 = s(&keys[0], "spki_der_b64");
    for bad in [format!("{b64}*"), b64.replace('=', ""), format!("{b64}=="), b64.replace('+', "-")] {
        let err = LogKey::parse(bad.as_bytes()).expect_err("bad base64 accepted");
        assert!(matches!(err, KeyError::BadBase64 { .. }), "{bad}: {err}");
    }
    let pem = s(&fixture_keys()[0], "public_key_pem").replacen('M', "!", 1);
    assert!(matches!(LogKey::parse(pem.as_bytes()), Err(KeyError::BadBase64 { .. })));
}

#[test]
fn empty_and_whitespace_input_is_rejected_as_empty() {
    assert_eq!(LogKey::parse(b""), Err(KeyError::Empty));
    assert_eq!(LogKey::parse(b"  \n\t "), Err(KeyError::Empty));
    assert_eq!(LogKey::from_spki_der(b""), Err(KeyError::Empty));
}

#[test]
fn non_minimal_and_indefinite_der_lengths_are_rejected() {
    let der = h(s(&fixture_keys()[0], "spki_der_hex"));
    assert_eq!(der[1], 0x59);
    // Long form for a length under 128.
    let mut long_form = vec![0x30, 0x81, 0x59];
    long_form.extend(&der[2..]);
    assert!(matches!(LogKey::from_spki_der(&long_form), Err(KeyError::BadDer { offset: 0, .. })));
    // Long form with a leading zero byte.
    let mut leading_zero = vec![0x30, 0x82, 0x00, 0x59];
    leading_zero.extend(&der[2..]);
    assert!(matches!(LogKey::from_spki_der(&leading_zero), Err(KeyError::BadDer { offset: 0, .. })));
    // Indefinite length (BER only).
    let mut indefinite = vec![0x30, 0x80];
    indefinite.extend(&der[2..]);
    indefinite.extend([0, 0]);
    assert!(matches!(LogKey::from_spki_der(&indefinite), Err(KeyError::BadDer { offset: 0, .. })));
}

#[test]
fn wrong_outer_tag_is_rejected_with_its_offset() {
    let mut der = h(s(&fixture_keys()[0], "spki_der_hex"));
    der[2] = 0x31; // the AlgorithmIdentifier as a SET
    let err = LogKey::from_spki_der(&der).expect_err("wrong tag");
    assert!(matches!(err, KeyError::BadDer { offset: 2, .. }), "{err}");
}

#[test]
fn bit_string_with_unused_bits_is_rejected() {
    let mut der = h(s(&fixture_keys()[0], "spki_der_hex"));
    der[25] = 0x01;
    assert!(matches!(LogKey::from_spki_der(&der), Err(KeyError::BadDer { offset: 25, .. })));
}

#[test]
fn compressed_infinity_and_off_curve_p256_points_are_rejected() {
    let key = production_ecdsa();
    let point = key.raw_public_key();
    // Compressed: 0x02/0x03 || X, in a correctly re-lengthed SPKI.
    let mut der =
        vec![0x30, 0x39, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08];
    der.extend([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x22, 0x00, 0x02]);
    der.extend(&point[1..33]);
    let err = LogKey::from_spki_der(&der).expect_err("compressed");
    assert!(matches!(err, KeyError::BadPoint { key_type: KeyType::EcdsaP256, .. }), "{err}");
    assert!(err.to_string().contains("compressed"), "{err}");

    assert!(matches!(LogKey::from_p256_point(&[0x00]), Err(KeyError::BadPoint { .. })));
    assert!(matches!(LogKey::from_p256_point(&point[..64]), Err(KeyError::BadPoint { .. })));

    let mut off = point.to_vec();
    off[64] ^= 1;
    let err = LogKey::from_p256_point(&off).expect_err("off curve");
    assert!(err.to_string().contains("not on the P-256 curve"), "{err}");

    // X = p (not a field element) even though it is 32 bytes.
    let mut big = vec![0x04];
    big.extend(h("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff"));
    big.extend(&point[33..]);
    let err = LogKey::from_p256_point(&big).expect_err("x >= p");
    assert!(err.to_string().contains("below the field prime"), "{err}");
}

#[test]
fn p256_point_check_agrees_with_rustcrypto_on_valid_and_corrupted_points() {
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    let mut rng = Rng(42);
    for i in 0..40u8 {
        let mut scalar = rng.bytes(32);
        scalar[0] &= 0x7f; // below the group order
        scalar[31] |= 1; // non-zero
        let sk = p256::SecretKey::from_slice(&scalar).expect("scalar");
        let point = sk.public_key().to_encoded_point(false);
        let point = point.as_bytes();
        assert!(LogKey::from_p256_point(point).is_ok(), "valid point {i} rejected");
        for _ in 0..8 {
            let mut bad = point.to_vec();
            let pos = 1 + (rng.next() as usize) % 64;
            bad[pos] ^= 1 << (rng.next() % 8);
            let ours = LogKey::from_p256_point(&bad).is_ok();
            let theirs = p256::PublicKey::from_sec1_bytes(&bad).is_ok();
            assert_eq!(ours, theirs, "disagreement on {}", hex::encode(&bad));
        }
    }
}

#[test]
fn ed25519_small_order_keys_are_rejected_as_weak() {
    for enc in ED25519_SMALL_ORDER {
        let err = LogKey::from_ed25519_raw(&enc).expect_err("small order accepted");
        assert!(err.to_string().contains("small-order"), "{err}");
        // Cross-check the table with dalek: each entry that decodes is a weak (small-order) point.
        if let Ok(vk) = ed25519_dalek::VerifyingKey::from_bytes(&enc) {
            assert!(vk.is_weak(), "{} is not small-order", hex::encode(enc));
        }
    }
}

#[test]
fn ed25519_non_canonical_key_encoding_is_rejected() {
    // y = p + 2 (a non-canonical encoding of y = 2).
    let mut enc = [0xffu8; 32];
    enc[0] = 0xef;
    enc[31] = 0x7f;
    let err = LogKey::from_ed25519_raw(&enc).expect_err("y >= p");
    assert!(err.to_string().contains("non-canonical"), "{err}");
}

#[test]
fn ed25519_point_check_agrees_with_dalek_on_random_keys() {
    let mut rng = Rng(7);
    let (mut on, mut off) = (0, 0);
    for _ in 0..400 {
        let mut enc: [u8; 32] = rng.bytes(32).try_into().expect("32");
        enc[31] &= 0x7f;
        enc[31] |= (rng.next() as u8) & 0x80;
        let theirs = ed25519_dalek::VerifyingKey::from_bytes(&enc).map(|k| !k.is_weak()).unwrap_or(false);
        let ours = LogKey::from_ed25519_raw(&enc).is_ok();
        assert_eq!(ours, theirs, "disagreement on {}", hex::encode(enc));
        if ours {
            on += 1
        } else {
            off += 1
        }
    }
    assert!(on > 100 && off > 100, "both outcomes exercised: {on} on, {off} off");
}

#[test]
fn ed25519_curve_constant_d_is_minus_121665_over_121666() {
    let p = &P25519;
    let lhs = add_mod(&mul_mod(&ED25519_D, &[121_666, 0, 0, 0], p), &[121_665, 0, 0, 0], p);
    assert_eq!(lhs, [0, 0, 0, 0]);
}

#[test]
fn ed25519_raw_key_of_wrong_length_is_rejected() {
    assert!(matches!(LogKey::from_ed25519_raw(&[1u8; 31]), Err(KeyError::BadPoint { .. })));
    assert!(matches!(LogKey::from_ed25519_raw(&[1u8; 33]), Err(KeyError::BadPoint { .. })));
}

#[test]
fn every_bit_flip_of_a_der_key_is_rejected_or_gives_a_different_key() {
    for k in fixture_keys() {
        let der = h(s(&k, "spki_der_hex"));
        let orig = LogKey::from_spki_der(&der).expect("parses");
        for i in 0..der.len() {
            for bit in 0..8 {
                let mut bad = der.clone();
                bad[i] ^= 1 << bit;
                if let Ok(key) = LogKey::from_spki_der(&bad) {
                    assert_ne!(key, orig, "{}: flip {i}/{bit}", s(&k, "id"));
                    assert_eq!(key.spki_der(), bad.as_slice(), "accepted DER must be canonical");
                }
            }
        }
    }
}

#[test]
fn random_bytes_never_panic_the_key_parsers() {
    let mut rng = Rng(1234);
    for len in 0..300 {
        for _ in 0..20 {
            let mut b = rng.bytes(len);
            let _ = LogKey::parse(&b);
            let _ = LogKey::from_spki_der(&b);
            if let Some(first) = b.first_mut() {
                *first = 0x30;
            }
            let _ = LogKey::parse(&b);
            let _ = LogKey::parse_vkey(&String::from_utf8_lossy(&b));
        }
    }
}

// ---------------------------------------------------------------- vkeys

#[test]
fn vkey_with_wrong_hint_is_rejected_with_both_hints() {
    let err = LogKey::parse_vkey("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
        .expect_err("hint");
    assert_eq!(
        err,
        KeyError::VkeyHintMismatch {
            name: "PeterNeumann".into(),
            given: "c74f20a4".into(),
            computed: "c74f20a3".into()
        }
    );
    // Renaming the key changes an Ed25519 hint, so the old hint no longer matches.
    let err = LogKey::parse_vkey("PeterNeumanm+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
        .expect_err("name");
    assert!(matches!(err, KeyError::VkeyHintMismatch { .. }), "{err}");
}

#[test]
fn vkey_hint_is_accepted_in_upper_case_hex() {
    let (_, key) =
        LogKey::parse_vkey("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW").expect("ok");
    assert_eq!(key.key_type(), KeyType::Ed25519);
}

#[test]
fn malformed_vkeys_are_rejected() {
    let cases = [
        ("", "no '+'"),
        ("PeterNeumann", "no '+'"),
        ("PeterNeumann+c74f20a3", "no '+'"),
        ("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "name"),
        ("Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "name"),
        ("PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "hint"),
        ("PeterNeumann+c74f20ag+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", "hint"),
        ("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T", "base64"),
        ("PeterNeumann+c74f20a3+", "empty"),
    ];
    for (vkey, why) in cases {
        assert!(LogKey::parse_vkey(vkey).is_err(), "{why}: {vkey:?} accepted");
    }
}

#[test]
fn vkey_of_unknown_type_is_rejected_naming_the_type() {
    // Type 0x04 (a C2SP cosignature key) with 32 key bytes.
    let mut blob = vec![0x04];
    blob.extend([9u8; 32]);
    let vkey = format!("w+00000000+{}", STANDARD.encode(&blob));
    assert_eq!(LogKey::parse_vkey(&vkey), Err(KeyError::UnsupportedVkeyType { type_byte: 4 }));
}

#[test]
fn vkey_type_byte_must_match_the_key_kind() {
    // Type 0x02 with an Ed25519 SPKI, and type 0x01 with a 31-byte key.
    let ed = production_ed25519();
    let mut blob = vec![0x02];
    blob.extend(ed.spki_der());
    let vkey = format!("x+{}+{}", hex::encode(ed.key_hint("x")), STANDARD.encode(&blob));
    assert!(matches!(LogKey::parse_vkey(&vkey), Err(KeyError::BadVkey { .. })));
    let mut blob = vec![0x01];
    blob.extend(&ed.raw_public_key()[..31]);
    let vkey = format!("x+{}+{}", hex::encode(ed.key_hint("x")), STANDARD.encode(&blob));
    assert!(matches!(LogKey::parse_vkey(&vkey), Err(KeyError::BadPoint { .. })));
}

#[test]
fn key_error_messages_are_one_line() {
    let errors = [
        LogKey::parse(RSA_1024_PEM.as_bytes()).expect_err("rsa"),
        LogKey::parse(P384_PEM.as_bytes()).expect_err("p384"),
        LogKey::parse(b"-----BEGIN PUBLIC KEY-----\n").expect_err("pem"),
        LogKey::parse(b"M***").expect_err("b64"),
        LogKey::from_spki_der(&[0x30, 0x05, 0x30]).expect_err("truncated"),
        LogKey::parse_vkey("a+00000000+AQ==").expect_err("vkey"),
    ];
    for e in errors {
        let text = e.to_string();
        assert!(!text.is_empty() && !text.contains('\n'), "{text:?}");
    }
}

#[test]
fn oversized_key_input_is_refused_before_decoding() {
    let long = vec![b'A'; MAX_KEY_INPUT_BYTES + 1];
    assert_eq!(LogKey::parse(&long), Err(KeyError::TooLong { got: MAX_KEY_INPUT_BYTES + 1, limit: MAX_KEY_INPUT_BYTES }));
    let mut der = vec![0x30u8];
    der.resize(100 << 20, 0);
    assert!(matches!(LogKey::parse(&der), Err(KeyError::TooLong { .. })));
    // At the limit the key is read (and rejected for what it is).
    assert!(!matches!(LogKey::parse(&long[..MAX_KEY_INPUT_BYTES]), Err(KeyError::TooLong { .. })));
}
