//! The admin API and `/metrics` against the real `ferry up` binary on loopback: the token
//! check (401 without or with a wrong token, 404 when none is configured, a short one refuses
//! to start), counters that move with a real SIP-over-WebSocket INVITE, and a `/metrics` page
//! that parses as Prometheus text with the engine's per-shard counters and a well-formed
//! latency histogram.
//!
//! No trunk is needed: an offer without `a=fingerprint` is refused with 488 before routing.

mod common;
#[path = "common/sipws.rs"]
mod sipws;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use common::ferry::{Ferry, FerryOpts, test_dir};
use futures_util::{SinkExt, StreamExt};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message as WsMsg;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

const TOKEN: &str = "test-admin-token-0123456789";
const STEP: Duration = Duration::from_secs(5);

/// An HTTP response, headers lower-cased.
#[derive(Debug)]
struct Resp {
    status: u16,
    headers: BTreeMap<String, String>,
    body: String,
}

/// A GET with an optional `Authorization` header value, over HTTP/1.1 with `Connection: close`.
fn get(addr: SocketAddr, path: &str, auth: Option<&str>) -> Resp {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).expect("connect");
    s.set_read_timeout(Some(STEP)).unwrap();
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("response");
    let raw = String::from_utf8(raw).expect("UTF-8 response");
    let (head, body) = raw.split_once("\r\n\r\n").expect("a header block");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in:\n{raw}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect::<BTreeMap<_, _>>();
    // axum answers small bodies with Content-Length; chunked would need decoding.
    assert!(
        !headers
            .get("transfer-encoding")
            .is_some_and(|v| v.contains("chunked")),
        "chunked body not expected for {path}"
    );
    Resp {
        status,
        headers,
        body: body.to_string(),
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

fn status_json(ferry: &Ferry) -> serde_json::Value {
    let r = get(ferry.http, "/api/status", Some(&bearer(TOKEN)));
    assert_eq!(r.status, 200, "/api/status: {r:?}");
    assert!(
        r.headers["content-type"].starts_with("application/json"),
        "{r:?}"
    );
    serde_json::from_str(&r.body).unwrap_or_else(|e| panic!("/api/status JSON: {e}\n{}", r.body))
}

fn counter(status: &serde_json::Value, name: &str) -> u64 {
    status["counters"][name]
        .as_u64()
        .unwrap_or_else(|| panic!("counters.{name} in {status}"))
}

fn failed(status: &serde_json::Value, code: &str) -> u64 {
    status["counters"]["failed"][code].as_u64().unwrap_or(0)
}

/// One sample line of the Prometheus text format: `name{k="v",...} value`.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses Prometheus text format 0.0.4; panics on any line that is not a comment, blank, or
/// a sample, and on a `# TYPE` of an unknown kind.
fn parse_prometheus(text: &str) -> (Vec<Sample>, BTreeMap<String, String>) {
    let mut samples = Vec::new();
    let mut types = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with("# HELP ") {
            continue;
        }
        if let Some(t) = line.strip_prefix("# TYPE ") {
            let (name, kind) = t.split_once(' ').expect("# TYPE name kind");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "unknown type in {line:?}"
            );
            types.insert(name.to_string(), kind.to_string());
            continue;
        }
        assert!(!line.starts_with('#'), "stray comment {line:?}");
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("no value in {line:?}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, BTreeMap::new()),
            Some((name, rest)) => {
                let inner = rest
                    .strip_suffix('}')
                    .unwrap_or_else(|| panic!("unclosed labels in {line:?}"));
                let labels = inner
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(|p| {
                        let (k, v) = p
                            .split_once('=')
                            .unwrap_or_else(|| panic!("bad label in {line:?}"));
                        let v = v
                            .strip_prefix('"')
                            .and_then(|v| v.strip_suffix('"'))
                            .unwrap_or_else(|| panic!("unquoted label in {line:?}"));
                        (k.to_string(), v.to_string())
                    })
                    .collect();
                (name, labels)
            }
        };
        let valid = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
        assert!(
            !name.is_empty() && name.chars().all(valid),
            "bad metric name in {line:?}"
        );
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    (samples, types)
}

fn find<'a>(samples: &'a [Sample], name: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    samples.iter().find(|s| {
        s.name == name
            && labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
    })
}

/// The captured JsSIP INVITE with its `a=fingerprint` lines removed: a WebRTC gateway must
/// refuse it (488).
fn invite_without_fingerprint(call_id: &str) -> String {
    sipws::invite(call_id, |body| {
        body.split_inclusive("\r\n")
            .filter(|l| !l.starts_with("a=fingerprint:"))
            .collect()
    })
}

/// Sends the fingerprint-less INVITE over `ws://.../sip` and returns the final status.
async fn refused_invite(ferry: &Ferry) -> u16 {
    let mut req = ferry.ws_url().into_client_request().unwrap();
    req.headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("sip"));
    let (mut ws, _) = timeout(STEP, tokio_tungstenite::connect_async(req))
        .await
        .expect("websocket handshake within 5 s")
        .expect("websocket opens");
    let id = format!("adm{}", rand::random::<u32>());
    ws.send(WsMsg::text(invite_without_fingerprint(&id)))
        .await
        .expect("send");
    let end = tokio::time::Instant::now() + STEP;
    loop {
        let msg = match tokio::time::timeout_at(end, ws.next()).await {
            Ok(Some(Ok(WsMsg::Text(t)))) => t.to_string(),
            Ok(Some(Ok(_))) => continue,
            other => panic!("no final response to the INVITE: {other:?}"),
        };
        let code: u16 = msg
            .strip_prefix("SIP/2.0 ")
            .and_then(|r| r.get(..3))
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        if code >= 200 && msg.contains(&id) {
            return code;
        }
    }
}

/// Polls `/api/status` until `done` holds, at most 5 s.
fn wait_status(ferry: &Ferry, done: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let end = Instant::now() + STEP;
    loop {
        let s = status_json(ferry);
        if done(&s) || Instant::now() >= end {
            return s;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn with_token() -> FerryOpts {
    FerryOpts {
        config: Some(format!("[admin]\ntoken = \"{TOKEN}\"\n")),
        ..FerryOpts::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_counts_a_refused_offer_and_lists_calls() {
    let ferry = Ferry::start("admin-status", with_token());
    let before = status_json(&ferry);
    assert_eq!(
        before["version"].as_str(),
        Some(env!("CARGO_PKG_VERSION")),
        "{before}"
    );
    assert_eq!(before["engine_connected"], true, "{before}");
    assert!(before["uptime_s"].as_f64().is_some_and(|u| u >= 0.0));
    assert_eq!(failed(&before, "488"), 0);

    assert_eq!(refused_invite(&ferry).await, 488);
    let after = tokio::task::block_in_place(|| wait_status(&ferry, |s| failed(s, "488") == 1));
    assert_eq!(failed(&after, "488"), 1, "{after}");
    assert_eq!(
        counter(&after, "attempts"),
        counter(&before, "attempts") + 1,
        "{after}"
    );
    assert_eq!(after["failed_total"].as_u64(), Some(1), "{after}");
    assert_eq!(counter(&after, "active"), 0, "{after}");
    // Two snapshots a moment apart: the rate is measured and non-negative.
    let rate = &after["setup_rate"];
    assert!(rate["per_s"].as_f64().is_some_and(|r| r >= 0.0), "{after}");
    assert!(
        rate["window_s"].as_f64().is_some_and(|w| w > 0.0),
        "{after}"
    );

    let calls = get(ferry.http, "/api/calls", Some(&bearer(TOKEN)));
    assert_eq!(calls.status, 200, "{calls:?}");
    let list: serde_json::Value = serde_json::from_str(&calls.body).unwrap();
    assert_eq!(list, serde_json::json!([]), "the refused call is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_with_engine_shards_and_a_monotonic_latency_histogram() {
    let ferry = Ferry::start("admin-metrics", with_token());
    assert_eq!(refused_invite(&ferry).await, 488);
    let r = tokio::task::block_in_place(|| get(ferry.http, "/metrics", Some(&bearer(TOKEN))));
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        r.headers["content-type"].starts_with("text/plain; version=0.0.4"),
        "{r:?}"
    );
    let (samples, types) = parse_prometheus(&r.body);
    let value = |name: &str, labels: &[(&str, &str)]| {
        find(&samples, name, labels)
            .unwrap_or_else(|| panic!("no {name} {labels:?} in:\n{}", r.body))
            .value
    };
    assert_eq!(value("ferry_calls_failed_total", &[("status", "488")]), 1.0);
    assert_eq!(value("ferry_calls_attempted_total", &[]), 1.0);
    assert_eq!(value("ferry_calls_active", &[]), 0.0);
    assert_eq!(value("ferry_engine_connected", &[]), 1.0);
    assert_eq!(types["ferry_calls_attempted_total"], "counter");
    // The engine's counters for its one shard (the test starts `--shards 1`).
    for name in [
        "ferry_engine_rx_packets_total",
        "ferry_engine_tx_bytes_total",
        "ferry_engine_drop_auth_total",
    ] {
        assert!(value(name, &[("shard", "0")]) >= 0.0);
    }
    assert_eq!(value("ferry_engine_sessions", &[("shard", "0")]), 0.0);
    assert_eq!(types["ferry_engine_sessions"], "gauge");
    assert_eq!(types["ferry_engine_latency_seconds"], "histogram");
    // Buckets: increasing bounds, non-decreasing counts, +Inf last and equal to _count.
    let buckets: Vec<(f64, f64)> = samples
        .iter()
        .filter(|s| s.name == "ferry_engine_latency_seconds_bucket")
        .map(|s| {
            let le = &s.labels["le"];
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            (le, s.value)
        })
        .collect();
    assert!(buckets.len() >= 10, "{buckets:?}");
    assert!(
        buckets
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
        "buckets must be ordered and cumulative: {buckets:?}"
    );
    assert_eq!(buckets.last().unwrap().0, f64::INFINITY);
    assert_eq!(
        buckets.last().unwrap().1,
        value("ferry_engine_latency_seconds_count", &[])
    );
    assert_eq!(buckets[0].0, 1e-6, "{buckets:?}");
    assert!(value("ferry_engine_latency_seconds_sum", &[]) >= 0.0);
}

#[test]
fn a_missing_or_wrong_token_gets_401_with_a_bearer_challenge() {
    let ferry = Ferry::start("admin-401", with_token());
    for path in ["/api/status", "/api/calls", "/metrics"] {
        for auth in [
            None,
            Some(bearer("wrong-token-0123456789")),
            Some(bearer(&TOKEN[..TOKEN.len() - 1])),
            Some(format!("Basic {TOKEN}")),
        ] {
            let r = get(ferry.http, path, auth.as_deref());
            assert_eq!(r.status, 401, "{path} with {auth:?}: {r:?}");
            assert!(
                r.headers
                    .get("www-authenticate")
                    .is_some_and(|v| v.starts_with("Bearer")),
                "{path} with {auth:?}: {r:?}"
            );
        }
        assert_eq!(get(ferry.http, path, Some(&bearer(TOKEN))).status, 200);
    }
}

#[test]
fn without_a_token_the_admin_api_is_404_and_the_log_says_so() {
    let ferry = Ferry::start("admin-404", FerryOpts::default());
    for path in ["/api/status", "/api/calls", "/metrics"] {
        let r = get(ferry.http, path, Some(&bearer(TOKEN)));
        assert_eq!(r.status, 404, "{path}: {r:?}");
    }
    assert!(
        ferry.proc.log_text().contains("admin API disabled"),
        "the startup log must say the admin API is off:\n{}",
        ferry.proc.log_text()
    );
}

#[test]
fn metrics_open_needs_no_token_but_the_api_still_does() {
    let ferry = Ferry::start(
        "admin-open",
        FerryOpts {
            config: Some(format!(
                "[admin]\ntoken = \"{TOKEN}\"\nmetrics_open = true\n"
            )),
            ..FerryOpts::default()
        },
    );
    let r = get(ferry.http, "/metrics", None);
    assert_eq!(r.status, 200, "{r:?}");
    assert!(
        r.body.contains("ferry_calls_attempted_total 0"),
        "{}",
        r.body
    );
    assert_eq!(get(ferry.http, "/api/status", None).status, 401);
}

#[test]
fn a_short_token_refuses_to_start_naming_the_key() {
    let dir = test_dir("admin-short");
    let path = dir.join("ferry.toml");
    std::fs::write(&path, "[admin]\ntoken = \"too-short\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .arg("up")
        .arg("--config")
        .arg(&path)
        .arg("--socket")
        .arg(dir.join("engine.sock"))
        .arg("--state-dir")
        .arg(dir.join("state"))
        .output()
        .expect("ferry runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "ferry up must refuse: {err}");
    assert!(
        err.contains("admin.token: shorter than 16 characters"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
