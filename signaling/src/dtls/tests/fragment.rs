//! RFC 6347 §4.2.3: a ClientHello split over two datagrams is reassembled.

use super::*;

/// Splits a datagram holding one handshake record into two records (one per datagram), the
/// message cut at `at` (RFC 6347 §4.2.3 fragment_offset/fragment_length), with record sequence
/// numbers `seq` and `seq + 1`.
fn split_handshake(d: &[u8], at: usize, seq: u64) -> Vec<Vec<u8>> {
    let len = usize::from(u16::from_be_bytes([d[11], d[12]]));
    assert_eq!(d.len(), 13 + len, "one record");
    let (rec, hs) = (&d[..13], &d[13..]);
    let msg_len = u32::from_be_bytes([0, hs[1], hs[2], hs[3]]) as usize;
    assert_eq!(hs.len(), 12 + msg_len, "one unfragmented message");
    let body = &hs[12..];
    let mut out = Vec::new();
    for (i, (off, part)) in [(0, &body[..at]), (at, &body[at..])]
        .into_iter()
        .enumerate()
    {
        let mut r = rec.to_vec();
        r[5..11].copy_from_slice(&(seq + i as u64).to_be_bytes()[2..]);
        r[11..13].copy_from_slice(&((12 + part.len()) as u16).to_be_bytes());
        r.extend_from_slice(&hs[..6]); // type, length, message_seq
        r.extend_from_slice(&(off as u32).to_be_bytes()[1..]);
        r.extend_from_slice(&(part.len() as u32).to_be_bytes()[1..]);
        r.extend_from_slice(part);
        out.push(r);
    }
    out
}

#[test]
fn our_client_hello_in_two_fragments_completes_the_handshake() {
    let now = Instant::now();
    let mut peers = pair(now, DtlsTimers::default());
    let mut link = Link::new(now, Duration::from_millis(300));
    // A middlebox that fragments every ClientHello and renumbers the client's epoch-0 records,
    // so the extra record keeps sequence numbers unique (the replay window would drop repeats).
    let mut next_seq = 0u64;
    link.rewrite = Box::new(move |from, d| {
        if from != 0 {
            return vec![d];
        }
        if kind(&d) == Kind::ClientHello {
            let out = split_handshake(&d, 100, next_seq);
            next_seq += 2;
            return out;
        }
        let mut d = d;
        let mut at = 0;
        while at + 13 <= d.len() {
            if d[at + 3..at + 5] == [0, 0] {
                d[at + 5..at + 11].copy_from_slice(&next_seq.to_be_bytes()[2..]);
                next_seq += 1;
            }
            at += 13 + usize::from(u16::from_be_bytes([d[at + 11], d[at + 12]]));
        }
        vec![d]
    });
    link.run(&mut peers, Duration::from_secs(60));
    link.assert_connected();
    assert_eq!(
        link.count(0, Kind::ClientHello),
        4,
        "two ClientHellos, two fragments each"
    );
    assert_eq!(peers[0].retransmissions(), 0);
}

/// The first DTLS datagram of a capture: Chromium 156's real ClientHello.
fn chromium_client_hello() -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/chrome-loopback.pcap"
    );
    let pcap = std::fs::read(path).expect("fixture");
    let mut off = 24; // pcap global header; records follow (Ethernet link type)
    while off + 16 <= pcap.len() {
        let incl = u32::from_le_bytes(pcap[off + 8..off + 12].try_into().unwrap()) as usize;
        let frame = &pcap[off + 16..off + 16 + incl];
        off += 16 + incl;
        if frame[12..14] != [0x08, 0x00] || frame[23] != 17 {
            continue; // IPv4 UDP only
        }
        let udp = &frame[14 + usize::from(frame[14] & 15) * 4..];
        let ulen = usize::from(u16::from_be_bytes([udp[4], udp[5]]));
        let payload = &udp[8..ulen];
        if kind(payload) == Kind::ClientHello {
            return payload.to_vec();
        }
    }
    panic!("no ClientHello in the capture");
}

#[test]
fn chromium_client_hello_in_two_fragments_gets_an_answer() {
    let now = Instant::now();
    let (c, s) = certs();
    let hello = chromium_client_hello();
    let mut server = DtlsSession::new(Role::Server, s, fp(c), DtlsTimers::default(), now).unwrap();
    let [first, second] = <[Vec<u8>; 2]>::try_from(split_handshake(&hello, 96, 0)).unwrap();
    server.handle_datagram(now, &first).unwrap();
    assert_eq!(
        server.poll_transmit(),
        None,
        "half a ClientHello gets no answer"
    );
    server.handle_datagram(now, &second).unwrap();
    let answer = server
        .poll_transmit()
        .expect("an answer to the reassembled ClientHello");
    assert_eq!(kind(&answer), Kind::HelloVerifyRequest);
    // HelloVerifyRequest body: server_version(2) cookie<0..2^8-1> (RFC 6347 §4.2.1).
    assert!(answer[25 + 2] > 0, "a cookie to echo");
    assert!(server.poll_event().is_none());
}
