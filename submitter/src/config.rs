//! Settings: command-line flags, each with an environment variable (REKOR_SUBMITTER_*), over one
//! optional TOML config file (`--config`, keys as the long flags with `_`), over the defaults.
use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "rekor-meta-submitter",
    version,
    about = "Logs rekor_meta's queued DSSE attestations to Rekor"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub common: CommonArgs,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// The worker loop (the default): rekor_dequeue → POST to Rekor → rekor_mark_submitted.
    Run,
    /// Polls the log's checkpoint and consistency proofs and feeds rekor_witness_checkpoint.
    Monitor(MonitorArgs),
}

#[derive(Args, Debug, Default)]
pub struct CommonArgs {
    /// TOML config file; flags and environment variables override its keys.
    #[arg(long, env = "REKOR_SUBMITTER_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// libpq connection string or URL of the database (may be a PgBouncer in transaction mode).
    #[arg(long, env = "REKOR_SUBMITTER_DSN", global = true)]
    pub dsn: Option<String>,
    /// Rekor base URL (e.g. http://127.0.0.1:28840); default: the newest log of rekor_log_endpoints.
    #[arg(long, env = "REKOR_SUBMITTER_REKOR_URL", global = true)]
    pub rekor_url: Option<String>,
    /// Rekor major API version: 1 (dsse entries) or 2 (rekor-tiles: hashedrekord over the PAE).
    #[arg(long, env = "REKOR_SUBMITTER_LOG_VERSION", global = true)]
    pub log_version: Option<u8>,
    /// HTTP timeout per request, seconds.
    #[arg(long, env = "REKOR_SUBMITTER_HTTP_TIMEOUT", global = true)]
    pub http_timeout: Option<u64>,
    /// Serve Prometheus metrics on this address (e.g. 127.0.0.1:9464).
    #[arg(long, env = "REKOR_SUBMITTER_METRICS_ADDR", global = true)]
    pub metrics_addr: Option<String>,
}

#[derive(Args, Debug, Default)]
pub struct RunArgs {
    /// Worker name (lease owner); each thread leases as "<worker>/<n>". Default: <hostname>-<pid>.
    #[arg(long, global = true, env = "REKOR_SUBMITTER_WORKER")]
    pub worker: Option<String>,
    /// Worker threads, each with its own database connection.
    #[arg(long, global = true, env = "REKOR_SUBMITTER_CONCURRENCY")]
    pub concurrency: Option<usize>,
    /// Items leased per rekor_dequeue (1..1000).
    #[arg(long, global = true, env = "REKOR_SUBMITTER_BATCH")]
    pub batch: Option<i32>,
    /// Lease, seconds.
    #[arg(long, global = true, env = "REKOR_SUBMITTER_LEASE")]
    pub lease: Option<u64>,
    /// Polling interval when idle, milliseconds (a NOTIFY on rekor_meta_queue wakes the workers earlier).
    #[arg(long, global = true, env = "REKOR_SUBMITTER_POLL_MS")]
    pub poll_ms: Option<u64>,
    /// Direct (not pooled) connection for LISTEN rekor_meta_queue; default: --dsn.
    #[arg(long, global = true, env = "REKOR_SUBMITTER_LISTEN_DSN")]
    pub listen_dsn: Option<String>,
    /// How the envelope is serialised for Rekor (part of the logged entry): go-struct (cosign v2,
    /// rekor-cli; default) or protojson (sigstore-go).
    #[arg(long, global = true, env = "REKOR_SUBMITTER_ENVELOPE_FORM", value_enum)]
    pub envelope_form: Option<crate::envelope::Form>,
    /// Exit once no item is pending or leased (for batch jobs, tests, benchmarks).
    #[arg(long, global = true, env = "REKOR_SUBMITTER_EXIT_WHEN_IDLE")]
    pub exit_when_idle: bool,
}

#[derive(Args, Debug, Default)]
pub struct MonitorArgs {
    /// Seconds between polls.
    #[arg(long, env = "REKOR_SUBMITTER_MONITOR_INTERVAL")]
    pub interval: Option<u64>,
    /// Poll this many times and exit (0: forever).
    #[arg(long, default_value_t = 0)]
    pub iterations: u64,
}

/// The config file: the same keys as the long flags.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct File {
    dsn: Option<String>,
    rekor_url: Option<String>,
    log_version: Option<u8>,
    http_timeout: Option<u64>,
    metrics_addr: Option<String>,
    worker: Option<String>,
    concurrency: Option<usize>,
    batch: Option<i32>,
    lease: Option<u64>,
    poll_ms: Option<u64>,
    listen_dsn: Option<String>,
    exit_when_idle: Option<bool>,
    monitor_interval: Option<u64>,
    envelope_form: Option<crate::envelope::Form>,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub dsn: String,
    pub rekor_url: Option<String>,
    pub log_version: u8,
    pub http_timeout: Duration,
    pub metrics_addr: Option<String>,
    pub worker: String,
    pub concurrency: usize,
    pub batch: i32,
    pub lease: Duration,
    pub poll: Duration,
    pub listen_dsn: String,
    pub exit_when_idle: bool,
    pub monitor_interval: Duration,
    pub envelope_form: crate::envelope::Form,
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "submitter".to_string())
}

impl Config {
    pub fn resolve(cli: &Cli) -> Result<Config> {
        let file: File = match &cli.common.config {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("reading config file {}", p.display()))?;
                toml::from_str(&text)
                    .with_context(|| format!("parsing config file {}", p.display()))?
            }
            None => File::default(),
        };
        let c = &cli.common;
        let r = &cli.run;
        let monitor_interval = match &cli.command {
            Some(Command::Monitor(m)) => m.interval,
            _ => None,
        };
        let dsn =
            c.dsn.clone().or(file.dsn).context(
                "no database: give --dsn, REKOR_SUBMITTER_DSN or dsn in the config file",
            )?;
        let log_version = c.log_version.or(file.log_version).unwrap_or(1);
        if log_version != 1 && log_version != 2 {
            bail!("log version must be 1 or 2, not {log_version}");
        }
        // Rekor v2 holds a request until a checkpoint covers the entry (≥ 20 s): longer defaults there.
        let (default_timeout, default_lease) = if log_version == 2 {
            (60, 600)
        } else {
            (30, 300)
        };
        let http_timeout = c
            .http_timeout
            .or(file.http_timeout)
            .unwrap_or(default_timeout);
        let lease = r.lease.or(file.lease).unwrap_or(default_lease);
        if http_timeout == 0 || lease == 0 || lease > 86_400 {
            bail!("http timeout must be > 0 and lease in 1..=86400 seconds");
        }
        let batch = r.batch.or(file.batch).unwrap_or(16);
        if !(1..=1000).contains(&batch) {
            bail!("batch must be 1..=1000, not {batch}");
        }
        let concurrency = r.concurrency.or(file.concurrency).unwrap_or(4);
        if !(1..=256).contains(&concurrency) {
            bail!("concurrency must be 1..=256, not {concurrency}");
        }
        let worker = r
            .worker
            .clone()
            .or(file.worker)
            .unwrap_or_else(|| format!("{}-{}", hostname(), std::process::id()));
        if worker.is_empty() {
            bail!("worker name must not be empty");
        }
        let rekor_url = c
            .rekor_url
            .clone()
            .or(file.rekor_url)
            .map(|u| u.trim_end_matches('/').to_string());
        if let Some(u) = &rekor_url {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                bail!("rekor url must start with http:// or https://: {u}");
            }
        }
        Ok(Config {
            listen_dsn: r
                .listen_dsn
                .clone()
                .or(file.listen_dsn)
                .unwrap_or_else(|| dsn.clone()),
            dsn,
            rekor_url,
            log_version,
            http_timeout: Duration::from_secs(http_timeout),
            metrics_addr: c.metrics_addr.clone().or(file.metrics_addr),
            worker,
            concurrency,
            batch,
            lease: Duration::from_secs(lease),
            poll: Duration::from_millis(r.poll_ms.or(file.poll_ms).unwrap_or(1000).max(10)),
            exit_when_idle: r.exit_when_idle || file.exit_when_idle.unwrap_or(false),
            envelope_form: r
                .envelope_form
                .or(file.envelope_form)
                .unwrap_or(crate::envelope::Form::GoStruct),
            monitor_interval: Duration::from_secs(
                monitor_interval
                    .or(file.monitor_interval)
                    .unwrap_or(30)
                    .max(1),
            ),
        })
    }
}
