//! rekor-meta-submitter: the worker that logs rekor_meta's queued DSSE attestations to Rekor v1 or
//! v2 (`run`, the default) and the log monitor that feeds the in-database witness (`monitor`).
mod config;
mod db;
mod envelope;
mod metrics;
mod monitor;
mod rekor;
mod tiles;
mod worker;

use clap::Parser;
use config::{Cli, Command, Config};
use postgres::fallible_iterator::FallibleIterator;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use worker::{Shared, Stats, Wake, Worker};

/// LISTEN rekor_meta_queue on a direct connection; every notification wakes the idle workers.
fn listen(dsn: String, wake: Arc<Wake>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let mut client = match postgres::Client::connect(&dsn, postgres::NoTls) {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "LISTEN connection failed; polling meanwhile");
                std::thread::sleep(Duration::from_secs(2));
                continue;
            }
        };
        if let Err(e) = client.batch_execute("LISTEN rekor_meta_queue") {
            tracing::debug!(error = %e, "LISTEN failed; polling meanwhile");
            std::thread::sleep(Duration::from_secs(2));
            continue;
        }
        while !stop.load(Ordering::Relaxed) {
            let got = {
                let mut n = client.notifications();
                let mut it = n.timeout_iter(Duration::from_millis(500));
                it.next()
            };
            match got {
                Ok(Some(_)) => wake.notify(),
                Ok(None) => {
                    if client.is_closed() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    }
}

/// Refreshes the queue-depth gauges from rekor_queue_stats every 5 s.
fn queue_gauges(dsn: String, metrics: Arc<metrics::Metrics>, stop: Arc<AtomicBool>) {
    let mut db = db::Db::new(&dsn, metrics.clone(), stop.clone());
    db.retry_budget = Duration::from_secs(5);
    while !stop.load(Ordering::Relaxed) {
        let q = "SELECT s.state, sum(s.items)::int8 FROM rekor_queue_stats s GROUP BY s.state";
        if let Ok(rows) = db.call("queue_stats", |c| c.query_typed(q, &[])) {
            for st in ["pending", "leased", "submitted", "dead"] {
                let v = rows
                    .iter()
                    .find(|r| r.try_get::<_, String>(0).ok().as_deref() == Some(st))
                    .and_then(|r| r.try_get::<_, i64>(1).ok())
                    .unwrap_or(0);
                metrics.queue_items.with_label_values(&[st]).set(v);
            }
        }
        for _ in 0..50 {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("REKOR_SUBMITTER_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    if let Err(e) = real_main() {
        tracing::error!("{e:#}");
        std::process::exit(1);
    }
}

fn real_main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let cfg = Config::resolve(&cli)?;
    let stop = Arc::new(AtomicBool::new(false));
    // First SIGTERM / SIGINT: finish the leased batch and stop. A second one exits at once (the
    // leases then expire and other workers take the items).
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register_conditional_shutdown(sig, 130, stop.clone())?;
        signal_hook::flag::register(sig, stop.clone())?;
    }
    let metrics = metrics::Metrics::new()?;
    if let Some(addr) = &cfg.metrics_addr {
        metrics::serve(metrics.clone(), addr)?;
        let (d, m, s) = (cfg.dsn.clone(), metrics.clone(), stop.clone());
        std::thread::Builder::new()
            .name("queue-gauges".into())
            .spawn(move || queue_gauges(d, m, s))?;
        tracing::info!(addr, "serving Prometheus metrics on /metrics");
    }
    if let Some(Command::Monitor(m)) = &cli.command {
        return monitor::run(&cfg, metrics, stop, m.iterations);
    }
    let wake = Arc::new(Wake::default());
    {
        let (d, w, s) = (cfg.listen_dsn.clone(), wake.clone(), stop.clone());
        std::thread::Builder::new()
            .name("listen".into())
            .spawn(move || listen(d, w, s))?;
    }
    tracing::info!(worker = %cfg.worker, concurrency = cfg.concurrency, batch = cfg.batch,
        lease_s = cfg.lease.as_secs(), http_timeout_s = cfg.http_timeout.as_secs(),
        rekor = cfg.rekor_url.as_deref().unwrap_or("(from rekor_log_endpoints)"), "submitter starting");
    let started = Instant::now();
    let shared = Arc::new(Shared::new(
        cfg.clone(),
        metrics.clone(),
        stop.clone(),
        wake.clone(),
    ));
    let mut handles = Vec::new();
    for i in 0..cfg.concurrency {
        let shared = shared.clone();
        let name = format!("{}/{}", cfg.worker, i);
        handles.push(
            std::thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || {
                    let mut w = Worker::new(name, shared);
                    let r = w.run();
                    (w.stats, r)
                })?,
        );
    }
    let mut total = Stats::default();
    let mut errors = Vec::new();
    for h in handles {
        match h.join() {
            Ok((s, r)) => {
                total.add(&s);
                if let Err(e) = r {
                    errors.push(format!("{e:#}"));
                }
            }
            Err(_) => errors.push("a worker thread panicked".to_string()),
        }
    }
    stop.store(true, Ordering::Relaxed);
    wake.notify();
    let (http_s, http_n, db_s, db_n) = metrics.totals();
    let wall = started.elapsed().as_secs_f64();
    // One machine-readable line for scripts (bench/pipeline.sh reads it).
    println!(
        "summary worker={} submitted={} conflicts={} retried={} dead={} lease_lost={} abandoned={} \
         lease_extensions={} http_requests={} http_seconds={:.3} db_calls={} db_seconds={:.3} wall_seconds={:.3}",
        cfg.worker, total.submitted, total.conflicts, total.retried, total.dead, total.lease_lost, total.abandoned,
        total.lease_extensions,
        http_n, http_s, db_n, db_s, wall
    );
    if !errors.is_empty() {
        anyhow::bail!("{}", errors.join("; "));
    }
    Ok(())
}
