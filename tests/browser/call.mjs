#!/usr/bin/env node
// Drives Ferry's test page in real Chromium (playwright-core) for one call and checks that audio,
// not just packets, made the round trip. Prints ONE JSON line on stdout; exit 0 only if every check
// passed (1: a check failed, 2: bad usage or the harness itself broke). Browser console -> stderr.
//
//   node call.mjs --url 'http://127.0.0.1:8080/?lib=jssip&dest=echo' --expect-tone 1230 \
//                 --dtmf 5 --hangup browser|remote|none --duration 6 --screenshot out.png
//   node call.mjs --url ... --register alice --ready-file /tmp/x   # wait for a call, auto-answer
//   node call.mjs --selftest       # no Ferry needed: loopback, dead ws, page-to-page via sip-relay.mjs
//
// Extra steps, after the tone and the keys (each adds an object to the JSON line, and fails the run
// when it does not hold):
//   --hold               hold (re-INVITE a=sendonly), 2 s, resume (a=sendrecv): the tone must be back
//                        and packets arriving again ("hold": {...})
//   --hold-refused CODE  hold, which the far end must refuse with CODE; 2 s later the call must
//                        go on as before: connected, the tone and packets still arriving
//                        ("holdRefused": {...})
//   --mid-call CMD       run `bash -c CMD` (it must exit 0), sampling stats every 250 ms meanwhile;
//                        then --mid-call-wait s (default 3): packets must keep arriving and the tone
//                        must still be there ("midCall": {...})
//   --expect-fail CODE   the call must fail with a final response CODE (and never connect)
//   --ignore-cert-errors Chromium accepts Ferry's self-signed certificate (https page, wss)
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureTone, launchChromium } from './lib.mjs';
import { attachSipRelay } from './sip-relay.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ASSETS = path.resolve(here, '../../signaling/assets');
const TONE_HZ = 1230; // what make-tone.py writes by default

const { values: opt } = parseArgs({
  options: {
    url: { type: 'string' },
    'expect-tone': { type: 'string' },
    'tone-tolerance': { type: 'string', default: '30' },
    dtmf: { type: 'string' },
    hangup: { type: 'string', default: 'browser' },
    duration: { type: 'string', default: '6' },
    screenshot: { type: 'string' },
    register: { type: 'string' },
    'ready-file': { type: 'string' },
    'connect-timeout': { type: 'string', default: '20' },
    'answer-timeout': { type: 'string', default: '30' },
    'remote-timeout': { type: 'string', default: '30' },
    'min-packets': { type: 'string', default: '50' },
    tone: { type: 'string', default: path.join(here, 'tone.wav') },
    chromium: { type: 'string', default: process.env.CHROMIUM || '/usr/bin/chromium' },
    selftest: { type: 'boolean', default: false },
    hold: { type: 'boolean', default: false },
    'hold-refused': { type: 'string' },
    'mid-call': { type: 'string' },
    'mid-call-wait': { type: 'string', default: '3' },
    'expect-fail': { type: 'string' },
    'ignore-cert-errors': { type: 'boolean', default: false },
  },
  strict: true,
});

const num = (name) => {
  const v = Number(opt[name]);
  if (!Number.isFinite(v)) usage(`--${name} must be a number`);
  return v;
};
function usage(msg) {
  process.stderr.write(`call.mjs: ${msg}\n`);
  process.exit(2);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const say = (...a) => process.stderr.write(`[call.mjs] ${a.join(' ')}\n`);

// ---- tone file and browser ----

const launch = (toneFile) => launchChromium({
  chromium: opt.chromium, toneFile, ignoreCertErrors: opt['ignore-cert-errors'], profilePrefix: 'ferry-chromium-',
});

async function openPage(context, url) {
  const page = await context.newPage();
  page.on('console', (m) => process.stderr.write(`[browser ${m.type()}] ${m.text()}\n`));
  page.on('pageerror', (e) => process.stderr.write(`[browser pageerror] ${e.message}\n`));
  await page.goto(url, { timeout: 15_000 });
  await page.waitForFunction(() => window.ferryTest?.ready || window.ferryTest?.state === 'failed', null, { timeout: 15_000 });
  return page;
}

const pageState = (page) => page.evaluate(() => {
  const t = window.ferryTest;
  return { state: t.state, cause: t.cause, endedBy: t.endedBy, registered: t.registered, incoming: t.incoming, status: t.status ?? null };
});

// Waits until fn(state) holds, or the timeout; returns the last state either way.
async function waitFor(page, fn, timeoutS) {
  const end = Date.now() + timeoutS * 1000;
  let s;
  for (;;) {
    s = await pageState(page);
    if (fn(s) || Date.now() > end) return s;
    await sleep(100);
  }
}

// Median of a few analyser readings over about a second: one reading can catch a glitch.
async function measureTone(page) {
  const samples = [];
  for (let i = 0; i < 10; i++) {
    samples.push(await page.evaluate(() => window.ferryTest.toneHz()));
    await sleep(100);
  }
  const found = samples.filter((x) => x != null).sort((a, b) => a - b);
  const median = found.length ? found[Math.floor(found.length / 2)] : null;
  return { hz: median == null ? null : Math.round(median * 10) / 10, samples: samples.map((x) => (x == null ? null : Math.round(x))) };
}

// ---- one call, the checks, the JSON result ----

async function runCall(context, o) {
  const r = { ok: false, url: o.url, failures: [] };
  const fail = (why) => { r.failures.push(why); say('FAIL', why); };
  const page = await openPage(context, o.url);
  try {
    Object.assign(r, await page.evaluate(() => ({ lib: window.ferryTest.lib, libVersion: window.ferryTest.libVersion ?? null, ws: window.ferryTest.ws })));
    let s = await pageState(page);
    if (s.state === 'failed') { fail(`page failed to start: ${s.cause}`); return r; }
    const t0 = Date.now();

    if (o.register) {
      s = await waitFor(page, (x) => x.registered || x.state === 'failed', o.connectTimeout);
      if (!s.registered) { fail(`not registered as ${o.register}: ${s.cause ?? 'timeout'}`); return r; }
      r.registerMs = Date.now() - t0;
      say('registered as', o.register);
      if (o.readyFile) fs.writeFileSync(o.readyFile, 'registered\n');
      o.onRegistered?.();
      await page.click('body'); // a user gesture, so the AudioContext may start for the incoming call
      s = await waitFor(page, (x) => x.state === 'connected' || x.state === 'ended' || x.state === 'failed', o.answerTimeout);
    } else {
      await page.click('#call'); // through the UI, like a person
      s = await waitFor(page, (x) => x.state !== 'idle' && x.state !== 'calling', o.connectTimeout);
    }
    if (o.expectFail != null) {
      // The call must fail with that final response, not connect.
      if (s.state === 'calling') s = await waitFor(page, (x) => x.state !== 'calling', o.connectTimeout);
      r.expectFail = o.expectFail;
      r.failMs = Date.now() - t0;
      if (s.state !== 'failed') fail(`expected the call to fail with ${o.expectFail}, state ${s.state}`);
      else if (s.status !== o.expectFail) fail(`failed with status ${s.status} (${s.cause}), expected ${o.expectFail}`);
      if (s.state === 'connected') await page.evaluate(() => window.ferryTest.hangup());
      return r;
    }
    if (s.state !== 'connected') { fail(`not connected: state ${s.state}, cause ${s.cause ?? 'timeout'}`); return r; }
    const tConnected = Date.now();
    r.connectMs = tConnected - t0;
    say('connected after', r.connectMs, 'ms');

    await sleep(3000);
    r.stats = await page.evaluate(() => window.ferryTest.stats());
    if (!(r.stats.inboundPackets > o.minPackets)) fail(`inboundPackets ${r.stats.inboundPackets} <= ${o.minPackets}`);

    const tone = await measureTone(page);
    r.toneHz = tone.hz;
    r.toneSamples = tone.samples;
    if (o.expectTone != null) {
      r.expectTone = o.expectTone;
      if (tone.hz == null) fail('no tone in the remote audio (silence)');
      else if (Math.abs(tone.hz - o.expectTone) > o.toneTolerance) fail(`tone ${tone.hz} Hz, expected ${o.expectTone} +-${o.toneTolerance}`);
    }

    if (o.dtmf) {
      r.dtmf = [];
      for (const key of o.dtmf) {
        await page.click(`#keypad [data-key="${key}"]`);
        await sleep(300);
      }
      r.dtmf = await page.evaluate(() => window.ferryTest.dtmfSent);
      if (r.dtmf.join('') !== o.dtmf) fail(`DTMF sent ${JSON.stringify(r.dtmf.join(''))}, wanted ${JSON.stringify(o.dtmf)}`);
    }

    if (o.hold) r.hold = await holdAndResume(page, o, fail);
    if (o.holdRefused != null) r.holdRefused = await holdRefused(page, o, fail);
    if (o.midCall) r.midCall = await midCall(page, o, fail);

    const left = tConnected + o.duration * 1000 - Date.now();
    if (left > 0 && o.hangup !== 'remote') await sleep(left);
    s = await pageState(page);
    if (s.state !== 'connected' && o.hangup !== 'remote') fail(`call dropped early: ${s.state} ${s.cause ?? ''}`);
    r.statsEnd = await page.evaluate(() => window.ferryTest.stats());

    r.hangup = o.hangup;
    if (o.hangup === 'browser') {
      await page.click('#hangup');
      s = await waitFor(page, (x) => x.state === 'ended' || x.state === 'failed', 10);
      if (s.state !== 'ended') fail(`after hangup: state ${s.state}, cause ${s.cause}`);
    } else if (o.hangup === 'remote') {
      s = await waitFor(page, (x) => x.state === 'ended' || x.state === 'failed', o.duration + o.remoteTimeout);
      if (s.state !== 'ended') fail(`far end did not hang up: state ${s.state}`);
      else if (s.endedBy !== 'remote') fail(`ended by ${s.endedBy}, expected remote`);
    }
    r.callMs = Date.now() - tConnected;
    return r;
  } finally {
    const s = await pageState(page).catch(() => ({}));
    Object.assign(r, { state: s.state, cause: s.cause, endedBy: s.endedBy, status: s.status ?? null });
    r.events = await page.evaluate(() => window.ferryTest.events).catch(() => []);
    if (o.screenshot) await page.screenshot({ path: o.screenshot }).catch((e) => say('screenshot:', e.message));
    await page.close().catch(() => {});
    r.ok = r.failures.length === 0;
  }
}

const statsOf = (page) => page.evaluate(() => window.ferryTest.stats());

function toneOk(o, tone) {
  return tone.hz != null && (o.expectTone == null || Math.abs(tone.hz - o.expectTone) <= o.toneTolerance);
}

// Hold, two seconds on hold, resume; then the far end's audio must be back.
async function holdAndResume(page, o, fail) {
  const h = {};
  h.hold = await page.evaluate(() => window.ferryTest.hold());
  if (!h.hold.ok) { fail(`hold failed: ${h.hold.error}`); return h; }
  await sleep(500);
  h.statsHeld = await statsOf(page);
  await sleep(1500);
  h.statsHeldEnd = await statsOf(page);
  h.toneHeld = (await measureTone(page)).hz;
  h.unhold = await page.evaluate(() => window.ferryTest.unhold());
  if (!h.unhold.ok) { fail(`unhold failed: ${h.unhold.error}`); return h; }
  await sleep(1000);
  h.statsResumed = await statsOf(page);
  await sleep(1000);
  const tone = await measureTone(page);
  h.toneResumed = tone.hz;
  h.toneResumedSamples = tone.samples;
  h.statsResumedEnd = await statsOf(page);
  const grew = h.statsResumedEnd.inboundPackets - h.statsResumed.inboundPackets;
  h.inboundAfterResume = grew;
  if (!toneOk(o, tone)) fail(`after resume: tone ${tone.hz} Hz, expected ${o.expectTone}`);
  if (!(grew > 25)) fail(`after resume: ${grew} packets in 2 s`);
  const held = await page.evaluate(() => window.ferryTest.state);
  if (held !== 'connected') fail(`after resume: state ${held}`);
  return h;
}

// Hold, which the far end refuses: the call must go on as it was.
async function holdRefused(page, o, fail) {
  const h = {};
  h.hold = await page.evaluate(() => window.ferryTest.hold());
  if (h.hold.ok) fail('hold succeeded, expected a refusal');
  else if (!String(h.hold.error).startsWith(String(o.holdRefused))) fail(`hold failed with ${h.hold.error}, expected ${o.holdRefused}`);
  h.stats = await statsOf(page);
  await sleep(2000);
  h.statsEnd = await statsOf(page);
  const tone = await measureTone(page);
  h.tone = tone.hz;
  h.inbound = h.statsEnd.inboundPackets - h.stats.inboundPackets;
  h.state = await page.evaluate(() => window.ferryTest.state);
  if (h.state !== 'connected') fail(`after the refused hold: state ${h.state}`);
  if (!toneOk(o, tone)) fail(`after the refused hold: tone ${tone.hz} Hz, expected ${o.expectTone}`);
  if (!(h.inbound > 50)) fail(`after the refused hold: ${h.inbound} packets in 2 s`);
  return h;
}

// Runs a command in the middle of the call; media must go on through it and after it.
async function midCall(page, o, fail) {
  const m = { cmd: o.midCall, series: [] };
  const t0 = Date.now();
  m.statsBefore = await statsOf(page);
  const child = spawn('bash', ['-c', o.midCall], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const done = new Promise((resolve) => child.on('close', (code) => resolve(code)));
  let code = null;
  done.then((c) => { code = c; });
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  while (code === null) {
    const st = await statsOf(page);
    m.series.push([Date.now() - t0, st.inboundPackets]);
    await sleep(250);
  }
  clearTimeout(killer);
  m.status = code;
  m.ms = Date.now() - t0;
  m.stdout = out.trim();
  if (err.trim()) m.stderr = err.trim().slice(-2000);
  if (code !== 0) fail(`mid-call command exited ${code}: ${err.trim().slice(-300)}`);
  m.statsDone = await statsOf(page);
  const end = Date.now() + o.midCallWait * 1000;
  while (Date.now() < end) {
    await sleep(250);
    const st = await statsOf(page);
    m.series.push([Date.now() - t0, st.inboundPackets]);
  }
  m.statsAfter = await statsOf(page);
  const tone = await measureTone(page);
  m.toneAfter = tone.hz;
  m.toneAfterSamples = tone.samples;
  m.inboundGrowth = m.statsAfter.inboundPackets - m.statsBefore.inboundPackets;
  m.inboundGrowthAfter = m.statsAfter.inboundPackets - m.statsDone.inboundPackets;
  if (!(m.inboundGrowthAfter > o.midCallWait * 20)) fail(`after the mid-call command: ${m.inboundGrowthAfter} packets in ${o.midCallWait} s`);
  if (!toneOk(o, tone)) fail(`after the mid-call command: tone ${tone.hz} Hz, expected ${o.expectTone}`);
  const s = await pageState(page);
  if (s.state !== 'connected') fail(`after the mid-call command: state ${s.state} ${s.cause ?? ''}`);
  return m;
}

// ---- self-test: serve signaling/assets ourselves, no Ferry ----

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.md': 'text/plain' };

function serveAssets() {
  const server = http.createServer((req, res) => {
    const name = new URL(req.url, 'http://x').pathname.replace(/^\/+/, '') || 'test.html';
    const file = path.join(ASSETS, path.basename(name));
    fs.readFile(file, (err, body) => {
      if (err) { res.writeHead(404).end(); return; }
      res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' }).end(body);
    });
  });
  attachSipRelay(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

// A port nothing listens on: bind, note the number, close.
function closedPort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
  });
}

// The library must load, and a call to a dead WebSocket must end in 'failed' with a cause.
async function expectConnectionFailure(context, url, lib, globalName) {
  const r = { lib, url, failures: [] };
  const page = await openPage(context, url);
  try {
    r.libVersion = await page.evaluate(() => window.ferryTest.libVersion ?? null);
    r.loaded = await page.evaluate((g) => typeof window[g]?.UserAgent === 'function' || typeof window[g]?.UA === 'function', globalName);
    if (!r.loaded) r.failures.push(`${globalName} did not load`);
    await page.click('#call');
    const s = await waitFor(page, (x) => x.state === 'failed' || x.state === 'connected' || x.state === 'ended', 20);
    Object.assign(r, { state: s.state, cause: s.cause });
    if (s.state !== 'failed' || !s.cause) r.failures.push(`expected failed with a cause, got ${s.state} (${s.cause})`);
  } finally {
    await page.close().catch(() => {});
  }
  r.ok = r.failures.length === 0;
  return r;
}

// Page to page through the toy relay: the callee REGISTERs and auto-answers (call.mjs --register
// mode), the caller dials it and hangs up; each must hear the other's fake microphone.
async function pageToPage(context, base, callerLib, calleeLib, user) {
  const common = { expectTone: TONE_HZ, toneTolerance: 30, duration: 6, connectTimeout: 20, answerTimeout: 30, remoteTimeout: 30, minPackets: 50 };
  let registered;
  const ready = new Promise((r) => { registered = r; });
  const calleeRun = runCall(context, {
    ...common, url: `${base}/?lib=${calleeLib}&user=${user}`, register: user, dtmf: '7', hangup: 'remote', onRegistered: registered,
  });
  await Promise.race([ready, calleeRun]);
  const caller = await runCall(context, { ...common, url: `${base}/?lib=${callerLib}&dest=${user}`, dtmf: '5', hangup: 'browser' });
  const callee = await calleeRun;
  const failures = [...caller.failures.map((f) => `caller: ${f}`), ...callee.failures.map((f) => `callee: ${f}`)];
  return { ok: failures.length === 0, failures, caller, callee };
}

async function selftest(context) {
  const server = await serveAssets();
  try {
    const base = `http://127.0.0.1:${server.address().port}`;
    const dead = `ws://127.0.0.1:${await closedPort()}/sip`;
    const loopback = await runCall(context, {
      url: `${base}/?selftest=1`, expectTone: TONE_HZ, toneTolerance: 30, dtmf: '5', hangup: 'browser',
      duration: 6, connectTimeout: 20, minPackets: 50, screenshot: opt.screenshot,
    });
    const jssip = await expectConnectionFailure(context, `${base}/?lib=jssip&dest=echo&ws=${encodeURIComponent(dead)}`, 'jssip', 'JsSIP');
    const sipjs = await expectConnectionFailure(context, `${base}/?lib=sipjs&dest=echo&ws=${encodeURIComponent(dead)}`, 'sipjs', 'SIP');
    const jssipToSipjs = await pageToPage(context, base, 'jssip', 'sipjs', 'bob');
    const sipjsToJssip = await pageToPage(context, base, 'sipjs', 'jssip', 'carol');
    const parts = { loopback, jssip, sipjs, jssipToSipjs, sipjsToJssip };
    const failures = Object.entries(parts).flatMap(([k, v]) => v.failures.map((f) => `${k}: ${f}`));
    return { ok: failures.length === 0, mode: 'selftest', failures, ...parts };
  } finally {
    server.close();
  }
}

// ---- main ----

async function main() {
  if (!opt.selftest && !opt.url) usage('--url or --selftest is required');
  if (!['browser', 'remote', 'none'].includes(opt.hangup)) usage('--hangup must be browser, remote or none');
  if (opt.dtmf && !/^[0-9*#]+$/.test(opt.dtmf)) usage('--dtmf takes keys 0-9 * #');
  if (!fs.existsSync(opt.chromium)) usage(`no chromium at ${opt.chromium} (set --chromium or CHROMIUM)`);
  ensureTone(opt.tone, TONE_HZ);

  let url = opt.url;
  if (url && opt.register) {
    const u = new URL(url);
    u.searchParams.set('user', opt.register);
    url = u.toString();
  }
  const o = {
    url, register: opt.register, readyFile: opt['ready-file'], screenshot: opt.screenshot,
    expectTone: opt['expect-tone'] != null ? num('expect-tone') : null, toneTolerance: num('tone-tolerance'),
    dtmf: opt.dtmf, hangup: opt.hangup, duration: num('duration'), connectTimeout: num('connect-timeout'),
    answerTimeout: num('answer-timeout'), remoteTimeout: num('remote-timeout'), minPackets: num('min-packets'),
    hold: opt.hold, holdRefused: opt['hold-refused'] != null ? num('hold-refused') : null, midCall: opt['mid-call'], midCallWait: num('mid-call-wait'),
    expectFail: opt['expect-fail'] != null ? num('expect-fail') : null,
  };
  // Whole-run watchdog: whatever hangs, the harness ends and says so.
  const budget = (o.connectTimeout + o.answerTimeout + o.duration + o.remoteTimeout + o.midCallWait + 90) * 1000;
  const watchdog = setTimeout(() => { say(`watchdog: no result after ${budget / 1000} s`); process.exit(2); }, budget);
  watchdog.unref();

  const { context, close } = await launch(opt.tone);
  let result;
  try {
    result = opt.selftest ? await selftest(context) : { mode: opt.register ? 'register' : 'call', ...(await runCall(context, o)) };
  } finally {
    await close();
  }
  process.stdout.write(JSON.stringify(result) + '\n');
  if (!result.ok) say('failed:', result.failures.join('; '));
  return result.ok ? 0 : 1;
}

main().then((code) => process.exit(code), (e) => {
  say('error:', e.stack || e.message);
  process.stdout.write(JSON.stringify({ ok: false, error: e.message }) + '\n');
  process.exit(2);
});
