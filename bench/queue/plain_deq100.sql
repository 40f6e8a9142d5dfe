-- batch of 100 on the plain table: one UPDATE ... SKIP LOCKED ... RETURNING, one UPDATE ... = ANY(ids)
WITH d AS (UPDATE bench_plain_queue q SET state = 'leased', lease_owner = 'w' || :client_id::text,
                  lease_expires_at = now() + interval '5 minutes', attempts = q.attempts + 1
           WHERE q.queue_id IN (SELECT x.queue_id FROM bench_plain_queue x WHERE x.state = 'pending' AND x.next_attempt_at <= now()
                                ORDER BY x.queue_id LIMIT 100 FOR UPDATE SKIP LOCKED)
           RETURNING q.queue_id, q.envelope)
SELECT array_agg(queue_id) AS ids, string_agg(envelope::text, ',') AS envs FROM d \gset
UPDATE bench_plain_queue SET state = 'dead', lease_owner = NULL, lease_expires_at = NULL, last_error = 'ack', next_attempt_at = now()
WHERE queue_id = ANY(:ids::bigint[]) AND state = 'leased' AND lease_owner = 'w' || :client_id::text AND lease_expires_at > now();
