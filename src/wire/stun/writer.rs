//! Building STUN messages in a caller's buffer, without allocating.

use std::net::{IpAddr, SocketAddr};

use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::{Class, FINGERPRINT_XOR, HEADER_LEN, MAGIC_COOKIE, Method, attr, message_type};
use crate::wire::{Error, Result};

/// Writes a STUN message into a borrowed buffer; every step checks room and fails cleanly.
#[derive(Debug)]
pub struct MessageWriter<'a> {
    pub(super) buf: &'a mut [u8],
    pub(super) len: usize,
}

impl<'a> MessageWriter<'a> {
    /// Starts a message of `class`/`method` with transaction id `txid`.
    pub fn new(buf: &'a mut [u8], class: Class, method: Method, txid: &[u8; 12]) -> Result<Self> {
        let head = buf.get_mut(..HEADER_LEN).ok_or(Error::Truncated)?;
        head[0..2].copy_from_slice(&message_type(class, method).to_be_bytes());
        head[2..4].fill(0);
        head[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
        head[8..20].copy_from_slice(txid);
        Ok(Self {
            buf,
            len: HEADER_LEN,
        })
    }

    fn set_length(&mut self, body: usize) {
        self.buf[2..4].copy_from_slice(&(body as u16).to_be_bytes());
    }

    /// Appends an attribute, zero-padded to 4 bytes.
    pub fn add_attribute(&mut self, ty: u16, value: &[u8]) -> Result<()> {
        let padded = value.len().next_multiple_of(4);
        let end = self.len + 4 + padded;
        if value.len() > usize::from(u16::MAX) || end - HEADER_LEN > usize::from(u16::MAX) {
            return Err(Error::Malformed("STUN attribute too long"));
        }
        let out = self.buf.get_mut(self.len..end).ok_or(Error::Truncated)?;
        out[0..2].copy_from_slice(&ty.to_be_bytes());
        out[2..4].copy_from_slice(&(value.len() as u16).to_be_bytes());
        out[4..4 + value.len()].copy_from_slice(value);
        out[4 + value.len()..].fill(0);
        self.len = end;
        self.set_length(end - HEADER_LEN);
        Ok(())
    }

    /// Appends XOR-MAPPED-ADDRESS for `addr` (RFC 5389 §15.2).
    pub fn add_xor_mapped_address(&mut self, addr: SocketAddr) -> Result<()> {
        let mut v = [0u8; 20];
        let cookie = MAGIC_COOKIE.to_be_bytes();
        v[2..4].copy_from_slice(&(addr.port() ^ (MAGIC_COOKIE >> 16) as u16).to_be_bytes());
        let n = match addr.ip() {
            IpAddr::V4(ip) => {
                v[1] = 1;
                v[4..8]
                    .iter_mut()
                    .zip(ip.octets())
                    .zip(cookie)
                    .for_each(|((o, a), c)| *o = a ^ c);
                8
            }
            IpAddr::V6(ip) => {
                v[1] = 2;
                let mut mask = [0u8; 16];
                mask[..4].copy_from_slice(&cookie);
                mask[4..].copy_from_slice(&self.buf[8..20]);
                v[4..20]
                    .iter_mut()
                    .zip(ip.octets())
                    .zip(mask)
                    .for_each(|((o, a), m)| *o = a ^ m);
                20
            }
        };
        self.add_attribute(attr::XOR_MAPPED_ADDRESS, &v[..n])
    }

    /// Appends MESSAGE-INTEGRITY keyed with `key` (RFC 5389 §15.4).
    pub fn add_message_integrity(&mut self, key: &[u8]) -> Result<()> {
        let at = self.len;
        if self.buf.len() < at + 24 {
            return Err(Error::Truncated);
        }
        // The HMAC covers the header with the length it has once MESSAGE-INTEGRITY is in.
        self.set_length(at + 24 - HEADER_LEN);
        let mut mac =
            <Hmac<Sha1> as Mac>::new_from_slice(key).map_err(|_| Error::Malformed("HMAC key"))?;
        mac.update(&self.buf[..at]);
        let tag = mac.finalize().into_bytes();
        self.add_attribute(attr::MESSAGE_INTEGRITY, &tag)
    }

    /// Appends FINGERPRINT (RFC 5389 §15.5); must be last.
    pub fn add_fingerprint(&mut self) -> Result<()> {
        let at = self.len;
        if self.buf.len() < at + 8 {
            return Err(Error::Truncated);
        }
        self.set_length(at + 8 - HEADER_LEN);
        let crc = crc32fast::hash(&self.buf[..at]) ^ FINGERPRINT_XOR;
        self.add_attribute(attr::FINGERPRINT, &crc.to_be_bytes())
    }

    /// The message length written.
    pub fn finish(self) -> usize {
        self.len
    }
}

/// Builds an ICE-lite binding success response in `buf`: same transaction id,
/// XOR-MAPPED-ADDRESS = the request's source, MESSAGE-INTEGRITY with our password, FINGERPRINT
/// (RFC 8445 §7.3.1.2). Returns its length. The engine's per-check hot path.
pub fn write_binding_success(
    buf: &mut [u8],
    txid: &[u8; 12],
    source: SocketAddr,
    password: &[u8],
) -> Result<usize> {
    let mut w = MessageWriter::new(buf, Class::Success, Method::Binding, txid)?;
    w.add_xor_mapped_address(source)?;
    w.add_message_integrity(password)?;
    w.add_fingerprint()?;
    Ok(w.finish())
}
