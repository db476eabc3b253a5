//! DTLS-SRTP (RFC 5763/5764): certificates, fingerprints and the sans-IO handshake driver.
