//! First-byte demultiplexing of one UDP port shared by STUN, DTLS and SRTP (RFC 7983).
//!
//! WebRTC puts ICE, the DTLS handshake and media on a single 5-tuple. The first byte of each
//! datagram tells the protocols apart: RFC 7983 §7 partitions its value range, and RFC 5761 §4
//! separates RTP from RTCP once both are muxed onto the same port. Both checks are a byte compare,
//! so they run on every packet before any parsing.

/// What a datagram is, judged by its first byte (RFC 7983 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// STUN message (ICE connectivity checks): first byte 0..=3.
    Stun,
    /// ZRTP: first byte 16..=19. Not used by WebRTC; recognised so it is not taken for DTLS.
    Zrtp,
    /// DTLS record, including DTLS 1.3 unified headers: first byte 20..=63.
    Dtls,
    /// TURN ChannelData message: first byte 64..=79.
    TurnChannel,
    /// RTP or RTCP (version 2): first byte 128..=191. Use [`is_rtcp`] to tell which.
    RtpOrRtcp,
    /// Empty, or a first byte no protocol on this port may use: drop it.
    Other,
}

/// Classifies a datagram by its first byte (RFC 7983 §7); an empty datagram is [`Kind::Other`].
#[inline]
pub fn classify(packet: &[u8]) -> Kind {
    match packet.first() {
        // RFC 7983 §7: the ranges below are the whole table; 4..=15, 80..=127 and 192..=255 drop.
        Some(0..=3) => Kind::Stun,
        Some(16..=19) => Kind::Zrtp,
        Some(20..=63) => Kind::Dtls,
        Some(64..=79) => Kind::TurnChannel,
        Some(128..=191) => Kind::RtpOrRtcp,
        _ => Kind::Other,
    }
}

/// Whether an RTP-range datagram is RTCP rather than RTP, for RTP/RTCP muxed on one port.
///
/// RFC 5761 §4: RTCP packet types 192..=223 never collide with RTP payload types once the marker
/// bit is masked, because RTP payload types 64..=95 are not used when muxing. Returns `false` for
/// a packet shorter than two bytes. Call it only on packets [`classify`] called
/// [`Kind::RtpOrRtcp`]: it does not look at the version bits.
#[inline]
pub fn is_rtcp(packet: &[u8]) -> bool {
    // RFC 5761 §4: second byte with the marker bit cleared; RTCP types are 192..=223 (64..=95).
    matches!(packet.get(1), Some(b) if (64..=95).contains(&(b & 0x7f)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_every_first_byte_per_rfc7983_table() {
        // Oracle: the RFC 7983 §7 table, written out as explicit ranges independent of the match.
        for b in 0..=255u8 {
            let want = if b <= 3 {
                Kind::Stun
            } else if (16..=19).contains(&b) {
                Kind::Zrtp
            } else if (20..=63).contains(&b) {
                Kind::Dtls
            } else if (64..=79).contains(&b) {
                Kind::TurnChannel
            } else if (128..=191).contains(&b) {
                Kind::RtpOrRtcp
            } else {
                Kind::Other
            };
            assert_eq!(classify(&[b, 0, 0, 0]), want, "first byte {b}");
        }
    }

    #[test]
    fn classify_empty_is_other() {
        assert_eq!(classify(&[]), Kind::Other);
    }

    #[test]
    fn real_first_bytes() {
        // STUN binding request (RFC 5769 §2.1 sample starts 0x00 0x01).
        assert_eq!(classify(&[0x00, 0x01, 0x00, 0x58]), Kind::Stun);
        // DTLS 1.2 handshake record header: content type 22, version 0xfefd.
        assert_eq!(classify(&[22, 0xfe, 0xfd]), Kind::Dtls);
        // DTLS 1.3 unified header (first bits 001), as Chromium sends after the handshake.
        assert_eq!(classify(&[0x2f, 0x44, 0xd6]), Kind::Dtls);
        // Opus RTP from the fixture capture: 0x90 0xef (marker set, PT 111).
        assert_eq!(classify(&[0x90, 0xef]), Kind::RtpOrRtcp);
        assert!(!is_rtcp(&[0x90, 0xef]));
        assert!(!is_rtcp(&[0x90, 0x6f]));
    }

    #[test]
    fn rtcp_types_are_rtcp() {
        for pt in 192..=223u8 {
            assert!(is_rtcp(&[0x80, pt]), "PT {pt}");
        }
        // SR, RR, SDES, BYE, APP, RTPFB, PSFB, XR as numbers from RFC 3550/4585/3611.
        for pt in [200u8, 201, 202, 203, 204, 205, 206, 207] {
            assert!(is_rtcp(&[0x81, pt]));
        }
    }

    #[test]
    fn rtp_payload_types_are_not_rtcp() {
        // Every RTP payload type a muxed session may use (RFC 5761 §4: 0..=63 and 96..=127),
        // with and without the marker bit.
        for pt in (0..=63u8).chain(96..=127) {
            assert!(!is_rtcp(&[0x80, pt]), "PT {pt}");
            assert!(!is_rtcp(&[0x80, pt | 0x80]), "PT {pt} with marker");
        }
    }

    #[test]
    fn short_packets_are_not_rtcp() {
        assert!(!is_rtcp(&[]));
        assert!(!is_rtcp(&[0x80]));
    }
}
