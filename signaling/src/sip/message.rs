//! Requests, responses and their wire form (RFC 3261 §7). Header values stay as received, so a
//! parsed message is written back byte for byte (apart from a corrected Content-Length).

use super::error::ParseError;
use super::header::Headers;
use super::limits::MAX_MESSAGE;
use super::method::Method;
use super::name_addr::NameAddr;
use super::parse::{self, StartLine};
use super::uri::Uri;
use super::via::Via;

/// A SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The Request-URI.
    pub uri: Uri,
    /// Header fields in order.
    pub headers: Headers,
    /// The body (SDP, ...).
    pub body: Vec<u8>,
}

/// A SIP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code, 100..=699.
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// Header fields in order.
    pub headers: Headers,
    /// The body.
    pub body: Vec<u8>,
}

/// A request or a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A request.
    Request(Request),
    /// A response.
    Response(Response),
}

/// Parses a CSeq value `1234 INVITE` (RFC 3261 §20.16: number below 2^31).
pub(crate) fn parse_cseq(v: &str) -> Option<(u32, Method)> {
    let mut parts = v.split_whitespace();
    let (n, m) = (parts.next()?, parts.next()?);
    if parts.next().is_some() || n.len() > 10 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u32 = n.parse().ok().filter(|n| *n < 1 << 31)?;
    Some((n, m.parse().ok()?))
}

/// The header accessors shared by requests and responses.
macro_rules! header_accessors {
    () => {
        /// The Call-ID.
        pub fn call_id(&self) -> Option<&str> {
            self.headers.get("Call-ID")
        }

        /// CSeq number and method.
        pub fn cseq(&self) -> Option<(u32, Method)> {
            self.headers.get("CSeq").and_then(parse_cseq)
        }

        /// The From header (None if absent or with a scheme Ferry does not parse, e.g. tel:).
        pub fn from(&self) -> Option<NameAddr> {
            self.headers
                .get("From")
                .and_then(|v| NameAddr::parse(v).ok())
        }

        /// The To header.
        pub fn to(&self) -> Option<NameAddr> {
            self.headers.get("To").and_then(|v| NameAddr::parse(v).ok())
        }

        /// The topmost Via value.
        pub fn top_via(&self) -> Option<Via> {
            self.headers
                .get_all("Via")
                .next()
                .and_then(|v| Via::parse(v).ok())
        }

        /// The first Contact (None for `*`).
        pub fn contact(&self) -> Option<NameAddr> {
            self.headers
                .get_all("Contact")
                .next()
                .and_then(|v| NameAddr::parse(v).ok())
        }

        /// The Content-Type value.
        pub fn content_type(&self) -> Option<&str> {
            self.headers.get("Content-Type")
        }

        /// Max-Forwards.
        pub fn max_forwards(&self) -> Option<u32> {
            self.headers
                .get("Max-Forwards")
                .and_then(|v| v.parse().ok())
        }
    };
}

impl Request {
    /// A request with no headers or body yet.
    pub fn new(method: Method, uri: Uri) -> Request {
        Request {
            method,
            uri,
            headers: Headers::new(),
            body: Vec::new(),
        }
    }

    header_accessors!();

    /// The wire form, CRLF line ends and a correct Content-Length.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} SIP/2.0\r\n", self.method, self.uri).into_bytes();
        write_rest(&mut out, &self.headers, &self.body);
        out
    }

    /// A request built from this one for the same transaction: CANCEL (RFC 3261 §9.1) or the
    /// ACK to a non-2xx final (§17.1.1.3, whose `to` comes from the response).
    pub(crate) fn derive(&self, method: Method, to: Option<&str>) -> Request {
        let mut r = Request::new(method.clone(), self.uri.clone());
        // RFC 3261 §9.1 / §17.1.1.3: one Via, equal to the top Via of the request.
        if let Some(via) = self.headers.get_all("Via").next() {
            r.headers.push("Via", via);
        }
        r.headers.push("Max-Forwards", "70");
        for name in ["From", "To", "Call-ID"] {
            let v = if name == "To" {
                to.or(self.headers.get("To"))
            } else {
                self.headers.get(name)
            };
            if let Some(v) = v {
                r.headers.push(name, v);
            }
        }
        let seq = self.cseq().map_or(0, |c| c.0);
        r.headers.push("CSeq", &format!("{seq} {method}"));
        for route in self.headers.get_all("Route") {
            r.headers.push("Route", route);
        }
        r.headers.push("Content-Length", "0");
        r
    }

    /// The CANCEL for this (INVITE) request (RFC 3261 §9.1).
    pub fn cancel(&self) -> Request {
        self.derive(Method::Cancel, None)
    }
}

impl Response {
    header_accessors!();

    /// A response to `req` (RFC 3261 §8.2.6.2): all Via in order, From, To, Call-ID, CSeq
    /// copied, Content-Length 0. The UAS adds a To tag with [`Response::set_to_tag`].
    pub fn for_request(req: &Request, status: u16, reason: &str) -> Response {
        let mut headers = Headers::new();
        for (n, v) in req.headers.iter() {
            if n.eq_ignore_ascii_case("Via") {
                headers.push("Via", v);
            }
        }
        for name in ["From", "To", "Call-ID", "CSeq"] {
            if let Some(v) = req.headers.get(name) {
                headers.push(name, v);
            }
        }
        // RFC 3261 §8.2.6.1: a 100 echoes Timestamp.
        if status == 100 {
            if let Some(ts) = req.headers.get("Timestamp") {
                headers.push("Timestamp", ts);
            }
        }
        headers.push("Content-Length", "0");
        Response {
            status,
            reason: reason.to_owned(),
            headers,
            body: Vec::new(),
        }
    }

    /// [`Response::for_request`] plus the request's Record-Route, in order: what a UAS puts in
    /// a dialog-creating 18x/2xx (RFC 3261 §12.1.1).
    pub fn for_request_with_record_route(req: &Request, status: u16, reason: &str) -> Response {
        let mut resp = Response::for_request(req, status, reason);
        for (n, v) in req.headers.iter() {
            if n.eq_ignore_ascii_case("Record-Route") {
                resp.headers.push("Record-Route", v);
            }
        }
        resp
    }

    /// Adds `tag` to To unless it already has one (RFC 3261 §8.2.6.2).
    pub fn set_to_tag(&mut self, tag: &str) {
        if let Some(mut to) = self.to() {
            if to.tag().is_none() {
                to.set_tag(tag);
                self.headers.set("To", &to.to_string());
            }
        }
    }

    /// 1xx.
    pub fn is_provisional(&self) -> bool {
        self.status < 200
    }

    /// 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The wire form, CRLF line ends and a correct Content-Length.
    pub fn to_bytes(&self) -> Vec<u8> {
        let reason: String = self
            .reason
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let mut out = format!("SIP/2.0 {} {reason}\r\n", self.status).into_bytes();
        write_rest(&mut out, &self.headers, &self.body);
        out
    }
}

/// Headers, the one Content-Length (where the first one was, else last), blank line, body.
fn write_rest(out: &mut Vec<u8>, headers: &Headers, body: &[u8]) {
    let mut wrote_len = false;
    for (n, v) in headers.iter() {
        if n.eq_ignore_ascii_case("Content-Length") {
            if !wrote_len {
                out.extend_from_slice(format!("{n}: {}\r\n", body.len()).as_bytes());
                wrote_len = true;
            }
            continue;
        }
        out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    if !wrote_len {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

impl From<Request> for Message {
    fn from(r: Request) -> Message {
        Message::Request(r)
    }
}

impl From<Response> for Message {
    fn from(r: Response) -> Message {
        Message::Response(r)
    }
}

impl Message {
    /// Parses one whole message (a UDP datagram or a WebSocket frame, RFC 7118 §5.1). Leading
    /// CR/LF is skipped (RFC 3261 §7.5); bytes beyond Content-Length are discarded (§18.3).
    pub fn parse(buf: &[u8]) -> Result<Message, ParseError> {
        if buf.len() > MAX_MESSAGE {
            return Err(ParseError::TooLarge);
        }
        let buf = &buf[parse::leading_crlf(buf)..];
        if buf.is_empty() {
            return Err(ParseError::Empty);
        }
        let end = parse::head_end(buf).ok_or(ParseError::Incomplete)?;
        let (start, headers) = parse::parse_head(&buf[..end], true)?;
        let rest = &buf[end..];
        let body = match parse::content_length(&headers)? {
            Some(n) if n > rest.len() => return Err(ParseError::BodyTruncated),
            Some(n) => rest[..n].to_vec(),
            None => rest.to_vec(),
        };
        Ok(match parse::parse_start_line(start)? {
            StartLine::Request(method, uri) => {
                validate(&headers, Some(&method))?;
                Message::Request(Request {
                    method,
                    uri,
                    headers,
                    body,
                })
            }
            StartLine::Response(status, reason) => {
                validate(&headers, None)?;
                Message::Response(Response {
                    status,
                    reason,
                    headers,
                    body,
                })
            }
        })
    }

    /// The wire form.
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Message::Request(r) => r.to_bytes(),
            Message::Response(r) => r.to_bytes(),
        }
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        match self {
            Message::Request(r) => &r.headers,
            Message::Response(r) => &r.headers,
        }
    }

    /// The topmost Via.
    pub fn top_via(&self) -> Option<Via> {
        match self {
            Message::Request(r) => r.top_via(),
            Message::Response(r) => r.top_via(),
        }
    }
}

/// RFC 3261 §8.1.1 / §8.2.2: the fields every message must carry, well formed.
fn validate(h: &Headers, method: Option<&Method>) -> Result<(), ParseError> {
    let cseq_method = validate_mandatory(h)?;
    if method.is_some_and(|m| *m != cseq_method) {
        return Err(ParseError::CSeqMethod); // RFC 3261 §8.1.1.5
    }
    if let Some(mf) = h.get("Max-Forwards") {
        if mf.is_empty() || mf.len() > 3 || !mf.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::Invalid("Max-Forwards"));
        }
    }
    Ok(())
}

/// Via, From, To, Call-ID and CSeq: what a response copies (RFC 3261 §8.2.6.2). Returns the
/// CSeq method.
pub(crate) fn validate_mandatory(h: &Headers) -> Result<Method, ParseError> {
    let via = h.get_all("Via").next().ok_or(ParseError::Missing("Via"))?;
    Via::parse(via).map_err(|_| ParseError::Invalid("Via"))?;
    for name in ["From", "To"] {
        let v = h.get(name).ok_or(ParseError::Missing(name))?;
        // A tel: (or other) URI is legal here; only Ferry's own sip/sips parser declines it.
        match NameAddr::parse(v) {
            Ok(_) | Err(ParseError::UriScheme) => {}
            Err(_) => return Err(ParseError::Invalid(name)),
        }
    }
    let call_id = h.get("Call-ID").ok_or(ParseError::Missing("Call-ID"))?;
    if call_id.is_empty() || call_id.contains(char::is_whitespace) {
        return Err(ParseError::Invalid("Call-ID"));
    }
    let cseq = h.get("CSeq").ok_or(ParseError::Missing("CSeq"))?;
    Ok(parse_cseq(cseq).ok_or(ParseError::Invalid("CSeq"))?.1)
}
