#!/usr/bin/env bash
# A real Rekor v1 on this machine, on loopback only: rekor-server in front of Trillian (log server +
# log signer), Trillian's storage on its own private PostgreSQL cluster (scripts/cluster.sh, not the
# cluster under test, so that restarting the tested cluster never touches the log), Rekor's signer an
# ECDSA P-256 key file made with openssl at set-up.
#   scripts/rekor.sh build     go install the pinned Rekor / Trillian / cosign (scripts/go-build.sh)
#   scripts/rekor.sh start     idempotent: starts what is not running, waits for GET /api/v1/log
#   scripts/rekor.sh stop      stops Rekor and Trillian (REKOR_STOP_STORAGE=0 keeps the storage up)
#   scripts/rekor.sh stop-rekor / start-rekor   only rekor-server (fault tests: "Rekor is down")
#   scripts/rekor.sh status    what runs, the log's size
#   scripts/rekor.sh env       for eval: REKOR_URL, REKOR_PUBLIC_KEY_FILE, REKOR_HOSTNAME, COSIGN, ...
#   scripts/rekor.sh reset     stop and forget the log (a new tree on the next start)
#   scripts/rekor.sh start-v2 / stop-v2   the local Rekor v2 (below)
# Settings (environment): REKOR_LOCAL_DIR (default target/rekor-local), REKOR_HTTP_PORT (28840), and
# from it the Trillian ports (+1 .. +4) and the storage cluster's port (+5); REKOR_HOSTNAME (rekor.local:
# checkpoints are "rekor.local - <tree id>", signed by the name rekor.local).
#
# Why PostgreSQL for Trillian and not MariaDB: PostgreSQL 15 is already on every machine of this project
# and scripts/cluster.sh runs private clusters on loopback; Trillian ≥ 1.7 has a PostgreSQL backend
# (storage/postgresql, schema shipped in the Go module), so nothing else needs installing.
#
# Loopback only: every listener is given 127.0.0.1 explicitly. One exception cannot be configured:
# rekor-server v1.5.4 serves Prometheus metrics on ":2112" (all interfaces, no flag). This script
# first holds 127.0.0.1:2112 with an idle placeholder socket, so rekor-server's own bind fails (it
# ignores that error) and nothing listens beyond loopback. The search index (redis) is disabled:
# --enable_retrieve_api=false and no searchIndex endpoint.
#
# Rekor v2: the real rekor-tiles server (v2.3.0, scripts/go-build.sh), its POSIX build: Tessera on a
# local directory ($REKOR_LOCAL_DIR/v2/log), checkpoints signed by an Ed25519 key file made at set-up
# (origin and signer name $REKOR_V2_HOSTNAME, default rekor-v2.local), persistent antispam (badger, in
# that directory) so a duplicate answers AlreadyExists. Production Rekor v2 serves the write API and the
# C2SP tlog-tiles read API (/checkpoint, /tile/...) at one base URL; rekor-tiles leaves the reads to a
# static web server over its directory, so scripts/rekor-v2-front.py is that one URL. Ports:
# REKOR_V2_PORT (default REKOR_HTTP_PORT + 6) the front, +1 rekor-tiles HTTP, +2 its gRPC, +3 its metrics.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${REKOR_LOCAL_DIR:-$ROOT/target/rekor-local}"
HTTP_PORT="${REKOR_HTTP_PORT:-28840}"
TL_RPC=$((HTTP_PORT + 1)) TL_HTTP=$((HTTP_PORT + 2)) TS_RPC=$((HTTP_PORT + 3)) TS_HTTP=$((HTTP_PORT + 4))
PG_PORT=$((HTTP_PORT + 5))
HOSTNAME_="${REKOR_HOSTNAME:-rekor.local}"
CACHE="${REKOR_GO_CACHE:-/var/cache/rekor_meta-go}"
BIN="$CACHE/bin"
TRILLIAN_VERSION="$(sed -n 's/^TRILLIAN_VERSION="\${TRILLIAN_VERSION:-\(.*\)}"$/\1/p' "$ROOT/scripts/go-build.sh")"
PGDIR="$STATE/trillian-pg"
URL="http://127.0.0.1:$HTTP_PORT"
V2_PORT="${REKOR_V2_PORT:-$((HTTP_PORT + 6))}"
V2_HTTP=$((V2_PORT + 1)) V2_GRPC=$((V2_PORT + 2)) V2_METRICS=$((V2_PORT + 3))
V2_HOSTNAME="${REKOR_V2_HOSTNAME:-rekor-v2.local}"
V2_DIR="$STATE/v2"
V2_URL="http://127.0.0.1:$V2_PORT"

log() { printf '[rekor] %s\n' "$*"; }
listening() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }
pid_of() { cat "$STATE/$1.pid" 2>/dev/null || true; }
alive() { local p; p="$(pid_of "$1")"; [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }
cluster() { REKOR_CLUSTER_DIR="$PGDIR" REKOR_PGPORT="$PG_PORT" bash "$ROOT/scripts/cluster.sh" "$@"; }
psql_t() { /usr/lib/postgresql/15/bin/psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres "$@"; }

# Waits up to $2 tenths of a second for command $1... to succeed.
wait_for() {
  local what="$1" tenths="$2"; shift 2
  for _ in $(seq "$tenths"); do
    if "$@"; then return 0; fi
    sleep 0.1
  done
  log "timed out waiting for $what"
  return 1
}

# Starts a daemon in its own session, output to $STATE/<name>.log, pid in $STATE/<name>.pid.
daemon() {
  local name="$1"; shift
  if alive "$name"; then return 0; fi
  setsid "$@" >>"$STATE/$name.log" 2>&1 < /dev/null &
  echo $! > "$STATE/$name.pid"
}

stop_daemon() {
  local name="$1" p
  p="$(pid_of "$name")"
  if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null || true
    log "stopped $name (pid $p)"
  fi
  rm -f "$STATE/$name.pid"
}

rekor_up() { curl -fsS -m 2 "$URL/api/v1/log" >/dev/null 2>&1; }
# Up, or dead (then waiting longer is pointless): both end wait_for.
rekor_up_or_dead() { rekor_up || ! alive rekor-server; }

start_rekor() {
  if ! listening 2112; then
    PY="$(command -v /usr/bin/python3 || command -v python3)"
    daemon metrics-placeholder "$PY" -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 2112)); s.listen(16)
while True: s.accept()[0].close()'
    wait_for "the 127.0.0.1:2112 placeholder" 50 listening 2112
  fi
  daemon rekor-server "$BIN/rekor-server" serve \
    --log_type=prod \
    --rekor_server.address=127.0.0.1 --port="$HTTP_PORT" \
    --rekor_server.hostname="$HOSTNAME_" \
    --rekor_server.signer="$STATE/rekor-signer.pem" \
    --trillian_log_server.address=127.0.0.1 --trillian_log_server.port="$TL_RPC" \
    --trillian_log_server.tlog_id="$(cat "$STATE/tree_id")" \
    --enable_retrieve_api=false \
    --enabled_api_endpoints=getLogInfo,getPublicKey,getLogProof,createLogEntry,getLogEntryByIndex,getLogEntryByUUID,searchLogQuery \
    --enable_attestation_storage=false
  if ! wait_for "rekor-server to answer GET /api/v1/log" 600 rekor_up_or_dead; then
    tail -n 5 "$STATE/rekor-server.log" | cut -c1-400 >&2
    exit 1
  fi
  rekor_up || { log "rekor-server exited (port $HTTP_PORT taken?); its log:"; tail -n 5 "$STATE/rekor-server.log" | cut -c1-400 >&2; exit 1; }
}

v2_up() { curl -fsS -m 2 "$V2_URL/healthz" 2>/dev/null | grep -q SERVING && curl -fsS -m 2 "$V2_URL/checkpoint" >/dev/null 2>&1; }
v2_up_or_dead() { v2_up || ! alive rekor-tiles-server || ! alive rekor-v2-front; }

start_v2() {
  mkdir -p "$V2_DIR/log"
  [ -x "$BIN/rekor-tiles-server" ] || bash "$ROOT/scripts/go-build.sh"
  if [ ! -f "$V2_DIR/signer.pem" ]; then
    openssl genpkey -algorithm ed25519 -out "$V2_DIR/signer.pem"
    openssl pkey -in "$V2_DIR/signer.pem" -pubout -out "$V2_DIR/signer.pub.pem"
    chmod 600 "$V2_DIR/signer.pem"
    log "generated Rekor v2's checkpoint key $V2_DIR/signer.pem (Ed25519)"
  fi
  if alive rekor-tiles-server && alive rekor-v2-front && v2_up; then
    log "reusing running Rekor v2 on $V2_URL"; return 0
  fi
  daemon rekor-tiles-server "$BIN/rekor-tiles-server" serve \
    --hostname="$V2_HOSTNAME" --storage-dir="$V2_DIR/log" --signer-filepath="$V2_DIR/signer.pem" \
    --http-address=127.0.0.1 --http-port="$V2_HTTP" --grpc-address=127.0.0.1 --grpc-port="$V2_GRPC" \
    --http-metrics-port="$V2_METRICS" --checkpoint-interval="${REKOR_V2_CHECKPOINT_INTERVAL:-1s}" \
    --persistent-antispam=true
  PY="$(command -v /usr/bin/python3 || command -v python3)"
  daemon rekor-v2-front "$PY" "$ROOT/scripts/rekor-v2-front.py" "$V2_PORT" "$V2_HTTP" "$V2_DIR/log"
  if ! wait_for "Rekor v2 to answer on $V2_URL" 600 v2_up_or_dead || ! v2_up; then
    log "Rekor v2 did not come up (ports $V2_PORT..$V2_METRICS taken?); its logs:"
    tail -n 5 "$STATE/rekor-tiles-server.log" "$STATE/rekor-v2-front.log" 2>/dev/null | cut -c1-400 >&2
    exit 1
  fi
  log "rekor-tiles-server (pid $(pid_of rekor-tiles-server)) answers on $V2_URL, origin \"$V2_HOSTNAME\""
}

stop_v2() {
  stop_daemon rekor-v2-front
  stop_daemon rekor-tiles-server
}

case "${1:-}" in
  build)
    bash "$ROOT/scripts/go-build.sh"
    ;;
  start)
    mkdir -p "$STATE"
    for b in rekor-server trillian_log_server trillian_log_signer createtree; do
      [ -x "$BIN/$b" ] || bash "$ROOT/scripts/go-build.sh"
    done
    command -v curl >/dev/null || { log "curl is needed (scripts/setup.sh installs it)"; exit 1; }
    if [ ! -f "$STATE/rekor-signer.pem" ]; then
      openssl ecparam -name prime256v1 -genkey -noout -out "$STATE/rekor-signer.sec1.pem" 2>/dev/null
      openssl pkcs8 -topk8 -nocrypt -in "$STATE/rekor-signer.sec1.pem" -out "$STATE/rekor-signer.pem"
      openssl ec -in "$STATE/rekor-signer.pem" -pubout -out "$STATE/rekor-signer.pub.pem" 2>/dev/null
      rm -f "$STATE/rekor-signer.sec1.pem"
      chmod 600 "$STATE/rekor-signer.pem"
      log "generated Rekor's signing key $STATE/rekor-signer.pem (ECDSA P-256)"
    fi
    # Trillian's storage: a private cluster and database "trillian" with the module's own schema.
    cluster start >/dev/null
    if [ "$(psql_t -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'trillian'")" != 1 ]; then
      schema="$(GOPATH="$CACHE/gopath" GOFLAGS= go mod download -json "github.com/google/trillian@$TRILLIAN_VERSION" \
        | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')/storage/postgresql/schema/storage.sql"
      psql_t -d postgres -c 'CREATE DATABASE trillian'
      psql_t -d trillian -f "$schema" >/dev/null
      log "created Trillian's database from $schema"
    fi
    PGURI="postgresql://postgres@127.0.0.1:$PG_PORT/trillian?sslmode=disable"
    daemon trillian_log_server "$BIN/trillian_log_server" \
      --storage_system=postgresql --quota_system=noop --postgresql_uri="$PGURI" \
      --rpc_endpoint="127.0.0.1:$TL_RPC" --http_endpoint="127.0.0.1:$TL_HTTP" --logtostderr
    daemon trillian_log_signer "$BIN/trillian_log_signer" \
      --storage_system=postgresql --quota_system=noop --postgresql_uri="$PGURI" \
      --rpc_endpoint="127.0.0.1:$TS_RPC" --http_endpoint="127.0.0.1:$TS_HTTP" \
      --force_master --sequencer_interval=20ms --batch_size=1000 --num_sequencers=2 --logtostderr
    wait_for "trillian_log_server on 127.0.0.1:$TL_RPC" 300 listening "$TL_RPC" || { tail -n 20 "$STATE/trillian_log_server.log" >&2; exit 1; }
    wait_for "trillian_log_signer on 127.0.0.1:$TS_RPC" 300 listening "$TS_RPC" || { tail -n 20 "$STATE/trillian_log_signer.log" >&2; exit 1; }
    for d in trillian_log_server trillian_log_signer; do
      alive "$d" || { log "$d exited (a port of $TL_RPC..$TS_HTTP taken?)"; tail -n 5 "$STATE/$d.log" >&2; exit 1; }
    done
    if [ ! -s "$STATE/tree_id" ]; then
      # One tree for the life of this state directory: rekor-server would otherwise make a new one
      # at every start (tlog_id 0), i.e. a new log after every restart.
      "$BIN/createtree" --admin_server="127.0.0.1:$TL_RPC" --display_name=rekor_meta-local \
        --max_root_duration=1h 2>>"$STATE/createtree.log" > "$STATE/tree_id.new"
      mv "$STATE/tree_id.new" "$STATE/tree_id"
      log "created Trillian tree $(cat "$STATE/tree_id")"
    fi
    if alive rekor-server && rekor_up; then
      log "reusing running rekor-server (pid $(pid_of rekor-server)) on $URL"
    else
      start_rekor
      log "rekor-server (pid $(pid_of rekor-server)) answers on $URL, tree $(cat "$STATE/tree_id"), origin \"$HOSTNAME_ - $(cat "$STATE/tree_id")\""
    fi
    curl -fsS -m 5 "$URL/api/v1/log/publicKey" > "$STATE/rekor-public.pem"
    ;;
  start-rekor)
    start_rekor
    log "rekor-server (pid $(pid_of rekor-server)) answers on $URL"
    ;;
  stop-rekor)
    stop_daemon rekor-server
    ;;
  start-v2)
    mkdir -p "$STATE"
    start_v2
    ;;
  stop-v2)
    stop_v2
    ;;
  stop)
    stop_v2
    stop_daemon rekor-server
    stop_daemon trillian_log_signer
    stop_daemon trillian_log_server
    stop_daemon metrics-placeholder
    if [ "${REKOR_STOP_STORAGE:-1}" = 1 ] && [ -d "$PGDIR" ]; then cluster stop || true; fi
    ;;
  reset)
    bash "$ROOT/scripts/rekor.sh" stop
    # scripts/cluster.sh may have put the storage cluster under /tmp behind a symlink.
    [ -L "$PGDIR" ] && rm -rf "$(readlink -f "$PGDIR")"
    rm -rf "$STATE"
    log "removed $STATE"
    ;;
  status)
    for n in trillian_log_server trillian_log_signer rekor-server metrics-placeholder rekor-tiles-server rekor-v2-front; do
      if alive "$n"; then echo "$n: running (pid $(pid_of "$n"))"; else echo "$n: not running"; fi
    done
    if rekor_up; then curl -fsS -m 2 "$URL/api/v1/log"; echo; else echo "rekor: no answer on $URL"; exit 3; fi
    ;;
  env)
    echo "export REKOR_URL='$URL' REKOR_HOSTNAME='$HOSTNAME_' REKOR_PUBLIC_KEY_FILE='$STATE/rekor-public.pem'" \
         "REKOR_TREE_ID='$(cat "$STATE/tree_id" 2>/dev/null || true)' COSIGN='$BIN/cosign' REKOR_LOCAL_DIR='$STATE'" \
         "REKOR_V2_URL='$V2_URL' REKOR_V2_HOSTNAME='$V2_HOSTNAME' REKOR_V2_PUBLIC_KEY_FILE='$V2_DIR/signer.pub.pem'"
    ;;
  *)
    echo "usage: $0 build|start|stop|start-rekor|stop-rekor|start-v2|stop-v2|status|env|reset" >&2; exit 2 ;;
esac
