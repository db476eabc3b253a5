// Ferry's click-to-call page: a visitor types a name, passes the proof-of-work CAPTCHA and calls
// one configured service (`?dest=NAME`) or the destination of a call link (`?link=TOKEN`) with
// JsSIP over SIP-over-WebSocket to Ferry. State for tests is on window.ferryCall.
// Plain ES module, no framework; everything it fetches is served by Ferry (works offline).

import { solve } from './pow.js';

const q = new URLSearchParams(location.search);
const LINK = (q.get('link') || '').trim();
const HOST = location.hostname; // "[::1]" for IPv6, which is also the SIP URI form
const WS = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/sip`;
const NAME_MAX = 64;
const STATS_EVERY_MS = 2000;

const $ = (id) => document.getElementById(id);
const log = (...a) => console.log('[ferry-call]', ...a);

// ---- what the visitor reads for each refusal ----

// Ferry refuses with 403 and one of these reason phrases; /api/link reports the same conditions
// before any call, so both paths end in the same message.
const REFUSALS = {
  'Destination Not Allowed': 'This number cannot be called from this page.',
  'CAPTCHA Required': 'The security check was missing. Please reload the page and try again.',
  'CAPTCHA Failed': 'The security check did not pass. Please try again.',
  'Link Expired': 'This call link has expired.',
  'Link Not Yet Active': 'This call link is not active yet.',
  'Link Already Used': 'This call link has already been used.',
  'Link Invalid': 'This call link is not valid.',
};
// Refusals that no retry can change: the page drops its Call button.
const FINAL = new Set(['Destination Not Allowed', 'Link Expired', 'Link Not Yet Active', 'Link Already Used', 'Link Invalid']);
const LINK_ERRORS = {
  expired: 'Link Expired',
  not_yet_active: 'Link Not Yet Active',
  already_used: 'Link Already Used',
  invalid: 'Link Invalid',
};

// Any other final response or local failure (JsSIP's cause when there was no response).
function failureMessage(code, cause) {
  if (code === 486 || code === 600) return 'The line is busy. Please try again later.';
  if (code === 480) return 'Nobody is available to take your call right now.';
  if (code === 404 || code === 604) return 'This number does not exist.';
  if (code === 408 || cause === 'No Answer') return 'Nobody answered.';
  if (code === 603) return 'The call was declined.';
  if (code === 488 || code === 415) return 'Your browser and the service could not agree on an audio format.';
  if (code >= 500) return 'The service is temporarily unavailable. Please try again later.';
  if (cause === 'Connection Error') return 'Cannot reach the call server. Check your connection and try again.';
  if (cause === 'Request Timeout') return 'The call server did not respond. Please try again.';
  if (cause === 'User Denied Media Access') return 'Microphone access was denied. Allow the microphone and try again.';
  if (cause === 'WebRTC Error' || cause === 'Bad Media Description') return 'Your browser could not set up the audio.';
  return code ? `The call could not be completed (${code}).` : 'The call could not be completed.';
}

const when = (unix) => new Date(unix * 1000).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });

// ---- state shown to people (status panel) and to tests (window.ferryCall) ----

const fc = {
  state: 'idle', // idle | preparing | calling | ringing | connected | ended | failed
  cause: null, // the SIP reason phrase, "CODE Reason", or JsSIP's cause
  status: null, // SIP status code of the final response that failed the call
  message: null, // what the visitor was told
  dest: null,
  link: LINK || null,
  endedBy: null, // 'local' | 'remote' | 'system'
  durationS: null,
  muted: false,
  dtmfSent: [],
  events: [], // short history, for a failed test run
  ready: false,
  blocked: false, // the page itself refuses (a dead link, no service): no call button
  quality: null, // { quality: 'good'|'fair'|'poor', lossPct, flowing } from the last sample
  stats: async () => ({ ...(await readStats()), ...fc.quality }),
  call: () => startCall(),
  hangup: () => hangup(),
  dtmf: (key) => dtmf(key),
};
window.ferryCall = fc;

const TITLES = {
  idle: 'Ready to call',
  preparing: 'Preparing…',
  calling: 'Calling…',
  ringing: 'Ringing…',
  connected: 'Connected',
  ended: 'Call ended',
  failed: 'Call failed',
};

function setState(state, { cause, message, detail } = {}) {
  fc.state = state;
  if (cause !== undefined) fc.cause = cause;
  if (message !== undefined) fc.message = message;
  fc.events.push({ t: Math.round(performance.now()), state, cause: cause ?? null });
  document.body.className = state;
  $('status-text').textContent = message ?? TITLES[state];
  $('status-detail').textContent = detail ?? '';
  const active = state === 'preparing' || state === 'calling' || state === 'ringing';
  $('setup').hidden = active || state === 'connected' || fc.blocked;
  $('incall').hidden = state !== 'connected';
  $('cancel').hidden = !active;
  $('call').textContent = state === 'ended' || state === 'failed' ? 'Call again' : 'Call';
  $('call').disabled = !fc.ready || fc.blocked;
  log('state', state, cause ?? '');
}

// ---- where the call goes: a service or a call link ----

async function getJson(url) {
  const r = await fetch(url, { cache: 'no-store' });
  const body = await r.json().catch(() => null);
  return { ok: r.ok, status: r.status, body };
}

// Refuses the page itself (a dead link): the form goes away, the reason stays.
function block(cause, detail) {
  fc.blocked = true;
  setState('failed', { cause, message: REFUSALS[cause] ?? failureMessage(null, cause), detail });
}

async function resolveLink() {
  const { body } = await getJson(`api/link?token=${encodeURIComponent(LINK)}`);
  if (!body?.ok) {
    const cause = LINK_ERRORS[body?.error] ?? 'Link Invalid';
    let detail = '';
    if (body?.error === 'not_yet_active' && body.starts) detail = `You can call from ${when(body.starts)}.`;
    if (body?.error === 'expired' && body.ended) detail = `It ended on ${when(body.ended)}.`;
    block(cause, detail);
    return;
  }
  fc.dest = body.dest;
  showDest(body.label || body.dest);
  if (body.name) {
    // The link fixes the name the agent sees.
    $('name').value = body.name;
    $('name').readOnly = true;
  }
  const notes = [];
  if (body.one_time) notes.push('This link works for one call.');
  if (body.not_after) notes.push(`Valid until ${when(body.not_after)}.`);
  fc.linkNote = notes.join(' ');
}

async function resolveService() {
  const wanted = (q.get('dest') || '').trim();
  let services = [];
  try {
    services = (await getJson('api/services')).body?.services ?? [];
  } catch (e) {
    log('services:', e.message);
  }
  if (wanted) {
    // Ferry decides what may be called (403 Destination Not Allowed); the list only gives the label.
    fc.dest = wanted;
    showDest(services.find((s) => s.name === wanted)?.label || wanted);
    return;
  }
  if (!services.length) {
    block('Destination Not Allowed');
    return;
  }
  const select = $('service');
  for (const s of services) select.append(new Option(s.label || s.name, s.name));
  $('service-row').hidden = false;
  fc.dest = select.value;
  showDest(null);
  select.addEventListener('change', () => { fc.dest = select.value; });
}

function showDest(label) {
  const text = label ? `Call ${label}` : 'Call us';
  $('title').textContent = text;
  document.title = text;
}

// ---- the call ----

let ua = null;
let session = null;
let localEnd = false;
let abort = null; // AbortController of the proof of work in progress
let connectedAt = 0;
let ticker = 0;

function jssip() {
  if (window.JsSIP) return Promise.resolve(window.JsSIP);
  // The classic script is deferred like this module, so this only happens if it failed to load.
  return Promise.reject(new Error('jssip.min.js did not load'));
}

// A new UA per call, so the WebSocket is open only while calling and carries the name typed.
function startUa(JsSIP, name) {
  return new Promise((resolve, reject) => {
    const u = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(WS)],
      uri: `sip:anonymous@${HOST}`,
      display_name: name,
      register: false,
      // Give up on a dead server quickly instead of JsSIP's backoff up to 30 s.
      connection_recovery_min_interval: 2,
      connection_recovery_max_interval: 4,
    });
    u.once('connected', () => resolve(u));
    u.once('disconnected', () => reject(new Error('Connection Error')));
    u.start();
    ua = u;
  });
}

function stopUa() {
  try { ua?.stop(); } catch (e) { log('ua stop:', e.message); }
  ua = null;
}

async function startCall() {
  if (!fc.ready || fc.blocked || !['idle', 'ended', 'failed'].includes(fc.state)) return false;
  const name = $('name').value.trim().slice(0, NAME_MAX);
  if (!name) {
    $('name-error').hidden = false;
    $('name').setAttribute('aria-invalid', 'true');
    $('name').focus();
    return false;
  }
  $('name-error').hidden = true;
  $('name').removeAttribute('aria-invalid');
  Object.assign(fc, { cause: null, status: null, message: null, endedBy: null, durationS: null, dtmfSent: [], muted: false });
  $('dtmf-sent').textContent = '';
  localEnd = false;
  setState('preparing', { detail: 'A quick security check runs in your browser.' });
  abort = new AbortController();
  try {
    const JsSIP = await jssip();
    // The WebSocket opens while the proof of work runs.
    const uaReady = startUa(JsSIP, name);
    uaReady.catch(() => {}); // awaited below; not unhandled if the proof of work fails first
    const challenge = (await getJson('api/challenge')).body;
    if (!challenge?.id) throw new Error('CAPTCHA Required');
    const nonce = await solve(challenge, { signal: abort.signal });
    await uaReady;
    if (localEnd) throw new Error('Canceled');
    const extraHeaders = [`X-Ferry-Captcha: ${challenge.id}:${nonce}`];
    if (LINK) extraHeaders.push(`X-Ferry-Link: ${LINK}`);
    setState('calling', { detail: '' });
    session = ua.call(`sip:${fc.dest}@${HOST}`, {
      extraHeaders,
      mediaConstraints: { audio: true, video: false },
      pcConfig: { iceServers: [] },
      eventHandlers: handlers,
    });
  } catch (e) {
    stopUa();
    const cause = localEnd || e.message === 'aborted' ? 'Canceled' : e.message;
    fail(cause, null, cause === 'Canceled' ? 'You cancelled the call.' : undefined);
  } finally {
    abort = null;
  }
  return true;
}

const handlers = {
  peerconnection: (e) => watchPc(e.peerconnection),
  progress: () => { if (fc.state === 'calling') setState('ringing'); },
  accepted: () => connected(),
  confirmed: () => { if (fc.state !== 'connected') connected(); },
  ended: (e) => {
    fc.endedBy = e.originator;
    const secs = connectedAt ? Math.round((Date.now() - connectedAt) / 1000) : 0;
    fc.durationS = secs;
    teardown();
    const who = e.originator === 'local' ? 'You hung up' : 'The other side hung up';
    setState('ended', { cause: e.cause, message: `Call ended · ${clock(secs)}`, detail: `${who}.` });
  },
  failed: (e) => {
    const res = e.message?.status_code ? e.message : null;
    // JsSIP turns a dead WebSocket under an unanswered INVITE into a local CANCEL ("Canceled").
    const dead = e.cause === 'Canceled' && !localEnd && !ua?.isConnected();
    fc.endedBy = dead ? 'system' : e.originator;
    teardown();
    if (localEnd) fail('Canceled', null, 'You cancelled the call.');
    else if (res) fail(res.status_code === 403 && REFUSALS[res.reason_phrase] ? res.reason_phrase : `${res.status_code} ${res.reason_phrase}`, res.status_code);
    else fail(dead ? 'Connection Error' : e.cause, null);
  },
};

function fail(cause, code, message) {
  fc.status = code;
  if (FINAL.has(cause)) fc.blocked = true;
  setState('failed', { cause, message: message ?? REFUSALS[cause] ?? failureMessage(code, cause) });
}

function connected() {
  connectedAt = Date.now();
  attachFromReceivers();
  setState('connected', { cause: null, detail: 'Your keyboard works as a dial pad too.' });
  $('timer').textContent = '00:00';
  ticker = setInterval(tick, 1000);
  sampleQuality();
  $('hangup').focus();
}

function tick() {
  $('timer').textContent = clock(Math.floor((Date.now() - connectedAt) / 1000));
}

// mm:ss, or h:mm:ss past an hour.
function clock(secs) {
  const two = (n) => String(n).padStart(2, '0');
  const h = Math.floor(secs / 3600);
  const m = Math.floor((secs % 3600) / 60);
  return h ? `${h}:${two(m)}:${two(secs % 60)}` : `${two(m)}:${two(secs % 60)}`;
}

function teardown() {
  clearInterval(ticker);
  clearTimeout(qualityTimer);
  ticker = 0;
  connectedAt = 0;
  session = null;
  $('mute').setAttribute('aria-pressed', 'false');
  $('mute').textContent = 'Mute';
  // Let JsSIP send its BYE/ACK before the socket goes.
  setTimeout(stopUa, 500);
}

function hangup() {
  localEnd = true;
  abort?.abort();
  try { session?.terminate(); } catch (e) { log('hangup:', e.message); }
}

function toggleMute() {
  if (!session) return;
  if (session.isMuted().audio) session.unmute({ audio: true });
  else session.mute({ audio: true });
  fc.muted = session.isMuted().audio;
  $('mute').setAttribute('aria-pressed', String(fc.muted));
  $('mute').textContent = fc.muted ? 'Unmute' : 'Mute';
}

function dtmf(key) {
  key = String(key);
  if (fc.state !== 'connected' || !session || !/^[0-9*#]$/.test(key)) return false;
  try {
    // RFC 4733 events in the media; JsSIP queues keys pressed while one is still playing.
    session.sendDTMF(key, { transportType: 'RFC2833' });
  } catch (e) {
    log('dtmf failed:', e.message);
    return false;
  }
  fc.dtmfSent.push(key);
  $('dtmf-sent').textContent = `Sent: ${fc.dtmfSent.join('')}`;
  const btn = document.querySelector(`#keypad [data-key="${CSS.escape(key)}"]`);
  btn?.classList.add('pressed');
  setTimeout(() => btn?.classList.remove('pressed'), 150);
  return true;
}

// ---- media and quality ----

let pc = null;
let attachedTrack = null;

function watchPc(conn) {
  if (!conn || conn === pc) return;
  pc = conn;
  attachedTrack = null;
  conn.addEventListener('track', (e) => attach(e.track));
}

function attachFromReceivers() {
  const r = pc?.getReceivers().find((x) => x.track?.kind === 'audio');
  if (r) attach(r.track);
}

function attach(track) {
  if (!track || track.kind !== 'audio' || track === attachedTrack) return;
  attachedTrack = track;
  $('remote').srcObject = new MediaStream([track]);
  $('remote').play().catch((e) => log('audio play:', e.message));
}

let last = null; // the previous sample's totals, for loss over the last interval
let qualityTimer = 0;

// Totals from getStats: inbound-rtp (what we receive) and remote-inbound-rtp (what the far end
// reports about what we send: its loss and the round-trip time).
async function readStats() {
  const out = { inboundPackets: 0, outboundPackets: 0, packetsLost: 0, jitterMs: null, rttMs: null, remoteLossPct: null };
  if (!pc) return out;
  (await pc.getStats()).forEach((s) => {
    if (s.kind !== 'audio') return;
    if (s.type === 'inbound-rtp') {
      out.inboundPackets += s.packetsReceived ?? 0;
      out.packetsLost += Math.max(0, s.packetsLost ?? 0);
      if (s.jitter != null) out.jitterMs = Math.round(s.jitter * 1000);
    } else if (s.type === 'outbound-rtp') {
      out.outboundPackets += s.packetsSent ?? 0;
    } else if (s.type === 'remote-inbound-rtp') {
      if (s.roundTripTime != null) out.rttMs = Math.round(s.roundTripTime * 1000);
      if (s.fractionLost != null) out.remoteLossPct = s.fractionLost * 100;
    }
  });
  return out;
}

// Thresholds after ITU-T G.114/G.107 rules of thumb for voice: under 1 % loss, 30 ms jitter and
// 300 ms round trip is good; past 5 %, 60 ms or 600 ms people notice.
function grade(lossPct, jitterMs, rttMs, flowing) {
  if (!flowing) return 'poor';
  const level = (v, fair, poor) => (v == null ? 0 : v >= poor ? 2 : v >= fair ? 1 : 0);
  return ['good', 'fair', 'poor'][Math.max(level(lossPct, 1, 5), level(jitterMs, 30, 60), level(rttMs, 300, 600))];
}

async function sampleQuality() {
  if (fc.state !== 'connected') return;
  try {
    const s = await readStats();
    const dIn = s.inboundPackets - (last?.inboundPackets ?? 0);
    const dLost = s.packetsLost - (last?.packetsLost ?? 0);
    const localLoss = dIn + dLost > 0 ? (100 * Math.max(0, dLost)) / (dIn + dLost) : 0;
    const lossPct = Math.round(Math.max(localLoss, s.remoteLossPct ?? 0) * 10) / 10;
    const flowing = dIn > 0;
    last = s;
    const quality = grade(lossPct, s.jitterMs, s.rttMs, flowing);
    fc.quality = { quality, lossPct, flowing };
    showQuality(quality, lossPct, s.jitterMs, s.rttMs, flowing);
  } catch (e) {
    log('stats:', e.message);
  }
  qualityTimer = setTimeout(sampleQuality, STATS_EVERY_MS);
}

function showQuality(quality, lossPct, jitterMs, rttMs, flowing) {
  const ms = (v) => (v == null ? '–' : `${v} ms`);
  const numbers = `Loss ${lossPct.toFixed(1)} % · Jitter ${ms(jitterMs)} · RTT ${ms(rttMs)}`;
  const label = flowing ? { good: 'Good', fair: 'Fair', poor: 'Poor' }[quality] : 'No audio';
  const el = $('quality');
  el.className = `quality ${quality}`;
  el.title = `Connection quality: ${label}. ${numbers}`;
  $('quality-label').textContent = label;
  $('quality-numbers').textContent = numbers;
}

// ---- wiring ----

$('setup').addEventListener('submit', (e) => { e.preventDefault(); startCall(); });
$('cancel').addEventListener('click', hangup);
$('hangup').addEventListener('click', hangup);
$('mute').addEventListener('click', toggleMute);
$('keypad').addEventListener('click', (e) => { const k = e.target.closest('[data-key]')?.dataset.key; if (k) dtmf(k); });
// The keyboard works as a keypad during a call (not while typing in a field).
document.addEventListener('keydown', (e) => {
  if (fc.state !== 'connected' || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement) return;
  if (/^[0-9*#]$/.test(e.key) && dtmf(e.key)) e.preventDefault();
});

async function init() {
  if (LINK) await resolveLink();
  else await resolveService();
  fc.ready = true;
  if (!fc.blocked) {
    setState('idle', { detail: fc.linkNote ?? '' });
    if (!$('name').value) $('name').focus();
  }
  log('ready', fc.dest ?? '', WS);
}

init().catch((e) => {
  fc.ready = true;
  block('init', `The page could not start: ${e.message}`);
});
