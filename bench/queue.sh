#!/usr/bin/env bash
# Submission-queue benchmark (see bench/README.md, section "Queue"), end to end:
#   bench/queue.sh [--quick] [driver options: --secs S --clients 1,4,8 --pending N --vacuum-secs S
#                             --sections enqueue,dequeue,full,latency,vacuum,profile --keep]
# Sets up the toolchain (idempotent), installs the extension in release mode, starts a private
# benchmark cluster, runs the driver in release mode against it, and stops the cluster on exit.
# The full run takes about 11 minutes (5 of them the held-back-vacuum test); --quick about 2.5
# minutes (no vacuum test, 100k instead of 1M pending rows, 1.5 s per throughput figure).
# The driver's output is also saved in bench/out/queue-<UTC time>.txt (bench/out is git-ignored).
# Environment: REKOR_BENCH_SKIP_INSTALL=1 skips scripts/install.sh (use the installed build as is);
#              REKOR_BENCH_TARGET_DIR builds the driver in another cargo target dir;
#              REKOR_CLUSTER_DIR / REKOR_PGPORT override the benchmark cluster (default below).
set -euo pipefail
BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
cd "$ROOT"

export REKOR_CLUSTER_DIR="${REKOR_CLUSTER_DIR:-$ROOT/target/bench-queue-cluster}"
export REKOR_PGPORT="${REKOR_PGPORT:-28823}"

bash "$ROOT/scripts/setup.sh"
if [ "${REKOR_BENCH_SKIP_INSTALL:-0}" != 1 ]; then
  bash "$ROOT/scripts/install.sh" --release
fi
SO="$(/usr/lib/postgresql/15/bin/pg_config --pkglibdir)/rekor_meta.so"
SO_BYTES="$(stat -c %s "$SO")"
echo "[bench] installed $(ls -la "$SO")"
if [ "$SO_BYTES" -gt 8000000 ]; then
  # A debug build (e.g. from `cargo pgrx test`) is many times larger and much slower.
  echo "[bench] WARNING: $SO is $SO_BYTES bytes: that looks like a DEBUG build; run scripts/install.sh --release" >&2
fi

# Build the driver before the cluster starts so a compile error does not leave a cluster behind.
TARGET_DIR="${REKOR_BENCH_TARGET_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}}"
echo "[bench] building the driver (release, target dir $TARGET_DIR)"
CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --quiet -p rekor_meta_bench --bin queue
DRIVER="$TARGET_DIR/release/queue"

trap 'bash "$ROOT/scripts/cluster.sh" stop || true' EXIT
bash "$ROOT/scripts/cluster.sh" start
# (No restart needed for a fresh install: each new backend loads rekor_meta.so from disk.)

DSN="host=$REKOR_CLUSTER_DIR port=$REKOR_PGPORT user=postgres"
mkdir -p "$BENCH/out"
OUT="$BENCH/out/queue-$(date -u +%Y%m%dT%H%M%SZ).txt"
echo "[bench] $DRIVER --dsn '$DSN' $*   (output also in ${OUT#$ROOT/})"
"$DRIVER" --dsn "$DSN" "$@" 2>&1 | tee "$OUT"
