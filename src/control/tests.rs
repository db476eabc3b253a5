use std::net::SocketAddr;

use proptest::prelude::*;

use super::*;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn key(profile: u16, fill: u8) -> SrtpKey {
    SrtpKey {
        profile,
        key: Secret::new(&[fill; 16]),
        salt: Secret::new(&[fill ^ 0xff; 14]),
    }
}

fn samples() -> Vec<Message> {
    let legs = [
        LegAddrs {
            rtp: addr("127.0.0.1:40000"),
            rtcp: None,
        },
        LegAddrs {
            rtp: addr("[::1]:40002"),
            rtcp: Some(addr("[::1]:40003")),
        },
    ];
    let browser = LegSpec {
        kind: LegKind::Ice(IceCredentials {
            local_ufrag: "fErY".into(),
            local_pwd: Secret::new(b"0123456789abcdefghijkl"),
            remote_ufrag: "HlWh".into(),
        }),
        rtcp_mux: true,
        srtp_in: Some(key(7, 0x11)),
        srtp_out: Some(key(7, 0x22)),
        rewrite_out: Rewrite::default(),
        dtmf_events: Some(126),
    };
    let sip = LegSpec {
        kind: LegKind::Addressed {
            rtp: Some(addr("192.0.2.7:20000")),
            rtcp: Some(addr("192.0.2.7:20001")),
            latch: LatchPolicy::Strict,
        },
        rtcp_mux: false,
        srtp_in: None,
        srtp_out: None,
        rewrite_out: Rewrite {
            pt: vec![(111, 0)],
            ssrc: vec![(1, 0xdead_beef)],
        },
        dtmf_events: None,
    };
    vec![
        Message::hello(),
        Message::Allocate {
            family: Family::V6,
            legs: [AllocLeg { rtcp_mux: true }, AllocLeg { rtcp_mux: false }],
        },
        Message::Allocated {
            session: SessionId(42),
            shard: 1,
            legs,
        },
        Message::Install {
            session: SessionId(42),
            legs: Box::new([browser, sip]),
        },
        Message::Remove {
            session: SessionId(u64::MAX),
        },
        Message::DtlsSend {
            session: SessionId(1),
            leg: LegId::A,
            to: addr("127.0.0.1:9"),
            payload: vec![22; 300],
        },
        Message::DtlsReceived {
            session: SessionId(1),
            leg: LegId::B,
            from: addr("[::1]:9"),
            payload: vec![],
        },
        Message::List,
        Message::Sessions(vec![SessionInfo {
            session: SessionId(3),
            shard: 0,
            legs,
            peers: [Some(addr("127.0.0.1:5")), None],
            packets: 99,
            idle_ms: 12,
            quality: [
                Some(LegQuality {
                    fraction_lost: 13,
                    cumulative_lost: -2,
                    jitter_us: 2_500,
                    rtt_us: Some(41_000),
                    reports: 7,
                    last_report_ms_ago: 900,
                }),
                None,
            ],
        }]),
        Message::StatsQuery,
        Message::Stats {
            shards: vec![
                vec![Counter {
                    name: "packets_in".into(),
                    value: 5,
                }],
                vec![],
            ],
            histogram: vec![1, 2, 3],
        },
        Message::Ok,
        Message::Error {
            code: ErrorCode::NoSuchSession,
            reason: "gone".into(),
        },
        Message::Latched {
            session: SessionId(8),
            leg: LegId::A,
            addr: addr("127.0.0.1:1"),
        },
        Message::Ended {
            session: SessionId(8),
            reason: EndReason::ConsentExpired,
        },
        Message::Dtmf {
            session: SessionId(8),
            leg: LegId::A,
            event: 11,
            duration_ms: 160,
            volume: 10,
        },
    ]
}

#[test]
fn every_message_round_trips_through_a_frame() {
    for (i, msg) in samples().into_iter().enumerate() {
        let bytes = encode_frame(i as u32 + 1, &msg);
        let frame = decode_frame(&bytes).unwrap_or_else(|e| panic!("{msg:?}: {e}"));
        assert_eq!(
            frame,
            Frame {
                id: i as u32 + 1,
                msg
            }
        );
    }
}

#[test]
fn frames_read_back_from_a_stream_in_order() {
    let msgs = samples();
    let stream: Vec<u8> = msgs
        .iter()
        .enumerate()
        .flat_map(|(i, m)| encode_frame(i as u32, m))
        .collect();
    let mut cursor = std::io::Cursor::new(stream);
    for (i, m) in msgs.iter().enumerate() {
        let f = read_frame(&mut cursor).unwrap().unwrap();
        assert_eq!((f.id, &f.msg), (i as u32, m));
    }
    assert!(
        read_frame(&mut cursor).unwrap().is_none(),
        "clean end of stream"
    );
}

#[test]
fn oversized_and_truncated_frames_are_errors() {
    let mut big = (MAX_FRAME + 1).to_be_bytes().to_vec();
    big.extend([0; 16]);
    assert!(read_frame(&mut std::io::Cursor::new(big)).is_err());
    let whole = encode_frame(
        1,
        &Message::Remove {
            session: SessionId(1),
        },
    );
    for cut in 1..whole.len() {
        assert!(decode_frame(&whole[..cut]).is_err(), "cut at {cut}");
    }
    let mut trailing = whole.clone();
    trailing.push(0);
    trailing[3] += 1;
    assert_eq!(decode_frame(&trailing), Err(DecodeError::Trailing(1)));
}

#[test]
fn key_material_never_appears_in_debug_output() {
    let k = SrtpKey {
        profile: 1,
        key: Secret::new(b"SUPERSECRETKEY!!"),
        salt: Secret::new(b"SALTYSALTSALT!"),
    };
    let shown = format!("{k:?} {:?}", samples()[3]);
    assert!(!shown.contains("SUPERSECRET") && !shown.contains("SALTY"));
    assert!(
        !shown.contains("0123456789abcdef"),
        "ICE password redacted: {shown}"
    );
    assert!(shown.contains("REDACTED"));
}

#[test]
fn hello_checks_version_and_layout() {
    assert_eq!(check_hello(&Message::hello()), Ok(()));
    let Message::Hello {
        max_frame, sizes, ..
    } = Message::hello()
    else {
        unreachable!()
    };
    let older = Message::Hello {
        version: PROTOCOL_VERSION + 1,
        max_frame,
        sizes: sizes.clone(),
    };
    assert!(check_hello(&older).unwrap_err().contains("version"));
    let mut other = sizes;
    other[0].1 += 1;
    let skewed = Message::Hello {
        version: PROTOCOL_VERSION,
        max_frame,
        sizes: other,
    };
    assert!(check_hello(&skewed).unwrap_err().contains("layouts"));
    assert!(check_hello(&Message::Ok).is_err());
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(ty in any::<u16>(), body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = Message::decode_body(ty, &body);
    }

    #[test]
    fn session_quality_round_trips(
        fraction_lost in any::<u8>(),
        cumulative_lost in any::<i32>(),
        jitter_us in any::<u32>(),
        rtt_us in any::<Option<u32>>(),
        reports in any::<u32>(),
        last_report_ms_ago in any::<u64>(),
        leg in 0usize..2,
    ) {
        let q = LegQuality { fraction_lost, cumulative_lost, jitter_us, rtt_us, reports, last_report_ms_ago };
        let mut list = samples()
            .into_iter()
            .find_map(|m| match m { Message::Sessions(l) => Some(l), _ => None })
            .unwrap();
        list[0].quality = [None, None];
        list[0].quality[leg] = Some(q);
        let msg = Message::Sessions(list);
        let frame = decode_frame(&encode_frame(3, &msg)).unwrap();
        prop_assert_eq!(frame.msg, msg);
    }

    #[test]
    fn dtmf_pt_and_event_round_trip(
        pt in any::<Option<u8>>(),
        leg in 0usize..2,
        event in any::<u8>(),
        duration_ms in any::<u32>(),
        volume in any::<u8>(),
    ) {
        let mut install = samples().swap_remove(3);
        if let Message::Install { legs, .. } = &mut install {
            legs[leg].dtmf_events = pt;
        }
        let dtmf = Message::Dtmf {
            session: SessionId(9),
            leg: if leg == 0 { LegId::A } else { LegId::B },
            event,
            duration_ms,
            volume,
        };
        for msg in [install, dtmf] {
            let frame = decode_frame(&encode_frame(4, &msg)).unwrap();
            prop_assert_eq!(frame.msg, msg);
        }
    }

    #[test]
    fn mutated_valid_frames_never_panic(i in 0usize..16, pos in any::<usize>(), byte in any::<u8>()) {
        let mut bytes = encode_frame(7, &samples()[i]);
        let at = pos % bytes.len();
        bytes[at] = byte;
        let _ = decode_frame(&bytes);
    }
}
