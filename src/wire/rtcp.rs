//! RTCP packets (RFC 3550 §6) and the feedback messages WebRTC uses (RFC 4585, RFC 5104, REMB,
//! transport-wide congestion control).
//!
//! An RTCP datagram is a *compound* packet: RTCP packets back to back, each starting with a
//! 4-octet header whose length field says where the next one begins. [`Compound`] walks them and
//! yields one [`Packet`] view per sub-packet; a length that runs past the datagram ends the walk
//! with an error. Reduced-size RTCP (RFC 5506), a lone feedback packet without SR/RR, is accepted:
//! the walk does not insist on the RFC 3550 §6.1 first-packet rule.
//!
//! [`Packet`] gives the common header, the sender SSRC and (for feedback) the media SSRC, with
//! setters so the engine can rewrite SSRCs in place. [`Packet::view`] turns it into a typed view
//! ([`View`]): each typed view validates its whole body once in `new_checked`, so its accessors
//! and iterators cannot fail or panic afterwards. Reprs ([`SenderReportRepr`], [`NackRepr`], …)
//! are plain values that parse from a typed view and emit into a buffer; their lists are
//! [`List`]s, which borrow either the wire bytes or a caller's slice, so neither side allocates.
//!
//! SRTCP leaves the first 8 octets (header and sender SSRC) in the clear: [`Packet::new_checked`]
//! and [`first_sender_ssrc`] read only those, and never the padding octet, which is encrypted.

mod app;
mod bye;
mod feedback;
mod list;
mod report;
mod sdes;
mod twcc;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use super::rtp::{Ssrc, be_u16, be_u32, put, slice};
use super::{Error, Result};

pub use app::App;
pub use bye::{Bye, ByeRepr};
pub use feedback::{
    Fir, FirEntry, FirRepr, Nack, NackPair, NackRepr, Pli, PliRepr, Remb, RembRepr,
};
pub use list::{Entry, List, ListIter};
pub use report::{
    ReceiverReport, ReceiverReportRepr, ReportBlock, SenderInfo, SenderReport, SenderReportRepr,
};
pub use sdes::{CnameChunk, Sdes, SdesChunk, SdesChunks, SdesItem, SdesItems, SdesRepr, SdesType};
pub use twcc::{Status, TransportCc, TwccPacket, TwccPackets};

/// RTCP packet type (RFC 3550 §12.1, RFC 4585 §6.1, RFC 3611).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketType {
    /// SR, 200.
    SenderReport,
    /// RR, 201.
    ReceiverReport,
    /// SDES, 202.
    SourceDescription,
    /// BYE, 203.
    Goodbye,
    /// APP, 204.
    App,
    /// RTPFB, 205: transport-layer feedback (generic NACK, transport-wide CC).
    TransportFeedback,
    /// PSFB, 206: payload-specific feedback (PLI, FIR, REMB).
    PayloadFeedback,
    /// XR, 207 (RFC 3611); no typed view here.
    ExtendedReport,
    /// Any other value.
    Unknown(u8),
}

impl From<u8> for PacketType {
    fn from(v: u8) -> Self {
        match v {
            200 => PacketType::SenderReport,
            201 => PacketType::ReceiverReport,
            202 => PacketType::SourceDescription,
            203 => PacketType::Goodbye,
            204 => PacketType::App,
            205 => PacketType::TransportFeedback,
            206 => PacketType::PayloadFeedback,
            207 => PacketType::ExtendedReport,
            other => PacketType::Unknown(other),
        }
    }
}

impl From<PacketType> for u8 {
    fn from(v: PacketType) -> Self {
        match v {
            PacketType::SenderReport => 200,
            PacketType::ReceiverReport => 201,
            PacketType::SourceDescription => 202,
            PacketType::Goodbye => 203,
            PacketType::App => 204,
            PacketType::TransportFeedback => 205,
            PacketType::PayloadFeedback => 206,
            PacketType::ExtendedReport => 207,
            PacketType::Unknown(other) => other,
        }
    }
}

/// Feedback message types (FMT) in the count field of RTPFB and PSFB packets.
pub mod fmt {
    /// RTPFB generic NACK (RFC 4585 §6.2.1).
    pub const NACK: u8 = 1;
    /// RTPFB transport-wide congestion control (draft-holmer-rmcat-transport-wide-cc-extensions).
    pub const TRANSPORT_CC: u8 = 15;
    /// PSFB picture loss indication (RFC 4585 §6.3.1).
    pub const PLI: u8 = 1;
    /// PSFB full intra request (RFC 5104 §4.3.1).
    pub const FIR: u8 = 4;
    /// PSFB application layer feedback, used by REMB (RFC 4585 §6.4).
    pub const AFB: u8 = 15;
}

const VERSION: u8 = 2;
const PADDING_BIT: u8 = 0x20;
const COUNT_MASK: u8 = 0x1f;
/// Common header length (RFC 3550 §6.4.1).
const HEADER_LEN: usize = 4;
/// Most counted items (report blocks, SDES chunks, BYE sources) a 5-bit count can announce.
pub const MAX_COUNT: usize = 31;
/// Largest RTCP packet the 16-bit length field can describe, in bytes.
pub const MAX_PACKET_LEN: usize = (u16::MAX as usize + 1) * 4;

/// Sender SSRC of the first packet of a compound (or SRTCP) packet: the SSRC that picks the
/// SRTCP context. Reads only the first 8 octets, which SRTCP leaves in the clear.
pub fn first_sender_ssrc(compound: &[u8]) -> Result<Ssrc> {
    Packet::new_checked(compound)?
        .sender_ssrc()
        .ok_or(Error::Malformed("RTCP packet without sender SSRC"))
}

/// A view of one RTCP packet at the start of a buffer. The buffer may go on past the packet (the
/// rest of a compound, or an SRTCP trailer); accessors stop at the header's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it. Accessors never panic, but on a bad buffer they return
    /// meaningless values.
    pub const fn new_unchecked(buffer: T) -> Packet<T> {
        Packet { buffer }
    }

    /// Wraps a buffer after [`Packet::check_len`] accepts it.
    pub fn new_checked(buffer: T) -> Result<Packet<T>> {
        let packet = Packet::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks the version and that the packet the length field describes fits in the buffer.
    /// The padding count is not checked here (in SRTCP it is encrypted); typed views check it.
    pub fn check_len(&self) -> Result<()> {
        let buf = self.buffer.as_ref();
        if buf.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if self.version() != VERSION {
            return Err(Error::Unsupported("RTCP version"));
        }
        if self.packet_len() > buf.len() {
            return Err(Error::Truncated);
        }
        Ok(())
    }

    /// Checks the padding count: non-zero and within the packet body (RFC 3550 §6.4.1).
    pub fn check_padding(&self) -> Result<()> {
        if !self.padding() {
            return Ok(());
        }
        match self.padding_len() {
            0 => Err(Error::Malformed("RTCP padding count of zero")),
            n if n > self.packet_len().saturating_sub(HEADER_LEN) => {
                Err(Error::Malformed("RTCP padding longer than the packet"))
            }
            _ => Ok(()),
        }
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Version field; 2 on a checked packet.
    #[inline]
    pub fn version(&self) -> u8 {
        self.byte(0) >> 6
    }

    /// Padding (P) bit.
    #[inline]
    pub fn padding(&self) -> bool {
        self.byte(0) & PADDING_BIT != 0
    }

    /// The 5-bit count field: report count (SR/RR), source count (SDES/BYE), subtype (APP) or
    /// feedback message type (RTPFB/PSFB).
    #[inline]
    pub fn count(&self) -> u8 {
        self.byte(0) & COUNT_MASK
    }

    /// Packet type.
    #[inline]
    pub fn packet_type(&self) -> PacketType {
        PacketType::from(self.byte(1))
    }

    /// Raw length field: the packet length in 32-bit words minus one.
    #[inline]
    pub fn length(&self) -> u16 {
        be_u16(self.buffer.as_ref(), 2)
    }

    /// Packet length in bytes, header and padding included (RFC 3550 §6.4.1).
    #[inline]
    pub fn packet_len(&self) -> usize {
        (usize::from(self.length()) + 1) * 4
    }

    /// The packet's bytes: the buffer cut at [`Packet::packet_len`].
    pub fn as_bytes(&self) -> &[u8] {
        let buf = self.buffer.as_ref();
        buf.get(..self.packet_len()).unwrap_or(buf)
    }

    /// Padding octets at the end of the packet, count included; 0 when P is clear.
    pub fn padding_len(&self) -> usize {
        if self.padding() {
            usize::from(self.as_bytes().last().copied().unwrap_or(0))
        } else {
            0
        }
    }

    /// The body: after the 4-octet header, before any padding.
    pub fn body(&self) -> &[u8] {
        let end = self.packet_len().saturating_sub(self.padding_len());
        slice(self.as_bytes(), HEADER_LEN, end)
    }

    /// SSRC of the sender, the first word after the header in every type this module knows
    /// (RFC 3550 §6.4–6.7, RFC 4585 §6.1); `None` if the packet is only a header.
    pub fn sender_ssrc(&self) -> Option<Ssrc> {
        (self.packet_len() >= 8).then(|| Ssrc(be_u32(self.buffer.as_ref(), 4)))
    }

    /// SSRC of the media source of an RTPFB or PSFB packet (RFC 4585 §6.1); `None` otherwise.
    pub fn media_ssrc(&self) -> Option<Ssrc> {
        self.has_media_ssrc()
            .then(|| Ssrc(be_u32(self.buffer.as_ref(), 8)))
    }

    fn has_media_ssrc(&self) -> bool {
        let fb = matches!(
            self.packet_type(),
            PacketType::TransportFeedback | PacketType::PayloadFeedback
        );
        fb && self.packet_len() >= 12
    }

    #[inline]
    fn byte(&self, at: usize) -> u8 {
        self.buffer.as_ref().get(at).copied().unwrap_or(0)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Rewrites the sender SSRC; `false` (and no change) if the packet has none.
    pub fn set_sender_ssrc(&mut self, ssrc: Ssrc) -> bool {
        let ok = self.sender_ssrc().is_some();
        if ok {
            put(self.buffer.as_mut(), 4, ssrc.0.to_be_bytes());
        }
        ok
    }

    /// Rewrites the media SSRC of an RTPFB or PSFB packet; `false` (and no change) otherwise.
    pub fn set_media_ssrc(&mut self, ssrc: Ssrc) -> bool {
        let ok = self.has_media_ssrc();
        if ok {
            put(self.buffer.as_mut(), 8, ssrc.0.to_be_bytes());
        }
        ok
    }

    /// Writes `value` at `at` bytes into the body; used by typed views' setters.
    fn put_body<const N: usize>(&mut self, at: usize, value: [u8; N]) {
        put(self.buffer.as_mut(), HEADER_LEN + at, value);
    }
}

/// A typed view of one RTCP packet, as returned by [`Packet::view`].
#[derive(Debug, Clone, Copy)]
pub enum View<'a> {
    /// SR (RFC 3550 §6.4.1).
    SenderReport(SenderReport<&'a [u8]>),
    /// RR (RFC 3550 §6.4.2).
    ReceiverReport(ReceiverReport<&'a [u8]>),
    /// SDES (RFC 3550 §6.5).
    Sdes(Sdes<&'a [u8]>),
    /// BYE (RFC 3550 §6.6).
    Bye(Bye<&'a [u8]>),
    /// APP (RFC 3550 §6.7).
    App(App<&'a [u8]>),
    /// RTPFB generic NACK (RFC 4585 §6.2.1).
    Nack(Nack<&'a [u8]>),
    /// RTPFB transport-wide congestion control feedback.
    TransportCc(TransportCc<&'a [u8]>),
    /// PSFB picture loss indication (RFC 4585 §6.3.1).
    Pli(Pli<&'a [u8]>),
    /// PSFB full intra request (RFC 5104 §4.3.1).
    Fir(Fir<&'a [u8]>),
    /// PSFB receiver estimated maximum bitrate (draft-alvestrand-rmcat-remb).
    Remb(Remb<&'a [u8]>),
    /// A type or feedback format without a typed view here (XR, SLI, RPSI, …).
    Other(Packet<&'a [u8]>),
}

impl<'a> Packet<&'a [u8]> {
    /// The typed view for this packet's type, validated. Unknown types and formats are
    /// [`View::Other`]; a known type whose body does not parse is an error.
    pub fn view(&self) -> Result<View<'a>> {
        self.check_len()?;
        let bytes: &'a [u8] = self.buffer.get(..self.packet_len()).unwrap_or_default();
        let view = match (self.packet_type(), self.count()) {
            (PacketType::SenderReport, _) => View::SenderReport(SenderReport::new_checked(bytes)?),
            (PacketType::ReceiverReport, _) => {
                View::ReceiverReport(ReceiverReport::new_checked(bytes)?)
            }
            (PacketType::SourceDescription, _) => View::Sdes(Sdes::new_checked(bytes)?),
            (PacketType::Goodbye, _) => View::Bye(Bye::new_checked(bytes)?),
            (PacketType::App, _) => View::App(App::new_checked(bytes)?),
            (PacketType::TransportFeedback, fmt::NACK) => View::Nack(Nack::new_checked(bytes)?),
            (PacketType::TransportFeedback, fmt::TRANSPORT_CC) => {
                View::TransportCc(TransportCc::new_checked(bytes)?)
            }
            (PacketType::PayloadFeedback, fmt::PLI) => View::Pli(Pli::new_checked(bytes)?),
            (PacketType::PayloadFeedback, fmt::FIR) => View::Fir(Fir::new_checked(bytes)?),
            (PacketType::PayloadFeedback, fmt::AFB) if feedback::is_remb(self.body()) => {
                View::Remb(Remb::new_checked(bytes)?)
            }
            _ => View::Other(Packet::new_unchecked(bytes)),
        };
        Ok(view)
    }
}

/// Checks that `buffer` holds an RTCP packet of type `pt` with valid padding.
fn check_typed<T: AsRef<[u8]>>(buffer: T, pt: PacketType) -> Result<Packet<T>> {
    let packet = Packet::new_checked(buffer)?;
    if packet.packet_type() != pt {
        return Err(Error::Malformed("unexpected RTCP packet type"));
    }
    packet.check_padding()?;
    Ok(packet)
}

/// Iterator over the packets of a compound RTCP packet (RFC 3550 §6.1). Give it the plain
/// compound packet (after SRTCP unprotect, without the SRTCP trailer). Yields an error and stops
/// on a header that does not parse or a length that overruns the buffer.
#[derive(Debug, Clone)]
pub struct Compound<'a> {
    rest: &'a [u8],
}

impl<'a> Compound<'a> {
    /// Walks the packets in `buf`.
    pub fn new(buf: &'a [u8]) -> Compound<'a> {
        Compound { rest: buf }
    }
}

impl<'a> Iterator for Compound<'a> {
    type Item = Result<Packet<&'a [u8]>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match next_len(self.rest) {
            Ok(len) => {
                let (packet, rest) = self.rest.split_at_checked(len)?;
                self.rest = rest;
                Some(Ok(Packet::new_unchecked(packet)))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// Like [`Compound`], but yields mutable views, for rewriting SSRCs in place.
#[derive(Debug)]
pub struct CompoundMut<'a> {
    rest: &'a mut [u8],
}

impl<'a> CompoundMut<'a> {
    /// Walks the packets in `buf`.
    pub fn new(buf: &'a mut [u8]) -> CompoundMut<'a> {
        CompoundMut { rest: buf }
    }
}

impl<'a> Iterator for CompoundMut<'a> {
    type Item = Result<Packet<&'a mut [u8]>>;

    fn next(&mut self) -> Option<Self::Item> {
        let buf = core::mem::take(&mut self.rest);
        if buf.is_empty() {
            return None;
        }
        match next_len(buf) {
            Ok(len) => {
                let (packet, rest) = buf.split_at_mut_checked(len)?;
                self.rest = rest;
                Some(Ok(Packet::new_unchecked(packet)))
            }
            Err(e) => Some(Err(e)),
        }
    }
}

/// Length of the first packet of a compound, after checking its header and padding.
fn next_len(buf: &[u8]) -> Result<usize> {
    let packet = Packet::new_checked(buf)?;
    let len = packet.packet_len();
    // RFC 3550 §6.4.1: only the last packet of a compound may carry padding.
    if packet.padding() && len < buf.len() {
        return Err(Error::Malformed("RTCP padding before the last packet"));
    }
    packet.check_padding()?;
    Ok(len)
}

/// Writes a common header for a packet of `len` bytes (a multiple of 4).
fn emit_header(buf: &mut [u8], count: u8, pt: PacketType, len: usize) {
    let length = (len / 4).saturating_sub(1) as u16;
    put(buf, 0, [VERSION << 6 | (count & COUNT_MASK), u8::from(pt)]);
    put(buf, 2, length.to_be_bytes());
}

/// The first `len` bytes of `buf` for emitting a packet, after checking `len` is encodable.
fn emit_buffer(buf: &mut [u8], len: usize) -> Result<&mut [u8]> {
    if len > MAX_PACKET_LEN || len % 4 != 0 {
        return Err(Error::Malformed(
            "RTCP packet too long for the length field",
        ));
    }
    buf.get_mut(..len).ok_or(Error::Truncated)
}
