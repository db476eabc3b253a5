#![no_main]
//! SDP parsers on arbitrary text, and every SDP we write from what parsed must parse again.
use ferry_signaling::sdp::{self, CodecPolicy, Fingerprint, LocalIce, Setup};
use libfuzzer_sys::fuzz_target;

const SIPP: &str = "v=0\r\no=sipp 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                    m=audio 6000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let local = LocalIce {
        ufrag: "FerryUfrag".into(),
        pwd: "FerryPasswordFerryPassword".into(),
        fingerprint: Fingerprint { algorithm: "sha-256".into(), value: vec![0xab; 32] },
        setup: Setup::Passive,
        candidates: vec!["127.0.0.1:40000".parse().unwrap()],
    };
    let policy = CodecPolicy::with_opus();
    let addr = "192.0.2.1".parse().unwrap();
    if let Ok(b) = sdp::parse_webrtc(text) {
        if let Ok(o) = sdp::trunk_offer(&b, &policy, addr, 30000, 1, 1) {
            sdp::parse_plain(&o).expect("our trunk offer parses");
        }
        if let Ok(a) = sdp::echo_answer(&b, &policy, &local, 1, 1) {
            sdp::parse_webrtc(&a).expect("our echo answer parses");
        }
        let trunk = sdp::parse_plain(SIPP).unwrap();
        if let Ok((a, _)) = sdp::browser_answer(&b, &trunk, &local, 1, 1) {
            sdp::parse_webrtc(&a).expect("our browser answer parses");
        }
    }
    if let Ok(t) = sdp::parse_plain(text)
        && let Ok(o) = sdp::browser_offer(&t, &policy, &local, 1, 1)
    {
        sdp::parse_webrtc(&o).expect("our browser offer parses");
    }
});
