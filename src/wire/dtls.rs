//! DTLS record headers (RFC 6347 §4.1; RFC 9147 §4 for DTLS 1.3's unified header) and the
//! handshake message header (RFC 6347 §4.2.2).
//!
//! The engine does not terminate DTLS: it recognises records and hands whole datagrams to
//! signaling. These views let it (and the tests) see what a datagram holds, e.g. the two
//! fragments of a large ClientHello.

use super::{Error, Result};

/// Content types.
pub mod content {
    /// change_cipher_spec.
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    /// alert.
    pub const ALERT: u8 = 21;
    /// handshake.
    pub const HANDSHAKE: u8 = 22;
    /// application_data.
    pub const APPLICATION_DATA: u8 = 23;
    /// ack (DTLS 1.3).
    pub const ACK: u8 = 26;
}

/// DTLSPlaintext header length.
pub const RECORD_HEADER_LEN: usize = 13;
/// Handshake header length.
pub const HANDSHAKE_HEADER_LEN: usize = 12;

/// One record of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'a> {
    /// A DTLSPlaintext-framed record (DTLS 1.0/1.2, and DTLS 1.3's initial flights).
    Plain {
        /// Content type.
        content_type: u8,
        /// Protocol version (0xFEFF DTLS 1.0, 0xFEFD DTLS 1.2).
        version: u16,
        /// Epoch.
        epoch: u16,
        /// 48-bit sequence number.
        sequence: u64,
        /// The fragment.
        fragment: &'a [u8],
    },
    /// A DTLS 1.3 ciphertext record with the unified header (RFC 9147 §4); opaque here.
    Unified {
        /// Low two bits of the epoch.
        epoch_bits: u8,
        /// The whole record, header included.
        bytes: &'a [u8],
    },
}

impl<'a> Record<'a> {
    /// Parses the record at the start of `buf`; returns it and the bytes it spans.
    pub fn parse(buf: &'a [u8]) -> Result<(Self, usize)> {
        let first = *buf.first().ok_or(Error::Truncated)?;
        if first & 0xe0 == 0x20 {
            return Self::parse_unified(buf, first);
        }
        let h = buf.get(..RECORD_HEADER_LEN).ok_or(Error::Truncated)?;
        let version = u16::from_be_bytes([h[1], h[2]]);
        if h[1] != 0xfe {
            return Err(Error::Malformed("DTLS record version"));
        }
        let len = usize::from(u16::from_be_bytes([h[11], h[12]]));
        let fragment = buf
            .get(RECORD_HEADER_LEN..RECORD_HEADER_LEN + len)
            .ok_or(Error::Truncated)?;
        let sequence = h[5..11]
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let rec = Self::Plain {
            content_type: first,
            version,
            epoch: u16::from_be_bytes([h[3], h[4]]),
            sequence,
            fragment,
        };
        Ok((rec, RECORD_HEADER_LEN + len))
    }

    /// RFC 9147 §4: 001CSLEE, [connection id], seq (8 or 16 bits), [length 16 bits].
    fn parse_unified(buf: &'a [u8], first: u8) -> Result<(Self, usize)> {
        if first & 0x10 != 0 {
            // Connection ids are never negotiated by WebRTC stacks; their length is not
            // self-describing, so such a record cannot be delimited here.
            return Err(Error::Unsupported("DTLS 1.3 connection id"));
        }
        let seq_len = if first & 0x08 != 0 { 2 } else { 1 };
        let header = 1 + seq_len + if first & 0x04 != 0 { 2 } else { 0 };
        let total = if first & 0x04 != 0 {
            let l = buf.get(1 + seq_len..header).ok_or(Error::Truncated)?;
            header + usize::from(u16::from_be_bytes([l[0], l[1]]))
        } else {
            // No length: the record runs to the end of the datagram.
            buf.len().max(header)
        };
        let bytes = buf.get(..total).ok_or(Error::Truncated)?;
        Ok((
            Self::Unified {
                epoch_bits: first & 0x03,
                bytes,
            },
            total,
        ))
    }
}

/// Iterator over the records of one datagram (Chromium packs a whole flight in one).
#[derive(Debug, Clone)]
pub struct Records<'a> {
    rest: &'a [u8],
}

impl<'a> Records<'a> {
    /// Iterates the records of `datagram`.
    pub fn new(datagram: &'a [u8]) -> Self {
        Self { rest: datagram }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match Record::parse(self.rest) {
            Ok((rec, n)) => {
                self.rest = &self.rest[n..];
                Some(Ok(rec))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// The handshake message header at the start of a plaintext handshake fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Handshake<'a> {
    /// Message type (1 ClientHello, 2 ServerHello, 11 Certificate, ...).
    pub msg_type: u8,
    /// Length of the whole message (24 bits).
    pub length: u32,
    /// Message sequence.
    pub message_seq: u16,
    /// Where this fragment starts in the message (24 bits).
    pub fragment_offset: u32,
    /// This fragment's length (24 bits).
    pub fragment_length: u32,
    /// The fragment bytes.
    pub body: &'a [u8],
}

fn u24(b: &[u8]) -> u32 {
    (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2])
}

impl<'a> Handshake<'a> {
    /// Parses a handshake header and checks the fragment fits.
    pub fn parse(fragment: &'a [u8]) -> Result<Self> {
        let h = fragment
            .get(..HANDSHAKE_HEADER_LEN)
            .ok_or(Error::Truncated)?;
        let hs = Self {
            msg_type: h[0],
            length: u24(&h[1..4]),
            message_seq: u16::from_be_bytes([h[4], h[5]]),
            fragment_offset: u24(&h[6..9]),
            fragment_length: u24(&h[9..12]),
            body: &[],
        };
        let end = HANDSHAKE_HEADER_LEN + hs.fragment_length as usize;
        if u64::from(hs.fragment_offset) + u64::from(hs.fragment_length) > u64::from(hs.length) {
            return Err(Error::Malformed("DTLS fragment beyond the message"));
        }
        Ok(Self {
            body: fragment
                .get(HANDSHAKE_HEADER_LEN..end)
                .ok_or(Error::Truncated)?,
            ..hs
        })
    }

    /// Writes a handshake header (for tests and tools that fragment messages).
    pub fn emit_header(&self, out: &mut Vec<u8>) {
        out.push(self.msg_type);
        out.extend(&self.length.to_be_bytes()[1..]);
        out.extend(self.message_seq.to_be_bytes());
        out.extend(&self.fragment_offset.to_be_bytes()[1..]);
        out.extend(&self.fragment_length.to_be_bytes()[1..]);
    }
}

/// Whether a datagram starts with a (possibly fragmented) ClientHello.
pub fn is_client_hello(datagram: &[u8]) -> bool {
    matches!(
        Record::parse(datagram),
        Ok((Record::Plain { content_type: content::HANDSHAKE, epoch: 0, fragment, .. }, _))
            if Handshake::parse(fragment).is_ok_and(|h| h.msg_type == 1)
    )
}

/// Writes a DTLSPlaintext record header.
pub fn emit_record_header(
    out: &mut Vec<u8>,
    content_type: u8,
    version: u16,
    epoch: u16,
    sequence: u64,
    len: u16,
) {
    out.push(content_type);
    out.extend(version.to_be_bytes());
    out.extend(epoch.to_be_bytes());
    out.extend(&sequence.to_be_bytes()[2..]);
    out.extend(len.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn record_header_round_trips() {
        let mut d = Vec::new();
        emit_record_header(&mut d, content::ALERT, 0xfefd, 1, 0x0000_1234_5678, 2);
        d.extend([2, 40]);
        let (r, n) = Record::parse(&d).unwrap();
        assert_eq!(n, d.len());
        assert_eq!(
            r,
            Record::Plain {
                content_type: 21,
                version: 0xfefd,
                epoch: 1,
                sequence: 0x1234_5678,
                fragment: &[2, 40]
            }
        );
    }

    #[test]
    fn unified_header_records_are_delimited() {
        // 0x2c = 001 0 1 1 00: no CID, 16-bit seq, length present, epoch bits 0.
        let d = [0x2c, 0, 5, 0, 3, 9, 9, 9, 0x2c, 0, 6, 0, 1, 7];
        let recs: Vec<_> = Records::new(&d).map(Result::unwrap).collect();
        assert_eq!(recs.len(), 2);
        assert_eq!(
            recs[0],
            Record::Unified {
                epoch_bits: 0,
                bytes: &d[..8]
            }
        );
        assert!(
            Records::new(&[0x3c, 0]).next().unwrap().is_err(),
            "connection id unsupported"
        );
    }

    #[test]
    fn truncated_and_bad_versions_are_errors() {
        assert_eq!(
            Record::parse(&[22, 0xfe, 0xfd]).unwrap_err(),
            Error::Truncated
        );
        let mut d = Vec::new();
        emit_record_header(&mut d, 22, 0x0303, 0, 0, 0);
        assert!(Record::parse(&d).is_err());
        let mut d = Vec::new();
        emit_record_header(&mut d, 22, 0xfefd, 0, 0, 10);
        assert_eq!(Record::parse(&d).unwrap_err(), Error::Truncated);
        let hs = [1, 0, 0, 10, 0, 0, 0, 0, 8, 0, 0, 4, 1, 2, 3, 4];
        assert!(
            Handshake::parse(&hs).is_err(),
            "offset 8 + 4 beyond length 10"
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            for r in Records::new(&bytes).flatten() {
                if let Record::Plain { fragment, .. } = r {
                    let _ = Handshake::parse(fragment);
                }
            }
            let _ = is_client_hello(&bytes);
        }
    }
}
