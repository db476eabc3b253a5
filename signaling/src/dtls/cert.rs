//! The self-signed certificate Ferry presents in DTLS (and on wss when none is configured).
//!
//! WebRTC authenticates it by its SDP fingerprint (RFC 8122 §5), not by a CA chain, so a
//! self-signed ECDSA P-256 certificate (what browsers generate themselves) is all that is needed.
//! Keeping it on disk keeps the fingerprint stable across restarts.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, PKCS_ECDSA_P256_SHA256};
use rtc_dtls::crypto::{Certificate as RtcCertificate, CryptoPrivateKey};
use rtc_dtls::crypto_provider::RTCCryptoProvider;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use zeroize::Zeroizing;

use super::DtlsError;
use super::fingerprint::{colon_hex, digest};

/// File names inside the directory given to [`Certificate::load_or_create`].
const CERT_FILE: &str = "dtls-cert.pem";
const KEY_FILE: &str = "dtls-key.pem";

/// An ECDSA P-256 self-signed certificate and its private key.
#[derive(Clone)]
pub struct Certificate {
    der: CertificateDer<'static>,
    cert_pem: String,
    key_pem: Zeroizing<String>,
    /// The key imported into rtc-dtls's crypto provider, shared by every session.
    pub(super) rtc: RtcCertificate,
    pub(super) provider: Arc<dyn RTCCryptoProvider>,
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Certificate")
            .field("fingerprint_sha256", &self.fingerprint_sha256())
            .finish_non_exhaustive()
    }
}

impl Certificate {
    /// Generates a new key pair and a self-signed certificate with CN "ferry".
    ///
    /// The validity period is fixed (2000 to 2099) rather than derived from the clock: peers check
    /// the fingerprint, not the dates, and this module reads no clock.
    pub fn generate() -> Result<Certificate, DtlsError> {
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(cert_err)?;
        let mut params = CertificateParams::new(vec!["ferry".to_owned()]).map_err(cert_err)?;
        let mut name = DistinguishedName::new();
        name.push(DnType::CommonName, "ferry");
        params.distinguished_name = name;
        params.not_before = rcgen::date_time_ymd(2000, 1, 1);
        params.not_after = rcgen::date_time_ymd(2099, 12, 31);
        let cert = params.self_signed(&key).map_err(cert_err)?;
        Self::from_parts(cert.der().clone(), key)
    }

    /// Loads `dtls-cert.pem` and `dtls-key.pem` from `dir`, or creates both (the key with mode
    /// 0600) if neither exists, so the fingerprint survives restarts.
    pub fn load_or_create(dir: &Path) -> Result<Certificate, DtlsError> {
        let (cert_path, key_path) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
        match (cert_path.exists(), key_path.exists()) {
            (true, true) => Self::load(&cert_path, &key_path),
            (false, false) => {
                let cert = Self::generate()?;
                fs::create_dir_all(dir).map_err(io_err(dir))?;
                write_file(&key_path, cert.key_pem.as_bytes(), 0o600)?;
                write_file(&cert_path, cert.cert_pem.as_bytes(), 0o644)?;
                Ok(cert)
            }
            (true, false) => Err(DtlsError::IncompleteFiles {
                present: cert_path,
                missing: key_path,
            }),
            (false, true) => Err(DtlsError::IncompleteFiles {
                present: key_path,
                missing: cert_path,
            }),
        }
    }

    fn load(cert_path: &Path, key_path: &Path) -> Result<Certificate, DtlsError> {
        let cert_pem = fs::read_to_string(cert_path).map_err(io_err(cert_path))?;
        let key_pem = Zeroizing::new(fs::read_to_string(key_path).map_err(io_err(key_path))?);
        // A key readable by others is tightened rather than trusted as is.
        let meta = fs::metadata(key_path).map_err(io_err(key_path))?;
        if meta.permissions().mode() & 0o077 != 0 {
            fs::set_permissions(key_path, fs::Permissions::from_mode(0o600))
                .map_err(io_err(key_path))?;
        }
        let der = CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(cert_err)?;
        let key = KeyPair::from_pem(&key_pem).map_err(cert_err)?;
        Self::from_parts(der, key)
    }

    fn from_parts(der: CertificateDer<'static>, key: KeyPair) -> Result<Certificate, DtlsError> {
        if !key.is_compatible(&PKCS_ECDSA_P256_SHA256) {
            return Err(DtlsError::Certificate("key is not ECDSA P-256".into()));
        }
        let provider = rtc_dtls::crypto_provider::default_provider().map_err(cert_err)?;
        let private_key =
            CryptoPrivateKey::from_key_pair(&key, provider.crypto()).map_err(cert_err)?;
        let rtc = RtcCertificate {
            certificate: vec![der.clone()],
            private_key,
        };
        let cert_pem = pem_encode("CERTIFICATE", &der);
        let key_pem = Zeroizing::new(key.serialize_pem());
        Ok(Certificate {
            der,
            cert_pem,
            key_pem,
            rtc,
            provider,
        })
    }

    /// SHA-256 fingerprint as SDP `a=fingerprint:sha-256` wants it: `AB:CD:...` (RFC 8122 §5).
    pub fn fingerprint_sha256(&self) -> String {
        colon_hex(&self.fingerprint_bytes())
    }

    /// SHA-256 of the DER certificate.
    pub fn fingerprint_bytes(&self) -> Vec<u8> {
        digest("sha-256", &self.der).unwrap_or_default()
    }

    /// The DER certificate.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The certificate as PEM.
    pub fn cert_pem(&self) -> String {
        self.cert_pem.clone()
    }

    /// The private key as PKCS#8 PEM. Handle with care: it is the identity of this gateway.
    pub fn key_pem(&self) -> String {
        self.key_pem.to_string()
    }
}

fn pem_encode(label: &str, der: &[u8]) -> String {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Writes through a temporary file and renames it, so a crash never leaves half a key; the mode
/// is set at creation so the key is never readable by others, not even briefly.
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), DtlsError> {
    let tmp: PathBuf = path.with_extension("pem.tmp");
    let _ = fs::remove_file(&tmp);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DtlsError + '_ {
    move |source| DtlsError::Io {
        path: path.to_owned(),
        source,
    }
}

fn cert_err(e: impl std::fmt::Display) -> DtlsError {
    DtlsError::Certificate(e.to_string())
}
