#!/usr/bin/env bash
# Background-jobs benchmark, one run: ferry encrypt/decrypt against age -p/-d
# on the same 1 GiB random file, ferry zip against `zip -r -6` on the same
# directory of 1,000 mixed files, and tiny jobs per second through Redis with
# two `ferry worker`s. Writes its section of docs/benchmarks.md.
#
#   make bench-jobs                 (installs what it needs, builds, runs)
#   SIZE_MB=256 REPS=1 bench/jobs_bench.sh          (a quicker run)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/section.sh"
FERRY=${FERRY:-$ROOT/build/ferry}
JOBS_BENCH=${JOBS_BENCH:-$ROOT/build/ferry_jobs_bench}
BENCH_DIR=${BENCH_DIR:-/dev/shm/ferry-jobs-bench}
SIZE_MB=${SIZE_MB:-1024}
FILES=${FILES:-1000}
REPS=${REPS:-3}
TINY_JOBS=${TINY_JOBS:-1000}
OUT=${OUT:-$ROOT/docs/benchmarks.md}
FERRY_PORT=${FERRY_PORT:-17170}
REDIS_FERRY_PORT=${REDIS_FERRY_PORT:-17171}
REDIS_PORT=${REDIS_PORT:-17379}
PASS="bench passphrase"

for tool in "$FERRY" "$JOBS_BENCH" age zip unzip script redis-server redis-cli; do
  command -v "$tool" >/dev/null || { echo "missing $tool (run: make bench-jobs)" >&2; exit 1; }
done

rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"/{ferry,other}
cd "$BENCH_DIR"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

log() { echo "[bench] $*" >&2; }
now() { date +%s.%N; }
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
mbps() { awk -v mb="$1" -v s="$2" 'BEGIN { printf "%.0f", mb * 1048576 / s / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r >= t) ? "met" : "NOT met" }'; }
timed() { local t0; t0=$(now); "$@" >/dev/null; awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
# age reads passphrases from its terminal only: `script` gives it one and types stdin.
age_tty() { printf '%s\n%s\n' "$PASS" "$PASS" | script -qefc "$*" /dev/null >/dev/null; }

echo benchpassword | "$FERRY" user add bench --data ferry/data --password-stdin >/dev/null
HOME_DIR=$BENCH_DIR/ferry/data/files/bench
export FERRY_USER=bench FERRY_PASSWORD=benchpassword FERRY_PASSPHRASE=$PASS
export XDG_CONFIG_HOME=$BENCH_DIR/config
start_server() {  # PORT [flags...]
  local port=$1; shift
  setsid "$FERRY" server --listen 127.0.0.1:"$port" --data ferry/data "$@" \
    >/dev/null 2>>"ferry/server-$port.log" </dev/null &
  PIDS+=($!)
  SERVER_PID=$!
  for _ in $(seq 100); do grep -q "listening on" "ferry/server-$port.log" 2>/dev/null && break; sleep 0.05; done
}
start_server "$FERRY_PORT"
EMBEDDED_PID=$SERVER_PID
export FERRY_SERVER=127.0.0.1:$FERRY_PORT
"$FERRY" ls --trust-new-server >/dev/null

# ---- encryption: the same 1 GiB file ---------------------------------------------
log "making a ${SIZE_MB} MiB random file"
head -c $((SIZE_MB * 1048576)) /dev/urandom > "$HOME_DIR/big.bin"
declare -a ENC_F DEC_F ENC_A DEC_A
for r in $(seq "$REPS"); do
  log "encrypt run $r"
  ENC_F+=("$(timed "$FERRY" encrypt big.bin --to big.age --force --wait)")
  DEC_F+=("$(timed "$FERRY" decrypt big.age --to big.out --force --wait)")
  cmp -s "$HOME_DIR/big.bin" "$HOME_DIR/big.out" || { echo "ferry round trip differs" >&2; exit 1; }
  rm -f other/big.age other/big.out
  ENC_A+=("$(timed age_tty age -p -o other/big.age "$HOME_DIR/big.bin")")
  DEC_A+=("$(timed age_tty age -d -o other/big.out other/big.age)")
  cmp -s "$HOME_DIR/big.bin" other/big.out || { echo "age round trip differs" >&2; exit 1; }
  rm -f "$HOME_DIR/big.out" other/big.out
done
# Each reads the other's output too.
rm -f other/cross.out
age_tty age -d -o other/cross.out "$HOME_DIR/big.age"
cmp -s "$HOME_DIR/big.bin" other/cross.out || { echo "age cannot read ferry's file" >&2; exit 1; }
cp other/big.age "$HOME_DIR/from-age.age"
"$FERRY" decrypt from-age.age --to cross.out --force --wait >/dev/null
cmp -s "$HOME_DIR/big.bin" "$HOME_DIR/cross.out" || { echo "ferry cannot read age's file" >&2; exit 1; }
rm -f other/* "$HOME_DIR"/{cross.out,from-age.age,big.age}
ENC_FERRY=$(printf '%s\n' "${ENC_F[@]}" | median); DEC_FERRY=$(printf '%s\n' "${DEC_F[@]}" | median)
ENC_AGE=$(printf '%s\n' "${ENC_A[@]}" | median); DEC_AGE=$(printf '%s\n' "${DEC_A[@]}" | median)
SERVER_HWM=$(awk '/VmHWM/ { print $2 }' "/proc/$EMBEDDED_PID/status")
rm -f "$HOME_DIR/big.bin"

# ---- zip: the same directory of mixed files -------------------------------------------
log "making $FILES mixed files"
mkdir -p "$HOME_DIR/tree"
RANDOM=42
for i in $(seq "$FILES"); do
  d="$HOME_DIR/tree/d$((i % 20))"; mkdir -p "$d"
  case $((RANDOM % 10)) in
    0|1|2|3) seq $((RANDOM * 4)) > "$d/f$i.txt" ;;                                # text, compresses well
    4|5) head -c $((RANDOM * 8)) /dev/urandom | base64 > "$d/f$i.b64" ;;           # text, compresses some
    6|7) head -c $((RANDOM * 4)) /dev/urandom > "$d/f$i.bin" ;;                     # random, does not
    8) head -c $((RANDOM)) /dev/urandom > "$d/f$i.small" ;;
    9) { seq $((RANDOM * 16)); head -c $((RANDOM * 32)) /dev/urandom; } > "$d/f$i.mix" ;;  # large, mixed
  esac
done
TREE_MB=$(du -sm "$HOME_DIR/tree" | cut -f1)
declare -a ZIP_F ZIP_Z
for r in $(seq "$REPS"); do
  log "zip run $r"
  ZIP_F+=("$(timed "$FERRY" zip tree --to tree.zip --force --wait)")
  rm -f other/tree.zip
  ZIP_Z+=("$(timed bash -c "cd '$HOME_DIR' && zip -r -6 -q '$BENCH_DIR/other/tree.zip' tree")")
done
unzip -tq "$HOME_DIR/tree.zip" >/dev/null || { echo "unzip -t refuses ferry's archive" >&2; exit 1; }
ZIP_FERRY=$(printf '%s\n' "${ZIP_F[@]}" | median); ZIP_ZIP=$(printf '%s\n' "${ZIP_Z[@]}" | median)
SIZE_FERRY=$(stat -c %s "$HOME_DIR/tree.zip"); SIZE_ZIP=$(stat -c %s other/tree.zip)

# ---- tiny jobs through Redis, two workers ---------------------------------------------
log "tiny jobs through Redis"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
start_server "$REDIS_FERRY_PORT" --queue "redis://127.0.0.1:$REDIS_PORT"
for w in 1 2; do
  setsid "$FERRY" worker --queue "redis://127.0.0.1:$REDIS_PORT" --data ferry/data --workers 1 \
    >/dev/null 2>>"ferry/worker-$w.log" </dev/null &
  PIDS+=($!)
done
echo tiny > "$HOME_DIR/tiny.txt"
mkdir -p "$HOME_DIR/jobs-bench"
TINY_ROW=$("$JOBS_BENCH" --server "127.0.0.1:$REDIS_FERRY_PORT" --user bench \
  --ca-cert ferry/data/tls/server.crt --input tiny.txt --jobs "$TINY_JOBS" --clients 8)

ENC_RATIO=$(ratio "$ENC_AGE" "$ENC_FERRY"); DEC_RATIO=$(ratio "$DEC_AGE" "$DEC_FERRY")
ZIP_RATIO=$(ratio "$ZIP_ZIP" "$ZIP_FERRY")
write_section jobs "$OUT" <<MD
## Background jobs

Produced by \`make bench-jobs\` (\`bench/jobs_bench.sh\`) on $(date -u +%Y-%m-%d), one run; machine:
$(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)). Files in \`$BENCH_DIR\`
($(df -T "$BENCH_DIR" | awk 'NR == 2 { print $2 }')). Median of $REPS runs. ferry's times are the whole
\`ferry encrypt|decrypt|zip ... --wait\` command as a user runs it: login, submit, the job on the
embedded queue ($(nproc) workers), and following it to its end.

### Encryption, ${SIZE_MB} MiB of random data, passphrase (scrypt work factor 2^18 in both)

| tool | encrypt s | encrypt MB/s | decrypt s | decrypt MB/s |
|---|---|---|---|---|
| ferry (age v1 format) | $ENC_FERRY | $(mbps "$SIZE_MB" "$ENC_FERRY") | $DEC_FERRY | $(mbps "$SIZE_MB" "$DEC_FERRY") |
| $(age --version 2>/dev/null | sed 's/^/age /') \`age -p\` / \`age -d\` | $ENC_AGE | $(mbps "$SIZE_MB" "$ENC_AGE") | $DEC_AGE | $(mbps "$SIZE_MB" "$DEC_AGE") |

Both ways checked: \`age -d\` decrypted ferry's file and ferry decrypted age's, byte-identical.
ferry server peak RSS over all of the above: $(awk -v kb="$SERVER_HWM" 'BEGIN { printf "%.1f", kb / 1024 }') MiB, whatever the file size: scrypt
at work factor 2^18 needs 256 MiB by design (age's too); the data streams through a few MiB.

### ZIP, $FILES mixed files ($TREE_MB MiB: text, base64, random)

| tool | seconds | archive bytes |
|---|---|---|
| ferry zip (libzip, deflate level 6) | $ZIP_FERRY | $SIZE_FERRY |
| \`zip -r -6\` ($(zip -v | sed -n 2p | awk '{ print $3, $4 }')) | $ZIP_ZIP | $SIZE_ZIP |

\`unzip -t\` accepts ferry's archive.

### Tiny jobs through Redis, 2 \`ferry worker\` processes (1 thread each)

\`ferry_jobs_bench\`: 8 clients submit zip jobs of a 5-byte file and follow each to its end.

| jobs | clients | failed | seconds | jobs/s |
|---|---|---|---|---|
$TINY_ROW

### Targets

| target | measured | |
|---|---|---|
| ferry encrypt >= 1.0x age -p | ${ENC_RATIO}x | $(verdict "$ENC_RATIO" 1.0) |
| ferry zip >= 1.0x zip -r -6 | ${ZIP_RATIO}x | $(verdict "$ZIP_RATIO" 1.0) |

(decrypt, not a target: ${DEC_RATIO}x age -d)
MD
log "wrote $OUT"
sed -n '/bench:jobs:begin/,/bench:jobs:end/p' "$OUT"
