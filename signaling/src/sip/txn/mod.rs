//! RFC 3261 §17 transactions (with the RFC 6026 "Accepted" states) as sans-IO state machines.
//!
//! Each machine is created with the request, whether the transport is reliable (TCP, TLS,
//! WebSocket: no retransmissions, Timers D/I/J/K zero, §17.1.1.2), [`Timers`] and the current
//! time. The caller feeds it messages and time (`handle_message`, `send_response`,
//! `handle_timeout`) and drains `poll_transmit` (messages to put on the wire), `poll_event`
//! (what the TU must know) and `poll_timeout` (when to call `handle_timeout` next).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::message::{Message, Request, Response};

mod client;
mod client_inv;
mod key;
mod server;
mod server_inv;
mod table;
#[cfg(test)]
mod tests;

pub use client::{ClientNonInvite, ClientNonInviteState};
pub use client_inv::{ClientInvite, ClientInviteState};
pub use key::TxnKey;
pub use server::{ServerNonInvite, ServerNonInviteState};
pub use server_inv::{ServerInvite, ServerInviteState};
pub use table::{Routed, Transactions, Txn};

/// Timer base values (RFC 3261 §17.1.1.1, Table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate, 500 ms.
    pub t1: Duration,
    /// Longest non-INVITE retransmit interval, 4 s.
    pub t2: Duration,
    /// Longest time a message stays in the network, 5 s.
    pub t4: Duration,
    /// Timer D on unreliable transports, at least 32 s (§17.1.1.2).
    pub d: Duration,
    /// How long a server INVITE waits for the TU before sending 100 Trying, 200 ms (§17.2.1).
    pub trying: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            d: Duration::from_secs(32),
            trying: Duration::from_millis(200),
        }
    }
}

impl Timers {
    /// 64*T1: Timers B, F, H, J, L, M.
    pub fn timeout(&self) -> Duration {
        self.t1 * 64
    }
}

/// What a transaction tells its TU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnEvent {
    /// A response for the TU (client transactions; retransmitted 2xx too, so the TU re-ACKs).
    Response(Response),
    /// A request for the TU: an ACK matching an accepted server INVITE (RFC 6026 §8.7).
    Request(Request),
    /// Timer B, F or H fired: no (final) response, or no ACK.
    Timeout,
    /// The transport reported a failure (§17.1.1.2, §17.2.1).
    TransportError,
    /// The transaction is over; drop it.
    Terminated,
}

/// Queued output and the terminated flag, shared by the four machines.
#[derive(Debug, Default)]
struct Outbox {
    transmit: VecDeque<Message>,
    events: VecDeque<TxnEvent>,
    terminated: bool,
}

impl Outbox {
    fn send(&mut self, m: impl Into<Message>) {
        self.transmit.push_back(m.into());
    }

    fn emit(&mut self, e: TxnEvent) {
        self.events.push_back(e);
    }

    fn terminate(&mut self) {
        if !self.terminated {
            self.terminated = true;
            self.events.push_back(TxnEvent::Terminated);
        }
    }
}

/// Whether an optional deadline has passed.
fn due(t: Option<Instant>, now: Instant) -> bool {
    t.is_some_and(|t| t <= now)
}

/// The earliest of some optional deadlines.
fn earliest(ts: &[Option<Instant>]) -> Option<Instant> {
    ts.iter().flatten().min().copied()
}

/// The methods every machine has: output draining and termination.
macro_rules! outbox_api {
    () => {
        /// The next message to put on the wire.
        pub fn poll_transmit(&mut self) -> Option<Message> {
            self.out.transmit.pop_front()
        }

        /// The next event for the TU.
        pub fn poll_event(&mut self) -> Option<TxnEvent> {
            self.out.events.pop_front()
        }

        /// Whether nothing is queued for the wire or the TU.
        pub fn is_drained(&self) -> bool {
            self.out.transmit.is_empty() && self.out.events.is_empty()
        }

        /// Whether the transaction reached Terminated.
        pub fn is_terminated(&self) -> bool {
            self.out.terminated
        }

        /// The transport failed: report it and terminate (§17.1.1.2, §17.1.2.2, §17.2.1).
        pub fn handle_transport_error(&mut self) {
            if !self.out.terminated {
                self.out.emit(TxnEvent::TransportError);
                self.out.terminate();
            }
        }
    };
}
use outbox_api;
