//! SIP request methods (RFC 3261 §7.1, plus the extension methods a B2BUA meets).

use std::fmt;
use std::str::FromStr;

use super::error::ParseError;
use super::syntax::is_token;

/// A SIP method. Methods are case-sensitive (RFC 3261 §7.1): `invite` is `Other("invite")`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// RFC 3261.
    Invite,
    /// RFC 3261.
    Ack,
    /// RFC 3261.
    Bye,
    /// RFC 3261.
    Cancel,
    /// RFC 3261.
    Options,
    /// RFC 3261.
    Register,
    /// RFC 6086.
    Info,
    /// RFC 3311.
    Update,
    /// RFC 3262.
    Prack,
    /// RFC 6665.
    Subscribe,
    /// RFC 6665.
    Notify,
    /// RFC 3515.
    Refer,
    /// RFC 3428.
    Message,
    /// Any other token.
    Other(String),
}

impl Method {
    /// The method name as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Options => "OPTIONS",
            Method::Register => "REGISTER",
            Method::Info => "INFO",
            Method::Update => "UPDATE",
            Method::Prack => "PRACK",
            Method::Subscribe => "SUBSCRIBE",
            Method::Notify => "NOTIFY",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Other(s) => s,
        }
    }

    /// Requests that refresh the dialog's remote target (RFC 3261 §12.2, RFC 3311, RFC 6665).
    pub fn is_target_refresh(&self) -> bool {
        matches!(
            self,
            Method::Invite | Method::Update | Method::Subscribe | Method::Notify | Method::Refer
        )
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "OPTIONS" => Method::Options,
            "REGISTER" => Method::Register,
            "INFO" => Method::Info,
            "UPDATE" => Method::Update,
            "PRACK" => Method::Prack,
            "SUBSCRIBE" => Method::Subscribe,
            "NOTIFY" => Method::Notify,
            "REFER" => Method::Refer,
            "MESSAGE" => Method::Message,
            // RFC 3261 §25.1: Method = token.
            other if is_token(other) => Method::Other(other.to_owned()),
            _ => return Err(ParseError::Method),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_is_case_sensitive() {
        for m in ["INVITE", "ACK", "BYE", "PRACK", "PUBLISH"] {
            assert_eq!(m.parse::<Method>().unwrap().to_string(), m);
        }
        assert_eq!(
            "invite".parse::<Method>().unwrap(),
            Method::Other("invite".into())
        );
        assert!("IN VITE".parse::<Method>().is_err());
        assert!("".parse::<Method>().is_err());
    }
}
