//! Sigstore bundles: bytes → serde_json → parse_bundle (v0.1 to v0.3), then every entry through the
//! body parser, SET payload, inclusion proof, checkpoint and verify_evidence; plus parse_tlog_entry
//! on each raw tlogEntries element and the bundle's DSSE envelope, if any.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rekor_meta_core::dsse::{match_envelope_hash, parse_envelope};
use rekor_meta_core::entry::{parse_bundle, parse_tlog_entry, MAX_ENTRIES};
use rekor_meta_fuzz::check_entry;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    match parse_bundle(&v) {
        Ok(entries) => {
            assert!(!entries.is_empty() && entries.len() <= MAX_ENTRIES);
            let raw = v["verificationMaterial"]["tlogEntries"]
                .as_array()
                .expect("parsed bundle has tlogEntries");
            assert_eq!(raw.len(), entries.len());
            for (e, r) in entries.iter().zip(raw) {
                assert!(e.uuid.is_none());
                assert_eq!(
                    parse_tlog_entry(r).as_ref(),
                    Ok(e),
                    "parse_tlog_entry disagrees with parse_bundle"
                );
                check_entry(e);
            }
        }
        Err(e) => {
            assert!(!e.path().is_empty());
            let _ = e.to_string();
        }
    }
    if let Some(tlog) = v
        .get("verificationMaterial")
        .and_then(|m| m.get("tlogEntries"))
        .and_then(Value::as_array)
    {
        for r in tlog.iter().take(8) {
            if let Ok(e) = parse_tlog_entry(r) {
                check_entry(&e);
            }
        }
    }
    if let Some(env) = v.get("dsseEnvelope") {
        if parse_envelope(env).is_ok() {
            let _ = match_envelope_hash(env, &[0u8; 32]).expect("a parsed envelope serialises");
        }
    }
});
