//! A synthetic transparency log for benchmarks: fixed test keys, real-shaped Rekor entry bodies,
//! an RFC 6962 Merkle tree with every inclusion proof, and signed checkpoints.
//!
//! Two flavours of log:
//! - [`TestLog::ed25519`]: a Rekor v2 / C2SP-style log. Ed25519 key from a fixed seed, checkpoint
//!   origin = signer name, log_id = key hint source SHA-256(name || 0x0A || 0x01 || key), no SET.
//! - [`TestLog::ecdsa`]: a Rekor v1-style log. A fixed ECDSA P-256 test key, checkpoint origin
//!   "<signer> - <tree id>", log_id = SHA-256(DER SPKI), and a signed entry timestamp (SET) per entry
//!   over the RFC 8785 canonical JSON {"body","integratedTime","logID","logIndex"}.
//!
//! Bodies are hashedrekord v0.0.1 with byte-for-byte the structure, key order and certificate of a
//! real production entry (tests/fixtures/upstream/bundle-v0.3-hashedrekord.sigstore.json); only the
//! artifact digest (distinct per entry) and the signature bytes (DER-shaped ECDSA, random-looking)
//! change.
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rekor_meta_core::merkle::{self as mk, Hash};
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};
use sha2::{Digest, Sha256};

/// DER SubjectPublicKeyInfo prefix of an Ed25519 key (RFC 8410): SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING }.
pub const ED25519_SPKI_PREFIX: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
/// DER SubjectPublicKeyInfo prefix of an uncompressed P-256 point (id-ecPublicKey, prime256v1).
pub const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce,
    0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];

/// The fixed P-256 test key of the ECDSA log (generated once with openssl; a test key, never secret).
const ECDSA_TEST_PRIVATE: &str = "c9a0f6598e39f2b3ee2e9750d2c799b33b806b1e6ccd1a1030c12ff607bc1acc";
const ECDSA_TEST_PUBLIC: &str = "04ed6be1de0caebd1b7eae91813b18dfa2b48f976d01e1cbc6d8cdcbcb166a6a36\
                                 9175e8024fa2740cd17a6357f004e5742ce70e9ce558f1e9d9b37e8c657f661b";

/// The real hashedrekord bundle the bodies are shaped after.
const REAL_BUNDLE: &str = include_str!("../../tests/fixtures/upstream/bundle-v0.3-hashedrekord.sigstore.json");

/// SHA-256 in counter mode: deterministic, random-looking bytes (no rand crate needed).
pub fn prng(tag: &str, i: u64, j: u64) -> Hash {
    let mut h = Sha256::new();
    h.update(b"rekor_meta entries bench v1\0");
    h.update(tag.as_bytes());
    h.update(i.to_be_bytes());
    h.update(j.to_be_bytes());
    h.finalize().into()
}

enum Signer {
    Ed25519(Ed25519KeyPair),
    Ecdsa(EcdsaKeyPair, SystemRandom),
}

/// A test log: its key, names and identifiers as rekor_meta sees them.
pub struct TestLog {
    signer: Signer,
    /// The name on signature lines (and the `signer_name` given to rekor_add_log).
    pub signer_name: String,
    /// The checkpoint origin line.
    pub origin: String,
    /// DER SubjectPublicKeyInfo.
    pub spki_der: Vec<u8>,
    /// Rekor's logID (what rekor_add_log returns).
    pub log_id: [u8; 32],
    /// Signed-note key hint: the first 4 bytes of the log_id for both key types.
    pub key_hint: [u8; 4],
    /// Tree id from an origin "<host> - <tree id>" (what the trigger stores in tree_id).
    pub tree_id: Option<i64>,
}

impl TestLog {
    /// An Ed25519 log whose key comes from a fixed seed (SHA-256 of a label and the name).
    pub fn ed25519(name: &str) -> TestLog {
        let seed: [u8; 32] = Sha256::digest(format!("rekor_meta bench test log seed: {name}")).into();
        let kp = Ed25519KeyPair::from_seed_unchecked(&seed).expect("ed25519 seed");
        let raw = kp.public_key().as_ref().to_vec();
        let mut spki_der = ED25519_SPKI_PREFIX.to_vec();
        spki_der.extend_from_slice(&raw);
        let mut h = Sha256::new();
        h.update(name.as_bytes());
        h.update([0x0a, 0x01]);
        h.update(&raw);
        let log_id: [u8; 32] = h.finalize().into();
        TestLog {
            signer: Signer::Ed25519(kp),
            signer_name: name.to_string(),
            origin: name.to_string(),
            spki_der,
            log_id,
            key_hint: [log_id[0], log_id[1], log_id[2], log_id[3]],
            tree_id: None,
        }
    }

    /// A Rekor v1-style ECDSA P-256 log (the fixed test key) with checkpoint origin "<name> - <tree_id>".
    pub fn ecdsa(name: &str, tree_id: i64) -> TestLog {
        let rng = SystemRandom::new();
        let private = hex::decode(ECDSA_TEST_PRIVATE).unwrap();
        let public = hex::decode(ECDSA_TEST_PUBLIC).unwrap();
        let kp = EcdsaKeyPair::from_private_key_and_public_key(&ECDSA_P256_SHA256_ASN1_SIGNING, &private, &public, &rng)
            .expect("ecdsa test key");
        let mut spki_der = P256_SPKI_PREFIX.to_vec();
        spki_der.extend_from_slice(kp.public_key().as_ref());
        let log_id: [u8; 32] = Sha256::digest(&spki_der).into();
        TestLog {
            signer: Signer::Ecdsa(kp, rng),
            signer_name: name.to_string(),
            origin: format!("{name} - {tree_id}"),
            spki_der,
            log_id,
            key_hint: [log_id[0], log_id[1], log_id[2], log_id[3]],
            tree_id: Some(tree_id),
        }
    }

    pub fn is_ecdsa(&self) -> bool {
        matches!(self.signer, Signer::Ecdsa(..))
    }

    /// The first argument of `rekor_add_log`: base64 of the DER SPKI.
    pub fn public_key_b64(&self) -> String {
        B64.encode(&self.spki_der)
    }

    /// Ed25519: 64-byte signature over msg. ECDSA: ASN.1 DER signature over SHA-256(msg).
    pub fn sign(&self, msg: &[u8]) -> Vec<u8> {
        match &self.signer {
            Signer::Ed25519(kp) => kp.sign(msg).as_ref().to_vec(),
            Signer::Ecdsa(kp, rng) => kp.sign(rng, msg).expect("ecdsa sign").as_ref().to_vec(),
        }
    }

    /// A checkpoint (C2SP signed note) for `size` and `root`, signed by this log.
    pub fn checkpoint(&self, size: u64, root: &Hash) -> String {
        let text = format!("{}\n{}\n{}\n", self.origin, size, B64.encode(root));
        let mut sig = self.key_hint.to_vec();
        sig.extend_from_slice(&self.sign(text.as_bytes()));
        format!("{text}\n\u{2014} {} {}\n", self.signer_name, B64.encode(sig))
    }

    /// A Rekor v1 signed entry timestamp: this log's signature over the canonical JSON
    /// {"body","integratedTime","logID","logIndex"} (the core's set_payload_parts builds it).
    pub fn signed_entry_timestamp(&self, body: &[u8], integrated_time: i64, log_index: u64) -> Vec<u8> {
        let payload = rekor_meta_core::entry::set_payload_parts(body, integrated_time, &self.log_id, log_index);
        self.sign(&payload)
    }
}

/// Real-shaped hashedrekord v0.0.1 bodies: the real production body cut around its artifact digest
/// and its signature, so everything else (key order, certificate, length) stays byte-for-byte real.
pub struct BodyTemplate {
    /// Before the artifact digest hex, between digest and signature base64, after the signature.
    parts: [String; 3],
    real_body: Vec<u8>,
    real_digest: Vec<u8>,
    real_signature: Vec<u8>,
}

impl BodyTemplate {
    pub fn from_real_bundle() -> BodyTemplate {
        let v: serde_json::Value = serde_json::from_str(REAL_BUNDLE).expect("fixture bundle is JSON");
        let b64 = v["verificationMaterial"]["tlogEntries"][0]["canonicalizedBody"].as_str().expect("canonicalizedBody");
        let real_body = B64.decode(b64).expect("canonicalizedBody base64");
        let body: serde_json::Value = serde_json::from_slice(&real_body).expect("body JSON");
        let digest_hex = body["spec"]["data"]["hash"]["value"].as_str().unwrap().to_string();
        let sig_b64 = body["spec"]["signature"]["content"].as_str().unwrap().to_string();
        let text = std::str::from_utf8(&real_body).unwrap();
        let (a, rest) = text.split_once(&format!("\"{digest_hex}\"")).expect("digest in body");
        let (b, c) = rest.split_once(&format!("\"{sig_b64}\"")).expect("signature in body");
        let t = BodyTemplate {
            parts: [format!("{a}\""), format!("\"{b}\""), format!("\"{c}")],
            real_digest: hex::decode(&digest_hex).unwrap(),
            real_signature: B64.decode(&sig_b64).unwrap(),
            real_body: real_body.clone(),
        };
        assert_eq!(t.render(&t.real_digest.clone().try_into().unwrap(), &t.real_signature.clone()), real_body,
                   "the template does not reproduce the real body");
        t
    }

    pub fn real_body(&self) -> &[u8] {
        &self.real_body
    }

    fn render(&self, digest: &Hash, signature: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.real_body.len() + 8);
        out.extend_from_slice(self.parts[0].as_bytes());
        out.extend_from_slice(hex::encode(digest).as_bytes());
        out.extend_from_slice(self.parts[1].as_bytes());
        out.extend_from_slice(B64.encode(signature).as_bytes());
        out.extend_from_slice(self.parts[2].as_bytes());
        out
    }

    /// The artifact digest of entry `i` (distinct per i).
    pub fn artifact_digest(i: u64) -> Hash {
        prng("artifact", i, 0)
    }

    /// The canonicalized body of entry `i`: a real-shaped hashedrekord with a distinct artifact
    /// digest and a DER-shaped ECDSA signature (SEQUENCE of two INTEGERs, 70-72 bytes) of
    /// random-looking bytes (rekor_meta parses bodies; it does not verify the artifact signature).
    pub fn body(&self, i: u64) -> Vec<u8> {
        let r = prng("sig-r", i, 0);
        let s = prng("sig-s", i, 0);
        let mut sig = Vec::with_capacity(72);
        let int = |v: &Hash, out: &mut Vec<u8>| {
            let mut v = v.to_vec();
            while v.len() > 1 && v[0] == 0 && v[1] < 0x80 {
                v.remove(0);
            }
            if v[0] >= 0x80 {
                v.insert(0, 0);
            }
            out.push(0x02);
            out.push(v.len() as u8);
            out.extend_from_slice(&v);
        };
        let mut inner = Vec::with_capacity(70);
        int(&r, &mut inner);
        int(&s, &mut inner);
        sig.push(0x30);
        sig.push(inner.len() as u8);
        sig.extend_from_slice(&inner);
        self.render(&Self::artifact_digest(i), &sig)
    }
}

/// The searchable key rekor_meta stores for a digest (rekor_digest_key): "<algorithm>:" || bytes.
pub fn digest_key(algorithm: &str, digest: &[u8]) -> Vec<u8> {
    let mut k = algorithm.as_bytes().to_vec();
    k.push(b':');
    k.extend_from_slice(digest);
    k
}

/// An RFC 6962 Merkle tree kept level by level: level 0 holds the leaf hashes, each level above
/// hashes pairs, and an odd last node is carried up unchanged. This is exactly MTH(D[n]) (the
/// left subtree of a node is always the largest power of two), built with n - 1 node hashes, and
/// PATH(m, D[n]) is the sibling at each level where one exists, bottom up: O(log n) per proof.
pub struct Tree {
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    pub fn new(leaves: Vec<Hash>) -> Tree {
        assert!(!leaves.is_empty(), "empty tree");
        let mut levels = vec![leaves];
        while levels.last().unwrap().len() > 1 {
            let prev = levels.last().unwrap();
            let mut next = Vec::with_capacity(prev.len().div_ceil(2));
            for pair in prev.chunks(2) {
                next.push(if pair.len() == 2 { mk::node_hash(&pair[0], &pair[1]) } else { pair[0] });
            }
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

    pub fn leaf(&self, m: u64) -> &Hash {
        &self.levels[0][m as usize]
    }

    /// The inclusion proof of leaf `m`.
    pub fn proof(&self, m: u64) -> Vec<Hash> {
        let mut m = m as usize;
        let mut out = Vec::with_capacity(self.levels.len());
        for level in &self.levels[..self.levels.len() - 1] {
            let sib = m ^ 1;
            if sib < level.len() {
                out.push(level[sib]);
            }
            m >>= 1;
        }
        out
    }
}

/// One synthetic entry of a test log.
pub struct Entry {
    pub index: u64,
    pub body: Vec<u8>,
    pub leaf_hash: Hash,
    pub artifact_digest: Hash,
    /// Seconds since the epoch; only the ECDSA (Rekor v1-style) log has one.
    pub integrated_time: Option<i64>,
    pub signed_entry_timestamp: Option<Vec<u8>>,
}

/// The time the ECDSA log says it integrated entry i (any fixed, plausible time).
pub fn integrated_time(i: u64) -> i64 {
    1_700_000_000 + (i / 10) as i64
}

/// Entry `i` of `log` (body, leaf hash, and for an ECDSA log its integrated time and SET).
pub fn entry(t: &BodyTemplate, log: &TestLog, i: u64) -> Entry {
    let body = t.body(i);
    let leaf_hash = mk::leaf_hash(&body);
    let (integrated_time, set) = if log.is_ecdsa() {
        let it = integrated_time(i);
        (Some(it), Some(log.signed_entry_timestamp(&body, it, i)))
    } else {
        (None, None)
    };
    Entry { index: i, body, leaf_hash, artifact_digest: BodyTemplate::artifact_digest(i), integrated_time, signed_entry_timestamp: set }
}

/// The entries [from, to) of a log, generated on all available cores.
pub fn entries(t: &BodyTemplate, log: &TestLog, from: u64, to: u64) -> Vec<Entry> {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).max(1) as u64;
    let chunk = (to - from).div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                let lo = (from + k * chunk).min(to);
                let hi = (lo + chunk).min(to);
                s.spawn(move || (lo..hi).map(|i| entry(t, log, i)).collect::<Vec<_>>())
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    })
}

/// The leaf hashes of entries [0, n), in parallel (the bodies are dropped).
pub fn leaf_hashes(t: &BodyTemplate, n: u64) -> Vec<Hash> {
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).max(1) as u64;
    let chunk = n.div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|k| {
                let lo = (k * chunk).min(n);
                let hi = (lo + chunk).min(n);
                s.spawn(move || (lo..hi).map(|i| mk::leaf_hash(&t.body(i))).collect::<Vec<_>>())
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
    fn tree_matches_the_reference_implementation() {
        for n in 1..=70u64 {
            let leaves: Vec<Hash> = (0..n).map(|i| prng("t", i, n)).collect();
            let tree = Tree::new(leaves.clone());
            assert_eq!(tree.root(), mk::root_from_leaf_hashes(&leaves), "root n={n}");
            for m in 0..n {
                assert_eq!(tree.proof(m), mk::inclusion_proof(&leaves, m as usize).unwrap(), "proof n={n} m={m}");
            }
        }
    }

    #[test]
    fn bodies_are_real_shaped_and_parse() {
        let t = BodyTemplate::from_real_bundle();
        let real = rekor_meta_core::entry::parse_body(t.real_body()).unwrap();
        for i in [0u64, 1, 99_999] {
            let b = t.body(i);
            let p = rekor_meta_core::entry::parse_body(&b).unwrap();
            assert_eq!((p.kind.as_str(), p.api_version.as_str()), (real.kind.as_str(), real.api_version.as_str()));
            assert_eq!(p.digests.len(), 1);
            assert_eq!(p.digests[0].value, BodyTemplate::artifact_digest(i).to_vec());
            let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
            assert_eq!(rekor_meta_core::entry::canonical_json(&v), b, "body is canonical JSON");
        }
        assert_ne!(t.body(0), t.body(1));
    }

    #[test]
    fn checkpoints_and_sets_verify_with_the_core() {
        for log in [TestLog::ed25519("bench.test.log"), TestLog::ecdsa("bench-ecdsa.test.log", 4242)] {
            let key = LogKey::from_spki_der(&log.spki_der).unwrap();
            assert_eq!(key.log_id(&log.signer_name), log.log_id);
            let root = prng("root", 0, 0);
            let note = log.checkpoint(12345, &root);
            let cp = parse_checkpoint(note.as_bytes()).unwrap();
            assert_eq!((cp.origin.as_str(), cp.tree_size, cp.root_hash), (log.origin.as_str(), 12345, root));
            assert!(cp.verify(&key, &log.signer_name));
            let t = BodyTemplate::from_real_bundle();
            let e = entry(&t, &log, 7);
            if let Some(set) = &e.signed_entry_timestamp {
                let payload = rekor_meta_core::entry::set_payload_parts(&e.body, e.integrated_time.unwrap(), &log.log_id, 7);
                assert!(key.verify(&payload, set));
            }
        }
    }
}
