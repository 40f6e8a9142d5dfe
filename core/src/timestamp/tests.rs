use super::*;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures")
}

fn json(path: &Path) -> Value {
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Go's base64 decoder (protojson bytes) skips CR and LF: one conformance token is `base64` output.
fn b64(s: &str) -> Vec<u8> {
    let compact: String = s.chars().filter(|c| *c != '\n' && *c != '\r').collect();
    STANDARD.decode(compact).expect("fixture base64")
}

/// The first token of a bundle and the signature bytes it timestamps.
fn token_and_signature(bundle: &Value) -> (Vec<u8>, Vec<u8>) {
    let token = bundle["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"]
        .as_str()
        .expect("bundle has a timestamp");
    let sig = match bundle["messageSignature"]["signature"].as_str() {
        Some(s) => s,
        None => bundle["dsseEnvelope"]["signatures"][0]["sig"].as_str().expect("a signature"),
    };
    (b64(token), b64(sig))
}

fn root_tsas(root: &Value) -> Vec<TimestampAuthority> {
    parse_trusted_root_authorities(root).expect("trusted root authorities parse")
}

fn production_root() -> Value {
    json(&fixtures().join("trusted_root/production.trusted_root.json"))
}

fn staging_root() -> Value {
    json(&fixtures().join("trusted_root/staging.trusted_root.json"))
}

/// A conformance case: its bundle's token, signature and the case's trusted root (else production).
fn conformance(case: &str) -> (Vec<u8>, Vec<u8>, Vec<TimestampAuthority>) {
    let dir = fixtures().join("conformance/bundle-verify").join(case);
    let (token, sig) = token_and_signature(&json(&dir.join("bundle.sigstore.json")));
    let root_path = dir.join("trusted_root.json");
    let root = if root_path.exists() { json(&root_path) } else { production_root() };
    (token, sig, root_tsas(&root))
}

fn check_of(r: Result<VerifiedTimestamp, TimestampError>) -> &'static str {
    match r {
        Ok(_) => "ok",
        Err(e) => e.check(),
    }
}

#[test]
fn every_conformance_token_verifies_or_fails_on_the_check_its_case_names() {
    // Cases that fail for a reason other than the timestamp (signing certificate lifetime) carry
    // a valid token: "ok" here.
    let expected = [
        ("rekor2-happy-path", "ok"),
        ("rekor2-dsse-happy-path", "ok"),
        ("rekor2-timestamp-with-embedded-cert", "ok"),
        ("rekor2-timestamp-without-embedded-cert", "ok"),
        ("rekor2-timestamp-with-expired-cert-chain", "ok"),
        ("trust-root-tsa-validity-end-inclusive", "ok"),
        ("bundle-with-sct-with-extensions", "ok"),
        ("intoto-with-custom-trust-root", "ok"),
        ("managed-key-happy-path", "ok"),
        ("rekor2-checkpoint-cosigned", "ok"),
        ("rekor2-timestamp-with-incorrect-time_fail", "ok"),
        ("intoto-tsa-timestamp-outside-cert-validity_fail", "ok"),
        ("rekor2-timestamp-payload-mismatch_fail", "imprint"),
        ("rekor2-timestamp-outside-tsa-cert-validity_fail", "validity"),
        ("rekor2-timestamp-outside-trust-root-tsa-validity_fail", "validity"),
        ("rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail", "chain"),
        ("rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail", "chain"),
        ("rekor2-dsse-mismatch-sig_fail", "ok"),
    ];
    for (case, want) in expected {
        let (token, sig, tsas) = conformance(case);
        let got = verify_timestamp(&token, &sig, &tsas);
        assert_eq!(check_of(got.clone()), want, "{case}: {got:?}");
    }
}

#[test]
fn a_verified_token_reports_its_gen_time_and_authority() {
    let (token, sig, tsas) = conformance("trust-root-tsa-validity-end-inclusive");
    let v = verify_timestamp(&token, &sig, &tsas).expect("verifies");
    // The case's README: genTime is exactly validFor.end, 2025-06-12T12:02:20Z.
    assert_eq!(v.gen_time, parse_rfc3339("2025-06-12T12:02:20Z").unwrap());
    assert_eq!(v.gen_time.to_string(), "2025-06-12T12:02:20Z");
    assert_eq!(v.tsa_uri.as_deref(), Some("https://timestamp.sigstage.dev/api/v1/timestamp"));
    assert_eq!(v.tsa_subject, "O=sigstore.dev, CN=sigstore-tsa-selfsigned");
    assert_eq!(v.imprint_algorithm, "sha256");
    assert!(!v.serial_number.is_empty());
}

#[test]
fn one_second_past_the_inclusive_valid_for_end_is_rejected() {
    let (token, sig, mut tsas) = conformance("trust-root-tsa-validity-end-inclusive");
    let end = tsas[0].valid_until.expect("case has an end");
    tsas[0].valid_until = Some(Instant { secs: end.secs - 1, nanos: 999_999_999 });
    let e = verify_timestamp(&token, &sig, &tsas).unwrap_err();
    assert_eq!(e.check(), "validity", "{e}");
    assert!(e.to_string().contains("validFor"), "{e}");
}

#[test]
fn public_trust_roots_verify_their_own_tsas_tokens() {
    // Production TSA (timestamp.sigstore.dev) through the production root itself.
    let dir = fixtures().join("conformance/bundle-verify/bundle-with-sct-with-extensions");
    let (token, sig) = token_and_signature(&json(&dir.join("bundle.sigstore.json")));
    let v = verify_timestamp(&token, &sig, &root_tsas(&production_root())).expect("production TSA");
    assert_eq!(v.tsa_uri.as_deref(), Some("https://timestamp.sigstore.dev/api/v1/timestamp"));
    // Staging TSA through the staging root: sigstore-java's and sigstore-python's Rekor v2 bundles.
    let staging = root_tsas(&staging_root());
    for f in [
        "upstream/bundle-rekor-v2.sigstore.json",
        "timestamps/sigstore-python/staging-rekor-v2.txt.sigstore.json",
        "timestamps/sigstore-python/a.dsse.staging-rekor-v2.txt.sigstore.json",
    ] {
        let (token, sig) = token_and_signature(&json(&fixtures().join(f)));
        let v = verify_timestamp(&token, &sig, &staging).unwrap_or_else(|e| panic!("{f}: {e}"));
        assert_eq!(v.tsa_uri.as_deref(), Some("https://timestamp.sigstage.dev/api/v1/timestamp"), "{f}");
        assert_eq!(v.authority, 0, "{f}: the first staging TSA signed it");
    }
    // A token without embedded certificates (sigstore-python issue 1482) is a bare response.
    let dir = fixtures().join("timestamps/sigstore-python");
    let token = std::fs::read(dir.join("tsa__issue1482-timestamp-with-no-cert")).unwrap();
    let msg = std::fs::read(dir.join("tsa__issue1482-message")).unwrap();
    assert!(parse_timestamp(&token).unwrap().embedded_certs.is_empty());
    verify_timestamp(&token, &msg, &staging).expect("issue 1482 token");
    // The production root does not trust the staging TSA.
    let e = verify_timestamp(&token, &msg, &root_tsas(&production_root())).unwrap_err();
    assert_eq!(e.check(), "chain", "{e}");
}

#[test]
fn sigstore_python_test_tsa_and_sigstore_go_virtual_tsa_tokens_verify() {
    let dir = fixtures().join("timestamps/sigstore-python");
    let ca = json(&dir.join("tsa__ca.json"));
    let tsa = TimestampAuthority::from_json(&ca, "ca").expect("ca.json");
    assert_eq!(tsa.chain.len(), 3);
    let (token, sig) = token_and_signature(&json(&dir.join("tsa__bundle.txt.sigstore")));
    let v = verify_timestamp(&token, &sig, std::slice::from_ref(&tsa)).expect("local test TSA");
    assert_eq!(v.tsa_subject, "O=local, CN=Test TSA Timestamping");
    // The late timestamp came from timestamp.sigstage.dev: the staging root trusts it, ca.json not.
    let (token, sig) = token_and_signature(&json(&dir.join("tsa__bundle.txt.late_timestamp.sigstore")));
    verify_timestamp(&token, &sig, &root_tsas(&staging_root())).expect("late timestamp, staging TSA");
    assert_eq!(verify_timestamp(&token, &sig, std::slice::from_ref(&tsa)).unwrap_err().check(), "chain");
    let trust_config = json(&dir.join("tsa__trust_config.json"));
    assert_eq!(root_tsas(&trust_config["trustedRoot"]).len(), 1);

    let go = fixtures().join("conformance/sigstore-go");
    let (token, sig) = token_and_signature(&json(&go.join("bundles__public-key-validity.sigstore.json")));
    let tsas = root_tsas(&json(&go.join("trusted-roots__public-key-validity.json")));
    let v = verify_timestamp(&token, &sig, &tsas).expect("sigstore-go virtual TSA");
    // validFor carries nanoseconds; genTime is inside it.
    assert!(tsas[0].valid_from.nanos != 0);
    assert!(v.gen_time >= tsas[0].valid_from && Some(v.gen_time) <= tsas[0].valid_until);
}

fn position(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).position(|w| w == needle).expect("needle in token")
}

#[test]
fn a_flipped_imprint_byte_is_rejected_by_the_imprint_check() {
    let (mut token, sig, tsas) = conformance("rekor2-timestamp-with-embedded-cert");
    let imprint = parse_timestamp(&token).unwrap().hashed_message;
    assert_eq!(imprint, Sha256::digest(&sig).to_vec());
    let at = position(&token, &imprint);
    token[at + 5] ^= 0x01;
    let e = verify_timestamp(&token, &sig, &tsas).unwrap_err();
    assert!(matches!(e, TimestampError::Imprint { .. }), "{e}");
    assert!(e.to_string().starts_with("timestamp imprint:"), "{e}");
    // The untouched token over another signature: the same check.
    let (token, _, _) = conformance("rekor2-timestamp-with-embedded-cert");
    let e = verify_timestamp(&token, b"another signature", &tsas).unwrap_err();
    assert_eq!(e.check(), "imprint");
}

#[test]
fn a_flipped_signature_byte_is_rejected_by_the_signature_check() {
    for case in ["rekor2-timestamp-with-embedded-cert", "rekor2-timestamp-without-embedded-cert", "intoto-with-custom-trust-root"] {
        let (mut token, sig, tsas) = conformance(case);
        // The SignerInfo's signature is the token's last field (no unsigned attributes): its last
        // byte is the last byte of ECDSA's s, so the DER stays well formed.
        let ts = parse_timestamp(&token).unwrap();
        assert!(ts.signer.unsigned_attrs.is_none());
        let last = token.len() - 1;
        token[last] ^= 0x01;
        let e = verify_timestamp(&token, &sig, &tsas).unwrap_err();
        assert!(matches!(e, TimestampError::Signature { .. }), "{case}: {e}");
        assert!(e.to_string().contains("does not verify under the TSA certificate"), "{case}: {e}");
    }
}

#[test]
fn a_changed_tst_info_breaks_the_message_digest_attribute() {
    let (mut token, sig, tsas) = conformance("rekor2-happy-path");
    let serial = parse_timestamp(&token).unwrap().serial_number;
    let at = position(&token, &serial);
    token[at + serial.len() - 1] ^= 0x01;
    let e = verify_timestamp(&token, &sig, &tsas).unwrap_err();
    assert_eq!(e.check(), "signature", "{e}");
    assert!(e.to_string().contains("message-digest"), "{e}");
}

#[test]
fn a_swapped_certificate_is_rejected_by_the_chain_check() {
    let (token, sig, tsas) = conformance("rekor2-happy-path");
    let production = root_tsas(&production_root());
    // Another authority's chain in the staging TSA's place: its leaf is not the signer.
    let mut swapped = tsas.clone();
    swapped[0].chain = production[0].chain.clone();
    let e = verify_timestamp(&token, &sig, &swapped).unwrap_err();
    assert!(matches!(e, TimestampError::UntrustedSigner { .. }), "{e}");
    // The right leaf under another root: the leaf's signature does not verify under it.
    let mut other_root = tsas.clone();
    let last = other_root[0].chain.len() - 1;
    other_root[0].chain[last] = production[0].chain[production[0].chain.len() - 1].clone();
    let e = verify_timestamp(&token, &sig, &other_root).unwrap_err();
    assert!(matches!(e, TimestampError::Chain { index: 0, .. }), "{e}");
    // The leaf alone: no root to chain to is a leaf that must be self-signed, which it is not.
    let mut leaf_only = tsas.clone();
    leaf_only[0].chain.truncate(1);
    let e = verify_timestamp(&token, &sig, &leaf_only).unwrap_err();
    assert_eq!(e.check(), "chain", "{e}");
    // A token embedding a certificate other than the trusted leaf for its signer: the FreeTSA
    // case embeds FreeTSA's; trusting a look-alike whose issuer and serial match is impossible
    // without a key, so the embedded-certificate check is shown on the genuine leaf instead.
    let (token, sig, tsas) = conformance("rekor2-timestamp-with-embedded-cert");
    let ts = parse_timestamp(&token).unwrap();
    assert_eq!(ts.embedded_certs.first(), tsas[0].chain.first(), "the token embeds the trusted leaf");
    verify_parsed(&ts, &sig, &tsas).expect("same certificate verifies");
}

#[test]
fn a_valid_for_that_ends_before_gen_time_or_starts_after_it_is_rejected() {
    let (token, sig, tsas) = conformance("rekor2-happy-path");
    let t = parse_timestamp(&token).unwrap().gen_time;
    let mut ended = tsas.clone();
    ended[0].valid_until = Some(Instant::from_secs(t.secs - 1));
    assert_eq!(verify_timestamp(&token, &sig, &ended).unwrap_err().check(), "validity");
    let mut later = tsas.clone();
    later[0].valid_from = Instant::from_secs(t.secs + 1);
    assert_eq!(verify_timestamp(&token, &sig, &later).unwrap_err().check(), "validity");
    let mut exact = tsas;
    exact[0].valid_from = t;
    exact[0].valid_until = Some(t);
    verify_timestamp(&token, &sig, &exact).expect("closed interval");
}

#[test]
fn the_first_authority_that_verifies_wins_and_a_failing_one_is_reported() {
    let (token, sig, tsas) = conformance("rekor2-happy-path");
    let mut expired = tsas[0].clone();
    expired.valid_until = Some(Instant::from_secs(0));
    expired.valid_from = Instant::from_secs(-10);
    // The same TSA twice, the first window closed: the second verifies (a rotated window).
    let v = verify_timestamp(&token, &sig, &[expired.clone(), tsas[0].clone()]).expect("second window");
    assert_eq!(v.authority, 1);
    let e = verify_timestamp(&token, &sig, &[expired]).unwrap_err();
    assert_eq!(e.check(), "validity");
    assert_eq!(verify_timestamp(&token, &sig, &[]).unwrap_err().check(), "chain");
}

#[test]
fn the_leaf_must_be_a_critical_timestamping_only_end_entity() {
    let leaf_ok = Certificate::from_der(&root_tsas(&staging_root())[0].chain[0]).unwrap();
    check_leaf_eku(&leaf_ok).expect("sigstore TSA leaf");
    // GitHub's TSA leaf (sigstore-go's public-good root) marks its EKU not critical.
    let github = root_tsas(&json(&fixtures().join("conformance/sigstore-go/trusted-roots__public-good.json")));
    let gh_leaf = Certificate::from_der(&github[0].chain[0]).unwrap();
    let e = check_leaf_eku(&gh_leaf).unwrap_err();
    assert!(e.to_string().contains("not critical"), "{e}");
    // A CA certificate is no signer.
    let root = Certificate::from_der(github[0].chain.last().unwrap()).unwrap();
    let e = check_leaf_eku(&root).unwrap_err();
    assert_eq!(e.check(), "eku");
    assert!(e.to_string().contains("CA"), "{e}");
}

#[test]
fn malformed_tokens_are_parse_errors_never_panics() {
    let (token, sig, tsas) = conformance("rekor2-happy-path");
    for cut in [0, 1, 2, 10, 100, token.len() / 2, token.len() - 1] {
        let e = verify_timestamp(&token[..cut], &sig, &tsas).unwrap_err();
        assert_eq!(e.check(), "parse", "cut {cut}: {e}");
    }
    let mut long = token.clone();
    long.resize(MAX_TOKEN_BYTES + 1, 0);
    assert!(matches!(parse_timestamp(&long), Err(TimestampError::TooLong { .. })));
    // Status "rejection" (2): 30 82 LL LL 30 03 02 01 <status>.
    let mut rejected = token.clone();
    assert_eq!(&rejected[4..9], &[0x30, 0x03, 0x02, 0x01, 0x00]);
    rejected[8] = 2;
    assert!(matches!(parse_timestamp(&rejected), Err(TimestampError::NotGranted { .. })));
    // The bare TimeStampToken inside the response parses too.
    let bare = &token[9..];
    let a = parse_timestamp(bare).expect("bare token");
    assert_eq!(a.gen_time, parse_timestamp(&token).unwrap().gen_time);
    verify_timestamp(bare, &sig, &tsas).expect("bare token verifies");
    // A flipped bit anywhere never panics; in the signed TSTInfo or the SignerInfo it always fails.
    let ts = parse_timestamp(&token).unwrap();
    let tst_start = position(&token, &ts.econtent);
    let signed = tst_start..tst_start + ts.econtent.len();
    let signer_start = token.len() - ts.signer.to_der().unwrap().len();
    for i in 0..token.len() {
        let mut t = token.clone();
        t[i] ^= 0x80;
        let r = verify_timestamp(&t, &sig, &tsas);
        if signed.contains(&i) || i >= signer_start || i < 13 {
            assert!(r.is_err(), "byte {i} flipped still verifies");
        }
        if let Err(e) = r {
            let _ = e.to_string();
        }
    }
}

#[test]
fn trusted_root_authorities_parse_strictly() {
    assert_eq!(root_tsas(&production_root()).len(), 1);
    let staging = root_tsas(&staging_root());
    assert_eq!(staging.len(), 2);
    assert_eq!(staging[0].valid_from, parse_rfc3339("2025-04-09T00:00:00Z").unwrap());
    assert_eq!(staging[0].valid_until, None);
    let base = staging_root()["timestampAuthorities"][0].clone();
    let mut no_start = base.clone();
    no_start["validFor"] = serde_json::json!({});
    let e = TimestampAuthority::from_json(&no_start, "t").unwrap_err();
    assert!(e.to_string().contains("validFor.start"), "{e}");
    let mut bad_cert = base.clone();
    bad_cert["certChain"]["certificates"][0]["rawBytes"] = "AAAA".into();
    assert_eq!(TimestampAuthority::from_json(&bad_cert, "t").unwrap_err().check(), "trusted root");
    let mut empty = base.clone();
    empty["certChain"]["certificates"] = serde_json::json!([]);
    assert!(TimestampAuthority::from_json(&empty, "t").is_err());
    let mut many = base;
    many["certChain"]["certificates"] = Value::Array(vec![many["certChain"]["certificates"][0].clone(); MAX_CHAIN_CERTS + 1]);
    assert!(matches!(TimestampAuthority::from_json(&many, "t"), Err(TimestampError::TooLong { .. })));
    assert!(parse_trusted_root_authorities(&serde_json::json!({"tlogs": []})).unwrap().is_empty());
}

#[test]
fn times_parse_as_rfc_3339_and_generalized_time() {
    assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(Instant::from_secs(0)));
    assert_eq!(parse_rfc3339("2025-06-12T12:02:20Z").unwrap().secs, 1_749_729_740);
    assert_eq!(parse_rfc3339("2023-04-14T00:00:00.000Z").unwrap(), Instant::from_secs(1_681_430_400));
    assert_eq!(parse_rfc3339("2026-06-04T12:43:29.186617431Z").unwrap().nanos, 186_617_431);
    assert_eq!(parse_rfc3339("2025-06-12T14:02:20+02:00").unwrap().secs, 1_749_729_740);
    for bad in ["", "2025-06-12", "2025-13-01T00:00:00Z", "2025-02-29T00:00:00Z", "2025-06-12T12:02:20", "2025-06-12T24:00:00Z", "2025-06-12T12:02:20.Z", "2025-06-12T12:02:20.1234567890Z"] {
        assert_eq!(parse_rfc3339(bad), None, "{bad}");
    }
    assert_eq!(parse_rfc3339("2024-02-29T23:59:59Z").unwrap().to_string(), "2024-02-29T23:59:59Z");
    let gt = |s: &str| generalized_time(&Any::new(Tag::GeneralizedTime, s.as_bytes()).unwrap());
    assert_eq!(gt("20250612120220Z").unwrap(), Instant::from_secs(1_749_729_740));
    assert_eq!(gt("20250612120220.5Z").unwrap(), Instant { secs: 1_749_729_740, nanos: 500_000_000 });
    assert_eq!(gt("20250612120220.5Z").unwrap().to_string(), "2025-06-12T12:02:20.5Z");
    for bad in ["20250612120220", "20250612120220.50Z", "2025061212022Z", "20250612120260Z", "20250612120220+0000"] {
        assert!(gt(bad).is_err(), "{bad}");
    }
    assert!(generalized_time(&Any::new(Tag::UtcTime, b"250612120220Z".as_slice()).unwrap()).is_err());
}

#[test]
fn a_chain_without_its_leaf_takes_the_leaf_the_token_embeds() {
    // sigstore-go: a trusted-root chain starting with a CA names no leaf; the token's embedded
    // certificate for its signer is the leaf, chained to that CA.
    let (token, sig, tsas) = conformance("rekor2-timestamp-with-embedded-cert");
    let mut ca_only = tsas.clone();
    ca_only[0].chain.remove(0);
    verify_timestamp(&token, &sig, &ca_only).expect("embedded leaf under the trusted CA");
    let (token, sig, _) = conformance("rekor2-timestamp-without-embedded-cert");
    let e = verify_timestamp(&token, &sig, &ca_only).unwrap_err();
    assert!(matches!(e, TimestampError::UntrustedSigner { .. }), "{e}");
    // FreeTSA embeds its own chain: under the staging CA its leaf does not verify.
    let (token, sig, _) = conformance("rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail");
    let e = verify_timestamp(&token, &sig, &ca_only).unwrap_err();
    assert_eq!(e.check(), "chain", "{e}");
}

#[test]
fn freetsa_rsa_tokens_verify_once_its_own_chain_is_trusted() {
    // FreeTSA signs with RSA-4096 (rsaEncryption + SHA-512 digest) and an ESSCertID (v1)
    // attribute: trusting the chain it embeds exercises the RSA path on a real token.
    let (token, sig, staging) = conformance("rekor2-timestamp-untrusted-tsa-with-embedded-cert_fail");
    let ts = parse_timestamp(&token).unwrap();
    let mut chain = ts.embedded_certs.clone();
    assert_eq!(chain.len(), 2);
    chain.sort_by_key(|der| is_ca(&Certificate::from_der(der).unwrap()).unwrap());
    let freetsa = TimestampAuthority {
        subject: "O=Free TSA".into(),
        uri: None,
        chain,
        valid_from: parse_rfc3339("2016-03-13T00:00:00Z").unwrap(),
        valid_until: None,
    };
    let v = verify_timestamp(&token, &sig, std::slice::from_ref(&freetsa)).expect("FreeTSA under its own root");
    assert_eq!(v.imprint_algorithm, "sha256");
    // The same token without embedded certificates verifies too, and neither under staging.
    let (bare, sig2, _) = conformance("rekor2-timestamp-untrusted-tsa-without-embedded-cert_fail");
    assert!(parse_timestamp(&bare).unwrap().embedded_certs.is_empty());
    verify_timestamp(&bare, &sig2, std::slice::from_ref(&freetsa)).expect("FreeTSA token without certificates");
    assert_eq!(verify_timestamp(&token, &sig, &staging).unwrap_err().check(), "chain");
    let mut flipped = token.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x01;
    assert_eq!(verify_timestamp(&flipped, &sig, std::slice::from_ref(&freetsa)).unwrap_err().check(), "signature");
}

#[test]
fn bundle_timestamps_are_read_as_go_reads_them_and_checked_against_any_body_signature() {
    let dir = fixtures().join("conformance/bundle-verify");
    // One token is `base64` output with line breaks (the case's README): Go skips them, so do we.
    let b = json(&dir.join("rekor2-timestamp-with-incorrect-time_fail/bundle.sigstore.json"));
    let tokens = bundle_timestamps(&b).unwrap();
    assert_eq!(tokens.len(), 1);
    assert!(parse_timestamp(&tokens[0]).is_ok());
    assert!(bundle_timestamps(&json(&dir.join("rekor2-no-timestamp_fail/bundle.sigstore.json"))).unwrap().is_empty());
    let mut many = b.clone();
    many["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"] =
        Value::Array(vec![b["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0].clone(); MAX_BUNDLE_TIMESTAMPS + 1]);
    assert!(matches!(bundle_timestamps(&many), Err(TimestampError::TooLong { .. })));
    let mut not_b64 = b;
    not_b64["verificationMaterial"]["timestampVerificationData"]["rfc3161Timestamps"][0]["signedTimestamp"] = "!!".into();
    assert_eq!(bundle_timestamps(&not_b64).unwrap_err().check(), "parse");

    let (token, sig, tsas) = conformance("rekor2-happy-path");
    let other = b"a second signer's signature".as_slice();
    verify_for_signatures(&token, &[other, &sig], &tsas).expect("the second signature is the timestamped one");
    let e = verify_for_signatures(&token, &[other], &tsas).unwrap_err();
    assert_eq!(e.check(), "imprint");
    assert_eq!(verify_for_signatures(&token, &[], &tsas).unwrap_err().check(), "imprint");
}
