-- rekor_meta 0.2.0 -> 0.3.0: the security release.
--   * every function pins search_path = pg_catalog, pg_temp (pg_temp last: a caller's temporary
--     types and tables can no longer shadow the ones the extension's code names);
--   * fields no signature covers are never trusted: a global log index without a SET is
--     authenticated by the trusted log's shard map or stored flagged as not authenticated, and never
--     takes part in uniqueness against authenticated entries; an integrated time without a SET is
--     flagged and decides no key window; a caller's seen_at is replaced by the server's time;
--   * bindings: a log ID is derived from its key on every path, the witness keeps state per origin,
--     an intoto entry must carry the envelope's signatures, VEX order rests on the logged payload,
--     identity columns are assigned by the database.
-- Like the 0.2.0 script, this file is also the last part of the full install script (src/lib.rs),
-- so a fresh 0.3.0 and an upgraded 0.2.0 run the same statements.

-- ---------------------------------------------------------------------------------------------
-- New Rust functions (src/). In a fresh install pgrx has created them already; CREATE OR REPLACE
-- makes the same functions either way.

-- Checks 1-4 with the log's shard map, and whether the global index is authenticated.
CREATE OR REPLACE FUNCTION "rekor_entry_evidence"(
	"body" bytea,
	"entry_uuid" TEXT,
	"leaf_hash" bytea,
	"proof_log_index" bigint,
	"tree_size" bigint,
	"root_hash" bytea,
	"proof_hashes" bytea[],
	"checkpoint" TEXT,
	"signed_entry_timestamp" bytea,
	"integrated_time" bigint,
	"log_id" bytea,
	"log_index" bigint,
	"public_key" bytea,
	"signer_name" TEXT,
	"origin" TEXT,
	"origin_is_prefix" bool,
	"shard_tree_ids" bigint[],
	"shard_starts" bigint[]
) RETURNS TABLE (
	"check" INT,
	"message" TEXT,
	"detail" TEXT,
	"leaf_hash" bytea,
	"tree_id" bigint,
	"checkpoint_origin" TEXT,
	"log_index_authenticated" bool
)
IMMUTABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'rekor_entry_evidence_wrapper';

-- The tree id a Rekor v1 checkpoint origin names (NULL for a single-tree log).
CREATE OR REPLACE FUNCTION "rekor_note_tree_id"(
	"note" TEXT
) RETURNS bigint
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'rekor_note_tree_id_wrapper';

-- The C2SP verifier (name, key): rekor_verify_checkpoint(note, public_key, signer_name).
CREATE OR REPLACE FUNCTION "rekor_verify_checkpoint"(
	"note" TEXT,
	"public_key" bytea,
	"signer_name" TEXT
) RETURNS bool
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'rekor_verify_checkpoint_named_wrapper';
CREATE OR REPLACE FUNCTION "rekor_verify_checkpoint"(
	"note" TEXT,
	"public_key" TEXT,
	"signer_name" TEXT
) RETURNS bool
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'rekor_verify_checkpoint_named_text_wrapper';

-- ---------------------------------------------------------------------------------------------
-- Trusted logs: the identity is derived from the key inside the database, on every path (the
-- documented rekor_add_log, a direct INSERT by an admin, a restore of a tampered dump).
CREATE FUNCTION rekor_logs_derive() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k record;
BEGIN
    IF NEW.public_key IS NULL OR NEW.signer_name IS NULL THEN
        RAISE EXCEPTION 'a trusted log needs its public key and signer name' USING ERRCODE = 'not_null_violation';
    END IF;
    SELECT * INTO k FROM @extschema@.rekor_parse_log_key(encode(NEW.public_key, 'base64'), NEW.signer_name);
    IF NEW.log_id IS DISTINCT FROM k.log_id OR NEW.key_type IS DISTINCT FROM k.key_type
       OR NEW.public_key IS DISTINCT FROM k.public_key THEN
        RAISE EXCEPTION 'trusted log identity does not match its key' USING ERRCODE = 'check_violation',
            DETAIL = format('given log_id %s, key_type %s; the key (signer %L) has log_id %s, key_type %s%s',
                            coalesce(left(encode(NEW.log_id, 'hex'), 64), 'NULL'), coalesce(left(NEW.key_type, 64), 'NULL'),
                            left(NEW.signer_name, 200),
                            encode(k.log_id, 'hex'), k.key_type,
                            CASE WHEN NEW.public_key IS DISTINCT FROM k.public_key THEN ', and the key is not canonical DER SPKI' ELSE '' END),
            HINT = 'Add logs with rekor_add_log(public_key, signer_name): it derives the log ID from the key.';
    END IF;
    RETURN NEW;
END
$$;
-- INSERT only: an UPDATE may not touch the identity at all (rekor_logs_guard).
CREATE TRIGGER rekor_logs_derive BEFORE INSERT ON rekor_logs FOR EACH ROW EXECUTE FUNCTION rekor_logs_derive();
-- Rows stored by 0.2.0 must already hold the derived identity; an upgrade refuses a tampered one.
DO $check$
DECLARE
    bad record;
BEGIN
    SELECT l.log_id, k.log_id AS derived INTO bad
    FROM @extschema@.rekor_logs l,
         LATERAL @extschema@.rekor_parse_log_key(encode(l.public_key, 'base64'), l.signer_name) k
    WHERE k.log_id <> l.log_id OR k.key_type <> l.key_type OR k.public_key <> l.public_key
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'a stored trusted log''s identity does not match its key' USING ERRCODE = 'check_violation',
            DETAIL = format('log_id %s; its key derives %s', encode(bad.log_id, 'hex'), encode(bad.derived, 'hex'));
    END IF;
END
$check$;

-- The signer's verifier of a queued envelope (rekor_meta_core::verifier): PEM or base64 DER of an
-- SPKI or an X.509 certificate; 22023 unless one of the envelope's signatures verifies under it.
CREATE OR REPLACE FUNCTION "rekor_verifier_check"(
	"envelope" jsonb,
	"verifier" TEXT
) RETURNS TABLE (
	"der" bytea,
	"kind" TEXT,
	"key_type" TEXT,
	"spki" bytea,
	"signature_index" INT
)
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'rekor_verifier_check_wrapper';

-- ---------------------------------------------------------------------------------------------
-- A key's validity window is closed at both ends, as Sigstore's TimeRange (protobuf-specs; the
-- conformance suite's trust-root-tlog-validity-end-inclusive): valid at valid_until itself.
CREATE OR REPLACE FUNCTION rekor_logs_for_origin(origin text, at timestamptz)
RETURNS SETOF rekor_logs
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM @extschema@.rekor_logs l
    WHERE (l.origin = $1 OR (l.origin_is_prefix AND starts_with($1, l.origin)))
      AND (l.valid_from IS NULL OR l.valid_from <= $2)
      AND (l.valid_until IS NULL OR $2 <= l.valid_until)
$$;

-- ---------------------------------------------------------------------------------------------
-- The shard map of a Rekor v1 log: one key signs every shard's checkpoints, and an entry's global
-- log index is its shard's start plus its index in the shard's tree. A SET signs the global
-- index; without one, only this map (an operator's trust decision, like the key) authenticates it.
CREATE TABLE rekor_log_shards (
    log_id       bytea NOT NULL REFERENCES rekor_logs (log_id),
    tree_id      bigint NOT NULL CHECK (tree_id > 0),
    start_index  bigint NOT NULL CHECK (start_index >= 0),   -- global index of the shard's first entry
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (log_id, tree_id),
    UNIQUE (log_id, start_index)
);
SELECT pg_catalog.pg_extension_config_dump('@extschema@.rekor_log_shards', '');
COMMENT ON TABLE rekor_log_shards IS 'Rekor v1 shards of a trusted log: tree ID and the global index of its first entry (add with rekor_add_log_shard)';

-- BEFORE INSERT: a shard start must agree with every stored entry whose SET signs its global index.
CREATE FUNCTION rekor_log_shards_verify() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    e record;
BEGIN
    SELECT x.entry_id, x.log_index, x.proof_log_index INTO e FROM @extschema@.rekor_entries x
    WHERE x.log_id = NEW.log_id AND x.tree_id = NEW.tree_id AND x.signed_entry_timestamp IS NOT NULL
      AND x.log_index - x.proof_log_index <> NEW.start_index
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'the shard start contradicts a stored entry''s signed log index' USING ERRCODE = 'check_violation',
            DETAIL = format('log %s tree %s: start %s, but entry %s has SET-signed log index %s at proof index %s (start %s)',
                            encode(NEW.log_id, 'hex'), NEW.tree_id, NEW.start_index, e.entry_id, e.log_index,
                            e.proof_log_index, e.log_index - e.proof_log_index);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER rekor_log_shards_verify BEFORE INSERT ON rekor_log_shards FOR EACH ROW EXECUTE FUNCTION rekor_log_shards_verify();
CREATE TRIGGER rekor_log_shards_append_only BEFORE UPDATE OR DELETE ON rekor_log_shards
    FOR EACH ROW EXECUTE FUNCTION rekor_forbid_change();
CREATE TRIGGER rekor_log_shards_no_truncate BEFORE TRUNCATE ON rekor_log_shards
    FOR EACH STATEMENT EXECUTE FUNCTION rekor_forbid_change();

-- Adds a shard of a trusted log (idempotent; another start for a known shard is refused). Rekor
-- publishes its shards in GET /api/v1/log: inactiveShards[] (oldest first) with their tree sizes;
-- a shard starts where the sizes of the shards before it add up to.
CREATE FUNCTION rekor_add_log_shard(log_id bytea, tree_id bigint, start_index bigint) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    s @extschema@.rekor_log_shards;
BEGIN
    IF length($1) <> 32 OR NOT EXISTS (SELECT 1 FROM @extschema@.rekor_logs l WHERE l.log_id = $1) THEN
        RAISE EXCEPTION 'unknown log' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('log_id %s (%s bytes) is not in rekor_logs', left(encode($1, 'hex'), 64), length($1));
    END IF;
    SELECT * INTO s FROM @extschema@.rekor_log_shards x WHERE x.log_id = $1 AND x.tree_id = $2;
    IF FOUND THEN
        IF s.start_index <> $3 THEN
            RAISE EXCEPTION 'the shard is already mapped to another start' USING ERRCODE = 'object_not_in_prerequisite_state',
                DETAIL = format('log %s tree %s starts at %s; asked for %s', encode($1, 'hex'), $2, s.start_index, $3);
        END IF;
        RETURN;
    END IF;
    INSERT INTO @extschema@.rekor_log_shards (log_id, tree_id, start_index) VALUES ($1, $2, $3);
END
$$;

-- ---------------------------------------------------------------------------------------------
-- A Sigstore trusted root (trusted_root.json as distributed through TUF, media type
-- application/vnd.dev.sigstore.trustedroot+json;version=0.1 or 0.2) sets up the logs: every entry
-- of tlogs[] is trusted through rekor_add_log with the host of its baseUrl as signer name (Rekor
-- v1: origin "<host> - <tree id>"; Rekor v2: origin "<host>") and its validFor window. The logId the
-- root states must be the one the database derives from the key. Idempotent; a newer root adds logs
-- and moves a known key's validity window to the root's (it never changes a key). One row per tlog.
CREATE FUNCTION rekor_import_trusted_root(trusted_root jsonb)
RETURNS TABLE (log_id bytea, base_url text, key_type text, valid_from timestamptz, valid_until timestamptz, status text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
#variable_conflict use_column
DECLARE
    t jsonb;
    i int := 0;
    host text;
    raw text;
    details text;
    stated bytea;
    k record;
    old @extschema@.rekor_logs;
    v_from timestamptz;
    v_until timestamptz;
BEGIN
    IF jsonb_typeof($1) <> 'object' OR NOT coalesce($1 ->> 'mediaType', '') LIKE 'application/vnd.dev.sigstore.trustedroot%' THEN
        RAISE EXCEPTION 'not a Sigstore trusted root' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('mediaType %s; expected application/vnd.dev.sigstore.trustedroot+json;version=0.1 or 0.2',
                            coalesce(left($1 ->> 'mediaType', 200), 'missing')),
            HINT = 'Pass the trusted_root.json that Sigstore distributes through TUF.';
    END IF;
    IF jsonb_typeof($1 -> 'tlogs') IS DISTINCT FROM 'array' THEN
        RAISE EXCEPTION 'invalid trusted root: $.tlogs must be an array' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF jsonb_array_length($1 -> 'tlogs') > 1000 THEN
        RAISE EXCEPTION 'invalid trusted root: more than 1000 tlogs' USING ERRCODE = 'program_limit_exceeded';
    END IF;
    FOR t IN SELECT x FROM jsonb_array_elements($1 -> 'tlogs') x LOOP
        base_url := t ->> 'baseUrl';
        -- Rekor v1 signs "<hostname> - <tree id>" with the host as the server knows it, port included
        -- (conformance: "localhost:8000 - …"); Rekor v2 signs under the bare host name.
        host := substring(base_url FROM '^https?://([^/?#@]+)');
        IF host IS NULL THEN
            RAISE EXCEPTION 'invalid trusted root: $.tlogs[%].baseUrl is not an http(s) URL', i USING ERRCODE = 'invalid_parameter_value',
                DETAIL = format('baseUrl %s', left(coalesce(base_url, 'missing'), 200));
        END IF;
        IF coalesce(t ->> 'hashAlgorithm', 'SHA2_256') <> 'SHA2_256' THEN
            RAISE EXCEPTION 'invalid trusted root: $.tlogs[%].hashAlgorithm % is not SHA2_256', i, left(t ->> 'hashAlgorithm', 50)
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        details := t #>> '{publicKey,keyDetails}';
        IF details = 'PKIX_ED25519' THEN
            host := split_part(host, ':', 1);
        END IF;
        IF t #>> '{publicKey,validFor,start}' IS NULL THEN
            RAISE EXCEPTION 'invalid trusted root: $.tlogs[%].publicKey.validFor.start is missing', i
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('%s: a transparency log key must say from when it is valid', left(base_url, 200));
        END IF;
        raw := t #>> '{publicKey,rawBytes}';
        IF raw IS NULL THEN
            RAISE EXCEPTION 'invalid trusted root: $.tlogs[%].publicKey.rawBytes is missing', i USING ERRCODE = 'invalid_parameter_value';
        END IF;
        BEGIN
            v_from := (t #>> '{publicKey,validFor,start}')::timestamptz;
            v_until := (t #>> '{publicKey,validFor,end}')::timestamptz;
        EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow THEN
            RAISE EXCEPTION 'invalid trusted root: $.tlogs[%].publicKey.validFor is not RFC 3339', i USING ERRCODE = 'invalid_parameter_value';
        END;
        IF details IS NOT NULL AND details NOT IN ('PKIX_ECDSA_P256_SHA_256', 'PKIX_ED25519') THEN
            log_id := NULL; key_type := details; valid_from := v_from; valid_until := v_until;
            status := 'unsupported key type';
            RETURN NEXT;
            i := i + 1;
            CONTINUE;
        END IF;
        SELECT * INTO k FROM @extschema@.rekor_parse_log_key(raw, host);
        BEGIN
            stated := decode(t #>> '{logId,keyId}', 'base64');
        EXCEPTION WHEN OTHERS THEN
            stated := NULL;
        END;
        IF stated IS DISTINCT FROM k.log_id THEN
            RAISE EXCEPTION 'trusted root: $.tlogs[%].logId is not the ID of its key', i USING ERRCODE = 'check_violation',
                DETAIL = format('%s states %s; the key (signer %s) has %s', base_url, coalesce(encode(stated, 'hex'), 'none'),
                                host, encode(k.log_id, 'hex'));
        END IF;
        SELECT * INTO old FROM @extschema@.rekor_logs l WHERE l.log_id = k.log_id;
        IF NOT FOUND THEN
            PERFORM @extschema@.rekor_add_log(raw, host, NULL, v_from, v_until);
            status := 'added';
        ELSIF (old.valid_from, old.valid_until) IS NOT DISTINCT FROM (v_from, v_until) THEN
            status := 'unchanged';
        ELSE
            UPDATE @extschema@.rekor_logs l SET valid_from = v_from, valid_until = v_until WHERE l.log_id = k.log_id;
            status := format('window moved from [%s, %s)', coalesce(old.valid_from::text, '-infinity'),
                             coalesce(old.valid_until::text, 'infinity'));
        END IF;
        log_id := k.log_id; key_type := k.key_type; valid_from := v_from; valid_until := v_until;
        RETURN NEXT;
        i := i + 1;
    END LOOP;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Identity columns are assigned by the database. A writer's OVERRIDING SYSTEM VALUE (or COPY with
-- the column) may not take an id the sequence has not drawn yet: the next ingest would collide with
-- it. SECURITY DEFINER: the sequence is not readable by writers.
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

-- ---------------------------------------------------------------------------------------------
-- Checkpoints: the key is checked at the server's time. A caller's seen_at is not trusted; only
-- the extension owner's paths (a restore, rekor_entry_checkpoint below) keep the time they give.
CREATE OR REPLACE FUNCTION rekor_checkpoints_verify() RETURNS trigger
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

-- Stores (or finds) the checkpoint an entry's proof ends in. The log key must be valid when the log
-- integrated the entry, a time only a SET signs: so the SET is verified here again (this function
-- runs as the extension owner, whose inserts keep their seen_at, and anyone may call it), and
-- without a verifying SET the time is now().
DROP FUNCTION rekor_entry_checkpoint(text, bytea, bigint, bytea, timestamptz, text);
CREATE FUNCTION rekor_entry_checkpoint(note text, v_log bytea, tree_size bigint, root_hash bytea, v_origin text,
                                       body bytea, signed_entry_timestamp bytea, integrated_time bigint, log_index bigint)
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

-- ---------------------------------------------------------------------------------------------
-- Entries: which of the log's claims a signature (or the shard map) vouches for.
ALTER TABLE rekor_entries
    ADD COLUMN log_index_authenticated boolean NOT NULL DEFAULT false,       -- SET, single tree, or shard map
    ADD COLUMN integrated_time_authenticated boolean NOT NULL DEFAULT false; -- a SET signs it
-- Rows stored by 0.2.0: a SET signed both; a single-tree log (no tree id) has index = proof index.
ALTER TABLE rekor_entries DISABLE TRIGGER rekor_entries_verify;
UPDATE rekor_entries SET log_index_authenticated = (signed_entry_timestamp IS NOT NULL OR tree_id IS NULL),
                         integrated_time_authenticated = (signed_entry_timestamp IS NOT NULL AND integrated_time IS NOT NULL);
ALTER TABLE rekor_entries ENABLE TRIGGER rekor_entries_verify;
-- Uniqueness holds among authenticated claims only: an unauthenticated index never blocks the
-- genuine entry, and a leaf is stored at most once per log with and once without an authenticated index.
ALTER TABLE rekor_entries DROP CONSTRAINT rekor_entries_log_id_log_index_key;
ALTER TABLE rekor_entries DROP CONSTRAINT rekor_entries_leaf_hash_log_id_key;
CREATE UNIQUE INDEX rekor_entries_log_index ON rekor_entries (log_id, log_index) WHERE log_index_authenticated;
ALTER TABLE rekor_entries ADD CONSTRAINT rekor_entries_leaf_key UNIQUE (leaf_hash, log_id, log_index_authenticated);

CREATE OR REPLACE FUNCTION rekor_entries_verify() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    l @extschema@.rekor_logs;
    ev record;
    bi record;
    at timestamptz;
    cid bigint;
    itime bigint;
    shard_ids bigint[];
    shard_starts bigint[];
BEGIN
    IF TG_OP = 'UPDATE' AND NOT @extschema@.rekor_is_extension_owner() THEN
        RAISE EXCEPTION 'rekor_meta evidence is append-only: UPDATE on rekor_entries is not allowed'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'INSERT' AND NOT @extschema@.rekor_identity_drawn('rekor_entries', NEW.entry_id)
       AND NOT @extschema@.rekor_is_extension_owner() THEN
        RAISE EXCEPTION 'entry_id is assigned by the database' USING ERRCODE = 'generated_always',
            DETAIL = format('entry_id %s has not been drawn from its sequence', NEW.entry_id),
            HINT = 'Insert without entry_id (no OVERRIDING SYSTEM VALUE).';
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
    -- The SET signs integer seconds; a stored time is exactly the signed one, never rounded to it.
    itime := extract(epoch FROM NEW.integrated_time)::bigint;
    IF NEW.integrated_time IS NOT NULL AND NEW.integrated_time <> to_timestamp(itime) THEN
        PERFORM @extschema@.rekor_reject_entry('check 4 (signed entry timestamp): integrated_time must be whole seconds',
            format('integrated_time %s is not the integer seconds a SET signs', NEW.integrated_time));
    END IF;
    -- The key must be valid when the log says it integrated the entry. Only a SET signs the
    -- integrated time (check 4); without one nothing vouches for it, so: now.
    at := CASE WHEN NEW.signed_entry_timestamp IS NOT NULL THEN coalesce(NEW.integrated_time, now()) ELSE now() END;
    IF (l.valid_from IS NOT NULL AND at < l.valid_from) OR (l.valid_until IS NOT NULL AND at > l.valid_until) THEN
        PERFORM @extschema@.rekor_reject_entry('log key is not valid at the entry''s time',
            format('log %s is valid from %s until %s; entry time %s%s', encode(l.log_id, 'hex'),
                   coalesce(l.valid_from::text, '-infinity'), coalesce(l.valid_until::text, 'infinity'), at,
                   CASE WHEN NEW.signed_entry_timestamp IS NULL THEN ' (now: no SET signs an integrated time)' ELSE '' END));
    END IF;

    -- Checks 1-4 in one pass (rekor_meta_core::evidence), in order, the first failure reported:
    -- 1. leaf hash from the body, and the UUID ends in it; 2. the inclusion proof leads to the root;
    -- 3. the checkpoint verifies under the log key and names the same size, root and the log's origin;
    -- 4. a signed entry timestamp, where present, verifies over the canonical JSON Rekor signs, and
    --    the global index is authenticated (SET, single tree, or the shard map) or flagged.
    SELECT array_agg(s.tree_id), array_agg(s.start_index) INTO shard_ids, shard_starts
    FROM @extschema@.rekor_log_shards s WHERE s.log_id = l.log_id;
    SELECT * INTO ev FROM @extschema@.rekor_entry_evidence(
        NEW.body, NEW.entry_uuid, NEW.leaf_hash, NEW.proof_log_index, NEW.tree_size, NEW.root_hash, NEW.proof_hashes,
        NEW.checkpoint, NEW.signed_entry_timestamp, itime, NEW.log_id,
        NEW.log_index, l.public_key, l.signer_name, l.origin, l.origin_is_prefix, shard_ids, shard_starts);
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
    NEW.log_index_authenticated := ev.log_index_authenticated;
    NEW.integrated_time_authenticated := NEW.signed_entry_timestamp IS NOT NULL AND NEW.integrated_time IS NOT NULL;
    -- The checkpoint is stored through the checkpoints capability, so fork detection applies. Most
    -- entries of a batch share a stored checkpoint: find it here, without the function call.
    SELECT c.checkpoint_id INTO cid FROM @extschema@.rekor_checkpoints c
    WHERE c.log_id = l.log_id AND c.origin = ev.checkpoint_origin AND c.tree_size = NEW.tree_size
      AND c.root_hash = NEW.root_hash;
    IF NOT FOUND THEN
        cid := @extschema@.rekor_entry_checkpoint(NEW.checkpoint, l.log_id, NEW.tree_size, NEW.root_hash, ev.checkpoint_origin,
                                                 NEW.body, NEW.signed_entry_timestamp, itime, NEW.log_index);
    END IF;
    NEW.checkpoint_id := cid;

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

-- Ingests parsed entry rows. Whether a row's global index will be authenticated is known from the
-- row (a SET, a single-tree log, a mapped shard), so lookups compare like with like: the same leaf
-- with the same kind of index returns the stored entry_id; an authenticated index that another leaf
-- holds is refused; an unauthenticated claim never blocks, and is never blocked by, authenticated data.
CREATE OR REPLACE FUNCTION rekor_ingest_rows(rows_json jsonb, from_bundle boolean) RETURNS SETOF bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
    existing record;
    id bigint;
    leaf bytea;
    v_tree bigint;
    v_auth boolean;
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
                                               body, tree_size, root_hash, proof_hashes, checkpoint, signed_entry_timestamp)
        VALUES (r.log_id, r.entry_uuid, r.log_index, r.proof_log_index, r.tree_id,
                CASE WHEN r.integrated_time IS NULL THEN NULL ELSE to_timestamp(r.integrated_time) END,
                r.body, r.tree_size, r.root_hash, r.proof_hashes, r.checkpoint, r.signed_entry_timestamp)
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

-- Re-verification applies the insert's rules from scratch: checks 1-4 with the shard map, and the
-- key valid at the entry's signed time (now, without a SET). VOLATILE so that it sees rows its own
-- statement wrote: SELECT rekor_verify_inclusion(id) FROM rekor_ingest_bundle(b) id.
CREATE OR REPLACE FUNCTION rekor_verify_inclusion(entry_id bigint) RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
    at timestamptz;
BEGIN
    SELECT v."check", v.message, v.detail, v.log_index_authenticated, e.log_index_authenticated AS stored_auth,
           e.signed_entry_timestamp IS NOT NULL AS has_set, e.integrated_time, l.valid_from, l.valid_until, l.log_id
      INTO c
    FROM @extschema@.rekor_entries e
    JOIN @extschema@.rekor_logs l ON l.log_id = e.log_id,
    LATERAL (SELECT array_agg(s.tree_id) AS ids, array_agg(s.start_index) AS starts
             FROM @extschema@.rekor_log_shards s WHERE s.log_id = e.log_id) m,
    LATERAL @extschema@.rekor_entry_evidence(
        e.body, e.entry_uuid, e.leaf_hash, e.proof_log_index, e.tree_size, e.root_hash, e.proof_hashes, e.checkpoint,
        e.signed_entry_timestamp, extract(epoch FROM e.integrated_time)::bigint, e.log_id, e.log_index,
        l.public_key, l.signer_name, l.origin, l.origin_is_prefix, m.ids, m.starts) AS v
    WHERE e.entry_id = $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown entry' USING ERRCODE = 'invalid_parameter_value', DETAIL = format('entry_id %s', $1),
            HINT = 'An entry ingested in the same statement is visible to rekor_verify_inclusion; check the entry_id.';
    END IF;
    IF c."check" IS NOT NULL THEN
        RAISE EXCEPTION 'entry % does not verify: %', $1, c.message USING ERRCODE = 'check_violation',
            DETAIL = c.detail, HINT = 'rekor_verify_inclusion_report(entry_id) shows every check.';
    END IF;
    at := CASE WHEN c.has_set THEN coalesce(c.integrated_time, now()) ELSE now() END;
    IF (c.valid_from IS NOT NULL AND at < c.valid_from) OR (c.valid_until IS NOT NULL AND at > c.valid_until) THEN
        RAISE EXCEPTION 'entry % does not verify: log key is not valid at the entry''s time', $1 USING ERRCODE = 'check_violation',
            DETAIL = format('log %s is valid from %s until %s; entry time %s%s', encode(c.log_id, 'hex'),
                            coalesce(c.valid_from::text, '-infinity'), coalesce(c.valid_until::text, 'infinity'), at,
                            CASE WHEN c.has_set THEN '' ELSE ' (now: no SET signs an integrated time)' END);
    END IF;
    IF c.stored_auth AND NOT c.log_index_authenticated THEN
        RAISE EXCEPTION 'entry % does not verify: its log index is marked authenticated, but nothing authenticates it', $1
            USING ERRCODE = 'check_violation',
                  DETAIL = 'no SET, no single tree and no shard of the log map the stored global index';
    END IF;
    RETURN true;
END
$$;

-- One row per check, re-run from scratch against the stored log key and shard map: for humans.
-- passed is NULL where a claim is stored but not authenticated (neither verified nor refuted).
CREATE OR REPLACE FUNCTION rekor_verify_inclusion_report(entry_id bigint)
RETURNS TABLE (step int, "check" text, passed boolean, reason text)
LANGUAGE plpgsql VOLATILE
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
BEGIN
    SELECT * INTO e FROM @extschema@.rekor_entries x WHERE x.entry_id = $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown entry' USING ERRCODE = 'invalid_parameter_value', DETAIL = format('entry_id %s', $1);
    END IF;
    SELECT * INTO l FROM @extschema@.rekor_logs g WHERE g.log_id = e.log_id;
    SELECT array_agg(s.tree_id), array_agg(s.start_index) INTO shard_ids, shard_starts
    FROM @extschema@.rekor_log_shards s WHERE s.log_id = e.log_id;
    leaf := @extschema@.rekor_leaf_hash(e.body);

    step := 0; "check" := 'log key validity';
    at := CASE WHEN e.signed_entry_timestamp IS NOT NULL THEN coalesce(e.integrated_time, now()) ELSE now() END;
    passed := NOT ((l.valid_from IS NOT NULL AND at < l.valid_from) OR (l.valid_until IS NOT NULL AND at > l.valid_until));
    reason := format('log %s valid from %s until %s; checked at %s (%s)', encode(l.log_id, 'hex'),
                     coalesce(l.valid_from::text, '-infinity'), coalesce(l.valid_until::text, 'infinity'), at,
                     CASE WHEN e.signed_entry_timestamp IS NOT NULL THEN 'the SET-signed integrated time'
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
END
$$;

-- ---------------------------------------------------------------------------------------------
-- The witness keeps state per origin (C2SP tlog-witness keys witnesses by origin): the shards of
-- one Rekor v1 key each have their own tree, size and root.
ALTER TABLE rekor_witness_state ADD COLUMN origin text;
UPDATE rekor_witness_state s SET origin = c.origin FROM rekor_checkpoints c WHERE c.checkpoint_id = s.checkpoint_id;
DELETE FROM rekor_witness_state WHERE origin IS NULL;   -- rows that never witnessed a checkpoint hold no state
ALTER TABLE rekor_witness_state ALTER COLUMN origin SET NOT NULL;
ALTER TABLE rekor_witness_state DROP CONSTRAINT rekor_witness_state_pkey;
ALTER TABLE rekor_witness_state ADD PRIMARY KEY (log_id, origin);
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

CREATE OR REPLACE FUNCTION rekor_witness_checkpoint(note text, old_size bigint, consistency_proof bytea[],
                                                    OUT status text, OUT tree_size bigint, OUT checkpoint_id bigint,
                                                    OUT detail text)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
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

-- ---------------------------------------------------------------------------------------------
-- VEX: a statement's time is what the logged payload carries. A wrapper document that is not the
-- payload vouches for nothing: its timestamp neither orders the statement nor makes it newer.

-- The timestamp of the VEX document the envelope's payload carries (the payload itself, or an
-- in-toto statement's predicate); NULL when there is none or it does not parse.
CREATE FUNCTION rekor_vex_payload_time(envelope jsonb) RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE STRICT
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    b64 text := translate(envelope ->> 'payload', '-_', '+/');
    payload jsonb;
    doc jsonb;
BEGIN
    b64 := b64 || repeat('=', (4 - length(b64) % 4) % 4);
    BEGIN
        payload := convert_from(decode(b64, 'base64'), 'UTF8')::jsonb;
        doc := CASE WHEN jsonb_typeof(payload -> 'predicate') = 'object' THEN payload -> 'predicate' ELSE payload END;
        RETURN (doc ->> 'timestamp')::timestamptz;
    EXCEPTION WHEN OTHERS THEN
        RETURN NULL;
    END;
END
$$;

-- The time a link may be ordered by: the parsed statement time when the whole document is the
-- logged payload; the statement's own timestamp, else the payload document's, when the statement
-- is carried by itself; NULL when nothing logged carries it.
CREATE FUNCTION rekor_vex_carried_time(envelope jsonb, statement jsonb, parsed_time timestamptz, document_attested boolean)
RETURNS timestamptz
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    own timestamptz;
BEGIN
    IF envelope IS NULL THEN
        RETURN NULL;
    END IF;
    IF document_attested THEN
        RETURN parsed_time;
    END IF;
    IF NOT coalesce(@extschema@.rekor_vex_attested(envelope, statement), false) THEN
        RETURN NULL;
    END IF;
    BEGIN
        own := (statement ->> 'timestamp')::timestamptz;
    EXCEPTION WHEN OTHERS THEN
        own := NULL;
    END;
    RETURN coalesce(own, @extschema@.rekor_vex_payload_time(envelope));
END
$$;

CREATE OR REPLACE FUNCTION rekor_vex_store(document jsonb, envelope_digest bytea, queue_id bigint, entry_id bigint, envelope jsonb)
RETURNS SETOF rekor_vex_links
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    -- SHA-256 of the document's jsonb text: PostgreSQL's normalized form (duplicate keys removed,
    -- keys ordered by length then bytes, ", " and ": " separators), so equal documents hash equally.
    doc_digest bytea := sha256(convert_to($1::text, 'UTF8'));
    doc_attested boolean := CASE WHEN $5 IS NULL THEN NULL ELSE @extschema@.rekor_vex_attested($5, $1) END;
BEGIN
    INSERT INTO @extschema@.rekor_vex_links AS l
        (vulnerability, vulnerability_aliases, product, subcomponents, status, justification, impact_statement,
         action_statement, format, statement_id, statement_index, statement_time, statement, document_digest,
         envelope_digest, queue_id, entry_id, attested, linked_at)
    SELECT p.vulnerability, p.vulnerability_aliases, p.product, p.subcomponents, p.status, p.justification,
           p.impact_statement, p.action_statement, p.format, p.statement_id, p.statement_index,
           @extschema@.rekor_vex_carried_time($5, p.statement, p.statement_time, coalesce(doc_attested, false)),
           p.statement, doc_digest, $2, $3, $4,
           -- a document is carried as a whole, or statement by statement (OpenVEX statements[])
           CASE WHEN $5 IS NULL THEN NULL
                ELSE doc_attested OR coalesce(@extschema@.rekor_vex_attested($5, p.statement), false) END,
           CASE WHEN $4 IS NULL THEN NULL ELSE now() END
    FROM @extschema@.rekor_parse_vex($1) AS p
    WHERE NOT EXISTS (SELECT 1 FROM @extschema@.rekor_vex_links x
                      WHERE x.envelope_digest = $2 AND x.document_digest = doc_digest
                        AND x.statement_index = p.statement_index AND x.vulnerability = p.vulnerability
                        AND x.product = p.product)
    ON CONFLICT ON CONSTRAINT rekor_vex_links_statement_key DO NOTHING;
    IF $4 IS NOT NULL THEN
        -- Links stored earlier while the envelope was not yet logged.
        UPDATE @extschema@.rekor_vex_links l SET entry_id = $4, queue_id = coalesce($3, l.queue_id), linked_at = now()
        WHERE l.envelope_digest = $2 AND l.document_digest = doc_digest AND l.entry_id IS NULL;
    END IF;
    RETURN QUERY SELECT * FROM @extschema@.rekor_vex_links l
                 WHERE l.envelope_digest = $2 AND l.document_digest = doc_digest
                 ORDER BY l.link_id;
END
$$;
ALTER FUNCTION rekor_vex_store(jsonb, bytea, bigint, bigint, jsonb) SET plan_cache_mode = force_generic_plan;

-- Links stored by 0.2.0: the time is recomputed from the queued envelope they name (a link whose
-- envelope is not at hand, or whose statement the payload does not carry, keeps no time).
ALTER TABLE rekor_vex_links DISABLE TRIGGER rekor_vex_links_verify;
UPDATE rekor_vex_links l
SET statement_time = CASE WHEN q.envelope IS NULL OR l.attested IS NOT TRUE THEN NULL
                          WHEN coalesce(@extschema@.rekor_vex_attested(q.envelope, l.statement), false)
                               THEN @extschema@.rekor_vex_carried_time(q.envelope, l.statement, l.statement_time, false)
                          ELSE l.statement_time END
FROM (SELECT x.link_id, y.envelope FROM rekor_vex_links x LEFT JOIN rekor_submission_queue y ON y.queue_id = x.queue_id) q
WHERE q.link_id = l.link_id;
ALTER TABLE rekor_vex_links ENABLE TRIGGER rekor_vex_links_verify;

-- The auditor's query: integrated_time is shown only where a SET signs it.
CREATE OR REPLACE FUNCTION rekor_vex_evidence(vulnerability text, product text)
RETURNS TABLE (link_id bigint, status text, justification text, statement_id text, document_digest bytea,
               queue_id bigint, entry_id bigint, proof text, integrated_time timestamptz, log_id bytea,
               statement_time timestamptz, impact_statement text, action_statement text, subcomponents text[],
               envelope_digest bytea, attested boolean, proof_detail text, linked_at timestamptz)
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    l record;
    q record;
    e record;
    eid bigint;
    ok boolean;
BEGIN
    FOR l IN
        SELECT x.* FROM @extschema@.rekor_vex_links x
        WHERE x.product = $2 AND (x.vulnerability = $1 OR $1 = ANY (x.vulnerability_aliases))
        -- Newest first by the time the logged payload carries; links whose time nothing logged
        -- carries come after every timed one, newest link first.
        ORDER BY x.statement_time DESC NULLS LAST, x.created_at DESC, x.link_id DESC
    LOOP
        link_id := l.link_id; status := l.status; justification := l.justification; statement_id := l.statement_id;
        document_digest := l.document_digest; queue_id := l.queue_id; statement_time := l.statement_time;
        impact_statement := l.impact_statement; action_statement := l.action_statement;
        subcomponents := l.subcomponents; envelope_digest := l.envelope_digest; attested := l.attested;
        linked_at := l.linked_at;
        integrated_time := NULL; log_id := NULL; proof_detail := NULL;
        eid := l.entry_id;
        IF eid IS NULL THEN
            -- Not linked yet; an item of this envelope may have been submitted meanwhile.
            SELECT x.queue_id, x.entry_id INTO q FROM @extschema@.rekor_submission_queue x
            WHERE x.queue_id IN (SELECT k.queue_id FROM @extschema@.rekor_submission_keys k
                                 WHERE k.envelope_sha256 = l.envelope_digest)
              AND x.envelope_sha256 = l.envelope_digest AND x.state = 'submitted' ORDER BY x.queue_id LIMIT 1;
            IF FOUND THEN
                queue_id := q.queue_id;
                eid := q.entry_id;
            END IF;
        END IF;
        entry_id := eid;
        IF eid IS NULL THEN
            proof := 'pending';
            SELECT x.state, x.attempts, x.max_attempts, x.last_error INTO q
            FROM @extschema@.rekor_submission_queue x WHERE x.queue_id = l.queue_id;
            proof_detail := format('the attestation is not logged yet: queue item %s is %s after %s of %s attempts%s',
                                   l.queue_id, q.state, q.attempts, q.max_attempts,
                                   coalesce(' (last error: ' || q.last_error || ')', ''));
            RETURN NEXT;
            CONTINUE;
        END IF;
        SELECT x.integrated_time, x.integrated_time_authenticated, x.log_id, x.tree_size INTO e
        FROM @extschema@.rekor_entries x WHERE x.entry_id = eid;
        integrated_time := CASE WHEN e.integrated_time_authenticated THEN e.integrated_time END;
        log_id := e.log_id;
        BEGIN
            ok := @extschema@.rekor_verify_inclusion(eid);
        EXCEPTION WHEN OTHERS THEN
            ok := false;
            IF SQLSTATE <> '23514' THEN  -- 23514: a failed check, which the report below names
                proof_detail := format('entry %s cannot be verified: %s', eid, SQLERRM);
            END IF;
        END;
        IF ok THEN
            proof := 'proven';
            proof_detail := format('entry %s verifies: inclusion proof to a signed checkpoint of tree size %s', eid, e.tree_size);
        ELSE
            proof := 'unproven';
            IF proof_detail IS NULL THEN
                BEGIN
                    SELECT format('entry %s does not verify: check %s (%s) failed: %s', eid, r.step, r."check", r.reason)
                    INTO proof_detail
                    FROM @extschema@.rekor_verify_inclusion_report(eid) r WHERE NOT r.passed ORDER BY r.step LIMIT 1;
                EXCEPTION WHEN OTHERS THEN
                    proof_detail := format('entry %s cannot be verified: %s', eid, SQLERRM);
                END;
                proof_detail := coalesce(proof_detail, format('entry %s does not verify', eid));
            END IF;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;

-- ---------------------------------------------------------------------------------------------
-- Privileges of the new objects (see sql/090_roles.sql).
REVOKE ALL ON rekor_log_shards FROM PUBLIC;
GRANT SELECT ON rekor_log_shards TO rekor_reader;
GRANT INSERT ON rekor_log_shards TO rekor_admin;
REVOKE EXECUTE ON FUNCTION rekor_add_log_shard(bytea, bigint, bigint), rekor_import_trusted_root(jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rekor_import_trusted_root(jsonb) TO rekor_admin;
-- rekor_entry_checkpoint stores checkpoints as the owner: only for roles that may insert entries.
REVOKE EXECUTE ON FUNCTION rekor_entry_checkpoint(text, bytea, bigint, bytea, text, bytea, bytea, bigint, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rekor_entry_checkpoint(text, bytea, bigint, bytea, text, bytea, bytea, bigint, bigint) TO rekor_writer;
GRANT EXECUTE ON FUNCTION rekor_add_log_shard(bytea, bigint, bigint) TO rekor_admin;
ALTER FUNCTION rekor_ingest_rows(jsonb, boolean) SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION rekor_witness_checkpoint(text, bigint, bytea[]) SET plan_cache_mode = force_generic_plan;

-- ---------------------------------------------------------------------------------------------
-- The submitter (rekor-meta-submitter, submitter/): what the schema carries for it.
-- 1. Queue items carry the signer's verifier, which Rekor wants with every dsse / intoto request:
--    the DER of a SubjectPublicKeyInfo or an X.509 certificate, its kind and key type.
ALTER TABLE @extschema@.rekor_submission_queue
    ADD COLUMN verifier          bytea,
    ADD COLUMN verifier_kind     text CHECK (verifier_kind IN ('public_key', 'x509_certificate')),
    ADD COLUMN verifier_key_type text CHECK (verifier_key_type IN ('ecdsa-p256', 'ecdsa-p384', 'ed25519')),
    ADD CONSTRAINT rekor_submission_queue_verifier_complete
        CHECK ((verifier IS NULL) = (verifier_kind IS NULL) AND (verifier IS NULL) = (verifier_key_type IS NULL)),
    ADD CONSTRAINT rekor_submission_queue_verifier_size CHECK (length(verifier) <= 16384);

-- rekor_enqueue with the signer's verifier (4th argument, optional so that every 0.2.0 call keeps
-- its meaning). An envelope already queued without a verifier gets the one given now.
DROP FUNCTION @extschema@.rekor_enqueue(jsonb, bytea, integer);
CREATE FUNCTION @extschema@.rekor_enqueue(envelope jsonb, log_id bytea DEFAULT NULL, max_attempts integer DEFAULT 10,
                                          verifier text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
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

-- 2. Where a log is written and read -----------------------------------------------------------

ALTER TABLE @extschema@.rekor_logs
    ADD COLUMN base_url    text CHECK (length(base_url) <= 2048 AND base_url ~ '^https?://[^/?#[:space:]]+(/[^?#[:space:]]*)?$'),
    ADD COLUMN api_version smallint CHECK (api_version IN (1, 2)),
    ADD CONSTRAINT rekor_logs_endpoint_complete CHECK ((base_url IS NULL) = (api_version IS NULL));
-- rekor_logs_guard compares the identity columns only: the endpoint may change (a log moves).

CREATE FUNCTION @extschema@.rekor_set_log_endpoint(log_id bytea, base_url text, api_version integer DEFAULT 1)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF api_version IS NULL OR api_version NOT IN (1, 2) THEN
        RAISE EXCEPTION 'api_version must be 1 or 2' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('api_version = %s', api_version);
    END IF;
    IF base_url IS NULL OR length(base_url) > 2048 OR base_url !~ '^https?://[^/?#[:space:]]+(/[^?#[:space:]]*)?$' THEN
        RAISE EXCEPTION 'base_url must be an http(s) URL without query or fragment' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('base_url = %s', left(base_url, 200));
    END IF;
    UPDATE @extschema@.rekor_logs l SET base_url = rtrim($2, '/'), api_version = $3 WHERE l.log_id = $1;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown log' USING ERRCODE = 'invalid_parameter_value',
            DETAIL = format('log_id %s is not in rekor_logs', left(encode($1, 'hex'), 200));
    END IF;
END
$$;

-- The logs a submitter may write to now: an endpoint set and the key valid; newest first (a frozen
-- v1 shard has valid_until set and drops out, so the active shard comes first).
CREATE VIEW @extschema@.rekor_log_endpoints AS
SELECT l.log_id, l.signer_name, l.origin, l.key_type, l.base_url, l.api_version, l.valid_from, l.valid_until,
       l.created_at
FROM @extschema@.rekor_logs l
WHERE l.base_url IS NOT NULL
  AND (l.valid_from IS NULL OR l.valid_from <= now())
  AND (l.valid_until IS NULL OR l.valid_until > now())
ORDER BY l.created_at DESC, l.log_id;

-- 3. NOTIFY on enqueue -------------------------------------------------------------------------

-- One notification per enqueuing statement (delivered at commit; PostgreSQL folds identical ones
-- of a transaction), so an idle submitter LISTENing on rekor_meta_queue wakes at once.
CREATE FUNCTION @extschema@.rekor_queue_notify() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM pg_notify('rekor_meta_queue', 'enqueued');
    RETURN NULL;
END
$$;
CREATE TRIGGER rekor_queue_notify AFTER INSERT ON @extschema@.rekor_submission_queue
    FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.rekor_queue_notify();

-- Privileges of the submitter's objects.
REVOKE EXECUTE ON FUNCTION
    @extschema@.rekor_enqueue(jsonb, bytea, integer, text),
    @extschema@.rekor_set_log_endpoint(bytea, text, integer),
    @extschema@.rekor_queue_notify()
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.rekor_enqueue(jsonb, bytea, integer, text) TO rekor_worker;
GRANT EXECUTE ON FUNCTION @extschema@.rekor_set_log_endpoint(bytea, text, integer) TO rekor_admin;
GRANT UPDATE (base_url, api_version) ON @extschema@.rekor_logs TO rekor_admin;
GRANT SELECT ON @extschema@.rekor_log_endpoints TO rekor_reader;
ALTER FUNCTION @extschema@.rekor_enqueue(jsonb, bytea, integer, text) SET plan_cache_mode = force_generic_plan;

-- ---------------------------------------------------------------------------------------------
-- Last: every function of the extension, whatever created it (these files, earlier versions'
-- scripts, pgrx's generated C functions), runs with search_path = pg_catalog, pg_temp. With
-- pg_temp listed last, PostgreSQL searches it after pg_catalog for relations and types (and never
-- for functions and operators), so a caller's temporary objects cannot stand in for the
-- extension's. tests/client/tests/security.rs fails on any function without it.
DO $pin$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN
        SELECT d.objid::regprocedure FROM pg_catalog.pg_depend d
        JOIN pg_catalog.pg_extension x ON x.oid = d.refobjid
        WHERE x.extname = 'rekor_meta' AND d.classid = 'pg_catalog.pg_proc'::regclass AND d.deptype = 'e'
        ORDER BY d.objid
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s SET search_path = pg_catalog, pg_temp', f);
    END LOOP;
END
$pin$;
