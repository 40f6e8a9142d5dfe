//! Client-level tests of the Rekor entries capability (sql/030_entries.sql, src/entry.rs) over a real
//! connection: every real fixture entry ingests from the REST and the bundle shape and verifies; each
//! of the five checks of the `rekor_entries_verify` trigger rejects tampered evidence (SQLSTATE 23514,
//! message "check N (...)"); INSERT ... SELECT, COPY and UPDATE cannot bypass the trigger; ingest is
//! idempotent; the digest search finds what the bodies carry; malformed JSON names its path (22023).
//!
//! Real entries come from tests/fixtures/rekor_entries.json and upstream/*.json; a synthetic Ed25519
//! log ("test.log", fixed seed) with a real Merkle tree over bodies made here reaches what real data
//! cannot (a non-JSON body with a valid proof, forks, two entries at one index).
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use postgres::Client;
use rekor_meta_client_tests::notes::{checkpoint_text, Ed25519Signer, TestTree};
use rekor_meta_client_tests::*;
use rekor_meta_core::merkle;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashMap};
use std::io::Write;

// ---------------------------------------------------------------------------------------------
// Entries as plain data, and the two shapes users hold them in

#[derive(Clone, Debug)]
struct Proof {
    index: u64,
    tree_size: u64,
    root: Vec<u8>,
    hashes: Vec<Vec<u8>>,
    checkpoint: Option<String>,
}

/// One transparency-log entry; tampering edits these fields, the builders write the JSON.
#[derive(Clone, Debug)]
struct Ent {
    id: String,
    rekor_version: String,
    kind: String,
    kind_version: String,
    log_id: Vec<u8>,
    /// The global (virtual) index: the one a Rekor v1 SET signs.
    log_index: u64,
    integrated_time: Option<i64>,
    body: Vec<u8>,
    /// 64 hex digits: the leaf hash of the untampered body (tampering the body keeps it).
    uuid: String,
    proof: Option<Proof>,
    set: Option<Vec<u8>>,
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

fn hexd(v: &Value) -> Vec<u8> {
    hex::decode(s(v)).unwrap_or_else(|e| panic!("{v}: {e}"))
}

fn b64d(v: &Value) -> Vec<u8> {
    B64.decode(s(v)).unwrap_or_else(|e| panic!("{v}: {e}"))
}

impl Ent {
    fn from_fixture(e: &Value) -> Ent {
        let proof = e["inclusion_proof"].as_object().map(|p| Proof {
            index: p["log_index"].as_u64().unwrap(),
            tree_size: p["tree_size"].as_u64().unwrap(),
            root: hexd(&p["root_hash_hex"]),
            hashes: p["hashes_hex"].as_array().unwrap().iter().map(hexd).collect(),
            checkpoint: e["checkpoint_envelope"].as_str().map(str::to_string),
        });
        let ent = Ent {
            id: s(&e["id"]).to_string(),
            rekor_version: s(&e["rekor_version"]).to_string(),
            kind: s(&e["kind"]).to_string(),
            kind_version: s(&e["kind_version"]).to_string(),
            log_id: hexd(&e["log_id_hex"]),
            log_index: e["log_index"].as_u64().unwrap(),
            integrated_time: e["integrated_time"].as_i64(),
            body: b64d(&e["canonicalized_body_b64"]),
            uuid: s(&e["leaf_hash_hex"]).to_string(),
            proof,
            set: e["signed_entry_timestamp_b64"].as_str().map(|x| B64.decode(x).unwrap()),
        };
        assert_eq!(ent.leaf_hex(), ent.uuid, "{}: leaf_hash_hex", ent.id);
        ent
    }

    fn leaf_hex(&self) -> String {
        hex::encode(merkle::leaf_hash(&self.body))
    }

    fn proof(&self) -> &Proof {
        self.proof.as_ref().unwrap_or_else(|| panic!("{} has no proof", self.id))
    }

    fn proof_mut(&mut self) -> &mut Proof {
        self.proof.as_mut().expect("entry has a proof")
    }

    fn checkpoint(&self) -> &str {
        self.proof().checkpoint.as_deref().unwrap_or_else(|| panic!("{} has no checkpoint", self.id))
    }

    /// The Rekor v1 shard tree id named by the checkpoint origin "<host> - <tree id>".
    fn tree_id(&self) -> Option<i64> {
        let cp = self.proof.as_ref()?.checkpoint.as_deref()?;
        cp.lines().next()?.rsplit_once(" - ")?.1.parse().ok()
    }

    /// The 80-hex-digit UUID: 16 hex digits of the tree id, then the leaf hash.
    fn uuid80(&self) -> Option<String> {
        self.tree_id().map(|t| format!("{:016x}{}", t, self.uuid))
    }

    /// A Rekor v1 REST response (`GET /api/v1/log/entries/{uuid}`): an object keyed by UUID.
    fn rest_with_uuid(&self, uuid: &str) -> Value {
        let mut verification = serde_json::Map::new();
        if let Some(p) = &self.proof {
            let mut ip = json!({
                "logIndex": p.index,
                "rootHash": hex::encode(&p.root),
                "treeSize": p.tree_size,
                "hashes": p.hashes.iter().map(hex::encode).collect::<Vec<_>>(),
            });
            if let Some(cp) = &p.checkpoint {
                ip["checkpoint"] = json!(cp);
            }
            verification.insert("inclusionProof".into(), ip);
        }
        if let Some(set) = &self.set {
            verification.insert("signedEntryTimestamp".into(), json!(B64.encode(set)));
        }
        json!({ uuid: {
            "body": B64.encode(&self.body),
            "integratedTime": self.integrated_time.unwrap_or(0),
            "logID": hex::encode(&self.log_id),
            "logIndex": self.log_index,
            "verification": verification,
        }})
    }

    fn rest(&self) -> Value {
        self.rest_with_uuid(&self.uuid)
    }

    /// One protobuf-JSON TransparencyLogEntry: a bundle's tlogEntries[i], or a Rekor v2 REST answer.
    fn tlog(&self) -> Value {
        let mut t = json!({
            "logIndex": self.log_index.to_string(),
            "logId": { "keyId": B64.encode(&self.log_id) },
            "kindVersion": { "kind": self.kind, "version": self.kind_version },
            "canonicalizedBody": B64.encode(&self.body),
        });
        if let Some(it) = self.integrated_time {
            t["integratedTime"] = json!(it.to_string());
        }
        if let Some(set) = &self.set {
            t["inclusionPromise"] = json!({ "signedEntryTimestamp": B64.encode(set) });
        }
        if let Some(p) = &self.proof {
            let mut ip = json!({
                "logIndex": p.index.to_string(),
                "rootHash": B64.encode(&p.root),
                "treeSize": p.tree_size.to_string(),
                "hashes": p.hashes.iter().map(|h| B64.encode(h)).collect::<Vec<_>>(),
            });
            if let Some(cp) = &p.checkpoint {
                ip["checkpoint"] = json!({ "envelope": cp });
            }
            t["inclusionProof"] = ip;
        }
        t
    }

    /// A Sigstore bundle v0.3 carrying this entry (only the fields the ingest reads).
    fn bundle(&self) -> Value {
        json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": { "tlogEntries": [self.tlog()] },
        })
    }
}

fn fixture_entries() -> Vec<Ent> {
    json_fixture("rekor_entries.json")["entries"].as_array().unwrap().iter().map(Ent::from_fixture).collect()
}

/// The fixture entries that carry an inclusion proof and the checkpoint it ends in.
fn provable_entries() -> Vec<Ent> {
    fixture_entries().into_iter().filter(|e| e.proof.as_ref().is_some_and(|p| p.checkpoint.is_some())).collect()
}

fn fixture_entry(id: &str) -> Ent {
    fixture_entries().into_iter().find(|e| e.id == id).unwrap_or_else(|| panic!("no fixture entry {id}"))
}

/// A Rekor v1 production entry with a SET and a checkpoint (shard 1193050959916656506).
const V1: &str = "production-v1-hashedrekord-0.0.1-150603746";
/// A Rekor v1 entry of the older production shard 2605736670972794746.
const V1_OLD_SHARD: &str = "production-v1-hashedrekord-0.0.1-27246492";
/// A Rekor v1 staging entry (another log key).
const V1_STAGING: &str = "staging-v1-hashedrekord-0.0.1-11589473";
/// A Rekor v2 staging entry (Ed25519 checkpoint, no SET).
const V2: &str = "staging-v2-hashedrekord-0.0.2-29469";
const DSSE: &str = "production-v1-dsse-0.0.1-155690850";

// ---------------------------------------------------------------------------------------------
// SQL helpers

/// Trusts every log of keys.json (no validity windows, so old entries verify).
fn trust_fixture_logs(c: &mut Client) {
    for k in json_fixture("keys.json")["keys"].as_array().unwrap() {
        let id: Vec<u8> = c
            .query_one("SELECT rekor_add_log($1, $2)", &[&s(&k["public_key_pem"]), &s(&k["note_signer_name"])])
            .unwrap_or_else(|e| panic!("rekor_add_log {}: {e}", k["id"]))
            .get(0);
        assert_eq!(hex::encode(id), s(&k["log_id_hex"]), "{}", k["id"]);
    }
}

fn db_with_fixture_logs(name: &str) -> Client {
    let mut c = fresh_db(name);
    trust_fixture_logs(&mut c);
    c
}

fn ingest(c: &mut Client, function: &str, doc: &Value) -> Result<Vec<i64>, postgres::Error> {
    let q = format!("SELECT {function}($1::text::jsonb)");
    c.query(q.as_str(), &[&doc.to_string()]).map(|rows| rows.iter().map(|r| r.get(0)).collect())
}

fn ingest_rest(c: &mut Client, doc: &Value) -> Result<Vec<i64>, postgres::Error> {
    ingest(c, "rekor_ingest_entry", doc)
}

fn ingest_bundle(c: &mut Client, doc: &Value) -> Result<Vec<i64>, postgres::Error> {
    ingest(c, "rekor_ingest_bundle", doc)
}

fn one(ids: Vec<i64>, case: &str) -> i64 {
    assert_eq!(ids.len(), 1, "{case}: {ids:?}");
    ids[0]
}

fn count(c: &mut impl postgres::GenericClient, q: &str) -> i64 {
    c.query_one(q, &[]).unwrap().get(0)
}

fn entries(c: &mut Client) -> i64 {
    count(c, "SELECT count(*) FROM rekor_entries")
}

const CHECKS: [&str; 5] = [
    "check 1 (leaf hash)",
    "check 2 (inclusion proof)",
    "check 3 (checkpoint)",
    "check 4 (signed entry timestamp)",
    "check 5 (body)",
];

/// The statement failed with 23514 and a message starting with one of `checks` (1-based).
fn assert_check<T: std::fmt::Debug>(r: Result<T, postgres::Error>, checks: &[usize], case: &str) -> String {
    let (code, msg, detail) = db_error(r);
    assert_eq!(code, "23514", "{case}: {msg} ({detail})");
    assert!(
        checks.iter().any(|n| msg.starts_with(CHECKS[n - 1])),
        "{case}: expected a rejection by check {checks:?}, got {msg:?} ({detail})"
    );
    assert!(!detail.is_empty(), "{case}: no DETAIL");
    msg
}

/// rekor_verify_inclusion is true and every report row passed: steps 0 to 4 (key validity and
/// checks 1-4) passed; steps 5 and 6 (log index, integrated time) passed or are NULL, "not
/// authenticated", for claims no SET or shard map vouches for (0.3.0).
fn assert_verifies(c: &mut Client, id: i64, case: &str) {
    let ok: Option<bool> = c.query_one("SELECT rekor_verify_inclusion($1)", &[&id]).unwrap().get(0);
    assert_eq!(ok, Some(true), "{case}");
    let rows = c
        .query("SELECT step, \"check\", passed, reason FROM rekor_verify_inclusion_report($1) ORDER BY step", &[&id])
        .unwrap();
    let steps: Vec<i32> = rows.iter().map(|r| r.get(0)).collect();
    // Step 7 (0.4.0): the signing time and its source.
    assert_eq!(steps, vec![0, 1, 2, 3, 4, 5, 6, 7], "{case}");
    for r in &rows {
        let (step, check, passed, reason): (i32, String, Option<bool>, String) = (r.get(0), r.get(1), r.get(2), r.get(3));
        if step <= 4 || step == 7 {
            assert_eq!(passed, Some(true), "{case}: step {step} ({check}) failed: {reason}");
        } else {
            assert_ne!(passed, Some(false), "{case}: step {step} ({check}) failed: {reason}");
            assert_eq!(passed.is_none(), reason.starts_with("NOT authenticated"), "{case}: step {step}: {reason}");
        }
        assert!(!reason.is_empty(), "{case}: step {step} has no reason");
    }
}

/// The stored row agrees with the entry it came from.
fn assert_stored(c: &mut Client, id: i64, e: &Ent, uuid: Option<&str>, case: &str) {
    let r = c
        .query_one(
            "SELECT x.kind, x.api_version, x.log_index, x.proof_log_index, x.tree_size, x.leaf_hash, x.log_id,
                    x.entry_uuid, x.tree_id, extract(epoch FROM x.integrated_time)::bigint, x.signed_entry_timestamp,
                    x.checkpoint, x.root_hash, x.proof_hashes, x.body, k.tree_size, k.root_hash, k.log_id
             FROM rekor_entries x JOIN rekor_checkpoints k USING (checkpoint_id) WHERE x.entry_id = $1",
            &[&id],
        )
        .unwrap();
    let p = e.proof();
    assert_eq!(r.get::<_, String>(0), e.kind, "{case}: kind");
    assert_eq!(r.get::<_, String>(1), e.kind_version, "{case}: api_version");
    assert_eq!(r.get::<_, i64>(2), e.log_index as i64, "{case}: log_index");
    assert_eq!(r.get::<_, i64>(3), p.index as i64, "{case}: proof_log_index");
    assert_eq!(r.get::<_, i64>(4), p.tree_size as i64, "{case}: tree_size");
    assert_eq!(hex::encode(r.get::<_, Vec<u8>>(5)), e.uuid, "{case}: leaf_hash");
    assert_eq!(r.get::<_, Vec<u8>>(6), e.log_id, "{case}: log_id");
    assert_eq!(r.get::<_, Option<String>>(7).as_deref(), uuid, "{case}: entry_uuid");
    assert_eq!(r.get::<_, Option<i64>>(8), e.tree_id(), "{case}: tree_id");
    assert_eq!(r.get::<_, Option<i64>>(9), e.integrated_time, "{case}: integrated_time");
    assert_eq!(r.get::<_, Option<Vec<u8>>>(10), e.set, "{case}: signed_entry_timestamp");
    assert_eq!(r.get::<_, String>(11), e.checkpoint(), "{case}: checkpoint");
    assert_eq!(r.get::<_, Vec<u8>>(12), p.root, "{case}: root_hash");
    assert_eq!(r.get::<_, Vec<Vec<u8>>>(13), p.hashes, "{case}: proof_hashes");
    assert_eq!(r.get::<_, Vec<u8>>(14), e.body, "{case}: body");
    assert_eq!(r.get::<_, i64>(15), p.tree_size as i64, "{case}: checkpoint row tree_size");
    assert_eq!(r.get::<_, Vec<u8>>(16), p.root, "{case}: checkpoint row root");
    assert_eq!(r.get::<_, Vec<u8>>(17), e.log_id, "{case}: checkpoint row log_id");
}

// ---------------------------------------------------------------------------------------------
// 1. Every real entry ingests from both shapes and verifies

#[derive(Clone, Copy, Debug, PartialEq)]
enum Shape {
    /// REST response keyed by the 64-hex UUID (the leaf hash).
    Rest64,
    /// REST response keyed by the 80-hex UUID (tree id + leaf hash) where the log is sharded.
    Rest80,
    /// A Sigstore bundle v0.3.
    Bundle,
    /// Rekor v2's REST answer: one bare TransparencyLogEntry, through rekor_ingest_entry.
    RestV2,
}

fn ingest_all_in_shape(shape: Shape) {
    let mut c = db_with_fixture_logs(&format!("ent_all_{shape:?}").to_lowercase());
    let mut by_leaf: HashMap<String, i64> = HashMap::new();
    let mut kinds = BTreeSet::new();
    let mut n = 0;
    for e in provable_entries() {
        if shape == Shape::RestV2 && e.rekor_version != "v2" {
            continue;
        }
        let case = format!("{shape:?} {}", e.id);
        let (ids, uuid) = match shape {
            Shape::Rest64 => (ingest_rest(&mut c, &e.rest()), Some(e.uuid.clone())),
            Shape::Rest80 => {
                let uuid = e.uuid80().unwrap_or_else(|| e.uuid.clone());
                (ingest_rest(&mut c, &e.rest_with_uuid(&uuid)), Some(uuid))
            }
            Shape::Bundle => (ingest_bundle(&mut c, &e.bundle()), None),
            Shape::RestV2 => (ingest_rest(&mut c, &e.tlog()), None),
        };
        let id = one(ids.unwrap_or_else(|err| panic!("{case}: {err:?}")), &case);
        // Two fixture records are the same entry with different checkpoint notes: the second is the
        // stored one again (idempotent ingest), so the row keeps the first record's checkpoint.
        if let Some(prev) = by_leaf.insert(e.uuid.clone(), id) {
            assert_eq!(prev, id, "{case}: the same entry got a second row");
        } else {
            assert_stored(&mut c, id, &e, uuid.as_deref(), &case);
        }
        assert_verifies(&mut c, id, &case);
        kinds.insert((e.rekor_version.clone(), e.kind.clone()));
        n += 1;
    }
    assert_eq!(entries(&mut c), by_leaf.len() as i64, "{shape:?}");
    if shape == Shape::RestV2 {
        assert!(n >= 6, "{shape:?}: only {n} Rekor v2 entries");
    } else {
        assert!(n >= 19, "{shape:?}: only {n} entries with a proof and a checkpoint");
        for k in [("v1", "hashedrekord"), ("v1", "dsse"), ("v1", "intoto"), ("v2", "hashedrekord")] {
            assert!(kinds.contains(&(k.0.to_string(), k.1.to_string())), "{shape:?}: no {k:?} entry covered");
        }
    }
}

#[test]
fn every_fixture_entry_ingests_from_a_rest_response_with_64_hex_uuids_and_verifies() {
    ingest_all_in_shape(Shape::Rest64);
}

#[test]
fn every_fixture_entry_ingests_from_a_rest_response_with_80_hex_uuids_and_verifies() {
    ingest_all_in_shape(Shape::Rest80);
}

#[test]
fn every_fixture_entry_ingests_from_a_bundle_and_verifies() {
    ingest_all_in_shape(Shape::Bundle);
}

#[test]
fn every_rekor_v2_fixture_entry_ingests_from_its_bare_rest_answer_and_verifies() {
    ingest_all_in_shape(Shape::RestV2);
}

#[test]
fn upstream_rest_responses_and_bundles_ingest_as_they_are() {
    let mut c = db_with_fixture_logs("ent_upstream");
    // The Rekor v2 bundle carries an RFC 3161 timestamp (check 6, 0.4.0): trust staging's authority.
    c.query("SELECT * FROM rekor_import_timestamp_authorities($1::text::jsonb)", &[&fixture("trusted_root/staging.trusted_root.json")])
        .unwrap();
    let cases = [
        ("rest-entry.json", "rekor_ingest_entry", "hashedrekord", "0.0.1", Some(108574341321668964i64)),
        ("rest-entry-2.json", "rekor_ingest_entry", "hashedrekord", "0.0.2", None),
        ("bundle-v0.3-hashedrekord.sigstore.json", "rekor_ingest_bundle", "hashedrekord", "0.0.1", Some(2605736670972794746)),
        ("bundle-dsse.sigstore.json", "rekor_ingest_bundle", "dsse", "0.0.1", Some(1193050959916656506)),
        ("bundle-rekor-v2.sigstore.json", "rekor_ingest_bundle", "hashedrekord", "0.0.2", None),
    ];
    for (file, function, kind, version, tree_id) in cases {
        let text = fixture(&format!("upstream/{file}"));
        // The file's exact bytes, as the client has them.
        let q = format!("SELECT {function}($1::text::jsonb)");
        let ids: Vec<i64> = c.query(q.as_str(), &[&text]).unwrap_or_else(|e| panic!("{file}: {e:?}")).iter().map(|r| r.get(0)).collect();
        let id = one(ids, file);
        assert_verifies(&mut c, id, file);
        let r = c.query_one("SELECT kind, api_version, tree_id FROM rekor_entries WHERE entry_id = $1", &[&id]).unwrap();
        assert_eq!((r.get::<_, String>(0).as_str(), r.get::<_, String>(1).as_str()), (kind, version), "{file}");
        assert_eq!(r.get::<_, Option<i64>>(2), tree_id, "{file}");
        // Again: the same entry_id, nothing new.
        let again: Vec<i64> = c.query(q.as_str(), &[&text]).unwrap().iter().map(|r| r.get(0)).collect();
        assert_eq!(again, vec![id], "{file}: second ingest");
    }
    assert_eq!(entries(&mut c), 5);
    // The REST entry's UUID is kept; bundles carry none.
    assert_eq!(count(&mut c, "SELECT count(entry_uuid) FROM rekor_entries"), 1);
}

#[test]
fn entries_without_a_proof_or_checkpoint_are_rejected_with_22023() {
    let mut c = db_with_fixture_logs("ent_no_proof");
    let mut no_proof = 0;
    let mut no_checkpoint = 0;
    for e in fixture_entries() {
        let Some(p) = &e.proof else {
            assert!(e.set.is_some(), "{}: fixture entries without a proof carry a SET", e.id);
            for (shape, r) in [("REST", ingest_rest(&mut c, &e.rest())), ("bundle", ingest_bundle(&mut c, &e.bundle()))] {
                let (code, msg, detail) = db_error(r);
                assert_eq!(code, "22023", "{} {shape}: {msg}", e.id);
                assert_eq!(msg, "entry has no inclusion proof", "{} {shape}", e.id);
                assert!(detail.contains("signed entry timestamp"), "{} {shape}: {detail}", e.id);
            }
            no_proof += 1;
            continue;
        };
        if p.checkpoint.is_none() {
            // A proof without the checkpoint it ends in: nothing signs its root.
            for (shape, r) in [("REST", ingest_rest(&mut c, &e.rest())), ("bundle", ingest_bundle(&mut c, &e.bundle()))] {
                let (code, msg, detail) = db_error(r);
                assert_eq!(code, "22023", "{} {shape}: {msg} ({detail})", e.id);
                assert!(msg.contains("checkpoint"), "{} {shape}: {msg}", e.id);
            }
            no_checkpoint += 1;
        }
    }
    assert!(no_proof >= 3, "{no_proof}");
    assert!(no_checkpoint >= 2, "{no_checkpoint}");
    assert_eq!(entries(&mut c), 0);
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_checkpoints"), 0);
}

// ---------------------------------------------------------------------------------------------
// 2. Tampering: each check rejects what it is for

fn flip_byte(v: &mut [u8], i: usize) {
    v[i] ^= 0x01;
}

/// The note with one base64 character of `signer`'s signature line changed: to another valid
/// character (`keep_base64`: the signature no longer verifies) or to one outside the alphabet.
fn tamper_signature(note: &str, signer: &str, keep_base64: bool) -> String {
    let start = note.find(&format!("\n\u{2014} {signer} ")).unwrap_or_else(|| panic!("no signature by {signer} in {note:?}"));
    let blob_start = start + "\n\u{2014} ".len() + signer.len() + 1;
    // Character 12 encodes bytes 9..12: past the 4-byte key hint, inside the signature.
    let at = blob_start + 12;
    let old = note.as_bytes()[at];
    let new = if !keep_base64 {
        '!'
    } else if old == b'A' {
        'B'
    } else {
        'A'
    };
    let mut out = note.to_string();
    out.replace_range(at..at + 1, &new.to_string());
    out
}

fn signer_of(e: &Ent) -> String {
    let keys = json_fixture("keys.json");
    let k = keys["keys"].as_array().unwrap().iter().find(|k| hexd(&k["log_id_hex"]) == e.log_id).expect("log key");
    s(&k["note_signer_name"]).to_string()
}

/// A tampering case: the entry edited, then ingested in one shape; the checks that may fire.
struct Case {
    name: String,
    ent: Ent,
    checks: Vec<usize>,
}

fn case(name: &str, base: &Ent, checks: &[usize], edit: impl FnOnce(&mut Ent)) -> Case {
    let mut ent = base.clone();
    edit(&mut ent);
    Case { name: format!("{} / {name}", base.id), ent, checks: checks.to_vec() }
}

fn tampering_cases(base: &Ent, other_log: &Ent) -> Vec<Case> {
    let signer = signer_of(base);
    let p = base.proof().clone();
    let mut v = vec![
        case("body byte flipped", base, &[2], |e| {
            let mid = e.body.len() / 2;
            flip_byte(&mut e.body, mid)
        }),
        case("body byte appended", base, &[2], |e| e.body.push(b' ')),
        case("first proof hash bit flipped", base, &[2], |e| flip_byte(&mut e.proof_mut().hashes[0], 0)),
        case("last proof hash bit flipped", base, &[2], |e| {
            let h = e.proof_mut().hashes.last_mut().unwrap();
            flip_byte(h, 31)
        }),
        case("a proof hash dropped", base, &[2], |e| {
            e.proof_mut().hashes.pop();
        }),
        case("a proof hash added", base, &[2], |e| e.proof_mut().hashes.push(vec![0u8; 32])),
        case("proof hashes swapped", base, &[2], |e| e.proof_mut().hashes.swap(0, 1)),
        case("root flipped", base, &[2], |e| flip_byte(&mut e.proof_mut().root, 7)),
        case("proof index changed", base, &[2], |e| e.proof_mut().index -= 1),
        // A proof can verify at a neighbouring size; then the checkpoint (check 3) does not match.
        case("tree size + 1", base, &[2, 3], |e| e.proof_mut().tree_size += 1),
        case("tree size + 1000", base, &[2, 3], |e| e.proof_mut().tree_size += 1000),
        case("checkpoint signature byte changed", base, &[3], |e| {
            let cp = tamper_signature(e.checkpoint(), &signer, true);
            e.proof_mut().checkpoint = Some(cp)
        }),
        case("checkpoint signature made non-base64", base, &[3], |e| {
            let cp = tamper_signature(e.checkpoint(), &signer, false);
            e.proof_mut().checkpoint = Some(cp)
        }),
        case("checkpoint text edited (unsigned)", base, &[3], |e| {
            let cp = e.checkpoint().replacen(&format!("\n{}\n", p.tree_size), &format!("\n{}\n", p.tree_size + 1), 1);
            assert_ne!(cp, e.checkpoint());
            e.proof_mut().checkpoint = Some(cp)
        }),
        case("checkpoint extended by an unsigned line", base, &[3], |e| {
            // Same origin, size and root: only the signature can tell.
            let cp = e.checkpoint().to_string();
            let mut lines: Vec<&str> = cp.split_inclusive('\n').collect();
            lines.insert(3, "Unsigned: extension\n");
            e.proof_mut().checkpoint = Some(lines.concat())
        }),
        case("checkpoint origin edited", base, &[3], |e| {
            let cp = e.checkpoint().to_string();
            let (origin, rest) = cp.split_once('\n').unwrap();
            e.proof_mut().checkpoint = Some(format!("{origin}7\n{rest}"))
        }),
        case("checkpoint of another log", base, &[3], |e| {
            e.proof_mut().checkpoint = Some(other_log.checkpoint().to_string())
        }),
        case("checkpoint that is not a note", base, &[3], |e| e.proof_mut().checkpoint = Some("hello\n".into())),
        case("log ID of another trusted log", base, &[3, 4], |e| e.log_id = other_log.log_id.clone()),
    ];
    if p.tree_size - 1 > p.index {
        v.push(case("tree size - 1", base, &[2, 3], |e| e.proof_mut().tree_size -= 1));
    }
    if base.set.is_some() {
        v.extend([
            case("SET byte flipped", base, &[4], |e| {
                let set = e.set.as_mut().unwrap();
                let mid = set.len() / 2;
                flip_byte(set, mid)
            }),
            case("SET truncated", base, &[4], |e| {
                e.set.as_mut().unwrap().pop();
            }),
            case("SET of another entry", base, &[4], |e| e.set = other_log.set.clone()),
            case("log index changed", base, &[4], |e| e.log_index += 1),
            case("log index set to the proof index", base, &[4], |e| e.log_index = p.index),
            case("integrated time changed", base, &[4], |e| *e.integrated_time.as_mut().unwrap() += 1),
        ]);
    }
    v
}

fn run_tampering(base_id: &str, other_id: &str) {
    let base = fixture_entry(base_id);
    let other = fixture_entry(other_id);
    let mut c = db_with_fixture_logs("ent_tamper");
    let mut seen = BTreeSet::new();
    for t in tampering_cases(&base, &other) {
        for (shape, r) in [("bundle", ingest_bundle(&mut c, &t.ent.bundle())), ("REST", ingest_rest(&mut c, &t.ent.rest()))] {
            let name = format!("{} ({shape})", t.name);
            if shape == "REST" && t.ent.body != base.body {
                // The REST parser already refuses a body that is not the UUID's leaf (22023, before
                // the trigger); check 1 is reached by a direct INSERT (see the test below).
                let (code, msg, _) = db_error(r);
                assert_eq!(code, "22023", "{name}: {msg}");
                assert!(msg.contains("is not the body's leaf hash"), "{name}: {msg}");
                continue;
            }
            let msg = assert_check(r, &t.checks, &name);
            println!("{name}: {msg}");
            seen.insert(msg[..7].to_string());
            assert_eq!(entries(&mut c), 0, "{name}: a row was stored");
        }
    }
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_checkpoints"), 0, "a rejected entry left its checkpoint");
    // The untampered entry is accepted in the same database: the cases above failed for their edit.
    let id = one(ingest_bundle(&mut c, &base.bundle()).unwrap(), base_id);
    assert_verifies(&mut c, id, base_id);
    assert_eq!(one(ingest_rest(&mut c, &base.rest()).unwrap(), base_id), id);
    let mut want: BTreeSet<String> = ["check 2".to_string(), "check 3".to_string()].into();
    if base.set.is_some() {
        want.insert("check 4".to_string());
    }
    assert!(want.is_subset(&seen), "checks seen: {seen:?}");
}

#[test]
fn tampered_rekor_v1_entries_are_rejected_by_checks_2_to_4() {
    run_tampering(V1, V1_STAGING);
}

#[test]
fn tampered_rekor_v1_entries_of_an_older_shard_are_rejected() {
    run_tampering(V1_OLD_SHARD, V1_STAGING);
}

#[test]
fn tampered_rekor_v2_entries_are_rejected_by_checks_2_and_3() {
    run_tampering(V2, "staging-v2-hashedrekord-0.0.2-4026478");
}

#[test]
fn tampered_dsse_entries_are_rejected() {
    run_tampering(DSSE, V1_STAGING);
}

/// INSERT ... SELECT from the parsed REST response, with some columns replaced by SQL expressions
/// over the parsed row `p` (a direct insert, bypassing the ingest function but not the trigger).
fn insert_parsed(c: &mut Client, doc: &Value, overrides: &[(&str, &str)]) -> Result<u64, postgres::Error> {
    let cols = [
        ("log_id", "p.log_id"),
        ("entry_uuid", "p.entry_uuid"),
        ("log_index", "p.log_index"),
        ("proof_log_index", "p.proof_log_index"),
        ("tree_id", "p.tree_id"),
        ("integrated_time", "to_timestamp(p.integrated_time)"),
        ("body", "p.body"),
        ("leaf_hash", "NULL::bytea"),
        ("tree_size", "p.tree_size"),
        ("root_hash", "p.root_hash"),
        ("proof_hashes", "p.proof_hashes"),
        ("checkpoint", "p.checkpoint"),
        ("signed_entry_timestamp", "p.signed_entry_timestamp"),
        ("kind", "NULL::text"),
    ];
    let names: Vec<&str> = cols.iter().map(|c| c.0).collect();
    let exprs: Vec<&str> = cols
        .iter()
        .map(|(n, e)| overrides.iter().find(|o| o.0 == *n).map(|o| o.1).unwrap_or(*e))
        .collect();
    let q = format!(
        "INSERT INTO rekor_entries ({}) SELECT {} FROM rekor_parse_rest_response($1::text::jsonb) p",
        names.join(", "),
        exprs.join(", ")
    );
    c.execute(q.as_str(), &[&doc.to_string()])
}

#[test]
fn check_1_rejects_a_uuid_or_leaf_hash_that_is_not_the_bodys() {
    let mut c = db_with_fixture_logs("ent_check1");
    let e = fixture_entry(V1);
    let doc = e.rest_with_uuid(&e.uuid80().unwrap());
    let flipped_body = "set_byte(p.body, 40, get_byte(p.body, 40) # 1)";
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("body byte flipped under the REST UUID", vec![("body", flipped_body)]),
        ("UUID leaf digit changed", vec![("entry_uuid", "overlay(p.entry_uuid placing 'f0' from 79)")]),
        ("64-hex UUID of another leaf", vec![("entry_uuid", "encode(sha256('x'), 'hex')")]),
        ("UUID of 70 hex digits", vec![("entry_uuid", "left(p.entry_uuid, 70)")]),
        ("UUID that is not hex", vec![("entry_uuid", "'z' || right(p.entry_uuid, 79)")]),
        ("leaf_hash column of another body", vec![("leaf_hash", "sha256('x')")]),
        ("leaf_hash of the body without the 0x00 prefix", vec![("leaf_hash", "sha256(p.body)")]),
    ];
    for (name, o) in cases {
        assert_check(insert_parsed(&mut c, &doc, &o), &[1], name);
    }
    // The REST ingest refuses a UUID that is not the body's leaf hash already when parsing.
    let mut bad = e.clone();
    bad.uuid = hex::encode(Sha256::digest(b"x"));
    let (code, msg, _) = db_error(ingest_rest(&mut c, &bad.rest()));
    assert_eq!(code, "22023", "{msg}");
    assert!(msg.contains(&format!("[{:?}]", bad.uuid)), "{msg}");
    assert_eq!(entries(&mut c), 0);

    // The same INSERT ... SELECT untampered is stored, with the UUID lowercased and its tree id.
    let upper = [("entry_uuid", "upper(p.entry_uuid)")];
    assert_eq!(insert_parsed(&mut c, &doc, &upper).unwrap(), 1);
    let r = c.query_one("SELECT entry_id, entry_uuid, tree_id, encode(leaf_hash, 'hex') FROM rekor_entries", &[]).unwrap();
    assert_eq!(r.get::<_, String>(1), e.uuid80().unwrap());
    assert_eq!(r.get::<_, Option<i64>>(2), e.tree_id());
    assert_eq!(r.get::<_, String>(3), e.uuid);
    assert_verifies(&mut c, r.get(0), "direct insert");
}

#[test]
fn an_80_hex_uuid_must_name_the_checkpoints_shard() {
    let mut c = db_with_fixture_logs("ent_uuid_shard");
    let e = fixture_entry(V1);
    // Tree id of the older production shard, while the checkpoint is of shard 1193050959916656506.
    let wrong = format!("{:016x}{}", 2605736670972794746u64, e.uuid);
    let msg = assert_check(ingest_rest(&mut c, &e.rest_with_uuid(&wrong)), &[3], "80-hex UUID of another shard");
    assert!(msg.contains("shard") || msg.contains("tree id"), "{msg}");
    // A direct insert that claims another tree_id than the checkpoint's origin names.
    let doc = e.rest();
    assert_check(insert_parsed(&mut c, &doc, &[("tree_id", "42")]), &[3], "tree_id column of another shard");
    assert_eq!(entries(&mut c), 0);
    let id = one(ingest_rest(&mut c, &e.rest_with_uuid(&e.uuid80().unwrap())).unwrap(), "right shard");
    assert_verifies(&mut c, id, "right shard");
}

#[test]
fn entries_of_untrusted_or_retired_logs_are_rejected() {
    let mut c = fresh_db("ent_untrusted");
    let e = fixture_entry(V1);
    let (code, msg, _) = db_error(ingest_bundle(&mut c, &e.bundle()));
    assert_eq!((code.as_str(), msg.as_str()), ("23514", "entry log is not a trusted log"));
    // Trusted only until a second before the entry was integrated (the window's end is inclusive).
    let prod = fixture_key("production:rekor.sigstore.dev");
    c.execute(
        "SELECT rekor_add_log($1, $2, NULL, '2021-01-01', to_timestamp($3::bigint - 1))",
        &[&s(&prod["public_key_pem"]), &s(&prod["note_signer_name"]), &e.integrated_time.unwrap()],
    )
    .unwrap();
    let (code, msg, detail) = db_error(ingest_bundle(&mut c, &e.bundle()));
    assert_eq!(code, "23514", "{msg}");
    assert!(msg.starts_with("log key is not valid at the entry's time"), "{msg} ({detail})");
    assert_eq!(entries(&mut c), 0);
}

// ---------------------------------------------------------------------------------------------
// 3. A synthetic Ed25519 log: check 5, direct INSERT, COPY, UPDATE, DELETE, TRUNCATE

const TEST_LOG: &str = "test.log";
const TEST_SEED: [u8; 32] = [0x5e; 32];

/// A hashedrekord-like v0.0.1 body with a sha256 artifact digest of "artifact <tag>".
fn hashedrekord_body(tag: &str) -> Vec<u8> {
    json!({
        "apiVersion": "0.0.1",
        "kind": "hashedrekord",
        "spec": {
            "data": { "hash": { "algorithm": "sha256", "value": hex::encode(artifact_digest(tag)) } },
            "signature": {
                "content": B64.encode(format!("signature over artifact {tag}")),
                "publicKey": { "content": B64.encode("-----BEGIN PUBLIC KEY-----\ntest\n-----END PUBLIC KEY-----\n") },
            },
        },
    })
    .to_string()
    .into_bytes()
}

fn artifact_digest(tag: &str) -> Vec<u8> {
    Sha256::digest(format!("artifact {tag}")).to_vec()
}

const NOT_JSON: &[u8] = b"this body is not JSON, but it is a leaf of the tree all the same";

/// A log this test runs: its key, its bodies and the real RFC 6962 tree over them.
struct TestLog {
    signer: Ed25519Signer,
    bodies: Vec<Vec<u8>>,
    tree: TestTree,
}

impl TestLog {
    fn new(name: &str, seed: [u8; 32], bodies: Vec<Vec<u8>>) -> TestLog {
        let tree = TestTree::from_leaves(bodies.iter().map(|b| merkle::leaf_hash(b)).collect());
        TestLog { signer: Ed25519Signer::new(name, seed), bodies, tree }
    }

    /// Eight bodies; index 5 is not JSON.
    fn standard() -> TestLog {
        let bodies = (0..8).map(|i| if i == 5 { NOT_JSON.to_vec() } else { hashedrekord_body(&format!("t{i}")) }).collect();
        TestLog::new(TEST_LOG, TEST_SEED, bodies)
    }

    fn trust(&self, c: &mut Client) {
        let id: Vec<u8> = c.query_one("SELECT rekor_add_log($1, $2)", &[&self.signer.spki_b64(), &self.signer.name]).unwrap().get(0);
        assert_eq!(id, self.signer.log_id().to_vec(), "log ID of an Ed25519 log binds its name");
    }

    fn checkpoint(&self, size: usize) -> String {
        self.signer.checkpoint(&self.signer.name, size as u64, &self.tree.root(size))
    }

    /// Entry `i` with its inclusion proof in the tree of `size` leaves and that tree's checkpoint.
    fn ent(&self, i: usize, size: usize) -> Ent {
        let hashes = merkle::inclusion_proof(&self.tree.leaves[..size], i).unwrap().iter().map(|h| h.to_vec()).collect();
        Ent {
            id: format!("{} #{i}", self.signer.name),
            rekor_version: "v2".into(),
            kind: "hashedrekord".into(),
            kind_version: "0.0.1".into(),
            log_id: self.signer.log_id().to_vec(),
            log_index: i as u64,
            integrated_time: None,
            body: self.bodies[i].clone(),
            uuid: hex::encode(merkle::leaf_hash(&self.bodies[i])),
            proof: Some(Proof {
                index: i as u64,
                tree_size: size as u64,
                root: self.tree.root(size).to_vec(),
                hashes,
                checkpoint: Some(self.checkpoint(size)),
            }),
            set: None,
        }
    }
}

/// INSERT of one row with the evidence columns only (kind, api_version, leaf_hash, digest_keys and
/// checkpoint_id are the trigger's to fill).
fn insert_row(c: &mut impl postgres::GenericClient, e: &Ent) -> Result<i64, postgres::Error> {
    let p = e.proof();
    c.query_one(
        "INSERT INTO rekor_entries (log_id, log_index, proof_log_index, integrated_time, body, tree_size, root_hash,
                                    proof_hashes, checkpoint, signed_entry_timestamp)
         VALUES ($1, $2, $3, to_timestamp($4::bigint), $5, $6, $7, $8, $9, $10) RETURNING entry_id",
        &[
            &e.log_id,
            &(e.log_index as i64),
            &(p.index as i64),
            &e.integrated_time,
            &e.body,
            &(p.tree_size as i64),
            &p.root,
            &p.hashes,
            &e.checkpoint(),
            &e.set,
        ],
    )
    .map(|r| r.get(0))
}

fn copy_bytea(b: &[u8]) -> String {
    // COPY text format doubles the backslash of the bytea hex format.
    format!("\\\\x{}", hex::encode(b))
}

fn copy_text(t: &str) -> String {
    t.replace('\\', "\\\\").replace('\n', "\\n").replace('\t', "\\t").replace('\r', "\\r")
}

/// One COPY text-format line of the evidence columns of `e`.
fn copy_line(e: &Ent) -> String {
    let p = e.proof();
    let hashes: Vec<String> = p.hashes.iter().map(|h| format!("\"\\\\\\\\x{}\"", hex::encode(h))).collect();
    [
        copy_bytea(&e.log_id),
        e.log_index.to_string(),
        p.index.to_string(),
        copy_bytea(&e.body),
        p.tree_size.to_string(),
        copy_bytea(&p.root),
        format!("{{{}}}", hashes.join(",")),
        copy_text(e.checkpoint()),
    ]
    .join("\t")
        + "\n"
}

fn copy_rows(c: &mut Client, rows: &[&Ent]) -> Result<u64, postgres::Error> {
    let mut w = c.copy_in(
        "COPY rekor_entries (log_id, log_index, proof_log_index, body, tree_size, root_hash, proof_hashes, checkpoint) FROM STDIN",
    )?;
    for e in rows {
        w.write_all(copy_line(e).as_bytes()).unwrap();
    }
    w.finish()
}

#[test]
fn synthetic_log_entries_insert_directly_and_check_5_rejects_a_body_that_is_not_an_entry() {
    let mut c = fresh_db("ent_synth");
    let log = TestLog::standard();
    log.trust(&mut c);
    let mut ids = Vec::new();
    for i in [0, 1, 2, 3] {
        let id = insert_row(&mut c, &log.ent(i, 8)).unwrap_or_else(|e| panic!("#{i}: {e:?}"));
        assert_verifies(&mut c, id, &format!("#{i}"));
        ids.push(id);
    }
    let r = c.query_one("SELECT kind, api_version, tree_id, integrated_time IS NULL, entry_uuid IS NULL FROM rekor_entries WHERE entry_id = $1", &[&ids[0]]).unwrap();
    assert_eq!(r.get::<_, String>(0), "hashedrekord");
    assert_eq!(r.get::<_, String>(1), "0.0.1");
    assert_eq!(r.get::<_, Option<i64>>(2), None);
    assert!(r.get::<_, bool>(3) && r.get::<_, bool>(4));
    // All four share the one stored checkpoint.
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_checkpoints"), 1);
    assert_eq!(count(&mut c, "SELECT count(DISTINCT checkpoint_id) FROM rekor_entries"), 1);

    // The proof of the non-JSON body is valid: only check 5 can reject it.
    let msg = assert_check(insert_row(&mut c, &log.ent(5, 8)), &[5], "non-JSON body");
    assert_eq!(msg, "check 5 (body): the body is not a Rekor entry");
    // The same at a checkpoint of another size.
    assert_check(insert_row(&mut c, &log.ent(5, 6)), &[5], "non-JSON body at size 6");

    // A JSON body that is not an entry, and kind / api_version that disagree with the body.
    let others = vec![
        br#"["kind", "apiVersion", "spec"]"#.to_vec(),
        br#"{"kind":"hashedrekord","apiVersion":"0.0.1"}"#.to_vec(),
        br#"{"kind":"","apiVersion":"0.0.1","spec":{}}"#.to_vec(),
        br#"{"kind":"hashedrekord","apiVersion":"0.0.1","spec":{"data":{"hash":{"algorithm":"sha256","value":"abc"}}}}"#.to_vec(),
    ];
    let bad = TestLog::new("bad.log", [0x33; 32], others.clone());
    bad.trust(&mut c);
    for i in 0..others.len() {
        assert_check(insert_row(&mut c, &bad.ent(i, others.len())), &[5], &format!("bad body {i}"));
    }
    let e6 = log.ent(6, 8);
    for (col, val) in [("kind", "dsse"), ("api_version", "0.0.2")] {
        let q = format!(
            "INSERT INTO rekor_entries (log_id, log_index, proof_log_index, body, tree_size, root_hash, proof_hashes, checkpoint, {col})
             VALUES ($1, 6, 6, $2, 8, $3, $4, $5, $6)"
        );
        let p = e6.proof();
        let msg = assert_check(c.execute(q.as_str(), &[&e6.log_id, &e6.body, &p.root, &p.hashes, &e6.checkpoint(), &val]), &[5], col);
        assert!(msg.contains("disagrees with the body"), "{msg}");
    }
    assert_eq!(entries(&mut c), 4);
}

/// INSERT ... SELECT from a table that keeps body, proof and checkpoint out of line (TOAST): the
/// trigger reads the fetched values (a tampered one is still refused) and the rows stored hold the
/// same bytes as the source.
#[test]
fn insert_select_of_values_stored_out_of_line_is_verified_and_stored_unchanged() {
    let mut c = fresh_db("ent_toast");
    let log = TestLog::standard();
    log.trust(&mut c);
    insert_row(&mut c, &log.ent(0, 8)).unwrap();
    c.batch_execute(
        "CREATE TABLE staged (log_id bytea, log_index bigint, proof_log_index bigint, body bytea, tree_size bigint,
                              root_hash bytea, proof_hashes bytea[], checkpoint text, pad bytea);
         -- EXTERNAL: out of line and uncompressed once the toaster runs; it runs only for a row over
         -- TOAST_TUPLE_THRESHOLD (about 2 kB), hence the in-line (PLAIN) pad, and then moves values out
         -- until the row is under toast_tuple_target.
         ALTER TABLE staged ALTER body SET STORAGE EXTERNAL, ALTER proof_hashes SET STORAGE EXTERNAL,
                            ALTER checkpoint SET STORAGE EXTERNAL, ALTER pad SET STORAGE PLAIN,
                            SET (toast_tuple_target = 128)",
    )
    .unwrap();
    for i in 1..5usize {
        let e = log.ent(i, 8);
        let p = e.proof();
        let mut hashes = p.hashes.clone();
        if i == 4 {
            flip_byte(&mut hashes[0], 3);
        }
        c.execute(
            "INSERT INTO staged VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[&e.log_id, &(e.log_index as i64), &(p.index as i64), &e.body, &(p.tree_size as i64), &p.root, &hashes, &e.checkpoint(), &vec![0u8; 2200]],
        )
        .unwrap();
    }
    // The values are out of line: at least body, proof and checkpoint of each row are in the TOAST table.
    let toast: String = c.query_one("SELECT reltoastrelid::regclass::text FROM pg_class WHERE relname = 'staged'", &[]).unwrap().get(0);
    assert!(count(&mut c, &format!("SELECT count(DISTINCT chunk_id) FROM {toast}")) >= 12, "values stored out of line");
    let cols = "log_id, log_index, proof_log_index, body, tree_size, root_hash, proof_hashes, checkpoint";
    assert_check(
        c.execute(format!("INSERT INTO rekor_entries ({cols}) SELECT {cols} FROM staged ORDER BY log_index").as_str(), &[]),
        &[2],
        "INSERT ... SELECT with a tampered out-of-line proof",
    );
    assert_eq!(entries(&mut c), 1, "nothing of the failed statement is stored");
    let n = c
        .execute(format!("INSERT INTO rekor_entries ({cols}) SELECT {cols} FROM staged WHERE log_index < 4 ORDER BY log_index").as_str(), &[])
        .unwrap();
    assert_eq!(n, 3);
    let same = count(
        &mut c,
        "SELECT count(*) FROM rekor_entries e JOIN staged s USING (log_id, log_index)
         WHERE e.body = s.body AND e.proof_hashes = s.proof_hashes AND e.checkpoint = s.checkpoint
           AND rekor_verify_inclusion(e.entry_id)",
    );
    assert_eq!(same, 3, "the stored rows are the source's bytes and verify");
}

#[test]
fn insert_select_and_copy_cannot_bypass_the_trigger() {
    let mut c = fresh_db("ent_copy");
    let log = TestLog::standard();
    log.trust(&mut c);
    insert_row(&mut c, &log.ent(0, 8)).unwrap();

    // INSERT ... SELECT of a good and a tampered row: the statement fails as a whole.
    c.batch_execute(
        "CREATE TEMP TABLE staged (log_id bytea, log_index bigint, proof_log_index bigint, body bytea, leaf_hash bytea,
                                   tree_size bigint, root_hash bytea, proof_hashes bytea[], checkpoint text,
                                   kind text, api_version text)",
    )
    .unwrap();
    for (i, e) in [log.ent(1, 8), log.ent(2, 8)].iter().enumerate() {
        let p = e.proof();
        let mut root = p.root.clone();
        if i == 1 {
            flip_byte(&mut root, 0);
        }
        c.execute(
            "INSERT INTO staged (log_id, log_index, proof_log_index, body, leaf_hash, tree_size, root_hash, proof_hashes, checkpoint, kind, api_version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'hashedrekord', '0.0.1')",
            &[&e.log_id, &(e.log_index as i64), &(p.index as i64), &e.body, &merkle::leaf_hash(&e.body).to_vec(), &(p.tree_size as i64), &root, &p.hashes, &e.checkpoint()],
        )
        .unwrap();
    }
    let cols = "log_id, log_index, proof_log_index, body, leaf_hash, tree_size, root_hash, proof_hashes, checkpoint, kind, api_version";
    let q = format!("INSERT INTO rekor_entries ({cols}) SELECT {cols} FROM staged ORDER BY log_index");
    assert_check(c.execute(q.as_str(), &[]), &[2], "INSERT ... SELECT with a flipped root");
    assert_eq!(entries(&mut c), 1, "nothing of the failed statement is stored");
    // A forged leaf_hash in the staged row is caught by check 1.
    c.execute("UPDATE staged SET root_hash = (SELECT root_hash FROM staged WHERE log_index = 1), leaf_hash = sha256('forged') WHERE log_index = 2", &[]).unwrap();
    assert_check(c.execute(q.as_str(), &[]), &[1], "INSERT ... SELECT with a forged leaf_hash");
    c.execute("UPDATE staged SET leaf_hash = NULL", &[]).unwrap();
    assert_eq!(c.execute(q.as_str(), &[]).unwrap(), 2);
    assert_eq!(entries(&mut c), 3);

    // COPY FROM STDIN (text format): good rows are verified and stored ...
    assert_eq!(copy_rows(&mut c, &[&log.ent(3, 8), &log.ent(4, 7)]).unwrap(), 2);
    assert_eq!(entries(&mut c), 5);
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_entries WHERE kind = 'hashedrekord' AND cardinality(digest_keys) = 1"), 5);
    // ... a tampered row fails the whole COPY.
    let mut t = log.ent(6, 8);
    flip_byte(&mut t.proof_mut().root, 31);
    assert_check(copy_rows(&mut c, &[&log.ent(7, 8), &t]), &[2], "COPY with a flipped root");
    let mut t = log.ent(6, 8);
    flip_byte(&mut t.proof_mut().hashes[1], 3);
    assert_check(copy_rows(&mut c, &[&t]), &[2], "COPY with a flipped proof hash");
    let mut t = log.ent(6, 8);
    t.proof_mut().checkpoint = Some(tamper_signature(t.checkpoint(), TEST_LOG, true));
    assert_check(copy_rows(&mut c, &[&t]), &[3], "COPY with a bad checkpoint signature");
    assert_check(copy_rows(&mut c, &[&log.ent(5, 8)]), &[5], "COPY of the non-JSON body");
    assert_eq!(entries(&mut c), 5);
    for id in c.query("SELECT entry_id FROM rekor_entries", &[]).unwrap().iter().map(|r| r.get::<_, i64>(0)).collect::<Vec<_>>() {
        assert_verifies(&mut c, id, "stored row");
    }
}

#[test]
fn checkpoints_of_another_origin_key_or_a_forked_tree_are_rejected() {
    let mut c = fresh_db("ent_synth_cp");
    let log = TestLog::standard();
    log.trust(&mut c);
    insert_row(&mut c, &log.ent(0, 8)).unwrap();

    // Signed by the log's key, but for another origin.
    let mut e = log.ent(1, 8);
    let note = log.signer.sign_note(&checkpoint_text("other.log", 8, &log.tree.root(8), &[]));
    e.proof_mut().checkpoint = Some(note);
    let msg = assert_check(insert_row(&mut c, &e), &[3], "origin of another log");
    assert!(msg.contains("origin"), "{msg}");
    // Signed by another key under the log's name.
    let mut e = log.ent(1, 8);
    let impostor = Ed25519Signer::new(TEST_LOG, [0x77; 32]);
    e.proof_mut().checkpoint = Some(impostor.checkpoint(TEST_LOG, 8, &log.tree.root(8)));
    assert_check(insert_row(&mut c, &e), &[3], "checkpoint of another key");
    // A checkpoint of another size than the proof's (both valid).
    let mut e = log.ent(1, 8);
    e.proof_mut().checkpoint = Some(log.checkpoint(7));
    assert_check(insert_row(&mut c, &e), &[3], "checkpoint of another size");

    // A fork: the same size with another root, signed by the log, contradicts the stored checkpoint.
    let forked = TestLog::new(TEST_LOG, TEST_SEED, {
        let mut b = log.bodies.clone();
        b[7] = hashedrekord_body("forked");
        b
    });
    let (code, msg, detail) = db_error(insert_row(&mut c, &forked.ent(1, 8)));
    assert_eq!(code, "23514", "{msg}");
    assert!(msg.starts_with("log fork"), "{msg}");
    assert!(detail.contains(&hex::encode(log.tree.root(8))) && detail.contains(&hex::encode(forked.tree.root(8))), "{detail}");
    // Through the bundle ingest the same.
    let (code, msg, _) = db_error(ingest_bundle(&mut c, &forked.ent(2, 8).bundle()));
    assert_eq!(code, "23514");
    assert!(msg.starts_with("log fork"), "{msg}");
    assert_eq!(entries(&mut c), 1);
    // The log's own tree at another size is a second checkpoint, not a fork.
    let id = insert_row(&mut c, &log.ent(1, 7)).unwrap();
    assert_verifies(&mut c, id, "another size of the same tree");
    assert_eq!(entries(&mut c), 2);
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_checkpoints"), 2);
}

#[test]
fn updates_are_refused_to_non_owners_and_re_verified_for_the_owner() {
    let mut c = fresh_db("ent_update");
    let log = TestLog::standard();
    log.trust(&mut c);
    let id0 = insert_row(&mut c, &log.ent(0, 8)).unwrap();
    let id1 = insert_row(&mut c, &log.ent(1, 8)).unwrap();

    let user = unique_role("rekor_entries_user");
    let admin = unique_role("rekor_entries_superuser");
    c.batch_execute(&format!(
        "CREATE ROLE {user} NOLOGIN;
         GRANT USAGE ON SCHEMA public TO {user};
         GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA public TO {user};
         CREATE ROLE {admin} NOLOGIN SUPERUSER;"
    ))
    .unwrap();
    let refused = [
        "UPDATE rekor_entries SET inserted_at = inserted_at",
        "UPDATE rekor_entries SET root_hash = root_hash WHERE log_index = 0",
        "UPDATE rekor_entries SET log_index = log_index + 100",
        "DELETE FROM rekor_entries WHERE log_index = 1",
        "DELETE FROM rekor_entries",
        "TRUNCATE rekor_entries CASCADE",
    ];
    for (n, role) in [&user, &admin].into_iter().enumerate() {
        c.batch_execute(&format!("SET ROLE {role}")).unwrap();
        assert!(!c.query_one("SELECT rekor_is_extension_owner()", &[]).unwrap().get::<_, bool>(0));
        for q in refused {
            let (code, msg, _) = db_error(c.execute(q, &[]));
            assert_eq!(code, "42501", "{role}: {q}: {msg}");
            assert!(msg.contains("append-only"), "{role}: {q}: {msg}");
        }
        // Appending verified entries is allowed to them; tampered ones are rejected as for anyone.
        let id = insert_row(&mut c, &log.ent(2 + n, 8)).unwrap_or_else(|e| panic!("{role}: {e:?}"));
        assert_verifies(&mut c, id, role);
        let mut t = log.ent(4, 8);
        flip_byte(&mut t.proof_mut().root, 1);
        assert_check(insert_row(&mut c, &t), &[2], role);
        c.batch_execute("RESET ROLE").unwrap();
    }
    assert_eq!(entries(&mut c), 4);

    // The owner's UPDATE is re-verified: a no-op passes, tampering is rejected.
    assert!(c.query_one("SELECT rekor_is_extension_owner()", &[]).unwrap().get::<_, bool>(0));
    assert_eq!(c.execute("UPDATE rekor_entries SET inserted_at = inserted_at - interval '1 day'", &[]).unwrap(), 4);
    let other_body = hashedrekord_body("other");
    let other_cp = log.signer.sign_note(&checkpoint_text("other.log", 8, &log.tree.root(8), &[]));
    let other_log = TestLog::new("other.log", [0x44; 32], log.bodies.clone());
    other_log.trust(&mut c);
    let other_log_id = other_log.signer.log_id().to_vec();
    let tampering: Vec<(&str, Vec<&(dyn postgres::types::ToSql + Sync)>, usize)> = vec![
        ("UPDATE rekor_entries SET body = $2 WHERE entry_id = $1", vec![&id0, &other_body], 1),
        ("UPDATE rekor_entries SET leaf_hash = sha256('x') WHERE entry_id = $1", vec![&id0], 1),
        ("UPDATE rekor_entries SET entry_uuid = encode(sha256('x'), 'hex') WHERE entry_id = $1", vec![&id0], 1),
        ("UPDATE rekor_entries SET root_hash = set_byte(root_hash, 0, get_byte(root_hash, 0) # 1) WHERE entry_id = $1", vec![&id0], 2),
        ("UPDATE rekor_entries SET proof_hashes = proof_hashes[2:] WHERE entry_id = $1", vec![&id0], 2),
        ("UPDATE rekor_entries SET proof_log_index = 1 WHERE entry_id = $1", vec![&id0], 2),
        ("UPDATE rekor_entries SET tree_size = 9 WHERE entry_id = $1", vec![&id0], 2),
        ("UPDATE rekor_entries SET checkpoint = $2 WHERE entry_id = $1", vec![&id0, &other_cp], 3),
        ("UPDATE rekor_entries SET kind = 'dsse' WHERE entry_id = $1", vec![&id0], 5),
        ("UPDATE rekor_entries SET tree_id = 5 WHERE entry_id = $1", vec![&id0], 3),
        ("UPDATE rekor_entries SET log_index = 77 WHERE entry_id = $1", vec![&id0], 4),
        ("UPDATE rekor_entries SET log_id = $2 WHERE entry_id = $1", vec![&id0, &other_log_id], 3),
        ("UPDATE rekor_entries SET body = $2, leaf_hash = NULL WHERE entry_id = $1", vec![&id1, &other_body], 2),
    ];
    for (q, params, check) in tampering {
        assert_check(c.execute(q, &params), &[check], q);
    }
    // Nothing changed: every row still verifies.
    for id in [id0, id1] {
        assert_verifies(&mut c, id, "after refused updates");
    }
    c.batch_execute(&format!("DROP OWNED BY {user}; DROP ROLE {user}; DROP ROLE {admin};")).unwrap();
}

#[test]
fn the_report_shows_which_check_a_stored_row_no_longer_passes() {
    let mut c = fresh_db("ent_report");
    let log = TestLog::standard();
    log.trust(&mut c);
    let id = insert_row(&mut c, &log.ent(3, 8)).unwrap();
    assert_verifies(&mut c, id, "stored");
    // Only the owner can reach the stored bytes without the trigger (here: by disabling it).
    c.batch_execute(
        "ALTER TABLE rekor_entries DISABLE TRIGGER rekor_entries_verify;
         UPDATE rekor_entries SET root_hash = set_byte(root_hash, 5, get_byte(root_hash, 5) # 1);
         ALTER TABLE rekor_entries ENABLE TRIGGER rekor_entries_verify;",
    )
    .unwrap();
    // rekor_verify_inclusion: a check_violation naming the first failed check, values in DETAIL.
    let (code, msg, detail) = db_error(c.query_one("SELECT rekor_verify_inclusion($1)", &[&id]));
    assert_eq!(code, "23514");
    assert!(msg.starts_with(&format!("entry {id} does not verify: check 2 (inclusion proof)")), "{msg}");
    assert!(!detail.is_empty(), "{msg}: no DETAIL");
    let passed: Vec<bool> = c
        .query("SELECT passed FROM rekor_verify_inclusion_report($1) ORDER BY step", &[&id])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    // Steps 0-7: key validity, leaf, proof (fails), checkpoint (fails: another root), SET, index, time,
    // signing time (0.4.0).
    assert_eq!(passed, vec![true, true, false, false, true, true, true, true]);
    let (code, _, _) = db_error(c.query_one("SELECT rekor_verify_inclusion(-1)", &[]));
    assert_eq!(code, "22023");
}

// ---------------------------------------------------------------------------------------------
// 4. Idempotent ingest

#[test]
fn ingest_is_idempotent_and_one_log_index_holds_one_entry() {
    let mut c = db_with_fixture_logs("ent_idem");
    let e = fixture_entry(V1);
    let id = one(ingest_bundle(&mut c, &e.bundle()).unwrap(), "first");
    let at: String = c.query_one("SELECT inserted_at::text FROM rekor_entries", &[]).unwrap().get(0);
    assert_eq!(one(ingest_bundle(&mut c, &e.bundle()).unwrap(), "second"), id);
    assert_eq!(one(ingest_rest(&mut c, &e.rest()).unwrap(), "REST"), id);
    assert_eq!(one(ingest_rest(&mut c, &e.rest_with_uuid(&e.uuid80().unwrap())).unwrap(), "REST 80"), id);
    assert_eq!(entries(&mut c), 1);
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_checkpoints"), 1);
    let at2: String = c.query_one("SELECT inserted_at::text FROM rekor_entries", &[]).unwrap().get(0);
    assert_eq!(at, at2, "the stored row is unchanged");
    // The stored entry again with tampered evidence is not "the same entry": it is verified and refused.
    let mut t = e.clone();
    flip_byte(&mut t.proof_mut().root, 3);
    assert_check(ingest_bundle(&mut c, &t.bundle()), &[2], "stored entry, root flipped");
    let mut t = e.clone();
    flip_byte(t.set.as_mut().unwrap(), 20);
    assert_check(ingest_rest(&mut c, &t.rest()), &[4], "stored entry, SET flipped");
    let mut t = e.clone();
    t.proof_mut().checkpoint = Some(tamper_signature(e.checkpoint(), "rekor.sigstore.dev", true));
    assert_check(ingest_bundle(&mut c, &t.bundle()), &[3], "stored entry, checkpoint signature");
    // A bundle is ingested all or nothing: a bad second entry leaves the good first one unstored.
    let good = fixture_entry(V1_STAGING);
    let mut bad = fixture_entry(V1_OLD_SHARD);
    flip_byte(&mut bad.proof_mut().hashes[2], 9);
    let mixed = json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": { "tlogEntries": [good.tlog(), bad.tlog()] },
    });
    assert_check(ingest_bundle(&mut c, &mixed), &[2], "bundle with a bad second entry");
    assert_eq!(entries(&mut c), 1);
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_checkpoints"), 1);

    // A bundle with two entries: both stored, in order; again: the same ids.
    let other = fixture_entry(V2);
    let two = json!({
        "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.2",
        "verificationMaterial": { "tlogEntries": [other.tlog(), e.tlog()] },
    });
    let ids = ingest_bundle(&mut c, &two).unwrap();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[1], id);
    assert_eq!(ingest_bundle(&mut c, &two).unwrap(), ids);
    assert_eq!(entries(&mut c), 2);

    // The synthetic log: another body at a stored log index is rejected.
    let log = TestLog::standard();
    log.trust(&mut c);
    let first = one(ingest_bundle(&mut c, &log.ent(0, 8).bundle()).unwrap(), "synthetic #0");
    let mut bodies = log.bodies.clone();
    bodies[0] = hashedrekord_body("another entry at index 0");
    bodies.push(hashedrekord_body("t8"));
    let rival = TestLog::new(TEST_LOG, TEST_SEED, bodies);
    // Its evidence is valid (size 9 was never stored: no fork) ...
    let r = rival.ent(0, 9);
    let (code, msg, detail) = db_error(ingest_bundle(&mut c, &r.bundle()));
    assert_eq!(code, "23514", "{msg}");
    assert_eq!(msg, "another entry is stored at this log index", "{detail}");
    // ... and through the REST shape too.
    let (code, msg, _) = db_error(ingest_rest(&mut c, &r.rest()));
    assert_eq!((code.as_str(), msg.as_str()), ("23514", "another entry is stored at this log index"));
    // A direct INSERT at the index is refused by the unique key.
    assert_eq!(sqlstate(insert_row(&mut c, &r)), "23505");
    assert_eq!(one(ingest_bundle(&mut c, &log.ent(0, 8).bundle()).unwrap(), "synthetic #0 again"), first);
    assert_eq!(entries(&mut c), 3);
}

#[test]
fn a_rekor_v2_log_index_must_be_the_proof_index() {
    // Rekor v2 has no SET and no shards: nothing but the proof index can bind the log index.
    let mut c = db_with_fixture_logs("ent_v2_index");
    let e = fixture_entry(V2);
    let mut t = e.clone();
    t.log_index += 1000;
    let msg = assert_check(ingest_bundle(&mut c, &t.bundle()), &[4], "v2 log index changed");
    assert!(msg.contains("log index"), "{msg}");
    assert_eq!(entries(&mut c), 0);
    // A Rekor v1 entry stripped of its SET cannot show its global index: 0.3.0 stores it (its proof
    // and checkpoint verify, as sigstore-go accepts) flagged as not authenticated.
    let mut t = fixture_entry(V1);
    t.set = None;
    let stripped = one(ingest_bundle(&mut c, &t.bundle()).unwrap(), "v1 entry without its SET");
    let auth: bool = c.query_one("SELECT log_index_authenticated FROM rekor_entries WHERE entry_id = $1", &[&stripped]).unwrap().get(0);
    assert!(!auth, "v1 entry without its SET: the global index is not authenticated");
    let id = one(ingest_bundle(&mut c, &e.bundle()).unwrap(), "v2");
    assert_verifies(&mut c, id, "v2");
    let auth: bool = c.query_one("SELECT log_index_authenticated FROM rekor_entries WHERE entry_id = $1", &[&id]).unwrap().get(0);
    assert!(auth, "a single-tree log's index is the proof's index");
}

#[test]
fn an_unsigned_integrated_time_does_not_choose_the_key_validity_window() {
    // A retired Rekor v2 style key: valid only in 2020. An entry without a SET has no signed time,
    // so a time inside the window written into integrated_time must not make it pass.
    let mut c = fresh_db("ent_unsigned_time");
    let log = TestLog::standard();
    c.execute(
        "SELECT rekor_add_log($1, $2, NULL, '2020-01-01', '2021-01-01')",
        &[&log.signer.spki_b64(), &log.signer.name],
    )
    .unwrap();
    let mut e = log.ent(0, 8);
    let (code, msg, _) = db_error(insert_row(&mut c, &e));
    assert_eq!(code, "23514");
    assert!(msg.starts_with("log key is not valid"), "{msg}");
    e.integrated_time = Some(1_590_000_000); // 2020-05-20
    let (code, msg, _) = db_error(insert_row(&mut c, &e));
    assert_eq!(code, "23514", "{msg}");
    assert_eq!(entries(&mut c), 0);
}

// ---------------------------------------------------------------------------------------------
// 5. Digest search

fn by_digest(c: &mut Client, alg: &str, digest: &[u8]) -> Vec<i64> {
    c.query("SELECT entry_id FROM rekor_entries_by_digest($1, $2)", &[&alg, &digest])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

#[test]
fn entries_are_found_by_the_digests_their_bodies_carry() {
    let mut c = db_with_fixture_logs("ent_digest");
    let mut found = BTreeSet::new();
    for e in provable_entries() {
        let id = one(ingest_bundle(&mut c, &e.bundle()).unwrap(), &e.id);
        let body: Value = serde_json::from_slice(&e.body).unwrap();
        let spec = &body["spec"];
        let mut digests: Vec<(String, Vec<u8>, &str)> = Vec::new();
        match (e.kind.as_str(), e.kind_version.as_str()) {
            ("hashedrekord", "0.0.1") => {
                let h = &spec["data"]["hash"];
                digests.push((s(&h["algorithm"]).into(), hexd(&h["value"]), "artifact"));
            }
            ("hashedrekord", "0.0.2") => {
                let d = &spec["hashedRekordV002"]["data"];
                digests.push((s(&d["algorithm"]).into(), b64d(&d["digest"]), "artifact"));
            }
            ("dsse", "0.0.1") => {
                digests.push((s(&spec["payloadHash"]["algorithm"]).into(), hexd(&spec["payloadHash"]["value"]), "payload"));
                digests.push((s(&spec["envelopeHash"]["algorithm"]).into(), hexd(&spec["envelopeHash"]["value"]), "envelope"));
            }
            ("intoto", _) => {
                let ct = &spec["content"];
                digests.push((s(&ct["hash"]["algorithm"]).into(), hexd(&ct["hash"]["value"]), "envelope"));
                digests.push((s(&ct["payloadHash"]["algorithm"]).into(), hexd(&ct["payloadHash"]["value"]), "payload"));
            }
            other => panic!("{}: unexpected kind {other:?}", e.id),
        }
        for (alg, d, role) in digests {
            let hits = by_digest(&mut c, &alg, &d);
            assert!(hits.contains(&id), "{} {role} {alg}:{}: {hits:?}", e.id, hex::encode(&d));
            // The algorithm is matched in any of Rekor's spellings ("sha384", "SHA2_384", "SHA-384").
            let digits: String = alg.chars().filter(char::is_ascii_digit).collect();
            let bits = digits[digits.len() - 3..].to_string();
            assert_eq!(by_digest(&mut c, &format!("SHA2_{bits}"), &d), hits, "{} {alg}", e.id);
            assert_eq!(by_digest(&mut c, &format!("SHA-{bits}"), &d), hits, "{} {alg}", e.id);
            // A digest is not found under another algorithm.
            let other = if bits == "512" { "sha256" } else { "sha512" };
            assert!(by_digest(&mut c, other, &d).is_empty(), "{} {alg}", e.id);
            let listed: i64 = c
                .query_one("SELECT count(*) FROM rekor_body_digests($1) WHERE role = $2 AND digest = $3", &[&e.body, &role, &d])
                .unwrap()
                .get(0);
            assert_eq!(listed, 1, "{} {role}", e.id);
            found.insert(format!("{} {role}", e.kind));
        }
    }
    for want in ["hashedrekord artifact", "dsse payload", "dsse envelope", "intoto payload"] {
        assert!(found.contains(want), "{want} not covered: {found:?}");
    }
    assert!(by_digest(&mut c, "sha256", &Sha256::digest(b"no such artifact")).is_empty());
    assert!(by_digest(&mut c, "sha256", &[]).is_empty());
    for alg in ["md5", "sha1", "", "sha3-256"] {
        let (code, msg, _) = db_error(c.query("SELECT * FROM rekor_entries_by_digest($1, $2)", &[&alg, &vec![0u8; 32]]));
        assert_eq!(code, "22023", "{alg:?}: {msg}");
        assert!(msg.contains("digest algorithm"), "{msg}");
    }
}

#[test]
fn synthetic_entries_are_found_by_their_artifact_digest() {
    let mut c = fresh_db("ent_digest_synth");
    let log = TestLog::standard();
    log.trust(&mut c);
    let ids: Vec<i64> = (0..4).map(|i| insert_row(&mut c, &log.ent(i, 8)).unwrap()).collect();
    for (i, id) in ids.iter().enumerate() {
        assert_eq!(by_digest(&mut c, "sha256", &artifact_digest(&format!("t{i}"))), vec![*id]);
    }
    assert!(by_digest(&mut c, "sha256", &artifact_digest("t4")).is_empty(), "entry 4 is not stored");
}

// ---------------------------------------------------------------------------------------------
// 6. Malformed JSON: 22023 naming the path

fn assert_json_error(c: &mut Client, function: &str, doc: &Value, path: &str, what: &str, case: &str) {
    let (code, msg, _) = db_error(ingest(c, function, doc));
    assert_eq!(code, "22023", "{case}: {msg}");
    assert!(msg.starts_with("invalid Rekor entry: "), "{case}: {msg}");
    assert!(msg.contains(&format!("{path}: ")), "{case}: path {path} not in {msg:?}");
    assert!(msg.contains(what), "{case}: {what:?} not in {msg:?}");
}

#[test]
fn malformed_bundles_raise_22023_naming_the_json_path() {
    let mut c = db_with_fixture_logs("ent_json_bundle");
    let base = fixture_entry(V1).bundle();
    let t = "verificationMaterial.tlogEntries[0]";
    type Edit = Box<dyn Fn(&mut Value)>;
    let cases: Vec<(&str, Edit, String, &str)> = vec![
        ("no treeSize", Box::new(|b| { b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"].as_object_mut().unwrap().remove("treeSize"); }), format!("{t}.inclusionProof.treeSize"), "required field is missing"),
        ("negative logIndex", Box::new(|b| b["verificationMaterial"]["tlogEntries"][0]["logIndex"] = json!("-5")), format!("{t}.logIndex"), "must not be negative"),
        ("logIndex with a leading zero", Box::new(|b| b["verificationMaterial"]["tlogEntries"][0]["logIndex"] = json!("0150603746")), format!("{t}.logIndex"), "expected a decimal string"),
        ("logIndex a boolean", Box::new(|b| b["verificationMaterial"]["tlogEntries"][0]["logIndex"] = json!(true)), format!("{t}.logIndex"), "got boolean"),
        ("treeSize a fraction", Box::new(|b| b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["treeSize"] = json!(1.5)), format!("{t}.inclusionProof.treeSize"), "non-negative integer"),
        ("treeSize beyond int64", Box::new(|b| b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["treeSize"] = json!("9223372036854775808")), format!("{t}.inclusionProof.treeSize"), "int64"),
        ("rootHash not base64", Box::new(|b| b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["rootHash"] = json!("not base64!")), format!("{t}.inclusionProof.rootHash"), "invalid base64"),
        ("a proof hash of 31 bytes", Box::new(|b| b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["hashes"][1] = json!(B64.encode([1u8; 31]))), format!("{t}.inclusionProof.hashes[1]"), "31 bytes"),
        ("hashes an object", Box::new(|b| b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]["hashes"] = json!({})), format!("{t}.inclusionProof.hashes"), "expected an array"),
        ("proof index at the tree size", Box::new(|b| { let p = &mut b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]; p["logIndex"] = p["treeSize"].clone(); }), format!("{t}.inclusionProof.logIndex"), "is not below tree size"),
        ("logId of 16 bytes", Box::new(|b| b["verificationMaterial"]["tlogEntries"][0]["logId"]["keyId"] = json!(B64.encode([7u8; 16]))), format!("{t}.logId.keyId"), "log ID is 16 bytes"),
        ("no logId", Box::new(|b| { b["verificationMaterial"]["tlogEntries"][0].as_object_mut().unwrap().remove("logId"); }), format!("{t}.logId"), "required field is missing"),
        ("no canonicalizedBody", Box::new(|b| { b["verificationMaterial"]["tlogEntries"][0].as_object_mut().unwrap().remove("canonicalizedBody"); }), format!("{t}.canonicalizedBody"), "required field is missing"),
        ("empty canonicalizedBody", Box::new(|b| b["verificationMaterial"]["tlogEntries"][0]["canonicalizedBody"] = json!("")), format!("{t}.canonicalizedBody"), "must not be empty"),
        ("empty SET", Box::new(|b| b["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]["signedEntryTimestamp"] = json!("")), format!("{t}.inclusionPromise.signedEntryTimestamp"), "must not be empty"),
        ("checkpoint a string", Box::new(|b| { let p = &mut b["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]; p["checkpoint"] = p["checkpoint"]["envelope"].clone(); }), format!("{t}.inclusionProof.checkpoint"), "expected an object"),
        ("no tlogEntries", Box::new(|b| { b["verificationMaterial"].as_object_mut().unwrap().remove("tlogEntries"); }), "verificationMaterial.tlogEntries".into(), "required field is missing"),
        ("empty tlogEntries", Box::new(|b| b["verificationMaterial"]["tlogEntries"] = json!([])), "verificationMaterial.tlogEntries".into(), "no log entries"),
        ("no verificationMaterial", Box::new(|b| { b.as_object_mut().unwrap().remove("verificationMaterial"); }), "verificationMaterial".into(), "required field is missing"),
        ("unknown media type", Box::new(|b| b["mediaType"] = json!("application/json")), "mediaType".into(), "unsupported bundle media type"),
        ("no media type", Box::new(|b| { b.as_object_mut().unwrap().remove("mediaType"); }), "mediaType".into(), "required field is missing"),
        ("an array", Box::new(|b| *b = json!([b.clone()])), "$".into(), "got array"),
    ];
    for (name, edit, path, what) in cases {
        let mut doc = base.clone();
        edit(&mut doc);
        assert_json_error(&mut c, "rekor_ingest_bundle", &doc, &path, what, name);
    }
    assert_eq!(entries(&mut c), 0);
    assert_eq!(one(ingest_bundle(&mut c, &base).unwrap(), "untouched"), 1);
}

#[test]
fn malformed_rest_responses_raise_22023_naming_the_json_path() {
    let mut c = db_with_fixture_logs("ent_json_rest");
    let e = fixture_entry(V1);
    let base = e.rest();
    let u = e.uuid.clone();
    let p = format!("[{u:?}]");
    type Edit = Box<dyn Fn(&mut Value)>;
    let k = u.clone();
    let cases: Vec<(&str, Edit, String, &str)> = vec![
        ("negative logIndex", Box::new({ let k = k.clone(); move |b| b[&k]["logIndex"] = json!(-5) }), format!("{p}.logIndex"), "must not be negative"),
        ("logIndex a string", Box::new({ let k = k.clone(); move |b| b[&k]["logIndex"] = json!("150603746") }), format!("{p}.logIndex"), "expected an integer, got string"),
        ("logIndex a fraction", Box::new({ let k = k.clone(); move |b| b[&k]["logIndex"] = json!(1.5) }), format!("{p}.logIndex"), "non-negative integer"),
        ("integratedTime 1e30", Box::new({ let k = k.clone(); move |b| b[&k]["integratedTime"] = json!(1e30) }), format!("{p}.integratedTime"), "int64"),
        ("no body", Box::new({ let k = k.clone(); move |b| { b[&k].as_object_mut().unwrap().remove("body"); } }), format!("{p}.body"), "required field is missing"),
        ("logID not hex", Box::new({ let k = k.clone(); move |b| b[&k]["logID"] = json!("xyz") }), format!("{p}.logID"), "invalid hex"),
        ("logID of 2 bytes", Box::new({ let k = k.clone(); move |b| b[&k]["logID"] = json!("abcd") }), format!("{p}.logID"), "log ID is 2 bytes"),
        ("rootHash not hex", Box::new({ let k = k.clone(); move |b| b[&k]["verification"]["inclusionProof"]["rootHash"] = json!("zz") }), format!("{p}.verification.inclusionProof.rootHash"), "invalid hex"),
        ("rootHash base64", Box::new({ let k = k.clone(); move |b| b[&k]["verification"]["inclusionProof"]["rootHash"] = json!(B64.encode([0u8; 32])) }), format!("{p}.verification.inclusionProof.rootHash"), "invalid hex"),
        ("no hashes", Box::new({ let k = k.clone(); move |b| { b[&k]["verification"]["inclusionProof"].as_object_mut().unwrap().remove("hashes"); } }), format!("{p}.verification.inclusionProof.hashes"), "required field is missing"),
        ("treeSize a string", Box::new({ let k = k.clone(); move |b| b[&k]["verification"]["inclusionProof"]["treeSize"] = json!("28699488") }), format!("{p}.verification.inclusionProof.treeSize"), "expected an integer"),
        ("65 proof hashes", Box::new({ let k = k.clone(); move |b| b[&k]["verification"]["inclusionProof"]["hashes"] = json!(vec![hex::encode([0u8; 32]); 65]) }), format!("{p}.verification.inclusionProof.hashes"), "65 hashes"),
        ("checkpoint a number", Box::new({ let k = k.clone(); move |b| b[&k]["verification"]["inclusionProof"]["checkpoint"] = json!(5) }), format!("{p}.verification.inclusionProof.checkpoint"), "expected a string"),
        ("SET not base64", Box::new({ let k = k.clone(); move |b| b[&k]["verification"]["signedEntryTimestamp"] = json!("***") }), format!("{p}.verification.signedEntryTimestamp"), "invalid base64"),
        ("verification an array", Box::new({ let k = k.clone(); move |b| b[&k]["verification"] = json!([]) }), format!("{p}.verification"), "expected an object"),
        ("entry a string", Box::new({ let k = k.clone(); move |b| b[&k] = json!("entry") }), p.clone(), "expected an object"),
        ("UUID of 10 digits", Box::new({ let k = k.clone(); move |b| { let v = b.as_object_mut().unwrap().remove(&k).unwrap(); b["0123456789"] = v; } }), "[\"0123456789\"]".into(), "64 or 80 hex digits"),
        ("no entries", Box::new(|b| *b = json!({})), "$".into(), "no log entries"),
        ("an array", Box::new(|b| *b = json!([b.clone()])), "$".into(), "got array"),
    ];
    for (name, edit, path, what) in cases {
        let mut doc = base.clone();
        edit(&mut doc);
        assert_json_error(&mut c, "rekor_ingest_entry", &doc, &path, what, name);
    }
    // A bundle is not a REST response, and the other way round.
    let (code, _, _) = db_error(ingest_rest(&mut c, &e.bundle()));
    assert_eq!(code, "22023");
    assert_json_error(&mut c, "rekor_ingest_bundle", &base, "mediaType", "required field is missing", "REST as bundle");
    assert_eq!(entries(&mut c), 0);
    assert_eq!(one(ingest_rest(&mut c, &base).unwrap(), "untouched"), 1);
}

/// Runs `ingest` of `doc` on a second connection while `first` holds the same entry uncommitted;
/// commits `first` once the second is waiting, and returns the second's result.
fn race(db: &str, first: &mut Client, function: &str, doc: &Value) -> (i64, Result<Vec<i64>, postgres::Error>) {
    first.batch_execute("BEGIN").unwrap();
    let id = one(ingest(first, function, doc).unwrap(), "first");
    let mut second = connect_db(db);
    let pid: i32 = second.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    let (function, doc2) = (function.to_string(), doc.clone());
    let handle = std::thread::spawn(move || ingest(&mut second, &function, &doc2));
    // Wait until the second session is blocked behind the first.
    let mut waited = 0;
    loop {
        let waiting: bool = first
            .query_one("SELECT coalesce((SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1), false)", &[&pid])
            .unwrap()
            .get(0);
        if waiting {
            break;
        }
        waited += 1;
        assert!(waited < 500, "the second session never waited");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    first.batch_execute("COMMIT").unwrap();
    (id, handle.join().unwrap())
}

#[test]
fn concurrent_ingest_of_one_entry_is_idempotent_too() {
    let mut c = db_with_fixture_logs("ent_race");
    let db: String = c.query_one("SELECT current_database()", &[]).unwrap().get(0);
    for (function, doc) in [("rekor_ingest_bundle", fixture_entry(V1).bundle()), ("rekor_ingest_entry", fixture_entry(V2).rest())] {
        let (id, second) = race(&db, &mut c, function, &doc);
        let ids = second.unwrap_or_else(|e| panic!("{function}: the second session failed: {e:?}"));
        assert_eq!(ids, vec![id], "{function}");
    }
    assert_eq!(entries(&mut c), 2);
    // Another entry at the same index, racing: rejected as when sequential.
    let log = TestLog::standard();
    log.trust(&mut c);
    let mut bodies = log.bodies.clone();
    bodies[0] = hashedrekord_body("rival");
    let rival = TestLog::new(TEST_LOG, TEST_SEED, bodies);
    c.batch_execute("BEGIN").unwrap();
    ingest_bundle(&mut c, &log.ent(0, 8).bundle()).unwrap();
    let mut second = connect_db(&db);
    let doc = rival.ent(0, 7).bundle();
    let handle = std::thread::spawn(move || ingest_bundle(&mut second, &doc));
    std::thread::sleep(std::time::Duration::from_millis(300));
    c.batch_execute("COMMIT").unwrap();
    let (code, msg, _) = db_error(handle.join().unwrap());
    assert_eq!(code, "23514", "{msg}");
    assert_eq!(msg, "another entry is stored at this log index");
    assert_eq!(entries(&mut c), 3);
}

#[test]
fn the_writer_role_ingests_and_the_reader_role_only_reads() {
    let mut c = db_with_fixture_logs("ent_roles");
    let writer = unique_role("rekor_entries_writer");
    let reader = unique_role("rekor_entries_reader");
    c.batch_execute(&format!(
        "CREATE ROLE {writer} NOLOGIN IN ROLE rekor_writer; CREATE ROLE {reader} NOLOGIN IN ROLE rekor_reader;"
    ))
    .unwrap();
    let e = fixture_entry(V1);
    c.batch_execute(&format!("SET ROLE {reader}")).unwrap();
    assert_eq!(sqlstate(ingest_bundle(&mut c, &e.bundle())), "42501");
    c.batch_execute(&format!("RESET ROLE; SET ROLE {writer}")).unwrap();
    let id = one(ingest_bundle(&mut c, &e.bundle()).unwrap(), "writer");
    assert_eq!(one(ingest_rest(&mut c, &e.rest()).unwrap(), "writer again"), id);
    let mut t = fixture_entry(V2);
    flip_byte(&mut t.proof_mut().root, 0);
    assert_check(ingest_bundle(&mut c, &t.bundle()), &[2], "writer, tampered");
    for q in ["UPDATE rekor_entries SET inserted_at = now()", "DELETE FROM rekor_entries", "TRUNCATE rekor_entries CASCADE"] {
        assert_eq!(sqlstate(c.execute(q, &[])), "42501", "writer: {q}");
    }
    c.batch_execute(&format!("RESET ROLE; SET ROLE {reader}")).unwrap();
    assert_verifies(&mut c, id, "reader");
    assert_eq!(by_digest(&mut c, "sha256", &{
        let body: Value = serde_json::from_slice(&e.body).unwrap();
        hexd(&body["spec"]["data"]["hash"]["value"])
    }), vec![id]);
    c.batch_execute(&format!("RESET ROLE; DROP ROLE {writer}; DROP ROLE {reader};")).unwrap();
}

#[test]
fn integrated_times_beyond_what_postgresql_stores_are_refused_with_22023() {
    let mut c = db_with_fixture_logs("ent_itime");
    let e = fixture_entry(V1);
    let mut rest = e.rest();
    rest[&e.uuid]["integratedTime"] = json!(1_000_000_000_000_000i64);
    let mut bundle = e.bundle();
    bundle["verificationMaterial"]["tlogEntries"][0]["integratedTime"] = json!("9223372036854775807");
    for (function, doc) in [("rekor_ingest_entry", rest), ("rekor_ingest_bundle", bundle)] {
        let (code, msg, _) = db_error(ingest(&mut c, function, &doc));
        assert_eq!(code, "22023", "{function}: {msg}");
        assert!(msg.starts_with("invalid Rekor entry: integratedTime"), "{function}: {msg}");
    }
    assert_eq!(entries(&mut c), 0);
}

#[test]
fn one_leaf_is_stored_once_per_log() {
    // A log that (unlike Rekor) logged the same body twice: the second copy is refused.
    let mut c = fresh_db("ent_dup_leaf");
    let body = hashedrekord_body("twice");
    let log = TestLog::new(TEST_LOG, TEST_SEED, vec![body.clone(), hashedrekord_body("between"), body]);
    log.trust(&mut c);
    let first = one(ingest_bundle(&mut c, &log.ent(0, 3).bundle()).unwrap(), "first copy");
    let (code, msg, _) = db_error(ingest_bundle(&mut c, &log.ent(2, 3).bundle()));
    assert_eq!(code, "23505", "{msg}");
    assert_eq!(msg, "this entry is already stored at another log index");
    assert_eq!(sqlstate(insert_row(&mut c, &log.ent(2, 3))), "23505");
    assert_eq!(one(ingest_bundle(&mut c, &log.ent(0, 3).bundle()).unwrap(), "first again"), first);
    assert_eq!(entries(&mut c), 1);
}

fn bundle_proof(v: &mut Value) -> &mut Value {
    &mut v["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
}

fn bundle_entry(v: &mut Value) -> &mut Value {
    &mut v["verificationMaterial"]["tlogEntries"][0]
}

#[test]
fn odd_entries_never_crash_the_backend() {
    let mut c = db_with_fixture_logs("ent_odd");
    let started = postmaster_start(&mut c);
    let e = fixture_entry(V1);
    type Edit = Box<dyn Fn(&mut Value)>;
    let u = e.uuid.clone();
    let cases: Vec<(&str, Edit)> = vec![
        ("treeSize max", Box::new(|d| bundle_proof(d)["treeSize"] = json!("9223372036854775807"))),
        ("index and size max", Box::new(|d| {
            bundle_proof(d)["treeSize"] = json!("9223372036854775807");
            bundle_proof(d)["logIndex"] = json!("9223372036854775806");
        })),
        ("64 hashes", Box::new(|d| bundle_proof(d)["hashes"] = json!(vec![B64.encode([1u8; 32]); 64]))),
        ("65 hashes", Box::new(|d| bundle_proof(d)["hashes"] = json!(vec![B64.encode([1u8; 32]); 65]))),
        ("no hashes", Box::new(|d| {
            bundle_proof(d).as_object_mut().unwrap().remove("hashes");
        })),
        ("logIndex max", Box::new(|d| bundle_entry(d)["logIndex"] = json!("9223372036854775807"))),
        ("1 MiB checkpoint", Box::new(|d| bundle_proof(d)["checkpoint"]["envelope"] = json!("a\n".repeat(1 << 19)))),
        ("checkpoint with control characters", Box::new(|d| bundle_proof(d)["checkpoint"]["envelope"] = json!("\u{1}\n1\n\n"))),
        ("body of 1 MiB", Box::new(|d| bundle_entry(d)["canonicalizedBody"] = json!(B64.encode(vec![b'{'; 1 << 20])))),
        ("body of deep JSON", Box::new(|d| {
            let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
            bundle_entry(d)["canonicalizedBody"] = json!(B64.encode(deep))
        })),
        ("1000 entries", Box::new(|d| {
            let one = bundle_entry(d).clone();
            d["verificationMaterial"]["tlogEntries"] = json!(vec![one; 1000]);
        })),
        ("1001 entries", Box::new(|d| {
            let one = bundle_entry(d).clone();
            d["verificationMaterial"]["tlogEntries"] = json!(vec![one; 1001]);
        })),
        ("REST UUID in upper case", Box::new(move |d| {
            let v = d.as_object_mut().unwrap().remove(&u).unwrap();
            d[u.to_uppercase()] = v;
        })),
    ];
    for (name, edit) in cases {
        let (function, mut doc) =
            if name.starts_with("REST") { ("rekor_ingest_entry", e.rest()) } else { ("rekor_ingest_bundle", e.bundle()) };
        edit(&mut doc);
        match ingest(&mut c, function, &doc) {
            Ok(ids) => assert!(!ids.is_empty(), "{name}"),
            Err(err) => {
                let code = err.as_db_error().map(|d| d.code().code().to_string()).unwrap_or_else(|| panic!("{name}: {err}"));
                assert!(code == "22023" || code == "23514", "{name}: SQLSTATE {code}: {err:?}");
            }
        }
        assert_eq!(postmaster_start(&mut c), started, "backend crash after {name}");
    }
    // The 1000 copies and the upper-case UUID are the one entry: stored once, UUID lowercased.
    assert_eq!(entries(&mut c), 1);
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_entries WHERE entry_uuid IS NULL OR entry_uuid = lower(entry_uuid)"), 1);
}

// ---------------------------------------------------------------------------------------------
// Bulk re-verification: rekor_verify_all() and the documented count query, in parallel workers

/// A connection to `db` that keeps every server notice (auto_explain's plans arrive as LOG notices).
fn connect_with_notices(db: &str) -> (Client, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let notices = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = notices.clone();
    let c = conninfo(db)
        .parse::<postgres::Config>()
        .unwrap()
        .notice_callback(move |n| sink.lock().unwrap().push(n.message().to_string()))
        .connect(postgres::NoTls)
        .unwrap();
    (c, notices)
}

/// Forces parallel plans even on a table this small, and logs every plan with its worker counts.
const PARALLEL: &str = "LOAD 'auto_explain';
    SET auto_explain.log_min_duration = 0; SET auto_explain.log_nested_statements = on; SET auto_explain.log_analyze = on;
    SET client_min_messages = log; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
    SET min_parallel_table_scan_size = 0; SET max_parallel_workers_per_gather = 2; SET parallel_leader_participation = off;";

fn workers_launched(notices: &std::sync::Mutex<Vec<String>>) -> u32 {
    let all = notices.lock().unwrap().join("\n");
    all.lines()
        .filter_map(|l| l.trim().strip_prefix("Workers Launched: "))
        .filter_map(|n| n.trim().parse::<u32>().ok())
        .sum()
}

#[test]
fn bulk_reverification_runs_in_parallel_workers_and_still_catches_a_row_tampered_after_insert() {
    let mut c = db_with_fixture_logs("ent_verify_all");
    for e in provable_entries() {
        one(ingest_rest(&mut c, &e.rest()).unwrap_or_else(|err| panic!("{}: {err:?}", e.id)), &e.id);
    }
    let log = TestLog::standard();
    log.trust(&mut c);
    for i in [0, 1, 2, 3, 4, 6, 7] {
        insert_row(&mut c, &log.ent(i, 8)).unwrap();
    }
    let n = entries(&mut c);
    assert!(n >= 25, "only {n} entries");
    let db: String = c.query_one("SELECT current_database()", &[]).unwrap().get(0);
    let count_q = "SELECT count(*) FILTER (WHERE rekor_verify_inclusion(entry_id)) FROM rekor_entries";

    // One backend, then parallel workers (the leader not participating, so the workers do every row).
    let serial: i64 = c.query_one("SELECT rekor_verify_all()", &[]).unwrap().get(0);
    assert_eq!(serial, n);
    let (mut p, notices) = connect_with_notices(&db);
    p.batch_execute(PARALLEL).unwrap();
    let all: i64 = p.query_one("SELECT rekor_verify_all()", &[]).unwrap().get(0);
    assert_eq!(all, n);
    assert!(workers_launched(&notices) >= 1, "rekor_verify_all() ran without parallel workers");
    notices.lock().unwrap().clear();
    let counted: i64 = p.query_one(count_q, &[]).unwrap().get(0);
    assert_eq!(counted, n);
    assert!(workers_launched(&notices) >= 1, "the count over rekor_verify_inclusion ran without parallel workers");

    // A row changed behind the trigger's back (only the owner can): every path raises the error
    // rekor_verify_inclusion raises for that row, with the same message and DETAIL.
    let victim: i64 = c.query_one("SELECT max(entry_id) FROM rekor_entries", &[]).unwrap().get(0);
    c.batch_execute(&format!(
        "ALTER TABLE rekor_entries DISABLE TRIGGER rekor_entries_verify;
         UPDATE rekor_entries SET root_hash = set_byte(root_hash, 5, get_byte(root_hash, 5) # 1) WHERE entry_id = {victim};
         ALTER TABLE rekor_entries ENABLE TRIGGER rekor_entries_verify;"
    ))
    .unwrap();
    let want = db_error(c.query_one("SELECT rekor_verify_inclusion($1)", &[&victim]));
    assert_eq!(want.0, "23514");
    assert!(want.1.starts_with(&format!("entry {victim} does not verify: check 2")), "{want:?}");
    assert_eq!(db_error(c.query_one("SELECT rekor_verify_all()", &[])), want, "rekor_verify_all, one backend");
    assert_eq!(db_error(p.query_one("SELECT rekor_verify_all()", &[])), want, "rekor_verify_all, parallel workers");
    assert_eq!(db_error(p.query_one(count_q, &[])), want, "count over rekor_verify_inclusion, parallel workers");

    // The key window at the entry's time: a log retired before every entry fails every path alike.
    c.batch_execute(&format!(
        "ALTER TABLE rekor_entries DISABLE TRIGGER rekor_entries_verify;
         UPDATE rekor_entries SET root_hash = set_byte(root_hash, 5, get_byte(root_hash, 5) # 1) WHERE entry_id = {victim};
         ALTER TABLE rekor_entries ENABLE TRIGGER rekor_entries_verify;"
    ))
    .unwrap();
    assert_eq!(c.query_one("SELECT rekor_verify_all()", &[]).unwrap().get::<_, i64>(0), n, "restored row");
    c.execute("UPDATE rekor_logs SET valid_until = '2000-01-01' WHERE log_id = $1", &[&log.signer.log_id().to_vec()]).unwrap();
    let strip = |e: (String, String, String)| (e.0, e.1.split_once(" does not verify: ").map(|x| x.1.to_string()).unwrap_or(e.1), e.2);
    let one_id: i64 = c
        .query_one("SELECT min(entry_id) FROM rekor_entries WHERE log_id = $1", &[&log.signer.log_id().to_vec()])
        .unwrap()
        .get(0);
    let want = strip(db_error(c.query_one("SELECT rekor_verify_inclusion($1)", &[&one_id])));
    assert_eq!(want.0, "23514");
    assert!(want.1.starts_with("log key is not valid at the entry's time"), "{want:?}");
    assert!(want.2.contains("valid from") && want.2.ends_with("(now: no SET signs an integrated time)"), "{want:?}");
    for (label, client) in [("one backend", &mut c), ("parallel", &mut p)] {
        let got = strip(db_error(client.query_one("SELECT rekor_verify_all()", &[])));
        assert_eq!((&got.0, &got.1), (&want.0, &want.1), "rekor_verify_all, {label}");
        assert!(got.2.starts_with(want.2.split("; entry time").next().unwrap()), "{label}: {got:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// The trigger's lookups (src/trigger.rs) are made once per statement: what an earlier statement
// of the same transaction changed, and what a rolled-back savepoint undid, is never served stale.

#[test]
fn the_trigger_sees_a_log_window_changed_by_an_earlier_statement_of_its_transaction() {
    let mut c = fresh_db("ent_stmt_window");
    let log = TestLog::standard();
    log.trust(&mut c);
    let mut t = c.transaction().unwrap();
    insert_row(&mut t, &log.ent(0, 8)).expect("the log is valid now");
    t.execute("UPDATE rekor_logs SET valid_until = now() - interval '1 day' WHERE log_id = $1", &[&log.signer.log_id().to_vec()])
        .unwrap();
    let (code, msg, detail) = db_error(insert_row(&mut t, &log.ent(1, 8)));
    assert_eq!(code, "23514", "{msg}");
    assert!(msg.starts_with("log key is not valid at the entry's time"), "{msg} ({detail})");
    assert!(detail.ends_with("(now: no SET signs an integrated time)"), "{detail}");
}

#[test]
fn a_checkpoint_stored_in_a_rolled_back_savepoint_is_stored_again_by_the_next_row() {
    let mut c = fresh_db("ent_stmt_savepoint");
    let log = TestLog::standard();
    log.trust(&mut c);
    let mut t = c.transaction().unwrap();
    {
        let mut s = t.savepoint("first").unwrap();
        insert_row(&mut s, &log.ent(0, 8)).expect("stores the size-8 checkpoint");
        s.rollback().unwrap();
    }
    assert_eq!(count(&mut t, "SELECT count(*) FROM rekor_checkpoints"), 0, "the savepoint took its checkpoint with it");
    let id = insert_row(&mut t, &log.ent(1, 8)).expect("the next row stores the checkpoint again");
    t.commit().unwrap();
    let (cps, linked): (i64, i64) = {
        let r = c
            .query_one(
                "SELECT (SELECT count(*) FROM rekor_checkpoints),
                        (SELECT count(*) FROM rekor_entries e JOIN rekor_checkpoints k USING (checkpoint_id) WHERE e.entry_id = $1)",
                &[&id],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!((cps, linked), (1, 1), "one checkpoint, and the entry links to it");
    assert_verifies(&mut c, id, "entry stored after the rolled-back savepoint");
}

#[test]
fn one_copy_verifies_rows_of_two_logs_and_checkpoints_each_against_its_own() {
    let mut c = fresh_db("ent_stmt_two_logs");
    let a = TestLog::standard();
    let b = TestLog::new("other.test.log", [0x42; 32], (0..4).map(|i| hashedrekord_body(&format!("b{i}"))).collect());
    a.trust(&mut c);
    b.trust(&mut c);
    let rows = [a.ent(0, 8), b.ent(0, 4), a.ent(1, 4), b.ent(1, 3), a.ent(2, 8)];
    // A row whose proof is another log's fails the whole statement, wherever it comes in it.
    let mut crossed = b.ent(2, 4);
    crossed.log_id = a.signer.log_id().to_vec();
    let with_bad: Vec<&Ent> = rows.iter().chain(std::iter::once(&crossed)).collect();
    assert_check(copy_rows(&mut c, &with_bad), &[1, 2, 3], "another log's entry under this log's id");
    assert_eq!(entries(&mut c), 0);
    let all: Vec<&Ent> = rows.iter().collect();
    assert_eq!(copy_rows(&mut c, &all).unwrap(), rows.len() as u64);
    let linked = count(
        &mut c,
        "SELECT count(*) FROM rekor_entries e JOIN rekor_checkpoints k USING (checkpoint_id)
         WHERE k.log_id = e.log_id AND k.tree_size = e.tree_size AND k.root_hash = e.root_hash",
    );
    assert_eq!(linked, rows.len() as i64, "every row links to its own log's checkpoint of its own size");
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_checkpoints"), 4, "a/8, a/4, b/4, b/3");
    assert_eq!(count(&mut c, "SELECT count(*) FROM rekor_verify_all() n WHERE n = 5"), 1);
}
