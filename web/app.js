/* The pskprov web console: one page, hash routes (#/devices?q=...), plain DOM.
 * The API token lives in this tab's sessionStorage and travels only in the
 * Authorization header: never in a URL, a cookie or the page. Every value from the
 * server is put in the page as text (textContent), never as HTML. docs/api.md is the
 * contract for every call made here. */
'use strict';

const TOKEN_KEY = 'pskprov.token';
const ROLE_KEY = 'pskprov.readonly';
const PAGE = 50;

/* ---------- small helpers ---------- */

/* h('td', {class: 'n'}, 'text', node...): an element; strings become text nodes. */
function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined || kid === false) continue;
    el.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return el;
}

function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

const fmtInt = new Intl.NumberFormat('en-US');

/* A count: tabular, grey when zero, red only when it is a non-zero failure count. */
function num(n, opts) {
  const o = opts || {};
  const v = Number(n || 0);
  let cls = 'n';
  if (v === 0) cls += ' zero';
  else if (o.bad) cls += ' bad';
  else if (o.warn) cls += ' warn';
  return h('span', { class: cls, 'data-figure': o.figure }, fmtInt.format(v));
}

function exactTime(t) {
  const d = new Date(t * 1000);
  const pad = (x) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

function agoText(t) {
  const s = Math.round(Date.now() / 1000 - t);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/* "3 min ago", the exact local time on hover; "never" for 0. */
function when(t) {
  if (!t) return h('span', { class: 'muted' }, 'never');
  return h('time', { datetime: new Date(t * 1000).toISOString(), title: exactTime(t), 'data-t': t },
    agoText(t));
}

function refreshTimes() {
  for (const el of document.querySelectorAll('time[data-t]')) el.textContent = agoText(Number(el.dataset.t));
}

function stateBadge(state, quarantined) {
  const kids = [h('span', { class: `badge st-${state}` }, state)];
  if (quarantined && state !== 'quarantined') kids.push(' ', h('span', { class: 'badge st-quarantined', title: 'was quarantined once' }, 'quarantined before'));
  return h('span', {}, kids);
}

/* What a failure reason means, in words. The server's text is "step: cause"; the
 * cause leads, the step says where it happened, and known causes get a hint. */
const REASON_HINTS = [
  [/different PPS|wrong key|bad record mac|decrypt error/i,
    'The device holds a different key (PPS) from the one issued for its PID, so it could not prove itself over TLS-PSK. Check which key was loaded at the factory.'],
  [/closed the connection|connection reset|broken pipe/i,
    'The device dropped the connection in the middle of its setup. It starts over at its next hello, or when an administrator retries the job.'],
  [/timed? ?out|no answer|did not answer/i,
    'The device stopped answering. Check that it is powered and on the network; a retry resumes after the last durable step.'],
  [/refused|unreachable/i,
    'The server could not reach the device at its address. Check the address and the firewall between them.'],
  [/locked/i, 'The key is locked after repeated failed handshakes; it unlocks by itself later.'],
];

function reasonParts(text) {
  const parts = String(text).split(': ');
  /* "PID ABCDEFGH: " names what the page already shows. */
  const cause = (parts.length > 1 ? parts.slice(1).join(': ') : parts[0]).replace(/^PID [0-9A-Z]{4}-?[0-9A-Z]{4}: /, '');
  const step = parts.length > 1 ? parts[0] : '';
  const sentence = cause.charAt(0).toUpperCase() + cause.slice(1) + (/[.!?]$/.test(cause) ? '' : '.');
  const hint = (REASON_HINTS.find(([re]) => re.test(text)) || [null, ''])[1];
  return { sentence, step, hint };
}

function reasonBlock(title, text, cls, id) {
  const r = reasonParts(text);
  return h('section', { class: `callout ${cls}`, id },
    h('h3', {}, title),
    h('p', { class: 'reason' }, r.sentence),
    r.step ? h('p', { class: 'muted' }, 'While: ', h('code', {}, r.step)) : null,
    r.hint ? h('p', {}, r.hint) : null);
}

function toast(msg) {
  const t = document.getElementById('toast');
  t.textContent = msg;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 6000);
}

/* ---------- the API ---------- */

class ApiError extends Error {
  constructor(status, msg, field) {
    super(msg);
    this.status = status;
    this.field = field;
  }
}

function token() { return sessionStorage.getItem(TOKEN_KEY); }

async function api(method, path, body, retried) {
  const headers = { Authorization: `Bearer ${token()}`, Accept: 'application/json' };
  const init = { method, headers, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'The server did not answer (is it running?)');
  }
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  if (res.status === 429 && !retried && method === 'GET') {
    const wait = Math.min(Number(res.headers.get('Retry-After')) || 1, 5);
    await new Promise((r) => setTimeout(r, wait * 1000));
    return api(method, path, body, true);
  }
  if (!res.ok) {
    const msg = (data && data.error) || `HTTP ${res.status}`;
    if (res.status === 401 && path !== '/api/v1/status') signOut('The server refused the token: sign in again.');
    throw new ApiError(res.status, msg, data && data.field);
  }
  return data;
}

function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== '' && v !== null && v !== undefined) u.set(k, v);
  const s = u.toString();
  return s ? `?${s}` : '';
}

/* ---------- live progress: /api/v1/events read with fetch (EventSource cannot send the
 * Authorization header), reconnecting with backoff ---------- */

const live = {
  ctl: null, backoff: 1000, timer: null, listeners: new Set(), last: null, state: 'off', recent: [],
};

function liveIndicator(state, text) {
  live.state = state;
  const el = document.getElementById('live');
  el.hidden = false;
  el.className = `live live-${state}`;
  el.textContent = text;
}

function liveDispatch(type, data) {
  if (type === 'progress') live.last = data;
  if (type === 'device') {
    live.recent.unshift(data);
    live.recent.length = Math.min(live.recent.length, 12);
  }
  for (const fn of live.listeners) fn(type, data);
}

/* One SSE block ("event: x\ndata: y"): comments and unknown fields are ignored. */
function liveBlock(block) {
  let type = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
    if (field === 'event') type = value;
    else if (field === 'data') data.push(value);
  }
  if (!data.length) return;
  try { liveDispatch(type, JSON.parse(data.join('\n'))); } catch (e) { /* not JSON: ignored */ }
}

async function liveRun() {
  live.ctl = new AbortController();
  const res = await fetch('/api/v1/events', {
    headers: { Authorization: `Bearer ${token()}`, Accept: 'text/event-stream' },
    signal: live.ctl.signal, cache: 'no-store', credentials: 'omit',
  });
  if (!res.ok || !res.body) throw new ApiError(res.status, `events: HTTP ${res.status}`);
  liveIndicator('on', 'live');
  live.backoff = 1000;
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      liveBlock(buf.slice(0, i));
      buf = buf.slice(i + 2);
    }
  }
}

function liveStart() {
  if (live.ctl || !token()) return;
  liveRun().catch((e) => {
    if (e && e.name === 'AbortError') return;
    if (e && e.status === 401) { signOut('The server refused the token: sign in again.'); return; }
  }).finally(() => {
    const aborted = live.ctl && live.ctl.signal.aborted;
    live.ctl = null;
    if (aborted || !token()) return;
    const secs = Math.round(live.backoff / 1000);
    liveIndicator('off', `reconnecting in ${secs} s`);
    live.timer = setTimeout(liveStart, live.backoff);
    live.backoff = Math.min(live.backoff * 2, 30000);
  });
}

function liveStop() {
  clearTimeout(live.timer);
  if (live.ctl) live.ctl.abort();
  live.ctl = null;
  live.last = null;
  live.recent = [];
  document.getElementById('live').hidden = true;
}

/* ---------- sign-in ---------- */

function signOut(msg) {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(ROLE_KEY);
  liveStop();
  document.getElementById('nav').hidden = true;
  document.getElementById('signout').hidden = true;
  document.getElementById('search').hidden = true;
  document.getElementById('instance').textContent = '';
  viewSignIn(msg);
}

function viewSignIn(msg) {
  const main = clear(document.getElementById('main'));
  const input = h('input', {
    id: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false',
    placeholder: 'ppt_…', required: true, 'aria-label': 'API token',
  });
  const err = h('p', { id: 'signin-error', class: 'error', role: 'alert' }, msg || '');
  const form = h('form', { id: 'signin', class: 'card signin' },
    h('h1', {}, 'Sign in'),
    h('p', { class: 'muted' }, 'Paste an API token (', h('code', {}, 'pskprov token create --role read|admin'),
      '). It stays in this tab only and is sent as a header, never in a link.'),
    input,
    h('button', { type: 'submit', class: 'primary' }, 'Sign in'),
    err);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const t = input.value.trim();
    if (!t) return;
    sessionStorage.setItem(TOKEN_KEY, t);
    input.value = '';
    try {
      await api('GET', '/api/v1/status');
    } catch (e) {
      sessionStorage.removeItem(TOKEN_KEY);
      err.textContent = e.status === 401 ? 'The server does not know this token (or it was revoked).' : e.message;
      return;
    }
    signedIn();
  });
  main.append(form);
  input.focus();
}

function signedIn() {
  document.getElementById('nav').hidden = false;
  document.getElementById('signout').hidden = false;
  document.getElementById('search').hidden = false;
  liveStart();
  route();
}

/* ---------- router ---------- */

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, query] = raw.split('?');
  return { path, params: new URLSearchParams(query || '') };
}

const routes = [
  [/^\/$/, () => viewOverview()],
  [/^\/devices$/, (m, p) => viewDevices(p)],
  [/^\/device\/([0-9a-f-]{36})$/, (m) => viewDevice(m[1])],
  [/^\/job\/([1-9][0-9]{0,17})$/, (m) => viewJob(m[1])],
  [/^\/batches$/, () => viewBatches()],
  [/^\/keys$/, (m, p) => viewKeys(p)],
  [/^\/audit$/, (m, p) => viewAudit(p)],
];

let viewGen = 0;

function route() {
  if (!token()) { viewSignIn(); return; }
  viewGen++;
  live.listeners.clear();
  const { path, params } = parseHash();
  for (const a of document.querySelectorAll('#nav a')) {
    const page = a.dataset.page;
    const on = (page === 'overview' && path === '/') || (page === 'devices' && (path.startsWith('/device') || path.startsWith('/job/'))) ||
      (page === 'batches' && (path === '/batches' || path === '/keys')) || (page === 'audit' && path === '/audit');
    a.classList.toggle('on', on);
  }
  for (const [re, fn] of routes) {
    const m = path.match(re);
    if (m) {
      fn(m, params).catch(showError);
      return;
    }
  }
  showError(new ApiError(404, 'No such page.'));
}

/* A view checks it is still the one shown before it draws what it awaited. */
function current(gen) { return gen === viewGen; }

function showError(e) {
  if (!token()) return; /* signed out (a refused token): the sign-in form stays */
  const main = clear(document.getElementById('main'));
  main.append(h('section', { class: 'card' }, h('h1', {}, 'Something went wrong'),
    h('p', { class: 'error', id: 'page-error' }, e.message || String(e))));
}

function page(title, ...kids) {
  const main = clear(document.getElementById('main'));
  main.append(h('h1', {}, title), ...kids);
  document.title = `${title} · pskprov`;
  return main;
}

/* ---------- overview ---------- */

/* The overview counts machines: devices (a row once a machine proved its key) by state,
 * and the machines still waiting or being set up, which are jobs (one active job per
 * machine) because most have proved nothing yet. */
const CARDS = [
  ['devices.provisioned', 'Provisioned', 'devices set up and handed over', (st) => st.devices.provisioned],
  ['jobs.running', 'In progress', 'machines being set up now (sessions)', (st) => st.jobs.running],
  ['jobs.queued', 'Queued', 'machines heard, waiting for a session or a retry', (st) => queued(st)],
  ['devices.failed', 'Failed', 'devices whose last attempt failed', (st) => st.devices.failed],
  ['devices.quarantined', 'Quarantined', 'devices holding another device\u2019s key', (st) => st.devices.quarantined],
];
const CARD_LINK = {
  'devices.provisioned': '#/devices?state=provisioned', 'jobs.running': '#/devices?state=configuring',
  'jobs.queued': '#/devices?state=configuring', 'devices.failed': '#/devices?state=failed',
  'devices.quarantined': '#/devices?state=quarantined',
};

function queued(st) {
  return Number(st.jobs.pending || 0) + Number(st.jobs.retry || 0);
}

/* Every machine heard from: devices at rest, and one per active job. */
function machineTotal(st) {
  const d = st.devices;
  return ['seen', 'provisioned', 'failed', 'quarantined'].reduce((a, k) => a + Number(d[k] || 0), 0) +
    queued(st) + Number(st.jobs.running || 0);
}

function figures(st) {
  return { devices: st.devices || {}, jobs: st.jobs || {} };
}

function drawCards(box, st0) {
  const st = figures(st0);
  clear(box);
  for (const [fig, label, help, get] of CARDS) {
    const opts = { figure: fig, bad: fig === 'devices.failed', warn: fig === 'devices.quarantined' };
    box.append(h('a', { class: `card stat stat-${fig.replace('.', '-')}`, href: CARD_LINK[fig], title: help },
      h('div', { class: 'label' }, label), h('div', { class: 'big' }, num(get(st), opts))));
  }
  const rate = Number(st0.provisioned_per_s || 0);
  box.append(h('div', { class: 'card stat', title: 'devices provisioned per second by this instance, over the last 10 s' },
    h('div', { class: 'label' }, 'Rate'),
    h('div', { class: 'big' }, h('span', { class: rate ? 'n' : 'n zero', id: 'rate' }, rate.toFixed(1)),
      h('span', { class: 'unit' }, ' devices/s'))));
}

function drawProgress(box, st0) {
  const st = figures(st0);
  const d = st.devices;
  const total = machineTotal(st);
  clear(box);
  const bar = h('div', { class: 'bar', role: 'img', 'aria-label': 'progress of the machines' });
  const parts = [['provisioned', d.provisioned], ['configuring', st.jobs.running], ['seen', queued(st)],
    ['failed', d.failed], ['quarantined', d.quarantined]];
  const words = { configuring: 'in progress', seen: 'queued' };
  for (const [k, n] of parts) {
    const v = Number(n || 0);
    if (!v) continue;
    bar.append(h('span', { class: `seg seg-${k}`, style: null, title: `${fmtInt.format(v)} ${words[k] || k}`, 'data-w': (100 * v) / total }));
  }
  const done = total ? Math.floor((100 * Number(d.provisioned || 0)) / total) : 0;
  const left = queued(st) + Number(st.jobs.running || 0);
  const rate = Number(st0.provisioned_per_s || 0);
  const secs = rate > 0 ? left / rate : 0;
  const eta = !left || !rate ? '' : `about ${secs < 90 ? `${Math.max(1, Math.round(secs))} s` : `${Math.round(secs / 60)} min`} left at this rate`;
  box.append(h('div', { class: 'progress-head' },
    h('span', {}, h('strong', { id: 'pct' }, `${done}%`), ' provisioned of ', num(total, { figure: 'machines.total' }), ' machines heard from'),
    h('span', { class: 'muted' }, eta)), bar);
  /* Widths set through the CSSOM: the CSP allows no inline style attribute. */
  for (const seg of bar.children) seg.style.width = `${seg.dataset.w}%`;
}

function drawKeys(box, st) {
  const k = st.keys || {};
  const j = st.jobs || {};
  clear(box);
  const row = (label, v, o) => h('tr', {}, h('th', {}, label), h('td', {}, num(v, o)));
  box.append(
    h('div', { class: 'card' }, h('h2', {}, 'Keys'), h('table', { class: 'kv' },
      row('available', k.available, { figure: 'keys.available' }),
      row('exported', k.exported, { figure: 'keys.exported' }),
      row('in use', k.in_use, { figure: 'keys.in_use' }),
      row('consumed', k.consumed, { figure: 'keys.consumed' }),
      row('revoked', k.revoked, { figure: 'keys.revoked', warn: true }),
      row('expired', k.expired, { figure: 'keys.expired', warn: true }))),
    h('div', { class: 'card' }, h('h2', {}, 'Jobs'), h('table', { class: 'kv' },
      row('pending', j.pending, { figure: 'jobs.pending' }),
      row('running', j.running, { figure: 'jobs.running' }),
      row('waiting to retry', j.retry, { figure: 'jobs.retry' }),
      row('done', j.done, { figure: 'jobs.done' }),
      row('failed', j.failed, { figure: 'jobs.failed', bad: true })),
    h('p', { class: 'muted small' }, 'A job is one device\u2019s setup; a device may need more than one.')));
}

function drawActivity(box) {
  clear(box);
  box.append(h('h2', {}, 'Live activity'));
  if (!live.recent.length) {
    box.append(h('p', { class: 'muted' }, live.state === 'on' ? 'Waiting for devices to change state\u2026' : 'Not connected to the live stream.'));
    return;
  }
  const tb = h('tbody');
  for (const e of live.recent) {
    tb.append(h('tr', {},
      h('td', {}, when(e.time)),
      h('td', {}, h('a', { href: `#/device/${e.uuid}` }, e.pid || e.uuid)),
      h('td', { class: 'mono' }, e.address || ''),
      h('td', {}, stateBadge(e.state)),
      h('td', { class: 'reason-cell' }, e.reason ? reasonParts(e.reason).sentence : '')));
  }
  box.append(h('table', { class: 'grid' }, tb));
}

async function drawFailures(box, gen) {
  let res;
  let jobs;
  try {
    [res, jobs] = await Promise.all([
      api('GET', `/api/v1/devices${qs({ state: 'failed', sort: 'last_seen', order: 'desc', limit: 8 })}`),
      api('GET', `/api/v1/jobs${qs({ state: 'failed', limit: 200 })}`)]);
  } catch (e) {
    return;
  }
  if (!current(gen)) return;
  clear(box);
  box.append(h('h2', {}, 'Recent failures'));
  if (!res.devices.length) box.append(h('p', { class: 'muted' }, 'No device has failed.'));
  else box.append(failedDeviceTable(res));
  drawUnproven(box, jobs);
}

function failedDeviceTable(res) {
  const box = h('div');
  const tb = h('tbody');
  for (const d of res.devices) {
    tb.append(h('tr', {},
      h('td', {}, h('a', { href: `#/device/${d.uuid}`, class: 'mono' }, d.pid)),
      h('td', { class: 'mono' }, d.address),
      h('td', { class: 'reason-cell' }, d.last_error ? reasonParts(d.last_error).sentence : ''),
      h('td', {}, when(d.last_seen))));
  }
  box.append(h('table', { class: 'grid' }, tb));
  if (res.total > res.devices.length) box.append(h('p', {}, h('a', { href: '#/devices?state=failed' }, `All ${fmtInt.format(res.total)} failed devices \u2192`)));
  return box;
}

/* Failed jobs of hellos whose sender never proved its key (a wrong or corrupted PPS):
 * no device is recorded for them, so they are listed here, once per PID and address
 * (newest first), with why. */
function drawUnproven(box, res) {
  const seen = new Set();
  const rows = [];
  for (const j of res.jobs) {
    const key = `${j.pid} ${j.address}`;
    if (j.bound || seen.has(key)) continue;
    seen.add(key);
    rows.push(j);
  }
  if (!rows.length) return;
  const tb = h('tbody');
  for (const j of rows.slice(0, 8)) {
    tb.append(h('tr', { 'data-job': j.id },
      h('td', {}, h('a', { href: `#/job/${j.id}`, class: 'mono' }, j.pid)),
      h('td', { class: 'mono' }, j.address),
      h('td', { class: 'reason-cell' }, reasonParts(j.last_error || '').sentence),
      h('td', {}, when(j.updated))));
  }
  box.append(h('h3', { class: 'subhead' }, 'Senders that never proved their key ', num(rows.length, { bad: true }),
    res.next_cursor ? '+' : ''),
    h('p', { class: 'muted small' }, 'A device is recorded once it proves its key over TLS-PSK; these hellos failed before that.'),
    h('table', { class: 'grid', id: 'unproven' }, tb));
}

async function viewOverview() {
  const gen = viewGen;
  const st = await api('GET', '/api/v1/status');
  if (!current(gen)) return;
  document.getElementById('instance').textContent = `${st.instance || ''}${st.version ? ` \u00b7 v${st.version}` : ''}`;
  const cards = h('div', { class: 'cards', id: 'cards' });
  const progress = h('div', { class: 'card progress', id: 'progress' });
  const keys = h('div', { class: 'split', id: 'stock' });
  const activity = h('div', { class: 'card', id: 'activity' });
  const failures = h('div', { class: 'card', id: 'failures' });
  page('Overview', progress, cards, h('div', { class: 'split' }, activity, failures), keys);
  const merged = Object.assign({}, st);
  drawCards(cards, merged);
  drawProgress(progress, merged);
  drawKeys(keys, merged);
  drawActivity(activity);
  drawFailures(failures, gen);
  let failTimer = null;
  let actTimer = null;
  live.listeners.add((type, data) => {
    if (!current(gen)) return;
    if (type === 'progress') {
      Object.assign(merged, { devices: data.devices, jobs: data.jobs, provisioned_per_s: data.provisioned_per_s });
      drawCards(cards, merged);
      drawProgress(progress, merged);
      drawKeys(keys, merged);
    } else if (type === 'device') {
      /* A large run changes hundreds of devices a second: drawn at most twice a second. */
      if (!actTimer) actTimer = setTimeout(() => { actTimer = null; if (current(gen)) drawActivity(activity); }, 500);
      if (data.state === 'failed' && !failTimer) failTimer = setTimeout(() => { failTimer = null; drawFailures(failures, gen); }, 1000);
    }
  });
  /* Keys are not in the live stream: refreshed from status now and then. */
  const poll = setInterval(async () => {
    if (!current(gen)) { clearInterval(poll); return; }
    try {
      const s2 = await api('GET', '/api/v1/status');
      if (!current(gen)) return;
      Object.assign(merged, { keys: s2.keys, instance: s2.instance });
      if (live.state !== 'on') Object.assign(merged, { devices: s2.devices, jobs: s2.jobs, provisioned_per_s: s2.provisioned_per_s });
      drawCards(cards, merged);
      drawProgress(progress, merged);
      drawKeys(keys, merged);
    } catch (e) { /* shown by the next successful poll */ }
  }, 5000);
}

/* ---------- devices ---------- */

const COLUMNS = [
  ['pid', 'PID', 'pid'],
  ['address', 'Address', 'address'],
  ['host_name', 'Host name', 'host_name'],
  ['state', 'State', 'state'],
  ['batch', 'Batch', null],
  ['last_seen', 'Last seen', 'last_seen'],
  ['reason', 'Reason', null],
];
const STATES = ['seen', 'configuring', 'provisioned', 'failed', 'quarantined'];

async function viewDevices(params) {
  const gen = viewGen;
  const f = {
    q: params.get('q') || '', state: params.get('state') || '', batch: params.get('batch') || '',
    sort: params.get('sort') || 'first_seen', order: params.get('order') || 'asc',
  };
  const cursors = [];
  let cursor = '';
  const q = h('input', {
    id: 'q', type: 'search', value: f.q, placeholder: 'PID, address, UUID or host name', maxlength: 64,
    autocomplete: 'off', spellcheck: 'false', 'aria-label': 'search devices',
  });
  const stateSel = h('select', { id: 'state', 'aria-label': 'state' }, h('option', { value: '' }, 'any state'),
    STATES.map((s) => h('option', { value: s, selected: s === f.state }, s)));
  const batchSel = h('select', { id: 'batch', 'aria-label': 'batch' }, h('option', { value: '' }, 'any batch'));
  const count = h('span', { id: 'count', class: 'muted' });
  const table = h('table', { class: 'grid', id: 'devices' });
  const pager = h('div', { class: 'pager' });
  const err = h('p', { class: 'error', id: 'devices-error' });
  const unproven = h('section', { class: 'card unproven', id: 'unproven-box', hidden: true });
  page('Devices', h('div', { class: 'toolbar' }, q, stateSel, batchSel, count), err, table, pager, unproven);

  api('GET', '/api/v1/batches').then((r) => {
    for (const b of r.batches) batchSel.append(h('option', { value: b.name, selected: b.name === f.batch }, b.name));
  }).catch(() => {});

  const syncHash = () => history.replaceState(null, '', `#/devices${qs({
    q: f.q, state: f.state, batch: f.batch, sort: f.sort === 'first_seen' ? '' : f.sort, order: f.order === 'asc' ? '' : f.order,
  })}`);

  let seq = 0;
  const askJobs = unprovenAsker(f);
  const load = async () => {
    const mine = ++seq;
    const jobsP = askJobs();
    let res;
    try {
      res = await api('GET', `/api/v1/devices${qs({
        q: f.q, state: f.state, batch: f.batch, sort: f.sort, order: f.order, limit: PAGE, cursor,
      })}`);
    } catch (e) {
      if (mine !== seq || !current(gen)) return;
      err.textContent = e.message;
      return;
    }
    const jobs = jobsP ? await jobsP : null;
    if (mine !== seq || !current(gen)) return;
    err.textContent = '';
    drawUnprovenSearch(unproven, jobs);
    drawDeviceTable(table, res.devices, f, (col) => {
      if (f.sort === col) f.order = f.order === 'asc' ? 'desc' : 'asc';
      else { f.sort = col; f.order = 'asc'; }
      restart();
    });
    const from = cursors.length * PAGE;
    const nj = jobs && jobs.jobs ? jobs.jobs.length : 0;
    count.textContent = (res.total ? `${fmtInt.format(from + 1)}\u2013${fmtInt.format(from + res.devices.length)} of ${fmtInt.format(res.total)} devices` : 'no device matches') +
      (nj ? ` \u00b7 ${fmtInt.format(nj)}${jobs.next_cursor ? '+' : ''} job${nj === 1 ? '' : 's'} of machines that never proved their key` : '');
    /* No device and no page before: the empty table and its pager say nothing. */
    const empty = !res.devices.length && !cursors.length;
    table.hidden = empty;
    pager.hidden = empty;
    clear(pager);
    pager.append(
      h('button', { type: 'button', id: 'prev', disabled: !cursors.length, onclick: () => { cursor = cursors.pop(); load(); } }, '\u2190 Previous'),
      h('button', { type: 'button', id: 'next', disabled: !res.next_cursor, onclick: () => { cursors.push(cursor); cursor = res.next_cursor; load(); } }, 'Next \u2192'));
  };
  const restart = () => { cursors.length = 0; cursor = ''; syncHash(); load(); };

  let debounce = null;
  q.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => { f.q = q.value.trim(); restart(); }, 200);
  });
  stateSel.addEventListener('change', () => { f.state = stateSel.value; restart(); });
  batchSel.addEventListener('change', () => { f.batch = batchSel.value; restart(); });
  await load();
  q.focus();
}

function drawDeviceTable(table, devices, f, onSort) {
  clear(table);
  const head = h('tr');
  for (const [key, label, sort] of COLUMNS) {
    if (!sort) { head.append(h('th', {}, label)); continue; }
    const arrow = f.sort === sort ? (f.order === 'asc' ? ' \u25b2' : ' \u25bc') : '';
    head.append(h('th', { 'aria-sort': f.sort === sort ? (f.order === 'asc' ? 'ascending' : 'descending') : null },
      h('button', { type: 'button', class: 'sort', 'data-sort': sort, onclick: () => onSort(sort) }, label + arrow)));
    void key;
  }
  const tb = h('tbody');
  for (const d of devices) {
    const why = d.state === 'quarantined' ? d.quarantine_reason : (d.state === 'failed' ? d.last_error : '');
    tb.append(h('tr', { 'data-uuid': d.uuid },
      h('td', {}, h('a', { href: `#/device/${d.uuid}`, class: 'mono' }, d.pid)),
      h('td', { class: 'mono' }, d.address),
      h('td', {}, d.host_name || h('span', { class: 'muted' }, '\u2014')),
      h('td', {}, stateBadge(d.state, d.quarantined)),
      h('td', {}, d.batch || ''),
      h('td', {}, when(d.last_seen)),
      h('td', { class: 'reason-cell' }, why ? reasonParts(why).sentence : '')));
  }
  table.append(h('thead', {}, head), tb);
}

/* The search's machines that never proved their key: a function giving the answer's
 * promise (null without a search), asked once per search text (turning the device
 * pages asks nothing more); a failure resolves to {error}. */
function unprovenAsker(f) {
  let asked = '';
  let answer = null;
  return () => {
    if (!f.q) return null;
    if (asked !== f.q || !answer) {
      asked = f.q;
      answer = api('GET', `/api/v1/jobs${qs({ q: f.q, bound: 'false', limit: PAGE })}`).catch((e) => ({ error: e }));
    }
    return answer;
  };
}

/* The jobs of machines that never proved their key and match the search (GET
 * /api/v1/jobs?q=...&bound=false): no device is recorded for them, so the device rows
 * above cannot show them. Hidden when there are none; each links to its job. */
function drawUnprovenSearch(box, res) {
  clear(box);
  box.hidden = !res || (!res.error && !res.jobs.length);
  if (box.hidden) return;
  box.append(h('h2', {}, 'Machines that never proved their key ',
    res.jobs ? num(res.jobs.length, { bad: true }) : null, res.next_cursor ? '+' : ''));
  if (res.error) {
    box.append(h('p', { class: 'error', id: 'unproven-error' }, res.error.message));
    return;
  }
  box.append(h('p', { class: 'muted small' }, 'A device is recorded once it proves its key over TLS-PSK. These machines said hello with a PID or address matching the search but never did: here is why.'));
  const tb = h('tbody');
  for (const j of res.jobs) {
    const r = j.last_error ? reasonParts(j.last_error) : null;
    tb.append(h('tr', { 'data-job': j.id },
      h('td', {}, h('a', { href: `#/job/${j.id}`, class: 'mono' }, j.pid)),
      h('td', { class: 'mono' }, j.address),
      h('td', {}, h('span', { class: `badge st-${j.state}` }, j.state)),
      h('td', { class: 'reason-cell', title: r && r.hint ? r.hint : null },
        r ? r.sentence : h('span', { class: 'muted' }, 'no failure yet')),
      h('td', {}, when(j.updated))));
  }
  box.append(h('table', { class: 'grid', id: 'unproven-search' },
    h('thead', {}, h('tr', {}, ['PID', 'Address', 'Job', 'Why', 'When'].map((c) => h('th', {}, c)))), tb));
}

/* ---------- one job ---------- */

async function viewJob(id) {
  const gen = viewGen;
  const res = await api('GET', `/api/v1/jobs/${id}`);
  if (!current(gen)) return;
  const j = res.job;
  const facts = h('dl', { class: 'facts', id: 'job-facts' });
  const fact = (k, v) => facts.append(h('dt', {}, k), h('dd', {}, v));
  fact('PID', h('span', { class: 'mono' }, j.pid));
  if (j.next_pid) fact('Next PID', h('span', { class: 'mono' }, j.next_pid));
  fact('Address', h('span', { class: 'mono' }, j.address));
  fact('UUID', j.bound ? h('a', { href: `#/device/${j.uuid}`, class: 'mono' }, j.uuid)
    : h('span', {}, h('span', { class: 'mono' }, j.uuid), h('span', { class: 'muted' }, ' (as its hello said: not proved)')));
  fact('Key proved', h('span', { id: 'job-bound' }, j.bound ? 'yes, over TLS-PSK: a device is recorded'
    : 'no: the machine never proved its key, so no device is recorded'));
  fact('Step', h('code', {}, j.step));
  fact('Attempts', num(j.attempts));
  fact('Instance', j.owner || '\u2014');
  fact('Created', when(j.created));
  fact('Updated', when(j.updated));
  if (j.state === 'pending' || j.state === 'retry') fact('Next attempt', when(j.next_attempt_at));
  const why = j.last_error && j.state !== 'done'
    ? reasonBlock(j.state === 'failed' ? 'Why it failed' : 'Last error', j.last_error, 'bad', 'failure-reason') : null;
  page(`Job ${j.id}`,
    h('p', {}, h('a', { href: `#/devices${qs({ q: j.pid })}` }, `\u2190 Search for ${j.pid}`)),
    h('p', { class: 'sub' }, h('span', { class: `badge st-${j.state}` }, j.state),
      j.bound ? null : [' ', h('span', { class: 'badge st-failed' }, 'never proved its key')]),
    h('div', { class: 'notes' }, why),
    h('div', { class: 'split' }, h('section', { class: 'card' }, h('h2', {}, 'Job'), facts), jobActions(j)),
    h('section', { class: 'card', id: 'timeline' }, h('h2', {}, 'Events'), drawTimeline([j])));
}

function jobActions(j) {
  const box = h('section', { class: 'card', id: 'actions' }, h('h2', {}, 'Actions'));
  const msg = h('p', { id: 'action-msg', class: 'error', role: 'alert' });
  if (sessionStorage.getItem(ROLE_KEY) === '1') box.append(h('p', { class: 'muted' }, 'This token is read-only: the server refuses actions.'));
  if (j.state !== 'failed') {
    box.append(h('p', { class: 'muted' }, 'Only a failed job can be retried.'), msg);
    return box;
  }
  box.append(h('p', {}, h('button', { type: 'button', id: 'retry', onclick: async () => {
    try {
      await api('POST', `/api/v1/jobs/${j.id}/retry`);
      toast(`Job ${j.id} queued again.`);
      route();
    } catch (e) {
      if (e.status === 403) sessionStorage.setItem(ROLE_KEY, '1');
      msg.textContent = `Refused: ${e.message}`;
    }
  } }, `Retry job ${j.id}`), ' ', h('span', { class: 'muted' }, j.bound ? 'runs it again from its last durable step' : 'a machine with a wrong key fails again: check its key first')), msg);
  return box;
}

/* ---------- one device ---------- */

async function viewDevice(uuid) {
  const gen = viewGen;
  const res = await api('GET', `/api/v1/devices/${uuid}`);
  if (!current(gen)) return;
  const d = res.device;
  const facts = h('dl', { class: 'facts' });
  const fact = (k, v) => facts.append(h('dt', {}, k), h('dd', {}, v));
  fact('UUID', h('span', { class: 'mono', id: 'uuid' }, d.uuid));
  fact('PID', h('span', { class: 'mono' }, d.pid));
  fact('Address', h('span', { class: 'mono' }, d.address));
  fact('Host name', d.host_name ? `${d.host_name}${d.domain ? `.${d.domain}` : ''}` : '\u2014');
  fact('Batch', d.batch ? h('a', { href: `#/keys${qs({ batch: d.batch })}` }, d.batch) : '\u2014');
  fact('First seen', when(d.first_seen));
  fact('Last seen', when(d.last_seen));
  fact('Provisioned', when(d.provisioned_at));
  fact('Hellos', num(d.hello_count));
  fact('TLS', d.tls_version ? `${d.tls_version} ${d.tls_cipher || ''}` : '\u2014');
  fact('Credentials', d.has_credentials ? 'escrowed' : 'none');

  const kids = [h('p', { class: 'sub' }, stateBadge(d.state, d.quarantined)), h('div', { class: 'notes' },
    d.state === 'quarantined' || d.quarantined ? reasonBlock(d.state === 'quarantined' ? 'Quarantined' : 'Was quarantined', d.quarantine_reason || 'no reason recorded', 'warn', 'quarantine-reason') : null,
    d.last_error && !['provisioned', 'quarantined'].includes(d.state) ? reasonBlock(d.state === 'failed' ? 'Why it failed' : 'Last error', d.last_error, 'bad', 'failure-reason') : null)];
  kids.push(h('div', { class: 'split' }, h('section', { class: 'card' }, h('h2', {}, 'Device'), facts), deviceActions(d, res.jobs)));
  kids.push(h('section', { class: 'card', id: 'timeline' }, h('h2', {}, 'Timeline'), drawTimeline(res.jobs)));
  page(`Device ${d.pid}`, ...kids);
  live.listeners.add((type, data) => {
    if (type === 'device' && data.uuid === uuid && current(gen)) setTimeout(() => { if (current(gen)) route(); }, 500);
  });
}

function drawTimeline(jobs) {
  if (!jobs || !jobs.length) return h('p', { class: 'muted' }, 'No job yet.');
  const box = h('div');
  for (const j of jobs) {
    const ol = h('ol', { class: 'timeline' });
    for (const e of j.events || []) {
      ol.append(h('li', { class: `ev ev-${e.event}` },
        h('span', { class: 'ev-time' }, when(e.time)),
        h('span', { class: 'ev-name' }, e.event),
        h('span', { class: 'ev-detail' }, e.detail || '')));
    }
    box.append(h('div', { class: 'job', 'data-job': j.id },
      h('h3', {}, `Job ${j.id} `, h('span', { class: `badge st-${j.state}` }, j.state),
        h('span', { class: 'muted' }, ` \u00b7 step ${j.step} \u00b7 ${j.attempts} attempt${j.attempts === 1 ? '' : 's'} \u00b7 updated `), when(j.updated)),
      j.last_error && j.state !== 'done' ? h('p', { class: 'reason' }, reasonParts(j.last_error).sentence) : null,
      (j.events || []).length ? ol : h('p', { class: 'muted' }, 'No event recorded.')));
  }
  return box;
}

function deviceActions(d, jobs) {
  const box = h('section', { class: 'card', id: 'actions' }, h('h2', {}, 'Actions'));
  const msg = h('p', { id: 'action-msg', class: 'error', role: 'alert' });
  const readonly = sessionStorage.getItem(ROLE_KEY) === '1';
  if (readonly) box.append(h('p', { class: 'muted' }, 'This token is read-only: the server refuses actions.'));
  const refuse = (e) => {
    if (e.status === 403) sessionStorage.setItem(ROLE_KEY, '1');
    msg.textContent = `Refused: ${e.message}`;
  };

  const failed = (jobs || []).find((j) => j.state === 'failed');
  if (failed && d.state !== 'quarantined') {
    box.append(h('p', {}, h('button', { type: 'button', id: 'retry', onclick: async () => {
      try {
        await api('POST', `/api/v1/jobs/${failed.id}/retry`);
        toast(`Job ${failed.id} queued again.`);
        route();
      } catch (e) { refuse(e); }
    } }, `Retry job ${failed.id}`), ' ', h('span', { class: 'muted' }, 'runs it again from its last durable step')));
  }
  if (d.state === 'quarantined') {
    const reason = h('input', { id: 'release-reason', type: 'text', maxlength: 199, placeholder: 'why it may try again', 'aria-label': 'reason' });
    box.append(h('form', { class: 'inline', onsubmit: async (ev) => {
      ev.preventDefault();
      if (!reason.value.trim()) { msg.textContent = 'Say why the device may be released.'; return; }
      try {
        await api('POST', `/api/v1/devices/${d.uuid}/release`, { reason: reason.value.trim() });
        toast('Device released.');
        route();
      } catch (e) { refuse(e); }
    } }, reason, h('button', { type: 'submit', id: 'release' }, 'Release')));
  }
  box.append(revealBlock(d, msg, refuse), msg);
  return box;
}

function revealBlock(d, msg, refuse) {
  const out = h('div', { id: 'credentials' });
  if (!d.has_credentials) return h('p', { class: 'muted' }, 'No credentials escrowed for this device.');
  const confirmBox = h('div', { class: 'confirm', hidden: true },
    h('p', {}, 'Reveal the admin and MEBx passwords? The reveal is written to the audit log with your token\u2019s name.'),
    h('button', { type: 'button', id: 'reveal-confirm', class: 'danger', onclick: async () => {
      confirmBox.hidden = true;
      try {
        const c = await api('POST', `/api/v1/devices/${d.uuid}/credentials`);
        clear(out).append(h('table', { class: 'kv secret' },
          h('tr', {}, h('th', {}, 'admin user'), h('td', { class: 'mono', id: 'cred-user' }, c.admin_user)),
          h('tr', {}, h('th', {}, 'admin password'), h('td', { class: 'mono', id: 'cred-admin' }, c.admin_password)),
          h('tr', {}, h('th', {}, 'MEBx password'), h('td', { class: 'mono', id: 'cred-mebx' }, c.mebx_password))),
        h('button', { type: 'button', onclick: () => clear(out) }, 'Hide'));
      } catch (e) { refuse(e); }
    } }, 'Reveal'),
    ' ',
    h('button', { type: 'button', onclick: () => { confirmBox.hidden = true; } }, 'Cancel'));
  return h('div', {}, h('p', {}, h('button', { type: 'button', id: 'reveal', onclick: () => { msg.textContent = ''; confirmBox.hidden = false; } }, 'Reveal credentials\u2026')), confirmBox, out);
}

/* ---------- batches and keys ---------- */

const KEY_STATES = ['available', 'exported', 'in_use', 'consumed', 'revoked', 'expired'];

async function viewBatches() {
  const gen = viewGen;
  const res = await api('GET', '/api/v1/batches');
  if (!current(gen)) return;
  const head = h('tr', {}, h('th', {}, 'Batch'), h('th', {}, 'Keys'), KEY_STATES.map((s) => h('th', { class: 'num' }, s.replace('_', ' '))),
    h('th', { class: 'num' }, 'total'), h('th', { class: 'num' }, 'quarantined devices'), h('th', {}, 'Created'));
  const tb = h('tbody');
  for (const b of res.batches) {
    tb.append(h('tr', { 'data-batch': b.name },
      h('td', {}, h('a', { href: `#/keys${qs({ batch: b.name })}` }, b.name)),
      h('td', {}, b.shared_max ? `shared by up to ${b.shared_max}` : (b.derived ? 'derived' : 'unique')),
      KEY_STATES.map((s) => h('td', { class: 'num' }, num(b.keys[s], { warn: s === 'revoked' || s === 'expired' }))),
      h('td', { class: 'num' }, num(b.total)),
      h('td', { class: 'num' }, num(b.quarantined_devices, { warn: true })),
      h('td', {}, when(b.created))));
  }
  const report = h('section', { class: 'card', id: 'report' }, h('h2', {}, 'Key report'), h('p', { class: 'muted' }, 'Loading\u2026'));
  page('Batches & keys', h('section', { class: 'card' }, res.batches.length ? h('table', { class: 'grid', id: 'batches' }, h('thead', {}, head), tb) : h('p', { class: 'muted' }, 'No batch yet.')), report);
  try {
    const r = await api('GET', '/api/v1/keys/report');
    if (!current(gen)) return;
    drawReport(report, r);
  } catch (e) {
    if (current(gen)) clear(report).append(h('h2', {}, 'Key report'), h('p', { class: 'error' }, e.message));
  }
}

/* The sections of `keys report --json`, each a list: counted and shown as JSON-free rows. */
function drawReport(box, r) {
  clear(box).append(h('h2', {}, 'Key report'));
  const titles = {
    unknown: 'Unknown PIDs heard', unknown_pids: 'Unknown PIDs heard', shared: 'Shared keys in use',
    clones: 'Suspected clones', suspected_clones: 'Suspected clones', quarantined: 'Quarantined devices',
    failing: 'Keys failing their handshakes', failing_keys: 'Keys failing their handshakes',
    locked_out: 'Keys locked out', exported_never_seen: 'Exported, never seen',
  };
  const title = (k) => titles[k] || (k.charAt(0).toUpperCase() + k.slice(1)).replace(/_/g, ' ');
  const isTime = (c) => /(_at|_seen|_until|^time|^created|^updated)$/.test(c);
  let any = false;
  for (const [k, v] of Object.entries(r || {})) {
    if (!Array.isArray(v)) continue;
    any = true;
    const sec = h('div', { class: 'report-sec' }, h('h3', {}, title(k), ' ', num(v.length, { warn: true })));
    if (v.length) {
      const cols = Object.keys(v[0]).slice(0, 6);
      const tb = h('tbody');
      const cell = (c, x) => {
        if (c === 'uuid' && /^[0-9a-f-]{36}$/.test(String(x))) return h('a', { href: `#/device/${x}`, class: 'mono' }, String(x));
        if (isTime(c) && typeof x === 'number') return when(x);
        return typeof x === 'object' && x !== null ? JSON.stringify(x) : String(x);
      };
      for (const row of v.slice(0, 20)) tb.append(h('tr', {}, cols.map((c) => h('td', {}, cell(c, row[c])))));
      sec.append(h('table', { class: 'grid' }, h('thead', {}, h('tr', {}, cols.map((c) => h('th', {}, c.replace(/_/g, ' '))))), tb));
    }
    box.append(sec);
  }
  if (!any) box.append(h('p', { class: 'muted' }, 'Nothing to report.'));
}

async function viewKeys(params) {
  const gen = viewGen;
  const f = { batch: params.get('batch') || '', state: params.get('state') || '' };
  const stack = [];
  let cursor = '';
  const table = h('table', { class: 'grid', id: 'keys' });
  const pager = h('div', { class: 'pager' });
  const stateSel = h('select', { 'aria-label': 'key state' }, h('option', { value: '' }, 'any state'),
    ['available', 'exported', 'in-use', 'consumed', 'revoked', 'expired'].map((s) => h('option', { value: s, selected: s === f.state }, s)));
  page(f.batch ? `Keys of ${f.batch}` : 'Keys', h('p', {}, h('a', { href: '#/batches' }, '\u2190 Batches')), h('div', { class: 'toolbar' }, stateSel), table, pager);
  const load = async () => {
    const res = await api('GET', `/api/v1/keys${qs({ batch: f.batch, state: f.state, limit: PAGE, cursor })}`);
    if (!current(gen)) return;
    clear(table).append(h('thead', {}, h('tr', {}, ['PID', 'Batch', 'State', 'Devices', 'Failed handshakes', 'Locked until', 'Updated'].map((c) => h('th', {}, c)))));
    const tb = h('tbody');
    for (const k of res.keys) {
      tb.append(h('tr', {},
        h('td', { class: 'mono' }, h('a', { href: `#/devices${qs({ q: k.pid })}` }, k.pid)),
        h('td', {}, k.batch),
        h('td', {}, h('span', { class: `badge key-${k.state}` }, k.state)),
        h('td', { class: 'num' }, num(k.use_count), k.shared ? ` / ${k.max_devices}` : ''),
        h('td', { class: 'num' }, num(k.failure_count, { bad: true })),
        h('td', {}, k.locked_until ? exactTime(k.locked_until) : '\u2014'),
        h('td', {}, when(k.updated))));
    }
    table.append(tb);
    clear(pager).append(
      h('button', { type: 'button', disabled: !stack.length, onclick: () => { cursor = stack.pop(); load().catch(showError); } }, '\u2190 Previous'),
      h('button', { type: 'button', disabled: !res.next_cursor, onclick: () => { stack.push(cursor); cursor = res.next_cursor; load().catch(showError); } }, 'Next \u2192'));
  };
  stateSel.addEventListener('change', () => {
    f.state = stateSel.value;
    stack.length = 0;
    cursor = '';
    history.replaceState(null, '', `#/keys${qs(f)}`);
    load().catch(showError);
  });
  await load();
}

/* ---------- audit ---------- */

async function viewAudit(params) {
  const gen = viewGen;
  /* The newest entries first: the chain's length tells where the last page starts. */
  const probe = await api('GET', '/api/v1/audit?limit=1');
  if (!current(gen)) return;
  const n = probe.chain ? Number(probe.chain.entries) : 0;
  const since = params.has('since') ? Math.max(0, Number(params.get('since')) || 0) : Math.max(0, n - 100);
  const res = await api('GET', `/api/v1/audit${qs({ since, limit: 100 })}`);
  if (!current(gen)) return;
  const c = res.chain || {};
  const chain = c.status === 'intact'
    ? h('p', { class: 'callout good', id: 'chain' }, `Chain intact: ${fmtInt.format(c.entries)} entries, each sealing the one before.`)
    : h('p', { class: 'callout bad', id: 'chain' }, `Chain broken: ${c.error || 'the log was altered'}.`);
  const tb = h('tbody');
  for (const e of res.entries.slice().reverse()) {
    tb.append(h('tr', { 'data-action': e.action },
      h('td', { class: 'num' }, String(e.seq)),
      h('td', {}, when(e.time)),
      h('td', {}, e.actor),
      h('td', {}, h('code', {}, e.action)),
      h('td', { class: 'mono' }, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(e.subject)
        ? h('a', { href: `#/device/${e.subject}` }, e.subject) : e.subject),
      h('td', {}, e.detail)));
  }
  const pager = h('div', { class: 'pager' },
    h('a', { class: since > 0 ? 'button' : 'button disabled', href: since > 0 ? `#/audit${qs({ since: Math.max(0, since - 100) })}` : null }, '\u2190 Earlier'),
    h('a', { class: since + 100 < n ? 'button' : 'button disabled', href: since + 100 < n ? '#/audit' : null }, 'Latest \u2192'));
  page('Audit log', chain, h('section', { class: 'card' },
    h('table', { class: 'grid', id: 'audit' }, h('thead', {}, h('tr', {}, ['#', 'When', 'Actor', 'Action', 'Subject', 'Detail'].map((x) => h('th', {}, x)))), tb)), pager);
}

/* ---------- start ---------- */

function start() {
  document.getElementById('signout').addEventListener('click', () => { signOut('Signed out.'); location.hash = '#/'; });
  const search = document.getElementById('search');
  search.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const input = document.getElementById('search-q');
    const v = input.value.trim();
    input.value = '';
    location.hash = `#/devices${qs({ q: v })}`;
  });
  window.addEventListener('hashchange', route);
  setInterval(refreshTimes, 30000);
  if (token()) signedIn();
  else viewSignIn();
}

document.addEventListener('DOMContentLoaded', start);
