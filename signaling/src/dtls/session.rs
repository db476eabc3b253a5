//! [`DtlsSession`]: one DTLS-SRTP association, sans-IO, around an rtc-dtls `Endpoint`.
//!
//! rtc-dtls multiplexes associations by address; a session pins it to one fixed, fictitious peer
//! address (the engine already demultiplexed by leg). Its retransmit timer is a fixed interval, so
//! the session owns the schedule: it calls the endpoint's timeout only when its own doubling
//! timer (RFC 6347 §4.2.4.1) fires. rtc-dtls also forgets its timer when a handshake record
//! arrives that does not complete the next flight (a fragment, or a repeat of the peer's previous
//! flight); the session then re-sends the last flight it saw go out, so a lost flight can never
//! stall both sides.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rtc_dtls::config::{ClientAuthType, ConfigBuilder, ExtendedMasterSecretType};
use rtc_dtls::endpoint::{Endpoint, EndpointEvent};
use rtc_dtls::extension::extension_use_srtp::SrtpProtectionProfile;
use rtc_shared::TransportProtocol;
use zeroize::Zeroizing;

use super::fingerprint::any_matches;
use super::srtp::{self, EXPORTER_LABEL};
use super::{Certificate, DtlsError, DtlsEvent, DtlsTimers, Fingerprint, Role};

/// Documentation addresses (RFC 5737): rtc-dtls wants a peer address; this one never leaves here.
const LOCAL: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1)),
    5004,
);
const PEER: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2)),
    5004,
);

/// DTLS record header: type(1) version(2) epoch(2) sequence(6) length(2), RFC 6347 §4.1.
const RECORD_HEADER: usize = 13;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Handshaking,
    Connected,
    /// Failed or closed: input is refused.
    Done,
}

/// One DTLS-SRTP association (RFC 5764) as client or server. Feed it datagrams and time; drain
/// datagrams and events.
pub struct DtlsSession {
    role: Role,
    endpoint: Endpoint,
    fingerprints: Arc<Vec<Fingerprint>>,
    /// Set by the certificate hook, so a failed handshake can say why.
    mismatch: Arc<AtomicBool>,
    timers: DtlsTimers,
    phase: Phase,
    handshake_deadline: Instant,
    rto: Duration,
    retransmit_at: Option<Instant>,
    /// The rtc-dtls timer last seen: a new value means rtc-dtls sent a new flight.
    inner_timer: Option<Instant>,
    last_flight: Vec<Vec<u8>>,
    retransmissions: u32,
    transmits: VecDeque<Vec<u8>>,
    events: VecDeque<DtlsEvent>,
}

impl std::fmt::Debug for DtlsSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DtlsSession")
            .field("role", &self.role)
            .field("phase", &self.phase)
            .field("retransmissions", &self.retransmissions)
            .finish_non_exhaustive()
    }
}

impl DtlsSession {
    /// Starts a session. A client queues its ClientHello at once; a server waits for one.
    /// `remote_fingerprints` are the peer's SDP `a=fingerprint` lines; the handshake fails unless
    /// its certificate matches one of them.
    pub fn new(
        role: Role,
        cert: &Certificate,
        remote_fingerprints: Vec<Fingerprint>,
        timers: DtlsTimers,
        now: Instant,
    ) -> Result<Self, DtlsError> {
        let fingerprints = Arc::new(remote_fingerprints);
        let mismatch = Arc::new(AtomicBool::new(false));
        let is_client = role == Role::Client;
        let config = config(cert, &fingerprints, &mismatch, &timers, is_client)
            .build(is_client, Some(PEER))
            .map_err(|e| DtlsError::Config(e.to_string()))?;
        let config = Arc::new(config);
        let mut endpoint = Endpoint::new(
            LOCAL,
            TransportProtocol::UDP,
            (!is_client).then(|| config.clone()),
        );
        if is_client {
            endpoint
                .connect(now, PEER, config, None)
                .map_err(|e| DtlsError::Config(e.to_string()))?;
        }
        let mut session = DtlsSession {
            role,
            endpoint,
            fingerprints,
            mismatch,
            timers,
            phase: Phase::Handshaking,
            handshake_deadline: now + timers.handshake_timeout,
            rto: timers.initial_retransmit,
            retransmit_at: None,
            inner_timer: None,
            last_flight: Vec::new(),
            retransmissions: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        };
        session.collect_output();
        Ok(session)
    }

    /// Feeds one datagram from the peer. A malformed one is dropped with an error and the
    /// session carries on (RFC 6347 §4.1.2.7); a handshake failure also queues
    /// [`DtlsEvent::Failed`].
    pub fn handle_datagram(&mut self, now: Instant, datagram: &[u8]) -> Result<(), DtlsError> {
        if self.phase == Phase::Done {
            return Err(DtlsError::Inactive);
        }
        check_framing(datagram)?;
        let result = self
            .endpoint
            .read(now, PEER, None, BytesMut::from(datagram));
        self.collect_output();
        let events = match result {
            Ok(events) => events,
            Err(e) => return Err(self.fail_with(e.to_string())),
        };
        for event in events {
            match event {
                EndpointEvent::HandshakeComplete => self.on_complete()?,
                EndpointEvent::PeerClosed => self.finish(DtlsEvent::Closed),
                // No data channels on this path: application data is dropped.
                _ => {}
            }
        }
        Ok(())
    }

    /// Advances timers to `now`: retransmits the current flight (doubling the timeout, RFC 6347
    /// §4.2.4.1) or fails the handshake when its deadline passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.phase != Phase::Handshaking {
            return;
        }
        if now >= self.handshake_deadline {
            self.fail("handshake timeout".into());
            return;
        }
        let Some(at) = self.retransmit_at else { return };
        if now < at {
            return;
        }
        let sent = if self.inner_timer.is_some() {
            // rtc-dtls's own timer (a fixed initial_retransmit) is due whenever ours is.
            if self.endpoint.handle_timeout(PEER, now).is_err() {
                self.fail("handshake timeout: retransmissions exhausted".into());
                return;
            }
            let before = self.transmits.len();
            self.drain_endpoint(true);
            self.transmits.len() - before
        } else {
            // rtc-dtls dropped its timer (see the module doc): repeat the flight ourselves.
            self.transmits.extend(self.last_flight.iter().cloned());
            self.last_flight.len()
        };
        self.inner_timer = self.endpoint.poll_timeout(&PEER);
        if sent > 0 {
            self.retransmissions += 1;
        }
        self.rto = (self.rto * 2).min(self.timers.max_retransmit);
        self.retransmit_at = Some(now + self.rto);
    }

    /// The next datagram to send to the peer.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.transmits.pop_front()
    }

    /// When [`Self::handle_timeout`] should next be called, if at all.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.phase != Phase::Handshaking {
            return None;
        }
        Some(self.retransmit_at.map_or(self.handshake_deadline, |at| {
            at.min(self.handshake_deadline)
        }))
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<DtlsEvent> {
        self.events.pop_front()
    }

    /// Whether the handshake completed and the peer was verified.
    pub fn is_connected(&self) -> bool {
        self.phase == Phase::Connected
    }

    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// How many times a flight was retransmitted on timeout (for tests and stats).
    pub fn retransmissions(&self) -> u32 {
        self.retransmissions
    }

    /// Sends close_notify (RFC 5246 §7.2.1) and ends the session with [`DtlsEvent::Closed`].
    pub fn close(&mut self, now: Instant) {
        if self.phase == Phase::Done {
            return;
        }
        self.endpoint.stop(now, PEER);
        self.drain_endpoint(false);
        self.finish(DtlsEvent::Closed);
    }

    /// Moves what rtc-dtls queued to our queue, and notices a new flight by its new timer.
    fn collect_output(&mut self) {
        let before = self.transmits.len();
        self.drain_endpoint(false);
        let timer = self.endpoint.poll_timeout(&PEER);
        if timer.is_some() && timer != self.inner_timer {
            // A new flight went out: RFC 6347 §4.2.4.1 restarts the timer at its initial value.
            self.rto = self.timers.initial_retransmit;
            self.retransmit_at = timer;
        }
        if self.transmits.len() > before {
            self.last_flight = self.transmits.iter().skip(before).cloned().collect();
        }
        self.inner_timer = timer;
    }

    fn drain_endpoint(&mut self, retransmit: bool) {
        let before = self.transmits.len();
        while let Some(t) = self.endpoint.poll_transmit() {
            self.transmits.push_back(t.message.to_vec());
        }
        if retransmit && self.transmits.len() > before {
            // Fresh record sequence numbers: keep the newest copy for a fallback repeat.
            self.last_flight = self.transmits.iter().skip(before).cloned().collect();
        }
    }

    /// RFC 5763 §5: check the certificate against SDP before any key leaves this module, then
    /// export keys per RFC 5764 §4.2.
    fn on_complete(&mut self) -> Result<(), DtlsError> {
        let Some(state) = self.endpoint.get_connection_state(PEER) else {
            return Err(self.fail_with("association vanished".into()));
        };
        let leaf_ok = state
            .peer_certificates
            .first()
            .is_some_and(|der| any_matches(&self.fingerprints, der));
        if !leaf_ok {
            return Err(self.fail_with("fingerprint mismatch".into()));
        }
        let negotiated = state.srtp_protection_profile();
        if negotiated == SrtpProtectionProfile::Unsupported {
            return Err(self.fail_with("no SRTP profile negotiated".into()));
        }
        let profile = negotiated as u16;
        let Some((k, s)) = srtp::key_salt_len(profile) else {
            return Err(self.fail_with(format!("unsupported SRTP profile {profile}")));
        };
        let exported: srtp::Exported =
            match state.export_keying_material(EXPORTER_LABEL, &[], 2 * (k + s)) {
                Ok(m) => Zeroizing::new(m.as_ref().to_vec()),
                Err(e) => return Err(self.fail_with(format!("key export: {e}"))),
            };
        let Some((local, remote)) = srtp::split(self.role, profile, &exported) else {
            return Err(self.fail_with("key export: wrong length".into()));
        };
        self.phase = Phase::Connected;
        self.retransmit_at = None;
        self.events.push_back(DtlsEvent::Connected {
            profile,
            local,
            remote,
        });
        Ok(())
    }

    fn fail_with(&mut self, reason: String) -> DtlsError {
        let reason = if self.mismatch.load(Ordering::Relaxed) {
            "fingerprint mismatch".into()
        } else {
            reason
        };
        self.fail(reason.clone());
        DtlsError::Handshake(reason)
    }

    fn fail(&mut self, reason: String) {
        self.finish(DtlsEvent::Failed(reason));
    }

    fn finish(&mut self, event: DtlsEvent) {
        if self.phase != Phase::Done {
            self.phase = Phase::Done;
            self.retransmit_at = None;
            self.events.push_back(event);
        }
    }
}

/// The rtc-dtls configuration: DTLS 1.2 (the only version rtc-dtls speaks), extended master
/// secret required (RFC 7627), our SRTP profiles, and the fingerprint check as the only
/// certificate check (RFC 5763 §5: self-signed certificates, no CA chain).
fn config(
    cert: &Certificate,
    fingerprints: &Arc<Vec<Fingerprint>>,
    mismatch: &Arc<AtomicBool>,
    timers: &DtlsTimers,
    is_client: bool,
) -> ConfigBuilder {
    let (fps, flag) = (fingerprints.clone(), mismatch.clone());
    let verify = Arc::new(move |certs: &[Vec<u8>], _: &[_]| {
        if certs.first().is_some_and(|der| any_matches(&fps, der)) {
            Ok(())
        } else {
            flag.store(true, Ordering::Relaxed);
            Err(rtc_shared::error::Error::Other(
                "fingerprint mismatch".into(),
            ))
        }
    });
    ConfigBuilder::default()
        .with_crypto_provider(cert.provider.clone())
        .with_certificates(vec![cert.rtc.clone()])
        .with_srtp_protection_profiles(srtp::PREFERENCE.to_vec())
        .with_extended_master_secret(ExtendedMasterSecretType::Require)
        .with_flight_interval(timers.initial_retransmit)
        .with_insecure_skip_verify(true)
        .with_verify_peer_certificate(Some(verify))
        // RFC 5763 §5: the client must present a certificate; it is checked by fingerprint.
        .with_client_auth(if is_client {
            ClientAuthType::NoClientCert
        } else {
            ClientAuthType::RequireAnyClientCert
        })
}

/// Accepts only a sequence of complete DTLS records (RFC 6347 §4.1), so garbage is reported
/// as [`DtlsError::Malformed`] instead of reaching the handshake.
fn check_framing(mut d: &[u8]) -> Result<(), DtlsError> {
    if d.is_empty() {
        return Err(DtlsError::Malformed("empty datagram"));
    }
    while !d.is_empty() {
        if d.len() < RECORD_HEADER {
            return Err(DtlsError::Malformed("truncated record header"));
        }
        // RFC 7983: 20..=63 is DTLS; the defined content types are 20..=25.
        if !(20..=25).contains(&d[0]) {
            return Err(DtlsError::Malformed("unknown content type"));
        }
        if d[1] != 0xfe {
            return Err(DtlsError::Malformed("not a DTLS version"));
        }
        let len = RECORD_HEADER + usize::from(u16::from_be_bytes([d[11], d[12]]));
        if len > d.len() || len == RECORD_HEADER {
            return Err(DtlsError::Malformed("record length"));
        }
        d = &d[len..];
    }
    Ok(())
}
