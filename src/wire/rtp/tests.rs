//! RTP view tests: a real Chromium packet, hand-built headers, and properties checked against
//! rtc-rtp (webrtc-rs) as an independent codec.

use super::*;
use proptest::prelude::*;

/// Frame 9 of `tests/fixtures/chrome-loopback.pcap`: the first Opus SRTP packet (header in the
/// clear). tshark shows: V=2, X=1, CC=0, M=1, PT=111, seq 19741, ts 2903786687,
/// SSRC 0x39f4356f, profile 0xbede, 3 words, elements (2: 5c41d2) (3: 0001) (4: 30) (1: ff).
const CHROME_OPUS: &str = "90ef4d1dad1444bf39f4356fbede0003225c41d2310001403010ff00e56b1ad78aa645b2\
                           c487edd8810176fa0b41f05abc34ed2d88cbb4ea0c31842ffd3b1188e79a4e443a82";

fn chrome_opus() -> Vec<u8> {
    hex::decode(CHROME_OPUS).unwrap()
}

fn elements(packet: &Packet<&[u8]>) -> Vec<(u8, Vec<u8>)> {
    packet
        .extension_elements()
        .unwrap()
        .map(|e| e.map(|e| (e.id, e.data.to_vec())).unwrap())
        .collect()
}

#[test]
fn deconstruct_chrome_opus() {
    let bytes = chrome_opus();
    let p = Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(p.version(), 2);
    assert!(!p.padding());
    assert!(p.extension());
    assert_eq!(p.csrc_count(), 0);
    assert!(p.marker());
    assert_eq!(p.payload_type(), Pt(111));
    assert_eq!(p.sequence_number(), SeqNo(19741));
    assert_eq!(p.timestamp(), 2_903_786_687);
    assert_eq!(p.ssrc(), Ssrc(0x39f4_356f));
    assert_eq!(p.header_len(), 12 + 4 + 12);
    assert_eq!(header_len(&bytes), Ok(28));
    let ext = p.header_extension().unwrap();
    assert_eq!(ext.profile, 0xBEDE);
    assert_eq!(ext.data.len(), 12);
    let want: Vec<(u8, Vec<u8>)> = vec![
        (2, vec![0x5c, 0x41, 0xd2]),
        (3, vec![0x00, 0x01]),
        (4, vec![0x30]),
        (1, vec![0xff]),
    ];
    assert_eq!(elements(&p), want);
    assert_eq!(p.payload(), &bytes[28..]);
    assert_eq!(p.padding_len(), 0);
}

#[test]
fn chrome_opus_repr_emits_identical_bytes() {
    let bytes = chrome_opus();
    let p = Packet::new_checked(&bytes[..]).unwrap();
    let repr = Repr::parse(&p).unwrap();
    assert_eq!(repr.buffer_len(), bytes.len());
    let mut out = vec![0u8; bytes.len()];
    let n = repr
        .emit(&mut Packet::new_unchecked(&mut out[..]), p.payload())
        .unwrap();
    assert_eq!(n, bytes.len());
    assert_eq!(out, bytes);
}

#[test]
fn rewrite_in_place_touches_only_the_field() {
    let orig = chrome_opus();
    let mut bytes = orig.clone();
    let mut p = Packet::new_checked(&mut bytes[..]).unwrap();
    p.set_ssrc(Ssrc(0x0102_0304));
    p.set_payload_type(Pt(0));
    p.set_marker(false);
    p.set_sequence_number(SeqNo(0xfffe));
    p.set_timestamp(0xa0b0_c0d0);
    assert_eq!(p.ssrc(), Ssrc(0x0102_0304));
    assert_eq!(p.payload_type(), Pt(0));
    assert!(!p.marker());
    let mut want = orig.clone();
    want[1] = 0x00;
    want[2..4].copy_from_slice(&[0xff, 0xfe]);
    want[4..8].copy_from_slice(&[0xa0, 0xb0, 0xc0, 0xd0]);
    want[8..12].copy_from_slice(&[1, 2, 3, 4]);
    assert_eq!(bytes, want);
}

#[test]
fn payload_type_setter_keeps_marker() {
    let mut bytes = chrome_opus();
    let mut p = Packet::new_checked(&mut bytes[..]).unwrap();
    p.set_payload_type(Pt(0x80 | 8)); // only the low 7 bits count
    assert!(p.marker());
    assert_eq!(p.payload_type(), Pt(8));
    assert_eq!(bytes[1], 0x88);
}

#[test]
fn payload_mut_excludes_padding() {
    // V=2 P=1 CC=0, PT 0, 2 payload bytes, 3 padding bytes (count 3).
    let mut bytes = hex::decode("a000000100000002000000aa0102000003").unwrap();
    let mut p = Packet::new_checked(&mut bytes[..]).unwrap();
    assert_eq!(p.padding_len(), 3);
    assert_eq!(p.payload(), &[0x01, 0x02]);
    p.payload_mut().fill(0xee);
    assert_eq!(&bytes[12..], &[0xee, 0xee, 0, 0, 3]);
}

#[test]
fn csrcs_and_two_byte_extension() {
    // V=2 X=1 CC=2, M=0 PT=96, seq 1, ts 2, SSRC 3, CSRCs 0x0a0b0c0d and 0x11223344,
    // profile 0x1001 (two-byte, appbits 1), 3 words: (id 7, len 0), a padding octet, (id 200,
    // len 3: aabbcc), (id 1, len 2: 0102); payload "hi".
    let bytes = hex::decode(concat!(
        "92600001",
        "00000002",
        "00000003",
        "0a0b0c0d",
        "11223344", // fixed + CSRCs
        "10010003",
        "0700",
        "00",
        "c803aabbcc",
        "01020102", // extension
        "6869",
    ))
    .unwrap();
    let p = Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(p.csrc_count(), 2);
    assert_eq!(p.csrc(0), Some(Ssrc(0x0a0b_0c0d)));
    assert_eq!(p.csrc(1), Some(Ssrc(0x1122_3344)));
    assert_eq!(p.csrc(2), None);
    assert_eq!(
        p.csrcs().collect::<Vec<_>>(),
        [Ssrc(0x0a0b_0c0d), Ssrc(0x1122_3344)]
    );
    assert_eq!(p.header_extension().unwrap().profile, 0x1001);
    let want: Vec<(u8, Vec<u8>)> = vec![
        (7, vec![]),
        (200, vec![0xaa, 0xbb, 0xcc]),
        (1, vec![0x01, 0x02]),
    ];
    assert_eq!(elements(&p), want);
    assert_eq!(p.header_len(), 12 + 8 + 4 + 12);
    assert_eq!(p.payload(), b"hi");
}

#[test]
fn set_csrc_only_within_count() {
    let mut bytes = hex::decode("81000000000000000000000000000005").unwrap();
    let mut p = Packet::new_checked(&mut bytes[..]).unwrap();
    assert!(p.set_csrc(0, Ssrc(9)));
    assert!(!p.set_csrc(1, Ssrc(9)));
    assert_eq!(&bytes[12..], &[0, 0, 0, 9]);
}

#[test]
fn one_byte_id_15_stops_processing() {
    // Elements: (1: aa), then an ID 15 octet; the rest (which would be a valid element 2)
    // must be ignored (RFC 8285 §4.2).
    let ext = Extension {
        profile: 0xBEDE,
        data: &[0x10, 0xaa, 0xf0, 0x20, 0xbb, 0, 0, 0],
    };
    let got: Vec<_> = ext.elements().unwrap().map(|e| e.unwrap()).collect();
    assert_eq!(
        got,
        [Element {
            id: 1,
            data: &[0xaa]
        }]
    );
}

#[test]
fn one_byte_element_overrun_is_an_error_then_stops() {
    // ID 1 claims 4 data bytes but only 3 follow.
    let ext = Extension {
        profile: 0xBEDE,
        data: &[0x13, 1, 2, 3],
    };
    let mut it = ext.elements().unwrap();
    assert_eq!(it.next(), Some(Err(Error::Truncated)));
    assert_eq!(it.next(), None);
}

#[test]
fn two_byte_missing_length_is_an_error() {
    let ext = Extension {
        profile: 0x1000,
        data: &[0, 0, 0, 5],
    };
    let mut it = ext.elements().unwrap();
    assert_eq!(it.next(), Some(Err(Error::Truncated)));
    assert_eq!(it.next(), None);
}

#[test]
fn unknown_profile_is_unsupported() {
    let ext = Extension {
        profile: 0x1234,
        data: &[],
    };
    assert!(matches!(ext.elements(), Err(Error::Unsupported(_))));
}

#[test]
fn no_extension_means_no_elements() {
    let bytes = hex::decode("80000000000000000000000000").unwrap();
    let p = Packet::new_checked(&bytes[..]).unwrap();
    assert!(p.header_extension().is_none());
    assert_eq!(p.extension_elements().unwrap().count(), 0);
}

#[test]
fn rejects_bad_headers() {
    let cases: &[(&str, Error)] = &[
        ("", Error::Truncated),
        ("80000000000000000000", Error::Truncated), // 10 bytes
        (
            "40000000000000000000000000",
            Error::Unsupported("RTP version"),
        ),
        ("81000000000000000000000000", Error::Truncated), // CC=1, no CSRC
        ("900000000000000000000000bede", Error::Truncated), // X=1, half an ext header
        ("900000000000000000000000bede000100", Error::Truncated), // 1 word claimed, 1 byte
    ];
    for (hex, err) in cases {
        let bytes = hex::decode(hex).unwrap();
        assert_eq!(Packet::new_checked(&bytes[..]).err(), Some(*err), "{hex}");
    }
}

#[test]
fn rejects_bad_padding() {
    // P=1 with a zero count, and with a count longer than payload + padding.
    for hex in [
        "a000000000000000000000000100",
        "a000000000000000000000000105",
    ] {
        let bytes = hex::decode(hex).unwrap();
        assert!(
            matches!(Packet::new_checked(&bytes[..]), Err(Error::Malformed(_))),
            "{hex}"
        );
    }
    // P=1 on a bare header: the count octet would be in the header.
    let bytes = hex::decode("a0000000000000000000000c").unwrap();
    assert!(Packet::new_checked(&bytes[..]).is_err());
}

#[test]
fn padding_that_fills_the_whole_body_is_valid() {
    let bytes = hex::decode("a00000000000000000000000000004").unwrap();
    let bytes = [&bytes[..], &[0u8, 0, 0, 4]].concat();
    let p = Packet::new_checked(&bytes[..]).unwrap();
    assert!(p.payload().len() + p.padding_len() == bytes.len() - 12);
}

#[test]
fn seqno_arithmetic_wraps() {
    assert_eq!(SeqNo(0xffff).wrapping_add(1), SeqNo(0));
    assert_eq!(SeqNo(0).delta(SeqNo(0xffff)), 1);
    assert_eq!(SeqNo(0xffff).delta(SeqNo(0)), -1);
}

#[test]
fn emit_rejects_what_cannot_be_encoded() {
    let mut buf = [0u8; 64];
    let base = Repr {
        marker: false,
        payload_type: Pt(0),
        sequence_number: SeqNo(0),
        timestamp: 0,
        ssrc: Ssrc(0),
        csrcs: Csrcs::default(),
        extension: None,
        payload_len: 2,
        padding_len: 0,
    };
    let mut p = Packet::new_unchecked(&mut buf[..]);
    assert!(base.emit(&mut p, &[1]).is_err());
    let bad_pt = Repr {
        payload_type: Pt(128),
        ..base
    };
    assert!(bad_pt.emit(&mut p, &[1, 2]).is_err());
    let bad_ext = Repr {
        extension: Some(Extension {
            profile: 0xBEDE,
            data: &[1, 2, 3],
        }),
        ..base
    };
    assert!(bad_ext.emit(&mut p, &[1, 2]).is_err());
    let mut short = [0u8; 13];
    assert_eq!(
        base.emit(&mut Packet::new_unchecked(&mut short[..]), &[1, 2]),
        Err(Error::Truncated)
    );
    assert!(short.iter().all(|&b| b == 0), "nothing written on failure");
}

#[test]
fn csrcs_capacity() {
    assert!(Csrcs::from_slice(&[Ssrc(1); 15]).is_some());
    assert!(Csrcs::from_slice(&[Ssrc(1); 16]).is_none());
    assert_eq!(
        Csrcs::from_slice(&[Ssrc(7)]).unwrap().as_slice(),
        &[Ssrc(7)]
    );
}

/// Calls every accessor; used on arbitrary bytes, where only the absence of panics matters.
fn touch_everything<T: AsRef<[u8]>>(p: &Packet<T>) {
    let _ = (p.version(), p.padding(), p.extension(), p.csrc_count());
    let _ = (p.marker(), p.payload_type(), p.sequence_number());
    let _ = (p.timestamp(), p.ssrc(), p.header_len(), p.padding_len());
    let _ = (p.csrcs().count(), p.csrc(3), p.payload().len());
    let _ = p.header_extension();
    if let Ok(it) = p.extension_elements() {
        it.for_each(drop);
    }
    let _ = Repr::parse(p);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..=1500)) {
        touch_everything(&Packet::new_unchecked(&bytes[..]));
        if let Ok(p) = Packet::new_checked(&bytes[..]) {
            touch_everything(&p);
            prop_assert!(p.header_len() + p.payload().len() + p.padding_len() == bytes.len());
        }
        let mut copy = bytes.clone();
        let mut p = Packet::new_unchecked(&mut copy[..]);
        p.set_ssrc(Ssrc(1));
        p.set_payload_type(Pt(1));
        p.set_sequence_number(SeqNo(1));
        p.set_timestamp(1);
        p.set_marker(true);
        p.set_csrc(0, Ssrc(1));
        p.payload_mut().fill(0);
    }

    #[test]
    fn rtp_header_biased_bytes_never_panic(
        first in 0x80u8..=0xbf,
        rest in proptest::collection::vec(any::<u8>(), 0..=80),
    ) {
        // Valid version with random flags reaches the CSRC/extension/padding paths.
        let bytes = [&[first][..], &rest].concat();
        touch_everything(&Packet::new_unchecked(&bytes[..]));
    }

    #[test]
    fn repr_emit_parse_round_trip(
        marker in any::<bool>(),
        pt in 0u8..128,
        seq in any::<u16>(),
        ts in any::<u32>(),
        ssrc in any::<u32>(),
        csrcs in proptest::collection::vec(any::<u32>(), 0..=15),
        ext in proptest::option::of((any::<u16>(), proptest::collection::vec(any::<u8>(), 0..=16))),
        payload in proptest::collection::vec(any::<u8>(), 0..=300),
        padding_len in any::<u8>(),
    ) {
        let csrcs: Vec<Ssrc> = csrcs.into_iter().map(Ssrc).collect();
        // Extension data is a whole number of words.
        let ext_data: Vec<u8> = ext.as_ref().map(|(_, d)| {
            let mut d = d.clone();
            d.resize(d.len() / 4 * 4, 0);
            d
        }).unwrap_or_default();
        let repr = Repr {
            marker,
            payload_type: Pt(pt),
            sequence_number: SeqNo(seq),
            timestamp: ts,
            ssrc: Ssrc(ssrc),
            csrcs: Csrcs::from_slice(&csrcs).unwrap(),
            extension: ext.map(|(profile, _)| Extension { profile, data: &ext_data }),
            payload_len: payload.len(),
            padding_len,
        };
        let mut buf = vec![0u8; repr.buffer_len() + 7];
        let n = repr.emit(&mut Packet::new_unchecked(&mut buf[..]), &payload).unwrap();
        prop_assert_eq!(n, repr.buffer_len());
        let p = Packet::new_checked(&buf[..n]).unwrap();
        prop_assert_eq!(Repr::parse(&p).unwrap(), repr);
        prop_assert_eq!(p.payload(), &payload[..]);
        prop_assert_eq!(header_len(&buf[..n]), Ok(repr.header_len()));

        // Independent oracle: rtc-rtp reads the same header and payload.
        let theirs = <rtc_rtp::Packet as rtc_shared::marshal::Unmarshal>::unmarshal(&mut &buf[..n]);
        let theirs = theirs.unwrap();
        prop_assert_eq!(theirs.header.ssrc, ssrc);
        prop_assert_eq!(theirs.header.sequence_number, seq);
        prop_assert_eq!(theirs.header.timestamp, ts);
        prop_assert_eq!(theirs.header.payload_type, pt);
        prop_assert_eq!(theirs.header.marker, marker);
        prop_assert_eq!(theirs.header.csrc, csrcs.iter().map(|c| c.0).collect::<Vec<_>>());
        prop_assert_eq!(&theirs.payload[..], &payload[..]);
    }

    #[test]
    fn elements_match_rtc_rtp(
        two_byte in any::<bool>(),
        elems in proptest::collection::vec((1u8..=14, proptest::collection::vec(any::<u8>(), 1..=16)), 0..=6),
    ) {
        // rtc-rtp builds the extension block (its own element and padding layout); we parse it.
        use rtc_shared::marshal::Marshal;
        let profile = if two_byte { 0x1000 } else { 0xBEDE };
        let header = rtc_rtp::Header {
            version: 2,
            extension: !elems.is_empty(),
            extension_profile: profile,
            extensions: elems
                .iter()
                .map(|(id, d)| rtc_rtp::header::Extension { id: *id, payload: d.clone().into() })
                .collect(),
            ..Default::default()
        };
        let bytes = header.marshal().unwrap();
        let p = Packet::new_checked(&bytes[..]).unwrap();
        prop_assert_eq!(elements(&p), elems);
    }
}
