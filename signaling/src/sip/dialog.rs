//! Dialogs (RFC 3261 §12): the state a UA keeps between an INVITE and its BYE, and the
//! in-dialog requests built from it.

use rand::Rng;

use super::message::{Request, Response};
use super::method::Method;
use super::name_addr::NameAddr;
use super::uri::Uri;

/// Call-ID plus local and remote tag (§12).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    /// Call-ID.
    pub call_id: String,
    /// Our tag.
    pub local_tag: String,
    /// The peer's tag.
    pub remote_tag: String,
}

impl DialogId {
    /// The dialog an incoming request claims (local = To tag, remote = From tag; §12.2.2).
    pub fn for_incoming_request(req: &Request) -> Option<DialogId> {
        let call_id = req.call_id()?.to_owned();
        let local_tag = req.to()?.tag()?.to_owned();
        let remote_tag = req.from()?.tag()?.to_owned();
        Some(DialogId {
            call_id,
            local_tag,
            remote_tag,
        })
    }

    /// The dialog a response to our request belongs to (local = From tag, remote = To tag).
    pub fn for_incoming_response(resp: &Response) -> Option<DialogId> {
        let call_id = resp.call_id()?.to_owned();
        let local_tag = resp.from()?.tag()?.to_owned();
        let remote_tag = resp.to()?.tag()?.to_owned();
        Some(DialogId {
            call_id,
            local_tag,
            remote_tag,
        })
    }
}

/// Early (from a 1xx with To tag) or confirmed (from a 2xx).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    /// §12.1: created by a provisional response.
    Early,
    /// Created or confirmed by a 2xx.
    Confirmed,
}

/// Why a dialog could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    /// The response is a 100 or a 300-699, which make no dialog.
    #[error("response does not create a dialog")]
    NotDialogCreating,
    /// A header a dialog needs is missing or unparsable.
    #[error("missing or invalid {0}")]
    Missing(&'static str),
}

/// One dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    /// Call-ID and tags.
    pub id: DialogId,
    /// Our URI (From for the UAC), without tag.
    pub local: NameAddr,
    /// The peer's URI, without tag.
    pub remote: NameAddr,
    /// CSeq of our last request; `None` until a UAS sends its first one.
    pub local_seq: Option<u32>,
    /// CSeq of the peer's last request.
    pub remote_seq: Option<u32>,
    /// Where in-dialog requests go: the peer's Contact.
    pub remote_target: Uri,
    /// Route set, in the order our requests carry it.
    pub route_set: Vec<NameAddr>,
    /// Whether the dialog was set up with a SIPS Request-URI (§12.1.1).
    pub secure: bool,
    /// Early or confirmed.
    pub state: DialogState,
    is_uac: bool,
    invite_seq: Option<u32>,
}

fn untagged(mut a: NameAddr) -> NameAddr {
    a.params.retain(|(n, _)| !n.eq_ignore_ascii_case("tag"));
    a
}

fn routes<'a>(values: impl Iterator<Item = &'a str>) -> Result<Vec<NameAddr>, DialogError> {
    values
        .map(|v| NameAddr::parse(v).map_err(|_| DialogError::Missing("Record-Route")))
        .collect()
}

fn state_for(resp: &Response) -> Result<DialogState, DialogError> {
    match resp.status {
        101..=199 => Ok(DialogState::Early),
        200..=299 => Ok(DialogState::Confirmed),
        _ => Err(DialogError::NotDialogCreating),
    }
}

impl Dialog {
    /// The UAC side, from our INVITE and a 101-299 response with a To tag (§12.1.2).
    pub fn uac(invite: &Request, resp: &Response) -> Result<Dialog, DialogError> {
        let state = state_for(resp)?;
        let from = invite.from().ok_or(DialogError::Missing("From"))?;
        let to = resp.to().ok_or(DialogError::Missing("To"))?;
        let seq = invite.cseq().ok_or(DialogError::Missing("CSeq"))?.0;
        let id = DialogId {
            call_id: invite
                .call_id()
                .ok_or(DialogError::Missing("Call-ID"))?
                .to_owned(),
            local_tag: from
                .tag()
                .ok_or(DialogError::Missing("From tag"))?
                .to_owned(),
            remote_tag: to.tag().ok_or(DialogError::Missing("To tag"))?.to_owned(),
        };
        // §12.1.2: route set = Record-Route of the response, reversed.
        let mut route_set = routes(resp.headers.get_all("Record-Route"))?;
        route_set.reverse();
        // A 2xx MUST carry Contact; an 18x may not, so fall back to the Request-URI.
        let remote_target = resp.contact().map_or_else(|| invite.uri.clone(), |c| c.uri);
        Ok(Dialog {
            id,
            local: untagged(from),
            remote: untagged(to),
            local_seq: Some(seq),
            remote_seq: None,
            remote_target,
            route_set,
            secure: invite.uri.is_sips(),
            state,
            is_uac: true,
            invite_seq: Some(seq),
        })
    }

    /// The UAS side, from the peer's INVITE and our 101-299 answer with a To tag (§12.1.1).
    pub fn uas(invite: &Request, resp: &Response) -> Result<Dialog, DialogError> {
        let state = state_for(resp)?;
        let from = invite.from().ok_or(DialogError::Missing("From"))?;
        let to = resp.to().ok_or(DialogError::Missing("To"))?;
        let id = DialogId {
            call_id: invite
                .call_id()
                .ok_or(DialogError::Missing("Call-ID"))?
                .to_owned(),
            local_tag: to.tag().ok_or(DialogError::Missing("To tag"))?.to_owned(),
            remote_tag: from
                .tag()
                .ok_or(DialogError::Missing("From tag"))?
                .to_owned(),
        };
        let contact = invite.contact().ok_or(DialogError::Missing("Contact"))?;
        Ok(Dialog {
            id,
            local: untagged(to),
            remote: untagged(from),
            local_seq: None,
            remote_seq: Some(invite.cseq().ok_or(DialogError::Missing("CSeq"))?.0),
            remote_target: contact.uri,
            // §12.1.1: route set = Record-Route of the request, in order.
            route_set: routes(invite.headers.get_all("Record-Route"))?,
            secure: invite.uri.is_sips(),
            state,
            is_uac: false,
            invite_seq: None,
        })
    }

    /// Updates from a response to a request we sent in this dialog: an early dialog is
    /// confirmed by a 2xx to INVITE (whose Record-Route sets the route set, §12.1.2), and a 2xx
    /// to a target refresh updates the remote target (§12.2.1.2).
    pub fn handle_response(&mut self, resp: &Response) {
        if !resp.is_success() {
            return;
        }
        let method = resp.cseq().map(|c| c.1);
        if self.state == DialogState::Early && method == Some(Method::Invite) {
            self.state = DialogState::Confirmed;
            if self.is_uac {
                if let Ok(mut rs) = routes(resp.headers.get_all("Record-Route")) {
                    rs.reverse();
                    self.route_set = rs;
                }
            }
        }
        if method.is_some_and(|m| m.is_target_refresh()) {
            if let Some(c) = resp.contact() {
                self.remote_target = c.uri;
            }
        }
    }

    /// Checks an incoming request that matched [`Dialog::id`] (§12.2.2) and updates the
    /// remote CSeq and target. `Err` is the response to send instead of processing it.
    pub fn handle_request(&mut self, req: &Request) -> Result<(), Response> {
        if DialogId::for_incoming_request(req).as_ref() != Some(&self.id) {
            return Err(Response::for_request(
                req,
                481,
                "Call/Transaction Does Not Exist",
            ));
        }
        // ACK and CANCEL reuse the INVITE's CSeq number; they are not out of order.
        if matches!(req.method, Method::Ack | Method::Cancel) {
            return Ok(());
        }
        let Some((seq, _)) = req.cseq() else {
            return Err(Response::for_request(req, 400, "Bad Request (CSeq)"));
        };
        if self.remote_seq.is_some_and(|r| seq < r) {
            // §12.2.2: lower than the remote sequence number: out of order, 500.
            return Err(Response::for_request(
                req,
                500,
                "Server Internal Error (CSeq out of order)",
            ));
        }
        self.remote_seq = Some(seq);
        if req.method.is_target_refresh() {
            if let Some(c) = req.contact() {
                self.remote_target = c.uri; // §12.2.2 target refresh
            }
        }
        Ok(())
    }

    /// A new in-dialog request (§12.2.1.1): Request-URI, Route, From/To with tags, Call-ID,
    /// CSeq (incremented; ACK reuses the INVITE's), Max-Forwards. The caller adds Via, Contact
    /// and body. A UAS's first request starts from a random CSeq.
    pub fn new_request<R: Rng + ?Sized>(&mut self, method: Method, rng: &mut R) -> Request {
        if method == Method::Ack {
            return self.ack_for_2xx();
        }
        let seq = match self.local_seq {
            Some(s) => s.wrapping_add(1) & 0x7fff_ffff, // §8.1.1.5: below 2^31
            None => rng.gen_range(1..1 << 30),
        };
        self.local_seq = Some(seq);
        if method == Method::Invite {
            self.invite_seq = Some(seq);
        }
        self.build(method, seq)
    }

    /// The ACK for a 2xx to our last INVITE (§13.2.2.4): same CSeq number, method ACK.
    pub fn ack_for_2xx(&self) -> Request {
        self.build(Method::Ack, self.invite_seq.or(self.local_seq).unwrap_or(1))
    }

    fn build(&self, method: Method, seq: u32) -> Request {
        let (uri, routes) = self.request_target();
        let mut req = Request::new(method.clone(), uri);
        for r in routes {
            req.headers.push("Route", &r);
        }
        req.headers.push("Max-Forwards", "70");
        let mut from = self.local.clone();
        from.set_tag(&self.id.local_tag);
        let mut to = self.remote.clone();
        to.set_tag(&self.id.remote_tag);
        req.headers.push("From", &from.to_string());
        req.headers.push("To", &to.to_string());
        req.headers.push("Call-ID", &self.id.call_id);
        req.headers.push("CSeq", &format!("{seq} {method}"));
        req
    }

    /// §12.2.1.1: loose routing sends to the remote target with the whole route set; a strict
    /// router first in the set takes the Request-URI, and the remote target goes last.
    fn request_target(&self) -> (Uri, Vec<String>) {
        let all = || self.route_set.iter().map(|r| r.to_string()).collect();
        match self.route_set.first() {
            None => (self.remote_target.clone(), Vec::new()),
            Some(first) if first.uri.is_loose_route() => (self.remote_target.clone(), all()),
            Some(first) => {
                let mut rest: Vec<String> =
                    self.route_set[1..].iter().map(|r| r.to_string()).collect();
                rest.push(format!("<{}>", self.remote_target));
                (first.uri.clone(), rest)
            }
        }
    }
}

#[cfg(test)]
#[path = "dialog_tests.rs"]
mod tests;
