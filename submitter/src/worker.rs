//! The worker loop: rekor_dequeue a batch → POST each envelope to Rekor → rekor_mark_submitted with
//! the response (the database verifies proof, checkpoint and SET) or rekor_mark_failed.
use crate::config::Config;
use crate::db::{Db, DbError};
use crate::metrics::Metrics;
use crate::rekor::{pem, Outcome, Rekor};
use postgres::types::Type;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

const DEQUEUE: &str =
    "SELECT d.queue_id, d.envelope::text, d.verifier, d.verifier_kind, d.log_id, d.attempts
    FROM rekor_dequeue($1, $2, $3::interval) d ORDER BY d.queue_id";
const SUBMITTED: &str = "SELECT rekor_mark_submitted($1, $2, $3::jsonb)";
const FAILED: &str = "SELECT rekor_mark_failed($1, $2, $3, $4)";
const EXTEND: &str = "SELECT rekor_extend_lease($1, $2, $3::interval)";
const UNFINISHED: &str =
    "SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'leased')
    FROM rekor_submission_queue";
/// Every log with an endpoint of this API version, newest first, expired ones too (a frozen shard's
/// operator, its signer name, is how the submitter finds the active log to route to): log_id,
/// base_url, signer_name, seconds until valid_until (NULL: no end).
const ENDPOINTS: &str = "SELECT l.log_id, l.base_url, l.signer_name,
        extract(epoch FROM l.valid_until - now())::float8
    FROM rekor_logs l
    WHERE l.base_url IS NOT NULL AND l.api_version = $1::int2
      AND (l.valid_from IS NULL OR l.valid_from <= now())
    ORDER BY l.created_at DESC, l.log_id";
/// A Rekor v2 log by its checkpoint: origin and the 4-byte key hint (its log ID's prefix).
const LOG_BY_CHECKPOINT: &str = "SELECT l.log_id FROM rekor_logs l
    WHERE l.origin = $1 AND encode(substring(l.log_id FROM 1 FOR 4), 'hex') = ANY ($2::text[])
    ORDER BY l.created_at DESC LIMIT 1";

/// Wakes idle workers (a NOTIFY arrived, or shutdown).
#[derive(Default)]
pub struct Wake {
    generation: Mutex<u64>,
    cv: Condvar,
}

impl Wake {
    pub fn notify(&self) {
        if let Ok(mut g) = self.generation.lock() {
            *g += 1;
        }
        self.cv.notify_all();
    }

    /// Waits for a notification, at most `timeout`; returns early when `stop` is set (checked
    /// every 200 ms: a signal handler cannot notify a condition variable).
    fn wait(&self, timeout: Duration, stop: &AtomicBool) {
        let deadline = Instant::now() + timeout;
        let Ok(mut g) = self.generation.lock() else {
            return;
        };
        let seen = *g;
        while *g == seen && !stop.load(Ordering::Relaxed) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            match self
                .cv
                .wait_timeout(g, left.min(Duration::from_millis(200)))
            {
                Ok((next, _)) => g = next,
                Err(_) => return,
            }
        }
    }
}

pub struct Shared {
    pub cfg: Config,
    pub metrics: Arc<Metrics>,
    pub rekor: Rekor,
    pub stop: Arc<AtomicBool>,
    pub wake: Arc<Wake>,
    /// Base URLs that answered 405 (frozen shards): not written to again by this process.
    frozen: Mutex<HashSet<String>>,
}

impl Shared {
    pub fn new(
        cfg: Config,
        metrics: Arc<Metrics>,
        stop: Arc<AtomicBool>,
        wake: Arc<Wake>,
    ) -> Shared {
        let rekor = Rekor::new(cfg.http_timeout, metrics.clone());
        Shared {
            cfg,
            metrics,
            rekor,
            stop,
            wake,
            frozen: Mutex::new(HashSet::new()),
        }
    }

    fn is_frozen(&self, url: &str) -> bool {
        self.frozen.lock().map(|f| f.contains(url)).unwrap_or(false)
    }
}

#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub submitted: u64,
    pub conflicts: u64,
    pub retried: u64,
    pub dead: u64,
    pub lease_lost: u64,
    pub abandoned: u64,
    pub lease_extensions: u64,
}

impl Stats {
    pub fn add(&mut self, o: &Stats) {
        self.submitted += o.submitted;
        self.conflicts += o.conflicts;
        self.retried += o.retried;
        self.dead += o.dead;
        self.lease_lost += o.lease_lost;
        self.abandoned += o.abandoned;
        self.lease_extensions += o.lease_extensions;
    }
}

struct Item {
    queue_id: i64,
    envelope: String,
    verifier: Option<Vec<u8>>,
    verifier_kind: Option<String>,
    log_id: Option<Vec<u8>>,
}

fn interval(d: Duration) -> String {
    format!("{} milliseconds", d.as_millis())
}

/// A log the database says where to write: rekor_logs with base_url and api_version.
struct Endpoint {
    log_id: Vec<u8>,
    url: String,
    operator: String,
    /// When its valid_until passes (None: open-ended), on this process's clock.
    until: Option<Instant>,
}

/// The endpoints, newest first; refreshed every 30 s (and at once after a 405).
struct Endpoints {
    list: Vec<Endpoint>,
    fetched: Option<Instant>,
}

pub struct Worker {
    name: String,
    db: Db,
    shared: Arc<Shared>,
    endpoints: Endpoints,
    pub stats: Stats,
    /// Retryable Rekor failures (unreachable, 429, 5xx) in the current batch.
    rekor_failures: u64,
    /// Circuit breaker: after a batch in which Rekor failed every item, the worker pauses (250 ms,
    /// doubling to 5 s) before it leases more, instead of burning every queued item's attempts
    /// against a log that is down.
    pause: Duration,
}

impl Worker {
    pub fn new(name: String, shared: Arc<Shared>) -> Worker {
        let db = Db::new(&shared.cfg.dsn, shared.metrics.clone(), shared.stop.clone());
        Worker {
            name,
            db,
            shared,
            endpoints: Endpoints {
                list: Vec::new(),
                fetched: None,
            },
            stats: Stats::default(),
            rekor_failures: 0,
            pause: Duration::ZERO,
        }
    }

    fn refresh_endpoints(&mut self) -> Result<(), String> {
        if self
            .endpoints
            .fetched
            .is_some_and(|t| t.elapsed() <= Duration::from_secs(30))
        {
            return Ok(());
        }
        let version = i16::from(self.shared.cfg.log_version);
        let rows = self
            .db
            .call("endpoints", |c| c.query_typed(ENDPOINTS, &[(&version, Type::INT2)]))
            .map_err(|e| format!("reading the log endpoints from rekor_logs: {e}"))?;
        let now = Instant::now();
        self.endpoints.list = rows
            .iter()
            .filter_map(|r| {
                let left: Option<f64> = r.try_get(3).ok()?;
                Some(Endpoint {
                    log_id: r.try_get(0).ok()?,
                    url: r.try_get(1).ok()?,
                    operator: r.try_get(2).ok()?,
                    until: left.map(|s| {
                        if s <= 0.0 {
                            now
                        } else {
                            now + Duration::from_secs_f64(s.min(1e9))
                        }
                    }),
                })
            })
            .collect();
        self.endpoints.fetched = Some(now);
        Ok(())
    }

    /// Where to write this item, and the log's ID when the database knows the endpoint:
    /// --rekor-url unless it answered 405; else the item's own log if its endpoint is live; else
    /// the newest live log of the same operator (signer name) as the item's log or the frozen URL:
    /// a frozen v1 shard (405, or valid_until passed) routes to the active one; else the newest
    /// live endpoint.
    fn endpoint(&mut self, item: &Item) -> Result<(String, Option<Vec<u8>>), String> {
        self.refresh_endpoints()?;
        let now = Instant::now();
        let shared = self.shared.clone();
        let live = |e: &Endpoint| !shared.is_frozen(&e.url) && e.until.is_none_or(|u| u > now);
        let list = &self.endpoints.list;
        let id_of = |url: &str| list.iter().find(|e| e.url == url).map(|e| e.log_id.clone());
        let mut operator = None;
        if let Some(u) = &self.shared.cfg.rekor_url {
            if !self.shared.is_frozen(u) {
                return Ok((u.clone(), id_of(u)));
            }
            operator = list.iter().find(|e| &e.url == u).map(|e| e.operator.clone());
        }
        if let Some(l) = &item.log_id {
            if let Some(e) = list.iter().find(|e| &e.log_id == l) {
                if live(e) {
                    return Ok((e.url.clone(), Some(e.log_id.clone())));
                }
                operator = Some(e.operator.clone());
            }
        }
        if let Some(op) = &operator {
            return list
                .iter()
                .find(|e| &e.operator == op && live(e))
                .map(|e| (e.url.clone(), Some(e.log_id.clone())))
                .ok_or_else(|| {
                    format!("the log is frozen and {op} has no active log with an endpoint (rekor_set_log_endpoint)")
                });
        }
        list.iter()
            .find(|e| live(e))
            .map(|e| (e.url.clone(), Some(e.log_id.clone())))
            .ok_or_else(|| {
                "no Rekor endpoint: give --rekor-url or set one with rekor_set_log_endpoint".to_string()
            })
    }

    /// The loop; returns when stopped, or (with --exit-when-idle) when nothing is pending or leased.
    pub fn run(&mut self) -> anyhow::Result<()> {
        let cfg = self.shared.cfg.clone();
        loop {
            if self.shared.stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let t0 = Instant::now();
            let rows = match self.db.call("dequeue", |c| {
                c.query_typed(
                    DEQUEUE,
                    &[
                        (&self.name, Type::TEXT),
                        (&cfg.batch, Type::INT4),
                        (&interval(cfg.lease), Type::TEXT),
                    ],
                )
            }) {
                Ok(r) => r,
                Err(DbError::Sql { code, message }) if code == "42703" || code == "42883" => {
                    anyhow::bail!("the database lacks the rekor_meta 0.3.0 queue schema (ALTER EXTENSION rekor_meta UPDATE): {message}");
                }
                Err(e) => {
                    tracing::warn!(worker = %self.name, error = %e, "dequeue failed");
                    self.shared.wake.wait(cfg.poll, &self.shared.stop);
                    continue;
                }
            };
            let lease_from = t0;
            let mut items = Vec::with_capacity(rows.len());
            for r in &rows {
                let Ok(queue_id) = r.try_get::<_, i64>(0) else {
                    continue;
                };
                items.push(Item {
                    queue_id,
                    envelope: r.try_get(1).unwrap_or_default(),
                    verifier: r.try_get(2).ok().flatten(),
                    verifier_kind: r.try_get(3).ok().flatten(),
                    log_id: r.try_get(4).ok().flatten(),
                });
            }
            if items.is_empty() {
                if cfg.exit_when_idle {
                    match self
                        .db
                        .call("unfinished", |c| c.query_typed(UNFINISHED, &[]))
                    {
                        Ok(r) => {
                            let pending: i64 =
                                r.first().and_then(|r| r.try_get(0).ok()).unwrap_or(1);
                            let leased: i64 =
                                r.first().and_then(|r| r.try_get(1).ok()).unwrap_or(1);
                            if pending == 0 && leased == 0 {
                                return Ok(());
                            }
                        }
                        Err(e) => {
                            tracing::warn!(worker = %self.name, error = %e, "queue check failed")
                        }
                    }
                }
                self.shared.wake.wait(cfg.poll, &self.shared.stop);
                continue;
            }
            self.shared.metrics.batches.inc();
            let before = self.stats.clone();
            self.rekor_failures = 0;
            let mut lease_until = lease_from + cfg.lease;
            for i in 0..items.len() {
                // Keep the lease ahead of the slowest possible submission (timeout, twice: a 409
                // is followed by a GET) plus a margin.
                let need = cfg.http_timeout * 2 + Duration::from_secs(5);
                if lease_until.saturating_duration_since(Instant::now()) < need {
                    let t = Instant::now();
                    for it in &items[i..] {
                        let r = self.db.call("extend_lease", |c| {
                            c.query_typed(
                                EXTEND,
                                &[
                                    (&it.queue_id, Type::INT8),
                                    (&self.name, Type::TEXT),
                                    (&interval(cfg.lease), Type::TEXT),
                                ],
                            )
                        });
                        match r {
                            Ok(_) => {
                                self.stats.lease_extensions += 1;
                                self.shared.metrics.lease_extensions.inc()
                            }
                            Err(e) => {
                                tracing::warn!(worker = %self.name, queue_id = it.queue_id, error = %e, "lease extension failed")
                            }
                        }
                    }
                    lease_until = t + cfg.lease;
                }
                let t = Instant::now();
                self.process(&items[i]);
                self.shared
                    .metrics
                    .item_seconds
                    .observe(t.elapsed().as_secs_f64());
            }
            let secs = t0.elapsed().as_secs_f64();
            let s = &self.stats;
            tracing::info!(
                worker = %self.name,
                items = items.len(),
                submitted = s.submitted - before.submitted,
                conflicts = s.conflicts - before.conflicts,
                retried = s.retried - before.retried,
                dead = s.dead - before.dead,
                lease_lost = s.lease_lost - before.lease_lost,
                secs = format!("{secs:.3}"),
                rate = format!("{:.1}/s", items.len() as f64 / secs.max(1e-9)),
                "batch"
            );
            if self.stats.submitted == before.submitted && self.rekor_failures > 0 {
                self.pause =
                    (self.pause * 2).clamp(Duration::from_millis(250), Duration::from_secs(5));
                tracing::warn!(worker = %self.name, pause_ms = self.pause.as_millis() as u64, "Rekor failed the whole batch; pausing");
                let until = Instant::now() + self.pause;
                while Instant::now() < until && !self.shared.stop.load(Ordering::Relaxed) {
                    std::thread::sleep(
                        Duration::from_millis(50)
                            .min(until.saturating_duration_since(Instant::now())),
                    );
                }
            } else {
                self.pause = Duration::ZERO;
            }
        }
    }

    /// Rekor v2 answered AlreadyExists for `index`: the entry and its proof from the tiles, against
    /// the log's current checkpoint. The log's ID comes from the endpoint, else from the database
    /// by the checkpoint's origin and key hint.
    fn v2_existing(&mut self, base: &str, log_id: Option<Vec<u8>>, index: u64) -> Outcome {
        let rekor = &self.shared.rekor;
        let cp = match rekor.v2_checkpoint(base) {
            Ok(c) => c,
            Err(o) => return o,
        };
        let log_id = match log_id {
            Some(l) => l,
            None => {
                let hints: Vec<String> = cp.key_hints.iter().map(hex::encode).collect();
                let origin = cp.origin.clone();
                match self.db.call("log_by_checkpoint", |c| {
                    c.query_typed(LOG_BY_CHECKPOINT, &[(&origin, Type::TEXT), (&hints, Type::TEXT_ARRAY)])
                }) {
                    Ok(rows) => match rows.first().and_then(|r| r.try_get::<_, Vec<u8>>(0).ok()) {
                        Some(l) => l,
                        None => {
                            return Outcome::Retry {
                                class: "unknown_log",
                                message: format!("no trusted log has origin {origin:?} and key hint {hints:?} (rekor_add_log)"),
                            }
                        }
                    },
                    Err(e) => {
                        return Outcome::Retry {
                            class: "unknown_log",
                            message: format!("looking up the log of {origin:?}: {e}"),
                        }
                    }
                }
            }
        };
        match self.shared.rekor.v2_entry_at(base, &cp, index, &log_id) {
            Ok(v) => Outcome::Logged {
                response: v,
                conflict: true,
            },
            Err(o) => o,
        }
    }

    fn fail(&mut self, item: &Item, class: &str, message: &str, retryable: bool) {
        self.shared.metrics.failed.with_label_values(&[class]).inc();
        let r = self.db.call("mark_failed", |c| {
            c.query_typed(
                FAILED,
                &[
                    (&item.queue_id, Type::INT8),
                    (&self.name, Type::TEXT),
                    (&message, Type::TEXT),
                    (&retryable, Type::BOOL),
                ],
            )
        });
        match r {
            Ok(rows) => {
                let state: String = rows
                    .first()
                    .and_then(|r| r.try_get(0).ok())
                    .unwrap_or_default();
                if state == "dead" {
                    self.stats.dead += 1;
                    tracing::warn!(worker = %self.name, queue_id = item.queue_id, class, error = message, "item is dead");
                } else {
                    self.stats.retried += 1;
                    tracing::debug!(worker = %self.name, queue_id = item.queue_id, class, error = message, "will retry");
                }
            }
            Err(DbError::Sql { code, message: m }) if code == "55000" => {
                self.stats.lease_lost += 1;
                tracing::warn!(worker = %self.name, queue_id = item.queue_id, error = %m, "lease lost before mark_failed");
            }
            Err(e) => {
                self.stats.abandoned += 1;
                tracing::error!(worker = %self.name, queue_id = item.queue_id, error = %e, "mark_failed failed; the lease will expire");
            }
        }
    }

    fn process(&mut self, item: &Item) {
        let (Some(der), Some(kind)) = (&item.verifier, &item.verifier_kind) else {
            self.fail(
                item,
                "no_verifier",
                "the queue item has no verifier: Rekor needs the signer's public key or certificate with the envelope; \
                 enqueue it with rekor_enqueue(envelope, verifier => <PEM>) (items queued before 0.3.0 have none)",
                false,
            );
            return;
        };
        let verifier = pem(der, kind);
        let v2 = self.shared.cfg.log_version == 2;
        // The request, made once: v1 a dsse entry of the envelope as serialised, v2 a hashedrekord
        // over its PAE with the one signature that verifies under the verifier.
        let made = if v2 {
            v2_request(&item.envelope, &verifier)
        } else {
            serde_json::from_str::<serde_json::Value>(&item.envelope)
                .map_err(|e| e.to_string())
                .and_then(|v| crate::envelope::serialize(&v, self.shared.cfg.envelope_form))
                .map_err(|m| format!("the queued envelope cannot be serialised: {m}"))
        };
        let body = match made {
            Ok(b) => b,
            Err(m) => {
                self.fail(item, "bad_envelope", &m, false);
                return;
            }
        };
        // A 405 (frozen shard) routes to the active log at once, up to 3 logs for one item.
        let mut routed = 0;
        let outcome = loop {
            let (base, log_id) = match self.endpoint(item) {
                Ok(b) => b,
                Err(m) => {
                    self.fail(item, "no_endpoint", &m, true);
                    return;
                }
            };
            let outcome = if v2 {
                match self.shared.rekor.submit_v2(&base, &body) {
                    Outcome::Exists { index } => self.v2_existing(&base, log_id, index),
                    o => o,
                }
            } else {
                self.shared.rekor.submit_dsse(&base, &body, &verifier)
            };
            match outcome {
                Outcome::Frozen { message } if routed < 2 => {
                    if let Ok(mut f) = self.shared.frozen.lock() {
                        f.insert(base.clone());
                    }
                    self.endpoints.fetched = None;
                    routed += 1;
                    self.shared.metrics.failed.with_label_values(&["frozen_log"]).inc();
                    tracing::warn!(worker = %self.name, queue_id = item.queue_id, base, error = %message,
                        "the log is frozen; routing to the active log of its operator");
                }
                o => break (o, base),
            }
        };
        let (outcome, base) = outcome;
        match outcome {
            Outcome::Logged { response, conflict } => {
                if conflict {
                    self.stats.conflicts += 1;
                    self.shared.metrics.conflicts.inc();
                }
                let text = response.to_string();
                let r = self.db.call("mark_submitted", |c| {
                    c.query_typed(
                        SUBMITTED,
                        &[
                            (&item.queue_id, Type::INT8),
                            (&self.name, Type::TEXT),
                            (&text, Type::TEXT),
                        ],
                    )
                });
                match r {
                    Ok(_) => {
                        self.stats.submitted += 1;
                        self.shared.metrics.submitted.inc();
                    }
                    Err(DbError::Sql { code, message }) if code == "55000" => {
                        // Another worker holds it now (our lease expired); it will find the entry (409).
                        self.stats.lease_lost += 1;
                        self.shared
                            .metrics
                            .failed
                            .with_label_values(&["lease_lost"])
                            .inc();
                        tracing::warn!(worker = %self.name, queue_id = item.queue_id, error = %message, "lease lost");
                    }
                    Err(DbError::Sql { code, message }) => {
                        // The entry did not verify (unknown or untrusted log, bad proof) or is not this
                        // envelope: retried within max_attempts, so that fixing the trust config helps.
                        let m = format!("rekor_mark_submitted refused Rekor's answer: SQLSTATE {code}: {message}");
                        self.fail(item, "verification", &m, true);
                    }
                    Err(e) => {
                        self.stats.abandoned += 1;
                        tracing::error!(worker = %self.name, queue_id = item.queue_id, error = %e,
                            "mark_submitted failed; the lease will expire and the next attempt finds the entry (409)");
                    }
                }
            }
            Outcome::Retry { class, message } => {
                if class != "bad_response" {
                    self.rekor_failures += 1;
                }
                self.fail(item, class, &message, true)
            }
            Outcome::Frozen { message } => {
                if let Ok(mut f) = self.shared.frozen.lock() {
                    f.insert(base.clone());
                }
                self.endpoints.fetched = None;
                self.fail(item, "frozen_log", &message, true);
            }
            Outcome::Reject { status, mut message } => {
                tracing::debug!(worker = %self.name, queue_id = item.queue_id, status, "Rekor rejected the entry");
                let ed25519 = rekor_meta_core::verifier::parse_verifier(verifier.as_bytes())
                    .is_ok_and(|v| v.key_type == rekor_meta_core::verifier::VerifierKeyType::Ed25519);
                if v2 && ed25519 {
                    message.push_str(
                        " (Rekor v2 verifies an Ed25519 hashedrekord signature as Ed25519ph over the SHA-512 of the PAE; \
                         a DSSE envelope signed with pure Ed25519 cannot be logged there: use Rekor v1 or an ECDSA key)",
                    );
                }
                self.fail(item, "rejected", &message, false)
            }
            Outcome::Exists { index } => {
                self.fail(item, "bad_response", &format!("AlreadyExists at {index} was not resolved"), true)
            }
        }
    }
}

/// The CreateEntryRequest for Rekor v2: hashedrekord over the PAE, with the envelope signature that
/// verifies under the verifier (the check rekor_enqueue made: an item that passes it always has one).
fn v2_request(envelope: &str, verifier_pem: &str) -> Result<String, String> {
    let v: serde_json::Value =
        serde_json::from_str(envelope).map_err(|e| format!("the queued envelope is not JSON: {e}"))?;
    let env = rekor_meta_core::dsse::parse_envelope(&v).map_err(|e| format!("the queued envelope does not parse: {e}"))?;
    let verifier = rekor_meta_core::verifier::parse_verifier(verifier_pem.as_bytes())
        .map_err(|e| format!("the queued verifier does not parse: {e}"))?;
    let sig = verifier
        .signs(&env)
        .ok_or("no signature of the envelope verifies under the queued verifier")?;
    crate::tiles::hashedrekord_request(&env, sig, &verifier)
}
