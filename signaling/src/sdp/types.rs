//! The typed vocabulary of an SDP exchange: fingerprints, DTLS roles, directions, codecs, and the
//! inputs (policy, local ICE) and outputs (payload-type maps) of the rewriting functions.

use std::fmt;
use std::net::SocketAddr;

use super::SdpError;

/// A certificate fingerprint, `a=fingerprint:<algorithm> <hex:hex:...>` (RFC 8122 §5).
#[derive(Clone, PartialEq, Eq)]
pub struct Fingerprint {
    /// Hash function, lower-case as in the IANA registry: `sha-256`, `sha-384`, ...
    pub algorithm: String,
    /// The digest bytes.
    pub value: Vec<u8>,
}

impl Fingerprint {
    /// Parses the value of an `a=fingerprint` attribute.
    pub fn parse(attr: &str) -> Result<Self, SdpError> {
        let bad = || SdpError::Malformed(format!("a=fingerprint:{attr}"));
        let (algorithm, hex) = attr.trim().split_once(' ').ok_or_else(bad)?;
        // RFC 8122 §5: hash-func tokens are case-insensitive; keep one spelling for the verifier.
        let algorithm = algorithm.to_ascii_lowercase();
        let value = hex
            .trim()
            .split(':')
            .map(|b| match b.len() {
                2 => u8::from_str_radix(b, 16).map_err(|_| bad()),
                _ => Err(bad()),
            })
            .collect::<Result<Vec<u8>, _>>()?;
        let expected = match algorithm.as_str() {
            "sha-1" => Some(20),
            "sha-224" => Some(28),
            "sha-256" => Some(32),
            "sha-384" => Some(48),
            "sha-512" => Some(64),
            "md5" | "md2" => Some(16),
            _ => None,
        };
        match expected {
            Some(n) if n != value.len() => Err(bad()),
            None if value.is_empty() || value.len() > 64 => Err(bad()),
            _ => Ok(Fingerprint { algorithm, value }),
        }
    }
}

/// `sha-256 AB:CD:...`: upper-case hex with colons, as RFC 8122 §5 writes it and Chromium expects.
impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.algorithm)?;
        for (i, b) in self.value.iter().enumerate() {
            write!(f, "{}{b:02X}", if i == 0 { ' ' } else { ':' })?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

/// The DTLS role attribute `a=setup` (RFC 4145 §4, RFC 5763 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// We open the connection: DTLS client.
    Active,
    /// We wait for the connection: DTLS server.
    Passive,
    /// Offerer lets the answerer choose (the only value an offer may use, RFC 5763 §5).
    ActPass,
    /// Hold the connection; not usable for a new DTLS association.
    HoldConn,
}

impl Setup {
    /// Parses an `a=setup` value.
    pub fn parse(v: &str) -> Result<Self, SdpError> {
        match v.trim() {
            "active" => Ok(Setup::Active),
            "passive" => Ok(Setup::Passive),
            "actpass" => Ok(Setup::ActPass),
            "holdconn" => Ok(Setup::HoldConn),
            other => Err(SdpError::Malformed(format!("a=setup:{other}"))),
        }
    }

    /// The SDP token.
    pub fn as_str(self) -> &'static str {
        match self {
            Setup::Active => "active",
            Setup::Passive => "passive",
            Setup::ActPass => "actpass",
            Setup::HoldConn => "holdconn",
        }
    }

    /// The role an answerer takes given the offer's `setup` and its own preference
    /// (RFC 5763 §5: an answer is `active` or `passive`; to `actpass` we prefer `preferred`,
    /// and default to passive so that we are the DTLS server). The glue uses the same function
    /// to decide whether to run the DTLS server or client.
    pub fn answer_to(offer: Setup, preferred: Setup) -> Result<Setup, SdpError> {
        match (offer, preferred) {
            (Setup::ActPass, Setup::Active) => Ok(Setup::Active),
            (Setup::ActPass, _) => Ok(Setup::Passive),
            (Setup::Active, _) => Ok(Setup::Passive),
            (Setup::Passive, _) => Ok(Setup::Active),
            (Setup::HoldConn, _) => Err(SdpError::BadSetup("holdconn".into())),
        }
    }
}

/// Media direction (RFC 3264 §5.1), from the point of view of the side that wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// `a=sendrecv` (the default when none is given).
    SendRecv,
    /// `a=sendonly`: on hold by the writer (RFC 3264 §8.4).
    SendOnly,
    /// `a=recvonly`.
    RecvOnly,
    /// `a=inactive`.
    Inactive,
}

impl Direction {
    /// The direction attribute this key names, if it is one.
    pub fn from_attr(key: &str) -> Option<Self> {
        match key {
            "sendrecv" => Some(Direction::SendRecv),
            "sendonly" => Some(Direction::SendOnly),
            "recvonly" => Some(Direction::RecvOnly),
            "inactive" => Some(Direction::Inactive),
            _ => None,
        }
    }

    /// The SDP token.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    fn from_bits(send: bool, recv: bool) -> Self {
        match (send, recv) {
            (true, true) => Direction::SendRecv,
            (true, false) => Direction::SendOnly,
            (false, true) => Direction::RecvOnly,
            (false, false) => Direction::Inactive,
        }
    }

    /// Whether the writer sends.
    pub fn sends(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }

    /// Whether the writer receives.
    pub fn receives(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// The answer's direction given the offer's and what the answerer would like
    /// (RFC 3264 §6.1: we may send only if the offerer receives, receive only if it sends).
    pub fn answer_to(offer: Direction, wish: Direction) -> Direction {
        Direction::from_bits(
            wish.sends() && offer.receives(),
            wish.receives() && offer.sends(),
        )
    }
}

/// The `m=` media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaKind {
    /// `audio`
    Audio,
    /// `video`
    Video,
    /// Anything else (`application` for data channels, `text`, `image`), as written.
    Other(String),
}

impl MediaKind {
    /// From the `m=` token.
    pub fn parse(v: &str) -> Self {
        match v {
            "audio" => MediaKind::Audio,
            "video" => MediaKind::Video,
            other => MediaKind::Other(other.to_owned()),
        }
    }

    /// The `m=` token.
    pub fn as_str(&self) -> &str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
            MediaKind::Other(s) => s,
        }
    }
}

/// One RTP payload format: `a=rtpmap:<pt> <name>/<rate>[/<channels>]` plus its `a=fmtp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codec {
    /// Payload type number.
    pub pt: u8,
    /// Encoding name as written: `opus`, `PCMU`, `telephone-event`.
    pub name: String,
    /// Clock rate in Hz.
    pub rate: u32,
    /// Channel count, when written.
    pub channels: Option<u8>,
    /// The `a=fmtp` parameters, verbatim.
    pub fmtp: Option<String>,
}

impl Codec {
    /// The codec a static payload type means when no `a=rtpmap` is given (RFC 3551 §6, Table 4).
    pub fn from_static_pt(pt: u8) -> Option<Self> {
        let (name, rate) = match pt {
            0 => ("PCMU", 8000),
            3 => ("GSM", 8000),
            4 => ("G723", 8000),
            8 => ("PCMA", 8000),
            9 => ("G722", 8000),
            13 => ("CN", 8000),
            18 => ("G729", 8000),
            _ => return None,
        };
        let name = name.to_owned();
        Some(Codec {
            pt,
            name,
            rate,
            channels: None,
            fmtp: None,
        })
    }

    /// Whether this is RFC 4733 DTMF, which rides along with a voice codec of the same rate.
    pub fn is_dtmf(&self) -> bool {
        self.name.eq_ignore_ascii_case("telephone-event")
    }

    /// Whether this is comfort noise (RFC 3389), which also needs a voice codec beside it.
    pub fn is_cn(&self) -> bool {
        self.name.eq_ignore_ascii_case("CN")
    }

    /// Same encoding, regardless of payload-type number (RFC 3264 §6.1: name, rate, channels;
    /// names are case-insensitive, RFC 4855 §3, and a missing channel count means one).
    pub fn same_format(&self, other: &Codec) -> bool {
        self.name.eq_ignore_ascii_case(&other.name)
            && self.rate == other.rate
            && self.channels.unwrap_or(1) == other.channels.unwrap_or(1)
    }

    /// The `a=rtpmap` value after the payload type.
    pub fn rtpmap(&self) -> String {
        match self.channels {
            Some(c) => format!("{}/{}/{c}", self.name, self.rate),
            None => format!("{}/{}", self.name, self.rate),
        }
    }
}

/// Which codecs may cross the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecPolicy {
    /// Encoding names, compared case-insensitively.
    pub allowed: Vec<String>,
}

impl Default for CodecPolicy {
    /// G.711 and DTMF: what every PBX and trunk speaks, and what the engine relays untranscoded.
    fn default() -> Self {
        let allowed = ["PCMU", "PCMA", "telephone-event"]
            .map(String::from)
            .to_vec();
        CodecPolicy { allowed }
    }
}

impl CodecPolicy {
    /// The default policy plus Opus (for the echo destination, or an Opus-capable trunk).
    pub fn with_opus() -> Self {
        let mut p = CodecPolicy::default();
        p.allowed.insert(0, "opus".into());
        p
    }

    /// Whether `codec` may be used.
    pub fn allows(&self, codec: &Codec) -> bool {
        self.allowed
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&codec.name))
    }
}

/// Our side of the browser leg, chosen by the glue: ICE-lite credentials, DTLS certificate and
/// role, and the engine's browser-facing address on each advertised host address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalIce {
    /// `a=ice-ufrag` (RFC 8839 §5.4: 4 to 256 ice-chars).
    pub ufrag: String,
    /// `a=ice-pwd` (22 to 256 ice-chars).
    pub pwd: String,
    /// SHA-256 of our DTLS certificate.
    pub fingerprint: Fingerprint,
    /// Preferred role: `Passive` (DTLS server) in answers, ignored in offers (always `actpass`).
    pub setup: Setup,
    /// Host candidates; the first one also fills `c=` and the `m=` port.
    pub candidates: Vec<SocketAddr>,
}

/// Payload-type rewrites the engine applies, as `(from, to)` pairs, per direction of travel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PtMap {
    /// Applied to packets leaving toward the trunk.
    pub to_trunk: Vec<(u8, u8)>,
    /// Applied to packets leaving toward the browser.
    pub to_browser: Vec<(u8, u8)>,
}

impl PtMap {
    /// Records that the browser calls a format `browser_pt` and the trunk `trunk_pt`.
    pub(crate) fn add(&mut self, browser_pt: u8, trunk_pt: u8) {
        if browser_pt != trunk_pt && !self.to_trunk.contains(&(browser_pt, trunk_pt)) {
            self.to_trunk.push((browser_pt, trunk_pt));
            self.to_browser.push((trunk_pt, browser_pt));
        }
    }

    /// Whether no rewrite is needed.
    pub fn is_empty(&self) -> bool {
        self.to_trunk.is_empty() && self.to_browser.is_empty()
    }
}
