//! Deployment (deploy/, scripts/package.sh), checked as far as a machine without Docker and
//! Kubernetes allows:
//! - the release tarball and the Debian package that scripts/package.sh built (scripts/test.sh runs it
//!   before these tests) hold exactly the extension's files, and each installs into a clean PostgreSQL
//!   15 (a copy of the Debian postgresql-15 packages' files in a temporary root, relocated by PostgreSQL
//!   itself) where deploy/docker/smoke.sh, the script the Docker images run, proves it works;
//! - every manifest under deploy/ parses and carries the fields a deployment needs; the Cluster
//!   parameters are valid PostgreSQL 15 settings within the Cluster's memory and connection budget;
//! - the SQL the Cluster manifests run at bootstrap, their managed roles, the monitoring queries and the
//!   compose init SQL run on the test cluster and leave the extension and its roles working;
//! - the rendered files match deploy/pooler-values.yaml (deploy/render.py --check), and the PgBouncer of
//!   the queue's pooler test (scripts/pgbouncer.sh) runs with the Pooler manifests' settings.
use postgres::{Client, NoTls, SimpleQueryMessage};
use rekor_meta_client_tests::*;
use serde_yaml::Value as Y;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
const GROUP_ROLES: [&str; 4] = ["rekor_reader", "rekor_writer", "rekor_worker", "rekor_admin"];
/// CloudNativePG manages these itself and refuses them in spec.postgresql.parameters.
const CNPG_FIXED_PARAMETERS: &[&str] = &[
    "allow_system_table_mods", "archive_cleanup_command", "archive_command", "archive_mode", "bonjour",
    "bonjour_name", "cluster_name", "config_file", "data_directory", "data_sync_retry", "external_pid_file",
    "full_page_writes", "hba_file", "hot_standby", "ident_file", "jit_provider", "listen_addresses",
    "log_destination", "log_directory", "log_file_mode", "log_filename", "log_rotation_age",
    "log_rotation_size", "log_truncate_on_rotation", "logging_collector", "port", "primary_conninfo",
    "primary_slot_name", "promote_trigger_file", "recovery_end_command", "recovery_min_apply_delay",
    "recovery_target", "recovery_target_action", "recovery_target_inclusive", "recovery_target_lsn",
    "recovery_target_name", "recovery_target_time", "recovery_target_timeline", "recovery_target_xid",
    "restore_command", "shared_preload_libraries", "ssl", "ssl_ca_file", "ssl_cert_file", "ssl_key_file",
    "ssl_min_protocol_version", "synchronous_standby_names", "syslog_facility", "syslog_ident",
    "unix_socket_directories", "unix_socket_group", "unix_socket_permissions", "wal_log_hints",
];
/// Keys of a Pooler's pgbouncer.parameters that CloudNativePG accepts (its admission allowlist, the part
/// common to the operator versions deploy/ targets; deploy/render.py refuses anything else).
const CNPG_POOLER_ALLOWED: &[&str] = &[
    "application_name_add_host", "autodb_idle_timeout", "client_idle_timeout", "client_login_timeout",
    "default_pool_size", "disable_pqexec", "idle_transaction_timeout", "ignore_startup_parameters",
    "log_connections", "log_disconnections", "log_pooler_errors", "log_stats", "max_client_conn",
    "max_db_connections", "max_user_connections", "min_pool_size", "query_timeout", "query_wait_timeout",
    "reserve_pool_size", "reserve_pool_timeout", "server_check_delay", "server_check_query",
    "server_connect_timeout", "server_fast_close", "server_idle_timeout", "server_lifetime",
    "server_login_retry", "server_reset_query", "server_reset_query_always", "server_round_robin",
    "stats_period", "verbose",
];
/// What CloudNativePG puts into every Pooler's pgbouncer.ini by itself (ignore_startup_parameters is
/// merged with a user value).
const CNPG_POOLER_DEFAULTS: &[(&str, &str)] = &[("ignore_startup_parameters", "extra_float_digits,options")];
/// PgBouncer settings that size a pool: they differ between environments by design.
const SIZING: &[&str] = &[
    "max_client_conn", "default_pool_size", "min_pool_size", "reserve_pool_size", "reserve_pool_timeout",
    "max_db_connections", "max_user_connections",
];
/// Connections a Cluster keeps for direct sessions (admin, monitoring, migrations) besides its poolers.
const DIRECT_CONNECTION_HEADROOM: i64 = 20;

// ---- helpers --------------------------------------------------------------------------------------

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root")
}

fn read(rel: &str) -> String {
    let p = repo().join(rel);
    fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn yaml(rel: &str) -> Y {
    serde_yaml::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel} does not parse as YAML: {e}"))
}

fn s<'a>(v: &'a Y, what: &str) -> &'a str {
    v.as_str().unwrap_or_else(|| panic!("{what}: expected a string, got {v:?}"))
}

fn present<'a>(v: &'a Y, what: &str) -> &'a Y {
    assert!(!v.is_null(), "{what} is missing");
    v
}

/// Runs a command; panics with its output unless it succeeds. Returns stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command that must fail; returns stdout + stderr.
fn run_fails(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{cmd:?} should have failed:\n{text}");
    text
}

fn cargo_version() -> String {
    let toml = read("Cargo.toml");
    let pkg = &toml[toml.find("[package]").expect("[package] in Cargo.toml")..];
    pkg.lines()
        .find_map(|l| l.strip_prefix("version = \"").map(|r| r.trim_end_matches('"').to_string()))
        .expect("version in [package]")
}

fn deb_arch() -> String {
    run(Command::new("dpkg").arg("--print-architecture")).trim().to_string()
}

/// Released versions: the frozen full install scripts sql/released/rekor_meta--X.Y.Z.sql other than the current.
fn released_scripts() -> Vec<String> {
    let current = cargo_version();
    let mut v: Vec<String> = fs::read_dir(repo().join("sql/released"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|f| {
            f.strip_prefix("rekor_meta--").and_then(|r| r.strip_suffix(".sql")).is_some_and(|ver| {
                ver.split('.').count() == 3 && ver.split('.').all(|p| p.parse::<u32>().is_ok()) && ver != current
            })
        })
        .collect();
    v.sort();
    v
}

/// The upgrade scripts sql/upgrade/rekor_meta--A--B.sql.
fn upgrade_scripts() -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(repo().join("sql/upgrade"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|f| f.starts_with("rekor_meta--") && f.ends_with(".sql") && f.matches("--").count() == 2)
        .collect();
    v.sort();
    v
}

fn dist(name: &str) -> PathBuf {
    let p = repo().join("target/dist").join(name);
    assert!(
        p.exists(),
        "{} is missing: scripts/package.sh builds it (scripts/test.sh runs it before these tests)",
        p.display()
    );
    p
}

/// A temporary directory user postgres can traverse; removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = PathBuf::from(format!("/tmp/rekor-deploy-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Files (relative paths, sorted) under `dir`.
fn files_under(dir: &Path) -> BTreeSet<String> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeSet<String>) {
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() && !p.is_symlink() {
                walk(base, &p, out);
            } else {
                out.insert(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

const PG_PACKAGES: [&str; 2] = ["postgresql-15", "postgresql-client-15"];

/// A clean PostgreSQL 15 under `root`: the files of the Debian packages postgresql-15 and
/// postgresql-client-15 (server, contrib, psql, pg_config) copied from this machine at their paths.
/// PostgreSQL finds its share and lib directories relative to its binaries, so the copy runs as an
/// installation of its own: pg_config reports paths under `root`, and nothing of rekor_meta is in it.
fn clean_pg15(root: &Path) {
    for pkg in PG_PACKAGES {
        for line in run(Command::new("dpkg").args(["-L", pkg])).lines() {
            let src = Path::new(line);
            // LLVM bitcode for JIT, manuals and docs are not needed to run a server.
            if line.starts_with("/usr/share/doc")
                || line.starts_with("/usr/share/man")
                || line.contains("/lib/bitcode")
                || line == "/."
            {
                continue;
            }
            let dst = root.join(line.trim_start_matches('/'));
            let meta = match fs::symlink_metadata(src) {
                Ok(m) => m,
                Err(_) => continue, // a conffile removed by the admin, or a diverted path
            };
            if meta.is_dir() {
                fs::create_dir_all(&dst).unwrap();
            } else {
                fs::create_dir_all(dst.parent().unwrap()).unwrap();
                if meta.file_type().is_symlink() {
                    let _ = fs::remove_file(&dst);
                    std::os::unix::fs::symlink(fs::read_link(src).unwrap(), &dst).unwrap();
                } else {
                    fs::copy(src, &dst).unwrap_or_else(|e| panic!("copy {line}: {e}"));
                }
            }
        }
    }
    let pg_config = root.join("usr/lib/postgresql/15/bin/pg_config");
    let sharedir = run(Command::new(&pg_config).arg("--sharedir")).trim().to_string();
    assert_eq!(sharedir, root.join("usr/share/postgresql/15").to_string_lossy(), "relocated pg_config");
    let ext = root.join("usr/share/postgresql/15/extension");
    assert!(ext.join("plpgsql.control").exists(), "the copy has PostgreSQL's own extensions");
    assert!(
        !fs::read_dir(&ext).unwrap().any(|e| e.unwrap().file_name().to_string_lossy().starts_with("rekor_meta")),
        "the clean PostgreSQL 15 already has rekor_meta files"
    );
    assert!(!root.join("usr/lib/postgresql/15/lib/rekor_meta.so").exists());
}

/// Runs deploy/docker/smoke.sh (what the images run after installing) as user postgres against the
/// installation under `root`; returns its report line.
fn smoke(root: &Path) -> String {
    let dir = root.join("smoke");
    fs::create_dir_all(dir.join("fixtures/upstream")).unwrap();
    fs::copy(repo().join("deploy/docker/smoke.sh"), dir.join("smoke.sh")).unwrap();
    for f in ["keys.json", "upstream/bundle-dsse.sigstore.json"] {
        fs::copy(repo().join("tests/fixtures").join(f), dir.join("fixtures").join(f)).unwrap();
    }
    run(Command::new("chmod").args(["-R", "a+rX"]).arg(&dir));
    let bindir = root.join("usr/lib/postgresql/15/bin");
    let out = run(Command::new("sudo")
        .args(["-u", "postgres", "--", "sh"])
        .arg(dir.join("smoke.sh"))
        .arg(&bindir)
        .arg(dir.join("fixtures")));
    let line = out.lines().last().unwrap_or("").to_string();
    let lib = root.join("usr/lib/postgresql/15/lib/rekor_meta.so");
    let expect = format!(
        "[smoke] ok: rekor_meta {} from {}; real DSSE bundle verified, tampered copy refused; {} older version(s) updated to {}",
        cargo_version(),
        lib.display(),
        released_scripts().len(),
        cargo_version()
    );
    assert_eq!(line, expect, "smoke.sh output:\n{out}");
    line
}

fn sha256_file(p: &Path) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))))
}

/// The files the package must install, relative to /.
fn expected_payload() -> BTreeSet<String> {
    let v = cargo_version();
    let ext = "usr/share/postgresql/15/extension";
    let mut want: BTreeSet<String> = [
        "usr/lib/postgresql/15/lib/rekor_meta.so".to_string(),
        format!("{ext}/rekor_meta.control"),
        format!("{ext}/rekor_meta--{v}.sql"),
    ]
    .into();
    for f in released_scripts().into_iter().chain(upgrade_scripts()) {
        want.insert(format!("{ext}/{f}"));
    }
    want
}

// ---- packaging ------------------------------------------------------------------------------------

#[test]
fn package_tarball_holds_the_extension_and_installs_into_a_clean_postgresql_15() {
    let v = cargo_version();
    let name = format!("rekor_meta-{v}-pg15-{}", deb_arch());
    let tarball = dist(&format!("{name}.tar.gz"));
    let tmp = TempDir::new("tarball");

    // Unpacks to one directory: install.sh, VERSION, SHA256SUMS and the payload at its Debian paths.
    let unpack = tmp.0.join("unpack");
    fs::create_dir_all(&unpack).unwrap();
    run(Command::new("tar").arg("-xzf").arg(&tarball).arg("-C").arg(&unpack));
    let top = unpack.join(&name);
    let mut want: BTreeSet<String> = expected_payload().iter().map(|f| format!("payload/{f}")).collect();
    want.extend(["install.sh", "VERSION", "SHA256SUMS"].map(String::from));
    assert_eq!(files_under(&top), want, "files of {}", tarball.display());
    let version_file = fs::read_to_string(top.join("VERSION")).unwrap();
    assert!(version_file.contains(&format!("\nversion={v}\n")), "VERSION: {version_file}");
    let ext = top.join("payload/usr/share/postgresql/15/extension");
    let control = fs::read_to_string(ext.join("rekor_meta.control")).unwrap();
    assert!(control.contains(&format!("default_version = '{v}'")), "control file: {control}");
    assert!(control.contains("module_pathname = 'rekor_meta'"), "control file: {control}");
    // Released install scripts and upgrade scripts are the committed ones, byte for byte.
    let released = released_scripts().into_iter().map(|f| ("sql/released", f));
    for (dir, f) in released.chain(upgrade_scripts().into_iter().map(|f| ("sql/upgrade", f))) {
        assert_eq!(
            sha256_file(&ext.join(&f)),
            sha256_file(&repo().join(dir).join(&f)),
            "{f} differs from {dir}/{f}: the package is older than the sources (rebuild it with scripts/package.sh)"
        );
    }
    assert_eq!(
        fs::read_to_string(top.join("install.sh")).unwrap(),
        read("deploy/package/install.sh"),
        "the tarball's install.sh is deploy/package/install.sh"
    );

    // The payload is checked before anything is installed: a changed byte is refused.
    let install = top.join("install.sh");
    run(Command::new(&install).arg("--check"));
    let tampered = tmp.0.join("tampered");
    run(Command::new("cp").arg("-a").arg(&top).arg(&tampered));
    let tampered_sql = tampered.join(format!("payload/usr/share/postgresql/15/extension/rekor_meta--{v}.sql"));
    let mut sql = fs::read(&tampered_sql).unwrap();
    sql.extend_from_slice(b"\n-- appended\n");
    fs::write(&tampered_sql, sql).unwrap();
    let out = run_fails(Command::new(tampered.join("install.sh")).arg("--check"));
    assert!(out.contains("does not match SHA256SUMS"), "{out}");
    // ... and so is a PostgreSQL that is not 15.
    let fake = tmp.0.join("pg_config_14");
    fs::write(&fake, "#!/bin/sh\necho 'PostgreSQL 14.10'\n").unwrap();
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    let out = run_fails(Command::new(&install).arg("--pg-config").arg(&fake));
    assert!(out.contains("this package is for PostgreSQL 15"), "{out}");

    // Installed with its install.sh into a clean PostgreSQL 15, it works there.
    let root = tmp.0.join("root");
    clean_pg15(&root);
    let pg_config = root.join("usr/lib/postgresql/15/bin/pg_config");
    let said = run(Command::new(&install).arg("--pg-config").arg(&pg_config));
    assert!(said.contains(&format!("rekor_meta {v}")), "{said}");
    for f in expected_payload() {
        let (a, b) = (top.join("payload").join(&f), root.join(&f));
        assert_eq!(sha256_file(&a), sha256_file(&b), "{f} installed as packaged");
    }
    let line = smoke(&root);
    println!("[deploy] tarball {} -> clean PostgreSQL 15 in {}: {line}", tarball.display(), root.display());
}

#[test]
fn debian_package_installs_with_dpkg_into_a_clean_postgresql_15() {
    let v = cargo_version();
    let arch = deb_arch();
    let deb = dist(&format!("postgresql-15-rekor-meta_{v}-1_{arch}.deb"));
    let field = |f: &str| run(Command::new("dpkg-deb").arg("-f").arg(&deb).arg(f)).trim().to_string();
    assert_eq!(field("Package"), "postgresql-15-rekor-meta");
    assert_eq!(field("Version"), format!("{v}-1"));
    assert_eq!(field("Architecture"), arch);
    let depends = field("Depends");
    let deps: Vec<String> = depends.split(',').map(|d| d.trim().to_string()).collect();
    assert!(deps.contains(&"postgresql-15".to_string()), "Depends: {depends}");
    assert!(deps.iter().any(|d| d.starts_with("libc6 (>= ")), "Depends: {depends}");

    // The same files as the tarball, byte for byte.
    let tmp = TempDir::new("deb");
    let x = tmp.0.join("x");
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&x));
    assert_eq!(files_under(&x), expected_payload(), "files of {}", deb.display());
    let tar = tmp.0.join("tar");
    fs::create_dir_all(&tar).unwrap();
    let tarball = dist(&format!("rekor_meta-{v}-pg15-{arch}.tar.gz"));
    run(Command::new("tar").arg("-xzf").arg(&tarball).arg("-C").arg(&tar));
    for f in expected_payload() {
        let a = tar.join(format!("rekor_meta-{v}-pg15-{arch}/payload")).join(&f);
        assert_eq!(sha256_file(&a), sha256_file(&x.join(&f)), "{f}: tarball and .deb differ");
    }
    let listing = run(Command::new("dpkg-deb").arg("-c").arg(&deb));
    for l in listing.lines() {
        assert!(l.contains(" root/root "), "not owned by root: {l}");
    }

    // dpkg refuses it where postgresql-15 is not installed ...
    let bare = tmp.0.join("bare");
    dpkg_root(&bare, &[]);
    let out = run_fails(Command::new("dpkg").arg(format!("--root={}", bare.display())).arg("-i").arg(&deb));
    assert!(out.contains("depends on postgresql-15"), "{out}");

    // ... and installs it into a clean PostgreSQL 15 whose dpkg database has the packages it depends on.
    let root = tmp.0.join("root");
    clean_pg15(&root);
    let mut have: Vec<String> = PG_PACKAGES.iter().map(|p| p.to_string()).collect();
    for d in &deps {
        let name = d.split_whitespace().next().unwrap().to_string();
        if !have.contains(&name) {
            have.push(name);
        }
    }
    dpkg_root(&root, &have);
    let dpkg = |args: &[&str]| {
        let mut c = Command::new("dpkg");
        c.arg(format!("--root={}", root.display())).args(args);
        c
    };
    run(&mut dpkg(&["-i", deb.to_str().unwrap()]));
    let status = run(&mut dpkg(&["-s", "postgresql-15-rekor-meta"]));
    assert!(status.contains("Status: install ok installed"), "{status}");
    let listed = run(&mut dpkg(&["-L", "postgresql-15-rekor-meta"]));
    for f in expected_payload() {
        assert!(listed.lines().any(|l| l == format!("/{f}")), "dpkg -L lacks /{f}:\n{listed}");
        assert!(root.join(&f).is_file(), "{f} not installed");
    }
    let line = smoke(&root);
    println!("[deploy] {} -> dpkg --root {}: {line}", deb.display(), root.display());

    // Removal takes every file away again.
    run(&mut dpkg(&["-r", "postgresql-15-rekor-meta"]));
    for f in expected_payload() {
        assert!(!root.join(&f).exists(), "{f} left behind by dpkg -r");
    }
}

/// A dpkg database under `root` in which `installed` are installed (their status stanzas and file
/// lists taken from this machine's database).
fn dpkg_root(root: &Path, installed: &[String]) {
    let admin = root.join("var/lib/dpkg");
    for d in ["info", "updates", "triggers"] {
        fs::create_dir_all(admin.join(d)).unwrap();
    }
    fs::write(admin.join("available"), "").unwrap();
    let mut status = String::new();
    for p in installed {
        let stanza = run(Command::new("dpkg-query").args(["-s", p]));
        assert!(stanza.contains("Status: install ok installed"), "{p} is not installed here:\n{stanza}");
        status.push_str(stanza.trim_end());
        status.push_str("\n\n");
        let full = run(Command::new("dpkg-query").args(["-W", "-f=${binary:Package}", p])).trim().to_string();
        let list = run(Command::new("dpkg-query").args(["-L", p]));
        fs::write(admin.join(format!("info/{full}.list")), list).unwrap();
    }
    fs::write(admin.join("status"), status).unwrap();
}

// ---- manifests ------------------------------------------------------------------------------------

/// Every YAML document under deploy/, parsed (serde_yaml), with its path.
fn all_yaml_documents() -> Vec<(String, Y)> {
    use serde::Deserialize;
    let mut out = Vec::new();
    for f in files_under(&repo().join("deploy")) {
        if !(f.ends_with(".yaml") || f.ends_with(".yml")) {
            continue;
        }
        let rel = format!("deploy/{f}");
        let text = read(&rel);
        for (i, doc) in serde_yaml::Deserializer::from_str(&text).enumerate() {
            let v = Y::deserialize(doc).unwrap_or_else(|e| panic!("{rel} (document {i}) does not parse: {e}"));
            out.push((rel.clone(), v));
        }
    }
    out
}

fn k8s_manifests(kind: &str) -> Vec<(String, Y)> {
    all_yaml_documents()
        .into_iter()
        .filter(|(p, v)| p.starts_with("deploy/cloudnative-pg/") && v["kind"].as_str() == Some(kind))
        .collect()
}

/// Bytes of a Kubernetes quantity (Gi, Mi, G, M, Ki, plain) or of a PostgreSQL size (GB, MB, kB).
fn bytes(q: &str) -> i64 {
    let units: [(&str, i64); 9] = [
        ("Gi", 1 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10), ("GB", 1 << 30), ("MB", 1 << 20), ("kB", 1 << 10),
        ("G", 1_000_000_000), ("M", 1_000_000), ("k", 1000),
    ];
    for (u, m) in units {
        if let Some(n) = q.strip_suffix(u) {
            return n.trim().parse::<i64>().unwrap_or_else(|_| panic!("quantity {q}")) * m;
        }
    }
    q.parse().unwrap_or_else(|_| panic!("quantity {q}"))
}

/// Millicores of a Kubernetes CPU quantity.
fn millicores(q: &str) -> i64 {
    match q.strip_suffix('m') {
        Some(n) => n.parse().unwrap(),
        None => (q.parse::<f64>().unwrap_or_else(|_| panic!("cpu {q}")) * 1000.0) as i64,
    }
}

fn quantity(v: &Y) -> String {
    match v {
        Y::String(s) => s.clone(),
        Y::Number(n) => n.to_string(),
        _ => panic!("not a quantity: {v:?}"),
    }
}

fn check_resources(what: &str, r: &Y) {
    let req = present(&r["requests"], &format!("{what}.requests"));
    let lim = present(&r["limits"], &format!("{what}.limits"));
    for k in ["cpu", "memory"] {
        let (a, b) = (
            quantity(present(&req[k], &format!("{what}.requests.{k}"))),
            quantity(present(&lim[k], &format!("{what}.limits.{k}"))),
        );
        let (a, b) = if k == "cpu" { (millicores(&a), millicores(&b)) } else { (bytes(&a), bytes(&b)) };
        assert!(a > 0 && a <= b, "{what}: {k} request {a} must be positive and within the limit {b}");
    }
}

fn env_of(path: &str) -> &str {
    ["production", "staging"].into_iter().find(|e| path.contains(e)).unwrap_or_else(|| panic!("{path}: which environment?"))
}

#[test]
fn manifests_parse_and_carry_the_required_fields() {
    let docs = all_yaml_documents();
    assert!(docs.len() >= 7, "YAML documents under deploy/: {:?}", docs.iter().map(|d| &d.0).collect::<Vec<_>>());
    for (p, v) in &docs {
        if p.starts_with("deploy/cloudnative-pg/") {
            s(present(&v["apiVersion"], &format!("{p}: apiVersion")), p);
            s(present(&v["kind"], &format!("{p}: kind")), p);
            s(present(&v["metadata"]["name"], &format!("{p}: metadata.name")), p);
        }
    }

    // Clusters.
    let clusters = k8s_manifests("Cluster");
    let files: BTreeSet<&str> = clusters.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        files,
        ["deploy/cloudnative-pg/cluster-production.yaml", "deploy/cloudnative-pg/cluster-staging.yaml"].into()
    );
    let configmaps = k8s_manifests("ConfigMap");
    for (p, c) in &clusters {
        let env = env_of(p);
        assert_eq!(s(&c["apiVersion"], p), "postgresql.cnpg.io/v1", "{p}");
        let name = s(&c["metadata"]["name"], p);
        assert!(name.contains(env), "{p}: name {name}");
        let spec = &c["spec"];
        let instances = spec["instances"].as_i64().unwrap_or_else(|| panic!("{p}: spec.instances"));
        assert!(instances >= if env == "production" { 3 } else { 1 }, "{p}: {instances} instances");
        let image = s(present(&spec["imageName"], &format!("{p}: spec.imageName")), p);
        let tag = image.rsplit_once(':').map(|(_, t)| t).unwrap_or_else(|| panic!("{p}: image {image} has no tag"));
        assert!(
            tag.starts_with("15") && !tag[2..].starts_with(|ch: char| ch.is_ascii_digit()),
            "{p}: CloudNativePG reads the PostgreSQL major from the tag, which must start with 15: {image}"
        );
        assert!(bytes(s(present(&spec["storage"]["size"], &format!("{p}: spec.storage.size")), p)) >= 1 << 30);
        check_resources(&format!("{p}: spec.resources"), &spec["resources"]);
        let params = spec["postgresql"]["parameters"].as_mapping().unwrap_or_else(|| panic!("{p}: parameters"));
        for key in ["shared_buffers", "max_connections", "work_mem", "idle_in_transaction_session_timeout"] {
            assert!(params.contains_key(key), "{p}: postgresql.parameters.{key}");
        }
        assert!(params.keys().any(|k| k.as_str().unwrap().starts_with("autovacuum_")), "{p}: autovacuum tuning");
        for (k, v) in params {
            assert!(v.is_string(), "{p}: parameter {k:?} must be a string (CloudNativePG's map[string]string), got {v:?}");
        }
        // Bootstrap: database, owner, and SQL that creates the extension.
        let initdb = &spec["bootstrap"]["initdb"];
        s(present(&initdb["database"], &format!("{p}: bootstrap.initdb.database")), p);
        let owner = s(present(&initdb["owner"], &format!("{p}: bootstrap.initdb.owner")), p);
        let sql: Vec<&str> = initdb["postInitApplicationSQL"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{p}: postInitApplicationSQL"))
            .iter()
            .map(|x| s(x, p))
            .collect();
        assert!(
            sql.iter().any(|q| q.to_lowercase().starts_with("create extension") && q.contains("rekor_meta")),
            "{p}: postInitApplicationSQL must create rekor_meta: {sql:?}"
        );
        assert!(sql.iter().any(|q| *q == format!("GRANT rekor_admin TO {owner}")), "{p}: {sql:?}");
        // Managed roles: login roles in the extension's groups, passwords from secrets.
        let roles = spec["managed"]["roles"].as_sequence().unwrap_or_else(|| panic!("{p}: managed.roles"));
        let mut groups_used = BTreeSet::new();
        for r in roles {
            let rn = s(&r["name"], p);
            assert_eq!(r["login"].as_bool(), Some(true), "{p}: role {rn} logs in");
            assert_eq!(r["ensure"].as_str(), Some("present"), "{p}: role {rn}");
            for g in r["inRoles"].as_sequence().unwrap_or_else(|| panic!("{p}: {rn}.inRoles")) {
                assert!(GROUP_ROLES.contains(&s(g, p)), "{p}: {rn} in unknown group {g:?}");
                groups_used.insert(s(g, p).to_string());
            }
            let secret = s(present(&r["passwordSecret"]["name"], &format!("{p}: {rn}.passwordSecret.name")), p);
            assert!(secret.starts_with(name), "{p}: secret {secret} should be named after the cluster");
        }
        for g in ["rekor_writer", "rekor_worker", "rekor_reader"] {
            assert!(groups_used.contains(g), "{p}: no login role in {g}");
        }
        // Monitoring: the pod monitor and the custom queries ConfigMap that exists.
        assert_eq!(spec["monitoring"]["enablePodMonitor"].as_bool(), Some(true), "{p}: monitoring.enablePodMonitor");
        for cm in spec["monitoring"]["customQueriesConfigMap"].as_sequence().unwrap_or_else(|| panic!("{p}: queries")) {
            let (n, key) = (s(&cm["name"], p), s(&cm["key"], p));
            let found = configmaps.iter().find(|(_, m)| m["metadata"]["name"].as_str() == Some(n));
            let (_, m) = found.unwrap_or_else(|| panic!("{p}: ConfigMap {n} is not under deploy/cloudnative-pg"));
            let queries: Y = serde_yaml::from_str(s(present(&m["data"][key], &format!("ConfigMap {n} key {key}")), n))
                .unwrap_or_else(|e| panic!("ConfigMap {n}: {key} does not parse: {e}"));
            assert!(queries.as_mapping().is_some_and(|q| !q.is_empty()), "ConfigMap {n}: no queries");
        }
    }

    // Poolers.
    let poolers = k8s_manifests("Pooler");
    let files: BTreeSet<&str> = poolers.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        files,
        ["deploy/cloudnative-pg/pooler-production.yaml", "deploy/cloudnative-pg/pooler-staging.yaml"].into()
    );
    for (p, pl) in &poolers {
        let env = env_of(p);
        assert_eq!(s(&pl["apiVersion"], p), "postgresql.cnpg.io/v1", "{p}");
        let spec = &pl["spec"];
        let cluster = s(present(&spec["cluster"]["name"], &format!("{p}: spec.cluster.name")), p);
        let target = clusters.iter().find(|(_, c)| c["metadata"]["name"].as_str() == Some(cluster));
        let (cp, _) = target.unwrap_or_else(|| panic!("{p}: cluster {cluster} is not a Cluster under deploy/cloudnative-pg"));
        assert_eq!(env_of(cp), env, "{p} points at {cp}");
        assert_ne!(s(&pl["metadata"]["name"], p), cluster, "{p}: a Pooler may not be named like its Cluster");
        let instances = spec["instances"].as_i64().unwrap_or_else(|| panic!("{p}: spec.instances"));
        assert!(instances >= if env == "production" { 2 } else { 1 }, "{p}: {instances} instances");
        assert_eq!(spec["type"].as_str(), Some("rw"), "{p}: spec.type");
        assert_eq!(spec["pgbouncer"]["poolMode"].as_str(), Some("transaction"), "{p}: poolMode");
        let params = spec["pgbouncer"]["parameters"].as_mapping().unwrap_or_else(|| panic!("{p}: parameters"));
        for key in ["max_client_conn", "default_pool_size", "max_db_connections"] {
            assert!(params.contains_key(key), "{p}: pgbouncer.parameters.{key}");
        }
        for (k, v) in params {
            let k = s(k, p);
            assert!(CNPG_POOLER_ALLOWED.contains(&k), "{p}: CloudNativePG refuses pgbouncer parameter {k}");
            assert!(v.as_str().is_some_and(|x| x.parse::<i64>().is_ok() || !x.is_empty()), "{p}: {k} = {v:?}");
        }
        let containers = spec["template"]["spec"]["containers"].as_sequence().unwrap_or_else(|| panic!("{p}: template"));
        let pgb = containers.iter().find(|c| c["name"].as_str() == Some("pgbouncer")).expect("pgbouncer container");
        check_resources(&format!("{p}: pgbouncer resources"), &pgb["resources"]);
        assert_eq!(spec["monitoring"]["enablePodMonitor"].as_bool(), Some(true), "{p}: monitoring");
    }

    // The Dockerfile builds with the scripts the tests run, into the two images deploy/ uses.
    let dockerfile = read("deploy/docker/Dockerfile");
    for needle in [
        "bash scripts/setup.sh",
        "bash scripts/package.sh",
        "dpkg -i /dist/postgresql-15-rekor-meta.deb",
        "sh /tmp/smoke.sh /usr/lib/postgresql/15/bin /tmp/fixtures",
        "source=/src/deploy/docker/smoke.sh",
        "ARG CNPG_IMAGE=ghcr.io/cloudnative-pg/postgresql:15",
        "ARG POSTGRES_IMAGE=postgres:15",
    ] {
        assert!(dockerfile.contains(needle), "deploy/docker/Dockerfile lacks `{needle}`");
    }
    let stages: Vec<(String, String)> = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("FROM "))
        .map(|l| {
            let (img, stage) = l.split_once(" AS ").unwrap_or_else(|| panic!("unnamed stage: {l}"));
            (stage.trim().to_string(), img.trim().to_string())
        })
        .collect();
    let stage = |n: &str| stages.iter().find(|(s, _)| s == n).map(|(_, i)| i.clone()).unwrap_or_else(|| panic!("no stage {n}"));
    assert_eq!(stage("cnpg"), "${CNPG_IMAGE}");
    assert_eq!(stage("compose"), "${POSTGRES_IMAGE}");
    let cnpg_stage = &dockerfile[dockerfile.find(" AS cnpg").unwrap()..dockerfile.find(" AS compose").unwrap()];
    let last_user = cnpg_stage.lines().filter_map(|l| l.strip_prefix("USER ")).last();
    assert_eq!(last_user, Some("26"), "the CloudNativePG image must run as uid 26");
    for f in ["scripts/setup.sh", "scripts/package.sh", "deploy/docker/smoke.sh", "deploy/package/install.sh"] {
        assert!(repo().join(f).is_file(), "{f}");
    }

    // Compose: PostgreSQL from the Dockerfile's compose target, initialised by deploy/compose/init,
    // behind PgBouncer with the rendered pgbouncer.ini.
    let compose = yaml("deploy/compose/docker-compose.yml");
    let pg = present(&compose["services"]["postgres"], "compose: services.postgres");
    let build = &pg["build"];
    let context = repo().join("deploy/compose").join(s(&build["context"], "build.context")).canonicalize().unwrap();
    assert_eq!(context, repo(), "compose builds from the repository root");
    assert!(context.join(s(&build["dockerfile"], "build.dockerfile")).ends_with("deploy/docker/Dockerfile"));
    assert_eq!(s(&build["target"], "build.target"), "compose");
    let volumes: Vec<&str> = pg["volumes"].as_sequence().expect("postgres volumes").iter().map(|v| s(v, "volume")).collect();
    assert!(volumes.contains(&"./init:/docker-entrypoint-initdb.d:ro"), "postgres volumes: {volumes:?}");
    let pgb = present(&compose["services"]["pgbouncer"], "compose: services.pgbouncer");
    assert!(s(&pgb["image"], "pgbouncer image").contains("pgbouncer"));
    let volumes: Vec<&str> = pgb["volumes"].as_sequence().expect("pgbouncer volumes").iter().map(|v| s(v, "volume")).collect();
    assert!(volumes.iter().any(|v| v.starts_with("./pgbouncer.ini:")), "pgbouncer volumes: {volumes:?}");
    assert!(pgb["depends_on"]["postgres"]["condition"].as_str() == Some("service_healthy"), "pgbouncer waits for postgres");
    let db = s(&pg["environment"]["POSTGRES_DB"], "POSTGRES_DB");
    let ini = read("deploy/compose/pgbouncer.ini");
    assert!(ini.contains(&format!("\n{db} = host=postgres port=5432 dbname={db}\n")), "pgbouncer.ini databases: {ini}");
    for (p, c) in &clusters {
        assert_eq!(s(&c["spec"]["bootstrap"]["initdb"]["database"], p), db, "{p}: the same database as compose");
    }
    println!(
        "[deploy] {} YAML documents parse; {} Clusters, {} Poolers, Dockerfile stages {:?} and the compose file carry the required fields",
        docs.len(),
        clusters.len(),
        poolers.len(),
        stages.iter().map(|s| s.0.as_str()).collect::<Vec<_>>()
    );
}

#[test]
fn cluster_parameters_are_valid_postgresql_15_settings_within_the_cluster_budget() {
    let clusters = k8s_manifests("Cluster");
    let poolers = k8s_manifests("Pooler");
    let tmp = TempDir::new("params");
    let data = tmp.0.join("data");
    run(Command::new("chown").arg("postgres").arg(&tmp.0));
    run(Command::new("sudo").args(["-u", "postgres", "--"]).arg(format!("{PG_BIN}/initdb")).arg("-D").arg(&data)
        .args(["-U", "postgres", "-N", "--auth=trust"]));
    for (p, c) in &clusters {
        let params: BTreeMap<String, String> = c["spec"]["postgresql"]["parameters"]
            .as_mapping()
            .unwrap()
            .iter()
            .map(|(k, v)| (s(k, p).to_string(), s(v, p).to_string()))
            .collect();
        for k in params.keys() {
            assert!(!CNPG_FIXED_PARAMETERS.contains(&k.as_str()), "{p}: CloudNativePG manages {k} itself");
        }
        // Every core setting: PostgreSQL 15 parses name and value (postgres -C reads the configuration,
        // applies -c and exits; a bad name, unit or enum value is FATAL).
        let (custom, core): (Vec<_>, Vec<_>) = params.iter().partition(|(k, _)| k.contains('.'));
        let mut cmd = Command::new("sudo");
        cmd.args(["-u", "postgres", "--"]).arg(format!("{PG_BIN}/postgres")).arg("-D").arg(&data);
        for (k, v) in &core {
            cmd.arg("-c").arg(format!("{k}={v}"));
        }
        cmd.args(["-C", "shared_buffers"]);
        run(&mut cmd);
        // Extension settings (pg_stat_statements.*) exist only once the library is loaded: CloudNativePG
        // adds it to shared_preload_libraries; a throwaway server started that way must show each value.
        if !custom.is_empty() {
            let libs: BTreeSet<&str> = custom.iter().map(|(k, _)| k.split('.').next().unwrap()).collect();
            assert_eq!(libs, ["pg_stat_statements"].into(), "{p}: extension settings CloudNativePG preloads for");
            let sock = tmp.0.display().to_string();
            let mut opts = format!("-c listen_addresses='' -c unix_socket_directories='{sock}' -p 28899 -c shared_preload_libraries=pg_stat_statements");
            for (k, v) in &custom {
                opts.push_str(&format!(" -c {k}={v}"));
            }
            run(Command::new("sudo").args(["-u", "postgres", "--"]).arg(format!("{PG_BIN}/pg_ctl")).arg("-D").arg(&data)
                .arg("-l").arg(tmp.0.join("server.log")).args(["-w", "-t", "60", "-o", &opts, "start"]));
            let shown = Client::connect(&format!("host={sock} port=28899 user=postgres dbname=postgres"), NoTls)
                .and_then(|mut c| {
                    custom.iter().map(|(k, _)| c.query_one(&format!("SHOW {k}"), &[]).map(|r| r.get::<_, String>(0))).collect::<Result<Vec<_>, _>>()
                });
            run(Command::new("sudo").args(["-u", "postgres", "--"]).arg(format!("{PG_BIN}/pg_ctl")).arg("-D").arg(&data)
                .args(["-m", "fast", "-w", "stop"]));
            let shown = shown.unwrap_or_else(|e| panic!("{p}: SHOW extension settings: {e}"));
            for ((k, v), got) in custom.iter().zip(shown) {
                assert_eq!(&got, *v, "{p}: {k}");
            }
        }
        // Memory: shared buffers a quarter-ish of the pod; buffers + every connection's work_mem +
        // maintenance within the limit.
        let limit = bytes(&quantity(&c["spec"]["resources"]["limits"]["memory"]));
        let shared = bytes(&params["shared_buffers"]);
        let max_conn: i64 = params["max_connections"].parse().unwrap();
        assert!(shared * 10 <= limit * 3, "{p}: shared_buffers {shared} is more than 30% of the memory limit {limit}");
        let worst = shared + max_conn * bytes(&params["work_mem"]) + bytes(&params["maintenance_work_mem"]);
        assert!(worst <= limit, "{p}: shared_buffers + max_connections x work_mem + maintenance_work_mem = {worst} > {limit}");
        assert!(bytes(&params["effective_cache_size"]) <= limit, "{p}: effective_cache_size beyond the memory limit");
        // Connections: every PgBouncer of every Pooler of this cluster at its max_db_connections, plus headroom.
        let name = s(&c["metadata"]["name"], p);
        let pooled: i64 = poolers
            .iter()
            .filter(|(_, pl)| pl["spec"]["cluster"]["name"].as_str() == Some(name))
            .map(|(_, pl)| {
                let spec = &pl["spec"];
                spec["instances"].as_i64().unwrap()
                    * s(&spec["pgbouncer"]["parameters"]["max_db_connections"], "max_db_connections").parse::<i64>().unwrap()
            })
            .sum();
        assert!(pooled > 0, "{p}: no Pooler");
        assert!(
            pooled + DIRECT_CONNECTION_HEADROOM <= max_conn,
            "{p}: poolers may open {pooled} server connections, max_connections {max_conn} leaves less than {DIRECT_CONNECTION_HEADROOM} for direct sessions"
        );
        println!(
            "[deploy] {p}: {} parameters accepted by PostgreSQL 15; memory {} MiB of {} MiB; connections {pooled} pooled + {DIRECT_CONNECTION_HEADROOM} direct <= {max_conn}",
            params.len(),
            worst >> 20,
            limit >> 20
        );
    }
}

// ---- bootstrap SQL, roles and monitoring on the test cluster ----------------------------------------

/// The bootstrap tests create cluster-wide roles with fixed names (those of the manifests): one at a time.
static ROLES: Mutex<()> = Mutex::new(());

/// Drops databases owned by, and then, the given roles (leftovers of an earlier run).
fn drop_roles(admin: &mut Client, roles: &[String]) {
    for r in roles {
        let dbs: Vec<String> = admin
            .query("SELECT datname FROM pg_database WHERE datdba = (SELECT oid FROM pg_roles WHERE rolname = $1)", &[r])
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        for db in dbs {
            admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)")).unwrap();
        }
    }
    for r in roles {
        admin.batch_execute(&format!("DROP ROLE IF EXISTS {r}")).unwrap();
    }
}

fn connect_as(db: &str, user: &str) -> Client {
    let d = format!("{} dbname={db} user={user}", dsn());
    Client::connect(&d, NoTls).unwrap_or_else(|e| panic!("connect as {user}: {e}"))
}

fn managed_roles(cluster: &Y) -> Vec<Y> {
    cluster["spec"]["managed"]["roles"].as_sequence().unwrap().clone()
}

/// Checks what bootstrap must leave behind in `db`: the extension at the default version, the group
/// roles, the owner in rekor_admin, each login role in its groups; then each login role does its job.
fn check_bootstrapped(db: &str, owner: &str, roles: &[Y]) {
    let mut su = connect_db(db);
    let row = su
        .query_one(
            "SELECT e.extversion, a.default_version FROM pg_extension e JOIN pg_available_extensions a ON a.name = e.extname
             WHERE e.extname = 'rekor_meta'",
            &[],
        )
        .expect("rekor_meta is created by the bootstrap SQL");
    assert_eq!(row.get::<_, String>(0), row.get::<_, String>(1), "installed at the default version");
    for g in GROUP_ROLES {
        let n: i64 = su.query_one("SELECT count(*) FROM pg_roles WHERE rolname = $1 AND NOT rolcanlogin", &[&g]).unwrap().get(0);
        assert_eq!(n, 1, "group role {g}");
    }
    let admin: bool = su.query_one("SELECT pg_has_role($1, 'rekor_admin', 'MEMBER')", &[&owner]).unwrap().get(0);
    assert!(admin, "{owner} is a member of rekor_admin");
    let mut by_group: BTreeMap<String, String> = BTreeMap::new();
    for r in roles {
        let name = r["name"].as_str().unwrap();
        let login: bool = su.query_one("SELECT rolcanlogin FROM pg_roles WHERE rolname = $1", &[&name]).unwrap().get(0);
        assert!(login, "{name} logs in");
        for g in r["inRoles"].as_sequence().unwrap() {
            let g = g.as_str().unwrap();
            let m: bool = su.query_one("SELECT pg_has_role($1, $2, 'MEMBER')", &[&name, &g]).unwrap().get(0);
            assert!(m, "{name} in {g}");
            by_group.insert(g.to_string(), name.to_string());
        }
    }
    // The owner (rekor_admin) trusts the logs; the writer ingests a real bundle; the reader re-verifies
    // it and cannot write; the worker runs the queue.
    let mut own = connect_as(db, owner);
    trust_fixture_logs(&mut own);
    let mut ingest = connect_as(db, &by_group["rekor_writer"]);
    let entry: i64 = ingest
        .query_one("SELECT rekor_ingest_bundle($1::text::jsonb)", &[&fixture("upstream/bundle-dsse.sigstore.json")])
        .expect("the ingest role ingests a bundle")
        .get(0);
    let mut reader = connect_as(db, &by_group["rekor_reader"]);
    let ok: bool = reader.query_one("SELECT rekor_verify_inclusion($1)", &[&entry]).unwrap().get(0);
    assert!(ok, "the reader re-verifies the entry");
    assert_eq!(sqlstate(reader.execute("DELETE FROM rekor_entries", &[])), "42501", "the reader cannot write");
    let mut worker = connect_as(db, &by_group["rekor_worker"]);
    let envelope = rekor_meta_client_tests::testlog::TestLog::new("deploy", 1).envelope_json(0);
    let qid: i64 = worker.query_one("SELECT rekor_enqueue($1::text::jsonb)", &[&envelope]).expect("enqueue").get(0);
    let leased: Vec<i64> =
        worker.query("SELECT queue_id FROM rekor_dequeue('deploy-check', 1)", &[]).unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(leased, vec![qid], "the worker leases the item");
}

/// Runs every query of the monitoring ConfigMap in `db` and checks each declared metric column comes back.
fn check_monitoring_queries(db: &str) -> usize {
    let cm = yaml("deploy/cloudnative-pg/monitoring.yaml");
    let queries: Y = serde_yaml::from_str(cm["data"]["queries"].as_str().unwrap()).unwrap();
    let mut c = connect_db(db);
    let mut n = 0;
    for (name, q) in queries.as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        let sql = q["query"].as_str().unwrap_or_else(|| panic!("{name}: query"));
        let targets: Vec<&str> = q["target_databases"].as_sequence().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
        assert_eq!(targets, vec!["rekor"], "{name}: runs in the application database");
        let rows = c.simple_query(sql).unwrap_or_else(|e| panic!("monitoring query {name}: {e:?}"));
        let cols: Vec<String> = rows
            .iter()
            .find_map(|m| match m {
                SimpleQueryMessage::RowDescription(d) => Some(d.iter().map(|c| c.name().to_string()).collect()),
                _ => None,
            })
            .unwrap_or_default();
        let nrows = rows.iter().filter(|m| matches!(m, SimpleQueryMessage::Row(_))).count();
        assert!(nrows >= 1, "monitoring query {name} returned no row");
        for m in q["metrics"].as_sequence().unwrap() {
            let (metric, spec) = m.as_mapping().unwrap().iter().next().unwrap();
            let metric = metric.as_str().unwrap();
            assert!(cols.iter().any(|c| c == metric), "{name}: metric {metric} is not a column of {cols:?}");
            assert!(["LABEL", "GAUGE", "COUNTER"].contains(&spec["usage"].as_str().unwrap()), "{name}.{metric}: usage");
        }
        n += 1;
    }
    n
}

#[test]
fn cluster_bootstrap_sql_managed_roles_and_monitoring_queries_run_on_the_test_cluster() {
    let _one = ROLES.lock().unwrap_or_else(|e| e.into_inner());
    let mut admin = connect_db("postgres");
    for (p, c) in k8s_manifests("Cluster") {
        let initdb = &c["spec"]["bootstrap"]["initdb"];
        let (db, owner) = (s(&initdb["database"], &p), s(&initdb["owner"], &p));
        let roles = managed_roles(&c);
        let mut names: Vec<String> = roles.iter().map(|r| r["name"].as_str().unwrap().to_string()).collect();
        names.push(owner.to_string());
        drop_roles(&mut admin, &names);
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).unwrap();
        // What the operator's initdb bootstrap does: the owner role and the database it owns, then
        // postInitApplicationSQL statement by statement, as the superuser, in that database.
        admin.batch_execute(&format!("CREATE ROLE {owner} LOGIN")).unwrap();
        admin.batch_execute(&format!("CREATE DATABASE {db} OWNER {owner}")).unwrap();
        let mut su = connect_db(db);
        for stmt in initdb["postInitApplicationSQL"].as_sequence().unwrap() {
            su.batch_execute(s(stmt, &p)).unwrap_or_else(|e| panic!("{p}: postInitApplicationSQL `{stmt:?}`: {e:?}"));
        }
        // Then the managed roles, as the operator creates them.
        for r in &roles {
            let name = s(&r["name"], &p);
            let groups: Vec<&str> = r["inRoles"].as_sequence().unwrap().iter().map(|g| s(g, &p)).collect();
            let limit = r["connectionLimit"].as_i64().unwrap_or(-1);
            su.batch_execute(&format!(
                "CREATE ROLE {name} LOGIN INHERIT CONNECTION LIMIT {limit} PASSWORD 'deploy-test' IN ROLE {}",
                groups.join(", ")
            ))
            .unwrap_or_else(|e| panic!("{p}: managed role {name}: {e:?}"));
        }
        check_bootstrapped(db, owner, &roles);
        let queries = check_monitoring_queries(db);
        println!("[deploy] {p}: bootstrap SQL, {} managed roles and {queries} monitoring queries work in database {db}", roles.len());
        drop(su);
        drop_roles(&mut admin, &names);
    }
}

/// The value compose gives an environment variable: `${VAR:-default}` -> default.
fn compose_env(pg: &Y) -> BTreeMap<String, String> {
    pg["environment"]
        .as_mapping()
        .expect("postgres environment (a mapping)")
        .iter()
        .map(|(k, v)| {
            let v = quantity(v);
            let v = match v.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
                Some(inner) => inner.split_once(":-").map(|(_, d)| d.to_string()).unwrap_or_default(),
                None => v,
            };
            (k.as_str().unwrap().to_string(), v)
        })
        .collect()
}

#[test]
fn compose_init_sql_is_the_cluster_bootstrap_and_runs_like_the_postgres_entrypoint() {
    let _one = ROLES.lock().unwrap_or_else(|e| e.into_inner());
    let cluster = yaml("deploy/cloudnative-pg/cluster-production.yaml");
    let initdb = &cluster["spec"]["bootstrap"]["initdb"];
    let owner = s(&initdb["owner"], "owner");
    let roles = managed_roles(&cluster);

    // 20-bootstrap.sql holds exactly the manifests' postInitApplicationSQL statements, in order.
    let bootstrap = read("deploy/compose/init/20-bootstrap.sql");
    let statements: Vec<String> = bootstrap
        .lines()
        .filter(|l| !l.starts_with("--") && !l.trim().is_empty())
        .map(|l| l.trim_end_matches(';').to_string())
        .collect();
    let manifest: Vec<String> =
        initdb["postInitApplicationSQL"].as_sequence().unwrap().iter().map(|x| s(x, "sql").to_string()).collect();
    assert_eq!(statements, manifest, "deploy/compose/init/20-bootstrap.sql vs the Cluster's postInitApplicationSQL");

    // The official image's entrypoint runs every *.sql of /docker-entrypoint-initdb.d in name order with
    // `psql -v ON_ERROR_STOP=1 --no-password --no-psqlrc` in POSTGRES_DB, with the container's environment.
    let compose = yaml("deploy/compose/docker-compose.yml");
    let env = compose_env(&compose["services"]["postgres"]);
    let mut admin = connect_db("postgres");
    let mut names: Vec<String> = roles.iter().map(|r| r["name"].as_str().unwrap().to_string()).collect();
    names.push(owner.to_string());
    drop_roles(&mut admin, &names);
    let (c, db) = fresh_empty_db("compose_init");
    drop(c);
    let mut files: Vec<String> = fs::read_dir(repo().join("deploy/compose/init"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files, ["10-owner.sql", "20-bootstrap.sql", "30-managed-roles.sql"]);
    for f in &files {
        let path = repo().join("deploy/compose/init").join(f);
        for l in fs::read_to_string(&path).unwrap().lines() {
            if let Some(var) = l.strip_prefix("\\getenv ").and_then(|r| r.split_whitespace().nth(1)) {
                assert!(env.get(var).is_some_and(|v| !v.is_empty()), "{f} reads {var}, which compose does not set");
            }
        }
        let mut cmd = Command::new(pg_program("psql"));
        cmd.env_clear().env("PATH", "/usr/bin:/bin").envs(&env);
        run(cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "--no-password", "-f"]).arg(&path).arg(conninfo(&db)));
    }
    let mut su = connect_db(&db);
    let dba: String = su.query_one("SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = current_database()", &[]).unwrap().get(0);
    assert_eq!(dba, owner, "the compose database belongs to the Cluster's owner role");
    for r in names.iter() {
        let has: bool = su.query_one("SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = $1", &[r]).unwrap().get(0);
        assert!(has, "{r} has a password from the environment");
    }
    check_bootstrapped(&db, owner, &roles);
    drop(su);
    drop_roles(&mut admin, &names);
    println!("[deploy] deploy/compose/init ({}) bootstraps a database like the Cluster does", files.join(", "));
}

// ---- one source for the pooler settings ----------------------------------------------------------------

/// A PgBouncer started by scripts/pgbouncer.sh under its own name and port; stopped on drop.
struct Bouncer {
    port: u16,
}

fn pgbouncer_sh(action: &str) -> String {
    let dir = std::env::var("REKOR_CLUSTER_DIR").expect("REKOR_CLUSTER_DIR is not set: scripts/test.sh exports it");
    let port: u16 = std::env::var("REKOR_PGPORT").expect("REKOR_PGPORT is not set").parse().unwrap();
    run(Command::new("bash")
        .arg(repo().join("scripts/pgbouncer.sh"))
        .arg(action)
        .env("REKOR_CLUSTER_DIR", dir)
        .env("REKOR_PGPORT", port.to_string())
        .env("REKOR_PGBOUNCER_NAME", "pgbouncer-deploy")
        .env("REKOR_PGBOUNCER_PORT", (port + 102).to_string())
        .env_remove("REKOR_PGBOUNCER_POOL_SIZE"))
    .trim()
    .to_string()
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        pgbouncer_sh("stop");
    }
}

fn show_config(port: u16) -> BTreeMap<String, String> {
    let mut admin = Client::connect(&format!("host=127.0.0.1 port={port} user=postgres dbname=pgbouncer"), NoTls)
        .expect("PgBouncer admin console");
    admin
        .simple_query("SHOW CONFIG")
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some((r.get(0).unwrap().to_string(), r.get(1).unwrap_or("").to_string())),
            _ => None,
        })
        .collect()
}

fn list_set(v: &str) -> BTreeSet<String> {
    v.split(',').map(|x| x.trim().to_string()).filter(|x| !x.is_empty()).collect()
}

#[test]
fn rendered_files_follow_deploy_values_and_the_test_pgbouncer_runs_the_pooler_settings() {
    // Every rendered file (Pooler manifests, compose pgbouncer.ini, compose init SQL) is what
    // deploy/render.py makes of its sources now.
    let out = run(Command::new("python3").arg(repo().join("deploy/render.py")).arg("--check"));
    assert!(out.contains("every rendered file is up to date"), "{out}");

    // The queue pooler test's PgBouncer, started the way queue_pooler.rs starts it, runs each Pooler
    // manifest's settings (with CloudNativePG's own defaults), except the pool sizes.
    pgbouncer_sh("stop");
    eprintln!("{}", pgbouncer_sh("start"));
    let bouncer = Bouncer { port: pgbouncer_sh("port").parse().unwrap() };
    let live = show_config(bouncer.port);
    let values = yaml("deploy/pooler-values.yaml");
    let mut compared = BTreeSet::new();
    for (p, pl) in k8s_manifests("Pooler") {
        let mut effective: BTreeMap<String, String> =
            CNPG_POOLER_DEFAULTS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        for (k, v) in pl["spec"]["pgbouncer"]["parameters"].as_mapping().unwrap() {
            let (k, v) = (s(k, &p).to_string(), s(v, &p).to_string());
            if k == "ignore_startup_parameters" {
                let merged = format!("{},{v}", effective[&k]);
                effective.insert(k, merged);
            } else {
                effective.insert(k, v);
            }
        }
        effective.insert("pool_mode".into(), s(&pl["spec"]["pgbouncer"]["poolMode"], &p).to_string());
        for (k, v) in &effective {
            if SIZING.contains(&k.as_str()) {
                continue;
            }
            let got = live.get(k).unwrap_or_else(|| panic!("the test PgBouncer has no setting {k}"));
            if k == "ignore_startup_parameters" {
                assert_eq!(list_set(got), list_set(v), "{p}: {k}");
            } else {
                assert_eq!(got, v, "{p}: {k}: test PgBouncer {got}, manifest {v}");
            }
            compared.insert(k.clone());
        }
    }
    // Every shared setting of the values file was compared, and the test's sizing is its own.
    for (k, _) in values["shared"].as_mapping().unwrap() {
        assert!(compared.contains(k.as_str().unwrap()), "shared setting {k:?} is in no Pooler manifest");
    }
    for (k, v) in values["environments"]["test"]["sizing"].as_mapping().unwrap() {
        let k = k.as_str().unwrap();
        assert_eq!(live[k], quantity(v), "test sizing {k}");
    }
    assert_eq!(live["pool_mode"], "transaction");

    // And it pools: a statement through it reaches the cluster.
    let (mut c, db) = fresh_empty_db("deploy_pooler");
    c.batch_execute("CREATE EXTENSION rekor_meta").unwrap();
    let mut pooled = Client::connect(&format!("host=127.0.0.1 port={} user=postgres dbname={db}", bouncer.port), NoTls)
        .expect("connect through PgBouncer");
    let hash: Vec<u8> = pooled.query_typed_one("SELECT rekor_leaf_hash(''::bytea)", &[]).unwrap().get(0);
    assert_eq!(hex::encode(hash), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
    drop(pooled);
    drop(bouncer);
    drop(c);
    connect_db("postgres").batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).unwrap();
    println!(
        "[deploy] rendered files up to date; the test PgBouncer runs the Pooler manifests' {} settings: {}",
        compared.len(),
        compared.iter().cloned().collect::<Vec<_>>().join(", ")
    );
}
