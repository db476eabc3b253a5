//! The browser leg: SIP over WebSocket, where Ferry is the UAS of the browser's calls.

use std::time::Instant;

use super::call::{BrowserLeg, Call, Media, Phase};
use super::msg::{ALLOW, response, text, with_body};
use super::{CallId, ConnId, Core};
use crate::route::{Route, route};
use crate::sdp;
use crate::sip::{Message, Method, Request, Response};

/// Why a call ended, for the log and the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hangup {
    /// The browser sent BYE or CANCEL.
    Browser,
    /// The trunk sent BYE.
    Trunk,
    /// The browser's WebSocket closed.
    WsClosed,
    /// Media failed (DTLS, the engine ended the session).
    Media,
    /// The trunk never answered.
    Timeout,
}

impl Core {
    pub(super) async fn handle_browser(&mut self, conn: ConnId, bytes: &[u8], now: Instant) {
        match Message::parse(bytes) {
            Ok(Message::Request(req)) => self.browser_request(conn, req, now).await,
            Ok(Message::Response(resp)) => self.browser_response(conn, resp),
            Err(e) => {
                tracing::info!(?conn, "malformed SIP from browser: {e}");
                // RFC 3261 §16.3 spirit: answer what can be answered, keep the connection.
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
        match req.method {
            Method::Invite => self.browser_invite(conn, req, now).await,
            Method::Ack => {}
            Method::Bye => self.browser_bye(conn, req).await,
            Method::Cancel => self.browser_cancel(conn, req).await,
            Method::Options => {
                let mut r = response(&req, 200, "OK", None);
                r.headers.push("Allow", ALLOW);
                self.ws_send(conn, text(r));
            }
            Method::Info | Method::Update | Method::Message => {
                let ok = self.call_of(&req).is_some();
                let (code, reason) = if ok {
                    (200, "OK")
                } else {
                    (481, "Call/Transaction Does Not Exist")
                };
                self.ws_send(conn, text(response(&req, code, reason, None)));
            }
            Method::Register => self.browser_register(conn, req),
            _ => {
                let mut r = response(&req, 501, "Not Implemented", None);
                r.headers.push("Allow", ALLOW);
                self.ws_send(conn, text(r));
            }
        }
    }

    fn browser_response(&mut self, conn: ConnId, resp: Response) {
        // Answers to our BYEs toward the browser: nothing waits on them.
        tracing::debug!(?conn, status = resp.status, "response from browser");
    }

    fn call_of(&self, req: &Request) -> Option<CallId> {
        self.by_browser.get(req.call_id()?).copied()
    }

    /// Subscriber mode is not built yet: a REGISTER gets a clear refusal, not silence.
    fn browser_register(&mut self, conn: ConnId, req: Request) {
        self.ws_send(
            conn,
            text(response(&req, 403, "Registration Not Enabled", None)),
        );
    }

    async fn browser_invite(&mut self, conn: ConnId, req: Request, now: Instant) {
        let Some(call_id) = req.call_id().map(str::to_string) else {
            self.ws_send(conn, text(response(&req, 400, "Missing Call-ID", None)));
            return;
        };
        if let Some(&id) = self.by_browser.get(&call_id) {
            self.browser_reinvite(id, conn, req).await;
            return;
        }
        self.ws_send(conn, text(response(&req, 100, "Trying", None)));
        let body = String::from_utf8_lossy(&req.body).into_owned();
        let offer = match sdp::parse_webrtc(&body) {
            Ok(o) => o,
            Err(e) => {
                let mut r = response(&req, e.sip_status(), "Not Acceptable Here", None);
                r.headers.push("Warning", &format!("399 ferry \"{e}\""));
                self.ws_send(conn, text(r));
                self.count_failure(e.sip_status());
                return;
            }
        };
        let dest = route(req.uri.user.as_deref(), self.trunk.is_some());
        if dest == Route::None {
            self.ws_send(conn, text(response(&req, 404, "Not Found", None)));
            self.count_failure(404);
            return;
        }
        let id = self.new_call_id();
        let local_tag = crate::sip::util::new_tag(&mut self.rng);
        let remote_cseq = req.cseq().map(|c| c.0).unwrap_or(0);
        let remote_target = req.contact().map(|c| c.uri);
        let call = Call {
            id,
            phase: Phase::Setup,
            browser: BrowserLeg {
                conn,
                call_id: call_id.clone(),
                invite: req,
                local_tag,
                remote_target,
                local_cseq: 1,
                remote_cseq,
                offer,
            },
            trunk: None,
            media: Media::new(&mut self.rng),
            started: now,
        };
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

    async fn answer_echo(&mut self, id: CallId) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        let local = self.local_ice(call);
        let policy = sdp::CodecPolicy {
            allowed: ["opus", "PCMU", "PCMA", "G722", "telephone-event"]
                .map(String::from)
                .to_vec(),
        };
        match sdp::echo_answer(&call.browser.offer, &policy, &local, id.0, 1) {
            Ok(answer) => self.answer_browser(id, answer),
            Err(e) => {
                tracing::info!(?id, "echo: {e}");
                self.fail_browser(id, e.sip_status(), "Not Acceptable Here")
                    .await;
            }
        }
    }

    /// Sends 200 OK with our SDP to the browser.
    pub(super) fn answer_browser(&mut self, id: CallId, sdp_body: String) {
        let contact = self.local_contact_ws();
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let b = &call.browser;
        let mut r = response(&b.invite, 200, "OK", Some(&b.local_tag));
        r.headers.push("Contact", &contact);
        r.headers.push("Allow", ALLOW);
        if b.invite.headers.get("Session-Expires").is_some() {
            // RFC 4028 §9: we accept the interval and let the browser refresh.
            let se = b
                .invite
                .headers
                .get("Session-Expires")
                .unwrap_or("90")
                .to_string();
            let secs = se.split(';').next().unwrap_or("90").trim().to_string();
            r.headers
                .push("Session-Expires", &format!("{secs};refresher=uac"));
            r.headers.push("Require", "timer");
        }
        let conn = b.conn;
        let r = with_body(r, "application/sdp", sdp_body);
        call.phase = Phase::Answered;
        self.stats.answered += 1;
        self.ws_send(conn, text(r));
    }

    fn local_contact_ws(&self) -> String {
        let host = self
            .candidates
            .first()
            .map(|a| a.to_string())
            .unwrap_or_default();
        format!("<sip:ferry@{host};transport=ws>")
    }

    /// A re-INVITE (hold, resume, ICE restart): answered with the SDP we already gave, so the
    /// media path stays as it is. Full re-negotiation toward the trunk is not built yet.
    async fn browser_reinvite(&mut self, id: CallId, conn: ConnId, req: Request) {
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if call.phase != Phase::Answered {
            self.ws_send(conn, text(response(&req, 491, "Request Pending", None)));
            return;
        }
        self.ws_send(conn, text(response(&req, 488, "Not Acceptable Here", None)));
    }

    async fn browser_bye(&mut self, conn: ConnId, req: Request) {
        let Some(id) = self.call_of(&req) else {
            self.ws_send(
                conn,
                text(response(&req, 481, "Call/Transaction Does Not Exist", None)),
            );
            return;
        };
        self.ws_send(conn, text(response(&req, 200, "OK", None)));
        self.end_call(id, Hangup::Browser).await;
    }

    async fn browser_cancel(&mut self, conn: ConnId, req: Request) {
        let Some(id) = self.call_of(&req) else {
            self.ws_send(
                conn,
                text(response(&req, 481, "Call/Transaction Does Not Exist", None)),
            );
            return;
        };
        self.ws_send(conn, text(response(&req, 200, "OK", None)));
        if self.calls.get(&id).is_some_and(|c| c.phase == Phase::Setup) {
            self.fail_browser(id, 487, "Request Terminated").await;
        }
    }

    pub(super) async fn handle_ws_closed(&mut self, conn: ConnId, _now: Instant) {
        self.conns.remove(&conn);
        let ids: Vec<CallId> = self
            .calls
            .values()
            .filter(|c| c.browser.conn == conn)
            .map(|c| c.id)
            .collect();
        for id in ids {
            self.end_call(id, Hangup::WsClosed).await;
        }
    }

    /// Ends a call that is not answered with an error to the browser; cancels the trunk leg.
    pub(super) async fn fail_browser(&mut self, id: CallId, status: u16, reason: &str) {
        if let Some(call) = self.calls.get(&id) {
            let b = &call.browser;
            let r = response(&b.invite, status, reason, Some(&b.local_tag));
            self.ws_send(b.conn, text(r));
        }
        self.count_failure(status);
        self.hangup_trunk(id).await;
        self.release(id).await;
    }

    fn count_failure(&mut self, status: u16) {
        *self.stats.failed.entry(status).or_default() += 1;
    }

    /// Ends a call from one side: tells the other side, frees the media.
    pub(super) async fn end_call(&mut self, id: CallId, why: Hangup) {
        tracing::info!(?id, ?why, "call ends");
        let Some(call) = self.calls.get(&id) else {
            return;
        };
        if why != Hangup::Browser && why != Hangup::WsClosed {
            if call.phase == Phase::Answered {
                self.bye_browser(id);
            } else {
                let (status, reason) = match why {
                    Hangup::Timeout => (408, "Request Timeout"),
                    _ => (480, "Temporarily Unavailable"),
                };
                self.fail_browser(id, status, reason).await;
                return;
            }
        }
        if why != Hangup::Trunk {
            self.hangup_trunk(id).await;
        }
        self.release(id).await;
    }

    /// Sends BYE to the browser on the dialog's WebSocket.
    fn bye_browser(&mut self, id: CallId) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let b = &mut call.browser;
        let (Some(from), Some(to)) = (b.invite.to(), b.invite.from()) else {
            return;
        };
        let target = b
            .remote_target
            .as_ref()
            .map(|u| u.to_string())
            .unwrap_or_else(|| from.uri.to_string());
        let branch = crate::sip::util::new_branch(&mut self.rng);
        let mut local = from;
        local.set_tag(&b.local_tag);
        let text = format!(
            "BYE {target} SIP/2.0\r\nVia: SIP/2.0/WSS ferry.invalid;branch={branch}\r\n\
             Max-Forwards: 70\r\nFrom: {local}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {} BYE\r\n\
             User-Agent: {}\r\nContent-Length: 0\r\n\r\n",
            b.call_id,
            b.local_cseq,
            super::msg::AGENT
        );
        b.local_cseq += 1;
        let conn = b.conn;
        self.ws_send(conn, text);
    }
}
