//! Call links: every refusal by name, rotation and retirement, the key file, the store across a
//! reopen and under a race, the CLI, and property tests over tokens.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;

const NOW: u64 = 1_798_102_800; // 2026-12-24T09:00:00Z

fn rng() -> StdRng {
    StdRng::seed_from_u64(7)
}

/// A directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let mut bytes = [0u8; 8];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        let dir = std::env::temp_dir().join(format!("ferry-links-{tag}-{}", hex::encode(bytes)));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sample(rng: &mut StdRng) -> LinkClaims {
    LinkClaims {
        name: Some("Ann".into()),
        not_before: Some(NOW - 60),
        not_after: Some(NOW + 3600),
        one_time: true,
        ..LinkClaims::new("sales", rng)
    }
}

#[test]
fn sign_then_verify_returns_the_claims_with_the_active_kid() {
    let mut rng = rng();
    let ring = Keyring::generate(&mut rng);
    let claims = sample(&mut rng);
    let token = ring.sign(&claims);
    let got = ring.verify(&token, NOW).unwrap();
    assert_eq!(got.kid, ring.active_kid());
    assert_eq!(
        got,
        LinkClaims {
            kid: ring.active_kid().to_owned(),
            ..claims
        }
    );
    assert_eq!(got.id.len(), 22, "128-bit id, base64url");
}

#[test]
fn window_edges() {
    let mut rng = rng();
    let ring = Keyring::generate(&mut rng);
    let claims = LinkClaims {
        not_before: Some(NOW),
        not_after: Some(NOW + 10),
        ..LinkClaims::new("sales", &mut rng)
    };
    let token = ring.sign(&claims);
    assert_eq!(
        ring.verify(&token, NOW - 1),
        Err(LinkError::NotYetActive { starts: NOW })
    );
    assert!(ring.verify(&token, NOW).is_ok());
    assert!(ring.verify(&token, NOW + 10).is_ok());
    assert_eq!(
        ring.verify(&token, NOW + 11),
        Err(LinkError::Expired { ended: NOW + 10 })
    );
    let message = LinkError::NotYetActive { starts: NOW }.to_string();
    assert_eq!(message, "link not active before 2026-12-24T09:00:00Z");
}

#[test]
fn tampered_claims_are_refused() {
    let mut rng = rng();
    let ring = Keyring::generate(&mut rng);
    let token = ring.sign(&LinkClaims::new("sales", &mut rng));
    let (payload, tag) = token.split_once('.').unwrap();
    let json = URL_SAFE_NO_PAD.decode(payload).unwrap();
    let json = String::from_utf8(json).unwrap();
    let forged = json.replace("\"sales\"", "\"admin\"");
    let forged = format!("{}.{tag}", token::b64(forged.as_bytes()));
    assert_eq!(ring.verify(&forged, NOW), Err(LinkError::Tampered));
}

#[test]
fn another_keyrings_token_is_refused() {
    let mut rng = rng();
    let ring = Keyring::generate(&mut rng);
    let other = Keyring::generate(&mut rng);
    let token = other.sign(&LinkClaims::new("sales", &mut rng));
    assert_eq!(ring.verify(&token, NOW), Err(LinkError::UnknownKey));
}

#[test]
fn a_token_naming_a_known_kid_but_signed_elsewhere_is_tampered() {
    let mut rng = rng();
    let ring = Keyring::generate(&mut rng);
    let claims = LinkClaims {
        kid: ring.active_kid().to_owned(),
        ..LinkClaims::new("sales", &mut rng)
    };
    let forged = token::encode(&claims, &[0u8; 32]);
    assert_eq!(ring.verify(&forged, NOW), Err(LinkError::Tampered));
}

#[test]
fn malformed_tokens() {
    let ring = Keyring::generate(&mut rng());
    for bad in ["", "abc", "a.b", "%%%.%%%", "eyJ9.AAAAAAAAAAAAAAAAAAAAAA"] {
        assert_eq!(ring.verify(bad, NOW), Err(LinkError::Malformed), "{bad:?}");
    }
}

#[test]
fn rotation_keeps_old_links_until_the_old_key_is_retired() {
    let mut rng = rng();
    let mut ring = Keyring::generate(&mut rng);
    let old_kid = ring.active_kid().to_owned();
    let old = ring.sign(&LinkClaims::new("sales", &mut rng));
    let new_kid = ring.rotate(&mut rng).to_owned();
    assert_ne!(old_kid, new_kid);
    let new = ring.sign(&LinkClaims::new("sales", &mut rng));
    assert_eq!(ring.verify(&old, NOW).unwrap().kid, old_kid);
    assert_eq!(ring.verify(&new, NOW).unwrap().kid, new_kid);

    assert!(matches!(
        ring.retire(&new_kid),
        Err(KeyringError::RetireActive(_))
    ));
    assert!(matches!(
        ring.retire("nope"),
        Err(KeyringError::NoSuchKey(_))
    ));
    ring.retire(&old_kid).unwrap();
    assert_eq!(ring.verify(&old, NOW), Err(LinkError::RetiredKey));
    assert!(ring.verify(&new, NOW).is_ok());
    let list = ring.list();
    assert_eq!(list.len(), 2);
    assert!(list[0].retired && !list[0].active && list[1].active && !list[1].retired);
}

#[test]
fn keyring_file_round_trips_with_mode_0600() {
    let dir = TempDir::new("keys");
    let mut rng = rng();
    let ring = Keyring::load_or_create(dir.path(), &mut rng).unwrap();
    let path = dir.path().join(KEYRING_FILE);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let token = ring.sign(&LinkClaims::new("sales", &mut rng));

    let again = Keyring::load_or_create(dir.path(), &mut rng).unwrap();
    assert_eq!(again.active_kid(), ring.active_kid());
    assert!(again.verify(&token, NOW).is_ok());
    assert!(
        !format!("{again:?}").contains("secret"),
        "Debug leaks no key"
    );

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    Keyring::load(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "a loose mode is tightened");
}

#[test]
fn keyring_file_errors() {
    let dir = TempDir::new("badkeys");
    let path = dir.path().join(KEYRING_FILE);
    assert!(matches!(Keyring::load(&path), Err(KeyringError::Io { .. })));
    for text in [
        "not json",
        r#"{"active":"x","keys":[]}"#,
        r#"{"active":"x","keys":[{"kid":"x","secret":"AAAA"}]}"#,
        r#"{"active":"x","keys":[{"kid":"x","secret":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","retired":true}]}"#,
    ] {
        std::fs::write(&path, text).unwrap();
        assert!(
            matches!(Keyring::load(&path), Err(KeyringError::Format { .. })),
            "{text}"
        );
    }
}

#[test]
fn store_survives_reopen() {
    let dir = TempDir::new("store");
    {
        let store = LinkStore::open_in(dir.path()).unwrap();
        assert!(!store.is_used("abc").unwrap());
        store.consume("abc", Some(NOW)).unwrap();
        assert!(store.is_used("abc").unwrap());
    }
    let store = LinkStore::open_in(dir.path()).unwrap();
    assert!(store.is_used("abc").unwrap(), "still used after reopen");
    assert!(matches!(
        store.consume("abc", Some(NOW)),
        Err(ConsumeError::AlreadyUsed)
    ));
    assert!(!store.is_used("abd").unwrap());
}

#[test]
fn store_is_locked_against_a_second_opener() {
    let dir = TempDir::new("lock");
    let _store = LinkStore::open_in(dir.path()).unwrap();
    assert!(LinkStore::open_in(dir.path()).is_err());
}

#[test]
fn racing_consumers_exactly_one_wins() {
    let dir = TempDir::new("race");
    let store = Arc::new(LinkStore::open_in(dir.path()).unwrap());
    for round in 0..5 {
        let id = format!("link-{round}");
        let barrier = Arc::new(Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (store, barrier, id) = (store.clone(), barrier.clone(), id.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    store.consume(&id, None)
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let wins = results.iter().filter(|r| r.is_ok()).count();
        let used = results
            .iter()
            .filter(|r| matches!(r, Err(ConsumeError::AlreadyUsed)))
            .count();
        assert_eq!((wins, used), (1, 7), "round {round}");
    }
}

#[test]
fn prune_forgets_only_expired_marks() {
    let dir = TempDir::new("prune");
    let store = LinkStore::open_in(dir.path()).unwrap();
    store.consume("old", Some(NOW - 1)).unwrap();
    store.consume("edge", Some(NOW)).unwrap();
    store.consume("forever", None).unwrap();
    assert_eq!(store.prune(NOW).unwrap(), 1);
    assert!(!store.is_used("old").unwrap());
    assert!(store.is_used("edge").unwrap() && store.is_used("forever").unwrap());
}

#[test]
fn admit_refuses_a_consumed_one_time_link_after_restart() {
    let dir = TempDir::new("admit");
    let mut rng = rng();
    let ring = Keyring::load_or_create(dir.path(), &mut rng).unwrap();
    let once = ring.sign(&sample(&mut rng));
    let many = ring.sign(&LinkClaims::new("sales", &mut rng));
    {
        let store = LinkStore::open_in(dir.path()).unwrap();
        // Opening the page twice consumes nothing.
        let claims = admit(&ring, &store, &once, NOW).unwrap();
        admit(&ring, &store, &once, NOW).unwrap();
        // The call connects.
        store.consume(&claims.id, claims.not_after).unwrap();
        assert_eq!(
            admit(&ring, &store, &once, NOW),
            Err(LinkError::AlreadyUsed)
        );
        let reusable = admit(&ring, &store, &many, NOW).unwrap();
        assert!(!reusable.one_time);
    }
    let ring = Keyring::load_or_create(dir.path(), &mut rng).unwrap();
    let store = LinkStore::open_in(dir.path()).unwrap();
    assert_eq!(
        admit(&ring, &store, &once, NOW),
        Err(LinkError::AlreadyUsed)
    );
    assert!(admit(&ring, &store, &many, NOW).is_ok());
}

#[test]
fn url_shape() {
    assert_eq!(
        url("https://x.example/", "a.b"),
        "https://x.example/call?link=a.b"
    );
    assert_eq!(
        url("https://x.example", "a.b"),
        "https://x.example/call?link=a.b"
    );
}

#[test]
fn cli_create_rotate_retire() {
    let dir = TempDir::new("cli");
    let d = dir.path();
    let link = create_cli(
        d,
        "https://call.example.com",
        "sales",
        Some("Ann"),
        Some("2026-12-24T09:00:00Z"),
        Some("2099-01-01T00:00:00Z"),
        true,
    )
    .unwrap();
    let token = link
        .strip_prefix("https://call.example.com/call?link=")
        .unwrap();
    let ring = Keyring::load(&d.join(KEYRING_FILE)).unwrap();
    let claims = ring.verify(token, NOW).unwrap();
    assert_eq!(claims.dest, "sales");
    assert_eq!(claims.name.as_deref(), Some("Ann"));
    assert_eq!((claims.not_before, claims.one_time), (Some(NOW), true));
    assert!(link.len() < 220, "{} characters: {link}", link.len());

    let kid = ring.active_kid().to_owned();
    assert!(rotate_cli(d).unwrap().contains("new active key"));
    let ring = Keyring::load(&d.join(KEYRING_FILE)).unwrap();
    assert_ne!(ring.active_kid(), kid);
    assert!(
        ring.verify(token, NOW).is_ok(),
        "old link valid after rotation"
    );
    retire_cli(d, &kid).unwrap();
    let ring = Keyring::load(&d.join(KEYRING_FILE)).unwrap();
    assert_eq!(ring.verify(token, NOW), Err(LinkError::RetiredKey));
    let keys = cli::keys_cli(d).unwrap();
    assert_eq!(keys.lines().count(), 2);
    assert!(keys.contains(&format!("{kid} retired")));
    assert!(retire_cli(d, ring.active_kid()).is_err());
}

#[test]
fn cli_refuses_bad_arguments() {
    let dir = TempDir::new("clibad");
    let d = dir.path();
    let base = "https://call.example.com";
    let create = |base, dest, name, nb, na| create_cli(d, base, dest, name, nb, na, false);
    assert!(create("call.example.com", "sales", None, None, None).is_err());
    assert!(create(base, "", None, None, None).is_err());
    assert!(create(base, "sa les", None, None, None).is_err());
    assert!(create(base, "sales", Some("\u{7}"), None, None).is_err());
    assert!(create(base, "sales", None, Some("tomorrow"), None).is_err());
    assert!(create(base, "sales", None, Some("4000000000"), Some("3999999999")).is_err());
    assert!(create(base, "sales", None, None, Some("2000-01-01T00:00:00Z")).is_err());
    assert!(create(base, "+4930123", None, None, None).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn prop_round_trip(
        dest in "[a-z0-9+]{1,64}",
        name in proptest::option::of("\\PC{0,64}"),
        nb in proptest::option::of(0u64..=NOW),
        na in proptest::option::of(NOW..u64::MAX),
        one_time: bool,
        seed: u64,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let ring = Keyring::generate(&mut rng);
        let claims = LinkClaims { name, not_before: nb, not_after: na, one_time,
            ..LinkClaims::new(dest, &mut rng) };
        let got = ring.verify(&ring.sign(&claims), NOW).unwrap();
        prop_assert_eq!(got, LinkClaims { kid: ring.active_kid().to_owned(), ..claims });
    }

    /// Any single-byte change anywhere in a token is refused (whatever the reason).
    #[test]
    fn prop_single_byte_change_refused(seed: u64, pos: prop::sample::Index, byte: u8) {
        let mut rng = StdRng::seed_from_u64(seed);
        let ring = Keyring::generate(&mut rng);
        let token = ring.sign(&sample(&mut rng));
        let mut bytes = token.clone().into_bytes();
        let i = pos.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        let changed = String::from_utf8_lossy(&bytes);
        prop_assert!(ring.verify(&changed, NOW).is_err(), "{} accepted", changed);
    }

    /// Arbitrary input never panics and is never accepted.
    #[test]
    fn prop_garbage_refused(s in "\\PC{0,300}") {
        let ring = Keyring::generate(&mut rng());
        prop_assert!(ring.verify(&s, NOW).is_err());
    }
}
