//! One bridged call: its browser leg, its trunk leg (none for `echo`) and its media.

use std::net::SocketAddr;
use std::time::Instant;

use ferry_control::{LegAddrs, LegSpec, SessionId};

use super::ConnId;
use crate::dtls::DtlsSession;
use crate::sdp::WebRtcSession;
use crate::sip::{Request, Uri};

/// A call's id inside this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u64);

/// Where a call is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// INVITE received, not answered.
    Setup,
    /// 200 OK sent to the browser.
    Answered,
}

/// The browser side of a call (Ferry is its UAS).
#[derive(Debug)]
pub struct BrowserLeg {
    /// The WebSocket the dialog lives on (RFC 7118 §5: requests go back on the same flow).
    pub conn: ConnId,
    /// Call-ID.
    pub call_id: String,
    /// The INVITE, kept to build responses from.
    pub invite: Request,
    /// Our To-tag.
    pub local_tag: String,
    /// The browser's Contact URI (target of our in-dialog requests).
    pub remote_target: Option<Uri>,
    /// CSeq of our next request to the browser.
    pub local_cseq: u32,
    /// Last CSeq the browser used.
    pub remote_cseq: u32,
    /// The browser's SDP offer.
    pub offer: WebRtcSession,
}

/// The trunk side of a call (Ferry is its UAC).
#[derive(Debug)]
pub struct TrunkLeg {
    /// Call-ID (our own, not the browser's: a B2BUA keeps the two dialogs apart).
    pub call_id: String,
    /// Our From-tag.
    pub local_tag: String,
    /// The trunk's To-tag, once a response carried one.
    pub remote_tag: Option<String>,
    /// The INVITE as last sent (CANCEL and ACK for non-2xx copy its Via).
    pub invite: Request,
    /// CSeq of our last request.
    pub cseq: u32,
    /// Where in-dialog requests go (the trunk's Contact), once answered.
    pub remote_target: Option<Uri>,
    /// Record-Route, reversed into our route set.
    pub route_set: Vec<String>,
    /// Whether a 2xx arrived.
    pub answered: bool,
    /// Whether we already answered a digest challenge (one try; a second is a failure).
    pub auth_tried: bool,
    /// Pending retransmission of the INVITE (UDP), until a response arrives.
    pub retransmit: Option<super::trunk::Retransmit>,
}

/// The media side: the engine session and the DTLS handshake on the browser leg.
#[derive(Debug)]
pub struct Media {
    /// The engine session.
    pub session: Option<SessionId>,
    /// Local addresses of legs A (browser) and B (trunk).
    pub legs: Option<[LegAddrs; 2]>,
    /// What is installed in the engine.
    pub spec: Option<[LegSpec; 2]>,
    /// Our ICE credentials for the browser leg.
    pub ice_ufrag: String,
    /// Our ICE password.
    pub ice_pwd: String,
    /// The DTLS handshake (server role unless the browser asked to be passive).
    pub dtls: Option<DtlsSession>,
    /// Where DTLS records go: the address the browser's records came from (ICE-verified).
    pub dtls_peer: Option<SocketAddr>,
    /// Whether SRTP keys are in the engine.
    pub keyed: bool,
}

/// A call.
#[derive(Debug)]
pub struct Call {
    /// Id.
    pub id: CallId,
    /// Phase.
    pub phase: Phase,
    /// Browser side.
    pub browser: BrowserLeg,
    /// Trunk side (`None` for echo).
    pub trunk: Option<TrunkLeg>,
    /// Media.
    pub media: Media,
    /// When the INVITE arrived.
    pub started: Instant,
}
