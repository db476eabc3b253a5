//! Packet I/O backends: the per-shard event loop that moves datagrams between sockets and the
//! shard's packet logic.
//!
//! The packet logic is a [`Handler`]: it sees one received datagram at a time, in a buffer it may
//! rewrite in place (there is tailroom for SRTP tags), and answers with a [`Verdict`]. The backend
//! owns the sockets, the buffers and the batching; the handler owns sessions, crypto and counters.
//! Two backends run the same handler:
//!
//! - `uring`: io_uring with a provided buffer ring, one multishot `RECVMSG` per socket, `SEND`
//!   straight from the receive buffer (no copy), one `io_uring_enter` per batch.
//! - `mmsg`: epoll + `recvmmsg`/`sendmmsg`, for kernels or sandboxes without io_uring.
//!
//! This module is the only one in the crate with `unsafe` code (system calls and the ring's
//! shared memory); each block says who owns the memory while the kernel has it.

mod mmsg;
mod sys;
mod uring;
mod waker;

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

pub use uring::available as uring_available;
pub use waker::Waker;

/// Bytes every receive buffer keeps free after the largest accepted datagram, so that SRTP/SRTCP
/// protect (tag plus SRTCP index, at most 20 bytes) never needs a copy.
pub const TAILROOM: usize = 64;

/// A socket within one shard: an index into the backend's socket table (for io_uring, also the
/// fixed-file slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SockId(pub u32);

/// Facts about one received datagram.
#[derive(Debug, Clone, Copy)]
pub struct RxMeta {
    /// Socket it arrived on.
    pub sock: SockId,
    /// Source address.
    pub from: SocketAddr,
}

/// What to do with a received datagram after the handler has seen it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to send: dropped (the handler counted why) or consumed (e.g. handed to signaling).
    Done,
    /// Send `buf[..len]` out of socket `via` to `to`.
    Send {
        /// Egress socket.
        via: SockId,
        /// Destination.
        to: SocketAddr,
        /// Bytes to send from the start of the buffer.
        len: usize,
    },
}

/// Operations the handler may ask of the backend outside the per-packet path (session setup and
/// teardown, DTLS records from signaling).
pub trait IoOps {
    /// Starts receiving on a bound socket; returns its id.
    fn add_socket(&mut self, sock: UdpSocket) -> io::Result<SockId>;
    /// Stops receiving on a socket and closes it.
    fn remove_socket(&mut self, id: SockId);
    /// Sends a copy of `data` out of `via` to `to` (not the fast path: it may copy).
    fn send_copy(&mut self, via: SockId, to: SocketAddr, data: &[u8]);
}

/// A shard's packet logic, driven by a backend.
pub trait Handler {
    /// One received datagram in `buf[..len]`; `buf.len() >= len + TAILROOM`. Must not block,
    /// allocate or panic.
    fn on_datagram(&mut self, meta: &RxMeta, buf: &mut [u8], len: usize) -> Verdict;

    /// A datagram on `sock` will reach [`Handler::on_datagram`] soon: backends announce each one
    /// at every [`Lookahead`] stage, so the handler can have its per-session state loaded from
    /// memory while it works on the current datagram. A hint: it must not change what
    /// `on_datagram` does. The default does nothing.
    #[inline]
    fn prefetch(&mut self, sock: SockId, ahead: Lookahead) {
        let _ = (sock, ahead);
    }

    /// Called after each batch and on every wake-up or tick: drain commands, run timers, use
    /// `io` for socket changes and out-of-band sends.
    fn poll(&mut self, now: Instant, io: &mut dyn IoOps);

    /// A forwarded packet was submitted to the kernel `ns` nanoseconds after it was received
    /// (kernel receive timestamp where available, else the completion time).
    fn on_forwarded(&mut self, ns: u64);

    /// A datagram was lost before the handler saw it: `truncated` (too big for a buffer) or
    /// dropped because receive buffers ran out.
    fn on_rx_error(&mut self, truncated: bool);

    /// The kernel refused a send (socket buffer full): the packet is dropped.
    fn on_tx_error(&mut self);

    /// Whether the loop should end (checked after each `poll`).
    fn should_stop(&self) -> bool;
}

/// How far ahead of its turn a datagram is announced to [`Handler::prefetch`]. Backends
/// announce every datagram of a batch three times, so a handler can walk a chain of dependent
/// loads (table entry, then the object it names, then what that points to) one link per step,
/// each link already in cache when it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookahead {
    /// Three datagrams ahead.
    Far,
    /// Two ahead.
    Mid,
    /// The next datagram.
    Near,
}

impl Lookahead {
    /// Each stage with its distance, farthest first: the order backends announce in.
    pub const STAGES: [(usize, Lookahead); 3] = [(6, Self::Far), (4, Self::Mid), (2, Self::Near)];
}

/// Asks the CPU to start loading the cache lines of `*r` (at most its first `max_bytes`) into
/// all cache levels. A hint only: it changes no state and never faults.
#[inline(always)]
pub fn prefetch<T: ?Sized>(r: &T, max_bytes: usize) {
    prefetch_range(r, 0..max_bytes, Cache::All);
}

/// Which caches a prefetch fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cache {
    /// Every level (PREFETCHT0): for what is read next.
    All,
    /// The second level and beyond (PREFETCHT1): for what is read a little later, without
    /// crowding the first-level cache.
    L2,
}

/// Like [`prefetch`], for the bytes `range` of `*r` (clamped to its size).
#[inline(always)]
#[allow(unsafe_code)]
pub fn prefetch_range<T: ?Sized>(r: &T, range: std::ops::Range<usize>, cache: Cache) {
    let size = std::mem::size_of_val(r);
    let (start, end) = (range.start.min(size), range.end.min(size));
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _MM_HINT_T1, _mm_prefetch};
        let base = (r as *const T).cast::<i8>();
        // From the line holding the first byte to the line holding the last one.
        let mut off = start as isize - ((base as usize + start) % 64) as isize;
        while off < end as isize {
            let p = base.wrapping_offset(off);
            // SAFETY: PREFETCHh is a hint: it reads no memory architecturally, cannot fault
            // and has no effect on program state. The addresses are inside `*r`, which the
            // borrow keeps alive anyway.
            unsafe {
                match cache {
                    Cache::All => _mm_prefetch::<_MM_HINT_T0>(p),
                    Cache::L2 => _mm_prefetch::<_MM_HINT_T1>(p),
                }
            }
            off += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (r, start, end, cache);
}

/// Which backend runs a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// The backend that costs less per packet on this workload: epoll + mmsg. Measured beside
    /// io_uring in the same runs (perf/BENCHMARKS.md, "CPU per relayed packet"), mmsg stayed at
    /// or below io_uring every time, so it is the default; io_uring is there by choice.
    Auto,
    /// io_uring (fails to start if unavailable).
    Uring,
    /// epoll + recvmmsg/sendmmsg.
    Mmsg,
}

/// Event-loop tuning.
#[derive(Debug, Clone)]
pub struct LoopConfig {
    /// Receive buffers per shard (io_uring: the provided-buffer ring; a power of two).
    pub buffers: u16,
    /// Bytes per buffer, tailroom and (io_uring) receive header included.
    pub buf_size: usize,
    /// Datagrams per `recvmmsg` (mmsg backend, at most 64).
    pub batch: usize,
    /// `Handler::poll` runs at least this often.
    pub tick: Duration,
    /// Use kernel receive timestamps (SO_TIMESTAMPNS) for the latency histogram.
    pub kernel_timestamps: bool,
    /// Most sockets per shard (io_uring: fixed-file table size).
    pub max_sockets: u32,
}

impl Default for LoopConfig {
    fn default() -> Self {
        Self {
            buffers: 4096,
            buf_size: 2048,
            batch: 32,
            tick: Duration::from_millis(20),
            kernel_timestamps: true,
            max_sockets: 65_536,
        }
    }
}

/// Runs `handler` on this thread until it asks to stop.
pub fn run<H: Handler>(
    kind: BackendKind,
    cfg: &LoopConfig,
    waker: &Waker,
    handler: &mut H,
) -> io::Result<()> {
    match kind {
        BackendKind::Mmsg => mmsg::run(cfg, waker, handler),
        BackendKind::Uring => uring::run(cfg, waker, handler),
        BackendKind::Auto => mmsg::run(cfg, waker, handler),
    }
}

/// Asks the kernel to back `mem` with transparent huge pages where it can (`MADV_HUGEPAGE`; a
/// no-op where THP is off). For large per-shard tables read in random order, so that each
/// packet does not also pay a page walk: call it before the memory is first touched.
#[allow(unsafe_code)]
pub fn advise_huge_pages<T>(mem: &[std::mem::MaybeUninit<T>]) {
    const HUGE: usize = 2 << 20;
    let (start, len) = (mem.as_ptr() as usize, std::mem::size_of_val(mem));
    // Only whole huge pages inside the range: madvise needs an aligned start, and advising
    // the neighbours of a small allocation would be pointless.
    let first = start.next_multiple_of(HUGE);
    let end = (start + len) & !(HUGE - 1);
    if end > first {
        // SAFETY: MADV_HUGEPAGE changes only how the kernel backs this range, which lies
        // inside memory the slice borrows; contents and validity are unaffected.
        unsafe { libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE) };
    }
}

/// CPU time the calling thread has used (`CLOCK_THREAD_CPUTIME_ID`), for benchmarks that must
/// not count time other processes take on a shared core.
#[allow(unsafe_code)]
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the live local we pass.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) } != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Pins the calling thread to one CPU.
#[allow(unsafe_code)]
pub fn pin_current_thread(cpu: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data; CPU_SET writes within it; sched_setaffinity reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Raises the open-file limit as far as the process may: first to the kernel's per-process
/// ceiling (`fs.nr_open`, allowed to root / CAP_SYS_RESOURCE), else the soft limit to the hard
/// limit. Each media leg holds one or two sockets; the default 1,024 runs out at a few hundred
/// calls. Returns the new soft limit.
#[allow(unsafe_code)]
pub fn raise_fd_limit() -> io::Result<u64> {
    let ceiling = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok());
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: reads into and writes from a live rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return Err(io::Error::last_os_error());
        }
        if let Some(c) = ceiling.filter(|c| *c > lim.rlim_max) {
            let wide = libc::rlimit {
                rlim_cur: c,
                rlim_max: c,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &wide) == 0 {
                return Ok(c);
            }
        }
        lim.rlim_cur = lim.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(lim.rlim_cur)
}
