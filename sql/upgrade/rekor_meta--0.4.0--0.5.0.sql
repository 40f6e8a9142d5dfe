-- rekor_meta 0.4.0 -> 0.5.0 (ALTER EXTENSION rekor_meta UPDATE).
--
-- Hand-written: every change 0.5.0 makes to the schema is made twice, in the same commit:
--   * in sql/schema/ (the current schema, what CREATE EXTENSION creates: edit the object in place);
--   * here, as the statements that turn an installed 0.4.0 into exactly that: new objects,
--     CREATE OR REPLACE of changed functions (or DROP + CREATE when the signature changes, then
--     its grants again), ALTER TABLE for columns and constraints, migrations of stored rows, and
--     the grants of new objects. A new C function (#[pg_extern]) is created here too, with
--     ALTER FUNCTION ... SET search_path = pg_catalog, pg_temp (a fresh install gets it from the
--     last step of sql/schema/090_roles.sql).
-- tests/client/tests/upgrade.rs installs every released version (sql/released/), upgrades it and
-- fails on any difference from a fresh install. Once 0.5.0 is released this file is frozen.
--
-- 0.5.0 is issue 13 (performance) by design: the verifying trigger of rekor_entries in Rust, and
-- the queue's hot path.
\echo Use "ALTER EXTENSION rekor_meta UPDATE TO '0.5.0'" to load this file. \quit

-- BEGIN entries
-- The verifying trigger of rekor_entries in Rust (src/trigger.rs): the same checks, order and
-- errors as 0.4.0's PL/pgSQL function, one pass over the row, lookups once per statement. The
-- trigger keeps its function (same name and signature); only the body and language change.
CREATE OR REPLACE FUNCTION rekor_entries_verify() RETURNS trigger
LANGUAGE c AS 'MODULE_PATHNAME', 'rekor_entries_verify_wrapper';
-- No SET clause: it pins search_path = pg_catalog, pg_temp around its own SQL (src/trigger.rs).
ALTER FUNCTION rekor_entries_verify() RESET search_path;
-- END entries

-- BEGIN queue
-- The queue's batch enqueue (issue 13).
-- rekor_enqueue_batch's plan (made at every call) no longer estimates 1000 shape rows, which put
-- its cost over jit_above_cost: every call was JIT-compiled.
ALTER FUNCTION rekor_array_shape(anyarray, bigint) ROWS 1;
-- The keys trigger adds no key for items whose keys rekor_enqueue_batch claimed, and finds an
-- existing key by ON CONFLICT instead of an anti-join (whose cached plan scanned every key).
CREATE OR REPLACE FUNCTION rekor_submission_keys_follow() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- rekor_enqueue_batch claimed every key of its items in the same statement (it sets this
        -- for that statement only): nothing to add.
        IF current_setting('rekor_meta.enqueue_claimed_keys', true) = 'on' THEN
            RETURN NULL;
        END IF;
        -- No join with the keys: ON CONFLICT finds an item's existing key (rekor_enqueue wrote it a
        -- moment ago, so its index pages are in memory) by an index probe whatever the statistics,
        -- where a cached anti-join plan made while the table was small scans every key, every call.
        INSERT INTO @extschema@.rekor_submission_keys (envelope_sha256, log_key, queue_id)
        SELECT n.envelope_sha256, coalesce(n.log_id, '\x'::bytea), n.queue_id FROM new_items n
        ON CONFLICT DO NOTHING;
    ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM @extschema@.rekor_submission_keys k WHERE k.queue_id IN (SELECT o.queue_id FROM old_items o);
    ELSE
        TRUNCATE @extschema@.rekor_submission_keys;
    END IF;
    RETURN NULL;
END
$$;
-- Batch enqueue: the keys trigger told to skip its items; unclaimed envelopes looked up by key.
CREATE OR REPLACE FUNCTION rekor_enqueue_batch_impl(envelopes jsonb[], log_id bytea, max_attempts integer)
RETURNS SETOF bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    ids bigint[];
    shas bytea[];
BEGIN
    -- Tells the keys trigger that this statement's items have their keys (claimed below) already;
    -- transaction-local and cleared right after the statement (an error rolls it back too).
    PERFORM set_config('rekor_meta.enqueue_claimed_keys', 'on', true);
    WITH input AS (
        SELECT u.o, u.e, d.* FROM unnest(envelopes) WITH ORDINALITY AS u(e, o),
             LATERAL @extschema@.rekor_dsse_info(u.e) AS d
    ), numbered AS (
        -- The first occurrence of each envelope, numbered in input order (a single worker dequeues
        -- in queue_id order, so it receives them in the order given).
        SELECT f.*, nextval('@extschema@.rekor_submission_queue_queue_id_seq'::regclass) AS new_id
        FROM (SELECT g.* FROM (SELECT DISTINCT ON (i.envelope_sha256) i.* FROM input i ORDER BY i.envelope_sha256, i.o) g
              ORDER BY g.o) f
    ), claimed AS (
        INSERT INTO @extschema@.rekor_submission_keys AS k (envelope_sha256, log_key, queue_id)
        SELECT n.envelope_sha256, coalesce($2, '\x'::bytea), n.new_id FROM numbered n ORDER BY n.o
        ON CONFLICT DO NOTHING
        RETURNING k.queue_id, k.envelope_sha256
    ), inserted AS (
        INSERT INTO @extschema@.rekor_submission_queue (queue_id, envelope, payload_type, payload_sha256, envelope_sha256,
                                                        pae_sha256, log_id, max_attempts)
        OVERRIDING SYSTEM VALUE
        SELECT c.queue_id, n.e, n.payload_type, n.payload_sha256, n.envelope_sha256, n.pae_sha256, $2, $3
        FROM claimed c JOIN numbered n ON n.new_id = c.queue_id
        ORDER BY c.queue_id
        RETURNING 1
    )
    SELECT array_agg(c.queue_id ORDER BY i.o), array_agg(i.envelope_sha256 ORDER BY i.o)
    INTO ids, shas
    FROM input i
    LEFT JOIN claimed c ON c.envelope_sha256 = i.envelope_sha256;
    PERFORM set_config('rekor_meta.enqueue_claimed_keys', '', true);
    -- An envelope not claimed here is already queued: its key was there before this statement, or
    -- a concurrent transaction inserted and committed it while this statement waited on it (which
    -- that statement's snapshot cannot see). Either way it is looked up with a new snapshot, by its
    -- primary key (a join with the keys here was planned, and cached, as a scan of every key).
    RETURN QUERY
    SELECT coalesce(u.id, @extschema@.rekor_submission_key_now(u.sha, coalesce($2, '\x'::bytea)))
    FROM unnest(ids, shas) WITH ORDINALITY AS u(id, sha, o)
    ORDER BY u.o;
END
$$;
-- END queue
