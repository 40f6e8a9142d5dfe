//! Client-level tests of the in-database witness (rekor_witness_checkpoint): every status, and 64
//! concurrent submitters that must never move the witnessed size backwards or past an unproven step.
use postgres::Client;
use rekor_meta_client_tests::notes::{Ed25519Signer, TestTree};
use rekor_meta_client_tests::*;
use rekor_meta_core::merkle;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};

#[derive(Debug, Clone, PartialEq)]
struct Answer {
    status: String,
    tree_size: Option<i64>,
    checkpoint_id: Option<i64>,
    detail: Option<String>,
}

fn witness(c: &mut Client, note: &str, old_size: i64, proof: &[Vec<u8>]) -> Answer {
    try_witness(c, note, old_size, proof).unwrap_or_else(|e| panic!("witness: {e:?}"))
}

fn try_witness(c: &mut Client, note: &str, old_size: i64, proof: &[Vec<u8>]) -> Result<Answer, postgres::Error> {
    let proof: Vec<Vec<u8>> = proof.to_vec();
    let r = c.query_one(
        "SELECT status, tree_size, checkpoint_id, detail FROM rekor_witness_checkpoint($1, $2, $3)",
        &[&note, &old_size, &proof],
    )?;
    Ok(Answer { status: r.get(0), tree_size: r.get(1), checkpoint_id: r.get(2), detail: r.get(3) })
}

fn add_log(c: &mut Client, log: &Ed25519Signer) -> Vec<u8> {
    c.query_one("SELECT rekor_add_log($1, $2)", &[&log.spki_b64(), &log.name]).unwrap().get(0)
}

/// (tree_size, checkpoint_id, root_hash) of the log's witness state; size 0 when there is none.
fn state(c: &mut Client, log_id: &[u8]) -> (i64, Option<i64>, Option<Vec<u8>>) {
    match c.query_opt("SELECT tree_size, checkpoint_id, root_hash FROM rekor_witness_state WHERE log_id = $1", &[&log_id]).unwrap() {
        Some(r) => (r.get(0), r.get(1), r.get(2)),
        None => (0, None, None),
    }
}

fn count(c: &mut Client, q: &str) -> i64 {
    c.query_one(q, &[]).unwrap().get(0)
}

#[test]
fn witness_answers_every_status() {
    let mut c = fresh_db("witness_statuses");
    let log = Ed25519Signer::from_label("witness.example", "witness tests log");
    let log_id = add_log(&mut c, &log);
    let a = TestTree::new("witness", 30);
    let cp = |t: &TestTree, n: usize| log.checkpoint(&log.name, n as u64, &t.root(n));

    // Not a trusted log, or not its signature: nothing is stored.
    let stranger = Ed25519Signer::from_label("stranger.example", "stranger");
    let r = witness(&mut c, &stranger.checkpoint(&stranger.name, 5, &a.root(5)), 0, &[]);
    assert_eq!((r.status.as_str(), r.tree_size, r.checkpoint_id), ("unknown_log", None, None));
    let imposter = Ed25519Signer::from_label(&log.name, "imposter");
    let r = witness(&mut c, &imposter.checkpoint(&log.name, 5, &a.root(5)), 0, &[]);
    assert_eq!((r.status.as_str(), r.tree_size), ("bad_signature", None));
    // Malformed input raises.
    assert_eq!(sqlstate(try_witness(&mut c, "not a note", 0, &[])), "22P02");
    assert_eq!(sqlstate(try_witness(&mut c, &cp(&a, 5), -1, &[])), "22023");
    assert_eq!(sqlstate(c.query_one("SELECT * FROM rekor_witness_checkpoint($1, NULL, '{}')", &[&cp(&a, 5)])), "22023");

    // The first checkpoint: old size must be 0 and the proof empty.
    let r = witness(&mut c, &cp(&a, 5), 6, &[]);
    assert_eq!(r.status, "old_size_too_large");
    let r = witness(&mut c, &cp(&a, 5), 3, &[]);
    assert_eq!((r.status.as_str(), r.tree_size, r.checkpoint_id), ("old_size_mismatch", Some(0), None));
    let r = witness(&mut c, &cp(&a, 5), 0, &a.consistency(3, 5));
    assert_eq!((r.status.as_str(), r.tree_size), ("bad_proof", Some(0)));
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_checkpoints"), 0);
    let first = witness(&mut c, &cp(&a, 5), 0, &[]);
    assert_eq!((first.status.as_str(), first.tree_size), ("ok", Some(5)));
    let id5 = first.checkpoint_id.expect("checkpoint id");
    assert_eq!(state(&mut c, &log_id), (5, Some(id5), Some(a.root(5).to_vec())));

    // The same checkpoint again: ok with an empty proof, bad_proof with a non-empty one.
    let r = witness(&mut c, &cp(&a, 5), 5, &[]);
    assert_eq!((r.status.as_str(), r.tree_size, r.checkpoint_id), ("ok", Some(5), Some(id5)));
    let r = witness(&mut c, &cp(&a, 5), 5, &a.consistency(3, 5));
    assert_eq!(r.status, "bad_proof");

    // A stale old size: old_size_mismatch carrying the current size.
    let r = witness(&mut c, &cp(&a, 10), 3, &a.consistency(3, 10));
    assert_eq!((r.status.as_str(), r.tree_size, r.checkpoint_id), ("old_size_mismatch", Some(5), Some(id5)));
    let r = witness(&mut c, &cp(&a, 10), 0, &[]);
    assert_eq!((r.status.as_str(), r.tree_size), ("old_size_mismatch", Some(5)));
    // Wrong proofs (other sizes, tampered, malformed, too long): bad_proof, nothing moves.
    let mut tampered = a.consistency(5, 10);
    tampered[0][7] ^= 0x10;
    let mut short = a.consistency(5, 10);
    short[0].truncate(31);
    for (what, proof) in [
        ("other sizes", a.consistency(4, 10)),
        ("other end", a.consistency(5, 11)),
        ("tampered", tampered),
        ("31-byte hash", short),
        ("empty", vec![]),
        ("65 hashes", vec![vec![0u8; 32]; 65]),
    ] {
        let r = witness(&mut c, &cp(&a, 10), 5, &proof);
        assert_eq!((r.status.as_str(), r.tree_size, r.checkpoint_id), ("bad_proof", Some(5), Some(id5)), "{what}");
        assert!(r.detail.unwrap().contains("no valid consistency proof from size 5 to 10"), "{what}");
    }
    assert_eq!(state(&mut c, &log_id).0, 5);

    // A valid proof advances and records the proven link.
    let r = witness(&mut c, &cp(&a, 10), 5, &a.consistency(5, 10));
    assert_eq!((r.status.as_str(), r.tree_size), ("ok", Some(10)));
    let id10 = r.checkpoint_id.unwrap();
    assert_eq!(state(&mut c, &log_id), (10, Some(id10), Some(a.root(10).to_vec())));
    let link: i64 = c
        .query_one("SELECT count(*) FROM rekor_checkpoint_consistency WHERE older_id = $1 AND newer_id = $2", &[&id5, &id10])
        .unwrap()
        .get(0);
    assert_eq!(link, 1);

    // Never backwards: a smaller checkpoint is a mismatch (or its old size too large).
    let r = witness(&mut c, &cp(&a, 8), 5, &a.consistency(5, 8));
    assert_eq!((r.status.as_str(), r.tree_size), ("old_size_mismatch", Some(10)));
    let r = witness(&mut c, &cp(&a, 8), 10, &[]);
    assert_eq!(r.status, "old_size_too_large");

    // Another root at the witnessed size: fork, kept as evidence; the state stays.
    let b = a.forked_at(2, "the other history");
    let r = witness(&mut c, &cp(&b, 10), 10, &[]);
    assert_eq!((r.status.as_str(), r.tree_size, r.checkpoint_id), ("fork", Some(10), Some(id10)));
    assert!(r.detail.unwrap().contains(&hex::encode(b.root(10))));
    let forks: i64 = c
        .query_one("SELECT count(*) FROM rekor_log_forks WHERE stored_checkpoint_id = $1 AND conflicting_root_hash = $2", &[&id10, &b.root(10).to_vec()])
        .unwrap()
        .get(0);
    assert_eq!(forks, 1);
    // The other history one step further: its proof does not start at the witnessed root.
    let r = witness(&mut c, &cp(&b, 15), 10, &b.consistency(10, 15));
    assert_eq!((r.status.as_str(), r.tree_size), ("bad_proof", Some(10)));
    assert_eq!(state(&mut c, &log_id), (10, Some(id10), Some(a.root(10).to_vec())));
    let r = c.query_one("SELECT forks, all_consistent, latest_tree_size FROM rekor_log_status WHERE log_id = $1", &[&log_id]).unwrap();
    assert_eq!((r.get::<_, i64>(0), r.get::<_, bool>(1), r.get::<_, i64>(2)), (1, false, 10));
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_checkpoints"), 2);
}

#[test]
fn witness_advances_from_a_size_zero_checkpoint() {
    // A new log's first checkpoint is often size 0. C2SP tlog-witness: "The proof MUST be empty if
    // the old size is zero"; the empty tree is consistent with every tree.
    let mut c = fresh_db("witness_zero");
    let log = Ed25519Signer::from_label("zero.example", "witness zero log");
    let log_id = add_log(&mut c, &log);
    let t = TestTree::new("zero", 9);
    let cp = |n: usize| log.checkpoint(&log.name, n as u64, &t.root(n));
    let r = witness(&mut c, &cp(0), 0, &[]);
    assert_eq!((r.status.as_str(), r.tree_size), ("ok", Some(0)));
    let id0 = r.checkpoint_id.unwrap();
    assert_eq!(state(&mut c, &log_id), (0, Some(id0), Some(merkle::empty_root().to_vec())));
    // A non-empty proof from size 0 is refused.
    let r = witness(&mut c, &cp(4), 0, &[t.root(4).to_vec()]);
    assert_eq!((r.status.as_str(), r.tree_size), ("bad_proof", Some(0)));
    let r = witness(&mut c, &cp(4), 0, &[]);
    assert_eq!((r.status.as_str(), r.tree_size), ("ok", Some(4)), "{r:?}");
    let id4 = r.checkpoint_id.unwrap();
    let r = witness(&mut c, &cp(9), 4, &t.consistency(4, 9));
    assert_eq!((r.status.as_str(), r.tree_size), ("ok", Some(9)));
    // Both steps are proven links: the log is all consistent.
    let links: i64 = c
        .query_one("SELECT count(*) FROM rekor_checkpoint_consistency WHERE (older_id, newer_id) IN (($1, $2), ($2, $3))", &[&id0, &id4, &r.checkpoint_id.unwrap()])
        .unwrap()
        .get(0);
    assert_eq!(links, 2);
    let all: bool = c.query_one("SELECT all_consistent FROM rekor_log_status WHERE log_id = $1", &[&log_id]).unwrap().get(0);
    assert!(all);
    // The same rule for rekor_verify_checkpoint_consistency.
    let ok: bool = c.query_one("SELECT rekor_verify_checkpoint_consistency($1, $2, '{}')", &[&id0, &id4]).unwrap().get(0);
    assert!(ok);
    let ok: bool = c
        .query_one("SELECT rekor_verify_checkpoint_consistency($1, $2, ARRAY[$3::bytea])", &[&id0, &id4, &t.root(4).to_vec()])
        .unwrap()
        .get(0);
    assert!(!ok);
}

#[test]
fn witness_reports_a_fork_stored_outside_the_witness() {
    let mut c = fresh_db("witness_outside_fork");
    let log = Ed25519Signer::from_label("outside.example", "witness outside fork");
    let log_id = add_log(&mut c, &log);
    let a = TestTree::new("outside", 12);
    let b = a.forked_at(7, "outside fork");
    let r = witness(&mut c, &log.checkpoint(&log.name, 5, &a.root(5)), 0, &[]);
    assert_eq!(r.status, "ok");
    // Someone stores the other history's checkpoint at 10 directly.
    let bid: i64 = c
        .query_one("INSERT INTO rekor_checkpoints (note) VALUES ($1) RETURNING checkpoint_id", &[&log.checkpoint(&log.name, 10, &b.root(10))])
        .unwrap()
        .get(0);
    // The witness, shown history A at 10 with a valid proof, finds the contradiction.
    let ours = log.checkpoint(&log.name, 10, &a.root(10));
    let r = witness(&mut c, &ours, 5, &a.consistency(5, 10));
    assert_eq!((r.status.as_str(), r.tree_size, r.checkpoint_id), ("fork", Some(5), Some(bid)));
    let note: String = c.query_one("SELECT conflicting_note FROM rekor_log_forks WHERE log_id = $1", &[&log_id]).unwrap().get(0);
    assert_eq!(note, ours);
    assert_eq!(state(&mut c, &log_id).0, 5);
}

/// One witness call as a submitter saw it.
#[derive(Debug, Clone)]
struct Seen {
    thread: usize,
    old: i64,
    new: i64,
    tampered: bool,
    answer: Answer,
}

/// xorshift64*: a small deterministic generator per thread.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

#[test]
fn concurrent_submitters_never_move_the_witness_backwards_or_past_an_unproven_step() {
    const SUBMITTERS: usize = 64;
    const ROUNDS: usize = 30;
    const LEAVES: usize = 1500;
    let mut c = fresh_db("witness_concurrent");
    let db: String = c.query_one("SELECT current_database()", &[]).unwrap().get(0);
    let log = Ed25519Signer::new("concurrent.example", [42u8; 32]);
    let log_id = add_log(&mut c, &log);
    assert_eq!(log_id, log.log_id().to_vec());
    let tree = Arc::new(TestTree::new("concurrent", LEAVES));
    // A signed checkpoint for every size.
    let notes: Arc<Vec<String>> = Arc::new((0..=LEAVES).map(|n| log.checkpoint(&log.name, n as u64, &tree.root(n))).collect());

    let start = Arc::new(Barrier::new(SUBMITTERS + 2)); // submitters, poller, this thread
    let done = Arc::new(AtomicBool::new(false));
    // The poller samples the witnessed size throughout.
    let poller = {
        let (db, log_id, start, done) = (db.clone(), log_id.clone(), start.clone(), done.clone());
        std::thread::spawn(move || {
            let mut c = connect_db(&db);
            start.wait();
            let mut samples = Vec::new();
            while !done.load(Ordering::SeqCst) {
                samples.push(state(&mut c, &log_id).0);
            }
            samples.push(state(&mut c, &log_id).0);
            samples
        })
    };
    let submitters: Vec<_> = (0..SUBMITTERS)
        .map(|t| {
            let (db, log_id, start, tree, notes) = (db.clone(), log_id.clone(), start.clone(), tree.clone(), notes.clone());
            std::thread::spawn(move || {
                let mut c = connect_db(&db);
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (t as u64 + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9));
                // Half start from 0, half from a stale guess.
                let mut believed: i64 = if t % 2 == 0 { 0 } else { rng.below(40) as i64 };
                let mut seen = Vec::with_capacity(ROUNDS);
                start.wait();
                for _ in 0..ROUNDS {
                    match rng.below(10) {
                        0..=4 => believed = state(&mut c, &log_id).0, // read the current size
                        5..=7 => {}                                    // keep what it believes
                        _ => believed = rng.below(believed as u64 + 1) as i64, // a stale guess
                    }
                    let old = believed as usize;
                    let new = if old >= LEAVES { LEAVES } else { old + 1 + rng.below(8.min((LEAVES - old) as u64)) as usize };
                    let mut proof = tree.consistency(old, new);
                    let tampered = !proof.is_empty() && rng.below(16) == 0;
                    if tampered {
                        let i = rng.below(proof.len() as u64) as usize;
                        proof[i][rng.below(32) as usize] ^= 1 << rng.below(8);
                    }
                    let answer = witness(&mut c, &notes[new], old as i64, &proof);
                    match answer.status.as_str() {
                        "ok" => believed = new as i64,
                        "old_size_mismatch" => believed = answer.tree_size.expect("current size"),
                        _ => {}
                    }
                    seen.push(Seen { thread: t, old: old as i64, new: new as i64, tampered, answer });
                }
                seen
            })
        })
        .collect();
    start.wait();
    let seen: Vec<Seen> = submitters.into_iter().flat_map(|h| h.join().expect("submitter")).collect();
    done.store(true, Ordering::SeqCst);
    let samples = poller.join().expect("poller");
    assert_eq!(seen.len(), SUBMITTERS * ROUNDS);

    // 1. Every answer is one the protocol allows for what was sent.
    let mut by_status = BTreeMap::<String, usize>::new();
    for s in &seen {
        *by_status.entry(s.answer.status.clone()).or_default() += 1;
        match s.answer.status.as_str() {
            "ok" => {
                assert!(!s.tampered, "ok for a tampered proof: {s:?}");
                assert_eq!(s.answer.tree_size, Some(s.new), "{s:?}");
            }
            "old_size_mismatch" => assert_ne!(s.answer.tree_size, Some(s.old), "{s:?}"),
            "bad_proof" => assert!(s.tampered, "bad_proof for a valid proof: {s:?}"),
            _ => panic!("unexpected answer {s:?}"),
        }
    }
    let mismatches = by_status.get("old_size_mismatch").copied().unwrap_or(0);
    assert!(mismatches >= SUBMITTERS, "too little contention: {by_status:?}");

    // 2. The advancing oks form one chain from the first checkpoint: each started at the previous
    //    one's size, so the witness never answered ok for an old size that was not its state.
    let mut advances: Vec<&Seen> = seen.iter().filter(|s| s.answer.status == "ok" && s.old != s.new).collect();
    advances.sort_by_key(|s| s.new);
    assert!(advances.len() >= 20, "only {} advances: {by_status:?}", advances.len());
    assert_eq!(advances[0].old, 0, "first: {:?}", advances[0]);
    for w in advances.windows(2) {
        assert!(w[0].new < w[1].new, "two oks to size {}: {:?} {:?}", w[1].new, w[0], w[1]);
        assert_eq!(w[1].old, w[0].new, "ok from a size that was not the state: {:?} after {:?}", w[1], w[0]);
    }
    let chain: Vec<i64> = advances.iter().map(|s| s.new).collect();
    let states: BTreeSet<i64> = std::iter::once(0).chain(chain.iter().copied()).collect();
    // "Already witnessed" oks and mismatch answers name sizes the state really had.
    for s in &seen {
        if s.answer.status == "ok" && s.old == s.new {
            assert!(states.contains(&s.new), "{s:?}");
        }
        if s.answer.status == "old_size_mismatch" {
            assert!(states.contains(&s.answer.tree_size.unwrap()), "{s:?}");
        }
    }
    let final_size = *chain.last().unwrap();

    // 3. The poller never saw the size go down, and saw the final size last.
    assert!(samples.len() > 10, "only {} samples", samples.len());
    for w in samples.windows(2) {
        assert!(w[0] <= w[1], "witnessed size went from {} to {}", w[0], w[1]);
    }
    assert!(samples.iter().all(|s| states.contains(s)), "a sampled size was never a state");
    assert_eq!(*samples.last().unwrap(), final_size);

    // 4. The database: the state is the last ok; the stored checkpoints are exactly the chain; the
    //    links are exactly its steps, each with a proof that verifies.
    let (size, cid, root) = state(&mut c, &log_id);
    assert_eq!(size, final_size);
    assert_eq!(root, Some(tree.root(final_size as usize).to_vec()));
    let max_ok = seen.iter().filter(|s| s.answer.status == "ok").map(|s| s.new).max().unwrap();
    assert_eq!(size, max_ok);
    let stored: BTreeMap<i64, i64> = c
        .query("SELECT tree_size, checkpoint_id FROM rekor_checkpoints WHERE log_id = $1", &[&log_id])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(stored.keys().copied().collect::<Vec<_>>(), chain);
    assert_eq!(cid, Some(stored[&final_size]));
    let links = c
        .query(
            "SELECT a.tree_size, b.tree_size, a.root_hash, b.root_hash, k.proof,
                    rekor_verify_consistency(a.tree_size, b.tree_size, a.root_hash, b.root_hash, k.proof)
             FROM rekor_checkpoint_consistency k
             JOIN rekor_checkpoints a ON a.checkpoint_id = k.older_id
             JOIN rekor_checkpoints b ON b.checkpoint_id = k.newer_id
             WHERE a.log_id = $1 ORDER BY a.tree_size",
            &[&log_id],
        )
        .unwrap();
    let steps: Vec<(i64, i64)> = chain.windows(2).map(|w| (w[0], w[1])).collect();
    let got: Vec<(i64, i64)> = links.iter().map(|r| (r.get(0), r.get(1))).collect();
    assert_eq!(got, steps, "links must be exactly the chain's steps");
    for r in &links {
        let (s1, s2): (i64, i64) = (r.get(0), r.get(1));
        assert!(r.get::<_, bool>(5), "stored proof {s1} -> {s2} does not verify in SQL");
        let (r1, r2, proof): (Vec<u8>, Vec<u8>, Vec<Vec<u8>>) = (r.get(2), r.get(3), r.get(4));
        let p: Vec<&[u8]> = proof.iter().map(|h| h.as_slice()).collect();
        merkle::verify_consistency(s1 as u64, s2 as u64, &r1, &r2, &p).unwrap_or_else(|e| panic!("{s1} -> {s2}: {e}"));
        assert_eq!(r1, tree.root(s1 as usize).to_vec());
        assert_eq!(r2, tree.root(s2 as usize).to_vec());
    }
    let r = c
        .query_one("SELECT latest_tree_size, all_consistent, forks FROM rekor_log_status WHERE log_id = $1", &[&log_id])
        .unwrap();
    assert_eq!((r.get::<_, i64>(0), r.get::<_, bool>(1), r.get::<_, i64>(2)), (final_size, true, 0));
    eprintln!(
        "64 submitters: {} calls, {by_status:?}, chain of {} sizes up to {final_size}, {} poller samples, first thread {}",
        seen.len(),
        chain.len(),
        samples.len(),
        advances[0].thread
    );
}
