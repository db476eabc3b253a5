#!/usr/bin/env node
// Drives Ferry's click-to-call page (signaling/assets/call.html) in real Chromium (playwright-core)
// through each of its states, checks the visible text of each and takes a screenshot of it.
// Prints ONE JSON line on stdout ({"ok", "mode", "failures", "steps": [{name, ok, state, cause,
// text, detail, screenshot, bytes, ...}]}); exit 0 only if every check passed (1: a check failed,
// 2: bad usage or the harness broke). Browser console goes to stderr.
//
//   node callpage.mjs --selftest [--shots DIR]
//       no Ferry: callpage-stub.mjs serves the assets and stubs /api/* and SIP over WebSocket; a
//       test page (test.html?user=sales) answers as the "sales" service, so the call connects
//       page to page with real media. Covers idle, the name check, preparing, ringing, connected
//       (quality indicator), DTMF, mute, ended, 403 Destination Not Allowed / CAPTCHA Failed /
//       Link Already Used, 486, every /api/link error, a valid link.
//   node callpage.mjs --base https://127.0.0.1:8443 --ignore-cert-errors [--dest sales]
//       against a running Ferry whose service DEST reaches a UAS that answers and echoes (sipp):
//       idle, connected with media, DTMF, mute, hang up, then 403 for an unknown destination and
//       for a bad call link (the page's message and Ferry's own 403 to an INVITE carrying it).
import { parseArgs } from 'node:util';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStub } from './callpage-stub.mjs';
import { ensureTone, launchChromium } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

const { values: opt } = parseArgs({
  options: {
    selftest: { type: 'boolean', default: false },
    base: { type: 'string' },
    dest: { type: 'string', default: 'sales' },
    'bad-dest': { type: 'string', default: 'nowhere' },
    'bad-link': { type: 'string', default: 'not-a-real-link' },
    dtmf: { type: 'string', default: '5' },
    'min-packets': { type: 'string', default: '50' },
    shots: { type: 'string', default: path.join(here, 'shots', 'callpage') },
    tone: { type: 'string', default: path.join(here, 'tone.wav') },
    chromium: { type: 'string', default: process.env.CHROMIUM || '/usr/bin/chromium' },
    'ignore-cert-errors': { type: 'boolean', default: false },
  },
  strict: true,
});
function usage(msg) {
  process.stderr.write(`callpage.mjs: ${msg}\n`);
  process.exit(2);
}
if (opt.selftest === Boolean(opt.base)) usage('one of --selftest or --base URL');
const MIN_PACKETS = Number(opt['min-packets']);
const NAME = 'Ann Example';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const say = (...a) => process.stderr.write(`[callpage.mjs] ${a.join(' ')}\n`);

// ---- browser ----

// The same Chromium as call.mjs: fake microphone (the tone file), no permission prompt.
function launch() {
  ensureTone(opt.tone);
  return launchChromium({
    chromium: opt.chromium,
    toneFile: opt.tone,
    ignoreCertErrors: opt['ignore-cert-errors'],
    profilePrefix: 'ferry-callpage-',
    viewport: { width: 360, height: 560 }, // the popup the page is made for
  });
}

async function openPage(context, url, tag) {
  const page = await context.newPage();
  page.on('console', (m) => process.stderr.write(`[${tag} ${m.type()}] ${m.text()}\n`));
  page.on('pageerror', (e) => process.stderr.write(`[${tag} pageerror] ${e.message}\n`));
  await page.goto(url, { timeout: 15_000 });
  return page;
}

async function openCallPage(context, base, query) {
  const page = await openPage(context, `${base}/call?${query}`, 'call');
  await page.waitForFunction(() => window.ferryCall?.ready, null, { timeout: 15_000 });
  return page;
}

// What a person sees, plus the page's own state.
const view = (page) => page.evaluate(() => {
  const t = (id) => document.getElementById(id).textContent.trim();
  const shown = (id) => !document.getElementById(id).closest('[hidden]');
  const f = window.ferryCall;
  return {
    state: f.state, cause: f.cause, status: f.status, endedBy: f.endedBy, muted: f.muted, dtmfSent: f.dtmfSent,
    title: t('title'), text: t('status-text'), detail: t('status-detail'),
    callButton: shown('call') && !document.getElementById('call').disabled,
    nameError: shown('name-error'), incall: shown('incall'), timer: t('timer'),
    quality: t('quality-label'), qualityNumbers: t('quality-numbers'), qualityTitle: document.getElementById('quality').title,
    name: document.getElementById('name').value, nameReadOnly: document.getElementById('name').readOnly,
    dtmfText: t('dtmf-sent'), mutePressed: document.getElementById('mute').getAttribute('aria-pressed'),
  };
});

async function waitState(page, states, timeoutS) {
  const end = Date.now() + timeoutS * 1000;
  for (;;) {
    const v = await view(page);
    if (states.includes(v.state) || Date.now() > end) return v;
    await sleep(50);
  }
}

// ---- steps: each records what it saw, its screenshot and its failed checks ----

const steps = [];

async function step(name, fn) {
  const rec = { name, failures: [] };
  steps.push(rec);
  try {
    await fn(rec);
  } catch (e) {
    rec.failures.push(`harness: ${e.message}`);
  }
  rec.ok = rec.failures.length === 0;
  say(rec.ok ? 'ok  ' : 'FAIL', name, rec.ok ? '' : rec.failures.join('; '));
  return rec;
}

function expect(rec, cond, why) {
  if (!cond) rec.failures.push(why);
}

// Records the view, checks state and text, takes the screenshot.
async function snap(rec, page, { state, text, detail }) {
  const v = await view(page);
  Object.assign(rec, { state: v.state, cause: v.cause, status: v.status, title: v.title, text: v.text, detail: v.detail });
  if (state) expect(rec, v.state === state, `state ${v.state} (${v.cause}), expected ${state}`);
  if (text) expect(rec, matches(v.text, text), `text ${JSON.stringify(v.text)}, expected ${text}`);
  if (detail) expect(rec, matches(v.detail, detail), `detail ${JSON.stringify(v.detail)}, expected ${detail}`);
  fs.mkdirSync(opt.shots, { recursive: true });
  const file = path.join(opt.shots, `${rec.name}.png`);
  await page.screenshot({ path: file });
  rec.screenshot = file;
  rec.bytes = fs.statSync(file).size;
  expect(rec, rec.bytes > 2000, `screenshot ${file} is ${rec.bytes} bytes`);
  return v;
}
const matches = (s, want) => (want instanceof RegExp ? want.test(s) : s === want);

async function fillAndCall(page, name = NAME) {
  if (name != null) await page.fill('#name', name);
  await page.click('#call');
}

// A call that must be refused: the page ends in 'failed' with this cause and message, and offers
// "Call again" unless no retry could help (a destination or link refused for good).
async function refused(context, base, rec, query, cause, text, { status = 403, again = false } = {}) {
  const page = await openCallPage(context, base, query);
  try {
    await fillAndCall(page);
    await waitState(page, ['failed', 'connected', 'ended'], 20);
    const v = await snap(rec, page, { state: 'failed', text });
    expect(rec, v.cause === cause, `cause ${v.cause}, expected ${cause}`);
    expect(rec, v.status === status, `status ${v.status}, expected ${status}`);
    expect(rec, v.callButton === again, again ? 'no "Call again" button' : 'a "Call again" button after a final refusal');
  } finally {
    await page.close();
  }
}

// A dead link: the page says why and offers no call at all.
async function deadLink(context, base, rec, token, text, detail) {
  const page = await openCallPage(context, base, `link=${encodeURIComponent(token)}`);
  try {
    const v = await snap(rec, page, { state: 'failed', text, detail });
    expect(rec, !v.callButton, 'a Call button on a dead link');
  } finally {
    await page.close();
  }
}

// One INVITE straight from JsSIP in the page (not through the page's UI), with a solved CAPTCHA
// and these extra headers: Ferry's own answer to a request the page would never send.
function rawInvite(page, dest, headers) {
  return page.evaluate(async ({ dest, headers }) => {
    const { solve } = await import(new URL('pow.js', location.href).href);
    const ch = await (await fetch('api/challenge')).json();
    const nonce = await solve(ch);
    const ws = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/sip`;
    const ua = new window.JsSIP.UA({ sockets: [new window.JsSIP.WebSocketInterface(ws)], uri: `sip:anonymous@${location.hostname}`, display_name: 'Raw', register: false });
    await new Promise((resolve, reject) => { ua.once('connected', resolve); ua.once('disconnected', () => reject(new Error('ws'))); ua.start(); });
    const r = await new Promise((resolve) => {
      const s = ua.call(`sip:${dest}@${location.hostname}`, {
        extraHeaders: [`X-Ferry-Captcha: ${ch.id}:${nonce}`, ...headers],
        mediaConstraints: { audio: true, video: false },
        pcConfig: { iceServers: [] },
        eventHandlers: {
          failed: (e) => resolve({ status: e.message?.status_code ?? null, reason: e.message?.reason_phrase ?? e.cause }),
          accepted: () => { s.terminate(); resolve({ status: 200, reason: 'connected' }); },
        },
      });
    });
    ua.stop();
    return r;
  }, { dest, headers });
}

// ---- the call itself: idle -> preparing -> calling/ringing -> connected -> DTMF, mute -> ended ----

async function fullCall(context, base, { dest, title, mustSee, onConnected }) {
  const page = await openCallPage(context, base, `dest=${encodeURIComponent(dest)}`);
  // Hold the (real) challenge for a moment: the proof of work alone is over in a blink, too fast
  // for a screenshot of "Preparing…".
  await page.route('**/api/challenge', (route) => setTimeout(() => route.continue(), 1500));
  try {
    await step('idle', async (rec) => {
      const v = await snap(rec, page, { state: 'idle', text: 'Ready to call' });
      expect(rec, matches(v.title, title), `title ${JSON.stringify(v.title)}, expected ${title}`);
      expect(rec, v.callButton, 'no Call button');
      expect(rec, !v.incall, 'call controls shown before a call');
    });
    await step('name-required', async (rec) => {
      await fillAndCall(page, '');
      const v = await view(page);
      rec.state = v.state;
      expect(rec, v.state === 'idle', `state ${v.state} with no name, expected idle`);
      expect(rec, v.nameError, 'no "Please enter your name." message');
    });

    await page.fill('#name', NAME);
    await page.click('#call');
    // Each in-between state is screenshotted when seen; the self-test holds them long enough
    // (its stub delays the challenge and the answer), a real Ferry may pass through them fast.
    let seen = await waitState(page, ['preparing', 'calling', 'ringing', 'connected', 'failed', 'ended'], 10);
    for (const [state, text] of [['preparing', 'Preparing…'], ['calling', 'Calling…'], ['ringing', 'Ringing…']]) {
      if (seen.state !== state && !mustSee.includes(state)) continue;
      await step(state, async (rec) => {
        if (seen.state !== state) seen = await waitState(page, [state, 'connected', 'failed', 'ended'], 10);
        await snap(rec, page, { state, text });
        if (state === 'preparing') expect(rec, (await view(page)).detail.includes('security check'), 'no security-check note');
      });
      seen = await waitState(page, ['calling', 'ringing', 'connected', 'failed', 'ended'].filter((s) => s !== state), 20);
    }

    const conn = await step('connected', async (rec) => {
      const v0 = await waitState(page, ['connected', 'failed', 'ended'], 20);
      if (v0.state !== 'connected') { rec.failures.push(`not connected: ${v0.state} ${v0.cause} (${v0.text})`); return; }
      await sleep(4500); // two quality samples (every 2 s) and some media
      rec.stats = await page.evaluate(() => window.ferryCall.stats());
      const v = await snap(rec, page, { state: 'connected', text: 'Connected' });
      expect(rec, rec.stats.inboundPackets > MIN_PACKETS, `inboundPackets ${rec.stats.inboundPackets} <= ${MIN_PACKETS}`);
      expect(rec, /^00:0[3-9]$/.test(v.timer), `timer ${v.timer}, expected 00:03..00:09`);
      expect(rec, ['Good', 'Fair', 'Poor'].includes(v.quality), `quality label ${v.quality}`);
      expect(rec, /^Loss \d+\.\d % · Jitter (\d+ ms|–) · RTT (\d+ ms|–)$/.test(v.qualityNumbers), `quality numbers ${v.qualityNumbers}`);
      expect(rec, v.qualityTitle.startsWith('Connection quality:'), `quality tooltip ${v.qualityTitle}`);
      Object.assign(rec, { quality: v.quality, qualityNumbers: v.qualityNumbers, timer: v.timer });
      await onConnected?.(rec);
    });
    if (!conn.ok) return;

    await step('dtmf', async (rec) => {
      // The first key by mouse, the rest from the keyboard (the page's keypad shortcut).
      const keys = [...opt.dtmf];
      await page.click(`#keypad [data-key="${keys[0]}"]`);
      for (const k of keys.slice(1)) { await page.locator('body').press(k); await sleep(250); }
      await sleep(400);
      const v = await snap(rec, page, { state: 'connected' });
      rec.dtmfSent = v.dtmfSent;
      expect(rec, v.dtmfSent.join('') === opt.dtmf, `DTMF sent ${v.dtmfSent.join('')}, expected ${opt.dtmf}`);
      expect(rec, v.dtmfText === `Sent: ${opt.dtmf}`, `keypad note ${JSON.stringify(v.dtmfText)}`);
    });

    await step('muted', async (rec) => {
      await page.click('#mute');
      const v = await snap(rec, page, { state: 'connected' });
      expect(rec, v.muted && v.mutePressed === 'true', `muted ${v.muted}, aria-pressed ${v.mutePressed}`);
      await page.click('#mute');
      const u = await view(page);
      expect(rec, !u.muted && u.mutePressed === 'false', 'unmute did not take');
    });

    await step('ended', async (rec) => {
      await page.click('#hangup');
      await waitState(page, ['ended', 'failed'], 10);
      const v = await snap(rec, page, { state: 'ended', text: /^Call ended · 00:\d\d$/, detail: 'You hung up.' });
      expect(rec, v.endedBy === 'local', `ended by ${v.endedBy}`);
      expect(rec, v.callButton, 'no "Call again" button');
    });
  } finally {
    await page.close();
  }
}

// ---- the two modes ----

async function selftest(context) {
  const stub = await startStub((m) => process.stderr.write(`[stub] ${m}\n`));
  const base = `http://127.0.0.1:${stub.port}`;
  try {
    // The "sales" agent: the test page registered as sales, auto-answering.
    const agent = await openPage(context, `${base}/?lib=jssip&user=sales`, 'agent');
    await agent.waitForFunction(() => window.ferryTest?.registered, null, { timeout: 15_000 });

    stub.answerDelayMs = 1500;
    await fullCall(context, base, {
      dest: 'sales',
      title: 'Call Sales',
      mustSee: ['preparing', 'ringing'],
      onConnected: async (rec) => {
        const inv = stub.invites.at(-1);
        rec.invite = inv;
        expect(rec, inv?.displayName === NAME, `INVITE display name ${inv?.displayName}`);
        expect(rec, /^c[0-9a-f]+:\d+$/.test(inv?.captcha ?? ''), `X-Ferry-Captcha ${inv?.captcha}`);
        expect(rec, inv?.link === null, 'X-Ferry-Link on a service call');
      },
    });
    stub.answerDelayMs = 0;
    await step('agent-saw-hangup', async (rec) => {
      const s = await agent.evaluate(() => ({ state: window.ferryTest.state, endedBy: window.ferryTest.endedBy }));
      Object.assign(rec, s);
      expect(rec, s.state === 'ended' && s.endedBy === 'remote', `agent ${s.state}, ended by ${s.endedBy}`);
    });

    await step('cancelled', async (rec) => {
      stub.challengeDelayMs = 1500;
      const page = await openCallPage(context, base, 'dest=sales');
      try {
        await fillAndCall(page);
        await waitState(page, ['preparing'], 5);
        await page.click('#cancel');
        await waitState(page, ['failed', 'connected'], 10);
        const v = await snap(rec, page, { state: 'failed', text: 'You cancelled the call.' });
        expect(rec, v.cause === 'Canceled' && v.callButton, `cause ${v.cause}, Call again ${v.callButton}`);
      } finally {
        stub.challengeDelayMs = 0;
        await page.close();
      }
    });
    await step('failed-destination', (rec) => refused(context, base, rec, 'dest=nowhere', 'Destination Not Allowed', 'This number cannot be called from this page.'));
    await step('failed-busy', (rec) => refused(context, base, rec, 'dest=support', '486 Busy Here', 'The line is busy. Please try again later.', { status: 486, again: true }));
    stub.rejectCaptcha = true;
    await step('failed-captcha', (rec) => refused(context, base, rec, 'dest=sales', 'CAPTCHA Failed', 'The security check did not pass. Please try again.', { again: true }));
    stub.rejectCaptcha = false;

    await step('link-ok', async (rec) => {
      const page = await openCallPage(context, base, 'link=good');
      try {
        const v = await snap(rec, page, { state: 'idle', text: 'Ready to call', detail: /^This link works for one call\. Valid until .+\.$/ });
        expect(rec, v.title === 'Call Sales', `title ${v.title}`);
        expect(rec, v.name === 'Ann' && v.nameReadOnly, `name ${v.name} (read-only ${v.nameReadOnly}): the link fixes it`);
      } finally {
        await page.close();
      }
    });
    await step('link-used-at-call', async (rec) => {
      await refused(context, base, rec, 'link=used-at-call', 'Link Already Used', 'This call link has already been used.');
      expect(rec, stub.invites.at(-1)?.link === 'used-at-call', `X-Ferry-Link ${stub.invites.at(-1)?.link}`);
    });
    await step('link-expired', (rec) => deadLink(context, base, rec, 'expired', 'This call link has expired.', /^It ended on .+\.$/));
    await step('link-not-yet-active', (rec) => deadLink(context, base, rec, 'early', 'This call link is not active yet.', /^You can call from .+\.$/));
    await step('link-already-used', (rec) => deadLink(context, base, rec, 'used', 'This call link has already been used.'));
    await step('link-invalid', async (rec) => {
      await deadLink(context, base, rec, 'garbage', 'This call link is not valid.');
      // The raw-INVITE helper the Ferry mode relies on, checked against the stub.
      const page = await openCallPage(context, base, 'link=garbage');
      try {
        rec.rawInvite = await rawInvite(page, 'sales', ['X-Ferry-Link: garbage']);
      } finally {
        await page.close();
      }
      expect(rec, rec.rawInvite.status === 403 && rec.rawInvite.reason === 'Link Invalid', `raw INVITE: ${JSON.stringify(rec.rawInvite)}`);
    });
    await agent.close();
  } finally {
    stub.server.close();
    stub.server.closeAllConnections?.();
  }
}

async function againstFerry(context) {
  const base = opt.base.replace(/\/+$/, '');
  await fullCall(context, base, { dest: opt.dest, title: /^Call \S/, mustSee: ['preparing'] });
  await step('failed-destination', (rec) => refused(context, base, rec, `dest=${encodeURIComponent(opt['bad-dest'])}`, 'Destination Not Allowed', 'This number cannot be called from this page.'));
  await step('link-invalid', async (rec) => {
    await deadLink(context, base, rec, opt['bad-link'], 'This call link is not valid.');
    const page = await openCallPage(context, base, `link=${encodeURIComponent(opt['bad-link'])}`);
    try {
      rec.rawInvite = await rawInvite(page, opt.dest, [`X-Ferry-Link: ${opt['bad-link']}`]);
    } finally {
      await page.close();
    }
    expect(rec, rec.rawInvite.status === 403 && rec.rawInvite.reason === 'Link Invalid', `Ferry's answer to an INVITE with a bad link: ${JSON.stringify(rec.rawInvite)}`);
  });
}

async function main() {
  const t0 = Date.now();
  const { context, close } = await launch();
  try {
    if (opt.selftest) await selftest(context);
    else await againstFerry(context);
  } finally {
    await close();
  }
  const failures = steps.flatMap((s) => s.failures.map((f) => `${s.name}: ${f}`));
  const ok = failures.length === 0 && steps.length > 0;
  process.stdout.write(`${JSON.stringify({ ok, mode: opt.selftest ? 'selftest' : 'ferry', ms: Date.now() - t0, shots: opt.shots, failures, steps })}\n`);
  return ok ? 0 : 1;
}

main().then((code) => process.exit(code), (e) => {
  process.stderr.write(`callpage.mjs: ${e.stack ?? e}\n`);
  process.stdout.write(`${JSON.stringify({ ok: false, failures: [`harness: ${e.message}`], steps })}\n`);
  process.exit(2);
});
