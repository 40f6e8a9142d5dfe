//! Signature-verification speed on real Rekor checkpoints: the candidate crates (ring, RustCrypto) on
//! their own, and rekor_meta_core's own paths (key parsing, checkpoint parsing, verification), which is
//! the baseline the in-PostgreSQL benchmark compares against.
//!
//! Run: `cargo run -p rekor_meta_core --release --example sigbench [-- SECONDS] [--tsv]`
//! Prints one line per measurement with operations per second; `--tsv` prints `label<TAB>ops_per_sec`.

use rekor_meta_core::checkpoint::parse_checkpoint;
use rekor_meta_core::keys::LogKey;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Production Rekor v1 key and a real checkpoint it signed (ECDSA P-256, ASN.1 DER signature).
const ECDSA_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE2G2Y+2tabdTV5BcGiBIx0a9fAFwr
kBbmLSGtks4L3qX6yYY0zufBnhC8Ur/iy55GhWP/9A/bY2LhC30M9+RYtw==
-----END PUBLIC KEY-----
";
const ECDSA_NOTE: &str = "rekor.sigstore.dev - 1193050959916656506\n1511664556\n\
RUgZIzsqWcdFQB/fbniVkUuw3Usx5BB6MF2UZTKD+qI=\n\n\u{2014} rekor.sigstore.dev \
wNI9ajBFAiBdzTyvKlf5WXgpVRdVlMVCeNUWQleCkNLg0UvtfSRf0AIhAPqrrk7wIrHB6ggjb9zgVdz0ZpNivlb2I/J/lu4A2DeD\n";

/// Production Rekor v2 key (log2025-1) and a real checkpoint it signed (Ed25519).
const ED25519_PEM: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAt8rlp1knGwjfbcXAYPYAkn0XiLz1x8O4t0YkEhie244=
-----END PUBLIC KEY-----
";
const ED25519_NOTE: &str = "log2025-1.rekor.sigstore.dev\n4855115\n\
gDfQHcPSkLDVUd/xeZWPsqSB7RTR0ho07k15jgzLOpw=\n\n\u{2014} log2025-1.rekor.sigstore.dev \
zxGZFXYHvtV6cW22YJx1dWx9IiuUHw4BuXZ3X81JAgK8sWX/HBQH2QdlDapqjMkp9GcrITop7jUG979FyKaY7C7VvQM=\n";

struct Bench {
    budget: Duration,
    tsv: bool,
    failed: bool,
}

impl Bench {
    /// Runs `f` (which must return true) for about the budget and prints operations per second.
    fn measure(&mut self, label: &str, mut f: impl FnMut() -> bool) {
        if !f() {
            // A benchmark of a failing check would measure the wrong thing.
            eprintln!("{label}: the check does not succeed on its fixture");
            self.failed = true;
            return;
        }
        // Warm up caches and branch predictors before timing.
        for _ in 0..200 {
            black_box(f());
        }
        let mut n: u64 = 0;
        let start = Instant::now();
        let mut batch = 64u64;
        while start.elapsed() < self.budget {
            for _ in 0..batch {
                black_box(f());
            }
            n += batch;
            batch = (batch * 2).min(4096);
        }
        let rate = n as f64 / start.elapsed().as_secs_f64();
        if self.tsv {
            println!("{label}\t{rate:.0}");
        } else {
            println!("{label:<58} {rate:>10.0} /s  ({:.2} µs each)", 1e6 / rate);
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let tsv = args.iter().any(|a| a == "--tsv");
    let secs: f64 = args.iter().find_map(|a| a.parse().ok()).unwrap_or(2.0);
    let mut b = Bench { budget: Duration::from_secs_f64(secs), tsv, failed: false };

    let (ecdsa_key, ed_key) =
        match (LogKey::parse(ECDSA_PEM.as_bytes()), LogKey::parse(ED25519_PEM.as_bytes())) {
            (Ok(e), Ok(d)) => (e, d),
            (e, d) => {
                eprintln!("fixture keys do not parse: {e:?} {d:?}");
                return ExitCode::FAILURE;
            }
        };
    let (ecdsa_cp, ed_cp) =
        match (parse_checkpoint(ECDSA_NOTE.as_bytes()), parse_checkpoint(ED25519_NOTE.as_bytes())) {
            (Ok(e), Ok(d)) => (e, d),
            (e, d) => {
                eprintln!("fixture checkpoints do not parse: {e:?} {d:?}");
                return ExitCode::FAILURE;
            }
        };
    let (Some(ecdsa_line), Some(ed_line)) = (ecdsa_cp.signatures.first(), ed_cp.signatures.first()) else {
        eprintln!("fixture checkpoints have no signature line");
        return ExitCode::FAILURE;
    };
    let (ecdsa_msg, ecdsa_sig) = (ecdsa_cp.signed_bytes().to_vec(), ecdsa_line.signature.clone());
    let (ed_msg, ed_sig) = (ed_cp.signed_bytes().to_vec(), ed_line.signature.clone());

    if !tsv {
        println!("sigbench: {secs} s per measurement, real Rekor checkpoint signatures");
    }

    // ring: the public key is re-parsed on every call (ring has no pre-parsed public key type).
    {
        use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1, ED25519};
        let k = UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, ecdsa_key.raw_public_key());
        b.measure("ring 0.17 ECDSA P-256 verify", || {
            k.verify(black_box(&ecdsa_msg), black_box(&ecdsa_sig)).is_ok()
        });
        let k = UnparsedPublicKey::new(&ED25519, ed_key.raw_public_key());
        b.measure("ring 0.17 Ed25519 verify", || k.verify(black_box(&ed_msg), black_box(&ed_sig)).is_ok());
    }

    // RustCrypto: keys parsed once, signatures parsed per call (as a verifier of stored evidence would).
    {
        use p256::ecdsa::signature::Verifier;
        use p256::pkcs8::DecodePublicKey;
        match p256::ecdsa::VerifyingKey::from_public_key_der(ecdsa_key.spki_der()) {
            Ok(vk) => {
                b.measure(
                    "RustCrypto p256 0.13 ECDSA P-256 verify",
                    || match p256::ecdsa::Signature::from_der(black_box(&ecdsa_sig)) {
                        Ok(sig) => vk.verify(black_box(&ecdsa_msg), &sig).is_ok(),
                        Err(_) => false,
                    },
                )
            }
            Err(e) => eprintln!("p256 rejects the key: {e}"),
        }
        let raw: [u8; 32] = ed_key.raw_public_key().try_into().unwrap_or([0; 32]);
        match ed25519_dalek::VerifyingKey::from_bytes(&raw) {
            Ok(vk) => b.measure("ed25519-dalek 2 Ed25519 verify_strict", || {
                match ed25519_dalek::Signature::from_slice(black_box(&ed_sig)) {
                    Ok(sig) => vk.verify_strict(black_box(&ed_msg), &sig).is_ok(),
                    Err(_) => false,
                }
            }),
            Err(e) => eprintln!("ed25519-dalek rejects the key: {e}"),
        }
    }

    // rekor_meta_core, as the SQL functions call it.
    b.measure("core LogKey::verify ECDSA P-256", || {
        ecdsa_key.verify(black_box(&ecdsa_msg), black_box(&ecdsa_sig))
    });
    b.measure("core LogKey::verify Ed25519", || ed_key.verify(black_box(&ed_msg), black_box(&ed_sig)));
    b.measure("core LogKey::parse PEM ECDSA P-256", || {
        LogKey::parse(black_box(ECDSA_PEM.as_bytes())).is_ok()
    });
    b.measure("core LogKey::parse PEM Ed25519", || LogKey::parse(black_box(ED25519_PEM.as_bytes())).is_ok());
    b.measure("core parse_checkpoint (ECDSA note)", || {
        parse_checkpoint(black_box(ECDSA_NOTE.as_bytes())).is_ok()
    });
    b.measure("core parse_checkpoint+parse key+verify_any_name ECDSA", || {
        match (
            parse_checkpoint(black_box(ECDSA_NOTE.as_bytes())),
            LogKey::parse(black_box(ECDSA_PEM.as_bytes())),
        ) {
            (Ok(cp), Ok(key)) => cp.verify_any_name(&key).is_some(),
            _ => false,
        }
    });
    b.measure("core parse_checkpoint+parse key+verify_any_name Ed25519", || {
        match (
            parse_checkpoint(black_box(ED25519_NOTE.as_bytes())),
            LogKey::parse(black_box(ED25519_PEM.as_bytes())),
        ) {
            (Ok(cp), Ok(key)) => cp.verify_any_name(&key).is_some(),
            _ => false,
        }
    });

    if b.failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
