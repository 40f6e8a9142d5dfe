//! Canonicalized entry bodies: bytes → parse_body (every kind: hashedrekord, rekord, dsse, intoto,
//! helm, jar, rpm, alpine, cose, unknown) and intoto_subject_digests. Parsed bodies keep their invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rekor_meta_core::entry::{intoto_subject_digests, parse_body, MAX_SUBJECT_DIGESTS};

fn digest_len(algorithm: &str) -> usize {
    match algorithm {
        "sha256" => 32,
        "sha384" => 48,
        "sha512" => 64,
        other => panic!("unexpected digest algorithm {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    match parse_body(data) {
        Ok(b) => {
            assert!(!b.kind.is_empty() && !b.api_version.is_empty());
            for (i, d) in b.digests.iter().enumerate() {
                assert_eq!(
                    d.value.len(),
                    digest_len(&d.algorithm),
                    "digest length disagrees with algorithm"
                );
                assert!(!b.digests[..i].contains(d), "duplicate digest");
                let _ = d.role.to_string();
            }
            assert_eq!(
                b.signature,
                b.signatures.first().map(|s| s.signature.clone())
            );
            if b.public_key.is_none() {
                assert!(
                    b.signatures.iter().all(|s| s.verifier.is_none()),
                    "a verifier was dropped"
                );
            }
        }
        Err(e) => {
            assert!(!e.path().is_empty());
            let _ = e.to_string();
        }
    }
    let subjects = intoto_subject_digests(data);
    assert!(subjects.len() <= MAX_SUBJECT_DIGESTS);
    for d in &subjects {
        assert_eq!(d.value.len(), digest_len(&d.algorithm));
    }
});
