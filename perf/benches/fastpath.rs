//! The engine's per-packet path without I/O: `Shard::on_datagram` at 10,000 sessions with
//! packets in random session order (demux, route lookup, source check, replay and rollover
//! check, SRTP unprotect, forward decision), beside the bare AEAD open of the same bytes.
//!
//! Times are the bench thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`, read once per batch of
//! 256 packets), not wall-clock time: the machine is shared, and time other processes take on
//! the core must not count. Both benchmarks pay the same clock reads.
//!
//! `cargo bench -p ferry-perf --bench fastpath`

use std::hint::black_box;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use crossbeam::channel::{bounded, unbounded};
use ferry::control::{
    LatchPolicy, LegAddrs, LegKind, LegSpec, Rewrite, Secret, SessionId, SrtpKey,
};
use ferry::engine::io::{Handler, IoOps, Lookahead, RxMeta, SockId, thread_cpu_time};
use ferry::engine::ports::LegSockets;
use ferry::engine::shard::{Cmd, Shard, ShardConfig};
use ferry::srtp::{Config, Context, MasterKey, Profile};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use ring::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

const SESSIONS: usize = 10_000;
const PACKETS: usize = 60_000;
const SIZE: usize = 172;
/// Packets per timed batch (copies into the batch are not timed).
const BATCH: usize = 256;

/// Hands out socket ids and closes the sockets at once (the bench feeds packets directly).
struct FakeIo(u32);

impl IoOps for FakeIo {
    fn add_socket(&mut self, _sock: UdpSocket) -> io::Result<SockId> {
        self.0 += 1;
        Ok(SockId(self.0 - 1))
    }
    fn remove_socket(&mut self, _id: SockId) {}
    fn send_copy(&mut self, _via: SockId, _to: SocketAddr, _data: &[u8]) {}
}

fn key(rng: &mut impl Rng) -> SrtpKey {
    let (mut k, mut s) = ([0u8; 16], [0u8; 12]);
    rng.fill(&mut k);
    rng.fill(&mut s);
    SrtpKey {
        profile: Profile::AeadAes128Gcm.id(),
        key: Secret::new(&k),
        salt: Secret::new(&s),
    }
}

fn context(k: &SrtpKey) -> Context {
    let p = Profile::AeadAes128Gcm;
    Context::new(
        p,
        &MasterKey::new(p, k.key.expose(), k.salt.expose()).unwrap(),
        &Config::default(),
    )
    .unwrap()
}

/// A shard with SESSIONS SRTP->RTP sessions; returns it, each session's (A socket id, browser
/// address) and a sender context per session.
fn setup() -> (Shard, Vec<(SockId, SocketAddr)>, Vec<Context>) {
    let (tx, rx) = unbounded();
    let (ev_tx, _ev_rx) = unbounded();
    let cfg = ShardConfig {
        index: 0,
        idle_timeout: Duration::from_secs(3600),
        consent_timeout: Duration::from_secs(30),
    };
    let mut shard = Shard::new(cfg, rx, ev_tx);
    let mut io = FakeIo(0);
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut routes = Vec::new();
    let mut senders = Vec::new();
    for i in 0..SESSIONS {
        let sock = || UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = |p: u16| -> SocketAddr { ([127, 0, 0, 1], p).into() };
        let sockets = [
            LegSockets {
                rtp: sock(),
                rtcp: None,
            },
            LegSockets {
                rtp: sock(),
                rtcp: None,
            },
        ];
        let addrs = [
            LegAddrs {
                rtp: addr(20_000),
                rtcp: None,
            },
            LegAddrs {
                rtp: addr(20_001),
                rtcp: None,
            },
        ];
        let id = SessionId(i as u64);
        let (done, wait) = bounded(1);
        tx.send(Cmd::Add {
            id,
            sockets,
            addrs,
            reply: done,
        })
        .unwrap();
        shard.poll(Instant::now(), &mut io);
        wait.recv().unwrap().unwrap();
        let browser: SocketAddr = ([10, 0, (i >> 8) as u8, i as u8], 40_000).into();
        let k = key(&mut rng);
        let leg = |peer, srtp: Option<SrtpKey>| LegSpec {
            kind: LegKind::Addressed {
                rtp: Some(peer),
                rtcp: None,
                latch: LatchPolicy::Strict,
            },
            rtcp_mux: true,
            srtp_in: srtp,
            srtp_out: None,
            rewrite_out: Rewrite::default(),
            dtmf_events: None,
        };
        let spec = Box::new([
            leg(browser, Some(k.clone())),
            leg(([127, 0, 0, 2], 50_000).into(), None),
        ]);
        let (done, wait) = bounded(1);
        tx.send(Cmd::Install {
            id,
            spec,
            reply: done,
        })
        .unwrap();
        shard.poll(Instant::now(), &mut io);
        wait.recv().unwrap().unwrap();
        routes.push((SockId(2 * i as u32), browser));
        senders.push(context(&k));
    }
    (shard, routes, senders)
}

fn rtp(ssrc: u32, seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0];
    p.extend(seq.to_be_bytes());
    p.extend((u32::from(seq) * 160).to_be_bytes());
    p.extend(ssrc.to_be_bytes());
    p.resize(SIZE - 16, 0x55);
    p
}

/// Times `Shard::on_datagram` over batches of the next packets in `order` (sessions), each
/// batch protected by the senders beforehand (untimed).
fn relay_batches(
    b: &mut criterion::Bencher<'_>,
    shard: &mut Shard,
    order: &[usize],
    routes: &[(SockId, SocketAddr)],
    senders: &mut [Context],
    seqs: &mut [u16],
) {
    let mut next = 0usize;
    let mut bufs = vec![vec![0u8; 2048]; BATCH];
    let none = RxMeta {
        sock: SockId(0),
        from: routes[0].1,
    };
    // What a backend knows of each datagram (untimed): socket, source and length.
    let mut batch = vec![(none, 0usize); BATCH];
    b.iter_custom(|iters| {
        let mut spent = Duration::ZERO;
        let mut done = 0u64;
        while done < iters {
            let n = BATCH.min((iters - done) as usize);
            // Untimed: the next packets of random sessions, protected by their senders.
            for k in 0..n {
                let s = order[next % order.len()];
                next += 1;
                let p = rtp(s as u32, seqs[s]);
                seqs[s] = seqs[s].wrapping_add(1);
                bufs[k][..p.len()].copy_from_slice(&p);
                let (sock, from) = routes[s];
                let len = senders[s].protect_rtp(&mut bufs[k], p.len()).unwrap();
                batch[k] = (RxMeta { sock, from }, len);
            }
            let t = thread_cpu_time();
            // As both backends do: each datagram is announced three, two and one ahead.
            for k in 0..n {
                for (d, ahead) in Lookahead::STAGES {
                    if let Some((meta, _)) = batch[..n].get(k + d) {
                        shard.prefetch(meta.sock, ahead);
                    }
                }
                let (meta, len) = &batch[k];
                black_box(shard.on_datagram(meta, &mut bufs[k], *len));
            }
            spent += thread_cpu_time().saturating_sub(t);
            done += n as u64;
        }
        spent
    })
}

fn bench(c: &mut Criterion) {
    let (mut shard, routes, mut senders) = setup();
    let mut rng = rand::rngs::StdRng::seed_from_u64(2);
    // Random session order, cycled; each session's own packets stay in sequence.
    let mut order: Vec<usize> = (0..PACKETS).map(|i| i % SESSIONS).collect();
    order.shuffle(&mut rng);
    let mut seqs = vec![0u16; SESSIONS];
    let mut g = c.benchmark_group("fastpath");
    // Diagnostic: the same path with one session, all state in cache (logic cost alone).
    let hot = vec![0usize; PACKETS];
    for (name, order) in [
        ("shard_on_datagram_srtp_to_rtp_10k_sessions_172B", &order),
        ("shard_on_datagram_srtp_to_rtp_1_session_hot_172B", &hot),
    ] {
        g.bench_function(name, |b| {
            relay_batches(b, &mut shard, order, &routes, &mut senders, &mut seqs)
        });
    }
    // The timed loop really forwarded: every packet so far went out, none dropped.
    let c = shard.counters();
    assert_eq!(c.drops.iter().sum::<u64>(), 0, "{c:?}");
    assert_eq!(c.tx_packets, c.rx_packets);
    let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &[7; 16]).unwrap());
    let mut sealed = rtp(1, 1);
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key([1; 12]),
            Aad::from(&[0u8; 12]),
            &mut sealed[12..],
        )
        .unwrap();
    sealed.extend(tag.as_ref());
    g.bench_function("raw_aead_open_172B", |b| {
        let mut bufs = vec![sealed.clone(); BATCH];
        b.iter_custom(|iters| {
            let mut spent = Duration::ZERO;
            let mut done = 0u64;
            while done < iters {
                let n = BATCH.min((iters - done) as usize);
                bufs.iter_mut().for_each(|b| b.copy_from_slice(&sealed));
                let t = thread_cpu_time();
                for buf in &mut bufs[..n] {
                    let (head, rest) = buf.split_at_mut(12);
                    let _ = black_box(key.open_in_place(
                        Nonce::assume_unique_for_key([1; 12]),
                        Aad::from(&*head),
                        rest,
                    ));
                }
                spent += thread_cpu_time().saturating_sub(t);
                done += n as u64;
            }
            spent
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4)).sample_size(30);
    targets = bench
}
criterion_main!(benches);
