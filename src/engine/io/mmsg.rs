//! The epoll + `recvmmsg`/`sendmmsg` backend: for kernels or sandboxes without io_uring, and the
//! baseline the io_uring backend is measured against.
//!
//! Per wake-up: each readable socket is drained with `recvmmsg` into a fixed batch of buffers
//! (each with tailroom), every datagram goes through the handler, and the sends the batch
//! produced are flushed with one `sendmmsg` per egress socket before the buffers are reused.
//! A send the kernel refuses (full socket buffer) is dropped and counted: no queue grows.
#![allow(unsafe_code)]

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

use super::sys;
use super::{Handler, IoOps, Lookahead, LoopConfig, RxMeta, SockId, TAILROOM, Verdict, Waker};

const WAKER_TOKEN: u64 = u64::MAX;
/// recvmmsg rounds per socket per wake-up, so one busy socket cannot starve the others.
const ROUNDS: usize = 4;

/// Sockets by id, with a free list; shared shape with the io_uring backend.
#[derive(Debug, Default)]
struct Sockets {
    slots: Vec<Option<UdpSocket>>,
    free: Vec<u32>,
}

impl Sockets {
    fn insert(&mut self, s: UdpSocket) -> SockId {
        match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(s);
                SockId(i)
            }
            None => {
                self.slots.push(Some(s));
                SockId(self.slots.len() as u32 - 1)
            }
        }
    }

    fn fd(&self, id: SockId) -> Option<RawFd> {
        self.slots
            .get(id.0 as usize)?
            .as_ref()
            .map(AsRawFd::as_raw_fd)
    }
}

struct Ops<'a> {
    epfd: RawFd,
    sockets: &'a mut Sockets,
    timestamps: bool,
}

impl IoOps for Ops<'_> {
    fn add_socket(&mut self, sock: UdpSocket) -> io::Result<SockId> {
        sock.set_nonblocking(true)?;
        if self.timestamps {
            sys::enable_timestamps(sock.as_raw_fd());
        }
        let fd = sock.as_raw_fd();
        let id = self.sockets.insert(sock);
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: u64::from(id.0),
        };
        // SAFETY: epoll_ctl reads the event we pass; both descriptors are live.
        if unsafe { libc::epoll_ctl(self.epfd, libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
            let e = io::Error::last_os_error();
            self.remove_socket(id);
            return Err(e);
        }
        Ok(id)
    }

    fn remove_socket(&mut self, id: SockId) {
        if let Some(slot) = self.sockets.slots.get_mut(id.0 as usize) {
            if let Some(s) = slot.take() {
                // SAFETY: removes a live descriptor from our epoll set; the event pointer may be
                // null for DEL.
                unsafe {
                    libc::epoll_ctl(
                        self.epfd,
                        libc::EPOLL_CTL_DEL,
                        s.as_raw_fd(),
                        std::ptr::null_mut(),
                    )
                };
                self.sockets.free.push(id.0);
            }
        }
    }

    fn send_copy(&mut self, via: SockId, to: SocketAddr, data: &[u8]) {
        if let Some(Some(s)) = self.sockets.slots.get(via.0 as usize) {
            let _ = s.send_to(data, to);
        }
    }
}

/// Preallocated receive batch: buffers, iovecs, names, control space and headers.
struct Batch {
    size: usize,
    bufs: Vec<u8>,
    names: Vec<libc::sockaddr_storage>,
    iovs: Vec<libc::iovec>,
    ctrl: Vec<[u8; sys::CMSG_SPACE]>,
    hdrs: Vec<libc::mmsghdr>,
    /// Pending sends: (egress socket, buffer index, send-header slot).
    sends: Vec<(SockId, usize, usize)>,
    send_names: Vec<libc::sockaddr_storage>,
    send_iovs: Vec<libc::iovec>,
    send_hdrs: Vec<libc::mmsghdr>,
    /// When the last `recvmmsg` returned (latency without kernel timestamps).
    rx_at: Instant,
}

impl Batch {
    fn new(n: usize, size: usize) -> Self {
        // SAFETY: mmsghdr is plain data; all-zero is valid and is filled in before each use.
        let hdr: libc::mmsghdr = unsafe { std::mem::zeroed() };
        let iov = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        Self {
            size,
            bufs: vec![0; n * size],
            names: vec![sys::storage(); n],
            iovs: vec![iov; n],
            ctrl: vec![[0; sys::CMSG_SPACE]; n],
            hdrs: vec![hdr; n],
            sends: Vec::with_capacity(n),
            send_names: vec![sys::storage(); n],
            send_iovs: vec![iov; n],
            send_hdrs: vec![hdr; n],
            rx_at: Instant::now(),
        }
    }

    /// Points every header at its buffer, leaving TAILROOM unused so a datagram that would eat
    /// into it shows up as truncated.
    fn arm(&mut self, timestamps: bool) {
        let room = self.size - TAILROOM;
        for i in 0..self.hdrs.len() {
            self.iovs[i] = libc::iovec {
                iov_base: self.bufs[i * self.size..].as_mut_ptr().cast(),
                iov_len: room,
            };
            let h = &mut self.hdrs[i].msg_hdr;
            h.msg_name = (&raw mut self.names[i]).cast();
            h.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as u32;
            h.msg_iov = &raw mut self.iovs[i];
            h.msg_iovlen = 1;
            h.msg_control = if timestamps {
                self.ctrl[i].as_mut_ptr().cast()
            } else {
                std::ptr::null_mut()
            };
            h.msg_controllen = if timestamps { sys::CMSG_SPACE } else { 0 };
            h.msg_flags = 0;
        }
    }
}

/// Runs the loop until `handler.should_stop()`.
pub fn run<H: Handler>(cfg: &LoopConfig, waker: &Waker, handler: &mut H) -> io::Result<()> {
    // SAFETY: creates a new epoll descriptor, checked below and closed by `EpollFd`.
    let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if epfd < 0 {
        return Err(io::Error::last_os_error());
    }
    let _guard = EpollFd(epfd);
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: WAKER_TOKEN,
    };
    // SAFETY: registers the live waker descriptor; the kernel copies `ev`.
    if unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, waker.raw_fd(), &mut ev) } < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut sockets = Sockets::default();
    // At most 64 per batch: `flush` gathers one socket's sends into a fixed 64-entry array.
    let mut batch = Batch::new(cfg.batch.clamp(1, 64), cfg.buf_size.max(TAILROOM + 64));
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 512];
    let tick_ms = cfg.tick.as_millis().clamp(1, i32::MAX as u128) as i32;
    let mut last_poll = Instant::now();
    handler.poll(
        last_poll,
        &mut Ops {
            epfd,
            sockets: &mut sockets,
            timestamps: cfg.kernel_timestamps,
        },
    );
    while !handler.should_stop() {
        // SAFETY: the kernel writes at most `events.len()` entries into our vector.
        let n =
            unsafe { libc::epoll_wait(epfd, events.as_mut_ptr(), events.len() as i32, tick_ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        let mut woken = false;
        let ready = &events[..n as usize];
        for (j, ev) in ready.iter().enumerate() {
            if ev.u64 == WAKER_TOKEN {
                woken = true;
                continue;
            }
            // The next sockets' sessions load while this one is read and relayed.
            for (k, ahead) in Lookahead::STAGES {
                if let Some(next) = ready.get(j + k).filter(|e| e.u64 != WAKER_TOKEN) {
                    handler.prefetch(SockId(next.u64 as u32), ahead);
                }
            }
            let id = SockId(ev.u64 as u32);
            for _ in 0..ROUNDS {
                let Some(fd) = sockets.fd(id) else { break };
                let got = receive(fd, id, &mut batch, cfg.kernel_timestamps, handler)?;
                flush(&mut batch, &sockets, cfg.kernel_timestamps, handler);
                if got < batch.hdrs.len() {
                    break;
                }
            }
        }
        let now = Instant::now();
        if woken || n > 0 || now.duration_since(last_poll) >= cfg.tick {
            if woken {
                waker.reset();
            }
            last_poll = now;
            handler.poll(
                now,
                &mut Ops {
                    epfd,
                    sockets: &mut sockets,
                    timestamps: cfg.kernel_timestamps,
                },
            );
        }
    }
    Ok(())
}

struct EpollFd(RawFd);

impl Drop for EpollFd {
    fn drop(&mut self) {
        // SAFETY: closes the epoll descriptor this guard owns.
        unsafe { libc::close(self.0) };
    }
}

/// One `recvmmsg` on `fd`; hands each datagram to the handler and queues its sends.
fn receive<H: Handler>(
    fd: RawFd,
    id: SockId,
    b: &mut Batch,
    ts: bool,
    handler: &mut H,
) -> io::Result<usize> {
    b.arm(ts);
    // SAFETY: every header points at live buffers, names and control space owned by `b`, which
    // outlive the call; the kernel writes within the lengths given.
    let n = unsafe {
        libc::recvmmsg(
            fd,
            b.hdrs.as_mut_ptr(),
            b.hdrs.len() as u32,
            libc::MSG_DONTWAIT,
            std::ptr::null_mut(),
        )
    };
    if n < 0 {
        let e = io::Error::last_os_error();
        return match e.raw_os_error() {
            Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(0),
            // ICMP errors reported on the socket (e.g. port unreachable): not fatal.
            Some(libc::ECONNREFUSED) | Some(libc::EHOSTUNREACH) | Some(libc::ENETUNREACH) => Ok(0),
            _ => Err(e),
        };
    }
    let n = n as usize;
    b.rx_at = Instant::now();
    for i in 0..n {
        let h = &b.hdrs[i];
        let len = h.msg_len as usize;
        if h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
            handler.on_rx_error(true);
            continue;
        }
        let Some(from) = sys::to_std(&b.names[i], h.msg_hdr.msg_namelen) else {
            continue;
        };
        let buf = &mut b.bufs[i * b.size..(i + 1) * b.size];
        if let Verdict::Send { via, to, len } =
            handler.on_datagram(&RxMeta { sock: id, from }, buf, len)
        {
            let slot = b.sends.len();
            let namelen = sys::from_std(to, &mut b.send_names[slot]);
            b.send_iovs[slot] = libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: len.min(b.size),
            };
            let sh = &mut b.send_hdrs[slot].msg_hdr;
            sh.msg_name = (&raw mut b.send_names[slot]).cast();
            sh.msg_namelen = namelen;
            sh.msg_iov = &raw mut b.send_iovs[slot];
            sh.msg_iovlen = 1;
            sh.msg_control = std::ptr::null_mut();
            sh.msg_controllen = 0;
            b.sends.push((via, i, slot));
        }
    }
    Ok(n)
}

/// Sends what the last receive produced: one `sendmmsg` per egress socket.
fn flush<H: Handler>(b: &mut Batch, sockets: &Sockets, ts: bool, handler: &mut H) {
    if b.sends.is_empty() {
        return;
    }
    let rx_at = if ts { None } else { Some(b.rx_at) };
    b.sends.sort_unstable_by_key(|s| s.0);
    let mut start = 0;
    while start < b.sends.len() {
        let via = b.sends[start].0;
        let end = start + b.sends[start..].iter().take_while(|s| s.0 == via).count();
        // Gather this socket's headers contiguously (sorting moved the send slots).
        let mut group: [libc::mmsghdr; 64] =
            // SAFETY: plain data; every used entry is copied from a filled header below.
            unsafe { std::mem::zeroed() };
        let count = (end - start).min(group.len());
        for (k, s) in b.sends[start..start + count].iter().enumerate() {
            group[k] = b.send_hdrs[s.2];
        }
        if let Some(fd) = sockets.fd(via) {
            // SAFETY: each copied header points at live buffers/names in `b` (unchanged since
            // `receive` filled them).
            let sent =
                unsafe { libc::sendmmsg(fd, group.as_mut_ptr(), count as u32, libc::MSG_DONTWAIT) };
            let sent = sent.max(0) as usize;
            let now_real = sys::realtime_ns();
            for s in &b.sends[start..start + sent] {
                let ns = match rx_at {
                    Some(t) => t.elapsed().as_nanos() as u64,
                    None => {
                        sys::rx_timestamp(&b.ctrl[s.1]).map_or(0, |k| now_real.saturating_sub(k))
                    }
                };
                handler.on_forwarded(ns);
            }
            for _ in sent..count {
                handler.on_tx_error();
            }
        }
        start = end;
    }
    b.sends.clear();
}
