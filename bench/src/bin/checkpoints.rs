//! Checkpoint verification benchmark (issue: signed checkpoints).
//!
//! In one run, for a real Rekor v1 checkpoint (ECDSA P-256) and a real Rekor v2 checkpoint
//! (Ed25519) from tests/fixtures/checkpoints.json:
//! - in ONE backend, server-side timed (clock_timestamp() around EXECUTE, best of R):
//!     verify   count(*) FILTER (WHERE rekor_verify_checkpoint(note, key))  over N rows
//!     parse    count(*) FILTER (WHERE (rekor_parse_checkpoint(note)).tree_size > 0)
//!     empty    count(*) FILTER (WHERE num_nulls(note, key) = 0)           per-call overhead
//! - in this process, with the crate the extension uses (ring, through rekor_meta_core):
//!     crate    LogKey::verify(signed bytes, signature) on the same note, N times
//!     full     parse note + parse key + verify_any_name (what the SQL function does), N times
//! Prints verifications/s, and the ratio (in-database verify time per row) / (crate verify time),
//! target <= 1.5x. Every timed scan must count exactly N verified rows, or the run aborts.
//!
//! usage: checkpoints [--dsn DSN] [N]
use postgres::{Client, NoTls};
use rekor_meta_core::checkpoint::parse_checkpoint;
use rekor_meta_core::keys::LogKey;
use std::hint::black_box;
use std::time::Instant;

const TARGET_RATIO: f64 = 1.5;

const TIMER: &str = r#"
CREATE OR REPLACE FUNCTION bench_time(q text, reps int, OUT n bigint, OUT ms double precision)
LANGUAGE plpgsql AS $fn$
DECLARE
    t0 timestamptz;
    t  double precision;
BEGIN
    ms := 'Infinity';
    FOR i IN 1 .. reps LOOP
        t0 := clock_timestamp();
        EXECUTE q INTO n;
        t := extract(epoch FROM clock_timestamp() - t0) * 1000.0;
        ms := least(ms, t);
    END LOOP;
END
$fn$;
"#;

struct Case {
    label: &'static str,
    checkpoint_id: &'static str,
    key_id: &'static str,
}

const CASES: &[Case] = &[
    Case {
        label: "ecdsa-p256",
        checkpoint_id: "cp-rekor.sigstore.dev-1193050959916656506-28418423",
        key_id: "production:rekor.sigstore.dev",
    },
    Case {
        label: "ed25519",
        checkpoint_id: "cp-log2025-alpha1.rekor.sigstage.dev-4424",
        key_id: "staging:log2025-alpha1.rekor.sigstage.dev",
    },
];

fn fixture(name: &str) -> serde_json::Value {
    let p = format!("{}/../tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}")))
        .unwrap_or_else(|e| panic!("{p}: {e}"))
}

fn find<'a>(list: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    list.as_array()
        .and_then(|a| a.iter().find(|x| x["id"] == id))
        .unwrap_or_else(|| panic!("fixture {id} not found"))
}

/// Best time in seconds of `runs` runs of `f`.
fn best_of(runs: usize, mut f: impl FnMut() -> f64) -> f64 {
    (0..runs).map(|_| f()).fold(f64::INFINITY, f64::min)
}

fn timed(c: &mut Client, q: &str, reps: i32, want: i64) -> f64 {
    let row = c.query_one("SELECT n, ms FROM bench_time($1, $2)", &[&q, &reps]).expect("timed query");
    let n: i64 = row.get(0);
    assert_eq!(n, want, "{q}: counted {n}, want {want}");
    row.get::<_, f64>(1) / 1000.0
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut dsn = "host=/work/main/target/bench-checkpoints-cluster port=28973 user=postgres".to_string();
    let mut n: i64 = 5000;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--dsn" => dsn = args.next().expect("--dsn DSN"),
            x => n = x.parse().expect("usage: checkpoints [--dsn DSN] [N]"),
        }
    }
    let runs = 5;
    let checkpoints = fixture("checkpoints.json");
    let keys = fixture("keys.json");

    let mut admin = Client::connect(&format!("{dsn} dbname=postgres"), NoTls).expect("connect");
    admin.batch_execute("DROP DATABASE IF EXISTS rekor_bench_checkpoints").expect("drop db");
    admin.batch_execute("CREATE DATABASE rekor_bench_checkpoints").expect("create db");
    let mut c = Client::connect(&format!("{dsn} dbname=rekor_bench_checkpoints"), NoTls).expect("connect");
    c.batch_execute("CREATE EXTENSION rekor_meta; SET jit = off; SET max_parallel_workers_per_gather = 0;")
        .expect("setup");
    c.batch_execute(TIMER).expect("timer");

    println!("checkpoint verification, N = {n} rows per case, best of {runs}");
    println!(
        "{:<11} {:>12} {:>12} {:>12} {:>12} {:>12} {:>9}  target",
        "case", "sql verify", "sql parse", "empty call", "crate verify", "crate full", "ratio"
    );
    let mut all_ok = true;
    for case in CASES {
        let cp = find(&checkpoints["checkpoints"], case.checkpoint_id);
        let note = cp["envelope"].as_str().expect("envelope");
        let key_pem = find(&keys["keys"], case.key_id)["public_key_pem"].as_str().expect("pem");
        let key = LogKey::parse(key_pem.as_bytes()).expect("key");
        let der = key.spki_der().to_vec();

        c.batch_execute("DROP TABLE IF EXISTS notes; CREATE TABLE notes (note text, key bytea)").expect("table");
        c.execute("INSERT INTO notes SELECT $1, $2 FROM generate_series(1, $3::bigint)", &[&note, &der, &n])
            .expect("load");
        c.batch_execute("VACUUM (FREEZE, ANALYZE) notes").expect("vacuum");

        let verify_q = "SELECT count(*) FILTER (WHERE rekor_verify_checkpoint(note, key)) FROM notes";
        let parse_q = "SELECT count(*) FILTER (WHERE (rekor_parse_checkpoint(note)).tree_size > 0) FROM notes";
        let empty_q = "SELECT count(*) FILTER (WHERE num_nulls(note, key) = 0) FROM notes";
        // Warm-up (also asserts every row verifies).
        timed(&mut c, verify_q, 1, n);
        let mut sql_verify = f64::INFINITY;
        let mut sql_parse = f64::INFINITY;
        let mut empty = f64::INFINITY;
        for _ in 0..runs {
            sql_verify = sql_verify.min(timed(&mut c, verify_q, 1, n));
            sql_parse = sql_parse.min(timed(&mut c, parse_q, 1, n));
            empty = empty.min(timed(&mut c, empty_q, 1, n));
        }

        let parsed = parse_checkpoint(note.as_bytes()).expect("parse");
        let sig = parsed
            .signatures
            .iter()
            .find(|s| s.key_hint == key.key_hint(&s.name))
            .map(|s| s.signature.clone())
            .expect("a signature for the key");
        let msg = parsed.signed_bytes().to_vec();
        assert!(key.verify(&msg, &sig), "the crate must verify the fixture");
        let crate_verify = best_of(runs, || {
            let t = Instant::now();
            for _ in 0..n {
                assert!(black_box(key.verify(black_box(&msg), black_box(&sig))));
            }
            t.elapsed().as_secs_f64()
        });
        let crate_full = best_of(runs, || {
            let t = Instant::now();
            for _ in 0..n {
                let cp = parse_checkpoint(black_box(note.as_bytes())).expect("parse");
                let k = LogKey::parse(black_box(&der)).expect("key");
                assert!(black_box(cp.verify_any_name(&k)).is_some());
            }
            t.elapsed().as_secs_f64()
        });

        let per = |t: f64| t / n as f64 * 1e6;
        let ratio = sql_verify / crate_verify;
        let ok = ratio <= TARGET_RATIO;
        all_ok &= ok;
        println!(
            "{:<11} {:>9.1} µs {:>9.2} µs {:>9.2} µs {:>9.1} µs {:>9.1} µs {:>8.2}x  <= {TARGET_RATIO}x {}",
            case.label,
            per(sql_verify),
            per(sql_parse),
            per(empty),
            per(crate_verify),
            per(crate_full),
            ratio,
            if ok { "PASS" } else { "MISS" }
        );
        println!(
            "CHECKPOINT_BENCH case={} n={n} sql_verify_per_s={:.0} sql_parse_per_s={:.0} crate_verify_per_s={:.0} crate_full_per_s={:.0} ratio={ratio:.3}",
            case.label,
            n as f64 / sql_verify,
            n as f64 / sql_parse,
            n as f64 / crate_verify,
            n as f64 / crate_full
        );
    }
    drop(c);
    admin.batch_execute("DROP DATABASE IF EXISTS rekor_bench_checkpoints").expect("drop db");
    println!("target (in-database verification within {TARGET_RATIO}x of the crate's own speed): {}", if all_ok { "PASS" } else { "MISS" });
}
