#!/usr/bin/env bash
# Restores a custom- or directory-format pg_dump archive of a database that uses rekor_meta, in parallel
# where that is safe:
#   scripts/pg-restore.sh <archive> <target database: a name or a libpq connection string> [jobs]
#
# Why: the data of an extension's tables (pg_extension_config_dump) is restored into tables whose foreign
# keys and verifying triggers already exist (CREATE EXTENSION made them). pg_dump orders that data by the
# foreign keys, and a serial `pg_restore` keeps the order; `pg_restore -j N` does not: it loads
# rekor_submission_queue before rekor_entries has committed, and the restore fails (23503, or the entry
# trigger's "entry log is not a trusted log"). So: schema first, then the extension tables' data
# serially in the archive's order, then everything else with -j, then indexes and constraints with -j.
set -euo pipefail
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: $0 <archive> <target database> [jobs]" >&2
  exit 2
fi
ARCHIVE="$1"
TARGET="$2"
JOBS="${3:-4}"
BIN="$(/usr/lib/postgresql/15/bin/pg_config --bindir 2>/dev/null || pg_config --bindir)"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

"$BIN/pg_restore" -l "$ARCHIVE" > "$TMP/all.list"
echo "[pg-restore] schema (pre-data)"
"$BIN/pg_restore" --exit-on-error --section=pre-data -d "$TARGET" "$ARCHIVE"

# The tables and sequences whose rows belong to an extension (every extension, not only rekor_meta),
# as "schema name" pairs; their TABLE DATA and SEQUENCE SET items go first, serially.
"$BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -d "$TARGET" -c \
  "SELECT n.nspname || ' ' || c.relname FROM pg_extension e, unnest(e.extconfig) AS t(oid)
   JOIN pg_class c ON c.oid = t.oid JOIN pg_namespace n ON n.oid = c.relnamespace" > "$TMP/ext.names"
: > "$TMP/ext.list"
: > "$TMP/rest.list"
while IFS= read -r line; do
  is_ext=0
  case "$line" in
    ';'*) ;;
    *' TABLE DATA '*|*' SEQUENCE SET '*)
      while IFS= read -r name; do
        [ -n "$name" ] || continue
        case "$line" in
          *" TABLE DATA $name "*|*" SEQUENCE SET $name "*) is_ext=1; break ;;
        esac
      done < "$TMP/ext.names"
      ;;
  esac
  if [ "$is_ext" = 1 ]; then echo "$line" >> "$TMP/ext.list"; else echo "$line" >> "$TMP/rest.list"; fi
done < "$TMP/all.list"

echo "[pg-restore] extension table data, serially ($(grep -c . "$TMP/ext.list" || true) items, foreign-key order)"
if [ -s "$TMP/ext.list" ]; then
  "$BIN/pg_restore" --exit-on-error --section=data -L "$TMP/ext.list" -d "$TARGET" "$ARCHIVE"
fi
echo "[pg-restore] other data, -j $JOBS"
"$BIN/pg_restore" --exit-on-error --section=data -j "$JOBS" -L "$TMP/rest.list" -d "$TARGET" "$ARCHIVE"
echo "[pg-restore] indexes, constraints, triggers (post-data), -j $JOBS"
"$BIN/pg_restore" --exit-on-error --section=post-data -j "$JOBS" -d "$TARGET" "$ARCHIVE"
