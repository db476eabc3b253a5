//! Media port allocation from a configured range.
//!
//! Each leg gets its own port (muxed) or an even/odd pair (RTP on the even port, RTCP on the
//! next, RFC 3550 §11), so a carrier can open one port range in its firewall and see per-call
//! ports. A port another process holds is skipped, not fatal.

use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};

use socket2::{Domain, Protocol, Socket, Type};

use crate::control::Family;

/// Receive buffer asked of the kernel per media socket: a few hundred ms of video.
const RCVBUF: usize = 1 << 20;

/// Sockets for one leg.
#[derive(Debug)]
pub struct LegSockets {
    /// RTP (and muxed RTCP).
    pub rtp: UdpSocket,
    /// RTCP when not muxed.
    pub rtcp: Option<UdpSocket>,
}

/// Hands out ports from `[min, max]` on the configured addresses.
#[derive(Debug)]
pub struct PortAllocator {
    v4: Option<IpAddr>,
    v6: Option<IpAddr>,
    min: u16,
    max: u16,
    /// Where the next search starts, so freed ports rest before reuse (late packets of an old
    /// call must not reach a new one).
    cursor: u16,
    used: Vec<bool>,
}

impl PortAllocator {
    /// An allocator for `[min, max]` binding on `v4` and/or `v6`.
    pub fn new(v4: Option<IpAddr>, v6: Option<IpAddr>, min: u16, max: u16) -> io::Result<Self> {
        if min > max || min == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad port range {min}-{max}"),
            ));
        }
        let span = usize::from(max - min) + 1;
        Ok(Self {
            v4,
            v6,
            min,
            max,
            cursor: min,
            used: vec![false; span],
        })
    }

    fn ip(&self, family: Family) -> io::Result<IpAddr> {
        match family {
            Family::V4 => self.v4,
            Family::V6 => self.v6,
        }
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!("no {family:?} media address"),
            )
        })
    }

    fn slot(&self, port: u16) -> Option<usize> {
        (self.min..=self.max)
            .contains(&port)
            .then(|| usize::from(port - self.min))
    }

    fn is_free(&self, port: u16) -> bool {
        self.slot(port).is_some_and(|i| !self.used[i])
    }

    fn mark(&mut self, port: u16, used: bool) {
        if let Some(i) = self.slot(port) {
            self.used[i] = used;
        }
    }

    /// Binds a leg's socket(s): one port when `mux`, else an even RTP port and the odd one after.
    pub fn allocate(&mut self, family: Family, mux: bool) -> io::Result<LegSockets> {
        let ip = self.ip(family)?;
        let span = u32::from(self.max - self.min) + 1;
        for _ in 0..span {
            let port = self.cursor;
            self.cursor = if self.cursor >= self.max {
                self.min
            } else {
                self.cursor + 1
            };
            if let Some(sockets) = self.try_bind(ip, port, mux)? {
                return Ok(sockets);
            }
        }
        Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            "media port range exhausted",
        ))
    }

    /// `Ok(None)`: this port is taken, try the next. `Err`: binding fails for another reason
    /// (no descriptors left, address gone), which the caller must hear about.
    fn try_bind(&mut self, ip: IpAddr, port: u16, mux: bool) -> io::Result<Option<LegSockets>> {
        if !self.is_free(port) {
            return Ok(None);
        }
        if mux {
            let Some(rtp) = bind_free(SocketAddr::new(ip, port))? else {
                return Ok(None);
            };
            self.mark(port, true);
            return Ok(Some(LegSockets { rtp, rtcp: None }));
        }
        let Some(rtcp_port) = port.checked_add(1) else {
            return Ok(None);
        };
        if port % 2 != 0 || !self.is_free(rtcp_port) {
            return Ok(None);
        }
        let Some(rtp) = bind_free(SocketAddr::new(ip, port))? else {
            return Ok(None);
        };
        let Some(rtcp) = bind_free(SocketAddr::new(ip, rtcp_port))? else {
            return Ok(None);
        };
        self.mark(port, true);
        self.mark(rtcp_port, true);
        Ok(Some(LegSockets {
            rtp,
            rtcp: Some(rtcp),
        }))
    }

    /// Returns a port to the pool (call for each port of a removed leg).
    pub fn free(&mut self, port: u16) {
        self.mark(port, false);
    }

    /// Ports in use.
    pub fn in_use(&self) -> usize {
        self.used.iter().filter(|u| **u).count()
    }
}

/// Binds, mapping "port in use" to `None`.
fn bind_free(addr: SocketAddr) -> io::Result<Option<UdpSocket>> {
    match bind(addr) {
        Ok(s) => Ok(Some(s)),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => Ok(None),
        Err(e) => Err(e),
    }
}

/// A UDP socket bound to `addr`, with a large receive buffer.
pub fn bind(addr: SocketAddr) -> io::Result<UdpSocket> {
    let sock = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        sock.set_only_v6(true)?;
    }
    // Best effort: the kernel caps it at net.core.rmem_max (deploy/ raises that).
    let _ = sock.set_recv_buffer_size(RCVBUF);
    sock.bind(&addr.into())?;
    Ok(sock.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback(min: u16, max: u16) -> PortAllocator {
        PortAllocator::new(
            Some([127, 0, 0, 1].into()),
            Some("::1".parse().unwrap()),
            min,
            max,
        )
        .unwrap()
    }

    #[test]
    fn pairs_are_even_odd_and_ports_are_not_reused_until_freed() {
        let mut a = loopback(41000, 41099);
        let leg = a.allocate(Family::V4, false).unwrap();
        let rtp = leg.rtp.local_addr().unwrap().port();
        let rtcp = leg.rtcp.as_ref().unwrap().local_addr().unwrap().port();
        assert_eq!((rtp % 2, rtcp), (0, rtp + 1));
        let muxed = a.allocate(Family::V4, true).unwrap();
        let m = muxed.rtp.local_addr().unwrap().port();
        assert!(m != rtp && m != rtcp);
        assert_eq!(a.in_use(), 3);
        a.free(rtp);
        a.free(rtcp);
        assert_eq!(a.in_use(), 1);
    }

    #[test]
    fn a_port_held_elsewhere_is_skipped_and_exhaustion_is_an_error() {
        let squatter = bind("127.0.0.1:41200".parse().unwrap()).unwrap();
        let mut a = loopback(41200, 41203);
        let first = a.allocate(Family::V4, true).unwrap();
        assert_eq!(first.rtp.local_addr().unwrap().port(), 41201);
        let _second = a.allocate(Family::V4, true).unwrap();
        let _third = a.allocate(Family::V4, true).unwrap();
        let err = a.allocate(Family::V4, true).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
        drop(squatter);
    }

    #[test]
    fn ipv6_legs_bind_on_the_v6_address() {
        let mut a = loopback(41300, 41399);
        let leg = a.allocate(Family::V6, false).unwrap();
        assert!(leg.rtp.local_addr().unwrap().is_ipv6());
        let v4only = PortAllocator::new(Some([127, 0, 0, 1].into()), None, 41400, 41410);
        assert!(v4only.unwrap().allocate(Family::V6, true).is_err());
        assert!(PortAllocator::new(None, None, 10, 5).is_err());
    }
}
