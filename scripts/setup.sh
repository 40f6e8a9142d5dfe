#!/usr/bin/env bash
# Idempotent set-up of everything the build and tests need on a fresh Debian machine (run as root).
# Fast when all is present: every step checks before it installs.
set -euo pipefail
PGRX_VERSION=0.18.1
PG_MAJOR=15

log() { printf '[setup] %s\n' "$*"; }

need_pkgs=()
for p in postgresql-server-dev-${PG_MAJOR} libclang-dev clang sudo pgbouncer python3-psycopg2 python3-yaml; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need_pkgs+=("$p")
done
# PostgreSQL 15 server itself (preinstalled on this machine kind, but be explicit for fresh ones).
[ -x /usr/lib/postgresql/${PG_MAJOR}/bin/postgres ] || need_pkgs+=("postgresql-${PG_MAJOR}")
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "apt-get install ${need_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

# The real-Rekor pipeline layer (scripts/rekor.sh, issue 11): curl and openssl from Debian; Go
# (go install of Rekor, Trillian, cosign) comes with the machine kind, checked by scripts/go-build.sh.
rekor_pkgs=()
for p in curl openssl python3-cryptography; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || rekor_pkgs+=("$p")
done
if [ ${#rekor_pkgs[@]} -gt 0 ]; then
  log "apt-get install ${rekor_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${rekor_pkgs[@]}" >/dev/null
fi

PG_CONFIG=/usr/lib/postgresql/${PG_MAJOR}/bin/pg_config
[ -x "$PG_CONFIG" ] || PG_CONFIG="$(command -v pg_config)"

if [ "$(cargo pgrx --version 2>/dev/null || true)" != "cargo-pgrx ${PGRX_VERSION}" ]; then
  log "installing cargo-pgrx ${PGRX_VERSION} (takes several minutes)"
  cargo install --locked cargo-pgrx --version "${PGRX_VERSION}"
fi

PGRX_HOME="${PGRX_HOME:-$HOME/.pgrx}"
if ! grep -qs "pg${PG_MAJOR}" "$PGRX_HOME/config.toml"; then
  log "cargo pgrx init --pg${PG_MAJOR} ${PG_CONFIG}"
  cargo pgrx init --pg${PG_MAJOR} "$PG_CONFIG"
fi
log "ok: $(cargo pgrx --version), pg_config=${PG_CONFIG}"
