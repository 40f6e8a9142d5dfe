-- batch enqueue of 100 envelopes: rekor_enqueue_batch (validates, digests in Rust, idempotent per envelope).
-- Envelopes :lo..:lo+99 of the stage, a different slice per transaction (k counts this client's transactions).
\set k :k + 1
\set lo ((:k * :nc + :client_id) * 100) % :stage
SELECT count(*) FROM rekor_enqueue_batch(array(SELECT envelope FROM bench_stage WHERE i >= :lo AND i < :lo + 100 ORDER BY i));
