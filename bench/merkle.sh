#!/usr/bin/env bash
# Merkle inclusion-proof verification (bench/README.md, "Merkle"): the in-database verifier vs PL/pgSQL + pgcrypto, same run.
#   bench/merkle.sh [N | --n N] [--runs R] [--lengths 10,20,40] [--keep]
# Own cluster (target/bench-merkle-cluster, port 28972), release build installed if missing (bench/lib.sh);
# REKOR_BENCH_TARGET_DIR builds the driver in another cargo target dir.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TARGET_DIR="${REKOR_BENCH_TARGET_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}}"
CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --quiet -p rekor_meta_bench --bin merkle   # before the cluster starts
bench_start merkle 28972
"$TARGET_DIR/release/merkle" --dsn "host=$REKOR_CLUSTER_DIR port=$REKOR_PGPORT user=postgres" "$@" 2>&1 | tee -a "$OUT"
