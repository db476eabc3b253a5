//! The trunk leg: SIP over UDP toward the PBX or carrier, where Ferry is the UAC.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::browser::Hangup;
use super::call::TrunkLeg;
use super::msg::{AGENT, ALLOW, response, text};
use super::{CallId, Core, Input};
use crate::config::{Config, TrunkConfig};
use crate::route::TrunkTarget;
use crate::sdp;
use crate::sip::{Message, Method, NameAddr, Request, Response, auth};

/// A pending UDP retransmission (RFC 3261 §17.1.1.2 Timers A and B).
#[derive(Debug)]
pub struct Retransmit {
    bytes: Vec<u8>,
    next: Instant,
    interval: Duration,
    deadline: Instant,
}

/// The trunk-side SIP socket and where the trunk is.
#[derive(Debug)]
pub struct TrunkSocket {
    sock: Arc<UdpSocket>,
    target: SocketAddr,
    host: String,
    port: u16,
    /// Our address as the trunk should see it (Via, Contact).
    local: SocketAddr,
    /// Address in our SDP toward the trunk.
    media_addr: IpAddr,
    cfg: TrunkConfig,
    t1: Duration,
}

impl TrunkSocket {
    /// Binds the SIP socket and starts its receive loop, if a trunk is configured.
    pub async fn bind(cfg: &Config, core: mpsc::Sender<Input>) -> Result<Option<Self>, String> {
        let Some(t) = cfg.trunk.clone() else {
            return Ok(None);
        };
        let target_uri = TrunkTarget::parse(&t.uri)?;
        let target = target_uri.resolve()?;
        let sock = UdpSocket::bind(cfg.sip.listen)
            .await
            .map_err(|e| format!("sip.listen {}: {e}", cfg.sip.listen))?;
        let bound = sock.local_addr().map_err(|e| e.to_string())?;
        let ip = if bound.ip().is_unspecified() {
            crate::config::route_addr(target.ip()).unwrap_or(target.ip())
        } else {
            bound.ip()
        };
        let sock = Arc::new(sock);
        let rx = sock.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 65_536];
            loop {
                let Ok((n, from)) = rx.recv_from(&mut buf).await else {
                    continue;
                };
                // CRLF keepalives (RFC 5626 §4.4.1) carry nothing for the core.
                if buf[..n].iter().all(|b| b.is_ascii_whitespace()) {
                    continue;
                }
                let bytes = buf[..n].to_vec();
                if core.send(Input::Trunk { from, bytes }).await.is_err() {
                    break;
                }
            }
        });
        Ok(Some(Self {
            sock,
            target,
            host: target_uri.host,
            port: target_uri.port,
            local: SocketAddr::new(ip, bound.port()),
            media_addr: cfg.media.trunk_addr.unwrap_or(ip),
            cfg: t,
            t1: Duration::from_millis(cfg.sip.t1_ms),
        }))
    }

    fn send(&self, bytes: &[u8]) {
        if let Err(e) = self.sock.try_send_to(bytes, self.target) {
            tracing::warn!("sip to trunk {}: {e}", self.target);
        }
    }

    fn via(&self, branch: &str) -> String {
        format!("SIP/2.0/UDP {};branch={branch};rport", self.local)
    }
}

impl Core {
    /// Places the trunk leg of a browser's call.
    pub(super) async fn trunk_invite(&mut self, id: CallId, user: &str, now: Instant) {
        let Some(trunk) = self.trunk.as_ref() else {
            return;
        };
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let port = call.media.legs.map(|l| l[1].rtp.port()).unwrap_or(0);
        let policy = sdp::CodecPolicy {
            allowed: trunk.cfg.codecs.clone(),
        };
        let offer = match sdp::trunk_offer(
            &call.browser.offer,
            &policy,
            trunk.media_addr,
            port,
            id.0,
            1,
        ) {
            Ok(o) => o,
            Err(e) => {
                tracing::info!(?id, "no offer for the trunk: {e}");
                self.fail_browser(id, e.sip_status(), "Not Acceptable Here")
                    .await;
                return;
            }
        };
        let caller = call
            .browser
            .invite
            .from()
            .and_then(|f| f.uri.user.clone())
            .filter(|u| crate::route::route(Some(u), true) != crate::route::Route::None)
            .unwrap_or_else(|| "anonymous".into());
        let call_id = crate::sip::util::new_call_id(&mut self.rng);
        let tag = crate::sip::util::new_tag(&mut self.rng);
        let branch = crate::sip::util::new_branch(&mut self.rng);
        let (host, port_t, local) = (&trunk.host, trunk.port, trunk.local);
        let raw = format!(
            "INVITE sip:{user}@{host}:{port_t} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\n\
             From: <sip:{caller}@{}>;tag={tag}\r\nTo: <sip:{user}@{host}:{port_t}>\r\n\
             Call-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:ferry@{local}>\r\n\
             Allow: {ALLOW}\r\nSupported: timer\r\nUser-Agent: {AGENT}\r\n\
             Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{offer}",
            trunk.via(&branch),
            local.ip(),
            offer.len()
        );
        let Ok(Message::Request(invite)) = Message::parse(raw.as_bytes()) else {
            tracing::error!(?id, "built an INVITE we cannot parse");
            self.fail_browser(id, 500, "Server Internal Error").await;
            return;
        };
        let leg = TrunkLeg {
            call_id: call_id.clone(),
            local_tag: tag,
            remote_tag: None,
            invite,
            cseq: 1,
            remote_target: None,
            route_set: Vec::new(),
            answered: false,
            auth_tried: false,
            retransmit: None,
        };
        self.by_trunk.insert(call_id, id);
        if let Some(c) = self.calls.get_mut(&id) {
            c.trunk = Some(leg);
        }
        self.send_invite(id, now);
    }

    /// Sends (or re-sends with new credentials) the trunk INVITE and arms Timers A/B.
    fn send_invite(&mut self, id: CallId, now: Instant) {
        let (Some(trunk), Some(call)) = (self.trunk.as_ref(), self.calls.get_mut(&id)) else {
            return;
        };
        let Some(leg) = call.trunk.as_mut() else {
            return;
        };
        let bytes = leg.invite.to_bytes();
        trunk.send(&bytes);
        leg.retransmit = Some(Retransmit {
            bytes,
            next: now + trunk.t1,
            interval: trunk.t1,
            deadline: now + trunk.t1 * 64,
        });
    }

    pub(super) async fn trunk_timeout(&mut self, id: CallId, now: Instant) {
        let Some(trunk) = self.trunk.as_ref() else {
            return;
        };
        let Some(leg) = self.calls.get_mut(&id).and_then(|c| c.trunk.as_mut()) else {
            return;
        };
        let Some(rt) = leg.retransmit.as_mut() else {
            return;
        };
        if now >= rt.deadline {
            leg.retransmit = None;
            tracing::info!(?id, "trunk did not answer (Timer B)");
            self.end_call(id, Hangup::Timeout).await;
        } else if now >= rt.next {
            trunk.send(&rt.bytes);
            rt.interval *= 2;
            rt.next = now + rt.interval;
        }
    }

    pub(super) async fn handle_trunk(&mut self, from: SocketAddr, bytes: &[u8], now: Instant) {
        let Some(trunk) = self.trunk.as_ref() else {
            return;
        };
        if from != trunk.target {
            // Only the configured trunk may speak to this socket (toll fraud, spoofed BYEs).
            tracing::debug!(%from, "sip from a stranger, dropped");
            return;
        }
        match Message::parse(bytes) {
            Ok(Message::Response(r)) => self.trunk_response(r, now).await,
            Ok(Message::Request(r)) => self.trunk_request(r).await,
            Err(e) => {
                tracing::info!(%from, "malformed SIP from trunk: {e}");
                if let Some(r) = e.bad_request(bytes) {
                    trunk.send(&Message::Response(r).to_bytes());
                }
            }
        }
    }

    async fn trunk_response(&mut self, resp: Response, now: Instant) {
        let Some(&id) = resp.call_id().and_then(|c| self.by_trunk.get(c)) else {
            return;
        };
        let Some((cseq, method)) = resp.cseq() else {
            return;
        };
        if method != Method::Invite {
            return; // BYE/CANCEL answers: nothing waits on them.
        }
        let Some(leg) = self.calls.get_mut(&id).and_then(|c| c.trunk.as_mut()) else {
            return;
        };
        if cseq != leg.cseq {
            return;
        }
        leg.retransmit = None;
        if let Some(tag) = resp.to().and_then(|t| t.tag().map(str::to_string)) {
            leg.remote_tag = Some(tag);
        }
        match resp.status {
            100..=199 => {
                if matches!(resp.status, 180 | 183) {
                    self.browser_ringing(id);
                }
            }
            200..=299 => self.trunk_answered(id, resp).await,
            401 | 407 => {
                self.ack_non_2xx(id, &resp);
                if !self.retry_with_auth(id, &resp, now) {
                    self.fail_browser(id, 403, "Trunk Authentication Failed")
                        .await;
                }
            }
            _ => {
                self.ack_non_2xx(id, &resp);
                let reason = resp.reason.clone();
                if let Some(c) = self.calls.get_mut(&id) {
                    c.trunk = None; // its INVITE transaction is over: nothing to cancel
                }
                self.fail_browser(id, resp.status, &reason).await;
            }
        }
    }

    fn browser_ringing(&mut self, id: CallId) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let b = &call.browser;
        let r = response(&b.invite, 180, "Ringing", Some(&b.local_tag));
        self.ws_send(b.conn, text(r));
    }

    async fn trunk_answered(&mut self, id: CallId, resp: Response) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(leg) = call.trunk.as_mut() else {
            return;
        };
        let first = !leg.answered;
        leg.answered = true;
        if first {
            leg.remote_target = resp.contact().map(|c| c.uri);
            leg.route_set = resp
                .headers
                .get_all("Record-Route")
                .map(String::from)
                .collect();
            leg.route_set.reverse();
        }
        // Every 2xx, retransmissions included, gets an ACK (RFC 3261 §13.2.2.4).
        self.send_in_dialog(id, Method::Ack);
        if !first {
            return;
        }
        let body = String::from_utf8_lossy(&resp.body).into_owned();
        let answer = match sdp::parse_plain(&body) {
            Ok(a) => a,
            Err(e) => {
                tracing::info!(?id, "trunk answer: {e}");
                self.send_in_dialog(id, Method::Bye);
                self.fail_browser(id, 488, "Not Acceptable Here").await;
                return;
            }
        };
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let local = self.local_ice(call);
        let built = sdp::browser_answer(&call.browser.offer, &answer, &local, id.0, 1);
        let (browser_sdp, pt) = match built {
            Ok(x) => x,
            Err(e) => {
                tracing::info!(?id, "no answer for the browser: {e}");
                self.send_in_dialog(id, Method::Bye);
                self.fail_browser(id, e.sip_status(), "Not Acceptable Here")
                    .await;
                return;
            }
        };
        let Some(m) = answer.media.iter().find(|m| m.port != 0) else {
            self.send_in_dialog(id, Method::Bye);
            self.fail_browser(id, 488, "Not Acceptable Here").await;
            return;
        };
        let rtp = SocketAddr::new(m.addr, m.port);
        if let Err(e) = self.install_trunk_media(id, rtp, m.rtcp, &pt).await {
            tracing::warn!(?id, "installing trunk media: {e}");
            self.send_in_dialog(id, Method::Bye);
            self.fail_browser(id, 500, "Media Install Failed").await;
            return;
        }
        self.answer_browser(id, browser_sdp);
    }

    /// RFC 3261 §17.1.1.3: the ACK of a non-2xx final reuses the INVITE's Via branch.
    fn ack_non_2xx(&mut self, id: CallId, resp: &Response) {
        let (Some(trunk), Some(call)) = (self.trunk.as_ref(), self.calls.get(&id)) else {
            return;
        };
        let Some(leg) = call.trunk.as_ref() else {
            return;
        };
        let inv = &leg.invite;
        let via = inv.headers.get("Via").unwrap_or_default();
        let from = inv.headers.get("From").unwrap_or_default();
        let to = resp.headers.get("To").unwrap_or_default();
        let raw = format!(
            "ACK {} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\nFrom: {from}\r\nTo: {to}\r\n\
             Call-ID: {}\r\nCSeq: {} ACK\r\nContent-Length: 0\r\n\r\n",
            inv.uri, leg.call_id, leg.cseq
        );
        trunk.send(raw.as_bytes());
    }

    fn retry_with_auth(&mut self, id: CallId, resp: &Response, now: Instant) -> bool {
        let Some(trunk) = self.trunk.as_ref() else {
            return false;
        };
        let (Some(user), Some(pass)) = (trunk.cfg.username.clone(), trunk.cfg.password.clone())
        else {
            return false;
        };
        let (challenge_h, answer_h) = if resp.status == 407 {
            ("Proxy-Authenticate", "Proxy-Authorization")
        } else {
            ("WWW-Authenticate", "Authorization")
        };
        let Some(ch) = resp
            .headers
            .get(challenge_h)
            .and_then(|v| auth::Challenge::parse(v).ok())
        else {
            return false;
        };
        let branch = crate::sip::util::new_branch(&mut self.rng);
        let cnonce = crate::sip::util::new_tag(&mut self.rng);
        let via = self
            .trunk
            .as_ref()
            .map(|t| t.via(&branch))
            .unwrap_or_default();
        let Some(leg) = self.calls.get_mut(&id).and_then(|c| c.trunk.as_mut()) else {
            return false;
        };
        if leg.auth_tried {
            return false;
        }
        leg.auth_tried = true;
        leg.cseq += 1;
        let uri = leg.invite.uri.to_string();
        let value = auth::authorization(&ch, &user, &pass, &Method::Invite, &uri, &cnonce, 1);
        leg.invite.headers.set("Via", &via);
        leg.invite
            .headers
            .set("CSeq", &format!("{} INVITE", leg.cseq));
        leg.invite.headers.set(answer_h, &value);
        self.send_invite(id, now);
        true
    }

    /// Sends ACK (for a 2xx) or BYE in the trunk dialog.
    fn send_in_dialog(&mut self, id: CallId, method: Method) {
        let branch = crate::sip::util::new_branch(&mut self.rng);
        let (Some(trunk), Some(call)) = (self.trunk.as_ref(), self.calls.get_mut(&id)) else {
            return;
        };
        let Some(leg) = call.trunk.as_mut() else {
            return;
        };
        if method == Method::Bye {
            leg.cseq += 1;
        }
        let target = leg
            .remote_target
            .as_ref()
            .map(|u| u.to_string())
            .unwrap_or_else(|| leg.invite.uri.to_string());
        let from = leg.invite.headers.get("From").unwrap_or_default();
        let mut to = leg.invite.to().map(|t| t.to_string()).unwrap_or_default();
        if let (Some(tag), Ok(mut na)) = (&leg.remote_tag, NameAddr::parse(&to)) {
            na.set_tag(tag);
            to = na.to_string();
        }
        let routes: String = leg
            .route_set
            .iter()
            .map(|r| format!("Route: {r}\r\n"))
            .collect();
        let cseq = leg.cseq;
        let raw = format!(
            "{method} {target} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\n{routes}From: {from}\r\n\
             To: {to}\r\nCall-ID: {}\r\nCSeq: {cseq} {method}\r\nUser-Agent: {AGENT}\r\n\
             Content-Length: 0\r\n\r\n",
            trunk.via(&branch),
            leg.call_id
        );
        trunk.send(raw.as_bytes());
    }

    /// Ends the trunk leg: BYE once answered, CANCEL while the INVITE is pending.
    pub(super) async fn hangup_trunk(&mut self, id: CallId) {
        let Some(leg) = self.calls.get(&id).and_then(|c| c.trunk.as_ref()) else {
            return;
        };
        if leg.answered {
            self.send_in_dialog(id, Method::Bye);
        } else {
            self.cancel_trunk(id);
        }
        if let Some(c) = self.calls.get_mut(&id) {
            c.trunk = None;
        }
    }

    /// RFC 3261 §9.1: CANCEL copies the INVITE's Request-URI, Via, From, To, Call-ID and CSeq
    /// number. (The trunk's 487 that follows finds no call and is dropped.)
    fn cancel_trunk(&mut self, id: CallId) {
        let (Some(trunk), Some(call)) = (self.trunk.as_ref(), self.calls.get(&id)) else {
            return;
        };
        let Some(leg) = call.trunk.as_ref() else {
            return;
        };
        let inv = &leg.invite;
        let h = |n: &str| inv.headers.get(n).unwrap_or_default().to_string();
        let raw = format!(
            "CANCEL {} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {}\r\n\
             Call-ID: {}\r\nCSeq: {} CANCEL\r\nContent-Length: 0\r\n\r\n",
            inv.uri,
            h("Via"),
            h("From"),
            h("To"),
            leg.call_id,
            leg.cseq
        );
        trunk.send(raw.as_bytes());
    }

    async fn trunk_request(&mut self, req: Request) {
        let Some(trunk) = self.trunk.as_ref() else {
            return;
        };
        let id = req.call_id().and_then(|c| self.by_trunk.get(c)).copied();
        let (code, reason) = match (&req.method, id) {
            (Method::Ack, _) => return,
            (Method::Bye, Some(_)) => (200, "OK"),
            (Method::Options, _) => (200, "OK"),
            (Method::Info | Method::Update, Some(_)) => (200, "OK"),
            (Method::Invite, None) => (480, "Temporarily Unavailable"),
            (Method::Invite, Some(_)) => (488, "Not Acceptable Here"),
            (_, None) => (481, "Call/Transaction Does Not Exist"),
            _ => (501, "Not Implemented"),
        };
        let mut r = response(&req, code, reason, None);
        if req.method == Method::Options {
            r.headers.push("Allow", ALLOW);
        }
        trunk.send(&Message::Response(r).to_bytes());
        if let (Method::Bye, Some(id)) = (&req.method, id) {
            if let Some(c) = self.calls.get_mut(&id) {
                c.trunk = None;
            }
            self.end_call(id, Hangup::Trunk).await;
        }
    }
}
