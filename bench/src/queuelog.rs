//! Test data for the queue benchmark (src/bin/queue.rs): real-shaped DSSE envelopes, the dsse
//! v0.0.1 Rekor bodies that log them, an Ed25519 (Rekor v2 / C2SP-style) test log with one signed
//! checkpoint, a level-by-level Merkle tree giving every inclusion proof, and the Rekor REST
//! responses a worker would get back.
//!
//! Envelope `i` is the real in-toto statement of tests/fixtures/upstream/bundle-dsse.sigstore.json
//! with its subject digest replaced by a digest derived from `i` (same length, so every envelope is
//! exactly as large as the real one), signed by a DER-shaped ECDSA signature of random-looking bytes
//! (nothing in the queue verifies the artifact signature). The envelope JSON is serialised with
//! sorted keys and no whitespace, i.e. in the canonical form, so its SHA-256 is both what
//! `rekor_dsse_info` stores and what Rekor logs as `envelopeHash`. The same generator exists in SQL
//! ([`EnvelopeGen::sql_function`]) for server-side bulk fills; the driver checks both agree byte for
//! byte.
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rekor_meta_core::merkle::{self as mk, Hash};
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The real DSSE bundle the envelopes and bodies are shaped after.
const REAL_BUNDLE: &str = include_str!("../../tests/fixtures/upstream/bundle-dsse.sigstore.json");

pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
const SUBJECT_TAG: &str = "rekor_meta queue bench subject:";
const SIG_R_TAG: &str = "rekor_meta queue bench sig-r:";
const SIG_S_TAG: &str = "rekor_meta queue bench sig-s:";

fn tagged(tag: &str, i: u64) -> Hash {
    let mut h = Sha256::new();
    h.update(tag.as_bytes());
    h.update(i.to_be_bytes());
    h.finalize().into()
}

/// Envelope and body generator (see the module doc).
pub struct EnvelopeGen {
    payload_prefix: Vec<u8>,
    payload_suffix: Vec<u8>,
    /// The real body as JSON, whose spec fields are replaced per entry.
    real_body: Value,
}

impl EnvelopeGen {
    pub fn from_real_bundle() -> EnvelopeGen {
        let b: Value = serde_json::from_str(REAL_BUNDLE).expect("fixture bundle is JSON");
        let payload = B64.decode(b["dsseEnvelope"]["payload"].as_str().expect("payload")).expect("payload base64");
        let st: Value = serde_json::from_slice(&payload).expect("payload is an in-toto statement");
        let digest = st["subject"][0]["digest"]["sha256"].as_str().expect("subject digest").to_string();
        let text = std::str::from_utf8(&payload).unwrap();
        assert_eq!(text.matches(&digest).count(), 1, "subject digest occurs once in the real payload");
        let (a, c) = text.split_once(&digest).unwrap();
        let body_b64 = b["verificationMaterial"]["tlogEntries"][0]["canonicalizedBody"].as_str().expect("body");
        let body_bytes = B64.decode(body_b64).expect("body base64");
        let real_body: Value = serde_json::from_slice(&body_bytes).expect("body JSON");
        assert_eq!(rekor_meta_core::entry::canonical_json(&real_body), body_bytes, "the real body is canonical JSON");
        assert_eq!(real_body["kind"], "dsse");
        assert_eq!(b["dsseEnvelope"]["payloadType"], PAYLOAD_TYPE);
        EnvelopeGen { payload_prefix: a.as_bytes().to_vec(), payload_suffix: c.as_bytes().to_vec(), real_body }
    }

    /// The decoded payload of envelope `i` (as long as the real one).
    pub fn payload(&self, i: u64) -> Vec<u8> {
        let mut p = Vec::with_capacity(self.payload_prefix.len() + 64 + self.payload_suffix.len());
        p.extend_from_slice(&self.payload_prefix);
        p.extend_from_slice(hex::encode(tagged(SUBJECT_TAG, i)).as_bytes());
        p.extend_from_slice(&self.payload_suffix);
        p
    }

    /// A DER-shaped ECDSA P-256 signature (SEQUENCE of two 32-byte INTEGERs, 70 bytes).
    pub fn signature(&self, i: u64) -> Vec<u8> {
        let mut r = tagged(SIG_R_TAG, i);
        let mut s = tagged(SIG_S_TAG, i);
        r[0] = (r[0] & 0x7f) | 1;
        s[0] = (s[0] & 0x7f) | 1;
        let mut sig = vec![0x30, 0x44, 0x02, 0x20];
        sig.extend_from_slice(&r);
        sig.extend_from_slice(&[0x02, 0x20]);
        sig.extend_from_slice(&s);
        sig
    }

    /// Envelope `i` as canonical JSON text (sorted keys, no whitespace).
    pub fn envelope(&self, i: u64) -> String {
        format!(
            "{{\"payload\":\"{}\",\"payloadType\":\"{PAYLOAD_TYPE}\",\"signatures\":[{{\"sig\":\"{}\"}}]}}",
            B64.encode(self.payload(i)),
            B64.encode(self.signature(i))
        )
    }

    /// A minimal envelope (about 330 bytes: a one-subject in-toto statement with no predicate), for
    /// comparing with queues benchmarked on tiny messages.
    pub fn small_envelope(&self, i: u64) -> String {
        let payload = format!(
            "{{\"_type\":\"https://in-toto.io/Statement/v1\",\"subject\":[{{\"name\":\"a\",\"digest\":{{\"sha256\":\"{}\"}}}}]}}",
            hex::encode(tagged(SUBJECT_TAG, i))
        );
        format!(
            "{{\"payload\":\"{}\",\"payloadType\":\"{PAYLOAD_TYPE}\",\"signatures\":[{{\"sig\":\"{}\"}}]}}",
            B64.encode(payload),
            B64.encode(self.signature(i))
        )
    }

    /// SHA-256 of envelope `i`'s JSON text: rekor_dsse_info's envelope_sha256 and Rekor's envelopeHash.
    pub fn envelope_sha256(envelope: &str) -> Hash {
        Sha256::digest(envelope.as_bytes()).into()
    }

    /// The dsse v0.0.1 body Rekor logs for envelope `i`, in Rekor's canonical form: the real body
    /// with envelopeHash, payloadHash and the signature replaced (the verifier, the real Fulcio
    /// certificate, is kept, so bodies are as large as real ones).
    pub fn body(&self, i: u64) -> Vec<u8> {
        let env = self.envelope(i);
        let mut v = self.real_body.clone();
        let spec = &mut v["spec"];
        spec["envelopeHash"]["value"] = json!(hex::encode(Self::envelope_sha256(&env)));
        spec["payloadHash"]["value"] = json!(hex::encode(Sha256::digest(self.payload(i))));
        let sigs = spec["signatures"].as_array_mut().expect("signatures");
        assert_eq!(sigs.len(), 1);
        sigs[0]["signature"] = json!(B64.encode(self.signature(i)));
        rekor_meta_core::entry::canonical_json(&v)
    }

    /// `CREATE FUNCTION bench_envelope(i bigint) RETURNS text`: the same envelope, built in SQL.
    pub fn sql_function(&self) -> String {
        format!(
            r#"CREATE FUNCTION bench_envelope(i bigint) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $fn$
SELECT '{{"payload":"' || translate(encode('\x{pre}'::bytea
            || convert_to(encode(sha256(convert_to('{SUBJECT_TAG}', 'UTF8') || int8send(i)), 'hex'), 'UTF8')
            || '\x{suf}'::bytea, 'base64'), E'\n', '')
    || '","payloadType":"{PAYLOAD_TYPE}","signatures":[{{"sig":"'
    || translate(encode('\x30440220'::bytea
            || (SELECT set_byte(r, 0, (get_byte(r, 0) & 127) | 1) FROM sha256(convert_to('{SIG_R_TAG}', 'UTF8') || int8send(i)) r)
            || '\x0220'::bytea
            || (SELECT set_byte(s, 0, (get_byte(s, 0) & 127) | 1) FROM sha256(convert_to('{SIG_S_TAG}', 'UTF8') || int8send(i)) s),
        'base64'), E'\n', '')
    || '"}}]}}'
$fn$;"#,
            pre = hex::encode(&self.payload_prefix),
            suf = hex::encode(&self.payload_suffix),
        )
    }
}

/// DER SubjectPublicKeyInfo prefix of an Ed25519 key (RFC 8410).
pub const ED25519_SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

/// An Ed25519 test log (Rekor v2 / C2SP signed-note style): origin = signer name,
/// log_id = SHA-256(name || 0x0A || 0x01 || key), key hint = log_id[..4], no signed entry timestamps.
pub struct Ed25519Log {
    key: Ed25519KeyPair,
    pub name: String,
    pub spki_der: Vec<u8>,
    pub log_id: Hash,
}

impl Ed25519Log {
    /// The key comes from a fixed seed (a test key, never secret).
    pub fn new(name: &str) -> Ed25519Log {
        let seed: [u8; 32] = Sha256::digest(format!("rekor_meta queue bench log seed: {name}")).into();
        let key = Ed25519KeyPair::from_seed_unchecked(&seed).expect("ed25519 seed");
        let raw = key.public_key().as_ref().to_vec();
        let mut spki_der = ED25519_SPKI_PREFIX.to_vec();
        spki_der.extend_from_slice(&raw);
        let mut h = Sha256::new();
        h.update(name.as_bytes());
        h.update([0x0a, 0x01]);
        h.update(&raw);
        Ed25519Log { key, name: name.to_string(), spki_der, log_id: h.finalize().into() }
    }

    /// The first argument of rekor_add_log: base64 DER SPKI.
    pub fn public_key_b64(&self) -> String {
        B64.encode(&self.spki_der)
    }

    /// A signed checkpoint "name\nsize\nb64(root)\n\n— name b64(hint || sig)\n".
    pub fn checkpoint(&self, size: u64, root: &Hash) -> String {
        let text = format!("{}\n{}\n{}\n", self.name, size, B64.encode(root));
        let mut sig = self.log_id[..4].to_vec();
        sig.extend_from_slice(self.key.sign(text.as_bytes()).as_ref());
        format!("{text}\n\u{2014} {} {}\n", self.name, B64.encode(sig))
    }
}

/// An RFC 6962 tree kept level by level (n - 1 node hashes to build; an odd last node is carried
/// up unchanged, which is exactly MTH's split at the largest power of two), so the inclusion proof
/// of any leaf is its sibling at every level where one exists: O(log n) per proof.
pub struct Tree {
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    pub fn new(leaves: Vec<Hash>) -> Tree {
        assert!(!leaves.is_empty(), "empty tree");
        let mut levels = vec![leaves];
        while levels.last().unwrap().len() > 1 {
            let prev = levels.last().unwrap();
            let next: Vec<Hash> =
                prev.chunks(2).map(|p| if p.len() == 2 { mk::node_hash(&p[0], &p[1]) } else { p[0] }).collect();
            levels.push(next);
        }
        Tree { levels }
    }

    pub fn size(&self) -> u64 {
        self.levels[0].len() as u64
    }

    pub fn root(&self) -> Hash {
        self.levels.last().unwrap()[0]
    }

    pub fn proof(&self, m: u64) -> Vec<Hash> {
        let mut m = m as usize;
        let mut out = Vec::with_capacity(self.levels.len());
        for level in &self.levels[..self.levels.len() - 1] {
            if (m ^ 1) < level.len() {
                out.push(level[m ^ 1]);
            }
            m >>= 1;
        }
        out
    }
}

/// The integrated time the test log reports for entry `index` (any fixed, plausible time).
pub fn integrated_time(index: u64) -> i64 {
    1_732_135_425 + (index / 100) as i64
}

/// A Rekor REST response (POST /api/v1/log/entries) for one entry:
/// {uuid: {body, integratedTime, logID, logIndex, verification: {inclusionProof: {...}}}}.
pub fn rest_response(log: &Ed25519Log, tree: &Tree, checkpoint: &str, index: u64, body: &[u8]) -> String {
    let leaf = mk::leaf_hash(body);
    debug_assert_eq!(leaf, tree.levels[0][index as usize]);
    let hashes: Vec<String> = tree.proof(index).iter().map(hex::encode).collect();
    let mut m = serde_json::Map::new();
    m.insert(
        hex::encode(leaf),
        json!({
            "body": B64.encode(body),
            "integratedTime": integrated_time(index),
            "logID": hex::encode(log.log_id),
            "logIndex": index,
            "verification": {
                "inclusionProof": {
                    "logIndex": index,
                    "rootHash": hex::encode(tree.root()),
                    "treeSize": tree.size(),
                    "hashes": hashes,
                    "checkpoint": checkpoint,
                }
            }
        }),
    );
    Value::Object(m).to_string()
}

/// Runs `f(i)` for i in [from, to) on all cores, in order.
pub fn par_map<T: Send>(from: u64, to: u64, f: impl Fn(u64) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).max(1) as u64;
    let chunk = (to.saturating_sub(from)).div_ceil(threads).max(1);
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                let lo = (from + k * chunk).min(to);
                let hi = (lo + chunk).min(to);
                s.spawn(move || (lo..hi).map(f).collect::<Vec<_>>())
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rekor_meta_core::checkpoint::parse_checkpoint;
    use rekor_meta_core::keys::LogKey;

    #[test]
    fn tree_matches_the_reference() {
        for n in 1..=40u64 {
            let leaves: Vec<Hash> = (0..n).map(|i| tagged("leaf", i)).collect();
            let t = Tree::new(leaves.clone());
            assert_eq!(t.root(), mk::root_from_leaf_hashes(&leaves));
            for m in 0..n {
                assert_eq!(t.proof(m), mk::inclusion_proof(&leaves, m as usize).unwrap());
            }
        }
    }

    #[test]
    fn envelopes_and_bodies() {
        let g = EnvelopeGen::from_real_bundle();
        let e = g.envelope(7);
        let v: Value = serde_json::from_str(&e).unwrap();
        assert_eq!(rekor_meta_core::entry::canonical_json(&v), e.as_bytes());
        let env = rekor_meta_core::dsse::parse_envelope(&v).unwrap();
        assert_eq!(env.payload, g.payload(7));
        assert_eq!(rekor_meta_core::dsse::envelope_sha256(&v), EnvelopeGen::envelope_sha256(&e));
        let body = rekor_meta_core::entry::parse_body(&g.body(7)).unwrap();
        assert_eq!(body.kind, "dsse");
        assert_ne!(g.envelope(7), g.envelope(8));
    }

    #[test]
    fn checkpoint_verifies() {
        let log = Ed25519Log::new("queue-bench.test.log");
        let key = LogKey::from_spki_der(&log.spki_der).unwrap();
        assert_eq!(key.log_id(&log.name), log.log_id);
        let cp = parse_checkpoint(log.checkpoint(5, &tagged("r", 0)).as_bytes()).unwrap();
        assert!(cp.verify(&key, &log.name));
    }
}
