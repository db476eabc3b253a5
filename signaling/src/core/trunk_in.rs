//! Inbound calls: the trunk calls a browser registered through Ferry. Ferry is the UAS toward
//! the trunk and the UAC toward the browser, with an actpass WebRTC offer.

use std::net::SocketAddr;
use std::time::Instant;

use super::call::{BrowserLeg, Call, Dir, Media, Phase, TrunkLeg};
use super::dialog::Dialog;
use super::msg::{AGENT, ALLOW, request_text, response, with_body};
use super::trunk::Retransmit;
use super::{CallId, Core};
use crate::sdp;
use crate::sip::txn::TxnKey;
use crate::sip::{Method, NameAddr, Request, Response, Uri};

impl Core {
    /// A new INVITE from the trunk: find the registered browser and offer it the call.
    pub(super) async fn trunk_incoming_invite(&mut self, key: TxnKey, req: Request, now: Instant) {
        self.stats.attempts += 1;
        let user = req.uri.user.clone().unwrap_or_default();
        let Some(binding) = self.bindings.get(&user.to_ascii_lowercase()).cloned() else {
            let r = response(&req, 404, "Not Found", None);
            self.trunk_respond(&key, r, now);
            return;
        };
        let body = String::from_utf8_lossy(&req.body).into_owned();
        let offer = match sdp::parse_plain(&body) {
            Ok(o) => o,
            Err(e) => {
                self.trunk_respond(&key, super::msg::sdp_refusal(&req, &e), now);
                return;
            }
        };
        let trunk_tag = crate::sip::util::new_tag(&mut self.rng);
        let Some(trunk_dialog) = Dialog::uas(&req, &trunk_tag) else {
            let r = response(&req, 400, "Missing Dialog Headers", None);
            self.trunk_respond(&key, r, now);
            return;
        };
        self.trunk_respond(&key, response(&req, 100, "Trying", None), now);
        let id = self.new_call_id();
        // Our INVITE toward the browser, on the WebSocket it registered from.
        let call_id = crate::sip::util::new_call_id(&mut self.rng);
        let tag = crate::sip::util::new_tag(&mut self.rng);
        let branch = crate::sip::util::new_branch(&mut self.rng);
        let mut inv = Request::new(Method::Invite, binding.contact.clone());
        inv.headers
            .push("Via", &format!("SIP/2.0/WSS ferry.invalid;branch={branch}"));
        inv.headers.push("Max-Forwards", "70");
        let mut from = req
            .from()
            .map(|f| NameAddr {
                params: Vec::new(),
                ..f
            })
            .unwrap_or_else(|| NameAddr::new(Uri::sip(Some("anonymous"), "ferry.invalid", None)));
        from.set_tag(&tag);
        inv.headers.push("From", &from.to_string());
        inv.headers.push("To", &binding.aor.to_string());
        inv.headers.push("Call-ID", &call_id);
        inv.headers.push("CSeq", "1 INVITE");
        inv.headers.push("Contact", &self.local_contact_ws());
        inv.headers.push("Allow", ALLOW);
        inv.headers.push("User-Agent", AGENT);
        let Some(browser_dialog) = Dialog::uac(&inv, &tag) else {
            return;
        };
        let leg = BrowserLeg::new(binding.conn, inv, browser_dialog, None);
        let mut call = Call::new(id, Dir::Inbound, leg, Media::new(&mut self.rng), now);
        call.trunk = Some(TrunkLeg {
            invite: req,
            invite_key: Some(key.clone()),
            dialog: trunk_dialog.clone(),
            answered: false,
            auth_tried: false,
            plain: Some(offer),
            ok_retransmit: None,
        });
        self.calls.insert(id, call);
        self.by_browser.insert(call_id, id);
        self.by_trunk.insert(trunk_dialog.call_id, id);
        self.txn_calls.insert(key, id);
        if let Err(e) = self.setup_media(id, false, now).await {
            tracing::warn!(?id, "media setup failed: {e}");
            self.trunk_fail_inbound(id, 503, "Media Unavailable", now);
            self.release(id).await;
            return;
        }
        let (Some(call), Some(trunk)) = (self.calls.get(&id), self.trunk.as_ref()) else {
            return;
        };
        let local = self.local_ice(call);
        let policy = sdp::CodecPolicy {
            allowed: trunk.cfg.codecs.clone(),
        };
        let Some(plain) = call.trunk.as_ref().and_then(|t| t.plain.as_ref()) else {
            return;
        };
        match sdp::browser_offer(plain, &policy, &local, id.0, 1) {
            Ok(o) => {
                let Some(call) = self.calls.get_mut(&id) else {
                    return;
                };
                call.browser
                    .invite
                    .headers
                    .push("Content-Type", "application/sdp");
                call.browser.invite.body = o.into_bytes();
                let (conn, text) = (call.browser.conn, request_text(&call.browser.invite));
                self.ws_send(conn, text);
            }
            Err(e) => {
                tracing::info!(?id, "no offer for the browser: {e}");
                self.trunk_fail_inbound(id, e.sip_status(), "Not Acceptable Here", now);
                self.release(id).await;
            }
        }
    }

    /// A final error to the trunk's INVITE.
    pub(super) fn trunk_fail_inbound(
        &mut self,
        id: CallId,
        status: u16,
        reason: &str,
        now: Instant,
    ) {
        let Some(leg) = self.calls.get_mut(&id).and_then(|c| c.trunk.take()) else {
            return;
        };
        self.by_trunk.remove(&leg.dialog.call_id);
        if let Some(key) = leg.invite_key {
            let r = response(&leg.invite, status, reason, Some(&leg.dialog.local_tag));
            self.trunk_respond(&key, r, now);
        }
    }

    /// The browser answered our INVITE (inbound call).
    pub(super) async fn browser_answered_inbound(
        &mut self,
        id: CallId,
        resp: Response,
        now: Instant,
    ) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.browser.dialog.update_from_response(&resp);
        // ACK every 2xx on the WebSocket (RFC 3261 §13.2.2.4).
        let cseq = resp.cseq().map_or(1, |c| c.0);
        let branch = crate::sip::util::new_branch(&mut self.rng);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let mut ack = call.browser.dialog.request(
            Method::Ack,
            &format!("SIP/2.0/WSS ferry.invalid;branch={branch}"),
            Some(cseq),
        );
        ack.headers.push("Content-Length", "0");
        let conn = call.browser.conn;
        self.ws_send(conn, request_text(&ack));
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if call.browser.webrtc.is_some() {
            return; // a retransmitted 2xx
        }
        let body = String::from_utf8_lossy(&resp.body).into_owned();
        let answer = match sdp::parse_webrtc(&body) {
            Ok(a) => a,
            Err(e) => {
                tracing::info!(?id, "browser answer: {e}");
                self.browser_bye(id);
                self.trunk_fail_inbound(id, 488, "Not Acceptable Here", now);
                self.release(id).await;
                return;
            }
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.browser.webrtc = Some(answer);
        if let Err(e) = self.start_browser_media(id, now).await {
            tracing::warn!(?id, "browser media: {e}");
            self.browser_bye(id);
            self.trunk_fail_inbound(id, 500, "Media Failed", now);
            self.release(id).await;
            return;
        }
        let (Some(call), Some(trunk)) = (self.calls.get(&id), self.trunk.as_ref()) else {
            return;
        };
        let port = call.media.legs.map(|l| l[1].rtp.port()).unwrap_or(0);
        let (Some(plain), Some(answer)) = (
            call.trunk.as_ref().and_then(|t| t.plain.as_ref()),
            call.browser.webrtc.as_ref(),
        ) else {
            return;
        };
        let built = sdp::trunk_answer(plain, answer, trunk.media_addr, port, id.0, 1);
        let (trunk_sdp, pt) = match built {
            Ok(x) => x,
            Err(e) => {
                tracing::info!(?id, "no answer for the trunk: {e}");
                self.browser_bye(id);
                self.trunk_fail_inbound(id, e.sip_status(), "Not Acceptable Here", now);
                self.release(id).await;
                return;
            }
        };
        let media = plain.media.iter().find(|m| m.port != 0);
        let Some((rtp, rtcp)) = media.map(|m| (SocketAddr::new(m.addr, m.port), m.rtcp)) else {
            return;
        };
        if let Err(e) = self.install_trunk_media(id, rtp, rtcp, &pt).await {
            tracing::warn!(?id, "installing trunk media: {e}");
            self.browser_bye(id);
            self.trunk_fail_inbound(id, 500, "Media Install Failed", now);
            self.release(id).await;
            return;
        }
        self.trunk_ok_inbound(id, trunk_sdp, now);
    }

    /// 200 OK with our SDP to the trunk, re-sent until its ACK.
    fn trunk_ok_inbound(&mut self, id: CallId, body: String, now: Instant) {
        let Some(trunk) = self.trunk.as_ref() else {
            return;
        };
        let (contact, timers) = (trunk.contact(), trunk.timers);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(leg) = call.trunk.as_mut() else {
            return;
        };
        let mut r = Response::for_request_with_record_route(&leg.invite, 200, "OK");
        r.set_to_tag(&leg.dialog.local_tag);
        r.headers.push("Contact", &contact);
        r.headers.push("Allow", ALLOW);
        r.headers.push("Server", AGENT);
        let r = with_body(r, "application/sdp", body);
        leg.answered = true;
        leg.ok_retransmit = Some(Retransmit::new(
            crate::sip::Message::Response(r.clone()).to_bytes(),
            &timers,
            now,
        ));
        call.phase = Phase::Answered;
        self.stats.answered += 1;
        if let Some(key) = leg.invite_key.clone() {
            self.trunk_respond(&key, r, now);
        }
        self.save(id);
    }

    /// A provisional or error answer from the browser to our INVITE.
    pub(super) async fn browser_response_inbound(
        &mut self,
        id: CallId,
        resp: Response,
        now: Instant,
    ) {
        match resp.status {
            180 | 183 => {
                let Some(call) = self.calls.get_mut(&id) else {
                    return;
                };
                if call.browser.rang {
                    return;
                }
                call.browser.rang = true;
                let Some(leg) = call.trunk.as_ref() else {
                    return;
                };
                let (Some(key), inv, tag) = (
                    leg.invite_key.clone(),
                    leg.invite.clone(),
                    leg.dialog.local_tag.clone(),
                ) else {
                    return;
                };
                let mut r = Response::for_request_with_record_route(&inv, 180, "Ringing");
                r.set_to_tag(&tag);
                r.headers.push(
                    "Contact",
                    &self.trunk.as_ref().map(|t| t.contact()).unwrap_or_default(),
                );
                self.trunk_respond(&key, r, now);
            }
            100..=199 => {}
            200..=299 => self.browser_answered_inbound(id, resp, now).await,
            _ => {
                // Busy, decline, not found...: the trunk hears the browser's answer.
                let reason = resp.reason.clone();
                self.trunk_fail_inbound(id, resp.status, &reason, now);
                self.release(id).await;
            }
        }
    }
}
