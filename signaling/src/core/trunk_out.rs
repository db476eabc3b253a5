//! Outbound calls, trunk leg: Ferry is the UAC toward the trunk for a browser's INVITE.

use std::net::SocketAddr;
use std::time::Instant;

use super::call::TrunkLeg;
use super::dialog::Dialog;
use super::msg::{AGENT, ALLOW};
use super::{CallId, Core, Hangup};
use crate::sdp;
use crate::sip::{Method, NameAddr, Request, Response, Uri, auth};

impl Core {
    /// Places the trunk leg of a browser's call.
    pub(super) async fn trunk_invite(&mut self, id: CallId, user: &str, now: Instant) {
        let Some(trunk) = self.trunk.as_ref() else {
            return;
        };
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let Some(offer_in) = call.browser.webrtc.as_ref() else {
            return;
        };
        let port = call.media.legs.map(|l| l[1].rtp.port()).unwrap_or(0);
        let policy = sdp::CodecPolicy {
            allowed: trunk.cfg.offered_codecs(),
        };
        let offer = match sdp::trunk_offer(offer_in, &policy, trunk.media_addr, port, id.0, 1) {
            Ok(o) => o,
            Err(e) => {
                tracing::info!(?id, "no offer for the trunk: {e}");
                self.fail_browser(id, e.sip_status(), "Not Acceptable Here")
                    .await;
                return;
            }
        };
        // The caller's user part only if it is a plain dial string; else anonymous.
        let caller = call
            .browser
            .invite
            .from()
            .and_then(|f| f.uri.user.clone())
            .filter(|u| crate::route::is_dial_string(u))
            .unwrap_or_else(|| "anonymous".into());
        let display = call.browser.invite.from().and_then(|f| f.display);
        let (host, port_t, local) = (trunk.host.clone(), trunk.port, trunk.local);
        let contact = trunk.contact();
        let call_id = crate::sip::util::new_call_id(&mut self.rng);
        let tag = crate::sip::util::new_tag(&mut self.rng);
        let via = self.trunk_via();
        let target = Uri::sip(Some(user), &host, Some(port_t));
        let mut from = NameAddr::new(Uri::sip(Some(&caller), &local.ip().to_string(), None));
        from.display = display;
        from.set_tag(&tag);
        let mut inv = Request::new(Method::Invite, target.clone());
        inv.headers.push("Via", &via);
        inv.headers.push("Max-Forwards", "70");
        inv.headers.push("From", &from.to_string());
        inv.headers.push("To", &NameAddr::new(target).to_string());
        inv.headers.push("Call-ID", &call_id);
        inv.headers.push("CSeq", "1 INVITE");
        inv.headers.push("Contact", &contact);
        inv.headers.push("Allow", ALLOW);
        inv.headers.push("Supported", "timer");
        inv.headers.push("User-Agent", AGENT);
        inv.headers.push("Content-Type", "application/sdp");
        inv.body = offer.into_bytes();
        let Some(dialog) = Dialog::uac(&inv, &tag) else {
            return;
        };
        let leg = TrunkLeg {
            invite: inv.clone(),
            invite_key: crate::sip::txn::TxnKey::client(&inv),
            dialog,
            answered: false,
            auth_tried: false,
            plain: None,
            ok_retransmit: None,
        };
        self.by_trunk.insert(call_id, id);
        if let Some(c) = self.calls.get_mut(&id) {
            c.trunk = Some(leg);
        }
        self.trunk_send(Some(id), inv, now);
    }

    /// A response in one of our client transactions toward the trunk.
    pub(super) async fn trunk_response(&mut self, id: CallId, resp: Response, now: Instant) {
        let Some((_, method)) = resp.cseq() else {
            return;
        };
        if self.is_reinvite_response(id, &resp) {
            self.trunk_reinvite_response(id, resp).await;
            return;
        }
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if method != Method::Invite || call.dir != super::Dir::Outbound {
            return; // BYE/CANCEL answers: nothing waits on them.
        }
        match resp.status {
            183 if !resp.body.is_empty() => self.trunk_early_media(id, resp).await,
            100..=199 => {
                if matches!(resp.status, 180 | 183) {
                    self.browser_ringing(id);
                }
            }
            200..=299 => self.trunk_answered(id, resp, now).await,
            401 | 407 => {
                if !self.retry_with_auth(id, &resp, now) {
                    self.close_trunk_leg(id);
                    self.fail_browser(id, 403, "Trunk Authentication Failed")
                        .await;
                }
            }
            _ => {
                self.close_trunk_leg(id);
                let reason = resp.reason.clone();
                self.fail_browser(id, resp.status, &reason).await;
            }
        }
    }

    /// The trunk leg is over (its INVITE failed): nothing to BYE or CANCEL.
    fn close_trunk_leg(&mut self, id: CallId) {
        if let Some(c) = self.calls.get_mut(&id) {
            if let Some(t) = c.trunk.take() {
                self.by_trunk.remove(&t.dialog.call_id);
            }
        }
    }

    async fn trunk_answered(&mut self, id: CallId, resp: Response, now: Instant) {
        let Some(leg) = self.calls.get_mut(&id).and_then(|c| c.trunk.as_mut()) else {
            return;
        };
        let first = !leg.answered;
        leg.answered = true;
        if first {
            leg.dialog.update_from_response(&resp);
        }
        // Every 2xx, retransmissions included, gets an ACK (RFC 3261 §13.2.2.4).
        self.trunk_ack_2xx(id, resp.cseq().map_or(1, |c| c.0));
        if !first {
            return;
        }
        let early = self
            .calls
            .get(&id)
            .and_then(|c| c.browser.answer_sdp.clone());
        let browser_sdp = match (resp.body.is_empty(), early) {
            // The answer came with the 183 (early media) and the 200 repeats nothing.
            (true, Some(sdp)) => sdp,
            _ => match self.bridge_trunk_sdp(id, &resp.body).await {
                Ok(sdp) => sdp,
                Err(status) => {
                    self.fail_answered_trunk(id, status, now).await;
                    return;
                }
            },
        };
        // A one-time link is spent when its call connects, not when the page opened; of two
        // calls racing on one link, the second to connect is refused here.
        let link = self.calls.get(&id).and_then(|c| c.link.clone());
        if let Some(claims) = link {
            if !self.product.consume(&claims) {
                tracing::info!(?id, "call link already used by another call");
                self.trunk_bye(id, now);
                self.close_trunk_leg(id);
                self.fail_browser(id, 403, "Link Already Used").await;
                return;
            }
        }
        self.answer_browser(id, browser_sdp);
    }

    /// The trunk's SDP answer (in a 183 or a 200) into the engine and into an answer for the
    /// browser; `Err` is the SIP status the browser should get. A second answer (the 200 after
    /// early media) gets a higher o= version, as RFC 3264 §8 asks of a changed description.
    async fn bridge_trunk_sdp(&mut self, id: CallId, body: &[u8]) -> Result<String, u16> {
        let text = String::from_utf8_lossy(body).into_owned();
        let mut answer = sdp::parse_plain(&text).map_err(|e| {
            tracing::info!(?id, "trunk answer: {e}");
            488u16
        })?;
        let call = self.calls.get(&id).ok_or(500u16)?;
        let local = self.local_ice(call);
        let offer = call.browser.webrtc.as_ref().ok_or(500u16)?;
        self.keep_browser_dtmf(offer, &mut answer);
        let version = call.sdp_version + u64::from(call.browser.answer_sdp.is_some());
        let (browser_sdp, pt) = sdp::browser_answer(offer, &answer, &local, id.0, version)
            .map_err(|e| {
                tracing::info!(?id, "no answer for the browser: {e}");
                e.sip_status()
            })?;
        let m = answer.media.iter().find(|m| m.port != 0).ok_or(488u16)?;
        let (rtp, rtcp) = (SocketAddr::new(m.addr, m.port), m.rtcp);
        if let Some(c) = self.calls.get_mut(&id) {
            c.sdp_version = version;
            if let Some(leg) = c.trunk.as_mut() {
                leg.plain = Some(answer.clone());
            }
        }
        self.install_trunk_media(id, rtp, rtcp, &pt)
            .await
            .map_err(|e| {
                tracing::warn!(?id, "installing trunk media: {e}");
                500u16
            })?;
        Ok(browser_sdp)
    }

    /// A 183 with SDP: the trunk plays ringback or an announcement before it answers. The
    /// media path is set up now and the browser gets a 183 with our answer, so it hears it.
    async fn trunk_early_media(&mut self, id: CallId, resp: Response) {
        let first = self
            .calls
            .get(&id)
            .is_some_and(|c| c.browser.answer_sdp.is_none());
        if !first {
            return;
        }
        if let Some(leg) = self.calls.get_mut(&id).and_then(|c| c.trunk.as_mut()) {
            leg.dialog.update_from_response(&resp);
        }
        match self.bridge_trunk_sdp(id, &resp.body).await {
            Ok(sdp_body) => self.browser_early_media(id, sdp_body),
            // Without usable early media the call still goes on to its answer.
            Err(status) => tracing::info!(?id, status, "early media not bridged"),
        }
    }

    /// The trunk answered but the call cannot go on: BYE the trunk, fail the browser.
    async fn fail_answered_trunk(&mut self, id: CallId, status: u16, now: Instant) {
        self.trunk_bye(id, now);
        self.close_trunk_leg(id);
        self.fail_browser(id, status, "Not Acceptable Here").await;
    }

    /// RFC 2617/7616: one retry with credentials, in a new transaction with CSeq + 1.
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
        let cnonce = crate::sip::util::new_tag(&mut self.rng);
        let via = self.trunk_via();
        let Some(leg) = self.calls.get_mut(&id).and_then(|c| c.trunk.as_mut()) else {
            return false;
        };
        if leg.auth_tried {
            return false;
        }
        leg.auth_tried = true;
        leg.dialog.local_cseq += 1;
        let uri = leg.invite.uri.to_string();
        let value = auth::authorization(&ch, &user, &pass, &Method::Invite, &uri, &cnonce, 1);
        leg.invite.headers.set("Via", &via);
        leg.invite
            .headers
            .set("CSeq", &format!("{} INVITE", leg.dialog.local_cseq));
        leg.invite.headers.set(answer_h, &value);
        leg.invite_key = crate::sip::txn::TxnKey::client(&leg.invite);
        let inv = leg.invite.clone();
        self.trunk_send(Some(id), inv, now);
        true
    }

    /// BYE in the trunk dialog.
    pub(super) fn trunk_bye(&mut self, id: CallId, now: Instant) {
        let via = self.trunk_via();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let reason = call.hangup.and_then(Hangup::reason_header);
        let Some(leg) = call.trunk.as_mut() else {
            return;
        };
        let mut bye = leg.dialog.request(Method::Bye, &via, None);
        if let Some(r) = reason {
            bye.headers.push("Reason", r);
        }
        bye.headers.push("Content-Length", "0");
        self.trunk_send(Some(id), bye, now);
    }

    /// Ends the trunk leg: BYE once answered, CANCEL while the INVITE is pending (§9.1).
    pub(super) async fn hangup_trunk(&mut self, id: CallId, why: Hangup, now: Instant) {
        let Some(leg) = self.calls.get(&id).and_then(|c| c.trunk.as_ref()) else {
            return;
        };
        let outbound = self
            .calls
            .get(&id)
            .is_some_and(|c| c.dir == super::Dir::Outbound);
        if leg.answered {
            self.trunk_bye(id, now);
        } else if outbound {
            let cancel = leg.invite.cancel();
            // RFC 3261 §9.1: a 2xx may cross the CANCEL; remember the dialog to ACK and BYE it.
            let timeout = self
                .trunk
                .as_ref()
                .map(|t| t.timers.timeout())
                .unwrap_or_default();
            self.cancelled.insert(
                leg.dialog.call_id.clone(),
                (leg.dialog.clone(), now + timeout),
            );
            self.trunk_send(None, cancel, now);
        } else if let Some(key) = leg.invite_key.clone() {
            // Inbound, not answered: the browser declined or vanished.
            let (status, reason) = match why {
                Hangup::Timeout => (408, "Request Timeout"),
                _ => (480, "Temporarily Unavailable"),
            };
            let inv = leg.invite.clone();
            let tag = leg.dialog.local_tag.clone();
            let r = super::msg::response(&inv, status, reason, Some(&tag));
            self.trunk_respond(&key, r, now);
        }
        self.close_trunk_leg(id);
    }
}

impl Core {
    /// A 2xx for an INVITE we already cancelled: the call exists at the trunk, so it gets its
    /// ACK and at once a BYE (RFC 3261 §15).
    pub(super) fn late_answer(&mut self, resp: &Response, now: Instant) {
        let Some(call_id) = resp.call_id() else {
            return;
        };
        if resp.is_provisional() || resp.cseq().is_none_or(|c| c.1 != Method::Invite) {
            return;
        }
        // A final answer: a non-2xx (the 487) means the CANCEL won; a 2xx that it lost.
        let Some((mut dialog, _)) = self.cancelled.remove(call_id) else {
            return;
        };
        if !resp.is_success() {
            return;
        }
        dialog.update_from_response(resp);
        let cseq = resp.cseq().map_or(1, |c| c.0);
        let via = self.trunk_via();
        let ack = dialog.request(Method::Ack, &via, Some(cseq));
        self.trunk_send(None, ack, now);
        let via = self.trunk_via();
        let mut bye = dialog.request(Method::Bye, &via, None);
        bye.headers.push("Content-Length", "0");
        tracing::info!(
            call_id,
            "trunk answered a cancelled call; ending it with BYE"
        );
        self.trunk_send(None, bye, now);
    }
}
