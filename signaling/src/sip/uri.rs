//! SIP and SIPS URIs (RFC 3261 §19.1). Parameters keep the case they arrived with, so
//! `transport=ws` is written back as `transport=ws` (rsip re-cases it; browsers notice).

use std::fmt;
use std::str::FromStr;

use super::error::ParseError;
use super::syntax::{self, Params};

/// A `sip:` or `sips:` URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uri {
    /// `sip` or `sips`, lower case.
    pub scheme: String,
    /// The userinfo before `@` (with `:password` if one was sent), still %-escaped.
    pub user: Option<String>,
    /// Host name, IPv4 address or `[IPv6]` reference, as received.
    pub host: String,
    /// Explicit port.
    pub port: Option<u16>,
    /// `;name[=value]` URI parameters, in order.
    pub params: Params,
    /// `?name=value&...` URI headers, in order, still %-escaped.
    pub headers: Vec<(String, String)>,
}

impl Uri {
    /// Parses a SIP or SIPS URI; other schemes give [`ParseError::UriScheme`].
    pub fn parse(s: &str) -> Result<Uri, ParseError> {
        let s = s.trim();
        let (scheme, rest) = s.split_once(':').ok_or(ParseError::Uri)?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "sip" && scheme != "sips" {
            return Err(if syntax::is_token(&scheme) {
                ParseError::UriScheme
            } else {
                ParseError::Uri
            });
        }
        if rest.contains(|c: char| c.is_whitespace() || c.is_control() || "<>\"".contains(c)) {
            return Err(ParseError::Uri);
        }
        let (rest, headers) = match rest.split_once('?') {
            Some((r, h)) => (r, parse_uri_headers(h)?),
            None => (rest, Vec::new()),
        };
        let (user, rest) = match rest.split_once('@') {
            Some((u, r)) if !u.is_empty() => (Some(u.to_owned()), r),
            Some(_) => return Err(ParseError::Uri),
            None => (None, rest),
        };
        let (hostport, params) = match rest.split_once(';') {
            Some((h, p)) => (h, syntax::parse_params(p)?),
            None => (rest, Vec::new()),
        };
        let (host, port) = syntax::parse_hostport(hostport)?;
        Ok(Uri {
            scheme,
            user,
            host,
            port,
            params,
            headers,
        })
    }

    /// A plain `sip:user@host` URI.
    pub fn sip(user: Option<&str>, host: &str, port: Option<u16>) -> Uri {
        Uri {
            scheme: "sip".into(),
            user: user.map(str::to_owned),
            host: host.into(),
            port,
            params: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// The first URI parameter called `name` (case-insensitive); `Some("")` for a flag like `;lr`.
    pub fn param(&self, name: &str) -> Option<&str> {
        syntax::param(&self.params, name)
    }

    /// Sets (or adds) a URI parameter.
    pub fn set_param(&mut self, name: &str, value: Option<&str>) {
        syntax::set_param(&mut self.params, name, value);
    }

    /// Whether the URI is `sips:` (RFC 3261 §19.1.1; used for the dialog secure flag).
    pub fn is_sips(&self) -> bool {
        self.scheme == "sips"
    }

    /// A loose-routing URI carries `;lr` (RFC 3261 §16.12).
    pub fn is_loose_route(&self) -> bool {
        self.param("lr").is_some()
    }

    /// The user part without a `:password`.
    pub fn user_name(&self) -> Option<&str> {
        self.user
            .as_deref()
            .map(|u| u.split(':').next().unwrap_or(u))
    }
}

fn parse_uri_headers(s: &str) -> Result<Vec<(String, String)>, ParseError> {
    s.split('&')
        .map(|h| {
            let (n, v) = h.split_once('=').ok_or(ParseError::Uri)?;
            if n.is_empty() {
                return Err(ParseError::Uri);
            }
            Ok((n.to_owned(), v.to_owned()))
        })
        .collect()
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.scheme)?;
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        f.write_str(&self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        syntax::write_params(f, &self.params)?;
        for (i, (n, v)) in self.headers.iter().enumerate() {
            write!(f, "{}{n}={v}", if i == 0 { '?' } else { '&' })?;
        }
        Ok(())
    }
}

impl FromStr for Uri {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uri::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_jssip_contact_uri_and_keeps_case() {
        let u = Uri::parse("sip:n3ha2tck@h3ioan6e6ca6.invalid;transport=ws;ob").unwrap();
        assert_eq!(u.user.as_deref(), Some("n3ha2tck"));
        assert_eq!(u.host, "h3ioan6e6ca6.invalid");
        assert_eq!(u.param("transport"), Some("ws"));
        assert_eq!(u.param("OB"), Some(""));
        assert_eq!(
            u.to_string(),
            "sip:n3ha2tck@h3ioan6e6ca6.invalid;transport=ws;ob"
        );
        let u = Uri::parse("sip:a@b;Transport=WS").unwrap();
        assert_eq!(u.to_string(), "sip:a@b;Transport=WS");
    }

    #[test]
    fn full_form() {
        let s = "sips:alice:pw@[2001:db8::1]:5061;lr;maddr=x?Subject=hi&Priority=urgent";
        let u = Uri::parse(s).unwrap();
        assert_eq!((u.host.as_str(), u.port), ("[2001:db8::1]", Some(5061)));
        assert_eq!(u.user_name(), Some("alice"));
        assert!(u.is_sips() && u.is_loose_route());
        assert_eq!(u.headers.len(), 2);
        assert_eq!(u.to_string(), s);
    }

    #[test]
    fn rejects() {
        assert_eq!(Uri::parse("tel:+123"), Err(ParseError::UriScheme));
        for bad in [
            "sip:",
            "sip:@h",
            "sip:a b@h",
            "sip:h:x",
            "nocolon",
            "sip:h;=1",
            "sip:h?x",
        ] {
            assert!(Uri::parse(bad).is_err(), "{bad}");
        }
    }
}
