# Sourced by bench/*.sh. `bench_start NAME PORT` gives the script a private cluster (target/bench-NAME-cluster
# on PORT unless REKOR_CLUSTER_DIR / REKOR_PGPORT say otherwise; stopped when the script exits), makes sure
# pgbench is there and that a release build of rekor_meta is installed: scripts/install.sh --release runs
# only when the current version's install script is missing (or REKOR_BENCH_INSTALL=1 forces it), so a
# bench never rebuilds under other engineers' feet. Sets ROOT, BENCH, PGBIN, PSQL (array), OUT (output file).
set -euo pipefail
BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
PGBIN=/usr/lib/postgresql/15/bin
cd "$ROOT"

bench_start() {
  export REKOR_CLUSTER_DIR="${REKOR_CLUSTER_DIR:-$ROOT/target/bench-$1-cluster}" REKOR_PGPORT="${REKOR_PGPORT:-$2}"
  local ver; ver="$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -1)"
  if [ "${REKOR_BENCH_INSTALL:-0}" = 1 ] || [ ! -e "/usr/share/postgresql/15/extension/rekor_meta--$ver.sql" ]; then
    bash "$ROOT/scripts/setup.sh" >/dev/null
    bash "$ROOT/scripts/install.sh" --release
  fi
  # A debug build in the system (cargo pgrx test installs one; many times slower) is left alone for whoever
  # installed it: the bench cluster loads a release build of the same tree from target/bench-lib instead
  # (module_pathname has no directory, so dynamic_library_path decides; the install script stays the system's).
  local so libpath='$libdir'; so="$("$PGBIN/pg_config" --pkglibdir)/rekor_meta.so"
  if [ "$(stat -c %s "$so")" -gt 8000000 ]; then
    echo "[bench] $so is a DEBUG build: building a release rekor_meta.so for the bench cluster only" >&2
    cargo --config "target.'cfg(all(target_family = \"unix\", not(target_os = \"macos\")))'.rustflags = [\"-C\", \"link-arg=-Wl,--no-gc-sections\"]" \
      build --quiet --lib --release --features pg15 --no-default-features -p rekor_meta
    mkdir -p "$ROOT/target/bench-lib"; cp "$ROOT/target/release/librekor_meta.so" "$ROOT/target/bench-lib/rekor_meta.so"
    chmod -R a+rX "$ROOT/target/bench-lib"; so="$ROOT/target/bench-lib/rekor_meta.so"; libpath="$ROOT/target/bench-lib:\$libdir"
  fi
  if [ ! -x "$PGBIN/pgbench" ]; then
    apt-get update -qq && { apt-get install -y -qq postgresql-contrib-15 || apt-get install -y -qq postgresql-15; }
  fi
  trap 'bash "$ROOT/scripts/cluster.sh" stop || true' EXIT
  bash "$ROOT/scripts/cluster.sh" start
  export PGHOST="$REKOR_CLUSTER_DIR" PGPORT="$REKOR_PGPORT" PGUSER=postgres PGOPTIONS="-c client_min_messages=warning"
  PSQL=("$PGBIN/psql" -X -q -v ON_ERROR_STOP=1)
  # No checkpoint forced in the middle of a figure (the scripts checkpoint between figures instead).
  "${PSQL[@]}" -d postgres -c "ALTER SYSTEM SET max_wal_size = '8GB'" -c "ALTER SYSTEM SET checkpoint_timeout = '30min'" \
    -c "ALTER SYSTEM SET dynamic_library_path = '$libpath'" -c "SELECT pg_reload_conf()" >/dev/null
  mkdir -p "$BENCH/out"
  OUT="$BENCH/out/$1-$(date -u +%Y%m%dT%H%M%SZ).txt"
  echo "[bench] rekor_meta $ver ($so, $(stat -c %s "$so") bytes), $("$PGBIN/postgres" --version), $(nproc) CPUs," \
       "load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ); output also in ${OUT#$ROOT/}" | tee "$OUT"
}
