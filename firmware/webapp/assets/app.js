// doorbelld web app: plain ES module, no framework, nothing fetched from
// outside this origin. See firmware/webapp/doc.go for the API it uses.

const $ = (id) => document.getElementById(id);

const state = {
  session: null, // {open, user, csrf, tls}
  started: false,
  events: new Map(), // id -> entry
  source: null, // EventSource
  liveRetry: null,
  liveDelay: 2000,
  statusTimer: null,
  features: {}, // GET /api/features
  clips: new Map(), // id -> clip, from the last /api/clips
  auditTimer: null,
};

class AuthError extends Error {}

// api fetches a same-origin path; a 401 shows the login form.
async function api(path, opts = {}) {
  const headers = new Headers(opts.headers || {});
  if (opts.method && opts.method !== 'GET') {
    if (state.session && state.session.csrf) headers.set('X-CSRF-Token', state.session.csrf);
    if (opts.body) headers.set('Content-Type', 'application/json');
  }
  const res = await fetch(path, { ...opts, headers, credentials: 'same-origin', cache: 'no-store' });
  if (res.status === 401 && path !== '/api/login') {
    showLogin();
    throw new AuthError('login needed');
  }
  return res;
}

async function errorText(res) {
  const t = (await res.text()).trim();
  return t || `${res.status} ${res.statusText}`;
}

function toast(msg) {
  const t = $('toast');
  t.textContent = msg;
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 6000);
}

// ---- session and login ----

async function loadSession() {
  const res = await fetch('/api/session', { credentials: 'same-origin', cache: 'no-store' });
  if (!res.ok) throw new Error(`session: ${res.status}`);
  state.session = await res.json();
  $('open-banner').hidden = !state.session.open;
  return state.session;
}

function showLogin() {
  stopApp();
  $('app').hidden = true;
  $('btn-logout').hidden = true;
  $('login').hidden = false;
  $('login-user').focus();
}

async function login(ev) {
  ev.preventDefault();
  const err = $('login-error');
  err.hidden = true;
  $('login-submit').disabled = true;
  try {
    const res = await api('/api/login', {
      method: 'POST',
      body: JSON.stringify({ username: $('login-user').value, password: $('login-pass').value }),
    });
    if (res.status === 429) {
      const after = res.headers.get('Retry-After');
      err.textContent = `Too many attempts. Try again${after ? ` in ${after} s` : ' later'}.`;
      err.hidden = false;
      return;
    }
    if (res.status === 401) {
      err.textContent = 'Wrong user name or password.';
      err.hidden = false;
      return;
    }
    if (!res.ok) {
      err.textContent = await errorText(res);
      err.hidden = false;
      return;
    }
    $('login-pass').value = '';
    await loadSession();
    startApp();
  } catch (e) {
    err.textContent = `Login failed: ${e.message}`;
    err.hidden = false;
  } finally {
    $('login-submit').disabled = false;
  }
}

async function logout() {
  try {
    await api('/api/logout', { method: 'POST' });
  } catch (e) { /* shown below anyway */ }
  await loadSession().catch(() => {});
  showLogin();
}

// ---- app start/stop ----

function startApp() {
  if (state.started) return;
  state.started = true;
  $('login').hidden = true;
  $('app').hidden = false;
  $('btn-logout').hidden = !!state.session.open;
  startLive();
  openStream();
  loadClips();
  loadSwitches();
  loadMasks();
  loadStatus();
  loadFeatures();
  state.statusTimer = setInterval(loadStatus, 10000);
}

function stopApp() {
  state.started = false;
  if (state.source) { state.source.close(); state.source = null; }
  clearInterval(state.statusTimer);
  clearInterval(state.auditTimer);
  clearTimeout(state.liveRetry);
  $('live').removeAttribute('src');
  closePlayer();
}

// ---- live view ----

function startLive() {
  clearTimeout(state.liveRetry);
  $('live-msg').hidden = true;
  $('live').src = `/api/live.mjpeg?t=${Date.now()}`;
}

async function liveFailed() {
  if (!state.started) return;
  const msg = $('live-msg');
  let text = 'Live view lost. Reconnecting…';
  try {
    // Ask the stream itself why: 403 privacy, 503 no camera, 401 login.
    const ctl = new AbortController();
    const res = await api('/api/live.mjpeg', { signal: ctl.signal });
    if (res.status === 403) {
      text = 'Privacy mode is on: the camera is not shown.';
    } else if (res.status === 503) {
      text = `Camera unavailable: ${await errorText(res)}`;
    } else if (!res.ok) {
      text = `Live view failed: ${await errorText(res)}`;
    }
    ctl.abort();
  } catch (e) {
    if (e instanceof AuthError) return;
    if (e.name !== 'AbortError') text = 'Doorbell unreachable. Reconnecting…';
  }
  msg.textContent = text;
  msg.hidden = false;
  clearTimeout(state.liveRetry);
  state.liveRetry = setTimeout(startLive, state.liveDelay);
  state.liveDelay = Math.min(state.liveDelay * 2, 30000);
}

function liveLoaded() {
  state.liveDelay = 2000;
  $('live-msg').hidden = true;
  const img = $('live');
  if (img.naturalWidth > 0 && img.naturalHeight > 0) {
    // The frame takes the picture's own shape, so the mask overlay (in
    // fractions of the picture) lies exactly on it.
    img.parentElement.style.aspectRatio = `${img.naturalWidth} / ${img.naturalHeight}`;
  }
}

// ---- privacy masks ----

async function loadMasks() {
  try {
    const res = await api('/api/masks');
    if (!res.ok) return;
    const { masks } = await res.json();
    if (!Array.isArray(masks) || masks.length === 0) return;
    const svg = $('mask-overlay');
    const ns = svg.namespaceURI; // the SVG namespace, from the element itself
    svg.replaceChildren(...masks.map((pts) => {
      const p = document.createElementNS(ns, 'polygon');
      p.setAttribute('points', pts.map(([x, y]) => `${x},${y}`).join(' '));
      return p;
    }));
    $('masks-toggle').hidden = false;
  } catch (e) {
    if (!(e instanceof AuthError)) console.warn('masks:', e);
  }
}

// ---- timeline ----

const typeNames = {
  ring: 'Ring', double_press: 'Double press', long_press: 'Long press',
  motion_start: 'Motion', motion_end: 'Motion ended',
};

function fmtTime(iso) {
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString();
}

function renderEntry(e) {
  const li = document.createElement('li');
  li.dataset.test = 'event';
  li.dataset.id = e.id;
  let thumb;
  if (e.has_snapshot) {
    thumb = document.createElement('img');
    thumb.className = 'thumb';
    thumb.dataset.test = 'event-thumb';
    thumb.alt = 'Snapshot';
    thumb.loading = 'lazy';
    thumb.src = `/api/events/${encodeURIComponent(e.id)}/snapshot.jpg`;
  } else {
    thumb = document.createElement('div');
    thumb.className = 'thumb nothumb';
    thumb.textContent = 'no picture';
  }
  const meta = document.createElement('div');
  meta.className = 'meta';
  const type = document.createElement('div');
  type.className = 'type';
  type.textContent = typeNames[e.event_type] || e.event_type;
  const at = document.createElement('time');
  at.dateTime = e.at;
  at.textContent = fmtTime(e.at);
  meta.append(type, at);
  li.append(thumb, meta);
  if (e.clip_id) {
    const b = document.createElement('button');
    b.textContent = 'Play clip';
    b.dataset.test = 'event-play';
    b.addEventListener('click', () => openPlayer(state.clips.get(e.clip_id) || { id: e.clip_id, playable: true, start: e.at }));
    li.append(b);
  }
  return li;
}

function renderTimeline() {
  const ul = $('timeline');
  const list = [...state.events.values()].sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : b.seq - a.seq));
  ul.replaceChildren(...list.map(renderEntry));
  $('timeline-empty').hidden = list.length > 0;
}

async function loadEvents() {
  try {
    const res = await api('/api/events?limit=100');
    if (!res.ok) throw new Error(await errorText(res));
    state.events.clear();
    for (const e of await res.json()) state.events.set(e.id, e);
    renderTimeline();
  } catch (e) {
    if (!(e instanceof AuthError)) toast(`Events: ${e.message}`);
  }
}

function applyUpdate(u) {
  switch (u.kind) {
    case 'added':
    case 'updated':
      state.events.set(u.entry.id, u.entry);
      break;
    case 'removed':
      state.events.delete(u.entry.id);
      break;
    case 'cleared':
      loadEvents();
      return;
    default:
      return;
  }
  renderTimeline();
  if (u.entry.clip_id) loadClips();
}

function openStream() {
  if (state.source) state.source.close();
  const es = new EventSource('/api/events/stream');
  state.source = es;
  // Each (re)connect starts with "ready": reload what we may have missed.
  es.addEventListener('ready', () => loadEvents());
  es.addEventListener('event', (m) => applyUpdate(JSON.parse(m.data)));
  es.addEventListener('status', (m) => {
    const s = JSON.parse(m.data);
    setSwitchBox(s.switch, s.on);
    if (s.switch === 'privacy') startLive();
  });
  es.addEventListener('resync', () => loadEvents());
  es.addEventListener('error', () => {
    // EventSource reconnects by itself; a closed one (e.g. 401) is
    // reopened after checking the session.
    if (es.readyState === EventSource.CLOSED && state.started) {
      setTimeout(async () => {
        try {
          const s = await loadSession();
          if (!s.open && !s.user) { showLogin(); return; }
        } catch (e) { /* unreachable: retry */ }
        if (state.started && state.source === es) openStream();
      }, 3000);
    }
  });
}

// ---- clips ----

async function loadClips() {
  try {
    const res = await api('/api/clips');
    if (res.status === 503) { $('clips-empty').textContent = await errorText(res); $('clips-empty').hidden = false; return; }
    if (!res.ok) throw new Error(await errorText(res));
    const clips = await res.json();
    state.clips = new Map(clips.map((c) => [c.id, c]));
    $('clips').replaceChildren(...clips.map(renderClip));
    $('clips-empty').textContent = 'No clips stored.';
    $('clips-empty').hidden = clips.length > 0;
  } catch (e) {
    if (!(e instanceof AuthError)) toast(`Clips: ${e.message}`);
  }
}

function renderClip(c) {
  const li = document.createElement('li');
  li.dataset.test = 'clip';
  li.dataset.id = c.id;
  const meta = document.createElement('div');
  meta.className = 'meta';
  meta.textContent = `${fmtTime(c.start)} · ${(c.duration_ms / 1000).toFixed(1)} s · ${c.codec}`;
  li.append(meta);
  if (c.encrypted) {
    const lock = document.createElement('span');
    lock.className = 'lock';
    lock.dataset.test = 'clip-encrypted';
    lock.textContent = 'encrypted';
    lock.title = c.downloadable === false
      ? 'Encrypted for its owner: get it with doorbellctl clips pull --identity key.txt'
      : 'Stored encrypted; this doorbell holds the key';
    li.append(lock);
  }
  // A sealed clip this doorbell cannot open has nothing to play or fetch.
  const locked = c.encrypted && c.downloadable === false;
  if (!locked) {
    const play = document.createElement('button');
    play.textContent = c.playable ? 'Play' : 'Info';
    play.dataset.test = 'clip-play';
    play.addEventListener('click', () => openPlayer(c));
    const dl = document.createElement('a');
    dl.href = `/api/clips/${encodeURIComponent(c.id)}.mp4`;
    dl.textContent = 'MP4';
    dl.setAttribute('download', '');
    dl.dataset.test = 'clip-download';
    li.append(play, dl);
  }
  return li;
}

function openPlayer(c) {
  const p = $('player');
  p.hidden = false;
  p.dataset.clip = c.id;
  $('player-title').textContent = c.start ? fmtTime(c.start) : c.id;
  $('player-download').href = `/api/clips/${encodeURIComponent(c.id)}.mp4`;
  $('player-download').hidden = c.downloadable === false;
  $('player-replay').hidden = c.playable === false;
  const msg = $('player-msg');
  const img = $('player-img');
  if (c.encrypted && c.downloadable === false) {
    img.removeAttribute('src');
    msg.textContent = 'This clip is encrypted for its owner: get it with doorbellctl clips pull --identity key.txt.';
    msg.hidden = false;
  } else if (c.playable === false) {
    img.removeAttribute('src');
    msg.textContent = `This clip is ${c.codec}, which the page cannot play: download the MP4 to watch it.`;
    msg.hidden = false;
  } else {
    msg.hidden = true;
    img.src = `/api/clips/${encodeURIComponent(c.id)}/play.mjpeg?t=${Date.now()}`;
  }
  p.scrollIntoView({ behavior: 'smooth', block: 'nearest' });
}

function closePlayer() {
  const p = $('player');
  p.hidden = true;
  $('player-img').removeAttribute('src');
}

async function playerFailed() {
  const id = $('player').dataset.clip;
  if ($('player').hidden || !id || !$('player-img').getAttribute('src')) return;
  const msg = $('player-msg');
  try {
    const res = await api(`/api/clips/${encodeURIComponent(id)}/play.mjpeg`, { method: 'HEAD' });
    if (res.status === 409) {
      msg.textContent = 'This clip is encrypted for its owner: get it with doorbellctl clips pull --identity key.txt.';
      $('player-download').hidden = true;
    } else if (res.status === 404) {
      msg.textContent = 'This clip is gone.';
    } else {
      msg.textContent = res.ok ? 'Playback failed.' : `Playback failed: ${res.status}. Download the MP4 instead.`;
    }
  } catch (e) {
    if (e instanceof AuthError) return;
    msg.textContent = 'Playback failed: doorbell unreachable.';
  }
  msg.hidden = false;
}

// ---- switches and buttons ----

function setSwitchBox(name, on) {
  const box = $(`sw-${name}`);
  if (box) box.checked = !!on;
}

async function loadSwitches() {
  try {
    const res = await api('/api/switches');
    if (!res.ok) return; // the backend does not say: status fills in what it can
    const s = await res.json();
    for (const [k, v] of Object.entries(s)) setSwitchBox(k, v);
  } catch (e) { /* login shown, or status will tell */ }
}

async function setSwitch(ev) {
  const box = ev.target;
  const name = box.id.replace('sw-', '');
  const on = box.checked;
  box.disabled = true;
  try {
    const res = await api(`/api/switch/${name}`, { method: 'POST', body: JSON.stringify({ on }) });
    if (!res.ok) throw new Error(await errorText(res));
    if (name === 'privacy') startLive();
  } catch (e) {
    box.checked = !on;
    if (!(e instanceof AuthError)) toast(`${name}: ${e.message}`);
  } finally {
    box.disabled = false;
  }
}

async function press(button, path, done) {
  button.disabled = true;
  try {
    const res = await api(path, { method: 'POST' });
    if (!res.ok) throw new Error(await errorText(res));
    toast(done);
  } catch (e) {
    if (!(e instanceof AuthError)) toast(e.message);
  } finally {
    button.disabled = false;
  }
}

// ---- privacy: delete all recordings, access log ----

async function loadFeatures() {
  try {
    const res = await api('/api/features');
    state.features = res.ok ? await res.json() : {};
  } catch (e) {
    if (e instanceof AuthError) return;
    state.features = {};
  }
  const f = state.features;
  $('btn-door').hidden = !f.door;
  loadReplies();
  $('delete-box').hidden = !f.delete_recordings;
  $('audit-box').hidden = !f.audit;
  $('privacy-card').hidden = !f.delete_recordings && !f.audit;
  clearInterval(state.auditTimer);
  if (f.audit) {
    loadAudit();
    state.auditTimer = setInterval(loadAudit, 30000);
  }
}

// ---- quick replies ----

// replyLabel turns a reply's name into its button's text:
// "leave_at_door" -> "Leave at door".
function replyLabel(name) {
  const s = name.replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

// loadReplies shows one button per quick reply (GET /api/replies), or
// hides the row when the doorbell has none. Names go in as textContent.
async function loadReplies() {
  const row = $('replies');
  let names = [];
  if (state.features.replies) {
    try {
      const res = await api('/api/replies');
      if (!res.ok) throw new Error(await errorText(res));
      const body = await res.json();
      names = Array.isArray(body.replies) ? body.replies.filter((n) => typeof n === 'string' && n) : [];
    } catch (e) {
      if (e instanceof AuthError) return;
      toast(`Quick replies: ${e.message}`);
    }
  }
  $('reply-buttons').replaceChildren(...names.map((name) => {
    const b = document.createElement('button');
    const label = replyLabel(name);
    b.textContent = label;
    b.dataset.test = `reply-${name}`;
    b.addEventListener('click', () => press(b, `/api/reply/${encodeURIComponent(name)}`, `Playing: ${label}`));
    return b;
  }));
  row.hidden = names.length === 0;
  row.dataset.count = names.length; // loaded: how many buttons
}

async function openDoor(ev) {
  if (!window.confirm('Open the door now?')) return;
  await press(ev.target, '/api/door/open', 'Door opened.');
  loadAudit();
}

async function deleteRecordings(ev) {
  const button = ev.target;
  if (!window.confirm('Delete every stored clip and snapshot? This cannot be undone.')) return;
  button.disabled = true;
  try {
    const res = await api('/api/recordings/delete', { method: 'POST' });
    if (!res.ok) throw new Error(await errorText(res));
    const { deleted } = await res.json();
    toast(`Deleted ${deleted} ${deleted === 1 ? 'clip' : 'clips'}`);
    closePlayer();
  } catch (e) {
    if (!(e instanceof AuthError)) toast(`Delete recordings: ${e.message}`);
  } finally {
    button.disabled = false;
    loadClips();
    loadEvents();
    loadAudit();
  }
}

const actionNames = {
  live: 'live view', snapshot: 'snapshot', 'clip.fetch': 'clip', 'clip.pull': 'clip pulled',
  'recordings.delete': 'all recordings deleted', privacy: 'privacy mode',
  config: 'config changed', 'ota.install': 'update installed', login: 'login', 'door.open': 'door opened',
};

// renderAudit makes one access-log line. Every field may carry what a
// user typed (a user name): textContent only.
function renderAudit(e) {
  const li = document.createElement('li');
  li.dataset.test = 'audit-entry';
  li.dataset.seq = e.seq;
  li.dataset.outcome = e.outcome;
  const span = (cls, text) => {
    const s = document.createElement('span');
    s.className = cls;
    s.textContent = text;
    li.append(s);
    return s;
  };
  const at = document.createElement('time');
  at.className = 'a-time';
  at.dateTime = e.at;
  at.textContent = fmtTime(e.at);
  li.append(at);
  span('a-actor', e.actor || '?');
  const action = span('a-action', actionNames[e.action] || e.action);
  action.title = e.action;
  if (e.reason && e.outcome !== 'refused') action.textContent += ` (${e.reason})`;
  if (e.object) span('a-object', e.object);
  const out = span('a-outcome', e.outcome === 'refused' && e.reason ? `refused: ${e.reason}` : e.outcome);
  if (e.outcome !== 'ok') out.classList.add('error');
  if (e.from) span('a-from', `from ${e.from}`);
  if (e.duration_s > 0) span('a-dur', `${e.duration_s.toFixed(1)} s`);
  return li;
}

async function loadAudit() {
  if (!state.features.audit || !$('audit-box').open) return;
  try {
    const res = await api('/api/audit?limit=50');
    if (!res.ok) throw new Error(await errorText(res));
    const list = await res.json();
    $('audit').replaceChildren(...list.map(renderAudit));
    $('audit-empty').hidden = list.length > 0;
  } catch (e) {
    if (!(e instanceof AuthError)) toast(`Access log: ${e.message}`);
  }
}

// ---- status ----

async function loadStatus() {
  const dot = $('health-dot');
  try {
    const res = await api('/api/status');
    if (!res.ok) throw new Error(await errorText(res));
    const st = await res.json();
    const h = st.health || {};
    const dev = st.device;
    const name = typeof dev === 'string' ? dev : dev && (dev.Name || dev.name || dev.ID || dev.id);
    if (name) { $('device').textContent = name; document.title = `${name} · doorbelld`; }
    dot.className = `dot dot-${h.status === 'ok' ? 'ok' : 'degraded'}`;
    dot.title = `health: ${h.status || 'unknown'}`;
    $('st-health').textContent = h.status || 'unknown';
    $('st-camera').textContent = [h.camera, h.camera_format, h.camera_error].filter(Boolean).join(' · ') || 'unknown';
    const mqtt = st.mqtt_connected === true ? 'connected' : st.mqtt_connected === false ? 'disconnected' : (h.mqtt || 'unknown');
    $('st-mqtt').textContent = [mqtt, h.mqtt_error].filter(Boolean).join(' · ');
    $('st-storage').textContent = storageText(st.storage);
    $('st-version').textContent = [h.version, h.sim ? 'sim' : ''].filter(Boolean).join(' · ') || 'unknown';
    if (typeof st.privacy === 'boolean') setSwitchBox('privacy', st.privacy);
    if (h.chime === 'enabled' || h.chime === 'disabled') setSwitchBox('chime', h.chime === 'enabled');
  } catch (e) {
    if (e instanceof AuthError) return;
    dot.className = 'dot dot-down';
    dot.title = `unreachable: ${e.message}`;
  }
}

function storageText(s) {
  if (!s) return 'unknown';
  if (typeof s === 'string') return s;
  const mib = (b) => `${(b / 1048576).toFixed(0)} MiB`;
  const parts = [];
  if (s.Mode || s.mode) parts.push(s.Mode || s.mode);
  const clips = s.Clips ?? s.clips;
  if (clips !== undefined) parts.push(`${clips} clips`);
  const bytes = s.Bytes ?? s.bytes;
  const max = s.MaxBytes ?? s.max_bytes;
  if (bytes !== undefined && max) parts.push(`${mib(bytes)} of ${mib(max)}`);
  const free = s.FreeBytes ?? s.free_bytes;
  if (free !== undefined && free >= 0) parts.push(`${mib(free)} free`);
  return parts.join(' · ') || JSON.stringify(s);
}

// ---- wiring ----

function wire() {
  $('login-form').addEventListener('submit', login);
  $('btn-logout').addEventListener('click', logout);
  $('live').addEventListener('error', liveFailed);
  $('live').addEventListener('load', liveLoaded);
  $('btn-reconnect').addEventListener('click', () => { state.liveDelay = 2000; startLive(); });
  $('btn-snapshot').addEventListener('click', (e) => press(e.target, '/api/snapshot', 'Snapshot taken.'));
  $('btn-chime').addEventListener('click', (e) => press(e.target, '/api/chime/test', 'Chime rung.'));
  $('sw-privacy').addEventListener('change', setSwitch);
  $('sw-chime').addEventListener('change', setSwitch);
  // An SVG element has no hidden property: set the attribute itself.
  $('sw-masks').addEventListener('change', (e) => { $('mask-overlay').toggleAttribute('hidden', !e.target.checked); });
  $('player-img').addEventListener('error', playerFailed);
  $('btn-delete-recordings').addEventListener('click', deleteRecordings);
  $('btn-door').addEventListener('click', openDoor);
  $('audit-box').addEventListener('toggle', () => { if ($('audit-box').open) loadAudit(); });
  $('player-close').addEventListener('click', closePlayer);
  $('player-replay').addEventListener('click', () => {
    const id = $('player').dataset.clip;
    if (id) $('player-img').src = `/api/clips/${encodeURIComponent(id)}/play.mjpeg?t=${Date.now()}`;
  });
}

async function boot() {
  try {
    const s = await loadSession();
    if (s.open || s.user) startApp(); else showLogin();
  } catch (e) {
    toast(`Doorbell unreachable: ${e.message}`);
    setTimeout(boot, 5000);
  }
}

wire();
boot();
