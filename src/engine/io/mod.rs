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

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::Instant;

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

    /// Called after each batch and on every wake-up or tick: drain commands, run timers, use
    /// `io` for socket changes and out-of-band sends.
    fn poll(&mut self, now: Instant, io: &mut dyn IoOps);

    /// A forwarded packet was submitted to the kernel `ns` nanoseconds after it was received
    /// (kernel receive timestamp where available, else the completion time).
    fn on_forwarded(&mut self, ns: u64);

    /// A datagram was lost before the handler saw it (truncated, or no buffer): count it.
    fn on_rx_error(&mut self, truncated: bool);

    /// Whether the loop should end (checked after each `poll`).
    fn should_stop(&self) -> bool;
}
