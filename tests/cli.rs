//! The `ferry` binary as an operator runs it: the engine starts from its flags, `ferry stats`
//! reads it over the control socket, and bad flags are refused with a message.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn ferry() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
}

#[test]
fn engine_starts_from_flags_and_stats_reads_it() {
    let sock = std::env::temp_dir().join(format!("ferry-cli-{}.sock", std::process::id()));
    let mut engine = ferry()
        .args(["engine", "--socket"])
        .arg(&sock)
        .args([
            "--shards",
            "1",
            "--no-pin",
            "--ports",
            "47000-47099",
            "--media-v4",
            "127.0.0.1",
            "--backend",
            "mmsg",
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    while !sock.exists() && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = ferry()
        .args(["stats", "--socket"])
        .arg(&sock)
        .output()
        .unwrap();
    let _ = engine.kill();
    let _ = engine.wait();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("rx_packets") && text.contains("p99.9"),
        "{text}"
    );
}

#[test]
fn bad_flags_are_refused_with_a_message() {
    let out = ferry()
        .args(["engine", "--ports", "9000-10"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a port range"));
    let out = ferry()
        .args(["stats", "--socket", "/nonexistent/ferry.sock"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/ferry.sock"));
}
