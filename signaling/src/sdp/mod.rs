//! SDP offer/answer between WebRTC (UDP/TLS/RTP/SAVPF, ICE, DTLS) and plain RTP/AVP.
//!
//! Ferry is a B2BUA, so every SDP it writes is its own offer or answer (RFC 3264), built from a
//! typed model of what the other leg said; nothing is copied through verbatim. The flow:
//!
//! ```text
//! browser offer --parse_webrtc--> WebRtcSession --trunk_offer--> RTP/AVP offer --> trunk
//! trunk answer  --parse_plain---> PlainSession  --browser_answer--> SAVPF answer + PtMap
//! trunk offer   --parse_plain---> PlainSession  --browser_offer--> SAVPF offer --> browser
//! browser answer --parse_webrtc-> WebRtcSession --trunk_answer--> RTP/AVP answer + PtMap
//! browser offer --parse_webrtc--> WebRtcSession --echo_answer--> SAVPF answer (media reflected)
//! ```
//!
//! m-lines stay aligned by index across the two legs (a rejected one is kept with port 0,
//! RFC 3264 §6), so the n-th m-line of an answer always belongs to the n-th of the other leg.
//! The engine relays one audio stream per call untranscoded, so one audio m-line is accepted and
//! every other m-line is rejected; codecs are the intersection the [`CodecPolicy`] allows, and a
//! [`PtMap`] says which payload-type numbers to rewrite when the legs chose different ones.
//!
//! Sans-IO: session ids, versions, addresses and credentials are passed in; nothing here reads
//! a clock, a socket or a random source.
//!
//! Parsing: `rtc-sdp` (the webrtc-rs syntax layer, same line as our DTLS) splits the text into
//! lines and attributes; it tolerates LF or CRLF and non-RFC line order inside a media section.
//! [`parse`] maps that onto the typed model and does all semantic checks with typed errors. Input
//! is bounded before `rtc-sdp` sees it ([`MAX_SDP_LEN`], [`MAX_MEDIA`]). Writing is our own:
//! an answer is a short, fixed sequence of lines, and tests re-parse every output with `rtc-sdp`
//! and with [`parse`].

mod dtmf;
mod model;
mod negotiate;
mod parse;
mod types;
mod write;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_prop;
#[cfg(test)]
mod tests_reverse;

pub use dtmf::{browser_dtmf_pt, keep_browser_dtmf};
pub use model::{PlainMedia, PlainSession, WebRtcMedia, WebRtcSession};
pub use negotiate::{browser_answer, browser_offer, echo_answer, trunk_answer, trunk_offer};
pub use parse::{parse_plain, parse_webrtc};
pub use types::{Codec, CodecPolicy, Direction, Fingerprint, LocalIce, MediaKind, PtMap, Setup};

/// Largest SDP body accepted, in bytes. A browser offer is about 2 KiB; a full
/// audio+video+data offer with many candidates stays under 16 KiB.
pub const MAX_SDP_LEN: usize = 64 * 1024;
/// Most m-lines accepted in one SDP.
pub const MAX_MEDIA: usize = 32;
/// Most `a=fingerprint` lines kept; more is an attack, not a certificate chain.
pub const MAX_FINGERPRINTS: usize = 16;
/// Most remote candidates kept; the rest are ignored (we are ICE-lite and never check them).
pub const MAX_CANDIDATES: usize = 64;

/// Why an SDP could not be used. The glue answers a request with [`SdpError::sip_status`]
/// and puts the `Display` text in a `Warning: 399` header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// Not SDP, or a line we must understand is broken.
    #[error("malformed SDP: {0}")]
    Malformed(String),
    /// Larger than [`MAX_SDP_LEN`].
    #[error("SDP too large: {0} bytes")]
    TooLarge(usize),
    /// More m-lines than [`MAX_MEDIA`].
    #[error("too many m-lines: {0}")]
    TooManyMedia(usize),
    /// A WebRTC offer without `a=fingerprint` (RFC 5763 §5 requires one).
    #[error("no DTLS fingerprint")]
    NoFingerprint,
    /// A transport profile this side of the gateway does not speak (e.g. SDES `RTP/SAVP`).
    #[error("unsupported media profile {0}")]
    UnsupportedProfile(String),
    /// No `a=ice-ufrag`/`a=ice-pwd` at session or media level, or not valid ice-chars.
    #[error("no usable ICE credentials")]
    NoIceCredentials,
    /// No codec both sides and the policy allow.
    #[error("no common codec")]
    NoCommonCodec,
    /// `a=setup` not usable here (`holdconn`, or `actpass` in an answer).
    #[error("unusable DTLS role a=setup:{0}")]
    BadSetup(String),
    /// A WebRTC m-line without `a=rtcp-mux`; the engine has one port per call (RFC 5761 §5.1.1).
    #[error("rtcp-mux required")]
    RtcpMuxRequired,
    /// An answer whose m-lines do not match the offer's (RFC 3264 §6: same count, same order).
    #[error("answer has {answer} m-lines, offer had {offer}")]
    MediaMismatch {
        /// m-lines in the offer.
        offer: usize,
        /// m-lines in the answer.
        answer: usize,
    },
    /// [`LocalIce::candidates`] is empty: nothing to put in `c=` and `a=candidate`.
    #[error("no local candidate")]
    NoLocalCandidate,
}

impl SdpError {
    /// The SIP status to reject the request with: 400 for text we cannot read (RFC 3261
    /// §21.4.1), 413 for an oversized body (§21.4.11), 488 Not Acceptable Here for SDP we read
    /// but cannot accept (§21.4.26).
    pub fn sip_status(&self) -> u16 {
        match self {
            SdpError::Malformed(_) => 400,
            SdpError::TooLarge(_) => 413,
            _ => 488,
        }
    }
}
