//! Hostile input at the SQL level (issue 7). For every SQL function of the extension — enumerated
//! from the catalog, so a new function without hostile coverage fails
//! `every_extension_function_is_in_the_hostile_table` — and every argument: NULL, empty arrays,
//! arrays with NULL elements, multi-dimensional arrays, values past every size limit, JSON nested
//! 10,000 levels deep, numbers beyond 2^63 and beyond a double, negative sizes, and (in a SQL_ASCII
//! database) text and JSON that are not UTF-8. Each call either returns or raises an ERROR with a
//! chosen SQLSTATE: never XX000 (a Rust panic), never a lost connection, never a postmaster restart.
//!
//! Memory: with 100 MB text, bytea and jsonb (and the largest documents accepted), a backend's peak
//! resident set (VmHWM in /proc/<pid>/status, reset through /proc/<pid>/clear_refs before each
//! call) grows by at most the input's size plus 64 MiB. The backend runs on this machine; the tests
//! run as root, so they can read and reset it.
//!
//! The limits that bound the work one call can cause (proof-of-work style abuse) are pinned with
//! their SQLSTATEs: 64 proof hashes, 1 MiB and 100 signatures per note, 100 DSSE signatures, 1000
//! entries per document, JSON documents of 16 MiB / 100 levels / 200,000 values, keys of 16 KiB,
//! dequeue batches of 1000, enqueue batches of 10,000, 2^20 reference leaves.
use postgres::Client;
use rekor_meta_client_tests::notes::{checkpoint_text, Ed25519Signer};
use rekor_meta_client_tests::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

const MIB: i64 = 1 << 20;

/// Every non-trigger function of the extension (`regprocedure` text) and the hostile cases beyond
/// the generic ones (every function gets those: NULL and each hostile value of its argument types in
/// every position). A function added to the extension must be added here.
const HOSTILE_TABLE: &[(&str, &str)] = &[
    ("rekor_add_log(text,text,text,timestamp with time zone,timestamp with time zone)", "generic; 100 MB signer name (memory)"),
    ("rekor_body_digests(bytea)", "generic; 100 MB body (memory)"),
    ("rekor_body_info(bytea)", "generic; 100 MB body, body over the JSON limits (memory)"),
    ("rekor_checkpoint_check(text,bytea,text)", "generic; 100 MB note (memory)"),
    ("rekor_checkpoint_consistency_verify()", "trigger"),
    ("rekor_checkpoint_fields(text)", "generic; note size and signature limits"),
    ("rekor_checkpoint_log(text,timestamp with time zone)", "generic"),
    ("rekor_checkpoint_signed_by(text,bytea,text)", "generic"),
    ("rekor_checkpoints_consistent(bigint,bigint,bytea,bytea,bytea[])", "generic; 65-hash proof"),
    ("rekor_dequeue(text,integer,interval)", "generic; batch and lease limits"),
    ("rekor_digest_key(text,bytea)", "generic; 100 MB algorithm and digest (memory, no echo)"),
    ("rekor_dsse_info(jsonb)", "generic; 100 MB, 16 MiB and 200,000-value documents (memory); 101 signatures"),
    ("rekor_dsse_info_batch(jsonb[])", "generic; 10,001 elements, 2-D and NULL-element arrays"),
    ("rekor_enqueue(jsonb,bytea,integer,text)", "generic; JSON limits; 100 MB and 16 MiB envelopes (memory)"),
    ("rekor_set_log_endpoint(bytea,text,integer)", "generic"),
    ("rekor_queue_notify()", "trigger"),
    ("rekor_enqueue_batch(jsonb[],bytea,integer)", "generic; 10,000 and 10,001 envelopes, 2-D and NULL-element batches; 100 MB element (memory)"),
    ("rekor_array_shape(anyarray,bigint)", "generic"),
    ("rekor_enqueue_batch_check(bigint,integer,text,bigint,bigint,bytea,integer)", "generic"),
    ("rekor_enqueue_batch_impl(jsonb[],bytea,integer)", "generic (internal: called after rekor_enqueue_batch_check)"),
    ("rekor_entries_by_digest(text,bytea)", "generic"),
    ("rekor_entry_checkpoint(text,bytea,bigint,bytea,text,bytea,bytea,bigint,bigint,bytea)", "generic"),
    ("rekor_trusted_root_tsas(jsonb)", "generic; JSON limits"),
    ("rekor_timestamp_check(bytea,bytea,jsonb)", "generic; 100 MB token and body (memory)"),
    ("rekor_timestamp_authorities_json()", "no arguments"),
    ("rekor_timestamp_authorities_guard()", "trigger"),
    ("rekor_import_timestamp_authorities(jsonb)", "generic"),
    ("rekor_bundle_material(jsonb)", "generic; JSON limits"),
    ("rekor_entry_verifier_mismatch(bytea,bytea,jsonb)", "generic"),
    ("rekor_bundle_export(bytea,bytea,bigint,bigint,text,text,bytea,bigint,bigint,bytea,bytea[],text,jsonb,bytea,bytea[])", "generic; negative indexes, 2-D proof"),
    ("rekor_export_bundle(bigint)", "generic"),
    ("rekor_vex_evidence_bundles(text,text)", "generic"),
    ("rekor_entry_evidence(bytea,text,bytea,bigint,bigint,bytea,bytea[],text,bytea,bigint,bytea,bigint,bytea,text,text,boolean,bigint[],bigint[])", "generic; 65-hash proof, negative sizes"),
    ("rekor_note_tree_id(text)", "generic"),
    ("rekor_verify_checkpoint(text,bytea,text)", "generic"),
    ("rekor_verify_checkpoint(text,text,text)", "generic"),
    ("rekor_add_log_shard(bytea,bigint,bigint)", "generic"),
    ("rekor_import_trusted_root(jsonb)", "generic"),
    ("rekor_identity_drawn(text,bigint)", "generic"),
    ("rekor_vex_payload_time(jsonb)", "generic"),
    ("rekor_vex_carried_time(jsonb,jsonb,timestamp with time zone,boolean)", "generic"),
    ("rekor_logs_derive()", "trigger"),
    ("rekor_log_shards_verify()", "trigger"),
    ("rekor_witness_state_origin()", "trigger"),
    ("rekor_verifier_check(jsonb,text)", "generic"),
    ("rekor_entry_envelope_mismatch(bytea,jsonb)", "generic; JSON limits; 100 MB body, 100 MB and 16 MiB envelopes (memory)"),
    ("rekor_entry_evidence_check(bytea,text,bytea,bigint,bigint,bytea,bytea[],text,bytea,bigint,bytea,bigint,bytea,text,text,boolean)", "generic; 65-hash proof, negative sizes, 100 MB body (memory)"),
    ("rekor_extend_lease(bigint,text,interval)", "generic"),
    ("rekor_forbid_change()", "trigger"),
    ("rekor_inclusion_proof_error(bytea,bigint,bigint,bytea[],bytea)", "generic; 65-hash proof, negative sizes"),
    ("rekor_inclusion_root(bytea,bigint,bigint,bytea[])", "generic; 65-hash proof, negative sizes, 2-D proof"),
    ("rekor_ingest_bundle(jsonb)", "generic; JSON limits; 100 MB bundle (memory)"),
    ("rekor_ingest_entry(jsonb)", "generic; JSON limits, 1001 entries; 100 MB response (memory)"),
    ("rekor_ingest_rows(jsonb,boolean)", "generic"),
    ("rekor_is_extension_owner()", "no arguments"),
    ("rekor_leaf_hash(bytea)", "generic; 100 MB data (memory)"),
    ("rekor_link_vex(jsonb,bigint)", "generic"),
    ("rekor_link_vex(jsonb,bytea)", "generic"),
    ("rekor_logs_for_origin(text,timestamp with time zone)", "generic"),
    ("rekor_logs_guard()", "trigger"),
    ("rekor_mark_failed(bigint,text,text,boolean)", "generic"),
    ("rekor_mark_failed_batch(bigint[],text,text,boolean)", "generic (2-D, NULL-element and 1001-element id arrays)"),
    ("rekor_mark_submitted(bigint,text,jsonb)", "generic"),
    ("rekor_merkle_consistency_proof(bytea[],bigint)", "generic; negative size1, 2^20 leaves (memory)"),
    ("rekor_merkle_inclusion_proof(bytea[],bigint)", "generic; negative index, 2^20 leaves (memory)"),
    ("rekor_merkle_root(bytea[])", "generic; 2^20 + 1 leaves, 2^20 leaves and a 100 MB leaf (memory)"),
    ("rekor_node_hash(bytea,bytea)", "generic; 100 MB children (memory)"),
    ("rekor_parse_bundle(jsonb)", "generic; 1001 entries, numbers beyond 2^63, 100 MB bundle (memory)"),
    ("rekor_parse_checkpoint(text)", "generic; 1 MiB and 100-signature limits, 100 MB note (memory)"),
    ("rekor_parse_cyclonedx_vex(jsonb)", "generic"),
    ("rekor_parse_log_key(text,text)", "generic; 16 KiB key limit, 100 MB key (memory)"),
    ("rekor_parse_rest_response(jsonb)", "generic; 1001 entries, numbers beyond 2^63, 200,000 values (memory)"),
    ("rekor_parse_vex(jsonb)", "generic"),
    ("rekor_queue_lease_check(bigint,text)", "generic"),
    ("rekor_record_checkpoint(text)", "generic"),
    ("rekor_raise_unverified(bigint,text,text)", "generic"),
    ("rekor_reject_entry(text,text)", "generic"),
    ("rekor_requeue(bigint)", "generic"),
    ("rekor_verify_checkpoint(text,bytea)", "generic; 100 MB note (memory)"),
    ("rekor_verify_checkpoint(text,text)", "generic"),
    ("rekor_verify_checkpoint_consistency(bigint,bigint,bytea[])", "generic"),
    ("rekor_verify_consistency(bigint,bigint,bytea,bytea,bytea[])", "generic; 65-hash proof, negative sizes"),
    ("rekor_verify_all()", "generic"),
    ("rekor_verify_inclusion(bigint)", "generic"),
    ("rekor_verify_inclusion_proof(bytea,bigint,bigint,bytea[],bytea)", "generic; 64/65-hash proofs, negative sizes"),
    ("rekor_verify_inclusion_report(bigint)", "generic"),
    ("rekor_verify_set(bytea,bytea,bigint,bytea,bigint,bytea)", "generic; 100 MB body (memory)"),
    ("rekor_vex_attested(jsonb,jsonb)", "generic"),
    ("rekor_vex_component_id(jsonb,text)", "generic"),
    ("rekor_vex_evidence(text,text)", "generic"),
    ("rekor_vex_invalid(text,text,text)", "generic"),
    ("rekor_vex_link_submitted()", "trigger"),
    ("rekor_vex_links_verify()", "trigger"),
    ("rekor_vex_store(jsonb,bytea,bigint,bigint,jsonb)", "generic"),
    ("rekor_vex_string(jsonb,text)", "generic"),
    ("rekor_vex_time(jsonb,text)", "generic"),
    ("rekor_witness_checkpoint(text,bigint,bytea[])", "generic (negative and extreme old sizes, 65-hash and 2-D proofs)"),
    ("rekor_submission_key_now(bytea,bytea)", "generic"),
    ("rekor_submission_keys_follow()", "trigger"),
    ("rekor_checkpoints_verify()", "trigger"),
    ("rekor_entries_verify()", "trigger"),
];

/// A function of the extension as the catalog describes it.
#[derive(Debug, Clone)]
struct Func {
    signature: String,
    qualified: String,
    arg_types: Vec<String>,
    returns: String,
    /// "c" (the Rust functions), "plpgsql" or "sql".
    language: String,
}

fn extension_functions(c: &mut Client) -> Vec<Func> {
    c.query(
        "SELECT p.oid::regprocedure::text, quote_ident(n.nspname) || '.' || quote_ident(p.proname),
                ARRAY(SELECT format_type(t, NULL) FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY u(t, i) ORDER BY i),
                format_type(p.prorettype, NULL), l.lanname
         FROM pg_proc p
         JOIN pg_namespace n ON n.oid = p.pronamespace
         JOIN pg_language l ON l.oid = p.prolang
         JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                         AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
         JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'rekor_meta'
         ORDER BY 1",
        &[],
    )
    .expect("catalog")
    .iter()
    .map(|r| Func { signature: r.get(0), qualified: r.get(1), arg_types: r.get(2), returns: r.get(3), language: r.get(4) })
    .collect()
}

/// A 32-byte hash as SQL.
const H: &str = "decode(repeat('ab', 32), 'hex')";

/// A value of `ty` that is ordinary, used in the positions not under test.
fn plausible(ty: &str) -> Option<String> {
    Some(match ty {
        "bytea" => H.to_string(),
        "text" => "'x'".to_string(),
        "bigint" => "1".to_string(),
        "integer" => "1".to_string(),
        "boolean" => "true".to_string(),
        "bytea[]" => "'{}'".to_string(),
        "bigint[]" => "'{1}'".to_string(),
        "jsonb" => "'{}'".to_string(),
        "jsonb[]" => "ARRAY['{}'::jsonb]".to_string(),
        "anyarray" => "ARRAY['{}'::jsonb]".to_string(),
        "timestamp with time zone" => "now()".to_string(),
        "interval" => "'1 minute'".to_string(),
        _ => return None,
    })
}

/// Hostile values of `ty` as SQL expressions (without the cast to `ty`, added by the caller).
fn hostile(ty: &str) -> Option<Vec<String>> {
    let deep_array = "(repeat('[', 10000) || repeat(']', 10000))";
    let deep_object = "(repeat('{\"a\":', 10000) || '1' || repeat('}', 10000))";
    let v: Vec<String> = match ty {
        "bytea" => vec![
            "'\\x'".into(),
            "'\\xff'".into(),           // not UTF-8
            "'\\xc328'".into(),         // a broken two-byte sequence
            "'\\x30'".into(),           // a DER SEQUENCE tag and nothing else
            "decode(repeat('ab', 33), 'hex')".into(),
            "decode(repeat('ff', 1048577), 'hex')".into(),
            format!("convert_to({deep_array}, 'UTF8')"),
        ],
        "text" => vec![
            "''".into(),
            "repeat('x', 1048577)".into(),
            "E'\\x01\\n\\n'".into(),
            "'— a b+c'".into(),
            deep_array.into(),
            "'-1'".into(),
            "'9223372036854775808'".into(),
            "repeat('é', 100000)".into(),
        ],
        "bigint" => vec!["-1".into(), "0".into(), "-9223372036854775808".into(), "9223372036854775807".into()],
        "integer" => vec!["-1".into(), "0".into(), "-2147483648".into(), "2147483647".into(), "1001".into()],
        "boolean" => vec!["false".into()],
        "bytea[]" => vec![
            "'{}'".into(),
            "ARRAY[NULL]::bytea[]".into(),
            format!("ARRAY[{H}, NULL]"),
            format!("ARRAY[[{H}, {H}], [{H}, {H}]]"),
            format!("array_fill({H}, ARRAY[2, 2, 2])"),
            format!("array_fill({H}, ARRAY[1], ARRAY[-5])"),
            format!("array_fill({H}, ARRAY[65])"),
            "ARRAY['\\x'::bytea]".into(),
            "ARRAY[decode(repeat('ff', 1048577), 'hex')]".into(),
        ],
        "anyarray" => vec![
            "'{}'::jsonb[]".into(),
            "ARRAY[NULL]::jsonb[]".into(),
            "ARRAY[['{}', NULL], ['{}', '{}']]::jsonb[]".into(),
            "'[5:6]={1,NULL}'::int[]".into(),
            "ARRAY[repeat('x', 1048577)]".into(),
            "array_fill(1::bigint, ARRAY[200001])".into(),
        ],
        "bigint[]" => vec![
            "'{}'".into(),
            "ARRAY[NULL]::bigint[]".into(),
            "ARRAY[[1, 2], [3, 4]]".into(),
            "ARRAY[-1, 9223372036854775807]".into(),
            "array_fill(1::bigint, ARRAY[1001])".into(),
        ],
        "jsonb" => vec![
            "'null'".into(),
            "'[]'".into(),
            "'\"x\"'".into(),
            "'0'".into(),
            deep_array.into(),
            deep_object.into(),
            "'{\"a\": 1e400}'".into(),
            "'[-1e400, 1e-400]'".into(),
            "'{\"logIndex\": 9223372036854775808, \"integratedTime\": 18446744073709551616, \"treeSize\": -1, \"x\": 1.5}'".into(),
            "(SELECT jsonb_agg(0) FROM generate_series(1, 200001))".into(),
            "jsonb_build_object('payloadType', repeat(chr(1), 100000), 'payload', '', 'signatures', '[]'::jsonb)".into(),
        ],
        "jsonb[]" => vec![
            "'{}'".into(),
            "ARRAY[NULL]::jsonb[]".into(),
            "ARRAY[['{}'::jsonb], ['{}'::jsonb]]".into(),
            "ARRAY['null'::jsonb]".into(),
            format!("ARRAY[{deep_array}::jsonb]"),
            "ARRAY['{\"a\": 1e400}'::jsonb]".into(),
            "array_fill('{}'::jsonb, ARRAY[10001])".into(),
        ],
        "timestamp with time zone" => vec!["'infinity'".into(), "'-infinity'".into(), "'epoch'".into()],
        "interval" => vec!["'-1 day'".into(), "'0'".into(), "'100 years'".into()],
        _ => return None,
    };
    Some(v)
}

/// Why an outcome is not acceptable, or None: a result, or an ERROR with a chosen SQLSTATE (whose
/// message and detail, with `check_echo`, do not echo a huge input).
fn unacceptable<T>(r: &Result<T, postgres::Error>) -> Option<String> {
    unacceptable_with(r, true)
}

fn unacceptable_with<T>(r: &Result<T, postgres::Error>, check_echo: bool) -> Option<String> {
    let e = r.as_ref().err()?;
    let Some(db) = e.as_db_error() else {
        return Some(format!("not a database error (connection lost?): {e}"));
    };
    let code = db.code().code();
    // XX: internal error (a Rust panic is XX000); 58: system error; 57: operator intervention
    // (a statement timeout, a crash); 53: out of memory or disk.
    if code.starts_with("XX") || code.starts_with("58") || code.starts_with("57") || code.starts_with("53") {
        return Some(format!("SQLSTATE {code}: {}", db.message()));
    }
    // A message or detail that echoes a huge input is itself an allocation the size of the input.
    let size = db.message().len() + db.detail().map_or(0, str::len);
    if check_echo && size > 4096 {
        return Some(format!("SQLSTATE {code}: error text is {size} bytes"));
    }
    None
}

/// Calls `func` with `args` (SQL expressions) in a transaction that is rolled back, and returns
/// (SQL, outcome). A set-returning or composite function is read completely.
fn call(c: &mut Client, func: &Func, args: &[String]) -> (String, Result<u64, postgres::Error>) {
    // A polymorphic argument cannot be cast to its pseudo-type: its values carry their own type.
    let args: Vec<String> = args
        .iter()
        .zip(&func.arg_types)
        .map(|(a, t)| if t == "anyarray" { format!("({a})") } else { format!("({a})::{t}") })
        .collect();
    let sql = format!("SELECT count(*) FROM {}({}) AS r", func.qualified, args.join(", "));
    let r = match c.transaction() {
        Ok(mut tx) => {
            let r = tx.query_one(sql.as_str(), &[]).map(|row| row.get::<_, i64>(0) as u64);
            drop(tx);
            r
        }
        Err(e) => Err(e),
    };
    (sql, r)
}

fn short(sql: &str) -> String {
    if sql.len() <= 300 {
        sql.to_string()
    } else {
        format!("{}…", &sql[..sql.char_indices().take_while(|(i, _)| *i < 300).last().map_or(0, |(i, c)| i + c.len_utf8())])
    }
}

#[test]
fn every_extension_function_is_in_the_hostile_table() {
    let mut c = fresh_db("hostile_table");
    let funcs = extension_functions(&mut c);
    assert!(funcs.len() > 40, "only {} extension functions found", funcs.len());
    let in_catalog: BTreeSet<&str> = funcs.iter().map(|f| f.signature.as_str()).collect();
    let in_table: BTreeSet<&str> = HOSTILE_TABLE.iter().map(|(s, _)| *s).collect();
    assert_eq!(in_table.len(), HOSTILE_TABLE.len(), "a function is listed twice");
    let missing: Vec<&&str> = in_catalog.difference(&in_table).collect();
    assert!(missing.is_empty(), "functions without hostile coverage (add them to HOSTILE_TABLE): {missing:?}");
    let stale: Vec<&&str> = in_table.difference(&in_catalog).collect();
    assert!(stale.is_empty(), "HOSTILE_TABLE lists functions the extension does not have: {stale:?}");
    for f in &funcs {
        let note = HOSTILE_TABLE.iter().find(|(s, _)| *s == f.signature).map(|(_, n)| *n).unwrap_or("");
        assert_eq!(f.returns == "trigger", note == "trigger", "{}: trigger functions, and only they, are marked trigger", f.signature);
        for t in &f.arg_types {
            assert!(
                plausible(t).is_some() && hostile(t).is_some(),
                "{}: argument type {t} has no hostile values (add it to plausible() and hostile())",
                f.signature
            );
        }
    }
}

/// Runs every function with NULL and each hostile value in each position (the others plausible),
/// plus all-NULL and all-plausible calls; returns the failures.
fn drive(c: &mut Client, db: &str, funcs: &[Func], echo: &dyn Fn(&Func) -> bool) -> (Vec<String>, usize, BTreeMap<String, usize>) {
    let mut failures = Vec::new();
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    let mut calls = 0usize;
    for f in funcs.iter().filter(|f| f.returns != "trigger" && !f.arg_types.is_empty()) {
        let plausible_args: Vec<String> = f.arg_types.iter().map(|t| plausible(t).expect("known type")).collect();
        let mut arg_sets = vec![plausible_args.clone(), f.arg_types.iter().map(|_| "NULL".to_string()).collect()];
        for (i, t) in f.arg_types.iter().enumerate() {
            let mut values = vec!["NULL".to_string()];
            values.extend(hostile(t).expect("known type"));
            for v in values {
                let mut args = plausible_args.clone();
                args[i] = v;
                arg_sets.push(args);
            }
        }
        for args in arg_sets {
            let (sql, r) = call(c, f, &args);
            calls += 1;
            if let Err(e) = &r {
                if let Some(d) = e.as_db_error() {
                    *codes.entry(d.code().code().to_string()).or_default() += 1;
                }
            }
            if let Some(why) = unacceptable_with(&r, echo(f)) {
                failures.push(format!("{}: {why}", short(&sql)));
            }
            if c.is_closed() || c.simple_query("SELECT 1").is_err() {
                failures.push(format!("{}: the connection is gone after it", short(&sql)));
                *c = connect_db(db);
                c.batch_execute("SET statement_timeout = '30s'").unwrap();
            }
        }
    }
    (failures, calls, codes)
}

/// No XX000, no lost connection, no restart, no statement running past 30 s; and the Rust functions
/// (language c) never echo a huge input in an error.
#[test]
fn every_function_survives_hostile_arguments() {
    generic(&|f| f.language == "c");
}

/// The same, with no error of any function echoing more than 4 KiB of its input. Some PL/pgSQL
/// functions put their arguments in the message or DETAIL whole: an unknown `log_id` in hex
/// (rekor_enqueue, rekor_enqueue_batch), and the internal helpers rekor_reject_entry and
/// rekor_vex_invalid / rekor_vex_string / rekor_vex_time / rekor_vex_component_id with paths and
/// values; a 1 MiB argument makes a 2 MiB error (sent to the client and written to the server log).
#[test]
fn no_error_echoes_a_huge_input() {
    generic(&|_| true);
}

fn generic(echo: &dyn Fn(&Func) -> bool) {
    let mut c = fresh_db("hostile_generic");
    let db: String = c.query_one("SELECT current_database()", &[]).unwrap().get(0);
    let started = postmaster_start(&mut c);
    trust_fixture_logs(&mut c);
    c.batch_execute("SET statement_timeout = '30s'").unwrap();
    let funcs = extension_functions(&mut c);
    let t0 = Instant::now();
    let (failures, calls, codes) = drive(&mut c, &db, &funcs, echo);
    eprintln!("{calls} hostile calls in {:?}; SQLSTATEs raised: {codes:?}", t0.elapsed());
    assert!(calls > 1000, "only {calls} calls");
    assert_eq!(postmaster_start(&mut connect_db(&db)), started, "the postmaster restarted (a backend crashed)");
    assert!(failures.is_empty(), "{} unacceptable outcomes:\n{}", failures.len(), failures.join("\n"));
}

/// A database whose encoding is SQL_ASCII holds text and JSON strings that are not UTF-8; every
/// function that reads them as UTF-8 raises 22021 (character_not_in_repertoire) instead of
/// panicking.
#[test]
fn text_and_json_that_are_not_utf8_are_refused_in_a_sql_ascii_database() {
    let db = format!("t_hostile_ascii_{}", std::process::id());
    let mut admin = connect_db("postgres");
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {db} ENCODING 'SQL_ASCII' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'"))
        .unwrap();
    let mut c = connect_db(&db);
    c.batch_execute("CREATE EXTENSION rekor_meta; SET statement_timeout = '30s'").unwrap();
    let started = postmaster_start(&mut c);
    let funcs = extension_functions(&mut c);

    // Not UTF-8: a lone 0xff, a truncated sequence, a valid prefix then a bad byte.
    let bad_text = ["convert_from('\\xff'::bytea, 'SQL_ASCII')", "convert_from('\\x6f726967696ec3'::bytea, 'SQL_ASCII')"];
    let extra = |t: &str| -> Vec<String> {
        match t {
            "text" => bad_text.iter().map(|s| s.to_string()).collect(),
            "jsonb" => vec![
                format!("jsonb_build_object('payloadType', {}, 'payload', 'QUJD', 'signatures', '[]'::jsonb)", bad_text[0]),
                format!("jsonb_build_object({}, 1)", bad_text[1]),
                format!("to_jsonb({})", bad_text[0]),
            ],
            _ => Vec::new(),
        }
    };
    // Only the functions with text or jsonb arguments, with the non-UTF-8 values only.
    let subset: Vec<Func> =
        funcs.into_iter().filter(|f| f.arg_types.iter().any(|t| t == "text" || t == "jsonb")).collect();
    let mut failures = Vec::new();
    let mut codes: BTreeMap<String, usize> = BTreeMap::new();
    for f in subset.iter().filter(|f| f.returns != "trigger") {
        for (i, t) in f.arg_types.iter().enumerate() {
            for v in extra(t) {
                let mut args: Vec<String> = f.arg_types.iter().map(|t| plausible(t).unwrap()).collect();
                args[i] = v;
                let (sql, r) = call(&mut c, f, &args);
                if let Err(e) = &r {
                    if let Some(d) = e.as_db_error() {
                        *codes.entry(d.code().code().to_string()).or_default() += 1;
                    }
                }
                if let Some(why) = unacceptable(&r) {
                    failures.push(format!("{}: {why}", short(&sql)));
                }
                if c.is_closed() {
                    failures.push(format!("{}: connection lost", short(&sql)));
                    c = connect_db(&db);
                }
            }
        }
    }
    eprintln!("SQL_ASCII: SQLSTATEs raised: {codes:?}");
    assert!(codes.get("22021").copied().unwrap_or(0) > 10, "22021 is raised for text that is not UTF-8: {codes:?}");
    // The Rust functions name the problem.
    for (q, want) in [
        ("SELECT rekor_parse_checkpoint(convert_from('\\xff0a'::bytea, 'SQL_ASCII'))", "22021"),
        ("SELECT rekor_parse_log_key('x', convert_from('\\xc3'::bytea, 'SQL_ASCII'))", "22021"),
        ("SELECT rekor_dsse_info(jsonb_build_object('payloadType', convert_from('\\xff'::bytea, 'SQL_ASCII')))", "22021"),
        ("SELECT rekor_parse_bundle(jsonb_build_object(convert_from('\\xff'::bytea, 'SQL_ASCII'), 1))", "22021"),
    ] {
        let (code, msg, _) = db_error(c.query(q, &[]));
        assert_eq!(code, want, "{q}: {msg}");
        assert!(msg.contains("UTF-8"), "{q}: {msg}");
    }
    assert_eq!(postmaster_start(&mut c), started, "the postmaster restarted");
    drop(c);
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).unwrap();
    assert!(failures.is_empty(), "{} unacceptable outcomes:\n{}", failures.len(), failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------------------------

fn proc_status_kb(pid: i32, field: &str) -> i64 {
    let path = format!("/proc/{pid}/status");
    let s = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (the memory tests need the server on this machine, and root)"));
    s.lines()
        .find_map(|l| l.strip_prefix(field).and_then(|r| r.trim_start_matches(':').trim().strip_suffix("kB")))
        .unwrap_or_else(|| panic!("{path} has no {field}"))
        .trim()
        .parse()
        .unwrap()
}

/// Sets the backend's peak resident set (VmHWM) to its current resident set (Linux 4.0+).
fn reset_peak(pid: i32) {
    let path = format!("/proc/{pid}/clear_refs");
    std::fs::write(&path, "5").unwrap_or_else(|e| panic!("{path}: {e} (the memory tests need root)"));
}

/// One input for several calls: a connection of its own whose temporary table `hostile_input`
/// holds the value, stored uncompressed out of line (so reading it makes exactly one copy).
struct BigInput {
    c: Client,
    pid: i32,
    /// Bytes of the value as the calls receive it.
    size: i64,
}

enum Fill<'a> {
    /// An SQL expression evaluated by the server.
    Sql(&'a str),
    /// Text sent from the client as a parameter.
    Text(String),
    /// Bytes sent from the client as a parameter.
    Bytes(Vec<u8>),
}

impl BigInput {
    fn new(db: &str, ty: &str, fill: Fill<'_>, small: &str) -> BigInput {
        let mut c = connect_db(db);
        c.batch_execute(&format!(
            "SET statement_timeout = '300s';
             CREATE TEMP TABLE hostile_input (v {ty});
             ALTER TABLE hostile_input ALTER v SET STORAGE EXTERNAL;
             CREATE TEMP TABLE hostile_small (v {ty});
             INSERT INTO hostile_small VALUES (({small})::{ty});"
        ))
        .unwrap();
        match fill {
            Fill::Sql(e) => c.execute(&format!("INSERT INTO hostile_input SELECT ({e})::{ty}"), &[]),
            Fill::Text(s) => c.execute("INSERT INTO hostile_input VALUES ($1)", &[&s]),
            Fill::Bytes(b) => c.execute("INSERT INTO hostile_input VALUES ($1)", &[&b]),
        }
        .unwrap_or_else(|e| panic!("fill a {ty}: {e:?}"));
        let size: i32 = c.query_one("SELECT pg_column_size(v) FROM hostile_input", &[]).unwrap().get(0);
        let pid: i32 = c.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
        BigInput { c, pid, size: i64::from(size) }
    }

    /// Runs `query` (reading `h.v` from `{t}`) in a rolled-back transaction, first on the small
    /// value (to load code and caches), then on the big one: the outcome and how far the peak
    /// resident set rose above the resident set before the call, in bytes.
    fn measure(&mut self, query: &str) -> (Result<u64, postgres::Error>, i64) {
        let small = query.replace("{t}", "hostile_small");
        let big = query.replace("{t}", "hostile_input");
        let _ = self.run(&small);
        reset_peak(self.pid);
        let before = proc_status_kb(self.pid, "VmRSS");
        let r = self.run(&big);
        let peak = proc_status_kb(self.pid, "VmHWM");
        (r, (peak - before) * 1024)
    }

    fn run(&mut self, sql: &str) -> Result<u64, postgres::Error> {
        let mut tx = self.c.transaction()?;
        let r = tx.query(sql, &[]).map(|rows| rows.len() as u64);
        drop(tx);
        r
    }
}

/// Checks each (query, expected SQLSTATE or None for success) against one big input: the outcome,
/// and growth within the input's size plus 64 MiB. Returns the failures.
fn check_bounded(name: &str, input: &mut BigInput, cases: &[(&str, Option<&str>)]) -> Vec<String> {
    let mut failures = Vec::new();
    for (q, want) in cases {
        // Each reference to the value is an argument holding a copy of it.
        let allowed = input.size * q.matches("h.v").count().max(1) as i64 + 64 * MIB;
        let t0 = Instant::now();
        let (r, growth) = input.measure(q);
        let got = match &r {
            Ok(_) => None,
            Err(e) => Some(e.as_db_error().map(|d| d.code().code().to_string()).unwrap_or_else(|| format!("{e}"))),
        };
        eprintln!(
            "{name} ({} MiB): {q} -> {:?}, peak grew {} MiB (allowed {}), {:?}",
            input.size / MIB,
            got,
            growth / MIB,
            allowed / MIB,
            t0.elapsed()
        );
        if let Some(why) = unacceptable(&r) {
            failures.push(format!("{name}: {q}: {why}"));
        }
        if got.as_deref() != *want {
            let msg = r.as_ref().err().and_then(|e| e.as_db_error()).map(|d| d.message().to_string()).unwrap_or_default();
            failures.push(format!("{name}: {q}: SQLSTATE {got:?}, want {want:?} ({msg})"));
        }
        if growth > allowed {
            failures.push(format!(
                "{name}: {q}: the backend's peak grew {} MiB for a {} MiB input (at most {} MiB)",
                growth / MIB,
                input.size / MIB,
                allowed / MIB
            ));
        }
    }
    failures
}

fn key_pem() -> String {
    json_fixture("keys.json")["keys"][0]["public_key_pem"].as_str().expect("a PEM key").to_string()
}

/// A DSSE envelope whose payload is `payload_bytes` of base64 text (3/4 as many decoded bytes).
fn envelope_sql(payload_bytes: usize) -> String {
    format!(
        "jsonb_build_object('payloadType', 'application/vnd.in-toto+json', 'payload', repeat('QUJD', {}),
                            'signatures', jsonb_build_array(jsonb_build_object('sig', 'QUJD', 'keyid', '')))",
        payload_bytes / 4
    )
}

#[test]
fn memory_stays_bounded_for_100_mb_text_and_bytea() {
    let mut c = fresh_db("hostile_mem_bytes");
    let db: String = c.query_one("SELECT current_database()", &[]).unwrap().get(0);
    let started = postmaster_start(&mut c);
    let mut failures = Vec::new();

    // 100 MB of text, sent from the client.
    let mut text = BigInput::new(&db, "text", Fill::Text("a".repeat(100_000_000)), "'a'");
    failures.extend(check_bounded(
        "100 MB text",
        &mut text,
        &[
            ("SELECT r.* FROM {t} h, LATERAL rekor_parse_checkpoint(h.v) r", Some("22P02")),
            ("SELECT r.* FROM {t} h, LATERAL rekor_checkpoint_fields(h.v) r", Some("22P02")),
            ("SELECT rekor_verify_checkpoint(h.v, '\\x00'::bytea) FROM {t} h", Some("22P02")),
            ("SELECT r.* FROM {t} h, LATERAL rekor_checkpoint_check(h.v, '\\x00', 'x') r", None),
            ("SELECT r.* FROM {t} h, LATERAL rekor_parse_log_key(h.v, 'x') r", Some("22023")),
            ("SELECT rekor_verify_checkpoint('x', h.v) FROM {t} h", Some("22P02")),
            ("SELECT rekor_digest_key(h.v, '\\x00') FROM {t} h", Some("22023")),
        ],
    ));
    drop(text);

    // 100 MB of bytea (not UTF-8 either), sent from the client.
    let mut bytes = BigInput::new(&db, "bytea", Fill::Bytes(vec![0xff; 100_000_000]), "'\\x00'");
    failures.extend(check_bounded(
        "100 MB bytea",
        &mut bytes,
        &[
            ("SELECT rekor_leaf_hash(h.v) FROM {t} h", None),
            ("SELECT rekor_node_hash(h.v, '\\x00') FROM {t} h", Some("22023")),
            ("SELECT r.* FROM {t} h, LATERAL rekor_body_info(h.v) r", None),
            ("SELECT r.* FROM {t} h, LATERAL rekor_body_digests(h.v) r", Some("22023")),
            ("SELECT rekor_verify_set('\\x00', h.v, 1, '\\x00', 1, '\\x00') FROM {t} h", Some("54000")),
            ("SELECT rekor_digest_key('sha256', h.v) FROM {t} h", Some("22023")),
            ("SELECT rekor_entry_envelope_mismatch(h.v, '{}') FROM {t} h", None),
            ("SELECT rekor_verify_checkpoint('x', h.v) FROM {t} h", Some("22P02")),
            ("SELECT rekor_inclusion_root(h.v, 0, 1, '{}') FROM {t} h", Some("22023")),
            (
                "SELECT r.* FROM {t} h, LATERAL rekor_entry_evidence_check(h.v, NULL, NULL, 0, 1, rekor_leaf_hash(h.v), '{}',
                        'x', '\\x00', 1, '\\x00', 0, '\\x00', 'x', 'x', false) r",
                Some("22023"),
            ),
        ],
    ));
    drop(bytes);

    assert_eq!(postmaster_start(&mut c), started, "the postmaster restarted");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn memory_stays_bounded_for_100_mb_and_largest_accepted_jsonb() {
    let mut c = fresh_db("hostile_mem_json");
    let db: String = c.query_one("SELECT current_database()", &[]).unwrap().get(0);
    let started = postmaster_start(&mut c);
    let mut failures = Vec::new();

    // 100 MB: refused from its size, before it is read.
    let big = envelope_sql(100_000_000);
    let mut doc = BigInput::new(&db, "jsonb", Fill::Sql(&big), &envelope_sql(4));
    failures.extend(check_bounded(
        "100 MB jsonb",
        &mut doc,
        &[
            ("SELECT r.* FROM {t} h, LATERAL rekor_dsse_info(h.v) r", Some("54000")),
            ("SELECT r.* FROM {t} h, LATERAL rekor_parse_bundle(h.v) r", Some("54000")),
            ("SELECT r.* FROM {t} h, LATERAL rekor_parse_rest_response(h.v) r", Some("54000")),
            ("SELECT rekor_entry_envelope_mismatch('\\x', h.v) FROM {t} h", Some("54000")),
        ],
    ));
    drop(doc);

    // Just under 16 MiB: the largest document read, a valid envelope whose digests are computed.
    let near = envelope_sql(16_000_000);
    let mut doc = BigInput::new(&db, "jsonb", Fill::Sql(&near), &envelope_sql(4));
    failures.extend(check_bounded(
        "16 MB envelope",
        &mut doc,
        &[
            ("SELECT r.* FROM {t} h, LATERAL rekor_dsse_info(h.v) r", None),
            ("SELECT rekor_entry_envelope_mismatch('{}', h.v) FROM {t} h", None),
        ],
    ));
    drop(doc);

    // The worst string for canonical JSON: every character escapes to six (\u0001).
    let ctl = "jsonb_build_object('payloadType', repeat(chr(1), 16000000), 'payload', 'QUJD',
                                   'signatures', jsonb_build_array(jsonb_build_object('sig', 'QUJD')))";
    let mut doc = BigInput::new(&db, "jsonb", Fill::Sql(ctl), &envelope_sql(4));
    failures.extend(check_bounded("16 MB of control characters", &mut doc, &[("SELECT r.* FROM {t} h, LATERAL rekor_dsse_info(h.v) r", None)]));
    drop(doc);

    // 200,000 values (the most read): 32 bytes or so each in memory, not 2 as in the text.
    let many = "(SELECT jsonb_agg(0) FROM generate_series(1, 199999))";
    let mut doc = BigInput::new(&db, "jsonb", Fill::Sql(many), "'[0]'");
    failures.extend(check_bounded(
        "200,000 values",
        &mut doc,
        &[
            ("SELECT r.* FROM {t} h, LATERAL rekor_parse_rest_response(h.v) r", Some("22023")),
            ("SELECT r.* FROM {t} h, LATERAL rekor_dsse_info(h.v) r", Some("22023")),
        ],
    ));
    drop(doc);

    assert_eq!(postmaster_start(&mut c), started, "the postmaster restarted");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn memory_stays_bounded_for_the_largest_reference_tree() {
    let mut c = fresh_db("hostile_mem_tree");
    let db: String = c.query_one("SELECT current_database()", &[]).unwrap().get(0);
    let started = postmaster_start(&mut c);
    let leaves = "(SELECT array_agg(int4send(i)) FROM generate_series(1, 1048576) i)";
    let mut input = BigInput::new(&db, "bytea[]", Fill::Sql(leaves), "ARRAY['\\x00'::bytea]");
    let mut failures = check_bounded(
        "2^20 leaves",
        &mut input,
        &[
            ("SELECT rekor_merkle_root(h.v) FROM {t} h", None),
            ("SELECT rekor_merkle_inclusion_proof(h.v, 1048575) FROM {t} h", None),
            ("SELECT rekor_merkle_consistency_proof(h.v, 1000) FROM {t} h", None),
        ],
    );
    drop(input);
    // One leaf (or proof hash) of 100 MB.
    let one = "ARRAY[decode(repeat('ff', 100000000), 'hex')]";
    let mut input = BigInput::new(&db, "bytea[]", Fill::Sql(one), "ARRAY['\\x00'::bytea]");
    let q_root = format!("SELECT rekor_inclusion_root({H}, 0, 2, h.v) FROM {{t}} h");
    let q_err = format!("SELECT rekor_inclusion_proof_error({H}, 0, 2, h.v, {H}) FROM {{t}} h");
    failures.extend(check_bounded(
        "a 100 MB leaf",
        &mut input,
        &[("SELECT rekor_merkle_root(h.v) FROM {t} h", None), (q_root.as_str(), Some("22023")), (q_err.as_str(), None)],
    ));
    assert_eq!(postmaster_start(&mut c), started, "the postmaster restarted");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The PL/pgSQL entry points that take a document pass it to the Rust functions in a query. With
/// PostgreSQL's default plan cache mode, the first executions of such a query use a custom plan,
/// which turns the argument into a constant: a detoasted copy (makeConst) plus another, before the
/// Rust function (which refuses the document from its size alone) is even called. 100 MB in costs
/// about 200 MB. `SET plan_cache_mode = force_generic_plan` on these functions removes both copies
/// (see `plpgsql_entry_points_stay_bounded_with_generic_plans`); that is a change to sql/.
///
/// rekor_enqueue_batch needs more: PL/pgSQL copies an array argument into an expanded array on entry
/// (pl_exec.c, "force any array-valued parameter to be stored in expanded form"), so a 100 MB
/// jsonb[] costs a second 100 MB even with generic plans; bounding it needs the size checked before
/// the PL/pgSQL body runs (a LANGUAGE sql wrapper that refuses `pg_column_size(envelopes)` over the
/// limit, then calls the PL/pgSQL body).
#[test]
fn plpgsql_entry_points_stay_bounded_for_oversized_documents() {
    plpgsql_entry_points(false);
}

/// The same calls with generic plans (what the SQL fix sets per function): bounded.
#[test]
fn plpgsql_entry_points_stay_bounded_with_generic_plans() {
    plpgsql_entry_points(true);
}

fn plpgsql_entry_points(generic: bool) {
    let mut c = fresh_db("hostile_mem_plpgsql");
    let db: String = c.query_one("SELECT current_database()", &[]).unwrap().get(0);
    let started = postmaster_start(&mut c);
    let mut failures = Vec::new();
    let big = envelope_sql(100_000_000);
    let mut doc = BigInput::new(&db, "jsonb", Fill::Sql(&big), &envelope_sql(4));
    if generic {
        doc.c.batch_execute("SET plan_cache_mode = force_generic_plan").unwrap();
    }
    failures.extend(check_bounded(
        "100 MB jsonb through PL/pgSQL",
        &mut doc,
        &[
            ("SELECT rekor_enqueue(h.v) FROM {t} h", Some("54000")),
            ("SELECT r.* FROM {t} h, LATERAL rekor_ingest_entry(h.v) r", Some("54000")),
            ("SELECT r.* FROM {t} h, LATERAL rekor_ingest_bundle(h.v) r", Some("54000")),
        ],
    ));
    drop(doc);
    // A batch holding a 100 MB envelope (rekor_enqueue_batch is LANGUAGE sql: PL/pgSQL would copy
    // the whole array argument on entry, generic plan or not).
    {
    let mut batch = BigInput::new(&db, "jsonb[]", Fill::Sql(&format!("ARRAY[{big}]")), &format!("ARRAY[{}]", envelope_sql(4)));
    if generic {
        batch.c.batch_execute("SET plan_cache_mode = force_generic_plan").unwrap();
    }
    failures.extend(check_bounded(
        "a batch of a 100 MB envelope",
        &mut batch,
        &[("SELECT r.* FROM {t} h, LATERAL rekor_enqueue_batch(h.v) r", Some("54000"))],
    ));
    drop(batch);
    }
    // A 100 MB signer name.
    let mut name = BigInput::new(&db, "text", Fill::Sql("repeat('n', 100000000)"), "'n'");
    if generic {
        name.c.batch_execute("SET plan_cache_mode = force_generic_plan").unwrap();
    }
    let q_add = format!("SELECT rekor_add_log('{}', h.v) FROM {{t}} h", key_pem());
    failures.extend(check_bounded("100 MB signer name", &mut name, &[(q_add.as_str(), Some("22023"))]));
    drop(name);
    let near = envelope_sql(16_000_000);
    let mut doc = BigInput::new(&db, "jsonb", Fill::Sql(&near), &envelope_sql(8));
    if generic {
        doc.c.batch_execute("SET plan_cache_mode = force_generic_plan").unwrap();
    }
    failures.extend(check_bounded("16 MB envelope through PL/pgSQL", &mut doc, &[("SELECT rekor_enqueue(h.v) FROM {t} h", None)]));
    drop(doc);
    assert_eq!(postmaster_start(&mut c), started, "the postmaster restarted");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Limits (proof-of-work style abuse), each with its SQLSTATE
// ---------------------------------------------------------------------------------------------

fn code_and_message(c: &mut Client, q: &str) -> (String, String) {
    let (code, msg, _) = db_error(c.query(q, &[]));
    (code, msg)
}

#[test]
fn proofs_are_limited_to_64_hashes() {
    let mut c = fresh_db("hostile_proof_limit");
    let max = i64::MAX;
    // 64 hashes is within the limit (checked for length against the tree: at most 63 fit a tree
    // of 2^63 - 1); 65 is refused before any is read.
    for (n, want) in [(64, "proof has the wrong number of hashes"), (65, "proof is too long")] {
        for q in [
            format!("SELECT rekor_verify_inclusion_proof({H}, 0, {max}, array_fill({H}, ARRAY[{n}]), {H})"),
            format!("SELECT rekor_inclusion_root({H}, 0, {max}, array_fill({H}, ARRAY[{n}]))"),
            format!("SELECT rekor_verify_consistency(1, {max}, {H}, {H}, array_fill({H}, ARRAY[{n}]))"),
            format!("SELECT rekor_checkpoints_consistent(1, {max}, {H}, {H}, array_fill({H}, ARRAY[{n}]))"),
        ] {
            let (code, msg) = code_and_message(&mut c, &q);
            assert_eq!(code, "22023", "{q}: {msg}");
            assert!(msg.contains(want), "{q}: {msg}");
        }
    }
    let err: Option<String> = c
        .query_one(&format!("SELECT rekor_inclusion_proof_error({H}, 0, {max}, array_fill({H}, ARRAY[65]), {H})"), &[])
        .unwrap()
        .get(0);
    assert!(err.as_deref().unwrap_or("").contains("more than the limit of 64"), "{err:?}");
    // The entry evidence check fails check 2 (the trigger raises it as 23514).
    let check: Option<i32> = c
        .query_one(
            &format!(
                "SELECT r.check FROM rekor_entry_evidence_check('\\x00', NULL, NULL, 0, {max}, {H}, array_fill({H}, ARRAY[65]),
                        'x', NULL, NULL, '\\x00', 0, '\\x00', 'x', 'x', false) r"
            ),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(check, Some(2));
    // A proof array of two dimensions is refused, whatever its size.
    let (code, msg) = code_and_message(&mut c, &format!("SELECT rekor_inclusion_root({H}, 0, 4, ARRAY[[{H}], [{H}]])"));
    assert_eq!((code.as_str(), msg.as_str()), ("22023", "array must be one-dimensional"));
}

#[test]
fn negative_sizes_and_indexes_are_refused() {
    let mut c = fresh_db("hostile_negative");
    for q in [
        format!("SELECT rekor_verify_inclusion_proof({H}, -1, 4, '{{}}', {H})"),
        format!("SELECT rekor_verify_inclusion_proof({H}, 0, -4, '{{}}', {H})"),
        format!("SELECT rekor_inclusion_root({H}, -9223372036854775808, 1, '{{}}')"),
        format!("SELECT rekor_verify_consistency(-1, 4, {H}, {H}, '{{}}')"),
        format!("SELECT rekor_verify_consistency(1, -4, {H}, {H}, '{{}}')"),
        "SELECT rekor_merkle_inclusion_proof(ARRAY['\\x00'::bytea], -1)".to_string(),
        "SELECT rekor_merkle_consistency_proof(ARRAY['\\x00'::bytea], -1)".to_string(),
    ] {
        let (code, msg) = code_and_message(&mut c, &q);
        assert_eq!(code, "22023", "{q}: {msg}");
        assert!(msg.contains("must not be negative"), "{q}: {msg}");
    }
    let err: Option<String> =
        c.query_one(&format!("SELECT rekor_inclusion_proof_error({H}, -1, -1, '{{}}', {H})"), &[]).unwrap().get(0);
    assert!(err.as_deref().unwrap_or("").contains("negative"), "{err:?}");
    let set: bool =
        c.query_one("SELECT rekor_verify_set('\\x00', '\\x00', 1, '\\x00', -1, '\\x00')", &[]).unwrap().get(0);
    assert!(!set, "a negative log index never verifies");
}

#[test]
fn notes_are_limited_to_1_mib_and_100_signatures() {
    let mut c = fresh_db("hostile_note_limits");
    let signer = Ed25519Signer::from_label("hostile.example/log", "hostile note limits");
    let line = signer.line(&checkpoint_text("hostile.example/log", 5, &[7u8; 32], &[]));
    // One extension line pads the note to exactly 1 MiB, then one byte more.
    let base = checkpoint_text("hostile.example/log", 5, &[7u8; 32], &["x"]);
    let pad = (1usize << 20) - (base.len() + 1 + line.len());
    let ext = "x".repeat(1 + pad);
    let at_limit = format!("{}\n{line}", checkpoint_text("hostile.example/log", 5, &[7u8; 32], &[ext.as_str()]));
    assert_eq!(at_limit.len(), 1 << 20);
    let n: i64 = c.query_one("SELECT (rekor_parse_checkpoint($1)).tree_size", &[&at_limit]).expect("a 1 MiB note parses").get(0);
    assert_eq!(n, 5);
    let over = at_limit.replacen("\nx", "\nxx", 1);
    assert_eq!(over.len(), (1 << 20) + 1);
    let (code, msg, _) = db_error(c.query_one("SELECT rekor_parse_checkpoint($1)", &[&over]));
    assert_eq!(code, "22P02", "{msg}");
    assert!(msg.contains("over the limit of 1048576"), "{msg}");

    // 100 signature lines parse, 101 do not.
    let text = checkpoint_text("hostile.example/log", 5, &[7u8; 32], &[]);
    for (n, ok) in [(100usize, true), (101, false)] {
        let note = format!("{text}\n{}", line.repeat(n));
        let r = c.query_one("SELECT cardinality((rekor_parse_checkpoint($1)).signatures)", &[&note]);
        if ok {
            assert_eq!(r.expect("100 signatures parse").get::<_, i32>(0), 100);
        } else {
            let (code, msg, _) = db_error(r);
            assert_eq!(code, "22P02", "{msg}");
            assert!(msg.contains("more than 100 signature lines"), "{msg}");
        }
    }
}

#[test]
fn dsse_envelopes_are_limited_to_100_signatures() {
    let mut c = fresh_db("hostile_dsse_sigs");
    for (n, ok) in [(100usize, true), (101, false)] {
        let sigs: Vec<Value> = (0..n).map(|_| json!({"sig": "QUJD", "keyid": ""})).collect();
        let env = json!({"payloadType": "text/plain", "payload": "QUJD", "signatures": sigs}).to_string();
        let r = c.query_one("SELECT payload_type FROM rekor_dsse_info($1::text::jsonb)", &[&env]);
        if ok {
            r.expect("100 signatures are read");
        } else {
            let (code, msg, _) = db_error(r);
            assert_eq!(code, "22023", "{msg}");
            assert!(msg.contains("100"), "{msg}");
        }
    }
}

/// A Rekor v1 REST response with `n` entries (the fixture entry under `n` UUIDs).
fn rest_response(n: usize) -> String {
    let doc: Value = serde_json::from_str(&fixture("upstream/rest-entry.json")).unwrap();
    let (_, entry) = doc.as_object().unwrap().iter().next().unwrap();
    let map: serde_json::Map<String, Value> = (0..n).map(|i| (format!("{i:064x}"), entry.clone())).collect();
    Value::Object(map).to_string()
}

#[test]
fn documents_are_limited_to_1000_entries() {
    let mut c = fresh_db("hostile_entry_limit");
    let (code, msg, _) = db_error(c.query("SELECT * FROM rekor_parse_rest_response($1::text::jsonb)", &[&rest_response(1001)]));
    assert_eq!(code, "22023", "{msg}");
    assert!(msg.contains("1000"), "{msg}");
    let (code, msg, _) = db_error(c.query("SELECT * FROM rekor_ingest_entry($1::text::jsonb)", &[&rest_response(1001)]));
    assert_eq!(code, "22023", "{msg}");

    let mut bundle: Value = serde_json::from_str(&fixture("upstream/bundle-dsse.sigstore.json")).unwrap();
    let entry = bundle["verificationMaterial"]["tlogEntries"][0].clone();
    bundle["verificationMaterial"]["tlogEntries"] = Value::Array(vec![entry; 1001]);
    let (code, msg, _) = db_error(c.query("SELECT * FROM rekor_parse_bundle($1::text::jsonb)", &[&bundle.to_string()]));
    assert_eq!(code, "22023", "{msg}");
    assert!(msg.contains("1000"), "{msg}");
}

#[test]
fn json_documents_are_limited_in_size_depth_and_values() {
    let mut c = fresh_db("hostile_json_limits");
    let funcs = [
        "SELECT * FROM rekor_dsse_info({d})",
        "SELECT * FROM rekor_parse_bundle({d})",
        "SELECT * FROM rekor_parse_rest_response({d})",
        "SELECT rekor_entry_envelope_mismatch('\\x', {d})",
        "SELECT * FROM rekor_ingest_entry({d})",
        "SELECT rekor_enqueue({d})",
    ];
    let docs = [
        // 101 levels; 10,000 levels of arrays and of objects (PostgreSQL itself reads them).
        ("(repeat('[', 101) || repeat(']', 101))::jsonb", "54000", "deeper than 100 levels"),
        ("(repeat('[', 10000) || repeat(']', 10000))::jsonb", "54000", "deeper than 100 levels"),
        ("(repeat('{\"a\":', 10000) || '1' || repeat('}', 10000))::jsonb", "54000", "deeper than 100 levels"),
        ("(SELECT jsonb_agg(0) FROM generate_series(1, 200000))", "54000", "more than 200000 values"),
        ("jsonb_build_object('a', repeat('x', 16777216))", "54000", "over the limit of 16777216"),
        // Numbers no double holds.
        ("'{\"logIndex\": 1e400}'::jsonb", "22003", "number out of range"),
        ("'[-1e400]'::jsonb", "22003", "number out of range"),
    ];
    for (d, want_code, want_msg) in docs {
        for f in funcs {
            let q = f.replace("{d}", d);
            let (code, msg) = code_and_message(&mut c, &q);
            assert_eq!(code, want_code, "{q}: {msg}");
            assert!(msg.contains(want_msg), "{q}: {msg}");
        }
    }
    // 100 levels are read (the envelope is then refused for its shape).
    let (code, msg) = code_and_message(&mut c, "SELECT * FROM rekor_dsse_info((repeat('[', 100) || repeat(']', 100))::jsonb)");
    assert_eq!((code.as_str(), msg.as_str()), ("22023", "invalid DSSE envelope: $: expected an object, got array"));
}

/// Numbers beyond 2^63 (and negative, fractional, or beyond a double) in the index, time and size
/// fields of a Rekor response and a bundle are refused with 22023 (22003 beyond a double).
#[test]
fn numbers_beyond_2_63_in_documents_are_refused() {
    let mut c = fresh_db("hostile_numbers");
    let rest: Value = serde_json::from_str(&fixture("upstream/rest-entry.json")).unwrap();
    let uuid = rest.as_object().unwrap().keys().next().unwrap().clone();
    let bundle: Value = serde_json::from_str(&fixture("upstream/bundle-dsse.sigstore.json")).unwrap();
    let values = [
        ("9223372036854775808", "22023"),
        ("18446744073709551616", "22023"),
        ("-1", "22023"),
        ("1.5", "22023"),
        ("1e400", "22003"),
    ];
    let mut checked = 0;
    for (number, want) in values {
        let mut cases: Vec<(String, String)> = Vec::new();
        for path in [vec!["logIndex"], vec!["integratedTime"], vec!["verification", "inclusionProof", "treeSize"], vec!["verification", "inclusionProof", "logIndex"]] {
            let mut doc = rest.clone();
            let mut at = &mut doc[&uuid];
            for p in &path[..path.len() - 1] {
                at = &mut at[*p];
            }
            at[path[path.len() - 1]] = Value::String("__NUMBER__".into());
            let text = doc.to_string().replace("\"__NUMBER__\"", number);
            cases.push((format!("SELECT * FROM rekor_parse_rest_response($1::text::jsonb) -- {path:?}"), text));
        }
        for path in [vec!["logIndex"], vec!["integratedTime"], vec!["inclusionProof", "treeSize"], vec!["inclusionProof", "logIndex"]] {
            // Bundles carry these as strings (int64 in protobuf JSON) or numbers: both are tried.
            for (quoted, placeholder) in [(true, Value::String(number.to_string())), (false, Value::String("__NUMBER__".into()))] {
                let mut doc = bundle.clone();
                let mut at = &mut doc["verificationMaterial"]["tlogEntries"][0];
                for p in &path[..path.len() - 1] {
                    at = &mut at[*p];
                }
                at[path[path.len() - 1]] = placeholder;
                let text = doc.to_string().replace("\"__NUMBER__\"", number);
                let how = if quoted { " as a string" } else { "" };
                cases.push((format!("SELECT * FROM rekor_parse_bundle($1::text::jsonb) -- {path:?}{how}"), text));
            }
        }
        for (q, doc) in cases {
            let (code, msg, _) = db_error(c.query(q.as_str(), &[&doc]));
            // A quoted number is never a double, so never 22003.
            let want = if q.ends_with("as a string") { "22023" } else { want };
            assert_eq!(code, want, "{q} = {number}: {msg}");
            checked += 1;
        }
    }
    assert_eq!(checked, 5 * 12);
}

#[test]
fn queue_batches_are_limited() {
    let mut c = fresh_db("hostile_batches");
    for (batch, lease) in [("0", "'1 minute'"), ("-1", "'1 minute'"), ("1001", "'1 minute'"), ("2147483647", "'1 minute'"), ("NULL", "'1 minute'"), ("1", "'0'"), ("1", "'-1 second'"), ("1", "'1 day 1 second'"), ("1", "NULL")] {
        let q = format!("SELECT * FROM rekor_dequeue('w', {batch}, {lease})");
        let (code, msg) = code_and_message(&mut c, &q);
        assert_eq!(code, "22023", "{q}: {msg}");
    }
    let n: i64 = c.query_one("SELECT count(*) FROM rekor_dequeue('w', 1000, '1 day')", &[]).unwrap().get(0);
    assert_eq!(n, 0);
    let (code, msg) = code_and_message(&mut c, "SELECT * FROM rekor_enqueue_batch(array_fill('{}'::jsonb, ARRAY[10001]))");
    assert_eq!(code, "54000", "{msg}");
    let (code, msg) = code_and_message(&mut c, "SELECT * FROM rekor_enqueue_batch(ARRAY[['{}'::jsonb]])");
    assert_eq!(code, "22023", "{msg}");
    let (code, msg) = code_and_message(&mut c, "SELECT * FROM rekor_enqueue_batch(ARRAY[NULL]::jsonb[])");
    assert_eq!(code, "22023", "{msg}");
    // Its digest function on its own: the same limits, checked before any element is read.
    let (code, msg) = code_and_message(&mut c, "SELECT * FROM rekor_dsse_info_batch(array_fill('{}'::jsonb, ARRAY[10001]))");
    assert_eq!(code, "54000", "{msg}");
    let (code, msg) = code_and_message(&mut c, "SELECT * FROM rekor_dsse_info_batch(ARRAY[['{}'::jsonb]])");
    assert_eq!(code, "22023", "{msg}");
    let (code, msg) = code_and_message(&mut c, "SELECT * FROM rekor_dsse_info_batch(ARRAY[NULL]::jsonb[])");
    assert_eq!(code, "22023", "{msg}");
    // 10,000 distinct envelopes are enqueued in one call.
    let n: i64 = c
        .query_one(
            "SELECT count(*) FROM rekor_enqueue_batch(ARRAY(SELECT jsonb_build_object('payloadType', 'text/plain',
                     'payload', encode(int4send(i), 'base64'), 'signatures', jsonb_build_array(jsonb_build_object('sig', 'QUJD')))
                     FROM generate_series(1, 10000) i))",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 10000);
}

#[test]
fn reference_trees_and_keys_are_limited() {
    let mut c = fresh_db("hostile_tree_key");
    let (code, msg) = code_and_message(&mut c, "SELECT rekor_merkle_root(array_fill('\\x00'::bytea, ARRAY[1048577]))");
    assert_eq!(code, "54000", "{msg}");
    let root: Vec<u8> = c.query_one("SELECT rekor_merkle_root(array_fill('\\x00'::bytea, ARRAY[1048576]))", &[]).unwrap().get(0);
    assert_eq!(root.len(), 32);
    // Keys: 16 KiB of input at most, in any form.
    for q in [
        "SELECT * FROM rekor_parse_log_key(repeat('A', 16385), 'x')",
        "SELECT rekor_verify_checkpoint('x', repeat('A', 16385))",
    ] {
        let (code, msg) = code_and_message(&mut c, q);
        assert!(code == "22023" || code == "22P02", "{q}: {code} {msg}");
    }
    let (code, msg) = code_and_message(&mut c, "SELECT * FROM rekor_parse_log_key(repeat('A', 16385), 'x')");
    assert_eq!(code, "22023");
    assert!(msg.contains("over the limit of 16384"), "{msg}");
    // Signer names of trusted logs: 1024 bytes at most.
    let pem = key_pem();
    let ok: i64 = c
        .query_one("SELECT count(*) FROM rekor_parse_log_key($1, repeat('n', 1024))", &[&pem])
        .expect("a 1024-byte signer name")
        .get(0);
    assert_eq!(ok, 1);
    for q in ["SELECT * FROM rekor_parse_log_key($1, repeat('n', 1025))", "SELECT rekor_add_log($1, repeat('n', 1025))"] {
        let (code, msg, _) = db_error(c.query(q, &[&pem]));
        assert_eq!(code, "22023", "{q}: {msg}");
        assert!(msg.contains("longer than 1024 bytes"), "{q}: {msg}");
    }
    // A digest longer than its algorithm's is refused; the algorithm name is not echoed in full.
    let (code, msg) = code_and_message(&mut c, "SELECT rekor_digest_key('sha256', decode(repeat('00', 33), 'hex'))");
    assert_eq!((code.as_str(), msg.as_str()), ("22023", "digest is longer than a sha256 digest"));
    let (code, _, detail) = db_error(c.query("SELECT rekor_digest_key(repeat('x', 1000000), '\\x00')", &[]));
    assert_eq!(code, "22023");
    assert!(detail.len() < 200, "the DETAIL echoes the algorithm: {} bytes", detail.len());
}
