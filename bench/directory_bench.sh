#!/usr/bin/env bash
# P2P directory benchmark, one run: `ferry directory` holding PEERS announced
# peers sharing FILES files each, measured with wrk on loopback:
#   - heartbeats/s against opentracker's announces/s, same wrk threads,
#     connections and duration (target: at least 0.5x);
#   - search requests/s with p50/p99 latency (target: p99 under 20 ms): flat
#     out from 32 connections, from one, and from 32 clients pausing between
#     searches at the SEARCH_RATES offered loads; also without the answer cache;
# for the SQLite store and for PostgreSQL (a throwaway cluster). Writes the
# `directory` section of docs/benchmarks.md.
#
#   make bench-directory          (installs what it needs, builds, runs)
#   PEERS=1000 DURATION=5s bench/directory_bench.sh        (a quicker run)
#   POSTGRES=0 bench/directory_bench.sh                    (SQLite only)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/section.sh"
FERRY=${FERRY:-$ROOT/build/ferry}
LOADER=${LOADER:-$ROOT/build/ferry_directory_load}
BENCH_DIR=${BENCH_DIR:-/dev/shm/ferry-directory-bench}
OUT=${OUT:-$ROOT/docs/benchmarks.md}
PEERS=${PEERS:-10000}
FILES=${FILES:-100}
USERS=${USERS:-8}
WRK_THREADS=${WRK_THREADS:-1}
WRK_CONNS=${WRK_CONNS:-32}
DURATION=${DURATION:-15s}
# Offered search loads (searches/s from WRK_CONNS clients that pause between searches).
SEARCH_RATES=${SEARCH_RATES:-"50 100 200"}
# A paced run lasts long enough for about this many searches (60 s at 50/s),
# so that its p99 is not one or two slow requests; at least DURATION.
PACED_SEARCHES=${PACED_SEARCHES:-3000}
WARMUP=${WARMUP:-3s}
POSTGRES=${POSTGRES:-1}
# With PIN=1 wrk runs on CPU 0 and the server side (ferry, opentracker, or
# ferry plus PostgreSQL) on CPU 1, so each server gets the same one core.
PIN=${PIN:-1}
PG_BIN=${PG_BIN:-$( (ls -d /usr/lib/postgresql/*/bin 2>/dev/null || true) | sort -V | tail -1)}
FERRY_PORT=${FERRY_PORT:-17280}
OT_PORT=${OT_PORT:-17969}
PG_PORT=${PG_PORT:-17432}
WRK_DIR=$ROOT/bench/wrk

for tool in "$FERRY" "$LOADER" wrk opentracker taskset curl od; do
  command -v "$tool" >/dev/null || { echo "missing $tool (run: make bench-directory)" >&2; exit 1; }
done
if [[ $POSTGRES == 1 && ! -x $PG_BIN/initdb ]]; then
  echo "missing /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql, or POSTGRES=0)" >&2
  exit 1
fi

log() { echo "[bench] $*" >&2; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict_ge() { awk -v r="$1" -v t="$2" 'BEGIN { print (r >= t) ? "met" : "NOT met" }'; }
verdict_lt() { awk -v r="$1" -v t="$2" 'BEGIN { print (r < t) ? "met" : "NOT met" }'; }
mib() { awk -v kb="$1" 'BEGIN { printf "%.1f", kb / 1024 }'; }
if [[ $PIN == 1 && $(nproc) -ge 2 ]]; then
  ON_CLIENT=(taskset -c 0)
  ON_SERVER=(taskset -c 1)
else
  ON_CLIENT=()
  ON_SERVER=()
fi

# PostgreSQL refuses to run as root: then it runs as the postgres user.
AS_PG=()
[[ $(id -u) == 0 ]] && AS_PG=(runuser -u postgres --)

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"
cd "$BENCH_DIR"
PIDS=()
PG_DATA=""
POSTMASTER_PID=""
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  if [[ -n $PG_DATA && -f $PG_DATA/postmaster.pid ]]; then
    "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT

# Waits (at most ~20 s) until LOG contains TEXT; fails if process PID died.
wait_for_log() {  # PID LOG TEXT
  for _ in $(seq 200); do
    grep -q "$3" "$2" 2>/dev/null && return 0
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  echo "did not start; its log ($2):" >&2
  tail -20 "$2" >&2
  exit 1
}

# Starts `ferry directory` on FERRY_PORT; sets DIR_PID. The heartbeat interval
# is an hour so that no peer expires while the others load or while the
# measurements run; what a heartbeat costs does not depend on it.
start_directory() {  # NAME DB [flags...]
  local name=$1 db=$2
  shift 2
  mkdir -p "$name"
  setsid "${ON_SERVER[@]}" "$FERRY" directory --listen 127.0.0.1:"$FERRY_PORT" --data "$name" \
    --db "$db" --heartbeat-seconds 3600 "$@" >"$name/stdout.log" 2>&1 </dev/null &
  DIR_PID=$!
  PIDS+=("$DIR_PID")
  SERVER_PIDS="$DIR_PID $POSTMASTER_PID"
  wait_for_log "$DIR_PID" "$name/stdout.log" "listening on"
}

stop_directory() {
  kill "$DIR_PID"
  for _ in $(seq 100); do kill -0 "$DIR_PID" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$DIR_PID" 2>/dev/null || true
}

peak_rss_kb() { awk '/VmHWM/ { print $2 }' "/proc/$1/status"; }

# Fills the running directory; sets LOAD_* from the loader's key=value line.
load_directory() {  # NAME
  log "$1: announcing $PEERS peers x $FILES files"
  local line
  line=$("$LOADER" --url "http://127.0.0.1:$FERRY_PORT" --peers "$PEERS" --files "$FILES" \
    --users "$USERS" --threads 4 --peers-out "$1/peers.txt" --queries-out "$1/queries.txt") || return 1
  log "$1: $line"
  LOAD_SECONDS=$(tr ' ' '\n' <<<"$line" | awk -F= '$1 == "seconds" { print $2 }')
  LOAD_QUERIES=$(tr ' ' '\n' <<<"$line" | awk -F= '$1 == "queries" { print $2 }')
  LOAD_WORDS=$(tr ' ' '\n' <<<"$line" | awk -F= '$1 == "words" { print $2 }')
  LOAD_HITS=$(tr ' ' '\n' <<<"$line" | awk -F= '$1 ~ /^hits_/ { printf "%s%s", sep, $2; sep = " / " }')
}

# Waits (at most 10 minutes) until the directory on FERRY_PORT reports its
# search index tidy, as one that has run a while after a bulk load would be;
# sets TIDY_SECONDS.
wait_for_tidy_index() {  # NAME
  local start=$SECONDS
  sleep 6  # past the next maintenance pass (every 5 s), which sees the last writes
  for _ in $(seq 600); do
    curl -s "http://127.0.0.1:$FERRY_PORT/metrics" | grep -q '^ferry_directory_index_upkeep_pending 0$' && break
    sleep 1
  done
  TIDY_SECONDS=$((SECONDS - start))
  log "$1: index upkeep done after ${TIDY_SECONDS} s"
}

# CPU time (clock ticks) used so far by the processes in SERVER_PIDS and their
# children (PostgreSQL's backends).
server_ticks() {
  local pids=() p
  for p in $SERVER_PIDS; do pids+=("$p"); mapfile -t -O "${#pids[@]}" pids < <(pgrep -P "$p" || true); done
  for p in "${pids[@]}"; do awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || true; done |
    awk '{ t += $1 } END { print t + 0 }'
}

# Searches the directory at URL has answered from its answer cache and from
# the store so far: "hits misses".
cache_counts() {  # URL
  curl -s "$1/metrics" | awk '
    /^ferry_directory_search_cache_total[{]result="hit"[}]/ { h = $2 }
    /^ferry_directory_search_cache_total[{]result="miss"[}]/ { m = $2 }
    END { print h + 0, m + 0 }'
}

# Runs wrk for WARMUP (thrown away), then for DURATION with --latency; prints
# "req_per_s p50_ms p99_ms non2xx socket_errors server_cpu_percent
# cache_hit_percent" (the last "-" unless it is a search run) and keeps wrk's
# output in LABEL.wrk.
run_wrk() {  # LABEL URL SCRIPT [script args...]
  local label=$1 url=$2 script=$3 t0 t1 c0 c1 k0="" k1=""
  shift 3
  "${ON_CLIENT[@]}" wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$WARMUP" --timeout 10s -s "$script" "$url" -- "$@" \
    >"$label.warmup.wrk"
  [[ $script == */search.lua ]] && k0=$(cache_counts "$url")
  c0=$(server_ticks)
  t0=$(date +%s.%N)
  "${ON_CLIENT[@]}" wrk -t"$WRK_THREADS" -c"$WRK_CONNS" -d"$DURATION" --timeout 10s --latency -s "$script" \
    "$url" -- "$@" >"$label.wrk"
  t1=$(date +%s.%N)
  c1=$(server_ticks)
  [[ $script == */search.lua ]] && k1=$(cache_counts "$url")
  local hit_pct
  hit_pct=$(awk -v a="$k0" -v b="$k1" 'BEGIN {
    if (a == "" || b == "") { print "-"; exit }
    split(a, x, " "); split(b, y, " "); h = y[1] - x[1]; m = y[2] - x[2]
    if (h + m > 0) printf "%.0f", 100 * h / (h + m); else print "-" }')
  awk -v cpu="$(awk -v a="$c0" -v b="$c1" -v s="$t0" -v e="$t1" -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "%.0f", (b - a) / hz / (e - s) * 100 }')" -v hits="$hit_pct" '
    function ms(v) {
      if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0
      if (v ~ /m$/) return v * 60000; if (v ~ /s$/) return v * 1000; return v
    }
    /^Requests\/sec:/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /Non-2xx or 3xx responses:/ { bad = $NF }
    /Socket errors:/ { gsub(/,/, ""); errs = $4 + $6 + $8 + $10 }
    END { printf "%.0f %.2f %.2f %d %d %s %s\n", rps, p50, p99, bad, errs, cpu, hits }' "$label.wrk"
}

# Heartbeats (keep-alive, and a new connection per request) and searches
# against the directory on FERRY_PORT; sets <PREFIX>_HB, _HB_CLOSE and what
# measure_search sets.
measure_directory() {  # NAME PREFIX
  local name=$1 url=http://127.0.0.1:$FERRY_PORT figures
  log "$name: heartbeats"
  figures=$(run_wrk "$name/heartbeat" "$url" "$WRK_DIR/heartbeat.lua" "$name/peers.txt")
  printf -v "$2_HB" '%s' "$figures"
  log "$name: heartbeats, one connection per request"
  figures=$(run_wrk "$name/heartbeat-close" "$url" "$WRK_DIR/heartbeat.lua" "$name/peers.txt" close)
  printf -v "$2_HB_CLOSE" '%s' "$figures"
  measure_search "$name" "$2"
  local rate
  for rate in $SEARCH_RATES; do
    local seconds=$(((PACED_SEARCHES + rate - 1) / rate))
    ((seconds < ${DURATION%s})) && seconds=${DURATION%s}
    log "$name: searches offered at $rate/s for $seconds s"
    figures=$(DURATION=${seconds}s run_wrk "$name/search-at-$rate" "$url" "$WRK_DIR/search.lua" \
      "$name/peers.txt" "$name/queries.txt" "$((WRK_CONNS * 1000 / rate))")
    printf -v "$2_SEARCH_AT_$rate" '%s' "$figures"
  done
}

# Searches flat out from WRK_CONNS connections and from one; sets
# <PREFIX>_SEARCH and <PREFIX>_SEARCH_1 and keeps wrk's output in
# NAME/search[SUFFIX].wrk and NAME/search-1[SUFFIX].wrk.
measure_search() {  # NAME PREFIX [SUFFIX]
  local name=$1 url=http://127.0.0.1:$FERRY_PORT figures suffix=${3:-}
  log "$name: searches$suffix"
  figures=$(run_wrk "$name/search$suffix" "$url" "$WRK_DIR/search.lua" "$name/peers.txt" "$name/queries.txt")
  printf -v "$2_SEARCH" '%s' "$figures"
  log "$name: searches$suffix, one connection"
  figures=$(WRK_THREADS=1 WRK_CONNS=1 run_wrk "$name/search-1$suffix" "$url" "$WRK_DIR/search.lua" \
    "$name/peers.txt" "$name/queries.txt")
  printf -v "$2_SEARCH_1" '%s' "$figures"
}

field() { awk -v n="$2" '{ print $n }' <<<"$1"; }
# Requests per second of server CPU time, from run_wrk's figures.
per_cpu() { awk '{ printf "%.0f", ($6 > 0 ? $1 / ($6 / 100) : 0) }' <<<"$1"; }

# ---- ferry directory, SQLite ------------------------------------------------------
start_directory sqlite "sqlite:$BENCH_DIR/sqlite/directory.db" --plain-http
load_directory sqlite
SQLITE_LOAD_SECONDS=$LOAD_SECONDS
wait_for_tidy_index sqlite
SQLITE_TIDY_SECONDS=$TIDY_SECONDS
measure_directory sqlite SQLITE
SQLITE_RSS=$(peak_rss_kb "$DIR_PID")
SQLITE_DB_MB=$(du -cm sqlite/directory.db* | awk 'END { print $1 }')
stop_directory
# What the searches cost without the answer cache.
start_directory sqlite "sqlite:$BENCH_DIR/sqlite/directory.db" --plain-http --search-cache-mib 0
measure_search sqlite SQLITE_NOCACHE -nocache
stop_directory
# The same store over HTTPS (the self-signed certificate is made on start).
start_directory sqlite "sqlite:$BENCH_DIR/sqlite/directory.db"
log "sqlite: heartbeats over HTTPS"
SQLITE_HB_TLS=$(run_wrk sqlite/heartbeat-tls "https://127.0.0.1:$FERRY_PORT" "$WRK_DIR/heartbeat.lua" \
  sqlite/peers.txt)
stop_directory

# ---- opentracker: PEERS peers, one per whitelisted random info hash ----------------
log "opentracker: announces"
mkdir -p opentracker
head -c $((PEERS * 20)) /dev/urandom | od -An -v -tx1 -w20 | tr -d ' ' >opentracker/whitelist.txt
chmod 755 opentracker
chmod 644 opentracker/whitelist.txt
# As root it chroots to -d and drops to nobody, so the whitelist path is inside the chroot.
setsid "${ON_SERVER[@]}" opentracker -i 127.0.0.1 -p "$OT_PORT" -P "$OT_PORT" -d "$BENCH_DIR/opentracker" \
  -w /whitelist.txt >opentracker/stdout.log 2>&1 </dev/null &
OT_PID=$!
PIDS+=("$OT_PID")
SERVER_PIDS=$OT_PID
OT_PROBE="http://127.0.0.1:$OT_PORT/announce?info_hash=$(head -1 opentracker/whitelist.txt |
  sed 's/../%&/g')&peer_id=-FB0001-probe0000000&port=1&left=0"
for _ in $(seq 100); do
  curl -s "$OT_PROBE" 2>/dev/null | grep -q interval && break
  kill -0 "$OT_PID" 2>/dev/null || { cat opentracker/stdout.log >&2; exit 1; }
  sleep 0.1
done
curl -s "$OT_PROBE" | grep -q interval || { echo "opentracker refuses announces" >&2; exit 1; }
OT=$(run_wrk opentracker/announce "http://127.0.0.1:$OT_PORT" "$WRK_DIR/opentracker.lua" \
  opentracker/whitelist.txt)
OT_RSS=$(peak_rss_kb "$OT_PID")
kill "$OT_PID"

# ---- ferry directory, PostgreSQL ----------------------------------------------------
PG_STATUS="not run (POSTGRES=0)"
if [[ $POSTGRES == 1 ]]; then
  log "postgresql: throwaway cluster on port $PG_PORT"
  mkdir -p pg
  PG_DATA=$BENCH_DIR/pg/data
  [[ -n ${AS_PG[*]} ]] && chown postgres: pg
  "${AS_PG[@]}" "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 >pg/initdb.log 2>&1
  # A benchmark cluster: no fsync, no synchronous commit (a crash may lose it).
  "${AS_PG[@]}" "${ON_SERVER[@]}" "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$BENCH_DIR/pg/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $BENCH_DIR/pg -c fsync=off \
        -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=512MB \
        -c max_connections=50" start >pg/pg_ctl.log
  "${AS_PG[@]}" "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U postgres ferry_bench
  POSTMASTER_PID=$(head -1 "$PG_DATA/postmaster.pid")
  PG_URL="postgresql://postgres@127.0.0.1:$PG_PORT/ferry_bench"
  start_directory postgres "$PG_URL" --plain-http
  if load_directory postgres; then
    PG_LOAD_SECONDS=$LOAD_SECONDS
    # What autovacuum would have done by now in a running deployment: the
    # planner's statistics and the visibility map for the freshly loaded rows.
    "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d ferry_bench -qc "VACUUM (ANALYZE)"
    wait_for_tidy_index postgres
    measure_directory postgres PG
    PG_RSS=$(peak_rss_kb "$DIR_PID")
    PG_DB_MB=$("$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -d ferry_bench -Atc \
      "SELECT pg_database_size('ferry_bench') / 1048576" 2>/dev/null || echo "?")
    PG_STATUS=ok
  else
    PG_STATUS="failed while loading (see $BENCH_DIR/postgres/stdout.log)"
  fi
  stop_directory
  if [[ $PG_STATUS == ok ]]; then
    start_directory postgres "$PG_URL" --plain-http --search-cache-mib 0
    wait_for_tidy_index postgres  # its name index loads at start
    PG_INDEX_LOAD_SECONDS=$TIDY_SECONDS
    measure_search postgres PG_NOCACHE -nocache
    stop_directory
  fi
fi

# ---- the section ----------------------------------------------------------------------
HB_RATIO=$(ratio "$(field "$SQLITE_HB" 1)" "$(field "$OT" 1)")
row() {  # LABEL FIGURES
  echo "| $1 | $(field "$2" 1) | $(field "$2" 2) | $(field "$2" 3) | $(field "$2" 6) | $(per_cpu "$2") | $(field "$2" 7) | $(field "$2" 4) | $(field "$2" 5) |"
}
# The search rows and targets of one store.
search_rows() {  # STORE PREFIX
  local flat=$2_SEARCH one=$2_SEARCH_1 nc_flat=$2_NOCACHE_SEARCH one_nc=$2_NOCACHE_SEARCH_1 rate at
  row "ferry search, $1, $WRK_CONNS connections flat out" "${!flat}"
  row "ferry search, $1, 1 connection (\`-t1 -c1\`)" "${!one}"
  for rate in $SEARCH_RATES; do
    at=$2_SEARCH_AT_$rate
    row "ferry search, $1, $WRK_CONNS clients offering $rate/s (pause $((WRK_CONNS * 1000 / rate)) ms)" "${!at}"
  done
  row "ferry search, $1, no answer cache, $WRK_CONNS connections flat out" "${!nc_flat}"
  row "ferry search, $1, no answer cache, 1 connection" "${!one_nc}"
}
search_targets() {  # STORE PREFIX
  local flat=$2_SEARCH one=$2_SEARCH_1 rate at
  echo "| search p99 < 20 ms, $1, one client | $(field "${!one}" 3) ms | $(verdict_lt "$(field "${!one}" 3)" 20) |"
  for rate in $SEARCH_RATES; do
    at=$2_SEARCH_AT_$rate
    echo "| search p99 < 20 ms, $1, $WRK_CONNS clients offering $rate/s | $(field "${!at}" 3) ms | $(verdict_lt "$(field "${!at}" 3)" 20) |"
  done
  echo "| search p99 < 20 ms, $1, $WRK_CONNS connections flat out ($(field "${!flat}" 1)/s) | $(field "${!flat}" 3) ms | $(verdict_lt "$(field "${!flat}" 3)" 20) |"
}
PG_ROWS=""
PG_TARGETS=""
if [[ $PG_STATUS == ok ]]; then
  PG_HB_RATIO=$(ratio "$(field "$PG_HB" 1)" "$(field "$OT" 1)")
  PG_ROWS=$(
    row "ferry heartbeat, PostgreSQL" "$PG_HB"
    row "ferry heartbeat, PostgreSQL, new connection per request" "$PG_HB_CLOSE"
    search_rows PostgreSQL PG
  )
  PG_TARGETS=$(
    echo "| heartbeats/s, PostgreSQL >= 0.5x opentracker announces/s | ${PG_HB_RATIO}x | $(verdict_ge "$PG_HB_RATIO" 0.5) |"
    search_targets PostgreSQL PG
  )
fi
PIN_NOTE="wrk and the servers share the $(nproc) cores (not pinned)."
[[ ${#ON_SERVER[@]} -gt 0 ]] && PIN_NOTE="wrk is pinned to CPU 0 and the server side to
CPU 1 (\`taskset\`): ferry, opentracker, or ferry and PostgreSQL together, so each server has the
same one core."
write_section directory "$OUT" <<MD
## P2P directory

Produced by \`make bench-directory\` (\`bench/directory_bench.sh\`) on $(date -u +%Y-%m-%d), one run.
Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/^Mem:/ { print $2 }') GiB RAM, Linux $(uname -r);
load average before the run: $LOAD_BEFORE. $PIN_NOTE
All traffic on 127.0.0.1, plain HTTP unless marked HTTPS; data in \`$BENCH_DIR\`
($(df -T "$BENCH_DIR" | awk 'NR == 2 { print $2 }')).

The directory holds $PEERS peers of $USERS users sharing $FILES files each ($((PEERS * FILES)) entries),
loaded by \`ferry_directory_load\` (file names of two to four words from a list of $LOAD_WORDS, a tenth
of them popular files shared by many peers; load took ${SQLITE_LOAD_SECONDS} s into SQLite${PG_LOAD_SECONDS:+,
${PG_LOAD_SECONDS} s into PostgreSQL}). The directories run with \`--heartbeat-seconds 3600\` so that no
peer expires during the load; a heartbeat costs the same whatever the interval. After the
load, the SQLite directory merged its search index for ${SQLITE_TIDY_SECONDS} s more (until \`/metrics\` showed
\`ferry_directory_index_upkeep_pending 0\`) before the runs, as one that has run a while would have. Every run is
wrk after a $WARMUP warm-up with the same settings (thrown away), from \`$BENCH_DIR\` (the
PostgreSQL runs read \`postgres/\` instead of \`sqlite/\`):

\`\`\`
wrk -t$WRK_THREADS -c$WRK_CONNS -d$DURATION --timeout 10s --latency -s bench/wrk/heartbeat.lua   http://127.0.0.1:$FERRY_PORT -- sqlite/peers.txt [close]
wrk -t$WRK_THREADS -c$WRK_CONNS -d$DURATION --timeout 10s --latency -s bench/wrk/search.lua      http://127.0.0.1:$FERRY_PORT -- sqlite/peers.txt sqlite/queries.txt [PAUSE_MS]
wrk -t$WRK_THREADS -c$WRK_CONNS -d$DURATION --timeout 10s --latency -s bench/wrk/opentracker.lua http://127.0.0.1:$OT_PORT -- opentracker/whitelist.txt
\`\`\`

- heartbeat: \`POST /api/v1/heartbeat\` of a peer drawn at random from the $PEERS, with its owner's
  token; keep-alive connections, and once with \`Connection: close\` (a TCP connect per request,
  as opentracker makes its clients do) and once over HTTPS (TLS 1.3, keep-alive);
- opentracker ($(dpkg-query -W -f '${Version}' opentracker 2>/dev/null || echo "?"), Debian's build, whitelist mode):
  \`GET /announce?info_hash=...&peer_id=...&port=...&left=0&compact=1\` re-announcing one of $PEERS
  peers, each with its own random 20-byte info hash (all whitelisted), peer id and port.
  opentracker closes the connection after every reply without saying so, so wrk counts one
  socket read error per announce and reconnects: each announce includes a TCP connect;
- search: \`GET /api/v1/search?q=TEXT\` (default limit 50: 50 hits with up to 50 peers each,
  about 50 KB of JSON) with TEXT drawn uniformly from $LOAD_QUERIES pieces of existing names: a
  word, 4-6 letters of one, or two words with their separator; files matching a query,
  estimated from a sample, p50 / p90 / max: $LOAD_HITS. Four kinds of run:
  - *flat out*: each of $WRK_CONNS connections sends its next search as soon as the last is
    answered. This gives the most searches/s one core serves; the latency is then the queue
    ($WRK_CONNS searches in flight / searches per second), not what a search costs;
  - *1 connection*: what one search costs, waiting behind nothing;
  - *$WRK_CONNS clients offering N/s*: each connection pauses a random time (exponential,
    mean $WRK_CONNS × 1000 / N ms; the script's third argument) after each answer, like a client
    with a user behind it, so the directory sees about N searches/s below what it can take:
    the latency a user sees at that load. These runs last for about $PACED_SEARCHES searches
    (\`-d\` of $PACED_SEARCHES / N seconds, at least $DURATION), so that one stall of the machine
    is not the p99;
  - *no answer cache*: flat out and one connection again on a directory started with
    \`--search-cache-mib 0\`, so that every search asks the store.

  The answer cache keeps an answer for at most one flush interval (1 s; a quarter of the
  heartbeat interval when that is shorter) and drops everything at any change made through the
  instance. The "answer cache hits %" column is its share of the run's searches, from
  \`/metrics\`. Queries drawn uniformly from $LOAD_QUERIES texts are the worst case for it; real
  query logs repeat popular queries far more often.

Server CPU % is the CPU time of the server side during the run (ferry's threads, or
opentracker, or ferry plus PostgreSQL's backends) over the wall time: 100 = one core. Below
100 the server was not the bottleneck (wrk, or other load on the machine, was), so the
requests per server CPU-second compare the servers' own costs.

| run | req/s | p50 ms | p99 ms | server CPU % | req per server CPU-s | answer cache hits % | non-2xx | socket errors |
|---|---|---|---|---|---|---|---|---|
$(row "ferry heartbeat, SQLite" "$SQLITE_HB")
$(row "ferry heartbeat, SQLite, new connection per request" "$SQLITE_HB_CLOSE")
$(row "ferry heartbeat, SQLite, HTTPS" "$SQLITE_HB_TLS")
$(row "opentracker announce" "$OT")
$(search_rows SQLite SQLITE)
$PG_ROWS

Peak RSS: ferry directory with SQLite $(mib "$SQLITE_RSS") MiB (over the load and the runs; database
${SQLITE_DB_MB} MiB on disk)${PG_RSS:+, with PostgreSQL $(mib "$PG_RSS") MiB (database ${PG_DB_MB} MiB)}; opentracker $(mib "$OT_RSS") MiB.
PostgreSQL: $PG_STATUS$([[ $PG_STATUS == ok ]] && echo "; $("$PG_BIN/postgres" --version), a throwaway cluster with
fsync=off, synchronous_commit=off and full_page_writes=off (fine for a benchmark, not for a
deployment), shared_buffers=512MB, ferry's default 8 connections; \`VACUUM (ANALYZE)\` after the load, as
autovacuum would have done by then in a running deployment. Text searches are answered from
ferry's in-memory name index (docs/directory.md); the directory restarted without the answer
cache had its $((PEERS * FILES)) names loaded ${PG_INDEX_LOAD_SECONDS} s after its start (\`/metrics\` is first
polled after 6 s)").

### Targets

| target | measured | |
|---|---|---|
| heartbeats/s, SQLite >= 0.5x opentracker announces/s | ${HB_RATIO}x | $(verdict_ge "$HB_RATIO" 0.5) |
$(search_targets SQLite SQLITE)
$PG_TARGETS

Not targets: per server CPU-second, ferry with SQLite answers
$(ratio "$(per_cpu "$SQLITE_HB")" "$(per_cpu "$OT")")x as many heartbeats as opentracker answers announces; with a new connection per request, as
opentracker's clients have, ferry with SQLite makes $(ratio "$(field "$SQLITE_HB_CLOSE" 1)" "$(field "$OT" 1)")x opentracker's announces/s.
MD
log "wrote $OUT"
sed -n '/bench:directory:begin/,/bench:directory:end/p' "$OUT"
