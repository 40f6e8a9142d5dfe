#!/usr/bin/env bash
# A PgBouncer in transaction pooling mode in front of a private cluster (scripts/cluster.sh), run as
# user postgres on a private port with trust auth. The pooler tests start and stop it.
#   scripts/pgbouncer.sh start|stop|status|port
# REKOR_CLUSTER_DIR and REKOR_PGPORT select the cluster (as for scripts/cluster.sh);
# REKOR_PGBOUNCER_PORT (default REKOR_PGPORT + 100) is the port PgBouncer listens on (127.0.0.1);
# REKOR_PGBOUNCER_POOL_SIZE (default: environments.test of deploy/pooler-values.yaml, 2) caps the server
# connections per database, so that more clients than that really share backends. Every other setting
# comes from deploy/pooler-values.yaml (deploy/render.py test-ini), like the deployment's poolers'.
# Files live in $REKOR_CLUSTER_DIR/$REKOR_PGBOUNCER_NAME (default pgbouncer): one directory per PgBouncer.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${REKOR_CLUSTER_DIR:-$ROOT/target/rekor-cluster}"
# scripts/cluster.sh may have made $DIR a symlink to /tmp (a checkout user postgres cannot
# traverse): user postgres must only ever see the real path.
[ -e "$DIR" ] && DIR="$(readlink -f "$DIR")"
PORT="${REKOR_PGPORT:-28815}"
BPORT="${REKOR_PGBOUNCER_PORT:-$((PORT + 100))}"
POOL="${REKOR_PGBOUNCER_POOL_SIZE:-}"
BDIR="$DIR/${REKOR_PGBOUNCER_NAME:-pgbouncer}"
PIDFILE="$BDIR/pgbouncer.pid"
PGBOUNCER="$(command -v pgbouncer || echo /usr/sbin/pgbouncer)"

as_pg() { sudo -u postgres -- "$@"; }
pid() { cat "$PIDFILE" 2>/dev/null || true; }
running() { local p; p="$(pid)"; [ -n "$p" ] && as_pg kill -0 "$p" 2>/dev/null; }
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$BPORT") 2>/dev/null; }

case "${1:-}" in
  start)
    if [ ! -x "$PGBOUNCER" ]; then
      echo "[pgbouncer] pgbouncer is not installed (Debian package pgbouncer; scripts/setup.sh installs it)" >&2
      exit 1
    fi
    if running; then
      echo "[pgbouncer] reusing running pgbouncer (pid $(pid), port $BPORT)"
      exit 0
    fi
    mkdir -p "$BDIR"
    rm -f "$PIDFILE"
    # The settings are the deployment's (deploy/pooler-values.yaml: what the CloudNativePG Pooler
    # manifests and the compose PgBouncer run), rendered with this test's local addresses and sizing.
    python3 "$ROOT/deploy/render.py" test-ini --socket-dir "$DIR" --port "$PORT" --listen-port "$BPORT" \
      --dir "$BDIR" ${POOL:+--pool-size "$POOL"} > "$BDIR/pgbouncer.ini"
    echo '"postgres" ""' > "$BDIR/userlist.txt"
    chown -R postgres:postgres "$BDIR"
    as_pg "$PGBOUNCER" -d -q "$BDIR/pgbouncer.ini"
    for _ in $(seq 100); do
      if listening; then
        echo "[pgbouncer] started (pid $(pid)) on 127.0.0.1:$BPORT -> $DIR:$PORT, transaction pooling, pool size $(sed -n 's/^default_pool_size = //p' "$BDIR/pgbouncer.ini")"
        exit 0
      fi
      sleep 0.1
    done
    echo "[pgbouncer] did not start listening on port $BPORT; log:" >&2
    tail -n 20 "$BDIR/pgbouncer.log" >&2 || true
    exit 1
    ;;
  stop)
    if running; then
      p="$(pid)"
      as_pg kill -TERM "$p"
      for _ in $(seq 100); do
        as_pg kill -0 "$p" 2>/dev/null || break
        sleep 0.1
      done
      if as_pg kill -0 "$p" 2>/dev/null; then
        echo "[pgbouncer] pid $p did not stop" >&2
        exit 1
      fi
      echo "[pgbouncer] stopped (pid $p)"
    fi
    rm -f "$PIDFILE"
    ;;
  status)
    if running; then echo "[pgbouncer] running (pid $(pid), port $BPORT)"; else echo "[pgbouncer] not running"; exit 3; fi
    ;;
  port)
    echo "$BPORT"
    ;;
  *)
    echo "usage: $0 start|stop|status|port" >&2; exit 2 ;;
esac
