//! The trunk's transport: one UDP socket, or one TCP connection (RFC 3261 §18).
//!
//! TCP: Ferry keeps a single connection to the trunk, opened at start and reopened when it
//! drops (with a pause that grows to 10 s), and also accepts connections from the trunk's
//! address on its SIP port; whichever connection spoke last carries what Ferry sends, which
//! is where responses to the trunk's requests must go (§18.2.2). Streams are framed by
//! Content-Length (§18.3); CRLF keepalive pings (RFC 5626 §4.4.1) get their pong.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Mutex, mpsc};

use super::Input;
use crate::sip::{Frame, PONG, frame};

/// Messages queued for a TCP connection before the sender drops them.
const TCP_QUEUE: usize = 4096;
/// Longest pause between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// How Ferry reaches the trunk.
#[derive(Debug, Clone)]
pub enum Transport {
    /// A UDP socket.
    Udp(Arc<UdpSocket>),
    /// The current TCP connection's writer (swapped when a connection replaces it).
    Tcp(Arc<Mutex<Option<mpsc::Sender<Vec<u8>>>>>),
}

impl Transport {
    /// Whether the transport is reliable (no retransmissions: RFC 3261 §17.1.1.2).
    pub fn reliable(&self) -> bool {
        matches!(self, Self::Tcp(_))
    }

    /// The Via transport token.
    pub fn token(&self) -> &'static str {
        if self.reliable() { "TCP" } else { "UDP" }
    }

    /// Sends one message.
    pub fn send(&self, bytes: &[u8], to: SocketAddr) {
        match self {
            Self::Udp(s) => {
                if let Err(e) = s.try_send_to(bytes, to) {
                    tracing::warn!("sip to trunk {to}: {e}");
                }
            }
            Self::Tcp(w) => {
                let sent = w
                    .try_lock()
                    .ok()
                    .and_then(|g| g.as_ref().map(|tx| tx.try_send(bytes.to_vec()).is_ok()));
                if sent != Some(true) {
                    tracing::warn!("sip to trunk {to}: no TCP connection (or it is stuck)");
                }
            }
        }
    }
}

/// Starts the UDP receive loop.
pub fn udp(sock: Arc<UdpSocket>, core: mpsc::Sender<Input>) -> Transport {
    let rx = sock.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        loop {
            let Ok((n, from)) = rx.recv_from(&mut buf).await else {
                continue;
            };
            // CRLF keepalives (RFC 5626 §4.4.1) carry nothing for the core.
            if buf[..n].iter().all(|b| b.is_ascii_whitespace()) {
                continue;
            }
            let bytes = buf[..n].to_vec();
            if core.send(Input::Trunk { from, bytes }).await.is_err() {
                break;
            }
        }
    });
    Transport::Udp(sock)
}

/// Starts the TCP side: the outbound connection (kept up) and the listener.
pub fn tcp(listener: TcpListener, target: SocketAddr, core: mpsc::Sender<Input>) -> Transport {
    let current = Arc::new(Mutex::new(None));
    let generation = Arc::new(AtomicU64::new(0));
    let (c, g, core2) = (current.clone(), generation.clone(), core.clone());
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(200);
        loop {
            match TcpStream::connect(target).await {
                Ok(s) => {
                    backoff = Duration::from_millis(200);
                    serve(s, target, c.clone(), g.clone(), core2.clone()).await;
                }
                Err(e) => tracing::warn!("sip tcp to trunk {target}: {e}"),
            }
            if core2.is_closed() {
                break;
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    });
    let (c, g) = (current.clone(), generation);
    tokio::spawn(async move {
        loop {
            let Ok((s, from)) = listener.accept().await else {
                continue;
            };
            if from.ip() != target.ip() {
                // Only the trunk may open connections here (toll fraud, spoofed requests).
                tracing::debug!(%from, "sip tcp from a stranger, refused");
                continue;
            }
            tokio::spawn(serve(s, target, c.clone(), g.clone(), core.clone()));
        }
    });
    Transport::Tcp(current)
}

/// Runs one connection until it closes; it becomes the current one while it is the newest.
async fn serve(
    stream: TcpStream,
    target: SocketAddr,
    current: Arc<Mutex<Option<mpsc::Sender<Vec<u8>>>>>,
    generation: Arc<AtomicU64>,
    core: mpsc::Sender<Input>,
) {
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(TCP_QUEUE);
    let me = generation.fetch_add(1, Ordering::Relaxed) + 1;
    *current.lock().await = Some(tx.clone());
    let writer = tokio::spawn(async move {
        while let Some(b) = rx.recv().await {
            if wr.write_all(&b).await.is_err() {
                break;
            }
        }
    });
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut chunk = vec![0u8; 16_384];
    'read: loop {
        let n = match rd.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        buf.extend_from_slice(&chunk[..n]);
        loop {
            match frame(&buf) {
                Ok(Frame::Incomplete) => break,
                Ok(Frame::Keepalive { len, ping }) => {
                    if ping {
                        let _ = tx.try_send(PONG.to_vec());
                    }
                    buf.drain(..len);
                }
                Ok(Frame::Message { len }) => {
                    let bytes: Vec<u8> = buf.drain(..len).collect();
                    // Whichever connection spoke last carries our answers.
                    *current.lock().await = Some(tx.clone());
                    if core
                        .send(Input::Trunk {
                            from: target,
                            bytes,
                        })
                        .await
                        .is_err()
                    {
                        break 'read;
                    }
                }
                Err(e) => {
                    // A stream that lost its framing cannot be resynchronised: close it.
                    tracing::warn!("sip tcp from trunk: {e}; closing the connection");
                    break 'read;
                }
            }
        }
    }
    if generation.load(Ordering::Relaxed) == me {
        *current.lock().await = None;
    }
    drop(tx);
    writer.abort();
}
