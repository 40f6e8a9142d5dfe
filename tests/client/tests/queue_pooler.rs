//! The submission queue through a real PgBouncer in transaction pooling mode (scripts/pgbouncer.sh,
//! started and stopped by this test): 4 workers share 2 server connections, so consecutive calls
//! of one worker land on different backends. The queue keeps no session state, so the drain must
//! behave exactly as on direct connections: every item submitted once, no lease ever held twice.
//!
//! Every statement goes through `query_typed` (one unnamed-statement round trip): PgBouncer 1.18
//! in transaction mode cannot carry named prepared statements from one transaction to the next.
use postgres::types::Type;
use postgres::{Client, NoTls, SimpleQueryMessage};
use rekor_meta_client_tests::testlog::worker::{check_drained, check_logs, drain, enqueue_range};
use rekor_meta_client_tests::testlog::TestLog;
use rekor_meta_client_tests::*;
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

const POOL_SIZE: usize = 2;

/// A running PgBouncer; stopped on drop (also when the test fails).
struct Bouncer {
    port: u16,
}

fn pgbouncer_sh(action: &str) -> String {
    let dir = std::env::var("REKOR_CLUSTER_DIR")
        .expect("REKOR_CLUSTER_DIR is not set: scripts/test.sh exports it (the cluster PgBouncer points at)");
    let port = std::env::var("REKOR_PGPORT").expect("REKOR_PGPORT is not set: scripts/test.sh exports it");
    let script = format!("{}/../../scripts/pgbouncer.sh", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("bash")
        .arg(&script)
        .arg(action)
        .env("REKOR_CLUSTER_DIR", dir)
        .env("REKOR_PGPORT", port)
        .env("REKOR_PGBOUNCER_POOL_SIZE", POOL_SIZE.to_string())
        .output()
        .unwrap_or_else(|e| panic!("{script}: {e}"));
    assert!(
        out.status.success(),
        "{script} {action} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Bouncer {
    fn start() -> Bouncer {
        // A leftover from an interrupted run may have other settings: start from scratch.
        pgbouncer_sh("stop");
        eprintln!("{}", pgbouncer_sh("start"));
        Bouncer { port: pgbouncer_sh("port").parse().expect("a port") }
    }

    fn dsn(&self, db: &str) -> String {
        format!("host=127.0.0.1 port={} user=postgres dbname={db}", self.port)
    }
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        pgbouncer_sh("stop");
    }
}

/// One setting of PgBouncer's SHOW CONFIG (admin console: simple protocol only).
fn bouncer_setting(b: &Bouncer, key: &str) -> String {
    let mut admin = Client::connect(&b.dsn("pgbouncer"), NoTls).expect("PgBouncer admin console");
    for m in admin.simple_query("SHOW CONFIG").unwrap() {
        if let SimpleQueryMessage::Row(r) = m {
            if r.get(0) == Some(key) {
                return r.get(1).unwrap_or("").to_string();
            }
        }
    }
    panic!("PgBouncer has no setting {key}")
}

#[test]
fn four_workers_drain_2000_items_through_pgbouncer_transaction_pooling() {
    const N: usize = 2000;
    let bouncer = Bouncer::start();
    assert_eq!(bouncer_setting(&bouncer, "pool_mode"), "transaction");

    let mut direct = fresh_db("q_pooler");
    let log = TestLog::new("pooler", N);
    log.install(&mut direct);
    let db: String = direct.query_one("SELECT current_database()", &[]).unwrap().get(0);
    let pooled_dsn = bouncer.dsn(&db);

    // Every queue call works through the pooler, one transaction each.
    let mut p = Client::connect(&pooled_dsn, NoTls).expect("connect through PgBouncer");
    let ids = enqueue_range(&mut p, &log, 0..N, 100);
    let idset: BTreeSet<i64> = ids.iter().copied().collect();
    assert_eq!(idset.len(), N);
    let single: i64 =
        p.query_typed_one("SELECT rekor_enqueue($1::jsonb)", &[(&log.envelope_json(0), Type::TEXT)]).unwrap().get(0);
    assert_eq!(single, ids[0], "idempotent enqueue through the pooler");
    let got: Vec<i64> = p
        .query_typed("SELECT queue_id FROM rekor_dequeue('tour', 2, '1 minute')", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(got, ids[..2].to_vec());
    p.query_typed("SELECT rekor_extend_lease($1, 'tour', '2 minutes')", &[(&ids[0], Type::INT8)]).unwrap();
    let st: String = p
        .query_typed_one("SELECT rekor_mark_failed($1, 'tour', 'try again', false)", &[(&ids[0], Type::INT8)])
        .unwrap()
        .get(0);
    assert_eq!(st, "dead");
    p.query_typed("SELECT rekor_requeue($1)", &[(&ids[0], Type::INT8)]).unwrap();
    let e = p.query_typed_one(
        "SELECT rekor_mark_submitted($1, 'other', $2::jsonb)",
        &[(&ids[1], Type::INT8), (&log.response_json(1), Type::TEXT)],
    );
    assert_eq!(sqlstate(e), "55000", "a lease check through the pooler");
    let entry: i64 = p
        .query_typed_one(
            "SELECT rekor_mark_submitted($1, 'tour', $2::jsonb)",
            &[(&ids[1], Type::INT8), (&log.response_json(1), Type::TEXT)],
        )
        .unwrap()
        .get(0);
    // Item 1 is done; the drain below does the rest (item 0 is pending again).
    let rest: BTreeSet<i64> = idset.iter().copied().filter(|&x| x != ids[1]).collect();

    let (logs, took) = drain(&pooled_dsn, &log, "pooled", 4, 10, "1 minute", Duration::from_secs(120));
    check_logs(&logs, &rest);
    check_drained(&mut direct, &log, &rest, &logs);
    let linked: i64 =
        direct.query_one("SELECT entry_id FROM rekor_submission_queue WHERE queue_id = $1", &[&ids[1]]).unwrap().get(0);
    assert_eq!(linked, entry);
    assert_eq!(direct.query_one("SELECT count(*) FROM rekor_entries", &[]).unwrap().get::<_, i64>(0), N as i64);
    assert_eq!(
        direct
            .query_one("SELECT count(*) FROM rekor_submission_queue WHERE state <> 'submitted'", &[])
            .unwrap()
            .get::<_, i64>(0),
        0
    );

    // The workers really shared backends: at most POOL_SIZE of them served 4 workers, and single
    // workers were served by more than one.
    let all_pids: BTreeSet<i32> = logs.iter().flat_map(|l| l.backend_pids.iter().copied()).collect();
    assert!(all_pids.len() <= POOL_SIZE, "{} backends served the pooled workers", all_pids.len());
    let multiplexed = logs.iter().filter(|l| l.backend_pids.len() > 1).count();
    assert!(
        multiplexed >= 1,
        "no worker ever moved to another backend: {:?}",
        logs.iter().map(|l| &l.backend_pids).collect::<Vec<_>>()
    );
    for l in &logs {
        assert_eq!((l.lost_connections, l.stale.len()), (0, 0), "{}", l.name);
    }
    println!(
        "[queue pooler] {} items drained by 4 workers through PgBouncer (transaction pooling, {} server connections) in {:.2?}: \
         {:.0} items/s; {multiplexed} of 4 workers were served by several backends",
        rest.len(),
        all_pids.len(),
        took,
        rest.len() as f64 / took.as_secs_f64()
    );
    // Passed: drop the database (a failed run leaves it for a post-mortem).
    drop(p);
    direct.batch_execute("SELECT 1").unwrap();
    drop(direct);
    connect_db("postgres").batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).expect("drop database");
}
