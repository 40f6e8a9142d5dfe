//! A queue worker as a client would write one: loop rekor_dequeue(worker, batch, lease), then
//! rekor_mark_submitted(queue_id, worker, response) for each item; on a lost connection reconnect
//! and retry the item in hand (mark_submitted is idempotent; a lease that expired meanwhile answers
//! 55000 and the item comes back to someone later). Every statement is one autocommit round trip
//! sent with `query_typed` (unnamed statements), so the same worker runs through PgBouncer in
//! transaction pooling mode.
//!
//! Each worker keeps a log: every lease it was handed (with the dequeue's now() as its start and
//! the lease expiry) and every submission acknowledged to it; `check_logs` proves from those logs
//! that no item was ever held by two live leases and that every item was submitted exactly once,
//! under a live lease of the submitting worker.
use super::TestLog;
use postgres::types::Type;
use postgres::{Client, NoTls};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const DEQUEUE: &str =
    "SELECT pg_backend_pid(), (extract(epoch FROM now()) * 1000000)::int8, d.queue_id, d.envelope_sha256,
        (extract(epoch FROM d.lease_expires_at) * 1000000)::int8, d.attempts, d.lease_owner, d.state
 FROM rekor_dequeue($1, $2, $3::interval) d";
const SUBMIT: &str = "SELECT pg_backend_pid(), (extract(epoch FROM now()) * 1000000)::int8,
        rekor_mark_submitted($1, $2, $3::jsonb)";
const UNFINISHED: &str = "SELECT EXISTS (SELECT 1 FROM rekor_submission_queue WHERE state IN ('pending', 'leased'))";

/// One lease handed to a worker: [start_us, expires_us) in microseconds since the epoch, start being
/// now() of the dequeue's transaction.
#[derive(Debug, Clone)]
pub struct Lease {
    pub queue_id: i64,
    pub worker: String,
    pub start_us: i64,
    pub expires_us: i64,
    pub attempts: i32,
    pub backend_pid: i32,
}

/// One acknowledged rekor_mark_submitted: at_us is now() of its transaction.
#[derive(Debug, Clone)]
pub struct Submit {
    pub queue_id: i64,
    pub worker: String,
    pub entry_id: i64,
    pub at_us: i64,
    pub backend_pid: i32,
    /// The call was a retry after a lost connection.
    pub retried: bool,
}

#[derive(Debug, Default)]
pub struct WorkerLog {
    pub name: String,
    pub leases: Vec<Lease>,
    pub submits: Vec<Submit>,
    /// Items whose mark_submitted answered 55000 (the lease had expired or moved on).
    pub stale: Vec<i64>,
    /// Statements that failed because the connection was lost (then reconnected).
    pub lost_connections: u32,
    pub timed_out: bool,
    /// Backend pids that served this worker's statements (several through a transaction pooler).
    pub backend_pids: BTreeSet<i32>,
}

#[derive(Debug, Clone)]
pub struct WorkerOpts {
    /// A full connection string, dbname included.
    pub dsn: String,
    pub name: String,
    pub batch: i32,
    pub lease: String,
    pub deadline: Instant,
}

/// A lost connection (or a server that is shutting down or restarting) rather than an answer.
pub fn is_connection_error(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    match e.code() {
        Some(code) => {
            let c = code.code();
            c.starts_with("08") || c == "57P01" || c == "57P02" || c == "57P03"
        }
        None => true,
    }
}

/// Connects, retrying (the server may be restarting) until `deadline`.
pub fn connect_retry(dsn: &str, deadline: Instant) -> Option<Client> {
    loop {
        match Client::connect(dsn, NoTls) {
            Ok(c) => return Some(c),
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => {
                eprintln!("connect {dsn}: giving up: {e}");
                return None;
            }
        }
    }
}

/// Runs one worker until no item is pending or leased (or the deadline passes).
pub fn run_worker(opts: &WorkerOpts, log: &TestLog) -> WorkerLog {
    let mut out = WorkerLog { name: opts.name.clone(), ..Default::default() };
    let Some(mut c) = connect_retry(&opts.dsn, opts.deadline) else {
        out.timed_out = true;
        return out;
    };
    'outer: loop {
        if Instant::now() > opts.deadline {
            out.timed_out = true;
            break;
        }
        let rows = match c
            .query_typed(DEQUEUE, &[(&opts.name, Type::TEXT), (&opts.batch, Type::INT4), (&opts.lease, Type::TEXT)])
        {
            Ok(r) => r,
            Err(e) if is_connection_error(&e) => {
                out.lost_connections += 1;
                match connect_retry(&opts.dsn, opts.deadline) {
                    Some(n) => c = n,
                    None => {
                        out.timed_out = true;
                        break;
                    }
                }
                continue;
            }
            Err(e) => panic!("{}: rekor_dequeue: {e:?}", opts.name),
        };
        if rows.is_empty() {
            match c.query_typed(UNFINISHED, &[]) {
                Ok(r) => {
                    if !r[0].get::<_, bool>(0) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(25));
                }
                Err(e) if is_connection_error(&e) => {
                    out.lost_connections += 1;
                    match connect_retry(&opts.dsn, opts.deadline) {
                        Some(n) => c = n,
                        None => {
                            out.timed_out = true;
                            break;
                        }
                    }
                }
                Err(e) => panic!("{}: {e:?}", opts.name),
            }
            continue;
        }
        let mut batch = Vec::with_capacity(rows.len());
        for r in &rows {
            let owner: String = r.get(6);
            let state: String = r.get(7);
            assert_eq!((owner.as_str(), state.as_str()), (opts.name.as_str(), "leased"));
            let sha: Vec<u8> = r.get(3);
            let lease = Lease {
                queue_id: r.get(2),
                worker: opts.name.clone(),
                start_us: r.get(1),
                expires_us: r.get(4),
                attempts: r.get(5),
                backend_pid: r.get(0),
            };
            out.backend_pids.insert(lease.backend_pid);
            let index =
                log.index_of(&sha).unwrap_or_else(|| panic!("item {} is no envelope of the test log", lease.queue_id));
            batch.push((lease.queue_id, index));
            out.leases.push(lease);
        }
        for (queue_id, index) in batch {
            let response = log.response_json(index);
            let mut retried = false;
            loop {
                match c
                    .query_typed(SUBMIT, &[(&queue_id, Type::INT8), (&opts.name, Type::TEXT), (&response, Type::TEXT)])
                {
                    Ok(r) => {
                        let s = Submit {
                            queue_id,
                            worker: opts.name.clone(),
                            backend_pid: r[0].get(0),
                            at_us: r[0].get(1),
                            entry_id: r[0].get(2),
                            retried,
                        };
                        out.backend_pids.insert(s.backend_pid);
                        out.submits.push(s);
                        break;
                    }
                    Err(e) if e.code().map(|c| c.code()) == Some("55000") => {
                        out.stale.push(queue_id);
                        break;
                    }
                    Err(e) if is_connection_error(&e) => {
                        out.lost_connections += 1;
                        retried = true;
                        match connect_retry(&opts.dsn, opts.deadline) {
                            Some(n) => c = n,
                            None => {
                                out.timed_out = true;
                                break 'outer;
                            }
                        }
                    }
                    Err(e) => panic!("{}: rekor_mark_submitted({queue_id}) for entry {index}: {e:?}", opts.name),
                }
            }
        }
    }
    out
}

/// Runs `workers` workers ("<prefix>-<k>") on threads, each on its own connection, until the
/// queue is drained; returns their logs and the wall time.
pub fn drain(
    dsn: &str,
    log: &TestLog,
    prefix: &str,
    workers: usize,
    batch: i32,
    lease: &str,
    timeout: Duration,
) -> (Vec<WorkerLog>, Duration) {
    let deadline = Instant::now() + timeout;
    let started = Instant::now();
    let logs = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|k| {
                let opts = WorkerOpts {
                    dsn: dsn.to_string(),
                    name: format!("{prefix}-{k}"),
                    batch,
                    lease: lease.to_string(),
                    deadline,
                };
                s.spawn(move || run_worker(&opts, log))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("worker thread panicked")).collect::<Vec<_>>()
    });
    (logs, started.elapsed())
}

/// What `check_logs` counted.
#[derive(Debug, Default)]
pub struct LogSummary {
    pub items: usize,
    pub leases: usize,
    /// Items leased more than once (their earlier lease expired first).
    pub released_by_expiry: usize,
    pub submits: usize,
}

/// Proves from the workers' logs: (1) no two leases of one item overlap in time unless the earlier
/// one had expired when the later one began; (2) every item in `expected_items` has exactly one
/// acknowledged submission made by a worker holding a live lease on it at that moment (a retry
/// after a lost connection may also be answered, idempotently, with that same entry); (3) no
/// worker timed out. Panics naming the first violations.
pub fn check_logs(logs: &[WorkerLog], expected_items: &BTreeSet<i64>) -> LogSummary {
    let mut problems = Vec::new();
    for l in logs {
        if l.timed_out {
            problems.push(format!("worker {} timed out", l.name));
        }
    }
    let mut leases: BTreeMap<i64, Vec<&Lease>> = BTreeMap::new();
    for l in logs {
        for x in &l.leases {
            leases.entry(x.queue_id).or_default().push(x);
        }
    }
    let mut summary = LogSummary { items: leases.len(), ..Default::default() };
    for (id, list) in leases.iter_mut() {
        list.sort_by_key(|x| (x.start_us, x.expires_us));
        summary.leases += list.len();
        if list.len() > 1 {
            summary.released_by_expiry += 1;
        }
        for w in list.windows(2) {
            let (a, b) = (w[0], w[1]);
            if b.start_us < a.expires_us {
                problems.push(format!(
                    "item {id}: lease of {} from {} overlaps the live lease of {} [{}, {})",
                    b.worker, b.start_us, a.worker, a.start_us, a.expires_us
                ));
            }
            if b.attempts <= a.attempts {
                problems.push(format!("item {id}: attempts did not grow ({} then {})", a.attempts, b.attempts));
            }
        }
    }
    let mut submits: BTreeMap<i64, Vec<&Submit>> = BTreeMap::new();
    for l in logs {
        for s in &l.submits {
            submits.entry(s.queue_id).or_default().push(s);
        }
    }
    let held = |s: &Submit| {
        leases.get(&s.queue_id).is_some_and(|ls| {
            ls.iter().any(|x| x.worker == s.worker && x.start_us <= s.at_us && s.at_us < x.expires_us)
        })
    };
    for id in expected_items {
        let Some(list) = submits.get(id) else {
            problems.push(format!("item {id}: never submitted"));
            continue;
        };
        // The submission: made under a live lease of the submitting worker. Exactly one.
        let primary: Vec<&&Submit> = list.iter().filter(|s| held(s)).collect();
        if primary.is_empty() && list.iter().all(|s| s.retried && s.entry_id == list[0].entry_id) {
            // The submission committed but its answer was lost with the connection; the retry,
            // after the lease had expired, was answered idempotently. check_drained proves from
            // the stored submitted_at that the lost one ran under that worker's live lease.
            continue;
        }
        if primary.len() != 1 {
            problems.push(format!(
                "item {id}: {} submissions under a live lease (of {}): {:?}",
                primary.len(),
                list.len(),
                list.iter().map(|s| (&s.worker, s.entry_id, s.at_us)).collect::<Vec<_>>()
            ));
            continue;
        }
        // Anything else can only be a retry after a lost connection whose lease expired meanwhile,
        // answered by mark_submitted's idempotence: the same entry, no second submission.
        for s in list.iter().filter(|s| !held(s)) {
            if !s.retried || s.entry_id != primary[0].entry_id {
                problems.push(format!(
                    "item {id}: {} submitted at {} outside any live lease of it (entry {}, retry: {})",
                    s.worker, s.at_us, s.entry_id, s.retried
                ));
            }
        }
    }
    for id in submits.keys() {
        if !expected_items.contains(id) {
            problems.push(format!("item {id}: submitted but not expected"));
        }
    }
    summary.submits = submits.values().map(|v| v.len()).sum();
    if !problems.is_empty() {
        let n = problems.len();
        problems.truncate(20);
        panic!("{n} problem(s) in the worker logs:\n{}", problems.join("\n"));
    }
    summary
}

/// Checks the database after a drain of the items `ids`: every one is `submitted`, linked to a
/// distinct entry, which is the test log's entry of that very envelope (log index = envelope
/// index), and the entry_id each worker was told is the one stored.
pub fn check_drained(c: &mut Client, log: &TestLog, ids: &BTreeSet<i64>, logs: &[WorkerLog]) {
    let id_list: Vec<i64> = ids.iter().copied().collect();
    let rows = c
        .query(
            "SELECT q.queue_id, q.state, q.entry_id, q.envelope_sha256, e.log_index, e.log_id, q.lease_owner IS NULL,
                    (extract(epoch FROM q.submitted_at) * 1000000)::int8
             FROM rekor_submission_queue q LEFT JOIN rekor_entries e USING (entry_id)
             WHERE q.queue_id = ANY($1)",
            &[&id_list],
        )
        .unwrap();
    assert_eq!(rows.len(), ids.len(), "items are missing from the queue");
    let told: BTreeMap<i64, i64> =
        logs.iter().flat_map(|l| l.submits.iter().map(|s| (s.queue_id, s.entry_id))).collect();
    let told_workers: BTreeMap<i64, BTreeSet<&str>> =
        logs.iter().flat_map(|l| l.submits.iter()).fold(BTreeMap::new(), |mut m, s| {
            m.entry(s.queue_id).or_default().insert(s.worker.as_str());
            m
        });
    let mut leases: BTreeMap<i64, Vec<&Lease>> = BTreeMap::new();
    for x in logs.iter().flat_map(|l| l.leases.iter()) {
        leases.entry(x.queue_id).or_default().push(x);
    }
    let mut entries = BTreeSet::new();
    let mut bad = Vec::new();
    for r in rows {
        let (id, state, entry): (i64, String, Option<i64>) = (r.get(0), r.get(1), r.get(2));
        let sha: Vec<u8> = r.get(3);
        let index: Option<i64> = r.get(4);
        let log_id: Option<Vec<u8>> = r.get(5);
        let no_owner: bool = r.get(6);
        if state != "submitted" || entry.is_none() || !no_owner {
            bad.push(format!("item {id}: state {state}, entry {entry:?}, lease cleared {no_owner}"));
            continue;
        }
        let entry = entry.unwrap();
        if !entries.insert(entry) {
            bad.push(format!("item {id}: entry {entry} is linked twice"));
        }
        if index != log.index_of(&sha).map(|i| i as i64) || log_id.as_deref() != Some(log.log_id().as_slice()) {
            bad.push(format!("item {id}: linked to entry {entry} at index {index:?}, not its envelope's"));
        }
        if told.get(&id) != Some(&entry) {
            bad.push(format!("item {id}: stored entry {entry}, the worker was told {:?}", told.get(&id)));
        }
        // The submission committed (submitted_at = now() of its transaction) under a live lease of
        // a worker that was told it succeeded.
        let at: i64 = r.get(7);
        let under_lease = leases.get(&id).is_some_and(|ls| {
            ls.iter().any(|x| {
                x.start_us <= at
                    && at < x.expires_us
                    && told_workers.get(&id).is_some_and(|w| w.contains(x.worker.as_str()))
            })
        });
        if !under_lease {
            bad.push(format!("item {id}: submitted at {at}, not under a live lease of the worker told so"));
        }
    }
    assert!(
        bad.is_empty(),
        "{} bad item(s):\n{}",
        bad.len(),
        bad.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// Enqueues envelopes `range` of `log` with rekor_enqueue_batch, `per_call` at a time; returns the
/// queue_ids in envelope order.
pub fn enqueue_range(c: &mut Client, log: &TestLog, range: std::ops::Range<usize>, per_call: usize) -> Vec<i64> {
    let mut ids = Vec::with_capacity(range.len());
    let all: Vec<usize> = range.collect();
    for chunk in all.chunks(per_call) {
        let envs: Vec<String> = chunk.iter().map(|&i| log.envelope_json(i)).collect();
        let got: Vec<i64> = c
            .query_typed("SELECT rekor_enqueue_batch($1::jsonb[])", &[(&envs, Type::TEXT_ARRAY)])
            .expect("rekor_enqueue_batch")
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(got.len(), chunk.len());
        ids.extend(got);
    }
    ids
}

#[cfg(test)]
mod tests {
    //! The checker must fail on the violations it exists to catch.
    use super::*;

    fn lease(id: i64, w: &str, start: i64, expires: i64, attempts: i32) -> Lease {
        Lease { queue_id: id, worker: w.into(), start_us: start, expires_us: expires, attempts, backend_pid: 1 }
    }

    fn submit(id: i64, w: &str, at: i64, entry: i64, retried: bool) -> Submit {
        Submit { queue_id: id, worker: w.into(), entry_id: entry, at_us: at, backend_pid: 1, retried }
    }

    fn log(name: &str, leases: Vec<Lease>, submits: Vec<Submit>) -> WorkerLog {
        WorkerLog { name: name.into(), leases, submits, ..Default::default() }
    }

    fn items(ids: &[i64]) -> BTreeSet<i64> {
        ids.iter().copied().collect()
    }

    #[test]
    fn a_lease_taken_over_after_expiry_is_fine() {
        let logs = vec![
            log("a", vec![lease(1, "a", 0, 100, 1)], vec![]),
            log("b", vec![lease(1, "b", 100, 200, 2)], vec![submit(1, "b", 150, 7, false)]),
        ];
        let s = check_logs(&logs, &items(&[1]));
        assert_eq!((s.items, s.leases, s.released_by_expiry, s.submits), (1, 2, 1, 1));
    }

    #[test]
    #[should_panic(expected = "overlaps the live lease")]
    fn overlapping_leases_are_caught() {
        let logs = vec![
            log("a", vec![lease(1, "a", 0, 100, 1)], vec![]),
            log("b", vec![lease(1, "b", 99, 200, 2)], vec![submit(1, "b", 150, 7, false)]),
        ];
        check_logs(&logs, &items(&[1]));
    }

    #[test]
    #[should_panic(expected = "2 submissions under a live lease")]
    fn a_double_submission_is_caught() {
        let logs = vec![
            log("a", vec![lease(1, "a", 0, 100, 1)], vec![submit(1, "a", 50, 7, false)]),
            log("b", vec![lease(1, "b", 100, 200, 2)], vec![submit(1, "b", 150, 8, false)]),
        ];
        check_logs(&logs, &items(&[1]));
    }

    #[test]
    #[should_panic(expected = "0 submissions under a live lease")]
    fn a_submission_after_the_lease_is_caught() {
        let logs = vec![log("a", vec![lease(1, "a", 0, 100, 1)], vec![submit(1, "a", 100, 7, false)])];
        check_logs(&logs, &items(&[1]));
    }

    #[test]
    #[should_panic(expected = "never submitted")]
    fn a_lost_item_is_caught() {
        let logs = vec![log("a", vec![lease(1, "a", 0, 100, 1)], vec![submit(1, "a", 50, 7, false)])];
        check_logs(&logs, &items(&[1, 2]));
    }

    #[test]
    #[should_panic(expected = "outside any live lease")]
    fn a_second_submission_outside_a_lease_is_caught() {
        let logs = vec![
            log("a", vec![lease(1, "a", 0, 100, 1)], vec![submit(1, "a", 50, 7, false)]),
            log("b", vec![], vec![submit(1, "b", 150, 7, false)]),
        ];
        check_logs(&logs, &items(&[1]));
    }

    #[test]
    fn an_idempotent_retry_after_a_lost_answer_is_fine() {
        // The first call committed under the lease but its answer was lost; the retry came late.
        let logs = vec![log("a", vec![lease(1, "a", 0, 100, 1)], vec![submit(1, "a", 300, 7, true)])];
        check_logs(&logs, &items(&[1]));
    }
}
