//! The evidence of one stored Rekor entry, verified in one pass: checks 1-4 of the rekor_entries
//! trigger (leaf hash and UUID, inclusion proof, checkpoint, signed entry timestamp), in that order,
//! each failure naming its check. Check 5 (the body is a Rekor entry) is `entry::parse_body`.

use crate::checkpoint::{parse_checkpoint, Checkpoint, CheckpointError};
use crate::entry::set_payload_parts;
use crate::keys::LogKey;
use crate::merkle::{self, MerkleError};
use std::fmt;

/// What a stored entry carries.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    pub body: &'a [u8],
    /// Rekor's UUID: 64 hex (leaf hash) or 80 hex (tree id + leaf hash), any case.
    pub uuid: Option<&'a str>,
    /// A leaf hash stored beside the body, which must agree with it.
    pub leaf_hash: Option<&'a [u8]>,
    pub proof_log_index: u64,
    pub tree_size: u64,
    pub root_hash: &'a [u8],
    pub proof: &'a [&'a [u8]],
    pub checkpoint: &'a str,
    pub signed_entry_timestamp: Option<&'a [u8]>,
    /// Seconds since the epoch; None for Rekor v2.
    pub integrated_time: Option<i64>,
    pub log_id: &'a [u8],
    /// The global index the SET signs.
    pub log_index: u64,
}

/// The trusted log an entry is verified against.
#[derive(Debug, Clone, Copy)]
pub struct Trust<'a> {
    pub key: &'a LogKey,
    pub signer_name: &'a str,
    pub origin: &'a str,
    pub origin_is_prefix: bool,
}

/// A check that failed: its number (1-4), a one-line message naming it, and the values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceError {
    pub check: u8,
    pub message: String,
    pub detail: String,
}

impl fmt::Display for EvidenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.message, self.detail)
    }
}

impl std::error::Error for EvidenceError {}

fn fail(check: u8, message: impl Into<String>, detail: impl Into<String>) -> EvidenceError {
    EvidenceError { check, message: message.into(), detail: detail.into() }
}

/// What verification established, for the columns the trigger fills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub leaf_hash: [u8; 32],
    /// From an 80-hex UUID, else from a checkpoint origin "<host> - <tree id>".
    pub tree_id: Option<u64>,
    pub checkpoint: Checkpoint,
}

fn uuid_parts(uuid: &str) -> Option<(Option<u64>, String)> {
    let u = uuid.to_ascii_lowercase();
    if !u.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    match u.len() {
        64 => Some((None, u)),
        80 => {
            let (tree, leaf) = u.split_at(16);
            Some((u64::from_str_radix(tree, 16).ok(), leaf.to_string()))
        }
        _ => None,
    }
}

fn origin_tree_id(origin: &str) -> Option<u64> {
    let (_, id) = origin.rsplit_once(" - ")?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok()
}

/// Runs checks 1-4. `verify_checkpoint` decides whether the parsed checkpoint is signed by the
/// log (the caller may cache it: it is a pure function of note, key and signer).
pub fn verify_evidence(
    e: &Evidence<'_>,
    trust: &Trust<'_>,
    verify_checkpoint: impl FnOnce(&Checkpoint) -> bool,
) -> Result<Verified, EvidenceError> {
    let (leaf_hash, tree_id, checkpoint) =
        verify_evidence_with(e, trust, parse_checkpoint(e.checkpoint.as_bytes()), verify_checkpoint)?;
    Ok(Verified { leaf_hash, tree_id, checkpoint })
}

/// `verify_evidence` with the checkpoint already parsed from `e.checkpoint` (a caller that sees
/// one note on many rows parses it once; a parse error is still reported as check 3, in order).
/// Returns the leaf hash, the tree id and the checkpoint.
pub fn verify_evidence_with<C: std::borrow::Borrow<Checkpoint>>(
    e: &Evidence<'_>,
    trust: &Trust<'_>,
    parsed: Result<C, CheckpointError>,
    verify_checkpoint: impl FnOnce(&Checkpoint) -> bool,
) -> Result<([u8; 32], Option<u64>, C), EvidenceError> {
    // 1. Leaf hash from the body; the UUID ends in it.
    let leaf = merkle::leaf_hash(e.body);
    let leaf_hex = hex::encode(leaf);
    if let Some(given) = e.leaf_hash {
        if given != leaf.as_slice() {
            return Err(fail(
                1,
                "check 1 (leaf hash): leaf_hash does not match the body",
                format!("given {}, SHA-256(0x00 || body) is {leaf_hex}", hex::encode(given)),
            ));
        }
    }
    let mut tree_id = None;
    if let Some(uuid) = e.uuid {
        let Some((tid, uuid_leaf)) = uuid_parts(uuid) else {
            return Err(fail(1, "check 1 (leaf hash): entry UUID is not 64 or 80 hex digits", format!("uuid {:?}", crate::entry::snippet(uuid))));
        };
        if uuid_leaf != leaf_hex {
            return Err(fail(
                1,
                "check 1 (leaf hash): entry UUID does not match the body's leaf hash",
                format!("uuid {uuid}, leaf hash {leaf_hex}"),
            ));
        }
        tree_id = tid;
    }

    // 2. The proof leads from the leaf to the root.
    if let Err(err) = merkle::verify_inclusion(e.proof_log_index, e.tree_size, &leaf, e.proof, e.root_hash) {
        let detail = format!("leaf {leaf_hex} at index {} in tree size {}: {err}", e.proof_log_index, e.tree_size);
        let message = match err {
            MerkleError::RootMismatch { .. } => "check 2 (inclusion proof): the proof does not lead to the root hash",
            _ => "check 2 (inclusion proof): the proof is malformed",
        };
        return Err(fail(2, message, detail));
    }

    // 3. The checkpoint is signed by the log and names the same size and root and the log's origin.
    let parsed = parsed.map_err(|err| fail(3, "check 3 (checkpoint): the checkpoint does not parse", err.to_string()))?;
    let cp: &Checkpoint = parsed.borrow();
    if cp.tree_size != e.tree_size || cp.root_hash.as_slice() != e.root_hash {
        return Err(fail(
            3,
            "check 3 (checkpoint): the checkpoint does not name the proof's tree size and root",
            format!(
                "proof: size {} root {}; checkpoint: size {} root {}",
                e.tree_size,
                hex::encode(e.root_hash),
                cp.tree_size,
                hex::encode(cp.root_hash)
            ),
        ));
    }
    let origin_ok = cp.origin == trust.origin || (trust.origin_is_prefix && cp.origin.starts_with(trust.origin));
    if !origin_ok {
        return Err(fail(
            3,
            "check 3 (checkpoint): the checkpoint origin is not the entry log's",
            format!(
                "checkpoint origin {:?}, log origin {:?}{}",
                cp.origin,
                trust.origin,
                if trust.origin_is_prefix { "*" } else { "" }
            ),
        ));
    }
    if !verify_checkpoint(cp) {
        return Err(fail(
            3,
            "check 3 (checkpoint): the checkpoint signature does not verify under the log key",
            format!("signer {:?}, origin {:?}, tree size {}", trust.signer_name, cp.origin, cp.tree_size),
        ));
    }
    match (tree_id, origin_tree_id(&cp.origin)) {
        (None, cp_tree) => tree_id = cp_tree,
        // A log whose checkpoints name no tree (Rekor v2, a single tree) has no shards: a tree id in
        // the UUID would be an unchecked claim that nothing signs.
        (Some(uuid_tree), None) => {
            return Err(fail(
                1,
                "check 1 (leaf hash): the entry UUID names a tree, but the log's checkpoint names none",
                format!("UUID tree id {uuid_tree}, checkpoint origin {:?}: a single-tree log's UUID is the 64-hex leaf hash", cp.origin),
            ));
        }
        (Some(_), Some(_)) => {}
    }

    // 4. Where a SET is present, it verifies over the canonical JSON Rekor signs.
    if let Some(set) = e.signed_entry_timestamp {
        // The signed payload holds the body in base64: a body no Rekor entry can have (check 5
        // reads at most MAX_JSON_BYTES) is refused before that copy is made.
        if e.body.len() > crate::json::MAX_JSON_BYTES {
            return Err(fail(
                4,
                "check 4 (signed entry timestamp): the body is too large to verify",
                format!("body is {} bytes, over the limit of {}", e.body.len(), crate::json::MAX_JSON_BYTES),
            ));
        }
        let ok = match e.integrated_time {
            Some(t) => trust.key.verify(&set_payload_parts(e.body, t, e.log_id, e.log_index), set),
            None => false,
        };
        if !ok {
            return Err(fail(
                4,
                "check 4 (signed entry timestamp): the SET does not verify under the log key",
                format!(
                    "log {}, log index {}, integrated time {}",
                    hex::encode(e.log_id),
                    e.log_index,
                    e.integrated_time.map(|t| t.to_string()).unwrap_or_else(|| "none".into())
                ),
            ));
        }
    }
    Ok((leaf, tree_id, parsed))
}

/// Whether the global log index is authenticated, or why the entry is refused (check 4).
/// `shards` maps a Rekor v1 shard's tree id to the global index of its first entry (the trusted
/// log's shard map). A verified SET signs the index; a single-tree log (no tree id) has index =
/// proof index; a mapped shard has index = start + proof index. Anything else is stored, but
/// flagged as not authenticated: no signature and no configured map vouches for it.
pub fn authenticate_log_index(
    has_set: bool,
    tree_id: Option<u64>,
    shards: &[(u64, u64)],
    log_index: u64,
    proof_log_index: u64,
) -> Result<bool, EvidenceError> {
    let start = tree_id.and_then(|t| shards.iter().find(|(id, _)| *id == t).map(|(_, s)| *s));
    let expected = match (tree_id, start) {
        (None, _) => Some(proof_log_index),
        // An index past 2^64 matches no real entry: u64::MAX never equals a stored (i64) index.
        (Some(_), Some(s)) => Some(s.saturating_add(proof_log_index)),
        (Some(_), None) => None,
    };
    match expected {
        Some(want) if want != log_index => Err(fail(
            4,
            if has_set {
                "check 4 (signed entry timestamp): the SET's log index disagrees with the log's shard map"
            } else {
                "check 4 (signed entry timestamp): without a SET the log index must be the shard's start plus the proof's index"
            },
            format!(
                "log index {log_index}, proof index {proof_log_index}, tree id {}, shard start {}: expected log index {want}",
                tree_id.map(|t| t.to_string()).unwrap_or_else(|| "none (single tree)".into()),
                start.map(|s| s.to_string()).unwrap_or_else(|| "0".into())
            ),
        )),
        Some(_) => Ok(true),
        None => Ok(has_set),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{parse_bundle, parse_rest_response};

    const KEYS: &str = include_str!("../../tests/fixtures/keys.json");

    fn key_for(log_id: &[u8]) -> (LogKey, String) {
        let v: serde_json::Value = serde_json::from_str(KEYS).unwrap();
        for k in v["keys"].as_array().unwrap() {
            if hex::decode(k["log_id_hex"].as_str().unwrap()).unwrap() == log_id {
                let key = LogKey::parse(k["public_key_pem"].as_str().unwrap().as_bytes()).unwrap();
                return (key, k["note_signer_name"].as_str().unwrap().to_string());
            }
        }
        panic!("no key for {}", hex::encode(log_id));
    }

    fn upstream(name: &str) -> serde_json::Value {
        let p = format!("{}/../tests/fixtures/upstream/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    }

    fn check(entry: &crate::entry::LogEntry) -> Result<Verified, EvidenceError> {
        let (key, signer) = key_for(&entry.log_id);
        let ip = entry.inclusion_proof.as_ref().unwrap();
        let hashes: Vec<&[u8]> = ip.hashes.iter().map(|h| h.as_slice()).collect();
        let origin = if key.key_type() == crate::keys::KeyType::EcdsaP256 { format!("{signer} - ") } else { signer.clone() };
        let trust = Trust { key: &key, signer_name: &signer, origin: &origin, origin_is_prefix: origin.ends_with(" - ") };
        let e = Evidence {
            body: &entry.body,
            uuid: entry.uuid.as_deref(),
            leaf_hash: None,
            proof_log_index: ip.log_index,
            tree_size: ip.tree_size,
            root_hash: &ip.root_hash,
            proof: &hashes,
            checkpoint: ip.checkpoint.as_deref().unwrap(),
            signed_entry_timestamp: entry.signed_entry_timestamp.as_deref(),
            integrated_time: (entry.integrated_time != 0).then_some(entry.integrated_time),
            log_id: &entry.log_id,
            log_index: entry.log_index,
        };
        verify_evidence(&e, &trust, |cp| cp.verify(&key, &signer))
    }

    fn all_upstream() -> Vec<crate::entry::LogEntry> {
        let mut v = Vec::new();
        for f in ["rest-entry.json", "rest-entry-2.json"] {
            v.extend(parse_rest_response(&upstream(f)).unwrap());
        }
        for f in ["bundle-dsse.sigstore.json", "bundle-rekor-v2.sigstore.json", "bundle-v0.3-hashedrekord.sigstore.json"] {
            v.extend(parse_bundle(&upstream(f)).unwrap());
        }
        v
    }

    #[test]
    fn every_upstream_entry_verifies_and_sharded_entries_get_their_tree_id() {
        for e in all_upstream() {
            let v = check(&e).unwrap_or_else(|err| panic!("{}: {err}", e.log_index));
            if v.checkpoint.origin.contains(" - ") {
                assert!(v.tree_id.is_some(), "{}", v.checkpoint.origin);
            }
        }
    }

    #[test]
    fn each_tampering_fails_at_its_check() {
        for e in all_upstream() {
            let mut body = e.clone();
            body.body[10] ^= 1;
            let err = check(&body).unwrap_err();
            assert!(err.check == 1 || err.check == 2, "{err}");

            let mut proof = e.clone();
            if let Some(h) = proof.inclusion_proof.as_mut().and_then(|p| p.hashes.first_mut()) {
                h[0] ^= 1;
                assert_eq!(check(&proof).unwrap_err().check, 2);
            }

            let mut root = e.clone();
            root.inclusion_proof.as_mut().unwrap().root_hash[31] ^= 1;
            assert_eq!(check(&root).unwrap_err().check, 2);

            let mut note = e.clone();
            let ip = note.inclusion_proof.as_mut().unwrap();
            let cp = ip.checkpoint.take().unwrap();
            // Another signature of the right length: flip a base64 character in the middle of it.
            let pos = cp.rfind(' ').unwrap() + 20;
            let mut bytes = cp.into_bytes();
            bytes[pos] = if bytes[pos] == b'A' { b'B' } else { b'A' };
            ip.checkpoint = Some(String::from_utf8(bytes).unwrap());
            assert_eq!(check(&note).unwrap_err().check, 3);

            if e.signed_entry_timestamp.is_some() {
                let mut set = e.clone();
                set.integrated_time += 1;
                assert_eq!(check(&set).unwrap_err().check, 4);
                let mut idx = e.clone();
                idx.log_index += 1;
                assert_eq!(check(&idx).unwrap_err().check, 4);
            }
            if let Some(u) = &e.uuid {
                let mut uuid = e.clone();
                let mut s = u.clone();
                let last = if s.ends_with('0') { "1" } else { "0" };
                s.replace_range(s.len() - 1.., last);
                uuid.uuid = Some(s);
                assert_eq!(check(&uuid).unwrap_err().check, 1);
            }
        }
    }

    #[test]
    fn the_log_index_is_authenticated_by_a_set_a_single_tree_or_the_shard_map() {
        let shards = [(7u64, 100u64)];
        // A SET signs it; a single tree has index = proof index; a mapped shard has start + proof index.
        assert_eq!(authenticate_log_index(true, Some(9), &shards, 555, 3), Ok(true));
        assert_eq!(authenticate_log_index(false, None, &shards, 3, 3), Ok(true));
        assert_eq!(authenticate_log_index(false, Some(7), &shards, 103, 3), Ok(true));
        // Unmapped shard without a SET: stored, flagged not authenticated.
        assert_eq!(authenticate_log_index(false, Some(9), &shards, 3, 3), Ok(false));
        assert_eq!(authenticate_log_index(false, Some(9), &shards, 999, 3), Ok(false));
        // Contradictions are check 4 failures, with or without a SET.
        assert_eq!(authenticate_log_index(false, None, &shards, 4, 3).unwrap_err().check, 4);
        assert_eq!(authenticate_log_index(false, Some(7), &shards, 3, 3).unwrap_err().check, 4);
        assert_eq!(authenticate_log_index(true, Some(7), &shards, 3, 3).unwrap_err().check, 4);
        assert_eq!(authenticate_log_index(false, Some(7), &[(7, u64::MAX)], 3, 3).unwrap_err().check, 4);
    }

    #[test]
    fn a_tree_id_in_the_uuid_of_a_single_tree_log_is_refused() {
        for e in all_upstream() {
            let v = check(&e).unwrap();
            if v.tree_id.is_some() {
                continue;
            }
            let mut prefixed = e.clone();
            prefixed.uuid = Some(format!("{:016x}{}", 42u64, hex::encode(v.leaf_hash)));
            assert_eq!(check(&prefixed).unwrap_err().check, 1);
        }
    }

    #[test]
    fn a_checkpoint_for_another_size_is_rejected_even_when_the_proof_fits() {
        let e = all_upstream().remove(0);
        let mut other = e.clone();
        let ip = other.inclusion_proof.as_mut().unwrap();
        ip.tree_size += 1;
        let err = check(&other).unwrap_err();
        assert!(err.check == 2 || err.check == 3, "{err}");
    }
}
