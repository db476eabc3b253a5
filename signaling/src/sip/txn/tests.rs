//! Transactions in simulated time: `Instant`s advanced by hand, and a client wired to a
//! server through an in-memory network with latency.

use std::time::{Duration, Instant};

use super::*;
use crate::sip::{Message, Method, Request, Response};

const JSSIP: &[u8] = include_bytes!("../../../../tests/fixtures/jssip-invite.txt");

fn invite() -> Request {
    let Ok(Message::Request(mut r)) = Message::parse(JSSIP) else {
        panic!("fixture")
    };
    r.headers
        .set("Via", "SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bKinv1");
    r
}

fn bye() -> Request {
    let mut r = invite();
    r.method = Method::Bye;
    r.headers.set("CSeq", "3662 BYE");
    r.headers
        .set("Via", "SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bKbye1");
    r.body.clear();
    r
}

fn answer(req: &Request, status: u16) -> Response {
    let mut r = Response::for_request(req, status, "X");
    r.set_to_tag("uas");
    r
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Drives `t` by its own timeouts until `end`; returns when each transmit happened.
fn run(t: &mut Txn, t0: Instant, end: Duration) -> (Vec<Duration>, Vec<TxnEvent>) {
    let (mut sent, mut events, mut now) = (Vec::new(), Vec::new(), t0);
    loop {
        while t.poll_transmit().is_some() {
            sent.push(now - t0);
        }
        events.extend(std::iter::from_fn(|| t.poll_event()));
        match t.poll_timeout() {
            Some(next) if next - t0 <= end => now = next,
            _ => return (sent, events),
        }
        t.handle_timeout(now);
    }
}

#[test]
fn client_invite_udp_timer_a_doubles_and_timer_b_times_out() {
    let t0 = Instant::now();
    let mut t = Txn::client(invite(), false, Timers::default(), t0);
    let (sent, events) = run(&mut t, t0, Duration::from_secs(100));
    let want: Vec<_> = [0, 500, 1500, 3500, 7500, 15500, 31500].map(ms).to_vec();
    assert_eq!(sent, want);
    assert_eq!(events, vec![TxnEvent::Timeout, TxnEvent::Terminated]);
    assert!(t.is_terminated());
}

#[test]
fn client_invite_reliable_never_retransmits() {
    let t0 = Instant::now();
    let mut t = Txn::client(invite(), true, Timers::default(), t0);
    let (sent, events) = run(&mut t, t0, Duration::from_secs(100));
    assert_eq!(sent, vec![ms(0)]);
    assert_eq!(events, vec![TxnEvent::Timeout, TxnEvent::Terminated]);
    assert_eq!(t.poll_timeout(), None);
}

#[test]
fn client_invite_acks_non_2xx_and_absorbs_retransmissions() {
    let (t0, req) = (Instant::now(), invite());
    let mut t = ClientInvite::new(req.clone(), false, Timers::default(), t0);
    assert!(t.poll_transmit().is_some());
    t.handle_response(t0 + ms(100), answer(&req, 180));
    assert_eq!(t.state(), ClientInviteState::Proceeding);
    t.handle_response(t0 + ms(200), answer(&req, 486));
    let Some(Message::Request(ack)) = t.poll_transmit() else {
        panic!("ACK")
    };
    assert_eq!(
        (ack.method.clone(), ack.cseq()),
        (Method::Ack, Some((3661, Method::Ack)))
    );
    assert_eq!(ack.to().unwrap().tag(), Some("uas"));
    assert_eq!(ack.top_via().unwrap().branch(), Some("z9hG4bKinv1"));
    assert_eq!(ack.uri, req.uri);
    t.handle_response(t0 + ms(300), answer(&req, 486));
    assert!(matches!(t.poll_transmit(), Some(Message::Request(a)) if a.method == Method::Ack));
    let statuses: Vec<_> = std::iter::from_fn(|| t.poll_event()).collect();
    assert_eq!(statuses.len(), 2, "180 and one 486: {statuses:?}");
    assert_eq!(
        t.poll_timeout(),
        Some(t0 + ms(200) + Duration::from_secs(32))
    );
    t.handle_timeout(t0 + ms(200) + Duration::from_secs(32));
    assert!(t.is_terminated());

    let mut r = ClientInvite::new(req.clone(), true, Timers::default(), t0);
    r.handle_response(t0, answer(&req, 603));
    assert!(r.is_terminated(), "Timer D is zero on reliable transports");
}

#[test]
fn client_invite_2xx_goes_to_accepted_and_passes_retransmissions_up() {
    let (t0, req) = (Instant::now(), invite());
    let mut t = ClientInvite::new(req.clone(), false, Timers::default(), t0);
    t.handle_response(t0 + ms(100), answer(&req, 200));
    t.handle_response(t0 + ms(600), answer(&req, 200));
    assert_eq!(t.state(), ClientInviteState::Accepted);
    while t.poll_transmit().is_some() {}
    assert_eq!(std::iter::from_fn(|| t.poll_event()).count(), 2);
    t.handle_timeout(t0 + ms(100) + Duration::from_secs(32));
    assert!(t.is_terminated(), "Timer M");
}

#[test]
fn client_non_invite_timer_e_caps_at_t2_and_timer_f_times_out() {
    let t0 = Instant::now();
    let mut t = Txn::client(bye(), false, Timers::default(), t0);
    let (sent, events) = run(&mut t, t0, Duration::from_secs(100));
    let want: Vec<_> = [
        0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500,
    ]
    .map(ms)
    .to_vec();
    assert_eq!(sent, want);
    assert_eq!(events, vec![TxnEvent::Timeout, TxnEvent::Terminated]);
}

#[test]
fn client_non_invite_proceeding_retransmits_every_t2_then_timer_k() {
    let (t0, req) = (Instant::now(), bye());
    let mut t = Txn::client(req.clone(), false, Timers::default(), t0);
    t.handle_timeout(t0 + ms(500)); // E: 1 s next
    t.handle_message(t0 + ms(600), answer(&req, 100).into());
    t.handle_timeout(t0 + ms(1500)); // E fires in Proceeding: next is T2 later
    assert_eq!(t.poll_timeout(), Some(t0 + ms(5500)));
    t.handle_message(t0 + ms(2000), answer(&req, 200).into());
    assert_eq!(t.poll_timeout(), Some(t0 + ms(7000)), "Timer K = T4");
    t.handle_timeout(t0 + ms(7000));
    assert!(t.is_terminated());
}

#[test]
fn server_invite_sends_100_after_200ms_unless_answered() {
    let (t0, req) = (Instant::now(), invite());
    let mut t = ServerInvite::new(req.clone(), false, Timers::default(), t0);
    assert_eq!(t.poll_timeout(), Some(t0 + ms(200)));
    t.handle_timeout(t0 + ms(200));
    let Some(Message::Response(r)) = t.poll_transmit() else {
        panic!("100")
    };
    assert_eq!((r.status, r.cseq()), (100, Some((3661, Method::Invite))));

    let mut t = ServerInvite::new(req.clone(), false, Timers::default(), t0);
    t.send_response(t0 + ms(50), answer(&req, 180));
    t.handle_timeout(t0 + ms(200));
    let sent: Vec<_> = std::iter::from_fn(|| t.poll_transmit()).collect();
    assert_eq!(sent.len(), 1, "only the 180");
    t.handle_message(t0 + ms(500), req.clone().into());
    assert!(matches!(t.poll_transmit(), Some(Message::Response(r)) if r.status == 180));
}

#[test]
fn server_invite_retransmits_non_2xx_until_ack_timer_g_h_i() {
    let (t0, req) = (Instant::now(), invite());
    let mut t = Txn::server(req.clone(), false, Timers::default(), t0);
    t.send_response(t0, answer(&req, 486));
    let (sent, events) = run(&mut t, t0, Duration::from_secs(100));
    let want: Vec<_> = [
        0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500,
    ]
    .map(ms)
    .to_vec();
    assert_eq!(sent, want, "Timer G doubles to T2");
    assert_eq!(
        events,
        vec![TxnEvent::Timeout, TxnEvent::Terminated],
        "Timer H"
    );

    let mut t = ServerInvite::new(req.clone(), false, Timers::default(), t0);
    t.send_response(t0, answer(&req, 486));
    t.handle_message(t0 + ms(100), req.clone().into());
    assert_eq!(
        std::iter::from_fn(|| t.poll_transmit()).count(),
        2,
        "486, then again for the retransmitted INVITE"
    );
    let ack = req.derive(Method::Ack, None);
    t.handle_message(t0 + ms(200), ack.clone().into());
    assert_eq!(t.state(), ServerInviteState::Confirmed);
    t.handle_message(t0 + ms(300), ack.into());
    assert_eq!(t.poll_transmit(), None);
    assert_eq!(t.poll_timeout(), Some(t0 + ms(5200)), "Timer I = T4");
    t.handle_timeout(t0 + ms(5200));
    assert!(t.is_terminated());
}

#[test]
fn server_invite_reliable_has_no_timer_g_and_no_timer_i() {
    let (t0, req) = (Instant::now(), invite());
    let mut t = ServerInvite::new(req.clone(), true, Timers::default(), t0);
    t.send_response(t0, answer(&req, 404));
    assert_eq!(
        t.poll_timeout(),
        Some(t0 + Duration::from_secs(32)),
        "only H"
    );
    t.handle_message(t0 + ms(10), req.derive(Method::Ack, None).into());
    assert!(t.is_terminated());
}

#[test]
fn server_invite_2xx_accepted_absorbs_invites_and_passes_ack_up() {
    let (t0, req) = (Instant::now(), invite());
    let mut t = ServerInvite::new(req.clone(), false, Timers::default(), t0);
    t.send_response(t0, answer(&req, 200));
    assert_eq!(
        t.poll_transmit().map(|m| matches!(m, Message::Response(_))),
        Some(true)
    );
    t.handle_message(t0 + ms(500), req.clone().into());
    assert_eq!(
        t.poll_transmit(),
        None,
        "retransmitted INVITE absorbed (RFC 6026)"
    );
    t.send_response(t0 + ms(500), answer(&req, 200));
    assert!(
        t.poll_transmit().is_some(),
        "TU's own 2xx retransmission goes out"
    );
    t.handle_message(t0 + ms(600), req.derive(Method::Ack, None).into());
    assert!(matches!(t.poll_event(), Some(TxnEvent::Request(a)) if a.method == Method::Ack));
    t.handle_timeout(t0 + Duration::from_secs(32));
    assert!(t.is_terminated(), "Timer L");
}

#[test]
fn server_non_invite_absorbs_then_repeats_final_until_timer_j() {
    let (t0, req) = (Instant::now(), bye());
    let mut t = ServerNonInvite::new(req.clone(), false, Timers::default(), t0);
    t.handle_message(t0 + ms(500), req.clone().into());
    assert_eq!(t.poll_transmit(), None, "Trying absorbs");
    t.send_response(t0 + ms(600), answer(&req, 200));
    t.handle_message(t0 + ms(1500), req.clone().into());
    assert_eq!(std::iter::from_fn(|| t.poll_transmit()).count(), 2);
    t.handle_timeout(t0 + ms(600) + Duration::from_secs(32));
    assert!(t.is_terminated());
    let mut r = ServerNonInvite::new(req.clone(), true, Timers::default(), t0);
    r.send_response(t0, answer(&req, 200));
    assert!(r.is_terminated(), "Timer J is zero on reliable transports");
}

/// A UAC and a UAS transaction over UDP with 150 ms each way (300 ms RTT), the UAS TU taking
/// 250 ms to answer: the final arrives after the first retransmission, and crosses it.
fn pair(request: Request, status: u16) -> (Vec<TxnEvent>, usize, Txn, Txn) {
    let (t0, one_way, think) = (Instant::now(), ms(150), ms(250));
    let timers = Timers::default();
    let mut client = Txn::client(request.clone(), false, timers, t0);
    let mut server: Option<Txn> = None;
    let mut wire: Vec<(Instant, bool, Message)> = Vec::new(); // (arrival, to_server, msg)
    let (mut uac_events, mut answered, mut server_rx) = (Vec::new(), false, 0);
    let mut now = t0;
    while now < t0 + Duration::from_secs(40) {
        while let Some(m) = client.poll_transmit() {
            wire.push((now + one_way, true, m));
        }
        if let Some(s) = server.as_mut() {
            if !answered && now >= t0 + one_way + think {
                s.send_response(now, answer(&request, status));
                answered = true;
            }
            while let Some(m) = s.poll_transmit() {
                wire.push((now + one_way, false, m));
            }
        }
        uac_events.extend(std::iter::from_fn(|| client.poll_event()));
        now += ms(10);
        // Timers first: a response landing at the instant Timer A fires crosses the retransmit.
        client.handle_timeout(now);
        if let Some(s) = server.as_mut() {
            s.handle_timeout(now);
        }
        let (due, later): (Vec<_>, Vec<_>) = wire.drain(..).partition(|(at, ..)| *at <= now);
        wire = later;
        for (_, to_server, m) in due {
            if to_server {
                server_rx += 1;
                match server.as_mut() {
                    Some(s) => s.handle_message(now, m),
                    None => {
                        let Message::Request(r) = m else { continue };
                        server = Some(Txn::server(r, false, timers, now));
                    }
                }
            } else {
                client.handle_message(now, m);
            }
        }
    }
    (
        uac_events,
        server_rx,
        client,
        server.expect("server got the request"),
    )
}

#[test]
fn rtt_300ms_non_invite_completes_once() {
    let (events, server_rx, client, server) = pair(bye(), 200);
    let finals: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, TxnEvent::Response(_)))
        .collect();
    assert_eq!(finals.len(), 1, "{events:?}");
    assert_eq!(events.last(), Some(&TxnEvent::Terminated));
    assert_eq!(server_rx, 2, "original and one retransmission");
    assert!(client.is_terminated() && server.is_terminated());
}

#[test]
fn rtt_300ms_invite_rejected_completes_once() {
    let (events, server_rx, client, server) = pair(invite(), 486);
    let finals: Vec<_> = events
        .iter()
        .filter(|e| matches!(e, TxnEvent::Response(r) if r.status >= 200))
        .collect();
    assert_eq!(finals.len(), 1, "{events:?}");
    assert_eq!(
        server_rx, 4,
        "INVITE, its retransmission, and an ACK for each 486"
    );
    assert!(client.is_terminated() && server.is_terminated());
}

#[test]
fn keys_match_per_17_1_3_and_17_2_3() {
    let (t0, req) = (Instant::now(), invite());
    let key = TxnKey::server(&req).unwrap();
    assert_eq!(
        TxnKey::server(&req.derive(Method::Ack, None)),
        Some(key.clone())
    );
    assert_eq!(TxnKey::cancelled(&req.cancel()), Some(key.clone()));
    assert_ne!(TxnKey::server(&req.cancel()), Some(key.clone()));
    let resp = answer(&req, 180);
    assert_eq!(TxnKey::for_response(&resp), TxnKey::client(&req));
    let mut other = req.clone();
    other
        .headers
        .set("Via", "SIP/2.0/UDP 198.51.100.1;branch=z9hG4bKinv1");
    assert_ne!(
        TxnKey::server(&other),
        Some(key),
        "same branch, other sender"
    );

    let mut table = Transactions::new();
    let ck = TxnKey::client(&req).unwrap();
    table.insert(
        ck.clone(),
        Txn::client(req.clone(), true, Timers::default(), t0),
    );
    assert_eq!(table.poll_transmit().map(|(k, _)| k), Some(ck.clone()));
    assert_eq!(
        table.handle_message(t0, resp.into()),
        Routed::Matched(ck.clone())
    );
    assert!(matches!(
        table.handle_message(t0, bye().into()),
        Routed::Unmatched(_)
    ));
    table.handle_message(t0, answer(&req, 500).into());
    let events: Vec<_> = std::iter::from_fn(|| table.poll_event()).collect();
    assert_eq!(events.len(), 3, "180, 500, Terminated");
    assert!(!table.is_empty(), "kept until its ACK is sent");
    assert!(
        matches!(table.poll_transmit(), Some((_, Message::Request(a))) if a.method == Method::Ack)
    );
    assert!(table.is_empty());
}
