//! Bearer-token authentication for the admin API (RFC 6750 §2.1: `Authorization: Bearer`).
//!
//! The comparison takes the same time whatever the presented token is: both sides are hashed
//! with SHA-256 first and the digests compared in constant time, so neither the position of the
//! first wrong byte nor the token's length shows in the response time.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The admin token, kept as its SHA-256 digest (the token itself is not needed after start).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Token {
    digest: [u8; 32],
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// A token from its text (validated by [`super::AdminConfig::load_token`]).
    pub fn new(token: &str) -> Self {
        Self {
            digest: Sha256::digest(token.as_bytes()).into(),
        }
    }

    /// Whether `presented` is this token, in time independent of its content.
    pub fn matches(&self, presented: &[u8]) -> bool {
        let mut other: [u8; 32] = Sha256::digest(presented).into();
        let same = self.digest.ct_eq(&other).into();
        other.zeroize();
        same
    }
}

/// Why a request was not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header, or one of another scheme.
    #[error("bearer token required")]
    Missing,
    /// A bearer token that is not ours.
    #[error("invalid token")]
    Invalid,
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        // RFC 6750 §3: a request without credentials gets the bare challenge; a wrong token
        // gets error="invalid_token" so that a client knows retrying the same one is useless.
        let challenge = match self {
            Self::Missing => "Bearer realm=\"ferry\"",
            Self::Invalid => "Bearer realm=\"ferry\", error=\"invalid_token\"",
        };
        (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            )],
            format!("{self}\n"),
        )
            .into_response()
    }
}

/// Checks `Authorization: Bearer <token>` against `token`.
pub fn check(headers: &HeaderMap, token: &Token) -> Result<(), AuthError> {
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or(AuthError::Missing)?
        .as_bytes();
    // RFC 7235 §2.1: the scheme name is case-insensitive; one or more spaces follow it.
    let (scheme, rest) = value
        .iter()
        .position(|&b| b == b' ')
        .map(|i| value.split_at(i))
        .ok_or(AuthError::Missing)?;
    if !scheme.eq_ignore_ascii_case(b"bearer") {
        return Err(AuthError::Missing);
    }
    let presented = rest.trim_ascii();
    if token.matches(presented) {
        Ok(())
    } else {
        Err(AuthError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr3t-token-0123456789";

    fn headers(auth: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(a) = auth {
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(a).unwrap());
        }
        h
    }

    #[test]
    fn the_right_bearer_token_is_let_in() {
        let t = Token::new(SECRET);
        assert_eq!(
            check(&headers(Some(&format!("Bearer {SECRET}"))), &t),
            Ok(())
        );
        // Scheme case and extra spaces do not matter (RFC 7235 §2.1).
        assert_eq!(
            check(&headers(Some(&format!("bearer   {SECRET}"))), &t),
            Ok(())
        );
    }

    #[test]
    fn a_missing_or_foreign_authorization_is_missing() {
        let t = Token::new(SECRET);
        for auth in [
            None,
            Some("Basic dXNlcjpwYXNz"),
            Some("Bearer"),
            Some(SECRET),
        ] {
            assert_eq!(
                check(&headers(auth), &t),
                Err(AuthError::Missing),
                "{auth:?}"
            );
        }
    }

    #[test]
    fn a_wrong_token_is_invalid() {
        let t = Token::new(SECRET);
        for wrong in [
            "s3cr3t-token-012345678",
            "s3cr3t-token-01234567890",
            "S3CR3T-TOKEN-0123456789",
            "",
        ] {
            assert_eq!(
                check(&headers(Some(&format!("Bearer {wrong}"))), &t),
                Err(AuthError::Invalid),
                "{wrong:?}"
            );
        }
    }

    #[test]
    fn refusals_carry_the_bearer_challenge() {
        for (e, want) in [
            (AuthError::Missing, "Bearer realm=\"ferry\""),
            (
                AuthError::Invalid,
                "Bearer realm=\"ferry\", error=\"invalid_token\"",
            ),
        ] {
            let r = e.into_response();
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(r.headers()[header::WWW_AUTHENTICATE], want);
        }
    }

    #[test]
    fn debug_hides_the_token() {
        assert_eq!(format!("{:?}", Token::new(SECRET)), "Token(<redacted>)");
    }
}
