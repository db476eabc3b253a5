//! Anonymous click-to-call against the real `ferry up` and a sipp trunk: with `[services]`
//! configured, a visitor reaches only those, and only with a solved proof-of-work CAPTCHA
//! (single use) or a signed call link; a one-time link is spent when its call connects and
//! stays spent across a restart; a tampered link is refused.

mod common;
#[path = "common/sipws.rs"]
mod sipws;

use std::time::Duration;

use common::ferry::{Ferry, FerryOpts, http_get, sipp_received, solved_captcha, start_with_sipp};
use sipws::*;

const CONFIG: &str = r#"
[services]
sales = { target = "2000", label = "Sales" }

[anonymous]
captcha = true
captcha_bits = 10
"#;

/// The body of an HTTP response.
fn body(resp: &str) -> &str {
    resp.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// The fixture INVITE to `dest`, with extra headers.
fn invite_to(id: &str, dest: &str, extra: &[String]) -> String {
    let inv = invite(id, str::to_string).replacen(
        "sip:bob@127.0.0.1",
        &format!("sip:{dest}@127.0.0.1"),
        1,
    );
    let (head, body) = inv.split_once("\r\n\r\n").unwrap();
    let mut head = head.to_string();
    for h in extra {
        head.push_str("\r\n");
        head.push_str(h);
    }
    format!("{head}\r\n\r\n{body}")
}

async fn final_status(ws: &mut Ws, id: &str, inv: &str) -> (u16, String) {
    send(ws, inv).await;
    let resp = response(ws, id, false).await;
    let line = resp.lines().next().unwrap_or_default().to_string();
    (status(&resp).unwrap(), line)
}

fn link(ferry: &Ferry, one_time: bool, extra: &[&str]) -> String {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ferry"));
    cmd.args(["link", "--state-dir"])
        .arg(ferry.dir.join("state"))
        .args([
            "create",
            "--base-url",
            "https://ferry.example",
            "--dest",
            "sales",
        ])
        .args(extra);
    if one_time {
        cmd.arg("--one-time");
    }
    let out = cmd.output().expect("ferry link create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let url = String::from_utf8_lossy(&out.stdout).trim().to_string();
    url.split("link=").nth(1).expect("a link URL").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_services_with_a_solved_captcha() {
    let (ferry, mut sipp) = start_with_sipp("anon-svc", CONFIG, "sipp-uas-echo-g711.xml", 1);
    let services = http_get(ferry.http, "/api/services").unwrap();
    assert!(body(&services).contains(r#""name":"sales""#), "{services}");
    let mut ws = browser(&ferry).await;

    // Any other destination, even with a CAPTCHA: 403, and nothing reaches the trunk.
    let cap = solved_captcha(&ferry);
    let inv = invite_to("a1", "2000", &[format!("X-Ferry-Captcha: {cap}")]);
    assert_eq!(final_status(&mut ws, "a1", &inv).await.0, 403);
    let (s, line) = final_status(&mut ws, "a2", &invite_to("a2", "sales", &[])).await;
    assert_eq!((s, line.as_str()), (403, "SIP/2.0 403 CAPTCHA Required"));
    let bad = invite_to("a3", "sales", &["X-Ferry-Captcha: forged:1".into()]);
    let (s, line) = final_status(&mut ws, "a3", &bad).await;
    assert_eq!((s, line.as_str()), (403, "SIP/2.0 403 CAPTCHA Failed"));
    assert_eq!(
        sipp_received(&ferry.dir, "INVITE"),
        0,
        "refused calls never reach the trunk"
    );

    // A solved CAPTCHA reaches the service's target on the trunk.
    let cap = solved_captcha(&ferry);
    let good = invite_to("a4", "sales", &[format!("X-Ferry-Captcha: {cap}")]);
    let (s, _) = final_status(&mut ws, "a4", &good).await;
    assert_eq!(s, 200);
    let trace = std::fs::read_to_string(ferry.dir.join("sipp-messages.log")).unwrap_or_default();
    assert!(
        trace.contains("INVITE sip:2000@"),
        "the trunk is asked for the service's target"
    );
    // The same answer again: single use.
    let again = invite_to("a5", "sales", &[format!("X-Ferry-Captcha: {cap}")]);
    let (s, line) = final_status(&mut ws, "a5", &again).await;
    assert_eq!((s, line.as_str()), (403, "SIP/2.0 403 CAPTCHA Failed"));
    drop(ws);
    let _ = tokio::task::block_in_place(|| sipp.wait_exit(Duration::from_secs(10)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_time_links_are_spent_on_connect_and_stay_spent_after_restart() {
    let cfg = format!("{CONFIG}\n");
    let cfg = cfg.replace("captcha = true", "captcha = false");
    let (ferry, mut sipp) = start_with_sipp("anon-link", &cfg, "sipp-uas-echo-g711.xml", 1);
    let token = link(&ferry, true, &["--name", "Ann"]);
    let check = http_get(ferry.http, &format!("/api/link?token={token}")).unwrap();
    assert!(body(&check).contains(r#""ok":true"#), "{check}");
    let mut ws = browser(&ferry).await;
    // Opening the page (checking the link) spends nothing; the connected call does.
    let inv = invite_to("l1", "whatever", &[format!("X-Ferry-Link: {token}")]);
    assert_eq!(final_status(&mut ws, "l1", &inv).await.0, 200);
    let inv = invite_to("l2", "sales", &[format!("X-Ferry-Link: {token}")]);
    let (s, line) = final_status(&mut ws, "l2", &inv).await;
    assert_eq!((s, line.as_str()), (403, "SIP/2.0 403 Link Already Used"));
    let check = http_get(ferry.http, &format!("/api/link?token={token}")).unwrap();
    assert!(body(&check).contains("already_used"), "{check}");
    // Tampered: one character of the signed part changed.
    let mut bad = token.clone();
    let last = bad.pop().unwrap();
    bad.push(if last == 'A' { 'B' } else { 'A' });
    let inv = invite_to("l3", "sales", &[format!("X-Ferry-Link: {bad}")]);
    let (s, line) = final_status(&mut ws, "l3", &inv).await;
    assert_eq!((s, line.as_str()), (403, "SIP/2.0 403 Link Invalid"));
    // Not yet active / expired.
    let later = link(&ferry, false, &["--not-before", "2099-01-01T00:00:00Z"]);
    let inv = invite_to("l4", "sales", &[format!("X-Ferry-Link: {later}")]);
    assert_eq!(
        final_status(&mut ws, "l4", &inv).await.1,
        "SIP/2.0 403 Link Not Yet Active"
    );
    let soon = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 1;
    let old = link(&ferry, false, &["--not-after", &soon.to_string()]);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let inv = invite_to("l5", "sales", &[format!("X-Ferry-Link: {old}")]);
    assert_eq!(
        final_status(&mut ws, "l5", &inv).await.1,
        "SIP/2.0 403 Link Expired"
    );
    drop(ws);
    let _ = tokio::task::block_in_place(|| sipp.wait_exit(Duration::from_secs(10)));

    // After a restart of Ferry the link is still spent.
    let (dir, trunk_port) = (ferry.dir.clone(), ferry.trunk.port());
    drop(ferry); // kills its process group
    let ferry2 = Ferry::start_in(
        &dir,
        FerryOpts {
            config: Some(cfg),
            trunk_port: Some(trunk_port),
        },
    );
    let check = http_get(ferry2.http, &format!("/api/link?token={token}")).unwrap();
    assert!(
        body(&check).contains("already_used"),
        "after restart: {check}"
    );
}

/// `ferry link rotate` and `ferry link retire` take effect in the running Ferry, no restart:
/// after a rotation old links still work and new ones are signed by the new key; once the old
/// key is retired its links are refused (`403 Link Invalid`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotated_and_retired_link_keys_apply_without_a_restart() {
    let cfg = CONFIG.replace("captcha = true", "captcha = false");
    let (ferry, _sipp) = start_with_sipp("anon-keys", &cfg, "sipp-uas-echo-g711.xml", 1);
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
            .args(["link", "--state-dir"])
            .arg(ferry.dir.join("state"))
            .args(args)
            .output()
            .expect("ferry link");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let active = |keys: &str| {
        keys.lines()
            .find(|l| l.ends_with(" active"))
            .and_then(|l| l.split_whitespace().next())
            .map(str::to_string)
            .expect("an active key")
    };
    let ok = |token: &str| {
        let r = http_get(ferry.http, &format!("/api/link?token={token}")).unwrap();
        body(&r).contains(r#""ok":true"#)
    };
    let old_token = link(&ferry, false, &[]);
    let old_kid = active(&cli(&["keys"]));
    assert!(ok(&old_token));
    cli(&["rotate"]);
    let new_kid = active(&cli(&["keys"]));
    assert_ne!(new_kid, old_kid, "rotate makes a new active key");
    let new_token = link(&ferry, false, &[]);
    assert!(ok(&old_token), "a rotation keeps old links valid");
    assert!(ok(&new_token), "the running Ferry knows the new key");
    cli(&["retire", &old_kid]);
    assert!(
        !ok(&old_token),
        "the retired key's links are refused at once"
    );
    assert!(ok(&new_token));
    let mut ws = browser(&ferry).await;
    let inv = invite_to("k1", "sales", &[format!("X-Ferry-Link: {old_token}")]);
    let (s, line) = final_status(&mut ws, "k1", &inv).await;
    assert_eq!((s, line.as_str()), (403, "SIP/2.0 403 Link Invalid"));
}
