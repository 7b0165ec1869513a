#!/usr/bin/env bash
# A local voicebot cluster: PostgreSQL (a private server, unless --db names one), N `voicebot serve`
# workers and Kamailio in front dispatching calls to them (deploy/kamailio/kamailio.cfg).
#
#   scripts/cluster.sh up [--workers N] [--port 5060] [--db URL] [--dir var/cluster] [--flow FILE]
#   scripts/cluster.sh down [--dir var/cluster]
#   scripts/cluster.sh status [--dir var/cluster]
#
# Calls go to sip:anything@127.0.0.1:PORT; worker i listens on PORT+i. Logs and pids in --dir.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

cmd=${1:-}; shift || true
workers=2; port=5060; db=""; dir="var/cluster"; flow="flows/bank.yml"; host=127.0.0.1
pg_port=${VOICEBOT_CLUSTER_PG_PORT:-54330}
while (($#)); do
  case $1 in
    --workers) workers=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --db) db=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --flow) flow=$2; shift 2 ;;
    --pg-port) pg_port=$2; shift 2 ;;
    *) echo "cluster.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
PY=${VOICEBOT_PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PY" ] || PY=/work/main/.venv/bin/python
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

pg_up() {
  local data=$dir/pg/data sock=$dir/pg/sock user
  user=$([ "$(id -u)" -eq 0 ] && echo postgres || echo "${USER:-postgres}")
  if [ ! -d "$data" ]; then
    mkdir -p "$sock"; [ "$(id -u)" -eq 0 ] && chown -R postgres "$dir/pg"
    as_pg "$PG_BIN/initdb" -D "$data" -U "$user" -A trust >/dev/null
  fi
  as_pg "$PG_BIN/pg_ctl" -D "$data" -w -l "$dir/pg/log" \
    -o "-k $sock -c listen_addresses='' -p $pg_port -c max_connections=200" start >/dev/null
  as_pg "$PG_BIN/createdb" -h "$sock" -p "$pg_port" -U "$user" voicebot 2>/dev/null || true
  echo "postgresql+psycopg://$user@/voicebot?host=$sock&port=$pg_port"
}

up() {
  [ -z "$(ls "$dir"/*.pid 2>/dev/null)" ] || { echo "cluster.sh: already up in $dir (down first)" >&2; exit 1; }
  [ -n "$db" ] || db=$(pg_up)
  echo "$db" > "$dir/db.url"
  # Schema and demo data once, before the workers race to create them.
  "$PY" -c "import sys; from voicebot.store import open_store; open_store(sys.argv[1], demo=True)" "$db"
  : > "$dir/dispatcher.list"
  for ((i = 1; i <= workers; i++)); do
    local wport=$((port + i)) rtp=$((20000 + i * 1000))
    VOICEBOT_LOG=${VOICEBOT_LOG:-INFO} nohup "$PY" -m voicebot serve --sip "$host:$wport" --db "$db" \
      --flow "$flow" --rtp-ports "$rtp-$((rtp + 998))" > "$dir/worker$i.log" 2>&1 &
    echo $! > "$dir/worker$i.pid"
    echo "1 sip:$host:$wport" >> "$dir/dispatcher.list"
  done
  sed "s|@LISTEN@|$host:$port|; s|@DSLIST@|$dir/dispatcher.list|; s|@CTL@|$dir/kamailio.ctl|" deploy/kamailio/kamailio.cfg > "$dir/kamailio.cfg"
  kamailio -f "$dir/kamailio.cfg" -P "$dir/kamailio.pid" -E -m 64 -M 8 > "$dir/kamailio.log" 2>&1
  for ((i = 1; i <= workers; i++)); do
    for _ in $(seq 600); do
      grep -q "voicebot serve: ready" "$dir/worker$i.log" && break
      kill -0 "$(cat "$dir/worker$i.pid")" 2>/dev/null || { echo "worker $i died:" >&2; tail -5 "$dir/worker$i.log" >&2; down; exit 1; }
      sleep 0.5
    done
  done
  # Kamailio probed the workers while they were loading and marked them inactive: "up" means its
  # dispatcher has seen every worker answer OPTIONS again (flags A…), else calls get 503 at once.
  for _ in $(seq 60); do
    [ "$(kamcmd -s "unix:$dir/kamailio.ctl" dispatcher.list 2>/dev/null | grep -c 'FLAGS: A')" -ge "$workers" ] && break
    sleep 0.5
  done
  echo "cluster up: sip:bot@$host:$port → $workers workers ($host:$((port + 1))…$((port + workers))), db $db"
}

down() {
  local f
  for f in "$dir"/kamailio.pid "$dir"/worker*.pid; do
    [ -f "$f" ] || continue
    kill -TERM "$(cat "$f")" 2>/dev/null || true
  done
  for f in "$dir"/worker*.pid "$dir"/kamailio.pid; do
    [ -f "$f" ] || continue
    for _ in $(seq 40); do kill -0 "$(cat "$f")" 2>/dev/null || break; sleep 0.25; done
    kill -KILL "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
  if [ -d "$dir/pg/data" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$dir/pg/data" -m fast stop >/dev/null 2>&1 || true
  fi
  echo "cluster down ($dir)"
}

status() {
  local f
  for f in "$dir"/*.pid; do
    [ -f "$f" ] || continue
    if kill -0 "$(cat "$f")" 2>/dev/null; then echo "$(basename "$f" .pid): running"; else echo "$(basename "$f" .pid): dead"; fi
  done
}

case $cmd in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: scripts/cluster.sh up|down|status [--workers N] [--port P] [--db URL] [--dir D]" >&2; exit 2 ;;
esac
