//! Offer/answer with the real fixtures: Chromium 156, JsSIP and SIP.js INVITE bodies, an
//! aiortc answer and the sipp G.711 answer. Outputs are checked line by line and re-parsed by
//! `rtc-sdp` and by our own parser.

use std::net::{IpAddr, SocketAddr};

use super::*;

pub(super) const CHROMIUM: &str = include_str!("../../../tests/fixtures/chromium-offer.sdp");
const AIORTC: &str = include_str!("../../../tests/fixtures/aiortc-answer.sdp");
const JSSIP: &str = include_str!("../../../tests/fixtures/jssip-invite.txt");
const SIPJS: &str = include_str!("../../../tests/fixtures/sipjs-invite.txt");
const SIPP: &str = include_str!("../../../tests/fixtures/sipp-uas-echo-g711.xml");

/// The body after the blank line of a SIP message (CRLF or LF).
fn body(msg: &str) -> &str {
    msg.split_once("\r\n\r\n")
        .or(msg.split_once("\n\n"))
        .unwrap()
        .1
}

/// The SDP of sipp's 200 OK, with sipp's keywords filled in as `-mi 127.0.0.1 -mp 6000` would.
pub(super) fn sipp_answer() -> String {
    let ok = SIPP.split("SIP/2.0 200 OK").nth(1).unwrap();
    let sdp = ok.split_once("Content-Length: [len]").unwrap().1;
    let sdp = sdp.split("]]>").next().unwrap();
    let mut out = String::new();
    for line in sdp.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let line = line
            .replace("[local_ip_type]", "4")
            .replace("[media_ip_type]", "4")
            .replace("[local_ip]", "127.0.0.1")
            .replace("[media_ip]", "127.0.0.1")
            .replace("[media_port]", "6000");
        out.push_str(&line);
        out.push_str("\r\n");
    }
    out
}

pub(super) fn local_ice(addr: &str) -> LocalIce {
    LocalIce {
        ufrag: "FerryUfrag".into(),
        pwd: "FerryPasswordFerryPassword".into(),
        fingerprint: Fingerprint {
            algorithm: "sha-256".into(),
            value: (0xe0..=0xff).collect(),
        },
        setup: Setup::Passive,
        candidates: vec![addr.parse().unwrap()],
    }
}

fn trunk_addr() -> IpAddr {
    "192.0.2.10".parse().unwrap()
}

fn lines(sdp: &str) -> Vec<&str> {
    assert!(sdp.ends_with("\r\n"), "CRLF line ends (RFC 8866 §5)");
    sdp.split("\r\n").filter(|l| !l.is_empty()).collect()
}

/// The independent parser accepts it.
pub(super) fn rtc_sdp_accepts(sdp: &str) {
    let mut cursor = std::io::Cursor::new(sdp.as_bytes());
    if let Err(e) = rtc_sdp::SessionDescription::unmarshal(&mut cursor) {
        panic!("rtc-sdp rejects our SDP: {e}\n{sdp}");
    }
}

fn has(l: &[&str], line: &str) {
    assert!(l.contains(&line), "missing {line:?} in\n{}", l.join("\n"));
}

fn pts(m: &[Codec]) -> Vec<u8> {
    m.iter().map(|c| c.pt).collect()
}

#[test]
fn parses_chromium_offer() {
    let s = parse_webrtc(CHROMIUM).unwrap();
    assert_eq!(
        (s.ice_ufrag.as_str(), s.ice_pwd.as_str()),
        ("HlWh", "avtOEZIIrh2VCwWbRjGtr94q")
    );
    assert!(!s.ice_lite);
    assert_eq!(s.setup, Setup::ActPass);
    assert_eq!(s.bundle, ["0"]);
    assert_eq!(s.fingerprints.len(), 1);
    assert_eq!(s.fingerprints[0].algorithm, "sha-256");
    assert_eq!(&s.fingerprints[0].value[..3], &[0xff, 0xfe, 0x38]);
    assert_eq!(
        s.candidates,
        ["127.0.0.1:34390".parse::<SocketAddr>().unwrap()]
    );
    let m = &s.media[0];
    assert_eq!(
        (m.kind.clone(), m.mid.as_deref(), m.port),
        (MediaKind::Audio, Some("0"), 34390)
    );
    assert_eq!(pts(&m.codecs), [111, 63, 9, 0, 8, 13, 110, 126]);
    assert_eq!(m.codecs[0].channels, Some(2));
    assert_eq!(
        m.codecs[0].fmtp.as_deref(),
        Some("minptime=10;useinbandfec=1")
    );
    assert_eq!(m.codecs[7].rtpmap(), "telephone-event/8000");
    assert!(m.rtcp_mux);
    assert_eq!(m.direction, Direction::SendRecv);
    assert_eq!(m.ssrcs, [2785849472]);
}

#[test]
fn parses_jssip_crlf_and_sipjs_lf_bodies() {
    for (msg, ufrag) in [(JSSIP, "B/Wg"), (SIPJS, "ap/i")] {
        let s = parse_webrtc(body(msg)).unwrap();
        assert_eq!(s.ice_ufrag, ufrag);
        // The TCP candidate (port 9, tcptype active) is not one the engine can use.
        assert_eq!(s.candidates.len(), 1);
        assert_eq!(pts(&s.media[0].codecs), [111, 63, 9, 0, 8, 13, 110, 126]);
    }
}

#[test]
fn keeps_every_aiortc_fingerprint() {
    let s = parse_webrtc(AIORTC).unwrap();
    let fps: Vec<(&str, usize)> = s
        .fingerprints
        .iter()
        .map(|f| (f.algorithm.as_str(), f.value.len()))
        .collect();
    assert_eq!(fps, [("sha-256", 32), ("sha-384", 48), ("sha-512", 64)]);
    assert_eq!(s.setup, Setup::Active);
    assert!(
        s.fingerprints[0]
            .to_string()
            .starts_with("sha-256 C4:88:56:EB:")
    );
}

#[test]
fn parses_sipp_answer() {
    let s = parse_plain(&sipp_answer()).unwrap();
    assert_eq!(s.origin_addr, "127.0.0.1".parse::<IpAddr>().unwrap());
    let m = &s.media[0];
    assert_eq!(
        (m.addr, m.port, m.rtcp, m.rtcp_mux),
        (s.origin_addr, 6000, None, false)
    );
    assert_eq!(pts(&m.codecs), [0, 8, 101]);
    assert_eq!(m.codecs[2].fmtp.as_deref(), Some("0-16"));
    assert_eq!((m.ptime, m.direction), (Some(20), Direction::SendRecv));
}

#[test]
fn trunk_offer_from_each_browser_offer() {
    for sdp in [CHROMIUM, body(JSSIP), body(SIPJS)] {
        let b = parse_webrtc(sdp).unwrap();
        let offer = trunk_offer(&b, &CodecPolicy::default(), trunk_addr(), 30000, 42, 1).unwrap();
        let l = lines(&offer);
        assert_eq!(
            l[..5],
            [
                "v=0",
                "o=ferry 42 1 IN IP4 192.0.2.10",
                "s=-",
                "c=IN IP4 192.0.2.10",
                "t=0 0"
            ]
        );
        has(&l, "m=audio 30000 RTP/AVP 0 8 126");
        has(&l, "a=rtpmap:0 PCMU/8000");
        has(&l, "a=rtpmap:8 PCMA/8000");
        has(&l, "a=rtpmap:126 telephone-event/8000");
        has(&l, "a=ptime:20");
        has(&l, "a=sendrecv");
        for absent in [
            "opus",
            "telephone-event/48000",
            "SAVP",
            "a=rtcp",
            "ice",
            "fingerprint",
        ] {
            assert!(!offer.contains(absent), "{absent} in trunk offer\n{offer}");
        }
        rtc_sdp_accepts(&offer);
        let p = parse_plain(&offer).unwrap();
        assert_eq!(pts(&p.media[0].codecs), [0, 8, 126]);
    }
}

#[test]
fn browser_answer_from_sipp_maps_telephone_event() {
    let b = parse_webrtc(CHROMIUM).unwrap();
    let t = parse_plain(&sipp_answer()).unwrap();
    let local = local_ice("127.0.0.1:40000");
    let (answer, map) = browser_answer(&b, &t, &local, 7, 1).unwrap();
    assert_eq!(
        map,
        PtMap {
            to_trunk: vec![(126, 101)],
            to_browser: vec![(101, 126)]
        }
    );
    let l = lines(&answer);
    assert_eq!(
        l[..5],
        [
            "v=0",
            "o=- 7 1 IN IP4 127.0.0.1",
            "s=-",
            "c=IN IP4 127.0.0.1",
            "t=0 0"
        ]
    );
    let m_at = l.iter().position(|x| x.starts_with("m=")).unwrap();
    // Session level, before the first m-line (Chromium reads ice-lite there).
    assert!(l[..m_at].contains(&"a=ice-lite"));
    assert!(l[..m_at].contains(&"a=group:BUNDLE 0"));
    assert_eq!(l[m_at], "m=audio 40000 UDP/TLS/RTP/SAVPF 0 8 126");
    for want in [
        "a=mid:0",
        "a=ice-ufrag:FerryUfrag",
        "a=ice-pwd:FerryPasswordFerryPassword",
        "a=setup:passive",
        "a=rtcp-mux",
        "a=sendrecv",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:126 telephone-event/8000",
        "a=fmtp:126 0-16",
        "a=ptime:20",
        "a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host",
        "a=end-of-candidates",
    ] {
        has(&l, want);
    }
    let fp = l.iter().find(|x| x.starts_with("a=fingerprint:")).unwrap();
    assert!(fp.starts_with("a=fingerprint:sha-256 E0:E1:E2:"), "{fp}");
    assert!(fp.ends_with(":FE:FF"), "{fp}");
    assert!(!answer.contains("opus") && !answer.contains("a=fmtp:101"));
    rtc_sdp_accepts(&answer);
    let back = parse_webrtc(&answer).unwrap();
    assert!(back.ice_lite);
    assert_eq!(back.setup, Setup::Passive);
    assert_eq!(back.fingerprints, std::slice::from_ref(&local.fingerprint));
    assert_eq!(back.candidates, local.candidates);
}

fn with_direction(sdp: &str, dir: &str) -> String {
    sdp.replace("a=sendrecv", dir)
}

#[test]
fn hold_and_resume_map_through() {
    let local = local_ice("127.0.0.1:40000");
    for (browser_dir, trunk_dir, answer_dir) in [
        ("a=sendonly", "a=recvonly", "a=recvonly"),
        ("a=inactive", "a=inactive", "a=inactive"),
        ("a=sendrecv", "a=sendrecv", "a=sendrecv"),
    ] {
        let b = parse_webrtc(&with_direction(CHROMIUM, browser_dir)).unwrap();
        let offer = trunk_offer(&b, &CodecPolicy::default(), trunk_addr(), 30000, 42, 2).unwrap();
        has(&lines(&offer), browser_dir);
        has(&lines(&offer), "o=ferry 42 2 IN IP4 192.0.2.10");
        let t = parse_plain(&with_direction(&sipp_answer(), trunk_dir)).unwrap();
        let (answer, _) = browser_answer(&b, &t, &local, 7, 2).unwrap();
        has(&lines(&answer), answer_dir);
    }
}

#[test]
fn legacy_zero_address_hold_is_not_sent_to() {
    let held = sipp_answer().replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0");
    let t = parse_plain(&held).unwrap();
    assert_eq!(t.media[0].direction, Direction::SendOnly); // RFC 3264 §8.4
}

#[test]
fn ipv6_both_legs() {
    let v6 = CHROMIUM
        .replace("IN IP4 127.0.0.1", "IN IP6 ::1")
        .replace(" 127.0.0.1 ", " ::1 ");
    let b = parse_webrtc(&v6).unwrap();
    assert_eq!(b.candidates, ["[::1]:34390".parse::<SocketAddr>().unwrap()]);
    let addr: IpAddr = "2001:db8::10".parse().unwrap();
    let offer = trunk_offer(&b, &CodecPolicy::default(), addr, 30000, 1, 1).unwrap();
    has(&lines(&offer), "c=IN IP6 2001:db8::10");
    has(&lines(&offer), "o=ferry 1 1 IN IP6 2001:db8::10");
    let sipp6 = sipp_answer().replace("IN IP4 127.0.0.1", "IN IP6 2001:db8::20");
    let t = parse_plain(&sipp6).unwrap();
    assert_eq!(t.media[0].addr, "2001:db8::20".parse::<IpAddr>().unwrap());
    let (answer, _) = browser_answer(&b, &t, &local_ice("[2001:db8::2]:40000"), 1, 1).unwrap();
    has(&lines(&answer), "c=IN IP6 2001:db8::2");
    has(
        &lines(&answer),
        "a=candidate:1 1 udp 2130706431 2001:db8::2 40000 typ host",
    );
    rtc_sdp_accepts(&answer);
}

#[test]
fn video_is_rejected_in_place() {
    let video = "m=video 34390 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=rtcp-mux\r\n\
                 a=rtpmap:96 VP8/90000\r\n";
    let sdp = format!("{}{video}", CHROMIUM.replace("BUNDLE 0", "BUNDLE 0 1"));
    let b = parse_webrtc(&sdp).unwrap();
    let offer = trunk_offer(&b, &CodecPolicy::default(), trunk_addr(), 30000, 1, 1).unwrap();
    assert_eq!(lines(&offer).last(), Some(&"m=video 0 RTP/AVP 96"));
    let sipp = format!("{}m=video 0 RTP/AVP 96\r\n", sipp_answer());
    let t = parse_plain(&sipp).unwrap();
    let (answer, _) = browser_answer(&b, &t, &local_ice("127.0.0.1:40000"), 1, 1).unwrap();
    let l = lines(&answer);
    has(&l, "a=group:BUNDLE 0");
    assert_eq!(
        l[l.len() - 2..],
        ["m=video 0 UDP/TLS/RTP/SAVPF 96", "a=mid:1"]
    );
    rtc_sdp_accepts(&answer);
}

#[test]
fn echo_answer_keeps_browser_codecs() {
    let b = parse_webrtc(CHROMIUM).unwrap();
    let local = local_ice("127.0.0.1:40000");
    let answer = echo_answer(&b, &CodecPolicy::with_opus(), &local, 3, 1).unwrap();
    let l = lines(&answer);
    has(&l, "m=audio 40000 UDP/TLS/RTP/SAVPF 111 0 8 110 126");
    has(&l, "a=rtpmap:111 opus/48000/2");
    has(&l, "a=fmtp:111 minptime=10;useinbandfec=1");
    has(&l, "a=rtpmap:110 telephone-event/48000");
    has(&l, "a=setup:passive");
    has(&l, "a=sendrecv");
    assert!(!answer.contains("red/") && !answer.contains("G722"));
    rtc_sdp_accepts(&answer);
    let sendonly = parse_webrtc(&with_direction(CHROMIUM, "a=sendonly")).unwrap();
    let answer = echo_answer(&sendonly, &CodecPolicy::default(), &local, 3, 2).unwrap();
    has(&lines(&answer), "a=recvonly");
    has(&lines(&answer), "m=audio 40000 UDP/TLS/RTP/SAVPF 0 8 126");
}

#[test]
fn session_level_ice_and_fingerprint_are_used() {
    // Firefox writes a=fingerprint at session level; some stacks do the same with ICE.
    let mut s = String::new();
    let (mut session, mut media) = (Vec::new(), Vec::new());
    for l in CHROMIUM.lines() {
        let hoist = ["a=ice-ufrag", "a=ice-pwd", "a=fingerprint", "a=setup"];
        if hoist.iter().any(|h| l.starts_with(h)) {
            session.push(l)
        } else {
            media.push(l)
        }
    }
    let m_at = media.iter().position(|l| l.starts_with("m=")).unwrap();
    for l in media[..m_at].iter().chain(&session).chain(&media[m_at..]) {
        s.push_str(l);
        s.push_str("\r\n");
    }
    let b = parse_webrtc(&s).unwrap();
    assert_eq!((b.ice_ufrag.as_str(), b.setup), ("HlWh", Setup::ActPass));
    assert_eq!(b.fingerprints.len(), 1);
}
