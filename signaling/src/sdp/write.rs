//! Writing SDP: a session header and three kinds of m-section (WebRTC, plain, rejected), each a
//! fixed sequence of lines ending in CRLF (RFC 8866 §5). Line order follows RFC 8866 §5:
//! `v o s c t a*`, then per media `m c? a*`.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use super::types::{Codec, Direction, LocalIce, MediaKind, Setup};

/// The WebRTC transport profile we answer and offer with (RFC 5764 §8, JSEP §5.1.2).
pub(crate) const SAVPF: &str = "UDP/TLS/RTP/SAVPF";
/// The plain RTP profile toward trunks (RFC 3551).
pub(crate) const AVP: &str = "RTP/AVP";

/// An SDP being written.
pub(crate) struct Writer {
    out: String,
}

/// `IP4` or `IP6` for `c=` and `o=` (RFC 8866 §5.7).
fn family(addr: IpAddr) -> &'static str {
    if addr.is_ipv4() { "IP4" } else { "IP6" }
}

impl Writer {
    /// `v=`, `o=`, `s=-`, a session-level `c=` and `t=0 0` (RFC 8866 §5.1-5.9; JSEP §5.2.1
    /// writes `s=-` and `t=0 0`).
    pub(crate) fn session(user: &str, id: u64, version: u64, addr: IpAddr) -> Self {
        let mut w = Writer {
            out: String::with_capacity(1024),
        };
        w.line(format_args!("v=0"));
        w.line(format_args!(
            "o={user} {id} {version} IN {} {addr}",
            family(addr)
        ));
        w.line(format_args!("s=-"));
        w.line(format_args!("c=IN {} {addr}", family(addr)));
        w.line(format_args!("t=0 0"));
        w
    }

    pub(crate) fn line(&mut self, l: std::fmt::Arguments<'_>) {
        // Writing into a String cannot fail.
        let _ = self.out.write_fmt(l);
        self.out.push_str("\r\n");
    }

    /// Session-level ICE-lite marker (RFC 8839 §5.3; Chromium wants it at session level).
    pub(crate) fn ice_lite(&mut self) {
        self.line(format_args!("a=ice-lite"));
    }

    /// `a=group:BUNDLE` with the accepted mids (RFC 8843 §7.1); nothing when none.
    pub(crate) fn bundle(&mut self, mids: &[&str]) {
        if !mids.is_empty() {
            self.line(format_args!("a=group:BUNDLE {}", mids.join(" ")));
        }
    }

    /// A rejected m-line: port 0, one format, and the mid so the peer can match it
    /// (RFC 3264 §6: kept in place; JSEP §5.3.1 keeps `a=mid`).
    pub(crate) fn rejected(&mut self, kind: &MediaKind, proto: &str, fmt: &str) {
        self.line(format_args!("m={} 0 {proto} {fmt}", kind.as_str()));
    }

    /// `a=mid` (RFC 8843 §9.1).
    pub(crate) fn mid(&mut self, mid: Option<&str>) {
        if let Some(mid) = mid {
            self.line(format_args!("a=mid:{mid}"));
        }
    }

    /// An accepted WebRTC m-section on the engine's browser-facing port: ICE-lite credentials,
    /// DTLS fingerprint and role, host candidates, rtcp-mux, direction and codecs.
    pub(crate) fn webrtc_media(&mut self, m: &WebRtcSection<'_>) {
        let port = m.local.candidates.first().map_or(9, SocketAddr::port);
        self.m_line(&MediaKind::Audio, port, m.proto, m.codecs);
        self.mid(m.mid);
        self.line(format_args!("a=ice-ufrag:{}", m.local.ufrag));
        self.line(format_args!("a=ice-pwd:{}", m.local.pwd));
        self.line(format_args!("a=fingerprint:{}", m.local.fingerprint)); // RFC 8122 §5
        self.line(format_args!("a=setup:{}", m.setup.as_str())); // RFC 5763 §5
        for (i, c) in m.local.candidates.iter().enumerate() {
            // RFC 8445 §5.1.2.1: type preference 126 (host), local preference by order,
            // component 1.
            let local_pref = 65535 - i.min(65535) as u32;
            let prio = (126 << 24) | (local_pref << 8) | 255;
            let ip = c.ip();
            self.line(format_args!(
                "a=candidate:{} 1 udp {prio} {ip} {} typ host",
                i + 1,
                c.port()
            ));
        }
        self.line(format_args!("a=end-of-candidates")); // RFC 8840 §8.2: ICE-lite has them all
        self.line(format_args!("a=rtcp-mux")); // RFC 5761 §5.1.1
        self.line(format_args!("a={}", m.direction.as_str()));
        // RFC 8830 §2: one stream per call; ids derived from the session id, not random.
        let (sid, track) = (m.session_id, m.mid.unwrap_or("0"));
        self.line(format_args!("a=msid:ferry-{sid} ferry-{sid}-{track}"));
        self.codecs(m.codecs, m.ptime);
    }

    /// An accepted plain RTP m-section (RTCP on port + 1, RFC 3550 §11).
    pub(crate) fn plain_media(
        &mut self,
        port: u16,
        codecs: &[Codec],
        direction: Direction,
        ptime: Option<u32>,
    ) {
        self.m_line(&MediaKind::Audio, port, AVP, codecs);
        self.codecs(codecs, ptime);
        self.line(format_args!("a={}", direction.as_str()));
    }

    fn m_line(&mut self, kind: &MediaKind, port: u16, proto: &str, codecs: &[Codec]) {
        let mut pts = String::new();
        for c in codecs {
            let _ = write!(pts, " {}", c.pt);
        }
        self.line(format_args!("m={} {port} {proto}{pts}", kind.as_str()));
    }

    /// `a=rtpmap` for every format (also static ones, which many PBXes expect), `a=fmtp`
    /// verbatim, and `a=ptime` (RFC 4566 §6).
    fn codecs(&mut self, codecs: &[Codec], ptime: Option<u32>) {
        for c in codecs {
            self.line(format_args!("a=rtpmap:{} {}", c.pt, c.rtpmap()));
            if let Some(f) = &c.fmtp {
                self.line(format_args!("a=fmtp:{} {f}", c.pt));
            }
        }
        if let Some(p) = ptime {
            self.line(format_args!("a=ptime:{p}"));
        }
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }
}

/// What one accepted WebRTC m-section says.
pub(crate) struct WebRtcSection<'a> {
    pub(crate) local: &'a LocalIce,
    pub(crate) session_id: u64,
    pub(crate) mid: Option<&'a str>,
    pub(crate) proto: &'a str,
    pub(crate) setup: Setup,
    pub(crate) direction: Direction,
    pub(crate) codecs: &'a [Codec],
    pub(crate) ptime: Option<u32>,
}
