//! A blocking control-channel client: what signaling, `ferry stats`, `ferry-perf` and the tests
//! use to drive an engine.
//!
//! A reader thread owns the receiving half, so replies and events that interleave on the stream
//! are sorted without ever abandoning a half-read frame on a timeout.

use std::collections::VecDeque;
use std::io;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crossbeam::channel::{Receiver, RecvTimeoutError, unbounded};

use super::{Frame, Message, check_hello, read_frame, write_frame};

/// How long a request waits for its reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// A connected, greeted control channel.
#[derive(Debug)]
pub struct Client {
    stream: UnixStream,
    frames: Receiver<io::Result<Frame>>,
    next_id: u32,
    /// Events that arrived while waiting for a reply.
    events: VecDeque<Message>,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl Client {
    /// Connects to the engine's socket and exchanges `Hello`.
    pub fn connect(path: &Path) -> io::Result<Self> {
        let mut stream = UnixStream::connect(path)?;
        let mut rx = stream.try_clone()?;
        let (tx, frames) = unbounded();
        std::thread::Builder::new()
            .name("ferry-ctl-client".into())
            .spawn(move || {
                loop {
                    let r = read_frame(&mut rx);
                    let end = !matches!(r, Ok(Some(_)));
                    let item = r.and_then(|f| {
                        f.ok_or_else(|| {
                            io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "engine closed the channel",
                            )
                        })
                    });
                    if tx.send(item).is_err() || end {
                        break;
                    }
                }
            })?;
        write_frame(&mut stream, 0, &Message::hello())?;
        let mut client = Self {
            stream,
            frames,
            next_id: 1,
            events: VecDeque::new(),
        };
        let hello = client
            .recv(REPLY_TIMEOUT)?
            .ok_or_else(|| invalid("no hello from engine".into()))?;
        if let Message::Error { reason, .. } = &hello.msg {
            return Err(invalid(format!("engine refused hello: {reason}")));
        }
        check_hello(&hello.msg).map_err(invalid)?;
        Ok(client)
    }

    fn recv(&mut self, timeout: Duration) -> io::Result<Option<Frame>> {
        match self.frames.recv_timeout(timeout) {
            Ok(r) => r.map(Some),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "engine closed the channel",
            )),
        }
    }

    /// Sends a request and waits for its reply; events that arrive meanwhile are queued.
    pub fn request(&mut self, msg: &Message) -> io::Result<Message> {
        let id = self.next_id;
        self.next_id = self.next_id.checked_add(1).unwrap_or(1);
        write_frame(&mut self.stream, id, msg)?;
        loop {
            match self.recv(REPLY_TIMEOUT)? {
                None => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "no reply from engine",
                    ));
                }
                Some(Frame { id: 0, msg }) => self.events.push_back(msg),
                Some(Frame { id: got, msg }) if got == id => return Ok(msg),
                Some(Frame { id: got, .. }) => {
                    return Err(invalid(format!("reply to request {got}, expected {id}")));
                }
            }
        }
    }

    /// The next event, waiting up to `timeout` for one.
    pub fn next_event(&mut self, timeout: Duration) -> io::Result<Option<Message>> {
        if let Some(ev) = self.events.pop_front() {
            return Ok(Some(ev));
        }
        match self.recv(timeout)? {
            None => Ok(None),
            Some(Frame { id: 0, msg }) => Ok(Some(msg)),
            Some(Frame { id, .. }) => Err(invalid(format!("unsolicited reply {id}"))),
        }
    }

    /// Sends a request and expects `Message::Ok`.
    pub fn expect_ok(&mut self, msg: &Message) -> io::Result<()> {
        match self.request(msg)? {
            Message::Ok => Ok(()),
            Message::Error { code, reason } => Err(io::Error::other(format!("{code:?}: {reason}"))),
            other => Err(invalid(format!("unexpected reply {other:?}"))),
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // Ends the reader thread: its blocking read returns at once.
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}
