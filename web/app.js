// The peer's web UI: five panels over the local JSON API (docs/peer-ui.md).
// Live state arrives on one EventSource; the page sends no request while idle.
// Every string from the API is put in the page as text (textContent), never
// as HTML: file names and user names are other people's input.
'use strict';

const PANELS = ['shared', 'downloads', 'network', 'search', 'history'];
const RUNNING_STATES = new Set(['queued', 'running', 'paused']);
const HISTORY_LIMIT = 1000;
const LOST_CONNECTION = 'connection to the peer lost, reconnecting';

const state = {
  csrf: '',
  session: null,
  downloads: new Map(),  // id -> download, as the API sends it
  cards: new Map(),      // id -> the card's elements
  uploads: [],
  indexing: null,
  shareFiles: null,      // number of shared files, from the last shares event or fetch
  sharesStale: true,     // /api/v1/shares is fetched again when the Shared panel is shown
  sharesTimer: 0,
  sharesLoading: false,
  peersLoaded: false,
  selectedPeer: '',
  history: null,         // entries, newest first, once the History panel has loaded them
  historyStale: true,
  events: null,
  connectedOnce: false,
  reconnectDelay: 1000,
};

// ---- small helpers -----------------------------------------------------------

const $ = (id) => document.getElementById(id);

// Makes an element. `props` keys: class, text, title, hidden, on<event>, and any
// attribute; children are nodes or strings (added as text).
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') el.className = value;
      else if (key === 'text') el.textContent = String(value);
      else if (key === 'hidden') el.hidden = true;
      else if (key.startsWith('on')) el.addEventListener(key.slice(2), value);
      else el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const SIZE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

function formatSize(bytes) {
  if (typeof bytes !== 'number' || !Number.isFinite(bytes) || bytes < 0) return '—';
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < SIZE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${SIZE_UNITS[unit]}`;
}

function formatRate(bytesPerSecond) {
  if (typeof bytesPerSecond !== 'number' || !Number.isFinite(bytesPerSecond)) return '—';
  return `${formatSize(Math.max(0, bytesPerSecond))}/s`;
}

function formatDuration(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) return '—';
  if (seconds < 10 && !Number.isInteger(seconds)) return `${seconds.toFixed(1)} s`;
  let s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  let m = Math.floor(s / 60);
  s %= 60;
  if (m < 60) return s ? `${m} min ${s} s` : `${m} min`;
  let hours = Math.floor(m / 60);
  m %= 60;
  if (hours < 24) return m ? `${hours} h ${m} min` : `${hours} h`;
  const days = Math.floor(hours / 24);
  hours %= 24;
  return hours ? `${days} d ${hours} h` : `${days} d`;
}

const pad2 = (n) => String(n).padStart(2, '0');

// Unix seconds as local "YYYY-MM-DD HH:MM:SS".
function formatTime(unixSeconds) {
  if (typeof unixSeconds !== 'number' || !(unixSeconds > 0)) return '—';
  const d = new Date(unixSeconds * 1000);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ` +
         `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

function formatAgo(unixSeconds) {
  if (typeof unixSeconds !== 'number' || !(unixSeconds > 0)) return '—';
  const seconds = Math.max(0, Date.now() / 1000 - unixSeconds);
  return seconds < 2 ? 'just now' : `${formatDuration(Math.round(seconds))} ago`;
}

function percent(done, size) {
  if (!(size > 0)) return done >= 0 ? 100 : 0;
  return Math.min(100, Math.floor((done * 100) / size));
}

function hashCell(sha256) {
  return h('td', null, h('code', { class: 'hash', title: sha256, text: sha256 }));
}

// Shows rows in `table` (its tbody replaced in one step), or `empty` when none.
function fillTable(table, empty, rows) {
  const body = document.createElement('tbody');
  const fragment = document.createDocumentFragment();
  for (const row of rows) fragment.append(row);
  body.append(fragment);
  table.tBodies[0].replaceWith(body);
  table.hidden = rows.length === 0;
  if (empty) empty.hidden = rows.length !== 0;
}

// ---- messages ---------------------------------------------------------------

function showMessage(kind, ...parts) {
  const text = $('message-text');
  text.replaceChildren(...parts.map((p) => (p instanceof Node ? p : document.createTextNode(String(p)))));
  $('message').className = `message ${kind}`;
  $('message').hidden = false;
}

function showError(error) {
  showMessage('error', error instanceof Error ? error.message : String(error));
}

function showInfo(...parts) {
  showMessage('info', ...parts);
}

function setConnection(text) {
  const banner = $('connection');
  banner.textContent = text || '';
  banner.hidden = !text;
}

// ---- the API ----------------------------------------------------------------

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const NOT_LOGGED_IN =
  'open the link that `ferry peer` printed (web UI: http://…/login?secret=…); ' +
  'the secret is in the file ui-secret in the peer\'s data folder';

async function api(method, path, body) {
  const options = { method, headers: {}, credentials: 'same-origin', cache: 'no-store' };
  if (method !== 'GET') {
    options.headers['X-CSRF-Token'] = state.csrf;
    if (body !== undefined) {
      options.headers['Content-Type'] = 'application/json';
      options.body = JSON.stringify(body);
    }
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch (e) {
    throw new ApiError(0, 'the peer cannot be reached: is `ferry peer` still running?');
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (e) {
    data = null;
  }
  if (!response.ok) {
    let message = data && typeof data.error === 'string' && data.error
      ? data.error : `the peer answered ${response.status} ${response.statusText}`;
    if (response.status === 401) message = `not logged in (${message}): ${NOT_LOGGED_IN}`;
    throw new ApiError(response.status, message);
  }
  if (data === null) throw new ApiError(response.status, `the peer sent no JSON for ${path}`);
  return data;
}

// A POST; a 403 may mean the peer restarted with a new CSRF token: fetch it once more.
async function post(path, body) {
  try {
    return await api('POST', path, body);
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 403) throw e;
    await loadSession();
    return api('POST', path, body);
  }
}

async function loadSession() {
  const session = await api('GET', '/api/v1/session');
  state.session = session;
  state.csrf = session.csrf_token || '';
  $('who').textContent = session.user ? `${session.user} · ${session.address || ''}` : '';
  $('share-dir').textContent = session.share_dir
    ? `Sharing ${session.share_dir}; downloads go into ${session.downloads_dir}.` : '';
  $('peers-note').textContent = session.directory ? `Directory: ${session.directory}` : '';
  return session;
}

// ---- tabs ---------------------------------------------------------------------

function currentPanel() {
  const name = location.hash.slice(1);
  return PANELS.includes(name) ? name : 'shared';
}

function showPanel() {
  const name = currentPanel();
  for (const panel of PANELS) {
    $(panel).hidden = panel !== name;
    $(`tab-${panel}`).setAttribute('aria-selected', String(panel === name));
  }
  if (name === 'shared' && state.sharesStale) loadShares();
  if (name === 'network' && !state.peersLoaded) loadPeers();
  if (name === 'history' && state.historyStale) loadHistory();
}

// Left and right arrows move between tabs, as in any tab list.
function onTabKey(event) {
  if (event.key !== 'ArrowLeft' && event.key !== 'ArrowRight') return;
  const at = PANELS.indexOf(currentPanel());
  const next = PANELS[(at + (event.key === 'ArrowRight' ? 1 : PANELS.length - 1)) % PANELS.length];
  location.hash = `#${next}`;
  $(`tab-${next}`).focus();
  event.preventDefault();
}

function updateSummary() {
  let running = 0;
  for (const d of state.downloads.values()) if (RUNNING_STATES.has(d.state)) running++;
  const parts = [`${running} downloading`, `${state.uploads.length} uploading`];
  if (typeof state.shareFiles === 'number') parts.push(`${state.shareFiles} shared files`);
  if (state.indexing && state.indexing.running) parts.push('hashing');
  $('summary').textContent = parts.join(' · ');
}

// ---- Shared -----------------------------------------------------------------

function renderIndexing() {
  const ix = state.indexing;
  const box = $('indexing');
  if (!ix || !ix.running) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  const total = (ix.bytes_hashed || 0) + (ix.bytes_pending || 0);
  $('indexing-text').textContent =
    `Hashing the share: ${ix.files_hashed} files hashed (${formatSize(ix.bytes_hashed)}), ` +
    `${ix.files_pending} to go (${formatSize(ix.bytes_pending)}). ` +
    'Files are searchable as soon as they are hashed.';
  const bar = $('indexing-progress');
  bar.max = total > 0 ? total : 1;
  bar.value = total > 0 ? ix.bytes_hashed || 0 : 0;
}

function renderUploads() {
  const rows = state.uploads.map((u) => h('tr', null,
    h('td', { text: u.user }),
    h('td', { text: u.address }),
    h('td', { title: u.sha256, text: u.name || u.sha256 }),
    h('td', { class: 'num', text: formatSize(u.bytes) }),
    h('td', { class: 'num', text: formatRate(u.rate) })));
  fillTable($('uploads'), $('uploads-empty'), rows);
  updateSummary();
}

function renderShares(files) {
  const sorted = files.slice().sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const rows = sorted.map((f) => h('tr', null,
    h('td', { class: 'path', text: f.path }),
    h('td', { class: 'num', text: formatSize(f.size) }),
    h('td', { class: 'nowrap', text: formatTime(f.mtime) }),
    h('td', { class: 'nowrap', text: formatTime(f.hashed_at) }),
    hashCell(f.sha256)));
  fillTable($('shares'), $('shares-empty'), rows);
  $('shares-count').textContent = `(${files.length})`;
}

async function loadShares() {
  if (state.sharesLoading) return;
  state.sharesLoading = true;
  state.sharesStale = false;
  try {
    const data = await api('GET', '/api/v1/shares');
    state.shareFiles = data.files.length;
    state.indexing = data.indexing;
    state.uploads = data.uploads || [];
    renderShares(data.files);
    renderIndexing();
    renderUploads();
  } catch (e) {
    state.sharesStale = true;
    showError(e);
  } finally {
    state.sharesLoading = false;
  }
}

// A `shares` event: the list is fetched again, at most once a second, and only
// while the Shared panel is on screen (otherwise when it is next shown).
function sharesChanged() {
  state.sharesStale = true;
  if (currentPanel() !== 'shared' || state.sharesTimer) return;
  state.sharesTimer = setTimeout(() => {
    state.sharesTimer = 0;
    if (currentPanel() === 'shared' && state.sharesStale) loadShares();
  }, 1000);
}

// ---- Downloads ----------------------------------------------------------------

function makeCard(d) {
  const progress = h('progress', { max: 1, value: 0 });
  const card = {
    root: null,
    name: h('strong', { class: 'name' }),
    state: h('span', { class: 'badge' }),
    progress,
    percent: h('span', { class: 'percent' }),
    stats: h('span', { class: 'stats' }),
    error: h('p', { class: 'error-text', hidden: true }),
    where: h('p', { class: 'muted path', hidden: true }),
    pause: h('button', { type: 'button', onclick: () => act(d.id, 'pause', card.pause) }, 'Pause'),
    resume: h('button', { type: 'button', onclick: () => act(d.id, 'resume', card.resume) }, 'Resume'),
    cancel: h('button', { type: 'button', class: 'danger', onclick: () => act(d.id, 'cancel', card.cancel) }, 'Cancel'),
    retry: h('button', { type: 'button', onclick: () => startDownload(d.sha256, d.name, card.retry) }, 'Download again'),
    peers: h('table', { class: 'peers' },
      h('thead', null, h('tr', null,
        h('th', { scope: 'col', text: 'Peer' }), h('th', { scope: 'col', text: 'Address' }),
        h('th', { scope: 'col', text: 'State' }), h('th', { scope: 'col', class: 'num', text: 'Received' }),
        h('th', { scope: 'col', class: 'num', text: 'Rate' }))),
      h('tbody')),
  };
  card.root = h('article', { class: 'card', 'data-id': d.id },
    h('div', { class: 'card-head' }, card.name, card.state),
    h('div', { class: 'bar' }, progress, card.percent),
    h('p', { class: 'line' }, card.stats),
    card.error,
    card.where,
    h('div', { class: 'scroll' }, card.peers),
    h('div', { class: 'actions' }, card.pause, card.resume, card.cancel, card.retry));
  return card;
}

function peerRows(d) {
  const running = RUNNING_STATES.has(d.state);
  return (d.peers || []).map((p) => {
    const stateText = p.state === 'active'
      ? (running ? 'active' : 'source') : `${p.state}${p.why ? `: ${p.why}` : ''}`;
    return h('tr', { class: p.state === 'active' ? '' : 'off' },
      h('td', { text: p.user || '?' }),
      h('td', { text: p.address }),
      h('td', { text: stateText }),
      h('td', { class: 'num', text: formatSize(p.bytes) }),
      h('td', { class: 'num', text: running && p.state === 'active' ? formatRate(p.rate) : '—' }));
  });
}

function statsText(d) {
  const parts = [`${formatSize(d.done_bytes)} of ${formatSize(d.size)}`];
  if (d.state === 'running') {
    parts.push(formatRate(d.rate));
    parts.push(d.eta_seconds === null || d.eta_seconds === undefined
      ? 'ETA unknown' : `ETA ${formatDuration(d.eta_seconds)}`);
  } else if (d.finished_at > 0) {
    const took = d.finished_at - d.started_at;
    parts.push(`ended ${formatTime(d.finished_at)}`);
    if (d.state === 'done' && took >= 0) {
      parts.push(`took ${formatDuration(took)}`);
      if (took > 0) parts.push(`average ${formatRate(d.size / took)}`);
    }
  }
  return parts.join(' · ');
}

function fillCard(card, d) {
  const running = RUNNING_STATES.has(d.state);
  card.name.textContent = d.name || d.sha256;
  card.name.title = d.sha256;
  card.state.textContent = d.state;
  card.state.className = `badge state-${d.state}`;
  const size = d.size > 0 ? d.size : 1;
  card.progress.max = size;
  card.progress.value = d.size > 0 ? Math.min(d.done_bytes, d.size) : d.state === 'done' ? 1 : 0;
  card.progress.setAttribute('aria-label', `Progress of ${d.name || d.sha256}`);
  card.percent.textContent = `${percent(d.done_bytes, d.size)}%`;
  card.stats.textContent = statsText(d);
  card.error.hidden = !d.error;
  card.error.textContent = d.error || '';
  card.where.hidden = !d.path;
  card.where.textContent = d.path ? `Saved as ${d.path}` : '';
  card.pause.hidden = !(d.state === 'running' || d.state === 'queued');
  card.resume.hidden = d.state !== 'paused';
  card.cancel.hidden = !running;
  card.retry.hidden = !(d.state === 'failed' || d.state === 'cancelled');
  for (const [button, verb] of [[card.pause, 'Pause'], [card.resume, 'Resume'], [card.cancel, 'Cancel'],
                                [card.retry, 'Download again']]) {
    button.setAttribute('aria-label', `${verb} ${d.name || d.sha256}`);
  }
  const rows = peerRows(d);
  fillTable(card.peers, null, rows);
}

function byNewest(a, b) {
  const ta = a.finished_at || a.started_at || 0;
  const tb = b.finished_at || b.started_at || 0;
  return tb - ta;
}

// Puts a card in Running or Finished, keeping each newest first.
function placeCard(card, d) {
  const list = RUNNING_STATES.has(d.state) ? $('running') : $('finished');
  if (card.root.parentNode !== list) {
    let before = null;
    for (const other of list.children) {
      const od = state.downloads.get(other.dataset.id);
      if (od && byNewest(d, od) <= 0) {
        before = other;
        break;
      }
    }
    list.insertBefore(card.root, before);
  }
  $('running-empty').hidden = $('running').children.length !== 0;
  $('finished-empty').hidden = $('finished').children.length !== 0;
}

function upsertDownload(d) {
  if (!d || typeof d.id !== 'string') return;
  state.downloads.set(d.id, d);
  let card = state.cards.get(d.id);
  if (!card) {
    card = makeCard(d);
    state.cards.set(d.id, card);
  }
  fillCard(card, d);
  placeCard(card, d);
  updateSummary();
}

function replaceDownloads(list) {
  state.downloads.clear();
  state.cards.clear();
  $('running').replaceChildren();
  $('finished').replaceChildren();
  for (const d of list.slice().reverse()) upsertDownload(d);  // oldest first: each goes on top
  $('running-empty').hidden = $('running').children.length !== 0;
  $('finished-empty').hidden = $('finished').children.length !== 0;
  updateSummary();
}

async function act(id, verb, button) {
  button.disabled = true;
  try {
    upsertDownload(await post(`/api/v1/downloads/${encodeURIComponent(id)}/${verb}`));
  } catch (e) {
    showError(e);
  } finally {
    button.disabled = false;
  }
}

async function startDownload(sha256, name, button) {
  if (button) button.disabled = true;
  try {
    const body = { sha256 };
    if (name) body.name = name;
    const d = await post('/api/v1/downloads', body);
    upsertDownload(d);
    showInfo(`Downloading ${d.name || name || sha256}: see `, h('a', { href: '#downloads', text: 'Downloads' }), '.');
  } catch (e) {
    showError(e);
  } finally {
    if (button) button.disabled = false;
  }
}

function downloadButton(file) {
  const name = file.name || file.path.split('/').pop();
  return h('button', {
    type: 'button',
    'aria-label': `Download ${name}`,
    onclick: (event) => startDownload(file.sha256, name, event.currentTarget),
  }, 'Download');
}

// ---- Network ------------------------------------------------------------------

async function loadPeers() {
  state.peersLoaded = true;
  const button = $('peers-refresh');
  button.disabled = true;
  try {
    const data = await api('GET', '/api/v1/peers');
    const peers = data.peers.slice().sort((a, b) =>
      (b.self - a.self) || (a.user < b.user ? -1 : a.user > b.user ? 1 : 0) ||
      (a.address < b.address ? -1 : 1));
    const rows = peers.map((p) => {
      const label = `${p.user} at ${p.address}`;
      return h('tr', { class: p.peer_id === state.selectedPeer ? 'selected' : '', 'data-peer': p.peer_id },
        h('td', null, p.user, p.self ? h('span', { class: 'muted', text: ' (this peer)' }) : null),
        h('td', { text: p.address }),
        h('td', { class: 'num', text: p.files }),
        h('td', { class: 'nowrap', title: formatTime(p.last_seen), text: formatAgo(p.last_seen) }),
        h('td', null, h('button', {
          type: 'button',
          'aria-label': `Show the files of ${label}`,
          onclick: () => loadPeerFiles(p),
        }, 'Files')));
    });
    fillTable($('peers'), $('peers-empty'), rows);
  } catch (e) {
    state.peersLoaded = false;
    showError(e);
  } finally {
    button.disabled = false;
  }
}

async function loadPeerFiles(peer) {
  state.selectedPeer = peer.peer_id;
  for (const row of $('peers').tBodies[0].rows) {
    row.classList.toggle('selected', row.dataset.peer === peer.peer_id);
  }
  $('peer-files-box').hidden = false;
  $('peer-files-title').textContent = `Files of ${peer.user} at ${peer.address}`;
  try {
    const data = await api('GET', `/api/v1/peers/${encodeURIComponent(peer.peer_id)}/files`);
    if (state.selectedPeer !== peer.peer_id) return;
    const files = data.files.slice().sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const rows = files.map((f) => h('tr', null,
      h('td', { class: 'path', text: f.path }),
      h('td', { class: 'num', text: formatSize(f.size) }),
      hashCell(f.sha256),
      h('td', null, downloadButton(f))));
    fillTable($('peer-files'), $('peer-files-empty'), rows);
    $('peer-files-title').textContent = `Files of ${peer.user} at ${peer.address} (${files.length})`;
  } catch (e) {
    fillTable($('peer-files'), null, []);
    showError(e);
  }
}

// ---- Search -------------------------------------------------------------------

async function search(event) {
  event.preventDefault();
  const text = $('search-input').value.trim();
  if (!text) return;
  const byHash = /^[0-9a-fA-F]{64}$/.test(text);
  const query = byHash ? `sha256=${text.toLowerCase()}` : `q=${encodeURIComponent(text)}`;
  $('search-note').textContent = 'Searching…';
  try {
    const data = await api('GET', `/api/v1/search?${query}`);
    const rows = data.results.map((r) => h('tr', null,
      h('td', { class: 'path', text: r.name }),
      h('td', { class: 'num', text: formatSize(r.size) }),
      hashCell(r.sha256),
      h('td', { class: 'num', text: r.peers }),
      h('td', null, downloadButton(r))));
    fillTable($('results'), null, rows);
    $('search-note').textContent = rows.length === 0
      ? `No file on the network matches “${text}”.`
      : `${rows.length} ${rows.length === 1 ? 'file matches' : 'files match'} “${text}”.`;
  } catch (e) {
    $('search-note').textContent = '';
    fillTable($('results'), null, []);
    showError(e);
  }
}

// ---- History ------------------------------------------------------------------

// A history row: a grid row of cells (see app.css, .grid-table).
function historyRow(e) {
  const sources = (e.sources || []).map((s) => `${s.user || '?'} (${formatSize(s.bytes)})`).join(', ');
  const sourceTitle = (e.sources || []).map((s) => `${s.user || '?'} at ${s.address}`).join(', ');
  return h('div', { class: `grid-row state-${e.state}`, role: 'row' },
    h('span', { role: 'cell', text: formatTime(e.finished_at) }),
    h('span', { role: 'cell', title: e.path || null, text: e.name || e.sha256 }),
    h('span', { role: 'cell' }, h('span', { class: `badge state-${e.state}`, text: e.state }),
      e.error ? h('span', { class: 'error-text block', text: e.error }) : null),
    h('span', { role: 'cell', class: 'num', text: formatSize(e.size) }),
    h('span', { role: 'cell', class: 'num', text: formatDuration(e.seconds) }),
    h('span', { role: 'cell', class: 'num', text: e.state === 'done' ? formatRate(e.rate) : '—' }),
    h('span', { role: 'cell', title: sourceTitle || null, text: sources || '—' }),
    h('span', { role: 'cell' }, h('code', { class: 'hash', title: e.sha256, text: e.sha256 })));
}

function historyBody() {
  return $('history-table').querySelector('.grid-body');
}

function renderHistory() {
  const entries = state.history || [];
  const fragment = document.createDocumentFragment();
  for (const e of entries) fragment.append(historyRow(e));
  historyBody().replaceChildren(fragment);
  $('history-table').hidden = entries.length === 0;
  $('history-empty').hidden = entries.length !== 0;
  $('history-count').textContent = `(${entries.length})`;
}

async function loadHistory() {
  state.historyStale = false;
  try {
    const data = await api('GET', `/api/v1/history?limit=${HISTORY_LIMIT}`);
    state.history = data.history;
    renderHistory();
  } catch (e) {
    state.historyStale = true;
    showError(e);
  }
}

function addHistory(entry) {
  if (!state.history) return;  // not loaded yet: loading will bring it
  state.history.unshift(entry);
  historyBody().prepend(historyRow(entry));
  $('history-table').hidden = false;
  $('history-empty').hidden = true;
  $('history-count').textContent = `(${state.history.length})`;
}

// ---- live events ------------------------------------------------------------------

function onEvent(source, name, handle) {
  source.addEventListener(name, (event) => {
    let data;
    try {
      data = JSON.parse(event.data);
    } catch (e) {
      showError(`the peer sent a ${name} event that is not JSON`);
      return;
    }
    handle(data);
  });
}

function connectEvents() {
  const source = new EventSource('/api/v1/events');
  state.events = source;
  source.addEventListener('open', () => {
    state.reconnectDelay = 1000;
    setConnection('');
  });
  source.addEventListener('error', () => {
    setConnection(LOST_CONNECTION);
    if (source.readyState !== EventSource.CLOSED) return;  // the browser retries by itself
    // Refused (not logged in, or an answer that is not an event stream): the
    // browser gives up, so try again later, and say why if the API can.
    source.close();
    loadSession().catch(showError);
    setTimeout(connectEvents, state.reconnectDelay);
    state.reconnectDelay = Math.min(state.reconnectDelay * 2, 30000);
  });
  onEvent(source, 'snapshot', (data) => {
    replaceDownloads(data.downloads || []);
    state.uploads = data.uploads || [];
    state.indexing = data.indexing || null;
    renderUploads();
    renderIndexing();
    if (state.connectedOnce) {
      // Events may have been missed while disconnected.
      sharesChanged();
      if (state.history) {
        state.historyStale = true;
        if (currentPanel() === 'history') loadHistory();
      }
    }
    state.connectedOnce = true;
  });
  onEvent(source, 'download', upsertDownload);
  onEvent(source, 'history', addHistory);
  onEvent(source, 'uploads', (data) => {
    state.uploads = data.uploads || [];
    renderUploads();
  });
  onEvent(source, 'shares', (data) => {
    if (typeof data.files === 'number') state.shareFiles = data.files;
    state.indexing = data.indexing || null;
    renderIndexing();
    updateSummary();
    sharesChanged();
  });
}

// ---- start --------------------------------------------------------------------------

async function start() {
  $('message-close').addEventListener('click', () => {
    $('message').hidden = true;
  });
  $('search-form').addEventListener('submit', search);
  $('peers-refresh').addEventListener('click', loadPeers);
  document.querySelector('.tabs').addEventListener('keydown', onTabKey);
  window.addEventListener('hashchange', showPanel);
  $('running-empty').hidden = false;
  $('finished-empty').hidden = false;
  try {
    await loadSession();
  } catch (e) {
    showError(e);
  }
  connectEvents();
  showPanel();
}

start();
