//! The non-INVITE client transaction (RFC 3261 §17.1.2).

use std::time::{Duration, Instant};

use super::{Outbox, Timers, TxnEvent, due, earliest, outbox_api};
use crate::sip::message::{Message, Request, Response};

/// States of Figure 6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientNonInviteState {
    /// Request sent.
    Trying,
    /// A provisional response arrived.
    Proceeding,
    /// A final response arrived; absorbing retransmissions (Timer K).
    Completed,
    /// Done.
    Terminated,
}

/// A non-INVITE client transaction (BYE, OPTIONS, REGISTER, INFO...).
#[derive(Debug)]
pub struct ClientNonInvite {
    request: Request,
    reliable: bool,
    timers: Timers,
    state: ClientNonInviteState,
    timer_e: Option<Instant>,
    interval_e: Duration,
    timer_f: Option<Instant>,
    timer_k: Option<Instant>,
    out: Outbox,
}

impl ClientNonInvite {
    /// Starts the transaction: the request is the first transmit (§17.1.2.2).
    pub fn new(request: Request, reliable: bool, timers: Timers, now: Instant) -> ClientNonInvite {
        let mut out = Outbox::default();
        out.send(request.clone());
        ClientNonInvite {
            request,
            reliable,
            timers,
            state: ClientNonInviteState::Trying,
            timer_e: (!reliable).then(|| now + timers.t1),
            interval_e: timers.t1,
            timer_f: Some(now + timers.timeout()),
            timer_k: None,
            out,
        }
    }

    /// The current state.
    pub fn state(&self) -> ClientNonInviteState {
        self.state
    }

    /// The request.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// Feeds a message; requests are ignored.
    pub fn handle_message(&mut self, now: Instant, msg: Message) {
        if let Message::Response(r) = msg {
            self.handle_response(now, r);
        }
    }

    /// Feeds a response matched to this transaction (§17.1.3).
    pub fn handle_response(&mut self, now: Instant, resp: Response) {
        use ClientNonInviteState::*;
        match self.state {
            Trying | Proceeding if resp.is_provisional() => {
                self.state = Proceeding;
                self.out.emit(TxnEvent::Response(resp));
            }
            Trying | Proceeding => {
                self.out.emit(TxnEvent::Response(resp));
                self.state = Completed;
                (self.timer_e, self.timer_f) = (None, None);
                // §17.1.2.2: Timer K = T4 on unreliable transports, zero on reliable.
                if self.reliable {
                    self.end();
                } else {
                    self.timer_k = Some(now + self.timers.t4);
                }
            }
            Completed | Terminated => {} // retransmissions absorbed
        }
    }

    fn end(&mut self) {
        self.state = ClientNonInviteState::Terminated;
        (self.timer_e, self.timer_f, self.timer_k) = (None, None, None);
        self.out.terminate();
    }

    /// Runs the timers that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if due(self.timer_f, now) {
            self.out.emit(TxnEvent::Timeout); // §17.1.2.2 Timer F
            return self.end();
        }
        if due(self.timer_e, now) {
            self.out.send(self.request.clone());
            // §17.1.2.2: E doubles up to T2 in Trying, and is T2 in Proceeding.
            self.interval_e = match self.state {
                ClientNonInviteState::Trying => (self.interval_e * 2).min(self.timers.t2),
                _ => self.timers.t2,
            };
            self.timer_e = Some(now + self.interval_e);
        }
        if due(self.timer_k, now) {
            self.end();
        }
    }

    /// When [`ClientNonInvite::handle_timeout`] should next run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest(&[self.timer_e, self.timer_f, self.timer_k])
    }

    outbox_api!();
}
