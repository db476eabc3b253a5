//! Per-SSRC state of a context (RFC 3711 §3.2.1: rollover counter, highest sequence number,
//! replay windows) and the fixed-capacity table that holds it.
//!
//! The first [`INLINE`] streams live inside the context, next to its keys, so the common case
//! (one audio SSRC, or audio and video) costs no pointer chase and no extra cache miss per
//! packet; further streams, up to the configured maximum, go to a vector reserved when the
//! context is made. Nothing here allocates after construction.

use super::ReplayWindow;

/// Streams kept inline in a context.
pub const INLINE: usize = 2;

/// Per-SSRC state.
#[derive(Debug, Clone, Copy)]
pub(super) struct Stream {
    pub(super) ssrc: u32,
    /// SRTP: rollover counter and highest sequence number (s_l), valid once `started`.
    pub(super) roc: u32,
    pub(super) s_l: u16,
    pub(super) started: bool,
    /// The last packet of this stream failed authentication (makes the next one retryable).
    pub(super) suspect: bool,
    /// SRTCP: next index to send.
    pub(super) rtcp_next: u32,
    pub(super) rtp_window: ReplayWindow,
    pub(super) rtcp_window: ReplayWindow,
}

impl Stream {
    pub(super) fn new(ssrc: u32) -> Self {
        Self {
            ssrc,
            roc: 0,
            s_l: 0,
            started: false,
            suspect: false,
            rtcp_next: 0,
            rtp_window: ReplayWindow::default(),
            rtcp_window: ReplayWindow::default(),
        }
    }

    /// RFC 3711 Appendix A: the ROC guess `v` for `seq` (may be -1 before the first wrap).
    #[inline]
    pub(super) fn estimate(&self, seq: u16) -> i64 {
        if !self.started {
            return 0;
        }
        let (roc, s_l, seq) = (i64::from(self.roc), i32::from(self.s_l), i32::from(seq));
        if s_l < 32_768 {
            if seq - s_l > 32_768 { roc - 1 } else { roc }
        } else if s_l - 32_768 > seq {
            roc + 1
        } else {
            roc
        }
    }

    /// RFC 3711 §3.3.1: updates ROC and s_l after an authenticated packet with ROC `v`.
    #[inline]
    pub(super) fn advance(&mut self, v: u32, seq: u16) {
        if !self.started || v > self.roc || (v == self.roc && seq > self.s_l) {
            self.roc = v;
            self.s_l = seq;
            self.started = true;
        }
    }
}

/// Streams by insertion order: `INLINE` in place, the rest in a vector reserved up front.
#[derive(Debug)]
#[repr(C)]
pub(super) struct StreamTable {
    len: usize,
    inline: [Stream; INLINE],
    more: Vec<Stream>,
}

impl StreamTable {
    /// A table for up to `cap` streams (the vector part is reserved now, never grown later).
    pub(super) fn with_capacity(cap: usize) -> Self {
        Self {
            inline: [Stream::new(0); INLINE],
            len: 0,
            more: Vec::with_capacity(cap.saturating_sub(INLINE)),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Index of `ssrc`'s stream.
    #[inline]
    pub(super) fn position(&self, ssrc: u32) -> Option<usize> {
        let n = self.len.min(INLINE);
        if let Some(i) = self.inline[..n].iter().position(|s| s.ssrc == ssrc) {
            return Some(i);
        }
        self.more
            .iter()
            .position(|s| s.ssrc == ssrc)
            .map(|i| i + INLINE)
    }

    /// Stream `i`; `i < len()`.
    #[inline]
    pub(super) fn get(&self, i: usize) -> &Stream {
        if i < INLINE {
            &self.inline[i]
        } else {
            &self.more[i - INLINE]
        }
    }

    /// Stream `i`, mutably; `i < len()`.
    #[inline]
    pub(super) fn get_mut(&mut self, i: usize) -> &mut Stream {
        if i < INLINE {
            &mut self.inline[i]
        } else {
            &mut self.more[i - INLINE]
        }
    }

    /// Appends a stream. The caller keeps `len()` within the capacity given at construction,
    /// so the vector never reallocates.
    #[inline]
    pub(super) fn push(&mut self, s: Stream) {
        if self.len < INLINE {
            self.inline[self.len] = s;
        } else {
            self.more.push(s);
        }
        self.len += 1;
    }

    /// Streams in insertion order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &Stream> {
        self.inline[..self.len.min(INLINE)].iter().chain(&self.more)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_keeps_order_across_inline_and_spill() {
        let mut t = StreamTable::with_capacity(5);
        for ssrc in [10, 20, 30, 40, 50] {
            assert_eq!(t.position(ssrc), None);
            t.push(Stream::new(ssrc));
        }
        assert_eq!(t.len(), 5);
        for (i, ssrc) in [10, 20, 30, 40, 50].into_iter().enumerate() {
            assert_eq!(t.position(ssrc), Some(i));
            assert_eq!(t.get(i).ssrc, ssrc);
        }
        t.get_mut(3).roc = 7;
        assert_eq!(t.get(3).roc, 7);
        let order: Vec<u32> = t.iter().map(|s| s.ssrc).collect();
        assert_eq!(order, [10, 20, 30, 40, 50]);
        assert_eq!(t.more.capacity(), 3, "reserved once, not grown");
    }

    #[test]
    fn unused_inline_slots_never_match() {
        // Inline slots start as SSRC 0; an empty table must not claim to hold SSRC 0.
        let t = StreamTable::with_capacity(4);
        assert_eq!(t.position(0), None);
    }
}
