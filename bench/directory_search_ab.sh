#!/usr/bin/env bash
# Directory search, two builds compared on one PostgreSQL database: loads
# PEERS peers x FILES files once (with AFTER), then runs the two `ferry`
# binaries in turn on it, PAIRS pairs alternating which goes first, each for
# WARMUP + DURATION of wrk's search.lua at 32 connections and at 1. wrk runs
# on CPU 0, the directory and PostgreSQL on CPU 1. Prints one line per run:
# "NAME c=CONNS requests/s p50 p99". Run as root (PostgreSQL runs as postgres),
# on a quiet machine: a build running meanwhile halves a run.
#
#   BEFORE=/path/to/old/ferry bench/directory_search_ab.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BEFORE=${BEFORE:?set BEFORE to the ferry binary to compare against}
AFTER=${AFTER:-$ROOT/build/ferry}
LOADER=${LOADER:-$ROOT/build/ferry_directory_load}
PEERS=${PEERS:-10000}
FILES=${FILES:-100}
PAIRS=${PAIRS:-4}
WARMUP=${WARMUP:-3s}
DURATION=${DURATION:-10s}
DIR=${BENCH_DIR:-/dev/shm/ferry-directory-ab}
PORT=${FERRY_PORT:-17280}
PG_PORT=${PG_PORT:-17432}
PG_BIN=$( (ls -d /usr/lib/postgresql/*/bin 2>/dev/null || true) | sort -V | tail -1)
SEARCH=$ROOT/bench/wrk/search.lua
AS_PG=(runuser -u postgres --)

for tool in "$BEFORE" "$AFTER" "$LOADER" wrk taskset curl "$PG_BIN/initdb"; do
  command -v "$tool" >/dev/null || { echo "missing $tool (run: make bench-directory)" >&2; exit 1; }
done

rm -rf "$DIR"
mkdir -p "$DIR/pg"
chown postgres: "$DIR/pg"
PID=""
cleanup() {
  [[ -n $PID ]] && kill "$PID" 2>/dev/null || true
  "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

"${AS_PG[@]}" "$PG_BIN/initdb" -D "$DIR/pg/data" -U postgres --auth=trust -E UTF8 >/dev/null
"${AS_PG[@]}" taskset -c 1 "$PG_BIN/pg_ctl" -D "$DIR/pg/data" -l "$DIR/pg/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $DIR/pg -c fsync=off -c synchronous_commit=off \
      -c full_page_writes=off -c shared_buffers=512MB -c max_connections=50" start >/dev/null
"${AS_PG[@]}" "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres ferry_bench
URL=postgresql://postgres@127.0.0.1:$PG_PORT/ferry_bench

start() {  # BINARY NAME
  mkdir -p "$DIR/$2"
  setsid taskset -c 1 "$1" directory --listen 127.0.0.1:"$PORT" --data "$DIR/$2" --db "$URL" \
    --heartbeat-seconds 3600 --plain-http >"$DIR/$2/log" 2>&1 </dev/null &
  PID=$!
  for _ in $(seq 200); do grep -q "listening on" "$DIR/$2/log" && return 0; sleep 0.1; done
  echo "$2 did not start:" >&2
  tail "$DIR/$2/log" >&2
  exit 1
}
stop() {
  kill "$PID"
  wait "$PID" 2>/dev/null || true
  PID=""
}
# Until the search index is tidy (it loads at start), as in directory_bench.sh.
wait_tidy() {
  sleep 6
  for _ in $(seq 600); do
    curl -s "http://127.0.0.1:$PORT/metrics" | grep -q '^ferry_directory_index_upkeep_pending 0$' &&
      return 0
    sleep 1
  done
}

start "$AFTER" load
"$LOADER" --url "http://127.0.0.1:$PORT" --peers "$PEERS" --files "$FILES" --users 8 --threads 4 \
  --peers-out "$DIR/peers.txt" --queries-out "$DIR/queries.txt" >&2
"$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d ferry_bench -qc "VACUUM (ANALYZE)"
wait_tidy
stop

run() {  # NAME BINARY CONNECTIONS
  start "$2" "$1"
  wait_tidy
  taskset -c 0 wrk -t1 -c"$3" -d"$WARMUP" --timeout 10s -s "$SEARCH" "http://127.0.0.1:$PORT" \
    -- "$DIR/peers.txt" "$DIR/queries.txt" >/dev/null
  taskset -c 0 wrk -t1 -c"$3" -d"$DURATION" --timeout 10s --latency -s "$SEARCH" \
    "http://127.0.0.1:$PORT" -- "$DIR/peers.txt" "$DIR/queries.txt" >"$DIR/$1.wrk"
  echo "$1 c=$3 $(awk '/^Requests\/sec:/ { r = $2 } $1 == "50%" { p = $2 } $1 == "99%" { q = $2 }
    END { print r, p, q }' "$DIR/$1.wrk")"
  stop
}
for i in $(seq "$PAIRS"); do
  for c in 32 1; do
    if ((i % 2)); then
      run before "$BEFORE" "$c"
      run after "$AFTER" "$c"
    else
      run after "$AFTER" "$c"
      run before "$BEFORE" "$c"
    fi
  done
done
