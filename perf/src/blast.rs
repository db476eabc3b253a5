//! `ferry-perf blast`: offer a fixed (or unlimited) SRTP->RTP packet rate to the engine with no
//! per-packet work at send time, and measure goodput from the engine's own counters.
//!
//! Sessions are installed as in [`crate::load`] (SRTP on leg A, plain RTP on leg B). Every SRTP
//! packet of the window is built and encrypted before the window starts, so sending is only
//! `sendmmsg` in batches (round robin over the sessions' engine ports). Leg B points at a sink:
//! a UDP socket nobody reads (`--sink socket`, the default) or a port with no socket
//! (`--sink none`); either way the engine's `tx_packets` counts what it relayed. Goodput is the
//! engine's `tx_packets` delta between a `StatsQuery` just before the first send and one just
//! after the last, per second of that interval; the drops by reason are the deltas up to a
//! second query after a drain. Kernel drops at the engine's sockets (datagrams that never reached
//! it) are read from `/proc/net/udp`. A second control connection sends `StatsQuery` every
//! `--probe-ms` during the window and reports the round-trip times (is the engine responsive).

use std::collections::{BTreeMap, HashSet};
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ferry::control::{Client, Message};
use serde::Serialize;

use crate::load::{Session, Source, setup_session, ssrc_of, write_header};

/// Bytes reserved per pre-built packet of `size` bytes (room for the tag, cache-line aligned).
fn stride(size: usize) -> usize {
    (size + 32).next_multiple_of(64)
}

/// Arguments of `ferry-perf blast`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Engine control socket.
    #[arg(long, default_value = "/run/ferry/engine.sock")]
    socket: PathBuf,
    /// Sessions (one engine browser-side port each).
    #[arg(long, default_value_t = 1000)]
    sessions: u32,
    /// Total packets per second offered (all sessions together); 0 = as fast as sendmmsg goes.
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// Seconds of sending.
    #[arg(long, default_value_t = 4.0)]
    duration: f64,
    /// RTP packet size before the SRTP tag.
    #[arg(long, default_value_t = 172)]
    size: usize,
    /// SRTP profile on the browser side.
    #[arg(long, default_value = "AEAD_AES_128_GCM")]
    profile: String,
    /// Address this tool's sockets bind to.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Datagrams per sendmmsg call.
    #[arg(long, default_value_t = 256)]
    batch: usize,
    /// Packets to pre-build (default: rate x duration; with --rate 0, 600,000 per second).
    #[arg(long)]
    packets: Option<u64>,
    /// The SIP-side destination: "socket" (bound, never read) or "none" (a port with no socket).
    #[arg(long, default_value = "socket")]
    sink: String,
    /// Milliseconds after the window before the final counters are read.
    #[arg(long, default_value_t = 500)]
    drain_ms: u64,
    /// Milliseconds between responsiveness probes (StatsQuery on a second connection).
    #[arg(long, default_value_t = 100)]
    probe_ms: u64,
    /// Write the JSON summary here ("-" for stdout).
    #[arg(long)]
    json: Option<PathBuf>,
    /// PID of the engine: report its shard threads' busy fraction over the window.
    #[arg(long)]
    engine_pid: Option<u32>,
}

/// Round trips of the responsiveness probe.
#[derive(Debug, Clone, Serialize)]
pub struct Probe {
    /// Probes answered.
    pub answered: usize,
    /// Probes that failed or timed out.
    pub failed: usize,
    /// Median round trip, microseconds.
    pub p50_us: f64,
    /// Slowest round trip, microseconds.
    pub max_us: f64,
}

/// The JSON summary.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Sessions.
    pub sessions: u32,
    /// Rate asked for (0 = flat out).
    pub rate_asked: u64,
    /// Seconds spent pre-building (encrypting) the packets.
    pub prebuild_s: f64,
    /// Seconds between the two counter reads around the window.
    pub window_s: f64,
    /// Datagrams handed to the kernel.
    pub sent: u64,
    /// sendmmsg errors (each may cover a whole batch).
    pub send_errors: u64,
    /// Offered rate: sent / window.
    pub offered_pps: f64,
    /// Engine rx_packets per second over the window.
    pub rx_pps: f64,
    /// Engine tx_packets per second over the window: the goodput.
    pub tx_pps: f64,
    /// Packets the engine relayed after the window ended (queued, drained during --drain-ms).
    pub tx_after_window: u64,
    /// Shard threads' CPU over the window, in cores (with --engine-pid).
    pub shard_cores: Option<f64>,
    /// tx / offered over the window.
    pub tx_over_offered: f64,
    /// Engine counter deltas (window + drain), non-zero only.
    pub engine: BTreeMap<String, u64>,
    /// Datagrams the kernel dropped at the engine's ports (receive buffer full).
    pub kernel_drops_engine: u64,
    /// Same, at the sink (expected: nobody reads it).
    pub kernel_drops_sink: u64,
    /// StatsQuery round trips during the window.
    pub probe: Probe,
    /// A `List` round trip right after the window, microseconds.
    pub list_rtt_us: f64,
}

/// Runs `ferry-perf blast`.
pub fn main(args: Args) -> Result<(), String> {
    let r = run(&args).map_err(|e| e.to_string())?;
    let text = serde_json::to_string_pretty(&r).map_err(|e| e.to_string())?;
    match &args.json {
        Some(p) if p.as_os_str() == "-" => println!("{text}"),
        Some(p) => std::fs::write(p, text).map_err(|e| format!("{}: {e}", p.display()))?,
        None => {
            let drops: Vec<String> = r
                .engine
                .iter()
                .filter(|(k, _)| k.starts_with("drop_"))
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            println!(
                "{} sessions, window {:.2} s: offered {:.0} pps, engine rx {:.0} pps, tx {:.0} pps \
                 ({:.3} of offered; {} more after the window), shard busy {}, kernel drops at engine {}, \
                 engine drops [{}], probe rtt p50 {:.0} us max {:.0} us ({} ok, {} failed), List {:.0} us, \
                 prebuild {:.1} s",
                r.sessions,
                r.window_s,
                r.offered_pps,
                r.rx_pps,
                r.tx_pps,
                r.tx_over_offered,
                r.tx_after_window,
                r.shard_cores
                    .map_or_else(|| "-".to_string(), |c| format!("{c:.2} cores")),
                r.kernel_drops_engine,
                drops.join(" "),
                r.probe.p50_us,
                r.probe.max_us,
                r.probe.answered,
                r.probe.failed,
                r.list_rtt_us,
                r.prebuild_s
            );
        }
    }
    Ok(())
}

/// Engine counters summed over shards.
fn counters(client: &mut Client) -> io::Result<BTreeMap<String, u64>> {
    match client.request(&Message::StatsQuery)? {
        Message::Stats { shards, .. } => {
            let mut m = BTreeMap::new();
            for c in shards.iter().flatten() {
                *m.entry(c.name.clone()).or_insert(0) += c.value;
            }
            Ok(m)
        }
        other => Err(io::Error::other(format!("stats: {other:?}"))),
    }
}

fn delta(a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>, k: &str) -> u64 {
    b.get(k)
        .copied()
        .unwrap_or(0)
        .saturating_sub(a.get(k).copied().unwrap_or(0))
}

/// Sum of the kernel's per-socket drop counters for UDP sockets bound to these ports.
fn kernel_drops(ports: &HashSet<u16>) -> u64 {
    ["/proc/net/udp", "/proc/net/udp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|t| {
            t.lines()
                .skip(1)
                .filter_map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    let port = u16::from_str_radix(f.get(1)?.rsplit(':').next()?, 16).ok()?;
                    let drops: u64 = f.last()?.parse().ok()?;
                    ports.contains(&port).then_some(drops)
                })
                .collect::<Vec<_>>()
        })
        .sum()
}

fn sockaddr(a: SocketAddr) -> io::Result<libc::sockaddr_in> {
    let SocketAddr::V4(a) = a else {
        return Err(io::Error::other("blast: IPv4 only"));
    };
    // SAFETY: sockaddr_in is plain old data; all-zero is a valid value.
    let mut s: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    s.sin_family = libc::AF_INET as libc::sa_family_t;
    s.sin_port = a.port().to_be();
    s.sin_addr.s_addr = u32::from(*a.ip()).to_be();
    Ok(s)
}

/// Packet `j` goes to session `j % n` with that session's packet index `j / n`.
fn prebuild(sessions: &mut [Session], size: usize, total: u64) -> io::Result<(Vec<u8>, usize)> {
    let n = sessions.len() as u64;
    let src = Source::Synthetic(size);
    let mut arena = vec![0u8; total as usize * stride(size)];
    let mut len = 0;
    for (j, slot) in arena.chunks_exact_mut(stride(size)).enumerate() {
        let (i, k) = (j as u64 % n, j as u64 / n);
        let h = write_header(
            slot,
            ssrc_of(i as u32, 0),
            k as u16,
            (k as u32).wrapping_mul(160),
            0,
        );
        let plen = h + src.payload(i as u32, k, &mut slot[h..size]);
        len = sessions[i as usize]
            .a_tx
            .protect_rtp(slot, plen)
            .map_err(io::Error::other)?;
    }
    Ok((arena, len))
}

fn probe_loop(path: PathBuf, every: Duration, stop: Arc<AtomicBool>, limit: Duration) -> Probe {
    let mut rtts = Vec::new();
    let mut failed = 0;
    let began = Instant::now();
    match Client::connect(&path) {
        Ok(mut c) => {
            while !stop.load(Ordering::Relaxed) && began.elapsed() < limit {
                let t = Instant::now();
                match c.request(&Message::StatsQuery) {
                    Ok(Message::Stats { .. }) => rtts.push(t.elapsed().as_secs_f64() * 1e6),
                    _ => failed += 1,
                }
                std::thread::sleep(every);
            }
        }
        Err(_) => failed += 1,
    }
    rtts.sort_by(f64::total_cmp);
    Probe {
        answered: rtts.len(),
        failed,
        p50_us: rtts.get(rtts.len() / 2).copied().unwrap_or(0.0),
        max_us: rtts.last().copied().unwrap_or(0.0),
    }
}

fn run(args: &Args) -> io::Result<Report> {
    let profile = ferry::srtp::Profile::from_name(&args.profile)
        .ok_or_else(|| io::Error::other(format!("unknown SRTP profile {}", args.profile)))?;
    if args.sessions == 0 || args.batch == 0 || args.size < 40 || args.size > 1300 {
        return Err(io::Error::other(
            "need --sessions > 0, --batch > 0, 40 <= --size <= 1300",
        ));
    }
    let duration = Duration::from_secs_f64(args.duration);
    let mut client = Client::connect(&args.socket)?;
    let sender = UdpSocket::bind(SocketAddr::new(args.bind, 0))?;
    socket2::SockRef::from(&sender).set_send_buffer_size(16 << 20)?;
    sender.set_write_timeout(Some(Duration::from_millis(100)))?;
    // The sink: bound with a tiny buffer and never read, or (sink=none) a port freed again.
    let sink = UdpSocket::bind(SocketAddr::new(args.bind, 0))?;
    socket2::SockRef::from(&sink).set_recv_buffer_size(4096)?;
    let sink_addr = sink.local_addr()?;
    let sink = match args.sink.as_str() {
        "socket" => Some(sink),
        "none" => None,
        other => return Err(io::Error::other(format!("--sink {other}: socket or none"))),
    };
    let mut rng = rand::thread_rng();
    let mut sessions = Vec::with_capacity(args.sessions as usize);
    for _ in 0..args.sessions {
        let (s, _) = setup_session(
            &mut client,
            profile,
            sender.local_addr()?,
            sink_addr,
            &mut rng,
        )?;
        sessions.push(s);
    }
    let result = blast(
        args,
        duration,
        &mut client,
        &sender,
        sink_addr,
        &mut sessions,
    );
    for s in &sessions {
        client.expect_ok(&Message::Remove { session: s.id })?;
    }
    drop(sink);
    result
}

fn blast(
    args: &Args,
    duration: Duration,
    client: &mut Client,
    sender: &UdpSocket,
    sink_addr: SocketAddr,
    sessions: &mut [Session],
) -> io::Result<Report> {
    let total = args.packets.unwrap_or(if args.rate == 0 {
        (600_000.0 * args.duration) as u64
    } else {
        (args.rate as f64 * args.duration).ceil() as u64
    });
    let t = Instant::now();
    let (arena, len) = prebuild(sessions, args.size, total)?;
    let prebuild_s = t.elapsed().as_secs_f64();
    let dests = sessions
        .iter()
        .map(|s| sockaddr(s.a_port))
        .collect::<io::Result<Vec<_>>>()?;
    let engine_ports: HashSet<u16> = sessions.iter().map(|s| s.a_port.port()).collect();
    let sink_ports = HashSet::from([sink_addr.port()]);
    let (kd0, ks0) = (kernel_drops(&engine_ports), kernel_drops(&sink_ports));

    let stop = Arc::new(AtomicBool::new(false));
    let probe = {
        let (p, s) = (args.socket.clone(), Arc::clone(&stop));
        let every = Duration::from_millis(args.probe_ms.max(1));
        let limit = duration + Duration::from_secs(10);
        std::thread::Builder::new()
            .name("ferry-perf-probe".into())
            .spawn(move || probe_loop(p, every, s, limit))?
    };
    let cpu = || {
        args.engine_pid
            .and_then(|p| crate::cpu::threads_cpu_ns(p, "ferry-shard"))
    };
    let c0 = counters(client)?;
    let cpu0 = cpu();
    let t0 = Instant::now();
    let (sent, send_errors) = send_window(args, duration, sender, &arena, len, &dests, total);
    let c1 = counters(client)?;
    let window_s = t0.elapsed().as_secs_f64();
    let shard_cores = match (cpu0, cpu()) {
        (Some(a), Some(b)) => Some((b - a) as f64 / 1e9 / window_s),
        _ => None,
    };
    stop.store(true, Ordering::Relaxed);
    let t = Instant::now();
    let _ = client.request(&Message::List)?;
    let list_rtt_us = t.elapsed().as_secs_f64() * 1e6;
    std::thread::sleep(Duration::from_millis(args.drain_ms));
    let c2 = counters(client)?;
    let probe = probe
        .join()
        .map_err(|_| io::Error::other("probe panicked"))?;
    let (kd1, ks1) = (kernel_drops(&engine_ports), kernel_drops(&sink_ports));
    let engine = c2
        .keys()
        .map(|k| (k.clone(), delta(&c0, &c2, k)))
        .filter(|(k, v)| *v > 0 && k != "sessions")
        .collect();
    let rx = delta(&c0, &c1, "rx_packets") as f64;
    let tx = delta(&c0, &c1, "tx_packets") as f64;
    let offered_pps = sent as f64 / window_s;
    Ok(Report {
        sessions: args.sessions,
        rate_asked: args.rate,
        prebuild_s,
        window_s,
        sent,
        send_errors,
        offered_pps,
        rx_pps: rx / window_s,
        tx_pps: tx / window_s,
        tx_after_window: delta(&c1, &c2, "tx_packets"),
        shard_cores,
        tx_over_offered: if sent == 0 { 0.0 } else { tx / sent as f64 },
        engine,
        kernel_drops_engine: kd1.saturating_sub(kd0),
        kernel_drops_sink: ks1.saturating_sub(ks0),
        probe,
        list_rtt_us,
    })
}

/// Sends the pre-built packets in batches, paced to `--rate` (or flat out), until they run out
/// or the window ends. Returns (datagrams sent, sendmmsg errors).
fn send_window(
    args: &Args,
    duration: Duration,
    sender: &UdpSocket,
    arena: &[u8],
    len: usize,
    dests: &[libc::sockaddr_in],
    total: u64,
) -> (u64, u64) {
    let b = args.batch.min(1024);
    // SAFETY: plain old data, zero is valid; pointers are filled in before each call.
    let mut iov: Vec<libc::iovec> = vec![unsafe { std::mem::zeroed() }; b];
    // SAFETY: as above.
    let mut hdrs: Vec<libc::mmsghdr> = vec![unsafe { std::mem::zeroed() }; b];
    let n = dests.len() as u64;
    let step = stride(args.size);
    let fd = sender.as_raw_fd();
    let start = Instant::now();
    let (mut next, mut errors, mut skipped) = (0u64, 0u64, 0u64);
    while next < total {
        let now = start.elapsed();
        if now >= duration {
            break;
        }
        if args.rate > 0 {
            // The batch starting at packet `next` is due when `next` packets should have left.
            let due = Duration::from_secs_f64(next as f64 / args.rate as f64);
            if due >= duration {
                break;
            }
            if due > now {
                let left = due - now;
                if left > Duration::from_micros(200) {
                    std::thread::sleep(left - Duration::from_micros(100));
                }
                continue;
            }
        }
        let count = (total - next).min(b as u64) as usize;
        for m in 0..count {
            let j = next + m as u64;
            let pkt = &arena[j as usize * step..];
            iov[m] = libc::iovec {
                iov_base: pkt.as_ptr() as *mut libc::c_void,
                iov_len: len,
            };
            let h = &mut hdrs[m].msg_hdr;
            h.msg_name = &dests[(j % n) as usize] as *const libc::sockaddr_in as *mut libc::c_void;
            h.msg_namelen = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            h.msg_iov = &mut iov[m];
            h.msg_iovlen = 1;
        }
        // SAFETY: `hdrs[..count]` point at live iovecs, packets and addresses for the call.
        let r = unsafe { libc::sendmmsg(fd, hdrs.as_mut_ptr(), count as libc::c_uint, 0) };
        if r > 0 {
            next += r as u64;
        } else {
            errors += 1;
            // Skip the batch rather than spin on it: the window is what is bounded.
            next += count as u64;
            skipped += count as u64;
        }
    }
    (next - skipped, errors)
}
