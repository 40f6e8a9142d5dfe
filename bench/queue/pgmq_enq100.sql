-- batch enqueue of 100 envelopes in pgmq: send_batch(q, jsonb[])
\set k :k + 1
\set lo ((:k * :nc + :client_id) * 100) % :stage
SELECT count(*) FROM pgmq.send_batch('bench', array(SELECT envelope FROM bench_stage WHERE i >= :lo AND i < :lo + 100 ORDER BY i));
