use proptest::prelude::*;

use super::*;

fn rb(i: u32) -> ReportBlock {
    ReportBlock {
        ssrc: i,
        fraction_lost: 3,
        cumulative_lost: -5,
        highest_seq: 70_000 + i,
        jitter: 12,
        lsr: 0xAABB_CCDD,
        dlsr: 65_536,
    }
}

fn samples() -> Vec<Repr> {
    vec![
        Repr::SenderReport {
            ssrc: 1,
            ntp: 0xE5AA_0000_8000_0000,
            rtp_ts: 160,
            packets: 10,
            octets: 1600,
            reports: vec![rb(9)],
        },
        Repr::ReceiverReport {
            ssrc: 2,
            reports: vec![rb(1), rb(2)],
        },
        Repr::ReceiverReport {
            ssrc: 2,
            reports: vec![],
        },
        Repr::Sdes(vec![
            (3, vec![(1, b"user@host".to_vec())]),
            (4, vec![(1, b"x".to_vec()), (6, b"tool".to_vec())]),
        ]),
        Repr::Bye {
            ssrcs: vec![5, 6],
            reason: Some(b"done".to_vec()),
        },
        Repr::Bye {
            ssrcs: vec![5],
            reason: None,
        },
        Repr::App {
            subtype: 3,
            ssrc: 7,
            name: *b"FRRY",
            data: vec![1, 2, 3, 4],
        },
        Repr::Nack {
            sender: 8,
            media: 9,
            pairs: vec![(100, 0b101), (200, 0)],
        },
        Repr::Twcc {
            sender: 8,
            media: 9,
            base_seq: 4,
            status_count: 2,
            reference_time: -3,
            fb_count: 7,
            chunks: vec![0x20, 0x02, 1, 2],
        },
        Repr::Pli {
            sender: 10,
            media: 11,
        },
        Repr::Fir {
            sender: 12,
            entries: vec![(13, 1), (14, 2)],
        },
        Repr::Remb {
            sender: 15,
            bitrate: 1_500_000 & !0x7,
            ssrcs: vec![16, 17],
        },
        Repr::Other {
            packet_type: 207,
            count: 0,
            body: vec![0, 0, 0, 1],
        },
    ]
}

#[test]
fn every_kind_round_trips() {
    for r in samples() {
        let bytes = r.to_bytes().unwrap();
        let p = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(p.total_len(), bytes.len());
        assert_eq!(Repr::parse(&p).unwrap(), r);
    }
}

#[test]
fn receiver_report_bytes_match_rfc3550_layout() {
    let block = ReportBlock {
        highest_seq: 70_013,
        ..rb(0x0A0B_0C0D)
    };
    let bytes = Repr::ReceiverReport {
        ssrc: 0x0102_0304,
        reports: vec![block],
    }
    .to_bytes()
    .unwrap();
    let want = [
        0x81, 201, 0, 7, 1, 2, 3, 4, // header, sender
        0x0A, 0x0B, 0x0C, 0x0D, 3, 0xFF, 0xFF, 0xFB, // ssrc, fraction, cumulative -5 (24-bit)
        0, 1, 0x11, 0x7D, 0, 0, 0, 12, 0xAA, 0xBB, 0xCC, 0xDD, 0, 1, 0, 0,
    ];
    assert_eq!(bytes, want);
}

#[test]
fn compound_walks_packets_and_stops_on_overrun() {
    let mut d = Vec::new();
    for r in &samples()[..4] {
        d.extend(r.to_bytes().unwrap());
    }
    let types: Vec<u8> = Compound::new(&d)
        .map(|p| p.unwrap().packet_type())
        .collect();
    assert_eq!(types, vec![pt::SR, pt::RR, pt::RR, pt::SDES]);
    d.extend([0x80, 201, 0, 9, 0, 0, 0, 1]); // claims 40 bytes, has 8
    let all: Vec<_> = Compound::new(&d).collect();
    assert_eq!(all.len(), 5);
    assert_eq!(all[4].as_ref().unwrap_err(), &Error::Truncated);
    // Reduced-size RTCP (RFC 5506): a lone PLI is a valid datagram.
    let pli = samples()[9].to_bytes().unwrap();
    assert_eq!(Compound::new(&pli).count(), 1);
}

#[test]
fn ssrcs_rewrite_in_place() {
    let mut bytes = Repr::Nack {
        sender: 1,
        media: 2,
        pairs: vec![(5, 0)],
    }
    .to_bytes()
    .unwrap();
    let mut p = Packet::new_checked(&mut bytes[..]).unwrap();
    p.set_sender_ssrc(0xAAAA_AAAA).unwrap();
    p.set_media_ssrc(0xBBBB_BBBB).unwrap();
    let p = Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(
        Repr::parse(&p).unwrap(),
        Repr::Nack {
            sender: 0xAAAA_AAAA,
            media: 0xBBBB_BBBB,
            pairs: vec![(5, 0)]
        }
    );
    let mut rr = samples()[1].to_bytes().unwrap();
    assert!(
        Packet::new_checked(&mut rr[..])
            .unwrap()
            .set_media_ssrc(1)
            .is_err()
    );
}

#[test]
fn chromium_srtcp_headers_from_the_capture() {
    // Frame 17 of tests/fixtures/chrome-loopback.pcap (tshark: RTPFB FMT 15, transport-cc),
    // SRTCP with AES_CM_128_HMAC_SHA1_80: the first 8 bytes are clear, then E+index and tag.
    let d = [
        0xaf, 0xcd, 0x00, 0x06, 0xfa, 0x17, 0xfa, 0x17, 0x01, 0x7e, 0xa0, 0x38, 0x74, 0x1a, 0x55,
        0x91, 0x85, 0x13, 0xd4, 0xc3, 0xf2, 0xb7, 0x65, 0x0d, 0x36, 0xeb, 0xb5, 0xc2, 0x80, 0x00,
        0x00, 0x01, 0x5d, 0xb2, 0xde, 0x79, 0x12, 0x68, 0x13, 0x09, 0x86, 0x6a,
    ];
    assert!(crate::wire::demux::is_rtcp(&d));
    let rtcp_len = d.len() - 4 - 10;
    let first = Compound::new(&d[..rtcp_len]).next().unwrap();
    // The padding byte is encrypted, so the view may refuse the padding; the header is clear.
    let (ty, fmt, len) = (
        d[1],
        d[0] & 0x1f,
        4 * (usize::from(u16::from_be_bytes([d[2], d[3]])) + 1),
    );
    assert_eq!((ty, fmt, len), (pt::RTPFB, 15, rtcp_len));
    if let Ok(p) = first {
        assert_eq!(p.sender_ssrc(), Some(0xfa17_fa17));
    }
    assert_eq!(
        u32::from_be_bytes([d[28], d[29], d[30], d[31]]),
        0x8000_0001,
        "E flag and SRTCP index 1"
    );
}

#[test]
fn malformed_packets_are_errors() {
    assert_eq!(
        Packet::new_checked(&[0x80u8, 200][..]).unwrap_err(),
        Error::Truncated
    );
    assert!(
        Packet::new_checked(&[0x40u8, 200, 0, 0][..]).is_err(),
        "version 1"
    );
    assert!(
        Packet::new_checked(&[0xA0u8, 201, 0, 1, 0, 0, 0, 9][..]).is_err(),
        "padding past the body"
    );
    let p = Packet::new_checked(&[0x81u8, 201, 0, 1, 0, 0, 0, 1][..]).unwrap();
    assert_eq!(
        Repr::parse(&p).unwrap_err(),
        Error::Truncated,
        "RR claims a block it lacks"
    );
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        for p in Compound::new(&bytes).flatten() {
            let _ = (p.count(), p.packet_type(), p.body(), p.sender_ssrc(), Repr::parse(&p));
        }
    }

    #[test]
    fn report_blocks_round_trip(ssrc in any::<u32>(), blocks in proptest::collection::vec(
        (any::<u32>(), any::<u8>(), -(1i32 << 23)..(1 << 23), any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()), 0..31)) {
        let reports: Vec<ReportBlock> = blocks.into_iter().map(|(s, f, c, h, j, l, d)| ReportBlock {
            ssrc: s, fraction_lost: f, cumulative_lost: c, highest_seq: h, jitter: j, lsr: l, dlsr: d }).collect();
        let r = Repr::ReceiverReport { ssrc, reports };
        let bytes = r.to_bytes().unwrap();
        prop_assert_eq!(Repr::parse(&Packet::new_checked(&bytes[..]).unwrap()).unwrap(), r);
    }

    #[test]
    fn nack_and_remb_round_trip(pairs in proptest::collection::vec((any::<u16>(), any::<u16>()), 0..20), mantissa in 0u64..(1 << 18), exp in 0u32..40) {
        let r = Repr::Nack { sender: 1, media: 2, pairs };
        let bytes = r.to_bytes().unwrap();
        prop_assert_eq!(Repr::parse(&Packet::new_checked(&bytes[..]).unwrap()).unwrap(), r);
        let r = Repr::Remb { sender: 1, bitrate: mantissa << exp, ssrcs: vec![3] };
        let bytes = r.to_bytes().unwrap();
        prop_assert_eq!(Repr::parse(&Packet::new_checked(&bytes[..]).unwrap()).unwrap(), r);
    }
}
