//! RTP packets (RFC 3550 §5.1) and their header extensions (RFC 8285).
//!
//! [`Packet`] is a zero-copy view over a buffer. [`Packet::new_checked`] walks the header once
//! (version, CSRC list, extension header and its length, padding count); after that no accessor
//! can panic, and every accessor reads straight from the buffer. Setters exist for the fields the
//! engine rewrites in place (SSRC, payload type, sequence number, timestamp, marker); the header
//! layout (CSRC count, extension, padding) is written only by [`Repr::emit`], so a checked view
//! can never be made inconsistent through its own API.
//!
//! [`Repr`] is the parsed header as plain values, borrowing the extension bytes from the packet.
//! [`header_len`] is the cheap entry point for SRTP, which needs to know where the encrypted part
//! starts without parsing anything else. On SRTP ciphertext use [`header_len`] or
//! [`Packet::new_unchecked`]: the padding count `new_checked` reads is encrypted until unprotect.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! |V=2|P|X|  CC   |M|     PT      |       sequence number         |
//! |                           timestamp                           |
//! |           synchronization source (SSRC) identifier            |
//! |            contributing source (CSRC) identifiers  (CC x)     |
//! |   defined by profile (X)      |       length (words)          |
//! |                 header extension data (length x 4)            |
//! |   payload ...                 | padding ... | padding count   |
//! ```

mod ext;

use super::{Error, Result};

pub use ext::{Element, Elements, Extension};

/// Synchronisation source identifier (RFC 3550 §3), as found in RTP and RTCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Ssrc(pub u32);

/// RTP sequence number (RFC 3550 §5.1). Ordering is plain `u16` order; use
/// [`SeqNo::wrapping_add`] for arithmetic across the wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SeqNo(pub u16);

/// RTP payload type, 0..=127 (RFC 3550 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Pt(pub u8);

impl SeqNo {
    /// The sequence number `n` packets later, wrapping at 2^16.
    #[inline]
    pub fn wrapping_add(self, n: u16) -> SeqNo {
        SeqNo(self.0.wrapping_add(n))
    }

    /// How far `self` is ahead of `earlier`, modulo 2^16 and read as signed (RFC 3550 A.1 style):
    /// `1` for the next packet, negative for a reordered older one.
    #[inline]
    pub fn delta(self, earlier: SeqNo) -> i16 {
        self.0.wrapping_sub(earlier.0) as i16
    }
}

impl From<u32> for Ssrc {
    fn from(v: u32) -> Self {
        Ssrc(v)
    }
}

impl From<Ssrc> for u32 {
    fn from(v: Ssrc) -> Self {
        v.0
    }
}

/// Byte offsets of the fixed header (RFC 3550 §5.1).
mod field {
    pub const FLAGS: usize = 0;
    pub const MARKER_PT: usize = 1;
    pub const SEQ: usize = 2;
    pub const TIMESTAMP: usize = 4;
    pub const SSRC: usize = 8;
    pub const CSRC: usize = 12;
    /// Length of the fixed header, without CSRCs or extension.
    pub const FIXED_LEN: usize = 12;
    /// Length of the extension header: profile (16 bits) and length in words (16 bits).
    pub const EXT_HEADER_LEN: usize = 4;
}

const VERSION: u8 = 2;
const PADDING_BIT: u8 = 0x20;
const EXTENSION_BIT: u8 = 0x10;
const CC_MASK: u8 = 0x0f;
const MARKER_BIT: u8 = 0x80;
const PT_MASK: u8 = 0x7f;

/// Length of an RTP header, CSRC list and header extension included: where the payload (and,
/// for SRTP, the encrypted part) starts. Checks the version and that the header fits in `buf`.
pub fn header_len(buf: &[u8]) -> Result<usize> {
    let first = *buf.first().ok_or(Error::Truncated)?;
    if first >> 6 != VERSION {
        return Err(Error::Unsupported("RTP version"));
    }
    // RFC 3550 §5.1: 12 fixed octets, then CC 32-bit CSRC identifiers.
    let mut len = field::FIXED_LEN + usize::from(first & CC_MASK) * 4;
    if first & EXTENSION_BIT != 0 {
        // RFC 3550 §5.3.1: the extension length counts 32-bit words after its 4-octet header.
        if buf.len() < len + field::EXT_HEADER_LEN {
            return Err(Error::Truncated);
        }
        let words = usize::from(be_u16(buf, len + 2));
        len += field::EXT_HEADER_LEN + words * 4;
    }
    if buf.len() < len {
        return Err(Error::Truncated);
    }
    Ok(len)
}

/// A view of an RTP packet in a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it. Accessors do not panic on a bad buffer, but return
    /// meaningless values; use [`Packet::new_checked`] on anything received.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer after [`Packet::check_len`] accepts it.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks the version, that the CSRC list and the extension fit, and that the padding count
    /// (if the P bit is set) is non-zero and no longer than what follows the header.
    pub fn check_len(&self) -> Result<()> {
        let buf = self.buffer.as_ref();
        let header = header_len(buf)?;
        if self.padding() {
            // RFC 3550 §5.1: the last octet counts the padding octets, itself included.
            let count = usize::from(buf.last().copied().unwrap_or(0));
            if count == 0 {
                return Err(Error::Malformed("RTP padding count of zero"));
            }
            if count > buf.len() - header {
                return Err(Error::Malformed("RTP padding longer than the payload"));
            }
        }
        Ok(())
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Version field; 2 on a checked packet.
    #[inline]
    pub fn version(&self) -> u8 {
        self.flags() >> 6
    }

    /// Padding (P) bit: the payload is followed by padding (RFC 3550 §5.1).
    #[inline]
    pub fn padding(&self) -> bool {
        self.flags() & PADDING_BIT != 0
    }

    /// Extension (X) bit: a header extension follows the CSRC list.
    #[inline]
    pub fn extension(&self) -> bool {
        self.flags() & EXTENSION_BIT != 0
    }

    /// Number of CSRC identifiers (CC), 0..=15.
    #[inline]
    pub fn csrc_count(&self) -> u8 {
        self.flags() & CC_MASK
    }

    /// Marker (M) bit.
    #[inline]
    pub fn marker(&self) -> bool {
        self.byte(field::MARKER_PT) & MARKER_BIT != 0
    }

    /// Payload type (PT).
    #[inline]
    pub fn payload_type(&self) -> Pt {
        Pt(self.byte(field::MARKER_PT) & PT_MASK)
    }

    /// Sequence number.
    #[inline]
    pub fn sequence_number(&self) -> SeqNo {
        SeqNo(be_u16(self.buffer.as_ref(), field::SEQ))
    }

    /// RTP timestamp.
    #[inline]
    pub fn timestamp(&self) -> u32 {
        be_u32(self.buffer.as_ref(), field::TIMESTAMP)
    }

    /// Synchronisation source.
    #[inline]
    pub fn ssrc(&self) -> Ssrc {
        Ssrc(be_u32(self.buffer.as_ref(), field::SSRC))
    }

    /// The `index`th contributing source, if `index < csrc_count()`.
    pub fn csrc(&self, index: usize) -> Option<Ssrc> {
        (index < usize::from(self.csrc_count()))
            .then(|| Ssrc(be_u32(self.buffer.as_ref(), field::CSRC + index * 4)))
    }

    /// The contributing sources, in order.
    pub fn csrcs(&self) -> impl Iterator<Item = Ssrc> + '_ {
        (0..usize::from(self.csrc_count())).filter_map(|i| self.csrc(i))
    }

    /// Length of the header with CSRCs and extension; 0 when the buffer is not a valid packet.
    #[inline]
    pub fn header_len(&self) -> usize {
        header_len(self.buffer.as_ref()).unwrap_or(0)
    }

    /// The header extension (profile and raw data), if the X bit is set (RFC 3550 §5.3.1).
    pub fn header_extension(&self) -> Option<Extension<'_>> {
        if !self.extension() {
            return None;
        }
        let buf = self.buffer.as_ref();
        let start = field::CSRC + usize::from(self.csrc_count()) * 4;
        let data_start = start + field::EXT_HEADER_LEN;
        Some(Extension {
            profile: be_u16(buf, start),
            data: slice(buf, data_start, self.header_len()),
        })
    }

    /// RFC 8285 elements of the header extension; empty if there is none. Fails for a profile
    /// other than the one-byte (0xBEDE) and two-byte (0x100X) forms.
    pub fn extension_elements(&self) -> Result<Elements<'_>> {
        match self.header_extension() {
            Some(ext) => ext.elements(),
            None => Ok(Elements::empty()),
        }
    }

    /// Number of padding octets at the end, the count octet included; 0 when P is clear.
    #[inline]
    pub fn padding_len(&self) -> usize {
        if self.padding() {
            usize::from(self.buffer.as_ref().last().copied().unwrap_or(0))
        } else {
            0
        }
    }

    /// The payload: after the header, before any padding.
    #[inline]
    pub fn payload(&self) -> &[u8] {
        let (start, end) = self.payload_range();
        slice(self.buffer.as_ref(), start, end)
    }

    fn payload_range(&self) -> (usize, usize) {
        let len = self.buffer.as_ref().len();
        (self.header_len(), len.saturating_sub(self.padding_len()))
    }

    #[inline]
    fn flags(&self) -> u8 {
        self.byte(field::FLAGS)
    }

    #[inline]
    fn byte(&self, at: usize) -> u8 {
        self.buffer.as_ref().get(at).copied().unwrap_or(0)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the marker bit.
    #[inline]
    pub fn set_marker(&mut self, marker: bool) {
        let b = self.byte(field::MARKER_PT) & PT_MASK;
        self.set_byte(field::MARKER_PT, b | if marker { MARKER_BIT } else { 0 });
    }

    /// Sets the payload type; only its low 7 bits are used.
    #[inline]
    pub fn set_payload_type(&mut self, pt: Pt) {
        let b = self.byte(field::MARKER_PT) & MARKER_BIT;
        self.set_byte(field::MARKER_PT, b | (pt.0 & PT_MASK));
    }

    /// Sets the sequence number.
    #[inline]
    pub fn set_sequence_number(&mut self, seq: SeqNo) {
        put(self.buffer.as_mut(), field::SEQ, seq.0.to_be_bytes());
    }

    /// Sets the RTP timestamp.
    #[inline]
    pub fn set_timestamp(&mut self, ts: u32) {
        put(self.buffer.as_mut(), field::TIMESTAMP, ts.to_be_bytes());
    }

    /// Sets the synchronisation source.
    #[inline]
    pub fn set_ssrc(&mut self, ssrc: Ssrc) {
        put(self.buffer.as_mut(), field::SSRC, ssrc.0.to_be_bytes());
    }

    /// Sets the `index`th contributing source; `false` (and no change) if there is no such CSRC.
    pub fn set_csrc(&mut self, index: usize, csrc: Ssrc) -> bool {
        let ok = index < usize::from(self.csrc_count());
        if ok {
            put(
                self.buffer.as_mut(),
                field::CSRC + index * 4,
                csrc.0.to_be_bytes(),
            );
        }
        ok
    }

    /// The payload, mutable: after the header, before any padding.
    #[inline]
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (start, end) = self.payload_range();
        self.buffer.as_mut().get_mut(start..end).unwrap_or_default()
    }

    fn set_byte(&mut self, at: usize, value: u8) {
        put(self.buffer.as_mut(), at, [value]);
    }
}

/// Up to 15 contributing sources, stored inline so a [`Repr`] needs no allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Csrcs {
    len: u8,
    // Entries past `len` stay `Ssrc(0)`, so the derived equality compares only the used part.
    ids: [Ssrc; Csrcs::MAX],
}

impl Csrcs {
    /// Most CSRCs an RTP header can carry (a 4-bit count).
    pub const MAX: usize = 15;

    /// The list of `ids`, or `None` if there are more than [`Csrcs::MAX`].
    pub fn from_slice(ids: &[Ssrc]) -> Option<Csrcs> {
        let mut out = Csrcs::default();
        out.ids.get_mut(..ids.len())?.copy_from_slice(ids);
        out.len = ids.len() as u8;
        Some(out)
    }

    /// The CSRCs, in order.
    pub fn as_slice(&self) -> &[Ssrc] {
        self.ids.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// Number of CSRCs.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// An RTP header as values, borrowing the extension data from the packet it was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr<'a> {
    /// Marker bit.
    pub marker: bool,
    /// Payload type, 0..=127.
    pub payload_type: Pt,
    /// Sequence number.
    pub sequence_number: SeqNo,
    /// RTP timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: Ssrc,
    /// Contributing sources.
    pub csrcs: Csrcs,
    /// Header extension: profile and data (a whole number of 32-bit words).
    pub extension: Option<Extension<'a>>,
    /// Length of the payload, padding excluded.
    pub payload_len: usize,
    /// Padding octets after the payload, the count octet included; 0 for none (P clear).
    pub padding_len: u8,
}

impl<'a> Repr<'a> {
    /// Parses the header of a packet, checking it first.
    pub fn parse<T: AsRef<[u8]>>(packet: &'a Packet<T>) -> Result<Repr<'a>> {
        packet.check_len()?;
        let mut csrcs = Csrcs::default();
        for (slot, id) in csrcs.ids.iter_mut().zip(packet.csrcs()) {
            *slot = id;
        }
        csrcs.len = packet.csrc_count();
        Ok(Repr {
            marker: packet.marker(),
            payload_type: packet.payload_type(),
            sequence_number: packet.sequence_number(),
            timestamp: packet.timestamp(),
            ssrc: packet.ssrc(),
            csrcs,
            extension: packet.header_extension(),
            payload_len: packet.payload().len(),
            // check_len bounds the count by the buffer, and the count is one octet.
            padding_len: packet.padding_len() as u8,
        })
    }

    /// Length of the header alone: fixed part, CSRCs and extension.
    pub fn header_len(&self) -> usize {
        let ext = self
            .extension
            .map_or(0, |e| field::EXT_HEADER_LEN + e.data.len());
        field::FIXED_LEN + self.csrcs.len() * 4 + ext
    }

    /// Length of the whole packet this emits: header, payload and padding.
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload_len + usize::from(self.padding_len)
    }

    /// Writes the header, `payload` and padding at the start of the packet's buffer, and returns
    /// the number of bytes written ([`Repr::buffer_len`]). Fails, writing nothing, if the buffer is
    /// too short, `payload` is not `payload_len` long, or a field cannot be encoded.
    pub fn emit<T>(&self, packet: &mut Packet<T>, payload: &[u8]) -> Result<usize>
    where
        T: AsRef<[u8]> + AsMut<[u8]>,
    {
        self.check_encodable(payload)?;
        let len = self.buffer_len();
        let buf = packet
            .buffer
            .as_mut()
            .get_mut(..len)
            .ok_or(Error::Truncated)?;
        let mut at = self.emit_fixed(buf);
        for id in self.csrcs.as_slice() {
            put(buf, at, id.0.to_be_bytes());
            at += 4;
        }
        if let Some(ext) = self.extension {
            at = emit_extension(buf, at, ext);
        }
        let (body, pad) = buf
            .get_mut(at..)
            .and_then(|rest| rest.split_at_mut_checked(payload.len()))
            .ok_or(Error::Truncated)?;
        body.copy_from_slice(payload);
        emit_padding(pad);
        Ok(len)
    }

    fn check_encodable(&self, payload: &[u8]) -> Result<()> {
        if payload.len() != self.payload_len {
            return Err(Error::Malformed("payload is not payload_len long"));
        }
        if self.payload_type.0 > PT_MASK {
            return Err(Error::Malformed("RTP payload type above 127"));
        }
        match self.extension {
            // RFC 3550 §5.3.1: the length field counts whole 32-bit words in 16 bits.
            Some(e) if e.data.len() % 4 != 0 || e.data.len() / 4 > usize::from(u16::MAX) => Err(
                Error::Malformed("RTP extension data not a 16-bit count of words"),
            ),
            _ => Ok(()),
        }
    }

    /// Writes the 12 fixed octets and returns where the CSRC list starts.
    fn emit_fixed(&self, buf: &mut [u8]) -> usize {
        let mut flags = VERSION << 6 | self.csrcs.len() as u8;
        if self.padding_len > 0 {
            flags |= PADDING_BIT;
        }
        if self.extension.is_some() {
            flags |= EXTENSION_BIT;
        }
        let marker = if self.marker { MARKER_BIT } else { 0 };
        put(buf, field::FLAGS, [flags, marker | self.payload_type.0]);
        put(buf, field::SEQ, self.sequence_number.0.to_be_bytes());
        put(buf, field::TIMESTAMP, self.timestamp.to_be_bytes());
        put(buf, field::SSRC, self.ssrc.0.to_be_bytes());
        field::CSRC
    }
}

/// Writes an extension header and data at `at`; returns the offset after it.
fn emit_extension(buf: &mut [u8], at: usize, ext: Extension<'_>) -> usize {
    put(buf, at, ext.profile.to_be_bytes());
    put(buf, at + 2, ((ext.data.len() / 4) as u16).to_be_bytes());
    let start = at + field::EXT_HEADER_LEN;
    let end = start + ext.data.len();
    if let Some(dst) = buf.get_mut(start..end) {
        dst.copy_from_slice(ext.data);
    }
    end
}

/// Fills a padding area with zeros and its count in the last octet (RFC 3550 §5.1).
fn emit_padding(pad: &mut [u8]) {
    let count = pad.len() as u8;
    pad.fill(0);
    if let Some(last) = pad.last_mut() {
        *last = count;
    }
}

/// `N` bytes at `at`, or zeros if the buffer is too short (never on a checked view).
#[inline]
fn array<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
    buf.get(at..)
        .and_then(|b| b.first_chunk::<N>())
        .copied()
        .unwrap_or([0; N])
}

/// Big-endian `u16` at `at`; 0 past the end.
#[inline]
pub(crate) fn be_u16(buf: &[u8], at: usize) -> u16 {
    u16::from_be_bytes(array(buf, at))
}

/// Big-endian `u32` at `at`; 0 past the end.
#[inline]
pub(crate) fn be_u32(buf: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(array(buf, at))
}

/// Writes `bytes` at `at`; does nothing if they do not fit (never on a checked view).
#[inline]
pub(crate) fn put<const N: usize>(buf: &mut [u8], at: usize, bytes: [u8; N]) {
    if let Some(dst) = buf.get_mut(at..).and_then(|b| b.first_chunk_mut::<N>()) {
        *dst = bytes;
    }
}

/// `buf[start..end]`, or empty if that range is not inside `buf`.
#[inline]
pub(crate) fn slice(buf: &[u8], start: usize, end: usize) -> &[u8] {
    buf.get(start..end).unwrap_or_default()
}

#[cfg(test)]
mod tests;
