//! Ferry's signaling process: SIP over WebSocket toward browsers, SIP over UDP/TCP toward the
//! trunk, SDP rewriting and DTLS handshakes. It drives the engine over the control channel.
//!
//! Not built yet: see the signaling issue.
