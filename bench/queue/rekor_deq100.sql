-- batch of 100: rekor_dequeue(w, 100) (the envelopes go to the client), rekor_mark_failed_batch(ids, ...)
SELECT array_agg(queue_id) AS ids, string_agg(envelope::text, ',') AS envs FROM rekor_dequeue('w' || :client_id::text, 100) \gset
SELECT count(*) FROM rekor_mark_failed_batch(:ids::bigint[], 'w' || :client_id::text, 'ack', false);
