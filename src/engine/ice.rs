//! ICE-lite on the engine side (RFC 8445 §2.5, §7.3; consent freshness RFC 7675).
//!
//! The engine never sends checks; it answers the browser's. A check counts only with the right
//! USERNAME (`our-ufrag:their-ufrag`), a valid MESSAGE-INTEGRITY keyed with our password and a
//! valid FINGERPRINT. Such a check marks its source address *verified*: media and DTLS are then
//! accepted from it. A verified check carrying USE-CANDIDATE *nominates* its source: media goes
//! there. Every valid check from the nominated address renews consent; with no such check for the
//! consent lifetime (30 s), the engine stops sending to it (RFC 7675 §5.1) until one arrives.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::stats::DropReason;
use crate::control::IceCredentials;
use crate::wire::stun;

/// Verified addresses remembered per leg (host, srflx and relay candidates of one browser).
const MAX_VERIFIED: usize = 8;

/// What to do with a STUN datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StunOutcome {
    /// Send the binding success response now in the buffer (`len` bytes) back to the source;
    /// `nominated` is set when the source became the media destination.
    Reply {
        /// Response length.
        len: usize,
        /// A newly nominated address.
        nominated: Option<SocketAddr>,
    },
    /// Drop it, counted under this reason.
    Drop(DropReason),
}

/// ICE-lite state of one browser leg. The media path reads `nominated` and the first
/// `verified` entries, so they come first; credentials matter only to STUN.
#[derive(Debug)]
#[repr(C)]
pub struct IceLeg {
    nominated: Option<SocketAddr>,
    /// Addresses that sent a valid check, with the time of the latest one.
    verified: [Option<(SocketAddr, Instant)>; MAX_VERIFIED],
    creds: IceCredentials,
}

impl IceLeg {
    /// A leg that has seen no checks yet.
    pub fn new(creds: IceCredentials) -> Self {
        Self {
            creds,
            verified: [None; MAX_VERIFIED],
            nominated: None,
        }
    }

    /// New credentials (an ICE restart). Media keeps flowing to the nominated address; consent
    /// now has to be renewed with the new password.
    pub fn update(&mut self, creds: IceCredentials) {
        self.creds = creds;
    }

    /// Starts loading what the media path reads (the nominated address and the first three
    /// verified ones: a browser's host candidate normally wins).
    #[inline]
    pub fn prefetch(&self) {
        crate::engine::io::prefetch(self, 192);
    }

    /// Whether `addr` has ever sent a valid check.
    pub fn is_verified(&self, addr: SocketAddr) -> bool {
        self.verified.iter().flatten().any(|(a, _)| *a == addr)
    }

    /// Where media goes: the nominated address, while its consent is fresh.
    pub fn destination(&self, now: Instant, consent: Duration) -> Option<SocketAddr> {
        let to = self.nominated?;
        let (_, last) = self.verified.iter().flatten().find(|(a, _)| *a == to)?;
        (now.saturating_duration_since(*last) <= consent).then_some(to)
    }

    fn mark_verified(&mut self, from: SocketAddr, now: Instant) {
        if let Some(entry) = self.verified.iter_mut().flatten().find(|(a, _)| *a == from) {
            entry.1 = now;
            return;
        }
        // Free slot, else the stalest one that is not the nominated address.
        let slot = self.verified.iter().position(Option::is_none).or_else(|| {
            self.verified
                .iter()
                .enumerate()
                .filter(|(_, e)| e.is_some_and(|(a, _)| Some(a) != self.nominated))
                .min_by_key(|(_, e)| e.map(|(_, t)| t))
                .map(|(i, _)| i)
        });
        if let Some(i) = slot {
            self.verified[i] = Some((from, now));
        }
    }

    fn username_ok(&self, username: &[u8]) -> bool {
        // RFC 8445 §7.3: USERNAME is "<our ufrag>:<their ufrag>".
        let local = self.creds.local_ufrag.as_bytes();
        let remote = self.creds.remote_ufrag.as_bytes();
        username.len() == local.len() + 1 + remote.len()
            && username.starts_with(local)
            && username.get(local.len()) == Some(&b':')
            && (remote.is_empty() || username.ends_with(remote))
    }

    /// Handles one STUN datagram in `buf[..len]`; on success the response replaces it in `buf`.
    pub fn on_stun(
        &mut self,
        from: SocketAddr,
        buf: &mut [u8],
        len: usize,
        now: Instant,
    ) -> StunOutcome {
        let (txid, use_candidate) = match self.check(&buf[..len]) {
            Ok(v) => v,
            Err(why) => return StunOutcome::Drop(why),
        };
        self.mark_verified(from, now);
        let nominated = (use_candidate && self.nominated != Some(from)).then(|| {
            self.nominated = Some(from);
            from
        });
        match stun::write_binding_success(buf, &txid, from, self.creds.local_pwd.expose()) {
            Ok(len) => StunOutcome::Reply { len, nominated },
            Err(_) => StunOutcome::Drop(DropReason::SendFailed),
        }
    }

    /// Validates a binding request; returns its transaction id and USE-CANDIDATE.
    fn check(&self, bytes: &[u8]) -> Result<([u8; 12], bool), DropReason> {
        let msg = stun::Message::new_checked(bytes).map_err(|_| DropReason::Malformed)?;
        if msg.class() != stun::Class::Request || msg.method() != stun::Method::Binding {
            return Err(DropReason::Unclassified);
        }
        // RFC 8445 §7.2.2: checks carry FINGERPRINT; RFC 5389 §15.5 says how to verify it.
        if msg.verify_fingerprint().is_err() {
            return Err(DropReason::Malformed);
        }
        if !msg.username().is_some_and(|u| self.username_ok(u)) {
            return Err(DropReason::IceAuth);
        }
        msg.verify_integrity(self.creds.local_pwd.expose())
            .map_err(|_| DropReason::IceAuth)?;
        Ok((msg.transaction_id(), msg.use_candidate()))
    }
}
