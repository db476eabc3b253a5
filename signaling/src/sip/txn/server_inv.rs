//! The INVITE server transaction (RFC 3261 §17.2.1, RFC 6026 §7.1).

use std::time::{Duration, Instant};

use super::{Outbox, Timers, TxnEvent, due, earliest, outbox_api};
use crate::sip::message::{Message, Request, Response};
use crate::sip::method::Method;

/// States of Figure 7, with RFC 6026's Accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerInviteState {
    /// Waiting for the TU's final response.
    Proceeding,
    /// A 300-699 was sent; retransmitting it until ACK (Timers G, H).
    Completed,
    /// The ACK arrived; absorbing ACK retransmissions (Timer I).
    Confirmed,
    /// A 2xx was sent; absorbing INVITE retransmissions (Timer L). The TU retransmits the
    /// 2xx itself (§13.3.1.4) through [`ServerInvite::send_response`].
    Accepted,
    /// Done.
    Terminated,
}

/// An INVITE server transaction.
#[derive(Debug)]
pub struct ServerInvite {
    request: Request,
    reliable: bool,
    timers: Timers,
    state: ServerInviteState,
    last: Option<Response>,
    timer_trying: Option<Instant>,
    timer_g: Option<Instant>,
    interval_g: Duration,
    timer_h: Option<Instant>,
    timer_i: Option<Instant>,
    timer_l: Option<Instant>,
    out: Outbox,
}

impl ServerInvite {
    /// Starts the transaction for a received INVITE (which the TU also gets, from the caller).
    pub fn new(request: Request, reliable: bool, timers: Timers, now: Instant) -> ServerInvite {
        ServerInvite {
            request,
            reliable,
            timers,
            state: ServerInviteState::Proceeding,
            last: None,
            // §17.2.1: 100 Trying unless the TU answers within 200 ms.
            timer_trying: Some(now + timers.trying),
            timer_g: None,
            interval_g: timers.t1,
            timer_h: None,
            timer_i: None,
            timer_l: None,
            out: Outbox::default(),
        }
    }

    /// The current state.
    pub fn state(&self) -> ServerInviteState {
        self.state
    }

    /// The INVITE.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// Feeds a request matched to this transaction: a retransmitted INVITE or an ACK.
    pub fn handle_message(&mut self, now: Instant, msg: Message) {
        let Message::Request(req) = msg else { return };
        use ServerInviteState::*;
        match (self.state, &req.method) {
            (Proceeding, Method::Invite) => {
                // §17.2.1: resend the latest provisional; none yet, so answer 100 now.
                let resp = self.last.clone().unwrap_or_else(|| self.trying());
                self.timer_trying = None;
                self.out.send(resp);
            }
            (Completed, Method::Invite) => self.resend_last(),
            (Completed, Method::Ack) => {
                self.state = Confirmed;
                (self.timer_g, self.timer_h) = (None, None);
                // §17.2.1: Timer I = T4 unreliable, zero reliable.
                if self.reliable {
                    self.end();
                } else {
                    self.timer_i = Some(now + self.timers.t4);
                }
            }
            (Accepted, Method::Ack) => self.out.emit(TxnEvent::Request(req)), // RFC 6026 §8.7
            _ => {}                                                           // absorbed
        }
    }

    fn trying(&self) -> Response {
        Response::for_request(&self.request, 100, "Trying")
    }

    fn resend_last(&mut self) {
        if let Some(r) = &self.last {
            self.out.send(r.clone());
        }
    }

    /// Sends the TU's response (§17.2.1).
    pub fn send_response(&mut self, now: Instant, resp: Response) {
        use ServerInviteState::*;
        match (self.state, resp.status) {
            (Proceeding, 100..=199) => {
                self.timer_trying = None;
                self.out.send(resp.clone());
                self.last = Some(resp);
            }
            (Proceeding, 200..=299) => {
                self.timer_trying = None;
                self.out.send(resp);
                self.state = Accepted; // RFC 6026 §7.1
                self.timer_l = Some(now + self.timers.timeout());
            }
            (Proceeding, _) => {
                self.timer_trying = None;
                self.out.send(resp.clone());
                self.last = Some(resp);
                self.state = Completed;
                // §17.2.1: Timer G only on unreliable transports; Timer H always.
                self.timer_g = (!self.reliable).then(|| now + self.timers.t1);
                self.timer_h = Some(now + self.timers.timeout());
            }
            (Accepted, 200..=299) => self.out.send(resp), // the TU's 2xx retransmission
            _ => {}
        }
    }

    fn end(&mut self) {
        self.state = ServerInviteState::Terminated;
        self.timer_trying = None;
        (self.timer_g, self.timer_h, self.timer_i, self.timer_l) = (None, None, None, None);
        self.out.terminate();
    }

    /// Runs the timers that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if due(self.timer_trying, now) {
            self.timer_trying = None;
            let t = self.trying();
            self.out.send(t);
        }
        if due(self.timer_h, now) {
            self.out.emit(TxnEvent::Timeout); // §17.2.1 Timer H: the ACK never came
            return self.end();
        }
        if due(self.timer_g, now) {
            self.resend_last();
            self.interval_g = (self.interval_g * 2).min(self.timers.t2);
            self.timer_g = Some(now + self.interval_g);
        }
        if due(self.timer_i, now) || due(self.timer_l, now) {
            self.end();
        }
    }

    /// When [`ServerInvite::handle_timeout`] should next run.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let t = [
            self.timer_trying,
            self.timer_g,
            self.timer_h,
            self.timer_i,
            self.timer_l,
        ];
        earliest(&t)
    }

    outbox_api!();
}
