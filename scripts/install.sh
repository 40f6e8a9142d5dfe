#!/usr/bin/env bash
# Builds rekor_meta and installs it into the local PostgreSQL 15 (the same step the Dockerfile and tests use).
#   scripts/install.sh [--release]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PG_CONFIG="$(command -v /usr/lib/postgresql/15/bin/pg_config || command -v pg_config)"
echo "[install] cargo pgrx install $* (pg_config=$PG_CONFIG)"
cargo pgrx install --pg-config "$PG_CONFIG" "$@" 2>&1 | grep -vE '^\s+(Compiling|Checking)' | tail -n 5

# Released versions: their full install scripts are frozen in sql/ (scripts/release-snapshot.sh) and
# never regenerated. pgrx installs the current version's generated script and the upgrade scripts
# (sql/rekor_meta--A--B.sql); the released ones are copied here, so that
# `CREATE EXTENSION rekor_meta VERSION '<released>'` and `ALTER EXTENSION rekor_meta UPDATE` work.
CARGO_VERSION="$(sed -n '/^\[package\]/,/^\[/ s/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n 1)"
EXTDIR="$("$PG_CONFIG" --sharedir)/extension"
for f in sql/rekor_meta--*.sql; do
  [ -e "$f" ] || continue
  v="${f#sql/rekor_meta--}"
  v="${v%.sql}"
  [[ "$v" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || continue   # an upgrade script: pgrx copied it
  if [ "$v" = "$CARGO_VERSION" ]; then
    echo "[install] $f is the current version $CARGO_VERSION: installed pgrx's generated script instead"
    continue
  fi
  install -m 0644 "$f" "$EXTDIR/rekor_meta--$v.sql"
  echo "[install] released install script $f -> $EXTDIR"
done
