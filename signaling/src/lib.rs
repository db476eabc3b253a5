//! Ferry's signaling process: SIP over WebSocket toward browsers, SIP over UDP/TCP toward the
//! trunk, SDP rewriting and DTLS handshakes. It drives the engine over the control channel.
//!
//! The protocol cores are sans-IO: [`sip`] (messages, transactions, dialogs), [`sdp`] (offer/answer
//! rewriting between WebRTC and plain RTP) and [`dtls`] (the DTLS-SRTP handshake driver) take
//! input and time from outside and hand output back. The process around them is tokio.

#![forbid(unsafe_code)]

pub mod dtls;
pub mod sdp;
pub mod sip;
