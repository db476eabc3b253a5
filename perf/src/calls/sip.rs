//! What the scripted browser writes on its WebSocket: a JsSIP-shaped INVITE with a Chromium-shaped
//! WebRTC offer, the ACK for the 2xx and the BYE, and how it reads Ferry's 200 OK.
//!
//! The INVITE follows `tests/fixtures/jssip-invite.txt` header for header (Via over WS with an
//! `.invalid` host, `ob` Contact, Session-Expires, the Supported list), so the signaling path does
//! the work a real JsSIP call costs. The offer carries our own ICE credentials, the real port of
//! the call's UDP socket as the host candidate and our certificate's sha-256 fingerprint with
//! `a=setup:actpass`, so Ferry answers `passive` and we are the DTLS client, as Chromium is.

use std::net::SocketAddr;

use ferry_signaling::sdp::{self, WebRtcSession};
use ferry_signaling::sip::{Message, Response};

/// Per-call identifiers, minted by the caller from its RNG.
#[derive(Debug, Clone)]
pub struct Dialog {
    /// Request-URI user: `sipp` routes to the trunk, `echo` to Ferry's built-in echo.
    pub dest: String,
    /// Host part of the Request-URI and From/To (Ferry does not route on it).
    pub domain: String,
    /// Call-ID.
    pub call_id: String,
    /// Our From tag.
    pub from_tag: String,
    /// Host of our Via and Contact; JsSIP invents `<random>.invalid`.
    pub via_host: String,
    /// CSeq of the INVITE; ACK reuses it, BYE takes the next.
    pub cseq: u32,
}

/// What goes into the offer besides the codecs.
#[derive(Debug, Clone)]
pub struct OfferIce {
    /// Our `a=ice-ufrag` (ice-chars, 4 or more).
    pub ufrag: String,
    /// Our `a=ice-pwd` (22 or more).
    pub pwd: String,
    /// Our UDP socket: the one host candidate.
    pub candidate: SocketAddr,
    /// `AB:CD:...` sha-256 of our DTLS certificate.
    pub fingerprint: String,
    /// The one audio SSRC we send.
    pub ssrc: u32,
    /// `o=` sess-id.
    pub session_id: u64,
}

/// A Chromium-shaped audio-only offer: BUNDLE, rtcp-mux, opus first, then G.711.
pub fn offer_sdp(ice: &OfferIce) -> String {
    let (ip, port) = (ice.candidate.ip(), ice.candidate.port());
    format!(
        "v=0\r\no=- {sid} 2 IN IP4 {ip}\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n\
         a=msid-semantic: WMS ferry-perf\r\n\
         m=audio {port} UDP/TLS/RTP/SAVPF 111 0 8 126\r\nc=IN IP4 {ip}\r\n\
         a=rtcp:9 IN IP4 0.0.0.0\r\n\
         a=candidate:1 1 udp {prio} {ip} {port} typ host generation 0\r\n\
         a=ice-ufrag:{ufrag}\r\na=ice-pwd:{pwd}\r\na=ice-options:trickle\r\n\
         a=fingerprint:sha-256 {fp}\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\n\
         a=msid:ferry-perf audio0\r\na=rtcp-mux\r\na=rtcp-rsize\r\n\
         a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n\
         a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:126 telephone-event/8000\r\n\
         a=ssrc:{ssrc} cname:ferryperf\r\n",
        sid = ice.session_id,
        prio = super::ice::HOST_PRIORITY,
        ufrag = ice.ufrag,
        pwd = ice.pwd,
        fp = ice.fingerprint,
        ssrc = ice.ssrc,
    )
}

impl Dialog {
    fn common(&self, method: &str, cseq: u32, branch: &str, to_tag: Option<&str>) -> String {
        let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
        format!(
            "Via: SIP/2.0/WS {via};branch=z9hG4bK{branch}\r\nMax-Forwards: 69\r\n\
             To: <sip:{dest}@{dom}>{to_tag}\r\nFrom: <sip:perf@{dom}>;tag={from}\r\n\
             Call-ID: {cid}\r\nCSeq: {cseq} {method}\r\n",
            via = self.via_host,
            dest = self.dest,
            dom = self.domain,
            from = self.from_tag,
            cid = self.call_id,
        )
    }

    /// The INVITE, as JsSIP 3.13 writes it.
    pub fn invite(&self, branch: &str, sdp: &str) -> String {
        format!(
            "INVITE sip:{dest}@{dom} SIP/2.0\r\n{common}\
             Contact: <sip:perf@{via};transport=ws;ob>\r\nContent-Type: application/sdp\r\n\
             Session-Expires: 90\r\n\
             Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY,SUBSCRIBE\r\n\
             Supported: timer,ice,replaces,outbound\r\nUser-Agent: ferry-perf\r\n\
             Content-Length: {len}\r\n\r\n{sdp}",
            dest = self.dest,
            dom = self.domain,
            common = self.common("INVITE", self.cseq, branch, None),
            via = self.via_host,
            len = sdp.len(),
        )
    }

    /// RFC 3261 §13.2.2.4: the ACK for a 2xx is its own transaction (new branch) to the
    /// Contact of the 2xx, with the INVITE's CSeq number.
    pub fn ack(&self, branch: &str, answer: &Answered) -> String {
        format!(
            "ACK {target} SIP/2.0\r\n{common}Content-Length: 0\r\n\r\n",
            target = answer.target,
            common = self.common("ACK", self.cseq, branch, Some(&answer.to_tag)),
        )
    }

    /// BYE inside the dialog (RFC 3261 §15.1.1): next CSeq, to the remote target.
    pub fn bye(&self, branch: &str, answer: &Answered) -> String {
        format!(
            "BYE {target} SIP/2.0\r\n{common}Content-Length: 0\r\n\r\n",
            target = answer.target,
            common = self.common("BYE", self.cseq + 1, branch, Some(&answer.to_tag)),
        )
    }
}

/// What the 200 OK to the INVITE established.
#[derive(Debug, Clone)]
pub struct Answered {
    /// To tag: the dialog's remote tag.
    pub to_tag: String,
    /// Contact URI of the 2xx (remote target), else the Request-URI.
    pub target: String,
    /// Ferry's answer.
    pub sdp: WebRtcSession,
}

/// A SIP response from Ferry, reduced to what the call flow branches on.
#[derive(Debug)]
pub enum Reply {
    /// 1xx: keep waiting.
    Provisional,
    /// A final response to our INVITE (the 200 parsed; other codes as status).
    Invite(Result<Box<Answered>, u16>),
    /// A final response to our BYE.
    Bye(u16),
    /// Something else (a request from Ferry, a response to another transaction).
    Other,
}

/// Classifies one WebSocket text frame. A 200 whose SDP does not parse is reported as status
/// 606-like `0`, so the caller can count it apart from real SIP rejections.
pub fn classify(frame: &str, dialog: &Dialog) -> Reply {
    let Ok(Message::Response(resp)) = Message::parse(frame.as_bytes()) else {
        return Reply::Other;
    };
    if resp.call_id() != Some(dialog.call_id.as_str()) {
        return Reply::Other;
    }
    if resp.is_provisional() {
        return Reply::Provisional;
    }
    match resp.cseq() {
        Some((n, m)) if n == dialog.cseq && m.to_string() == "INVITE" => {
            Reply::Invite(answered(&resp, dialog))
        }
        Some((n, m)) if n == dialog.cseq + 1 && m.to_string() == "BYE" => Reply::Bye(resp.status),
        _ => Reply::Other,
    }
}

fn answered(resp: &Response, dialog: &Dialog) -> Result<Box<Answered>, u16> {
    if !resp.is_success() {
        return Err(resp.status);
    }
    let to_tag = resp
        .to()
        .and_then(|t| t.tag().map(str::to_string))
        .ok_or(0u16)?;
    let target = resp
        .contact()
        .map(|c| c.uri.to_string())
        .unwrap_or_else(|| format!("sip:{}@{}", dialog.dest, dialog.domain));
    let body = std::str::from_utf8(&resp.body).map_err(|_| 0u16)?;
    let sdp = sdp::parse_webrtc(body).map_err(|_| 0u16)?;
    Ok(Box::new(Answered {
        to_tag,
        target,
        sdp,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry_signaling::sip::Method;

    fn ice() -> OfferIce {
        OfferIce {
            ufrag: "Pf3x".into(),
            pwd: "abcdefghijklmnopqrstuvwx".into(),
            candidate: "127.0.0.1:41234".parse().unwrap(),
            fingerprint: ferry_signaling::dtls::Certificate::generate()
                .unwrap()
                .fingerprint_sha256(),
            ssrc: 0x1234_5678,
            session_id: 42,
        }
    }

    fn dialog() -> Dialog {
        Dialog {
            dest: "sipp".into(),
            domain: "127.0.0.1".into(),
            call_id: "c1@perf".into(),
            from_tag: "ft1".into(),
            via_host: "perf1.invalid".into(),
            cseq: 10,
        }
    }

    #[test]
    fn offer_parses_as_ferry_parses_a_browser_offer() {
        let ice = ice();
        let s = sdp::parse_webrtc(&offer_sdp(&ice)).unwrap();
        assert_eq!(
            (s.ice_ufrag.as_str(), s.ice_pwd.as_str()),
            ("Pf3x", &*ice.pwd)
        );
        assert_eq!(s.candidates, vec![ice.candidate]);
        assert_eq!(s.setup, sdp::Setup::ActPass);
        assert_eq!(s.fingerprints.len(), 1);
        assert_eq!(s.fingerprints[0].algorithm, "sha-256");
        assert_eq!(s.media.len(), 1);
        assert!(s.media[0].rtcp_mux);
        assert_eq!(s.media[0].ssrcs, vec![0x1234_5678]);
    }

    #[test]
    fn invite_ack_bye_parse_as_sip() {
        let (d, ice) = (dialog(), ice());
        let sdp_text = offer_sdp(&ice);
        let Ok(Message::Request(inv)) = Message::parse(d.invite("b1", &sdp_text).as_bytes()) else {
            panic!("INVITE does not parse");
        };
        assert_eq!(inv.method, Method::Invite);
        assert_eq!(inv.uri.user.as_deref(), Some("sipp"));
        assert_eq!(inv.cseq(), Some((10, Method::Invite)));
        assert_eq!(inv.body, sdp_text.as_bytes());
        let answer = Answered {
            to_tag: "tt".into(),
            target: "sip:ferry@127.0.0.1:5060;transport=ws".into(),
            sdp: sdp::parse_webrtc(&sdp_text).unwrap(),
        };
        let Ok(Message::Request(ack)) = Message::parse(d.ack("b2", &answer).as_bytes()) else {
            panic!("ACK does not parse");
        };
        assert_eq!(ack.cseq(), Some((10, Method::Ack)));
        assert_eq!(ack.to().unwrap().tag(), Some("tt"));
        let Ok(Message::Request(bye)) = Message::parse(d.bye("b3", &answer).as_bytes()) else {
            panic!("BYE does not parse");
        };
        assert_eq!(bye.cseq(), Some((11, Method::Bye)));
        assert_eq!(bye.uri.host, "127.0.0.1");
    }

    #[test]
    fn classify_final_responses() {
        let d = dialog();
        let resp = |status: &str, cseq: &str| {
            format!(
                "SIP/2.0 {status}\r\nVia: SIP/2.0/WS perf1.invalid;branch=z9hG4bKb1\r\n\
                 To: <sip:sipp@127.0.0.1>;tag=x\r\nFrom: <sip:perf@127.0.0.1>;tag=ft1\r\n\
                 Call-ID: c1@perf\r\nCSeq: {cseq}\r\nContent-Length: 0\r\n\r\n"
            )
        };
        assert!(matches!(
            classify(&resp("100 Trying", "10 INVITE"), &d),
            Reply::Provisional
        ));
        assert!(matches!(
            classify(&resp("486 Busy Here", "10 INVITE"), &d),
            Reply::Invite(Err(486))
        ));
        // A 200 without SDP cannot start media: status 0.
        assert!(matches!(
            classify(&resp("200 OK", "10 INVITE"), &d),
            Reply::Invite(Err(0))
        ));
        assert!(matches!(
            classify(&resp("200 OK", "11 BYE"), &d),
            Reply::Bye(200)
        ));
        assert!(matches!(classify("garbage", &d), Reply::Other));
    }
}
