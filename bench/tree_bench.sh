#!/usr/bin/env bash
# Many small files: a tree of FILES files of 1 to 8 KiB sent up and down with
# ferry put -r / get -r, scp -r, sftp put -r / get -r and rsync -a over ssh,
# then `ferry sync` of the same tree with 1% of its files changed against
# rsync -a over ssh. All on 127.0.0.1, tools taken in turn, REPS runs each,
# medians; every copy is checked against the source tree. Writes the
# "tree" section of docs/benchmarks.md.
#
#   make bench-tree                 (installs what it needs, builds, runs)
#   FILES=2000 REPS=1 bench/tree_bench.sh        (a quicker run)
#
# BENCH_DIR (default /dev/shm/ferry-tree-bench, a tmpfs) holds the trees and
# the servers' data, so the protocol decides, not the disk; ferry still
# publishes each file atomically with its fsyncs.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
source "$ROOT/bench/section.sh"
source "$ROOT/bench/ssh_setup.sh"
FERRY=${FERRY:-$ROOT/build/ferry}
BENCH_DIR=${BENCH_DIR:-/dev/shm/ferry-tree-bench}
FILES=${FILES:-10000}
REPS=${REPS:-3}
OUT=${OUT:-$ROOT/docs/benchmarks.md}
FERRY_PORT=${FERRY_PORT:-17071}
SSH_PORT=${SSH_PORT:-17023}

for tool in "$FERRY" /usr/sbin/sshd scp sftp rsync; do
  command -v "$tool" >/dev/null || { echo "missing $tool (run: make bench-tree)" >&2; exit 1; }
done

rm -rf "$BENCH_DIR"
mkdir -p "$BENCH_DIR"/{ssh,ferry,dst}
cd "$BENCH_DIR"
cleanup() {
  pkill -f "ferry server --listen 127.0.0.1:$FERRY_PORT" 2>/dev/null || true
  pkill -f "sshd -D -f $BENCH_DIR" 2>/dev/null || true
}
trap cleanup EXIT

log() { echo "[bench] $*" >&2; }
now() { date +%s.%N; }
median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
# One line per file: its path and SHA-256, sorted; the whole tree's fingerprint.
tree_sum() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-64); }

log "making $FILES files of 1 to 8 KiB in $((FILES / 100)) directories"
python3 - "$FILES" <<'EOF'
import os, random, sys
n = int(sys.argv[1]); rnd = random.Random(7)
for i in range(n):
    d = f"src/d{i // 100:03d}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/f{i:05d}.txt", "wb") as f:
        f.write(rnd.randbytes(rnd.randint(1024, 8192)))
EOF
SRC_SUM=$(tree_sum src)
SRC_MB=$(du -sm --apparent-size src | cut -f1)

echo benchpassword | "$FERRY" user add bench --data ferry/data --password-stdin >/dev/null
export FERRY_SERVER=127.0.0.1:$FERRY_PORT FERRY_USER=bench FERRY_PASSWORD=benchpassword
export XDG_CONFIG_HOME=$BENCH_DIR/ferry/config XDG_STATE_HOME=$BENCH_DIR/ferry/state
setsid "$FERRY" server --listen 127.0.0.1:$FERRY_PORT --data ferry/data \
  >/dev/null 2>>ferry/server.log </dev/null &
for _ in $(seq 100); do grep -q "listening on" ferry/server.log 2>/dev/null && break; sleep 0.05; done
"$FERRY" ls --trust-new-server >/dev/null
HOME_DIR=$BENCH_DIR/ferry/data/files/bench

make_ssh_config
/usr/sbin/sshd -D -f "$BENCH_DIR/ssh/sshd_config" -p $SSH_PORT 2>ssh/sshd.log &
sleep 0.5
SSH="ssh ${SSH_OPTS[*]} -p $SSH_PORT"
SCP_OPTS=("${SSH_OPTS[@]}" -P $SSH_PORT)
HOST=$SSH_USER@127.0.0.1

# Runs one tool's one direction once; prints seconds. The destination is
# fresh, and checked against the source afterwards.
run() {
  local what=$1 t0 t1 dst
  rm -rf dst/tree "$HOME_DIR/tree"
  case $what in
    ferry/down | scp/down | sftp/down | rsync/down) cp -r src "$HOME_DIR/tree" ;;
  esac
  mkdir -p dst
  t0=$(now)
  case $what in
    ferry/up) "$FERRY" put -r src tree >/dev/null; dst=$HOME_DIR/tree ;;
    ferry/down) "$FERRY" get -r tree dst/tree >/dev/null; dst=dst/tree ;;
    scp/up) scp -q -r "${SCP_OPTS[@]}" src "$HOST:$HOME_DIR/tree"; dst=$HOME_DIR/tree ;;
    scp/down) scp -q -r "${SCP_OPTS[@]}" "$HOST:$HOME_DIR/tree" dst/tree; dst=dst/tree ;;
    sftp/up) mkdir -p "$HOME_DIR/tree"
      echo "put -r src/* $HOME_DIR/tree/" | sftp -q -b - "${SCP_OPTS[@]}" "$HOST" >/dev/null
      dst=$HOME_DIR/tree ;;
    sftp/down) echo "get -r $HOME_DIR/tree dst/" | sftp -q -b - "${SCP_OPTS[@]}" "$HOST" >/dev/null
      dst=dst/tree ;;
    rsync/up) rsync -a -e "$SSH" src/ "$HOST:$HOME_DIR/tree/"; dst=$HOME_DIR/tree ;;
    rsync/down) rsync -a -e "$SSH" "$HOST:$HOME_DIR/tree/" dst/tree/; dst=dst/tree ;;
  esac
  t1=$(now)
  local sum
  sum=$(tree_sum "$dst")
  [[ $sum == "$SRC_SUM" ]] || { log "$what: the copy differs from the source"; exit 1; }
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", b - a }'
}

# The 1% change: rewrites every 100th file (new bytes, new size) in `src`,
# then times making the remote copy match, by ferry sync and by rsync.
run_sync() {
  local what=$1 t0 t1
  rm -rf "$HOME_DIR/tree" work
  cp -r src work
  case $what in
    ferry) "$FERRY" sync work :tree >/dev/null ;;
    rsync) rsync -a -e "$SSH" work/ "$HOST:$HOME_DIR/tree/" ;;
  esac
  python3 - <<'EOF'
import glob, random
rnd = random.Random(11)
for path in sorted(glob.glob("work/d*/f*.txt"))[::100]:
    with open(path, "wb") as f:
        f.write(rnd.randbytes(rnd.randint(1024, 8192)))
EOF
  t0=$(now)
  case $what in
    ferry) "$FERRY" sync work :tree >/dev/null ;;
    rsync) rsync -a -e "$SSH" work/ "$HOST:$HOME_DIR/tree/" ;;
  esac
  t1=$(now)
  [[ $(tree_sum "$HOME_DIR/tree") == "$(tree_sum work)" ]] || { log "$what sync: copy differs"; exit 1; }
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f\n", b - a }'
}

declare -A TIMES
CASES=(ferry/up scp/up sftp/up rsync/up ferry/down scp/down sftp/down rsync/down)
for rep in $(seq "$REPS"); do
  for c in "${CASES[@]}"; do
    s=$(run "$c")
    log "run $rep: $c ${s}s"
    TIMES[$c]+="$s "
  done
  for c in ferry rsync; do
    s=$(run_sync "$c")
    log "run $rep: sync 1% $c ${s}s"
    TIMES[sync/$c]+="$s "
  done
done

med() { echo "${TIMES[$1]}" | tr ' ' '\n' | grep . | median; }
ratio() { awk -v a="$(med "$1")" -v b="$(med "$2")" 'BEGIN { printf "%.2f", b / a }'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r >= t ? "met" : "not met") }'; }
{
  echo "## Many small files (\`bench/tree_bench.sh\`)"
  echo
  echo "$(date -u +%Y-%m-%d), $(nproc) CPUs; $FILES files of 1 to 8 KiB in $((FILES / 100)) directories"
  echo "(${SRC_MB} MiB), on tmpfs, 127.0.0.1; medians of $REPS runs, tools taken in turn; every copy"
  echo "checked against the source tree. Up is local to server, down the other way."
  echo
  echo "| tool | up s | down s |"
  echo "|---|---|---|"
  for t in ferry scp sftp rsync; do echo "| $t | $(med $t/up) | $(med $t/down) |"; done
  echo
  echo "1% of the files changed (every 100th rewritten), then the server's copy made to match:"
  echo "\`ferry sync\` $(med sync/ferry) s, \`rsync -a -e ssh\` $(med sync/rsync) s."
  echo
  echo "| target | measured | |"
  echo "|---|---|---|"
  up_scp=$(ratio ferry/up scp/up); down_scp=$(ratio ferry/down scp/down)
  up_rs=$(ratio ferry/up rsync/up); down_rs=$(ratio ferry/down rsync/down)
  sync_rs=$(ratio sync/ferry sync/rsync)
  echo "| ferry put -r >= 2x scp -r | ${up_scp}x | $(verdict "$up_scp" 2) |"
  echo "| ferry get -r >= 2x scp -r | ${down_scp}x | $(verdict "$down_scp" 2) |"
  echo "| ferry put -r >= 1x rsync | ${up_rs}x | $(verdict "$up_rs" 1) |"
  echo "| ferry get -r >= 1x rsync | ${down_rs}x | $(verdict "$down_rs" 1) |"
  echo "| ferry sync (1% changed) >= 1x rsync | ${sync_rs}x | $(verdict "$sync_rs" 1) |"
} | write_section tree "$OUT"
log "wrote the tree section of $OUT"
