//! DTMF that Ferry terminates: for a trunk that takes DTMF as SIP INFO, telephone-event is not
//! offered to the trunk, yet the browser must still be allowed to send RFC 4733 (the engine
//! takes those packets off the relay and signaling turns them into INFO). So the answer to the
//! browser keeps the browser's telephone-event/8000 as if the trunk had accepted it.

use super::model::{PlainSession, WebRtcSession};
use super::types::MediaKind;

/// The telephone-event clock the engine converts (RFC 4733 §7.1.1; 8000 Hz beside G.711).
const DTMF_RATE: u32 = 8000;

/// The payload type of the browser's first telephone-event/8000 on an audio m-line.
pub fn browser_dtmf_pt(browser: &WebRtcSession) -> Option<u8> {
    browser
        .media
        .iter()
        .filter(|m| m.kind == MediaKind::Audio && m.port != 0)
        .flat_map(|m| &m.codecs)
        .find(|c| c.is_dtmf() && c.rate == DTMF_RATE)
        .map(|c| c.pt)
}

/// Adds the browser's telephone-event/8000 to each accepted audio m-line of the trunk's
/// answer that lacks one, so that [`super::browser_answer`] keeps it; returns its payload type.
pub fn keep_browser_dtmf(browser: &WebRtcSession, trunk_answer: &mut PlainSession) -> Option<u8> {
    let mut kept = None;
    for (b, t) in browser.media.iter().zip(&mut trunk_answer.media) {
        if t.kind != MediaKind::Audio || t.port == 0 || t.codecs.iter().any(|c| c.is_dtmf()) {
            continue;
        }
        let Some(te) = b.codecs.iter().find(|c| c.is_dtmf() && c.rate == DTMF_RATE) else {
            continue;
        };
        t.codecs.push(te.clone());
        kept = kept.or(Some(te.pt));
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::super::tests::{CHROMIUM, local_ice, sipp_answer};
    use super::super::*;
    use super::*;

    /// A trunk configured for INFO is offered no telephone-event; its answer has none; the
    /// browser still gets its own telephone-event/8000 back, and the engine takes PT 126.
    #[test]
    fn browser_keeps_telephone_event_when_the_trunk_was_not_offered_it() {
        let b = parse_webrtc(CHROMIUM).unwrap();
        assert_eq!(browser_dtmf_pt(&b), Some(126));
        let policy = CodecPolicy {
            allowed: vec!["PCMU".into(), "PCMA".into()],
        };
        let offer = trunk_offer(&b, &policy, [192, 0, 2, 10].into(), 30000, 1, 1).unwrap();
        assert!(!offer.contains("telephone-event"), "{offer}");
        let sipp = sipp_answer()
            .replace(" 101\r\n", "\r\n")
            .replace("a=rtpmap:101 telephone-event/8000\r\n", "")
            .replace("a=fmtp:101 0-16\r\n", "");
        let mut t = parse_plain(&sipp).unwrap();
        assert!(!t.media[0].codecs.iter().any(|c| c.is_dtmf()), "{sipp}");
        let (plain, _) = browser_answer(&b, &t, &local_ice("127.0.0.1:40000"), 7, 1).unwrap();
        assert!(!plain.contains("telephone-event"));
        assert_eq!(keep_browser_dtmf(&b, &mut t), Some(126));
        let (kept, map) = browser_answer(&b, &t, &local_ice("127.0.0.1:40000"), 7, 1).unwrap();
        assert!(kept.contains("a=rtpmap:126 telephone-event/8000"), "{kept}");
        assert!(!kept.contains("telephone-event/48000"));
        assert!(map.is_empty(), "{map:?}");
        // A trunk that answered with its own telephone-event is left alone.
        let mut with_te = parse_plain(&sipp_answer()).unwrap();
        assert_eq!(keep_browser_dtmf(&b, &mut with_te), None);
    }
}
