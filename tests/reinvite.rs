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

    // An ICE restart: the browser's new ufrag/pwd; Ferry answers with new ones of its own.
    let restarted = offer
        .replace("a=ice-ufrag:B/Wg", "a=ice-ufrag:R3st")
        .replace(
            "a=ice-pwd:CchNkm8pBd7uf5VlftQkFjEJ",
            "a=ice-pwd:NewPasswordForTheRestart1",
        );
    assert_ne!(restarted, offer, "the fixture's credentials were replaced");
    send(&mut ws, &reinvite(&inv, &ok, 3663, &restarted)).await;
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
