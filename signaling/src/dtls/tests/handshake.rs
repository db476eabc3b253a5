//! Handshake, retransmission, timeout and failure tests in simulated time.

use super::*;

const RTT: Duration = Duration::from_millis(300);

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

#[test]
fn completes_with_mirrored_keys_and_no_spurious_retransmit_at_300ms_rtt() {
    let now = Instant::now();
    let mut peers = pair(now, DtlsTimers::default());
    let mut link = Link::new(now, RTT);
    link.run(&mut peers, secs(60.0));
    let profile = link.assert_connected();
    assert_eq!(
        profile,
        profile::AEAD_AES_128_GCM,
        "both prefer AES-128-GCM"
    );
    let (Some((_, DtlsEvent::Connected { local, .. })), _) = (link.events[0].first(), ()) else {
        unreachable!()
    };
    assert_eq!(
        (local.key.len(), local.salt.len()),
        (16, 12),
        "RFC 7714 §12 lengths"
    );
    // CH, HVR, CH+cookie, flight 4, flight 5, flight 6: three round trips, all under the 1 s timer.
    assert_eq!(
        link.events[0][0].0,
        3 * RTT,
        "client connects after three RTTs"
    );
    assert_eq!(
        [peers[0].retransmissions(), peers[1].retransmissions()],
        [0, 0]
    );
    assert!(peers[0].is_connected() && peers[1].is_connected());
    assert_eq!(peers[0].poll_timeout(), None, "no timers once connected");
    assert_eq!(
        link.count(0, Kind::ClientHello),
        2,
        "one ClientHello without and one with cookie"
    );
}

/// Loses the first copy of one flight and checks who retransmits it, and when.
fn lose_first(kind: Kind) -> (Link, [DtlsSession; 2]) {
    let now = Instant::now();
    let mut peers = pair(now, DtlsTimers::default());
    let mut link = Link::new(now, RTT);
    link.lose = Box::new(move |s| s.kind == kind && s.nth == 0);
    link.run(&mut peers, secs(60.0));
    link.assert_connected();
    (link, peers)
}

#[test]
fn lost_first_client_hello_is_retransmitted_after_one_second() {
    let (link, peers) = lose_first(Kind::ClientHello);
    assert_eq!(
        [peers[0].retransmissions(), peers[1].retransmissions()],
        [1, 0]
    );
    assert_eq!(
        link.sent
            .iter()
            .filter(|s| s.0 == 0 && s.1 == Kind::ClientHello)
            .nth(1)
            .unwrap()
            .2,
        secs(1.0)
    );
    assert_eq!(link.events[0][0].0, secs(1.0) + 3 * RTT);
}

#[test]
fn lost_hello_verify_request_is_recovered_by_the_client() {
    // A server does not retransmit HelloVerifyRequest (RFC 6347 §4.2.1); the client repeats.
    let (link, peers) = lose_first(Kind::HelloVerifyRequest);
    assert_eq!(
        [peers[0].retransmissions(), peers[1].retransmissions()],
        [1, 0]
    );
    assert_eq!(link.count(1, Kind::HelloVerifyRequest), 2);
}

#[test]
fn lost_server_flight4_is_retransmitted() {
    // The client's timer (armed when it sent CH+cookie at 0.3 s) fires at 1.3 s; the server's
    // (armed at 0.45 s) at 1.45 s, when the client's repeat also arrives. One flight 4 repeat
    // reaches the client and the handshake completes; neither side repeats more than once.
    let (link, peers) = lose_first(Kind::ServerHello);
    assert_eq!(
        peers[0].retransmissions(),
        1,
        "client repeats CH+cookie once"
    );
    assert_eq!(
        peers[1].retransmissions(),
        1,
        "server repeats flight 4 once"
    );
    assert_eq!(link.count(1, Kind::ServerHello), 2);
}

#[test]
fn lost_client_flight5_is_retransmitted() {
    // Both timers run: the server's (flight 4 sent at 0.45 s) fires at 1.45 s, the client's
    // (flight 5 sent at 0.6 s) at 1.6 s. Each repeats its flight once; flight 5 reaches the server.
    let (link, peers) = lose_first(Kind::ClientFlight5);
    assert_eq!(
        [peers[0].retransmissions(), peers[1].retransmissions()],
        [1, 1]
    );
    assert_eq!(link.count(0, Kind::ClientFlight5), 2);
}

#[test]
fn lost_server_flight6_is_answered_when_the_client_repeats_flight5() {
    // RFC 6347 §4.2.4: the server's last flight has no timer; the client's repeat of flight 5
    // makes the (already connected) server send flight 6 again.
    let (link, peers) = lose_first(Kind::ServerFlight6);
    assert_eq!(
        [peers[0].retransmissions(), peers[1].retransmissions()],
        [1, 0]
    );
    assert_eq!(link.count(1, Kind::ServerFlight6), 2);
    assert!(
        link.events[1][0].0 < link.events[0][0].0,
        "server connected first"
    );
}

#[test]
fn ten_percent_random_loss_still_completes() {
    for seed in 1..=40u64 {
        let now = Instant::now();
        let mut peers = pair(now, DtlsTimers::default());
        let mut link = Link::new(now, RTT);
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        link.lose = Box::new(move |_| {
            // xorshift64: a reproducible 10% loss pattern per seed.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % 10 == 0
        });
        link.run(&mut peers, secs(60.0));
        assert!(
            peers[0].is_connected() && peers[1].is_connected(),
            "seed {seed}: {:?} / {:?}, sent {:?}",
            link.events[0],
            link.events[1],
            link.sent
        );
    }
}

#[test]
fn handshake_timeout_fails_after_doubling_retransmits() {
    let now = Instant::now();
    let mut peers = pair(now, DtlsTimers::default());
    let mut link = Link::new(now, RTT);
    link.lose = Box::new(|_| true);
    link.run(&mut peers, secs(120.0));
    let Some((at, DtlsEvent::Failed(why))) = link.events[0].first() else {
        panic!("{:?}", link.events[0])
    };
    assert_eq!((why.as_str(), *at), ("handshake timeout", secs(30.0)));
    // RFC 6347 §4.2.4.1: 1 s, then 2, 4, 8, 16: sends at 0, 1, 3, 7, 15 s; the next (31 s) is late.
    let times: Vec<_> = link.sent.iter().filter(|s| s.0 == 0).map(|s| s.2).collect();
    assert_eq!(times, [0.0, 1.0, 3.0, 7.0, 15.0].map(secs));
    assert_eq!(peers[0].retransmissions(), 4);
    // The server never heard a ClientHello: it sends nothing and times out too.
    assert_eq!(link.count(1, Kind::HelloVerifyRequest), 0);
    assert_eq!(expect_failure(&link.events[1]), "handshake timeout");
    assert!(matches!(
        peers[0].handle_datagram(now, &[22, 0xfe, 0xfd]),
        Err(DtlsError::Inactive)
    ));
}

#[test]
fn retransmit_timeout_is_capped() {
    let now = Instant::now();
    let timers = DtlsTimers {
        max_retransmit: secs(2.0),
        handshake_timeout: secs(9.5),
        ..DtlsTimers::default()
    };
    let mut peers = pair(now, timers);
    let mut link = Link::new(now, RTT);
    link.lose = Box::new(|_| true);
    link.run(&mut peers, secs(20.0));
    let times: Vec<_> = link.sent.iter().filter(|s| s.0 == 0).map(|s| s.2).collect();
    assert_eq!(times, [0.0, 1.0, 3.0, 5.0, 7.0, 9.0].map(secs));
}

fn expect_failure(events: &[(Duration, DtlsEvent)]) -> &str {
    match events.first() {
        Some((_, DtlsEvent::Failed(why))) => why,
        other => panic!("expected Failed, got {other:?}"),
    }
}

#[test]
fn fingerprint_mismatch_fails_client_side() {
    let now = Instant::now();
    let (c, s) = certs();
    let wrong = vec![Fingerprint {
        algorithm: "sha-256".into(),
        value: c.fingerprint_bytes(),
    }];
    let mut peers = [
        DtlsSession::new(Role::Client, c, wrong, DtlsTimers::default(), now).unwrap(),
        DtlsSession::new(Role::Server, s, fp(c), DtlsTimers::default(), now).unwrap(),
    ];
    let mut link = Link::new(now, RTT);
    link.run(&mut peers, secs(60.0));
    assert_eq!(expect_failure(&link.events[0]), "fingerprint mismatch");
    assert!(!peers[0].is_connected());
    // The client's bad_certificate alert ends the server's handshake too.
    expect_failure(&link.events[1]);
    assert!(!peers[1].is_connected());
}

#[test]
fn fingerprint_mismatch_fails_server_side() {
    let now = Instant::now();
    let (c, s) = certs();
    // Several lines (as aiortc sends), none of them the client's certificate.
    let wrong = ["sha-256", "sha-384", "sha-512"]
        .map(|a| Fingerprint::of(a, s.der()).unwrap())
        .to_vec();
    let mut peers = [
        DtlsSession::new(Role::Client, c, fp(s), DtlsTimers::default(), now).unwrap(),
        DtlsSession::new(Role::Server, s, wrong, DtlsTimers::default(), now).unwrap(),
    ];
    let mut link = Link::new(now, RTT);
    link.run(&mut peers, secs(60.0));
    assert_eq!(expect_failure(&link.events[1]), "fingerprint mismatch");
    // The client never gets flight 6, so it must not report Connected.
    assert!(!matches!(
        link.events[0].first(),
        Some((_, DtlsEvent::Connected { .. }))
    ));
}

#[test]
fn any_of_several_fingerprints_is_enough() {
    let now = Instant::now();
    let (c, s) = certs();
    let several = |cert: &Certificate| {
        vec![
            Fingerprint {
                algorithm: "sha-256".into(),
                value: vec![0; 32],
            },
            Fingerprint::of("sha-384", cert.der()).unwrap(),
            Fingerprint::of("sha-1", cert.der()).unwrap(),
        ]
    };
    let mut peers = [
        DtlsSession::new(Role::Client, c, several(s), DtlsTimers::default(), now).unwrap(),
        DtlsSession::new(Role::Server, s, several(c), DtlsTimers::default(), now).unwrap(),
    ];
    let mut link = Link::new(now, RTT);
    link.run(&mut peers, secs(60.0));
    link.assert_connected();
}

#[test]
fn malformed_datagrams_are_errors_and_the_handshake_goes_on() {
    let now = Instant::now();
    let mut peers = pair(now, DtlsTimers::default());
    for junk in [
        &[][..],
        &[22, 0xfe, 0xfd, 0, 0][..],
        &[0x80, 0, 0, 0][..],
        &[22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200, 1][..],
    ] {
        assert!(
            matches!(
                peers[1].handle_datagram(now, junk),
                Err(DtlsError::Malformed(_))
            ),
            "{junk:?}"
        );
    }
    // A well-framed record with a garbage handshake body is dropped silently (RFC 6347 §4.1.2.7).
    let mut garbage = vec![22, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 9, 0, 4];
    garbage.extend_from_slice(&[1, 0xff, 0xff, 0xff]);
    let _ = peers[1].handle_datagram(now, &garbage);
    let mut link = Link::new(now, RTT);
    link.run(&mut peers, secs(60.0));
    link.assert_connected();
}

#[test]
fn close_notify_reaches_the_peer() {
    let now = Instant::now();
    let mut peers = pair(now, DtlsTimers::default());
    let mut link = Link::new(now, RTT);
    link.run(&mut peers, secs(60.0));
    link.assert_connected();
    peers[0].close(link.now);
    assert!(matches!(peers[0].poll_event(), Some(DtlsEvent::Closed)));
    let alert = peers[0].poll_transmit().expect("close_notify queued");
    peers[1].handle_datagram(link.now, &alert).unwrap();
    assert!(matches!(peers[1].poll_event(), Some(DtlsEvent::Closed)));
    assert!(!peers[1].is_connected());
}
