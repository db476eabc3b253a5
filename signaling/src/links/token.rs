//! The link token wire format.
//!
//! ```text
//! token   = payload "." tag
//! payload = base64url-nopad( JSON claims )          ; RFC 4648 §5, no padding
//! tag     = base64url-nopad( HMAC-SHA256(key, "ferry-link-1." || payload)[..16] )
//! ```
//!
//! The JSON claims use short names: `d` destination, `n` display name, `nb` not-before and `na`
//! not-after (unix seconds), `o` one-time (`true`, absent when false), `i` link id (22
//! characters), `k` key id. Absent optional fields are omitted. Example (one-time link to
//! `sales`, expiring 2026-12-24T09:00:00Z):
//!
//! ```text
//! {"d":"sales","na":1798102800,"o":true,"i":"sS5o3b3r1bx2Xc0qv8e9Ag","k":"Qm4tZa"}
//! ```
//!
//! The tag is HMAC-SHA256 truncated to 128 bits (as RFC 4868 truncates it for IPsec: forgery
//! stays a 2^-128 guess) to keep the URL short; it is computed over the payload's base64url text,
//! not the JSON, so no canonical JSON is needed, and compared in constant time. The key id sits
//! inside the signed payload: a verifier decodes the payload to learn which key to check with,
//! then refuses it unless the tag matches. A token has no `.` other than the separator.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::{LinkClaims, LinkError};

/// Bytes of the truncated HMAC-SHA256 tag.
pub const TAG_LEN: usize = 16;
/// Longest token accepted (longer is [`LinkError::Malformed`] before any decoding).
pub const MAX_TOKEN_LEN: usize = 2048;
/// Domain separation: the MAC input starts with this, so the key signs nothing else by accident.
const MAC_CONTEXT: &[u8] = b"ferry-link-1.";

/// base64url without padding.
pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn mac(key: &[u8], payload: &str) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(MAC_CONTEXT);
    mac.update(payload.as_bytes());
    mac
}

fn tag(key: &[u8], payload: &str) -> [u8; TAG_LEN] {
    let full = mac(key, payload).finalize().into_bytes();
    let mut out = [0u8; TAG_LEN];
    out.copy_from_slice(&full[..TAG_LEN]);
    out
}

/// Signs `claims` (whose `kid` must already name `key`) into a token.
pub(crate) fn encode(claims: &LinkClaims, key: &[u8]) -> String {
    let json = serde_json::to_vec(claims).expect("claims serialize");
    let payload = b64(&json);
    let tag = b64(&tag(key, &payload));
    format!("{payload}.{tag}")
}

/// A token split and decoded, not yet authenticated.
#[derive(Debug)]
pub(crate) struct Unverified<'a> {
    payload: &'a str,
    tag: [u8; TAG_LEN],
    /// The claims as the token states them.
    pub(crate) claims: LinkClaims,
}

/// Splits and decodes a token; says nothing about its authenticity.
pub(crate) fn decode(token: &str) -> Result<Unverified<'_>, LinkError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(LinkError::Malformed);
    }
    let (payload, tag_b64) = token.split_once('.').ok_or(LinkError::Malformed)?;
    // The base64 engine refuses non-canonical trailing bits, so each tag has one spelling.
    let tag_bytes = URL_SAFE_NO_PAD
        .decode(tag_b64)
        .map_err(|_| LinkError::Malformed)?;
    let tag: [u8; TAG_LEN] = tag_bytes.try_into().map_err(|_| LinkError::Malformed)?;
    let json = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| LinkError::Malformed)?;
    let claims = serde_json::from_slice(&json).map_err(|_| LinkError::Malformed)?;
    Ok(Unverified {
        payload,
        tag,
        claims,
    })
}

impl Unverified<'_> {
    /// Whether the tag is right for `key` (`hmac` compares in constant time).
    pub(crate) fn tag_matches(&self, key: &[u8]) -> bool {
        mac(key, self.payload)
            .verify_truncated_left(&self.tag)
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> LinkClaims {
        LinkClaims {
            dest: "sales".into(),
            name: None,
            not_before: None,
            not_after: Some(1_798_102_800),
            one_time: true,
            id: "sS5o3b3r1bx2Xc0qv8e9Ag".into(),
            kid: "Qm4tZa".into(),
        }
    }

    /// A fixed vector for anyone reimplementing the format. The key is 32 bytes of 0x0b; the tag
    /// was checked with `printf 'ferry-link-1.%s' PAYLOAD | openssl dgst -sha256 -mac HMAC
    /// -macopt hexkey:0b0b...0b -binary | head -c 16 | base64` (then base64url, no padding).
    #[test]
    fn known_vector() {
        let key = [0x0bu8; 32];
        let token = encode(&claims(), &key);
        let (payload, _) = token.split_once('.').unwrap();
        let json = URL_SAFE_NO_PAD.decode(payload).unwrap();
        assert_eq!(
            std::str::from_utf8(&json).unwrap(),
            r#"{"d":"sales","na":1798102800,"o":true,"i":"sS5o3b3r1bx2Xc0qv8e9Ag","k":"Qm4tZa"}"#
        );
        assert_eq!(token, KNOWN_TOKEN);
        assert!(token.len() < 140, "{} characters", token.len());
    }

    const KNOWN_TOKEN: &str = "eyJkIjoic2FsZXMiLCJuYSI6MTc5ODEwMjgwMCwibyI6dHJ1ZSwiaSI6InNTNW8zYjNyMWJ4MlhjMHF2OGU5QWciLCJrIjoiUW00dFphIn0.BSTMkhUHIVEciXCNfX1e2g";

    #[test]
    fn decode_refuses_bad_shapes() {
        let good = encode(&claims(), &[1u8; 32]);
        let (payload, tag) = good.split_once('.').unwrap();
        let long = "a".repeat(MAX_TOKEN_LEN + 1);
        for bad in [
            "".to_owned(),
            payload.to_owned(),
            format!("{payload}."),
            format!(".{tag}"),
            format!("{payload}.{tag}.x"),
            format!("{payload}.{}", &tag[..tag.len() - 1]),
            format!("{payload}.{tag}AA"),
            format!("{payload}=.{tag}"),
            format!("{}.{tag}", b64(b"{\"d\":\"x\"}")),
            format!("{}.{tag}", b64(b"not json")),
            format!("{}.{tag}", b64(br#"{"d":"x","i":"y","k":"z","extra":1}"#)),
            long,
        ] {
            assert_eq!(decode(&bad).unwrap_err(), LinkError::Malformed, "{bad:?}");
        }
    }
}
