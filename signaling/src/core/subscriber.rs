//! Subscriber mode: a browser REGISTERs with its PBX credentials and Ferry relays the
//! registration to the PBX, so digest authentication runs end to end between browser and PBX
//! and Ferry never sees or stores a password (Mitel MBG, AudioCodes).
//!
//! The relayed REGISTER keeps the browser's Request-URI, To, From and Authorization (the
//! digest covers the Request-URI, so it must arrive unchanged) and carries Ferry's Contact, so
//! the PBX's calls for that user come to Ferry, which rings the browser (see `trunk_in`). The
//! PBX's answer goes back to the browser. A 401/403 to a REGISTER that carried credentials is a
//! failed login: after three for a user or from an address, a solved CAPTCHA is required, with
//! exponential backoff (`abuse::Throttle`).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::msg::{response, text};
use super::{Binding, ConnId, Core};
use crate::abuse::Decision;
use crate::sip::txn::TxnKey;
use crate::sip::{Method, Request, Response};

/// A REGISTER relayed to the PBX, waiting for its answer.
#[derive(Debug)]
pub struct PendingRegister {
    /// The browser's request, answered when the PBX answers.
    pub request: Request,
    /// The browser's connection.
    pub conn: ConnId,
    /// The browser's address (for the throttle).
    pub addr: IpAddr,
    /// The user (lower-cased).
    pub user: String,
    /// Whether it carried credentials (a 401/403 then counts as a failed login).
    pub with_credentials: bool,
}

impl Core {
    /// Relays a browser's REGISTER to the PBX (subscriber mode).
    pub(super) fn relay_register(
        &mut self,
        conn: ConnId,
        req: Request,
        user: String,
        now: Instant,
    ) {
        let addr = self.conns.get(&conn).map(|c| c.peer.ip());
        let Some(addr) = addr else { return };
        let with_credentials = req.headers.contains("Authorization");
        // Only a REGISTER with credentials is a login attempt; the first one just fetches the
        // PBX's challenge.
        let decision = if with_credentials {
            self.throttle.check(&user, addr, now)
        } else {
            Decision::Allow
        };
        match decision {
            Decision::Allow => {}
            Decision::NeedCaptcha => {
                let answer = req.headers.get("X-Ferry-Captcha");
                if !self.product.captcha_ok(answer) {
                    let reason = if answer.is_some() {
                        "CAPTCHA Failed"
                    } else {
                        "CAPTCHA Required"
                    };
                    tracing::warn!(user, %addr, "registration needs a CAPTCHA after failed logins");
                    self.ws_send(conn, text(response(&req, 403, reason, None)));
                    return;
                }
            }
            Decision::Backoff(wait) => {
                let mut r = response(&req, 403, "Too Many Failed Logins", None);
                r.headers
                    .push("Retry-After", &wait.as_secs().max(1).to_string());
                tracing::warn!(user, %addr, "registration refused: backing off {wait:?}");
                self.ws_send(conn, text(r));
                return;
            }
        }
        let Some(trunk) = self.trunk.as_ref() else {
            self.ws_send(conn, text(response(&req, 503, "No PBX Configured", None)));
            return;
        };
        let contact = format!(
            "<sip:{user}@{}{}>",
            trunk.local,
            if trunk.reliable() {
                ";transport=tcp"
            } else {
                ""
            }
        );
        let via = self.trunk_via();
        let mut out = Request::new(Method::Register, req.uri.clone());
        out.headers.push("Via", &via);
        out.headers.push("Max-Forwards", "70");
        for name in ["From", "To", "Call-ID", "CSeq", "Authorization", "Expires"] {
            if let Some(v) = req.headers.get(name) {
                out.headers.push(name, v);
            }
        }
        let expires = req
            .contact()
            .and_then(|c| c.param("expires").map(str::to_string))
            .map(|e| format!(";expires={e}"))
            .unwrap_or_default();
        out.headers.push("Contact", &format!("{contact}{expires}"));
        out.headers.push("User-Agent", super::msg::AGENT);
        out.headers.push("Content-Length", "0");
        let Some(key) = TxnKey::client(&out) else {
            return;
        };
        self.registers.insert(
            key,
            PendingRegister {
                request: req,
                conn,
                addr,
                user,
                with_credentials,
            },
        );
        self.trunk_send(None, out, now);
    }

    /// The PBX's answer to a relayed REGISTER, if `resp` is one.
    pub(super) fn register_response(&mut self, resp: &Response, now: Instant) -> bool {
        let Some(key) = TxnKey::for_response(resp) else {
            return false;
        };
        if resp.is_provisional() {
            return self.registers.contains_key(&key);
        }
        let Some(p) = self.registers.remove(&key) else {
            return false;
        };
        let mut r = response(&p.request, resp.status, &resp.reason, None);
        // The challenge and the binding's lifetime go back to the browser as the PBX said.
        for name in [
            "WWW-Authenticate",
            "Proxy-Authenticate",
            "Expires",
            "Retry-After",
        ] {
            for v in resp.headers.get_all(name) {
                r.headers.push(name, v);
            }
        }
        if let Some(to) = resp.headers.get("To") {
            r.headers.set("To", to);
        }
        match resp.status {
            200..=299 => {
                self.throttle.record_success(&p.user, p.addr);
                self.bind_from_pbx(&p, resp, &mut r, now);
            }
            401 | 403 | 407 if p.with_credentials => {
                tracing::info!(user = p.user, addr = %p.addr, status = resp.status, "failed login");
                self.throttle.record_failure(&p.user, p.addr, now);
            }
            _ => {}
        }
        self.ws_send(p.conn, text(r));
        true
    }

    /// Keeps (or drops) the local binding the PBX just accepted, and tells the browser.
    fn bind_from_pbx(
        &mut self,
        p: &PendingRegister,
        resp: &Response,
        r: &mut Response,
        now: Instant,
    ) {
        let granted = resp
            .contact()
            .and_then(|c| c.param("expires").and_then(|e| e.parse::<u64>().ok()))
            .or_else(|| {
                resp.headers
                    .get("Expires")
                    .and_then(|e| e.trim().parse().ok())
            })
            .unwrap_or(0);
        let Some(contact) = p.request.contact() else {
            return;
        };
        if granted == 0 {
            if self.bindings.get(&p.user).is_some_and(|b| b.conn == p.conn) {
                self.bindings.remove(&p.user);
            }
            return;
        }
        let Some(mut aor) = p.request.to() else {
            return;
        };
        aor.params.clear();
        self.bindings.insert(
            p.user.clone(),
            Binding {
                conn: p.conn,
                contact: contact.uri.clone(),
                aor,
                expires: now + Duration::from_secs(granted),
            },
        );
        let mut c = contact;
        c.set_param("expires", Some(&granted.to_string()));
        r.headers.push("Contact", &c.to_string());
        tracing::info!(user = p.user, conn = ?p.conn, "registered with the PBX");
    }
}
