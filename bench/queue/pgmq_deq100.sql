-- batch of 100 in pgmq: read(q, vt, 100) + delete(q, ids)
SELECT array_agg(msg_id) AS ids, string_agg(message::text, ',') AS envs FROM pgmq.read('bench', 300, 100) \gset
SELECT count(*) FROM pgmq.delete('bench', :ids::bigint[]);
