//! Submission-queue benchmark (see bench/README.md, section "Queue").
//!
//! ```text
//! rekor_meta's queue (sql/040_queue.sql) against a plain-SQL SKIP LOCKED queue written for the
//! benchmark (same columns, PRIMARY KEY + the same partial index on pending rows, one prepared
//! statement per operation, no function around it), in one run, one connection per worker thread:
//!
//!  enqueue        1 item per call / 100 per call            rekor_enqueue / rekor_enqueue_batch
//!                                                           vs INSERT ... SELECT computing the same digests
//!  dequeue+ack    dequeue 1 + ack 1 / dequeue 100 + ack 100 rekor_dequeue + rekor_mark_failed(id, w, 'ack', false)
//!                                                           vs UPDATE ... WHERE id IN (SELECT ... FOR UPDATE
//!                                                           SKIP LOCKED LIMIT n) RETURNING + UPDATE state='dead'
//!  dequeue only   100 per call, never acked                 (informational)
//!  full cycle     dequeue 100 (or 1) + rekor_mark_submitted with a real, verified Rekor REST response
//!                 from a synthetic Ed25519 log (one tree, one signed checkpoint), batch-marked in one
//!                 statement; vs the plain queue storing the same response unverified
//!
//! each with 1, 4 and 8 clients for a fixed time (or until the queue is drained), items/s and the
//! rekor/plain ratio; then dequeue latency with 1k and with 1M (quick: 100k) pending rows; then
//! (full run only) dequeue latency while another transaction holds back vacuum for 5 minutes, both
//! queues side by side. PASS/MISS per target of the issue, a QUEUE_BENCH line per figure.
//!
//! usage: queue [--dsn DSN] [--quick] [--secs S] [--clients 1,4,8] [--pending N] [--vacuum-secs S]
//!              [--sections enqueue,dequeue,full,latency,vacuum,profile] [--db NAME] [--keep]
//! ```
use postgres::{Client, NoTls, Row, Statement};
use rekor_meta_bench::queuelog::{par_map, rest_response, Ed25519Log, EnvelopeGen, Tree};
use rekor_meta_core::merkle as mk;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

// Targets of the issue.
const T_DEQ_RATIO: f64 = 0.9; // dequeue throughput >= 0.9x the plain queue
const T_CLIENTS: usize = 4; // "with 4 clients"
const T_DEQ1_ACK: f64 = 3_500.0; // single-item dequeue+ack items/s
const T_DEQ100: f64 = 40_000.0; // batch-100 dequeue items/s
const T_ENQ100: f64 = 140_000.0; // batch-100 enqueue items/s
const T_FULL: f64 = 5_000.0; // full cycle with batches, entries/s
const T_BIG_PENDING: f64 = 2.0; // dequeue with 1M pending within 2x of 1k pending
const T_VACUUM: f64 = 2.0; // p99 under held-back vacuum within 2x of normal
                           // pgmq on this machine kind, as the issue reports it (for orientation only).
const PGMQ_DEQ1_ACK: f64 = 1_650.0;
const PGMQ_DEQ100: f64 = 32_400.0;
const PGMQ_ENQ100: f64 = 142_500.0;

// Disjoint envelope index ranges, so no two phases enqueue the same envelope.
const FILL_BASE: u64 = 0; // server-side fills
const ENQ_BASE: u64 = 100_000_000; // client enqueue pool
const FULL_BASE: u64 = 200_000_000; // full-cycle envelopes (entries of the test log)
const LAT_BASE: u64 = 300_000_000; // producer in the latency test
const VAC_BASE: u64 = 400_000_000; // producers in the vacuum test (+ 50M for the plain queue)

const LOG_NAME: &str = "queue-bench.test.log";
/// Entries ingested (untimed) before the full-cycle figures, then ANALYZE: a log table that is not
/// nearly empty. (A backend that plans rekor_ingest_rows' lookup while rekor_entries is nearly empty
/// keeps a plan that scans every entry of the log per ingest: see README, "Findings".)
const WARM_ENTRIES: u64 = 2_000;
/// Pending rows per second of figure in the fill shared by the three dequeue figures.
const DEQ_FILL_PER_SEC: f64 = 160_000.0;

struct Args {
    dsn: String,
    quick: bool,
    secs: f64,
    clients: Vec<usize>,
    pending_small: i64,
    pending_big: i64,
    vacuum_secs: u64,
    sections: Vec<String>,
    what_if: Option<String>,
    db: String,
    keep: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: queue [--dsn DSN] [--quick] [--secs S] [--clients 1,4,8] [--pending N] [--vacuum-secs S]\n\
         \x20            [--sections enqueue,dequeue,full,latency,vacuum,profile] [--db NAME] [--keep]\n\
         \x20            [--what-if toast|dsse-rows1]   (an experiment, NOT the shipped extension: see README)\n\
         \x20 --quick: 1.5 s per throughput figure, 100k instead of 1M pending rows, no vacuum test"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        dsn: std::env::var("REKOR_BENCH_DSN")
            .unwrap_or_else(|_| "host=/work/main/target/bench-queue-cluster port=28823 user=postgres".into()),
        quick: false,
        secs: 0.0,
        clients: vec![1, 4, 8],
        pending_small: 1_000,
        pending_big: 0,
        vacuum_secs: u64::MAX,
        sections: vec![],
        what_if: None,
        db: "rekor_bench_queue".into(),
        keep: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut val = |name: &str| {
            it.next().unwrap_or_else(|| {
                eprintln!("{name} needs a value");
                usage()
            })
        };
        match arg.as_str() {
            "--dsn" => a.dsn = val("--dsn"),
            "--quick" => a.quick = true,
            "--secs" => a.secs = val("--secs").parse().unwrap_or_else(|_| usage()),
            "--clients" => {
                a.clients = val("--clients").split(',').map(|s| s.trim().parse().unwrap_or_else(|_| usage())).collect()
            }
            "--pending" => a.pending_big = val("--pending").parse().unwrap_or_else(|_| usage()),
            "--vacuum-secs" => a.vacuum_secs = val("--vacuum-secs").parse().unwrap_or_else(|_| usage()),
            "--sections" => a.sections = val("--sections").split(',').map(|s| s.trim().to_string()).collect(),
            "--what-if" => a.what_if = Some(val("--what-if")),
            "--db" => a.db = val("--db"),
            "--keep" => a.keep = true,
            _ => {
                eprintln!("unknown argument {arg}");
                usage()
            }
        }
    }
    if a.secs <= 0.0 {
        a.secs = if a.quick { 1.5 } else { 3.0 };
    }
    if a.pending_big <= 0 {
        a.pending_big = if a.quick { 100_000 } else { 1_000_000 };
    }
    if a.vacuum_secs == u64::MAX {
        a.vacuum_secs = if a.quick { 0 } else { 300 };
    }
    if a.sections.is_empty() {
        a.sections = ["enqueue", "dequeue", "full", "latency", "vacuum", "profile"].map(String::from).to_vec();
    }
    if a.clients.is_empty() || a.clients.iter().any(|&c| c == 0 || c > 64) {
        usage()
    }
    if !a.db.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        eprintln!("--db must be a plain identifier");
        usage()
    }
    a
}

// ---------------------------------------------------------------- helpers

fn pg<T>(r: Result<T, postgres::Error>, what: &str) -> T {
    r.unwrap_or_else(|e| match e.as_db_error() {
        Some(d) => panic!("{what}: {} {} ({:?})", d.code().code(), d.message(), d.detail()),
        None => panic!("{what}: {e}"),
    })
}

fn connect(dsn: &str) -> Client {
    pg(Client::connect(dsn, NoTls), "connect")
}

fn scalar_i64(c: &mut Client, q: &str) -> i64 {
    pg(c.query_one(q, &[]), q).get(0)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn pass(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let k = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[k.min(sorted.len() - 1)]
}

#[derive(Clone, Copy)]
struct Stats {
    n: usize,
    mean: f64,
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
}

fn stats(v: &[f64]) -> Stats {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    Stats {
        n: s.len(),
        mean: s.iter().sum::<f64>() / s.len().max(1) as f64,
        p50: percentile(&s, 50.0),
        p90: percentile(&s, 90.0),
        p99: percentile(&s, 99.0),
        max: s.last().copied().unwrap_or(f64::NAN),
    }
}

// ---------------------------------------------------------------- the two queues

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Rekor,
    Plain,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Rekor => "rekor",
            Kind::Plain => "plain",
        }
    }
    fn table(self) -> &'static str {
        match self {
            Kind::Rekor => "rekor_submission_queue",
            Kind::Plain => "bench_plain_queue",
        }
    }
}

/// Created in the scratch database next to the extension.
const SETUP_SQL: &str = r#"
CREATE EXTENSION rekor_meta;

-- The baseline: a plain SKIP LOCKED queue with the same columns (identity, defaults, NOT NULLs;
-- no CHECKs, no foreign keys, no uniqueness of envelopes), the primary key and the same partial
-- index on pending rows that a careful DBA would add.
CREATE TABLE bench_plain_queue (LIKE rekor_submission_queue INCLUDING DEFAULTS INCLUDING IDENTITY);
ALTER TABLE bench_plain_queue ADD PRIMARY KEY (queue_id);
CREATE INDEX bench_plain_pending ON bench_plain_queue (queue_id) WHERE state = 'pending';
-- Pre-generated pending rows for the dequeue fills.
CREATE TABLE bench_stage (i bigint PRIMARY KEY, envelope jsonb NOT NULL, payload_type text NOT NULL,
                          payload_sha256 bytea NOT NULL, envelope_sha256 bytea NOT NULL, pae_sha256 bytea NOT NULL);
-- Where the plain queue's "mark submitted" stores the Rekor response (unverified).
CREATE TABLE bench_plain_entries (
    entry_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue_id bigint NOT NULL,
    response jsonb NOT NULL
);
"#;

/// The plain queue's INSERT: the same five columns rekor_enqueue fills, digests computed with SQL
/// builtins (payload SHA-256, SHA-256 of the JSON text as sent, SHA-256 of the DSSE PAE); OFFSET 0
/// keeps the planner from parsing the JSON once per use. `src` yields (t text, o bigint).
fn plain_insert_sql(src: &str) -> String {
    format!(
        "INSERT INTO bench_plain_queue AS q (envelope, payload_type, payload_sha256, envelope_sha256, pae_sha256)
         SELECT a.j, a.j->>'payloadType', sha256(b.p), sha256(convert_to(u.t, 'UTF8')),
                sha256(convert_to(format('DSSEv1 %s %s %s ', octet_length(a.j->>'payloadType'), a.j->>'payloadType',
                                         length(b.p)), 'UTF8') || b.p)
         FROM {src}
         CROSS JOIN LATERAL (SELECT u.t::jsonb AS j OFFSET 0) a
         CROSS JOIN LATERAL (SELECT decode(a.j->>'payload', 'base64') AS p OFFSET 0) b
         ORDER BY u.o
         RETURNING q.queue_id"
    )
}

fn enqueue_sql(kind: Kind, batch: bool) -> String {
    match (kind, batch) {
        (Kind::Rekor, false) => "SELECT rekor_enqueue($1::text::jsonb)".into(),
        (Kind::Rekor, true) => "SELECT rekor_enqueue_batch($1::text[]::jsonb[])".into(),
        (Kind::Plain, false) => plain_insert_sql("(SELECT $1::text AS t, 1 AS o) u"),
        (Kind::Plain, true) => plain_insert_sql("unnest($1::text[]) WITH ORDINALITY AS u(t, o)"),
    }
}

/// Dequeue: params ($1 worker text, $2 batch int); returns (queue_id, envelope text, envelope_sha256).
fn dequeue_sql(kind: Kind) -> &'static str {
    match kind {
        Kind::Rekor => "SELECT d.queue_id, d.envelope::text, d.envelope_sha256 FROM rekor_dequeue($1, $2::int) d",
        Kind::Plain => {
            "UPDATE bench_plain_queue q
             SET state = 'leased', lease_owner = $1, lease_expires_at = now() + interval '5 minutes',
                 attempts = q.attempts + 1
             WHERE q.queue_id IN (SELECT x.queue_id FROM bench_plain_queue x
                                  WHERE x.state = 'pending' AND x.next_attempt_at <= now()
                                  ORDER BY x.queue_id LIMIT $2::int FOR UPDATE SKIP LOCKED)
             RETURNING q.queue_id, q.envelope::text, q.envelope_sha256"
        }
    }
}

/// Ack (the same cheap completion on both sides): rekor_mark_failed(id, worker, 'ack', false), or
/// rekor_mark_failed_batch(ids, worker, 'ack', false) for a batch
/// (lease check, then state 'dead') vs an UPDATE to 'dead' guarded by the same lease condition.
/// Single: ($1 id bigint, $2 worker); batch: ($1 ids bigint[], $2 worker).
fn ack_sql(kind: Kind, batch: bool) -> &'static str {
    match (kind, batch) {
        (Kind::Rekor, false) => "SELECT rekor_mark_failed($1::bigint, $2, 'ack', false)",
        (Kind::Rekor, true) => "SELECT queue_id FROM rekor_mark_failed_batch($1::bigint[], $2, 'ack', false)",
        (Kind::Plain, false) => {
            "UPDATE bench_plain_queue SET state = 'dead', lease_owner = NULL, lease_expires_at = NULL,
                    last_error = 'ack', next_attempt_at = now()
             WHERE queue_id = $1::bigint AND state = 'leased' AND lease_owner = $2 AND lease_expires_at > now()"
        }
        (Kind::Plain, true) => {
            "UPDATE bench_plain_queue SET state = 'dead', lease_owner = NULL, lease_expires_at = NULL,
                    last_error = 'ack', next_attempt_at = now()
             WHERE queue_id = ANY($1::bigint[]) AND state = 'leased' AND lease_owner = $2 AND lease_expires_at > now()"
        }
    }
}

/// Mark submitted with the Rekor response: ($1 ids bigint[], $2 worker, $3 responses text[]) or the
/// scalar form ($1 bigint, $2 worker, $3 text).
fn submit_sql(kind: Kind, batch: bool) -> &'static str {
    match (kind, batch) {
        (Kind::Rekor, false) => "SELECT rekor_mark_submitted($1::bigint, $2, $3::text::jsonb)",
        (Kind::Rekor, true) => {
            "SELECT rekor_mark_submitted(u.id, $2, u.r::jsonb) FROM unnest($1::bigint[], $3::text[]) AS u(id, r)"
        }
        (Kind::Plain, false) => {
            "WITH ins AS (INSERT INTO bench_plain_entries (queue_id, response) VALUES ($1::bigint, $3::text::jsonb)
                          RETURNING entry_id, queue_id)
             UPDATE bench_plain_queue q SET state = 'submitted', entry_id = ins.entry_id, submitted_at = now(),
                    lease_owner = NULL, lease_expires_at = NULL, last_error = NULL
             FROM ins WHERE q.queue_id = ins.queue_id AND q.state = 'leased' AND q.lease_owner = $2
                        AND q.lease_expires_at > now()"
        }
        (Kind::Plain, true) => {
            "WITH ins AS (INSERT INTO bench_plain_entries (queue_id, response)
                          SELECT u.id, u.r::jsonb FROM unnest($1::bigint[], $3::text[]) AS u(id, r)
                          RETURNING entry_id, queue_id)
             UPDATE bench_plain_queue q SET state = 'submitted', entry_id = ins.entry_id, submitted_at = now(),
                    lease_owner = NULL, lease_expires_at = NULL, last_error = NULL
             FROM ins WHERE q.queue_id = ins.queue_id AND q.state = 'leased' AND q.lease_owner = $2
                        AND q.lease_expires_at > now()"
        }
    }
}

/// Server-side bulk fill of `n` pending items (envelopes from..from+n, built by bench_envelope, the
/// SQL twin of the client generator), digests by rekor_dsse_info for both tables; then VACUUM
/// ANALYZE (visibility map, hint bits, statistics) and a CHECKPOINT, so no timed phase pays for
/// the fill.
fn fill(c: &mut Client, kind: Kind, from: u64, n: i64) -> f64 {
    let t = Instant::now();
    let table = kind.table();
    reset(c, table);
    let staged = scalar_i64(c, "SELECT count(*) FROM bench_stage");
    let q = if from == FILL_BASE && n <= staged {
        // The same rows, already generated and digested once (stage()): a plain copy.
        format!(
            "INSERT INTO {table} (envelope, payload_type, payload_sha256, envelope_sha256, pae_sha256)
             SELECT s.envelope, s.payload_type, s.payload_sha256, s.envelope_sha256, s.pae_sha256
             FROM bench_stage s WHERE s.i >= $1::bigint AND s.i < $1::bigint + $2::bigint ORDER BY s.i"
        )
    } else {
        format!(
            "INSERT INTO {table} (envelope, payload_type, payload_sha256, envelope_sha256, pae_sha256)
         SELECT e.t::jsonb, d.payload_type, d.payload_sha256, d.envelope_sha256, d.pae_sha256
         FROM generate_series($1::bigint, $1::bigint + $2::bigint - 1) AS i
         CROSS JOIN LATERAL bench_envelope(i) AS e(t)
         CROSS JOIN LATERAL rekor_dsse_info(e.t::jsonb) AS d
         ORDER BY i"
        )
    };
    let from = from as i64;
    let got = pg(c.execute(&q, &[&from, &n]), "fill");
    assert_eq!(got as i64, n);
    pg(c.batch_execute(&format!("VACUUM (ANALYZE) {table}")), "vacuum after fill");
    pg(c.batch_execute("CHECKPOINT"), "checkpoint after fill");
    t.elapsed().as_secs_f64()
}

/// Empties a queue table. Tables of the extension that reference the queue (rekor_vex_links since
/// 0.2.0, which forbids TRUNCATE by trigger) are asserted empty and truncated with it, with user
/// triggers off for that statement only (superuser, scratch database): the benchmark never writes
/// them, and a fresh relation keeps every figure free of the previous one's dead rows.
fn reset(c: &mut Client, table: &str) {
    let refs: Vec<String> = pg(
        c.query(
            "SELECT DISTINCT conrelid::regclass::text FROM pg_constraint
             WHERE contype = 'f' AND confrelid = $1::text::regclass AND conrelid <> confrelid",
            &[&table],
        ),
        "referencing tables",
    )
    .iter()
    .map(|r| r.get(0))
    .collect();
    if refs.is_empty() {
        pg(c.batch_execute(&format!("TRUNCATE {table}")), "truncate");
        return;
    }
    for r in &refs {
        assert_eq!(scalar_i64(c, &format!("SELECT count(*) FROM {r}")), 0, "{r} references {table} and is not empty");
    }
    // With the triggers off (replica), the 0.2.0 key table does not follow the queue by itself.
    let mut also = refs.clone();
    let keys: Option<String> =
        pg(c.query_one("SELECT to_regclass('rekor_submission_keys')::text", &[]), "key table").get(0);
    if let (Some(k), true) = (keys, table == "rekor_submission_queue") {
        also.push(k);
    }
    let mut tx = pg(c.transaction(), "begin");
    pg(
        tx.batch_execute(&format!(
            "SET LOCAL session_replication_role = replica; TRUNCATE {table}, {}",
            also.join(", ")
        )),
        "truncate with referencing tables",
    );
    pg(tx.commit(), "commit");
}

/// Generates envelopes FILL_BASE..FILL_BASE+n once, with their digests from rekor_dsse_info, into
/// bench_stage, so that the dequeue fills are plain copies. Returns n.
fn stage(c: &mut Client, n: i64) -> i64 {
    let from = FILL_BASE as i64;
    pg(
        c.execute(
            "INSERT INTO bench_stage (i, envelope, payload_type, payload_sha256, envelope_sha256, pae_sha256)
             SELECT i, e.t::jsonb, d.payload_type, d.payload_sha256, d.envelope_sha256, d.pae_sha256
             FROM generate_series($1::bigint, $1::bigint + $2::bigint - 1) AS i
             CROSS JOIN LATERAL bench_envelope(i) AS e(t)
             CROSS JOIN LATERAL rekor_dsse_info(e.t::jsonb) AS d",
            &[&from, &n],
        ),
        "stage",
    );
    pg(c.batch_execute("VACUUM (ANALYZE) bench_stage"), "vacuum stage");
    n
}

/// Logs `n` full-cycle entries (from `from`) through the queue, untimed, then ANALYZE rekor_entries.
fn warm_entries(c: &mut Client, d: &Data, from: u64, n: u64) {
    fill(c, Kind::Rekor, FULL_BASE + from, n as i64);
    let sub = pg(c.prepare(submit_sql(Kind::Rekor, true)), "prep");
    let w = "warm".to_string();
    loop {
        let rows = pg(c.query(dequeue_sql(Kind::Rekor), &[&w, &1000i32]), "dequeue");
        if rows.is_empty() {
            break;
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        let resp: Vec<&str> = rows
            .iter()
            .map(|r| {
                let sha: Vec<u8> = r.get(2);
                d.full_resp[d.full_by_sha[&<[u8; 32]>::try_from(sha.as_slice()).unwrap()]].as_str()
            })
            .collect();
        assert_eq!(pg(c.query(&sub, &[&ids, &w, &resp]), "warm mark_submitted").len(), ids.len());
    }
    pg(c.batch_execute("ANALYZE rekor_entries"), "analyze");
    truncate(c, Kind::Rekor);
}

fn truncate(c: &mut Client, kind: Kind) {
    reset(c, kind.table());
    pg(c.batch_execute("CHECKPOINT"), "checkpoint");
}

fn count_state(c: &mut Client, kind: Kind, state: &str) -> i64 {
    pg(c.query_one(&format!("SELECT count(*) FROM {} WHERE state = $1", kind.table()), &[&state]), "count").get(0)
}

// ---------------------------------------------------------------- the worker pool

struct Run {
    items: u64,
    calls: u64,
    secs: f64,
    drained: bool,
}

impl Run {
    fn per_s(&self) -> f64 {
        self.items as f64 / self.secs
    }
}

/// Runs `n` worker threads, one connection each, from a common start (after every connection is
/// open and `prep` has prepared its statements) until `secs` have passed or a call returns 0 items
/// (queue drained / pool used up). Wall time = first start to last finish.
fn run_workers<S, P, O>(dsn: &str, n: usize, secs: f64, prep: P, op: O) -> Run
where
    P: Fn(&mut Client, usize) -> S + Sync,
    O: Fn(&mut Client, &mut S, usize) -> usize + Sync,
{
    let barrier = Barrier::new(n);
    let drained = AtomicBool::new(false);
    let res: Vec<(u64, u64, Instant, Instant)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|k| {
                let (barrier, prep, op, drained) = (&barrier, &prep, &op, &drained);
                s.spawn(move || {
                    let mut c = connect(dsn);
                    let mut st = prep(&mut c, k);
                    barrier.wait();
                    let t0 = Instant::now();
                    let deadline = t0 + Duration::from_secs_f64(secs);
                    let (mut items, mut calls) = (0u64, 0u64);
                    while Instant::now() < deadline {
                        let got = op(&mut c, &mut st, k);
                        calls += 1;
                        if got == 0 {
                            drained.store(true, Ordering::Relaxed);
                            break;
                        }
                        items += got as u64;
                    }
                    (items, calls, t0, Instant::now())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("worker panicked")).collect()
    });
    let start = res.iter().map(|r| r.2).min().unwrap();
    let end = res.iter().map(|r| r.3).max().unwrap();
    Run {
        items: res.iter().map(|r| r.0).sum(),
        calls: res.iter().map(|r| r.1).sum(),
        secs: (end - start).as_secs_f64(),
        drained: drained.load(Ordering::Relaxed),
    }
}

struct Worker {
    name: String,
    deq: Statement,
    fin: Option<Statement>,
}

fn prep_worker(c: &mut Client, k: usize, kind: Kind, fin: Option<&str>) -> Worker {
    Worker {
        name: format!("w{k}"),
        deq: pg(c.prepare(dequeue_sql(kind)), "prepare dequeue"),
        fin: fin.map(|q| pg(c.prepare(q), "prepare ack/submit")),
    }
}

fn dequeue(c: &mut Client, w: &Worker, batch: i32) -> Vec<Row> {
    pg(c.query(&w.deq, &[&w.name, &batch]), "dequeue")
}

fn ack(c: &mut Client, w: &Worker, kind: Kind, rows: &[Row]) {
    let st = w.fin.as_ref().unwrap();
    if rows.len() == 1 {
        let id: i64 = rows[0].get(0);
        let n = match kind {
            Kind::Rekor => pg(c.query(st, &[&id, &w.name]), "ack").len() as u64,
            Kind::Plain => pg(c.execute(st, &[&id, &w.name]), "ack"),
        };
        assert_eq!(n, 1, "ack");
    } else {
        let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        let n = match kind {
            Kind::Rekor => pg(c.query(st, &[&ids, &w.name]), "ack batch").len() as u64,
            Kind::Plain => pg(c.execute(st, &[&ids, &w.name]), "ack batch"),
        };
        assert_eq!(n as usize, ids.len(), "ack batch");
    }
}

// ---------------------------------------------------------------- results

struct Res {
    test: &'static str,
    kind: Kind,
    clients: usize,
    run: Run,
}

struct Results {
    v: Mutex<Vec<Res>>,
}

impl Results {
    fn add(&self, test: &'static str, kind: Kind, clients: usize, run: Run) {
        eprintln!(
            "[queue] {test:<17} {:<5} c={clients}: {:>9.0} items/s ({} items, {} calls, {:.2} s{})   load {}",
            kind.name(),
            run.per_s(),
            run.items,
            run.calls,
            run.secs,
            if run.drained { ", drained" } else { "" },
            loadavg()
        );
        self.v.lock().unwrap().push(Res { test, kind, clients, run });
    }
    fn get(&self, test: &str, kind: Kind, clients: usize) -> Option<f64> {
        self.v
            .lock()
            .unwrap()
            .iter()
            .find(|r| r.test == test && r.kind == kind && r.clients == clients)
            .map(|r| r.run.per_s())
    }
}

/// Alternates which queue goes first, so slow drift on the machine hits both alike.
fn order(i: usize) -> [Kind; 2] {
    if i.is_multiple_of(2) {
        [Kind::Rekor, Kind::Plain]
    } else {
        [Kind::Plain, Kind::Rekor]
    }
}

// ---------------------------------------------------------------- main

struct Data {
    gen: EnvelopeGen,
    /// Client-side enqueue pool (envelope texts ENQ_BASE..), and the same number of small envelopes.
    enq: Vec<String>,
    enq_small: Vec<String>,
    /// Full-cycle envelopes FULL_BASE + k, their responses, and envelope_sha256 -> k.
    full_resp: Vec<String>,
    full_by_sha: HashMap<[u8; 32], usize>,
}

fn main() {
    let args = parse_args();
    let t_start = Instant::now();
    let mut admin = connect(&format!("{} dbname=postgres", args.dsn));
    let server_version: String = admin.query_one("SHOW server_version", &[]).unwrap().get(0);
    // Benchmark cluster settings: larger WAL budget so that no checkpoint is forced by WAL volume in
    // the middle of a figure (the driver checkpoints between phases instead). Reloadable.
    for q in [
        "ALTER SYSTEM SET max_wal_size = '8GB'",
        "ALTER SYSTEM SET checkpoint_timeout = '30min'",
        "SELECT pg_reload_conf()",
    ] {
        pg(admin.batch_execute(q), q);
    }
    pg(admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", args.db)), "drop db");
    pg(admin.batch_execute(&format!("CREATE DATABASE {}", args.db)), "create db");
    let dsn = format!("{} dbname={}", args.dsn, args.db);
    let mut c = connect(&dsn);
    pg(c.batch_execute(SETUP_SQL), "setup");
    let gen = EnvelopeGen::from_real_bundle();
    pg(c.batch_execute(&gen.sql_function()), "bench_envelope");
    match args.what_if.as_deref() {
        None => {}
        Some("toast") => {
            // Keep the envelope out of line, so that a state change copies an 18-byte TOAST pointer
            // instead of the 1.5 kB envelope (heap and WAL).
            for t in ["rekor_submission_queue", "bench_plain_queue"] {
                pg(
                    c.batch_execute(&format!(
                        "ALTER TABLE {t} ALTER COLUMN envelope SET STORAGE EXTERNAL; ALTER TABLE {t} SET (toast_tuple_target = 128)"
                    )),
                    "what-if toast",
                );
            }
            println!("WHAT-IF toast: envelope STORAGE EXTERNAL, toast_tuple_target = 128 on both queues (NOT the shipped schema)");
        }
        Some("dsse-rows1") => {
            // The planner's estimate for the set-returning rekor_dsse_info: 1 row per call, not 1000.
            pg(c.batch_execute("ALTER FUNCTION rekor_dsse_info(jsonb) ROWS 1"), "what-if dsse-rows1");
            println!("WHAT-IF dsse-rows1: ALTER FUNCTION rekor_dsse_info(jsonb) ROWS 1 (NOT the shipped extension)");
        }
        Some(other) => panic!("unknown --what-if {other}"),
    }
    let ext_version: String =
        c.query_one("SELECT extversion FROM pg_extension WHERE extname = 'rekor_meta'", &[]).unwrap().get(0);
    let settings: Vec<String> = pg(
        c.query(
            "SELECT name || '=' || setting || coalesce(unit, '') FROM pg_settings
             WHERE name IN ('shared_buffers', 'synchronous_commit', 'fsync', 'max_wal_size', 'wal_level', 'autovacuum',
                            'checkpoint_timeout', 'jit') ORDER BY name",
            &[],
        ),
        "settings",
    )
    .iter()
    .map(|r| r.get(0))
    .collect();
    let so = std::fs::metadata("/usr/lib/postgresql/15/lib/rekor_meta.so")
        .map(|m| format!("{} bytes", m.len()))
        .unwrap_or_else(|_| "?".into());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    println!(
        "rekor_meta queue benchmark: PostgreSQL {server_version}, rekor_meta {ext_version} (rekor_meta.so {so}), {}",
        if args.quick { "QUICK run" } else { "full run" }
    );
    println!("machine: {cpu}, {cores} CPUs; load average at start {}", loadavg());
    println!("server: {}", settings.join(" "));
    println!(
        "{} s per throughput figure, clients {:?}; pending rows for the latency test: {} and {}; vacuum hold {} s",
        args.secs, args.clients, args.pending_small, args.pending_big, args.vacuum_secs
    );
    let has = |s: &str| args.sections.iter().any(|x| x == s);

    // ------------------------------------------------------------ test data and sanity checks
    let t = Instant::now();
    check_generators(&mut c, &gen);
    let nclients = args.clients.len() as u64;
    // Pools sized for the fastest plausible rates, so that a figure ends by time, not by running dry
    // (if it does run dry the figure is still items / wall time, marked "drained").
    let enq_pool = if has("enqueue") { (args.secs * 250_000.0) as u64 } else { 0 };
    let enq = par_map(ENQ_BASE, ENQ_BASE + enq_pool, |i| gen.envelope(i));
    let enq_small = par_map(ENQ_BASE, ENQ_BASE + enq_pool, |i| gen.small_envelope(i));
    let (full_slice_b, full_slice_1) = ((args.secs * 20_000.0) as u64, (args.secs * 5_000.0) as u64);
    let prof_n: u64 = if has("profile") { 2_000 } else { 0 };
    let warm_n: u64 = if has("full") || has("profile") { WARM_ENTRIES } else { 0 };
    let slices_from = 2 + warm_n;
    let prof_from = slices_from + if has("full") { nclients * (full_slice_b + full_slice_1) } else { 0 };
    let n_full = prof_from + prof_n;
    let log = Ed25519Log::new(LOG_NAME);
    let envs: Vec<String> = par_map(FULL_BASE, FULL_BASE + n_full, |i| gen.envelope(i));
    let bodies: Vec<Vec<u8>> = par_map(FULL_BASE, FULL_BASE + n_full, |i| gen.body(i));
    let tree = Tree::new(par_map(0, n_full, |k| mk::leaf_hash(&bodies[k as usize])));
    let checkpoint = log.checkpoint(tree.size(), &tree.root());
    let full_resp = par_map(0, n_full, |k| rest_response(&log, &tree, &checkpoint, k, &bodies[k as usize]));
    drop(bodies);
    let full_by_sha: HashMap<[u8; 32], usize> =
        envs.iter().enumerate().map(|(k, e)| (EnvelopeGen::envelope_sha256(e), k)).collect();
    let data = Data { gen, enq, enq_small, full_resp, full_by_sha };
    eprintln!(
        "[queue] generated {} enqueue envelopes and {} log entries (tree size {}, one checkpoint) in {:.1} s",
        data.enq.len(),
        n_full,
        tree.size(),
        t.elapsed().as_secs_f64()
    );
    let log_id: Vec<u8> =
        pg(c.query_one("SELECT rekor_add_log($1, $2)", &[&log.public_key_b64(), &LOG_NAME]), "add log").get(0);
    assert_eq!(log_id, log.log_id.to_vec(), "rekor_add_log returned another log_id");
    check_full_cycle(&mut c, &envs, &data);
    drop(envs);
    println!("checks: SQL and Rust envelope generators agree; both queues store the same digests; one full cycle");
    println!("        (rekor_mark_submitted with a verified response) works, a response for another envelope is");
    println!("        rejected, the stored entry re-verifies; every timed figure is followed by a row-count check.");

    let commit_start = commit_latency(&mut c);
    println!(
        "one commit (autocommit INSERT of one row, the WAL flush) takes p50 {:.0} µs, p99 {:.0} µs at the start",
        commit_start.p50, commit_start.p99
    );

    if warm_n > 0 {
        let t = Instant::now();
        warm_entries(&mut c, &data, 2, warm_n);
        eprintln!(
            "[queue] the log holds {} entries before any timed figure ({:.1} s)",
            warm_n + 1,
            t.elapsed().as_secs_f64()
        );
    }
    if has("dequeue") {
        let t = Instant::now();
        let n = stage(&mut c, (args.secs * DEQ_FILL_PER_SEC) as i64);
        eprintln!("[queue] staged {n} envelopes for the dequeue fills in {:.1} s", t.elapsed().as_secs_f64());
    }

    let results = Results { v: Mutex::new(vec![]) };
    for (ci, &cl) in args.clients.iter().enumerate() {
        if has("enqueue") {
            enqueue_tests(&dsn, &mut c, &data, cl, ci, args.secs, &results);
        }
        if has("dequeue") {
            dequeue_tests(&dsn, &mut c, cl, ci, args.secs, &results);
        }
        if has("full") {
            let base = slices_from + ci as u64 * (full_slice_b + full_slice_1);
            full_cycle_tests(&dsn, &mut c, &data, cl, ci, args.secs, base, full_slice_b, full_slice_1, &results);
        }
    }
    let latency = if has("latency") { Some(latency_tests(&dsn, &mut c, &data, &args)) } else { None };
    let vacuum =
        if has("vacuum") && args.vacuum_secs > 0 { Some(vacuum_test(&dsn, &mut c, &data, &args)) } else { None };
    let prof = if has("profile") { profile(&mut c, &data, prof_from, prof_n as usize) } else { vec![] };
    let commit_end = commit_latency(&mut c);

    drop(c);
    if !args.keep {
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", args.db)).ok();
    }
    report(&args, &results, latency.as_ref(), vacuum.as_ref());
    if !prof.is_empty() {
        println!();
        println!("Where the time goes: client wall time of the statement alone, one backend, prepared statements,");
        println!("best of 3, no contention (informational). Dequeue and ack: one committed transaction per call, the");
        println!(
            "statement timed without BEGIN/COMMIT (one round trip per call is in it). Enqueue and mark submitted:"
        );
        println!("inside a rolled-back transaction (no commit). \"of which\" lines time that piece alone, same items:");
        for (group, lines) in &prof {
            println!("  {group}");
            for (what, us) in lines {
                println!("    {what:<64} {us:>9.2}");
                println!("QUEUE_PROFILE group={:?} what={what:?} us={us:.3}", group);
            }
        }
    }
    println!();
    println!(
        "one commit takes p50 {:.0} µs, p99 {:.0} µs at the start and p50 {:.0} µs, p99 {:.0} µs at the end of the run:",
        commit_start.p50, commit_start.p99, commit_end.p50, commit_end.p99
    );
    println!("single-item operations are one transaction each, so their throughput is bounded by it.");
    println!("load average at end {} (2 CPUs shared with the driver and anything else running; see README)", loadavg());
    println!("total time {:.0} s", t_start.elapsed().as_secs_f64());
}

/// The SQL twin of the envelope generator gives the same bytes; rekor_dsse_info and the plain
/// queue's SQL digests agree with the Rust core.
fn check_generators(c: &mut Client, gen: &EnvelopeGen) {
    for i in [0u64, 1, 12345, FULL_BASE + 7] {
        let sql: String = pg(c.query_one("SELECT bench_envelope($1)", &[&(i as i64)]), "bench_envelope").get(0);
        assert_eq!(sql, gen.envelope(i), "bench_envelope({i}) differs from the Rust generator");
        let v: serde_json::Value = serde_json::from_str(&sql).unwrap();
        let env = rekor_meta_core::dsse::parse_envelope(&v).unwrap();
        let row = pg(c.query_one("SELECT * FROM rekor_dsse_info($1::text::jsonb)", &[&sql]), "rekor_dsse_info");
        let (pt, ps, es, aes): (String, Vec<u8>, Vec<u8>, Vec<u8>) = (row.get(0), row.get(1), row.get(2), row.get(3));
        assert_eq!(pt, rekor_meta_bench::queuelog::PAYLOAD_TYPE);
        assert_eq!(ps, env.payload_sha256().to_vec());
        assert_eq!(es, EnvelopeGen::envelope_sha256(&sql).to_vec());
        assert_eq!(aes, env.pae_sha256().to_vec());
    }
    // Both queues fill the same columns with the same values.
    let envs: Vec<String> = (0..3).map(|i| gen.envelope(ENQ_BASE - 10 + i)).collect();
    pg(c.query(enqueue_sql(Kind::Rekor, true).as_str(), &[&envs]), "rekor enqueue");
    pg(c.query(enqueue_sql(Kind::Plain, true).as_str(), &[&envs]), "plain enqueue");
    pg(c.query(enqueue_sql(Kind::Plain, false).as_str(), &[&envs[0]]), "plain enqueue 1");
    let same = scalar_i64(
        c,
        "SELECT count(*) FROM rekor_submission_queue r JOIN bench_plain_queue p
           ON p.envelope = r.envelope AND p.payload_type = r.payload_type AND p.payload_sha256 = r.payload_sha256
          AND p.envelope_sha256 = r.envelope_sha256 AND p.pae_sha256 = r.pae_sha256",
    );
    assert_eq!(same, 4, "the plain queue's digests differ from rekor_dsse_info's");
    truncate(c, Kind::Rekor);
    truncate(c, Kind::Plain);
}

/// One full cycle before any timing: enqueue, dequeue, a response for another envelope is rejected
/// (check_violation, nothing stored), the right one is accepted and re-verifies, idempotent again.
fn check_full_cycle(c: &mut Client, envs: &[String], d: &Data) {
    let id: i64 = pg(c.query_one("SELECT rekor_enqueue($1::text::jsonb)", &[&envs[0]]), "enqueue").get(0);
    let row = pg(c.query_one("SELECT queue_id FROM rekor_dequeue('check', 1)", &[]), "dequeue");
    assert_eq!(row.get::<_, i64>(0), id);
    let wrong = c.query_one("SELECT rekor_mark_submitted($1, 'check', $2::text::jsonb)", &[&id, &d.full_resp[1]]);
    match wrong {
        Err(e) if e.as_db_error().map(|d| d.code().code()) == Some("23514") => {}
        other => panic!("a response for another envelope must be rejected with 23514, got {other:?}"),
    }
    let t = Instant::now();
    let entry: i64 = pg(
        c.query_one("SELECT rekor_mark_submitted($1, 'check', $2::text::jsonb)", &[&id, &d.full_resp[0]]),
        "mark_submitted",
    )
    .get(0);
    let first_ms = t.elapsed().as_secs_f64() * 1e3;
    let again: i64 =
        pg(c.query_one("SELECT rekor_mark_submitted($1, 'check', $2::text::jsonb)", &[&id, &d.full_resp[0]]), "again")
            .get(0);
    assert_eq!(entry, again);
    let ok: bool = pg(c.query_one("SELECT rekor_verify_inclusion($1)", &[&entry]), "verify").get(0);
    assert!(ok, "the stored entry does not re-verify");
    let st: String =
        pg(c.query_one("SELECT state FROM rekor_submission_queue WHERE queue_id = $1", &[&id]), "state").get(0);
    assert_eq!(st, "submitted");
    assert_eq!(scalar_i64(c, "SELECT count(*) FROM rekor_entries"), 1, "exactly one entry stored");
    eprintln!("[queue] full-cycle check passed (first rekor_mark_submitted in this backend: {first_ms:.2} ms)");
    truncate(c, Kind::Rekor);
}

fn enqueue_tests(dsn: &str, c: &mut Client, d: &Data, cl: usize, ci: usize, secs: f64, res: &Results) {
    for (test, batch, pool) in
        [("enqueue 1", 1usize, &d.enq), ("enqueue 100", 100, &d.enq), ("enqueue 100 small", 100, &d.enq_small)]
    {
        for kind in order(ci) {
            truncate(c, kind);
            let cursor = AtomicU64::new(0);
            let sql = enqueue_sql(kind, batch > 1);
            let run = run_workers(
                dsn,
                cl,
                secs,
                |c, _| pg(c.prepare(&sql), "prepare enqueue"),
                |c, st, _| {
                    let from = cursor.fetch_add(batch as u64, Ordering::Relaxed) as usize;
                    if from + batch > pool.len() {
                        return 0;
                    }
                    let n = if batch == 1 {
                        pg(c.query(st, &[&pool[from]]), "enqueue").len()
                    } else {
                        let v: Vec<&str> = pool[from..from + batch].iter().map(|s| s.as_str()).collect();
                        pg(c.query(st, &[&v]), "enqueue batch").len()
                    };
                    assert_eq!(n, batch);
                    n
                },
            );
            let rows = scalar_i64(c, &format!("SELECT count(*) FROM {}", kind.table()));
            assert_eq!(rows as u64, run.items, "{test} {}: row count", kind.name());
            res.add(test, kind, cl, run);
        }
    }
    for kind in [Kind::Rekor, Kind::Plain] {
        truncate(c, kind);
    }
}

fn dequeue_tests(dsn: &str, c: &mut Client, cl: usize, ci: usize, secs: f64, res: &Results) {
    // One fill per queue serves the three figures (each takes the oldest pending rows).
    let n = (secs * DEQ_FILL_PER_SEC) as i64;
    for kind in [Kind::Rekor, Kind::Plain] {
        let s = fill(c, kind, FILL_BASE, n);
        eprintln!("[queue] filled {} with {n} pending rows in {s:.1} s", kind.table());
    }
    for (test, batch, do_ack) in [("deq+ack 1", 1i32, true), ("deq+ack 100", 100, true), ("dequeue 100", 100, false)] {
        for kind in order(ci) {
            let before = (count_state(c, kind, "dead"), count_state(c, kind, "leased"));
            let fin = if do_ack { Some(ack_sql(kind, batch > 1)) } else { None };
            let run = run_workers(
                dsn,
                cl,
                secs,
                |c, k| prep_worker(c, k, kind, fin),
                |c, w, _| {
                    let rows = dequeue(c, w, batch);
                    if !rows.is_empty() && do_ack {
                        ack(c, w, kind, &rows);
                    }
                    rows.len()
                },
            );
            let after = (count_state(c, kind, "dead"), count_state(c, kind, "leased"));
            let moved = if do_ack { after.0 - before.0 } else { after.1 - before.1 };
            assert_eq!(moved as u64, run.items, "{test} {}: state count", kind.name());
            res.add(test, kind, cl, run);
        }
    }
    for kind in [Kind::Rekor, Kind::Plain] {
        truncate(c, kind);
    }
}

#[allow(clippy::too_many_arguments)]
fn full_cycle_tests(
    dsn: &str,
    c: &mut Client,
    d: &Data,
    cl: usize,
    ci: usize,
    secs: f64,
    base: u64,
    slice_b: u64,
    slice_1: u64,
    res: &Results,
) {
    for (test, batch, from, n) in
        [("full cycle 100", 100i32, base, slice_b), ("full cycle 1", 1, base + slice_b, slice_1)]
    {
        for kind in order(ci) {
            fill(c, kind, FULL_BASE + from, n as i64);
            let entries_before = scalar_i64(c, "SELECT count(*) FROM rekor_entries");
            let sql = submit_sql(kind, batch > 1);
            let run = run_workers(
                dsn,
                cl,
                secs,
                |c, k| prep_worker(c, k, kind, Some(sql)),
                |c, w, _| {
                    let rows = dequeue(c, w, batch);
                    if rows.is_empty() {
                        return 0;
                    }
                    let resp: Vec<&str> = rows
                        .iter()
                        .map(|r| {
                            let sha: Vec<u8> = r.get(2);
                            let k = d.full_by_sha[&<[u8; 32]>::try_from(sha.as_slice()).unwrap()];
                            d.full_resp[k].as_str()
                        })
                        .collect();
                    let st = w.fin.as_ref().unwrap();
                    let done = if batch == 1 {
                        let id: i64 = rows[0].get(0);
                        match kind {
                            Kind::Rekor => {
                                let e: Option<i64> =
                                    pg(c.query_one(st, &[&id, &w.name, &resp[0]]), "mark_submitted").get(0);
                                e.is_some() as usize
                            }
                            Kind::Plain => pg(c.execute(st, &[&id, &w.name, &resp[0]]), "plain submit") as usize,
                        }
                    } else {
                        let ids: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
                        match kind {
                            Kind::Rekor => pg(c.query(st, &[&ids, &w.name, &resp]), "mark_submitted batch")
                                .iter()
                                .filter(|r| r.get::<_, Option<i64>>(0).is_some())
                                .count(),
                            Kind::Plain => pg(c.execute(st, &[&ids, &w.name, &resp]), "plain submit batch") as usize,
                        }
                    };
                    assert_eq!(done, rows.len(), "not every item was marked submitted");
                    done
                },
            );
            assert_eq!(count_state(c, kind, "submitted") as u64, run.items, "{test} {}: submitted count", kind.name());
            if kind == Kind::Rekor {
                let entries = scalar_i64(c, "SELECT count(*) FROM rekor_entries") - entries_before;
                assert_eq!(entries as u64, run.items, "{test}: one verified entry per item");
            }
            res.add(test, kind, cl, run);
        }
    }
    for kind in [Kind::Rekor, Kind::Plain] {
        truncate(c, kind);
    }
}

// ---------------------------------------------------------------- latency with many pending rows

struct Latency {
    /// (pending rows, statement latency, latency including the commit)
    small: (i64, Stats, Stats),
    big: (i64, Stats, Stats),
    plans: Vec<(i64, String)>,
}

/// EXPLAIN (ANALYZE, BUFFERS) of the pending half of rekor_dequeue (the query that walks the
/// partial index), inside a rolled-back transaction.
fn explain_pending(c: &mut Client, table: &str) -> String {
    explain_pending_from(c, table, None)
}

/// The same, with a lower bound `queue_id >= from` (what a low-water mark would give the scan).
fn explain_pending_from(c: &mut Client, table: &str, from: Option<i64>) -> String {
    let bound = from.map(|f| format!(" AND x.queue_id >= {f}")).unwrap_or_default();
    let mut tx = pg(c.transaction(), "begin");
    let rows = pg(
        tx.query(
            &format!(
                "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF, TIMING ON)
                 SELECT x.queue_id FROM {table} x WHERE x.state = 'pending' AND x.next_attempt_at <= now(){bound}
                 ORDER BY x.queue_id LIMIT 1 FOR UPDATE SKIP LOCKED"
            ),
            &[],
        ),
        "explain",
    );
    pg(tx.rollback(), "rollback");
    rows.iter().map(|r| r.get::<_, String>(0)).collect::<Vec<_>>().join("\n      ")
}

/// A dequeue timed two ways: the statement alone (inside BEGIN ... COMMIT, so the commit's WAL
/// flush is not in it: this is the dequeue's own work plus one round trip), and statement + COMMIT
/// (what a worker waits for in autocommit mode; dominated by the disk's fsync time).
fn timed_dequeue(c: &mut Client, w: &Worker, batch: i32) -> (Vec<Row>, f64, f64) {
    let t = Instant::now();
    let mut tx = pg(c.transaction(), "begin");
    let t1 = Instant::now();
    let rows = pg(tx.query(&w.deq, &[&w.name, &batch]), "dequeue");
    let stmt = t1.elapsed().as_secs_f64() * 1e6;
    pg(tx.commit(), "commit");
    (rows, stmt, t.elapsed().as_secs_f64() * 1e6)
}

/// One client: a timed rekor_dequeue(worker, 1), then (untimed) the ack and one new enqueue, so
/// the number of pending rows stays where the fill put it. Returns (statement, with commit) stats.
fn latency_phase(dsn: &str, d: &Data, next: &mut u64, warm: usize, n: usize) -> (Stats, Stats) {
    let mut c = connect(dsn);
    let w = prep_worker(&mut c, 0, Kind::Rekor, Some(ack_sql(Kind::Rekor, false)));
    let enq = pg(c.prepare(&enqueue_sql(Kind::Rekor, false)), "prepare");
    let (mut lat, mut tot) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for k in 0..warm + n {
        let (rows, stmt, total) = timed_dequeue(&mut c, &w, 1);
        assert_eq!(rows.len(), 1, "latency test ran dry");
        ack(&mut c, &w, Kind::Rekor, &rows);
        pg(c.query(&enq, &[&d.gen.envelope(*next)]), "enqueue");
        *next += 1;
        if k >= warm {
            lat.push(stmt);
            tot.push(total);
        }
    }
    (stats(&lat), stats(&tot))
}

fn latency_tests(dsn: &str, c: &mut Client, d: &Data, args: &Args) -> Latency {
    let mut next = LAT_BASE;
    let (warm, n) = (300, 3000);
    let mut out = Vec::new();
    let mut plans = Vec::new();
    for pending in [args.pending_small, args.pending_big] {
        let s = fill(c, Kind::Rekor, FILL_BASE, pending);
        eprintln!("[queue] latency: filled {pending} pending rows in {s:.1} s");
        let (st, tot) = latency_phase(dsn, d, &mut next, warm, n);
        eprintln!(
            "[queue] latency with {pending} pending: statement mean {:.0} µs p50 {:.0} p99 {:.0}; with commit p50 {:.0}   load {}",
            st.mean,
            st.p50,
            st.p99,
            tot.p50,
            loadavg()
        );
        plans.push((pending, explain_pending(c, Kind::Rekor.table())));
        out.push((pending, st, tot));
    }
    truncate(c, Kind::Rekor);
    Latency { small: out[0], big: out[1], plans }
}

// ---------------------------------------------------------------- vacuum held back

/// (seconds since the start, dequeue statement µs, statement + commit µs)
type Sample = (f64, f64, f64);

struct VacuumRes {
    rate: u64,
    normal_secs: f64,
    hold_secs: f64,
    /// Per queue: (seconds since start, dequeue statement µs, with commit µs).
    samples: Vec<(Kind, Vec<Sample>)>,
    monitor: Vec<String>,
    plans: Vec<(Kind, String, String)>,
}

/// Both queues at once, each with a producer (batches of 10, paced) and a consumer (dequeue 1 + ack,
/// paced at the same rate over a backlog): `normal` seconds as they are, then a REPEATABLE READ
/// transaction that has taken a snapshot and an xid stays open for `hold` seconds (the xmin horizon
/// stops there: no dead row version newer than it can be removed, by vacuum or by index-entry
/// killing), then `recover` seconds after it commits.
fn vacuum_test(dsn: &str, c: &mut Client, d: &Data, args: &Args) -> VacuumRes {
    let rate: u64 = 500; // items/s per queue
    let (normal, hold, recover) = (30.0, args.vacuum_secs as f64, 30.0);
    for kind in [Kind::Rekor, Kind::Plain] {
        fill(c, kind, FILL_BASE, 5_000);
    }
    let stop = AtomicBool::new(false);
    let t0 = Instant::now();
    let mut monitor = Vec::new();
    let mut plans = Vec::new();
    let samples = std::thread::scope(|s| {
        let mut consumers = Vec::new();
        for (qi, kind) in [Kind::Rekor, Kind::Plain].into_iter().enumerate() {
            let stop = &stop;
            // producer
            s.spawn(move || {
                let mut c = connect(dsn);
                let st = pg(c.prepare(&enqueue_sql(kind, true)), "prepare");
                let mut next = VAC_BASE + qi as u64 * 50_000_000;
                let per = 10u64;
                let period = Duration::from_secs_f64(per as f64 / rate as f64);
                let mut due = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    let envs: Vec<String> = (next..next + per).map(|i| d.gen.envelope(i)).collect();
                    next += per;
                    pg(c.query(&st, &[&envs]), "vacuum-test enqueue");
                    due += period;
                    if let Some(w) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(w);
                    }
                }
            });
            // consumer
            consumers.push((
                kind,
                s.spawn(move || {
                    let mut c = connect(dsn);
                    let w = prep_worker(&mut c, 0, kind, Some(ack_sql(kind, false)));
                    let period = Duration::from_secs_f64(1.0 / rate as f64);
                    let mut due = Instant::now();
                    let mut out = Vec::new();
                    while !stop.load(Ordering::Relaxed) {
                        let at = (Instant::now() - t0).as_secs_f64();
                        let (rows, stmt, total) = timed_dequeue(&mut c, &w, 1);
                        out.push((at, stmt, total));
                        if !rows.is_empty() {
                            ack(&mut c, &w, kind, &rows);
                        }
                        due += period;
                        if let Some(w) = due.checked_duration_since(Instant::now()) {
                            std::thread::sleep(w);
                        }
                    }
                    out
                }),
            ));
        }
        // The holder and the monitor run here.
        let mut mon = connect(dsn);
        let mut sample = |label: &str, mon: &mut Client| {
            let row = pg(
                mon.query_one(
                    "SELECT (SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'rekor_submission_queue'),
                            (SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'bench_plain_queue'),
                            (SELECT count(*) FROM rekor_submission_queue WHERE state = 'pending'),
                            (SELECT count(*) FROM bench_plain_queue WHERE state = 'pending'),
                            pg_size_pretty(pg_relation_size('rekor_queue_pending')),
                            pg_size_pretty(pg_relation_size('bench_plain_pending'))",
                    &[],
                ),
                "monitor",
            );
            let line = format!(
                "t={:>4.0}s {label:<10} dead tuples rekor {:>8} plain {:>8} | pending rekor {:>6} plain {:>6} | pending index rekor {} plain {}",
                t0.elapsed().as_secs_f64(),
                row.get::<_, i64>(0),
                row.get::<_, i64>(1),
                row.get::<_, i64>(2),
                row.get::<_, i64>(3),
                row.get::<_, String>(4),
                row.get::<_, String>(5)
            );
            eprintln!("[queue] vacuum test {line}   load {}", loadavg());
            monitor.push(line);
        };
        let sleep_until = |t: f64| {
            let target = t0 + Duration::from_secs_f64(t);
            if let Some(w) = target.checked_duration_since(Instant::now()) {
                std::thread::sleep(w);
            }
        };
        sleep_until(normal);
        sample("normal", &mut mon);
        let mut holder = connect(dsn);
        pg(
            holder.batch_execute(
                "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT txid_current(); SELECT count(*) FROM rekor_submission_queue;",
            ),
            "holder",
        );
        let mut t = normal;
        while t + 30.0 <= normal + hold + 1e-9 {
            t += 30.0;
            sleep_until(t);
            sample("held", &mut mon);
        }
        sleep_until(normal + hold);
        for kind in [Kind::Rekor, Kind::Plain] {
            plans.push((kind, "as rekor_dequeue scans".into(), explain_pending(&mut mon, kind.table())));
        }
        // What a low-water mark would save: the same scan starting at the oldest pending row.
        let low: Option<i64> =
            pg(mon.query_one("SELECT min(queue_id) FROM rekor_submission_queue WHERE state = 'pending'", &[]), "min")
                .get(0);
        plans.push((
            Kind::Rekor,
            format!("with a low-water mark, queue_id >= {}", low.unwrap_or(0)),
            explain_pending_from(&mut mon, Kind::Rekor.table(), low),
        ));
        pg(holder.batch_execute("COMMIT"), "holder commit");
        sleep_until(normal + hold + recover);
        sample("released", &mut mon);
        stop.store(true, Ordering::Relaxed);
        consumers.into_iter().map(|(k, h)| (k, h.join().unwrap())).collect::<Vec<_>>()
    });
    for kind in [Kind::Rekor, Kind::Plain] {
        truncate(c, kind);
    }
    VacuumRes { rate, normal_secs: normal, hold_secs: hold, samples, monitor, plans }
}

// ---------------------------------------------------------------- where the time goes

/// The pending/expired statement of rekor_dequeue, copied from sql/040_queue.sql (at the time of
/// writing) so it can be timed without PL/pgSQL and without the dead-letter UPDATE before it.
const REKOR_DEQUEUE_CTE: &str = "
    WITH pending AS (
        SELECT x.queue_id FROM rekor_submission_queue x
        WHERE x.state = 'pending' AND x.next_attempt_at <= now()
        ORDER BY x.queue_id LIMIT $2::int FOR UPDATE SKIP LOCKED
    ), expired AS (
        SELECT x.queue_id FROM rekor_submission_queue x
        WHERE x.state = 'leased' AND x.lease_expires_at <= now() AND x.attempts < x.max_attempts
        ORDER BY x.lease_expires_at, x.queue_id LIMIT $2::int FOR UPDATE SKIP LOCKED
    ), chosen AS (
        SELECT c.queue_id FROM (SELECT queue_id FROM pending UNION ALL SELECT queue_id FROM expired) c
        ORDER BY c.queue_id LIMIT $2::int
    )
    UPDATE rekor_submission_queue q
    SET state = 'leased', lease_owner = $1, lease_expires_at = now() + interval '5 minutes', attempts = q.attempts + 1
    FROM chosen WHERE q.queue_id = chosen.queue_id
    RETURNING q.queue_id, q.envelope::text, q.envelope_sha256";

type Tx<'a> = postgres::Transaction<'a>;
type TxFn<'a> = Box<dyn FnMut(&mut Tx<'_>) -> (f64, usize) + 'a>;
type Variant<'a> = (String, TxFn<'a>);

/// Runs every variant `rounds` times (alternating), each inside its own transaction that is rolled
/// back (so each round sees the same table, and no commit or fsync is timed); µs per item, best.
fn best_in_rollback(c: &mut Client, rounds: usize, variants: &mut [Variant<'_>]) -> Vec<(String, f64)> {
    let mut best = vec![f64::INFINITY; variants.len()];
    for _ in 0..rounds {
        for (i, (_, f)) in variants.iter_mut().enumerate() {
            let mut tx = pg(c.transaction(), "begin");
            let (secs, items) = f(&mut tx);
            pg(tx.rollback(), "rollback");
            best[i] = best[i].min(secs * 1e6 / items.max(1) as f64);
        }
    }
    variants.iter().map(|v| v.0.clone()).zip(best).collect()
}

type CVariant<'a> = Box<dyn FnMut(&mut Client) -> (f64, usize) + 'a>;

/// Runs every variant `rounds` times (alternating); the variant commits its own work; µs per item, best.
fn best_of_rounds(c: &mut Client, rounds: usize, variants: &mut [(String, CVariant<'_>)]) -> Vec<(String, f64)> {
    let mut best = vec![f64::INFINITY; variants.len()];
    for _ in 0..rounds {
        for (i, (_, f)) in variants.iter_mut().enumerate() {
            let (secs, items) = f(c);
            best[i] = best[i].min(secs * 1e6 / items.max(1) as f64);
        }
    }
    variants.iter().map(|v| v.0.clone()).zip(best).collect()
}

fn timed<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let t = Instant::now();
    let r = f();
    (t.elapsed().as_secs_f64(), r)
}

/// Cost per item of each operation and of its pieces: one backend, prepared statements, no
/// contention, best of 3, only the statement timed (dequeue and ack committed per call, enqueue and
/// mark submitted inside rolled-back transactions). Informational: where the throughput goes.
fn profile(c: &mut Client, d: &Data, prof_from: u64, prof_n: usize) -> Vec<(&'static str, Vec<(String, f64)>)> {
    let mut out = Vec::new();
    let t0 = Instant::now();
    let p = "p".to_string();

    // -- dequeue and ack: one transaction per call, committed (a rolled-back or still-open
    // transaction would leave the entries of the rows it took in the partial index, unkillable, and
    // every later call would walk over them); only the statement is timed, not BEGIN or COMMIT.
    for kind in [Kind::Rekor, Kind::Plain] {
        fill(c, kind, FILL_BASE, 60_000);
    }
    let on_rekor = |q: &str| q.replace("bench_plain_queue", "rekor_submission_queue");
    let deq_plain = pg(c.prepare(dequeue_sql(Kind::Plain)), "prep");
    let deq_plain_r = pg(c.prepare(&on_rekor(dequeue_sql(Kind::Plain))), "prep");
    let deq_cte = pg(c.prepare(REKOR_DEQUEUE_CTE), "prep");
    let deq_rekor = pg(c.prepare(dequeue_sql(Kind::Rekor)), "prep");
    // Which of rekor_submission_queue's indexes cost what: copies of it (all indexes and CHECKs, no
    // foreign keys or triggers), one without the unique envelope index, one without the index of
    // leased rows, holding the same first 30,000 pending rows.
    let copies = [
        ("bench_copy_nouniq", "indisunique AND NOT indisprimary"),
        ("bench_copy_noleased", "pg_get_expr(indpred, indrelid) LIKE '%leased%'"),
    ];
    for (t, which) in copies {
        pg(
            c.batch_execute(&format!(
                "DROP TABLE IF EXISTS {t};
                 CREATE TABLE {t} (LIKE rekor_submission_queue INCLUDING ALL);
                 INSERT INTO {t} OVERRIDING SYSTEM VALUE SELECT * FROM rekor_submission_queue ORDER BY queue_id LIMIT 30000;"
            )),
            "copy",
        );
        // (0.2.0 has no unique envelope index on the queue: that copy is then the table as it is.)
        let idx: Option<String> = pg(
            c.query_opt(
                &format!(
                    "SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = '{t}'::regclass AND {which}"
                ),
                &[],
            ),
            "index of copy",
        )
        .map(|r| r.get(0));
        if let Some(idx) = idx {
            pg(c.batch_execute(&format!("DROP INDEX {idx}")), "drop index");
        }
        pg(c.batch_execute(&format!("VACUUM (ANALYZE) {t}")), "vacuum copy");
    }
    pg(c.batch_execute("CHECKPOINT"), "checkpoint");
    let on = |t: &str, q: &str| q.replace("bench_plain_queue", t);
    let deq_copy: Vec<Statement> =
        copies.iter().map(|(t, _)| pg(c.prepare(&on(t, dequeue_sql(Kind::Plain))), "prep")).collect();
    for (group, batch, calls) in
        [("dequeue, batch 100 (µs per item)", 100i32, 30usize), ("dequeue, batch 1 (µs per call)", 1, 300)]
    {
        let run = |st: Statement| -> CVariant<'_> {
            let p = p.clone();
            Box::new(move |c: &mut Client| {
                let (mut secs, mut n) = (0.0, 0);
                for _ in 0..calls {
                    let mut tx = pg(c.transaction(), "begin");
                    let (s, rows) = timed(|| pg(tx.query(&st, &[&p, &batch]), "dequeue"));
                    pg(tx.commit(), "commit");
                    assert_eq!(rows.len(), batch as usize, "profile fill too small");
                    secs += s;
                    n += rows.len();
                }
                (secs, n)
            })
        };
        let mut v: Vec<(String, CVariant)> = vec![
            ("plain UPDATE ... SKIP LOCKED, plain table (2 indexes)".into(), run(deq_plain.clone())),
            ("same statement on rekor_submission_queue (5 indexes)".into(), run(deq_plain_r.clone())),
            ("rekor_dequeue's CTE statement, inline".into(), run(deq_cte.clone())),
            ("rekor_dequeue() (PL/pgSQL: checks, dead-letter UPDATE, CTE)".into(), run(deq_rekor.clone())),
        ];
        if batch == 100 {
            v.push((
                "  plain statement, rekor's table without the unique envelope index".into(),
                run(deq_copy[0].clone()),
            ));
            v.push((
                "  plain statement, rekor's table without the index of leased rows".into(),
                run(deq_copy[1].clone()),
            ));
        }
        out.push((group, best_of_rounds(c, 3, &mut v)));
    }
    let ack_plain = pg(c.prepare(ack_sql(Kind::Plain, true)), "prep");
    // On rekor_submission_queue the planner would take `lease_expires_at > now()` to its partial
    // index of leased rows and scan every leased row per call; written unindexably it uses the
    // primary key, as rekor_mark_failed does.
    // (and `state = 'leased'` alone also matches that index's predicate: written as state || '').
    let unindexable = |q: String| {
        q.replace("lease_expires_at > now()", "lease_expires_at - now() > interval '0'")
            .replace("AND state = 'leased'", "AND state || '' = 'leased'")
    };
    let ack_plain_r = pg(c.prepare(&unindexable(on_rekor(ack_sql(Kind::Plain, true)))), "prep");
    let ack_copy: Vec<Statement> =
        copies.iter().map(|(t, _)| pg(c.prepare(&unindexable(on(t, ack_sql(Kind::Plain, true)))), "prep")).collect();
    let ack_rekor = pg(c.prepare(ack_sql(Kind::Rekor, true)), "prep");
    {
        let run = |deq: Statement, ack: Statement, rekor_fn: bool| -> CVariant<'_> {
            let p = p.clone();
            Box::new(move |c: &mut Client| {
                let ids: Vec<Vec<i64>> = (0..30)
                    .map(|_| pg(c.query(&deq, &[&p, &100i32]), "dequeue").iter().map(|r| r.get(0)).collect())
                    .collect();
                let (mut secs, mut n) = (0.0, 0);
                for b in &ids {
                    assert_eq!(b.len(), 100, "profile fill too small");
                    let mut tx = pg(c.transaction(), "begin");
                    let (s, k) = timed(|| {
                        if rekor_fn {
                            pg(tx.query(&ack, &[b, &p]), "ack").len()
                        } else {
                            pg(tx.execute(&ack, &[b, &p]), "ack") as usize
                        }
                    });
                    pg(tx.commit(), "commit");
                    assert_eq!(k, b.len());
                    secs += s;
                    n += k;
                }
                (secs, n)
            })
        };
        let mut v: Vec<(String, CVariant)> = vec![
            ("plain UPDATE ... = ANY(ids), plain table".into(), run(deq_plain.clone(), ack_plain.clone(), false)),
            (
                "same UPDATE on rekor_submission_queue (primary-key plan)".into(),
                run(deq_rekor.clone(), ack_plain_r.clone(), false),
            ),
            ("rekor_mark_failed(id, w, 'ack', false) per id".into(), run(deq_rekor.clone(), ack_rekor.clone(), true)),
            (
                "  same UPDATE, rekor's table without the unique envelope index".into(),
                run(deq_copy[0].clone(), ack_copy[0].clone(), false),
            ),
            (
                "  same UPDATE, rekor's table without the index of leased rows".into(),
                run(deq_copy[1].clone(), ack_copy[1].clone(), false),
            ),
        ];
        out.push(("ack, batches of 100 (µs per item)", best_of_rounds(c, 3, &mut v)));
    }

    // -- enqueue
    for kind in [Kind::Rekor, Kind::Plain] {
        truncate(c, kind);
    }
    let envs: Vec<String> = par_map(ENQ_BASE - 50_000, ENQ_BASE - 48_000, |i| d.gen.envelope(i));
    let chunks: Vec<Vec<&str>> = envs.chunks(100).map(|ch| ch.iter().map(|s| s.as_str()).collect()).collect();
    let all: Vec<&str> = envs.iter().map(|s| s.as_str()).collect();
    let enq_plain = pg(c.prepare(&enqueue_sql(Kind::Plain, true)), "prep");
    let enq_plain_r = pg(c.prepare(&on_rekor(&enqueue_sql(Kind::Plain, true))), "prep");
    let enq_rekor = pg(c.prepare(&enqueue_sql(Kind::Rekor, true)), "prep");
    let parse_only =
        pg(c.prepare("SELECT count(*) FROM unnest($1::text[]) AS u(t) WHERE u.t::jsonb IS NOT NULL"), "prep");
    let dsse_info = pg(
        c.prepare("SELECT count(*) FROM unnest($1::text[]) AS u(t), LATERAL rekor_dsse_info(u.t::jsonb) AS d"),
        "prep",
    );
    let plain_digests = pg(
        c.prepare(
            "SELECT count(*) FROM (SELECT sha256(b.p), sha256(convert_to(u.t, 'UTF8')),
                    sha256(convert_to(format('DSSEv1 %s %s %s ', octet_length(a.j->>'payloadType'), a.j->>'payloadType',
                                             length(b.p)), 'UTF8') || b.p)
             FROM unnest($1::text[]) AS u(t)
             CROSS JOIN LATERAL (SELECT u.t::jsonb AS j OFFSET 0) a
             CROSS JOIN LATERAL (SELECT decode(a.j->>'payload', 'base64') AS p OFFSET 0) b) s",
        ),
        "prep",
    );
    {
        let chunks = &chunks;
        let all = &all;
        let batched = |st: Statement| -> TxFn<'_> {
            Box::new(move |tx: &mut Tx<'_>| {
                timed(|| chunks.iter().map(|ch| pg(tx.query(&st, &[ch]), "enqueue").len()).sum())
            })
        };
        let whole = |st: Statement| -> TxFn<'_> {
            Box::new(move |tx: &mut Tx<'_>| {
                let (s, _) = timed(|| pg(tx.query_one(&st, &[all]), "pure"));
                (s, all.len())
            })
        };
        let mut v: Vec<Variant> = vec![
            ("plain INSERT ... SELECT, plain table".into(), batched(enq_plain.clone())),
            ("same INSERT into rekor_submission_queue".into(), batched(enq_plain_r.clone())),
            ("rekor_enqueue_batch()".into(), batched(enq_rekor.clone())),
            ("  of which: text -> jsonb input parse (both)".into(), whole(parse_only.clone())),
            ("  of which: the plain SQL digests (incl. parse)".into(), whole(plain_digests.clone())),
            ("  of which: rekor_dsse_info (incl. parse)".into(), whole(dsse_info.clone())),
        ];
        out.push(("enqueue, batches of 100 (µs per item)", best_in_rollback(c, 3, &mut v)));
    }

    // -- full cycle: mark submitted and its pieces
    for kind in [Kind::Rekor, Kind::Plain] {
        fill(c, kind, FULL_BASE + prof_from, prof_n as i64);
    }
    let mut leased: Vec<(Kind, Vec<i64>, Vec<usize>)> = Vec::new();
    for kind in [Kind::Rekor, Kind::Plain] {
        let st = pg(c.prepare(dequeue_sql(kind)), "prep");
        let (mut ids, mut ks) = (Vec::new(), Vec::new());
        loop {
            let rows = pg(c.query(&st, &[&p, &1000i32]), "dequeue");
            if rows.is_empty() {
                break;
            }
            for r in rows {
                let sha: Vec<u8> = r.get(2);
                ids.push(r.get::<_, i64>(0));
                ks.push(d.full_by_sha[&<[u8; 32]>::try_from(sha.as_slice()).unwrap()]);
            }
        }
        assert_eq!(ids.len(), prof_n);
        leased.push((kind, ids, ks));
    }
    let resp_of = |ks: &[usize]| -> Vec<&str> { ks.iter().map(|&k| d.full_resp[k].as_str()).collect() };
    let (r_ids, r_resp) = (leased[0].1.clone(), resp_of(&leased[0].2));
    let (p_ids, p_resp) = (leased[1].1.clone(), resp_of(&leased[1].2));
    let bodies: Vec<Vec<u8>> = leased[0].2.iter().map(|&k| d.gen.body(FULL_BASE + k as u64)).collect();
    let r_envs: Vec<String> = leased[0].2.iter().map(|&k| d.gen.envelope(FULL_BASE + k as u64)).collect();
    let sub_rekor = pg(c.prepare(submit_sql(Kind::Rekor, true)), "prep");
    let sub_plain = pg(c.prepare(submit_sql(Kind::Plain, true)), "prep");
    let ingest = pg(
        c.prepare("SELECT count(*) FROM unnest($1::text[]) AS u(r), LATERAL rekor_ingest_entry(u.r::jsonb) e"),
        "prep",
    );
    let parse_rest = pg(
        c.prepare("SELECT count(*) FROM unnest($1::text[]) AS u(r), LATERAL rekor_parse_rest_response(u.r::jsonb) e"),
        "prep",
    );
    let evidence = pg(
        c.prepare(
            "SELECT count(*) FROM unnest($1::text[]) AS u(r), LATERAL rekor_parse_rest_response(u.r::jsonb) e,
                    rekor_logs l,
                    LATERAL rekor_entry_evidence_check(e.body, e.entry_uuid, NULL, e.proof_log_index, e.tree_size,
                        e.root_hash, e.proof_hashes, e.checkpoint, e.signed_entry_timestamp, e.integrated_time,
                        e.log_id, e.log_index, l.public_key, l.signer_name, l.origin, l.origin_is_prefix) AS v
             WHERE l.log_id = e.log_id AND v.\"check\" IS NULL",
        ),
        "prep",
    );
    // The same entries parsed beforehand (untimed), to time the INSERT alone: into rekor_entries
    // (storage + the verifying trigger) and into a copy of it without triggers or foreign keys
    // (storage alone: heap, TOAST, the btree indexes and the GIN index).
    pg(
        c.execute(
            "CREATE TABLE bench_parsed AS
             SELECT e.*, rekor_leaf_hash(e.body) AS leaf_hash, i.kind, i.api_version, i.digest_keys,
                    (SELECT max(checkpoint_id) FROM rekor_checkpoints) AS checkpoint_id
             FROM unnest($1::text[]) AS u(r), LATERAL rekor_parse_rest_response(u.r::jsonb) e, LATERAL rekor_body_info(e.body) i",
            &[&r_resp],
        ),
        "bench_parsed",
    );
    pg(
        c.batch_execute("CREATE TABLE bench_entries_copy (LIKE rekor_entries INCLUDING ALL); ANALYZE bench_parsed"),
        "copy",
    );
    let cols = "log_id, entry_uuid, log_index, proof_log_index, tree_id, integrated_time, body, tree_size, root_hash,
                proof_hashes, checkpoint, signed_entry_timestamp";
    let vals =
        "log_id, entry_uuid, log_index, proof_log_index, tree_id, to_timestamp(integrated_time), body, tree_size,
                root_hash, proof_hashes, checkpoint, signed_entry_timestamp";
    let insert_parsed =
        pg(c.prepare(&format!("INSERT INTO rekor_entries ({cols}) SELECT {vals} FROM bench_parsed")), "prep");
    let insert_raw = pg(
        c.prepare(&format!(
            "INSERT INTO bench_entries_copy ({cols}, leaf_hash, kind, api_version, digest_keys, checkpoint_id)
             SELECT {vals}, leaf_hash, kind, api_version, digest_keys, checkpoint_id FROM bench_parsed"
        )),
        "prep",
    );
    let body_info = pg(
        c.prepare(
            "SELECT count(*) FROM unnest($1::bytea[]) AS u(b), LATERAL rekor_body_info(u.b) i WHERE i.error IS NULL",
        ),
        "prep",
    );
    let mismatch = pg(
        c.prepare("SELECT count(*) FROM unnest($1::bytea[], $2::text[]) AS u(b, e) WHERE rekor_entry_envelope_mismatch(u.b, u.e::jsonb) IS NULL"),
        "prep",
    );
    {
        let n = prof_n;
        let (r_ids, r_resp, p_ids, p_resp, bodies, r_envs, p) =
            (&r_ids, &r_resp, &p_ids, &p_resp, &bodies, &r_envs, &p);
        let mut v: Vec<Variant> = vec![
            (
                "plain: store the response unverified + UPDATE".into(),
                Box::new(move |tx: &mut Tx<'_>| {
                    timed(|| pg(tx.execute(&sub_plain, &[p_ids, p, p_resp]), "plain submit") as usize)
                }),
            ),
            (
                "rekor_mark_submitted() (one statement, all items)".into(),
                Box::new(move |tx: &mut Tx<'_>| {
                    let (s, rows) = timed(|| pg(tx.query(&sub_rekor, &[r_ids, p, r_resp]), "mark_submitted"));
                    assert_eq!(rows.len(), n);
                    (s, n)
                }),
            ),
            (
                "  of which: rekor_ingest_entry (parse, INSERT, trigger)".into(),
                Box::new(move |tx: &mut Tx<'_>| {
                    let (s, r) = timed(|| pg(tx.query_one(&ingest, &[r_resp]), "ingest"));
                    assert_eq!(r.get::<_, i64>(0) as usize, n);
                    (s, n)
                }),
            ),
            (
                "  of which: INSERT INTO rekor_entries, rows pre-parsed (storage + trigger)".into(),
                Box::new(move |tx: &mut Tx<'_>| {
                    let (s, k) = timed(|| pg(tx.execute(&insert_parsed, &[]), "insert parsed"));
                    assert_eq!(k as usize, n);
                    (s, n)
                }),
            ),
            (
                "  of which: the same rows into a trigger-less copy (storage alone)".into(),
                Box::new(move |tx: &mut Tx<'_>| {
                    let (s, k) = timed(|| pg(tx.execute(&insert_raw, &[]), "insert raw"));
                    assert_eq!(k as usize, n);
                    (s, n)
                }),
            ),
            (
                "  of which: text -> jsonb + rekor_parse_rest_response".into(),
                Box::new(move |tx: &mut Tx<'_>| (timed(|| pg(tx.query_one(&parse_rest, &[r_resp]), "parse")).0, n)),
            ),
            (
                "  of which: parse + rekor_entry_evidence_check (checks 1-4)".into(),
                Box::new(move |tx: &mut Tx<'_>| {
                    let (s, r) = timed(|| pg(tx.query_one(&evidence, &[r_resp]), "evidence"));
                    assert_eq!(r.get::<_, i64>(0) as usize, n, "evidence check failed");
                    (s, n)
                }),
            ),
            (
                "  of which: rekor_body_info (body JSON, digests)".into(),
                Box::new(move |tx: &mut Tx<'_>| {
                    let (s, r) = timed(|| pg(tx.query_one(&body_info, &[bodies]), "body_info"));
                    assert_eq!(r.get::<_, i64>(0) as usize, n);
                    (s, n)
                }),
            ),
            (
                "  of which: rekor_entry_envelope_mismatch (incl. envelope parse)".into(),
                Box::new(move |tx: &mut Tx<'_>| {
                    let (s, r) = timed(|| pg(tx.query_one(&mismatch, &[bodies, r_envs]), "mismatch"));
                    assert_eq!(r.get::<_, i64>(0) as usize, n, "mismatch reported");
                    (s, n)
                }),
            ),
        ];
        out.push(("mark submitted, all items in one statement (µs per item)", best_in_rollback(c, 3, &mut v)));
    }
    for kind in [Kind::Rekor, Kind::Plain] {
        truncate(c, kind);
    }
    pg(
        c.batch_execute("DROP TABLE bench_copy_nouniq, bench_copy_noleased, bench_parsed, bench_entries_copy"),
        "drop copies",
    );
    eprintln!("[queue] profile done in {:.1} s", t0.elapsed().as_secs_f64());
    out
}

/// One small write transaction per statement, autocommit: what one commit (WAL flush) costs here.
fn commit_latency(c: &mut Client) -> Stats {
    pg(c.batch_execute("CREATE TABLE IF NOT EXISTS bench_commit_probe (x int)"), "probe");
    let st = pg(c.prepare("INSERT INTO bench_commit_probe VALUES (1)"), "probe");
    let v: Vec<f64> = (0..300)
        .map(|_| {
            let t = Instant::now();
            pg(c.execute(&st, &[]), "probe");
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    pg(c.batch_execute("TRUNCATE bench_commit_probe"), "probe");
    stats(&v[50..])
}

// ---------------------------------------------------------------- report

fn report(args: &Args, res: &Results, lat: Option<&Latency>, vac: Option<&VacuumRes>) {
    println!();
    println!("Throughput, items/s (wall clock, all workers; rekor/plain = ratio):");
    println!("{:<18} {:>3} | {:>10} {:>10} {:>7}", "test", "c", "rekor", "plain", "ratio");
    let tests = [
        "enqueue 1",
        "enqueue 100",
        "enqueue 100 small",
        "deq+ack 1",
        "deq+ack 100",
        "dequeue 100",
        "full cycle 1",
        "full cycle 100",
    ];
    for test in tests {
        for &cl in &args.clients {
            if let (Some(r), Some(p)) = (res.get(test, Kind::Rekor, cl), res.get(test, Kind::Plain, cl)) {
                println!("{:<18} {:>3} | {:>10.0} {:>10.0} {:>6.2}x", test, cl, r, p, r / p);
                println!(
                    "QUEUE_BENCH test={} clients={cl} rekor_per_s={r:.0} plain_per_s={p:.0} ratio={:.3}",
                    test.replace(' ', "_"),
                    r / p
                );
            }
        }
    }
    println!();
    println!("Targets:");
    let mut all = true;
    let mut check = |ok: bool, line: String| {
        all &= ok;
        println!("  {} {line}", pass(ok));
    };
    for test in ["deq+ack 1", "deq+ack 100", "dequeue 100"] {
        for &cl in &args.clients {
            if let (Some(r), Some(p)) = (res.get(test, Kind::Rekor, cl), res.get(test, Kind::Plain, cl)) {
                check(r / p >= T_DEQ_RATIO, format!("{test:<12} c={cl}: rekor/plain {:.2}x >= {T_DEQ_RATIO}x", r / p));
            }
        }
    }
    if let Some(r) = res.get("deq+ack 1", Kind::Rekor, T_CLIENTS) {
        check(
            r >= T_DEQ1_ACK,
            format!("single-item dequeue+ack, 4 clients: {r:.0}/s >= {T_DEQ1_ACK:.0}/s (pgmq ~{PGMQ_DEQ1_ACK:.0}/s)"),
        );
    }
    if let Some(r) = res.get("deq+ack 100", Kind::Rekor, T_CLIENTS) {
        check(
            r >= T_DEQ100,
            format!("batch-100 dequeue+ack, 4 clients: {r:.0} items/s >= {T_DEQ100:.0} (pgmq ~{PGMQ_DEQ100:.0}/s)"),
        );
    }
    if let Some(r) = res.get("dequeue 100", Kind::Rekor, T_CLIENTS) {
        println!("  info batch-100 dequeue without ack, 4 clients: {r:.0} items/s");
    }
    if let Some(r) = res.get("enqueue 100", Kind::Rekor, T_CLIENTS) {
        check(
            r >= T_ENQ100,
            format!("batch-100 enqueue, 4 clients: {r:.0} items/s >= {T_ENQ100:.0} (pgmq ~{PGMQ_ENQ100:.0}/s)"),
        );
    }
    if let Some(r) = res.get("enqueue 100 small", Kind::Rekor, T_CLIENTS) {
        println!("  info batch-100 enqueue of ~330-byte envelopes (closer to a small-message benchmark), 4 clients: {r:.0} items/s");
    }
    if let Some(r) = res.get("full cycle 100", Kind::Rekor, T_CLIENTS) {
        check(
            r >= T_FULL,
            format!("full cycle (batch 100, verified mark_submitted), 4 clients: {r:.0} entries/s >= {T_FULL:.0}/s"),
        );
    }
    if let Some(l) = lat {
        let ratio = l.big.1.p50 / l.small.1.p50;
        check(
            ratio <= T_BIG_PENDING,
            format!(
                "dequeue p50 with {} pending {:.0} µs <= {T_BIG_PENDING}x p50 with {} pending {:.0} µs ({ratio:.2}x; mean {:.2}x, p99 {:.2}x)",
                l.big.0,
                l.big.1.p50,
                l.small.0,
                l.small.1.p50,
                l.big.1.mean / l.small.1.mean,
                l.big.1.p99 / l.small.1.p99
            ),
        );
    }
    let mut vac_lines = Vec::new();
    if let Some(v) = vac {
        for (kind, s) in &v.samples {
            let normal: Vec<f64> = s.iter().filter(|x| x.0 >= 5.0 && x.0 < v.normal_secs).map(|x| x.1).collect();
            let held: Vec<f64> =
                s.iter().filter(|x| x.0 >= v.normal_secs && x.0 < v.normal_secs + v.hold_secs).map(|x| x.1).collect();
            let (sn, sh) = (stats(&normal), stats(&held));
            let held_tot: Vec<f64> =
                s.iter().filter(|x| x.0 >= v.normal_secs && x.0 < v.normal_secs + v.hold_secs).map(|x| x.2).collect();
            let normal_tot: Vec<f64> = s.iter().filter(|x| x.0 >= 5.0 && x.0 < v.normal_secs).map(|x| x.2).collect();
            let (tn, th) = (stats(&normal_tot), stats(&held_tot));
            let line = format!(
                "{}: dequeue p99 under the held-back vacuum {:.0} µs vs normal {:.0} µs = {:.1}x (p50 {:.0} vs {:.0} µs; \
                 with commit p99 {:.0} vs {:.0} µs = {:.1}x)",
                kind.name(),
                sh.p99,
                sn.p99,
                sh.p99 / sn.p99,
                sh.p50,
                sn.p50,
                th.p99,
                tn.p99,
                th.p99 / tn.p99
            );
            if *kind == Kind::Rekor {
                check(sh.p99 / sn.p99 <= T_VACUUM, format!("{line} <= {T_VACUUM}x"));
            } else {
                println!("  info {line}");
            }
            vac_lines.push((*kind, sn, sh));
        }
    }
    println!("  overall: {}", if all { "all targets met" } else { "SOME TARGETS MISSED" });

    if let Some(l) = lat {
        println!();
        println!("Dequeue latency, one client, µs: the rekor_dequeue(w, 1) statement (one round trip over the unix");
        println!(
            "socket, inside BEGIN/COMMIT so the commit's WAL flush is not in it), and statement + COMMIT. The ack"
        );
        println!("and one new enqueue follow each call untimed, so the pending count stays put:");
        println!(
            "{:>9} | {:>6} {:>8} {:>8} {:>8} {:>8} {:>8} | {:>8} {:>8}",
            "pending", "n", "mean", "p50", "p90", "p99", "max", "+commit", "p99"
        );
        for (p, s, t) in [l.small, l.big] {
            println!(
                "{:>9} | {:>6} {:>8.0} {:>8.0} {:>8.0} {:>8.0} {:>8.0} | {:>8.0} {:>8.0}",
                p, s.n, s.mean, s.p50, s.p90, s.p99, s.max, t.p50, t.p99
            );
            println!(
                "QUEUE_BENCH test=latency pending={p} mean_us={:.1} p50_us={:.1} p99_us={:.1} with_commit_p50_us={:.1} with_commit_p99_us={:.1}",
                s.mean, s.p50, s.p99, t.p50, t.p99
            );
        }
        for (p, plan) in &l.plans {
            println!("  EXPLAIN of the pending-row scan with {p} pending:\n      {plan}");
        }
    }
    if let Some(v) = vac {
        println!();
        println!(
            "Dequeue under a held-back vacuum: {} items/s per queue (producer batches of 10, consumer dequeue 1 + ack),",
            v.rate
        );
        println!(
            "both queues at once; {:.0} s normal, then a transaction holds the xmin horizon for {:.0} s, then 30 s after it ends.",
            v.normal_secs, v.hold_secs
        );
        println!("Dequeue statement latency per 30 s window, µs (p50 / p99 / max; p99 with commit; calls):");
        for (kind, s) in &v.samples {
            println!("  {}:", kind.name());
            let end = s.last().map(|x| x.0).unwrap_or(0.0);
            let mut w0 = 0.0;
            while w0 < end {
                let win: Vec<f64> = s.iter().filter(|x| x.0 >= w0 && x.0 < w0 + 30.0).map(|x| x.1).collect();
                let win_tot: Vec<f64> = s.iter().filter(|x| x.0 >= w0 && x.0 < w0 + 30.0).map(|x| x.2).collect();
                if !win.is_empty() {
                    let st = stats(&win);
                    let tt = stats(&win_tot);
                    let phase = if w0 < v.normal_secs {
                        "normal"
                    } else if w0 < v.normal_secs + v.hold_secs {
                        "held"
                    } else {
                        "released"
                    };
                    println!(
                        "    {:>4.0}-{:<4.0}s {:<8} {:>8.0} {:>9.0} {:>9.0} | {:>9.0} | {:>7}",
                        w0,
                        w0 + 30.0,
                        phase,
                        st.p50,
                        st.p99,
                        st.max,
                        tt.p99,
                        st.n
                    );
                }
                w0 += 30.0;
            }
        }
        for (kind, sn, sh) in &vac_lines {
            println!(
                "QUEUE_BENCH test=vacuum_hold kind={} normal_p50_us={:.0} normal_p99_us={:.0} held_p50_us={:.0} held_p99_us={:.0} ratio_p99={:.2}",
                kind.name(),
                sn.p50,
                sn.p99,
                sh.p50,
                sh.p99,
                sh.p99 / sn.p99
            );
        }
        println!("  monitor:");
        for m in &v.monitor {
            println!("    {m}");
        }
        for (kind, how, plan) in &v.plans {
            println!(
                "  EXPLAIN of the pending-row scan, {} queue, {how}, at the end of the hold:\n      {plan}",
                kind.name()
            );
        }
    }
}
