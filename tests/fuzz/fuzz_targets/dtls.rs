#![no_main]
//! DTLS record and handshake header parsing on arbitrary datagrams.
use ferry::wire::dtls::{Handshake, Record, Records, is_client_hello};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = is_client_hello(data);
    for r in Records::new(data).flatten() {
        if let Record::Plain { fragment, .. } = r {
            let _ = Handshake::parse(fragment);
        }
    }
});
