//! RFC 4733 telephone events taken off a leg instead of forwarded.
//!
//! A leg whose spec names a telephone-event payload type ([`LegSpec::dtmf_events`]) keeps a
//! [`Tracker`]: a few bytes, no allocation. Every packet of that type is consumed; the event is
//! reported once, on the first packet with the end bit (RFC 4733 §2.5.1.4: the end packet is
//! sent three times, all with the event's RTP timestamp, so the timestamp deduplicates them).
//!
//! [`LegSpec::dtmf_events`]: crate::control::LegSpec::dtmf_events

use super::stats::DropReason;

/// RFC 4733 §2.3: event (8) | E (1) R (1) volume (6) | duration (16), in RTP timestamp units.
pub const EVENT_LEN: usize = 4;

/// The telephone-event clock this engine assumes (the PT signaling names is the 8000 Hz one).
const CLOCK_HZ: u32 = 8000;

/// One decoded RFC 4733 §2.3 event payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventPayload {
    /// Event code (§3.2: 0-9, 10 `*`, 11 `#`, 12-15 A-D).
    pub event: u8,
    /// E bit: the last packets of the event (§2.5.1.4).
    pub end: bool,
    /// Volume in -dBm0 (0-63).
    pub volume: u8,
    /// Duration so far, in RTP timestamp units.
    pub duration: u16,
}

impl EventPayload {
    /// Parses the first event of a payload; `None` if it is shorter than [`EVENT_LEN`].
    pub fn parse(payload: &[u8]) -> Option<Self> {
        let b: &[u8; EVENT_LEN] = payload.get(..EVENT_LEN)?.try_into().ok()?;
        Some(Self {
            event: b[0],
            end: b[1] & 0x80 != 0,
            volume: b[1] & 0x3f,
            duration: u16::from_be_bytes([b[2], b[3]]),
        })
    }
}

/// A completed event, ready to report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completed {
    /// Event code.
    pub event: u8,
    /// Duration in milliseconds.
    pub duration_ms: u32,
    /// Volume in -dBm0.
    pub volume: u8,
}

/// Per-leg state: the payload type to take, and the timestamp of the last event reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tracker {
    pt: Option<u8>,
    last_end: Option<u32>,
}

impl Tracker {
    /// A tracker for `pt` (`None`: nothing is taken off the leg).
    pub fn new(pt: Option<u8>) -> Self {
        Self {
            pt: pt.map(|p| p & 0x7f),
            last_end: None,
        }
    }

    /// Keeps the deduplication state when the payload type stays the same (a re-install).
    pub fn update(self, pt: Option<u8>) -> Self {
        let next = Self::new(pt);
        if next.pt == self.pt { self } else { next }
    }

    /// Whether packets of payload type `pt` are telephone events to take.
    #[inline]
    pub fn takes(&self, pt: u8) -> bool {
        self.pt == Some(pt)
    }

    /// One telephone-event packet (RTP timestamp and payload): `Ok(Some)` when it completes an
    /// event not reported before, `Ok(None)` for begin, continuation and repeated end packets,
    /// `Err` for a payload too short to be an event.
    pub fn on_packet(
        &mut self,
        timestamp: u32,
        payload: &[u8],
    ) -> Result<Option<Completed>, DropReason> {
        let ev = EventPayload::parse(payload).ok_or(DropReason::Malformed)?;
        if !ev.end || self.last_end == Some(timestamp) {
            return Ok(None);
        }
        self.last_end = Some(timestamp);
        Ok(Some(Completed {
            event: ev.event,
            duration_ms: u32::from(ev.duration) * 1000 / CLOCK_HZ,
            volume: ev.volume,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Digit 5 at -10 dBm0 (RFC 4733 §2.3 layout): a begin packet, a continuation, the end.
    const BEGIN: [u8; 4] = [0x05, 0x0a, 0x00, 0xa0];
    const CONT: [u8; 4] = [0x05, 0x0a, 0x01, 0x40];
    const END: [u8; 4] = [0x05, 0x8a, 0x06, 0x40];

    #[test]
    fn parses_rfc_4733_payload_fields() {
        assert_eq!(
            EventPayload::parse(&END),
            Some(EventPayload {
                event: 5,
                end: true,
                volume: 10,
                duration: 1600,
            })
        );
        // The R bit is reserved and ignored.
        let r = EventPayload::parse(&[11, 0x4a, 0, 160]).unwrap();
        assert_eq!((r.event, r.end, r.volume), (11, false, 10));
    }

    #[test]
    fn three_end_packets_make_one_event_and_a_second_press_another() {
        let mut t = Tracker::new(Some(101));
        assert!(t.takes(101) && !t.takes(0));
        assert_eq!(t.on_packet(8000, &BEGIN), Ok(None));
        assert_eq!(t.on_packet(8000, &CONT), Ok(None));
        let done = Completed {
            event: 5,
            duration_ms: 200,
            volume: 10,
        };
        assert_eq!(t.on_packet(8000, &END), Ok(Some(done)));
        assert_eq!(t.on_packet(8000, &END), Ok(None));
        assert_eq!(t.on_packet(8000, &END), Ok(None));
        // The next press has a new timestamp (§2.5.1.2).
        let hash_end = [11, 0x8a, 0x05, 0x00];
        assert_eq!(t.on_packet(12000, &[11, 0x0a, 0, 160]), Ok(None));
        let second = t.on_packet(12000, &hash_end).unwrap().unwrap();
        assert_eq!((second.event, second.duration_ms), (11, 160));
        assert_eq!(t.on_packet(12000, &hash_end), Ok(None));
    }

    #[test]
    fn short_payloads_are_errors_not_panics() {
        let mut t = Tracker::new(Some(101));
        for n in 0..EVENT_LEN {
            assert_eq!(t.on_packet(1, &END[..n]), Err(DropReason::Malformed));
        }
    }

    #[test]
    fn reinstall_with_the_same_pt_keeps_the_last_event() {
        let mut t = Tracker::new(Some(101));
        t.on_packet(8000, &END).unwrap();
        let mut same = t.update(Some(101));
        assert_eq!(same.on_packet(8000, &END), Ok(None));
        assert!(!t.update(None).takes(101));
    }
}
