//! Reading RTP payloads out of captures (pcap or pcapng, Ethernet or Linux cooked).

use std::io;
use std::path::Path;

use etherparse::{SlicedPacket, TransportSlice};
use pcap_file::pcap::PcapReader;
use pcap_file::pcapng::{Block, PcapNgReader};

/// RTP payloads (header, CSRCs, extension and padding removed) of every UDP datagram in the
/// capture that looks like RTP version 2 and not RTCP.
pub fn rtp_payloads(path: &Path) -> io::Result<Vec<Vec<u8>>> {
    let data = std::fs::read(path)?;
    let frames = frames(&data).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })?;
    Ok(frames
        .iter()
        .filter_map(|f| udp_payload(f))
        .filter_map(rtp_payload)
        .collect())
}

fn frames(data: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if let Ok(mut r) = PcapReader::new(data) {
        let mut out = Vec::new();
        while let Some(p) = r.next_packet() {
            out.push(p.map_err(|e| e.to_string())?.data.into_owned());
        }
        return Ok(out);
    }
    let mut r = PcapNgReader::new(data).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(block) = r.next_block() {
        match block.map_err(|e| e.to_string())? {
            Block::EnhancedPacket(p) => out.push(p.data.into_owned()),
            Block::SimplePacket(p) => out.push(p.data.into_owned()),
            _ => {}
        }
    }
    Ok(out)
}

fn udp_payload(frame: &[u8]) -> Option<&[u8]> {
    let sliced = SlicedPacket::from_ethernet(frame)
        .or_else(|_| SlicedPacket::from_linux_sll(frame))
        .ok()?;
    match sliced.transport? {
        TransportSlice::Udp(u) => Some(u.payload()),
        _ => None,
    }
}

fn rtp_payload(p: &[u8]) -> Option<Vec<u8>> {
    let kind = ferry::wire::demux::classify(p);
    if kind != ferry::wire::demux::Kind::RtpOrRtcp || ferry::wire::demux::is_rtcp(p) {
        return None;
    }
    let pkt = ferry::wire::rtp::Packet::new_checked(p).ok()?;
    Some(pkt.payload().to_vec())
}
