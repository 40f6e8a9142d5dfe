#!/usr/bin/env bash
# Checkpoint verification benchmark (see bench/README.md): bench/checkpoints.sh [N]
# In-database rekor_verify_checkpoint (ECDSA P-256 and Ed25519) vs the crate's own speed, same run.
set -euo pipefail
BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
cd "$ROOT"
export REKOR_CLUSTER_DIR="${REKOR_CLUSTER_DIR:-$ROOT/target/bench-ckpt-cluster}"
export REKOR_PGPORT="${REKOR_PGPORT:-28822}"
bash "$ROOT/scripts/setup.sh"
[ "${REKOR_BENCH_SKIP_INSTALL:-0}" = 1 ] || bash "$ROOT/scripts/install.sh" --release
TARGET_DIR="${REKOR_BENCH_TARGET_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}}"
CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --quiet -p rekor_meta_bench --bin checkpoints
trap 'bash "$ROOT/scripts/cluster.sh" stop || true' EXIT
bash "$ROOT/scripts/cluster.sh" start
mkdir -p "$BENCH/out"
"$TARGET_DIR/release/checkpoints" --dsn "host=$REKOR_CLUSTER_DIR port=$REKOR_PGPORT user=postgres" "$@" 2>&1 \
  | tee "$BENCH/out/checkpoints-$(date -u +%Y%m%dT%H%M%SZ).txt"
