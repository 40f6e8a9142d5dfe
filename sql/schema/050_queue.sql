-- The submission queue: DSSE attestations wait here until a worker (any language; the project's is
-- rekor-meta-submitter, submitter/) has logged them to Rekor. "submitted" means a verified
-- inclusion proof for exactly this envelope is stored.
--
-- Semantics (pgmq-style, one statement per call, no session state: safe through PgBouncer in
-- transaction pooling mode):
--   rekor_enqueue        pending; idempotent per (envelope, log); optionally with the signer's verifier
--   rekor_enqueue_batch  the same for many envelopes in one statement
--   rekor_dequeue        the oldest eligible items (pending and due, or leased with an expired lease),
--                        FOR UPDATE SKIP LOCKED: never blocks on, nor hands out, another worker's live lease
--   rekor_extend_lease   a longer lease for a slow submission
--   rekor_mark_submitted ingests the Rekor response (the entry trigger verifies it), checks the entry is
--                        this envelope, links it: submitted
--   rekor_mark_failed    back to pending with exponential backoff, or dead (rekor_mark_failed_batch: many)
--   rekor_requeue        revives a dead item
-- Ordering: a single worker receives items in enqueue order (queue_id); with many workers each batch
-- is the oldest eligible items not locked by others. Every enqueuing statement sends one NOTIFY on
-- channel rekor_meta_queue.

-- One envelope gives one row: tell the planner (rekor_enqueue reads it as a single row).
ALTER FUNCTION rekor_dsse_info(jsonb) ROWS 1;
-- And the batch form, one row per envelope (rekor_enqueue_batch's batches are of about 100).
ALTER FUNCTION rekor_dsse_info_batch(jsonb[]) ROWS 100;
-- One row too: with the default estimate (1000) the plan of rekor_enqueue_batch, made again at
-- every call, costs more than jit_above_cost, and every call paid for JIT compilation (8 ms).
ALTER FUNCTION rekor_array_shape(anyarray, bigint) ROWS 1;

-- The queue's single-column rules are domains; only the rules that relate columns are CHECKs of the
-- table. PostgreSQL reads every CHECK of a table back from its stored node text and plans it again in
-- each statement that writes a row, and every dequeue and every ack updates one (with eight CHECKs,
-- that was a quarter of an UPDATE's CPU); a domain's rule is planned once per session (the type cache)
-- and checked only where a value is assigned to a column of it. Every write is checked the same.
CREATE DOMAIN rekor_queue_state AS text CHECK (VALUE IN ('pending', 'leased', 'submitted', 'dead'));
CREATE DOMAIN rekor_queue_max_attempts AS integer CHECK (VALUE BETWEEN 1 AND 1000);
CREATE DOMAIN rekor_queue_verifier AS bytea CHECK (length(VALUE) <= 16384);
CREATE DOMAIN rekor_queue_verifier_kind AS text CHECK (VALUE IN ('public_key', 'x509_certificate'));
CREATE DOMAIN rekor_queue_verifier_key_type AS text CHECK (VALUE IN ('ecdsa-p256', 'ecdsa-p384', 'ed25519'));

CREATE TABLE rekor_submission_queue (
    queue_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    envelope          jsonb NOT NULL,                 -- the DSSE envelope as received
    payload_type      text NOT NULL,
    payload_sha256    bytea NOT NULL,                 -- SHA-256 of the decoded payload
    envelope_sha256   bytea NOT NULL,                 -- SHA-256 of the canonical envelope JSON (Rekor dsse envelopeHash)
    pae_sha256        bytea NOT NULL,                 -- SHA-256 of the DSSE pre-authentication encoding (hashedrekord digest)
    log_id            bytea REFERENCES rekor_logs (log_id),  -- NULL: whichever trusted log the worker submits to
    state             rekor_queue_state NOT NULL DEFAULT 'pending',
    attempts          integer NOT NULL DEFAULT 0,
    max_attempts      rekor_queue_max_attempts NOT NULL DEFAULT 10,
    lease_owner       text,
    lease_expires_at  timestamptz,
    next_attempt_at   timestamptz NOT NULL DEFAULT now(),
    last_error        text,
    entry_id          bigint REFERENCES rekor_entries (entry_id),
    enqueued_at       timestamptz NOT NULL DEFAULT now(),
    submitted_at      timestamptz,
    -- The signer's verifier, which Rekor wants with every dsse / intoto request: the DER of a
    -- SubjectPublicKeyInfo or an X.509 certificate, its kind and key type (NULL: none given).
    verifier          rekor_queue_verifier,
    verifier_kind     rekor_queue_verifier_kind,
    verifier_key_type rekor_queue_verifier_key_type,
    CHECK ((state = 'submitted') = (entry_id IS NOT NULL)),
    CHECK ((state = 'leased') = (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL)),
    CONSTRAINT rekor_submission_queue_verifier_complete
        CHECK ((verifier IS NULL) = (verifier_kind IS NULL) AND (verifier IS NULL) = (verifier_key_type IS NULL))
);
-- Dequeue is an index scan over just the eligible rows, in enqueue order.
CREATE INDEX rekor_queue_pending ON rekor_submission_queue (queue_id) WHERE state = 'pending';
CREATE INDEX rekor_queue_leased ON rekor_submission_queue (lease_expires_at, queue_id) WHERE state = 'leased';
CREATE INDEX rekor_queue_entry ON rekor_submission_queue (entry_id) WHERE entry_id IS NOT NULL;
SELECT pg_catalog.pg_extension_config_dump('rekor_submission_queue', '');
SELECT pg_catalog.pg_extension_config_dump('rekor_submission_queue_queue_id_seq', '');  -- so restored rows keep their ids and new ones follow
COMMENT ON TABLE rekor_submission_queue IS 'DSSE envelopes waiting to be logged to Rekor (see rekor_enqueue, rekor_dequeue)';

-- Idempotent enqueue needs a unique key on (envelope, log). On the queue table every state change
-- (dequeue, ack) is a non-HOT update that inserts into each index again, and such an index's random
-- SHA-256 keys would dirty a random leaf page each time. So the keys live in an insert-only side
-- table, written once per enqueue, and dequeue and ack touch only the queue's own small indexes.
CREATE TABLE rekor_submission_keys (
    envelope_sha256 bytea NOT NULL,
    log_key         bytea NOT NULL,   -- the item's log_id, or '\x' for "whichever trusted log"
    queue_id        bigint NOT NULL UNIQUE,
    PRIMARY KEY (envelope_sha256, log_key)
);
COMMENT ON TABLE rekor_submission_keys IS 'one row per queue item: its (envelope, target log) key, which makes rekor_enqueue idempotent';
CREATE TRIGGER rekor_submission_keys_append_only BEFORE UPDATE OR DELETE ON rekor_submission_keys
    FOR EACH ROW EXECUTE FUNCTION rekor_forbid_change();
CREATE TRIGGER rekor_submission_keys_no_truncate BEFORE TRUNCATE ON rekor_submission_keys
    FOR EACH STATEMENT EXECUTE FUNCTION rekor_forbid_change();

-- The keys are derived from the queue and follow it: an item inserted other than by rekor_enqueue
-- (pg_restore of a dump, including a 0.1.0 dump, which has no keys; the owner's COPY) gets its key
-- here, and deleting or truncating items (the owner purging the queue) removes theirs. So the
-- table is not dumped (no pg_extension_config_dump): a restore rebuilds it.
CREATE FUNCTION rekor_submission_keys_follow() RETURNS trigger
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
CREATE TRIGGER rekor_submission_keys_on_insert AFTER INSERT ON rekor_submission_queue
    REFERENCING NEW TABLE AS new_items FOR EACH STATEMENT EXECUTE FUNCTION rekor_submission_keys_follow();
CREATE TRIGGER rekor_submission_keys_on_delete AFTER DELETE ON rekor_submission_queue
    REFERENCING OLD TABLE AS old_items FOR EACH STATEMENT EXECUTE FUNCTION rekor_submission_keys_follow();
CREATE TRIGGER rekor_submission_keys_on_truncate AFTER TRUNCATE ON rekor_submission_queue
    FOR EACH STATEMENT EXECUTE FUNCTION rekor_submission_keys_follow();

-- One notification per enqueuing statement (delivered at commit; PostgreSQL folds identical ones
-- of a transaction), so an idle submitter LISTENing on rekor_meta_queue wakes at once.
CREATE FUNCTION rekor_queue_notify() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_notify('rekor_meta_queue', 'enqueued');
    RETURN NULL;
END
$$;
CREATE TRIGGER rekor_queue_notify AFTER INSERT ON rekor_submission_queue
    FOR EACH STATEMENT EXECUTE FUNCTION rekor_queue_notify();

-- Enqueues one DSSE envelope (validated: payloadType, base64 payload, signatures[] with base64 sig and
-- optional keyid), optionally with the signer's verifier (PEM or base64 DER of an SPKI or an X.509
-- certificate; refused unless one of the envelope's signatures verifies under it). The same
-- envelope for the same log returns the existing queue_id (and an item still without a verifier
-- gets the one given now). Claims the key first (waiting for a concurrent enqueue of the same
-- envelope to commit or roll back), then inserts the item under the claimed queue_id; the loser
-- returns the winner's queue_id.
CREATE FUNCTION rekor_enqueue(envelope jsonb, log_id bytea DEFAULT NULL, max_attempts integer DEFAULT 10,
                              verifier text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    d record;
    v_der bytea;
    v_kind text;
    v_key_type text;
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
            DETAIL = format('log_id %s is not in rekor_logs', left(encode(log_id, 'hex'), 200));
    END IF;
    SELECT * INTO d FROM @extschema@.rekor_dsse_info(envelope);
    IF $4 IS NOT NULL THEN
        -- Parsed and checked in Rust (rekor_meta_core::verifier): a verifier under which no signature
        -- of the envelope verifies could never be logged, and is refused now (22023).
        SELECT v.der, v.kind, v.key_type INTO v_der, v_kind, v_key_type FROM @extschema@.rekor_verifier_check(envelope, $4) v;
    END IF;
    INSERT INTO @extschema@.rekor_submission_keys AS k (envelope_sha256, log_key, queue_id)
    VALUES (d.envelope_sha256, coalesce($2, '\x'::bytea),
            nextval('@extschema@.rekor_submission_queue_queue_id_seq'::regclass))
    ON CONFLICT DO NOTHING
    RETURNING k.queue_id INTO id;
    IF id IS NULL THEN
        SELECT k.queue_id INTO id FROM @extschema@.rekor_submission_keys k
        WHERE k.envelope_sha256 = d.envelope_sha256 AND k.log_key = coalesce($2, '\x'::bytea);
        IF $4 IS NOT NULL THEN
            UPDATE @extschema@.rekor_submission_queue q
            SET verifier = v_der, verifier_kind = v_kind, verifier_key_type = v_key_type
            WHERE q.queue_id = id AND q.verifier IS NULL AND q.state <> 'submitted';
        END IF;
        RETURN id;
    END IF;
    INSERT INTO @extschema@.rekor_submission_queue (queue_id, envelope, payload_type, payload_sha256, envelope_sha256,
                                                    pae_sha256, log_id, max_attempts,
                                                    verifier, verifier_kind, verifier_key_type)
    OVERRIDING SYSTEM VALUE
    VALUES (id, envelope, d.payload_type, d.payload_sha256, d.envelope_sha256, d.pae_sha256, $2, $3,
            v_der, v_kind, v_key_type);
    RETURN id;
END
$$;

-- Raises for unusable rekor_enqueue_batch arguments (the SQL body below cannot RAISE itself).
CREATE FUNCTION rekor_enqueue_batch_check(raw_size bigint, ndims integer, dims text, first_null bigint, n bigint,
                                          log_id bytea, max_attempts integer)
RETURNS boolean
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF raw_size IS NULL THEN
        RAISE EXCEPTION 'envelopes must not be NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF raw_size > 67108864 THEN
        RAISE EXCEPTION 'batch too large' USING ERRCODE = 'program_limit_exceeded',
            DETAIL = format('%s bytes of envelopes; at most 64 MiB per call', raw_size);
    END IF;
    IF ndims > 1 THEN
        RAISE EXCEPTION 'envelopes must be a one-dimensional array' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('dimensions %s', left(dims, 200));
    END IF;
    IF first_null IS NOT NULL THEN
        RAISE EXCEPTION 'envelopes must not contain NULL' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('envelopes[%s] is NULL', first_null);
    END IF;
    IF n > 10000 THEN
        RAISE EXCEPTION 'batch too large' USING ERRCODE = 'program_limit_exceeded',
            DETAIL = format('%s envelopes; at most 10000 per call', n);
    END IF;
    IF max_attempts IS NULL OR max_attempts < 1 OR max_attempts > 1000 THEN
        RAISE EXCEPTION 'max_attempts must be between 1 and 1000' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('max_attempts = %s', max_attempts);
    END IF;
    IF log_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM @extschema@.rekor_logs l WHERE l.log_id = $6) THEN
        RAISE EXCEPTION 'unknown log' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('log_id %s is not in rekor_logs', left(encode(log_id, 'hex'), 200));
    END IF;
    RETURN true;
END
$$;

-- The queue_id of a key, read with a snapshot of its own (VOLATILE): finds a key that a concurrent
-- enqueue committed while the calling statement waited on it, which that statement cannot see.
CREATE FUNCTION rekor_submission_key_now(envelope_sha256 bytea, log_key bytea) RETURNS bigint
LANGUAGE sql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT k.queue_id FROM @extschema@.rekor_submission_keys k WHERE k.envelope_sha256 = $1 AND k.log_key = $2
$$;

-- The body of rekor_enqueue_batch (PL/pgSQL, so that its plans are cached), called only once the
-- arguments passed rekor_enqueue_batch_check.
CREATE FUNCTION rekor_enqueue_batch_impl(envelopes jsonb[], log_id bytea, max_attempts integer)
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

-- Enqueues many envelopes in one statement (at most 10,000 and 64 MiB), set-based: returns their
-- queue_ids in input order (an envelope already queued for that log returns its existing queue_id).
-- New items get their queue_ids in input order, so one worker dequeues them in the order given.
-- Checks the batch from the array's header first (rekor_array_shape: a huge batch is refused before
-- anything unpacks it), then runs the body. A LANGUAGE sql wrapper: PL/pgSQL would unpack the whole
-- array on entry, before any check could refuse it.
CREATE FUNCTION rekor_enqueue_batch(envelopes jsonb[], log_id bytea DEFAULT NULL, max_attempts integer DEFAULT 10)
RETURNS SETOF bigint
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT r.id
    FROM (SELECT @extschema@.rekor_enqueue_batch_check(s.raw_size, s.ndims, s.dims, s.first_null, s.items,
                                                      log_id, max_attempts) AS checked
          FROM (SELECT 1) AS one
          LEFT JOIN LATERAL @extschema@.rekor_array_shape(envelopes, 67108864) AS s ON true) AS ok,
         LATERAL @extschema@.rekor_enqueue_batch_impl(CASE WHEN ok.checked THEN envelopes END, log_id, max_attempts)
                 WITH ORDINALITY AS r(id, o)
    ORDER BY r.o
$$;

-- Leases up to `batch` (1..1000) of the oldest eligible items to `worker` until now() + lease.
-- Items whose expired lease was their last attempt become dead in the same statement (a
-- data-modifying CTE: one executor start-up per call).
-- One plan per session (force_generic_plan), whatever `batch` is: with the default, a LIMIT taken
-- from a parameter made the generic plan look costlier than a custom one, so every call planned
-- the statement again (0.5 ms, more than its execution). That generic plan cannot go wrong on the
-- estimate (10% of the rows for an unknown LIMIT): each update finds its rows by the primary key
-- (= ANY of an array the locking subqueries fill), never by a join that a large estimate could
-- turn into a scan of the queue, and each candidate scan reads its partial index in index order.
-- No JIT: that generic plan costs an unknown LIMIT at 10% of the pending rows, so with millions
-- pending it passed jit_above_cost and every call compiled it (19 ms a dequeue at 10M, 0.4 ms at 1k).
CREATE FUNCTION rekor_dequeue(worker text, batch integer DEFAULT 1, lease interval DEFAULT '5 minutes')
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
SET plan_cache_mode = force_generic_plan
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
    -- Another trusted log of the same operator (signer name) stands in for the target: the submitter
    -- routes an item whose log is frozen (405, or valid_until passed) to the operator's active log.
    IF q.log_id IS NOT NULL AND e.log_id <> q.log_id AND NOT EXISTS (
           SELECT 1 FROM @extschema@.rekor_logs t JOIN @extschema@.rekor_logs a ON a.signer_name = t.signer_name
           WHERE t.log_id = q.log_id AND a.log_id = e.log_id) THEN
        RAISE EXCEPTION 'the entry is in another log than the item targets' USING ERRCODE = 'check_violation',
            DETAIL = format('item log %s, entry log %s (another operator)', encode(q.log_id, 'hex'), encode(e.log_id, 'hex'));
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
-- One UPDATE whose WHERE clause is the lease check; only when it matches nothing does the separate
-- check run, to raise the error that says why. The WHERE clause names no state: a lease owner implies
-- state 'leased' (the table's CHECK), and `state = 'leased'` would let the planner answer it from
-- rekor_queue_leased, walking every live lease (and every dead index entry of one) to the item.
CREATE FUNCTION rekor_mark_failed(queue_id bigint, worker text, error text, retryable boolean DEFAULT true)
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

-- The same for many leased items at once (a name of its own: an overload would make existing calls
-- with untyped parameters ambiguous): all of them or none. Returns each item's new state.
CREATE FUNCTION rekor_mark_failed_batch(queue_ids bigint[], worker text, error text, retryable boolean DEFAULT true)
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
