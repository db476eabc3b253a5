//! Arbitrary bytes into the RTCP compound walk and every typed view, read-only and with the
//! engine's in-place SSRC rewrites: nothing may panic.
#![no_main]
use ferry::wire::rtcp::{Compound, CompoundMut, View, first_sender_ssrc};
use ferry::wire::rtp::Ssrc;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = first_sender_ssrc(data);
    for packet in Compound::new(data).flatten() {
        match packet.view() {
            Ok(View::SenderReport(v)) => v.report_blocks().for_each(drop),
            Ok(View::ReceiverReport(v)) => v.report_blocks().for_each(drop),
            Ok(View::Sdes(v)) => v.chunks().for_each(|c| c.items().for_each(drop)),
            Ok(View::Bye(v)) => v.sources().chain(v.reason().map(|_| Ssrc(0))).for_each(drop),
            Ok(View::Nack(v)) => v.lost().for_each(drop),
            Ok(View::TransportCc(v)) => v.packets().for_each(drop),
            Ok(View::Fir(v)) => v.entries().for_each(drop),
            Ok(View::Remb(v)) => v.ssrcs().chain([Ssrc(v.bitrate() as u32)]).for_each(drop),
            _ => {}
        }
    }
    let mut copy = data.to_vec();
    for mut packet in CompoundMut::new(&mut copy).flatten() {
        packet.set_sender_ssrc(Ssrc(1));
        packet.set_media_ssrc(Ssrc(2));
    }
});
