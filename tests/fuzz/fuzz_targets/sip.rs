#![no_main]
//! SIP codec on arbitrary bytes: parse, answer errors, frame, re-encode, and digest parsing.
//! Seeds: `seeds/sip` (the browser INVITEs from tests/fixtures, a 401, a keepalive).
use ferry_signaling::sip::{Message, NameAddr, Uri, Via, auth, frame_len};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = frame_len(data);
    match Message::parse(data) {
        Ok(m) => {
            // What we write must parse, and writing that again changes nothing.
            let bytes = m.to_bytes();
            let again = Message::parse(&bytes).expect("our own output parses");
            assert_eq!(again.to_bytes(), bytes);
            assert_eq!(frame_len(&bytes), Ok(Some(bytes.len())));
            let h = m.headers();
            let _ = (
                m.top_via(),
                h.get_all("Via").count(),
                h.get_all("Record-Route").count(),
            );
            for name in ["WWW-Authenticate", "Proxy-Authenticate"] {
                let _ = h.get(name).map(auth::Challenge::parse);
            }
            let _ = h.get("Authorization").map(auth::Credentials::parse);
        }
        Err(e) => {
            if let Some(r) = e.bad_request(data) {
                assert!(Message::parse(&r.to_bytes()).is_ok(), "our 400 must parse");
            }
        }
    }
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = (
            Uri::parse(s),
            NameAddr::parse(s),
            Via::parse(s),
            auth::Challenge::parse(s),
        );
    }
});
