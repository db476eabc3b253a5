//! Byte-level reader and writer for control-channel messages.
//!
//! Big-endian, length-checked at every step: a short or oversized field is a typed
//! [`DecodeError`], never a panic. Modelled on rustls' `codec::Reader` (`take`, `sub`,
//! `expect_empty`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why a control message did not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The message ended inside a field.
    #[error("message truncated while reading {0}")]
    Truncated(&'static str),
    /// Bytes were left over after the last field.
    #[error("{0} trailing bytes after the message")]
    Trailing(usize),
    /// A field held a value outside its domain.
    #[error("invalid {0}")]
    Invalid(&'static str),
    /// A message type this build does not know.
    #[error("unknown message type {0:#06x}")]
    UnknownType(u16),
}

/// Reads fields from a borrowed message body.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::Truncated(what));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    /// A sub-reader over the next `n` bytes.
    pub fn sub(&mut self, n: usize, what: &'static str) -> Result<Reader<'a>, DecodeError> {
        self.take(n, what).map(Reader::new)
    }

    /// Fails unless every byte was consumed.
    pub fn expect_empty(&self) -> Result<(), DecodeError> {
        match self.buf.len() {
            0 => Ok(()),
            n => Err(DecodeError::Trailing(n)),
        }
    }

    /// Bytes not yet read.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    /// One byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    /// A big-endian u16.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        self.array(what).map(u16::from_be_bytes)
    }

    /// A big-endian u32.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        self.array(what).map(u32::from_be_bytes)
    }

    /// A big-endian u64.
    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        self.array(what).map(u64::from_be_bytes)
    }

    /// A boolean encoded as 0 or 1.
    pub fn bool(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::Invalid(what)),
        }
    }

    /// Bytes behind a u16 length.
    pub fn bytes16(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let n = self.u16(what)?;
        self.take(usize::from(n), what)
    }

    /// UTF-8 text behind a u16 length.
    pub fn str16(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        std::str::from_utf8(self.bytes16(what)?).map_err(|_| DecodeError::Invalid(what))
    }

    /// A socket address: family byte (4 or 6), address, port.
    pub fn addr(&mut self, what: &'static str) -> Result<SocketAddr, DecodeError> {
        let ip: IpAddr = match self.u8(what)? {
            4 => Ipv4Addr::from(self.array::<4>(what)?).into(),
            6 => Ipv6Addr::from(self.array::<16>(what)?).into(),
            _ => return Err(DecodeError::Invalid(what)),
        };
        Ok(SocketAddr::new(ip, self.u16(what)?))
    }

    /// An optional value: a presence byte, then the value.
    pub fn opt<T>(
        &mut self,
        what: &'static str,
        f: impl FnOnce(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Option<T>, DecodeError> {
        if self.bool(what)? {
            f(self).map(Some)
        } else {
            Ok(None)
        }
    }

    /// A list behind a u16 count; `max` bounds the count so a hostile length cannot make the
    /// decoder allocate much.
    pub fn list<T>(
        &mut self,
        what: &'static str,
        max: usize,
        mut f: impl FnMut(&mut Self) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let n = usize::from(self.u16(what)?);
        if n > max {
            return Err(DecodeError::Invalid(what));
        }
        (0..n).map(|_| f(self)).collect()
    }
}

/// Appends fields to a growable buffer (control messages are off the packet path).
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// The bytes written.
    pub fn into_inner(self) -> Vec<u8> {
        self.buf
    }

    /// Raw bytes, no length.
    pub fn raw(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// One byte.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// A big-endian u16.
    pub fn u16(&mut self, v: u16) {
        self.raw(&v.to_be_bytes());
    }

    /// A big-endian u32.
    pub fn u32(&mut self, v: u32) {
        self.raw(&v.to_be_bytes());
    }

    /// A big-endian u64.
    pub fn u64(&mut self, v: u64) {
        self.raw(&v.to_be_bytes());
    }

    /// A boolean as 0 or 1.
    pub fn bool(&mut self, v: bool) {
        self.u8(u8::from(v));
    }

    /// Bytes behind a u16 length. Callers bound their fields well below 64 KiB; a longer slice
    /// is cut to fit, which the decoder then rejects on its own checks.
    pub fn bytes16(&mut self, b: &[u8]) {
        let n = b.len().min(usize::from(u16::MAX));
        self.u16(n as u16);
        self.raw(&b[..n]);
    }

    /// UTF-8 text behind a u16 length.
    pub fn str16(&mut self, s: &str) {
        self.bytes16(s.as_bytes());
    }

    /// A socket address: family byte (4 or 6), address, port.
    pub fn addr(&mut self, a: SocketAddr) {
        match a.ip() {
            IpAddr::V4(ip) => {
                self.u8(4);
                self.raw(&ip.octets());
            }
            IpAddr::V6(ip) => {
                self.u8(6);
                self.raw(&ip.octets());
            }
        }
        self.u16(a.port());
    }

    /// An optional value: a presence byte, then the value.
    pub fn opt<T>(&mut self, v: Option<&T>, f: impl FnOnce(&mut Self, &T)) {
        self.bool(v.is_some());
        if let Some(v) = v {
            f(self, v);
        }
    }

    /// A list behind a u16 count (callers keep lists far below 65,535 entries).
    pub fn list<T>(&mut self, items: &[T], mut f: impl FnMut(&mut Self, &T)) {
        let n = items.len().min(usize::from(u16::MAX));
        self.u16(n as u16);
        for item in &items[..n] {
            f(self, item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        let mut w = Writer::new();
        w.u8(7);
        w.u16(0xBEEF);
        w.u32(0xDEAD_BEEF);
        w.u64(u64::MAX - 1);
        w.bool(true);
        w.str16("sip");
        w.addr("[2001:db8::1]:5004".parse().unwrap());
        w.addr("127.0.0.1:9".parse().unwrap());
        w.opt(Some(&3u16), |w, v| w.u16(*v));
        w.opt(None::<&u16>, |w, v| w.u16(*v));
        w.list(&[1u8, 2, 3], |w, v| w.u8(*v));
        let bytes = w.into_inner();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.u8("a").unwrap(), 7);
        assert_eq!(r.u16("b").unwrap(), 0xBEEF);
        assert_eq!(r.u32("c").unwrap(), 0xDEAD_BEEF);
        assert_eq!(r.u64("d").unwrap(), u64::MAX - 1);
        assert!(r.bool("e").unwrap());
        assert_eq!(r.str16("f").unwrap(), "sip");
        assert_eq!(r.addr("g").unwrap(), "[2001:db8::1]:5004".parse().unwrap());
        assert_eq!(r.addr("h").unwrap(), "127.0.0.1:9".parse().unwrap());
        assert_eq!(r.opt("i", |r| r.u16("i")).unwrap(), Some(3));
        assert_eq!(r.opt("j", |r| r.u16("j")).unwrap(), None);
        assert_eq!(r.list("k", 8, |r| r.u8("k")).unwrap(), vec![1, 2, 3]);
        r.expect_empty().unwrap();
    }

    #[test]
    fn short_and_invalid_input_is_a_typed_error() {
        assert_eq!(
            Reader::new(&[1]).u16("port"),
            Err(DecodeError::Truncated("port"))
        );
        assert_eq!(
            Reader::new(&[2]).bool("flag"),
            Err(DecodeError::Invalid("flag"))
        );
        assert_eq!(
            Reader::new(&[5, 0, 0]).addr("to"),
            Err(DecodeError::Invalid("to"))
        );
        assert_eq!(
            Reader::new(&[0, 9, 1, 2]).list("l", 8, |r| r.u8("l")),
            Err(DecodeError::Invalid("l"))
        );
        assert_eq!(
            Reader::new(&[0, 2, 0xff, 0xfe]).str16("s"),
            Err(DecodeError::Invalid("s"))
        );
        assert_eq!(
            Reader::new(&[1, 2]).expect_empty(),
            Err(DecodeError::Trailing(2))
        );
    }
}
