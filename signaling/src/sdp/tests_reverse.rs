//! The trunk-calls-in direction (browser_offer, trunk_answer) and the typed errors.

use std::net::IpAddr;

use super::tests::{CHROMIUM, local_ice, rtc_sdp_accepts, sipp_answer};
use super::*;

/// What Chromium answers to a Ferry offer of PCMU/PCMA/telephone-event 101 (trickle ICE: port 9).
fn chromium_answer(pts: &str, te_pt: u8) -> String {
    format!(
        "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n\
         a=group:BUNDLE 0\r\na=msid-semantic: WMS\r\n\
         m=audio 9 UDP/TLS/RTP/SAVPF {pts}\r\nc=IN IP4 0.0.0.0\r\n\
         a=rtcp:9 IN IP4 0.0.0.0\r\na=ice-ufrag:Xy/z\r\na=ice-pwd:abcdefghijklmnopqrstuvwx\r\n\
         a=ice-options:trickle\r\n\
         a=fingerprint:sha-256 FF:FE:38:D7:16:0A:80:6A:96:3F:6F:69:3E:71:C7:17:AE:1C:23:32:39:74:E5:FC:EE:51:AA:72:8E:AF:18:44\r\n\
         a=setup:active\r\na=mid:0\r\na=sendrecv\r\na=rtcp-mux\r\n\
         a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:{te_pt} telephone-event/8000\r\na=fmtp:{te_pt} 0-15\r\n\
         a=ssrc:1234 cname:abc\r\n"
    )
}

fn ferry_addr() -> IpAddr {
    "192.0.2.10".parse().unwrap()
}

fn lines(sdp: &str) -> Vec<&str> {
    sdp.split("\r\n").filter(|l| !l.is_empty()).collect()
}

#[test]
fn browser_offer_from_trunk_offer() {
    // The sipp answer body doubles as a typical trunk offer: PCMU, PCMA, telephone-event 101.
    let t = parse_plain(&sipp_answer()).unwrap();
    let local = LocalIce {
        setup: Setup::ActPass,
        ..local_ice("127.0.0.1:40000")
    };
    let offer = browser_offer(&t, &CodecPolicy::default(), &local, 9, 1).unwrap();
    let l = lines(&offer);
    let m_at = l.iter().position(|x| x.starts_with("m=")).unwrap();
    assert_eq!(
        l[..m_at],
        [
            "v=0",
            "o=- 9 1 IN IP4 127.0.0.1",
            "s=-",
            "c=IN IP4 127.0.0.1",
            "t=0 0",
            "a=ice-lite",
            "a=group:BUNDLE 0"
        ]
    );
    assert_eq!(l[m_at], "m=audio 40000 UDP/TLS/RTP/SAVPF 0 8 101");
    for want in [
        "a=mid:0",
        "a=setup:actpass",
        "a=rtcp-mux",
        "a=fmtp:101 0-16",
        "a=sendrecv",
    ] {
        assert!(l.contains(&want), "{want} missing in\n{offer}");
    }
    rtc_sdp_accepts(&offer);
    let back = parse_webrtc(&offer).unwrap();
    assert_eq!((back.setup, back.ice_lite), (Setup::ActPass, true));
    assert_eq!(back.media[0].codecs, t.media[0].codecs);
}

#[test]
fn trunk_answer_from_chromium_answer() {
    let t = parse_plain(&sipp_answer()).unwrap();
    let b = parse_webrtc(&chromium_answer("0 8 101", 101)).unwrap();
    let (answer, map) = trunk_answer(&t, &b, ferry_addr(), 30000, 5, 1).unwrap();
    assert!(map.is_empty());
    let l = lines(&answer);
    assert_eq!(
        l[..5],
        [
            "v=0",
            "o=ferry 5 1 IN IP4 192.0.2.10",
            "s=-",
            "c=IN IP4 192.0.2.10",
            "t=0 0"
        ]
    );
    assert_eq!(l[5], "m=audio 30000 RTP/AVP 0 8 101");
    for want in [
        "a=rtpmap:101 telephone-event/8000",
        "a=fmtp:101 0-15",
        "a=ptime:20",
        "a=sendrecv",
    ] {
        assert!(l.contains(&want), "{want} missing in\n{answer}");
    }
    assert!(!answer.contains("SAVP") && !answer.contains("ice-") && !answer.contains("a=rtcp"));
    rtc_sdp_accepts(&answer);
    parse_plain(&answer).unwrap();
}

#[test]
fn trunk_answer_maps_renumbered_dtmf() {
    let t = parse_plain(&sipp_answer()).unwrap();
    let b = parse_webrtc(&chromium_answer("0 126", 126)).unwrap();
    let (answer, map) = trunk_answer(&t, &b, ferry_addr(), 30000, 5, 1).unwrap();
    assert_eq!(
        map,
        PtMap {
            to_trunk: vec![(126, 101)],
            to_browser: vec![(101, 126)]
        }
    );
    assert!(lines(&answer).contains(&"m=audio 30000 RTP/AVP 0 101"));
}

#[test]
fn trunk_answer_mirrors_browser_hold() {
    let t = parse_plain(&sipp_answer()).unwrap();
    let b = parse_webrtc(&chromium_answer("0 8", 101).replace("a=sendrecv", "a=recvonly")).unwrap();
    let (answer, _) = trunk_answer(&t, &b, ferry_addr(), 30000, 5, 2).unwrap();
    assert!(lines(&answer).contains(&"a=recvonly"));
}

fn err(sdp: &str) -> SdpError {
    parse_webrtc(sdp).unwrap_err()
}

#[test]
fn typed_errors_with_sip_status() {
    let no_fp: String = CHROMIUM
        .lines()
        .filter(|l| !l.starts_with("a=fingerprint"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(err(&no_fp), SdpError::NoFingerprint);
    assert_eq!(err(&no_fp).sip_status(), 488);
    let sdes = CHROMIUM.replace("UDP/TLS/RTP/SAVPF", "RTP/SAVP");
    assert_eq!(err(&sdes), SdpError::UnsupportedProfile("RTP/SAVP".into()));
    assert_eq!(err(&sdes).sip_status(), 488);
    assert_eq!(err(&sdes).to_string(), "unsupported media profile RTP/SAVP");
    let avp = CHROMIUM.replace("UDP/TLS/RTP/SAVPF", "RTP/AVP");
    assert!(matches!(err(&avp), SdpError::UnsupportedProfile(_)));
    for garbage in [
        "",
        "hello",
        "v=0\r\n",
        "v=0\r\no=- x 1 IN IP4 1.2.3.4\r\n",
        "\u{0}\u{1}",
    ] {
        let e = err(garbage);
        assert!(matches!(e, SdpError::Malformed(_)), "{garbage:?}: {e:?}");
        assert_eq!(e.sip_status(), 400);
    }
    let no_ice: String = CHROMIUM
        .lines()
        .filter(|l| !l.starts_with("a=ice-pwd"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(err(&no_ice), SdpError::NoIceCredentials);
    let short_pwd = CHROMIUM.replace("avtOEZIIrh2VCwWbRjGtr94q", "short");
    assert_eq!(err(&short_pwd), SdpError::NoIceCredentials);
    let bad_fp = CHROMIUM.replace("FF:FE:38", "FF:FE:3");
    assert!(matches!(err(&bad_fp), SdpError::Malformed(_)));
    let bad_mid = CHROMIUM.replace("a=mid:0", "a=mid:0 1");
    assert!(matches!(err(&bad_mid), SdpError::Malformed(_)));
}

#[test]
fn bounded_input() {
    let huge = format!("{CHROMIUM}{}", "a=x-pad:0123456789\r\n".repeat(4000));
    assert_eq!(err(&huge), SdpError::TooLarge(huge.len()));
    assert_eq!(err(&huge).sip_status(), 413);
    let many = format!(
        "{CHROMIUM}{}",
        "m=audio 0 UDP/TLS/RTP/SAVPF 0\r\n".repeat(40)
    );
    assert_eq!(err(&many), SdpError::TooManyMedia(41));
    let plain_many = format!("{}{}", sipp_answer(), "m=audio 0 RTP/AVP 0\r\n".repeat(40));
    assert_eq!(
        parse_plain(&plain_many).unwrap_err(),
        SdpError::TooManyMedia(41)
    );
}

#[test]
fn plain_rejects_srtp_and_missing_connection() {
    let sdes = sipp_answer().replace("RTP/AVP", "RTP/SAVP");
    assert_eq!(
        parse_plain(&sdes).unwrap_err(),
        SdpError::UnsupportedProfile("RTP/SAVP".into())
    );
    let no_c = sipp_answer().replace("c=IN IP4 127.0.0.1\r\n", "");
    assert!(matches!(
        parse_plain(&no_c).unwrap_err(),
        SdpError::Malformed(_)
    ));
    let media_c = sipp_answer().replace("c=IN IP4 127.0.0.1\r\n", "").replace(
        "a=rtpmap:0",
        "c=IN IP4 198.51.100.7\r\na=rtcp:7001 IN IP4 198.51.100.8\r\na=rtpmap:0",
    );
    let p = parse_plain(&media_c).unwrap();
    assert_eq!(p.media[0].addr, "198.51.100.7".parse::<IpAddr>().unwrap());
    assert_eq!(p.media[0].rtcp, Some("198.51.100.8:7001".parse().unwrap()));
}

#[test]
fn negotiation_errors() {
    let b = parse_webrtc(CHROMIUM).unwrap();
    let local = local_ice("127.0.0.1:40000");
    let g729 = sipp_answer().replace("RTP/AVP 0 8 101", "RTP/AVP 18 101");
    let t = parse_plain(&g729).unwrap();
    assert_eq!(
        browser_answer(&b, &t, &local, 1, 1).unwrap_err(),
        SdpError::NoCommonCodec
    );
    let opus_only = CodecPolicy {
        allowed: vec!["G729".into()],
    };
    let e = trunk_offer(&b, &opus_only, "192.0.2.1".parse().unwrap(), 1, 1, 1).unwrap_err();
    assert_eq!(e, SdpError::NoCommonCodec);
    let two = parse_plain(&format!("{}m=video 0 RTP/AVP 96\r\n", sipp_answer())).unwrap();
    let e = browser_answer(&b, &two, &local, 1, 1).unwrap_err();
    assert_eq!(
        e,
        SdpError::MediaMismatch {
            offer: 1,
            answer: 2
        }
    );
    let t = parse_plain(&sipp_answer()).unwrap();
    let holdconn = parse_webrtc(&CHROMIUM.replace("setup:actpass", "setup:holdconn")).unwrap();
    assert!(matches!(
        browser_answer(&holdconn, &t, &local, 1, 1),
        Err(SdpError::BadSetup(_))
    ));
    let no_mux = parse_webrtc(&CHROMIUM.replace("a=rtcp-mux\r\n", "")).unwrap();
    assert_eq!(
        browser_answer(&no_mux, &t, &local, 1, 1).unwrap_err(),
        SdpError::RtcpMuxRequired
    );
    let nowhere = LocalIce {
        candidates: vec![],
        ..local
    };
    assert_eq!(
        browser_answer(&b, &t, &nowhere, 1, 1).unwrap_err(),
        SdpError::NoLocalCandidate
    );
}

#[test]
fn active_offer_gets_passive_and_passive_gets_active() {
    let t = parse_plain(&sipp_answer()).unwrap();
    let local = local_ice("127.0.0.1:40000");
    for (offer, answer) in [("active", "passive"), ("passive", "active")] {
        let b =
            parse_webrtc(&CHROMIUM.replace("setup:actpass", &format!("setup:{offer}"))).unwrap();
        let (sdp, _) = browser_answer(&b, &t, &local, 1, 1).unwrap();
        assert!(sdp.contains(&format!("a=setup:{answer}\r\n")));
    }
}
