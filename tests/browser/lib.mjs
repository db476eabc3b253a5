// What the browser harness scripts share: Chromium with a fake microphone (call.mjs,
// callpage.mjs) and SIP over WebSocket on the server side (RFC 7118 framing only; sip-relay.mjs,
// callpage-stub.mjs).
import { chromium } from 'playwright-core';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

// ---- browser ----

// Writes the fake-microphone file (a `hz` tone, make-tone.py) unless it is already there.
export function ensureTone(file, hz = 1230) {
  if (fs.existsSync(file) && fs.statSync(file).size > 1e6) return;
  const r = spawnSync('python3', [path.join(here, 'make-tone.py'), file, String(hz), '30'], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`make-tone.py failed (${r.error?.message ?? r.status})`);
}

// Headless Chromium (`chromium`: its executable) in a fresh profile whose microphone plays
// `toneFile`, with no permission prompt; `options` go to launchPersistentContext (viewport...).
// Returns the context and a close() that also removes the profile.
export async function launchChromium({ chromium: executablePath, toneFile, ignoreCertErrors = false, profilePrefix, ...options }) {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), profilePrefix));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    // Playwright adds its own --disable-features list; we add none, so nothing to merge.
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
      '--allow-loopback-in-peer-connection', // else Chromium gathers no 127.0.0.1 candidate
      `--use-file-for-fake-audio-capture=${path.resolve(toneFile)}`,
      ...(ignoreCertErrors ? ['--ignore-certificate-errors'] : []),
    ],
    ignoreHTTPSErrors: ignoreCertErrors,
    timeout: 30_000,
    ...options,
  });
  const close = async () => {
    await context.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
  };
  return { context, close };
}

// ---- SIP over WebSocket, server side ----

// Accepts WebSocket upgrades on path /sip that offer the "sip" subprotocol on an http(s).Server;
// each socket gets sendText(text), and onMessage(sock, text) is called for every text message;
// onClose(sock) when it closes.
export function acceptSipWebSockets(server, onMessage, onClose = () => {}) {
  server.on('upgrade', (req, sock) => {
    const key = req.headers['sec-websocket-key'];
    const protos = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((s) => s.trim());
    if (!req.url.startsWith('/sip') || !key || !protos.includes('sip')) { sock.destroy(); return; }
    const accept = crypto.createHash('sha1').update(key + WS_GUID).digest('base64');
    sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: sip\r\n\r\n`);
    sock.sendText = (text) => sock.write(frame(Buffer.from(text)));
    let buf = Buffer.alloc(0);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (let m; (m = unframe(buf)); buf = buf.subarray(m.used)) {
        if (m.opcode === 8) { sock.end(); return; }
        if (m.opcode === 1) onMessage(sock, m.payload.toString());
      }
    });
    sock.on('error', () => {});
    sock.on('close', () => onClose(sock));
  });
}

// A header's value (by full or compact name) from a SIP message's head, or ''.
export function header(text, name, compact = name) {
  const re = new RegExp(`^(?:${name}|${compact}):\\s*(.*)$`, 'im');
  return re.exec(text.slice(0, text.indexOf('\r\n\r\n')))?.[1]?.trim() ?? '';
}

// A response built from the request's Via/From/To/Call-ID/CSeq, with a To tag.
export function reply(req, status, extra = []) {
  const head = req.slice(0, req.indexOf('\r\n\r\n')).split('\r\n');
  const keep = head.filter((l) => /^(Via|v|From|f|Call-ID|i|CSeq):/i.test(l));
  let to = head.find((l) => /^(To|t):/i.test(l)) ?? 'To: <sip:unknown@invalid>';
  if (!/;tag=/.test(to)) to += `;tag=${crypto.randomBytes(4).toString('hex')}`;
  return [`SIP/2.0 ${status}`, ...keep, to, ...extra, 'Content-Length: 0', '', ''].join('\r\n');
}

// Server-to-client frame: FIN, unmasked.
function frame(payload, opcode = 1) {
  const n = payload.length;
  const head = n < 126 ? Buffer.from([0x80 | opcode, n])
    : n < 65536 ? Buffer.from([0x80 | opcode, 126, n >> 8, n & 255])
      : Buffer.concat([Buffer.from([0x80 | opcode, 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; })()]);
  return Buffer.concat([head, payload]);
}

// Client-to-server frame (masked); null until a whole frame is buffered. Browsers do not
// fragment messages this small, so continuation frames are not handled.
function unframe(buf) {
  if (buf.length < 2) return null;
  const opcode = buf[0] & 15;
  let len = buf[1] & 127;
  let off = 2;
  if (len === 126) { if (buf.length < 4) return null; len = buf.readUInt16BE(2); off = 4; }
  else if (len === 127) { if (buf.length < 10) return null; len = Number(buf.readBigUInt64BE(2)); off = 10; }
  const masked = buf[1] & 128;
  const maskAt = off;
  if (masked) off += 4;
  if (buf.length < off + len) return null;
  const payload = Buffer.from(buf.subarray(off, off + len));
  if (masked) for (let i = 0; i < len; i++) payload[i] ^= buf[maskAt + (i & 3)];
  return { opcode, payload, used: off + len };
}
