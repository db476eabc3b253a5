//! DTLS-SRTP (RFC 5763/5764): certificates, fingerprints and the sans-IO handshake driver.
//!
//! The engine hands every DTLS datagram from the browser to signaling; a [`DtlsSession`] per leg
//! consumes them with [`DtlsSession::handle_datagram`], yields records to send back through
//! [`DtlsSession::poll_transmit`] and, once the peer's certificate matched one of the SDP
//! `a=fingerprint` lines, reports [`DtlsEvent::Connected`] with the SRTP master keys exported per
//! RFC 5764 §4.2. Time comes from the caller (`now`); nothing here opens a socket or reads the
//! clock, so two sessions can be wired together in memory and driven in simulated time.
//!
//! The handshake itself is `rtc-dtls` (the sans-IO webrtc-rs DTLS 1.2 stack, which passed interop
//! with Chromium 156 here). [`DtlsSession`] wraps its `Endpoint` for one fixed peer and adds what
//! it lacks: an RFC 6347 §4.2.4.1 doubling retransmit timer (rtc-dtls re-arms a fixed interval),
//! a handshake deadline, the fingerprint check, and key export split per profile.

mod cert;
mod fingerprint;
mod session;
mod srtp;

#[cfg(test)]
mod tests;

use std::time::Duration;

pub use cert::Certificate;
pub use fingerprint::Fingerprint;
pub use session::DtlsSession;
pub use srtp::{SrtpMaterial, profile};

/// Our DTLS role, from SDP `a=setup` (RFC 5763 §5): answering `actpass` with `passive` makes us
/// the server; answering with `active` makes us the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We wait for the peer's ClientHello.
    Server,
    /// We send the ClientHello.
    Client,
}

/// What a session reports to its owner, in order.
#[derive(Debug)]
pub enum DtlsEvent {
    /// The handshake completed and the peer's certificate matched a signalled fingerprint.
    Connected {
        /// RFC 5764 §4.1.2 protection profile id (1, 2, 7 or 8).
        profile: u16,
        /// Key and salt that protect what we send.
        local: SrtpMaterial,
        /// Key and salt that unprotect what the peer sends.
        remote: SrtpMaterial,
    },
    /// The handshake failed for good (`"fingerprint mismatch"`, `"handshake timeout"`, an alert).
    Failed(String),
    /// The peer closed the association (close_notify), or we did.
    Closed,
}

/// Handshake timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtlsTimers {
    /// First retransmission timeout. RFC 6347 §4.2.4.1 recommends 1 s: a shorter one (100 ms)
    /// retransmits every first flight spuriously on a 300 ms RTT link.
    pub initial_retransmit: Duration,
    /// Cap for the doubling timeout (RFC 6347 §4.2.4.1: at least 60 s).
    pub max_retransmit: Duration,
    /// The whole handshake must finish within this, counted from [`DtlsSession::new`].
    pub handshake_timeout: Duration,
}

impl Default for DtlsTimers {
    fn default() -> Self {
        Self {
            initial_retransmit: Duration::from_secs(1),
            max_retransmit: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(30),
        }
    }
}

/// Errors from certificates and from feeding a session.
#[derive(Debug, thiserror::Error)]
pub enum DtlsError {
    /// rcgen could not generate or parse a certificate or key.
    #[error("certificate: {0}")]
    Certificate(String),
    /// Reading or writing the certificate files failed.
    #[error("certificate file {path}: {source}")]
    Io {
        /// The file concerned.
        path: std::path::PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// Only one of the certificate and key files exists; refusing to replace it silently,
    /// because a new key changes the fingerprint that callers may have published.
    #[error("certificate directory holds {present} but not {missing}")]
    IncompleteFiles {
        /// The file found.
        present: std::path::PathBuf,
        /// The file missing.
        missing: std::path::PathBuf,
    },
    /// The DTLS configuration was rejected by rtc-dtls.
    #[error("dtls config: {0}")]
    Config(String),
    /// A datagram that is not a sequence of well-framed DTLS records; it was dropped and the
    /// session carries on (RFC 6347 §4.1.2.7).
    #[error("malformed DTLS datagram: {0}")]
    Malformed(&'static str),
    /// The handshake failed; a [`DtlsEvent::Failed`] was queued too.
    #[error("dtls handshake failed: {0}")]
    Handshake(String),
    /// The session already failed or closed; input is ignored.
    #[error("dtls session is no longer active")]
    Inactive,
}
