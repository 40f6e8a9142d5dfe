//! A synthetic Rekor log for the queue tests: N distinct signed DSSE envelopes, their dsse v0.0.1
//! entries in Rekor's canonical body form, a real RFC 6962 tree over those bodies, one checkpoint for
//! the final size signed by an Ed25519 log key (Rekor v2 style: no SET), and for every index the REST
//! response `POST /api/v1/log/entries` would have returned (`{uuid: {body, integratedTime, logID,
//! logIndex, verification {inclusionProof}}}`).
//!
//! `worker` holds a reusable queue worker (dequeue, mark_submitted, reconnect) and the checks over
//! the logs the workers keep.
use crate::notes::{pem, Ed25519Signer};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use postgres::Client;
use rekor_meta_core::dsse;
use rekor_meta_core::merkle::{self, Hash};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

pub mod worker;

/// The signer name (and checkpoint origin) of the default test log.
pub const LOG_NAME: &str = "queue.test.log";

/// DSSE payload type of the test envelopes.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// Integrated time of every entry (any time works: the test key has no validity window).
pub const INTEGRATED_TIME: i64 = 1_735_689_600;

/// All subtree roots of an RFC 6962 tree, so that an inclusion proof costs O(log n) hashes
/// (core's `merkle::inclusion_proof` recomputes whole subtrees: fine for 100 leaves, not for 20,000).
struct FastTree {
    /// levels[j][k]: the root of the complete subtree of 2^j leaves starting at leaf k * 2^j.
    levels: Vec<Vec<Hash>>,
    size: usize,
}

fn split_point(n: usize) -> usize {
    // The largest power of two smaller than n (n >= 2).
    let mut k = 1;
    while k << 1 < n {
        k <<= 1;
    }
    k
}

impl FastTree {
    fn new(leaves: Vec<Hash>) -> Self {
        let size = leaves.len();
        let mut levels = vec![leaves];
        while levels.last().unwrap().len() >= 2 {
            let prev = levels.last().unwrap();
            let next: Vec<Hash> = prev.chunks_exact(2).map(|p| merkle::node_hash(&p[0], &p[1])).collect();
            levels.push(next);
        }
        FastTree { levels, size }
    }

    /// MTH of leaves [start, start + len).
    fn subtree(&self, start: usize, len: usize) -> Hash {
        if len == 0 {
            return merkle::empty_root();
        }
        if len.is_power_of_two() && start % len == 0 {
            let j = len.trailing_zeros() as usize;
            return self.levels[j][start >> j];
        }
        let k = split_point(len);
        merkle::node_hash(&self.subtree(start, k), &self.subtree(start + k, len - k))
    }

    fn root(&self) -> Hash {
        self.subtree(0, self.size)
    }

    /// PATH(m, D[size]) (RFC 6962 §2.1.1).
    fn proof(&self, m: usize) -> Vec<Hash> {
        fn path(t: &FastTree, m: usize, start: usize, len: usize, out: &mut Vec<Hash>) {
            if len <= 1 {
                return;
            }
            let k = split_point(len);
            if m < k {
                path(t, m, start, k, out);
                out.push(t.subtree(start + k, len - k));
            } else {
                path(t, m - k, start + k, len - k, out);
                out.push(t.subtree(start, k));
            }
        }
        let mut out = Vec::new();
        path(self, m, 0, self.size, &mut out);
        out
    }
}

/// The synthetic log: envelopes, bodies, tree, checkpoint.
pub struct TestLog {
    pub signer: Ed25519Signer,
    /// The DSSE envelopes, each distinct (its payload names the tag and the index).
    pub envelopes: Vec<Value>,
    /// The canonicalized dsse v0.0.1 body of each envelope: the Merkle leaves.
    pub bodies: Vec<Vec<u8>>,
    /// SHA-256 of each envelope's canonical JSON (what rekor_submission_queue.envelope_sha256 holds).
    pub envelope_sha256: Vec<[u8; 32]>,
    tree: FastTree,
    /// The one checkpoint, for the final tree size.
    pub checkpoint: String,
    by_envelope: HashMap<[u8; 32], usize>,
}

impl TestLog {
    /// `n` envelopes in the default log "queue.test.log"; `tag` makes the envelopes distinct from
    /// another TestLog's (use a different log name for two trees in one database: one log cannot
    /// sign two roots for one size without being a fork).
    pub fn new(tag: &str, n: usize) -> Self {
        Self::with_name(LOG_NAME, tag, n)
    }

    pub fn with_name(name: &str, tag: &str, n: usize) -> Self {
        Self::with_key(name, &format!("rekor_meta queue tests: log key of {name}"), tag, n)
    }

    /// Like `with_name`, with the log key derived from `key_label`: two logs of one operator (the same
    /// signer name) with different keys, as a new shard with a new key is.
    pub fn with_key(name: &str, key_label: &str, tag: &str, n: usize) -> Self {
        assert!(n >= 1, "a test log needs at least one entry");
        let signer = Ed25519Signer::from_label(name, key_label);
        let attester_seed: [u8; 32] = Sha256::digest(b"rekor_meta queue tests: attester key").into();
        let attester = Ed25519KeyPair::from_seed_unchecked(&attester_seed).expect("attester seed");
        let mut spki = crate::notes::ED25519_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(attester.public_key().as_ref());
        let verifier = STANDARD.encode(pem(&spki));

        let mut envelopes = Vec::with_capacity(n);
        let mut bodies = Vec::with_capacity(n);
        let mut shas = Vec::with_capacity(n);
        let mut leaves = Vec::with_capacity(n);
        let mut by_envelope = HashMap::with_capacity(n);
        for i in 0..n {
            let statement = json!({
                "_type": "https://in-toto.io/Statement/v1",
                "predicate": {"builder": {"id": "https://rekor-meta.test/queue"}, "index": i, "tag": tag},
                "predicateType": "https://slsa.dev/provenance/v1",
                "subject": [{"digest": {"sha256": hex::encode(Sha256::digest(format!("{tag} artifact {i}")))},
                             "name": format!("artifact-{i}")}],
            });
            let payload = serde_json::to_vec(&statement).unwrap();
            let sig = attester.sign(&dsse::pae(PAYLOAD_TYPE, &payload));
            let envelope = json!({
                "payload": STANDARD.encode(&payload),
                "payloadType": PAYLOAD_TYPE,
                "signatures": [{"sig": STANDARD.encode(sig.as_ref())}],
            });
            let env_sha = dsse::envelope_sha256(&envelope);
            // Rekor's canonical dsse v0.0.1 body: members in the order the real fixture has them
            // (apiVersion, kind, spec {envelopeHash, payloadHash, signatures [{signature, verifier}]}),
            // compact JSON. Written by hand so the byte order does not depend on serde_json features.
            let body = format!(
                concat!(
                    r#"{{"apiVersion":"0.0.1","kind":"dsse","spec":{{"envelopeHash":{{"algorithm":"sha256","value":"{}"}},"#,
                    r#""payloadHash":{{"algorithm":"sha256","value":"{}"}},"#,
                    r#""signatures":[{{"signature":"{}","verifier":"{}"}}]}}}}"#
                ),
                hex::encode(env_sha),
                hex::encode(Sha256::digest(&payload)),
                STANDARD.encode(sig.as_ref()),
                verifier
            )
            .into_bytes();
            leaves.push(merkle::leaf_hash(&body));
            assert!(by_envelope.insert(env_sha, i).is_none(), "envelope {i} is not distinct");
            envelopes.push(envelope);
            bodies.push(body);
            shas.push(env_sha);
        }
        let tree = FastTree::new(leaves);
        let checkpoint = signer.checkpoint(name, n as u64, &tree.root());
        TestLog { signer, envelopes, bodies, envelope_sha256: shas, tree, checkpoint, by_envelope }
    }

    pub fn len(&self) -> usize {
        self.envelopes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.envelopes.is_empty()
    }

    pub fn name(&self) -> &str {
        &self.signer.name
    }

    /// Rekor's log ID of the test log: SHA-256(name || 0x0A || 0x01 || key).
    pub fn log_id(&self) -> Vec<u8> {
        self.signer.log_id().to_vec()
    }

    pub fn root(&self) -> Hash {
        self.tree.root()
    }

    pub fn leaf_hash(&self, i: usize) -> Hash {
        self.tree.levels[0][i]
    }

    pub fn inclusion_proof(&self, i: usize) -> Vec<Hash> {
        self.tree.proof(i)
    }

    /// The envelope as JSON text (for `$1::text::jsonb`).
    pub fn envelope_json(&self, i: usize) -> String {
        serde_json::to_string(&self.envelopes[i]).unwrap()
    }

    /// The index of the envelope whose canonical SHA-256 is `sha`.
    pub fn index_of(&self, sha: &[u8]) -> Option<usize> {
        let key: [u8; 32] = sha.try_into().ok()?;
        self.by_envelope.get(&key).copied()
    }

    /// The REST response for entry `i` (no signed entry timestamp: an Ed25519, v2-style log).
    pub fn response(&self, i: usize) -> Value {
        let leaf = self.leaf_hash(i);
        let hashes: Vec<String> = self.inclusion_proof(i).iter().map(hex::encode).collect();
        let mut m = serde_json::Map::new();
        m.insert(
            hex::encode(leaf),
            json!({
                "body": STANDARD.encode(&self.bodies[i]),
                "integratedTime": INTEGRATED_TIME,
                "logID": hex::encode(self.signer.log_id()),
                "logIndex": i,
                "verification": {
                    "inclusionProof": {
                        "checkpoint": self.checkpoint,
                        "hashes": hashes,
                        "logIndex": i,
                        "rootHash": hex::encode(self.root()),
                        "treeSize": self.len(),
                    }
                }
            }),
        );
        Value::Object(m)
    }

    pub fn response_json(&self, i: usize) -> String {
        serde_json::to_string(&self.response(i)).unwrap()
    }

    /// The same entry as a Sigstore bundle v0.3 (protobuf JSON: base64 hashes, string integers),
    /// the other form rekor_mark_submitted accepts.
    pub fn bundle(&self, i: usize) -> Value {
        let hashes: Vec<String> = self.inclusion_proof(i).iter().map(|h| STANDARD.encode(h)).collect();
        json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": {
                "publicKey": {"hint": "queue-tests-attester"},
                "tlogEntries": [{
                    "logIndex": i.to_string(),
                    "logId": {"keyId": STANDARD.encode(self.signer.log_id())},
                    "kindVersion": {"kind": "dsse", "version": "0.0.1"},
                    "integratedTime": INTEGRATED_TIME.to_string(),
                    "inclusionProof": {
                        "logIndex": i.to_string(),
                        "rootHash": STANDARD.encode(self.root()),
                        "treeSize": self.len().to_string(),
                        "hashes": hashes,
                        "checkpoint": {"envelope": self.checkpoint},
                    },
                    "canonicalizedBody": STANDARD.encode(&self.bodies[i]),
                }],
            },
            "dsseEnvelope": self.envelopes[i],
        })
    }

    /// Trusts the log in this database (rekor_add_log) and checks that a response of this log
    /// ingests through rekor_ingest_entry (in a transaction that is rolled back, so nothing stays).
    /// Returns the log_id.
    pub fn install(&self, c: &mut Client) -> Vec<u8> {
        let log_id: Vec<u8> = c
            .query_one("SELECT rekor_add_log($1, $2)", &[&self.signer.spki_b64(), &self.name()])
            .expect("rekor_add_log")
            .get(0);
        assert_eq!(log_id, self.log_id(), "rekor_add_log computed another log ID");
        let mut t = c.transaction().unwrap();
        let i = self.len() - 1;
        let ids: Vec<i64> = t
            .query("SELECT rekor_ingest_entry($1::text::jsonb)", &[&self.response_json(i)])
            .unwrap_or_else(|e| panic!("a synthetic response does not ingest: {e:?}"))
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(ids.len(), 1);
        t.rollback().unwrap();
        log_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_tree_agrees_with_the_core_reference() {
        for n in 1..40usize {
            let leaves: Vec<Hash> = (0..n).map(|i| merkle::leaf_hash(format!("leaf {i}").as_bytes())).collect();
            let t = FastTree::new(leaves.clone());
            assert_eq!(t.root(), merkle::root_from_leaf_hashes(&leaves), "root of {n}");
            for m in 0..n {
                assert_eq!(t.proof(m), merkle::inclusion_proof(&leaves, m).unwrap(), "proof {m} of {n}");
            }
        }
    }

    #[test]
    fn bodies_parse_as_dsse_entries_of_their_envelopes() {
        let log = TestLog::new("unit", 5);
        for i in 0..5 {
            let parsed = rekor_meta_core::entry::parse_body(&log.bodies[i]).expect("body parses");
            assert_eq!((parsed.kind.as_str(), parsed.api_version.as_str()), ("dsse", "0.0.1"));
            // The body is already canonical: re-serialising it changes nothing.
            let v: Value = serde_json::from_slice(&log.bodies[i]).unwrap();
            assert_eq!(rekor_meta_core::entry::canonical_json(&v), log.bodies[i]);
            let env = dsse::parse_envelope(&log.envelopes[i]).unwrap();
            assert_eq!(env.payload_type, PAYLOAD_TYPE);
            assert_eq!(log.index_of(&log.envelope_sha256[i]), Some(i));
        }
    }
}
