//! A scripted browser's SIP over WebSocket for the end-to-end tests: connect like a page,
//! send and receive SIP text, build INVITEs from the captured JsSIP one. Included by the test
//! files that need it (`#[path = "common/sipws.rs"] mod sipws;`).

#![allow(dead_code)] // each test file uses a different subset

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message as WsMsg};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::common::ferry::Ferry;

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub const STEP: Duration = Duration::from_secs(5);

/// Opens `ws://.../sip` like a browser page on `origin` would, asking for `protocol`.
pub async fn connect(
    ferry: &Ferry,
    origin: Option<&str>,
    protocol: Option<&str>,
) -> Result<Ws, tungstenite::Error> {
    let mut req = ferry.ws_url().into_client_request().unwrap();
    if let Some(o) = origin {
        req.headers_mut()
            .insert("Origin", HeaderValue::from_str(o).unwrap());
    }
    if let Some(p) = protocol {
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_str(p).unwrap());
    }
    let (ws, resp) = timeout(STEP, tokio_tungstenite::connect_async(req))
        .await
        .expect("websocket handshake within 5 s")?;
    if protocol.is_some() {
        assert_eq!(
            resp.headers()
                .get("Sec-WebSocket-Protocol")
                .and_then(|v| v.to_str().ok()),
            Some("sip"),
            "the upgrade must select the sip subprotocol"
        );
    }
    Ok(ws)
}

pub async fn browser(ferry: &Ferry) -> Ws {
    let origin = format!("http://{}", ferry.http);
    connect(ferry, Some(&origin), Some("sip"))
        .await
        .expect("websocket opens")
}

pub async fn send(ws: &mut Ws, text: &str) {
    timeout(STEP, ws.send(WsMsg::text(text.to_string())))
        .await
        .expect("send within 5 s")
        .expect("send");
}

/// The next SIP message, or None if nothing came within `wait`. Panics if the socket closes.
pub async fn recv(ws: &mut Ws, wait: Duration) -> Option<String> {
    let end = tokio::time::Instant::now() + wait;
    loop {
        let msg = match tokio::time::timeout_at(end, ws.next()).await {
            Err(_) => return None,
            Ok(None) => panic!("websocket closed by ferry"),
            Ok(Some(Err(e))) => panic!("websocket error: {e}"),
            Ok(Some(Ok(m))) => m,
        };
        match msg {
            WsMsg::Text(t) => return Some(t.to_string()),
            WsMsg::Binary(b) => return Some(String::from_utf8_lossy(&b).into_owned()),
            WsMsg::Close(c) => panic!("websocket closed by ferry: {c:?}"),
            _ => continue,
        }
    }
}

pub fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    let head = msg.split("\r\n\r\n").next()?;
    head.split("\r\n").skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

pub fn status(msg: &str) -> Option<u16> {
    let line = msg.lines().next()?;
    let rest = line.strip_prefix("SIP/2.0 ")?;
    rest.get(..3)?.parse().ok()
}

/// The next response with `call_id` whose status is final (or any status when `provisional`),
/// skipping others; panics after 5 s.
pub async fn response(ws: &mut Ws, call_id: &str, provisional: bool) -> String {
    let end = tokio::time::Instant::now() + STEP;
    loop {
        let left = end.saturating_duration_since(tokio::time::Instant::now());
        let msg = recv(ws, left)
            .await
            .unwrap_or_else(|| panic!("no response for Call-ID {call_id} in 5 s"));
        if header(&msg, "Call-ID") != Some(call_id) {
            continue;
        }
        let s = status(&msg).unwrap_or_else(|| panic!("expected a response, got:\n{msg}"));
        if provisional || s >= 200 {
            return msg;
        }
    }
}

pub fn options(call_id: &str) -> String {
    format!(
        "OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS client.invalid;branch=z9hG4bK{call_id}\r\n\
         Max-Forwards: 70\r\nTo: <sip:127.0.0.1>\r\nFrom: <sip:alice@127.0.0.1>;tag=t{call_id}\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

/// The connection still works: an OPTIONS gets 200, and it is the very next message (nothing
/// stray was queued before it).
pub async fn assert_usable(ws: &mut Ws, after: &str) {
    let id = format!("opt-{}", rand::random::<u32>());
    send(ws, &options(&id)).await;
    let msg = recv(ws, STEP)
        .await
        .unwrap_or_else(|| panic!("after {after}: no answer to OPTIONS in 5 s"));
    assert_eq!(
        (status(&msg), header(&msg, "Call-ID")),
        (Some(200), Some(id.as_str())),
        "after {after}: OPTIONS must get 200 next, got:\n{msg}"
    );
}

/// The captured JsSIP INVITE (tests/fixtures/jssip-invite.txt) with a fresh Call-ID, branch
/// and From tag, its SDP passed through `edit`, Content-Length recomputed.
pub fn invite(call_id: &str, edit: impl Fn(&str) -> String) -> String {
    let raw = std::fs::read_to_string(crate::common::fixture_path("jssip-invite.txt")).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("fixture has a body");
    let body = edit(body);
    let mut out = String::new();
    for line in head.split("\r\n") {
        let line = match line.split_once(':').map(|(k, _)| k) {
            Some("Via") => format!("Via: SIP/2.0/WS h3ioan6e6ca6.invalid;branch=z9hG4bK{call_id}"),
            Some("From") => format!("From: <sip:alice@127.0.0.1>;tag=f{call_id}"),
            Some("Call-ID") => format!("Call-ID: {call_id}"),
            Some("Content-Length") => format!("Content-Length: {}", body.len()),
            _ => line.to_string(),
        };
        out.push_str(&line);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&body);
    out
}

/// ACK for a 2xx (or a failure) the browser got, in the dialog the response names.
pub fn ack(inv: &str, resp: &str) -> String {
    let call_id = header(inv, "Call-ID").unwrap();
    let cseq: u32 = header(inv, "CSeq")
        .and_then(|c| c.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    let target = header(resp, "Contact")
        .map(|c| c.trim_start_matches('<').split('>').next().unwrap_or(c))
        .unwrap_or("sip:bob@127.0.0.1");
    format!(
        "ACK {target} SIP/2.0\r\nVia: SIP/2.0/WS h3ioan6e6ca6.invalid;branch=z9hG4bKack{call_id}\r\n\
         Max-Forwards: 70\r\nTo: {}\r\nFrom: {}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} ACK\r\n\
         Content-Length: 0\r\n\r\n",
        header(resp, "To").unwrap(),
        header(inv, "From").unwrap(),
    )
}
