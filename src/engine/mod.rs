//! The packet engine: one shard per core, each with its own event loop, sockets, buffers,
//! sessions and counters, plus a control thread that speaks the control channel.
//!
//! ```text
//!  signaling ──unix socket──> control thread ──Cmd queue + waker──> shard 0..N (pinned)
//!            <──events─────── event thread  <──Event queue──────────┘
//! ```

pub mod dtmf;
pub mod ice;
pub mod io;
pub mod ports;
pub mod quality;
pub mod server;
pub mod session;
pub mod shard;
pub mod stats;

use std::net::IpAddr;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam::channel::unbounded;

use self::io::{BackendKind, LoopConfig, Waker};
use self::ports::PortAllocator;
use self::server::{Control, ShardLink};
use self::shard::{Shard, ShardConfig};

/// Everything the engine needs to start.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Shards to run; 0 means one per available core.
    pub shards: usize,
    /// Pin shard `i` to core `i`.
    pub pin: bool,
    /// I/O backend.
    pub backend: BackendKind,
    /// Event-loop tuning.
    pub io: LoopConfig,
    /// Control socket path.
    pub control_socket: PathBuf,
    /// IPv4 address media sockets bind to.
    pub media_v4: Option<IpAddr>,
    /// IPv6 address media sockets bind to.
    pub media_v6: Option<IpAddr>,
    /// First media port.
    pub port_min: u16,
    /// Last media port.
    pub port_max: u16,
    /// Sessions with no accepted packet for this long are removed.
    pub idle_timeout: Duration,
    /// ICE consent lifetime (RFC 7675 §5.1: 30 s).
    pub consent_timeout: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            shards: 0,
            pin: true,
            backend: BackendKind::Auto,
            io: LoopConfig::default(),
            control_socket: PathBuf::from("/run/ferry/engine.sock"),
            media_v4: Some(IpAddr::from([0, 0, 0, 0])),
            media_v6: None,
            port_min: 20_000,
            port_max: 59_999,
            idle_timeout: Duration::from_secs(60),
            consent_timeout: Duration::from_secs(30),
        }
    }
}

/// A running engine.
#[derive(Debug)]
pub struct Engine {
    control: Arc<Control>,
    shards: Vec<JoinHandle<std::io::Result<()>>>,
    socket: PathBuf,
}

impl Engine {
    /// Binds the control socket, starts the shards and the control threads.
    pub fn start(cfg: EngineConfig) -> std::io::Result<Self> {
        let n = if cfg.shards == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            cfg.shards
        };
        let ports = PortAllocator::new(cfg.media_v4, cfg.media_v6, cfg.port_min, cfg.port_max)?;
        // Sockets are made by the control thread as calls arrive; lift the descriptor limit first.
        if let Err(e) = io::raise_fd_limit() {
            tracing::warn!("cannot raise the open-file limit: {e}");
        }
        let _ = std::fs::remove_file(&cfg.control_socket);
        let listener = UnixListener::bind(&cfg.control_socket)?;
        let (ev_tx, ev_rx) = unbounded();
        let mut links = Vec::new();
        let mut threads = Vec::new();
        for i in 0..n {
            let (tx, rx) = unbounded();
            let waker = Arc::new(Waker::new()?);
            links.push(ShardLink {
                cmds: tx,
                waker: Arc::clone(&waker),
            });
            let scfg = ShardConfig {
                index: i as u16,
                idle_timeout: cfg.idle_timeout,
                consent_timeout: cfg.consent_timeout,
            };
            let shard = Shard::new(scfg, rx, ev_tx.clone());
            let (kind, io_cfg, pin) = (cfg.backend, cfg.io.clone(), cfg.pin);
            threads.push(
                std::thread::Builder::new()
                    .name(format!("ferry-shard-{i}"))
                    .spawn(move || {
                        if pin {
                            if let Err(e) = io::pin_current_thread(i) {
                                tracing::warn!("shard {i}: cannot pin to core {i}: {e}");
                            }
                        }
                        let mut shard = shard;
                        io::run(kind, &io_cfg, &waker, &mut shard)
                    })?,
            );
        }
        drop(ev_tx);
        let control = Control::new(links, ports);
        let c = Arc::clone(&control);
        std::thread::Builder::new()
            .name("ferry-events".into())
            .spawn(move || c.pump_events(ev_rx))?;
        let c = Arc::clone(&control);
        std::thread::Builder::new()
            .name("ferry-control".into())
            .spawn(move || c.serve(listener))?;
        Ok(Self {
            control,
            shards: threads,
            socket: cfg.control_socket,
        })
    }

    /// The control socket path.
    pub fn socket(&self) -> &std::path::Path {
        &self.socket
    }

    /// Stops the shards and waits for them; returns the first shard error, if any.
    pub fn shutdown(self) -> std::io::Result<()> {
        self.control.stop_shards();
        self.wait()
    }

    /// Waits for the shards to end (they run until stopped); returns the first shard error.
    pub fn wait(self) -> std::io::Result<()> {
        let mut result = Ok(());
        for t in self.shards {
            let r = t
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("shard panicked")));
            if result.is_ok() {
                result = r;
            }
        }
        let _ = std::fs::remove_file(&self.socket);
        result
    }
}
