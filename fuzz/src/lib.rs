//! Shared helpers for the rekor_meta_core fuzz targets: the real log keys from the test fixtures,
//! and the invariants every parsed log entry must satisfy (checked on whatever the fuzzer finds).

use rekor_meta_core::checkpoint::parse_checkpoint;
use rekor_meta_core::entry::{
    canonical_json, parse_body, set_payload, uuid_leaf_hash, LogEntry, MAX_INT, MAX_PROOF_HASHES,
};
use rekor_meta_core::evidence::{verify_evidence, Evidence, Trust};
use rekor_meta_core::keys::{is_valid_note_name, LogKey};
use rekor_meta_core::merkle::{leaf_hash, verify_inclusion};
use serde_json::Value;
use std::sync::OnceLock;

const KEYS_JSON: &str = include_str!("../../tests/fixtures/keys.json");
const NOTES_JSON: &str = include_str!("../../tests/fixtures/signed_notes.json");

/// A real log key with the signer name its checkpoints are signed under.
pub struct FixtureKey {
    pub key: LogKey,
    pub signer_name: String,
    /// Rekor logID (SHA-256 of the SPKI for ECDSA logs, of name/type/key for Ed25519 logs).
    pub log_id: [u8; 32],
}

/// Every key of tests/fixtures/keys.json (ECDSA P-256 and Ed25519 Rekor logs) and every verifier key of
/// tests/fixtures/signed_notes.json, parsed once.
pub fn fixture_keys() -> &'static [FixtureKey] {
    static KEYS: OnceLock<Vec<FixtureKey>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut out = Vec::new();
        let v: Value = serde_json::from_str(KEYS_JSON).expect("keys.json is JSON");
        for k in v["keys"].as_array().expect("keys.json has keys") {
            let pem = k["public_key_pem"].as_str().expect("public_key_pem");
            let key = LogKey::parse(pem.as_bytes()).expect("fixture key parses");
            let signer_name = k["note_signer_name"]
                .as_str()
                .expect("note_signer_name")
                .to_string();
            let log_id = key.log_id(&signer_name);
            out.push(FixtureKey {
                key,
                signer_name,
                log_id,
            });
        }
        let v: Value = serde_json::from_str(NOTES_JSON).expect("signed_notes.json is JSON");
        for vk in v["vkeys"].as_array().expect("signed_notes.json has vkeys") {
            let (signer_name, key) = LogKey::parse_vkey(vk["vkey"].as_str().expect("vkey"))
                .expect("fixture vkey parses");
            let log_id = key.log_id(&signer_name);
            out.push(FixtureKey {
                key,
                signer_name,
                log_id,
            });
        }
        assert!(out.len() >= 9);
        out
    })
}

/// The production rekor.sigstore.dev key (ECDSA P-256), the first of keys.json.
pub fn production_key() -> &'static FixtureKey {
    &fixture_keys()[0]
}

/// The fixture key whose logID is `log_id`, else the production key.
pub fn key_for(log_id: &[u8]) -> &'static FixtureKey {
    fixture_keys()
        .iter()
        .find(|k| k.log_id.as_slice() == log_id)
        .unwrap_or_else(production_key)
}

/// Invariants of every entry `parse_rest_response` / `parse_bundle` returns, then every verifier
/// the entry feeds (body parser, SET payload, inclusion proof, checkpoint, whole evidence), which
/// must not panic whatever the entry holds.
pub fn check_entry(e: &LogEntry) {
    assert_eq!(e.log_id.len(), 32, "log ID must be 32 bytes");
    assert!(!e.body.is_empty(), "body must not be empty");
    assert!(
        e.integrated_time >= 0,
        "integrated time must not be negative"
    );
    assert!(e.log_index <= MAX_INT, "log index must fit int64");
    let leaf = leaf_hash(&e.body);
    if let Some(uuid) = &e.uuid {
        assert_eq!(uuid, &uuid.to_ascii_lowercase(), "UUID must be lowercased");
        let from_uuid = uuid_leaf_hash(uuid).expect("a returned UUID parses");
        assert_eq!(from_uuid, leaf, "UUID must end in the body's leaf hash");
    }
    if let Some(set) = &e.signed_entry_timestamp {
        assert!(!set.is_empty(), "an empty SET must be rejected");
    }

    // The body is untrusted too.
    let _ = parse_body(&e.body);

    // The SET payload is RFC 8785 canonical JSON: canonicalizing it again changes nothing.
    let payload = set_payload(e);
    let v: Value = serde_json::from_slice(&payload).expect("SET payload is JSON");
    assert_eq!(
        canonical_json(&v),
        payload,
        "SET payload is not canonical JSON"
    );

    let fk = key_for(&e.log_id);
    let Some(ip) = &e.inclusion_proof else { return };
    assert!(
        ip.log_index < ip.tree_size,
        "proof index must be below tree size"
    );
    assert!(ip.hashes.len() <= MAX_PROOF_HASHES, "proof too long");
    let hashes: Vec<&[u8]> = ip.hashes.iter().map(|h| h.as_slice()).collect();
    let inclusion = verify_inclusion(ip.log_index, ip.tree_size, &leaf, &hashes, &ip.root_hash);
    if let Some(cp) = &ip.checkpoint {
        assert!(!cp.is_empty(), "an empty checkpoint must be None");
        if let Ok(parsed) = parse_checkpoint(cp.as_bytes()) {
            let _ = parsed.verify(&fk.key, &fk.signer_name);
            let _ = parsed.verify_any_name(&fk.key);
        }
    }
    let evidence = Evidence {
        body: &e.body,
        uuid: e.uuid.as_deref(),
        leaf_hash: None,
        proof_log_index: ip.log_index,
        tree_size: ip.tree_size,
        root_hash: &ip.root_hash,
        proof: &hashes,
        checkpoint: ip.checkpoint.as_deref().unwrap_or(""),
        signed_entry_timestamp: e.signed_entry_timestamp.as_deref(),
        integrated_time: (e.integrated_time != 0).then_some(e.integrated_time),
        log_id: &e.log_id,
        log_index: e.log_index,
    };
    // An empty prefix accepts every origin, so the fuzzer reaches the signature checks.
    let trust = Trust {
        key: &fk.key,
        signer_name: &fk.signer_name,
        origin: "",
        origin_is_prefix: true,
    };
    let result = verify_evidence(&evidence, &trust, |cp| cp.verify(&fk.key, &fk.signer_name));
    match &result {
        Ok(v) => {
            assert!(
                inclusion.is_ok(),
                "evidence verified but its inclusion proof does not"
            );
            assert_eq!(v.leaf_hash, leaf);
            assert_eq!(v.checkpoint.tree_size, ip.tree_size);
            assert_eq!(v.checkpoint.root_hash, ip.root_hash);
            assert!(v.checkpoint.verify(&fk.key, &fk.signer_name));
        }
        Err(err) => {
            assert!(
                (1..=4).contains(&err.check),
                "check number out of range: {err:?}"
            );
            if inclusion.is_err() {
                assert!(
                    err.check <= 2,
                    "a bad inclusion proof must fail check 1 or 2: {err:?}"
                );
            }
            let _ = err.to_string();
        }
    }
    assert!(is_valid_note_name(&fk.signer_name));
}

/// The number of '\n' in `data`, plus one: the last line number a note error may name.
pub fn last_line(data: &[u8]) -> usize {
    data.iter().filter(|&&b| b == b'\n').count() + 1
}
