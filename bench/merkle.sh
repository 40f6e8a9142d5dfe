#!/usr/bin/env bash
# Merkle inclusion-proof verification benchmark (see bench/README.md), end to end:
#   bench/merkle.sh [N | --n N] [--runs R] [--lengths 10,20,40] [--keep]
# Sets up the toolchain (idempotent), installs the extension in release mode, starts a private
# benchmark cluster, runs the driver in release mode against it, and stops the cluster on exit.
# The driver's output is also saved in bench/out/merkle-<UTC time>.txt (bench/out is git-ignored).
# Environment: REKOR_BENCH_SKIP_INSTALL=1 skips scripts/install.sh (use the installed build as is);
#              REKOR_BENCH_TARGET_DIR builds the driver in another cargo target dir;
#              REKOR_CLUSTER_DIR / REKOR_PGPORT override the benchmark cluster (default below).
set -euo pipefail
BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
cd "$ROOT"

export REKOR_CLUSTER_DIR="${REKOR_CLUSTER_DIR:-$ROOT/target/bench-cluster}"
export REKOR_PGPORT="${REKOR_PGPORT:-28817}"

bash "$ROOT/scripts/setup.sh"
if [ "${REKOR_BENCH_SKIP_INSTALL:-0}" != 1 ]; then
  bash "$ROOT/scripts/install.sh" --release
fi

# The driver is a normal workspace binary; build it before the cluster starts so a compile error
# does not leave a cluster behind.
# REKOR_BENCH_TARGET_DIR puts the driver's build elsewhere without touching the extension build.
TARGET_DIR="${REKOR_BENCH_TARGET_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}}"
echo "[bench] building the driver (release, target dir $TARGET_DIR)"
CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --quiet -p rekor_meta_bench --bin merkle
DRIVER="$TARGET_DIR/release/merkle"

trap 'bash "$ROOT/scripts/cluster.sh" stop || true' EXIT
bash "$ROOT/scripts/cluster.sh" start
# (No restart needed for a fresh install: each new backend loads rekor_meta.so from disk.)

DSN="host=$REKOR_CLUSTER_DIR port=$REKOR_PGPORT user=postgres"
mkdir -p "$BENCH/out"
OUT="$BENCH/out/merkle-$(date -u +%Y%m%dT%H%M%SZ).txt"
echo "[bench] $DRIVER --dsn '$DSN' $*   (output also in ${OUT#$ROOT/})"
"$DRIVER" --dsn "$DSN" "$@" 2>&1 | tee "$OUT"
