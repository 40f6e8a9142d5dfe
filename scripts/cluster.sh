#!/usr/bin/env bash
# A private PostgreSQL 15 cluster owned by user postgres (PostgreSQL refuses to run as root).
#   scripts/cluster.sh start|stop|status|env     (REKOR_CLUSTER_DIR, REKOR_PGPORT select which cluster)
# The demo uses target/rekor-cluster on port 28815; the tests use their own dir and port.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_BIN="$(/usr/lib/postgresql/15/bin/pg_config --bindir 2>/dev/null || pg_config --bindir)"
DIR="${REKOR_CLUSTER_DIR:-$ROOT/target/rekor-cluster}"
PORT="${REKOR_PGPORT:-28815}"

as_pg() { sudo -u postgres -- "$@"; }

# User postgres must reach the cluster directory. A checkout under a private directory (e.g. /root)
# is not traversable by it: then the cluster lives under /tmp and $DIR becomes a symlink to it.
if [ "${1:-}" = start ] && [ ! -e "$DIR" ]; then
  mkdir -p "$(dirname "$DIR")"
  if ! as_pg test -x "$(dirname "$DIR")"; then
    real="/tmp/rekor_meta-$(printf '%s' "$DIR" | sha256sum | cut -c1-12)"
    mkdir -p "$real"
    chown postgres:postgres "$real"
    ln -sfn "$real" "$DIR"
  fi
fi
DATA="$DIR/data"

case "${1:-}" in
  start)
    mkdir -p "$DIR"
    chown postgres:postgres "$DIR"
    if [ ! -f "$DATA/PG_VERSION" ]; then
      echo "[cluster] initdb $DATA"
      as_pg "$PG_BIN/initdb" -D "$DATA" --auth=trust --username=postgres --encoding=UTF8 --locale=C.UTF-8 >/dev/null
      cat >> "$DATA/postgresql.conf" <<CONF
# rekor_meta private cluster: loopback and a socket in the cluster dir only.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR'
max_connections = 200
shared_buffers = 256MB
fsync = on
log_min_messages = warning
CONF
    fi
    if as_pg "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
      echo "[cluster] reusing running cluster $DATA (port $PORT)"
    else
      echo "[cluster] starting $DATA on port $PORT"
      as_pg "$PG_BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" -w -t 60 start >/dev/null
    fi
    ;;
  stop)
    if [ -f "$DATA/PG_VERSION" ] && as_pg "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
      as_pg "$PG_BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
      echo "[cluster] stopped $DATA"
    fi
    ;;
  status)
    as_pg "$PG_BIN/pg_ctl" -D "$DATA" status
    ;;
  env)
    # For eval: the settings a client needs.
    echo "export PGHOST='$DIR' PGPORT='$PORT' PGUSER=postgres"
    ;;
  *)
    echo "usage: $0 start|stop|status|env" >&2; exit 2 ;;
esac
