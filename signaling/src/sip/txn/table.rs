//! A table of live transactions keyed by [`TxnKey`], so the glue routes messages and timers
//! in one place.

use std::collections::HashMap;
use std::time::Instant;

use super::{
    ClientInvite, ClientNonInvite, ServerInvite, ServerNonInvite, Timers, TxnEvent, TxnKey,
};
use crate::sip::message::{Message, Request, Response};
use crate::sip::method::Method;

/// Any of the four transaction machines.
#[derive(Debug)]
pub enum Txn {
    /// §17.1.1.
    ClientInvite(ClientInvite),
    /// §17.1.2.
    ClientNonInvite(ClientNonInvite),
    /// §17.2.1.
    ServerInvite(ServerInvite),
    /// §17.2.2.
    ServerNonInvite(ServerNonInvite),
}

macro_rules! each {
    ($self:expr, $t:ident => $e:expr) => {
        match $self {
            Txn::ClientInvite($t) => $e,
            Txn::ClientNonInvite($t) => $e,
            Txn::ServerInvite($t) => $e,
            Txn::ServerNonInvite($t) => $e,
        }
    };
}

impl Txn {
    /// The client machine for a request Ferry sends (INVITE or not).
    pub fn client(req: Request, reliable: bool, timers: Timers, now: Instant) -> Txn {
        if req.method == Method::Invite {
            Txn::ClientInvite(ClientInvite::new(req, reliable, timers, now))
        } else {
            Txn::ClientNonInvite(ClientNonInvite::new(req, reliable, timers, now))
        }
    }

    /// The server machine for a received request (not ACK, which has none).
    pub fn server(req: Request, reliable: bool, timers: Timers, now: Instant) -> Txn {
        if req.method == Method::Invite {
            Txn::ServerInvite(ServerInvite::new(req, reliable, timers, now))
        } else {
            Txn::ServerNonInvite(ServerNonInvite::new(req, reliable, timers, now))
        }
    }

    /// Feeds a matched message.
    pub fn handle_message(&mut self, now: Instant, msg: Message) {
        each!(self, t => t.handle_message(now, msg))
    }

    /// Sends the TU's response (server machines; ignored by client ones).
    pub fn send_response(&mut self, now: Instant, resp: Response) {
        match self {
            Txn::ServerInvite(t) => t.send_response(now, resp),
            Txn::ServerNonInvite(t) => t.send_response(now, resp),
            _ => {}
        }
    }

    /// Runs due timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        each!(self, t => t.handle_timeout(now))
    }

    /// Next deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        each!(self, t => t.poll_timeout())
    }

    /// Next message for the wire.
    pub fn poll_transmit(&mut self) -> Option<Message> {
        each!(self, t => t.poll_transmit())
    }

    /// Next event for the TU.
    pub fn poll_event(&mut self) -> Option<TxnEvent> {
        each!(self, t => t.poll_event())
    }

    /// Whether it reached Terminated.
    pub fn is_terminated(&self) -> bool {
        each!(self, t => t.is_terminated())
    }

    /// Whether nothing is queued for the wire or the TU.
    pub fn is_drained(&self) -> bool {
        each!(self, t => t.is_drained())
    }

    /// The request that started it.
    pub fn request(&self) -> &Request {
        each!(self, t => t.request())
    }
}

/// Where [`Transactions::handle_message`] put a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routed {
    /// Fed to the transaction with this key.
    Matched(TxnKey),
    /// No transaction matched; the message is returned.
    Unmatched(Message),
}

/// Live transactions. A terminated transaction is dropped once its last transmit and event
/// (`Terminated`) have been polled.
#[derive(Debug, Default)]
pub struct Transactions {
    map: HashMap<TxnKey, Txn>,
}

impl Transactions {
    /// An empty table.
    pub fn new() -> Transactions {
        Transactions::default()
    }

    /// Adds a transaction.
    pub fn insert(&mut self, key: TxnKey, txn: Txn) {
        self.map.insert(key, txn);
    }

    /// A transaction by key.
    pub fn get_mut(&mut self, key: &TxnKey) -> Option<&mut Txn> {
        self.map.get_mut(key)
    }

    /// Removes a transaction.
    pub fn remove(&mut self, key: &TxnKey) -> Option<Txn> {
        self.map.remove(key)
    }

    /// Number of live transactions.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Routes an incoming message to its transaction. An unmatched one (a new request, a 2xx
    /// ACK, a stray response) is handed back: it is the TU's business.
    pub fn handle_message(&mut self, now: Instant, msg: Message) -> Routed {
        let Some(key) = TxnKey::incoming(&msg) else {
            return Routed::Unmatched(msg);
        };
        match self.map.get_mut(&key) {
            Some(t) => {
                t.handle_message(now, msg);
                Routed::Matched(key)
            }
            None => Routed::Unmatched(msg),
        }
    }

    /// Runs due timers of every transaction.
    pub fn handle_timeout(&mut self, now: Instant) {
        for t in self.map.values_mut() {
            if t.poll_timeout().is_some_and(|d| d <= now) {
                t.handle_timeout(now);
            }
        }
    }

    /// The earliest deadline of all transactions.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.map.values().filter_map(Txn::poll_timeout).min()
    }

    /// The next message to send, from any transaction.
    pub fn poll_transmit(&mut self) -> Option<(TxnKey, Message)> {
        let (key, m) = self
            .map
            .iter_mut()
            .find_map(|(k, t)| t.poll_transmit().map(|m| (k.clone(), m)))?;
        self.reap(&key);
        Some((key, m))
    }

    /// The next event, from any transaction.
    pub fn poll_event(&mut self) -> Option<(TxnKey, TxnEvent)> {
        let (key, ev) = self
            .map
            .iter_mut()
            .find_map(|(k, t)| t.poll_event().map(|e| (k.clone(), e)))?;
        self.reap(&key);
        Some((key, ev))
    }

    /// Drops a terminated transaction once all its output is out.
    fn reap(&mut self, key: &TxnKey) {
        if self
            .map
            .get(key)
            .is_some_and(|t| t.is_terminated() && t.is_drained())
        {
            self.map.remove(key);
        }
    }
}
