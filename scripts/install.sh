#!/usr/bin/env bash
# Builds rekor_meta and installs it into the local PostgreSQL 15 (the same step the Dockerfile and tests use).
#   scripts/install.sh [--release]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PG_CONFIG="$(command -v /usr/lib/postgresql/15/bin/pg_config || command -v pg_config)"
echo "[install] cargo pgrx install $* (pg_config=$PG_CONFIG)"
cargo pgrx install --pg-config "$PG_CONFIG" "$@" 2>&1 | grep -vE '^\s+(Compiling|Checking)' | tail -n 5

# pgrx installs the current version's script, generated from sql/schema/. Next to it go the
# released versions' full install scripts, frozen in sql/released/ (scripts/release-snapshot.sh) and
# never regenerated, and the hand-written upgrade scripts sql/upgrade/rekor_meta--A--B.sql, so that
# `CREATE EXTENSION rekor_meta VERSION '<released>'` and `ALTER EXTENSION rekor_meta UPDATE` work.
CARGO_VERSION="$(sed -n '/^\[package\]/,/^\[/ s/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n 1)"
EXTDIR="$("$PG_CONFIG" --sharedir)/extension"
for f in sql/released/rekor_meta--*.sql; do
  [ -e "$f" ] || continue
  v="${f#sql/released/rekor_meta--}"
  v="${v%.sql}"
  [[ "$v" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "[install] $f: not a released install script (rekor_meta--X.Y.Z.sql)" >&2; exit 1; }
  if [ "$v" = "$CARGO_VERSION" ]; then
    echo "[install] $f is the current version $CARGO_VERSION: installed pgrx's generated script instead" >&2
    continue
  fi
  install -m 0644 "$f" "$EXTDIR/rekor_meta--$v.sql"
  echo "[install] released install script $f -> $EXTDIR"
done
for f in sql/upgrade/rekor_meta--*--*.sql; do
  [ -e "$f" ] || continue
  install -m 0644 "$f" "$EXTDIR/$(basename "$f")"
  echo "[install] upgrade script $f -> $EXTDIR"
done
if compgen -G "sql/released/rekor_meta--*.sql" >/dev/null && ! compgen -G "sql/upgrade/rekor_meta--*--$CARGO_VERSION.sql" >/dev/null; then
  echo "[install] no upgrade script into $CARGO_VERSION (sql/upgrade/rekor_meta--<released>--$CARGO_VERSION.sql)" >&2
  exit 1
fi
