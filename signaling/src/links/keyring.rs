//! The HMAC keys that sign call links, by key id, and their file in the state directory.
//!
//! One key is active and signs new links; every other key that is not retired still verifies
//! the links it signed. Rotation adds a new active key; retirement refuses a key's links from
//! then on (the key is kept so its links are told apart from forgeries: [`LinkError::RetiredKey`]
//! rather than [`LinkError::UnknownKey`]).
//!
//! The file (`links-keys.json`, mode 0600) is JSON:
//! `{"active":"KID","keys":[{"kid":"KID","secret":"BASE64URL(32 bytes)","retired":false}]}`.
//! It is replaced atomically (write a temporary file, fsync, rename, fsync the directory). A
//! running signaling process sees a rotation or retirement only when it loads the file again.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::{CryptoRng, RngCore};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::token::{self, b64};
use super::{LinkClaims, LinkError};

/// The keyring's file name inside the state directory.
pub const KEYRING_FILE: &str = "links-keys.json";
/// Key ids are this many base64url characters (36 random bits: ids only need to be distinct).
const KID_LEN: usize = 6;
const KID_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Why the keyring could not be loaded, saved or changed.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// Reading or writing the file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a keyring.
    #[error("{}: {reason}", path.display())]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// No key has this id.
    #[error("no key {0}")]
    NoSuchKey(String),
    /// The active key cannot be retired: rotate first.
    #[error("key {0} is the active key; rotate first")]
    RetireActive(String),
}

struct Key {
    kid: String,
    secret: Zeroizing<[u8; 32]>,
    retired: bool,
}

/// A key's id and state, for listing (never the secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key id carried in tokens.
    pub kid: String,
    /// It signs new links.
    pub active: bool,
    /// Its links are refused.
    pub retired: bool,
}

/// HMAC-SHA256 link keys by id; the secrets are zeroized on drop and never printed.
pub struct Keyring {
    keys: Vec<Key>,
    active: usize,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("keys", &self.list())
            .finish_non_exhaustive()
    }
}

impl Keyring {
    /// A keyring with one fresh active key.
    pub fn generate(rng: &mut (impl RngCore + CryptoRng)) -> Keyring {
        let mut ring = Keyring {
            keys: Vec::new(),
            active: 0,
        };
        ring.rotate(rng);
        ring
    }

    /// Adds a fresh key and makes it the active one; the previous keys keep verifying. Returns
    /// the new key id.
    pub fn rotate(&mut self, rng: &mut (impl RngCore + CryptoRng)) -> &str {
        let kid = loop {
            let kid: String = (0..KID_LEN)
                .map(|_| char::from(KID_ALPHABET[(rng.next_u32() % 64) as usize]))
                .collect();
            if self.find(&kid).is_none() {
                break kid;
            }
        };
        let mut secret = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(secret.as_mut());
        self.keys.push(Key {
            kid,
            secret,
            retired: false,
        });
        self.active = self.keys.len() - 1;
        &self.keys[self.active].kid
    }

    /// Refuses the links of key `kid` from now on. The active key cannot be retired.
    pub fn retire(&mut self, kid: &str) -> Result<(), KeyringError> {
        let i = self
            .find(kid)
            .ok_or_else(|| KeyringError::NoSuchKey(kid.to_owned()))?;
        if i == self.active {
            return Err(KeyringError::RetireActive(kid.to_owned()));
        }
        self.keys[i].retired = true;
        Ok(())
    }

    /// The id of the key that signs.
    pub fn active_kid(&self) -> &str {
        &self.keys[self.active].kid
    }

    /// Every key's id and state, oldest first.
    pub fn list(&self) -> Vec<KeyInfo> {
        let info = |(i, k): (usize, &Key)| KeyInfo {
            kid: k.kid.clone(),
            active: i == self.active,
            retired: k.retired,
        };
        self.keys.iter().enumerate().map(info).collect()
    }

    fn find(&self, kid: &str) -> Option<usize> {
        self.keys.iter().position(|k| k.kid == kid)
    }

    /// Signs `claims` with the active key. The token carries the active key's id whatever
    /// `claims.kid` says.
    pub fn sign(&self, claims: &LinkClaims) -> String {
        let key = &self.keys[self.active];
        let claims = LinkClaims {
            kid: key.kid.clone(),
            ..claims.clone()
        };
        token::encode(&claims, key.secret.as_ref())
    }

    /// Checks a token at `now_unix`: shape, key, tag (constant time), retirement, then the
    /// window. Does not look at one-time use (see [`super::admit`]).
    pub fn verify(&self, token: &str, now_unix: u64) -> Result<LinkClaims, LinkError> {
        let unverified = token::decode(token)?;
        let claims = &unverified.claims;
        let key = &self.keys[self.find(&claims.kid).ok_or(LinkError::UnknownKey)?];
        if !unverified.tag_matches(key.secret.as_ref()) {
            return Err(LinkError::Tampered);
        }
        if key.retired {
            return Err(LinkError::RetiredKey);
        }
        if let Some(starts) = claims.not_before.filter(|&t| now_unix < t) {
            return Err(LinkError::NotYetActive { starts });
        }
        if let Some(ended) = claims.not_after.filter(|&t| now_unix > t) {
            return Err(LinkError::Expired { ended });
        }
        Ok(unverified.claims)
    }

    /// Loads the keyring in `dir`, or generates one and saves it there (mode 0600).
    pub fn load_or_create(
        dir: &Path,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Result<Keyring, KeyringError> {
        let path = dir.join(KEYRING_FILE);
        if path.exists() {
            return Self::load(&path);
        }
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let ring = Self::generate(rng);
        ring.save(&path)?;
        Ok(ring)
    }

    /// Loads a keyring file, tightening its mode to 0600 if it was looser.
    pub fn load(path: &Path) -> Result<Keyring, KeyringError> {
        let text = Zeroizing::new(fs::read_to_string(path).map_err(io_err(path))?);
        let mode = fs::metadata(path)
            .map_err(io_err(path))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io_err(path))?;
        }
        let mut file: KeyFile = serde_json::from_str(&text).map_err(format_err(path))?;
        let ring = Self::from_file(&file).map_err(format_err(path));
        file.zeroize();
        ring
    }

    fn from_file(file: &KeyFile) -> Result<Keyring, String> {
        let mut keys = Vec::with_capacity(file.keys.len());
        for k in &file.keys {
            let bytes = Zeroizing::new(
                URL_SAFE_NO_PAD
                    .decode(&k.secret)
                    .map_err(|e| e.to_string())?,
            );
            let mut secret = Zeroizing::new([0u8; 32]);
            if bytes.len() != 32 {
                return Err(format!("key {}: secret is not 32 bytes", k.kid));
            }
            secret.copy_from_slice(&bytes);
            if keys.iter().any(|other: &Key| other.kid == k.kid) {
                return Err(format!("key {} appears twice", k.kid));
            }
            keys.push(Key {
                kid: k.kid.clone(),
                secret,
                retired: k.retired,
            });
        }
        let active = keys
            .iter()
            .position(|k| k.kid == file.active)
            .ok_or_else(|| format!("active key {} is not in the file", file.active))?;
        if keys[active].retired {
            return Err(format!("active key {} is retired", file.active));
        }
        Ok(Keyring { keys, active })
    }

    /// Writes the keyring to `path` atomically with mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), KeyringError> {
        let mut file = KeyFile {
            active: self.active_kid().to_owned(),
            keys: self
                .keys
                .iter()
                .map(|k| FileKey {
                    kid: k.kid.clone(),
                    secret: b64(k.secret.as_ref()),
                    retired: k.retired,
                })
                .collect(),
        };
        let text = Zeroizing::new(serde_json::to_string_pretty(&file).expect("serializes"));
        file.zeroize();
        write_atomic(path, text.as_bytes())
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    active: String,
    keys: Vec<FileKey>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileKey {
    kid: String,
    secret: String,
    #[serde(default)]
    retired: bool,
}

impl Zeroize for KeyFile {
    fn zeroize(&mut self) {
        self.keys.iter_mut().for_each(|k| k.secret.zeroize());
    }
}

/// Temporary file, fsync, rename over `path`, fsync the directory.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), KeyringError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = path.with_extension("json.tmp");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    // A stale temporary file keeps its old mode: make sure.
    f.set_permissions(fs::Permissions::from_mode(0o600))
        .map_err(io_err(&tmp))?;
    f.write_all(bytes).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> KeyringError + '_ {
    move |source| KeyringError::Io {
        path: path.to_owned(),
        source,
    }
}

fn format_err<E: ToString>(path: &Path) -> impl FnOnce(E) -> KeyringError + '_ {
    move |e| KeyringError::Format {
        path: path.to_owned(),
        reason: e.to_string(),
    }
}
