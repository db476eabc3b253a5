//! The login throttle in simulated time: thresholds by user and by address, the backoff
//! schedule, success, expiry, and the memory bound under a flood of names.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use super::*;

const A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const B: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn throttle() -> Throttle {
    Throttle::new(ThrottleConfig::default())
}

#[test]
fn two_failures_allow_the_third_needs_a_captcha_after_a_backoff() {
    let (mut t, t0) = (throttle(), Instant::now());
    t.record_failure("ann", A, t0);
    t.record_failure("ann", A, t0);
    assert_eq!(t.check("ann", A, t0), Decision::Allow);
    t.record_failure("ann", A, t0);
    assert_eq!(t.check("ann", A, t0), Decision::Backoff(secs(1)));
    let half = t0 + Duration::from_millis(500);
    assert_eq!(
        t.check("ann", A, half),
        Decision::Backoff(Duration::from_millis(500))
    );
    assert_eq!(t.check("ann", A, t0 + secs(1)), Decision::NeedCaptcha);
}

#[test]
fn backoff_doubles_to_the_cap() {
    let (mut t, t0) = (throttle(), Instant::now());
    let mut now = t0;
    let mut waits = Vec::new();
    for _ in 0..10 {
        t.record_failure("ann", A, now);
        match t.check("ann", A, now) {
            Decision::Backoff(d) => {
                waits.push(d.as_secs());
                now += d;
            }
            Decision::Allow => {}
            other => panic!("{other:?}"),
        }
        if waits.last().is_some() {
            assert_eq!(t.check("ann", A, now), Decision::NeedCaptcha);
        }
    }
    assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
}

#[test]
fn failures_count_per_user_across_addresses() {
    let (mut t, t0) = (throttle(), Instant::now());
    for i in 0..3u8 {
        let addr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, i));
        t.record_failure("ann", addr, t0);
    }
    let fresh = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9));
    assert_eq!(t.check("ann", fresh, t0 + secs(5)), Decision::NeedCaptcha);
    assert_eq!(t.check("bob", fresh, t0 + secs(5)), Decision::Allow);
    assert_eq!(
        t.check("ANN", fresh, t0 + secs(5)),
        Decision::NeedCaptcha,
        "case-folded"
    );
}

#[test]
fn failures_count_per_address_across_users() {
    let (mut t, t0) = (throttle(), Instant::now());
    for user in ["ann", "bob", "cid"] {
        t.record_failure(user, A, t0);
    }
    assert_eq!(t.check("dan", A, t0 + secs(5)), Decision::NeedCaptcha);
    assert_eq!(t.check("dan", B, t0 + secs(5)), Decision::Allow);
}

#[test]
fn ipv6_counts_by_slash_64_and_mapped_v4_as_v4() {
    let (mut t, t0) = (throttle(), Instant::now());
    for i in 1..=3u16 {
        let addr: IpAddr = format!("2001:db8:1:2::{i}").parse().unwrap();
        t.record_failure(&format!("u{i}"), addr, t0);
    }
    let same_64: IpAddr = "2001:db8:1:2:ffff::1".parse().unwrap();
    let other_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
    assert_eq!(t.check("x", same_64, t0 + secs(5)), Decision::NeedCaptcha);
    assert_eq!(t.check("x", other_64, t0 + secs(5)), Decision::Allow);

    for user in ["a", "b", "c"] {
        t.record_failure(user, "::ffff:192.0.2.1".parse().unwrap(), t0);
    }
    assert_eq!(t.check("x", A, t0 + secs(5)), Decision::NeedCaptcha);
}

#[test]
fn success_clears_the_user_not_the_address() {
    let (mut t, t0) = (throttle(), Instant::now());
    for _ in 0..3 {
        t.record_failure("ann", A, t0);
    }
    t.record_success("ann", A);
    assert_eq!(t.check("ann", B, t0 + secs(5)), Decision::Allow);
    assert_eq!(t.check("ann", A, t0 + secs(5)), Decision::NeedCaptcha);
}

#[test]
fn counters_are_forgotten_after_a_quiet_period() {
    let (mut t, t0) = (throttle(), Instant::now());
    for _ in 0..3 {
        t.record_failure("ann", A, t0);
    }
    let forget = ThrottleConfig::default().forget_after;
    assert_eq!(
        t.check("ann", A, t0 + forget - secs(1)),
        Decision::NeedCaptcha
    );
    assert_eq!(t.check("ann", A, t0 + forget), Decision::Allow);
    // The next failure starts from one and drops the stale counters.
    t.record_failure("bob", B, t0 + forget);
    assert_eq!(t.len(), (1, 1));
    t.record_failure("ann", A, t0 + forget);
    assert_eq!(t.check("ann", A, t0 + forget), Decision::Allow);
}

#[test]
fn a_flood_of_user_names_stays_bounded() {
    let cfg = ThrottleConfig {
        max_entries: 100,
        ..ThrottleConfig::default()
    };
    let mut t = Throttle::new(cfg);
    let t0 = Instant::now();
    for i in 0..10_000u32 {
        let addr = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
        t.record_failure(
            &format!("user{i}"),
            addr,
            t0 + Duration::from_millis(u64::from(i)),
        );
    }
    assert_eq!(t.len(), (100, 100));
    // The most recent survive; the oldest were evicted.
    let late = t0 + secs(11);
    let last = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + 9_999));
    t.record_failure("user9999", last, late);
    t.record_failure("user9999", last, late);
    assert!(t.check("user9999", B, late) > Decision::Allow);
    assert!(!t.is_empty());
}

#[test]
fn long_user_names_are_cut_at_a_char_boundary() {
    let (mut t, t0) = (throttle(), Instant::now());
    let long = "é".repeat(1000);
    for _ in 0..3 {
        t.record_failure(&long, A, t0);
    }
    let longer = format!("{long}x");
    assert_eq!(t.check(&longer, B, t0 + secs(5)), Decision::NeedCaptcha);
}

#[test]
fn decisions_order_by_strictness() {
    assert!(Decision::Allow < Decision::NeedCaptcha);
    assert!(Decision::NeedCaptcha < Decision::Backoff(secs(1)));
    assert!(Decision::Backoff(secs(1)) < Decision::Backoff(secs(2)));
}
