//! Session keys (RFC 3711 §4.3 key derivation, RFC 7714 §11) and the cipher state built from
//! them once per context.

use aes::cipher::{KeyIvInit, StreamCipher};
use aes::{Aes128, Aes256};
use hmac::{Hmac, Mac};
use ring::aead::{self, LessSafeKey, UnboundKey};
use sha1::Sha1;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use super::{Error, GcmBackend, MasterKey, Profile};

type Aes128Ctr = ctr::Ctr128BE<Aes128>;
type Aes256Ctr = ctr::Ctr128BE<Aes256>;

/// RFC 3711 §4.3.2 labels.
#[derive(Debug, Clone, Copy)]
pub enum Label {
    /// SRTP (0, 1, 2) or SRTCP (3, 4, 5) keys.
    Rtp = 0,
    /// SRTCP keys.
    Rtcp = 3,
}

/// AES-CM PRF (RFC 3711 §4.3.3) with key derivation rate 0: `n` bytes of keystream keyed with
/// the master key, IV = (label at byte 7) XOR master salt, left-aligned in 16 bytes.
fn derive(master: &MasterKey, label: u8, out: &mut [u8]) {
    let mut iv = [0u8; 16];
    iv[..master.salt().len()].copy_from_slice(master.salt());
    iv[7] ^= label;
    out.fill(0);
    if master.key().len() == 32 {
        Aes256Ctr::new(master.key().into(), &iv.into()).apply_keystream(out);
    } else {
        Aes128Ctr::new(master.key().into(), &iv.into()).apply_keystream(out);
    }
}

/// Derived session keys for SRTP or SRTCP (exposed for the RFC 3711 B.3 vector test).
#[derive(Debug)]
pub struct SessionKeys {
    /// Encryption key (16 or 32 bytes used).
    pub enc: [u8; 32],
    /// Authentication key (20 bytes, CM profiles).
    pub auth: [u8; 20],
    /// Salt (14 bytes for CM, 12 for GCM).
    pub salt: [u8; 14],
}

impl Drop for SessionKeys {
    fn drop(&mut self) {
        self.enc.zeroize();
        self.auth.zeroize();
        self.salt.zeroize();
    }
}

impl SessionKeys {
    /// RFC 3711 §4.3.1: encryption key, authentication key and salt for `label`'s triple.
    pub fn derive(master: &MasterKey, label: Label) -> Self {
        let p = master.profile();
        let mut k = Self {
            enc: [0; 32],
            auth: [0; 20],
            salt: [0; 14],
        };
        let base = label as u8;
        derive(master, base, &mut k.enc[..p.key_len()]);
        if !p.is_aead() {
            derive(master, base + 1, &mut k.auth);
        }
        derive(master, base + 2, &mut k.salt[..p.salt_len()]);
        k
    }
}

/// AES-CM + HMAC-SHA1 state (about 900 bytes with the soft and AES-NI key schedules).
pub struct CmKeys {
    /// Expanded AES key.
    aes: Aes128,
    /// HMAC pre-keyed with the session auth key: cloned per packet, never re-keyed.
    mac: Hmac<Sha1>,
    /// Session salt.
    salt: [u8; 14],
}

impl std::fmt::Debug for CmKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CmKeys")
    }
}

/// Cipher state for one of SRTP or SRTCP, keyed once.
///
/// The GCM key (ring: round keys and GHASH powers, 544 bytes) is inline, so the GCM path reads
/// it at a fixed offset in its context with no pointer chase; the larger CM state is boxed so
/// that it does not inflate every context.
// The GCM variant is the large one on purpose: boxing it would add a pointer chase per packet.
#[allow(clippy::large_enum_variant)]
pub enum Transform {
    /// AES-128 counter mode + HMAC-SHA1 (RFC 3711 §4.1.1, §4.2.1).
    Cm(Box<CmKeys>),
    /// AES-GCM through ring.
    GcmRing {
        /// Key.
        key: LessSafeKey,
        /// Session salt.
        salt: [u8; 12],
    },
    /// AES-128-GCM through RustCrypto.
    Gcm128 {
        /// Key.
        key: Box<aes_gcm::Aes128Gcm>,
        /// Session salt.
        salt: [u8; 12],
    },
    /// AES-256-GCM through RustCrypto.
    Gcm256 {
        /// Key.
        key: Box<aes_gcm::Aes256Gcm>,
        /// Session salt.
        salt: [u8; 12],
    },
}

impl std::fmt::Debug for Transform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Cm(_) => "Transform::Cm",
            Self::GcmRing { .. } => "Transform::GcmRing",
            Self::Gcm128 { .. } => "Transform::Gcm128",
            Self::Gcm256 { .. } => "Transform::Gcm256",
        })
    }
}

fn salt12(s: &[u8; 14]) -> [u8; 12] {
    let mut out = [0u8; 12];
    out.copy_from_slice(&s[..12]);
    out
}

impl Transform {
    /// Keys the cipher with already derived session keys.
    pub fn from_keys(p: Profile, k: &SessionKeys, backend: GcmBackend) -> Result<Self, Error> {
        use aes::cipher::KeyInit;
        let enc = &k.enc[..p.key_len()];
        Ok(match (p.is_aead(), backend) {
            (false, _) => Self::Cm(Box::new(CmKeys {
                aes: Aes128::new(enc.into()),
                mac: <Hmac<Sha1> as Mac>::new_from_slice(&k.auth).map_err(|_| {
                    Error::KeyLength {
                        expected: 20,
                        got: 0,
                    }
                })?,
                salt: k.salt,
            })),
            (true, GcmBackend::Ring) => {
                let alg = if enc.len() == 32 {
                    &aead::AES_256_GCM
                } else {
                    &aead::AES_128_GCM
                };
                let key = UnboundKey::new(alg, enc).map_err(|_| Error::KeyLength {
                    expected: p.key_len(),
                    got: enc.len(),
                })?;
                Self::GcmRing {
                    key: LessSafeKey::new(key),
                    salt: salt12(&k.salt),
                }
            }
            (true, GcmBackend::RustCrypto) if enc.len() == 32 => Self::Gcm256 {
                key: Box::new(aes_gcm::Aes256Gcm::new(enc.into())),
                salt: salt12(&k.salt),
            },
            (true, GcmBackend::RustCrypto) => Self::Gcm128 {
                key: Box::new(aes_gcm::Aes128Gcm::new(enc.into())),
                salt: salt12(&k.salt),
            },
        })
    }

    /// RFC 3711 §4.1.1 IV: salt * 2^16 XOR SSRC * 2^64 XOR index * 2^16.
    #[inline]
    fn cm_iv(salt: &[u8; 14], ssrc: u32, index: u64) -> [u8; 16] {
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(salt);
        for (b, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
            *b ^= s;
        }
        for (b, s) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
            *b ^= s;
        }
        iv
    }

    /// RFC 7714 §8.1 / §9.1 IV: salt XOR (0x0000 || SSRC || 32-bit high || 16-bit low).
    #[inline]
    fn gcm_iv(salt: &[u8; 12], ssrc: u32, high: u32, low: u16) -> [u8; 12] {
        let mut iv = [0u8; 12];
        iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
        iv[6..10].copy_from_slice(&high.to_be_bytes());
        iv[10..12].copy_from_slice(&low.to_be_bytes());
        for (b, s) in iv.iter_mut().zip(salt) {
            *b ^= s;
        }
        iv
    }

    /// AES-CM keystream over `data` (CM profiles only; a no-op otherwise).
    #[inline]
    pub fn cm_crypt(&self, ssrc: u32, index: u64, data: &mut [u8]) {
        if let Self::Cm(cm) = self {
            let CmKeys { aes, salt, .. } = &**cm;
            use ctr::cipher::InnerIvInit;
            let iv = Self::cm_iv(salt, ssrc, index);
            // The expanded key is cloned, not re-expanded: a copy of the round keys per packet.
            let core = ctr::CtrCore::<Aes128, ctr::flavors::Ctr128BE>::inner_iv_init(
                aes.clone(),
                &iv.into(),
            );
            Aes128Ctr::from_core(core).apply_keystream(data);
        }
    }

    /// HMAC-SHA1 over `data` then `extra` (the ROC for SRTP), full 20 bytes.
    #[inline]
    pub fn cm_tag(&self, data: &[u8], extra: &[u8]) -> [u8; 20] {
        match self {
            Self::Cm(cm) => {
                let mut m = cm.mac.clone();
                m.update(data);
                m.update(extra);
                m.finalize().into_bytes().into()
            }
            _ => [0; 20],
        }
    }

    /// Constant-time comparison of a computed tag prefix with a received one.
    #[inline]
    pub fn tags_equal(computed: &[u8], received: &[u8]) -> bool {
        computed.len() >= received.len() && bool::from(computed[..received.len()].ct_eq(received))
    }

    /// GCM seal in place; returns the 16-byte tag. `iv_parts` = (ssrc, high, low).
    #[inline]
    pub fn gcm_seal(
        &self,
        iv_parts: (u32, u32, u16),
        aad: &[u8],
        data: &mut [u8],
    ) -> Result<[u8; 16], Error> {
        let (ssrc, high, low) = iv_parts;
        match self {
            Self::GcmRing { key, salt } => {
                let nonce = aead::Nonce::assume_unique_for_key(Self::gcm_iv(salt, ssrc, high, low));
                let tag = key
                    .seal_in_place_separate_tag(nonce, aead::Aad::from(aad), data)
                    .map_err(|_| Error::Malformed)?;
                let mut out = [0u8; 16];
                out.copy_from_slice(tag.as_ref());
                Ok(out)
            }
            Self::Gcm128 { key, salt } => rc_seal(
                key.as_ref(),
                &Self::gcm_iv(salt, ssrc, high, low),
                aad,
                data,
            ),
            Self::Gcm256 { key, salt } => rc_seal(
                key.as_ref(),
                &Self::gcm_iv(salt, ssrc, high, low),
                aad,
                data,
            ),
            Self::Cm(_) => Err(Error::Malformed),
        }
    }

    /// GCM open in place; `Err(AuthFailed)` if the tag does not verify (the data is then
    /// unspecified: ring zeroes it).
    #[inline]
    pub fn gcm_open(
        &self,
        iv_parts: (u32, u32, u16),
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8],
    ) -> Result<(), Error> {
        let (ssrc, high, low) = iv_parts;
        match self {
            Self::GcmRing { key, salt } => {
                let nonce = aead::Nonce::assume_unique_for_key(Self::gcm_iv(salt, ssrc, high, low));
                let tag: [u8; 16] = tag.try_into().map_err(|_| Error::AuthFailed)?;
                key.open_in_place_separate_tag(
                    nonce,
                    aead::Aad::from(aad),
                    aead::Tag::from(tag),
                    data,
                    0..,
                )
                .map(|_| ())
                .map_err(|_| Error::AuthFailed)
            }
            Self::Gcm128 { key, salt } => rc_open(
                key.as_ref(),
                &Self::gcm_iv(salt, ssrc, high, low),
                aad,
                data,
                tag,
            ),
            Self::Gcm256 { key, salt } => rc_open(
                key.as_ref(),
                &Self::gcm_iv(salt, ssrc, high, low),
                aad,
                data,
                tag,
            ),
            Self::Cm(_) => Err(Error::AuthFailed),
        }
    }
}

type U12 = aes_gcm::aead::consts::U12;

fn rc_seal<A: aes_gcm::aead::AeadInPlace<NonceSize = U12>>(
    key: &A,
    iv: &[u8; 12],
    aad: &[u8],
    data: &mut [u8],
) -> Result<[u8; 16], Error> {
    let tag = key
        .encrypt_in_place_detached(
            aes_gcm::aead::generic_array::GenericArray::from_slice(iv),
            aad,
            data,
        )
        .map_err(|_| Error::Malformed)?;
    let mut out = [0u8; 16];
    out.copy_from_slice(&tag);
    Ok(out)
}

fn rc_open<A: aes_gcm::aead::AeadInPlace<NonceSize = U12>>(
    key: &A,
    iv: &[u8; 12],
    aad: &[u8],
    data: &mut [u8],
    tag: &[u8],
) -> Result<(), Error> {
    if tag.len() != 16 {
        return Err(Error::AuthFailed);
    }
    let nonce = aes_gcm::aead::generic_array::GenericArray::from_slice(iv);
    key.decrypt_in_place_detached(
        nonce,
        aad,
        data,
        aes_gcm::aead::generic_array::GenericArray::from_slice(tag),
    )
    .map_err(|_| Error::AuthFailed)
}
