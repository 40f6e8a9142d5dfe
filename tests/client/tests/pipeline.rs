//! The whole pipeline against the real local Rekor v1 (scripts/rekor.sh, started by layer 4 of
//! scripts/test.sh): cosign makes real DSSE attestations with a local key pair, rekor_meta queues
//! their envelopes, the submitter (rekor-meta-submitter) logs them, and the database verifies every
//! answer; cosign's own bundles ingest and give the same entries.
//!
//! Every test is #[ignore]d so that layer 3 (no Rekor running) reports them as ignored; layer 4
//! runs them with `--ignored --test-threads=1` (they share one log and count its size).
use postgres::Client;
use rekor_meta_client_tests::rekor::*;
use rekor_meta_client_tests::*;
use serde_json::Value;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn scratch(name: &str) -> PathBuf {
    repo_root().join("target/pipeline-tests").join(name)
}

/// A fresh database with rekor_meta, the 0.3.0 submitter schema and the local Rekor trusted.
fn setup(name: &str) -> (Client, String, LocalRekor) {
    let rekor = LocalRekor::from_env();
    let mut c = fresh_db(name);
    apply_submitter_schema(&mut c);
    rekor.trust(&mut c);
    let db: String = c
        .query_one("SELECT current_database()", &[])
        .unwrap()
        .get(0);
    (c, db, rekor)
}

fn enqueue(c: &mut Client, envelope: &Value, verifier: Option<&str>) -> i64 {
    c.query_one(
        "SELECT rekor_enqueue($1::text::jsonb, verifier => $2)",
        &[&envelope.to_string(), &verifier],
    )
    .unwrap_or_else(|e| panic!("rekor_enqueue: {e:?}"))
    .get(0)
}

fn run_submitter(db: &str, worker: &str, extra: &[&str]) -> Summary {
    let child = spawn_submitter(&conninfo(db), worker, extra);
    let (status, s) = wait_submitter(child, Duration::from_secs(180));
    assert!(
        status.success(),
        "submitter failed: {status}\n{}",
        tail(&s.stderr, 40)
    );
    s
}

fn sqlstate(e: &postgres::Error) -> String {
    e.code()
        .map(|c| c.code().to_string())
        .unwrap_or_else(|| format!("no SQLSTATE: {e}"))
}

#[test]
#[ignore = "needs the local Rekor: layer 4 of scripts/test.sh"]
fn cosign_bundles_and_the_submitter_end_in_the_same_verified_entry() {
    let (mut c, db, rekor) = setup("pipe_cosign");
    let key = CosignKey::generate(&rekor, &scratch("cosign-bundles"));
    // Each blob and VEX document is unique to this run, so cosign logs new entries.
    let run = format!(
        "{}-{}",
        std::process::id(),
        Instant::now().elapsed().as_nanos()
    );
    let mut items = Vec::new();
    for i in 0..3 {
        let cve = format!("CVE-2026-{:05}", 1000 + i);
        let product = format!("pkg:generic/rekor-meta-test-{run}-{i}@1.0");
        let vex = openvex(&format!("{run}-{i}"), &cve, &product);
        let (envelope, bundle) = key.attest(&format!("b{i}"), &vex, Some(&rekor.url));
        let bundle = bundle.expect("cosign bundle");
        // cosign's bundle, ingested and verified by the entry trigger.
        let ids: Vec<i64> = c
            .query(
                "SELECT rekor_ingest_bundle($1::text::jsonb)",
                &[&bundle.to_string()],
            )
            .unwrap_or_else(|e| panic!("rekor_ingest_bundle of cosign's bundle: {e:?}"))
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(ids.len(), 1);
        // The bundle carries the envelope cosign logged: the same one it wrote out.
        assert_eq!(bundle["dsseEnvelope"]["payload"], envelope["payload"]);
        let qid = enqueue(&mut c, &envelope, Some(&key.public_pem));
        c.query(
            "SELECT * FROM rekor_link_vex($1::text::jsonb, $2::bigint)",
            &[&vex.to_string(), &qid],
        )
        .unwrap_or_else(|e| panic!("rekor_link_vex: {e:?}"));
        items.push((qid, ids[0], cve, product, bundle));
    }
    // cosign's real bundles of the local Rekor join the differential test against sigstore-go.
    let bundles: Vec<Value> = items.iter().map(|i| i.4.clone()).collect();
    rekor.export_for_differential("pipeline", &bundles);
    // The trusted root written for it sets up the log as rekor_import_trusted_root reads it, and
    // cosign's bundles verify under it.
    {
        let mut t = fresh_db("pipe_cosign_root");
        t.query("SELECT * FROM rekor_import_trusted_root($1::text::jsonb)", &[&rekor.trusted_root().to_string()]).unwrap();
        for b in &bundles {
            let ok: bool = t
                .query_one("SELECT bool_and(rekor_verify_inclusion(id)) FROM rekor_ingest_bundle($1::text::jsonb) id", &[&b.to_string()])
                .unwrap_or_else(|e| panic!("cosign bundle under the local trusted root: {e:?}"))
                .get(0);
            assert!(ok);
        }
    }
    let size0 = rekor.tree_size();
    // The envelopes are in the log already (cosign logged them): the submitter's POST gets 409, it
    // fetches the existing entry and marks the items submitted with it.
    let s = run_submitter(
        &db,
        "w-cosign",
        &["--rekor-url", &rekor.url, "--concurrency", "2"],
    );
    assert_eq!(
        (s.get("submitted"), s.get("conflicts"), s.get("dead")),
        (3, 3, 0),
        "{:?}",
        s.fields
    );
    assert_eq!(
        rekor.tree_size(),
        size0,
        "a 409 must not log anything again"
    );
    for (qid, bundle_entry, cve, product, _) in &items {
        let r = c
            .query_one("SELECT state, entry_id, rekor_verify_inclusion(entry_id) FROM rekor_submission_queue WHERE queue_id = $1", &[qid])
            .unwrap();
        assert_eq!(r.get::<_, String>(0), "submitted");
        assert_eq!(
            r.get::<_, Option<i64>>(1),
            Some(*bundle_entry),
            "the submitter's entry is cosign's bundle entry"
        );
        assert!(r.get::<_, bool>(2));
        let ev = c
            .query_one(
                "SELECT proof, attested FROM rekor_vex_evidence($1, $2)",
                &[cve, product],
            )
            .unwrap_or_else(|e| panic!("rekor_vex_evidence: {e:?}"));
        assert_eq!(
            (ev.get::<_, String>(0), ev.get::<_, Option<bool>>(1)),
            ("proven".to_string(), Some(true))
        );
    }
    // A cosign bundle with one flipped byte in its inclusion proof is refused (23514), in a
    // database that has not seen the entry.
    let (_, _, _, _, bundle) = items.last().unwrap();
    let mut bad = bundle.clone();
    let proof = &mut bad["verificationMaterial"]["tlogEntries"][0]["inclusionProof"];
    let field = if proof["hashes"].as_array().is_some_and(|h| !h.is_empty()) {
        "hashes"
    } else {
        "rootHash"
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    let flip = |s: &str| {
        let mut raw = b64.decode(s).unwrap();
        raw[0] ^= 0x01;
        b64.encode(raw)
    };
    if field == "hashes" {
        let h = proof["hashes"][0].as_str().unwrap().to_string();
        proof["hashes"][0] = Value::String(flip(&h));
    } else {
        let h = proof["rootHash"].as_str().unwrap().to_string();
        proof["rootHash"] = Value::String(flip(&h));
    }
    let (mut other, _, _) = setup("pipe_flip");
    let e = other
        .query(
            "SELECT rekor_ingest_bundle($1::text::jsonb)",
            &[&bad.to_string()],
        )
        .unwrap_err();
    assert_eq!(sqlstate(&e), "23514", "flipped {field} byte: {e:?}");
    // The unmodified bundle ingests there.
    other
        .query(
            "SELECT rekor_ingest_bundle($1::text::jsonb)",
            &[&bundle.to_string()],
        )
        .unwrap();
}

#[test]
#[ignore = "needs the local Rekor: layer 4 of scripts/test.sh"]
fn fresh_attestations_are_logged_once_bad_ones_end_dead_and_the_monitor_witnesses() {
    let (mut c, db, rekor) = setup("pipe_fresh");
    let key = CosignKey::generate(&rekor, &scratch("cosign-fresh"));
    let run = format!("{}", std::process::id());
    let mut good = Vec::new();
    for i in 0..6 {
        let vex = openvex(
            &format!("fresh-{run}-{i}"),
            "CVE-2026-20000",
            &format!("pkg:generic/fresh-{run}-{i}@1"),
        );
        let (envelope, _) = key.attest(&format!("f{i}"), &vex, None);
        good.push(enqueue(&mut c, &envelope, Some(&key.public_pem)));
    }
    // A signature that does not verify under the verifier is refused at enqueue (22023): it could
    // never be logged.
    let vex = openvex(&format!("bad-{run}"), "CVE-2026-20001", "pkg:generic/bad@1");
    let (mut forged, _) = key.attest("forged", &vex, None);
    forged["signatures"][0]["sig"] = Value::String("MEUCIQDLj8a20gc/Pn1XcJyJiYUGVclYY//hqrGcxX7i61XqCgIgRFOlK+M4rRaF0zuPDoW9uvMNCwDbjmcKGMjSP0waY+U=".into());
    let e = c
        .query_one("SELECT rekor_enqueue($1::text::jsonb, verifier => $2)", &[&forged.to_string(), &key.public_pem])
        .unwrap_err();
    assert_eq!(sqlstate(&e), "22023", "{e:?}");
    // Rekor refuses it too (400): an item queued before 0.3.0 checked verifiers (inserted here by
    // the owner, as a 0.2.0 queue held it) ends dead with Rekor's message, and the worker goes on.
    let forged_id: i64 = c
        .query_one(
            "INSERT INTO rekor_submission_queue (envelope, payload_type, payload_sha256, envelope_sha256, pae_sha256,
                                                 verifier, verifier_kind, verifier_key_type)
             SELECT $1::text::jsonb, d.payload_type, d.payload_sha256, d.envelope_sha256, d.pae_sha256, v.der, v.kind, v.key_type
             FROM rekor_dsse_info($1::text::jsonb) d, rekor_verifier_check($2::text::jsonb, $3) v
             RETURNING queue_id",
            &[&forged.to_string(), &key.attest("verifier-source", &vex, None).0.to_string(), &key.public_pem],
        )
        .unwrap_or_else(|e| panic!("owner insert of a legacy item: {e:?}"))
        .get(0);
    // An item queued the 0.2.0 way has no verifier: dead with a clear reason, not sent.
    let vex = openvex(&format!("nov-{run}"), "CVE-2026-20002", "pkg:generic/nov@1");
    let (nov, _) = key.attest("noverifier", &vex, None);
    let nov_id: i64 = c
        .query_one("SELECT rekor_enqueue($1::text::jsonb)", &[&nov.to_string()])
        .unwrap()
        .get(0);
    // A verifier that is not a key is refused at enqueue.
    let e = c
        .query_one(
            "SELECT rekor_enqueue($1::text::jsonb, verifier => 'not a key')",
            &[&nov.to_string()],
        )
        .unwrap_err();
    assert_eq!(sqlstate(&e), "22023", "{e:?}");

    let size0 = rekor.tree_size();
    let s = run_submitter(
        &db,
        "w-fresh",
        &[
            "--rekor-url",
            &rekor.url,
            "--concurrency",
            "3",
            "--batch",
            "2",
        ],
    );
    assert_eq!(
        (s.get("submitted"), s.get("conflicts"), s.get("dead")),
        (6, 0, 2),
        "{:?}\n{}",
        s.fields,
        tail(&s.stderr, 20)
    );
    assert_eq!(
        rekor.tree_size(),
        size0 + 6,
        "exactly the six good envelopes were logged"
    );
    for q in &good {
        let r = c
            .query_one(
                "SELECT q.state, rekor_verify_inclusion(q.entry_id), e.kind, e.api_version
                 FROM rekor_submission_queue q JOIN rekor_entries e USING (entry_id) WHERE q.queue_id = $1",
                &[q],
            )
            .unwrap();
        assert_eq!(r.get::<_, String>(0), "submitted");
        assert!(r.get::<_, bool>(1));
        assert_eq!(
            (r.get::<_, String>(2), r.get::<_, String>(3)),
            ("dsse".to_string(), "0.0.1".to_string())
        );
    }
    let dead = |c: &mut Client, id: i64| -> (String, String) {
        let r = c.query_one("SELECT state, coalesce(last_error, '') FROM rekor_submission_queue WHERE queue_id = $1", &[&id]).unwrap();
        (r.get(0), r.get(1))
    };
    let (st, err) = dead(&mut c, forged_id);
    assert_eq!(st, "dead");
    assert!(
        err.starts_with("Rekor 400"),
        "Rekor's own message is kept: {err}"
    );
    let (st, err) = dead(&mut c, nov_id);
    assert_eq!(st, "dead");
    assert!(err.contains("no verifier"), "{err}");

    // The monitor: the log's checkpoint witnessed, then again after growth, consistent.
    let out = std::process::Command::new(submitter_bin())
        .args([
            "monitor",
            "--dsn",
            &conninfo(&db),
            "--rekor-url",
            &rekor.url,
            "--interval",
            "1",
            "--iterations",
            "2",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "monitor: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let w: i64 = c
        .query_one("SELECT max(tree_size) FROM rekor_witness_state", &[])
        .unwrap()
        .get(0);
    assert!(w as u64 >= size0 + 6, "witnessed size {w}");
    // The log grows (cosign logs one more attestation itself).
    key.attest(
        "after-monitor",
        &openvex(&format!("m-{run}"), "CVE-2026-20003", "pkg:generic/m@1"),
        Some(&rekor.url),
    );
    let out = std::process::Command::new(submitter_bin())
        .args([
            "monitor",
            "--dsn",
            &conninfo(&db),
            "--rekor-url",
            &rekor.url,
            "--iterations",
            "1",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "monitor after growth: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = c
        .query_one("SELECT max(tree_size), bool_and(all_consistent) FROM rekor_witness_state, rekor_log_status", &[])
        .unwrap();
    assert!(r.get::<_, i64>(0) as u64 > w as u64, "the witness advanced");
    assert_eq!(
        r.get::<_, Option<bool>>(1),
        Some(true),
        "every witnessed checkpoint is proven consistent"
    );
}

#[test]
#[ignore = "needs the local Rekor: layer 4 of scripts/test.sh"]
fn a_submitter_that_died_after_rekor_logged_is_recovered_by_409_and_notify_wakes_an_idle_one() {
    let (mut c, db, rekor) = setup("pipe_409");
    let signer = TestSigner::new();
    let run = std::process::id();
    let env = signer.envelope(
        &format!("ghost-{run}"),
        &openvex("ghost", "CVE-2026-30000", "pkg:generic/ghost@1"),
    );
    let qid = enqueue(&mut c, &env, Some(&signer.public_pem));
    // A "submitter" leases the item, logs it to Rekor, and dies before rekor_mark_submitted.
    let leased = c
        .query(
            "SELECT queue_id FROM rekor_dequeue('ghost', 1, '1 second')",
            &[],
        )
        .unwrap();
    assert_eq!(leased.len(), 1);
    use base64::Engine;
    let verifier = base64::engine::general_purpose::STANDARD.encode(signer.public_pem.as_bytes());
    // The bytes the submitter sends (its default envelope form, go-struct: what cosign v2 sends):
    // Rekor v1 hashes the envelope as received, so only the same bytes answer 409.
    let go_struct = format!(
        r#"{{"payloadType":"{}","payload":"{}","signatures":[{{"keyid":"","sig":"{}"}}]}}"#,
        env["payloadType"].as_str().unwrap(),
        env["payload"].as_str().unwrap(),
        env["signatures"][0]["sig"].as_str().unwrap()
    );
    let proposed = serde_json::json!({"apiVersion": "0.0.1", "kind": "dsse",
        "spec": {"proposedContent": {"envelope": go_struct, "verifiers": [verifier]}}});
    let size0 = rekor.tree_size();
    let (status, body) = rekor.post_json("/api/v1/log/entries", &proposed.to_string());
    assert_eq!(status, 201, "{body}");
    // Its lease runs out (polled, bounded).
    let t = Instant::now();
    while c
        .query_one(
            "SELECT lease_expires_at > now() FROM rekor_submission_queue WHERE queue_id = $1",
            &[&qid],
        )
        .unwrap()
        .get::<_, bool>(0)
    {
        assert!(t.elapsed() < Duration::from_secs(30), "lease never expired");
        std::thread::sleep(Duration::from_millis(100));
    }

    // A long-running submitter (no --exit-when-idle), polling only once a minute, with metrics: it
    // finds the item at start, gets 409, fetches the entry and marks it.
    let port = free_port();
    let metrics = format!("127.0.0.1:{port}");
    let child = spawn_submitter_with(
        &conninfo(&db),
        "w-409",
        false,
        &[
            "--rekor-url",
            &rekor.url,
            "--concurrency",
            "1",
            "--poll-ms",
            "60000",
            "--metrics-addr",
            &metrics,
        ],
    );
    let pid = child.pid();
    let wait_state = |c: &mut Client, id: i64, limit: Duration| {
        let t = Instant::now();
        loop {
            let st: String = c
                .query_one(
                    "SELECT state FROM rekor_submission_queue WHERE queue_id = $1",
                    &[&id],
                )
                .unwrap()
                .get(0);
            if st == "submitted" {
                return;
            }
            assert!(t.elapsed() < limit, "item {id} still {st} after {limit:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_state(&mut c, qid, Duration::from_secs(30));
    assert_eq!(
        rekor.tree_size(),
        size0 + 1,
        "logged once: by the dead submitter, not again"
    );
    assert!(c.query_one("SELECT rekor_verify_inclusion(entry_id) FROM rekor_submission_queue WHERE queue_id = $1", &[&qid]).unwrap().get::<_, bool>(0));

    // Idle now, polling once a minute: a NOTIFY on enqueue must wake it. Wait until its LISTEN
    // connection is up (a LISTEN issued before it would not see the notification).
    let t = Instant::now();
    while !c
        .query_one("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN rekor_meta_queue')", &[])
        .unwrap()
        .get::<_, bool>(0)
    {
        assert!(t.elapsed() < Duration::from_secs(20), "the submitter never LISTENed");
        std::thread::sleep(Duration::from_millis(100));
    }
    let env2 = signer.envelope(
        &format!("wake-{run}"),
        &openvex("wake", "CVE-2026-30001", "pkg:generic/wake@1"),
    );
    let t = Instant::now();
    let q2 = enqueue(&mut c, &env2, Some(&signer.public_pem));
    wait_state(&mut c, q2, Duration::from_secs(20));
    let woke = t.elapsed();
    assert!(
        woke < Duration::from_secs(20),
        "woken by NOTIFY in {woke:?}, not by the 60 s poll"
    );

    // Metrics on the port.
    let (status, text) = curl(&["-sS", "-m", "5", &format!("http://{metrics}/metrics")]);
    assert_eq!(status, 200);
    for m in [
        "rekor_meta_submitter_submitted_total 2",
        "rekor_meta_submitter_conflicts_total 1",
        "rekor_meta_submitter_http_request_duration_seconds_bucket",
        "rekor_meta_submitter_queue_items",
    ] {
        assert!(text.contains(m), "metrics lack {m}:\n{text}");
    }
    // SIGTERM: it finishes and exits 0 with its summary.
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap()
        .success());
    let (status, s) = wait_submitter(child, Duration::from_secs(20));
    assert!(
        status.success(),
        "exit after SIGTERM: {status}\n{}",
        tail(&s.stderr, 20)
    );
    assert_eq!(
        (s.get("submitted"), s.get("conflicts")),
        (2, 1),
        "{:?}",
        s.fields
    );
    eprintln!("NOTIFY woke the idle submitter in {woke:?}");
}

#[test]
#[ignore = "needs the local Rekor: layer 4 of scripts/test.sh"]
fn a_hashedrekord_over_the_sha384_pae_of_a_p384_envelope_marks_the_item_submitted() {
    // Rekor v2's form for P-384 signers (hashedrekord, digest SHA-384 of the envelope's PAE), made
    // here through the real Rekor v1's hashedrekord type, which takes sha384 digests as well.
    use base64::Engine;
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P384_SHA384_ASN1_SIGNING};
    use sha2::Digest;
    let (mut c, _db, rekor) = setup("pipe_p384");
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P384_SHA384_ASN1_SIGNING, &rng).unwrap();
    let key =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P384_SHA384_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let mut spki = hex::decode("3076301006072a8648ce3d020106052b81040022036200").unwrap();
    spki.extend_from_slice(key.public_key().as_ref());
    let b64 = base64::engine::general_purpose::STANDARD;
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        b64.encode(&spki)
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    );
    let payload = format!(
        r#"{{"_type":"https://in-toto.io/Statement/v0.1","subject":[],"predicate":{{"n":{}}}}}"#,
        std::process::id()
    );
    let pt = "application/vnd.in-toto+json";
    let mut pae = format!("DSSEv1 {} {} {} ", pt.len(), pt, payload.len()).into_bytes();
    pae.extend_from_slice(payload.as_bytes());
    let sig = key.sign(&rng, &pae).unwrap();
    let envelope = serde_json::json!({"payloadType": pt, "payload": b64.encode(payload.as_bytes()),
                                      "signatures": [{"keyid": "", "sig": b64.encode(sig.as_ref())}]});
    let qid = enqueue(&mut c, &envelope, Some(&pem));
    let kt: String = c
        .query_one(
            "SELECT verifier_key_type FROM rekor_submission_queue WHERE queue_id = $1",
            &[&qid],
        )
        .unwrap()
        .get(0);
    assert_eq!(kt, "ecdsa-p384");
    let proposed = serde_json::json!({"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
        "data": {"hash": {"algorithm": "sha384", "value": hex::encode(sha2::Sha384::digest(&pae))}},
        "signature": {"content": b64.encode(sig.as_ref()), "publicKey": {"content": b64.encode(pem.as_bytes())}}}});
    let (status, body) = rekor.post_json("/api/v1/log/entries", &proposed.to_string());
    assert_eq!(status, 201, "{body}");
    c.query(
        "SELECT queue_id FROM rekor_dequeue('p384', 1, '1 minute')",
        &[],
    )
    .unwrap();
    let entry: i64 = c
        .query_one(
            "SELECT rekor_mark_submitted($1, 'p384', $2::text::jsonb)",
            &[&qid, &body],
        )
        .unwrap_or_else(|e| panic!("rekor_mark_submitted with a sha384 hashedrekord: {e:?}"))
        .get(0);
    let ok: bool = c
        .query_one("SELECT rekor_verify_inclusion($1)", &[&entry])
        .unwrap()
        .get(0);
    assert!(ok);
    // Another envelope (signed by the same key) does not match that entry's PAE digest. With the
    // first envelope's signature it is refused at enqueue already (22023: it could never be logged).
    let forged = serde_json::json!({"payloadType": pt, "payload": b64.encode(b"{}"),
                                    "signatures": [{"keyid": "", "sig": b64.encode(sig.as_ref())}]});
    let e = c
        .query_one("SELECT rekor_enqueue($1::text::jsonb, verifier => $2)", &[&forged.to_string(), &pem])
        .unwrap_err();
    assert_eq!(sqlstate(&e), "22023", "{e:?}");
    let mut other_pae = format!("DSSEv1 {} {} 2 ", pt.len(), pt).into_bytes();
    other_pae.extend_from_slice(b"{}");
    let other_sig = key.sign(&rng, &other_pae).unwrap();
    let other = serde_json::json!({"payloadType": pt, "payload": b64.encode(b"{}"),
                                   "signatures": [{"keyid": "", "sig": b64.encode(other_sig.as_ref())}]});
    let q2 = enqueue(&mut c, &other, Some(&pem));
    c.query(
        "SELECT queue_id FROM rekor_dequeue('p384', 1, '1 minute')",
        &[],
    )
    .unwrap();
    let e = c
        .query_one(
            "SELECT rekor_mark_submitted($1, 'p384', $2::text::jsonb)",
            &[&q2, &body],
        )
        .unwrap_err();
    assert_eq!(sqlstate(&e), "23514", "{e:?}");
}
