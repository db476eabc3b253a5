//! Lists inside RTCP packets (report blocks, SSRCs, NACK pairs, FIR entries, SDES chunks) that a
//! Repr can hold without allocating.
//!
//! A parsed Repr keeps the list as the wire bytes it came from and decodes entries on demand; a
//! Repr built to be emitted borrows the caller's slice of values. Both compare equal when their
//! entries do, which is what makes emit-then-parse round trips checkable.

use core::fmt;

use crate::wire::rtp::{Ssrc, be_u32, put};

/// An entry of an RTCP list: how to decode it from the front of some bytes and encode it back.
pub trait Entry<'a>: Sized + Copy {
    /// Decodes the entry at the start of `bytes`, returning it and the bytes it used (at least 1),
    /// or `None` if `bytes` does not start with a whole entry.
    fn read(bytes: &'a [u8]) -> Option<(Self, usize)>;
    /// Encoded length in bytes.
    fn wire_len(&self) -> usize;
    /// Encodes the entry into `out`, which is exactly [`Entry::wire_len`] bytes long.
    fn write(&self, out: &mut [u8]);
}

/// A list of entries: either undecoded wire bytes, or values to emit.
#[derive(Clone, Copy)]
pub enum List<'a, E> {
    /// Entries as they appear in a packet, back to back.
    Wire(&'a [u8]),
    /// Entries as values.
    Items(&'a [E]),
}

impl<'a, E: Entry<'a>> List<'a, E> {
    /// The entries, in order.
    pub fn iter(&self) -> ListIter<'a, E> {
        match *self {
            List::Wire(bytes) => ListIter::Wire(bytes),
            List::Items(items) => ListIter::Items(items.iter()),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        match self {
            List::Wire(_) => self.iter().count(),
            List::Items(items) => items.len(),
        }
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// Encoded length of all entries.
    pub fn wire_len(&self) -> usize {
        self.iter().map(|e| e.wire_len()).sum()
    }

    /// Encodes every entry into the front of `out`; returns the bytes written. Stops early,
    /// rather than panic, if `out` is shorter than [`List::wire_len`].
    pub(crate) fn write(&self, out: &mut [u8]) -> usize {
        let mut at = 0;
        for entry in self.iter() {
            let end = at + entry.wire_len();
            let Some(dst) = out.get_mut(at..end) else {
                break;
            };
            entry.write(dst);
            at = end;
        }
        at
    }
}

impl<'a, E> From<&'a [E]> for List<'a, E> {
    fn from(items: &'a [E]) -> Self {
        List::Items(items)
    }
}

impl<'a, E: Entry<'a> + PartialEq> PartialEq for List<'a, E> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl<'a, E: Entry<'a> + Eq> Eq for List<'a, E> {}

impl<'a, E: Entry<'a> + fmt::Debug> fmt::Debug for List<'a, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Iterator over a [`List`].
#[derive(Debug, Clone)]
pub enum ListIter<'a, E> {
    /// Decoding wire bytes.
    Wire(&'a [u8]),
    /// Copying values.
    Items(core::slice::Iter<'a, E>),
}

impl<'a, E> ListIter<'a, E> {
    /// The list this iterator has left to walk, for a Repr to keep.
    pub(crate) fn into_list(self) -> List<'a, E> {
        match self {
            ListIter::Wire(bytes) => List::Wire(bytes),
            ListIter::Items(items) => List::Items(items.as_slice()),
        }
    }
}

impl<'a, E: Entry<'a>> Iterator for ListIter<'a, E> {
    type Item = E;

    fn next(&mut self) -> Option<E> {
        match self {
            ListIter::Wire(bytes) => {
                let (entry, used) = E::read(bytes)?;
                // A zero-length read would loop forever; treat it as the end.
                *bytes = bytes.get(used.max(1)..).unwrap_or_default();
                Some(entry)
            }
            ListIter::Items(items) => items.next().copied(),
        }
    }
}

impl<'a> Entry<'a> for Ssrc {
    fn read(bytes: &'a [u8]) -> Option<(Self, usize)> {
        (bytes.len() >= 4).then(|| (Ssrc(be_u32(bytes, 0)), 4))
    }

    fn wire_len(&self) -> usize {
        4
    }

    fn write(&self, out: &mut [u8]) {
        put(out, 0, self.0.to_be_bytes());
    }
}
