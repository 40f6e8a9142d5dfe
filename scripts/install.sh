#!/usr/bin/env bash
# Builds rekor_meta and installs it into the local PostgreSQL 15 (the same step the Dockerfile and tests use).
#   scripts/install.sh [--release]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PG_CONFIG="$(command -v /usr/lib/postgresql/15/bin/pg_config || command -v pg_config)"
echo "[install] cargo pgrx install $* (pg_config=$PG_CONFIG)"
cargo pgrx install --pg-config "$PG_CONFIG" "$@" 2>&1 | grep -vE '^\s+(Compiling|Checking)' | tail -n 5
