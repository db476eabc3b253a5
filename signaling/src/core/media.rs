//! Media: engine sessions, ICE credentials and the DTLS handshake whose keys the engine gets.
//!
//! Leg A of every session is the browser (ICE-lite, rtcp-mux, DTLS-SRTP); leg B is the trunk
//! (plain RTP to the SDP address, `Strict`: RTP Bleed, CVE-2025-53399). For `echo`, leg B sends
//! to its own port, so what the browser sends comes back through the engine's normal relay.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use ferry_control::{
    AllocLeg, Family, IceCredentials, LatchPolicy, LegId, LegKind, LegSpec, Message, Rewrite,
    Secret, SrtpKey,
};
use rand::Rng;

use super::call::{Dir, Media};
use super::dtls_task::{DtlsIn, DtlsOut};
use super::{CallId, Core, Hangup};
use crate::dtls::{DtlsEvent, DtlsSession, DtlsTimers, Role, SrtpMaterial};
use crate::engine::EngineEvent;
use crate::sdp::{self, LocalIce, PtMap, Setup};

/// ICE ufrag and password alphabet (RFC 8445 §5.3: ice-char).
const ICE_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn ice_string(rng: &mut impl Rng, n: usize) -> String {
    (0..n)
        .map(|_| ICE_CHARS[rng.gen_range(0..ICE_CHARS.len())] as char)
        .collect()
}

/// Fresh ICE credentials: ufrag 8 chars, password 24 (RFC 8445 asks for at least 4 and 22).
pub(super) fn ice_credentials(rng: &mut impl Rng) -> (String, String) {
    (ice_string(rng, 8), ice_string(rng, 24))
}

impl Media {
    /// No session yet, and fresh ICE credentials.
    pub fn new(rng: &mut impl Rng) -> Self {
        let (ice_ufrag, ice_pwd) = ice_credentials(rng);
        Self {
            session: None,
            legs: None,
            spec: None,
            ice_ufrag,
            ice_pwd,
            dtls: None,
            dtls_peer: None,
            keyed: false,
        }
    }
}

fn key(m: &SrtpMaterial) -> SrtpKey {
    SrtpKey {
        profile: m.profile,
        key: Secret::new(&m.key),
        salt: Secret::new(&m.salt),
    }
}

impl Core {
    /// Allocates and installs the engine session for a new call; starts DTLS when the
    /// browser's SDP is already known (it offered).
    pub(super) async fn setup_media(
        &mut self,
        id: CallId,
        echo: bool,
        now: Instant,
    ) -> Result<(), String> {
        let reply = self
            .engine
            .request(Message::Allocate {
                family: Family::V4,
                legs: [AllocLeg { rtcp_mux: true }, AllocLeg { rtcp_mux: echo }],
            })
            .await
            .map_err(|e| e.to_string())?;
        let Message::Allocated { session, legs, .. } = reply else {
            return Err(format!("allocate: {reply:?}"));
        };
        self.by_session.insert(session, id);
        let call = self.calls.get_mut(&id).ok_or("call gone")?;
        call.media.session = Some(session);
        call.media.legs = Some(legs);
        let browser = LegSpec {
            kind: LegKind::Ice(IceCredentials {
                local_ufrag: call.media.ice_ufrag.clone(),
                local_pwd: Secret::new(call.media.ice_pwd.as_bytes()),
                remote_ufrag: String::new(),
            }),
            rtcp_mux: true,
            srtp_in: None,
            srtp_out: None,
            rewrite_out: Rewrite::default(),
            dtmf_events: None,
        };
        let loopback = SocketAddr::new(IpAddr::from([127, 0, 0, 1]), legs[1].rtp.port());
        let sip_side = LegSpec {
            kind: LegKind::Addressed {
                rtp: echo.then_some(loopback),
                rtcp: None,
                latch: LatchPolicy::Strict,
            },
            rtcp_mux: echo,
            srtp_in: None,
            srtp_out: None,
            rewrite_out: Rewrite::default(),
            dtmf_events: None,
        };
        call.media.spec = Some([browser, sip_side]);
        if echo {
            // The browser would see its own SSRC come back; give the reflection another one.
            let ssrcs: Vec<u32> = call
                .browser
                .webrtc
                .iter()
                .flat_map(|w| w.media.iter().flat_map(|m| m.ssrcs.iter().copied()))
                .collect();
            if let Some(spec) = call.media.spec.as_mut() {
                spec[0].rewrite_out.ssrc = ssrcs.iter().map(|s| (*s, s ^ 0x5eed_0001)).collect();
            }
        }
        if call.browser.webrtc.is_some() {
            self.start_browser_media(id, now).await
        } else {
            self.install(id).await
        }
    }

    /// Once the browser's SDP is known: its ICE ufrag into the engine, and the DTLS side.
    pub(super) async fn start_browser_media(
        &mut self,
        id: CallId,
        now: Instant,
    ) -> Result<(), String> {
        let call = self.calls.get_mut(&id).ok_or("call gone")?;
        let webrtc = call.browser.webrtc.as_ref().ok_or("no browser sdp")?;
        let role = match dtls_setup(call.dir, webrtc.setup)? {
            // RFC 5763 §5: the passive end is the DTLS server.
            Setup::Passive => Role::Server,
            _ => Role::Client,
        };
        let fps = webrtc
            .fingerprints
            .iter()
            .map(|f| crate::dtls::Fingerprint {
                algorithm: f.algorithm.clone(),
                value: f.value.clone(),
            })
            .collect();
        let remote_ufrag = webrtc.ice_ufrag.clone();
        if let Some(LegKind::Ice(creds)) = call.media.spec.as_mut().map(|s| &mut s[0].kind) {
            creds.remote_ufrag = remote_ufrag;
        }
        let dtls = DtlsSession::new(role, &self.cert, fps, DtlsTimers::default(), now)
            .map_err(|e| format!("dtls: {e}"))?;
        call.media.dtls = Some(super::dtls_task::spawn(id, dtls, self.inputs.clone()));
        if let Some(peer) = call.media.dtls_peer {
            // ICE latched before the browser's answer came (a client-role handshake).
            if let Some(d) = &call.media.dtls {
                let _ = d.send(DtlsIn::Peer(peer));
            }
        }
        self.install(id).await
    }

    /// Sends the call's current spec to the engine.
    pub(super) async fn install(&mut self, id: CallId) -> Result<(), String> {
        let call = self.calls.get(&id).ok_or("call gone")?;
        let (Some(session), Some(spec)) = (call.media.session, call.media.spec.as_ref()) else {
            return Err("no media session".into());
        };
        let legs = Box::new(spec.clone());
        self.engine
            .expect_ok(Message::Install { session, legs })
            .await
            .map_err(|e| e.to_string())
    }

    /// Our ICE/DTLS parameters for the browser's SDP.
    pub(super) fn local_ice(&self, call: &super::Call) -> LocalIce {
        let port = call.media.legs.map(|l| l[0].rtp.port()).unwrap_or(9);
        let setup = match (&call.browser.webrtc, call.dir) {
            (Some(w), Dir::Outbound) => {
                dtls_setup(Dir::Outbound, w.setup).unwrap_or(Setup::Passive)
            }
            _ => Setup::ActPass,
        };
        LocalIce {
            ufrag: call.media.ice_ufrag.clone(),
            pwd: call.media.ice_pwd.clone(),
            fingerprint: sdp::Fingerprint {
                algorithm: "sha-256".into(),
                value: self.cert.fingerprint_bytes(),
            },
            setup,
            candidates: self
                .candidates
                .iter()
                .map(|ip| SocketAddr::new(*ip, port))
                .collect(),
        }
    }

    /// Points leg B at the trunk's SDP address and applies the payload-type rewrites.
    pub(super) async fn install_trunk_media(
        &mut self,
        id: CallId,
        rtp: SocketAddr,
        rtcp: Option<SocketAddr>,
        pt: &PtMap,
    ) -> Result<(), String> {
        let dtmf_events = self.dtmf_events_pt(id);
        let call = self.calls.get_mut(&id).ok_or("call gone")?;
        let spec = call.media.spec.as_mut().ok_or("no media session")?;
        spec[1].kind = LegKind::Addressed {
            rtp: Some(rtp),
            rtcp: Some(rtcp.unwrap_or(SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1)))),
            latch: LatchPolicy::Strict,
        };
        spec[1].rewrite_out.pt = pt.to_trunk.clone();
        spec[0].rewrite_out.pt = pt.to_browser.clone();
        spec[0].dtmf_events = dtmf_events;
        self.install(id).await
    }

    pub(super) async fn handle_engine(&mut self, ev: EngineEvent, now: Instant) {
        let msg = match ev {
            EngineEvent::Message(m) => m,
            EngineEvent::Closed(why) => {
                tracing::error!(
                    "engine went away ({why}); ending {} calls",
                    self.calls.len()
                );
                let ids: Vec<CallId> = self.calls.keys().copied().collect();
                for id in ids {
                    self.end_call(id, Hangup::Media, Instant::now()).await;
                }
                return;
            }
        };
        match msg {
            Message::DtlsReceived {
                session,
                leg: LegId::A,
                from,
                payload,
            } => {
                let Some(&id) = self.by_session.get(&session) else {
                    return;
                };
                let Some(call) = self.calls.get_mut(&id) else {
                    return;
                };
                let Some(d) = &call.media.dtls else { return };
                if call.media.dtls_peer != Some(from) {
                    call.media.dtls_peer = Some(from);
                    let _ = d.send(DtlsIn::Peer(from));
                }
                let _ = d.send(DtlsIn::Datagram(payload));
            }
            Message::Latched {
                session,
                leg: LegId::A,
                addr,
            } => {
                let Some(&id) = self.by_session.get(&session) else {
                    return;
                };
                let Some(call) = self.calls.get_mut(&id) else {
                    return;
                };
                // A DTLS client (browser answered passive) can only speak once ICE has
                // verified where the browser is.
                if call.media.dtls_peer.is_none() {
                    call.media.dtls_peer = Some(addr);
                    if let Some(d) = &call.media.dtls {
                        let _ = d.send(DtlsIn::Peer(addr));
                    }
                }
            }
            Message::Ended { session, reason } => {
                let Some(&id) = self.by_session.get(&session) else {
                    return;
                };
                tracing::info!(?id, ?reason, "engine ended the session");
                self.unsave(session);
                if let Some(c) = self.calls.get_mut(&id) {
                    c.media.session = None; // already gone from the engine
                }
                self.end_call(id, Hangup::Media, now).await;
            }
            Message::Dtmf {
                session,
                leg: LegId::A,
                event,
                duration_ms,
                ..
            } => self.dtmf_to_trunk(session, event, duration_ms, now),
            _ => {}
        }
    }

    /// One step of a call's DTLS task: keys into the engine first, then the datagrams, so the
    /// browser's first SRTP packet (right after our last flight) finds its keys.
    pub(super) async fn on_dtls(&mut self, out: DtlsOut) {
        let id = out.call;
        for ev in out.events {
            match ev {
                DtlsEvent::Connected { local, remote, .. } => {
                    if let Err(e) = self.install_keys(id, &local, &remote).await {
                        tracing::warn!(?id, "installing keys: {e}");
                        self.end_call(id, Hangup::Media, Instant::now()).await;
                        return;
                    }
                }
                DtlsEvent::Failed(why) => {
                    tracing::info!(?id, "dtls failed: {why}");
                    self.end_call(id, Hangup::Media, Instant::now()).await;
                    return;
                }
                DtlsEvent::Closed => {}
            }
        }
        let Some(session) = self.calls.get(&id).and_then(|c| c.media.session) else {
            return;
        };
        let Some(to) = out.to else { return };
        for payload in out.transmit {
            self.engine.send(Message::DtlsSend {
                session,
                leg: LegId::A,
                to,
                payload,
            });
        }
    }

    async fn install_keys(
        &mut self,
        id: CallId,
        local: &SrtpMaterial,
        remote: &SrtpMaterial,
    ) -> Result<(), String> {
        let call = self.calls.get_mut(&id).ok_or("call gone")?;
        let spec = call.media.spec.as_mut().ok_or("no media session")?;
        spec[0].srtp_out = Some(key(local));
        spec[0].srtp_in = Some(key(remote));
        call.media.keyed = true;
        tracing::info!(
            ?id,
            profile = local.profile,
            "dtls done; srtp keys installed"
        );
        self.install(id).await
    }

    /// Removes the engine session and forgets the call.
    pub(super) async fn release(&mut self, id: CallId) {
        let Some(call) = self.forget(id) else { return };
        if let Some(session) = call.media.session {
            self.unsave(session);
            if let Err(e) = self.engine.expect_ok(Message::Remove { session }).await {
                tracing::warn!(?id, "removing session: {e}");
            }
        }
    }
}

/// Our a=setup: answering the browser's offer we prefer passive (DTLS server, RFC 5763 §5);
/// offering to it, we said actpass, so the browser's answer decides.
fn dtls_setup(dir: Dir, browser: Setup) -> Result<Setup, String> {
    match dir {
        Dir::Outbound => Setup::answer_to(browser, Setup::Passive).map_err(|e| e.to_string()),
        Dir::Inbound => match browser {
            Setup::Active => Ok(Setup::Passive),
            Setup::Passive => Ok(Setup::Active),
            other => Err(format!("browser answered a=setup:{}", other.as_str())),
        },
    }
}
