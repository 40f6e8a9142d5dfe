#!/usr/bin/env bash
# Rekor entries benchmark (see bench/README.md, section "Entries"), end to end:
#   bench/entries.sh [N] [driver options: --runs R --set-runs R --lookup-size M --lookups K --sample S --keep]
# Sets up the toolchain (idempotent), installs the extension in release mode, starts a private
# benchmark cluster, runs the driver in release mode against it, and stops the cluster on exit.
# The driver's output is also saved in bench/out/entries-<UTC time>.txt (bench/out is git-ignored).
# Environment: REKOR_BENCH_SKIP_INSTALL=1 skips scripts/install.sh (use the installed build as is);
#              REKOR_BENCH_TARGET_DIR builds the driver in another cargo target dir;
#              REKOR_CLUSTER_DIR / REKOR_PGPORT override the benchmark cluster (default below).
set -euo pipefail
BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
cd "$ROOT"

export REKOR_CLUSTER_DIR="${REKOR_CLUSTER_DIR:-$ROOT/target/bench-entries-cluster}"
export REKOR_PGPORT="${REKOR_PGPORT:-28821}"

bash "$ROOT/scripts/setup.sh"
if [ "${REKOR_BENCH_SKIP_INSTALL:-0}" != 1 ]; then
  bash "$ROOT/scripts/install.sh" --release
fi

# Build the driver before the cluster starts so a compile error does not leave a cluster behind.
TARGET_DIR="${REKOR_BENCH_TARGET_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}}"
echo "[bench] building the driver (release, target dir $TARGET_DIR)"
CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --quiet -p rekor_meta_bench --bin entries
DRIVER="$TARGET_DIR/release/entries"

trap 'bash "$ROOT/scripts/cluster.sh" stop || true' EXIT
bash "$ROOT/scripts/cluster.sh" start

DSN="host=$REKOR_CLUSTER_DIR port=$REKOR_PGPORT user=postgres"
mkdir -p "$BENCH/out"
OUT="$BENCH/out/entries-$(date -u +%Y%m%dT%H%M%SZ).txt"
echo "[bench] $DRIVER --dsn '$DSN' $*   (output also in ${OUT#$ROOT/})"
"$DRIVER" --dsn "$DSN" "$@" 2>&1 | tee "$OUT"
