//! `ferry-perf`: the load generator for a running Ferry engine, and the floor it is measured
//! against.

mod blast;
mod calls;
mod cpu;
mod floor;
mod load;
mod pcap;

use std::net::{IpAddr, UdpSocket};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{Parser, Subcommand};

/// Load generator and benchmarks for Ferry.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Set up sessions through the engine's control socket and play RTP through them.
    Run {
        /// Engine control socket.
        #[arg(long, default_value = "/run/ferry/engine.sock")]
        socket: PathBuf,
        /// Concurrent sessions.
        #[arg(long, default_value_t = 100)]
        sessions: u32,
        /// Packets per second per direction per session (50 = 20 ms audio); 0 = as fast as possible.
        #[arg(long, default_value_t = 50)]
        rate: u32,
        /// Seconds to send.
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// Synthetic RTP packet size in bytes (e.g. 172 for G.711, 1200 for video).
        #[arg(long, default_value_t = 172)]
        size: usize,
        /// Replay RTP payloads from this capture instead (pcap or pcapng).
        #[arg(long)]
        pcap: Option<PathBuf>,
        /// SRTP profile on the browser side.
        #[arg(long, default_value = "AEAD_AES_128_GCM")]
        profile: String,
        /// Address this tool's sockets bind to.
        #[arg(long, default_value = "127.0.0.1")]
        bind: IpAddr,
        /// Write the JSON summary here ("-" for stdout).
        #[arg(long)]
        json: Option<PathBuf>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
        /// Which directions to send: both, a2b (SRTP->RTP) or b2a (RTP->SRTP).
        #[arg(long, default_value = "both")]
        direction: String,
        /// PID of the engine: report its shard threads' CPU per relayed packet.
        #[arg(long)]
        engine_pid: Option<u32>,
    },
    /// Send 172-byte datagrams to an echo (the floor) at a fixed rate and count what returns.
    Flood {
        /// Where to send.
        #[arg(long)]
        target: std::net::SocketAddr,
        /// Datagrams per second.
        #[arg(long, default_value_t = 100_000)]
        rate: u32,
        /// Seconds.
        #[arg(long, default_value_t = 10.0)]
        duration: f64,
        /// PID of the echo: report its CPU per echoed packet.
        #[arg(long)]
        echo_pid: Option<u32>,
    },
    /// Place calls through Ferry as a scripted browser (WebSocket, SIP, ICE, DTLS, SRTP echo)
    /// and report setups per second, failures by cause, setup latency and CPU per setup.
    Calls(calls::Args),
    /// Offer pre-built SRTP packets with sendmmsg at a total rate (or flat out) to N sessions'
    /// browser-side ports, the SIP side into a sink nobody reads; goodput from the engine's counters.
    Blast(blast::Args),
    /// Run the floor: a bare recvmmsg/sendmmsg UDP echo (no crypto, no lookup).
    Floor {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        /// Seconds to run (0 = until killed).
        #[arg(long, default_value_t = 0.0)]
        duration: f64,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferry-perf: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cmd: Command) -> Result<(), String> {
    match cmd {
        Command::Run {
            socket,
            sessions,
            rate,
            duration,
            size,
            pcap,
            profile,
            bind,
            json,
            quiet,
            direction,
            engine_pid,
        } => {
            let directions = match direction.as_str() {
                "both" => [true, true],
                "a2b" => [true, false],
                "b2a" => [false, true],
                other => return Err(format!("--direction {other}: expected both, a2b or b2a")),
            };
            let profile = ferry::srtp::Profile::from_name(&profile)
                .ok_or_else(|| format!("unknown SRTP profile {profile}"))?;
            let source = match pcap {
                Some(p) => load::Source::from_pcap(&p).map_err(|e| e.to_string())?,
                None => load::Source::Synthetic(size),
            };
            let cfg = load::LoadConfig {
                socket,
                sessions,
                rate,
                duration: Duration::from_secs_f64(duration),
                source,
                profile,
                bind,
                progress: !quiet && std::io::IsTerminal::is_terminal(&std::io::stderr()),
                directions,
                engine_pid,
            };
            let report = load::run(&cfg).map_err(|e| e.to_string())?;
            let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
            match json {
                Some(p) if p.as_os_str() == "-" => out(&format!("{text}\n")),
                Some(p) => std::fs::write(&p, text).map_err(|e| format!("{}: {e}", p.display()))?,
                None => out(&render_report(&report)),
            }
            Ok(())
        }
        Command::Flood {
            target,
            rate,
            duration,
            echo_pid,
        } => {
            let before = echo_pid.and_then(|p| cpu::threads_cpu_ns(p, ""));
            let (sent, got) = floor::flood(target, rate, Duration::from_secs_f64(duration))
                .map_err(|e| e.to_string())?;
            let after = echo_pid.and_then(|p| cpu::threads_cpu_ns(p, ""));
            print!("sent {sent} received {got}");
            if let (Some(a), Some(b)) = (before, after) {
                print!(" echo_cpu_ns {}", b - a);
            }
            println!();
            Ok(())
        }
        Command::Calls(args) => calls::main(args),
        Command::Blast(args) => blast::main(args),
        Command::Floor { listen, duration } => {
            let sock = UdpSocket::bind(listen).map_err(|e| e.to_string())?;
            sock.set_read_timeout(Some(Duration::from_millis(100)))
                .map_err(|e| e.to_string())?;
            eprintln!(
                "floor echo on {}",
                sock.local_addr().map_err(|e| e.to_string())?
            );
            let stop = Arc::new(AtomicBool::new(false));
            if duration > 0.0 {
                let s = Arc::clone(&stop);
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_secs_f64(duration));
                    s.store(true, Ordering::Relaxed);
                });
            }
            let stats = Arc::new(floor::FloorStats::default());
            floor::run(&sock, &stop, &stats).map_err(|e| e.to_string())?;
            eprintln!("echoed {}", stats.echoed.load(Ordering::Relaxed));
            Ok(())
        }
    }
}

/// The human summary of a run.
fn render_report(r: &load::Report) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    if let Some(ns) = r.engine_cpu_ns_per_packet {
        let _ = writeln!(o, "engine CPU per relayed packet: {ns:.0} ns");
    }
    let _ = writeln!(
        o,
        "{} sessions, {:.1} s, offered {:.0} pps, delivered {:.0} pps",
        r.sessions, r.seconds, r.offered_pps, r.delivered_pps
    );
    for (name, d) in [
        ("SRTP->RTP (A->B)", &r.a_to_b),
        ("RTP->SRTP (B->A)", &r.b_to_a),
    ] {
        let l = &d.latency_us;
        let _ = writeln!(
            o,
            "{name}: sent {} received {} loss {:.3}% reordered {} corrupt {} jitter {:.1} us | latency us p50 {:.1} p90 {:.1} p99 {:.1} p99.9 {:.1} max {:.1}",
            d.sent,
            d.received,
            d.loss_pct,
            d.reordered,
            d.corrupt,
            d.jitter_us,
            l.p50,
            l.p90,
            l.p99,
            l.p999,
            l.max
        );
    }
    o
}

/// Writes to stdout; a reader that went away (`| head`) is not an error worth a panic.
fn out(text: &str) {
    use std::io::Write;
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}
