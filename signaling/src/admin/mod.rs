//! The operations surface: an HTTP admin API and Prometheus metrics, on the same listeners as
//! the browser-facing routes.
//!
//! - `GET /api/status`: version, uptime, engine and trunk state, the core's counters (attempts,
//!   answers, failures by SIP status, ...) and the call setup rate over the last minute.
//! - `GET /api/calls`: every call the core holds, one object each, with its media quality.
//! - `GET /metrics`: Prometheus text: signaling's counters, the engine's per-shard counters and
//!   its latency histogram.
//!
//! All three need `Authorization: Bearer <admin.token>` (`/metrics` not with
//! `admin.metrics_open`). With no token configured the API answers 404: an appliance that was
//! never given a secret exposes nothing. The data come from the call core's
//! [`crate::core::Input::Snapshot`] and the engine's `StatsQuery`, one of each per request and
//! under a timeout, so the admin API can slow the core by one snapshot per request at most.
//!
//! Each call in `/api/calls` carries `quality`: per leg (browser, trunk) the loss, jitter and
//! RTT the engine derives from relayed RTCP, and an estimated MOS ([`quality`]); the engine's
//! session list is fetched with the snapshot, under the same timeout.

mod api;
mod auth;
mod config;
mod latency;
mod metrics;
pub mod quality;
mod rate;

use axum::Router;
use axum::routing::get;

pub use api::{AdminError, AdminState, DATA_TIMEOUT};
pub use auth::{AuthError, Token};
pub use config::{AdminConfig, AdminConfigError, MIN_TOKEN_LEN};
pub use latency::{BOUNDS_NS, Buckets};
pub use rate::{Rate, SetupRate};

/// The admin routes, to be merged into the HTTP router.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/api/status", get(api::status))
        .route("/api/calls", get(api::calls))
        .route("/metrics", get(api::metrics))
        .with_state(state)
}
