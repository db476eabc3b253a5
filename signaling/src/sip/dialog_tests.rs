//! Dialogs built from the captured browser INVITE, both sides.

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;
use crate::sip::Message;

const JSSIP: &[u8] = include_bytes!("../../../tests/fixtures/jssip-invite.txt");

fn invite() -> Request {
    let Ok(Message::Request(r)) = Message::parse(JSSIP) else {
        panic!("fixture")
    };
    r
}

fn ok(req: &Request, status: u16, rr: &[&str], contact: &str) -> Response {
    let mut r = Response::for_request(req, status, "OK");
    r.set_to_tag("bobtag");
    for v in rr {
        r.headers.push("Record-Route", v);
    }
    r.headers.push("Contact", contact);
    r
}

#[test]
fn uac_dialog_builds_bye_and_ack() {
    let inv = invite();
    let resp = ok(
        &inv,
        200,
        &["<sip:p2.example;lr>, <sip:p1.example;lr>"],
        "<sip:bob@192.0.2.9:5070>",
    );
    let mut d = Dialog::uac(&inv, &resp).unwrap();
    assert_eq!(d.state, DialogState::Confirmed);
    assert_eq!(
        (d.id.local_tag.as_str(), d.id.remote_tag.as_str()),
        ("ps6ate10gh", "bobtag")
    );
    let mut rng = StdRng::seed_from_u64(7);
    let bye = d.new_request(Method::Bye, &mut rng);
    assert_eq!(bye.uri.to_string(), "sip:bob@192.0.2.9:5070");
    let routes: Vec<_> = bye.headers.get_all("Route").collect();
    assert_eq!(
        routes,
        vec!["<sip:p1.example;lr>", "<sip:p2.example;lr>"],
        "reversed for the UAC"
    );
    assert_eq!(bye.cseq(), Some((3662, Method::Bye)));
    assert_eq!(bye.from().unwrap().tag(), Some("ps6ate10gh"));
    assert_eq!(bye.to().unwrap().tag(), Some("bobtag"));
    assert_eq!(bye.call_id(), Some("eda3qk88m5j63bp3qfbd"));
    assert_eq!(d.ack_for_2xx().cseq(), Some((3661, Method::Ack)));
    let reinvite = d.new_request(Method::Invite, &mut rng);
    assert_eq!(reinvite.cseq(), Some((3663, Method::Invite)));
    assert_eq!(
        d.new_request(Method::Ack, &mut rng).cseq(),
        Some((3663, Method::Ack))
    );
}

#[test]
fn early_dialog_is_confirmed_by_2xx() {
    let inv = invite();
    let ringing = ok(&inv, 180, &["<sip:p1;lr>"], "<sip:bob@early>");
    let mut d = Dialog::uac(&inv, &ringing).unwrap();
    assert_eq!(d.state, DialogState::Early);
    d.handle_response(&ok(&inv, 200, &["<sip:p9;lr>"], "<sip:bob@final>"));
    assert_eq!(d.state, DialogState::Confirmed);
    assert_eq!(d.remote_target.host, "final");
    assert_eq!(d.route_set[0].uri.host, "p9");
    assert_eq!(
        Dialog::uac(&inv, &ok(&inv, 486, &[], "<sip:x@y>")),
        Err(DialogError::NotDialogCreating)
    );
}

#[test]
fn uas_dialog_checks_incoming_cseq_and_refreshes_target() {
    let mut inv = invite();
    inv.headers.push("Record-Route", "<sip:edge1;lr>");
    inv.headers.push("Record-Route", "<sip:edge2;lr>");
    let mut d = Dialog::uas(&inv, &ok(&inv, 200, &[], "<sip:ferry@gw>")).unwrap();
    assert_eq!(d.remote_target.param("transport"), Some("ws"));
    assert_eq!(d.route_set[0].uri.host, "edge1", "UAS keeps the order");
    let mut rng = StdRng::seed_from_u64(1);
    let bye = d.new_request(Method::Bye, &mut rng);
    assert!(bye.cseq().unwrap().0 > 0);
    assert_eq!(
        bye.to().unwrap().tag(),
        Some("ps6ate10gh"),
        "To is the browser"
    );

    // The browser's in-dialog requests: From/To swapped relative to ours.
    let mut incoming = inv.clone();
    incoming.headers.set("To", "<sip:bob@127.0.0.1>;tag=bobtag");
    incoming.method = Method::Info;
    incoming.headers.set("CSeq", "3662 INFO");
    assert_eq!(d.handle_request(&incoming), Ok(()));
    incoming.headers.set("CSeq", "3660 INFO");
    assert_eq!(d.handle_request(&incoming).unwrap_err().status, 500);
    incoming.method = Method::Ack;
    incoming.headers.set("CSeq", "3661 ACK");
    assert_eq!(d.handle_request(&incoming), Ok(()));
    incoming.method = Method::Update;
    incoming.headers.set("CSeq", "3663 UPDATE");
    incoming
        .headers
        .set("Contact", "<sip:moved@h.invalid;transport=ws>");
    assert_eq!(d.handle_request(&incoming), Ok(()));
    assert_eq!(d.remote_target.user.as_deref(), Some("moved"));
    incoming.headers.set("To", "<sip:bob@127.0.0.1>;tag=other");
    assert_eq!(d.handle_request(&incoming).unwrap_err().status, 481);
}

#[test]
fn strict_router_takes_the_request_uri() {
    let inv = invite();
    let resp = ok(
        &inv,
        200,
        &["<sip:loose;lr>", "<sip:strict>"],
        "<sip:bob@target>",
    );
    let mut d = Dialog::uac(&inv, &resp).unwrap();
    let bye = d.new_request(Method::Bye, &mut StdRng::seed_from_u64(0));
    assert_eq!(bye.uri.to_string(), "sip:strict");
    let routes: Vec<_> = bye.headers.get_all("Route").collect();
    assert_eq!(routes, vec!["<sip:loose;lr>", "<sip:bob@target>"]);
}
