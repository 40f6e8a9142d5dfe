-- rekor_meta: the current schema, one file per concept, loaded in this order by
-- pgrx::extension_sql_file! in src/lib.rs (after the Rust functions each file uses; pgrx writes
-- those C functions into the same generated install script). These files ARE what
-- CREATE EXTENSION rekor_meta creates; every change edits them in place and adds the same change,
-- as statements that alter an existing installation, to sql/upgrade/rekor_meta--<from>--<to>.sql.
-- tests/client/tests/upgrade.rs fails when a fresh install and an upgraded one differ.
--
--   000_common.sql       shared helpers (below)
--   010_logs.sql         trusted logs (rekor_logs), their endpoints, the Rekor v1 shard map
--                        (rekor_log_shards), trusted-root import
--   020_checkpoints.sql  signed checkpoints, recorded forks, consistency proofs, rekor_log_status
--   030_witness.sql      the in-database witness (rekor_witness_state, rekor_witness_checkpoint)
--   040_entries.sql      Rekor entries, their verifying trigger, ingest and re-verification
--   050_queue.sql        the submission queue and its idempotency keys
--   060_vex.sql          VEX statements linked to entries
--   090_roles.sql        group roles, every privilege, the search_path of the C functions (runs last)
-- The Rust functions (#[pg_extern] in src/, LANGUAGE c, documented in README "SQL API") are written
-- into the same install script by pgrx before the files that use them:
--   merkle.rs      rekor_leaf_hash, rekor_node_hash, rekor_merkle_root, rekor_merkle_inclusion_proof,
--                  rekor_merkle_consistency_proof, rekor_inclusion_root, rekor_verify_inclusion_proof,
--                  rekor_verify_consistency
--   checkpoint.rs  rekor_checkpoint_fields, rekor_verify_checkpoint (4 overloads), rekor_note_tree_id,
--                  rekor_checkpoint_signed_by, rekor_parse_log_key
--   entry.rs       rekor_parse_rest_response, rekor_parse_bundle, rekor_inclusion_proof_error,
--                  rekor_checkpoint_check, rekor_entry_evidence_check, rekor_entry_evidence,
--                  rekor_verify_set, rekor_body_info, rekor_digest_key, rekor_body_digests
--   queue.rs       rekor_dsse_info, rekor_dsse_info_batch, rekor_entry_envelope_mismatch, rekor_verifier_check,
--                  rekor_array_shape
-- `cargo pgrx schema pg15 --out <file>` shows the whole generated script.
--
-- Conventions of every file:
--   * every function pins SET search_path = pg_catalog, pg_temp (pg_temp last: a caller's temporary
--     types and tables cannot shadow the ones the extension's code names), and names the
--     extension's own objects @extschema@.<name>; privileged functions are SECURITY DEFINER;
--   * functions that take documents plan their statements generically
--     (SET plan_cache_mode = force_generic_plan): a custom plan turns each parameter into a
--     constant, a detoasted copy of a huge argument taken before the Rust code can refuse it;
--     errors never echo a huge argument;
--   * evidence tables are append-only (rekor_forbid_change below) and verified by their triggers;
--   * privileges of every object are granted in 090_roles.sql.
--
-- Shared building blocks for the files that follow.

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
