//! Each call's DTLS handshake runs in a task of its own, so the ECDSA and ECDH work of many
//! handshakes spreads over every core instead of queueing behind the single call core.
//!
//! The task owns the sans-IO [`DtlsSession`]: it is fed datagrams, runs its timers, and hands
//! back to the core what to send and what happened, in one [`Input::Dtls`] per step. The core
//! installs keys *before* it sends the datagrams of the same step, so the engine can decrypt
//! the browser's first SRTP packet, which follows our last flight at once.

use std::net::SocketAddr;
use std::time::Instant;

use tokio::sync::mpsc;

use super::{CallId, Input};
use crate::dtls::{DtlsEvent, DtlsSession};

/// What the core sends a DTLS task.
#[derive(Debug)]
pub enum DtlsIn {
    /// A record from the browser.
    Datagram(Vec<u8>),
    /// Where to send (ICE verified it); a client-role handshake starts once it is known.
    Peer(SocketAddr),
}

/// One step's output for the core.
#[derive(Debug)]
pub struct DtlsOut {
    /// The call.
    pub call: CallId,
    /// Where the datagrams go.
    pub to: Option<SocketAddr>,
    /// Datagrams to send, in order.
    pub transmit: Vec<Vec<u8>>,
    /// What happened (connected with keys, failed).
    pub events: Vec<DtlsEvent>,
}

/// Starts the task; dropping the returned sender ends it.
pub fn spawn(
    call: CallId,
    mut dtls: DtlsSession,
    core: mpsc::Sender<Input>,
) -> mpsc::UnboundedSender<DtlsIn> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut peer: Option<SocketAddr> = None;
        loop {
            let deadline = dtls.poll_timeout().map(tokio::time::Instant::from_std);
            let input = tokio::select! {
                i = rx.recv() => match i {
                    Some(i) => Some(i),
                    None => break,
                },
                _ = sleep_until(deadline) => None,
            };
            let now = Instant::now();
            match input {
                Some(DtlsIn::Datagram(d)) => {
                    if let Err(e) = dtls.handle_datagram(now, &d) {
                        tracing::debug!(?call, "dtls record: {e}");
                    }
                }
                Some(DtlsIn::Peer(a)) => peer = Some(a),
                None => dtls.handle_timeout(now),
            }
            // Nothing leaves before we know where the browser is.
            let mut transmit = Vec::new();
            if peer.is_some() {
                while let Some(d) = dtls.poll_transmit() {
                    transmit.push(d);
                }
            }
            let mut events = Vec::new();
            while let Some(ev) = dtls.poll_event() {
                events.push(ev);
            }
            if transmit.is_empty() && events.is_empty() {
                continue;
            }
            let done = events
                .iter()
                .any(|e| matches!(e, DtlsEvent::Failed(_) | DtlsEvent::Closed));
            let out = DtlsOut {
                call,
                to: peer,
                transmit,
                events,
            };
            if core.send(Input::Dtls(out)).await.is_err() || done {
                break;
            }
        }
    });
    tx
}

async fn sleep_until(t: Option<tokio::time::Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
