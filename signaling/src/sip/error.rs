//! Typed parse errors, and the status code each one is answered with.

use super::limits::{MAX_HEADERS, MAX_LINE, MAX_MESSAGE};

/// Why bytes are not a SIP message Ferry accepts.
///
/// [`ParseError::bad_request`] turns one into the response owed to a salvageable request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Only CR/LF bytes (a keepalive), or nothing at all.
    #[error("empty message")]
    Empty,
    /// The message is larger than [`MAX_MESSAGE`].
    #[error("message larger than {MAX_MESSAGE} bytes")]
    TooLarge,
    /// More than [`MAX_HEADERS`] header fields.
    #[error("more than {MAX_HEADERS} header fields")]
    TooManyHeaders,
    /// A header line longer than [`MAX_LINE`] (after unfolding).
    #[error("header line longer than {MAX_LINE} bytes")]
    LineTooLong,
    /// No empty line ends the header section.
    #[error("header section not terminated")]
    Incomplete,
    /// The header section is not UTF-8.
    #[error("header section is not UTF-8")]
    Utf8,
    /// The request or status line is malformed.
    #[error("malformed start line")]
    StartLine,
    /// The SIP version is not SIP/2.0.
    #[error("SIP version not supported")]
    Version,
    /// A method is not a token.
    #[error("malformed method")]
    Method,
    /// A status code outside 100..=699.
    #[error("malformed status code")]
    Status,
    /// A header line without `name:` or with control characters.
    #[error("malformed header line")]
    HeaderLine,
    /// Content-Length is not a number, too large, or repeated with different values.
    #[error("invalid Content-Length")]
    ContentLength,
    /// The datagram holds fewer body bytes than Content-Length says (RFC 3261 §18.3).
    #[error("body shorter than Content-Length")]
    BodyTruncated,
    /// A mandatory header is missing (RFC 3261 §8.1.1).
    #[error("missing {0} header")]
    Missing(&'static str),
    /// A header field value does not parse.
    #[error("invalid {0} header")]
    Invalid(&'static str),
    /// CSeq method differs from the request method (RFC 3261 §8.1.1.5).
    #[error("CSeq method does not match request method")]
    CSeqMethod,
    /// A URI is malformed.
    #[error("malformed URI")]
    Uri,
    /// A URI scheme other than sip/sips (answered with 416, RFC 3261 §8.2.2.1).
    #[error("unsupported URI scheme")]
    UriScheme,
    /// A host or host:port is malformed.
    #[error("malformed host")]
    Host,
    /// A `;name=value` parameter is malformed.
    #[error("malformed parameter")]
    Param,
    /// A Digest challenge or credentials header is malformed.
    #[error("malformed digest header")]
    Digest,
    /// A Digest algorithm Ferry does not implement.
    #[error("unsupported digest algorithm")]
    DigestAlgorithm,
}

impl ParseError {
    /// The status code that answers a request rejected for this reason.
    pub fn status(&self) -> u16 {
        match self {
            ParseError::TooLarge => 513,  // RFC 3261 §21.5.14
            ParseError::Version => 505,   // RFC 3261 §8.2.6 / §21.5.15
            ParseError::UriScheme => 416, // RFC 3261 §8.2.2.1
            _ => 400,
        }
    }

    /// The reason phrase: the standard one with what was wrong in parentheses.
    pub fn reason(&self) -> String {
        let base = match self.status() {
            513 => "Message Too Large",
            505 => "Version Not Supported",
            416 => "Unsupported URI Scheme",
            _ => "Bad Request",
        };
        format!("{base} ({self})")
    }
}
