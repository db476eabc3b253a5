//! The media half of a call setup, on the call's one UDP socket: the ICE check, the DTLS
//! handshake in the client role, and SRTP packets that must come back through sipp's echo.
//!
//! Everything is demultiplexed by first byte (RFC 7983), as a browser does on its one 5-tuple;
//! datagrams for an earlier phase (a late STUN answer during DTLS) are dropped, not failures.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferry::srtp;
use ferry::wire::demux::{Kind, classify};
use ferry_signaling::dtls::{
    Certificate, DtlsEvent, DtlsSession, DtlsTimers, Fingerprint, Role, SrtpMaterial,
};
use ferry_signaling::sdp;
use tokio::net::UdpSocket;
use tokio::time::timeout_at;

use super::Failure;
use super::ice::{Check, CheckError, REQUEST_MAX};

/// RFC 8445 §14.3: Ta-paced retransmits start at RTO 500 ms for a lone check; a browser on
/// loopback answers well inside the first, so 100 ms only shortens recovery from a lost one.
const STUN_RTO: Duration = Duration::from_millis(100);
/// One echoed 20 ms PCMU frame: 12-byte header + 160 bytes payload.
const RTP_LEN: usize = 172;
/// Gap between SRTP probes while waiting for the first echo (one audio frame).
const RTP_GAP: Duration = Duration::from_millis(20);

/// Per-phase deadlines.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// STUN success response.
    pub ice: Duration,
    /// DTLS Connected, counted from the ICE success.
    pub dtls: Duration,
    /// First echoed SRTP packet, counted from DTLS Connected.
    pub media: Duration,
}

/// Runs the ICE check: retransmits the request until a valid success response or the deadline.
pub async fn ice(
    sock: &UdpSocket,
    to: SocketAddr,
    check: &Check,
    txid: [u8; 12],
    limit: Duration,
) -> Result<(), Failure> {
    let me = sock.local_addr().map_err(|e| Failure::Io(e.to_string()))?;
    let mut req = [0u8; REQUEST_MAX];
    let n = check.request(&txid, &mut req).map_err(Failure::Io)?;
    let deadline = Instant::now() + limit;
    let mut rto = STUN_RTO;
    let mut buf = [0u8; 2048];
    while Instant::now() < deadline {
        sock.send_to(&req[..n], to)
            .await
            .map_err(|e| Failure::Io(e.to_string()))?;
        let wait = (Instant::now() + rto).min(deadline);
        while let Ok(got) = timeout_at(wait.into(), sock.recv_from(&mut buf)).await {
            let (len, from) = got.map_err(|e| Failure::Io(e.to_string()))?;
            if from != to || classify(&buf[..len]) != Kind::Stun {
                continue;
            }
            match check.verify_response(&txid, &buf[..len], me) {
                Ok(()) => return Ok(()),
                Err(CheckError::NotOurs) => {}
                Err(CheckError::ErrorResponse(code)) => return Err(Failure::IceError(code)),
                Err(CheckError::Invalid(what)) => return Err(Failure::IceInvalid(what)),
            }
        }
        rto = (rto * 2).min(Duration::from_millis(1600));
    }
    Err(Failure::IceTimeout)
}

/// The SRTP keys DTLS produced, as this end uses them.
#[derive(Debug)]
pub struct Keys {
    /// Protects what we send.
    pub local: SrtpMaterial,
    /// Unprotects what Ferry sends.
    pub remote: SrtpMaterial,
}

/// Runs the DTLS client handshake to `to` until Connected with Ferry's certificate verified
/// against the answer's fingerprints (RFC 5763 §5). Returns the keys and the retransmissions.
pub async fn dtls(
    sock: &UdpSocket,
    to: SocketAddr,
    cert: &Certificate,
    answer: &[sdp::Fingerprint],
    limit: Duration,
) -> Result<(Keys, u32), Failure> {
    let fps = answer
        .iter()
        .map(|f| Fingerprint {
            algorithm: f.algorithm.clone(),
            value: f.value.clone(),
        })
        .collect();
    // Browser timers (RFC 6347 §4.2.4.1, 1 s first retransmit), our own overall bound.
    let timers = DtlsTimers {
        handshake_timeout: limit,
        ..DtlsTimers::default()
    };
    let mut d = DtlsSession::new(Role::Client, cert, fps, timers, Instant::now())
        .map_err(|e| Failure::Dtls(e.to_string()))?;
    let mut buf = [0u8; 4096];
    loop {
        while let Some(out) = d.poll_transmit() {
            sock.send_to(&out, to)
                .await
                .map_err(|e| Failure::Io(e.to_string()))?;
        }
        // Every event ends the handshake one way or the other.
        if let Some(ev) = d.poll_event() {
            return match ev {
                DtlsEvent::Connected { local, remote, .. } => {
                    Ok((Keys { local, remote }, d.retransmissions()))
                }
                DtlsEvent::Failed(why) if why.contains("timeout") => Err(Failure::DtlsTimeout),
                DtlsEvent::Failed(why) => Err(Failure::Dtls(why)),
                DtlsEvent::Closed => Err(Failure::Dtls("closed by Ferry".into())),
            };
        }
        let Some(wake) = d.poll_timeout() else {
            return Err(Failure::Dtls("session stopped without an event".into()));
        };
        match timeout_at(wake.into(), sock.recv_from(&mut buf)).await {
            Ok(got) => {
                let (len, from) = got.map_err(|e| Failure::Io(e.to_string()))?;
                if from == to && classify(&buf[..len]) == Kind::Dtls {
                    // A malformed record is dropped inside and the handshake carries on; a
                    // fatal error also queues Failed, which the loop above reports.
                    let _ = d.handle_datagram(Instant::now(), &buf[..len]);
                }
            }
            Err(_) => d.handle_timeout(Instant::now()),
        }
    }
}

fn context(m: &SrtpMaterial) -> Result<srtp::Context, Failure> {
    let bad = |e: srtp::Error| Failure::Media(format!("srtp: {e}"));
    let profile = srtp::Profile::from_id(m.profile)
        .ok_or_else(|| Failure::Media(format!("SRTP profile {}", m.profile)))?;
    let key = srtp::MasterKey::new(profile, &m.key, &m.salt).map_err(bad)?;
    srtp::Context::new(profile, &key, &srtp::Config::default()).map_err(bad)
}

/// Sends one SRTP-protected PCMU frame per 20 ms until one comes back (engine -> sipp
/// `-rtp_echo` -> engine) and decrypts to a payload we sent. Returns the probes sent.
pub async fn echo(
    sock: &UdpSocket,
    to: SocketAddr,
    keys: &Keys,
    ssrc: u32,
    limit: Duration,
) -> Result<u32, Failure> {
    let (mut tx, mut rx) = (context(&keys.local)?, context(&keys.remote)?);
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 2048];
    let mut seq: u16 = 1;
    while Instant::now() < deadline {
        let mut pkt = [0u8; RTP_LEN + 32];
        rtp_frame(&mut pkt, seq, ssrc);
        let n = tx
            .protect_rtp(&mut pkt, RTP_LEN)
            .map_err(|e| Failure::Media(format!("protect: {e}")))?;
        sock.send_to(&pkt[..n], to)
            .await
            .map_err(|e| Failure::Io(e.to_string()))?;
        seq = seq.wrapping_add(1);
        let wait = (Instant::now() + RTP_GAP).min(deadline);
        while let Ok(got) = timeout_at(wait.into(), sock.recv_from(&mut buf)).await {
            let (len, from) = got.map_err(|e| Failure::Io(e.to_string()))?;
            if from != to || classify(&buf[..len]) != Kind::RtpOrRtcp {
                continue;
            }
            // Before Ferry installs its keys a packet may be lost, never forged: only a packet
            // that authenticates and carries our payload pattern counts.
            if let Ok(m) = rx.unprotect_rtp(&mut buf[..len])
                && m == RTP_LEN
                && buf[12..RTP_LEN] == pkt_payload()
            {
                return Ok(u32::from(seq - 1));
            }
        }
    }
    Err(Failure::MediaTimeout)
}

/// The fixed PCMU payload: recognisable after the round trip through sipp.
fn pkt_payload() -> [u8; RTP_LEN - 12] {
    std::array::from_fn(|i| (i as u8).wrapping_mul(7) ^ 0x55)
}

/// RTP version 2, PT 0 (PCMU), timestamp advancing 160 per frame (RFC 3551 §4.5.14).
fn rtp_frame(pkt: &mut [u8], seq: u16, ssrc: u32) {
    pkt[0] = 0x80;
    pkt[1] = 0;
    pkt[2..4].copy_from_slice(&seq.to_be_bytes());
    pkt[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    pkt[8..12].copy_from_slice(&ssrc.to_be_bytes());
    pkt[12..RTP_LEN].copy_from_slice(&pkt_payload());
}
