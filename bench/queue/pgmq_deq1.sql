-- single dequeue + ack in pgmq: read(q, vt, 1) + delete(q, id)
SELECT msg_id AS id, message::text AS env FROM pgmq.read('bench', 300, 1) \gset
SELECT pgmq.delete('bench', :id::bigint);
