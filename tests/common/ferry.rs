//! The real `ferry` binary and sipp as child processes of a test: free ports, a private
//! directory, readiness checks, and a Drop guard that kills each whole process group (a panic
//! included), so no test leaves a process behind.

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Panics with a clear message when a tool the test needs is not installed.
pub fn require_tools(tools: &[&str]) {
    for t in tools {
        let found = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).any(|d| d.join(t).is_file()))
            .unwrap_or(false);
        assert!(
            found,
            "this test needs `{t}` on PATH (Debian: see .ci/run; sipp is package sip-tester)"
        );
    }
}

/// A fresh directory for one test's socket, state, config and logs.
pub fn test_dir(tag: &str) -> PathBuf {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("ferry-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("test directory");
    dir
}

/// A loopback TCP port free right now.
pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// A loopback UDP port free right now (and, with `pair`, its successor too: sipp's media port
/// and the one after it).
pub fn free_udp_port(pair: bool) -> u16 {
    for _ in 0..100 {
        let s = UdpSocket::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = s.local_addr().unwrap().port();
        if !pair || (port < u16::MAX && UdpSocket::bind(("127.0.0.1", port + 1)).is_ok()) {
            return port;
        }
    }
    panic!("no free UDP port pair on loopback");
}

/// A media port block no other Ferry of this test run (nor the engine tests' 20000-59999
/// blocks, nor the kernel's ephemeral ports) uses: 400 ports, by process and by start.
pub fn media_block() -> (u16, u16) {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let base = 61_000 + (std::process::id() % 2) as u16 * 2_000 + (n % 5) as u16 * 400;
    (base, base + 399)
}

/// A child in its own process group; dropping it kills the group.
#[derive(Debug)]
pub struct Proc {
    pub name: &'static str,
    pub child: Child,
    pub log: PathBuf,
    done: Option<ExitStatus>,
}

impl Proc {
    /// Spawns `cmd` in a new process group, stdout and stderr to `log`.
    pub fn spawn(name: &'static str, cmd: Command, log: PathBuf) -> Self {
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        Self::spawn_to(name, cmd, out, err, log)
    }

    /// Spawns `cmd` in a new process group with its own stdout and stderr (`log` names the
    /// one printed on a panic).
    pub fn spawn_to(
        name: &'static str,
        mut cmd: Command,
        out: std::fs::File,
        err: std::fs::File,
        log: PathBuf,
    ) -> Self {
        cmd.stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name}: {e}"));
        Self {
            name,
            child,
            log,
            done: None,
        }
    }

    /// Its exit status if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.done.is_none() {
            self.done = self.child.try_wait().expect("try_wait");
        }
        self.done
    }

    /// Waits for the exit, at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let end = Instant::now() + limit;
        while Instant::now() < end {
            if let Some(s) = self.exited() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.exited()
    }

    /// The log so far (lossy UTF-8).
    pub fn log_text(&self) -> String {
        let mut s = Vec::new();
        if let Ok(mut f) = std::fs::File::open(&self.log) {
            let _ = f.read_to_end(&mut s);
        }
        String::from_utf8_lossy(&s).into_owned()
    }

    fn kill_group(&mut self) {
        let pgid = self.child.id() as i32;
        // SAFETY: kill(2) with a negative pid signals our own child's process group; no memory
        // is involved.
        unsafe { libc::kill(-pgid, libc::SIGTERM) };
        if self.wait_exit(Duration::from_secs(3)).is_none() {
            // SAFETY: as above.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            let _ = self.child.wait();
        }
        // Whatever else is left in the group (children of a child that exited first).
        // SAFETY: as above; ESRCH when the group is empty is fine.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill_group();
        if std::thread::panicking() {
            let text = self.log_text();
            let tail: Vec<&str> = text.lines().rev().take(80).collect();
            eprintln!(
                "---- {} log ({}), last lines ----",
                self.name,
                self.log.display()
            );
            for l in tail.iter().rev() {
                eprintln!("{l}");
            }
        }
    }
}

/// How to start Ferry.
#[derive(Debug, Default)]
pub struct FerryOpts {
    /// TOML written to `ferry.toml` and passed with `--config`.
    pub config: Option<String>,
    /// The trunk's SIP port on 127.0.0.1 (none: a free port nothing listens on).
    pub trunk_port: Option<u16>,
}

/// A running `ferry up` on loopback.
#[derive(Debug)]
pub struct Ferry {
    pub http: SocketAddr,
    pub sip: SocketAddr,
    pub trunk: SocketAddr,
    pub socket: PathBuf,
    pub dir: PathBuf,
    pub proc: Proc,
}

impl Ferry {
    /// Starts `ferry up` with the flags tests/browser/run.sh passes, plus a private media port
    /// block, one unpinned shard, and waits until HTTP answers and the engine socket exists.
    pub fn start(tag: &str, opts: FerryOpts) -> Self {
        Self::start_in(&test_dir(tag), opts)
    }

    /// [`Ferry::start`] in an existing directory: a restart that keeps the state directory.
    pub fn start_in(dir: &Path, opts: FerryOpts) -> Self {
        let dir = dir.to_path_buf();
        let http = SocketAddr::from(([127, 0, 0, 1], free_tcp_port()));
        let sip = SocketAddr::from(([127, 0, 0, 1], free_udp_port(false)));
        let trunk = SocketAddr::from((
            [127, 0, 0, 1],
            opts.trunk_port.unwrap_or_else(|| free_udp_port(false)),
        ));
        let socket = dir.join("engine.sock");
        let (lo, hi) = media_block();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
        cmd.arg("up")
            .args(["--http", &http.to_string()])
            .arg("--socket")
            .arg(&socket)
            .arg("--state-dir")
            .arg(dir.join("state"))
            .args(["--trunk", &format!("sip:{trunk}")])
            .args(["--sip-listen", &sip.to_string()])
            .args(["--ports", &format!("{lo}-{hi}")])
            .args(["--shards", "1", "--no-pin"]);
        if let Some(toml) = &opts.config {
            let path = dir.join("ferry.toml");
            std::fs::write(&path, toml).expect("write config");
            cmd.arg("--config").arg(path);
        }
        if std::env::var_os("RUST_LOG").is_none() {
            cmd.env("RUST_LOG", "info");
        }
        let mut proc = Proc::spawn("ferry", cmd, dir.join("ferry.log"));
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = proc.exited() {
                panic!("ferry up exited during startup ({s}):\n{}", proc.log_text());
            }
            if socket.exists() && http_get(http, "/healthz").is_some_and(|r| r.contains(" 200 ")) {
                break;
            }
            assert!(
                Instant::now() < end,
                "ferry up not ready in 30 s:\n{}",
                proc.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            http,
            sip,
            trunk,
            socket,
            dir,
            proc,
        }
    }

    /// `ws://HOST:PORT/sip`.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/sip", self.http)
    }

    /// The engine's sessions, through the control channel (a second client beside signaling).
    pub fn sessions(&self) -> Vec<::ferry::control::SessionInfo> {
        use ::ferry::control::{Client, Message};
        let path = self.socket.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let r = Client::connect(&path).and_then(|mut c| c.request(&Message::List));
            let _ = tx.send(r);
        });
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(Ok(Message::Sessions(v))) => v,
            Ok(Ok(other)) => panic!("List answered with {other:?}"),
            Ok(Err(e)) => panic!("control channel {}: {e}", self.socket.display()),
            Err(_) => panic!("control channel: no answer to List in 5 s"),
        }
    }

    /// Polls until the engine has `n` sessions, at most `limit`; returns the last count.
    pub fn wait_sessions(&self, n: usize, limit: Duration) -> usize {
        let end = Instant::now() + limit;
        loop {
            let got = self.sessions().len();
            if got == n || Instant::now() >= end {
                return got;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A minimal HTTP/1.1 GET on loopback: the whole response, or None if nothing answered.
pub fn http_get(addr: SocketAddr, path: &str) -> Option<String> {
    use std::io::Write;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// sipp as the trunk: `scenario` on 127.0.0.1:`port`, media on `media_port`, `calls` calls, its
/// messages traced to `sipp-messages.log` in `dir`.
pub fn start_sipp(dir: &Path, scenario: &Path, port: u16, calls: u32, extra: &[&str]) -> Proc {
    let media_port = free_udp_port(true);
    let mut cmd = Command::new("sipp");
    cmd.current_dir(dir)
        .arg("-sf")
        .arg(scenario)
        .args(["-i", "127.0.0.1", "-p", &port.to_string()])
        .args(["-mp", &media_port.to_string(), "-rtp_echo"])
        .args([
            "-m",
            &calls.to_string(),
            "-nostdin",
            "-timeout",
            "90",
            "-timeout_error",
        ])
        .args(["-trace_msg", "-message_file"])
        .arg(dir.join("sipp-messages.log"))
        .args(["-trace_err", "-error_file"])
        .arg(dir.join("sipp-errors.log"))
        .args(extra);
    let mut p = Proc::spawn("sipp", cmd, dir.join("sipp.log"));
    std::thread::sleep(Duration::from_millis(300));
    if let Some(s) = p.exited() {
        panic!("sipp exited during startup ({s}):\n{}", p.log_text());
    }
    p
}

/// How many requests of `method` sipp received, from its message trace.
pub fn sipp_received(dir: &Path, method: &str) -> usize {
    let text = std::fs::read_to_string(dir.join("sipp-messages.log")).unwrap_or_default();
    let start = format!("{method} ");
    let mut n = 0;
    let mut received = false;
    for line in text.lines() {
        if line.contains("message received") {
            received = true;
        } else if line.contains("message sent") {
            received = false;
        } else if received && line.starts_with(&start) && line.ends_with("SIP/2.0") {
            n += 1;
            received = false;
        }
    }
    n
}

/// `ferry up` with `config` and its trunk on a free UDP port, and sipp (required) answering
/// there with the fixture `scenario` for `calls` calls.
pub fn start_with_sipp(tag: &str, config: &str, scenario: &str, calls: u32) -> (Ferry, Proc) {
    require_tools(&["sipp"]);
    let port = free_udp_port(false);
    let ferry = Ferry::start(
        tag,
        FerryOpts {
            config: Some(config.into()),
            trunk_port: Some(port),
        },
    );
    let scenario = super::fixture_path(scenario);
    let sipp = start_sipp(&ferry.dir, &scenario, port, calls, &[]);
    (ferry, sipp)
}

/// Fetches a challenge from `/api/challenge` and solves it the way the page does
/// (SHA-256(salt || nonce) with `bits` leading zero bits): the `X-Ferry-Captcha` value `id:nonce`.
pub fn solved_captcha(ferry: &Ferry) -> String {
    let resp = http_get(ferry.http, "/api/challenge").expect("challenge");
    let body = resp.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let field = |k: &str| {
        let at = body.find(&format!("\"{k}\":")).unwrap() + k.len() + 3;
        body[at..]
            .trim_start()
            .trim_start_matches('"')
            .split(['"', ',', '}'])
            .next()
            .unwrap()
            .to_string()
    };
    let bits: u8 = field("bits").parse().unwrap();
    let (id, salt) = (field("id"), field("salt"));
    let nonce = (0u64..)
        .find(|n| ferry_signaling::abuse::captcha::solves(&salt, &n.to_string(), bits))
        .unwrap();
    format!("{id}:{nonce}")
}
