//! The floor: a bare `recvmmsg`/`sendmmsg` UDP echo on one socket, no crypto, no lookup.
//!
//! Benchmarks compare the engine's CPU per relayed packet with this loop's CPU per echoed
//! packet, measured in the same run on the same core: what the kernel's UDP path costs with the
//! best batching the socket API offers. Written by hand because it must be nothing more than
//! the two system calls.
#![allow(unsafe_code)]

use std::io;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Datagrams per system call.
const BATCH: usize = 64;
/// Bytes per buffer.
const BUF: usize = 2048;

/// Packets echoed so far, readable from another thread.
#[derive(Debug, Default)]
pub struct FloorStats {
    /// Datagrams echoed.
    pub echoed: AtomicU64,
}

/// Echoes every datagram on `sock` back to its source until `stop` is set. `sock` should have a
/// read timeout so the loop notices `stop`.
pub fn run(sock: &UdpSocket, stop: &AtomicBool, stats: &Arc<FloorStats>) -> io::Result<()> {
    let fd = sock.as_raw_fd();
    let mut bufs = vec![[0u8; BUF]; BATCH];
    // SAFETY: sockaddr_storage is plain data; all-zero is a valid value.
    let mut names: Vec<libc::sockaddr_storage> = vec![unsafe { std::mem::zeroed() }; BATCH];
    let mut iovs: Vec<libc::iovec> = bufs
        .iter_mut()
        .map(|b| libc::iovec {
            iov_base: b.as_mut_ptr().cast(),
            iov_len: BUF,
        })
        .collect();
    // SAFETY: mmsghdr is plain data; all-zero is a valid value, filled in below.
    let mut msgs: Vec<libc::mmsghdr> = vec![unsafe { std::mem::zeroed() }; BATCH];
    while !stop.load(Ordering::Relaxed) {
        for i in 0..BATCH {
            let h = &mut msgs[i].msg_hdr;
            h.msg_name = (&raw mut names[i]).cast();
            h.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as u32;
            iovs[i].iov_len = BUF;
            h.msg_iov = &raw mut iovs[i];
            h.msg_iovlen = 1;
        }
        // SAFETY: every mmsghdr points at a live iovec, buffer and name in vectors owned by this
        // frame, which outlive the call; the kernel writes at most the lengths given.
        let n = unsafe {
            libc::recvmmsg(
                fd,
                msgs.as_mut_ptr(),
                BATCH as u32,
                libc::MSG_WAITFORONE,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
            ) {
                continue;
            }
            return Err(e);
        }
        let n = n as usize;
        for i in 0..n {
            // Echo exactly what arrived, to where it came from (msg_name is already the source).
            iovs[i].iov_len = msgs[i].msg_len as usize;
        }
        let mut sent = 0;
        while sent < n {
            // SAFETY: as above; the first `n` headers were filled by recvmmsg and still point at
            // live buffers and names.
            let r = unsafe { libc::sendmmsg(fd, msgs[sent..].as_mut_ptr(), (n - sent) as u32, 0) };
            if r <= 0 {
                break;
            }
            sent += r as usize;
        }
        stats.echoed.fetch_add(sent as u64, Ordering::Relaxed);
    }
    Ok(())
}

/// Sends 172-byte datagrams to `target` at `rate` per second for `duration` from one socket,
/// paced in 1 ms slices, while a second thread counts the echoes. Returns (sent, received).
pub fn flood(
    target: std::net::SocketAddr,
    rate: u32,
    duration: std::time::Duration,
) -> io::Result<(u64, u64)> {
    use std::time::{Duration, Instant};
    let sock = UdpSocket::bind(if target.is_ipv6() {
        "[::1]:0"
    } else {
        "127.0.0.1:0"
    })?;
    sock.set_read_timeout(Some(Duration::from_millis(100)))?;
    let rx = sock.try_clone()?;
    let stop = Arc::new(AtomicBool::new(false));
    let got = Arc::new(AtomicU64::new(0));
    let (s2, g2) = (Arc::clone(&stop), Arc::clone(&got));
    let counter = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while !s2.load(Ordering::Relaxed) {
            if rx.recv_from(&mut buf).is_ok() {
                g2.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    let pkt = [0x80u8; 172];
    let start = Instant::now();
    let mut sent = 0u64;
    while start.elapsed() < duration {
        let due = (start.elapsed().as_secs_f64() * f64::from(rate)) as u64;
        while sent < due {
            if sock.send_to(&pkt, target).is_ok() {
                sent += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let _ = counter.join();
    Ok((sent, got.load(Ordering::Relaxed)))
}
