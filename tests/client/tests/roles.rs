//! The security model as each role sees it: readers read, writers write only through the verified
//! paths, workers run the queue only for items they lease, PUBLIC gets nothing writable, and a
//! malicious search_path cannot hijack the extension's functions.
use postgres::{Client, NoTls};
use rekor_meta_client_tests::*;

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

fn trust_all_logs(c: &mut Client) {
    let keys = json_fixture("keys.json");
    for k in keys["keys"].as_array().unwrap() {
        c.query_one(
            "SELECT rekor_add_log($1, $2)",
            &[&k["public_key_pem"].as_str().unwrap(), &k["note_signer_name"].as_str().unwrap()],
        )
        .unwrap();
    }
}

fn bundle() -> serde_json::Value {
    json_fixture("upstream/bundle-dsse.sigstore.json")
}

#[test]
fn public_gets_nothing_writable_and_cannot_call_writing_functions() {
    let mut db = setup("roles_public");
    trust_all_logs(&mut db.owner);
    let mut p = login_as(&mut db, "nobody", None);
    // Pure verification functions stay available to everyone.
    let ok: bool = p
        .query_one("SELECT rekor_verify_inclusion_proof(rekor_leaf_hash('x'), 0, 1, '{}', rekor_leaf_hash('x'))", &[])
        .unwrap()
        .get(0);
    assert!(ok);
    for q in [
        "SELECT * FROM rekor_entries",
        "SELECT * FROM rekor_logs",
        "SELECT rekor_enqueue('{\"payloadType\":\"a\",\"payload\":\"YQ==\",\"signatures\":[{\"sig\":\"AQ==\"}]}')",
        "SELECT * FROM rekor_dequeue('w')",
        "SELECT rekor_add_log('x', 'y')",
        "SELECT * FROM rekor_record_checkpoint('x')",
        "INSERT INTO rekor_checkpoints (note) VALUES ('x')",
    ] {
        assert_eq!(sqlstate(p.query(q, &[])), "42501", "{q}");
    }
    let b = bundle();
    assert_eq!(sqlstate(p.query("SELECT rekor_ingest_bundle($1)", &[&b])), "42501");
}

#[test]
fn readers_read_and_verify_but_cannot_write() {
    let mut db = setup("roles_reader");
    trust_all_logs(&mut db.owner);
    let b = bundle();
    let id: i64 = db.owner.query_one("SELECT rekor_ingest_bundle($1)", &[&b]).unwrap().get(0);
    let mut r = login_as(&mut db, "reader", Some("rekor_reader"));
    let ok: bool = r.query_one("SELECT rekor_verify_inclusion($1)", &[&id]).unwrap().get(0);
    assert!(ok);
    let n: i64 = r.query_one("SELECT count(*) FROM rekor_entries", &[]).unwrap().get(0);
    assert_eq!(n, 1);
    r.query("SELECT * FROM rekor_log_status", &[]).unwrap();
    r.query("SELECT * FROM rekor_queue_stats", &[]).unwrap();
    for q in [
        "DELETE FROM rekor_entries",
        "UPDATE rekor_logs SET valid_until = now()",
        "INSERT INTO rekor_checkpoints (note) VALUES ('x')",
    ] {
        assert_eq!(sqlstate(r.query(q, &[])), "42501", "{q}");
    }
    assert_eq!(sqlstate(r.query("SELECT rekor_ingest_bundle($1)", &[&b])), "42501");
}

#[test]
fn writers_ingest_through_the_trigger_and_cannot_bypass_or_change_it() {
    let mut db = setup("roles_writer");
    trust_all_logs(&mut db.owner);
    let mut w = login_as(&mut db, "writer", Some("rekor_writer"));
    let b = bundle();
    let id: i64 = w.query_one("SELECT rekor_ingest_bundle($1)", &[&b]).unwrap().get(0);
    let again: i64 = w.query_one("SELECT rekor_ingest_bundle($1)", &[&b]).unwrap().get(0);
    assert_eq!(id, again);

    // A copy of the stored row with one proof hash flipped, through every write path a writer has.
    let tampered_select = "INSERT INTO rekor_entries (log_id, log_index, proof_log_index, body, tree_size, root_hash, proof_hashes, checkpoint, integrated_time, signed_entry_timestamp)
         SELECT log_id, log_index + 1, proof_log_index, body, tree_size, root_hash,
                array_prepend(set_byte(proof_hashes[1], 0, get_byte(proof_hashes[1], 0) # 1), proof_hashes[2:]),
                checkpoint, integrated_time, signed_entry_timestamp FROM rekor_entries";
    assert_eq!(sqlstate(w.execute(tampered_select, &[])), "23514");
    // ON CONFLICT DO UPDATE needs UPDATE, which writers do not have.
    let upsert = "INSERT INTO rekor_entries (log_id, log_index, proof_log_index, body, tree_size, root_hash, proof_hashes, checkpoint, integrated_time, signed_entry_timestamp)
         SELECT log_id, log_index, proof_log_index, body, tree_size, root_hash, proof_hashes, checkpoint, integrated_time, signed_entry_timestamp
         FROM rekor_entries ON CONFLICT (leaf_hash, log_id, log_index_authenticated) DO UPDATE SET body = EXCLUDED.body";
    assert_eq!(sqlstate(w.execute(upsert, &[])), "42501");
    // COPY of a tampered row (one proof hash dropped), as CSV.
    let r = w
        .query_one(
            "SELECT log_id, log_index, proof_log_index, body, tree_size, root_hash, proof_hashes, checkpoint FROM rekor_entries",
            &[],
        )
        .unwrap();
    let (log_id, log_index, pidx, body, size, root, hashes, note): (Vec<u8>, i64, i64, Vec<u8>, i64, Vec<u8>, Vec<Vec<u8>>, String) =
        (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5), r.get(6), r.get(7));
    let arr = hashes[1..].iter().map(|h| format!("\"\\\\x{}\"", hex::encode(h))).collect::<Vec<_>>().join(",");
    let csv = format!(
        "\\x{},{},{},\\x{},{},\\x{},\"{{{}}}\",\"{}\"\n",
        hex::encode(&log_id),
        log_index + 2,
        pidx,
        hex::encode(&body),
        size,
        hex::encode(&root),
        arr.replace('"', "\"\""),
        note.replace('"', "\"\"")
    );
    let mut tx = w.transaction().unwrap();
    let result = tx
        .copy_in(
            "COPY rekor_entries (log_id, log_index, proof_log_index, body, tree_size, root_hash, proof_hashes, checkpoint) FROM STDIN (FORMAT csv)",
        )
        .and_then(|mut wr| {
            use std::io::Write;
            wr.write_all(csv.as_bytes()).expect("write COPY data");
            wr.finish()
        });
    assert_eq!(sqlstate(result), "23514", "COPY of a tampered row must be rejected by the trigger");
    drop(tx);

    for q in [
        "UPDATE rekor_entries SET body = body",
        "DELETE FROM rekor_entries",
        "TRUNCATE rekor_entries",
        "ALTER TABLE rekor_entries DISABLE TRIGGER rekor_entries_verify",
        "ALTER TABLE rekor_entries DISABLE TRIGGER ALL",
        "CREATE RULE sneak AS ON INSERT TO rekor_entries DO INSTEAD NOTHING",
        "UPDATE rekor_logs SET public_key = public_key",
        "DROP TRIGGER rekor_entries_verify ON rekor_entries",
    ] {
        assert_eq!(sqlstate(w.execute(q, &[])), "42501", "{q}");
    }
    let n: i64 = db.owner.query_one("SELECT count(*) FROM rekor_entries", &[]).unwrap().get(0);
    assert_eq!(n, 1);
}

#[test]
fn workers_run_the_queue_only_for_items_they_lease() {
    let mut db = setup("roles_worker");
    trust_all_logs(&mut db.owner);
    let mut w1 = login_as(&mut db, "worker", Some("rekor_worker"));
    let mut w2 = login_as(&mut db, "worker", Some("rekor_worker"));
    let b = bundle();
    let env = b["dsseEnvelope"].clone();
    let qid: i64 = w1.query_one("SELECT rekor_enqueue($1)", &[&env]).unwrap().get(0);
    let leased: i64 = w1.query_one("SELECT queue_id FROM rekor_dequeue('w1', 1)", &[]).unwrap().get(0);
    assert_eq!(leased, qid);
    assert_eq!(sqlstate(w2.query("SELECT rekor_mark_submitted($1, 'w2', $2)", &[&qid, &b])), "55000");
    assert_eq!(sqlstate(w2.query("SELECT rekor_mark_failed($1, 'w2', 'x')", &[&qid])), "55000");
    assert_eq!(
        sqlstate(w2.execute("UPDATE rekor_submission_queue SET lease_owner = 'w2'", &[])),
        "42501"
    );
    assert_eq!(sqlstate(w2.query("SELECT rekor_requeue($1)", &[&qid])), "42501");
    let entry: i64 = w1.query_one("SELECT rekor_mark_submitted($1, 'w1', $2)", &[&qid, &b]).unwrap().get(0);
    let ok: bool = w1.query_one("SELECT rekor_verify_inclusion($1)", &[&entry]).unwrap().get(0);
    assert!(ok);
}

#[test]
fn admins_manage_logs_but_cannot_change_a_key() {
    let mut db = setup("roles_admin");
    let mut a = login_as(&mut db, "admin", Some("rekor_admin"));
    let k = fixture_key("production:rekor.sigstore.dev");
    let id: Vec<u8> = a
        .query_one("SELECT rekor_add_log($1, 'rekor.sigstore.dev')", &[&k["public_key_pem"].as_str().unwrap()])
        .unwrap()
        .get(0);
    a.execute("UPDATE rekor_logs SET valid_until = now() WHERE log_id = $1", &[&id]).unwrap();
    assert_eq!(sqlstate(a.execute("UPDATE rekor_logs SET signer_name = 'x'", &[])), "42501");
    // Even the owner cannot swap the key under a log_id.
    let (code, msg, _) = db_error(db.owner.execute("UPDATE rekor_logs SET public_key = '\\x00'", &[]));
    assert_eq!(code, "55000", "{msg}");
}

#[test]
fn a_malicious_search_path_cannot_hijack_security_definer_functions() {
    let mut db = setup("roles_search_path");
    trust_all_logs(&mut db.owner);
    let mut w = login_as(&mut db, "worker", Some("rekor_worker"));
    let role: String = w.query_one("SELECT current_user", &[]).unwrap().get(0);
    db.owner.batch_execute(&format!("CREATE SCHEMA evil AUTHORIZATION {role}")).unwrap();
    // Look-alikes of builtins and of the extension's own functions, and a bytea = operator.
    w.batch_execute(
        "CREATE FUNCTION evil.sha256(bytea) RETURNS bytea LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijacked sha256'; END $$;
         CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijacked now'; END $$;
         CREATE FUNCTION evil.encode(bytea, text) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijacked encode'; END $$;
         CREATE FUNCTION evil.rekor_dsse_info(jsonb) RETURNS TABLE (payload_type text, payload_sha256 bytea, envelope_sha256 bytea, pae_sha256 bytea)
             LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijacked rekor_dsse_info'; END $$;
         CREATE FUNCTION evil.byteaeq_evil(bytea, bytea) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'hijacked ='; END $$;
         CREATE OPERATOR evil.= (LEFTARG = bytea, RIGHTARG = bytea, FUNCTION = evil.byteaeq_evil);
         CREATE TABLE evil.rekor_submission_queue (queue_id bigint);
         SET search_path = evil, public, pg_catalog;",
    )
    .unwrap();
    let b = bundle();
    let env = b["dsseEnvelope"].clone();
    let qid: i64 = w.query_one("SELECT public.rekor_enqueue($1)", &[&env]).unwrap().get(0);
    let leased: i64 = w.query_one("SELECT queue_id FROM public.rekor_dequeue('w', 1)", &[]).unwrap().get(0);
    assert_eq!(leased, qid);
    let entry: i64 = w.query_one("SELECT public.rekor_mark_submitted($1, 'w', $2)", &[&qid, &b]).unwrap().get(0);
    assert!(entry > 0);
    let ok: bool = w.query_one("SELECT public.rekor_verify_inclusion($1)", &[&entry]).unwrap().get(0);
    assert!(ok);
}
