#!/usr/bin/env bash
# The full pipeline figure (issue 11): attestations per second from enqueue to verified `submitted`
# through the real local Rekor v1 (scripts/rekor.sh), with 1 / 4 / 8 submitter processes, and the
# share of the submitters' time spent waiting on Rekor vs on the database. Reports, asserts nothing
# but correctness (every item submitted and re-verified).
#   bench/pipeline.sh [N]     N envelopes per run (default 600; REKOR_BENCH_N)
# Environment: REKOR_BENCH_SUBMITTERS (default "1 4 8"), REKOR_BENCH_CONCURRENCY (threads per
#   submitter, default 1), REKOR_BENCH_BATCH (default 8), REKOR_BENCH_SKIP_INSTALL=1 (use the
#   installed extension as is), REKOR_BENCH_TARGET_DIR (cargo target dir for the submitter).
# Own cluster (target/bench-pipeline-cluster, port 28861) and own Rekor (target/bench-rekor, ports
# 28960..28965), both stopped on exit. Output also in bench/out/pipeline-<UTC time>.txt.
#
# Envelopes are signed by python3-cryptography (ECDSA P-256 over the DSSE PAE, the form cosign
# writes): cosign takes ~0.7 s per attestation here, far slower than the pipeline being measured.
set -euo pipefail
BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
cd "$ROOT"
N="${1:-${REKOR_BENCH_N:-600}}"
SUBMITTERS="${REKOR_BENCH_SUBMITTERS:-1 4 8}"
CONC="${REKOR_BENCH_CONCURRENCY:-1}"
BATCH="${REKOR_BENCH_BATCH:-8}"
export REKOR_CLUSTER_DIR="$ROOT/target/bench-pipeline-cluster" REKOR_PGPORT=28861
export REKOR_LOCAL_DIR="$ROOT/target/bench-rekor" REKOR_HTTP_PORT=28960

bash "$ROOT/scripts/setup.sh" >/dev/null
if [ "${REKOR_BENCH_SKIP_INSTALL:-0}" != 1 ]; then
  bash "$ROOT/scripts/install.sh" --release
fi
TARGET_DIR="${REKOR_BENCH_TARGET_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}}"
CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --quiet -p rekor-meta-submitter
SUB="$TARGET_DIR/release/rekor-meta-submitter"
bash "$ROOT/scripts/rekor.sh" build >/dev/null

trap 'bash "$ROOT/scripts/rekor.sh" stop >/dev/null 2>&1 || true; bash "$ROOT/scripts/cluster.sh" stop || true' EXIT
bash "$ROOT/scripts/cluster.sh" start
bash "$ROOT/scripts/rekor.sh" reset >/dev/null
bash "$ROOT/scripts/rekor.sh" start
eval "$(bash "$ROOT/scripts/rekor.sh" env)"

WORK="$ROOT/target/bench-pipeline"
rm -rf "$WORK"; mkdir -p "$WORK"; chmod 755 "$WORK"
mkdir -p "$BENCH/out"
OUT="$BENCH/out/pipeline-$(date -u +%Y%m%dT%H%M%SZ).txt"
export PGOPTIONS="-c client_min_messages=warning"
PSQL=(/usr/lib/postgresql/15/bin/psql -X -q -v ON_ERROR_STOP=1 -h "$REKOR_CLUSTER_DIR" -p "$REKOR_PGPORT" -U postgres)

gen() {  # gen FILE PUBFILE N TAG: N signed envelopes, one JSON per line
  /usr/bin/python3 - "$@" <<'PY'
import base64, json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
out, pubfile, n, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
key = ec.generate_private_key(ec.SECP256R1())
open(pubfile, "w").write(key.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode())
b64 = lambda b: base64.b64encode(b).decode()
pt = "application/vnd.in-toto+json"
with open(out, "w") as f:
    for i in range(n):
        vex = {"@context": "https://openvex.dev/ns/v0.2.0", "@id": f"https://example.test/vex/{tag}-{i}",
               "author": "bench", "timestamp": "2026-12-01T00:00:00Z", "version": 1,
               "statements": [{"vulnerability": {"name": "CVE-2026-50000"},
                               "products": [{"@id": f"pkg:generic/bench-{tag}-{i}@1"}],
                               "status": "not_affected", "justification": "vulnerable_code_not_present"}]}
        stmt = json.dumps({"_type": "https://in-toto.io/Statement/v0.1", "predicateType": "https://openvex.dev/ns",
                           "subject": [{"name": f"bench-{tag}-{i}", "digest": {"sha256": "00" * 32}}],
                           "predicate": vex}, separators=(",", ":")).encode()
        pae = b"DSSEv1 %d %s %d " % (len(pt), pt.encode(), len(stmt)) + stmt
        sig = key.sign(pae, ec.ECDSA(hashes.SHA256()))
        f.write(json.dumps({"payloadType": pt, "payload": b64(stmt), "signatures": [{"keyid": "", "sig": b64(sig)}]}) + "\n")
PY
}

now() { date +%s.%N; }
{
echo "# bench/pipeline.sh: $N attestations per run, submitters: $SUBMITTERS (x $CONC threads, batch $BATCH)"
echo "# $(nproc) cores; Rekor $REKOR_URL (tree $REKOR_TREE_ID); $(date -u +%FT%TZ)"
printf '%-10s %10s %10s %10s %12s %10s %10s %10s %9s\n' submitters enqueue/s drain/s e2e/s "p-item ms" rekor_s db_s rekor% conflicts
} | tee "$OUT"
for S in $SUBMITTERS; do
  DB="bench_pipe_$S"
  "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB"
  "${PSQL[@]}" -d "$DB" -c "CREATE EXTENSION rekor_meta"
  cp "$REKOR_PUBLIC_KEY_FILE" "$WORK/rekor.pem"; chmod 644 "$WORK/rekor.pem"
  "${PSQL[@]}" -d "$DB" -v url="$REKOR_URL" -v host="$REKOR_HOSTNAME" -v keyfile="$WORK/rekor.pem" >/dev/null <<'SQL'
SELECT rekor_add_log(pg_read_file(:'keyfile'), :'host') AS log_id \gset
SELECT rekor_set_log_endpoint(:'log_id', :'url', 1);
SQL
  gen "$WORK/env-$S.jsonl" "$WORK/signer-$S.pem" "$N" "$S-$$"
  chmod 644 "$WORK"/*
  t0="$(now)"
  "${PSQL[@]}" -d "$DB" -v f="$WORK/env-$S.jsonl" -v pub="$WORK/signer-$S.pem" >/dev/null <<'SQL'
CREATE TEMP TABLE e (o bigserial, j text);
\set cmd '\\copy e (j) FROM ' :'f' ' WITH (FORMAT csv, QUOTE E''\\x01'', DELIMITER E''\\x02'')'
:cmd
SELECT count(rekor_enqueue(j::jsonb, NULL, 50, pg_read_file(:'pub'))) FROM (SELECT j FROM e ORDER BY o) x;
SQL
  t1="$(now)"
  pids=()
  for i in $(seq "$S"); do
    "$SUB" --dsn "host=$REKOR_CLUSTER_DIR port=$REKOR_PGPORT user=postgres dbname=$DB" --rekor-url "$REKOR_URL" \
      --worker "bench-$S-$i" --concurrency "$CONC" --batch "$BATCH" --poll-ms 50 --exit-when-idle \
      > "$WORK/sub-$S-$i.out" 2> "$WORK/sub-$S-$i.err" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || { echo "[bench] a submitter failed:"; tail "$WORK"/sub-"$S"-*.err; exit 1; }; done
  t2="$(now)"
  read -r submitted dead verified < <("${PSQL[@]}" -d "$DB" -tAF' ' -c \
    "SELECT count(*) FILTER (WHERE state = 'submitted'), count(*) FILTER (WHERE state = 'dead'),
            count(*) FILTER (WHERE state = 'submitted' AND rekor_verify_inclusion(entry_id)) FROM rekor_submission_queue")
  if [ "$submitted" != "$N" ] || [ "$verified" != "$N" ]; then
    echo "[bench] run with $S submitters: $submitted submitted, $verified verified, $dead dead of $N" >&2; exit 1
  fi
  cat "$WORK"/sub-"$S"-*.out | awk -v n="$N" -v s="$S" -v t0="$t0" -v t1="$t1" -v t2="$t2" '
    /^summary / { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] += kv[2] } }
    END {
      enq = t1 - t0; drain = t2 - t1;
      busy = v["http_seconds"] + v["db_seconds"];
      printf "%-10d %10.1f %10.1f %10.1f %12.1f %10.2f %10.2f %9.1f%% %9d\n", s, n / enq, n / drain, n / (t2 - t0),
        1000 * busy / n, v["http_seconds"], v["db_seconds"], 100 * v["http_seconds"] / (busy > 0 ? busy : 1), v["conflicts"]
    }' | tee -a "$OUT"
done
echo "# enqueue/s: rekor_enqueue with verifier, one statement; drain/s: first dequeue to last submitted; e2e/s: both;" | tee -a "$OUT"
echo "# p-item ms: submitter busy time per item (Rekor HTTP + database calls); rekor%: Rekor share of that busy time." | tee -a "$OUT"
