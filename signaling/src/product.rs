//! The click-to-call policy: which destinations an anonymous visitor may call, with what proof
//! (a solved CAPTCHA, a signed call link), shared by the HTTP routes and the call core.
//!
//! With no `[services]` configured Ferry routes openly (every destination but `echo` goes to
//! the trunk: a lab or a trunk that screens calls itself). With services, anonymous callers
//! reach only those names (Mitel MBG's anonymous mode); anything else is refused with 403 and
//! logged, the toll-fraud guard.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::abuse::{Captcha, Challenge};
use crate::links::{Keyring, LinkClaims, LinkError, LinkStore};

/// One named destination visitors may call.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// The user part Ferry dials on the trunk (e.g. `2000`).
    pub target: String,
    /// What the page shows (defaults to the service name).
    #[serde(default)]
    pub label: Option<String>,
}

/// `[anonymous]`: what an anonymous visitor must show.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnonymousConfig {
    /// Require a solved proof-of-work CAPTCHA on every anonymous INVITE.
    pub captcha: bool,
    /// Its difficulty in leading zero bits (18: a fraction of a second in a browser).
    pub captcha_bits: u8,
}

impl Default for AnonymousConfig {
    fn default() -> Self {
        Self {
            captcha: true,
            captcha_bits: 18,
        }
    }
}

/// Why an anonymous INVITE is refused: the 403 reason phrase the page turns into a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not a configured service.
    DestinationNotAllowed,
    /// No CAPTCHA answer.
    CaptchaRequired,
    /// A wrong, expired or replayed CAPTCHA answer.
    CaptchaFailed,
    /// The link's window is over.
    LinkExpired,
    /// The link's window has not opened.
    LinkNotYetActive,
    /// A one-time link already used.
    LinkAlreadyUsed,
    /// Altered, forged, unknown or retired key.
    LinkInvalid,
}

impl Refusal {
    /// The reason phrase of the 403.
    pub fn reason(self) -> &'static str {
        match self {
            Self::DestinationNotAllowed => "Destination Not Allowed",
            Self::CaptchaRequired => "CAPTCHA Required",
            Self::CaptchaFailed => "CAPTCHA Failed",
            Self::LinkExpired => "Link Expired",
            Self::LinkNotYetActive => "Link Not Yet Active",
            Self::LinkAlreadyUsed => "Link Already Used",
            Self::LinkInvalid => "Link Invalid",
        }
    }
}

/// What an admitted anonymous call may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    /// The trunk user part to dial.
    pub target: String,
    /// The link it came with (consumed on answer when one-time).
    pub link: Option<LinkClaims>,
}

/// Services, CAPTCHA and links, shared between the HTTP routes and the call core.
#[derive(Debug)]
pub struct Product {
    services: BTreeMap<String, Service>,
    anonymous: AnonymousConfig,
    captcha: Mutex<Captcha>,
    /// The link keys, with the key file's modification time when they were read: `ferry link
    /// rotate` and `retire` rewrite the file, and the next check picks the change up.
    keyring: Option<Mutex<(Keyring, Option<SystemTime>)>>,
    keyring_path: std::path::PathBuf,
    store: Option<LinkStore>,
}

/// Seconds since the epoch (links and challenges carry wall-clock times).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Product {
    /// The policy for these services; the keyring and store come from the state directory
    /// (created on first use) when any service is configured.
    pub fn open(
        services: BTreeMap<String, Service>,
        anonymous: AnonymousConfig,
        state_dir: &std::path::Path,
    ) -> Result<Self, String> {
        let (keyring, store) = if services.is_empty() {
            (None, None)
        } else {
            let keyring = Keyring::load_or_create(state_dir, &mut rand::rngs::OsRng)
                .map_err(|e| format!("call link keys in {}: {e}", state_dir.display()))?;
            let store = LinkStore::open_in(state_dir)
                .map_err(|e| format!("call link store in {}: {e}", state_dir.display()))?;
            let stamp = key_file_time(&state_dir.join(crate::links::KEYRING_FILE));
            (Some(Mutex::new((keyring, stamp))), Some(store))
        };
        Ok(Self {
            captcha: Mutex::new(Captcha::random(anonymous.captcha_bits)),
            services,
            anonymous,
            keyring,
            keyring_path: state_dir.join(crate::links::KEYRING_FILE),
            store,
        })
    }

    /// Whether destinations are restricted to the configured services.
    pub fn restricted(&self) -> bool {
        !self.services.is_empty()
    }

    /// The services, for the page.
    pub fn services(&self) -> impl Iterator<Item = (&str, &Service)> {
        self.services.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The label of a service.
    pub fn label(&self, name: &str) -> Option<String> {
        let s = self.services.get(name)?;
        Some(s.label.clone().unwrap_or_else(|| name.to_string()))
    }

    /// A new CAPTCHA challenge.
    pub fn challenge(&self) -> Challenge {
        let c = self.captcha.lock().unwrap_or_else(|p| p.into_inner());
        c.issue(unix_now(), &mut rand::rngs::OsRng)
    }

    /// Checks a call link for the page (nothing is consumed).
    pub fn check_link(&self, token: &str) -> Result<LinkClaims, LinkError> {
        let (Some(k), Some(s)) = (&self.keyring, &self.store) else {
            return Err(LinkError::UnknownKey);
        };
        let mut k = k.lock().unwrap_or_else(|p| p.into_inner());
        let stamp = key_file_time(&self.keyring_path);
        if stamp != k.1 {
            match Keyring::load(&self.keyring_path) {
                Ok(fresh) => *k = (fresh, stamp),
                Err(e) => tracing::warn!("call link keys changed but cannot be read: {e}"),
            }
        }
        crate::links::admit(&k.0, s, token, unix_now())
    }

    /// Decides an anonymous INVITE to `dest` with the page's headers.
    pub fn admit(
        &self,
        dest: &str,
        captcha: Option<&str>,
        link: Option<&str>,
    ) -> Result<Admitted, Refusal> {
        let claims = match link {
            Some(token) => Some(self.check_link(token.trim()).map_err(link_refusal)?),
            None => None,
        };
        // A link fixes the destination, whatever the Request-URI says.
        let name = claims.as_ref().map_or(dest, |c| c.dest.as_str());
        let service = self
            .services
            .get(name)
            .ok_or(Refusal::DestinationNotAllowed)?;
        if self.anonymous.captcha {
            captcha.ok_or(Refusal::CaptchaRequired)?;
            if !self.captcha_ok(captcha) {
                return Err(Refusal::CaptchaFailed);
            }
        }
        Ok(Admitted {
            target: service.target.clone(),
            link: claims,
        })
    }

    /// Whether `answer` (`ID:NONCE`) solves a challenge we issued; single use.
    pub fn captcha_ok(&self, answer: Option<&str>) -> bool {
        let Some((id, nonce)) = answer.and_then(|a| a.trim().split_once(':')) else {
            return false;
        };
        let mut c = self.captcha.lock().unwrap_or_else(|p| p.into_inner());
        c.verify(id, nonce, unix_now()).is_ok()
    }

    /// Marks a one-time link used now that its call connected; `false` if another call won.
    pub fn consume(&self, claims: &LinkClaims) -> bool {
        if !claims.one_time {
            return true;
        }
        let Some(store) = &self.store else {
            return false;
        };
        store.consume(&claims.id, claims.not_after).is_ok()
    }
}

fn key_file_time(path: &std::path::Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

fn link_refusal(e: LinkError) -> Refusal {
    match e {
        LinkError::Expired { .. } => Refusal::LinkExpired,
        LinkError::NotYetActive { .. } => Refusal::LinkNotYetActive,
        LinkError::AlreadyUsed => Refusal::LinkAlreadyUsed,
        _ => Refusal::LinkInvalid,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abuse::captcha::solves;

    fn product(dir: &std::path::Path, captcha: bool) -> Product {
        let mut services = BTreeMap::new();
        services.insert(
            "sales".to_string(),
            Service {
                target: "2000".into(),
                label: Some("Sales".into()),
            },
        );
        let anonymous = AnonymousConfig {
            captcha,
            captcha_bits: 8,
        };
        Product::open(services, anonymous, dir).unwrap()
    }

    fn solve(c: &Challenge) -> String {
        let nonce = (0u64..)
            .find(|n| solves(&c.salt, &n.to_string(), c.bits))
            .unwrap();
        format!("{}:{nonce}", c.id)
    }

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("ferry-product-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn only_services_with_a_solved_captcha() {
        let p = product(&tmp("svc"), true);
        assert!(p.restricted());
        let ok = solve(&p.challenge());
        assert_eq!(p.admit("sales", Some(&ok), None).unwrap().target, "2000");
        // Single use: the same answer twice fails.
        assert_eq!(
            p.admit("sales", Some(&ok), None),
            Err(Refusal::CaptchaFailed)
        );
        assert_eq!(p.admit("sales", None, None), Err(Refusal::CaptchaRequired));
        let ok = solve(&p.challenge());
        assert_eq!(
            p.admit("2000", Some(&ok), None),
            Err(Refusal::DestinationNotAllowed)
        );
        assert_eq!(
            p.admit("sales", Some("x:1"), None),
            Err(Refusal::CaptchaFailed)
        );
    }

    #[test]
    fn links_fix_the_destination_and_are_consumed_once() {
        let dir = tmp("links");
        let p = product(&dir, false);
        let keyring = Keyring::load_or_create(&dir, &mut rand::rngs::OsRng).unwrap();
        let mut claims = LinkClaims::new("sales", &mut rand::rngs::OsRng);
        claims.one_time = true;
        let token = keyring.sign(&claims);
        let a = p.admit("whatever", None, Some(&token)).unwrap();
        assert_eq!(a.target, "2000");
        let link = a.link.unwrap();
        assert!(p.consume(&link));
        assert!(!p.consume(&link));
        assert_eq!(
            p.admit("sales", None, Some(&token)),
            Err(Refusal::LinkAlreadyUsed)
        );
        let mut bad = token.clone();
        bad.replace_range(0..1, if bad.starts_with('A') { "B" } else { "A" });
        assert_eq!(
            p.admit("sales", None, Some(&bad)),
            Err(Refusal::LinkInvalid)
        );
        let mut old = LinkClaims::new("sales", &mut rand::rngs::OsRng);
        old.not_after = Some(1);
        let t = keyring.sign(&old);
        assert_eq!(p.admit("sales", None, Some(&t)), Err(Refusal::LinkExpired));
        let mut later = LinkClaims::new("sales", &mut rand::rngs::OsRng);
        later.not_before = Some(unix_now() + 3600);
        let t = keyring.sign(&later);
        assert_eq!(
            p.admit("sales", None, Some(&t)),
            Err(Refusal::LinkNotYetActive)
        );
    }

    #[test]
    fn no_services_is_open_routing() {
        let p = Product::open(BTreeMap::new(), AnonymousConfig::default(), &tmp("open")).unwrap();
        assert!(!p.restricted());
    }
}
