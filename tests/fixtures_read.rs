//! The capture fixtures are readable and hold what the other tests expect of them.
mod common;

#[test]
fn chrome_capture_has_stun_dtls_and_srtp() {
    let dgrams = common::udp_datagrams("chrome-loopback.pcap");
    assert_eq!(dgrams.len(), 361);
    // RFC 7983 ranges: STUN 0..=3, DTLS 20..=63, RTP/RTCP 128..=191.
    let first = |lo: u8, hi: u8| {
        dgrams
            .iter()
            .filter(|d| (lo..=hi).contains(&d.payload[0]))
            .count()
    };
    assert!(first(0, 3) > 10, "STUN checks present");
    assert!(first(20, 63) >= 4, "DTLS handshake present");
    assert!(first(128, 191) > 100, "SRTP/SRTCP present");
}
