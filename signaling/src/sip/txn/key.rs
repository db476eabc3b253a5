//! Matching messages to transactions (RFC 3261 §17.1.3, §17.2.3).

use crate::sip::message::{Message, Request, Response};
use crate::sip::method::Method;
use crate::sip::via::BRANCH_COOKIE;

/// Identifies a transaction: the top Via branch and the method (ACK folded into INVITE),
/// plus, for server transactions, the top Via sent-by (§17.2.3: branches are only unique per
/// sender). Client keys have `sent_by: None`: the Via is ours.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TxnKey {
    /// The `branch` parameter, compared exactly.
    pub branch: String,
    /// The transaction's method; ACK maps to INVITE.
    pub method: Method,
    /// Lower-cased `host[:port]` of the top Via (server side only).
    pub sent_by: Option<String>,
}

fn fold(method: Method) -> Method {
    if method == Method::Ack {
        Method::Invite
    } else {
        method
    }
}

impl TxnKey {
    /// The client transaction key for a request Ferry sends.
    pub fn client(req: &Request) -> Option<TxnKey> {
        let branch = req.top_via()?.branch()?.to_owned();
        Some(TxnKey {
            branch,
            method: fold(req.method.clone()),
            sent_by: None,
        })
    }

    /// The client transaction a response belongs to: top Via branch and CSeq method (§17.1.3).
    pub fn for_response(resp: &Response) -> Option<TxnKey> {
        let branch = resp.top_via()?.branch()?.to_owned();
        Some(TxnKey {
            branch,
            method: fold(resp.cseq()?.1),
            sent_by: None,
        })
    }

    /// The server transaction a received request belongs to (§17.2.3). `None` without an
    /// RFC 3261 branch (RFC 2543 peers are not matched; answer them statelessly).
    pub fn server(req: &Request) -> Option<TxnKey> {
        let via = req.top_via()?;
        let branch = via
            .branch()
            .filter(|b| b.starts_with(BRANCH_COOKIE))?
            .to_owned();
        Some(TxnKey {
            branch,
            method: fold(req.method.clone()),
            sent_by: Some(via.sent_by()),
        })
    }

    /// The server INVITE transaction a received CANCEL targets (§9.2: same branch).
    pub fn cancelled(cancel: &Request) -> Option<TxnKey> {
        let mut key = TxnKey::server(cancel)?;
        key.method = Method::Invite;
        Some(key)
    }

    /// The key of any incoming message: server key for requests, client key for responses.
    pub fn incoming(msg: &Message) -> Option<TxnKey> {
        match msg {
            Message::Request(r) => TxnKey::server(r),
            Message::Response(r) => TxnKey::for_response(r),
        }
    }
}
