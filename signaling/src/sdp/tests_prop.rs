//! Property tests: no input panics the parsers; generated offers round-trip through them.

use proptest::prelude::*;

use super::tests::{CHROMIUM, sipp_answer};
use super::*;

/// SDP-shaped noise: real lines, shuffled, cut and corrupted.
fn sdp_like() -> impl Strategy<Value = String> {
    let sipp = sipp_answer();
    let real: Vec<String> = CHROMIUM
        .lines()
        .chain(sipp.lines())
        .map(str::to_owned)
        .collect();
    let line = prop_oneof![
        proptest::sample::select(real),
        "[a-z]=[ -~]{0,40}",
        "a=(rtpmap|fmtp|candidate|fingerprint|setup|rtcp|ssrc|group|ptime):[ -~]{0,40}",
        "m=(audio|video|application) [0-9]{1,6}(/[0-9])? [A-Z/]{0,20}( [0-9a-z]{1,4}){0,4}",
        "c=IN IP[46] [0-9a-f:.]{0,20}",
    ];
    proptest::collection::vec(line, 0..40).prop_map(|l| l.join("\r\n"))
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,400}") {
        let _ = parse_webrtc(&s);
        let _ = parse_plain(&s);
    }

    #[test]
    fn sdp_like_text_never_panics(s in sdp_like()) {
        let local = tests::local_ice("127.0.0.1:40000");
        if let Ok(b) = parse_webrtc(&s) {
            let policy = CodecPolicy::with_opus();
            let _ = trunk_offer(&b, &policy, "192.0.2.1".parse().unwrap(), 30000, 1, 1);
            let _ = echo_answer(&b, &policy, &local, 1, 1);
        }
        if let Ok(p) = parse_plain(&s) {
            let _ = browser_offer(&p, &CodecPolicy::default(), &local, 1, 1);
        }
    }
}
