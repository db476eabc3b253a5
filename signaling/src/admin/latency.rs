//! The engine's latency histogram (HdrHistogram, nanoseconds) as a Prometheus histogram with
//! fixed bucket bounds in seconds.
//!
//! HdrHistogram keeps counts per bin of values that are equal to 3 significant digits; each
//! recorded bin is placed whole in the first bucket whose bound is at least the bin's lowest
//! value. So a bucket count is exact for every value whose bin lies on one side of the bound,
//! and a value recorded exactly at a bound counts in that bound's bucket (`le` is "less than or
//! equal"). Only values within HdrHistogram's 0.1% of a bound above 2 us can land one bucket low.

use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;

/// Upper bounds in nanoseconds: 1-2-5 steps from 1 us to 100 ms (the engine's path is a few
/// microseconds; anything near 100 ms is a stall worth seeing as its own bucket).
pub const BOUNDS_NS: [u64; 16] = [
    1_000,
    2_000,
    5_000,
    10_000,
    20_000,
    50_000,
    100_000,
    200_000,
    500_000,
    1_000_000,
    2_000_000,
    5_000_000,
    10_000_000,
    20_000_000,
    50_000_000,
    100_000_000,
];

/// A histogram ready for the Prometheus encoder.
#[derive(Debug, Clone, PartialEq)]
pub struct Buckets {
    /// `(upper bound in seconds, values in this bucket only)`, not cumulative: the encoder
    /// accumulates. Values above the last bound are only in `count` (the `+Inf` bucket).
    pub per_bucket: Vec<(f64, u64)>,
    /// Sum of the recorded values in seconds (each bin at its median value).
    pub sum_s: f64,
    /// Number of recorded values.
    pub count: u64,
}

impl Buckets {
    /// Cumulative counts as Prometheus exposes them: `(le, values <= le)`, without `+Inf`.
    pub fn cumulative(&self) -> Vec<(f64, u64)> {
        let mut total = 0;
        self.per_bucket
            .iter()
            .map(|&(le, n)| {
                total += n;
                (le, total)
            })
            .collect()
    }
}

/// A V2 serialization from the engine could not be read.
#[derive(Debug, thiserror::Error)]
#[error("engine latency histogram: {0}")]
pub struct DecodeError(String);

/// Reads the histogram the engine sends in `Message::Stats` (empty: nothing recorded yet).
pub fn decode(bytes: &[u8]) -> Result<Option<Histogram<u64>>, DecodeError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    Deserializer::new()
        .deserialize(&mut std::io::Cursor::new(bytes))
        .map(Some)
        .map_err(|e| DecodeError(format!("{e:?}")))
}

/// Buckets for a histogram of nanoseconds (None: an empty histogram).
pub fn buckets(hist: Option<&Histogram<u64>>) -> Buckets {
    let mut per = [0u64; BOUNDS_NS.len()];
    let mut sum_ns: u128 = 0;
    let mut count = 0u64;
    if let Some(h) = hist {
        for v in h.iter_recorded() {
            let n = v.count_at_value();
            let low = h.lowest_equivalent(v.value_iterated_to());
            if let Some(i) = BOUNDS_NS.iter().position(|&b| low <= b) {
                per[i] += n;
            }
            sum_ns += u128::from(h.median_equivalent(low)) * u128::from(n);
            count += n;
        }
    }
    Buckets {
        per_bucket: BOUNDS_NS
            .iter()
            .zip(per)
            .map(|(&b, n)| (b as f64 / 1e9, n))
            .collect(),
        sum_s: sum_ns as f64 / 1e9,
        count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::{Serializer, V2Serializer};

    /// The engine's histogram shape (src/engine/stats.rs `new_histogram`).
    fn engine_histogram() -> Histogram<u64> {
        Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap()
    }

    fn le(b: &Buckets, bound_s: f64) -> u64 {
        b.cumulative()
            .iter()
            .find(|(le, _)| (*le - bound_s).abs() < 1e-12)
            .unwrap_or_else(|| panic!("no bucket {bound_s}"))
            .1
    }

    #[test]
    fn known_values_land_in_exact_buckets() {
        let mut h = engine_histogram();
        // Below the first bound, exactly on it, just above it.
        h.record_n(500, 3).unwrap();
        h.record_n(1_000, 2).unwrap();
        h.record_n(1_001, 1).unwrap();
        // Microseconds to milliseconds, away from every bound.
        h.record_n(3_000, 4).unwrap();
        h.record_n(7_000_000, 5).unwrap();
        // On the 10 ms bound, and beyond the last bound.
        h.record_n(10_000_000, 6).unwrap();
        h.record_n(250_000_000, 7).unwrap();
        let b = buckets(Some(&h));
        assert_eq!(b.count, 28);
        assert_eq!(le(&b, 1e-6), 5, "500 ns x3 and 1000 ns x2");
        assert_eq!(le(&b, 2e-6), 6, "+ 1001 ns");
        assert_eq!(le(&b, 5e-6), 10, "+ 3 us x4");
        assert_eq!(le(&b, 5e-3), 10);
        assert_eq!(le(&b, 10e-3), 21, "+ 7 ms x5 and 10 ms x6");
        assert_eq!(le(&b, 0.1), 21, "250 ms only in +Inf");
        let per: Vec<u64> = b.per_bucket.iter().map(|p| p.1).collect();
        assert_eq!(per, [5, 1, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11, 0, 0, 0]);
    }

    #[test]
    fn a_value_within_a_bin_of_a_bound_counts_below_it() {
        // 10 ms sits in the 8192 ns wide bin [9_994_240, 10_002_431]: 10.001 ms shares it, so
        // the documented rounding puts it under le=0.01.
        let mut h = engine_histogram();
        h.record(10_001_000).unwrap();
        h.record(10_002_432).unwrap();
        let b = buckets(Some(&h));
        assert_eq!(le(&b, 10e-3), 1);
        assert_eq!(le(&b, 20e-3), 2);
    }

    #[test]
    fn cumulative_counts_never_decrease() {
        let mut h = engine_histogram();
        for v in (1..200_000u64).step_by(7) {
            h.record(v * 997).unwrap();
        }
        let b = buckets(Some(&h));
        let cum = b.cumulative();
        assert!(cum.windows(2).all(|w| w[0].1 <= w[1].1 && w[0].0 < w[1].0));
        assert!(cum.last().unwrap().1 <= b.count);
        assert_eq!(b.count, h.len());
    }

    #[test]
    fn sum_is_exact_for_unit_bins_and_close_above() {
        let mut h = engine_histogram();
        h.record_n(1_500, 2).unwrap();
        h.record(800).unwrap();
        assert_eq!(buckets(Some(&h)).sum_s, 3_800e-9);
        h.record(40_000_000).unwrap();
        let s = buckets(Some(&h)).sum_s;
        assert!((s - 0.040_003_8).abs() < 40e-3 * 1e-3, "{s}");
    }

    #[test]
    fn an_empty_histogram_has_zero_buckets() {
        for b in [buckets(None), buckets(Some(&engine_histogram()))] {
            assert_eq!(b.count, 0);
            assert_eq!(b.sum_s, 0.0);
            assert_eq!(b.per_bucket.len(), BOUNDS_NS.len());
            assert!(b.per_bucket.iter().all(|p| p.1 == 0));
        }
        assert!(decode(&[]).unwrap().is_none());
    }

    #[test]
    fn the_engine_serialization_decodes() {
        let mut h = engine_histogram();
        h.record_n(2_000, 9).unwrap();
        let mut bytes = Vec::new();
        V2Serializer::new().serialize(&h, &mut bytes).unwrap();
        let back = decode(&bytes).unwrap().unwrap();
        assert_eq!(le(&buckets(Some(&back)), 2e-6), 9);
        assert!(decode(b"garbage").is_err());
    }
}
