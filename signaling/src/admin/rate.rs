//! Call setup rate over the last minute, from samples of the core's attempt counter.
//!
//! Sans-IO: the caller passes the time and the counter it just read (each admin request reads
//! both anyway), so no task has to poll the core in the background. A sample is kept at most
//! once a second, which bounds the ring at about one minute's worth.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use serde::Serialize;

/// How far back the rate looks.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Samples closer together than this are not kept (the newest value is still used).
const SPACING: Duration = Duration::from_secs(1);

/// A rate and the span it was measured over.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rate {
    /// Call attempts per second.
    pub per_s: f64,
    /// Seconds between the oldest sample used and now: about 60 once the process has
    /// been asked for a minute, less before, more when nobody asked during the last minute.
    pub window_s: f64,
}

/// The ring of `(time, attempts)` samples.
#[derive(Debug, Default)]
pub struct SetupRate {
    samples: VecDeque<(Instant, u64)>,
}

impl SetupRate {
    /// Records `attempts` seen at `now` and returns the rate since the oldest sample within the
    /// window (or the newest one before it); None on the first call.
    pub fn observe(&mut self, now: Instant, attempts: u64) -> Option<Rate> {
        let start = now.checked_sub(WINDOW).unwrap_or(now);
        // Keep one sample at or before the window's start as the baseline, so the rate spans
        // the whole minute rather than the part of it that happens to have samples.
        while self.samples.len() >= 2 && self.samples[1].0 <= start {
            self.samples.pop_front();
        }
        let rate = self.samples.front().and_then(|&(t, a)| {
            let span = now.saturating_duration_since(t).as_secs_f64();
            (span > 0.0).then(|| Rate {
                per_s: attempts.saturating_sub(a) as f64 / span,
                window_s: span,
            })
        });
        let due = self
            .samples
            .back()
            .is_none_or(|&(t, _)| now.saturating_duration_since(t) >= SPACING);
        if due {
            self.samples.push_back((now, attempts));
        }
        rate
    }

    /// Samples held now.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether no sample is held.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_call_has_no_rate() {
        let mut r = SetupRate::default();
        assert_eq!(r.observe(Instant::now(), 10), None);
    }

    #[test]
    fn steady_rate_over_the_last_minute() {
        let t0 = Instant::now();
        let mut r = SetupRate::default();
        // 5 attempts a second for two minutes, asked every 100 ms.
        let mut last = None;
        for ms in (0..=120_000u64).step_by(100) {
            last = r.observe(t0 + Duration::from_millis(ms), ms / 200);
        }
        let last = last.unwrap();
        assert!((last.per_s - 5.0).abs() < 1e-9, "{last:?}");
        assert!((last.window_s - 60.0).abs() <= 1.0, "{last:?}");
        assert!(r.len() <= 62, "ring bounded: {}", r.len());
    }

    #[test]
    fn a_burst_leaves_the_window_after_a_minute() {
        let t0 = Instant::now();
        let mut r = SetupRate::default();
        r.observe(t0, 0);
        // 600 attempts in the first second, then none.
        r.observe(t0 + Duration::from_secs(1), 600);
        let during = r.observe(t0 + Duration::from_secs(30), 600).unwrap();
        assert!((during.per_s - 20.0).abs() < 1e-9, "{during:?}");
        for s in 31..=90 {
            r.observe(t0 + Duration::from_secs(s), 600);
        }
        let after = r.observe(t0 + Duration::from_secs(91), 600).unwrap();
        assert_eq!(after.per_s, 0.0, "{after:?}");
    }

    #[test]
    fn a_quiet_minute_uses_the_last_sample_before_it() {
        let t0 = Instant::now();
        let mut r = SetupRate::default();
        r.observe(t0, 0);
        let later = r.observe(t0 + Duration::from_secs(300), 600).unwrap();
        assert_eq!(later.window_s, 300.0);
        assert_eq!(later.per_s, 2.0);
    }
}
