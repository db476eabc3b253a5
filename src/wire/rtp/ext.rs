//! RTP header extensions: the RFC 3550 §5.3.1 container and the RFC 8285 elements inside it.
//!
//! The container is a 16-bit profile and a whole number of 32-bit words of data. RFC 8285 defines
//! two element layouts, told apart by the profile: one-byte headers (0xBEDE; IDs 1..=14, 1..=16
//! data bytes) and two-byte headers (0x100 followed by 4 "appbits"; IDs 1..=255, 0..=255 data
//! bytes). Both fill gaps with zero padding octets. Elements are walked lazily, because the fast
//! path forwards most packets without looking at them.

use crate::wire::{Error, Result};

/// One-byte header profile (RFC 8285 §4.2).
pub const ONE_BYTE_PROFILE: u16 = 0xBEDE;
/// Two-byte header profile with the appbits cleared (RFC 8285 §4.3); the low 4 bits are appbits.
pub const TWO_BYTE_PROFILE: u16 = 0x1000;

/// A header extension as carried in the packet: profile and raw data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extension<'a> {
    /// "Defined by profile" field; 0xBEDE or 0x100X for RFC 8285 elements.
    pub profile: u16,
    /// Extension data, without its 4-octet header; a whole number of 32-bit words.
    pub data: &'a [u8],
}

impl<'a> Extension<'a> {
    /// Iterates the RFC 8285 elements. Fails for a profile that is neither form.
    pub fn elements(&self) -> Result<Elements<'a>> {
        let form = if self.profile == ONE_BYTE_PROFILE {
            Form::OneByte
        } else if self.profile & 0xFFF0 == TWO_BYTE_PROFILE {
            // RFC 8285 §4.3: 0x100 then 4 appbits the receiver may ignore.
            Form::TwoByte
        } else {
            return Err(Error::Unsupported("RTP extension profile"));
        };
        Ok(Elements {
            data: self.data,
            form,
        })
    }
}

/// One RFC 8285 header extension element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Element<'a> {
    /// Local identifier negotiated in SDP (`a=extmap`).
    pub id: u8,
    /// Element data.
    pub data: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    OneByte,
    TwoByte,
}

/// Iterator over RFC 8285 elements. Yields an error, then stops, if an element runs past the
/// extension data.
#[derive(Debug, Clone)]
pub struct Elements<'a> {
    data: &'a [u8],
    form: Form,
}

impl<'a> Elements<'a> {
    /// An iterator that yields nothing (for a packet without extension).
    pub(crate) fn empty() -> Elements<'a> {
        Elements {
            data: &[],
            form: Form::OneByte,
        }
    }

    /// Splits `len` data bytes off `rest` as the element `id`, or fails and stops.
    fn take(&mut self, id: u8, rest: &'a [u8], len: usize) -> Option<Result<Element<'a>>> {
        match rest.split_at_checked(len) {
            Some((data, after)) => {
                self.data = after;
                Some(Ok(Element { id, data }))
            }
            None => {
                self.data = &[];
                Some(Err(Error::Truncated))
            }
        }
    }
}

impl<'a> Iterator for Elements<'a> {
    type Item = Result<Element<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (&first, rest) = self.data.split_first()?;
            match self.form {
                Form::OneByte => {
                    let id = first >> 4;
                    if id == 0 {
                        // RFC 8285 §4.2: a zero octet is padding between or after elements.
                        self.data = rest;
                        continue;
                    }
                    if id == 15 {
                        // RFC 8285 §4.2: ID 15 ends processing of the whole extension.
                        self.data = &[];
                        return None;
                    }
                    // RFC 8285 §4.2: the 4-bit length is the data length minus one.
                    return self.take(id, rest, usize::from(first & 0x0f) + 1);
                }
                Form::TwoByte => {
                    if first == 0 {
                        // RFC 8285 §4.3: a zero ID octet is padding.
                        self.data = rest;
                        continue;
                    }
                    let Some((&len, rest)) = rest.split_first() else {
                        self.data = &[];
                        return Some(Err(Error::Truncated));
                    };
                    // RFC 8285 §4.3: 8-bit ID, 8-bit length of data (0 allowed).
                    return self.take(first, rest, usize::from(len));
                }
            }
        }
    }
}
