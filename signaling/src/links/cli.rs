//! `ferry link`: create call links and manage the keys that sign them.
//!
//! ```text
//! ferry link create --base-url https://call.example.com --dest sales [--name "Ann"]
//!                   [--not-before T] [--not-after T] [--one-time]
//! ferry link rotate          # new active key; links signed by the old ones stay valid
//! ferry link retire KID      # links signed by KID are refused from now on
//! ferry link keys            # list key ids
//! ```
//!
//! Times are RFC 3339 (`2026-12-24T09:00:00Z`) or unix seconds. The keys live in the state
//! directory (`--state-dir`, else `state_dir` of `--config`, else the default `/var/lib/ferry`),
//! created on first use. A running signaling process must load the keyring again to see a
//! rotation or retirement.

use std::path::{Path, PathBuf};

use rand::rngs::OsRng;

use super::time::{format_time, parse_time};
use super::{KEYRING_FILE, Keyring, LinkClaims, url};
use crate::config::Config;

/// Longest destination and display name accepted on a link, in bytes.
const MAX_FIELD: usize = 64;

/// Arguments of `ferry link`.
#[derive(Debug, clap::Args)]
pub struct LinkArgs {
    /// State directory holding the link keys (overrides `state_dir` of --config).
    #[arg(long, global = true)]
    pub state_dir: Option<PathBuf>,
    /// Signaling configuration, for its `state_dir`.
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: LinkCommand,
}

/// The `ferry link` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum LinkCommand {
    /// Print a signed call link.
    Create {
        /// Public base URL of Ferry's web page, such as <https://call.example.com>.
        #[arg(long)]
        base_url: String,
        /// Destination the link may call (a service name such as `sales`).
        #[arg(long)]
        dest: String,
        /// Caller display name fixed by the link.
        #[arg(long)]
        name: Option<String>,
        /// Not active before this time (RFC 3339 or unix seconds).
        #[arg(long)]
        not_before: Option<String>,
        /// Expired after this time (RFC 3339 or unix seconds).
        #[arg(long)]
        not_after: Option<String>,
        /// The link places one connected call only.
        #[arg(long)]
        one_time: bool,
    },
    /// Make a new active signing key; links signed by older keys stay valid.
    Rotate,
    /// Refuse every link signed by key KID from now on.
    Retire {
        /// Key id (see `ferry link keys`).
        kid: String,
    },
    /// List the key ids.
    Keys,
}

/// Runs `ferry link`, printing its result on stdout.
pub fn run(args: LinkArgs) -> Result<(), String> {
    let dir = state_dir(&args)?;
    let out = match args.command {
        LinkCommand::Create {
            base_url,
            dest,
            name,
            not_before,
            not_after,
            one_time,
        } => create_cli(
            &dir,
            &base_url,
            &dest,
            name.as_deref(),
            not_before.as_deref(),
            not_after.as_deref(),
            one_time,
        )?,
        LinkCommand::Rotate => rotate_cli(&dir)?,
        LinkCommand::Retire { kid } => retire_cli(&dir, &kid)?,
        LinkCommand::Keys => keys_cli(&dir)?,
    };
    println!("{out}");
    Ok(())
}

fn state_dir(args: &LinkArgs) -> Result<PathBuf, String> {
    if let Some(dir) = &args.state_dir {
        return Ok(dir.clone());
    }
    let cfg = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    Ok(cfg.state_dir)
}

/// Creates a signed link and returns its URL (`BASE/call?link=TOKEN`). Generates the keyring in
/// `state_dir` on first use. Reads the clock only to refuse a link that has already expired.
pub fn create_cli(
    state_dir: &Path,
    base_url: &str,
    dest: &str,
    name: Option<&str>,
    not_before: Option<&str>,
    not_after: Option<&str>,
    one_time: bool,
) -> Result<String, String> {
    if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
        return Err(format!(
            "--base-url {base_url}: expected http:// or https://"
        ));
    }
    check_dest(dest)?;
    if let Some(name) = name {
        check_name(name)?;
    }
    let not_before = not_before.map(parse_time).transpose()?;
    let not_after = not_after.map(parse_time).transpose()?;
    if let (Some(nb), Some(na)) = (not_before, not_after) {
        if nb > na {
            return Err("--not-before is after --not-after".to_owned());
        }
    }
    if let Some(na) = not_after {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if na < now {
            return Err(format!("--not-after {} is in the past", format_time(na)));
        }
    }
    let ring = Keyring::load_or_create(state_dir, &mut OsRng).map_err(|e| e.to_string())?;
    let claims = LinkClaims {
        name: name.map(str::to_owned),
        not_before,
        not_after,
        one_time,
        ..LinkClaims::new(dest, &mut OsRng)
    };
    Ok(url(base_url, &ring.sign(&claims)))
}

fn check_dest(dest: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "._+-*#".contains(c);
    if dest.is_empty() || dest.len() > MAX_FIELD || !dest.chars().all(ok_char) {
        return Err(format!(
            "--dest {dest:?}: 1 to {MAX_FIELD} of A-Z a-z 0-9 . _ + - * #"
        ));
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() || name.len() > MAX_FIELD || name.chars().any(char::is_control) {
        return Err(format!(
            "--name {name:?}: 1 to {MAX_FIELD} bytes, no control characters"
        ));
    }
    Ok(())
}

/// Adds a new active key to the keyring in `state_dir`; returns a message naming it.
pub fn rotate_cli(state_dir: &Path) -> Result<String, String> {
    let mut ring = Keyring::load_or_create(state_dir, &mut OsRng).map_err(|e| e.to_string())?;
    let kid = ring.rotate(&mut OsRng).to_owned();
    ring.save(&state_dir.join(KEYRING_FILE))
        .map_err(|e| e.to_string())?;
    Ok(format!(
        "new active key {kid}; links signed by older keys stay valid until retired"
    ))
}

/// Retires key `kid` of the keyring in `state_dir`; returns a message.
pub fn retire_cli(state_dir: &Path, kid: &str) -> Result<String, String> {
    let path = state_dir.join(KEYRING_FILE);
    let mut ring = Keyring::load(&path).map_err(|e| e.to_string())?;
    ring.retire(kid).map_err(|e| e.to_string())?;
    ring.save(&path).map_err(|e| e.to_string())?;
    Ok(format!("key {kid} retired: its links are refused"))
}

/// Lists the keys of the keyring in `state_dir`, one a line.
pub fn keys_cli(state_dir: &Path) -> Result<String, String> {
    let ring = Keyring::load(&state_dir.join(KEYRING_FILE)).map_err(|e| e.to_string())?;
    let line = |k: &super::KeyInfo| {
        let state = match (k.active, k.retired) {
            (true, _) => "active",
            (false, true) => "retired",
            (false, false) => "verifies",
        };
        format!("{} {state}", k.kid)
    };
    Ok(ring.list().iter().map(line).collect::<Vec<_>>().join("\n"))
}
