//! The real local Rekor v1 (scripts/rekor.sh) for the pipeline tests: its settings from the
//! environment that scripts/test.sh exports, HTTP through curl, cosign attestations with a local key
//! pair, the submitter binary, and a check that the database has rekor_meta 0.3.0's queue schema.
use postgres::Client;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

fn need(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: the pipeline tests run in layer 4 of scripts/test.sh, which starts the local Rekor (scripts/rekor.sh)")
    })
}

/// The local Rekor the tests write to.
pub struct LocalRekor {
    pub url: String,
    pub hostname: String,
    pub public_key_pem: String,
    pub cosign: String,
}

impl LocalRekor {
    pub fn from_env() -> LocalRekor {
        let key_file = need("REKOR_PUBLIC_KEY_FILE");
        LocalRekor {
            url: need("REKOR_URL"),
            hostname: need("REKOR_HOSTNAME"),
            public_key_pem: std::fs::read_to_string(&key_file)
                .unwrap_or_else(|e| panic!("{key_file}: {e}")),
            cosign: need("COSIGN"),
        }
    }

    /// A Sigstore trusted_root.json for this local log (Rekor v1, ECDSA P-256 key, valid from
    /// 2020), whose baseUrl host is the log's hostname, so that the origin it implies is the one the
    /// log signs ("<hostname> - <tree id>").
    pub fn trusted_root(&self) -> serde_json::Value {
        use base64::Engine;
        use sha2::Digest;
        let b64: String = self
            .public_key_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let der = base64::engine::general_purpose::STANDARD.decode(b64.trim()).expect("the log key's PEM");
        let id = sha2::Sha256::digest(&der);
        serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [{
                "baseUrl": format!("http://{}", self.hostname),
                "hashAlgorithm": "SHA2_256",
                "publicKey": {"rawBytes": base64::engine::general_purpose::STANDARD.encode(&der),
                              "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": {"start": "2020-01-01T00:00:00Z"}},
                "logId": {"keyId": base64::engine::general_purpose::STANDARD.encode(id)},
            }],
        })
    }

    /// Leaves cosign's bundles of this log, and the log's trusted root, where the differential test
    /// against sigstore-go (scripts/test.sh layer 5, tests/differential/run.sh) picks them up:
    /// target/differential-inputs/.
    pub fn export_for_differential(&self, name: &str, bundles: &[serde_json::Value]) {
        let dir = repo_root().join("target/differential-inputs");
        std::fs::create_dir_all(&dir).expect("target/differential-inputs");
        std::fs::write(dir.join("trusted_root.local-rekor.json"), self.trusted_root().to_string()).expect("trusted root");
        for (i, b) in bundles.iter().enumerate() {
            std::fs::write(dir.join(format!("cosign-{name}-{i}.sigstore.json")), b.to_string()).expect("bundle");
        }
    }

    /// GET a path of the log: (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        curl(&["-sS", "-m", "20", &format!("{}{path}", self.url)])
    }

    /// POST JSON to a path: (status, body).
    pub fn post_json(&self, path: &str, body: &str) -> (u16, String) {
        curl(&[
            "-sS",
            "-m",
            "30",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            body,
            &format!("{}{path}", self.url),
        ])
    }

    /// The log's current size (GET /api/v1/log).
    pub fn tree_size(&self) -> u64 {
        let (s, b) = self.get("/api/v1/log");
        assert_eq!(s, 200, "GET /api/v1/log: {b}");
        let v: Value = serde_json::from_str(&b).expect("log info JSON");
        v["treeSize"].as_u64().expect("treeSize")
    }

    /// Waits until the log answers again (after start-rekor), at most `limit`.
    pub fn wait_up(&self, limit: Duration) {
        let t = Instant::now();
        while t.elapsed() < limit {
            if self.get("/api/v1/log").0 == 200 {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("Rekor did not answer within {limit:?}");
    }

    /// Trusts the log in `c` (rekor_add_log with its key and signer name: the origin defaults to the
    /// prefix "<hostname> - ", Rekor v1's "<hostname> - <tree id>") and records its endpoint.
    pub fn trust(&self, c: &mut Client) -> Vec<u8> {
        let id: Vec<u8> = c
            .query_one(
                "SELECT rekor_add_log($1, $2)",
                &[&self.public_key_pem, &self.hostname],
            )
            .expect("rekor_add_log")
            .get(0);
        c.execute(
            "SELECT rekor_set_log_endpoint($1, $2, 1)",
            &[&id, &self.url],
        )
        .expect("rekor_set_log_endpoint");
        id
    }
}

/// A loopback TCP port free right now (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// Runs scripts/rekor.sh with an action (start-rekor, stop-rekor, ...), asserting success.
pub fn rekor_sh(action: &str) -> String {
    let out = Command::new("bash")
        .arg(repo_root().join("scripts/rekor.sh"))
        .arg(action)
        .output()
        .expect("scripts/rekor.sh");
    assert!(
        out.status.success(),
        "scripts/rekor.sh {action}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// curl with the HTTP status appended: (status, body).
pub fn curl(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(args)
        .args(["-w", "\n%{http_code}"])
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

/// The 0.3.0 queue schema the submitter needs (verifier columns, rekor_enqueue's verifier argument,
/// log endpoints, NOTIFY) is part of the extension: this only checks the database has it.
pub fn apply_submitter_schema(c: &mut Client) {
    let has: bool = c
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = 'public' AND p.proname = 'rekor_enqueue' AND 'verifier' = ANY (p.proargnames))",
            &[],
        )
        .expect("catalog")
        .get(0);
    assert!(has, "rekor_meta 0.3.0 is not installed: rekor_enqueue takes no verifier (scripts/install.sh)");
}

/// A cosign key pair in its own directory (COSIGN_PASSWORD empty).
pub struct CosignKey {
    pub dir: PathBuf,
    pub public_pem: String,
    cosign: String,
}

impl CosignKey {
    pub fn generate(rekor: &LocalRekor, dir: &Path) -> CosignKey {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).expect("key dir");
        let out = Command::new(&rekor.cosign)
            .args(["generate-key-pair"])
            .current_dir(dir)
            .env("COSIGN_PASSWORD", "")
            .output()
            .expect("cosign generate-key-pair");
        assert!(
            out.status.success(),
            "cosign generate-key-pair: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let public_pem = std::fs::read_to_string(dir.join("cosign.pub")).expect("cosign.pub");
        CosignKey {
            dir: dir.to_path_buf(),
            public_pem,
            cosign: rekor.cosign.clone(),
        }
    }

    /// `cosign attest-blob --type openvex` over a small blob: the DSSE envelope, and with
    /// `rekor_url` also cosign's own Sigstore bundle (cosign logs it to that Rekor itself).
    pub fn attest(
        &self,
        name: &str,
        vex: &Value,
        rekor_url: Option<&str>,
    ) -> (Value, Option<Value>) {
        let blob = self.dir.join(format!("{name}.txt"));
        std::fs::write(&blob, format!("artifact {name}\n")).expect("blob");
        let pred = self.dir.join(format!("{name}.vex.json"));
        std::fs::write(&pred, vex.to_string()).expect("predicate");
        let env_path = self.dir.join(format!("{name}.dsse.json"));
        let bundle_path = self.dir.join(format!("{name}.sigstore.json"));
        let mut cmd = Command::new(&self.cosign);
        cmd.current_dir(&self.dir).env("COSIGN_PASSWORD", "").args([
            "attest-blob",
            "--yes",
            "--key",
            "cosign.key",
            "--type",
            "openvex",
            "--predicate",
            pred.to_str().expect("path"),
            // --output-signature is the DSSE envelope (--output-attestation is only its payload).
            "--output-signature",
            env_path.to_str().expect("path"),
        ]);
        match rekor_url {
            Some(u) => {
                cmd.args([
                    "--rekor-url",
                    u,
                    "--new-bundle-format",
                    "--bundle",
                    bundle_path.to_str().expect("path"),
                ]);
            }
            None => {
                cmd.args(["--tlog-upload=false"]);
            }
        }
        cmd.arg(blob.to_str().expect("path"));
        let out = cmd.output().expect("cosign attest-blob");
        assert!(
            out.status.success(),
            "cosign attest-blob: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let envelope: Value =
            serde_json::from_str(&std::fs::read_to_string(&env_path).expect("attestation file"))
                .expect("envelope JSON");
        let bundle = rekor_url.map(|_| {
            serde_json::from_str(&std::fs::read_to_string(&bundle_path).expect("bundle file"))
                .expect("bundle JSON")
        });
        (envelope, bundle)
    }
}

/// The submitter binary (REKOR_SUBMITTER_BIN, else target/release/rekor-meta-submitter).
pub fn submitter_bin() -> PathBuf {
    std::env::var("REKOR_SUBMITTER_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("target/release/rekor-meta-submitter"))
}

/// The parsed `summary` line a submitter prints when it exits.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub fields: std::collections::BTreeMap<String, String>,
    pub stderr: String,
}

impl Summary {
    pub fn get(&self, k: &str) -> u64 {
        self.fields
            .get(k)
            .and_then(|v| v.parse::<f64>().ok())
            .map(|v| v as u64)
            .unwrap_or(0)
    }

    pub fn seconds(&self, k: &str) -> f64 {
        self.fields
            .get(k)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    }
}

pub fn parse_summary(stdout: &str, stderr: &str) -> Summary {
    let mut s = Summary {
        stderr: stderr.to_string(),
        ..Default::default()
    };
    if let Some(line) = stdout.lines().rev().find(|l| l.starts_with("summary ")) {
        for kv in line.split_whitespace().skip(1) {
            if let Some((k, v)) = kv.split_once('=') {
                s.fields.insert(k.to_string(), v.to_string());
            }
        }
    }
    s
}

/// A running submitter process; its stdout and stderr go to files (never a pipe that could fill).
pub struct Submitter {
    pub child: Child,
    pub name: String,
    out: PathBuf,
    err: PathBuf,
}

impl Submitter {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// kill -9, and reap it.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a submitter process (run, --exit-when-idle) against `dsn`.
pub fn spawn_submitter(dsn: &str, worker: &str, extra: &[&str]) -> Submitter {
    spawn_submitter_with(dsn, worker, true, extra)
}

pub fn spawn_submitter_with(
    dsn: &str,
    worker: &str,
    exit_when_idle: bool,
    extra: &[&str],
) -> Submitter {
    let dir = repo_root().join("target/pipeline-tests/logs");
    std::fs::create_dir_all(&dir).expect("log dir");
    let out = dir.join(format!("{worker}.{}.out", std::process::id()));
    let err = dir.join(format!("{worker}.{}.err", std::process::id()));
    let mut cmd = Command::new(submitter_bin());
    cmd.args(["--dsn", dsn, "--worker", worker]);
    if !extra.contains(&"--poll-ms") {
        cmd.args(["--poll-ms", "200"]);
    }
    if exit_when_idle {
        cmd.arg("--exit-when-idle");
    }
    let child = cmd
        .args(extra)
        .env("REKOR_SUBMITTER_LOG", "info")
        .stdout(Stdio::from(
            std::fs::File::create(&out).expect("stdout file"),
        ))
        .stderr(Stdio::from(
            std::fs::File::create(&err).expect("stderr file"),
        ))
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (scripts/test.sh builds it)",
                submitter_bin().display()
            )
        });
    Submitter {
        child,
        name: worker.to_string(),
        out,
        err,
    }
}

/// Waits for a submitter to exit within `limit` (killed and a panic otherwise): its summary.
pub fn wait_submitter(mut s: Submitter, limit: Duration) -> (std::process::ExitStatus, Summary) {
    let t = Instant::now();
    let status = loop {
        match s.child.try_wait().expect("try_wait") {
            Some(st) => break st,
            None if t.elapsed() > limit => {
                s.kill9();
                panic!(
                    "submitter {} did not finish within {limit:?}; stderr tail:\n{}",
                    s.name,
                    tail(&s.stderr(), 40)
                );
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    let stdout = std::fs::read_to_string(&s.out).unwrap_or_default();
    (status, parse_summary(&stdout, &s.stderr()))
}

pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// An OpenVEX document with one statement about `cve` in `product`.
pub fn openvex(id: &str, cve: &str, product: &str) -> Value {
    serde_json::json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": format!("https://example.test/vex/{id}"),
        "author": "rekor_meta tests",
        "timestamp": "2026-12-01T00:00:00Z",
        "version": 1,
        "statements": [{
            "vulnerability": {"name": cve},
            "products": [{"@id": product}],
            "status": "not_affected",
            "justification": "vulnerable_code_not_present"
        }]
    })
}

/// An ECDSA P-256 signer made in the test (ring), for envelopes in bulk: cosign takes ~0.7 s per
/// attestation here, too slow for thousands. The envelopes are the same DSSE form cosign writes
/// (in-toto statement with an OpenVEX predicate, signature over the PAE, empty keyid).
pub struct TestSigner {
    key: ring::signature::EcdsaKeyPair,
    rng: ring::rand::SystemRandom,
    pub public_pem: String,
}

impl TestSigner {
    pub fn new() -> TestSigner {
        use base64::Engine;
        use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .expect("generate key");
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .expect("key");
        let mut spki =
            hex::decode("3059301306072a8648ce3d020106082a8648ce3d030107034200").expect("hex");
        spki.extend_from_slice(key.public_key().as_ref());
        let b64 = base64::engine::general_purpose::STANDARD.encode(&spki);
        let mut public_pem = "-----BEGIN PUBLIC KEY-----\n".to_string();
        for chunk in b64.as_bytes().chunks(64) {
            public_pem.push_str(std::str::from_utf8(chunk).expect("ascii"));
            public_pem.push('\n');
        }
        public_pem.push_str("-----END PUBLIC KEY-----\n");
        TestSigner {
            key,
            rng,
            public_pem,
        }
    }

    /// A DSSE envelope over an in-toto statement about artifact `name` whose predicate is `vex`.
    pub fn envelope(&self, name: &str, vex: &Value) -> Value {
        use base64::Engine;
        use sha2::Digest;
        let statement = serde_json::json!({
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": "https://openvex.dev/ns",
            "subject": [{"name": name, "digest": {"sha256": hex::encode(sha2::Sha256::digest(name.as_bytes()))}}],
            "predicate": vex,
        });
        let payload = statement.to_string().into_bytes();
        let payload_type = "application/vnd.in-toto+json";
        let mut pae = format!(
            "DSSEv1 {} {} {} ",
            payload_type.len(),
            payload_type,
            payload.len()
        )
        .into_bytes();
        pae.extend_from_slice(&payload);
        let sig = self.key.sign(&self.rng, &pae).expect("sign");
        let b64 = base64::engine::general_purpose::STANDARD;
        serde_json::json!({
            "payloadType": payload_type,
            "payload": b64.encode(&payload),
            "signatures": [{"keyid": "", "sig": b64.encode(sig.as_ref())}],
        })
    }
}

impl Default for TestSigner {
    fn default() -> Self {
        TestSigner::new()
    }
}
