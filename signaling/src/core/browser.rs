//! The browser leg: SIP over WebSocket. Ferry is the UAS of the browser's calls, the UAC of
//! calls the trunk sends to a registered browser, and the registrar of those browsers.

use std::time::{Duration, Instant};

use super::call::{BrowserLeg, Call, Dir, Media, Phase};
use super::dialog::Dialog;
use super::msg::request_text;
use super::msg::{ALLOW, response, text, with_body};
use super::{Binding, CallId, ConnId, Core, Hangup};
use crate::route::{Route, route};
use crate::sdp;
use crate::sip::{Message, Method, Request, Response};

/// What the echo destination answers with: the browser's own codecs come back to it.
pub(super) const ECHO_CODECS: [&str; 5] = ["opus", "PCMU", "PCMA", "G722", "telephone-event"];

/// Longest registration we grant; browsers refresh well before (JsSIP: 600 s asked).
const MAX_EXPIRES: u64 = 600;

impl Core {
    pub(super) async fn handle_browser(&mut self, conn: ConnId, bytes: &[u8], now: Instant) {
        match Message::parse(bytes) {
            Ok(Message::Request(req)) => self.browser_request(conn, req, now).await,
            Ok(Message::Response(resp)) => self.browser_response(resp, now).await,
            Err(e) => {
                tracing::info!(?conn, "malformed SIP from browser: {e}");
                self.stats.malformed += 1;
                // Answer what can be answered; the connection stays up.
                if let Some(r) = e.bad_request(bytes) {
                    self.ws_send(conn, text(r));
                }
            }
        }
    }

    async fn browser_request(&mut self, conn: ConnId, req: Request, now: Instant) {
        if req.max_forwards() == Some(0) {
            self.ws_send(conn, text(response(&req, 483, "Too Many Hops", None)));
            return;
        }
        self.rebind_restored(conn, &req);
        if !self.check_cseq(conn, &req) {
            return;
        }
        match req.method {
            Method::Invite => self.browser_invite(conn, req, now).await,
            Method::Ack => {}
            Method::Bye => self.browser_bye_in(conn, req, now).await,
            Method::Cancel => self.browser_cancel(conn, req, now).await,
            Method::Options => {
                let mut r = response(&req, 200, "OK", None);
                r.headers.push("Allow", ALLOW);
                self.ws_send(conn, text(r));
            }
            Method::Info | Method::Update | Method::Message => {
                let call = self.call_of(&req);
                let mut r = if call.is_none() {
                    response(&req, 481, "Call/Transaction Does Not Exist", None)
                } else if req.method == Method::Update && !req.body.is_empty() {
                    // An UPDATE offer (RFC 3311) is not relayed: refusing it keeps the session
                    // as it was, where a bare 200 would break the offer/answer exchange.
                    response(&req, 488, "Not Acceptable Here", None)
                } else {
                    response(&req, 200, "OK", None)
                };
                // RFC 4028 §9: a refresh (JsSIP sends UPDATE) is answered with the interval.
                if let (200, Method::Update, Some(id)) = (r.status, &req.method, call) {
                    let secs = super::msg::session_timer(&req, &mut r);
                    self.refreshed(id, secs, now);
                }
                self.ws_send(conn, text(r));
                if let (Some(id), Method::Info) = (call, &req.method) {
                    self.relay_info_to_trunk(id, &req, now);
                }
            }
            Method::Register => self.browser_register(conn, req, now),
            _ => {
                let mut r = response(&req, 501, "Not Implemented", None);
                r.headers.push("Allow", ALLOW);
                self.ws_send(conn, text(r));
            }
        }
    }

    async fn browser_response(&mut self, resp: Response, now: Instant) {
        let Some(&id) = resp.call_id().and_then(|c| self.by_browser.get(c)) else {
            return;
        };
        let is_invite = resp.cseq().is_some_and(|c| c.1 == Method::Invite);
        let inbound = self.calls.get(&id).is_some_and(|c| c.dir == Dir::Inbound);
        if is_invite && inbound {
            self.browser_response_inbound(id, resp, now).await;
        }
        // Answers to our BYEs: nothing waits on them.
    }

    /// A refresh (re-INVITE or UPDATE) restarts the call's session timer (RFC 4028 §10).
    pub(super) fn refreshed(&mut self, id: CallId, secs: Option<u64>, now: Instant) {
        if let Some(c) = self.calls.get_mut(&id) {
            let interval = secs
                .map(Duration::from_secs)
                .or(c.session_timer.map(|t| t.0));
            c.session_timer = interval.map(|i| (i, now));
        }
    }

    /// RFC 4028 §10: the side that does not refresh ends a session nobody refreshed, with a
    /// BYE min(32 s, interval/3) before it would expire.
    pub(super) async fn session_timers(&mut self, now: Instant) {
        let expired: Vec<CallId> = self
            .calls
            .values()
            .filter(|c| {
                c.session_timer.is_some_and(|(interval, since)| {
                    let early = Duration::from_secs(32).min(interval / 3);
                    now.saturating_duration_since(since) >= interval - early
                })
            })
            .map(|c| c.id)
            .collect();
        for id in expired {
            tracing::info!(?id, "session timer expired without a refresh");
            self.end_call(id, Hangup::SessionExpired, now).await;
        }
    }

    /// A call restored after a signaling restart has no WebSocket until the browser speaks
    /// again: an in-dialog request, or a REGISTER from the same Contact, gives it its new one.
    fn rebind_restored(&mut self, conn: ConnId, req: &Request) {
        let in_dialog = self.call_of(req);
        let contact = (req.method == Method::Register)
            .then(|| req.contact().map(|c| c.uri.to_string()))
            .flatten();
        for call in self.calls.values_mut() {
            if call.browser.conn != ConnId(0) {
                continue;
            }
            let same_contact = contact
                .as_deref()
                .is_some_and(|c| c == call.browser.dialog.remote_target.to_string());
            if in_dialog == Some(call.id) || same_contact {
                call.browser.conn = conn;
            }
        }
    }

    /// RFC 3261 §12.2.2: an in-dialog request with a CSeq below the last one is out of order
    /// (500); ACK and CANCEL carry the INVITE's number and are exempt.
    fn check_cseq(&mut self, conn: ConnId, req: &Request) -> bool {
        if matches!(req.method, Method::Ack | Method::Cancel) {
            return true;
        }
        let (Some(id), Some((seq, _))) = (self.call_of(req), req.cseq()) else {
            return true;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return true;
        };
        let d = &mut call.browser.dialog;
        // Only a dialog whose remote side sent requests has a number to compare with.
        if d.remote_cseq != 0 && seq < d.remote_cseq {
            self.ws_send(conn, text(response(req, 500, "CSeq Out of Order", None)));
            return false;
        }
        d.remote_cseq = seq;
        true
    }

    fn call_of(&self, req: &Request) -> Option<CallId> {
        self.by_browser.get(req.call_id()?).copied()
    }

    /// A local registrar (RFC 3261 §10.3) for browsers that take calls from the trunk: the
    /// binding is the WebSocket the REGISTER came on, and ends with it.
    fn browser_register(&mut self, conn: ConnId, req: Request, now: Instant) {
        if !self.cfg.registrar {
            self.ws_send(
                conn,
                text(response(&req, 403, "Registration Not Enabled", None)),
            );
            return;
        }
        let Some(aor) = req.to() else {
            self.ws_send(conn, text(response(&req, 400, "Missing To", None)));
            return;
        };
        let Some(user) = aor.uri.user.clone().filter(|u| {
            crate::route::is_dial_string(u) && !u.eq_ignore_ascii_case(crate::route::ECHO)
        }) else {
            self.ws_send(conn, text(response(&req, 404, "Not Found", None)));
            return;
        };
        let key = user.to_ascii_lowercase();
        if self.cfg.subscribers.relay {
            self.relay_register(conn, req, key, now);
            return;
        }
        let contact = req.contact();
        let expires = contact
            .as_ref()
            .and_then(|c| c.param("expires").and_then(|e| e.parse::<u64>().ok()))
            .or_else(|| {
                req.headers
                    .get("Expires")
                    .and_then(|e| e.trim().parse().ok())
            })
            .unwrap_or(3600)
            .min(MAX_EXPIRES);
        let unregister =
            expires == 0 || req.headers.get("Contact").is_some_and(|c| c.trim() == "*");
        if unregister {
            if self.bindings.get(&key).is_some_and(|b| b.conn == conn) {
                self.bindings.remove(&key);
            }
            self.ws_send(conn, text(response(&req, 200, "OK", None)));
            return;
        }
        let Some(contact) = contact else {
            // A query: tell what is bound.
            self.ws_send(conn, text(response(&req, 200, "OK", None)));
            return;
        };
        let mut aor_clean = aor.clone();
        aor_clean.params.clear();
        self.bindings.insert(
            key,
            Binding {
                conn,
                contact: contact.uri.clone(),
                aor: aor_clean,
                expires: now + Duration::from_secs(expires),
            },
        );
        let mut r = response(&req, 200, "OK", None);
        let mut c = contact;
        c.set_param("expires", Some(&expires.to_string()));
        r.headers.push("Contact", &c.to_string());
        self.ws_send(conn, text(r));
        tracing::info!(user = %user, ?conn, "registered");
    }

    async fn browser_invite(&mut self, conn: ConnId, req: Request, now: Instant) {
        let Some(call_id) = req.call_id().map(str::to_string) else {
            self.ws_send(conn, text(response(&req, 400, "Missing Call-ID", None)));
            return;
        };
        if let Some(&id) = self.by_browser.get(&call_id) {
            self.browser_reinvite(id, conn, req, now).await;
            return;
        }
        self.stats.attempts += 1;
        self.ws_send(conn, text(response(&req, 100, "Trying", None)));
        let body = String::from_utf8_lossy(&req.body).into_owned();
        let offer = match sdp::parse_webrtc(&body) {
            Ok(o) => o,
            Err(e) => {
                self.ws_send(conn, text(super::msg::sdp_refusal(&req, &e)));
                self.count_failure(e.sip_status());
                return;
            }
        };
        let Some((dest, link)) = self.choose_route(conn, &req) else {
            return;
        };
        let local_tag = crate::sip::util::new_tag(&mut self.rng);
        let Some(dialog) = Dialog::uas(&req, &local_tag) else {
            self.ws_send(
                conn,
                text(response(&req, 400, "Missing Dialog Headers", None)),
            );
            return;
        };
        let id = self.new_call_id();
        let leg = BrowserLeg::new(conn, req, dialog, Some(offer));
        let call = Call::new(id, Dir::Outbound, leg, Media::new(&mut self.rng), now);
        let mut call = call;
        call.link = link;
        self.calls.insert(id, call);
        self.by_browser.insert(call_id, id);
        if let Err(e) = self.setup_media(id, dest == Route::Echo, now).await {
            tracing::warn!(?id, "media setup failed: {e}");
            self.fail_browser(id, 503, "Media Unavailable").await;
            return;
        }
        match dest {
            Route::Echo => self.answer_echo(id).await,
            Route::Trunk(user) => self.trunk_invite(id, &user, now).await,
            Route::None => {}
        }
    }

    /// Where a browser's INVITE goes, or the refusal it gets (sent here). Open routing without
    /// `[services]`; with them, an anonymous caller reaches only a service, with a solved
    /// CAPTCHA or a valid call link, while a browser registered on this connection (a
    /// subscriber) may dial anything, as its PBX account allows.
    fn choose_route(
        &mut self,
        conn: ConnId,
        req: &Request,
    ) -> Option<(Route, Option<crate::links::LinkClaims>)> {
        let user = req.uri.user.as_deref();
        let subscriber = self.bindings.values().any(|b| b.conn == conn);
        let echo = user.is_some_and(|u| u.eq_ignore_ascii_case(crate::route::ECHO));
        if !self.product.restricted() || subscriber || echo {
            let dest = route(user, self.trunk.is_some());
            if dest == Route::None {
                self.ws_send(conn, text(response(req, 404, "Not Found", None)));
                self.count_failure(404);
                return None;
            }
            return Some((dest, None));
        }
        let captcha = req.headers.get("X-Ferry-Captcha");
        let link = req.headers.get("X-Ferry-Link");
        match self.product.admit(user.unwrap_or_default(), captcha, link) {
            Ok(a) => Some((Route::Trunk(a.target), a.link)),
            Err(refusal) => {
                let peer = self.conns.get(&conn).map(|c| c.peer.to_string());
                tracing::warn!(
                    dest = user.unwrap_or_default(),
                    peer = peer.unwrap_or_default(),
                    "anonymous call refused: {}",
                    refusal.reason()
                );
                self.ws_send(conn, text(response(req, 403, refusal.reason(), None)));
                self.count_failure(403);
                None
            }
        }
    }

    async fn answer_echo(&mut self, id: CallId) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let Some(offer) = call.browser.webrtc.as_ref() else {
            return;
        };
        let local = self.local_ice(call);
        let policy = sdp::CodecPolicy {
            allowed: ECHO_CODECS.map(String::from).to_vec(),
        };
        match sdp::echo_answer(offer, &policy, &local, id.0, 1) {
            Ok(answer) => self.answer_browser(id, answer),
            Err(e) => {
                tracing::info!(?id, "echo: {e}");
                self.fail_browser(id, e.sip_status(), "Not Acceptable Here")
                    .await;
            }
        }
    }

    /// Sends 180 Ringing to the browser (outbound calls).
    pub(super) fn browser_ringing(&mut self, id: CallId) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if call.browser.rang {
            return;
        }
        call.browser.rang = true;
        let b = &call.browser;
        let r = response(&b.invite, 180, "Ringing", Some(&b.dialog.local_tag));
        let conn = b.conn;
        self.ws_send(conn, text(r));
    }

    /// Sends 183 Session Progress with our SDP (early media) to the browser.
    pub(super) fn browser_early_media(&mut self, id: CallId, sdp_body: String) {
        let contact = self.local_contact_ws();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let b = &call.browser;
        let mut r = response(
            &b.invite,
            183,
            "Session Progress",
            Some(&b.dialog.local_tag),
        );
        r.headers.push("Contact", &contact);
        let conn = b.conn;
        let r = with_body(r, "application/sdp", sdp_body.clone());
        call.browser.answer_sdp = Some(sdp_body);
        call.browser.rang = true;
        self.ws_send(conn, text(r));
    }

    /// Sends 200 OK with our SDP to the browser.
    pub(super) fn answer_browser(&mut self, id: CallId, sdp_body: String) {
        let contact = self.local_contact_ws();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let b = &call.browser;
        let mut r = response(&b.invite, 200, "OK", Some(&b.dialog.local_tag));
        r.headers.push("Contact", &contact);
        r.headers.push("Allow", ALLOW);
        let secs = super::msg::session_timer(&b.invite, &mut r);
        call.session_timer = secs.map(|s| (Duration::from_secs(s), Instant::now()));
        let conn = call.browser.conn;
        let r = with_body(r, "application/sdp", sdp_body.clone());
        call.phase = Phase::Answered;
        call.browser.answer_sdp = Some(sdp_body);
        self.stats.answered += 1;
        self.ws_send(conn, text(r));
        self.save(id);
    }

    pub(super) fn local_contact_ws(&self) -> String {
        let host = self
            .candidates
            .first()
            .map(|a| a.to_string())
            .unwrap_or_default();
        format!("<sip:ferry@{host};transport=ws>")
    }

    /// The call an in-dialog BYE or CANCEL is for, after answering it 200 (481 if none).
    fn answer_in_dialog(&mut self, conn: ConnId, req: &Request) -> Option<CallId> {
        let id = self.call_of(req);
        let r = match id {
            Some(_) => response(req, 200, "OK", None),
            None => response(req, 481, "Call/Transaction Does Not Exist", None),
        };
        self.ws_send(conn, text(r));
        id
    }

    async fn browser_bye_in(&mut self, conn: ConnId, req: Request, now: Instant) {
        if let Some(id) = self.answer_in_dialog(conn, &req) {
            self.end_call(id, Hangup::Browser, now).await;
        }
    }

    async fn browser_cancel(&mut self, conn: ConnId, req: Request, now: Instant) {
        let Some(id) = self.answer_in_dialog(conn, &req) else {
            return;
        };
        let pending = self
            .calls
            .get(&id)
            .is_some_and(|c| c.phase == Phase::Setup && c.dir == Dir::Outbound);
        if pending {
            self.fail_browser_at(id, 487, "Request Terminated", now)
                .await;
        }
    }

    pub(super) async fn handle_ws_closed(&mut self, conn: ConnId, now: Instant) {
        self.conns.remove(&conn);
        self.bindings.retain(|_, b| b.conn != conn);
        let ids: Vec<CallId> = self
            .calls
            .values()
            .filter(|c| c.browser.conn == conn)
            .map(|c| c.id)
            .collect();
        for id in ids {
            self.end_call(id, Hangup::WsClosed, now).await;
        }
    }

    /// Ends an unanswered outbound call with an error to the browser; hangs up the trunk leg.
    pub(super) async fn fail_browser(&mut self, id: CallId, status: u16, reason: &str) {
        self.fail_browser_at(id, status, reason, Instant::now())
            .await;
    }

    async fn fail_browser_at(&mut self, id: CallId, status: u16, reason: &str, now: Instant) {
        if let Some(call) = self.calls.get(&id) {
            let b = &call.browser;
            if call.dir == Dir::Outbound {
                let r = response(&b.invite, status, reason, Some(&b.dialog.local_tag));
                self.ws_send(b.conn, text(r));
            }
        }
        self.count_failure(status);
        self.hangup_trunk(id, Hangup::Browser, now).await;
        self.release(id).await;
    }

    pub(super) fn count_failure(&mut self, status: u16) {
        *self.stats.failed.entry(status).or_default() += 1;
    }

    /// Ends a call from one side: tells the other side, frees the media.
    pub(super) async fn end_call(&mut self, id: CallId, why: Hangup, now: Instant) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let secs = now.saturating_duration_since(call.started).as_secs_f32();
        tracing::info!(?id, ?why, "call ends after {secs:.1} s");
        call.hangup = Some(why);
        let (dir, phase) = (call.dir, call.phase);
        if !matches!(why, Hangup::Browser | Hangup::WsClosed) {
            match (dir, phase) {
                (_, Phase::Answered) => self.browser_bye(id),
                (Dir::Outbound, Phase::Setup) => {
                    let (status, reason) = match why {
                        Hangup::Timeout => (408, "Request Timeout"),
                        _ => (480, "Temporarily Unavailable"),
                    };
                    self.fail_browser_at(id, status, reason, now).await;
                    return;
                }
                // Our INVITE to the browser is pending: CANCEL it.
                (Dir::Inbound, Phase::Setup) => self.browser_cancel_out(id),
            }
        }
        if why != Hangup::Trunk {
            self.hangup_trunk(id, why, now).await;
        }
        self.release(id).await;
    }

    /// Sends BYE to the browser on the dialog's WebSocket.
    pub(super) fn browser_bye(&mut self, id: CallId) {
        let branch = crate::sip::util::new_branch(&mut self.rng);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let via = format!("SIP/2.0/WSS ferry.invalid;branch={branch}");
        let mut bye = call.browser.dialog.request(Method::Bye, &via, None);
        if let Some(r) = call.hangup.and_then(Hangup::reason_header) {
            bye.headers.push("Reason", r);
        }
        bye.headers.push("Content-Length", "0");
        let conn = call.browser.conn;
        self.ws_send(conn, request_text(&bye));
    }

    /// CANCEL of our pending INVITE to the browser (RFC 3261 §9.1).
    fn browser_cancel_out(&mut self, id: CallId) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let cancel = call.browser.invite.cancel();
        let conn = call.browser.conn;
        self.ws_send(conn, request_text(&cancel));
    }
}
