//! Shared helpers for the client-level tests: connecting to the cluster scripts/test.sh started,
//! making a fresh database with the extension, and reading SQLSTATEs off errors.
use postgres::{Client, NoTls};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The cluster's connection string; the tests refuse to run (fail) without one.
pub fn dsn() -> String {
    std::env::var("REKOR_TEST_DSN")
        .expect("REKOR_TEST_DSN is not set: run these tests through scripts/test.sh, which starts the cluster")
}

pub fn connect_db(db: &str) -> Client {
    let base = dsn();
    let dsn = format!("{base} dbname={db}");
    Client::connect(&dsn, NoTls).unwrap_or_else(|e| panic!("connect {dsn}: {e}"))
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A new database with `CREATE EXTENSION rekor_meta`, unique to this test.
pub fn fresh_db(name: &str) -> Client {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let db = format!("t_{}_{}_{}", name, std::process::id(), n);
    let mut admin = connect_db("postgres");
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).expect("drop db");
    admin.batch_execute(&format!("CREATE DATABASE {db}")).expect("create db");
    let mut c = connect_db(&db);
    c.batch_execute("CREATE EXTENSION rekor_meta").expect("create extension");
    c
}

/// The SQLSTATE of a failed statement (panics if it succeeded).
pub fn sqlstate<T: std::fmt::Debug>(r: Result<T, postgres::Error>) -> String {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => match e.as_db_error() {
            Some(db) => db.code().code().to_string(),
            None => panic!("not a database error: {e}"),
        },
    }
}

/// (SQLSTATE, message, detail) of a failed statement.
pub fn db_error<T: std::fmt::Debug>(r: Result<T, postgres::Error>) -> (String, String, String) {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => match e.as_db_error() {
            Some(db) => (
                db.code().code().to_string(),
                db.message().to_string(),
                db.detail().unwrap_or("").to_string(),
            ),
            None => panic!("not a database error: {e}"),
        },
    }
}

/// The postmaster's start time: if a backend crashed, the postmaster restarts its children and
/// every connection breaks; comparing this before and after proves no crash-restart happened.
pub fn postmaster_start(c: &mut Client) -> String {
    c.query_one("SELECT pg_postmaster_start_time()::text", &[]).expect("server up").get(0)
}

pub fn fixture(name: &str) -> String {
    let p = format!("{}/../fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}"))
}
