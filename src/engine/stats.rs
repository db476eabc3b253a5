//! Per-shard counters and the latency histogram.
//!
//! Each shard owns its [`Counters`] and [`Histogram`] outright (no atomics, no sharing on the
//! packet path); a stats query asks every shard for a snapshot and merges them.

use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};

use crate::control::Counter;

/// Why a packet was dropped. Every drop is counted under exactly one reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// SRTP/SRTCP authentication failed.
    Auth,
    /// SRTP/SRTCP replay (already seen, or older than the window).
    Replay,
    /// Arrived on a socket with no session, or a session that is being removed.
    UnknownSession,
    /// Not a well-formed packet of the kind its first byte claims.
    Malformed,
    /// From an address the leg has not latched to (RTP Bleed/Inject defence).
    Unlatched,
    /// STUN check with a bad or missing MESSAGE-INTEGRITY, or a wrong USERNAME.
    IceAuth,
    /// SRTP arrived before the keys were installed, or the leg cannot send yet.
    NotReady,
    /// The datagram did not fit a receive buffer with its tailroom.
    Truncated,
    /// The kernel refused the send, or a queue toward signaling was full.
    SendFailed,
    /// SRTP stream not allowed (unknown SSRC under a fixed policy, or too many streams).
    UnknownSsrc,
    /// A first byte outside every RFC 7983 range we accept.
    Unclassified,
    /// Lost before the shard saw it: the receive buffers ran out (load shedding).
    Overrun,
}

impl DropReason {
    /// Every reason, in counter order.
    pub const ALL: [DropReason; 12] = [
        Self::Auth,
        Self::Replay,
        Self::UnknownSession,
        Self::Malformed,
        Self::Unlatched,
        Self::IceAuth,
        Self::NotReady,
        Self::Truncated,
        Self::SendFailed,
        Self::UnknownSsrc,
        Self::Unclassified,
        Self::Overrun,
    ];

    /// Counter name, as `ferry stats` and Prometheus show it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auth => "drop_auth",
            Self::Replay => "drop_replay",
            Self::UnknownSession => "drop_unknown_session",
            Self::Malformed => "drop_malformed",
            Self::Unlatched => "drop_unlatched_source",
            Self::IceAuth => "drop_ice_auth",
            Self::NotReady => "drop_not_ready",
            Self::Truncated => "drop_truncated",
            Self::SendFailed => "drop_send_failed",
            Self::UnknownSsrc => "drop_unknown_ssrc",
            Self::Unclassified => "drop_unclassified",
            Self::Overrun => "drop_overrun",
        }
    }
}

/// One shard's counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Datagrams received.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Datagrams sent (forwarded media, STUN answers, DTLS from signaling).
    pub tx_packets: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// STUN binding requests answered.
    pub stun_answered: u64,
    /// DTLS datagrams handed to signaling.
    pub dtls_up: u64,
    /// DTLS datagrams sent for signaling.
    pub dtls_down: u64,
    /// Sessions the shard holds now.
    pub sessions: u64,
    /// Drops by reason, indexed like [`DropReason::ALL`].
    pub drops: [u64; DropReason::ALL.len()],
}

impl Counters {
    /// Counts a drop.
    #[inline]
    pub fn drop(&mut self, why: DropReason) {
        self.drops[why as usize] += 1;
    }

    /// Drops counted for one reason.
    pub fn drops_for(&self, why: DropReason) -> u64 {
        self.drops[why as usize]
    }

    /// Named values, for the control channel and the CLI.
    pub fn to_list(&self) -> Vec<Counter> {
        let named = [
            ("rx_packets", self.rx_packets),
            ("rx_bytes", self.rx_bytes),
            ("tx_packets", self.tx_packets),
            ("tx_bytes", self.tx_bytes),
            ("stun_answered", self.stun_answered),
            ("dtls_up", self.dtls_up),
            ("dtls_down", self.dtls_down),
            ("sessions", self.sessions),
        ];
        let drops = DropReason::ALL
            .iter()
            .map(|r| (r.name(), self.drops_for(*r)));
        named
            .into_iter()
            .chain(drops)
            .map(|(name, value)| Counter {
                name: name.into(),
                value,
            })
            .collect()
    }
}

/// Looks a counter up by name in a list.
pub fn counter(list: &[Counter], name: &str) -> Option<u64> {
    list.iter().find(|c| c.name == name).map(|c| c.value)
}

/// A latency histogram in nanoseconds: 1 ns to 60 s at 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    // Bounds are constants within hdrhistogram's limits, so creation cannot fail.
    Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap_or_else(|_| unreachable!())
}

/// Serializes a histogram (V2, uncompressed) for the control channel.
pub fn encode_histogram(h: &Histogram<u64>) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = V2Serializer::new().serialize(h, &mut out);
    out
}

/// Decodes a histogram sent by [`encode_histogram`].
pub fn decode_histogram(bytes: &[u8]) -> Result<Histogram<u64>, String> {
    if bytes.is_empty() {
        return Ok(new_histogram());
    }
    Deserializer::new()
        .deserialize(&mut std::io::Cursor::new(bytes))
        .map_err(|e| format!("histogram: {e:?}"))
}

/// Renders counters (summed, then per shard where they differ) and latency percentiles for
/// `ferry stats`.
pub fn render(shards: &[Vec<Counter>], hist: &Histogram<u64>) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let names: Vec<&str> = shards
        .first()
        .map(|s| s.iter().map(|c| c.name.as_str()).collect())
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{:<24} {:>14}{}",
        "counter",
        "total",
        (0..shards.len())
            .map(|i| format!(" {:>12}", format!("shard{i}")))
            .collect::<String>()
    );
    for name in names {
        let per: Vec<u64> = shards
            .iter()
            .map(|s| counter(s, name).unwrap_or(0))
            .collect();
        let total: u64 = per.iter().sum();
        if total == 0 && name.starts_with("drop_") {
            continue;
        }
        let cols: String = per.iter().map(|v| format!(" {v:>12}")).collect();
        let _ = writeln!(out, "{name:<24} {total:>14}{cols}");
    }
    let us = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    let _ = writeln!(
        out,
        "latency in engine (us), {} packets: p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}",
        hist.len(),
        us(0.5),
        us(0.9),
        us(0.99),
        us(0.999),
        hist.max() as f64 / 1000.0
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_name_every_drop_reason_once() {
        let mut c = Counters::default();
        for (i, r) in DropReason::ALL.iter().enumerate() {
            for _ in 0..=i {
                c.drop(*r);
            }
        }
        let list = c.to_list();
        for (i, r) in DropReason::ALL.iter().enumerate() {
            assert_eq!(counter(&list, r.name()), Some(i as u64 + 1), "{r:?}");
        }
        let mut names: Vec<_> = list.iter().map(|c| c.name.clone()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), list.len(), "names are unique");
    }

    #[test]
    fn histograms_survive_the_wire_and_merge() {
        let mut a = new_histogram();
        let mut b = new_histogram();
        (1..=1000u64).for_each(|v| a.record(v * 1000).unwrap());
        (1..=1000u64).for_each(|v| b.record(v * 1_000_000).unwrap());
        let mut merged = decode_histogram(&encode_histogram(&a)).unwrap();
        merged
            .add(decode_histogram(&encode_histogram(&b)).unwrap())
            .unwrap();
        assert_eq!(merged.len(), 2000);
        assert!(merged.value_at_quantile(0.25).abs_diff(500_000) < 1_000);
        assert!(merged.max() >= 999_000_000);
        assert!(decode_histogram(b"garbage").is_err());
    }

    #[test]
    fn render_sums_shards_and_hides_zero_drops() {
        let mut a = Counters {
            rx_packets: 3,
            ..Default::default()
        };
        let mut b = Counters {
            rx_packets: 4,
            ..Default::default()
        };
        a.drop(DropReason::Replay);
        b.drop(DropReason::Replay);
        let mut h = new_histogram();
        h.record(2_000).unwrap();
        let text = render(&[a.to_list(), b.to_list()], &h);
        let rx = text.lines().find(|l| l.starts_with("rx_packets")).unwrap();
        assert_eq!(
            rx.split_whitespace().collect::<Vec<_>>(),
            ["rx_packets", "7", "3", "4"]
        );
        assert!(text.contains("drop_replay"));
        assert!(!text.contains("drop_auth"));
        assert!(text.contains("p50 2.0"));
    }
}
