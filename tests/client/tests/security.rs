//! The 0.3.0 security fixes, each tried as the least-privileged role that could attempt it (every
//! test here fails on 0.2.0):
//! - search_path: every function pins `pg_catalog, pg_temp` (pg_temp last), and a caller's
//!   temporary types and tables, shadowing every type and relation name the extension uses, neither
//!   run as another role nor change any verdict;
//! - fields no signature covers: a global index without a SET (shard map or flagged), an integrated
//!   time without a SET, a caller's seen_at, rounded integrated times, a tree id in a Rekor v2 UUID;
//! - bindings: log IDs derived from keys, witness state per origin, intoto signatures, VEX times
//!   carried by the logged payload, identity columns assigned by the database.
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use postgres::{Client, NoTls};
use rekor_meta_client_tests::attest::{vex_attestation, AttestationLog};
use rekor_meta_client_tests::notes::{checkpoint_text, EcdsaSigner};
use rekor_meta_client_tests::*;
use serde_json::{json, Value};

struct Db {
    name: String,
    owner: Client,
}

fn setup(tag: &str) -> Db {
    let mut owner = fresh_db(tag);
    let name: String = owner.query_one("SELECT current_database()", &[]).unwrap().get(0);
    Db { name, owner }
}

/// A LOGIN role that is a member of `group` (or of nothing), connected to the test database.
fn login_as(db: &mut Db, prefix: &str, group: Option<&str>) -> Client {
    let role = unique_role(prefix);
    db.owner.batch_execute(&format!("CREATE ROLE {role} LOGIN")).unwrap();
    if let Some(g) = group {
        db.owner.batch_execute(&format!("GRANT {g} TO {role}")).unwrap();
    }
    let dsn = format!("{} dbname={} user={role}", dsn(), db.name);
    Client::connect(&dsn, NoTls).unwrap_or_else(|e| panic!("connect as {role}: {e}"))
}

const ROLES: [&str; 4] = ["rekor_reader", "rekor_writer", "rekor_worker", "rekor_admin"];

#[test]
fn every_function_of_the_extension_pins_search_path_with_pg_temp_last() {
    let mut c = fresh_db("sec_pin");
    let rows = c
        .query(
            "SELECT p.oid::regprocedure::text, coalesce(p.proconfig, '{}')
             FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
             JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'rekor_meta' ORDER BY 1",
            &[],
        )
        .unwrap();
    assert!(rows.len() > 50, "the catalog query sees the extension's functions: {}", rows.len());
    let mut bad = Vec::new();
    for r in &rows {
        let sig: String = r.get(0);
        let config: Vec<String> = r.get(1);
        let path = config.iter().find_map(|s| s.strip_prefix("search_path=")).map(str::to_string);
        // The verifying trigger (C) pins the same search_path around its own SQL instead (src/trigger.rs,
        // `pinned`): a SET clause would save and restore the setting on every row. The shadowing tests
        // below insert rows through it in hostile sessions.
        if sig == "rekor_entries_verify()" {
            if !config.is_empty() {
                bad.push(format!("{sig}: {config:?} (it pins search_path itself; a SET clause costs every row)"));
            }
            continue;
        }
        let ok = path.as_deref().is_some_and(|p| {
            let parts: Vec<&str> = p.split(',').map(str::trim).collect();
            parts.first() == Some(&"pg_catalog") && parts.last() == Some(&"pg_temp")
        });
        if !ok {
            bad.push(format!("{sig}: {config:?}"));
        }
    }
    assert!(bad.is_empty(), "functions without search_path = pg_catalog, ..., pg_temp:\n{}", bad.join("\n"));
}

/// The exploit of the issue, verbatim, as a worker: the domain's check would run as the owner.
#[test]
fn a_worker_cannot_run_code_as_the_owner_through_a_pg_temp_domain() {
    let mut db = setup("sec_hijack");
    let mut w = login_as(&mut db, "worker", Some("rekor_worker"));
    w.batch_execute(
        "CREATE FUNCTION pg_temp.pwn(x anyelement) RETURNS boolean LANGUAGE plpgsql AS $$
         BEGIN IF current_user <> session_user THEN RAISE EXCEPTION 'PWNED: running as %', current_user; END IF;
               RETURN true; END $$;
         CREATE DOMAIN pg_temp.text AS pg_catalog.text CHECK (pg_temp.pwn(VALUE));
         CREATE DOMAIN pg_temp.bytea AS pg_catalog.bytea CHECK (pg_temp.pwn(VALUE));
         CREATE DOMAIN pg_temp.jsonb AS pg_catalog.jsonb CHECK (pg_temp.pwn(VALUE));
         CREATE DOMAIN pg_temp.timestamptz AS pg_catalog.timestamptz CHECK (pg_temp.pwn(VALUE));",
    )
    .unwrap();
    let qid: i64 = w
        .query_one(r#"SELECT rekor_enqueue('{"payloadType":"a","payload":"YQ==","signatures":[{"sig":"YQ=="}]}'::jsonb)"#, &[])
        .unwrap()
        .get(0);
    let leased = w.query("SELECT q.queue_id FROM rekor_dequeue('w1', 1) q", &[]).unwrap();
    assert_eq!(leased.len(), 1);
    let state: String = w.query_one("SELECT rekor_mark_failed($1, 'w1', 'boom', true)", &[&qid]).unwrap().get(0);
    assert_eq!(state, "pending");
}

/// The names to shadow, from the catalog: every type of an extension table column or function
/// argument or result, every extension relation and type, and the catalog relations and types the
/// extension's code names.
fn names_to_shadow(c: &mut Client) -> (Vec<String>, Vec<String>) {
    let types: Vec<String> = c
        .query(
            "WITH ext AS (SELECT d.objid, d.classid FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
                          WHERE e.extname = 'rekor_meta' AND d.deptype = 'e'),
                  used AS (
                    SELECT a.atttypid AS t FROM pg_attribute a JOIN ext ON ext.classid = 'pg_class'::regclass AND ext.objid = a.attrelid
                    WHERE a.attnum > 0 AND NOT a.attisdropped
                    UNION SELECT unnest(p.proargtypes::oid[]) FROM pg_proc p JOIN ext ON ext.classid = 'pg_proc'::regclass AND ext.objid = p.oid
                    UNION SELECT p.prorettype FROM pg_proc p JOIN ext ON ext.classid = 'pg_proc'::regclass AND ext.objid = p.oid
                    UNION SELECT t.oid FROM pg_type t WHERE t.typname IN ('text','bytea','jsonb','json','timestamptz','int8','int4',
                          'int2','bool','numeric','interval','regclass','regprocedure','oid','name','record','float8','date','uuid'))
             SELECT DISTINCT CASE WHEN t.typelem <> 0 AND t.typlen = -1 THEN e.typname ELSE t.typname END
             FROM used JOIN pg_type t ON t.oid = used.t LEFT JOIN pg_type e ON e.oid = t.typelem
             WHERE t.typtype IN ('b', 'c', 'd', 'e') ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let relations: Vec<String> = c
        .query(
            "SELECT c.relname FROM pg_class c JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid
             JOIN pg_extension e ON e.oid = d.refobjid WHERE e.extname = 'rekor_meta' AND d.deptype = 'e'
             UNION SELECT unnest(ARRAY['pg_extension','pg_roles','pg_depend','pg_proc','pg_class','pg_namespace','pg_type'])
             ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    (types, relations)
}

/// Shadows every name in pg_temp: a domain per type (whose check raises when it runs as another
/// role than the session's) and a table per relation name. Returns how many were created.
fn shadow_everything(c: &mut Client, types: &[String], relations: &[String]) -> usize {
    c.batch_execute(
        "CREATE FUNCTION pg_temp.pwn(x anyelement) RETURNS boolean LANGUAGE plpgsql AS $$
         BEGIN IF current_user <> session_user THEN RAISE EXCEPTION 'PWNED: caller code ran as %', current_user; END IF;
               RETURN true; END $$",
    )
    .unwrap();
    let mut made = 0;
    for t in types {
        // A composite or enum of the extension: shadow it with a composite of its own.
        let sql = format!(
            "DO $$ BEGIN
               IF EXISTS (SELECT 1 FROM pg_type WHERE typname = '{t}' AND typtype IN ('c', 'e')) THEN
                 EXECUTE 'CREATE TYPE pg_temp.{t} AS (x int)';
               ELSE
                 EXECUTE 'CREATE DOMAIN pg_temp.{t} AS pg_catalog.{t} CHECK (pg_temp.pwn(VALUE))';
               END IF;
             END $$"
        );
        if c.batch_execute(&sql).is_ok() {
            made += 1;
        }
    }
    for r in relations {
        if c.batch_execute(&format!("CREATE TEMP TABLE {r} (x int)")).is_ok() {
            made += 1;
        }
    }
    made
}

/// What a role does, in order; each statement's outcome (rows as text, or the SQLSTATE).
fn scenario(role: &str) -> Vec<String> {
    let bundle = fixture("upstream/bundle-dsse.sigstore.json").replace('\'', "''");
    let v2 = fixture("upstream/bundle-rekor-v2.sigstore.json").replace('\'', "''");
    let rest = fixture("upstream/rest-entry.json").replace('\'', "''");
    let cp = fixture_checkpoint_note();
    let mut s = vec![
        "SELECT rekor_parse_checkpoint($$".to_string() + &cp + "$$)::text",
        "SELECT count(*) FROM public.rekor_entries".into(),
        "SELECT rekor_verify_inclusion(entry_id) FROM public.rekor_entries ORDER BY entry_id".into(),
        "SELECT step, passed FROM rekor_verify_inclusion_report((SELECT min(entry_id) FROM public.rekor_entries))".into(),
        "SELECT count(*) FROM rekor_vex_evidence('CVE-2023-0001', 'pkg:oci/x')".into(),
        "SELECT rekor_verify_inclusion_proof(rekor_leaf_hash('x'), 0, 1, '{}', rekor_leaf_hash('x'))".into(),
    ];
    match role {
        "rekor_writer" | "rekor_admin" => {
            s.push(format!("SELECT rekor_ingest_bundle('{v2}'::jsonb)"));
            s.push(format!("SELECT rekor_ingest_entry('{rest}'::jsonb)"));
            s.push("SELECT status FROM rekor_record_checkpoint($$".to_string() + &cp + "$$)");
            s.push("SELECT status FROM rekor_witness_checkpoint($$".to_string() + &cp + "$$, 0, '{}')");
            s.push("INSERT INTO public.rekor_checkpoints (note) VALUES ($$".to_string() + &cp + "$$) ON CONFLICT DO NOTHING");
            s.push("SELECT log_index_authenticated, integrated_time_authenticated FROM public.rekor_entries ORDER BY entry_id".into());
        }
        "rekor_worker" => {
            s.push(format!("SELECT rekor_enqueue(('{bundle}'::jsonb) -> 'dsseEnvelope')"));
            s.push("SELECT queue_id, attempts FROM rekor_dequeue('w', 1)".into());
            s.push("SELECT rekor_extend_lease(1, 'w', '1 minute') IS NOT NULL".into());
            s.push(format!("SELECT rekor_mark_submitted(1, 'w', '{bundle}'::jsonb) IS NOT NULL"));
            s.push(r#"SELECT rekor_enqueue('{"payloadType":"a","payload":"YQ==","signatures":[{"sig":"YQ=="}]}'::jsonb)"#.into());
            s.push("SELECT queue_id FROM rekor_dequeue('w', 5)".into());
            s.push("SELECT rekor_mark_failed(2, 'w', 'boom', false)".into());
            s.push("SELECT state, count(*) FROM public.rekor_submission_queue GROUP BY 1 ORDER BY 1".into());
        }
        _ => {}
    }
    if role == "rekor_admin" {
        s.push("SELECT rekor_requeue(2)".into());
        s.push("SELECT rekor_add_log_shard(decode('d32f30a3c32d639c' || repeat('0', 48), 'hex'), 1, 0)".into());
    }
    s
}

fn fixture_checkpoint_note() -> String {
    let rest = json_fixture("upstream/rest-entry.json");
    let (_, v) = rest.as_object().unwrap().iter().next().unwrap();
    v["verification"]["inclusionProof"]["checkpoint"].as_str().unwrap().to_string()
}

fn outcome(c: &mut Client, sql: &str) -> String {
    match c.simple_query(sql) {
        Ok(msgs) => {
            let mut out = Vec::new();
            for m in msgs {
                if let postgres::SimpleQueryMessage::Row(r) = m {
                    out.push((0..r.len()).map(|i| r.get(i).unwrap_or("NULL").to_string()).collect::<Vec<_>>().join("|"));
                }
            }
            format!("ok {}", out.join(";"))
        }
        Err(e) => match e.as_db_error() {
            Some(d) => format!("{} {}", d.code().code(), d.message()),
            None => format!("error {e}"),
        },
    }
}

fn run_scenario(db: &mut Db, role: &str, shadow: bool) -> Vec<String> {
    trust_fixture_logs(&mut db.owner);
    let mut c = login_as(db, "sec", Some(role));
    if shadow {
        let (types, relations) = names_to_shadow(&mut db.owner);
        assert!(types.len() >= 15 && relations.len() >= 10, "{types:?} {relations:?}");
        let made = shadow_everything(&mut c, &types, &relations);
        assert!(made >= types.len(), "only {made} of {} types and {} relations shadowed", types.len(), relations.len());
    }
    scenario(role).iter().map(|q| outcome(&mut c, q)).collect()
}

#[test]
fn shadowing_every_type_and_relation_in_pg_temp_changes_no_verdict_for_any_role() {
    for role in ROLES {
        let mut clean = setup("sec_clean");
        let mut shadowed = setup("sec_shadow");
        let a = run_scenario(&mut clean, role, false);
        let b = run_scenario(&mut shadowed, role, true);
        for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
            assert!(!y.contains("PWNED"), "{role}: statement {i} ran caller code as another role: {y}");
            // Timestamps differ between runs; everything else must be identical.
            if !x.contains("20") || x.starts_with("ok t") || x.starts_with("ok f") {
                assert_eq!(x, y, "{role}: statement {i} ({}) changed its verdict", &scenario(role)[i].chars().take(120).collect::<String>());
            }
            assert_eq!(x.split(' ').next(), y.split(' ').next(), "{role}: statement {i} changed its outcome: {x} vs {y}");
        }
        assert!(a.iter().filter(|o| o.starts_with("ok")).count() >= 5, "{role}: the scenario mostly succeeds: {a:?}");
    }
}

#[test]
fn every_function_called_as_each_role_in_a_shadowed_session_runs_no_caller_code() {
    let mut db = setup("sec_allfuncs");
    trust_fixture_logs(&mut db.owner);
    let (types, relations) = names_to_shadow(&mut db.owner);
    let funcs: Vec<(String, i32)> = db
        .owner
        .query(
            "SELECT quote_ident(p.proname), p.pronargs FROM pg_proc p
             JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
             JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'rekor_meta'
             WHERE p.prorettype <> 'trigger'::regtype AND p.proname NOT IN ('rekor_array_shape')",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get::<_, i16>(1) as i32))
        .collect();
    for role in ROLES {
        let mut c = login_as(&mut db, "secall", Some(role));
        shadow_everything(&mut c, &types, &relations);
        for (name, n) in &funcs {
            let args = vec!["NULL"; *n as usize].join(", ");
            let out = outcome(&mut c, &format!("SELECT {name}({args})"));
            assert!(!out.contains("PWNED"), "{role}: {name} ran caller code as another role: {out}");
            assert!(!out.starts_with("XX000"), "{role}: {name}: {out}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Fields no signature covers.

/// rest-entry.json: a Rekor v1 staging entry of a later shard (global index 1688, index 1227 in
/// tree 108574341321668964, so that shard starts at 461), with its SET.
fn later_shard_entry() -> (Value, String) {
    let rest = json_fixture("upstream/rest-entry.json");
    let uuid = rest.as_object().unwrap().keys().next().unwrap().clone();
    (rest, uuid)
}

fn strip_set(rest: &Value, uuid: &str, log_index: i64, integrated_time: i64) -> Value {
    let mut r = rest.clone();
    let e = r.get_mut(uuid).unwrap();
    e["verification"].as_object_mut().unwrap().remove("signedEntryTimestamp");
    e["logIndex"] = json!(log_index);
    e["integratedTime"] = json!(integrated_time);
    r
}

#[test]
fn a_later_shard_entry_without_its_set_is_flagged_and_never_blocks_the_genuine_entry() {
    let mut db = setup("sec_noset");
    trust_fixture_logs(&mut db.owner);
    let mut w = login_as(&mut db, "writer", Some("rekor_writer"));
    let (rest, uuid) = later_shard_entry();
    // A writer strips the SET and invents the global index and time, ahead of the genuine entry.
    let forged = strip_set(&rest, &uuid, 1_000_000, 1_900_000_000);
    let fake: i64 = w.query_one("SELECT rekor_ingest_entry($1::text::jsonb)", &[&forged.to_string()]).unwrap().get(0);
    let row = w
        .query_one("SELECT log_index_authenticated, integrated_time_authenticated FROM rekor_entries WHERE entry_id = $1", &[&fake])
        .unwrap();
    assert_eq!((row.get::<_, bool>(0), row.get::<_, bool>(1)), (false, false), "nothing signs the claims");
    let report: Vec<(i32, Option<bool>, String)> = w
        .query("SELECT step, passed, reason FROM rekor_verify_inclusion_report($1) ORDER BY step", &[&fake])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let index = report.iter().find(|r| r.0 == 5).unwrap();
    assert_eq!(index.1, None, "the index is shown as not authenticated: {report:?}");
    assert!(index.2.contains("NOT authenticated"), "{report:?}");
    // The genuine entry (with its SET) is stored beside it, not blocked.
    let genuine: i64 = w.query_one("SELECT rekor_ingest_entry($1::text::jsonb)", &[&rest.to_string()]).unwrap().get(0);
    assert_ne!(genuine, fake);
    let row = w
        .query_one("SELECT log_index, log_index_authenticated, integrated_time_authenticated FROM rekor_entries WHERE entry_id = $1", &[&genuine])
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, bool>(1), row.get::<_, bool>(2)), (1688, true, true));
    // Another forged index of the same leaf is the same unauthenticated entry, not a third row.
    let again = strip_set(&rest, &uuid, 5, 1_900_000_000);
    let id: i64 = w.query_one("SELECT rekor_ingest_entry($1::text::jsonb)", &[&again.to_string()]).unwrap().get(0);
    assert_eq!(id, fake);
    let ok: bool = w.query_one("SELECT rekor_verify_inclusion($1)", &[&genuine]).unwrap().get(0);
    assert!(ok);
}

#[test]
fn the_shard_map_authenticates_an_index_without_a_set_and_refuses_a_wrong_one() {
    let mut db = setup("sec_shards");
    trust_fixture_logs(&mut db.owner);
    let mut admin = login_as(&mut db, "admin", Some("rekor_admin"));
    let mut w = login_as(&mut db, "writer", Some("rekor_writer"));
    let (rest, uuid) = later_shard_entry();
    let log_id = hex::decode(rest[&uuid]["logID"].as_str().unwrap()).unwrap();
    // A wrong start contradicts... nothing stored yet; the right one is 1688 - 1227.
    admin.execute("SELECT rekor_add_log_shard($1, 108574341321668964, 461)", &[&log_id]).unwrap();
    let again = sqlstate(admin.execute("SELECT rekor_add_log_shard($1, 108574341321668964, 462)", &[&log_id]));
    assert_eq!(again, "55000");
    let wrong = strip_set(&rest, &uuid, 1000, 1_656_448_131);
    let (code, msg, _) = db_error(w.query_one("SELECT rekor_ingest_entry($1::text::jsonb)", &[&wrong.to_string()]));
    assert_eq!(code, "23514");
    assert!(msg.contains("check 4") && msg.contains("shard"), "{msg}");
    let right = strip_set(&rest, &uuid, 1688, 1_656_448_131);
    let id: i64 = w.query_one("SELECT rekor_ingest_entry($1::text::jsonb)", &[&right.to_string()]).unwrap().get(0);
    let (auth, tauth): (bool, bool) = {
        let r = w.query_one("SELECT log_index_authenticated, integrated_time_authenticated FROM rekor_entries WHERE entry_id = $1", &[&id]).unwrap();
        (r.get(0), r.get(1))
    };
    assert!(auth && !tauth, "the map authenticates the index; the time stays unsigned");
    // With the entry's SET the map is checked too: the genuine entry agrees with it.
    let genuine: i64 = w.query_one("SELECT rekor_ingest_entry($1::text::jsonb)", &[&rest.to_string()]).unwrap().get(0);
    assert_eq!(genuine, id, "the same leaf at the same authenticated index is the same entry");
}

#[test]
fn a_callers_seen_at_does_not_choose_the_key_window_of_a_checkpoint() {
    let mut db = setup("sec_seen_at");
    trust_fixture_logs(&mut db.owner);
    let note = fixture_checkpoint_note();
    // The staging log's key retired at the start of 2023.
    db.owner.execute("UPDATE rekor_logs SET valid_until = '2023-01-01' WHERE signer_name = 'rekor.sigstage.dev'", &[]).unwrap();
    let mut w = login_as(&mut db, "writer", Some("rekor_writer"));
    let r = w.execute("INSERT INTO rekor_checkpoints (note, seen_at) VALUES ($1, '2022-06-01')", &[&note]);
    let (code, msg, _) = db_error(r);
    assert_eq!(code, "23514", "{msg}");
    // A key that is valid now: the stored seen_at is the server's time, not the caller's.
    db.owner.execute("UPDATE rekor_logs SET valid_until = NULL WHERE signer_name = 'rekor.sigstage.dev'", &[]).unwrap();
    let recent: bool = w
        .query_one("INSERT INTO rekor_checkpoints (note, seen_at) VALUES ($1, '2000-01-01') RETURNING seen_at > now() - interval '1 minute'", &[&note])
        .unwrap()
        .get(0);
    assert!(recent);
}

#[test]
fn re_verification_applies_the_key_window_at_the_signed_time() {
    let mut db = setup("sec_window");
    trust_fixture_logs(&mut db.owner);
    let mut w = login_as(&mut db, "writer", Some("rekor_writer"));
    let (rest, _) = later_shard_entry();
    let id: i64 = w.query_one("SELECT rekor_ingest_entry($1::text::jsonb)", &[&rest.to_string()]).unwrap().get(0);
    assert!(w.query_one("SELECT rekor_verify_inclusion($1)", &[&id]).unwrap().get::<_, bool>(0));
    // Retired before the SET-signed integrated time (2022-06-29): the entry no longer verifies.
    let mut admin = login_as(&mut db, "admin", Some("rekor_admin"));
    admin.execute("UPDATE rekor_logs SET valid_until = '2022-01-01' WHERE signer_name = 'rekor.sigstage.dev'", &[]).unwrap();
    let (code, msg, _) = db_error(w.query_one("SELECT rekor_verify_inclusion($1)", &[&id]));
    assert_eq!(code, "23514");
    assert!(msg.contains("log key is not valid"), "{msg}");
    let passed: Option<bool> = w.query_one("SELECT passed FROM rekor_verify_inclusion_report($1) WHERE step = 0", &[&id]).unwrap().get(0);
    assert_eq!(passed, Some(false));
}

fn insert_parsed(c: &mut Client, rest: &Value, integrated_time_sql: &str, uuid_sql: &str, bundle: bool) -> Result<u64, postgres::Error> {
    let parse = if bundle { "rekor_parse_bundle" } else { "rekor_parse_rest_response" };
    c.execute(
        &format!(
            "INSERT INTO rekor_entries (log_id, entry_uuid, log_index, proof_log_index, integrated_time, body, tree_size,
                                        root_hash, proof_hashes, checkpoint, signed_entry_timestamp)
             SELECT r.log_id, {uuid_sql}, r.log_index, r.proof_log_index, {integrated_time_sql}, r.body, r.tree_size,
                    r.root_hash, r.proof_hashes, r.checkpoint, r.signed_entry_timestamp
             FROM {parse}($1::text::jsonb) r"
        ),
        &[&rest.to_string()],
    )
}

#[test]
fn a_rounded_integrated_time_is_refused_and_the_signed_seconds_are_stored_exactly() {
    let mut db = setup("sec_round");
    trust_fixture_logs(&mut db.owner);
    let mut w = login_as(&mut db, "writer", Some("rekor_writer"));
    let (rest, _) = later_shard_entry();
    let r = insert_parsed(&mut w, &rest, "to_timestamp(r.integrated_time) + interval '0.4 s'", "r.entry_uuid", false);
    let (code, msg, _) = db_error(r);
    assert_eq!(code, "23514");
    assert!(msg.contains("whole seconds"), "{msg}");
    insert_parsed(&mut w, &rest, "to_timestamp(r.integrated_time)", "r.entry_uuid", false).unwrap();
    let t: i64 = w.query_one("SELECT extract(epoch FROM integrated_time)::bigint FROM rekor_entries", &[]).unwrap().get(0);
    assert_eq!(t, 1_656_448_131);
}

#[test]
fn a_tree_id_prefix_on_a_rekor_v2_entry_is_refused() {
    let mut db = setup("sec_v2uuid");
    trust_fixture_logs(&mut db.owner);
    let mut w = login_as(&mut db, "writer", Some("rekor_writer"));
    let bundle = json_fixture("upstream/bundle-rekor-v2.sigstore.json");
    let r = insert_parsed(&mut w, &bundle, "NULL", "'000000000000002a' || encode(rekor_leaf_hash(r.body), 'hex')", true);
    let (code, msg, _) = db_error(r);
    assert_eq!(code, "23514");
    assert!(msg.contains("UUID names a tree"), "{msg}");
    insert_parsed(&mut w, &bundle, "NULL", "encode(rekor_leaf_hash(r.body), 'hex')", true).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Bindings.

#[test]
fn an_admin_cannot_pair_a_log_id_with_another_key() {
    let mut db = setup("sec_logid");
    let mut admin = login_as(&mut db, "admin", Some("rekor_admin"));
    let production = fixture_key("production:rekor.sigstore.dev");
    let other = EcdsaSigner::generate("rekor.sigstore.dev");
    let log_id = hex::decode(production["log_id_hex"].as_str().unwrap()).unwrap();
    let r = admin.execute(
        "INSERT INTO rekor_logs (log_id, signer_name, origin, origin_is_prefix, key_type, public_key)
         VALUES ($1, 'rekor.sigstore.dev', 'rekor.sigstore.dev - ', true, 'ecdsa-p256-sha256', $2)",
        &[&log_id, &other.spki_der()],
    );
    let (code, msg, _) = db_error(r);
    assert_eq!(code, "23514", "{msg}");
    assert!(msg.contains("does not match its key"), "{msg}");
    // The derived pair is accepted on the same path.
    admin
        .execute(
            "INSERT INTO rekor_logs (log_id, signer_name, origin, origin_is_prefix, key_type, public_key)
             VALUES ($1, 'rekor.sigstore.dev', 'rekor.sigstore.dev - ', true, 'ecdsa-p256-sha256', $2)",
            &[&other.log_id().to_vec(), &other.spki_der()],
        )
        .unwrap();
}

#[test]
fn the_witness_keeps_state_per_origin() {
    let mut db = setup("sec_witness");
    let log = EcdsaSigner::generate("example.com/v1");
    db.owner
        .query_one("SELECT rekor_add_log($1, 'example.com/v1')", &[&STANDARD.encode(log.spki_der())])
        .unwrap();
    let mut w = login_as(&mut db, "writer", Some("rekor_writer"));
    let mut witness = |note: &str| -> (String, i64) {
        let r = w.query_one("SELECT status, tree_size FROM rekor_witness_checkpoint($1, 0, '{}')", &[&note]).unwrap();
        (r.get(0), r.get(1))
    };
    let shard1 = log.sign_note(&checkpoint_text("example.com/v1 - 1", 5, &[1u8; 32], &[]));
    let shard2 = log.sign_note(&checkpoint_text("example.com/v1 - 2", 3, &[2u8; 32], &[]));
    let shard3 = log.sign_note(&checkpoint_text("example.com/v1 - 3", 5, &[3u8; 32], &[]));
    assert_eq!(witness(&shard1), ("ok".into(), 5));
    // Another shard's first checkpoint is that shard's first, not a mismatch against shard 1.
    assert_eq!(witness(&shard2), ("ok".into(), 3));
    // An equal-size checkpoint of another shard is no fork.
    assert_eq!(witness(&shard3), ("ok".into(), 5));
    let forks: i64 = db.owner.query_one("SELECT count(*) FROM rekor_log_forks", &[]).unwrap().get(0);
    assert_eq!(forks, 0);
}

fn vex_doc(timestamp: &str, statements: Value) -> Value {
    json!({"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/1", "author": "a",
           "timestamp": timestamp, "version": 1, "statements": statements})
}

fn statement(status: &str) -> Value {
    json!({"vulnerability": {"name": "CVE-2024-0001"}, "products": [{"@id": "pkg:oci/app@sha256:aa"}],
           "status": status, "justification": "component_not_present"})
}

#[test]
fn an_intoto_entry_logging_the_payload_under_another_signature_does_not_mark_the_item_submitted() {
    let mut db = setup("sec_intoto");
    let log = AttestationLog::new("intoto.example", &[json!({"a": 1})]);
    log.install(&mut db.owner);
    let env = log.envelopes[0].clone();
    let payload = STANDARD.decode(env["payload"].as_str().unwrap()).unwrap();
    // An intoto v0.0.2 entry with this payload but someone else's signature.
    let body = json!({"apiVersion": "0.0.2", "kind": "intoto", "spec": {"content": {
        "envelope": {"payloadType": env["payloadType"], "signatures": [{"sig": STANDARD.encode(STANDARD.encode([7u8; 64])),
                     "publicKey": STANDARD.encode("key")}]},
        "hash": {"algorithm": "sha256", "value": hex::encode(rekor_meta_core::dsse::envelope_sha256(&env))},
        "payloadHash": {"algorithm": "sha256", "value": hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&payload))}}}});
    let other = AttestationLog::with_bodies("intoto-other.example", vec![serde_json::to_vec(&body).unwrap()]);
    other.install(&mut db.owner);
    let mut wk = login_as(&mut db, "worker", Some("rekor_worker"));
    let qid: i64 = wk.query_one("SELECT rekor_enqueue($1::text::jsonb)", &[&log.envelope_json(0)]).unwrap().get(0);
    wk.query("SELECT 1 FROM rekor_dequeue('w', 1)", &[]).unwrap();
    let (code, msg, detail) = db_error(wk.query_one("SELECT rekor_mark_submitted($1, 'w', $2::text::jsonb)", &[&qid, &other.response_json(0)]));
    assert_eq!(code, "23514", "{msg}");
    assert!(msg.contains("not this envelope") && detail.contains("intoto signatures differ"), "{msg}: {detail}");
}

#[test]
fn a_wrapper_documents_timestamp_does_not_make_an_old_signed_statement_newest() {
    let mut db = setup("sec_vex_time");
    // The logged payload: an old document carrying the statement (no timestamp of its own).
    let logged = vex_doc("2020-01-01T00:00:00Z", json!([statement("not_affected")]));
    let log = AttestationLog::new("vex.example", &[vex_attestation("app", &"aa".repeat(32), &logged)]);
    log.install(&mut db.owner);
    let mut wk = login_as(&mut db, "worker", Some("rekor_worker"));
    let qid: i64 = wk.query_one("SELECT rekor_enqueue($1::text::jsonb)", &[&log.envelope_json(0)]).unwrap().get(0);
    wk.query("SELECT 1 FROM rekor_dequeue('w', 1)", &[]).unwrap();
    wk.query_one("SELECT rekor_mark_submitted($1, 'w', $2::text::jsonb)", &[&qid, &log.response_json(0)]).unwrap();
    // A wrapper with an invented timestamp around the same signed statement.
    let wrapper = vex_doc("2030-01-01T00:00:00Z", json!([statement("not_affected")]));
    let rows = wk.query("SELECT statement_time::text, attested FROM rekor_link_vex($1::text::jsonb, $2::bigint)", &[&wrapper.to_string(), &qid]).unwrap();
    let (t, attested): (Option<String>, Option<bool>) = (rows[0].get(0), rows[0].get(1));
    assert_eq!(attested, Some(true), "the statement itself is in the payload");
    assert!(t.as_deref().is_some_and(|t| t.starts_with("2020-01-01")), "the time is the logged document's, not the wrapper's: {t:?}");
    let ev: Option<String> = wk
        .query_one("SELECT statement_time::text FROM rekor_vex_evidence('CVE-2024-0001', 'pkg:oci/app@sha256:aa') LIMIT 1", &[])
        .unwrap()
        .get(0);
    assert!(ev.as_deref().is_some_and(|t| t.starts_with("2020-01-01")), "{ev:?}");
}

#[test]
fn a_writer_cannot_choose_entry_or_checkpoint_ids() {
    let mut db = setup("sec_ids");
    trust_fixture_logs(&mut db.owner);
    let mut w = login_as(&mut db, "writer", Some("rekor_writer"));
    let note = fixture_checkpoint_note();
    let r = w.execute("INSERT INTO rekor_checkpoints (checkpoint_id, note) OVERRIDING SYSTEM VALUE VALUES (1000, $1)", &[&note]);
    assert_eq!(sqlstate(r), "428C9");
    let (rest, _) = later_shard_entry();
    let r = w.execute(
        "INSERT INTO rekor_entries (entry_id, log_id, entry_uuid, log_index, proof_log_index, integrated_time, body, tree_size,
                                    root_hash, proof_hashes, checkpoint, signed_entry_timestamp) OVERRIDING SYSTEM VALUE
         SELECT 5, r.log_id, r.entry_uuid, r.log_index, r.proof_log_index, to_timestamp(r.integrated_time), r.body, r.tree_size,
                r.root_hash, r.proof_hashes, r.checkpoint, r.signed_entry_timestamp
         FROM rekor_parse_rest_response($1::text::jsonb) r",
        &[&rest.to_string()],
    );
    assert_eq!(sqlstate(r), "428C9");
    // The next ingest is unaffected.
    let id: i64 = w.query_one("SELECT rekor_ingest_entry($1::text::jsonb)", &[&rest.to_string()]).unwrap().get(0);
    assert!(id >= 1);
}

// ---------------------------------------------------------------------------------------------
// Issue 12: the natural queries work.

#[test]
fn ingest_and_verify_in_one_statement() {
    let mut c = fresh_db("sec_one_stmt");
    trust_fixture_logs(&mut c);
    let b = fixture("upstream/bundle-dsse.sigstore.json");
    let ok: bool = c.query_one("SELECT bool_and(rekor_verify_inclusion(id)) FROM rekor_ingest_bundle($1::text::jsonb) id", &[&b]).unwrap().get(0);
    assert!(ok);
}

#[test]
fn base64_wrapped_by_encode_is_accepted_in_envelopes_and_nothing_else_non_canonical() {
    let mut c = fresh_db("sec_b64");
    let sig = vec![0xabu8; 200];
    let wrapped: String = c.query_one("SELECT encode($1::bytea, 'base64')", &[&sig]).unwrap().get(0);
    assert!(wrapped.contains('\n'), "PostgreSQL wraps base64 at 76 characters");
    let env = json!({"payloadType": "a", "payload": "YQ==", "signatures": [{"sig": wrapped}]});
    let crlf = json!({"payloadType": "a", "payload": "YQ==", "signatures": [{"sig": wrapped.replace('\n', "\r\n")}]});
    let plain = json!({"payloadType": "a", "payload": "YQ==", "signatures": [{"sig": STANDARD.encode(&sig)}]});
    let info = |c: &mut Client, e: &Value| -> Vec<u8> {
        c.query_one("SELECT envelope_sha256 FROM rekor_dsse_info($1::text::jsonb)", &[&e.to_string()]).unwrap().get(0)
    };
    let (a, b) = (info(&mut c, &env), info(&mut c, &crlf));
    assert_eq!(a.len(), 32);
    assert_eq!(b.len(), 32);
    let _ = info(&mut c, &plain);
    let tab = json!({"payloadType": "a", "payload": "YQ==", "signatures": [{"sig": wrapped.replace('\n', "\t")}]});
    assert_eq!(sqlstate(c.query_one("SELECT 1 FROM rekor_dsse_info($1::text::jsonb)", &[&tab.to_string()])), "22023");
}

#[test]
fn a_checkpoint_verifier_is_a_name_and_a_key() {
    let mut c = fresh_db("sec_note_name");
    let log = EcdsaSigner::generate("log.example");
    let text = checkpoint_text("log.example - 1", 5, &[9u8; 32], &[]);
    let good = log.line(&text);
    // Another name reusing the ECDSA key hint, with a bad signature: another verifier's line.
    let impostor = rekor_meta_client_tests::notes::sig_line("other.example", &log.key_hint(), &[0u8; 70]);
    let note = rekor_meta_client_tests::notes::assemble(&text, &[good.clone(), impostor]);
    let spki = log.spki_der();
    let q = |c: &mut Client, sql: &str, name: Option<&str>| -> bool {
        match name {
            Some(n) => c.query_one(sql, &[&note, &spki, &n]).unwrap().get(0),
            None => c.query_one(sql, &[&note, &spki]).unwrap().get(0),
        }
    };
    assert!(q(&mut c, "SELECT rekor_verify_checkpoint($1, $2::bytea)", None), "key-only: the log's own line verifies");
    assert!(q(&mut c, "SELECT rekor_verify_checkpoint($1, $2::bytea, $3)", Some("log.example")));
    assert!(!q(&mut c, "SELECT rekor_verify_checkpoint($1, $2::bytea, $3)", Some("other.example")), "the other name's line is bad");
    assert!(!q(&mut c, "SELECT rekor_verify_checkpoint($1, $2::bytea, $3)", Some("third.example")), "no line under that name");
}

#[test]
fn a_sigstore_trusted_root_sets_up_the_logs_idempotently_and_real_bundles_verify_under_it() {
    let mut c = fresh_db("trust_root");
    let mut statuses = Vec::new();
    for root in ["trusted_root/production.trusted_root.json", "trusted_root/staging.trusted_root.json"] {
        let text = fixture(root);
        let rows = c.query("SELECT base_url, status FROM rekor_import_trusted_root($1::text::jsonb)", &[&text]).unwrap();
        assert!(!rows.is_empty());
        statuses.extend(rows.iter().map(|r| r.get::<_, String>(1)));
        let again = c.query("SELECT status FROM rekor_import_trusted_root($1::text::jsonb)", &[&text]).unwrap();
        assert!(again.iter().all(|r| r.get::<_, String>(0) == "unchanged"), "a second import changes nothing");
    }
    assert!(statuses.iter().all(|s| s == "added"), "{statuses:?}");
    let origins: Vec<(String, bool)> = c
        .query("SELECT origin, origin_is_prefix FROM rekor_logs WHERE signer_name IN ('rekor.sigstore.dev', 'log2025-1.rekor.sigstore.dev') ORDER BY 1", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(origins, vec![("log2025-1.rekor.sigstore.dev".to_string(), false), ("rekor.sigstore.dev - ".to_string(), true)]);
    // The Rekor v2 fixture was logged by staging's log2025-alpha1, whose key the staging root retired
    // on 2025-09-04: no SET signs a time, and its RFC 3161 timestamp (0.4.0) is verified against the
    // staging root's timestamp authority, so the key is checked at the timestamp's genTime: valid.
    let id: i64 = c
        .query_one("SELECT rekor_ingest_bundle($1::text::jsonb)", &[&fixture("upstream/bundle-rekor-v2.sigstore.json")])
        .unwrap()
        .get(0);
    let src: String = c.query_one("SELECT signing_time_source FROM rekor_entries WHERE entry_id = $1", &[&id]).unwrap().get(0);
    assert_eq!(src, "rfc3161");
    // Without the timestamp nothing signs a time: checked now, when the key is retired.
    let mut v2 = json_fixture("upstream/bundle-rekor-v2.sigstore.json");
    v2["verificationMaterial"].as_object_mut().unwrap().remove("timestampVerificationData");
    let mut other = fresh_db("trust_root_v2_no_ts");
    other.query("SELECT * FROM rekor_import_trusted_root($1::text::jsonb)", &[&fixture("trusted_root/staging.trusted_root.json")]).unwrap();
    let (code, msg, _) = db_error(other.query("SELECT * FROM rekor_ingest_bundle($1::text::jsonb)", &[&v2.to_string()]));
    assert_eq!(code, "23514");
    assert!(msg.contains("log key is not valid"), "{msg}");
    for f in ["upstream/bundle-dsse.sigstore.json", "upstream/bundle-v0.3-hashedrekord.sigstore.json"] {
        let ok: bool = c
            .query_one("SELECT bool_and(rekor_verify_inclusion(id)) FROM rekor_ingest_bundle($1::text::jsonb) id", &[&fixture(f)])
            .unwrap_or_else(|e| panic!("{f}: {e:?}"))
            .get(0);
        assert!(ok, "{f}");
    }
    let rest: i64 = c.query_one("SELECT count(*) FROM rekor_ingest_entry($1::text::jsonb)", &[&fixture("upstream/rest-entry.json")]).unwrap().get(0);
    assert_eq!(rest, 1);
    // A root whose logId is not its key's is refused.
    let mut bad = json_fixture("trusted_root/production.trusted_root.json");
    bad["tlogs"][0]["logId"]["keyId"] = json!(STANDARD.encode([0u8; 32]));
    let mut fresh = fresh_db("trust_root_bad");
    let (code, msg, _) = db_error(fresh.query("SELECT * FROM rekor_import_trusted_root($1::text::jsonb)", &[&bad.to_string()]));
    assert_eq!(code, "23514", "{msg}");
    assert_eq!(sqlstate(fresh.query("SELECT * FROM rekor_import_trusted_root('{\"tlogs\": []}')", &[])), "22023");
}

/// tests/fixtures/rekor_v1_shards.json: (log_id, tree_id, start) of each real shard.
fn fixture_shards() -> Vec<(Vec<u8>, i64, i64)> {
    json_fixture("rekor_v1_shards.json")["shards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let key = fixture_key(s["log"].as_str().unwrap());
            (
                hex::decode(key["log_id_hex"].as_str().unwrap()).unwrap(),
                s["tree_id"].as_str().unwrap().parse().unwrap(),
                s["start_index"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_production_bundle_without_a_set_on_a_later_shard_is_accepted_and_the_shard_map_authenticates_it() {
    let mut db = setup("sec_prod_noset");
    trust_fixture_logs(&mut db.owner);
    let mut w = login_as(&mut db, "writer", Some("rekor_writer"));
    let mut bundle = json_fixture("upstream/bundle-dsse.sigstore.json");
    bundle["verificationMaterial"]["tlogEntries"][0].as_object_mut().unwrap().remove("inclusionPromise");
    let id: i64 = w.query_one("SELECT rekor_ingest_bundle($1::text::jsonb)", &[&bundle.to_string()]).unwrap().get(0);
    let r = w.query_one("SELECT log_index, log_index_authenticated, integrated_time_authenticated, rekor_verify_inclusion(entry_id) FROM rekor_entries WHERE entry_id = $1", &[&id]).unwrap();
    assert_eq!((r.get::<_, i64>(0), r.get::<_, bool>(1), r.get::<_, bool>(2), r.get::<_, bool>(3)), (150322684, false, false, true));
    // With the real shard map the same bundle's index is authenticated.
    let mut admin = login_as(&mut db, "admin", Some("rekor_admin"));
    for (log_id, tree, start) in fixture_shards() {
        admin.execute("SELECT rekor_add_log_shard($1, $2, $3)", &[&log_id, &tree, &start]).unwrap();
    }
    let id2: i64 = w.query_one("SELECT rekor_ingest_bundle($1::text::jsonb)", &[&bundle.to_string()]).unwrap().get(0);
    let auth: bool = w.query_one("SELECT log_index_authenticated FROM rekor_entries WHERE entry_id = $1", &[&id2]).unwrap().get(0);
    assert!(auth);
    // Every real SET-signed fixture agrees with the map (a map that contradicted one would be refused).
    for f in ["upstream/bundle-dsse.sigstore.json", "upstream/bundle-v0.3-hashedrekord.sigstore.json"] {
        w.query_one("SELECT rekor_ingest_bundle($1::text::jsonb)", &[&fixture(f)]).unwrap();
    }
    w.query_one("SELECT rekor_ingest_entry($1::text::jsonb)", &[&fixture("upstream/rest-entry.json")]).unwrap();
}

#[test]
fn a_trusted_roots_rekor_v1_origin_keeps_the_port_and_a_key_without_a_start_is_refused() {
    let mut c = fresh_db("trust_root_port");
    let dir = "conformance/bundle-verify/intoto-with-custom-trust-root";
    let rows = c
        .query("SELECT status FROM rekor_import_trusted_root($1::text::jsonb)", &[&fixture(&format!("{dir}/trusted_root.json"))])
        .unwrap();
    assert_eq!(rows.len(), 1);
    let (signer, origin): (String, String) = {
        let r = c.query_one("SELECT signer_name, origin FROM rekor_logs", &[]).unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!((signer.as_str(), origin.as_str()), ("localhost:8000", "localhost:8000 - "));
    // The conformance suite's bundle of that local log verifies under it.
    let ok: bool = c
        .query_one("SELECT bool_and(rekor_verify_inclusion(id)) FROM rekor_ingest_bundle($1::text::jsonb) id", &[&fixture(&format!("{dir}/bundle.sigstore.json"))])
        .unwrap()
        .get(0);
    assert!(ok);
    let mut root = json_fixture("trusted_root/production.trusted_root.json");
    root["tlogs"][0]["publicKey"]["validFor"].as_object_mut().unwrap().remove("start");
    let mut fresh = fresh_db("trust_root_nostart");
    let (code, msg, _) = db_error(fresh.query("SELECT * FROM rekor_import_trusted_root($1::text::jsonb)", &[&root.to_string()]));
    assert_eq!(code, "22023");
    assert!(msg.contains("validFor.start"), "{msg}");
}

#[test]
fn a_key_is_valid_at_the_end_of_its_window() {
    // Sigstore's TimeRange is closed: an entry integrated exactly at valid_until verifies.
    let mut c = fresh_db("window_end");
    let key = fixture_key("staging:rekor.sigstage.dev");
    c.execute(
        "SELECT rekor_add_log($1, $2, NULL, '2021-01-01', to_timestamp(1656448131))",
        &[&key["public_key_pem"].as_str().unwrap(), &key["note_signer_name"].as_str().unwrap()],
    )
    .unwrap();
    let id: i64 = c.query_one("SELECT rekor_ingest_entry($1::text::jsonb)", &[&fixture("upstream/rest-entry.json")]).unwrap().get(0);
    assert!(c.query_one("SELECT rekor_verify_inclusion($1)", &[&id]).unwrap().get::<_, bool>(0));
    c.execute("UPDATE rekor_logs SET valid_until = to_timestamp(1656448130)", &[]).unwrap();
    assert_eq!(sqlstate(c.query_one("SELECT rekor_verify_inclusion($1)", &[&id])), "23514");
}
