//! From SDP text to the typed model: [`parse_webrtc`] for the browser leg, [`parse_plain`] for
//! the trunk leg. `rtc-sdp` does the line syntax; everything semantic is checked here.

use std::io::Cursor;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use rtc_sdp::description::common::Attribute;
use rtc_sdp::{MediaDescription, SessionDescription};

use super::model::{PlainMedia, PlainSession, WebRtcMedia, WebRtcSession};
use super::types::{Codec, Direction, Fingerprint, MediaKind, Setup};
use super::{MAX_CANDIDATES, MAX_FINGERPRINTS, MAX_MEDIA, MAX_SDP_LEN, SdpError};

/// Parses a browser's SDP: `UDP/TLS/RTP/SAVPF` or `UDP/TLS/RTP/SAVP` for audio and video,
/// with ICE credentials and at least one DTLS fingerprint.
pub fn parse_webrtc(sdp: &str) -> Result<WebRtcSession, SdpError> {
    let desc = syntax(sdp)?;
    let session = Attrs(&desc.attributes);
    let mut media = Vec::with_capacity(desc.media_descriptions.len());
    let (mut fingerprints, mut candidates) = (Vec::new(), Vec::new());
    for fp in session.all("fingerprint") {
        push_fingerprint(&mut fingerprints, fp)?;
    }
    let mut creds = None;
    let mut setup = None;
    for md in &desc.media_descriptions {
        let m = webrtc_media(md, &session)?;
        let attrs = Attrs(&md.attributes);
        for fp in attrs.all("fingerprint") {
            push_fingerprint(&mut fingerprints, fp)?;
        }
        for c in attrs.all("candidate").chain(session.all("candidate")) {
            if let Some(addr) = candidate(c)
                && candidates.len() < MAX_CANDIDATES
                && !candidates.contains(&addr)
            {
                candidates.push(addr);
            }
        }
        if m.port != 0 && creds.is_none() {
            // RFC 8839 §5.4: media-level credentials override session-level ones.
            let ufrag = attrs.get("ice-ufrag").or(session.get("ice-ufrag"));
            let pwd = attrs.get("ice-pwd").or(session.get("ice-pwd"));
            creds = ufrag.zip(pwd);
            setup = attrs.get("setup");
        }
        media.push(m);
    }
    let (ufrag, pwd) = creds
        .or(session.get("ice-ufrag").zip(session.get("ice-pwd")))
        .ok_or(SdpError::NoIceCredentials)?;
    if !ice_chars(ufrag, 4) || !ice_chars(pwd, 22) {
        return Err(SdpError::NoIceCredentials);
    }
    if fingerprints.is_empty() {
        return Err(SdpError::NoFingerprint); // RFC 5763 §5
    }
    let setup = match setup.or(session.get("setup")) {
        Some(s) => Setup::parse(s)?,
        None => Setup::Active, // RFC 4145 §4
    };
    Ok(WebRtcSession {
        session_id: desc.origin.session_id,
        version: desc.origin.session_version,
        ice_ufrag: ufrag.to_owned(),
        ice_pwd: pwd.to_owned(),
        ice_lite: session.has("ice-lite"),
        fingerprints,
        setup,
        bundle: bundle_group(&session),
        media,
        candidates,
    })
}

/// Parses a trunk's SDP: `RTP/AVP` or `RTP/AVPF`, `c=` at session or media level.
/// Encrypted profiles (SDES `RTP/SAVP`, DTLS) are [`SdpError::UnsupportedProfile`] for now.
pub fn parse_plain(sdp: &str) -> Result<PlainSession, SdpError> {
    let desc = syntax(sdp)?;
    let session = Attrs(&desc.attributes);
    let session_addr = desc
        .connection_information
        .as_ref()
        .map(connection)
        .transpose()?;
    let mut media = Vec::with_capacity(desc.media_descriptions.len());
    for md in &desc.media_descriptions {
        media.push(plain_media(md, &session, session_addr)?);
    }
    let origin_addr = match desc.origin.unicast_address.parse::<IpAddr>() {
        Ok(a) => a,
        // Some PBXes put a host name in o=; it is informational only (RFC 4566 §5.2).
        Err(_) => session_addr
            .or(media.first().map(|m| m.addr))
            .ok_or_else(|| {
                SdpError::Malformed(format!("o= address {}", desc.origin.unicast_address))
            })?,
    };
    Ok(PlainSession {
        origin_addr,
        session_id: desc.origin.session_id,
        version: desc.origin.session_version,
        media,
    })
}

/// Bounds the input, then lets `rtc-sdp` split it into lines and attributes.
fn syntax(sdp: &str) -> Result<SessionDescription, SdpError> {
    if sdp.len() > MAX_SDP_LEN {
        return Err(SdpError::TooLarge(sdp.len()));
    }
    let m_lines = sdp
        .split(['\n', '\r'])
        .filter(|l| l.starts_with("m="))
        .count();
    if m_lines > MAX_MEDIA {
        return Err(SdpError::TooManyMedia(m_lines));
    }
    SessionDescription::unmarshal(&mut Cursor::new(sdp))
        .map_err(|e| SdpError::Malformed(e.to_string()))
}

fn webrtc_media(md: &MediaDescription, session: &Attrs<'_>) -> Result<WebRtcMedia, SdpError> {
    let attrs = Attrs(&md.attributes);
    let kind = MediaKind::parse(&md.media_name.media);
    let proto = md.media_name.protos.join("/");
    let port = port(md)?;
    let is_rtp = matches!(kind, MediaKind::Audio | MediaKind::Video);
    // RFC 5764 §8 / JSEP §5.1.2: DTLS-SRTP profiles only; data channels are rejected later.
    if is_rtp && port != 0 && !matches!(proto.as_str(), "UDP/TLS/RTP/SAVPF" | "UDP/TLS/RTP/SAVP") {
        return Err(SdpError::UnsupportedProfile(proto));
    }
    Ok(WebRtcMedia {
        codecs: if is_rtp {
            codecs(md, &attrs)?
        } else {
            Vec::new()
        },
        kind,
        mid: attrs.get("mid").map(mid).transpose()?,
        port,
        proto,
        formats: md.media_name.formats.clone(),
        direction: direction(&attrs, session),
        rtcp_mux: attrs.has("rtcp-mux"),
        ssrcs: ssrcs(&attrs),
        ptime: attrs.get("ptime").and_then(|p| p.trim().parse().ok()),
    })
}

fn plain_media(
    md: &MediaDescription,
    session: &Attrs<'_>,
    session_addr: Option<IpAddr>,
) -> Result<PlainMedia, SdpError> {
    let attrs = Attrs(&md.attributes);
    let kind = MediaKind::parse(&md.media_name.media);
    let proto = md.media_name.protos.join("/");
    let port = port(md)?;
    let is_rtp = matches!(kind, MediaKind::Audio | MediaKind::Video);
    if is_rtp && port != 0 && !matches!(proto.as_str(), "RTP/AVP" | "RTP/AVPF") {
        return Err(SdpError::UnsupportedProfile(proto));
    }
    let media_addr = md
        .connection_information
        .as_ref()
        .map(connection)
        .transpose()?;
    let addr = match media_addr.or(session_addr) {
        Some(a) => a,
        None if port == 0 => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        None => return Err(SdpError::Malformed("no c= line".into())), // RFC 4566 §5.7
    };
    let mut direction = direction(&attrs, session);
    if addr.is_unspecified() {
        // RFC 3264 §8.4: a 0.0.0.0 connection address is the legacy hold: do not send to it.
        direction = if direction.sends() {
            Direction::SendOnly
        } else {
            Direction::Inactive
        };
    }
    Ok(PlainMedia {
        codecs: if is_rtp {
            codecs(md, &attrs)?
        } else {
            Vec::new()
        },
        rtcp: attrs.get("rtcp").map(|v| rtcp_attr(v, addr)).transpose()?,
        kind,
        proto,
        formats: md.media_name.formats.clone(),
        addr,
        port,
        rtcp_mux: attrs.has("rtcp-mux"),
        direction,
        ptime: attrs.get("ptime").and_then(|p| p.trim().parse().ok()),
    })
}

/// RFC 8843 §9.1: a mid is a token (RFC 8866 §9); it is echoed into the answer and the group.
fn mid(v: &str) -> Result<String, SdpError> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`{|}~".contains(&b);
    if v.is_empty() || v.len() > 64 || !v.bytes().all(token) {
        return Err(SdpError::Malformed(format!("a=mid:{v}")));
    }
    Ok(v.to_owned())
}

fn port(md: &MediaDescription) -> Result<u16, SdpError> {
    u16::try_from(md.media_name.port.value)
        .map_err(|_| SdpError::Malformed(format!("m= port {}", md.media_name.port.value)))
}

/// The formats of an RTP m-line, in `m=` order (RFC 3264 §5.1: preference order).
fn codecs(md: &MediaDescription, attrs: &Attrs<'_>) -> Result<Vec<Codec>, SdpError> {
    let mut out = Vec::with_capacity(md.media_name.formats.len());
    for f in &md.media_name.formats {
        let pt: u8 = f
            .parse()
            .ok()
            .filter(|pt| *pt < 128)
            .ok_or_else(|| SdpError::Malformed(format!("payload type {f}")))?;
        let mapped = attrs
            .all("rtpmap")
            .find_map(|v| rtpmap(v, pt).transpose())
            .transpose()?;
        // RFC 3551 §6: a static payload type may come without a=rtpmap.
        let Some(mut codec) = mapped.or_else(|| Codec::from_static_pt(pt)) else {
            continue; // a dynamic type we cannot name is unusable, not fatal
        };
        codec.fmtp = attrs.all("fmtp").find_map(|v| {
            let (p, params) = v.trim().split_once(' ')?;
            (p.parse::<u8>().ok()? == pt).then(|| params.trim().to_owned())
        });
        if !out.iter().any(|c: &Codec| c.pt == pt) {
            out.push(codec);
        }
    }
    Ok(out)
}

/// `a=rtpmap:<pt> <name>/<rate>[/<channels>]` (RFC 4566 §6), if it is for `pt`.
fn rtpmap(v: &str, pt: u8) -> Result<Option<Codec>, SdpError> {
    let bad = || SdpError::Malformed(format!("a=rtpmap:{v}"));
    let (p, enc) = v.trim().split_once(' ').ok_or_else(bad)?;
    if p.parse::<u8>().map_err(|_| bad())? != pt {
        return Ok(None);
    }
    let mut parts = enc.trim().split('/');
    let name = parts
        .next()
        .filter(|n| !n.is_empty())
        .ok_or_else(bad)?
        .to_owned();
    let rate = parts.next().and_then(|r| r.parse().ok()).ok_or_else(bad)?;
    let channels = parts
        .next()
        .map(|c| c.parse().map_err(|_| bad()))
        .transpose()?;
    if parts.next().is_some() {
        return Err(bad());
    }
    Ok(Some(Codec {
        pt,
        name,
        rate,
        channels,
        fmtp: None,
    }))
}

fn direction(attrs: &Attrs<'_>, session: &Attrs<'_>) -> Direction {
    // RFC 4566 §6: a media-level direction overrides the session-level one.
    let find = |a: &Attrs<'_>| a.0.iter().find_map(|a| Direction::from_attr(&a.key));
    find(attrs)
        .or_else(|| find(session))
        .unwrap_or(Direction::SendRecv)
}

fn ssrcs(attrs: &Attrs<'_>) -> Vec<u32> {
    let mut out = Vec::new();
    for v in attrs.all("ssrc") {
        if let Some(id) = v.split(' ').next().and_then(|s| s.parse().ok())
            && !out.contains(&id)
        {
            out.push(id);
        }
    }
    out
}

/// `c=IN IP4|IP6 <addr>` (RFC 4566 §5.7); host names are refused, we do not resolve.
fn connection(c: &rtc_sdp::description::common::ConnectionInformation) -> Result<IpAddr, SdpError> {
    let bad = || SdpError::Malformed(format!("c={c}"));
    let text = c.address.as_ref().ok_or_else(bad)?.address.as_str();
    let addr: IpAddr = text.parse().map_err(|_| bad())?;
    match (c.address_type.as_str(), addr) {
        ("IP4", IpAddr::V4(_)) | ("IP6", IpAddr::V6(_)) => Ok(addr),
        _ => Err(bad()),
    }
}

/// `a=rtcp:<port> [IN IP4|IP6 <addr>]` (RFC 3605 §2.1).
fn rtcp_attr(v: &str, media_addr: IpAddr) -> Result<SocketAddr, SdpError> {
    let bad = || SdpError::Malformed(format!("a=rtcp:{v}"));
    let mut f = v.split_whitespace();
    let port = f.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let addr = match (f.next(), f.next(), f.next()) {
        (Some("IN"), Some("IP4" | "IP6"), Some(a)) => a.parse().map_err(|_| bad())?,
        (None, ..) => media_addr,
        _ => return Err(bad()),
    };
    Ok(SocketAddr::new(addr, port))
}

/// A UDP, component-1 host or srflx candidate with a literal address (RFC 8839 §5.1).
fn candidate(v: &str) -> Option<SocketAddr> {
    let f: Vec<&str> = v.split_whitespace().take(8).collect();
    let [_foundation, "1", transport, _prio, addr, port, "typ", typ] = f[..] else {
        return None;
    };
    let usable = transport.eq_ignore_ascii_case("udp") && matches!(typ, "host" | "srflx");
    // Chromium hides host addresses behind mDNS names (`<uuid>.local`); those fail to parse.
    if !usable {
        return None;
    }
    Some(SocketAddr::new(addr.parse().ok()?, port.parse().ok()?))
}

fn push_fingerprint(all: &mut Vec<Fingerprint>, v: &str) -> Result<(), SdpError> {
    let fp = Fingerprint::parse(v)?;
    if !all.contains(&fp) {
        if all.len() == MAX_FINGERPRINTS {
            return Err(SdpError::Malformed("too many fingerprints".into()));
        }
        all.push(fp);
    }
    Ok(())
}

/// RFC 8839 §5.4: ice-char = ALPHA / DIGIT / "+" / "/", at least `min` and at most 256.
fn ice_chars(s: &str, min: usize) -> bool {
    (min..=256).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

fn bundle_group(session: &Attrs<'_>) -> Vec<String> {
    session
        .all("group")
        .find_map(|g| g.strip_prefix("BUNDLE"))
        .map(|mids| mids.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Attribute lookups over one level.
struct Attrs<'a>(&'a [Attribute]);

impl<'a> Attrs<'a> {
    fn all<'k>(&self, key: &'k str) -> impl Iterator<Item = &'a str> + use<'a, 'k> {
        let attrs: &'a [Attribute] = self.0;
        attrs
            .iter()
            .filter(move |a| a.key == key)
            .filter_map(|a| a.value.as_deref())
    }

    fn get(&self, key: &str) -> Option<&'a str> {
        self.all(key).next().map(str::trim)
    }

    fn has(&self, key: &str) -> bool {
        self.0.iter().any(|a| a.key == key)
    }
}
