//! SQL surface of Rekor log entries: parsing the shapes users have (REST responses, Sigstore
//! bundles) into rows, and the pure checks the rekor_entries trigger (sql/030_entries.sql) runs.
//! Functions used by the trigger return an error text instead of raising, so the trigger can raise
//! one 23514 per failed check, in order, without a subtransaction per row.
use crate::args::{ByteaArray, Jsonb, Text};
use crate::checkpoint::parse_key;
use crate::error::{raise, snippet, INVALID_PARAMETER, LIMIT_EXCEEDED};
use pgrx::prelude::*;
use rekor_meta_core::checkpoint::{parse_checkpoint, Checkpoint, CheckpointError};
use rekor_meta_core::evidence::{authenticate_log_index, verify_evidence_with, Evidence, Trust};
use rekor_meta_core::entry::{self as ent, LogEntry};
use rekor_meta_core::keys::LogKey;
use rekor_meta_core::json::MAX_JSON_BYTES;
use rekor_meta_core::merkle;
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::rc::Rc;
use std::collections::HashMap;

type EntryRow = (
    name!(entry_uuid, Option<String>),
    name!(log_id, Vec<u8>),
    name!(log_index, i64),
    name!(proof_log_index, Option<i64>),
    name!(tree_id, Option<i64>),
    name!(integrated_time, Option<i64>),
    name!(body, Vec<u8>),
    name!(tree_size, Option<i64>),
    name!(root_hash, Option<Vec<u8>>),
    name!(proof_hashes, Option<Vec<Vec<u8>>>),
    name!(checkpoint, Option<String>),
    name!(signed_entry_timestamp, Option<Vec<u8>>),
);

fn to_i64(v: u64) -> i64 {
    // The core bounds every index and size at 2^63 - 1.
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn entry_row(e: LogEntry) -> EntryRow {
    let tree_id = e.uuid.as_deref().and_then(ent::uuid_tree_id).map(to_i64);
    let (pidx, size, root, hashes, cp) = match e.inclusion_proof {
        Some(p) => (
            Some(to_i64(p.log_index)),
            Some(to_i64(p.tree_size)),
            Some(p.root_hash.to_vec()),
            Some(p.hashes.iter().map(|h| h.to_vec()).collect()),
            p.checkpoint,
        ),
        None => (None, None, None, None, None),
    };
    // Rekor v2 has no integrated time: it is 0 in the wire formats.
    let itime = if e.integrated_time == 0 { None } else { Some(e.integrated_time) };
    (
        e.uuid,
        e.log_id,
        to_i64(e.log_index),
        pidx,
        tree_id,
        itime,
        e.body,
        size,
        root,
        hashes,
        cp,
        e.signed_entry_timestamp,
    )
}

fn raise_entry(err: ent::EntryError) -> ! {
    raise(INVALID_PARAMETER, format!("invalid Rekor entry: {err}"), "")
}

/// The entries of a Rekor v1 REST response (`GET/POST /api/v1/log/entries`), one row each.
#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_parse_rest_response(
    response: Jsonb,
) -> TableIterator<
    'static,
    (
        name!(entry_uuid, Option<String>),
        name!(log_id, Vec<u8>),
        name!(log_index, i64),
        name!(proof_log_index, Option<i64>),
        name!(tree_id, Option<i64>),
        name!(integrated_time, Option<i64>),
        name!(body, Vec<u8>),
        name!(tree_size, Option<i64>),
        name!(root_hash, Option<Vec<u8>>),
        name!(proof_hashes, Option<Vec<Vec<u8>>>),
        name!(checkpoint, Option<String>),
        name!(signed_entry_timestamp, Option<Vec<u8>>),
    ),
> {
    match ent::parse_rest_response(&response.0) {
        Ok(v) => TableIterator::new(v.into_iter().map(entry_row)),
        Err(e) => raise_entry(e),
    }
}

/// The transparency-log entries of a Sigstore bundle (v0.1 to v0.3), one row each.
#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_parse_bundle(
    bundle: Jsonb,
) -> TableIterator<
    'static,
    (
        name!(entry_uuid, Option<String>),
        name!(log_id, Vec<u8>),
        name!(log_index, i64),
        name!(proof_log_index, Option<i64>),
        name!(tree_id, Option<i64>),
        name!(integrated_time, Option<i64>),
        name!(body, Vec<u8>),
        name!(tree_size, Option<i64>),
        name!(root_hash, Option<Vec<u8>>),
        name!(proof_hashes, Option<Vec<Vec<u8>>>),
        name!(checkpoint, Option<String>),
        name!(signed_entry_timestamp, Option<Vec<u8>>),
    ),
> {
    match ent::parse_bundle(&bundle.0) {
        Ok(v) => TableIterator::new(v.into_iter().map(entry_row)),
        Err(e) => raise_entry(e),
    }
}

/// Why an inclusion proof is rejected, or NULL when it leads from `leaf_hash` to `root_hash`.
#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_inclusion_proof_error(
    leaf_hash: &[u8],
    log_index: i64,
    tree_size: i64,
    proof: ByteaArray<'_>,
    root_hash: &[u8],
) -> Option<String> {
    let proof = proof.0;
    let (Ok(index), Ok(size)) = (u64::try_from(log_index), u64::try_from(tree_size)) else {
        return Some(format!("negative index or size: index {log_index}, tree size {tree_size}"));
    };
    if proof.len() > merkle::MAX_PROOF_HASHES {
        return Some(merkle::MerkleError::ProofTooLong { got: proof.len() }.to_string());
    }
    let mut hashes: Vec<&[u8]> = Vec::with_capacity(proof.len());
    for (i, h) in proof.iter().enumerate() {
        match h {
            Some(h) => hashes.push(h),
            None => return Some(format!("proof hash [{}] is NULL", i + 1)),
        }
    }
    merkle::verify_inclusion(index, size, leaf_hash, &hashes, root_hash).err().map(|e| e.to_string())
}

thread_local! {
    /// Signature checks are pure functions of (note, key, signer): a bulk load that shares one
    /// checkpoint verifies it once per backend, not once per row.
    static NOTE_VERIFIED: RefCell<HashMap<[u8; 32], bool>> = RefCell::new(HashMap::new());
    /// Parsed keys by their DER bytes (parsing is cheap, but not free at 100k rows).
    static KEYS: RefCell<HashMap<Vec<u8>, LogKey>> = RefCell::new(HashMap::new());
}
const CACHE_LIMIT: usize = 4096;

/// The last checkpoint note `evidence` saw, parsed, with its log key and (once asked) its verdict:
/// the rows of a load share one note, so they skip its parse and memo hash. Keyed by the exact
/// note, key and signer bytes; whatever differs starts a new entry.
struct LastNote {
    note: String,
    public_key: Vec<u8>,
    signer: String,
    key: LogKey,
    parsed: Result<Rc<Checkpoint>, CheckpointError>,
    verified: Option<bool>,
}

thread_local! {
    static LAST_NOTE: RefCell<Option<LastNote>> = const { RefCell::new(None) };
}

fn with_key<R>(public_key: &[u8], f: impl FnOnce(&LogKey) -> R) -> R {
    let cached = KEYS.with(|k| k.borrow().get(public_key).cloned());
    let key = match cached {
        Some(k) => k,
        None => {
            let k = parse_key(public_key);
            KEYS.with(|m| {
                let mut m = m.borrow_mut();
                if m.len() >= CACHE_LIMIT {
                    m.clear();
                }
                m.insert(public_key.to_vec(), k.clone());
            });
            k
        }
    };
    f(&key)
}

/// Parses `note` and checks it is signed by `public_key` as `signer_name`. Returns the note's
/// origin, size and root, and an error text (NULL when the note parses and verifies).
#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_checkpoint_check(
    note: Text<'_>,
    public_key: &[u8],
    signer_name: Text<'_>,
) -> TableIterator<
    'static,
    (name!(origin, Option<String>), name!(tree_size, Option<i64>), name!(root_hash, Option<Vec<u8>>), name!(error, Option<String>)),
> {
    let cp = match parse_checkpoint(note.as_bytes()) {
        Ok(cp) => cp,
        Err(e) => return TableIterator::once((None, None, None, Some(format!("checkpoint does not parse: {e}")))),
    };
    let ok = checkpoint_verified(&note, public_key, &signer_name, &cp);
    let err = (!ok).then(|| format!("checkpoint signature does not verify under the log key as signer {:?}", snippet(&signer_name)));
    TableIterator::once((Some(cp.origin), Some(to_i64(cp.tree_size)), Some(cp.root_hash.to_vec()), err))
}

/// Whether `cp` (parsed from `note`) is signed by `public_key` as `signer_name`, memoised: a pure
/// function of its inputs, so a bulk load sharing one checkpoint verifies it once per backend.
fn checkpoint_verified(note: &str, public_key: &[u8], signer_name: &str, cp: &Checkpoint) -> bool {
    let mut h = Sha256::new();
    h.update((note.len() as u64).to_be_bytes());
    h.update(note.as_bytes());
    h.update((public_key.len() as u64).to_be_bytes());
    h.update(public_key);
    h.update(signer_name.as_bytes());
    let cache_key: [u8; 32] = h.finalize().into();
    if let Some(ok) = NOTE_VERIFIED.with(|c| c.borrow().get(&cache_key).copied()) {
        return ok;
    }
    let ok = with_key(public_key, |k| cp.verify(k, signer_name));
    NOTE_VERIFIED.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= CACHE_LIMIT {
            c.clear();
        }
        c.insert(cache_key, ok);
    });
    ok
}

/// Checks 1-4 of a stored or incoming entry against its log, in order (rekor_meta_core::evidence):
/// one row with check = NULL when all pass (plus the leaf hash, tree id and checkpoint origin the
/// trigger stores), or the number, message and detail of the first failed check.
#[pg_extern(immutable, parallel_safe)]
#[allow(clippy::too_many_arguments)]
fn rekor_entry_evidence_check(
    body: Option<&[u8]>,
    entry_uuid: Option<Text<'_>>,
    leaf_hash: Option<&[u8]>,
    proof_log_index: Option<i64>,
    tree_size: Option<i64>,
    root_hash: Option<&[u8]>,
    proof_hashes: Option<ByteaArray<'_>>,
    checkpoint: Option<Text<'_>>,
    signed_entry_timestamp: Option<&[u8]>,
    integrated_time: Option<i64>,
    log_id: Option<&[u8]>,
    log_index: Option<i64>,
    public_key: Option<&[u8]>,
    signer_name: Option<Text<'_>>,
    origin: Option<Text<'_>>,
    origin_is_prefix: Option<bool>,
) -> TableIterator<
    'static,
    (
        name!(check, Option<i32>),
        name!(message, Option<String>),
        name!(detail, Option<String>),
        name!(leaf_hash, Option<Vec<u8>>),
        name!(tree_id, Option<i64>),
        name!(checkpoint_origin, Option<String>),
    ),
> {
    // 0.2.0's rule, kept for the SQL of installations not yet updated: without a SET the log index
    // must be the proof's index (0.3.0's rekor_entry_evidence authenticates it through the shard map).
    let args = EvidenceArgs {
        body, entry_uuid: entry_uuid.as_ref().map(|t| t.0), leaf_hash, proof_log_index, tree_size, root_hash,
        proof_hashes: proof_hashes.as_ref().map(|p| p.0.iter().collect()), checkpoint: checkpoint.as_ref().map(|t| t.0), signed_entry_timestamp, integrated_time, log_id,
        log_index, public_key, signer_name: signer_name.as_ref().map(|t| t.0), origin: origin.as_ref().map(|t| t.0),
        origin_is_prefix,
    };
    match evidence(args, None) {
        Ok(ok) => TableIterator::once((None, None, None, Some(ok.leaf_hash), ok.tree_id, Some(ok.checkpoint_origin))),
        Err((c, m, d)) => TableIterator::once((Some(c), Some(m), Some(d), None, None, None)),
    }
}

/// Checks 1-4 of a stored or incoming entry against its log, in order (rekor_meta_core::evidence),
/// with the log's shard map (tree id -> global index of the shard's first entry, two parallel
/// arrays): one row with check = NULL when all pass, plus the leaf hash, tree id, checkpoint origin
/// and whether the global log index is authenticated (a SET, a single tree, or the shard map);
/// else the number, message and detail of the first failed check.
#[pg_extern(immutable, parallel_safe)]
#[allow(clippy::too_many_arguments)]
fn rekor_entry_evidence(
    body: Option<&[u8]>,
    entry_uuid: Option<Text<'_>>,
    leaf_hash: Option<&[u8]>,
    proof_log_index: Option<i64>,
    tree_size: Option<i64>,
    root_hash: Option<&[u8]>,
    proof_hashes: Option<ByteaArray<'_>>,
    checkpoint: Option<Text<'_>>,
    signed_entry_timestamp: Option<&[u8]>,
    integrated_time: Option<i64>,
    log_id: Option<&[u8]>,
    log_index: Option<i64>,
    public_key: Option<&[u8]>,
    signer_name: Option<Text<'_>>,
    origin: Option<Text<'_>>,
    origin_is_prefix: Option<bool>,
    shard_tree_ids: Option<Vec<Option<i64>>>,
    shard_starts: Option<Vec<Option<i64>>>,
) -> TableIterator<
    'static,
    (
        name!(check, Option<i32>),
        name!(message, Option<String>),
        name!(detail, Option<String>),
        name!(leaf_hash, Option<Vec<u8>>),
        name!(tree_id, Option<i64>),
        name!(checkpoint_origin, Option<String>),
        name!(log_index_authenticated, Option<bool>),
    ),
> {
    let mut shards: Vec<(u64, u64)> = Vec::new();
    let (ids, starts) = (shard_tree_ids.unwrap_or_default(), shard_starts.unwrap_or_default());
    for (id, start) in ids.iter().zip(starts.iter()) {
        if let (Some(id), Some(start)) = (id.and_then(|v| u64::try_from(v).ok()), start.and_then(|v| u64::try_from(v).ok())) {
            shards.push((id, start));
        }
    }
    let args = EvidenceArgs {
        body, entry_uuid: entry_uuid.as_ref().map(|t| t.0), leaf_hash, proof_log_index, tree_size, root_hash,
        proof_hashes: proof_hashes.as_ref().map(|p| p.0.iter().collect()), checkpoint: checkpoint.as_ref().map(|t| t.0), signed_entry_timestamp, integrated_time, log_id,
        log_index, public_key, signer_name: signer_name.as_ref().map(|t| t.0), origin: origin.as_ref().map(|t| t.0),
        origin_is_prefix,
    };
    match evidence(args, Some(&shards)) {
        Ok(ok) => TableIterator::once((
            None, None, None, Some(ok.leaf_hash), ok.tree_id, Some(ok.checkpoint_origin), Some(ok.log_index_authenticated),
        )),
        Err((c, m, d)) => TableIterator::once((Some(c), Some(m), Some(d), None, None, None, None)),
    }
}

pub(crate) struct EvidenceArgs<'a> {
    pub(crate) body: Option<&'a [u8]>,
    pub(crate) entry_uuid: Option<&'a str>,
    pub(crate) leaf_hash: Option<&'a [u8]>,
    pub(crate) proof_log_index: Option<i64>,
    pub(crate) tree_size: Option<i64>,
    pub(crate) root_hash: Option<&'a [u8]>,
    pub(crate) proof_hashes: Option<Vec<Option<&'a [u8]>>>,
    pub(crate) checkpoint: Option<&'a str>,
    pub(crate) signed_entry_timestamp: Option<&'a [u8]>,
    pub(crate) integrated_time: Option<i64>,
    pub(crate) log_id: Option<&'a [u8]>,
    pub(crate) log_index: Option<i64>,
    pub(crate) public_key: Option<&'a [u8]>,
    pub(crate) signer_name: Option<&'a str>,
    pub(crate) origin: Option<&'a str>,
    pub(crate) origin_is_prefix: Option<bool>,
}

pub(crate) struct EvidenceOk {
    pub(crate) leaf_hash: Vec<u8>,
    pub(crate) tree_id: Option<i64>,
    pub(crate) checkpoint_origin: String,
    pub(crate) log_index_authenticated: bool,
}

/// The shared body of both evidence functions. `shards` None: 0.2.0's index rule.
pub(crate) fn evidence(a: EvidenceArgs<'_>, shards: Option<&[(u64, u64)]>) -> Result<EvidenceOk, (i32, String, String)> {
    let failed = |check: i32, message: &str, detail: String| Err((check, message.to_string(), detail));
    let entry_uuid = a.entry_uuid;
    let signed_entry_timestamp = a.signed_entry_timestamp;
    let (Some(body), Some(pidx), Some(size), Some(root), Some(proof), Some(note), Some(log_id), Some(gidx), Some(pk), Some(signer), Some(origin)) =
        (a.body, a.proof_log_index, a.tree_size, a.root_hash, a.proof_hashes, a.checkpoint, a.log_id, a.log_index, a.public_key, a.signer_name, a.origin)
    else {
        return failed(0, "entry is missing its evidence", "body, proof_log_index, tree_size, root_hash, proof_hashes, checkpoint, log_id, log_index and the log key are required".into());
    };
    let (Ok(pidx), Ok(size), Ok(gidx)) = (u64::try_from(pidx), u64::try_from(size), u64::try_from(gidx)) else {
        return failed(2, "check 2 (inclusion proof): the proof is malformed", format!("negative index or size: proof index {pidx}, tree size {size}, log index {gidx}"));
    };
    if proof.len() > merkle::MAX_PROOF_HASHES {
        return failed(2, "check 2 (inclusion proof): the proof is malformed", merkle::MerkleError::ProofTooLong { got: proof.len() }.to_string());
    }
    let mut hashes: Vec<&[u8]> = Vec::with_capacity(proof.len());
    for (i, h) in proof.iter().enumerate() {
        match h {
            Some(h) => hashes.push(h),
            None => return failed(2, "check 2 (inclusion proof): the proof is malformed", format!("proof hash [{}] is NULL", i + 1)),
        }
    }
    // Taken out while in use (the verdict closure below fills it), put back after.
    let last = LAST_NOTE.with(|c| c.borrow_mut().take());
    let mut last = match last {
        Some(l) if l.note == note && l.public_key == pk && l.signer == signer => l,
        _ => LastNote {
            note: note.to_string(),
            public_key: pk.to_vec(),
            signer: signer.to_string(),
            key: with_key(pk, |k| k.clone()),
            parsed: parse_checkpoint(note.as_bytes()).map(Rc::new),
            verified: None,
        },
    };
    let e = Evidence {
        body,
        uuid: entry_uuid,
        leaf_hash: a.leaf_hash,
        proof_log_index: pidx,
        tree_size: size,
        root_hash: root,
        proof: &hashes,
        checkpoint: note,
        signed_entry_timestamp,
        integrated_time: a.integrated_time,
        log_id,
        log_index: gidx,
    };
    let trust = Trust { key: &last.key, signer_name: signer, origin, origin_is_prefix: a.origin_is_prefix.unwrap_or(false) };
    let verified = &mut last.verified;
    let result = verify_evidence_with(&e, &trust, last.parsed.clone(), |cp| {
        *verified.get_or_insert_with(|| checkpoint_verified(note, pk, signer, cp))
    });
    LAST_NOTE.with(|c| *c.borrow_mut() = Some(last));
    let (leaf_hash, tree_id, cp) = match result {
        Ok(v) => v,
        Err(err) => return failed(i32::from(err.check), &err.message, err.detail),
    };
    // 3, continued. An 80-hex UUID names the shard (tree id) the entry is in; a Rekor v1 checkpoint
    // names its shard in its origin ("<host> - <tree id>"): they must be the same tree.
    if let (Some(uuid_tree), Some(cp_tree)) = (entry_uuid.and_then(ent::uuid_tree_id), origin_tree_id(&cp.origin)) {
        if uuid_tree != cp_tree {
            return failed(
                3,
                "check 3 (checkpoint): the checkpoint is of another shard than the entry UUID names",
                format!("UUID tree id {uuid_tree}, checkpoint origin {:?}", snippet(&cp.origin)),
            );
        }
    }
    let authenticated = match shards {
        Some(map) => match authenticate_log_index(signed_entry_timestamp.is_some(), tree_id, map, gidx, pidx) {
            Ok(auth) => auth,
            Err(err) => return failed(i32::from(err.check), &err.message, format!("log {}: {}", hex::encode(log_id), err.detail)),
        },
        None => {
            if signed_entry_timestamp.is_none() && gidx != pidx {
                return failed(
                    4,
                    "check 4 (signed entry timestamp): without a SET the log index must be the proof's index",
                    format!("log {}, log index {gidx}, proof index {pidx}: no signed entry timestamp binds the global index", hex::encode(log_id)),
                );
            }
            true
        }
    };
    Ok(EvidenceOk {
        leaf_hash: leaf_hash.to_vec(),
        tree_id: tree_id.map(to_i64),
        checkpoint_origin: cp.origin.clone(),
        log_index_authenticated: authenticated,
    })
}

/// The tree id a Rekor v1 checkpoint origin "<host> - <tree id>" names.
fn origin_tree_id(origin: &str) -> Option<u64> {
    let (_, id) = origin.rsplit_once(" - ")?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok()
}

/// Verifies a Rekor v1 signed entry timestamp: the log's signature over the RFC 8785 canonical JSON
/// {"body","integratedTime","logID","logIndex"} (logIndex is the global index).
#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_verify_set(
    signed_entry_timestamp: &[u8],
    body: &[u8],
    integrated_time: i64,
    log_id: &[u8],
    log_index: i64,
    public_key: &[u8],
) -> bool {
    // The signed payload holds the body in base64; no Rekor entry body is larger than a JSON
    // document is read (rekor_meta_core::json::MAX_JSON_BYTES).
    if body.len() > MAX_JSON_BYTES {
        raise(LIMIT_EXCEEDED, "body is too large", format!("body is {} bytes, over the limit of {MAX_JSON_BYTES}", body.len()));
    }
    let Ok(index) = u64::try_from(log_index) else { return false };
    let payload = ent::set_payload_parts(body, integrated_time, log_id, index);
    with_key(public_key, |k| k.verify(&payload, signed_entry_timestamp))
}

/// The kind, API version and searchable digest keys of a canonicalized entry body, or an error
/// text when the body is not a Rekor entry (kind, apiVersion, spec).
#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_body_info(
    body: &[u8],
) -> TableIterator<
    'static,
    (name!(kind, Option<String>), name!(api_version, Option<String>), name!(digest_keys, Option<Vec<Vec<u8>>>), name!(error, Option<String>)),
> {
    match ent::parse_body(body) {
        Ok(p) => {
            let keys = p.digests.iter().map(|d| digest_key(&d.algorithm, &d.value)).collect();
            TableIterator::once((Some(p.kind), Some(p.api_version), Some(keys), None))
        }
        Err(e) => TableIterator::once((None, None, None, Some(e.to_string()))),
    }
}

/// The index key of a digest: "<algorithm>:" followed by the digest bytes.
pub(crate) fn digest_key(algorithm: &str, value: &[u8]) -> Vec<u8> {
    let mut k = algorithm.to_ascii_lowercase().into_bytes();
    k.push(b':');
    k.extend_from_slice(value);
    k
}

/// The lookup key `rekor_entries_by_digest` searches for ("sha256" / "sha384" / "sha512").
#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_digest_key(algorithm: Text<'_>, digest: &[u8]) -> Vec<u8> {
    // Every spelling accepted is at most 8 characters: a longer name is not copied.
    let alg = if algorithm.len() <= 16 { algorithm.to_ascii_lowercase().replace(['-', '_'], "") } else { String::new() };
    let (alg, len) = match alg.as_str() {
        "sha256" | "sha2256" => ("sha256", 32),
        "sha384" | "sha2384" => ("sha384", 48),
        "sha512" | "sha2512" => ("sha512", 64),
        _ => raise(
            INVALID_PARAMETER,
            "unsupported digest algorithm",
            format!("algorithm {:?}; use sha256, sha384 or sha512", snippet(&algorithm)),
        ),
    };
    // A shorter digest finds nothing; a longer one cannot be one (and is not copied).
    if digest.len() > len {
        raise(
            INVALID_PARAMETER,
            format!("digest is longer than a {alg} digest"),
            format!("digest is {} bytes, a {alg} digest is {len}", digest.len()),
        );
    }
    digest_key(alg, digest)
}

/// Every digest extracted from an entry body, for humans: role, algorithm, digest.
#[pg_extern(immutable, parallel_safe, strict)]
fn rekor_body_digests(
    body: &[u8],
) -> TableIterator<'static, (name!(role, String), name!(algorithm, String), name!(digest, Vec<u8>))> {
    match ent::parse_body(body) {
        Ok(p) => TableIterator::new(
            p.digests.into_iter().map(|d| (d.role.as_str().to_string(), d.algorithm, d.value)),
        ),
        Err(e) => raise(INVALID_PARAMETER, format!("entry body is not a Rekor entry: {e}"), ""),
    }
}
