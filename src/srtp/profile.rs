//! SRTP protection profiles (RFC 5764 §4.1.2, RFC 7714 §14.2) and master keys.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use super::Error;

/// An SRTP protection profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// `AES_CM_128_HMAC_SHA1_80` (RFC 3711; the profile every WebRTC stack supports).
    Aes128CmSha1_80,
    /// `AES_CM_128_HMAC_SHA1_32`: a 32-bit RTP tag; SRTCP keeps 80 bits (RFC 5764 §4.1.2).
    Aes128CmSha1_32,
    /// `AEAD_AES_128_GCM` (RFC 7714).
    AeadAes128Gcm,
    /// `AEAD_AES_256_GCM` (RFC 7714).
    AeadAes256Gcm,
}

impl Profile {
    /// Every profile, in preference order (GCM first: faster here and stronger).
    pub const ALL: [Profile; 4] = [
        Self::AeadAes128Gcm,
        Self::AeadAes256Gcm,
        Self::Aes128CmSha1_80,
        Self::Aes128CmSha1_32,
    ];

    /// The DTLS-SRTP protection profile id (RFC 5764 §4.1.2, RFC 7714 §14.2).
    pub fn id(self) -> u16 {
        match self {
            Self::Aes128CmSha1_80 => 0x0001,
            Self::Aes128CmSha1_32 => 0x0002,
            Self::AeadAes128Gcm => 0x0007,
            Self::AeadAes256Gcm => 0x0008,
        }
    }

    /// The profile with a DTLS-SRTP id.
    pub fn from_id(id: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.id() == id)
    }

    /// The name used in SDP `a=crypto` and DTLS (`SRTP_AES128_CM_SHA1_80` style names are
    /// accepted too).
    pub fn name(self) -> &'static str {
        match self {
            Self::Aes128CmSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Self::Aes128CmSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            Self::AeadAes128Gcm => "AEAD_AES_128_GCM",
            Self::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }

    /// The profile with this name (SDP or OpenSSL spelling, any case).
    pub fn from_name(name: &str) -> Option<Self> {
        let n = name.to_ascii_uppercase();
        Self::ALL.into_iter().find(|p| {
            p.name() == n
                || match p {
                    Self::Aes128CmSha1_80 => n == "SRTP_AES128_CM_SHA1_80",
                    Self::Aes128CmSha1_32 => n == "SRTP_AES128_CM_SHA1_32",
                    Self::AeadAes128Gcm => n == "SRTP_AEAD_AES_128_GCM",
                    Self::AeadAes256Gcm => n == "SRTP_AEAD_AES_256_GCM",
                }
        })
    }

    /// Master (and session) encryption key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Self::AeadAes256Gcm => 32,
            _ => 16,
        }
    }

    /// Master (and session) salt length in bytes.
    pub fn salt_len(self) -> usize {
        if self.is_aead() { 12 } else { 14 }
    }

    /// Whether this is an AEAD (GCM) profile.
    pub fn is_aead(self) -> bool {
        matches!(self, Self::AeadAes128Gcm | Self::AeadAes256Gcm)
    }

    /// Authentication tag length on SRTP packets.
    pub fn rtp_tag_len(self) -> usize {
        match self {
            Self::Aes128CmSha1_80 => 10,
            Self::Aes128CmSha1_32 => 4,
            _ => 16,
        }
    }

    /// Authentication tag length on SRTCP packets.
    pub fn rtcp_tag_len(self) -> usize {
        if self.is_aead() { 16 } else { 10 }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An SRTP master key and salt. Zeroized on drop; `Debug` never shows the bytes.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterKey {
    #[zeroize(skip)]
    profile: Profile,
    key: [u8; 32],
    salt: [u8; 14],
}

impl MasterKey {
    /// A master key for `profile`; lengths must match the profile.
    pub fn new(profile: Profile, key: &[u8], salt: &[u8]) -> Result<Self, Error> {
        if key.len() != profile.key_len() {
            return Err(Error::KeyLength {
                expected: profile.key_len(),
                got: key.len(),
            });
        }
        if salt.len() != profile.salt_len() {
            return Err(Error::SaltLength {
                expected: profile.salt_len(),
                got: salt.len(),
            });
        }
        let mut k = Self {
            profile,
            key: [0; 32],
            salt: [0; 14],
        };
        k.key[..key.len()].copy_from_slice(key);
        k.salt[..salt.len()].copy_from_slice(salt);
        Ok(k)
    }

    /// Splits the output of the DTLS exporter (`EXTRACTOR-dtls_srtp`, RFC 5764 §4.2: client
    /// key, server key, client salt, server salt) into `(client_write, server_write)` keys.
    pub fn split_dtls_export(profile: Profile, material: &[u8]) -> Result<(Self, Self), Error> {
        let (k, s) = (profile.key_len(), profile.salt_len());
        if material.len() != 2 * (k + s) {
            return Err(Error::KeyLength {
                expected: 2 * (k + s),
                got: material.len(),
            });
        }
        let client = Self::new(profile, &material[..k], &material[2 * k..2 * k + s])?;
        let server = Self::new(profile, &material[k..2 * k], &material[2 * k + s..])?;
        Ok((client, server))
    }

    /// The profile this key is for.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The key bytes.
    pub fn key(&self) -> &[u8] {
        &self.key[..self.profile.key_len()]
    }

    /// The salt bytes.
    pub fn salt(&self) -> &[u8] {
        &self.salt[..self.profile.salt_len()]
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({}, [REDACTED])", self.profile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_names_and_lengths() {
        for p in Profile::ALL {
            assert_eq!(Profile::from_id(p.id()), Some(p));
            assert_eq!(Profile::from_name(p.name()), Some(p));
            assert_eq!(Profile::from_name(&p.name().to_lowercase()), Some(p));
        }
        assert_eq!(
            Profile::from_name("SRTP_AES128_CM_SHA1_80"),
            Some(Profile::Aes128CmSha1_80)
        );
        assert_eq!(Profile::from_id(3), None);
        assert_eq!(
            (
                Profile::Aes128CmSha1_32.rtp_tag_len(),
                Profile::Aes128CmSha1_32.rtcp_tag_len()
            ),
            (4, 10)
        );
        assert_eq!(
            (
                Profile::AeadAes256Gcm.key_len(),
                Profile::AeadAes256Gcm.salt_len()
            ),
            (32, 12)
        );
    }

    #[test]
    fn dtls_export_splits_per_rfc5764() {
        let m: Vec<u8> = (0..60).collect();
        let (c, s) = MasterKey::split_dtls_export(Profile::Aes128CmSha1_80, &m).unwrap();
        assert_eq!((c.key(), s.key()), (&m[0..16], &m[16..32]));
        assert_eq!((c.salt(), s.salt()), (&m[32..46], &m[46..60]));
        assert!(MasterKey::split_dtls_export(Profile::AeadAes128Gcm, &m).is_err());
        assert!(MasterKey::new(Profile::AeadAes128Gcm, &[0; 16], &[0; 14]).is_err());
        assert!(!format!("{c:?}").contains("16"), "no key bytes in Debug");
    }
}
