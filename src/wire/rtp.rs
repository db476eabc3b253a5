//! RTP packets (RFC 3550 §5.1) with RFC 8285 header extensions.
//!
//! ```text
//!  0                   1                   2                   3
//!  V=2|P|X|  CC   |M|     PT      |       sequence number         |
//!  timestamp                                                      |
//!  synchronization source (SSRC) identifier                       |
//!  contributing source (CSRC) identifiers (CC of them)            |
//!  [extension: profile (16) | length in words (16) | data ...]    |
//!  payload ... [padding, last byte = padding count]               |
//! ```

use super::{Error, Result};

/// Synchronization source identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ssrc(pub u32);

/// RTP sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeqNo(pub u16);

/// RTP payload type (7 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Pt(pub u8);

/// Fixed header length.
pub const HEADER_LEN: usize = 12;
/// RFC 8285 §4.2 one-byte header extension profile.
pub const ONE_BYTE_PROFILE: u16 = 0xBEDE;
/// RFC 8285 §4.3 two-byte header extension profile (low 4 bits are app bits).
pub const TWO_BYTE_PROFILE: u16 = 0x1000;

/// Length of the header (fixed part, CSRCs, extension) of an RTP packet, checked against the
/// buffer. Cheap: the SRTP code calls it per packet.
#[inline]
pub fn header_len(buf: &[u8]) -> Result<usize> {
    let first = *buf.first().ok_or(Error::Truncated)?;
    if buf.len() < HEADER_LEN {
        return Err(Error::Truncated);
    }
    if first >> 6 != 2 {
        return Err(Error::Malformed("RTP version is not 2"));
    }
    let mut len = HEADER_LEN + 4 * usize::from(first & 0x0f);
    if first & 0x10 != 0 {
        let words = buf.get(len + 2..len + 4).ok_or(Error::Truncated)?;
        len += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
    }
    if len > buf.len() {
        Err(Error::Truncated)
    } else {
        Ok(len)
    }
}

/// A view of an RTP packet over a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
    header_len: usize,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer, validating the version, CSRC list, extension and padding so that no
    /// accessor can panic afterwards.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        let header_len = header_len(b)?;
        if b[0] & 0x20 != 0 {
            // RFC 3550 §5.1: the last byte counts padding, itself included.
            let pad = usize::from(*b.last().ok_or(Error::Truncated)?);
            if pad == 0 || header_len + pad > b.len() {
                return Err(Error::Malformed("RTP padding length"));
            }
        }
        Ok(Self { buffer, header_len })
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// Version (always 2 once checked).
    pub fn version(&self) -> u8 {
        self.b()[0] >> 6
    }

    /// Padding flag.
    pub fn padding(&self) -> bool {
        self.b()[0] & 0x20 != 0
    }

    /// Extension flag.
    pub fn extension(&self) -> bool {
        self.b()[0] & 0x10 != 0
    }

    /// CSRC count.
    pub fn csrc_count(&self) -> usize {
        usize::from(self.b()[0] & 0x0f)
    }

    /// Marker bit.
    pub fn marker(&self) -> bool {
        self.b()[1] & 0x80 != 0
    }

    /// Payload type.
    pub fn payload_type(&self) -> Pt {
        Pt(self.b()[1] & 0x7f)
    }

    /// Sequence number.
    pub fn sequence_number(&self) -> SeqNo {
        SeqNo(u16::from_be_bytes([self.b()[2], self.b()[3]]))
    }

    /// Timestamp.
    pub fn timestamp(&self) -> u32 {
        u32::from_be_bytes([self.b()[4], self.b()[5], self.b()[6], self.b()[7]])
    }

    /// SSRC.
    pub fn ssrc(&self) -> Ssrc {
        Ssrc(u32::from_be_bytes([
            self.b()[8],
            self.b()[9],
            self.b()[10],
            self.b()[11],
        ]))
    }

    /// The CSRCs.
    pub fn csrcs(&self) -> impl Iterator<Item = u32> + '_ {
        self.b()[HEADER_LEN..HEADER_LEN + 4 * self.csrc_count()]
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
    }

    /// Header length including CSRCs and extension.
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    fn ext_start(&self) -> usize {
        HEADER_LEN + 4 * self.csrc_count()
    }

    /// The extension profile and data (without the 4-byte extension header), if any.
    pub fn extension_data(&self) -> Option<(u16, &[u8])> {
        if !self.extension() {
            return None;
        }
        let s = self.ext_start();
        let profile = u16::from_be_bytes([self.b()[s], self.b()[s + 1]]);
        Some((profile, &self.b()[s + 4..self.header_len]))
    }

    /// RFC 8285 extension elements `(id, data)`, for the one-byte and two-byte forms; empty for
    /// other profiles.
    pub fn extensions(&self) -> Extensions<'_> {
        match self.extension_data() {
            Some((ONE_BYTE_PROFILE, d)) => Extensions {
                data: d,
                two_byte: false,
            },
            Some((p, d)) if p & 0xfff0 == TWO_BYTE_PROFILE => Extensions {
                data: d,
                two_byte: true,
            },
            _ => Extensions {
                data: &[],
                two_byte: false,
            },
        }
    }

    /// Padding bytes at the end (0 without the P bit).
    pub fn padding_len(&self) -> usize {
        if self.padding() {
            usize::from(self.b()[self.b().len() - 1])
        } else {
            0
        }
    }

    /// The payload, without padding.
    pub fn payload(&self) -> &[u8] {
        &self.b()[self.header_len..self.b().len() - self.padding_len()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Sets the marker bit.
    pub fn set_marker(&mut self, m: bool) {
        let b = self.bm();
        b[1] = (b[1] & 0x7f) | if m { 0x80 } else { 0 };
    }

    /// Sets the payload type (7 bits).
    pub fn set_payload_type(&mut self, pt: Pt) {
        let b = self.bm();
        b[1] = (b[1] & 0x80) | (pt.0 & 0x7f);
    }

    /// Sets the sequence number.
    pub fn set_sequence_number(&mut self, seq: SeqNo) {
        self.bm()[2..4].copy_from_slice(&seq.0.to_be_bytes());
    }

    /// Sets the timestamp.
    pub fn set_timestamp(&mut self, ts: u32) {
        self.bm()[4..8].copy_from_slice(&ts.to_be_bytes());
    }

    /// Sets the SSRC.
    pub fn set_ssrc(&mut self, ssrc: Ssrc) {
        self.bm()[8..12].copy_from_slice(&ssrc.0.to_be_bytes());
    }

    /// The payload, mutable (without padding).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (start, end) = (self.header_len, self.b().len() - self.padding_len());
        &mut self.bm()[start..end]
    }
}

/// Iterator over RFC 8285 header extension elements.
#[derive(Debug, Clone)]
pub struct Extensions<'a> {
    data: &'a [u8],
    two_byte: bool,
}

impl<'a> Iterator for Extensions<'a> {
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (&first, rest) = self.data.split_first()?;
            if first == 0 {
                // Padding between elements (RFC 8285 §4.1).
                self.data = rest;
                continue;
            }
            let (id, len, rest) = if self.two_byte {
                let (&len, rest) = rest.split_first()?;
                (first, usize::from(len), rest)
            } else {
                let id = first >> 4;
                if id == 15 {
                    // §4.2: id 15 ends the extension block.
                    self.data = &[];
                    return None;
                }
                (id, usize::from(first & 0x0f) + 1, rest)
            };
            if len > rest.len() {
                self.data = &[];
                return None;
            }
            let (value, tail) = rest.split_at(len);
            self.data = tail;
            return Some((id, value));
        }
    }
}

/// An owned, parsed RTP header; the payload stays with the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr<'a> {
    /// Marker.
    pub marker: bool,
    /// Payload type.
    pub payload_type: Pt,
    /// Sequence number.
    pub sequence_number: SeqNo,
    /// Timestamp.
    pub timestamp: u32,
    /// SSRC.
    pub ssrc: Ssrc,
    /// CSRCs (at most 15).
    pub csrcs: &'a [u8],
    /// Extension profile and data (data length a multiple of 4).
    pub extension: Option<(u16, &'a [u8])>,
    /// Padding bytes to add (0 = none).
    pub padding: u8,
}

impl<'a> Repr<'a> {
    /// Parses the header of a checked packet.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(pkt: &'a Packet<&'a T>) -> Self {
        let b = pkt.buffer.as_ref();
        Self {
            marker: pkt.marker(),
            payload_type: pkt.payload_type(),
            sequence_number: pkt.sequence_number(),
            timestamp: pkt.timestamp(),
            ssrc: pkt.ssrc(),
            csrcs: &b[HEADER_LEN..HEADER_LEN + 4 * pkt.csrc_count()],
            extension: pkt.extension_data(),
            padding: pkt.padding_len() as u8,
        }
    }

    /// Header length this Repr emits.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.csrcs.len() + self.extension.map_or(0, |(_, d)| 4 + d.len())
    }

    /// Total packet length with a payload of `payload_len` bytes.
    pub fn buffer_len(&self, payload_len: usize) -> usize {
        self.header_len() + payload_len + usize::from(self.padding)
    }

    /// Writes header, `payload` and padding into `buf`; returns the packet length.
    pub fn emit(&self, buf: &mut [u8], payload: &[u8]) -> Result<usize> {
        let cc = self.csrcs.len() / 4;
        let ext_ok = self
            .extension
            .is_none_or(|(_, d)| d.len() % 4 == 0 && d.len() / 4 <= usize::from(u16::MAX));
        if cc > 15 || self.csrcs.len() % 4 != 0 || !ext_ok {
            return Err(Error::Malformed("RTP CSRC or extension length"));
        }
        let total = self.buffer_len(payload.len());
        let out = buf.get_mut(..total).ok_or(Error::Truncated)?;
        out[0] = 0x80
            | if self.padding > 0 { 0x20 } else { 0 }
            | if self.extension.is_some() { 0x10 } else { 0 }
            | cc as u8;
        out[1] = if self.marker { 0x80 } else { 0 } | (self.payload_type.0 & 0x7f);
        out[2..4].copy_from_slice(&self.sequence_number.0.to_be_bytes());
        out[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        out[8..12].copy_from_slice(&self.ssrc.0.to_be_bytes());
        let mut at = HEADER_LEN;
        out[at..at + self.csrcs.len()].copy_from_slice(self.csrcs);
        at += self.csrcs.len();
        if let Some((profile, data)) = self.extension {
            out[at..at + 2].copy_from_slice(&profile.to_be_bytes());
            out[at + 2..at + 4].copy_from_slice(&((data.len() / 4) as u16).to_be_bytes());
            out[at + 4..at + 4 + data.len()].copy_from_slice(data);
            at += 4 + data.len();
        }
        out[at..at + payload.len()].copy_from_slice(payload);
        at += payload.len();
        if self.padding > 0 {
            let pad = usize::from(self.padding);
            out[at..at + pad].fill(0);
            out[total - 1] = self.padding;
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests;
