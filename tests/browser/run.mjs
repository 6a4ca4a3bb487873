#!/usr/bin/env node
// Browser tests of the peer's web UI (docs/peer-ui.md), in Debian's headless
// Chromium driven by puppeteer-core, against a real network on 127.0.0.1: a
// `ferry directory`, two serving peers (alice, bob) that share the same large
// file at a throttled rate, and carol's peer with the web UI. Every process
// it starts runs in its own process group and is killed at the end, also on
// failure or timeout.
//
//   FERRY_BINARY=build/ferry node tests/browser/run.mjs
//
// Environment:
//   FERRY_BINARY       the ferry binary (required)
//   FERRY_CHROMIUM     the browser (default /usr/bin/chromium)
//   FERRY_SCREENSHOTS  a folder: save a PNG of each panel there
//   FERRY_SKIP_BROWSER_TESTS=1  skip (exit 77) instead of failing when
//                      chromium or node_modules are missing; for a developer's
//                      machine only, CI never sets it
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  age, assert, assertEqual, children, configure, freePort, killAllNow, listenToEvents, request,
  runFerry, sha256File, sleep, startFerry, stopAll, stopProcess, tail, userEnv, waitForLog,
  waitUntil, writeRandomFile, writeTextFile,
} from './harness.mjs';
import { generateHistory } from './history_fixture.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const FERRY = process.env.FERRY_BINARY;
const CHROMIUM = process.env.FERRY_CHROMIUM || '/usr/bin/chromium';
const SHOTS = process.env.FERRY_SCREENSHOTS || '';
// Timings are measured, not asserted (tests assert behaviour): with
// FERRY_UI_FIGURES=FILE they are appended to FILE as one JSON line, for
// bench/peer_ui_bench.sh. FERRY_UI_IDLE_MS is how long the page is watched
// while idle.
const FIGURES = process.env.FERRY_UI_FIGURES || '';
const IDLE_MS = Number(process.env.FERRY_UI_IDLE_MS || 3000);
const figures = {};
const SKIP_CODE = 77;
const TOTAL_TIMEOUT_MS = 280_000;
const START_TIMEOUT_MS = 60_000;
const BIG_SIZE = 64 * 1024 * 1024;   // shared by alice and bob, each serving at most...
const SERVE_RATE = '4M';             // ...4 MB/s: the download takes about 8 s
const MEDIUM_SIZE = 24 * 1024 * 1024;
const BROWSER_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-dev-shm-usage', '--host-resolver-rules=MAP evil.test 127.0.0.1'];
// File names are other people's input: the page must show them as text.
const HOSTILE_NAME = '<img src=x onerror="window.__xss=1">.txt';
const HOSTILE_NAME_2 = '"><script>window.__xss=2</script>.txt';

let work = '';
process.on('exit', killAllNow);

function log(...args) {
  console.log(...args);
}

// ---- the page ---------------------------------------------------------------------

// Records, in the page, when each download's progress bar changes.
function observeProgress() {
  window.__progressChanges = [];
  new MutationObserver((records) => {
    const t = performance.timeOrigin + performance.now();
    for (const r of records) {
      if (r.target.tagName !== 'PROGRESS' || r.attributeName !== 'value') continue;
      if (r.oldValue === r.target.getAttribute('value')) continue;  // set again, not changed
      const card = r.target.closest('article[data-id]');
      if (card) window.__progressChanges.push({ id: card.dataset.id, value: r.target.getAttribute('value'), t });
    }
  }).observe(document.getElementById('downloads'), { subtree: true, attributes: true, attributeOldValue: true, attributeFilter: ['value'] });
}

async function card(page, name) {
  return page.evaluate((wanted) => {
    for (const a of document.querySelectorAll('#running article, #finished article')) {
      if (a.querySelector('.name').textContent !== wanted) continue;
      const bar = a.querySelector('progress');
      return {
        id: a.dataset.id,
        list: a.parentElement.id,
        state: a.querySelector('.badge').textContent,
        value: bar.value,
        max: bar.max,
        percent: a.querySelector('.percent').textContent,
        stats: a.querySelector('.stats').textContent,
        where: a.querySelector('p.path').textContent,
        error: a.querySelector('.error-text').textContent,
        peers: [...a.querySelectorAll('table.peers tbody tr')].map((tr) => [...tr.cells].map((c) => c.textContent)),
      };
    }
    return null;
  }, name);
}

async function rows(page, selector) {
  return page.$$eval(`${selector} tbody tr, ${selector} [role=rowgroup] > [role=row]`, (trs) =>
    trs.map((tr) => [...(tr.cells || tr.querySelectorAll('[role=cell]'))].map((c) => c.textContent)));
}

// Clicks the button labelled `label` in the row of `table` that contains `text`.
async function clickInRow(page, table, text, label, timeoutMs = 15_000) {
  const handle = await page.waitForFunction((sel, t, l) => {
    for (const tr of document.querySelectorAll(`${sel} tbody tr`)) {
      if (!tr.textContent.includes(t)) continue;
      for (const b of tr.querySelectorAll('button')) if (b.textContent.trim() === l && !b.disabled) return b;
    }
    return null;
  }, { timeout: timeoutMs, polling: 50 }, table, text, label);
  await handle.asElement().click();
}

async function clickInCard(page, name, label) {
  const handle = await page.waitForFunction((n, l) => {
    for (const a of document.querySelectorAll('#running article, #finished article')) {
      if (a.querySelector('.name').textContent !== n) continue;
      for (const b of a.querySelectorAll('.actions button')) if (!b.hidden && !b.disabled && b.textContent === l) return b;
    }
    return null;
  }, { timeout: 15_000, polling: 50 }, name, label);
  await handle.asElement().click();
}

async function clearSearch(page) {
  await page.$eval('#search-input', (input) => { input.value = ''; });
  await page.focus('#search-input');
}

async function showTab(page, name) {
  await page.click(`#tab-${name}`);
  await page.waitForFunction((n) => !document.getElementById(n).hidden, { timeout: 5_000 }, name);
}

async function screenshot(page, name) {
  if (!SHOTS) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
  log(`  saved ${path.join(SHOTS, `${name}.png`)}`);
}

async function messageText(page) {
  return page.evaluate(() => (document.getElementById('message').hidden ? '' : document.getElementById('message-text').textContent));
}

function percentile(values, p) {
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

// ---- the run ------------------------------------------------------------------------

const results = { passed: 0, failed: 0 };

async function step(name, body) {
  const t0 = Date.now();
  try {
    await body();
  } catch (e) {
    results.failed++;
    log(`not ok - ${name} (${Date.now() - t0} ms)\n${e.stack || e}`);
    if (e instanceof Error) e.counted = true;
    throw e;
  }
  results.passed++;
  log(`ok - ${name} (${Date.now() - t0} ms)`);
}

async function loadPuppeteer() {
  const problems = [];
  if (!FERRY) problems.push('FERRY_BINARY is not set (the ferry binary to test)');
  else if (!fs.existsSync(FERRY)) problems.push(`FERRY_BINARY ${FERRY} does not exist`);
  try {
    fs.accessSync(CHROMIUM, fs.constants.X_OK);
  } catch (e) {
    problems.push(`${CHROMIUM} is missing: apt-get install chromium (scripts/install-deps.sh does)`);
  }
  let puppeteer = null;
  try {
    puppeteer = (await import('puppeteer-core')).default;
  } catch (e) {
    problems.push(`puppeteer-core is missing: npm ci --prefix ${path.relative(process.cwd(), HERE) || '.'} ` +
                  `(scripts/install-deps.sh does) (${e.message})`);
  }
  if (problems.length) {
    for (const p of problems) log(`browser tests: ${p}`);
    if (process.env.FERRY_SKIP_BROWSER_TESTS === '1' && FERRY && fs.existsSync(FERRY)) {
      log('browser tests: skipped (FERRY_SKIP_BROWSER_TESTS=1)');
      process.exit(SKIP_CODE);
    }
    log('0 passed, 1 failed');
    process.exit(1);
  }
  return puppeteer;
}

async function main() {
  const puppeteer = await loadPuppeteer();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-browser-'));
  configure({ ferry: FERRY, work });
  fs.mkdirSync(path.join(work, 'home'));
  log(`browser tests: working in ${work}`);

  const net_ = {};  // what the steps share
  let browser = null;
  try {
    await step('start a directory, three users and two serving peers', async () => {
      writeRandomFile(path.join(work, 'alice-share', 'big.bin'), BIG_SIZE);
      fs.mkdirSync(path.join(work, 'bob-share'));
      fs.copyFileSync(path.join(work, 'alice-share', 'big.bin'), path.join(work, 'bob-share', 'big.bin'));
      writeRandomFile(path.join(work, 'bob-share', 'medium.bin'), MEDIUM_SIZE);
      writeTextFile(path.join(work, 'alice-share', 'notes', 'readme.txt'), 'alice\'s notes\n');
      writeTextFile(path.join(work, 'alice-share', HOSTILE_NAME), 'a file with a hostile name\n');
      writeTextFile(path.join(work, 'carol-share', 'carol-notes.txt'), 'carol\'s notes\n');
      writeTextFile(path.join(work, 'carol-share', HOSTILE_NAME_2), 'another hostile name\n');
      for (const who of ['alice', 'bob', 'carol']) age(path.join(work, `${who}-share`));
      net_.bigSha = sha256File(path.join(work, 'alice-share', 'big.bin'));
      net_.mediumSha = sha256File(path.join(work, 'bob-share', 'medium.bin'));

      const directory = startFerry('directory', ['directory', '--listen', '127.0.0.1:0',
        '--data', path.join(work, 'directory')]);
      const m = await waitForLog(directory, /listening on (https?):\/\/([^ ]+):([0-9]+) /);
      net_.directory = directory;
      net_.directoryUrl = `${m[1]}://${m[2]}:${m[3]}`;
      await runFerry('register-alice', ['register', '--trust-new-server'], userEnv('alice', net_.directoryUrl));
      await runFerry('register-bob', ['register'], userEnv('bob', net_.directoryUrl));
      await runFerry('register-carol', ['register'], userEnv('carol', net_.directoryUrl));

      for (const who of ['alice', 'bob']) {
        const peer = startFerry(who, ['peer', '--share', path.join(work, `${who}-share`),
          '--data', path.join(work, `${who}-data`), '--listen', '127.0.0.1:0', '--ui-listen', 'off',
          '--limit-rate', SERVE_RATE, '--trust-new-server'], userEnv(who, net_.directoryUrl));
        await waitForLog(peer, /announced as 127\.0\.0\.1:[0-9]+/);
      }
    });

    await step('start carol\'s peer with the web UI; it prints the link with its secret', async () => {
      const port = await freePort();
      const carol = startFerry('carol', ['peer', '--share', path.join(work, 'carol-share'),
        '--data', path.join(work, 'carol-data'), '--downloads', path.join(work, 'carol-downloads'),
        '--listen', '127.0.0.1:0', '--ui-listen', `127.0.0.1:${port}`, '--trust-new-server'],
      userEnv('carol', net_.directoryUrl));
      net_.carol = carol;
      const m = await waitForLog(carol, /web UI: (http:\/\/127\.0\.0\.1:([0-9]+))\/login\?secret=([0-9a-f]+)/);
      assertEqual(Number(m[2]), port, 'the UI port in the link');
      net_.ui = m[1];
      net_.port = port;
      net_.secret = m[3];
      const onDisk = fs.readFileSync(path.join(work, 'carol-data', 'ui-secret'), 'utf8').trim();
      assertEqual(onDisk, net_.secret, 'the secret in carol-data/ui-secret');
      assertEqual(net_.secret.length, 64, 'the secret\'s length in hex digits');
      const mode = fs.statSync(path.join(work, 'carol-data', 'ui-secret')).mode & 0o777;
      assertEqual(mode.toString(8), '600', 'the mode of ui-secret');
    });

    const bearer = () => ({ Authorization: `Bearer ${net_.secret}` });

    await step('the network is up: both serving peers have big.bin, carol\'s files are indexed', async () => {
      await waitUntil('two peers with big.bin in the directory', async () => {
        const r = await request(`${net_.ui}/api/v1/search?sha256=${net_.bigSha}`, { headers: bearer() });
        return r.status === 200 && r.json.results.length === 1 && r.json.results[0].peers === 2;
      }, START_TIMEOUT_MS, 250);
      await waitUntil('carol\'s two files in her share', async () => {
        const r = await request(`${net_.ui}/api/v1/shares`, { headers: bearer() });
        return r.status === 200 && r.json.files.length === 2 && !r.json.indexing.running;
      }, START_TIMEOUT_MS, 250);
    });

    await step('without the secret: the page and the API answer 401', async () => {
      const page = await request(`${net_.ui}/`);
      assertEqual(page.status, 401, 'GET / without the cookie');
      assert(/text\/html/.test(page.headers['content-type'] || ''), `GET / without the cookie: ${page.headers['content-type']}`);
      assert(!page.text.includes('/app.js'), 'GET / without the cookie serves the UI');
      assert(page.text.includes('ui-secret') || page.text.includes('secret'), `the 401 page says nothing of the secret: ${page.text}`);
      const api = await request(`${net_.ui}/api/v1/session`);
      assertEqual(api.status, 401, 'GET /api/v1/session without the cookie');
      assert(api.json && typeof api.json.error === 'string' && api.json.error, `the 401 body is not {"error"}: ${api.text}`);
      const events = await request(`${net_.ui}/api/v1/shares`, { headers: { Authorization: 'Bearer ' + '0'.repeat(64) } });
      assertEqual(events.status, 401, 'GET /api/v1/shares with a wrong Bearer secret');
      const wrong = await request(`${net_.ui}/login?secret=${'0'.repeat(64)}`);
      assertEqual(wrong.status, 401, 'GET /login with a wrong secret');
      assert(!('set-cookie' in wrong.headers), 'a wrong secret got a cookie');
    });

    await step('a foreign Host or Origin gets 403; a POST without the CSRF token gets 403', async () => {
      const host = await request(`${net_.ui}/api/v1/session`, { headers: { ...bearer(), Host: `evil.test:${net_.port}` } });
      assertEqual(host.status, 403, 'Host: evil.test with the secret');
      const origin = await request(`${net_.ui}/api/v1/session`, { headers: { ...bearer(), Origin: 'http://evil.test' } });
      assertEqual(origin.status, 403, 'Origin: http://evil.test with the secret');
      const own = await request(`${net_.ui}/api/v1/session`, { headers: { ...bearer(), Origin: net_.ui } });
      assertEqual(own.status, 200, 'the UI\'s own Origin');
      const cookie = { Cookie: `ferry_ui=${net_.secret}`, 'Content-Type': 'application/json' };
      const body = JSON.stringify({ sha256: net_.bigSha });
      const none = await request(`${net_.ui}/api/v1/downloads`, { method: 'POST', headers: cookie, body });
      assertEqual(none.status, 403, 'POST /api/v1/downloads with the cookie and no CSRF token');
      const bad = await request(`${net_.ui}/api/v1/downloads`, { method: 'POST', headers: { ...cookie, 'X-CSRF-Token': 'f'.repeat(32) }, body });
      assertEqual(bad.status, 403, 'POST /api/v1/downloads with a wrong CSRF token');
      const list = await request(`${net_.ui}/api/v1/downloads`, { headers: bearer() });
      assertEqual(list.json.downloads.length, 0, 'downloads after refused POSTs');
    });

    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: BROWSER_FLAGS,
      protocolTimeout: 60_000,
    });
    const page = await browser.newPage();
    await page.setViewport({ width: 1100, height: 760 });
    const pageErrors = [];
    const dialogs = [];
    const requests = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss().catch(() => {}); });
    page.on('request', (r) => requests.push({ url: r.url(), method: r.method(), t: Date.now() }));
    page.on('requestfailed', (r) => log(`  (the page's ${r.method()} ${r.url()} failed: ${r.failure()?.errorText})`));
    const noHarm = async (where) => {
      const xss = await page.evaluate(() => window.__xss);
      assertEqual(xss, undefined, `window.__xss ${where} (a file name ran as HTML)`);
      assertEqual(dialogs.length, 0, `dialogs ${where}`);
      assertEqual(pageErrors.length, 0, `script errors ${where}: ${pageErrors.join('; ')}`);
    };

    await step('in the browser: refused without the secret, and from a foreign host', async () => {
      const r = await page.goto(`${net_.ui}/`);
      assertEqual(r.status(), 401, 'the page without the secret');
      const text = await page.evaluate(() => document.body.innerText.trim());
      assert(text.length > 0, 'the 401 page is blank');
      assertEqual(await page.$('#tab-shared'), null, 'the UI without the secret');
      // evil.test resolves to 127.0.0.1 (--host-resolver-rules): a DNS rebinding.
      const rebound = await page.goto(`http://evil.test:${net_.port}/login?secret=${net_.secret}`);
      assertEqual(rebound.status(), 403, 'the login link through a foreign host name');
      const cookies = await page.cookies(`http://evil.test:${net_.port}/`);
      assertEqual(cookies.length, 0, 'cookies set through a foreign host name');
    });

    await step('the login link sets an HttpOnly SameSite=Strict cookie and opens the page', async () => {
      const r = await page.goto(`${net_.ui}/login?secret=${net_.secret}`);
      assertEqual(r.status(), 200, 'the page after the login link');
      assertEqual(page.url(), `${net_.ui}/`, 'the address after the login link (no secret left in it)');
      const cookie = (await page.cookies()).find((c) => c.name === 'ferry_ui');
      assert(cookie, 'no ferry_ui cookie');
      assert(cookie.httpOnly, 'the cookie is not HttpOnly');
      assertEqual(cookie.sameSite, 'Strict', 'the cookie\'s SameSite');
      await page.waitForFunction(() => document.getElementById('who').textContent.includes('carol'), { timeout: 10_000 });
      await page.waitForFunction(() => document.getElementById('summary').textContent.includes('downloading'), { timeout: 10_000 });
      const noCsrf = await page.evaluate(async (sha) => {
        const res = await fetch('/api/v1/downloads', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ sha256: sha }) });
        return res.status;
      }, net_.bigSha);
      assertEqual(noCsrf, 403, 'a POST from the page without the CSRF token');
    });

    await step('Shared: carol\'s files, hostile names shown as text', async () => {
      await showTab(page, 'shared');
      await page.waitForFunction(() => document.querySelectorAll('#shares tbody tr').length === 2, { timeout: 10_000 });
      const shared = await rows(page, '#shares');
      const paths = shared.map((r) => r[0]).sort();
      assertEqual(JSON.stringify(paths), JSON.stringify([HOSTILE_NAME_2, 'carol-notes.txt'].sort()), 'the shared paths');
      const notes = shared.find((r) => r[0] === 'carol-notes.txt');
      assertEqual(notes[1], '14 B', 'the size of carol-notes.txt');
      assert(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/.test(notes[3]), `when carol-notes.txt was hashed: ${notes[3]}`);
      assert(/^[0-9a-f]{64}$/.test(notes[4]), `the SHA-256 of carol-notes.txt: ${notes[4]}`);
      await noHarm('on the Shared panel');
      await screenshot(page, 'shared');
    });

    await step('Network: the online peers; choosing alice lists her files', async () => {
      await showTab(page, 'network');
      await page.waitForFunction(() => document.querySelectorAll('#peers tbody tr').length === 3, { timeout: 10_000 });
      const peers = await rows(page, '#peers');
      const users = peers.map((r) => r[0]).sort();
      assertEqual(JSON.stringify(users), JSON.stringify(['alice', 'bob', 'carol (this peer)']), 'the online peers');
      const alice = peers.find((r) => r[0] === 'alice');
      assertEqual(alice[2], '3', 'alice\'s number of files');
      assert(/^127\.0\.0\.1:[0-9]+$/.test(alice[1]), `alice's address: ${alice[1]}`);
      await clickInRow(page, '#peers', 'alice', 'Files');
      await page.waitForFunction(() => document.querySelectorAll('#peer-files tbody tr').length === 3, { timeout: 10_000 });
      const files = (await rows(page, '#peer-files')).map((r) => r[0]).sort();
      assertEqual(JSON.stringify(files), JSON.stringify([HOSTILE_NAME, 'big.bin', 'notes/readme.txt'].sort()), 'alice\'s files');
      await noHarm('on the Network panel');
      await screenshot(page, 'network');
    });

    await step('Search: by name and by SHA-256, with size, hash and peers', async () => {
      await showTab(page, 'search');
      await clearSearch(page);
      await page.type('#search-input', 'big');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => document.querySelectorAll('#results tbody tr').length > 0, { timeout: 10_000 });
      let results = await rows(page, '#results');
      const big = results.find((r) => r[0] === 'big.bin');
      assert(big, `big.bin not in the results: ${JSON.stringify(results)}`);
      assertEqual(big[1], '64.0 MiB', 'big.bin\'s size');
      assertEqual(big[2], net_.bigSha, 'big.bin\'s SHA-256');
      assertEqual(big[3], '2', 'big.bin\'s number of peers');
      await clearSearch(page);
      await page.type('#search-input', net_.mediumSha.toUpperCase());
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => {
        const r = document.querySelectorAll('#results tbody tr');
        return r.length === 1 && r[0].cells[0].textContent === 'medium.bin';
      }, { timeout: 10_000 });
      await clearSearch(page);
      await page.type('#search-input', 'big');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => [...document.querySelectorAll('#results tbody tr')].some((r) => r.cells[0].textContent === 'big.bin'), { timeout: 10_000 });
      results = await rows(page, '#results');
      await noHarm('on the Search panel');
      await screenshot(page, 'search');
    });

    await step('Downloads: big.bin from alice and bob, live to 100%, with pause and resume', async () => {
      net_.events = listenToEvents(net_.ui, net_.secret);
      await page.evaluate(observeProgress);
      await sleep(300);  // the listener's snapshot first
      await clickInRow(page, '#results', 'big.bin', 'Download');
      await page.waitForFunction(() => document.getElementById('message-text').textContent.includes('Downloading big.bin'), { timeout: 10_000 });
      await showTab(page, 'downloads');
      const mid = await waitUntil('big.bin between 25% and 80% with both peers active', async () => {
        const c = await card(page, 'big.bin');
        if (!c || c.state !== 'running') return null;
        const share = c.value / c.max;
        const active = c.peers.filter((p) => p[2] === 'active').map((p) => p[0]).sort();
        return share > 0.25 && share < 0.8 && active.join() === 'alice,bob' ? c : null;
      }, 60_000, 50);
      assertEqual(mid.list, 'running', 'where the running download is');
      assert(/^[0-9]+%$/.test(mid.percent) && parseInt(mid.percent, 10) < 100, `the percentage mid-way: ${mid.percent}`);
      assert(/ of 64\.0 MiB · [0-9.]+ [KM]iB\/s · ETA /.test(mid.stats), `the stats line mid-way: ${mid.stats}`);
      await screenshot(page, 'downloads');

      await clickInCard(page, 'big.bin', 'Pause');
      await waitUntil('big.bin paused', async () => (await card(page, 'big.bin'))?.state === 'paused', 10_000);
      await sleep(500);
      const paused = await card(page, 'big.bin');
      await sleep(1500);
      const stillPaused = await card(page, 'big.bin');
      assertEqual(stillPaused.state, 'paused', 'the state 1.5 s after pausing');
      assertEqual(stillPaused.value, paused.value, 'bytes done while paused');
      assert(paused.value < paused.max, 'the download finished before it could be paused');
      await clickInCard(page, 'big.bin', 'Resume');

      const done = await waitUntil('big.bin done', async () => {
        const c = await card(page, 'big.bin');
        return c && c.state === 'done' ? c : null;
      }, 90_000, 100);
      assertEqual(done.list, 'finished', 'where the finished download is');
      assertEqual(done.percent, '100%', 'the percentage when done');
      assertEqual(done.value, done.max, 'the progress bar when done');
      const sources = done.peers.map((p) => p[0]).sort();
      assertEqual(sources.join(), 'alice,bob', 'the peers the finished download names');
      const saved = path.join(work, 'carol-downloads', 'big.bin');
      assert(done.where.includes(saved), `the finished download's path: ${done.where}`);
      assertEqual(sha256File(saved), net_.bigSha, 'the SHA-256 of the downloaded file');
      await noHarm('on the Downloads panel');
    });

    await step('live progress: pushed updates reach the progress bar', async () => {
      net_.events.close();
      const changes = await page.evaluate(() => window.__progressChanges);
      const latencies = [];
      for (const c of changes) {
        const sent = net_.events.arrivals.find((a) => a.id === c.id && String(a.done) === c.value);
        if (sent) latencies.push(c.t - sent.t);
      }
      assert(latencies.length >= 10, `only ${latencies.length} progress updates could be matched to events ` +
             `(${changes.length} changes, ${net_.events.arrivals.length} events)`);
      const p50 = percentile(latencies, 50);
      const p95 = percentile(latencies, 95);
      const max = Math.max(...latencies);
      log(`  ${latencies.length} updates: p50 ${p50.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms, max ${max.toFixed(1)} ms`);
      Object.assign(figures, { updates: latencies.length, p50_ms: p50, p95_ms: p95, max_ms: max });
    });

    await step('History: the finished download, then a cancelled one pushed live', async () => {
      await showTab(page, 'history');
      await page.waitForFunction(() => document.querySelectorAll('#history-table [role=rowgroup] > [role=row]').length === 1, { timeout: 10_000 });
      let history = await rows(page, '#history-table');
      assertEqual(history[0][1], 'big.bin', 'the history entry\'s name');
      assert(history[0][2].startsWith('done'), `the history entry's state: ${history[0][2]}`);
      assertEqual(history[0][3], '64.0 MiB', 'the history entry\'s size');
      assert(/^(\d+(\.\d)? s|\d+ min( \d+ s)?)$/.test(history[0][4]), `the history entry's time taken: ${history[0][4]}`);
      assert(/[KM]iB\/s$/.test(history[0][5]), `the history entry's rate: ${history[0][5]}`);
      assert(/alice \(.*\)/.test(history[0][6]) && /bob \(.*\)/.test(history[0][6]), `the history entry's sources: ${history[0][6]}`);
      assertEqual(history[0][7], net_.bigSha, 'the history entry\'s SHA-256');

      // medium.bin: started from the Search panel, cancelled on Downloads.
      await showTab(page, 'search');
      await clearSearch(page);
      await page.type('#search-input', 'medium');
      await page.keyboard.press('Enter');
      await clickInRow(page, '#results', 'medium.bin', 'Download');
      await showTab(page, 'downloads');
      await waitUntil('medium.bin running', async () => ['running', 'queued'].includes((await card(page, 'medium.bin'))?.state), 15_000, 50);
      await clickInCard(page, 'medium.bin', 'Cancel');
      const cancelled = await waitUntil('medium.bin cancelled', async () => {
        const c = await card(page, 'medium.bin');
        return c && c.state === 'cancelled' ? c : null;
      }, 15_000);
      assertEqual(cancelled.list, 'finished', 'where the cancelled download is');
      const historyFetches = requests.filter((r) => r.url.includes('/api/v1/history')).length;
      await showTab(page, 'history');
      await page.waitForFunction(() => document.querySelectorAll('#history-table [role=rowgroup] > [role=row]').length === 2, { timeout: 10_000 });
      history = await rows(page, '#history-table');
      assertEqual(history[0][1], 'medium.bin', 'the newest history entry');
      assert(history[0][2].startsWith('cancelled'), `the newest history entry's state: ${history[0][2]}`);
      assertEqual(history[1][1], 'big.bin', 'the older history entry');
      assertEqual(requests.filter((r) => r.url.includes('/api/v1/history')).length, historyFetches,
        'history fetches (the new entry came as an event)');
      const left = fs.readdirSync(path.join(work, 'carol-downloads')).filter((n) => n.includes('medium') || n.includes(net_.mediumSha));
      assertEqual(left.length, 0, `files a cancelled download left: ${left.join(', ')}`);
      await noHarm('on the History panel');
      await screenshot(page, 'history');
    });

    await step('an idle page sends no request', async () => {
      await showTab(page, 'downloads');
      await sleep(500);
      const before = requests.length;
      await sleep(IDLE_MS);
      const sent = requests.slice(before).map((r) => `${r.method} ${r.url}`);
      Object.assign(figures, { idle_ms: IDLE_MS, idle_requests: sent.length });
      assertEqual(sent.length, 0, `requests from an idle page: ${sent.join(', ')}`);
    });

    await step('keyboard and a narrow window', async () => {
      await page.focus('#tab-downloads');
      await page.keyboard.press('ArrowRight');
      await page.waitForFunction(() => location.hash === '#network' && document.activeElement.id === 'tab-network', { timeout: 5_000 });
      await page.keyboard.press('ArrowLeft');
      await page.waitForFunction(() => location.hash === '#downloads', { timeout: 5_000 });
      const unlabelled = await page.evaluate(() => [...document.querySelectorAll('button, input')]
        .filter((el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim())
        .map((el) => el.outerHTML));
      assertEqual(unlabelled.length, 0, `controls without a label: ${unlabelled.join(' ')}`);
      await page.setViewport({ width: 380, height: 760 });
      for (const panel of ['downloads', 'history', 'network']) {
        await showTab(page, panel);
        const width = await page.evaluate(() => document.documentElement.scrollWidth);
        assert(width <= 380, `the ${panel} panel is ${width} px wide in a 380 px window`);
      }
      await page.setViewport({ width: 1100, height: 760 });
    });

    await step('History of 1,000 downloads renders', async () => {
      const entries = generateHistory(1000, { hostileName: HOSTILE_NAME });
      const page2 = await browser.newPage();
      await page2.setViewport({ width: 1100, height: 760 });
      const errors = [];
      page2.on('pageerror', (e) => errors.push(e.message));
      page2.on('dialog', (d) => { errors.push(`dialog: ${d.message()}`); d.dismiss().catch(() => {}); });
      await page2.setRequestInterception(true);
      page2.on('request', (r) => {
        if (new URL(r.url()).pathname === '/api/v1/history') {
          r.respond({ status: 200, contentType: 'application/json', body: JSON.stringify({ history: entries }) });
        } else {
          r.continue();
        }
      });
      await page2.goto(`${net_.ui}/#shared`);
      await page2.waitForFunction(() => document.getElementById('summary').textContent !== '', { timeout: 10_000 });
      const ms = await page2.evaluate(() => new Promise((resolve) => {
        const t0 = performance.now();
        location.hash = '#history';
        const check = () => {
          if (document.querySelectorAll('#history-table [role=rowgroup] > [role=row]').length === 1000) {
            void document.body.offsetHeight;  // the layout too
            resolve(performance.now() - t0);
          } else {
            setTimeout(check, 1);
          }
        };
        check();
      }));
      log(`  1000 history rows in ${ms.toFixed(1)} ms`);
      const first = await page2.evaluate(() => document.querySelector('#history-table [role=rowgroup] > [role=row]').children[1].textContent);
      assertEqual(first, entries[0].name, 'the first of 1000 rows');
      assertEqual(await page2.evaluate(() => window.__xss), undefined, 'window.__xss with 1000 rows');
      assertEqual(errors.length, 0, `errors with 1000 rows: ${errors.join('; ')}`);
      await page2.close();
      figures.history_1000_ms = ms;
    });

    await step('errors a person can act on: the directory down, then the peer gone', async () => {
      await showTab(page, 'search');
      await clearSearch(page);
      await page.type('#search-input', 'notes');
      await page.keyboard.press('Enter');
      await page.waitForFunction(() => document.getElementById('search-note').textContent.includes('“notes”'), { timeout: 10_000 });
      await stopProcess(net_.directory);
      if (await messageText(page)) {
        await page.click('#message-close');
        assertEqual(await messageText(page), '', 'the message after Dismiss');
      }
      await clearSearch(page);
      await page.type('#search-input', 'anything');
      await page.keyboard.press('Enter');
      const text = await waitUntil('an error message', async () => {
        const error = await page.evaluate(() => document.getElementById('message').classList.contains('error'));
        return error ? messageText(page) : '';
      }, 30_000);
      if (!/directory/i.test(text)) {
        const again = await request(`${net_.ui}/api/v1/search?q=anything`, { headers: bearer() }).catch((e) => ({ status: e.message, text: '' }));
        const carol = net_.carol.exited ? `exited (${net_.carol.code})` : 'running';
        throw new Error(`the message when the directory is down: ${text} (the same search from node: ` +
                        `${again.status} ${again.text}; carol's peer: ${carol})`);
      }
      log(`  shown: ${text}`);
      await stopProcess(net_.carol);
      await page.waitForFunction(() => {
        const b = document.getElementById('connection');
        return !b.hidden && b.textContent === 'connection to the peer lost, reconnecting';
      }, { timeout: 10_000 });
      await showTab(page, 'downloads');
      const kept = await card(page, 'big.bin');
      assert(kept && kept.state === 'done', 'the Downloads panel lost big.bin when the peer went away');
      await noHarm('after the peer went away');
    });
  } finally {
    if (browser) await browser.close().catch(() => {});
    if (net_.events) net_.events.close();
    await stopAll();
  }
}

const watchdog = setTimeout(() => {
  log(`browser tests: still running after ${TOTAL_TIMEOUT_MS / 1000} s; stopping`);
  results.failed++;
  finish(1);
}, TOTAL_TIMEOUT_MS);

function finish(code) {
  clearTimeout(watchdog);
  killAllNow();
  if (code !== 0 && work) {
    for (const c of children) log(`--- ${c.name} (${c.log}):\n${tail(c.log, 15)}`);
    log(`browser tests: kept ${work}`);
  } else if (work) {
    fs.rmSync(work, { recursive: true, force: true });
  }
  log(`${results.passed} passed, ${results.failed} failed`);
  if (FIGURES && code === 0) fs.appendFileSync(FIGURES, `${JSON.stringify(figures)}\n`);
  process.exit(code);
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    log(`browser tests: ${signal}`);
    results.failed++;
    finish(1);
  });
}

main().then(() => finish(0), (e) => {
  if (!e || !e.counted) {
    log(`not ok - ${e && e.stack ? e.stack : e}`);
    results.failed++;
  }
  finish(1);
});
