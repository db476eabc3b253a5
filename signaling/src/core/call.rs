//! One bridged call: its browser leg, its trunk leg (none for `echo`) and its media.

use std::net::SocketAddr;
use std::time::Instant;

use ferry_control::{LegAddrs, LegSpec, SessionId};

use super::ConnId;
use super::dialog::Dialog;
use super::trunk::Retransmit;
use crate::sdp::{PlainSession, WebRtcSession};
use crate::sip::Request;
use crate::sip::txn::TxnKey;

/// A call's id inside this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u64);

/// Who called whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// The browser called out (Ferry is UAS toward it, UAC toward the trunk).
    Outbound,
    /// The trunk called a registered browser (the reverse).
    Inbound,
}

/// Where a call is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// INVITE on its way, not answered.
    Setup,
    /// Answered on both legs.
    Answered,
}

/// The browser side of a call.
#[derive(Debug)]
pub struct BrowserLeg {
    /// The WebSocket the dialog lives on (RFC 7118 §5: requests go back on the same flow).
    pub conn: ConnId,
    /// The INVITE: the browser's (outbound) or ours (inbound).
    pub invite: Request,
    /// The dialog.
    pub dialog: Dialog,
    /// The browser's SDP: its offer (outbound) or its answer (inbound, once it came).
    pub webrtc: Option<WebRtcSession>,
    /// Whether a 180 was already sent or relayed.
    pub rang: bool,
    /// The SDP we answered the browser with (outbound), re-sent on a refresh re-INVITE.
    pub answer_sdp: Option<String>,
}

/// The trunk side of a call.
#[derive(Debug)]
pub struct TrunkLeg {
    /// The INVITE: ours as last sent (outbound) or the trunk's (inbound).
    pub invite: Request,
    /// Its transaction (client or server).
    pub invite_key: Option<TxnKey>,
    /// The dialog (outbound: early until a response carries a To-tag).
    pub dialog: Dialog,
    /// Whether a 2xx was sent or received.
    pub answered: bool,
    /// Whether we already answered a digest challenge (one try; a second is a failure).
    pub auth_tried: bool,
    /// The trunk's SDP: its answer (outbound) or its offer (inbound).
    pub plain: Option<PlainSession>,
    /// Our 2xx, re-sent until the trunk's ACK (RFC 3261 §13.3.1.4; inbound only).
    pub ok_retransmit: Option<Retransmit>,
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
    /// The DTLS handshake's task (server role unless the browser is passive).
    pub dtls: Option<tokio::sync::mpsc::UnboundedSender<super::dtls_task::DtlsIn>>,
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
    /// Direction.
    pub dir: Dir,
    /// Phase.
    pub phase: Phase,
    /// Browser side.
    pub browser: BrowserLeg,
    /// Trunk side (`None` for echo, and once the trunk leg is over).
    pub trunk: Option<TrunkLeg>,
    /// Media.
    pub media: Media,
    /// When the call began.
    pub started: Instant,
    /// A browser re-INVITE waiting for the trunk.
    pub pending_reinvite: Option<super::reinvite::PendingReinvite>,
    /// o= version of our SDP toward the browser (RFC 3264 §8: +1 per new offer or answer).
    pub sdp_version: u64,
    /// o= version of our SDP toward the trunk.
    pub trunk_sdp_version: u64,
    /// Why the call is ending, once it is.
    pub hangup: Option<super::Hangup>,
    /// The call link it came with (a one-time link is consumed when the call connects).
    pub link: Option<crate::links::LinkClaims>,
    /// RFC 4028 session timer: the interval and the last refresh (none: no timer).
    pub session_timer: Option<(std::time::Duration, Instant)>,
}

impl BrowserLeg {
    /// A browser leg on `conn` for `invite` (received or sent), nothing relayed yet.
    pub fn new(
        conn: ConnId,
        invite: Request,
        dialog: Dialog,
        webrtc: Option<WebRtcSession>,
    ) -> Self {
        Self {
            conn,
            invite,
            dialog,
            webrtc,
            rang: false,
            answer_sdp: None,
        }
    }
}

impl Call {
    /// A call in setup.
    pub fn new(id: CallId, dir: Dir, browser: BrowserLeg, media: Media, now: Instant) -> Self {
        Self {
            id,
            dir,
            phase: Phase::Setup,
            browser,
            trunk: None,
            media,
            started: now,
            pending_reinvite: None,
            sdp_version: 1,
            trunk_sdp_version: 1,
            hangup: None,
            link: None,
            session_timer: None,
        }
    }
}
