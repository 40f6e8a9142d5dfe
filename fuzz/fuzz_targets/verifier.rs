//! Submitter verifiers: bytes → parse_verifier (PEM, base64 DER, DER; SubjectPublicKeyInfo or X.509
//! certificate), then Verifier::verify of a fuzzed signature and Verifier::signs over a fuzzed DSSE
//! envelope. A verifier that parsed must name a supported key type and keep the DER it was given.
//!
//! Input layout: byte 0 is the length n of the verifier, bytes 1..=n the verifier, the rest a
//! JSON DSSE envelope (when it parses) or a signature.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rekor_meta_core::dsse::parse_envelope;
use rekor_meta_core::verifier::{parse_verifier, VerifierKind, MAX_VERIFIER_BYTES};

fuzz_target!(|data: &[u8]| {
    for input in [data, data.get(1..).unwrap_or_default()] {
        match parse_verifier(input) {
            Ok(v) => {
                assert!(!v.der.is_empty() && !v.spki.is_empty());
                if v.kind == VerifierKind::PublicKey {
                    assert_eq!(v.der, v.spki, "a public key verifier is its own SPKI");
                }
                let _ = v.key_type.as_str();
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let (verifier, tail) = rest.split_at(usize::from(n).min(rest.len()));
    let Ok(v) = parse_verifier(verifier) else {
        return;
    };
    assert!(verifier.len() <= MAX_VERIFIER_BYTES);
    let _ = v.verify(tail, tail);
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(tail) {
        if let Ok(env) = parse_envelope(&json) {
            if let Some(i) = v.signs(&env) {
                assert!(i < env.signatures.len());
            }
        }
    }
});
