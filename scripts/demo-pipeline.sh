#!/usr/bin/env bash
# The main job's second half: the whole pipeline on this machine. A real Rekor v1 + Trillian
# (scripts/rekor.sh), cosign signing an OpenVEX statement, rekor_enqueue, rekor-meta-submitter logging
# it to that Rekor until the queue is drained, then the verified entry, its checkpoint, the witness
# status and rekor_vex_evidence answering proven and attested. Called by scripts/demo.sh with the
# demo cluster's environment (PGHOST, PGPORT) and database in $1.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DB="${1:-rekor_demo}"
export REKOR_LOCAL_DIR="$ROOT/target/demo-rekor" REKOR_HTTP_PORT=28990
bash scripts/rekor.sh build            # first run: go install of Rekor, Trillian, cosign (pinned; ~15 min once)
bash scripts/rekor.sh start
eval "$(bash scripts/rekor.sh env)"
echo "[demo] building rekor-meta-submitter"
cargo build --release -q -p rekor-meta-submitter
SUBMITTER="${CARGO_TARGET_DIR:-$ROOT/target}/release/rekor-meta-submitter"

W="$ROOT/target/demo-pipeline"
rm -rf "$W"; mkdir -p "$W"; chmod 755 "$W"
run_id="$(date -u +%Y%m%dT%H%M%SZ)"
cat > "$W/vex.json" <<VEX
{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/demo-$run_id",
 "author": "Demo Security Team", "timestamp": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "version": 1,
 "statements": [{"vulnerability": {"name": "CVE-2024-3094"},
                 "products": [{"@id": "pkg:generic/demo-app@$run_id"}],
                 "status": "not_affected", "justification": "vulnerable_code_not_present"}]}
VEX
echo "artifact demo-app $run_id" > "$W/demo-app.txt"
(cd "$W" && COSIGN_PASSWORD='' "$COSIGN" generate-key-pair >/dev/null 2>&1)
echo "[demo] cosign attest-blob --key cosign.key --type openvex --predicate vex.json (not uploaded: the submitter logs it)"
(cd "$W" && COSIGN_PASSWORD='' "$COSIGN" attest-blob --yes --key cosign.key --type openvex --predicate vex.json \
   --tlog-upload=false --output-signature envelope.json demo-app.txt >/dev/null 2>&1)
chmod 644 "$W"/*

echo
echo "== 15. The whole pipeline: trust the local Rekor, enqueue cosign's attestation with its verifier, link the VEX statement"
psql -X -v ON_ERROR_STOP=1 -d "$DB" -v keyfile="$REKOR_PUBLIC_KEY_FILE" -v host="$REKOR_HOSTNAME" -v url="$REKOR_URL" \
  -v envelope="$(cat "$W/envelope.json")" -v pub="$(cat "$W/cosign.pub")" -v vex="$(cat "$W/vex.json")" <<'SQL'
SELECT encode(rekor_add_log(pg_read_file(:'keyfile'), :'host'), 'hex') AS local_rekor_log_id \gset
SELECT rekor_set_log_endpoint(decode(:'local_rekor_log_id', 'hex'), :'url', 1);
SELECT base_url, api_version, signer_name, origin FROM rekor_log_endpoints;
SELECT rekor_enqueue(:'envelope'::jsonb, verifier => :'pub') AS queue_id \gset
SELECT queue_id, state, verifier_kind, verifier_key_type FROM rekor_submission_queue WHERE queue_id = :queue_id;
SELECT link_id, vulnerability, product, status, entry_id FROM rekor_link_vex(:'vex'::jsonb, :queue_id::bigint);
SQL
echo
echo "== 16. rekor-meta-submitter: dequeue, POST /api/v1/log/entries to the local Rekor, rekor_mark_submitted (verified in the database)"
"$SUBMITTER" --dsn "host=$PGHOST port=$PGPORT user=postgres dbname=$DB" --rekor-url "$REKOR_URL" \
  --worker demo-submitter --exit-when-idle 2>&1 | tail -n 3
echo
echo "== 17. The monitor witnesses the local log's checkpoint (rekor_witness_checkpoint)"
"$SUBMITTER" monitor --dsn "host=$PGHOST port=$PGPORT user=postgres dbname=$DB" --rekor-url "$REKOR_URL" --iterations 1 2>&1 | tail -n 2
echo
echo "== 18. The logged attestation, verified from scratch; its checkpoint; the witness; the auditor's answer"
psql -X -v ON_ERROR_STOP=1 -d "$DB" -v host="$REKOR_HOSTNAME" -v run="$run_id" <<'SQL'
SELECT q.queue_id, q.state, q.entry_id, e.kind, e.log_index, e.log_index_authenticated AS index_authenticated,
       e.integrated_time, rekor_verify_inclusion(q.entry_id) AS verified
FROM rekor_submission_queue q JOIN rekor_entries e USING (entry_id)
WHERE q.verifier IS NOT NULL ORDER BY q.queue_id DESC LIMIT 1;
SELECT c.checkpoint_id, c.origin, c.tree_size, encode(c.root_hash, 'hex') AS root_hash
FROM rekor_checkpoints c JOIN rekor_logs l USING (log_id) WHERE l.signer_name = :'host' ORDER BY c.tree_size DESC LIMIT 1;
SELECT signer_name, latest_tree_size, checkpoints, proven_consistent, all_consistent
FROM rekor_log_status WHERE signer_name = :'host';
SELECT status, justification, proof, entry_id, integrated_time, attested, statement_time
FROM rekor_vex_evidence('CVE-2024-3094', 'pkg:generic/demo-app@' || :'run');
SQL
bash scripts/rekor.sh stop >/dev/null
