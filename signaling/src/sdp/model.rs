//! The typed model of one leg's session description, as [`parse`](super::parse) produces it
//! and the rewriting functions read it.

use std::net::{IpAddr, SocketAddr};

use super::types::{Codec, Direction, Fingerprint, MediaKind, Setup};

/// One m-line of a WebRTC (browser) session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebRtcMedia {
    /// `m=` media type.
    pub kind: MediaKind,
    /// `a=mid` (RFC 8843 §9.1), which BUNDLE and the answer refer to.
    pub mid: Option<String>,
    /// `m=` port; 0 means rejected or disabled.
    pub port: u16,
    /// `m=` transport profile as written, e.g. `UDP/TLS/RTP/SAVPF`.
    pub proto: String,
    /// `m=` format tokens as written (payload types, or `webrtc-datachannel`).
    pub formats: Vec<String>,
    /// The formats we could name (rtpmap or static), in the `m=` preference order.
    pub codecs: Vec<Codec>,
    /// Direction from the writer's view (media-level, else session-level, else sendrecv).
    pub direction: Direction,
    /// `a=rtcp-mux` (RFC 5761 §5.1.1).
    pub rtcp_mux: bool,
    /// `a=ssrc` ids (RFC 5576 §4.1), first occurrence order.
    pub ssrcs: Vec<u32>,
    /// `a=ptime` (RFC 4566 §6), when present and numeric.
    pub ptime: Option<u32>,
}

/// A parsed WebRTC offer or answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebRtcSession {
    /// `o=` sess-id.
    pub session_id: u64,
    /// `o=` sess-version; a re-offer increments it (RFC 3264 §8).
    pub version: u64,
    /// `a=ice-ufrag` of the first usable m-line (media level overrides session, RFC 8839 §5.4).
    pub ice_ufrag: String,
    /// `a=ice-pwd`, from the same place.
    pub ice_pwd: String,
    /// Session-level `a=ice-lite` (RFC 8839 §5.3).
    pub ice_lite: bool,
    /// Every distinct `a=fingerprint`, session and media level: the DTLS verifier accepts any.
    pub fingerprints: Vec<Fingerprint>,
    /// `a=setup` of the first usable m-line, else session level, else `active` (RFC 4145 §4).
    pub setup: Setup,
    /// Mids of the `a=group:BUNDLE` group (RFC 8843 §7.1), empty without one.
    pub bundle: Vec<String>,
    /// m-lines in order.
    pub media: Vec<WebRtcMedia>,
    /// UDP component-1 host and srflx candidates with literal addresses (mDNS names skipped).
    pub candidates: Vec<SocketAddr>,
}

/// One m-line of a plain RTP (trunk) session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainMedia {
    /// `m=` media type.
    pub kind: MediaKind,
    /// `m=` transport profile as written.
    pub proto: String,
    /// `m=` format tokens as written.
    pub formats: Vec<String>,
    /// Where to send RTP: media-level `c=`, else session-level.
    pub addr: IpAddr,
    /// RTP port; 0 = rejected.
    pub port: u16,
    /// RFC 3605 `a=rtcp`, else `None` (RTCP goes to port + 1).
    pub rtcp: Option<SocketAddr>,
    /// `a=rtcp-mux`.
    pub rtcp_mux: bool,
    /// Named formats in preference order.
    pub codecs: Vec<Codec>,
    /// Direction from the writer's view; a legacy `c=0.0.0.0` hold clears "receives".
    pub direction: Direction,
    /// `a=ptime`.
    pub ptime: Option<u32>,
}

/// A parsed plain RTP/AVP offer or answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainSession {
    /// `o=` unicast address (or the session `c=` when `o=` holds a host name).
    pub origin_addr: IpAddr,
    /// `o=` sess-id.
    pub session_id: u64,
    /// `o=` sess-version.
    pub version: u64,
    /// m-lines in order.
    pub media: Vec<PlainMedia>,
}
