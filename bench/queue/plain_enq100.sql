-- batch enqueue of 100 into the plain table, computing the same three digests with SQL builtins
-- (payload SHA-256, SHA-256 of the envelope's JSON text, SHA-256 of the DSSE PAE)
\set k :k + 1
\set lo ((:k * :nc + :client_id) * 100) % :stage
INSERT INTO bench_plain_queue (envelope, payload_type, payload_sha256, envelope_sha256, pae_sha256)
SELECT s.envelope, s.envelope->>'payloadType', sha256(b.p), sha256(convert_to(s.envelope::text, 'UTF8')),
       sha256(convert_to(format('DSSEv1 %s %s %s ', octet_length(s.envelope->>'payloadType'), s.envelope->>'payloadType',
                                length(b.p)), 'UTF8') || b.p)
FROM bench_stage s CROSS JOIN LATERAL (SELECT decode(s.envelope->>'payload', 'base64') AS p OFFSET 0) b
WHERE s.i >= :lo AND s.i < :lo + 100 ORDER BY s.i;
