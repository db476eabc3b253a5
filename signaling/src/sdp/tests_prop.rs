//! Property tests: no input panics the parsers; generated offers round-trip through them.

use std::net::{IpAddr, SocketAddr};

use proptest::prelude::*;

use super::tests::{CHROMIUM, sipp_answer};
use super::*;

/// SDP-shaped noise: real lines, shuffled, cut and corrupted.
fn sdp_like() -> impl Strategy<Value = String> {
    let sipp = sipp_answer();
    let real: Vec<String> = CHROMIUM
        .lines()
        .chain(sipp.lines())
        .map(str::to_owned)
        .collect();
    let line = prop_oneof![
        proptest::sample::select(real),
        "[a-z]=[ -~]{0,40}",
        "a=(rtpmap|fmtp|candidate|fingerprint|setup|rtcp|ssrc|group|ptime):[ -~]{0,40}",
        "m=(audio|video|application) [0-9]{1,6}(/[0-9])? [A-Z/]{0,20}( [0-9a-z]{1,4}){0,4}",
        "c=IN IP[46] [0-9a-f:.]{0,20}",
    ];
    proptest::collection::vec(line, 0..40).prop_map(|l| l.join("\r\n"))
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,400}") {
        let _ = parse_webrtc(&s);
        let _ = parse_plain(&s);
    }

    #[test]
    fn sdp_like_text_never_panics(s in sdp_like()) {
        let local = tests::local_ice("127.0.0.1:40000");
        if let Ok(b) = parse_webrtc(&s) {
            let policy = CodecPolicy::with_opus();
            let _ = trunk_offer(&b, &policy, "192.0.2.1".parse().unwrap(), 30000, 1, 1);
            let _ = echo_answer(&b, &policy, &local, 1, 1);
        }
        if let Ok(p) = parse_plain(&s) {
            let _ = browser_offer(&p, &CodecPolicy::default(), &local, 1, 1);
        }
    }
}

/// Formats a trunk might offer, as `(codec, allowed by CodecPolicy::with_opus())`.
fn catalogue() -> Vec<Codec> {
    let c = |pt, name: &str, rate, channels, fmtp: Option<&str>| Codec {
        pt,
        name: name.into(),
        rate,
        channels,
        fmtp: fmtp.map(str::to_owned),
    };
    vec![
        c(0, "PCMU", 8000, None, None),
        c(8, "PCMA", 8000, None, None),
        c(9, "G722", 8000, None, None),
        c(18, "G729", 8000, None, Some("annexb=no")),
        c(
            111,
            "opus",
            48000,
            Some(2),
            Some("minptime=10;useinbandfec=1"),
        ),
        c(101, "telephone-event", 8000, None, Some("0-16")),
        c(110, "telephone-event", 48000, None, None),
    ]
}

fn direction() -> impl Strategy<Value = Direction> {
    proptest::sample::select(vec![
        Direction::SendRecv,
        Direction::SendOnly,
        Direction::RecvOnly,
        Direction::Inactive,
    ])
}

fn addr() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(IpAddr::from),
        any::<[u16; 8]>().prop_map(IpAddr::from),
    ]
    .prop_filter("a unicast address", |a| !a.is_unspecified())
}

/// A one-audio-line trunk offer with a random subset of the catalogue in random order.
fn trunk_session() -> impl Strategy<Value = PlainSession> {
    let codecs = Just(catalogue()).prop_shuffle().prop_flat_map(|all| {
        let n = all.len();
        proptest::sample::subsequence(all, 1..=n)
    });
    (codecs, direction(), addr(), 1..=u16::MAX, any::<u64>()).prop_map(
        |(codecs, direction, addr, port, id)| PlainSession {
            origin_addr: addr,
            session_id: id,
            version: 1,
            media: vec![PlainMedia {
                kind: MediaKind::Audio,
                proto: "RTP/AVP".into(),
                formats: codecs.iter().map(|c| c.pt.to_string()).collect(),
                addr,
                port,
                rtcp: None,
                rtcp_mux: false,
                codecs,
                direction,
                ptime: Some(20),
            }],
        },
    )
}

/// What the gateway may forward from `offered`: allowed names, voice present, DTMF at a
/// voice rate, and nothing reordered.
fn check_selection(offered: &[Codec], kept: &[Codec], policy: &CodecPolicy) {
    let voice_rates: Vec<u32> = kept
        .iter()
        .filter(|c| !c.is_dtmf())
        .map(|c| c.rate)
        .collect();
    assert!(!voice_rates.is_empty());
    let mut from = offered.iter();
    for k in kept {
        assert!(policy.allows(k));
        assert!(!k.is_dtmf() || voice_rates.contains(&k.rate));
        assert!(from.any(|o| o == k), "{k:?} not in offer order");
    }
    for o in offered.iter().filter(|o| policy.allows(o) && !o.is_dtmf()) {
        assert!(kept.contains(o), "{o:?} dropped");
    }
}

proptest! {
    #[test]
    fn generated_offers_round_trip(
        trunk in trunk_session(),
        ferry in addr(),
        port in 1..=u16::MAX,
        version in any::<u64>(),
    ) {
        let policy = CodecPolicy::with_opus();
        let local = LocalIce {
            setup: Setup::ActPass,
            candidates: vec![SocketAddr::new(ferry, port)],
            ..tests::local_ice("127.0.0.1:40000")
        };
        let t = &trunk.media[0];
        let has_voice = t.codecs.iter().any(|c| policy.allows(c) && !c.is_dtmf());
        let offer = browser_offer(&trunk, &policy, &local, trunk.session_id, version);
        if !has_voice {
            prop_assert_eq!(offer.unwrap_err(), SdpError::NoCommonCodec);
            return Ok(());
        }
        let offer = offer.unwrap();
        tests::rtc_sdp_accepts(&offer);
        let b = parse_webrtc(&offer).unwrap();
        prop_assert_eq!((b.session_id, b.version), (trunk.session_id, version));
        prop_assert_eq!((b.setup, b.ice_lite), (Setup::ActPass, true));
        prop_assert_eq!(&b.fingerprints, std::slice::from_ref(&local.fingerprint));
        prop_assert_eq!(&b.candidates, &local.candidates);
        prop_assert_eq!(&b.bundle, &["0".to_owned()]);
        let m = &b.media[0];
        prop_assert_eq!((m.port, m.direction, m.rtcp_mux), (port, t.direction, true));
        check_selection(&t.codecs, &m.codecs, &policy);

        // And on toward a trunk again: G.711 only, same numbers.
        let g711 = CodecPolicy::default();
        let has_g711 = m.codecs.iter().any(|c| g711.allows(c) && !c.is_dtmf());
        match trunk_offer(&b, &g711, t.addr, t.port, 1, version) {
            Ok(sdp) => {
                tests::rtc_sdp_accepts(&sdp);
                let p = parse_plain(&sdp).unwrap();
                let pm = &p.media[0];
                prop_assert_eq!((pm.addr, pm.port, pm.direction), (t.addr, t.port, t.direction));
                check_selection(&m.codecs, &pm.codecs, &g711);
            }
            Err(e) => prop_assert!(!has_g711 && e == SdpError::NoCommonCodec),
        }
    }
}
