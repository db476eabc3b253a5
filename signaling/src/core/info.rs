//! INFO in a dialog (RFC 6086), relayed leg to leg: DTMF as `application/dtmf-relay` for
//! trunks that take it that way, and whatever else the two ends agree on.

use std::time::Instant;

use super::msg::request_text;
use super::{CallId, Core};
use crate::sip::{Method, Request};

/// Largest INFO body relayed (DTMF relay bodies are a few dozen bytes).
const MAX_INFO_BODY: usize = 4096;

fn copy_body(from: &Request, to: &mut Request) {
    if let Some(ct) = from.headers.get("Content-Type") {
        to.headers.push("Content-Type", ct);
    }
    to.body = from.body.clone();
}

impl Core {
    /// The browser's INFO goes on to the trunk leg, if it is up.
    pub(super) fn relay_info_to_trunk(&mut self, id: CallId, info: &Request, now: Instant) {
        if info.body.len() > MAX_INFO_BODY {
            return;
        }
        let ct = info.headers.get("Content-Type").map(str::to_string);
        self.info_to_trunk(id, ct.as_deref(), info.body.clone(), now);
    }

    /// Sends an INFO with this body in the trunk dialog, once the trunk answered.
    pub(super) fn info_to_trunk(
        &mut self,
        id: CallId,
        content_type: Option<&str>,
        body: Vec<u8>,
        now: Instant,
    ) {
        let via = self.trunk_via();
        let Some(leg) = self.calls.get_mut(&id).and_then(|c| c.trunk.as_mut()) else {
            return;
        };
        if !leg.answered {
            return;
        }
        let mut out = leg.dialog.request(Method::Info, &via, None);
        if let Some(ct) = content_type {
            out.headers.push("Content-Type", ct);
        }
        out.body = body;
        self.stats.info_relayed += 1;
        self.trunk_send(Some(id), out, now);
    }

    /// The trunk's INFO goes on to the browser.
    pub(super) fn relay_info_to_browser(&mut self, id: CallId, info: &Request) {
        if info.body.len() > MAX_INFO_BODY {
            return;
        }
        let branch = crate::sip::util::new_branch(&mut self.rng);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let via = format!("SIP/2.0/WSS ferry.invalid;branch={branch}");
        let mut out = call.browser.dialog.request(Method::Info, &via, None);
        copy_body(info, &mut out);
        let conn = call.browser.conn;
        self.stats.info_relayed += 1;
        self.ws_send(conn, request_text(&out));
    }
}
