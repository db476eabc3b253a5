//! Answering what does not parse (RFC 3261 §8.2.6, §16.3): if a request's Via, From, To,
//! Call-ID and CSeq can be salvaged, the sender gets a 400/416/505/513 saying what was wrong
//! instead of silence and retransmissions.

use sha2::{Digest, Sha256};

use super::error::ParseError;
use super::header::Headers;
use super::limits::MAX_MESSAGE;
use super::message::{Response, validate_mandatory};
use super::name_addr::NameAddr;
use super::parse;
use super::syntax::is_token;
use super::via::Via;

impl ParseError {
    /// The response owed to `raw` (the bytes that failed with `self`), or `None` when `raw` is
    /// not a request, is a keepalive, or lacks what a response must copy.
    ///
    /// The To tag it adds is a hash of the Call-ID and branch, so a retransmitted bad request
    /// gets the same answer.
    pub fn bad_request(&self, raw: &[u8]) -> Option<Response> {
        if matches!(self, ParseError::Empty) {
            return None;
        }
        let raw = &raw[..raw.len().min(MAX_MESSAGE)];
        let raw = &raw[parse::leading_crlf(raw)..];
        let end = parse::head_end(raw)?;
        let (start, headers) = parse::parse_head(&raw[..end], false).ok()?;
        if !looks_like_request(start) {
            return None;
        }
        // ACK gets no response (RFC 3261 §17.2.1); drop a broken one silently.
        if start.starts_with("ACK ") {
            return None;
        }
        let method = start.split(' ').next().unwrap_or("");
        let mut resp = salvage(&headers, method)?;
        resp.status = self.status();
        resp.reason = self.reason();
        Some(resp)
    }
}

fn looks_like_request(start: &str) -> bool {
    let mut parts = start.split(' ');
    let method = parts.next().unwrap_or("");
    let version = start.rsplit(' ').next().unwrap_or("");
    is_token(method) && !method.starts_with("SIP/") && parse::is_sip_version_prefix(version)
}

fn salvage(h: &Headers, method: &str) -> Option<Response> {
    // A broken CSeq is itself worth a 400. The client matches the answer on its Via branch, so
    // the CSeq is rebuilt from what can be read (its leading number, else 0, and the request's
    // method): the 400 stays a well-formed message.
    let cseq_broken = match validate_mandatory(h) {
        Ok(_) => false,
        Err(ParseError::Invalid("CSeq")) => true,
        Err(_) => return None,
    };
    let vias: Vec<&str> = h.get_all("Via").collect();
    let top = Via::parse(vias.first()?).ok()?;
    let (from, to, call_id, cseq) = (
        h.get("From")?,
        h.get("To")?,
        h.get("Call-ID")?,
        h.get("CSeq")?,
    );
    let mut headers = Headers::new();
    for v in vias {
        headers.push("Via", v);
    }
    headers.push("From", from);
    headers.push("To", &tagged_to(to, call_id, top.branch().unwrap_or("")));
    headers.push("Call-ID", call_id);
    if cseq_broken {
        let digits: String = cseq
            .trim()
            .chars()
            .take_while(char::is_ascii_digit)
            .take(9)
            .collect();
        let n = digits.parse::<u32>().unwrap_or(0);
        headers.push("CSeq", &format!("{n} {method}"));
    } else {
        headers.push("CSeq", cseq);
    }
    headers.push("Content-Length", "0");
    Some(Response {
        status: 400,
        reason: String::new(),
        headers,
        body: Vec::new(),
    })
}

/// RFC 3261 §8.2.6.2: add a To tag if there is none (and if To can be parsed to add one).
fn tagged_to(to: &str, call_id: &str, branch: &str) -> String {
    match NameAddr::parse(to) {
        Ok(mut addr) if addr.tag().is_none() => {
            let digest = Sha256::digest(format!("{call_id}\n{branch}").as_bytes());
            addr.set_tag(&hex::encode(&digest[..8]));
            addr.to_string()
        }
        _ => to.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::message::Message;

    const HEAD: &str = "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKbad\r\nFrom: <sip:a@b>;tag=1\r\n\
        To: <sip:c@d>\r\nCall-ID: x1\r\nCSeq: 1 INVITE\r\n";

    fn answer(raw: &str) -> Option<(u16, String, Message)> {
        let err = Message::parse(raw.as_bytes()).unwrap_err();
        let resp = err.bad_request(raw.as_bytes())?;
        let again = Message::parse(&resp.to_bytes()).expect("our 400 parses");
        Some((resp.status, resp.reason, again))
    }

    #[test]
    fn bad_content_length_gets_400_with_reason_and_tag() {
        let raw = format!("INVITE sip:c@d SIP/2.0\r\n{HEAD}Content-Length: -3\r\n\r\n");
        let (status, reason, msg) = answer(&raw).unwrap();
        assert_eq!(
            (status, reason.as_str()),
            (400, "Bad Request (invalid Content-Length)")
        );
        let Message::Response(r) = msg else { panic!() };
        assert!(r.to().unwrap().tag().is_some());
        assert_eq!(r.cseq().unwrap().0, 1);
    }

    #[test]
    fn scheme_and_version_and_mismatch() {
        let raw = format!("INVITE tel:+1 SIP/2.0\r\n{HEAD}\r\n");
        assert_eq!(answer(&raw).unwrap().0, 416);
        let raw = format!("INVITE sip:c@d SIP/3.0\r\n{HEAD}\r\n");
        assert_eq!(answer(&raw).unwrap().0, 505);
        let raw = format!("BYE sip:c@d SIP/2.0\r\n{HEAD}\r\n");
        assert_eq!(
            answer(&raw).unwrap().1,
            "Bad Request (CSeq method does not match request method)"
        );
        let raw = format!("INVITE sip:c@d SIP/2.0\r\n{HEAD}Content-Length: 10\r\n\r\nshort");
        assert_eq!(answer(&raw).unwrap().0, 400);
    }

    #[test]
    fn broken_cseq_gets_400_with_a_well_formed_cseq() {
        for (cseq, rebuilt) in [("one OPTIONS", "0 OPTIONS"), ("7", "7 OPTIONS")] {
            let head = HEAD.replace("CSeq: 1 INVITE", &format!("CSeq: {cseq}"));
            let raw = format!("OPTIONS sip:c@d SIP/2.0\r\n{head}\r\n");
            let err = Message::parse(raw.as_bytes()).unwrap_err();
            let resp = err
                .bad_request(raw.as_bytes())
                .expect("a 400 for a broken CSeq");
            assert_eq!(resp.status, 400);
            assert_eq!(resp.headers.get("CSeq"), Some(rebuilt));
            assert!(Message::parse(&resp.to_bytes()).is_ok(), "our 400 parses");
            assert_eq!(resp.headers.get("Call-ID"), Some("x1"));
        }
    }

    #[test]
    fn nothing_for_unsalvageable() {
        assert!(answer("INVITE sip:c@d SIP/2.0\r\nCSeq: x\r\n\r\n").is_none());
        assert!(answer("SIP/2.0 200 OK\r\nCSeq: x\r\n\r\n").is_none());
        let raw = format!("ACK sip:c@d SIP/2.0\r\n{HEAD}Content-Length: x\r\n\r\n");
        assert!(answer(&raw).is_none());
        assert!(answer("\u{1}\u{2}garbage\r\n\r\n").is_none());
        let raw = format!("INVITE sip:c@d SIPé/2.0\r\n{HEAD}\r\n");
        assert!(answer(&raw).is_none());
    }
}
