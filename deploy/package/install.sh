#!/bin/sh
# Installs rekor_meta from this unpacked release tarball into a PostgreSQL 15 installation.
#   ./install.sh [--pg-config PATH] [--check]
# --pg-config  the pg_config of the target installation (default: $PG_CONFIG, then
#              /usr/lib/postgresql/15/bin/pg_config, then pg_config on PATH); the files go to its
#              --pkglibdir (rekor_meta.so) and --sharedir/extension (control file, SQL scripts).
# --check      verify the payload (SHA256SUMS) and print where it would go; install nothing.
# DESTDIR      (environment) prefix for staging, as in `make install` (used to build the .deb).
# Run as a user that can write those directories (root). Then, in each database, as a superuser:
#   CREATE EXTENSION rekor_meta;        -- new databases
#   ALTER EXTENSION rekor_meta UPDATE;  -- databases on an older version, after installing this one
# This script is the tarball's; in the source tree it is deploy/package/install.sh
# (scripts/package.sh copies it into the tarball and uses it to lay out the Debian package).
set -eu
HERE="$(cd "$(dirname "$0")" && pwd)"
PG_MAJOR=15
CHECK=0
while [ $# -gt 0 ]; do
  case "$1" in
    --pg-config) PG_CONFIG="$2"; shift 2 ;;
    --pg-config=*) PG_CONFIG="${1#*=}"; shift ;;
    --check) CHECK=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "[rekor_meta install] unknown argument: $1" >&2; exit 2 ;;
  esac
done
if [ -z "${PG_CONFIG:-}" ]; then
  if [ -x /usr/lib/postgresql/$PG_MAJOR/bin/pg_config ]; then
    PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
  else
    PG_CONFIG="$(command -v pg_config || true)"
  fi
fi
[ -n "${PG_CONFIG:-}" ] && [ -x "$PG_CONFIG" ] || {
  echo "[rekor_meta install] no pg_config found: pass --pg-config /path/to/pg_config (PostgreSQL $PG_MAJOR)" >&2
  exit 1
}
major="$("$PG_CONFIG" --version | sed -n 's/^PostgreSQL \([0-9]*\).*/\1/p')"
if [ "$major" != "$PG_MAJOR" ]; then
  echo "[rekor_meta install] $PG_CONFIG is PostgreSQL ${major:-?}; this package is for PostgreSQL $PG_MAJOR" >&2
  exit 1
fi

# The payload must be exactly what was packaged.
(cd "$HERE/payload" && sha256sum --quiet --strict -c "$HERE/SHA256SUMS") || {
  echo "[rekor_meta install] payload does not match SHA256SUMS" >&2
  exit 1
}
# Packaged paths (Debian layout) and the target installation's.
src_lib="$(sed -n 's/^pkglibdir=//p' "$HERE/VERSION")"
src_ext="$(sed -n 's/^extdir=//p' "$HERE/VERSION")"
version="$(sed -n 's/^version=//p' "$HERE/VERSION")"
dst_lib="${DESTDIR:-}$("$PG_CONFIG" --pkglibdir)"
dst_ext="${DESTDIR:-}$("$PG_CONFIG" --sharedir)/extension"
[ -f "$HERE/payload$src_lib/rekor_meta.so" ] || { echo "[rekor_meta install] payload has no rekor_meta.so" >&2; exit 1; }

if [ "$CHECK" = 1 ]; then
  echo "[rekor_meta install] payload ok (rekor_meta $version): rekor_meta.so -> $dst_lib, control and SQL -> $dst_ext"
  exit 0
fi
mkdir -p "$dst_lib" "$dst_ext"
# The library first (under a temporary name, then renamed: a running server that has it mapped
# keeps the old inode), then the scripts, the control file last: CREATE EXTENSION only sees a new
# default version once everything it needs is in place.
install -m 0644 "$HERE/payload$src_lib/rekor_meta.so" "$dst_lib/.rekor_meta.so.new"
mv -f "$dst_lib/.rekor_meta.so.new" "$dst_lib/rekor_meta.so"
for f in "$HERE/payload$src_ext"/*.sql; do
  install -m 0644 "$f" "$dst_ext/$(basename "$f")"
done
install -m 0644 "$HERE/payload$src_ext/rekor_meta.control" "$dst_ext/rekor_meta.control"
echo "[rekor_meta install] rekor_meta $version: $dst_lib/rekor_meta.so, $(ls "$HERE/payload$src_ext" | wc -l) files in $dst_ext"
