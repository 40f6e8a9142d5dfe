//! Prometheus metrics (`rekor_meta_submitter_*`) and the /metrics endpoint.
use prometheus::core::Collector;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use std::sync::Arc;
use std::time::Duration;

pub struct Metrics {
    pub registry: Registry,
    pub submitted: IntCounter,
    pub conflicts: IntCounter,
    pub failed: IntCounterVec,
    pub lease_extensions: IntCounter,
    pub batches: IntCounter,
    pub http_seconds: HistogramVec,
    pub db_seconds: HistogramVec,
    pub item_seconds: Histogram,
    pub queue_items: IntGaugeVec,
    pub witness: IntCounterVec,
}

fn buckets() -> Vec<f64> {
    vec![
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    ]
}

impl Metrics {
    pub fn new() -> Result<Arc<Metrics>, prometheus::Error> {
        let registry = Registry::new();
        let submitted = IntCounter::new(
            "rekor_meta_submitter_submitted_total",
            "queue items marked submitted",
        )?;
        let conflicts = IntCounter::new(
            "rekor_meta_submitter_conflicts_total",
            "409 answers from Rekor (the entry existed): recovered by fetching it",
        )?;
        let failed = IntCounterVec::new(
            Opts::new(
                "rekor_meta_submitter_failed_total",
                "failed attempts by class",
            ),
            &["class"],
        )?;
        let lease_extensions = IntCounter::new(
            "rekor_meta_submitter_lease_extensions_total",
            "rekor_extend_lease calls",
        )?;
        let batches = IntCounter::new(
            "rekor_meta_submitter_batches_total",
            "non-empty batches dequeued",
        )?;
        let http_seconds = HistogramVec::new(
            HistogramOpts::new(
                "rekor_meta_submitter_http_request_duration_seconds",
                "Rekor HTTP request latency",
            )
            .buckets(buckets()),
            &["op", "status"],
        )?;
        let db_seconds = HistogramVec::new(
            HistogramOpts::new(
                "rekor_meta_submitter_db_duration_seconds",
                "database call latency",
            )
            .buckets(buckets()),
            &["op"],
        )?;
        let item_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "rekor_meta_submitter_item_duration_seconds",
                "one item: submit and mark",
            )
            .buckets(buckets()),
        )?;
        let queue_items = IntGaugeVec::new(
            Opts::new(
                "rekor_meta_submitter_queue_items",
                "items per state (rekor_queue_stats)",
            ),
            &["state"],
        )?;
        let witness = IntCounterVec::new(
            Opts::new(
                "rekor_meta_submitter_witness_total",
                "monitor: rekor_witness_checkpoint answers by status",
            ),
            &["status"],
        )?;
        registry.register(Box::new(submitted.clone()))?;
        registry.register(Box::new(conflicts.clone()))?;
        registry.register(Box::new(failed.clone()))?;
        registry.register(Box::new(lease_extensions.clone()))?;
        registry.register(Box::new(batches.clone()))?;
        registry.register(Box::new(http_seconds.clone()))?;
        registry.register(Box::new(db_seconds.clone()))?;
        registry.register(Box::new(item_seconds.clone()))?;
        registry.register(Box::new(queue_items.clone()))?;
        registry.register(Box::new(witness.clone()))?;
        Ok(Arc::new(Metrics {
            registry,
            submitted,
            conflicts,
            failed,
            lease_extensions,
            batches,
            http_seconds,
            db_seconds,
            item_seconds,
            queue_items,
            witness,
        }))
    }

    pub fn observe_http(&self, op: &str, status: &str, d: Duration) {
        self.http_seconds
            .with_label_values(&[op, status])
            .observe(d.as_secs_f64());
    }

    pub fn observe_db(&self, op: &str, d: Duration) {
        self.db_seconds
            .with_label_values(&[op])
            .observe(d.as_secs_f64());
    }

    /// Total seconds and count of all HTTP requests / database calls so far (for the exit summary).
    pub fn totals(&self) -> (f64, u64, f64, u64) {
        let sum = |h: &HistogramVec| {
            let mut s = 0.0;
            let mut n = 0;
            for mf in h.collect() {
                for m in mf.get_metric() {
                    let hist = m.get_histogram();
                    s += hist.get_sample_sum();
                    n += hist.get_sample_count();
                }
            }
            (s, n)
        };
        let (hs, hn) = sum(&self.http_seconds);
        let (ds, dn) = sum(&self.db_seconds);
        (hs, hn, ds, dn)
    }

    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}

/// Serves GET /metrics on `addr` from a background thread.
pub fn serve(metrics: Arc<Metrics>, addr: &str) -> anyhow::Result<()> {
    let server = tiny_http::Server::http(addr)
        .map_err(|e| anyhow::anyhow!("metrics listener on {addr}: {e}"))?;
    std::thread::Builder::new()
        .name("metrics".into())
        .spawn(move || {
            for req in server.incoming_requests() {
                let resp = if req.url() == "/metrics" {
                    let ct = tiny_http::Header::from_bytes(
                        &b"Content-Type"[..],
                        &b"text/plain; version=0.0.4"[..],
                    );
                    let mut r = tiny_http::Response::from_data(metrics.render());
                    if let Ok(h) = ct {
                        r = r.with_header(h);
                    }
                    r
                } else {
                    tiny_http::Response::from_data(b"see /metrics\n".to_vec()).with_status_code(404)
                };
                let _ = req.respond(resp);
            }
        })?;
    Ok(())
}
