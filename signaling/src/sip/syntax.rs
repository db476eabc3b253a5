//! Small lexical helpers shared by the header parsers (RFC 3261 §25.1).

use super::error::ParseError;

/// A generic parameter list: `;name[=value]`, values kept raw (quotes included) so they round-trip.
pub type Params = Vec<(String, Option<String>)>;

/// RFC 3261 §25.1 `token` character.
pub(crate) fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

/// A non-empty `token`.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_token_char)
}

/// Splits `s` on `sep` outside double quotes and, if `angle`, outside `<...>`.
pub(crate) fn split_outside(s: &str, sep: char, angle: bool) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted, mut escaped, mut depth) = (0, false, false, 0u32);
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if quoted {
            match c {
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
        } else if c == '"' {
            quoted = true;
        } else if angle && c == '<' {
            depth += 1;
        } else if angle && c == '>' {
            depth = depth.saturating_sub(1);
        } else if c == sep && depth == 0 {
            out.push(&s[start..i]);
            start = i + c.len_utf8();
        }
    }
    out.push(&s[start..]);
    out
}

/// Parses `;a=b;c` (the text after the first `;`), names must be tokens.
pub(crate) fn parse_params(s: &str) -> Result<Params, ParseError> {
    let mut out = Vec::new();
    for p in split_outside(s, ';', false) {
        let (name, value) = match p.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().to_owned())),
            None => (p.trim(), None),
        };
        if !is_token(name) {
            return Err(ParseError::Param);
        }
        if value.as_deref().is_some_and(|v| !valid_param_value(v)) {
            return Err(ParseError::Param);
        }
        out.push((name.to_owned(), value));
    }
    Ok(out)
}

/// A value is a token-ish word, an IPv6 reference or one whole quoted-string.
fn valid_param_value(v: &str) -> bool {
    if v.starts_with('"') {
        return unquote(v).is_some();
    }
    !v.is_empty() && !v.contains(|c: char| c.is_whitespace() || c == '"' || c == ',')
}

/// Writes `;a=b;c`.
pub(crate) fn write_params(f: &mut std::fmt::Formatter<'_>, params: &Params) -> std::fmt::Result {
    for (n, v) in params {
        match v {
            Some(v) => write!(f, ";{n}={v}")?,
            None => write!(f, ";{n}")?,
        }
    }
    Ok(())
}

/// Case-insensitive lookup of a parameter; a flag parameter yields `Some("")`.
pub(crate) fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_deref().unwrap_or(""))
}

/// Replaces (or appends) a parameter, keeping its position if it exists.
pub(crate) fn set_param(params: &mut Params, name: &str, value: Option<&str>) {
    let value = value.map(str::to_owned);
    match params
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
    {
        Some(slot) => slot.1 = value,
        None => params.push((name.to_owned(), value)),
    }
}

/// Removes the surrounding quotes of one whole quoted-string and its `\` escapes.
pub(crate) fn unquote(s: &str) -> Option<String> {
    let inner = s.strip_prefix('"')?.strip_suffix('"')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?),
            '"' => return None,
            c => out.push(c),
        }
    }
    Some(out)
}

/// Writes `s` as a quoted-string (RFC 3261 §25.1 `quoted-pair` for `"` and `\`).
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Parses `host[:port]` with IPv6 references (RFC 3261 §25.1 `hostport`).
pub(crate) fn parse_hostport(s: &str) -> Result<(String, Option<u16>), ParseError> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']').ok_or(ParseError::Host)?;
        let (v6, after) = (&rest[..end], &rest[end + 1..]);
        if v6.is_empty()
            || !v6
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return Err(ParseError::Host);
        }
        (&s[..end + 2], after)
    } else {
        let end = s.find(':').unwrap_or(s.len());
        let host = &s[..end];
        let ok = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_';
        if host.is_empty() || !host.chars().all(ok) {
            return Err(ParseError::Host);
        }
        (host, &s[end..])
    };
    let port = match port.strip_prefix(':') {
        None if port.is_empty() => None,
        None => return Err(ParseError::Host),
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse().map_err(|_| ParseError::Host)?)
        }
        Some(_) => return Err(ParseError::Host),
    };
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_outside_quotes_and_angles() {
        let s = r#"<sip:a@b;x=1>;p="a,b", <sip:c@d>"#;
        assert_eq!(
            split_outside(s, ',', true),
            vec![r#"<sip:a@b;x=1>;p="a,b""#, " <sip:c@d>"]
        );
    }

    #[test]
    fn hostport_forms() {
        assert_eq!(
            parse_hostport("h.invalid").unwrap(),
            ("h.invalid".into(), None)
        );
        assert_eq!(
            parse_hostport("[::1]:5060").unwrap(),
            ("[::1]".into(), Some(5060))
        );
        assert!(parse_hostport("h:99999").is_err());
        assert!(parse_hostport("h:").is_err());
        assert!(parse_hostport("").is_err());
        assert!(parse_hostport("[::1").is_err());
    }

    #[test]
    fn quoting() {
        assert_eq!(unquote(r#""a \"b\"""#).as_deref(), Some(r#"a "b""#));
        assert_eq!(quote(r#"a "b""#), r#""a \"b\"""#);
        assert!(unquote(r#""a"b""#).is_none());
    }
}
