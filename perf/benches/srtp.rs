//! SRTP protect/unprotect per profile and backend, beside a raw AES-GCM seal of the same bytes
//! (the baseline every ratio in perf/BENCHMARKS.md is taken against, measured in the same run).
//!
//! `cargo bench -p ferry-perf --bench srtp`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferry::srtp::{Config, Context, GcmBackend, MasterKey, Profile};
use ring::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

const SIZES: [usize; 2] = [172, 1200];
/// Packets unprotected per timed batch (copies into the batch are not timed).
const BATCH: usize = 256;

fn rtp(seq: u16, len: usize) -> Vec<u8> {
    let mut p = vec![0x80, 111];
    p.extend(seq.to_be_bytes());
    p.extend(1234u32.to_be_bytes());
    p.extend(0x1122_3344u32.to_be_bytes());
    p.resize(len, 0xA5);
    p
}

fn context(p: Profile, backend: GcmBackend) -> Context {
    let key = MasterKey::new(p, &vec![7; p.key_len()], &vec![9; p.salt_len()]).unwrap();
    Context::new(
        p,
        &key,
        &Config {
            gcm_backend: backend,
            ..Config::default()
        },
    )
    .unwrap()
}

fn variants() -> Vec<(Profile, GcmBackend, &'static str)> {
    let mut v = Vec::new();
    for p in Profile::ALL {
        if p.is_aead() {
            v.push((p, GcmBackend::Ring, "ring"));
            v.push((p, GcmBackend::RustCrypto, "rustcrypto"));
        } else {
            v.push((p, GcmBackend::Ring, "rustcrypto-cm"));
        }
    }
    v
}

fn baseline(c: &mut Criterion) {
    let mut g = c.benchmark_group("raw_aead_seal");
    for size in SIZES {
        g.throughput(Throughput::Elements(1));
        for (alg, name, klen) in [
            (&AES_128_GCM, "aes128gcm", 16),
            (&AES_256_GCM, "aes256gcm", 32),
        ] {
            let key = LessSafeKey::new(UnboundKey::new(alg, &vec![7u8; klen]).unwrap());
            let mut pkt = rtp(1, size + 16);
            g.bench_function(BenchmarkId::new(name, size), |b| {
                b.iter(|| {
                    let (head, rest) = pkt.split_at_mut(12);
                    let nonce = Nonce::assume_unique_for_key([3; 12]);
                    let _tag = black_box(
                        key.seal_in_place_separate_tag(
                            nonce,
                            Aad::from(&*head),
                            &mut rest[..size - 12],
                        )
                        .unwrap(),
                    );
                })
            });
        }
    }
    g.finish();
}

fn protect(c: &mut Criterion) {
    let mut g = c.benchmark_group("srtp_protect");
    g.throughput(Throughput::Elements(1));
    for size in SIZES {
        for (p, backend, name) in variants() {
            let mut ctx = context(p, backend);
            let mut buf = rtp(1, size);
            buf.resize(size + 32, 0);
            g.bench_function(
                BenchmarkId::new(format!("{}/{name}", p.name()), size),
                |b| b.iter(|| black_box(ctx.protect_rtp(&mut buf, size).unwrap())),
            );
        }
    }
    g.finish();
}

fn unprotect(c: &mut Criterion) {
    let mut g = c.benchmark_group("srtp_unprotect");
    g.throughput(Throughput::Elements(1));
    for size in SIZES {
        for (p, backend, name) in variants() {
            // 60,000 distinct packets: the receiver's replay window never refuses one within a
            // pass; a fresh receiver starts each pass (outside the timed region).
            let mut tx = context(p, backend);
            let packets: Vec<Vec<u8>> = (0..60_000u32)
                .map(|i| {
                    let mut b = rtp(i as u16, size);
                    b.resize(size + 32, 0);
                    let n = tx.protect_rtp(&mut b, size).unwrap();
                    b.truncate(n);
                    b
                })
                .collect();
            g.bench_function(
                BenchmarkId::new(format!("{}/{name}", p.name()), size),
                |b| {
                    b.iter_custom(|iters| {
                        let mut rx = context(p, backend);
                        let mut next = 0usize;
                        let mut batch: Vec<Vec<u8>> =
                            (0..BATCH).map(|_| Vec::with_capacity(size + 32)).collect();
                        let mut spent = Duration::ZERO;
                        let mut done = 0u64;
                        while done < iters {
                            let n = BATCH.min((iters - done) as usize);
                            if next + n > packets.len() {
                                rx = context(p, backend);
                                next = 0;
                            }
                            for (dst, src) in batch.iter_mut().zip(&packets[next..next + n]) {
                                dst.clear();
                                dst.extend_from_slice(src);
                            }
                            let t = Instant::now();
                            for pkt in &mut batch[..n] {
                                black_box(rx.unprotect_rtp(pkt).unwrap());
                            }
                            spent += t.elapsed();
                            next += n;
                            done += n as u64;
                        }
                        spent
                    })
                },
            );
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = baseline, protect, unprotect
}
criterion_main!(benches);
