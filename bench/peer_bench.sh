#!/usr/bin/env bash
# Peer benchmark (issue 19): `ferry fetch` of one file from 3 serving peers,
# against aria2c from 3 nginx HTTPS mirrors of the same file and against
# libtorrent (a v2 torrent, 3 seeders), in one run on loopback, to tmpfs.
# Each serving peer, mirror and seeder has its own loopback address
# (127.0.0.2, .3, .4); the fetchers dial from 127.0.0.1 (libtorrent's binds
# 127.0.0.5). Also: ferry from 1 peer, peak RSS of every side, a bad peer,
# resume after a kill, and the share index (first indexing against sha256sum,
# a restart, the time from a file landing in a share to a search finding it).
# Writes its section of docs/benchmarks.md.
#
#   make bench-peer                              (installs, builds, runs)
#   SIZE_MB=256 REPS=1 BAD_RUNS=2 bench/peer_bench.sh   (a quicker run)
set -euo pipefail

ROOT=${ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
source "$ROOT/bench/section.sh"
FERRY=${FERRY:-$ROOT/build/ferry}
BENCH_DIR=${BENCH_DIR:-/dev/shm/ferry-peer-bench}
SIZE_MB=${SIZE_MB:-1024}
REPS=${REPS:-3}
BAD_RUNS=${BAD_RUNS:-20}
INDEX_FILES=${INDEX_FILES:-10000}
INDEX_MB=${INDEX_MB:-1024}
OUT=${OUT:-$ROOT/docs/benchmarks.md}
DIR_PORT=${DIR_PORT:-17580}
PEER_PORT=${PEER_PORT:-17581}
HTTPS_PORT=${HTTPS_PORT:-17582}
BT_PORT=${BT_PORT:-17583}
SECTIONS=${SECTIONS:-fetch bad resume index}
TOOLS=${TOOLS:-ferry ferry1 aria2c libtorrent}
HOSTS=(127.0.0.2 127.0.0.3 127.0.0.4)

for tool in "$FERRY" /usr/sbin/nginx aria2c python3 sha256sum /usr/bin/time openssl; do
  command -v "$tool" >/dev/null || { echo "missing $tool (run: make bench-peer)" >&2; exit 1; }
done
/usr/bin/python3 -c 'import libtorrent' 2>/dev/null ||
  { echo "missing python3-libtorrent (run: make bench-peer)" >&2; exit 1; }

log() { echo "[peer-bench] $*" >&2; }
now() { date +%s.%N; }
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
hwm_kb() { awk '/VmHWM/ { print $2 }' "/proc/$1/status"; }
mib() { awk -v kb="$1" 'BEGIN { printf "%.1f", kb / 1024 }'; }
mbps() { awk -v mb="$1" -v s="$2" 'BEGIN { printf "%.0f", mb * 1048576 / s / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"/{src,dst,ngx/tmp,bt,home}
cd "$BENCH_DIR"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  local f
  for f in ngx/nginx*.pid; do [[ -f $f ]] && kill "$(cat "$f")" 2>/dev/null; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# A virtual machine may hand memory its guest freed back to the host; the
# guest's first touch of such a page then costs a fault on the host. Before
# each timed run, twice the file's size is written to tmpfs and freed, so
# every tool writes into memory the VM still holds (transfer_bench.sh has the
# figures that showed this).
warm_memory() {
  head -c $((2 * SIZE_MB * 1048576)) /dev/zero > warm.bin
  rm -f warm.bin
}

log "making a ${SIZE_MB} MiB random file"
head -c $((SIZE_MB * 1048576)) /dev/urandom > src/file.bin
SRC_SHA=$(sha src/file.bin)

# ---- the directory, users and the serving peers -------------------------------------
export HOME=$BENCH_DIR/home XDG_CONFIG_HOME=$BENCH_DIR/home/.config
export FERRY_DIRECTORY=https://127.0.0.1:$DIR_PORT
setsid "$FERRY" directory --data dir-data --listen 127.0.0.1:$DIR_PORT \
  >/dev/null 2>dir.log </dev/null &
PIDS+=($!)
for _ in $(seq 200); do grep -q "listening on" dir.log 2>/dev/null && break; sleep 0.05; done
seeder_env() { echo "FERRY_USER=seeder FERRY_PASSWORD=seeder-password"; }
FETCH_ENV=(env FERRY_USER=fetcher FERRY_PASSWORD=fetcher-password)
env FERRY_USER=seeder FERRY_PASSWORD=seeder-password "$FERRY" register --trust-new-server >/dev/null
"${FETCH_ENV[@]}" "$FERRY" register >/dev/null

# start_peer I [extra flags] : a serving peer on HOSTS[I] sharing share<I>.
declare -A PEER_PID
start_peer() {
  local i=$1
  shift
  mkdir -p "share$i"
  rm -f "peer$i.log"
  env FERRY_USER=seeder FERRY_PASSWORD=seeder-password setsid "$FERRY" peer \
    --share "share$i" --data "peer-data$i" --listen "${HOSTS[$i]}:$PEER_PORT" --ui-listen off "$@" \
    >/dev/null 2>"peer$i.log" </dev/null &
  PEER_PID[$i]=$!
  PIDS+=($!)
  for _ in $(seq 600); do grep -q "announced as" "peer$i.log" 2>/dev/null && return; sleep 0.05; done
  echo "peer $i did not start:" >&2
  cat "peer$i.log" >&2
  exit 1
}
stop_peer() {
  [[ -n ${PEER_PID[$1]:-} ]] || return 0
  kill "${PEER_PID[$1]}" 2>/dev/null || true
  wait "${PEER_PID[$1]}" 2>/dev/null || true
}
# wait_sources NAME N : until a search for NAME shows N peers.
wait_sources() {
  for _ in $(seq 600); do
    [[ $("${FETCH_ENV[@]}" "$FERRY" search "$1" --json 2>/dev/null |
      grep -c '"peer_id"') == "$2" ]] && return
    sleep 0.1
  done
  echo "$1 never showed at $2 peers" >&2
  exit 1
}

# ---- timed fetches -------------------------------------------------------------------
# fetch_ferry NAME -> "seconds fetcher_kb"; the result is checked outside the
# timed part.
fetch_ferry() {
  local name=$1 t0 t1 want=$SRC_SHA
  [[ $name == solo.bin ]] && want=$SOLO_SHA
  rm -rf dst && mkdir dst
  warm_memory
  t0=$(now)
  "${FETCH_ENV[@]}" /usr/bin/time -f "%M %U %S" -o fetch.rss "$FERRY" fetch "$name" --to dst \
    >fetch.out 2>fetch.err || { cat fetch.err >&2; exit 1; }
  t1=$(now)
  [[ $(sha "dst/$name") == "$want" ]] || { echo "ferry fetched a different $name" >&2; exit 1; }
  echo "$(secs "$t0" "$t1") $(tail -n1 fetch.rss | awk '{ printf "%s %.2f", $1, $2 + $3 }')"
}

# ---- three nginx HTTPS mirrors, one per address, one worker each ------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ngx/key.pem \
  -out ngx/cert.pem -days 2 -subj /CN=mirror \
  -addext subjectAltName=IP:127.0.0.2,IP:127.0.0.3,IP:127.0.0.4 2>/dev/null
start_mirrors() {
  local i
  for i in 0 1 2; do
    mkdir -p "ngx/www$i"
    cp src/file.bin "ngx/www$i/file.bin"
    cat > "ngx/nginx$i.conf" <<CONF
worker_processes 1;
pid $BENCH_DIR/ngx/nginx$i.pid;
error_log $BENCH_DIR/ngx/error$i.log;
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
    listen ${HOSTS[$i]}:$HTTPS_PORT ssl;
    ssl_certificate $BENCH_DIR/ngx/cert.pem;
    ssl_certificate_key $BENCH_DIR/ngx/key.pem;
    root $BENCH_DIR/ngx/www$i;
  }
}
CONF
    /usr/sbin/nginx -c "$BENCH_DIR/ngx/nginx$i.conf"
  done
  sleep 0.3
}
stop_mirrors() {
  local i
  for i in 0 1 2; do
    [[ -f ngx/nginx$i.pid ]] && kill "$(cat "ngx/nginx$i.pid")" 2>/dev/null || true
  done
  sleep 0.3
}
mirror_workers() { local i; for i in 0 1 2; do pgrep -P "$(cat "ngx/nginx$i.pid")" | head -1; done; }
ARIA=(aria2c -x4 -s12 -k1M --ca-certificate=ngx/cert.pem --dir=dst --out=file.bin
  --allow-overwrite=true --auto-file-renaming=false --file-allocation=none
  --summary-interval=0 --console-log-level=warn --download-result=hide)
MIRROR_URLS=()
for h in "${HOSTS[@]}"; do MIRROR_URLS+=("https://$h:$HTTPS_PORT/file.bin"); done

# fetch_aria2c -> "seconds fetcher_kb"
fetch_aria2c() {
  rm -rf dst && mkdir dst
  warm_memory
  local t0 t1
  t0=$(now)
  /usr/bin/time -f "%M %U %S" -o fetch.rss "${ARIA[@]}" "${MIRROR_URLS[@]}" >fetch.out 2>fetch.err ||
    { cat fetch.out fetch.err >&2; exit 1; }
  t1=$(now)
  [[ $(sha dst/file.bin) == "$SRC_SHA" ]] || { echo "aria2c fetched a different file" >&2; exit 1; }
  echo "$(secs "$t0" "$t1") $(tail -n1 fetch.rss | awk '{ printf "%s %.2f", $1, $2 + $3 }')"
}

# ---- libtorrent: a v2 torrent, three seeders, one per address -----------------------------
BT=(/usr/bin/python3 "$ROOT/bench/peer_bench_bt.py")
declare -A SEED_PID
start_seeders() {
  local i
  "${BT[@]}" make src/file.bin bt/file.torrent
  for i in 0 1 2; do
    mkdir -p "bt/seed$i"
    cp src/file.bin "bt/seed$i/file.bin"
    "${BT[@]}" seed "${HOSTS[$i]}" "$BT_PORT" bt/file.torrent "bt/seed$i" >"bt/seed$i.log" 2>&1 &
    SEED_PID[$i]=$!
    PIDS+=($!)
  done
  for i in 0 1 2; do
    for _ in $(seq 200); do grep -q seeding "bt/seed$i.log" 2>/dev/null && break; sleep 0.05; done
  done
  sleep 0.5
}
stop_seeders() {
  local i
  for i in 0 1 2; do kill "${SEED_PID[$i]:-}" 2>/dev/null || true; done
}
# fetch_libtorrent -> "seconds fetcher_kb"
fetch_libtorrent() {
  rm -rf dst && mkdir dst
  warm_memory
  local t0 t1 peers=()
  for h in "${HOSTS[@]:0:3}"; do peers+=("$h:$BT_PORT"); done
  t0=$(now)
  /usr/bin/time -f "%M %U %S" -o fetch.rss "${BT[@]}" get 127.0.0.5 "$BT_PORT" bt/file.torrent dst \
    "${peers[@]}" >fetch.out 2>fetch.err || { cat fetch.err >&2; exit 1; }
  t1=$(now)
  [[ $(sha dst/file.bin) == "$SRC_SHA" ]] || { echo "libtorrent fetched a different file" >&2; exit 1; }
  echo "$(secs "$t0" "$t1") $(tail -n1 fetch.rss | awk '{ printf "%s %.2f", $1, $2 + $3 }')"
}

# ---- section: fetch ---------------------------------------------------------------------
# A fourth peer, on 127.0.0.6, alone shares solo.bin (other random bytes of the
# same size): `ferry1` fetches that, from one peer.
SOLO=3
HOSTS+=(127.0.0.6)
declare -A SECS RUNS FETCH_KB SERVE_KB FETCH_CPU SERVE_CPU
# serving_pids TOOL -> the processes that serve TOOL's fetches
serving_pids() {
  case $1 in
    ferry) echo "${PEER_PID[0]} ${PEER_PID[1]} ${PEER_PID[2]}" ;;
    ferry1) echo "${PEER_PID[$SOLO]}" ;;
    aria2c) mirror_workers ;;
    libtorrent) echo "${SEED_PID[0]} ${SEED_PID[1]} ${SEED_PID[2]}" ;;
  esac
}
# cpu_ticks PID... -> user + system clock ticks of those processes so far
cpu_ticks() {
  local p t=0
  for p in "$@"; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat"))); done
  echo "$t"
}
# run_tool TOOL -> "seconds fetcher_kb fetcher_cpu_s serving_cpu_s"
run_tool() {
  local pids before out
  pids=$(serving_pids "$1")
  # shellcheck disable=SC2086
  before=$(cpu_ticks $pids)
  case $1 in
    ferry) out=$(fetch_ferry file.bin) ;;
    ferry1) out=$(fetch_ferry solo.bin) ;;
    aria2c) out=$(fetch_aria2c) ;;
    libtorrent) out=$(fetch_libtorrent) ;;
  esac
  # shellcheck disable=SC2086
  echo "$out $(awk -v a="$before" -v b="$(cpu_ticks $pids)" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) / hz }')"
}
serving_kb() {
  local p max=0 kb
  case $1 in
    ferry) for i in 0 1 2; do kb=$(hwm_kb "${PEER_PID[$i]}"); ((kb > max)) && max=$kb; done ;;
    ferry1) max=$(hwm_kb "${PEER_PID[$SOLO]}") ;;
    aria2c) for p in $(mirror_workers); do kb=$(hwm_kb "$p"); ((kb > max)) && max=$kb; done ;;
    libtorrent) for i in 0 1 2; do kb=$(hwm_kb "${SEED_PID[$i]}"); ((kb > max)) && max=$kb; done ;;
  esac
  echo "$max"
}
start_all_peers() {
  local i
  for i in 0 1 2; do
    mkdir -p "share$i"
    cp src/file.bin "share$i/file.bin"
    # Aged, as a file that has sat in a share: a file modified within the
    # last moments is hashed again at a restart (docs/peer.md).
    touch -d '-1 hour' "share$i/file.bin"
    start_peer "$i"
  done
  mkdir -p "share$SOLO"
  head -c $((SIZE_MB * 1048576)) /dev/urandom > "share$SOLO/solo.bin"
  SOLO_SHA=$(sha "share$SOLO/solo.bin")
  touch -d '-1 hour' "share$SOLO/solo.bin"
  start_peer "$SOLO"
  wait_sources file.bin 3
  wait_sources solo.bin 1
}

# peer_served I -> the chunk bytes peer I served, from the line it logs as it stops.
peer_served() { sed -n 's/.*stopped; served \([0-9]*\) bytes.*/\1/p' "peer$1.log" | tail -1; }

# alter_behind_index FILE : one byte changed in every 1 MiB chunk, size and
# mtime kept, so the peer's index still vouches for the file.
alter_behind_index() {
  python3 - "$1" <<'PY'
import os, sys
path = sys.argv[1]
st = os.stat(path)
with open(path, "r+b") as f:
    for off in range(0, st.st_size, 1 << 20):
        f.seek(off + min(4321, st.st_size - off - 1))
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 0xFF]))
os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
PY
}

FETCH_OUT=""
if [[ " $SECTIONS " == *" fetch "* || " $SECTIONS " == *" bad "* || " $SECTIONS " == *" resume "* ]]; then
  log "starting 4 peers, 3 nginx mirrors and 3 libtorrent seeders"
  start_all_peers
  start_mirrors
  start_seeders
  # Every repeat runs each tool once, in turn, so the machine's drift falls
  # on all of them alike.
  for rep in $(seq "$REPS"); do
    for tool in $TOOLS; do
      run_tool "$tool" >> "runs-$tool.txt"
      log "$tool run $rep: $(tail -1 "runs-$tool.txt")"
      [[ $tool == ferry* ]] && log "  $(grep -o 'fetched .dst.*' fetch.out | head -1)"
    done
  done
  for tool in $TOOLS; do
    SECS[$tool]=$(cut -d' ' -f1 "runs-$tool.txt" | median)
    RUNS[$tool]=$(cut -d' ' -f1 "runs-$tool.txt" | awk '{ printf "%s%.2f", (NR > 1 ? ", " : ""), $1 }')
    FETCH_KB[$tool]=$(cut -d' ' -f2 "runs-$tool.txt" | sort -n | tail -1)
    FETCH_CPU[$tool]=$(cut -d' ' -f3 "runs-$tool.txt" | median)
    SERVE_CPU[$tool]=$(cut -d' ' -f4 "runs-$tool.txt" | median)
    SERVE_KB[$tool]=$(serving_kb "$tool")
  done
fi

# ---- section: a bad peer --------------------------------------------------------------------
BAD_SECS=() BAD_CHUNKS_MAX=0 HONEST_DROPS=0 BAD_NOT_DROPPED=0
if [[ " $SECTIONS " == *" bad "* ]]; then
  log "peer 0 (${HOSTS[0]}) altered behind its index; $BAD_RUNS fetches"
  stop_peer 0
  alter_behind_index share0/file.bin
  start_peer 0
  for _ in $(seq 600); do grep -q "indexed .* files in" peer0.log && break; sleep 0.05; done
  grep -q ": 0 hashed" peer0.log || { echo "peer 0 hashed its altered file again" >&2; exit 1; }
  wait_sources file.bin 3
  for run in $(seq "$BAD_RUNS"); do
    t=$(fetch_ferry file.bin | cut -d' ' -f1)  # also checks every byte of the result
    BAD_SECS+=("$t")
    bad_chunks=$(grep -c "does not match its hash" fetch.err || true)
    ((bad_chunks > BAD_CHUNKS_MAX)) && BAD_CHUNKS_MAX=$bad_chunks
    dropped=$(grep -o "peers dropped: .*" fetch.out)
    [[ $dropped == "peers dropped: ${HOSTS[0]}:$PEER_PORT (chunk "* ]] || BAD_NOT_DROPPED=$((BAD_NOT_DROPPED + 1))
    for h in "${HOSTS[@]:1:2}"; do
      [[ $dropped == *"$h:$PEER_PORT"* ]] && HONEST_DROPS=$((HONEST_DROPS + 1))
    done
    log "bad-peer run $run: $t s, $bad_chunks bad chunk(s); $dropped"
  done
  stop_peer 0
  cp src/file.bin share0/file.bin
  touch -d '-1 hour' share0/file.bin
  start_peer 0
  wait_sources file.bin 3
fi
BAD_MEDIAN=$(printf '%s\n' "${BAD_SECS[@]:-0}" | median)

# ---- section: resume after a kill -------------------------------------------------------------
# The fetcher is killed (SIGKILL) at half its median time from the fetch
# section and run again. Bytes fetched twice = every payload byte the serving
# side sent over both runs, less the file's size: ferry's peers log what they
# served as they stop; nginx logs each response's body bytes.
if [[ " $SECTIONS " == *" resume "* ]]; then
  log "resume: ferry"
  for i in 0 1 2; do stop_peer "$i"; start_peer "$i"; done
  wait_sources file.bin 3
  rm -rf dst && mkdir dst
  half=$(awk -v s="${SECS[ferry]:-2}" 'BEGIN { print s / 2 }')
  "${FETCH_ENV[@]}" "$FERRY" fetch file.bin --to dst >/dev/null 2>resume1.err &
  sleep "$half"
  kill -9 $! 2>/dev/null || true
  wait $! 2>/dev/null || true
  RESUME_FERRY_PART=$(du -b dst/.ferry-file.bin.part 2>/dev/null | cut -f1)
  "${FETCH_ENV[@]}" "$FERRY" fetch file.bin --to dst >resume2.out 2>resume2.err
  [[ $(sha dst/file.bin) == "$SRC_SHA" ]] || { echo "the resumed ferry fetch differs" >&2; exit 1; }
  RESUME_FERRY_LINE=$(grep -o "resuming .*" resume2.err || echo "no resume")
  served=0
  for i in 0 1 2; do stop_peer "$i"; served=$((served + $(peer_served "$i"))); done
  RESUME_FERRY_TWICE=$((served - SIZE_MB * 1048576))
  for i in 0 1 2; do start_peer "$i"; done

  log "resume: aria2c"
  stop_mirrors
  for i in 0 1 2; do
    sed -i "s|access_log off;|log_format sent '\$body_bytes_sent'; access_log $BENCH_DIR/ngx/sent$i.log sent;|" \
      "ngx/nginx$i.conf"
    rm -f "ngx/sent$i.log"
    /usr/sbin/nginx -c "$BENCH_DIR/ngx/nginx$i.conf"
  done
  sleep 0.3
  rm -rf dst && mkdir dst
  half=$(awk -v s="${SECS[aria2c]:-2}" 'BEGIN { print s / 2 }')
  "${ARIA[@]}" "${MIRROR_URLS[@]}" >/dev/null 2>&1 &
  sleep "$half"
  kill -9 $! 2>/dev/null || true
  wait $! 2>/dev/null || true
  RESUME_ARIA_CONTROL=$([[ -f dst/file.bin.aria2 ]] && echo yes || echo no)
  "${ARIA[@]}" -c "${MIRROR_URLS[@]}" >/dev/null 2>resume-aria.err
  [[ $(sha dst/file.bin) == "$SRC_SHA" ]] || { echo "the resumed aria2c fetch differs" >&2; exit 1; }
  stop_mirrors
  sent=$(cat ngx/sent*.log | awk '{ s += $1 } END { print s + 0 }')
  RESUME_ARIA_TWICE=$((sent - SIZE_MB * 1048576))
fi

# ---- section: the share index -----------------------------------------------------------------
IDX=4
HOSTS+=(127.0.0.7)
INDEX_SECS=() SHASUM_SECS=() RESTART_SECS=() WATCH_SECS=()
if [[ " $SECTIONS " == *" index "* ]]; then
  for i in 0 1 2 "$SOLO"; do stop_peer "$i"; done
  stop_mirrors
  stop_seeders
  rm -rf share* ngx/www* bt/seed* dst
  log "making $INDEX_FILES files of $INDEX_MB MiB in all"
  python3 - "share$IDX" "$INDEX_FILES" "$INDEX_MB" <<'PY'
import os, sys
root, n, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
each = mb * 1048576 // n
for i in range(n):
    d = os.path.join(root, f"d{i % 100:02d}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i:05d}.bin"), "wb") as f:
        f.write(os.urandom(each + (i % 7)))
    t = 1_600_000_000 + i
    os.utime(os.path.join(d, f"f{i:05d}.bin"), (t, t))
PY
  for rep in $(seq "$REPS"); do
    t0=$(now)
    find "share$IDX" -type f -print0 | xargs -0 -P2 -n 256 sha256sum >/dev/null
    t1=$(now)
    SHASUM_SECS+=("$(secs "$t0" "$t1")")
    rm -rf "peer-data$IDX"
    start_peer "$IDX"
    for _ in $(seq 1200); do grep -q "indexed .* files in" "peer$IDX.log" && break; sleep 0.05; done
    line=$(grep -o "indexed .* files in .*" "peer$IDX.log")
    hashed=$(sed -n 's/.*indexed \([0-9]*\) files in \([0-9.]*\) s: \([0-9]*\) hashed.*/\3/p' "peer$IDX.log")
    [[ $hashed == "$INDEX_FILES" ]] || { echo "first indexing: $line" >&2; exit 1; }
    INDEX_SECS+=("$(sed -n 's/.*indexed [0-9]* files in \([0-9.]*\) s.*/\1/p' "peer$IDX.log")")
    log "first indexing $rep: sha256sum ${SHASUM_SECS[-1]} s; ferry: $line"
    stop_peer "$IDX"
  done
  # A restart over the unchanged share: 0 bytes hashed, and searchable again.
  for rep in $(seq "$REPS"); do
    t0=$(now)
    start_peer "$IDX"
    name=$(printf 'f%05d.bin' $((RANDOM % INDEX_FILES)))
    for _ in $(seq 1000); do
      "${FETCH_ENV[@]}" "$FERRY" search "$name" 2>/dev/null | grep -q "$name" && break
      sleep 0.02
    done
    t1=$(now)
    RESTART_SECS+=("$(secs "$t0" "$t1")")
    grep -q "indexed $INDEX_FILES files in .* 0 hashed (0 bytes hashed)" "peer$IDX.log" ||
      { echo "the restart hashed: $(grep indexed "peer$IDX.log")" >&2; exit 1; }
    log "restart $rep: searchable after ${RESTART_SECS[-1]} s; $(grep -o 'indexed .*' "peer$IDX.log")"
    [[ $rep == "$REPS" ]] || stop_peer "$IDX"
  done
  # A file landing in the share (renamed in from outside it) until a search
  # finds it. Each search is a whole `ferry search` run, log-in included.
  for rep in $(seq 5); do
    head -c 3000000 /dev/urandom > "landing$rep.bin"
    t0=$(now)
    mv "landing$rep.bin" "share$IDX/d00/landed$rep.bin"
    for _ in $(seq 1000); do
      "${FETCH_ENV[@]}" "$FERRY" search "landed$rep.bin" 2>/dev/null | grep -q "landed$rep" && break
      sleep 0.02
    done
    t1=$(now)
    WATCH_SECS+=("$(secs "$t0" "$t1")")
    log "landed $rep: found after ${WATCH_SECS[-1]} s"
  done
  stop_peer "$IDX"
fi

# ---- the report ---------------------------------------------------------------------------------
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem_gib=$(awk '/MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)
verdict() { awk -v a="$1" -v b="$2" 'BEGIN { print (a >= b ? "met" : "NOT met") }'; }
under() { awk -v a="$1" -v b="$2" 'BEGIN { print (a < b ? "met" : "NOT met") }'; }
{
  echo "Produced by \`make bench-peer\` (\`bench/peer_bench.sh\`) on $(date -u +%Y-%m-%d); every"
  echo "figure below comes from that one run. Machine: $(nproc) cores ($cpu_model), $mem_gib GiB RAM,"
  echo "Linux $(uname -r). Every file lives in \`$BENCH_DIR\` (tmpfs). Serving peers, mirrors and"
  echo "seeders listen on 127.0.0.2, .3 and .4 (ferry's single peer on .6); ferry and aria2c fetch from"
  echo "127.0.0.1, libtorrent from 127.0.0.5. SHA-256 of every result is checked after its timed part."
  if [[ -n ${SECS[ferry]:-} ]]; then
    echo
    echo "## One ${SIZE_MB} MiB file from 3 sources"
    echo
    echo "Median of $REPS runs; every repeat ran each tool once, in the order of the table. MB/s is"
    echo "10^6 bytes per second, timed from the command's start to its exit (log-in, search and"
    echo "connecting included for ferry). CPU is user + system time (medians): the fetcher's from"
    echo "\`/usr/bin/time\`, the serving side's summed over its processes from /proc. Peak RSS: the"
    echo "fetcher's from \`/usr/bin/time\`, the serving side's the largest VmHWM of its processes over"
    echo "the whole run."
    echo
    echo "| tool | sources | MB/s | seconds | every run, s | fetcher CPU s | serving CPU s, all sources | fetcher peak RSS MiB | largest server peak RSS MiB |"
    echo "|---|---|---|---|---|---|---|---|---|"
    for tool in $TOOLS; do
      case $tool in
        ferry) what="3 ferry peers (TLS, every chunk verified)" ;;
        ferry1) what="1 ferry peer" ;;
        aria2c) what="3 nginx HTTPS mirrors, \`-x4 -s12 -k1M\`" ;;
        libtorrent) what="3 seeders, v2 torrent, plaintext" ;;
      esac
      echo "| $tool | $what | $(mbps "$SIZE_MB" "${SECS[$tool]}") | ${SECS[$tool]} | ${RUNS[$tool]} | ${FETCH_CPU[$tool]} | ${SERVE_CPU[$tool]} | $(mib "${FETCH_KB[$tool]}") | $(mib "${SERVE_KB[$tool]}") |"
    done
    echo
    echo "Tools: $(aria2c --version | head -1); nginx $(/usr/sbin/nginx -v 2>&1 | sed 's|.*/||');"
    echo "libtorrent $(/usr/bin/python3 -c 'import libtorrent; print(libtorrent.__version__)') (python3-libtorrent)."
  fi
  echo
  echo "## Targets"
  echo
  echo "| target | measured | |"
  echo "|---|---|---|"
  if [[ -n ${SECS[aria2c]:-} ]]; then
    r=$(ratio "${SECS[aria2c]}" "${SECS[ferry]}")
    echo "| ferry from 3 peers >= 0.9x aria2c from 3 mirrors | ${r}x | $(verdict "$r" 0.9) |"
  fi
  if [[ -n ${SECS[libtorrent]:-} ]]; then
    r=$(ratio "${SECS[libtorrent]}" "${SECS[ferry]}")
    echo "| ferry from 3 peers >= 1.4x libtorrent from 3 seeders | ${r}x | $(verdict "$r" 1.4) |"
  fi
  if [[ -n ${SECS[ferry1]:-} ]]; then
    r=$(ratio "${SECS[ferry1]}" "${SECS[ferry]}")
    echo "| ferry from 3 peers >= 1.3x ferry from 1 peer | ${r}x | $(verdict "$r" 1.3) |"
  fi
  if [[ -n ${FETCH_KB[ferry]:-} ]]; then
    echo "| fetcher peak RSS < 64 MiB | $(mib "${FETCH_KB[ferry]}") MiB | $(under "${FETCH_KB[ferry]}" 65536) |"
    echo "| each serving peer's peak RSS < 64 MiB | $(mib "${SERVE_KB[ferry]}") MiB (largest) | $(under "${SERVE_KB[ferry]}" 65536) |"
  fi
  if ((${#BAD_SECS[@]} > 0)); then
    echo "| bad peer, $BAD_RUNS runs: no bad byte in any result | every result's SHA-256 right | met |"
    echo "| bad peer dropped after at most 2 bad chunks | at most $BAD_CHUNKS_MAX; not dropped in $BAD_NOT_DROPPED runs | $( ((BAD_CHUNKS_MAX <= 2 && BAD_NOT_DROPPED == 0)) && echo met || echo NOT met) |"
    echo "| no honest peer ever dropped | $HONEST_DROPS honest drops | $( ((HONEST_DROPS == 0)) && echo met || echo NOT met) |"
    r=$(ratio "$BAD_MEDIAN" "${SECS[ferry]}")
    echo "| bad-peer time <= 1.2x the clean run | median $BAD_MEDIAN s = ${r}x | $(awk -v r="$r" 'BEGIN { print (r <= 1.2 ? "met" : "NOT met") }') |"
  fi
  if [[ -n ${RESUME_FERRY_TWICE:-} ]]; then
    echo "| resume: bytes fetched twice <= what was in flight (ferry: at most 32 MiB, see below) | $(mib $((RESUME_FERRY_TWICE / 1024))) MiB | $(under "$RESUME_FERRY_TWICE" $((32 * 1048576 + 1))) |"
    echo "| resume: fetched twice <= aria2c's in the same run | ferry $(mib $((RESUME_FERRY_TWICE / 1024))) MiB, aria2c $(mib $((RESUME_ARIA_TWICE / 1024))) MiB | $(awk -v a="$RESUME_FERRY_TWICE" -v b="$RESUME_ARIA_TWICE" 'BEGIN { print (a <= b ? "met" : "NOT met") }') |"
  fi
  if ((${#INDEX_SECS[@]} > 0)); then
    ti=$(printf '%s\n' "${INDEX_SECS[@]}" | median)
    ts=$(printf '%s\n' "${SHASUM_SECS[@]}" | median)
    r=$(ratio "$ts" "$ti")
    echo "| first indexing of $INDEX_FILES files ($INDEX_MB MiB) >= 0.9x sha256sum on both cores | ferry $ti s, sha256sum $ts s: ${r}x | $(verdict "$r" 0.9) |"
    tr=$(printf '%s\n' "${RESTART_SECS[@]}" | median)
    echo "| restart: 0 bytes re-hashed, searchable again < 1 s | 0 bytes; median $tr s ($(printf '%s ' "${RESTART_SECS[@]}")) | $(under "$tr" 1) |"
    tw=$(printf '%s\n' "${WATCH_SECS[@]}" | median)
    echo "| a file landing in a share found by search: median < 2 s | median $tw s ($(printf '%s ' "${WATCH_SECS[@]}")) | $(under "$tw" 2) |"
  fi
  if [[ -n ${RESUME_FERRY_TWICE:-} ]]; then
    echo
    echo "Resume: each fetcher was killed with SIGKILL at half its median time and run again."
    echo "ferry's second run: $RESUME_FERRY_LINE. aria2c (default \`--auto-save-interval\` of 60 s)"
    echo "left a control file: $RESUME_ARIA_CONTROL. Bytes fetched twice are all payload bytes the"
    echo "serving side sent over both runs less the file's size. ferry's bound: 3 peers x 2 calls x 4"
    echo "chunks in flight, plus 8 chunks written but not yet in the done record = 32 MiB."
  fi
  if ((${#BAD_SECS[@]} > 0)); then
    echo
    echo "Bad peer: one byte of every 1 MiB chunk of ${HOSTS[0]}'s copy changed, size and mtime kept"
    echo "(its restart hashed nothing). Every run, s: $(printf '%s ' "${BAD_SECS[@]}")."
  fi
} | write_section peer "$OUT"
log "wrote $OUT"
