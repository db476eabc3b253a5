//! The handlers: `/api/status`, `/api/calls` and `/metrics`, and how they get their data.
//!
//! Each request that passed the token check asks the core for one [`Snapshot`] (and, for
//! `/metrics`, the engine for one stats reply, at the same time), each under [`DATA_TIMEOUT`]:
//! a busy core or a stuck engine makes the request fail with 503, it never makes it hang.
//! At most [`IN_FLIGHT`] such requests run at once, so an open `/metrics` hammered by a
//! misconfigured scraper cannot fill the core's queue with snapshot requests.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use ferry_control::{Message, SessionInfo};
use serde::Serialize;
use tokio::sync::{Semaphore, SemaphorePermit, mpsc, oneshot};

use super::auth::{self, AuthError, Token};
use super::latency;
use super::metrics::{self, EngineStats, Scrape};
use super::quality;
use super::rate::{Rate, SetupRate};
use crate::core::{CoreStats, Input, Snapshot};
use crate::engine::EngineHandle;

/// How long a request waits for the core's snapshot and for the engine's stats.
pub const DATA_TIMEOUT: Duration = Duration::from_secs(2);
/// Admin requests that may wait on the core or the engine at once.
pub const IN_FLIGHT: usize = 4;

/// What the admin handlers share.
#[derive(Debug, Clone)]
pub struct AdminState {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    core: mpsc::Sender<Input>,
    engine: EngineHandle,
    token: Option<Token>,
    metrics_open: bool,
    started: Instant,
    rate: Mutex<SetupRate>,
    in_flight: Semaphore,
}

impl AdminState {
    /// State for the admin routes: the core's input channel, the engine, the token (None: the
    /// API is disabled) and whether `/metrics` needs no token.
    pub fn new(
        core: mpsc::Sender<Input>,
        engine: EngineHandle,
        token: Option<Token>,
        metrics_open: bool,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                core,
                engine,
                token,
                metrics_open,
                started: Instant::now(),
                rate: Mutex::new(SetupRate::default()),
                in_flight: Semaphore::new(IN_FLIGHT),
            }),
        }
    }

    /// One line for the startup log: what is served and how it is guarded.
    pub fn describe(&self) -> String {
        let i = &self.inner;
        let api = if i.token.is_some() {
            "admin API on /api/status, /api/calls (bearer token)"
        } else {
            "admin API disabled (no admin.token or admin.token_file)"
        };
        let metrics = match (i.metrics_open, i.token.is_some()) {
            (true, _) => "/metrics open (admin.metrics_open)",
            (false, true) => "/metrics with the bearer token",
            (false, false) => "/metrics disabled",
        };
        format!("{api}; {metrics}")
    }

    fn check_api(&self, headers: &HeaderMap) -> Result<(), AdminError> {
        let token = self.inner.token.as_ref().ok_or(AdminError::Disabled)?;
        Ok(auth::check(headers, token)?)
    }

    fn check_metrics(&self, headers: &HeaderMap) -> Result<(), AdminError> {
        if self.inner.metrics_open {
            return Ok(());
        }
        self.check_api(headers)
    }

    /// One of the IN_FLIGHT requests served at once, held for the request; `Busy` when all are
    /// taken.
    fn permit(&self) -> Result<SemaphorePermit<'_>, AdminError> {
        self.inner
            .in_flight
            .try_acquire()
            .map_err(|_| AdminError::Busy)
    }

    async fn snapshot(&self) -> Result<Snapshot, AdminError> {
        let (tx, rx) = oneshot::channel();
        let ask = async {
            self.inner
                .core
                .send(Input::Snapshot(tx))
                .await
                .map_err(|_| AdminError::CoreGone)?;
            rx.await.map_err(|_| AdminError::CoreGone)
        };
        tokio::time::timeout(DATA_TIMEOUT, ask)
            .await
            .map_err(|_| AdminError::CoreTimeout)?
    }

    /// The engine's stats; None when the control channel is down (the scrape still shows
    /// signaling's side, with `ferry_engine_connected 0`).
    async fn engine_stats(&self) -> Result<Option<EngineStats>, AdminError> {
        let engine = &self.inner.engine;
        if !engine.is_connected() {
            return Ok(None);
        }
        let reply = tokio::time::timeout(DATA_TIMEOUT, engine.request(Message::StatsQuery))
            .await
            .map_err(|_| AdminError::EngineTimeout)?;
        match reply {
            Ok(Message::Stats { shards, histogram }) => {
                let hist = latency::decode(&histogram)
                    .map_err(|e| AdminError::EngineReply(e.to_string()))?;
                Ok(Some(EngineStats {
                    shards,
                    latency: latency::buckets(hist.as_ref()),
                }))
            }
            Ok(other) => Err(AdminError::EngineReply(format!(
                "unexpected reply {other:?}"
            ))),
            Err(e) if e.kind() == std::io::ErrorKind::NotConnected => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Err(AdminError::EngineTimeout),
            Err(e) => Err(AdminError::EngineReply(e.to_string())),
        }
    }

    /// The engine's sessions, for their per-leg quality; None when the control channel is
    /// down (the calls are listed without quality).
    async fn sessions(&self) -> Result<Option<Vec<SessionInfo>>, AdminError> {
        let engine = &self.inner.engine;
        if !engine.is_connected() {
            return Ok(None);
        }
        match tokio::time::timeout(DATA_TIMEOUT, engine.list()).await {
            Err(_) => Err(AdminError::EngineTimeout),
            Ok(Ok(list)) => Ok(Some(list)),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotConnected => Ok(None),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::TimedOut => {
                Err(AdminError::EngineTimeout)
            }
            Ok(Err(e)) => Err(AdminError::EngineReply(e.to_string())),
        }
    }

    fn uptime_s(&self) -> f64 {
        self.inner.started.elapsed().as_secs_f64()
    }

    fn setup_rate(&self, attempts: u64) -> Option<Rate> {
        // A poisoned lock only means a panic elsewhere mid-update; the ring is still usable.
        let mut rate = self.inner.rate.lock().unwrap_or_else(|e| e.into_inner());
        rate.observe(Instant::now(), attempts)
    }
}

/// Why an admin request was not answered with data.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No token is configured.
    #[error("admin API disabled: set admin.token or admin.token_file")]
    Disabled,
    /// The token check failed.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// Too many admin requests are waiting already.
    #[error("too many admin requests in flight, retry")]
    Busy,
    /// The call core did not answer in time.
    #[error("call core did not answer within {} s (overloaded?)", DATA_TIMEOUT.as_secs())]
    CoreTimeout,
    /// The call core has stopped.
    #[error("call core is not running")]
    CoreGone,
    /// The engine did not answer in time.
    #[error("engine did not answer within {} s", DATA_TIMEOUT.as_secs())]
    EngineTimeout,
    /// The engine answered something unusable.
    #[error("engine reply: {0}")]
    EngineReply(String),
    /// Encoding the metrics failed (a formatter error; not expected).
    #[error("encoding metrics failed")]
    Encode,
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::Auth(a) => return a.into_response(),
            Self::Disabled => StatusCode::NOT_FOUND,
            Self::Encode => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Busy
            | Self::CoreTimeout
            | Self::CoreGone
            | Self::EngineTimeout
            | Self::EngineReply(_) => StatusCode::SERVICE_UNAVAILABLE,
        };
        if status == StatusCode::SERVICE_UNAVAILABLE {
            tracing::warn!("admin: {self}");
        }
        (status, format!("{self}\n")).into_response()
    }
}

/// `GET /api/status`.
#[derive(Debug, Serialize)]
struct Status {
    version: &'static str,
    uptime_s: f64,
    engine_connected: bool,
    trunk_up: Option<bool>,
    /// Calls that failed, all statuses together.
    failed_total: u64,
    /// Call attempts per second over about the last minute (None on the first request).
    setup_rate: Option<Rate>,
    counters: CoreStats,
}

pub(super) async fn status(
    State(st): State<AdminState>,
    headers: HeaderMap,
) -> Result<Response, AdminError> {
    st.check_api(&headers)?;
    let _permit = st.permit()?;
    let snap = st.snapshot().await?;
    let body = Status {
        version: env!("CARGO_PKG_VERSION"),
        uptime_s: st.uptime_s(),
        engine_connected: st.inner.engine.is_connected(),
        trunk_up: snap.stats.trunk_up,
        failed_total: snap.stats.failed.values().sum(),
        setup_rate: st.setup_rate(snap.stats.attempts),
        counters: snap.stats,
    };
    Ok(no_store(Json(body)))
}

/// `GET /api/calls`: one object per call, as the core lists them, each with its media quality
/// from the engine's session list (joined by session id).
pub(super) async fn calls(
    State(st): State<AdminState>,
    headers: HeaderMap,
) -> Result<Response, AdminError> {
    st.check_api(&headers)?;
    let _permit = st.permit()?;
    let (snap, sessions) = tokio::join!(st.snapshot(), st.sessions());
    let snap = snap?;
    st.setup_rate(snap.stats.attempts);
    let sessions = sessions?.unwrap_or_default();
    Ok(no_store(Json(quality::join(snap.calls, &sessions))))
}

/// `GET /metrics`.
pub(super) async fn metrics(
    State(st): State<AdminState>,
    headers: HeaderMap,
) -> Result<Response, AdminError> {
    st.check_metrics(&headers)?;
    let _permit = st.permit()?;
    let (snap, engine) = tokio::join!(st.snapshot(), st.engine_stats());
    let snap = snap?;
    st.setup_rate(snap.stats.attempts);
    let text = metrics::render(Scrape {
        stats: snap.stats,
        engine: engine?,
        uptime_s: st.uptime_s(),
    })
    .map_err(|_| AdminError::Encode)?;
    Ok(no_store((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(metrics::CONTENT_TYPE),
        )],
        text,
    )))
}

/// Call lists and counters are not for caches between us and the operator.
fn no_store(body: impl IntoResponse) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_404_401_and_503_with_a_reason() {
        for (e, status) in [
            (AdminError::Disabled, StatusCode::NOT_FOUND),
            (
                AdminError::Auth(AuthError::Missing),
                StatusCode::UNAUTHORIZED,
            ),
            (AdminError::Busy, StatusCode::SERVICE_UNAVAILABLE),
            (AdminError::CoreTimeout, StatusCode::SERVICE_UNAVAILABLE),
            (AdminError::EngineTimeout, StatusCode::SERVICE_UNAVAILABLE),
        ] {
            assert_eq!(e.into_response().status(), status);
        }
        assert_eq!(
            AdminError::CoreTimeout.to_string(),
            "call core did not answer within 2 s (overloaded?)"
        );
    }
}
