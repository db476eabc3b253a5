//! RFC 7983 demux, RTP and RTCP views over every datagram of a real Chromium-to-Chromium call
//! (`tests/fixtures/chrome-loopback.pcap`). The expected numbers were read from the capture with
//! tshark, e.g.
//! `tshark -r tests/fixtures/chrome-loopback.pcap -d udp.port==38597,rtp
//!  -T fields -e rtp.ssrc -e rtp.seq -e rtp.p_type -e rtcp.pt -e rtcp.senderssrc`.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;

use ferry::wire::demux::{Kind, classify, is_rtcp};
use ferry::wire::rtcp::{self, PacketType};
use ferry::wire::rtp::{self, Pt, SeqNo, Ssrc};

/// SRTCP trailer with AES_CM_128_HMAC_SHA1_80: E flag + index (4) and the tag (10).
const SRTCP_TRAILER: usize = 4 + 10;
/// Chromium's browser media port in this capture: the Opus sender.
const SENDER_PORT: u16 = 38597;

fn datagrams() -> Vec<common::Datagram> {
    common::udp_datagrams("chrome-loopback.pcap")
}

#[test]
fn classify_every_datagram() {
    let mut kinds: HashMap<Kind, usize> = HashMap::new();
    for d in datagrams() {
        *kinds.entry(classify(&d.payload)).or_default() += 1;
    }
    // tshark: 24 STUN, 250 RTP + 83 RTCP; the remaining 4 are DTLS 1.2 handshake records and
    // DTLS 1.3 unified headers (first bytes 0x16 x2, 0x2e, 0x2f).
    assert_eq!(kinds.get(&Kind::Stun), Some(&24));
    assert_eq!(kinds.get(&Kind::RtpOrRtcp), Some(&333));
    assert_eq!(kinds.get(&Kind::Dtls), Some(&4));
    assert_eq!(kinds.values().sum::<usize>(), 361);
}

fn rtp_and_rtcp() -> (Vec<common::Datagram>, Vec<common::Datagram>) {
    datagrams()
        .into_iter()
        .filter(|d| classify(&d.payload) == Kind::RtpOrRtcp)
        .partition(|d| !is_rtcp(&d.payload))
}

#[test]
fn rtp_vs_rtcp_split_matches_tshark() {
    let (rtp, rtcp) = rtp_and_rtcp();
    assert_eq!(rtp.len(), 250);
    assert_eq!(rtcp.len(), 83);
}

#[test]
fn srtp_headers_parse_and_form_one_stream_per_direction() {
    let (rtp, _) = rtp_and_rtcp();
    let mut streams: HashMap<(SocketAddr, SocketAddr), Vec<rtp::Packet<&[u8]>>> = HashMap::new();
    for d in &rtp {
        let p = rtp::Packet::new_checked(&d.payload[..]).expect("SRTP header parses");
        streams.entry((d.src, d.dst)).or_default().push(p);
    }
    // Only the 38597 side sends audio in this capture.
    assert_eq!(streams.len(), 1);
    let (&(src, _), packets) = streams.iter().next().unwrap();
    assert_eq!(src.port(), SENDER_PORT);
    assert!(packets.iter().all(|p| p.ssrc() == Ssrc(0x39f4_356f)));
    assert!(packets.iter().all(|p| p.payload_type() == Pt(111)));
    assert_eq!(packets[0].sequence_number(), SeqNo(19741));
    assert_eq!(packets[249].sequence_number(), SeqNo(19990));
    assert_eq!(packets[0].timestamp(), 2_903_786_687);
    // Only the first packet of the talkspurt carries the marker.
    let markers: Vec<usize> = (0..packets.len())
        .filter(|&i| packets[i].marker())
        .collect();
    assert_eq!(markers, [0]);
    for w in packets.windows(2) {
        assert_eq!(w[1].sequence_number().delta(w[0].sequence_number()), 1);
        // 20 ms of 48 kHz Opus per packet.
        assert_eq!(w[1].timestamp().wrapping_sub(w[0].timestamp()), 960);
    }
}

#[test]
fn srtp_header_extensions_match_tshark() {
    let (rtp, _) = rtp_and_rtcp();
    let mut id_lists: HashMap<Vec<u8>, usize> = HashMap::new();
    let mut transport_seqs = Vec::new();
    for d in &rtp {
        let p = rtp::Packet::new_checked(&d.payload[..]).unwrap();
        let ext = p
            .header_extension()
            .expect("Chromium always sends extensions");
        assert_eq!(ext.profile, 0xBEDE);
        assert_eq!(ext.data.len(), 12);
        assert_eq!(rtp::header_len(&d.payload), Ok(28));
        let elements: Vec<_> = ext.elements().unwrap().map(|e| e.unwrap()).collect();
        *id_lists
            .entry(elements.iter().map(|e| e.id).collect())
            .or_default() += 1;
        // ID 3 is the transport-wide sequence number (2 bytes).
        let twcc = elements.iter().find(|e| e.id == 3).unwrap();
        transport_seqs.push(u16::from_be_bytes(twcc.data.try_into().unwrap()));
    }
    // tshark -e rtp.ext.rfc5285.id: 129 x "2,3,1" and 121 x "2,3,4,1".
    assert_eq!(id_lists.get(&vec![2, 3, 1]), Some(&129));
    assert_eq!(id_lists.get(&vec![2, 3, 4, 1]), Some(&121));
    // tshark -e rtp.ext.rfc5285.data: 0001 in the first packet, 00fa in the last, in order.
    assert_eq!(transport_seqs, (1..=250).collect::<Vec<u16>>());
}

#[test]
fn srtcp_first_headers_are_valid() {
    let (_, rtcp) = rtp_and_rtcp();
    let mut seen: HashMap<(u16, u8, u8, u32), usize> = HashMap::new();
    for d in &rtcp {
        let clear = &d.payload[..d.payload.len() - SRTCP_TRAILER];
        let p = rtcp::Packet::new_checked(clear).expect("first RTCP header parses");
        assert!(p.packet_len() <= clear.len());
        assert!(matches!(u8::from(p.packet_type()), 200..=206));
        // RFC 3711 §3.4: the E flag leads the trailer; Chromium encrypts all SRTCP.
        assert_eq!(d.payload[clear.len()] & 0x80, 0x80);
        let ssrc = rtcp::first_sender_ssrc(&d.payload).unwrap();
        let key = (d.src.port(), u8::from(p.packet_type()), p.count(), ssrc.0);
        *seen.entry(key).or_default() += 1;
        if p.packet_type() == PacketType::TransportFeedback {
            // Reduced-size: the transport-wide feedback is the whole compound.
            assert_eq!(p.packet_len(), clear.len());
        }
    }
    // tshark -e rtcp.pt -e rtcp.senderssrc: one SR from the sender, one RR and 81 transport-wide
    // feedback packets from the receiver (its receive-only SSRC 0xfa17fa17).
    let want: HashMap<(u16, u8, u8, u32), usize> = [
        ((SENDER_PORT, 200, 0, 0x39f4_356f), 1),
        ((60191, 201, 1, 0xfa17_fa17), 1),
        ((60191, 205, 15, 0xfa17_fa17), 81),
    ]
    .into_iter()
    .collect();
    assert_eq!(seen, want);
}

#[test]
fn srtcp_lengths_match_tshark() {
    let (_, rtcp) = rtp_and_rtcp();
    let mut lengths: HashMap<(u8, u16), usize> = HashMap::new();
    for d in &rtcp {
        let p = rtcp::Packet::new_checked(&d.payload[..]).unwrap();
        *lengths
            .entry((u8::from(p.packet_type()), p.length()))
            .or_default() += 1;
    }
    // tshark -e rtcp.length: SR 6, RR 7, transport-wide CC 6 (76 times) and 5 (5 times).
    let want: HashMap<(u8, u16), usize> =
        [((200, 6), 1), ((201, 7), 1), ((205, 6), 76), ((205, 5), 5)]
            .into_iter()
            .collect();
    assert_eq!(lengths, want);
}
