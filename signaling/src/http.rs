//! Browser-facing HTTP: the test page, the embedded SIP libraries and SIP over WebSocket
//! (RFC 7118) on `/sip`, over plain HTTP and over TLS.
//!
//! Each WebSocket is one SIP flow. Its reader hands whole messages to the call core; its writer
//! drains a channel the core sends on. The core never blocks on a slow browser: when a
//! connection's queue is full the connection is closed (the browser re-registers or redials).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::ws::{CloseFrame, Message as WsMsg, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use crate::core::{ConnId, Input, WsOut};

/// Outgoing messages a connection may have queued before it counts as stuck.
const WS_QUEUE: usize = 1024;
/// WebSocket close code for "message too big" (RFC 6455 §7.4.1).
const CLOSE_TOO_BIG: u16 = 1009;

/// What the HTTP handlers share.
#[derive(Debug, Clone)]
pub struct HttpState {
    core: mpsc::Sender<Input>,
    allowed_origins: Arc<Vec<String>>,
    max_message: usize,
    next_conn: Arc<AtomicU64>,
}

impl HttpState {
    /// State for the routes: where to send SIP, and the limits.
    pub fn new(
        core: mpsc::Sender<Input>,
        allowed_origins: Vec<String>,
        max_message: usize,
    ) -> Self {
        Self {
            core,
            allowed_origins: Arc::new(allowed_origins),
            max_message,
            next_conn: Arc::new(AtomicU64::new(1)),
        }
    }

    fn origin_allowed(&self, origin: Option<&str>) -> bool {
        let Some(origin) = origin else {
            // Not a browser (sipp, scripts): nothing for same-origin rules to protect.
            return true;
        };
        self.allowed_origins
            .iter()
            .any(|o| o == "*" || o.eq_ignore_ascii_case(origin))
    }
}

/// The routes.
pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/test.js", get(|| asset("text/javascript", TEST_JS)))
        .route("/jssip.min.js", get(|| asset("text/javascript", JSSIP)))
        .route("/sipjs.min.js", get(|| asset("text/javascript", SIPJS)))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/sip", get(ws_upgrade))
        .with_state(state)
}

const TEST_HTML: &str = include_str!("../assets/test.html");
const TEST_JS: &str = include_str!("../assets/test.js");
const JSSIP: &str = include_str!("../assets/jssip.min.js");
const SIPJS: &str = include_str!("../assets/sipjs.min.js");

async fn page() -> Response {
    asset("text/html; charset=utf-8", TEST_HTML).await
}

async fn asset(ty: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, ty),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

async fn ws_upgrade(
    State(st): State<HttpState>,
    ConnectInfo(PeerAddr(peer)): ConnectInfo<PeerAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if !st.origin_allowed(origin) {
        tracing::warn!(%peer, origin = origin.unwrap_or(""), "websocket: origin not allowed");
        return (StatusCode::FORBIDDEN, "origin not allowed\n").into_response();
    }
    // RFC 7118 §4.1: the client asks for the "sip" subprotocol; without it this is not SIP.
    if !ws
        .requested_protocols()
        .any(|p| p.as_bytes().eq_ignore_ascii_case(b"sip"))
    {
        return (
            StatusCode::BAD_REQUEST,
            "websocket subprotocol \"sip\" required\n",
        )
            .into_response();
    }
    let conn = ConnId(st.next_conn.fetch_add(1, Ordering::Relaxed));
    // Let frames up to 4x the SIP limit through so that an oversized message gets a clean 1009
    // close from us instead of a torn connection.
    ws.protocols(["sip"])
        .max_message_size(st.max_message * 4)
        .on_upgrade(move |socket| serve_ws(st, conn, peer, socket))
}

async fn serve_ws(st: HttpState, conn: ConnId, peer: SocketAddr, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::channel::<WsOut>(WS_QUEUE);
    if st
        .core
        .send(Input::WsOpen {
            conn,
            peer,
            tx: tx.clone(),
        })
        .await
        .is_err()
    {
        return;
    }
    let writer = tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            let r = match out {
                WsOut::Text(s) => sink.send(WsMsg::Text(s.into())).await,
                WsOut::Close(code, reason) => {
                    let frame = CloseFrame {
                        code,
                        reason: reason.into(),
                    };
                    let _ = sink.send(WsMsg::Close(Some(frame))).await;
                    break;
                }
            };
            if r.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    while let Some(msg) = stream.next().await {
        let msg = match msg {
            Ok(m) => m,
            Err(e) => {
                // Past the frame limit the library stops reading; still say why (1009). Its
                // capacity error has no type of axum's own to match, only its text.
                if e.to_string().contains("limit exceeded") {
                    tracing::warn!(%peer, "websocket: message over the frame limit, closing");
                    let _ = tx
                        .send(WsOut::Close(CLOSE_TOO_BIG, "SIP message too big".into()))
                        .await;
                }
                break;
            }
        };
        let bytes = match msg {
            WsMsg::Text(t) => t.as_str().as_bytes().to_vec(),
            WsMsg::Binary(b) => b.to_vec(),
            WsMsg::Close(_) => break,
            _ => continue,
        };
        if bytes.len() > st.max_message {
            tracing::warn!(%peer, len = bytes.len(), "websocket: SIP message too big, closing");
            let _ = tx
                .send(WsOut::Close(CLOSE_TOO_BIG, "SIP message too big".into()))
                .await;
            break;
        }
        if st
            .core
            .send(Input::WsMessage { conn, bytes })
            .await
            .is_err()
        {
            break;
        }
    }
    let _ = st.core.send(Input::WsClosed { conn }).await;
    drop(tx);
    let _ = writer.await;
}

/// Serves plain HTTP on an already-bound listener.
pub async fn serve_plain(listener: TcpListener, app: Router) -> std::io::Result<()> {
    let listener = NoDelay(listener);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<PeerAddr>(),
    )
    .await
}

/// Serves HTTPS on an already-bound listener.
pub async fn serve_tls(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Router,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    let (tx, rx) = mpsc::channel(64);
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, peer)) = listener.accept().await else {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let (acceptor, tx) = (acceptor.clone(), tx.clone());
            // Handshakes run beside the accept loop: one slow client must not stall the rest.
            tokio::spawn(async move {
                let hs =
                    tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(tcp));
                if let Ok(Ok(s)) = hs.await {
                    let _ = tx.send((s, peer)).await;
                }
            });
        }
    });
    axum::serve(
        TlsListener { rx, local },
        app.into_make_service_with_connect_info::<PeerAddr>(),
    )
    .await
}

struct TlsListener {
    rx: mpsc::Receiver<(tokio_rustls::server::TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(c) => c,
            // The accept loop never ends while the listener lives.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// The browser's address, for both listeners (axum knows it only for a plain `TcpListener`).
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

/// A TCP listener whose connections have TCP_NODELAY: without it a 200 OK sent right after
/// the 100 Trying waits ~40 ms for the browser's delayed ACK (Nagle), on every call setup.
struct NoDelay(TcpListener);

impl axum::serve::Listener for NoDelay {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        let (s, a) = axum::serve::Listener::accept(&mut self.0).await;
        let _ = s.set_nodelay(true);
        (s, a)
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.0.local_addr()
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, NoDelay>> for PeerAddr {
    fn connect_info(s: axum::serve::IncomingStream<'_, NoDelay>) -> Self {
        Self(*s.remote_addr())
    }
}

impl axum::extract::connect_info::Connected<axum::serve::IncomingStream<'_, TlsListener>>
    for PeerAddr
{
    fn connect_info(s: axum::serve::IncomingStream<'_, TlsListener>) -> Self {
        Self(*s.remote_addr())
    }
}
