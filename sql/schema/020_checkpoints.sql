-- Signed checkpoints: the log's signed statement "at tree size N my root is R".
-- Stored only when the signature verifies under a trusted log key; append-only; forks recorded.
-- The witness, which writes checkpoints through rekor_record_checkpoint, is 030_witness.sql.

CREATE TYPE rekor_note_signature AS (name text, key_hint bytea, signature bytea);
CREATE TYPE rekor_checkpoint_note AS (
    origin      text,
    tree_size   bigint,
    root_hash   bytea,
    extensions  text[],
    signatures  rekor_note_signature[]
);

-- Parses a checkpoint strictly (22P02 naming the line on any deviation from the format).
CREATE FUNCTION rekor_parse_checkpoint(note text) RETURNS rekor_checkpoint_note
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT ROW(f.origin, f.tree_size, f.root_hash, f.extensions,
               ARRAY(SELECT ROW(u.n, u.h, u.s)::@extschema@.rekor_note_signature
                     FROM unnest(f.signature_names, f.key_hints, f.signatures) WITH ORDINALITY AS u(n, h, s, o)
                     ORDER BY u.o))::@extschema@.rekor_checkpoint_note
    FROM @extschema@.rekor_checkpoint_fields(note) AS f
$$;

-- The trusted log that signed `note` at time `at`: raises 22P02 for a malformed note, and 23514
-- when no trusted log has the note's origin or none of their keys verifies its signature.
CREATE FUNCTION rekor_checkpoint_log(note text, at timestamptz DEFAULT now()) RETURNS bytea
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    p @extschema@.rekor_checkpoint_note := @extschema@.rekor_parse_checkpoint(note);
    l record;
    tried text[] := '{}';
BEGIN
    FOR l IN SELECT * FROM @extschema@.rekor_logs_for_origin(p.origin, at) LOOP
        IF @extschema@.rekor_checkpoint_signed_by(note, l.public_key, l.signer_name) THEN
            RETURN l.log_id;
        END IF;
        tried := tried || format('%s (signer %s)', encode(l.log_id, 'hex'), l.signer_name);
    END LOOP;
    IF cardinality(tried) = 0 THEN
        RAISE EXCEPTION 'checkpoint origin is not a trusted log'
            USING ERRCODE = 'check_violation',
                  DETAIL = format('origin %L (tree size %s) matches no log in rekor_logs valid at %s',
                                  p.origin, p.tree_size, at),
                  HINT = 'Trust the log first with rekor_add_log(public_key, signer_name, origin).';
    END IF;
    RAISE EXCEPTION 'checkpoint signature does not verify under the trusted log key'
        USING ERRCODE = 'check_violation',
              DETAIL = format('origin %L, tree size %s, root %s; signature lines: %s; keys tried: %s',
                              p.origin, p.tree_size, encode(p.root_hash, 'hex'),
                              (SELECT string_agg(format('%s/%s', s.name, encode(s.key_hint, 'hex')), ', ')
                               FROM unnest(p.signatures) s),
                              array_to_string(tried, ', '));
END
$$;

CREATE TABLE rekor_checkpoints (
    checkpoint_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    log_id         bytea NOT NULL REFERENCES rekor_logs (log_id),
    origin         text NOT NULL,
    tree_size      bigint NOT NULL CHECK (tree_size >= 0),
    root_hash      bytea NOT NULL CHECK (length(root_hash) = 32),
    note           text NOT NULL,                  -- the raw signed note, byte for byte
    seen_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rekor_checkpoints_latest ON rekor_checkpoints (log_id, tree_size DESC);
-- One root per tree size of a log (origin): the fork check in the trigger reads with the statement's
-- snapshot, which under REPEATABLE READ can predate a committed conflicting root; the index cannot.
CREATE UNIQUE INDEX rekor_checkpoints_one_root ON rekor_checkpoints (log_id, origin, tree_size);
-- pg_dump dumps the rows of extension tables only when they are marked.
SELECT pg_catalog.pg_extension_config_dump('rekor_checkpoints', '');
SELECT pg_catalog.pg_extension_config_dump('rekor_checkpoints_checkpoint_id_seq', '');  -- so restored rows keep their ids and new ones follow
COMMENT ON TABLE rekor_checkpoints IS 'Verified signed checkpoints (append-only; columns are filled from the note by a trigger)';

-- Evidence that a log showed two histories: same tree size, different roots, both signed.
-- Written by the non-raising paths (rekor_record_checkpoint, rekor_witness_checkpoint), so it
-- survives: a raising INSERT would roll the evidence back with the statement.
CREATE TABLE rekor_log_forks (
    fork_id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    log_id                bytea NOT NULL REFERENCES rekor_logs (log_id),
    tree_size             bigint NOT NULL,
    stored_checkpoint_id  bigint NOT NULL REFERENCES rekor_checkpoints (checkpoint_id),
    stored_root_hash      bytea NOT NULL,
    conflicting_root_hash bytea NOT NULL,
    conflicting_note      text NOT NULL,
    detected_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (log_id, tree_size, conflicting_root_hash)
);
SELECT pg_catalog.pg_extension_config_dump('rekor_log_forks', '');
SELECT pg_catalog.pg_extension_config_dump('rekor_log_forks_fork_id_seq', '');  -- so restored rows keep their ids and new ones follow
COMMENT ON TABLE rekor_log_forks IS 'Signed checkpoints that contradict a stored one: proof the log forked';

-- BEFORE INSERT OR UPDATE: the note is the only source of truth. It must parse and verify under a
-- trusted key; the columns are filled from it (values that disagree are rejected); a second root
-- for a stored tree size is a fork and is rejected. The key is checked at the server's time: a
-- caller's seen_at is not trusted; only the extension owner's paths (a restore, rekor_entry_checkpoint
-- in 040_entries.sql) keep the time they give. checkpoint_id is assigned by the database: a writer's
-- OVERRIDING SYSTEM VALUE may not take an id the sequence has not drawn (rekor_identity_drawn).
CREATE FUNCTION rekor_checkpoints_verify() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p @extschema@.rekor_checkpoint_note;
    v_log bytea;
    other record;
    owner boolean := @extschema@.rekor_is_extension_owner();
BEGIN
    IF TG_OP = 'UPDATE' AND NOT owner THEN
        RAISE EXCEPTION 'rekor_meta evidence is append-only: UPDATE on rekor_checkpoints is not allowed'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'INSERT' AND NOT owner THEN
        IF NOT @extschema@.rekor_identity_drawn('rekor_checkpoints', NEW.checkpoint_id) THEN
            RAISE EXCEPTION 'checkpoint_id is assigned by the database' USING ERRCODE = 'generated_always',
                DETAIL = format('checkpoint_id %s has not been drawn from its sequence', NEW.checkpoint_id),
                HINT = 'Insert without checkpoint_id (no OVERRIDING SYSTEM VALUE).';
        END IF;
        NEW.seen_at := now();
    END IF;
    p := @extschema@.rekor_parse_checkpoint(NEW.note);
    v_log := @extschema@.rekor_checkpoint_log(NEW.note, coalesce(NEW.seen_at, now()));
    IF NEW.log_id IS NOT NULL AND NEW.log_id <> v_log THEN
        RAISE EXCEPTION 'checkpoint log_id disagrees with the note'
            USING ERRCODE = 'check_violation',
                  DETAIL = format('given %s, the note verifies under %s', encode(NEW.log_id, 'hex'), encode(v_log, 'hex'));
    END IF;
    IF (NEW.origin IS NOT NULL AND NEW.origin <> p.origin)
       OR (NEW.tree_size IS NOT NULL AND NEW.tree_size <> p.tree_size)
       OR (NEW.root_hash IS NOT NULL AND NEW.root_hash <> p.root_hash) THEN
        RAISE EXCEPTION 'checkpoint columns disagree with the note'
            USING ERRCODE = 'check_violation',
                  DETAIL = format('given origin %L, tree size %s, root %s; the note says origin %L, tree size %s, root %s',
                                  NEW.origin, NEW.tree_size, encode(NEW.root_hash, 'hex'),
                                  p.origin, p.tree_size, encode(p.root_hash, 'hex'));
    END IF;
    NEW.log_id := v_log;
    NEW.origin := p.origin;
    NEW.tree_size := p.tree_size;
    NEW.root_hash := p.root_hash;

    -- Serialise writers of the same (log, size) so two conflicting roots cannot both slip in.
    -- A fork is per origin: one Rekor v1 key (one log_id) signs every shard, each its own tree.
    PERFORM pg_advisory_xact_lock(hashtextextended(encode(v_log, 'hex'), p.tree_size));
    SELECT c.checkpoint_id, c.root_hash INTO other
    FROM @extschema@.rekor_checkpoints c
    WHERE c.log_id = v_log AND c.origin = p.origin AND c.tree_size = p.tree_size AND c.root_hash <> p.root_hash
      AND (TG_OP = 'INSERT' OR c.checkpoint_id <> NEW.checkpoint_id)
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'log fork: a checkpoint for this tree size with another root is already stored'
            USING ERRCODE = 'check_violation',
                  DETAIL = format('log %s, tree size %s: stored root %s (checkpoint %s), new root %s',
                                  encode(v_log, 'hex'), p.tree_size, encode(other.root_hash, 'hex'),
                                  other.checkpoint_id, encode(p.root_hash, 'hex')),
                  HINT = 'Use rekor_record_checkpoint() to keep the conflicting note as evidence in rekor_log_forks.';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER rekor_checkpoints_verify BEFORE INSERT OR UPDATE ON rekor_checkpoints
    FOR EACH ROW EXECUTE FUNCTION rekor_checkpoints_verify();
CREATE TRIGGER rekor_checkpoints_append_only BEFORE DELETE ON rekor_checkpoints
    FOR EACH ROW EXECUTE FUNCTION rekor_forbid_change();
CREATE TRIGGER rekor_checkpoints_no_truncate BEFORE TRUNCATE ON rekor_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION rekor_forbid_change();
CREATE TRIGGER rekor_log_forks_append_only BEFORE UPDATE OR DELETE ON rekor_log_forks
    FOR EACH ROW EXECUTE FUNCTION rekor_forbid_change();
CREATE TRIGGER rekor_log_forks_no_truncate BEFORE TRUNCATE ON rekor_log_forks
    FOR EACH STATEMENT EXECUTE FUNCTION rekor_forbid_change();

-- Stores a checkpoint without raising on a fork: status 'inserted', 'existing' (same log, size and
-- root already stored), or 'fork' (another root is stored for that size; the note is written to
-- rekor_log_forks and checkpoint_id is the stored, contradicted checkpoint). Malformed notes (22P02),
-- unknown origins and bad signatures (23514) still raise: they prove nothing.
CREATE FUNCTION rekor_record_checkpoint(note text, OUT checkpoint_id bigint, OUT status text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    p @extschema@.rekor_checkpoint_note := @extschema@.rekor_parse_checkpoint(note);
    v_log bytea := @extschema@.rekor_checkpoint_log(note, now());
    stored record;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(encode(v_log, 'hex'), p.tree_size));
    -- Another root is a fork only for the same origin (the shards of a Rekor v1 key share its
    -- log_id); the same (log, size, root) under another origin is 'existing' (the table's key).
    SELECT c.checkpoint_id, c.root_hash INTO stored
    FROM @extschema@.rekor_checkpoints c
    WHERE c.log_id = v_log AND c.tree_size = p.tree_size AND (c.origin = p.origin OR c.root_hash = p.root_hash)
    ORDER BY c.origin = p.origin DESC, c.root_hash = p.root_hash DESC
    LIMIT 1;
    IF FOUND AND stored.root_hash = p.root_hash THEN
        checkpoint_id := stored.checkpoint_id;
        status := 'existing';
    ELSIF FOUND THEN
        INSERT INTO @extschema@.rekor_log_forks (log_id, tree_size, stored_checkpoint_id, stored_root_hash,
                                                 conflicting_root_hash, conflicting_note)
        VALUES (v_log, p.tree_size, stored.checkpoint_id, stored.root_hash, p.root_hash, note)
        ON CONFLICT ON CONSTRAINT rekor_log_forks_log_id_tree_size_conflicting_root_hash_key DO NOTHING;
        checkpoint_id := stored.checkpoint_id;
        status := 'fork';
    ELSE
        INSERT INTO @extschema@.rekor_checkpoints (note) VALUES (note)
        RETURNING rekor_checkpoints.checkpoint_id INTO checkpoint_id;
        status := 'inserted';
    END IF;
END
$$;

-- Consistency of two checkpoints. The Merkle layer has no proof from the empty tree; the empty tree
-- (size 0, root SHA-256("")) is a prefix of every tree, by an empty proof (C2SP tlog-witness: "The
-- proof MUST be empty if the old size is zero"). Everything else is rekor_verify_consistency.
CREATE FUNCTION rekor_checkpoints_consistent(size1 bigint, size2 bigint, root1 bytea, root2 bytea, proof bytea[])
RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN size1 = 0 AND size2 > 0
                THEN cardinality(proof) = 0 AND root1 = sha256(''::bytea)
                ELSE @extschema@.rekor_verify_consistency(size1, size2, root1, root2, proof) END
$$;

-- Proven links: an RFC 9162 consistency proof from an older to a newer checkpoint of one log.
CREATE TABLE rekor_checkpoint_consistency (
    older_id     bigint NOT NULL REFERENCES rekor_checkpoints (checkpoint_id),
    newer_id     bigint NOT NULL REFERENCES rekor_checkpoints (checkpoint_id),
    proof        bytea[] NOT NULL,
    verified_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (older_id, newer_id)
);
CREATE INDEX rekor_checkpoint_consistency_newer ON rekor_checkpoint_consistency (newer_id);
SELECT pg_catalog.pg_extension_config_dump('rekor_checkpoint_consistency', '');

-- BEFORE INSERT OR UPDATE: a link is stored only with a proof that verifies.
CREATE FUNCTION rekor_checkpoint_consistency_verify() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    a @extschema@.rekor_checkpoints;
    b @extschema@.rekor_checkpoints;
BEGIN
    IF TG_OP = 'UPDATE' AND NOT @extschema@.rekor_is_extension_owner() THEN
        RAISE EXCEPTION 'rekor_meta evidence is append-only: UPDATE on rekor_checkpoint_consistency is not allowed'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT * INTO a FROM @extschema@.rekor_checkpoints WHERE checkpoint_id = NEW.older_id;
    SELECT * INTO b FROM @extschema@.rekor_checkpoints WHERE checkpoint_id = NEW.newer_id;
    IF a.checkpoint_id IS NULL OR b.checkpoint_id IS NULL THEN
        RAISE EXCEPTION 'unknown checkpoint' USING ERRCODE = 'foreign_key_violation',
            DETAIL = format('older_id %s, newer_id %s', NEW.older_id, NEW.newer_id);
    END IF;
    IF a.log_id <> b.log_id THEN
        RAISE EXCEPTION 'checkpoints belong to different logs' USING ERRCODE = 'check_violation',
            DETAIL = format('checkpoint %s is of log %s, checkpoint %s of log %s', a.checkpoint_id,
                            encode(a.log_id, 'hex'), b.checkpoint_id, encode(b.log_id, 'hex'));
    END IF;
    IF NOT @extschema@.rekor_checkpoints_consistent(a.tree_size, b.tree_size, a.root_hash, b.root_hash, NEW.proof) THEN
        RAISE EXCEPTION 'consistency proof does not verify' USING ERRCODE = 'check_violation',
            DETAIL = format('from tree size %s (root %s) to %s (root %s)', a.tree_size, encode(a.root_hash, 'hex'),
                            b.tree_size, encode(b.root_hash, 'hex'));
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER rekor_checkpoint_consistency_verify BEFORE INSERT OR UPDATE ON rekor_checkpoint_consistency
    FOR EACH ROW EXECUTE FUNCTION rekor_checkpoint_consistency_verify();
CREATE TRIGGER rekor_checkpoint_consistency_append_only BEFORE DELETE ON rekor_checkpoint_consistency
    FOR EACH ROW EXECUTE FUNCTION rekor_forbid_change();
CREATE TRIGGER rekor_checkpoint_consistency_no_truncate BEFORE TRUNCATE ON rekor_checkpoint_consistency
    FOR EACH STATEMENT EXECUTE FUNCTION rekor_forbid_change();

-- Verifies a consistency proof between two stored checkpoints of one log and records the link.
-- True (recorded) or false (the proof does not lead to the newer root); ERROR for unknown ids,
-- different logs, or a malformed proof (22023).
CREATE FUNCTION rekor_verify_checkpoint_consistency(older_id bigint, newer_id bigint, proof bytea[])
RETURNS boolean
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    a @extschema@.rekor_checkpoints;
    b @extschema@.rekor_checkpoints;
BEGIN
    SELECT * INTO a FROM @extschema@.rekor_checkpoints c WHERE c.checkpoint_id = older_id;
    SELECT * INTO b FROM @extschema@.rekor_checkpoints c WHERE c.checkpoint_id = newer_id;
    IF a.checkpoint_id IS NULL OR b.checkpoint_id IS NULL THEN
        RAISE EXCEPTION 'unknown checkpoint' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('older_id %s exists: %s; newer_id %s exists: %s', older_id, a.checkpoint_id IS NOT NULL,
                            newer_id, b.checkpoint_id IS NOT NULL);
    END IF;
    IF a.log_id <> b.log_id THEN
        RAISE EXCEPTION 'checkpoints belong to different logs' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('checkpoint %s is of log %s, checkpoint %s of log %s', a.checkpoint_id,
                            encode(a.log_id, 'hex'), b.checkpoint_id, encode(b.log_id, 'hex'));
    END IF;
    IF NOT @extschema@.rekor_checkpoints_consistent(a.tree_size, b.tree_size, a.root_hash, b.root_hash, proof) THEN
        RETURN false;
    END IF;
    INSERT INTO @extschema@.rekor_checkpoint_consistency (older_id, newer_id, proof)
    VALUES (a.checkpoint_id, b.checkpoint_id, proof)
    ON CONFLICT DO NOTHING;
    RETURN true;
END
$$;

-- Per trusted log: the latest stored checkpoint, and whether every stored checkpoint is proven
-- consistent with it (directly or through a chain of proven links; consistency is transitive).
CREATE VIEW rekor_log_status AS
WITH RECURSIVE latest AS (
    SELECT DISTINCT ON (c.log_id) c.log_id, c.checkpoint_id, c.tree_size, c.root_hash, c.seen_at
    FROM rekor_checkpoints c
    ORDER BY c.log_id, c.tree_size DESC, c.checkpoint_id
), proven (log_id, checkpoint_id) AS (
    SELECT log_id, checkpoint_id FROM latest
    UNION
    SELECT p.log_id, k.older_id
    FROM proven p JOIN rekor_checkpoint_consistency k ON k.newer_id = p.checkpoint_id
)
SELECT l.log_id,
       l.signer_name,
       l.origin,
       t.checkpoint_id AS latest_checkpoint_id,
       t.tree_size     AS latest_tree_size,
       t.root_hash     AS latest_root_hash,
       t.seen_at       AS latest_seen_at,
       (SELECT count(*) FROM rekor_checkpoints c WHERE c.log_id = l.log_id) AS checkpoints,
       (SELECT count(*) FROM proven p WHERE p.log_id = l.log_id) AS proven_consistent,
       (SELECT count(*) FROM rekor_log_forks f WHERE f.log_id = l.log_id) AS forks,
       (SELECT count(*) FROM rekor_checkpoints c WHERE c.log_id = l.log_id)
         = (SELECT count(*) FROM proven p WHERE p.log_id = l.log_id)
         AND NOT EXISTS (SELECT 1 FROM rekor_log_forks f WHERE f.log_id = l.log_id) AS all_consistent
FROM rekor_logs l
LEFT JOIN latest t ON t.log_id = l.log_id;
