//! Trunk-side features end to end, with real peers and the real binary: a JsSIP call in headless
//! Chromium through `ferry up` to sipp (tests/browser/run.sh, private network and PID
//! namespaces), checking what sipp received on the wire (run.sh's "sip" list: every SIP message
//! on sipp's port 5070 as tshark decoded it from a capture) besides the audio:
//!
//! - hold and resume: the browser's re-INVITEs reach sipp as re-INVITEs with a=sendonly, then
//!   a=sendrecv, and the tone comes back after the resume;
//! - SIP toward the trunk over TCP;
//! - digest authentication toward the trunk (and a wrong password: one retry, then 403);
//! - a signaling restart in the middle of a call: media never stops, and the trunk's BYE after
//!   the restart is answered and frees the engine's session;
//! - the page over https, SIP over wss;
//! - a key sent as SIP INFO (application/dtmf-relay) reaches sipp as INFO.
//! - a key sent as RFC 4733 to a trunk configured `dtmf = "info"` reaches sipp as INFO only.
//!
//! Same needs as tests/browser_calls.rs (root, chromium, node, sipp, dumpcap, tshark);
//! `FERRY_SKIP_BROWSER=1` skips them. The sipp scenarios are tests/browser/sipp-uas-*.xml.

mod common;

use common::browser::{Ender, Run, check_call, check_dtmf_at_sipp, run_browser, skipped};
use common::ferry::test_dir;
use serde_json::Value;

/// run.sh `--sipp SIPP --lib LIB ARGS` (its own flags, then call.mjs's after "--"), or None
/// when `FERRY_SKIP_BROWSER=1` skips the browser tests.
fn call(sipp: &str, lib: &str, args: &[&str]) -> Option<Run> {
    if skipped() {
        return None;
    }
    let mut all = vec!["--sipp", sipp, "--lib", lib];
    all.extend_from_slice(args);
    Some(run_browser(&all))
}

/// The SIP messages of the capture, as run.sh decoded them.
fn sip(run: &Run) -> &Vec<Value> {
    run.json["sip"]
        .as_array()
        .unwrap_or_else(|| panic!("no \"sip\" list in run.sh's line: {}", run.json))
}

/// Requests of `method` sent to sipp.
fn requests_to_sipp<'a>(run: &'a Run, method: &str) -> Vec<&'a Value> {
    sip(run)
        .iter()
        .filter(|m| m["toSipp"] == true && m["method"] == method)
        .collect()
}

/// Responses sipp sent for requests of `method` (by CSeq), as status codes in order.
fn sipp_statuses(run: &Run, method: &str) -> Vec<u64> {
    sip(run)
        .iter()
        .filter(|m| {
            m["toSipp"] == false
                && m["cseq"]
                    .as_str()
                    .is_some_and(|c| c.ends_with(&format!(" {method}")))
        })
        .filter_map(|m| m["status"].as_u64())
        .collect()
}

/// A compact view of the SIP exchange for assertion messages.
fn ladder(run: &Run) -> String {
    sip(run)
        .iter()
        .map(|m| {
            let arrow = if m["toSipp"] == true { "->" } else { "<-" };
            let what = m["method"]
                .as_str()
                .map(str::to_string)
                .or_else(|| m["status"].as_u64().map(|s| s.to_string()))
                .unwrap_or_default();
            format!(
                "{arrow} {} {what} ({}) {} auth={}",
                m["proto"].as_str().unwrap_or("?"),
                m["cseq"].as_str().unwrap_or(""),
                m["directions"],
                m["authorization"]
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// What an assertion message shows: run.sh's line, the SIP ladder and run.sh's stderr.
fn ctx(run: &Run) -> String {
    format!(
        "{}\nSIP:\n{}\nstderr:\n{}",
        run.json,
        ladder(run),
        run.stderr
    )
}

/// The final statuses (200 and up) sipp sent for requests of `method`, in order.
fn sipp_finals(run: &Run, method: &str) -> Vec<u64> {
    sipp_statuses(run, method)
        .into_iter()
        .filter(|s| *s >= 200)
        .collect()
}

/// Whether each INVITE to sipp carried an Authorization header, in order.
fn invite_authorizations(run: &Run) -> Vec<&Value> {
    requests_to_sipp(run, "INVITE")
        .into_iter()
        .map(|m| &m["authorization"])
        .collect()
}

/// The engine held no session once sipp was done: the call was freed.
fn check_sessions_freed(run: &Run) {
    assert_eq!(
        run.json["engineSessions"], 0,
        "engine sessions after the call (ferry stats): {}\nstderr:\n{}",
        run.json, run.stderr
    );
}

/// CSeq order toward sipp (RFC 3261 §12.2.1.1, §17.1.1.3): each new request Ferry sends in the
/// call has a higher CSeq than the one before, and each ACK carries its INVITE's number.
fn check_cseqs(run: &Run) {
    let mut last = 0;
    let mut invites = Vec::new();
    for m in sip(run)
        .iter()
        .filter(|m| m["toSipp"] == true && m["method"].is_string())
    {
        let cseq = m["cseq"].as_str().unwrap_or("");
        let (n, method) = cseq.split_once(' ').unwrap_or(("", ""));
        let n: u64 = n
            .parse()
            .unwrap_or_else(|_| panic!("CSeq {cseq:?}: {}", ctx(run)));
        assert_eq!(m["method"], method, "CSeq method: {}", ctx(run));
        if method == "ACK" {
            assert!(invites.contains(&n), "ACK {n} for no INVITE: {}", ctx(run));
        } else {
            assert!(n > last, "CSeq {n} after {last}: {}", ctx(run));
            last = n;
            if method == "INVITE" {
                invites.push(n);
            }
        }
    }
}

/// The trunk-side checks that close every call to sipp: CSeqs in order, the session freed.
fn check_trunk_call_done(run: &Run) {
    check_cseqs(run);
    check_sessions_freed(run);
}

/// A JsSIP call to sipp running the digest `scenario`, with Ferry configured (`ferry up
/// --config`) to answer the trunk's challenge as ferry/`password`; `args` go to call.mjs.
fn digest_call(tag: &str, password: &str, scenario: &str, args: &[&str]) -> Option<Run> {
    if skipped() {
        return None;
    }
    let dir = test_dir(tag);
    let path = dir.join("ferry.toml");
    let toml = format!(
        "[trunk]\nuri = \"sip:127.0.0.1:5070\"\nusername = \"ferry\"\npassword = \"{password}\"\n"
    );
    std::fs::write(&path, toml).expect("write config");
    let cfg = path.to_str().expect("utf-8 temp path");
    let mut all = vec!["--config", cfg, "--scenario", scenario, "--"];
    all.extend_from_slice(args);
    let run = call("uas", "jssip", &all);
    let _ = std::fs::remove_dir_all(dir);
    run
}

/// The browser puts the call on hold and resumes it: each re-INVITE is relayed to sipp (hold
/// with a=sendonly, resume with a=sendrecv) and answered, the browser sees both succeed with
/// sipp's directions in Ferry's answers, and the tone flows again after the resume.
fn hold_and_resume(lib: &str) {
    let Some(run) = call(
        "uas",
        lib,
        &[
            "--scenario",
            "tests/browser/sipp-uas-hold.xml",
            "--",
            "--hold",
            "--duration",
            "3",
        ],
    ) else {
        return;
    };
    check_call(&run, lib, Ender::Browser);
    let j = &run.json;
    let h = &j["hold"];
    assert_eq!(h["hold"]["ok"], true, "hold: {}", ctx(&run));
    assert_eq!(h["unhold"]["ok"], true, "unhold: {}", ctx(&run));
    // sipp's answers (recvonly, then sendrecv) reached the browser as Ferry's answers.
    assert_eq!(
        h["hold"]["remoteDirection"],
        "recvonly",
        "the browser's answer to its hold: {}",
        ctx(&run)
    );
    assert_eq!(
        h["unhold"]["remoteDirection"],
        "sendrecv",
        "the browser's answer to its resume: {}",
        ctx(&run)
    );
    let hz = h["toneResumed"].as_f64().unwrap_or(0.0);
    assert!(
        (hz - 1230.0).abs() <= 30.0,
        "tone after resume {hz}: {}",
        ctx(&run)
    );
    assert!(
        h["inboundAfterResume"].as_u64().unwrap_or(0) > 25,
        "packets after resume: {}",
        ctx(&run)
    );

    let invites = requests_to_sipp(&run, "INVITE");
    let dirs: Vec<&Value> = invites.iter().map(|m| &m["directions"]).collect();
    assert_eq!(
        dirs,
        [
            &serde_json::json!(["sendrecv"]),
            &serde_json::json!(["sendonly"]),
            &serde_json::json!(["sendrecv"])
        ],
        "INVITE, hold re-INVITE, resume re-INVITE to sipp: {}",
        ctx(&run)
    );
    let cseqs: Vec<&str> = invites
        .iter()
        .map(|m| m["cseq"].as_str().unwrap_or(""))
        .collect();
    let mut sorted = cseqs.clone();
    sorted.dedup();
    assert_eq!(
        sorted.len(),
        3,
        "three INVITE transactions (distinct CSeqs): {cseqs:?}: {}",
        ctx(&run)
    );
    let oks = sipp_statuses(&run, "INVITE")
        .into_iter()
        .filter(|s| *s == 200)
        .count();
    assert!(oks >= 3, "sipp's 200s to the INVITEs: {oks}: {}", ctx(&run));
    assert!(
        requests_to_sipp(&run, "ACK").len() >= 3,
        "one ACK per INVITE 200: {}",
        ctx(&run)
    );
    assert_eq!(requests_to_sipp(&run, "BYE").len(), 1, "{}", ctx(&run));
    check_trunk_call_done(&run);
}

#[test]
fn jssip_hold_and_resume_are_relayed_to_the_trunk() {
    hold_and_resume("jssip");
}

#[test]
fn sipjs_hold_and_resume_are_relayed_to_the_trunk() {
    hold_and_resume("sipjs");
}

/// sipp refuses the hold re-INVITE with 488: the browser gets the refusal (SIP.js; JsSIP would
/// end the call on a failed hold) and the call goes on as it was (RFC 3261 §14.1): tone and
/// packets still arriving, and the BYE still reaches sipp.
#[test]
fn sipjs_hold_refused_by_the_trunk_keeps_the_call() {
    let Some(run) = call(
        "uas",
        "sipjs",
        &[
            "--scenario",
            "tests/browser/sipp-uas-hold-refused.xml",
            "--",
            "--hold-refused",
            "488",
            "--duration",
            "3",
        ],
    ) else {
        return;
    };
    check_call(&run, "sipjs", Ender::Browser);
    let h = &run.json["holdRefused"];
    assert_eq!(h["hold"]["ok"], false, "{}", ctx(&run));
    assert_eq!(h["state"], "connected", "{}", ctx(&run));
    let invites = requests_to_sipp(&run, "INVITE");
    assert_eq!(
        invites.len(),
        2,
        "the INVITE and the hold re-INVITE: {}",
        ctx(&run)
    );
    assert_eq!(
        invites[1]["directions"],
        serde_json::json!(["sendonly"]),
        "{}",
        ctx(&run)
    );
    assert_eq!(sipp_finals(&run, "INVITE"), [200, 488], "{}", ctx(&run));
    assert_eq!(requests_to_sipp(&run, "BYE").len(), 1, "{}", ctx(&run));
    check_trunk_call_done(&run);
}

/// `--trunk "sip:127.0.0.1:5070;transport=tcp"` and sipp listening on TCP only (-t t1): the
/// call connects, the tone comes back, and every SIP message to and from sipp went over TCP.
#[test]
fn trunk_over_tcp() {
    let Some(run) = call("uas", "jssip", &["--transport", "tcp"]) else {
        return;
    };
    check_call(&run, "jssip", Ender::Browser);
    check_dtmf_at_sipp(&run);
    let msgs = sip(&run);
    assert!(
        msgs.iter().all(|m| m["proto"] == "tcp"),
        "SIP to sipp not over TCP: {}",
        ctx(&run)
    );
    for method in ["INVITE", "ACK", "BYE"] {
        assert_eq!(
            requests_to_sipp(&run, method).len(),
            1,
            "{method} over TCP: {}",
            ctx(&run)
        );
    }
    assert!(
        sipp_statuses(&run, "INVITE").contains(&200),
        "sipp's 200 over TCP: {}",
        ctx(&run)
    );
    check_trunk_call_done(&run);
}

/// sipp challenges the INVITE (401, Digest MD5 qop=auth); Ferry, configured with the trunk's
/// username and password, ACKs the 401 and sends the INVITE again with an Authorization that
/// sipp verifies (the scenario fails otherwise), and the call goes on.
#[test]
fn digest_auth_toward_the_trunk() {
    let Some(run) = digest_call(
        "trunk-auth",
        "s3cret",
        "tests/browser/sipp-uas-digest.xml",
        &[],
    ) else {
        return;
    };
    check_call(&run, "jssip", Ender::Browser);
    check_dtmf_at_sipp(&run);
    assert_eq!(
        invite_authorizations(&run),
        [&Value::Bool(false), &Value::Bool(true)],
        "an INVITE, then one with credentials: {}",
        ctx(&run)
    );
    assert_eq!(
        sipp_finals(&run, "INVITE").first(),
        Some(&401),
        "{}",
        ctx(&run)
    );
    assert!(
        requests_to_sipp(&run, "ACK").len() >= 2,
        "the 401 and the 200 ACKed: {}",
        ctx(&run)
    );
    check_trunk_call_done(&run);
}

/// With the wrong password, the credentialed retry gets a second 401: Ferry must give up (no
/// third INVITE: sipp's scenario waits 4 s for one and fails if it comes) and fail the browser's
/// call with 403.
#[test]
fn wrong_trunk_password_fails_after_one_retry() {
    let Some(run) = digest_call(
        "trunk-auth-bad",
        "wrong",
        "tests/browser/sipp-uas-digest-wrong.xml",
        &["--expect-fail", "403"],
    ) else {
        return;
    };
    let j = &run.json;
    assert_eq!(j["ok"], true, "{}", ctx(&run));
    assert_eq!(j["state"], "failed", "{}", ctx(&run));
    assert_eq!(j["status"], 403, "{}", ctx(&run));
    assert_eq!(
        invite_authorizations(&run),
        [&Value::Bool(false), &Value::Bool(true)],
        "one retry with credentials, no more: {}",
        ctx(&run)
    );
    assert_eq!(sipp_finals(&run, "INVITE"), [401, 401], "{}", ctx(&run));
    assert_eq!(
        requests_to_sipp(&run, "ACK").len(),
        2,
        "each 401 ACKed: {}",
        ctx(&run)
    );
    check_trunk_call_done(&run);
}

/// Longest time in the stats series (pairs of ms and inbound packets) during which the inbound
/// packet count did not grow.
fn longest_stall(series: &[Value]) -> u64 {
    let pts: Vec<(u64, u64)> = series
        .iter()
        .filter_map(|p| Some((p[0].as_u64()?, p[1].as_u64()?)))
        .collect();
    let (mut worst, mut since) = (0, pts.first().map_or(0, |p| p.0));
    for w in pts.windows(2) {
        if w[1].1 > w[0].1 {
            since = w[1].0;
        } else {
            worst = worst.max(w[1].0 - since);
        }
    }
    worst
}

/// SIGKILL the signaling process in the middle of a call (`ferry up` starts a new one): the
/// browser's media never stops, the engine keeps the session, and sipp's BYE after the restart
/// gets its 200 from the new process and frees the session. The browser is not told of the BYE
/// (its WebSocket died with the old process), so it does not hang up itself.
#[test]
fn signaling_restart_mid_call_keeps_the_call() {
    let Some(run) = call(
        "uas-bye",
        "jssip",
        &[
            "--sipp-duration",
            "12000",
            "--kill-signaling",
            "--",
            "--hangup",
            "none",
            "--duration",
            "10",
        ],
    ) else {
        return;
    };
    let j = &run.json;
    assert_eq!(j["ok"], true, "{}", ctx(&run));
    let m = &j["midCall"];
    assert_eq!(m["status"], 0, "kill-signaling.sh: {}", ctx(&run));
    let r = &j["restart"];
    assert!(
        r["newPid"].as_u64().is_some() && r["newPid"] != r["oldPid"],
        "a new signaling process: {}",
        ctx(&run)
    );
    assert_eq!(
        r["sessionsAfter"],
        1,
        "the engine kept the call's session through the restart: {}",
        ctx(&run)
    );
    let growth = m["inboundGrowthAfter"].as_u64().unwrap_or(0);
    assert!(
        growth > 100,
        "browser packets in the 3 s after the restart: {growth}: {}",
        ctx(&run)
    );
    let stall = longest_stall(m["series"].as_array().map_or(&[][..], |v| v));
    assert!(
        stall < 1000,
        "inbound packets stalled {stall} ms around the kill: {}",
        ctx(&run)
    );
    let hz = m["toneAfter"].as_f64().unwrap_or(0.0);
    assert!(
        (hz - 1230.0).abs() <= 30.0,
        "tone after the restart {hz}: {}",
        ctx(&run)
    );
    assert_eq!(j["state"], "connected", "{}", ctx(&run));
    // sipp's BYE (sent 12 s after its 200, well after the restart) was answered 200: run.sh's
    // exit status covers sipp's verdict, and the capture shows it.
    let msgs = sip(&run);
    let bye = msgs
        .iter()
        .position(|m| m["toSipp"] == false && m["method"] == "BYE")
        .unwrap_or_else(|| panic!("sipp sent no BYE: {}", ctx(&run)));
    assert!(
        msgs[bye..].iter().any(|m| m["toSipp"] == true
            && m["status"] == 200
            && m["cseq"].as_str().is_some_and(|c| c.ends_with(" BYE"))),
        "no 200 to sipp's BYE: {}",
        ctx(&run)
    );
    check_sessions_freed(&run);
}

/// The browser hangs up after a signaling restart: JsSIP has reconnected its WebSocket to the new
/// process, which restored the call from its saved dialog, so the browser's BYE reaches sipp (the
/// plain UAS scenario requires it) and the session is freed.
#[test]
fn browser_hangs_up_after_a_signaling_restart() {
    let Some(run) = call(
        "uas",
        "jssip",
        &[
            "--kill-signaling",
            "--",
            "--hangup",
            "browser",
            "--duration",
            "9",
        ],
    ) else {
        return;
    };
    check_call(&run, "jssip", Ender::Browser);
    let j = &run.json;
    assert_eq!(j["restart"]["sessionsAfter"], 1, "{}", ctx(&run));
    assert!(
        j["midCall"]["inboundGrowthAfter"].as_u64().unwrap_or(0) > 100,
        "{}",
        ctx(&run)
    );
    assert_eq!(requests_to_sipp(&run, "BYE").len(), 1, "{}", ctx(&run));
    assert_eq!(sipp_statuses(&run, "BYE"), [200], "{}", ctx(&run));
    check_trunk_call_done(&run);
}

/// `ferry up --https`: the page loaded from https://127.0.0.1:8443/ (self-signed certificate
/// accepted) calls echo over wss://, and the tone comes back.
#[test]
fn jssip_over_wss() {
    let Some(run) = call("none", "jssip", &["--https"]) else {
        return;
    };
    check_call(&run, "jssip", Ender::Browser);
    let j = &run.json;
    assert_eq!(j["ws"], "wss://127.0.0.1:8443/sip", "{j}");
    assert!(
        j["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://127.0.0.1:8443/")),
        "{j}"
    );
}

/// The key "5" sent as SIP INFO (page option dtmf=info: JsSIP's sendDTMF with transportType
/// INFO, SIP.js's session.info) reaches sipp as an INFO with an application/dtmf-relay body saying
/// Signal=5 (sipp's scenario requires it), and not also as RFC 4733 events.
fn dtmf_as_sip_info(lib: &str) {
    let Some(run) = call(
        "uas",
        lib,
        &[
            "--scenario",
            "tests/browser/sipp-uas-info.xml",
            "--query",
            "dtmf=info",
        ],
    ) else {
        return;
    };
    check_info_at_sipp(&run, lib);
}

/// The call went well, sipp got exactly one INFO (application/dtmf-relay, Signal=5) and
/// answered it, and no RFC 4733 event reached it (neither sipp's PT 101 nor the browser's 126).
fn check_info_at_sipp(run: &Run, lib: &str) {
    check_call(run, lib, Ender::Browser);
    let infos = requests_to_sipp(run, "INFO");
    assert_eq!(infos.len(), 1, "one INFO to sipp: {}", ctx(run));
    assert_eq!(
        infos[0]["contentType"],
        "application/dtmf-relay",
        "{}",
        ctx(run)
    );
    let got: Vec<&Value> = run.json["sippReceived"]
        .as_array()
        .map(|v| v.iter().filter(|m| m["method"] == "INFO").collect())
        .unwrap_or_default();
    assert_eq!(got.len(), 1, "INFOs in sipp's trace: {}", ctx(run));
    let body = got[0]["body"].as_str().unwrap_or("");
    assert!(
        body.lines().any(|l| l.replace(' ', "") == "Signal=5"),
        "INFO body {body:?}: {}",
        ctx(run)
    );
    assert_eq!(sipp_statuses(run, "INFO"), [200], "{}", ctx(run));
    let c = &run.json["capture"];
    assert_eq!(
        c["pt101"],
        0,
        "the INFO key also went as RFC 4733: {c}: {}",
        ctx(run)
    );
    assert_eq!(
        c["payloadTypes"]["126"].as_u64().unwrap_or(0),
        0,
        "the browser's telephone-event (PT 126) reached sipp: {c}"
    );
    assert!(
        c["rtpToSipp"].as_u64().unwrap_or(0) > 50,
        "media to sipp: {c}"
    );
    check_sessions_freed(run);
}

#[test]
fn jssip_dtmf_as_sip_info_reaches_the_trunk() {
    dtmf_as_sip_info("jssip");
}

#[test]
fn sipjs_dtmf_as_sip_info_reaches_the_trunk() {
    dtmf_as_sip_info("sipjs");
}

/// The page sends the key "5" as RFC 4733 (its default, WebRTC's RTCDTMFSender) to a trunk
/// configured `dtmf = "info"`: Ferry offers the trunk no telephone-event, the engine takes the
/// browser's events off the media path, and sipp gets one INFO with Signal=5 and no RFC 4733.
fn rfc4733_from_the_browser_as_sip_info(lib: &str) {
    if skipped() {
        return;
    }
    let dir = test_dir(&format!("dtmf-info-{lib}"));
    let path = dir.join("ferry.toml");
    let toml = "[trunk]\nuri = \"sip:127.0.0.1:5070\"\ndtmf = \"info\"\n";
    std::fs::write(&path, toml).expect("write config");
    let cfg = path.to_str().expect("utf-8 temp path");
    let scenario = "tests/browser/sipp-uas-info.xml";
    let run = call("uas", lib, &["--config", cfg, "--scenario", scenario]);
    let _ = std::fs::remove_dir_all(dir);
    let Some(run) = run else { return };
    let invite = run.json["sippReceived"]
        .as_array()
        .and_then(|v| v.iter().find(|m| m["method"] == "INVITE"));
    let offer = invite.and_then(|m| m["body"].as_str()).unwrap_or("");
    assert!(
        offer.contains("m=audio") && !offer.contains("telephone-event"),
        "telephone-event offered to an INFO trunk: {offer:?}: {}",
        ctx(&run)
    );
    check_info_at_sipp(&run, lib);
}

#[test]
fn jssip_rfc4733_dtmf_reaches_an_info_trunk_as_sip_info() {
    rfc4733_from_the_browser_as_sip_info("jssip");
}

#[test]
fn sipjs_rfc4733_dtmf_reaches_an_info_trunk_as_sip_info() {
    rfc4733_from_the_browser_as_sip_info("sipjs");
}

/// Early media: sipp answers 183 with SDP and only 4 s later 200. Ferry sets the media path up
/// on the 183 and gives the browser a 183 with its answer, so the browser hears the trunk
/// before the answer (here: its own tone, echoed): over the whole call it receives clearly
/// more than the connected phase alone can carry at 50 packets/s.
#[test]
fn early_media_from_the_trunk_reaches_the_browser() {
    let Some(run) = call(
        "uas",
        "jssip",
        &[
            "--scenario",
            "tests/browser/sipp-uas-early-media.xml",
            "--",
            "--duration",
            "4",
        ],
    ) else {
        return;
    };
    check_call(&run, "jssip", Ender::Browser);
    let inbound = run.json["statsEnd"]["inboundPackets"].as_u64().unwrap_or(0);
    let connected_ms = run.json["callMs"].as_u64().unwrap_or(0);
    let connected_only = connected_ms / 20;
    assert!(
        inbound > connected_only + 100,
        "{inbound} packets in all, {connected_only} possible after the answer: no early media?\n{}",
        run.stderr
    );
    assert!(
        sipp_statuses(&run, "INVITE").contains(&183),
        "sipp's 183: {}",
        ladder(&run)
    );
    check_sessions_freed(&run);
}
