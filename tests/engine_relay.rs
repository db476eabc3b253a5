//! The engine end to end over real loopback UDP, driven through its control socket, with an
//! independent SRTP implementation (webrtc-srtp) and an independent STUN implementation
//! (stun-types) as the peers. Every test runs on both I/O backends.

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use ferry::control::{
    AllocLeg, Client, EndReason, Family, IceCredentials, LatchPolicy, LegAddrs, LegId, LegKind,
    LegSpec, Message, Rewrite, Secret, SessionId, SrtpKey,
};
use ferry::engine::io::{BackendKind, uring_available};
use ferry::engine::{Engine, EngineConfig, stats};
use webrtc_srtp::context::Context as Oracle;
use webrtc_srtp::protection_profile::ProtectionProfile;

static NEXT: AtomicU32 = AtomicU32::new(0);

struct Fixture {
    engine: Option<Engine>,
    client: Client,
    socket: PathBuf,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(e) = self.engine.take() {
            let _ = e.shutdown();
        }
    }
}

fn backends() -> Vec<BackendKind> {
    let mut v = vec![BackendKind::Mmsg];
    if uring_available() {
        v.push(BackendKind::Uring);
    } else {
        eprintln!("io_uring unavailable here: testing the mmsg backend only");
    }
    v
}

fn start(backend: BackendKind, idle: Duration) -> Fixture {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let socket = std::env::temp_dir().join(format!("ferry-test-{}-{n}.sock", std::process::id()));
    // A distinct 100-port block per engine started in this process (fewer than 20 per run),
    // and per process by pid; ports the OS holds are skipped by the allocator anyway.
    let base = 20_000 + ((std::process::id() % 20) as u16) * 2_000 + (n as u16 % 20) * 100;
    let cfg = EngineConfig {
        shards: 1,
        pin: false,
        backend,
        control_socket: socket.clone(),
        media_v4: Some([127, 0, 0, 1].into()),
        media_v6: Some("::1".parse().unwrap()),
        port_min: base,
        port_max: base + 99,
        idle_timeout: idle,
        ..EngineConfig::default()
    };
    let engine = Engine::start(cfg).expect("engine starts");
    let client = Client::connect(&socket).expect("control connects");
    Fixture {
        engine: Some(engine),
        client,
        socket,
    }
}

fn udp(addr: &str) -> UdpSocket {
    let s = UdpSocket::bind(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    s
}

fn recv(s: &UdpSocket) -> Option<(Vec<u8>, SocketAddr)> {
    let mut buf = [0u8; 2048];
    s.recv_from(&mut buf)
        .ok()
        .map(|(n, from)| (buf[..n].to_vec(), from))
}

/// Nothing arrives within a short wait.
fn silent(s: &UdpSocket) -> bool {
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let r = recv(s).is_none();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    r
}

fn rtp(ssrc: u32, seq: u16, payload_len: usize) -> Vec<u8> {
    let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    p[1] = 111;
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&u32::from(seq).wrapping_mul(960).to_be_bytes());
    p[8..12].copy_from_slice(&ssrc.to_be_bytes());
    p.extend((0..payload_len).map(|i| (i as u8).wrapping_mul(31) ^ seq as u8));
    p
}

fn rtcp_rr(ssrc: u32) -> Vec<u8> {
    // RR with no report blocks: V=2, PT=201, length 1.
    let mut p = vec![0x80, 201, 0, 1];
    p.extend(ssrc.to_be_bytes());
    p
}

fn key(profile: u16, fill: u8) -> SrtpKey {
    let (k, s) = match profile {
        1 | 2 => (16, 14),
        7 => (16, 12),
        _ => (32, 12),
    };
    let bytes: Vec<u8> = (0..k + s)
        .map(|i| fill.wrapping_add((i as u8).wrapping_mul(7)))
        .collect();
    SrtpKey {
        profile,
        key: Secret::new(&bytes[..k]),
        salt: Secret::new(&bytes[k..]),
    }
}

fn oracle(k: &SrtpKey) -> Oracle {
    let p = match k.profile {
        1 => ProtectionProfile::Aes128CmHmacSha1_80,
        2 => ProtectionProfile::Aes128CmHmacSha1_32,
        7 => ProtectionProfile::AeadAes128Gcm,
        _ => ProtectionProfile::AeadAes256Gcm,
    };
    Oracle::new(k.key.expose(), k.salt.expose(), p, None, None).unwrap()
}

fn addressed(rtp: SocketAddr, rtcp: Option<SocketAddr>, mux: bool) -> LegSpec {
    LegSpec {
        kind: LegKind::Addressed {
            rtp: Some(rtp),
            rtcp,
            latch: LatchPolicy::Strict,
        },
        rtcp_mux: mux,
        srtp_in: None,
        srtp_out: None,
        rewrite_out: Rewrite::default(),
        dtmf_events: None,
    }
}

fn allocate(c: &mut Client, family: Family, mux: [bool; 2]) -> (SessionId, [LegAddrs; 2]) {
    let legs = mux.map(|rtcp_mux| AllocLeg { rtcp_mux });
    match c.request(&Message::Allocate { family, legs }).unwrap() {
        Message::Allocated { session, legs, .. } => (session, legs),
        other => panic!("allocate: {other:?}"),
    }
}

/// Installs legs A and B on a session.
fn install(c: &mut Client, id: SessionId, a: LegSpec, b: LegSpec) {
    c.expect_ok(&Message::Install {
        session: id,
        legs: Box::new([a, b]),
    })
    .unwrap();
}

/// The next event is `Latched` for this session, leg and peer.
fn expect_latched(c: &mut Client, id: SessionId, leg: LegId, peer: &UdpSocket) {
    let ev = c.next_event(Duration::from_secs(2)).unwrap();
    assert_eq!(
        ev,
        Some(Message::Latched {
            session: id,
            leg,
            addr: peer.local_addr().unwrap()
        })
    );
}

fn counters(c: &mut Client) -> Vec<ferry::control::Counter> {
    match c.request(&Message::StatsQuery).unwrap() {
        Message::Stats { shards, .. } => {
            let mut total = shards[0].clone();
            for s in &shards[1..] {
                for (t, v) in total.iter_mut().zip(s) {
                    t.value += v.value;
                }
            }
            total
        }
        other => panic!("stats: {other:?}"),
    }
}

fn counter(c: &mut Client, name: &str) -> u64 {
    stats::counter(&counters(c), name).unwrap_or_else(|| panic!("no counter {name}"))
}

/// SRTP made by webrtc-srtp crosses the engine and arrives as the original RTP, and RTP sent
/// back arrives as SRTP that webrtc-srtp decrypts; RTCP likewise, over a non-muxed SIP leg.
#[test]
fn srtp_and_rtp_cross_the_engine_in_every_profile() {
    for backend in backends() {
        let mut f = start(backend, Duration::from_secs(60));
        for profile in [1u16, 2, 7, 8] {
            let browser = udp("127.0.0.1:0");
            let (pbx, pbx_rtcp) = (udp("127.0.0.1:0"), udp("127.0.0.1:0"));
            let (id, legs) = allocate(&mut f.client, Family::V4, [true, false]);
            let (k_in, k_out) = (key(profile, 1), key(profile, 99));
            let mut a = addressed(browser.local_addr().unwrap(), None, true);
            a.srtp_in = Some(k_in.clone());
            a.srtp_out = Some(k_out.clone());
            let b = addressed(
                pbx.local_addr().unwrap(),
                Some(pbx_rtcp.local_addr().unwrap()),
                false,
            );
            install(&mut f.client, id, a, b);
            let (mut tx, mut rx) = (oracle(&k_in), oracle(&k_out));
            for seq in 0..200u16 {
                let plain = rtp(
                    0x1234,
                    seq.wrapping_add(65_500),
                    20 + usize::from(seq) * 7 % 1100,
                );
                browser
                    .send_to(&tx.encrypt_rtp(&plain).unwrap(), legs[0].rtp)
                    .unwrap();
                let (got, from) = recv(&pbx).expect("RTP reaches the SIP side");
                assert_eq!(
                    (got, from),
                    (plain.clone(), legs[1].rtp),
                    "{backend:?} profile {profile} seq {seq}"
                );
                pbx.send_to(&plain, legs[1].rtp).unwrap();
                let (got, from) = recv(&browser).expect("SRTP reaches the browser side");
                assert_eq!(from, legs[0].rtp);
                assert_eq!(rx.decrypt_rtp(&got).unwrap().to_vec(), plain);
            }
            browser
                .send_to(&tx.encrypt_rtcp(&rtcp_rr(0x1234)).unwrap(), legs[0].rtp)
                .unwrap();
            let (got, from) = recv(&pbx_rtcp).expect("RTCP reaches the SIP RTCP port");
            assert_eq!((got, Some(from)), (rtcp_rr(0x1234), legs[1].rtcp));
            pbx_rtcp
                .send_to(&rtcp_rr(0x5678), legs[1].rtcp.unwrap())
                .unwrap();
            let (got, _) = recv(&browser).expect("SRTCP reaches the browser");
            assert_eq!(rx.decrypt_rtcp(&got).unwrap().to_vec(), rtcp_rr(0x5678));
            f.client
                .expect_ok(&Message::Remove { session: id })
                .unwrap();
        }
    }
}

/// Payload-type and SSRC rewriting applies to packets leaving the leg that asks for it.
#[test]
fn payload_type_and_ssrc_are_rewritten_on_the_way_out() {
    for backend in backends() {
        let mut f = start(backend, Duration::from_secs(60));
        let (a_peer, b_peer) = (udp("127.0.0.1:0"), udp("127.0.0.1:0"));
        let (id, legs) = allocate(&mut f.client, Family::V4, [true, true]);
        let a = addressed(a_peer.local_addr().unwrap(), None, true);
        let mut b = addressed(b_peer.local_addr().unwrap(), None, true);
        b.rewrite_out = Rewrite {
            pt: vec![(111, 0)],
            ssrc: vec![(0x1234, 0xCAFE_F00D)],
        };
        install(&mut f.client, id, a, b);
        a_peer.send_to(&rtp(0x1234, 7, 160), legs[0].rtp).unwrap();
        let (got, _) = recv(&b_peer).unwrap();
        let mut want = rtp(0x1234, 7, 160);
        want[1] = 0;
        want[8..12].copy_from_slice(&0xCAFE_F00Du32.to_be_bytes());
        assert_eq!(got, want);
    }
}

/// IPv6 legs relay like IPv4 ones.
#[test]
fn ipv6_sessions_relay() {
    for backend in backends() {
        let mut f = start(backend, Duration::from_secs(60));
        let (a_peer, b_peer) = (udp("[::1]:0"), udp("[::1]:0"));
        let (id, legs) = allocate(&mut f.client, Family::V6, [true, true]);
        assert!(legs[0].rtp.is_ipv6());
        let (a, b) = (
            addressed(a_peer.local_addr().unwrap(), None, true),
            addressed(b_peer.local_addr().unwrap(), None, true),
        );
        install(&mut f.client, id, a, b);
        b_peer.send_to(&rtp(9, 1, 100), legs[1].rtp).unwrap();
        assert_eq!(recv(&a_peer).unwrap().0, rtp(9, 1, 100));
    }
}

fn binding_request(
    username: &str,
    pwd: &str,
    use_candidate: bool,
) -> (Vec<u8>, stun_types::message::TransactionId) {
    use stun_types::attribute::{AttributeType, RawAttribute, Username};
    use stun_types::message::{
        BINDING, IntegrityAlgorithm, Message as Stun, MessageIntegrityCredentials, MessageWrite,
        MessageWriteVec, ShortTermCredentials,
    };
    use stun_types::prelude::*;
    let mut m = Stun::builder_request(BINDING, MessageWriteVec::new());
    m.add_attribute(&Username::new(username).unwrap()).unwrap();
    m.add_attribute(&RawAttribute::new(
        AttributeType::new(0x0024),
        &0x6e7f_00ffu32.to_be_bytes(),
    ))
    .unwrap(); // PRIORITY
    m.add_attribute(&RawAttribute::new(AttributeType::new(0x802A), &[1; 8]))
        .unwrap(); // ICE-CONTROLLING
    if use_candidate {
        m.add_attribute(&RawAttribute::new(AttributeType::new(0x0025), &[]))
            .unwrap();
    }
    let creds = MessageIntegrityCredentials::ShortTerm(ShortTermCredentials::new(pwd.into()));
    m.add_message_integrity(&creds, IntegrityAlgorithm::Sha1)
        .unwrap();
    m.add_fingerprint().unwrap();
    let tid = m.transaction_id();
    (m.finish(), tid)
}

fn ice_leg(local_pwd: &str) -> LegSpec {
    LegSpec {
        kind: LegKind::Ice(IceCredentials {
            local_ufrag: "fErY".into(),
            local_pwd: Secret::new(local_pwd.as_bytes()),
            remote_ufrag: "HlWh".into(),
        }),
        rtcp_mux: true,
        srtp_in: Some(key(7, 5)),
        srtp_out: Some(key(7, 6)),
        rewrite_out: Rewrite::default(),
        dtmf_events: None,
    }
}

/// ICE-lite: a check from stun-types gets a success response stun-types validates (integrity,
/// fingerprint, XOR-MAPPED-ADDRESS); a wrong password or username gets nothing and is counted;
/// media flows to the browser only after a nominating check; DTLS goes to signaling and back.
#[test]
fn ice_lite_checks_latch_media_and_dtls_reaches_signaling() {
    use stun_types::attribute::XorMappedAddress;
    use stun_types::message::{
        Message as Stun, MessageClass, MessageIntegrityCredentials, ShortTermCredentials,
    };
    const PWD: &str = "0123456789abcdefghijklmn";
    for backend in backends() {
        let mut f = start(backend, Duration::from_secs(60));
        let (browser, pbx) = (udp("127.0.0.1:0"), udp("127.0.0.1:0"));
        let (id, legs) = allocate(&mut f.client, Family::V4, [true, true]);
        let b = addressed(pbx.local_addr().unwrap(), None, true);
        f.client
            .expect_ok(&Message::Install {
                session: id,
                legs: Box::new([ice_leg(PWD), b]),
            })
            .unwrap();

        // Before any check: media from the SIP side has nowhere to go.
        pbx.send_to(&rtp(1, 1, 50), legs[1].rtp).unwrap();
        assert!(silent(&browser));

        // Wrong password and wrong username: no answer, counted.
        browser
            .send_to(
                &binding_request("fErY:HlWh", "wrong-password-xxxxxxxx", true).0,
                legs[0].rtp,
            )
            .unwrap();
        browser
            .send_to(&binding_request("nope:HlWh", PWD, true).0, legs[0].rtp)
            .unwrap();
        assert!(silent(&browser));
        assert_eq!(counter(&mut f.client, "drop_ice_auth"), 2);

        // A valid check without nomination is answered but does not latch media.
        let (req, tid) = binding_request("fErY:HlWh", PWD, false);
        browser.send_to(&req, legs[0].rtp).unwrap();
        let (resp, _) = recv(&browser).expect("binding response");
        let msg = Stun::from_bytes(&resp).expect("stun-types parses our response");
        assert!(msg.has_class(MessageClass::Success));
        assert_eq!(msg.transaction_id(), tid);
        let creds = MessageIntegrityCredentials::ShortTerm(ShortTermCredentials::new(PWD.into()));
        msg.validate_integrity(&creds)
            .expect("integrity verifies with our password");
        let mapped = msg.attribute::<XorMappedAddress>().unwrap().addr(tid);
        assert_eq!(mapped, browser.local_addr().unwrap());
        pbx.send_to(&rtp(1, 2, 50), legs[1].rtp).unwrap();
        assert!(silent(&browser), "no media before nomination");

        // Nomination latches; signaling hears of it; media now flows.
        browser
            .send_to(&binding_request("fErY:HlWh", PWD, true).0, legs[0].rtp)
            .unwrap();
        assert!(recv(&browser).is_some());
        expect_latched(&mut f.client, id, LegId::A, &browser);
        pbx.send_to(&rtp(1, 3, 50), legs[1].rtp).unwrap();
        let (srtp, _) = recv(&browser).expect("media after nomination");
        assert_eq!(
            oracle(&key(7, 6)).decrypt_rtp(&srtp).unwrap().to_vec(),
            rtp(1, 3, 50)
        );

        // DTLS from the verified browser goes to signaling; signaling's answer goes back.
        let record = [22u8, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3];
        browser.send_to(&record, legs[0].rtp).unwrap();
        let ev = f.client.next_event(Duration::from_secs(2)).unwrap();
        assert_eq!(
            ev,
            Some(Message::DtlsReceived {
                session: id,
                leg: LegId::A,
                from: browser.local_addr().unwrap(),
                payload: record.to_vec()
            })
        );
        let to = browser.local_addr().unwrap();
        f.client
            .expect_ok(&Message::DtlsSend {
                session: id,
                leg: LegId::A,
                to,
                payload: vec![22, 1, 2],
            })
            .unwrap();
        assert_eq!(recv(&browser).unwrap().0, vec![22, 1, 2]);
        // ...but never to an address that has not proven itself.
        let stranger = udp("127.0.0.1:0");
        let to = stranger.local_addr().unwrap();
        assert!(
            f.client
                .expect_ok(&Message::DtlsSend {
                    session: id,
                    leg: LegId::A,
                    to,
                    payload: vec![22]
                })
                .is_err()
        );
        assert!(silent(&stranger));
        // DTLS from an unverified address is dropped, not handed up.
        stranger.send_to(&record, legs[0].rtp).unwrap();
        assert!(
            f.client
                .next_event(Duration::from_millis(300))
                .unwrap()
                .is_none()
        );
    }
}

/// Malformed, unauthenticated and replayed packets are dropped and counted; nothing crosses.
#[test]
fn bad_packets_are_dropped_and_counted() {
    for backend in backends() {
        let mut f = start(backend, Duration::from_secs(60));
        let (browser, pbx) = (udp("127.0.0.1:0"), udp("127.0.0.1:0"));
        let (id, legs) = allocate(&mut f.client, Family::V4, [true, true]);
        let k = key(1, 3);
        let mut a = addressed(browser.local_addr().unwrap(), None, true);
        a.srtp_in = Some(k.clone());
        let b = addressed(pbx.local_addr().unwrap(), None, true);
        install(&mut f.client, id, a, b);
        let mut tx = oracle(&k);
        let good = tx.encrypt_rtp(&rtp(5, 1, 160)).unwrap().to_vec();
        browser.send_to(&good, legs[0].rtp).unwrap();
        assert!(recv(&pbx).is_some());
        browser.send_to(&good, legs[0].rtp).unwrap(); // replay
        let mut forged = tx.encrypt_rtp(&rtp(5, 2, 160)).unwrap().to_vec();
        *forged.last_mut().unwrap() ^= 1; // bad tag
        browser.send_to(&forged, legs[0].rtp).unwrap();
        browser.send_to(&[0x80, 0x00, 0x01], legs[0].rtp).unwrap(); // truncated RTP
        browser.send_to(&[0xff; 40], legs[0].rtp).unwrap(); // no RFC 7983 range
        browser.send_to(&[], legs[0].rtp).unwrap();
        assert!(silent(&pbx));
        let c = counters(&mut f.client);
        let get = |n: &str| stats::counter(&c, n).unwrap();
        assert_eq!(get("drop_replay"), 1);
        assert_eq!(get("drop_auth"), 1);
        assert!(
            get("drop_malformed") >= 1,
            "truncated RTP counted as malformed"
        );
        assert!(get("drop_unclassified") >= 2);
        // The stream is intact after the attacks.
        browser
            .send_to(&tx.encrypt_rtp(&rtp(5, 3, 160)).unwrap(), legs[0].rtp)
            .unwrap();
        assert_eq!(recv(&pbx).unwrap().0, rtp(5, 3, 160));
    }
}

/// RTP Bleed / RTP Inject (CVE-2025-53399): a third address sending to the SIP-side port
/// neither hijacks the stream nor receives any media, under both latch policies.
#[test]
fn rtp_bleed_third_party_neither_hijacks_nor_receives() {
    for backend in backends() {
        for latch in [LatchPolicy::Strict, LatchPolicy::SameHost] {
            let mut f = start(backend, Duration::from_secs(60));
            let (browser, pbx) = (udp("127.0.0.1:0"), udp("127.0.0.1:0"));
            let attacker = udp("127.0.0.2:0");
            let (id, legs) = allocate(&mut f.client, Family::V4, [true, true]);
            let a = addressed(browser.local_addr().unwrap(), None, true);
            let mut b = addressed(pbx.local_addr().unwrap(), None, true);
            b.kind = LegKind::Addressed {
                rtp: Some(pbx.local_addr().unwrap()),
                rtcp: None,
                latch,
            };
            install(&mut f.client, id, a, b);
            for seq in 0..50 {
                attacker.send_to(&rtp(666, seq, 160), legs[1].rtp).unwrap();
            }
            assert!(
                silent(&browser),
                "{latch:?}: injected media must not reach the browser"
            );
            browser.send_to(&rtp(1, 1, 160), legs[0].rtp).unwrap();
            assert_eq!(
                recv(&pbx).unwrap().0,
                rtp(1, 1, 160),
                "{latch:?}: the real peer still gets media"
            );
            assert!(
                silent(&attacker),
                "{latch:?}: the attacker receives nothing"
            );
            assert_eq!(counter(&mut f.client, "drop_unlatched_source"), 50);
        }
    }
}

/// SameHost: the SDP host may move its RTP port once (NAT); the new port then owns the stream.
#[test]
fn same_host_latches_a_new_port_once() {
    let mut f = start(BackendKind::Auto, Duration::from_secs(60));
    let (browser, sdp_port, real_port, later) = (
        udp("127.0.0.1:0"),
        udp("127.0.0.1:0"),
        udp("127.0.0.1:0"),
        udp("127.0.0.1:0"),
    );
    let (id, legs) = allocate(&mut f.client, Family::V4, [true, true]);
    let a = addressed(browser.local_addr().unwrap(), None, true);
    let mut b = addressed(sdp_port.local_addr().unwrap(), None, true);
    b.kind = LegKind::Addressed {
        rtp: Some(sdp_port.local_addr().unwrap()),
        rtcp: None,
        latch: LatchPolicy::SameHost,
    };
    install(&mut f.client, id, a, b);
    real_port.send_to(&rtp(2, 1, 10), legs[1].rtp).unwrap();
    assert!(recv(&browser).is_some());
    expect_latched(&mut f.client, id, LegId::B, &real_port);
    browser.send_to(&rtp(3, 1, 10), legs[0].rtp).unwrap();
    assert!(recv(&real_port).is_some(), "media follows the latched port");
    later.send_to(&rtp(2, 2, 10), legs[1].rtp).unwrap();
    assert!(silent(&browser), "a second move is refused");
}

/// Signaling going away leaves media flowing; a new signaling process lists the session, takes
/// it over and removes it.
#[test]
fn sessions_survive_signaling_disconnect_and_are_taken_over() {
    for backend in backends() {
        let mut f = start(backend, Duration::from_secs(60));
        let (a_peer, b_peer) = (udp("127.0.0.1:0"), udp("127.0.0.1:0"));
        let (id, legs) = allocate(&mut f.client, Family::V4, [true, true]);
        let (a, b) = (
            addressed(a_peer.local_addr().unwrap(), None, true),
            addressed(b_peer.local_addr().unwrap(), None, true),
        );
        install(&mut f.client, id, a, b);
        f.client = Client::connect(&f.socket).unwrap(); // the old connection drops here
        for seq in 0..20 {
            a_peer.send_to(&rtp(1, seq, 80), legs[0].rtp).unwrap();
            assert!(recv(&b_peer).is_some(), "media flows with signaling gone");
        }
        let Message::Sessions(list) = f.client.request(&Message::List).unwrap() else {
            panic!("list")
        };
        let s = list
            .iter()
            .find(|s| s.session == id)
            .expect("session listed");
        assert_eq!(s.legs, legs);
        assert!(s.packets >= 20);
        assert_eq!(
            s.peers,
            [
                Some(a_peer.local_addr().unwrap()),
                Some(b_peer.local_addr().unwrap())
            ]
        );
        f.client
            .expect_ok(&Message::Remove { session: id })
            .unwrap();
        a_peer.send_to(&rtp(1, 99, 80), legs[0].rtp).unwrap();
        assert!(silent(&b_peer), "removed sessions relay nothing");
        let Message::Sessions(list) = f.client.request(&Message::List).unwrap() else {
            panic!("list")
        };
        assert!(list.is_empty());
    }
}

/// Sessions with no traffic are reaped and reported; their ports return to the pool.
#[test]
fn idle_sessions_are_reaped_and_reported() {
    let mut f = start(BackendKind::Auto, Duration::from_secs(1));
    let (id, _) = allocate(&mut f.client, Family::V4, [true, false]);
    let ev = f.client.next_event(Duration::from_secs(5)).unwrap();
    assert_eq!(
        ev,
        Some(Message::Ended {
            session: id,
            reason: EndReason::Idle
        })
    );
    let Message::Sessions(list) = f.client.request(&Message::List).unwrap() else {
        panic!("list")
    };
    assert!(list.is_empty());
    // 100 ports in the range: 240 ports' worth of sessions fit only if removal frees them.
    for _ in 0..3 {
        let mut ids = Vec::new();
        for _ in 0..40 {
            ids.push(allocate(&mut f.client, Family::V4, [true, true]).0);
        }
        for id in ids {
            f.client
                .expect_ok(&Message::Remove { session: id })
                .unwrap();
        }
    }
    assert!(matches!(
        f.client
            .request(&Message::Remove {
                session: SessionId(12345)
            })
            .unwrap(),
        Message::Error {
            code: ferry::control::ErrorCode::NoSuchSession,
            ..
        }
    ));
}

/// RFC 5761: only a muxed port tells RTCP by payload type. On a SIP leg with its own RTCP port,
/// RTP with PT 72 and the marker bit (second byte 200, SR's type) is still RTP.
#[test]
fn rtp_that_looks_like_rtcp_on_an_unmuxed_leg_stays_rtp() {
    let mut f = start(BackendKind::Auto, Duration::from_secs(60));
    let (browser, pbx, pbx_rtcp) = (udp("127.0.0.1:0"), udp("127.0.0.1:0"), udp("127.0.0.1:0"));
    let (id, legs) = allocate(&mut f.client, Family::V4, [true, false]);
    let k = key(7, 40);
    let mut a = addressed(browser.local_addr().unwrap(), None, true);
    a.srtp_out = Some(k.clone());
    let b = addressed(
        pbx.local_addr().unwrap(),
        Some(pbx_rtcp.local_addr().unwrap()),
        false,
    );
    install(&mut f.client, id, a, b);
    let mut pkt = rtp(77, 5, 40);
    pkt[1] = 0x80 | 72;
    pbx.send_to(&pkt, legs[1].rtp).unwrap();
    let (got, _) = recv(&browser).expect("relayed");
    assert_eq!(
        oracle(&k).decrypt_rtp(&got).unwrap().to_vec(),
        pkt,
        "protected as SRTP, not SRTCP"
    );
}

/// Many sessions at once, packets interleaved across them in bursts: the backends then hand
/// the shard batches that span many sockets, so its look-ahead (prefetching later datagrams'
/// sessions) runs on every packet. Every packet must still reach its own session's peer,
/// decrypted, in order, and nothing may be dropped.
#[test]
fn interleaved_bursts_across_many_sessions_reach_the_right_peers() {
    const SESSIONS: usize = 40;
    const ROUNDS: u16 = 50;
    for backend in backends() {
        let mut f = start(backend, Duration::from_secs(60));
        let mut legs_of = Vec::new();
        for s in 0..SESSIONS {
            let browser = udp("127.0.0.1:0");
            let pbx = udp("127.0.0.1:0");
            let (id, legs) = allocate(&mut f.client, Family::V4, [true, true]);
            let k = key(7, s as u8);
            let mut a = addressed(browser.local_addr().unwrap(), None, true);
            a.srtp_in = Some(k.clone());
            install(
                &mut f.client,
                id,
                a,
                addressed(pbx.local_addr().unwrap(), None, true),
            );
            legs_of.push((browser, pbx, legs, oracle(&k)));
        }
        for round in 0..ROUNDS {
            // A different session order every round (a fixed permutation stride).
            for i in 0..SESSIONS {
                let s = (i * 17 + usize::from(round) * 7) % SESSIONS;
                let (browser, _, legs, tx) = &mut legs_of[s];
                let plain = rtp(0x100 + s as u32, round, 160);
                browser
                    .send_to(&tx.encrypt_rtp(&plain).unwrap(), legs[0].rtp)
                    .unwrap();
            }
        }
        for (s, (_, pbx, legs, _)) in legs_of.iter().enumerate() {
            for round in 0..ROUNDS {
                let (got, from) = recv(pbx).unwrap_or_else(|| {
                    panic!("{backend:?} session {s} packet {round} did not arrive")
                });
                assert_eq!(from, legs[1].rtp);
                assert_eq!(got, rtp(0x100 + s as u32, round, 160), "{backend:?} {s}");
            }
        }
        assert_eq!(counter(&mut f.client, "drop_auth"), 0);
        assert_eq!(counter(&mut f.client, "drop_unlatched_source"), 0);
    }
}

/// An SR or RR built with the wire Reprs.
fn report(ssrc: u32, sr: Option<(u64, u32)>, blocks: &[ferry::wire::rtcp::ReportBlock]) -> Vec<u8> {
    use ferry::wire::rtcp::{ReceiverReportRepr, SenderInfo, SenderReportRepr};
    use ferry::wire::rtp::Ssrc;
    let mut buf = vec![0u8; 1500];
    let n = match sr {
        Some((ntp_timestamp, rtp_timestamp)) => SenderReportRepr {
            ssrc: Ssrc(ssrc),
            sender_info: SenderInfo {
                ntp_timestamp,
                rtp_timestamp,
                packet_count: 50,
                octet_count: 8000,
            },
            reports: blocks.into(),
        }
        .emit(&mut buf),
        None => ReceiverReportRepr {
            ssrc: Ssrc(ssrc),
            reports: blocks.into(),
        }
        .emit(&mut buf),
    };
    buf.truncate(n.unwrap());
    buf
}

/// Per-leg quality from relayed RTCP: the browser's SRTCP RR (loss, jitter, and LSR/DLSR echoing
/// an SR Ferry forwarded from the trunk, held 300 ms but claiming 100 ms) and the trunk's plain
/// RR show up in `List`; the RTT is the 200 ms the browser added, the jitter is converted with
/// the 48 kHz clock the trunk's two SRs imply, and the trunk leg's with the 8 kHz default.
#[test]
fn rtcp_reports_give_per_leg_quality_in_the_session_list() {
    use ferry::wire::rtcp::ReportBlock;
    use ferry::wire::rtp::Ssrc;
    let block =
        |fraction_lost, cumulative_lost, jitter, last_sr, delay_since_last_sr| ReportBlock {
            ssrc: Ssrc(0x7777),
            fraction_lost,
            cumulative_lost,
            highest_seq: 500,
            jitter,
            last_sr,
            delay_since_last_sr,
        };
    for backend in backends() {
        let mut f = start(backend, Duration::from_secs(60));
        let browser = udp("127.0.0.1:0");
        let (pbx, pbx_rtcp) = (udp("127.0.0.1:0"), udp("127.0.0.1:0"));
        let (id, legs) = allocate(&mut f.client, Family::V4, [true, false]);
        let (k_in, k_out) = (key(1, 3), key(1, 77));
        let mut a = addressed(browser.local_addr().unwrap(), None, true);
        a.srtp_in = Some(k_in.clone());
        a.srtp_out = Some(k_out.clone());
        let b = addressed(
            pbx.local_addr().unwrap(),
            Some(pbx_rtcp.local_addr().unwrap()),
            false,
        );
        install(&mut f.client, id, a, b);
        let (mut tx, mut rx) = (oracle(&k_in), oracle(&k_out));
        // Two SRs from the trunk, 1 s apart in NTP time and 48,000 apart in RTP time.
        let ntp = 0x0000_1000_8000_0000u64;
        for (ntp, rtp_ts) in [(ntp - (1 << 32), 1_000u32), (ntp, 49_000)] {
            let sr = report(0x7777, Some((ntp, rtp_ts)), &[]);
            pbx_rtcp.send_to(&sr, legs[1].rtcp.unwrap()).unwrap();
            let (got, _) = recv(&browser).expect("SR reaches the browser");
            assert_eq!(rx.decrypt_rtcp(&got).unwrap().to_vec(), sr);
        }
        std::thread::sleep(Duration::from_millis(300));
        let lsr = (ntp >> 16) as u32;
        let rr = report(0x1234, None, &[block(26, 7, 480, lsr, 65_536 / 10)]);
        browser
            .send_to(&tx.encrypt_rtcp(&rr).unwrap(), legs[0].rtp)
            .unwrap();
        let (got, _) = recv(&pbx_rtcp).expect("RR reaches the trunk");
        assert_eq!(got, rr);
        let trunk_rr = report(0x7777, None, &[block(5, 2, 160, 0, 0)]);
        pbx_rtcp.send_to(&trunk_rr, legs[1].rtcp.unwrap()).unwrap();
        recv(&browser).expect("RR reaches the browser");
        let Message::Sessions(list) = f.client.request(&Message::List).unwrap() else {
            panic!("list")
        };
        let s = list.iter().find(|s| s.session == id).unwrap();
        let [Some(qa), Some(qb)] = s.quality else {
            panic!("{backend:?}: quality on both legs: {:?}", s.quality)
        };
        assert_eq!(
            (
                qa.fraction_lost,
                qa.cumulative_lost,
                qa.jitter_us,
                qa.reports
            ),
            (26, 7, 10_000, 1),
            "{backend:?}"
        );
        let rtt = qa.rtt_us.expect("RTT from LSR/DLSR");
        assert!(
            (195_000..=280_000).contains(&rtt),
            "{backend:?}: RTT {rtt} us"
        );
        assert!(qa.last_report_ms_ago < 2_000);
        assert_eq!(
            (
                qb.fraction_lost,
                qb.cumulative_lost,
                qb.jitter_us,
                qb.rtt_us,
                qb.reports
            ),
            (5, 2, 20_000, None, 1),
            "{backend:?}"
        );
        f.client
            .expect_ok(&Message::Remove { session: id })
            .unwrap();
    }
}

/// An RFC 4733 packet: PT 101, the event's RTP timestamp, `E` and volume 10, a duration.
fn telephone_event(seq: u16, ts: u32, event: u8, end: bool, duration: u16) -> Vec<u8> {
    let mut p = rtp(0x1234, seq, 0);
    p[1] = 101;
    p[4..8].copy_from_slice(&ts.to_be_bytes());
    p.extend([event, if end { 0x8a } else { 0x0a }]);
    p.extend(duration.to_be_bytes());
    p
}

/// With `dtmf_events` on leg A, telephone events arriving there (SRTP) never reach leg B;
/// each completed event is reported once on the control channel, and a short one is counted.
#[test]
fn telephone_events_are_reported_not_forwarded() {
    for backend in backends() {
        let mut f = start(backend, Duration::from_secs(60));
        let (browser, pbx) = (udp("127.0.0.1:0"), udp("127.0.0.1:0"));
        let (id, legs) = allocate(&mut f.client, Family::V4, [true, true]);
        let k = key(7, 3);
        let mut a = addressed(browser.local_addr().unwrap(), None, true);
        a.srtp_in = Some(k.clone());
        a.dtmf_events = Some(101);
        install(
            &mut f.client,
            id,
            a,
            addressed(pbx.local_addr().unwrap(), None, true),
        );
        let mut tx = oracle(&k);
        let malformed = counter(&mut f.client, "drop_malformed");
        let mut packets = vec![rtp(0x1234, 1, 160)];
        // Digit 5: begin, continuation, three end packets (RFC 4733 §2.5.1.4); then `#`.
        packets.push(telephone_event(2, 8000, 5, false, 160));
        packets.push(telephone_event(3, 8000, 5, false, 320));
        for seq in 4..7 {
            packets.push(telephone_event(seq, 8000, 5, true, 1280));
        }
        packets.push(rtp(0x1234, 7, 160));
        for seq in 8..11 {
            packets.push(telephone_event(seq, 16000, 11, true, 800));
        }
        let mut short = telephone_event(11, 24000, 1, true, 800);
        short.truncate(14);
        packets.push(short);
        for p in &packets {
            browser
                .send_to(&tx.encrypt_rtp(p).unwrap(), legs[0].rtp)
                .unwrap();
        }
        for seq in [1, 7] {
            let (got, _) = recv(&pbx).expect("audio still crosses");
            assert_eq!(got, rtp(0x1234, seq, 160), "{backend:?}");
        }
        assert!(silent(&pbx), "{backend:?}: a telephone event reached leg B");
        for (event, duration_ms) in [(5, 160), (11, 100)] {
            let ev = f.client.next_event(Duration::from_secs(2)).unwrap();
            assert_eq!(
                ev,
                Some(Message::Dtmf {
                    session: id,
                    leg: LegId::A,
                    event,
                    duration_ms,
                    volume: 10,
                }),
                "{backend:?}"
            );
        }
        assert_eq!(
            f.client.next_event(Duration::from_millis(200)).unwrap(),
            None
        );
        assert_eq!(counter(&mut f.client, "drop_malformed"), malformed + 1);
    }
}
