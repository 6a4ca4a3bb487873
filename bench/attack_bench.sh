#!/usr/bin/env bash
# Service under attack: a legitimate user's latency and success rate while
# each no-login attack of docs/security.md runs against the default
# configuration, all on loopback. For the file server (rows 1, 2 and 6) the
# user runs `ferry ls`; for the directory (row 5) `ferry search`. Each client
# run is a whole process: start, TLS handshake, login, call.
# Writes the `attack` section of docs/benchmarks.md.
#
#   make bench-attack                 (builds, runs)
#   CALLS=20 bench/attack_bench.sh    (a quicker run)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/section.sh"
FERRY=${FERRY:-$ROOT/build/ferry}
ATTACK=${ATTACK:-$ROOT/build/ferry_attack}
BENCH_DIR=${BENCH_DIR:-/dev/shm/ferry-attack-bench}
CALLS=${CALLS:-60}
OUT=${OUT:-$ROOT/docs/benchmarks.md}
SERVER_PORT=${SERVER_PORT:-17170}
DIRECTORY_PORT=${DIRECTORY_PORT:-17180}

for tool in "$FERRY" "$ATTACK" curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool (run: make bench-attack)" >&2; exit 1; }
done
# The flood holds up to 20,000 descriptors in this process.
ulimit -n "$(ulimit -Hn)"

rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"
cd "$BENCH_DIR"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
log() { echo "[bench] $*" >&2; }

wait_for_log() {  # PID FILE TEXT
  for _ in $(seq 1 100); do
    grep -q "$3" "$2" 2>/dev/null && return 0
    kill -0 "$1" 2>/dev/null || { cat "$2" >&2; return 1; }
    sleep 0.1
  done
  echo "timed out waiting for '$3' in $2" >&2
  return 1
}

echo benchpassword | "$FERRY" user add bench --data data --password-stdin >/dev/null
"$FERRY" server --listen 127.0.0.1:$SERVER_PORT --data data >server.log 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
wait_for_log "$SERVER_PID" server.log "listening on"
"$FERRY" directory --listen 127.0.0.1:$DIRECTORY_PORT --data dir --plain-http >directory.log 2>&1 &
DIRECTORY_PID=$!
PIDS+=("$DIRECTORY_PID")
wait_for_log "$DIRECTORY_PID" directory.log "listening on"

export FERRY_SERVER=127.0.0.1:$SERVER_PORT FERRY_USER=bench FERRY_PASSWORD=benchpassword
export FERRY_DIRECTORY=http://127.0.0.1:$DIRECTORY_PORT XDG_CONFIG_HOME=$BENCH_DIR/config
"$FERRY" --trust-new-server ls >/dev/null
"$FERRY" register >/dev/null

# Runs the legitimate client CALLS times in a row; prints "ok p50_ms p99_ms max_ms".
measure() {  # ferry arguments...
  local ok=0 start end
  : >lat.txt
  for _ in $(seq 1 "$CALLS"); do
    start=$(date +%s%N)
    # A call that hangs counts as failed, with the time it was given.
    if timeout 30 "$FERRY" "$@" >/dev/null 2>>client-errors.txt; then ok=$((ok + 1)); fi
    end=$(date +%s%N)
    echo $(((end - start) / 1000)) >>lat.txt
  done
  sort -n lat.txt | awk -v ok="$ok" -v n="$CALLS" '{ a[NR] = $1 } END {
    i50 = int(0.50 * NR + 0.5); i99 = int(0.99 * NR + 0.5)
    if (i50 < 1) i50 = 1
    if (i99 < 1) i99 = 1
    printf "%d/%d %.0f %.0f %.0f\n", ok, n, a[i50] / 1000, a[i99] / 1000, a[NR] / 1000 }'
}

rss_mib() { awk '/VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }
hwm_mib() { awk '/VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status"; }

# Keeps an attack going until the file `stop` exists.
attack_loop() {  # command...
  rm -f stop
  (
    i=0
    while [[ ! -f stop ]]; do
      i=$((i + 1))
      "$@" "$i" >>attack.log 2>&1 || true
    done
  ) &
  ATTACK_LOOP=$!
}
stop_attack() {
  touch stop
  wait "$ATTACK_LOOP" 2>/dev/null || true
}

flood() { timeout 60 "$ATTACK" flood --address 127.0.0.1:$SERVER_PORT --source-ip 127.0.0.2 --count 20000 --seconds 5 --hold 1; }
# As found: one address storms on 2 connections, again and again (once cut,
# its new connections are refused for 60 s).
storm() { timeout 60 "$ATTACK" storm --address 127.0.0.1:$SERVER_PORT --source-ip 127.0.1.1 --connections 2 --seconds 2; }
bad_token() { timeout 60 "$ATTACK" bad-token --address 127.0.0.1:$SERVER_PORT --ca-cert data/tls/server.crt --in-flight 400 --seconds 5; }
nested_json() {
  for _ in 1 2 3 4 5 6 7 8; do
    curl -s -m 30 -o /dev/null -X POST -H 'Content-Type: application/json' --data-binary @nested.json \
      "http://127.0.0.1:$DIRECTORY_PORT/api/v1/register" &
  done
  wait
}
head -c $((16 << 20)) /dev/zero | tr '\0' '[' >nested.json

ROWS=""
run_case() {  # LABEL PID ATTACK CLIENT...
  local label=$1 pid=$2 attack=$3
  shift 3
  local before after result
  before=$(rss_mib "$pid")
  if [[ $attack != none ]]; then attack_loop "$attack"; sleep 1; fi
  log "$label"
  result=$(measure "$@")
  [[ $attack != none ]] && stop_attack
  sleep 2
  after=$(rss_mib "$pid")
  read -r ok p50 p99 max <<<"$result"
  ROWS+="| $label | $ok | $p50 | $p99 | $max | $before → $(hwm_mib "$pid") peak → $after |"$'\n'
}

run_case "file server, no attack (\`ferry ls\`)" "$SERVER_PID" none ls
run_case "row 1: 20,000 bare connections every ~6 s from one address" "$SERVER_PID" flood ls
run_case "row 2: reset storms on 2 connections from one address" "$SERVER_PID" storm ls
run_case "row 6: made-up tokens, 400 calls in flight" "$SERVER_PID" bad_token ls
run_case "directory, no attack (\`ferry search\`)" "$DIRECTORY_PID" none search bench
run_case "row 5: 8 × 16 MiB of nested \`[\` to register, over and over" "$DIRECTORY_PID" nested_json search bench
sleep 30
SETTLED_SERVER=$(rss_mib "$SERVER_PID")
SETTLED_DIRECTORY=$(rss_mib "$DIRECTORY_PID")

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)
write_section attack "$OUT" <<EOF
## Service under attack (\`make bench-attack\`)

$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($cpu), kernel $(uname -r); attackers,
servers and the client share the machine. A legitimate user runs the client $CALLS times
in a row while each attack of docs/security.md runs against \`ferry server\` and
\`ferry directory\` with default settings; each run is a whole process (start, TLS
handshake, login, call), so its time includes a login's Argon2id check. Target: every
call succeeds, p99 under 1 s.

| attack | calls that succeeded | p50 ms | p99 ms | max ms | server RSS MiB (before → peak since start → 2 s after) |
|---|---|---|---|---|---|
$ROWS
30 s after the last attack: ferry server ${SETTLED_SERVER} MiB, ferry directory ${SETTLED_DIRECTORY} MiB resident.
EOF
log "wrote the attack section of $OUT"
cat client-errors.txt >&2 || true
