-- The submission queue: DSSE attestations wait here until a worker (any language) has logged them
-- to Rekor. "submitted" means a verified inclusion proof for exactly this envelope is stored.
--
-- Semantics (pgmq-style, one statement per call, no session state: safe through PgBouncer in
-- transaction pooling mode):
--   rekor_enqueue        pending; idempotent per (envelope, log)
--   rekor_dequeue        the oldest eligible items (pending and due, or leased with an expired lease),
--                        FOR UPDATE SKIP LOCKED: never blocks on, nor hands out, another worker's live lease
--   rekor_extend_lease   a longer lease for a slow submission
--   rekor_mark_submitted ingests the Rekor response (the entry trigger verifies it), checks the entry is
--                        this envelope, links it: submitted
--   rekor_mark_failed    back to pending with exponential backoff, or dead
--   rekor_requeue        revives a dead item
-- Ordering: a single worker receives items in enqueue order (queue_id); with many workers each batch
-- is the oldest eligible items not locked by others.

-- One envelope gives one row: tell the planner, so batch enqueue plans a plain nested loop.
ALTER FUNCTION rekor_dsse_info(jsonb) ROWS 1;

CREATE TABLE rekor_submission_queue (
    queue_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    envelope          jsonb NOT NULL,                 -- the DSSE envelope as received
    payload_type      text NOT NULL,
    payload_sha256    bytea NOT NULL,                 -- SHA-256 of the decoded payload
    envelope_sha256   bytea NOT NULL,                 -- SHA-256 of the canonical envelope JSON (Rekor dsse envelopeHash)
    pae_sha256        bytea NOT NULL,                 -- SHA-256 of the DSSE pre-authentication encoding (hashedrekord digest)
    log_id            bytea REFERENCES rekor_logs (log_id),  -- NULL: whichever trusted log the worker submits to
    state             text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'leased', 'submitted', 'dead')),
    attempts          integer NOT NULL DEFAULT 0,
    max_attempts      integer NOT NULL DEFAULT 10 CHECK (max_attempts BETWEEN 1 AND 1000),
    lease_owner       text,
    lease_expires_at  timestamptz,
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    last_error        text,
    entry_id          bigint REFERENCES rekor_entries (entry_id),
    enqueued_at       timestamptz NOT NULL DEFAULT now(),
    submitted_at      timestamptz,
    CHECK ((state = 'submitted') = (entry_id IS NOT NULL)),
    CHECK ((state = 'leased') = (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL))
);
-- Idempotent enqueue: one item per envelope and target log.
CREATE UNIQUE INDEX rekor_queue_envelope ON rekor_submission_queue (envelope_sha256, coalesce(log_id, '\x'::bytea));
-- Dequeue is an index scan over just the eligible rows, in enqueue order.
CREATE INDEX rekor_queue_pending ON rekor_submission_queue (queue_id) WHERE state = 'pending';
CREATE INDEX rekor_queue_leased ON rekor_submission_queue (lease_expires_at, queue_id) WHERE state = 'leased';
CREATE INDEX rekor_queue_entry ON rekor_submission_queue (entry_id) WHERE entry_id IS NOT NULL;
SELECT pg_catalog.pg_extension_config_dump('rekor_submission_queue', '');
SELECT pg_catalog.pg_extension_config_dump('rekor_submission_queue_queue_id_seq', '');  -- so restored rows keep their ids and new ones follow
COMMENT ON TABLE rekor_submission_queue IS 'DSSE envelopes waiting to be logged to Rekor (see rekor_enqueue, rekor_dequeue)';

-- Enqueues one DSSE envelope (validated: payloadType, base64 payload, signatures[] with base64 sig and
-- optional keyid). The same envelope for the same log returns the existing queue_id.
CREATE FUNCTION rekor_enqueue(envelope jsonb, log_id bytea DEFAULT NULL, max_attempts integer DEFAULT 10)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    d record;
    id bigint;
BEGIN
    IF envelope IS NULL THEN
        RAISE EXCEPTION 'envelope must not be NULL' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = 'rekor_enqueue(envelope => NULL)';
    END IF;
    IF max_attempts IS NULL OR max_attempts < 1 OR max_attempts > 1000 THEN
        RAISE EXCEPTION 'max_attempts must be between 1 and 1000' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('max_attempts = %s', max_attempts);
    END IF;
    IF log_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM @extschema@.rekor_logs l WHERE l.log_id = $2) THEN
        RAISE EXCEPTION 'unknown log' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('log_id %s is not in rekor_logs', encode(log_id, 'hex'));
    END IF;
    SELECT * INTO d FROM @extschema@.rekor_dsse_info(envelope);
    INSERT INTO @extschema@.rekor_submission_queue AS q (envelope, payload_type, payload_sha256, envelope_sha256, pae_sha256,
                                                         log_id, max_attempts)
    VALUES (envelope, d.payload_type, d.payload_sha256, d.envelope_sha256, d.pae_sha256, $2, $3)
    ON CONFLICT (envelope_sha256, coalesce(log_id, '\x'::bytea)) DO NOTHING
    RETURNING q.queue_id INTO id;
    IF id IS NULL THEN
        SELECT q.queue_id INTO id FROM @extschema@.rekor_submission_queue q
        WHERE q.envelope_sha256 = d.envelope_sha256 AND coalesce(q.log_id, '\x'::bytea) = coalesce($2, '\x'::bytea);
    END IF;
    RETURN id;
END
$$;

-- Enqueues many envelopes in one statement (at most 10,000), set-based: returns their queue_ids in
-- input order (an envelope already queued for that log returns its existing queue_id). New items get
-- their queue_ids in input order, so one worker dequeues them in the order given.
CREATE FUNCTION rekor_enqueue_batch(envelopes jsonb[], log_id bytea DEFAULT NULL, max_attempts integer DEFAULT 10)
RETURNS SETOF bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    ids bigint[];
    shas bytea[];
BEGIN
    IF envelopes IS NULL OR array_ndims(envelopes) > 1 THEN
        RAISE EXCEPTION 'envelopes must be a one-dimensional array' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('dimensions %s', coalesce(array_dims(envelopes), 'NULL array'));
    END IF;
    IF array_position(envelopes, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'envelopes must not contain NULL' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('envelopes[%s] is NULL', array_position(envelopes, NULL));
    END IF;
    IF cardinality(envelopes) > 10000 THEN
        RAISE EXCEPTION 'batch too large' USING ERRCODE = 'program_limit_exceeded',
            DETAIL = format('%s envelopes; at most 10000 per call', cardinality(envelopes));
    END IF;
    IF max_attempts IS NULL OR max_attempts < 1 OR max_attempts > 1000 THEN
        RAISE EXCEPTION 'max_attempts must be between 1 and 1000' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('max_attempts = %s', max_attempts);
    END IF;
    IF $2 IS NOT NULL AND NOT EXISTS (SELECT 1 FROM @extschema@.rekor_logs l WHERE l.log_id = $2) THEN
        RAISE EXCEPTION 'unknown log' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('log_id %s is not in rekor_logs', encode($2, 'hex'));
    END IF;
    WITH input AS (
        SELECT u.o, u.e, d.* FROM unnest(envelopes) WITH ORDINALITY AS u(e, o),
             LATERAL @extschema@.rekor_dsse_info(u.e) AS d
    ), inserted AS (
        -- The first occurrence of each envelope, inserted in input order (identity values follow it).
        INSERT INTO @extschema@.rekor_submission_queue AS q (envelope, payload_type, payload_sha256, envelope_sha256,
                                                             pae_sha256, log_id, max_attempts)
        SELECT f.e, f.payload_type, f.payload_sha256, f.envelope_sha256, f.pae_sha256, $2, $3
        FROM (SELECT DISTINCT ON (i.envelope_sha256) i.* FROM input i ORDER BY i.envelope_sha256, i.o) f
        ORDER BY f.o
        ON CONFLICT (envelope_sha256, coalesce(log_id, '\x'::bytea)) DO NOTHING
        RETURNING q.queue_id, q.envelope_sha256
    )
    SELECT array_agg(coalesce(n.queue_id, x.queue_id) ORDER BY i.o), array_agg(i.envelope_sha256 ORDER BY i.o)
    INTO ids, shas
    FROM input i
    LEFT JOIN inserted n ON n.envelope_sha256 = i.envelope_sha256
    LEFT JOIN @extschema@.rekor_submission_queue x
           ON n.queue_id IS NULL AND x.envelope_sha256 = i.envelope_sha256
          AND coalesce(x.log_id, '\x'::bytea) = coalesce($2, '\x'::bytea);
    -- An envelope a concurrent transaction inserted and committed while this statement waited on it
    -- is neither inserted here nor visible to that statement's snapshot: look it up again, with a
    -- new snapshot.
    RETURN QUERY
    SELECT coalesce(u.id, (SELECT x.queue_id FROM @extschema@.rekor_submission_queue x
                           WHERE x.envelope_sha256 = u.sha AND coalesce(x.log_id, '\x'::bytea) = coalesce($2, '\x'::bytea)))
    FROM unnest(ids, shas) WITH ORDINALITY AS u(id, sha, o)
    ORDER BY u.o;
END
$$;

-- Leases up to `batch` (1..1000) of the oldest eligible items to `worker` until now() + lease.
CREATE FUNCTION rekor_dequeue(worker text, batch integer DEFAULT 1, lease interval DEFAULT '5 minutes')
RETURNS SETOF rekor_submission_queue
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
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
    -- Items whose expired lease was their last attempt are dead, not handed out again.
    UPDATE @extschema@.rekor_submission_queue q
    SET state = 'dead', lease_owner = NULL, lease_expires_at = NULL,
        last_error = coalesce(q.last_error || '; ', '') || 'lease expired on the last attempt'
    WHERE q.queue_id IN (SELECT x.queue_id FROM @extschema@.rekor_submission_queue x
                         WHERE x.state = 'leased' AND x.lease_expires_at <= now() AND x.attempts >= x.max_attempts
                         ORDER BY x.lease_expires_at LIMIT batch FOR UPDATE SKIP LOCKED);
    RETURN QUERY
    WITH pending AS (
        SELECT x.queue_id FROM @extschema@.rekor_submission_queue x
        WHERE x.state = 'pending' AND x.next_attempt_at <= now()
        ORDER BY x.queue_id
        LIMIT batch
        FOR UPDATE SKIP LOCKED
    ), expired AS (
        SELECT x.queue_id FROM @extschema@.rekor_submission_queue x
        WHERE x.state = 'leased' AND x.lease_expires_at <= now() AND x.attempts < x.max_attempts
        ORDER BY x.lease_expires_at, x.queue_id
        LIMIT batch
        FOR UPDATE SKIP LOCKED
    ), chosen AS (
        SELECT c.queue_id FROM (SELECT queue_id FROM pending UNION ALL SELECT queue_id FROM expired) c
        ORDER BY c.queue_id
        LIMIT batch
    )
    UPDATE @extschema@.rekor_submission_queue q
    SET state = 'leased', lease_owner = worker, lease_expires_at = now() + lease, attempts = q.attempts + 1
    FROM chosen
    WHERE q.queue_id = chosen.queue_id
    RETURNING q.*;
END
$$;

-- Raises 55000 unless `worker` holds a live lease on the item; returns the locked row.
CREATE FUNCTION rekor_queue_lease_check(queue_id bigint, worker text) RETURNS rekor_submission_queue
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    q @extschema@.rekor_submission_queue;
BEGIN
    SELECT * INTO q FROM @extschema@.rekor_submission_queue x WHERE x.queue_id = $1 FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown queue item' USING ERRCODE = 'invalid_parameter_value', DETAIL = format('queue_id %s', $1);
    END IF;
    IF q.state <> 'leased' OR q.lease_owner IS DISTINCT FROM worker OR q.lease_expires_at <= now() THEN
        RAISE EXCEPTION 'worker does not hold a live lease on this item' USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = format('queue_id %s: state %s, lease owner %s, lease expires %s, now %s; caller %s',
                            q.queue_id, q.state, coalesce(q.lease_owner, 'none'),
                            coalesce(q.lease_expires_at::text, 'never'), now(), worker);
    END IF;
    RETURN q;
END
$$;

CREATE FUNCTION rekor_extend_lease(queue_id bigint, worker text, lease interval DEFAULT '5 minutes')
RETURNS timestamptz
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    q @extschema@.rekor_submission_queue := @extschema@.rekor_queue_lease_check($1, $2);
    until timestamptz;
BEGIN
    IF lease IS NULL OR lease <= interval '0' OR lease > interval '1 day' THEN
        RAISE EXCEPTION 'lease must be positive and at most 1 day' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE @extschema@.rekor_submission_queue x SET lease_expires_at = now() + lease
    WHERE x.queue_id = q.queue_id RETURNING x.lease_expires_at INTO until;
    RETURN until;
END
$$;

-- Completes a leased item: ingests the Rekor response (REST response or bundle) through the entry path,
-- so the trigger verifies proof, checkpoint and SET; checks the logged entry is this envelope; links it.
-- Calling it again with the same response after success returns the same entry_id.
CREATE FUNCTION rekor_mark_submitted(queue_id bigint, worker text, rekor_response jsonb) RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    q @extschema@.rekor_submission_queue;
    ids bigint[];
    e @extschema@.rekor_entries;
    mismatch text;
BEGIN
    SELECT * INTO q FROM @extschema@.rekor_submission_queue x WHERE x.queue_id = $1 FOR UPDATE;
    IF FOUND AND q.state = 'submitted' THEN
        -- Idempotent: the same response again is a no-op; another response is an error.
        IF EXISTS (SELECT 1 FROM @extschema@.rekor_entries y
                   JOIN (SELECT * FROM @extschema@.rekor_parse_rest_response(rekor_response) WHERE rekor_response ? 'verificationMaterial' IS NOT TRUE
                         UNION ALL
                         SELECT * FROM @extschema@.rekor_parse_bundle(rekor_response) WHERE rekor_response ? 'verificationMaterial') r
                     ON r.log_id = y.log_id AND r.log_index = y.log_index
                   WHERE y.entry_id = q.entry_id) THEN
            RETURN q.entry_id;
        END IF;
        RAISE EXCEPTION 'queue item is already submitted with another entry' USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = format('queue_id %s is linked to entry %s', q.queue_id, q.entry_id);
    END IF;
    q := @extschema@.rekor_queue_lease_check($1, $2);

    IF rekor_response ? 'verificationMaterial' THEN
        ids := ARRAY(SELECT @extschema@.rekor_ingest_bundle(rekor_response));
    ELSE
        ids := ARRAY(SELECT @extschema@.rekor_ingest_entry(rekor_response));
    END IF;
    IF cardinality(ids) <> 1 THEN
        RAISE EXCEPTION 'the Rekor response must hold exactly one entry' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('it holds %s', cardinality(ids));
    END IF;
    SELECT * INTO e FROM @extschema@.rekor_entries y WHERE y.entry_id = ids[1];
    IF q.log_id IS NOT NULL AND e.log_id <> q.log_id THEN
        RAISE EXCEPTION 'the entry is in another log than the item targets' USING ERRCODE = 'check_violation',
            DETAIL = format('item log %s, entry log %s', encode(q.log_id, 'hex'), encode(e.log_id, 'hex'));
    END IF;
    mismatch := @extschema@.rekor_entry_envelope_mismatch(e.body, q.envelope);
    IF mismatch IS NOT NULL THEN
        RAISE EXCEPTION 'the logged entry is not this envelope' USING ERRCODE = 'check_violation',
            DETAIL = format('queue_id %s, entry %s (%s %s): %s', q.queue_id, e.entry_id, e.kind, e.api_version, mismatch);
    END IF;
    UPDATE @extschema@.rekor_submission_queue x
    SET state = 'submitted', entry_id = e.entry_id, submitted_at = now(), lease_owner = NULL, lease_expires_at = NULL,
        last_error = NULL
    WHERE x.queue_id = q.queue_id;
    RETURN e.entry_id;
END
$$;

-- Records a failed attempt: retryable errors go back to pending after an exponential backoff
-- (2^attempts seconds, capped at 1 hour); non-retryable errors, and the last attempt, make it dead.
CREATE FUNCTION rekor_mark_failed(queue_id bigint, worker text, error text, retryable boolean DEFAULT true)
RETURNS text
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    q @extschema@.rekor_submission_queue := @extschema@.rekor_queue_lease_check($1, $2);
    new_state text;
BEGIN
    new_state := CASE WHEN retryable AND q.attempts < q.max_attempts THEN 'pending' ELSE 'dead' END;
    UPDATE @extschema@.rekor_submission_queue x
    SET state = new_state, lease_owner = NULL, lease_expires_at = NULL, last_error = left(error, 4000),
        next_attempt_at = now() + least(interval '1 hour', interval '1 second' * power(2, least(q.attempts, 12)))
    WHERE x.queue_id = q.queue_id;
    RETURN new_state;
END
$$;

-- Deliberately revives a dead item: pending now, attempts reset.
CREATE FUNCTION rekor_requeue(queue_id bigint) RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE @extschema@.rekor_submission_queue x
    SET state = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL
    WHERE x.queue_id = $1 AND x.state = 'dead';
    IF NOT FOUND THEN
        RAISE EXCEPTION 'only a dead item can be requeued' USING ERRCODE = 'object_not_in_prerequisite_state',
            DETAIL = format('queue_id %s is %s', $1,
                            coalesce((SELECT x.state FROM @extschema@.rekor_submission_queue x WHERE x.queue_id = $1), 'unknown'));
    END IF;
END
$$;

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
