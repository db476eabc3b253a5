//! Per-call media quality for `/api/calls`: the engine's per-leg RTCP figures joined to the
//! core's calls by session id, and an estimated MOS from a simplified ITU-T G.107 E-model.
//!
//! Leg A of a session is the browser, leg B the trunk (how the core installs them). Each leg's
//! figures are what that leg's peer reports about the media Ferry sends it, and the round trip
//! between Ferry and that peer. The E-model here is the common simplification:
//!
//! - effective latency `d = RTT/2 + 2 * jitter + 10 ms` (one way, with a jitter buffer and
//!   codec delay folded in);
//! - delay impairment `Id = 0.024 d + 0.11 (d - 177.3) H(d - 177.3)` (Cole and Rosenbluth's fit
//!   of G.107's Id);
//! - effective equipment impairment `Ie-eff = Ie + (95 - Ie) Ppl / (Ppl / BurstR + Bpl)`
//!   (G.107 §7.2), with G.711's `Ie = 0` and `Bpl = 25.1` with packet-loss concealment
//!   (G.113 Appendix I), random loss (`BurstR = 1`);
//! - `R = 93.2 - Id - Ie-eff`, and MOS from R (G.107 Annex B).
//!
//! A leg without an RTT yet (no SR echoed) is rated with RTT 0; the call's MOS is the worse leg.

use ferry_control::{LegQuality, SessionInfo};
use serde::Serialize;

use crate::core::CallSummary;

/// R for the default G.107 parameters, no impairment.
const R0: f64 = 93.2;
/// G.711 equipment impairment (G.113 Appendix I).
const IE_G711: f64 = 0.0;
/// G.711 packet-loss robustness with PLC (G.113 Appendix I).
const BPL_G711: f64 = 25.1;

/// The transmission rating R for one direction.
pub fn r_factor(loss_pct: f64, jitter_ms: f64, rtt_ms: f64) -> f64 {
    let d = rtt_ms / 2.0 + 2.0 * jitter_ms + 10.0;
    // Cole and Rosenbluth's approximation of G.107's delay impairment.
    let id = 0.024 * d + if d > 177.3 { 0.11 * (d - 177.3) } else { 0.0 };
    let ppl = loss_pct.clamp(0.0, 100.0);
    // G.107 §7.2: Ie-eff with BurstR = 1.
    let ie_eff = IE_G711 + (95.0 - IE_G711) * ppl / (ppl + BPL_G711);
    R0 - id - ie_eff
}

/// Estimated MOS (conversational quality, 1 to 4.5) from R (G.107 Annex B).
pub fn mos_from_r(r: f64) -> f64 {
    if r <= 0.0 {
        return 1.0;
    }
    if r >= 100.0 {
        return 4.5;
    }
    let mos = 1.0 + 0.035 * r + 7e-6 * r * (r - 60.0) * (100.0 - r);
    mos.clamp(1.0, 4.5)
}

/// Estimated MOS from loss (percent), jitter and RTT (milliseconds).
pub fn mos(loss_pct: f64, jitter_ms: f64, rtt_ms: f64) -> f64 {
    mos_from_r(r_factor(loss_pct, jitter_ms, rtt_ms))
}

/// One leg's figures as `/api/calls` shows them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LegReport {
    /// Fraction lost in the latest report, in percent (RFC 3550: 1/256 units on the wire).
    pub loss_pct: f64,
    /// Cumulative packets lost.
    pub cumulative_lost: i32,
    /// Interarrival jitter, milliseconds.
    pub jitter_ms: f64,
    /// Round trip between Ferry and the peer, milliseconds, once known.
    pub rtt_ms: Option<f64>,
    /// Report blocks the engine has taken in.
    pub reports: u32,
    /// Milliseconds since the latest.
    pub last_report_ms_ago: u64,
    /// Estimated MOS of what this peer hears.
    pub mos: f64,
}

impl From<&LegQuality> for LegReport {
    fn from(q: &LegQuality) -> Self {
        let loss_pct = f64::from(q.fraction_lost) * 100.0 / 256.0;
        let jitter_ms = f64::from(q.jitter_us) / 1000.0;
        let rtt_ms = q.rtt_us.map(|us| f64::from(us) / 1000.0);
        Self {
            loss_pct: round2(loss_pct),
            cumulative_lost: q.cumulative_lost,
            jitter_ms: round2(jitter_ms),
            rtt_ms: rtt_ms.map(round2),
            reports: q.reports,
            last_report_ms_ago: q.last_report_ms_ago,
            mos: round2(mos(loss_pct, jitter_ms, rtt_ms.unwrap_or(0.0))),
        }
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// A call's quality: per leg, and the worse leg's MOS.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallQuality {
    /// What the browser reports (the media Ferry sends it).
    pub browser: Option<LegReport>,
    /// What the trunk reports.
    pub trunk: Option<LegReport>,
    /// The lower of the two legs' MOS, once either has reported.
    pub mos: Option<f64>,
}

impl CallQuality {
    /// From a session's per-leg figures (leg A browser, leg B trunk).
    pub fn new(quality: &[Option<LegQuality>; 2]) -> Self {
        let [browser, trunk] = quality.each_ref().map(|q| q.as_ref().map(LegReport::from));
        let mos = [&browser, &trunk]
            .into_iter()
            .flatten()
            .map(|l| l.mos)
            .reduce(f64::min);
        Self {
            browser,
            trunk,
            mos,
        }
    }
}

/// One call in `/api/calls`: the core's summary and, when the engine listed its session, its
/// quality.
#[derive(Debug, Clone, Serialize)]
pub struct CallView {
    /// The core's line for the call.
    #[serde(flatten)]
    pub call: CallSummary,
    /// Media quality; `null` without a session or an engine answer.
    pub quality: Option<CallQuality>,
}

/// Joins the core's calls to the engine's sessions by session id (hex, as the core shows it).
pub fn join(calls: Vec<CallSummary>, sessions: &[SessionInfo]) -> Vec<CallView> {
    let by_id: std::collections::HashMap<String, &SessionInfo> = sessions
        .iter()
        .map(|s| (s.session.to_string(), s))
        .collect();
    calls
        .into_iter()
        .map(|call| {
            let quality = call
                .session
                .as_ref()
                .and_then(|id| by_id.get(id))
                .map(|s| CallQuality::new(&s.quality));
            CallView { call, quality }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_control::{LegAddrs, SessionId};

    fn near(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn known_points() {
        // G.107 Annex B: the default R of 93.2 is a MOS of 4.41.
        assert!(near(mos_from_r(93.2), 4.41, 0.005), "{}", mos_from_r(93.2));
        assert_eq!(mos_from_r(0.0), 1.0);
        assert_eq!(mos_from_r(-5.0), 1.0);
        assert_eq!(mos_from_r(120.0), 4.5);
        assert!(near(mos_from_r(50.0), 2.58, 0.01), "{}", mos_from_r(50.0));
        // A clean call: only the 10 ms of codec delay.
        let clean = mos(0.0, 0.0, 0.0);
        assert!(near(clean, 4.40, 0.01), "{clean}");
        // 5 % random loss on G.711 with PLC: Ie-eff = 95 * 5 / 30.1, about 15.8.
        let lossy = mos(5.0, 0.0, 0.0);
        assert!(near(r_factor(5.0, 0.0, 0.0), 77.2, 0.1));
        assert!(lossy < clean - 0.4 && lossy > 3.7, "{lossy}");
        // Delay past 177.3 ms one way costs more per ms than below it.
        let slow = mos(0.0, 20.0, 400.0);
        assert!(slow < mos(0.0, 20.0, 200.0) && slow < 4.2, "{slow}");
        // More of anything never rates better.
        assert!(mos(1.0, 10.0, 100.0) < mos(0.5, 10.0, 100.0));
        assert!(mos(1.0, 30.0, 100.0) < mos(1.0, 10.0, 100.0));
    }

    fn summary(id: u64, session: Option<SessionId>) -> CallSummary {
        CallSummary {
            id,
            direction: "outbound",
            phase: "answered",
            browser_call_id: format!("b{id}"),
            trunk_call_id: None,
            session: session.map(|s| s.to_string()),
            keyed: true,
            age_s: 1.0,
        }
    }

    fn session(id: u64, quality: [Option<LegQuality>; 2]) -> SessionInfo {
        let any = LegAddrs {
            rtp: ([127, 0, 0, 1], 1).into(),
            rtcp: None,
        };
        SessionInfo {
            session: SessionId(id),
            shard: 0,
            legs: [any; 2],
            peers: [None; 2],
            packets: 0,
            idle_ms: 0,
            quality,
        }
    }

    #[test]
    fn calls_join_sessions_by_id() {
        let lossy = LegQuality {
            fraction_lost: 13, // 5.08 %
            cumulative_lost: 40,
            jitter_us: 12_500,
            rtt_us: Some(80_000),
            reports: 3,
            last_report_ms_ago: 1_200,
        };
        let clean = LegQuality {
            fraction_lost: 0,
            rtt_us: None,
            jitter_us: 0,
            ..lossy
        };
        let calls = vec![
            summary(1, Some(SessionId(0xab))),
            summary(2, None),
            summary(3, Some(SessionId(0xcd))),
        ];
        let sessions = [
            session(0xab, [Some(lossy), Some(clean)]),
            session(0xcd, [None; 2]),
        ];
        let views = join(calls, &sessions);
        let q = views[0].quality.as_ref().expect("joined");
        let b = q.browser.as_ref().unwrap();
        assert_eq!(
            (b.loss_pct, b.jitter_ms, b.rtt_ms),
            (5.08, 12.5, Some(80.0))
        );
        let t = q.trunk.as_ref().unwrap();
        assert_eq!((t.rtt_ms, t.mos), (None, 4.4));
        assert_eq!(q.mos, Some(b.mos));
        assert!(b.mos < t.mos);
        assert!(views[1].quality.is_none(), "no session");
        let q3 = views[2].quality.as_ref().unwrap();
        assert_eq!((&q3.browser, q3.mos), (&None, None), "no reports yet");
        let json = serde_json::to_value(&views[0]).unwrap();
        assert_eq!(json["id"], 1, "the summary's fields stay at the top level");
        assert_eq!(json["quality"]["browser"]["cumulative_lost"], 40);
    }
}
