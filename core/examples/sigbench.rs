//! Signature-verification speed of the crates rekor_meta could use, on real Rekor checkpoint signatures.
//!
//! Run: `cargo run -p rekor_meta_core --release --example sigbench [-- SECONDS]`
//! Prints one line per (implementation, algorithm) with verifications per second.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Production Rekor v1 key and a real checkpoint it signed (ECDSA P-256, ASN.1 DER signature).
const ECDSA_SPKI_HEX: &str = "3059301306072a8648ce3d020106082a8648ce3d03010703420004d86d98fb6b5a6dd4d5e41706881231d1af5f005c2b9016e62d21ad92ce0bdea5fac98634cee7c19e10bc52bfe2cb9e468563fff40fdb6362e10b7d0cf7e458b7";
const ECDSA_MSG: &str = "rekor.sigstore.dev - 1193050959916656506\n1511664556\nRUgZIzsqWcdFQB/fbniVkUuw3Usx5BB6MF2UZTKD+qI=\n";
const ECDSA_SIG_HEX: &str = "304502205dcd3caf2a57f959782955175594c54278d51642578290d2e0d14bed7d245fd0022100faabae4ef022b1c1ea08236fdce055dcf4669362be56f623f27f96ee00d83783";

/// Production Rekor v2 key (log2025-1) and a real checkpoint it signed (Ed25519).
const ED25519_KEY_HEX: &str = "b7cae5a759271b08df6dc5c060f600927d1788bcf5c7c3b8b7462412189edb8e";
const ED25519_MSG: &str = "log2025-1.rekor.sigstore.dev\n4855115\ngDfQHcPSkLDVUd/xeZWPsqSB7RTR0ho07k15jgzLOpw=\n";
const ED25519_SIG_HEX: &str = "7607bed57a716db6609c75756c7d222b941f0e01b976775fcd490202bcb165ff1c1407d907650daa6a8cc929f4672b213a29ee3506f7bf45c8a698ec2ed5bd03";

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap_or_default()
}

/// Runs `f` (which must return true) repeatedly for about `budget` and returns verifications per second.
fn measure(label: &str, budget: Duration, mut f: impl FnMut() -> bool) -> f64 {
    assert!(f(), "{label}: the signature does not verify, the benchmark would be meaningless");
    // Warm up caches and branch predictors before timing.
    for _ in 0..200 {
        black_box(f());
    }
    let mut n: u64 = 0;
    let start = Instant::now();
    let mut batch = 64u64;
    while start.elapsed() < budget {
        for _ in 0..batch {
            black_box(f());
        }
        n += batch;
        batch = (batch * 2).min(4096);
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    println!("{label:<44} {rate:>10.0} verifications/s  ({:.1} µs each)", 1e6 / rate);
    rate
}

fn main() {
    let secs: f64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(2.0);
    let budget = Duration::from_secs_f64(secs);

    let spki = h(ECDSA_SPKI_HEX);
    let ecdsa_sig = h(ECDSA_SIG_HEX);
    let ecdsa_msg = ECDSA_MSG.as_bytes();
    let ed_key = h(ED25519_KEY_HEX);
    let ed_sig = h(ED25519_SIG_HEX);
    let ed_msg = ED25519_MSG.as_bytes();
    // The uncompressed SEC1 point is the last 65 bytes of a P-256 SPKI.
    let point = spki.get(spki.len() - 65..).unwrap_or_default().to_vec();

    println!("sigbench: {secs} s per measurement, real Rekor checkpoint signatures");

    // ring: the public key is re-parsed on every call (ring has no pre-parsed public key type).
    {
        use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1, ED25519};
        let k = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, &point);
        measure("ring 0.17 ECDSA P-256 (DER sig)", budget, || {
            k.verify(black_box(ecdsa_msg), black_box(&ecdsa_sig)).is_ok()
        });
        let k = UnparsedPublicKey::new(&ED25519, &ed_key);
        measure("ring 0.17 Ed25519", budget, || k.verify(black_box(ed_msg), black_box(&ed_sig)).is_ok());
    }

    // RustCrypto: keys parsed once, signatures parsed per call (as a verifier of stored evidence would).
    {
        use p256::ecdsa::signature::Verifier;
        use p256::pkcs8::DecodePublicKey;
        if let Ok(vk) = p256::ecdsa::VerifyingKey::from_public_key_der(&spki) {
            measure("RustCrypto p256 0.13 ECDSA P-256 (DER sig)", budget, || {
                match p256::ecdsa::Signature::from_der(black_box(&ecdsa_sig)) {
                    Ok(sig) => vk.verify(black_box(ecdsa_msg), &sig).is_ok(),
                    Err(_) => false,
                }
            });
        }
        let key_bytes: [u8; 32] = ed_key.as_slice().try_into().unwrap_or([0; 32]);
        if let Ok(vk) = ed25519_dalek::VerifyingKey::from_bytes(&key_bytes) {
            measure("ed25519-dalek 2 Ed25519 (verify_strict)", budget, || {
                match ed25519_dalek::Signature::from_slice(black_box(&ed_sig)) {
                    Ok(sig) => vk.verify_strict(black_box(ed_msg), &sig).is_ok(),
                    Err(_) => false,
                }
            });
        }
    }
}
