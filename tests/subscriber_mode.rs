//! Subscriber mode against the real `ferry up` and a sipp registrar with digest
//! authentication: REGISTER is relayed to the PBX with the browser's own credentials (Ferry
//! holds no password), the challenge and the 200 come back; after three wrong passwords a
//! CAPTCHA is required, with backoff, and refused attempts never reach the PBX.

mod common;
#[path = "common/sipws.rs"]
mod sipws;

use std::time::Duration;

use common::ferry::{sipp_received, solved_captcha, start_with_sipp};
use ferry_signaling::sip::{Method, auth};
use sipws::*;

const CONFIG: &str = r#"
[subscribers]
relay = true

[anonymous]
captcha_bits = 10
"#;

fn register(call_id: &str, cseq: u32, extra: &[String]) -> String {
    let mut head = format!(
        "REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/WS client.invalid;branch=z9hG4bK{call_id}{cseq}\r\n\
         Max-Forwards: 70\r\nTo: <sip:bob@127.0.0.1>\r\nFrom: <sip:bob@127.0.0.1>;tag=t{call_id}\r\n\
         Call-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n\
         Contact: <sip:k2j4@client.invalid;transport=ws>;expires=600\r\nExpires: 600"
    );
    for h in extra {
        head.push_str("\r\n");
        head.push_str(h);
    }
    format!("{head}\r\nContent-Length: 0\r\n\r\n")
}

/// One login: REGISTER, the PBX's 401, REGISTER with credentials for `password`. Returns the
/// final answer's status line.
async fn login(ws: &mut Ws, call_id: &str, password: &str, captcha: Option<String>) -> String {
    send(ws, &register(call_id, 1, &[])).await;
    let challenge = response(ws, call_id, false).await;
    assert_eq!(
        status(&challenge),
        Some(401),
        "the PBX's challenge:\n{challenge}"
    );
    let www = header(&challenge, "WWW-Authenticate").expect("the challenge is relayed");
    let ch = auth::Challenge::parse(www).unwrap();
    let value = auth::authorization(
        &ch,
        "bob",
        password,
        &Method::Register,
        "sip:127.0.0.1",
        "c0ffee",
        1,
    );
    let mut extra = vec![format!("Authorization: {value}")];
    extra.extend(captcha.map(|c| format!("X-Ferry-Captcha: {c}")));
    send(ws, &register(call_id, 2, &extra)).await;
    let resp = response(ws, call_id, false).await;
    resp.lines().next().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registers_relay_digest_and_failed_logins_need_a_captcha() {
    let (ferry, sipp) = start_with_sipp("subscriber", CONFIG, "sipp-registrar-digest.xml", 7);
    let mut ws = browser(&ferry).await;

    // The right password: the PBX accepts, the browser gets 200 with its binding.
    assert_eq!(login(&mut ws, "r1", "s3cret", None).await, "SIP/2.0 200 OK");
    let trace = std::fs::read_to_string(ferry.dir.join("sipp-messages.log")).unwrap_or_default();
    assert!(
        !trace.contains("s3cret"),
        "the password never travels, only its digest"
    );
    assert!(
        trace.contains("Contact: <sip:bob@"),
        "the PBX binds bob to Ferry's Contact"
    );

    // Three wrong passwords: the PBX says 403 each time.
    for i in 2..=4 {
        let line = login(&mut ws, &format!("r{i}"), "wrong", None).await;
        assert_eq!(line, "SIP/2.0 403 Forbidden", "attempt {i}");
    }
    let at_pbx = sipp_received(&ferry.dir, "REGISTER");
    assert_eq!(
        at_pbx, 8,
        "four logins of two REGISTERs each reached the PBX"
    );

    // Now Ferry answers itself: first backoff, then a CAPTCHA demand; nothing reaches the PBX.
    let line = login(&mut ws, "r5", "s3cret", None).await;
    assert!(
        line.starts_with("SIP/2.0 403 Too Many Failed Logins"),
        "{line}"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let line = login(&mut ws, "r6", "s3cret", None).await;
    assert_eq!(line, "SIP/2.0 403 CAPTCHA Required");
    // Only the credential-free first REGISTERs of r5 and r6 went on (to fetch a challenge).
    assert_eq!(sipp_received(&ferry.dir, "REGISTER"), 10);

    // With a solved CAPTCHA the right password goes through again.
    let cap = solved_captcha(&ferry);
    assert_eq!(
        login(&mut ws, "r7", "s3cret", Some(cap)).await,
        "SIP/2.0 200 OK"
    );
    drop(ws);
    drop(sipp); // r5 and r6 left two registrations half-done at the PBX, as a real one would
}
