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
