#![no_main]
//! STUN view, attribute accessors, integrity and fingerprint checks on arbitrary bytes.
use ferry::wire::stun::Message;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Message::new_checked(data) {
        let _ = (m.class(), m.method(), m.transaction_id(), m.username(), m.software(), m.priority());
        let _ = (m.use_candidate(), m.ice_controlling(), m.ice_controlled(), m.error_code());
        let _ = (m.xor_mapped_address(), m.mapped_address(), m.unknown_attributes().count());
        let _ = (m.verify_integrity(b"password"), m.verify_fingerprint(), m.attributes().count());
    }
});
