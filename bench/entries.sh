#!/usr/bin/env bash
# Rekor entries (bench/README.md, "Entries"): COPY through the verifying trigger vs without, re-verification, digest search.
#   bench/entries.sh [N] [--runs R --set-runs R --lookup-size M --lookups K --sample S --keep]
# Own cluster (target/bench-entries-cluster, port 28971), release build installed if missing (bench/lib.sh);
# REKOR_BENCH_TARGET_DIR builds the driver in another cargo target dir.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
TARGET_DIR="${REKOR_BENCH_TARGET_DIR:-${CARGO_TARGET_DIR:-$ROOT/target}}"
CARGO_TARGET_DIR="$TARGET_DIR" cargo build --release --quiet -p rekor_meta_bench --bin entries   # before the cluster starts
bench_start entries 28971
"$TARGET_DIR/release/entries" --dsn "host=$REKOR_CLUSTER_DIR port=$REKOR_PGPORT user=postgres" "$@" 2>&1 | tee -a "$OUT"
