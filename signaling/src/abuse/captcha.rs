//! A self-hosted proof-of-work CAPTCHA: the page must find a nonce such that
//! `SHA-256(salt || nonce)` starts with `bits` zero bits, which costs a browser about 2^bits
//! hashes and the server one.
//!
//! Issuing is stateless: the challenge id carries the salt, the expiry and the difficulty under an
//! HMAC tag, so the server stores nothing for a challenge until it is redeemed. Redemption is
//! single-use: a redeemed challenge is remembered until it expires (two minutes), in a set pruned
//! on expiry and capped. Only correct solutions take a slot, so filling the set costs the
//! attacker `cap` solved puzzles within two minutes; when it is full, verification fails closed
//! ([`CaptchaError::Busy`]) rather than forgetting redemptions that could then be replayed.
//!
//! The secret should be random per process ([`Captcha::random`]): a restart then invalidates
//! every outstanding challenge, and so no redemption forgotten by the restart can be replayed.
//!
//! Wire format (the page's solver is `assets/pow.js`):
//!
//! ```text
//! challenge (JSON) = {"id": ID, "salt": SALT, "bits": 18, "expires": UNIX_SECONDS}
//! SALT  = base64url-nopad(16 random bytes)                     ; 22 ASCII characters
//! ID    = base64url-nopad(0x01 || salt(16) || expires(u64 BE) || bits(u8) || tag(16))
//! tag   = HMAC-SHA256(secret, "ferry-pow-1" || the 26 bytes before it)[..16]
//! nonce = decimal digits, 1 to 20 characters
//! solved when SHA-256(ASCII(SALT) || ASCII(nonce)) has at least `bits` leading zero bits
//! ```

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The default difficulty: about 2^18 hashes for the page.
pub const DEFAULT_BITS: u8 = 18;
/// The highest difficulty accepted.
pub const MAX_BITS: u8 = 32;
/// Seconds a challenge stays valid.
pub const CHALLENGE_TTL: u64 = 120;
/// Redeemed challenges remembered at most (about 50 bytes each).
pub const DEFAULT_CAPACITY: usize = 100_000;
/// The longest nonce accepted, in digits (a u64).
pub const MAX_NONCE_LEN: usize = 20;

const SALT_LEN: usize = 16;
const TAG_LEN: usize = 16;
const VERSION: u8 = 1;
const SIGNED_LEN: usize = 1 + SALT_LEN + 8 + 1;
const ID_LEN: usize = SIGNED_LEN + TAG_LEN;
const MAC_CONTEXT: &[u8] = b"ferry-pow-1";

/// A puzzle for the page, serialized as the JSON the page receives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Challenge {
    /// Opaque, signed: send it back with the nonce.
    pub id: String,
    /// The salt the page hashes (base64url text, hashed as ASCII).
    pub salt: String,
    /// Leading zero bits required.
    pub bits: u8,
    /// Unix seconds after which the challenge is refused.
    pub expires: u64,
}

/// Why a solution is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CaptchaError {
    /// The id or the nonce is not of the right shape.
    #[error("malformed challenge or nonce")]
    Malformed,
    /// The id was not issued by this server (or this process: the secret changed).
    #[error("challenge not issued here")]
    Forged,
    /// The challenge expired: fetch a new one.
    #[error("challenge expired")]
    Expired,
    /// The challenge was redeemed already.
    #[error("challenge already used")]
    Replayed,
    /// The hash does not have enough leading zero bits.
    #[error("wrong solution")]
    WrongSolution,
    /// Too many redeemed challenges outstanding: refused until some expire.
    #[error("too many challenges redeemed; try again shortly")]
    Busy,
}

/// Issues and verifies proof-of-work challenges; remembers redeemed ones.
pub struct Captcha {
    secret: Zeroizing<[u8; 32]>,
    bits: u8,
    capacity: usize,
    /// (expires, salt) of redeemed challenges, oldest expiry first.
    redeemed: BTreeSet<(u64, [u8; SALT_LEN])>,
}

impl std::fmt::Debug for Captcha {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Captcha")
            .field("bits", &self.bits)
            .field("redeemed", &self.redeemed.len())
            .finish_non_exhaustive()
    }
}

impl Captcha {
    /// A CAPTCHA signing with `secret` at `difficulty_bits`.
    ///
    /// # Panics
    ///
    /// If `difficulty_bits` is above [`MAX_BITS`].
    pub fn new(secret: [u8; 32], difficulty_bits: u8) -> Captcha {
        assert!(
            difficulty_bits <= MAX_BITS,
            "difficulty above {MAX_BITS} bits"
        );
        Captcha {
            secret: Zeroizing::new(secret),
            bits: difficulty_bits,
            capacity: DEFAULT_CAPACITY,
            redeemed: BTreeSet::new(),
        }
    }

    /// A CAPTCHA with a secret from the OS, valid for this process only.
    ///
    /// # Panics
    ///
    /// If `difficulty_bits` is above [`MAX_BITS`].
    pub fn random(difficulty_bits: u8) -> Captcha {
        let mut secret = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(secret.as_mut());
        Self::new(*secret, difficulty_bits)
    }

    /// Remembers at most `capacity` redeemed challenges (default [`DEFAULT_CAPACITY`]).
    pub fn with_capacity(mut self, capacity: usize) -> Captcha {
        self.capacity = capacity;
        self
    }

    /// Changes the difficulty of challenges issued from now on (raise it under attack).
    ///
    /// # Panics
    ///
    /// If `bits` is above [`MAX_BITS`].
    pub fn set_bits(&mut self, bits: u8) {
        assert!(bits <= MAX_BITS, "difficulty above {MAX_BITS} bits");
        self.bits = bits;
    }

    /// How many redeemed challenges are remembered.
    pub fn redeemed_len(&self) -> usize {
        self.redeemed.len()
    }

    /// A new challenge, valid until `now_unix + CHALLENGE_TTL`.
    pub fn issue(&self, now_unix: u64, rng: &mut impl RngCore) -> Challenge {
        let mut salt = [0u8; SALT_LEN];
        rng.fill_bytes(&mut salt);
        let expires = now_unix.saturating_add(CHALLENGE_TTL);
        let mut id = [0u8; ID_LEN];
        id[0] = VERSION;
        id[1..1 + SALT_LEN].copy_from_slice(&salt);
        id[1 + SALT_LEN..SIGNED_LEN - 1].copy_from_slice(&expires.to_be_bytes());
        id[SIGNED_LEN - 1] = self.bits;
        let tag = self.mac(&id[..SIGNED_LEN]).finalize().into_bytes();
        id[SIGNED_LEN..].copy_from_slice(&tag[..TAG_LEN]);
        Challenge {
            id: URL_SAFE_NO_PAD.encode(id),
            salt: URL_SAFE_NO_PAD.encode(salt),
            bits: self.bits,
            expires,
        }
    }

    fn mac(&self, signed: &[u8]) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.as_ref()).expect("any key");
        mac.update(MAC_CONTEXT);
        mac.update(signed);
        mac
    }

    /// Checks a solution and, if it is right, redeems the challenge (single use).
    pub fn verify(
        &mut self,
        challenge_id: &str,
        nonce: &str,
        now_unix: u64,
    ) -> Result<(), CaptchaError> {
        let nonce_ok =
            (1..=MAX_NONCE_LEN).contains(&nonce.len()) && nonce.bytes().all(|b| b.is_ascii_digit());
        if !nonce_ok || challenge_id.len() > 2 * ID_LEN {
            return Err(CaptchaError::Malformed);
        }
        let id = URL_SAFE_NO_PAD
            .decode(challenge_id)
            .map_err(|_| CaptchaError::Malformed)?;
        let id: [u8; ID_LEN] = id.try_into().map_err(|_| CaptchaError::Malformed)?;
        if id[0] != VERSION {
            return Err(CaptchaError::Malformed);
        }
        let (signed, tag) = id.split_at(SIGNED_LEN);
        self.mac(signed)
            .verify_truncated_left(tag)
            .map_err(|_| CaptchaError::Forged)?;
        let salt: [u8; SALT_LEN] = signed[1..1 + SALT_LEN].try_into().expect("length");
        let expires =
            u64::from_be_bytes(signed[1 + SALT_LEN..SIGNED_LEN - 1].try_into().expect("8"));
        let bits = signed[SIGNED_LEN - 1];
        if now_unix > expires {
            return Err(CaptchaError::Expired);
        }
        if self.redeemed.contains(&(expires, salt)) {
            return Err(CaptchaError::Replayed);
        }
        if !solves(&URL_SAFE_NO_PAD.encode(salt), nonce, bits) {
            return Err(CaptchaError::WrongSolution);
        }
        self.prune(now_unix);
        if self.redeemed.len() >= self.capacity {
            return Err(CaptchaError::Busy);
        }
        self.redeemed.insert((expires, salt));
        Ok(())
    }

    /// Forgets redeemed challenges that have expired (they are refused as expired anyway).
    pub fn prune(&mut self, now_unix: u64) {
        while self
            .redeemed
            .first()
            .is_some_and(|&(expires, _)| expires < now_unix)
        {
            self.redeemed.pop_first();
        }
    }
}

/// Whether `SHA-256(salt || nonce)` (both as ASCII) has at least `bits` leading zero bits.
pub fn solves(salt: &str, nonce: &str, bits: u8) -> bool {
    let digest = Sha256::new()
        .chain_update(salt.as_bytes())
        .chain_update(nonce.as_bytes())
        .finalize();
    leading_zero_bits(&digest) >= u32::from(bits)
}

fn leading_zero_bits(bytes: &[u8]) -> u32 {
    let mut n = 0;
    for &b in bytes {
        n += b.leading_zeros();
        if b != 0 {
            break;
        }
    }
    n
}

#[cfg(test)]
#[path = "captcha_tests.rs"]
mod tests;
