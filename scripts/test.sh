#!/usr/bin/env bash
# Every test layer of rekor_meta. Exits non-zero when any layer fails.
#   1. cargo test of the plain-Rust core (no PostgreSQL)
#   2. cargo pgrx test: in-database #[pg_test]s (pgrx starts its own cluster as user postgres)
#   3. client-level integration tests against a real cluster this script starts and stops
#   4. the real pipeline: a local Rekor v1 + Trillian and a local Rekor v2 (rekor-tiles, POSIX) (scripts/rekor.sh),
#      cosign, rekor-meta-submitter
#   5. differential test against sigstore-go and the sigstore-conformance bundle-verify cases (tests/differential)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
LOG="$ROOT/target/test-output.log"
mkdir -p "$ROOT/target"
: > "$LOG"
# Runs one layer, keeping its output for the final tally.
layer() { "$@" 2>&1 | tee -a "$LOG"; }

echo "== [1/5] core unit tests"
layer cargo test -p rekor_meta_core --release --tests

echo "== [2/5] in-database tests (cargo pgrx test)"
PGRX_DATA="$ROOT/target/pgrx-test-data"
mkdir -p "$PGRX_DATA"
chown postgres:postgres "$PGRX_DATA"
if ! sudo -u postgres test -w "$PGRX_DATA"; then
  # A checkout under a directory user postgres cannot traverse: keep the pgrx test cluster in /tmp.
  PGRX_DATA="/tmp/rekor_meta-pgrx-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)"
  mkdir -p "$PGRX_DATA"
  chown postgres:postgres "$PGRX_DATA"
fi
layer cargo pgrx test pg15 --runas postgres --pgdata "$PGRX_DATA"

echo "== [3/5] client-level tests against a private cluster"
bash scripts/install.sh --release
bash scripts/package.sh   # the release tarball and .deb that tests/client/tests/deploy.rs installs into a clean PostgreSQL 15
export REKOR_CLUSTER_DIR="$ROOT/target/test-cluster" REKOR_PGPORT=28816
bash scripts/cluster.sh stop || true
# A fresh cluster every run: tests must not depend on leftovers (follows a /tmp symlink, see cluster.sh).
[ -L "$REKOR_CLUSTER_DIR" ] && rm -rf "$(readlink -f "$REKOR_CLUSTER_DIR")"
rm -rf "$REKOR_CLUSTER_DIR"
bash scripts/cluster.sh start
trap 'bash scripts/cluster.sh stop' EXIT
export REKOR_TEST_DSN="host=$REKOR_CLUSTER_DIR port=$REKOR_PGPORT user=postgres dbname=postgres"
layer cargo test -p rekor_meta_client_tests --release --tests --no-fail-fast -- --test-threads=2
echo "== [4/5] the real pipeline: local Rekor v1 + Trillian, local Rekor v2 (rekor-tiles), cosign attestations, rekor-meta-submitter"
bash scripts/rekor.sh build   # pinned go install, seconds when cached
# Rekor v1 on 28940 (Trillian and its storage 28941..28945), Rekor v2 on 28946 (rekor-tiles 28947..28949).
export REKOR_LOCAL_DIR="$ROOT/target/test-rekor" REKOR_HTTP_PORT=28940 REKOR_V2_PORT=28946
bash scripts/rekor.sh reset   # a new log every run: the tests count its size
trap 'bash scripts/rekor.sh stop || true; bash scripts/cluster.sh stop' EXIT
bash scripts/rekor.sh start
bash scripts/rekor.sh start-v2
eval "$(bash scripts/rekor.sh env)"
layer cargo build --release -p rekor-meta-submitter
export REKOR_SUBMITTER_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/rekor-meta-submitter"
layer cargo test --release -p rekor-meta-submitter
layer cargo test -p rekor_meta_client_tests --release --test pipeline --test pipeline_scale --test pipeline_v2 --test pipeline_routing -- --ignored --test-threads=1 --nocapture
echo "== [5/5] differential test against sigstore-go (tests/differential/run.sh, same cluster)"
layer bash tests/differential/run.sh   # its `test result:` lines join the total below; fails on an unexplained disagreement
# The bundles rekor_export_bundle wrote in layer 3 (tests/client/tests/bundles.rs), verified offline by sigstore-go.
layer "$ROOT/target/differential/rekor-differential" exported -dir "$ROOT/target/exported-bundles" -min 25
# One closing line over all layers (set -o pipefail has already stopped us on any failure).
sed 's/\x1b\[[0-9;]*m//g' "$LOG" | awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
  END { printf "total: %d passed, %d failed\n", p, f; exit (f > 0) }'
