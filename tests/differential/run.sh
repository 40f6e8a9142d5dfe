#!/usr/bin/env bash
# Differential test: rekor_meta against sigstore-go on the transparency-log part of every real bundle
# and REST response in tests/fixtures (and, with DIFF_INPUTS, cosign bundles from a local Rekor), their
# seeded mutations and trust-root variants; then the sigstore-conformance bundle-verify cases.
#
#   tests/differential/run.sh [diff flags...]
#
# The cluster: REKOR_TEST_DSN ("host=DIR port=PORT user=postgres"), or REKOR_CLUSTER_DIR + REKOR_PGPORT.
# The extension must be installed (scripts/install.sh). Databases rekor_differential* and
# rekor_conformance_* are dropped and created on that cluster.
# Env: DIFF_INPUTS (colon-separated files/folders of more bundles / REST responses; also everything under
# target/differential-inputs/ when it exists), DIFF_EXTRA_ROOTS
# (colon-separated trusted_root.json files merged into the trust), DIFF_SEED, DIFF_RANDOM (random edits
# per base), DIFF_SKIP_CONFORMANCE=1.
# Exit status: 0 when every disagreement is matched by exactly one rule of tests/differential/deliberate.txt
# and every sigstore-conformance case gets its expected tlog verdict, 1 otherwise, 2 on a setup error.
# Output: the tables on stdout, target/differential/{results.jsonl,examples/,report.txt,conformance.txt};
# the last lines are `test result: ...` (cargo's format, counted by scripts/test.sh) and
# `differential: N passed, M failed`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$ROOT/target/differential"
BIN="$OUT/rekor-differential"
mkdir -p "$OUT"
log() { printf '[differential] %s\n' "$*" >&2; }

if [ -z "${REKOR_TEST_DSN:-}" ]; then
  if [ -n "${REKOR_CLUSTER_DIR:-}" ] && [ -n "${REKOR_PGPORT:-}" ]; then
    REKOR_TEST_DSN="host=$REKOR_CLUSTER_DIR port=$REKOR_PGPORT user=postgres"
  else
    log "set REKOR_TEST_DSN='host=DIR port=PORT user=postgres' or REKOR_CLUSTER_DIR and REKOR_PGPORT"; exit 2
  fi
fi
export REKOR_TEST_DSN

# Build (cached): only when a source file, go.mod or go.sum is newer than the binary.
GO="$(command -v go || echo /usr/local/go/bin/go)"
[ -x "$GO" ] || { log "go is not installed"; exit 2; }
export GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:--buildvcs=false}"
if [ ! -x "$BIN" ] || [ -n "$(find "$ROOT/tests/differential" -maxdepth 1 \( -name '*.go' -o -name go.mod -o -name go.sum \) -newer "$BIN" -print -quit)" ]; then
  t0=$SECONDS
  log "building $(grep -m1 'sigstore/sigstore-go ' "$ROOT/tests/differential/go.mod" | xargs) ..."
  (cd "$ROOT/tests/differential" && "$GO" build -trimpath -o "$BIN" .)
  log "built in $((SECONDS - t0)) s"
fi
[ -f /usr/share/postgresql/15/extension/rekor_meta.control ] || [ -f "$(pg_config --sharedir 2>/dev/null)/extension/rekor_meta.control" ] \
  || { log "rekor_meta is not installed: run scripts/install.sh"; exit 2; }

cd "$ROOT"
# Bundles / REST responses from a real local Rekor (cosign output) can also be dropped into
# target/differential-inputs/ (with their trusted_root.json, picked up as an extra root).
INPUTS="${DIFF_INPUTS:-}"
if [ -d "$ROOT/target/differential-inputs" ]; then
  INPUTS="${INPUTS:+$INPUTS:}$ROOT/target/differential-inputs"
  while IFS= read -r r; do DIFF_EXTRA_ROOTS="${DIFF_EXTRA_ROOTS:+$DIFF_EXTRA_ROOTS:}$r"; done \
    < <(find "$ROOT/target/differential-inputs" -name 'trusted_root*.json' | sort)
  export DIFF_EXTRA_ROOTS
fi
rc=0
t0=$SECONDS
"$BIN" diff -repo "$ROOT" -dsn "$REKOR_TEST_DSN" -seed "${DIFF_SEED:-20261203}" -random "${DIFF_RANDOM:-20}" \
  -inputs "$INPUTS" "$@" | tee "$OUT/report.txt" || rc=$?
t1=$SECONDS
crc=0
if [ "${DIFF_SKIP_CONFORMANCE:-0}" != 1 ]; then
  "$BIN" conformance -strict -repo "$ROOT" -dsn "$REKOR_TEST_DSN" | tee "$OUT/conformance.txt" || crc=$?
  [ "$rc" -ne 0 ] || rc=$crc
fi

# Closing lines in cargo's format, which scripts/test.sh's `total:` line counts, then the
# differential's own line (passed = agreements + deliberate disagreements).
tally() { # NAME PASSED FAILED SECONDS
  local word=ok; [ "$3" -eq 0 ] || word=FAILED
  printf 'test result: %s. %d passed; %d failed; 0 ignored; 0 measured; 0 filtered out; finished in %ss (%s)\n' "$word" "$2" "$3" "$4" "$1"
}
read -r dp df < <(sed -n 's/^differential: \([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$OUT/report.txt" | tail -1) || true
[ -n "${dp:-}" ] || { dp=0; df=1; }      # no summary: the run itself failed
[ "$rc" -eq 0 ] || [ "$df" -gt 0 ] || [ "$crc" -ne 0 ] || df=1
if [ "${DIFF_SKIP_CONFORMANCE:-0}" != 1 ]; then
  read -r cp cf < <(sed -n 's/^conformance: [0-9]* cases; rekor_meta matches the tlog expectation on \([0-9]*\), differs on \([0-9]*\);.*/\1 \2/p' "$OUT/conformance.txt" | tail -1) || true
  [ -n "${cp:-}" ] || { cp=0; cf=1; }
  tally "sigstore-conformance bundle-verify, transparency-log part" "$cp" "$cf" "$((SECONDS - t1))"
fi
tally "differential against sigstore-go" "$dp" "$df" "$((t1 - t0))"
echo "differential: $dp passed, $df failed"
exit "$rc"
