//! RTCP (RFC 3550 §6) compound packets, feedback messages (RFC 4585, RFC 5104), REMB and
//! transport-wide congestion control feedback, and reduced-size RTCP (RFC 5506).
//!
//! [`Compound`] walks the packets of a datagram by their length fields; [`Packet`] is a
//! checked view of one; [`Repr`] parses a packet into an owned value and emits it back.
//!
//! ```text
//!  V=2|P| count/FMT |  packet type  |          length (words - 1)
//!  sender SSRC (all types here)
//!  type-specific body ...
//! ```

use super::{Error, Result};

/// Packet types (RFC 3550 §12.1, RFC 4585 §6.1).
pub mod pt {
    /// Sender report.
    pub const SR: u8 = 200;
    /// Receiver report.
    pub const RR: u8 = 201;
    /// Source description.
    pub const SDES: u8 = 202;
    /// Goodbye.
    pub const BYE: u8 = 203;
    /// Application-defined.
    pub const APP: u8 = 204;
    /// Transport-layer feedback.
    pub const RTPFB: u8 = 205;
    /// Payload-specific feedback.
    pub const PSFB: u8 = 206;
}

/// A checked view of one RTCP packet (header length within the buffer).
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Checks version 2, that the length field fits the buffer and the padding fits the
    /// packet. The view covers exactly the packet (`4 * (length + 1)` bytes).
    pub fn new_checked(buffer: T) -> Result<Self> {
        let b = buffer.as_ref();
        let h = b.get(..4).ok_or(Error::Truncated)?;
        if h[0] >> 6 != 2 {
            return Err(Error::Malformed("RTCP version is not 2"));
        }
        let len = 4 * (usize::from(u16::from_be_bytes([h[2], h[3]])) + 1);
        let pkt = b.get(..len).ok_or(Error::Truncated)?;
        if h[0] & 0x20 != 0 {
            let pad = usize::from(pkt[len - 1]);
            if pad == 0 || pad > len - 4 {
                return Err(Error::Malformed("RTCP padding length"));
            }
        }
        Ok(Self { buffer })
    }

    fn b(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[..self.total_len()]
    }

    /// Length in bytes, header included.
    pub fn total_len(&self) -> usize {
        let b = self.buffer.as_ref();
        4 * (usize::from(u16::from_be_bytes([b[2], b[3]])) + 1)
    }

    /// Padding flag.
    pub fn padding(&self) -> bool {
        self.b()[0] & 0x20 != 0
    }

    /// Report count, SDES/BYE source count, or feedback FMT (5 bits).
    pub fn count(&self) -> u8 {
        self.b()[0] & 0x1f
    }

    /// Packet type.
    pub fn packet_type(&self) -> u8 {
        self.b()[1]
    }

    /// The body after the 4-byte header, without padding.
    pub fn body(&self) -> &[u8] {
        let b = self.b();
        let pad = if self.padding() {
            usize::from(b[b.len() - 1])
        } else {
            0
        };
        &b[4..b.len() - pad]
    }

    /// The first SSRC (sender of SR/RR/feedback/APP, first chunk of SDES, first of BYE).
    pub fn sender_ssrc(&self) -> Option<u32> {
        self.body()
            .get(..4)
            .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }

    /// The packet bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.b()
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Rewrites the first SSRC in place (the engine's SSRC mapping).
    pub fn set_sender_ssrc(&mut self, ssrc: u32) -> Result<()> {
        let b = self.buffer.as_mut();
        b.get_mut(4..8)
            .ok_or(Error::Truncated)?
            .copy_from_slice(&ssrc.to_be_bytes());
        Ok(())
    }

    /// Rewrites the media SSRC of a feedback message (RTPFB/PSFB, bytes 8..12) in place.
    pub fn set_media_ssrc(&mut self, ssrc: u32) -> Result<()> {
        let t = self.packet_type();
        if t != pt::RTPFB && t != pt::PSFB {
            return Err(Error::Unsupported("media SSRC on a non-feedback packet"));
        }
        let b = self.buffer.as_mut();
        b.get_mut(8..12)
            .ok_or(Error::Truncated)?
            .copy_from_slice(&ssrc.to_be_bytes());
        Ok(())
    }
}

/// Iterator over the packets of a compound (or reduced-size) RTCP datagram. A length field
/// that overruns the datagram yields one error and ends the iteration.
#[derive(Debug, Clone)]
pub struct Compound<'a> {
    rest: &'a [u8],
}

impl<'a> Compound<'a> {
    /// Iterates `datagram`.
    pub fn new(datagram: &'a [u8]) -> Self {
        Self { rest: datagram }
    }
}

impl<'a> Iterator for Compound<'a> {
    type Item = Result<Packet<&'a [u8]>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        match Packet::new_checked(self.rest) {
            Ok(p) => {
                let n = p.total_len();
                self.rest = &self.rest[n..];
                Some(Ok(Packet {
                    buffer: &p.buffer[..n],
                }))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// A reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportBlock {
    /// Source reported on.
    pub ssrc: u32,
    /// Fraction lost since the last report, /256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub highest_seq: u32,
    /// Interarrival jitter, timestamp units.
    pub jitter: u32,
    /// Last SR timestamp (middle 32 bits of NTP).
    pub lsr: u32,
    /// Delay since last SR, 1/65536 s.
    pub dlsr: u32,
}

impl ReportBlock {
    fn parse(b: &[u8]) -> Self {
        let w = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let lost = w(4) & 0x00ff_ffff;
        Self {
            ssrc: w(0),
            fraction_lost: b[4],
            // Sign-extend the 24-bit field.
            cumulative_lost: ((lost << 8) as i32) >> 8,
            highest_seq: w(8),
            jitter: w(12),
            lsr: w(16),
            dlsr: w(20),
        }
    }

    fn emit(&self, out: &mut Vec<u8>) {
        out.extend(self.ssrc.to_be_bytes());
        out.push(self.fraction_lost);
        out.extend(&(self.cumulative_lost as u32).to_be_bytes()[1..]);
        for v in [self.highest_seq, self.jitter, self.lsr, self.dlsr] {
            out.extend(v.to_be_bytes());
        }
    }
}

/// One SDES chunk: a source and its items `(type, value)` (type 1 = CNAME).
pub type SdesChunk = (u32, Vec<(u8, Vec<u8>)>);

/// A parsed RTCP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repr {
    /// Sender report.
    SenderReport {
        /// Sender SSRC.
        ssrc: u32,
        /// NTP timestamp.
        ntp: u64,
        /// RTP timestamp.
        rtp_ts: u32,
        /// Packets sent.
        packets: u32,
        /// Octets sent.
        octets: u32,
        /// Report blocks.
        reports: Vec<ReportBlock>,
    },
    /// Receiver report.
    ReceiverReport {
        /// Sender SSRC.
        ssrc: u32,
        /// Report blocks.
        reports: Vec<ReportBlock>,
    },
    /// Source description: per source, its items `(type, value)` (1 = CNAME).
    Sdes(Vec<SdesChunk>),
    /// Goodbye.
    Bye {
        /// Sources leaving.
        ssrcs: Vec<u32>,
        /// Optional reason.
        reason: Option<Vec<u8>>,
    },
    /// Application-defined.
    App {
        /// Subtype.
        subtype: u8,
        /// Sender SSRC.
        ssrc: u32,
        /// Four-character name.
        name: [u8; 4],
        /// Data (multiple of 4 bytes).
        data: Vec<u8>,
    },
    /// Generic NACK (RFC 4585 §6.2.1): lost sequence numbers as (PID, BLP) pairs.
    Nack {
        /// Sender SSRC.
        sender: u32,
        /// Media SSRC.
        media: u32,
        /// (PID, BLP) pairs.
        pairs: Vec<(u16, u16)>,
    },
    /// Transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-
    /// extensions-01 §3.1); the packet status chunks and deltas are kept raw.
    Twcc {
        /// Sender SSRC.
        sender: u32,
        /// Media SSRC.
        media: u32,
        /// Base sequence number.
        base_seq: u16,
        /// Packet status count.
        status_count: u16,
        /// Reference time (24-bit signed, 64 ms units).
        reference_time: i32,
        /// Feedback packet count.
        fb_count: u8,
        /// Status chunks and receive deltas.
        chunks: Vec<u8>,
    },
    /// Picture loss indication (RFC 4585 §6.3.1).
    Pli {
        /// Sender SSRC.
        sender: u32,
        /// Media SSRC.
        media: u32,
    },
    /// Full intra request (RFC 5104 §4.3.1): (SSRC, command sequence number) entries.
    Fir {
        /// Sender SSRC.
        sender: u32,
        /// Entries.
        entries: Vec<(u32, u8)>,
    },
    /// Receiver estimated maximum bitrate (draft-alvestrand-rmcat-remb).
    Remb {
        /// Sender SSRC.
        sender: u32,
        /// Bits per second.
        bitrate: u64,
        /// SSRCs the estimate applies to.
        ssrcs: Vec<u32>,
    },
    /// Any other packet type or feedback format, kept raw.
    Other {
        /// Packet type.
        packet_type: u8,
        /// Count / FMT.
        count: u8,
        /// Body.
        body: Vec<u8>,
    },
}

fn u32_at(b: &[u8], i: usize) -> Result<u32> {
    let s = b.get(i..i + 4).ok_or(Error::Truncated)?;
    Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn reports(b: &[u8], count: u8) -> Result<Vec<ReportBlock>> {
    let need = 24 * usize::from(count);
    let blocks = b.get(..need).ok_or(Error::Truncated)?;
    Ok(blocks.chunks_exact(24).map(ReportBlock::parse).collect())
}

impl Repr {
    /// Parses one checked packet.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Self> {
        let (b, count) = (p.body(), p.count());
        Ok(match (p.packet_type(), count) {
            (pt::SR, _) => Self::SenderReport {
                ssrc: u32_at(b, 0)?,
                ntp: (u64::from(u32_at(b, 4)?) << 32) | u64::from(u32_at(b, 8)?),
                rtp_ts: u32_at(b, 12)?,
                packets: u32_at(b, 16)?,
                octets: u32_at(b, 20)?,
                reports: reports(&b[24..], count)?,
            },
            (pt::RR, _) => Self::ReceiverReport {
                ssrc: u32_at(b, 0)?,
                reports: reports(&b[4..], count)?,
            },
            (pt::SDES, _) => Self::Sdes(parse_sdes(b, count)?),
            (pt::BYE, _) => {
                let n = usize::from(count);
                let ssrcs = (0..n)
                    .map(|i| u32_at(b, 4 * i))
                    .collect::<Result<Vec<_>>>()?;
                let reason = match b.get(4 * n) {
                    Some(&len) => Some(
                        b.get(4 * n + 1..4 * n + 1 + usize::from(len))
                            .ok_or(Error::Truncated)?
                            .to_vec(),
                    ),
                    None => None,
                };
                Self::Bye { ssrcs, reason }
            }
            (pt::APP, subtype) => {
                let name = b.get(4..8).ok_or(Error::Truncated)?;
                Self::App {
                    subtype,
                    ssrc: u32_at(b, 0)?,
                    name: [name[0], name[1], name[2], name[3]],
                    data: b[8..].to_vec(),
                }
            }
            (pt::RTPFB, 1) => Self::Nack {
                sender: u32_at(b, 0)?,
                media: u32_at(b, 4)?,
                pairs: b
                    .get(8..)
                    .unwrap_or(&[])
                    .chunks_exact(4)
                    .map(|c| {
                        (
                            u16::from_be_bytes([c[0], c[1]]),
                            u16::from_be_bytes([c[2], c[3]]),
                        )
                    })
                    .collect(),
            },
            (pt::RTPFB, 15) => {
                let f = b.get(8..16).ok_or(Error::Truncated)?;
                let rt = (u32::from(f[4]) << 16) | (u32::from(f[5]) << 8) | u32::from(f[6]);
                Self::Twcc {
                    sender: u32_at(b, 0)?,
                    media: u32_at(b, 4)?,
                    base_seq: u16::from_be_bytes([f[0], f[1]]),
                    status_count: u16::from_be_bytes([f[2], f[3]]),
                    reference_time: ((rt << 8) as i32) >> 8,
                    fb_count: f[7],
                    chunks: b[16..].to_vec(),
                }
            }
            (pt::PSFB, 1) => Self::Pli {
                sender: u32_at(b, 0)?,
                media: u32_at(b, 4)?,
            },
            (pt::PSFB, 4) => Self::Fir {
                sender: u32_at(b, 0)?,
                entries: b
                    .get(8..)
                    .unwrap_or(&[])
                    .chunks_exact(8)
                    .map(|c| (u32::from_be_bytes([c[0], c[1], c[2], c[3]]), c[4]))
                    .collect(),
            },
            (pt::PSFB, 15) if b.get(8..12) == Some(b"REMB") => {
                let f = b.get(12..16).ok_or(Error::Truncated)?;
                let n = usize::from(f[0]);
                let exp = u32::from(f[1] >> 2);
                let mantissa =
                    (u64::from(f[1] & 3) << 16) | (u64::from(f[2]) << 8) | u64::from(f[3]);
                let ssrcs = (0..n)
                    .map(|i| u32_at(b, 16 + 4 * i))
                    .collect::<Result<Vec<_>>>()?;
                Self::Remb {
                    sender: u32_at(b, 0)?,
                    bitrate: mantissa.checked_shl(exp).unwrap_or(u64::MAX),
                    ssrcs,
                }
            }
            (t, c) => Self::Other {
                packet_type: t,
                count: c,
                body: b.to_vec(),
            },
        })
    }

    /// Emits the packet; returns its bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let (count, ty, mut body) = self.body()?;
        while body.len() % 4 != 0 {
            body.push(0);
        }
        let words = body.len() / 4;
        if count > 31 || words > usize::from(u16::MAX) {
            return Err(Error::Malformed("RTCP count or length out of range"));
        }
        let mut out = vec![0x80 | count, ty];
        out.extend((words as u16).to_be_bytes());
        out.extend(body);
        Ok(out)
    }

    fn body(&self) -> Result<(u8, u8, Vec<u8>)> {
        let mut b = Vec::new();
        let push = |b: &mut Vec<u8>, v: u32| b.extend(v.to_be_bytes());
        let (count, ty) = match self {
            Self::SenderReport {
                ssrc,
                ntp,
                rtp_ts,
                packets,
                octets,
                reports,
            } => {
                for v in [
                    *ssrc,
                    (*ntp >> 32) as u32,
                    *ntp as u32,
                    *rtp_ts,
                    *packets,
                    *octets,
                ] {
                    push(&mut b, v);
                }
                reports.iter().for_each(|r| r.emit(&mut b));
                (reports.len(), pt::SR)
            }
            Self::ReceiverReport { ssrc, reports } => {
                push(&mut b, *ssrc);
                reports.iter().for_each(|r| r.emit(&mut b));
                (reports.len(), pt::RR)
            }
            Self::Sdes(chunks) => {
                for (ssrc, items) in chunks {
                    push(&mut b, *ssrc);
                    for (t, v) in items {
                        let len = u8::try_from(v.len())
                            .map_err(|_| Error::Malformed("SDES item too long"))?;
                        b.push(*t);
                        b.push(len);
                        b.extend(v);
                    }
                    // End of items, then pad the chunk to a word (RFC 3550 §6.5).
                    b.push(0);
                    while b.len() % 4 != 0 {
                        b.push(0);
                    }
                }
                (chunks.len(), pt::SDES)
            }
            Self::Bye { ssrcs, reason } => {
                ssrcs.iter().for_each(|s| push(&mut b, *s));
                if let Some(r) = reason {
                    b.push(
                        u8::try_from(r.len())
                            .map_err(|_| Error::Malformed("BYE reason too long"))?,
                    );
                    b.extend(r);
                }
                (ssrcs.len(), pt::BYE)
            }
            Self::App {
                subtype,
                ssrc,
                name,
                data,
            } => {
                push(&mut b, *ssrc);
                b.extend(name);
                b.extend(data);
                (usize::from(*subtype), pt::APP)
            }
            Self::Nack {
                sender,
                media,
                pairs,
            } => {
                push(&mut b, *sender);
                push(&mut b, *media);
                pairs
                    .iter()
                    .for_each(|(pid, blp)| push(&mut b, (u32::from(*pid) << 16) | u32::from(*blp)));
                (1, pt::RTPFB)
            }
            Self::Twcc {
                sender,
                media,
                base_seq,
                status_count,
                reference_time,
                fb_count,
                chunks,
            } => {
                push(&mut b, *sender);
                push(&mut b, *media);
                b.extend(base_seq.to_be_bytes());
                b.extend(status_count.to_be_bytes());
                b.extend(&(*reference_time as u32).to_be_bytes()[1..]);
                b.push(*fb_count);
                b.extend(chunks);
                (15, pt::RTPFB)
            }
            Self::Pli { sender, media } => {
                push(&mut b, *sender);
                push(&mut b, *media);
                (1, pt::PSFB)
            }
            Self::Fir { sender, entries } => {
                push(&mut b, *sender);
                push(&mut b, 0);
                for (ssrc, seq) in entries {
                    push(&mut b, *ssrc);
                    b.extend([*seq, 0, 0, 0]);
                }
                (4, pt::PSFB)
            }
            Self::Remb {
                sender,
                bitrate,
                ssrcs,
            } => {
                push(&mut b, *sender);
                push(&mut b, 0);
                b.extend(b"REMB");
                // 18-bit mantissa, 6-bit exponent.
                let exp = (64 - bitrate.leading_zeros()).saturating_sub(18);
                let mantissa = (bitrate >> exp) as u32;
                b.push(u8::try_from(ssrcs.len()).map_err(|_| Error::Malformed("REMB SSRC count"))?);
                b.push(((exp as u8) << 2) | ((mantissa >> 16) as u8 & 3));
                b.extend(&(mantissa as u16).to_be_bytes());
                ssrcs.iter().for_each(|s| push(&mut b, *s));
                (15, pt::PSFB)
            }
            Self::Other {
                packet_type,
                count,
                body,
            } => {
                b.extend(body);
                (usize::from(*count), *packet_type)
            }
        };
        Ok((count as u8, ty, b))
    }
}

fn parse_sdes(b: &[u8], count: u8) -> Result<Vec<SdesChunk>> {
    let mut at = 0;
    let mut chunks = Vec::new();
    for _ in 0..count {
        let ssrc = u32_at(b, at)?;
        at += 4;
        let mut items = Vec::new();
        loop {
            let t = *b.get(at).ok_or(Error::Truncated)?;
            if t == 0 {
                // Skip the terminating null and the padding to the next word.
                at = (at + 1).next_multiple_of(4);
                break;
            }
            let len = usize::from(*b.get(at + 1).ok_or(Error::Truncated)?);
            let v = b.get(at + 2..at + 2 + len).ok_or(Error::Truncated)?;
            items.push((t, v.to_vec()));
            at += 2 + len;
        }
        chunks.push((ssrc, items));
    }
    Ok(chunks)
}

#[cfg(test)]
mod tests;
