//! One shard: its sessions, its counters and histogram, and the commands that reach it.
//!
//! A shard is a [`Handler`] run by an I/O backend on its own pinned thread. The control thread
//! talks to it only through [`Cmd`] messages (woken by the shard's waker) and hears back through
//! [`Event`]s; nothing is shared on the packet path.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crossbeam::channel::{Receiver, Sender};
use hdrhistogram::Histogram;

use super::io::{self, Handler, IoOps, Lookahead, RxMeta, SockId, Verdict};
use super::ports::LegSockets;
use super::session::{Route, Session};
use super::stats::{self, Counters, DropReason};
use crate::control::{Counter, EndReason, LegAddrs, LegId, LegSpec, SessionId, SessionInfo};

/// A reply channel for one command.
pub type Reply<T> = Sender<Result<T, String>>;

/// What the control thread asks of a shard.
#[derive(Debug)]
pub enum Cmd {
    /// Take ownership of a new session's sockets.
    Add {
        /// Session id (its shard bits name this shard).
        id: SessionId,
        /// Bound sockets of legs A and B.
        sockets: [LegSockets; 2],
        /// Their local addresses.
        addrs: [LegAddrs; 2],
        /// Done.
        reply: Reply<()>,
    },
    /// Install or replace a session's relay spec.
    Install {
        /// Session.
        id: SessionId,
        /// Legs A and B.
        spec: Box<[LegSpec; 2]>,
        /// Done, or why the spec was refused.
        reply: Reply<()>,
    },
    /// Remove a session; replies with its local addresses so the ports can be freed.
    Remove {
        /// Session.
        id: SessionId,
        /// The freed addresses.
        reply: Reply<[LegAddrs; 2]>,
    },
    /// Send a DTLS datagram out of a leg.
    DtlsSend {
        /// Session.
        id: SessionId,
        /// Leg.
        leg: LegId,
        /// Destination (must have passed an ICE check on that leg).
        to: SocketAddr,
        /// Datagram.
        payload: Vec<u8>,
        /// Done.
        reply: Reply<()>,
    },
    /// List sessions.
    List(Reply<Vec<SessionInfo>>),
    /// Snapshot counters and histogram.
    Stats(Reply<(Vec<Counter>, Vec<u8>)>),
    /// End the loop.
    Stop,
}

/// What a shard reports to the control thread on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A DTLS datagram for signaling.
    Dtls {
        /// Session.
        id: SessionId,
        /// Leg.
        leg: LegId,
        /// Source.
        from: SocketAddr,
        /// Datagram.
        payload: Vec<u8>,
    },
    /// A leg latched to a (new) peer address.
    Latched {
        /// Session.
        id: SessionId,
        /// Leg.
        leg: LegId,
        /// Address.
        addr: SocketAddr,
    },
    /// An RFC 4733 event completed on a leg that takes them.
    Dtmf {
        /// Session.
        id: SessionId,
        /// Leg it arrived on.
        leg: LegId,
        /// Event code.
        event: u8,
        /// Duration in milliseconds.
        duration_ms: u32,
        /// Volume in -dBm0.
        volume: u8,
    },
    /// The shard ended a session on its own; its ports can be freed.
    Ended {
        /// Session.
        id: SessionId,
        /// Why.
        reason: EndReason,
        /// Local addresses to free.
        addrs: [LegAddrs; 2],
    },
}

/// Timeouts a shard applies.
#[derive(Debug, Clone, Copy)]
pub struct ShardConfig {
    /// Shard index.
    pub index: u16,
    /// Sessions with no packet for this long are removed.
    pub idle_timeout: Duration,
    /// ICE consent lifetime (RFC 7675: 30 s).
    pub consent_timeout: Duration,
}

/// A shard's state: the [`Handler`] its backend drives.
#[derive(Debug)]
pub struct Shard {
    cfg: ShardConfig,
    cmds: Receiver<Cmd>,
    events: Sender<Event>,
    /// Session slab; `routes` point into it.
    sessions: Vec<Option<Session>>,
    free_slots: Vec<usize>,
    /// Session id to slot (control path only).
    by_id: std::collections::HashMap<SessionId, usize>,
    /// Per-socket route, indexed by `SockId`: the fast path's only lookup.
    routes: Vec<Option<Route>>,
    counters: Counters,
    histogram: Histogram<u64>,
    now: Instant,
    last_sweep: Instant,
    stop: bool,
    /// Offset of a session inside its slab entry (for prefetching by address).
    session_offset: usize,
}

impl Shard {
    /// A shard that takes commands from `cmds` and reports on `events`.
    pub fn new(cfg: ShardConfig, cmds: Receiver<Cmd>, events: Sender<Event>) -> Self {
        let now = Instant::now();
        Self {
            cfg,
            cmds,
            events,
            sessions: Vec::new(),
            free_slots: Vec::new(),
            by_id: std::collections::HashMap::new(),
            routes: Vec::new(),
            counters: Counters::default(),
            histogram: stats::new_histogram(),
            now,
            last_sweep: now,
            stop: false,
            session_offset: Session::offset_in_option(),
        }
    }

    /// The shard's counters (for tests that drive a shard directly).
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    fn slot_of(&self, id: SessionId) -> Option<usize> {
        self.by_id.get(&id).copied()
    }

    fn handle_cmd(&mut self, cmd: Cmd, io: &mut dyn IoOps) {
        match cmd {
            Cmd::Add {
                id,
                sockets,
                addrs,
                reply,
            } => {
                let _ = reply.send(self.add(id, sockets, addrs, io));
            }
            Cmd::Install { id, spec, reply } => {
                let now = self.now;
                let r = match self.slot_of(id) {
                    Some(slot) => self.session_mut(slot).install(*spec, now),
                    None => Err(format!("no session {id}")),
                };
                let _ = reply.send(r);
            }
            Cmd::Remove { id, reply } => {
                let r = self
                    .slot_of(id)
                    .map(|slot| self.remove(slot, io))
                    .ok_or_else(|| format!("no session {id}"));
                let _ = reply.send(r);
            }
            Cmd::DtlsSend {
                id,
                leg,
                to,
                payload,
                reply,
            } => {
                let _ = reply.send(self.dtls_send(id, leg, to, &payload, io));
            }
            Cmd::List(reply) => {
                let list = self
                    .sessions
                    .iter()
                    .flatten()
                    .map(|s| s.info(self.cfg.index, self.now))
                    .collect();
                let _ = reply.send(Ok(list));
            }
            Cmd::Stats(reply) => {
                self.counters.sessions = self.sessions.iter().flatten().count() as u64;
                let _ = reply.send(Ok((
                    self.counters.to_list(),
                    stats::encode_histogram(&self.histogram),
                )));
            }
            Cmd::Stop => self.stop = true,
        }
    }

    fn session_mut(&mut self, slot: usize) -> &mut Session {
        // Slots come from `slot_of` or from routes, which only name live sessions.
        self.sessions[slot]
            .as_mut()
            .unwrap_or_else(|| unreachable!("route to an empty slot"))
    }

    fn add(
        &mut self,
        id: SessionId,
        sockets: [LegSockets; 2],
        addrs: [LegAddrs; 2],
        io: &mut dyn IoOps,
    ) -> Result<(), String> {
        if self.slot_of(id).is_some() {
            return Err(format!("session {id} exists"));
        }
        let slot = self.free_slots.pop().unwrap_or(self.sessions.len());
        let mut socks = [[None; 2]; 2];
        let mut added = Vec::new();
        for (leg, s) in sockets.into_iter().enumerate() {
            for (i, sock) in std::iter::once(s.rtp).chain(s.rtcp).enumerate() {
                match io.add_socket(sock) {
                    Ok(sid) => {
                        socks[leg][i] = Some(sid);
                        added.push(sid);
                        self.set_route(
                            sid,
                            Some(Route {
                                slot: slot as u32,
                                leg: if leg == 0 { LegId::A } else { LegId::B },
                                rtcp_port: i == 1,
                            }),
                        );
                    }
                    Err(e) => {
                        added.iter().for_each(|sid| {
                            io.remove_socket(*sid);
                            self.set_route(*sid, None);
                        });
                        self.free_slots.push(slot);
                        return Err(format!("registering a socket: {e}"));
                    }
                }
            }
        }
        let session = Session::new(id, socks, addrs, self.now);
        self.by_id.insert(id, slot);
        if slot == self.sessions.len() {
            self.grow_slab();
            self.sessions.push(Some(session));
        } else {
            self.sessions[slot] = Some(session);
        }
        Ok(())
    }

    /// Makes room for one more session. The slab doubles into fresh memory advised for huge
    /// pages before anything is written to it (a session is about 4 KB and packets visit them
    /// in random order: with 4 KB pages each packet would also miss the TLB).
    fn grow_slab(&mut self) {
        if self.sessions.len() < self.sessions.capacity() {
            return;
        }
        let mut bigger = Vec::with_capacity((2 * self.sessions.capacity()).max(64));
        io::advise_huge_pages(bigger.spare_capacity_mut());
        bigger.append(&mut self.sessions);
        self.sessions = bigger;
    }

    fn set_route(&mut self, sid: SockId, route: Option<Route>) {
        let i = sid.0 as usize;
        if self.routes.len() <= i {
            self.routes.resize(i + 1, None);
        }
        self.routes[i] = route;
    }

    fn remove(&mut self, slot: usize, io: &mut dyn IoOps) -> [LegAddrs; 2] {
        let session = self.sessions[slot]
            .take()
            .unwrap_or_else(|| unreachable!("remove of an empty slot"));
        for sid in session.sockets() {
            io.remove_socket(sid);
            self.set_route(sid, None);
        }
        self.by_id.remove(&session.id);
        self.free_slots.push(slot);
        session.addrs()
    }

    fn dtls_send(
        &mut self,
        id: SessionId,
        leg: LegId,
        to: SocketAddr,
        payload: &[u8],
        io: &mut dyn IoOps,
    ) -> Result<(), String> {
        let slot = self.slot_of(id).ok_or_else(|| format!("no session {id}"))?;
        let via = self.session_mut(slot).dtls_route(leg, to)?;
        io.send_copy(via, to, payload);
        self.counters.dtls_down += 1;
        self.counters.tx_packets += 1;
        self.counters.tx_bytes += payload.len() as u64;
        Ok(())
    }

    /// Reaps idle sessions; at most once a second.
    fn sweep(&mut self, io: &mut dyn IoOps) {
        if self.now.duration_since(self.last_sweep) < Duration::from_secs(1) {
            return;
        }
        self.last_sweep = self.now;
        let idle: Vec<usize> = (0..self.sessions.len())
            .filter(|&i| {
                self.sessions[i]
                    .as_ref()
                    .is_some_and(|s| s.idle_for(self.now) >= self.cfg.idle_timeout)
            })
            .collect();
        for slot in idle {
            let id = self.session_mut(slot).id;
            let addrs = self.remove(slot, io);
            let _ = self.events.send(Event::Ended {
                id,
                reason: EndReason::Idle,
                addrs,
            });
        }
    }
}

impl Handler for Shard {
    #[inline]
    fn on_datagram(&mut self, meta: &RxMeta, buf: &mut [u8], len: usize) -> Verdict {
        self.counters.rx_packets += 1;
        self.counters.rx_bytes += len as u64;
        let Some(route) = self.routes.get(meta.sock.0 as usize).copied().flatten() else {
            self.counters.drop(DropReason::UnknownSession);
            return Verdict::Done;
        };
        let Some(session) = self
            .sessions
            .get_mut(route.slot as usize)
            .and_then(Option::as_mut)
        else {
            self.counters.drop(DropReason::UnknownSession);
            return Verdict::Done;
        };
        let ctx = super::session::PacketCtx {
            now: self.now,
            consent_timeout: self.cfg.consent_timeout,
            counters: &mut self.counters,
            events: &self.events,
        };
        let verdict = session.on_datagram(route, meta.from, buf, len, ctx);
        if let Verdict::Send { len, .. } = verdict {
            self.counters.tx_packets += 1;
            self.counters.tx_bytes += len as u64;
        }
        verdict
    }

    /// `Far`: the socket's route entry is prefetched. `Mid`: the route is read (in cache by
    /// now) and the session's hot lines are prefetched by address. `Near`: the session is read
    /// and the SRTP contexts in use and the ICE state are prefetched.
    #[inline]
    fn prefetch(&mut self, sock: SockId, ahead: Lookahead) {
        let Some(route) = self.routes.get(sock.0 as usize) else {
            return;
        };
        if ahead == Lookahead::Far {
            return io::prefetch(route, 64);
        }
        let Some(entry) = route.and_then(|r| self.sessions.get(r.slot as usize).map(|e| (r, e)))
        else {
            return;
        };
        match (ahead, entry) {
            (Lookahead::Mid, (r, e)) => {
                let at = self.session_offset;
                for range in Session::hot_ranges(r.leg) {
                    io::prefetch_range(e, at + range.start..at + range.end, io::Cache::All);
                }
            }
            (_, (r, Some(session))) => session.prefetch(r),
            _ => {}
        }
    }

    fn poll(&mut self, now: Instant, io: &mut dyn IoOps) {
        self.now = now;
        while let Ok(cmd) = self.cmds.try_recv() {
            self.handle_cmd(cmd, io);
        }
        self.sweep(io);
    }

    #[inline]
    fn on_forwarded(&mut self, ns: u64) {
        // Values beyond the histogram's 60 s bound are clamped rather than lost.
        self.histogram.saturating_record(ns.max(1));
    }

    fn on_rx_error(&mut self, truncated: bool) {
        self.counters.drop(if truncated {
            DropReason::Truncated
        } else {
            DropReason::Overrun
        });
    }

    fn on_tx_error(&mut self) {
        self.counters.drop(DropReason::SendFailed);
    }

    fn should_stop(&self) -> bool {
        self.stop
    }
}
