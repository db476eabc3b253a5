//! The `[admin]` section: the bearer token that guards the admin API, and whether `/metrics`
//! is open to anyone who can reach the HTTP listener.

use std::path::PathBuf;

use serde::Deserialize;

use super::auth::Token;

/// Shortest token accepted: 16 characters of the bearer alphabet are about 95 bits when drawn at
/// random, and a shorter one is more likely a placeholder than a secret.
pub const MIN_TOKEN_LEN: usize = 16;

/// `[admin]`: the operations surface.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// The bearer token for `/api/*` (and `/metrics` unless `metrics_open`). None, with no
    /// `token_file` either: the admin API is disabled and answers 404.
    pub token: Option<String>,
    /// A file holding the token (trailing whitespace ignored), so that it stays out of a
    /// configuration file that is world-readable or kept in version control.
    pub token_file: Option<PathBuf>,
    /// Serve `/metrics` without the token (a scraper on a trusted network).
    pub metrics_open: bool,
}

// By hand: the derived Debug would print the token into any log that prints the configuration.
impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig")
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("token_file", &self.token_file)
            .field("metrics_open", &self.metrics_open)
            .finish()
    }
}

/// A bad `[admin]` section; the message names the key.
#[derive(Debug, thiserror::Error)]
pub enum AdminConfigError {
    /// Both ways of giving the token at once: which one wins would be a guess.
    #[error("admin: `token` and `token_file` are exclusive")]
    BothTokenSources,
    /// The token file could not be read.
    #[error("admin.token_file {path}: {source}")]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Too short to be a secret.
    #[error("admin.{key}: shorter than {MIN_TOKEN_LEN} characters")]
    TooShort {
        /// `token` or `token_file`.
        key: &'static str,
    },
    /// A character a client cannot put in `Authorization: Bearer` (RFC 6750 §2.1, b64token).
    #[error("admin.{key}: only letters, digits and -._~+/= are allowed (RFC 6750 b64token)")]
    BadCharacter {
        /// `token` or `token_file`.
        key: &'static str,
    },
}

impl AdminConfig {
    /// Checks the section; reads `token_file` so that a missing file stops Ferry at start.
    pub fn check(&self) -> Result<(), AdminConfigError> {
        self.load_token().map(drop)
    }

    /// The configured token, read from `token_file` if that is how it is given; None when the
    /// admin API is disabled.
    pub fn load_token(&self) -> Result<Option<Token>, AdminConfigError> {
        match (&self.token, &self.token_file) {
            (Some(_), Some(_)) => Err(AdminConfigError::BothTokenSources),
            (Some(t), None) => validate("token", t).map(Some),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|source| {
                    AdminConfigError::TokenFile {
                        path: path.clone(),
                        source,
                    }
                })?;
                // `echo secret > file` leaves a newline that no client sends.
                validate("token_file", text.trim_end()).map(Some)
            }
            (None, None) => Ok(None),
        }
    }
}

fn validate(key: &'static str, token: &str) -> Result<Token, AdminConfigError> {
    let b64token = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
    if !token.chars().all(b64token) {
        return Err(AdminConfigError::BadCharacter { key });
    }
    if token.len() < MIN_TOKEN_LEN {
        return Err(AdminConfigError::TooShort { key });
    }
    Ok(Token::new(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AdminConfig, String> {
        let cfg: AdminConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        cfg.check().map_err(|e| e.to_string())?;
        Ok(cfg)
    }

    #[test]
    fn admin_no_token_means_disabled() {
        let cfg = parse("").unwrap();
        assert!(cfg.load_token().unwrap().is_none());
        assert!(!cfg.metrics_open);
    }

    #[test]
    fn admin_short_token_is_refused_naming_the_key() {
        let e = parse("token = \"fifteen-chars-x\"\n").unwrap_err();
        assert_eq!(e, "admin.token: shorter than 16 characters");
        assert!(parse("token = \"sixteen-chars-xx\"\n").is_ok());
    }

    #[test]
    fn admin_token_with_a_space_is_refused() {
        let e = parse("token = \"a token with spaces in it\"\n").unwrap_err();
        assert!(e.starts_with("admin.token: only letters"), "{e}");
    }

    #[test]
    fn admin_unknown_key_is_refused() {
        let e = parse("tokn = \"sixteen-chars-xx\"\n").unwrap_err();
        assert!(e.contains("tokn"), "{e}");
    }

    #[test]
    fn admin_token_file_is_read_and_trimmed() {
        let dir = std::env::temp_dir().join(format!("ferry-admin-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good");
        std::fs::write(&good, "0123456789abcdefXYZ\n").unwrap();
        let short = dir.join("short");
        std::fs::write(&short, "0123456789\n").unwrap();
        let cfg = AdminConfig {
            token_file: Some(good.clone()),
            ..AdminConfig::default()
        };
        let token = cfg.load_token().unwrap().unwrap();
        assert!(token.matches(b"0123456789abcdefXYZ"));
        let e = AdminConfig {
            token_file: Some(short),
            ..AdminConfig::default()
        }
        .check()
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "admin.token_file: shorter than 16 characters"
        );
        let e = AdminConfig {
            token_file: Some(dir.join("missing")),
            ..AdminConfig::default()
        }
        .check()
        .unwrap_err();
        assert!(e.to_string().starts_with("admin.token_file "), "{e}");
        let e = AdminConfig {
            token: Some("0123456789abcdefXYZ".into()),
            token_file: Some(good),
            ..AdminConfig::default()
        }
        .check()
        .unwrap_err();
        assert!(matches!(e, AdminConfigError::BothTokenSources));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn admin_errors_stop_the_whole_config_naming_the_key() {
        let e = crate::config::Config::parse("[admin]\ntoken = \"short\"\n").unwrap_err();
        assert_eq!(e, "admin.token: shorter than 16 characters");
        let c = crate::config::Config::parse("[admin]\nmetrics_open = true\n").unwrap();
        assert!(c.admin.metrics_open && c.admin.token.is_none());
        assert!(
            crate::config::Config::parse("")
                .unwrap()
                .admin
                .token
                .is_none()
        );
    }

    #[test]
    fn admin_debug_redacts_the_token() {
        let cfg = AdminConfig {
            token: Some("0123456789abcdefXYZ".into()),
            ..AdminConfig::default()
        };
        assert!(!format!("{cfg:?}").contains("0123456789"));
    }
}
