//! The `ferry` command: run everything (`up`), or the engine and signaling processes alone,
//! and query the engine.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use ferry::control::{Client, Message};
use ferry::engine::io::BackendKind;
use ferry::engine::{Engine, EngineConfig, stats};

mod up;

// Signaling allocates per message (SIP text, SDP, DTLS records); glibc's allocator showed up at
// about 7% of its profile under call-setup load. The engine's packet path allocates nothing.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Ferry: a WebRTC-to-SIP media gateway.
#[derive(Debug, Parser)]
// A flag given twice takes the last value, so scripts can append overrides.
#[command(version, about, args_override_self = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start Ferry: the packet engine and the signaling process, each restarted if it dies
    /// (a signaling restart keeps calls' media flowing).
    Up(UpArgs),
    /// Run the packet engine in the foreground.
    Engine(EngineArgs),
    /// Run the signaling process in the foreground (SIP over WebSocket, the test page, trunk).
    Signal(SignalArgs),
    /// Check a configuration (with the same flags as `signal`) and exit: 0 if Ferry would start.
    Check(SignalArgs),
    /// Print the engine's counters and latency percentiles.
    Stats(StatsArgs),
    /// Create signed call links; rotate and retire their keys.
    Link(ferry_signaling::links::LinkArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Backend {
    Auto,
    Uring,
    Mmsg,
}

#[derive(Debug, clap::Args)]
struct EngineArgs {
    /// Control socket signaling connects to.
    #[arg(long, default_value = "/run/ferry/engine.sock")]
    socket: PathBuf,
    /// Shards (0 = one per core).
    #[arg(long, default_value_t = 0)]
    shards: usize,
    /// Packet I/O backend (auto: epoll + mmsg, which measured cheaper per packet than io_uring).
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    backend: Backend,
    /// Media port range, MIN-MAX.
    #[arg(long, default_value = "20000-59999", value_parser = parse_range)]
    ports: (u16, u16),
    /// IPv4 address media sockets bind to ("none" to disable).
    #[arg(long, default_value = "0.0.0.0", value_parser = parse_opt_ip)]
    media_v4: MediaAddr,
    /// IPv6 address media sockets bind to ("none" to disable).
    #[arg(long, default_value = "none", value_parser = parse_opt_ip)]
    media_v6: MediaAddr,
    /// Seconds without an accepted packet before a session is reaped.
    #[arg(long, default_value_t = 60)]
    idle_timeout: u64,
    /// Do not pin shard threads to cores.
    #[arg(long)]
    no_pin: bool,
}

#[derive(Debug, clap::Args)]
struct StatsArgs {
    /// Control socket of the engine.
    #[arg(long, default_value = "/run/ferry/engine.sock")]
    socket: PathBuf,
    /// Also write an HdrHistogram interval log (plot it with HdrHistogram's tools).
    #[arg(long)]
    interval_log: Option<PathBuf>,
    /// Seconds between intervals (with --interval-log).
    #[arg(long, default_value_t = 1)]
    interval: u64,
    /// Intervals to record (with --interval-log).
    #[arg(long, default_value_t = 10)]
    count: u32,
}

#[derive(Debug, Clone, clap::Args)]
struct SignalArgs {
    /// TOML configuration (every key optional; see deploy/ferry.toml).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Engine control socket (overrides `engine_socket`).
    #[arg(long)]
    socket: Option<PathBuf>,
    /// HTTP and ws:// listen address (overrides `http.listen`).
    #[arg(long)]
    http: Option<std::net::SocketAddr>,
    /// HTTPS and wss:// listen address (overrides `http.tls_listen`).
    #[arg(long)]
    https: Option<std::net::SocketAddr>,
    /// Route every destination but `echo` to this trunk, `sip:HOST:PORT[;transport=tcp]`
    /// (overrides `trunk.uri`).
    #[arg(long)]
    trunk: Option<String>,
    /// Trunk-side SIP listen address (overrides `sip.listen`).
    #[arg(long)]
    sip_listen: Option<std::net::SocketAddr>,
    /// Where the generated certificate is kept (overrides `state_dir`).
    #[arg(long)]
    state_dir: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct UpArgs {
    #[command(flatten)]
    signal: SignalArgs,
    /// Media port range, MIN-MAX.
    #[arg(long, default_value = "20000-59999", value_parser = parse_range)]
    ports: (u16, u16),
    /// Engine shards (0 = one per core).
    #[arg(long, default_value_t = 0)]
    shards: usize,
    /// Do not pin engine shards to cores.
    #[arg(long)]
    no_pin: bool,
}

fn parse_range(s: &str) -> Result<(u16, u16), String> {
    let (a, b) = s.split_once('-').ok_or("expected MIN-MAX")?;
    let (a, b) = (
        a.parse::<u16>().map_err(|e| e.to_string())?,
        b.parse::<u16>().map_err(|e| e.to_string())?,
    );
    if a == 0 || a > b {
        return Err(format!("{a}-{b} is not a port range"));
    }
    Ok((a, b))
}

/// An optional bind address ("none" disables the family).
#[derive(Debug, Clone, Copy)]
struct MediaAddr(Option<IpAddr>);

fn parse_opt_ip(s: &str) -> Result<MediaAddr, String> {
    if s == "none" {
        return Ok(MediaAddr(None));
    }
    s.parse()
        .map(|ip| MediaAddr(Some(ip)))
        .map_err(|e| format!("{s}: {e}"))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Up(args) => up::run(args),
        Command::Engine(args) => run_engine(args),
        Command::Signal(args) => run_signal(args),
        Command::Check(args) => signal_config(&args).map(|_| println!("configuration ok")),
        Command::Stats(args) => run_stats(&args),
        Command::Link(args) => ferry_signaling::links::cli::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ferry: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run_engine(args: EngineArgs) -> Result<(), String> {
    if let Some(dir) = args.socket.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("{}: {e} (choose another --socket)", dir.display()))?;
    }
    let cfg = EngineConfig {
        shards: args.shards,
        pin: !args.no_pin,
        backend: match args.backend {
            Backend::Auto => BackendKind::Auto,
            Backend::Uring => BackendKind::Uring,
            Backend::Mmsg => BackendKind::Mmsg,
        },
        control_socket: args.socket.clone(),
        media_v4: args.media_v4.0,
        media_v6: args.media_v6.0,
        port_min: args.ports.0,
        port_max: args.ports.1,
        idle_timeout: Duration::from_secs(args.idle_timeout),
        ..EngineConfig::default()
    };
    let engine = Engine::start(cfg).map_err(|e| format!("engine: {e}"))?;
    eprintln!("ferry engine: control socket {}", engine.socket().display());
    engine.wait().map_err(|e| format!("engine: {e}"))
}

fn signal_config(args: &SignalArgs) -> Result<ferry_signaling::config::Config, String> {
    use ferry_signaling::config::{Config, TrunkConfig};
    let mut cfg = match &args.config {
        Some(p) => Config::load_unchecked(p)?,
        None => Config::default(),
    };
    if let Some(s) = &args.socket {
        cfg.engine_socket = s.clone();
    }
    if let Some(h) = args.http {
        cfg.http.listen = Some(h);
    }
    if let Some(h) = args.https {
        cfg.http.tls_listen = Some(h);
    }
    if let Some(uri) = &args.trunk {
        match &mut cfg.trunk {
            Some(t) => t.uri = uri.clone(),
            None => {
                cfg.trunk = Some(
                    toml::from_str::<TrunkConfig>(&format!("uri = {uri:?}"))
                        .map_err(|e| format!("--trunk: {e}"))?,
                )
            }
        }
        // `sip:HOST:PORT;transport=tcp` picks the transport, as in any SIP URI.
        if let Some(t) = cfg.trunk.as_mut() {
            if uri.to_ascii_lowercase().contains(";transport=tcp") {
                t.transport = ferry_signaling::config::TrunkTransport::Tcp;
            } else if uri.to_ascii_lowercase().contains(";transport=udp") {
                t.transport = ferry_signaling::config::TrunkTransport::Udp;
            }
        }
    }
    if let Some(l) = args.sip_listen {
        cfg.sip.listen = l;
    }
    if let Some(d) = &args.state_dir {
        cfg.state_dir = d.clone();
    }
    let file = args.config.as_ref().map(|p| format!("{}: ", p.display()));
    cfg.check()
        .map_err(|e| format!("{}{e}", file.unwrap_or_default()))?;
    Ok(cfg)
}

fn run_signal(args: SignalArgs) -> Result<(), String> {
    let cfg = signal_config(&args)?;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("ferry-signal")
        .build()
        .map_err(|e| e.to_string())?
        .block_on(ferry_signaling::run(cfg))
}

fn query(
    client: &mut Client,
) -> Result<
    (
        Vec<Vec<ferry::control::Counter>>,
        hdrhistogram::Histogram<u64>,
    ),
    String,
> {
    match client
        .request(&Message::StatsQuery)
        .map_err(|e| e.to_string())?
    {
        Message::Stats { shards, histogram } => Ok((shards, stats::decode_histogram(&histogram)?)),
        other => Err(format!("unexpected reply {other:?}")),
    }
}

fn run_stats(args: &StatsArgs) -> Result<(), String> {
    let mut client =
        Client::connect(&args.socket).map_err(|e| format!("{}: {e}", args.socket.display()))?;
    let (shards, hist) = query(&mut client)?;
    print!("{}", stats::render(&shards, &hist));
    if let Some(path) = &args.interval_log {
        write_interval_log(
            &mut client,
            path,
            Duration::from_secs(args.interval.max(1)),
            args.count,
        )?;
    }
    Ok(())
}

fn write_interval_log(
    client: &mut Client,
    path: &Path,
    every: Duration,
    count: u32,
) -> Result<(), String> {
    use hdrhistogram::serialization::V2Serializer;
    use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;
    let file = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut out = std::io::BufWriter::new(file);
    let start = std::time::SystemTime::now();
    let mut ser = V2Serializer::new();
    let mut log = IntervalLogWriterBuilder::new()
        .add_comment("ferry engine latency, nanoseconds")
        .with_start_time(start)
        .begin_log_with(&mut out, &mut ser)
        .map_err(|e| e.to_string())?;
    let (_, mut prev) = query(client)?;
    let t0 = std::time::Instant::now();
    for i in 0..count {
        std::thread::sleep(every);
        let (_, now) = query(client)?;
        let mut delta = now.clone();
        delta.subtract(&prev).map_err(|e| format!("{e:?}"))?;
        let begin = every * i;
        log.write_histogram(
            &delta,
            begin,
            t0.elapsed().saturating_sub(begin).min(every),
            None,
        )
        .map_err(|e| format!("{e:?}"))?;
        prev = now;
    }
    Ok(())
}
