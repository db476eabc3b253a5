//! Ferry's SRTP/SRTCP against two independent implementations, byte for byte: webrtc-srtp (pure
//! Rust) and Debian's libsrtp2 (through the `srtp` crate). For every profile and both
//! directions (we protect and they unprotect; they protect and we unprotect), thousands of
//! random packets with random headers across a sequence-number wrap; plus reordering around
//! the wrap and a stream resumed after more than 2^15 lost packets, with the oracle as sender.

use ferry::srtp::{Config, Context, GcmBackend, MasterKey, Profile};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use srtp::{CryptoPolicy, Session, StreamPolicy};
use webrtc_srtp::context::Context as WebRtc;
use webrtc_srtp::protection_profile::ProtectionProfile;

const PACKETS: usize = 3_000;

fn keys(p: Profile, rng: &mut StdRng) -> (Vec<u8>, Vec<u8>) {
    let mut k = vec![0u8; p.key_len()];
    let mut s = vec![0u8; p.salt_len()];
    rng.fill(&mut k[..]);
    rng.fill(&mut s[..]);
    (k, s)
}

fn ours(p: Profile, k: &(Vec<u8>, Vec<u8>), backend: GcmBackend) -> Context {
    let cfg = Config {
        gcm_backend: backend,
        ..Config::default()
    };
    Context::new(p, &MasterKey::new(p, &k.0, &k.1).unwrap(), &cfg).unwrap()
}

fn webrtc(p: Profile, k: &(Vec<u8>, Vec<u8>)) -> WebRtc {
    let pp = match p {
        Profile::Aes128CmSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
        Profile::Aes128CmSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
        Profile::AeadAes128Gcm => ProtectionProfile::AeadAes128Gcm,
        Profile::AeadAes256Gcm => ProtectionProfile::AeadAes256Gcm,
    };
    WebRtc::new(&k.0, &k.1, pp, None, None).unwrap()
}

fn libsrtp(p: Profile, k: &(Vec<u8>, Vec<u8>), outbound: bool) -> Session {
    let (rtp, rtcp) = match p {
        Profile::Aes128CmSha1_80 => (
            CryptoPolicy::aes_cm_128_hmac_sha1_80(),
            CryptoPolicy::aes_cm_128_hmac_sha1_80(),
        ),
        // RFC 5764 §4.1.2: SRTCP keeps the 80-bit tag with the _32 profile.
        Profile::Aes128CmSha1_32 => (
            CryptoPolicy::aes_cm_128_hmac_sha1_32(),
            CryptoPolicy::aes_cm_128_hmac_sha1_80(),
        ),
        Profile::AeadAes128Gcm => (
            CryptoPolicy::aes_gcm_128_16_auth(),
            CryptoPolicy::aes_gcm_128_16_auth(),
        ),
        Profile::AeadAes256Gcm => (
            CryptoPolicy::aes_gcm_256_16_auth(),
            CryptoPolicy::aes_gcm_256_16_auth(),
        ),
    };
    let key: Vec<u8> = k.0.iter().chain(&k.1).copied().collect();
    let policy = StreamPolicy {
        rtp,
        rtcp,
        key: &key,
        window_size: 1024,
        ..Default::default()
    };
    if outbound {
        Session::with_outbound_template(policy)
    } else {
        Session::with_inbound_template(policy)
    }
    .unwrap()
}

/// A random RTP packet: CSRCs, maybe a header extension, random payload.
fn random_rtp(rng: &mut StdRng, ssrc: u32, seq: u16) -> Vec<u8> {
    let cc = rng.gen_range(0..4u8);
    let ext = rng.gen_bool(0.5);
    let mut p = vec![
        0x80 | cc | if ext { 0x10 } else { 0 },
        rng.gen_range(0..128),
    ];
    p.extend(seq.to_be_bytes());
    p.extend(rng.r#gen::<u32>().to_be_bytes());
    p.extend(ssrc.to_be_bytes());
    for _ in 0..cc {
        p.extend(rng.r#gen::<u32>().to_be_bytes());
    }
    if ext {
        // Well-formed RFC 8285 one-byte elements (webrtc-srtp re-parses the header to find the
        // AEAD additional data, so random bytes there would test its parser, not SRTP).
        let mut body = Vec::new();
        for _ in 0..rng.gen_range(1..4) {
            let len = rng.gen_range(1..=4u8);
            body.push((rng.gen_range(1..15u8) << 4) | (len - 1));
            body.extend((0..len).map(|_| rng.r#gen::<u8>()));
        }
        while body.len() % 4 != 0 {
            body.push(0);
        }
        p.extend([0xBE, 0xDE]);
        p.extend(((body.len() / 4) as u16).to_be_bytes());
        p.extend(body);
    }
    let n = rng.gen_range(1..1200);
    p.extend((0..n).map(|_| rng.r#gen::<u8>()));
    p
}

fn random_rtcp(rng: &mut StdRng, ssrc: u32) -> Vec<u8> {
    let blocks = rng.gen_range(0..4usize);
    let mut p = vec![0x80 | blocks as u8, 201];
    p.extend(((1 + 6 * blocks) as u16).to_be_bytes());
    p.extend(ssrc.to_be_bytes());
    p.extend((0..24 * blocks).map(|_| rng.r#gen::<u8>()));
    p
}

fn protect(c: &mut Context, plain: &[u8], rtcp: bool) -> Vec<u8> {
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + 64, 0);
    let n = if rtcp {
        c.protect_rtcp(&mut buf, plain.len())
    } else {
        c.protect_rtp(&mut buf, plain.len())
    }
    .unwrap();
    buf.truncate(n);
    buf
}

fn unprotect(c: &mut Context, packet: &[u8], rtcp: bool) -> Vec<u8> {
    let mut buf = packet.to_vec();
    let n = if rtcp {
        c.unprotect_rtcp(&mut buf)
    } else {
        c.unprotect_rtp(&mut buf)
    }
    .unwrap_or_else(|e| panic!("{e}"));
    buf.truncate(n);
    buf
}

/// Random SSRC/sequence pairs for `PACKETS` packets over three streams that cross a wrap.
fn schedule(rng: &mut StdRng) -> Vec<(u32, u16)> {
    let ssrcs: Vec<u32> = (0..3).map(|_| rng.r#gen()).collect();
    let mut next: Vec<u16> = ssrcs
        .iter()
        .map(|_| 65_535 - rng.gen_range(0..1500))
        .collect();
    (0..PACKETS)
        .map(|_| {
            let i = rng.gen_range(0..ssrcs.len());
            let seq = next[i];
            next[i] = seq.wrapping_add(1);
            (ssrcs[i], seq)
        })
        .collect()
}

#[test]
fn webrtc_srtp_agrees_both_ways_in_every_profile() {
    let mut rng = StdRng::seed_from_u64(0x5eed_0001);
    for p in Profile::ALL {
        for backend in [GcmBackend::Ring, GcmBackend::RustCrypto] {
            let k = keys(p, &mut rng);
            let (mut our_tx, mut our_rx) = (ours(p, &k, backend), ours(p, &k, backend));
            let (mut their_tx, mut their_rx) = (webrtc(p, &k), webrtc(p, &k));
            for (ssrc, seq) in schedule(&mut rng) {
                let plain = random_rtp(&mut rng, ssrc, seq);
                let mine = protect(&mut our_tx, &plain, false);
                let theirs = their_tx.encrypt_rtp(&plain).unwrap();
                assert_eq!(
                    mine,
                    theirs.to_vec(),
                    "{p} {backend:?}: identical SRTP for seq {seq}"
                );
                assert_eq!(their_rx.decrypt_rtp(&mine).unwrap().to_vec(), plain);
                assert_eq!(unprotect(&mut our_rx, &theirs, false), plain);
                if seq % 16 == 0 {
                    let rtcp = random_rtcp(&mut rng, ssrc);
                    let mine = protect(&mut our_tx, &rtcp, true);
                    assert_eq!(
                        their_rx.decrypt_rtcp(&mine).unwrap().to_vec(),
                        rtcp,
                        "{p}: they read our SRTCP"
                    );
                    let theirs = their_tx.encrypt_rtcp(&rtcp).unwrap();
                    assert_eq!(
                        unprotect(&mut our_rx, &theirs, true),
                        rtcp,
                        "{p}: we read their SRTCP"
                    );
                }
            }
        }
    }
}

#[test]
fn libsrtp_agrees_both_ways_in_every_profile() {
    let mut rng = StdRng::seed_from_u64(0x5eed_0002);
    for p in Profile::ALL {
        let k = keys(p, &mut rng);
        let (mut our_tx, mut our_rx) =
            (ours(p, &k, GcmBackend::Ring), ours(p, &k, GcmBackend::Ring));
        let (mut their_tx, mut their_rx) = (libsrtp(p, &k, true), libsrtp(p, &k, false));
        for (ssrc, seq) in schedule(&mut rng) {
            let plain = random_rtp(&mut rng, ssrc, seq);
            let mine = protect(&mut our_tx, &plain, false);
            let mut theirs = plain.clone();
            their_tx.protect(&mut theirs).unwrap();
            assert_eq!(mine, theirs, "{p}: identical SRTP for seq {seq}");
            let mut back = mine.clone();
            their_rx.unprotect(&mut back).unwrap();
            assert_eq!(back, plain);
            assert_eq!(unprotect(&mut our_rx, &theirs, false), plain);
            if seq % 16 == 0 {
                let rtcp = random_rtcp(&mut rng, ssrc);
                let mut back = protect(&mut our_tx, &rtcp, true);
                their_rx.unprotect_rtcp(&mut back).unwrap();
                assert_eq!(back, rtcp, "{p}: libsrtp reads our SRTCP");
                let mut theirs = rtcp.clone();
                their_tx.protect_rtcp(&mut theirs).unwrap();
                assert_eq!(
                    unprotect(&mut our_rx, &theirs, true),
                    rtcp,
                    "{p}: we read libsrtp's SRTCP"
                );
            }
        }
    }
}

/// Both oracles as senders across a wrap; we receive 65534, 0, 65535, 1 style reordering.
#[test]
fn oracle_streams_reordered_around_the_wrap_decrypt() {
    let mut rng = StdRng::seed_from_u64(0x5eed_0003);
    for p in Profile::ALL {
        let k = keys(p, &mut rng);
        let mut their_tx = webrtc(p, &k);
        let mut lib_tx = libsrtp(p, &k, true);
        let seqs: Vec<u16> = (65_500..=65_535).chain(0..40).collect();
        let plains: Vec<Vec<u8>> = seqs.iter().map(|s| random_rtp(&mut rng, 77, *s)).collect();
        let from_webrtc: Vec<Vec<u8>> = plains
            .iter()
            .map(|pl| their_tx.encrypt_rtp(pl).unwrap().to_vec())
            .collect();
        let from_lib: Vec<Vec<u8>> = plains
            .iter()
            .map(|pl| {
                let mut b = pl.clone();
                lib_tx.protect(&mut b).unwrap();
                b
            })
            .collect();
        assert_eq!(
            from_webrtc, from_lib,
            "{p}: the two oracles agree with each other"
        );
        // Swap neighbours everywhere, so the wrap itself arrives out of order.
        let mut order: Vec<usize> = (0..seqs.len()).collect();
        for pair in order.chunks_mut(2) {
            pair.reverse();
        }
        order.swap(35, 36); // 65535 <-> 0 straddle
        let mut rx = ours(p, &k, GcmBackend::Ring);
        for i in order {
            assert_eq!(
                unprotect(&mut rx, &from_webrtc[i], false),
                plains[i],
                "{p} seq {}",
                seqs[i]
            );
        }
        assert_eq!(rx.roc(77), Some(1));
    }
}

/// The "11-minute bug": the sender (webrtc-srtp) keeps going through more than 2^15 packets
/// that never arrive; the first packet after the outage and those after it decrypt.
#[test]
fn oracle_stream_resumed_after_a_long_outage_decrypts() {
    let mut rng = StdRng::seed_from_u64(0x5eed_0004);
    for p in [Profile::Aes128CmSha1_80, Profile::AeadAes128Gcm] {
        let k = keys(p, &mut rng);
        let mut tx = webrtc(p, &k);
        let mut rx = ours(p, &k, GcmBackend::Ring);
        let mut seq = 100u16;
        for _ in 0..20 {
            let pl = random_rtp(&mut rng, 9, seq);
            assert_eq!(unprotect(&mut rx, &tx.encrypt_rtp(&pl).unwrap(), false), pl);
            seq = seq.wrapping_add(1);
        }
        for _ in 0..45_000 {
            tx.encrypt_rtp(&[
                0x80,
                0,
                (seq >> 8) as u8,
                seq as u8,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                9,
                0xAA,
            ])
            .unwrap();
            seq = seq.wrapping_add(1);
        }
        for _ in 0..20 {
            let pl = random_rtp(&mut rng, 9, seq);
            assert_eq!(
                unprotect(&mut rx, &tx.encrypt_rtp(&pl).unwrap(), false),
                pl,
                "{p}: after the outage"
            );
            seq = seq.wrapping_add(1);
        }
    }
}
