//! RFC 7983 first-byte demultiplexing of a UDP port shared by STUN, DTLS and SRTP.
//!
//! ```text
//!  0..=3     STUN        16..=19  ZRTP      20..=63  DTLS
//!  64..=79   TURN chan   128..=191 RTP/RTCP  else    unknown
//! ```

/// What a datagram on a muxed port is, by its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// STUN (RFC 5389), first byte 0..=3.
    Stun,
    /// ZRTP, first byte 16..=19 (never used by WebRTC; dropped).
    Zrtp,
    /// DTLS record, first byte 20..=63.
    Dtls,
    /// TURN ChannelData, first byte 64..=79.
    TurnChannel,
    /// RTP or RTCP, first byte 128..=191.
    RtpOrRtcp,
    /// Anything else, including an empty datagram.
    Other,
}

/// Classifies a datagram by its first byte (RFC 7983 §7).
#[inline]
pub fn classify(packet: &[u8]) -> Kind {
    match packet.first() {
        Some(0..=3) => Kind::Stun,
        Some(16..=19) => Kind::Zrtp,
        Some(20..=63) => Kind::Dtls,
        Some(64..=79) => Kind::TurnChannel,
        Some(128..=191) => Kind::RtpOrRtcp,
        _ => Kind::Other,
    }
}

/// Whether an RTP-range datagram is RTCP: RFC 5761 §4, the second byte (payload type with
/// the marker bit) is 192..=223 for RTCP packet types (SR 200 ... PSFB 206, XR 207, and the
/// reserved 192/193 for FIR/NACK of RFC 2032).
#[inline]
pub fn is_rtcp(packet: &[u8]) -> bool {
    matches!(packet.get(1), Some(192..=223))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_byte_ranges() {
        let cases = [
            (0u8, Kind::Stun),
            (3, Kind::Stun),
            (4, Kind::Other),
            (16, Kind::Zrtp),
            (20, Kind::Dtls),
            (63, Kind::Dtls),
            (64, Kind::TurnChannel),
            (79, Kind::TurnChannel),
            (80, Kind::Other),
            (127, Kind::Other),
            (128, Kind::RtpOrRtcp),
            (191, Kind::RtpOrRtcp),
            (192, Kind::Other),
        ];
        for (b, k) in cases {
            assert_eq!(classify(&[b, 0]), k, "{b}");
        }
        assert_eq!(classify(&[]), Kind::Other);
    }

    #[test]
    fn rtcp_by_payload_type() {
        assert!(is_rtcp(&[0x80, 200]) && is_rtcp(&[0x81, 206]) && is_rtcp(&[0x80, 207]));
        // PT 111 with and without the marker bit, and PT 0: RTP.
        assert!(!is_rtcp(&[0x80, 111]) && !is_rtcp(&[0x80, 0xEF]) && !is_rtcp(&[0x80, 0]));
        assert!(!is_rtcp(&[0x80]));
    }
}
