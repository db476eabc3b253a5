//! Byte-level parsing: the header section, start line, Content-Length, and stream framing
//! (RFC 3261 §7, §18.3; RFC 5626 §3.5.1 keepalives). Every step is bounded by [`super::limits`].

use super::error::ParseError;
use super::header::{Headers, expand_compact};
use super::limits::{MAX_HEADERS, MAX_LINE, MAX_MESSAGE};
use super::method::Method;
use super::syntax::is_token;
use super::uri::Uri;

/// The parsed request or status line.
pub(crate) enum StartLine {
    Request(Method, Uri),
    Response(u16, String),
}

/// Number of CR/LF bytes before the start line (RFC 3261 §7.5: ignored).
pub(crate) fn leading_crlf(buf: &[u8]) -> usize {
    buf.iter()
        .take_while(|b| matches!(b, b'\r' | b'\n'))
        .count()
}

/// Offset just past the empty line that ends the header section; LF or CRLF line ends.
pub(crate) fn head_end(buf: &[u8]) -> Option<usize> {
    let buf = &buf[..buf.len().min(MAX_MESSAGE)];
    let mut i = 0;
    while let Some(p) = buf[i..].iter().position(|&b| b == b'\n') {
        let nl = i + p;
        match &buf[nl + 1..] {
            [b'\n', ..] => return Some(nl + 2),
            [b'\r', b'\n', ..] => return Some(nl + 3),
            _ => i = nl + 1,
        }
    }
    None
}

/// Splits a header section into its start line and fields. `strict` rejects any bad line;
/// otherwise bad lines are skipped (used only to salvage enough to answer with 400).
pub(crate) fn parse_head(head: &[u8], strict: bool) -> Result<(&str, Headers), ParseError> {
    let text = std::str::from_utf8(head).map_err(|_| ParseError::Utf8)?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let start = lines.next().ok_or(ParseError::StartLine)?;
    check_line(start)?;
    let mut headers = Headers::new();
    for line in lines.take_while(|l| !l.is_empty()) {
        match parse_field(&mut headers, line) {
            Ok(()) => {}
            Err(e) if strict => return Err(e),
            Err(ParseError::TooManyHeaders) => break,
            Err(_) => {}
        }
    }
    Ok((start, headers))
}

fn check_line(line: &str) -> Result<(), ParseError> {
    if line.len() > MAX_LINE {
        return Err(ParseError::LineTooLong);
    }
    if line.chars().any(|c| c.is_control() && c != '\t') {
        return Err(ParseError::HeaderLine);
    }
    Ok(())
}

fn parse_field(headers: &mut Headers, line: &str) -> Result<(), ParseError> {
    check_line(line)?;
    // RFC 3261 §7.3.1: a line starting with whitespace continues the previous field (LWS).
    if line.starts_with([' ', '\t']) {
        let len = headers
            .fold_into_last(line.trim())
            .ok_or(ParseError::HeaderLine)?;
        return if len > MAX_LINE {
            Err(ParseError::LineTooLong)
        } else {
            Ok(())
        };
    }
    let (name, value) = line.split_once(':').ok_or(ParseError::HeaderLine)?;
    let name = name.trim_end_matches([' ', '\t']);
    if !is_token(name) {
        return Err(ParseError::HeaderLine);
    }
    if headers.len() >= MAX_HEADERS {
        return Err(ParseError::TooManyHeaders);
    }
    headers.push_raw(expand_compact(name).to_owned(), value.trim().to_owned());
    Ok(())
}

/// Parses `Request-Line` or `Status-Line` (RFC 3261 §7.1, §7.2).
pub(crate) fn parse_start_line(line: &str) -> Result<StartLine, ParseError> {
    let mut parts = line.splitn(3, ' ');
    let (a, b, c) = (parts.next(), parts.next(), parts.next());
    let (Some(a), Some(b), Some(c)) = (a, b, c) else {
        return Err(ParseError::StartLine);
    };
    if is_sip_version_prefix(a) {
        check_version(a)?;
        if b.len() != 3 || !b.bytes().all(|d| d.is_ascii_digit()) {
            return Err(ParseError::Status);
        }
        let status: u16 = b.parse().map_err(|_| ParseError::Status)?;
        if !(100..=699).contains(&status) {
            return Err(ParseError::Status);
        }
        return Ok(StartLine::Response(status, c.to_owned()));
    }
    let method: Method = a.parse()?;
    check_version(c)?;
    Ok(StartLine::Request(method, Uri::parse(b)?))
}

fn check_version(v: &str) -> Result<(), ParseError> {
    if v.eq_ignore_ascii_case("SIP/2.0") {
        Ok(())
    } else if is_sip_version_prefix(v) {
        Err(ParseError::Version)
    } else {
        Err(ParseError::StartLine)
    }
}

/// Whether `s` starts with `SIP/`, any case (`get` because `s` may hold multi-byte text).
pub(crate) fn is_sip_version_prefix(s: &str) -> bool {
    s.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("SIP/"))
}

/// The Content-Length, if present: digits only, at most [`MAX_MESSAGE`], every copy equal.
pub(crate) fn content_length(headers: &Headers) -> Result<Option<usize>, ParseError> {
    let mut found = None;
    for v in headers.get_all("Content-Length") {
        if v.is_empty() || v.len() > 6 || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ParseError::ContentLength);
        }
        let n: usize = v.parse().map_err(|_| ParseError::ContentLength)?;
        if n > MAX_MESSAGE || found.is_some_and(|f| f != n) {
            return Err(ParseError::ContentLength);
        }
        found = Some(n);
    }
    Ok(found)
}

/// What the front of a stream buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// Not enough bytes yet.
    Incomplete,
    /// `len` bytes of CR/LF keepalive to discard; if `ping` it was the RFC 5626 §4.4.1
    /// double-CRLF ping, to be answered with [`PONG`].
    Keepalive {
        /// Bytes to discard.
        len: usize,
        /// Whether a pong is owed.
        ping: bool,
    },
    /// One whole message in the first `len` bytes.
    Message {
        /// Bytes to pass to `Message::parse`, then discard.
        len: usize,
    },
}

/// The RFC 5626 §4.4.1 pong: answer to a `\r\n\r\n` ping.
pub const PONG: &[u8] = b"\r\n";

/// Frames a stream (TCP/TLS) buffer; see [`frame_len`] for the short form.
pub fn frame(buf: &[u8]) -> Result<Frame, ParseError> {
    let n = leading_crlf(buf);
    if n > 0 {
        let run = &buf[..n];
        return Ok(if run.starts_with(b"\r\n\r\n") {
            Frame::Keepalive { len: 4, ping: true }
        } else if n == buf.len() && b"\r\n\r\n".starts_with(run) {
            Frame::Incomplete // maybe half a ping
        } else {
            Frame::Keepalive {
                len: n,
                ping: false,
            }
        });
    }
    let Some(end) = head_end(buf) else {
        return if buf.len() >= MAX_MESSAGE {
            Err(ParseError::TooLarge)
        } else {
            Ok(Frame::Incomplete)
        };
    };
    let (_, headers) = parse_head(&buf[..end], true)?;
    // RFC 3261 §18.3: Content-Length is mandatory on streams; a missing one means no body.
    let total = end + content_length(&headers)?.unwrap_or(0);
    if total > MAX_MESSAGE {
        return Err(ParseError::TooLarge);
    }
    Ok(if buf.len() >= total {
        Frame::Message { len: total }
    } else {
        Frame::Incomplete
    })
}

/// Stream framing: `Some(n)` once the first `n` bytes are complete: either a run of CR/LF
/// keepalive bytes (which `Message::parse` rejects as [`ParseError::Empty`]; use [`frame`] to
/// know whether a pong is owed) or one whole message. `None`: read more. An error means the
/// stream is unframeable and the connection should be closed.
pub fn frame_len(buf: &[u8]) -> Result<Option<usize>, ParseError> {
    Ok(match frame(buf)? {
        Frame::Incomplete => None,
        Frame::Keepalive { len, .. } | Frame::Message { len } => Some(len),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPT: &[u8] =
        b"OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nl: 4\r\n\r\nbody";

    #[test]
    fn frames_byte_by_byte() {
        for cut in 0..OPT.len() {
            assert_eq!(frame_len(&OPT[..cut]).unwrap(), None, "cut {cut}");
        }
        let mut two = OPT.to_vec();
        two.extend_from_slice(OPT);
        assert_eq!(frame_len(&two).unwrap(), Some(OPT.len()));
    }

    #[test]
    fn keepalives() {
        assert_eq!(
            frame(b"\r\n\r\nOPT").unwrap(),
            Frame::Keepalive { len: 4, ping: true }
        );
        assert_eq!(frame(b"\r\n").unwrap(), Frame::Incomplete);
        assert_eq!(
            frame(b"\r\nOPT").unwrap(),
            Frame::Keepalive {
                len: 2,
                ping: false
            }
        );
        assert_eq!(frame_len(b"\r\n\r\n").unwrap(), Some(4));
    }

    #[test]
    fn bad_framing() {
        let big = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 70000\r\n\r\n";
        assert_eq!(frame(big), Err(ParseError::ContentLength));
        let neg = b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n";
        assert_eq!(frame(neg), Err(ParseError::ContentLength));
        let two = b"OPTIONS sip:a@b SIP/2.0\r\nl: 1\r\nContent-Length: 2\r\n\r\n";
        assert_eq!(frame(two), Err(ParseError::ContentLength));
        assert_eq!(frame(&vec![b'A'; MAX_MESSAGE]), Err(ParseError::TooLarge));
    }

    #[test]
    fn multibyte_start_lines_do_not_panic() {
        for line in [
            "SIPé/2.0 200 OK",
            "INVITE sip:a@b SIPé/2.0",
            "ééé sip:a SIP/2.0",
        ] {
            assert!(parse_start_line(line).is_err(), "{line}");
        }
    }

    #[test]
    fn head_end_with_bare_lf() {
        assert_eq!(head_end(b"A\nB: c\n\nbody"), Some(8));
        assert_eq!(head_end(b"A\r\nB: c\r\n\r\nbody"), Some(11));
        assert_eq!(head_end(b"A\r\nB: c\r\n"), None);
    }
}
