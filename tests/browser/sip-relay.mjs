// A toy SIP-over-WebSocket registrar and relay (RFC 7118 framing only), for call.mjs --selftest:
// lets one test page call another so the page's JsSIP and SIP.js code (REGISTER, INVITE,
// auto-answer, DTMF, BYE) runs against real SIP without Ferry. Not a proxy: it answers REGISTER,
// sends an INVITE to the socket that registered the request-URI's user, and relays everything
// else with the same Call-ID to the other socket of the pair, unchanged.
import { acceptSipWebSockets, header, reply } from './lib.mjs';

// Attaches the relay to an http.Server's 'upgrade' event on path /sip.
export function attachSipRelay(server, log = () => {}) {
  const registered = new Map(); // user -> socket
  const calls = new Map(); // Call-ID -> [socketA, socketB]

  acceptSipWebSockets(server, onMessage, (sock) => {
    for (const [u, s] of registered) if (s === sock) registered.delete(u);
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
