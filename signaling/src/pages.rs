//! The click-to-call page's HTTP side: the page and its scripts, the list of services, CAPTCHA
//! challenges and call-link checks (the contract is in `signaling/assets/README.md`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::Router;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;

use crate::http::PeerAddr;
use crate::links::LinkError;
use crate::product::Product;

/// Challenges one address may fetch per window: enough for a person, not for a farm.
const CHALLENGES_PER_WINDOW: u32 = 20;
const WINDOW: Duration = Duration::from_secs(60);
/// Addresses remembered by the limiter before it starts over (bounded memory under a flood).
const MAX_TRACKED: usize = 50_000;

const POW_JS: &str = include_str!("../assets/pow.js");
const CALL_HTML: &str = include_str!("../assets/call.html");
const CALL_JS: &str = include_str!("../assets/call.js");
const CALL_CSS: &str = include_str!("../assets/call.css");

#[derive(Debug, Clone)]
struct PageState {
    product: Arc<Product>,
    limiter: Arc<Mutex<HashMap<IpAddr, (Instant, u32)>>>,
}

/// The page routes.
pub fn router(product: Arc<Product>) -> Router {
    let st = PageState {
        product,
        limiter: Arc::new(Mutex::new(HashMap::new())),
    };
    Router::new()
        .route("/call", get(call_page))
        .route("/call.js", get(|| js(CALL_JS)))
        .route("/call.css", get(|| asset("text/css", CALL_CSS)))
        .route("/pow.js", get(|| js(POW_JS)))
        .route("/api/services", get(services))
        .route("/api/challenge", get(challenge))
        .route("/api/link", get(link))
        .with_state(st)
}

async fn js(body: &'static str) -> Response {
    asset("text/javascript", body).await
}

async fn asset(ty: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, ty),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// The call page. Scripts come from files (no inline script), so a strict policy fits; the
/// page may be framed by the sites that embed the button.
async fn call_page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; \
                 media-src 'self' blob: mediastream:",
            ),
        ],
        CALL_HTML,
    )
        .into_response()
}

async fn services(State(st): State<PageState>) -> Response {
    let list: Vec<_> = st
        .product
        .services()
        .map(|(name, s)| json!({"name": name, "label": s.label.clone().unwrap_or_else(|| name.to_string())}))
        .collect();
    Json(json!({ "services": list })).into_response()
}

fn allow(st: &PageState, ip: IpAddr, now: Instant) -> bool {
    let mut m = st.limiter.lock().unwrap_or_else(|p| p.into_inner());
    if m.len() >= MAX_TRACKED {
        m.retain(|_, (t, _)| now.duration_since(*t) < WINDOW);
        if m.len() >= MAX_TRACKED {
            m.clear();
        }
    }
    let e = m.entry(ip).or_insert((now, 0));
    if now.duration_since(e.0) >= WINDOW {
        *e = (now, 0);
    }
    e.1 += 1;
    e.1 <= CHALLENGES_PER_WINDOW
}

async fn challenge(
    State(st): State<PageState>,
    ConnectInfo(PeerAddr(peer)): ConnectInfo<PeerAddr>,
) -> Response {
    if !allow(&st, peer.ip(), Instant::now()) {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "60")],
            "too many challenges from this address\n",
        )
            .into_response();
    }
    let c = st.product.challenge();
    Json(json!({"id": c.id, "salt": c.salt, "bits": c.bits, "expires": c.expires})).into_response()
}

#[derive(Debug, Deserialize)]
struct LinkQuery {
    token: String,
}

async fn link(State(st): State<PageState>, Query(q): Query<LinkQuery>) -> Response {
    match st.product.check_link(&q.token) {
        Ok(c) => Json(json!({
            "ok": true,
            "dest": c.dest,
            "label": st.product.label(&c.dest),
            "name": c.name,
            "one_time": c.one_time,
            "not_before": c.not_before,
            "not_after": c.not_after,
        }))
        .into_response(),
        Err(e) => {
            let body = match e {
                LinkError::Expired { ended } => {
                    json!({"ok": false, "error": "expired", "ended": ended})
                }
                LinkError::NotYetActive { starts } => {
                    json!({"ok": false, "error": "not_yet_active", "starts": starts})
                }
                LinkError::AlreadyUsed => json!({"ok": false, "error": "already_used"}),
                _ => json!({"ok": false, "error": "invalid"}),
            };
            let status = match e {
                LinkError::Expired { .. } | LinkError::AlreadyUsed => StatusCode::GONE,
                LinkError::NotYetActive { .. } => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_REQUEST,
            };
            (status, Json(body)).into_response()
        }
    }
}
