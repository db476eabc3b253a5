//! Replay protection (RFC 3711 §3.3.2): a sliding window over packet indices.

/// Packets the window remembers behind the highest index seen (RFC 3711 asks for at least 64;
/// 128 tolerates the reordering real networks produce at video rates).
pub const WINDOW: u64 = 128;

/// Highest index accepted and a bitmap of the [`WINDOW`] indices below it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplayWindow {
    highest: Option<u64>,
    /// Bit `d` set: index `highest - d` was accepted.
    seen: u128,
}

impl ReplayWindow {
    /// Whether `index` may be accepted (not seen, not older than the window). Does not record it.
    #[inline]
    pub fn check(&self, index: u64) -> bool {
        match self.highest {
            None => true,
            Some(h) if index > h => true,
            Some(h) => {
                let d = h - index;
                d < WINDOW && self.seen & (1u128 << d) == 0
            }
        }
    }

    /// Records an authenticated `index`.
    #[inline]
    pub fn accept(&mut self, index: u64) {
        match self.highest {
            Some(h) if index <= h => {
                let d = h - index;
                if d < WINDOW {
                    self.seen |= 1u128 << d;
                }
            }
            Some(h) => {
                let shift = index - h;
                self.seen = if shift >= WINDOW {
                    0
                } else {
                    self.seen << shift
                };
                self.seen |= 1;
                self.highest = Some(index);
            }
            None => {
                self.seen = 1;
                self.highest = Some(index);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_accepts_reordering_and_rejects_replays_and_stale() {
        let mut w = ReplayWindow::default();
        for i in [10u64, 12, 11, 200, 73] {
            assert!(w.check(i), "{i}");
            w.accept(i);
        }
        for i in [10u64, 12, 11, 200, 73] {
            assert!(!w.check(i), "replay {i}");
        }
        assert!(!w.check(72), "older than the window");
        assert!(w.check(74) && w.check(199) && w.check(201));
        w.accept(1000);
        assert!(!w.check(200) && w.check(999) && !w.check(872) && w.check(873));
    }
}
