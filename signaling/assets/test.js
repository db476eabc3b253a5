// Ferry test page: one call with JsSIP or SIP.js, state exposed on window.ferryTest for the
// browser harness (tests/browser/call.mjs). Plain ES module, no framework, works offline.

const q = new URLSearchParams(location.search);
const LIB = q.get('lib') === 'sipjs' ? 'sipjs' : 'jssip';
const HOST = location.hostname; // "[::1]" for IPv6, which is also the SIP URI form
const WS = q.get('ws') || `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/sip`;
const USER = q.get('user'); // set: REGISTER as USER and auto-answer incoming calls
const SELFTEST = q.get('selftest') === '1'; // loopback between two in-page peer connections, no SIP
const DTMF_INFO = q.get('dtmf') === 'info'; // keys as SIP INFO (application/dtmf-relay), not RFC 4733

const $ = (id) => document.getElementById(id);
const log = (...a) => console.log('[ferry-test]', ...a);

// ---- state shown to people (status line) and to tests (window.ferryTest) ----

const test = {
  lib: SELFTEST ? 'selftest' : LIB,
  ws: WS,
  state: 'idle', // idle | calling | connected | ended | failed
  cause: null,
  endedBy: null, // 'local' | 'remote' once ended or failed
  registered: false,
  incoming: 0, // incoming calls seen (REGISTER mode)
  dtmfSent: [],
  dtmfMode: DTMF_INFO ? 'info' : 'rfc4733',
  status: null, // SIP status of the final response that failed the call, if any
  held: false, // we put the call on hold (and the re-INVITE succeeded)
  events: [], // short history, for debugging a failed run
  stats,
  toneHz,
  call: (dest) => call(dest ?? $('dest').value),
  hangup: () => hangup(),
  dtmf: (key) => dtmf(key),
  // Hold and resume by re-INVITE (a=sendonly, then a=sendrecv): resolve to { ok, ms, error }.
  hold: () => reoffer(true),
  unhold: () => reoffer(false),
};
window.ferryTest = test;

function setState(state, cause) {
  if (state === test.state && cause === undefined) return;
  test.state = state;
  if (cause !== undefined) test.cause = cause;
  test.events.push({ t: Math.round(performance.now()), state, cause: cause ?? null });
  document.body.className = state;
  $('status').textContent = cause ? `${state}: ${cause}` : state;
  const inCall = state === 'calling' || state === 'connected';
  $('call').disabled = inCall;
  $('hangup').disabled = !inCall;
  $('hold').disabled = state !== 'connected';
  if (state !== 'connected') $('hold').textContent = 'Hold';
  log('state', state, cause ?? '');
}

// ---- media: the peer connection of the current call, the remote audio and its analyser ----

let pc = null; // RTCPeerConnection of the current call (stats and DTMF use it)
let audioCtx = null;
let analyser = null;
let attachedTrack = null;

// Chromium keeps an AudioContext suspended until a user gesture; any click on the page will do.
function ensureAudioCtx() {
  audioCtx ??= new AudioContext();
  if (audioCtx.state === 'suspended') audioCtx.resume().catch(() => {});
  return audioCtx;
}
document.addEventListener('click', ensureAudioCtx, { capture: true });

function attachRemote(track) {
  if (!track || track.kind !== 'audio' || track === attachedTrack) return;
  attachedTrack = track;
  const stream = new MediaStream([track]);
  // The <audio> element is needed, not just for people: Chromium only feeds a remote WebRTC
  // track into WebAudio while the track is also played by a media element.
  $('remote').srcObject = stream;
  $('remote').play().catch((e) => log('audio play:', e.message));
  const ctx = ensureAudioCtx();
  analyser = ctx.createAnalyser();
  analyser.fftSize = 8192; // ~5.9 Hz bins at 48 kHz, interpolation does the rest
  analyser.smoothingTimeConstant = 0.5;
  ctx.createMediaStreamSource(stream).connect(analyser);
  log('remote audio attached', track.id);
}

function watchPc(conn) {
  if (!conn || conn === pc) return;
  pc = conn;
  conn.addEventListener('track', (e) => attachRemote(e.track));
  conn.addEventListener('iceconnectionstatechange', () => log('ice', conn.iceConnectionState));
  conn.addEventListener('connectionstatechange', () => log('pc', conn.connectionState));
  conn.addEventListener('icecandidate', (e) => e.candidate && log('candidate', e.candidate.candidate));
  attachFromReceivers();
}

// Fallback for libraries that set the remote description before we saw the 'track' event.
function attachFromReceivers() {
  const r = pc?.getReceivers().find((x) => x.track?.kind === 'audio');
  if (r) attachRemote(r.track);
}

// Dominant frequency of the remote audio between 200 and 4000 Hz, or null if there is only
// silence. Parabolic interpolation on the dB values around the peak bin.
function toneHz() {
  if (!analyser) return null;
  const bins = new Float32Array(analyser.frequencyBinCount);
  analyser.getFloatFrequencyData(bins);
  const binHz = analyser.context.sampleRate / analyser.fftSize;
  const lo = Math.ceil(200 / binHz);
  const hi = Math.min(bins.length - 2, Math.floor(4000 / binHz));
  let k = lo;
  for (let i = lo; i <= hi; i++) if (bins[i] > bins[k]) k = i;
  if (!(bins[k] > -100)) return null; // -Infinity or noise floor: nothing is playing
  const [a, b, c] = [bins[k - 1], bins[k], bins[k + 1]];
  const den = a - 2 * b + c;
  const delta = Number.isFinite(den) && den !== 0 ? (0.5 * (a - c)) / den : 0;
  return (k + delta) * binHz;
}

// The direction attribute of the audio section in the far end's current answer (or offer).
function remoteDirection() {
  const sdp = pc?.currentRemoteDescription?.sdp ?? pc?.remoteDescription?.sdp ?? '';
  const audio = sdp.split(/\r?\nm=/).find((m) => m.startsWith('audio')) ?? '';
  return audio.match(/^a=(sendrecv|sendonly|recvonly|inactive)\s*$/m)?.[1] ?? (audio ? 'sendrecv' : null);
}

async function stats() {
  const out = { inboundPackets: 0, outboundPackets: 0, bytesReceived: 0, jitter: null, packetsLost: 0, rtt: null };
  if (!pc) return out;
  const report = await pc.getStats();
  report.forEach((s) => {
    if (s.kind !== 'audio') return;
    if (s.type === 'inbound-rtp') {
      out.inboundPackets += s.packetsReceived ?? 0;
      out.bytesReceived += s.bytesReceived ?? 0;
      out.packetsLost += s.packetsLost ?? 0;
      out.jitter = s.jitter ?? out.jitter;
    } else if (s.type === 'outbound-rtp') {
      out.outboundPackets += s.packetsSent ?? 0;
    } else if (s.type === 'remote-inbound-rtp') {
      out.rtt = s.roundTripTime ?? out.rtt;
    }
  });
  return out;
}

// RFC 4733 through the audio sender's RTCDTMFSender (SIP.js and the self-test; JsSIP has its own).
function insertDtmf(key) {
  const sender = pc?.getSenders().find((s) => s.track?.kind === 'audio');
  if (!sender?.dtmf) throw new Error('no DTMF sender');
  sender.dtmf.insertDTMF(key, 100, 70);
}

// ---- the SIP libraries, loaded on demand so the page only fetches the one in use ----

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error(`cannot load ${src}`));
    document.head.append(s);
  });
}

const AUDIO_ONLY = { audio: true, video: false };
let backend = null; // { call(target), hangup(), dtmf(key) }

function jssipBackend() {
  const { JsSIP } = window;
  const uri = `sip:${USER || 'anonymous'}@${HOST}`;
  const ua = new JsSIP.UA({
    sockets: [new JsSIP.WebSocketInterface(WS)],
    uri,
    register: Boolean(USER),
    session_timers: true,
  });
  let session = null;
  let localHangup = false;
  ua.on('connected', () => log('ws connected', WS));
  ua.on('disconnected', () => log('ws disconnected'));
  ua.on('registered', () => { test.registered = true; setState('idle', `registered as ${uri}`); });
  ua.on('registrationFailed', (e) => { test.registered = false; setState('failed', `register: ${e.cause}`); });

  const handlers = {
    peerconnection: (e) => watchPc(e.peerconnection),
    progress: () => setState('calling'),
    accepted: () => { watchPc(session?.connection); attachFromReceivers(); setState('connected'); },
    confirmed: () => attachFromReceivers(),
    ended: (e) => { test.endedBy = e.originator; setState('ended', e.cause); session = null; },
    failed: (e) => {
      test.status = e.message?.status_code ?? null;
      // JsSIP turns a transport error on an unanswered INVITE into a local CANCEL, and so reports
      // 'Canceled'; say what happened instead.
      const dead = e.cause === JsSIP.C.causes.CANCELED && !localHangup && !ua.isConnected();
      test.endedBy = dead ? 'system' : e.originator;
      setState('failed', dead ? JsSIP.C.causes.CONNECTION_ERROR : e.cause);
      session = null;
    },
  };
  const options = { mediaConstraints: AUDIO_ONLY, pcConfig: { iceServers: [] } };

  ua.on('newRTCSession', (e) => {
    if (e.originator !== 'remote') return;
    test.incoming++;
    if (session) { e.session.terminate({ status_code: 486 }); return; }
    session = e.session;
    localHangup = false;
    for (const [ev, fn] of Object.entries(handlers)) session.on(ev, fn);
    setState('calling', `incoming from ${e.request.from.uri}`);
    watchPc(session.connection);
    session.answer(options); // auto-answer: REGISTER mode exists for calls into the browser
  });
  ua.start();

  return {
    call(target) {
      localHangup = false;
      session = ua.call(target, { ...options, eventHandlers: handlers });
      watchPc(session.connection);
    },
    hangup() { localHangup = true; session?.terminate(); },
    dtmf(key) { session?.sendDTMF(key, { transportType: DTMF_INFO ? 'INFO' : 'RFC2833' }); },
    // JsSIP calls done once the re-INVITE got its 2xx; a refused one ends the call ('ended').
    hold(on) {
      return new Promise((resolve, reject) => {
        if (!session) { reject(new Error('no call')); return; }
        const started = on ? session.hold({}, resolve) : session.unhold({}, resolve);
        if (!started) reject(new Error(`JsSIP refused to ${on ? 'hold' : 'unhold'} now`));
      });
    },
  };
}

function sipjsBackend() {
  const { SIP } = window;
  const { UserAgent, Inviter, Registerer, SessionState } = SIP;
  const uri = `sip:${USER || 'anonymous'}@${HOST}`;
  let session = null;
  let localEnd = false;
  let rejectCause = null;
  const sdhOptions = { constraints: AUDIO_ONLY };

  const ua = new UserAgent({
    uri: UserAgent.makeURI(uri),
    transportOptions: { server: WS },
    sessionDescriptionHandlerFactoryOptions: { peerConnectionConfiguration: { iceServers: [] } },
    logLevel: 'warn',
    delegate: {
      onConnect: () => log('ws connected', WS),
      onDisconnect: (err) => log('ws disconnected', err?.message ?? ''),
      onInvite: (invitation) => {
        test.incoming++;
        if (session) { invitation.reject({ statusCode: 486 }); return; }
        track(invitation);
        setState('calling', `incoming from ${invitation.remoteIdentity.uri}`);
        invitation.accept({ sessionDescriptionHandlerOptions: sdhOptions }).catch((e) => setState('failed', e.message));
      },
    },
  });

  // The UA's transport must be up before any call; a dead WebSocket fails the call, not the page.
  const started = ua.start().then(async () => {
    if (!USER) return;
    const reg = new Registerer(ua);
    reg.stateChange.addListener((s) => {
      test.registered = s === 'Registered';
      if (test.registered) setState('idle', `registered as ${uri}`);
    });
    await reg.register({ requestDelegate: { onReject: (r) => setState('failed', `register: ${r.message.statusCode} ${r.message.reasonPhrase}`) } });
  });
  started.catch((e) => log('ua start failed:', e.message));

  function track(s) {
    session = s;
    localEnd = false;
    rejectCause = null;
    let established = false;
    s.stateChange.addListener((st) => {
      const sdh = s.sessionDescriptionHandler;
      if (sdh?.peerConnection) watchPc(sdh.peerConnection);
      if (st === SessionState.Established) {
        established = true;
        attachFromReceivers();
        setState('connected');
      } else if (st === SessionState.Terminated) {
        test.endedBy = localEnd ? 'local' : 'remote';
        if (established) setState('ended', localEnd ? 'Terminated' : 'BYE');
        else setState('failed', rejectCause ?? (localEnd ? 'Canceled' : 'Terminated'));
        session = null;
      }
    });
  }

  return {
    async call(target) {
      try {
        // A failed start (Ferry down when the page loaded) gets one more try per call.
        await started.catch(() => ua.reconnect());
      } catch (e) {
        test.endedBy = 'local';
        setState('failed', `Connection Error: ${e.message}`);
        return;
      }
      const inviter = new Inviter(ua, UserAgent.makeURI(target), { sessionDescriptionHandlerOptions: sdhOptions });
      track(inviter);
      const reject = (r) => {
        test.status = r.message.statusCode;
        rejectCause = `${r.message.statusCode} ${r.message.reasonPhrase}`;
      };
      await inviter.invite({ requestDelegate: { onReject: reject } }).catch((e) => {
        rejectCause ??= e.message;
        if (inviter.state !== SessionState.Terminated) inviter.dispose();
      });
    },
    hangup() {
      if (!session) return;
      localEnd = true;
      const s = session;
      if (s.state === SessionState.Established) s.bye();
      else if (s instanceof Inviter) s.cancel();
      else s.reject();
    },
    dtmf(key) {
      if (!DTMF_INFO) { insertDtmf(key); return; }
      if (session?.state !== SessionState.Established) throw new Error('no call');
      const content = `Signal=${key}\r\nDuration=100\r\n`;
      session.info({ requestOptions: { body: { contentDisposition: 'render', contentType: 'application/dtmf-relay', content } } });
    },
    hold(on) {
      if (session?.state !== SessionState.Established) return Promise.reject(new Error('no call'));
      session.sessionDescriptionHandlerOptionsReInvite = { ...sdhOptions, hold: on };
      return new Promise((resolve, reject) => {
        session.invite({
          requestDelegate: {
            onAccept: () => resolve(),
            onReject: (r) => reject(new Error(`${r.message.statusCode} ${r.message.reasonPhrase}`)),
          },
        }).catch(reject);
      });
    },
  };
}

// Self-test: two peer connections in this page, the fake microphone on both. Validates the
// Chromium flags, the tone file, the analyser and the stats code without any SIP server.
function selftestBackend() {
  let far = null;
  return {
    async call() {
      const mic = await navigator.mediaDevices.getUserMedia(AUDIO_ONLY);
      const near = new RTCPeerConnection({ iceServers: [] });
      far = new RTCPeerConnection({ iceServers: [] });
      watchPc(near);
      for (const [a, b] of [[near, far], [far, near]]) {
        a.addEventListener('icecandidate', (e) => e.candidate && b.addIceCandidate(e.candidate));
        mic.getTracks().forEach((t) => a.addTrack(t, mic));
      }
      near.addEventListener('connectionstatechange', () => {
        if (near.connectionState === 'connected') setState('connected');
        if (near.connectionState === 'failed') setState('failed', 'ICE failed');
      });
      await near.setLocalDescription();
      await far.setRemoteDescription(near.localDescription);
      await far.setLocalDescription();
      await near.setRemoteDescription(far.localDescription);
    },
    hangup() {
      for (const c of [pc, far]) c?.close();
      test.endedBy = 'local';
      setState('ended', 'Terminated');
    },
    dtmf: insertDtmf,
  };
}

// ---- UI actions ----

async function call(dest) {
  if (test.state === 'calling' || test.state === 'connected') return;
  dest = String(dest || 'echo').trim();
  const target = dest.startsWith('sip:') ? dest : `sip:${dest}@${HOST}`;
  test.cause = null;
  test.endedBy = null;
  test.status = null;
  test.held = false;
  pc = null;
  attachedTrack = null;
  analyser = null;
  ensureAudioCtx();
  setState('calling', `${target} via ${SELFTEST ? 'loopback' : WS}`);
  try {
    await backend.call(target);
  } catch (e) {
    test.endedBy = 'local';
    setState('failed', e.message || String(e));
  }
}

function hangup() {
  if (test.state !== 'calling' && test.state !== 'connected') return;
  try { backend.hangup(); } catch (e) { log('hangup:', e.message); }
}

// Hold (on) or resume (!on): { ok, ms } once the far end accepted the re-INVITE, else
// { ok: false, error }; at most 10 s.
async function reoffer(on) {
  const t0 = performance.now();
  if (test.state !== 'connected' || !backend.hold) return { ok: false, error: `cannot hold in state ${test.state}` };
  try {
    await Promise.race([
      backend.hold(on),
      new Promise((_, reject) => setTimeout(() => reject(new Error('no answer to the re-INVITE in 10 s')), 10_000)),
    ]);
    test.held = on;
    log(on ? 'held' : 'resumed');
    return { ok: true, ms: Math.round(performance.now() - t0), remoteDirection: remoteDirection() };
  } catch (e) {
    log(on ? 'hold' : 'unhold', 'failed:', e.message);
    return { ok: false, error: e.message, state: test.state };
  }
}

function dtmf(key) {
  if (test.state !== 'connected') return false;
  try {
    backend.dtmf(String(key));
    test.dtmfSent.push(String(key));
    log('dtmf', key);
    return true;
  } catch (e) {
    log('dtmf failed:', e.message);
    return false;
  }
}

$('call').addEventListener('click', () => call($('dest').value));
$('hangup').addEventListener('click', hangup);
$('hold').addEventListener('click', async () => {
  $('hold').disabled = true;
  const r = await reoffer(!test.held);
  if (!r.ok) log('hold button:', r.error);
  $('hold').textContent = test.held ? 'Resume' : 'Hold';
  $('hold').disabled = test.state !== 'connected';
});
$('keypad').addEventListener('click', (e) => e.target.dataset.key && dtmf(e.target.dataset.key));

async function init() {
  $('dest').value = q.get('dest') || 'echo';
  if (SELFTEST) {
    backend = selftestBackend();
  } else if (LIB === 'sipjs') {
    await loadScript('sipjs.min.js');
    backend = sipjsBackend();
  } else {
    await loadScript('jssip.min.js');
    backend = jssipBackend();
  }
  const version = SELFTEST ? '' : LIB === 'sipjs' ? window.SIP.version : window.JsSIP.version;
  test.libVersion = version || null;
  $('info').textContent = SELFTEST ? 'self-test: in-page loopback, no SIP' : `${LIB} ${version ?? ''} via ${WS}${USER ? `, registering as ${USER}` : ''}`;
  test.ready = true;
  log('ready', test.lib, version ?? '', WS);
}

init().catch((e) => setState('failed', `init: ${e.message}`));
