//! The INVITE client transaction (RFC 3261 §17.1.1, RFC 6026 §7.2).

use std::time::{Duration, Instant};

use super::{Outbox, Timers, TxnEvent, due, earliest, outbox_api};
use crate::sip::message::{Message, Request, Response};
use crate::sip::method::Method;

/// States of Figure 5, with RFC 6026's Accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientInviteState {
    /// INVITE sent, nothing heard.
    Calling,
    /// A provisional response arrived.
    Proceeding,
    /// A 300-699 arrived and was ACKed; absorbing retransmissions (Timer D).
    Completed,
    /// A 2xx arrived; passing retransmitted 2xx up (Timer M).
    Accepted,
    /// Done.
    Terminated,
}

/// An INVITE client transaction. It ACKs non-2xx finals itself (§17.1.1.3); the ACK to a 2xx
/// is the dialog's ([`crate::sip::dialog::Dialog::ack_for_2xx`]).
#[derive(Debug)]
pub struct ClientInvite {
    request: Request,
    reliable: bool,
    timers: Timers,
    state: ClientInviteState,
    timer_a: Option<Instant>,
    interval_a: Duration,
    timer_b: Option<Instant>,
    timer_d: Option<Instant>,
    timer_m: Option<Instant>,
    ack: Option<Request>,
    out: Outbox,
}

impl ClientInvite {
    /// Starts the transaction: the INVITE is the first transmit (§17.1.1.2).
    pub fn new(request: Request, reliable: bool, timers: Timers, now: Instant) -> ClientInvite {
        let mut out = Outbox::default();
        out.send(request.clone());
        ClientInvite {
            request,
            reliable,
            timers,
            state: ClientInviteState::Calling,
            // §17.1.1.2: Timer A only on unreliable transports; Timer B always.
            timer_a: (!reliable).then(|| now + timers.t1),
            interval_a: timers.t1,
            timer_b: Some(now + timers.timeout()),
            timer_d: None,
            timer_m: None,
            ack: None,
            out,
        }
    }

    /// The current state.
    pub fn state(&self) -> ClientInviteState {
        self.state
    }

    /// The INVITE.
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
        use ClientInviteState::*;
        match (self.state, resp.status) {
            (Calling | Proceeding, 100..=199) => {
                self.state = Proceeding;
                (self.timer_a, self.timer_b) = (None, None);
                self.out.emit(TxnEvent::Response(resp));
            }
            (Calling | Proceeding, 200..=299) => {
                self.state = Accepted; // RFC 6026 §7.2
                (self.timer_a, self.timer_b) = (None, None);
                self.timer_m = Some(now + self.timers.timeout());
                self.out.emit(TxnEvent::Response(resp));
            }
            (Calling | Proceeding, _) => self.complete(now, resp),
            // RFC 6026 §7.2: retransmitted 2xx go up so the TU re-sends its ACK.
            (Accepted, 200..=299) => self.out.emit(TxnEvent::Response(resp)),
            // §17.1.1.2: a retransmitted final in Completed gets the ACK again, not the TU.
            (Completed, 300..) => {
                if let Some(ack) = &self.ack {
                    self.out.send(ack.clone());
                }
            }
            _ => {}
        }
    }

    fn complete(&mut self, now: Instant, resp: Response) {
        // §17.1.1.3: the ACK takes To (with tag) from the response, all else from the INVITE.
        let ack = self.request.derive(Method::Ack, resp.headers.get("To"));
        self.out.send(ack.clone());
        self.ack = Some(ack);
        self.out.emit(TxnEvent::Response(resp));
        self.state = ClientInviteState::Completed;
        (self.timer_a, self.timer_b) = (None, None);
        if self.reliable {
            self.end(); // Timer D is zero on reliable transports.
        } else {
            self.timer_d = Some(now + self.timers.d);
        }
    }

    fn end(&mut self) {
        self.state = ClientInviteState::Terminated;
        (self.timer_a, self.timer_b, self.timer_d, self.timer_m) = (None, None, None, None);
        self.out.terminate();
    }

    /// Runs the timers that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if due(self.timer_b, now) {
            self.out.emit(TxnEvent::Timeout); // §17.1.1.2 Timer B
            return self.end();
        }
        if due(self.timer_a, now) {
            // §17.1.1.2: retransmit and double Timer A (no cap for INVITE).
            self.out.send(self.request.clone());
            self.interval_a *= 2;
            self.timer_a = Some(now + self.interval_a);
        }
        if due(self.timer_d, now) || due(self.timer_m, now) {
            self.end();
        }
    }

    /// When [`ClientInvite::handle_timeout`] should next run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest(&[self.timer_a, self.timer_b, self.timer_d, self.timer_m])
    }

    outbox_api!();
}
