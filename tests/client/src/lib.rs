//! Shared helpers for the client-level tests: connecting to the cluster scripts/test.sh started,
//! making a fresh database with the extension, and reading SQLSTATEs off errors.
use postgres::{Client, NoTls};
use std::sync::atomic::{AtomicUsize, Ordering};

pub mod testlog;
pub mod attest;
pub mod rekor;

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
    // REKOR_TEST_EXTENSION_VERSION runs a suite against an older installed version (e.g. to show
    // that tests/security.rs fails on 0.2.0); unset, the default version.
    match std::env::var("REKOR_TEST_EXTENSION_VERSION") {
        Ok(v) if !v.is_empty() => c.batch_execute(&format!("CREATE EXTENSION rekor_meta VERSION '{v}'")),
        _ => c.batch_execute("CREATE EXTENSION rekor_meta"),
    }
    .expect("create extension");
    c
}

/// A new database without the extension, unique to this test: the client and the database name.
pub fn fresh_empty_db(name: &str) -> (Client, String) {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let db = format!("t_{}_{}_{}", name, std::process::id(), n);
    let mut admin = connect_db("postgres");
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).expect("drop db");
    admin.batch_execute(&format!("CREATE DATABASE {db}")).expect("create db");
    (connect_db(&db), db)
}

/// A new database with `CREATE EXTENSION rekor_meta VERSION '<version>'`: the client and its name.
pub fn fresh_db_at_version(name: &str, version: &str) -> (Client, String) {
    let (mut c, db) = fresh_empty_db(name);
    c.batch_execute(&format!("CREATE EXTENSION rekor_meta VERSION '{version}'"))
        .unwrap_or_else(|e| panic!("CREATE EXTENSION rekor_meta VERSION '{version}': {e:?}"));
    (c, db)
}

/// The libpq connection string of database `db` on the test cluster (for pg_dump, pg_restore).
pub fn conninfo(db: &str) -> String {
    format!("{} dbname={db}", dsn())
}

/// The path of a PostgreSQL 15 client program (pg_dump, pg_restore, psql).
pub fn pg_program(name: &str) -> String {
    format!("/usr/lib/postgresql/15/bin/{name}")
}

/// Trusts every log of tests/fixtures/keys.json (rekor_add_log with its signed-note signer name).
pub fn trust_fixture_logs(c: &mut Client) {
    let keys = json_fixture("keys.json");
    for k in keys["keys"].as_array().expect("keys.json: keys[]") {
        let pem = k["public_key_pem"].as_str().expect("public_key_pem");
        let name = k["note_signer_name"].as_str().expect("note_signer_name");
        c.query_one("SELECT rekor_add_log($1, $2)", &[&pem, &name])
            .unwrap_or_else(|e| panic!("rekor_add_log {}: {e:?}", k["id"]));
    }
}

/// The real DSSE bundle (tests/fixtures/upstream/bundle-dsse.sigstore.json) through the queue:
/// enqueued, leased by worker "w" and marked submitted with the bundle. Returns (queue_id, entry_id).
/// The fixture logs must be trusted (trust_fixture_logs).
pub fn submit_fixture_dsse_bundle(c: &mut Client) -> (i64, i64) {
    let bundle = fixture("upstream/bundle-dsse.sigstore.json");
    let qid: i64 = c
        .query_one("SELECT rekor_enqueue(($1::text::jsonb) -> 'dsseEnvelope')", &[&bundle])
        .expect("rekor_enqueue")
        .get(0);
    let leased: Vec<i64> = c
        .query("SELECT queue_id FROM rekor_dequeue('w', 1)", &[])
        .expect("rekor_dequeue")
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(leased, vec![qid], "worker w should lease the bundle's queue item");
    let entry: i64 = c
        .query_one("SELECT rekor_mark_submitted($1, 'w', $2::text::jsonb)", &[&qid, &bundle])
        .expect("rekor_mark_submitted")
        .get(0);
    (qid, entry)
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

/// A JSON fixture from tests/fixtures.
pub fn json_fixture(name: &str) -> serde_json::Value {
    serde_json::from_str(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The record of keys.json whose "id" is `id`.
pub fn fixture_key(id: &str) -> serde_json::Value {
    let keys = json_fixture("keys.json");
    keys["keys"]
        .as_array()
        .expect("keys.json: keys[]")
        .iter()
        .find(|k| k["id"] == id)
        .unwrap_or_else(|| panic!("keys.json has no key {id}"))
        .clone()
}

/// The record of checkpoints.json whose "id" is `id`.
pub fn fixture_checkpoint(id: &str) -> serde_json::Value {
    let cps = json_fixture("checkpoints.json");
    cps["checkpoints"]
        .as_array()
        .expect("checkpoints.json: checkpoints[]")
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("checkpoints.json has no checkpoint {id}"))
        .clone()
}

/// A role name that is unique to this test process (roles are cluster-wide, databases are not).
pub fn unique_role(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    format!("{prefix}_{}_{}", std::process::id(), n)
}

/// Signing checkpoints in tests: C2SP signed notes as FORMATS.md describes them, test logs with
/// Ed25519 (fixed seed) or ECDSA P-256 keys, and a real Merkle tree to sign roots of.
pub mod notes {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;
    use rekor_meta_core::merkle::{self, Hash};
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
    use sha2::{Digest, Sha256};

    /// DER SPKI prefix of an Ed25519 key: SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING (33) }.
    pub const ED25519_SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
    /// DER SPKI prefix of an uncompressed ECDSA P-256 point (65 bytes follow).
    pub const P256_SPKI_PREFIX: [u8; 26] = [
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
        0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];

    /// Checkpoint text: origin, size, base64 root, extension lines; each line ends in '\n'.
    pub fn checkpoint_text(origin: &str, size: u64, root: &[u8], extensions: &[&str]) -> String {
        let mut t = format!("{origin}\n{size}\n{}\n", STANDARD.encode(root));
        for e in extensions {
            t.push_str(e);
            t.push('\n');
        }
        t
    }

    /// One signature line: "— <name> base64(hint || sig)\n".
    pub fn sig_line(name: &str, hint: &[u8], sig: &[u8]) -> String {
        let mut blob = hint.to_vec();
        blob.extend_from_slice(sig);
        format!("\u{2014} {name} {}\n", STANDARD.encode(blob))
    }

    /// A note: its text, the blank line, then the signature lines.
    pub fn assemble(text: &str, lines: &[String]) -> String {
        format!("{text}\n{}", lines.concat())
    }

    /// The signed text of a note (everything before the last blank line, with its final '\n').
    pub fn signed_text(note: &str) -> &str {
        let cut = note.rfind("\n\n").expect("note has a blank line");
        &note[..cut + 1]
    }

    /// The signature lines of a note, without their '\n'.
    pub fn signature_lines(note: &str) -> Vec<&str> {
        let cut = note.rfind("\n\n").expect("note has a blank line");
        note[cut + 2..].split_terminator('\n').collect()
    }

    /// PEM "PUBLIC KEY" text of a DER SPKI.
    pub fn pem(der: &[u8]) -> String {
        let b64 = STANDARD.encode(der);
        let mut out = String::from("-----BEGIN PUBLIC KEY-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            out.push_str(std::str::from_utf8(chunk).unwrap());
            out.push('\n');
        }
        out.push_str("-----END PUBLIC KEY-----\n");
        out
    }

    /// An Ed25519 log key with a signer name (C2SP signed-note key hint binds both).
    pub struct Ed25519Signer {
        pub name: String,
        seed: [u8; 32],
        key: Ed25519KeyPair,
    }

    impl Ed25519Signer {
        pub fn new(name: &str, seed: [u8; 32]) -> Self {
            let key = Ed25519KeyPair::from_seed_unchecked(&seed).expect("ed25519 seed");
            Ed25519Signer { name: name.to_string(), seed, key }
        }

        /// A key whose seed is SHA-256 of `label`: fixed across runs.
        pub fn from_label(name: &str, label: &str) -> Self {
            Self::new(name, Sha256::digest(label.as_bytes()).into())
        }

        /// The same key under another signer name.
        pub fn renamed(&self, name: &str) -> Self {
            Self::new(name, self.seed)
        }

        pub fn public_key(&self) -> [u8; 32] {
            self.key.public_key().as_ref().try_into().expect("32-byte key")
        }

        pub fn spki_der(&self) -> Vec<u8> {
            let mut d = ED25519_SPKI_PREFIX.to_vec();
            d.extend_from_slice(&self.public_key());
            d
        }

        pub fn spki_b64(&self) -> String {
            STANDARD.encode(self.spki_der())
        }

        /// SHA-256(name || 0x0A || 0x01 || key): Rekor's log ID of an Ed25519 log.
        pub fn log_id(&self) -> [u8; 32] {
            let mut h = Sha256::new();
            h.update(self.name.as_bytes());
            h.update([0x0a, 0x01]);
            h.update(self.public_key());
            h.finalize().into()
        }

        pub fn key_hint(&self) -> [u8; 4] {
            let id = self.log_id();
            [id[0], id[1], id[2], id[3]]
        }

        pub fn sign(&self, text: &str) -> Vec<u8> {
            self.key.sign(text.as_bytes()).as_ref().to_vec()
        }

        pub fn line(&self, text: &str) -> String {
            sig_line(&self.name, &self.key_hint(), &self.sign(text))
        }

        /// `text` signed by this key alone.
        pub fn sign_note(&self, text: &str) -> String {
            assemble(text, &[self.line(text)])
        }

        /// A checkpoint of `origin` signed by this key.
        pub fn checkpoint(&self, origin: &str, size: u64, root: &[u8]) -> String {
            self.sign_note(&checkpoint_text(origin, size, root, &[]))
        }
    }

    /// An ECDSA P-256 log key (Rekor v1 style: hint = SHA-256(SPKI)[:4], the name is not bound).
    pub struct EcdsaSigner {
        pub name: String,
        key: EcdsaKeyPair,
        rng: SystemRandom,
    }

    impl EcdsaSigner {
        /// A fresh random key.
        pub fn generate(name: &str) -> Self {
            let rng = SystemRandom::new();
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).expect("generate");
            let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).expect("pkcs8");
            EcdsaSigner { name: name.to_string(), key, rng }
        }

        pub fn spki_der(&self) -> Vec<u8> {
            let mut d = P256_SPKI_PREFIX.to_vec();
            d.extend_from_slice(self.key.public_key().as_ref());
            d
        }

        /// SHA-256(SPKI): Rekor's log ID of an ECDSA log.
        pub fn log_id(&self) -> [u8; 32] {
            Sha256::digest(self.spki_der()).into()
        }

        pub fn key_hint(&self) -> [u8; 4] {
            let id = self.log_id();
            [id[0], id[1], id[2], id[3]]
        }

        pub fn sign(&self, text: &str) -> Vec<u8> {
            self.key.sign(&self.rng, text.as_bytes()).expect("sign").as_ref().to_vec()
        }

        pub fn line(&self, text: &str) -> String {
            sig_line(&self.name, &self.key_hint(), &self.sign(text))
        }

        pub fn sign_note(&self, text: &str) -> String {
            assemble(text, &[self.line(text)])
        }

        pub fn checkpoint(&self, origin: &str, size: u64, root: &[u8]) -> String {
            self.sign_note(&checkpoint_text(origin, size, root, &[]))
        }
    }

    /// A real RFC 6962 tree over `n` distinct leaves, with the root of every prefix precomputed.
    pub struct TestTree {
        pub leaves: Vec<Hash>,
        roots: Vec<Hash>,
    }

    impl TestTree {
        /// Leaves "<tag> <i>" for i in 0..n.
        pub fn new(tag: &str, n: usize) -> Self {
            Self::from_leaves((0..n).map(|i| merkle::leaf_hash(format!("{tag} {i}").as_bytes())).collect())
        }

        pub fn from_leaves(leaves: Vec<Hash>) -> Self {
            let roots = (0..=leaves.len()).map(|m| merkle::root_from_leaf_hashes(&leaves[..m])).collect();
            TestTree { leaves, roots }
        }

        /// The same tree with leaf `i` replaced: a fork from size i + 1 on.
        pub fn forked_at(&self, i: usize, tag: &str) -> Self {
            let mut leaves = self.leaves.clone();
            leaves[i] = merkle::leaf_hash(tag.as_bytes());
            Self::from_leaves(leaves)
        }

        pub fn len(&self) -> usize {
            self.leaves.len()
        }

        pub fn is_empty(&self) -> bool {
            self.leaves.is_empty()
        }

        pub fn root(&self, size: usize) -> Hash {
            self.roots[size]
        }

        /// RFC 9162 consistency proof from `old` to `new` leaves (empty when old is 0 or old = new).
        pub fn consistency(&self, old: usize, new: usize) -> Vec<Vec<u8>> {
            if old == 0 || old == new {
                return Vec::new();
            }
            merkle::consistency_proof(&self.leaves[..new], old)
                .expect("consistency proof")
                .iter()
                .map(|h| h.to_vec())
                .collect()
        }
    }
}
