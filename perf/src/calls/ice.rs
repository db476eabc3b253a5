//! The browser's one ICE connectivity check toward Ferry's ICE-lite candidate (RFC 8445 §7.2).
//!
//! A browser is the full, controlling agent against an ICE-lite peer, so it sends the checks and
//! nominates with USE-CANDIDATE; Ferry only answers. One host candidate on each side means one
//! pair and one check, which is what this builds and verifies, with the engine crate's STUN
//! writer and view (so what Ferry parses is what its own tests emit).

use ferry::wire::stun::{Class, Message, MessageWriter, Method, attr};

/// Room for a binding request: header, USERNAME (up to 513 bytes of ufrags), PRIORITY,
/// USE-CANDIDATE, ICE-CONTROLLING, MESSAGE-INTEGRITY, FINGERPRINT.
pub const REQUEST_MAX: usize = 640;

/// RFC 8445 §5.1.2.1 priority of a host candidate, component 1, local preference 65535: the
/// value Chromium puts in PRIORITY for its first host candidate.
pub const HOST_PRIORITY: u32 = (126 << 24) | (65535 << 8) | (256 - 1);

/// What one check needs: the pair's credentials and our tie-breaker.
#[derive(Debug, Clone)]
pub struct Check {
    /// Ferry's `a=ice-ufrag`, from the answer.
    pub remote_ufrag: String,
    /// Ferry's `a=ice-pwd`: keys MESSAGE-INTEGRITY both ways (RFC 8445 §7.2.2).
    pub remote_pwd: String,
    /// Our `a=ice-ufrag`, from the offer.
    pub local_ufrag: String,
    /// ICE-CONTROLLING tie-breaker (RFC 8445 §7.1.1).
    pub tie_breaker: u64,
}

/// Why a response did not complete the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckError {
    /// Not STUN, or not an answer to our transaction: keep waiting.
    NotOurs,
    /// A binding error response, with its code (e.g. 401, 487).
    ErrorResponse(u16),
    /// Integrity, fingerprint or mapped address wrong: Ferry answered but not correctly.
    Invalid(&'static str),
}

impl Check {
    /// Writes the binding request into `buf` and returns its length.
    pub fn request(&self, txid: &[u8; 12], buf: &mut [u8]) -> Result<usize, String> {
        let e = |e: ferry::wire::Error| e.to_string();
        let mut w = MessageWriter::new(buf, Class::Request, Method::Binding, txid).map_err(e)?;
        // RFC 8445 §7.2.2: USERNAME is "their ufrag:our ufrag" on a request we send.
        let user = format!("{}:{}", self.remote_ufrag, self.local_ufrag);
        w.add_attribute(attr::USERNAME, user.as_bytes())
            .map_err(e)?;
        w.add_attribute(attr::PRIORITY, &HOST_PRIORITY.to_be_bytes())
            .map_err(e)?;
        w.add_attribute(attr::USE_CANDIDATE, &[]).map_err(e)?;
        w.add_attribute(attr::ICE_CONTROLLING, &self.tie_breaker.to_be_bytes())
            .map_err(e)?;
        w.add_message_integrity(self.remote_pwd.as_bytes())
            .map_err(e)?;
        w.add_fingerprint().map_err(e)?;
        Ok(w.finish())
    }

    /// Checks that `datagram` is the success response to `txid` (RFC 8445 §7.2.5.2): right
    /// transaction, FINGERPRINT, MESSAGE-INTEGRITY under Ferry's password, and an
    /// XOR-MAPPED-ADDRESS equal to our socket's address.
    pub fn verify_response(
        &self,
        txid: &[u8; 12],
        datagram: &[u8],
        our_addr: std::net::SocketAddr,
    ) -> Result<(), CheckError> {
        let msg = Message::new_checked(datagram).map_err(|_| CheckError::NotOurs)?;
        if msg.method() != Method::Binding || msg.transaction_id() != *txid {
            return Err(CheckError::NotOurs);
        }
        match msg.class() {
            Class::Success => {}
            Class::Error => {
                let code = msg.error_code().map_or(0, |(c, _)| c);
                return Err(CheckError::ErrorResponse(code));
            }
            _ => return Err(CheckError::NotOurs),
        }
        msg.verify_fingerprint()
            .map_err(|_| CheckError::Invalid("fingerprint"))?;
        msg.verify_integrity(self.remote_pwd.as_bytes())
            .map_err(|_| CheckError::Invalid("message-integrity"))?;
        if msg.xor_mapped_address() != Some(our_addr) {
            return Err(CheckError::Invalid("xor-mapped-address"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferry::wire::stun::write_binding_success;

    fn check() -> Check {
        Check {
            remote_ufrag: "FerryUfr".into(),
            remote_pwd: "0123456789abcdefghijklmn".into(),
            local_ufrag: "B/Wg".into(),
            tie_breaker: 0x0102_0304_0506_0708,
        }
    }

    #[test]
    fn request_carries_every_ice_attribute_and_verifies() {
        let c = check();
        let txid = [7u8; 12];
        let mut buf = [0u8; REQUEST_MAX];
        let n = c.request(&txid, &mut buf).unwrap();
        let m = Message::new_checked(&buf[..n]).unwrap();
        assert_eq!(m.class(), Class::Request);
        assert_eq!(m.username(), Some(&b"FerryUfr:B/Wg"[..]));
        assert_eq!(m.priority(), Some(HOST_PRIORITY));
        assert!(m.use_candidate());
        assert_eq!(m.ice_controlling(), Some(0x0102_0304_0506_0708));
        m.verify_fingerprint().unwrap();
        m.verify_integrity(c.remote_pwd.as_bytes()).unwrap();
        assert!(m.verify_integrity(b"wrong password").is_err());
    }

    #[test]
    fn success_response_round_trip() {
        let c = check();
        let (txid, me) = ([9u8; 12], "127.0.0.1:40000".parse().unwrap());
        let mut buf = [0u8; 128];
        // What Ferry's ICE-lite answers with: the engine's own hot-path writer.
        let n = write_binding_success(&mut buf, &txid, me, c.remote_pwd.as_bytes()).unwrap();
        assert_eq!(c.verify_response(&txid, &buf[..n], me), Ok(()));
        assert_eq!(
            c.verify_response(&[1; 12], &buf[..n], me),
            Err(CheckError::NotOurs)
        );
        let elsewhere = "127.0.0.1:40001".parse().unwrap();
        assert_eq!(
            c.verify_response(&txid, &buf[..n], elsewhere),
            Err(CheckError::Invalid("xor-mapped-address"))
        );
        let n = write_binding_success(&mut buf, &txid, me, b"not the password").unwrap();
        assert_eq!(
            c.verify_response(&txid, &buf[..n], me),
            Err(CheckError::Invalid("message-integrity"))
        );
        assert_eq!(
            c.verify_response(&txid, b"\x80\x00 rtp", me),
            Err(CheckError::NotOurs)
        );
    }
}
