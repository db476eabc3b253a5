//! HTTP Digest authentication for SIP (RFC 3261 §22.4, RFC 2617, RFC 7616, RFC 8760): parsing
//! challenges, answering them, and (server side) checking an answer.
//!
//! `nc` is written as exactly 8 hex digits (RFC 7616 §3.4: `nc=00000001`, then `0000000a` for
//! ten); rsip writes it in decimal, which servers reject from the tenth request on.

use std::fmt;

use md5::Md5;
use sha2::{Digest, Sha256, Sha512_256};

use super::error::ParseError;
use super::method::Method;
use super::syntax::{is_token_char, quote};

/// A digest algorithm (RFC 7616 §6.1, RFC 8760 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// `MD5`, the default when a challenge names none.
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256`.
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
    /// `SHA-512-256`.
    Sha512_256,
    /// `SHA-512-256-sess`.
    Sha512_256Sess,
}

impl Algorithm {
    /// Parses the `algorithm` token, case-insensitively.
    pub fn parse(s: &str) -> Result<Algorithm, ParseError> {
        const ALL: [Algorithm; 6] = [
            Algorithm::Md5,
            Algorithm::Md5Sess,
            Algorithm::Sha256,
            Algorithm::Sha256Sess,
            Algorithm::Sha512_256,
            Algorithm::Sha512_256Sess,
        ];
        ALL.into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or(ParseError::DigestAlgorithm)
    }

    /// The token as written on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
            Algorithm::Sha512_256 => "SHA-512-256",
            Algorithm::Sha512_256Sess => "SHA-512-256-sess",
        }
    }

    fn is_sess(self) -> bool {
        matches!(
            self,
            Algorithm::Md5Sess | Algorithm::Sha256Sess | Algorithm::Sha512_256Sess
        )
    }

    /// `H(data)` as lower-case hex.
    fn h(self, data: &[u8]) -> String {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => hex::encode(Md5::digest(data)),
            Algorithm::Sha256 | Algorithm::Sha256Sess => hex::encode(Sha256::digest(data)),
            Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => {
                hex::encode(Sha512_256::digest(data))
            }
        }
    }
}

/// A quality-of-protection option (RFC 7616 §3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qop {
    /// `auth`.
    Auth,
    /// `auth-int`: the body is hashed into the response.
    AuthInt,
}

impl Qop {
    fn as_str(self) -> &'static str {
        match self {
            Qop::Auth => "auth",
            Qop::AuthInt => "auth-int",
        }
    }

    fn parse(s: &str) -> Option<Qop> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auth" => Some(Qop::Auth),
            "auth-int" => Some(Qop::AuthInt),
            _ => None,
        }
    }
}

/// A Digest challenge from WWW-Authenticate or Proxy-Authenticate (RFC 7616 §3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `realm`.
    pub realm: String,
    /// `nonce`.
    pub nonce: String,
    /// `opaque`, echoed back unchanged.
    pub opaque: Option<String>,
    /// `algorithm` (MD5 when absent).
    pub algorithm: Algorithm,
    /// The `qop` options Ferry understands; empty for an RFC 2069-style challenge.
    pub qop: Vec<Qop>,
    /// `stale=true`: the password was right, the nonce expired; retry without asking the user.
    pub stale: bool,
    /// `domain`, raw.
    pub domain: Option<String>,
}

/// Splits `Digest a=b, c="d"` into its scheme check and lower-cased `(name, value)` pairs,
/// values unquoted.
fn auth_params(s: &str) -> Result<Vec<(String, String)>, ParseError> {
    let s = s.trim_start();
    let rest = match s.split_once(char::is_whitespace) {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("Digest") => rest,
        _ => return Err(ParseError::Digest),
    };
    let mut out = Vec::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace() || *c == ',').is_some() {}
        if chars.peek().is_none() {
            return Ok(out);
        }
        let name: String = std::iter::from_fn(|| chars.next_if(|c| is_token_char(*c))).collect();
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if name.is_empty() || chars.next() != Some('=') {
            return Err(ParseError::Digest);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let value = if chars.next_if_eq(&'"').is_some() {
            quoted_rest(&mut chars)?
        } else {
            std::iter::from_fn(|| chars.next_if(|c| *c != ',' && !c.is_whitespace())).collect()
        };
        if out.len() >= 32 {
            return Err(ParseError::Digest);
        }
        out.push((name.to_ascii_lowercase(), value));
    }
}

/// The rest of a quoted-string whose opening quote was consumed.
fn quoted_rest(chars: &mut impl Iterator<Item = char>) -> Result<String, ParseError> {
    let mut v = String::new();
    loop {
        match chars.next().ok_or(ParseError::Digest)? {
            '"' => return Ok(v),
            '\\' => v.push(chars.next().ok_or(ParseError::Digest)?),
            c => v.push(c),
        }
    }
}

fn find<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

impl Challenge {
    /// A challenge to send (server side), offering `qop=auth`.
    pub fn new(realm: &str, nonce: &str, algorithm: Algorithm) -> Challenge {
        Challenge {
            realm: realm.into(),
            nonce: nonce.into(),
            opaque: None,
            algorithm,
            qop: vec![Qop::Auth],
            stale: false,
            domain: None,
        }
    }

    /// Parses a WWW-Authenticate / Proxy-Authenticate value.
    pub fn parse(s: &str) -> Result<Challenge, ParseError> {
        let p = auth_params(s)?;
        let algorithm = find(&p, "algorithm").map_or(Ok(Algorithm::Md5), Algorithm::parse)?;
        Ok(Challenge {
            realm: find(&p, "realm").ok_or(ParseError::Digest)?.to_owned(),
            nonce: find(&p, "nonce").ok_or(ParseError::Digest)?.to_owned(),
            opaque: find(&p, "opaque").map(str::to_owned),
            algorithm,
            qop: find(&p, "qop").map_or(Vec::new(), |q| {
                q.split(',').filter_map(Qop::parse).collect()
            }),
            stale: find(&p, "stale").is_some_and(|s| s.eq_ignore_ascii_case("true")),
            domain: find(&p, "domain").map(str::to_owned),
        })
    }
}

impl fmt::Display for Challenge {
    /// The header value, quoting as RFC 7616 §3.3 says (algorithm, stale unquoted).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest realm={}", quote(&self.realm))?;
        if let Some(d) = &self.domain {
            write!(f, ", domain={}", quote(d))?;
        }
        write!(f, ", nonce={}", quote(&self.nonce))?;
        if let Some(o) = &self.opaque {
            write!(f, ", opaque={}", quote(o))?;
        }
        if self.stale {
            f.write_str(", stale=true")?;
        }
        write!(f, ", algorithm={}", self.algorithm.as_str())?;
        if !self.qop.is_empty() {
            let q: Vec<&str> = self.qop.iter().map(|q| q.as_str()).collect();
            write!(f, ", qop={}", quote(&q.join(",")))?;
        }
        Ok(())
    }
}

/// What goes into one digest computation.
struct Input<'a> {
    algorithm: Algorithm,
    user: &'a str,
    realm: &'a str,
    password: &'a str,
    nonce: &'a str,
    method: &'a str,
    uri: &'a str,
    qop: Option<(Qop, &'a str, u32)>, // qop, cnonce, nc
    body: &'a [u8],
}

/// RFC 7616 §3.4.1-3.4.3 (RFC 2617 §3.2.2.1-3.2.2.3).
fn response(i: &Input<'_>) -> String {
    let a = i.algorithm;
    let mut ha1 = a.h(format!("{}:{}:{}", i.user, i.realm, i.password).as_bytes());
    let cnonce = i.qop.map_or("", |q| q.1);
    if a.is_sess() {
        ha1 = a.h(format!("{ha1}:{}:{cnonce}", i.nonce).as_bytes()); // RFC 7616 §3.4.2
    }
    let ha2 = match i.qop {
        Some((Qop::AuthInt, ..)) => {
            a.h(format!("{}:{}:{}", i.method, i.uri, a.h(i.body)).as_bytes())
        }
        _ => a.h(format!("{}:{}", i.method, i.uri).as_bytes()),
    };
    match i.qop {
        Some((qop, cnonce, nc)) => {
            let s = format!("{ha1}:{}:{nc:08x}:{cnonce}:{}:{ha2}", i.nonce, qop.as_str());
            a.h(s.as_bytes())
        }
        None => a.h(format!("{ha1}:{}:{ha2}", i.nonce).as_bytes()), // RFC 2069 compatibility
    }
}

/// The Authorization / Proxy-Authorization value answering `ch` (RFC 7616 §3.4), for a
/// request without a body. Uses `qop=auth` when offered; see [`authorization_with_body`].
pub fn authorization(
    ch: &Challenge,
    user: &str,
    password: &str,
    method: &Method,
    uri: &str,
    cnonce: &str,
    nc: u32,
) -> String {
    authorization_with_body(ch, user, password, method, uri, cnonce, nc, &[])
}

/// [`authorization`] with the body, which `qop=auth-int` hashes; `auth` is still preferred
/// when both are offered, since proxies may legitimately rewrite bodies.
#[allow(clippy::too_many_arguments)]
pub fn authorization_with_body(
    ch: &Challenge,
    user: &str,
    password: &str,
    method: &Method,
    uri: &str,
    cnonce: &str,
    nc: u32,
    body: &[u8],
) -> String {
    let qop = if ch.qop.contains(&Qop::Auth) {
        Some(Qop::Auth)
    } else {
        ch.qop.first().copied()
    };
    let input = Input {
        algorithm: ch.algorithm,
        user,
        realm: &ch.realm,
        password,
        nonce: &ch.nonce,
        method: method.as_str(),
        uri,
        qop: qop.map(|q| (q, cnonce, nc)),
        body,
    };
    let resp = response(&input);
    // RFC 7616 §3.4: username, realm, uri, nonce, cnonce, response, opaque quoted;
    // algorithm, qop, nc not.
    let mut v = format!(
        "Digest username={}, realm={}, uri={}",
        quote(user),
        quote(&ch.realm),
        quote(uri)
    );
    v += &format!(
        ", algorithm={}, nonce={}",
        ch.algorithm.as_str(),
        quote(&ch.nonce)
    );
    if let Some(q) = qop {
        v += &format!(
            ", nc={nc:08x}, cnonce={}, qop={}",
            quote(cnonce),
            q.as_str()
        );
    }
    v += &format!(", response={}", quote(&resp));
    if let Some(o) = &ch.opaque {
        v += &format!(", opaque={}", quote(o));
    }
    v
}

/// Credentials from an Authorization / Proxy-Authorization value (server side).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `username`.
    pub username: String,
    /// `realm`: check it is ours.
    pub realm: String,
    /// `nonce`: check it is one we issued and still valid.
    pub nonce: String,
    /// `uri` (the digest-uri; should match the Request-URI).
    pub uri: String,
    /// `response`, hex.
    pub response: String,
    /// `algorithm`.
    pub algorithm: Algorithm,
    /// `qop`, `cnonce`, `nc` when qop was used.
    pub qop: Option<(Qop, String, u32)>,
    /// `opaque`.
    pub opaque: Option<String>,
}

impl Credentials {
    /// Parses an Authorization value.
    pub fn parse(s: &str) -> Result<Credentials, ParseError> {
        let p = auth_params(s)?;
        let get = |n| find(&p, n).map(str::to_owned).ok_or(ParseError::Digest);
        let qop = match find(&p, "qop") {
            Some(q) => {
                let nc = find(&p, "nc")
                    .filter(|n| n.len() == 8)
                    .ok_or(ParseError::Digest)?;
                let nc = u32::from_str_radix(nc, 16).map_err(|_| ParseError::Digest)?;
                Some((Qop::parse(q).ok_or(ParseError::Digest)?, get("cnonce")?, nc))
            }
            None => None,
        };
        Ok(Credentials {
            username: get("username")?,
            realm: get("realm")?,
            nonce: get("nonce")?,
            uri: get("uri")?,
            response: get("response")?,
            algorithm: find(&p, "algorithm").map_or(Ok(Algorithm::Md5), Algorithm::parse)?,
            qop,
            opaque: find(&p, "opaque").map(str::to_owned),
        })
    }

    /// Whether `response` is right for `password` (constant-time compare). Realm, nonce
    /// freshness, nc replay and uri-vs-Request-URI are the caller's checks.
    pub fn verify(&self, password: &str, method: &Method, body: &[u8]) -> bool {
        let input = Input {
            algorithm: self.algorithm,
            user: &self.username,
            realm: &self.realm,
            password,
            nonce: &self.nonce,
            method: method.as_str(),
            uri: &self.uri,
            qop: self.qop.as_ref().map(|(q, c, n)| (*q, c.as_str(), *n)),
            body,
        };
        let want = response(&input);
        let got = self.response.to_ascii_lowercase();
        want.len() == got.len()
            && want
                .bytes()
                .zip(got.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

#[cfg(test)]
#[path = "auth_tests.rs"]
mod tests;
