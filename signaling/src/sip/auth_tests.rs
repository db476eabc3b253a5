//! RFC test vectors and round trips for Digest.

use super::*;

fn get() -> Method {
    Method::Other("GET".into())
}

/// RFC 2617 §3.5.
#[test]
fn rfc2617_mufasa() {
    let ch = Challenge::parse(
        r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
    )
    .unwrap();
    assert_eq!(ch.qop, vec![Qop::Auth, Qop::AuthInt]);
    assert_eq!(ch.algorithm, Algorithm::Md5);
    let v = authorization(
        &ch,
        "Mufasa",
        "Circle Of Life",
        &get(),
        "/dir/index.html",
        "0a4f113b",
        1,
    );
    assert!(
        v.contains(r#"response="6629fae49393a05397450978507c4ef1""#),
        "{v}"
    );
    assert!(v.contains("nc=00000001,") && v.contains("qop=auth,"), "{v}");
    assert!(v.contains(r#"opaque="5ccc069c403ebaf9f0171e9517f40e41""#));
    let c = Credentials::parse(&v).unwrap();
    assert!(c.verify("Circle Of Life", &get(), b""));
    assert!(!c.verify("circle of life", &get(), b""));
}

/// RFC 7616 §3.9.1, SHA-256 and MD5.
#[test]
fn rfc7616_sha256() {
    let hdr = r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;
    let ch = Challenge::parse(hdr).unwrap();
    assert_eq!(ch.algorithm, Algorithm::Sha256);
    let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
    let v = authorization(
        &ch,
        "Mufasa",
        "Circle of Life",
        &get(),
        "/dir/index.html",
        cnonce,
        1,
    );
    let want = r#"Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;
    assert_eq!(v, want);
    let md5 = Challenge {
        algorithm: Algorithm::Md5,
        ..ch
    };
    let v = authorization(
        &md5,
        "Mufasa",
        "Circle of Life",
        &get(),
        "/dir/index.html",
        cnonce,
        1,
    );
    assert!(
        v.contains(r#"response="8ca523f5e9506fed4657c9700eebdbec""#),
        "{v}"
    );
}

#[test]
fn nc_is_eight_hex_digits() {
    let ch = Challenge::new("r", "n", Algorithm::Md5);
    let v = authorization(&ch, "u", "p", &Method::Register, "sip:r", "c", 10);
    assert!(v.contains("nc=0000000a,"), "{v}");
    let v = authorization(&ch, "u", "p", &Method::Register, "sip:r", "c", 1);
    assert!(v.contains("nc=00000001,"), "{v}");
    assert_eq!(Credentials::parse(&v).unwrap().qop.map(|q| q.2), Some(1));
}

#[test]
fn every_algorithm_and_qop_round_trips_through_server_check() {
    for alg in [
        "MD5",
        "MD5-sess",
        "SHA-256",
        "SHA-256-sess",
        "SHA-512-256",
        "SHA-512-256-sess",
    ] {
        for qop in [vec![Qop::Auth], vec![Qop::AuthInt], vec![]] {
            let mut ch = Challenge::new("ferry", "abc", Algorithm::parse(alg).unwrap());
            ch.qop = qop;
            ch.opaque = Some("op".into());
            let back = Challenge::parse(&ch.to_string()).unwrap();
            assert_eq!(back, ch);
            let v = authorization_with_body(
                &back,
                "alice",
                "pw",
                &Method::Invite,
                "sip:bob@h",
                "cn",
                3,
                b"v=0",
            );
            let c = Credentials::parse(&v).unwrap();
            assert!(c.verify("pw", &Method::Invite, b"v=0"), "{alg} {v}");
            assert!(!c.verify("pw", &Method::Bye, b"v=0"), "{alg}");
        }
    }
}

#[test]
fn challenge_forms_and_errors() {
    let ch = Challenge::parse("digest realm=\"asterisk\",nonce=\"1a2b\",stale=TRUE,algorithm=md5")
        .unwrap();
    assert!(ch.stale);
    assert_eq!((ch.realm.as_str(), ch.nonce.as_str()), ("asterisk", "1a2b"));
    assert!(ch.qop.is_empty());
    let v = authorization(&ch, "u", "p", &Method::Invite, "sip:x", "c", 1);
    assert!(!v.contains("nc=") && !v.contains("cnonce"));
    assert_eq!(
        Challenge::parse("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-1"),
        Err(ParseError::DigestAlgorithm)
    );
    for bad in [
        "",
        "Basic realm=\"r\"",
        "Digest realm=\"r\"",
        "Digest realm=\"r, nonce=\"n\"",
        "Digest =x",
    ] {
        assert!(Challenge::parse(bad).is_err(), "{bad}");
    }
    assert!(Credentials::parse("Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"u\", response=\"x\", qop=auth, nc=1, cnonce=\"c\"").is_err());
}
