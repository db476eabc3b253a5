//! STUN messages (RFC 5389/8489) with the ICE attributes of RFC 8445.
//!
//! The engine answers ICE-lite binding requests per packet, so parsing borrows the datagram,
//! validates every attribute's bounds once in [`Message::new_checked`], and the writer builds a
//! message in a caller's buffer without allocating.
//!
//! ```text
//!  0 0 | message type (14) | message length (16)
//!  magic cookie 0x2112A442
//!  transaction id (96)
//!  attributes: type (16) | length (16) | value, padded to 4 bytes
//! ```

mod writer;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use hmac::{Hmac, Mac};
use sha1::Sha1;

pub use writer::{MessageWriter, write_binding_success};

use super::{Error, Result};

/// The magic cookie (RFC 5389 §6).
pub const MAGIC_COOKIE: u32 = 0x2112_A442;
/// Header length.
pub const HEADER_LEN: usize = 20;
/// FINGERPRINT XOR constant (RFC 5389 §15.5).
pub const FINGERPRINT_XOR: u32 = 0x5354_554e;

/// Attribute types used here (RFC 5389 §18.2, RFC 8445 §16.1).
pub mod attr {
    /// MAPPED-ADDRESS.
    pub const MAPPED_ADDRESS: u16 = 0x0001;
    /// USERNAME.
    pub const USERNAME: u16 = 0x0006;
    /// MESSAGE-INTEGRITY.
    pub const MESSAGE_INTEGRITY: u16 = 0x0008;
    /// ERROR-CODE.
    pub const ERROR_CODE: u16 = 0x0009;
    /// UNKNOWN-ATTRIBUTES.
    pub const UNKNOWN_ATTRIBUTES: u16 = 0x000A;
    /// MESSAGE-INTEGRITY-SHA256 (RFC 8489).
    pub const MESSAGE_INTEGRITY_SHA256: u16 = 0x001C;
    /// XOR-MAPPED-ADDRESS.
    pub const XOR_MAPPED_ADDRESS: u16 = 0x0020;
    /// PRIORITY (ICE).
    pub const PRIORITY: u16 = 0x0024;
    /// USE-CANDIDATE (ICE).
    pub const USE_CANDIDATE: u16 = 0x0025;
    /// SOFTWARE.
    pub const SOFTWARE: u16 = 0x8022;
    /// FINGERPRINT.
    pub const FINGERPRINT: u16 = 0x8028;
    /// ICE-CONTROLLED.
    pub const ICE_CONTROLLED: u16 = 0x8029;
    /// ICE-CONTROLLING.
    pub const ICE_CONTROLLING: u16 = 0x802A;
}

/// Message class (RFC 5389 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Request.
    Request,
    /// Indication.
    Indication,
    /// Success response.
    Success,
    /// Error response.
    Error,
}

/// Message method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Binding (0x001).
    Binding,
    /// Any other method number.
    Other(u16),
}

impl Method {
    fn number(self) -> u16 {
        match self {
            Self::Binding => 1,
            Self::Other(n) => n & 0x0fff,
        }
    }
}

/// Encodes class and method into the 14-bit message type (RFC 5389 §6, figure 3).
pub fn message_type(class: Class, method: Method) -> u16 {
    let m = method.number();
    let c: u16 = match class {
        Class::Request => 0b00,
        Class::Indication => 0b01,
        Class::Success => 0b10,
        Class::Error => 0b11,
    };
    (m & 0x000f) | ((m & 0x0070) << 1) | ((m & 0x0f80) << 2) | ((c & 1) << 4) | ((c & 2) << 7)
}

/// A validated view of one STUN message.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// Exactly the message (header and attributes).
    bytes: &'a [u8],
    /// Offset of MESSAGE-INTEGRITY, if present.
    integrity_at: Option<usize>,
    /// Offset of FINGERPRINT, if present (always the last attribute).
    fingerprint_at: Option<usize>,
}

impl<'a> Message<'a> {
    /// Validates the header and the bounds of every attribute; afterwards nothing can panic.
    pub fn new_checked(buf: &'a [u8]) -> Result<Self> {
        if buf.len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if buf[0] & 0xc0 != 0 {
            return Err(Error::Malformed("STUN top bits set"));
        }
        if u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]) != MAGIC_COOKIE {
            return Err(Error::Malformed("STUN magic cookie"));
        }
        let len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
        if len % 4 != 0 {
            return Err(Error::Malformed("STUN length not a multiple of 4"));
        }
        let bytes = buf.get(..HEADER_LEN + len).ok_or(Error::Truncated)?;
        let mut msg = Self {
            bytes,
            integrity_at: None,
            fingerprint_at: None,
        };
        let mut at = HEADER_LEN;
        while at < bytes.len() {
            let h = bytes.get(at..at + 4).ok_or(Error::Truncated)?;
            let (ty, vlen) = (
                u16::from_be_bytes([h[0], h[1]]),
                usize::from(u16::from_be_bytes([h[2], h[3]])),
            );
            let next = at + 4 + vlen.next_multiple_of(4);
            if next > bytes.len() {
                return Err(Error::Truncated);
            }
            if msg.fingerprint_at.is_some() {
                return Err(Error::Malformed("STUN attribute after FINGERPRINT"));
            }
            match ty {
                attr::MESSAGE_INTEGRITY if vlen != 20 => {
                    return Err(Error::Malformed("MESSAGE-INTEGRITY length"));
                }
                attr::MESSAGE_INTEGRITY if msg.integrity_at.is_none() => {
                    msg.integrity_at = Some(at)
                }
                attr::FINGERPRINT if vlen != 4 => {
                    return Err(Error::Malformed("FINGERPRINT length"));
                }
                attr::FINGERPRINT => msg.fingerprint_at = Some(at),
                _ => {}
            }
            at = next;
        }
        Ok(msg)
    }

    /// The whole message.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    fn raw_type(&self) -> u16 {
        u16::from_be_bytes([self.bytes[0], self.bytes[1]])
    }

    /// The class.
    pub fn class(&self) -> Class {
        let t = self.raw_type();
        match ((t >> 7) & 2) | ((t >> 4) & 1) {
            0 => Class::Request,
            1 => Class::Indication,
            2 => Class::Success,
            _ => Class::Error,
        }
    }

    /// The method.
    pub fn method(&self) -> Method {
        let t = self.raw_type();
        match (t & 0x000f) | ((t >> 1) & 0x0070) | ((t >> 2) & 0x0f80) {
            1 => Method::Binding,
            m => Method::Other(m),
        }
    }

    /// The transaction id.
    pub fn transaction_id(&self) -> [u8; 12] {
        let mut id = [0u8; 12];
        id.copy_from_slice(&self.bytes[8..20]);
        id
    }

    /// Every attribute as `(type, value)`, in order.
    pub fn attributes(&self) -> Attributes<'a> {
        Attributes {
            rest: &self.bytes[HEADER_LEN..],
        }
    }

    /// The first attribute of a type.
    pub fn attribute(&self, ty: u16) -> Option<&'a [u8]> {
        self.attributes().find(|(t, _)| *t == ty).map(|(_, v)| v)
    }

    /// USERNAME bytes.
    pub fn username(&self) -> Option<&'a [u8]> {
        self.attribute(attr::USERNAME)
    }

    /// SOFTWARE, if valid UTF-8.
    pub fn software(&self) -> Option<&'a str> {
        self.attribute(attr::SOFTWARE)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// PRIORITY.
    pub fn priority(&self) -> Option<u32> {
        self.attribute(attr::PRIORITY)
            .and_then(|v| Some(u32::from_be_bytes(v.try_into().ok()?)))
    }

    /// USE-CANDIDATE present.
    pub fn use_candidate(&self) -> bool {
        self.attribute(attr::USE_CANDIDATE).is_some()
    }

    /// ICE-CONTROLLING tie-breaker.
    pub fn ice_controlling(&self) -> Option<u64> {
        self.attribute(attr::ICE_CONTROLLING)
            .and_then(|v| Some(u64::from_be_bytes(v.try_into().ok()?)))
    }

    /// ICE-CONTROLLED tie-breaker.
    pub fn ice_controlled(&self) -> Option<u64> {
        self.attribute(attr::ICE_CONTROLLED)
            .and_then(|v| Some(u64::from_be_bytes(v.try_into().ok()?)))
    }

    /// MAPPED-ADDRESS.
    pub fn mapped_address(&self) -> Option<SocketAddr> {
        decode_address(self.attribute(attr::MAPPED_ADDRESS)?, None)
    }

    /// XOR-MAPPED-ADDRESS, un-XORed (RFC 5389 §15.2).
    pub fn xor_mapped_address(&self) -> Option<SocketAddr> {
        decode_address(
            self.attribute(attr::XOR_MAPPED_ADDRESS)?,
            Some(&self.transaction_id()),
        )
    }

    /// ERROR-CODE as (code, reason).
    pub fn error_code(&self) -> Option<(u16, &'a str)> {
        let v = self.attribute(attr::ERROR_CODE)?;
        let head = v.get(..4)?;
        let code = u16::from(head[2] & 0x07) * 100 + u16::from(head[3]);
        Some((code, std::str::from_utf8(&v[4..]).unwrap_or("")))
    }

    /// UNKNOWN-ATTRIBUTES types.
    pub fn unknown_attributes(&self) -> impl Iterator<Item = u16> + 'a {
        self.attribute(attr::UNKNOWN_ATTRIBUTES)
            .unwrap_or(&[])
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
    }

    /// The MESSAGE-INTEGRITY value, if present.
    pub fn message_integrity(&self) -> Option<&'a [u8]> {
        self.integrity_at.map(|at| &self.bytes[at + 4..at + 24])
    }

    /// Verifies MESSAGE-INTEGRITY with `key` (for ICE: the short-term password) per RFC 5389
    /// §15.4: HMAC-SHA1 over the message up to the attribute, with the header length set as if
    /// the message ended right after it. Constant-time compare.
    pub fn verify_integrity(&self, key: &[u8]) -> Result<()> {
        let at = self
            .integrity_at
            .ok_or(Error::Malformed("no MESSAGE-INTEGRITY"))?;
        let mut mac =
            <Hmac<Sha1> as Mac>::new_from_slice(key).map_err(|_| Error::Malformed("HMAC key"))?;
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&self.bytes[..HEADER_LEN]);
        header[2..4].copy_from_slice(&((at + 24 - HEADER_LEN) as u16).to_be_bytes());
        mac.update(&header);
        mac.update(&self.bytes[HEADER_LEN..at]);
        mac.verify_slice(&self.bytes[at + 4..at + 24])
            .map_err(|_| Error::Malformed("MESSAGE-INTEGRITY mismatch"))
    }

    /// The FINGERPRINT value, if present.
    pub fn fingerprint(&self) -> Option<u32> {
        self.fingerprint_at.map(|at| {
            u32::from_be_bytes([
                self.bytes[at + 4],
                self.bytes[at + 5],
                self.bytes[at + 6],
                self.bytes[at + 7],
            ])
        })
    }

    /// Verifies FINGERPRINT (RFC 5389 §15.5): CRC-32 of the message before it, XOR 0x5354554e.
    pub fn verify_fingerprint(&self) -> Result<()> {
        let at = self
            .fingerprint_at
            .ok_or(Error::Malformed("no FINGERPRINT"))?;
        let want = crc32fast::hash(&self.bytes[..at]) ^ FINGERPRINT_XOR;
        if self.fingerprint() == Some(want) {
            Ok(())
        } else {
            Err(Error::Malformed("FINGERPRINT mismatch"))
        }
    }
}

/// Iterator over `(type, value)` attributes of a checked message.
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Attributes<'a> {
    type Item = (u16, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let h = self.rest.get(..4)?;
        let (ty, len) = (
            u16::from_be_bytes([h[0], h[1]]),
            usize::from(u16::from_be_bytes([h[2], h[3]])),
        );
        let value = self.rest.get(4..4 + len)?;
        self.rest = self.rest.get(4 + len.next_multiple_of(4)..).unwrap_or(&[]);
        Some((ty, value))
    }
}

/// Decodes (XOR-)MAPPED-ADDRESS; `xor` carries the transaction id for the XOR form.
fn decode_address(v: &[u8], xor: Option<&[u8; 12]>) -> Option<SocketAddr> {
    let cookie = MAGIC_COOKIE.to_be_bytes();
    let mut port = u16::from_be_bytes([*v.get(2)?, *v.get(3)?]);
    if xor.is_some() {
        port ^= (MAGIC_COOKIE >> 16) as u16;
    }
    let ip: IpAddr = match (v.get(1)?, v.len()) {
        (1, 8) => {
            let mut a = [v[4], v[5], v[6], v[7]];
            if xor.is_some() {
                a.iter_mut().zip(cookie).for_each(|(b, c)| *b ^= c);
            }
            Ipv4Addr::from(a).into()
        }
        (2, 20) => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&v[4..20]);
            if let Some(tid) = xor {
                let mask = cookie.iter().chain(tid.iter());
                a.iter_mut().zip(mask).for_each(|(b, c)| *b ^= c);
            }
            Ipv6Addr::from(a).into()
        }
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests;
