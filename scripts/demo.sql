-- rekor_meta demo: what the extension does today, on real data.
\set ON_ERROR_STOP on
\pset footer off
\set SHOW_CONTEXT never
\echo
\echo '== 1. RFC 6962 Merkle tree over four real Rekor entry bodies (the canonicalized bodies are the leaves)'
CREATE TEMP TABLE demo_leaves AS
SELECT ord, decode(b, 'base64') AS body
FROM jsonb_array_elements_text(:'bodies'::jsonb) WITH ORDINALITY AS t(b, ord);
SELECT ord AS leaf, length(body) AS body_bytes, encode(rekor_leaf_hash(body), 'hex') AS leaf_hash FROM demo_leaves ORDER BY ord;
SELECT encode(rekor_merkle_root(array_agg(body ORDER BY ord)), 'hex') AS root_of_4 FROM demo_leaves;

\echo '== 2. Inclusion proof for every leaf: generated, then verified'
WITH t AS (SELECT array_agg(body ORDER BY ord) AS leaves FROM demo_leaves)
SELECT i AS log_index,
       cardinality(rekor_merkle_inclusion_proof(leaves, i)) AS proof_hashes,
       rekor_verify_inclusion_proof(rekor_leaf_hash(leaves[i + 1]), i, 4,
                                    rekor_merkle_inclusion_proof(leaves, i), rekor_merkle_root(leaves)) AS verified
FROM t, generate_series(0, 3) AS i;

\echo '== 3. Consistency: the tree of 4 extends the trees of 1, 2 and 3'
WITH t AS (SELECT array_agg(body ORDER BY ord) AS leaves FROM demo_leaves)
SELECT m AS size1, 4 AS size2,
       rekor_verify_consistency(m, 4, rekor_merkle_root(leaves[1:m]), rekor_merkle_root(leaves),
                                rekor_merkle_consistency_proof(leaves, m)) AS consistent
FROM t, generate_series(1, 3) AS m;

\echo '== 4. A real Rekor inclusion proof (production log, entry 771488337: leaf 649584075 of 649584076, 20 hashes)'
SELECT rekor_verify_inclusion_proof(
  '\x251d7335e207fb694536143ecff500072df1cae8f388a9c181794f31e1b2d42e'::bytea, 649584075, 649584076,
  ARRAY[
    '\xcacc4f9eda030840c04064754086c4e03c0ae4ab6736b7643f6d8b126ab49422',
    '\xe4bfe3e77e0fef8f97f5fd5b2860f6a2e5504d2a2fa18b3458891a5513d4eeaa',
    '\xa95efa244942178bb76ce88ec9cd6a703681f8392c94bcf99c760689d415a3e6',
    '\xf674369636eb9cea07493159f90018ccb060a67e469eb7615834c929bbbaadd4',
    '\x3d3dc164ee9ca30653388752ed0f958ec2e14da1b91f3396bb46eff2f31821f9',
    '\x1dca8c88ddb985cf1950205ec3d96f1b6fb32858282ef1d14838cd806ab7cd0a',
    '\x555ac101b531b91cdf26b1439e43b7780d69371d93cddcd85d45fc5b42347cb2',
    '\xfaedc0e43c6b494951353206db3cec635eb0aa14e48f06d5f3b53bdd3c74d4c9',
    '\xeb67a80330ee5ee9a78e7f5c41b3983960b41f5445fc80ec24a378be26483c18',
    '\xbfda239c2bc7c978445730f8601c33053761d710febb89b32617c1cbb88b9604',
    '\xc638e3ad50317bb842c3778e3a1ec99bfd0159c4b3f78f3c9a2a4aefa600b442',
    '\xdb817d369b97403822a9dbd33b1a6df864c080b765e801a7d2aa2356de86c3d4',
    '\x3f49ce1caa629574a6e9ea32db4e4a797ecd5a40c23155173d7823d6e84be232',
    '\x14f146b2e3ec39723f9eb400f50959b0dc89aa66654ebd22339466765882cbaf',
    '\xb05246bc5bbb4a6c2e42869a9372b0737480e6508c8e1b045919c781c3bc1f8f',
    '\xb4a5ebe5be481013dd8276af27b7e49418536721bd2b1c549c4f1cb17eb97aed',
    '\xf77b31120ccefe0edc190e22db2b4f270489e0665a852a101720c5d4b6503de6',
    '\x5fabe4c73d29a312b60c8951babffb2db11dcf78835e3e5063f80b93f7b05e30',
    '\x6665246241c1cb507bdb726b12088abdea5374762b3facb66b8a0e0d8be2e556',
    '\x4f80ea583e36840b4dfaf5fc8ca096aa80b899e13825e908f4bc5818270fcb53'
  ]::bytea[],
  '\xae7a5a7085d28e84e8103874a83e022c029d90f9d6d58e11d43845312f801a52'::bytea) AS real_rekor_proof_verifies;

\echo '== 5. Tampering: one flipped bit in one proof hash, and a wrong tree size'
SELECT rekor_verify_inclusion_proof(
  '\x251d7335e207fb694536143ecff500072df1cae8f388a9c181794f31e1b2d42e'::bytea, 649584075, 649584076,
  (SELECT array_agg(CASE WHEN o = 7 THEN set_byte(p, 0, get_byte(p, 0) # 1) ELSE p END ORDER BY o)
     FROM unnest(ARRAY[
    '\xcacc4f9eda030840c04064754086c4e03c0ae4ab6736b7643f6d8b126ab49422',
    '\xe4bfe3e77e0fef8f97f5fd5b2860f6a2e5504d2a2fa18b3458891a5513d4eeaa',
    '\xa95efa244942178bb76ce88ec9cd6a703681f8392c94bcf99c760689d415a3e6',
    '\xf674369636eb9cea07493159f90018ccb060a67e469eb7615834c929bbbaadd4',
    '\x3d3dc164ee9ca30653388752ed0f958ec2e14da1b91f3396bb46eff2f31821f9',
    '\x1dca8c88ddb985cf1950205ec3d96f1b6fb32858282ef1d14838cd806ab7cd0a',
    '\x555ac101b531b91cdf26b1439e43b7780d69371d93cddcd85d45fc5b42347cb2',
    '\xfaedc0e43c6b494951353206db3cec635eb0aa14e48f06d5f3b53bdd3c74d4c9',
    '\xeb67a80330ee5ee9a78e7f5c41b3983960b41f5445fc80ec24a378be26483c18',
    '\xbfda239c2bc7c978445730f8601c33053761d710febb89b32617c1cbb88b9604',
    '\xc638e3ad50317bb842c3778e3a1ec99bfd0159c4b3f78f3c9a2a4aefa600b442',
    '\xdb817d369b97403822a9dbd33b1a6df864c080b765e801a7d2aa2356de86c3d4',
    '\x3f49ce1caa629574a6e9ea32db4e4a797ecd5a40c23155173d7823d6e84be232',
    '\x14f146b2e3ec39723f9eb400f50959b0dc89aa66654ebd22339466765882cbaf',
    '\xb05246bc5bbb4a6c2e42869a9372b0737480e6508c8e1b045919c781c3bc1f8f',
    '\xb4a5ebe5be481013dd8276af27b7e49418536721bd2b1c549c4f1cb17eb97aed',
    '\xf77b31120ccefe0edc190e22db2b4f270489e0665a852a101720c5d4b6503de6',
    '\x5fabe4c73d29a312b60c8951babffb2db11dcf78835e3e5063f80b93f7b05e30',
    '\x6665246241c1cb507bdb726b12088abdea5374762b3facb66b8a0e0d8be2e556',
    '\x4f80ea583e36840b4dfaf5fc8ca096aa80b899e13825e908f4bc5818270fcb53'
  ]::bytea[]) WITH ORDINALITY AS u(p, o)),
  '\xae7a5a7085d28e84e8103874a83e022c029d90f9d6d58e11d43845312f801a52'::bytea) AS tampered_proof_verifies;
\set ON_ERROR_STOP off
\echo 'A proof of the wrong length is not "false" but an error naming the check:'
SELECT rekor_verify_inclusion_proof(
  '\x251d7335e207fb694536143ecff500072df1cae8f388a9c181794f31e1b2d42e'::bytea, 649584075, 649584076 * 2,
  ARRAY[
    '\xcacc4f9eda030840c04064754086c4e03c0ae4ab6736b7643f6d8b126ab49422',
    '\xe4bfe3e77e0fef8f97f5fd5b2860f6a2e5504d2a2fa18b3458891a5513d4eeaa',
    '\xa95efa244942178bb76ce88ec9cd6a703681f8392c94bcf99c760689d415a3e6',
    '\xf674369636eb9cea07493159f90018ccb060a67e469eb7615834c929bbbaadd4',
    '\x3d3dc164ee9ca30653388752ed0f958ec2e14da1b91f3396bb46eff2f31821f9',
    '\x1dca8c88ddb985cf1950205ec3d96f1b6fb32858282ef1d14838cd806ab7cd0a',
    '\x555ac101b531b91cdf26b1439e43b7780d69371d93cddcd85d45fc5b42347cb2',
    '\xfaedc0e43c6b494951353206db3cec635eb0aa14e48f06d5f3b53bdd3c74d4c9',
    '\xeb67a80330ee5ee9a78e7f5c41b3983960b41f5445fc80ec24a378be26483c18',
    '\xbfda239c2bc7c978445730f8601c33053761d710febb89b32617c1cbb88b9604',
    '\xc638e3ad50317bb842c3778e3a1ec99bfd0159c4b3f78f3c9a2a4aefa600b442',
    '\xdb817d369b97403822a9dbd33b1a6df864c080b765e801a7d2aa2356de86c3d4',
    '\x3f49ce1caa629574a6e9ea32db4e4a797ecd5a40c23155173d7823d6e84be232',
    '\x14f146b2e3ec39723f9eb400f50959b0dc89aa66654ebd22339466765882cbaf',
    '\xb05246bc5bbb4a6c2e42869a9372b0737480e6508c8e1b045919c781c3bc1f8f',
    '\xb4a5ebe5be481013dd8276af27b7e49418536721bd2b1c549c4f1cb17eb97aed',
    '\xf77b31120ccefe0edc190e22db2b4f270489e0665a852a101720c5d4b6503de6',
    '\x5fabe4c73d29a312b60c8951babffb2db11dcf78835e3e5063f80b93f7b05e30',
    '\x6665246241c1cb507bdb726b12088abdea5374762b3facb66b8a0e0d8be2e556',
    '\x4f80ea583e36840b4dfaf5fc8ca096aa80b899e13825e908f4bc5818270fcb53'
  ]::bytea[],
  '\xae7a5a7085d28e84e8103874a83e022c029d90f9d6d58e11d43845312f801a52'::bytea);

\set ON_ERROR_STOP on
\echo
\echo '== 6. Trust the real Sigstore logs from the trusted roots Sigstore distributes (production and staging trusted_root.json)'
SELECT base_url, key_type, valid_from, valid_until, encode(log_id, 'hex') AS log_id, status
FROM rekor_import_trusted_root(:'root_production'::jsonb)
UNION ALL
SELECT base_url, key_type, valid_from, valid_until, encode(log_id, 'hex'), status
FROM rekor_import_trusted_root(:'root_staging'::jsonb);
\echo 'and the Rekor v1 shard map (each start derived from a SET-signed entry: tests/fixtures/rekor_v1_shards.json)'
SELECT rekor_add_log_shard(l.log_id, (s->>'tree_id')::bigint, (s->>'start_index')::bigint), l.signer_name, s->>'tree_id' AS tree_id,
       s->>'start_index' AS start_index
FROM jsonb_array_elements(:'shards'::jsonb -> 'shards') s
JOIN rekor_logs l ON l.signer_name = split_part(s->>'log', ':', 2);

\echo '== 7. A real signed checkpoint of the production log, verified and stored (its columns come from the note)'
SELECT :'bundle_dsse'::jsonb #>> '{verificationMaterial,tlogEntries,0,inclusionProof,checkpoint,envelope}' AS checkpoint \gset
\echo :checkpoint
SELECT rekor_verify_checkpoint(:'checkpoint', (SELECT public_key FROM rekor_logs WHERE signer_name = 'rekor.sigstore.dev')) AS signature_verifies;
INSERT INTO rekor_checkpoints (note) VALUES (:'checkpoint') RETURNING checkpoint_id, origin, tree_size, encode(root_hash, 'hex') AS root_hash;

\echo '== 8. Real Rekor entries ingested from the shapes users have: a REST response and two Sigstore bundles (Rekor v1, production and staging, two shards)'
SELECT 'rest-entry.json' AS source, rekor_ingest_entry(:'rest1'::jsonb) AS entry_id
UNION ALL SELECT 'bundle-dsse', rekor_ingest_bundle(:'bundle_dsse'::jsonb)
UNION ALL SELECT 'bundle-v0.3-hashedrekord', rekor_ingest_bundle(:'bundle_hr'::jsonb);
\echo 'The Rekor v2 REST answer and bundle were logged by staging log2025-alpha1, whose key the staging root retired on'
\echo '2025-09-04. A v2 entry has no SET, so nothing signs when it was logged and the key is checked now: both are refused.'
\set ON_ERROR_STOP off
SELECT rekor_ingest_entry(:'rest2'::jsonb);
SELECT rekor_ingest_bundle(:'bundle_v2'::jsonb);
\set ON_ERROR_STOP on
SELECT entry_id, e.kind, e.api_version, e.log_index, e.proof_log_index AS proof_index, e.log_index_authenticated AS index_authenticated,
       tree_size, integrated_time, l.signer_name AS log, rekor_verify_inclusion(entry_id) AS verified
FROM rekor_entries e JOIN rekor_logs l USING (log_id) ORDER BY entry_id;

\echo '== 9. Any row re-verified from scratch, one check per line'
SELECT rekor_ingest_bundle(:'bundle_dsse'::jsonb) AS dsse_entry \gset
SELECT * FROM rekor_verify_inclusion_report(:dsse_entry);

\echo '== 10. Ingest is idempotent: the same bundle again returns the same entry_id'
SELECT rekor_ingest_bundle(:'bundle_dsse'::jsonb) AS entry_id, (SELECT count(*) FROM rekor_entries) AS rows;

\echo '== 11. Search by artifact digest (the Rekor search index, complete and indexed)'
SELECT d.role, d.algorithm, encode(d.digest, 'hex') AS digest,
       (SELECT array_agg(entry_id) FROM rekor_entries_by_digest(d.algorithm, d.digest)) AS entries
FROM rekor_entries e, rekor_body_digests(e.body) d WHERE e.entry_id = :dsse_entry;

\echo '== 12. Tampering is rejected on insert: one flipped bit in one proof hash of the DSSE bundle'
\set ON_ERROR_STOP off
SELECT rekor_ingest_bundle(jsonb_set(:'bundle_dsse'::jsonb, '{verificationMaterial,tlogEntries,0,inclusionProof,hashes,3}',
         to_jsonb(encode(set_bit(decode(:'bundle_dsse'::jsonb #>> '{verificationMaterial,tlogEntries,0,inclusionProof,hashes,3}', 'base64'), 0, 1 - get_bit(decode(:'bundle_dsse'::jsonb #>> '{verificationMaterial,tlogEntries,0,inclusionProof,hashes,3}', 'base64'), 0)), 'base64'))));
\echo '... and a signed entry timestamp over another integrated time:'
SELECT rekor_ingest_entry(jsonb_set(:'rest1'::jsonb, ARRAY[(SELECT k FROM jsonb_object_keys(:'rest1'::jsonb) k), 'integratedTime'], '1656448132'));
\echo '... and nobody but the extension owner may change stored evidence:'
CREATE ROLE rekor_demo_user;
GRANT SELECT, UPDATE, DELETE ON rekor_entries TO rekor_demo_user;
SET ROLE rekor_demo_user;
DELETE FROM rekor_entries WHERE entry_id = 1;
RESET ROLE;
DROP OWNED BY rekor_demo_user;
DROP ROLE rekor_demo_user;
\set ON_ERROR_STOP on

\echo '== 13. The submission queue: the DSSE envelope waits, a worker leases it, logs it, and hands back the Rekor response'
SELECT rekor_enqueue(:'bundle_dsse'::jsonb -> 'dsseEnvelope') AS queue_id;
SELECT queue_id, state, attempts, lease_owner, payload_type FROM rekor_dequeue('demo-worker', 10, '1 minute');
SELECT rekor_mark_submitted(1, 'demo-worker', :'bundle_dsse'::jsonb) AS entry_id;
SELECT queue_id, state, entry_id, submitted_at IS NOT NULL AS submitted, rekor_verify_inclusion(entry_id) AS entry_verified
FROM rekor_submission_queue;
SELECT state, items FROM rekor_queue_stats;

\echo
\echo '== 14. VEX: a statement linked to the Rekor entry that logged its attestation (queue item 1), and what an auditor gets back'
SELECT link_id, vulnerability, product, status, queue_id, entry_id, linked_at IS NOT NULL AS linked
FROM rekor_link_vex('{
  "@context": "https://openvex.dev/ns/v0.2.0",
  "@id": "https://example.com/vex/demo-2024-001",
  "author": "Demo Security Team",
  "timestamp": "2024-11-21T09:00:00Z",
  "version": 1,
  "statements": [{
    "@id": "https://example.com/vex/demo-2024-001#CVE-2023-44487",
    "vulnerability": {"name": "CVE-2023-44487", "aliases": ["GHSA-qppj-fm5r-hxr3"]},
    "products": [{"@id": "pkg:generic/a.txt@sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf"}],
    "status": "not_affected",
    "justification": "vulnerable_code_not_in_execute_path",
    "impact_statement": "a.txt is a text file: it serves no HTTP/2"
  }]
}'::jsonb, 1::bigint);
\echo 'rekor_vex_evidence(vulnerability, product): each statement, newest first, with its entry re-verified from scratch now'
SELECT v.link_id, v.status, v.justification, v.proof, v.entry_id, v.integrated_time, l.signer_name AS log, v.attested
FROM rekor_vex_evidence('CVE-2023-44487',
                        'pkg:generic/a.txt@sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf') v
LEFT JOIN rekor_logs l USING (log_id);
\echo '(attested = false: the real bundle attests SLSA provenance, not this VEX document; the link says so instead of hiding it)'
\echo 'The same question when the stored proof has been tampered with past the triggers (in a transaction, rolled back):'
\set QUIET on
BEGIN;
SET LOCAL session_replication_role = replica;
UPDATE rekor_entries SET proof_hashes[1] = set_byte(proof_hashes[1], 0, get_byte(proof_hashes[1], 0) # 1)
WHERE entry_id = (SELECT entry_id FROM rekor_submission_queue WHERE queue_id = 1);
SELECT link_id, proof, proof_detail
FROM rekor_vex_evidence('GHSA-qppj-fm5r-hxr3',
                        'pkg:generic/a.txt@sha256:a0cfc71271d6e278e57cd332ff957c3f7043fdda354c4cbb190a30d56efa01bf');
ROLLBACK;
\set QUIET off
