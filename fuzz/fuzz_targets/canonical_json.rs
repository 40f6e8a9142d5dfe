//! RFC 8785 canonical JSON: bytes → serde_json → canonical_json is idempotent (the output parses
//! and canonicalizes to the same bytes). Also set_payload_parts on fuzzed parts: its output is JSON,
//! already canonical, and carries the parts.
//!
//! Layout for set_payload_parts: bytes 0..8 integrated time (i64 LE), 8..16 log index (u64 LE),
//! 16..48 log ID, the rest the body (shorter inputs are zero-padded).
#![no_main]

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use rekor_meta_core::entry::{canonical_json, set_payload_parts};
use serde_json::Value;

fn idempotent(v: &Value) -> Vec<u8> {
    let once = canonical_json(v);
    let text = std::str::from_utf8(&once).expect("canonical JSON is UTF-8");
    let back: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("canonical JSON does not parse: {e}: {text:?}"));
    let twice = canonical_json(&back);
    assert_eq!(
        String::from_utf8_lossy(&twice),
        text,
        "canonical JSON is not idempotent for {v}",
    );
    once
}

fuzz_target!(|data: &[u8]| {
    if let Ok(v) = serde_json::from_slice::<Value>(data) {
        idempotent(&v);
    }

    let mut head = [0u8; 48];
    let n = data.len().min(48);
    head[..n].copy_from_slice(&data[..n]);
    let itime = i64::from_le_bytes(head[0..8].try_into().unwrap());
    let index = u64::from_le_bytes(head[8..16].try_into().unwrap());
    let log_id = &head[16..48];
    let body = data.get(48..).unwrap_or_default();
    let payload = set_payload_parts(body, itime, log_id, index);
    let v: Value = serde_json::from_slice(&payload).expect("SET payload is JSON");
    assert_eq!(idempotent(&v), payload, "SET payload is not canonical");
    let obj = v.as_object().expect("SET payload is an object");
    assert_eq!(obj.len(), 4);
    assert_eq!(
        STANDARD.decode(obj["body"].as_str().unwrap()).unwrap(),
        body
    );
    assert_eq!(hex::decode(obj["logID"].as_str().unwrap()).unwrap(), log_id);
    // Integers beyond 2^53 are written as the nearest double, exactly as Rekor's canonicalizer does.
    const SAFE: u64 = 1 << 53;
    if itime.unsigned_abs() <= SAFE {
        assert_eq!(obj["integratedTime"].as_i64(), Some(itime));
    }
    if index <= SAFE {
        assert_eq!(obj["logIndex"].as_u64(), Some(index));
    }
});
