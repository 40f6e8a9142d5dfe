//! One database connection that reconnects: every statement is an autocommit `query_typed` (one
//! unnamed-statement round trip), so the same code runs through PgBouncer in transaction mode.
use crate::metrics::Metrics;
use postgres::{Client, NoTls};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub enum DbError {
    /// The server answered with an error (SQLSTATE, message and detail).
    Sql { code: String, message: String },
    /// No connection (refused, lost, server shutting down) for longer than the retry budget.
    Connection(String),
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DbError::Sql { code, message } => write!(f, "SQLSTATE {code}: {message}"),
            DbError::Connection(m) => write!(f, "database connection: {m}"),
        }
    }
}

pub struct Db {
    dsn: String,
    client: Option<Client>,
    metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
    /// How long one call keeps reconnecting before it gives up.
    pub retry_budget: Duration,
}

fn classify(e: &postgres::Error) -> Option<DbError> {
    match e.as_db_error() {
        Some(d) => {
            let code = d.code().code().to_string();
            // Class 08 (connection exception) and 57 (operator intervention: shutdown, restart) are
            // about the connection, not the statement.
            if code.starts_with("08") || code.starts_with("57") {
                return None;
            }
            let mut message = d.message().to_string();
            if let Some(detail) = d.detail() {
                message.push_str(" — ");
                message.push_str(detail);
            }
            Some(DbError::Sql { code, message })
        }
        None if e.code().is_some() => Some(DbError::Sql {
            code: e.code().map(|c| c.code().to_string()).unwrap_or_default(),
            message: e.to_string(),
        }),
        // Closed connections, I/O errors, and also client-side conversion errors (those are
        // bugs; they surface after the retry budget as a Connection error naming them).
        None => None,
    }
}

impl Db {
    pub fn new(dsn: &str, metrics: Arc<Metrics>, stop: Arc<AtomicBool>) -> Db {
        Db {
            dsn: dsn.to_string(),
            client: None,
            metrics,
            stop,
            retry_budget: Duration::from_secs(120),
        }
    }

    /// Runs `f` on a live connection. A lost connection is dropped and `f` runs again on a new one
    /// (so `f` must be idempotent, as every queue call is) until the retry budget is spent.
    pub fn call<T>(
        &mut self,
        op: &str,
        mut f: impl FnMut(&mut Client) -> Result<T, postgres::Error>,
    ) -> Result<T, DbError> {
        let started = Instant::now();
        let mut delay = Duration::from_millis(100);
        loop {
            if self.client.as_ref().is_none_or(|c| c.is_closed()) {
                self.client = None;
                match Client::connect(&self.dsn, NoTls) {
                    Ok(c) => self.client = Some(c),
                    Err(e) => {
                        if started.elapsed() > self.retry_budget {
                            return Err(DbError::Connection(e.to_string()));
                        }
                        tracing::warn!(op, error = %e, "database connect failed; retrying");
                        std::thread::sleep(delay);
                        delay = (delay * 2).min(Duration::from_secs(2));
                        continue;
                    }
                }
            }
            let Some(client) = self.client.as_mut() else {
                continue;
            };
            let t = Instant::now();
            let r = f(client);
            self.metrics.observe_db(op, t.elapsed());
            match r {
                Ok(v) => return Ok(v),
                Err(e) => {
                    if let Some(err) = classify(&e) {
                        return Err(err);
                    }
                    self.client = None;
                    if started.elapsed() > self.retry_budget
                        || (self.stop.load(Ordering::Relaxed) && op == "dequeue")
                    {
                        return Err(DbError::Connection(e.to_string()));
                    }
                    tracing::warn!(op, error = %e, "database connection lost; reconnecting");
                    std::thread::sleep(delay);
                    delay = (delay * 2).min(Duration::from_secs(2));
                }
            }
        }
    }
}
