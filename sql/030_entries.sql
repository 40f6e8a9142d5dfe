-- Rekor log entries: each row carries its inclusion proof and the checkpoint that proof ends in.
-- A BEFORE INSERT OR UPDATE trigger verifies every row from scratch, so no path (INSERT, COPY,
-- INSERT ... SELECT, UPDATE) stores an entry whose evidence does not verify.

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
    inserted_at            timestamptz NOT NULL DEFAULT now(),
    UNIQUE (log_id, log_index),
    UNIQUE (leaf_hash, log_id)   -- leaf first: serves UUID look-ups and is never mistaken for a log_id prefix index
);
CREATE INDEX rekor_entries_digest_keys ON rekor_entries USING gin (digest_keys);
CREATE INDEX rekor_entries_checkpoint ON rekor_entries (checkpoint_id);
SELECT pg_catalog.pg_extension_config_dump('rekor_entries', '');
SELECT pg_catalog.pg_extension_config_dump('rekor_entries_entry_id_seq', '');  -- so restored rows keep their ids and new ones follow
COMMENT ON TABLE rekor_entries IS 'Rekor entries whose inclusion proof, checkpoint and SET verified on insert (append-only)';

-- Raises one check_violation (23514) with a message naming the check and a DETAIL.
CREATE FUNCTION rekor_reject_entry(message text, detail text) RETURNS void
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RAISE EXCEPTION '%', message USING ERRCODE = 'check_violation', DETAIL = detail;
END
$$;

-- Stores (or finds) the checkpoint an entry's proof ends in, through the checkpoints capability:
-- the checkpoint must be signed by the entry's log with a key valid at `at`; a second root for a
-- stored tree size is a fork and is rejected. Returns the checkpoint_id.
CREATE FUNCTION rekor_entry_checkpoint(note text, v_log bytea, tree_size bigint, root_hash bytea, at timestamptz,
                                       v_origin text)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id bigint;
    other bytea;
BEGIN
    -- Shards of one Rekor v1 key share its log_id: a checkpoint is identified with its origin.
    SELECT c.checkpoint_id INTO id FROM @extschema@.rekor_checkpoints c
    WHERE c.log_id = v_log AND c.origin = v_origin AND c.tree_size = $3 AND c.root_hash = $4;
    IF FOUND THEN
        RETURN id;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtextextended(encode(v_log, 'hex'), $3));
    -- A fork is per origin: the shards of one Rekor v1 key share its log_id.
    SELECT c.root_hash INTO other FROM @extschema@.rekor_checkpoints c
    WHERE c.log_id = v_log AND c.origin = v_origin
      AND c.tree_size = $3 AND c.root_hash <> $4 LIMIT 1;
    IF FOUND THEN
        PERFORM @extschema@.rekor_reject_entry('log fork: the entry''s checkpoint contradicts a stored checkpoint',
            format('log %s, tree size %s: stored root %s, entry checkpoint root %s', encode(v_log, 'hex'), $3,
                   encode(other, 'hex'), encode($4, 'hex')));
    END IF;
    SELECT c.checkpoint_id INTO id FROM @extschema@.rekor_checkpoints c
    WHERE c.log_id = v_log AND c.origin = v_origin AND c.tree_size = $3 AND c.root_hash = $4;
    IF NOT FOUND THEN
        INSERT INTO @extschema@.rekor_checkpoints (note, seen_at) VALUES (note, at)
        RETURNING checkpoint_id INTO id;
    END IF;
    RETURN id;
END
$$;

CREATE FUNCTION rekor_entries_verify() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    l @extschema@.rekor_logs;
    ev record;
    bi record;
    at timestamptz;
BEGIN
    IF TG_OP = 'UPDATE' AND NOT @extschema@.rekor_is_extension_owner() THEN
        RAISE EXCEPTION 'rekor_meta evidence is append-only: UPDATE on rekor_entries is not allowed'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.body IS NULL OR NEW.log_id IS NULL OR NEW.log_index IS NULL OR NEW.proof_log_index IS NULL
       OR NEW.tree_size IS NULL OR NEW.root_hash IS NULL OR NEW.proof_hashes IS NULL OR NEW.checkpoint IS NULL THEN
        RAISE EXCEPTION 'entry is missing its evidence' USING ERRCODE = 'not_null_violation',
            DETAIL = 'body, log_id, log_index, proof_log_index, tree_size, root_hash, proof_hashes and checkpoint are required';
    END IF;
    SELECT * INTO l FROM @extschema@.rekor_logs g WHERE g.log_id = NEW.log_id;
    IF NOT FOUND THEN
        PERFORM @extschema@.rekor_reject_entry('entry log is not a trusted log',
            format('log_id %s is not in rekor_logs', encode(NEW.log_id, 'hex')));
    END IF;
    -- The key must be valid when the log says it integrated the entry. Only a SET signs the
    -- integrated time (check 4); without one (Rekor v2) nothing vouches for it, so: now.
    at := CASE WHEN NEW.signed_entry_timestamp IS NOT NULL THEN coalesce(NEW.integrated_time, now()) ELSE now() END;
    IF (l.valid_from IS NOT NULL AND at < l.valid_from) OR (l.valid_until IS NOT NULL AND at >= l.valid_until) THEN
        PERFORM @extschema@.rekor_reject_entry('log key is not valid at the entry''s time',
            format('log %s is valid from %s until %s; entry time %s', encode(l.log_id, 'hex'),
                   coalesce(l.valid_from::text, '-infinity'), coalesce(l.valid_until::text, 'infinity'), at));
    END IF;

    -- Checks 1-4 in one pass (rekor_meta_core::evidence), in order, the first failure reported:
    -- 1. leaf hash from the body, and the UUID ends in it; 2. the inclusion proof leads to the root;
    -- 3. the checkpoint verifies under the log key and names the same size, root and the log's origin;
    -- 4. a signed entry timestamp, where present, verifies over the canonical JSON Rekor signs.
    SELECT * INTO ev FROM @extschema@.rekor_entry_evidence_check(
        NEW.body, NEW.entry_uuid, NEW.leaf_hash, NEW.proof_log_index, NEW.tree_size, NEW.root_hash, NEW.proof_hashes,
        NEW.checkpoint, NEW.signed_entry_timestamp, extract(epoch FROM NEW.integrated_time)::bigint, NEW.log_id,
        NEW.log_index, l.public_key, l.signer_name, l.origin, l.origin_is_prefix);
    IF ev."check" IS NOT NULL THEN
        PERFORM @extschema@.rekor_reject_entry(ev.message, ev.detail);
    END IF;
    IF NEW.tree_id IS NOT NULL AND NEW.tree_id IS DISTINCT FROM ev.tree_id THEN
        PERFORM @extschema@.rekor_reject_entry('check 3 (checkpoint): tree_id is not the shard the UUID and checkpoint name',
            format('given tree_id %s; uuid %s, checkpoint origin %L', NEW.tree_id, coalesce(NEW.entry_uuid, 'none'), ev.checkpoint_origin));
    END IF;
    NEW.leaf_hash := ev.leaf_hash;
    NEW.entry_uuid := lower(NEW.entry_uuid);
    NEW.tree_id := ev.tree_id;
    -- The checkpoint is stored through the checkpoints capability, so fork detection applies.
    NEW.checkpoint_id := @extschema@.rekor_entry_checkpoint(NEW.checkpoint, l.log_id, NEW.tree_size, NEW.root_hash, at,
                                                           ev.checkpoint_origin);

    -- 5. The body must be a Rekor entry (kind, apiVersion, spec); its digests become searchable.
    SELECT * INTO bi FROM @extschema@.rekor_body_info(NEW.body);
    IF bi.error IS NOT NULL THEN
        PERFORM @extschema@.rekor_reject_entry('check 5 (body): the body is not a Rekor entry', bi.error);
    END IF;
    IF (NEW.kind IS NOT NULL AND NEW.kind <> bi.kind) OR (NEW.api_version IS NOT NULL AND NEW.api_version <> bi.api_version) THEN
        PERFORM @extschema@.rekor_reject_entry('check 5 (body): kind or api_version disagrees with the body',
            format('given %s %s, the body says %s %s', NEW.kind, NEW.api_version, bi.kind, bi.api_version));
    END IF;
    NEW.kind := bi.kind;
    NEW.api_version := bi.api_version;
    NEW.digest_keys := bi.digest_keys;
    RETURN NEW;
END
$$;

CREATE TRIGGER rekor_entries_verify BEFORE INSERT OR UPDATE ON rekor_entries
    FOR EACH ROW EXECUTE FUNCTION rekor_entries_verify();
CREATE TRIGGER rekor_entries_append_only BEFORE DELETE ON rekor_entries
    FOR EACH ROW EXECUTE FUNCTION rekor_forbid_change();
CREATE TRIGGER rekor_entries_no_truncate BEFORE TRUNCATE ON rekor_entries
    FOR EACH STATEMENT EXECUTE FUNCTION rekor_forbid_change();

-- Ingests parsed entry rows: an entry already stored (same log and index, same leaf) returns its
-- existing entry_id and changes nothing; the same log index with other content is rejected.
CREATE FUNCTION rekor_ingest_rows(rows_json jsonb, from_bundle boolean) RETURNS SETOF bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
    existing record;
    id bigint;
BEGIN
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
        SELECT e.entry_id, e.leaf_hash, e.proof_log_index, e.tree_size, e.root_hash, e.proof_hashes, e.checkpoint,
               e.signed_entry_timestamp, e.integrated_time
          INTO existing FROM @extschema@.rekor_entries e
        WHERE e.log_id = r.log_id AND e.log_index = r.log_index;
        IF FOUND THEN
            IF existing.leaf_hash <> @extschema@.rekor_leaf_hash(r.body) THEN
                PERFORM @extschema@.rekor_reject_entry('another entry is stored at this log index',
                    format('log %s index %s: stored leaf %s, new leaf %s', encode(r.log_id, 'hex'), r.log_index,
                           encode(existing.leaf_hash, 'hex'), encode(@extschema@.rekor_leaf_hash(r.body), 'hex')));
            END IF;
            IF (existing.proof_log_index, existing.tree_size, existing.root_hash, existing.proof_hashes, existing.checkpoint)
                 IS NOT DISTINCT FROM (r.proof_log_index, r.tree_size, r.root_hash, r.proof_hashes, r.checkpoint)
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
                                                       body, tree_size, root_hash, proof_hashes, checkpoint, signed_entry_timestamp)
                VALUES (r.log_id, r.entry_uuid, r.log_index, r.proof_log_index, r.tree_id,
                        CASE WHEN r.integrated_time IS NULL THEN NULL ELSE to_timestamp(r.integrated_time) END,
                        r.body, r.tree_size, r.root_hash, r.proof_hashes, r.checkpoint, r.signed_entry_timestamp);
            EXCEPTION WHEN unique_violation THEN
                NULL;
            END;
            RETURN NEXT existing.entry_id;
            CONTINUE;
        END IF;
        INSERT INTO @extschema@.rekor_entries (log_id, entry_uuid, log_index, proof_log_index, tree_id, integrated_time,
                                               body, tree_size, root_hash, proof_hashes, checkpoint, signed_entry_timestamp)
        VALUES (r.log_id, r.entry_uuid, r.log_index, r.proof_log_index, r.tree_id,
                CASE WHEN r.integrated_time IS NULL THEN NULL ELSE to_timestamp(r.integrated_time) END,
                r.body, r.tree_size, r.root_hash, r.proof_hashes, r.checkpoint, r.signed_entry_timestamp)
        ON CONFLICT DO NOTHING
        RETURNING entry_id INTO id;
        IF id IS NULL THEN
            -- A concurrent ingest stored this log index first (the INSERT waited for it to commit;
            -- the entry was verified all the same): the same entry is that one, another is refused.
            SELECT e.entry_id, e.leaf_hash INTO existing FROM @extschema@.rekor_entries e
            WHERE e.log_id = r.log_id AND e.log_index = r.log_index;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'this entry is already stored at another log index' USING ERRCODE = 'unique_violation',
                    DETAIL = format('log %s: leaf %s is stored, not at index %s', encode(r.log_id, 'hex'),
                                    encode(@extschema@.rekor_leaf_hash(r.body), 'hex'), r.log_index);
            END IF;
            IF existing.leaf_hash <> @extschema@.rekor_leaf_hash(r.body) THEN
                PERFORM @extschema@.rekor_reject_entry('another entry is stored at this log index',
                    format('log %s index %s: stored leaf %s, new leaf %s', encode(r.log_id, 'hex'), r.log_index,
                           encode(existing.leaf_hash, 'hex'), encode(@extschema@.rekor_leaf_hash(r.body), 'hex')));
            END IF;
            id := existing.entry_id;
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

-- One row per check of a stored entry, re-run from scratch against the stored log key: for humans.
CREATE FUNCTION rekor_verify_inclusion_report(entry_id bigint)
RETURNS TABLE (step int, "check" text, passed boolean, reason text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    e @extschema@.rekor_entries;
    l @extschema@.rekor_logs;
    leaf bytea;
    err text;
    cp record;
BEGIN
    SELECT * INTO e FROM @extschema@.rekor_entries x WHERE x.entry_id = $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown entry' USING ERRCODE = 'invalid_parameter_value', DETAIL = format('entry_id %s', $1);
    END IF;
    SELECT * INTO l FROM @extschema@.rekor_logs g WHERE g.log_id = e.log_id;
    leaf := @extschema@.rekor_leaf_hash(e.body);

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
        passed := e.log_index = e.proof_log_index;
        reason := CASE WHEN passed THEN 'no SET (Rekor v2 entries have none); the log index is the proof''s index'
                       ELSE format('no SET, and log index %s is not the proof''s index %s', e.log_index, e.proof_log_index) END;
    ELSE
        passed := e.integrated_time IS NOT NULL AND @extschema@.rekor_verify_set(e.signed_entry_timestamp, e.body,
                  extract(epoch FROM e.integrated_time)::bigint, e.log_id, e.log_index, l.public_key);
        reason := CASE WHEN passed THEN format('signed by %s over index %s, time %s', l.signer_name, e.log_index, e.integrated_time)
                       ELSE 'the SET does not verify under the log key' END;
    END IF;
    RETURN NEXT;
END
$$;

-- Re-verifies a stored entry from scratch (checks 1-4 against the stored log key): true, or false
-- when its stored evidence no longer verifies; ERROR for an unknown entry_id.
CREATE FUNCTION rekor_verify_inclusion(entry_id bigint) RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    ok boolean;
BEGIN
    SELECT c."check" IS NULL INTO ok
    FROM @extschema@.rekor_entries e
    JOIN @extschema@.rekor_logs l ON l.log_id = e.log_id,
    LATERAL @extschema@.rekor_entry_evidence_check(
        e.body, e.entry_uuid, e.leaf_hash, e.proof_log_index, e.tree_size, e.root_hash, e.proof_hashes, e.checkpoint,
        e.signed_entry_timestamp, extract(epoch FROM e.integrated_time)::bigint, e.log_id, e.log_index,
        l.public_key, l.signer_name, l.origin, l.origin_is_prefix) AS c
    WHERE e.entry_id = $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown entry' USING ERRCODE = 'invalid_parameter_value', DETAIL = format('entry_id %s', $1);
    END IF;
    RETURN ok;
END
$$;

-- The entries whose body carries this digest (artifact, payload, envelope, ...): Rekor's search
-- index, complete and indexed. `algorithm` is sha256, sha384 or sha512.
CREATE FUNCTION rekor_entries_by_digest(algorithm text, digest bytea) RETURNS SETOF rekor_entries
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM @extschema@.rekor_entries e
    WHERE e.digest_keys @> ARRAY[@extschema@.rekor_digest_key($1, $2)]
    ORDER BY e.entry_id
$$;
