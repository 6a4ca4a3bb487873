// The browser tests' harness: ferry processes in their own process groups
// (killed as groups, also when the run fails), files, and plain HTTP to the
// web UI, including a listener on its event stream.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { performance } from 'node:perf_hooks';

// ---- processes ------------------------------------------------------------------

export const children = [];  // { name, child, log, exited, code }
let ferry = '';
let work = '';

// Where the ferry binary is, and the folder every process works in.
export function configure(options) {
  ferry = options.ferry;
  work = options.work;
}

export function startFerry(name, args, env) {
  const logFile = path.join(work, `${name}.log`);
  const out = fs.openSync(logFile, 'a');
  const child = spawn(ferry, args, {
    env: { ...baseEnv(), ...env },
    stdio: ['ignore', out, out],
    detached: true,  // its own process group, killed as one
  });
  fs.closeSync(out);
  const entry = { name, child, log: logFile, exited: false, code: null };
  child.on('exit', (code, signal) => {
    entry.exited = true;
    entry.code = code ?? signal;
  });
  children.push(entry);
  return entry;
}

export function signalGroup(entry, signal) {
  if (entry.exited) return;
  try {
    process.kill(-entry.child.pid, signal);
  } catch (e) {
    // already gone
  }
}

export async function stopProcess(entry, graceMs = 10_000) {
  signalGroup(entry, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (!entry.exited && Date.now() < deadline) await sleep(50);
  signalGroup(entry, 'SIGKILL');
}

export async function stopAll() {
  await Promise.all(children.map((c) => stopProcess(c, 5_000)));
}

// A last resort when the runner itself is ending: no waiting possible.
export function killAllNow() {
  for (const c of children) signalGroup(c, 'SIGKILL');
}

function baseEnv() {
  return {
    PATH: process.env.PATH || '/usr/bin:/bin',
    HOME: path.join(work, 'home'),
    XDG_CONFIG_HOME: path.join(work, 'config'),
    LANG: 'C.UTF-8',
  };
}

export function userEnv(user, directoryUrl) {
  return { FERRY_USER: user, FERRY_PASSWORD: `${user}-correct-horse`, FERRY_DIRECTORY: directoryUrl };
}

export function runFerry(name, args, env, timeoutMs = 60_000) {
  const entry = startFerry(name, args, env);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signalGroup(entry, 'SIGKILL');
      reject(new Error(`ferry ${args.join(' ')} did not finish in ${timeoutMs} ms:\n${tail(entry.log)}`));
    }, timeoutMs);
    entry.child.on('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`ferry ${args.join(' ')} exited with ${code}:\n${tail(entry.log)}`));
    });
  });
}

export function tail(file, lines = 30) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch (e) {
    return `(no log: ${e.message})`;
  }
}

// Waits until `entry`'s log matches `re`; the match.
export async function waitForLog(entry, re, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const m = fs.readFileSync(entry.log, 'utf8').match(re);
    if (m) return m;
    if (entry.exited) throw new Error(`${entry.name} exited (${entry.code}):\n${tail(entry.log)}`);
    await sleep(50);
  }
  throw new Error(`${entry.name} never logged ${re}:\n${tail(entry.log)}`);
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitUntil(what, check, timeoutMs = 30_000, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    last = await check();
    if (last) return last;
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export function assert(condition, message) {
  if (!condition) throw new Error(message);
}

export function assertEqual(actual, expected, what) {
  if (actual !== expected) {
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

// ---- files ------------------------------------------------------------------------

export function writeRandomFile(file, size) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const fd = fs.openSync(file, 'w');
  const block = Buffer.alloc(1024 * 1024);
  for (let done = 0; done < size; done += block.length) {
    crypto.randomFillSync(block);
    fs.writeSync(fd, block, 0, Math.min(block.length, size - done));
  }
  fs.closeSync(fd);
}

export function writeTextFile(file, text) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
}

// Files written a while ago: the peers announce them without waiting for them to settle.
export function age(dir) {
  const then = new Date(Date.now() - 3600_000);
  for (const name of fs.readdirSync(dir, { recursive: true })) fs.utimesSync(path.join(dir, name), then, then);
}

export function sha256File(file) {
  const hash = crypto.createHash('sha256');
  const fd = fs.openSync(file, 'r');
  const block = Buffer.alloc(1024 * 1024);
  let n;
  while ((n = fs.readSync(fd, block, 0, block.length, null)) > 0) hash.update(block.subarray(0, n));
  fs.closeSync(fd);
  return hash.digest('hex');
}

// ---- plain HTTP to the UI ---------------------------------------------------------------

// One request; resolves { status, headers, text, json }.
export function request(url, { method = 'GET', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, timeout: 30_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { text += chunk; });
      res.on('end', () => {
        let json = null;
        try { json = JSON.parse(text); } catch (e) { json = null; }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out`)));
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

// Listens to /api/v1/events with the Bearer secret and notes when each
// `download` event arrives (the "sent" side of the latency measure).
export function listenToEvents(ui, secret) {
  const arrivals = [];
  const req = http.get(`${ui}/api/v1/events`, { headers: { Authorization: `Bearer ${secret}` } }, (res) => {
    let buffer = '';
    res.setEncoding('utf8');
    res.on('data', (chunk) => {
      const now = performance.timeOrigin + performance.now();
      buffer += chunk;
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data += line.slice(5).trim();
        }
        if (event !== 'download') continue;
        try {
          const d = JSON.parse(data);
          arrivals.push({ id: d.id, done: d.done_bytes, size: d.size, t: now });
        } catch (e) {
          // not JSON: the page reports that itself
        }
      }
    });
  });
  req.on('error', () => {});
  return { arrivals, close: () => req.destroy() };
}
