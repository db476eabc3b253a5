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

pub mod control;
pub mod engine;
pub mod srtp;
pub mod wire;
