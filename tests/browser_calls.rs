//! Real-browser calls through the real `ferry` binary: `tests/browser/run.sh` (headless
//! Chromium with JsSIP or SIP.js, sipp as the trunk, everything in private network and PID
//! namespaces), with assertions on the JSON line it prints, not just its exit status.
//!
//! Each run.sh is its own network namespace with its own loopback, so runs use the same ports
//! without meeting; at most two run at once (Chromium is heavy, CI has 2 cores).
//! Needs root (unshare), chromium, node with `npm ci --prefix tests/browser`, sipp, dumpcap and
//! tshark. `FERRY_SKIP_BROWSER=1` skips these tests (quick local runs); CI must not set it.
//! The harness is tests/common/browser.rs.

mod common;

use common::browser::{Ender, check_call, check_dtmf_at_sipp, run_browser, skipped};

#[test]
fn jssip_calls_echo() {
    if skipped() {
        return;
    }
    let run = run_browser(&["--sipp", "none", "--lib", "jssip"]);
    check_call(&run, "jssip", Ender::Browser);
}

#[test]
fn jssip_calls_sipp_presses_a_key_and_hangs_up() {
    if skipped() {
        return;
    }
    let run = run_browser(&["--sipp", "uas", "--lib", "jssip"]);
    check_call(&run, "jssip", Ender::Browser);
    check_dtmf_at_sipp(&run);
}

#[test]
fn sipjs_calls_sipp() {
    if skipped() {
        return;
    }
    let run = run_browser(&["--sipp", "uas", "--lib", "sipjs"]);
    check_call(&run, "sipjs", Ender::Browser);
    check_dtmf_at_sipp(&run);
}

/// sipp sends BYE after 8 s: the browser must see the remote hangup, and sipp's scenario
/// (BYE answered with 200) must pass, which run.sh's exit status includes.
#[test]
fn sipp_hangs_up_on_jssip() {
    if skipped() {
        return;
    }
    let run = run_browser(&["--sipp", "uas-bye", "--lib", "jssip"]);
    check_call(&run, "jssip", Ender::Remote);
    check_dtmf_at_sipp(&run);
}

/// sipp calls a browser registered through Ferry; the browser answers, sipp hangs up.
#[test]
fn sipp_calls_a_registered_jssip() {
    if skipped() {
        return;
    }
    let run = run_browser(&["--sipp", "uac", "--lib", "jssip"]);
    check_call(&run, "jssip", Ender::Remote);
    check_dtmf_at_sipp(&run);
}
