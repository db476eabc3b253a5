//! The io_uring backend: a provided-buffer ring, one multishot `RECVMSG` per socket (sockets in
//! a sparse fixed-file table), and `SEND` straight from the receive buffer.
//!
//! A buffer's life: the kernel picks it from the ring for a datagram; the handler rewrites the
//! payload in place; either it goes back to the ring at once (dropped or consumed), or it is
//! sent from where it lies and goes back when the send completes. Nothing is copied and nothing
//! is allocated per packet. When the ring runs dry the kernel ends the multishot receive with
//! ENOBUFS and datagrams wait in (or overflow) the socket buffer: that is load shedding, counted,
//! and the receive is re-armed as soon as buffers return.
#![allow(unsafe_code)]

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Instant;

use io_uring::types::{BufRingEntry, CancelBuilder, Fd, Fixed, SubmitArgs, Timespec};
use io_uring::{IoUring, cqueue, opcode, squeue};

use super::sys;
use super::{Handler, IoOps, Lookahead, LoopConfig, RxMeta, SockId, TAILROOM, Verdict, Waker};

/// Buffer group id of the receive ring.
const BGID: u16 = 7;
/// Owned buffers for `send_copy` (DTLS from signaling and such).
const COPY_SLOTS: usize = 64;
const COPY_SIZE: usize = 2048;

/// What a completion is for: kind in the top byte, a generation, and an index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Recv { slot: u32, generation: u32 },
    Send { bid: u16 },
    Copy { idx: u16 },
    Wake,
    Cancel,
}

impl Op {
    fn encode(self) -> u64 {
        match self {
            Self::Recv { slot, generation } => {
                (1 << 56) | (u64::from(generation & 0xff_ffff) << 32) | u64::from(slot)
            }
            Self::Send { bid } => (2 << 56) | u64::from(bid),
            Self::Copy { idx } => (3 << 56) | u64::from(idx),
            Self::Wake => 4 << 56,
            Self::Cancel => 5 << 56,
        }
    }

    fn decode(v: u64) -> Self {
        match v >> 56 {
            1 => Self::Recv {
                slot: v as u32,
                generation: ((v >> 32) & 0xff_ffff) as u32,
            },
            2 => Self::Send { bid: v as u16 },
            3 => Self::Copy { idx: v as u16 },
            4 => Self::Wake,
            _ => Self::Cancel,
        }
    }
}

/// Whether io_uring with everything this backend needs works here (kernel, seccomp, limits).
pub fn available() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| probe().is_ok())
}

fn probe() -> io::Result<()> {
    let ring = IoUring::new(8)?;
    let mut p = io_uring::Probe::new();
    ring.submitter().register_probe(&mut p)?;
    for op in [
        opcode::RecvMsgMulti::CODE,
        opcode::Send::CODE,
        opcode::Read::CODE,
        opcode::AsyncCancel2::CODE,
    ] {
        if !p.is_supported(op) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("io_uring opcode {op}"),
            ));
        }
    }
    let bufs = BufRing::new(&ring, 2, 64)?;
    bufs.unregister(&ring);
    ring.submitter().register_files_sparse(4)?;
    Ok(())
}

/// The provided-buffer ring and the buffers it hands out.
struct BufRing {
    ring: *mut BufRingEntry,
    ring_bytes: usize,
    entries: u16,
    tail: u16,
    bufs: Vec<u8>,
    size: usize,
}

impl BufRing {
    fn new(uring: &IoUring, entries: u16, size: usize) -> io::Result<Self> {
        let entries = entries.max(2).next_power_of_two();
        let ring_bytes = usize::from(entries) * std::mem::size_of::<BufRingEntry>();
        // SAFETY: anonymous private mapping; checked for failure below and unmapped in Drop.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                ring_bytes,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_ANONYMOUS | libc::MAP_PRIVATE,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let mut br = Self {
            ring: ptr.cast(),
            ring_bytes,
            entries,
            tail: 0,
            bufs: vec![0; usize::from(entries) * size],
            size,
        };
        // SAFETY: the ring memory is page-aligned, `entries` long, and lives until Drop, after
        // `unregister`.
        unsafe {
            uring
                .submitter()
                .register_buf_ring_with_flags(ptr as u64, entries, BGID, 0)?
        };
        for bid in 0..entries {
            br.push(bid);
        }
        br.publish();
        Ok(br)
    }

    /// Queues buffer `bid` for the kernel again (visible after `publish`).
    fn push(&mut self, bid: u16) {
        let i = usize::from(self.tail & (self.entries - 1));
        // SAFETY: `i` < entries, inside the mapping; the kernel only reads entries up to the
        // published tail, and this one is past it until `publish`.
        let e = unsafe { &mut *self.ring.add(i) };
        e.set_addr(self.bufs[usize::from(bid) * self.size..].as_ptr() as u64);
        e.set_len(self.size as u32);
        e.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
    }

    /// Makes pushed buffers visible to the kernel.
    fn publish(&self) {
        // SAFETY: the tail field lives in the first entry of our mapping; the kernel reads it
        // with acquire semantics, so a release store orders the entries written before it.
        unsafe {
            let tail = BufRingEntry::tail(self.ring).cast_mut();
            (*tail.cast::<AtomicU16>()).store(self.tail, Ordering::Release);
        }
    }

    fn peek(&self, bid: u16) -> &[u8] {
        let s = self.size;
        self.bufs
            .get(usize::from(bid) * s..(usize::from(bid) + 1) * s)
            .unwrap_or(&[])
    }

    fn buf(&mut self, bid: u16) -> &mut [u8] {
        let s = self.size;
        &mut self.bufs[usize::from(bid) * s..(usize::from(bid) + 1) * s]
    }

    fn unregister(&self, uring: &IoUring) {
        let _ = uring.submitter().unregister_buf_ring(BGID);
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: unmaps the mapping made in `new`; the ring is unregistered (or the io_uring
        // closed) before a BufRing is dropped.
        unsafe { libc::munmap(self.ring.cast(), self.ring_bytes) };
    }
}

#[derive(Debug)]
struct Slot {
    sock: Option<UdpSocket>,
    generation: u32,
}

/// Everything an SQE may point at; lives for the whole loop and is never moved.
struct State {
    bufs: BufRing,
    msghdr: Box<libc::msghdr>,
    slots: Vec<Slot>,
    free_slots: Vec<u32>,
    send_addrs: Vec<libc::sockaddr_storage>,
    copies: Vec<[u8; COPY_SIZE]>,
    copy_addrs: Vec<libc::sockaddr_storage>,
    free_copies: Vec<u16>,
    wake_buf: Box<u64>,
    wake_fd: i32,
    /// Operations the kernel may still touch memory for.
    inflight: usize,
    timestamps: bool,
}

/// Pushes an SQE, submitting first if the queue is full.
///
/// # Safety
/// Every pointer in `sqe` must stay valid until its completion arrives.
unsafe fn push(ring: &mut IoUring, sqe: &squeue::Entry) {
    loop {
        // SAFETY: forwarded to our caller's contract.
        if unsafe { ring.submission().push(sqe) }.is_ok() {
            return;
        }
        let _ = ring.submit();
    }
}

impl State {
    fn arm_recv(&mut self, ring: &mut IoUring, slot: u32) {
        let generation = self.slots[slot as usize].generation;
        let sqe = opcode::RecvMsgMulti::new(Fixed(slot), &*self.msghdr, BGID)
            .build()
            .user_data(Op::Recv { slot, generation }.encode());
        // SAFETY: the msghdr template is boxed in State for the loop's life; buffers come from
        // the registered ring.
        unsafe { push(ring, &sqe) };
        self.inflight += 1;
    }

    fn arm_wake(&mut self, ring: &mut IoUring) {
        let sqe = opcode::Read::new(Fd(self.wake_fd), (&raw mut *self.wake_buf).cast(), 8)
            .build()
            .user_data(Op::Wake.encode());
        // SAFETY: the 8-byte target is boxed in State for the loop's life.
        unsafe { push(ring, &sqe) };
        self.inflight += 1;
    }

    fn alive(&self, slot: u32, generation: u32) -> bool {
        self.slots
            .get(slot as usize)
            .is_some_and(|s| s.sock.is_some() && s.generation & 0xff_ffff == generation)
    }
}

struct Ops<'a> {
    ring: &'a mut IoUring,
    st: &'a mut State,
}

impl IoOps for Ops<'_> {
    fn add_socket(&mut self, sock: UdpSocket) -> io::Result<SockId> {
        let slot = match self.st.free_slots.pop() {
            Some(s) => s,
            None if self.st.slots.len() < self.st.slots.capacity() => {
                self.st.slots.push(Slot {
                    sock: None,
                    generation: 0,
                });
                self.st.slots.len() as u32 - 1
            }
            None => {
                return Err(io::Error::new(
                    io::ErrorKind::OutOfMemory,
                    "fixed-file table full",
                ));
            }
        };
        if self.st.timestamps {
            sys::enable_timestamps(sock.as_raw_fd());
        }
        if let Err(e) = self
            .ring
            .submitter()
            .register_files_update(slot, &[sock.as_raw_fd()])
        {
            self.st.free_slots.push(slot);
            return Err(e);
        }
        let s = &mut self.st.slots[slot as usize];
        s.sock = Some(sock);
        s.generation = s.generation.wrapping_add(1);
        self.st.arm_recv(self.ring, slot);
        Ok(SockId(slot))
    }

    fn remove_socket(&mut self, id: SockId) {
        let Some(s) = self.st.slots.get_mut(id.0 as usize) else {
            return;
        };
        if s.sock.is_none() {
            return;
        }
        let ud = Op::Recv {
            slot: id.0,
            generation: s.generation & 0xff_ffff,
        }
        .encode();
        let sqe = opcode::AsyncCancel2::new(CancelBuilder::user_data(ud))
            .build()
            .user_data(Op::Cancel.encode());
        // SAFETY: a cancel carries no pointers.
        unsafe { push(self.ring, &sqe) };
        let _ = self.ring.submit();
        let _ = self.ring.submitter().register_files_update(id.0, &[-1]);
        // Closing the socket ends the receive for good; late completions carry the old
        // generation and are ignored (their buffers recycled).
        s.sock = None;
        s.generation = s.generation.wrapping_add(1);
        self.st.free_slots.push(id.0);
    }

    fn send_copy(&mut self, via: SockId, to: SocketAddr, data: &[u8]) {
        let alive = self
            .st
            .slots
            .get(via.0 as usize)
            .and_then(|s| s.sock.as_ref());
        let Some(sock) = alive else { return };
        let (Some(idx), true) = (self.st.free_copies.pop(), data.len() <= COPY_SIZE) else {
            // Pool empty or oversized: a plain blocking-free send is fine off the fast path.
            let _ = sock.send_to(data, to);
            return;
        };
        let i = usize::from(idx);
        self.st.copies[i][..data.len()].copy_from_slice(data);
        let alen = sys::from_std(to, &mut self.st.copy_addrs[i]);
        let sqe = opcode::Send::new(Fixed(via.0), self.st.copies[i].as_ptr(), data.len() as u32)
            .dest_addr((&raw const self.st.copy_addrs[i]).cast())
            .dest_addr_len(alen)
            .build()
            .user_data(Op::Copy { idx }.encode());
        // SAFETY: the copy buffer and its address are owned by State until this send completes
        // (the slot returns to the free list only on its completion).
        unsafe { push(self.ring, &sqe) };
        self.st.inflight += 1;
    }
}

/// Runs the loop until `handler.should_stop()`.
pub fn run<H: Handler>(cfg: &LoopConfig, waker: &Waker, handler: &mut H) -> io::Result<()> {
    let entries = u32::from(cfg.buffers).next_power_of_two().clamp(64, 32_768);
    let mut ring = IoUring::builder()
        .setup_cqsize(entries * 4)
        .setup_single_issuer()
        .build(entries)?;
    // The kernel refuses a table larger than the open-file limit.
    let max_sockets = cfg.max_sockets.min(
        super::raise_fd_limit()
            .unwrap_or(1024)
            .min(u64::from(u32::MAX)) as u32,
    );
    ring.submitter().register_files_sparse(max_sockets)?;
    let mut msghdr: Box<libc::msghdr> = Box::new(
        // SAFETY: msghdr is plain data; all-zero is valid.
        unsafe { std::mem::zeroed() },
    );
    msghdr.msg_namelen = std::mem::size_of::<libc::sockaddr_in6>() as u32;
    msghdr.msg_controllen = if cfg.kernel_timestamps {
        sys::CMSG_SPACE
    } else {
        0
    };
    let nbuf = cfg.buffers.max(2).next_power_of_two();
    let mut st = State {
        bufs: BufRing::new(&ring, nbuf, cfg.buf_size.max(TAILROOM + 256))?,
        msghdr,
        slots: Vec::with_capacity(max_sockets as usize),
        free_slots: Vec::new(),
        send_addrs: vec![sys::storage(); usize::from(nbuf)],
        copies: vec![[0u8; COPY_SIZE]; COPY_SLOTS],
        copy_addrs: vec![sys::storage(); COPY_SLOTS],
        free_copies: (0..COPY_SLOTS as u16).collect(),
        wake_buf: Box::new(0),
        wake_fd: waker.raw_fd(),
        inflight: 0,
        timestamps: cfg.kernel_timestamps,
    };
    st.arm_wake(&mut ring);
    let result = event_loop(&mut ring, &mut st, cfg, handler);
    drain(&mut ring, &mut st);
    st.bufs.unregister(&ring);
    result
}

/// Completions reaped in one batch, kept between batches so the loop never allocates.
struct Reaped {
    cqes: Vec<(u64, i32, u32)>,
    /// Sends submitted in this batch: kernel receive time (realtime ns) or 0.
    sent: Vec<u64>,
}

fn event_loop<H: Handler>(
    ring: &mut IoUring,
    st: &mut State,
    cfg: &LoopConfig,
    handler: &mut H,
) -> io::Result<()> {
    let mut r = Reaped {
        cqes: Vec::with_capacity(ring.params().cq_entries() as usize),
        sent: Vec::with_capacity(usize::from(st.bufs.entries)),
    };
    let ts = Timespec::new()
        .sec(cfg.tick.as_secs())
        .nsec(cfg.tick.subsec_nanos());
    let mut last_poll = Instant::now();
    handler.poll(last_poll, &mut Ops { ring, st });
    while !handler.should_stop() {
        match ring
            .submitter()
            .submit_with_args(1, &SubmitArgs::new().timespec(&ts))
        {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME) | Some(libc::EINTR) | Some(libc::EBUSY)
                ) => {}
            Err(e) => return Err(e),
        }
        r.cqes.clear();
        r.cqes.extend(
            ring.completion()
                .map(|c| (c.user_data(), c.result(), c.flags())),
        );
        let reaped_at = Instant::now();
        let mut woken = false;
        for i in 0..r.cqes.len() {
            for (d, ahead) in Lookahead::STAGES {
                announce(st, handler, r.cqes.get(i + d), ahead);
            }
            let (ud, res, flags) = r.cqes[i];
            woken |= complete(ring, st, handler, &mut r.sent, Op::decode(ud), res, flags);
        }
        st.bufs.publish();
        if !r.sent.is_empty() {
            let _ = ring.submit();
            let now_real = sys::realtime_ns();
            let elapsed = reaped_at.elapsed().as_nanos() as u64;
            for k in r.sent.drain(..) {
                handler.on_forwarded(if k > 0 {
                    now_real.saturating_sub(k)
                } else {
                    elapsed
                });
            }
        }
        let now = Instant::now();
        if woken || !r.cqes.is_empty() || now.duration_since(last_poll) >= cfg.tick {
            last_poll = now;
            handler.poll(now, &mut Ops { ring, st });
        }
    }
    Ok(())
}

/// Tells the handler about a datagram that is coming up in this batch (see [`Lookahead`]);
/// one datagram ahead, its receive buffer is prefetched too.
#[inline]
fn announce<H: Handler>(
    st: &State,
    handler: &mut H,
    cqe: Option<&(u64, i32, u32)>,
    ahead: Lookahead,
) {
    let Some(&(ud, res, flags)) = cqe else { return };
    if let (Op::Recv { slot, .. }, true) = (Op::decode(ud), res >= 0) {
        if ahead == Lookahead::Near {
            if let Some(bid) = cqueue::buffer_select(flags) {
                super::prefetch(st.bufs.peek(bid), 256);
            }
        }
        handler.prefetch(SockId(slot), ahead);
    }
}

/// Handles one completion; returns whether it was the waker.
fn complete<H: Handler>(
    ring: &mut IoUring,
    st: &mut State,
    handler: &mut H,
    sent: &mut Vec<u64>,
    op: Op,
    res: i32,
    flags: u32,
) -> bool {
    let more = cqueue::more(flags);
    if !more {
        st.inflight = st.inflight.saturating_sub(1);
    }
    match op {
        Op::Recv { slot, generation } => {
            if let Some(bid) = cqueue::buffer_select(flags) {
                if res >= 0 && st.alive(slot, generation) {
                    receive(ring, st, handler, sent, slot, bid, res as usize);
                } else {
                    st.bufs.push(bid);
                }
            } else if res == -libc::ENOBUFS {
                handler.on_rx_error(false);
            }
            if !more && st.alive(slot, generation) {
                st.arm_recv(ring, slot);
            }
        }
        Op::Send { bid } => {
            st.bufs.push(bid);
            if res < 0 {
                handler.on_tx_error();
            }
        }
        Op::Copy { idx } => {
            st.free_copies.push(idx);
            if res < 0 {
                handler.on_tx_error();
            }
        }
        Op::Wake => {
            st.arm_wake(ring);
            return true;
        }
        Op::Cancel => {}
    }
    false
}

/// One received datagram in buffer `bid`: hand it to the handler, then send or recycle.
fn receive<H: Handler>(
    ring: &mut IoUring,
    st: &mut State,
    handler: &mut H,
    sent: &mut Vec<u64>,
    slot: u32,
    bid: u16,
    n: usize,
) {
    let hdr = &*st.msghdr;
    let buf = st.bufs.buf(bid);
    let Ok(out) = io_uring::types::RecvMsgOut::parse(&buf[..n.min(buf.len())], hdr) else {
        st.bufs.push(bid);
        return;
    };
    let mut name = sys::storage();
    let nlen = out
        .name_data()
        .len()
        .min(std::mem::size_of::<libc::sockaddr_storage>());
    // SAFETY: copies at most sizeof(sockaddr_storage) bytes into a local storage.
    unsafe {
        std::ptr::copy_nonoverlapping(out.name_data().as_ptr(), (&raw mut name).cast::<u8>(), nlen)
    };
    let from = sys::to_std(&name, out.incoming_name_len());
    let kernel_ts = if st.timestamps {
        sys::rx_timestamp(out.control_data()).unwrap_or(0)
    } else {
        0
    };
    let truncated = out.is_payload_truncated();
    let len = out.payload_data().len();
    let off = out.payload_data().as_ptr() as usize - buf.as_ptr() as usize;
    let Some(from) = from else {
        st.bufs.push(bid);
        return;
    };
    let room = buf.len() - off;
    if truncated || len + TAILROOM > room {
        handler.on_rx_error(true);
        st.bufs.push(bid);
        return;
    }
    let payload = &mut st.bufs.buf(bid)[off..];
    match handler.on_datagram(
        &RxMeta {
            sock: SockId(slot),
            from,
        },
        payload,
        len,
    ) {
        Verdict::Send { via, to, len }
            if st
                .slots
                .get(via.0 as usize)
                .is_some_and(|s| s.sock.is_some()) =>
        {
            let alen = sys::from_std(to, &mut st.send_addrs[usize::from(bid)]);
            let ptr = st.bufs.buf(bid)[off..].as_ptr();
            let sqe = opcode::Send::new(Fixed(via.0), ptr, len.min(room) as u32)
                .dest_addr((&raw const st.send_addrs[usize::from(bid)]).cast())
                .dest_addr_len(alen)
                .build()
                .user_data(Op::Send { bid }.encode());
            // SAFETY: buffer `bid` is ours (taken from the ring) until this send completes and
            // pushes it back; its destination address lives in `send_addrs[bid]` as long.
            unsafe { push(ring, &sqe) };
            st.inflight += 1;
            sent.push(kernel_ts);
        }
        _ => st.bufs.push(bid),
    }
}

/// Cancels everything and waits (bounded) until the kernel no longer touches our memory.
fn drain(ring: &mut IoUring, st: &mut State) {
    let sqe = opcode::AsyncCancel2::new(CancelBuilder::any())
        .build()
        .user_data(Op::Cancel.encode());
    // SAFETY: a cancel carries no pointers.
    unsafe { push(ring, &sqe) };
    let deadline = Instant::now() + std::time::Duration::from_secs(2);
    let ts = Timespec::new().nsec(10_000_000);
    while st.inflight > 0 && Instant::now() < deadline {
        let _ = ring
            .submitter()
            .submit_with_args(1, &SubmitArgs::new().timespec(&ts));
        for c in ring.completion() {
            if !cqueue::more(c.flags()) && Op::decode(c.user_data()) != Op::Cancel {
                st.inflight = st.inflight.saturating_sub(1);
            }
        }
    }
    // Closing the sockets ends any receive the cancel missed.
    st.slots.clear();
}
