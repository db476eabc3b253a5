//! Goodbye (BYE, RFC 3550 §6.6): the sources leaving, and an optional reason.

use super::list::{List, ListIter};
use super::{MAX_COUNT, Packet, PacketType, check_typed, emit_buffer, emit_header};
use crate::wire::rtp::slice;
use crate::wire::{Error, Result, rtp::Ssrc};

/// A BYE packet (RFC 3550 §6.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bye<T: AsRef<[u8]>> {
    packet: Packet<T>,
}

impl<T: AsRef<[u8]>> Bye<T> {
    /// Wraps a buffer without checking it; accessors return meaningless values on a bad buffer.
    pub const fn new_unchecked(buffer: T) -> Self {
        Bye {
            packet: Packet::new_unchecked(buffer),
        }
    }

    /// Wraps a buffer holding one BYE packet, after checking the sources and the reason fit.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = check_typed(buffer, PacketType::Goodbye)?;
        let body = packet.body();
        let sources = usize::from(packet.count()) * 4;
        let rest = body.get(sources..).ok_or(Error::Truncated)?;
        // RFC 3550 §6.6: an optional length octet and that many octets of reason text.
        if let Some(&len) = rest.first()
            && 1 + usize::from(len) > rest.len()
        {
            return Err(Error::Truncated);
        }
        Ok(Bye { packet })
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.packet.into_inner()
    }

    /// The sources leaving, in order.
    pub fn sources(&self) -> ListIter<'_, Ssrc> {
        ListIter::Wire(self.source_bytes())
    }

    /// The reason text, if present.
    pub fn reason(&self) -> Option<&[u8]> {
        let rest = self.packet.body().get(self.source_bytes().len()..)?;
        let (&len, text) = rest.split_first()?;
        text.get(..usize::from(len))
    }

    fn source_bytes(&self) -> &[u8] {
        slice(self.packet.body(), 0, usize::from(self.packet.count()) * 4)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Bye<T> {
    /// Rewrites the `index`th source; `false` if there is none.
    pub fn set_source(&mut self, index: usize, ssrc: Ssrc) -> bool {
        let ok = index < usize::from(self.packet.count());
        if ok {
            self.packet.put_body(index * 4, ssrc.0.to_be_bytes());
        }
        ok
    }
}

/// A BYE packet as values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByeRepr<'a> {
    /// Sources leaving, at most [`MAX_COUNT`].
    pub sources: List<'a, Ssrc>,
    /// Reason for leaving, at most 255 bytes.
    pub reason: Option<&'a [u8]>,
}

impl<'a> ByeRepr<'a> {
    /// Reads a checked BYE view.
    pub fn parse<T: AsRef<[u8]>>(view: &'a Bye<T>) -> Self {
        ByeRepr {
            sources: List::Wire(view.source_bytes()),
            reason: view.reason(),
        }
    }

    /// Length of the packet this emits.
    pub fn buffer_len(&self) -> usize {
        let reason = self.reason.map_or(0, |r| (1 + r.len()).next_multiple_of(4));
        4 + self.sources.wire_len() + reason
    }

    /// Writes the packet at the start of `buf`; returns its length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize> {
        let count = self.sources.len();
        if count > MAX_COUNT {
            return Err(Error::Malformed("more than 31 BYE sources"));
        }
        if self.reason.is_some_and(|r| r.len() > 255) {
            return Err(Error::Malformed("BYE reason longer than 255 bytes"));
        }
        let len = self.buffer_len();
        let out = emit_buffer(buf, len)?;
        emit_header(out, count as u8, PacketType::Goodbye, len);
        let at = 4 + self.sources.write(out.get_mut(4..).unwrap_or_default());
        if let Some(reason) = self.reason {
            let dst = out.get_mut(at..).unwrap_or_default();
            dst.fill(0);
            if let Some((first, text)) = dst.split_first_mut() {
                *first = reason.len() as u8;
                if let Some(text) = text.get_mut(..reason.len()) {
                    text.copy_from_slice(reason);
                }
            }
        }
        Ok(len)
    }
}
