//! Via header values (RFC 3261 §20.42, RFC 3581 rport, RFC 7118 WS/WSS transports).

use std::fmt;
use std::str::FromStr;

use super::error::ParseError;
use super::syntax::{self, Params};

/// The magic cookie that marks an RFC 3261 branch (§8.1.1.7).
pub const BRANCH_COOKIE: &str = "z9hG4bK";

/// One Via value: `SIP/2.0/<transport> host[:port];params`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// `UDP`, `TCP`, `TLS`, `WS`, `WSS`..., as received.
    pub transport: String,
    /// The sent-by host (a `.invalid` name from browsers, RFC 7118 §5.2).
    pub host: String,
    /// The sent-by port.
    pub port: Option<u16>,
    /// `branch`, `received`, `rport`, ..., in order.
    pub params: Params,
}

impl Via {
    /// A Via for a request Ferry sends, with a branch.
    pub fn new(transport: &str, host: &str, port: Option<u16>, branch: &str) -> Via {
        let params = vec![("branch".to_owned(), Some(branch.to_owned()))];
        Via {
            transport: transport.into(),
            host: host.into(),
            port,
            params,
        }
    }

    /// Parses one Via value (split comma lists with `Headers::get_all`).
    pub fn parse(s: &str) -> Result<Via, ParseError> {
        let bad = ParseError::Invalid("Via");
        let mut parts = s.trim().splitn(3, '/');
        let (name, version, rest) = (parts.next(), parts.next(), parts.next());
        let (Some(name), Some(version), Some(rest)) = (name, version, rest) else {
            return Err(bad);
        };
        // RFC 3261 §20.42: sent-protocol = protocol-name SLASH protocol-version SLASH transport
        if !name.trim().eq_ignore_ascii_case("SIP") || version.trim() != "2.0" {
            return Err(bad);
        }
        let rest = rest.trim_start();
        let split = rest.find(char::is_whitespace).ok_or(bad.clone())?;
        let (transport, rest) = (&rest[..split], rest[split..].trim_start());
        if !syntax::is_token(transport) {
            return Err(bad);
        }
        let (sent_by, params) = match rest.find(';') {
            Some(i) => (rest[..i].trim(), syntax::parse_params(&rest[i + 1..])?),
            None => (rest.trim(), Vec::new()),
        };
        let (host, port) = syntax::parse_hostport(sent_by)?;
        Ok(Via {
            transport: transport.into(),
            host,
            port,
            params,
        })
    }

    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&str> {
        self.param("branch").filter(|b| !b.is_empty())
    }

    /// The `received` parameter (RFC 3261 §18.2.1).
    pub fn received(&self) -> Option<&str> {
        self.param("received")
    }

    /// The `rport` value, if it has one (RFC 3581 §4); see [`Via::has_rport`] for the flag.
    pub fn rport(&self) -> Option<u16> {
        self.param("rport").and_then(|p| p.parse().ok())
    }

    /// Whether `rport` is present, with or without a value (RFC 3581 §3).
    pub fn has_rport(&self) -> bool {
        self.param("rport").is_some()
    }

    /// A parameter by name (case-insensitive); `Some("")` for a flag.
    pub fn param(&self, name: &str) -> Option<&str> {
        syntax::param(&self.params, name)
    }

    /// Sets (or adds) a parameter, e.g. `received` and `rport` on an incoming request.
    pub fn set_param(&mut self, name: &str, value: Option<&str>) {
        syntax::set_param(&mut self.params, name, value);
    }

    /// `host[:port]`, lower-cased, for transaction matching (RFC 3261 §17.2.3).
    pub fn sent_by(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host.to_ascii_lowercase()),
            None => self.host.to_ascii_lowercase(),
        }
    }

    /// Whether the transport is reliable (no retransmissions, RFC 3261 §17.1.1.2).
    pub fn is_reliable(&self) -> bool {
        !self.transport.eq_ignore_ascii_case("UDP")
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0/{} {}", self.transport, self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        syntax::write_params(f, &self.params)
    }
}

impl FromStr for Via {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Via::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_via_from_jssip() {
        let v = Via::parse("SIP/2.0/WS h3ioan6e6ca6.invalid;branch=z9hG4bK3871848").unwrap();
        assert_eq!(
            (v.transport.as_str(), v.host.as_str(), v.port),
            ("WS", "h3ioan6e6ca6.invalid", None)
        );
        assert_eq!(v.branch(), Some("z9hG4bK3871848"));
        assert!(v.is_reliable());
        assert_eq!(
            v.to_string(),
            "SIP/2.0/WS h3ioan6e6ca6.invalid;branch=z9hG4bK3871848"
        );
    }

    #[test]
    fn rport_and_received() {
        let mut v = Via::parse("SIP / 2.0 / UDP 10.0.0.1:5060 ;rport;branch=z9hG4bKx").unwrap();
        assert!(v.has_rport() && v.rport().is_none());
        v.set_param("received", Some("192.0.2.1"));
        v.set_param("rport", Some("4000"));
        assert_eq!((v.received(), v.rport()), (Some("192.0.2.1"), Some(4000)));
        assert_eq!(
            v.to_string(),
            "SIP/2.0/UDP 10.0.0.1:5060;rport=4000;branch=z9hG4bKx;received=192.0.2.1"
        );
        assert_eq!(v.sent_by(), "10.0.0.1:5060");
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "SIP/2.0/UDP",
            "SIP/3.0/UDP h",
            "SIP/2.0/UDP h:x",
            "HTTP/2.0/UDP h",
            "SIP/2.0/UDP h;",
        ] {
            assert!(Via::parse(bad).is_err(), "{bad}");
        }
    }
}
