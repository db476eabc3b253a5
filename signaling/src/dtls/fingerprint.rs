//! Certificate fingerprints (RFC 8122 §5) and the check against the SDP `a=fingerprint` lines.

use sha2::Digest as _;

/// One SDP `a=fingerprint` line: hash function name and digest of the peer's DER certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// Lower-case hash name as in SDP: `sha-1`, `sha-224`, `sha-256`, `sha-384` or `sha-512`.
    pub algorithm: String,
    /// The digest bytes.
    pub value: Vec<u8>,
}

impl Fingerprint {
    /// The fingerprint of `der` under `algorithm`, or `None` for an unsupported hash.
    pub fn of(algorithm: &str, der: &[u8]) -> Option<Fingerprint> {
        let value = digest(algorithm, der)?;
        Some(Fingerprint {
            algorithm: algorithm.to_ascii_lowercase(),
            value,
        })
    }

    /// Whether `der` hashes to this fingerprint. Unknown hash names never match.
    pub fn matches(&self, der: &[u8]) -> bool {
        digest(&self.algorithm, der).is_some_and(|d| d == self.value)
    }
}

/// RFC 5763 §5: the certificate must match a fingerprint from SDP; with several lines (aiortc
/// sends sha-256, -384 and -512) any one matching is enough (RFC 8122 §5).
pub(super) fn any_matches(fingerprints: &[Fingerprint], der: &[u8]) -> bool {
    fingerprints.iter().any(|f| f.matches(der))
}

/// The digest of `data` under an SDP hash name (RFC 8122 §5, case-insensitive per RFC 4572).
pub(super) fn digest(algorithm: &str, data: &[u8]) -> Option<Vec<u8>> {
    Some(match algorithm.to_ascii_lowercase().as_str() {
        "sha-1" => sha1::Sha1::digest(data).to_vec(),
        "sha-224" => sha2::Sha224::digest(data).to_vec(),
        "sha-256" => sha2::Sha256::digest(data).to_vec(),
        "sha-384" => sha2::Sha384::digest(data).to_vec(),
        "sha-512" => sha2::Sha512::digest(data).to_vec(),
        _ => return None,
    })
}

/// `AB:CD:...`, upper-case hex with colons (RFC 8122 §5 `fingerprint` syntax).
pub(super) fn colon_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(&format!("{b:02X}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests_and_format() {
        // FIPS 180 "abc" vectors, truncated to the first bytes for each hash.
        assert_eq!(
            hex::encode(digest("sha-1", b"abc").unwrap()),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert!(hex::encode(digest("SHA-224", b"abc").unwrap()).starts_with("23097d22"));
        assert!(hex::encode(digest("sha-256", b"abc").unwrap()).starts_with("ba7816bf"));
        assert!(hex::encode(digest("sha-384", b"abc").unwrap()).starts_with("cb00753f"));
        assert!(hex::encode(digest("sha-512", b"abc").unwrap()).starts_with("ddaf35a1"));
        assert_eq!(digest("md5", b"abc"), None);
        assert_eq!(colon_hex(&[0xab, 0x01, 0xff]), "AB:01:FF");
    }

    #[test]
    fn any_of_several_lines_matches() {
        let der = b"not really a certificate";
        let good = Fingerprint::of("sha-512", der).unwrap();
        let bad = Fingerprint {
            algorithm: "sha-256".into(),
            value: vec![0; 32],
        };
        let unknown = Fingerprint {
            algorithm: "md5".into(),
            value: vec![0; 16],
        };
        assert!(any_matches(&[bad.clone(), unknown.clone(), good], der));
        assert!(!any_matches(&[bad, unknown], der));
        assert!(!any_matches(&[], der));
    }
}
