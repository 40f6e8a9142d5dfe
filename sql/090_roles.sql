-- Roles and privileges. Four group roles, created when missing (roles are cluster-wide: they are
-- shared by every database that uses the extension, and DROP EXTENSION leaves them in place):
--   rekor_reader  read the evidence and verify it
--   rekor_writer  ingest entries and checkpoints through the verified paths (+ reader)
--   rekor_worker  run the submission queue: enqueue, dequeue, extend, mark (+ reader)
--   rekor_admin   manage trusted logs and revive dead queue items (+ writer, worker)
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
-- (SECURITY DEFINER) are not executable by PUBLIC either.
REVOKE ALL ON rekor_logs, rekor_checkpoints, rekor_log_forks, rekor_checkpoint_consistency, rekor_witness_state,
              rekor_entries, rekor_submission_queue FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION
    rekor_record_checkpoint(text),
    rekor_verify_checkpoint_consistency(bigint, bigint, bytea[]),
    rekor_witness_checkpoint(text, bigint, bytea[]),
    rekor_enqueue(jsonb, bytea, integer),
    rekor_enqueue_batch(jsonb[], bytea, integer),
    rekor_dequeue(text, integer, interval),
    rekor_extend_lease(bigint, text, interval),
    rekor_mark_submitted(bigint, text, jsonb),
    rekor_mark_failed(bigint, text, text, boolean),
    rekor_requeue(bigint),
    rekor_add_log(text, text, text, timestamptz, timestamptz),
    rekor_ingest_entry(jsonb),
    rekor_ingest_bundle(jsonb)
FROM PUBLIC;

-- Readers: every table and view, and the verification functions (those are executable by PUBLIC:
-- they only read what the caller can read).
GRANT SELECT ON rekor_logs, rekor_checkpoints, rekor_log_forks, rekor_checkpoint_consistency, rekor_witness_state,
                rekor_entries, rekor_submission_queue, rekor_log_status, rekor_queue_stats TO rekor_reader;

-- Writers: INSERT is the verified path (the triggers check every row); the ingest and checkpoint
-- functions are how a client normally writes.
GRANT INSERT ON rekor_entries, rekor_checkpoints, rekor_checkpoint_consistency TO rekor_writer;
GRANT EXECUTE ON FUNCTION
    rekor_ingest_entry(jsonb),
    rekor_ingest_bundle(jsonb),
    rekor_record_checkpoint(text),
    rekor_verify_checkpoint_consistency(bigint, bigint, bytea[]),
    rekor_witness_checkpoint(text, bigint, bytea[])
TO rekor_writer;

-- Workers: the queue functions (SECURITY DEFINER: workers need no table privileges beyond reading).
GRANT EXECUTE ON FUNCTION
    rekor_enqueue(jsonb, bytea, integer),
    rekor_enqueue_batch(jsonb[], bytea, integer),
    rekor_dequeue(text, integer, interval),
    rekor_extend_lease(bigint, text, interval),
    rekor_mark_submitted(bigint, text, jsonb),
    rekor_mark_failed(bigint, text, text, boolean)
TO rekor_worker;

-- Admins: trusted logs (identity immutable, validity window editable) and dead letters.
GRANT INSERT, UPDATE (valid_from, valid_until) ON rekor_logs TO rekor_admin;
GRANT EXECUTE ON FUNCTION
    rekor_add_log(text, text, text, timestamptz, timestamptz),
    rekor_requeue(bigint)
TO rekor_admin;
