//! Offer/answer rewriting between the legs (RFC 3264). Each function writes Ferry's own SDP for
//! one leg from the typed model of the other; m-lines stay aligned by index, one audio m-line is
//! accepted, the rest are kept with port 0 (RFC 3264 §6).

use std::net::IpAddr;

use super::SdpError;
use super::model::{PlainSession, WebRtcMedia, WebRtcSession};
use super::types::{Codec, CodecPolicy, Direction, LocalIce, MediaKind, PtMap, Setup};
use super::write::{AVP, SAVPF, WebRtcSection, Writer};

/// Browser calls out: the RTP/AVP offer to the trunk. Carries the allowed codecs the browser
/// offered with the browser's payload-type numbers, so that usually nothing is rewritten, and
/// the browser's direction (a `sendonly` re-offer puts the trunk on hold, RFC 3264 §8.4).
pub fn trunk_offer(
    browser: &WebRtcSession,
    policy: &CodecPolicy,
    addr: IpAddr,
    rtp_port: u16,
    session_id: u64,
    version: u64,
) -> Result<String, SdpError> {
    let mut w = Writer::session("ferry", session_id, version, addr);
    let mut accepted = false;
    for m in &browser.media {
        let codecs = if !accepted && usable(&m.kind, m.port) {
            select(&m.codecs, policy)
        } else {
            Vec::new()
        };
        if codecs.is_empty() {
            w.rejected(&m.kind, AVP, numeric_first(&m.formats));
            continue;
        }
        accepted = true;
        let ptime = m.ptime.or(g711_ptime(&codecs));
        w.plain_media(rtp_port, &codecs, m.direction, ptime);
    }
    if !accepted {
        return Err(SdpError::NoCommonCodec);
    }
    Ok(w.finish())
}

/// Browser calls out: the answer to the browser from the trunk's answer to [`trunk_offer`].
/// Codecs are the trunk's, in the trunk's order, written with the browser's payload types; the
/// [`PtMap`] rewrites where the trunk chose other numbers (e.g. telephone-event 126 vs 101).
pub fn browser_answer(
    browser: &WebRtcSession,
    trunk_answer: &PlainSession,
    local: &LocalIce,
    session_id: u64,
    version: u64,
) -> Result<(String, PtMap), SdpError> {
    let (offer, answer) = (browser.media.len(), trunk_answer.media.len());
    if offer != answer {
        return Err(SdpError::MediaMismatch { offer, answer }); // RFC 3264 §6
    }
    let mut map = PtMap::default();
    let sdp = webrtc_answer(browser, local, session_id, version, |i, b| {
        let t = &trunk_answer.media[i];
        if !usable(&t.kind, t.port) || t.kind != b.kind {
            return None;
        }
        let mut line_map = PtMap::default();
        let codecs = translate(&t.codecs, &b.codecs, |t_pt, b_pt| line_map.add(b_pt, t_pt));
        has_voice(&codecs).then(|| {
            map = line_map;
            let direction = Direction::answer_to(b.direction, t.direction);
            (codecs, direction, t.ptime)
        })
    })?;
    Ok((sdp, map))
}

/// Echo destination: Ferry answers the browser itself and reflects its media, so the answer
/// keeps the browser's own payload types and parameters for every codec the policy allows.
pub fn echo_answer(
    browser: &WebRtcSession,
    policy: &CodecPolicy,
    local: &LocalIce,
    session_id: u64,
    version: u64,
) -> Result<String, SdpError> {
    webrtc_answer(browser, local, session_id, version, |_, b| {
        let codecs = select(&b.codecs, policy);
        let direction = Direction::answer_to(b.direction, Direction::SendRecv);
        (!codecs.is_empty()).then_some((codecs, direction, b.ptime))
    })
}

/// Trunk calls in: the WebRTC offer to the browser. Codecs keep the trunk's numbers; mids are
/// the m-line indexes; the DTLS role is `actpass` whatever `local.setup` says (RFC 5763 §5).
pub fn browser_offer(
    trunk: &PlainSession,
    policy: &CodecPolicy,
    local: &LocalIce,
    session_id: u64,
    version: u64,
) -> Result<String, SdpError> {
    let first = local.candidates.first().ok_or(SdpError::NoLocalCandidate)?;
    let mut plan = Vec::with_capacity(trunk.media.len());
    let mut accepted = None;
    for (i, t) in trunk.media.iter().enumerate() {
        let codecs = if accepted.is_none() && usable(&t.kind, t.port) {
            select(&t.codecs, policy)
        } else {
            Vec::new()
        };
        if !codecs.is_empty() {
            accepted = Some(i.to_string());
        }
        plan.push(codecs);
    }
    let Some(bundle_mid) = accepted else {
        return Err(SdpError::NoCommonCodec);
    };
    let mut w = Writer::session("-", session_id, version, first.ip());
    w.ice_lite();
    w.bundle(&[bundle_mid.as_str()]);
    for (i, (t, codecs)) in trunk.media.iter().zip(&plan).enumerate() {
        let mid = i.to_string();
        if codecs.is_empty() {
            w.rejected(&t.kind, SAVPF, numeric_first(&t.formats));
            w.mid(Some(&mid));
            continue;
        }
        w.webrtc_media(&WebRtcSection {
            local,
            session_id,
            mid: Some(&mid),
            proto: SAVPF,
            setup: Setup::ActPass,
            direction: t.direction,
            codecs,
            ptime: t.ptime,
        });
    }
    Ok(w.finish())
}

/// Trunk calls in: the RTP/AVP answer to the trunk from the browser's answer to
/// [`browser_offer`], in the trunk's payload types, with the [`PtMap`] for any the browser
/// renumbered.
pub fn trunk_answer(
    trunk: &PlainSession,
    browser_answer: &WebRtcSession,
    addr: IpAddr,
    rtp_port: u16,
    session_id: u64,
    version: u64,
) -> Result<(String, PtMap), SdpError> {
    let (offer, answer) = (trunk.media.len(), browser_answer.media.len());
    if offer != answer {
        return Err(SdpError::MediaMismatch { offer, answer }); // RFC 3264 §6
    }
    if !matches!(browser_answer.setup, Setup::Active | Setup::Passive) {
        // RFC 5763 §5: an answer takes a role.
        return Err(SdpError::BadSetup(browser_answer.setup.as_str().into()));
    }
    let mut w = Writer::session("ferry", session_id, version, addr);
    let mut map = None;
    for (t, b) in trunk.media.iter().zip(&browser_answer.media) {
        let mut line_map = PtMap::default();
        let codecs = if map.is_none() && usable(&t.kind, t.port) && usable(&b.kind, b.port) {
            translate(&b.codecs, &t.codecs, |b_pt, t_pt| line_map.add(b_pt, t_pt))
        } else {
            Vec::new()
        };
        if !has_voice(&codecs) {
            w.rejected(&t.kind, &t.proto, numeric_first(&t.formats));
            continue;
        }
        if !b.rtcp_mux {
            return Err(SdpError::RtcpMuxRequired);
        }
        map = Some(line_map);
        let ptime = t.ptime.or(b.ptime).or(g711_ptime(&codecs));
        w.plain_media(
            rtp_port,
            &codecs,
            Direction::answer_to(t.direction, b.direction),
            ptime,
        );
    }
    let map = map.ok_or(SdpError::NoCommonCodec)?;
    Ok((w.finish(), map))
}

/// What an accepted answer m-line carries: codecs, direction, ptime.
type Accept = (Vec<Codec>, Direction, Option<u32>);

/// The WebRTC answer skeleton shared by [`browser_answer`] and [`echo_answer`]: `choose` decides
/// per m-line; only the first audio m-line it accepts is used.
fn webrtc_answer(
    browser: &WebRtcSession,
    local: &LocalIce,
    session_id: u64,
    version: u64,
    mut choose: impl FnMut(usize, &WebRtcMedia) -> Option<Accept>,
) -> Result<String, SdpError> {
    let first = local.candidates.first().ok_or(SdpError::NoLocalCandidate)?;
    let setup = Setup::answer_to(browser.setup, local.setup)?;
    let mut plan: Vec<Option<Accept>> = Vec::with_capacity(browser.media.len());
    for (i, b) in browser.media.iter().enumerate() {
        let open = plan.iter().all(Option::is_none) && usable(&b.kind, b.port);
        let choice = if open { choose(i, b) } else { None };
        if choice.is_some() && !b.rtcp_mux {
            return Err(SdpError::RtcpMuxRequired); // the engine has one port per call
        }
        plan.push(choice);
    }
    if plan.iter().all(Option::is_none) {
        return Err(SdpError::NoCommonCodec);
    }
    let mut w = Writer::session("-", session_id, version, first.ip());
    w.ice_lite();
    // RFC 8843 §7.3.1: the answer's group holds the accepted mids of the offer's group.
    let bundled: Vec<&str> = (browser.media.iter().zip(&plan))
        .filter(|(_, p)| p.is_some())
        .filter_map(|(b, _)| b.mid.as_deref())
        .filter(|mid| browser.bundle.iter().any(|g| g == mid))
        .collect();
    w.bundle(&bundled);
    for (b, choice) in browser.media.iter().zip(plan) {
        let Some((codecs, direction, ptime)) = choice else {
            w.rejected(
                &b.kind,
                &b.proto,
                b.formats.first().map_or("0", String::as_str),
            );
            w.mid(b.mid.as_deref());
            continue;
        };
        w.webrtc_media(&WebRtcSection {
            local,
            session_id,
            mid: b.mid.as_deref(),
            proto: &b.proto,
            setup,
            direction,
            codecs: &codecs,
            ptime,
        });
    }
    Ok(w.finish())
}

/// An m-line the engine can relay: audio with a port.
fn usable(kind: &MediaKind, port: u16) -> bool {
    *kind == MediaKind::Audio && port != 0
}

/// The policy-allowed subset of `offered`, in offer order. DTMF and comfort noise only at the
/// clock rate of a kept voice codec (RFC 4733 §2.1, RFC 3389 §4), and nothing without a voice.
fn select(offered: &[Codec], policy: &CodecPolicy) -> Vec<Codec> {
    let voice = |c: &Codec| !c.is_dtmf() && !c.is_cn();
    let allowed: Vec<&Codec> = offered.iter().filter(|c| policy.allows(c)).collect();
    let rates: Vec<u32> = allowed
        .iter()
        .filter(|c| voice(c))
        .map(|c| c.rate)
        .collect();
    allowed
        .into_iter()
        .filter(|c| voice(c) || rates.contains(&c.rate))
        .cloned()
        .collect()
}

/// `answer`'s codecs (in its order, with its parameters) renamed into the payload types `offer`
/// used for the same format (RFC 3264 §6.1); `pair(answer_pt, offer_pt)` sees each match.
fn translate(answer: &[Codec], offer: &[Codec], mut pair: impl FnMut(u8, u8)) -> Vec<Codec> {
    let mut out: Vec<Codec> = Vec::new();
    for a in answer {
        // Prefer the same number, then the first of that format.
        let same = offer.iter().find(|o| o.pt == a.pt && o.same_format(a));
        let Some(o) = same.or_else(|| offer.iter().find(|o| o.same_format(a))) else {
            continue; // not offered: the answerer must not add it (RFC 3264 §6.1)
        };
        if out.iter().any(|c| c.pt == o.pt) {
            continue;
        }
        pair(a.pt, o.pt);
        out.push(Codec {
            pt: o.pt,
            name: o.name.clone(),
            fmtp: a.fmtp.clone(),
            ..a.clone()
        });
    }
    // DTMF alone cannot carry a call.
    if has_voice(&out) { out } else { Vec::new() }
}

fn has_voice(codecs: &[Codec]) -> bool {
    codecs.iter().any(|c| !c.is_dtmf() && !c.is_cn())
}

/// 20 ms for G.711, RFC 3551 §4.5's default packetisation, written because some PBXes assume 30.
fn g711_ptime(codecs: &[Codec]) -> Option<u32> {
    let g711 = |c: &Codec| {
        ["PCMU", "PCMA"]
            .iter()
            .any(|n| c.name.eq_ignore_ascii_case(n))
    };
    codecs.iter().any(g711).then_some(20)
}

/// A format token to write on a rejected plain RTP m-line: a payload type, never a name like
/// `webrtc-datachannel` that an RTP/AVP parser would choke on.
fn numeric_first(formats: &[String]) -> &str {
    formats
        .iter()
        .find(|f| f.parse::<u8>().is_ok())
        .map_or("0", String::as_str)
}
