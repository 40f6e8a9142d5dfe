#!/usr/bin/env bash
# Checkpoint verification (bench/README.md, "Checkpoints"): rekor_verify_checkpoint vs the ring crate, same run.
#   bench/checkpoints.sh [N]
# Own cluster (target/bench-checkpoints-cluster, port 28973), release build installed if missing (bench/lib.sh);
# REKOR_BENCH_TARGET_DIR builds the driver in another cargo target dir.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TARGET_DIR="${REKOR_BENCH_TARGET_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}}"
CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --quiet -p rekor_meta_bench --bin checkpoints   # before the cluster starts
bench_start checkpoints 28973
"$TARGET_DIR/release/checkpoints" --dsn "host=$REKOR_CLUSTER_DIR port=$REKOR_PGPORT user=postgres" "$@" 2>&1 | tee -a "$OUT"
