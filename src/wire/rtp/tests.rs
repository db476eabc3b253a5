use proptest::prelude::*;

use super::*;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Frame 15 of tests/fixtures/chrome-loopback.pcap: Chromium's Opus SRTP with three one-byte
/// extension elements (tshark: SSRC 0x39f4356f, seq 19743, PT 111, ts 2903788607, 0xBEDE).
const CHROME_SRTP: &str = "906f4d1fad144c3f39f4356fbede0003225c6b43310003403010ff004418446dd73884009d59d9820f73e6abe43a8f80e912db477ce2d2c97064f1cde006e29e1f0ea7023bb806f902";

#[test]
fn parses_a_real_chromium_packet() {
    let bytes = hex(CHROME_SRTP);
    let p = Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(
        (
            p.version(),
            p.marker(),
            p.payload_type(),
            p.sequence_number()
        ),
        (2, false, Pt(111), SeqNo(19743))
    );
    assert_eq!(
        (p.timestamp(), p.ssrc()),
        (2_903_788_607, Ssrc(0x39f4_356f))
    );
    assert_eq!(p.header_len(), 12 + 4 + 12);
    let ext: Vec<(u8, Vec<u8>)> = p.extensions().map(|(id, d)| (id, d.to_vec())).collect();
    // Chromium's audio extensions: id 2 abs-send-time (3 bytes), id 3 transport-cc (2 bytes),
    // id 1 audio level (1 byte) — as negotiated in tests/fixtures/chromium-offer.sdp.
    assert_eq!(
        ext,
        vec![
            (2, hex("5c6b43")),
            (3, hex("0003")),
            (4, hex("30")),
            (1, hex("ff"))
        ]
    );
    assert_eq!(header_len(&bytes).unwrap(), 28);
    assert_eq!(p.payload().len(), bytes.len() - 28);
}

#[test]
fn csrcs_two_byte_extensions_and_padding() {
    let csrcs = [0u8, 0, 0, 7, 0, 0, 0, 9];
    let ext = [1u8, 2, 0xAA, 0xBB, 5, 0, 0, 0]; // id 1 len 2; id 5 len 0; padding
    let repr = Repr {
        marker: true,
        payload_type: Pt(96),
        sequence_number: SeqNo(65535),
        timestamp: 7,
        ssrc: Ssrc(0x0102_0304),
        csrcs: &csrcs,
        extension: Some((TWO_BYTE_PROFILE, &ext)),
        padding: 3,
    };
    let mut buf = [0u8; 64];
    let n = repr.emit(&mut buf, b"hello").unwrap();
    assert_eq!(n, 12 + 8 + 4 + 8 + 5 + 3);
    let p = Packet::new_checked(&buf[..n]).unwrap();
    assert_eq!(p.csrcs().collect::<Vec<_>>(), vec![7, 9]);
    assert_eq!(
        p.extensions().collect::<Vec<_>>(),
        vec![(1, &[0xAA, 0xBB][..]), (5, &[][..])]
    );
    assert_eq!((p.payload(), p.padding_len()), (&b"hello"[..], 3));
    assert_eq!(Repr::parse(&p), repr);
}

#[test]
fn one_byte_extension_stops_at_id_15_and_skips_padding() {
    let ext = [0x10, 0xAA, 0, 0, 0x21, 1, 2, 0xF0, 9, 9, 9, 9];
    let repr = Repr {
        extension: Some((ONE_BYTE_PROFILE, &ext)),
        ..base()
    };
    let mut buf = [0u8; 64];
    let n = repr.emit(&mut buf, &[1]).unwrap();
    let p = Packet::new_checked(&buf[..n]).unwrap();
    assert_eq!(
        p.extensions().collect::<Vec<_>>(),
        vec![(1, &[0xAA][..]), (2, &[1, 2][..])]
    );
}

fn base() -> Repr<'static> {
    Repr {
        marker: false,
        payload_type: Pt(0),
        sequence_number: SeqNo(1),
        timestamp: 160,
        ssrc: Ssrc(5),
        csrcs: &[],
        extension: None,
        padding: 0,
    }
}

#[test]
fn setters_rewrite_in_place() {
    let mut buf = [0u8; 32];
    let n = base().emit(&mut buf, &[1, 2, 3]).unwrap();
    let mut p = Packet::new_checked(&mut buf[..n]).unwrap();
    p.set_payload_type(Pt(8));
    p.set_marker(true);
    p.set_ssrc(Ssrc(0xdead_beef));
    p.set_sequence_number(SeqNo(9));
    p.set_timestamp(11);
    p.payload_mut()[0] = 0xff;
    let p = Packet::new_checked(&buf[..n]).unwrap();
    assert_eq!(
        (
            p.payload_type(),
            p.marker(),
            p.ssrc(),
            p.sequence_number(),
            p.timestamp()
        ),
        (Pt(8), true, Ssrc(0xdead_beef), SeqNo(9), 11)
    );
    assert_eq!(p.payload(), &[0xff, 2, 3]);
}

#[test]
fn malformed_headers_are_errors() {
    let mut b = [0u8; 12];
    b[0] = 0x40;
    assert!(Packet::new_checked(&b[..]).is_err(), "version 1");
    b[0] = 0x81; // one CSRC, none present
    assert_eq!(Packet::new_checked(&b[..]).unwrap_err(), Error::Truncated);
    b[0] = 0x90; // extension, no header
    assert_eq!(Packet::new_checked(&b[..]).unwrap_err(), Error::Truncated);
    let mut padded = [0u8; 13];
    padded[0] = 0xA0;
    padded[12] = 5; // more padding than payload
    assert!(Packet::new_checked(&padded[..]).is_err());
    padded[12] = 0;
    assert!(
        Packet::new_checked(&padded[..]).is_err(),
        "zero padding count"
    );
    assert_eq!(
        Packet::new_checked(&[0x80u8; 11][..]).unwrap_err(),
        Error::Truncated
    );
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
        let _ = header_len(&bytes);
        if let Ok(p) = Packet::new_checked(&bytes[..]) {
            let _ = (p.marker(), p.payload_type(), p.sequence_number(), p.timestamp(), p.ssrc());
            let _ = p.csrcs().count();
            let _ = p.extensions().count();
            let _ = (p.payload(), p.extension_data(), Repr::parse(&p));
        }
    }

    #[test]
    fn emit_then_parse_round_trips(
        marker in any::<bool>(), pt in 0u8..128, seq in any::<u16>(), ts in any::<u32>(), ssrc in any::<u32>(),
        csrcs in proptest::collection::vec(any::<u8>(), 0..16).prop_map(|mut v| { v.truncate(v.len() / 4 * 4); v }),
        ext in proptest::option::of((any::<u16>(), proptest::collection::vec(any::<u8>(), 0..12).prop_map(|mut v| { v.truncate(v.len() / 4 * 4); v }))),
        payload in proptest::collection::vec(any::<u8>(), 0..200),
        padding in 0u8..8,
    ) {
        let repr = Repr {
            marker, payload_type: Pt(pt), sequence_number: SeqNo(seq), timestamp: ts, ssrc: Ssrc(ssrc),
            csrcs: &csrcs, extension: ext.as_ref().map(|(p, d)| (*p, &d[..])), padding,
        };
        let mut buf = vec![0u8; repr.buffer_len(payload.len())];
        let n = repr.emit(&mut buf, &payload).unwrap();
        let p = Packet::new_checked(&buf[..n]).unwrap();
        prop_assert_eq!(Repr::parse(&p), repr);
        prop_assert_eq!(p.payload(), &payload[..]);
    }
}
