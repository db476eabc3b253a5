//! SRTP protection profiles and the RFC 5764 §4.2 split of the exported keying material.

use std::fmt;

use rtc_dtls::extension::extension_use_srtp::SrtpProtectionProfile;
use zeroize::Zeroizing;

use super::Role;

/// RFC 5764 §4.1.2 / RFC 7714 §14.2 protection profile ids.
pub mod profile {
    /// SRTP_AES128_CM_HMAC_SHA1_80.
    pub const AES_CM_128_HMAC_SHA1_80: u16 = 0x0001;
    /// SRTP_AES128_CM_HMAC_SHA1_32.
    pub const AES_CM_128_HMAC_SHA1_32: u16 = 0x0002;
    /// SRTP_AEAD_AES_128_GCM.
    pub const AEAD_AES_128_GCM: u16 = 0x0007;
    /// SRTP_AEAD_AES_256_GCM.
    pub const AEAD_AES_256_GCM: u16 = 0x0008;
}

/// What we offer, most preferred first: GCM needs no separate HMAC and is the cheapest per
/// packet here (DESIGN.md). As client this is our use_srtp order; as server rtc-dtls takes the
/// first of the *client's* profiles that is in this list (RFC 5764 §4.1.1 leaves the choice to
/// the server; the client's order is what rtc-dtls honours).
pub(super) const PREFERENCE: [SrtpProtectionProfile; 4] = [
    SrtpProtectionProfile::Srtp_Aead_Aes_128_Gcm,
    SrtpProtectionProfile::Srtp_Aead_Aes_256_Gcm,
    SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_80,
    SrtpProtectionProfile::Srtp_Aes128_Cm_Hmac_Sha1_32,
];

/// Master key and salt lengths of a profile: RFC 5764 §4.1.2 (CM: 16/14), RFC 7714 §12 (GCM:
/// 16/12 and 32/12).
pub(super) fn key_salt_len(profile: u16) -> Option<(usize, usize)> {
    match profile {
        profile::AES_CM_128_HMAC_SHA1_80 | profile::AES_CM_128_HMAC_SHA1_32 => Some((16, 14)),
        profile::AEAD_AES_128_GCM => Some((16, 12)),
        profile::AEAD_AES_256_GCM => Some((32, 12)),
        _ => None,
    }
}

/// The exporter label of RFC 5764 §4.2.
pub(super) const EXPORTER_LABEL: &str = "EXTRACTOR-dtls_srtp";

/// SRTP master key and salt for one direction. Zeroized on drop; `Debug` shows only lengths.
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpMaterial {
    /// RFC 5764 §4.1.2 protection profile id.
    pub profile: u16,
    /// Master key.
    pub key: Vec<u8>,
    /// Master salt.
    pub salt: Vec<u8>,
}

impl Drop for SrtpMaterial {
    fn drop(&mut self) {
        use zeroize::Zeroize as _;
        self.key.zeroize();
        self.salt.zeroize();
    }
}

impl fmt::Debug for SrtpMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SrtpMaterial {{ profile: {}, key: [REDACTED; {}], salt: [REDACTED; {}] }}",
            self.profile,
            self.key.len(),
            self.salt.len()
        )
    }
}

impl SrtpMaterial {
    /// The control-channel form, for installing in the engine.
    pub fn to_control(&self) -> ferry_control::SrtpKey {
        ferry_control::SrtpKey {
            profile: self.profile,
            key: ferry_control::Secret::new(&self.key),
            salt: ferry_control::Secret::new(&self.salt),
        }
    }
}

/// Splits `client_write_key | server_write_key | client_salt | server_salt` (RFC 5764 §4.2)
/// into (local, remote) for `role`: we protect with our own write key.
pub(super) fn split(
    role: Role,
    profile: u16,
    material: &[u8],
) -> Option<(SrtpMaterial, SrtpMaterial)> {
    let (k, s) = key_salt_len(profile)?;
    if material.len() != 2 * (k + s) {
        return None;
    }
    let part = |at: usize, len: usize| material[at..at + len].to_vec();
    let client = SrtpMaterial {
        profile,
        key: part(0, k),
        salt: part(2 * k, s),
    };
    let server = SrtpMaterial {
        profile,
        key: part(k, k),
        salt: part(2 * k + s, s),
    };
    Some(match role {
        Role::Client => (client, server),
        Role::Server => (server, client),
    })
}

/// Buffer for the exported material, wiped when dropped.
pub(super) type Exported = Zeroizing<Vec<u8>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_follows_rfc5764_layout() {
        // 16+16+12+12 for AES-128-GCM: bytes numbered so each part is recognisable.
        let m: Vec<u8> = (0u8..56).collect();
        let (local, remote) = split(Role::Server, profile::AEAD_AES_128_GCM, &m).unwrap();
        assert_eq!(
            local.key,
            (16u8..32).collect::<Vec<_>>(),
            "server write key"
        );
        assert_eq!(
            remote.key,
            (0u8..16).collect::<Vec<_>>(),
            "client write key"
        );
        assert_eq!(remote.salt, (32u8..44).collect::<Vec<_>>(), "client salt");
        assert_eq!(local.salt, (44u8..56).collect::<Vec<_>>(), "server salt");
        let (c_local, c_remote) = split(Role::Client, profile::AEAD_AES_128_GCM, &m).unwrap();
        assert_eq!((c_local, c_remote), (remote, local));
        assert!(
            split(Role::Client, profile::AES_CM_128_HMAC_SHA1_80, &m).is_none(),
            "60 bytes"
        );
        assert_eq!(key_salt_len(profile::AEAD_AES_256_GCM), Some((32, 12)));
    }

    #[test]
    fn debug_is_redacted() {
        let m = SrtpMaterial {
            profile: 1,
            key: vec![0xAB; 16],
            salt: vec![0xCD; 14],
        };
        let s = format!("{m:?}");
        assert!(
            !s.contains("171") && !s.to_lowercase().contains("ab, "),
            "{s}"
        );
        assert!(s.contains("REDACTED; 16"));
    }
}
