//! Certificate generation, fingerprints and persistence.

use std::os::unix::fs::PermissionsExt;

use super::*;

#[test]
fn fingerprint_is_sdp_formatted_sha256_of_the_der() {
    let (c, _) = certs();
    let fp = c.fingerprint_sha256();
    assert_eq!(fp.len(), 32 * 3 - 1);
    assert!(
        fp.chars()
            .all(|ch| ch == ':' || ch.is_ascii_digit() || ch.is_ascii_uppercase())
    );
    assert_eq!(
        c.fingerprint_bytes(),
        Fingerprint::of("sha-256", c.der()).unwrap().value
    );
    assert_eq!(
        fp.replace(':', ""),
        hex::encode_upper(c.fingerprint_bytes())
    );
    assert!(c.cert_pem().starts_with("-----BEGIN CERTIFICATE-----\n"));
    assert!(c.key_pem().contains("PRIVATE KEY"));
    assert!(!format!("{c:?}").contains("PRIVATE"), "Debug shows no key");
}

#[test]
fn load_or_create_keeps_the_fingerprint() {
    let dir = std::env::temp_dir().join(format!("ferry-dtls-cert-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let first = Certificate::load_or_create(&dir).unwrap();
    let mode = std::fs::metadata(dir.join("dtls-key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let again = Certificate::load_or_create(&dir).unwrap();
    assert_eq!(first.fingerprint_sha256(), again.fingerprint_sha256());
    assert_eq!(first.key_pem(), again.key_pem());
    // The loaded certificate really works in a handshake (its key matches).
    let now = Instant::now();
    let (c, _) = certs();
    let mut peers = [
        DtlsSession::new(Role::Client, c, fp(&again), DtlsTimers::default(), now).unwrap(),
        DtlsSession::new(Role::Server, &again, fp(c), DtlsTimers::default(), now).unwrap(),
    ];
    let mut link = Link::new(now, Duration::from_millis(10));
    link.run(&mut peers, Duration::from_secs(60));
    link.assert_connected();
    std::fs::remove_file(dir.join("dtls-cert.pem")).unwrap();
    assert!(matches!(
        Certificate::load_or_create(&dir),
        Err(DtlsError::IncompleteFiles { .. })
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}
