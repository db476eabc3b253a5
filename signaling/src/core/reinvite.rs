//! Re-INVITEs from the browser (hold, resume, ICE restart, session-timer refresh), relayed to
//! the trunk as a re-offer so both legs agree on the media (RFC 3264 §8, RFC 6337 §5).
//!
//! A refresh that changes nothing is answered at once with the SDP we already gave. Anything
//! else becomes a re-INVITE toward the trunk; its answer becomes ours. If the trunk refuses,
//! the browser gets the refusal and the call goes on as it was (RFC 3261 §14.1).

use std::time::Instant;

use ferry_control::{LegKind, Secret};

use super::call::Phase;
use super::msg::{response, text, with_body};
use super::{CallId, ConnId, Core};
use crate::sdp::{self, WebRtcSession};
use crate::sip::{Method, Request, Response};

/// A browser re-INVITE waiting for the trunk's answer.
#[derive(Debug)]
pub struct PendingReinvite {
    /// The browser's request, answered when the trunk answers.
    pub request: Request,
    /// Its offer.
    pub offer: WebRtcSession,
    /// CSeq of our re-INVITE toward the trunk.
    pub trunk_cseq: u32,
}

impl Core {
    /// A re-INVITE from the browser on an established call.
    pub(super) async fn browser_reinvite(
        &mut self,
        id: CallId,
        conn: ConnId,
        req: Request,
        now: Instant,
    ) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if call.phase != Phase::Answered || call.pending_reinvite.is_some() {
            // RFC 3261 §14.2: an offer while ours is outstanding.
            self.ws_send(conn, text(response(&req, 491, "Request Pending", None)));
            return;
        }
        let body = String::from_utf8_lossy(&req.body).into_owned();
        if body.trim().is_empty() {
            // An offerless refresh: we offer our current SDP (RFC 3261 §14.2 allows it, and
            // the ACK carries the browser's answer, which leaves media as it is).
            self.reanswer(id, &req);
            return;
        }
        let offer = match sdp::parse_webrtc(&body) {
            Ok(o) => o,
            Err(e) => {
                self.ws_send(conn, text(super::msg::sdp_refusal(&req, &e)));
                return;
            }
        };
        let Some(old) = call.browser.webrtc.as_ref() else {
            // A call restored after a signaling restart: its media cannot be re-negotiated.
            self.ws_send(conn, text(response(&req, 488, "Not Acceptable Here", None)));
            return;
        };
        if offer.fingerprints != old.fingerprints {
            // A new certificate needs a new DTLS handshake: not supported mid-call.
            let r = response(&req, 488, "Not Acceptable Here", None);
            self.ws_send(conn, text(r));
            return;
        }
        let same_ice = offer.ice_ufrag == old.ice_ufrag && offer.ice_pwd == old.ice_pwd;
        let same_media = offer
            .media
            .iter()
            .map(|m| m.direction)
            .eq(old.media.iter().map(|m| m.direction));
        if same_ice && same_media {
            self.reanswer(id, &req);
            return;
        }
        let trunk_side = call.trunk.as_ref().is_some_and(|t| t.answered);
        if !same_ice {
            self.ice_restart(id, &offer).await;
        }
        if same_media && trunk_side {
            // An ICE restart only concerns the browser leg: answered here, the trunk's media
            // and dialog stay as they are.
            self.ice_reanswer(id, req, offer);
            return;
        }
        if !trunk_side {
            // Echo: answer from the new offer ourselves.
            self.echo_reanswer(id, req, offer);
            return;
        }
        self.trunk_reoffer(id, req, offer, now);
    }

    /// Answers with the SDP we already gave (a refresh, or nothing that concerns the media).
    fn reanswer(&mut self, id: CallId, req: &Request) {
        let contact = self.local_contact_ws();
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let Some(sdp_body) = call.browser.answer_sdp.clone() else {
            let conn = call.browser.conn;
            self.ws_send(conn, text(response(req, 488, "Not Acceptable Here", None)));
            return;
        };
        let mut r = response(req, 200, "OK", Some(&call.browser.dialog.local_tag));
        r.headers.push("Contact", &contact);
        let secs = super::msg::session_timer(req, &mut r);
        let conn = call.browser.conn;
        self.refreshed(id, secs, std::time::Instant::now());
        self.ws_send(conn, text(with_body(r, "application/sdp", sdp_body)));
    }

    /// RFC 8445 §9: new credentials on both sides; media keeps flowing to the nominated
    /// address until checks with the new ones arrive.
    async fn ice_restart(&mut self, id: CallId, offer: &WebRtcSession) {
        let (ufrag, pwd) = super::media::ice_credentials(&mut self.rng);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if let Some(LegKind::Ice(c)) = call.media.spec.as_mut().map(|s| &mut s[0].kind) {
            c.local_ufrag = ufrag.clone();
            c.local_pwd = Secret::new(pwd.as_bytes());
            c.remote_ufrag = offer.ice_ufrag.clone();
        }
        call.media.ice_ufrag = ufrag;
        call.media.ice_pwd = pwd;
        if let Err(e) = self.install(id).await {
            tracing::warn!(?id, "ice restart: {e}");
        }
    }

    fn echo_reanswer(&mut self, id: CallId, req: Request, offer: WebRtcSession) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.sdp_version += 1;
        let version = call.sdp_version;
        call.browser.webrtc = Some(offer);
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let local = self.local_ice(call);
        let policy = sdp::CodecPolicy {
            allowed: super::browser::ECHO_CODECS.map(String::from).to_vec(),
        };
        let Some(offer) = call.browser.webrtc.as_ref() else {
            return;
        };
        match sdp::echo_answer(offer, &policy, &local, id.0, version) {
            Ok(answer) => self.send_reanswer(id, &req, answer),
            Err(e) => {
                let conn = call.browser.conn;
                self.ws_send(
                    conn,
                    text(response(&req, e.sip_status(), "Not Acceptable Here", None)),
                );
            }
        }
    }

    /// Our answer to an ICE-restart offer, from the trunk's current answer and our new
    /// credentials (RFC 8445 §9, RFC 8839 §4.4.1.1.1).
    fn ice_reanswer(&mut self, id: CallId, req: Request, offer: WebRtcSession) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let conn = call.browser.conn;
        let plain = call.trunk.as_ref().and_then(|t| t.plain.clone());
        let mut local = self.local_ice(call);
        let version = call.sdp_version + 1;
        let built = plain
            .ok_or(sdp::SdpError::Malformed("no trunk answer".into()))
            .and_then(|p| {
                local.setup = sdp::Setup::answer_to(offer.setup, sdp::Setup::Passive)?;
                sdp::browser_answer(&offer, &p, &local, id.0, version)
            });
        match built {
            Ok((answer, _)) => {
                if let Some(c) = self.calls.get_mut(&id) {
                    c.sdp_version = version;
                    c.browser.webrtc = Some(offer);
                }
                self.send_reanswer(id, &req, answer);
            }
            Err(e) => {
                tracing::info!(?id, "ICE restart answer: {e}");
                self.ws_send(conn, text(super::msg::sdp_refusal(&req, &e)));
            }
        }
    }

    fn send_reanswer(&mut self, id: CallId, req: &Request, answer: String) {
        let contact = self.local_contact_ws();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let mut r = response(req, 200, "OK", Some(&call.browser.dialog.local_tag));
        r.headers.push("Contact", &contact);
        let secs = super::msg::session_timer(req, &mut r);
        call.browser.answer_sdp = Some(answer.clone());
        let conn = call.browser.conn;
        self.refreshed(id, secs, std::time::Instant::now());
        self.ws_send(conn, text(with_body(r, "application/sdp", answer)));
    }

    /// Sends the browser's new offer to the trunk as a re-INVITE in the trunk dialog.
    fn trunk_reoffer(&mut self, id: CallId, req: Request, offer: WebRtcSession, now: Instant) {
        let Some(trunk) = self.trunk.as_ref() else {
            return;
        };
        let policy = sdp::CodecPolicy {
            allowed: trunk.cfg.offered_codecs(),
        };
        let (media_addr, contact) = (trunk.media_addr, trunk.contact());
        let via = self.trunk_via();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let port = call.media.legs.map(|l| l[1].rtp.port()).unwrap_or(0);
        call.trunk_sdp_version += 1;
        let built = sdp::trunk_offer(
            &offer,
            &policy,
            media_addr,
            port,
            id.0,
            call.trunk_sdp_version,
        );
        let body = match built {
            Ok(b) => b,
            Err(e) => {
                let conn = call.browser.conn;
                self.ws_send(
                    conn,
                    text(response(&req, e.sip_status(), "Not Acceptable Here", None)),
                );
                return;
            }
        };
        let Some(leg) = call.trunk.as_mut() else {
            return;
        };
        let mut reinvite = leg.dialog.request(Method::Invite, &via, None);
        reinvite.headers.push("Contact", &contact);
        reinvite.headers.push("Content-Type", "application/sdp");
        reinvite.body = body.into_bytes();
        call.pending_reinvite = Some(PendingReinvite {
            request: req,
            offer,
            trunk_cseq: leg.dialog.local_cseq,
        });
        self.trunk_send(Some(id), reinvite, now);
    }

    /// The trunk's answer to our re-INVITE.
    pub(super) async fn trunk_reinvite_response(&mut self, id: CallId, resp: Response) {
        if resp.is_provisional() {
            return;
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(pending) = call.pending_reinvite.take() else {
            return;
        };
        let conn = call.browser.conn;
        if !resp.is_success() {
            // The trunk refused: so do we, and the call goes on as it was (§14.1).
            let r = response(&pending.request, resp.status, &resp.reason, None);
            self.ws_send(conn, text(r));
            return;
        }
        self.trunk_ack_2xx(id, pending.trunk_cseq);
        let body = String::from_utf8_lossy(&resp.body).into_owned();
        let answered = sdp::parse_plain(&body).and_then(|mut answer| {
            let call = self
                .calls
                .get(&id)
                .ok_or(sdp::SdpError::Malformed("call gone".into()))?;
            let mut local = self.local_ice(call);
            local.setup = sdp::Setup::answer_to(pending.offer.setup, sdp::Setup::Passive)?;
            let v = call.sdp_version + 1;
            self.keep_browser_dtmf(&pending.offer, &mut answer);
            let (sdp, pt) = sdp::browser_answer(&pending.offer, &answer, &local, id.0, v)?;
            Ok((answer, sdp, pt))
        });
        let (answer, browser_sdp, pt) = match answered {
            Ok(x) => x,
            Err(e) => {
                tracing::info!(?id, "re-INVITE answer from trunk: {e}");
                let r = response(&pending.request, 488, "Not Acceptable Here", None);
                self.ws_send(conn, text(r));
                return;
            }
        };
        if let Some(m) = answer.media.iter().find(|m| m.port != 0) {
            let rtp = std::net::SocketAddr::new(m.addr, m.port);
            if let Err(e) = self.install_trunk_media(id, rtp, m.rtcp, &pt).await {
                tracing::warn!(?id, "re-INVITE media: {e}");
            }
        }
        if let Some(call) = self.calls.get_mut(&id) {
            call.sdp_version += 1;
            call.browser.webrtc = Some(pending.offer);
            if let Some(t) = call.trunk.as_mut() {
                t.plain = Some(answer);
            }
        }
        self.send_reanswer(id, &pending.request, browser_sdp);
    }

    /// Whether a response is for the call's pending re-INVITE toward the trunk.
    pub(super) fn is_reinvite_response(&self, id: CallId, resp: &Response) -> bool {
        let Some(call) = self.calls.get(&id) else {
            return false;
        };
        let Some(p) = &call.pending_reinvite else {
            return false;
        };
        resp.cseq() == Some((p.trunk_cseq, Method::Invite))
    }
}

impl Core {
    /// A re-INVITE from the trunk (the PBX holds or resumes, or moves its media). Ferry answers
    /// it on the browser's behalf: the same codecs, the direction mirrored (RFC 3264 §6.1: a
    /// `sendonly` hold gets `recvonly`, so music on hold still reaches the browser), and the
    /// engine follows a changed address. The browser's leg needs no renegotiation for that.
    pub(super) async fn trunk_reinvite(
        &mut self,
        id: CallId,
        key: crate::sip::txn::TxnKey,
        req: Request,
        now: Instant,
    ) {
        let refuse = |code: u16, reason: &str| response(&req, code, reason, None);
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let answered = call.phase == Phase::Answered && call.pending_reinvite.is_none();
        let (Some(browser), Some(trunk)) = (call.browser.webrtc.clone(), self.trunk.as_ref())
        else {
            self.trunk_respond(&key, refuse(488, "Not Acceptable Here"), now);
            return;
        };
        if !answered {
            self.trunk_respond(&key, refuse(491, "Request Pending"), now);
            return;
        }
        let (media_addr, contact, timers) = (trunk.media_addr, trunk.contact(), trunk.timers);
        let port = call.media.legs.map(|l| l[1].rtp.port()).unwrap_or(0);
        let version = call.trunk_sdp_version + 1;
        let body = String::from_utf8_lossy(&req.body).into_owned();
        let built = sdp::parse_plain(&body).and_then(|offer| {
            // The browser's description stands in for its answer: its codecs and direction.
            let mut b = browser.clone();
            if !matches!(b.setup, sdp::Setup::Active | sdp::Setup::Passive) {
                b.setup = sdp::Setup::Active;
            }
            let (answer, pt) = sdp::trunk_answer(&offer, &b, media_addr, port, id.0, version)?;
            Ok((offer, answer, pt))
        });
        let (offer, answer, pt) = match built {
            Ok(x) => x,
            Err(e) => {
                tracing::info!(?id, "re-INVITE from the trunk: {e}");
                self.trunk_respond(&key, super::msg::sdp_refusal(&req, &e), now);
                return;
            }
        };
        if let Some(m) = offer.media.iter().find(|m| m.port != 0) {
            let rtp = std::net::SocketAddr::new(m.addr, m.port);
            if let Err(e) = self.install_trunk_media(id, rtp, m.rtcp, &pt).await {
                tracing::warn!(?id, "re-INVITE media: {e}");
            }
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.trunk_sdp_version = version;
        let Some(leg) = call.trunk.as_mut() else {
            return;
        };
        leg.plain = Some(offer);
        let mut r = Response::for_request(&req, 200, "OK");
        r.set_to_tag(&leg.dialog.local_tag);
        r.headers.push("Contact", &contact);
        r.headers.push("Server", super::msg::AGENT);
        let r = with_body(r, "application/sdp", answer);
        // Re-sent until the trunk's ACK, as any 2xx to INVITE (RFC 3261 §13.3.1.4).
        leg.ok_retransmit = Some(super::trunk::Retransmit::new(
            crate::sip::Message::Response(r.clone()).to_bytes(),
            &timers,
            now,
        ));
        self.trunk_respond(&key, r, now);
    }
}
