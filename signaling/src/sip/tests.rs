//! Codec tests on captured browser INVITEs, plus property tests: no input panics, and what we
//! write parses back to the same message.

use proptest::prelude::*;

use super::*;

const JSSIP: &[u8] = include_bytes!("../../../tests/fixtures/jssip-invite.txt");
const SIPJS: &[u8] = include_bytes!("../../../tests/fixtures/sipjs-invite.txt");

fn request(raw: &[u8]) -> Request {
    match Message::parse(raw).expect("fixture parses") {
        Message::Request(r) => r,
        Message::Response(_) => panic!("fixture is a request"),
    }
}

#[test]
fn jssip_invite_parses_and_round_trips() {
    let r = request(JSSIP);
    assert_eq!(r.method, Method::Invite);
    assert_eq!(r.uri.to_string(), "sip:bob@127.0.0.1");
    assert_eq!(r.call_id(), Some("eda3qk88m5j63bp3qfbd"));
    assert_eq!(r.cseq(), Some((3661, Method::Invite)));
    assert_eq!(r.max_forwards(), Some(69));
    let via = r.top_via().unwrap();
    assert_eq!(
        (via.transport.as_str(), via.host.as_str()),
        ("WS", "h3ioan6e6ca6.invalid")
    );
    assert_eq!(via.branch(), Some("z9hG4bK3871848"));
    let contact = r.contact().unwrap();
    assert_eq!(contact.uri.param("transport"), Some("ws"));
    assert_eq!(contact.uri.param("ob"), Some(""));
    assert_eq!(r.from().unwrap().tag(), Some("ps6ate10gh"));
    assert_eq!(r.to().unwrap().tag(), None);
    assert_eq!(r.content_type(), Some("application/sdp"));
    assert_eq!(r.body.len(), 1551);
    assert!(r.body.starts_with(b"v=0\r\n"));
    assert_eq!(r.headers.get_all("Allow").count(), 11);
    assert_eq!(r.to_bytes(), JSSIP);
}

#[test]
fn sipjs_invite_parses_and_round_trips() {
    let r = request(SIPJS);
    assert_eq!(r.cseq(), Some((1, Method::Invite)));
    assert_eq!(r.from().unwrap().uri.user.as_deref(), Some("carol"));
    assert_eq!(
        r.contact().unwrap().uri.to_string(),
        "sip:9r1fjmvv@qhp067ii7dnq.invalid;transport=ws;ob"
    );
    assert_eq!(r.to_bytes(), SIPJS);
}

#[test]
fn fixtures_frame_on_a_stream() {
    let mut stream = b"\r\n\r\n".to_vec();
    stream.extend_from_slice(JSSIP);
    stream.extend_from_slice(SIPJS);
    assert_eq!(
        frame(&stream).unwrap(),
        Frame::Keepalive { len: 4, ping: true }
    );
    assert_eq!(frame_len(&stream[4..]).unwrap(), Some(JSSIP.len()));
    assert_eq!(
        frame_len(&stream[4 + JSSIP.len()..]).unwrap(),
        Some(SIPJS.len())
    );
    assert_eq!(
        frame_len(&stream[4 + JSSIP.len()..stream.len() - 1]).unwrap(),
        None
    );
}

/// The fixture with bare LF, compact names, a folded line and leading CRLF.
#[test]
fn lenient_input_forms() {
    let text = std::str::from_utf8(JSSIP).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let head = head
        .replace("\r\n", "\n")
        .replace("Call-ID:", "i:")
        .replace("Supported: timer,", "k: timer,\n\t ");
    let raw = format!("\r\n{head}\n\n{body}");
    let r = request(raw.as_bytes());
    assert_eq!(r.call_id(), Some("eda3qk88m5j63bp3qfbd"));
    assert_eq!(
        r.headers.get("Supported"),
        Some("timer, ice,replaces,outbound")
    );
    assert_eq!(r.body.len(), 1551);
    assert!(
        !r.to_bytes()
            .windows(2)
            .any(|w| w[1] == b'\n' && w[0] != b'\r')
    );
}

#[test]
fn datagram_bounds() {
    let text = std::str::from_utf8(JSSIP).unwrap();
    let truncated = &JSSIP[..JSSIP.len() - 10];
    assert_eq!(Message::parse(truncated), Err(ParseError::BodyTruncated));
    let mut extra = JSSIP.to_vec();
    extra.extend_from_slice(b"trailing junk");
    assert_eq!(Message::parse(&extra).unwrap().to_bytes(), JSSIP);
    let many = text.replacen("Max-Forwards: 69\r\n", &"X-A: 1\r\n".repeat(200), 1);
    assert_eq!(
        Message::parse(many.as_bytes()),
        Err(ParseError::TooManyHeaders)
    );
    let long = text.replacen("JsSIP 3.13.8", &"x".repeat(9000), 1);
    assert_eq!(
        Message::parse(long.as_bytes()),
        Err(ParseError::LineTooLong)
    );
    assert_eq!(
        Message::parse(&vec![b'a'; limits::MAX_MESSAGE + 1]),
        Err(ParseError::TooLarge)
    );
    assert_eq!(Message::parse(b"\r\n\r\n"), Err(ParseError::Empty));
    let no_via = text.replacen("Via:", "X-Via:", 1);
    assert_eq!(
        Message::parse(no_via.as_bytes()),
        Err(ParseError::Missing("Via"))
    );
}

#[test]
fn response_for_request_copies_the_right_fields() {
    let mut req = request(JSSIP);
    req.headers.insert_front("Record-Route", "<sip:p1;lr>");
    req.headers
        .insert_front("Via", "SIP/2.0/UDP proxy;branch=z9hG4bKp");
    let mut resp = Response::for_request(&req, 180, "Ringing");
    resp.set_to_tag("abc");
    assert_eq!(resp.headers.get_all("Via").count(), 2);
    assert_eq!(resp.top_via().unwrap().host, "proxy");
    assert_eq!(resp.to().unwrap().tag(), Some("abc"));
    assert_eq!(resp.cseq(), Some((3661, Method::Invite)));
    assert!(!resp.headers.contains("Record-Route"));
    let rr = Response::for_request_with_record_route(&req, 200, "OK");
    assert_eq!(rr.headers.get("Record-Route"), Some("<sip:p1;lr>"));
    let bytes = resp.to_bytes();
    assert!(
        bytes.starts_with(b"SIP/2.0 180 Ringing\r\nVia: SIP/2.0/UDP proxy;branch=z9hG4bKp\r\n")
    );
    assert!(bytes.ends_with(b"Content-Length: 0\r\n\r\n"));
    let Message::Response(back) = Message::parse(&bytes).unwrap() else {
        panic!()
    };
    assert_eq!(back, resp);
}

#[test]
fn cancel_copies_top_via_and_cseq_number() {
    let c = request(JSSIP).cancel();
    assert_eq!(c.cseq(), Some((3661, Method::Cancel)));
    assert_eq!(c.headers.get_all("Via").count(), 1);
    assert_eq!(c.uri.to_string(), "sip:bob@127.0.0.1");
    assert!(Message::parse(&c.to_bytes()).is_ok());
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,11}"
}

prop_compose! {
    fn arb_request()(
        method in prop_oneof![Just(Method::Invite), Just(Method::Bye), token().prop_map(|t| t.parse().unwrap())],
        user in proptest::option::of("[a-z0-9]{1,8}"),
        host in "[a-z][a-z0-9.-]{0,15}",
        port in proptest::option::of(any::<u16>()),
        seq in 0u32..(1 << 31),
        extra in proptest::collection::vec(("X-[A-Za-z0-9-]{1,10}", "[!-~]([ -~]{0,30}[!-~])?"), 0..8),
        body in proptest::collection::vec(any::<u8>(), 0..300),
    ) -> Request {
        let mut r = Request::new(method.clone(), Uri::sip(user.as_deref(), &host, port));
        r.headers.push("Via", "SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKprop");
        r.headers.push("From", "<sip:a@b>;tag=1");
        r.headers.push("To", "<sip:c@d>");
        r.headers.push("Call-ID", "prop");
        r.headers.push("CSeq", &format!("{seq} {method}"));
        for (n, v) in &extra {
            r.headers.push(n, v);
        }
        r.headers.push("Content-Length", "999");
        r.body = body;
        r
    }
}

proptest! {
    #[test]
    fn no_input_panics(data in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let parsed = Message::parse(&data);
        if let Err(e) = &parsed {
            let _ = e.bad_request(&data);
        }
        let _ = frame_len(&data);
        let text = String::from_utf8_lossy(&data);
        let _ = (Uri::parse(&text), NameAddr::parse(&text), Via::parse(&text));
    }

    #[test]
    fn no_text_input_panics(a in "\\PC{0,12}", b in "\\PC{0,12}", c in "\\PC{0,12}", h in "\\PC{0,40}") {
        let raw = format!("{a} {b} {c}\r\n{h}\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n");
        if let Err(e) = Message::parse(raw.as_bytes()) {
            let _ = e.bad_request(raw.as_bytes());
        }
        let _ = frame_len(raw.as_bytes());
        let _ = (Uri::parse(&h), NameAddr::parse(&h), Via::parse(&h), auth::Challenge::parse(&h));
        let _ = auth::Credentials::parse(&h);
    }

    #[test]
    fn mangled_fixture_never_panics(cut in 0..JSSIP.len(), byte in any::<u8>(), at in 0..JSSIP.len()) {
        let mut raw = JSSIP.to_vec();
        raw[at] = byte;
        raw.truncate(cut.max(at + 1));
        if let Err(e) = Message::parse(&raw) {
            if let Some(resp) = e.bad_request(&raw) {
                prop_assert!(Message::parse(&resp.to_bytes()).is_ok());
            }
        }
        let _ = frame(&raw);
    }

    #[test]
    fn request_round_trips(req in arb_request()) {
        let bytes = req.to_bytes();
        let Message::Request(back) = Message::parse(&bytes).unwrap() else { panic!("a request") };
        let mut want = req.clone();
        want.headers.set("Content-Length", &req.body.len().to_string());
        prop_assert_eq!(&back, &want);
        prop_assert_eq!(back.to_bytes(), bytes.clone());
        prop_assert_eq!(frame_len(&bytes).unwrap(), Some(bytes.len()));
    }
}

/// The invariants the `sip` fuzz target asserts, on inputs shaped like its seeds.
#[test]
fn reencoding_is_idempotent() {
    let no_len =
        b"MESSAGE sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:a@b>;tag=1\n\
        To: <sip:c@d>\nCall-ID: x\nCSeq: 1 MESSAGE\nl: 2\nContent-Length: 2\nX-Fold: a\n  b\n\nhi";
    for raw in [JSSIP, SIPJS, &no_len[..], &no_len[..no_len.len() - 2]] {
        let m = Message::parse(raw);
        let bytes = match m {
            Ok(m) => m.to_bytes(),
            Err(e) => e.bad_request(raw).expect("salvageable").to_bytes(),
        };
        let again = Message::parse(&bytes).expect("our own output parses");
        assert_eq!(again.to_bytes(), bytes);
        assert_eq!(frame_len(&bytes), Ok(Some(bytes.len())));
    }
}
