//! Signaling configuration: a TOML file, every key optional, with defaults that make the first
//! call work (`ferry up` with no file: HTTP on 127.0.0.1:8080, the `echo` destination).
//!
//! Unknown keys are errors: a typo must not silently fall back to a default on an appliance.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The whole signaling configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Browser-facing HTTP, WebSocket and TLS.
    pub http: HttpConfig,
    /// SIP toward the trunk.
    pub sip: SipConfig,
    /// The default route: the PBX or carrier trunk (none: only `echo` answers).
    pub trunk: Option<TrunkConfig>,
    /// Media addresses.
    pub media: MediaConfig,
    /// The engine's control socket.
    pub engine_socket: PathBuf,
    /// Where Ferry keeps its generated certificate.
    pub state_dir: PathBuf,
    /// Accept REGISTER from browsers so the trunk can call them (a local registrar; the
    /// binding lives as long as the browser's WebSocket).
    pub registrar: bool,
    /// Named destinations anonymous visitors may call (`sales = { target = "2000" }`); when
    /// any is set, nothing else is reachable anonymously.
    pub services: std::collections::BTreeMap<String, crate::product::Service>,
    /// What an anonymous caller must show (CAPTCHA).
    pub anonymous: crate::product::AnonymousConfig,
    /// Subscriber mode: browsers register with their PBX credentials.
    pub subscribers: SubscribersConfig,
    /// The admin API and `/metrics` (disabled without a token).
    #[serde(default)]
    pub admin: crate::admin::AdminConfig,
}

/// `[subscribers]`: browsers that log in with their PBX account.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SubscribersConfig {
    /// Relay REGISTER to the trunk (the PBX) with the browser's own digest credentials, instead
    /// of Ferry's local registrar; Ferry never stores a password.
    pub relay: bool,
}

/// Browser-facing listeners.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Plain HTTP and `ws://.../sip` (none to disable).
    pub listen: Option<SocketAddr>,
    /// HTTPS and `wss://.../sip` (none to disable).
    pub tls_listen: Option<SocketAddr>,
    /// PEM certificate chain for TLS (none: a self-signed one in `state_dir`).
    pub cert: Option<PathBuf>,
    /// PEM private key for `cert`.
    pub key: Option<PathBuf>,
    /// Origins allowed to open the WebSocket (`*`: any; click-to-call buttons live on other
    /// sites). A browser always sends `Origin`; a request without one is not a browser.
    pub allowed_origins: Vec<String>,
    /// Largest SIP message accepted over WebSocket; larger closes the connection (1009).
    pub max_message: usize,
}

/// SIP toward the trunk.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipConfig {
    /// UDP (and TCP) address Ferry's trunk-side SIP binds.
    pub listen: SocketAddr,
    /// Retransmission timer T1 in milliseconds (RFC 3261: 500).
    pub t1_ms: u64,
}

/// Transport toward the trunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrunkTransport {
    /// SIP over UDP.
    Udp,
    /// SIP over TCP.
    Tcp,
}

/// How DTMF reaches the trunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DtmfMode {
    /// RFC 4733 telephone-event packets pass through.
    Rfc4733,
    /// SIP INFO with `application/dtmf-relay`.
    Info,
}

/// The trunk a call is bridged to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkConfig {
    /// Where to send INVITEs: `sip:HOST:PORT`.
    pub uri: String,
    /// UDP or TCP.
    #[serde(default = "udp")]
    pub transport: TrunkTransport,
    /// Digest user for 401/407 challenges.
    pub username: Option<String>,
    /// Digest password.
    pub password: Option<String>,
    /// Codecs offered to the trunk, in order.
    #[serde(default = "default_codecs")]
    pub codecs: Vec<String>,
    /// DTMF toward the trunk.
    #[serde(default = "rfc4733")]
    pub dtmf: DtmfMode,
    /// Seconds between OPTIONS keepalives (0: none).
    #[serde(default)]
    pub options_interval: u64,
}

impl TrunkConfig {
    /// Codecs to offer the trunk: `codecs`, without telephone-event when DTMF goes as INFO
    /// (Ferry then takes the browser's RFC 4733 events off the media path itself).
    pub fn offered_codecs(&self) -> Vec<String> {
        let info = self.dtmf == DtmfMode::Info;
        self.codecs
            .iter()
            .filter(|c| !(info && c.eq_ignore_ascii_case("telephone-event")))
            .cloned()
            .collect()
    }
}

fn udp() -> TrunkTransport {
    TrunkTransport::Udp
}

fn rfc4733() -> DtmfMode {
    DtmfMode::Rfc4733
}

fn default_codecs() -> Vec<String> {
    ["PCMU", "PCMA", "telephone-event"]
        .map(String::from)
        .to_vec()
}

/// Media addressing.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaConfig {
    /// Addresses advertised in browser candidates (an appliance behind NAT sets its public
    /// address here); empty: detected.
    pub advertise: Vec<IpAddr>,
    /// Address put in SDP toward the trunk; none: the local address that routes to the trunk.
    pub trunk_addr: Option<IpAddr>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            http: HttpConfig::default(),
            sip: SipConfig::default(),
            trunk: None,
            media: MediaConfig::default(),
            engine_socket: PathBuf::from("/run/ferry/engine.sock"),
            state_dir: PathBuf::from("/var/lib/ferry"),
            registrar: true,
            services: Default::default(),
            anonymous: Default::default(),
            subscribers: Default::default(),
            admin: crate::admin::AdminConfig::default(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
            tls_listen: None,
            cert: None,
            key: None,
            allowed_origins: vec!["*".into()],
            max_message: 64 * 1024,
        }
    }
}

impl Default for SipConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 5060)),
            t1_ms: 500,
        }
    }
}

impl Config {
    /// Reads a TOML file without the cross-field checks, for callers that apply command-line
    /// overrides first and then call [`Config::check`] (a `--trunk` may complete a file).
    pub fn load_unchecked(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Reads and checks a TOML file; the error names the file, the key and the reason.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses and checks TOML text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let cfg: Self = toml::from_str(text).map_err(|e| e.to_string())?;
        cfg.check()?;
        Ok(cfg)
    }

    /// Cross-field checks a type cannot express.
    pub fn check(&self) -> Result<(), String> {
        if self.http.listen.is_none() && self.http.tls_listen.is_none() {
            return Err("http: neither `listen` nor `tls_listen` is set".into());
        }
        if self.http.cert.is_some() != self.http.key.is_some() {
            return Err("http: `cert` and `key` go together".into());
        }
        if let Some(t) = &self.trunk {
            crate::route::TrunkTarget::parse(&t.uri).map_err(|e| format!("trunk.uri: {e}"))?;
            if t.username.is_some() != t.password.is_some() {
                return Err("trunk: `username` and `password` go together".into());
            }
            if t.codecs.is_empty() {
                return Err("trunk.codecs: empty".into());
            }
        }
        for (name, svc) in &self.services {
            if !crate::route::is_dial_string(name) || name.eq_ignore_ascii_case(crate::route::ECHO)
            {
                return Err(format!("services.{name}: not a usable destination name"));
            }
            if !crate::route::is_dial_string(&svc.target) {
                return Err(format!(
                    "services.{name}.target: {:?} is not a dial string",
                    svc.target
                ));
            }
            if self.trunk.is_none() {
                return Err(format!("services.{name}: services need a [trunk] to call"));
            }
        }
        if self.subscribers.relay && self.trunk.is_none() {
            return Err("subscribers.relay: needs a [trunk] (the PBX) to register with".into());
        }
        if !(8..=28).contains(&self.anonymous.captcha_bits) {
            return Err("anonymous.captcha_bits: between 8 and 28".into());
        }
        if self.http.max_message < 1024 {
            return Err("http.max_message: below 1024 bytes".into());
        }
        self.admin.check().map_err(|e| e.to_string())?;
        Ok(())
    }

    /// Addresses to advertise in browser candidates.
    pub fn candidate_addrs(&self) -> Vec<IpAddr> {
        if !self.media.advertise.is_empty() {
            return self.media.advertise.clone();
        }
        // A loopback-only HTTP listener serves only this host: loopback candidates suffice.
        let http = self.http.listen.or(self.http.tls_listen);
        if http.is_some_and(|a| a.ip().is_loopback()) {
            return vec![IpAddr::from([127, 0, 0, 1])];
        }
        vec![route_addr(IpAddr::from([192, 0, 2, 1])).unwrap_or(IpAddr::from([127, 0, 0, 1]))]
    }
}

/// The local address the kernel would use to reach `to` (a UDP connect sends nothing).
pub fn route_addr(to: IpAddr) -> Option<IpAddr> {
    let bind: SocketAddr = if to.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let s = std::net::UdpSocket::bind(bind).ok()?;
    s.connect((to, 9)).ok()?;
    s.local_addr().ok().map(|a| a.ip())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_default() {
        let c = Config::parse("").unwrap();
        assert_eq!(
            c.http.listen,
            Some(SocketAddr::from(([127, 0, 0, 1], 8080)))
        );
        assert!(c.trunk.is_none());
        assert_eq!(c.candidate_addrs(), vec![IpAddr::from([127, 0, 0, 1])]);
    }

    #[test]
    fn unknown_key_names_the_key() {
        let e = Config::parse("[http]\nlisten = \"127.0.0.1:1\"\nlisen = 3\n").unwrap_err();
        assert!(e.contains("lisen"), "{e}");
    }

    #[test]
    fn trunk_needs_a_sip_uri() {
        let e = Config::parse("[trunk]\nuri = \"http://x\"\n").unwrap_err();
        assert!(e.contains("trunk.uri"), "{e}");
        let c =
            Config::parse("[trunk]\nuri = \"sip:127.0.0.1:5070\"\ntransport = \"tcp\"\n").unwrap();
        let t = c.trunk.unwrap();
        assert_eq!(t.transport, TrunkTransport::Tcp);
        assert_eq!(t.codecs, default_codecs());
    }

    #[test]
    fn half_credentials_are_refused() {
        let e = Config::parse("[trunk]\nuri = \"sip:h:5060\"\nusername = \"u\"\n").unwrap_err();
        assert!(e.contains("password"), "{e}");
    }
}
