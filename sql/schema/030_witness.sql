-- The in-database witness (C2SP tlog-witness): the latest checkpoint witnessed per log and origin.
-- C2SP tlog-witness keys witnesses by origin: the shards of one Rekor v1 key (one log_id) each
-- have their own tree, size and root.
CREATE TABLE rekor_witness_state (
    log_id         bytea NOT NULL REFERENCES rekor_logs (log_id),
    checkpoint_id  bigint REFERENCES rekor_checkpoints (checkpoint_id),
    tree_size      bigint NOT NULL DEFAULT 0,
    root_hash      bytea,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    origin         text NOT NULL,
    PRIMARY KEY (log_id, origin)
);
SELECT pg_catalog.pg_extension_config_dump('rekor_witness_state', '');

-- A row restored from a dump of 0.1.0 or 0.2.0 has no origin: it is its checkpoint's (the checkpoints
-- are restored first); a row that witnessed no checkpoint holds no state and is not restored.
CREATE FUNCTION rekor_witness_state_origin() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.origin IS NULL THEN
        SELECT c.origin INTO NEW.origin FROM @extschema@.rekor_checkpoints c WHERE c.checkpoint_id = NEW.checkpoint_id;
        IF NEW.origin IS NULL THEN
            RETURN NULL;
        END IF;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER rekor_witness_state_origin BEFORE INSERT ON rekor_witness_state
    FOR EACH ROW EXECUTE FUNCTION rekor_witness_state_origin();

-- Witnesses a checkpoint: atomically (one row lock per log and origin) verifies the note, checks
-- the consistency proof from the latest witnessed checkpoint of that origin (`old_size`) to the new
-- one, and advances the origin's witnessed checkpoint. Answers one status per outcome (see README):
-- ok | unknown_log | bad_signature | old_size_too_large | old_size_mismatch | fork | bad_proof.
-- tree_size is the witnessed size after the call (the current size for old_size_mismatch).
CREATE FUNCTION rekor_witness_checkpoint(note text, old_size bigint, consistency_proof bytea[],
                                         OUT status text, OUT tree_size bigint, OUT checkpoint_id bigint,
                                         OUT detail text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    p @extschema@.rekor_checkpoint_note := @extschema@.rekor_parse_checkpoint(note);
    l record;
    v_log bytea;
    st @extschema@.rekor_witness_state;
    rec record;
    proof_ok boolean;
BEGIN
    IF old_size IS NULL OR old_size < 0 THEN
        RAISE EXCEPTION 'old_size must be a non-negative number' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('old_size = %s', old_size);
    END IF;
    consistency_proof := coalesce(consistency_proof, '{}');
    IF NOT EXISTS (SELECT 1 FROM @extschema@.rekor_logs_for_origin(p.origin, now())) THEN
        status := 'unknown_log';
        detail := format('origin %L matches no trusted log', p.origin);
        RETURN;
    END IF;
    FOR l IN SELECT * FROM @extschema@.rekor_logs_for_origin(p.origin, now()) LOOP
        IF @extschema@.rekor_checkpoint_signed_by(note, l.public_key, l.signer_name) THEN
            v_log := l.log_id;
            EXIT;
        END IF;
    END LOOP;
    IF v_log IS NULL THEN
        status := 'bad_signature';
        detail := format('no trusted key for origin %L verifies the note', p.origin);
        RETURN;
    END IF;
    IF old_size > p.tree_size THEN
        status := 'old_size_too_large';
        detail := format('old size %s is greater than the checkpoint size %s', old_size, p.tree_size);
        RETURN;
    END IF;

    -- One witness at a time per (log, origin): everything below runs under this row lock.
    INSERT INTO @extschema@.rekor_witness_state (log_id, origin) VALUES (v_log, p.origin) ON CONFLICT DO NOTHING;
    SELECT * INTO st FROM @extschema@.rekor_witness_state s WHERE s.log_id = v_log AND s.origin = p.origin FOR UPDATE;

    IF old_size <> st.tree_size THEN
        status := 'old_size_mismatch';
        tree_size := st.tree_size;
        checkpoint_id := st.checkpoint_id;
        detail := format('old size %s is not the witnessed size %s of origin %L', old_size, st.tree_size, p.origin);
        RETURN;
    END IF;
    IF p.tree_size = st.tree_size AND st.checkpoint_id IS NOT NULL THEN
        tree_size := st.tree_size;
        IF p.root_hash = st.root_hash AND cardinality(consistency_proof) = 0 THEN
            status := 'ok';
            checkpoint_id := st.checkpoint_id;
            detail := 'already witnessed';
        ELSIF p.root_hash = st.root_hash THEN
            status := 'bad_proof';
            detail := 'the proof must be empty when the size does not change';
        ELSE
            INSERT INTO @extschema@.rekor_log_forks (log_id, tree_size, stored_checkpoint_id, stored_root_hash,
                                                     conflicting_root_hash, conflicting_note)
            VALUES (v_log, p.tree_size, st.checkpoint_id, st.root_hash, p.root_hash, note)
            ON CONFLICT ON CONSTRAINT rekor_log_forks_log_id_tree_size_conflicting_root_hash_key DO NOTHING;
            status := 'fork';
            checkpoint_id := st.checkpoint_id;
            detail := format('origin %L tree size %s: witnessed root %s, new root %s', p.origin, p.tree_size,
                             encode(st.root_hash, 'hex'), encode(p.root_hash, 'hex'));
        END IF;
        RETURN;
    END IF;

    IF st.checkpoint_id IS NULL THEN
        -- First checkpoint of this origin: trusted on first use; nothing to be consistent with.
        proof_ok := cardinality(consistency_proof) = 0;
        detail := 'first checkpoint witnessed for this origin';
    ELSE
        BEGIN
            proof_ok := @extschema@.rekor_checkpoints_consistent(st.tree_size, p.tree_size, st.root_hash, p.root_hash,
                                                                  consistency_proof);
        EXCEPTION WHEN invalid_parameter_value THEN
            proof_ok := false;
            detail := SQLERRM;
        END;
    END IF;
    IF NOT proof_ok THEN
        status := 'bad_proof';
        tree_size := st.tree_size;
        checkpoint_id := st.checkpoint_id;
        detail := coalesce(detail || ': ', '') || format('no valid consistency proof from size %s to %s',
                                                         st.tree_size, p.tree_size);
        RETURN;
    END IF;

    SELECT * INTO rec FROM @extschema@.rekor_record_checkpoint(note);
    IF rec.status = 'fork' THEN
        status := 'fork';
        tree_size := st.tree_size;
        checkpoint_id := rec.checkpoint_id;
        detail := 'another root for this tree size is stored in rekor_checkpoints';
        RETURN;
    END IF;
    IF st.checkpoint_id IS NOT NULL THEN
        INSERT INTO @extschema@.rekor_checkpoint_consistency (older_id, newer_id, proof)
        VALUES (st.checkpoint_id, rec.checkpoint_id, consistency_proof)
        ON CONFLICT DO NOTHING;
    END IF;
    UPDATE @extschema@.rekor_witness_state s
    SET checkpoint_id = rec.checkpoint_id, tree_size = p.tree_size, root_hash = p.root_hash, updated_at = now()
    WHERE s.log_id = v_log AND s.origin = p.origin;
    status := 'ok';
    tree_size := p.tree_size;
    checkpoint_id := rec.checkpoint_id;
    detail := coalesce(detail, format('advanced from size %s to %s', st.tree_size, p.tree_size));
END
$$;
