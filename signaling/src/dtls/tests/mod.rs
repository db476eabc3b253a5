//! In-memory tests: two sessions over a simulated link, in simulated time.

mod cert;
mod fragment;
mod handshake;

use std::collections::VecDeque;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::*;

/// Certificates are costly to generate; every test shares these two.
fn certs() -> &'static (Certificate, Certificate) {
    static CERTS: OnceLock<(Certificate, Certificate)> = OnceLock::new();
    CERTS.get_or_init(|| {
        (
            Certificate::generate().unwrap(),
            Certificate::generate().unwrap(),
        )
    })
}

fn fp(cert: &Certificate) -> Vec<Fingerprint> {
    vec![Fingerprint {
        algorithm: "sha-256".into(),
        value: cert.fingerprint_bytes(),
    }]
}

/// Index 0 is the client, 1 the server, each expecting the other's real fingerprint.
fn pair(now: Instant, timers: DtlsTimers) -> [DtlsSession; 2] {
    let (c, s) = certs();
    [
        DtlsSession::new(Role::Client, c, fp(s), timers, now).unwrap(),
        DtlsSession::new(Role::Server, s, fp(c), timers, now).unwrap(),
    ]
}

/// What a datagram starts with, enough to tell the flights of RFC 6347 §4.2.4 apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    ClientHello,
    HelloVerifyRequest,
    /// Flight 4: ServerHello .. ServerHelloDone.
    ServerHello,
    /// Flight 5: Certificate .. Finished.
    ClientFlight5,
    /// Flight 6: ChangeCipherSpec, Finished.
    ServerFlight6,
    Other,
}

fn kind(d: &[u8]) -> Kind {
    match (d.first(), d.get(13)) {
        (Some(22), Some(1)) => Kind::ClientHello,
        (Some(22), Some(3)) => Kind::HelloVerifyRequest,
        (Some(22), Some(2)) => Kind::ServerHello,
        (Some(22), Some(11)) => Kind::ClientFlight5,
        (Some(20), _) => Kind::ServerFlight6,
        _ => Kind::Other,
    }
}

/// A datagram on the wire: its kind and how many of that kind came before.
struct Sent {
    kind: Kind,
    nth: usize,
}

/// A middlebox: what side `usize` sent becomes these datagrams.
type Rewrite = dyn FnMut(usize, Vec<u8>) -> Vec<Vec<u8>>;

/// A symmetric link with a fixed one-way delay and a loss rule.
struct Link {
    now: Instant,
    one_way: Duration,
    queue: VecDeque<(Instant, usize, Vec<u8>)>,
    sent: Vec<(usize, Kind, Duration)>,
    start: Instant,
    lose: Box<dyn FnMut(&Sent) -> bool>,
    /// Rewrites what each side sends (a middlebox), before loss.
    rewrite: Box<Rewrite>,
    events: [Vec<(Duration, DtlsEvent)>; 2],
}

impl Link {
    fn new(now: Instant, rtt: Duration) -> Link {
        Link {
            now,
            one_way: rtt / 2,
            queue: VecDeque::new(),
            sent: Vec::new(),
            start: now,
            lose: Box::new(|_| false),
            rewrite: Box::new(|_, d| vec![d]),
            events: [Vec::new(), Vec::new()],
        }
    }

    fn count(&self, from: usize, kind: Kind) -> usize {
        self.sent
            .iter()
            .filter(|s| s.0 == from && s.1 == kind)
            .count()
    }

    fn done(&self, i: usize) -> bool {
        !self.events[i].is_empty()
    }

    /// Runs until both sides reported an event (or `limit` of simulated time passed).
    fn run(&mut self, peers: &mut [DtlsSession; 2], limit: Duration) {
        loop {
            for (i, p) in peers.iter_mut().enumerate() {
                while let Some(d) = p.poll_transmit() {
                    for d in (self.rewrite)(i, d) {
                        let k = kind(&d);
                        let nth = self.count(i, k);
                        self.sent.push((i, k, self.now - self.start));
                        if !(self.lose)(&Sent { kind: k, nth }) {
                            self.queue.push_back((self.now + self.one_way, 1 - i, d));
                        }
                    }
                }
                while let Some(e) = p.poll_event() {
                    self.events[i].push((self.now - self.start, e));
                }
            }
            if self.done(0) && self.done(1) {
                return;
            }
            let next = peers
                .iter()
                .filter_map(|p| p.poll_timeout())
                .chain(self.queue.front().map(|q| q.0))
                .min();
            let Some(next) = next.filter(|t| *t - self.start <= limit) else {
                return;
            };
            self.now = next;
            while self.queue.front().is_some_and(|q| q.0 <= self.now) {
                let (_, to, d) = self.queue.pop_front().unwrap();
                let _ = peers[to].handle_datagram(self.now, &d);
            }
            for p in peers.iter_mut() {
                if p.poll_timeout().is_some_and(|t| t <= self.now) {
                    p.handle_timeout(self.now);
                }
            }
        }
    }

    /// Both sides' `Connected` events, asserting they are mirrored.
    fn assert_connected(&self) -> u16 {
        let [c, s] = &self.events;
        let (
            Some((
                _,
                DtlsEvent::Connected {
                    profile: cp,
                    local: cl,
                    remote: cr,
                },
            )),
            Some((
                _,
                DtlsEvent::Connected {
                    profile: sp,
                    local: sl,
                    remote: sr,
                },
            )),
        ) = (c.first(), s.first())
        else {
            panic!("not both connected: client {:?} server {:?}", c, s);
        };
        assert_eq!(cp, sp, "same profile");
        assert_eq!(cl, sr, "client's send keys are the server's receive keys");
        assert_eq!(sl, cr, "server's send keys are the client's receive keys");
        assert_ne!(cl.key, cr.key, "the directions use different keys");
        *cp
    }
}
