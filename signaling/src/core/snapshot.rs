//! What the core tells the admin API: counters and one line per call, taken in one step of the
//! core so they agree with each other.

use std::time::Instant;

use serde::Serialize;

use super::call::{Dir, Phase};
use super::{Core, CoreStats};

/// One call as the admin API lists it.
#[derive(Debug, Clone, Serialize)]
pub struct CallSummary {
    /// Ferry's id for the call.
    pub id: u64,
    /// `outbound` (the browser called) or `inbound` (the trunk called a browser).
    pub direction: &'static str,
    /// `setup` or `answered`.
    pub phase: &'static str,
    /// The browser leg's Call-ID.
    pub browser_call_id: String,
    /// The trunk leg's Call-ID (none for echo).
    pub trunk_call_id: Option<String>,
    /// The engine session (hex), once allocated.
    pub session: Option<String>,
    /// Whether SRTP keys are in the engine.
    pub keyed: bool,
    /// Seconds since the call began.
    pub age_s: f64,
}

/// Counters and calls at one instant.
#[derive(Debug, Clone, Serialize)]
pub struct Snapshot {
    /// Counters.
    pub stats: CoreStats,
    /// Every call.
    pub calls: Vec<CallSummary>,
}

impl Core {
    /// The current counters and calls.
    pub fn snapshot(&self, now: Instant) -> Snapshot {
        let mut calls: Vec<CallSummary> = self
            .calls
            .values()
            .map(|c| CallSummary {
                id: c.id.0,
                direction: match c.dir {
                    Dir::Outbound => "outbound",
                    Dir::Inbound => "inbound",
                },
                phase: match c.phase {
                    Phase::Setup => "setup",
                    Phase::Answered => "answered",
                },
                browser_call_id: c.browser.dialog.call_id.clone(),
                trunk_call_id: c.trunk.as_ref().map(|t| t.dialog.call_id.clone()),
                session: c.media.session.map(|s| s.to_string()),
                keyed: c.media.keyed,
                age_s: now.saturating_duration_since(c.started).as_secs_f64(),
            })
            .collect();
        calls.sort_by_key(|c| c.id);
        let mut stats = self.stats.clone();
        stats.active = self.calls.len();
        Snapshot { stats, calls }
    }
}
