//! Application-defined packets (APP, RFC 3550 §6.7): read-only, since the engine only forwards
//! them.

use super::{Packet, PacketType, check_typed};
use crate::wire::rtp::{Ssrc, be_u32};
use crate::wire::{Error, Result};

/// Sender SSRC and the 4-character name.
const FIXED_LEN: usize = 8;

/// An APP packet (RFC 3550 §6.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct App<T: AsRef<[u8]>> {
    packet: Packet<T>,
}

impl<T: AsRef<[u8]>> App<T> {
    /// Wraps a buffer without checking it; accessors return meaningless values on a bad buffer.
    pub const fn new_unchecked(buffer: T) -> Self {
        App {
            packet: Packet::new_unchecked(buffer),
        }
    }

    /// Wraps a buffer holding one APP packet, after checking the SSRC and name fit.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = check_typed(buffer, PacketType::App)?;
        if packet.body().len() < FIXED_LEN {
            return Err(Error::Truncated);
        }
        Ok(App { packet })
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.packet.into_inner()
    }

    /// Subtype, from the count field.
    pub fn subtype(&self) -> u8 {
        self.packet.count()
    }

    /// Sender SSRC.
    pub fn ssrc(&self) -> Ssrc {
        Ssrc(be_u32(self.packet.body(), 0))
    }

    /// The 4-octet ASCII name.
    pub fn name(&self) -> [u8; 4] {
        be_u32(self.packet.body(), 4).to_be_bytes()
    }

    /// Application-dependent data.
    pub fn data(&self) -> &[u8] {
        self.packet.body().get(FIXED_LEN..).unwrap_or_default()
    }
}
