//! `ferry-perf calls`: call setups per second through Ferry, from a scripted browser.
//!
//! Each call does what a browser must before media flows, over real sockets: a WebSocket with
//! the `sip` subprotocol, a JsSIP-shaped INVITE with a WebRTC offer ([`sip`]), the 200 OK parsed
//! with Ferry's own `parse_webrtc`, ACK, one ICE check with USE-CANDIDATE ([`ice`]), the DTLS
//! handshake in the client role with Ferry's fingerprint verified, and SRTP packets that must come
//! back decrypted through the trunk's echo ([`media`]). A setup counts once that echo arrives (or
//! once DTLS is Connected with `--no-media`); the latency reported is INVITE sent -> DTLS
//! Connected, with the other steps beside it. Then the call holds and hangs up with BYE.
//!
//! Load is closed-loop (at most `--concurrency` calls in flight), optionally capped at `--rate`
//! new calls per second. Every wait has a deadline, so the run always ends by itself.

mod call;
mod ice;
mod media;
mod report;
mod sip;

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_signaling::dtls::Certificate;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use media::Timeouts;

/// `ferry-perf calls` options.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Ferry's SIP-over-WebSocket URL.
    #[arg(long, default_value = "ws://127.0.0.1:8080/sip")]
    ws: String,
    /// Request-URI user: a trunk destination (e.g. `sipp`), or `echo` for Ferry's own echo.
    #[arg(long, default_value = "sipp")]
    dest: String,
    /// Calls to place.
    #[arg(long, default_value_t = 1000)]
    calls: u32,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 50)]
    concurrency: u32,
    /// New calls per second at most (0 = as fast as the concurrency allows).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// How long each call stays up after its setup, in milliseconds.
    #[arg(long, default_value_t = 0)]
    hold_ms: u64,
    /// Do not send SRTP: a setup counts at DTLS Connected.
    #[arg(long)]
    no_media: bool,
    /// Seconds to wait for each SIP final response (and for the WebSocket).
    #[arg(long, default_value_t = 10.0)]
    sip_timeout: f64,
    /// Seconds for the ICE check, the DTLS handshake and the first echo, each.
    #[arg(long, default_value_t = 5.0)]
    media_timeout: f64,
    /// Address the UDP sockets bind to (the offered host candidate).
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Processes to report CPU for (default: every `ferry engine|signal|up` found); others, such
    /// as the sipp UAS, are reported by name but not counted as Ferry's.
    #[arg(long, value_delimiter = ',')]
    pids: Vec<u32>,
    /// Worker threads of this tool's runtime.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Write the JSON summary here ("-" for stdout).
    #[arg(long)]
    json: Option<PathBuf>,
}

/// What every call shares.
#[derive(Debug)]
pub struct Plan {
    ws: String,
    dest: String,
    domain: String,
    bind: IpAddr,
    /// One certificate per run: a browser profile keeps one too.
    cert: Certificate,
    fingerprint: String,
    media: bool,
    hold: Duration,
    sip_timeout: Duration,
    timeouts: Timeouts,
}

/// Why a call did not set up (or did not tear down).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// WebSocket connect, send or unexpected close.
    Connect(String),
    /// A SIP final response other than 2xx.
    SipStatus(u16),
    /// No final response in time.
    SipTimeout,
    /// A 200 whose SDP cannot start media.
    BadAnswer(&'static str),
    /// No STUN success response in time.
    IceTimeout,
    /// A STUN error response.
    IceError(u16),
    /// A STUN response that failed a check.
    IceInvalid(&'static str),
    /// The DTLS handshake did not finish in time.
    DtlsTimeout,
    /// The DTLS handshake failed (alert, fingerprint mismatch).
    Dtls(String),
    /// No echoed SRTP packet decrypted in time.
    MediaTimeout,
    /// SRTP setup failed locally.
    Media(String),
    /// A local socket error.
    Io(String),
}

impl Failure {
    /// The bucket a failure is counted in.
    pub fn cause(&self) -> String {
        match self {
            Failure::Connect(e) => format!("websocket: {e}"),
            Failure::SipStatus(s) => format!("sip {s}"),
            Failure::SipTimeout => "sip timeout".into(),
            Failure::BadAnswer(w) => format!("bad answer: {w}"),
            Failure::IceTimeout => "ice timeout".into(),
            Failure::IceError(c) => format!("ice error {c}"),
            Failure::IceInvalid(w) => format!("ice invalid {w}"),
            Failure::DtlsTimeout => "dtls timeout".into(),
            Failure::Dtls(e) => format!("dtls: {e}"),
            Failure::MediaTimeout => "srtp echo timeout".into(),
            Failure::Media(e) => format!("srtp: {e}"),
            Failure::Io(e) => format!("io: {e}"),
        }
    }
}

/// Runs the benchmark and prints (or writes) the report.
pub fn main(args: Args) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let report = rt.block_on(run(&args))?;
    let text = match &args.json {
        Some(_) => serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?,
        None => report.render(),
    };
    match &args.json {
        Some(p) if p.as_os_str() == "-" => println!("{text}"),
        Some(p) => {
            std::fs::write(p, &text).map_err(|e| format!("{}: {e}", p.display()))?;
            print!("{}", report.render());
        }
        None => print!("{text}"),
    }
    Ok(())
}

async fn run(args: &Args) -> Result<report::Report, String> {
    let cert = Certificate::generate().map_err(|e| e.to_string())?;
    let domain = host_of(&args.ws).ok_or_else(|| format!("{}: no host", args.ws))?;
    let media_timeout = Duration::from_secs_f64(args.media_timeout);
    let plan = Arc::new(Plan {
        ws: args.ws.clone(),
        dest: args.dest.clone(),
        domain,
        bind: args.bind,
        fingerprint: cert.fingerprint_sha256(),
        cert,
        media: !args.no_media,
        hold: Duration::from_millis(args.hold_ms),
        sip_timeout: Duration::from_secs_f64(args.sip_timeout),
        timeouts: Timeouts {
            ice: media_timeout,
            dtls: media_timeout,
            media: media_timeout,
        },
    });
    let cpu = report::CpuProbe::start(&args.pids);
    let limit = Arc::new(Semaphore::new(args.concurrency.max(1) as usize));
    let mut tasks = JoinSet::new();
    let start = Instant::now();
    for i in 0..args.calls {
        if args.rate > 0.0 {
            let at = start + Duration::from_secs_f64(f64::from(i) / args.rate);
            tokio::time::sleep_until(at.into()).await;
        }
        let permit = limit
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let plan = plan.clone();
        tasks.spawn(async move {
            let outcome = call::run(plan).await;
            drop(permit);
            outcome
        });
    }
    let mut outcomes = Vec::with_capacity(args.calls as usize);
    while let Some(r) = tasks.join_next().await {
        outcomes.push(r.map_err(|e| format!("call task: {e}"))?);
    }
    let end = Instant::now();
    let params = report::Params {
        dest: args.dest.clone(),
        calls: args.calls,
        concurrency: args.concurrency,
        rate: args.rate,
        hold_ms: args.hold_ms,
        media: !args.no_media,
    };
    Ok(report::Report::build(
        params,
        start,
        end,
        &outcomes,
        cpu.finish(),
    ))
}

/// The host of `ws://HOST:PORT/...`, used as the SIP domain (Ferry does not route on it).
fn host_of(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let hostport = rest.split('/').next()?;
    let host = match hostport.strip_prefix('[') {
        Some(v6) => format!("[{}]", v6.split(']').next()?),
        None => hostport.split(':').next()?.to_string(),
    };
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_of_urls() {
        assert_eq!(
            super::host_of("ws://127.0.0.1:8080/sip").as_deref(),
            Some("127.0.0.1")
        );
        assert_eq!(
            super::host_of("ws://[::1]:8080/sip").as_deref(),
            Some("[::1]")
        );
        assert_eq!(super::host_of("nonsense"), None);
    }
}
