//! The dialog state a B2BUA leg keeps (RFC 3261 §12) and the in-dialog requests built from it.
//!
//! One type for both roles: as UAC (we sent the INVITE) and as UAS (we answered one), the
//! local side is whoever Ferry is on that leg, so From/To simply follow local/remote.

use crate::sip::{Method, NameAddr, Request, Response, Uri};

/// One leg's dialog.
#[derive(Debug, Clone)]
pub struct Dialog {
    /// Call-ID.
    pub call_id: String,
    /// Our From/To value (no tag).
    pub local: NameAddr,
    /// Our tag.
    pub local_tag: String,
    /// The peer's From/To value (no tag).
    pub remote: NameAddr,
    /// The peer's tag, once known.
    pub remote_tag: Option<String>,
    /// Where in-dialog requests go (the peer's Contact).
    pub remote_target: Uri,
    /// Route set, in the order Route headers are written.
    pub route_set: Vec<String>,
    /// CSeq of our last request.
    pub local_cseq: u32,
    /// CSeq of the peer's last request.
    pub remote_cseq: u32,
}

fn untagged(v: &str) -> Option<NameAddr> {
    let mut na = NameAddr::parse(v).ok()?;
    na.params.retain(|(k, _)| !k.eq_ignore_ascii_case("tag"));
    Some(na)
}

impl Dialog {
    /// Our dialog as UAS of `invite` (RFC 3261 §12.1.1): route set from Record-Route as is.
    pub fn uas(invite: &Request, local_tag: &str) -> Option<Self> {
        let from = invite.headers.get("From")?;
        Some(Self {
            call_id: invite.call_id()?.to_string(),
            local: untagged(invite.headers.get("To")?)?,
            local_tag: local_tag.to_string(),
            remote: untagged(from)?,
            remote_tag: NameAddr::parse(from).ok()?.tag().map(str::to_string),
            remote_target: invite.contact()?.uri,
            route_set: invite
                .headers
                .get_all("Record-Route")
                .map(String::from)
                .collect(),
            local_cseq: 0,
            remote_cseq: invite.cseq()?.0,
        })
    }

    /// Our dialog as UAC of `invite`, before any response (target: the Request-URI).
    pub fn uac(invite: &Request, local_tag: &str) -> Option<Self> {
        Some(Self {
            call_id: invite.call_id()?.to_string(),
            local: untagged(invite.headers.get("From")?)?,
            local_tag: local_tag.to_string(),
            remote: untagged(invite.headers.get("To")?)?,
            remote_tag: None,
            remote_target: invite.uri.clone(),
            route_set: Vec::new(),
            local_cseq: invite.cseq()?.0,
            remote_cseq: 0,
        })
    }

    /// Learns the peer's tag, Contact and (reversed) Record-Route from a response that
    /// establishes the dialog (RFC 3261 §12.1.2).
    pub fn update_from_response(&mut self, resp: &Response) {
        if let Some(tag) = resp.to().and_then(|t| t.tag().map(str::to_string)) {
            self.remote_tag = Some(tag);
        }
        if let Some(c) = resp.contact() {
            self.remote_target = c.uri;
        }
        let rr: Vec<String> = resp
            .headers
            .get_all("Record-Route")
            .map(String::from)
            .collect();
        if !rr.is_empty() {
            self.route_set = rr.into_iter().rev().collect();
        }
    }

    /// An in-dialog request (RFC 3261 §12.2.1.1). ACK reuses the INVITE's CSeq (`cseq`); other
    /// methods take the next number. The caller passes the Via and adds any body.
    pub fn request(&mut self, method: Method, via: &str, cseq: Option<u32>) -> Request {
        let seq = match cseq {
            Some(n) => n,
            None => {
                self.local_cseq += 1;
                self.local_cseq
            }
        };
        let mut r = Request::new(method.clone(), self.remote_target.clone());
        r.headers.push("Via", via);
        r.headers.push("Max-Forwards", "70");
        for route in &self.route_set {
            r.headers.push("Route", route);
        }
        let mut from = self.local.clone();
        from.set_tag(&self.local_tag);
        r.headers.push("From", &from.to_string());
        let mut to = self.remote.clone();
        if let Some(t) = &self.remote_tag {
            to.set_tag(t);
        }
        r.headers.push("To", &to.to_string());
        r.headers.push("Call-ID", &self.call_id);
        r.headers.push("CSeq", &format!("{seq} {method}"));
        r.headers.push("User-Agent", super::msg::AGENT);
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::Message;

    fn invite() -> Request {
        let raw = include_str!("../../../tests/fixtures/jssip-invite.txt");
        match Message::parse(raw.as_bytes()).unwrap() {
            Message::Request(r) => r,
            _ => unreachable!(),
        }
    }

    #[test]
    fn uas_bye_swaps_from_and_to() {
        let inv = invite();
        let mut d = Dialog::uas(&inv, "ferrytag").unwrap();
        let bye = d.request(
            Method::Bye,
            "SIP/2.0/WSS ferry.invalid;branch=z9hG4bKx",
            None,
        );
        assert_eq!(
            bye.uri.to_string(),
            "sip:n3ha2tck@h3ioan6e6ca6.invalid;transport=ws;ob"
        );
        assert_eq!(bye.from().unwrap().tag(), Some("ferrytag"));
        assert_eq!(bye.from().unwrap().uri.user.as_deref(), Some("bob"));
        assert_eq!(bye.to().unwrap().tag(), Some("ps6ate10gh"));
        assert_eq!(bye.call_id(), Some("eda3qk88m5j63bp3qfbd"));
        assert_eq!(bye.cseq(), Some((1, Method::Bye)));
    }

    #[test]
    fn uac_learns_tag_target_and_reversed_routes() {
        let inv = invite();
        let mut d = Dialog::uac(&inv, "ps6ate10gh").unwrap();
        let raw = "SIP/2.0 200 OK\r\nVia: SIP/2.0/WS h3ioan6e6ca6.invalid;branch=z9hG4bK3871848\r\n\
                   From: <sip:alice@127.0.0.1>;tag=ps6ate10gh\r\nTo: <sip:bob@127.0.0.1>;tag=rt\r\n\
                   Call-ID: eda3qk88m5j63bp3qfbd\r\nCSeq: 3661 INVITE\r\n\
                   Record-Route: <sip:p1;lr>\r\nRecord-Route: <sip:p2;lr>\r\n\
                   Contact: <sip:bob@10.0.0.9:5060>\r\nContent-Length: 0\r\n\r\n";
        let Message::Response(ok) = Message::parse(raw.as_bytes()).unwrap() else {
            unreachable!()
        };
        d.update_from_response(&ok);
        let ack = d.request(Method::Ack, "SIP/2.0/UDP h;branch=z9hG4bKa", Some(3661));
        assert_eq!(ack.uri.to_string(), "sip:bob@10.0.0.9:5060");
        assert_eq!(ack.cseq(), Some((3661, Method::Ack)));
        let routes: Vec<&str> = ack.headers.get_all("Route").collect();
        assert_eq!(routes, ["<sip:p2;lr>", "<sip:p1;lr>"]);
        let bye = d.request(Method::Bye, "SIP/2.0/UDP h;branch=z9hG4bKb", None);
        assert_eq!(bye.cseq(), Some((3662, Method::Bye)));
        assert_eq!(bye.to().unwrap().tag(), Some("rt"));
    }
}
