//! Identifiers Ferry mints: branches, tags and Call-IDs (RFC 3261 §8.1.1.7, §19.3). Randomness
//! comes from the caller, so tests are deterministic and the core keeps no global state.

use rand::Rng;

use super::via::BRANCH_COOKIE;

fn random_hex<R: Rng + ?Sized>(rng: &mut R, bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rng.r#gen::<u8>()))
        .collect()
}

/// A branch: the RFC 3261 magic cookie and 64 random bits (§8.1.1.7: unique in space and time).
pub fn new_branch<R: Rng + ?Sized>(rng: &mut R) -> String {
    format!("{BRANCH_COOKIE}{}", random_hex(rng, 8))
}

/// A From/To tag: 64 random bits (§19.3 asks for at least 32).
pub fn new_tag<R: Rng + ?Sized>(rng: &mut R) -> String {
    random_hex(rng, 8)
}

/// A Call-ID: 128 random bits, no host part (so no address of ours leaks, §8.1.1.4).
pub fn new_call_id<R: Rng + ?Sized>(rng: &mut R) -> String {
    random_hex(rng, 16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn shapes() {
        let mut rng = StdRng::seed_from_u64(1);
        let b = new_branch(&mut rng);
        assert!(b.starts_with("z9hG4bK") && b.len() == 23);
        assert_eq!(new_tag(&mut rng).len(), 16);
        assert_eq!(new_call_id(&mut rng).len(), 32);
        assert_ne!(new_tag(&mut rng), new_tag(&mut rng));
    }
}
