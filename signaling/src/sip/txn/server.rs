//! The non-INVITE server transaction (RFC 3261 §17.2.2).

use std::time::Instant;

use super::{Outbox, Timers, TxnEvent, due, earliest, outbox_api};
use crate::sip::message::{Message, Request, Response};

/// States of Figure 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerNonInviteState {
    /// Waiting for the TU; retransmissions absorbed.
    Trying,
    /// A provisional was sent; retransmissions get it again.
    Proceeding,
    /// The final was sent; retransmissions get it again (Timer J).
    Completed,
    /// Done.
    Terminated,
}

/// A non-INVITE server transaction.
#[derive(Debug)]
pub struct ServerNonInvite {
    request: Request,
    reliable: bool,
    timers: Timers,
    state: ServerNonInviteState,
    last: Option<Response>,
    timer_j: Option<Instant>,
    out: Outbox,
}

impl ServerNonInvite {
    /// Starts the transaction for a received request.
    pub fn new(request: Request, reliable: bool, timers: Timers, _now: Instant) -> ServerNonInvite {
        ServerNonInvite {
            request,
            reliable,
            timers,
            state: ServerNonInviteState::Trying,
            last: None,
            timer_j: None,
            out: Outbox::default(),
        }
    }

    /// The current state.
    pub fn state(&self) -> ServerNonInviteState {
        self.state
    }

    /// The request.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// Feeds a retransmitted request: answered with the last response, if any (§17.2.2).
    pub fn handle_message(&mut self, _now: Instant, msg: Message) {
        if matches!(msg, Message::Request(_)) {
            if let Some(r) = &self.last {
                self.out.send(r.clone());
            }
        }
    }

    /// Sends the TU's response (§17.2.2).
    pub fn send_response(&mut self, now: Instant, resp: Response) {
        use ServerNonInviteState::*;
        if !matches!(self.state, Trying | Proceeding) {
            return;
        }
        self.out.send(resp.clone());
        let provisional = resp.is_provisional();
        self.last = Some(resp);
        if provisional {
            self.state = Proceeding;
        } else if self.reliable {
            self.end(); // Timer J is zero on reliable transports.
        } else {
            self.state = Completed;
            self.timer_j = Some(now + self.timers.timeout());
        }
    }

    fn end(&mut self) {
        self.state = ServerNonInviteState::Terminated;
        self.timer_j = None;
        self.out.terminate();
    }

    /// Runs the timers that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if due(self.timer_j, now) {
            self.end();
        }
    }

    /// When [`ServerNonInvite::handle_timeout`] should next run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest(&[self.timer_j])
    }

    outbox_api!();
}
