//! Independent oracle: OpenSSL's DTLS 1.2 stack against our sans-IO session over real loopback
//! UDP. Both sides export `EXTRACTOR-dtls_srtp` (RFC 5764 §4.2); the bytes must be identical,
//! and each side's certificate is checked by fingerprint. `openssl` must be installed: a missing
//! binary fails these tests (CI installs it).

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ferry_signaling::dtls::{
    Certificate, DtlsEvent, DtlsSession, DtlsTimers, Fingerprint, Role, SrtpMaterial,
};

/// A temp dir with a fresh certificate and key for openssl.
struct Peer {
    dir: PathBuf,
    cert: Certificate,
}

impl Peer {
    fn new(tag: &str) -> Peer {
        let dir =
            std::env::temp_dir().join(format!("ferry-dtls-openssl-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cert = Certificate::generate().unwrap();
        std::fs::write(dir.join("cert.pem"), cert.cert_pem()).unwrap();
        std::fs::write(dir.join("key.pem"), cert.key_pem()).unwrap();
        Peer { dir, cert }
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }

    fn fingerprints(&self) -> Vec<Fingerprint> {
        vec![Fingerprint {
            algorithm: "sha-256".into(),
            value: self.cert.fingerprint_bytes(),
        }]
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts openssl with `args`; its stdout lines arrive on the returned channel.
fn openssl(args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the openssl binary is required for this test (apt install openssl)");
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (child, rx)
}

/// Drives `session` over `socket` with the real clock until it reports an event. `peer` is where
/// to send before anything was received (the client case).
fn drive(session: &mut DtlsSession, socket: &UdpSocket, mut peer: Option<SocketAddr>) -> DtlsEvent {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 2048];
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    loop {
        while let Some(d) = session.poll_transmit() {
            socket.send_to(&d, peer.expect("a peer to answer")).unwrap();
        }
        if let Some(event) = session.poll_event() {
            return event;
        }
        assert!(Instant::now() < deadline, "no DTLS event within 20 s");
        match socket.recv_from(&mut buf) {
            Ok((n, from)) => {
                peer = Some(from);
                let _ = session.handle_datagram(Instant::now(), &buf[..n]);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("recv: {e}"),
        }
        if session.poll_timeout().is_some_and(|t| t <= Instant::now()) {
            session.handle_timeout(Instant::now());
        }
    }
}

/// Reads openssl's output up to the negotiated SRTP profile and the exported keying material.
fn exported(rx: &mpsc::Receiver<String>) -> (String, Vec<u8>) {
    let (mut profile, mut material) = (None, None);
    let deadline = Instant::now() + Duration::from_secs(10);
    while profile.is_none() || material.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("openssl printed the SRTP profile and the keying material");
        let line = line.trim();
        if let Some(p) = line.strip_prefix("SRTP Extension negotiated, profile=") {
            profile = Some(p.to_owned());
        }
        if let Some(hex) = line.strip_prefix("Keying material: ") {
            material = Some(hex::decode(hex.trim()).unwrap());
        }
    }
    (profile.unwrap(), material.unwrap())
}

fn wait_for_line(rx: &mpsc::Receiver<String>, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("openssl never printed {text}"));
        if line.contains(text) {
            return;
        }
    }
}

/// The RFC 5764 §4.2 layout: client key | server key | client salt | server salt.
fn layout(client: &SrtpMaterial, server: &SrtpMaterial) -> Vec<u8> {
    [&client.key[..], &server.key, &client.salt, &server.salt].concat()
}

/// Ends openssl and returns what it wrote to stderr, for assertion messages.
fn stop(mut child: Child) -> String {
    drop(child.stdin.take());
    let _ = child.kill();
    let _ = child.wait();
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    err
}

fn connected(event: DtlsEvent) -> (u16, SrtpMaterial, SrtpMaterial) {
    match event {
        DtlsEvent::Connected {
            profile,
            local,
            remote,
        } => (profile, local, remote),
        other => panic!("expected Connected, got {other:?}"),
    }
}

#[test]
fn openssl_client_against_our_server_exports_the_same_keys() {
    let openssl_peer = Peer::new("client");
    let ours = Certificate::generate().unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let connect = format!("127.0.0.1:{}", socket.local_addr().unwrap().port());
    let mut server = DtlsSession::new(
        Role::Server,
        &ours,
        openssl_peer.fingerprints(),
        DtlsTimers::default(),
        Instant::now(),
    )
    .unwrap();
    let (cert, key) = (openssl_peer.path("cert.pem"), openssl_peer.path("key.pem"));
    let (child, rx) = openssl(&[
        "s_client",
        "-dtls1_2",
        "-connect",
        &connect,
        "-cert",
        &cert,
        "-key",
        &key,
        "-use_srtp",
        "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80",
        "-keymatexport",
        "EXTRACTOR-dtls_srtp",
        "-keymatexportlen",
        "56",
    ]);
    let event = drive(&mut server, &socket, None);
    let (profile, local, remote) = connected(event);
    let (openssl_profile, material) = exported(&rx);
    let stderr = stop(child);
    assert_eq!(
        (profile, openssl_profile.as_str()),
        (7, "SRTP_AEAD_AES_128_GCM"),
        "{stderr}"
    );
    // We are the server: local is the server's write key and salt, remote the client's.
    assert_eq!(hex::encode(layout(&remote, &local)), hex::encode(material));
}

#[test]
fn our_client_against_openssl_server_exports_the_same_keys() {
    let openssl_peer = Peer::new("server");
    let ours = Certificate::generate().unwrap();
    // A free port for s_server (a small race, acceptable on loopback in a test).
    let port = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let accept = format!("127.0.0.1:{port}");
    let (cert, key) = (openssl_peer.path("cert.pem"), openssl_peer.path("key.pem"));
    let (child, rx) = openssl(&[
        "s_server",
        "-dtls1_2",
        "-accept",
        &accept,
        "-cert",
        &cert,
        "-key",
        &key,
        "-naccept",
        "1",
        "-verify",
        "1",
        "-use_srtp",
        "SRTP_AES128_CM_SHA1_80",
        "-keymatexport",
        "EXTRACTOR-dtls_srtp",
        "-keymatexportlen",
        "60",
    ]);
    wait_for_line(&rx, "ACCEPT");
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut client = DtlsSession::new(
        Role::Client,
        &ours,
        openssl_peer.fingerprints(),
        DtlsTimers::default(),
        Instant::now(),
    )
    .unwrap();
    let event = drive(&mut client, &socket, Some(accept.parse().unwrap()));
    let (profile, local, remote) = connected(event);
    let (openssl_profile, material) = exported(&rx);
    let stderr = stop(child);
    assert_eq!(
        (profile, openssl_profile.as_str()),
        (1, "SRTP_AES128_CM_SHA1_80"),
        "{stderr}"
    );
    assert_eq!((local.key.len(), local.salt.len()), (16, 14));
    // We are the client: local is the client's write key and salt.
    assert_eq!(hex::encode(layout(&local, &remote)), hex::encode(material));
}

#[test]
fn openssl_with_an_unexpected_certificate_is_refused() {
    let openssl_peer = Peer::new("stranger");
    let ours = Certificate::generate().unwrap();
    let expected = Certificate::generate().unwrap(); // not the one openssl presents
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let connect = format!("127.0.0.1:{}", socket.local_addr().unwrap().port());
    let fps = vec![Fingerprint {
        algorithm: "sha-256".into(),
        value: expected.fingerprint_bytes(),
    }];
    let mut server = DtlsSession::new(
        Role::Server,
        &ours,
        fps,
        DtlsTimers::default(),
        Instant::now(),
    )
    .unwrap();
    let (cert, key) = (openssl_peer.path("cert.pem"), openssl_peer.path("key.pem"));
    let (child, _rx) = openssl(&[
        "s_client",
        "-dtls1_2",
        "-connect",
        &connect,
        "-cert",
        &cert,
        "-key",
        &key,
        "-use_srtp",
        "SRTP_AES128_CM_SHA1_80",
    ]);
    let event = drive(&mut server, &socket, None);
    stop(child);
    assert!(
        matches!(&event, DtlsEvent::Failed(why) if why == "fingerprint mismatch"),
        "{event:?}"
    );
    assert!(!server.is_connected());
}
