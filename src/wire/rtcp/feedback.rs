//! Feedback messages (RFC 4585 §6.1): generic NACK, PLI, FIR (RFC 5104 §4.3.1) and REMB
//! (draft-alvestrand-rmcat-remb-03). Transport-wide CC is in its own module.
//!
//! Every feedback packet starts with the sender SSRC and the media SSRC, then the feedback
//! control information (FCI) whose layout depends on the type and FMT.

use super::list::{Entry, List, ListIter};
use super::{Packet, PacketType, check_typed, emit_buffer, emit_header, fmt};
use crate::wire::rtp::{SeqNo, Ssrc, be_u16, be_u32, put};
use crate::wire::{Error, Result};

/// Sender SSRC and media SSRC before the FCI (RFC 4585 §6.1).
pub(super) const FB_HEADER_LEN: usize = 8;
/// REMB unique identifier (draft-alvestrand-rmcat-remb-03 §2.2).
const REMB_ID: [u8; 4] = *b"REMB";
/// REMB FCI before the SSRC list: identifier, count, exponent and mantissa.
const REMB_FIXED_LEN: usize = 8;
const MANTISSA_BITS: u32 = 18;

/// Checks a feedback packet of type `pt` and format `fmt` and returns it with its FCI length.
pub(super) fn check_fb<T: AsRef<[u8]>>(
    buffer: T,
    pt: PacketType,
    fmt: u8,
) -> Result<(Packet<T>, usize)> {
    let packet = check_typed(buffer, pt)?;
    if packet.count() != fmt {
        return Err(Error::Malformed("unexpected feedback message type"));
    }
    let fci_len = packet
        .body()
        .len()
        .checked_sub(FB_HEADER_LEN)
        .ok_or(Error::Truncated)?;
    Ok((packet, fci_len))
}

/// Writes a feedback header and the two SSRCs for a packet of `len` bytes.
fn emit_fb(out: &mut [u8], pt: PacketType, fmt: u8, len: usize, sender: Ssrc, media: Ssrc) {
    emit_header(out, fmt, pt, len);
    put(out, 4, sender.0.to_be_bytes());
    put(out, 8, media.0.to_be_bytes());
}

/// A feedback view: the struct, constructors and the SSRC accessors shared by every FMT.
macro_rules! fb_view {
    ($name:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name<T: AsRef<[u8]>> {
            packet: Packet<T>,
        }

        impl<T: AsRef<[u8]>> $name<T> {
            /// Wraps a buffer without checking it; accessors return meaningless values on a bad
            /// buffer, but never panic.
            pub const fn new_unchecked(buffer: T) -> Self {
                $name {
                    packet: Packet::new_unchecked(buffer),
                }
            }

            /// Returns the underlying buffer.
            pub fn into_inner(self) -> T {
                self.packet.into_inner()
            }

            /// SSRC of the packet sender.
            pub fn sender_ssrc(&self) -> Ssrc {
                Ssrc(be_u32(self.packet.body(), 0))
            }

            /// SSRC of the media source the feedback is about.
            pub fn media_ssrc(&self) -> Ssrc {
                Ssrc(be_u32(self.packet.body(), 4))
            }

            /// Feedback control information.
            pub fn fci(&self) -> &[u8] {
                self.packet.body().get(FB_HEADER_LEN..).unwrap_or_default()
            }
        }

        impl<T: AsRef<[u8]> + AsMut<[u8]>> $name<T> {
            /// Rewrites the sender SSRC.
            pub fn set_sender_ssrc(&mut self, ssrc: Ssrc) {
                self.packet.put_body(0, ssrc.0.to_be_bytes());
            }

            /// Rewrites the media SSRC.
            pub fn set_media_ssrc(&mut self, ssrc: Ssrc) {
                self.packet.put_body(4, ssrc.0.to_be_bytes());
            }
        }
    };
}
pub(super) use fb_view;

fb_view!(Nack, "A generic NACK (RTPFB, FMT 1; RFC 4585 §6.2.1).");
fb_view!(
    Pli,
    "A picture loss indication (PSFB, FMT 1; RFC 4585 §6.3.1)."
);
fb_view!(Fir, "A full intra request (PSFB, FMT 4; RFC 5104 §4.3.1).");
fb_view!(
    Remb,
    "A receiver estimated maximum bitrate (PSFB, FMT 15; draft-alvestrand-rmcat-remb-03)."
);

/// One generic NACK entry: a lost packet and a bitmask of the 16 that follow (RFC 4585 §6.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NackPair {
    /// Packet ID (PID): a lost sequence number.
    pub pid: SeqNo,
    /// Bitmask of following lost packets (BLP): bit i set means `pid + i + 1` is lost.
    pub blp: u16,
}

impl NackPair {
    /// Every sequence number this entry reports lost, in order.
    pub fn lost(&self) -> impl Iterator<Item = SeqNo> + use<> {
        let (pid, blp) = (self.pid, self.blp);
        // RFC 4585 §6.2.1: bit i of BLP (LSB = 0) reports PID + i + 1.
        let following = (0..16u16)
            .filter(move |i| blp & (1 << i) != 0)
            .map(move |i| pid.wrapping_add(i + 1));
        core::iter::once(pid).chain(following)
    }
}

impl<'a> Entry<'a> for NackPair {
    fn read(b: &'a [u8]) -> Option<(Self, usize)> {
        (b.len() >= 4).then(|| {
            let pair = NackPair {
                pid: SeqNo(be_u16(b, 0)),
                blp: be_u16(b, 2),
            };
            (pair, 4)
        })
    }

    fn wire_len(&self) -> usize {
        4
    }

    fn write(&self, out: &mut [u8]) {
        put(out, 0, self.pid.0.to_be_bytes());
        put(out, 2, self.blp.to_be_bytes());
    }
}

impl<T: AsRef<[u8]>> Nack<T> {
    /// Wraps a buffer holding one generic NACK, after checking it has one or more entries.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let (packet, fci_len) = check_fb(buffer, PacketType::TransportFeedback, fmt::NACK)?;
        // RFC 4585 §6.2.1: the FCI holds at least one 4-octet NACK entry.
        if fci_len == 0 || fci_len % 4 != 0 {
            return Err(Error::Malformed(
                "generic NACK FCI not a whole number of entries",
            ));
        }
        Ok(Nack { packet })
    }

    /// The NACK entries.
    pub fn pairs(&self) -> ListIter<'_, NackPair> {
        ListIter::Wire(self.fci())
    }

    /// Every sequence number reported lost, entry by entry.
    pub fn lost(&self) -> impl Iterator<Item = SeqNo> + '_ {
        self.pairs().flat_map(|p| p.lost())
    }
}

impl<T: AsRef<[u8]>> Pli<T> {
    /// Wraps a buffer holding one PLI, after checking it has no FCI.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let (packet, fci_len) = check_fb(buffer, PacketType::PayloadFeedback, fmt::PLI)?;
        // RFC 4585 §6.3.1: PLI has no parameters; the length field is 2.
        if fci_len != 0 {
            return Err(Error::Malformed("PLI with FCI"));
        }
        Ok(Pli { packet })
    }
}

/// One FIR entry: the source to refresh and a command sequence number (RFC 5104 §4.3.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FirEntry {
    /// Source that should send a decoder refresh point.
    pub ssrc: Ssrc,
    /// Command sequence number; repeats of one request keep it.
    pub seq_nr: u8,
}

impl<'a> Entry<'a> for FirEntry {
    fn read(b: &'a [u8]) -> Option<(Self, usize)> {
        (b.len() >= 8).then(|| {
            let entry = FirEntry {
                ssrc: Ssrc(be_u32(b, 0)),
                seq_nr: be_u32(b, 4).to_be_bytes()[0],
            };
            (entry, 8)
        })
    }

    fn wire_len(&self) -> usize {
        8
    }

    fn write(&self, out: &mut [u8]) {
        put(out, 0, self.ssrc.0.to_be_bytes());
        // RFC 5104 §4.3.1.1: seq nr, then 24 reserved bits sent as zero.
        put(out, 4, [self.seq_nr, 0, 0, 0]);
    }
}

impl<T: AsRef<[u8]>> Fir<T> {
    /// Wraps a buffer holding one FIR, after checking it has one or more 8-octet entries.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let (packet, fci_len) = check_fb(buffer, PacketType::PayloadFeedback, fmt::FIR)?;
        if fci_len == 0 || fci_len % 8 != 0 {
            return Err(Error::Malformed("FIR FCI not a whole number of entries"));
        }
        Ok(Fir { packet })
    }

    /// The FIR entries.
    pub fn entries(&self) -> ListIter<'_, FirEntry> {
        ListIter::Wire(self.fci())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Fir<T> {
    /// Rewrites the SSRC of the `index`th entry; `false` if there is none.
    pub fn set_entry_ssrc(&mut self, index: usize, ssrc: Ssrc) -> bool {
        let ok = index < self.fci().len() / 8;
        if ok {
            self.packet
                .put_body(FB_HEADER_LEN + index * 8, ssrc.0.to_be_bytes());
        }
        ok
    }
}

impl<T: AsRef<[u8]>> Remb<T> {
    /// Wraps a buffer holding one REMB, after checking the identifier and the SSRC list.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let (packet, fci_len) = check_fb(buffer, PacketType::PayloadFeedback, fmt::AFB)?;
        if !is_remb(packet.body()) {
            return Err(Error::Malformed("PSFB AFB without REMB identifier"));
        }
        let remb = Remb { packet };
        if fci_len < REMB_FIXED_LEN + usize::from(remb.ssrc_count()) * 4 {
            return Err(Error::Truncated);
        }
        Ok(remb)
    }

    /// Number of SSRCs the estimate applies to.
    pub fn ssrc_count(&self) -> u8 {
        self.fci().get(4).copied().unwrap_or(0)
    }

    /// Bitrate exponent (6 bits).
    pub fn exponent(&self) -> u8 {
        self.fci().get(5).copied().unwrap_or(0) >> 2
    }

    /// Bitrate mantissa (18 bits).
    pub fn mantissa(&self) -> u32 {
        be_u32(self.fci(), 4) & ((1 << MANTISSA_BITS) - 1)
    }

    /// Estimated maximum bitrate in bits per second: mantissa · 2^exponent, saturating.
    pub fn bitrate(&self) -> u64 {
        decode_bitrate(self.exponent(), self.mantissa())
    }

    /// The SSRCs the estimate applies to.
    pub fn ssrcs(&self) -> ListIter<'_, Ssrc> {
        let end = REMB_FIXED_LEN + usize::from(self.ssrc_count()) * 4;
        ListIter::Wire(self.fci().get(REMB_FIXED_LEN..end).unwrap_or_default())
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Remb<T> {
    /// Rewrites the `index`th SSRC; `false` if there is none.
    pub fn set_ssrc(&mut self, index: usize, ssrc: Ssrc) -> bool {
        let ok = index < usize::from(self.ssrc_count());
        if ok {
            let at = FB_HEADER_LEN + REMB_FIXED_LEN + index * 4;
            self.packet.put_body(at, ssrc.0.to_be_bytes());
        }
        ok
    }
}

/// Whether a PSFB FMT 15 body is a REMB: its FCI starts with "REMB" (draft §2.2).
pub(super) fn is_remb(body: &[u8]) -> bool {
    body.get(FB_HEADER_LEN..FB_HEADER_LEN + 4) == Some(&REMB_ID[..])
}

/// mantissa · 2^exp, or `u64::MAX` if that does not fit.
fn decode_bitrate(exp: u8, mantissa: u32) -> u64 {
    let m = u64::from(mantissa);
    if m == 0 {
        0
    } else if m.leading_zeros() < u32::from(exp) {
        u64::MAX
    } else {
        m << exp
    }
}

/// The smallest exponent and its mantissa for `bps`, rounding down to a representable value.
fn encode_bitrate(bps: u64) -> (u8, u32) {
    let bits = u64::BITS - bps.leading_zeros();
    let exp = bits.saturating_sub(MANTISSA_BITS);
    (exp as u8, (bps >> exp) as u32)
}

/// A generic NACK as values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NackRepr<'a> {
    /// SSRC of the packet sender.
    pub sender_ssrc: Ssrc,
    /// SSRC of the media source with the losses.
    pub media_ssrc: Ssrc,
    /// NACK entries; at least one.
    pub pairs: List<'a, NackPair>,
}

impl<'a> NackRepr<'a> {
    /// Reads a checked NACK view.
    pub fn parse<T: AsRef<[u8]>>(view: &'a Nack<T>) -> Self {
        NackRepr {
            sender_ssrc: view.sender_ssrc(),
            media_ssrc: view.media_ssrc(),
            pairs: List::Wire(view.fci()),
        }
    }

    /// Length of the packet this emits.
    pub fn buffer_len(&self) -> usize {
        4 + FB_HEADER_LEN + self.pairs.wire_len()
    }

    /// Writes the packet at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if self.pairs.is_empty() {
            return Err(Error::Malformed("generic NACK without entries"));
        }
        let len = self.buffer_len();
        let out = emit_buffer(buf, len)?;
        let pt = PacketType::TransportFeedback;
        emit_fb(out, pt, fmt::NACK, len, self.sender_ssrc, self.media_ssrc);
        self.pairs.write(out.get_mut(12..).unwrap_or_default());
        Ok(len)
    }
}

/// A PLI as values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PliRepr {
    /// SSRC of the packet sender.
    pub sender_ssrc: Ssrc,
    /// SSRC of the media source that should send a key frame.
    pub media_ssrc: Ssrc,
}

impl PliRepr {
    /// Length of a PLI packet.
    pub const LEN: usize = 4 + FB_HEADER_LEN;

    /// Reads a checked PLI view.
    pub fn parse<T: AsRef<[u8]>>(view: &Pli<T>) -> Self {
        PliRepr {
            sender_ssrc: view.sender_ssrc(),
            media_ssrc: view.media_ssrc(),
        }
    }

    /// Length of the packet this emits.
    pub fn buffer_len(&self) -> usize {
        Self::LEN
    }

    /// Writes the packet at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let out = emit_buffer(buf, Self::LEN)?;
        let pt = PacketType::PayloadFeedback;
        emit_fb(
            out,
            pt,
            fmt::PLI,
            Self::LEN,
            self.sender_ssrc,
            self.media_ssrc,
        );
        Ok(Self::LEN)
    }
}

/// A FIR as values. The media SSRC field is emitted as 0, as RFC 5104 §4.3.1.2 asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirRepr<'a> {
    /// SSRC of the packet sender.
    pub sender_ssrc: Ssrc,
    /// FIR entries; at least one.
    pub entries: List<'a, FirEntry>,
}

impl<'a> FirRepr<'a> {
    /// Reads a checked FIR view.
    pub fn parse<T: AsRef<[u8]>>(view: &'a Fir<T>) -> Self {
        FirRepr {
            sender_ssrc: view.sender_ssrc(),
            entries: List::Wire(view.fci()),
        }
    }

    /// Length of the packet this emits.
    pub fn buffer_len(&self) -> usize {
        4 + FB_HEADER_LEN + self.entries.wire_len()
    }

    /// Writes the packet at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        if self.entries.is_empty() {
            return Err(Error::Malformed("FIR without entries"));
        }
        let len = self.buffer_len();
        let out = emit_buffer(buf, len)?;
        let pt = PacketType::PayloadFeedback;
        emit_fb(out, pt, fmt::FIR, len, self.sender_ssrc, Ssrc(0));
        self.entries.write(out.get_mut(12..).unwrap_or_default());
        Ok(len)
    }
}

/// A REMB as values. The media SSRC field is emitted as 0, as the draft asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RembRepr<'a> {
    /// SSRC of the packet sender.
    pub sender_ssrc: Ssrc,
    /// Estimated maximum bitrate, bits per second. Emit rounds it down to what an 18-bit
    /// mantissa and 6-bit exponent can express.
    pub bitrate: u64,
    /// SSRCs the estimate applies to, at most 255.
    pub ssrcs: List<'a, Ssrc>,
}

impl<'a> RembRepr<'a> {
    /// Reads a checked REMB view.
    pub fn parse<T: AsRef<[u8]>>(view: &'a Remb<T>) -> Self {
        RembRepr {
            sender_ssrc: view.sender_ssrc(),
            bitrate: view.bitrate(),
            ssrcs: view.ssrcs().into_list(),
        }
    }

    /// Length of the packet this emits.
    pub fn buffer_len(&self) -> usize {
        4 + FB_HEADER_LEN + REMB_FIXED_LEN + self.ssrcs.wire_len()
    }

    /// Writes the packet at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let count = self.ssrcs.len();
        let count = u8::try_from(count).map_err(|_| Error::Malformed("REMB over 255 SSRCs"))?;
        let len = self.buffer_len();
        let out = emit_buffer(buf, len)?;
        let pt = PacketType::PayloadFeedback;
        emit_fb(out, pt, fmt::AFB, len, self.sender_ssrc, Ssrc(0));
        let (exp, mantissa) = encode_bitrate(self.bitrate);
        put(out, 12, REMB_ID);
        // draft-alvestrand-rmcat-remb-03 §2.2: Num SSRC (8), BR Exp (6), BR Mantissa (18).
        put(
            out,
            16,
            (u32::from(count) << 24 | u32::from(exp) << 18 | mantissa).to_be_bytes(),
        );
        self.ssrcs.write(out.get_mut(20..).unwrap_or_default());
        Ok(len)
    }
}
