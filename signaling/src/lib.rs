//! Ferry's signaling process: SIP over WebSocket toward browsers, SIP over UDP/TCP toward the
//! trunk, SDP rewriting and DTLS handshakes. It drives the engine over the control channel.
//!
//! The protocol cores are sans-IO: [`sip`] (messages, transactions, dialogs), [`sdp`] (offer/answer
//! rewriting between WebRTC and plain RTP) and [`dtls`] (the DTLS-SRTP handshake driver) take
//! input and time from outside and hand output back. Around them: [`core`], one task owning
//! every call (the B2BUA), fed by [`http`] (WebSocket), the trunk socket and [`engine`].

#![forbid(unsafe_code)]

pub mod abuse;
pub mod admin;
pub mod config;
pub mod core;
pub mod dtls;
pub mod engine;
pub mod http;
pub mod links;
pub mod pages;
pub mod product;
pub mod route;
mod run;
pub mod sdp;
pub mod sip;

pub use run::run;
