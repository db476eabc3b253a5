//! Source description (SDES, RFC 3550 §6.5).
//!
//! The body is SC chunks. A chunk is an SSRC, then items (type octet, length octet, text), ended
//! by a null octet and padded with nulls to the next 32-bit boundary. `new_checked` walks every
//! chunk once, so the iterators below need no error path.

use super::list::{Entry, List};
use super::{MAX_COUNT, Packet, PacketType, check_typed, emit_buffer, emit_header};
use crate::wire::rtp::{Ssrc, be_u32, put, slice};
use crate::wire::{Error, Result};

/// SDES item type (RFC 3550 §6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SdesType {
    /// CNAME, 1: canonical end-point identifier.
    Cname,
    /// NAME, 2.
    Name,
    /// EMAIL, 3.
    Email,
    /// PHONE, 4.
    Phone,
    /// LOC, 5.
    Loc,
    /// TOOL, 6.
    Tool,
    /// NOTE, 7.
    Note,
    /// PRIV, 8.
    Priv,
    /// Any other non-zero value.
    Other(u8),
}

impl From<u8> for SdesType {
    fn from(v: u8) -> Self {
        match v {
            1 => SdesType::Cname,
            2 => SdesType::Name,
            3 => SdesType::Email,
            4 => SdesType::Phone,
            5 => SdesType::Loc,
            6 => SdesType::Tool,
            7 => SdesType::Note,
            8 => SdesType::Priv,
            other => SdesType::Other(other),
        }
    }
}

const CNAME: u8 = 1;

/// One SDES item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesItem<'a> {
    /// Item type.
    pub kind: SdesType,
    /// Item text (UTF-8 by the RFC, but not checked).
    pub value: &'a [u8],
}

/// One SDES chunk: a source and its items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    /// The source described.
    pub ssrc: Ssrc,
    items: &'a [u8],
}

impl<'a> SdesChunk<'a> {
    /// The items, in order.
    pub fn items(&self) -> SdesItems<'a> {
        SdesItems { rest: self.items }
    }

    /// The CNAME item's text, if there is one.
    pub fn cname(&self) -> Option<&'a [u8]> {
        self.items()
            .find(|i| i.kind == SdesType::Cname)
            .map(|i| i.value)
    }
}

/// Iterator over the items of a chunk.
#[derive(Debug, Clone)]
pub struct SdesItems<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for SdesItems<'a> {
    type Item = SdesItem<'a>;

    fn next(&mut self) -> Option<SdesItem<'a>> {
        let (&kind, rest) = self.rest.split_first()?;
        let (&len, rest) = rest.split_first()?;
        let (value, rest) = rest.split_at_checked(usize::from(len))?;
        self.rest = rest;
        Some(SdesItem {
            kind: SdesType::from(kind),
            value,
        })
    }
}

/// Splits the chunk at the start of `bytes`: its SSRC, its item bytes (without the terminating
/// null) and the chunk's whole length, padding included.
fn split_chunk(bytes: &[u8]) -> Result<(Ssrc, &[u8], usize)> {
    if bytes.len() < 4 {
        return Err(Error::Truncated);
    }
    let mut at = 4;
    loop {
        match bytes.get(at) {
            None => return Err(Error::Truncated),
            // RFC 3550 §6.5: a null item type ends the list.
            Some(0) => break,
            Some(_) => {
                let len = bytes.get(at + 1).ok_or(Error::Truncated)?;
                at += 2 + usize::from(*len);
            }
        }
    }
    // RFC 3550 §6.5: the null and further nulls pad the chunk to a 32-bit boundary.
    let total = (at + 1).next_multiple_of(4);
    if total > bytes.len() {
        return Err(Error::Truncated);
    }
    Ok((Ssrc(be_u32(bytes, 0)), slice(bytes, 4, at), total))
}

/// Length of the first `count` chunks of `body`, checking each.
fn chunks_len(body: &[u8], count: u8) -> Result<usize> {
    let mut at = 0;
    for _ in 0..count {
        let (_, _, len) = split_chunk(body.get(at..).unwrap_or_default())?;
        at += len;
    }
    Ok(at)
}

/// A source description packet (SDES, RFC 3550 §6.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sdes<T: AsRef<[u8]>> {
    packet: Packet<T>,
}

impl<T: AsRef<[u8]>> Sdes<T> {
    /// Wraps a buffer without checking it; iterators stop early on a bad buffer.
    pub const fn new_unchecked(buffer: T) -> Self {
        Sdes {
            packet: Packet::new_unchecked(buffer),
        }
    }

    /// Wraps a buffer holding one SDES packet, after checking every chunk and item.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = check_typed(buffer, PacketType::SourceDescription)?;
        chunks_len(packet.body(), packet.count())?;
        Ok(Sdes { packet })
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.packet.into_inner()
    }

    /// Number of chunks (SC).
    pub fn source_count(&self) -> u8 {
        self.packet.count()
    }

    /// The chunks, in order.
    pub fn chunks(&self) -> SdesChunks<'_> {
        SdesChunks {
            rest: self.packet.body(),
            left: self.source_count(),
        }
    }

    fn chunk_bytes(&self) -> &[u8] {
        let body = self.packet.body();
        let len = chunks_len(body, self.source_count()).unwrap_or(0);
        slice(body, 0, len)
    }
}

/// Iterator over the chunks of an SDES packet.
#[derive(Debug, Clone)]
pub struct SdesChunks<'a> {
    rest: &'a [u8],
    left: u8,
}

impl<'a> Iterator for SdesChunks<'a> {
    type Item = SdesChunk<'a>;

    fn next(&mut self) -> Option<SdesChunk<'a>> {
        self.left = self.left.checked_sub(1)?;
        let (ssrc, items, len) = split_chunk(self.rest).ok()?;
        self.rest = self.rest.get(len..).unwrap_or_default();
        Some(SdesChunk { ssrc, items })
    }
}

/// An SDES chunk reduced to what WebRTC sends: the source and its CNAME.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CnameChunk<'a> {
    /// The source described.
    pub ssrc: Ssrc,
    /// CNAME text (at most 255 bytes), or `None` for a chunk without CNAME.
    pub cname: Option<&'a [u8]>,
}

impl<'a> Entry<'a> for CnameChunk<'a> {
    fn read(bytes: &'a [u8]) -> Option<(Self, usize)> {
        let (ssrc, items, len) = split_chunk(bytes).ok()?;
        let chunk = SdesChunk { ssrc, items };
        Some((
            CnameChunk {
                ssrc,
                cname: chunk.cname(),
            },
            len,
        ))
    }

    fn wire_len(&self) -> usize {
        let items = self.cname.map_or(0, |c| 2 + c.len());
        // SSRC, items, then at least one null, padded to a word.
        (4 + items + 1).next_multiple_of(4)
    }

    fn write(&self, out: &mut [u8]) {
        out.fill(0);
        put(out, 0, self.ssrc.0.to_be_bytes());
        if let Some(cname) = self.cname {
            put(out, 4, [CNAME, cname.len() as u8]);
            if let Some(dst) = out.get_mut(6..6 + cname.len()) {
                dst.copy_from_slice(cname);
            }
        }
    }
}

/// An SDES packet as values: each chunk's source and CNAME. Other items are not kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesRepr<'a> {
    /// The chunks, at most [`MAX_COUNT`].
    pub chunks: List<'a, CnameChunk<'a>>,
}

impl<'a> SdesRepr<'a> {
    /// Reads a checked SDES view.
    pub fn parse<T: AsRef<[u8]>>(view: &'a Sdes<T>) -> Self {
        SdesRepr {
            chunks: List::Wire(view.chunk_bytes()),
        }
    }

    /// Length of the packet this emits.
    pub fn buffer_len(&self) -> usize {
        4 + self.chunks.wire_len()
    }

    /// Writes the packet at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let count = self.chunks.len();
        if count > MAX_COUNT {
            return Err(Error::Malformed("more than 31 SDES chunks"));
        }
        if self
            .chunks
            .iter()
            .any(|c| c.cname.is_some_and(|n| n.len() > 255))
        {
            return Err(Error::Malformed("CNAME longer than 255 bytes"));
        }
        let len = self.buffer_len();
        let out = emit_buffer(buf, len)?;
        emit_header(out, count as u8, PacketType::SourceDescription, len);
        self.chunks.write(out.get_mut(4..).unwrap_or_default());
        Ok(len)
    }
}
