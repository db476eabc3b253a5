//! `ferry up`: the engine and the signaling process as two child processes of one supervisor.
//!
//! Two processes, not two threads, so that either can restart without the other: when
//! signaling dies, the engine keeps forwarding the calls it carries and the new signaling
//! process lists them; when the engine dies, its calls are gone and signaling reconnects to the
//! new one. Each child is restarted with a growing pause, and a Ctrl-C or SIGTERM stops both.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use super::{SignalArgs, UpArgs};

/// Longest pause between restarts of a child that keeps dying.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Where `ferry up` keeps its socket and state when not told: system paths as root, else the
/// user's runtime directory.
fn default_dir() -> (PathBuf, PathBuf) {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        return (PathBuf::from("/run/ferry"), PathBuf::from("/var/lib/ferry"));
    }
    let base = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("ferry-{}", std::process::id()));
    let state = std::env::var_os("HOME")
        .map(|h| PathBuf::from(h).join(".local/state/ferry"))
        .unwrap_or_else(|| base.join("state"));
    (base, state)
}

struct Supervised {
    name: &'static str,
    args: Vec<String>,
    child: Option<Child>,
    backoff: Duration,
    restart_at: Option<Instant>,
    started: Instant,
}

impl Supervised {
    fn new(name: &'static str, args: Vec<String>) -> Self {
        Self {
            name,
            args,
            child: None,
            backoff: Duration::from_millis(250),
            restart_at: Some(Instant::now()),
            started: Instant::now(),
        }
    }

    fn spawn(&mut self, exe: &Path) {
        match Command::new(exe).args(&self.args).spawn() {
            Ok(c) => {
                self.child = Some(c);
                self.started = Instant::now();
                self.restart_at = None;
            }
            Err(e) => {
                eprintln!("ferry up: starting {}: {e}", self.name);
                self.schedule();
            }
        }
    }

    fn schedule(&mut self) {
        self.restart_at = Some(Instant::now() + self.backoff);
        self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
    }

    /// Reaps the child if it exited and schedules its restart.
    fn poll(&mut self) {
        let Some(c) = self.child.as_mut() else { return };
        if let Ok(Some(status)) = c.try_wait() {
            eprintln!("ferry up: {} exited ({status}); restarting", self.name);
            self.child = None;
            if self.started.elapsed() > Duration::from_secs(30) {
                self.backoff = Duration::from_millis(250);
            }
            self.schedule();
        }
    }

    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill(2) on our own child's pid; the worst case is ESRCH.
            unsafe { libc::kill(c.id() as libc::pid_t, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn signal_argv(s: &SignalArgs, socket: &Path, state: &Path) -> Vec<String> {
    let mut v = vec!["signal".to_string()];
    let mut push = |k: &str, val: String| {
        v.push(k.to_string());
        v.push(val);
    };
    if let Some(c) = &s.config {
        push("--config", c.display().to_string());
    }
    push("--socket", socket.display().to_string());
    if let Some(h) = s.http {
        push("--http", h.to_string());
    }
    if let Some(h) = s.https {
        push("--https", h.to_string());
    }
    if let Some(t) = &s.trunk {
        push("--trunk", t.clone());
    }
    if let Some(l) = s.sip_listen {
        push("--sip-listen", l.to_string());
    }
    push("--state-dir", state.display().to_string());
    v
}

/// Runs both processes until Ctrl-C or SIGTERM.
pub fn run(args: UpArgs) -> Result<(), String> {
    // Check the configuration here, so a bad file stops `ferry up` at once with the reason
    // instead of a child that dies and restarts forever.
    let cfg = super::signal_config(&args.signal)?;
    let (run_dir, state_default) = default_dir();
    let socket = args
        .signal
        .socket
        .clone()
        .unwrap_or_else(|| run_dir.join("engine.sock"));
    let state = args.signal.state_dir.clone().unwrap_or_else(|| {
        if args.signal.config.is_some() {
            cfg.state_dir.clone()
        } else {
            state_default
        }
    });
    if let Some(dir) = socket.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let exe = std::env::current_exe().map_err(|e| format!("own path: {e}"))?;
    let mut engine_argv = vec![
        "engine".to_string(),
        "--socket".into(),
        socket.display().to_string(),
        "--ports".into(),
        format!("{}-{}", args.ports.0, args.ports.1),
        "--shards".into(),
        args.shards.to_string(),
    ];
    if args.no_pin {
        engine_argv.push("--no-pin".into());
    }
    let mut children = [
        Supervised::new("engine", engine_argv),
        Supervised::new("signaling", signal_argv(&args.signal, &socket, &state)),
    ];
    let stop = install_stop_flag();
    eprintln!(
        "ferry up: engine socket {}, state in {}",
        socket.display(),
        state.display()
    );
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        for c in &mut children {
            c.poll();
            if c.restart_at.is_some_and(|t| Instant::now() >= t) {
                c.spawn(&exe);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("ferry up: stopping");
    // Signaling first, so it does not report the engine's exit as a failure.
    for c in children.iter_mut().rev() {
        c.stop();
    }
    Ok(())
}

static STOP: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, std::sync::atomic::Ordering::Relaxed);
}

fn install_stop_flag() -> &'static std::sync::atomic::AtomicBool {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe { libc::signal(sig, on_signal as *const () as libc::sighandler_t) };
    }
    &STOP
}
