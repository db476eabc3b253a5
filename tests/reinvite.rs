//! Re-INVITEs from the browser against the real `ferry up` and a sipp trunk, with a scripted
//! browser: an ICE restart (new ufrag and password, RFC 8445 §9) is answered by Ferry with new
//! credentials of its own and the same certificate, without bothering the trunk; a session
//! refresh that changes nothing gets the same answer again.

mod common;
#[path = "common/sipws.rs"]
mod sipws;

use common::ferry::{sipp_received, start_with_sipp};
use sipws::*;

/// The `a=` value of an SDP attribute in a SIP message's body.
fn attr<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    let body = msg.split_once("\r\n\r\n")?.1;
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("a={name}:")))
        .map(str::trim)
}

/// A re-INVITE in the dialog of `inv`/`ok` with `sdp` and CSeq `cseq`.
fn reinvite(inv: &str, ok: &str, cseq: u32, sdp: &str) -> String {
    let call_id = header(inv, "Call-ID").unwrap();
    let target = header(ok, "Contact")
        .map(|c| c.trim_start_matches('<').split('>').next().unwrap_or(c))
        .unwrap();
    format!(
        "INVITE {target} SIP/2.0\r\nVia: SIP/2.0/WS h3ioan6e6ca6.invalid;branch=z9hG4bKre{cseq}{call_id}\r\n\
         Max-Forwards: 70\r\nTo: {}\r\nFrom: {}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\n\
         Contact: <sip:n3ha2tck@h3ioan6e6ca6.invalid;transport=ws;ob>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        header(ok, "To").unwrap(),
        header(inv, "From").unwrap(),
        sdp.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ice_restart_is_answered_by_ferry_and_a_refresh_changes_nothing() {
    let (ferry, _sipp) = start_with_sipp("reinvite", "", "sipp-uas-echo-g711.xml", 1);
    let mut ws = browser(&ferry).await;
    let id = format!("ice{}", rand::random::<u32>());
    let inv = invite(&id, str::to_string);
    send(&mut ws, &inv).await;
    let ok = response(&mut ws, &id, false).await;
    assert_eq!(status(&ok), Some(200), "{ok}");
    send(&mut ws, &ack(&inv, &ok)).await;
    let (ufrag, pwd) = (
        attr(&ok, "ice-ufrag").unwrap(),
        attr(&ok, "ice-pwd").unwrap(),
    );
    let fingerprint = attr(&ok, "fingerprint").unwrap();
    let offer = inv.split_once("\r\n\r\n").unwrap().1;

    // A refresh with the same offer: the same answer, nothing new at the trunk.
    send(&mut ws, &reinvite(&inv, &ok, 3662, offer)).await;
    let again = response(&mut ws, &id, false).await;
    assert_eq!(status(&again), Some(200), "{again}");
    assert_eq!(
        attr(&again, "ice-ufrag"),
        Some(ufrag),
        "a refresh keeps our ICE credentials"
    );

    // A session-timer refresh by UPDATE (what JsSIP sends) gets 200 with the interval; an
    // UPDATE carrying an offer is refused (not relayed), and the call stays as it is.
    let update = |cseq: u32, body: &str| {
        reinvite(&inv, &ok, cseq, body)
            .replacen("INVITE ", "UPDATE ", 1)
            .replace(
                &format!("CSeq: {cseq} INVITE"),
                &format!("CSeq: {cseq} UPDATE"),
            )
            .replace(
                "Content-Type: application/sdp\r\n",
                &if body.is_empty() {
                    "Session-Expires: 90;refresher=uac\r\n".to_string()
                } else {
                    "Content-Type: application/sdp\r\n".to_string()
                },
            )
    };
    send(&mut ws, &update(3700, "")).await;
    let r = response(&mut ws, &id, false).await;
    assert_eq!(status(&r), Some(200), "{r}");
    assert!(
        header(&r, "Session-Expires").is_some_and(|v| v.starts_with("90")),
        "{r}"
    );
    send(&mut ws, &update(3701, offer)).await;
    let r = response(&mut ws, &id, false).await;
    assert_eq!(
        status(&r),
        Some(488),
        "an UPDATE offer is refused, not half-answered: {r}"
    );

    // An ICE restart: the browser's new ufrag/pwd; Ferry answers with new ones of its own.
    let restarted = offer
        .replace("a=ice-ufrag:B/Wg", "a=ice-ufrag:R3st")
        .replace(
            "a=ice-pwd:CchNkm8pBd7uf5VlftQkFjEJ",
            "a=ice-pwd:NewPasswordForTheRestart1",
        );
    assert_ne!(restarted, offer, "the fixture's credentials were replaced");
    send(&mut ws, &reinvite(&inv, &ok, 3702, &restarted)).await;
    let answer = response(&mut ws, &id, false).await;
    assert_eq!(status(&answer), Some(200), "{answer}");
    let (ufrag2, pwd2) = (
        attr(&answer, "ice-ufrag").unwrap(),
        attr(&answer, "ice-pwd").unwrap(),
    );
    assert_ne!(ufrag2, ufrag, "RFC 8445 §9: new credentials on both sides");
    assert_ne!(pwd2, pwd);
    assert_eq!(
        attr(&answer, "fingerprint"),
        Some(fingerprint),
        "same certificate, no new DTLS"
    );
    let version = |m: &str| {
        m.lines()
            .find(|l| l.starts_with("o="))
            .and_then(|o| o.split_whitespace().nth(2))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap()
    };
    assert!(
        version(&answer) > version(&ok),
        "a new answer has a higher o= version"
    );
    assert_eq!(ferry.sessions().len(), 1, "the media session stays");
    assert_eq!(
        sipp_received(&ferry.dir, "INVITE"),
        1,
        "neither the refresh nor the ICE restart concerns the trunk"
    );
}

/// A trunk played by a UDP socket in the test: what Ferry sends it, and what it answers.
struct Trunk(std::net::UdpSocket);

impl Trunk {
    fn recv(&self, what: &str) -> (String, std::net::SocketAddr) {
        let mut buf = vec![0u8; 65_536];
        loop {
            let (n, from) = self
                .0
                .recv_from(&mut buf)
                .unwrap_or_else(|e| panic!("trunk: no {what}: {e}"));
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            // Skip keepalives and retransmissions of what came before.
            if text.starts_with(what) || text.starts_with(&format!("SIP/2.0 {what}")) {
                return (text, from);
            }
        }
    }

    fn send(&self, text: &str, to: std::net::SocketAddr) {
        self.0.send_to(text.as_bytes(), to).unwrap();
    }
}

fn sdp(port: u16, direction: &str) -> String {
    format!(
        "v=0\r\no=pbx 1 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
         a=fmtp:101 0-16\r\na=ptime:20\r\na={direction}\r\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_and_resume_from_the_trunk_are_answered_with_the_mirrored_direction() {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let port = sock.local_addr().unwrap().port();
    let trunk = Trunk(sock);
    let ferry = common::ferry::Ferry::start(
        "trunk-hold",
        common::ferry::FerryOpts {
            config: None,
            trunk_port: Some(port),
        },
    );
    let mut ws = browser(&ferry).await;
    let id = format!("th{}", rand::random::<u32>());
    let inv = invite(&id, str::to_string);
    send(&mut ws, &inv).await;
    let (offer, ferry_addr) = tokio::task::block_in_place(|| trunk.recv("INVITE"));
    // Answer as a PBX would: 200 with our SDP and a To-tag.
    let copy = |name: &str| format!("{name}: {}\r\n", header(&offer, name).unwrap());
    let body = sdp(40_000, "sendrecv");
    let ok = format!(
        "SIP/2.0 200 OK\r\n{}{}{};tag=pbx1\r\n{}{}Contact: <sip:pbx@127.0.0.1:{port}>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
        copy("Via"),
        copy("From"),
        copy("To").trim_end(),
        copy("Call-ID"),
        copy("CSeq"),
        body.len()
    );
    trunk.send(&ok, ferry_addr);
    let _ack = tokio::task::block_in_place(|| trunk.recv("ACK"));
    let answer = response(&mut ws, &id, false).await;
    assert_eq!(status(&answer), Some(200), "{answer}");
    send(&mut ws, &ack(&inv, &answer)).await;

    // The PBX holds (sendonly), then resumes (sendrecv), in its own dialog toward Ferry.
    let ferry_contact = header(&offer, "Contact")
        .unwrap()
        .trim_matches(['<', '>'])
        .to_string();
    for (cseq, direction, expect) in [(1, "sendonly", "recvonly"), (2, "sendrecv", "sendrecv")] {
        let body = sdp(40_000, direction);
        let re = format!(
            "INVITE {ferry_contact} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKhold{cseq}\r\n\
             Max-Forwards: 70\r\nFrom: {};tag=pbx1\r\nTo: {}\r\n{}CSeq: {cseq} INVITE\r\n\
             Contact: <sip:pbx@127.0.0.1:{port}>\r\nContent-Type: application/sdp\r\n\
             Content-Length: {}\r\n\r\n{body}",
            header(&offer, "To").unwrap(),
            header(&offer, "From").unwrap(),
            copy("Call-ID"),
            body.len()
        );
        trunk.send(&re, ferry_addr);
        let (resp, _) = tokio::task::block_in_place(|| trunk.recv("200"));
        assert!(
            resp.contains(&format!("a={expect}")),
            "{direction} from the trunk must be answered {expect}:\n{resp}"
        );
        assert!(
            resp.contains("m=audio") && resp.contains(" RTP/AVP 0"),
            "{resp}"
        );
        let ack = format!(
            "ACK {ferry_contact} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKack{cseq}\r\n\
             Max-Forwards: 70\r\nFrom: {};tag=pbx1\r\nTo: {}\r\n{}CSeq: {cseq} ACK\r\n\
             Content-Length: 0\r\n\r\n",
            header(&offer, "To").unwrap(),
            header(&offer, "From").unwrap(),
            copy("Call-ID"),
        );
        trunk.send(&ack, ferry_addr);
    }
    assert_eq!(ferry.sessions().len(), 1, "the call and its media go on");
    // The browser was not asked anything: no request from Ferry reached it.
    assert!(
        recv(&mut ws, std::time::Duration::from_millis(300))
            .await
            .is_none(),
        "the browser's leg needs no renegotiation"
    );
}

/// A browser that never completes DTLS (this scripted one sends no DTLS at all): when the
/// handshake times out (30 s) Ferry ends both legs with a Reason, and frees the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_dtls_handshake_ends_both_legs_with_a_reason() {
    let (ferry, mut sipp) = start_with_sipp("dtls-fail", "", "sipp-uas-echo-g711.xml", 1);
    let mut ws = browser(&ferry).await;
    let id = format!("df{}", rand::random::<u32>());
    let inv = invite(&id, str::to_string);
    send(&mut ws, &inv).await;
    let ok = response(&mut ws, &id, false).await;
    assert_eq!(status(&ok), Some(200), "{ok}");
    assert_eq!(
        header(&ok, "Session-Expires"),
        Some("90;refresher=uac"),
        "JsSIP's session timer is taken, the browser refreshes"
    );
    send(&mut ws, &ack(&inv, &ok)).await;
    let start = std::time::Instant::now();
    let quiet = recv(&mut ws, std::time::Duration::from_secs(27)).await;
    assert!(
        quiet.is_none(),
        "nothing before the handshake timeout: {quiet:?}"
    );
    let bye = recv(&mut ws, std::time::Duration::from_secs(8))
        .await
        .expect("a BYE when the DTLS handshake fails");
    assert!(bye.starts_with("BYE "), "{bye}");
    assert!(
        header(&bye, "Reason").is_some_and(|r| r.contains("media failed")),
        "the BYE says why: {bye}"
    );
    let waited = start.elapsed().as_secs();
    assert!((27..=35).contains(&waited), "BYE after {waited} s");
    let status = tokio::task::block_in_place(|| sipp.wait_exit(std::time::Duration::from_secs(10)));
    assert!(
        status.is_some_and(|s| s.success()),
        "the trunk got its BYE too: {status:?}"
    );
    let trace = std::fs::read_to_string(ferry.dir.join("sipp-messages.log")).unwrap_or_default();
    assert!(
        trace.contains("Reason: SIP;cause=500"),
        "the trunk's BYE carries the Reason"
    );
    let left =
        tokio::task::block_in_place(|| ferry.wait_sessions(0, std::time::Duration::from_secs(5)));
    assert_eq!(left, 0, "the engine session is removed");
}
