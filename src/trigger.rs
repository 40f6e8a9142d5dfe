//! The verifying trigger of rekor_entries (BEFORE INSERT OR UPDATE, FOR EACH ROW), in Rust: checks
//! 1-6 of every row from scratch, in one pass over the new row, in the order and with the errors the
//! README documents. The evidence itself is the core's (rekor_meta_core::evidence, entry, timestamp);
//! this file only reads the row, looks up what the checks are against, and raises.
//!
//! What the checks are against (the log's key, validity window and shard map, the stored checkpoint
//! a proof ends in, the timestamp authorities, the extension owner) is looked up once per statement,
//! not once per row: the lookups are kept while the transaction, subtransaction, command id, role and
//! table stay the same, so a statement sees one consistent view of them (the view its first row
//! saw), and anything the transaction itself changes (a new checkpoint this trigger stores, an
//! earlier statement's UPDATE of rekor_logs) starts a new command and so new lookups. Signatures are
//! still verified for every row that carries them (a checkpoint's verdict is memoised by its exact
//! bytes and key, entry::checkpoint_verified); no check is skipped.
//!
//! The lookups go through SPI with schema-qualified names, OPERATOR(pg_catalog.=) and typed
//! parameters, so the caller's search_path can redirect none of them; and they run under
//! search_path = pg_catalog, pg_temp all the same (`pinned`). The function itself has no SET clause
//! (sql/schema/090_roles.sql): a SET is a GUC save and restore on every row, while SQL runs here
//! only when a statement starts or stores a checkpoint.
use crate::args::{ByteaArray, Jsonb, Text};
use crate::entry::{digest_key, evidence, EvidenceArgs};
use crate::timestamp::{check_token, stored_authorities};
use pgrx::prelude::*;
use crate::error::raise_with_hint;
use pgrx::{pg_sys, FromDatum, IntoDatum, PgSqlErrorCode};
use rekor_meta_core::entry::parse_body;
use rekor_meta_core::json::parse_json_bytes;
use rekor_meta_core::timestamp::TimestampAuthority;
use sha2::{Digest, Sha256};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::CStr;
use std::rc::Rc;

/// At most this many logs and stored checkpoints are kept for a statement.
const LOOKUP_LIMIT: usize = 4096;

/// Microseconds from 1970-01-01 (Unix) to 2000-01-01 (PostgreSQL's timestamp epoch).
const PG_EPOCH_US: i64 = 946_684_800_000_000;

/// The trusted log an entry names, as rekor_logs and rekor_log_shards hold it.
struct LogInfo {
    log_id: Vec<u8>,
    public_key: Vec<u8>,
    signer_name: String,
    origin: String,
    origin_is_prefix: bool,
    valid_from: Option<i64>,
    valid_until: Option<i64>,
    shards: Vec<(u64, u64)>,
}

type Authorities = Result<(Vec<i64>, Vec<TimestampAuthority>), String>;

/// Attribute numbers (0-based) of the columns the trigger reads and writes.
#[derive(Clone, Copy)]
struct Cols {
    entry_id: usize,
    log_id: usize,
    entry_uuid: usize,
    log_index: usize,
    proof_log_index: usize,
    tree_id: usize,
    kind: usize,
    api_version: usize,
    integrated_time: usize,
    body: usize,
    leaf_hash: usize,
    tree_size: usize,
    root_hash: usize,
    proof_hashes: usize,
    checkpoint: usize,
    checkpoint_id: usize,
    signed_entry_timestamp: usize,
    digest_keys: usize,
    log_index_authenticated: usize,
    integrated_time_authenticated: usize,
    signing_time: usize,
    signing_time_source: usize,
    rfc3161_timestamp: usize,
    timestamp_tsa_id: usize,
    dsse_envelope: usize,
    verifier: usize,
}

/// What one statement has looked up; see the module comment for when it is reused.
struct Statement {
    key: (u64, pg_sys::CommandId, pg_sys::SubTransactionId, pg_sys::Oid, pg_sys::Oid),
    schema: String,
    cols: Cols,
    entry_seq: pg_sys::Oid,
    ext_owner: Option<pg_sys::Oid>,
    last_drawn: Option<i64>,
    logs: HashMap<Vec<u8>, Option<Rc<LogInfo>>>,
    checkpoints: HashMap<(Vec<u8>, String, i64, Vec<u8>), i64>,
    /// The checkpoint the previous row ended in (the rows of a load share one): found without a key.
    last_checkpoint: Option<((Vec<u8>, String, i64, Vec<u8>), i64)>,
    authorities: Option<Rc<Authorities>>,
    /// This row stored a checkpoint (a write): nothing looked up before it is kept.
    wrote: bool,
}

thread_local! {
    static STATEMENT: RefCell<Option<Statement>> = const { RefCell::new(None) };
    static CALLBACKS: Cell<bool> = const { Cell::new(false) };
    /// Bumped at every transaction and subtransaction event: no lookup outlives its transaction.
    static GENERATION: Cell<u64> = const { Cell::new(0) };
}

unsafe extern "C-unwind" fn on_xact(_event: pg_sys::XactEvent::Type, _arg: *mut std::ffi::c_void) {
    GENERATION.with(|g| g.set(g.get().wrapping_add(1)));
}

unsafe extern "C-unwind" fn on_subxact(
    _event: pg_sys::SubXactEvent::Type,
    _my: pg_sys::SubTransactionId,
    _parent: pg_sys::SubTransactionId,
    _arg: *mut std::ffi::c_void,
) {
    GENERATION.with(|g| g.set(g.get().wrapping_add(1)));
}

/// Errors never echo a huge argument: message and detail are bounded (as rekor_reject_entry did).
fn code_raise(code: PgSqlErrorCode, message: &str, detail: &str, hint: Option<&str>) -> ! {
    raise_with_hint(code, bounded(message, 1000), bounded(detail, 2000), hint)
}

fn bounded(s: &str, chars: usize) -> String {
    match s.char_indices().nth(chars) {
        None => s.to_string(),
        Some((cut, _)) => s[..cut].to_string(),
    }
}

/// A rejected row: one check_violation naming the check, with the values.
fn reject(message: &str, detail: &str) -> ! {
    code_raise(PgSqlErrorCode::ERRCODE_CHECK_VIOLATION, message, detail, None)
}

fn internal(what: &str) -> ! {
    // Only a schema altered by hand (a dropped column, the extension's row gone) gets here.
    code_raise(PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, "rekor_entries_verify: unexpected schema state", what, None)
}

/// format('%L', s): PostgreSQL's quote_literal (a text value holds no NUL, so the C string exists).
fn quote_literal(s: &str) -> String {
    match std::ffi::CString::new(s) {
        Ok(c) => unsafe { CStr::from_ptr(pg_sys::quote_literal_cstr(c.as_ptr())).to_string_lossy().into_owned() },
        Err(_) => format!("{s:?}"),
    }
}

/// A timestamptz as PostgreSQL prints it in this session (DateStyle, TimeZone), as the errors did.
fn ts_text(ts: i64) -> String {
    unsafe {
        match pgrx::direct_function_call::<&CStr>(pg_sys::timestamptz_out, &[Some(pg_sys::Datum::from(ts))]) {
            Some(c) => c.to_string_lossy().into_owned(),
            None => ts.to_string(),
        }
    }
}

/// Runs `f`, which runs SQL, under search_path = pg_catalog, pg_temp, exactly as a function's
/// `SET search_path` clause would (a GUC nest level, undone on return, or by the abort on an error).
fn pinned<R>(f: impl FnOnce() -> R) -> R {
    unsafe {
        let level = pg_sys::NewGUCNestLevel();
        let context = if pg_sys::superuser() { pg_sys::GucContext::PGC_SUSET } else { pg_sys::GucContext::PGC_USERSET };
        pg_sys::set_config_option(
            c"search_path".as_ptr(),
            c"pg_catalog, pg_temp".as_ptr(),
            context,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_SAVE,
            true,
            0,
            false,
        );
        let r = f();
        pg_sys::AtEOXact_GUC(true, level);
        r
    }
}

fn spi_err(e: pgrx::spi::SpiError) -> ! {
    internal(&format!("SPI: {e}"))
}

impl Statement {
    unsafe fn new(key: (u64, pg_sys::CommandId, pg_sys::SubTransactionId, pg_sys::Oid, pg_sys::Oid), rel: pg_sys::Relation) -> Statement {
        unsafe {
            let nsp = (*(*rel).rd_rel).relnamespace;
            let name = pg_sys::get_namespace_name(nsp);
            if name.is_null() {
                internal("the schema of rekor_entries has no name");
            }
            let schema = CStr::from_ptr(pg_sys::quote_identifier(name)).to_string_lossy().into_owned();
            let entry_seq = pg_sys::get_relname_relid(c"rekor_entries_entry_id_seq".as_ptr(), nsp);
            Statement {
                key,
                schema,
                cols: cols((*rel).rd_att),
                entry_seq,
                ext_owner: None,
                last_drawn: None,
                logs: HashMap::new(),
                checkpoints: HashMap::new(),
                last_checkpoint: None,
                authorities: None,
                wrote: false,
            }
        }
    }

    /// The role that owns the extension: the only one that may change stored evidence.
    fn ext_owner(&mut self) -> pg_sys::Oid {
        if let Some(o) = self.ext_owner {
            return o;
        }
        let owner = pinned(|| Spi::connect(|c| {
            let t = c
                .select("SELECT e.extowner FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'rekor_meta'::pg_catalog.name", Some(1), &[])
                .unwrap_or_else(|e| spi_err(e));
            t.first().get::<pg_sys::Oid>(1).ok().flatten()
        }))
        .unwrap_or_else(|| internal("extension rekor_meta is not in pg_extension"));
        self.ext_owner = Some(owner);
        owner
    }

    fn is_owner(&mut self) -> bool {
        unsafe { pg_sys::GetUserId() == self.ext_owner() }
    }

    /// Whether `id` has been drawn from rekor_entries' identity sequence (read as the extension
    /// owner: writers have no privilege on the sequence).
    fn identity_drawn(&mut self, id: i64) -> bool {
        if self.last_drawn.is_some_and(|last| id <= last) {
            return true;
        }
        if self.entry_seq == pg_sys::InvalidOid {
            return false;
        }
        let owner = self.ext_owner();
        let last = unsafe {
            let (mut uid, mut ctx) = (pg_sys::InvalidOid, 0);
            pg_sys::GetUserIdAndSecContext(&mut uid, &mut ctx);
            pg_sys::SetUserIdAndSecContext(owner, ctx | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32);
            let v = pgrx::direct_function_call::<i64>(pg_sys::pg_sequence_last_value, &[Some(pg_sys::Datum::from(self.entry_seq))]);
            pg_sys::SetUserIdAndSecContext(uid, ctx);
            v
        };
        self.last_drawn = last;
        last.is_some_and(|last| id <= last)
    }

    fn log(&mut self, log_id: &[u8]) -> Option<Rc<LogInfo>> {
        if let Some(l) = self.logs.get(log_id) {
            return l.clone();
        }
        let q_log = format!(
            "SELECT l.public_key, l.signer_name, l.origin, l.origin_is_prefix, l.valid_from, l.valid_until \
             FROM {}.rekor_logs l WHERE l.log_id OPERATOR(pg_catalog.=) $1",
            self.schema
        );
        let q_shards = format!(
            "SELECT s.tree_id, s.start_index FROM {}.rekor_log_shards s WHERE s.log_id OPERATOR(pg_catalog.=) $1",
            self.schema
        );
        let info = pinned(|| Spi::connect(|c| {
            let t = c.select(q_log.as_str(), Some(1), &[log_id.into()]).unwrap_or_else(|e| spi_err(e));
            if t.is_empty() {
                return None;
            }
            let row = t.first();
            let get_ts = |i: usize| row.get::<TimestampWithTimeZone>(i).ok().flatten().map(pg_sys::TimestampTz::from);
            let public_key = row.get::<Vec<u8>>(1).ok().flatten().unwrap_or_default();
            let signer_name = row.get::<String>(2).ok().flatten().unwrap_or_default();
            let origin = row.get::<String>(3).ok().flatten().unwrap_or_default();
            let origin_is_prefix = row.get::<bool>(4).ok().flatten().unwrap_or(false);
            let (valid_from, valid_until) = (get_ts(5), get_ts(6));
            let mut shards = Vec::new();
            for r in c.select(q_shards.as_str(), None, &[log_id.into()]).unwrap_or_else(|e| spi_err(e)) {
                let id = r.get::<i64>(1).ok().flatten().and_then(|v| u64::try_from(v).ok());
                let start = r.get::<i64>(2).ok().flatten().and_then(|v| u64::try_from(v).ok());
                if let (Some(id), Some(start)) = (id, start) {
                    shards.push((id, start));
                }
            }
            Some(Rc::new(LogInfo {
                log_id: log_id.to_vec(),
                public_key,
                signer_name,
                origin,
                origin_is_prefix,
                valid_from,
                valid_until,
                shards,
            }))
        }));
        if self.logs.len() >= LOOKUP_LIMIT {
            self.logs.clear();
        }
        self.logs.insert(log_id.to_vec(), info.clone());
        info
    }

    fn authorities(&mut self) -> Rc<Authorities> {
        if let Some(a) = &self.authorities {
            return a.clone();
        }
        let q = format!("SELECT {}.rekor_timestamp_authorities_json()::pg_catalog.text", self.schema);
        let text = pinned(|| Spi::connect(|c| {
            let t = c.select(q.as_str(), Some(1), &[]).unwrap_or_else(|e| spi_err(e));
            t.first().get::<String>(1).ok().flatten()
        }))
        .unwrap_or_else(|| "[]".into());
        let parsed = match parse_json_bytes(text.as_bytes()) {
            Ok(v) => stored_authorities(&v),
            Err(e) => Err(format!("the stored authorities do not parse: {e}")),
        };
        let a = Rc::new(parsed);
        self.authorities = Some(a.clone());
        a
    }

    /// The stored checkpoint (log, origin, size, root), if any.
    fn stored_checkpoint(&mut self, log_id: &[u8], origin: &str, tree_size: i64, root_hash: &[u8]) -> Option<i64> {
        if let Some(((l, o, t, r), id)) = &self.last_checkpoint {
            if l == log_id && o == origin && *t == tree_size && r == root_hash {
                return Some(*id);
            }
        }
        let key = (log_id.to_vec(), origin.to_string(), tree_size, root_hash.to_vec());
        if let Some(id) = self.checkpoints.get(&key) {
            self.last_checkpoint = Some((key, *id));
            return Some(*id);
        }
        let q = format!(
            "SELECT c.checkpoint_id FROM {}.rekor_checkpoints c WHERE c.log_id OPERATOR(pg_catalog.=) $1 \
             AND c.origin OPERATOR(pg_catalog.=) $2 AND c.tree_size OPERATOR(pg_catalog.=) $3 \
             AND c.root_hash OPERATOR(pg_catalog.=) $4",
            self.schema
        );
        let id = pinned(|| Spi::connect(|c| {
            let t = c
                .select(q.as_str(), Some(1), &[log_id.into(), origin.into(), tree_size.into(), root_hash.into()])
                .unwrap_or_else(|e| spi_err(e));
            if t.is_empty() {
                None
            } else {
                t.first().get::<i64>(1).ok().flatten()
            }
        }))?;
        // A statement over many distinct stored checkpoints keeps a bounded number of them.
        if self.checkpoints.len() >= LOOKUP_LIMIT {
            self.checkpoints.clear();
        }
        self.checkpoints.insert(key.clone(), id);
        self.last_checkpoint = Some((key, id));
        Some(id)
    }
}

unsafe fn cols(tupdesc: pg_sys::TupleDesc) -> Cols {
    let mut by_name: HashMap<String, usize> = HashMap::new();
    unsafe {
        let natts = usize::try_from((*tupdesc).natts).unwrap_or(0);
        let attrs = (*tupdesc).attrs.as_slice(natts);
        for (i, a) in attrs.iter().enumerate() {
            if !a.attisdropped {
                by_name.insert(CStr::from_ptr(a.attname.data.as_ptr()).to_string_lossy().into_owned(), i);
            }
        }
    }
    let at = |n: &str| *by_name.get(n).unwrap_or_else(|| internal(&format!("rekor_entries has no column {n}")));
    Cols {
        entry_id: at("entry_id"),
        log_id: at("log_id"),
        entry_uuid: at("entry_uuid"),
        log_index: at("log_index"),
        proof_log_index: at("proof_log_index"),
        tree_id: at("tree_id"),
        kind: at("kind"),
        api_version: at("api_version"),
        integrated_time: at("integrated_time"),
        body: at("body"),
        leaf_hash: at("leaf_hash"),
        tree_size: at("tree_size"),
        root_hash: at("root_hash"),
        proof_hashes: at("proof_hashes"),
        checkpoint: at("checkpoint"),
        checkpoint_id: at("checkpoint_id"),
        signed_entry_timestamp: at("signed_entry_timestamp"),
        digest_keys: at("digest_keys"),
        log_index_authenticated: at("log_index_authenticated"),
        integrated_time_authenticated: at("integrated_time_authenticated"),
        signing_time: at("signing_time"),
        signing_time_source: at("signing_time_source"),
        rfc3161_timestamp: at("rfc3161_timestamp"),
        timestamp_tsa_id: at("timestamp_tsa_id"),
        dsse_envelope: at("dsse_envelope"),
        verifier: at("verifier"),
    }
}

/// BEFORE INSERT OR UPDATE on rekor_entries: checks 1-6 of the new row (README "Checks"); fills
/// leaf_hash, tree_id, kind, api_version, digest_keys, the authentication flags, the signing time and
/// the checkpoint the proof ends in from the evidence; never keeps a caller's value for them.
#[pg_trigger]
fn rekor_entries_verify<'a>(
    trigger: &'a PgTrigger<'a>,
) -> Result<Option<PgHeapTuple<'a, AllocatedByPostgres>>, std::convert::Infallible> {
    let td = trigger.trigger_data();
    let is_update = matches!(trigger.op(), Ok(PgTriggerOperation::Update));
    unsafe {
        let tuple = if is_update { td.tg_newtuple } else { td.tg_trigtuple };
        let rel = td.tg_relation;
        if tuple.is_null() || rel.is_null() {
            internal("rekor_entries_verify fired without a new row");
        }
        let new = verify_row(rel, tuple, is_update);
        Ok(Some(PgHeapTuple::from_heap_tuple(pgrx::PgTupleDesc::from_pg_unchecked((*rel).rd_att), new)))
    }
}

unsafe fn verify_row(rel: pg_sys::Relation, tuple: pg_sys::HeapTuple, is_update: bool) -> pg_sys::HeapTuple {
    unsafe {
        if !CALLBACKS.with(Cell::get) {
            pg_sys::RegisterXactCallback(Some(on_xact), std::ptr::null_mut());
            pg_sys::RegisterSubXactCallback(Some(on_subxact), std::ptr::null_mut());
            CALLBACKS.with(|c| c.set(true));
        }
        let key = (
            GENERATION.with(Cell::get),
            pg_sys::GetCurrentCommandId(false),
            pg_sys::GetCurrentSubTransactionId(),
            pg_sys::GetUserId(),
            (*rel).rd_id,
        );
        // Taken out for the row, put back when it passes: a row that fails leaves nothing behind.
        let mut st = match STATEMENT.with(|s| s.borrow_mut().take()) {
            Some(st) if st.key == key => st,
            _ => Statement::new(key, rel),
        };
        let out = check_row(&mut st, rel, tuple, is_update);
        // SPI moves the command id on (pgrx runs queries read-write once the transaction has written):
        // the lookups' own queries change nothing, so they stay; a stored checkpoint is a write, after
        // which everything is looked up again.
        st.key.1 = pg_sys::GetCurrentCommandId(false);
        if st.wrote {
            st.logs.clear();
            st.checkpoints.clear();
            st.last_checkpoint = None;
            st.authorities = None;
            st.wrote = false;
        }
        STATEMENT.with(|s| *s.borrow_mut() = Some(st));
        out
    }
}

unsafe fn check_row(st: &mut Statement, rel: pg_sys::Relation, tuple: pg_sys::HeapTuple, is_update: bool) -> pg_sys::HeapTuple {
    unsafe {
        let tupdesc = (*rel).rd_att;
        let natts = usize::try_from((*tupdesc).natts).unwrap_or(0);
        let mut values = vec![pg_sys::Datum::from(0usize); natts];
        let mut nulls = vec![true; natts];
        pg_sys::heap_deform_tuple(tuple, tupdesc, values.as_mut_ptr(), nulls.as_mut_ptr());
        let c = st.cols;
        // A value stored out of line (INSERT ... SELECT from a table) is fetched once, here, and its
        // fetched form (still compressed) goes into the stored row: the toaster does not fetch it again.
        let mut fetched = Vec::new();
        let attrs = (*tupdesc).attrs.as_slice(natts);
        for i in [c.body, c.proof_hashes, c.checkpoint, c.signed_entry_timestamp, c.rfc3161_timestamp, c.dsse_envelope, c.verifier] {
            if i < natts && !nulls[i] && attrs[i].attlen == -1 {
                let p = values[i].cast_mut_ptr::<pg_sys::varlena>();
                if pgrx::varlena::varatt_is_1b_e(p) && pgrx::varlena::vartag_external(p) == pg_sys::vartag_external::VARTAG_ONDISK as u8 {
                    values[i] = pg_sys::Datum::from(pg_sys::detoast_external_attr(p));
                    fetched.push(i);
                }
            }
        }
        let datum = |i: usize| if nulls[i] { None } else { Some(values[i]) };
        let bytes = |i: usize| datum(i).and_then(|d| <&[u8]>::from_datum(d, false));
        let text = |i: usize| datum(i).and_then(|d| Text::from_datum(d, false)).map(|t| t.0);
        let int8 = |i: usize| datum(i).map(|d| d.value() as i64);

        if is_update && !st.is_owner() {
            code_raise(
                PgSqlErrorCode::ERRCODE_INSUFFICIENT_PRIVILEGE,
                "rekor_meta evidence is append-only: UPDATE on rekor_entries is not allowed",
                "",
                None,
            );
        }
        if !is_update {
            let id = int8(c.entry_id);
            let drawn = id.is_some_and(|id| st.identity_drawn(id));
            if !drawn && !st.is_owner() {
                code_raise(
                    PgSqlErrorCode::ERRCODE_GENERATED_ALWAYS,
                    "entry_id is assigned by the database",
                    &format!("entry_id {} has not been drawn from its sequence", id.map(|v| v.to_string()).unwrap_or_default()),
                    Some("Insert without entry_id (no OVERRIDING SYSTEM VALUE)."),
                );
            }
        }
        let c = st.cols;
        let (body, log_id, log_index, proof_log_index, tree_size, root_hash, checkpoint) = (
            bytes(c.body),
            bytes(c.log_id),
            int8(c.log_index),
            int8(c.proof_log_index),
            int8(c.tree_size),
            bytes(c.root_hash),
            text(c.checkpoint),
        );
        let proof = datum(c.proof_hashes).and_then(|d| ByteaArray::from_datum(d, false));
        let (
            Some(body),
            Some(log_id),
            Some(log_index),
            Some(proof_log_index),
            Some(tree_size),
            Some(root_hash),
            Some(proof),
            Some(checkpoint),
        ) = (body, log_id, log_index, proof_log_index, tree_size, root_hash, proof, checkpoint)
        else {
            code_raise(
                PgSqlErrorCode::ERRCODE_NOT_NULL_VIOLATION,
                "entry is missing its evidence",
                "body, log_id, log_index, proof_log_index, tree_size, root_hash, proof_hashes and checkpoint are required",
                None,
            );
        };
        let Some(log) = st.log(log_id) else {
            reject("entry log is not a trusted log", &format!("log_id {} is not in rekor_logs", hex::encode(log_id)));
        };
        let c = st.cols;
        // The SET signs integer seconds; a stored time is exactly the signed one, never rounded to it.
        let integrated_time = int8(c.integrated_time);
        let itime = match integrated_time {
            None => None,
            Some(t) if t != i64::MAX && t != i64::MIN && t.rem_euclid(1_000_000) == 0 => Some(t.div_euclid(1_000_000) + PG_EPOCH_US / 1_000_000),
            Some(t) => reject(
                "check 4 (signed entry timestamp): integrated_time must be whole seconds",
                &format!("integrated_time {} is not the integer seconds a SET signs", ts_text(t)),
            ),
        };
        let set = bytes(c.signed_entry_timestamp);
        let token = bytes(c.rfc3161_timestamp);
        let entry_uuid = text(c.entry_uuid);
        let given_tree_id = int8(c.tree_id);
        let (given_kind, given_api) = (text(c.kind), text(c.api_version));
        let envelope_datum = datum(c.dsse_envelope);
        let verifier = bytes(c.verifier);

        // 6. An RFC 3161 timestamp, where given, verifies (rekor_meta_core::timestamp), before the key
        // window its genTime may pick. A body that does not parse is check 5's to report.
        let (mut ts_at, mut tsa_id) = (None, None);
        if let Some(token) = token {
            let auth = st.authorities();
            let auth = auth.as_ref().as_ref().map(|(ids, tsas)| (ids.as_slice(), tsas.as_slice())).map_err(|e| e.as_str());
            match check_token(token, body, auth) {
                Ok((id, gen_us)) => {
                    ts_at = Some(gen_us - PG_EPOCH_US);
                    tsa_id = id;
                }
                Err(("body", _)) => {}
                Err((check, error)) => reject(
                    &format!("check 6 (timestamp): {check}: the RFC 3161 token does not verify"),
                    &format!("{error}; token {} bytes, SHA-256 {}", token.len(), hex::encode(Sha256::digest(token))),
                ),
            }
        }
        // The signing time is computed, never taken from the caller: the integrated time a SET signs
        // (check 4), else a verified timestamp's genTime, else none.
        let (signing_time, source) = match (set, integrated_time, ts_at) {
            (Some(_), Some(t), _) => (Some(t), "set"),
            (_, _, Some(t)) => (Some(t), "rfc3161"),
            _ => (None, "none"),
        };
        // The key must be valid when the entry was signed: at the signing time; without one nothing
        // vouches for a time, so: now.
        let at = signing_time.unwrap_or_else(|| pg_sys::GetCurrentTransactionStartTimestamp());
        if log.valid_from.is_some_and(|f| at < f) || log.valid_until.is_some_and(|u| at > u) {
            reject(
                "log key is not valid at the entry's time",
                &format!(
                    "log {} is valid from {} until {}; entry time {}{}",
                    hex::encode(&log.log_id),
                    log.valid_from.map(ts_text).unwrap_or_else(|| "-infinity".into()),
                    log.valid_until.map(ts_text).unwrap_or_else(|| "infinity".into()),
                    ts_text(at),
                    match source {
                        "rfc3161" => " (the RFC 3161 timestamp's genTime)",
                        "none" => " (now: no SET signs an integrated time)",
                        _ => "",
                    }
                ),
            );
        }

        // Checks 1-4 in one pass (rekor_meta_core::evidence), in order, the first failure reported.
        let ev = evidence(
            EvidenceArgs {
                body: Some(body),
                entry_uuid,
                leaf_hash: bytes(c.leaf_hash),
                proof_log_index: Some(proof_log_index),
                tree_size: Some(tree_size),
                root_hash: Some(root_hash),
                proof_hashes: Some(proof.0.iter().collect()),
                checkpoint: Some(checkpoint),
                signed_entry_timestamp: set,
                integrated_time: itime,
                log_id: Some(log_id),
                log_index: Some(log_index),
                public_key: Some(&log.public_key),
                signer_name: Some(&log.signer_name),
                origin: Some(&log.origin),
                origin_is_prefix: Some(log.origin_is_prefix),
            },
            Some(&log.shards),
        );
        let ev = match ev {
            Ok(ev) => ev,
            Err((_, message, detail)) => reject(&message, &detail),
        };
        if given_tree_id.is_some() && given_tree_id != ev.tree_id {
            reject(
                "check 3 (checkpoint): tree_id is not the shard the UUID and checkpoint name",
                &format!(
                    "given tree_id {}; uuid {}, checkpoint origin {}",
                    given_tree_id.map(|v| v.to_string()).unwrap_or_default(),
                    entry_uuid.unwrap_or("none"),
                    quote_literal(&ev.checkpoint_origin)
                ),
            );
        }

        // The checkpoint is stored through the checkpoints capability (rekor_entry_checkpoint), so
        // fork detection applies; most entries of a statement share one, found once.
        let checkpoint_id = match st.stored_checkpoint(log_id, &ev.checkpoint_origin, tree_size, root_hash) {
            Some(id) => id,
            None => store_checkpoint(st, checkpoint, log_id, tree_size, root_hash, &ev.checkpoint_origin, body, set, itime, log_index, token),
        };

        // 5. The body must be a Rekor entry (kind, apiVersion, spec); its digests become searchable.
        let parsed = match parse_body(body) {
            Ok(p) => p,
            Err(e) => reject("check 5 (body): the body is not a Rekor entry", &e.to_string()),
        };
        if given_kind.is_some_and(|k| k != parsed.kind) || given_api.is_some_and(|a| a != parsed.api_version) {
            reject(
                "check 5 (body): kind or api_version disagrees with the body",
                &format!(
                    "given {} {}, the body says {} {}",
                    given_kind.unwrap_or(""),
                    given_api.unwrap_or(""),
                    parsed.kind,
                    parsed.api_version
                ),
            );
        }
        // What a bundle brings that the body lacks is stored only if it is the body's own.
        if let Some(d) = envelope_datum {
            if let Some(env) = Jsonb::from_datum(d, false) {
                if let Some(m) = crate::queue::rekor_entry_envelope_mismatch(body, env) {
                    reject("check 5 (body): the DSSE envelope is not the one the body logs", &m);
                }
            }
        }
        if let Some(v) = verifier {
            let env = envelope_datum.and_then(|d| Jsonb::from_datum(d, false));
            if let Some(m) = crate::bundle::rekor_entry_verifier_mismatch(Some(body), Some(v), env) {
                reject("check 5 (body): the verifier is not the body's", &m);
            }
        }

        // The row as stored: every derived column from the evidence, none from the caller.
        let c = st.cols;
        let mut repl = vec![pg_sys::Datum::from(0usize); natts];
        let mut repl_null = vec![false; natts];
        let mut do_repl = vec![false; natts];
        let mut set_col = |i: usize, v: Option<pg_sys::Datum>| {
            do_repl[i] = true;
            match v {
                Some(d) => repl[i] = d,
                None => repl_null[i] = true,
            }
        };
        for &i in &fetched {
            set_col(i, Some(values[i]));
        }
        set_col(c.leaf_hash, ev.leaf_hash.into_datum());
        if let Some(u) = entry_uuid {
            set_col(c.entry_uuid, u.to_ascii_lowercase().into_datum());
        }
        set_col(c.tree_id, ev.tree_id.and_then(|t| t.into_datum()));
        set_col(c.log_index_authenticated, ev.log_index_authenticated.into_datum());
        set_col(c.integrated_time_authenticated, (set.is_some() && integrated_time.is_some()).into_datum());
        set_col(c.checkpoint_id, checkpoint_id.into_datum());
        set_col(c.signing_time, signing_time.map(pg_sys::Datum::from));
        set_col(c.signing_time_source, source.into_datum());
        set_col(c.timestamp_tsa_id, tsa_id.and_then(|t| t.into_datum()));
        set_col(c.kind, parsed.kind.as_str().into_datum());
        set_col(c.api_version, parsed.api_version.as_str().into_datum());
        let keys: Vec<Vec<u8>> = parsed.digests.iter().map(|d| digest_key(&d.algorithm, &d.value)).collect();
        set_col(c.digest_keys, keys.into_datum());
        pg_sys::heap_modify_tuple(tuple, tupdesc, repl.as_mut_ptr(), repl_null.as_mut_ptr(), do_repl.as_mut_ptr())
    }
}

/// A checkpoint not stored yet: through rekor_entry_checkpoint (SECURITY DEFINER: verifies it is
/// the log's, refuses a fork, records when it was seen from the SET or a verified timestamp).
#[allow(clippy::too_many_arguments)]
fn store_checkpoint(
    st: &mut Statement,
    note: &str,
    log_id: &[u8],
    tree_size: i64,
    root_hash: &[u8],
    origin: &str,
    body: &[u8],
    set: Option<&[u8]>,
    itime: Option<i64>,
    log_index: i64,
    token: Option<&[u8]>,
) -> i64 {
    st.wrote = true;
    let q = format!("SELECT {}.rekor_entry_checkpoint($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)", st.schema);
    let bytea_or_null = |v: Option<&[u8]>| match v {
        Some(b) => b.into(),
        None => pgrx::datum::DatumWithOid::null_oid(pg_sys::BYTEAOID),
    };
    let itime_arg = match itime {
        Some(t) => t.into(),
        None => pgrx::datum::DatumWithOid::null_oid(pg_sys::INT8OID),
    };
    let args = [
        note.into(),
        log_id.into(),
        tree_size.into(),
        root_hash.into(),
        origin.into(),
        body.into(),
        bytea_or_null(set),
        itime_arg,
        log_index.into(),
        bytea_or_null(token),
    ];
    pinned(|| Spi::connect_mut(|c| {
        let t = c.update(q.as_str(), Some(1), &args).unwrap_or_else(|e| spi_err(e));
        t.first().get::<i64>(1).ok().flatten()
    }))
    .unwrap_or_else(|| internal("rekor_entry_checkpoint returned no checkpoint"))
}
