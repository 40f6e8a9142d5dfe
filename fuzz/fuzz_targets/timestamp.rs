//! RFC 3161 timestamps: bytes → parse_timestamp (TimeStampResp or bare TimeStampToken, CMS
//! SignedData, TSTInfo) and verify_timestamp under the real timestamp authorities of the fixture
//! trusted roots (production, staging, the conformance suite's). A token that verifies has the
//! imprint of the signature it was verified over, a genTime inside its authority's validFor, and
//! parses on its own to the same genTime. The input as text also goes through parse_rfc3339 and,
//! as JSON, through the trusted-root authority parser.
//!
//! Input layout: byte 0 is the length n of the timestamped signature, bytes 1..=n the signature,
//! the rest the token (seeds: real tokens with the signature they timestamp).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rekor_meta_core::timestamp::{
    parse_rfc3339, parse_timestamp, parse_trusted_root_authorities, verify_timestamp, TimestampAuthority,
    MAX_CHAIN_CERTS, MAX_TOKEN_BYTES,
};
use sha2::{Digest, Sha256, Sha384, Sha512};
use std::sync::OnceLock;

const ROOTS: [&str; 5] = [
    include_str!("../../tests/fixtures/trusted_root/production.trusted_root.json"),
    include_str!("../../tests/fixtures/trusted_root/staging.trusted_root.json"),
    include_str!("../../tests/fixtures/conformance/bundle-verify/rekor2-timestamp-with-expired-cert-chain/trusted_root.json"),
    include_str!("../../tests/fixtures/conformance/bundle-verify/intoto-with-custom-trust-root/trusted_root.json"),
    include_str!("../../tests/fixtures/conformance/sigstore-go/trusted-roots__public-key-validity.json"),
];
const PYTHON_CA: &str = include_str!("../../tests/fixtures/timestamps/sigstore-python/tsa__ca.json");

fn authorities() -> &'static [TimestampAuthority] {
    static TSAS: OnceLock<Vec<TimestampAuthority>> = OnceLock::new();
    TSAS.get_or_init(|| {
        let mut out = Vec::new();
        for r in ROOTS {
            let v: serde_json::Value = serde_json::from_str(r).expect("fixture root is JSON");
            out.extend(parse_trusted_root_authorities(&v).expect("fixture root authorities parse"));
        }
        let ca: serde_json::Value = serde_json::from_str(PYTHON_CA).expect("ca.json is JSON");
        out.push(TimestampAuthority::from_json(&ca, "ca").expect("ca.json parses"));
        out
    })
}

fuzz_target!(|data: &[u8]| {
    let tsas = authorities();
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(t) = parse_rfc3339(text) {
            assert!(t.nanos < 1_000_000_000);
            let _ = t.to_string();
        }
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(text) {
            if let Ok(list) = parse_trusted_root_authorities(&v) {
                for a in &list {
                    assert!(!a.chain.is_empty() && a.chain.len() <= MAX_CHAIN_CERTS);
                }
            }
        }
    }
    for token in [data, data.get(1..).unwrap_or_default()] {
        match parse_timestamp(token) {
            Ok(ts) => {
                assert!(token.len() <= MAX_TOKEN_BYTES);
                assert!(matches!(ts.imprint_algorithm, "sha256" | "sha384" | "sha512"));
                assert!(ts.gen_time.nanos < 1_000_000_000);
            }
            Err(e) => {
                let _ = (e.to_string(), e.check());
            }
        }
    }
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (signature, token) = rest.split_at(usize::from(n).min(rest.len()));
    match verify_timestamp(token, signature, tsas) {
        Ok(v) => {
            let ts = parse_timestamp(token).expect("a verified token parses");
            assert_eq!(ts.gen_time, v.gen_time);
            let want = match v.imprint_algorithm {
                "sha384" => Sha384::digest(signature).to_vec(),
                "sha512" => Sha512::digest(signature).to_vec(),
                _ => Sha256::digest(signature).to_vec(),
            };
            assert_eq!(ts.hashed_message, want, "verified under a wrong imprint");
            let a = &tsas[v.authority];
            assert!(a.valid_from <= v.gen_time && a.valid_until.map_or(true, |end| v.gen_time <= end));
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("timestamp ") || msg.starts_with("trusted root"), "{msg}");
        }
    }
});
