//! Control-channel messages: what signaling asks of the engine and what the engine reports.
//!
//! A session has two legs, `A` and `B`. A leg is either ICE-lite (a browser: one port, rtcp-mux,
//! STUN answered by the engine, DTLS handed to signaling) or addressed (a SIP peer: RTP to the
//! address from SDP, RTCP to port+1 or muxed). Each leg has optional SRTP keys per direction, so
//! one model covers SRTP<->RTP, SRTP<->SRTP and RTP<->RTP.
//!
//! Frames: `u32 length | u16 type | u32 request id | body`, big-endian. Requests carry a non-zero
//! id that the reply echoes; events from the engine carry id 0.

use std::fmt;
use std::net::SocketAddr;

use zeroize::Zeroizing;

use super::codec::{DecodeError, Reader, Writer};

/// The protocol version this build speaks; `Hello` carries it and both sides must agree.
/// Version 2: [`SessionInfo`] carries a [`LegQuality`] per leg.
/// Version 3: [`LegSpec::dtmf_events`] and the [`Message::Dtmf`] event.
pub const PROTOCOL_VERSION: u16 = 3;
/// Largest frame either side sends or accepts (a session list of 100,000 entries fits).
pub const MAX_FRAME: u32 = 32 << 20;
/// Most bytes of key or salt in a key (AES-256 key is 32).
const MAX_KEY: usize = 64;
/// Most entries in a payload-type or SSRC map.
const MAX_MAP: usize = 128;
/// Most sessions in one list reply.
const MAX_LIST: usize = 200_000;

/// Engine-wide session identifier, handed out by `Allocate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(pub u64);

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Which leg of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegId {
    /// The first leg (by convention the browser side).
    A,
    /// The second leg (by convention the SIP side).
    B,
}

impl LegId {
    /// The other leg.
    pub fn other(self) -> Self {
        match self {
            Self::A => Self::B,
            Self::B => Self::A,
        }
    }

    /// 0 for A, 1 for B.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Address family of a session's ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

/// Secret bytes: zeroized on drop, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    /// Wraps key material.
    pub fn new(bytes: &[u8]) -> Self {
        Self(Zeroizing::new(bytes.to_vec()))
    }

    /// The secret bytes.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret([REDACTED; {}])", self.0.len())
    }
}

/// SRTP master key and salt for one direction of one leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtpKey {
    /// RFC 5764 §4.1.2 protection profile id (1, 2, 7 or 8).
    pub profile: u16,
    /// Master key.
    pub key: Secret,
    /// Master salt.
    pub salt: Secret,
}

/// ICE-lite credentials (RFC 8445 §7.2.2): a check's USERNAME is `local_ufrag:remote_ufrag` and
/// its MESSAGE-INTEGRITY is keyed with `local_pwd`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IceCredentials {
    /// Our ufrag (from our SDP).
    pub local_ufrag: String,
    /// Our password (from our SDP).
    pub local_pwd: Secret,
    /// The browser's ufrag (from its SDP).
    pub remote_ufrag: String,
}

/// How an addressed leg learns where to send (the RTP Bleed defence, CVE-2025-53399).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatchPolicy {
    /// Send only to the SDP address; accept media only from it. Safest.
    Strict,
    /// Accept media from the SDP host on any port and move the send port to the first source
    /// seen there, once (a PBX behind a port-translating NAT); another host never latches.
    SameHost,
}

/// How one leg reaches its peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegKind {
    /// A browser: STUN answered with these credentials; media goes to the address that sent a
    /// valid check with USE-CANDIDATE.
    Ice(IceCredentials),
    /// A SIP peer at the SDP address.
    Addressed {
        /// RTP destination from SDP (`None` until the SDP arrives).
        rtp: Option<SocketAddr>,
        /// RTCP destination (RFC 3605 `a=rtcp`, else RTP port + 1); ignored when muxed.
        rtcp: Option<SocketAddr>,
        /// How the send address may move.
        latch: LatchPolicy,
    },
}

/// Per-direction rewriting applied to packets sent out of a leg.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rewrite {
    /// Payload type mapping `(from, to)`.
    pub pt: Vec<(u8, u8)>,
    /// SSRC mapping `(from, to)`.
    pub ssrc: Vec<(u32, u32)>,
}

/// Everything the engine needs to relay one leg.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegSpec {
    /// ICE-lite or addressed.
    pub kind: LegKind,
    /// RTCP shares the RTP port (RFC 5761).
    pub rtcp_mux: bool,
    /// Key to unprotect what arrives on this leg (`None`: plain RTP arrives).
    pub srtp_in: Option<SrtpKey>,
    /// Key to protect what leaves on this leg (`None`: plain RTP leaves).
    pub srtp_out: Option<SrtpKey>,
    /// Rewrites applied to packets leaving on this leg.
    pub rewrite_out: Rewrite,
    /// RFC 4733 telephone-event payload type (8000 Hz clock) arriving on this leg: when set,
    /// those packets are not forwarded; each completed event is reported as [`Message::Dtmf`].
    pub dtmf_events: Option<u8>,
}

/// Port request for one leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocLeg {
    /// One port (RTP and RTCP muxed) or an even/odd pair.
    pub rtcp_mux: bool,
}

/// Local addresses of one allocated leg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegAddrs {
    /// RTP (and muxed RTCP) port.
    pub rtp: SocketAddr,
    /// RTCP port when not muxed.
    pub rtcp: Option<SocketAddr>,
}

/// One session as listed to a (re)connecting signaling process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// Session id.
    pub session: SessionId,
    /// Shard that owns it.
    pub shard: u16,
    /// Local addresses of both legs.
    pub legs: [LegAddrs; 2],
    /// Where each leg currently sends, if it knows.
    pub peers: [Option<SocketAddr>; 2],
    /// Packets forwarded in total.
    pub packets: u64,
    /// Milliseconds since the last packet on either leg.
    pub idle_ms: u64,
    /// Media quality per leg, from the RTCP reports its peer sent; `None` before the first.
    pub quality: [Option<LegQuality>; 2],
}

/// Media quality of one leg as its peer reports it in RTCP receiver report blocks (RFC 3550
/// §6.4.1): how the media Ferry sends on that leg arrives, and the round trip to that peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LegQuality {
    /// Fraction lost in the latest report block, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed on the wire; duplicates can make it negative).
    pub cumulative_lost: i32,
    /// Interarrival jitter, in microseconds.
    pub jitter_us: u32,
    /// Round-trip time between Ferry and the peer, in microseconds, once a report echoed an SR
    /// that Ferry forwarded to it.
    pub rtt_us: Option<u32>,
    /// Report blocks taken in.
    pub reports: u32,
    /// Milliseconds since the latest report block.
    pub last_report_ms_ago: u64,
}

/// A named counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    /// Name, e.g. `packets_in` or `drop_auth`.
    pub name: String,
    /// Value.
    pub value: u64,
}

/// Why the engine ended a session on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// No packets for longer than the idle timeout.
    Idle,
    /// ICE consent expired (RFC 7675) and nothing else arrived.
    ConsentExpired,
}

/// A control-channel message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// First message each way: version and limits; a mismatch closes the channel.
    Hello {
        /// [`PROTOCOL_VERSION`].
        version: u16,
        /// Largest frame the sender accepts.
        max_frame: u32,
        /// Encoded size of each fixed-size message, as an ABI check (type, size).
        sizes: Vec<(u16, u16)>,
    },
    /// Allocate ports for a new session.
    Allocate {
        /// Address family.
        family: Family,
        /// Port needs of legs A and B.
        legs: [AllocLeg; 2],
    },
    /// Reply to `Allocate`.
    Allocated {
        /// New session id.
        session: SessionId,
        /// Owning shard.
        shard: u16,
        /// Local addresses of legs A and B.
        legs: [LegAddrs; 2],
    },
    /// Install or replace the relay spec of an allocated session (keys may arrive later).
    Install {
        /// Session.
        session: SessionId,
        /// Legs A and B.
        legs: Box<[LegSpec; 2]>,
    },
    /// Remove a session and free its ports.
    Remove {
        /// Session.
        session: SessionId,
    },
    /// Send a DTLS datagram out of a leg's port.
    DtlsSend {
        /// Session.
        session: SessionId,
        /// Leg.
        leg: LegId,
        /// Destination: an address that has passed an ICE check on that leg.
        to: SocketAddr,
        /// The datagram.
        payload: Vec<u8>,
    },
    /// Ask for every session.
    List,
    /// Reply to `List`.
    Sessions(Vec<SessionInfo>),
    /// Ask for counters and the latency histogram.
    StatsQuery,
    /// Reply to `StatsQuery`.
    Stats {
        /// Counters per shard.
        shards: Vec<Vec<Counter>>,
        /// Merged latency histogram (nanoseconds), HdrHistogram V2 serialization.
        histogram: Vec<u8>,
    },
    /// Success with nothing to say.
    Ok,
    /// Failure, with a reason for the log.
    Error {
        /// Machine-readable code.
        code: ErrorCode,
        /// Human-readable reason.
        reason: String,
    },
    /// Event: a DTLS datagram arrived on a leg.
    DtlsReceived {
        /// Session.
        session: SessionId,
        /// Leg.
        leg: LegId,
        /// Source address.
        from: SocketAddr,
        /// The datagram.
        payload: Vec<u8>,
    },
    /// Event: an ICE leg latched (or moved) to an address.
    Latched {
        /// Session.
        session: SessionId,
        /// Leg.
        leg: LegId,
        /// New peer address.
        addr: SocketAddr,
    },
    /// Event: the engine ended a session on its own.
    Ended {
        /// Session.
        session: SessionId,
        /// Why.
        reason: EndReason,
    },
    /// Event: an RFC 4733 event ended on a leg with [`LegSpec::dtmf_events`] (reported once,
    /// however many end packets carried it).
    Dtmf {
        /// Session.
        session: SessionId,
        /// Leg it arrived on.
        leg: LegId,
        /// RFC 4733 §3.2 event code (0-9, 10 `*`, 11 `#`, 12-15 A-D).
        event: u8,
        /// Duration in milliseconds.
        duration_ms: u32,
        /// Volume, in -dBm0 (0-63).
        volume: u8,
    },
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The session does not exist.
    NoSuchSession,
    /// No ports left in the configured range.
    NoPorts,
    /// The request was malformed or inconsistent (bad key length, unknown profile...).
    BadRequest,
    /// The engine is shutting down or a shard did not answer.
    Unavailable,
}

macro_rules! code_enum {
    ($ty:ty, $what:literal, $($v:path = $n:literal),+ $(,)?) => {
        impl $ty {
            fn code(self) -> u8 {
                match self { $($v => $n),+ }
            }
            fn from_code(c: u8) -> Result<Self, DecodeError> {
                match c { $($n => Ok($v),)+ _ => Err(DecodeError::Invalid($what)) }
            }
        }
    };
}

code_enum!(LegId, "leg", LegId::A = 0, LegId::B = 1);
code_enum!(Family, "family", Family::V4 = 4, Family::V6 = 6);
code_enum!(
    LatchPolicy,
    "latch policy",
    LatchPolicy::Strict = 0,
    LatchPolicy::SameHost = 1
);
code_enum!(
    EndReason,
    "end reason",
    EndReason::Idle = 0,
    EndReason::ConsentExpired = 1
);
code_enum!(
    ErrorCode,
    "error code",
    ErrorCode::NoSuchSession = 1,
    ErrorCode::NoPorts = 2,
    ErrorCode::BadRequest = 3,
    ErrorCode::Unavailable = 4,
);

/// Message type numbers on the wire.
mod ty {
    pub const HELLO: u16 = 0x0001;
    pub const ALLOCATE: u16 = 0x0010;
    pub const ALLOCATED: u16 = 0x0011;
    pub const INSTALL: u16 = 0x0012;
    pub const REMOVE: u16 = 0x0013;
    pub const DTLS_SEND: u16 = 0x0014;
    pub const LIST: u16 = 0x0020;
    pub const SESSIONS: u16 = 0x0021;
    pub const STATS_QUERY: u16 = 0x0022;
    pub const STATS: u16 = 0x0023;
    pub const OK: u16 = 0x0030;
    pub const ERROR: u16 = 0x0031;
    pub const DTLS_RECEIVED: u16 = 0x0040;
    pub const LATCHED: u16 = 0x0041;
    pub const ENDED: u16 = 0x0042;
    pub const DTMF: u16 = 0x0043;
}

impl Message {
    /// The wire type number.
    pub fn type_id(&self) -> u16 {
        match self {
            Self::Hello { .. } => ty::HELLO,
            Self::Allocate { .. } => ty::ALLOCATE,
            Self::Allocated { .. } => ty::ALLOCATED,
            Self::Install { .. } => ty::INSTALL,
            Self::Remove { .. } => ty::REMOVE,
            Self::DtlsSend { .. } => ty::DTLS_SEND,
            Self::List => ty::LIST,
            Self::Sessions(_) => ty::SESSIONS,
            Self::StatsQuery => ty::STATS_QUERY,
            Self::Stats { .. } => ty::STATS,
            Self::Ok => ty::OK,
            Self::Error { .. } => ty::ERROR,
            Self::DtlsReceived { .. } => ty::DTLS_RECEIVED,
            Self::Latched { .. } => ty::LATCHED,
            Self::Ended { .. } => ty::ENDED,
            Self::Dtmf { .. } => ty::DTMF,
        }
    }

    /// The `Hello` this build sends: version, limits, and the encoded size of each fixed-size
    /// message so that two builds with the same version but different layouts refuse each other.
    pub fn hello() -> Self {
        Self::Hello {
            version: PROTOCOL_VERSION,
            max_frame: MAX_FRAME,
            sizes: fixed_sizes(),
        }
    }

    /// Encodes the body (without the frame header).
    pub fn encode_body(&self, w: &mut Writer) {
        match self {
            Self::Hello {
                version,
                max_frame,
                sizes,
            } => {
                w.u16(*version);
                w.u32(*max_frame);
                w.list(sizes, |w, (t, s)| {
                    w.u16(*t);
                    w.u16(*s);
                });
            }
            Self::Allocate { family, legs } => {
                w.u8(family.code());
                legs.iter().for_each(|l| w.bool(l.rtcp_mux));
            }
            Self::Allocated {
                session,
                shard,
                legs,
            } => {
                w.u64(session.0);
                w.u16(*shard);
                legs.iter().for_each(|l| put_leg_addrs(w, l));
            }
            Self::Install { session, legs } => {
                w.u64(session.0);
                legs.iter().for_each(|l| put_leg_spec(w, l));
            }
            Self::Remove { session } => w.u64(session.0),
            Self::DtlsSend {
                session,
                leg,
                to,
                payload,
            }
            | Self::DtlsReceived {
                session,
                leg,
                from: to,
                payload,
            } => {
                w.u64(session.0);
                w.u8(leg.code());
                w.addr(*to);
                w.bytes16(payload);
            }
            Self::List | Self::StatsQuery | Self::Ok => {}
            Self::Sessions(list) => put_sessions(w, list),
            Self::Stats { shards, histogram } => {
                w.list(shards, |w, counters| {
                    w.list(counters, |w, c| {
                        w.str16(&c.name);
                        w.u64(c.value);
                    })
                });
                w.u32(histogram.len() as u32);
                w.raw(histogram);
            }
            Self::Error { code, reason } => {
                w.u8(code.code());
                w.str16(reason);
            }
            Self::Latched { session, leg, addr } => {
                w.u64(session.0);
                w.u8(leg.code());
                w.addr(*addr);
            }
            Self::Ended { session, reason } => {
                w.u64(session.0);
                w.u8(reason.code());
            }
            Self::Dtmf {
                session,
                leg,
                event,
                duration_ms,
                volume,
            } => {
                w.u64(session.0);
                w.u8(leg.code());
                w.u8(*event);
                w.u32(*duration_ms);
                w.u8(*volume);
            }
        }
    }

    /// Decodes a body of the given type; every byte must be used.
    pub fn decode_body(type_id: u16, body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let msg = match type_id {
            ty::HELLO => Self::Hello {
                version: r.u16("version")?,
                max_frame: r.u32("max frame")?,
                sizes: r.list("sizes", 64, |r| Ok((r.u16("type")?, r.u16("size")?)))?,
            },
            ty::ALLOCATE => Self::Allocate {
                family: Family::from_code(r.u8("family")?)?,
                legs: [
                    AllocLeg {
                        rtcp_mux: r.bool("rtcp mux")?,
                    },
                    AllocLeg {
                        rtcp_mux: r.bool("rtcp mux")?,
                    },
                ],
            },
            ty::ALLOCATED => Self::Allocated {
                session: SessionId(r.u64("session")?),
                shard: r.u16("shard")?,
                legs: [get_leg_addrs(&mut r)?, get_leg_addrs(&mut r)?],
            },
            ty::INSTALL => Self::Install {
                session: SessionId(r.u64("session")?),
                legs: Box::new([get_leg_spec(&mut r)?, get_leg_spec(&mut r)?]),
            },
            ty::REMOVE => Self::Remove {
                session: SessionId(r.u64("session")?),
            },
            ty::DTLS_SEND | ty::DTLS_RECEIVED => {
                let session = SessionId(r.u64("session")?);
                let leg = LegId::from_code(r.u8("leg")?)?;
                let addr = r.addr("address")?;
                let payload = r.bytes16("payload")?.to_vec();
                if type_id == ty::DTLS_SEND {
                    Self::DtlsSend {
                        session,
                        leg,
                        to: addr,
                        payload,
                    }
                } else {
                    Self::DtlsReceived {
                        session,
                        leg,
                        from: addr,
                        payload,
                    }
                }
            }
            ty::LIST => Self::List,
            ty::STATS_QUERY => Self::StatsQuery,
            ty::OK => Self::Ok,
            ty::SESSIONS => Self::Sessions(get_sessions(&mut r)?),
            ty::STATS => Self::Stats {
                shards: r.list("shards", 1024, |r| {
                    r.list("counters", 1024, |r| {
                        Ok(Counter {
                            name: r.str16("counter name")?.to_owned(),
                            value: r.u64("counter")?,
                        })
                    })
                })?,
                histogram: {
                    let n = r.u32("histogram length")? as usize;
                    r.take(n, "histogram")?.to_vec()
                },
            },
            ty::ERROR => Self::Error {
                code: ErrorCode::from_code(r.u8("error code")?)?,
                reason: r.str16("reason")?.to_owned(),
            },
            ty::LATCHED => Self::Latched {
                session: SessionId(r.u64("session")?),
                leg: LegId::from_code(r.u8("leg")?)?,
                addr: r.addr("address")?,
            },
            ty::ENDED => Self::Ended {
                session: SessionId(r.u64("session")?),
                reason: EndReason::from_code(r.u8("end reason")?)?,
            },
            ty::DTMF => Self::Dtmf {
                session: SessionId(r.u64("session")?),
                leg: LegId::from_code(r.u8("leg")?)?,
                event: r.u8("dtmf event")?,
                duration_ms: r.u32("dtmf duration")?,
                volume: r.u8("dtmf volume")?,
            },
            other => return Err(DecodeError::UnknownType(other)),
        };
        r.expect_empty()?;
        Ok(msg)
    }
}

/// Encoded body sizes of the messages whose size does not depend on their content.
fn fixed_sizes() -> Vec<(u16, u16)> {
    let v4: SocketAddr = ([0, 0, 0, 0], 0).into();
    let samples = [
        Message::Allocate {
            family: Family::V4,
            legs: [AllocLeg { rtcp_mux: true }; 2],
        },
        Message::Remove {
            session: SessionId(0),
        },
        Message::Latched {
            session: SessionId(0),
            leg: LegId::A,
            addr: v4,
        },
        Message::Ended {
            session: SessionId(0),
            reason: EndReason::Idle,
        },
        Message::Dtmf {
            session: SessionId(0),
            leg: LegId::A,
            event: 0,
            duration_ms: 0,
            volume: 0,
        },
        Message::Ok,
    ];
    samples
        .iter()
        .map(|m| {
            let mut w = Writer::new();
            m.encode_body(&mut w);
            (m.type_id(), w.into_inner().len() as u16)
        })
        .collect()
}

/// Checks a peer's `Hello` against ours; `Err` says why the channel must close.
pub fn check_hello(msg: &Message) -> Result<(), String> {
    let Message::Hello { version, sizes, .. } = msg else {
        return Err(format!(
            "expected Hello, got message type {:#06x}",
            msg.type_id()
        ));
    };
    if *version != PROTOCOL_VERSION {
        return Err(format!(
            "protocol version {version}, this build speaks {PROTOCOL_VERSION}"
        ));
    }
    if *sizes != fixed_sizes() {
        return Err("message layouts differ (same version, different build)".into());
    }
    Ok(())
}

fn put_leg_addrs(w: &mut Writer, l: &LegAddrs) {
    w.addr(l.rtp);
    w.opt(l.rtcp.as_ref(), |w, a| w.addr(*a));
}

fn get_leg_addrs(r: &mut Reader<'_>) -> Result<LegAddrs, DecodeError> {
    Ok(LegAddrs {
        rtp: r.addr("rtp address")?,
        rtcp: r.opt("rtcp address", |r| r.addr("rtcp address"))?,
    })
}

fn put_key(w: &mut Writer, k: &SrtpKey) {
    w.u16(k.profile);
    w.bytes16(k.key.expose());
    w.bytes16(k.salt.expose());
}

fn get_key(r: &mut Reader<'_>) -> Result<SrtpKey, DecodeError> {
    let profile = r.u16("srtp profile")?;
    let key = r.bytes16("srtp key")?;
    let salt = r.bytes16("srtp salt")?;
    if key.len() > MAX_KEY || salt.len() > MAX_KEY {
        return Err(DecodeError::Invalid("srtp key length"));
    }
    Ok(SrtpKey {
        profile,
        key: Secret::new(key),
        salt: Secret::new(salt),
    })
}

fn put_leg_spec(w: &mut Writer, l: &LegSpec) {
    match &l.kind {
        LegKind::Ice(c) => {
            w.u8(0);
            w.str16(&c.local_ufrag);
            w.bytes16(c.local_pwd.expose());
            w.str16(&c.remote_ufrag);
        }
        LegKind::Addressed { rtp, rtcp, latch } => {
            w.u8(1);
            w.opt(rtp.as_ref(), |w, a| w.addr(*a));
            w.opt(rtcp.as_ref(), |w, a| w.addr(*a));
            w.u8(latch.code());
        }
    }
    w.bool(l.rtcp_mux);
    w.opt(l.srtp_in.as_ref(), put_key);
    w.opt(l.srtp_out.as_ref(), put_key);
    w.list(&l.rewrite_out.pt, |w, (a, b)| {
        w.u8(*a);
        w.u8(*b);
    });
    w.list(&l.rewrite_out.ssrc, |w, (a, b)| {
        w.u32(*a);
        w.u32(*b);
    });
    w.opt(l.dtmf_events.as_ref(), |w, pt| w.u8(*pt));
}

fn get_leg_spec(r: &mut Reader<'_>) -> Result<LegSpec, DecodeError> {
    let kind = match r.u8("leg kind")? {
        0 => LegKind::Ice(IceCredentials {
            local_ufrag: r.str16("local ufrag")?.to_owned(),
            local_pwd: Secret::new(r.bytes16("local pwd")?),
            remote_ufrag: r.str16("remote ufrag")?.to_owned(),
        }),
        1 => LegKind::Addressed {
            rtp: r.opt("rtp peer", |r| r.addr("rtp peer"))?,
            rtcp: r.opt("rtcp peer", |r| r.addr("rtcp peer"))?,
            latch: LatchPolicy::from_code(r.u8("latch policy")?)?,
        },
        _ => return Err(DecodeError::Invalid("leg kind")),
    };
    Ok(LegSpec {
        kind,
        rtcp_mux: r.bool("rtcp mux")?,
        srtp_in: r.opt("srtp in", get_key)?,
        srtp_out: r.opt("srtp out", get_key)?,
        rewrite_out: Rewrite {
            pt: r.list("pt map", MAX_MAP, |r| Ok((r.u8("pt")?, r.u8("pt")?)))?,
            ssrc: r.list("ssrc map", MAX_MAP, |r| {
                Ok((r.u32("ssrc")?, r.u32("ssrc")?))
            })?,
        },
        dtmf_events: r.opt("dtmf events", |r| r.u8("dtmf pt"))?,
    })
}

fn put_sessions(w: &mut Writer, list: &[SessionInfo]) {
    // u32 count: an engine may hold more than 65,535 sessions.
    w.u32(list.len() as u32);
    for s in list {
        w.u64(s.session.0);
        w.u16(s.shard);
        s.legs.iter().for_each(|l| put_leg_addrs(w, l));
        s.peers
            .iter()
            .for_each(|p| w.opt(p.as_ref(), |w, a| w.addr(*a)));
        w.u64(s.packets);
        w.u64(s.idle_ms);
        s.quality
            .iter()
            .for_each(|q| w.opt(q.as_ref(), put_quality));
    }
}

fn put_quality(w: &mut Writer, q: &LegQuality) {
    w.u8(q.fraction_lost);
    w.u32(q.cumulative_lost as u32);
    w.u32(q.jitter_us);
    w.opt(q.rtt_us.as_ref(), |w, v| w.u32(*v));
    w.u32(q.reports);
    w.u64(q.last_report_ms_ago);
}

fn get_quality(r: &mut Reader<'_>) -> Result<LegQuality, DecodeError> {
    Ok(LegQuality {
        fraction_lost: r.u8("fraction lost")?,
        cumulative_lost: r.u32("cumulative lost")? as i32,
        jitter_us: r.u32("jitter")?,
        rtt_us: r.opt("rtt", |r| r.u32("rtt"))?,
        reports: r.u32("reports")?,
        last_report_ms_ago: r.u64("last report")?,
    })
}

fn get_sessions(r: &mut Reader<'_>) -> Result<Vec<SessionInfo>, DecodeError> {
    let n = r.u32("session count")? as usize;
    if n > MAX_LIST {
        return Err(DecodeError::Invalid("session count"));
    }
    (0..n)
        .map(|_| {
            Ok(SessionInfo {
                session: SessionId(r.u64("session")?),
                shard: r.u16("shard")?,
                legs: [get_leg_addrs(r)?, get_leg_addrs(r)?],
                peers: [
                    r.opt("peer", |r| r.addr("peer"))?,
                    r.opt("peer", |r| r.addr("peer"))?,
                ],
                packets: r.u64("packets")?,
                idle_ms: r.u64("idle")?,
                quality: [
                    r.opt("quality", get_quality)?,
                    r.opt("quality", get_quality)?,
                ],
            })
        })
        .collect()
}
