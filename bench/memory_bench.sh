#!/usr/bin/env bash
# Server memory across many transfers: PAIRS sequential put+get pairs of a
# SIZE_MB file against one `ferry server`, all on tmpfs. After each pair (once
# the server is idle) it samples the server's VmRSS; VmHWM gives the peak over
# the whole run. Flat idle figures mean nothing accumulates per transfer.
# Measures memory, not speed, so other work on the machine does not spoil it.
# Writes its section of docs/benchmarks.md (LABEL names the binary's row).
#
#   make bench-memory
#   FERRY=/work/before/ferry LABEL=before bench/memory_bench.sh
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/section.sh"
FERRY=${FERRY:-$ROOT/build/ferry}
LABEL=${LABEL:-$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo build)}
BENCH_DIR=${BENCH_DIR:-/dev/shm/ferry-memory-bench}
SIZE_MB=${SIZE_MB:-512}
PAIRS=${PAIRS:-20}
OUT=${OUT:-$ROOT/docs/benchmarks.md}
PORT=${FERRY_PORT:-17170}

command -v "$FERRY" >/dev/null || { echo "missing $FERRY (run: make build)" >&2; exit 1; }
rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"/{src,dst,ferry}
cd "$BENCH_DIR"
SERVER_PID=""
cleanup() { [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null || true; }
trap cleanup EXIT
log() { echo "[memory] $*" >&2; }
kb() { awk -v f="$1" '$1 == f":" { print $2 }' "/proc/$SERVER_PID/status"; }
mib() { awk -v kb="$1" 'BEGIN { printf "%.1f", kb / 1024 }'; }

log "making a ${SIZE_MB} MiB random file"
head -c $((SIZE_MB * 1048576)) /dev/urandom > src/file.bin
echo benchpassword | "$FERRY" user add bench --data ferry/data --password-stdin >/dev/null
export FERRY_SERVER=127.0.0.1:$PORT FERRY_USER=bench FERRY_PASSWORD=benchpassword
export XDG_CONFIG_HOME=$BENCH_DIR/ferry/config
"$FERRY" server --listen 127.0.0.1:$PORT --data ferry/data >/dev/null 2>ferry/server.log </dev/null &
SERVER_PID=$!
for _ in $(seq 200); do grep -q "listening on" ferry/server.log 2>/dev/null && break; sleep 0.05; done
"$FERRY" ls --trust-new-server >/dev/null
sleep 1
START_KB=$(kb VmRSS)
IDLE=()
for i in $(seq "$PAIRS"); do
  "$FERRY" put --force src/file.bin file.bin >/dev/null
  rm -f dst/file.bin
  "$FERRY" get file.bin dst/file.bin >/dev/null
  cmp -s src/file.bin dst/file.bin || { echo "pair $i: the file came back different" >&2; exit 1; }
  sleep 1  # the server's housekeeping and gRPC's idle work settle
  IDLE+=("$(kb VmRSS)")
  log "pair $i: idle $(mib "${IDLE[-1]}") MiB, peak so far $(mib "$(kb VmHWM)") MiB"
done
PEAK_KB=$(kb VmHWM)
idle_mib=()
for v in "${IDLE[@]}"; do idle_mib+=("$(mib "$v")"); done
read -r MIN MAX < <(printf '%s\n' "${IDLE[@]}" | sort -n | awk 'NR == 1 { min = $1 } { max = $1 } END { print min, max }')
ROW="| $LABEL | $(mib "$START_KB") | $(mib "$PEAK_KB") | ${idle_mib[0]} | ${idle_mib[-1]} | $(mib "$MIN")–$(mib "$MAX") |"
# The section keeps one row per binary: the rows already there, this one replaced.
ROWS=$( { [[ -f $OUT ]] && awk '/<!-- bench:memory:begin -->/ { on = 1; next }
    /<!-- bench:memory:end -->/ { on = 0 }
    on && /^\| / && !/^\| binary / { print }' "$OUT"; } | grep -vF "| $LABEL |" || true)
log "$ROW"
log "idle after each pair (MiB): ${idle_mib[*]}"

{
  echo "## Server memory across transfers (\`make bench-memory\`)"
  echo
  echo "Produced by \`bench/memory_bench.sh\` on $(date +%F): $PAIRS sequential \`ferry put\` +"
  echo "\`ferry get\` pairs of a $SIZE_MB MiB file against one \`ferry server\`, files and data"
  echo "on tmpfs. Server VmRSS in MiB: at the start (logged in, idle), the peak (VmHWM),"
  echo "idle one second after the first and the last pair, and the range of the idle figures."
  echo "Rows are binaries (FERRY=..., LABEL=...); the last run of each is kept."
  echo
  echo "| binary | start | peak | idle after 1st | idle after last | idle range |"
  echo "|---|---|---|---|---|---|"
  [[ -n $ROWS ]] && echo "$ROWS"
  echo "$ROW"
  echo
  echo "Idle after each pair in the last run ($LABEL): ${idle_mib[*]}."
} | write_section memory "$OUT"
log "wrote $OUT"
