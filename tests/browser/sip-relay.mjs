// A toy SIP-over-WebSocket registrar and relay (RFC 7118 framing only), for call.mjs --selftest:
// lets one test page call another so the page's JsSIP and SIP.js code (REGISTER, INVITE,
// auto-answer, DTMF, BYE) runs against real SIP without Ferry. Not a proxy: it answers REGISTER,
// sends an INVITE to the socket that registered the request-URI's user, and relays everything
// else with the same Call-ID to the other socket of the pair, unchanged.
import crypto from 'node:crypto';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

// Attaches the relay to an http.Server's 'upgrade' event on path /sip.
export function attachSipRelay(server, log = () => {}) {
  const registered = new Map(); // user -> socket
  const calls = new Map(); // Call-ID -> [socketA, socketB]

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
    sock.on('close', () => { for (const [u, s] of registered) if (s === sock) registered.delete(u); });
  });

  function onMessage(sock, text) {
    const first = text.slice(0, text.indexOf('\r\n'));
    const callId = header(text, 'Call-ID', 'i');
    log(`relay <- ${first}`);
    const [method, ruri] = first.split(' ');
    if (method === 'REGISTER') {
      const user = /sip:([^@;>]+)@/.exec(header(text, 'To', 't'))?.[1];
      if (user) registered.set(user, sock);
      sock.sendText(reply(text, '200 OK', [`Contact: ${header(text, 'Contact', 'm')};expires=600`]));
      return;
    }
    let pair = calls.get(callId);
    if (!pair && method === 'INVITE') {
      const target = registered.get(/sip:([^@;>]+)@/.exec(ruri)?.[1]);
      if (!target) { sock.sendText(reply(text, '404 Not Found')); return; }
      pair = [sock, target];
      calls.set(callId, pair);
    }
    if (!pair) { if (!first.startsWith('SIP/2.0') && method !== 'ACK') sock.sendText(reply(text, '481 Call/Transaction Does Not Exist')); return; }
    const other = pair[0] === sock ? pair[1] : pair[0];
    other.sendText(text);
  }
  return { registered, calls };
}

function header(text, name, compact) {
  const re = new RegExp(`^(?:${name}|${compact}):\\s*(.*)$`, 'im');
  return re.exec(text.slice(0, text.indexOf('\r\n\r\n')))?.[1]?.trim() ?? '';
}

// A response built from the request's Via/From/To/Call-ID/CSeq, with a To tag.
function reply(req, status, extra = []) {
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
