//! The proof-of-work CAPTCHA: every refusal by name, single use, bounded memory, the page's
//! solver (`assets/pow.js` under `node`) against this verifier, and property tests.

use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;

const NOW: u64 = 1_798_102_800;
const SECRET: [u8; 32] = [0x42; 32];

/// Brute force, as the page does.
fn solve(c: &Challenge) -> String {
    (0u64..)
        .map(|n| n.to_string())
        .find(|n| solves(&c.salt, n, c.bits))
        .unwrap()
}

fn setup(bits: u8) -> (Captcha, Challenge) {
    let captcha = Captcha::new(SECRET, bits);
    let challenge = captcha.issue(NOW, &mut StdRng::seed_from_u64(1));
    (captcha, challenge)
}

#[test]
fn challenge_shape() {
    let (_, c) = setup(DEFAULT_BITS);
    assert_eq!(c.bits, DEFAULT_BITS);
    assert_eq!(c.expires, NOW + CHALLENGE_TTL);
    assert_eq!(c.salt.len(), 22);
    assert_eq!(c.id.len(), 56);
    let json = serde_json::to_string(&c).unwrap();
    assert!(json.starts_with(r#"{"id":""#) && json.contains(r#""bits":18,"expires":1798102920}"#));
}

#[test]
fn a_solution_redeems_once() {
    let (mut captcha, c) = setup(8);
    let nonce = solve(&c);
    assert_eq!(captcha.verify(&c.id, &nonce, NOW + 5), Ok(()));
    assert_eq!(
        captcha.verify(&c.id, &nonce, NOW + 6),
        Err(CaptchaError::Replayed)
    );
    assert_eq!(captcha.redeemed_len(), 1);
}

#[test]
fn a_wrong_solution_is_refused_and_does_not_burn_the_challenge() {
    let (mut captcha, c) = setup(8);
    let nonce = solve(&c);
    let wrong = (0u64..)
        .map(|n| n.to_string())
        .find(|n| !solves(&c.salt, n, c.bits))
        .unwrap();
    assert_eq!(
        captcha.verify(&c.id, &wrong, NOW),
        Err(CaptchaError::WrongSolution)
    );
    assert_eq!(captcha.redeemed_len(), 0);
    assert_eq!(captcha.verify(&c.id, &nonce, NOW), Ok(()));
}

#[test]
fn expiry_edge() {
    let (mut captcha, c) = setup(4);
    let nonce = solve(&c);
    assert_eq!(
        captcha.verify(&c.id, &nonce, c.expires + 1),
        Err(CaptchaError::Expired)
    );
    assert_eq!(captcha.verify(&c.id, &nonce, c.expires), Ok(()));
}

#[test]
fn another_secret_is_forged() {
    let (_, c) = setup(4);
    let nonce = solve(&c);
    let mut other = Captcha::new([0x43; 32], 4);
    assert_eq!(other.verify(&c.id, &nonce, NOW), Err(CaptchaError::Forged));
}

#[test]
fn lowering_the_difficulty_in_the_id_is_forged() {
    let (mut captcha, c) = setup(20);
    let mut id = URL_SAFE_NO_PAD.decode(&c.id).unwrap();
    id[SIGNED_LEN - 1] = 1;
    let easy = URL_SAFE_NO_PAD.encode(&id);
    let nonce = (0u64..)
        .map(|n| n.to_string())
        .find(|n| solves(&c.salt, n, 1))
        .unwrap();
    assert_eq!(
        captcha.verify(&easy, &nonce, NOW),
        Err(CaptchaError::Forged)
    );
    // Likewise a later expiry.
    let mut id = URL_SAFE_NO_PAD.decode(&c.id).unwrap();
    id[SIGNED_LEN - 2] ^= 0x80;
    let later = URL_SAFE_NO_PAD.encode(&id);
    assert_eq!(captcha.verify(&later, "1", NOW), Err(CaptchaError::Forged));
}

#[test]
fn malformed_inputs() {
    let (mut captcha, c) = setup(4);
    let nonce = solve(&c);
    let mut v2 = URL_SAFE_NO_PAD.decode(&c.id).unwrap();
    v2[0] = 2;
    let v2 = URL_SAFE_NO_PAD.encode(&v2);
    let long = "1".repeat(MAX_NONCE_LEN + 1);
    let cases: [(&str, &str); 8] = [
        (&c.id, ""),
        (&c.id, "12a"),
        (&c.id, "-1"),
        (&c.id, &long),
        ("", &nonce),
        ("not base64!", &nonce),
        (&c.id[..c.id.len() - 4], &nonce),
        (&v2, &nonce),
    ];
    for (id, nonce) in cases {
        assert_eq!(
            captcha.verify(id, nonce, NOW),
            Err(CaptchaError::Malformed),
            "{id:?} {nonce:?}"
        );
    }
}

#[test]
fn memory_is_capped_and_pruned_on_expiry() {
    let mut captcha = Captcha::new(SECRET, 2).with_capacity(3);
    let mut rng = StdRng::seed_from_u64(9);
    let mut redeem = |captcha: &mut Captcha, issued: u64, now: u64| {
        let c = captcha.issue(issued, &mut rng);
        captcha.verify(&c.id, &solve(&c), now)
    };
    for _ in 0..3 {
        assert_eq!(redeem(&mut captcha, NOW, NOW), Ok(()));
    }
    assert_eq!(redeem(&mut captcha, NOW, NOW), Err(CaptchaError::Busy));
    assert_eq!(captcha.redeemed_len(), 3);
    // Once the first three have expired, their slots are free again.
    let later = NOW + CHALLENGE_TTL + 1;
    assert_eq!(redeem(&mut captcha, later, later), Ok(()));
    assert_eq!(captcha.redeemed_len(), 1);
}

#[test]
fn leading_zero_bits_counts() {
    assert_eq!(leading_zero_bits(&[0x80]), 0);
    assert_eq!(leading_zero_bits(&[0x00, 0x01]), 15);
    assert_eq!(leading_zero_bits(&[0x00, 0x00]), 16);
    assert_eq!(leading_zero_bits(&[0x0f, 0x00]), 4);
}

#[test]
#[should_panic(expected = "difficulty above")]
fn difficulty_is_bounded() {
    let _ = Captcha::new(SECRET, MAX_BITS + 1);
}

/// The page's solver, run by `node` on a challenge from this verifier, with both engines.
#[test]
fn pow_js_solves_what_rust_verifies() {
    let pow = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/pow.js");
    let script = format!(
        "import {{ solve }} from {pow:?};\n\
         const [c, engine] = [JSON.parse(process.argv[1]), process.argv[2]];\n\
         console.log(await solve(c, {{ engine }}));"
    );
    for (bits, engine, seed) in [(16, "js", 3), (10, "subtle", 4), (0, "js", 5)] {
        let mut captcha = Captcha::new(SECRET, bits);
        let c = captcha.issue(NOW, &mut StdRng::seed_from_u64(seed));
        let json = serde_json::to_string(&c).unwrap();
        let out = match std::process::Command::new("node")
            .args(["--input-type=module", "-e", &script, &json, engine])
            .output()
        {
            Ok(out) => out,
            Err(e) => {
                eprintln!("skipping the pow.js check: node not runnable ({e})");
                return;
            }
        };
        assert!(
            out.status.success(),
            "node: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let nonce = String::from_utf8(out.stdout).unwrap();
        let nonce = nonce.trim();
        assert_eq!(
            captcha.verify(&c.id, nonce, NOW + 1),
            Ok(()),
            "{engine} {nonce}"
        );
    }
}

/// pow.js's own one-block SHA-256 (it falls back to WebCrypto if it is wrong, which would
/// hide a bug from the test above) against the FIPS 180-2 "abc" vector and `sha2` at every
/// length up to a block.
#[test]
fn pow_js_sha256_matches() {
    let pow = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/pow.js");
    let script = format!(
        "import {{ sha256Short }} from {pow:?};\n\
         const hex = (b) => Buffer.from(b).toString('hex');\n\
         const msgs = ['abc', ...Array.from({{ length: 56 }}, (_, n) => 'x'.repeat(n))];\n\
         console.log(msgs.map((m) => hex(sha256Short(new TextEncoder().encode(m)))).join(' '));"
    );
    let out = match std::process::Command::new("node")
        .args(["--input-type=module", "-e", &script])
        .output()
    {
        Ok(out) => out,
        Err(e) => {
            eprintln!("skipping the pow.js check: node not runnable ({e})");
            return;
        }
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let got: Vec<&str> = stdout.split_whitespace().collect();
    assert_eq!(
        got[0],
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
    for (n, hex) in got[1..].iter().enumerate() {
        let want = Sha256::digest("x".repeat(n).as_bytes());
        assert_eq!(*hex, hex::encode(want), "length {n}");
    }
    assert_eq!(got.len(), 57);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A random nonce verifies with probability 2^-bits; at 32 bits, 256 tries (a 6e-8 chance
    /// of a false alarm per run) never should.
    #[test]
    fn prop_random_nonce_almost_never_verifies(seed: u64, nonce in 0u64..) {
        let mut captcha = Captcha::new(SECRET, MAX_BITS);
        let c = captcha.issue(NOW, &mut StdRng::seed_from_u64(seed));
        let r = captcha.verify(&c.id, &nonce.to_string(), NOW);
        prop_assert_eq!(r, Err(CaptchaError::WrongSolution));
    }

    /// Any single-byte change of the id is refused, even with a nonce that solves the real one.
    #[test]
    fn prop_changed_id_refused(seed: u64, pos: prop::sample::Index, byte: u8) {
        let mut captcha = Captcha::new(SECRET, 4);
        let c = captcha.issue(NOW, &mut StdRng::seed_from_u64(seed));
        let nonce = solve(&c);
        let mut id = c.id.clone().into_bytes();
        let i = pos.index(id.len());
        prop_assume!(id[i] != byte);
        id[i] = byte;
        let id = String::from_utf8_lossy(&id);
        prop_assert!(captcha.verify(&id, &nonce, NOW).is_err());
    }
}
