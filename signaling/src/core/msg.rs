//! Small builders over the SIP message types that the B2BUA uses on both legs.

use crate::sip::{Message, NameAddr, Request, Response};

/// Ferry's product token for User-Agent and Server headers.
pub const AGENT: &str = concat!("Ferry/", env!("CARGO_PKG_VERSION"));
/// Methods Ferry accepts in a dialog.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE";

/// A response to `req` (RFC 3261 §8.2.6), with our To-tag when one is given.
pub fn response(req: &Request, status: u16, reason: &str, to_tag: Option<&str>) -> Response {
    let mut resp = Response::for_request(req, status, reason);
    if let Some(tag) = to_tag {
        set_tag(&mut resp.headers, "To", tag);
    }
    resp.headers.push("Server", AGENT);
    resp
}

/// Adds a body with its Content-Type.
pub fn with_body(mut resp: Response, content_type: &str, body: String) -> Response {
    resp.headers.set("Content-Type", content_type);
    resp.body = body.into_bytes();
    resp
}

/// Sets the tag of a From or To header unless it has one.
pub fn set_tag(headers: &mut crate::sip::Headers, name: &str, tag: &str) {
    let Some(mut na) = headers.get(name).and_then(|v| NameAddr::parse(v).ok()) else {
        return;
    };
    if na.tag().is_none() {
        na.set_tag(tag);
        headers.set(name, &na.to_string());
    }
}

/// The wire text of a response (SIP over WebSocket travels in text frames).
pub fn text(resp: Response) -> String {
    String::from_utf8_lossy(&Message::Response(resp).to_bytes()).into_owned()
}

/// The wire text of a request.
pub fn request_text(r: &Request) -> String {
    String::from_utf8_lossy(&r.to_bytes()).into_owned()
}

/// The refusal of an SDP we cannot take: 488 (400 for garbage), with the reason in a Warning
/// (RFC 3261 §20.43: code 399, miscellaneous).
pub fn sdp_refusal(req: &Request, e: &crate::sdp::SdpError) -> Response {
    let mut r = response(req, e.sip_status(), "Not Acceptable Here", None);
    r.headers.push("Warning", &format!("399 ferry \"{e}\""));
    r
}

/// Smallest session interval Ferry accepts (RFC 4028 §4: Min-SE defaults to 90 s).
pub const MIN_SE: u64 = 90;

/// RFC 4028 §9: answers a request's `Session-Expires` with the interval (raised to
/// [`MIN_SE`]) and the browser as refresher; returns the interval, if the request had one.
pub fn session_timer(req: &Request, resp: &mut Response) -> Option<u64> {
    let se = req.headers.get("Session-Expires")?;
    let secs = se
        .split(';')
        .next()?
        .trim()
        .parse::<u64>()
        .ok()?
        .max(MIN_SE);
    resp.headers
        .push("Session-Expires", &format!("{secs};refresher=uac"));
    resp.headers.push("Require", "timer");
    Some(secs)
}
