-- single dequeue + ack: rekor_dequeue(w, 1), then rekor_mark_failed(id, w, 'ack', false) (state 'dead')
SELECT queue_id AS id, envelope::text AS env FROM rekor_dequeue('w' || :client_id::text, 1) \gset
SELECT rekor_mark_failed(:id::bigint, 'w' || :client_id::text, 'ack', false);
