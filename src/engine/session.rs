//! A relayed session: two legs, their crypto, their peers, and the per-packet relay.
//!
//! The per-packet path is [`Session::on_datagram`]: classify by first byte (RFC 7983), answer
//! STUN (ICE legs), hand DTLS to signaling, or relay RTP/RTCP to the other leg: check the
//! source, unprotect, rewrite, protect, and name the egress socket and address. All in place in
//! the receive buffer; nothing here allocates except the rare events for signaling.
//!
//! Source rules (the RTP Bleed/Inject defence, CVE-2025-53399):
//! - ICE leg: media and DTLS are accepted only from addresses that sent a STUN check with a
//!   valid MESSAGE-INTEGRITY for this session; media goes only to the address nominated with
//!   USE-CANDIDATE, and only while consent is fresh (RFC 7675).
//! - Addressed leg, `Strict`: only the SDP address may send, and media goes only there.
//!   `SameHost`: the SDP host may send from another port once (a PBX behind a NAT that
//!   rewrites ports); that port is then latched and fixed. Another host never latches.
//! - Either way a session's idle clock only moves on packets that passed these checks and SRTP
//!   authentication, so an attacker cannot keep a dead session alive.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crossbeam::channel::Sender;

use super::dtmf;
use super::ice::{IceLeg, StunOutcome};
use super::io::{self, SockId, Verdict};
use super::quality;
use super::shard::Event;
use super::stats::{Counters, DropReason};
use crate::control::{
    LatchPolicy, LegAddrs, LegId, LegKind, LegSpec, SessionId, SessionInfo, SrtpKey,
};
use crate::srtp;
use crate::wire::demux::{self, Kind};
use crate::wire::rtp;

/// Where a socket's packets go: which session slot, which leg, RTP or RTCP port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Session slot in the shard.
    pub slot: u32,
    /// Leg the socket belongs to.
    pub leg: LegId,
    /// The leg's separate RTCP port.
    pub rtcp_port: bool,
}

/// What the per-packet path borrows from its shard.
#[derive(Debug)]
pub struct PacketCtx<'a> {
    /// Time of the batch being processed.
    pub now: Instant,
    /// ICE consent lifetime.
    pub consent_timeout: Duration,
    /// The shard's counters.
    pub counters: &'a mut Counters,
    /// Events toward signaling.
    pub events: &'a Sender<Event>,
}

/// An SRTP context with the key it was made from (a re-install with the same key keeps the
/// context, and with it the rollover counter and replay window). Held inline in its session
/// (no pointer to chase per packet, and the shard's slab is backed by huge pages).
#[derive(Debug)]
#[repr(C)]
struct Crypto {
    ctx: srtp::Context,
    key: SrtpKey,
}

impl Crypto {
    fn new(key: &SrtpKey) -> Result<Self, String> {
        let profile = srtp::Profile::from_id(key.profile)
            .ok_or_else(|| format!("unknown SRTP profile {}", key.profile))?;
        let master = srtp::MasterKey::new(profile, key.key.expose(), key.salt.expose())
            .map_err(|e| format!("SRTP key: {e}"))?;
        let ctx = srtp::Context::new(profile, &master, &srtp::Config::default())
            .map_err(|e| format!("SRTP context: {e}"))?;
        Ok(Self {
            ctx,
            key: key.clone(),
        })
    }

    /// Starts loading the part of the context the SRTP path reads.
    #[inline]
    fn prefetch(&self) {
        let [head, cipher] = srtp::Context::HOT;
        io::prefetch_range(&self.ctx, head.start..cipher.end, io::Cache::All);
    }

    /// Keeps `current` if the key is unchanged, else builds a new context.
    fn update(current: Option<Self>, key: Option<&SrtpKey>) -> Result<Option<Self>, String> {
        match (current, key) {
            (_, None) => Ok(None),
            (Some(c), Some(k)) if c.key == *k => Ok(Some(c)),
            (_, Some(k)) => Self::new(k).map(Some),
        }
    }
}

fn srtp_drop(e: srtp::Error) -> DropReason {
    match e {
        srtp::Error::AuthFailed => DropReason::Auth,
        srtp::Error::Replay => DropReason::Replay,
        srtp::Error::UnknownSsrc => DropReason::UnknownSsrc,
        _ => DropReason::Malformed,
    }
}

/// Payload-type and SSRC rewriting for packets leaving a leg.
#[derive(Debug, Default)]
struct Rewriter {
    /// `pt[from] = to`, identity where unmapped; `None` when no mapping is configured.
    pt: Option<Box<[u8; 128]>>,
    ssrc: Vec<(u32, u32)>,
}

impl Rewriter {
    fn new(spec: &crate::control::Rewrite) -> Self {
        let pt = (!spec.pt.is_empty()).then(|| {
            let mut table = Box::new([0u8; 128]);
            table.iter_mut().enumerate().for_each(|(i, v)| *v = i as u8);
            for &(from, to) in &spec.pt {
                table[usize::from(from & 0x7f)] = to & 0x7f;
            }
            table
        });
        Self {
            pt,
            ssrc: spec.ssrc.clone(),
        }
    }

    fn map_ssrc(&self, ssrc: u32) -> Option<u32> {
        self.ssrc
            .iter()
            .find(|(from, _)| *from == ssrc)
            .map(|(_, to)| *to)
    }

    /// Rewrites an RTP header in place; `Err` if the header is malformed.
    fn rtp(&self, buf: &mut [u8]) -> Result<(), DropReason> {
        if self.pt.is_none() && self.ssrc.is_empty() {
            return Ok(());
        }
        let mut pkt = rtp::Packet::new_checked(buf).map_err(|_| DropReason::Malformed)?;
        if let Some(table) = &self.pt {
            let pt = pkt.payload_type();
            pkt.set_payload_type(rtp::Pt(table[usize::from(pt.0 & 0x7f)]));
        }
        if let Some(to) = self.map_ssrc(pkt.ssrc().0) {
            pkt.set_ssrc(rtp::Ssrc(to));
        }
        Ok(())
    }

    /// Rewrites the sender SSRC of the first RTCP packet (bytes 4..8, in the clear).
    fn rtcp(&self, buf: &mut [u8]) {
        if let Some(b) = buf.get_mut(4..8) {
            let ssrc = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            if let Some(to) = self.map_ssrc(ssrc) {
                b.copy_from_slice(&to.to_be_bytes());
            }
        }
    }
}

/// How a leg reaches its peer, at run time.
#[derive(Debug)]
enum Mode {
    /// Allocated, not yet installed: nothing is accepted.
    Pending,
    /// A browser, through ICE-lite.
    Ice(Box<IceLeg>),
    /// A SIP peer at an SDP address.
    Addressed {
        rtp: Option<SocketAddr>,
        rtcp: Option<SocketAddr>,
        latch: LatchPolicy,
        moved: bool,
    },
}

/// One leg's relay state: everything here is read per packet (its local addresses and its
/// SRTP contexts live further back in the session).
#[derive(Debug)]
struct Leg {
    socks: [Option<SockId>; 2],
    mode: Mode,
    rtcp_mux: bool,
    rewrite: Rewriter,
    /// RFC 4733 events taken off this leg instead of forwarded.
    dtmf: dtmf::Tracker,
}

/// One leg's SRTP contexts: what it receives and what it sends.
#[derive(Debug, Default)]
struct LegCrypto {
    srtp_in: Option<Crypto>,
    srtp_out: Option<Crypto>,
}

impl LegCrypto {
    /// Starts loading the context a packet into (`inbound`) or out of this leg uses.
    #[inline]
    fn prefetch(&self, inbound: bool) {
        let crypto = if inbound {
            &self.srtp_in
        } else {
            &self.srtp_out
        };
        if let Some(c) = crypto {
            c.prefetch();
        }
    }
}

impl Leg {
    fn install(&mut self, crypto: &mut LegCrypto, spec: LegSpec) -> Result<(), String> {
        let srtp_in = Crypto::update(crypto.srtp_in.take(), spec.srtp_in.as_ref())?;
        let srtp_out = Crypto::update(crypto.srtp_out.take(), spec.srtp_out.as_ref())?;
        self.mode = match (std::mem::replace(&mut self.mode, Mode::Pending), spec.kind) {
            (Mode::Ice(mut ice), LegKind::Ice(creds)) => {
                ice.update(creds);
                Mode::Ice(ice)
            }
            (_, LegKind::Ice(creds)) => Mode::Ice(Box::new(IceLeg::new(creds))),
            (_, LegKind::Addressed { rtp, rtcp, latch }) => Mode::Addressed {
                rtp,
                rtcp,
                latch,
                moved: false,
            },
        };
        self.rtcp_mux = spec.rtcp_mux;
        crypto.srtp_in = srtp_in;
        crypto.srtp_out = srtp_out;
        self.rewrite = Rewriter::new(&spec.rewrite_out);
        self.dtmf = self.dtmf.update(spec.dtmf_events);
        Ok(())
    }

    /// Whether media from `from` may enter; may latch a `SameHost` leg (returns the new address).
    fn admit(&mut self, from: SocketAddr, rtcp: bool) -> Result<Option<SocketAddr>, DropReason> {
        match &mut self.mode {
            Mode::Pending => Err(DropReason::NotReady),
            Mode::Ice(ice) => ice
                .is_verified(from)
                .then_some(None)
                .ok_or(DropReason::Unlatched),
            Mode::Addressed { rtp: None, .. } => Err(DropReason::Unlatched),
            Mode::Addressed {
                rtp: Some(peer),
                rtcp: rtcp_peer,
                latch,
                moved,
            } => {
                let expected = if rtcp && !self.rtcp_mux {
                    rtcp_peer.unwrap_or(rtcp_default(*peer))
                } else {
                    *peer
                };
                if from == expected || (rtcp && from == *peer) {
                    return Ok(None);
                }
                // SameHost: one move of the RTP port to where the SDP host really sends from.
                if *latch == LatchPolicy::SameHost && !*moved && !rtcp && from.ip() == peer.ip() {
                    *peer = from;
                    *moved = true;
                    return Ok(Some(from));
                }
                Err(DropReason::Unlatched)
            }
        }
    }

    /// Egress socket and destination for RTP or RTCP leaving this leg.
    fn egress(&self, rtcp: bool, now: Instant, consent: Duration) -> Option<(SockId, SocketAddr)> {
        let rtp_sock = self.socks[0]?;
        match &self.mode {
            Mode::Pending => None,
            Mode::Ice(ice) => ice.destination(now, consent).map(|to| (rtp_sock, to)),
            Mode::Addressed {
                rtp,
                rtcp: rtcp_peer,
                ..
            } => {
                let peer = (*rtp)?;
                if !rtcp || self.rtcp_mux {
                    return Some((rtp_sock, peer));
                }
                Some((
                    self.socks[1].unwrap_or(rtp_sock),
                    rtcp_peer.unwrap_or(rtcp_default(peer)),
                ))
            }
        }
    }

    fn peer(&self, now: Instant) -> Option<SocketAddr> {
        match &self.mode {
            Mode::Pending => None,
            Mode::Ice(ice) => ice.destination(now, Duration::MAX),
            Mode::Addressed { rtp, .. } => *rtp,
        }
    }

    /// Starts loading the ICE state behind the leg's pointer.
    #[inline]
    fn prefetch(&self) {
        if let Mode::Ice(ice) = &self.mode {
            ice.prefetch();
        }
    }

    /// An ICE leg must have keys both ways before media flows (DTLS done).
    fn ready_in(&self, crypto: &LegCrypto) -> bool {
        !matches!(self.mode, Mode::Ice(_)) || crypto.srtp_in.is_some()
    }

    fn ready_out(&self, crypto: &LegCrypto) -> bool {
        !matches!(self.mode, Mode::Ice(_)) || crypto.srtp_out.is_some()
    }
}

/// RFC 3550 §11: RTCP on the RTP port + 1 unless SDP says otherwise.
fn rtcp_default(rtp: SocketAddr) -> SocketAddr {
    SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1))
}

/// One relayed session, laid out for the per-packet path: the fields every packet reads come
/// first and fill about five cache lines ([`Session::HOT_BYTES`]); the SRTP contexts follow
/// inline (a packet reads the hot part of one or two of them), ICE state hangs off its leg.
#[derive(Debug)]
#[repr(C)]
pub struct Session {
    legs: [Leg; 2],
    last_rx: Instant,
    packets: u64,
    /// Session id.
    pub id: SessionId,
    addrs: [LegAddrs; 2],
    crypto: [LegCrypto; 2],
    /// Per leg, what its peer's RTCP says (read only for RTCP, so after the hot part).
    quality: [quality::Tracker; 2],
}

impl Session {
    /// A session owning the given sockets, not yet installed.
    pub fn new(
        id: SessionId,
        socks: [[Option<SockId>; 2]; 2],
        addrs: [LegAddrs; 2],
        now: Instant,
    ) -> Self {
        let leg = |i: usize| Leg {
            socks: socks[i],
            mode: Mode::Pending,
            rtcp_mux: addrs[i].rtcp.is_none(),
            rewrite: Rewriter::default(),
            dtmf: dtmf::Tracker::default(),
        };
        Self {
            legs: [leg(0), leg(1)],
            last_rx: now,
            packets: 0,
            id,
            addrs,
            crypto: Default::default(),
            quality: Default::default(),
        }
    }

    /// Installs or replaces the relay spec of both legs.
    pub fn install(&mut self, spec: [LegSpec; 2], now: Instant) -> Result<(), String> {
        let [a, b] = spec;
        let [ca, cb] = &mut self.crypto;
        self.legs[0].install(ca, a)?;
        self.legs[1].install(cb, b)?;
        // A fresh install restarts the idle clock: signaling just vouched for the session.
        self.last_rx = now;
        Ok(())
    }

    /// Every socket the session owns.
    pub fn sockets(&self) -> impl Iterator<Item = SockId> + '_ {
        self.legs
            .iter()
            .flat_map(|l| l.socks.iter().flatten().copied())
    }

    /// Local addresses of both legs.
    pub fn addrs(&self) -> [LegAddrs; 2] {
        self.addrs
    }

    /// Time since the last accepted packet (or install).
    pub fn idle_for(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.last_rx)
    }

    /// The session as listed to signaling.
    pub fn info(&self, shard: u16, now: Instant) -> SessionInfo {
        SessionInfo {
            session: self.id,
            shard,
            legs: self.addrs(),
            peers: [self.legs[0].peer(now), self.legs[1].peer(now)],
            packets: self.packets,
            idle_ms: self.idle_for(now).as_millis() as u64,
            quality: [self.quality[0].info(now), self.quality[1].info(now)],
        }
    }

    /// The socket to send a DTLS datagram from, if `to` has proven itself on that ICE leg.
    pub fn dtls_route(&self, leg: LegId, to: SocketAddr) -> Result<SockId, String> {
        let l = &self.legs[leg.index()];
        match &l.mode {
            Mode::Ice(ice) if ice.is_verified(to) => {
                l.socks[0].ok_or_else(|| "leg has no socket".into())
            }
            Mode::Ice(_) => Err(format!("{to} has not passed an ICE check")),
            _ => Err("DTLS is only relayed on ICE legs".into()),
        }
    }

    /// Bytes from the start of a session that the per-packet path reads in it.
    pub const HOT_BYTES: usize = std::mem::offset_of!(Session, addrs);

    /// Byte ranges of a session, from its start, that a packet arriving on `leg` reads first:
    /// the hot fields and the first line of each SRTP context it may use (where `Some` or
    /// `None` is decided). For a prefetch by address, before the session is read.
    pub fn hot_ranges(leg: LegId) -> [std::ops::Range<usize>; 3] {
        let crypto = |i: usize, field: usize| {
            let at = std::mem::offset_of!(Session, crypto)
                + i * std::mem::size_of::<LegCrypto>()
                + field;
            at..at + 64
        };
        let i = leg.index();
        [
            0..Self::HOT_BYTES,
            crypto(i, std::mem::offset_of!(LegCrypto, srtp_in)),
            crypto(1 - i, std::mem::offset_of!(LegCrypto, srtp_out)),
        ]
    }

    /// Where a session starts inside an `Option<Session>` (measured: Rust does not promise a
    /// layout for enums), for [`Session::hot_ranges`].
    pub fn offset_in_option() -> usize {
        let any: SocketAddr = ([0, 0, 0, 0], 0).into();
        let addrs = LegAddrs {
            rtp: any,
            rtcp: None,
        };
        let probe = Some(Self::new(
            SessionId(0),
            [[None; 2]; 2],
            [addrs; 2],
            Instant::now(),
        ));
        let inner = probe.as_ref().map_or(0, |s| s as *const Self as usize);
        inner.saturating_sub(&probe as *const Option<Self> as usize)
    }

    /// Starts loading the state behind this session's pointers that a packet arriving on
    /// `route` will read (the session itself should already be in cache: see
    /// [`crate::engine::io::Lookahead`]).
    #[inline]
    pub fn prefetch(&self, route: Route) {
        let i = route.leg.index();
        self.crypto[i].prefetch(true);
        self.crypto[1 - i].prefetch(false);
        self.legs[i].prefetch();
        self.legs[1 - i].prefetch();
    }

    /// The per-packet path. `buf[..len]` is the datagram; `buf` extends to the buffer's end.
    #[inline]
    pub fn on_datagram(
        &mut self,
        route: Route,
        from: SocketAddr,
        buf: &mut [u8],
        len: usize,
        mut ctx: PacketCtx<'_>,
    ) -> Verdict {
        let (verdict, accepted) = match demux::classify(&buf[..len]) {
            Kind::RtpOrRtcp => self.relay(route, from, buf, len, &ctx),
            Kind::Stun => self.stun(route, from, buf, len, &mut ctx),
            Kind::Dtls => self.dtls(route, from, &buf[..len], &mut ctx),
            _ => (Err(DropReason::Unclassified), false),
        };
        if accepted {
            self.last_rx = ctx.now;
        }
        match verdict {
            Ok(v) => v,
            Err(why) => {
                ctx.counters.drop(why);
                Verdict::Done
            }
        }
    }

    fn relay(
        &mut self,
        route: Route,
        from: SocketAddr,
        buf: &mut [u8],
        len: usize,
        ctx: &PacketCtx<'_>,
    ) -> (Result<Verdict, DropReason>, bool) {
        let (inbound, outbound) = split(&mut self.legs, route.leg);
        let (crypto_in, crypto_out) = split(&mut self.crypto, route.leg);
        // RFC 5761 §4: on a muxed port the payload type tells RTCP apart; on a leg with a
        // separate RTCP port only that port carries RTCP (PTs 72-76 with the marker bit are
        // legal RTP there).
        let rtcp = route.rtcp_port || (inbound.rtcp_mux && demux::is_rtcp(&buf[..len]));
        let latched = match inbound.admit(from, rtcp) {
            Ok(l) => l,
            Err(why) => return (Err(why), false),
        };
        if !inbound.ready_in(crypto_in) {
            return (Err(DropReason::NotReady), false);
        }
        let len = match &mut crypto_in.srtp_in {
            None => len,
            Some(c) => {
                let r = if rtcp {
                    c.ctx.unprotect_rtcp(&mut buf[..len])
                } else {
                    c.ctx.unprotect_rtp(&mut buf[..len])
                };
                match r {
                    Ok(n) => n,
                    Err(e) => return (Err(srtp_drop(e)), false),
                }
            }
        };
        // Authenticated (or plain from the proven peer): the packet counts as life.
        if let Some(addr) = latched {
            let _ = ctx.events.try_send(Event::Latched {
                id: self.id,
                leg: route.leg,
                addr,
            });
        }
        self.packets += 1;
        if !rtcp && let Some(taken) = take_dtmf(inbound, &buf[..len]) {
            return (self.report_dtmf(route.leg, taken, ctx), true);
        }
        // RFC 3550 §6.4: plain RTCP here (SRTCP already unprotected); rare, a few per second,
        // so it reads the clock itself: the batch's `now` can be a tick old, too coarse for RTT.
        let i = route.leg.index();
        let sr = rtcp
            .then(|| {
                let now = Instant::now();
                self.quality[i]
                    .on_rtcp(&buf[..len], now)
                    .map(|sr| (sr, now))
            })
            .flatten();
        let verdict = forward(outbound, crypto_out, rtcp, buf, len, ctx);
        if let (Some((sr, at)), Ok(Verdict::Send { .. })) = (sr, &verdict) {
            self.quality[1 - i].on_sr_forwarded(sr, at);
        }
        (verdict, true)
    }

    /// Reports a completed telephone event to signaling; the packet itself goes nowhere.
    fn report_dtmf(
        &self,
        leg: LegId,
        taken: Result<Option<dtmf::Completed>, DropReason>,
        ctx: &PacketCtx<'_>,
    ) -> Result<Verdict, DropReason> {
        if let Some(done) = taken? {
            let ev = Event::Dtmf {
                id: self.id,
                leg,
                event: done.event,
                duration_ms: done.duration_ms,
                volume: done.volume,
            };
            ctx.events
                .try_send(ev)
                .map_err(|_| DropReason::SendFailed)?;
        }
        Ok(Verdict::Done)
    }

    fn stun(
        &mut self,
        route: Route,
        from: SocketAddr,
        buf: &mut [u8],
        len: usize,
        ctx: &mut PacketCtx<'_>,
    ) -> (Result<Verdict, DropReason>, bool) {
        let leg = &mut self.legs[route.leg.index()];
        let (Mode::Ice(ice), Some(sock)) = (&mut leg.mode, leg.socks[0]) else {
            return (Err(DropReason::Unclassified), false);
        };
        match ice.on_stun(from, buf, len, ctx.now) {
            StunOutcome::Reply { len, nominated } => {
                if let Some(addr) = nominated {
                    let _ = ctx.events.try_send(Event::Latched {
                        id: self.id,
                        leg: route.leg,
                        addr,
                    });
                }
                ctx.counters.stun_answered += 1;
                (
                    Ok(Verdict::Send {
                        via: sock,
                        to: from,
                        len,
                    }),
                    true,
                )
            }
            StunOutcome::Drop(why) => (Err(why), false),
        }
    }

    fn dtls(
        &mut self,
        route: Route,
        from: SocketAddr,
        datagram: &[u8],
        ctx: &mut PacketCtx<'_>,
    ) -> (Result<Verdict, DropReason>, bool) {
        let Mode::Ice(ice) = &self.legs[route.leg.index()].mode else {
            return (Err(DropReason::Unclassified), false);
        };
        if !ice.is_verified(from) {
            return (Err(DropReason::Unlatched), false);
        }
        let ev = Event::Dtls {
            id: self.id,
            leg: route.leg,
            from,
            payload: datagram.to_vec(),
        };
        if ctx.events.try_send(ev).is_err() {
            return (Err(DropReason::SendFailed), false);
        }
        ctx.counters.dtls_up += 1;
        (Ok(Verdict::Done), true)
    }
}

/// A telephone-event packet on a leg that takes them: `Some(Ok(Some))` completes an event,
/// `Some(Ok(None))` is consumed silently, `Some(Err)` is malformed; `None`: relay as usual.
#[inline]
fn take_dtmf(leg: &mut Leg, packet: &[u8]) -> Option<Result<Option<dtmf::Completed>, DropReason>> {
    // Byte 1 holds the marker and the payload type; a packet too short for a header is left
    // to the relay path, which drops it as malformed.
    let pt = packet.get(1)? & 0x7f;
    if !leg.dtmf.takes(pt) {
        return None;
    }
    let Ok(rtp) = rtp::Packet::new_checked(packet) else {
        return Some(Err(DropReason::Malformed));
    };
    Some(leg.dtmf.on_packet(rtp.timestamp(), rtp.payload()))
}

/// Both legs' parts, inbound first.
fn split<T>(legs: &mut [T; 2], inbound: LegId) -> (&mut T, &mut T) {
    let [a, b] = legs;
    match inbound {
        LegId::A => (a, b),
        LegId::B => (b, a),
    }
}

/// Rewrites, protects and addresses a packet leaving on `out`.
#[inline]
fn forward(
    out: &mut Leg,
    crypto: &mut LegCrypto,
    rtcp: bool,
    buf: &mut [u8],
    len: usize,
    ctx: &PacketCtx<'_>,
) -> Result<Verdict, DropReason> {
    let (via, to) = out
        .egress(rtcp, ctx.now, ctx.consent_timeout)
        .ok_or(DropReason::NotReady)?;
    if !out.ready_out(crypto) {
        return Err(DropReason::NotReady);
    }
    if rtcp {
        out.rewrite.rtcp(&mut buf[..len]);
    } else {
        out.rewrite.rtp(&mut buf[..len])?;
    }
    let len = match &mut crypto.srtp_out {
        None => len,
        Some(c) => {
            let r = if rtcp {
                c.ctx.protect_rtcp(buf, len)
            } else {
                c.ctx.protect_rtp(buf, len)
            };
            r.map_err(srtp_drop)?
        }
    };
    Ok(Verdict::Send { via, to, len })
}

#[cfg(test)]
mod layout_tests {
    use super::*;

    #[test]
    fn prefetch_ranges_lie_inside_the_session() {
        let size = std::mem::size_of::<Session>();
        for leg in [LegId::A, LegId::B] {
            for r in Session::hot_ranges(leg) {
                assert!(r.start < r.end && r.end <= size, "{r:?} in {size}");
            }
        }
        const { assert!(Session::HOT_BYTES <= 6 * 64, "the hot part grew") };
        let off = Session::offset_in_option();
        assert!(
            off + size <= std::mem::size_of::<Option<Session>>(),
            "offset {off}"
        );
    }

    #[test]
    fn srtp_context_hot_part_comes_first() {
        let [head, cipher] = srtp::Context::HOT;
        assert_eq!(head.start, 0);
        assert_eq!(head.end, cipher.start);
        assert!(cipher.end <= std::mem::size_of::<srtp::Context>());
        // Key schedule and GHASH table inline, SRTCP state behind a pointer.
        assert!(cipher.end < 1024, "{cipher:?}");
    }
}
