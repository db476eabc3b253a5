//! Transport-wide congestion control feedback (RTPFB, FMT 15;
//! draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1).
//!
//! The FCI is a fixed part (base sequence number, packet status count, 24-bit reference time in
//! 64 ms units, feedback packet count), then 16-bit packet chunks covering `status count`
//! packets, then one receive delta per received packet (1 octet for a small delta, 2 for a large
//! or negative one, in 250 µs units). `new_checked` decodes everything once; [`TwccPackets`]
//! then yields each packet's sequence number, status and delta.

use super::feedback::{FB_HEADER_LEN, check_fb, fb_view};
use super::{Packet, PacketType, fmt};
use crate::wire::rtp::{SeqNo, Ssrc, be_u16, be_u32};
use crate::wire::{Error, Result};

/// Base sequence number, status count, reference time and feedback count.
const FIXED_LEN: usize = 8;

fb_view!(
    TransportCc,
    "Transport-wide congestion control feedback (RTPFB, FMT 15)."
);

/// Reception status of one packet (draft §3.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Not received.
    NotReceived,
    /// Received, with a one-octet delta.
    SmallDelta,
    /// Received, with a two-octet (large or negative) delta.
    LargeDelta,
}

/// One packet reported in transport-wide feedback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TwccPacket {
    /// Transport-wide sequence number.
    pub seq: SeqNo,
    /// Whether and how it was received.
    pub status: Status,
    /// Receive delta in 250 µs units, for a received packet.
    pub delta: Option<i16>,
}

impl<T: AsRef<[u8]>> TransportCc<T> {
    /// Wraps a buffer holding one transport-wide feedback packet, after decoding every chunk
    /// and delta it announces.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let (packet, fci_len) = check_fb(buffer, PacketType::TransportFeedback, fmt::TRANSPORT_CC)?;
        if fci_len < FIXED_LEN {
            return Err(Error::Truncated);
        }
        let view = TransportCc { packet };
        if view.packets().count() != usize::from(view.packet_status_count()) {
            return Err(Error::Malformed("transport-wide feedback chunks or deltas"));
        }
        Ok(view)
    }

    /// Transport-wide sequence number of the first packet reported.
    pub fn base_sequence_number(&self) -> SeqNo {
        SeqNo(be_u16(self.fci(), 0))
    }

    /// Number of packets reported.
    pub fn packet_status_count(&self) -> u16 {
        be_u16(self.fci(), 2)
    }

    /// Reference time, 24 bits in 64 ms units. The draft calls it signed; senders let it wrap,
    /// so it is returned raw.
    pub fn reference_time(&self) -> u32 {
        be_u32(self.fci(), 4) >> 8
    }

    /// Feedback packet count, to detect lost feedback.
    pub fn fb_pkt_count(&self) -> u8 {
        self.fci().get(7).copied().unwrap_or(0)
    }

    /// Packet chunks and receive deltas, undecoded.
    pub fn chunks_and_deltas(&self) -> &[u8] {
        self.fci().get(FIXED_LEN..).unwrap_or_default()
    }

    /// The packets reported, in sequence order. On an unchecked or malformed buffer it stops
    /// early.
    pub fn packets(&self) -> TwccPackets<'_> {
        let rest = self.chunks_and_deltas();
        let count = self.packet_status_count();
        let chunks_len = chunks_len(rest, count).unwrap_or(rest.len());
        let (chunks, deltas) = rest.split_at_checked(chunks_len).unwrap_or((rest, &[]));
        TwccPackets {
            chunks,
            deltas,
            chunk: 0,
            used: 0,
            capacity: 0,
            left: count,
            seq: self.base_sequence_number(),
        }
    }
}

/// Bytes of packet chunks needed to cover `count` packets, if `bytes` holds that many chunks.
fn chunks_len(bytes: &[u8], count: u16) -> Option<usize> {
    let mut covered = 0usize;
    let mut len = 0;
    while covered < usize::from(count) {
        covered += usize::from(chunk_capacity(be_u16(bytes.get(len..len + 2)?, 0)));
        len += 2;
    }
    Some(len)
}

/// How many packets a chunk describes (draft §3.1.3, §3.1.4).
fn chunk_capacity(chunk: u16) -> u16 {
    match chunk >> 14 {
        // Run length chunk: T=0, 2-bit symbol, 13-bit run length.
        0 | 1 => chunk & 0x1fff,
        // Status vector chunk, S=0: fourteen 1-bit symbols.
        2 => 14,
        // Status vector chunk, S=1: seven 2-bit symbols.
        _ => 7,
    }
}

/// The 2-bit status symbol of packet `i` of a chunk (1-bit symbols widened to 2 bits).
fn chunk_symbol(chunk: u16, i: u16) -> u16 {
    match chunk >> 14 {
        0 | 1 => (chunk >> 13) & 0b11,
        2 => (chunk >> (13 - i)) & 1,
        _ => (chunk >> (12 - 2 * i)) & 0b11,
    }
}

/// Iterator over the packets of a transport-wide feedback packet.
#[derive(Debug, Clone)]
pub struct TwccPackets<'a> {
    chunks: &'a [u8],
    deltas: &'a [u8],
    chunk: u16,
    used: u16,
    capacity: u16,
    left: u16,
    seq: SeqNo,
}

impl TwccPackets<'_> {
    /// The next status symbol, loading chunks as they run out.
    fn next_symbol(&mut self) -> Option<u16> {
        while self.used >= self.capacity {
            let (head, rest) = self.chunks.split_at_checked(2)?;
            self.chunks = rest;
            self.chunk = be_u16(head, 0);
            self.capacity = chunk_capacity(self.chunk);
            self.used = 0;
        }
        let symbol = chunk_symbol(self.chunk, self.used);
        self.used += 1;
        Some(symbol)
    }

    /// Takes an `N`-octet delta off the delta list.
    fn take_delta<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.deltas.split_first_chunk::<N>()?;
        self.deltas = rest;
        Some(*head)
    }
}

impl Iterator for TwccPackets<'_> {
    type Item = TwccPacket;

    fn next(&mut self) -> Option<TwccPacket> {
        self.left = self.left.checked_sub(1)?;
        let (status, delta) = match self.next_symbol()? {
            0 => (Status::NotReceived, None),
            // draft §3.1.5: small delta, one octet unsigned.
            1 => (
                Status::SmallDelta,
                Some(i16::from(self.take_delta::<1>()?[0])),
            ),
            // draft §3.1.5: large or negative delta, two octets signed.
            2 => (
                Status::LargeDelta,
                Some(i16::from_be_bytes(self.take_delta()?)),
            ),
            // Symbol 11 is reserved: nothing after it can be trusted.
            _ => return None,
        };
        let seq = self.seq;
        self.seq = seq.wrapping_add(1);
        Some(TwccPacket { seq, status, delta })
    }
}
