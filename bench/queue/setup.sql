-- Schema of the queue benchmark (bench/queue.sh), in a scratch database. psql variables: bundle (the
-- real DSSE bundle tests/fixtures/upstream/bundle-dsse.sigstore.json), pgmq_sql (path of pgmq's SQL).
CREATE EXTENSION rekor_meta;
CREATE EXTENSION pgstattuple;

-- pgmq, from its own SQL as packaged (plain SQL + PL/pgSQL, installed without CREATE EXTENSION), one queue.
\i :pgmq_sql
SELECT pgmq.create('bench');

-- The baseline a DBA would write: the queue's columns, a primary key and the partial index on pending
-- rows; no CHECKs, no foreign keys, no envelope keys, one plain statement per operation.
CREATE TABLE bench_plain_queue (LIKE rekor_submission_queue INCLUDING DEFAULTS INCLUDING IDENTITY);
-- The base types of the queue's domains (LIKE copies a domain, and with it the rule the plain table has none of).
ALTER TABLE bench_plain_queue ALTER state TYPE text, ALTER max_attempts TYPE integer, ALTER verifier TYPE bytea,
    ALTER verifier_kind TYPE text, ALTER verifier_key_type TYPE text;
ALTER TABLE bench_plain_queue ADD PRIMARY KEY (queue_id);
CREATE INDEX bench_plain_pending ON bench_plain_queue (queue_id) WHERE state = 'pending';

-- Envelope i: the real in-toto statement with its subject digest replaced by SHA-256(tag || i) (same
-- length, so every envelope is as large as the real one: 1,018-byte payload, 1.5 kB envelope) and a
-- DER-shaped ECDSA signature of random-looking bytes (the queue does not verify the artifact signature).
CREATE TABLE bench_fixture AS
SELECT p AS payload, (p::jsonb)->'subject'->0->'digest'->>'sha256' AS digest
FROM (SELECT convert_from(decode((:'bundle'::jsonb)->'dsseEnvelope'->>'payload', 'base64'), 'UTF8') AS p) s;
CREATE FUNCTION bench_envelope(i bigint) RETURNS jsonb LANGUAGE sql STABLE AS $$
SELECT jsonb_build_object(
    'payload', translate(encode(convert_to(replace(f.payload, f.digest,
        encode(sha256(convert_to('rekor_meta queue bench subject:', 'UTF8') || int8send(i)), 'hex')), 'UTF8'), 'base64'), E'\n', ''),
    'payloadType', 'application/vnd.in-toto+json',
    'signatures', jsonb_build_array(jsonb_build_object('sig', translate(encode('\x30440220'::bytea
        || set_byte(r, 0, (get_byte(r, 0) & 127) | 1) || '\x0220'::bytea || set_byte(s, 0, (get_byte(s, 0) & 127) | 1),
        'base64'), E'\n', ''))))
FROM bench_fixture f,
     sha256(convert_to('rekor_meta queue bench sig-r:', 'UTF8') || int8send(i)) r,
     sha256(convert_to('rekor_meta queue bench sig-s:', 'UTF8') || int8send(i)) s
$$;

-- Envelopes generated once, digested by rekor_dsse_info: the source of every fill and enqueue.
CREATE TABLE bench_stage (i bigint PRIMARY KEY, envelope jsonb NOT NULL, payload_type text NOT NULL,
                          payload_sha256 bytea NOT NULL, envelope_sha256 bytea NOT NULL, pae_sha256 bytea NOT NULL);

-- Empties the three queues (and the tables of the extension that follow its queue: superuser, scratch
-- database, user triggers off for this transaction only).
CREATE FUNCTION bench_reset() RETURNS void LANGUAGE plpgsql AS $$
DECLARE t text;
BEGIN
    SET LOCAL session_replication_role = replica;
    SELECT string_agg(DISTINCT conrelid::regclass::text, ', ') INTO t FROM pg_constraint
    WHERE contype = 'f' AND confrelid = 'rekor_submission_queue'::regclass AND conrelid <> confrelid;
    EXECUTE 'TRUNCATE rekor_submission_queue, rekor_submission_keys, bench_plain_queue, pgmq.q_bench, pgmq.a_bench'
            || coalesce(', ' || t, '');
END $$;

-- n pending items (envelopes 0..n-1) in the queue of `kind` (rekor | plain | pgmq), by default the others empty.
CREATE FUNCTION bench_fill(kind text, n bigint, reset boolean DEFAULT true) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF reset THEN PERFORM bench_reset(); END IF;
    IF kind = 'pgmq' THEN
        INSERT INTO pgmq.q_bench (vt, message) SELECT now(), envelope FROM bench_stage WHERE i < n ORDER BY i;
    ELSE
        EXECUTE format('INSERT INTO %I (envelope, payload_type, payload_sha256, envelope_sha256, pae_sha256)
                        SELECT envelope, payload_type, payload_sha256, envelope_sha256, pae_sha256
                        FROM bench_stage WHERE i < $1 ORDER BY i',
                       CASE kind WHEN 'rekor' THEN 'rekor_submission_queue' ELSE 'bench_plain_queue' END) USING n;
    END IF;
END $$;

-- Rows of the queue of `kind` still waiting (a figure whose queue ran dry is flagged "drained").
CREATE FUNCTION bench_pending(kind text) RETURNS bigint LANGUAGE sql AS $$
SELECT CASE kind WHEN 'rekor' THEN (SELECT count(*) FROM rekor_submission_queue WHERE state = 'pending')
                 WHEN 'plain' THEN (SELECT count(*) FROM bench_plain_queue WHERE state = 'pending')
                 ELSE (SELECT count(*) FROM pgmq.q_bench) END
$$;

-- n more pending items for the scale phase, as cheaply as SQL can: one INSERT ... SELECT of a small valid
-- envelope (a distinct envelope_sha256 each), user triggers off for this transaction (so no envelope keys and
-- no NOTIFY: dequeue reads neither). Scratch database, superuser.
CREATE FUNCTION bench_scale_fill(n bigint) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    SET LOCAL session_replication_role = replica;
    INSERT INTO rekor_submission_queue (envelope, payload_type, payload_sha256, envelope_sha256, pae_sha256)
    SELECT '{"payload": "", "payloadType": "text/plain", "signatures": [{"sig": "AA=="}]}'::jsonb, 'text/plain',
           sha256(''::bytea), sha256(convert_to('rekor_meta queue bench filler:', 'UTF8') || int8send(g)),
           sha256(convert_to('DSSEv1 10 text/plain 0 ', 'UTF8'))
    FROM generate_series(1, n) g;
END $$;
