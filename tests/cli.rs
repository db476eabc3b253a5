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

/// `ferry up` with a bad configuration stops at once, names the file, the key and the reason,
/// and starts nothing (no engine socket appears, no child is left behind).
#[test]
fn bad_config_refuses_to_start_and_says_where() {
    let dir = std::env::temp_dir().join(format!("ferry-badcfg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let cases: [(&str, &[&str]); 5] = [
        ("[http]\nlisen = \"127.0.0.1:1\"\n", &["lisen"]),
        ("[trunk]\nuri = \"http://pbx\"\n", &["trunk.uri"]),
        ("[admin]\ntoken = \"short\"\n", &["admin.token"]),
        (
            "[services]\nsales = { target = \"2000\" }\n",
            &["services.sales", "trunk"],
        ),
        (
            "[anonymous]\ncaptcha_bits = 40\n",
            &["anonymous.captcha_bits"],
        ),
    ];
    for (i, (toml, words)) in cases.iter().enumerate() {
        let path = dir.join(format!("bad{i}.toml"));
        std::fs::write(&path, toml).unwrap();
        let socket = dir.join(format!("engine{i}.sock"));
        let start = Instant::now();
        let out = ferry()
            .arg("up")
            .arg("--config")
            .arg(&path)
            .arg("--socket")
            .arg(&socket)
            .args(["--state-dir"])
            .arg(dir.join("state"))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "case {i} must fail: {err}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "case {i}: fails at once"
        );
        assert!(
            err.contains(&*path.to_string_lossy()),
            "case {i} names the file: {err}"
        );
        for w in *words {
            assert!(err.contains(w), "case {i} names {w:?}: {err}");
        }
        assert!(!socket.exists(), "case {i}: nothing half-started");
        // `ferry check` says the same without starting anything.
        let out = ferry()
            .arg("check")
            .arg("--config")
            .arg(&path)
            .output()
            .unwrap();
        assert!(!out.status.success(), "check must refuse case {i}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            words.iter().all(|w| err.contains(w)),
            "check, case {i}: {err}"
        );
    }
    let good = dir.join("good.toml");
    std::fs::write(&good, "[http]\nlisten = \"127.0.0.1:8080\"\n").unwrap();
    let out = ferry()
        .arg("check")
        .arg("--config")
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
