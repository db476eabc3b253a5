#![no_main]
//! RTP header view, extension iterator and Repr on arbitrary bytes.
use ferry::wire::rtp::{Packet, Repr, header_len};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = header_len(data);
    if let Ok(p) = Packet::new_checked(data) {
        let _ = (p.marker(), p.payload_type(), p.sequence_number(), p.timestamp(), p.ssrc());
        let _ = (p.csrcs().count(), p.extensions().count(), p.payload(), p.extension_data());
        let repr = Repr::parse(&p);
        let mut out = vec![0u8; repr.buffer_len(p.payload().len())];
        let n = repr.emit(&mut out, p.payload()).expect("a parsed header re-emits");
        let again = Packet::new_checked(&out[..n]).expect("re-emitted packet parses");
        assert_eq!(Repr::parse(&again), repr);
    }
});
