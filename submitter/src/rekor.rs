//! The Rekor REST clients. v1: create a dsse entry, fetch an entry by UUID, the log's checkpoint and
//! consistency proofs. v2 (rekor-tiles): create a hashedrekord entry, and after AlreadyExists the
//! entry and its proof from the tiles (crate::tiles). Every answer is classified; nothing from the
//! network is unwrapped.
use crate::metrics::Metrics;
use base64::Engine;
use serde_json::{json, Value};
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Responses larger than this are refused (Rekor answers a few KiB per entry).
const MAX_BODY: u64 = 16 * 1024 * 1024;

/// What became of one submission.
#[derive(Debug)]
pub enum Outcome {
    /// The REST response (`{uuid: entry}`) to hand to rekor_mark_submitted; `conflict` when Rekor
    /// answered 409 and the existing entry was fetched.
    Logged { response: Value, conflict: bool },
    /// Try again later (429, 5xx, timeouts, connection errors). `class` names it for the metrics.
    Retry {
        class: &'static str,
        message: String,
    },
    /// The log will never accept it (4xx): the item is dead with Rekor's message.
    Reject { status: u16, message: String },
    /// 405: this log (shard) no longer accepts entries: retry on the active one.
    Frozen { message: String },
    /// Rekor v2 AlreadyExists (409): the entry is in the log at this index.
    Exists { index: u64 },
}

pub struct Rekor {
    agent: ureq::Agent,
    metrics: Arc<Metrics>,
}

/// An HTTP answer: status, Location header, body (as text).
struct Answer {
    status: u16,
    location: Option<String>,
    /// Rekor v2's X-Log-Index header (the index of the existing entry on AlreadyExists).
    log_index: Option<String>,
    body: String,
}

/// Rekor's error message: the JSON `message` field, else the body, cut to 2000 characters.
fn message_of(body: &str) -> String {
    let m = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v.get("message")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| body.trim().to_string());
    m.chars().take(2000).collect()
}

/// The 64- or 80-hex-digit UUID at the end of a Location header or a 409 message.
fn uuid_in(s: &str) -> Option<String> {
    let tail: String = s
        .trim()
        .trim_end_matches('/')
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_hexdigit())
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if tail.len() == 64 || tail.len() == 80 {
        Some(tail.to_ascii_lowercase())
    } else {
        None
    }
}

impl Rekor {
    pub fn new(timeout: Duration, metrics: Arc<Metrics>) -> Rekor {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .timeout_connect(Some(timeout.min(Duration::from_secs(10))))
            .http_status_as_error(false)
            .user_agent(concat!("rekor-meta-submitter/", env!("CARGO_PKG_VERSION")))
            .build();
        Rekor {
            agent: config.into(),
            metrics,
        }
    }

    fn finish(
        &self,
        op: &str,
        started: Instant,
        r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Answer, ureq::Error> {
        let result = r.and_then(|mut resp| {
            let status = resp.status().as_u16();
            let header = |name: &str| {
                resp.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let (location, log_index) = (header("Location"), header("X-Log-Index"));
            let mut body = String::new();
            resp.body_mut()
                .as_reader()
                .take(MAX_BODY)
                .read_to_string(&mut body)
                .map_err(ureq::Error::Io)?;
            Ok(Answer {
                status,
                location,
                log_index,
                body,
            })
        });
        let status = match &result {
            Ok(a) => a.status.to_string(),
            Err(ureq::Error::Timeout(_)) => "timeout".to_string(),
            Err(_) => "error".to_string(),
        };
        self.metrics.observe_http(op, &status, started.elapsed());
        result
    }

    fn get(&self, op: &str, url: &str) -> Result<Answer, ureq::Error> {
        let t = Instant::now();
        let r = self
            .agent
            .get(url)
            .header("Accept", "application/json")
            .call();
        self.finish(op, t, r)
    }

    fn transport(e: &ureq::Error) -> Outcome {
        let class = match e {
            ureq::Error::Timeout(_) => "timeout",
            ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => "connection",
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
                "connection"
            }
            _ => "transport",
        };
        Outcome::Retry {
            class,
            message: format!("Rekor request failed ({class}): {e}"),
        }
    }

    /// POST /api/v1/log/entries with a dsse v0.0.1 proposed entry: the envelope as given and the
    /// signer's verifier (PEM public key or certificate).
    pub fn submit_dsse(&self, base: &str, envelope_json: &str, verifier_pem: &str) -> Outcome {
        let verifier = base64::engine::general_purpose::STANDARD.encode(verifier_pem.as_bytes());
        let proposed = json!({
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": { "proposedContent": { "envelope": envelope_json, "verifiers": [verifier] } }
        });
        let body = proposed.to_string();
        let url = format!("{base}/api/v1/log/entries");
        let t = Instant::now();
        let r = self
            .agent
            .post(&url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .send(body.as_bytes());
        let a = match self.finish("create", t, r) {
            Ok(a) => a,
            Err(e) => return Self::transport(&e),
        };
        match a.status {
            200 | 201 => match serde_json::from_str::<Value>(&a.body) {
                Ok(v) if v.as_object().is_some_and(|o| o.len() == 1) => Outcome::Logged {
                    response: v,
                    conflict: false,
                },
                Ok(_) => Outcome::Retry {
                    class: "bad_response",
                    message: "Rekor's 201 answer is not one {uuid: entry} object".into(),
                },
                Err(e) => Outcome::Retry {
                    class: "bad_response",
                    message: format!("Rekor's 201 answer is not JSON: {e}"),
                },
            },
            409 => {
                let uuid = a
                    .location
                    .as_deref()
                    .and_then(uuid_in)
                    .or_else(|| uuid_in(&message_of(&a.body)));
                match uuid {
                    Some(u) => match self.get_entry(base, &u) {
                        Ok(v) => Outcome::Logged {
                            response: v,
                            conflict: true,
                        },
                        Err(o) => o,
                    },
                    None => Outcome::Retry {
                        class: "bad_response",
                        message: format!("409 without an entry UUID: {}", message_of(&a.body)),
                    },
                }
            }
            405 => Outcome::Frozen {
                message: format!("405 from {url}: {}", message_of(&a.body)),
            },
            429 => Outcome::Retry {
                class: "rate_limited",
                message: format!("429: {}", message_of(&a.body)),
            },
            s if s >= 500 => Outcome::Retry {
                class: "server_error",
                message: format!("{s}: {}", message_of(&a.body)),
            },
            s if (400..500).contains(&s) => Outcome::Reject {
                status: s,
                message: format!("Rekor {s}: {}", message_of(&a.body)),
            },
            s => Outcome::Retry {
                class: "bad_response",
                message: format!("unexpected HTTP {s}: {}", message_of(&a.body)),
            },
        }
    }

    /// GET /api/v1/log/entries/{uuid}: the `{uuid: entry}` answer.
    pub fn get_entry(&self, base: &str, uuid: &str) -> Result<Value, Outcome> {
        let a = self
            .get("get_entry", &format!("{base}/api/v1/log/entries/{uuid}"))
            .map_err(|e| Self::transport(&e))?;
        match a.status {
            200 => serde_json::from_str::<Value>(&a.body)
                .ok()
                .filter(|v| v.as_object().is_some_and(|o| o.len() == 1))
                .ok_or(Outcome::Retry {
                    class: "bad_response",
                    message: format!("entry {uuid}: not one {{uuid: entry}} object"),
                }),
            s if s == 429 || s >= 500 || s == 404 => Err(Outcome::Retry {
                class: "server_error",
                message: format!("GET entry {uuid}: {s}: {}", message_of(&a.body)),
            }),
            s => Err(Outcome::Reject {
                status: s,
                message: format!("GET entry {uuid}: {s}: {}", message_of(&a.body)),
            }),
        }
    }

    /// GET of a binary file (a tile): Some(bytes) on 200, None on 404.
    fn get_bytes(&self, op: &str, url: &str) -> Result<Option<Vec<u8>>, String> {
        let t = Instant::now();
        let r = self.agent.get(url).call();
        let result = r.map_err(|e| e.to_string()).and_then(|mut resp| {
            let status = resp.status().as_u16();
            let mut body = Vec::new();
            resp.body_mut()
                .as_reader()
                .take(MAX_BODY)
                .read_to_end(&mut body)
                .map_err(|e| e.to_string())?;
            Ok((status, body))
        });
        let label = match &result {
            Ok((s, _)) => s.to_string(),
            Err(_) => "error".to_string(),
        };
        self.metrics.observe_http(op, &label, t.elapsed());
        match result? {
            (200, b) => Ok(Some(b)),
            (404, _) => Ok(None),
            (s, b) => Err(format!("GET {url}: {s}: {}", message_of(&String::from_utf8_lossy(&b)))),
        }
    }

    /// POST /api/v2/log/entries with a CreateEntryRequest (crate::tiles::hashedrekord_request).
    /// rekor-tiles answers through its gRPC gateway: 201 TransparencyLogEntry; AlreadyExists 409
    /// with X-Log-Index; InvalidArgument 400; Unavailable 503 (pushback); a frozen log 405.
    pub fn submit_v2(&self, base: &str, request: &str) -> Outcome {
        let url = format!("{base}/api/v2/log/entries");
        let t = Instant::now();
        let r = self
            .agent
            .post(&url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .send(request.as_bytes());
        let a = match self.finish("create", t, r) {
            Ok(a) => a,
            Err(e) => return Self::transport(&e),
        };
        match a.status {
            200 | 201 => match serde_json::from_str::<Value>(&a.body) {
                Ok(v) if v.get("inclusionProof").is_some_and(Value::is_object) && v.get("logIndex").is_some() => {
                    Outcome::Logged {
                        response: v,
                        conflict: false,
                    }
                }
                Ok(_) => Outcome::Retry {
                    class: "bad_response",
                    message: "Rekor v2's 201 answer is not a TransparencyLogEntry with an inclusion proof".into(),
                },
                Err(e) => Outcome::Retry {
                    class: "bad_response",
                    message: format!("Rekor v2's 201 answer is not JSON: {e}"),
                },
            },
            409 => {
                let m = message_of(&a.body);
                // The header, else the message ("... already exists in the transparency log with index N").
                let index = a
                    .log_index
                    .as_deref()
                    .and_then(|i| i.trim().parse::<u64>().ok())
                    .or_else(|| m.rsplit(' ').next().and_then(|w| w.parse::<u64>().ok()));
                match index {
                    Some(index) => Outcome::Exists { index },
                    None => Outcome::Retry {
                        class: "bad_response",
                        message: format!("409 without the existing entry's index: {m}"),
                    },
                }
            }
            405 => Outcome::Frozen {
                message: format!("405 from {url}: {}", message_of(&a.body)),
            },
            429 => Outcome::Retry {
                class: "rate_limited",
                message: format!("429: {}", message_of(&a.body)),
            },
            // 499: gRPC Canceled (the server gave up the request), 5xx: Unavailable (pushback), Unknown.
            s if s >= 500 || s == 499 || s == 408 => Outcome::Retry {
                class: "server_error",
                message: format!("{s}: {}", message_of(&a.body)),
            },
            s if (400..500).contains(&s) => Outcome::Reject {
                status: s,
                message: format!("Rekor {s}: {}", message_of(&a.body)),
            },
            s => Outcome::Retry {
                class: "bad_response",
                message: format!("unexpected HTTP {s}: {}", message_of(&a.body)),
            },
        }
    }

    /// GET <base>/checkpoint (C2SP tlog-tiles), parsed.
    pub fn v2_checkpoint(&self, base: &str) -> Result<crate::tiles::Checkpoint, Outcome> {
        let retry = |message: String| Outcome::Retry {
            class: "tiles",
            message,
        };
        let raw = self
            .get_bytes("checkpoint", &format!("{base}/checkpoint"))
            .map_err(retry)?
            .ok_or_else(|| retry(format!("{base}/checkpoint does not exist")))?;
        let note = String::from_utf8(raw).map_err(|_| retry("the checkpoint is not UTF-8".into()))?;
        crate::tiles::parse_checkpoint(&note).map_err(|e| retry(format!("{base}/checkpoint: {e}")))
    }

    /// The TransparencyLogEntry of the entry at `index`, with its proof against `cp`, from the tiles.
    pub fn v2_entry_at(
        &self,
        base: &str,
        cp: &crate::tiles::Checkpoint,
        index: u64,
        log_id: &[u8],
    ) -> Result<Value, Outcome> {
        struct Http<'a> {
            rekor: &'a Rekor,
            base: &'a str,
        }
        impl crate::tiles::TileSource for Http<'_> {
            fn fetch(&mut self, path: &str) -> Result<Option<Vec<u8>>, String> {
                self.rekor.get_bytes("tile", &format!("{}/{path}", self.base))
            }
        }
        crate::tiles::entry_at(&mut Http { rekor: self, base }, cp, index, log_id).map_err(|message| Outcome::Retry {
            class: "tiles",
            message: format!("entry {index} from the tiles: {message}"),
        })
    }

    /// The consistency proof from size `old` to the tree of `size`, built from the v2 log's tiles.
    pub fn v2_consistency(&self, base: &str, old: u64, size: u64) -> anyhow::Result<Vec<Vec<u8>>> {
        struct Http<'a> {
            rekor: &'a Rekor,
            base: &'a str,
        }
        impl crate::tiles::TileSource for Http<'_> {
            fn fetch(&mut self, path: &str) -> Result<Option<Vec<u8>>, String> {
                self.rekor.get_bytes("tile", &format!("{}/{path}", self.base))
            }
        }
        let mut src = Http { rekor: self, base };
        let proof = crate::tiles::TileTree::new(&mut src, size)
            .consistency_proof(old)
            .map_err(|e| anyhow::anyhow!("consistency proof {old} -> {size} from the tiles: {e}"))?;
        Ok(proof.iter().map(|h| h.to_vec()).collect())
    }

    /// GET /api/v1/log: treeSize, rootHash, signedTreeHead (the checkpoint note), treeID.
    pub fn log_info(&self, base: &str) -> anyhow::Result<Value> {
        let a = self
            .get("log_info", &format!("{base}/api/v1/log"))
            .map_err(|e| anyhow::anyhow!("GET /api/v1/log: {e}"))?;
        if a.status != 200 {
            anyhow::bail!("GET /api/v1/log: {}: {}", a.status, message_of(&a.body));
        }
        Ok(serde_json::from_str(&a.body)?)
    }

    /// GET /api/v1/log/proof?firstSize=..&lastSize=..(&treeID=..): the consistency proof hashes.
    pub fn consistency(
        &self,
        base: &str,
        first: u64,
        last: u64,
        tree_id: Option<&str>,
    ) -> anyhow::Result<Vec<Vec<u8>>> {
        let mut url = format!("{base}/api/v1/log/proof?firstSize={first}&lastSize={last}");
        if let Some(t) = tree_id {
            url.push_str(&format!("&treeID={t}"));
        }
        let a = self
            .get("proof", &url)
            .map_err(|e| anyhow::anyhow!("GET proof: {e}"))?;
        if a.status != 200 {
            anyhow::bail!("GET {url}: {}: {}", a.status, message_of(&a.body));
        }
        let v: Value = serde_json::from_str(&a.body)?;
        let hashes = v
            .get("hashes")
            .and_then(|h| h.as_array())
            .cloned()
            .unwrap_or_default();
        hashes
            .iter()
            .map(|h| {
                h.as_str()
                    .ok_or_else(|| anyhow::anyhow!("proof hash is not a string"))
                    .and_then(|s| {
                        hex::decode(s).map_err(|e| anyhow::anyhow!("proof hash is not hex: {e}"))
                    })
            })
            .collect()
    }
}

/// PEM of a DER verifier, as Rekor wants it.
pub fn pem(der: &[u8], kind: &str) -> String {
    let label = if kind == "x509_certificate" {
        "CERTIFICATE"
    } else {
        "PUBLIC KEY"
    };
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_from_location_and_message() {
        let u = "24296fb24b8ad77a".to_string() + &"ab".repeat(32);
        assert_eq!(
            uuid_in(&format!("/api/v1/log/entries/{u}")),
            Some(u.clone())
        );
        assert_eq!(
            uuid_in(&format!(
                "An equivalent entry already exists in the transparency log with UUID {u}"
            )),
            Some(u)
        );
        assert_eq!(uuid_in("no uuid here"), None);
    }

    #[test]
    fn messages() {
        assert_eq!(
            message_of(r#"{"code":400,"message":"bad envelope"}"#),
            "bad envelope"
        );
        assert_eq!(message_of("plain text\n"), "plain text");
    }

    #[test]
    fn pem_lines() {
        let p = pem(&[0u8; 100], "public_key");
        assert!(p.starts_with("-----BEGIN PUBLIC KEY-----\n"));
        assert!(p.lines().all(|l| l.len() <= 64));
    }
}
