//! Small helpers shared by the backends: socket address conversion and timestamps.
#![allow(unsafe_code)]

use std::mem::{size_of, zeroed};
use std::net::SocketAddr;

use socket2::SockAddr;

/// A zeroed `sockaddr_storage`.
pub fn storage() -> libc::sockaddr_storage {
    // SAFETY: sockaddr_storage is plain data; all-zero is a valid (AF_UNSPEC) value.
    unsafe { zeroed() }
}

/// Reads a kernel-written socket address (IPv4 or IPv6).
#[inline]
pub fn to_std(addr: &libc::sockaddr_storage, len: u32) -> Option<SocketAddr> {
    let len = len as usize;
    match i32::from(addr.ss_family) {
        libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
            // SAFETY: the family says this storage holds a sockaddr_in, which it can contain.
            let a: &libc::sockaddr_in = unsafe { &*(addr as *const libc::sockaddr_storage).cast() };
            let ip = std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddr::new(ip.into(), u16::from_be(a.sin_port)))
        }
        libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
            // SAFETY: as above, for sockaddr_in6.
            let a: &libc::sockaddr_in6 =
                unsafe { &*(addr as *const libc::sockaddr_storage).cast() };
            let ip = std::net::Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(SocketAddr::V6(std::net::SocketAddrV6::new(
                ip,
                u16::from_be(a.sin6_port),
                a.sin6_flowinfo,
                a.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

/// Writes `addr` into `out`; returns its length.
#[inline]
pub fn from_std(addr: SocketAddr, out: &mut libc::sockaddr_storage) -> u32 {
    let sa = SockAddr::from(addr);
    let len = sa.len();
    // SAFETY: `sa` holds `len` valid bytes of address, at most sizeof(sockaddr_storage), and
    // `out` is a distinct, writable sockaddr_storage.
    unsafe {
        std::ptr::copy_nonoverlapping(
            sa.as_ptr().cast::<u8>(),
            (out as *mut libc::sockaddr_storage).cast::<u8>(),
            len as usize,
        )
    };
    len
}

/// CLOCK_REALTIME in nanoseconds (the clock SO_TIMESTAMPNS stamps with).
#[inline]
pub fn realtime_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes a timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Space for one SCM_TIMESTAMPNS control message.
pub const CMSG_SPACE: usize = 64;

/// The SCM_TIMESTAMPNS time (ns, CLOCK_REALTIME) in a received control buffer, if any.
pub fn rx_timestamp(control: &[u8]) -> Option<u64> {
    let hdr = size_of::<libc::cmsghdr>();
    let mut at = 0;
    while at + hdr <= control.len() {
        // SAFETY: at least `hdr` bytes remain; read_unaligned copes with any alignment.
        let c: libc::cmsghdr = unsafe { std::ptr::read_unaligned(control[at..].as_ptr().cast()) };
        let len = c.cmsg_len;
        if len < hdr || at + len > control.len() {
            return None;
        }
        if c.cmsg_level == libc::SOL_SOCKET
            && c.cmsg_type == libc::SCM_TIMESTAMPNS
            && len >= hdr + size_of::<libc::timespec>()
        {
            // SAFETY: the payload holds a timespec (checked length); read_unaligned as above.
            let ts: libc::timespec =
                unsafe { std::ptr::read_unaligned(control[at + hdr..].as_ptr().cast()) };
            return Some(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64);
        }
        at += len.next_multiple_of(size_of::<usize>());
    }
    None
}

/// Asks the kernel to stamp received datagrams (SO_TIMESTAMPNS).
pub fn enable_timestamps(fd: std::os::fd::RawFd) {
    let on: libc::c_int = 1;
    // SAFETY: passes a live c_int of the right size.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&raw const on).cast(),
            size_of::<libc::c_int>() as u32,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip() {
        for a in ["127.0.0.1:5004", "[::1]:9", "[2001:db8::1]:65535"] {
            let a: SocketAddr = a.parse().unwrap();
            let mut s = storage();
            let len = from_std(a, &mut s);
            assert_eq!(to_std(&s, len), Some(a));
        }
    }
}
