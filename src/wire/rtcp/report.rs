//! Sender and receiver reports (RFC 3550 §6.4).
//!
//! SR body: sender SSRC, 20 octets of sender info, RC report blocks of 24 octets, then optional
//! profile-specific extensions. RR body: the same without the sender info. The engine rewrites
//! the sender SSRC and each block's source SSRC in place when it maps SSRCs between legs.

use super::list::{Entry, List, ListIter};
use super::{MAX_COUNT, Packet, PacketType, check_typed, emit_buffer, emit_header};
use crate::wire::rtp::{Ssrc, be_u32, put, slice};
use crate::wire::{Error, Result};

const SSRC_LEN: usize = 4;
const SENDER_INFO_LEN: usize = 20;
const BLOCK_LEN: usize = 24;
/// Range of a 24-bit signed cumulative loss (RFC 3550 §6.4.1).
const LOST_MIN: i32 = -0x80_0000;
const LOST_MAX: i32 = 0x7f_ffff;

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ReportBlock {
    /// Source this block reports on.
    pub ssrc: Ssrc,
    /// Fraction lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost, a 24-bit signed value (duplicates can make it negative). Emit
    /// clamps it to that range, as RFC 3550 A.3 does.
    pub cumulative_lost: i32,
    /// Extended highest sequence number received (cycles in the high 16 bits).
    pub highest_seq: u32,
    /// Interarrival jitter, in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received (LSR); 0 if none.
    pub last_sr: u32,
    /// Delay since that SR, in 1/65536 s (DLSR).
    pub delay_since_last_sr: u32,
}

impl<'a> Entry<'a> for ReportBlock {
    fn read(b: &'a [u8]) -> Option<(Self, usize)> {
        if b.len() < BLOCK_LEN {
            return None;
        }
        let lost_word = be_u32(b, 4);
        let block = ReportBlock {
            ssrc: Ssrc(be_u32(b, 0)),
            fraction_lost: (lost_word >> 24) as u8,
            // RFC 3550 §6.4.1: cumulative number of packets lost is 24-bit signed; sign-extend.
            cumulative_lost: ((lost_word << 8) as i32) >> 8,
            highest_seq: be_u32(b, 8),
            jitter: be_u32(b, 12),
            last_sr: be_u32(b, 16),
            delay_since_last_sr: be_u32(b, 20),
        };
        Some((block, BLOCK_LEN))
    }

    fn wire_len(&self) -> usize {
        BLOCK_LEN
    }

    fn write(&self, out: &mut [u8]) {
        let lost = self.cumulative_lost.clamp(LOST_MIN, LOST_MAX) as u32 & 0x00ff_ffff;
        put(out, 0, self.ssrc.0.to_be_bytes());
        put(
            out,
            4,
            (u32::from(self.fraction_lost) << 24 | lost).to_be_bytes(),
        );
        put(out, 8, self.highest_seq.to_be_bytes());
        put(out, 12, self.jitter.to_be_bytes());
        put(out, 16, self.last_sr.to_be_bytes());
        put(out, 20, self.delay_since_last_sr.to_be_bytes());
    }
}

/// Sender info of an SR (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SenderInfo {
    /// NTP timestamp: seconds since 1900 in the high 32 bits, fraction in the low 32.
    pub ntp_timestamp: u64,
    /// RTP timestamp corresponding to the NTP timestamp.
    pub rtp_timestamp: u32,
    /// Sender's packet count.
    pub packet_count: u32,
    /// Sender's payload octet count.
    pub octet_count: u32,
}

impl SenderInfo {
    /// The middle 32 bits of the NTP timestamp: the LSR a receiver echoes (RFC 3550 §6.4.1).
    pub fn ntp_middle(&self) -> u32 {
        (self.ntp_timestamp >> 16) as u32
    }

    fn read(b: &[u8]) -> SenderInfo {
        SenderInfo {
            ntp_timestamp: u64::from(be_u32(b, 0)) << 32 | u64::from(be_u32(b, 4)),
            rtp_timestamp: be_u32(b, 8),
            packet_count: be_u32(b, 12),
            octet_count: be_u32(b, 16),
        }
    }

    fn write(&self, out: &mut [u8]) {
        put(out, 0, self.ntp_timestamp.to_be_bytes());
        put(out, 8, self.rtp_timestamp.to_be_bytes());
        put(out, 12, self.packet_count.to_be_bytes());
        put(out, 16, self.octet_count.to_be_bytes());
    }
}

/// Checks the body holds `count` report blocks after `offset` octets.
fn check_blocks(body: &[u8], offset: usize, count: u8) -> Result<()> {
    if body.len() < offset + usize::from(count) * BLOCK_LEN {
        return Err(Error::Truncated);
    }
    Ok(())
}

/// The bytes of the `count` report blocks starting `offset` octets into the body.
fn blocks(body: &[u8], offset: usize, count: u8) -> &[u8] {
    slice(body, offset, offset + usize::from(count) * BLOCK_LEN)
}

/// Shared report-block accessors of SR and RR: `offset` is where the blocks start in the body.
macro_rules! report_view {
    ($name:ident, $pt:expr, $offset:expr, $doc:literal) => {
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

            /// Wraps a buffer holding one packet of this type, after checking its header,
            /// padding and that the announced report blocks fit.
            pub fn new_checked(buffer: T) -> Result<Self> {
                let packet = check_typed(buffer, $pt)?;
                check_blocks(packet.body(), $offset, packet.count())?;
                Ok($name { packet })
            }

            /// Returns the underlying buffer.
            pub fn into_inner(self) -> T {
                self.packet.into_inner()
            }

            /// SSRC of the sender of this report.
            pub fn ssrc(&self) -> Ssrc {
                Ssrc(be_u32(self.packet.body(), 0))
            }

            /// Number of report blocks (RC).
            pub fn report_count(&self) -> u8 {
                self.packet.count()
            }

            /// The report blocks, in order.
            pub fn report_blocks(&self) -> ListIter<'_, ReportBlock> {
                ListIter::Wire(self.blocks_bytes())
            }

            /// The `index`th report block.
            pub fn report_block(&self, index: usize) -> Option<ReportBlock> {
                self.report_blocks().nth(index)
            }

            /// Profile-specific extension octets after the report blocks.
            pub fn profile_extension(&self) -> &[u8] {
                let end = $offset + usize::from(self.report_count()) * BLOCK_LEN;
                self.packet.body().get(end..).unwrap_or_default()
            }

            fn blocks_bytes(&self) -> &[u8] {
                blocks(self.packet.body(), $offset, self.report_count())
            }
        }

        impl<T: AsRef<[u8]> + AsMut<[u8]>> $name<T> {
            /// Rewrites the sender SSRC.
            pub fn set_ssrc(&mut self, ssrc: Ssrc) {
                self.packet.set_sender_ssrc(ssrc);
            }

            /// Rewrites the source SSRC of the `index`th report block; `false` if there is none.
            pub fn set_report_block_ssrc(&mut self, index: usize, ssrc: Ssrc) -> bool {
                let ok = index < usize::from(self.report_count());
                if ok {
                    self.packet
                        .put_body($offset + index * BLOCK_LEN, ssrc.0.to_be_bytes());
                }
                ok
            }
        }
    };
}

report_view!(
    SenderReport,
    PacketType::SenderReport,
    SSRC_LEN + SENDER_INFO_LEN,
    "A sender report (SR, RFC 3550 §6.4.1)."
);
report_view!(
    ReceiverReport,
    PacketType::ReceiverReport,
    SSRC_LEN,
    "A receiver report (RR, RFC 3550 §6.4.2)."
);

impl<T: AsRef<[u8]>> SenderReport<T> {
    /// The sender info.
    pub fn sender_info(&self) -> SenderInfo {
        SenderInfo::read(self.packet.body().get(SSRC_LEN..).unwrap_or_default())
    }
}

/// A sender report as values. Profile-specific extensions are not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderReportRepr<'a> {
    /// Sender SSRC.
    pub ssrc: Ssrc,
    /// Sender info.
    pub sender_info: SenderInfo,
    /// Report blocks, at most [`MAX_COUNT`].
    pub reports: List<'a, ReportBlock>,
}

impl<'a> SenderReportRepr<'a> {
    /// Reads a checked SR view.
    pub fn parse<T: AsRef<[u8]>>(view: &'a SenderReport<T>) -> Self {
        SenderReportRepr {
            ssrc: view.ssrc(),
            sender_info: view.sender_info(),
            reports: List::Wire(view.blocks_bytes()),
        }
    }

    /// Length of the packet this emits.
    pub fn buffer_len(&self) -> usize {
        4 + SSRC_LEN + SENDER_INFO_LEN + self.reports.wire_len()
    }

    /// Writes the packet at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let count = report_count(&self.reports)?;
        let len = self.buffer_len();
        let out = emit_buffer(buf, len)?;
        emit_header(out, count, PacketType::SenderReport, len);
        put(out, 4, self.ssrc.0.to_be_bytes());
        self.sender_info.write(out.get_mut(8..).unwrap_or_default());
        self.reports.write(out.get_mut(28..).unwrap_or_default());
        Ok(len)
    }
}

/// A receiver report as values. Profile-specific extensions are not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverReportRepr<'a> {
    /// Sender SSRC (the reporting receiver).
    pub ssrc: Ssrc,
    /// Report blocks, at most [`MAX_COUNT`].
    pub reports: List<'a, ReportBlock>,
}

impl<'a> ReceiverReportRepr<'a> {
    /// Reads a checked RR view.
    pub fn parse<T: AsRef<[u8]>>(view: &'a ReceiverReport<T>) -> Self {
        ReceiverReportRepr {
            ssrc: view.ssrc(),
            reports: List::Wire(view.blocks_bytes()),
        }
    }

    /// Length of the packet this emits.
    pub fn buffer_len(&self) -> usize {
        4 + SSRC_LEN + self.reports.wire_len()
    }

    /// Writes the packet at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let count = report_count(&self.reports)?;
        let len = self.buffer_len();
        let out = emit_buffer(buf, len)?;
        emit_header(out, count, PacketType::ReceiverReport, len);
        put(out, 4, self.ssrc.0.to_be_bytes());
        self.reports.write(out.get_mut(8..).unwrap_or_default());
        Ok(len)
    }
}

/// The RC field for a list of report blocks, if it fits in 5 bits.
fn report_count(reports: &List<'_, ReportBlock>) -> Result<u8> {
    let n = reports.len();
    if n > MAX_COUNT {
        return Err(Error::Malformed("more than 31 report blocks"));
    }
    Ok(n as u8)
}
