// A stand-in for Ferry's side of the click-to-call page, for callpage.mjs --selftest: serves
// signaling/assets/ at Ferry's paths, answers /api/services, /api/challenge and /api/link the way
// the contract says Ferry does, and speaks just enough SIP over WebSocket (RFC 7118) to refuse
// INVITEs with Ferry's 403 reason phrases or hand them to a test page that REGISTERed as the
// service (test.html?user=sales auto-answers), so a real call with media runs page to page.
//
// Knobs (set on the returned object between steps): challengeDelayMs (hold /api/challenge, so
// "Preparing…" stays on screen), answerDelayMs (hold the callee's 200 OK: "Ringing…" stays),
// rejectCaptcha (every INVITE gets 403 CAPTCHA Failed). `invites` records what each INVITE
// carried (display name, X-Ferry-Captcha, X-Ferry-Link) and how the stub answered.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { acceptSipWebSockets, header, reply } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ASSETS = path.resolve(here, '../../signaling/assets');
const BITS = 8; // cheap for tests; Ferry's default is 18

const ROUTES = {
  '/': 'test.html',
  '/call': 'call.html',
  '/call.js': 'call.js',
  '/call.css': 'call.css',
  '/pow.js': 'pow.js',
  '/test.js': 'test.js',
  '/jssip.min.js': 'jssip.min.js',
  '/sipjs.min.js': 'sipjs.min.js',
};
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

export const SERVICES = [{ name: 'sales', label: 'Sales' }, { name: 'support', label: 'Support' }];
const now = () => Math.floor(Date.now() / 1000);

// Call-link tokens the stub knows, and what /api/link says about each.
function linkInfo(token) {
  const ok = (extra) => ({ code: 200, body: { ok: true, dest: 'sales', label: 'Sales', name: null, one_time: false, not_before: null, not_after: null, ...extra } });
  switch (token) {
    case 'good': return ok({ name: 'Ann', one_time: true, not_after: now() + 86400 });
    case 'used-at-call': return ok({}); // valid when the page opens, consumed before the INVITE
    case 'expired': return { code: 410, body: { ok: false, error: 'expired', ended: now() - 3600 } };
    case 'early': return { code: 403, body: { ok: false, error: 'not_yet_active', starts: now() + 7200 } };
    case 'used': return { code: 410, body: { ok: false, error: 'already_used' } };
    default: return { code: 404, body: { ok: false, error: 'invalid' } };
  }
}
const LINK_REFUSALS = { 'used-at-call': 'Link Already Used', expired: 'Link Expired', early: 'Link Not Yet Active', used: 'Link Already Used' };

export function startStub(log = () => {}) {
  const stub = {
    challengeDelayMs: 0,
    answerDelayMs: 0,
    rejectCaptcha: false,
    invites: [],
    registered: new Map(), // user -> socket
    calls: new Map(), // Call-ID -> [caller, callee]
    challenges: new Map(), // id -> { salt, used }
    server: null,
    port: 0,
  };

  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://stub');
    const json = (code, body) => res.writeHead(code, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(body));
    if (url.pathname === '/api/services') return json(200, { services: SERVICES });
    if (url.pathname === '/api/challenge') {
      const id = `c${crypto.randomBytes(6).toString('hex')}`;
      const salt = crypto.randomBytes(16).toString('base64url');
      stub.challenges.set(id, { salt, used: false });
      setTimeout(() => json(200, { id, salt, bits: BITS, expires: now() + 120 }), stub.challengeDelayMs);
      return undefined;
    }
    if (url.pathname === '/api/link') {
      const { code, body } = linkInfo(url.searchParams.get('token') ?? '');
      return json(code, body);
    }
    const file = ROUTES[url.pathname];
    if (!file) return res.writeHead(404).end();
    fs.readFile(path.join(ASSETS, file), (err, body) => {
      if (err) { res.writeHead(404).end(); return; }
      res.writeHead(200, { 'content-type': TYPES[path.extname(file)], 'cache-control': 'no-cache' }).end(body);
    });
    return undefined;
  });

  acceptSipWebSockets(server, (sock, text) => onSip(sock, text), (sock) => {
    for (const [u, s] of stub.registered) if (s === sock) stub.registered.delete(u);
  });

  // Ferry's checks, in Ferry's order as the contract lists them: CAPTCHA, link, destination.
  function admit(text, dest) {
    const captcha = header(text, 'X-Ferry-Captcha');
    if (!captcha) return 'CAPTCHA Required';
    const [id, nonce] = captcha.split(':');
    const c = stub.challenges.get(id);
    if (stub.rejectCaptcha || !c || c.used || !/^\d{1,20}$/.test(nonce ?? '')) return 'CAPTCHA Failed';
    const digest = crypto.createHash('sha256').update(c.salt + nonce).digest();
    if (leadingZeroBits(digest) < BITS) return 'CAPTCHA Failed';
    c.used = true;
    const link = header(text, 'X-Ferry-Link');
    if (link) {
      if (LINK_REFUSALS[link]) return LINK_REFUSALS[link];
      if (link !== 'good') return 'Link Invalid';
      if (dest !== 'sales') return 'Destination Not Allowed';
    }
    if (!SERVICES.some((s) => s.name === dest)) return 'Destination Not Allowed';
    return null;
  }

  function onSip(sock, text) {
    const first = text.slice(0, text.indexOf('\r\n'));
    const callId = header(text, 'Call-ID', 'i');
    log(`stub <- ${first}`);
    const [method, ruri] = first.split(' ');
    if (method === 'REGISTER') {
      const user = /sip:([^@;>]+)@/.exec(header(text, 'To', 't'))?.[1];
      if (user) stub.registered.set(user, sock);
      sock.sendText(reply(text, '200 OK', [`Contact: ${header(text, 'Contact', 'm')};expires=600`]));
      return;
    }
    let pair = stub.calls.get(callId);
    if (!pair && method === 'INVITE') {
      const dest = /sip:([^@;>]+)@/.exec(ruri)?.[1] ?? '';
      const from = header(text, 'From', 'f');
      const rec = {
        dest,
        displayName: /^\s*"((?:[^"\\]|\\.)*)"/.exec(from)?.[1] ?? null,
        captcha: header(text, 'X-Ferry-Captcha') || null,
        link: header(text, 'X-Ferry-Link') || null,
      };
      stub.invites.push(rec);
      const refused = admit(text, dest);
      const callee = stub.registered.get(dest);
      rec.answer = refused ? `403 ${refused}` : callee ? 'relayed' : '486 Busy Here';
      if (refused) { sock.sendText(reply(text, `403 ${refused}`)); return; }
      if (!callee) { sock.sendText(reply(text, '486 Busy Here')); return; }
      pair = [sock, callee];
      stub.calls.set(callId, pair);
    }
    if (!pair) {
      if (!first.startsWith('SIP/2.0') && method !== 'ACK') sock.sendText(reply(text, '481 Call/Transaction Does Not Exist'));
      return;
    }
    const other = pair[0] === sock ? pair[1] : pair[0];
    const answer = first.startsWith('SIP/2.0 200') && / INVITE$/i.test(header(text, 'CSeq'));
    if (answer && stub.answerDelayMs > 0) setTimeout(() => other.sendText(text), stub.answerDelayMs);
    else other.sendText(text);
  }

  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    stub.server = server;
    stub.port = server.address().port;
    resolve(stub);
  }));
}

function leadingZeroBits(bytes) {
  let n = 0;
  for (const b of bytes) {
    if (b !== 0) return n + Math.clz32(b) - 24;
    n += 8;
  }
  return n;
}
