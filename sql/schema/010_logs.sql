-- Trusted transparency logs: rekor_logs, one row per log key; the submitter's endpoint of a log;
-- the shard map of a Rekor v1 log (rekor_log_shards); a Sigstore trusted root as the way to set
-- them up.

-- rekor_logs: the transparency logs the operator trusts, one row per log key.
CREATE TABLE rekor_logs (
    -- Rekor's logID: SHA-256 of the DER SPKI (ECDSA, Rekor v1), or the signed-note key hash
    -- SHA-256(name || 0x0A || 0x01 || key) (Ed25519, Rekor v2 and other tlogs).
    log_id           bytea PRIMARY KEY CHECK (length(log_id) = 32),
    -- The name on the log's checkpoint signature lines.
    signer_name      text NOT NULL CHECK (signer_name <> ''),
    -- The checkpoint origin, or with origin_is_prefix a prefix: one Rekor v1 key signs every shard's
    -- origin "<host> - <tree id>".
    origin           text NOT NULL CHECK (origin <> ''),
    origin_is_prefix boolean NOT NULL DEFAULT false,
    key_type         text NOT NULL CHECK (key_type IN ('ecdsa-p256-sha256', 'ed25519')),
    public_key       bytea NOT NULL,            -- DER SubjectPublicKeyInfo
    valid_from       timestamptz,               -- NULL: no lower bound
    valid_until      timestamptz,               -- NULL: still valid (set it to retire the key)
    created_at       timestamptz NOT NULL DEFAULT now(),
    -- Where the submitter (submitter/) writes and reads the log: NULL for a log only read from
    -- (set with rekor_set_log_endpoint).
    base_url         text CHECK (length(base_url) <= 2048 AND base_url ~ '^https?://[^/?#[:space:]]+(/[^?#[:space:]]*)?$'),
    api_version      smallint CHECK (api_version IN (1, 2)),
    CHECK (valid_from IS NULL OR valid_until IS NULL OR valid_from < valid_until),
    CONSTRAINT rekor_logs_endpoint_complete CHECK ((base_url IS NULL) = (api_version IS NULL))
);
CREATE INDEX rekor_logs_origin ON rekor_logs (origin);
SELECT pg_catalog.pg_extension_config_dump('rekor_logs', '');

-- A trusted log's identity is its key: log_id, signer, origin and key never change once stored
-- (evidence was verified against them). Only the validity window may move, to retire or rotate a
-- key, and the endpoint (base_url, api_version), when a log moves.
CREATE FUNCTION rekor_logs_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF (NEW.log_id, NEW.signer_name, NEW.origin, NEW.origin_is_prefix, NEW.key_type, NEW.public_key, NEW.created_at)
       IS DISTINCT FROM (OLD.log_id, OLD.signer_name, OLD.origin, OLD.origin_is_prefix, OLD.key_type, OLD.public_key, OLD.created_at) THEN
        RAISE EXCEPTION 'a trusted log''s key and identity cannot change; only valid_from and valid_until can'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('log %s', encode(OLD.log_id, 'hex')),
                  HINT = 'Retire the key (valid_until) and add the new key with rekor_add_log.';
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER rekor_logs_guard BEFORE UPDATE ON rekor_logs FOR EACH ROW EXECUTE FUNCTION rekor_logs_guard();

-- The identity is derived from the key inside the database, on every path (the documented
-- rekor_add_log, a direct INSERT by an admin, a restore of a tampered dump).
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

COMMENT ON TABLE rekor_logs IS 'Trusted transparency logs (add with rekor_add_log)';

-- Trusts a log: the documented way to add a row to rekor_logs. `public_key` is PEM or base64 DER
-- SPKI; `origin` defaults to "<signer_name> - " as a prefix for ECDSA (Rekor v1 shards) and to the
-- signer name for Ed25519 (Rekor v2); an origin ending in '*' is a prefix. Adding the same key
-- again returns the same log_id and changes nothing.
CREATE FUNCTION rekor_add_log(public_key text, signer_name text, origin text DEFAULT NULL,
                              valid_from timestamptz DEFAULT NULL, valid_until timestamptz DEFAULT NULL)
RETURNS bytea
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    k record;
    v_origin text;
    v_prefix boolean;
    existing @extschema@.rekor_logs;
BEGIN
    SELECT * INTO k FROM @extschema@.rekor_parse_log_key(public_key, signer_name);
    IF origin IS NULL THEN
        IF k.key_type = 'ecdsa-p256-sha256' THEN
            v_origin := signer_name || ' - ';
            v_prefix := true;
        ELSE
            v_origin := signer_name;
            v_prefix := false;
        END IF;
    ELSIF right(origin, 1) = '*' THEN
        v_origin := left(origin, -1);
        v_prefix := true;
    ELSE
        v_origin := origin;
        v_prefix := false;
    END IF;
    IF v_origin = '' THEN
        RAISE EXCEPTION 'origin must not be empty' USING ERRCODE = 'invalid_parameter_value';
    END IF;

    INSERT INTO @extschema@.rekor_logs (log_id, signer_name, origin, origin_is_prefix, key_type, public_key,
                                        valid_from, valid_until)
    VALUES (k.log_id, signer_name, v_origin, v_prefix, k.key_type, k.public_key, valid_from, valid_until)
    ON CONFLICT (log_id) DO NOTHING;

    SELECT * INTO existing FROM @extschema@.rekor_logs l WHERE l.log_id = k.log_id;
    IF existing.valid_from IS DISTINCT FROM valid_from OR existing.valid_until IS DISTINCT FROM valid_until THEN
        RAISE EXCEPTION 'log is already trusted with another validity window'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('log %s is valid from %s until %s; asked for %s until %s', encode(k.log_id, 'hex'),
                                  coalesce(existing.valid_from::text, '-infinity'), coalesce(existing.valid_until::text, 'infinity'),
                                  coalesce(valid_from::text, '-infinity'), coalesce(valid_until::text, 'infinity')),
                  HINT = 'Change the window with UPDATE rekor_logs SET valid_from/valid_until (an admin action).';
    END IF;
    IF existing.signer_name <> signer_name OR existing.origin <> v_origin OR existing.origin_is_prefix <> v_prefix THEN
        RAISE EXCEPTION 'log is already trusted with another signer name or origin'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('log %s is stored as signer %L, origin %L%s; asked for signer %L, origin %L%s',
                                  encode(k.log_id, 'hex'), existing.signer_name, existing.origin,
                                  CASE WHEN existing.origin_is_prefix THEN '*' ELSE '' END,
                                  signer_name, v_origin, CASE WHEN v_prefix THEN '*' ELSE '' END);
    END IF;
    RETURN k.log_id;
END
$$;

-- The trusted logs whose origin pattern matches a checkpoint origin and whose key is valid at `at`.
-- The validity window is closed at both ends, as Sigstore's TimeRange (protobuf-specs; the
-- conformance suite's trust-root-tlog-validity-end-inclusive): valid at valid_until itself.
CREATE FUNCTION rekor_logs_for_origin(origin text, at timestamptz)
RETURNS SETOF rekor_logs
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM @extschema@.rekor_logs l
    WHERE (l.origin = $1 OR (l.origin_is_prefix AND starts_with($1, l.origin)))
      AND (l.valid_from IS NULL OR l.valid_from <= $2)
      AND (l.valid_until IS NULL OR $2 <= l.valid_until)
$$;

-- Sets where the submitter writes and reads a trusted log (its Rekor API base URL and version).
CREATE FUNCTION rekor_set_log_endpoint(log_id bytea, base_url text, api_version integer DEFAULT 1)
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
CREATE VIEW rekor_log_endpoints AS
SELECT l.log_id, l.signer_name, l.origin, l.key_type, l.base_url, l.api_version, l.valid_from, l.valid_until,
       l.created_at
FROM rekor_logs l
WHERE l.base_url IS NOT NULL
  AND (l.valid_from IS NULL OR l.valid_from <= now())
  AND (l.valid_until IS NULL OR l.valid_until > now())
ORDER BY l.created_at DESC, l.log_id;

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
SELECT pg_catalog.pg_extension_config_dump('rekor_log_shards', '');
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

-- Trusted RFC 3161 timestamp authorities (issue 14): a trusted root's timestampAuthorities[], one
-- row per authority and validity window. An entry's timestamp token verifies under one of them
-- (rekor_timestamp_check), and its genTime then picks the log key for an entry without a SET.
-- Like rekor_logs: admins add them (rekor_import_trusted_root); an authority's certificates never
-- change, only its window may move; nothing is deleted.
CREATE TABLE rekor_timestamp_authorities (
    tsa_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subject     text NOT NULL,                     -- "O=…, CN=…" of the trusted root's subject
    uri         text CHECK (length(uri) <= 2048),
    chain       bytea[] NOT NULL CHECK (cardinality(chain) BETWEEN 1 AND 10),  -- DER, leaf first
    leaf_sha256 bytea NOT NULL CHECK (leaf_sha256 = sha256(chain[1])),
    valid_from  timestamptz NOT NULL,
    valid_until timestamptz,                       -- NULL: still trusted
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (valid_until IS NULL OR valid_from <= valid_until),
    CONSTRAINT rekor_timestamp_authorities_key UNIQUE (leaf_sha256, valid_from)
);
SELECT pg_catalog.pg_extension_config_dump('rekor_timestamp_authorities', '');
SELECT pg_catalog.pg_extension_config_dump('rekor_timestamp_authorities_tsa_id_seq', '');
COMMENT ON TABLE rekor_timestamp_authorities IS 'Trusted RFC 3161 timestamp authorities (add with rekor_import_trusted_root)';

-- An authority's certificates are what tokens were verified against: they never change.
CREATE FUNCTION rekor_timestamp_authorities_guard() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF (NEW.tsa_id, NEW.subject, NEW.uri, NEW.chain, NEW.leaf_sha256, NEW.created_at)
       IS DISTINCT FROM (OLD.tsa_id, OLD.subject, OLD.uri, OLD.chain, OLD.leaf_sha256, OLD.created_at) THEN
        RAISE EXCEPTION 'a timestamp authority''s certificates and identity cannot change; only valid_from and valid_until can'
            USING ERRCODE = 'object_not_in_prerequisite_state', DETAIL = format('tsa_id %s', OLD.tsa_id);
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER rekor_timestamp_authorities_guard BEFORE UPDATE ON rekor_timestamp_authorities
    FOR EACH ROW EXECUTE FUNCTION rekor_timestamp_authorities_guard();
CREATE TRIGGER rekor_timestamp_authorities_append_only BEFORE DELETE ON rekor_timestamp_authorities
    FOR EACH ROW EXECUTE FUNCTION rekor_forbid_change();
CREATE TRIGGER rekor_timestamp_authorities_no_truncate BEFORE TRUNCATE ON rekor_timestamp_authorities
    FOR EACH STATEMENT EXECUTE FUNCTION rekor_forbid_change();

-- Every trusted authority in the form rekor_timestamp_check reads (chain as hex DER, window in
-- microseconds since 1970), oldest first.
CREATE FUNCTION rekor_timestamp_authorities_json() RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(jsonb_agg(jsonb_build_object(
               'tsa_id', t.tsa_id, 'subject', t.subject, 'uri', t.uri,
               'chain', (SELECT jsonb_agg(encode(c.der, 'hex') ORDER BY c.n) FROM unnest(t.chain) WITH ORDINALITY c(der, n)),
               'valid_from_us', (extract(epoch FROM t.valid_from) * 1000000)::bigint,
               'valid_until_us', (extract(epoch FROM t.valid_until) * 1000000)::bigint) ORDER BY t.tsa_id), '[]'::jsonb)
    FROM @extschema@.rekor_timestamp_authorities t
$$;

-- The timestampAuthorities[] of a trusted root into rekor_timestamp_authorities (idempotent: a
-- known authority and window is unchanged; a known certificate with the same start and another end
-- moves its end). One row per authority; called by rekor_import_trusted_root.
CREATE FUNCTION rekor_import_timestamp_authorities(trusted_root jsonb)
RETURNS TABLE (tsa_id bigint, subject text, uri text, valid_from timestamptz, valid_until timestamptz, status text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    a record;
    old @extschema@.rekor_timestamp_authorities;
    v_from timestamptz;
    v_until timestamptz;
BEGIN
    FOR a IN SELECT * FROM @extschema@.rekor_trusted_root_tsas($1) LOOP
        v_from := 'epoch'::timestamptz + a.valid_from_us * interval '1 microsecond';
        v_until := 'epoch'::timestamptz + a.valid_until_us * interval '1 microsecond';
        SELECT * INTO old FROM @extschema@.rekor_timestamp_authorities t
        WHERE t.leaf_sha256 = sha256(a.chain[1]) AND t.valid_from = v_from;
        IF NOT FOUND THEN
            INSERT INTO @extschema@.rekor_timestamp_authorities (subject, uri, chain, leaf_sha256, valid_from, valid_until)
            VALUES (a.subject, a.uri, a.chain, sha256(a.chain[1]), v_from, v_until)
            RETURNING * INTO old;
            status := 'added';
        ELSIF old.valid_until IS NOT DISTINCT FROM v_until THEN
            status := 'unchanged';
        ELSE
            UPDATE @extschema@.rekor_timestamp_authorities t SET valid_until = v_until WHERE t.tsa_id = old.tsa_id;
            status := format('window end moved from %s', coalesce(old.valid_until::text, 'infinity'));
        END IF;
        tsa_id := old.tsa_id; subject := a.subject; uri := a.uri; valid_from := v_from; valid_until := v_until;
        RETURN NEXT;
    END LOOP;
END
$$;

-- A Sigstore trusted root (trusted_root.json as distributed through TUF, media type
-- application/vnd.dev.sigstore.trustedroot+json;version=0.1 or 0.2) sets up the logs: every entry
-- of tlogs[] is trusted through rekor_add_log with the host of its baseUrl as signer name (Rekor
-- v1: origin "<host> - <tree id>"; Rekor v2: origin "<host>") and its validFor window. The logId the
-- root states must be the one the database derives from the key. Idempotent; a newer root adds logs
-- and moves a known key's validity window to the root's (it never changes a key). One row per tlog.
-- Its timestampAuthorities[] are trusted too (rekor_import_timestamp_authorities).
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
    -- The root's timestamp authorities (rekor_timestamp_authorities shows them).
    PERFORM count(*) FROM @extschema@.rekor_import_timestamp_authorities($1);
END
$$;
