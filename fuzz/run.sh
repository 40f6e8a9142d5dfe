#!/usr/bin/env bash
# Runs the rekor_meta_core fuzz targets one after another, each for a given time.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [target...]     (default: 600 s, every target)
#
# Works on stable Rust: RUSTC_BOOTSTRAP=1 lets stable rustc take the -Z flags cargo-fuzz passes
# (sanitizer, coverage instrumentation). The invocation, per target, is
#
#   RUSTC_BOOTSTRAP=1 cargo fuzz run -O -a --sanitizer address <target> \
#       target/corpus/<target> corpus/<target> -- -max_total_time=N -rss_limit_mb=2048 -timeout=25
#
# -O -a: release optimisations with debug assertions and overflow checks on (an arithmetic overflow
# in the core is a crash). FUZZ_SANITIZER=none runs without AddressSanitizer (about 1.7x the
# executions; the core forbids unsafe code, ASan mainly watches ring's C and assembly).
# New inputs go to target/corpus/<target> (git-ignored); the committed seeds in corpus/<target> are
# only read. Crash inputs land in artifacts/<target>/ (git-ignored). Logs: target/logs/<target>.log.
# Exit status: 0 when every target ran its time without a crash, 1 otherwise.
set -uo pipefail

cd "$(dirname "$0")"

SECONDS_PER_TARGET=${1:-600}
if [[ $# -gt 0 ]]; then shift; fi
if ! [[ $SECONDS_PER_TARGET =~ ^[0-9]+$ ]] || [[ $SECONDS_PER_TARGET -eq 0 ]]; then
    echo "usage: $0 [SECONDS_PER_TARGET] [target...]" >&2
    exit 2
fi
SANITIZER=${FUZZ_SANITIZER:-address}
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked || exit 1
fi

if [[ $# -gt 0 ]]; then
    TARGETS=("$@")
else
    mapfile -t TARGETS < <(cargo fuzz list)
fi

FLAGS=(-O -a --sanitizer "$SANITIZER")
echo "== building ${#TARGETS[@]} target(s): cargo fuzz build ${FLAGS[*]}"
for t in "${TARGETS[@]}"; do
    cargo fuzz build "${FLAGS[@]}" "$t" || { echo "build of $t failed" >&2; exit 1; }
done

mkdir -p target/logs
failed=()
summary=()
for t in "${TARGETS[@]}"; do
    mkdir -p "target/corpus/$t" "corpus/$t"
    log="target/logs/$t.log"
    echo "== $t: ${SECONDS_PER_TARGET}s (log: fuzz/$log)"
    cargo fuzz run "${FLAGS[@]}" "$t" "target/corpus/$t" "corpus/$t" -- \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -timeout=25 -print_final_stats=1 \
        >"$log" 2>&1
    rc=$?
    done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1)
    last_status=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    cov=$(sed -nE 's/.* cov: ([0-9]+) ft: ([0-9]+) corp: ([0-9]+\/[^ ]+).*/cov \1, ft \2, corpus \3/p' <<<"$last_status")
    if [[ $rc -eq 0 && -n $done_line ]]; then
        runs=$(sed -E 's/^Done ([0-9]+) runs in ([0-9]+) second.*/\1/' <<<"$done_line")
        secs=$(sed -E 's/^Done ([0-9]+) runs in ([0-9]+) second.*/\2/' <<<"$done_line")
        line=$(printf '%-15s ok     %12s runs in %5s s  (%s/s; %s)' "$t" "$runs" "$secs" "$((runs / (secs > 0 ? secs : 1)))" "$cov")
    else
        failed+=("$t")
        line=$(printf '%-15s FAILED (exit %s; %s)' "$t" "$rc" "${last_status:-no status line}")
        echo "---- last lines of $log:"
        tail -n 40 "$log"
        grep -E 'Test unit written to|artifact_prefix' "$log" || true
    fi
    echo "$line"
    summary+=("$line")
done

echo
echo "== summary (${SECONDS_PER_TARGET}s per target, sanitizer: $SANITIZER)"
printf '%s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "crashed or failed: ${failed[*]}" >&2
    exit 1
fi
