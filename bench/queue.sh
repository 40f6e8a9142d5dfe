#!/usr/bin/env bash
# Queue benchmark (bench/README.md, "Queue"): rekor_meta's queue, a plain SKIP LOCKED table and pgmq, same
# run, same database, pgbench scripts in bench/queue/ at 1 / 4 / 8 clients, then the held-back-xmin run.
#   bench/queue.sh [SECS]         SECS per figure (default 15; REKOR_BENCH_SECS)
# Environment: REKOR_BENCH_CLIENTS ("1 4 8"), REKOR_BENCH_WORKLOADS ("deq1 deq100 enq100"),
#   REKOR_BENCH_HOLD_SECS (60; 0 skips the held-xmin run), REKOR_BENCH_RATE (paced dequeues/s in it, 300),
#   REKOR_BENCH_SCALE (0; N > 1000 adds the scale phase: dequeue + ack at 1,000 vs N pending, REKOR_BENCH_SCALE_TXNS
#   transactions per run, 800), REKOR_BENCH_INSTALL=1 (reinstall the release build first).
#   Own cluster: target/bench-queue-cluster, port 28970.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SECS="${1:-${REKOR_BENCH_SECS:-15}}"
CLIENTS="${REKOR_BENCH_CLIENTS:-1 4 8}"
WORKLOADS="${REKOR_BENCH_WORKLOADS-deq1 deq100 enq100}"   # "" = none (the held-xmin run only)
HOLD="${REKOR_BENCH_HOLD_SECS:-60}"
RATE="${REKOR_BENCH_RATE:-300}"
SCALE="${REKOR_BENCH_SCALE:-0}"        # pending items of the scale phase (0 skips it; e.g. 10000000)
SCALE_TXNS="${REKOR_BENCH_SCALE_TXNS:-800}"
CAP_DEQ1=6000 CAP_DEQ100=45000        # fill per second of figure: items/s no queue here reaches
CAP_ENQ100=90000                      # envelopes per second of figure that rekor never gets twice (it reached 50k)
PGMQ_CRATE=0.33.7                     # crates.io `pgmq` crate, which embeds pgmq's SQL (pinned)
DB=rekor_bench_queue
bench_start queue 28970
W="$ROOT/target/bench-queue"; rm -rf "$W"; mkdir -p "$W"; chmod 755 "$W"

# pgmq's SQL as the crate ships it (src/install/embedded/), fetched by cargo into its cache.
crate="$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/pgmq-$PGMQ_CRATE.crate 2>/dev/null | head -1 || true)"
[ -n "$crate" ] || { (cd "$W" && cargo info "pgmq@$PGMQ_CRATE" >/dev/null); crate="$(ls "${CARGO_HOME:-$HOME/.cargo}"/registry/cache/*/pgmq-$PGMQ_CRATE.crate | head -1)"; }
tar xzf "$crate" -C "$W" --strip-components=4 "pgmq-$PGMQ_CRATE/src/install/embedded/sql/pgmq.sql" "pgmq-$PGMQ_CRATE/src/install/embedded/pgmq.control"
PGMQ_VERSION="$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$W/pgmq.control")"

STAGE=${REKOR_BENCH_STAGE:-$(( CAP_ENQ100 * SECS > 200000 ? CAP_ENQ100 * SECS : 200000 ))}   # envelopes generated once
{
echo "# pgmq $PGMQ_VERSION (SQL of crates.io pgmq $PGMQ_CRATE, sha256 $(sha256sum "$W/sql/pgmq.sql" | cut -c1-16), installed as plain SQL)"
[ -z "$WORKLOADS" ] || echo "# $SECS s per figure, clients: $CLIENTS; pgbench -M prepared, one connection per client, -j up to $(nproc)"
"$PGBIN/dropdb" --if-exists "$DB"; "$PGBIN/createdb" "$DB"
"${PSQL[@]}" -d "$DB" -v bundle="$(cat "$ROOT/tests/fixtures/upstream/bundle-dsse.sigstore.json")" \
  -v pgmq_sql="$W/sql/pgmq.sql" -f "$BENCH/queue/setup.sql" >/dev/null
t0=$(date +%s)
for half in 0 1; do   # the envelopes, generated and digested once (two backends)
  "${PSQL[@]}" -d "$DB" -c "INSERT INTO bench_stage SELECT i, e, d.* FROM generate_series($half, $STAGE - 1, 2) i,
     LATERAL bench_envelope(i) e, LATERAL rekor_dsse_info(e) d" &
done; wait
"${PSQL[@]}" -d "$DB" -c "VACUUM (ANALYZE) bench_stage"
echo "# staged $STAGE envelopes in $(( $(date +%s) - t0 )) s"
} 2>&1 | tee -a "$OUT"

sql() { "${PSQL[@]}" -d "$DB" -At -c "$1"; }
vacuum() { sql "VACUUM (ANALYZE) rekor_submission_queue, rekor_submission_keys, bench_plain_queue, pgmq.q_bench" >/dev/null; }
per_item() { case "$1" in deq1) echo 1;; *) echo 100;; esac; }
limit_ms() { case "$1" in deq1) echo 5;; *) echo 50;; esac; }   # pgbench --latency-limit: slower ones are "late"

# run KIND WORKLOAD CLIENTS: refill, one pgbench run, a result line "KIND WORKLOAD C items/s lat_ms late% s1_ms s2_ms flag".
run() {
  local kind=$1 w=$2 c=$3 n=0 flag=ok log="$W/$1_$2_c$3.txt"
  case $w in deq1) n=$((CAP_DEQ1 * SECS));; deq100) n=$((CAP_DEQ100 * SECS));; esac
  local limit; limit=$(limit_ms "$w")
  sql "SELECT bench_fill('$kind', $n)" >/dev/null; vacuum; sql CHECKPOINT >/dev/null
  "$PGBIN/pgbench" -n -M prepared -c "$c" -j "$(( c < $(nproc) ? c : $(nproc) ))" -T "$SECS" -r --latency-limit="$limit" \
    -D nc="$c" -D k=0 -D stage="$STAGE" -f "$BENCH/queue/${kind}_$w.sql" "$DB" >"$log" 2>&1 || flag=ERROR
  local txns; txns=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$log")
  if [ "$w" = enq100 ]; then   # rekor_enqueue_batch is idempotent: a wrapped-around stage would flatter it
    [ "$kind" != rekor ] || [ "$(sql "SELECT count(*) FROM rekor_submission_queue")" = "$((txns * 100))" ] || flag=REPEATED
  else
    [ "$(sql "SELECT bench_pending('$kind')")" -gt 0 ] || flag=DRAINED
  fi
  awk -v k="$kind" -v w="$w" -v c="$c" -v per="$(per_item "$w")" -v flag="$flag" '
    /^tps = / { tps = $3 } /^latency average/ { lat = $4 }
    /latency limit:/ { late = $NF; gsub(/[()%]/, "", late) }
    /^ +[0-9.]+ +[0-9]+ +[A-Z]/ { s[++ns] = $1 }
    END { printf "%-5s %-6s %2d %10.0f %8.3f %6.2f %8.3f %8.3f %s\n", k, w, c, tps * per, lat, late, s[1], s[2], flag }' "$log"
}

[ -z "$WORKLOADS" ] || {
echo
echo "Throughput (items/s; latency = pgbench's average per transaction, ms; late = share over 5 ms (single) / 50 ms (batches); s1/s2 = per-statement average, ms)"
printf '%-5s %-6s %2s %10s %8s %6s %8s %8s %s\n' queue test c items/s lat_ms late% s1_ms s2_ms flag
i=0
for w in $WORKLOADS; do for c in $CLIENTS; do
  case $((i++ % 3)) in 0) order="rekor plain pgmq";; 1) order="plain pgmq rekor";; *) order="pgmq rekor plain";; esac
  for kind in $order; do run "$kind" "$w" "$c" | tee -a "$W/results"; done
done; done
echo
echo "Ratios (same run): rekor/pgmq and rekor/plain of items/s"
awk '{ v[$1 " " $2 " " $3] = $4; if (!seen[$2 " " $3]++) key[++n] = $2 " " $3 }
     END { for (i = 1; i <= n; i++) { split(key[i], a, " ");
             r = v["rekor " key[i]]; g = v["pgmq " key[i]]; p = v["plain " key[i]];
             printf "QUEUE_BENCH test=%s clients=%s rekor=%.0f pgmq=%.0f plain=%.0f rekor_over_pgmq=%.2f rekor_over_plain=%.2f\n",
                    a[1], a[2], r, g, p, (g ? r / g : 0), (p ? r / p : 0) } }' "$W/results"
} 2>&1 | tee -a "$OUT"

if [ "$HOLD" -gt 0 ]; then
# Held-back xmin: each consumer one client paced at RATE dequeue+ack/s (-R), HOLD s as they are, then HOLD s each
# while another session keeps a REPEATABLE READ snapshot and an xid open for the whole (3 x HOLD s) run.
pctl() {  # pctl LOGPREFIX [FROM_S]: p50 p99 of statement time (pgbench's time minus schedule lag), ms
  cat "$1".* | awk -v from="${2:-0}" 'NR == 1 { t0 = $5 } $5 - t0 >= from { print ($3 - $7) / 1000 }' | sort -n |
    awk '{ v[NR] = $1 } END { printf "%.3f %.3f", v[int(NR * 0.50) + 1], v[int(NR * 0.99) + 1] }'
}
phase() {  # phase NAME: the three paced consumers one after another (each table only gets its own garbage), HOLD s each
  for kind in rekor plain pgmq; do
    "$PGBIN/pgbench" -n -M prepared -c 1 -j 1 -R "$RATE" -T "$HOLD" -l --log-prefix="$W/$1_$kind" \
      -f "$BENCH/queue/${kind}_deq1.sql" "$DB" >"$W/$1_$kind.txt" 2>&1
  done
}
dead() { sql "SELECT dead_tuple_count FROM pgstattuple('$1')"; }
{
sql "SELECT bench_reset(); SELECT bench_fill(k, $((RATE * HOLD * 3)), false) FROM unnest('{rekor,plain,pgmq}'::text[]) k" >/dev/null
vacuum; sql CHECKPOINT >/dev/null
phase unheld
vacuum
"${PSQL[@]}" -d "$DB" -c "SET application_name = bench_holder" -c "BEGIN ISOLATION LEVEL REPEATABLE READ" \
  -c "SELECT txid_current()" -c "SELECT pg_sleep($HOLD + 600)" >/dev/null 2>&1 &
sleep 1
phase held
sleep 1   # (pgstattuple reads the tables themselves; the sleep only lets the last backend exit)
declare -A D=([rekor]=$(dead rekor_submission_queue) [plain]=$(dead bench_plain_queue) [pgmq]=$(dead pgmq.q_bench))
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'bench_holder'" >/dev/null; wait
echo
echo "Held-back xmin: dequeue+ack paced at $RATE/s, one client, each queue in turn: $HOLD s unheld, then $HOLD s with a transaction holding xmin"
echo "(transaction time = dequeue + ack with their commits minus the schedule lag, ms; tps = achieved rate; dead = dead tuples in the queue table at the end of the hold)"
printf '%-5s %10s %10s %10s %10s %10s %10s %14s %8s %8s %8s\n' queue unheld_tps unheld_p50 unheld_p99 held_tps held_p50 held_p99 "held_p99_last10s" p99_x dead dead/txn
for kind in rekor plain pgmq; do
  read -r u50 u99 <<<"$(pctl "$W/unheld_$kind")"; read -r h50 h99 <<<"$(pctl "$W/held_$kind")"
  read -r _ l99 <<<"$(pctl "$W/held_$kind" $((HOLD - 10)))"
  tps() { sed -n 's/^tps = \([0-9]*\).*/\1/p' "$W/$1_$kind.txt"; }
  txns=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$W/held_$kind.txt")
  printf '%-5s %10s %10s %10s %10s %10s %10s %14s %7.1fx %8s %8.2f\n' "$kind" "$(tps unheld)" "$u50" "$u99" "$(tps held)" "$h50" "$h99" "$l99" \
    "$(awk -v a="$h99" -v b="$u99" 'BEGIN { print a / b }')" "${D[$kind]}" "$(awk -v a="${D[$kind]}" -v b="$txns" 'BEGIN { print a / b }')"
  echo "QUEUE_BENCH test=held_xmin queue=$kind unheld_p99_ms=$u99 held_p99_ms=$h99 dead_tuples=${D[$kind]}" >>"$W/held"
done
cat "$W/held"
} 2>&1 | tee -a "$OUT"
fi

[ "$SCALE" -gt 0 ] || exit 0
# Scale: single dequeue + ack (rekor only) with 1,000 pending items, then with SCALE pending, then 1,000 again.
# The head of the queue is 1,000 staged envelopes either way (what the timed transactions dequeue); behind it
# SCALE - 1,000 small pending items, inserted by one INSERT ... SELECT with user triggers off (their envelope
# keys are left out: dequeue never reads rekor_submission_keys). Each run: pgbench -c 1 -t SCALE_TXNS with
# synchronous_commit off, so that the figure is the dequeue's and ack's own work, not the disk's flush latency.
scale_run() {  # scale_run NAME PENDING: fill, analyze, one timed run; prints "NAME PENDING tps latency_ms table_size"
  sql "SELECT bench_reset(); SELECT bench_fill('rekor', 1000, false); SELECT bench_scale_fill($2 - 1000)" >/dev/null
  sql "ANALYZE rekor_submission_queue" >/dev/null; sql CHECKPOINT >/dev/null
  PGOPTIONS="$PGOPTIONS -c synchronous_commit=off" "$PGBIN/pgbench" -n -M prepared -c 1 -j 1 -t "$SCALE_TXNS" \
    -f "$BENCH/queue/rekor_deq1.sql" "$DB" >"$W/scale_$1.txt" 2>&1
  echo "$1 $2 $(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$W/scale_$1.txt") $(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$W/scale_$1.txt")" \
       "$(sql "SELECT pg_size_pretty(pg_total_relation_size('rekor_submission_queue'))" | tr -d ' ')"
}
{
echo
echo "Scale: rekor single dequeue + ack, one client, $SCALE_TXNS transactions per run (synchronous_commit off), at 1,000 and at $SCALE pending items"
t0=$(date +%s)
small1=$(scale_run small1 1000); large=$(scale_run large "$SCALE"); small2=$(scale_run small2 1000)
printf '%s\n' "$small1" "$large" "$small2" | awk '{ printf "%-7s pending=%-10s tps=%8.1f latency_ms=%7.3f queue_table=%s\n", $1, $2, $3, $4, $5 }'
echo "# scale phase took $(( $(date +%s) - t0 )) s"
awk -v a="$small1" -v b="$large" -v c="$small2" -v n="$SCALE" 'BEGIN { split(a, x, " "); split(b, y, " "); split(c, z, " ");
  s = (x[4] + z[4]) / 2; printf "QUEUE_BENCH test=scale pending_small=1000 pending_large=%s small_latency_ms=%.3f large_latency_ms=%.3f large_over_small=%.2f\n", n, s, y[4], (s ? y[4] / s : 0) }'
sql "SELECT bench_reset()" >/dev/null
} 2>&1 | tee -a "$OUT"
