//! Pure-core micro benchmarks (criterion; bench/README.md, "Core"): each rekor_meta_core operation next to
//! its floor measured in the same run, and the ratio printed at the end.
//!   merkle_L{10,20,40}   merkle::verify_inclusion          vs L chained SHA-256(0x01 || l || r) (sha2)
//!   checkpoint_{ecdsa,ed25519}  parse_checkpoint + verify   vs ring's UnparsedPublicKey::verify alone
//!   evidence_{ed25519,ecdsa_set}  evidence::verify_evidence (checks 1-4, checkpoint verdict cached as the
//!                        extension caches it)             vs ring's verification of that row's signatures
//!                        (none for Ed25519 / Rekor v2: the leaf hash + proof floor instead; the SET for ECDSA)
//! cargo bench -p rekor_meta_bench --bench core [-- FILTER]
use criterion::{black_box, Criterion};
use rekor_meta_bench::testlog::{self, BodyTemplate, TestLog, Tree};
use rekor_meta_core::checkpoint::parse_checkpoint;
use rekor_meta_core::evidence::{verify_evidence, Evidence, Trust};
use rekor_meta_core::keys::{KeyType, LogKey};
use rekor_meta_core::merkle as mk;
use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1, ED25519};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn ring_verify(key: &LogKey, msg: &[u8], sig: &[u8]) -> bool {
    let alg: &dyn ring::signature::VerificationAlgorithm =
        if key.key_type() == KeyType::Ed25519 { &ED25519 } else { &ECDSA_P256_SHA256_ASN1 };
    UnparsedPublicKey::new(alg, key.raw_public_key()).verify(msg, sig).is_ok()
}

fn merkle(c: &mut Criterion) {
    for l in [10u32, 20, 40] {
        let size = 1u64 << l;
        let leaf = testlog::prng("core bench leaf", l as u64, 0);
        let index = u64::from_be_bytes(testlog::prng("core bench index", l as u64, 0)[..8].try_into().unwrap()) % size;
        let proof: Vec<mk::Hash> = (0..l as u64).map(|j| testlog::prng("core bench proof", l as u64, j)).collect();
        let refs: Vec<&[u8]> = proof.iter().map(|h| h.as_slice()).collect();
        let root = mk::root_from_inclusion_proof(index, size, &leaf, &refs).unwrap();
        assert!(mk::verify_inclusion(index, size, &leaf, &refs, &root).is_ok());
        let mut g = c.benchmark_group(format!("merkle_L{l}"));
        g.bench_function("core", |b| b.iter(|| mk::verify_inclusion(index, size, black_box(&leaf), &refs, &root).is_ok()));
        g.bench_function("floor", |b| {
            b.iter(|| {
                proof.iter().fold(*black_box(&leaf), |h, p| {
                    let mut s = Sha256::new();
                    s.update([1u8]);
                    s.update(h);
                    s.update(p);
                    s.finalize().into()
                })
            })
        });
        g.finish();
    }
}

fn fixture(name: &str) -> serde_json::Value {
    let p = format!("{}/../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap()
}

fn find<'a>(v: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    v.as_array().unwrap().iter().find(|x| x["id"] == id).unwrap_or_else(|| panic!("fixture {id}"))
}

fn checkpoints(c: &mut Criterion) {
    let (cps, keys) = (fixture("checkpoints.json"), fixture("keys.json"));
    for (label, cp_id, key_id) in [
        ("ecdsa", "cp-rekor.sigstore.dev-1193050959916656506-28418423", "production:rekor.sigstore.dev"),
        ("ed25519", "cp-log2025-alpha1.rekor.sigstage.dev-4424", "staging:log2025-alpha1.rekor.sigstage.dev"),
    ] {
        let note = find(&cps["checkpoints"], cp_id)["envelope"].as_str().unwrap().to_string();
        let key = LogKey::parse(find(&keys["keys"], key_id)["public_key_pem"].as_str().unwrap().as_bytes()).unwrap();
        let cp = parse_checkpoint(note.as_bytes()).unwrap();
        let line = cp.signatures.iter().find(|s| s.key_hint == key.key_hint(&s.name)).expect("signature line");
        assert!(cp.verify_any_name(&key).is_some() && ring_verify(&key, cp.signed_bytes(), &line.signature));
        let mut g = c.benchmark_group(format!("checkpoint_{label}"));
        g.bench_function("core", |b| b.iter(|| parse_checkpoint(black_box(note.as_bytes())).unwrap().verify_any_name(&key)));
        g.bench_function("floor", |b| b.iter(|| ring_verify(&key, black_box(cp.signed_bytes()), &line.signature)));
        g.finish();
    }
}

fn evidence(c: &mut Criterion) {
    let t = BodyTemplate::from_real_bundle();
    for (label, log) in [("ed25519", TestLog::ed25519("bench.test.log")), ("ecdsa_set", TestLog::ecdsa("bench-ecdsa.test.log", 4242424242))] {
        let n = 1000u64;
        let tree = Tree::new(testlog::leaf_hashes(&t, n));
        let note = log.checkpoint(n, &tree.root());
        let key = LogKey::from_spki_der(&log.spki_der).unwrap();
        let e = testlog::entry(&t, &log, 617);
        let proof = tree.proof(617);
        let refs: Vec<&[u8]> = proof.iter().map(|h| h.as_slice()).collect();
        let root = tree.root();
        let ev = Evidence {
            body: &e.body, uuid: None, leaf_hash: Some(&e.leaf_hash), proof_log_index: 617, tree_size: n,
            root_hash: &root, proof: &refs, checkpoint: &note, signed_entry_timestamp: e.signed_entry_timestamp.as_deref(),
            integrated_time: e.integrated_time, log_id: &log.log_id, log_index: 617,
        };
        let trust = Trust { key: &key, signer_name: &log.signer_name, origin: &log.origin, origin_is_prefix: false };
        assert!(verify_evidence(&ev, &trust, |cp| cp.verify(&key, &log.signer_name)).is_ok(), "{label}: evidence");
        let set_msg = e.integrated_time.map(|it| rekor_meta_core::entry::set_payload_parts(&e.body, it, &log.log_id, 617));
        let mut g = c.benchmark_group(format!("evidence_{label}"));
        g.bench_function("core", |b| b.iter(|| verify_evidence(black_box(&ev), &trust, |_| true).is_ok()));
        match (&set_msg, &e.signed_entry_timestamp) {
            (Some(m), Some(s)) => g.bench_function("floor", |b| b.iter(|| ring_verify(&key, black_box(m), s))),
            _ => g.bench_function("floor", |b| {
                b.iter(|| mk::verify_inclusion(617, n, &mk::leaf_hash(black_box(&e.body)), &refs, &root).is_ok())
            }),
        };
        g.finish();
    }
}

/// Criterion's mean estimate of group/function, in ns.
fn mean_ns(out: &Path, group: &str, function: &str) -> Option<f64> {
    let p = out.join(group).join(function).join("new/estimates.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()?;
    v["mean"]["point_estimate"].as_f64()
}

fn main() {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("criterion");
    let _ = std::fs::remove_dir_all(&out); // the ratios below must come from this run only
    let mut c = Criterion::default()
        .output_directory(&out)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    merkle(&mut c);
    checkpoints(&mut c);
    evidence(&mut c);
    c.final_summary();
    println!("\nRatios (same run, criterion mean): core / floor");
    for g in ["merkle_L10", "merkle_L20", "merkle_L40", "checkpoint_ecdsa", "checkpoint_ed25519", "evidence_ed25519", "evidence_ecdsa_set"] {
        if let (Some(a), Some(f)) = (mean_ns(&out, g, "core"), mean_ns(&out, g, "floor")) {
            println!("CORE_BENCH group={g} core_us={:.3} floor_us={:.3} ratio={:.2}", a / 1e3, f / 1e3, a / f);
        }
    }
}
