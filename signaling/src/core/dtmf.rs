//! DTMF toward a trunk configured `dtmf = "info"`: the browser sends RFC 4733 (what WebRTC's
//! `RTCDTMFSender` does); the engine takes those packets off leg A and reports each completed
//! event ([`Message::Dtmf`]); here each becomes an in-dialog INFO with
//! `application/dtmf-relay` (the de facto format, `Signal=` and `Duration=` lines).
//!
//! [`Message::Dtmf`]: ferry_control::Message::Dtmf

use std::time::Instant;

use ferry_control::SessionId;

use super::{CallId, Core};
use crate::config::DtmfMode;
use crate::sdp::{self, PlainSession, WebRtcSession};

/// The `Signal=` value of an RFC 4733 §3.2 event code (0-9, `*`, `#`, A-D).
pub(super) fn signal(event: u8) -> Option<char> {
    match event {
        0..=9 => Some(char::from(b'0' + event)),
        10 => Some('*'),
        11 => Some('#'),
        12..=15 => Some(char::from(b'A' + event - 12)),
        _ => None,
    }
}

/// The `application/dtmf-relay` body for one event; `None` for a non-DTMF event code.
pub(super) fn relay_body(event: u8, duration_ms: u32) -> Option<String> {
    signal(event).map(|s| format!("Signal={s}\r\nDuration={duration_ms}\r\n"))
}

impl Core {
    /// Whether the trunk takes DTMF as SIP INFO.
    fn dtmf_as_info(&self) -> bool {
        self.trunk
            .as_ref()
            .is_some_and(|t| t.cfg.dtmf == DtmfMode::Info)
    }

    /// The telephone-event payload type the engine should take off leg A of call `id`.
    pub(super) fn dtmf_events_pt(&self, id: CallId) -> Option<u8> {
        if !self.dtmf_as_info() {
            return None;
        }
        let webrtc = self.calls.get(&id)?.browser.webrtc.as_ref()?;
        sdp::browser_dtmf_pt(webrtc)
    }

    /// For an INFO trunk, keeps the browser's telephone-event in the trunk answer the browser's
    /// answer is written from (the trunk was not offered it; Ferry terminates it).
    pub(super) fn keep_browser_dtmf(&self, browser: &WebRtcSession, answer: &mut PlainSession) {
        if self.dtmf_as_info() {
            sdp::keep_browser_dtmf(browser, answer);
        }
    }

    /// An event the engine took off the browser leg: an INFO to the trunk, if it is up.
    pub(super) fn dtmf_to_trunk(
        &mut self,
        session: SessionId,
        event: u8,
        duration_ms: u32,
        now: Instant,
    ) {
        let Some(&id) = self.by_session.get(&session) else {
            return;
        };
        let Some(body) = relay_body(event, duration_ms) else {
            return;
        };
        tracing::debug!(?id, event, duration_ms, "dtmf to the trunk as INFO");
        self.info_to_trunk(id, Some("application/dtmf-relay"), body.into_bytes(), now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_codes_map_to_dtmf_relay_signals() {
        let all: String = (0..16).filter_map(signal).collect();
        assert_eq!(all, "0123456789*#ABCD");
        assert_eq!(signal(16), None);
        assert_eq!(relay_body(5, 160).unwrap(), "Signal=5\r\nDuration=160\r\n");
        assert_eq!(relay_body(32, 160), None);
    }
}
