//! The engine, seen from signaling: an async control-channel client.
//!
//! One task owns the Unix socket. Requests go in over a channel with a oneshot for the reply;
//! events (DTLS datagrams, latches, sessions the engine ended) come out on another channel. When
//! the engine goes away the handle reports it and every pending request fails, so the caller can
//! end the calls it was setting up; a new [`EngineHandle::connect`] takes over the sessions an
//! engine still carries (see [`EngineHandle::list`]).

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::time::Duration;

use ferry_control::{
    FRAME_HEADER, Frame, MAX_FRAME, Message, check_hello, decode_frame, encode_frame,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::{mpsc, oneshot};

/// How long a request waits for the engine's reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(5);

type Pending = oneshot::Sender<Message>;

/// A cheap, cloneable handle that sends requests to the engine.
#[derive(Debug, Clone)]
pub struct EngineHandle {
    tx: mpsc::UnboundedSender<(Message, Pending)>,
}

/// An unsolicited message from the engine, or the end of the channel.
#[derive(Debug)]
pub enum EngineEvent {
    /// `DtlsReceived`, `Latched` or `Ended`.
    Message(Message),
    /// The channel closed (the engine stopped or restarted).
    Closed(String),
}

impl EngineHandle {
    /// Connects and greets the engine; events arrive on the returned receiver.
    pub async fn connect(path: &Path) -> io::Result<(Self, mpsc::UnboundedReceiver<EngineEvent>)> {
        let mut stream = UnixStream::connect(path).await?;
        stream
            .write_all(&encode_frame(0, &Message::hello()))
            .await?;
        let hello = tokio::time::timeout(REPLY_TIMEOUT, read_frame(&mut stream))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no hello from engine"))??;
        if let Message::Error { reason, .. } = &hello.msg {
            return Err(io::Error::other(format!("engine refused hello: {reason}")));
        }
        check_hello(&hello.msg).map_err(io::Error::other)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        tokio::spawn(run(stream, rx, ev_tx));
        Ok((Self { tx }, ev_rx))
    }

    /// Sends a request and waits for its reply.
    pub async fn request(&self, msg: Message) -> io::Result<Message> {
        let (reply_tx, reply_rx) = oneshot::channel();
        self.tx
            .send((msg, reply_tx))
            .map_err(|_| io::Error::new(io::ErrorKind::NotConnected, "engine channel closed"))?;
        match tokio::time::timeout(REPLY_TIMEOUT, reply_rx).await {
            Ok(Ok(m)) => Ok(m),
            Ok(Err(_)) => Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "engine channel closed",
            )),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no reply from engine",
            )),
        }
    }

    /// Sends a request that must be answered `Ok`.
    pub async fn expect_ok(&self, msg: Message) -> io::Result<()> {
        match self.request(msg).await? {
            Message::Ok => Ok(()),
            Message::Error { code, reason } => Err(io::Error::other(format!("{code:?}: {reason}"))),
            other => Err(io::Error::other(format!("unexpected reply {other:?}"))),
        }
    }

    /// Sends a request without waiting for the reply (DTLS records: their replies carry nothing
    /// the caller acts on, and the handshake retransmits if one was lost).
    pub fn send(&self, msg: Message) {
        let (reply_tx, _) = oneshot::channel();
        let _ = self.tx.send((msg, reply_tx));
    }

    /// Every session the engine carries.
    pub async fn list(&self) -> io::Result<Vec<ferry_control::SessionInfo>> {
        match self.request(Message::List).await? {
            Message::Sessions(s) => Ok(s),
            other => Err(io::Error::other(format!("unexpected reply {other:?}"))),
        }
    }

    /// Whether the channel is still up.
    pub fn is_connected(&self) -> bool {
        !self.tx.is_closed()
    }
}

async fn read_frame(stream: &mut (impl AsyncReadExt + Unpin)) -> io::Result<Frame> {
    let mut len = [0u8; 4];
    stream.read_exact(&mut len).await?;
    let n = u32::from_be_bytes(len);
    if !((FRAME_HEADER as u32 - 4)..=MAX_FRAME).contains(&n) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame length {n} out of range"),
        ));
    }
    let mut buf = vec![0u8; 4 + n as usize];
    buf[..4].copy_from_slice(&len);
    stream.read_exact(&mut buf[4..]).await?;
    decode_frame(&buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

async fn run(
    stream: UnixStream,
    mut requests: mpsc::UnboundedReceiver<(Message, Pending)>,
    events: mpsc::UnboundedSender<EngineEvent>,
) {
    let (rd, mut wr) = stream.into_split();
    // One read per burst of frames, not two per frame (length, then body).
    let mut rd = tokio::io::BufReader::with_capacity(256 * 1024, rd);
    // A reading task of its own: `read_exact` is not cancel-safe, so it must never sit in a
    // `select!` that may drop it halfway through a frame.
    let (frames_tx, mut frames) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let r = read_frame(&mut rd).await;
            let end = r.is_err();
            if frames_tx.send(r).is_err() || end {
                break;
            }
        }
    });
    let mut pending: HashMap<u32, Pending> = HashMap::new();
    let mut next_id: u32 = 1;
    let why = loop {
        tokio::select! {
            req = requests.recv() => {
                let Some((msg, reply)) = req else { break "signaling dropped the handle".to_string() };
                let id = next_id;
                next_id = next_id.checked_add(1).unwrap_or(1);
                if let Err(e) = wr.write_all(&encode_frame(id, &msg)).await {
                    break format!("write: {e}");
                }
                pending.insert(id, reply);
            }
            frame = frames.recv() => match frame {
                Some(Ok(Frame { id: 0, msg })) => { let _ = events.send(EngineEvent::Message(msg)); }
                Some(Ok(Frame { id, msg })) => {
                    if let Some(reply) = pending.remove(&id) { let _ = reply.send(msg); }
                }
                Some(Err(e)) => break format!("read: {e}"),
                None => break "reader ended".to_string(),
            }
        }
    };
    tracing::warn!("engine control channel closed: {why}");
    let _ = events.send(EngineEvent::Closed(why));
}
