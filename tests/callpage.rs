//! The click-to-call page (`signaling/assets/call.html`) in headless Chromium, through
//! `tests/browser/run-callpage.sh` (private network and PID namespaces): every state of the page is
//! reached, its visible text checked and a screenshot taken (kept under
//! `target/tmp/callpage-*/`, so a failed run can be looked at).
//!
//! - `call_page_states_against_a_stub`: no Ferry; `callpage-stub.mjs` plays Ferry's HTTP API and
//!   SIP over WebSocket, and a test page answers as the service, so the call connects with media.
//! - `call_page_calls_sipp_through_ferry`: the real binary, a service `sales` routed to a sipp UAS
//!   that echoes; DTMF seen arriving at sipp; 403 for an unknown destination and a bad link.
//!
//! Needs root (unshare), chromium, node with `npm ci --prefix tests/browser`, and for the second
//! sipp, dumpcap and tshark. `FERRY_SKIP_BROWSER=1` skips them (quick local runs); CI must not.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;

use serde_json::Value;

/// One Chromium at a time from this binary (2-core CI).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn skipped() -> bool {
    if std::env::var("FERRY_SKIP_BROWSER").is_ok_and(|v| v == "1") {
        eprintln!("FERRY_SKIP_BROWSER=1: browser test skipped");
        return true;
    }
    false
}

struct Run {
    json: Value,
    stderr: String,
    shots: PathBuf,
}

/// Runs run-callpage.sh MODE; panics with its stderr (ferry's, sipp's and the browser's logs on
/// failure) unless it exits 0 with a JSON line.
fn run_callpage(mode: &str) -> Run {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let uid = Command::new("id").arg("-u").output().expect("run id -u");
    assert_eq!(
        String::from_utf8_lossy(&uid.stdout).trim(),
        "0",
        "the call-page tests need root (unshare --net --pid); FERRY_SKIP_BROWSER=1 skips them"
    );
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .is_dir(),
        "run `npm ci --prefix tests/browser` first (playwright-core drives Chromium)"
    );
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "callpage-{}-{}",
        mode.trim_start_matches('-'),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let shots = dir.join("shots");
    let out = Command::new("bash")
        .arg(root.join("tests/browser/run-callpage.sh"))
        .args([mode, "--shots"])
        .arg(&shots)
        .env("FERRY_BIN", env!("CARGO_BIN_EXE_ferry"))
        .env("RUN_TIMEOUT", "150")
        .env("TMPDIR", &dir)
        .output()
        .expect("run tests/browser/run-callpage.sh");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "run-callpage.sh {mode} failed ({}):\nstdout: {stdout}\nstderr:\n{stderr}",
        out.status
    );
    let json = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .and_then(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| panic!("run-callpage.sh {mode}: no JSON line: {stdout:?}"));
    Run {
        json,
        stderr,
        shots,
    }
}

impl Run {
    fn step(&self, name: &str) -> &Value {
        self.json["steps"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["name"] == name))
            .unwrap_or_else(|| panic!("no step {name}: {}", self.json))
    }

    /// The step passed, shows this state and text, and its screenshot is a real image.
    fn check(&self, name: &str, state: &str, text: Option<&str>) {
        let s = self.step(name);
        let ctx = || format!("step {name}: {s}\nstderr:\n{}", self.stderr);
        assert_eq!(s["ok"], true, "{}", ctx());
        assert_eq!(s["state"], state, "{}", ctx());
        if let Some(text) = text {
            assert_eq!(s["text"], text, "{}", ctx());
        }
        let file = PathBuf::from(
            s["screenshot"]
                .as_str()
                .unwrap_or_else(|| panic!("no screenshot: {}", ctx())),
        );
        assert!(
            file.starts_with(&self.shots),
            "screenshot outside {:?}: {}",
            self.shots,
            ctx()
        );
        let bytes = std::fs::read(&file).unwrap_or_else(|e| panic!("{file:?}: {e}: {}", ctx()));
        assert!(
            bytes.len() > 2000,
            "{file:?} is {} bytes: {}",
            bytes.len(),
            ctx()
        );
        assert_eq!(
            &bytes[..8],
            b"\x89PNG\r\n\x1a\n",
            "{file:?} is not a PNG: {}",
            ctx()
        );
    }

    fn check_verdict(&self) {
        assert_eq!(
            self.json["ok"], true,
            "callpage.mjs verdict: {}\nstderr:\n{}",
            self.json, self.stderr
        );
        assert_eq!(
            self.json["failures"],
            serde_json::json!([]),
            "{}",
            self.json
        );
    }

    fn check_call(&self) {
        self.check("idle", "idle", Some("Ready to call"));
        self.check("connected", "connected", Some("Connected"));
        let packets = self.step("connected")["stats"]["inboundPackets"]
            .as_u64()
            .unwrap_or(0);
        assert!(packets > 50, "inbound packets {packets}: {}", self.json);
        let quality = &self.step("connected")["quality"];
        assert!(
            ["Good", "Fair", "Poor"].iter().any(|q| quality == q),
            "quality {quality}"
        );
        self.check("dtmf", "connected", Some("Connected"));
        assert_eq!(
            self.step("dtmf")["dtmfSent"],
            serde_json::json!(["5"]),
            "{}",
            self.json
        );
        self.check("muted", "connected", Some("Connected"));
        self.check("ended", "ended", None);
        let ended = self.step("ended")["text"].as_str().unwrap_or("");
        assert!(
            ended.starts_with("Call ended · 00:"),
            "ended text {ended:?}"
        );
        self.check(
            "failed-destination",
            "failed",
            Some("This number cannot be called from this page."),
        );
        assert_eq!(
            self.step("failed-destination")["cause"],
            "Destination Not Allowed"
        );
        assert_eq!(self.step("failed-destination")["status"], 403);
        self.check(
            "link-invalid",
            "failed",
            Some("This call link is not valid."),
        );
        let raw = &self.step("link-invalid")["rawInvite"];
        assert_eq!(raw["status"], 403, "INVITE with a bad link: {raw}");
        assert_eq!(
            raw["reason"], "Link Invalid",
            "INVITE with a bad link: {raw}"
        );
    }
}

#[test]
fn call_page_states_against_a_stub() {
    if skipped() {
        return;
    }
    let run = run_callpage("--selftest");
    run.check_verdict();
    assert_eq!(run.json["mode"], "selftest");
    run.check_call();
    run.check("preparing", "preparing", Some("Preparing…"));
    run.check("ringing", "ringing", Some("Ringing…"));
    assert_eq!(run.step("name-required")["ok"], true, "{}", run.json);
    assert_eq!(run.step("agent-saw-hangup")["ok"], true, "{}", run.json);
    let invite = &run.step("connected")["invite"];
    assert_eq!(invite["displayName"], "Ann Example", "{invite}");
    run.check("cancelled", "failed", Some("You cancelled the call."));
    run.check(
        "failed-busy",
        "failed",
        Some("The line is busy. Please try again later."),
    );
    run.check(
        "failed-captcha",
        "failed",
        Some("The security check did not pass. Please try again."),
    );
    run.check("link-ok", "idle", Some("Ready to call"));
    run.check(
        "link-used-at-call",
        "failed",
        Some("This call link has already been used."),
    );
    run.check(
        "link-expired",
        "failed",
        Some("This call link has expired."),
    );
    run.check(
        "link-not-yet-active",
        "failed",
        Some("This call link is not active yet."),
    );
    run.check(
        "link-already-used",
        "failed",
        Some("This call link has already been used."),
    );
}

#[test]
fn call_page_calls_sipp_through_ferry() {
    if skipped() {
        return;
    }
    let run = run_callpage("--ferry");
    run.check_verdict();
    assert_eq!(run.json["mode"], "ferry");
    run.check_call();
    run.check("preparing", "preparing", Some("Preparing…"));
    assert_eq!(run.json["sippStatus"], "0", "sipp's scenario: {}", run.json);
    let c = &run.json["capture"];
    assert!(
        c["rtpToSipp"].as_u64().unwrap_or(0) > 50,
        "RTP at sipp: {c}"
    );
    assert!(
        c["pt101"].as_u64().unwrap_or(0) > 0,
        "no RFC 4733 event reached sipp: {c}"
    );
    assert_eq!(
        c["events"],
        serde_json::json!([5]),
        "DTMF events at sipp: {c}"
    );
}
