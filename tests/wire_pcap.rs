//! Every datagram of a real Chromium-to-Chromium call (tests/fixtures/chrome-loopback.pcap)
//! through the wire views: STUN checks and answers, the DTLS handshake, SRTP and SRTCP.
mod common;

use std::collections::HashMap;
use std::net::SocketAddr;

use ferry::wire::demux::{Kind, classify, is_rtcp};
use ferry::wire::dtls::{self, Handshake, Record, Records};
use ferry::wire::{rtp, stun};

fn datagrams() -> Vec<common::Datagram> {
    common::udp_datagrams("chrome-loopback.pcap")
}

#[test]
fn every_datagram_is_classified_and_parses() {
    let mut kinds: HashMap<&str, usize> = HashMap::new();
    for d in datagrams() {
        let p = &d.payload;
        let k = match classify(p) {
            Kind::Stun => {
                stun::Message::new_checked(p).expect("STUN parses");
                "stun"
            }
            Kind::Dtls => {
                assert!(
                    Records::new(p).all(|r| r.is_ok()),
                    "every DTLS record delimits"
                );
                "dtls"
            }
            Kind::RtpOrRtcp if is_rtcp(p) => "rtcp",
            Kind::RtpOrRtcp => {
                rtp::Packet::new_checked(&p[..]).expect("SRTP header parses");
                "rtp"
            }
            other => panic!("unexpected {other:?}"),
        };
        *kinds.entry(k).or_default() += 1;
    }
    // Counts as tshark shows them for this capture.
    let want: HashMap<&str, usize> = [("stun", 24), ("dtls", 4), ("rtp", 250), ("rtcp", 83)].into();
    assert_eq!(kinds, want);
}

#[test]
fn chromium_ice_checks_and_answers() {
    let mut requests = 0;
    for d in datagrams()
        .iter()
        .filter(|d| classify(&d.payload) == Kind::Stun)
    {
        let m = stun::Message::new_checked(&d.payload).unwrap();
        m.verify_fingerprint()
            .expect("Chromium's FINGERPRINT verifies");
        assert_eq!(m.message_integrity().map(<[u8]>::len), Some(20));
        match m.class() {
            stun::Class::Request => {
                requests += 1;
                let user = std::str::from_utf8(m.username().unwrap()).unwrap();
                assert!(user == "S98V:EF/I" || user == "EF/I:S98V", "{user}");
                assert!(m.priority().is_some());
                assert!(m.ice_controlling().is_some() ^ m.ice_controlled().is_some());
            }
            stun::Class::Success => {
                // The answer reflects where the request came from: the answerer's peer.
                assert_eq!(
                    m.xor_mapped_address(),
                    Some(d.dst),
                    "XOR-MAPPED-ADDRESS of {d:?}"
                );
            }
            c => panic!("unexpected class {c:?}"),
        }
    }
    assert_eq!(requests, 12);
}

#[test]
fn dtls_handshake_flights() {
    let dtls: Vec<_> = datagrams()
        .into_iter()
        .filter(|d| classify(&d.payload) == Kind::Dtls)
        .collect();
    assert!(dtls::is_client_hello(&dtls[0].payload));
    assert!(!dtls::is_client_hello(&dtls[1].payload));
    let (rec, _) = Record::parse(&dtls[0].payload).unwrap();
    let Record::Plain {
        content_type: 22,
        epoch: 0,
        fragment,
        ..
    } = rec
    else {
        panic!("{rec:?}")
    };
    let hello = Handshake::parse(fragment).unwrap();
    // tshark: ClientHello, length 191, one fragment.
    assert_eq!(
        (
            hello.msg_type,
            hello.length,
            hello.fragment_offset,
            hello.fragment_length
        ),
        (1, 191, 0, 191)
    );
    // The server's first flight packs a plaintext ServerHello and DTLS 1.3 ciphertext records.
    let recs: Vec<Record<'_>> = Records::new(&dtls[1].payload).map(Result::unwrap).collect();
    assert!(recs.len() >= 2);
    assert!(matches!(
        recs[0],
        Record::Plain {
            content_type: 22,
            ..
        }
    ));
    assert!(
        recs[1..]
            .iter()
            .all(|r| matches!(r, Record::Unified { .. }))
    );
}

/// Chromium 156 with its post-quantum key share sends a ClientHello of about 1.4 kB in two
/// fragments. This capture's is 191 bytes, so split it the way Chromium does and check the
/// fragments describe the whole message.
#[test]
fn a_fragmented_client_hello_is_recognised_and_reassembles() {
    let first = datagrams()
        .into_iter()
        .find(|d| dtls::is_client_hello(&d.payload))
        .unwrap();
    let (Record::Plain { fragment, .. }, _) = Record::parse(&first.payload).unwrap() else {
        panic!()
    };
    let whole = Handshake::parse(fragment).unwrap();
    let cut = 120;
    let mut datagrams = Vec::new();
    for (i, (off, part)) in [(0, &whole.body[..cut]), (cut, &whole.body[cut..])]
        .into_iter()
        .enumerate()
    {
        let hs = Handshake {
            fragment_offset: off as u32,
            fragment_length: part.len() as u32,
            body: part,
            ..whole
        };
        let mut body = Vec::new();
        hs.emit_header(&mut body);
        body.extend(part);
        let mut d = Vec::new();
        dtls::emit_record_header(&mut d, 22, 0xfefd, 0, i as u64, body.len() as u16);
        d.extend(body);
        datagrams.push(d);
    }
    assert!(
        datagrams.iter().all(|d| dtls::is_client_hello(d)),
        "both fragments are recognised"
    );
    let mut rebuilt = vec![0u8; whole.length as usize];
    for d in &datagrams {
        let (Record::Plain { fragment, .. }, _) = Record::parse(d).unwrap() else {
            panic!()
        };
        let h = Handshake::parse(fragment).unwrap();
        rebuilt[h.fragment_offset as usize..][..h.body.len()].copy_from_slice(h.body);
    }
    assert_eq!(rebuilt, whole.body);
}

#[test]
fn srtp_streams_are_consistent_per_direction() {
    let mut last: HashMap<(SocketAddr, u32), u16> = HashMap::new();
    let mut in_order = 0;
    let mut total = 0;
    for d in datagrams()
        .iter()
        .filter(|d| classify(&d.payload) == Kind::RtpOrRtcp)
    {
        if is_rtcp(&d.payload) {
            let p = &d.payload;
            // SRTCP: a compound whose first header is clear, then E+index (4) and an 80-bit
            // tag; Chromium encrypts (E set).
            let first_len = 4 * (usize::from(u16::from_be_bytes([p[2], p[3]])) + 1);
            assert!(first_len + 4 + 10 <= p.len(), "SRTCP framing");
            assert!(p[p.len() - 14] & 0x80 != 0, "E flag");
            assert!((200..=206).contains(&p[1]), "SR..PSFB");
            continue;
        }
        let pkt = rtp::Packet::new_checked(&d.payload[..]).unwrap();
        assert_eq!(pkt.payload_type(), rtp::Pt(111), "Opus");
        let key = (d.src, pkt.ssrc().0);
        if let Some(prev) = last.insert(key, pkt.sequence_number().0) {
            total += 1;
            if pkt.sequence_number().0 == prev.wrapping_add(1) {
                in_order += 1;
            }
        }
    }
    // Only one side sends audio in this capture (tshark agrees): one SSRC.
    assert_eq!(last.len(), 1);
    assert!(
        in_order * 100 >= total * 95,
        "{in_order}/{total} consecutive"
    );
}
