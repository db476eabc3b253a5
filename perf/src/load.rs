//! The load generator: N sessions through a running engine, SRTP on the browser side, plain RTP
//! on the SIP side, measured both ways.
//!
//! Each session is installed as leg A = an addressed SRTP peer (this tool's A socket) and leg B
//! = an addressed plain-RTP peer (this tool's B socket), so the engine does SRTP->RTP on A->B and
//! RTP->SRTP on B->A. Packets carry their scheduled send time in an RFC 8285 one-byte header
//! extension (authenticated, not encrypted, forwarded untouched), so one-way latency is measured
//! from when a packet *should* have left, not when it did (no coordinated omission). Payloads are
//! checked byte for byte on arrival.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use ferry::control::{
    AllocLeg, Client, Family, LatchPolicy, LegKind, LegSpec, Message, Rewrite, Secret, SessionId,
    SrtpKey,
};
use ferry::srtp;
use hdrhistogram::Histogram;
use rand::Rng;
use serde::Serialize;

/// Header extension element id carrying the send time (8 bytes, ns since the run's start).
const TS_EXT_ID: u8 = 1;
/// RTP header (12) + one-byte extension header (4) + element (1 + 8) + padding (3).
const HEADER: usize = 28;
/// Payload type sent (PCMA, as in the sip-tester capture).
const PT: u8 = 8;

/// What to send.
#[derive(Debug, Clone)]
pub enum Source {
    /// Synthetic packets of this total RTP size (header included).
    Synthetic(usize),
    /// RTP payloads taken from a capture, replayed in order, looping.
    Pcap(Vec<Vec<u8>>),
}

impl Source {
    /// Reads every RTP payload from a pcap or pcapng file.
    pub fn from_pcap(path: &Path) -> io::Result<Self> {
        let payloads = crate::pcap::rtp_payloads(path)?;
        if payloads.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: no RTP packets", path.display()),
            ));
        }
        Ok(Self::Pcap(payloads))
    }

    /// The payload of packet `n` of a session.
    pub(crate) fn payload(&self, session: u32, n: u64, out: &mut [u8]) -> usize {
        match self {
            Self::Synthetic(size) => {
                let len = size.saturating_sub(HEADER).min(out.len());
                // A pattern that differs per session and packet, so misrouting shows.
                let seed = (u64::from(session) << 32) ^ n;
                out[..len]
                    .iter_mut()
                    .enumerate()
                    .for_each(|(i, b)| *b = (seed.rotate_left(i as u32 % 64) as u8) ^ i as u8);
                len
            }
            Self::Pcap(list) => {
                let p = &list[(n % list.len() as u64) as usize];
                let len = p.len().min(out.len());
                out[..len].copy_from_slice(&p[..len]);
                len
            }
        }
    }
}

/// Load parameters.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// Engine control socket.
    pub socket: std::path::PathBuf,
    /// Concurrent sessions.
    pub sessions: u32,
    /// Packets per second per direction per session; 0 = as fast as possible.
    pub rate: u32,
    /// How long to send.
    pub duration: Duration,
    /// What to send.
    pub source: Source,
    /// SRTP profile on the A side.
    pub profile: srtp::Profile,
    /// Local address the tool's sockets bind to.
    pub bind: std::net::IpAddr,
    /// Draw a progress line on stderr.
    pub progress: bool,
    /// Directions to send: [A->B (SRTP->RTP), B->A (RTP->SRTP)].
    pub directions: [bool; 2],
    /// The engine's PID, to measure its shard threads' CPU per relayed packet.
    pub engine_pid: Option<u32>,
}

/// Results for one direction.
#[derive(Debug, Clone, Serialize)]
pub struct DirectionReport {
    /// Packets sent.
    pub sent: u64,
    /// Packets received intact.
    pub received: u64,
    /// Lost, in percent of sent.
    pub loss_pct: f64,
    /// Packets that arrived after a later one of the same session.
    pub reordered: u64,
    /// Packets that arrived but failed SRTP or payload checks.
    pub corrupt: u64,
    /// Mean RFC 3550 interarrival jitter over sessions, microseconds.
    pub jitter_us: f64,
    /// One-way latency percentiles from scheduled send time, microseconds.
    pub latency_us: Percentiles,
}

/// Latency percentiles in microseconds.
#[derive(Debug, Clone, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th.
    pub p90: f64,
    /// 99th.
    pub p99: f64,
    /// 99.9th.
    pub p999: f64,
    /// Maximum.
    pub max: f64,
}

/// The JSON summary.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Sessions.
    pub sessions: u32,
    /// Seconds of sending.
    pub seconds: f64,
    /// Offered packets per second, both directions.
    pub offered_pps: f64,
    /// Delivered packets per second, both directions.
    pub delivered_pps: f64,
    /// SRTP -> RTP (browser to SIP).
    pub a_to_b: DirectionReport,
    /// RTP -> SRTP (SIP to browser).
    pub b_to_a: DirectionReport,
    /// Engine shard CPU per relayed packet during the send window, when `engine_pid` is given.
    pub engine_cpu_ns_per_packet: Option<f64>,
}

/// Per-session, per-direction receive state.
#[derive(Debug, Clone, Default)]
struct RxState {
    received: u64,
    highest: Option<u64>,
    reordered: u64,
    jitter: f64,
    last_transit: Option<i64>,
}

/// One side's receiver results.
#[derive(Debug)]
struct RxResult {
    per_session: Vec<RxState>,
    corrupt: u64,
    hist: Histogram<u64>,
}

pub(crate) struct Session {
    pub(crate) id: SessionId,
    pub(crate) a_port: SocketAddr,
    b_port: SocketAddr,
    /// Protects what we send to leg A (the engine's leg-A inbound key).
    pub(crate) a_tx: srtp::Context,
}

fn key(profile: srtp::Profile, rng: &mut impl Rng) -> SrtpKey {
    let mut k = vec![0u8; profile.key_len()];
    let mut s = vec![0u8; profile.salt_len()];
    rng.fill(&mut k[..]);
    rng.fill(&mut s[..]);
    SrtpKey {
        profile: profile.id(),
        key: Secret::new(&k),
        salt: Secret::new(&s),
    }
}

fn context(k: &SrtpKey) -> io::Result<srtp::Context> {
    let profile = srtp::Profile::from_id(k.profile).ok_or_else(|| io::Error::other("profile"))?;
    let master =
        srtp::MasterKey::new(profile, k.key.expose(), k.salt.expose()).map_err(io::Error::other)?;
    srtp::Context::new(profile, &master, &srtp::Config::default()).map_err(io::Error::other)
}

/// Sets up sessions, runs the load, removes the sessions and reports.
pub fn run(cfg: &LoadConfig) -> io::Result<Report> {
    let mut client = Client::connect(&cfg.socket)?;
    let sock_a = UdpSocket::bind(SocketAddr::new(cfg.bind, 0))?;
    let sock_b = UdpSocket::bind(SocketAddr::new(cfg.bind, 0))?;
    for s in [&sock_a, &sock_b] {
        socket2::SockRef::from(s).set_recv_buffer_size(8 << 20)?;
        socket2::SockRef::from(s).set_send_buffer_size(8 << 20)?;
        s.set_read_timeout(Some(Duration::from_millis(100)))?;
    }
    let (a_addr, b_addr) = (sock_a.local_addr()?, sock_b.local_addr()?);
    let mut rng = rand::thread_rng();
    let mut sessions = Vec::with_capacity(cfg.sessions as usize);
    let mut a_rx = Vec::with_capacity(cfg.sessions as usize);
    for _ in 0..cfg.sessions {
        let (s, rx) = setup_session(&mut client, cfg.profile, a_addr, b_addr, &mut rng)?;
        sessions.push(s);
        a_rx.push(rx);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let sent = [Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0))];
    let n = cfg.sessions as usize;
    let rx_b = spawn_receiver(
        sock_b.try_clone()?,
        n,
        None,
        cfg.source.clone(),
        start,
        Arc::clone(&stop),
    )?;
    let rx_a = spawn_receiver(
        sock_a.try_clone()?,
        n,
        Some(a_rx),
        cfg.source.clone(),
        start,
        Arc::clone(&stop),
    )?;
    let cpu = |pid: Option<u32>| pid.and_then(|p| crate::cpu::threads_cpu_ns(p, "ferry-shard"));
    let cpu_before = cpu(cfg.engine_pid);
    let tx_done = send_loop(cfg, &mut sessions, &sock_a, &sock_b, start, &sent);
    let seconds = start.elapsed().as_secs_f64();
    // Let the last packets drain before the receivers stop.
    std::thread::sleep(Duration::from_millis(300));
    let cpu_after = cpu(cfg.engine_pid);
    stop.store(true, Ordering::Relaxed);
    let rb = rx_b
        .join()
        .map_err(|_| io::Error::other("receiver panicked"))?;
    let ra = rx_a
        .join()
        .map_err(|_| io::Error::other("receiver panicked"))?;
    tx_done?;
    for s in &sessions {
        client.expect_ok(&Message::Remove { session: s.id })?;
    }
    let a_to_b = direction(sent[0].load(Ordering::Relaxed), &rb);
    let b_to_a = direction(sent[1].load(Ordering::Relaxed), &ra);
    let relayed = a_to_b.received + b_to_a.received;
    let engine_cpu_ns_per_packet = match (cpu_before, cpu_after) {
        (Some(b), Some(a)) if relayed > 0 => Some((a - b) as f64 / relayed as f64),
        _ => None,
    };
    Ok(Report {
        engine_cpu_ns_per_packet,
        sessions: cfg.sessions,
        seconds,
        offered_pps: (a_to_b.sent + b_to_a.sent) as f64 / seconds,
        delivered_pps: (a_to_b.received + b_to_a.received) as f64 / seconds,
        a_to_b,
        b_to_a,
    })
}

pub(crate) fn setup_session(
    client: &mut Client,
    profile: srtp::Profile,
    a_addr: SocketAddr,
    b_addr: SocketAddr,
    rng: &mut impl Rng,
) -> io::Result<(Session, srtp::Context)> {
    let family = if a_addr.is_ipv6() {
        Family::V6
    } else {
        Family::V4
    };
    let legs = [AllocLeg { rtcp_mux: true }; 2];
    let (id, addrs) = match client.request(&Message::Allocate { family, legs })? {
        Message::Allocated { session, legs, .. } => (session, legs),
        other => return Err(io::Error::other(format!("allocate: {other:?}"))),
    };
    let (k_in, k_out) = (key(profile, rng), key(profile, rng));
    let addressed = |peer| LegKind::Addressed {
        rtp: Some(peer),
        rtcp: None,
        latch: LatchPolicy::Strict,
    };
    let leg_a = LegSpec {
        kind: addressed(a_addr),
        rtcp_mux: true,
        srtp_in: Some(k_in.clone()),
        srtp_out: Some(k_out.clone()),
        rewrite_out: Rewrite::default(),
        dtmf_events: None,
    };
    let leg_b = LegSpec {
        kind: addressed(b_addr),
        rtcp_mux: true,
        srtp_in: None,
        srtp_out: None,
        rewrite_out: Rewrite::default(),
        dtmf_events: None,
    };
    client.expect_ok(&Message::Install {
        session: id,
        legs: Box::new([leg_a, leg_b]),
    })?;
    let local = |a: SocketAddr| {
        if a.ip().is_unspecified() {
            SocketAddr::new(a_addr.ip(), a.port())
        } else {
            a
        }
    };
    let s = Session {
        id,
        a_port: local(addrs[0].rtp),
        b_port: local(addrs[1].rtp),
        a_tx: context(&k_in)?,
    };
    Ok((s, context(&k_out)?))
}

/// Writes an RTP header with the send-time extension; returns the header length.
pub(crate) fn write_header(buf: &mut [u8], ssrc: u32, seq: u16, ts: u32, send_ns: u64) -> usize {
    buf[0] = 0x90; // V=2, X=1
    buf[1] = PT;
    buf[2..4].copy_from_slice(&seq.to_be_bytes());
    buf[4..8].copy_from_slice(&ts.to_be_bytes());
    buf[8..12].copy_from_slice(&ssrc.to_be_bytes());
    buf[12..14].copy_from_slice(&[0xBE, 0xDE]);
    buf[14..16].copy_from_slice(&3u16.to_be_bytes()); // 3 words follow
    buf[16] = (TS_EXT_ID << 4) | 7; // 8 bytes
    buf[17..25].copy_from_slice(&send_ns.to_be_bytes());
    buf[25..28].fill(0);
    HEADER
}

/// Reads back (ssrc, seq, send time, payload offset) from a packet this tool built.
fn read_header(pkt: &[u8]) -> Option<(u32, u16, u64, usize)> {
    if pkt.len() < HEADER
        || pkt[0] != 0x90
        || pkt[12..14] != [0xBE, 0xDE]
        || pkt[16] != (TS_EXT_ID << 4) | 7
    {
        return None;
    }
    let ssrc = u32::from_be_bytes(pkt[8..12].try_into().ok()?);
    let seq = u16::from_be_bytes(pkt[2..4].try_into().ok()?);
    let send = u64::from_be_bytes(pkt[17..25].try_into().ok()?);
    Some((ssrc, seq, send, HEADER))
}

/// SSRC for session `i` in direction `dir` (0 = A->B, 1 = B->A).
pub(crate) fn ssrc_of(i: u32, dir: u32) -> u32 {
    0x4000_0000 | (dir << 29) | i
}

fn send_loop(
    cfg: &LoadConfig,
    sessions: &mut [Session],
    sock_a: &UdpSocket,
    sock_b: &UdpSocket,
    start: Instant,
    sent: &[Arc<AtomicU64>; 2],
) -> io::Result<()> {
    let n = sessions.len();
    let mut rng = rand::thread_rng();
    let interval = if cfg.rate == 0 {
        Duration::ZERO
    } else {
        Duration::from_secs(1) / cfg.rate
    };
    // Random phase per session (and direction), so packets are paced, not bursts.
    let mut due: Vec<(Duration, usize, u32)> = (0..n)
        .flat_map(|i| [0u32, 1].map(|d| (interval.mul_f64(rng.gen_range(0.0..1.0)), i, d)))
        .filter(|(_, _, d)| cfg.directions[*d as usize])
        .collect();
    due.sort();
    let mut counts = vec![[0u64; 2]; n];
    let mut buf = vec![0u8; 2048];
    let mut last_progress = Instant::now();
    let mut round = 0u32;
    'outer: loop {
        for &(phase, i, dir) in &due {
            let at = interval * round + phase;
            if at >= cfg.duration {
                break 'outer;
            }
            wait_until(start, at);
            if cfg.rate == 0 && start.elapsed() >= cfg.duration {
                break 'outer;
            }
            let k = counts[i][dir as usize];
            counts[i][dir as usize] += 1;
            let send_ns = if cfg.rate == 0 {
                start.elapsed().as_nanos() as u64
            } else {
                at.as_nanos() as u64
            };
            let h = write_header(
                &mut buf,
                ssrc_of(i as u32, dir),
                k as u16,
                (k as u32).wrapping_mul(160),
                send_ns,
            );
            let len = h + cfg.source.payload(i as u32, k, &mut buf[h..1500]);
            let s = &mut sessions[i];
            let r = if dir == 0 {
                let len = s
                    .a_tx
                    .protect_rtp(&mut buf, len)
                    .map_err(io::Error::other)?;
                sock_a.send_to(&buf[..len], s.a_port)
            } else {
                sock_b.send_to(&buf[..len], s.b_port)
            };
            if r.is_ok() {
                sent[dir as usize].fetch_add(1, Ordering::Relaxed);
            }
        }
        round += 1;
        if cfg.progress && last_progress.elapsed() >= Duration::from_millis(500) {
            last_progress = Instant::now();
            let total = sent[0].load(Ordering::Relaxed) + sent[1].load(Ordering::Relaxed);
            let el = start.elapsed().as_secs_f64();
            let done = (el / cfg.duration.as_secs_f64()).min(1.0);
            let bar = "#".repeat((done * 30.0) as usize);
            eprint!(
                "\r[{bar:<30}] {el:5.1}s  {total} packets  {:.0} pps ",
                total as f64 / el
            );
        }
    }
    if cfg.progress {
        eprintln!();
    }
    Ok(())
}

fn wait_until(start: Instant, at: Duration) {
    loop {
        let now = start.elapsed();
        if now >= at {
            return;
        }
        let left = at - now;
        if left > Duration::from_micros(200) {
            std::thread::sleep(left - Duration::from_micros(100));
        } else {
            std::hint::spin_loop();
        }
    }
}

fn spawn_receiver(
    sock: UdpSocket,
    n: usize,
    mut decrypt: Option<Vec<srtp::Context>>,
    source: Source,
    start: Instant,
    stop: Arc<AtomicBool>,
) -> io::Result<std::thread::JoinHandle<RxResult>> {
    std::thread::Builder::new()
        .name("ferry-perf-rx".into())
        .spawn(move || {
            let mut res = RxResult {
                per_session: vec![RxState::default(); n],
                corrupt: 0,
                hist: Histogram::new_with_bounds(1, 60_000_000_000, 3)
                    .unwrap_or_else(|_| unreachable!()),
            };
            let mut buf = vec![0u8; 2048];
            let mut expect = vec![0u8; 2048];
            let dir = if decrypt.is_some() { 1 } else { 0 };
            while !stop.load(Ordering::Relaxed) {
                let Ok((len, _)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let now = start.elapsed().as_nanos() as u64;
                let Some(ssrc) = buf
                    .get(8..12)
                    .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
                else {
                    res.corrupt += 1;
                    continue;
                };
                let i = (ssrc & 0x1FFF_FFFF) as usize;
                if i >= n || ssrc != ssrc_of(i as u32, dir) {
                    res.corrupt += 1;
                    continue;
                }
                let len = match decrypt.as_mut() {
                    Some(ctxs) => match ctxs[i].unprotect_rtp(&mut buf[..len]) {
                        Ok(l) => l,
                        Err(_) => {
                            res.corrupt += 1;
                            continue;
                        }
                    },
                    None => len,
                };
                let Some((_, seq, send_ns, h)) = read_header(&buf[..len]) else {
                    res.corrupt += 1;
                    continue;
                };
                let st = &mut res.per_session[i];
                // Extend the 16-bit sequence number around the highest seen.
                let k = extend_seq(st.highest, seq);
                let plen = source.payload(i as u32, k, &mut expect[..1500 - h]);
                if buf[h..len] != expect[..plen] {
                    res.corrupt += 1;
                    continue;
                }
                st.received += 1;
                match st.highest {
                    Some(hi) if k < hi => st.reordered += 1,
                    _ => st.highest = Some(k),
                }
                let transit = now as i64 - send_ns as i64;
                if let Some(prev) = st.last_transit {
                    // RFC 3550 §6.4.1: J += (|D| - J) / 16.
                    st.jitter += ((transit - prev).unsigned_abs() as f64 - st.jitter) / 16.0;
                }
                st.last_transit = Some(transit);
                res.hist
                    .saturating_record(now.saturating_sub(send_ns).max(1));
            }
            res
        })
}

/// The packet index nearest to `highest` whose low 16 bits are `seq`.
fn extend_seq(highest: Option<u64>, seq: u16) -> u64 {
    let Some(hi) = highest else {
        return u64::from(seq);
    };
    let base = hi & !0xFFFF;
    [base.wrapping_sub(0x10000), base, base + 0x10000]
        .into_iter()
        .map(|b| b.wrapping_add(u64::from(seq)))
        .filter(|c| *c < (1 << 62))
        .min_by_key(|c| c.abs_diff(hi))
        .unwrap_or(u64::from(seq))
}

fn direction(sent: u64, rx: &RxResult) -> DirectionReport {
    let received: u64 = rx.per_session.iter().map(|s| s.received).sum();
    let reordered = rx.per_session.iter().map(|s| s.reordered).sum();
    let with = rx
        .per_session
        .iter()
        .filter(|s| s.last_transit.is_some())
        .count()
        .max(1);
    let jitter_ns: f64 = rx.per_session.iter().map(|s| s.jitter).sum::<f64>() / with as f64;
    let us = |q: f64| rx.hist.value_at_quantile(q) as f64 / 1000.0;
    DirectionReport {
        sent,
        received,
        loss_pct: if sent == 0 {
            0.0
        } else {
            100.0 * sent.saturating_sub(received) as f64 / sent as f64
        },
        reordered,
        corrupt: rx.corrupt,
        jitter_us: jitter_ns / 1000.0,
        latency_us: Percentiles {
            p50: us(0.5),
            p90: us(0.9),
            p99: us(0.99),
            p999: us(0.999),
            max: rx.hist.max() as f64 / 1000.0,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let mut b = [0u8; 64];
        assert_eq!(
            write_header(&mut b, 0x4000_0007, 65535, 160, 123_456_789),
            HEADER
        );
        assert_eq!(
            read_header(&b),
            Some((0x4000_0007, 65535, 123_456_789, HEADER))
        );
        b[16] = 0x27;
        assert_eq!(read_header(&b), None);
    }

    #[test]
    fn sequence_extension_follows_wraps_and_reordering() {
        assert_eq!(extend_seq(None, 5), 5);
        assert_eq!(extend_seq(Some(65535), 0), 65536);
        assert_eq!(extend_seq(Some(65536), 65535), 65535);
        assert_eq!(extend_seq(Some(3 * 65536 + 10), 8), 3 * 65536 + 8);
    }

    #[test]
    fn synthetic_payloads_differ_per_session_and_packet() {
        let src = Source::Synthetic(172);
        let (mut a, mut b, mut c) = ([0u8; 200], [0u8; 200], [0u8; 200]);
        assert_eq!(src.payload(1, 1, &mut a), 172 - HEADER);
        src.payload(2, 1, &mut b);
        src.payload(1, 2, &mut c);
        assert_ne!(a, b);
        assert_ne!(a, c);
    }
}
