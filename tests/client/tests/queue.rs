//! Client-level tests of the submission queue (sql/040_queue.sql) against a synthetic Rekor log
//! (rekor_meta_client_tests::testlog): concurrent workers draining 20,000 items with a lease log
//! that proves no item was ever held twice, worker backends killed mid-lease (pg_terminate_backend
//! and SIGKILL with the postmaster's crash restart), an immediate shutdown mid-run, and every way a
//! call can be refused (22023, 23514, 55000) without changing the item.
//!
//! Tests that kill backends or restart the server hold EXCLUSIVE for writing; every other test holds
//! it for reading, so nothing else in this binary runs while the server goes away. The restarting
//! tests need REKOR_CLUSTER_DIR and REKOR_PGPORT (scripts/test.sh exports both).
use postgres::{Client, NoTls};
use rekor_meta_client_tests::testlog::worker::{self, check_drained, check_logs, drain, enqueue_range, WorkerLog};
use rekor_meta_client_tests::testlog::TestLog;
use rekor_meta_client_tests::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::process::Command;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

static EXCLUSIVE: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    EXCLUSIVE.read().unwrap_or_else(|e| e.into_inner())
}

fn exclusive() -> RwLockWriteGuard<'static, ()> {
    EXCLUSIVE.write().unwrap_or_else(|e| e.into_inner())
}

/// A fresh database with the test log trusted; returns the client, the log and the database's DSN.
fn setup(name: &str, tag: &str, n: usize) -> (Client, TestLog, String) {
    let mut c = fresh_db(name);
    let log = TestLog::new(tag, n);
    log.install(&mut c);
    let db: String = c.query_one("SELECT current_database()", &[]).unwrap().get(0);
    (c, log, format!("{} dbname={db}", dsn()))
}

fn count(c: &mut Client, q: &str) -> i64 {
    c.query_one(q, &[]).unwrap().get(0)
}

/// The whole queue row as text: "unchanged" means this string is the same.
fn row(c: &mut Client, id: i64) -> String {
    c.query_one("SELECT q::text FROM rekor_submission_queue q WHERE queue_id = $1", &[&id]).unwrap().get(0)
}

fn state(c: &mut Client, id: i64) -> (String, i32, Option<String>) {
    let r = c
        .query_one("SELECT state, attempts, lease_owner FROM rekor_submission_queue WHERE queue_id = $1", &[&id])
        .unwrap();
    (r.get(0), r.get(1), r.get(2))
}

fn enqueue(c: &mut Client, env: &Value) -> Result<i64, postgres::Error> {
    c.query_one("SELECT rekor_enqueue($1::text::jsonb)", &[&env.to_string()]).map(|r| r.get(0))
}

/// queue_ids leased to `worker`, in the order rekor_dequeue returned them.
fn dequeue(c: &mut Client, worker: &str, batch: i32, lease: &str) -> Vec<i64> {
    try_dequeue(c, worker, batch, lease).unwrap_or_else(|e| panic!("rekor_dequeue: {e:?}"))
}

fn try_dequeue(c: &mut Client, worker: &str, batch: i32, lease: &str) -> Result<Vec<i64>, postgres::Error> {
    c.query("SELECT queue_id FROM rekor_dequeue($1, $2, $3::text::interval)", &[&worker, &batch, &lease])
        .map(|rows| rows.iter().map(|r| r.get(0)).collect())
}

fn mark(c: &mut Client, id: i64, worker: &str, response: &str) -> Result<i64, postgres::Error> {
    c.query_one("SELECT rekor_mark_submitted($1, $2, $3::text::jsonb)", &[&id, &worker, &response]).map(|r| r.get(0))
}

fn mark_failed(c: &mut Client, id: i64, worker: &str, error: &str, retryable: bool) -> Result<String, postgres::Error> {
    c.query_one("SELECT rekor_mark_failed($1, $2, $3, $4)", &[&id, &worker, &error, &retryable]).map(|r| r.get(0))
}

/// The test-log index of a queue item's envelope.
fn index_of(c: &mut Client, log: &TestLog, id: i64) -> usize {
    let sha: Vec<u8> =
        c.query_one("SELECT envelope_sha256 FROM rekor_submission_queue WHERE queue_id = $1", &[&id]).unwrap().get(0);
    log.index_of(&sha).expect("an envelope of the test log")
}

fn cluster_env() -> (String, String) {
    let dir = std::env::var("REKOR_CLUSTER_DIR")
        .expect("REKOR_CLUSTER_DIR is not set: scripts/test.sh exports it (the cluster these tests may restart)");
    let port = std::env::var("REKOR_PGPORT").expect("REKOR_PGPORT is not set: scripts/test.sh exports it");
    (dir, port)
}

fn scripts_dir() -> String {
    format!("{}/../../scripts", env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn sigkill_backend(pid: i32) {
    run(Command::new("sudo").args(["-u", "postgres", "kill", "-9", &pid.to_string()]));
}

fn immediate_shutdown_and_start() {
    let (dir, port) = cluster_env();
    let pg_ctl = "/usr/lib/postgresql/15/bin/pg_ctl";
    // The real path: scripts/cluster.sh may have made the cluster dir a symlink user postgres cannot follow.
    let real = std::fs::canonicalize(&dir).unwrap_or_else(|e| panic!("{dir}: {e}"));
    let data = format!("{}/data", real.display());
    run(Command::new("sudo").args(["-u", "postgres", pg_ctl, "-D", &data, "-m", "immediate", "-w", "stop"]));
    run(Command::new("bash")
        .arg(format!("{}/cluster.sh", scripts_dir()))
        .arg("start")
        .env("REKOR_CLUSTER_DIR", &dir)
        .env("REKOR_PGPORT", &port));
}

/// A connection once the server accepts them again (after a crash restart).
fn reconnect(db_dsn: &str) -> Client {
    worker::connect_retry(db_dsn, Instant::now() + Duration::from_secs(60)).expect("the server came back")
}

/// Drops the test's database once the test passed (a failed test leaves it for a post-mortem): a
/// crash restart fsyncs every file of the cluster, so fewer databases mean a faster recovery.
fn done(c: Client) {
    let mut c = c;
    let db: String = c.query_one("SELECT current_database()", &[]).unwrap().get(0);
    drop(c);
    connect_db("postgres").batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).expect("drop database");
}

/// After a crash the startup process fsyncs the data directory before redo; file by file that
/// takes tens of seconds on a busy disk with many test databases, syncfs(2) a fraction of a second.
/// (A test-cluster setting: scripts/test.sh makes a fresh cluster every run.)
fn fast_crash_recovery(c: &mut Client) {
    c.batch_execute("ALTER SYSTEM SET recovery_init_sync_method = 'syncfs'").unwrap();
    c.batch_execute("SELECT pg_reload_conf()").unwrap();
}

// ---------------------------------------------------------------------------------------------
// The synthetic log itself
// ---------------------------------------------------------------------------------------------

#[test]
fn synthetic_responses_ingest_and_log_exactly_their_envelopes() {
    let _g = shared();
    let (mut c, log, _) = setup("q_synthetic", "synthetic", 37);
    for i in [0usize, 1, 17, 35, 36] {
        let ids: Vec<i64> = c
            .query("SELECT rekor_ingest_entry($1::text::jsonb)", &[&log.response_json(i)])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(ids.len(), 1);
        let r = c
            .query_one(
                "SELECT kind, api_version, log_index, tree_size, integrated_time IS NOT NULL, signed_entry_timestamp IS NULL,
                        rekor_verify_inclusion(entry_id), rekor_entry_envelope_mismatch(body, $2::text::jsonb)
                 FROM rekor_entries WHERE entry_id = $1",
                &[&ids[0], &log.envelope_json(i)],
            )
            .unwrap();
        let (kind, v): (String, String) = (r.get(0), r.get(1));
        assert_eq!((kind.as_str(), v.as_str()), ("dsse", "0.0.1"));
        assert_eq!((r.get::<_, i64>(2), r.get::<_, i64>(3)), (i as i64, 37));
        assert!(r.get::<_, bool>(4) && r.get::<_, bool>(5) && r.get::<_, bool>(6));
        assert_eq!(r.get::<_, Option<String>>(7), None, "entry {i} does not log its envelope");
        // ...and not a neighbour's envelope.
        let other: Option<String> = c
            .query_one(
                "SELECT rekor_entry_envelope_mismatch(body, $2::text::jsonb) FROM rekor_entries WHERE entry_id = $1",
                &[&ids[0], &log.envelope_json((i + 1) % 37)],
            )
            .unwrap()
            .get(0);
        assert!(other.is_some());
        // The queue's digests are the body's: envelopeHash = SHA-256 of the canonical envelope.
        let env_hash: Vec<u8> = c
            .query_one("SELECT envelope_sha256 FROM rekor_dsse_info($1::text::jsonb)", &[&log.envelope_json(i)])
            .unwrap()
            .get(0);
        assert_eq!(env_hash, log.envelope_sha256[i].to_vec());
        let found = count(
            &mut c,
            &format!(
                "SELECT count(*) FROM rekor_entries_by_digest('sha256', '\\x{}'::bytea) WHERE log_index = {i}",
                hex::encode(log.envelope_sha256[i])
            ),
        );
        assert_eq!(found, 1, "entry {i} is not found by its envelope hash");
    }
    // One checkpoint serves them all.
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_checkpoints"), 1);
    done(c);
}

// ---------------------------------------------------------------------------------------------
// Concurrency: 8 workers, 20,000 items
// ---------------------------------------------------------------------------------------------

#[test]
fn eight_workers_drain_20000_items_each_submitted_exactly_once_never_leased_twice() {
    let _g = exclusive();
    const N: usize = 20_000;
    let t0 = Instant::now();
    let (mut c, log, db_dsn) = setup("q_drain", "drain", N);
    let built = t0.elapsed();

    let t1 = Instant::now();
    let ids = enqueue_range(&mut c, &log, 0..N, 100);
    let enqueue_time = t1.elapsed();
    let idset: BTreeSet<i64> = ids.iter().copied().collect();
    assert_eq!(idset.len(), N, "distinct envelopes got distinct queue_ids");
    // Enqueueing the same envelopes again is a no-op that returns the same queue_ids.
    assert_eq!(enqueue_range(&mut c, &log, 0..300, 100), ids[..300].to_vec());
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_submission_queue WHERE state = 'pending'"), N as i64);

    let (logs, took) = drain(&db_dsn, &log, "drainer", 8, 20, "5 minutes", Duration::from_secs(150));
    let summary = check_logs(&logs, &idset);
    check_drained(&mut c, &log, &idset, &logs);
    assert_eq!(summary.leases, N, "with a 5 minute lease every item is leased exactly once");
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_entries"), N as i64);
    assert_eq!(count(&mut c, "SELECT count(DISTINCT entry_id) FROM rekor_submission_queue"), N as i64);
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_submission_queue WHERE attempts <> 1"), 0);
    for l in &logs {
        assert!(!l.leases.is_empty(), "worker {} never got an item", l.name);
        assert_eq!((l.lost_connections, l.stale.len()), (0, 0), "worker {}", l.name);
    }
    let stats: Vec<(String, i64)> = c
        .query("SELECT state, items FROM rekor_queue_stats ORDER BY state", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(stats, vec![("submitted".to_string(), N as i64)]);
    let per_worker: Vec<usize> = logs.iter().map(|l| l.submits.len()).collect();
    println!(
        "[queue drain] {N} items: synthetic log built in {:.2?}, enqueued (200 x rekor_enqueue_batch of 100) in {:.2?} \
         ({:.0} items/s); drained by 8 workers (batch 20) in {:.2?}: {:.0} items/s; per worker {per_worker:?}",
        built,
        enqueue_time,
        N as f64 / enqueue_time.as_secs_f64(),
        took,
        N as f64 / took.as_secs_f64()
    );
    done(c);
}

// ---------------------------------------------------------------------------------------------
// Workers that die mid-lease, and a server that dies mid-run
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Debug)]
enum Kill {
    Terminate,
    Sigkill,
}

/// Runs 3 workers (2 s leases) over `n` items; meanwhile a victim worker leases 10 items (2 s),
/// submits 3, starts submitting the 4th in an open transaction and has its backend killed. The
/// victim's 3 submissions stay, the 4th is rolled back, and its 7 unfinished items come back once
/// its lease expires and are completed by the other workers.
fn killed_worker(kill: Kill, tag: &str) {
    let _g = exclusive();
    let n = 1500;
    let (mut c, log, db_dsn) = setup(&format!("q_kill_{tag}"), tag, n);
    if kill == Kill::Sigkill {
        fast_crash_recovery(&mut c);
    }
    let ids = enqueue_range(&mut c, &log, 0..n, 100);
    let idset: BTreeSet<i64> = ids.iter().copied().collect();
    let started_at = postmaster_start(&mut c);

    let mut victim_log = WorkerLog { name: "victim".into(), ..Default::default() };
    let (logs, victim_items) = std::thread::scope(|s| {
        let deadline = Instant::now() + Duration::from_secs(90);
        let workers: Vec<_> = (0..3)
            .map(|k| {
                let opts = worker::WorkerOpts {
                    dsn: db_dsn.clone(),
                    name: format!("{tag}-w{k}"),
                    batch: 10,
                    lease: "2 seconds".into(),
                    deadline,
                };
                let log = &log;
                s.spawn(move || worker::run_worker(&opts, log))
            })
            .collect();

        // Mid-run: wait for some progress, then the victim takes its lease.
        let t = Instant::now();
        while count(&mut c, "SELECT count(*) FROM rekor_submission_queue WHERE state = 'submitted'") < 100 {
            assert!(t.elapsed() < Duration::from_secs(30), "the workers make no progress");
            std::thread::sleep(Duration::from_millis(10));
        }
        let mut v = Client::connect(&db_dsn, NoTls).unwrap();
        let vpid: i32 = v.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
        let victim_leased = Instant::now();
        let rows = v
            .query(
                "SELECT (extract(epoch FROM now()) * 1000000)::int8, queue_id, envelope_sha256,
                        (extract(epoch FROM lease_expires_at) * 1000000)::int8, attempts
                 FROM rekor_dequeue('victim', 10, '2 seconds')",
                &[],
            )
            .unwrap();
        assert_eq!(rows.len(), 10, "the victim found 10 items left");
        let mut items = Vec::new();
        for r in &rows {
            let sha: Vec<u8> = r.get(2);
            let lease = worker::Lease {
                queue_id: r.get(1),
                worker: "victim".into(),
                start_us: r.get(0),
                expires_us: r.get(3),
                attempts: r.get(4),
                backend_pid: vpid,
            };
            items.push((lease.queue_id, log.index_of(&sha).unwrap()));
            victim_log.leases.push(lease);
        }
        for &(id, i) in &items[..3] {
            let r = v
                .query_one(
                    "SELECT (extract(epoch FROM now()) * 1000000)::int8, rekor_mark_submitted($1, 'victim', $2::text::jsonb)",
                    &[&id, &log.response_json(i)],
                )
                .unwrap();
            victim_log.submits.push(worker::Submit {
                queue_id: id,
                worker: "victim".into(),
                entry_id: r.get(1),
                at_us: r.get(0),
                backend_pid: vpid,
                retried: false,
            });
        }
        let (id4, i4) = items[3];
        let mut tx = v.transaction().unwrap();
        tx.query_one("SELECT rekor_mark_submitted($1, 'victim', $2::text::jsonb)", &[&id4, &log.response_json(i4)])
            .unwrap();

        match kill {
            Kill::Terminate => {
                let ok: bool = c.query_one("SELECT pg_terminate_backend($1, 10000)", &[&vpid]).unwrap().get(0);
                assert!(ok);
            }
            Kill::Sigkill => {
                sigkill_backend(vpid);
                // The postmaster answers a crashed backend by ending every other one: wait until this
                // connection is gone too, so the reconnect below reaches the restarted server.
                let t = Instant::now();
                while c.simple_query("SELECT 1").is_ok() {
                    assert!(t.elapsed() < Duration::from_secs(20), "the postmaster did not reset after SIGKILL");
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
        }
        // The victim's open transaction is gone with its backend.
        assert!(tx.commit().is_err(), "the victim's transaction survived its backend");
        drop(v);
        if kill == Kill::Sigkill {
            // The postmaster restarted every backend (crash recovery): reconnect.
            c = reconnect(&db_dsn);
        }
        // Right after the kill the victim's lease is still live: nobody may take its items yet.
        let live: i64 = c
            .query_one(
                "SELECT count(*) FROM rekor_submission_queue
                 WHERE queue_id = ANY($1) AND state = 'leased' AND lease_owner = 'victim' AND lease_expires_at > now()",
                &[&items[3..].iter().map(|x| x.0).collect::<Vec<_>>()],
            )
            .unwrap()
            .get(0);
        // (Crash recovery can outlast a 2 s lease, and so can a very slow machine: then the items
        // may already be with a worker.)
        if kill == Kill::Terminate && victim_leased.elapsed() < Duration::from_millis(1500) {
            assert_eq!(live, 7, "the victim's unfinished items are still leased to it");
        }
        let logs: Vec<WorkerLog> = workers.into_iter().map(|h| h.join().expect("worker panicked")).collect();
        (logs, items)
    });

    let mut all = logs;
    all.push(victim_log);
    check_logs(&all, &idset);
    check_drained(&mut c, &log, &idset, &all);
    // The victim's 3 submissions are its own; the 7 others were completed by workers after its lease
    // expired (check_logs proved no overlap), on their second attempt.
    for (k, &(id, _)) in victim_items.iter().enumerate() {
        let by: Vec<&str> =
            all.iter().flat_map(|l| l.submits.iter()).filter(|s| s.queue_id == id).map(|s| s.worker.as_str()).collect();
        let (st, attempts, _) = state(&mut c, id);
        assert_eq!(st, "submitted");
        if k < 3 {
            assert_eq!((by, attempts), (vec!["victim"], 1), "victim item {k}");
        } else {
            assert_eq!(by.len(), 1);
            assert_ne!(by[0], "victim", "victim item {k}");
            assert_eq!(attempts, 2, "victim item {k} was leased exactly twice");
            // ...and only once the victim's lease had expired.
            let leases: Vec<&worker::Lease> =
                all.iter().flat_map(|l| l.leases.iter()).filter(|x| x.queue_id == id).collect();
            let victim_expiry = leases.iter().find(|x| x.worker == "victim").unwrap().expires_us;
            let taken = leases.iter().find(|x| x.worker == by[0]).unwrap().start_us;
            assert!(
                taken >= victim_expiry,
                "victim item {k} was taken over at {taken}, before the victim's lease expired at {victim_expiry}"
            );
        }
    }
    match kill {
        Kill::Terminate => {
            // Only the victim's backend died: the server did not restart, no worker lost its connection.
            assert_eq!(postmaster_start(&mut c), started_at);
            for l in &all[..3] {
                assert_eq!(l.lost_connections, 0, "{}", l.name);
            }
        }
        Kill::Sigkill => {
            // Every worker lost its connection to the crash restart, reconnected and finished.
            for l in &all[..3] {
                assert!(l.lost_connections >= 1, "{} did not notice the crash restart", l.name);
            }
        }
    }
    println!(
        "[queue kill {kill:?}] lost connections per worker {:?}, stale leases {:?}",
        all[..3].iter().map(|l| l.lost_connections).collect::<Vec<_>>(),
        all[..3].iter().map(|l| l.stale.len()).collect::<Vec<_>>()
    );
    done(c);
}

#[test]
fn worker_backend_terminated_mid_lease_its_items_come_back_after_the_lease() {
    killed_worker(Kill::Terminate, "terminated");
}

#[test]
fn worker_backend_sigkilled_mid_lease_server_resets_and_items_come_back() {
    killed_worker(Kill::Sigkill, "sigkilled");
}

#[test]
fn immediate_shutdown_mid_run_loses_no_enqueued_or_submitted_item() {
    let _g = exclusive();
    let n = 3000;
    let (mut c, log, db_dsn) = setup("q_immediate", "immediate", n);
    fast_crash_recovery(&mut c);
    let ids = enqueue_range(&mut c, &log, 0..n, 100);
    let idset: BTreeSet<i64> = ids.iter().copied().collect();

    let (logs, before, after) = std::thread::scope(|s| {
        let deadline = Instant::now() + Duration::from_secs(90);
        let workers: Vec<_> = (0..4)
            .map(|k| {
                let opts = worker::WorkerOpts {
                    dsn: db_dsn.clone(),
                    name: format!("immediate-w{k}"),
                    batch: 10,
                    lease: "3 seconds".into(),
                    deadline,
                };
                let log = &log;
                s.spawn(move || worker::run_worker(&opts, log))
            })
            .collect();
        let t = Instant::now();
        let mut submitted = 0;
        while submitted < (n as i64) / 4 {
            assert!(t.elapsed() < Duration::from_secs(30), "the workers make no progress");
            std::thread::sleep(Duration::from_millis(10));
            submitted = count(&mut c, "SELECT count(*) FROM rekor_submission_queue WHERE state = 'submitted'");
        }
        let total = count(&mut c, "SELECT count(*) FROM rekor_submission_queue");
        let entries = count(&mut c, "SELECT count(*) FROM rekor_entries");
        let links = |c: &mut Client| -> BTreeSet<(i64, i64)> {
            c.query("SELECT queue_id, entry_id FROM rekor_submission_queue WHERE state = 'submitted'", &[])
                .unwrap()
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect()
        };
        let linked = links(&mut c);
        let submitted = linked.len() as i64;
        immediate_shutdown_and_start();
        c = reconnect(&db_dsn);
        // Recovered: every item is still there; every item seen submitted before the stop still is,
        // linked to the same entry.
        let total2 = count(&mut c, "SELECT count(*) FROM rekor_submission_queue");
        let linked2 = links(&mut c);
        let entries2 = count(&mut c, "SELECT count(*) FROM rekor_entries");
        let lost: Vec<_> = linked.difference(&linked2).collect();
        assert!(lost.is_empty(), "submitted items lost or relinked by the crash: {lost:?}");
        let logs: Vec<WorkerLog> = workers.into_iter().map(|h| h.join().expect("worker panicked")).collect();
        (logs, (total, submitted, entries), (total2, linked2.len() as i64, entries2))
    });
    assert_eq!(before.0, n as i64);
    assert_eq!(after.0, n as i64, "enqueued items were lost");
    assert!(after.1 >= before.1, "submitted items were lost: {} before, {} after", before.1, after.1);
    assert!(after.2 >= before.2, "entries were lost: {} before, {} after", before.2, after.2);
    // Every submission acknowledged to a worker (before or after the crash) is the one stored, once.
    check_logs(&logs, &idset);
    check_drained(&mut c, &log, &idset, &logs);
    for l in &logs {
        assert!(l.lost_connections >= 1, "{} did not notice the shutdown", l.name);
    }
    println!(
        "[queue immediate shutdown] before: {} submitted of {}; after recovery: {} submitted; lost connections {:?}, \
         stale leases {:?}, retried submissions {}",
        before.1,
        before.0,
        after.1,
        logs.iter().map(|l| l.lost_connections).collect::<Vec<_>>(),
        logs.iter().map(|l| l.stale.len()).collect::<Vec<_>>(),
        logs.iter().flat_map(|l| l.submits.iter()).filter(|s| s.retried).count()
    );
    done(c);
}

// ---------------------------------------------------------------------------------------------
// Enqueue: validation, idempotence, order
// ---------------------------------------------------------------------------------------------

fn good_envelope() -> Value {
    json!({"payloadType": "application/vnd.in-toto+json", "payload": "eyJhIjoxfQ==", "signatures": [{"sig": "c2lnbmF0dXJl"}]})
}

#[test]
fn malformed_envelopes_are_refused_with_22023_naming_the_field() {
    let _g = shared();
    let mut c = fresh_db("q_malformed");
    let with = |f: &dyn Fn(&mut serde_json::Map<String, Value>)| {
        let mut e = good_envelope();
        f(e.as_object_mut().unwrap());
        e
    };
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "payloadType missing",
            with(&|m| {
                m.remove("payloadType");
            }),
            "payloadType",
        ),
        (
            "payloadType a number",
            with(&|m| {
                m.insert("payloadType".into(), json!(7));
            }),
            "payloadType",
        ),
        (
            "payloadType an object",
            with(&|m| {
                m.insert("payloadType".into(), json!({"a": 1}));
            }),
            "payloadType",
        ),
        (
            "payloadType empty",
            with(&|m| {
                m.insert("payloadType".into(), json!(""));
            }),
            "payloadType",
        ),
        (
            "payload missing",
            with(&|m| {
                m.remove("payload");
            }),
            "payload",
        ),
        (
            "payload not base64",
            with(&|m| {
                m.insert("payload".into(), json!("not base64 at all!"));
            }),
            "payload",
        ),
        (
            "payload a number",
            with(&|m| {
                m.insert("payload".into(), json!(12));
            }),
            "payload",
        ),
        (
            "signatures missing",
            with(&|m| {
                m.remove("signatures");
            }),
            "signatures",
        ),
        (
            "signatures empty",
            with(&|m| {
                m.insert("signatures".into(), json!([]));
            }),
            "signatures",
        ),
        (
            "signatures an object",
            with(&|m| {
                m.insert("signatures".into(), json!({"sig": "c2ln"}));
            }),
            "signatures",
        ),
        (
            "signatures a string",
            with(&|m| {
                m.insert("signatures".into(), json!("c2ln"));
            }),
            "signatures",
        ),
        (
            "signature not an object",
            with(&|m| {
                m.insert("signatures".into(), json!(["c2ln"]));
            }),
            "signatures[0]",
        ),
        (
            "sig missing",
            with(&|m| {
                m.insert("signatures".into(), json!([{"keyid": "k"}]));
            }),
            "signatures[0].sig",
        ),
        (
            "sig not base64",
            with(&|m| {
                m.insert("signatures".into(), json!([{"sig": "c2ln"}, {"sig": "%%%not-base64%%%"}]));
            }),
            "signatures[1].sig",
        ),
        (
            "sig empty",
            with(&|m| {
                m.insert("signatures".into(), json!([{"sig": ""}]));
            }),
            "signatures[0].sig",
        ),
        (
            "sig a number",
            with(&|m| {
                m.insert("signatures".into(), json!([{"sig": 5}]));
            }),
            "signatures[0].sig",
        ),
        (
            "keyid a number",
            with(&|m| {
                m.insert("signatures".into(), json!([{"sig": "c2ln", "keyid": 5}]));
            }),
            "signatures[0].keyid",
        ),
        ("not an object", json!(["payloadType", "payload"]), "$"),
    ];
    for (what, env, field) in &cases {
        let (code, msg, detail) = db_error(enqueue(&mut c, env));
        assert_eq!(code, "22023", "{what}: {msg}");
        assert!(
            msg.contains(&format!("{field}:")) || detail == format!("at {field}"),
            "{what}: the error does not name {field}: {msg} / {detail}"
        );
        // The same envelope inside a batch of good ones: the whole batch is refused.
        let batch = vec![good_envelope().to_string(), env.to_string()];
        let (code, msg, _) = db_error(c.query("SELECT rekor_enqueue_batch($1::text[]::jsonb[])", &[&batch]));
        assert_eq!(code, "22023", "{what} in a batch: {msg}");
        assert!(msg.contains(&format!("{field}:")), "{what} in a batch: {msg}");
    }
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_submission_queue"), 0, "a refused envelope was queued");
    // A NULL envelope is refused too (not queued as an item without digests).
    assert!(c.query_one("SELECT rekor_enqueue(NULL)", &[]).is_err());
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_submission_queue"), 0);
    // The good one is accepted, alone and in a batch (same item).
    let id = enqueue(&mut c, &good_envelope()).unwrap();
    let again: i64 = c
        .query_one("SELECT rekor_enqueue_batch(ARRAY[$1::text::jsonb])", &[&good_envelope().to_string()])
        .unwrap()
        .get(0);
    assert_eq!(id, again);
    done(c);
}

/// rekor_dsse_info is STRICT: without the explicit check a NULL element would drop out of the
/// batch and shift every later queue_id; it is refused instead, naming the element.
#[test]
fn a_null_envelope_in_a_batch_is_refused_not_dropped() {
    let _g = shared();
    let (mut c, log, _) = setup("q_null_batch", "nullbatch", 2);
    let (e0, e1) = (log.envelope_json(0), log.envelope_json(1));
    let r = c.query("SELECT rekor_enqueue_batch(ARRAY[$1::text::jsonb, NULL, $2::text::jsonb])", &[&e0, &e1]);
    let (code, _, detail) = db_error(r.map(|rows| rows.len()));
    assert_eq!(code, "22023");
    assert!(detail.contains("[2]"), "{detail}");
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_submission_queue"), 0);
    assert_eq!(sqlstate(c.query_one("SELECT rekor_enqueue(NULL)", &[])), "22023");
    done(c);
}

/// rekor_enqueue_batch digests its envelopes with one call of rekor_dsse_info_batch: one row per
/// envelope, in input order, each the row rekor_dsse_info gives for that envelope alone; a bad
/// element is refused with rekor_dsse_info's message and its position in the DETAIL.
#[test]
fn batch_digests_are_the_single_envelope_digests_in_input_order() {
    let _g = shared();
    let (mut c, log, _) = setup("q_batch_digests", "batchdigests", 6);
    let envs: Vec<String> = [4usize, 1, 1, 5, 0].iter().map(|&i| log.envelope_json(i)).collect();
    let rows = |c: &mut Client, q: &str| -> Vec<String> {
        c.query(q, &[&envs]).unwrap().iter().map(|r| r.get(0)).collect()
    };
    let batch = rows(
        &mut c,
        "SELECT concat_ws(' ', payload_type, encode(payload_sha256, 'hex'), encode(envelope_sha256, 'hex'), encode(pae_sha256, 'hex'))
         FROM rekor_dsse_info_batch($1::text[]::jsonb[])",
    );
    let single = rows(
        &mut c,
        "SELECT concat_ws(' ', d.payload_type, encode(d.payload_sha256, 'hex'), encode(d.envelope_sha256, 'hex'), encode(d.pae_sha256, 'hex'))
         FROM unnest($1::text[]::jsonb[]) WITH ORDINALITY AS u(e, o), LATERAL rekor_dsse_info(u.e) d ORDER BY u.o",
    );
    assert_eq!(batch.len(), 5);
    assert_eq!(batch, single);
    assert_eq!(batch[1], batch[2]);
    assert_ne!(batch[0], batch[1]);
    // The third element without a payload: the single function's message, the element's position.
    let mut bad: Vec<Value> = envs.iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    bad[2].as_object_mut().unwrap().remove("payload");
    let bad: Vec<String> = bad.iter().map(|v| v.to_string()).collect();
    let (code, msg, detail) = db_error(c.query("SELECT * FROM rekor_dsse_info_batch($1::text[]::jsonb[])", &[&bad]));
    let (single_code, single_msg, _) = db_error(c.query("SELECT * FROM rekor_dsse_info($1::text::jsonb)", &[&bad[2]]));
    assert_eq!((code.as_str(), msg.as_str()), (single_code.as_str(), single_msg.as_str()));
    assert!(detail.starts_with("envelopes[3] at "), "{detail}");
    let (code, _, detail) = db_error(c.query("SELECT * FROM rekor_dsse_info_batch(ARRAY[$1::text::jsonb, NULL])", &[&envs[0]]));
    assert_eq!((code.as_str(), detail.as_str()), ("22023", "envelopes[2] is NULL"));
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_dsse_info_batch('{}'::jsonb[])"), 0);
    done(c);
}

#[test]
fn enqueue_is_idempotent_per_envelope_and_log_and_keeps_the_input_order() {
    let _g = shared();
    let (mut c, log, _) = setup("q_enqueue", "enqueue", 40);
    let other = TestLog::with_name("queue.other.log", "enqueue", 1);
    let other_id = other.install(&mut c);

    // A batch with a repeated envelope: one item, its queue_id returned at each position.
    let envs: Vec<String> = [5usize, 3, 9, 3, 0, 5].iter().map(|&i| log.envelope_json(i)).collect();
    let ids: Vec<i64> = c
        .query("SELECT rekor_enqueue_batch($1::text[]::jsonb[])", &[&envs])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids.len(), 6);
    assert_eq!((ids[1], ids[5]), (ids[3], ids[0]));
    // New items are numbered in input order, so one worker dequeues them in the order given.
    assert!(ids[0] < ids[1] && ids[1] < ids[2] && ids[2] < ids[4], "queue_ids {ids:?} do not follow the input order");
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_submission_queue"), 4);
    // Single enqueue of a queued envelope: the same item; JSON spelling does not matter (jsonb).
    let spaced = format!(" {} ", log.envelope_json(9).replace(',', " ,\n "));
    let again: i64 = c.query_one("SELECT rekor_enqueue($1::text::jsonb)", &[&spaced]).unwrap().get(0);
    assert_eq!(again, ids[2]);
    // The same envelope for a specific log is another item, idempotent in turn.
    let for_log: i64 =
        c.query_one("SELECT rekor_enqueue($1::text::jsonb, $2)", &[&log.envelope_json(9), &other_id]).unwrap().get(0);
    assert_ne!(for_log, ids[2]);
    let for_log2: Vec<i64> = c
        .query("SELECT rekor_enqueue_batch(ARRAY[$1::text::jsonb], $2)", &[&log.envelope_json(9), &other_id])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(for_log2, vec![for_log]);
    // An envelope with a key id is another envelope.
    let mut with_keyid = log.envelopes[9].clone();
    with_keyid["signatures"][0]["keyid"] = json!("k1");
    let keyid_item = enqueue(&mut c, &with_keyid).unwrap();
    assert!(!ids.contains(&keyid_item) && keyid_item != for_log);
    // The stored digests.
    let r = c
        .query_one("SELECT payload_type, envelope_sha256, state, attempts, log_id FROM rekor_submission_queue WHERE queue_id = $1", &[&ids[2]])
        .unwrap();
    assert_eq!(r.get::<_, String>(0), rekor_meta_client_tests::testlog::PAYLOAD_TYPE);
    assert_eq!(r.get::<_, Vec<u8>>(1), log.envelope_sha256[9].to_vec());
    assert_eq!(
        (r.get::<_, String>(2), r.get::<_, i32>(3), r.get::<_, Option<Vec<u8>>>(4)),
        ("pending".into(), 0, None)
    );

    // One worker receives items in enqueue order, batch after batch.
    let more = enqueue_range(&mut c, &log, 10..40, 7);
    let mut expected: Vec<i64> = vec![ids[0], ids[1], ids[2], ids[4], for_log, keyid_item];
    expected.extend(&more);
    let mut got = Vec::new();
    loop {
        let b = dequeue(&mut c, "solo", 4, "1 minute");
        if b.is_empty() {
            break;
        }
        got.extend(b);
    }
    assert_eq!(got, expected);
    done(c);
}

#[test]
fn concurrent_batch_enqueues_of_the_same_envelopes_return_the_existing_ids() {
    let _g = shared();
    let (mut a, log, db_dsn) = setup("q_enqueue_race", "race", 5);
    let envs: Vec<String> = (0..5).map(|i| log.envelope_json(i)).collect();
    let mut tx = a.transaction().unwrap();
    let first: Vec<i64> = tx
        .query("SELECT rekor_enqueue_batch($1::text[]::jsonb[])", &[&envs])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    // B enqueues the same envelopes (batch) and one of them (single) while A has not committed: both wait.
    let (batch, single) = std::thread::scope(|s| {
        let hb = s.spawn(|| {
            let mut b = Client::connect(&db_dsn, NoTls).unwrap();
            b.query("SELECT rekor_enqueue_batch($1::text[]::jsonb[])", &[&envs])
                .unwrap()
                .iter()
                .map(|r| r.get::<_, Option<i64>>(0))
                .collect::<Vec<_>>()
        });
        let hs = s.spawn(|| {
            let mut b = Client::connect(&db_dsn, NoTls).unwrap();
            b.query_one("SELECT rekor_enqueue($1::text::jsonb)", &[&envs[2]]).unwrap().get::<_, Option<i64>>(0)
        });
        std::thread::sleep(Duration::from_millis(500));
        tx.commit().unwrap();
        (hb.join().unwrap(), hs.join().unwrap())
    });
    assert_eq!(
        batch,
        first.iter().map(|&x| Some(x)).collect::<Vec<_>>(),
        "the waiting batch enqueue lost track of the items"
    );
    assert_eq!(single, Some(first[2]));
    assert_eq!(count(&mut a, "SELECT count(*) FROM rekor_submission_queue"), 5);
    done(a);
}

#[test]
fn limits_and_bad_arguments_are_refused_with_22023() {
    let _g = shared();
    let (mut c, log, _) = setup("q_limits", "limits", 3);
    enqueue_range(&mut c, &log, 0..3, 3);
    for (batch, lease) in [
        (0, "1 minute"),
        (-1, "1 minute"),
        (1001, "1 minute"),
        (1, "0 seconds"),
        (1, "-1 second"),
        (1, "1 day 1 second"),
        (1, "25 hours"),
    ] {
        assert_eq!(sqlstate(try_dequeue(&mut c, "w", batch, lease)), "22023", "batch {batch}, lease {lease}");
    }
    assert_eq!(sqlstate(c.query("SELECT * FROM rekor_dequeue('w', NULL)", &[])), "22023");
    assert_eq!(sqlstate(c.query("SELECT * FROM rekor_dequeue('w', 1, NULL)", &[])), "22023");
    assert_eq!(sqlstate(c.query("SELECT * FROM rekor_dequeue('', 1)", &[])), "22023");
    assert_eq!(sqlstate(c.query("SELECT * FROM rekor_dequeue(NULL, 1)", &[])), "22023");
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_submission_queue WHERE state <> 'pending'"), 0);
    // The bounds themselves are accepted.
    assert_eq!(dequeue(&mut c, "w", 1000, "1 day").len(), 3);
    // extend_lease: the lease bound too.
    let id: i64 = c.query_one("SELECT min(queue_id) FROM rekor_submission_queue", &[]).unwrap().get(0);
    for lease in ["0 seconds", "2 days"] {
        assert_eq!(
            sqlstate(c.query_one("SELECT rekor_extend_lease($1, 'w', $2::text::interval)", &[&id, &lease])),
            "22023"
        );
    }
    // max_attempts, unknown logs, unknown items.
    for m in [0, -5, 1001] {
        assert_eq!(
            sqlstate(
                c.query_one("SELECT rekor_enqueue($1::text::jsonb, NULL, $2)", &[&good_envelope().to_string(), &m])
            ),
            "22023"
        );
        assert_eq!(
            sqlstate(c.query(
                "SELECT rekor_enqueue_batch(ARRAY[$1::text::jsonb], NULL, $2)",
                &[&good_envelope().to_string(), &m]
            )),
            "22023"
        );
    }
    let unknown_log = vec![9u8; 32];
    assert_eq!(
        sqlstate(
            c.query_one("SELECT rekor_enqueue($1::text::jsonb, $2)", &[&good_envelope().to_string(), &unknown_log])
        ),
        "22023"
    );
    assert_eq!(
        sqlstate(c.query(
            "SELECT rekor_enqueue_batch(ARRAY[$1::text::jsonb], $2)",
            &[&good_envelope().to_string(), &unknown_log]
        )),
        "22023"
    );
    assert_eq!(sqlstate(mark(&mut c, 987654, "w", &log.response_json(0))), "22023");
    assert_eq!(sqlstate(mark_failed(&mut c, 987654, "w", "x", true)), "22023");
    // A batch above 10,000 envelopes is a program limit (54000), checked before any work.
    let big: Vec<String> = vec![good_envelope().to_string(); 10_001];
    assert_eq!(sqlstate(c.query("SELECT rekor_enqueue_batch($1::text[]::jsonb[])", &[&big])), "54000");
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_submission_queue"), 3);
    done(c);
}

// ---------------------------------------------------------------------------------------------
// mark_submitted: wrong responses, stale leases, idempotence
// ---------------------------------------------------------------------------------------------

/// A response with `f` applied to its one entry.
fn tampered(log: &TestLog, i: usize, f: impl Fn(&mut Value)) -> String {
    let mut r = log.response(i);
    let entry = r.as_object_mut().unwrap().values_mut().next().unwrap();
    f(entry);
    r.to_string()
}

#[test]
fn wrong_or_tampered_responses_are_refused_and_change_nothing() {
    let _g = shared();
    let (mut c, log, _) = setup("q_wrong", "wrong", 9);
    let ids = enqueue_range(&mut c, &log, 0..9, 9);
    assert_eq!(dequeue(&mut c, "w", 9, "1 minute"), ids);
    let (id, i) = (ids[4], 4usize);
    let before = row(&mut c, id);

    // A valid response, but for another envelope: 23514 naming the mismatch.
    let (code, msg, detail) = db_error(mark(&mut c, id, "w", &log.response_json(5)));
    assert_eq!(code, "23514", "{msg}");
    assert!(msg.contains("not this envelope"), "{msg}: {detail}");
    // A tampered proof: the entry trigger refuses it (check 2).
    let proof = tampered(&log, i, |e| {
        let h = e["verification"]["inclusionProof"]["hashes"][0].as_str().unwrap().to_string();
        let flipped = if h.starts_with('0') { format!("1{}", &h[1..]) } else { format!("0{}", &h[1..]) };
        e["verification"]["inclusionProof"]["hashes"][0] = json!(flipped);
    });
    let (code, msg, _) = db_error(mark(&mut c, id, "w", &proof));
    assert_eq!(code, "23514");
    assert!(msg.contains("check 2"), "{msg}");
    // A shorter proof, a wrong root, a wrong index: refused by the trigger too.
    let short = tampered(&log, i, |e| {
        e["verification"]["inclusionProof"]["hashes"].as_array_mut().unwrap().pop();
    });
    assert_eq!(sqlstate(mark(&mut c, id, "w", &short)), "23514");
    let wrong_index = tampered(&log, i, |e| {
        e["verification"]["inclusionProof"]["logIndex"] = json!(5);
        e["logIndex"] = json!(5);
    });
    assert_eq!(sqlstate(mark(&mut c, id, "w", &wrong_index)), "23514");
    // A checkpoint whose signature does not verify (check 3).
    let bad_sig = tampered(&log, i, |e| {
        let cp = e["verification"]["inclusionProof"]["checkpoint"].as_str().unwrap().to_string();
        let (text, line) = cp.rsplit_once(' ').unwrap();
        let mut sig = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, line.trim_end()).unwrap();
        sig[10] ^= 1;
        e["verification"]["inclusionProof"]["checkpoint"] =
            json!(format!("{text} {}\n", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, sig)));
    });
    let (code, msg, _) = db_error(mark(&mut c, id, "w", &bad_sig));
    assert_eq!(code, "23514");
    assert!(msg.contains("check 3"), "{msg}");
    // A log nobody trusts.
    let stranger = TestLog::with_name("stranger.test.log", "wrong", 9);
    assert_eq!(sqlstate(mark(&mut c, id, "w", &stranger.response_json(i))), "23514");
    // Not a Rekor response at all.
    assert_eq!(sqlstate(mark(&mut c, id, "w", "{}")), "22023");

    // None of it changed the item or stored an entry.
    assert_eq!(row(&mut c, id), before);
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_entries"), 0);
    // The right response still works, and the response for item 5 still fits item 5.
    let e4 = mark(&mut c, id, "w", &log.response_json(i)).unwrap();
    let e5 = mark(&mut c, ids[5], "w", &log.response_json(5)).unwrap();
    assert_ne!(e4, e5);
    done(c);
}

#[test]
fn an_entry_in_another_log_than_the_item_targets_is_refused() {
    let _g = shared();
    let (mut c, log, _) = setup("q_other_log", "otherlog", 4);
    let other = TestLog::with_name("queue.other.log", "otherlog", 4);
    let other_id = other.install(&mut c);
    // Envelope 2 queued for the other log; the main log's entry of the very same envelope is refused.
    let id: i64 =
        c.query_one("SELECT rekor_enqueue($1::text::jsonb, $2)", &[&log.envelope_json(2), &other_id]).unwrap().get(0);
    assert_eq!(dequeue(&mut c, "w", 1, "1 minute"), vec![id]);
    let before = row(&mut c, id);
    let (code, msg, _) = db_error(mark(&mut c, id, "w", &log.response_json(2)));
    assert_eq!(code, "23514");
    assert!(msg.contains("another log"), "{msg}");
    assert_eq!(row(&mut c, id), before);
    // The other log's entry of it is accepted.
    mark(&mut c, id, "w", &other.response_json(2)).unwrap();
    assert_eq!(state(&mut c, id).0, "submitted");
    done(c);
}

#[test]
fn an_item_pinned_to_a_frozen_log_is_completed_by_the_active_log_of_the_same_operator() {
    let _g = shared();
    let (mut c, frozen, _) = setup("q_same_operator", "sameop", 4);
    // The operator's next shard: the same signer name, a new key (so another log_id).
    let active = TestLog::with_key(frozen.name(), "rekor_meta queue tests: the operator's next key", "sameop", 4);
    let active_id = active.install(&mut c);
    assert_ne!(active_id, frozen.log_id());
    // Queued while the log was live, then the log froze.
    let id: i64 = c
        .query_one("SELECT rekor_enqueue($1::text::jsonb, $2)", &[&frozen.envelope_json(2), &frozen.log_id()])
        .unwrap()
        .get(0);
    let id3: i64 = c
        .query_one("SELECT rekor_enqueue($1::text::jsonb, $2)", &[&frozen.envelope_json(3), &frozen.log_id()])
        .unwrap()
        .get(0);
    c.execute("UPDATE rekor_logs SET valid_until = now() - interval '1 hour' WHERE log_id = $1", &[&frozen.log_id()]).unwrap();
    assert_eq!(dequeue(&mut c, "w", 1, "1 minute"), vec![id]);
    // The submitter routed it to the active log: that log's entry of the envelope completes the item.
    let entry = mark(&mut c, id, "w", &active.response_json(2)).unwrap();
    assert_eq!(state(&mut c, id).0, "submitted");
    let log: Vec<u8> = c.query_one("SELECT log_id FROM rekor_entries WHERE entry_id = $1", &[&entry]).unwrap().get(0);
    assert_eq!(log, active_id);
    // Another operator's log still does not stand in for the pinned one.
    let other = TestLog::with_name("queue.another.operator", "sameop", 4);
    other.install(&mut c);
    assert_eq!(dequeue(&mut c, "w", 1, "1 minute"), vec![id3]);
    let (code, msg, detail) = db_error(mark(&mut c, id3, "w", &other.response_json(3)));
    assert_eq!(code, "23514");
    assert!(msg.contains("another log") && detail.contains("another operator"), "{msg} / {detail}");
    done(c);
}

#[test]
fn stale_leases_are_refused_with_55000() {
    let _g = shared();
    let (mut c, log, _) = setup("q_stale", "stale", 4);
    let ids = enqueue_range(&mut c, &log, 0..4, 4);
    let i0 = index_of(&mut c, &log, ids[0]);

    // w1's lease expires; its late calls are refused and change nothing.
    assert_eq!(dequeue(&mut c, "w1", 1, "300 milliseconds"), vec![ids[0]]);
    std::thread::sleep(Duration::from_millis(400));
    let before = row(&mut c, ids[0]);
    let (code, msg, detail) = db_error(mark(&mut c, ids[0], "w1", &log.response_json(i0)));
    assert_eq!(code, "55000", "{msg}");
    assert!(detail.contains("lease owner w1") && detail.contains("caller w1"), "{detail}");
    assert_eq!(sqlstate(mark_failed(&mut c, ids[0], "w1", "late", true)), "55000");
    assert_eq!(sqlstate(c.query_one("SELECT rekor_extend_lease($1, 'w1', '1 minute')", &[&ids[0]])), "55000");
    assert_eq!(row(&mut c, ids[0]), before);
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_entries"), 0);

    // w2 takes it over (second attempt); now another worker holds it.
    assert_eq!(dequeue(&mut c, "w2", 1, "1 minute"), vec![ids[0]]);
    assert_eq!(state(&mut c, ids[0]), ("leased".into(), 2, Some("w2".into())));
    let before = row(&mut c, ids[0]);
    for worker in ["w1", "", "W2", "w2 "] {
        assert_eq!(sqlstate(mark(&mut c, ids[0], worker, &log.response_json(i0))), "55000", "worker {worker:?}");
        assert_eq!(sqlstate(mark_failed(&mut c, ids[0], worker, "not mine", true)), "55000", "worker {worker:?}");
    }
    // A NULL worker holds no lease either.
    assert_eq!(
        sqlstate(
            c.query_one("SELECT rekor_mark_submitted($1, NULL, $2::text::jsonb)", &[&ids[0], &log.response_json(i0)])
        ),
        "55000"
    );
    assert_eq!(sqlstate(c.query_one("SELECT rekor_mark_failed($1, NULL, 'x')", &[&ids[0]])), "55000");
    assert_eq!(sqlstate(c.query_one("SELECT rekor_extend_lease($1, NULL, '1 hour')", &[&ids[0]])), "55000");
    assert_eq!(row(&mut c, ids[0]), before);
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_entries"), 0);
    // A pending item was never leased: nobody may complete it.
    let i3 = index_of(&mut c, &log, ids[3]);
    assert_eq!(sqlstate(mark(&mut c, ids[3], "w2", &log.response_json(i3))), "55000");
    assert_eq!(state(&mut c, ids[3]).0, "pending");
    // The holder completes it.
    mark(&mut c, ids[0], "w2", &log.response_json(i0)).unwrap();

    // extend_lease keeps a short lease alive past its first expiry.
    assert_eq!(dequeue(&mut c, "w3", 1, "300 milliseconds"), vec![ids[1]]);
    let until: std::time::SystemTime =
        c.query_one("SELECT rekor_extend_lease($1, 'w3', '1 minute')", &[&ids[1]]).unwrap().get(0);
    assert!(until > std::time::SystemTime::now() + Duration::from_secs(50));
    std::thread::sleep(Duration::from_millis(400));
    assert!(dequeue(&mut c, "w4", 10, "1 minute").iter().all(|&x| x != ids[1]), "an extended lease was handed out");
    let i1 = index_of(&mut c, &log, ids[1]);
    mark(&mut c, ids[1], "w3", &log.response_json(i1)).unwrap();
    done(c);
}

#[test]
fn mark_submitted_is_idempotent_for_the_same_response_only() {
    let _g = shared();
    let (mut c, log, _) = setup("q_idempotent", "idem", 3);
    let ids = enqueue_range(&mut c, &log, 0..3, 3);
    assert_eq!(dequeue(&mut c, "w", 2, "1 minute"), ids[..2].to_vec());
    let i0 = index_of(&mut c, &log, ids[0]);
    let e1 = mark(&mut c, ids[0], "w", &log.response_json(i0)).unwrap();
    let after = row(&mut c, ids[0]);
    // Again, by the same worker or another one (a retry after a lost reply): the same entry, nothing changes.
    assert_eq!(mark(&mut c, ids[0], "w", &log.response_json(i0)).unwrap(), e1);
    assert_eq!(mark(&mut c, ids[0], "someone-else", &log.response_json(i0)).unwrap(), e1);
    assert_eq!(row(&mut c, ids[0]), after);
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_entries"), 1);
    // Another response for a submitted item is refused.
    let i1 = index_of(&mut c, &log, ids[1]);
    assert_eq!(sqlstate(mark(&mut c, ids[0], "w", &log.response_json(i1))), "55000");
    assert_eq!(row(&mut c, ids[0]), after);
    // A submitted item is never dequeued again, cannot fail, cannot be requeued.
    assert_eq!(dequeue(&mut c, "w", 10, "1 minute"), vec![ids[2]]);
    assert_eq!(sqlstate(mark_failed(&mut c, ids[0], "w", "x", true)), "55000");
    assert_eq!(sqlstate(c.query_one("SELECT rekor_requeue($1)", &[&ids[0]])), "55000");
    let r = c
        .query_one("SELECT state, entry_id, lease_owner, lease_expires_at, submitted_at IS NOT NULL FROM rekor_submission_queue WHERE queue_id = $1", &[&ids[0]])
        .unwrap();
    assert_eq!(r.get::<_, String>(0), "submitted");
    assert_eq!(r.get::<_, Option<i64>>(1), Some(e1));
    assert_eq!(r.get::<_, Option<String>>(2), None);
    assert_eq!(r.get::<_, Option<std::time::SystemTime>>(3), None);
    assert!(r.get::<_, bool>(4));
    done(c);
}

#[test]
fn a_sigstore_bundle_completes_an_item_too() {
    let _g = shared();
    let (mut c, log, _) = setup("q_bundle", "bundle", 6);
    let ids = enqueue_range(&mut c, &log, 0..6, 6);
    assert_eq!(dequeue(&mut c, "w", 3, "1 minute"), ids[..3].to_vec());
    let b = |i: usize| log.bundle(i).to_string();
    // Another envelope's bundle: refused, nothing changes.
    let before = row(&mut c, ids[0]);
    assert_eq!(sqlstate(mark(&mut c, ids[0], "w", &b(1))), "23514");
    assert_eq!(row(&mut c, ids[0]), before);
    let e0 = mark(&mut c, ids[0], "w", &b(0)).unwrap();
    // Idempotent with the bundle, and with the REST response of the same entry.
    assert_eq!(mark(&mut c, ids[0], "w", &b(0)).unwrap(), e0);
    assert_eq!(mark(&mut c, ids[0], "w", &log.response_json(0)).unwrap(), e0);
    assert_eq!(sqlstate(mark(&mut c, ids[0], "w", &b(1))), "55000");
    // The REST response completes item 1; its bundle is then a repeat of the same entry.
    let e1 = mark(&mut c, ids[1], "w", &log.response_json(1)).unwrap();
    assert_eq!(mark(&mut c, ids[1], "w", &b(1)).unwrap(), e1);
    // A bundle holding two entries is not one answer for one item.
    let mut two = log.bundle(2);
    let second = log.bundle(3)["verificationMaterial"]["tlogEntries"][0].clone();
    two["verificationMaterial"]["tlogEntries"].as_array_mut().unwrap().push(second);
    let before = row(&mut c, ids[2]);
    let entries = count(&mut c, "SELECT count(*) FROM rekor_entries");
    assert_eq!(sqlstate(mark(&mut c, ids[2], "w", &two.to_string())), "22023");
    assert_eq!(row(&mut c, ids[2]), before);
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_entries"), entries);
    done(c);
}

// ---------------------------------------------------------------------------------------------
// Failures: backoff, dead letters, requeue; next_attempt_at is honoured
// ---------------------------------------------------------------------------------------------

/// (state, attempts, next_attempt_at - now() in ms of the statement that set it, last_error)
fn fail_and_read(
    c: &mut Client,
    id: i64,
    worker: &str,
    error: &str,
    retryable: bool,
) -> (String, i32, f64, Option<String>) {
    let mut tx = c.transaction().unwrap();
    let st: String =
        tx.query_one("SELECT rekor_mark_failed($1, $2, $3, $4)", &[&id, &worker, &error, &retryable]).unwrap().get(0);
    let r = tx
        .query_one(
            "SELECT state, attempts, (extract(epoch FROM next_attempt_at - now()) * 1000)::float8, last_error, lease_owner IS NULL
             FROM rekor_submission_queue WHERE queue_id = $1",
            &[&id],
        )
        .unwrap();
    tx.commit().unwrap();
    assert_eq!(st, r.get::<_, String>(0));
    assert!(r.get::<_, bool>(4), "the lease is released");
    (r.get(0), r.get(1), r.get(2), r.get(3))
}

fn make_due(c: &mut Client, id: i64) {
    c.execute(
        "UPDATE rekor_submission_queue SET next_attempt_at = now() - interval '1 millisecond' WHERE queue_id = $1",
        &[&id],
    )
    .unwrap();
}

#[test]
fn mark_failed_backs_off_exponentially_then_dead_and_requeue_revives() {
    let _g = shared();
    let (mut c, log, _) = setup("q_backoff", "backoff", 3);
    let ids: Vec<i64> = (0..3)
        .map(|i| {
            c.query_one("SELECT rekor_enqueue($1::text::jsonb, NULL, 4)", &[&log.envelope_json(i)]).unwrap().get(0)
        })
        .collect();
    let id = ids[0];
    let mut backoffs = Vec::new();
    for attempt in 1..=4 {
        assert_eq!(dequeue(&mut c, "w", 1, "1 minute"), vec![id], "attempt {attempt}");
        let (st, attempts, wait_ms, err) = fail_and_read(&mut c, id, "w", &format!("rekor said 503 ({attempt})"), true);
        assert_eq!(attempts, attempt);
        assert_eq!(err.as_deref(), Some(format!("rekor said 503 ({attempt})").as_str()));
        if attempt < 4 {
            assert_eq!(st, "pending", "attempt {attempt}");
            backoffs.push(wait_ms);
            // Not due yet: never handed out, to anyone, however large the batch.
            assert!(!dequeue(&mut c, "other", 1000, "1 minute").contains(&id), "a backed-off item was dequeued");
            // (the other items were just leased to "other"; give them back)
            for other in &ids[1..] {
                if state(&mut c, *other).2.as_deref() == Some("other") {
                    mark_failed(&mut c, *other, "other", "parked", true).unwrap();
                    c.execute("UPDATE rekor_submission_queue SET next_attempt_at = now() + interval '1 hour' WHERE queue_id = $1", &[other]).unwrap();
                }
            }
            make_due(&mut c, id);
        } else {
            assert_eq!(st, "dead", "after max_attempts");
        }
    }
    // 2^attempts seconds: 2 s, 4 s, 8 s.
    assert_eq!(backoffs, vec![2000.0, 4000.0, 8000.0]);
    // Dead: never dequeued again, even when "due".
    make_due(&mut c, id);
    assert!(!dequeue(&mut c, "w", 1000, "1 minute").contains(&id));
    assert_eq!(state(&mut c, id).0, "dead");
    // Requeue revives it: pending, attempts reset, due now.
    c.execute("SELECT rekor_requeue($1)", &[&id]).unwrap();
    let r = c
        .query_one("SELECT state, attempts, next_attempt_at <= now(), last_error FROM rekor_submission_queue WHERE queue_id = $1", &[&id])
        .unwrap();
    assert_eq!(
        (r.get::<_, String>(0), r.get::<_, i32>(1), r.get::<_, bool>(2), r.get::<_, Option<String>>(3)),
        ("pending".into(), 0, true, None)
    );
    // Only a dead item can be requeued.
    assert_eq!(sqlstate(c.query_one("SELECT rekor_requeue($1)", &[&id])), "55000");
    assert_eq!(sqlstate(c.query_one("SELECT rekor_requeue(987654)", &[])), "55000");
    assert_eq!(dequeue(&mut c, "w", 1, "1 minute"), vec![id]);
    mark(&mut c, id, "w", &log.response_json(0)).unwrap();

    // A non-retryable failure is dead at once.
    make_due(&mut c, ids[1]);
    assert_eq!(dequeue(&mut c, "w", 1, "1 minute"), vec![ids[1]]);
    assert_eq!(fail_and_read(&mut c, ids[1], "w", "400 bad request", false).0, "dead");
    // The backoff is capped at one hour.
    c.execute("SELECT rekor_requeue($1)", &[&ids[1]]).unwrap();
    c.execute("UPDATE rekor_submission_queue SET attempts = 20, max_attempts = 100 WHERE queue_id = $1", &[&ids[1]])
        .unwrap();
    assert_eq!(dequeue(&mut c, "w", 1, "1 minute"), vec![ids[1]]);
    let (st, _, wait_ms, _) = fail_and_read(&mut c, ids[1], "w", "still 503", true);
    assert_eq!((st.as_str(), wait_ms), ("pending", 3_600_000.0));
    done(c);
}

#[test]
fn an_expired_lease_on_the_last_attempt_makes_the_item_dead() {
    let _g = shared();
    let (mut c, log, _) = setup("q_last_lease", "lastlease", 2);
    let id: i64 =
        c.query_one("SELECT rekor_enqueue($1::text::jsonb, NULL, 1)", &[&log.envelope_json(0)]).unwrap().get(0);
    let id2: i64 =
        c.query_one("SELECT rekor_enqueue($1::text::jsonb, NULL, 2)", &[&log.envelope_json(1)]).unwrap().get(0);
    assert_eq!(dequeue(&mut c, "w", 2, "300 milliseconds"), vec![id, id2]);
    std::thread::sleep(Duration::from_millis(400));
    // id had its one attempt: dead, not handed out; id2 has another attempt left.
    assert_eq!(dequeue(&mut c, "w2", 10, "1 minute"), vec![id2]);
    let r = c
        .query_one("SELECT state, lease_owner, last_error FROM rekor_submission_queue WHERE queue_id = $1", &[&id])
        .unwrap();
    assert_eq!(r.get::<_, String>(0), "dead");
    assert_eq!(r.get::<_, Option<String>>(1), None);
    assert!(r.get::<_, Option<String>>(2).unwrap().contains("lease expired"));
    assert_eq!(sqlstate(mark(&mut c, id, "w", &log.response_json(0))), "55000");
    done(c);
}

#[test]
fn dequeue_never_returns_an_item_that_is_not_due() {
    let _g = shared();
    let (mut c, log, _) = setup("q_not_due", "notdue", 60);
    let ids = enqueue_range(&mut c, &log, 0..60, 60);
    assert_eq!(dequeue(&mut c, "w", 60, "1 minute"), ids);
    // Half of them fail (back off 2 s), the other half stays leased.
    for id in ids.iter().step_by(2) {
        assert_eq!(mark_failed(&mut c, *id, "w", "503", true).unwrap(), "pending");
    }
    // Spread the due times: 10 in the past, 20 in the future.
    let failed: Vec<i64> = ids.iter().step_by(2).copied().collect();
    c.execute(
        "UPDATE rekor_submission_queue SET next_attempt_at = now() + (CASE WHEN queue_id % 3 = 0 THEN -1 ELSE 1 END) * interval '10 minutes'
         WHERE queue_id = ANY($1)",
        &[&failed],
    )
    .unwrap();
    let due: BTreeSet<i64> = c
        .query(
            "SELECT queue_id FROM rekor_submission_queue WHERE queue_id = ANY($1) AND next_attempt_at <= now()",
            &[&failed],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(!due.is_empty() && due.len() < failed.len());
    // Dequeue in small batches until dry: exactly the due ones come out, each with a past next_attempt_at.
    let mut got = BTreeSet::new();
    loop {
        let rows =
            c.query("SELECT queue_id, next_attempt_at <= now() FROM rekor_dequeue('w2', 3, '1 minute')", &[]).unwrap();
        if rows.is_empty() {
            break;
        }
        for r in rows {
            assert!(r.get::<_, bool>(1), "item {} was not due", r.get::<_, i64>(0));
            got.insert(r.get::<_, i64>(0));
        }
    }
    assert_eq!(got, due);
    done(c);
}

#[test]
fn mark_failed_for_many_items_is_all_or_nothing() {
    let _g = shared();
    let (mut c, log, _) = setup("q_fail_many", "failmany", 4);
    let envs: Vec<String> = (0..4).map(|i| log.envelope_json(i)).collect();
    let ids: Vec<i64> = c
        .query("SELECT rekor_enqueue_batch($1::text[]::jsonb[])", &[&envs])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let leased = dequeue(&mut c, "w", 3, "1 minute");
    assert_eq!(leased, ids[..3].to_vec());
    let before: Vec<String> = ids.iter().map(|&id| row(&mut c, id)).collect();

    // One item (the pending fourth) is not leased by w: refused, naming it, and nothing changes.
    let r = c.query("SELECT * FROM rekor_mark_failed_batch($1::bigint[], 'w', 'boom', true)", &[&ids]);
    let (code, _, detail) = db_error(r.map(|rows| rows.len()));
    assert_eq!(code, "55000");
    assert!(detail.contains(&format!("queue_id {}", ids[3])), "{detail}");
    let after: Vec<String> = ids.iter().map(|&id| row(&mut c, id)).collect();
    assert_eq!(before, after, "a refused batch changed an item");
    // Another worker's lease: refused too.
    let r = c.query("SELECT * FROM rekor_mark_failed_batch($1::bigint[], 'intruder', 'boom', false)", &[&leased]);
    assert_eq!(sqlstate(r.map(|rows| rows.len())), "55000");

    // The three leased items, repeated ids and all: each gets its new state, once.
    let twice: Vec<i64> = leased.iter().chain(leased.iter()).copied().collect();
    let out: Vec<(i64, String)> = c
        .query("SELECT queue_id, state FROM rekor_mark_failed_batch($1::bigint[], 'w', 'boom', false)", &[&twice])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(out, leased.iter().map(|&id| (id, "dead".to_string())).collect::<Vec<_>>());
    assert_eq!(state(&mut c, ids[3]).0, "pending");
    // No longer leased: a second ack is refused.
    let r = c.query("SELECT * FROM rekor_mark_failed_batch($1::bigint[], 'w', 'boom', false)", &[&leased]);
    assert_eq!(sqlstate(r.map(|rows| rows.len())), "55000");
    // Bad arrays: 22023; an empty one changes nothing.
    for bad in ["ARRAY[1, NULL]::bigint[]", "ARRAY[[1, 2], [3, 4]]::bigint[]", "NULL::bigint[]"] {
        let r = c.query(&format!("SELECT * FROM rekor_mark_failed_batch({bad}, 'w', 'x', true)"), &[]);
        assert_eq!(sqlstate(r.map(|rows| rows.len())), "22023", "{bad}");
    }
    assert!(c.query("SELECT * FROM rekor_mark_failed_batch('{}'::bigint[], 'w', 'x', true)", &[]).unwrap().is_empty());
    done(c);
}

#[test]
fn the_envelope_key_table_holds_one_row_per_item_and_cannot_be_changed() {
    let _g = shared();
    let (mut c, log, _) = setup("q_keys", "keys", 3);
    let envs: Vec<String> = [0usize, 1, 0, 2].iter().map(|&i| log.envelope_json(i)).collect();
    c.query("SELECT rekor_enqueue_batch($1::text[]::jsonb[])", &[&envs]).unwrap();
    c.query_one("SELECT rekor_enqueue($1::text::jsonb)", &[&envs[3]]).unwrap();
    assert_eq!(
        count(
            &mut c,
            "SELECT count(*) FROM rekor_submission_queue q JOIN rekor_submission_keys k USING (queue_id)
             WHERE k.envelope_sha256 = q.envelope_sha256 AND k.log_key = coalesce(q.log_id, '\\x'::bytea)"
        ),
        3
    );
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_submission_keys"), 3);
    // The keys follow the queue: an item stored without rekor_enqueue (what pg_restore does; the
    // key table is not dumped) gets its key, so enqueueing its envelope again finds it.
    let env3 = log.envelope_json(2);
    c.batch_execute("CREATE TEMP TABLE saved AS SELECT * FROM rekor_submission_queue").unwrap();
    let moved: i64 = c
        .query_one(
            "DELETE FROM rekor_submission_queue q WHERE q.envelope_sha256 =
                 (SELECT envelope_sha256 FROM rekor_dsse_info($1::text::jsonb)) RETURNING q.queue_id",
            &[&env3],
        )
        .unwrap()
        .get(0);
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_submission_keys"), 2);
    c.execute(
        "INSERT INTO rekor_submission_queue OVERRIDING SYSTEM VALUE SELECT * FROM saved WHERE queue_id = $1",
        &[&moved],
    )
    .unwrap();
    let again: i64 = c.query_one("SELECT rekor_enqueue($1::text::jsonb)", &[&env3]).unwrap().get(0);
    assert_eq!(again, moved);
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_submission_keys"), 3);
    // Purging an item removes its key (the envelope can be queued anew); TRUNCATE empties both.
    c.execute("DELETE FROM rekor_submission_queue WHERE queue_id = $1", &[&moved]).unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_submission_keys"), 2);
    let fresh: i64 = c.query_one("SELECT rekor_enqueue($1::text::jsonb)", &[&env3]).unwrap().get(0);
    assert!(fresh > moved);
    let n: i64 = c.query_one("SELECT count(*) FROM rekor_submission_queue WHERE queue_id = $1", &[&fresh]).unwrap().get(0);
    assert_eq!(n, 1);
    // Append-only even for a superuser that is not the extension owner is covered in roles.rs; here
    // a role with every privilege but ownership cannot change a key.
    let role = unique_role("keys_rw");
    c.batch_execute(&format!(
        "CREATE ROLE {role}; GRANT rekor_admin TO {role}; GRANT UPDATE, DELETE ON rekor_submission_keys TO {role};
         SET ROLE {role}"
    ))
    .unwrap();
    assert_eq!(sqlstate(c.execute("UPDATE rekor_submission_keys SET log_key = '\\x01'", &[])), "42501");
    assert_eq!(sqlstate(c.execute("DELETE FROM rekor_submission_keys", &[])), "42501");
    c.batch_execute("RESET ROLE").unwrap();
    c.batch_execute("TRUNCATE rekor_submission_queue CASCADE").unwrap();
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_submission_keys"), 0);
    done(c);
}

// ---------------------------------------------------------------------------------------------
// Visibility (0.5.0): one index, one scan; the lease and backoff rules through it
// ---------------------------------------------------------------------------------------------

/// Items in every state at once: (pending due, pending backing off, live lease, expired lease with
/// attempts left, expired lease on its last attempt, dead). Returns their queue_ids in that order.
fn every_state(c: &mut Client, log: &TestLog) -> [i64; 6] {
    let mut ids = [0i64; 6];
    for (i, id) in ids.iter_mut().enumerate() {
        let max_attempts = if i == 4 { 1 } else { 5 };
        *id = c
            .query_one("SELECT rekor_enqueue($1::text::jsonb, NULL, $2)", &[&log.envelope_json(i), &max_attempts])
            .unwrap()
            .get(0);
    }
    let [due, backoff, live, expired, last, dead] = ids;
    for (id, lease) in [(backoff, "1 minute"), (live, "1 hour"), (expired, "1 minute"), (last, "1 minute"), (dead, "1 minute")] {
        c.execute("UPDATE rekor_submission_queue SET next_attempt_at = now() + interval '1 day' WHERE queue_id <> $1", &[&id])
            .unwrap();
        c.execute("UPDATE rekor_submission_queue SET next_attempt_at = now() - interval '1 second' WHERE queue_id = $1", &[&id])
            .unwrap();
        assert_eq!(dequeue(c, "w", 1, lease), vec![id]);
    }
    c.execute("UPDATE rekor_submission_queue SET next_attempt_at = now() - interval '1 second' WHERE queue_id = $1", &[&due])
        .unwrap();
    assert_eq!(mark_failed(c, backoff, "w", "503", true).unwrap(), "pending");
    assert_eq!(mark_failed(c, dead, "w", "400", false).unwrap(), "dead");
    // The backoff (2 s) made longer, so the item is still backing off when the test looks.
    c.execute("UPDATE rekor_submission_queue SET next_attempt_at = now() + interval '1 hour' WHERE queue_id = $1", &[&backoff])
        .unwrap();
    // Both expired leases ran out a second ago (the owner moves them; a worker cannot).
    c.execute(
        "UPDATE rekor_submission_queue SET lease_expires_at = now() - interval '1 second' WHERE queue_id = ANY($1)",
        &[&vec![expired, last]],
    )
    .unwrap();
    ids
}

#[test]
fn one_dequeue_leases_due_and_expired_items_in_queue_order_and_kills_an_exhausted_lease_without_returning_it() {
    let _g = shared();
    let (mut c, log, _) = setup("q_visible", "visible", 6);
    let [due, backoff, live, expired, last, dead] = every_state(&mut c, &log);
    let before: Vec<String> = [backoff, live, dead].iter().map(|&id| row(&mut c, id)).collect();
    // One call, a batch larger than what is visible: the due item and the expired lease, in queue_id
    // order; the exhausted lease turned dead by the same statement and is not among the rows.
    let rows = c
        .query("SELECT queue_id, state, lease_owner, attempts FROM rekor_dequeue('w2', 10, '1 minute')", &[])
        .unwrap();
    let got: Vec<(i64, String, Option<String>, i32)> = rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect();
    assert_eq!(
        got,
        vec![(due, "leased".into(), Some("w2".into()), 1), (expired, "leased".into(), Some("w2".into()), 2)]
    );
    let r = c
        .query_one(
            "SELECT state, lease_owner, lease_expires_at, attempts, last_error FROM rekor_submission_queue WHERE queue_id = $1",
            &[&last],
        )
        .unwrap();
    assert_eq!(r.get::<_, String>(0), "dead");
    assert_eq!(r.get::<_, Option<String>>(1), None);
    assert!(r.get::<_, Option<std::time::SystemTime>>(2).is_none());
    assert_eq!(r.get::<_, i32>(3), 1, "dying is not an attempt");
    assert!(r.get::<_, Option<String>>(4).unwrap().contains("lease expired on the last attempt"));
    // The backing-off item, the live lease and the dead item are untouched.
    let after: Vec<String> = [backoff, live, dead].iter().map(|&id| row(&mut c, id)).collect();
    assert_eq!(before, after);
    assert!(dequeue(&mut c, "w3", 10, "1 minute").is_empty());
    // The former owner of the expired lease has lost it.
    assert_eq!(sqlstate(mark_failed(&mut c, expired, "w", "late", true)), "55000");
    done(c);
}

#[test]
fn one_session_dequeues_with_batches_of_every_size_the_oldest_due_and_expired_items_in_queue_order() {
    // rekor_dequeue keeps one plan per session whatever the batch: each size must still get the
    // oldest eligible items, pending and expired leases merged in queue_id order, and an exhausted
    // lease must die at the first call, a batch of 1 included.
    let _g = shared();
    let (mut c, log, _) = setup("q_batch_sizes", "batchsizes", 30);
    let ids = enqueue_range(&mut c, &log, 0..30, 30);
    assert_eq!(dequeue(&mut c, "w1", 10, "1 minute"), ids[..10].to_vec());
    // The first ten leases ran out (the owner moves them); the fourth item had its last attempt.
    c.execute(
        "UPDATE rekor_submission_queue SET lease_expires_at = now() - interval '1 second' WHERE queue_id = ANY($1)",
        &[&ids[..10].to_vec()],
    )
    .unwrap();
    c.execute("UPDATE rekor_submission_queue SET max_attempts = 1 WHERE queue_id = $1", &[&ids[3]]).unwrap();
    assert_eq!(dequeue(&mut c, "w2", 1, "1 minute"), vec![ids[0]]);
    assert_eq!(state(&mut c, ids[3]), ("dead".to_string(), 1, None));
    assert_eq!(dequeue(&mut c, "w2", 5, "2 minutes"), vec![ids[1], ids[2], ids[4], ids[5], ids[6]]);
    assert_eq!(dequeue(&mut c, "w2", 1000, "3 minutes"), ids[7..].to_vec());
    assert!(dequeue(&mut c, "w2", 1, "1 minute").is_empty());
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_submission_queue WHERE state = 'leased' AND lease_owner = 'w2'"), 29);
    assert_eq!(state(&mut c, ids[0]), ("leased".to_string(), 2, Some("w2".to_string())));
    assert_eq!(state(&mut c, ids[29]), ("leased".to_string(), 1, Some("w2".to_string())));
    done(c);
}

#[test]
fn dequeue_is_never_jit_compiled_however_costly_its_generic_plan_looks() {
    // rekor_dequeue keeps one generic plan, costed as if an unknown LIMIT took a tenth of the
    // pending rows: with millions pending that passed jit_above_cost and every call compiled it
    // (19 ms a dequeue at 10M pending). With the threshold at 0, auto_explain shows which plans
    // were compiled: the session's own statement is (the control), none of the dequeue's may be.
    let _g = shared();
    let (mut c0, log, dsn) = setup("q_nojit", "nojit", 3);
    let ids = enqueue_range(&mut c0, &log, 0..3, 3);
    let plans = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = plans.clone();
    let mut c = dsn
        .parse::<postgres::Config>()
        .unwrap()
        .notice_callback(move |n| sink.lock().unwrap().push(n.message().to_string()))
        .connect(NoTls)
        .unwrap();
    let jit: bool = c.query_one("SELECT pg_jit_available()", &[]).unwrap().get(0);
    assert!(jit, "this server has no JIT provider: the test cannot tell a compiled plan");
    c.batch_execute(
        "LOAD 'auto_explain'; SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on;
         SET auto_explain.log_level = notice; SET jit = on; SET jit_above_cost = 0",
    )
    .unwrap();
    assert_eq!(dequeue(&mut c, "w", 2, "1 minute"), ids[..2].to_vec());
    let plans = plans.lock().unwrap().clone();
    let (inner, outer): (Vec<&String>, Vec<&String>) = plans.iter().partition(|p| p.contains("rekor_submission_queue"));
    assert!(!inner.is_empty(), "auto_explain showed the dequeue's own statements: {plans:?}");
    assert!(outer.iter().any(|p| p.contains("rekor_dequeue") && p.contains("JIT:")), "the calling statement was compiled: {plans:?}");
    for p in &inner {
        assert!(!p.contains("JIT:"), "a statement of rekor_dequeue was JIT-compiled:\n{p}");
    }
    drop(c);
    done(c0);
}

#[test]
fn visibility_follows_the_columns_a_live_lease_is_never_visible_through_next_attempt_at() {
    let _g = shared();
    let (mut c, log, _) = setup("q_visible_cols", "visiblecols", 6);
    let [due, backoff, live, _, _, dead] = every_state(&mut c, &log);
    assert_eq!(dequeue(&mut c, "w2", 1, "1 minute"), vec![due]);
    // A live lease whose next_attempt_at lies in the past stays invisible: a leased item is visible
    // when its lease expires, whatever its next_attempt_at says; a dead item never is.
    c.execute(
        "UPDATE rekor_submission_queue SET next_attempt_at = now() - interval '1 hour' WHERE queue_id = ANY($1)",
        &[&vec![live, dead]],
    )
    .unwrap();
    assert!(!dequeue(&mut c, "w3", 10, "1 minute").contains(&live));
    // An owner's UPDATE of next_attempt_at makes a backing-off item due at once: there is no stored
    // copy of the visibility time to fall out of step.
    c.execute("UPDATE rekor_submission_queue SET next_attempt_at = now() - interval '1 second' WHERE queue_id = $1", &[&backoff])
        .unwrap();
    assert_eq!(dequeue(&mut c, "w3", 10, "1 minute"), vec![backoff]);
    // ... and moving a live lease's expiry into the past makes it visible (to be leased again).
    c.execute("UPDATE rekor_submission_queue SET lease_expires_at = now() - interval '1 second' WHERE queue_id = $1", &[&live])
        .unwrap();
    assert_eq!(dequeue(&mut c, "w4", 10, "1 minute"), vec![live]);
    assert_eq!(state(&mut c, live), ("leased".to_string(), 2, Some("w4".to_string())));
    assert_eq!(state(&mut c, dead).0, "dead");
    done(c);
}

#[test]
fn items_of_every_state_queued_under_0_4_0_are_dequeued_as_before_after_the_upgrade() {
    let _g = shared();
    let (mut c, _) = fresh_db_at_version("q_upgrade_visible", "0.4.0");
    let log = TestLog::new("upgradevisible", 6);
    log.install(&mut c);
    let [due, backoff, live, expired, last, dead] = every_state(&mut c, &log);
    let before: Vec<String> = [backoff, live, dead].iter().map(|&id| row(&mut c, id)).collect();
    c.batch_execute("ALTER EXTENSION rekor_meta UPDATE").unwrap();
    let indexes: Vec<String> = c
        .query("SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = 'rekor_submission_queue'::regclass ORDER BY 1", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(indexes, vec!["rekor_queue_entry", "rekor_queue_leased", "rekor_queue_pending", "rekor_submission_queue_pkey"]);
    // The rows are as they were, and each pending and leased row is still handed out by its state.
    let after: Vec<String> = [backoff, live, dead].iter().map(|&id| row(&mut c, id)).collect();
    assert_eq!(before, after);
    let indexed: i64 = c
        .query_one("SELECT count(*) FROM rekor_submission_queue WHERE state IN ('pending', 'leased')", &[])
        .unwrap()
        .get(0);
    assert_eq!(indexed, 5);
    let got: Vec<i64> = dequeue(&mut c, "after", 10, "1 minute");
    assert_eq!(got, vec![due, expired]);
    assert_eq!(state(&mut c, last).0, "dead");
    assert_eq!(state(&mut c, live), ("leased".to_string(), 1, Some("w".to_string())));
    assert_eq!(state(&mut c, backoff).0, "pending");
    // The leases taken before the upgrade are still honoured: the live one can be acknowledged.
    assert_eq!(mark_failed(&mut c, live, "w", "ack", false).unwrap(), "dead");
    done(c);
}
