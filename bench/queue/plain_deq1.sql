-- single dequeue + ack on the plain SKIP LOCKED table, guarded by the same lease conditions
UPDATE bench_plain_queue q SET state = 'leased', lease_owner = 'w' || :client_id::text,
       lease_expires_at = now() + interval '5 minutes', attempts = q.attempts + 1
WHERE q.queue_id IN (SELECT x.queue_id FROM bench_plain_queue x WHERE x.state = 'pending' AND x.next_attempt_at <= now()
                     ORDER BY x.queue_id LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING q.queue_id AS id, q.envelope::text AS env \gset
UPDATE bench_plain_queue SET state = 'dead', lease_owner = NULL, lease_expires_at = NULL, last_error = 'ack', next_attempt_at = now()
WHERE queue_id = :id::bigint AND state = 'leased' AND lease_owner = 'w' || :client_id::text AND lease_expires_at > now();
