use proptest::prelude::*;

use super::keys::Transform;
use super::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn session_keys(enc: &[u8], salt: &[u8]) -> SessionKeys {
    let mut k = SessionKeys {
        enc: [0; 32],
        auth: [0; 20],
        salt: [0; 14],
    };
    k.enc[..enc.len()].copy_from_slice(enc);
    k.salt[..salt.len()].copy_from_slice(salt);
    k
}

const BACKENDS: [GcmBackend; 2] = [GcmBackend::Ring, GcmBackend::RustCrypto];

#[test]
fn rfc3711_b2_aes_cm_keystream() {
    let k = session_keys(
        &hex("2B7E151628AED2A6ABF7158809CF4F3C"),
        &hex("F0F1F2F3F4F5F6F7F8F9FAFBFCFD"),
    );
    let t = Transform::from_keys(Profile::Aes128CmSha1_80, &k, GcmBackend::Ring).unwrap();
    let mut ks = [0u8; 48];
    t.cm_crypt(0, 0, &mut ks);
    let want = hex(
        "E03EAD0935C95E80E166B16DD92B4EB4 D23513162B02D0F72A43A2FE4A5F97AB 41E95B3BB0A2E8DD477901E4FCA894C0",
    );
    assert_eq!(ks.to_vec(), want);
}

#[test]
fn rfc3711_b3_key_derivation() {
    let master = MasterKey::new(
        Profile::Aes128CmSha1_80,
        &hex("E1F97A0D3E018BE0D64FA32C06DE4139"),
        &hex("0EC675AD498AFEEBB6960B3AABE6"),
    )
    .unwrap();
    let k = SessionKeys::derive(&master, Label::Rtp);
    assert_eq!(
        k.enc[..16].to_vec(),
        hex("C61E7A93744F39EE10734AFE3FF7A087")
    );
    assert_eq!(k.salt.to_vec(), hex("30CBBC08863D8C85D49DB34A9AE1"));
    assert_eq!(
        k.auth.to_vec(),
        hex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4")
    );
}

// RFC 7714 §16 (RTP) and §17 (RTCP), AEAD_AES_128_GCM with the given session key and salt.
const RFC7714_KEY: &str = "000102030405060708090a0b0c0d0e0f";
const RFC7714_SALT: &str = "517569642070726f2071756f";
const RFC7714_RTP: &str = "8040f17b8041f8d35501a0b2 47616c6c696120657374206f6d6e697320646976697361 20696e207061727465732074726573";
const RFC7714_SRTP: &str = "8040f17b8041f8d35501a0b2 f24de3a3fb34de6cacba861c9d7e4bcabe633bd50d294e6f42a5f47a51c7d19b36de3adf8833899d7f27beb16a9152cf765ee4390cce";
const RFC7714_RTCP: &str = "81c8000d4d617273 4e5450314e545032525450200000042a0000e9304c756e61deadbeefdeadbeefdeadbeefdeadbeefdeadbeef";
const RFC7714_SRTCP: &str = "81c8000d4d617273 63e94885dcdab67ca727d7662f6b7e997ff5c0f76c06f32dc676a5f1730d6fda4ce09b4686303ded0bb9275bc84aa45896cf4d2fc5abf87245d9eade 800005d4";
const RFC7714_SRTCP_AUTH_ONLY: &str = "81c8000d4d617273 4e5450314e545032525450200000042a0000e9304c756e61deadbeefdeadbeefdeadbeefdeadbeefdeadbeef 841dd9683dd78ec92ae58790125f62b3 000005d4";

fn rfc7714_context(backend: GcmBackend) -> Context {
    let k = session_keys(&hex(RFC7714_KEY), &hex(RFC7714_SALT));
    let cfg = Config {
        gcm_backend: backend,
        ..Config::default()
    };
    Context::with_session_keys(Profile::AeadAes128Gcm, &k, &k, &cfg).unwrap()
}

#[test]
fn rfc7714_rtp_vector_both_backends() {
    for backend in BACKENDS {
        let plain = hex(RFC7714_RTP);
        let mut buf = plain.clone();
        buf.resize(plain.len() + 16, 0);
        let n = rfc7714_context(backend)
            .protect_rtp(&mut buf, plain.len())
            .unwrap();
        assert_eq!(buf[..n].to_vec(), hex(RFC7714_SRTP), "{backend:?} protect");
        let mut srtp = hex(RFC7714_SRTP);
        let n = rfc7714_context(backend).unprotect_rtp(&mut srtp).unwrap();
        assert_eq!(srtp[..n].to_vec(), plain, "{backend:?} unprotect");
    }
}

#[test]
fn rfc7714_rtcp_vectors_both_backends() {
    for backend in BACKENDS {
        let plain = hex(RFC7714_RTCP);
        let mut ctx = rfc7714_context(backend);
        ctx.set_rtcp_index(0x4d61_7273, 0x5d4).unwrap();
        let mut buf = plain.clone();
        buf.resize(plain.len() + 20, 0);
        let n = ctx.protect_rtcp(&mut buf, plain.len()).unwrap();
        assert_eq!(buf[..n].to_vec(), hex(RFC7714_SRTCP), "{backend:?} protect");
        let mut srtcp = hex(RFC7714_SRTCP);
        let n = rfc7714_context(backend).unprotect_rtcp(&mut srtcp).unwrap();
        assert_eq!(srtcp[..n].to_vec(), plain, "{backend:?} unprotect");
        let mut tagged = hex(RFC7714_SRTCP_AUTH_ONLY);
        let n = rfc7714_context(backend)
            .unprotect_rtcp(&mut tagged)
            .unwrap();
        assert_eq!(
            tagged[..n].to_vec(),
            plain,
            "{backend:?} authenticated-only SRTCP"
        );
    }
}

fn master(profile: Profile, seed: u8) -> MasterKey {
    let k: Vec<u8> = (0..profile.key_len())
        .map(|i| seed.wrapping_add(i as u8))
        .collect();
    let s: Vec<u8> = (0..profile.salt_len())
        .map(|i| seed.wrapping_mul(3).wrapping_add(i as u8))
        .collect();
    MasterKey::new(profile, &k, &s).unwrap()
}

fn ctx(profile: Profile, backend: GcmBackend) -> Context {
    Context::new(
        profile,
        &master(profile, 7),
        &Config {
            gcm_backend: backend,
            ..Config::default()
        },
    )
    .unwrap()
}

/// An RTP packet with CSRCs and a one-byte header extension.
fn rtp(ssrc: u32, seq: u16, payload: usize) -> Vec<u8> {
    let mut p = vec![0x92, 0x60];
    p.extend(seq.to_be_bytes());
    p.extend((u32::from(seq) * 160).to_be_bytes());
    p.extend(ssrc.to_be_bytes());
    p.extend([0, 0, 0, 1, 0, 0, 0, 2]); // two CSRCs
    p.extend([0xBE, 0xDE, 0, 1, 0x10, 0xAA, 0, 0]); // extension: one word
    p.extend((0..payload).map(|i| i as u8 ^ seq as u8));
    p
}

fn protect(c: &mut Context, plain: &[u8]) -> Vec<u8> {
    let mut buf = plain.to_vec();
    buf.resize(plain.len() + 32, 0);
    let n = c.protect_rtp(&mut buf, plain.len()).unwrap();
    buf.truncate(n);
    buf
}

fn unprotect(c: &mut Context, srtp: &[u8]) -> Result<Vec<u8>, Error> {
    let mut buf = srtp.to_vec();
    let n = c.unprotect_rtp(&mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

#[test]
fn round_trip_every_profile_and_backend() {
    for p in Profile::ALL {
        for b in BACKENDS {
            let (mut tx, mut rx) = (ctx(p, b), ctx(p, b));
            for seq in 0..300u16 {
                for ssrc in [1u32, 0xdead_beef] {
                    let plain = rtp(ssrc, seq, usize::from(seq) % 1200);
                    let srtp = protect(&mut tx, &plain);
                    assert_eq!(srtp.len(), plain.len() + p.rtp_tag_len());
                    if plain.len() > 28 {
                        assert_ne!(srtp[28..plain.len()], plain[28..], "payload is encrypted");
                    }
                    assert_eq!(unprotect(&mut rx, &srtp).unwrap(), plain, "{p} {b:?} {seq}");
                }
                let rtcp = [0x80, 200, 0, 1, 0, 0, 0, 1];
                let mut buf = rtcp.to_vec();
                buf.resize(64, 0);
                let n = tx.protect_rtcp(&mut buf, 8).unwrap();
                assert_eq!(n, 8 + tx.overhead_rtcp());
                let m = rx.unprotect_rtcp(&mut buf[..n]).unwrap();
                assert_eq!(buf[..m], rtcp);
            }
        }
    }
}

#[test]
fn replay_tamper_and_short_packets_are_rejected_without_changing_state() {
    for p in Profile::ALL {
        let (mut tx, mut rx) = (ctx(p, GcmBackend::Ring), ctx(p, GcmBackend::Ring));
        let first = protect(&mut tx, &rtp(9, 100, 50));
        assert!(unprotect(&mut rx, &first).is_ok());
        assert_eq!(unprotect(&mut rx, &first), Err(Error::Replay));
        let second = protect(&mut tx, &rtp(9, 101, 50));
        for i in 0..second.len() {
            let mut bad = second.clone();
            bad[i] ^= 0x40;
            let r = unprotect(&mut rx, &bad);
            assert!(
                matches!(
                    r,
                    Err(Error::AuthFailed | Error::Malformed | Error::UnknownSsrc | Error::Replay)
                ),
                "{p} byte {i}: {r:?}"
            );
        }
        assert_eq!(rx.roc(9), Some(0));
        assert_eq!(
            unprotect(&mut rx, &second).unwrap(),
            rtp(9, 101, 50),
            "{p}: state survived the forgeries"
        );
        assert_eq!(
            unprotect(&mut rx, &second[..12 + p.rtp_tag_len() - 1]),
            Err(Error::TooShort)
        );
        let mut buf = rtp(9, 102, 10);
        let len = buf.len();
        assert_eq!(tx.protect_rtp(&mut buf, len), Err(Error::BufferTooSmall));
        // Older than the window.
        let old = protect(&mut tx, &rtp(9, 103, 5));
        for seq in 104..104 + REPLAY_WINDOW as u16 + 1 {
            let pkt = protect(&mut tx, &rtp(9, seq, 5));
            unprotect(&mut rx, &pkt).unwrap();
        }
        assert_eq!(unprotect(&mut rx, &old), Err(Error::Replay));
    }
}

#[test]
fn fixed_ssrc_policy_and_stream_limit() {
    let p = Profile::AeadAes128Gcm;
    let cfg = Config {
        ssrcs: SsrcPolicy::List(vec![1, 2]),
        ..Config::default()
    };
    let mut rx = Context::new(p, &master(p, 7), &cfg).unwrap();
    let mut tx = ctx(p, GcmBackend::Ring);
    assert!(unprotect(&mut rx, &protect(&mut tx, &rtp(1, 1, 10))).is_ok());
    assert_eq!(
        unprotect(&mut rx, &protect(&mut tx, &rtp(3, 1, 10))),
        Err(Error::UnknownSsrc)
    );
    let cfg = Config {
        max_streams: 2,
        ..Config::default()
    };
    let mut rx = Context::new(p, &master(p, 7), &cfg).unwrap();
    for ssrc in [10, 11] {
        assert!(unprotect(&mut rx, &protect(&mut tx, &rtp(ssrc, 1, 10))).is_ok());
    }
    assert_eq!(
        unprotect(&mut rx, &protect(&mut tx, &rtp(12, 1, 10))),
        Err(Error::UnknownSsrc)
    );
    // A forged packet for a new SSRC does not take a slot.
    let mut rx = Context::new(p, &master(p, 7), &cfg).unwrap();
    let mut forged = protect(&mut tx, &rtp(20, 1, 10));
    *forged.last_mut().unwrap() ^= 1;
    assert_eq!(unprotect(&mut rx, &forged), Err(Error::AuthFailed));
    for ssrc in [21, 22] {
        assert!(unprotect(&mut rx, &protect(&mut tx, &rtp(ssrc, 1, 10))).is_ok());
    }
}

#[test]
fn sequence_wrap_with_reordering_keeps_the_rollover_counter() {
    for p in Profile::ALL {
        let (mut tx, mut rx) = (ctx(p, GcmBackend::Ring), ctx(p, GcmBackend::Ring));
        let seqs: Vec<u16> = (65_530..=65_535).chain(0..6).collect();
        let pkts: Vec<Vec<u8>> = seqs
            .iter()
            .map(|s| protect(&mut tx, &rtp(5, *s, 40)))
            .collect();
        // Arrival order: 65530..65533, then 0, 65535, 65534, 1, 2 ...
        let order = [0usize, 1, 2, 3, 6, 5, 4, 7, 8, 9, 10, 11];
        for &i in &order {
            assert_eq!(
                unprotect(&mut rx, &pkts[i]).unwrap(),
                rtp(5, seqs[i], 40),
                "{p} seq {}",
                seqs[i]
            );
        }
        assert_eq!((tx.roc(5), rx.roc(5)), (Some(1), Some(1)));
    }
}

#[test]
fn stream_resumes_after_more_than_2_pow_15_lost_packets() {
    for p in Profile::ALL {
        for gap in [40_000u32, 70_000, 100_000] {
            let (mut tx, mut rx) = (ctx(p, GcmBackend::Ring), ctx(p, GcmBackend::Ring));
            for seq in 0..10u16 {
                unprotect(&mut rx, &protect(&mut tx, &rtp(5, seq, 20))).unwrap();
            }
            // The sender keeps counting while nothing arrives (lost, or a one-way outage).
            for i in 10..10 + gap {
                protect(&mut tx, &rtp(5, i as u16, 1));
            }
            let resumed = 10 + gap;
            let pkt = protect(&mut tx, &rtp(5, resumed as u16, 20));
            assert_eq!(
                unprotect(&mut rx, &pkt).unwrap(),
                rtp(5, resumed as u16, 20),
                "{p} gap {gap}"
            );
            assert_eq!(rx.roc(5), Some(resumed >> 16));
            let next = protect(&mut tx, &rtp(5, (resumed + 1) as u16, 20));
            assert!(unprotect(&mut rx, &next).is_ok());
        }
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..1600), p in 0usize..4) {
        let profile = Profile::ALL[p];
        let mut c = ctx(profile, GcmBackend::Ring);
        let mut a = bytes.clone();
        let _ = c.unprotect_rtp(&mut a);
        let mut b = bytes.clone();
        let _ = c.unprotect_rtcp(&mut b);
        let mut d = bytes.clone();
        let n = d.len();
        d.resize(n + 40, 0);
        let _ = c.protect_rtp(&mut d, n);
        let _ = c.protect_rtcp(&mut d, n);
    }
}
