//! Attestations logged in a small synthetic Rekor log, for the VEX and upgrade tests: DSSE envelopes
//! over the payloads given (e.g. an in-toto statement whose predicate is an OpenVEX document), their
//! dsse v0.0.1 entries in Rekor's canonical body form, a real RFC 6962 tree over those bodies, one
//! checkpoint for the final size signed by an Ed25519 log key (Rekor v2 style: no SET), and for every
//! index the REST response `POST /api/v1/log/entries` would have returned.
use crate::notes::{pem, Ed25519Signer, ED25519_SPKI_PREFIX};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use postgres::Client;
use rekor_meta_core::dsse;
use rekor_meta_core::merkle::{self, Hash};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// DSSE payload type of in-toto statements.
pub const IN_TOTO: &str = "application/vnd.in-toto+json";

/// Integrated time of every entry.
pub const INTEGRATED_TIME: i64 = 1_735_689_600;

/// An in-toto v1 statement about one artifact whose predicate is the VEX document `vex`.
pub fn vex_attestation(subject_name: &str, subject_sha256: &str, vex: &Value) -> Value {
    json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": subject_name, "digest": {"sha256": subject_sha256}}],
        "predicateType": "https://openvex.dev/ns/v0.2.0",
        "predicate": vex,
    })
}

pub struct AttestationLog {
    pub signer: Ed25519Signer,
    /// The DSSE envelopes, one per payload.
    pub envelopes: Vec<Value>,
    /// The canonicalized dsse v0.0.1 body of each envelope: the Merkle leaves.
    pub bodies: Vec<Vec<u8>>,
    leaves: Vec<Hash>,
    /// The one checkpoint, for the final tree size.
    pub checkpoint: String,
}

impl AttestationLog {
    /// A log named `name` (signer name and checkpoint origin) holding one entry per payload (JSON,
    /// serialized compactly), each signed by a fixed Ed25519 attester key.
    pub fn new(name: &str, payloads: &[Value]) -> Self {
        assert!(!payloads.is_empty(), "a log needs at least one entry");
        let signer = Ed25519Signer::from_label(name, &format!("rekor_meta attestation tests: log key of {name}"));
        let attester_seed: [u8; 32] = Sha256::digest(b"rekor_meta attestation tests: attester key").into();
        let attester = Ed25519KeyPair::from_seed_unchecked(&attester_seed).expect("attester seed");
        let mut spki = ED25519_SPKI_PREFIX.to_vec();
        spki.extend_from_slice(attester.public_key().as_ref());
        let verifier = STANDARD.encode(pem(&spki));

        let mut envelopes = Vec::new();
        let mut bodies = Vec::new();
        let mut leaves = Vec::new();
        for p in payloads {
            let payload = serde_json::to_vec(p).unwrap();
            let sig = attester.sign(&dsse::pae(IN_TOTO, &payload));
            let envelope = json!({
                "payload": STANDARD.encode(&payload),
                "payloadType": IN_TOTO,
                "signatures": [{"sig": STANDARD.encode(sig.as_ref())}],
            });
            // Rekor's canonical dsse v0.0.1 body (members in the order Rekor writes them), compact.
            let body = format!(
                concat!(
                    r#"{{"apiVersion":"0.0.1","kind":"dsse","spec":{{"envelopeHash":{{"algorithm":"sha256","value":"{}"}},"#,
                    r#""payloadHash":{{"algorithm":"sha256","value":"{}"}},"#,
                    r#""signatures":[{{"signature":"{}","verifier":"{}"}}]}}}}"#
                ),
                hex::encode(dsse::envelope_sha256(&envelope)),
                hex::encode(Sha256::digest(&payload)),
                STANDARD.encode(sig.as_ref()),
                verifier
            )
            .into_bytes();
            leaves.push(merkle::leaf_hash(&body));
            envelopes.push(envelope);
            bodies.push(body);
        }
        let root = merkle::root_from_leaf_hashes(&leaves);
        let checkpoint = signer.checkpoint(name, leaves.len() as u64, &root);
        AttestationLog { signer, envelopes, bodies, leaves, checkpoint }
    }

    /// A log of the given canonical bodies (any kind), without envelopes: for entries that log
    /// something other than what a queue item holds.
    pub fn with_bodies(name: &str, bodies: Vec<Vec<u8>>) -> Self {
        assert!(!bodies.is_empty(), "a log needs at least one entry");
        let signer = Ed25519Signer::from_label(name, &format!("rekor_meta attestation tests: log key of {name}"));
        let leaves: Vec<Hash> = bodies.iter().map(|b| merkle::leaf_hash(b)).collect();
        let root = merkle::root_from_leaf_hashes(&leaves);
        let checkpoint = signer.checkpoint(name, leaves.len() as u64, &root);
        AttestationLog { signer, envelopes: Vec::new(), bodies, leaves, checkpoint }
    }

    pub fn name(&self) -> &str {
        &self.signer.name
    }

    /// SHA-256 of envelope `i`'s canonical JSON: rekor_submission_queue.envelope_sha256, and the
    /// envelopeHash its entry logs.
    pub fn envelope_sha256(&self, i: usize) -> [u8; 32] {
        dsse::envelope_sha256(&self.envelopes[i])
    }

    /// Envelope `i` as JSON text (for `$1::text::jsonb`).
    pub fn envelope_json(&self, i: usize) -> String {
        serde_json::to_string(&self.envelopes[i]).unwrap()
    }

    /// The REST response for entry `i`.
    pub fn response(&self, i: usize) -> Value {
        let leaf = self.leaves[i];
        let hashes: Vec<String> =
            merkle::inclusion_proof(&self.leaves, i).expect("inclusion proof").iter().map(hex::encode).collect();
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
                        "rootHash": hex::encode(merkle::root_from_leaf_hashes(&self.leaves)),
                        "treeSize": self.leaves.len(),
                    }
                }
            }),
        );
        Value::Object(m)
    }

    pub fn response_json(&self, i: usize) -> String {
        serde_json::to_string(&self.response(i)).unwrap()
    }

    /// Trusts the log in this database (rekor_add_log); returns its log_id.
    pub fn install(&self, c: &mut Client) -> Vec<u8> {
        let log_id: Vec<u8> = c
            .query_one("SELECT rekor_add_log($1, $2)", &[&self.signer.spki_b64(), &self.name()])
            .expect("rekor_add_log")
            .get(0);
        assert_eq!(log_id, self.signer.log_id().to_vec(), "rekor_add_log computed another log ID");
        log_id
    }
}
