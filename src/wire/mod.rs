//! Wire formats: typed, zero-copy views over borrowed packet buffers.
//!
//! Every view follows the same model (smoltcp's `wire`): `Packet::new_checked(buf)` validates the
//! length once, after which no accessor can panic; setters exist only when the buffer is mutable;
//! an owned `Repr` parses from a view and emits into a buffer.

pub mod demux;
pub mod dtls;
pub mod rtcp;
pub mod rtp;
pub mod stun;

/// Why bytes did not parse. Shared by every view in this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The buffer ends before the structure it claims to hold.
    #[error("truncated")]
    Truncated,
    /// A field holds a value the format forbids.
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// Well-formed, but a version or kind this implementation does not handle.
    #[error("unsupported: {0}")]
    Unsupported(&'static str),
}

/// Result of parsing wire bytes.
pub type Result<T> = core::result::Result<T, Error>;
