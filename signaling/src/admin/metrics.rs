//! `/metrics`: signaling's counters, the engine's per-shard counters and its latency histogram
//! in the Prometheus text format (0.0.4), rendered by prometheus-client.
//!
//! Nothing is kept between scrapes: each one takes a [`Scrape`] (one core snapshot, one engine
//! stats reply) and encodes it through a one-shot [`Collector`]. The engine's counter names are
//! whatever the engine reports (`rx_packets`, `drop_auth`, ...), so a counter added there shows
//! up here without a change; only the names in [`ENGINE_GAUGES`] are levels rather than totals.

use ferry_control::Counter;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::latency::Buckets;
use crate::core::CoreStats;

/// The content type of the rendered text.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// Engine values that are a current level, not a running total (`src/engine/stats.rs`:
/// `sessions` is the number of sessions a shard holds now).
pub const ENGINE_GAUGES: [&str; 1] = ["sessions"];

/// What the engine said in reply to `StatsQuery`.
#[derive(Debug, Clone)]
pub struct EngineStats {
    /// Counters per shard, as the engine named them.
    pub shards: Vec<Vec<Counter>>,
    /// The merged latency histogram as buckets.
    pub latency: Buckets,
}

/// Everything one scrape shows.
#[derive(Debug, Clone)]
pub struct Scrape {
    /// The core's counters.
    pub stats: CoreStats,
    /// The engine's, when the control channel is up.
    pub engine: Option<EngineStats>,
    /// Seconds since signaling started.
    pub uptime_s: f64,
}

/// Renders a scrape as Prometheus text.
pub fn render(scrape: Scrape) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::with_prefix("ferry");
    registry.register_collector(Box::new(scrape));
    let mut out = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)?;
    Ok(out)
}

impl Collector for Scrape {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let s = &self.stats;
        let info = [("version", env!("CARGO_PKG_VERSION"))];
        enc.encode_descriptor("build", "Ferry's version.", None, MetricType::Info)?
            .encode_info(&info)?;
        gauge(
            &mut enc,
            "uptime_seconds",
            "Seconds since signaling started.",
            Value::Real(self.uptime_s),
        )?;
        counter(
            &mut enc,
            "calls_attempted",
            "New INVITEs taken up (browser and trunk).",
            s.attempts,
        )?;
        counter(
            &mut enc,
            "calls_answered",
            "Calls answered on the browser leg.",
            s.answered,
        )?;
        let mut failed: Vec<(u16, u64)> = s.failed.iter().map(|(k, v)| (*k, *v)).collect();
        failed.sort_unstable();
        let mut m = enc.encode_descriptor(
            "calls_failed",
            "Calls that failed before answer, by SIP status sent to the browser.",
            None,
            MetricType::Counter,
        )?;
        for (status, n) in failed {
            let labels = [("status", status.to_string())];
            value(m.encode_family(&labels)?, Value::Total(n))?;
        }
        gauge(
            &mut enc,
            "calls_active",
            "Calls up now.",
            Value::Level(s.active as u64),
        )?;
        counter(
            &mut enc,
            "sip_malformed",
            "Malformed SIP messages from browsers.",
            s.malformed,
        )?;
        counter(
            &mut enc,
            "sip_from_strangers",
            "SIP datagrams from addresses other than the trunk, dropped.",
            s.sip_from_strangers,
        )?;
        counter(
            &mut enc,
            "sip_info_relayed",
            "INFO requests relayed between legs.",
            s.info_relayed,
        )?;
        if let Some(up) = s.trunk_up {
            let help = "Whether the trunk answered its last OPTIONS keepalive.";
            gauge(&mut enc, "trunk_up", help, Value::Level(u64::from(up)))?;
        }
        let connected = Value::Level(u64::from(self.engine.is_some()));
        gauge(
            &mut enc,
            "engine_connected",
            "Whether the engine answered this scrape.",
            connected,
        )?;
        if let Some(e) = &self.engine {
            encode_engine(&mut enc, e)?;
        }
        Ok(())
    }
}

fn encode_engine(enc: &mut DescriptorEncoder<'_>, e: &EngineStats) -> Result<(), std::fmt::Error> {
    // Names in the order the engine lists them, once each, whichever shard has them.
    let mut names: Vec<&str> = Vec::new();
    for c in e.shards.iter().flatten() {
        if !names.contains(&c.name.as_str()) {
            names.push(&c.name);
        }
    }
    for name in names {
        let Some(metric) = metric_name(name) else {
            continue;
        };
        let gauge = ENGINE_GAUGES.contains(&name);
        let ty = if gauge {
            MetricType::Gauge
        } else {
            MetricType::Counter
        };
        let help = format!("Engine counter {name}, per shard.");
        let full = format!("engine_{metric}");
        let mut m = enc.encode_descriptor(&full, &help, None, ty)?;
        for (i, shard) in e.shards.iter().enumerate() {
            if let Some(c) = shard.iter().find(|c| c.name == name) {
                let labels = [("shard", i.to_string())];
                let v = if gauge {
                    Value::Level(c.value)
                } else {
                    Value::Total(c.value)
                };
                value(m.encode_family(&labels)?, v)?;
            }
        }
    }
    let l = &e.latency;
    enc.encode_descriptor(
        "engine_latency_seconds",
        "Time from a packet's arrival to its forward in the engine, merged over shards.",
        None,
        MetricType::Histogram,
    )?
    .encode_histogram::<NoLabelSet>(l.sum_s, l.count, &l.per_bucket, None)
}

/// The engine's name as a Prometheus metric name part (`[a-zA-Z0-9_]`), or None for a name
/// that would need rewriting to fit: a silently renamed series is worse than a missing one.
fn metric_name(name: &str) -> Option<&str> {
    let ok = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.ends_with("_total");
    ok.then_some(name)
}

fn counter(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    v: u64,
) -> Result<(), std::fmt::Error> {
    let m = enc.encode_descriptor(name, help, None, MetricType::Counter)?;
    value(m, Value::Total(v))
}

fn gauge(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    v: Value,
) -> Result<(), std::fmt::Error> {
    let m = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    value(m, v)
}

/// One sample: a running total, a whole level, or a level in seconds.
#[derive(Debug, Clone, Copy)]
enum Value {
    Total(u64),
    Level(u64),
    Real(f64),
}

fn value(mut m: MetricEncoder<'_>, v: Value) -> Result<(), std::fmt::Error> {
    match v {
        Value::Total(n) => m.encode_counter::<NoLabelSet, _, u64>(&n, None),
        Value::Level(n) => m.encode_gauge(&n),
        Value::Real(x) => m.encode_gauge(&x),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::latency;

    fn engine() -> EngineStats {
        let shard = |rx: u64, sessions: u64| {
            [("rx_packets", rx), ("sessions", sessions), ("drop_auth", 1)]
                .map(|(n, v)| Counter {
                    name: n.into(),
                    value: v,
                })
                .to_vec()
        };
        let mut h = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        h.record_n(1_500, 4).unwrap();
        EngineStats {
            shards: vec![shard(10, 2), shard(20, 3)],
            latency: latency::buckets(Some(&h)),
        }
    }

    fn scrape(engine: Option<EngineStats>) -> String {
        let mut stats = CoreStats {
            attempts: 7,
            answered: 3,
            active: 1,
            malformed: 2,
            ..CoreStats::default()
        };
        stats.failed.insert(488, 2);
        stats.failed.insert(404, 1);
        render(Scrape {
            stats,
            engine,
            uptime_s: 1.5,
        })
        .unwrap()
    }

    fn lines(text: &str) -> Vec<&str> {
        text.lines().filter(|l| !l.starts_with('#')).collect()
    }

    #[test]
    fn signaling_counters_are_named_as_documented() {
        let text = scrape(None);
        let l = lines(&text);
        for want in [
            "ferry_calls_attempted_total 7",
            "ferry_calls_answered_total 3",
            "ferry_calls_failed_total{status=\"404\"} 1",
            "ferry_calls_failed_total{status=\"488\"} 2",
            "ferry_calls_active 1",
            "ferry_sip_malformed_total 2",
            "ferry_engine_connected 0",
            "ferry_build_info{version=\"0.1.0\"} 1",
        ] {
            let want = want.replace("0.1.0", env!("CARGO_PKG_VERSION"));
            assert!(l.contains(&want.as_str()), "missing {want:?} in:\n{text}");
        }
        assert!(
            text.contains("# TYPE ferry_calls_attempted_total counter"),
            "{text}"
        );
        assert!(
            !text.contains("ferry_engine_rx"),
            "no engine, no engine series"
        );
        assert!(
            !text.contains("ferry_trunk_up"),
            "keepalives off: no trunk_up"
        );
    }

    #[test]
    fn engine_counters_per_shard_and_sessions_as_a_gauge() {
        let text = scrape(Some(engine()));
        let l = lines(&text);
        for want in [
            "ferry_engine_connected 1",
            "ferry_engine_rx_packets_total{shard=\"0\"} 10",
            "ferry_engine_rx_packets_total{shard=\"1\"} 20",
            "ferry_engine_drop_auth_total{shard=\"1\"} 1",
            "ferry_engine_sessions{shard=\"0\"} 2",
            "ferry_engine_latency_seconds_bucket{le=\"1e-06\"} 0",
            "ferry_engine_latency_seconds_bucket{le=\"2e-06\"} 4",
            "ferry_engine_latency_seconds_bucket{le=\"0.1\"} 4",
            "ferry_engine_latency_seconds_bucket{le=\"+Inf\"} 4",
            "ferry_engine_latency_seconds_count 4",
        ] {
            assert!(l.contains(&want), "missing {want:?} in:\n{text}");
        }
        assert!(
            text.contains("# TYPE ferry_engine_sessions gauge"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE ferry_engine_latency_seconds histogram"),
            "{text}"
        );
        let sum = l
            .iter()
            .find_map(|l| l.strip_prefix("ferry_engine_latency_seconds_sum "))
            .unwrap();
        assert_eq!(sum.parse::<f64>().unwrap(), 6e-6);
    }

    #[test]
    fn engine_names_that_are_not_metric_names_are_left_out() {
        let mut e = engine();
        e.shards[0].push(Counter {
            name: "bad name{".into(),
            value: 1,
        });
        let text = scrape(Some(e));
        assert!(!text.contains("bad"), "{text}");
        assert!(text.contains("ferry_engine_rx_packets_total"));
    }
}
