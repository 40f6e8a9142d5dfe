//! Merkle inclusion-proof verification benchmark (see bench/README.md).
//!
//! ```text
//! For each proof length L in {10, 20, 40} (tree size 2^L):
//! - generate N distinct valid proofs with the Rust core (deterministic SHA-256 counter PRNG),
//!   load them into a table with binary COPY, and check (untimed) that every verifier accepts
//!   them and rejects a wrong root, index or leaf;
//! - inside ONE backend (parallel query and JIT off) time full-table scans calling
//!     a     rekor_verify_inclusion_proof(leaf, idx, size, proof, root)   the extension
//!     b     bench_plpgsql_verify(...)          PL/pgSQL + pgcrypto digest() (DBA baseline)
//!     b2    bench_plpgsql_verify_builtin(...)  same PL/pgSQL, builtin sha256() (informational)
//!     empty num_nulls(leaf, idx, size, proof, root) = 0                 empty-call overhead
//!     bare  count(*) alone                                              bare scan
//!   server side (clock_timestamp() around EXECUTE in a PL/pgSQL timer), best of R rounds after
//!   a warm-up, asserting that every timed scan counts exactly N rows as verified;
//! - measure in this process
//!     c     the raw cost of the same hashing: L chained SHA-256(0x01 || left || right) per
//!           proof (65 bytes = 2 compression-function calls each), same N, best-of;
//!     c2    the floor under c: the same 2·L compressions as bare sha2::compress256 calls;
//!     d     rekor_meta_core::merkle::verify_inclusion with no SQL around it (informational);
//! - and, informationally, the client-side time of one prepared SELECT per proof for a, b and
//!   the empty call (dominated by the round trip; shows how per-statement figures arise).
//! Prints a table, PASS/MISS per target of the issue, and a `MERKLE_BENCH ...` line per L.
//!
//! usage: merkle [--dsn DSN] [--n N | N] [--runs R] [--lengths 10,20,40] [--db NAME] [--keep]
//!   --keep leaves the scratch database (default rekor_bench_merkle) and its tables
//!   bench_proofs_<L> in place, e.g. for profiling a backend that scans them.
//! ```
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};
use postgres::{Client, NoTls};
use rekor_meta_core::merkle::{self as mk, Hash};
use sha2::{Digest, Sha256};
use std::hint::black_box;
use std::time::Instant;

/// The issue's targets.
const TARGET_SPEEDUP: f64 = 10.0; // b/a at every proof length
const TARGET_ABS_US: f64 = 6.0; // a per proof for a ~31-hash proof
const TARGET_ABS_AT_LEN: f64 = 31.0;
const TARGET_HASH_FACTOR: f64 = 3.0; // a <= 3*c + empty-call time

struct Args {
    dsn: String,
    n: usize,
    runs: usize,
    lengths: Vec<u32>,
    db: String,
    keep: bool,
}

fn usage() -> ! {
    eprintln!("usage: merkle [--dsn DSN] [--n N | N] [--runs R] [--lengths 10,20,40] [--db NAME] [--keep]");
    eprintln!("  DSN defaults to $REKOR_BENCH_DSN or 'host=/work/main/target/bench-merkle-cluster port=28972 user=postgres'");
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut a = Args {
        dsn: std::env::var("REKOR_BENCH_DSN")
            .unwrap_or_else(|_| "host=/work/main/target/bench-merkle-cluster port=28972 user=postgres".into()),
        n: 20_000,
        runs: 5,
        lengths: vec![10, 20, 40],
        db: "rekor_bench_merkle".into(),
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
            "--n" => a.n = val("--n").parse().unwrap_or_else(|_| usage()),
            "--runs" => a.runs = val("--runs").parse().unwrap_or_else(|_| usage()),
            "--lengths" => {
                a.lengths = val("--lengths").split(',').map(|s| s.trim().parse().unwrap_or_else(|_| usage())).collect()
            }
            "--db" => a.db = val("--db"),
            "--keep" => a.keep = true,
            "-h" | "--help" => usage(),
            s if s.parse::<usize>().is_ok() => a.n = s.parse().unwrap(),
            _ => {
                eprintln!("unknown argument {arg}");
                usage()
            }
        }
    }
    if a.n == 0 || a.runs == 0 || a.lengths.iter().any(|&l| l == 0 || l > 62) {
        usage()
    }
    if !a.db.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        eprintln!("--db must be a plain identifier");
        usage()
    }
    a
}

// ---------------------------------------------------------------- deterministic test data

/// SHA-256 in counter mode: a deterministic, random-looking byte source (no rand crate needed).
fn prng(tag: &str, l: u32, i: u64, j: u64) -> Hash {
    let mut h = Sha256::new();
    h.update(b"rekor_meta merkle bench v1\0");
    h.update(tag.as_bytes());
    h.update(l.to_be_bytes());
    h.update(i.to_be_bytes());
    h.update(j.to_be_bytes());
    h.finalize().into()
}

struct Proof {
    leaf: Hash,
    idx: u64,
    size: u64,
    path: Vec<Hash>,
    root: Hash,
}

fn gen_proofs(l: u32, n: usize) -> Vec<Proof> {
    let size = 1u64 << l;
    let proofs: Vec<Proof> = (0..n as u64)
        .map(|i| {
            let leaf = prng("leaf", l, i, 0);
            let r = prng("idx", l, i, 0);
            let idx = u64::from_be_bytes(r[..8].try_into().unwrap()) & (size - 1);
            let path: Vec<Hash> = (0..l as u64).map(|j| prng("path", l, i, j)).collect();
            let slices: Vec<&[u8]> = path.iter().map(|h| h.as_slice()).collect();
            // In a tree of 2^L leaves every index has a proof of exactly L hashes.
            assert_eq!(mk::inclusion_proof_len(idx, size).unwrap(), l as usize);
            let root = mk::root_from_inclusion_proof(idx, size, &leaf, &slices).expect("valid proof");
            Proof { leaf, idx, size, path, root }
        })
        .collect();
    let distinct: std::collections::HashSet<&Hash> = proofs.iter().map(|p| &p.leaf).collect();
    assert_eq!(distinct.len(), n, "generated proofs are not distinct");
    proofs
}

// ---------------------------------------------------------------- in-process measurements

/// (c) The raw hashing a verification needs: L chained node hashes per proof, each
/// SHA-256(0x01 || left || right) over 65 bytes = 2 SHA-256 compressions. The sides alternate with
/// the index bits like the real algorithm, the buffer is built in place, and each result feeds the
/// next hash, so nothing can be hoisted or run in parallel. Returns seconds for all proofs.
fn time_raw_hashing(proofs: &[Proof]) -> f64 {
    let t = Instant::now();
    for p in proofs {
        let p = black_box(p);
        let mut seed = p.leaf;
        let mut block = [0u8; 65];
        block[0] = 1;
        for (i, h) in p.path.iter().enumerate() {
            if (p.idx >> i) & 1 == 0 {
                block[1..33].copy_from_slice(&seed);
                block[33..].copy_from_slice(h);
            } else {
                block[1..33].copy_from_slice(h);
                block[33..].copy_from_slice(&seed);
            }
            seed = Sha256::digest(block).into();
        }
        black_box(seed);
    }
    t.elapsed().as_secs_f64()
}

/// (c2, informational) The floor under (c): the same chained node hashes with the two padded blocks
/// of the 65-byte message laid out by hand and fed straight to the SHA-256 compression function
/// (sha2::compress256, SHA-NI when the CPU has it): 2·L compressions and nothing else but glue.
fn node_by_compress(l: &Hash, r: &Hash) -> Hash {
    use sha2::digest::generic_array::GenericArray;
    const H0: [u32; 8] =
        [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    let mut b0 = [0u8; 64];
    b0[0] = 1;
    b0[1..33].copy_from_slice(l);
    b0[33..].copy_from_slice(&r[..31]);
    let mut b1 = [0u8; 64];
    b1[0] = r[31];
    b1[1] = 0x80;
    b1[62] = 0x02; // message length 65 bytes = 520 bits = 0x0208, big-endian
    b1[63] = 0x08;
    let mut st = H0;
    sha2::compress256(&mut st, &[GenericArray::from(b0), GenericArray::from(b1)]);
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(st) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

fn chain_by_compress(p: &Proof) -> Hash {
    let mut seed = p.leaf;
    for (i, h) in p.path.iter().enumerate() {
        seed = if (p.idx >> i) & 1 == 0 { node_by_compress(&seed, h) } else { node_by_compress(h, &seed) };
    }
    seed
}

fn time_raw_compressions(proofs: &[Proof]) -> f64 {
    // The glue is right: for a 2^L tree the chain alone reaches the root.
    for p in proofs.iter().take(100) {
        assert_eq!(chain_by_compress(p), p.root, "compress256 node hash is wrong");
    }
    let t = Instant::now();
    for p in proofs {
        black_box(chain_by_compress(black_box(p)));
    }
    t.elapsed().as_secs_f64()
}

/// (d) The core's verify_inclusion with no SQL around it, given borrowed slices the way the
/// extension's wrapper builds them (one Vec<&[u8]> per call). Returns seconds for all proofs.
fn time_core_verify(proofs: &[Proof]) -> f64 {
    let t = Instant::now();
    let mut ok = 0usize;
    for p in proofs {
        let p = black_box(p);
        let slices: Vec<&[u8]> = p.path.iter().map(|h| h.as_slice()).collect();
        if mk::verify_inclusion(p.idx, p.size, &p.leaf, &slices, &p.root).is_ok() {
            ok += 1;
        }
    }
    let s = t.elapsed().as_secs_f64();
    assert_eq!(black_box(ok), proofs.len(), "core verify_inclusion rejected a valid proof");
    s
}

/// Best (minimum) of at least `runs` timed runs after a warm-up, continuing until the runs add up
/// to half a second, so that a burst of other load on the machine cannot decide the figure.
fn best_of(runs: usize, mut f: impl FnMut() -> f64) -> f64 {
    f(); // warm-up
    let (mut best, mut total, mut k) = (f64::INFINITY, 0.0, 0);
    while k < runs || (total < 0.5 && k < 1000) {
        let s = f();
        best = best.min(s);
        total += s;
        k += 1;
    }
    best
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

// ---------------------------------------------------------------- database side

/// Functions the benchmark creates in its own scratch database.
const SETUP_SQL: &str = r#"
CREATE EXTENSION rekor_meta;
CREATE EXTENSION pgcrypto;

-- (b) The baseline a DBA would write: RFC 9162 §2.1.3.2 inclusion verification in plain PL/pgSQL,
-- hashing with pgcrypto's digest(). Deliberately minimal (no per-hash length checks) so that the
-- baseline is, if anything, flattered.
CREATE FUNCTION bench_plpgsql_verify(leaf bytea, idx bigint, size bigint, proof bytea[], root bytea)
RETURNS boolean LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
DECLARE
    fn bigint := idx;
    sn bigint := size - 1;
    r  bytea  := leaf;
    p  bytea;
BEGIN
    IF idx < 0 OR idx >= size THEN
        RETURN false;
    END IF;
    FOREACH p IN ARRAY proof LOOP
        IF sn = 0 THEN
            RETURN false;
        END IF;
        IF fn & 1 = 1 OR fn = sn THEN
            r := digest('\x01'::bytea || p || r, 'sha256');
            IF fn & 1 = 0 THEN
                WHILE fn & 1 = 0 AND fn <> 0 LOOP
                    fn := fn >> 1;
                    sn := sn >> 1;
                END LOOP;
            END IF;
        ELSE
            r := digest('\x01'::bytea || r || p, 'sha256');
        END IF;
        fn := fn >> 1;
        sn := sn >> 1;
    END LOOP;
    RETURN sn = 0 AND r = root;
END
$fn$;

-- (b2) Informational: the same PL/pgSQL with PostgreSQL's builtin sha256(bytea) instead of pgcrypto.
CREATE FUNCTION bench_plpgsql_verify_builtin(leaf bytea, idx bigint, size bigint, proof bytea[], root bytea)
RETURNS boolean LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
DECLARE
    fn bigint := idx;
    sn bigint := size - 1;
    r  bytea  := leaf;
    p  bytea;
BEGIN
    IF idx < 0 OR idx >= size THEN
        RETURN false;
    END IF;
    FOREACH p IN ARRAY proof LOOP
        IF sn = 0 THEN
            RETURN false;
        END IF;
        IF fn & 1 = 1 OR fn = sn THEN
            r := sha256('\x01'::bytea || p || r);
            IF fn & 1 = 0 THEN
                WHILE fn & 1 = 0 AND fn <> 0 LOOP
                    fn := fn >> 1;
                    sn := sn >> 1;
                END LOOP;
            END IF;
        ELSE
            r := sha256('\x01'::bytea || r || p);
        END IF;
        fn := fn >> 1;
        sn := sn >> 1;
    END LOOP;
    RETURN sn = 0 AND r = root;
END
$fn$;

-- Server-side timer: runs one count query `reps` times in this backend and returns the count and
-- the fastest single execution in milliseconds. clock_timestamp() is read immediately around each
-- EXECUTE, so neither the client round trip nor result transfer is included (planning the
-- one-line query is, a few µs per execution, i.e. well under 0.1% of any scan timed here).
CREATE FUNCTION bench_time(q text, reps int, OUT n bigint, OUT ms double precision)
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

/// The scans being timed, in the order they run within each round.
struct Method {
    key: &'static str,
    what: &'static str,
    pred: &'static str,
}

const METHODS: &[Method] = &[
    Method { key: "bare", what: "bare scan: count(*)", pred: "" },
    Method {
        // The "empty SQL function": num_nulls(VARIADIC "any") is a builtin C function that takes
        // exactly our five arguments (bytea, bigint, bigint, bytea[], bytea) and only tests
        // their null flags: no detoasting, no allocation, no result beyond an int4. So the scan
        // costs tuple deforming of all five columns + one fmgr call per row and nothing else; a
        // SQL-language function would be inlined (no call at all) and a PL/pgSQL one would
        // measure the PL/pgSQL interpreter instead. The int4 = 0 comparison adds one trivial call.
        key: "empty",
        what: "empty-call: num_nulls(5 args) = 0",
        pred: "num_nulls(leaf, idx, size, proof, root) = 0",
    },
    Method {
        key: "a",
        what: "a: rekor_verify_inclusion_proof",
        pred: "rekor_verify_inclusion_proof(leaf, idx, size, proof, root)",
    },
    Method {
        key: "b",
        what: "b: PL/pgSQL + pgcrypto digest()",
        pred: "bench_plpgsql_verify(leaf, idx, size, proof, root)",
    },
    Method {
        key: "b2",
        what: "b2: PL/pgSQL + builtin sha256()",
        pred: "bench_plpgsql_verify_builtin(leaf, idx, size, proof, root)",
    },
];

fn count_query(table: &str, pred: &str) -> String {
    if pred.is_empty() {
        format!("SELECT count(*) FROM {table}")
    } else {
        format!("SELECT count(*) FILTER (WHERE {pred}) FROM {table}")
    }
}

/// Runs a query `reps` times server-side; asserts its count. Returns the fastest run in milliseconds.
fn timed(c: &mut Client, q: &str, reps: i32, want: i64) -> f64 {
    let row = c.query_one("SELECT n, ms FROM bench_time($1, $2)", &[&q, &reps]).unwrap_or_else(|e| panic!("{q}: {e}"));
    let n: i64 = row.get(0);
    let ms: f64 = row.get(1);
    assert_eq!(n, want, "{q} counted {n} rows as verified, want {want}: verifier broken?");
    ms
}

/// Informational: one verification per statement from this client (prepared SELECT, one round trip
/// over the unix socket each), the way an application checking entries one by one would call it.
/// Returns µs per statement for each function, best of `runs` passes over up to 2000 proofs; the
/// passes of the functions are interleaved so that noise hits them alike.
fn per_statement_us(c: &mut Client, funcs: &[&str], proofs: &[Proof], runs: usize) -> Vec<f64> {
    let stmts: Vec<_> = funcs
        .iter()
        .map(|f| {
            c.prepare(&format!("SELECT {f}($1::bytea, $2::bigint, $3::bigint, $4::bytea[], $5::bytea)"))
                .expect("prepare")
        })
        .collect();
    let sample = &proofs[..proofs.len().min(2000)];
    type Params = (Vec<u8>, i64, i64, Vec<Vec<u8>>, Vec<u8>);
    let args: Vec<Params> = sample
        .iter()
        .map(|p| {
            (p.leaf.to_vec(), p.idx as i64, p.size as i64, p.path.iter().map(|h| h.to_vec()).collect(), p.root.to_vec())
        })
        .collect();
    let mut pass = |k: usize, check: bool| {
        let t = Instant::now();
        for a in &args {
            let row = c.query_one(&stmts[k], &[&a.0, &a.1, &a.2, &a.3, &a.4]).expect("per-statement query");
            if check {
                // num_nulls returns int4 0; the verifiers return true.
                let ok = row.try_get::<_, bool>(0).unwrap_or_else(|_| row.get::<_, i32>(0) == 0);
                assert!(ok, "{} rejected a valid proof", funcs[k]);
            }
        }
        t.elapsed().as_secs_f64()
    };
    let mut best = vec![f64::INFINITY; funcs.len()];
    for k in 0..funcs.len() {
        pass(k, true);
    }
    for _ in 0..runs {
        for (k, b) in best.iter_mut().enumerate() {
            *b = b.min(pass(k, false));
        }
    }
    best.iter().map(|s| s * 1e6 / args.len() as f64).collect()
}

fn scalar_i64(c: &mut Client, q: &str) -> i64 {
    c.query_one(q, &[]).unwrap_or_else(|e| panic!("{q}: {e}")).get(0)
}

fn load_table(c: &mut Client, table: &str, proofs: &[Proof]) {
    c.batch_execute(&format!(
        "DROP TABLE IF EXISTS {table};
         CREATE TABLE {table} (leaf bytea NOT NULL, idx bigint NOT NULL, size bigint NOT NULL,
                               proof bytea[] NOT NULL, root bytea NOT NULL);
         -- random hashes do not compress; EXTERNAL only makes sure nothing ever tries.
         ALTER TABLE {table} ALTER COLUMN proof SET STORAGE EXTERNAL;"
    ))
    .expect("create table");
    let sink =
        c.copy_in(&format!("COPY {table} (leaf, idx, size, proof, root) FROM STDIN (FORMAT binary)")).expect("copy in");
    let mut w = BinaryCopyInWriter::new(sink, &[Type::BYTEA, Type::INT8, Type::INT8, Type::BYTEA_ARRAY, Type::BYTEA]);
    for p in proofs {
        let leaf: &[u8] = &p.leaf;
        let idx = p.idx as i64;
        let size = p.size as i64;
        let path: Vec<&[u8]> = p.path.iter().map(|h| h.as_slice()).collect();
        let root: &[u8] = &p.root;
        let row: [&(dyn ToSql + Sync); 5] = [&leaf, &idx, &size, &path, &root];
        w.write(&row).expect("copy row");
    }
    let n = w.finish().expect("copy finish");
    assert_eq!(n as usize, proofs.len());
    // Set hint bits and the visibility map now, so no timed scan pays for them; refresh stats.
    c.batch_execute(&format!("VACUUM (FREEZE, ANALYZE) {table}")).expect("vacuum");
}

/// Untimed checks that the functions being timed are real verifiers: every stored proof verifies
/// with (a), (b) and (b2), and a wrong root or a flipped index bit is rejected by each.
fn check_verifiers(c: &mut Client, table: &str, n: i64, l: u32) {
    let sample = format!("(SELECT * FROM {table} ORDER BY ctid LIMIT 1000) s");
    let ns = n.min(1000);
    for (name, f) in
        [("a", "rekor_verify_inclusion_proof"), ("b", "bench_plpgsql_verify"), ("b2", "bench_plpgsql_verify_builtin")]
    {
        let good =
            scalar_i64(c, &format!("SELECT count(*) FILTER (WHERE {f}(leaf, idx, size, proof, root)) FROM {sample}"));
        assert_eq!(good, ns, "({name}) {f} rejected valid proofs");
        let bad_root = scalar_i64(
            c,
            &format!("SELECT count(*) FILTER (WHERE {f}(leaf, idx, size, proof, sha256(root))) FROM {sample}"),
        );
        assert_eq!(bad_root, 0, "({name}) {f} accepted a wrong root");
        // Flipping the lowest index bit swaps a left/right order (index stays < 2^L).
        let bad_idx = scalar_i64(
            c,
            &format!("SELECT count(*) FILTER (WHERE {f}(leaf, idx # 1, size, proof, root)) FROM {sample}"),
        );
        assert_eq!(bad_idx, 0, "({name}) {f} accepted a wrong index");
        let bad_leaf = scalar_i64(
            c,
            &format!("SELECT count(*) FILTER (WHERE {f}(sha256(leaf), idx, size, proof, root)) FROM {sample}"),
        );
        assert_eq!(bad_leaf, 0, "({name}) {f} accepted a wrong leaf");
    }
    // The roots the extension computes are the ones the Rust core computed at generation time.
    let same = scalar_i64(
        c,
        &format!("SELECT count(*) FILTER (WHERE rekor_inclusion_root(leaf, idx, size, proof) = root) FROM {table}"),
    );
    assert_eq!(same, n, "rekor_inclusion_root disagrees with the Rust core");
    let lens = scalar_i64(
        c,
        &format!("SELECT count(*) FILTER (WHERE cardinality(proof) = {l} AND size = 1::bigint << {l}) FROM {table}"),
    );
    assert_eq!(lens, n, "table does not hold {l}-hash proofs of 2^{l}-leaf trees");
}

struct Row {
    l: u32,
    n: usize,
    /// µs per proof for each METHODS entry, same order.
    us: Vec<f64>,
    c_us: f64,
    c2_us: f64,
    d_us: f64,
    /// Informational, client wall clock: one prepared SELECT per proof for a, b, empty-call.
    stmt_us: [f64; 3],
}

impl Row {
    fn get(&self, key: &str) -> f64 {
        let i = METHODS.iter().position(|m| m.key == key).unwrap();
        self.us[i]
    }
}

fn pass(ok: bool) -> &'static str {
    if ok {
        "PASS"
    } else {
        "MISS"
    }
}

fn main() {
    let args = parse_args();
    let mut admin = Client::connect(&format!("{} dbname=postgres", args.dsn), NoTls)
        .unwrap_or_else(|e| panic!("connect {}: {e}", args.dsn));
    let server_version: String = admin.query_one("SHOW server_version", &[]).unwrap().get(0);
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", args.db)).expect("drop scratch database");
    admin.batch_execute(&format!("CREATE DATABASE {}", args.db)).expect("create scratch database");
    let mut c = Client::connect(&format!("{} dbname={}", args.dsn, args.db), NoTls).expect("connect scratch db");
    c.batch_execute(SETUP_SQL).expect("setup SQL");
    // One backend, no helpers: no parallel workers, and no JIT (whose compile time would be charged
    // to the first scans and whose expression code differs between methods).
    c.batch_execute("SET max_parallel_workers_per_gather = 0; SET jit = off;").unwrap();
    let ext_version: String =
        c.query_one("SELECT extversion FROM pg_extension WHERE extname = 'rekor_meta'", &[]).unwrap().get(0);
    let backend_pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);

    println!(
        "rekor_meta Merkle inclusion-proof benchmark: PostgreSQL {server_version}, rekor_meta {ext_version}, \
         N={} proofs per length, best of {} runs after a warm-up, one backend (pid {backend_pid})",
        args.n, args.runs
    );

    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0);
    println!("machine: {cpu}, {cores} CPUs; load average at start {}", loadavg());

    let mut rows = Vec::new();
    for &l in &args.lengths {
        let table = format!("bench_proofs_{l}");
        let t = Instant::now();
        let proofs = gen_proofs(l, args.n);
        let gen_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        load_table(&mut c, &table, &proofs);
        let load_s = t.elapsed().as_secs_f64();
        check_verifiers(&mut c, &table, args.n as i64, l);
        eprintln!(
            "[merkle] L={l}: generated {} proofs in {gen_s:.2}s, loaded in {load_s:.2}s, verifiers checked",
            args.n
        );

        // Server side. One untimed warm-up of every scan (caches, plpgsql compilation) that also
        // sizes the samples: a scan faster than MIN_SAMPLE_MS is run back to back `reps` times per
        // sample (keeping its fastest run), so the cheap bare and empty-call scans get as many
        // chances as the expensive ones. Then R rounds, each taking one sample of every scan, so
        // slow drift affects all methods alike; keep each method's best.
        const MIN_SAMPLE_MS: f64 = 100.0;
        let n = args.n as i64;
        let queries: Vec<String> = METHODS.iter().map(|m| count_query(&table, m.pred)).collect();
        let reps: Vec<i32> = queries
            .iter()
            .map(|q| {
                let ms = timed(&mut c, q, 1, n);
                (MIN_SAMPLE_MS / ms.max(0.001)).ceil().clamp(1.0, 1000.0) as i32
            })
            .collect();
        let mut best = vec![f64::INFINITY; METHODS.len()];
        for _ in 0..args.runs {
            for (i, q) in queries.iter().enumerate() {
                best[i] = best[i].min(timed(&mut c, q, reps[i], n));
            }
        }
        let us: Vec<f64> = best.iter().map(|ms| ms * 1000.0 / args.n as f64).collect();

        // In process.
        let c_us = best_of(args.runs.max(5), || time_raw_hashing(&proofs)) * 1e6 / args.n as f64;
        let c2_us = best_of(args.runs.max(5), || time_raw_compressions(&proofs)) * 1e6 / args.n as f64;
        let d_us = best_of(args.runs.max(5), || time_core_verify(&proofs)) * 1e6 / args.n as f64;
        let s = per_statement_us(
            &mut c,
            &["rekor_verify_inclusion_proof", "bench_plpgsql_verify", "num_nulls"],
            &proofs,
            args.runs,
        );
        let stmt_us = [s[0], s[1], s[2]];
        rows.push(Row { l, n: args.n, us, c_us, c2_us, d_us, stmt_us });
        if !args.keep {
            c.batch_execute(&format!("DROP TABLE IF EXISTS {table}")).ok();
        }
    }
    drop(c);
    if !args.keep {
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", args.db)).ok();
    }

    report(&rows);
    println!("load average at end {} (other processes on this machine add noise; figures are best-of)", loadavg());
}

fn report(rows: &[Row]) {
    println!();
    println!("Time per proof (µs), server-side scan time / N; c and d in-process Rust:");
    for m in METHODS {
        let q = if m.pred.is_empty() {
            "SELECT count(*) FROM t".to_string()
        } else {
            format!("count(*) FILTER (WHERE {})", m.pred)
        };
        println!("  {:<6} {:<36} {}", m.key, m.what, q);
    }
    println!("  c      Rust: L chained SHA-256(0x01||l||r) (2 compressions each), no SQL");
    println!("  c2     Rust: the same as 2·L bare compress256 calls, padding laid out by hand (hashing floor)");
    println!("  d      Rust: rekor_meta_core::merkle::verify_inclusion, no SQL");
    println!(
        "{:>3} {:>7} | {:>9} {:>9} {:>9} {:>9} {:>9} | {:>9} {:>9} {:>9}",
        "L", "N", "a rekor", "b pgcrypt", "b2 sha256", "empty", "bare", "c rawSHA", "c2 compr", "d core"
    );
    for r in rows {
        println!(
            "{:>3} {:>7} | {:>9.3} {:>9.3} {:>9.3} {:>9.3} {:>9.3} | {:>9.3} {:>9.3} {:>9.3}",
            r.l,
            r.n,
            r.get("a"),
            r.get("b"),
            r.get("b2"),
            r.get("empty"),
            r.get("bare"),
            r.c_us,
            r.c2_us,
            r.d_us
        );
    }
    println!();
    println!("Throughput and ratios (the issue's \"a/b\" = how many times faster a is = b/a here;");
    println!("ceiling = b/(c2+empty): the speed-up of a verifier whose only cost is the hashing floor):");
    println!(
        "{:>3} | {:>11} {:>11} | {:>8} {:>8} {:>8} | {:>6} | {:>8} {:>10} {:>8}",
        "L", "a verif/s", "b verif/s", "b/a", "b2/a", "ceiling", "a/c", "a-empty", "3c+empty", "(a-e)/c"
    );
    for r in rows {
        let (a, b, b2, e) = (r.get("a"), r.get("b"), r.get("b2"), r.get("empty"));
        println!(
            "{:>3} | {:>11.0} {:>11.0} | {:>7.1}x {:>7.1}x {:>7.1}x | {:>6.2} | {:>8.3} {:>10.3} {:>8.2}",
            r.l,
            1e6 / a,
            1e6 / b,
            b / a,
            b2 / a,
            b / (r.c2_us + e),
            a / r.c_us,
            a - e,
            TARGET_HASH_FACTOR * r.c_us + e,
            (a - e) / r.c_us
        );
    }

    println!();
    println!("Targets:");
    let mut all = true;
    for r in rows {
        let (a, b, e) = (r.get("a"), r.get("b"), r.get("empty"));
        let s_ok = b / a >= TARGET_SPEEDUP;
        let h_ok = a <= TARGET_HASH_FACTOR * r.c_us + e;
        all &= s_ok && h_ok;
        println!(
            "  L={:<2}  a/b speed-up {:>6.1}x >= {TARGET_SPEEDUP}x: {}   a {:.3} µs <= 3*c + empty = {:.3} µs: {}",
            r.l,
            b / a,
            pass(s_ok),
            a,
            TARGET_HASH_FACTOR * r.c_us + e,
            pass(h_ok)
        );
        if r.l >= 20 {
            let ok = a <= TARGET_ABS_US;
            all &= ok;
            println!("  L={:<2}  a {:.3} µs <= {TARGET_ABS_US} µs: {}", r.l, a, pass(ok));
        }
    }
    // The 6 µs figure is for a 31-hash proof: interpolate between the measured lengths around 31.
    let below = rows.iter().filter(|r| (r.l as f64) <= TARGET_ABS_AT_LEN).max_by_key(|r| r.l);
    let above = rows.iter().filter(|r| (r.l as f64) >= TARGET_ABS_AT_LEN).min_by_key(|r| r.l);
    if let (Some(lo), Some(hi)) = (below, above) {
        let a31 = if hi.l == lo.l {
            lo.get("a")
        } else {
            lo.get("a") + (hi.get("a") - lo.get("a")) * (TARGET_ABS_AT_LEN - lo.l as f64) / (hi.l - lo.l) as f64
        };
        let ok = a31 <= TARGET_ABS_US;
        all &= ok;
        println!(
            "  L=31  a {:.3} µs (interpolated between L={} and L={}) <= {TARGET_ABS_US} µs: {}",
            a31,
            lo.l,
            hi.l,
            pass(ok)
        );
    }
    println!("  overall: {}", if all { "all targets met" } else { "SOME TARGETS MISSED" });

    println!();
    println!("Informational: one verification per statement from the client (prepared SELECT, unix-socket");
    println!("round trip each, client wall clock, up to 2000 proofs), the way the issue's per-call figures arise:");
    println!("{:>3} | {:>9} {:>9} {:>9} | {:>8}", "L", "a stmt", "b stmt", "empty", "b/a");
    for r in rows {
        let [a, b, e] = r.stmt_us;
        println!("{:>3} | {:>9.2} {:>9.2} {:>9.2} | {:>7.1}x", r.l, a, b, e, b / a);
    }

    println!();
    for r in rows {
        let (a, b, b2, e, s) = (r.get("a"), r.get("b"), r.get("b2"), r.get("empty"), r.get("bare"));
        println!(
            "MERKLE_BENCH L={} n={} a_us={:.4} b_us={:.4} b2_us={:.4} empty_us={:.4} bare_us={:.4} c_us={:.4} c2_us={:.4} d_us={:.4} \
             a_per_s={:.0} b_per_s={:.0} b_over_a={:.2} ceiling={:.2} a_over_c={:.3} a_bound_us={:.4} \
             a_stmt_us={:.2} b_stmt_us={:.2} empty_stmt_us={:.2} speedup={} hash_bound={}{}",
            r.l,
            r.n,
            a,
            b,
            b2,
            e,
            s,
            r.c_us,
            r.c2_us,
            r.d_us,
            1e6 / a,
            1e6 / b,
            b / a,
            b / (r.c2_us + e),
            a / r.c_us,
            TARGET_HASH_FACTOR * r.c_us + e,
            r.stmt_us[0],
            r.stmt_us[1],
            r.stmt_us[2],
            pass(b / a >= TARGET_SPEEDUP),
            pass(a <= TARGET_HASH_FACTOR * r.c_us + e),
            if r.l >= 20 { format!(" abs6us={}", pass(a <= TARGET_ABS_US)) } else { String::new() }
        );
    }
}
