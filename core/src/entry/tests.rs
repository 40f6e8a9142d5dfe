use super::*;
use crate::checkpoint::parse_checkpoint;
use crate::keys::LogKey;
use crate::merkle::{leaf_hash, verify_inclusion};
use serde_json::json;
use sha2::{Digest as _, Sha256};

const ENTRIES: &str = include_str!("../../../tests/fixtures/rekor_entries.json");
const KEYS: &str = include_str!("../../../tests/fixtures/keys.json");
const DEMO_BODIES: &str = include_str!("../../../tests/fixtures/demo_bodies.json");
const REST_ENTRY: &str = include_str!("../../../tests/fixtures/upstream/rest-entry.json");
const REST_ENTRY_V2: &str = include_str!("../../../tests/fixtures/upstream/rest-entry-2.json");
const BUNDLE_DSSE: &str = include_str!("../../../tests/fixtures/upstream/bundle-dsse.sigstore.json");
const BUNDLE_REKOR_V2: &str = include_str!("../../../tests/fixtures/upstream/bundle-rekor-v2.sigstore.json");
const BUNDLE_V03: &str =
    include_str!("../../../tests/fixtures/upstream/bundle-v0.3-hashedrekord.sigstore.json");
const UPSTREAM_BUNDLES: [(&str, &str); 3] = [
    ("bundle-dsse", BUNDLE_DSSE),
    ("bundle-rekor-v2", BUNDLE_REKOR_V2),
    ("bundle-v0.3-hashedrekord", BUNDLE_V03),
];
const REST_UUID: &str = "ac3650aee1c1b3821211cf07067c1a118d0a7f86867bbb1df340cb8fc9c221af";
const BUNDLE_PREFIX: &str = "verificationMaterial.tlogEntries[0]";

fn json(s: &str) -> Value {
    serde_json::from_str(s).expect("fixture json")
}

fn s<'a>(v: &'a Value, field: &str) -> &'a str {
    v[field].as_str().unwrap_or_else(|| panic!("fixture field {field} missing"))
}

fn b64(s: &str) -> Vec<u8> {
    STANDARD.decode(s).expect("fixture base64")
}

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).expect("fixture hex")
}

fn normalised() -> Vec<Value> {
    json(ENTRIES)["entries"].as_array().expect("entries").clone()
}

fn fixture_keys() -> Vec<Value> {
    json(KEYS)["keys"].as_array().expect("keys").clone()
}

fn key_by_ref(id: &str) -> LogKey {
    let k = fixture_keys().into_iter().find(|k| k["id"] == id).expect("key in keys.json");
    LogKey::parse(s(&k, "public_key_pem").as_bytes()).expect("fixture key parses")
}

/// The fixture key whose logID is `log_id`, with the signer name its checkpoints use.
fn key_by_log_id(log_id: &[u8]) -> (LogKey, String) {
    let k = fixture_keys()
        .into_iter()
        .find(|k| h(s(k, "log_id_hex")) == log_id)
        .unwrap_or_else(|| panic!("no fixture key with log id {}", hex::encode(log_id)));
    let key = LogKey::parse(s(&k, "public_key_pem").as_bytes()).expect("fixture key parses");
    (key, s(&k, "note_signer_name").to_string())
}

fn hashes_b64(p: &Value) -> Vec<Value> {
    p["hashes_hex"]
        .as_array()
        .expect("hashes")
        .iter()
        .map(|x| Value::String(STANDARD.encode(h(x.as_str().expect("hex")))))
        .collect()
}

/// The normalised entry in the shape a Sigstore bundle carries it (protobuf JSON).
fn as_tlog_entry(e: &Value) -> Value {
    let mut t = json!({
        "logIndex": e["log_index"].as_u64().expect("index").to_string(),
        "logId": {"keyId": s(e, "log_id_b64")},
        "kindVersion": {"kind": s(e, "kind"), "version": s(e, "kind_version")},
        "canonicalizedBody": s(e, "canonicalized_body_b64"),
    });
    if let Some(t0) = e["integrated_time"].as_i64() {
        t["integratedTime"] = json!(t0.to_string());
    }
    if let Some(set) = e["signed_entry_timestamp_b64"].as_str() {
        t["inclusionPromise"] = json!({"signedEntryTimestamp": set});
    }
    let p = &e["inclusion_proof"];
    if p.is_object() {
        let mut proof = json!({
            "logIndex": p["log_index"].as_u64().expect("proof index").to_string(),
            "rootHash": STANDARD.encode(h(s(p, "root_hash_hex"))),
            "treeSize": p["tree_size"].as_u64().expect("size").to_string(),
            "hashes": hashes_b64(p),
        });
        if let Some(cp) = e["checkpoint_envelope"].as_str() {
            proof["checkpoint"] = json!({"envelope": cp});
        }
        t["inclusionProof"] = proof;
    }
    t
}

fn as_bundle(tlog_entries: Vec<Value>) -> Value {
    json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"tlogEntries": tlog_entries},
    })
}

/// The normalised entry in the shape the Rekor v1 REST API returns it, keyed by its UUID.
fn as_rest_response(e: &Value) -> Value {
    let mut r = json!({
        "body": s(e, "canonicalized_body_b64"),
        "integratedTime": e["integrated_time"].as_i64().unwrap_or(0),
        "logID": s(e, "log_id_hex"),
        "logIndex": e["log_index"].as_u64().expect("index"),
    });
    let mut verification = json!({});
    if let Some(set) = e["signed_entry_timestamp_b64"].as_str() {
        verification["signedEntryTimestamp"] = json!(set);
    }
    let p = &e["inclusion_proof"];
    if p.is_object() {
        let mut proof = json!({
            "logIndex": p["log_index"].as_u64().expect("proof index"),
            "treeSize": p["tree_size"].as_u64().expect("size"),
            "rootHash": s(p, "root_hash_hex"),
            "hashes": p["hashes_hex"].clone(),
        });
        if let Some(cp) = e["checkpoint_envelope"].as_str() {
            proof["checkpoint"] = json!(cp);
        }
        verification["inclusionProof"] = proof;
    }
    r["verification"] = verification;
    let mut out = Map::new();
    out.insert(s(e, "leaf_hash_hex").to_string(), r);
    Value::Object(out)
}

fn only(mut v: Vec<LogEntry>) -> LogEntry {
    assert_eq!(v.len(), 1, "expected exactly one entry");
    v.remove(0)
}

fn proof_refs(p: &InclusionProof) -> Vec<&[u8]> {
    p.hashes.iter().map(|x| x.as_slice()).collect()
}

fn check_against_normalised(got: &LogEntry, e: &Value) {
    let id = s(e, "id");
    assert_eq!(got.body, b64(s(e, "canonicalized_body_b64")), "{id}: body");
    assert_eq!(got.log_id, h(s(e, "log_id_hex")), "{id}: log id");
    assert_eq!(got.log_index, e["log_index"].as_u64().expect("index"), "{id}: log index");
    assert_eq!(got.integrated_time, e["integrated_time"].as_i64().unwrap_or(0), "{id}: integrated time");
    assert_eq!(got.signed_entry_timestamp, e["signed_entry_timestamp_b64"].as_str().map(b64), "{id}: SET");
    let p = &e["inclusion_proof"];
    match &got.inclusion_proof {
        None => assert!(p.is_null(), "{id}: proof expected"),
        Some(gp) => {
            assert_eq!(gp.log_index, p["log_index"].as_u64().expect("proof index"), "{id}: proof index");
            assert_eq!(gp.tree_size, p["tree_size"].as_u64().expect("size"), "{id}: tree size");
            assert_eq!(gp.root_hash.to_vec(), h(s(p, "root_hash_hex")), "{id}: root");
            let want: Vec<Vec<u8>> = p["hashes_hex"]
                .as_array()
                .expect("hashes")
                .iter()
                .map(|x| h(x.as_str().expect("hex")))
                .collect();
            let got_hashes: Vec<Vec<u8>> = gp.hashes.iter().map(|x| x.to_vec()).collect();
            assert_eq!(got_hashes, want, "{id}: proof hashes");
            assert_eq!(gp.checkpoint.as_deref(), e["checkpoint_envelope"].as_str(), "{id}: checkpoint");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The normalised real entries, through both shapes
// ---------------------------------------------------------------------------------------------

#[test]
fn every_normalised_entry_parses_from_bundle_shape_with_its_values() {
    let all = normalised();
    assert_eq!(all.len(), 26);
    for e in &all {
        let got = only(parse_bundle(&as_bundle(vec![as_tlog_entry(e)])).expect("bundle parses"));
        check_against_normalised(&got, e);
        assert_eq!(got.uuid, None);
        assert_eq!(got.kind.as_deref(), e["kind"].as_str());
        assert_eq!(got.kind_version.as_deref(), e["kind_version"].as_str());
    }
}

#[test]
fn every_normalised_entry_parses_from_rest_shape_to_the_same_entry() {
    for e in &normalised() {
        let rest = only(parse_rest_response(&as_rest_response(e)).expect("REST parses"));
        check_against_normalised(&rest, e);
        assert_eq!(rest.uuid.as_deref(), e["leaf_hash_hex"].as_str());
        let bundle = only(parse_bundle(&as_bundle(vec![as_tlog_entry(e)])).expect("bundle parses"));
        let rest_without_shape_fields = LogEntry {
            uuid: None,
            kind: bundle.kind.clone(),
            kind_version: bundle.kind_version.clone(),
            ..rest
        };
        assert_eq!(rest_without_shape_fields, bundle, "{}", s(e, "id"));
    }
}

#[test]
fn the_real_rest_uuid_is_the_leaf_hash_of_the_body() {
    let e = normalised().into_iter().find(|e| e["rekor_api_entry_uuid"].is_string()).expect("REST entry");
    assert_eq!(s(&e, "rekor_api_entry_uuid"), s(&e, "leaf_hash_hex"));
    let got = only(parse_rest_response(&as_rest_response(&e)).expect("parses"));
    assert_eq!(uuid_leaf_hash(got.uuid.as_deref().expect("uuid")).expect("uuid"), leaf_hash(&got.body));
}

#[test]
fn every_normalised_leaf_hash_is_the_hash_of_the_parsed_body() {
    for e in &normalised() {
        let got = only(parse_bundle(&as_bundle(vec![as_tlog_entry(e)])).expect("parses"));
        assert_eq!(leaf_hash(&got.body).to_vec(), h(s(e, "leaf_hash_hex")), "{}", s(e, "id"));
    }
}

#[test]
fn every_normalised_inclusion_proof_verifies_with_the_proof_index() {
    let mut verified = 0;
    for e in &normalised() {
        let got = only(parse_bundle(&as_bundle(vec![as_tlog_entry(e)])).expect("parses"));
        let id = s(e, "id");
        match (&got.inclusion_proof, s(&e["expected"], "leaf_inclusion")) {
            (Some(p), "valid") => {
                verify_inclusion(
                    p.log_index,
                    p.tree_size,
                    &leaf_hash(&got.body),
                    &proof_refs(p),
                    &p.root_hash,
                )
                .unwrap_or_else(|err| panic!("{id}: {err}"));
                let offset = e["virtual_index_minus_proof_index"].as_u64().expect("offset");
                assert_eq!(got.log_index - p.log_index, offset, "{id}: shard offset");
                verified += 1;
            }
            (None, "absent") => {}
            (p, want) => panic!("{id}: proof {p:?} but expectation {want}"),
        }
    }
    assert_eq!(verified, 23);
}

#[test]
fn every_valid_set_verifies_over_set_payload_with_the_log_key() {
    let mut verified = 0;
    for e in &normalised() {
        let got = only(parse_bundle(&as_bundle(vec![as_tlog_entry(e)])).expect("parses"));
        let id = s(e, "id");
        match s(&e["expected"], "set_signature") {
            "valid" => {
                let key = key_by_ref(s(e, "log_key_ref"));
                let set = got.signed_entry_timestamp.as_deref().expect("SET");
                assert!(key.verify(&set_payload(&got), set), "{id}: SET does not verify");
                verified += 1;
            }
            "absent" => {
                assert_eq!(got.signed_entry_timestamp, None, "{id}");
                assert_eq!(got.integrated_time, 0, "{id}: Rekor v2 has no integrated time");
            }
            other => panic!("{id}: unexpected expectation {other}"),
        }
    }
    assert_eq!(verified, 19);
}

#[test]
fn a_set_stops_verifying_when_any_signed_field_changes() {
    for e in normalised().iter().filter(|e| e["expected"]["set_signature"] == "valid") {
        let got = only(parse_bundle(&as_bundle(vec![as_tlog_entry(e)])).expect("parses"));
        let key = key_by_ref(s(e, "log_key_ref"));
        let set = got.signed_entry_timestamp.clone().expect("SET");
        let id = s(e, "id");
        let mut body = got.clone();
        if let Some(b) = body.body.last_mut() {
            *b ^= 1;
        }
        assert!(!key.verify(&set_payload(&body), &set), "{id}: flipped body");
        let index = LogEntry { log_index: got.log_index ^ 1, ..got.clone() };
        assert!(!key.verify(&set_payload(&index), &set), "{id}: flipped log index");
        let time = LogEntry { integrated_time: got.integrated_time ^ 1, ..got.clone() };
        assert!(!key.verify(&set_payload(&time), &set), "{id}: flipped integrated time");
        let mut log_id = got.clone();
        if let Some(b) = log_id.log_id.first_mut() {
            *b ^= 0x80;
        }
        assert!(!key.verify(&set_payload(&log_id), &set), "{id}: flipped log id");
        // The SET signs the global index: the shard-local proof index is not it.
        if let Some(p) = got.inclusion_proof.as_ref().filter(|p| p.log_index != got.log_index) {
            let local = LogEntry { log_index: p.log_index, ..got.clone() };
            assert!(!key.verify(&set_payload(&local), &set), "{id}: proof index in place of global");
        }
    }
}

#[test]
fn set_payload_is_rfc8785_json_with_base64_body_and_hex_log_id() {
    let e = LogEntry {
        uuid: None,
        body: b"{\"a\":1}".to_vec(),
        integrated_time: 1_675_209_600,
        log_id: vec![0xab; 32],
        log_index: 4_288_993,
        kind: None,
        kind_version: None,
        inclusion_proof: None,
        signed_entry_timestamp: None,
    };
    let want = format!(
        "{{\"body\":\"eyJhIjoxfQ==\",\"integratedTime\":1675209600,\"logID\":\"{}\",\"logIndex\":4288993}}",
        "ab".repeat(32)
    );
    assert_eq!(String::from_utf8(set_payload(&e)).expect("utf8"), want);
    // The same bytes as RFC 8785 of the JSON object Rekor builds.
    let v = json!({"logIndex": 4_288_993, "logID": "ab".repeat(32), "integratedTime": 1_675_209_600, "body": "eyJhIjoxfQ=="});
    assert_eq!(canonical_json(&v), set_payload(&e));
}

#[test]
fn set_payload_prints_integers_beyond_2_pow_53_as_the_double_rekor_canonicalizes() {
    let p = String::from_utf8(set_payload_parts(b"x", -1, &[0u8; 32], (1 << 53) + 1)).expect("utf8");
    assert!(p.ends_with(",\"logIndex\":9007199254740992}"), "{p}");
    assert!(p.contains("\"integratedTime\":-1,"), "{p}");
    let big = String::from_utf8(set_payload_parts(b"x", 0, &[0u8; 32], MAX_INT)).expect("utf8");
    assert!(big.ends_with(",\"logIndex\":9223372036854776000}"), "{big}");
}

// ---------------------------------------------------------------------------------------------
// RFC 8785
// ---------------------------------------------------------------------------------------------

#[test]
#[allow(clippy::excessive_precision)] // The RFC's literal, digit for digit.
fn canonical_json_matches_the_rfc_8785_example() {
    // RFC 8785 §3.2.4.
    // serde_json's default float parser is not correctly rounded (its float_roundtrip feature is
    // off), so the numbers are built from Rust literals, which are.
    let mut input =
        json(r#"{"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/","literals":[null,true,false]}"#);
    input["numbers"] =
        json!([333333333.33333329_f64, 1E30_f64, 4.50_f64, 2e-3_f64, 0.000000000000000000000000001_f64]);
    let want = "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\"string\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
    assert_eq!(String::from_utf8(canonical_json(&input)).expect("utf8"), want);
}

#[test]
fn canonical_json_sorts_member_names_by_utf16_code_units() {
    // RFC 8785 §3.2.3: U+1F600 (a surrogate pair D83D DE00) sorts before U+FB33.
    let input = r#"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew Letter Dalet With Dagesh","1":"One","\ud83d\ude00":"Emoji: Grinning Face","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis"}"#;
    let out = String::from_utf8(canonical_json(&json(input))).expect("utf8");
    let order: Vec<&str> =
        ["Carriage Return", "One", "Control", "Latin Small", "Euro Sign", "Emoji", "Hebrew"]
            .into_iter()
            .collect();
    let positions: Vec<usize> = order.iter().map(|w| out.find(w).expect("member present")).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{out}");
}

#[test]
fn canonical_json_formats_numbers_as_ecmascript() {
    let cases = [
        ("1e21", "1e+21"),
        ("1e20", "100000000000000000000"),
        ("123.456", "123.456"),
        ("-0.0000001", "-1e-7"),
        ("0.000001", "0.000001"),
        ("-0", "0"),
        ("5e-324", "5e-324"),
        ("1.7976931348623157e308", "1.7976931348623157e+308"),
        ("9007199254740993", "9007199254740992"),
        ("18446744073709551615", "18446744073709552000"),
        ("-42", "-42"),
    ];
    for (input, want) in cases {
        assert_eq!(String::from_utf8(canonical_json(&json(input))).expect("utf8"), want, "{input}");
    }
}

#[test]
fn canonical_json_numbers_are_the_nearest_double_so_canonicalizing_is_idempotent() {
    // Found by fuzz/canonical_json: serde_json's default float parser is not correctly rounded, so
    // 1234567890123456007199254740993 (nearest double 1.234567890123456e+30) became the neighbouring
    // double and was written 1.2345678901234561e+30, and parsing that gave yet another value.
    for input in ["1.234567890123456e+30", "1234567890123456007199254740993"] {
        let once = canonical_json(&json(input));
        assert_eq!(String::from_utf8(once.clone()).expect("utf8"), "1.234567890123456e+30", "{input}");
        let back: Value = serde_json::from_slice(&once).expect("canonical JSON parses");
        assert_eq!(canonical_json(&back), once, "{input}");
    }
}

#[test]
fn canonical_json_survives_deep_nesting_without_recursion() {
    let mut v = json!(1);
    for _ in 0..100_000 {
        v = Value::Array(vec![v]);
    }
    let out = canonical_json(&v);
    assert_eq!(out.len(), 200_001);
    // Dropping a deeply nested Value recurses inside serde_json; leak it to keep the test about us.
    std::mem::forget(v);
}

// ---------------------------------------------------------------------------------------------
// Upstream files, byte for byte
// ---------------------------------------------------------------------------------------------

#[test]
fn upstream_rest_entry_parses_and_its_proof_set_and_checkpoint_verify() {
    let got = only(parse_rest_response(&json(REST_ENTRY)).expect("parses"));
    assert_eq!(got.uuid.as_deref(), Some(REST_UUID));
    assert_eq!(got.log_index, 1688);
    assert_eq!(got.integrated_time, 1_656_448_131);
    assert_eq!(got.kind, None);
    assert_eq!(leaf_hash(&got.body).to_vec(), h(REST_UUID));
    let p = got.inclusion_proof.as_ref().expect("proof");
    assert_eq!((p.log_index, p.tree_size, p.hashes.len()), (1227, 14358, 14));
    verify_inclusion(p.log_index, p.tree_size, &leaf_hash(&got.body), &proof_refs(p), &p.root_hash)
        .expect("proof");
    let (key, signer) = key_by_log_id(&got.log_id);
    assert!(key.verify(&set_payload(&got), got.signed_entry_timestamp.as_deref().expect("SET")));
    let cp = parse_checkpoint(p.checkpoint.as_deref().expect("checkpoint").as_bytes()).expect("checkpoint");
    assert_eq!((cp.tree_size, cp.root_hash), (p.tree_size, p.root_hash));
    assert!(cp.verify(&key, &signer));
}

#[test]
fn upstream_rekor_v2_rest_answer_is_one_bare_tlog_entry() {
    let v = json(REST_ENTRY_V2);
    let got = only(parse_rest_response(&v).expect("parses"));
    assert_eq!(got, parse_tlog_entry(&v).expect("parses as a tlog entry"));
    assert_eq!(got.uuid, None);
    assert_eq!((got.log_index, got.integrated_time), (743, 0));
    assert_eq!((got.kind.as_deref(), got.kind_version.as_deref()), (Some("hashedrekord"), Some("0.0.2")));
    assert_eq!(got.signed_entry_timestamp, None);
    let p = got.inclusion_proof.as_ref().expect("proof");
    assert_eq!((p.log_index, p.tree_size), (743, 744));
    verify_inclusion(p.log_index, p.tree_size, &leaf_hash(&got.body), &proof_refs(p), &p.root_hash)
        .expect("proof");
    let (key, signer) = key_by_log_id(&got.log_id);
    let cp = parse_checkpoint(p.checkpoint.as_deref().expect("checkpoint").as_bytes()).expect("checkpoint");
    assert_eq!((cp.tree_size, cp.root_hash), (p.tree_size, p.root_hash));
    assert!(cp.verify(&key, &signer));
}

#[test]
fn upstream_bundles_parse_and_their_proofs_sets_and_checkpoints_verify() {
    for (name, text) in UPSTREAM_BUNDLES {
        let got = only(parse_bundle(&json(text)).expect("parses"));
        let p = got.inclusion_proof.as_ref().expect("proof");
        verify_inclusion(p.log_index, p.tree_size, &leaf_hash(&got.body), &proof_refs(p), &p.root_hash)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let (key, signer) = key_by_log_id(&got.log_id);
        match &got.signed_entry_timestamp {
            Some(set) => assert!(key.verify(&set_payload(&got), set), "{name}: SET"),
            None => assert_eq!(got.integrated_time, 0, "{name}: v2 entry"),
        }
        let cp =
            parse_checkpoint(p.checkpoint.as_deref().expect("checkpoint").as_bytes()).expect("checkpoint");
        assert_eq!((cp.tree_size, cp.root_hash), (p.tree_size, p.root_hash), "{name}");
        assert!(cp.verify(&key, &signer), "{name}: checkpoint signature");
        let body = parse_body(&got.body).expect("body");
        assert_eq!(Some(body.kind), got.kind, "{name}");
        assert_eq!(Some(body.api_version), got.kind_version, "{name}");
    }
}

#[test]
fn upstream_bundle_indexes_are_global_for_v1_and_equal_for_v2() {
    let v1 = only(parse_bundle(&json(BUNDLE_V03)).expect("parses"));
    let p = v1.inclusion_proof.expect("proof");
    // The 2605736670972794746 shard starts at global index 4163431 (FORMATS.md).
    assert_eq!(v1.log_index - p.log_index, 4_163_431);
    let v2 = only(parse_bundle(&json(BUNDLE_REKOR_V2)).expect("parses"));
    assert_eq!(v2.log_index, v2.inclusion_proof.expect("proof").log_index);
}

#[test]
fn message_signature_bundles_log_the_same_digest_and_signature_as_their_body() {
    for text in [BUNDLE_V03, BUNDLE_REKOR_V2] {
        let bundle = json(text);
        let got = only(parse_bundle(&bundle).expect("parses"));
        let body = parse_body(&got.body).expect("body");
        let ms = &bundle["messageSignature"];
        let artifact = Digest {
            role: DigestRole::Artifact,
            algorithm: "sha256".into(),
            value: b64(s(&ms["messageDigest"], "digest")),
        };
        assert_eq!(body.digests, vec![artifact]);
        assert_eq!(body.signature, Some(b64(s(ms, "signature"))));
    }
}

// ---------------------------------------------------------------------------------------------
// Leniency that is deliberate
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_fields_are_ignored_in_both_shapes() {
    let mut b = json(BUNDLE_V03);
    b["verificationMaterial"]["tlogEntries"][0]["futureField"] = json!({"x": [1, 2]});
    b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["futureField"] = json!(true);
    assert_eq!(parse_bundle(&b).expect("parses"), parse_bundle(&json(BUNDLE_V03)).expect("parses"));
    let mut r = json(REST_ENTRY);
    r[REST_UUID]["attestation"] = json!({"data": "e30="});
    r[REST_UUID]["verification"]["futureField"] = json!(1);
    assert_eq!(
        parse_rest_response(&r).expect("parses"),
        parse_rest_response(&json(REST_ENTRY)).expect("parses")
    );
}

#[test]
fn mixed_case_hex_and_uuid_are_stored_as_bytes_and_lowercase() {
    let mut r = json(REST_ENTRY);
    let mut entry = r[REST_UUID].take();
    let root = s(&entry["verification"]["inclusionProof"], "rootHash").to_ascii_uppercase();
    entry["verification"]["inclusionProof"]["rootHash"] = json!(root);
    entry["logID"] = json!(s(&entry, "logID").to_ascii_uppercase());
    let mut out = Map::new();
    out.insert(REST_UUID.to_ascii_uppercase(), entry);
    r = Value::Object(out);
    assert_eq!(
        parse_rest_response(&r).expect("parses"),
        parse_rest_response(&json(REST_ENTRY)).expect("parses")
    );
}

#[test]
fn bundle_base64_may_be_url_safe_or_unpadded_as_protobuf_json_allows() {
    let mut b = json(BUNDLE_V03);
    let t = &mut b["verificationMaterial"]["tlogEntries"][0];
    let key = s(&t["logId"], "keyId").replace('+', "-").replace('/', "_").trim_end_matches('=').to_string();
    t["logId"]["keyId"] = json!(key);
    let body = s(t, "canonicalizedBody").trim_end_matches('=').to_string();
    t["canonicalizedBody"] = json!(body);
    assert_eq!(parse_bundle(&b).expect("parses"), parse_bundle(&json(BUNDLE_V03)).expect("parses"));
}

#[test]
fn bundle_integers_may_be_json_numbers_too() {
    let mut b = json(BUNDLE_V03);
    let t = &mut b["verificationMaterial"]["tlogEntries"][0];
    t["logIndex"] = json!(41_958_702u64);
    t["integratedTime"] = json!(1_697_034_484u64);
    t["inclusionProof"]["treeSize"] = json!(37_795_272u64);
    t["inclusionProof"]["logIndex"] = json!(37_795_271u64);
    assert_eq!(parse_bundle(&b).expect("parses"), parse_bundle(&json(BUNDLE_V03)).expect("parses"));
}

#[test]
fn absent_bundle_integers_are_protobuf_zero_defaults() {
    let mut b = json(BUNDLE_REKOR_V2);
    let t = &mut b["verificationMaterial"]["tlogEntries"][0];
    t.as_object_mut().expect("entry").remove("logIndex");
    t["inclusionProof"].as_object_mut().expect("proof").remove("logIndex");
    let got = only(parse_bundle(&b).expect("parses"));
    assert_eq!(got.log_index, 0);
    assert_eq!(got.inclusion_proof.expect("proof").log_index, 0);
    assert_eq!(got.integrated_time, 0);
}

#[test]
fn null_fields_count_as_absent() {
    let mut b = json(BUNDLE_V03);
    let t = &mut b["verificationMaterial"]["tlogEntries"][0];
    t["inclusionProof"] = Value::Null;
    t["inclusionPromise"] = Value::Null;
    let got = only(parse_bundle(&b).expect("parses"));
    assert_eq!((got.inclusion_proof, got.signed_entry_timestamp), (None, None));
}

#[test]
fn a_missing_proof_or_checkpoint_is_allowed() {
    let mut b = json(BUNDLE_V03);
    b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
        .as_object_mut()
        .expect("proof")
        .remove("checkpoint");
    let got = only(parse_bundle(&b).expect("parses"));
    assert_eq!(got.inclusion_proof.expect("proof").checkpoint, None);
    let mut r = json(REST_ENTRY);
    r[REST_UUID]["verification"].as_object_mut().expect("verification").remove("inclusionProof");
    assert_eq!(only(parse_rest_response(&r).expect("parses")).inclusion_proof, None);
}

#[test]
fn all_accepted_bundle_media_types_parse() {
    for mt in BUNDLE_MEDIA_TYPES {
        let mut b = json(BUNDLE_V03);
        b["mediaType"] = json!(mt);
        assert!(parse_bundle(&b).is_ok(), "{mt}");
    }
}

#[test]
fn a_rest_response_with_several_entries_yields_all_of_them() {
    let extra = normalised().into_iter().find(|e| e["rekor_api_entry_uuid"].is_string()).expect("REST entry");
    let mut r = json(REST_ENTRY);
    let (k, v) = as_rest_response(&extra)
        .as_object()
        .expect("obj")
        .iter()
        .next()
        .map(|(k, v)| (k.clone(), v.clone()))
        .expect("one");
    r[k.as_str()] = v;
    let got = parse_rest_response(&r).expect("parses");
    let mut uuids: Vec<&str> = got.iter().filter_map(|e| e.uuid.as_deref()).collect();
    uuids.sort();
    assert_eq!(uuids, vec![k.as_str(), REST_UUID]);
}

#[test]
fn an_80_digit_uuid_carries_the_shard_tree_id() {
    let tree = "1193050959916656506";
    let prefix = format!("{:016x}", tree.parse::<u64>().expect("tree id"));
    let uuid = format!("{prefix}{REST_UUID}");
    assert_eq!(uuid_tree_id(&uuid), Some(1_193_050_959_916_656_506));
    assert_eq!(uuid_leaf_hash(&uuid).expect("leaf").to_vec(), h(REST_UUID));
    assert_eq!(uuid_tree_id(REST_UUID), None);
    assert_eq!(uuid_tree_id(&format!("+{}", &uuid[1..])), None);
    let mut r = json(REST_ENTRY);
    let entry = r[REST_UUID].take();
    let mut out = Map::new();
    out.insert(uuid.clone(), entry);
    r = Value::Object(out);
    assert_eq!(only(parse_rest_response(&r).expect("parses")).uuid, Some(uuid));
}

#[test]
fn uuid_leaf_hash_rejects_wrong_lengths_and_non_hex() {
    for bad in ["", "abc", &REST_UUID[1..], &format!("{REST_UUID}0"), &format!("g{}", &REST_UUID[1..])] {
        let e = uuid_leaf_hash(bad).expect_err(bad);
        assert!(matches!(e, EntryError::BadUuid { .. }), "{bad}: {e}");
        assert!(e.to_string().starts_with("uuid: "), "{e}");
    }
}

// ---------------------------------------------------------------------------------------------
// Every error names its path
// ---------------------------------------------------------------------------------------------

/// A change to a copy of a fixture document.
type Mutation = Box<dyn FnOnce(&mut Value)>;

fn bundle_error(mutate: impl FnOnce(&mut Value)) -> EntryError {
    let mut b = json(BUNDLE_V03);
    mutate(&mut b);
    parse_bundle(&b).expect_err("mutated bundle must be rejected")
}

fn tlog(b: &mut Value) -> &mut Value {
    &mut b["verificationMaterial"]["tlogEntries"][0]
}

fn remove(v: &mut Value, key: &str) {
    v.as_object_mut().expect("object").remove(key);
}

fn assert_path(e: &EntryError, path: &str, needle: &str) {
    assert_eq!(e.path(), path, "{e}");
    let text = e.to_string();
    assert!(text.starts_with(&format!("{path}: ")), "{text}");
    assert!(text.contains(needle), "{text:?} lacks {needle:?}");
}

#[test]
fn bundle_errors_name_the_missing_field() {
    let p = BUNDLE_PREFIX;
    let cases: Vec<(Mutation, String)> = vec![
        (Box::new(|b| remove(tlog(b), "canonicalizedBody")), format!("{p}.canonicalizedBody")),
        (Box::new(|b| remove(tlog(b), "logId")), format!("{p}.logId")),
        (Box::new(|b| remove(&mut tlog(b)["logId"], "keyId")), format!("{p}.logId.keyId")),
        (
            Box::new(|b| remove(&mut tlog(b)["inclusionProof"], "treeSize")),
            format!("{p}.inclusionProof.treeSize"),
        ),
        (
            Box::new(|b| remove(&mut tlog(b)["inclusionProof"], "rootHash")),
            format!("{p}.inclusionProof.rootHash"),
        ),
        (
            Box::new(|b| remove(&mut tlog(b)["inclusionPromise"], "signedEntryTimestamp")),
            format!("{p}.inclusionPromise.signedEntryTimestamp"),
        ),
        (
            Box::new(|b| remove(&mut b["verificationMaterial"], "tlogEntries")),
            "verificationMaterial.tlogEntries".into(),
        ),
        (Box::new(|b| remove(b, "verificationMaterial")), "verificationMaterial".into()),
        (Box::new(|b| remove(b, "mediaType")), "mediaType".into()),
    ];
    for (mutate, path) in cases {
        let e = bundle_error(mutate);
        assert!(matches!(e, EntryError::Missing { .. }), "{e}");
        assert_path(&e, &path, "required field is missing");
    }
}

#[test]
fn bundle_errors_name_the_field_with_the_wrong_type() {
    let p = BUNDLE_PREFIX;
    let cases: Vec<(Mutation, String, &str)> = vec![
        (
            Box::new(|b| tlog(b)["logIndex"] = json!(true)),
            format!("{p}.logIndex"),
            "expected a decimal string or an integer, got boolean",
        ),
        (
            Box::new(|b| tlog(b)["inclusionProof"]["treeSize"] = json!([1])),
            format!("{p}.inclusionProof.treeSize"),
            "got array",
        ),
        (
            Box::new(|b| tlog(b)["inclusionProof"]["rootHash"] = json!(7)),
            format!("{p}.inclusionProof.rootHash"),
            "expected a base64 string, got number",
        ),
        (
            Box::new(|b| tlog(b)["inclusionProof"]["hashes"] = json!("abc")),
            format!("{p}.inclusionProof.hashes"),
            "expected an array, got string",
        ),
        (
            Box::new(|b| tlog(b)["inclusionProof"]["hashes"][2] = json!({})),
            format!("{p}.inclusionProof.hashes[2]"),
            "got object",
        ),
        (
            Box::new(|b| tlog(b)["inclusionProof"]["checkpoint"]["envelope"] = json!(1)),
            format!("{p}.inclusionProof.checkpoint.envelope"),
            "expected a string",
        ),
        (
            Box::new(|b| tlog(b)["inclusionProof"]["checkpoint"] = json!("text")),
            format!("{p}.inclusionProof.checkpoint"),
            "expected an object",
        ),
        (
            Box::new(|b| tlog(b)["kindVersion"]["kind"] = json!(1)),
            format!("{p}.kindVersion.kind"),
            "expected a string, got number",
        ),
        (
            Box::new(|b| tlog(b)["logId"] = json!("wNI9")),
            format!("{p}.logId"),
            "expected an object, got string",
        ),
        (
            Box::new(|b| tlog(b)["canonicalizedBody"] = json!({})),
            format!("{p}.canonicalizedBody"),
            "got object",
        ),
        (Box::new(|b| b["verificationMaterial"]["tlogEntries"][0] = json!([])), p.to_string(), "got array"),
        (
            Box::new(|b| b["verificationMaterial"]["tlogEntries"] = json!({})),
            "verificationMaterial.tlogEntries".into(),
            "expected an array",
        ),
        (Box::new(|b| b["mediaType"] = json!(3)), "mediaType".into(), "expected a string"),
        (Box::new(|b| *b = json!([])), "$".into(), "expected an object (a Sigstore bundle), got array"),
    ];
    for (mutate, path, needle) in cases {
        let e = bundle_error(mutate);
        assert_path(&e, &path, needle);
    }
}

#[test]
fn bundle_integers_must_be_non_negative_int64_in_canonical_decimal() {
    let p = BUNDLE_PREFIX;
    let cases: Vec<(Value, &str)> = vec![
        (json!("-1"), "must not be negative"),
        (json!(-1), "must not be negative"),
        (json!(-1.0), "must not be negative"),
        (json!("9223372036854775808"), "beyond the int64 maximum"),
        (json!(9_223_372_036_854_775_808u64), "beyond the int64 maximum"),
        (json!(1e30), "beyond the int64 maximum"),
        (json!("99999999999999999999999"), "beyond the int64 maximum"),
        (json!(1.5), "expected a non-negative integer, got the number 1.5"),
        (json!("1.5"), "expected a decimal string"),
        (json!("1e3"), "expected a decimal string"),
        (json!("+5"), "expected a decimal string"),
        (json!(" 5"), "expected a decimal string"),
        (json!("007"), "expected a decimal string"),
        (json!(""), "expected a decimal string"),
        (json!("-"), "expected a decimal string"),
    ];
    for (field, value_path) in
        [("logIndex", format!("{p}.logIndex")), ("integratedTime", format!("{p}.integratedTime"))]
    {
        for (value, needle) in &cases {
            let v = value.clone();
            let e = bundle_error(|b| tlog(b)[field] = v);
            assert_path(&e, &value_path, needle);
        }
    }
    for (value, needle) in &cases {
        let v = value.clone();
        let e = bundle_error(|b| tlog(b)["inclusionProof"]["treeSize"] = v);
        assert_path(&e, &format!("{p}.inclusionProof.treeSize"), needle);
    }
    let ok = json!("9223372036854775807");
    let mut b = json(BUNDLE_V03);
    tlog(&mut b)["logIndex"] = ok;
    assert_eq!(only(parse_bundle(&b).expect("int64 max is fine")).log_index, MAX_INT);
}

#[test]
fn bundle_hash_and_id_errors_name_the_field() {
    let p = BUNDLE_PREFIX;
    let b33 = STANDARD.encode([7u8; 33]);
    let b31 = STANDARD.encode([7u8; 31]);
    let hash = STANDARD.encode([7u8; 32]);
    let e = bundle_error(|b| tlog(b)["inclusionProof"]["hashes"][0] = json!(b33));
    assert_path(&e, &format!("{p}.inclusionProof.hashes[0]"), "proof hash is 33 bytes, want 32");
    let e = bundle_error(|b| tlog(b)["inclusionProof"]["rootHash"] = json!(b31));
    assert_path(&e, &format!("{p}.inclusionProof.rootHash"), "root hash is 31 bytes, want 32");
    let e = bundle_error(|b| tlog(b)["inclusionProof"]["rootHash"] = json!("not base64!"));
    assert_path(&e, &format!("{p}.inclusionProof.rootHash"), "invalid base64");
    let e = bundle_error(|b| tlog(b)["logId"]["keyId"] = json!(STANDARD.encode([1u8; 31])));
    assert_path(&e, &format!("{p}.logId.keyId"), "log ID is 31 bytes, want 32");
    let e = bundle_error(|b| tlog(b)["logId"]["keyId"] = json!("a+b_"));
    assert_path(&e, &format!("{p}.logId.keyId"), "invalid base64");
    let e = bundle_error(|b| tlog(b)["canonicalizedBody"] = json!(""));
    assert_path(&e, &format!("{p}.canonicalizedBody"), "must not be empty");
    let e = bundle_error(|b| tlog(b)["inclusionPromise"]["signedEntryTimestamp"] = json!("%%"));
    assert_path(&e, &format!("{p}.inclusionPromise.signedEntryTimestamp"), "invalid base64");
    let e = bundle_error(|b| tlog(b)["inclusionPromise"]["signedEntryTimestamp"] = json!(""));
    assert_path(&e, &format!("{p}.inclusionPromise.signedEntryTimestamp"), "must not be empty");
    let hashes: Vec<Value> = (0..65).map(|_| json!(hash)).collect();
    let e = bundle_error(|b| tlog(b)["inclusionProof"]["hashes"] = Value::Array(hashes));
    assert!(matches!(e, EntryError::TooManyHashes { got: 65, .. }), "{e}");
    assert_path(&e, &format!("{p}.inclusionProof.hashes"), "65 hashes, more than the limit of 64");
    let e = bundle_error(|b| {
        tlog(b)["inclusionProof"]["checkpoint"]["envelope"] = json!("x".repeat(MAX_CHECKPOINT_BYTES + 1))
    });
    assert_path(&e, &format!("{p}.inclusionProof.checkpoint.envelope"), "more than the limit");
}

#[test]
fn a_proof_index_must_be_below_the_tree_size() {
    let p = BUNDLE_PREFIX;
    for (index, size) in [("37795272", "37795272"), ("5", "3"), ("0", "0")] {
        let e = bundle_error(|b| {
            tlog(b)["inclusionProof"]["logIndex"] = json!(index);
            tlog(b)["inclusionProof"]["treeSize"] = json!(size);
        });
        assert_path(
            &e,
            &format!("{p}.inclusionProof.logIndex"),
            &format!("proof log index {index} is not below tree size {size}"),
        );
    }
}

#[test]
fn bundle_entry_count_and_media_type_are_checked() {
    let e = bundle_error(|b| b["verificationMaterial"]["tlogEntries"] = json!([]));
    assert_path(&e, "verificationMaterial.tlogEntries", "no log entries");
    let e = bundle_error(|b| {
        let one = tlog(b).clone();
        b["verificationMaterial"]["tlogEntries"] = Value::Array(vec![one; MAX_ENTRIES + 1]);
    });
    assert_path(&e, "verificationMaterial.tlogEntries", "1001 entries, more than the limit of 1000");
    let e = bundle_error(|b| b["mediaType"] = json!("application/vnd.dev.sigstore.bundle.v0.4+json"));
    assert_path(&e, "mediaType", "unsupported bundle media type");
    // The second entry's errors carry its own index.
    let e = bundle_error(|b| {
        let mut two = tlog(b).clone();
        two["logIndex"] = json!("x");
        b["verificationMaterial"]["tlogEntries"] = json!([tlog(b).clone(), two]);
    });
    assert_path(&e, "verificationMaterial.tlogEntries[1].logIndex", "expected a decimal string");
}

fn rest_error(mutate: impl FnOnce(&mut Value)) -> EntryError {
    let mut r = json(REST_ENTRY);
    mutate(&mut r[REST_UUID]);
    parse_rest_response(&r).expect_err("mutated response must be rejected")
}

#[test]
fn rest_errors_name_the_field() {
    let p = format!("[\"{REST_UUID}\"]");
    for field in ["body", "integratedTime", "logID", "logIndex"] {
        let e = rest_error(|r| remove(r, field));
        assert_path(&e, &format!("{p}.{field}"), "required field is missing");
    }
    for field in ["logIndex", "treeSize", "rootHash", "hashes"] {
        let e = rest_error(|r| remove(&mut r["verification"]["inclusionProof"], field));
        assert_path(&e, &format!("{p}.verification.inclusionProof.{field}"), "required field is missing");
    }
    let cases: Vec<(Mutation, String, &str)> = vec![
        (
            Box::new(|r| r["logIndex"] = json!("1688")),
            format!("{p}.logIndex"),
            "expected an integer, got string",
        ),
        (Box::new(|r| r["logIndex"] = json!(-1)), format!("{p}.logIndex"), "must not be negative, got -1"),
        (
            Box::new(|r| r["logIndex"] = json!(9_223_372_036_854_775_808u64)),
            format!("{p}.logIndex"),
            "beyond the int64 maximum",
        ),
        (
            Box::new(|r| r["logIndex"] = json!(1688.5)),
            format!("{p}.logIndex"),
            "expected a non-negative integer",
        ),
        (
            Box::new(|r| r["integratedTime"] = json!(-1656448131)),
            format!("{p}.integratedTime"),
            "must not be negative",
        ),
        (
            Box::new(|r| r["integratedTime"] = json!(null)),
            format!("{p}.integratedTime"),
            "required field is missing",
        ),
        (Box::new(|r| r["logID"] = json!("zz")), format!("{p}.logID"), "invalid hex"),
        (Box::new(|r| r["logID"] = json!("abc")), format!("{p}.logID"), "invalid hex"),
        (
            Box::new(|r| r["logID"] = json!("ab".repeat(33))),
            format!("{p}.logID"),
            "log ID is 33 bytes, want 32",
        ),
        (Box::new(|r| r["logID"] = json!(12)), format!("{p}.logID"), "expected a string, got number"),
        (Box::new(|r| r["body"] = json!("")), format!("{p}.body"), "must not be empty"),
        (Box::new(|r| r["body"] = json!("e30=e30=")), format!("{p}.body"), "invalid base64"),
        (
            Box::new(|r| r["verification"] = json!([])),
            format!("{p}.verification"),
            "expected an object, got array",
        ),
        (
            Box::new(|r| r["verification"]["inclusionProof"]["rootHash"] = json!("ab".repeat(33))),
            format!("{p}.verification.inclusionProof.rootHash"),
            "root hash is 33 bytes, want 32",
        ),
        (
            Box::new(|r| r["verification"]["inclusionProof"]["rootHash"] = json!(STANDARD.encode([0u8; 32]))),
            format!("{p}.verification.inclusionProof.rootHash"),
            "invalid hex",
        ),
        (
            Box::new(|r| r["verification"]["inclusionProof"]["hashes"][3] = json!("xyz")),
            format!("{p}.verification.inclusionProof.hashes[3]"),
            "invalid hex",
        ),
        (
            Box::new(|r| r["verification"]["inclusionProof"]["treeSize"] = json!("14358")),
            format!("{p}.verification.inclusionProof.treeSize"),
            "expected an integer, got string",
        ),
        (
            Box::new(|r| r["verification"]["inclusionProof"]["treeSize"] = json!(1227)),
            format!("{p}.verification.inclusionProof.logIndex"),
            "proof log index 1227 is not below tree size 1227",
        ),
        (
            Box::new(|r| r["verification"]["inclusionProof"]["checkpoint"] = json!({})),
            format!("{p}.verification.inclusionProof.checkpoint"),
            "expected a string, got object",
        ),
        (
            Box::new(|r| r["verification"]["signedEntryTimestamp"] = json!("")),
            format!("{p}.verification.signedEntryTimestamp"),
            "must not be empty",
        ),
        (
            Box::new(|r| r["verification"]["signedEntryTimestamp"] = json!(false)),
            format!("{p}.verification.signedEntryTimestamp"),
            "expected a string, got boolean",
        ),
        (Box::new(|r| *r = json!("entry")), p.clone(), "expected an object (a log entry), got string"),
    ];
    for (mutate, path, needle) in cases {
        let e = rest_error(mutate);
        assert_path(&e, &path, needle);
    }
    let hashes: Vec<Value> = (0..65).map(|_| json!("ab".repeat(32))).collect();
    let e = rest_error(|r| r["verification"]["inclusionProof"]["hashes"] = Value::Array(hashes));
    assert_path(&e, &format!("{p}.verification.inclusionProof.hashes"), "65 hashes");
}

#[test]
fn rest_uuids_must_be_hex_of_the_right_length_and_match_the_body() {
    let entry = json(REST_ENTRY)[REST_UUID].clone();
    let with_key = |k: &str| {
        let mut m = Map::new();
        m.insert(k.to_string(), entry.clone());
        parse_rest_response(&Value::Object(m))
    };
    for bad in [&REST_UUID[1..], "canonical", &format!("{REST_UUID}00")] {
        let e = with_key(bad).expect_err(bad);
        assert_path(&e, &format!("[{bad:?}]"), "entry UUID must be 64 or 80 hex digits");
    }
    let other = "00".repeat(32);
    let e = with_key(&other).expect_err("mismatch");
    assert!(matches!(e, EntryError::UuidBodyMismatch { .. }), "{e}");
    assert_path(&e, &format!("[{other:?}]"), &format!("is not the body's leaf hash {REST_UUID}"));
    let long = "f".repeat(500);
    let e = with_key(&long).expect_err("long key");
    assert!(e.to_string().len() < 300 && !e.to_string().contains(&long), "long keys are shortened: {e}");
}

#[test]
fn rest_response_shape_errors_name_the_document() {
    let e = parse_rest_response(&json!({})).expect_err("empty");
    assert_path(&e, "$", "no log entries");
    let e = parse_rest_response(&json!([])).expect_err("array");
    assert_path(&e, "$", "expected an object keyed by entry UUID, got array");
    let entry = json(REST_ENTRY)[REST_UUID].clone();
    let mut m = Map::new();
    for i in 0..=MAX_ENTRIES {
        m.insert(format!("{i:064x}"), entry.clone());
    }
    let e = parse_rest_response(&Value::Object(m)).expect_err("too many");
    assert_path(&e, "$", "1001 entries, more than the limit of 1000");
}

#[test]
fn rekor_v2_rest_answer_errors_name_top_level_fields() {
    let mut v = json(REST_ENTRY_V2);
    v["inclusionProof"]["treeSize"] = json!("-744");
    let e = parse_rest_response(&v).expect_err("negative");
    assert_path(&e, "inclusionProof.treeSize", "must not be negative");
    let mut v = json(REST_ENTRY_V2);
    remove(&mut v, "logId");
    assert_path(&parse_tlog_entry(&v).expect_err("missing"), "logId", "required field is missing");
}

// ---------------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------------

fn all_fixture_bodies() -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> =
        normalised().iter().map(|e| (s(e, "id").to_string(), b64(s(e, "canonicalized_body_b64")))).collect();
    for (name, text) in UPSTREAM_BUNDLES {
        out.push((name.into(), only(parse_bundle(&json(text)).expect("parses")).body));
    }
    out.push(("rest-entry".into(), only(parse_rest_response(&json(REST_ENTRY)).expect("parses")).body));
    out.push(("rest-entry-2".into(), only(parse_rest_response(&json(REST_ENTRY_V2)).expect("parses")).body));
    for (i, b) in json(DEMO_BODIES).as_array().expect("bodies").iter().enumerate() {
        out.push((format!("demo_bodies[{i}]"), b64(b.as_str().expect("b64"))));
    }
    out
}

fn roles(p: &ParsedBody) -> Vec<DigestRole> {
    p.digests.iter().map(|d| d.role).collect()
}

#[test]
fn every_fixture_body_parses_with_digests_signature_and_key() {
    let bodies = all_fixture_bodies();
    assert_eq!(bodies.len(), 35);
    for (name, body) in &bodies {
        let p = parse_body(body).unwrap_or_else(|e| panic!("{name}: {e}"));
        let raw = json(std::str::from_utf8(body).expect("utf8"));
        assert_eq!(p.kind, s(&raw, "kind"), "{name}");
        assert_eq!(p.api_version, s(&raw, "apiVersion"), "{name}");
        assert!(!p.digests.is_empty(), "{name}: no digests");
        for d in &p.digests {
            let want = match d.algorithm.as_str() {
                "sha256" => 32,
                "sha384" => 48,
                "sha512" => 64,
                other => panic!("{name}: algorithm {other}"),
            };
            assert_eq!(d.value.len(), want, "{name}: {d:?}");
        }
        assert!(p.public_key.is_some(), "{name}: no key");
        assert!(p.signature.is_some() && !p.signatures.is_empty(), "{name}: no signature");
        match (p.kind.as_str(), p.api_version.as_str()) {
            ("hashedrekord", "0.0.1") => {
                assert_eq!(roles(&p), vec![DigestRole::Artifact], "{name}");
                let want = h(s(&raw["spec"]["data"]["hash"], "value"));
                assert_eq!(p.digests[0].value, want, "{name}");
                assert!(p.public_key.as_deref().expect("key").starts_with(b"-----BEGIN "), "{name}");
            }
            ("hashedrekord", "0.0.2") => {
                assert_eq!(roles(&p), vec![DigestRole::Artifact], "{name}");
                let want = b64(s(&raw["spec"]["hashedRekordV002"]["data"], "digest"));
                assert_eq!(p.digests[0].value, want, "{name}");
                assert_eq!(p.digests[0].algorithm, "sha256", "{name}");
                // Rekor v2 logs DER: a certificate or key is an ASN.1 SEQUENCE.
                assert_eq!(p.public_key.as_deref().and_then(|k| k.first()), Some(&0x30), "{name}");
            }
            ("dsse", "0.0.1") => {
                assert_eq!(roles(&p), vec![DigestRole::Payload, DigestRole::Envelope], "{name}");
                assert_eq!(p.digests[0].value, h(s(&raw["spec"]["payloadHash"], "value")), "{name}");
                assert_eq!(p.digests[1].value, h(s(&raw["spec"]["envelopeHash"], "value")), "{name}");
            }
            ("intoto", "0.0.2") => {
                let r = roles(&p);
                assert_eq!(r[..2], [DigestRole::Envelope, DigestRole::Payload], "{name}");
                assert!(r[2..].iter().all(|x| *x == DigestRole::Subject), "{name}");
            }
            other => panic!("{name}: unexpected kind {other:?}"),
        }
        // Signatures are DER ECDSA here (the RSA entry's is a raw 384-byte PKCS#1 v1.5 block).
        let sig = p.signature.as_deref().expect("sig");
        assert!(sig.first() == Some(&0x30) || sig.len() == 384, "{name}: signature {}", hex::encode(sig));
    }
}

#[test]
fn the_sha384_hashedrekord_body_yields_a_48_byte_sha384_digest() {
    let e = normalised()
        .into_iter()
        .find(|e| e["id"] == "production-v1-hashedrekord-0.0.1-1633569217")
        .expect("entry");
    let p = parse_body(&b64(s(&e, "canonicalized_body_b64"))).expect("parses");
    assert_eq!(p.digests.len(), 1);
    assert_eq!((p.digests[0].algorithm.as_str(), p.digests[0].value.len()), ("sha384", 48));
}

#[test]
fn intoto_bodies_with_the_envelope_yield_the_statement_subjects() {
    let e = normalised()
        .into_iter()
        .find(|e| e["id"] == "conformance-local-test-log-v1-intoto-0.0.2-4288993")
        .expect("entry");
    let body = b64(s(&e, "canonicalized_body_b64"));
    let p = parse_body(&body).expect("parses");
    let subject = Digest {
        role: DigestRole::Subject,
        algorithm: "sha256".into(),
        value: h("330a043220fa13e01d68a7db39c89e12b0c4c3b6a0346fe624b0903f1303b5b2"),
    };
    assert!(p.digests.contains(&subject), "{:?}", p.digests);
    // The payload is base64 twice over; decoded, it is what payloadHash covers.
    let raw = json(std::str::from_utf8(&body).expect("utf8"));
    let once = b64(s(&raw["spec"]["content"]["envelope"], "payload"));
    let statement = b64(std::str::from_utf8(&once).expect("utf8"));
    let payload_hash = Sha256::digest(&statement).to_vec();
    assert!(p.digests.iter().any(|d| d.role == DigestRole::Payload && d.value == payload_hash));
    assert_eq!(intoto_subject_digests(&statement), vec![subject]);
    // The envelope signature is decoded twice too, down to DER.
    assert_eq!(p.signature.as_deref().and_then(|s| s.first()), Some(&0x30));
}

#[test]
fn intoto_subject_extraction_is_best_effort() {
    assert!(intoto_subject_digests(b"not json").is_empty());
    assert!(intoto_subject_digests(b"{\"subject\":5}").is_empty());
    let st = json!({"subject": [
        {"digest": {"sha256": "ab".repeat(32), "sha1": "ab".repeat(20), "sha512": "zz"}},
        {"digest": {"SHA256": "AB".repeat(32), "sha384": "cd".repeat(47)}},
        {"name": "no digest"},
    ]});
    let got = intoto_subject_digests(&serde_json::to_vec(&st).expect("json"));
    assert_eq!(
        got,
        vec![Digest { role: DigestRole::Subject, algorithm: "sha256".into(), value: vec![0xab; 32] }]
    );
}

#[test]
fn an_unknown_kind_parses_with_no_digests() {
    let p = parse_body(br#"{"kind":"foo","apiVersion":"1","spec":{}}"#).expect("parses");
    assert_eq!((p.kind.as_str(), p.api_version.as_str()), ("foo", "1"));
    assert!(p.digests.is_empty() && p.signature.is_none() && p.public_key.is_none());
    for kind in ["rfc3161", "tuf"] {
        let body =
            format!(r#"{{"kind":"{kind}","apiVersion":"0.0.1","spec":{{"tsr":{{"content":"AA=="}}}}}}"#);
        assert!(parse_body(body.as_bytes()).expect("parses").digests.is_empty(), "{kind}");
    }
}

#[test]
fn body_structure_errors_name_the_field() {
    let cases: Vec<(&[u8], &str, &str)> = vec![
        (b"not json", "$", "not JSON"),
        (b"", "$", "not JSON"),
        (b"[1]", "$", "expected an object {kind, apiVersion, spec}, got array"),
        (br#"{"apiVersion":"1","spec":{}}"#, "kind", "required field is missing"),
        (br#"{"kind":7,"apiVersion":"1","spec":{}}"#, "kind", "expected a string, got number"),
        (br#"{"kind":"","apiVersion":"1","spec":{}}"#, "kind", "must not be empty"),
        (br#"{"kind":"foo","spec":{}}"#, "apiVersion", "required field is missing"),
        (br#"{"kind":"foo","apiVersion":null,"spec":{}}"#, "apiVersion", "required field is missing"),
        (br#"{"kind":"foo","apiVersion":"1"}"#, "spec", "required field is missing"),
        (br#"{"kind":"foo","apiVersion":"1","spec":[]}"#, "spec", "expected an object, got array"),
        (br#"{"kind":"foo","apiVersion":"1","spec":"x"}"#, "spec", "expected an object, got string"),
    ];
    for (body, path, needle) in cases {
        let e = parse_body(body).expect_err(std::str::from_utf8(body).unwrap_or("?"));
        assert_path(&e, path, needle);
    }
}

fn hashedrekord(hash: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"kind": "hashedrekord", "apiVersion": "0.0.1", "spec": {
        "data": {"hash": hash},
        "signature": {"content": "MEUCIQ==", "publicKey": {"content": "LS0t"}},
    }}))
    .expect("json")
}

#[test]
fn malformed_digests_in_core_kinds_are_errors_naming_the_field() {
    let path = "spec.data.hash.value";
    let e =
        parse_body(&hashedrekord(json!({"algorithm": "sha256", "value": "xy".repeat(32)}))).expect_err("hex");
    assert_path(&e, path, "invalid hex");
    let e = parse_body(&hashedrekord(json!({"algorithm": "sha256", "value": "ab".repeat(31)})))
        .expect_err("short");
    assert_path(&e, path, "digest is 31 bytes, want 32");
    let e = parse_body(&hashedrekord(json!({"algorithm": "sha512", "value": "ab".repeat(32)})))
        .expect_err("short");
    assert_path(&e, path, "digest is 32 bytes, want 64");
    let e = parse_body(&hashedrekord(json!({"algorithm": "sha256"}))).expect_err("missing");
    assert_path(&e, path, "required field is missing");
    let e = parse_body(&hashedrekord(json!({"value": "ab".repeat(32)}))).expect_err("missing");
    assert_path(&e, "spec.data.hash.algorithm", "required field is missing");
    let e = parse_body(&hashedrekord(json!("sha256:abc"))).expect_err("type");
    assert_path(&e, "spec.data.hash", "expected an object {algorithm, value}, got string");
    let mut bad_sig = json(
        std::str::from_utf8(&hashedrekord(json!({"algorithm": "sha256", "value": "ab".repeat(32)})))
            .expect("utf8"),
    );
    bad_sig["spec"]["signature"]["content"] = json!("!!");
    let e = parse_body(&serde_json::to_vec(&bad_sig).expect("json")).expect_err("sig");
    assert_path(&e, "spec.signature.content", "invalid base64");
    let dsse = br#"{"kind":"dsse","apiVersion":"0.0.1","spec":{"payloadHash":{"algorithm":"sha256","value":"00"},"signatures":[]}}"#;
    assert_path(&parse_body(dsse).expect_err("dsse"), "spec.payloadHash.value", "digest is 1 bytes, want 32");
    let dsse = br#"{"kind":"dsse","apiVersion":"0.0.1","spec":{"signatures":[{"signature":7}]}}"#;
    assert_path(&parse_body(dsse).expect_err("dsse"), "spec.signatures[0].signature", "expected a string");
    let many: Vec<Value> = (0..=MAX_BODY_SIGNATURES).map(|_| json!({"signature": "AQ=="})).collect();
    let dsse = json!({"kind": "dsse", "apiVersion": "0.0.1", "spec": {"signatures": many}});
    let e = parse_body(&serde_json::to_vec(&dsse).expect("json")).expect_err("too many");
    assert_path(&e, "spec.signatures", "101 signatures, more than the limit of 100");
    let v2 = br#"{"kind":"hashedrekord","apiVersion":"0.0.2","spec":{"hashedRekordV002":{"data":{"algorithm":"SHA2_256","digest":"AAAA"}}}}"#;
    assert_path(
        &parse_body(v2).expect_err("v2"),
        "spec.hashedRekordV002.data.digest",
        "digest is 3 bytes, want 32",
    );
}

#[test]
fn unknown_hash_algorithms_are_skipped_not_errors() {
    let p = parse_body(&hashedrekord(json!({"algorithm": "sha3-256", "value": "zz"}))).expect("parses");
    assert!(p.digests.is_empty());
    assert_eq!(p.signature, Some(b64("MEUCIQ==")));
    assert_eq!(p.public_key, Some(b"---".to_vec()));
}

#[test]
fn algorithm_spellings_normalise_to_sha256_sha384_sha512() {
    for (name, want) in [
        ("sha256", "sha256"),
        ("SHA256", "sha256"),
        ("SHA2_256", "sha256"),
        ("sha-384", "sha384"),
        ("SHA2_512", "sha512"),
    ] {
        let len = match want {
            "sha256" => 32,
            "sha384" => 48,
            _ => 64,
        };
        let body = json!({"kind": "hashedrekord", "apiVersion": "0.0.2", "spec": {"hashedRekordV002": {
            "data": {"algorithm": name, "digest": STANDARD.encode(vec![1u8; len])}}}});
        let p = parse_body(&serde_json::to_vec(&body).expect("json")).expect("parses");
        assert_eq!(p.digests[0].algorithm, want, "{name}");
    }
    let numbered = br#"{"kind":"hashedrekord","apiVersion":"0.0.2","spec":{"hashedRekordV002":{"data":{"algorithm":1,"digest":"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="}}}}"#;
    assert_eq!(parse_body(numbered).expect("parses").digests[0].algorithm, "sha256");
}

#[test]
fn other_kinds_yield_their_artifact_hashes_best_effort() {
    let hash = json!({"algorithm": "sha256", "value": "cd".repeat(32)});
    let artifact = Digest { role: DigestRole::Artifact, algorithm: "sha256".into(), value: vec![0xcd; 32] };
    let bodies = [
        json!({"kind": "rekord", "apiVersion": "0.0.1", "spec": {"data": {"hash": hash}, "signature": {"format": "x509", "content": "AA==", "publicKey": {"content": "AQ=="}}}}),
        json!({"kind": "helm", "apiVersion": "0.0.1", "spec": {"chart": {"hash": hash, "provenance": {"signature": {"content": "AA=="}}}, "publicKey": {"content": "AQ=="}}}),
        json!({"kind": "jar", "apiVersion": "0.0.1", "spec": {"archive": {"hash": hash}, "signature": {"content": "AA==", "publicKey": {"content": "AQ=="}}}}),
        json!({"kind": "rpm", "apiVersion": "0.0.1", "spec": {"package": {"hash": hash}, "publicKey": {"content": "AQ=="}}}),
        json!({"kind": "alpine", "apiVersion": "0.0.1", "spec": {"package": {"hash": hash}, "publicKey": {"content": "AQ=="}}}),
    ];
    for b in bodies {
        let p = parse_body(&serde_json::to_vec(&b).expect("json")).expect("parses");
        assert_eq!(p.digests, vec![artifact.clone()], "{}", p.kind);
        assert_eq!(p.public_key, Some(vec![1]), "{}", p.kind);
    }
    let cose = json!({"kind": "cose", "apiVersion": "0.0.1", "spec": {"publicKey": "AQ==", "data": {
        "payloadHash": {"algorithm": "sha256", "value": "01".repeat(32)},
        "envelopeHash": {"algorithm": "sha256", "value": "02".repeat(32)}}}});
    let p = parse_body(&serde_json::to_vec(&cose).expect("json")).expect("parses");
    assert_eq!(roles(&p), vec![DigestRole::Payload, DigestRole::Envelope]);
    // Best effort: malformed fields of these kinds are skipped, never errors.
    for kind in ["helm", "rpm", "alpine", "jar", "cose"] {
        let b = json!({"kind": kind, "apiVersion": "0.0.1", "spec": {"chart": 5, "package": {"hash": {"algorithm": "sha256", "value": "zz"}}, "archive": [], "data": "x", "publicKey": 3}});
        let p = parse_body(&serde_json::to_vec(&b).expect("json")).expect(kind);
        assert!(p.digests.is_empty() && p.public_key.is_none(), "{kind}");
    }
}

#[test]
fn dsse_v002_bodies_yield_the_payload_digest_and_signatures() {
    let body = json!({"kind": "dsse", "apiVersion": "0.0.2", "spec": {"dsseV002": {
        "payloadHash": {"algorithm": "SHA2_256", "digest": STANDARD.encode([9u8; 32])},
        "signatures": [{"content": "MEUC", "verifier": {"publicKey": {"rawBytes": "MFkw"}, "keyDetails": "PKIX_ECDSA_P256_SHA_256"}}],
    }}});
    let p = parse_body(&serde_json::to_vec(&body).expect("json")).expect("parses");
    assert_eq!(
        p.digests,
        vec![Digest { role: DigestRole::Payload, algorithm: "sha256".into(), value: vec![9; 32] }]
    );
    assert_eq!(p.signatures, vec![BodySignature { signature: b64("MEUC"), verifier: Some(b64("MFkw")) }]);
}

#[test]
fn dsse_v001_bodies_record_every_signature_with_its_verifier() {
    let e =
        normalised().into_iter().find(|e| e["id"] == "production-v1-dsse-0.0.1-155690850").expect("entry");
    let body = b64(s(&e, "canonicalized_body_b64"));
    let raw = json(std::str::from_utf8(&body).expect("utf8"));
    let p = parse_body(&body).expect("parses");
    let sig = &raw["spec"]["signatures"][0];
    assert_eq!(
        p.signatures,
        vec![BodySignature { signature: b64(s(sig, "signature")), verifier: Some(b64(s(sig, "verifier"))) }]
    );
    assert!(p.public_key.as_deref().expect("key").starts_with(b"-----BEGIN CERTIFICATE-----"));
}

#[test]
fn canonical_json_in_chunks_is_the_same_text() {
    // Strings longer than a chunk, with control characters (escaped to six bytes) and multi-byte
    // characters across the 64 KiB slice boundaries.
    let long: String = (0..200_000u32).map(|i| ['\u{1}', 'é', 'a', '"', '😀', '\n'][(i % 6) as usize]).collect();
    let v = json!({"z": long, "a": [1, 2.5, null, {"k\u{1}": long}], "m": "x"});
    let whole = canonical_json(&v);
    let mut chunks = Vec::new();
    canonical_json_chunks(&v, &mut |c| chunks.push(c.to_vec()));
    assert!(chunks.len() > 10, "{} chunks", chunks.len());
    assert!(chunks.iter().all(|c| c.len() < 2 * 64 * 1024), "a chunk is not bounded");
    assert_eq!(chunks.concat(), whole);
    assert_eq!(canonical_json_sha256(&v).to_vec(), Sha256::digest(&whole).to_vec());
    assert_eq!(canonical_json(&json!({"b": "\u{1f}", "a": 1})), br#"{"a":1,"b":"\u001f"}"#.to_vec());
}

#[test]
fn bodies_over_the_json_limits_are_not_json() {
    use crate::json::{MAX_JSON_BYTES, MAX_JSON_DEPTH, MAX_JSON_VALUES};
    let deep = format!("{}{}", "[".repeat(MAX_JSON_DEPTH + 1), "]".repeat(MAX_JSON_DEPTH + 1));
    let many = format!("[{}]", vec!["0"; MAX_JSON_VALUES + 1].join(","));
    let big = format!("\"{}\"", "a".repeat(MAX_JSON_BYTES));
    for (body, want) in [(deep, "deeper than"), (many, "values"), (big, "over the limit")] {
        match parse_body(body.as_bytes()) {
            Err(e @ EntryError::NotJson { .. }) => assert!(e.to_string().contains(want), "{e}"),
            other => panic!("{want}: {:?}", other.map(|p| p.kind)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The typed fast path (entry/fast.rs) against the general parser
// ---------------------------------------------------------------------------------------------

/// Every variant of `v` one structural edit away: each member removed, null, of another type,
/// an array of the object's values (what serde's derived structs would also accept), an unknown
/// member added; each string changed in ways the decoders and algorithm names care about.
fn one_edit_variants(v: &Value) -> Vec<Value> {
    fn walk(root: &Value, path: &mut Vec<String>, node: &Value, out: &mut Vec<Value>) {
        let mut edit = |f: &dyn Fn(&mut Value)| {
            let mut copy = root.clone();
            let mut cur = &mut copy;
            for p in path.iter() {
                cur = match cur {
                    Value::Object(m) => m.get_mut(p).expect("path"),
                    Value::Array(a) => &mut a[p.parse::<usize>().expect("index")],
                    _ => unreachable!(),
                };
            }
            f(cur);
            out.push(copy);
        };
        edit(&|x| *x = Value::Null);
        edit(&|x| *x = json!(1));
        edit(&|x| *x = json!([]));
        edit(&|x| *x = json!({}));
        match node {
            Value::Object(m) => {
                edit(&|x| *x = Value::Array(x.as_object().expect("object").values().cloned().collect()));
                edit(&|x| {
                    x.as_object_mut().expect("object").insert("zz".into(), json!(1));
                });
                for k in m.keys() {
                    edit(&|x| {
                        x.as_object_mut().expect("object").remove(k);
                    });
                }
            }
            Value::Array(a) => {
                edit(&|x| x.as_array_mut().expect("array").clear());
                if let Some(first) = a.first() {
                    let first = first.clone();
                    edit(&|x| x.as_array_mut().expect("array").push(first.clone()));
                }
            }
            Value::String(s) => {
                let variants = [
                    s.to_uppercase(),
                    s.to_lowercase(),
                    format!("{s}="),
                    s.trim_end_matches('=').to_string(),
                    s.replace('+', "-").replace('/', "_"),
                    format!("{}\n{}", &s[..s.len() / 2], &s[s.len() / 2..]),
                    format!("{s}!"),
                    s[..s.len().saturating_sub(2)].to_string(),
                    String::new(),
                    "sha256".into(),
                    "SHA2_384".into(),
                    "sha-512".into(),
                    "md5".into(),
                ];
                for t in variants {
                    edit(&|x| *x = Value::String(t.clone()));
                }
            }
            _ => {}
        }
        match node {
            Value::Object(m) => {
                for (k, child) in m {
                    path.push(k.clone());
                    walk(root, path, child, out);
                    path.pop();
                }
            }
            Value::Array(a) => {
                for (i, child) in a.iter().enumerate() {
                    path.push(i.to_string());
                    walk(root, path, child, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut Vec::new(), v, &mut out);
    out
}

/// Whatever the fast path answers, the general parser answers the same; the fast path must also
/// answer for the real bodies it was written for (else it would be dead code).
#[test]
fn fast_parse_agrees_with_the_general_parser() {
    let mut bodies: Vec<Vec<u8>> = all_fixture_bodies().into_iter().map(|(_, b)| b).collect();
    for alg in [json!("SHA2_256"), json!("SHA2_512"), json!(1)] {
        let digest = STANDARD.encode(if alg == "SHA2_512" { vec![9u8; 64] } else { vec![9u8; 32] });
        bodies.push(
            serde_json::to_vec(&json!({"kind": "dsse", "apiVersion": "0.0.2", "spec": {"dsseV002": {
                "payloadHash": {"algorithm": alg, "digest": digest},
                "signatures": [{"content": "MEUC", "verifier": {"publicKey": {"rawBytes": "MFkw"}, "keyDetails": "PKIX_ECDSA_P256_SHA_256"}},
                               {"content": "MEYC", "verifier": {"x509Certificate": {"rawBytes": "MIIB"}}}],
            }}}))
            .expect("json"),
        );
    }
    let (mut answered, mut declined, mut checked) = (0usize, 0usize, 0usize);
    let mut check = |b: &[u8]| {
        if crate::json::check_json_limits(b).is_err() {
            return;
        }
        checked += 1;
        match fast::parse(b) {
            Some(f) => {
                answered += 1;
                assert_eq!(parse_body_general(b), Ok(f), "body {}", String::from_utf8_lossy(b));
            }
            None => declined += 1,
        }
    };
    let mut real_answered = 0;
    for b in &bodies {
        let v: Value = serde_json::from_slice(b).expect("json");
        let shape = (v["kind"].as_str().unwrap_or(""), v["apiVersion"].as_str().unwrap_or(""));
        if matches!(shape, ("hashedrekord" | "dsse", "0.0.1" | "0.0.2")) && fast::parse(b).is_some() {
            real_answered += 1;
        }
        check(b);
        for variant in one_edit_variants(&v) {
            check(&serde_json::to_vec(&variant).expect("json"));
        }
        // Text-level edits a Value cannot express: a duplicated member, an escaped character, bytes.
        let text = String::from_utf8(b.clone()).expect("utf8");
        check(text.replacen("{\"", "{\"kind\":\"hashedrekord\",\"", 1).as_bytes());
        check(text.replacen("{\"", "{\"spec\":{},\"", 1).as_bytes());
        check(text.replacen("\"sha256\"", "\"sha\\u0032256\"", 1).as_bytes());
        check(text.replacen("\"content\":\"", "\"content\":\"\\u0041", 1).as_bytes());
        check(text.replacen("\"kind\"", "\"ki\\u006ed\"", 1).as_bytes());
        let mut seed = 0x9e37_79b9_7f4a_7c15u64 ^ b.len() as u64;
        for _ in 0..300 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let mut m = b.clone();
            let at = (seed >> 33) as usize % m.len();
            let alphabet = b"[]{}\",:\\ 0aA=/+-_n";
            m[at] = alphabet[(seed >> 20) as usize % alphabet.len()];
            check(&m);
        }
    }
    // The real hashedrekord and DSSE bodies (v1 and v2) take the fast path.
    assert!(real_answered >= 20, "only {real_answered} real bodies took the fast path");
    assert!(answered > 1000 && declined > 1000, "answered {answered}, declined {declined} of {checked}");
}
