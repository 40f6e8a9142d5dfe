#!/usr/bin/env bash
# Rekor entries (bench/README.md, "Entries"): COPY and INSERT ... SELECT through the verifying trigger vs without (and vs
# the pure ring cost of the SETs), re-verification, bulk re-verification at 1M, digest search at M (the target: 10M).
#   bench/entries.sh [N] [--runs R --set-runs R --set-n N2 --no-insert-select --lookup-size M --lookups K
#                     --bulk-size B --bulk-runs R --sample S --keep]
#   10M lookups (~50 GB free disk): bench/entries.sh 100000 --runs 1 --set-runs 0 --lookup-size 10000000 --bulk-runs 0
# Own cluster (target/bench-entries-cluster, port 28971), release build installed if missing (bench/lib.sh);
# REKOR_BENCH_TARGET_DIR builds the driver in another cargo target dir.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TARGET_DIR="${REKOR_BENCH_TARGET_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}}"
CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --quiet -p rekor_meta_bench --bin entries   # before the cluster starts
bench_start entries 28971
"$TARGET_DIR/release/entries" --dsn "host=$REKOR_CLUSTER_DIR port=$REKOR_PGPORT user=postgres" "$@" 2>&1 | tee -a "$OUT"
