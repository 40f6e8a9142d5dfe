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
-- The digests of a whole batch in one Rust call (src/queue.rs).
CREATE FUNCTION rekor_dsse_info_batch(envelopes jsonb[])
RETURNS TABLE (payload_type text, payload_sha256 bytea, envelope_sha256 bytea, pae_sha256 bytea)
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c AS 'MODULE_PATHNAME', 'rekor_dsse_info_batch_wrapper';
ALTER FUNCTION rekor_dsse_info_batch(jsonb[]) ROWS 100;
ALTER FUNCTION rekor_dsse_info_batch(jsonb[]) SET search_path = pg_catalog, pg_temp;
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
        -- Each envelope beside its digests (one Rust call for the whole batch, its rows in input order).
        SELECT u.o, u.e, u.payload_type, u.payload_sha256, u.envelope_sha256, u.pae_sha256
        FROM ROWS FROM (unnest(envelopes), @extschema@.rekor_dsse_info_batch(envelopes)) WITH ORDINALITY
             AS u(e, payload_type, payload_sha256, envelope_sha256, pae_sha256, o)
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
-- The queue's single dequeue and ack (issue 13). rekor_dequeue keeps one generic plan per session
-- (it was planned again at every call: its LIMIT is a parameter) and finds its rows by primary key;
-- the acks find their items by primary key, not through rekor_queue_leased.
-- No JIT (see 050_queue.sql): with millions pending the generic plan's cost passed jit_above_cost.
CREATE OR REPLACE FUNCTION rekor_dequeue(worker text, batch integer DEFAULT 1, lease interval DEFAULT '5 minutes')
RETURNS SETOF rekor_submission_queue
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
SET jit = off
AS $$
BEGIN
    IF worker IS NULL OR worker = '' THEN
        RAISE EXCEPTION 'worker must be a non-empty name' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF batch IS NULL OR batch < 1 OR batch > 1000 THEN
        RAISE EXCEPTION 'batch must be between 1 and 1000' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('batch = %s', batch);
    END IF;
    IF lease IS NULL OR lease <= interval '0' OR lease > interval '1 day' THEN
        RAISE EXCEPTION 'lease must be positive and at most 1 day' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('lease = %s', lease);
    END IF;
    RETURN QUERY
    WITH dead AS (
        -- Items whose expired lease was their last attempt are dead, not handed out again.
        UPDATE @extschema@.rekor_submission_queue q
        SET state = 'dead', lease_owner = NULL, lease_expires_at = NULL,
            last_error = coalesce(q.last_error || '; ', '') || 'lease expired on the last attempt'
        WHERE q.queue_id = ANY (ARRAY(
            SELECT x.queue_id FROM @extschema@.rekor_submission_queue x
            WHERE x.state = 'leased' AND x.lease_expires_at <= now() AND x.attempts >= x.max_attempts
            ORDER BY x.lease_expires_at LIMIT batch FOR UPDATE SKIP LOCKED))
        RETURNING 1
    ), leased AS (
        UPDATE @extschema@.rekor_submission_queue q
        SET state = 'leased', lease_owner = worker, lease_expires_at = now() + lease, attempts = q.attempts + 1
        WHERE q.queue_id = ANY (ARRAY(
            -- The oldest `batch` of: the first due pending items, the first expired leases.
            SELECT c.queue_id FROM (
                SELECT p.queue_id FROM (SELECT x.queue_id FROM @extschema@.rekor_submission_queue x
                                        WHERE x.state = 'pending' AND x.next_attempt_at <= now()
                                        ORDER BY x.queue_id LIMIT batch FOR UPDATE SKIP LOCKED) p
                UNION ALL
                SELECT e.queue_id FROM (SELECT x.queue_id FROM @extschema@.rekor_submission_queue x
                                        WHERE x.state = 'leased' AND x.lease_expires_at <= now() AND x.attempts < x.max_attempts
                                        ORDER BY x.lease_expires_at, x.queue_id LIMIT batch FOR UPDATE SKIP LOCKED) e
            ) c
            ORDER BY c.queue_id
            LIMIT batch))
        RETURNING q.*
    )
    SELECT l.* FROM leased l ORDER BY l.queue_id;
END
$$;
CREATE OR REPLACE FUNCTION rekor_mark_failed(queue_id bigint, worker text, error text, retryable boolean DEFAULT true)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    new_state text;
BEGIN
    UPDATE @extschema@.rekor_submission_queue x
    SET state = CASE WHEN retryable AND x.attempts < x.max_attempts THEN 'pending' ELSE 'dead' END,
        lease_owner = NULL, lease_expires_at = NULL, last_error = left(error, 4000),
        next_attempt_at = now() + least(interval '1 hour', interval '1 second' * power(2, least(x.attempts, 12)))
    WHERE x.queue_id = $1 AND x.lease_owner = $2 AND x.lease_expires_at > now()
    RETURNING x.state INTO new_state;
    IF NOT FOUND THEN
        PERFORM @extschema@.rekor_queue_lease_check($1, $2);
        RAISE EXCEPTION 'worker does not hold a live lease on this item' USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = format('queue_id %s, caller %s', $1, left($2, 200));
    END IF;
    RETURN new_state;
END
$$;
CREATE OR REPLACE FUNCTION rekor_mark_failed_batch(queue_ids bigint[], worker text, error text, retryable boolean DEFAULT true)
RETURNS TABLE (queue_id bigint, state text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    done_ids bigint[];
    states text[];
    missing bigint;
BEGIN
    IF queue_ids IS NULL OR array_ndims(queue_ids) > 1 THEN
        RAISE EXCEPTION 'queue_ids must be a one-dimensional array' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('dimensions %s', coalesce(array_dims(queue_ids), 'NULL array'));
    END IF;
    IF array_position(queue_ids, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'queue_ids must not contain NULL' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('queue_ids[%s] is NULL', array_position(queue_ids, NULL));
    END IF;
    IF cardinality(queue_ids) > 1000 THEN
        RAISE EXCEPTION 'batch too large' USING ERRCODE = 'program_limit_exceeded',
            DETAIL = format('%s queue_ids; at most 1000 per call', cardinality(queue_ids));
    END IF;
    WITH upd AS (
        UPDATE @extschema@.rekor_submission_queue x
        SET state = CASE WHEN retryable AND x.attempts < x.max_attempts THEN 'pending' ELSE 'dead' END,
            lease_owner = NULL, lease_expires_at = NULL, last_error = left(error, 4000),
            next_attempt_at = now() + least(interval '1 hour', interval '1 second' * power(2, least(x.attempts, 12)))
        -- No state test, as in rekor_mark_failed: the items are found by the primary key.
        WHERE x.queue_id = ANY (queue_ids) AND x.lease_owner = worker AND x.lease_expires_at > now()
        RETURNING x.queue_id, x.state
    )
    SELECT coalesce(array_agg(u.queue_id ORDER BY u.queue_id), '{}'), coalesce(array_agg(u.state ORDER BY u.queue_id), '{}')
    INTO done_ids, states FROM upd u;
    IF cardinality(done_ids) < (SELECT count(DISTINCT i) FROM unnest(queue_ids) AS i) THEN
        -- Some item is not leased live by this worker: raise why (this undoes the whole call).
        SELECT u.i INTO missing FROM unnest(queue_ids) WITH ORDINALITY AS u(i, o)
        WHERE u.i <> ALL (done_ids) ORDER BY u.o LIMIT 1;
        PERFORM @extschema@.rekor_queue_lease_check(missing, worker);
        RAISE EXCEPTION 'worker does not hold a live lease on every item' USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = format('queue_id %s, caller %s', missing, left(worker, 200));
    END IF;
    RETURN QUERY SELECT * FROM unnest(done_ids, states);
END
$$;
-- The queue's single-column rules become domains (one CHECK of the table each was parsed and
-- planned again by every statement that updated a row: every dequeue and ack). The view and the
-- trigger that name `state` are dropped for the type change and made again.
CREATE DOMAIN rekor_queue_state AS text CHECK (VALUE IN ('pending', 'leased', 'submitted', 'dead'));
CREATE DOMAIN rekor_queue_max_attempts AS integer CHECK (VALUE BETWEEN 1 AND 1000);
CREATE DOMAIN rekor_queue_verifier AS bytea CHECK (length(VALUE) <= 16384);
CREATE DOMAIN rekor_queue_verifier_kind AS text CHECK (VALUE IN ('public_key', 'x509_certificate'));
CREATE DOMAIN rekor_queue_verifier_key_type AS text CHECK (VALUE IN ('ecdsa-p256', 'ecdsa-p384', 'ed25519'));
DROP VIEW rekor_queue_stats;
DROP TRIGGER rekor_vex_link_submitted ON rekor_submission_queue;
ALTER TABLE rekor_submission_queue
    DROP CONSTRAINT rekor_submission_queue_state_check,
    DROP CONSTRAINT rekor_submission_queue_max_attempts_check,
    DROP CONSTRAINT rekor_submission_queue_verifier_kind_check,
    DROP CONSTRAINT rekor_submission_queue_verifier_key_type_check,
    DROP CONSTRAINT rekor_submission_queue_verifier_size,
    ALTER COLUMN state DROP DEFAULT,
    ALTER COLUMN state TYPE rekor_queue_state,
    ALTER COLUMN state SET DEFAULT 'pending',
    ALTER COLUMN max_attempts DROP DEFAULT,
    ALTER COLUMN max_attempts TYPE rekor_queue_max_attempts,
    ALTER COLUMN max_attempts SET DEFAULT 10,
    ALTER COLUMN verifier TYPE rekor_queue_verifier,
    ALTER COLUMN verifier_kind TYPE rekor_queue_verifier_kind,
    ALTER COLUMN verifier_key_type TYPE rekor_queue_verifier_key_type;
-- Made again OF entry_id (sql/schema/060_vex.sql): dequeue and ack, which never set entry_id, skip it.
CREATE TRIGGER rekor_vex_link_submitted AFTER UPDATE OF entry_id ON rekor_submission_queue
    FOR EACH ROW WHEN (NEW.state = 'submitted' AND OLD.state IS DISTINCT FROM 'submitted')
    EXECUTE FUNCTION rekor_vex_link_submitted();
-- What an operator graphs: counts per state and log, oldest pending age, attempts histogram.
CREATE VIEW rekor_queue_stats AS
SELECT q.state,
       q.log_id,
       count(*) AS items,
       max(now() - q.enqueued_at) FILTER (WHERE q.state = 'pending') AS oldest_pending_age,
       count(*) FILTER (WHERE q.state = 'leased' AND q.lease_expires_at <= now()) AS expired_leases,
       count(*) FILTER (WHERE q.attempts = 0) AS attempts_0,
       count(*) FILTER (WHERE q.attempts = 1) AS attempts_1,
       count(*) FILTER (WHERE q.attempts BETWEEN 2 AND 3) AS attempts_2_3,
       count(*) FILTER (WHERE q.attempts BETWEEN 4 AND 7) AS attempts_4_7,
       count(*) FILTER (WHERE q.attempts >= 8) AS attempts_8_plus
FROM rekor_submission_queue q
GROUP BY q.state, q.log_id;
GRANT SELECT ON rekor_queue_stats TO rekor_reader;
-- END queue
