//! The trunk side: SIP over UDP toward the PBX or carrier, through RFC 3261 transactions.
//!
//! Every request Ferry sends (but a 2xx ACK) runs in a client transaction, every request the
//! trunk sends in a server transaction, so retransmissions, Timer B/F timeouts and the ACK of
//! non-2xx finals are the transaction layer's (`sip::txn`); what is left here is the TU.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

use super::msg::{ALLOW, response};
use super::transport::{self, Transport};
use super::{CallId, Core, Input};
use crate::config::{Config, TrunkConfig, TrunkTransport};
use crate::route::TrunkTarget;
use crate::sip::txn::{Timers, Txn, TxnEvent, TxnKey};
use crate::sip::{Message, Method, Request, Response};

/// A pending retransmission of a message the TU owns (a 2xx to INVITE, §13.3.1.4).
#[derive(Debug)]
pub struct Retransmit {
    bytes: Vec<u8>,
    next: Instant,
    interval: Duration,
    deadline: Instant,
}

/// The trunk-side SIP transport and where the trunk is.
#[derive(Debug)]
pub struct TrunkSocket {
    transport: Transport,
    target: SocketAddr,
    /// Trunk host and port as written in the config (Request-URIs).
    pub host: String,
    /// Trunk port.
    pub port: u16,
    /// Our address as the trunk should see it (Via, Contact).
    pub local: SocketAddr,
    /// Address in our SDP toward the trunk.
    pub media_addr: IpAddr,
    /// Trunk settings.
    pub cfg: TrunkConfig,
    /// Transaction timers.
    pub timers: Timers,
}

impl TrunkSocket {
    /// Binds the SIP socket (UDP, or a TCP listener plus a connection to the trunk) and starts
    /// its receive loops, if a trunk is configured.
    pub async fn bind(cfg: &Config, core: mpsc::Sender<Input>) -> Result<Option<Self>, String> {
        let Some(t) = cfg.trunk.clone() else {
            return Ok(None);
        };
        let target_uri = TrunkTarget::parse(&t.uri)?;
        let target = target_uri.resolve()?;
        let listen = cfg.sip.listen;
        let bind_err = |e: std::io::Error| format!("sip.listen {listen}: {e}");
        let (transport, bound) = match t.transport {
            TrunkTransport::Udp => {
                let sock = UdpSocket::bind(listen).await.map_err(bind_err)?;
                let bound = sock.local_addr().map_err(|e| e.to_string())?;
                (transport::udp(Arc::new(sock), core), bound)
            }
            TrunkTransport::Tcp => {
                let l = TcpListener::bind(listen).await.map_err(bind_err)?;
                let bound = l.local_addr().map_err(|e| e.to_string())?;
                (transport::tcp(l, target, core), bound)
            }
        };
        let ip = if bound.ip().is_unspecified() {
            crate::config::route_addr(target.ip()).unwrap_or(target.ip())
        } else {
            bound.ip()
        };
        let t1 = Duration::from_millis(cfg.sip.t1_ms);
        Ok(Some(Self {
            transport,
            target,
            host: target_uri.host,
            port: target_uri.port,
            local: SocketAddr::new(ip, bound.port()),
            media_addr: cfg.media.trunk_addr.unwrap_or(ip),
            cfg: t,
            timers: Timers {
                t1,
                ..Timers::default()
            },
        }))
    }

    /// Sends one message to the trunk.
    pub fn send(&self, bytes: &[u8]) {
        self.transport.send(bytes, self.target);
    }

    /// Whether the transport is reliable (TCP).
    pub fn reliable(&self) -> bool {
        self.transport.reliable()
    }

    /// Our Via for a new client transaction.
    pub fn via(&self, branch: &str) -> String {
        let t = self.transport.token();
        format!("SIP/2.0/{t} {};branch={branch};rport", self.local)
    }

    /// Our Contact.
    pub fn contact(&self) -> String {
        if self.reliable() {
            format!("<sip:ferry@{};transport=tcp>", self.local)
        } else {
            format!("<sip:ferry@{}>", self.local)
        }
    }
}

impl Retransmit {
    /// Starts at T1, doubles up to T2, gives up after 64*T1.
    pub fn new(bytes: Vec<u8>, timers: &Timers, now: Instant) -> Self {
        Self {
            bytes,
            next: now + timers.t1,
            interval: timers.t1,
            deadline: now + timers.timeout(),
        }
    }
}

impl Core {
    /// A fresh Via for the trunk.
    pub(super) fn trunk_via(&mut self) -> String {
        let branch = crate::sip::util::new_branch(&mut self.rng);
        self.trunk
            .as_ref()
            .map(|t| t.via(&branch))
            .unwrap_or_default()
    }

    /// Sends a request to the trunk in a new client transaction (a 2xx ACK goes bare).
    pub(super) fn trunk_send(&mut self, call: Option<CallId>, req: Request, now: Instant) {
        let Some(trunk) = self.trunk.as_ref() else {
            return;
        };
        if req.method == Method::Ack {
            trunk.send(&req.to_bytes());
            return;
        }
        let Some(key) = TxnKey::client(&req) else {
            return;
        };
        let timers = trunk.timers;
        self.trunk_txns
            .insert(key.clone(), Txn::client(req, false, timers, now));
        if let Some(c) = call {
            self.txn_calls.insert(key.clone(), c);
        }
        self.trunk_pump(&key, now);
    }

    /// Sends a response in the server transaction `key`.
    pub(super) fn trunk_respond(&mut self, key: &TxnKey, resp: Response, now: Instant) {
        if let Some(t) = self.trunk_txns.get_mut(key) {
            t.send_response(now, resp);
        }
        self.trunk_pump(key, now);
    }

    /// Sends what a transaction wants sent; queues what it tells the TU.
    fn trunk_pump(&mut self, key: &TxnKey, _now: Instant) {
        let Some(trunk) = self.trunk.as_ref() else {
            return;
        };
        let Some(t) = self.trunk_txns.get_mut(key) else {
            return;
        };
        while let Some(m) = t.poll_transmit() {
            trunk.send(&m.to_bytes());
        }
        let call = self.txn_calls.get(key).copied();
        let keepalive = self.options_key.as_ref() == Some(key);
        let mut ended = false;
        let mut state = None;
        while let Some(ev) = t.poll_event() {
            match ev {
                TxnEvent::Terminated => ended = true,
                TxnEvent::Response(r) if keepalive && !r.is_provisional() => state = Some(true),
                TxnEvent::Timeout | TxnEvent::TransportError if keepalive => state = Some(false),
                ev => self.txn_events.push((call, ev)),
            }
        }
        if let Some(up) = state {
            self.trunk_state(up);
        }
        if ended {
            if let Some(p) = self.registers.remove(key) {
                // Timer F: the PBX never answered the relayed REGISTER.
                let r = super::msg::response(&p.request, 408, "PBX Did Not Answer", None);
                self.ws_send(p.conn, super::msg::text(r));
            }
        }
        if ended {
            self.trunk_txns.remove(key);
            self.txn_calls.remove(key);
        }
    }

    /// Acts on what transactions reported.
    async fn trunk_drain_events(&mut self, now: Instant) {
        while !self.txn_events.is_empty() {
            let events = std::mem::take(&mut self.txn_events);
            for (call, ev) in events {
                let Some(id) = call else {
                    if let TxnEvent::Response(r) = &ev {
                        if !self.register_response(r, now) {
                            self.late_answer(r, now);
                        }
                    }
                    continue;
                };
                match ev {
                    TxnEvent::Response(r) => self.trunk_response(id, r, now).await,
                    TxnEvent::Request(ack) => self.trunk_ack(id, &ack),
                    TxnEvent::Timeout | TxnEvent::TransportError => {
                        self.trunk_txn_failed(id, now).await;
                    }
                    TxnEvent::Terminated => {}
                }
            }
        }
    }

    /// Any final answer to OPTIONS means the trunk is there (RFC 3261 §11); a timeout that
    /// it is not. Only changes are logged.
    fn trunk_state(&mut self, up: bool) {
        if self.stats.trunk_up != Some(up) {
            if up {
                tracing::info!("trunk answers OPTIONS");
            } else {
                tracing::warn!("trunk does not answer OPTIONS");
            }
        }
        self.stats.trunk_up = Some(up);
    }

    /// Sends an OPTIONS keepalive when one is due.
    fn trunk_keepalive(&mut self, now: Instant) {
        let Some(trunk) = self.trunk.as_ref() else {
            return;
        };
        let every = trunk.cfg.options_interval;
        if every == 0 || self.next_options.is_some_and(|t| now < t) {
            return;
        }
        self.next_options = Some(now + Duration::from_secs(every));
        let uri = crate::sip::Uri::sip(None, &trunk.host, Some(trunk.port));
        let local = trunk.local;
        let via = self.trunk_via();
        let mut req = Request::new(Method::Options, uri.clone());
        req.headers.push("Via", &via);
        req.headers.push("Max-Forwards", "70");
        let tag = crate::sip::util::new_tag(&mut self.rng);
        req.headers
            .push("From", &format!("<sip:ferry@{local}>;tag={tag}"));
        req.headers.push("To", &format!("<{uri}>"));
        req.headers
            .push("Call-ID", &crate::sip::util::new_call_id(&mut self.rng));
        req.headers.push("CSeq", "1 OPTIONS");
        req.headers.push("User-Agent", super::msg::AGENT);
        req.headers.push("Content-Length", "0");
        self.options_key = TxnKey::client(&req);
        self.trunk_send(None, req, now);
    }

    /// Timers of every trunk transaction and of our 2xx retransmissions.
    pub(super) async fn trunk_timeouts(&mut self, now: Instant) {
        self.trunk_keepalive(now);
        let due: Vec<TxnKey> = self
            .trunk_txns
            .iter()
            .filter(|(_, t)| t.poll_timeout().is_some_and(|d| d <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for key in due {
            if let Some(t) = self.trunk_txns.get_mut(&key) {
                t.handle_timeout(now);
            }
            self.trunk_pump(&key, now);
        }
        self.trunk_drain_events(now).await;
        self.cancelled.retain(|_, (_, until)| *until > now);
        let mut dead = Vec::new();
        if let Some(trunk) = self.trunk.as_ref() {
            for call in self.calls.values_mut() {
                let Some(rt) = call.trunk.as_mut().and_then(|t| t.ok_retransmit.as_mut()) else {
                    continue;
                };
                if now >= rt.deadline {
                    dead.push(call.id);
                } else if now >= rt.next {
                    trunk.send(&rt.bytes);
                    rt.interval = (rt.interval * 2).min(trunk.timers.t2);
                    rt.next = now + rt.interval;
                }
            }
        }
        for id in dead {
            // §13.3.1.4: no ACK for 64*T1: the dialog is confirmed but the session ends.
            tracing::info!(?id, "trunk never acknowledged our 200 OK");
            self.end_call(id, super::Hangup::Timeout, now).await;
        }
    }

    pub(super) async fn handle_trunk(&mut self, from: SocketAddr, bytes: &[u8], now: Instant) {
        let Some(trunk) = self.trunk.as_ref() else {
            return;
        };
        if from != trunk.target {
            // Only the configured trunk may speak to this socket (toll fraud, spoofed BYEs).
            tracing::debug!(%from, "sip from a stranger, dropped");
            self.stats.sip_from_strangers += 1;
            return;
        }
        let msg = match Message::parse(bytes) {
            Ok(m) => m,
            Err(e) => {
                tracing::info!(%from, "malformed SIP from trunk: {e}");
                if let Some(r) = e.bad_request(bytes) {
                    trunk.send(&Message::Response(r).to_bytes());
                }
                return;
            }
        };
        let key = TxnKey::incoming(&msg).filter(|k| self.trunk_txns.contains_key(k));
        match (key, msg) {
            (Some(key), msg) => {
                if let Some(t) = self.trunk_txns.get_mut(&key) {
                    t.handle_message(now, msg);
                }
                self.trunk_pump(&key, now);
            }
            (None, Message::Request(req)) => self.trunk_new_request(req, now).await,
            (None, Message::Response(resp)) => self.trunk_stray_response(resp, now),
        }
        self.trunk_drain_events(now).await;
    }

    /// A 2xx retransmitted after its transaction ended still needs an ACK (§13.2.2.4).
    fn trunk_stray_response(&mut self, resp: Response, now: Instant) {
        if self
            .cancelled
            .contains_key(resp.call_id().unwrap_or_default())
        {
            self.late_answer(&resp, now);
            return;
        }
        let Some(&id) = resp.call_id().and_then(|c| self.by_trunk.get(c)) else {
            return;
        };
        if resp.is_success() && resp.cseq().is_some_and(|c| c.1 == Method::Invite) {
            self.trunk_ack_2xx(id, resp.cseq().map_or(0, |c| c.0));
        }
    }

    /// Sends the ACK for the trunk's 2xx.
    pub(super) fn trunk_ack_2xx(&mut self, id: CallId, cseq: u32) {
        let via = self.trunk_via();
        let Some(leg) = self.calls.get_mut(&id).and_then(|c| c.trunk.as_mut()) else {
            return;
        };
        let ack = leg.dialog.request(Method::Ack, &via, Some(cseq));
        if let Some(t) = self.trunk.as_ref() {
            t.send(&ack.to_bytes());
        }
    }

    /// A request outside any transaction: a new one from the trunk.
    async fn trunk_new_request(&mut self, req: Request, now: Instant) {
        if req.method == Method::Ack {
            // The ACK of our 2xx (it has its own branch) ends our retransmissions.
            if let Some(&id) = req.call_id().and_then(|c| self.by_trunk.get(c)) {
                self.trunk_ack(id, &req);
            }
            return;
        }
        let Some(key) = TxnKey::server(&req) else {
            // RFC 2543 peers without a magic-cookie branch: answered statelessly.
            if let Some(t) = self.trunk.as_ref() {
                let r = response(&req, 400, "Missing RFC 3261 Branch", None);
                t.send(&Message::Response(r).to_bytes());
            }
            return;
        };
        let timers = self.trunk.as_ref().map(|t| t.timers).unwrap_or_default();
        self.trunk_txns
            .insert(key.clone(), Txn::server(req.clone(), false, timers, now));
        let call = req.call_id().and_then(|c| self.by_trunk.get(c)).copied();
        if let Some(c) = call {
            self.txn_calls.insert(key.clone(), c);
        }
        let resp = match (&req.method, call) {
            (Method::Invite, None) => {
                self.trunk_incoming_invite(key, req, now).await;
                return;
            }
            (Method::Cancel, _) => {
                self.trunk_cancel(&key, &req, now).await;
                return;
            }
            (Method::Bye, Some(id)) => {
                let r = response(&req, 200, "OK", None);
                self.trunk_respond(&key, r, now);
                if let Some(c) = self.calls.get_mut(&id) {
                    c.trunk = None;
                }
                self.end_call(id, super::Hangup::Trunk, now).await;
                return;
            }
            (Method::Options, _) => {
                let mut r = response(&req, 200, "OK", None);
                r.headers.push("Allow", ALLOW);
                r
            }
            (Method::Info, Some(id)) => {
                self.trunk_respond(&key, response(&req, 200, "OK", None), now);
                self.relay_info_to_browser(id, &req);
                return;
            }
            (Method::Update, Some(_)) => response(&req, 200, "OK", None),
            (Method::Invite, Some(id)) => {
                self.trunk_reinvite(id, key, req, now).await;
                return;
            }
            (_, None) => response(&req, 481, "Call/Transaction Does Not Exist", None),
            _ => {
                let mut r = response(&req, 501, "Not Implemented", None);
                r.headers.push("Allow", ALLOW);
                r
            }
        };
        self.trunk_respond(&key, resp, now);
    }

    /// CANCEL (RFC 3261 §9.2): 200 to the CANCEL, 487 to the INVITE, the browser is told.
    async fn trunk_cancel(&mut self, key: &TxnKey, req: &Request, now: Instant) {
        let inv_key = TxnKey::cancelled(req);
        let call = inv_key
            .as_ref()
            .and_then(|k| self.txn_calls.get(k))
            .copied();
        let Some(id) = call else {
            let r = response(req, 481, "Call/Transaction Does Not Exist", None);
            self.trunk_respond(key, r, now);
            return;
        };
        self.trunk_respond(key, response(req, 200, "OK", None), now);
        let answered = self
            .calls
            .get(&id)
            .is_none_or(|c| c.phase == super::Phase::Answered);
        if answered {
            return;
        }
        if let (Some(k), Some(inv)) = (
            inv_key,
            self.calls
                .get(&id)
                .and_then(|c| c.trunk.as_ref())
                .map(|t| t.invite.clone()),
        ) {
            let tag = self
                .calls
                .get(&id)
                .map(|c| c.trunk_local_tag())
                .unwrap_or_default();
            self.trunk_respond(
                &k,
                response(&inv, 487, "Request Terminated", Some(&tag)),
                now,
            );
        }
        if let Some(c) = self.calls.get_mut(&id) {
            c.trunk = None;
        }
        self.end_call(id, super::Hangup::Trunk, now).await;
    }

    /// The trunk's ACK for our 2xx.
    fn trunk_ack(&mut self, id: CallId, _ack: &Request) {
        if let Some(leg) = self.calls.get_mut(&id).and_then(|c| c.trunk.as_mut()) {
            leg.ok_retransmit = None;
        }
    }

    async fn trunk_txn_failed(&mut self, id: CallId, now: Instant) {
        let setup = self
            .calls
            .get(&id)
            .is_some_and(|c| c.phase == super::Phase::Setup);
        if setup {
            tracing::info!(?id, "trunk did not answer (Timer B)");
            if let Some(c) = self.calls.get_mut(&id) {
                c.trunk = None;
            }
            self.end_call(id, super::Hangup::Timeout, now).await;
        }
    }
}

impl super::Call {
    /// Our tag on the trunk leg.
    pub fn trunk_local_tag(&self) -> String {
        self.trunk
            .as_ref()
            .map(|t| t.dialog.local_tag.clone())
            .unwrap_or_default()
    }
}
