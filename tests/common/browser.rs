//! Real-browser runs of `tests/browser/run.sh` (headless Chromium with JsSIP or SIP.js, the real
//! `ferry` binary, sipp as the trunk, all in private network and PID namespaces), shared by
//! tests/browser_calls.rs and tests/trunk_features.rs: at most two runs at once per test binary,
//! the JSON line run.sh prints, and the checks every call must pass.
//!
//! Each run.sh is its own network namespace with its own loopback, so runs use the same ports
//! without meeting. Needs root (unshare), chromium, node with `npm ci --prefix tests/browser`,
//! sipp, dumpcap and tshark. `FERRY_SKIP_BROWSER=1` skips these tests; CI must not set it.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use super::ferry::{Proc, require_tools, test_dir};
use serde_json::Value;

/// Browser runs at once.
const SLOTS: usize = 2;
static RUNNING: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

pub struct Slot;

impl Slot {
    pub fn take() -> Self {
        let (m, cv) = &RUNNING;
        let mut n = m.lock().unwrap_or_else(|e| e.into_inner());
        while *n >= SLOTS {
            n = cv.wait(n).unwrap_or_else(|e| e.into_inner());
        }
        *n += 1;
        Slot
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let (m, cv) = &RUNNING;
        *m.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        cv.notify_one();
    }
}

pub fn skipped() -> bool {
    if std::env::var("FERRY_SKIP_BROWSER").is_ok_and(|v| v == "1") {
        eprintln!("FERRY_SKIP_BROWSER=1: browser test skipped");
        return true;
    }
    false
}

pub fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// What one run.sh printed.
pub struct Run {
    pub json: Value,
    pub stderr: String,
}

/// Runs `tests/browser/run.sh ARGS` against this build's ferry; panics (with run.sh's stderr,
/// which has ferry's, sipp's and the browser's logs on failure) unless it exits 0.
pub fn run_browser(args: &[&str]) -> Run {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    assert!(
        root,
        "browser tests need root (unshare --net --pid); FERRY_SKIP_BROWSER=1 skips them"
    );
    require_tools(&[
        "unshare", "ip", "node", "curl", "timeout", "setsid", "chromium", "sipp", "dumpcap",
        "tshark", "python3",
    ]);
    assert!(
        browser_dir().join("node_modules/playwright-core").is_dir(),
        "run `npm ci --prefix tests/browser` first (playwright-core drives Chromium)"
    );
    let _slot = Slot::take();
    let dir = test_dir("browser");
    let (out_path, err_path) = (dir.join("stdout.json"), dir.join("stderr.log"));
    let mut cmd = Command::new("bash");
    cmd.arg(browser_dir().join("run.sh"))
        .args(args)
        .env("FERRY_BIN", env!("CARGO_BIN_EXE_ferry"))
        .env("RUN_TIMEOUT", "110")
        .env("TMPDIR", &dir);
    let out = std::fs::File::create(&out_path).unwrap();
    let err = std::fs::File::create(&err_path).unwrap();
    let mut p = Proc::spawn_to("run.sh", cmd, out, err, err_path.clone());
    let status = p.wait_exit(Duration::from_secs(130));
    drop(p);
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    let status = status.unwrap_or_else(|| panic!("run.sh {args:?} still running after 130 s"));
    assert!(
        status.success(),
        "run.sh {args:?} failed ({status}):\nstdout: {stdout}\nstderr:\n{stderr}"
    );
    let line = stdout.lines().rev().find(|l| l.starts_with('{'));
    let json: Value = line
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("run.sh {args:?}: no JSON line on stdout: {stdout:?}"));
    let _ = std::fs::remove_dir_all(&dir);
    Run { json, stderr }
}

/// Who should have ended the call, as call.mjs reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ender {
    Browser,
    Remote,
}

/// The checks every call must pass: call.mjs's verdict, the tone back within 30 Hz of 1,230,
/// over 50 packets in, the key pressed, the call ended by the right side.
pub fn check_call(run: &Run, lib: &str, ender: Ender) {
    let j = &run.json;
    let ctx = || format!("{j}\nstderr:\n{}", run.stderr);
    assert_eq!(j["ok"], Value::Bool(true), "call.mjs verdict: {}", ctx());
    assert_eq!(j["failures"], serde_json::json!([]), "{}", ctx());
    assert_eq!(j["lib"], lib, "{}", ctx());
    let hz = j["toneHz"]
        .as_f64()
        .unwrap_or_else(|| panic!("no toneHz: {}", ctx()));
    assert!(
        (hz - 1230.0).abs() <= 30.0,
        "tone {hz} Hz, want 1230: {}",
        ctx()
    );
    for key in ["stats", "statsEnd"] {
        let n = j[key]["inboundPackets"].as_u64().unwrap_or(0);
        assert!(n > 50, "{key}.inboundPackets {n}: {}", ctx());
    }
    assert_eq!(j["dtmf"], serde_json::json!(["5"]), "{}", ctx());
    assert_eq!(j["state"], "ended", "{}", ctx());
    let by = match ender {
        Ender::Browser => "local",
        Ender::Remote => "remote",
    };
    assert_eq!(j["endedBy"], by, "{}", ctx());
}

/// The browser's key "5" reached sipp as RFC 4733 telephone-event packets with payload type
/// 101 (what sipp's answer declares; the browser itself uses 126), as captured at sipp's media
/// port; and the media got there too.
pub fn check_dtmf_at_sipp(run: &Run) {
    let c = &run.json["capture"];
    let ctx = || format!("capture: {c}\nstderr:\n{}", run.stderr);
    let rtp = c["rtpToSipp"].as_u64().unwrap_or(0);
    assert!(rtp > 50, "RTP packets that reached sipp: {rtp}: {}", ctx());
    let pt101 = c["pt101"].as_u64().unwrap_or(0);
    assert!(
        pt101 > 0,
        "no telephone-event (PT 101) packet reached sipp: {}",
        ctx()
    );
    assert_eq!(
        c["events"],
        serde_json::json!([5]),
        "event codes: {}",
        ctx()
    );
    assert!(
        c["eventEnds"].as_u64().unwrap_or(0) >= 1,
        "no end-of-event packet: {}",
        ctx()
    );
    assert_eq!(
        c["eventTimestamps"],
        1,
        "one key press is one event: {}",
        ctx()
    );
    let browser_pt = c["payloadTypes"]["126"].as_u64().unwrap_or(0);
    assert_eq!(
        browser_pt,
        0,
        "the browser's PT 126 leaked to the trunk: {}",
        ctx()
    );
}
