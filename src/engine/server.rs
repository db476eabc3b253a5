//! The engine's side of the control channel.
//!
//! One signaling process at a time: a new connection replaces the old one (a restarted
//! signaling process takes over; it sends `List` to learn the sessions). Sessions never depend
//! on the connection: when signaling goes away, media keeps flowing and idle sessions are reaped
//! by their shards as usual.

use std::io;
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use crossbeam::channel::{Receiver, Sender, bounded};

use super::io::Waker;
use super::ports::{LegSockets, PortAllocator};
use super::shard::{Cmd, Event, Reply};
use super::stats;
use crate::control::{
    ErrorCode, Family, LegAddrs, Message, SessionId, check_hello, read_frame, write_frame,
};

/// How long the control thread waits for a shard to answer.
const SHARD_TIMEOUT: Duration = Duration::from_secs(5);
/// Bits of a session id that carry the per-shard sequence; the rest name the shard.
const SHARD_SHIFT: u32 = 48;

/// How the control thread reaches one shard.
#[derive(Debug, Clone)]
pub struct ShardLink {
    /// Command queue.
    pub cmds: Sender<Cmd>,
    /// Wakes the shard's loop after a command is queued.
    pub waker: Arc<Waker>,
}

type Failure = (ErrorCode, String);

/// State the control and event threads share (control path only; never touched per packet).
#[derive(Debug)]
pub struct Control {
    shards: Vec<ShardLink>,
    ports: Mutex<PortAllocator>,
    /// The connected signaling process's sending half, with its connection number. Replies and
    /// events are written under this lock so frames never interleave.
    peer: Mutex<Option<(u64, UnixStream)>>,
    conns: std::sync::atomic::AtomicU64,
    next: Mutex<(u64, usize)>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking holder cannot leave these values inconsistent; keep serving.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Control {
    /// Control state over `shards`, allocating ports from `ports`.
    pub fn new(shards: Vec<ShardLink>, ports: PortAllocator) -> Arc<Self> {
        Arc::new(Self {
            shards,
            ports: Mutex::new(ports),
            peer: Mutex::new(None),
            conns: Default::default(),
            next: Mutex::new((1, 0)),
        })
    }

    /// Accepts signaling connections until the listener fails; each runs on its own thread so
    /// a new one can take over while an old one lingers.
    pub fn serve(self: &Arc<Self>, listener: UnixListener) {
        for conn in listener.incoming() {
            match conn {
                Ok(stream) => {
                    let this = Arc::clone(self);
                    let n = self
                        .conns
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                        + 1;
                    let spawned = std::thread::Builder::new()
                        .name(format!("ferry-ctl-{n}"))
                        .spawn(move || {
                            if let Err(e) = this.connection(n, stream) {
                                tracing::info!("control connection {n} ended: {e}");
                            }
                            this.release(n);
                        });
                    if let Err(e) = spawned {
                        tracing::warn!("control connection thread: {e}");
                    }
                }
                Err(e) => tracing::warn!("control accept: {e}"),
            }
        }
    }

    /// Forgets connection `n` as the event target if it still is.
    fn release(&self, n: u64) {
        let mut peer = lock(&self.peer);
        if peer.as_ref().is_some_and(|(m, _)| *m == n) {
            *peer = None;
            tracing::info!("signaling disconnected; sessions keep running");
        }
    }

    /// Forwards shard events to signaling and frees the ports of reaped sessions.
    pub fn pump_events(self: &Arc<Self>, events: Receiver<Event>) {
        for ev in events {
            let msg = match ev {
                Event::Dtls {
                    id,
                    leg,
                    from,
                    payload,
                } => Message::DtlsReceived {
                    session: id,
                    leg,
                    from,
                    payload,
                },
                Event::Latched { id, leg, addr } => Message::Latched {
                    session: id,
                    leg,
                    addr,
                },
                Event::Dtmf {
                    id,
                    leg,
                    event,
                    duration_ms,
                    volume,
                } => Message::Dtmf {
                    session: id,
                    leg,
                    event,
                    duration_ms,
                    volume,
                },
                Event::Ended { id, reason, addrs } => {
                    self.free_ports(&addrs);
                    tracing::info!(session = %id, ?reason, "session ended by engine");
                    Message::Ended {
                        session: id,
                        reason,
                    }
                }
            };
            self.send_event(&msg);
        }
    }

    fn send_event(&self, msg: &Message) {
        let mut peer = lock(&self.peer);
        if let Some((_, stream)) = peer.as_mut() {
            if write_frame(stream, 0, msg).is_err() {
                *peer = None;
            }
        }
    }

    fn connection(&self, n: u64, stream: UnixStream) -> io::Result<()> {
        let mut rx = stream.try_clone()?;
        rx.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut tx = stream;
        let hello = read_frame(&mut rx)?.ok_or_else(|| io::Error::other("closed before hello"))?;
        if let Err(reason) = check_hello(&hello.msg) {
            let _ = write_frame(
                &mut tx,
                0,
                &Message::Error {
                    code: ErrorCode::BadRequest,
                    reason: reason.clone(),
                },
            );
            return Err(io::Error::other(reason));
        }
        write_frame(&mut tx, 0, &Message::hello())?;
        rx.set_read_timeout(None)?;
        // Take over: events now go to this connection.
        *lock(&self.peer) = Some((n, tx.try_clone()?));
        tracing::info!("signaling connected (connection {n})");
        while let Some(frame) = read_frame(&mut rx)? {
            let reply = self
                .dispatch(frame.msg)
                .unwrap_or_else(|(code, reason)| Message::Error { code, reason });
            let _serialized = lock(&self.peer);
            write_frame(&mut tx, frame.id, &reply)?;
        }
        Ok(())
    }

    fn dispatch(&self, msg: Message) -> Result<Message, Failure> {
        match msg {
            Message::Allocate { family, legs } => self.allocate(family, legs.map(|l| l.rtcp_mux)),
            Message::Install { session, legs } => self
                .call(session, |reply| Cmd::Install {
                    id: session,
                    spec: legs,
                    reply,
                })
                .map(|()| Message::Ok),
            Message::Remove { session } => {
                let addrs = self.call(session, |reply| Cmd::Remove { id: session, reply })?;
                self.free_ports(&addrs);
                Ok(Message::Ok)
            }
            Message::DtlsSend {
                session,
                leg,
                to,
                payload,
            } => self
                .call(session, |reply| Cmd::DtlsSend {
                    id: session,
                    leg,
                    to,
                    payload,
                    reply,
                })
                .map(|()| Message::Ok),
            Message::List => {
                let lists = self.all(Cmd::List)?;
                Ok(Message::Sessions(lists.into_iter().flatten().collect()))
            }
            Message::StatsQuery => self.stats(),
            other => Err((
                ErrorCode::BadRequest,
                format!("not a request: message type {:#06x}", other.type_id()),
            )),
        }
    }

    fn allocate(&self, family: Family, mux: [bool; 2]) -> Result<Message, Failure> {
        let sockets = {
            let mut ports = lock(&self.ports);
            let a = ports
                .allocate(family, mux[0])
                .map_err(|e| (ErrorCode::NoPorts, e.to_string()))?;
            match ports.allocate(family, mux[1]) {
                Ok(b) => [a, b],
                Err(e) => {
                    free_leg(&mut ports, &leg_addrs(&a));
                    return Err((ErrorCode::NoPorts, e.to_string()));
                }
            }
        };
        let addrs = sockets.each_ref().map(leg_addrs);
        let (shard, id) = {
            let mut next = lock(&self.next);
            let (seq, rr) = *next;
            *next = (seq + 1, (rr + 1) % self.shards.len());
            (
                rr,
                SessionId(((rr as u64) << SHARD_SHIFT) | (seq & ((1 << SHARD_SHIFT) - 1))),
            )
        };
        let r = self.call(id, |reply| Cmd::Add {
            id,
            sockets,
            addrs,
            reply,
        });
        if let Err(e) = r {
            self.free_ports(&addrs);
            return Err(e);
        }
        Ok(Message::Allocated {
            session: id,
            shard: shard as u16,
            legs: addrs,
        })
    }

    fn stats(&self) -> Result<Message, Failure> {
        let snaps = self.all(Cmd::Stats)?;
        let mut merged = stats::new_histogram();
        let mut shards = Vec::new();
        for (counters, hist) in snaps {
            let h = stats::decode_histogram(&hist).map_err(|e| (ErrorCode::Unavailable, e))?;
            let _ = merged.add(h);
            shards.push(counters);
        }
        Ok(Message::Stats {
            shards,
            histogram: stats::encode_histogram(&merged),
        })
    }

    fn free_ports(&self, addrs: &[LegAddrs; 2]) {
        let mut ports = lock(&self.ports);
        addrs.iter().for_each(|a| free_leg(&mut ports, a));
    }

    fn link(&self, id: SessionId) -> Result<&ShardLink, Failure> {
        self.shards
            .get((id.0 >> SHARD_SHIFT) as usize)
            .ok_or((ErrorCode::NoSuchSession, format!("no session {id}")))
    }

    /// Sends a command to a session's shard and waits for the answer.
    fn call<T>(&self, id: SessionId, make: impl FnOnce(Reply<T>) -> Cmd) -> Result<T, Failure> {
        let link = self.link(id)?;
        ask(link, make)?.map_err(|e| {
            let code = if e.starts_with("no session") {
                ErrorCode::NoSuchSession
            } else {
                ErrorCode::BadRequest
            };
            (code, e)
        })
    }

    /// Sends a command to every shard and gathers the answers.
    fn all<T>(&self, make: impl Fn(Reply<T>) -> Cmd) -> Result<Vec<T>, Failure> {
        self.shards
            .iter()
            .map(|l| ask(l, &make)?.map_err(|e| (ErrorCode::Unavailable, e)))
            .collect()
    }

    /// Asks every shard to stop.
    pub fn stop_shards(&self) {
        for l in &self.shards {
            let _ = l.cmds.send(Cmd::Stop);
            l.waker.wake();
        }
    }
}

fn ask<T>(
    link: &ShardLink,
    make: impl FnOnce(Reply<T>) -> Cmd,
) -> Result<Result<T, String>, Failure> {
    let (tx, rx) = bounded(1);
    link.cmds
        .send(make(tx))
        .map_err(|_| (ErrorCode::Unavailable, "shard stopped".to_string()))?;
    link.waker.wake();
    rx.recv_timeout(SHARD_TIMEOUT)
        .map_err(|_| (ErrorCode::Unavailable, "shard did not answer".to_string()))
}

fn leg_addrs(s: &LegSockets) -> LegAddrs {
    // Just-bound sockets always have a local address.
    let addr = |u: &std::net::UdpSocket| {
        u.local_addr()
            .unwrap_or_else(|_| unreachable!("bound socket"))
    };
    LegAddrs {
        rtp: addr(&s.rtp),
        rtcp: s.rtcp.as_ref().map(addr),
    }
}

fn free_leg(ports: &mut PortAllocator, a: &LegAddrs) {
    ports.free(a.rtp.port());
    if let Some(r) = a.rtcp {
        ports.free(r.port());
    }
}
