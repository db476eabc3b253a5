//! Call links: signed URLs that let a visitor call one destination, optionally only within a
//! time window and only once (click-to-call without an account).
//!
//! The model, in three parts:
//!
//! - [`LinkClaims`] say what a link allows: the destination, a display name, a validity window
//!   and whether it is one-time. A 128-bit random `id` names the link.
//! - A [`Keyring`] of HMAC-SHA256 keys signs claims into a compact token (`PAYLOAD.TAG`, see
//!   [`token`]) and verifies tokens. The active key signs; older keys still verify until they are
//!   retired, so a rotation does not break links already handed out. Verification is pure: the
//!   caller passes the time, and gets a distinct [`LinkError`] for each way a link is refused.
//! - A [`LinkStore`] (an embedded redb database in the state directory) remembers which one-time
//!   links were used. A link is consumed when its call connects, not when the page opens:
//!   [`admit`] checks a token when the page or the INVITE arrives, [`LinkStore::consume`] marks it
//!   used on answer; `consume` is atomic, so of two calls racing on one link exactly one wins, and
//!   durable, so a consumed link stays consumed across restarts.
//!
//! [`cli`] is the `ferry link` command (create, rotate, retire, keys).

pub mod cli;
mod keyring;
mod store;
pub mod time;
pub mod token;

use serde::{Deserialize, Serialize};

pub use cli::{LinkArgs, create_cli, retire_cli, rotate_cli};
pub use keyring::{KEYRING_FILE, KeyInfo, Keyring, KeyringError};
pub use store::{ConsumeError, LINK_STORE_FILE, LinkStore, StoreError};

/// What a call link allows. Field names on the wire are one or two letters (see [`token`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkClaims {
    /// The destination (a service name such as `sales`, resolved by the router).
    #[serde(rename = "d")]
    pub dest: String,
    /// The caller's display name shown to the agent, if the link fixes one.
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Unix seconds before which the link is not yet active.
    #[serde(rename = "nb", default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<u64>,
    /// Unix seconds after which the link has expired (the second itself is still valid).
    #[serde(rename = "na", default, skip_serializing_if = "Option::is_none")]
    pub not_after: Option<u64>,
    /// The link can place one connected call only.
    #[serde(rename = "o", default, skip_serializing_if = "is_false")]
    pub one_time: bool,
    /// 128 random bits, base64url (22 characters): names the link in the [`LinkStore`].
    #[serde(rename = "i")]
    pub id: String,
    /// The id of the key that signed the link (set by [`Keyring::sign`]).
    #[serde(rename = "k")]
    pub kid: String,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl LinkClaims {
    /// Claims for `dest` with a fresh random id, no name, no window, reusable; `kid` is empty
    /// until [`Keyring::sign`] stamps the active key's id.
    pub fn new(dest: impl Into<String>, rng: &mut (impl rand::RngCore + rand::CryptoRng)) -> Self {
        let mut id = [0u8; 16];
        rng.fill_bytes(&mut id);
        LinkClaims {
            dest: dest.into(),
            name: None,
            not_before: None,
            not_after: None,
            one_time: false,
            id: token::b64(&id),
            kid: String::new(),
        }
    }
}

/// Why a link is refused. The page shows `NotYetActive`, `Expired` and `AlreadyUsed` each with
/// its own message; the others are "this link is not valid".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not a token at all: wrong shape, bad base64url, bad JSON, too long.
    #[error("malformed link")]
    Malformed,
    /// The tag does not match the claims: the link was altered or forged.
    #[error("link signature does not match (altered link)")]
    Tampered,
    /// The key id names no key in the keyring.
    #[error("link signed with an unknown key")]
    UnknownKey,
    /// Signed by a key that has been retired.
    #[error("link signed with a retired key")]
    RetiredKey,
    /// The window has not opened yet.
    #[error("link not active before {}", time::format_time(*starts))]
    NotYetActive {
        /// Unix seconds when the link becomes active.
        starts: u64,
    },
    /// The window has closed.
    #[error("link expired at {}", time::format_time(*ended))]
    Expired {
        /// Unix seconds of the last valid second.
        ended: u64,
    },
    /// A one-time link whose call already connected.
    #[error("link already used")]
    AlreadyUsed,
    /// The link store could not be read.
    #[error("link store: {0}")]
    Store(String),
}

/// The page URL for a token: `BASE/call?link=TOKEN` (a token needs no percent-encoding).
pub fn url(base: &str, token: &str) -> String {
    format!("{}/call?link={token}", base.trim_end_matches('/'))
}

/// Checks a token as a call is about to be placed (page load, INVITE): signature, key, window,
/// and for a one-time link whether it was used. Does not consume it: call
/// [`LinkStore::consume`] when the call connects.
pub fn admit(
    keyring: &Keyring,
    store: &LinkStore,
    token: &str,
    now_unix: u64,
) -> Result<LinkClaims, LinkError> {
    let claims = keyring.verify(token, now_unix)?;
    if claims.one_time
        && store
            .is_used(&claims.id)
            .map_err(|e| LinkError::Store(e.to_string()))?
    {
        return Err(LinkError::AlreadyUsed);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests;
