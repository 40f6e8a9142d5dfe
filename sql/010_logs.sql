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
    CHECK (valid_from IS NULL OR valid_until IS NULL OR valid_from < valid_until)
);
CREATE INDEX rekor_logs_origin ON rekor_logs (origin);
SELECT pg_catalog.pg_extension_config_dump('rekor_logs', '');

-- A trusted log's identity is its key: log_id, signer, origin and key never change once stored
-- (evidence was verified against them). Only the validity window may move, to retire or rotate a key.
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
CREATE FUNCTION rekor_logs_for_origin(origin text, at timestamptz)
RETURNS SETOF rekor_logs
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT * FROM @extschema@.rekor_logs l
    WHERE (l.origin = $1 OR (l.origin_is_prefix AND starts_with($1, l.origin)))
      AND (l.valid_from IS NULL OR l.valid_from <= $2)
      AND (l.valid_until IS NULL OR $2 < l.valid_until)
$$;
