#!/bin/sh
# Proves that an installed rekor_meta works in the PostgreSQL 15 it was installed into:
#   deploy/docker/smoke.sh BINDIR FIXTURES_DIR
# BINDIR is the installation's bin directory (initdb, pg_ctl, psql, pg_config); FIXTURES_DIR holds
# keys.json and upstream/bundle-dsse.sigstore.json (tests/fixtures). Starts a throwaway server in a
# temporary directory (socket only, no TCP), then:
#   - the extension's default version is the packaged one and CREATE EXTENSION installs it;
#   - the server loaded rekor_meta.so from this installation's pkglibdir (not from anywhere else);
#   - a real Rekor DSSE bundle is ingested and its inclusion proof verifies; a tampered copy is refused;
#   - every other available version installs and ALTER EXTENSION rekor_meta UPDATE brings it to the default.
# Stops the server and removes the directory. Run it as a non-root user (PostgreSQL refuses root).
# deploy/docker/Dockerfile runs it in the images it builds; tests/client/tests/deploy.rs runs it in a
# clean PostgreSQL 15 with the tarball, and with the Debian package, installed.
set -eu
BIN="$1"
FIX="$2"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/rekor-smoke.XXXXXX")"
PORT=5439
cleanup() {
  "$BIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
fail() { echo "[smoke] FAILED: $*" >&2; tail -n 20 "$WORK/server.log" >&2 2>/dev/null || true; exit 1; }

"$BIN/initdb" -D "$WORK/data" -U postgres --auth=trust -E UTF8 --no-locale -N >/dev/null || fail initdb
"$BIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w -t 60 \
  -o "-c listen_addresses='' -c unix_socket_directories='$WORK' -p $PORT -c fsync=off" start >/dev/null || fail "server start"
# sh has no local variables: the database argument gets a name of its own (the loop below uses $db).
sql() { sql_db="$1"; shift; "$BIN/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$WORK" -p "$PORT" -U postgres -d "$sql_db" "$@"; }

PKGLIBDIR="$("$BIN/pg_config" --pkglibdir)"
default="$(sql postgres -c "SELECT default_version FROM pg_available_extensions WHERE name = 'rekor_meta'")"
[ -n "$default" ] || fail "rekor_meta is not available (no rekor_meta.control in $("$BIN/pg_config" --sharedir)/extension)"

sql postgres -c "CREATE DATABASE smoke" >/dev/null
sql smoke -c "CREATE EXTENSION rekor_meta" >/dev/null || fail "CREATE EXTENSION rekor_meta"
got="$(sql smoke -c "SELECT extversion FROM pg_extension WHERE extname = 'rekor_meta'")"
[ "$got" = "$default" ] || fail "installed version $got, default $default"
# The library this backend mapped (superusers may read /proc/self/maps with pg_read_file).
lib="$(sql smoke -c "SELECT encode(rekor_leaf_hash(''), 'hex')" \
            -c "SELECT DISTINCT substring(l FROM '(/[^ ]*rekor_meta[.]so)\$')
                FROM regexp_split_to_table(pg_read_file('/proc/self/maps'), E'\n') AS l
                WHERE l ~ 'rekor_meta[.]so\$'")"
expect_hash=6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d
[ "$(echo "$lib" | head -n 1)" = "$expect_hash" ] || fail "rekor_leaf_hash('') = $(echo "$lib" | head -n 1)"
lib="$(echo "$lib" | sed -n 2p)"
[ "$lib" = "$PKGLIBDIR/rekor_meta.so" ] || fail "the server loaded '$lib', not $PKGLIBDIR/rekor_meta.so"

# Real data: trust the logs; a copy of the DSSE bundle with one proof hash changed is refused with
# check_violation (evidence rejected); the bundle itself is ingested (verified on insert) and re-verifies.
verified="$(sql smoke -v keys="$(cat "$FIX/keys.json")" -v bundle="$(cat "$FIX/upstream/bundle-dsse.sigstore.json")" <<'SQL'
SELECT count(rekor_add_log(k->>'public_key_pem', k->>'note_signer_name')) AS trusted_logs
  FROM jsonb_array_elements((:'keys')::jsonb -> 'keys') AS k \gset
CREATE TEMP TABLE smoke_bundle AS SELECT (:'bundle')::jsonb AS j;
DO $$
BEGIN
    PERFORM rekor_ingest_bundle(jsonb_set(j, '{verificationMaterial,tlogEntries,0,inclusionProof,hashes,0}',
                                          to_jsonb(encode(sha256('tampered'::bytea), 'base64'))))
    FROM smoke_bundle;
    RAISE EXCEPTION 'a bundle with a tampered inclusion proof was accepted';
EXCEPTION WHEN check_violation THEN
    NULL;  -- refused, as it must be
END
$$;
SELECT rekor_ingest_bundle(j) AS entry_id FROM smoke_bundle \gset
SELECT rekor_verify_inclusion(:entry_id);
SQL
)" || fail "the fixture bundle (tampered copy, then the real one)"
[ "$verified" = t ] || fail "the fixture bundle's inclusion proof did not verify: $verified"

# Every released version installs, and updates to the default.
n=0
for v in $(sql postgres -c "SELECT version FROM pg_available_extension_versions
                            WHERE name = 'rekor_meta' AND version <> '$default' ORDER BY version"); do
  db="smoke_$(echo "$v" | tr . _)"
  sql postgres -c "CREATE DATABASE $db" >/dev/null
  sql "$db" -c "CREATE EXTENSION rekor_meta VERSION '$v'" >/dev/null || fail "CREATE EXTENSION rekor_meta VERSION '$v'"
  sql "$db" -c "ALTER EXTENSION rekor_meta UPDATE" >/dev/null || fail "ALTER EXTENSION rekor_meta UPDATE from $v"
  got="$(sql "$db" -c "SELECT extversion FROM pg_extension WHERE extname = 'rekor_meta'")"
  [ "$got" = "$default" ] || fail "update from $v ended at $got, not $default"
  n=$((n + 1))
done
echo "[smoke] ok: rekor_meta $default from $lib; real DSSE bundle verified, tampered copy refused; $n older version(s) updated to $default"
