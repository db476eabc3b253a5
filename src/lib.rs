//! Ferry's packet engine.
//!
//! The engine relays media between browser legs (ICE-lite STUN, DTLS handed to signaling, SRTP)
//! and SIP legs (plain RTP/RTCP or SRTP). This crate holds the pieces the fast path is made of:
//!
//! - [`wire`]: zero-copy, never-panicking views over RTP, RTCP, STUN and DTLS record bytes, and
//!   the RFC 7983 first-byte demultiplexer.
//! - [`engine`]: the shards, their I/O backends and the per-packet relay logic.
//! - [`control`]: the typed, versioned messages signaling and the engine exchange.
//! - [`srtp`]: SRTP and SRTCP (RFC 3711, RFC 7714) transforms that work in place on the caller's
//!   buffer, with no allocation per packet.

/// The control channel lives in its own crate so signaling links it without the engine.
pub use ferry_control as control;
pub mod engine;
pub mod srtp;
pub mod wire;
