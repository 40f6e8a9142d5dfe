-- Roles and privileges of every object the files before create. Four group roles, created when
-- missing (roles are cluster-wide: they are shared by every database that uses the extension, and
-- DROP EXTENSION leaves them in place):
--   rekor_reader  read the evidence and verify it
--   rekor_writer  ingest entries and checkpoints through the verified paths, link VEX (+ reader)
--   rekor_worker  run the submission queue: enqueue, dequeue, extend, mark; link VEX (+ reader)
--   rekor_admin   manage trusted logs (keys, shards, endpoints, trusted roots) and revive dead
--                 queue items (+ writer, worker)
-- Tables belong to the extension owner. Writers INSERT only through the verifying triggers; no
-- role but the owner can UPDATE, DELETE or TRUNCATE evidence, or disable a trigger (ownership).
-- Roles and memberships are shared by all databases, so CREATE EXTENSION in two databases at once
-- can race on them: each step tolerates losing the race to a concurrent twin.
DO $roles$
DECLARE
    r text;
    m record;
BEGIN
    FOREACH r IN ARRAY ARRAY['rekor_reader', 'rekor_writer', 'rekor_worker', 'rekor_admin'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created concurrently by another database's CREATE EXTENSION
            END;
        END IF;
    END LOOP;
    FOR m IN SELECT * FROM (VALUES ('rekor_reader', 'rekor_writer'), ('rekor_reader', 'rekor_worker'),
                                   ('rekor_writer', 'rekor_admin'), ('rekor_worker', 'rekor_admin')) AS v(grp, member)
    LOOP
        IF NOT pg_catalog.pg_has_role(m.member, m.grp, 'MEMBER') THEN
            BEGIN
                EXECUTE pg_catalog.format('GRANT %I TO %I', m.grp, m.member);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;
            END;
        END IF;
    END LOOP;
END
$roles$;

-- Nothing of the extension is writable by PUBLIC; functions that write on the caller's behalf
-- (SECURITY DEFINER) or that only the extension's own code calls are not executable by PUBLIC either.
REVOKE ALL ON rekor_logs, rekor_log_shards, rekor_checkpoints, rekor_log_forks, rekor_checkpoint_consistency,
              rekor_witness_state, rekor_entries, rekor_submission_queue, rekor_submission_keys, rekor_vex_links,
              rekor_timestamp_authorities
FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION
    rekor_record_checkpoint(text),
    rekor_verify_checkpoint_consistency(bigint, bigint, bytea[]),
    rekor_witness_checkpoint(text, bigint, bytea[]),
    rekor_enqueue(jsonb, bytea, integer, text),
    rekor_enqueue_batch(jsonb[], bytea, integer),
    rekor_enqueue_batch_check(bigint, integer, text, bigint, bigint, bytea, integer),
    rekor_enqueue_batch_impl(jsonb[], bytea, integer),
    rekor_submission_key_now(bytea, bytea),
    rekor_dequeue(text, integer, interval),
    rekor_extend_lease(bigint, text, interval),
    rekor_mark_submitted(bigint, text, jsonb),
    rekor_mark_failed(bigint, text, text, boolean),
    rekor_mark_failed_batch(bigint[], text, text, boolean),
    rekor_requeue(bigint),
    rekor_queue_notify(),
    rekor_add_log(text, text, text, timestamptz, timestamptz),
    rekor_add_log_shard(bytea, bigint, bigint),
    rekor_import_trusted_root(jsonb),
    rekor_import_timestamp_authorities(jsonb),
    rekor_set_log_endpoint(bytea, text, integer),
    rekor_ingest_entry(jsonb),
    rekor_ingest_bundle(jsonb),
    rekor_entry_checkpoint(text, bytea, bigint, bytea, text, bytea, bytea, bigint, bigint, bytea),
    rekor_link_vex(jsonb, bigint),
    rekor_link_vex(jsonb, bytea),
    rekor_vex_store(jsonb, bytea, bigint, bigint, jsonb)
FROM PUBLIC;

-- Readers: every table and view, and the verification functions (those are executable by PUBLIC:
-- they only read what the caller can read).
GRANT SELECT ON rekor_logs, rekor_log_shards, rekor_log_endpoints, rekor_checkpoints, rekor_log_forks,
                rekor_checkpoint_consistency, rekor_log_status, rekor_witness_state, rekor_entries,
                rekor_submission_queue, rekor_submission_keys, rekor_queue_stats, rekor_vex_links,
                rekor_timestamp_authorities
TO rekor_reader;

-- Writers: INSERT is the verified path (the triggers check every row); the ingest and checkpoint
-- functions are how a client normally writes. rekor_entry_checkpoint stores checkpoints as the
-- owner: only for roles that may insert entries. Writers and workers link VEX statements.
GRANT INSERT ON rekor_entries, rekor_checkpoints, rekor_checkpoint_consistency TO rekor_writer;
GRANT EXECUTE ON FUNCTION
    rekor_ingest_entry(jsonb),
    rekor_ingest_bundle(jsonb),
    rekor_entry_checkpoint(text, bytea, bigint, bytea, text, bytea, bytea, bigint, bigint, bytea),
    rekor_record_checkpoint(text),
    rekor_verify_checkpoint_consistency(bigint, bigint, bytea[]),
    rekor_witness_checkpoint(text, bigint, bytea[]),
    rekor_link_vex(jsonb, bigint),
    rekor_link_vex(jsonb, bytea)
TO rekor_writer;

-- Workers: the queue functions (SECURITY DEFINER: workers need no table privileges beyond reading).
GRANT EXECUTE ON FUNCTION
    rekor_enqueue(jsonb, bytea, integer, text),
    rekor_enqueue_batch(jsonb[], bytea, integer),
    rekor_dequeue(text, integer, interval),
    rekor_extend_lease(bigint, text, interval),
    rekor_mark_submitted(bigint, text, jsonb),
    rekor_mark_failed(bigint, text, text, boolean),
    rekor_mark_failed_batch(bigint[], text, text, boolean),
    rekor_link_vex(jsonb, bigint),
    rekor_link_vex(jsonb, bytea)
TO rekor_worker;

-- Admins: trusted logs (identity immutable; validity window and endpoint editable), their shards,
-- trusted roots, and dead letters.
GRANT INSERT, UPDATE (valid_from, valid_until, base_url, api_version) ON rekor_logs TO rekor_admin;
GRANT INSERT ON rekor_log_shards TO rekor_admin;
GRANT INSERT, UPDATE (valid_from, valid_until) ON rekor_timestamp_authorities TO rekor_admin;
GRANT EXECUTE ON FUNCTION
    rekor_add_log(text, text, text, timestamptz, timestamptz),
    rekor_add_log_shard(bytea, bigint, bigint),
    rekor_import_trusted_root(jsonb),
    rekor_import_timestamp_authorities(jsonb),
    rekor_set_log_endpoint(bytea, text, integer),
    rekor_requeue(bigint)
TO rekor_admin;

-- Last: the C functions pgrx generates from src/ (#[pg_extern]) cannot declare a SET clause, so
-- they get the search_path every SQL-language function above declares. This runs after everything
-- else (finalize in src/lib.rs), so every C function of the install script exists by now; every
-- other function declares SET search_path itself, and tests/client/tests/security.rs fails on any
-- function without it. With pg_temp listed last, PostgreSQL searches it after pg_catalog for
-- relations and types (and never for functions and operators), so a caller's temporary objects
-- cannot stand in for the extension's. Only the extension's schema: the #[pg_test] functions of a
-- `cargo pgrx test` build live in schema tests and call the extension's functions unqualified.
-- Not the verifying trigger of rekor_entries: it runs SQL only when a statement starts or stores a
-- checkpoint, and pins this search_path around that SQL itself (src/trigger.rs, `pinned`), where a
-- SET clause would save and restore the setting on every row.
DO $pin$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT d.objid::regprocedure FROM pg_catalog.pg_depend d
        JOIN pg_catalog.pg_extension x ON x.oid = d.refobjid
        JOIN pg_catalog.pg_proc p ON p.oid = d.objid
        JOIN pg_catalog.pg_language g ON g.oid = p.prolang
        WHERE x.extname = 'rekor_meta' AND d.classid = 'pg_catalog.pg_proc'::regclass AND d.deptype = 'e'
          AND g.lanname = 'c' AND p.pronamespace = '@extschema@'::pg_catalog.regnamespace
          AND p.proname <> 'rekor_entries_verify'
        ORDER BY d.objid
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, pg_temp', f);
    END LOOP;
END
$pin$;
