//! The pipeline against the real local Rekor v2 (rekor-tiles v2.3.0, its POSIX server; scripts/rekor.sh
//! start-v2, started by layer 4 of scripts/test.sh): rekor_meta queues DSSE envelopes, two submitter
//! processes log them as hashedrekord over the PAE (`--log-version 2`, the log from
//! rekor_log_endpoints), and the database verifies every TransparencyLogEntry (inclusion proof
//! against the Ed25519-signed checkpoint). Envelopes already in the log answer AlreadyExists: the
//! submitter reads the entry and its proof from the tiles. An Ed25519 envelope (pure Ed25519, which
//! Rekor v2 refuses: it verifies Ed25519 as Ed25519ph) answers InvalidArgument and ends dead.
//! #[ignore]d like tests/pipeline.rs: layer 4 runs it with --ignored.
use base64::Engine;
use postgres::Client;
use rekor_meta_client_tests::rekor::*;
use rekor_meta_client_tests::*;
use serde_json::Value;
use sha2::Digest;
use std::time::{Duration, Instant};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn need(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run in layer 4 of scripts/test.sh (scripts/rekor.sh start-v2 and env)")
    })
}

/// The local Rekor v2: one base URL for writes and tile reads (scripts/rekor-v2-front.py).
struct LocalRekorV2 {
    url: String,
    hostname: String,
    public_key_pem: String,
}

impl LocalRekorV2 {
    fn from_env() -> LocalRekorV2 {
        let key = need("REKOR_V2_PUBLIC_KEY_FILE");
        LocalRekorV2 {
            url: need("REKOR_V2_URL"),
            hostname: need("REKOR_V2_HOSTNAME"),
            public_key_pem: std::fs::read_to_string(&key).unwrap_or_else(|e| panic!("{key}: {e}")),
        }
    }

    /// Trusts the log (Ed25519 checkpoint key, origin = its host name; log ID = the signed-note key
    /// hash, as rekor-tiles computes it) and records its endpoint as API version 2.
    fn trust(&self, c: &mut Client) -> Vec<u8> {
        let id: Vec<u8> = c
            .query_one("SELECT rekor_add_log($1, $2)", &[&self.public_key_pem, &self.hostname])
            .expect("rekor_add_log")
            .get(0);
        c.execute("SELECT rekor_set_log_endpoint($1, $2, 2)", &[&id, &self.url]).expect("rekor_set_log_endpoint");
        id
    }

    /// The size of the log's current checkpoint (GET /checkpoint, C2SP tlog-tiles).
    fn tree_size(&self) -> u64 {
        let (s, note) = curl(&["-sS", "-m", "10", &format!("{}/checkpoint", self.url)]);
        assert_eq!(s, 200, "GET /checkpoint: {note}");
        let mut lines = note.lines();
        assert_eq!(lines.next(), Some(self.hostname.as_str()), "checkpoint origin: {note}");
        lines.next().and_then(|l| l.parse().ok()).expect("checkpoint size")
    }

    fn post(&self, body: &Value) -> (u16, String) {
        curl(&[
            "-sS",
            "-m",
            "60",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &body.to_string(),
            &format!("{}/api/v2/log/entries", self.url),
        ])
    }
}

fn pem_of(spki: &[u8]) -> String {
    let b = B64.encode(spki);
    let lines: Vec<&str> = b.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap()).collect();
    format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", lines.join("\n"))
}

fn der_of(pem: &str) -> Vec<u8> {
    B64.decode(pem.lines().filter(|l| !l.starts_with("-----")).collect::<String>()).expect("PEM")
}

fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut p = format!("DSSEv1 {} {} {} ", payload_type.len(), payload_type, payload.len()).into_bytes();
    p.extend_from_slice(payload);
    p
}

/// A signer of DSSE envelopes in the test: P-256 (TestSigner), P-384 or Ed25519 (ring).
enum Signer {
    P256(TestSigner),
    P384(ring::signature::EcdsaKeyPair, String),
    Ed25519(ring::signature::Ed25519KeyPair, String),
}

impl Signer {
    fn p384() -> Signer {
        use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P384_SHA384_ASN1_SIGNING};
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_ASN1_SIGNING, &rng).unwrap();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap();
        let mut spki = hex::decode("3076301006072a8648ce3d020106052b81040022036200").unwrap();
        spki.extend_from_slice(key.public_key().as_ref());
        Signer::P384(key, pem_of(&spki))
    }

    fn ed25519() -> Signer {
        use ring::signature::{Ed25519KeyPair, KeyPair};
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let key = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap();
        let mut spki = hex::decode("302a300506032b6570032100").unwrap();
        spki.extend_from_slice(key.public_key().as_ref());
        Signer::Ed25519(key, pem_of(&spki))
    }

    fn pem(&self) -> &str {
        match self {
            Signer::P256(s) => &s.public_pem,
            Signer::P384(_, p) | Signer::Ed25519(_, p) => p,
        }
    }

    fn envelope(&self, name: &str, vex: &Value) -> Value {
        let pt = "application/vnd.in-toto+json";
        match self {
            Signer::P256(s) => s.envelope(name, vex),
            _ => {
                let payload = serde_json::json!({"_type": "https://in-toto.io/Statement/v0.1",
                    "predicateType": "https://openvex.dev/ns",
                    "subject": [{"name": name, "digest": {"sha256": hex::encode(sha2::Sha256::digest(name.as_bytes()))}}],
                    "predicate": vex})
                .to_string();
                let msg = pae(pt, payload.as_bytes());
                let sig = match self {
                    Signer::P384(k, _) => k.sign(&ring::rand::SystemRandom::new(), &msg).unwrap().as_ref().to_vec(),
                    Signer::Ed25519(k, _) => k.sign(&msg).as_ref().to_vec(),
                    Signer::P256(_) => unreachable!(),
                };
                serde_json::json!({"payloadType": pt, "payload": B64.encode(payload.as_bytes()),
                                   "signatures": [{"keyid": "", "sig": B64.encode(sig)}]})
            }
        }
    }
}

/// The CreateEntryRequest a Rekor v2 client sends for a P-256 envelope (what cosign does for v2:
/// hashedrekord, digest SHA-256 of the PAE), built independently of the submitter.
fn hashedrekord_p256(envelope: &Value, pem: &str) -> Value {
    let payload = B64.decode(envelope["payload"].as_str().unwrap()).unwrap();
    let digest = sha2::Sha256::digest(pae(envelope["payloadType"].as_str().unwrap(), &payload));
    serde_json::json!({"hashedRekordRequestV002": {
        "digest": B64.encode(digest),
        "signature": {"content": envelope["signatures"][0]["sig"],
                      "verifier": {"publicKey": {"rawBytes": B64.encode(der_of(pem))}, "keyDetails": "PKIX_ECDSA_P256_SHA_256"}}}})
}

fn one_i64(c: &mut Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).unwrap_or_else(|e| panic!("{sql}: {e:?}")).get(0)
}

#[test]
#[ignore = "needs the local Rekor v2: layer 4 of scripts/test.sh"]
fn v2_three_hundred_attestations_two_submitters_each_logged_once_already_exists_recovered_invalid_argument_dead() {
    let n: usize = std::env::var("REKOR_V2_PIPELINE_N").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let prelogged = 12;
    let rekor = LocalRekorV2::from_env();
    let mut c = fresh_db("pipe_v2");
    apply_submitter_schema(&mut c);
    let log_id = rekor.trust(&mut c);
    let db: String = c.query_one("SELECT current_database()", &[]).unwrap().get(0);
    let run = format!("{}-{}", std::process::id(), Instant::now().elapsed().as_nanos());
    // Mostly P-256 (the cosign default), every tenth P-384 (digest SHA-384 of the PAE).
    let p256 = Signer::P256(TestSigner::new());
    let p384 = Signer::p384();
    let mut envelopes = Vec::new();
    for i in 0..n {
        let s = if i % 10 == 9 { &p384 } else { &p256 };
        let vex = openvex(&format!("v2-{run}-{i}"), "CVE-2026-41000", &format!("pkg:generic/v2-{run}-{i}@1"));
        envelopes.push((s.envelope(&format!("v2-{run}-{i}"), &vex), s.pem().to_string()));
    }
    let size0 = rekor.tree_size();
    // Some are in the log already (a submitter that died after Rekor logged, before
    // rekor_mark_submitted; or another client): logged here directly, the answer thrown away.
    for (env, pem) in envelopes.iter().filter(|(_, p)| p == p256.pem()).take(prelogged) {
        let (status, body) = rekor.post(&hashedrekord_p256(env, pem));
        assert_eq!(status, 201, "direct hashedrekord POST: {body}");
    }
    assert_eq!(rekor.tree_size(), size0 + prelogged as u64);
    let mut ids = Vec::new();
    for (env, pem) in &envelopes {
        let id: i64 = c
            .query_one("SELECT rekor_enqueue($1::text::jsonb, verifier => $2)", &[&env.to_string(), pem])
            .unwrap_or_else(|e| panic!("rekor_enqueue: {e:?}"))
            .get(0);
        ids.push(id);
    }
    // Pure Ed25519: rekor_enqueue accepts it (the signature verifies), Rekor v2 refuses it.
    let ed = Signer::ed25519();
    let ed_env = ed.envelope(&format!("v2-ed-{run}"), &openvex("ed", "CVE-2026-41001", "pkg:generic/ed@1"));
    let ed_id: i64 = c
        .query_one("SELECT rekor_enqueue($1::text::jsonb, verifier => $2)", &[&ed_env.to_string(), &ed.pem()])
        .unwrap()
        .get(0);

    let t = Instant::now();
    let args = ["--log-version", "2", "--concurrency", "8", "--batch", "8"];
    let subs: Vec<Submitter> = (0..2).map(|i| spawn_submitter(&conninfo(&db), &format!("v2-{i}"), &args)).collect();
    let mut total = std::collections::BTreeMap::<&str, u64>::new();
    for s in subs {
        let (status, sum) = wait_submitter(s, Duration::from_secs(600));
        assert!(status.success(), "submitter: {status}\n{}", tail(&sum.stderr, 30));
        for k in ["submitted", "conflicts", "dead", "lease_lost", "abandoned"] {
            *total.entry(k).or_default() += sum.get(k);
        }
    }
    let secs = t.elapsed().as_secs_f64();
    eprintln!("Rekor v2: {n} envelopes by 2 submitters in {secs:.1} s ({:.1}/s): {total:?}", n as f64 / secs);
    assert_eq!(
        (total["submitted"], total["conflicts"], total["dead"], total["lease_lost"], total["abandoned"]),
        (n as u64, prelogged as u64, 1, 0, 0),
        "{total:?}"
    );
    // The log grew by exactly the envelopes: the pre-logged ones were not logged again.
    assert_eq!(rekor.tree_size(), size0 + n as u64, "Rekor v2's log size");
    // Every item submitted once (one lease each), linked to its own entry, which re-verifies.
    let r = c
        .query_one(
            "SELECT count(*) FILTER (WHERE q.state = 'submitted'), count(DISTINCT q.entry_id), count(DISTINCT e.log_index),
                    max(q.attempts), bool_and(rekor_verify_inclusion(q.entry_id)),
                    bool_and(e.kind = 'hashedrekord' AND e.api_version = '0.0.2' AND e.log_id = $2)
             FROM rekor_submission_queue q JOIN rekor_entries e USING (entry_id) WHERE q.queue_id = ANY ($1)",
            &[&ids, &log_id],
        )
        .unwrap();
    assert_eq!(r.get::<_, i64>(0), n as i64, "submitted");
    assert_eq!(r.get::<_, i64>(1), n as i64, "one entry per item");
    assert_eq!(r.get::<_, i64>(2), n as i64, "one log index per item");
    assert_eq!(r.get::<_, i32>(3), 1, "every item leased once");
    assert!(r.get::<_, bool>(4), "every entry re-verifies");
    assert!(r.get::<_, bool>(5), "hashedrekord 0.0.2 in the v2 log");
    // Every entry's index lies inside the log's growth, and the stored checkpoint is the log's.
    let lo = one_i64(&mut c, "SELECT min(log_index) FROM rekor_entries");
    let hi = one_i64(&mut c, "SELECT max(log_index) FROM rekor_entries");
    assert!(lo >= size0 as i64 && hi < (size0 + n as u64) as i64, "indices {lo}..{hi}, log {size0}..{}", size0 + n as u64);
    let r = c
        .query_one(
            "SELECT state, coalesce(last_error, ''), attempts FROM rekor_submission_queue WHERE queue_id = $1",
            &[&ed_id],
        )
        .unwrap();
    let (state, err, attempts): (String, String, i32) = (r.get(0), r.get(1), r.get(2));
    assert_eq!((state.as_str(), attempts), ("dead", 1), "{err}");
    assert!(err.starts_with("Rekor 400: invalid hashedrekord request"), "Rekor's message is kept: {err}");
    assert!(err.contains("Ed25519ph"), "{err}");

    // The monitor on the v2 log: its checkpoint witnessed (consistency proofs built from the
    // tiles), the entries' stored checkpoints proven consistent with it; again after the log grew.
    let monitor = |c: &mut Client| {
        let out = std::process::Command::new(submitter_bin())
            .args(["monitor", "--dsn", &conninfo(&db), "--rekor-url", &rekor.url, "--log-version", "2", "--iterations", "1"])
            .output()
            .unwrap();
        assert!(out.status.success(), "monitor: {}", String::from_utf8_lossy(&out.stderr));
        let r = c
            .query_one(
                "SELECT max(w.tree_size), bool_and(s.all_consistent) FROM rekor_witness_state w, rekor_log_status s",
                &[],
            )
            .unwrap();
        (r.get::<_, i64>(0) as u64, r.get::<_, Option<bool>>(1))
    };
    let (w1, consistent) = monitor(&mut c);
    assert!(w1 >= size0 + n as u64, "witnessed size {w1}");
    assert_eq!(consistent, Some(true), "every stored checkpoint is proven consistent with the witnessed one");
    let extra = p256.envelope(&format!("v2-after-{run}"), &openvex("after", "CVE-2026-41003", "pkg:generic/after@1"));
    let (status, body) = rekor.post(&hashedrekord_p256(&extra, p256.pem()));
    assert_eq!(status, 201, "{body}");
    let (w2, consistent) = monitor(&mut c);
    assert!(w2 > w1, "the witness advanced: {w1} -> {w2}");
    assert_eq!(consistent, Some(true));
}

#[test]
#[ignore = "needs the local Rekor v2: layer 4 of scripts/test.sh"]
fn v2_already_exists_without_an_endpoint_finds_the_log_by_its_checkpoint_and_a_forged_proof_is_refused() {
    // --rekor-url with no endpoint recorded: after AlreadyExists the submitter finds the log's ID
    // by the checkpoint's origin and key hint, and the database verifies what the tiles gave.
    let rekor = LocalRekorV2::from_env();
    let mut c = fresh_db("pipe_v2_exists");
    apply_submitter_schema(&mut c);
    c.query_one("SELECT rekor_add_log($1, $2)", &[&rekor.public_key_pem, &rekor.hostname]).unwrap();
    let db: String = c.query_one("SELECT current_database()", &[]).unwrap().get(0);
    let signer = TestSigner::new();
    let run = std::process::id();
    let mut ids = Vec::new();
    for i in 0..5 {
        let env = signer.envelope(&format!("v2x-{run}-{i}"), &openvex(&format!("v2x-{i}"), "CVE-2026-41002", "pkg:generic/x@1"));
        let (status, body) = rekor.post(&hashedrekord_p256(&env, &signer.public_pem));
        assert_eq!(status, 201, "{body}");
        // The same request again: AlreadyExists (409) with the index in X-Log-Index.
        let (status, again) = rekor.post(&hashedrekord_p256(&env, &signer.public_pem));
        assert_eq!(status, 409, "{again}");
        let first: Value = serde_json::from_str(&body).unwrap();
        assert!(again.contains(&format!("index {}", first["logIndex"].as_str().unwrap())), "{again}");
        ids.push(
            c.query_one("SELECT rekor_enqueue($1::text::jsonb, verifier => $2)", &[&env.to_string(), &signer.public_pem])
                .unwrap()
                .get::<_, i64>(0),
        );
    }
    let size0 = rekor.tree_size();
    let child = spawn_submitter(&conninfo(&db), "v2x", &["--log-version", "2", "--rekor-url", &rekor.url, "--concurrency", "2"]);
    let (status, s) = wait_submitter(child, Duration::from_secs(120));
    assert!(status.success(), "{}", tail(&s.stderr, 20));
    assert_eq!((s.get("submitted"), s.get("conflicts"), s.get("dead")), (5, 5, 0), "{:?}", s.fields);
    assert_eq!(rekor.tree_size(), size0, "AlreadyExists logs nothing");
    let ok: bool = c
        .query_one(
            "SELECT bool_and(q.state = 'submitted' AND rekor_verify_inclusion(q.entry_id)) FROM rekor_submission_queue q WHERE q.queue_id = ANY ($1)",
            &[&ids],
        )
        .unwrap()
        .get(0);
    assert!(ok);
    // The proof the submitter built from the tiles is what the database checked: the stored entry,
    // with one proof hash flipped, is refused in a database that has not seen it.
    let r = c
        .query_one(
            "SELECT e.body, e.log_index, e.proof_hashes, e.checkpoint, e.tree_size, e.root_hash, e.log_id
             FROM rekor_submission_queue q JOIN rekor_entries e USING (entry_id) WHERE q.queue_id = $1",
            &[&ids[0]],
        )
        .unwrap();
    let (body, index, hashes): (Vec<u8>, i64, Vec<Vec<u8>>) = (r.get(0), r.get(1), r.get(2));
    let (note, size, root, lid): (String, i64, Vec<u8>, Vec<u8>) = (r.get(3), r.get(4), r.get(5), r.get(6));
    assert_eq!(lid, note_key_hash(&rekor), "the log ID is the signed-note key hash of the log's Ed25519 key");
    assert!(!hashes.is_empty(), "a log of {size} entries has proof hashes");
    let make = |hashes: &[Vec<u8>]| {
        serde_json::json!({"logIndex": index.to_string(), "logId": {"keyId": B64.encode(&lid)},
            "kindVersion": {"kind": "hashedrekord", "version": "0.0.2"},
            "inclusionProof": {"logIndex": index.to_string(), "rootHash": B64.encode(&root), "treeSize": size.to_string(),
                               "hashes": hashes.iter().map(|h| B64.encode(h)).collect::<Vec<_>>(),
                               "checkpoint": {"envelope": note}},
            "canonicalizedBody": B64.encode(&body)})
        .to_string()
    };
    let mut bad = hashes.clone();
    bad[0][0] ^= 1;
    let mut other = fresh_db("pipe_v2_flip");
    other.query_one("SELECT rekor_add_log($1, $2)", &[&rekor.public_key_pem, &rekor.hostname]).unwrap();
    let e = other.query("SELECT rekor_ingest_entry($1::text::jsonb)", &[&make(&bad)]).unwrap_err();
    assert_eq!(e.code().map(|c| c.code()), Some("23514"), "{e:?}");
    other.query("SELECT rekor_ingest_entry($1::text::jsonb)", &[&make(&hashes)]).unwrap();
}

/// The log ID rekor-tiles puts in its answers: the signed-note key hash of its Ed25519 key.
fn note_key_hash(rekor: &LocalRekorV2) -> Vec<u8> {
    let der = der_of(&rekor.public_key_pem);
    let key = &der[der.len() - 32..];
    let mut h = sha2::Sha256::new();
    h.update(rekor.hostname.as_bytes());
    h.update([0x0a, 0x01]);
    h.update(key);
    h.finalize().to_vec()
}
