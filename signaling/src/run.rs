//! The signaling process: wires the listeners, the trunk socket and the engine to the core.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::config::Config;
use crate::core::{Core, Input, TrunkSocket};
use crate::dtls::Certificate;
use crate::engine::{EngineEvent, EngineHandle};
use crate::{admin, http};

/// Inputs queued for the core before transports feel backpressure.
const CORE_QUEUE: usize = 16_384;
/// How long to wait for the engine's socket at start (the engine may be starting too).
const ENGINE_WAIT: Duration = Duration::from_secs(15);

/// Runs signaling until a listener fails.
pub async fn run(cfg: Config) -> Result<(), String> {
    // rustls panics on first use when two providers are compiled in and none is chosen.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cfg = Arc::new(cfg);
    std::fs::create_dir_all(&cfg.state_dir)
        .map_err(|e| format!("state_dir {}: {e}", cfg.state_dir.display()))?;
    let cert = Arc::new(
        Certificate::load_or_create(&cfg.state_dir).map_err(|e| format!("certificate: {e}"))?,
    );
    tracing::info!("dtls certificate sha-256 {}", cert.fingerprint_sha256());
    let (engine, mut events) = connect_engine(&cfg.engine_socket).await?;
    let sessions = engine
        .list()
        .await
        .map_err(|e| format!("engine list: {e}"))?;
    let (tx, rx) = mpsc::channel(CORE_QUEUE);
    let trunk = TrunkSocket::bind(&cfg, tx.clone()).await?;
    let ev_tx = tx.clone();
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            let closed = matches!(ev, EngineEvent::Closed(_));
            if ev_tx.send(Input::Engine(ev)).await.is_err() || closed {
                break;
            }
        }
    });
    let product = Arc::new(crate::product::Product::open(
        cfg.services.clone(),
        cfg.anonymous.clone(),
        &cfg.state_dir,
    )?);
    if product.restricted() {
        eprintln!(
            "ferry signal: anonymous callers may reach only the services: {}",
            product
                .services()
                .map(|(n, _)| n)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let token = cfg.admin.load_token().map_err(|e| e.to_string())?;
    let admin_state =
        admin::AdminState::new(tx.clone(), engine.clone(), token, cfg.admin.metrics_open);
    eprintln!("ferry signal: {}", admin_state.describe());
    let app = http::router(http::HttpState::new(
        tx.clone(),
        cfg.http.allowed_origins.clone(),
        cfg.http.max_message,
    ))
    .merge(admin::router(admin_state))
    .merge(crate::pages::router(product.clone()));
    let mut servers = tokio::task::JoinSet::new();
    if let Some(addr) = cfg.http.listen {
        let l = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("http.listen {addr}: {e}"))?;
        eprintln!("ferry signal: http://{addr}/ (SIP over WebSocket on ws://{addr}/sip)");
        servers.spawn(http::serve_plain(l, app.clone()));
    }
    if let Some(addr) = cfg.http.tls_listen {
        let tls = tls_config(&cfg, &cert)?;
        let l = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("http.tls_listen {addr}: {e}"))?;
        eprintln!("ferry signal: https://{addr}/ (wss://{addr}/sip)");
        servers.spawn(http::serve_tls(l, tls, app.clone()));
    }
    let mut core = Core::new(cfg.clone(), engine, cert, trunk, tx.clone(), product);
    if !sessions.is_empty() {
        let back = core.restore(&sessions, std::time::Instant::now());
        tracing::info!(
            "engine carries {} sessions from an earlier signaling process; {back} calls restored \
             (the rest go when idle)",
            sessions.len()
        );
    }
    let core_task = tokio::spawn(core.run(rx));
    drop(tx);
    tokio::select! {
        r = servers.join_next() => match r {
            Some(Ok(Err(e))) => Err(format!("http: {e}")),
            _ => Err("http server ended".into()),
        },
        _ = core_task => Err("call core ended (engine gone?)".into()),
    }
}

async fn connect_engine(
    path: &Path,
) -> Result<(EngineHandle, mpsc::UnboundedReceiver<EngineEvent>), String> {
    let deadline = tokio::time::Instant::now() + ENGINE_WAIT;
    loop {
        match EngineHandle::connect(path).await {
            Ok(x) => return Ok(x),
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(format!("engine at {}: {e}", path.display()));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

fn tls_config(cfg: &Config, cert: &Certificate) -> Result<Arc<rustls::ServerConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let (cert_pem, key_pem) = match (&cfg.http.cert, &cfg.http.key) {
        (Some(c), Some(k)) => (
            std::fs::read_to_string(c).map_err(|e| format!("http.cert {}: {e}", c.display()))?,
            std::fs::read_to_string(k).map_err(|e| format!("http.key {}: {e}", k.display()))?,
        ),
        // No certificate configured: the self-signed one Ferry generated on first start.
        _ => (cert.cert_pem(), cert.key_pem()),
    };
    let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("http.cert: {e}"))?;
    let key =
        PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| format!("http.key: {e}"))?;
    let mut tls = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("tls: {e}"))?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(tls))
}
