#!/usr/bin/env bash
# Transfer benchmark: ferry (gRPC over TLS) against scp and sftp (OpenSSH sshd)
# and nginx over HTTPS with curl, all on 127.0.0.1 in one run, plus peak memory
# of both ends, a 2 GiB memory check and small operations per second.
# Writes docs/benchmarks.md.
#
#   make bench                      (installs what it needs, builds, runs)
#   SIZE_MB=256 REPS=1 bench/transfer_bench.sh     (a quicker run)
#
# BENCH_DIR (default /dev/shm/ferry-bench, a tmpfs) holds every file and every
# server's data, so the disk's speed does not decide the result for any tool;
# set it to a directory on disk to measure with the disk in the path.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/section.sh"
source "$ROOT/bench/ssh_setup.sh"
FERRY=${FERRY:-$ROOT/build/ferry}
OPS_BENCH=${OPS_BENCH:-$ROOT/build/ferry_ops_bench}
BENCH_DIR=${BENCH_DIR:-/dev/shm/ferry-bench}
SIZE_MB=${SIZE_MB:-1024}
BIG_MB=${BIG_MB:-2048}
REPS=${REPS:-5}
OPS_SECONDS=${OPS_SECONDS:-5}
OUT=${OUT:-$ROOT/docs/benchmarks.md}
FERRY_PORT=${FERRY_PORT:-17070}
SSH_PORT=${SSH_PORT:-17022}
HTTPS_PORT=${HTTPS_PORT:-17443}

for tool in "$FERRY" "$OPS_BENCH" /usr/sbin/sshd /usr/sbin/nginx curl scp sftp /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "missing $tool (run: make bench)" >&2; exit 1; }
done

rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"/{src,dst,ssh,ngx/www,ngx/tmp,ferry}
chmod 777 "$BENCH_DIR/ngx/www" "$BENCH_DIR/ngx/tmp" "$BENCH_DIR/dst"
cd "$BENCH_DIR"
cleanup() {
  pkill -f "ferry server --listen 127.0.0.1:$FERRY_PORT" 2>/dev/null || true
  [[ -f ngx/nginx.pid ]] && kill "$(cat ngx/nginx.pid)" 2>/dev/null || true
  pkill -f "sshd -d -f $BENCH_DIR" 2>/dev/null || true
}
trap cleanup EXIT

log() { echo "[bench] $*" >&2; }
now() { date +%s.%N; }
mbps() { awk -v mb="$1" -v s="$2" 'BEGIN { printf "%.0f", mb * 1048576 / s / 1e6 }'; }
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
hwm_kb() { awk '/VmHWM/ { print $2 }' "/proc/$1/status"; }
mib() { awk -v kb="$1" 'BEGIN { printf "%.1f", kb / 1024 }'; }

log "making a ${SIZE_MB} MiB random file"
head -c $((SIZE_MB * 1048576)) /dev/urandom > src/file.bin
SRC_SHA=$(sha256sum src/file.bin | cut -d' ' -f1)

# ---- servers ------------------------------------------------------------------
echo benchpassword | "$FERRY" user add bench --data ferry/data --password-stdin >/dev/null
export FERRY_SERVER=127.0.0.1:$FERRY_PORT FERRY_USER=bench FERRY_PASSWORD=benchpassword
export XDG_CONFIG_HOME=$BENCH_DIR/ferry/config
FERRY_PID=""
start_ferry() {
  pkill -f "ferry server --listen 127.0.0.1:$FERRY_PORT" 2>/dev/null || true
  sleep 0.2
  # The small-operations run logs in 64 clients as one user: above the
  # default of 8 sessions per user.
  setsid "$FERRY" server --listen 127.0.0.1:$FERRY_PORT --data ferry/data \
    --max-sessions-per-user 128 >/dev/null 2>>ferry/server.log </dev/null &
  FERRY_PID=$!
  for _ in $(seq 100); do grep -q "listening on" ferry/server.log 2>/dev/null && break; sleep 0.05; done
  sleep 0.2
}
start_ferry
"$FERRY" ls --trust-new-server >/dev/null  # pin the certificate once

make_ssh_config
# sshd -d serves exactly one connection in the foreground, so /usr/bin/time
# gives the peak RSS of the server side of that one transfer.
start_sshd() {
  /usr/bin/time -f %M -o ssh/rss /usr/sbin/sshd -d -f "$BENCH_DIR/ssh/sshd_config" -p $SSH_PORT \
    2>ssh/sshd.log &
  SSHD_PID=$!
  for _ in $(seq 100); do grep -q "listening on" ssh/sshd.log 2>/dev/null && break; sleep 0.05; done
}

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ngx/key.pem \
  -out ngx/cert.pem -days 2 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 2>/dev/null
cat > ngx/nginx.conf <<EOF
worker_processes 1;
pid $BENCH_DIR/ngx/nginx.pid;
error_log $BENCH_DIR/ngx/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $BENCH_DIR/ngx/tmp;
  proxy_temp_path $BENCH_DIR/ngx/tmp;
  fastcgi_temp_path $BENCH_DIR/ngx/tmp;
  uwsgi_temp_path $BENCH_DIR/ngx/tmp;
  scgi_temp_path $BENCH_DIR/ngx/tmp;
  sendfile on;
  server {
    listen 127.0.0.1:$HTTPS_PORT ssl;
    ssl_certificate $BENCH_DIR/ngx/cert.pem;
    ssl_certificate_key $BENCH_DIR/ngx/key.pem;
    root $BENCH_DIR/ngx/www;
    client_max_body_size 0;
    location / { dav_methods PUT; create_full_put_path on; }
  }
}
EOF
start_nginx() {
  [[ -f ngx/nginx.pid ]] && kill "$(cat ngx/nginx.pid)" 2>/dev/null && sleep 0.3
  /usr/sbin/nginx -c "$BENCH_DIR/ngx/nginx.conf"
  sleep 0.3
}
nginx_worker() { pgrep -P "$(cat ngx/nginx.pid)" | head -1; }
cp src/file.bin ngx/www/file.bin
cp src/file.bin ferry/data/files/bench/file.bin
CURL=(curl -sS --fail --cacert ngx/cert.pem)

# ---- one timed transfer ---------------------------------------------------------
# A virtual machine may hand memory that its guest freed back to the host, and
# then the guest's first touch of such a page costs a fault on the host. On the
# VM these figures come from, writing a new 1 GiB file to tmpfs took 0.6 to
# 3.1 s from one run to the next, and overwriting one took 0.26 s. Every run
# writes a new file, so before each one, twice the file's size is written and
# freed again: every tool then starts with memory the guest still holds, and
# the runs measure the tools rather than the host.
warm_memory() {
  head -c $((2 * SIZE_MB * 1048576)) /dev/zero > warm.bin
  rm -f warm.bin
}

# run_one TOOL DIRECTION -> prints "seconds client_kb server_kb" and checks the result.
run_one() {
  local tool=$1 dir=$2 t0 t1 server_kb=0 dst
  rm -f dst/* ferry/data/files/bench/up.bin ngx/www/up.bin
  case $tool in
    ferry) start_ferry ;;
    scp | sftp) start_sshd ;;
    nginx) start_nginx ;;
  esac
  warm_memory
  t0=$(now)
  case "$tool/$dir" in
    ferry/upload) /usr/bin/time -f %M -o client.rss "$FERRY" put src/file.bin up.bin; dst=ferry/data/files/bench/up.bin ;;
    ferry/download) /usr/bin/time -f %M -o client.rss "$FERRY" get file.bin dst/file.bin; dst=dst/file.bin ;;
    scp/upload) /usr/bin/time -f %M -o client.rss scp -q "${SSH_OPTS[@]}" -P $SSH_PORT src/file.bin "$SSH_USER@127.0.0.1:$BENCH_DIR/dst/file.bin"; dst=dst/file.bin ;;
    scp/download) /usr/bin/time -f %M -o client.rss scp -q "${SSH_OPTS[@]}" -P $SSH_PORT "$SSH_USER@127.0.0.1:$BENCH_DIR/src/file.bin" dst/file.bin; dst=dst/file.bin ;;
    sftp/upload) echo "put src/file.bin $BENCH_DIR/dst/file.bin" | /usr/bin/time -f %M -o client.rss sftp -q -b - "${SSH_OPTS[@]}" -P $SSH_PORT "$SSH_USER@127.0.0.1" >/dev/null; dst=dst/file.bin ;;
    sftp/download) echo "get $BENCH_DIR/src/file.bin dst/file.bin" | /usr/bin/time -f %M -o client.rss sftp -q -b - "${SSH_OPTS[@]}" -P $SSH_PORT "$SSH_USER@127.0.0.1" >/dev/null; dst=dst/file.bin ;;
    nginx/upload) /usr/bin/time -f %M -o client.rss "${CURL[@]}" -T src/file.bin "https://127.0.0.1:$HTTPS_PORT/up.bin"; dst=ngx/www/up.bin ;;
    nginx/download) /usr/bin/time -f %M -o client.rss "${CURL[@]}" -o dst/file.bin "https://127.0.0.1:$HTTPS_PORT/file.bin"; dst=dst/file.bin ;;
  esac
  t1=$(now)
  case $tool in
    ferry) server_kb=$(hwm_kb "$FERRY_PID") ;;
    scp | sftp) wait "$SSHD_PID" 2>/dev/null || true; server_kb=$(tail -n1 ssh/rss) ;;
    nginx) server_kb=$(hwm_kb "$(nginx_worker)") ;;
  esac
  if [[ $(sha256sum "$dst" | cut -d' ' -f1) != "$SRC_SHA" ]]; then
    echo "$tool $dir produced a different file" >&2; exit 1
  fi
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') $(tail -n1 client.rss) $server_kb"
}

# Every repeat runs each tool once, in turn, rather than all of one tool's
# repeats before the next tool's: a machine whose speed drifts within minutes
# would otherwise hand that drift to the ratios. Taken in turn, every tool
# meets the same slow and fast spells.
TOOLS=(ferry scp sftp nginx)
declare -A SECS CLIENT_KB SERVER_KB RUNS
for rep in $(seq "$REPS"); do
  for tool in "${TOOLS[@]}"; do
    for dir in upload download; do
      run_one "$tool" "$dir" >> "runs-$tool-$dir.txt"
      log "$tool $dir run $rep: $(tail -1 "runs-$tool-$dir.txt")"
    done
  done
done
for tool in "${TOOLS[@]}"; do
  for dir in upload download; do
    runs=runs-$tool-$dir.txt
    SECS[$tool/$dir]=$(cut -d' ' -f1 "$runs" | median)
    RUNS[$tool/$dir]=$(cut -d' ' -f1 "$runs" | awk '{ printf "%s%.2f", (NR > 1 ? ", " : ""), $1 }')
    CLIENT_KB[$tool/$dir]=$(cut -d' ' -f2 "$runs" | sort -n | tail -1)
    SERVER_KB[$tool/$dir]=$(cut -d' ' -f3 "$runs" | sort -n | tail -1)
  done
done

# ---- ferry's memory during a 2 GiB transfer ----------------------------------------
log "ferry memory check with ${BIG_MB} MiB"
rm -f dst/* ngx/www/* src/file.bin
head -c $((BIG_MB * 1048576)) /dev/urandom > src/big.bin
rm -f ferry/data/files/bench/*
start_ferry
/usr/bin/time -f %M -o client.rss "$FERRY" put src/big.bin big.bin
BIG_PUT_CLIENT=$(tail -n1 client.rss); BIG_PUT_SERVER=$(hwm_kb "$FERRY_PID")
rm -f src/big.bin
start_ferry
/usr/bin/time -f %M -o client.rss "$FERRY" get big.bin dst/big.bin
BIG_GET_CLIENT=$(tail -n1 client.rss); BIG_GET_SERVER=$(hwm_kb "$FERRY_PID")
rm -f dst/big.bin ferry/data/files/bench/big.bin

# ---- small operations -------------------------------------------------------------
log "small operations, 64 clients"
start_ferry
OPS_TABLE=$("$OPS_BENCH" --server "$FERRY_SERVER" --user bench --ca-cert ferry/data/tls/server.crt \
  --clients 64 --seconds "$OPS_SECONDS")

# ---- report ---------------------------------------------------------------------
row() {
  local tool=$1 dir=$2
  echo "| $tool | $dir | $(mbps "$SIZE_MB" "${SECS[$tool/$dir]}") | ${SECS[$tool/$dir]} | ${RUNS[$tool/$dir]} | $(mib "${CLIENT_KB[$tool/$dir]}") | $(mib "${SERVER_KB[$tool/$dir]}") |"
}
ratio() { awk -v a="${SECS[$2]}" -v b="${SECS[$1]}" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r >= t) ? "met" : "NOT met" }'; }
under() { awk -v kb="$1" 'BEGIN { print (kb < 65536) ? "met" : "NOT met" }'; }

mkdir -p "$(dirname "$OUT")"
{
  echo "Produced by \`make bench\` (\`bench/transfer_bench.sh\`) on $(date -u +%Y-%m-%d); every figure below"
  echo "comes from that one run. Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)),"
  echo "$(free -g | awk '/Mem:/ { print $2 }') GiB RAM, Linux $(uname -r). Files and server data live in \`$BENCH_DIR\`"
  echo "($(df -T "$BENCH_DIR" | awk 'NR == 2 { print $2 }')), so storage speed does not decide the outcome; all traffic is on 127.0.0.1."
  echo
  echo "## File transfer, ${SIZE_MB} MiB of random data"
  echo
  echo "Median of $REPS runs; every repeat ran each tool once, in the order of the table, so that"
  echo "the machine's drift falls on all of them alike. MB/s is 10^6 bytes per second; peak RSS is the"
  echo "largest of the runs (client: \`/usr/bin/time\`; ferry server and nginx worker: VmHWM; sshd:"
  echo "\`sshd -d\` under \`/usr/bin/time\`). Every result file is checked against the source's SHA-256."
  echo "Right before each run, twice the file's size was written to $BENCH_DIR and deleted, so that"
  echo "every tool writes into memory the VM still holds (\`warm_memory\` in the script says why)."
  echo
  echo "| tool | direction | MB/s | seconds | every run, s | client peak RSS MiB | server peak RSS MiB |"
  echo "|---|---|---|---|---|---|---|"
  for tool in "${TOOLS[@]}"; do for dir in upload download; do row $tool $dir; done; done
  echo
  echo "Tools: ferry over gRPC + TLS 1.3 (it also SHA-256s both ends and fsyncs before the rename);"
  echo "$(ssh -V 2>&1) with default ciphers; nginx $(/usr/sbin/nginx -v 2>&1 | cut -d/ -f2) (HTTPS, PUT via the dav module) with $(curl -V | head -1 | cut -d' ' -f1-2)."
  echo
  echo "## Targets"
  echo
  up_scp=$(ratio ferry/upload scp/upload); down_scp=$(ratio ferry/download scp/download)
  up_ngx=$(ratio ferry/upload nginx/upload); down_ngx=$(ratio ferry/download nginx/download)
  echo "| target | measured | |"
  echo "|---|---|---|"
  echo "| ferry upload >= 1.5x scp | ${up_scp}x | $(verdict "$up_scp" 1.5) |"
  echo "| ferry download >= 1.5x scp | ${down_scp}x | $(verdict "$down_scp" 1.5) |"
  echo "| ferry upload >= 0.8x nginx+curl | ${up_ngx}x | $(verdict "$up_ngx" 0.8) |"
  echo "| ferry download >= 0.8x nginx+curl | ${down_ngx}x | $(verdict "$down_ngx" 0.8) |"
  echo "| ${BIG_MB} MiB upload: server / client peak RSS < 64 MiB | $(mib "$BIG_PUT_SERVER") / $(mib "$BIG_PUT_CLIENT") MiB | $(under "$BIG_PUT_SERVER"), $(under "$BIG_PUT_CLIENT") |"
  echo "| ${BIG_MB} MiB download: server / client peak RSS < 64 MiB | $(mib "$BIG_GET_SERVER") / $(mib "$BIG_GET_CLIENT") MiB | $(under "$BIG_GET_SERVER"), $(under "$BIG_GET_CLIENT") |"
  echo
  echo "## Small operations, 64 concurrent clients"
  echo
  echo "\`ferry_ops_bench\`: 64 clients, each with its own TLS connection and session, run one kind of"
  echo "operation in a loop for ${OPS_SECONDS} s."
  echo
  echo "$OPS_TABLE"
} | write_section transfer "$OUT"
log "wrote $OUT"
cat "$OUT"
