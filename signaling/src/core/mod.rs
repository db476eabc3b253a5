//! The call core: one task that owns every call, fed by the transports and the engine.
//!
//! Inputs arrive on one channel ([`Input`]): SIP from browsers over WebSocket, SIP from the
//! trunk, events from the engine, and a timer tick. One owner for all state keeps the B2BUA free
//! of locks; the protocol machines it drives (SIP transactions, DTLS, SDP) are sans-IO and take
//! `now` from here.

mod browser;
mod call;
mod dialog;
mod dtls_task;
mod dtmf;
mod info;
mod media;
mod msg;
mod persist;
mod reinvite;
mod snapshot;
mod subscriber;
mod transport;
mod trunk;
mod trunk_in;
mod trunk_out;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_control::SessionId;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::dtls::Certificate;
use crate::engine::{EngineEvent, EngineHandle};
pub use call::CallId;
use call::{Call, Dir, Phase};
pub use snapshot::{CallSummary, Snapshot};
pub use trunk::TrunkSocket;

use crate::sip::txn::{Txn, TxnEvent, TxnKey};
use crate::sip::{NameAddr, Uri};

/// Why a call ended, for the log and the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hangup {
    /// The browser sent BYE or CANCEL.
    Browser,
    /// The trunk sent BYE or CANCEL.
    Trunk,
    /// The browser's WebSocket closed.
    WsClosed,
    /// Media failed (DTLS, the engine ended the session or went away).
    Media,
    /// The other side never answered.
    Timeout,
    /// The browser stopped refreshing its session timer (RFC 4028).
    SessionExpired,
}

impl Hangup {
    /// RFC 3326 Reason for the BYE that tells the other side, when the cause is ours.
    fn reason_header(self) -> Option<&'static str> {
        match self {
            Self::Media => Some("SIP;cause=500;text=\"media failed (DTLS or engine)\""),
            Self::Timeout => Some("SIP;cause=408;text=\"no answer\""),
            Self::SessionExpired => Some("SIP;cause=408;text=\"session timer expired\""),
            Self::WsClosed => Some("SIP;cause=480;text=\"browser disconnected\""),
            Self::Browser | Self::Trunk => None,
        }
    }
}

/// A browser registered to take calls from the trunk.
#[derive(Debug, Clone)]
struct Binding {
    conn: ConnId,
    contact: Uri,
    aor: NameAddr,
    expires: Instant,
}

/// A WebSocket connection's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// What the core sends to a WebSocket's writer.
#[derive(Debug)]
pub enum WsOut {
    /// One SIP message.
    Text(String),
    /// Close with a code and reason.
    Close(u16, String),
}

/// What the core is fed.
#[derive(Debug)]
pub enum Input {
    /// A browser connected.
    WsOpen {
        /// Its id.
        conn: ConnId,
        /// Its address.
        peer: SocketAddr,
        /// Where to send it messages.
        tx: mpsc::Sender<WsOut>,
    },
    /// A SIP message from a browser.
    WsMessage {
        /// From whom.
        conn: ConnId,
        /// The message.
        bytes: Vec<u8>,
    },
    /// A browser went away.
    WsClosed {
        /// Which.
        conn: ConnId,
    },
    /// A SIP message from the trunk side.
    Trunk {
        /// Source.
        from: SocketAddr,
        /// The message.
        bytes: Vec<u8>,
    },
    /// The engine said something.
    Engine(EngineEvent),
    /// A call's DTLS task made a step.
    Dtls(dtls_task::DtlsOut),
    /// The admin API asks for counters and calls.
    Snapshot(tokio::sync::oneshot::Sender<Snapshot>),
}

/// How often timers (retransmissions, DTLS, expiry) are looked at.
const TICK: Duration = Duration::from_millis(20);

#[derive(Debug)]
struct Conn {
    tx: mpsc::Sender<WsOut>,
    peer: SocketAddr,
}

/// Counters the admin API and tests read.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct CoreStats {
    /// New INVITEs taken up (from browsers and from the trunk).
    pub attempts: u64,
    /// Calls that reached 200 OK on the browser leg.
    pub answered: u64,
    /// Calls that failed before answer, by SIP status sent to the browser.
    pub failed: HashMap<u16, u64>,
    /// Calls up now.
    pub active: usize,
    /// Malformed SIP messages from browsers.
    pub malformed: u64,
    /// SIP datagrams from addresses other than the trunk, dropped.
    pub sip_from_strangers: u64,
    /// INFO requests relayed between the legs.
    pub info_relayed: u64,
    /// Whether the trunk answered its last OPTIONS keepalive (`None`: keepalives off).
    pub trunk_up: Option<bool>,
}

/// The call core's state.
pub struct Core {
    cfg: Arc<Config>,
    engine: EngineHandle,
    /// Our own input channel, for the tasks the core starts (DTLS).
    inputs: mpsc::Sender<Input>,
    /// Services, CAPTCHA and call links (anonymous callers).
    product: Arc<crate::product::Product>,
    /// Failed subscriber logins, by user and address.
    throttle: crate::abuse::Throttle,
    /// REGISTERs relayed to the PBX, by our transaction.
    registers: HashMap<TxnKey, subscriber::PendingRegister>,
    /// The thread that writes answered calls to disk.
    persister: std::sync::mpsc::Sender<persist::Persist>,
    cert: Arc<Certificate>,
    trunk: Option<TrunkSocket>,
    /// Addresses advertised in browser candidates.
    candidates: Vec<IpAddr>,
    conns: HashMap<ConnId, Conn>,
    calls: HashMap<CallId, Call>,
    by_browser: HashMap<String, CallId>,
    by_trunk: HashMap<String, CallId>,
    by_session: HashMap<SessionId, CallId>,
    /// Trunk-side transactions, and the call each belongs to.
    trunk_txns: HashMap<TxnKey, Txn>,
    txn_calls: HashMap<TxnKey, CallId>,
    /// Transaction events waiting for the TU.
    txn_events: Vec<(Option<CallId>, TxnEvent)>,
    /// Registered browsers by lower-cased user.
    bindings: HashMap<String, Binding>,
    /// Trunk dialogs we cancelled, by Call-ID, kept until 64*T1 in case a 2xx crosses the
    /// CANCEL.
    cancelled: HashMap<String, (dialog::Dialog, Instant)>,
    /// The OPTIONS keepalive in flight, and when the next is due.
    options_key: Option<TxnKey>,
    next_options: Option<Instant>,
    next_call: u64,
    rng: StdRng,
    stats: CoreStats,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("calls", &self.calls.len())
            .field("conns", &self.conns.len())
            .finish()
    }
}

impl Core {
    /// A core with no calls.
    pub fn new(
        cfg: Arc<Config>,
        engine: EngineHandle,
        cert: Arc<Certificate>,
        trunk: Option<TrunkSocket>,
        inputs: mpsc::Sender<Input>,
        product: Arc<crate::product::Product>,
    ) -> Self {
        let candidates = cfg.candidate_addrs();
        Self {
            cfg,
            engine,
            inputs,
            product,
            throttle: crate::abuse::Throttle::new(crate::abuse::ThrottleConfig::default()),
            registers: HashMap::new(),
            persister: persist::writer(),
            cert,
            trunk,
            candidates,
            conns: HashMap::new(),
            calls: HashMap::new(),
            by_browser: HashMap::new(),
            by_trunk: HashMap::new(),
            by_session: HashMap::new(),
            trunk_txns: HashMap::new(),
            txn_calls: HashMap::new(),
            txn_events: Vec::new(),
            bindings: HashMap::new(),
            cancelled: HashMap::new(),
            options_key: None,
            next_options: None,
            next_call: 1,
            rng: StdRng::from_entropy(),
            stats: CoreStats::default(),
        }
    }

    /// Runs until the input channel closes.
    pub async fn run(mut self, mut inputs: mpsc::Receiver<Input>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                input = inputs.recv() => match input {
                    Some(i) => self.handle_input(i, Instant::now()).await,
                    None => break,
                },
                _ = tick.tick() => self.handle_timeout(Instant::now()).await,
            }
        }
    }

    async fn handle_input(&mut self, input: Input, now: Instant) {
        match input {
            Input::WsOpen { conn, peer, tx } => {
                tracing::debug!(?conn, %peer, "websocket open");
                self.conns.insert(conn, Conn { tx, peer });
            }
            Input::WsMessage { conn, bytes } => self.handle_browser(conn, &bytes, now).await,
            Input::WsClosed { conn } => self.handle_ws_closed(conn, now).await,
            Input::Trunk { from, bytes } => self.handle_trunk(from, &bytes, now).await,
            Input::Engine(ev) => self.handle_engine(ev, now).await,
            Input::Dtls(out) => self.on_dtls(out).await,
            Input::Snapshot(reply) => {
                let _ = reply.send(self.snapshot(now));
            }
        }
    }

    async fn handle_timeout(&mut self, now: Instant) {
        self.trunk_timeouts(now).await;
        self.session_timers(now).await;
        self.bindings.retain(|_, b| b.expires > now);
        self.stats.active = self.calls.len();
    }

    fn ws_send(&self, conn: ConnId, text: String) {
        if let Some(c) = self.conns.get(&conn) {
            if c.tx.try_send(WsOut::Text(text)).is_err() {
                tracing::warn!(?conn, peer = %c.peer, "websocket queue full; closing");
                let _ = c.tx.try_send(WsOut::Close(1008, "queue full".into()));
            }
        }
    }

    fn new_call_id(&mut self) -> CallId {
        let id = CallId(self.next_call);
        self.next_call += 1;
        id
    }

    /// Forgets a call everywhere (the engine session is removed by the caller).
    fn forget(&mut self, id: CallId) -> Option<Call> {
        let call = self.calls.remove(&id)?;
        self.by_browser.remove(&call.browser.dialog.call_id);
        if let Some(t) = &call.trunk {
            self.by_trunk.remove(&t.dialog.call_id);
        }
        self.txn_calls.retain(|_, c| *c != id);
        if let Some(s) = call.media.session {
            self.by_session.remove(&s);
        }
        Some(call)
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> CoreStats {
        self.stats.clone()
    }
}
