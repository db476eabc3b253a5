//! Where a call goes: the built-in `echo` destination, or the trunk.

use std::net::{SocketAddr, ToSocketAddrs};

/// A destination chosen for a browser's INVITE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Ferry answers and reflects the caller's media (like Janus' echo test).
    Echo,
    /// Bridged to the trunk, calling this user.
    Trunk(String),
    /// Nowhere: 404.
    None,
}

/// The name of the built-in echo destination.
pub const ECHO: &str = "echo";

/// Chooses the route for a Request-URI user part.
pub fn route(user: Option<&str>, have_trunk: bool) -> Route {
    match user {
        Some(u) if u.eq_ignore_ascii_case(ECHO) => Route::Echo,
        Some(u) if have_trunk && is_dial_string(u) => Route::Trunk(u.to_string()),
        _ => Route::None,
    }
}

/// Digits, letters and the few marks dial strings use; no `@`, `;` or spaces can ride along
/// into the trunk's Request-URI.
pub fn is_dial_string(u: &str) -> bool {
    !u.is_empty()
        && u.len() <= 64
        && u.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-_.*#".contains(&b))
}

/// The trunk's SIP address from `sip:HOST[:PORT]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrunkTarget {
    /// Host as written (used in Request-URIs).
    pub host: String,
    /// Port (5060 when absent).
    pub port: u16,
}

impl TrunkTarget {
    /// Parses `sip:HOST[:PORT]` (an optional `user@` and `;params` are ignored).
    pub fn parse(uri: &str) -> Result<Self, String> {
        let rest = uri
            .strip_prefix("sip:")
            .ok_or_else(|| format!("{uri:?} is not a sip: URI"))?;
        let rest = rest.split(';').next().unwrap_or_default();
        let hostport = rest.rsplit('@').next().unwrap_or_default();
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or("unclosed [ in host")?;
            (format!("[{h}]"), after.strip_prefix(':'))
        } else {
            match hostport.split_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (hostport.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(format!("{uri:?} has no host"));
        }
        let port = match port {
            Some(p) => p.parse().map_err(|_| format!("bad port {p:?}"))?,
            None => 5060,
        };
        Ok(Self { host, port })
    }

    /// Resolves the host (once, at start: a trunk's address does not move under a call).
    pub fn resolve(&self) -> Result<SocketAddr, String> {
        let h = self.host.trim_start_matches('[').trim_end_matches(']');
        (h, self.port)
            .to_socket_addrs()
            .map_err(|e| format!("{}: {e}", self.host))?
            .next()
            .ok_or_else(|| format!("{}: no address", self.host))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_and_trunk_routes() {
        assert_eq!(route(Some("echo"), false), Route::Echo);
        assert_eq!(route(Some("ECHO"), true), Route::Echo);
        assert_eq!(route(Some("2000"), true), Route::Trunk("2000".into()));
        assert_eq!(route(Some("2000"), false), Route::None);
        assert_eq!(route(None, true), Route::None);
        assert_eq!(route(Some("a;b=c"), true), Route::None);
    }

    #[test]
    fn trunk_uris() {
        let t = TrunkTarget::parse("sip:127.0.0.1:5070").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("127.0.0.1", 5070));
        assert_eq!(
            t.resolve().unwrap(),
            "127.0.0.1:5070".parse::<SocketAddr>().unwrap()
        );
        let t = TrunkTarget::parse("sip:pbx@[::1];transport=udp").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("[::1]", 5060));
        assert_eq!(
            t.resolve().unwrap(),
            "[::1]:5060".parse::<SocketAddr>().unwrap()
        );
        assert!(TrunkTarget::parse("http://x").is_err());
        assert!(TrunkTarget::parse("sip:").is_err());
        assert!(TrunkTarget::parse("sip:h:99999").is_err());
    }
}
