#!/usr/bin/env bash
# Peer web UI benchmark (issue 20), with a real directory and peers in
# headless Chromium (the browser test, tests/browser/run.mjs, run REPS times):
# how soon a pushed progress change reaches the screen (p50, p95, max of each
# run; medians over the runs), how long 1,000 history rows take to render,
# and how many requests an idle page sends in IDLE_SECONDS, against
# Transmission's web client (transmission-daemon 3.00, Debian's), which polls.
# Writes its section of docs/benchmarks.md.
#
#   make bench-peer-ui                  (installs, builds, runs)
#   REPS=1 IDLE_SECONDS=10 bench/peer_ui_bench.sh
set -euo pipefail

ROOT=${ROOT:-$(cd "$(dirname "$0")/.." && pwd)}
source "$ROOT/bench/section.sh"
FERRY=${FERRY:-$ROOT/build/ferry}
REPS=${REPS:-5}
IDLE_SECONDS=${IDLE_SECONDS:-30}
OUT=${OUT:-$ROOT/docs/benchmarks.md}
TR_PORT=${TR_PORT:-17590}

for tool in "$FERRY" node /usr/bin/chromium transmission-daemon; do
  command -v "$tool" >/dev/null || { echo "missing $tool (run: make bench-peer-ui)" >&2; exit 1; }
done
log() { echo "[ui-bench] $*" >&2; }

WORK=$(mktemp -d /dev/shm/ferry-ui-bench-XXXXXX)
TR_PID=""
cleanup() {
  [[ -n $TR_PID ]] && kill "$TR_PID" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# ferry: the browser test, REPS times; each run appends its figures.
for i in $(seq "$REPS"); do
  log "ferry: browser run $i of $REPS (idle page watched for $IDLE_SECONDS s)"
  if ! FERRY_BINARY=$FERRY FERRY_UI_FIGURES=$WORK/figures.jsonl \
    FERRY_UI_IDLE_MS=$((IDLE_SECONDS * 1000)) node "$ROOT/tests/browser/run.mjs" \
    >"$WORK/run$i.log" 2>&1; then
    tail -30 "$WORK/run$i.log" >&2
    exit 1
  fi
done

# Transmission's web client, idle, for the same time.
log "transmission-daemon: its web client, idle for $IDLE_SECONDS s"
mkdir -p "$WORK/transmission" "$WORK/transmission-downloads"
transmission-daemon -f -g "$WORK/transmission" -w "$WORK/transmission-downloads" -p "$TR_PORT" \
  -a 127.0.0.1 -T --no-portmap --no-dht --no-lpd -r 127.0.0.1 >"$WORK/transmission.log" 2>&1 &
TR_PID=$!
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$TR_PORT/transmission/web/" && break
  sleep 0.1
done
node "$ROOT/bench/ui_idle.mjs" "http://127.0.0.1:$TR_PORT/transmission/web/" "$IDLE_SECONDS" \
  >"$WORK/transmission.json"
TR_VERSION=$(transmission-daemon --version 2>&1 | head -1)

node - "$WORK/figures.jsonl" "$WORK/transmission.json" "$IDLE_SECONDS" "$REPS" "$TR_VERSION" \
  >"$WORK/section.md" <<'JS'
const fs = require('fs');
const [figuresFile, trFile, idleSeconds, reps, trVersion] = process.argv.slice(2);
const runs = fs.readFileSync(figuresFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const tr = JSON.parse(fs.readFileSync(trFile, 'utf8'));
const median = (xs) => { const s = xs.slice().sort((a, b) => a - b); return s[Math.floor((s.length - 1) / 2)]; };
const f1 = (x) => x.toFixed(1);
const col = (k) => runs.map((r) => r[k]);
const p95 = median(col('p95_ms'));
const hist = median(col('history_1000_ms'));
const idle = median(col('idle_requests'));
const trKinds = Object.entries(tr.kinds).map(([k, n]) => `${n} × \`${k}\``).join(', ') || 'none';
const out = [];
out.push('## The peer web UI (`make bench-peer-ui`)');
out.push('');
out.push(`${reps} runs of the browser test (\`tests/browser/run.mjs\`: a real directory, two serving peers`);
out.push('at 4 MB/s each, the UI peer, headless Debian Chromium) on this 2-core VM. "Pushed" is when a');
out.push('Node client of the same event stream received the event; "on screen" is when the page\'s progress');
out.push('bar changed (a MutationObserver), both on this machine\'s clock. Before that, the downloader');
out.push('reports progress about ten times a second and the peer pushes each report as it comes, so a');
out.push('verified chunk is on screen within about 100 ms plus these figures.');
out.push('');
out.push('| measure | median of the runs | each run |');
out.push('|---|---|---|');
out.push(`| progress pushed → on screen, p50 (ms) | ${f1(median(col('p50_ms')))} | ${col('p50_ms').map(f1).join(', ')} |`);
out.push(`| progress pushed → on screen, p95 (ms) | ${f1(p95)} | ${col('p95_ms').map(f1).join(', ')} |`);
out.push(`| progress pushed → on screen, max (ms) | ${f1(median(col('max_ms')))} | ${col('max_ms').map(f1).join(', ')} |`);
out.push(`| progress updates matched per run | ${median(col('updates'))} | ${col('updates').join(', ')} |`);
out.push(`| 1,000 history rows rendered (ms) | ${f1(hist)} | ${col('history_1000_ms').map(f1).join(', ')} |`);
out.push(`| requests from an idle page in ${idleSeconds} s | ${idle} | ${col('idle_requests').join(', ')} |`);
out.push('');
out.push(`Transmission's web client (${trVersion}), idle in the same browser for ${idleSeconds} s:`);
out.push(`${tr.requests} requests (${trKinds}); ferry's page: ${idle}, its live view comes over the one`);
out.push('event stream it opened when it loaded.');
out.push('');
out.push('### Targets');
out.push('');
out.push('| target | measured | |');
out.push('|---|---|---|');
out.push(`| a progress change on screen within 250 ms (p95) | ${f1(p95)} ms | ${p95 <= 250 ? 'met' : 'NOT met'} |`);
out.push(`| history of 1,000 downloads renders in under 1 s | ${f1(hist)} ms | ${hist < 1000 ? 'met' : 'NOT met'} |`);
out.push(`| an idle page sends no requests | ${idle} in ${idleSeconds} s (Transmission: ${tr.requests}) | ${idle === 0 ? 'met' : 'NOT met'} |`);
console.log(out.join('\n'));
JS
write_section peer-ui "$OUT" <"$WORK/section.md"
cat "$WORK/section.md"
