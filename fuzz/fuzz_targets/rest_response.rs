//! Rekor REST responses: bytes → serde_json → parse_rest_response (v1 UUID-keyed objects and v2
//! bare TransparencyLogEntry), then every entry through the body parser, SET payload, inclusion
//! proof, checkpoint and verify_evidence under the matching fixture key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rekor_meta_core::entry::{parse_rest_response, MAX_ENTRIES};
use rekor_meta_fuzz::check_entry;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    match parse_rest_response(&v) {
        Ok(entries) => {
            assert!(!entries.is_empty() && entries.len() <= MAX_ENTRIES);
            let v2 = v.get("canonicalizedBody").is_some();
            for e in &entries {
                assert_eq!(
                    e.uuid.is_some(),
                    !v2,
                    "v1 entries have a UUID, v2 entries none"
                );
                check_entry(e);
            }
        }
        Err(e) => {
            assert!(!e.path().is_empty());
            let _ = e.to_string();
        }
    }
});
