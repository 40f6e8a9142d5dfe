-- rekor_meta: shared building blocks for the schema files that follow.

-- True when the current role is the role that owns the extension (usually the superuser that ran
-- CREATE EXTENSION). Only that role may change or remove verified evidence.
CREATE FUNCTION rekor_is_extension_owner() RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT EXISTS (
        SELECT 1 FROM pg_catalog.pg_extension e
        WHERE e.extname = 'rekor_meta' AND e.extowner = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)
    )
$$;

-- BEFORE UPDATE/DELETE/TRUNCATE trigger of every evidence table: append-only for everyone but the
-- extension owner. A trigger, not only missing privileges, so that superusers are held to it too.
CREATE FUNCTION rekor_forbid_change() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NOT @extschema@.rekor_is_extension_owner() THEN
        RAISE EXCEPTION 'rekor_meta evidence is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = format('role %I is not the owner of extension rekor_meta', current_user);
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END
$$;
