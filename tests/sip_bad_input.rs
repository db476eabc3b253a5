//! Bad input over SIP-over-WebSocket (RFC 7118), against the real `ferry up` binary on
//! loopback with sipp (or a bare UDP socket) as the trunk: malformed messages, oversized ones,
//! offers a WebRTC gateway must refuse, sockets dropped mid-call, origins and subprotocols.
//!
//! Every test starts its own `ferry up` (free HTTP and SIP ports, its own media port block and
//! directory) and kills its process group when done, a panic included. Needs sipp (sip-tester).

mod common;
#[path = "common/sipws.rs"]
mod sipws;

use std::net::UdpSocket;
use std::path::PathBuf;
use std::time::Duration;

use common::ferry::{Ferry, FerryOpts, require_tools, sipp_received, start_sipp};
use futures_util::{SinkExt, StreamExt};
use sipws::*;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self, Message as WsMsg};

fn no_fingerprint(sdp: &str) -> String {
    sdp.split_inclusive("\r\n")
        .filter(|l| !l.starts_with("a=fingerprint:"))
        .collect()
}

/// The same offer as SDES-SRTP (RFC 4568): RTP/SAVP with a crypto line, no DTLS.
fn sdes(sdp: &str) -> String {
    no_fingerprint(sdp)
        .replace("UDP/TLS/RTP/SAVPF", "RTP/SAVP")
        .replace(
            "a=setup:actpass\r\n",
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\n",
        )
}

/// A UDP socket posing as the trunk: whatever Ferry sends it, it keeps (and never answers).
fn silent_trunk() -> (UdpSocket, u16) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let port = s.local_addr().unwrap().port();
    (s, port)
}

fn datagrams(s: &UdpSocket) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 65_536];
    while let Ok(n) = s.recv(&mut buf) {
        out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    out
}

const BASE_HEAD: &str = "Via: SIP/2.0/WS client.invalid;branch=z9hG4bKbadREPLACE\r\n\
    Max-Forwards: 70\r\nTo: <sip:bob@127.0.0.1>\r\nFrom: <sip:alice@127.0.0.1>;tag=fbad\r\n\
    Call-ID: bad-REPLACE\r\n";

/// Sends each malformed request on one connection; every one must get a 400 that copies its
/// Call-ID and Via and adds a To tag, and the connection must answer an OPTIONS right after.
async fn expect_400s(tag: &str, cases: &[(&str, &str)]) {
    let ferry = Ferry::start(tag, FerryOpts::default());
    let mut ws = browser(&ferry).await;
    assert_usable(&mut ws, "opening").await;
    let mut failures = Vec::new();
    for (i, (what, text)) in cases.iter().enumerate() {
        let id = format!("{i}x{}", rand::random::<u32>());
        let text = text.replace("HEAD", &BASE_HEAD.replace("REPLACE", &id));
        send(&mut ws, &text).await;
        let call_id = format!("bad-{id}");
        match recv(&mut ws, Duration::from_secs(2)).await {
            Some(msg)
                if status(&msg) == Some(400)
                    && header(&msg, "Call-ID") == Some(call_id.as_str())
                    && header(&msg, "Via").is_some_and(|v| v.contains(&id)) =>
            {
                assert!(
                    header(&msg, "To").is_some_and(|t| t.contains("tag=")),
                    "{what}: the 400 must add a To tag (§8.2.6.2):\n{msg}"
                );
            }
            Some(msg) => failures.push(format!("{what}: expected 400, got:\n{msg}")),
            None => failures.push(format!("{what}: no response in 2 s (expected 400)")),
        }
        assert_usable(&mut ws, what).await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

// Each request below has the Via, From, To and Call-ID a response can copy: RFC 3261 §8.2 and
// §16.3 owe the sender a 400, not silence (over a reliable transport nothing retransmits, so the
// browser would wait for its transaction timeout).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_400_and_the_connection_stays_usable() {
    expect_400s(
        "bad-400",
        &[
            (
                "a Content-Length that is not a number",
                "OPTIONS sip:127.0.0.1 SIP/2.0\r\nHEADCSeq: 1 OPTIONS\r\nContent-Length: ten\r\n\r\n",
            ),
            (
                "a garbage Request-URI in the start line",
                "INVITE sip:bob@[127.0.0.1 SIP/2.0\r\nHEADCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
            ),
            (
                "a body shorter than its Content-Length",
                "OPTIONS sip:127.0.0.1 SIP/2.0\r\nHEADCSeq: 1 OPTIONS\r\nContent-Length: 10\r\n\r\nshort",
            ),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_with_a_broken_cseq_get_400() {
    expect_400s(
        "bad-cseq",
        &[
            (
                "a CSeq whose number is a word",
                "OPTIONS sip:127.0.0.1 SIP/2.0\r\nHEADCSeq: one OPTIONS\r\nContent-Length: 0\r\n\r\n",
            ),
            (
                "a CSeq without a method",
                "OPTIONS sip:127.0.0.1 SIP/2.0\r\nHEADCSeq: 7\r\nContent-Length: 0\r\n\r\n",
            ),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_sip_bytes_get_no_answer_and_the_connection_stays_usable() {
    let ferry = Ferry::start("bad-junk", FerryOpts::default());
    let mut ws = browser(&ferry).await;
    // Nothing here can be answered (no start line of a request, nothing to copy), but the
    // connection must survive it and the next thing the browser hears is its OPTIONS' 200.
    for (what, junk) in [
        ("binary junk", "\u{1}\u{2}\u{3}garbage\u{7f}\r\n\r\n"),
        ("a start line of garbage", "@@@@ #### !!!!\r\n\r\n"),
        ("a lone header line", "Via: x\r\n\r\n"),
        (
            "a response nobody asked for",
            "SIP/2.0 200 OK\r\nCSeq: x\r\n\r\n",
        ),
        ("CRLF keepalives", "\r\n\r\n"),
    ] {
        send(&mut ws, junk).await;
        assert_usable(&mut ws, what).await;
    }
}

/// A SIP message of `size` bytes must close the connection with 1009 (config.rs: "Largest SIP
/// message accepted over WebSocket; larger closes the connection (1009)").
async fn expect_1009(tag: &str, size: usize) {
    let ferry = Ferry::start(tag, FerryOpts::default());
    {
        let mut ws = browser(&ferry).await;
        assert_usable(&mut ws, "opening").await;
        let body = "x".repeat(size);
        let msg = format!(
            "MESSAGE sip:bob@127.0.0.1 SIP/2.0\r\n{}CSeq: 1 MESSAGE\r\n\
             Content-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            BASE_HEAD.replace("REPLACE", &format!("big{size}")),
            body.len()
        );
        // The send may already fail if ferry closes first; what matters is what comes back.
        let _ = timeout(STEP, ws.send(WsMsg::text(msg))).await;
        let frame = match timeout(STEP, ws.next()).await {
            Err(_) => panic!("{size} bytes: connection neither closed nor answered in 5 s"),
            Ok(None) => panic!("{size} bytes: connection torn down without a close frame"),
            Ok(Some(Err(e))) => panic!("{size} bytes: {e} instead of a close frame (want 1009)"),
            Ok(Some(Ok(WsMsg::Close(None)))) => {
                panic!("{size} bytes: a close frame without a status code (want 1009)")
            }
            Ok(Some(Ok(WsMsg::Close(Some(frame))))) => frame,
            Ok(Some(Ok(other))) => panic!("{size} bytes: expected a close, got {other:?}"),
        };
        assert_eq!(
            frame.code,
            CloseCode::Size,
            "{size} bytes: close code must be 1009, got {frame:?}"
        );
        // Ferry itself is fine: a new connection works.
        let mut again = browser(&ferry).await;
        assert_usable(&mut again, "a closed oversized connection").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_message_closes_the_connection_with_1009() {
    // 200 KiB: over the 64 KiB SIP limit, within the 4x frame limit the WebSocket layer allows.
    expect_1009("bad-big", 200 * 1024).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_message_closes_the_connection_with_1009_too() {
    // 1 MiB: over the WebSocket layer's own frame limit too.
    expect_1009("bad-huge", 1024 * 1024).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offers_without_dtls_fingerprint_or_with_sdes_get_488() {
    let (trunk, trunk_port) = silent_trunk();
    let ferry = Ferry::start(
        "bad-488",
        FerryOpts {
            trunk_port: Some(trunk_port),
            ..FerryOpts::default()
        },
    );
    let mut ws = browser(&ferry).await;
    type SdpEdit = fn(&str) -> String;
    let cases: [(&str, SdpEdit); 2] = [
        ("no a=fingerprint", no_fingerprint),
        ("RTP/SAVP with a=crypto (SDES)", sdes),
    ];
    for (what, edit) in cases {
        let id = format!("n488{}", rand::random::<u32>());
        let inv = invite(&id, edit);
        send(&mut ws, &inv).await;
        let resp = response(&mut ws, &id, false).await;
        assert_eq!(
            status(&resp),
            Some(488),
            "{what}: expected 488, got:\n{resp}"
        );
        send(&mut ws, &ack(&inv, &resp)).await;
        assert_usable(&mut ws, what).await;
    }
    // The unmodified offer is accepted as far as the trunk: the edits above were the reason.
    let id = format!("good{}", rand::random::<u32>());
    send(&mut ws, &invite(&id, str::to_string)).await;
    let sent = {
        let mut got = Vec::new();
        for _ in 0..25 {
            got.extend(datagrams(&trunk));
            if got.iter().any(|d| d.starts_with("INVITE ")) {
                break;
            }
        }
        got
    };
    let invites = sent.iter().filter(|d| d.starts_with("INVITE ")).count();
    assert!(
        invites >= 1,
        "the good offer must reach the trunk (control)"
    );
    // Only that one: neither refused offer went to the trunk (retransmissions share a branch).
    let branches: std::collections::HashSet<&str> = sent
        .iter()
        .filter(|d| d.starts_with("INVITE "))
        .filter_map(|d| header(d, "Via"))
        .collect();
    assert_eq!(branches.len(), 1, "INVITEs at the trunk: {sent:#?}");
}

/// One INVITE from the fixture toward sipp; returns (invite, 200 OK).
async fn answered_call(ws: &mut Ws, id: &str) -> (String, String) {
    let inv = invite(id, str::to_string);
    send(ws, &inv).await;
    let resp = response(ws, id, false).await;
    assert_eq!(
        status(&resp),
        Some(200),
        "call {id}: expected 200, got:\n{resp}"
    );
    (inv, resp)
}

fn fixture(name: &str) -> PathBuf {
    common::fixture_path(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_dropped_mid_call_sends_bye_and_frees_the_session() {
    require_tools(&["sipp"]);
    let sipp_port = common::ferry::free_udp_port(false);
    let ferry = Ferry::start(
        "drop-1",
        FerryOpts {
            trunk_port: Some(sipp_port),
            ..FerryOpts::default()
        },
    );
    let mut sipp = start_sipp(
        &ferry.dir,
        &fixture("sipp-uas-echo-g711.xml"),
        sipp_port,
        1,
        &[],
    );
    let mut ws = browser(&ferry).await;
    let id = format!("drop{}", rand::random::<u32>());
    let (inv, ok) = answered_call(&mut ws, &id).await;
    send(&mut ws, &ack(&inv, &ok)).await;
    assert_eq!(ferry.sessions().len(), 1, "one call up, one engine session");
    tokio::time::sleep(Duration::from_millis(500)).await;
    drop(ws); // TCP gone, no close frame, no BYE: the tab was closed

    let status = tokio::task::block_in_place(|| sipp.wait_exit(Duration::from_secs(15)));
    assert_eq!(
        sipp_received(&ferry.dir, "BYE"),
        1,
        "ferry must send BYE to the trunk when the browser's socket drops"
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "sipp's scenario (answer, ACK, BYE) must pass: {status:?}\n{}",
        sipp.log_text()
    );
    let left = tokio::task::block_in_place(|| ferry.wait_sessions(0, Duration::from_secs(5)));
    assert_eq!(left, 0, "the engine session must be removed");
}

/// How a browser abandons a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Abandon {
    /// As soon as Ferry said 100 Trying (the trunk has not answered anything yet).
    Trying,
    /// On 180 Ringing relayed from the trunk.
    Ringing,
    /// On 200 OK, without ACKing it.
    Answered,
    /// After 200 OK and the ACK.
    Acked,
}

async fn abandon(ferry: &Ferry, id: String, how: Abandon) {
    let mut ws = browser(ferry).await;
    let inv = invite(&id, str::to_string);
    send(&mut ws, &inv).await;
    let want = match how {
        Abandon::Trying => 100,
        Abandon::Ringing => 180,
        Abandon::Answered | Abandon::Acked => 200,
    };
    let end = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = end.saturating_duration_since(tokio::time::Instant::now());
        let msg = recv(&mut ws, left)
            .await
            .unwrap_or_else(|| panic!("call {id} ({how:?}): no {want} in 10 s"));
        if header(&msg, "Call-ID") != Some(id.as_str()) {
            continue;
        }
        let s = status(&msg).unwrap_or(0);
        if s == want {
            if how == Abandon::Acked {
                send(&mut ws, &ack(&inv, &msg)).await;
            }
            break;
        }
        assert!(
            s < want && s < 200,
            "call {id} ({how:?}): got {s} while waiting for {want}:\n{msg}"
        );
    }
    drop(ws);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_abandoned_calls_leave_no_session() {
    require_tools(&["sipp"]);
    const CALLS: u32 = 100;
    const PARALLEL: u32 = 10;
    let sipp_port = common::ferry::free_udp_port(false);
    let ferry = std::sync::Arc::new(Ferry::start(
        "drop-100",
        FerryOpts {
            trunk_port: Some(sipp_port),
            ..FerryOpts::default()
        },
    ));
    let mut sipp = start_sipp(
        &ferry.dir,
        &fixture("sipp-uas-answer-or-cancel.xml"),
        sipp_port,
        CALLS,
        &[],
    );
    let kinds = [
        Abandon::Trying,
        Abandon::Ringing,
        Abandon::Answered,
        Abandon::Acked,
        Abandon::Acked,
    ];
    let mut workers = Vec::new();
    for w in 0..PARALLEL {
        let ferry = ferry.clone();
        workers.push(tokio::spawn(async move {
            for i in (w..CALLS).step_by(PARALLEL as usize) {
                let how = kinds[i as usize % kinds.len()];
                abandon(&ferry, format!("ab{i}x{}", rand::random::<u32>()), how).await;
            }
        }));
    }
    for w in workers {
        timeout(Duration::from_secs(120), w)
            .await
            .expect("100 calls within 120 s")
            .expect("worker");
    }
    let answered = (0..CALLS)
        .filter(|i| {
            matches!(
                kinds[*i as usize % kinds.len()],
                Abandon::Answered | Abandon::Acked
            )
        })
        .count();
    let status = tokio::task::block_in_place(|| sipp.wait_exit(Duration::from_secs(30)));
    let byes = sipp_received(&ferry.dir, "BYE");
    let cancels = sipp_received(&ferry.dir, "CANCEL");
    let left = tokio::task::block_in_place(|| ferry.wait_sessions(0, Duration::from_secs(5)));
    assert_eq!(
        (byes, cancels),
        (answered, CALLS as usize - answered),
        "BYEs for the answered calls, CANCELs for the others"
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "every call of sipp's scenario must pass: {status:?}\n{}",
        sipp.log_text()
    );
    assert_eq!(left, 0, "no engine session may outlive its abandoned call");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origins_not_allowed_get_403_and_the_sip_subprotocol_is_required() {
    let ferry = Ferry::start(
        "bad-origin",
        FerryOpts {
            config: Some("[http]\nallowed_origins = [\"https://good.example\"]\n".into()),
            ..FerryOpts::default()
        },
    );
    let http_status = |r: Result<Ws, tungstenite::Error>| match r {
        Ok(_) => None,
        Err(tungstenite::Error::Http(resp)) => Some(resp.status().as_u16()),
        Err(e) => panic!("expected an HTTP refusal, got {e}"),
    };
    for origin in [
        "https://evil.example",
        "http://good.example",
        "https://good.example.evil.example",
        "null",
    ] {
        assert_eq!(
            http_status(connect(&ferry, Some(origin), Some("sip")).await),
            Some(403),
            "origin {origin} must be refused"
        );
    }
    // The allowed origin works, case-insensitively (RFC 6454 §6.2 serializes lowercase).
    let mut ws = connect(&ferry, Some("https://good.example"), Some("sip"))
        .await
        .expect("allowed origin opens");
    assert_usable(&mut ws, "opening").await;
    // Without the sip subprotocol (RFC 7118 §4.1), or with another one, it is not SIP.
    for proto in [None, Some("xmpp")] {
        let s = http_status(connect(&ferry, Some("https://good.example"), proto).await);
        assert!(
            s.is_some_and(|s| (400..500).contains(&s)),
            "subprotocol {proto:?} must be refused with 4xx, got {s:?}"
        );
    }
}

/// The browser gives up the moment Ferry says 100 Trying, and the trunk answers at once: the
/// CANCEL and the 200 OK cross. RFC 3261 §9.1/§15: a 2xx that arrives after CANCEL must still
/// be ACKed, and the call ended with BYE; sipp's scenario fails otherwise (its 200 is never
/// ACKed, or the dialog never ends).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_crossing_the_answer_still_ends_the_trunk_call() {
    require_tools(&["sipp"]);
    const CALLS: u32 = 20;
    let sipp_port = common::ferry::free_udp_port(false);
    let ferry = std::sync::Arc::new(Ferry::start(
        "drop-cross",
        FerryOpts {
            trunk_port: Some(sipp_port),
            ..FerryOpts::default()
        },
    ));
    let mut sipp = start_sipp(
        &ferry.dir,
        &fixture("sipp-uas-answer-at-once.xml"),
        sipp_port,
        CALLS,
        &[],
    );
    let mut workers = Vec::new();
    for w in 0..4 {
        let ferry = ferry.clone();
        workers.push(tokio::spawn(async move {
            for i in (w..CALLS).step_by(4) {
                let id = format!("cross{i}x{}", rand::random::<u32>());
                abandon(&ferry, id, Abandon::Trying).await;
            }
        }));
    }
    for w in workers {
        timeout(Duration::from_secs(60), w)
            .await
            .expect("calls within 60 s")
            .expect("worker");
    }
    let status = tokio::task::block_in_place(|| sipp.wait_exit(Duration::from_secs(30)));
    let byes = sipp_received(&ferry.dir, "BYE");
    let left = tokio::task::block_in_place(|| ferry.wait_sessions(0, Duration::from_secs(5)));
    assert_eq!(
        byes, CALLS as usize,
        "every answered trunk leg must get a BYE"
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "every call of sipp's scenario must pass: {status:?}\n{}",
        sipp.log_text()
    );
    assert_eq!(left, 0, "no engine session may outlive its abandoned call");
}
