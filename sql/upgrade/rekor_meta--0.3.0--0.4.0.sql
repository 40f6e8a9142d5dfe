-- rekor_meta 0.3.0 -> 0.4.0 (ALTER EXTENSION rekor_meta UPDATE).
--
-- Hand-written: every change 0.4.0 makes to the schema is made twice, in the same commit:
--   * in sql/schema/ (the current schema, what CREATE EXTENSION creates: edit the object in place);
--   * here, as the statements that turn an installed 0.3.0 into exactly that: new objects,
--     CREATE OR REPLACE of changed functions (or DROP + CREATE when the signature changes, then
--     its grants again), ALTER TABLE for columns and constraints, migrations of stored rows, and
--     the grants of new objects. A new C function (#[pg_extern]) is created here too, with
--     ALTER FUNCTION ... SET search_path = pg_catalog, pg_temp (a fresh install gets it from the
--     last step of sql/schema/090_roles.sql).
-- tests/client/tests/upgrade.rs installs every released version (sql/released/), upgrades it and
-- fails on any difference from a fresh install. Once 0.4.0 is released this file is frozen.
--
-- 0.4.0 reorganized the schema into sql/schema/ (no change to any object by that), then:
\echo Use "ALTER EXTENSION rekor_meta UPDATE TO '0.4.0'" to load this file. \quit

-- Performance (issue 13): one query per row in the entries trigger; bulk re-verification in
-- parallel workers (rekor_verify_inclusion PARALLEL SAFE, the set-based rekor_verify_all()); the
-- per-row set-returning checks cost as one row.
-- The set-returning checks give one row per call: said so, the planner costs a query over every
-- entry (rekor_verify_all, the trigger's lookup) as the per-row work it is, not as 1000-row joins.
ALTER FUNCTION rekor_entry_evidence ROWS 1;
ALTER FUNCTION rekor_entry_evidence_check ROWS 1;
ALTER FUNCTION rekor_body_info ROWS 1;

-- BEFORE INSERT OR UPDATE: checks 1-6 of every row, from scratch, against the stored log key and
-- shard map; fills leaf_hash, tree_id, kind, api_version, digest_keys and the authentication flags
-- from the evidence; stores the checkpoint the proof ends in (most entries of a batch share a stored
-- checkpoint: it is looked up inline, and only a new one goes through rekor_entry_checkpoint).
CREATE OR REPLACE FUNCTION rekor_entries_verify() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
    l @extschema@.rekor_logs;
    ev record;
    bi record;
    ts record;
    at timestamptz;
    cid bigint;
    itime bigint;
    ts_at timestamptz;
    shard_ids bigint[];
    shard_starts bigint[];
    mismatch text;
BEGIN
    -- Small statements, each a one-node plan: a PL/pgSQL statement costs its executor start-up, and
    -- one query joining every lookup and check measured 30% slower than these (bench/entries.sh).
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
    -- 6. An RFC 3161 timestamp, where given, verifies (rekor_meta_core::timestamp: parse, imprint
    -- over a signature the body records, chain to a stored authority, signature, eku, validity). It
    -- is judged here, before the key window its genTime may pick. A body that does not parse is
    -- check 5's to report.
    ts_at := NULL;
    NEW.timestamp_tsa_id := NULL;
    IF NEW.rfc3161_timestamp IS NOT NULL THEN
        SELECT * INTO ts FROM @extschema@.rekor_timestamp_check(NEW.rfc3161_timestamp, NEW.body,
                                                               @extschema@.rekor_timestamp_authorities_json());
        IF ts."check" IS NOT NULL AND ts."check" <> 'body' THEN
            PERFORM @extschema@.rekor_reject_entry(format('check 6 (timestamp): %s: the RFC 3161 token does not verify', ts."check"),
                format('%s; token %s bytes, SHA-256 %s', ts.error, length(NEW.rfc3161_timestamp),
                       encode(sha256(NEW.rfc3161_timestamp), 'hex')));
        END IF;
        ts_at := 'epoch'::timestamptz + ts.gen_time_us * interval '1 microsecond';
        NEW.timestamp_tsa_id := ts.tsa_id;
    END IF;
    -- The signing time is computed, never taken from the caller: the integrated time a SET signs
    -- (check 4), else a verified timestamp's genTime, else none.
    IF NEW.signed_entry_timestamp IS NOT NULL AND NEW.integrated_time IS NOT NULL THEN
        NEW.signing_time := NEW.integrated_time;
        NEW.signing_time_source := 'set';
    ELSIF ts_at IS NOT NULL THEN
        NEW.signing_time := ts_at;
        NEW.signing_time_source := 'rfc3161';
    ELSE
        NEW.signing_time := NULL;
        NEW.signing_time_source := 'none';
    END IF;
    -- The key must be valid when the entry was signed: at the signing time; without one nothing
    -- vouches for a time, so: now.
    at := coalesce(NEW.signing_time, now());
    IF (l.valid_from IS NOT NULL AND at < l.valid_from) OR (l.valid_until IS NOT NULL AND at > l.valid_until) THEN
        PERFORM @extschema@.rekor_reject_entry('log key is not valid at the entry''s time',
            format('log %s is valid from %s until %s; entry time %s%s', encode(l.log_id, 'hex'),
                   coalesce(l.valid_from::text, '-infinity'), coalesce(l.valid_until::text, 'infinity'), at,
                   CASE NEW.signing_time_source WHEN 'rfc3161' THEN ' (the RFC 3161 timestamp''s genTime)'
                        WHEN 'none' THEN ' (now: no SET signs an integrated time)' ELSE '' END));
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
                                                 NEW.body, NEW.signed_entry_timestamp, itime, NEW.log_index,
                                                 NEW.rfc3161_timestamp);
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
    -- What a bundle brings that the body lacks is stored only if it is the body's own.
    IF NEW.dsse_envelope IS NOT NULL THEN
        mismatch := @extschema@.rekor_entry_envelope_mismatch(NEW.body, NEW.dsse_envelope);
        IF mismatch IS NOT NULL THEN
            PERFORM @extschema@.rekor_reject_entry('check 5 (body): the DSSE envelope is not the one the body logs', mismatch);
        END IF;
    END IF;
    IF NEW.verifier IS NOT NULL THEN
        mismatch := @extschema@.rekor_entry_verifier_mismatch(NEW.body, NEW.verifier, NEW.dsse_envelope);
        IF mismatch IS NOT NULL THEN
            PERFORM @extschema@.rekor_reject_entry('check 5 (body): the verifier is not the body''s', mismatch);
        END IF;
    END IF;
    NEW.kind := bi.kind;
    NEW.api_version := bi.api_version;
    NEW.digest_keys := bi.digest_keys;
    RETURN NEW;
END
$$;

-- A digest look-up finds a handful of rows: never worth parallel workers (5-10 ms each call at 1M rows).
ALTER FUNCTION rekor_entries_by_digest(text, bytea) SET max_parallel_workers_per_gather = 0;
ALTER FUNCTION rekor_verify_inclusion(bigint) PARALLEL SAFE;
ALTER FUNCTION rekor_verify_inclusion_report(bigint) PARALLEL SAFE;

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

-- The submitter (issue 11): an item whose target log is frozen may be logged in the active log of
-- the same operator (signer name).
CREATE OR REPLACE FUNCTION rekor_mark_submitted(queue_id bigint, worker text, rekor_response jsonb) RETURNS bigint
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

-- Evidence out and signing time in (issue 14). Trusted RFC 3161 timestamp authorities, filled by
-- rekor_import_trusted_root from timestampAuthorities[]; an entry's token verified by the trigger
-- (check 6), its genTime the signing time that picks the log key for an entry without a SET; the
-- DSSE envelope and verifier a bundle brings stored; rekor_export_bundle and rekor_vex_evidence_bundles.
CREATE  FUNCTION "rekor_trusted_root_tsas"(
	"trusted_root" jsonb /* Jsonb */
) RETURNS TABLE (
	"subject" TEXT,  /* String */
	"uri" TEXT,  /* Option < String > */
	"chain" bytea[],  /* Vec < Vec < u8 > > */
	"valid_from_us" bigint,  /* i64 */
	"valid_until_us" bigint  /* Option < i64 > */
)
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'rekor_trusted_root_tsas_wrapper';

CREATE  FUNCTION "rekor_timestamp_check"(
	"token" bytea, /* & [u8] */
	"body" bytea, /* & [u8] */
	"authorities" jsonb /* Jsonb */
) RETURNS TABLE (
	"tsa_id" bigint,  /* Option < i64 > */
	"gen_time_us" bigint,  /* Option < i64 > */
	"check" TEXT,  /* Option < String > */
	"error" TEXT  /* Option < String > */
)
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'rekor_timestamp_check_wrapper';

CREATE  FUNCTION "rekor_bundle_material"(
	"bundle" jsonb /* Jsonb */
) RETURNS TABLE (
	"dsse_envelope" jsonb,  /* Option < JsonB > */
	"verifier" bytea,  /* :: std :: option :: Option < Vec < u8 > > */
	"rfc3161_timestamps" bytea[]  /* :: std :: option :: Option < Vec < Vec < u8 > > > */
)
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'rekor_bundle_material_wrapper';

CREATE  FUNCTION "rekor_entry_verifier_mismatch"(
	"body" bytea, /* Option < & [u8] > */
	"verifier" bytea, /* Option < & [u8] > */
	"envelope" jsonb /* Option < Jsonb > */
) RETURNS TEXT /* Option < String > */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'rekor_entry_verifier_mismatch_wrapper';

CREATE  FUNCTION "rekor_bundle_export"(
	"body" bytea, /* & [u8] */
	"log_id" bytea, /* & [u8] */
	"log_index" bigint, /* i64 */
	"integrated_time" bigint, /* Option < i64 > */
	"kind" TEXT, /* Text < '_ > */
	"api_version" TEXT, /* Text < '_ > */
	"signed_entry_timestamp" bytea, /* Option < & [u8] > */
	"proof_log_index" bigint, /* i64 */
	"tree_size" bigint, /* i64 */
	"root_hash" bytea, /* & [u8] */
	"proof_hashes" bytea[], /* ByteaArray < '_ > */
	"checkpoint" TEXT, /* Text < '_ > */
	"dsse_envelope" jsonb, /* Option < Jsonb > */
	"verifier" bytea, /* Option < & [u8] > */
	"rfc3161_timestamps" bytea[] /* Option < ByteaArray < '_ > > */
) RETURNS jsonb /* JsonB */
IMMUTABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'rekor_bundle_export_wrapper';

ALTER FUNCTION rekor_trusted_root_tsas(jsonb) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION rekor_timestamp_check(bytea, bytea, jsonb) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION rekor_bundle_material(jsonb) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION rekor_entry_verifier_mismatch(bytea, bytea, jsonb) SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION rekor_bundle_export(bytea, bytea, bigint, bigint, text, text, bytea, bigint, bigint, bytea, bytea[], text, jsonb, bytea, bytea[]) SET search_path = pg_catalog, pg_temp;

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

CREATE OR REPLACE FUNCTION rekor_import_trusted_root(trusted_root jsonb)
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

ALTER TABLE rekor_entries
    ADD COLUMN signing_time timestamptz,
    ADD COLUMN signing_time_source text NOT NULL DEFAULT 'none',
    ADD COLUMN rfc3161_timestamp bytea,
    ADD COLUMN timestamp_tsa_id bigint REFERENCES rekor_timestamp_authorities (tsa_id),
    ADD COLUMN dsse_envelope jsonb,
    ADD COLUMN verifier bytea;
-- Stored entries: the integrated time a verified SET signs is their signing time (the trigger
-- verified the SET on insert; it is not re-run for a column it did not have).
ALTER TABLE rekor_entries DISABLE TRIGGER rekor_entries_verify;
UPDATE rekor_entries SET signing_time = integrated_time, signing_time_source = 'set' WHERE integrated_time_authenticated;
ALTER TABLE rekor_entries ENABLE TRIGGER rekor_entries_verify;
ALTER TABLE rekor_entries
    ADD CONSTRAINT rekor_entries_signing_time_source CHECK (signing_time_source IN ('none', 'set', 'rfc3161')
        AND (signing_time IS NULL) = (signing_time_source = 'none')),
    ADD CONSTRAINT rekor_entries_material_size CHECK (length(rfc3161_timestamp) <= 65536 AND length(verifier) <= 65536
        AND pg_column_size(dsse_envelope) <= 16777216);

-- rekor_entry_checkpoint sees the checkpoint at the signing time: a new argument, the token.
DROP FUNCTION rekor_entry_checkpoint(text, bytea, bigint, bytea, text, bytea, bytea, bigint, bigint);
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
REVOKE EXECUTE ON FUNCTION rekor_entry_checkpoint(text, bytea, bigint, bytea, text, bytea, bytea, bigint, bigint, bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION rekor_entry_checkpoint(text, bytea, bigint, bytea, text, bytea, bytea, bigint, bigint, bytea) TO rekor_writer;

CREATE OR REPLACE FUNCTION rekor_ingest_rows(rows_json jsonb, from_bundle boolean) RETURNS SETOF bigint
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

CREATE OR REPLACE FUNCTION rekor_verify_inclusion_report(entry_id bigint)
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

CREATE OR REPLACE FUNCTION rekor_verify_inclusion(entry_id bigint) RETURNS boolean
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

CREATE FUNCTION rekor_vex_evidence_bundles(vulnerability text, product text)
RETURNS TABLE (link_id bigint, status text, statement_id text, entry_id bigint, bundle jsonb, bundle_error text)
LANGUAGE plpgsql VOLATILE STRICT
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v record;
BEGIN
    FOR v IN SELECT x.link_id, x.status, x.statement_id, x.entry_id
             FROM @extschema@.rekor_vex_evidence($1, $2) x WHERE x.proof = 'proven'
    LOOP
        link_id := v.link_id; status := v.status; statement_id := v.statement_id; entry_id := v.entry_id;
        bundle_error := NULL;
        BEGIN
            bundle := @extschema@.rekor_export_bundle(v.entry_id);
        EXCEPTION WHEN object_not_in_prerequisite_state THEN
            bundle := NULL;
            bundle_error := SQLERRM;
        END;
        RETURN NEXT;
    END LOOP;
END
$$;

REVOKE ALL ON rekor_timestamp_authorities FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION rekor_import_timestamp_authorities(jsonb) FROM PUBLIC;
GRANT SELECT ON rekor_timestamp_authorities TO rekor_reader;
GRANT INSERT, UPDATE (valid_from, valid_until) ON rekor_timestamp_authorities TO rekor_admin;
GRANT EXECUTE ON FUNCTION rekor_import_timestamp_authorities(jsonb) TO rekor_admin;
