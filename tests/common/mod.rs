//! Helpers shared by the integration tests: reading the captured fixtures.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// One UDP datagram from a capture, with its addresses.
#[derive(Debug, Clone)]
pub struct Datagram {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub payload: Vec<u8>,
}

/// Path of a file in `tests/fixtures/`.
pub fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Every UDP datagram (IPv4 or IPv6 over Ethernet) in a pcap fixture, in capture order.
pub fn udp_datagrams(name: &str) -> Vec<Datagram> {
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    let file = std::fs::File::open(fixture_path(name)).expect("fixture opens");
    let mut reader = pcap_file::pcap::PcapReader::new(file).expect("pcap header");
    let mut out = Vec::new();
    while let Some(pkt) = reader.next_packet() {
        let pkt = pkt.expect("pcap record");
        let Ok(sliced) = SlicedPacket::from_ethernet(&pkt.data) else {
            continue;
        };
        let (src_ip, dst_ip): (IpAddr, IpAddr) = match &sliced.net {
            Some(NetSlice::Ipv4(ip)) => (
                ip.header().source_addr().into(),
                ip.header().destination_addr().into(),
            ),
            Some(NetSlice::Ipv6(ip)) => (
                ip.header().source_addr().into(),
                ip.header().destination_addr().into(),
            ),
            _ => continue,
        };
        if let Some(TransportSlice::Udp(udp)) = &sliced.transport {
            out.push(Datagram {
                src: SocketAddr::new(src_ip, udp.source_port()),
                dst: SocketAddr::new(dst_ip, udp.destination_port()),
                payload: udp.payload().to_vec(),
            });
        }
    }
    out
}

/// The real `ferry` binary and sipp as children of a test (tests/sip_bad_input.rs).
pub mod ferry;

/// tests/browser/run.sh runs and their checks (tests/browser_calls.rs, tests/trunk_features.rs).
pub mod browser;
