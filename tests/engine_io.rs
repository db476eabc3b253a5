//! The two I/O backends over real loopback UDP, with a small relay handler: correctness of
//! every byte, many sockets added and removed at run time, out-of-band sends, ticks, overload,
//! truncation, and no allocation on the loop thread while forwarding.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam::channel::{Receiver, Sender, unbounded};
use ferry::engine::io::{
    self, BackendKind, Handler, IoOps, LoopConfig, RxMeta, SockId, TAILROOM, Verdict, Waker,
};

thread_local! {
    static COUNT_ALLOCS: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

struct Counting;

// SAFETY: defers to the system allocator; only counts calls made on a flagged thread.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNT_ALLOCS.with(Cell::get) {
            ALLOCS.with(|a| a.set(a.get() + 1));
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

enum Cmd {
    /// Relay between two sockets: what arrives on `a` goes out of `b` to `b_peer`, and back.
    Pair {
        a: UdpSocket,
        b: UdpSocket,
        a_peer: SocketAddr,
        b_peer: SocketAddr,
        done: Sender<(SockId, SockId)>,
    },
    Remove(SockId),
    SendCopy {
        via: SockId,
        to: SocketAddr,
        data: Vec<u8>,
    },
    CountAllocs(bool, Sender<u64>),
    Stop,
}

#[derive(Default)]
struct Shared {
    forwarded: AtomicU64,
    truncated: AtomicU64,
    polls: AtomicU64,
    max_latency: AtomicU64,
}

struct Relay {
    cmds: Receiver<Cmd>,
    routes: HashMap<SockId, (SockId, SocketAddr)>,
    shared: Arc<Shared>,
    stop: bool,
}

impl Handler for Relay {
    fn on_datagram(&mut self, meta: &RxMeta, buf: &mut [u8], len: usize) -> Verdict {
        assert!(buf.len() >= len + TAILROOM);
        match self.routes.get(&meta.sock) {
            Some(&(via, to)) => {
                buf[0] ^= 0xff; // prove the buffer is ours to rewrite
                Verdict::Send { via, to, len }
            }
            None => Verdict::Done,
        }
    }

    fn poll(&mut self, _now: Instant, io: &mut dyn IoOps) {
        self.shared.polls.fetch_add(1, Ordering::Relaxed);
        while let Ok(cmd) = self.cmds.try_recv() {
            match cmd {
                Cmd::Pair {
                    a,
                    b,
                    a_peer,
                    b_peer,
                    done,
                } => {
                    let (ia, ib) = (io.add_socket(a).unwrap(), io.add_socket(b).unwrap());
                    self.routes.insert(ia, (ib, b_peer));
                    self.routes.insert(ib, (ia, a_peer));
                    done.send((ia, ib)).unwrap();
                }
                Cmd::Remove(id) => {
                    self.routes.remove(&id);
                    io.remove_socket(id);
                }
                Cmd::SendCopy { via, to, data } => io.send_copy(via, to, &data),
                Cmd::CountAllocs(on, reply) => {
                    COUNT_ALLOCS.with(|c| c.set(on));
                    if on {
                        ALLOCS.with(|a| a.set(0));
                    }
                    reply.send(ALLOCS.with(Cell::get)).unwrap();
                }
                Cmd::Stop => self.stop = true,
            }
        }
    }

    fn on_forwarded(&mut self, ns: u64) {
        self.shared.forwarded.fetch_add(1, Ordering::Relaxed);
        self.shared.max_latency.fetch_max(ns, Ordering::Relaxed);
    }

    fn on_rx_error(&mut self, truncated: bool) {
        if truncated {
            self.shared.truncated.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn on_tx_error(&mut self) {}

    fn should_stop(&self) -> bool {
        self.stop
    }
}

struct Loop {
    tx: Sender<Cmd>,
    waker: Arc<Waker>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

/// The tests in this file run one at a time: each closes hundreds of sockets whose ephemeral
/// ports the kernel hands straight to the next test's new sockets, and a stray datagram to a
/// reused port would land in another test's relay.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Loop {
    fn start(kind: BackendKind, cfg: LoopConfig) -> Self {
        io::raise_fd_limit().unwrap();
        let (tx, rx) = unbounded();
        let waker = Arc::new(Waker::new().unwrap());
        let shared = Arc::new(Shared::default());
        let (w, s) = (Arc::clone(&waker), Arc::clone(&shared));
        let thread = std::thread::spawn(move || {
            let mut relay = Relay {
                cmds: rx,
                routes: HashMap::new(),
                shared: s,
                stop: false,
            };
            io::run(kind, &cfg, &w, &mut relay)
        });
        Self {
            tx,
            waker,
            shared,
            thread: Some(thread),
        }
    }

    fn send(&self, cmd: Cmd) {
        self.tx.send(cmd).unwrap();
        self.waker.wake();
    }

    /// A relayed pair: returns (client A, engine A addr, client B, engine B addr, ids).
    fn pair(
        &self,
    ) -> (
        UdpSocket,
        SocketAddr,
        UdpSocket,
        SocketAddr,
        (SockId, SockId),
    ) {
        let (ea, eb) = (
            UdpSocket::bind("127.0.0.1:0").unwrap(),
            UdpSocket::bind("127.0.0.1:0").unwrap(),
        );
        let (ca, cb) = (client(), client());
        let (ea_addr, eb_addr) = (ea.local_addr().unwrap(), eb.local_addr().unwrap());
        let (done, ids) = unbounded();
        self.send(Cmd::Pair {
            a: ea,
            b: eb,
            a_peer: ca.local_addr().unwrap(),
            b_peer: cb.local_addr().unwrap(),
            done,
        });
        let ids = ids.recv_timeout(Duration::from_secs(5)).unwrap();
        (ca, ea_addr, cb, eb_addr, ids)
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let _ = self.tx.send(Cmd::Stop);
        self.waker.wake();
        if let Some(t) = self.thread.take() {
            t.join().unwrap().unwrap();
        }
    }
}

fn client() -> UdpSocket {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    socket2::SockRef::from(&s)
        .set_recv_buffer_size(4 << 20)
        .unwrap();
    s
}

fn backends() -> Vec<BackendKind> {
    if io::uring_available() {
        vec![BackendKind::Mmsg, BackendKind::Uring]
    } else {
        eprintln!("io_uring unavailable here: testing the mmsg backend only");
        vec![BackendKind::Mmsg]
    }
}

fn recv(s: &UdpSocket) -> Option<Vec<u8>> {
    let mut buf = [0u8; 4096];
    s.recv_from(&mut buf).ok().map(|(n, _)| buf[..n].to_vec())
}

fn payload(i: usize) -> Vec<u8> {
    let len = 20 + (i * 7919) % 1380;
    (0..len).map(|k| (i + k * 31) as u8).collect()
}

fn flipped(mut p: Vec<u8>) -> Vec<u8> {
    p[0] ^= 0xff;
    p
}

#[test]
fn relays_every_byte_both_ways() {
    let _serial = serial();
    for kind in backends() {
        let l = Loop::start(kind, LoopConfig::default());
        let (ca, ea, cb, eb, _) = l.pair();
        for i in 0..10_000 {
            let (from, to, dst) = if i % 2 == 0 {
                (&ca, eb, &cb)
            } else {
                (&cb, ea, &ca)
            };
            let _ = to;
            let target = if i % 2 == 0 { ea } else { eb };
            from.send_to(&payload(i), target).unwrap();
            assert_eq!(recv(dst), Some(flipped(payload(i))), "{kind:?} packet {i}");
        }
        // The loop counts a send after handing it to the kernel, so the last reply can reach
        // us before it is counted: give the counter a moment.
        let deadline = Instant::now() + Duration::from_secs(1);
        while l.shared.forwarded.load(Ordering::Relaxed) < 10_000 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(l.shared.forwarded.load(Ordering::Relaxed) >= 10_000);
        let max = l.shared.max_latency.load(Ordering::Relaxed);
        assert!(
            max > 0 && max < 1_000_000_000,
            "{kind:?}: plausible latency {max} ns"
        );
    }
}

#[test]
fn many_sockets_added_and_removed_at_run_time() {
    let _serial = serial();
    for kind in backends() {
        let l = Loop::start(kind, LoopConfig::default());
        let pairs: Vec<_> = (0..500).map(|_| l.pair()).collect();
        let mut order: Vec<usize> = (0..pairs.len()).collect();
        // A fixed shuffle so traffic hits sockets in no particular order.
        for i in 0..order.len() {
            order.swap(i, (i * 7_919 + 13) % pairs.len());
        }
        for &i in &order {
            let (ca, ea, cb, _, _) = &pairs[i];
            ca.send_to(&payload(i), *ea).unwrap();
            assert_eq!(recv(cb), Some(flipped(payload(i))), "{kind:?} pair {i}");
        }
        for (_, _, _, _, (ia, ib)) in &pairs[..250] {
            l.send(Cmd::Remove(*ia));
            l.send(Cmd::Remove(*ib));
        }
        std::thread::sleep(Duration::from_millis(100));
        for (i, (ca, ea, cb, _, _)) in pairs.iter().enumerate() {
            ca.send_to(&payload(i), *ea).unwrap();
            if i < 250 {
                cb.set_read_timeout(Some(Duration::from_millis(20)))
                    .unwrap();
                assert_eq!(recv(cb), None, "{kind:?}: removed pair {i} relays nothing");
            } else {
                assert_eq!(
                    recv(cb),
                    Some(flipped(payload(i))),
                    "{kind:?}: pair {i} still relays"
                );
            }
        }
    }
}

#[test]
fn send_copy_and_ticks() {
    let _serial = serial();
    for kind in backends() {
        let cfg = LoopConfig {
            tick: Duration::from_millis(10),
            ..LoopConfig::default()
        };
        let l = Loop::start(kind, cfg);
        let (ca, _, _, _, (ia, _)) = l.pair();
        l.send(Cmd::SendCopy {
            via: ia,
            to: ca.local_addr().unwrap(),
            data: b"dtls-from-signaling".to_vec(),
        });
        assert_eq!(recv(&ca), Some(b"dtls-from-signaling".to_vec()));
        let before = l.shared.polls.load(Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(300));
        let ticks = l.shared.polls.load(Ordering::Relaxed) - before;
        assert!(
            ticks >= 10,
            "{kind:?}: poll ran {ticks} times in 300 ms with a 10 ms tick"
        );
    }
}

#[test]
fn truncated_datagrams_are_counted_not_delivered() {
    let _serial = serial();
    for kind in backends() {
        let l = Loop::start(
            kind,
            LoopConfig {
                buf_size: 1024,
                ..LoopConfig::default()
            },
        );
        let (ca, ea, cb, _, _) = l.pair();
        ca.send_to(&[0x80; 1020], ea).unwrap();
        ca.send_to(&payload(1), ea).unwrap(); // 20 + 7919 % 1380 = 1,199 bytes: too big too
        ca.send_to(&[1, 2, 3], ea).unwrap();
        assert_eq!(
            recv(&cb),
            Some(vec![0xfe, 2, 3]),
            "{kind:?}: the small one still relays"
        );
        assert_eq!(l.shared.truncated.load(Ordering::Relaxed), 2, "{kind:?}");
    }
}

#[test]
fn overload_sheds_load_and_recovers() {
    let _serial = serial();
    for kind in backends() {
        let l = Loop::start(
            kind,
            LoopConfig {
                buffers: 256,
                ..LoopConfig::default()
            },
        );
        let (ca, ea, cb, _, _) = l.pair();
        let stop = Arc::new(AtomicBool::new(false));
        let blasters: Vec<_> = (0..2)
            .map(|_| {
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let _ = s.send_to(&[0x80; 172], ea);
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        // The relay routes only `ca`'s traffic; blasting from strangers still loads the loop.
        let t0 = Instant::now();
        let mut relayed = 0;
        while t0.elapsed() < Duration::from_secs(2) {
            ca.send_to(&payload(3), ea).unwrap();
            cb.set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            if recv(&cb).is_some() {
                relayed += 1;
            }
        }
        stop.store(true, Ordering::Relaxed);
        let offered: u64 = blasters.into_iter().map(|b| b.join().unwrap()).sum();
        assert!(
            relayed > 0,
            "{kind:?}: real traffic got through during overload ({offered} blasted)"
        );
        // Afterwards: normal service.
        cb.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        while recv(&cb).is_some() {}
        for i in 0..100 {
            ca.send_to(&payload(i), ea).unwrap();
            assert_eq!(
                recv(&cb),
                Some(flipped(payload(i))),
                "{kind:?}: recovered after overload"
            );
        }
    }
}

#[test]
fn no_allocation_on_the_loop_thread_while_forwarding() {
    let _serial = serial();
    for kind in backends() {
        let l = Loop::start(kind, LoopConfig::default());
        let (ca, ea, cb, _, _) = l.pair();
        for i in 0..200 {
            ca.send_to(&payload(i), ea).unwrap();
            recv(&cb).unwrap();
        }
        // Bounded: its slot is allocated here, so replying allocates nothing on the loop thread.
        let (tx, rx) = crossbeam::channel::bounded(1);
        l.send(Cmd::CountAllocs(true, tx.clone()));
        rx.recv().unwrap();
        for i in 0..5_000 {
            ca.send_to(&payload(i), ea).unwrap();
            assert!(recv(&cb).is_some());
        }
        l.send(Cmd::CountAllocs(false, tx));
        assert_eq!(
            rx.recv().unwrap(),
            0,
            "{kind:?}: allocations on the loop thread during the burst"
        );
    }
}
