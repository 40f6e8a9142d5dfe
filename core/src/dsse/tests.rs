use super::*;
use crate::entry::{parse_body, parse_bundle, DigestRole};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::json;

const BUNDLE_DSSE: &str = include_str!("../../../tests/fixtures/upstream/bundle-dsse.sigstore.json");
const ENTRIES: &str = include_str!("../../../tests/fixtures/rekor_entries.json");
const IN_TOTO: &str = "application/vnd.in-toto+json";

/// The DSSE envelope of sigstore/sigstore-rs tests/data/bundle_v03.json (commit c46c303b), signed
/// by cosign; its log entry is rekor_entries.json "production-v1-dsse-0.0.1-1261105807".
const RS_PAYLOAD: &str = "eyJfdHlwZSI6Imh0dHBzOi8vaW4tdG90by5pby9TdGF0ZW1lbnQvdjEiLCJzdWJqZWN0IjpbeyJkaWdlc3QiOnsic2hhMjU2IjoiYzgxMWQ1OGRlNzljOTJmMDMyMTRlNjNhYTMzOTQ4NGU0ODhkNjk0YWU4YTYyODNiNWYzZjE3YTlmYWY1MDE3MiJ9LCJhbm5vdGF0aW9ucyI6e319XSwicHJlZGljYXRlVHlwZSI6Imh0dHBzOi8vc2lnc3RvcmUuZGV2L2Nvc2lnbi9zaWduL3YxIn0=";
const RS_SIG: &str =
    "MEQCIAvVJBnQhNzE/rUxlMkBZYfAuQ8xtnspG3q2zAr5OK6IAiAmgsNl7ke89wUk/aySH8SwAlz6ot9QqybmN14Kj2FaXw==";
const RS_ENTRY: &str = "production-v1-dsse-0.0.1-1261105807";
/// The DSSE envelope of sigstore/sigstore-js tests/bundles/bundleV01-dsse-no-proof.sigstore
/// (commit 0e691d54), with its explicit empty keyid; its log entry is "production-v1-dsse-0.0.1-27246114@...".
const JS_PAYLOAD: &str = "ewogICJfdHlwZSI6ICJodHRwczovL2luLXRvdG8uaW8vU3RhdGVtZW50L3YwLjEiLAogICJzdWJqZWN0IjogWwogICAgewogICAgICAibmFtZSI6ICJwa2c6bnBtL3NpZ3N0b3JlQDEuMC4wIiwKICAgICAgImRpZ2VzdCI6IHsKICAgICAgICAic2hhNTEyIjogIjdiZWE5ZjZlN2ZmMzdmNWZhYjBiMzZiZjA2MTIwMGZmZjAzMDk5ZmQyZmQ2OTZiOTFkMDRiYzVlNGYyMjVlYjlmZDZlMGNhZGNhZDU0YmE5ODBmNDNmYjM1MmE5OWU4ODEwYjRlMGFiZWI1YzBlZjJjZjkxMDhjZDFmMjU4YjM2IgogICAgICB9CiAgICB9CiAgXSwKICAicHJlZGljYXRlVHlwZSI6ICJodHRwczovL2dpdGh1Yi5jb20vbnBtL2F0dGVzdGF0aW9uL3RyZWUvbWFpbi9zcGVjcy9wdWJsaXNoL3YwLjEiLAogICJwcmVkaWNhdGUiOiB7CiAgICAibmFtZSI6ICJzaWdzdG9yZSIsCiAgICAidmVyc2lvbiI6ICIxLjAuMCIsCiAgICAicmVnaXN0cnkiOiAiaHR0cHM6Ly9yZWdpc3RyeS5ucG1qcy5vcmciCiAgfQp9Cg==";
const JS_SIG: &str =
    "MEYCIQDcjcoYzYmbTE4sL1egrOACwYPoem84pygE/IsPt0ICCAIhAPTzopOcO2dAAw7et6t2FE5QyclCKw/4R22ywyq4C3S7";
const JS_ENTRY: &str = "production-v1-dsse-0.0.1-27246114@bundleV01-dsse-no-proof.sigstore";

fn json_of(s: &str) -> Value {
    serde_json::from_str(s).expect("fixture json")
}

/// The payloadHash, envelopeHash and signatures of a dsse v0.0.1 body.
fn logged(body: &[u8]) -> (Vec<u8>, Vec<u8>, Vec<Vec<u8>>) {
    let p = parse_body(body).expect("body parses");
    let get = |role| p.digests.iter().find(|d| d.role == role).map(|d| d.value.clone()).expect("digest");
    let sigs = p.signatures.iter().map(|s| s.signature.clone()).collect();
    (get(DigestRole::Payload), get(DigestRole::Envelope), sigs)
}

fn normalised_body(id: &str) -> Vec<u8> {
    let all = json_of(ENTRIES);
    let e = all["entries"].as_array().expect("entries").iter().find(|e| e["id"] == id).expect("entry");
    STANDARD.decode(e["canonicalized_body_b64"].as_str().expect("body")).expect("base64")
}

#[test]
fn pae_matches_the_dsse_specification_example() {
    let got = pae("http://example.com/HelloWorld", b"hello world");
    assert_eq!(got, b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec());
}

#[test]
fn pae_counts_bytes_not_characters() {
    assert_eq!(pae("\u{e9}", b""), "DSSEv1 2 \u{e9} 0 ".as_bytes().to_vec());
}

#[test]
fn envelope_methods_hash_the_payload_and_the_pae() {
    let env = parse_envelope(&json!({"payloadType": "http://example.com/HelloWorld", "payload": STANDARD.encode("hello world"), "signatures": [{"sig": "AQ=="}]}))
        .expect("parses");
    assert_eq!(env.pae(), pae("http://example.com/HelloWorld", b"hello world"));
    assert_eq!(env.payload_sha256().to_vec(), Sha256::digest(b"hello world").to_vec());
    assert_eq!(env.pae_sha256().to_vec(), Sha256::digest(env.pae()).to_vec());
    assert_eq!(env.signatures, vec![DsseSignature { keyid: None, sig: vec![1] }]);
}

#[test]
fn the_bundle_envelope_hashes_match_its_logged_dsse_body() {
    let bundle = json_of(BUNDLE_DSSE);
    let env_json = &bundle["dsseEnvelope"];
    let env = parse_envelope(env_json).expect("parses");
    assert_eq!(env.payload_type, IN_TOTO);
    let entry = parse_bundle(&bundle).expect("bundle").remove(0);
    let (payload_hash, envelope_hash, sigs) = logged(&entry.body);
    assert_eq!(env.payload_sha256().to_vec(), payload_hash);
    assert_eq!(env.signatures.iter().map(|s| s.sig.clone()).collect::<Vec<_>>(), sigs);
    // sigstore-java sent protobuf-ordered compact JSON with "keyid":"": not RFC 8785.
    assert_eq!(
        match_envelope_hash(env_json, &envelope_hash).expect("envelope"),
        Some(EnvelopeForm::ProtoJsonWithKeyid)
    );
    assert_ne!(envelope_sha256(env_json).to_vec(), envelope_hash);
}

#[test]
fn a_cosign_envelope_without_keyid_hashes_as_rfc8785_like_its_logged_body() {
    let env_json = json!({"payload": RS_PAYLOAD, "payloadType": IN_TOTO, "signatures": [{"sig": RS_SIG}]});
    let (payload_hash, envelope_hash, sigs) = logged(&normalised_body(RS_ENTRY));
    let env = parse_envelope(&env_json).expect("parses");
    assert_eq!(env.payload_sha256().to_vec(), payload_hash);
    assert_eq!(vec![env.signatures[0].sig.clone()], sigs);
    assert_eq!(envelope_sha256(&env_json).to_vec(), envelope_hash);
    assert_eq!(
        match_envelope_hash(&env_json, &envelope_hash).expect("envelope"),
        Some(EnvelopeForm::Canonical)
    );
    let forms: Vec<EnvelopeForm> = envelope_hash_candidates(&env_json)
        .expect("envelope")
        .into_iter()
        .filter(|(_, h)| h.to_vec() == envelope_hash)
        .map(|(f, _)| f)
        .collect();
    assert_eq!(forms, vec![EnvelopeForm::Canonical, EnvelopeForm::ProtoJson]);
}

#[test]
fn a_sigstore_js_envelope_with_empty_keyid_matches_only_the_keyid_form() {
    let env_json =
        json!({"payload": JS_PAYLOAD, "payloadType": IN_TOTO, "signatures": [{"sig": JS_SIG, "keyid": ""}]});
    let (payload_hash, envelope_hash, _) = logged(&normalised_body(JS_ENTRY));
    let env = parse_envelope(&env_json).expect("parses");
    assert_eq!(env.payload_sha256().to_vec(), payload_hash);
    assert_eq!(env.signatures[0].keyid.as_deref(), Some(""));
    let forms: Vec<EnvelopeForm> = envelope_hash_candidates(&env_json)
        .expect("envelope")
        .into_iter()
        .filter(|(_, h)| h.to_vec() == envelope_hash)
        .map(|(f, _)| f)
        .collect();
    assert_eq!(forms, vec![EnvelopeForm::ProtoJsonWithKeyid]);
}

#[test]
fn envelope_serialisations_have_the_documented_shapes() {
    let v = json!({"payloadType": "a<b", "payload": "cGF5", "signatures": [{"keyid": "k", "sig": "AQ=="}], "extra": 1});
    let form = |f| String::from_utf8(envelope_serialization(&v, f).expect("envelope")).expect("utf8");
    assert_eq!(
        form(EnvelopeForm::Canonical),
        r#"{"extra":1,"payload":"cGF5","payloadType":"a<b","signatures":[{"keyid":"k","sig":"AQ=="}]}"#
    );
    assert_eq!(
        form(EnvelopeForm::ProtoJson),
        r#"{"payload":"cGF5","payloadType":"a<b","signatures":[{"sig":"AQ==","keyid":"k"}]}"#
    );
    assert_eq!(
        form(EnvelopeForm::ProtoJsonWithKeyid),
        r#"{"payload":"cGF5","payloadType":"a<b","signatures":[{"sig":"AQ==","keyid":"k"}]}"#
    );
    assert_eq!(
        form(EnvelopeForm::GoStruct),
        r#"{"payloadType":"a\u003cb","payload":"cGF5","signatures":[{"keyid":"k","sig":"AQ=="}]}"#
    );
    let no_keyid = json!({"payloadType": "t", "payload": "", "signatures": [{"sig": "AQ=="}]});
    let go = envelope_serialization(&no_keyid, EnvelopeForm::GoStruct).expect("envelope");
    assert_eq!(go, br#"{"payloadType":"t","payload":"","signatures":[{"keyid":"","sig":"AQ=="}]}"#.to_vec());
}

#[test]
fn payload_base64_may_be_url_safe_or_unpadded() {
    let bytes: Vec<u8> = (0u8..=255).collect();
    let std = parse_envelope(
        &json!({"payloadType": "t", "payload": STANDARD.encode(&bytes), "signatures": [{"sig": "AQ"}]}),
    )
    .expect("std");
    let url = parse_envelope(&json!({"payloadType": "t", "payload": URL_SAFE_NO_PAD.encode(&bytes), "signatures": [{"sig": "AQ=="}]})).expect("url");
    assert_eq!(std.payload, bytes);
    assert_eq!(url.payload, bytes);
    assert_eq!(std.signatures, url.signatures);
}

fn rejected(v: Value) -> DsseError {
    parse_envelope(&v).expect_err("malformed envelope must be rejected")
}

fn assert_path(e: &DsseError, path: &str, needle: &str) {
    assert_eq!(e.path(), path, "{e}");
    let text = e.to_string();
    assert!(text.starts_with(&format!("{path}: ")), "{text}");
    assert!(text.contains(needle), "{text:?} lacks {needle:?}");
}

#[test]
fn malformed_envelopes_are_rejected_naming_the_field() {
    let ok_sig = json!([{"sig": "AQ=="}]);
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!([]), "$", "expected an object, got array"),
        (json!({"payload": "", "signatures": ok_sig}), "payloadType", "required field is missing"),
        (json!({"payloadType": "", "payload": "", "signatures": ok_sig}), "payloadType", "must not be empty"),
        (
            json!({"payloadType": 1, "payload": "", "signatures": ok_sig}),
            "payloadType",
            "expected a string, got number",
        ),
        (json!({"payloadType": "t", "signatures": ok_sig}), "payload", "required field is missing"),
        (json!({"payloadType": "t", "payload": "a+b_", "signatures": ok_sig}), "payload", "invalid base64"),
        (json!({"payloadType": "t", "payload": "abc=d", "signatures": ok_sig}), "payload", "invalid base64"),
        (
            json!({"payloadType": "t", "payload": ["x"], "signatures": ok_sig}),
            "payload",
            "expected a string, got array",
        ),
        (json!({"payloadType": "t", "payload": ""}), "signatures", "required field is missing"),
        (
            json!({"payloadType": "t", "payload": "", "signatures": {}}),
            "signatures",
            "expected an array, got object",
        ),
        (json!({"payloadType": "t", "payload": "", "signatures": []}), "signatures", "must not be empty"),
        (
            json!({"payloadType": "t", "payload": "", "signatures": ["AQ=="]}),
            "signatures[0]",
            "expected an object, got string",
        ),
        (
            json!({"payloadType": "t", "payload": "", "signatures": [{"keyid": "k"}]}),
            "signatures[0].sig",
            "required field is missing",
        ),
        (
            json!({"payloadType": "t", "payload": "", "signatures": [{"sig": ""}]}),
            "signatures[0].sig",
            "must not be empty",
        ),
        (
            json!({"payloadType": "t", "payload": "", "signatures": [{"sig": "AQ=="}, {"sig": "!"}]}),
            "signatures[1].sig",
            "invalid base64",
        ),
        (
            json!({"payloadType": "t", "payload": "", "signatures": [{"sig": "AQ==", "keyid": 5}]}),
            "signatures[0].keyid",
            "expected a string, got number",
        ),
    ];
    for (v, path, needle) in cases {
        assert_path(&rejected(v), path, needle);
    }
    let many: Vec<Value> = (0..=MAX_SIGNATURES).map(|_| json!({"sig": "AQ=="})).collect();
    let e = rejected(json!({"payloadType": "t", "payload": "", "signatures": many}));
    assert_path(&e, "signatures", "101 signatures, more than the limit of 100");
    assert!(envelope_hash_candidates(&json!({"payloadType": "t"})).is_err());
}

#[test]
fn the_envelope_digest_fast_path_equals_the_general_rfc8785_digest() {
    let cases = [
        json!({"payload": RS_PAYLOAD, "payloadType": IN_TOTO, "signatures": [{"sig": RS_SIG}]}),
        json!({"payloadType": "a\"b\\c\u{8}\u{c}\n\r\t\u{1}\u{1f}\u{7f}é€😀", "payload": "", "signatures": [{"keyid": "", "sig": "AA=="}, {"sig": "AQ==", "keyid": "k\u{0}"}]}),
        // Member names sorted by UTF-16 code units, not by bytes: U+E000 sorts after U+1F600 here.
        json!({"\u{e000}": "x", "\u{1f600}": "y", "b": "", "a": "", "signatures": []}),
        json!({"payloadType": "t", "payload": "p", "signatures": [], "extra": "z"}),
        json!({}),
        // Shapes only the general canonicaliser takes (numbers, nesting, null, bool): same digest.
        json!({"payloadType": "t", "payload": "p", "signatures": [{"sig": "AA==", "n": 1.5e300}]}),
        json!({"payloadType": "t", "payload": "p", "signatures": [{"sig": "AA==", "x": {"y": [1, null, true]}}]}),
        json!({"payloadType": "t", "payload": "p", "signatures": ["AA=="]}),
        json!({"payloadType": 7, "payload": null}),
        json!(["not", "an", "object"]),
    ];
    for v in &cases {
        assert_eq!(envelope_sha256(v), crate::entry::canonical_json_sha256(v), "{v}");
    }
}

#[test]
fn payload_base64_decodes_the_same_on_the_fast_and_the_general_path() {
    for s in ["", "AA==", "AA", "AQID", "-_-_", "AQ\nID", "AQ\r\nID", "A", "****", "AQI=", "AQJ="] {
        let general = decode_base64_any(s).ok();
        let fast = b64(s, "payload").ok();
        assert_eq!(fast, general, "{s:?}");
    }
}
