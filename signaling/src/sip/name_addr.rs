//! `name-addr` / `addr-spec` values of From, To, Contact, Route and Record-Route (RFC 3261 §20.10).

use std::fmt;
use std::str::FromStr;

use super::error::ParseError;
use super::syntax::{self, Params};
use super::uri::Uri;

/// `["Display"] <uri>;params`, or a bare `uri;params` (whose `;params` are header parameters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    /// The display name, unquoted.
    pub display: Option<String>,
    /// The address.
    pub uri: Uri,
    /// Header parameters (`tag`, `expires`, `+sip.instance`...), values raw.
    pub params: Params,
}

impl NameAddr {
    /// A `<uri>` with no display name or parameters.
    pub fn new(uri: Uri) -> NameAddr {
        NameAddr {
            display: None,
            uri,
            params: Vec::new(),
        }
    }

    /// Parses one value (not a comma-separated list: split with `Headers::get_all` first).
    pub fn parse(s: &str) -> Result<NameAddr, ParseError> {
        let s = s.trim();
        if let Some(rest) = s.strip_prefix('"') {
            let end = closing_quote(rest).ok_or(ParseError::Invalid("name-addr"))?;
            let display = syntax::unquote(&s[..end + 2]).ok_or(ParseError::Invalid("name-addr"))?;
            let rest = rest[end + 1..].trim_start();
            return Self::bracketed(Some(display), rest);
        }
        match s.find('<') {
            // A display name made of tokens cannot hold ':', so a ':' first means addr-spec.
            Some(lt) if !s[..lt].contains(':') => {
                let display = s[..lt].trim();
                let ok = display.split_whitespace().all(syntax::is_token);
                if !ok {
                    return Err(ParseError::Invalid("name-addr"));
                }
                let display = (!display.is_empty()).then(|| display.to_owned());
                Self::bracketed(display, &s[lt..])
            }
            _ => Self::addr_spec(s),
        }
    }

    fn bracketed(display: Option<String>, s: &str) -> Result<NameAddr, ParseError> {
        let inner = s
            .strip_prefix('<')
            .ok_or(ParseError::Invalid("name-addr"))?;
        let gt = inner.find('>').ok_or(ParseError::Invalid("name-addr"))?;
        let uri = Uri::parse(&inner[..gt])?;
        let params = header_params(&inner[gt + 1..])?;
        Ok(NameAddr {
            display,
            uri,
            params,
        })
    }

    // RFC 3261 §20.10: without <>, everything after the first ';' is a header parameter.
    fn addr_spec(s: &str) -> Result<NameAddr, ParseError> {
        let (uri, rest) = match s.find(';') {
            Some(i) => (&s[..i], &s[i..]),
            None => (s, ""),
        };
        if uri.contains('?') {
            return Err(ParseError::Invalid("name-addr"));
        }
        Ok(NameAddr {
            display: None,
            uri: Uri::parse(uri)?,
            params: header_params(rest)?,
        })
    }

    /// The `tag` parameter (RFC 3261 §19.3).
    pub fn tag(&self) -> Option<&str> {
        self.param("tag").filter(|t| !t.is_empty())
    }

    /// Sets the `tag` parameter.
    pub fn set_tag(&mut self, tag: &str) {
        self.set_param("tag", Some(tag));
    }

    /// A header parameter by name (case-insensitive); `Some("")` for a flag.
    pub fn param(&self, name: &str) -> Option<&str> {
        syntax::param(&self.params, name)
    }

    /// Sets (or adds) a header parameter.
    pub fn set_param(&mut self, name: &str, value: Option<&str>) {
        syntax::set_param(&mut self.params, name, value);
    }
}

/// Index in `s` of the quote that closes a quoted-string whose opening quote precedes `s`.
fn closing_quote(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => escaped = true,
            (false, '"') => return Some(i),
            _ => {}
        }
    }
    None
}

fn header_params(s: &str) -> Result<Params, ParseError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(Vec::new());
    }
    let p = s
        .strip_prefix(';')
        .ok_or(ParseError::Invalid("name-addr"))?;
    syntax::parse_params(p)
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            write!(f, "{} ", syntax::quote(d))?;
        }
        write!(f, "<{}>", self.uri)?;
        syntax::write_params(f, &self.params)
    }
}

impl FromStr for NameAddr {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NameAddr::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_with_tag() {
        let mut a = NameAddr::parse("<sip:alice@127.0.0.1>;tag=ps6ate10gh").unwrap();
        assert_eq!(a.tag(), Some("ps6ate10gh"));
        assert_eq!(a.uri.user.as_deref(), Some("alice"));
        a.set_tag("x");
        assert_eq!(a.to_string(), "<sip:alice@127.0.0.1>;tag=x");
    }

    #[test]
    fn display_names() {
        let a = NameAddr::parse(r#""Bob \"B\" <x>" <sip:bob@h>"#).unwrap();
        assert_eq!(a.display.as_deref(), Some(r#"Bob "B" <x>"#));
        assert_eq!(NameAddr::parse(&a.to_string()).unwrap(), a);
        let b = NameAddr::parse("Bob Smith <sip:bob@h;lr>;expires=60").unwrap();
        assert_eq!(b.display.as_deref(), Some("Bob Smith"));
        assert!(b.uri.is_loose_route());
        assert_eq!(b.param("expires"), Some("60"));
    }

    #[test]
    fn addr_spec_params_belong_to_header() {
        let a = NameAddr::parse("sip:alice@h;tag=1").unwrap();
        assert!(a.uri.params.is_empty());
        assert_eq!(a.tag(), Some("1"));
    }

    #[test]
    fn instance_param_with_angles_in_quotes() {
        let s = r#"<sip:u@h.invalid;transport=ws>;+sip.instance="<urn:uuid:1;2>";expires=600"#;
        let a = NameAddr::parse(s).unwrap();
        assert_eq!(a.param("+sip.instance"), Some(r#""<urn:uuid:1;2>""#));
        assert_eq!(a.to_string(), s);
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "<sip:a@b",
            "\"x <sip:a@b>",
            "<sip:a@b> junk",
            "<tel:1>",
            "a,b <sip:a@b>",
        ] {
            assert!(NameAddr::parse(bad).is_err(), "{bad}");
        }
    }
}
