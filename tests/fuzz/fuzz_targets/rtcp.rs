#![no_main]
//! RTCP compound walk and every typed parser; what parses must re-emit and parse the same.
use ferry::wire::rtcp::{Compound, Packet, Repr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for p in Compound::new(data).flatten() {
        let _ = (p.count(), p.packet_type(), p.sender_ssrc());
        if let Ok(repr) = Repr::parse(&p) {
            if let Ok(bytes) = repr.to_bytes() {
                let again = Packet::new_checked(&bytes[..]).expect("emitted RTCP parses");
                let _ = Repr::parse(&again);
            }
        }
    }
});
