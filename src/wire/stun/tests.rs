use std::net::SocketAddr;

use proptest::prelude::*;

use super::*;

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const RFC5769_TXID: &str = "b7e7a701bc34d686fa87dfae";
const RFC5769_PWD: &[u8] = b"VOkJxbRl1RmTxUk/WvJxBt";

/// RFC 5769 §2.1: sample request (SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME, MI, FP).
const RFC5769_REQUEST: &str = "
    00010058 2112a442 b7e7a701 bc34d686 fa87dfae
    80220010 5354554e 20746573 7420636c 69656e74
    00240004 6e0001ff
    80290008 932ff9b1 51263b36
    00060009 6576746a 3a683676 59202020
    00080014 9aeaa70c bfd8cb56 781ef2b5 b2d3f249 c1b571a2
    80280004 e57a3bcf";

/// RFC 5769 §2.2: sample IPv4 response.
const RFC5769_RESPONSE_V4: &str = "
    0101003c 2112a442 b7e7a701 bc34d686 fa87dfae
    8022000b 74657374 20766563 746f7220
    00200008 0001a147 e112a643
    00080014 2b91f599 fd9e90c3 8c7489f9 2af9ba53 f06be7d7
    80280004 c07d4c96";

/// RFC 5769 §2.3: sample IPv6 response.
const RFC5769_RESPONSE_V6: &str = "
    01010048 2112a442 b7e7a701 bc34d686 fa87dfae
    8022000b 74657374 20766563 746f7220
    00200014 0002a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9
    00080014 a382954e 4be67bf1 1784c97c 8292c275 bfe3ed41
    80280004 c8fb0b4c";

#[test]
fn rfc5769_request() {
    let bytes = hex(RFC5769_REQUEST);
    let m = Message::new_checked(&bytes).unwrap();
    assert_eq!((m.class(), m.method()), (Class::Request, Method::Binding));
    assert_eq!(m.transaction_id().to_vec(), hex(RFC5769_TXID));
    assert_eq!(m.software(), Some("STUN test client"));
    assert_eq!(m.username(), Some(&b"evtj:h6vY"[..]));
    assert_eq!(m.priority(), Some(0x6e00_01ff));
    assert_eq!(m.ice_controlled(), Some(0x932f_f9b1_5126_3b36));
    assert_eq!(m.ice_controlling(), None);
    assert!(!m.use_candidate());
    m.verify_integrity(RFC5769_PWD).unwrap();
    m.verify_fingerprint().unwrap();
    assert!(m.verify_integrity(b"wrong").is_err());
}

#[test]
fn rfc5769_responses_parse_verify_and_rebuild() {
    for (vector, addr) in [
        (RFC5769_RESPONSE_V4, "192.0.2.1:32853"),
        (
            RFC5769_RESPONSE_V6,
            "[2001:db8:1234:5678:11:2233:4455:6677]:32853",
        ),
    ] {
        let bytes = hex(vector);
        let m = Message::new_checked(&bytes).unwrap();
        let addr: SocketAddr = addr.parse().unwrap();
        assert_eq!(
            (m.class(), m.xor_mapped_address()),
            (Class::Success, Some(addr))
        );
        assert_eq!(m.software(), Some("test vector"));
        m.verify_integrity(RFC5769_PWD).unwrap();
        m.verify_fingerprint().unwrap();
        // Rebuild: the vectors pad SOFTWARE with a space (0x20) where we pad with zero, so
        // write the same attributes, then patch that one padding byte before comparing.
        let mut buf = [0u8; 128];
        let txid: [u8; 12] = hex(RFC5769_TXID).try_into().unwrap();
        let mut w = MessageWriter::new(&mut buf, Class::Success, Method::Binding, &txid).unwrap();
        w.add_attribute(attr::SOFTWARE, b"test vector").unwrap();
        w.add_xor_mapped_address(addr).unwrap();
        let n = w.len;
        w.buf[HEADER_LEN + 4 + 11] = 0x20;
        assert_eq!(n, HEADER_LEN + 16 + if addr.is_ipv4() { 12 } else { 24 });
        w.add_message_integrity(RFC5769_PWD).unwrap();
        w.add_fingerprint().unwrap();
        let n = w.finish();
        assert_eq!(buf[..n].to_vec(), bytes, "{addr}");
    }
}

#[test]
fn binding_success_is_what_the_engine_sends() {
    let txid = [7u8; 12];
    for src in ["127.0.0.1:5000", "[::1]:6000"] {
        let src: SocketAddr = src.parse().unwrap();
        let mut buf = [0u8; 128];
        let n = write_binding_success(&mut buf, &txid, src, b"pass").unwrap();
        let m = Message::new_checked(&buf[..n]).unwrap();
        assert_eq!(
            (m.class(), m.method(), m.transaction_id()),
            (Class::Success, Method::Binding, txid)
        );
        assert_eq!(m.xor_mapped_address(), Some(src));
        m.verify_integrity(b"pass").unwrap();
        m.verify_fingerprint().unwrap();
        assert!(
            write_binding_success(&mut buf[..n - 1], &txid, src, b"pass").is_err(),
            "no room is an error"
        );
    }
}

#[test]
fn stun_types_accepts_our_messages_and_we_accept_its() {
    use stun_types::attribute::{AttributeType, RawAttribute, Username, XorMappedAddress};
    use stun_types::message::{
        BINDING, IntegrityAlgorithm, Message as Theirs, MessageIntegrityCredentials, MessageWrite,
        MessageWriteVec, ShortTermCredentials, TransactionId,
    };
    use stun_types::prelude::*;
    let creds =
        MessageIntegrityCredentials::ShortTerm(ShortTermCredentials::new("secret-pwd".into()));
    // Theirs -> ours: an ICE check.
    let mut w = Theirs::builder_request(BINDING, MessageWriteVec::new());
    w.add_attribute(&Username::new("ours:theirs").unwrap())
        .unwrap();
    w.add_attribute(&RawAttribute::new(
        AttributeType::new(attr::USE_CANDIDATE),
        &[],
    ))
    .unwrap();
    w.add_attribute(&RawAttribute::new(
        AttributeType::new(attr::PRIORITY),
        &[1, 2, 3, 4],
    ))
    .unwrap();
    w.add_message_integrity(&creds, IntegrityAlgorithm::Sha1)
        .unwrap();
    w.add_fingerprint().unwrap();
    let bytes = w.finish();
    let m = Message::new_checked(&bytes).unwrap();
    assert_eq!(
        (m.username(), m.use_candidate(), m.priority()),
        (Some(&b"ours:theirs"[..]), true, Some(0x0102_0304))
    );
    m.verify_integrity(b"secret-pwd").unwrap();
    m.verify_fingerprint().unwrap();
    // Ours -> theirs: the response.
    let src: SocketAddr = "[2001:db8::7]:40000".parse().unwrap();
    let mut buf = [0u8; 128];
    let n = write_binding_success(&mut buf, &m.transaction_id(), src, b"secret-pwd").unwrap();
    let theirs =
        Theirs::from_bytes(&buf[..n]).expect("stun-types parses it (and checks FINGERPRINT)");
    theirs
        .validate_integrity(&creds)
        .expect("stun-types verifies our MESSAGE-INTEGRITY");
    let tid: TransactionId = theirs.transaction_id();
    assert_eq!(
        theirs.attribute::<XorMappedAddress>().unwrap().addr(tid),
        src
    );
}

#[test]
fn tampering_breaks_integrity_and_fingerprint() {
    let bytes = hex(RFC5769_REQUEST);
    for i in [8usize, 30, 60, 80] {
        let mut bad = bytes.clone();
        bad[i] ^= 1;
        let m = Message::new_checked(&bad).unwrap();
        assert!(
            m.verify_integrity(RFC5769_PWD).is_err() || m.verify_fingerprint().is_err(),
            "byte {i}"
        );
    }
}

#[test]
fn malformed_messages_are_errors() {
    let bytes = hex(RFC5769_REQUEST);
    assert_eq!(
        Message::new_checked(&bytes[..19]).unwrap_err(),
        Error::Truncated
    );
    assert_eq!(
        Message::new_checked(&bytes[..bytes.len() - 4]).unwrap_err(),
        Error::Truncated
    );
    let mut b = bytes.clone();
    b[4] = 0;
    assert!(Message::new_checked(&b).is_err(), "bad cookie");
    let mut b = bytes.clone();
    b[3] = 0x57;
    assert!(
        Message::new_checked(&b).is_err(),
        "length not a multiple of 4"
    );
    let mut b = bytes.clone();
    b[0] = 0x40;
    assert!(Message::new_checked(&b).is_err(), "top bits");
    let mut b = bytes.clone();
    b[HEADER_LEN + 3] = 0xff; // SOFTWARE length runs past the end
    assert!(Message::new_checked(&b).is_err());
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..600), fix in any::<bool>()) {
        if fix && bytes.len() >= 20 {
            // Often valid headers, so attribute parsing gets exercised.
            bytes[0] &= 0x3f;
            bytes[4..8].copy_from_slice(&MAGIC_COOKIE.to_be_bytes());
            let len = ((bytes.len() - 20) / 4 * 4) as u16;
            bytes[2..4].copy_from_slice(&len.to_be_bytes());
        }
        if let Ok(m) = Message::new_checked(&bytes) {
            let _ = (m.class(), m.method(), m.username(), m.software(), m.priority(), m.use_candidate());
            let _ = (m.xor_mapped_address(), m.mapped_address(), m.error_code(), m.unknown_attributes().count());
            let _ = (m.verify_integrity(b"k"), m.verify_fingerprint(), m.attributes().count());
        }
    }

    #[test]
    fn written_messages_parse_back(attrs in proptest::collection::vec((0x8030u16..0x8040, proptest::collection::vec(any::<u8>(), 0..40)), 0..6), txid in any::<[u8; 12]>()) {
        let mut buf = [0u8; 1024];
        let mut w = MessageWriter::new(&mut buf, Class::Indication, Method::Other(0x123), &txid).unwrap();
        for (t, v) in &attrs {
            w.add_attribute(*t, v).unwrap();
        }
        w.add_message_integrity(b"key").unwrap();
        w.add_fingerprint().unwrap();
        let n = w.finish();
        let m = Message::new_checked(&buf[..n]).unwrap();
        prop_assert_eq!((m.class(), m.method(), m.transaction_id()), (Class::Indication, Method::Other(0x123), txid));
        let got: Vec<(u16, Vec<u8>)> = m.attributes().take(attrs.len()).map(|(t, v)| (t, v.to_vec())).collect();
        prop_assert_eq!(got, attrs);
        prop_assert!(m.verify_integrity(b"key").is_ok() && m.verify_fingerprint().is_ok());
    }
}
