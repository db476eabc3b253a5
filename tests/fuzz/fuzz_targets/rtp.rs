//! Arbitrary bytes into the RTP view: no accessor may panic, and a parsed header must survive
//! emit and parse unchanged.
#![no_main]
use ferry::wire::rtp::{Packet, Repr, header_len};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = header_len(data);
    let Ok(packet) = Packet::new_checked(data) else {
        return;
    };
    let _ = (packet.ssrc(), packet.csrcs().count(), packet.padding_len());
    if let Ok(elements) = packet.extension_elements() {
        elements.for_each(drop);
    }
    let repr = Repr::parse(&packet).expect("a checked packet parses");
    let mut buf = vec![0u8; repr.buffer_len()];
    let n = repr
        .emit(&mut Packet::new_unchecked(&mut buf[..]), packet.payload())
        .expect("a parsed header emits");
    let again = Packet::new_checked(&buf[..n]).expect("emitted bytes check");
    assert_eq!(Repr::parse(&again).unwrap(), repr);
});
