-- Rekor log entries: each row carries its inclusion proof and the checkpoint that proof ends in.
-- A BEFORE INSERT OR UPDATE trigger verifies every row from scratch, so no path (INSERT, COPY,
-- INSERT ... SELECT, UPDATE) stores an entry whose evidence does not verify. Fields no signature
-- covers are never trusted: the global log index and the integrated time are flagged by whether a
-- SET (or the log's shard map) authenticates them.

CREATE TABLE rekor_entries (
    entry_id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    log_id                 bytea NOT NULL REFERENCES rekor_logs (log_id),
    entry_uuid             text,          -- Rekor's UUID: 64 hex (leaf hash) or 80 hex (tree id + leaf hash)
    log_index              bigint NOT NULL CHECK (log_index >= 0),        -- global (virtual) index; the SET signs it
    proof_log_index        bigint NOT NULL CHECK (proof_log_index >= 0),  -- index inside the shard's tree
    tree_id                bigint,        -- Rekor v1 shard, where known (UUID or checkpoint origin)
    kind                   text NOT NULL,
    api_version            text NOT NULL,
    integrated_time        timestamptz,   -- NULL for Rekor v2 (no integrated time)
    body                   bytea NOT NULL,  -- the canonicalized entry: the Merkle leaf
    leaf_hash              bytea NOT NULL,  -- SHA-256(0x00 || body)
    tree_size              bigint NOT NULL,
    root_hash              bytea NOT NULL,
    proof_hashes           bytea[] NOT NULL,
    checkpoint             text NOT NULL,   -- the raw signed note the proof ends in
    checkpoint_id          bigint NOT NULL REFERENCES rekor_checkpoints (checkpoint_id),
    signed_entry_timestamp bytea,           -- Rekor v1 only
    digest_keys            bytea[] NOT NULL DEFAULT '{}',  -- rekor_digest_key(alg, digest) of every digest in the body
    inserted_at            timestamptz NOT NULL DEFAULT now()
);
-- Which of the log's claims a signature (or the shard map) vouches for. Added with ALTER TABLE, as
-- 0.3.0 added them to existing installations: a column added with a default keeps that default as
-- its "missing value" (pg_attribute.atthasmissing, carried by pg_dump --binary-upgrade), so a fresh
-- install equals an upgraded one only if it adds them the same way.
ALTER TABLE rekor_entries
    ADD COLUMN log_index_authenticated boolean NOT NULL DEFAULT false,       -- SET, single tree, or shard map
    ADD COLUMN integrated_time_authenticated boolean NOT NULL DEFAULT false; -- a SET signs it
-- The signing time (issue 14): the integrated time a SET signs ('set'), else the genTime of a
-- verified RFC 3161 timestamp ('rfc3161'), else none; it picks the log key's validity window.
-- Computed by the trigger (a caller's value is never kept). The token as given and the authority
-- it verified under; and what a bundle brings that the body lacks, verified to be the body's: the
-- DSSE envelope and the verifier (DER), so the entry exports as a bundle (rekor_export_bundle).
ALTER TABLE rekor_entries
    ADD COLUMN signing_time timestamptz,
    ADD COLUMN signing_time_source text NOT NULL DEFAULT 'none',
    ADD COLUMN rfc3161_timestamp bytea,
    ADD COLUMN timestamp_tsa_id bigint REFERENCES rekor_timestamp_authorities (tsa_id),
    ADD COLUMN dsse_envelope jsonb,
    ADD COLUMN verifier bytea;
ALTER TABLE rekor_entries
    ADD CONSTRAINT rekor_entries_signing_time_source CHECK (signing_time_source IN ('none', 'set', 'rfc3161')
        AND (signing_time IS NULL) = (signing_time_source = 'none')),
    ADD CONSTRAINT rekor_entries_material_size CHECK (length(rfc3161_timestamp) <= 65536 AND length(verifier) <= 65536
        AND pg_column_size(dsse_envelope) <= 16777216);
-- Uniqueness holds among authenticated claims only: an unauthenticated index never blocks the
-- genuine entry, and a leaf is stored at most once per log with and once without an authenticated
-- index (leaf first: serves UUID look-ups and is never mistaken for a log_id prefix index).
CREATE UNIQUE INDEX rekor_entries_log_index ON rekor_entries (log_id, log_index) WHERE log_index_authenticated;
ALTER TABLE rekor_entries ADD CONSTRAINT rekor_entries_leaf_key UNIQUE (leaf_hash, log_id, log_index_authenticated);
CREATE INDEX rekor_entries_digest_keys ON rekor_entries USING gin (digest_keys);
CREATE INDEX rekor_entries_checkpoint ON rekor_entries (checkpoint_id);
SELECT pg_catalog.pg_extension_config_dump('rekor_entries', '');
SELECT pg_catalog.pg_extension_config_dump('rekor_entries_entry_id_seq', '');  -- so restored rows keep their ids and new ones follow
COMMENT ON TABLE rekor_entries IS 'Rekor entries whose inclusion proof, checkpoint and SET verified on insert (append-only)';

-- The set-returning checks give one row per call: said so, the planner costs a query over every
-- entry (rekor_verify_all, the trigger's lookup) as the per-row work it is, not as 1000-row joins.
ALTER FUNCTION rekor_entry_evidence ROWS 1;
ALTER FUNCTION rekor_entry_evidence_check ROWS 1;
ALTER FUNCTION rekor_body_info ROWS 1;

-- Identity columns are assigned by the database. A writer's OVERRIDING SYSTEM VALUE (or COPY with
-- the column) may not take an id the sequence has not drawn yet: the next ingest would collide with
-- it. Used by the trigger of rekor_checkpoints (here, once both sequences exist; the Rust trigger of
-- rekor_entries reads its sequence the same way, as the extension owner, without a call per row).
-- SECURITY DEFINER: the sequence is not readable by writers.
CREATE FUNCTION rekor_identity_drawn(sequence_name text, id bigint) RETURNS boolean
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce($2 <= pg_sequence_last_value(CASE $1
                WHEN 'rekor_entries' THEN '@extschema@.rekor_entries_entry_id_seq'::regclass
                WHEN 'rekor_checkpoints' THEN '@extschema@.rekor_checkpoints_checkpoint_id_seq'::regclass
                END), false)
$$;

-- Raises one check_violation (23514) with a message naming the check and a DETAIL. Errors never
-- echo a huge argument: message and detail are bounded.
CREATE FUNCTION rekor_reject_entry(message text, detail text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION '%', left(message, 1000) USING ERRCODE = 'check_violation', DETAIL = left(detail, 2000);
END
$$;

-- Stores (or finds) the checkpoint an entry's proof ends in, through the checkpoints capability:
-- the checkpoint must be signed by the entry's log; a second root for a stored tree size is a fork
-- and is rejected. The checkpoint is seen at the entry's signing time, a time only a SET or a
-- verified RFC 3161 timestamp signs: so both are verified here again (this function runs as the
-- extension owner, whose inserts keep their seen_at, and only roles that may insert entries may call
-- it): the SET's integrated time, else the timestamp's genTime, else now(). Returns the checkpoint_id.
CREATE FUNCTION rekor_entry_checkpoint(note text, v_log bytea, tree_size bigint, root_hash bytea, v_origin text,
                                       body bytea, signed_entry_timestamp bytea, integrated_time bigint, log_index bigint,
                                       rfc3161_timestamp bytea)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    id bigint;
    other bytea;
    at timestamptz := now();
    k bytea;
BEGIN
    SELECT l.public_key INTO k FROM @extschema@.rekor_logs l WHERE l.log_id = $2;
    IF NOT FOUND THEN
        PERFORM @extschema@.rekor_reject_entry('entry log is not a trusted log', format('log_id %s is not in rekor_logs', encode($2, 'hex')));
    END IF;
    IF $7 IS NOT NULL AND $8 IS NOT NULL AND $9 IS NOT NULL
       AND @extschema@.rekor_verify_set($7, $6, $8, $2, $9, k) THEN
        at := to_timestamp($8);
    ELSIF $10 IS NOT NULL THEN
        at := coalesce((SELECT 'epoch'::timestamptz + t.gen_time_us * interval '1 microsecond'
                        FROM @extschema@.rekor_timestamp_check($10, $6, @extschema@.rekor_timestamp_authorities_json()) t), at);
    END IF;
    -- Shards of one Rekor v1 key share its log_id: a checkpoint is identified with its origin.
    SELECT c.checkpoint_id INTO id FROM @extschema@.rekor_checkpoints c
    WHERE c.log_id = $2 AND c.origin = $5 AND c.tree_size = $3 AND c.root_hash = $4;
    IF FOUND THEN
        RETURN id;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended(encode($2, 'hex'), $3));
    SELECT c.root_hash INTO other FROM @extschema@.rekor_checkpoints c
    WHERE c.log_id = $2 AND c.origin = $5 AND c.tree_size = $3 AND c.root_hash <> $4 LIMIT 1;
    IF FOUND THEN
        PERFORM @extschema@.rekor_reject_entry('log fork: the entry''s checkpoint contradicts a stored checkpoint',
            format('log %s, tree size %s: stored root %s, entry checkpoint root %s', encode($2, 'hex'), $3,
                   encode(other, 'hex'), encode($4, 'hex')));
    END IF;
    SELECT c.checkpoint_id INTO id FROM @extschema@.rekor_checkpoints c
    WHERE c.log_id = $2 AND c.origin = $5 AND c.tree_size = $3 AND c.root_hash = $4;
    IF NOT FOUND THEN
        INSERT INTO @extschema@.rekor_checkpoints (note, seen_at) VALUES ($1, at)
        RETURNING checkpoint_id INTO id;
    END IF;
    RETURN id;
END
$$;

-- BEFORE INSERT OR UPDATE: checks 1-6 of every row, from scratch, against the stored log key and
-- shard map; fills leaf_hash, tree_id, kind, api_version, digest_keys, the authentication flags and
-- the signing time from the evidence; stores the checkpoint the proof ends in (through
-- rekor_entry_checkpoint above). The function rekor_entries_verify() is Rust (src/trigger.rs, a C
-- function pgrx writes into the install script before this file): one pass over the new row, and
-- what the checks are against (log, shard map, stored checkpoint, timestamp authorities) looked up
-- once per statement instead of once per row. Same checks, order and errors as the PL/pgSQL
-- function of 0.4.0 it replaces.
CREATE TRIGGER rekor_entries_verify BEFORE INSERT OR UPDATE ON rekor_entries
    FOR EACH ROW EXECUTE FUNCTION rekor_entries_verify();
CREATE TRIGGER rekor_entries_append_only BEFORE DELETE ON rekor_entries
    FOR EACH ROW EXECUTE FUNCTION rekor_forbid_change();
CREATE TRIGGER rekor_entries_no_truncate BEFORE TRUNCATE ON rekor_entries
    FOR EACH STATEMENT EXECUTE FUNCTION rekor_forbid_change();

-- Ingests parsed entry rows. Whether a row's global index will be authenticated is known from the
-- row (a SET, a single-tree log, a mapped shard), so lookups compare like with like: the same leaf
-- with the same kind of index returns the stored entry_id and changes nothing; an authenticated
-- index that another leaf holds is refused; an unauthenticated claim never blocks, and is never
-- blocked by, authenticated data.
CREATE FUNCTION rekor_ingest_rows(rows_json jsonb, from_bundle boolean) RETURNS SETOF bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    r record;
    existing record;
    id bigint;
    leaf bytea;
    v_tree bigint;
    v_auth boolean;
    m_env jsonb;
    m_verifier bytea;
    m_token bytea;
BEGIN
    -- What a bundle carries besides its entry (the trigger checks it is the body's): the DSSE
    -- envelope, the certificate, and the first RFC 3161 timestamp, which check 6 verifies. Only for a
    -- bundle of one entry: the material is that entry's.
    SELECT b.dsse_envelope, b.verifier, b.rfc3161_timestamps[1] INTO m_env, m_verifier, m_token
    FROM @extschema@.rekor_bundle_material(rows_json) b
    WHERE from_bundle AND CASE WHEN jsonb_typeof(rows_json #> '{verificationMaterial,tlogEntries}') = 'array'
                               THEN jsonb_array_length(rows_json #> '{verificationMaterial,tlogEntries}') END = 1;
    FOR r IN
        SELECT * FROM @extschema@.rekor_parse_rest_response(rows_json) WHERE NOT from_bundle
        UNION ALL
        SELECT * FROM @extschema@.rekor_parse_bundle(rows_json) WHERE from_bundle
    LOOP
        IF r.proof_log_index IS NULL THEN
            RAISE EXCEPTION 'entry has no inclusion proof' USING ERRCODE = 'invalid_parameter_value',
                DETAIL = format('log %s index %s carries only a signed entry timestamp; rekor_entries stores entries with a proof',
                                encode(r.log_id, 'hex'), r.log_index),
                HINT = 'Fetch the entry with its inclusion proof from the log (GET /api/v1/log/entries/{uuid}).';
        END IF;
        IF r.integrated_time > 253402300799 THEN
            RAISE EXCEPTION 'invalid Rekor entry: integratedTime % is after the year 9999', r.integrated_time
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('log %s index %s: integratedTime is in seconds since 1970', encode(r.log_id, 'hex'), r.log_index);
        END IF;
        IF r.checkpoint IS NULL THEN
            RAISE EXCEPTION 'entry has an inclusion proof but no checkpoint' USING ERRCODE = 'invalid_parameter_value',
                DETAIL = format('log %s index %s: the proof leads to root %s of tree size %s, but no signed checkpoint names that root; rekor_entries stores entries whose proof ends in a signed checkpoint',
                                encode(r.log_id, 'hex'), r.log_index, encode(r.root_hash, 'hex'), r.tree_size),
                HINT = 'Fetch the entry again from the log: its answer carries the checkpoint (verification.inclusionProof.checkpoint).';
        END IF;
        leaf := @extschema@.rekor_leaf_hash(r.body);
        v_tree := coalesce(r.tree_id, @extschema@.rekor_note_tree_id(r.checkpoint));
        v_auth := r.signed_entry_timestamp IS NOT NULL OR v_tree IS NULL
                  OR EXISTS (SELECT 1 FROM @extschema@.rekor_log_shards s WHERE s.log_id = r.log_id AND s.tree_id = v_tree);
        SELECT e.entry_id, e.log_index, e.proof_log_index, e.tree_size, e.root_hash, e.proof_hashes, e.checkpoint,
               e.signed_entry_timestamp, e.integrated_time
          INTO existing FROM @extschema@.rekor_entries e
        WHERE e.leaf_hash = leaf AND e.log_id = r.log_id AND e.log_index_authenticated = v_auth;
        IF FOUND THEN
            IF v_auth AND existing.log_index <> r.log_index THEN
                RAISE EXCEPTION 'this entry is already stored at another log index' USING ERRCODE = 'unique_violation',
                    DETAIL = format('log %s: leaf %s is stored at authenticated index %s, not at index %s',
                                    encode(r.log_id, 'hex'), encode(leaf, 'hex'), existing.log_index, r.log_index);
            END IF;
            IF (existing.log_index, existing.proof_log_index, existing.tree_size, existing.root_hash, existing.proof_hashes, existing.checkpoint)
                 IS NOT DISTINCT FROM (r.log_index, r.proof_log_index, r.tree_size, r.root_hash, r.proof_hashes, r.checkpoint)
               AND existing.signed_entry_timestamp IS NOT DISTINCT FROM r.signed_entry_timestamp
               AND existing.integrated_time IS NOT DISTINCT FROM to_timestamp(r.integrated_time::double precision) THEN
                RETURN NEXT existing.entry_id;    -- the very same evidence again
                CONTINUE;
            END IF;
            -- The same entry with other evidence (e.g. a proof to a newer checkpoint): it must verify
            -- too, so it goes through the trigger; the unique key then stops the duplicate, and the
            -- subtransaction undoes whatever the trigger stored.
            BEGIN
                INSERT INTO @extschema@.rekor_entries (log_id, entry_uuid, log_index, proof_log_index, tree_id, integrated_time,
                                                       body, tree_size, root_hash, proof_hashes, checkpoint, signed_entry_timestamp,
                                                       rfc3161_timestamp, dsse_envelope, verifier)
                VALUES (r.log_id, r.entry_uuid, r.log_index, r.proof_log_index, r.tree_id,
                        CASE WHEN r.integrated_time IS NULL THEN NULL ELSE to_timestamp(r.integrated_time) END,
                        r.body, r.tree_size, r.root_hash, r.proof_hashes, r.checkpoint, r.signed_entry_timestamp,
                        m_token, m_env, m_verifier);
            EXCEPTION WHEN unique_violation THEN
                NULL;
            END;
            RETURN NEXT existing.entry_id;
            CONTINUE;
        END IF;
        IF v_auth THEN
            SELECT e.entry_id, e.leaf_hash INTO existing FROM @extschema@.rekor_entries e
            WHERE e.log_id = r.log_id AND e.log_index = r.log_index AND e.log_index_authenticated;
            IF FOUND THEN
                PERFORM @extschema@.rekor_reject_entry('another entry is stored at this log index',
                    format('log %s index %s: stored leaf %s (entry %s), new leaf %s', encode(r.log_id, 'hex'), r.log_index,
                           encode(existing.leaf_hash, 'hex'), existing.entry_id, encode(leaf, 'hex')));
            END IF;
        END IF;
        INSERT INTO @extschema@.rekor_entries (log_id, entry_uuid, log_index, proof_log_index, tree_id, integrated_time,
                                               body, tree_size, root_hash, proof_hashes, checkpoint, signed_entry_timestamp,
                                               rfc3161_timestamp, dsse_envelope, verifier)
        VALUES (r.log_id, r.entry_uuid, r.log_index, r.proof_log_index, r.tree_id,
                CASE WHEN r.integrated_time IS NULL THEN NULL ELSE to_timestamp(r.integrated_time) END,
                r.body, r.tree_size, r.root_hash, r.proof_hashes, r.checkpoint, r.signed_entry_timestamp,
                m_token, m_env, m_verifier)
        ON CONFLICT DO NOTHING
        RETURNING entry_id INTO id;
        IF id IS NULL THEN
            -- A concurrent ingest stored this entry or index first (the INSERT waited for it to commit;
            -- the entry was verified all the same): the same entry is that one, another is refused.
            SELECT e.entry_id, e.log_index INTO existing FROM @extschema@.rekor_entries e
            WHERE e.leaf_hash = leaf AND e.log_id = r.log_id AND e.log_index_authenticated = v_auth;
            IF FOUND AND (NOT v_auth OR existing.log_index = r.log_index) THEN
                id := existing.entry_id;
            ELSIF FOUND THEN
                RAISE EXCEPTION 'this entry is already stored at another log index' USING ERRCODE = 'unique_violation',
                    DETAIL = format('log %s: leaf %s is stored at authenticated index %s, not at index %s',
                                    encode(r.log_id, 'hex'), encode(leaf, 'hex'), existing.log_index, r.log_index);
            ELSE
                PERFORM @extschema@.rekor_reject_entry('another entry is stored at this log index',
                    format('log %s index %s: another leaf was stored concurrently; new leaf %s', encode(r.log_id, 'hex'),
                           r.log_index, encode(leaf, 'hex')));
            END IF;
        END IF;
        RETURN NEXT id;
    END LOOP;
END
$$;

-- Ingests a Rekor v1 REST response (GET/POST /api/v1/log/entries: an object keyed by UUID).
CREATE FUNCTION rekor_ingest_entry(response jsonb) RETURNS SETOF bigint
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.rekor_ingest_rows(response, false) $$;

-- Ingests the transparency-log entries of a Sigstore bundle (v0.1, v0.2, v0.3; Rekor v1 and v2).
CREATE FUNCTION rekor_ingest_bundle(bundle jsonb) RETURNS SETOF bigint
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@.rekor_ingest_rows(bundle, true) $$;

-- One row per check of a stored entry, re-run from scratch against the stored log key and shard
-- map: for humans. passed is NULL where a claim is stored but not authenticated (neither verified
-- nor refuted).
CREATE FUNCTION rekor_verify_inclusion_report(entry_id bigint)
RETURNS TABLE (step int, "check" text, passed boolean, reason text)
LANGUAGE plpgsql VOLATILE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    e @extschema@.rekor_entries;
    l @extschema@.rekor_logs;
    leaf bytea;
    err text;
    cp record;
    at timestamptz;
    shard_ids bigint[];
    shard_starts bigint[];
    start bigint;
    ts record;
    signed timestamptz;
    source text;
BEGIN
    SELECT * INTO e FROM @extschema@.rekor_entries x WHERE x.entry_id = $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown entry' USING ERRCODE = 'invalid_parameter_value', DETAIL = format('entry_id %s', $1);
    END IF;
    SELECT * INTO l FROM @extschema@.rekor_logs g WHERE g.log_id = e.log_id;
    SELECT array_agg(s.tree_id), array_agg(s.start_index) INTO shard_ids, shard_starts
    FROM @extschema@.rekor_log_shards s WHERE s.log_id = e.log_id;
    leaf := @extschema@.rekor_leaf_hash(e.body);

    -- The signing time (step 7): the SET's integrated time, else a verified timestamp's genTime.
    SELECT t.* INTO ts FROM (SELECT) one LEFT JOIN LATERAL @extschema@.rekor_timestamp_check(e.rfc3161_timestamp, e.body,
        CASE WHEN e.rfc3161_timestamp IS NOT NULL THEN @extschema@.rekor_timestamp_authorities_json() END) t ON true;
    IF e.signed_entry_timestamp IS NOT NULL AND e.integrated_time IS NOT NULL THEN
        signed := e.integrated_time; source := 'set';
    ELSIF ts.gen_time_us IS NOT NULL THEN
        signed := 'epoch'::timestamptz + ts.gen_time_us * interval '1 microsecond'; source := 'rfc3161';
    ELSE
        source := 'none';
    END IF;

    step := 0; "check" := 'log key validity';
    at := coalesce(signed, now());
    passed := NOT ((l.valid_from IS NOT NULL AND at < l.valid_from) OR (l.valid_until IS NOT NULL AND at > l.valid_until));
    reason := format('log %s valid from %s until %s; checked at %s (%s)', encode(l.log_id, 'hex'),
                     coalesce(l.valid_from::text, '-infinity'), coalesce(l.valid_until::text, 'infinity'), at,
                     CASE source WHEN 'set' THEN 'the SET-signed integrated time'
                                 WHEN 'rfc3161' THEN 'signing time: the RFC 3161 timestamp''s genTime (step 7)'
                                 ELSE 'now: no SET signs an integrated time' END);
    RETURN NEXT;

    step := 1; "check" := 'leaf hash';
    passed := leaf = e.leaf_hash AND (e.entry_uuid IS NULL OR right(e.entry_uuid, 64) = encode(leaf, 'hex'));
    reason := CASE WHEN passed THEN format('SHA-256(0x00 || body) = %s', encode(leaf, 'hex'))
                   ELSE format('stored leaf %s, uuid %s, recomputed %s', encode(e.leaf_hash, 'hex'), e.entry_uuid, encode(leaf, 'hex')) END;
    RETURN NEXT;

    step := 2; "check" := 'inclusion proof';
    err := @extschema@.rekor_inclusion_proof_error(leaf, e.proof_log_index, e.tree_size, e.proof_hashes, e.root_hash);
    passed := err IS NULL;
    reason := coalesce(err, format('%s hashes lead from index %s to root %s of tree size %s',
                                   cardinality(e.proof_hashes), e.proof_log_index, encode(e.root_hash, 'hex'), e.tree_size));
    RETURN NEXT;

    step := 3; "check" := 'checkpoint';
    SELECT * INTO cp FROM @extschema@.rekor_checkpoint_check(e.checkpoint, l.public_key, l.signer_name);
    passed := cp.error IS NULL AND cp.tree_size = e.tree_size AND cp.root_hash = e.root_hash
              AND (cp.origin = l.origin OR (l.origin_is_prefix AND starts_with(cp.origin, l.origin)));
    reason := CASE WHEN cp.error IS NOT NULL THEN cp.error
                   WHEN cp.tree_size <> e.tree_size OR cp.root_hash <> e.root_hash
                        THEN format('checkpoint names size %s root %s, proof has size %s root %s', cp.tree_size,
                                    encode(cp.root_hash, 'hex'), e.tree_size, encode(e.root_hash, 'hex'))
                   WHEN NOT passed THEN format('checkpoint origin %L is not the log''s origin %L%s', cp.origin, l.origin,
                                               CASE WHEN l.origin_is_prefix THEN '*' ELSE '' END)
                   ELSE format('%s signed size %s and this root', l.signer_name, cp.tree_size) END;
    RETURN NEXT;

    step := 4; "check" := 'signed entry timestamp';
    IF e.signed_entry_timestamp IS NULL THEN
        passed := true;
        reason := 'no SET: the integrated time and global index are not signed (see steps 5 and 6)';
    ELSE
        passed := e.integrated_time IS NOT NULL AND @extschema@.rekor_verify_set(e.signed_entry_timestamp, e.body,
                  extract(epoch FROM e.integrated_time)::bigint, e.log_id, e.log_index, l.public_key);
        reason := CASE WHEN passed THEN format('signed by %s over index %s, time %s', l.signer_name, e.log_index, e.integrated_time)
                       ELSE 'the SET does not verify under the log key' END;
    END IF;
    RETURN NEXT;

    -- The index rule alone (rekor_meta_core::evidence::authenticate_log_index), on the stored tree id.
    step := 5; "check" := 'log index';
    start := shard_starts[array_position(shard_ids, e.tree_id)];
    IF e.tree_id IS NULL OR start IS NOT NULL THEN
        passed := e.log_index = coalesce(start, 0) + e.proof_log_index;
        reason := CASE WHEN NOT passed THEN format('log index %s is not %s%s: the %s', e.log_index,
                                                  CASE WHEN start IS NULL THEN '' ELSE start || ' + ' END, e.proof_log_index,
                                                  CASE WHEN start IS NULL THEN 'proof''s index (single-tree log)' ELSE 'shard''s start plus the proof''s index' END)
                       WHEN start IS NULL THEN format('single-tree log: the global index is the proof''s index %s', e.proof_log_index)
                       ELSE format('shard %s starts at %s: global index %s = %s + proof index %s', e.tree_id, start, e.log_index,
                                   start, e.proof_log_index) END;
    ELSIF e.signed_entry_timestamp IS NOT NULL THEN
        passed := true;
        reason := format('global index %s is signed by the SET (step 4)', e.log_index);
    ELSE
        passed := NULL;
        reason := format('NOT authenticated: no SET, and shard %s is not in the log''s shard map (rekor_add_log_shard); the claimed global index %s is stored but unverified',
                         e.tree_id, e.log_index);
    END IF;
    RETURN NEXT;

    step := 6; "check" := 'integrated time';
    IF e.integrated_time IS NULL THEN
        passed := true;
        reason := 'no integrated time (Rekor v2)';
    ELSIF e.signed_entry_timestamp IS NOT NULL THEN
        passed := true;
        reason := format('%s is signed by the SET', e.integrated_time);
    ELSE
        passed := NULL;
        reason := format('NOT authenticated: %s is claimed, no SET signs it', e.integrated_time);
    END IF;
    RETURN NEXT;

    -- 7. The signing time and its source; an RFC 3161 token, where stored, verified from scratch.
    step := 7; "check" := 'signing time';
    passed := ts."check" IS NULL
              AND (e.signing_time, e.signing_time_source) IS NOT DISTINCT FROM (signed, source);
    reason := CASE
        WHEN ts."check" IS NOT NULL THEN format('check 6 (timestamp): %s: %s', ts."check", ts.error)
        WHEN NOT passed THEN format('stored %s (%s), but the evidence signs %s (%s)', coalesce(e.signing_time::text, 'none'),
                                    e.signing_time_source, coalesce(signed::text, 'none'), source)
        ELSE format('%s (%s)%s', coalesce(signed::text, 'none'),
                    CASE source WHEN 'set' THEN 'set: the integrated time the SET signs'
                                WHEN 'rfc3161' THEN 'rfc3161: genTime of the timestamp'
                                ELSE 'none: no SET and no RFC 3161 timestamp' END,
                    CASE WHEN e.rfc3161_timestamp IS NULL THEN ''
                         ELSE format('; RFC 3161 token verified under timestamp authority %s (%s), genTime %s', ts.tsa_id,
                                     (SELECT a.subject FROM @extschema@.rekor_timestamp_authorities a WHERE a.tsa_id = ts.tsa_id),
                                     'epoch'::timestamptz + ts.gen_time_us * interval '1 microsecond') END) END;
    RETURN NEXT;
END
$$;

-- Re-verifies a stored entry from scratch, applying the insert's rules: checks 1-4 with the shard
-- map, and the key valid at the entry's signed time (now, without a SET). True, or a check_violation
-- (23514) naming the first check the stored evidence fails, with the values in DETAIL: a stored row
-- that no longer verifies has been tampered with past the triggers, and a silent false in a long
-- report is easy to miss, an error is not. ERROR 22023 for an unknown entry_id. VOLATILE so that it
-- sees rows its own statement wrote: SELECT rekor_verify_inclusion(id) FROM rekor_ingest_bundle(b) id.
-- PARALLEL SAFE (it only reads): a count over every entry runs in parallel workers.
CREATE FUNCTION rekor_verify_inclusion(entry_id bigint) RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
    at timestamptz;
BEGIN
    SELECT v."check", v.message, v.detail, v.log_index_authenticated, e.log_index_authenticated AS stored_auth,
           e.signed_entry_timestamp IS NOT NULL AS has_set, e.integrated_time, l.valid_from, l.valid_until, l.log_id,
           ts."check" AS ts_check, ts.error AS ts_error, ts.tsa_id AS ts_tsa_id,
           'epoch'::timestamptz + ts.gen_time_us * interval '1 microsecond' AS ts_at,
           e.signing_time, e.signing_time_source, e.timestamp_tsa_id
      INTO c
    FROM @extschema@.rekor_entries e
    JOIN @extschema@.rekor_logs l ON l.log_id = e.log_id,
    LATERAL (SELECT array_agg(s.tree_id) AS ids, array_agg(s.start_index) AS starts
             FROM @extschema@.rekor_log_shards s WHERE s.log_id = e.log_id) m,
    LATERAL @extschema@.rekor_entry_evidence(
        e.body, e.entry_uuid, e.leaf_hash, e.proof_log_index, e.tree_size, e.root_hash, e.proof_hashes, e.checkpoint,
        e.signed_entry_timestamp, extract(epoch FROM e.integrated_time)::bigint, e.log_id, e.log_index,
        l.public_key, l.signer_name, l.origin, l.origin_is_prefix, m.ids, m.starts) AS v,
    -- 6. The stored RFC 3161 token against the stored timestamp authorities, from scratch.
    LATERAL (SELECT t.* FROM (SELECT) one LEFT JOIN LATERAL @extschema@.rekor_timestamp_check(e.rfc3161_timestamp, e.body,
                 CASE WHEN e.rfc3161_timestamp IS NOT NULL THEN @extschema@.rekor_timestamp_authorities_json() END) t ON true) ts
    WHERE e.entry_id = $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown entry' USING ERRCODE = 'invalid_parameter_value', DETAIL = format('entry_id %s', $1),
            HINT = 'An entry ingested in the same statement is visible to rekor_verify_inclusion; check the entry_id.';
    END IF;
    IF c."check" IS NOT NULL THEN
        RAISE EXCEPTION 'entry % does not verify: %', $1, c.message USING ERRCODE = 'check_violation',
            DETAIL = c.detail, HINT = 'rekor_verify_inclusion_report(entry_id) shows every check.';
    END IF;
    IF c.ts_check IS NOT NULL THEN
        RAISE EXCEPTION 'entry % does not verify: check 6 (timestamp): %: the RFC 3161 token does not verify', $1, c.ts_check
            USING ERRCODE = 'check_violation', DETAIL = left(c.ts_error, 2000),
                  HINT = 'rekor_verify_inclusion_report(entry_id) shows every check.';
    END IF;
    -- The signing time as the insert computes it: the SET's integrated time, else the timestamp's genTime.
    at := CASE WHEN c.has_set AND c.integrated_time IS NOT NULL THEN c.integrated_time ELSE c.ts_at END;
    IF (c.signing_time, c.signing_time_source, c.timestamp_tsa_id)
       IS DISTINCT FROM (at, CASE WHEN c.has_set AND c.integrated_time IS NOT NULL THEN 'set' WHEN at IS NOT NULL THEN 'rfc3161' ELSE 'none' END,
                         c.ts_tsa_id) THEN
        RAISE EXCEPTION 'entry % does not verify: its stored signing time is not the one its evidence signs', $1
            USING ERRCODE = 'check_violation',
                  DETAIL = format('stored %s (%s, tsa %s); the evidence signs %s (tsa %s)', coalesce(c.signing_time::text, 'none'),
                                  c.signing_time_source, coalesce(c.timestamp_tsa_id::text, 'none'), coalesce(at::text, 'none'),
                                  coalesce(c.ts_tsa_id::text, 'none'));
    END IF;
    at := coalesce(at, now());
    IF (c.valid_from IS NOT NULL AND at < c.valid_from) OR (c.valid_until IS NOT NULL AND at > c.valid_until) THEN
        RAISE EXCEPTION 'entry % does not verify: log key is not valid at the entry''s time', $1 USING ERRCODE = 'check_violation',
            DETAIL = format('log %s is valid from %s until %s; entry time %s%s', encode(c.log_id, 'hex'),
                            coalesce(c.valid_from::text, '-infinity'), coalesce(c.valid_until::text, 'infinity'), at,
                            CASE c.signing_time_source WHEN 'rfc3161' THEN ' (the RFC 3161 timestamp''s genTime)'
                                 WHEN 'none' THEN ' (now: no SET signs an integrated time)' ELSE '' END);
    END IF;
    IF c.stored_auth AND NOT c.log_index_authenticated THEN
        RAISE EXCEPTION 'entry % does not verify: its log index is marked authenticated, but nothing authenticates it', $1
            USING ERRCODE = 'check_violation',
                  DETAIL = 'no SET, no single tree and no shard of the log map the stored global index';
    END IF;
    RETURN true;
END
$$;

-- Raises the 23514 every failed re-verification raises (message and detail bounded); called only on
-- the failure path, so the set-based rekor_verify_all pays nothing for it per verified row.
CREATE FUNCTION rekor_raise_unverified(entry_id bigint, message text, detail text) RETURNS boolean
LANGUAGE plpgsql VOLATILE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION 'entry % does not verify: %', entry_id, left(message, 1000) USING ERRCODE = 'check_violation',
        DETAIL = left(detail, 2000), HINT = 'rekor_verify_inclusion_report(entry_id) shows every check.';
END
$$;

-- Every stored entry re-verified in one set-based query (checks as rekor_verify_inclusion, no
-- per-row SPI), planned PARALLEL OK so PostgreSQL spreads the scan over parallel workers.
-- Returns the number verified, or raises (23514, as rekor_verify_inclusion) the first failure met.
CREATE FUNCTION rekor_verify_all() RETURNS bigint
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- PL/pgSQL, not SQL: PostgreSQL launches no parallel workers for the query of a SQL function.
    RETURN (SELECT count(*) FILTER (WHERE CASE
        WHEN v."check" IS NOT NULL THEN @extschema@.rekor_raise_unverified(e.entry_id, v.message, v.detail)
        WHEN ts."check" IS NOT NULL THEN @extschema@.rekor_raise_unverified(e.entry_id,
                 format('check 6 (timestamp): %s: the RFC 3161 token does not verify', ts."check"), ts.error)
        WHEN (e.signing_time, e.signing_time_source, e.timestamp_tsa_id) IS DISTINCT FROM (w.signed, w.source, ts.tsa_id)
            THEN @extschema@.rekor_raise_unverified(e.entry_id, 'its stored signing time is not the one its evidence signs',
                 format('stored %s (%s, tsa %s); the evidence signs %s (tsa %s)', coalesce(e.signing_time::text, 'none'),
                        e.signing_time_source, coalesce(e.timestamp_tsa_id::text, 'none'), coalesce(w.signed::text, 'none'),
                        coalesce(ts.tsa_id::text, 'none')))
        WHEN (l.valid_from IS NOT NULL AND w.at < l.valid_from) OR (l.valid_until IS NOT NULL AND w.at > l.valid_until)
            THEN @extschema@.rekor_raise_unverified(e.entry_id, 'log key is not valid at the entry''s time',
                 format('log %s is valid from %s until %s; entry time %s%s', encode(l.log_id, 'hex'),
                        coalesce(l.valid_from::text, '-infinity'), coalesce(l.valid_until::text, 'infinity'), w.at,
                        CASE w.source WHEN 'rfc3161' THEN ' (the RFC 3161 timestamp''s genTime)'
                             WHEN 'none' THEN ' (now: no SET signs an integrated time)' ELSE '' END))
        WHEN e.log_index_authenticated AND NOT v.log_index_authenticated
            THEN @extschema@.rekor_raise_unverified(e.entry_id,
                 'its log index is marked authenticated, but nothing authenticates it',
                 'no SET, no single tree and no shard of the log map the stored global index')
        ELSE true END)
FROM @extschema@.rekor_entries e
JOIN @extschema@.rekor_logs l ON l.log_id = e.log_id
-- 6. The stored RFC 3161 token against the stored timestamp authorities, from scratch.
LEFT JOIN LATERAL @extschema@.rekor_timestamp_check(e.rfc3161_timestamp, e.body,
    CASE WHEN e.rfc3161_timestamp IS NOT NULL THEN @extschema@.rekor_timestamp_authorities_json() END) ts ON true
-- The signing time as the insert computes it (the SET's integrated time, else the token's genTime).
CROSS JOIN LATERAL (SELECT x.signed, coalesce(x.signed, now()) AS at,
                           CASE WHEN x.by_set THEN 'set' WHEN x.signed IS NOT NULL THEN 'rfc3161' ELSE 'none' END AS source
                    FROM (SELECT e.signed_entry_timestamp IS NOT NULL AND e.integrated_time IS NOT NULL AS by_set,
                                 CASE WHEN e.signed_entry_timestamp IS NOT NULL AND e.integrated_time IS NOT NULL THEN e.integrated_time
                                      ELSE 'epoch'::timestamptz + ts.gen_time_us * interval '1 microsecond' END AS signed) x) w
LEFT JOIN (SELECT s.log_id, array_agg(s.tree_id) AS ids, array_agg(s.start_index) AS starts
           FROM @extschema@.rekor_log_shards s GROUP BY s.log_id) m ON m.log_id = e.log_id
CROSS JOIN LATERAL @extschema@.rekor_entry_evidence(
    e.body, e.entry_uuid, e.leaf_hash, e.proof_log_index, e.tree_size, e.root_hash, e.proof_hashes, e.checkpoint,
    e.signed_entry_timestamp, extract(epoch FROM e.integrated_time)::bigint, e.log_id, e.log_index,
    l.public_key, l.signer_name, l.origin, l.origin_is_prefix, m.ids, m.starts) AS v);
END
$$;

-- The entries whose body carries this digest (artifact, payload, envelope, ...): Rekor's search
-- index, complete and indexed. `algorithm` is sha256, sha384 or sha512. A look-up finds a handful of
-- rows: its generic plan (the digest unknown) would start parallel workers, 5-10 ms each time at 1M rows.
CREATE FUNCTION rekor_entries_by_digest(algorithm text, digest bytea) RETURNS SETOF rekor_entries
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
SET max_parallel_workers_per_gather = 0
AS $$
    SELECT * FROM @extschema@.rekor_entries e
    WHERE e.digest_keys @> ARRAY[@extschema@.rekor_digest_key($1, $2)]
    ORDER BY e.entry_id
$$;

-- Evidence out (issue 14): a stored entry as a Sigstore bundle v0.3 (protobuf JSON), which cosign
-- and sigstore-go verify offline against the same trusted root. tlogEntries[0] is the entry as the
-- log issued it (logIndex, logId, kindVersion, integratedTime, inclusionPromise where a SET exists,
-- inclusionProof with its checkpoint, canonicalizedBody); the content is the DSSE envelope (stored
-- at ingest, or the queue item's for an entry the submitter logged) or the body's message
-- signature; the verifier is the stored one (or the queue item's, or the body's); the stored RFC
-- 3161 timestamp goes along. The entry is re-verified first (23514 if it does not verify). ERRORs:
-- 22023 unknown entry; 55000 an entry a bundle cannot carry (a dsse / intoto entry whose envelope
-- is not stored, a kind with no bundle form, no or an unsupported verifier); a stored field a bundle cannot hold.
CREATE FUNCTION rekor_export_bundle(entry_id bigint) RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    e @extschema@.rekor_entries;
    q_envelope jsonb;
    q_verifier bytea;
BEGIN
    SELECT * INTO e FROM @extschema@.rekor_entries x WHERE x.entry_id = $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown entry' USING ERRCODE = 'invalid_parameter_value', DETAIL = format('entry_id %s', $1);
    END IF;
    PERFORM @extschema@.rekor_verify_inclusion($1);
    IF e.dsse_envelope IS NULL OR e.verifier IS NULL THEN
        SELECT x.envelope, x.verifier INTO q_envelope, q_verifier FROM @extschema@.rekor_submission_queue x
        WHERE x.entry_id = $1 AND x.state = 'submitted' ORDER BY x.queue_id LIMIT 1;
    END IF;
    RETURN @extschema@.rekor_bundle_export(e.body, e.log_id, e.log_index, extract(epoch FROM e.integrated_time)::bigint,
        e.kind, e.api_version, e.signed_entry_timestamp, e.proof_log_index, e.tree_size, e.root_hash, e.proof_hashes,
        e.checkpoint, coalesce(e.dsse_envelope, q_envelope), coalesce(e.verifier, q_verifier),
        CASE WHEN e.rfc3161_timestamp IS NOT NULL THEN ARRAY[e.rfc3161_timestamp] END);
END
$$;
