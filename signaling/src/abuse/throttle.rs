//! Failed-login throttling for subscriber mode: after a few failures for a user or from an
//! address, a CAPTCHA is required, and attempts are spaced by an exponential backoff.
//!
//! Two tables of counters, one keyed by user name and one by address, each with the failure
//! count and the time of the last failure. [`Throttle::check`] takes the stricter verdict of the
//! two: below `captcha_after` failures, [`Decision::Allow`]; from then on
//! [`Decision::NeedCaptcha`], and within `base * 2^(failures - captcha_after)` (capped at
//! `max_backoff`) of the last failure, [`Decision::Backoff`] with the time left. With the
//! defaults: the third failure costs 1 s, the fourth 2 s, then 4, 8, 16, 32, 60, 60... s.
//!
//! A counter is forgotten `forget_after` past its last failure, and each table holds at most
//! `max_entries`, evicting the longest-quiet counter: a flood of user names cannot grow memory.
//! Such a flood can evict a targeted user's counter, but it runs into its own address's counter
//! first (an IPv6 address counts as its /64, as one host usually has the whole prefix).
//!
//! A success clears the user's counter only: if it cleared the address's, an attacker could log
//! into their own account between guesses at others.
//!
//! Sans-IO: every call takes `now` from the caller.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

/// Longest user name kept as a key, in bytes (longer names are cut at a character boundary).
const MAX_USER_KEY: usize = 256;

/// Throttle settings.
#[derive(Debug, Clone)]
pub struct ThrottleConfig {
    /// Failures (for a user or from an address) after which a CAPTCHA is required.
    pub captcha_after: u32,
    /// Backoff after the `captcha_after`-th failure; doubles with each further failure.
    pub base_backoff: Duration,
    /// The longest backoff.
    pub max_backoff: Duration,
    /// A counter with no failure for this long is forgotten.
    pub forget_after: Duration,
    /// Counters kept per table (users, addresses).
    pub max_entries: usize,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            captcha_after: 3,
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            forget_after: Duration::from_secs(15 * 60),
            max_entries: 10_000,
        }
    }
}

/// What to do with a login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Decision {
    /// Check the credentials.
    Allow,
    /// Check the credentials only with a solved CAPTCHA.
    NeedCaptcha,
    /// Refuse without checking; retry after this long (and with a CAPTCHA).
    Backoff(Duration),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    last: Instant,
    seq: u64,
}

/// Counters by key, with an index by last failure for expiry and eviction.
#[derive(Debug)]
struct Table<K> {
    entries: HashMap<K, Entry>,
    by_age: BTreeMap<(Instant, u64), K>,
    next_seq: u64,
}

impl<K: Hash + Eq + Clone> Table<K> {
    fn new() -> Self {
        Table {
            entries: HashMap::new(),
            by_age: BTreeMap::new(),
            next_seq: 0,
        }
    }

    fn live(&self, key: &K, now: Instant, forget_after: Duration) -> Option<&Entry> {
        self.entries
            .get(key)
            .filter(|e| now.saturating_duration_since(e.last) < forget_after)
    }

    fn fail(&mut self, key: K, now: Instant, cfg: &ThrottleConfig) {
        self.expire(now, cfg.forget_after);
        let failures = match self.entries.get(&key) {
            Some(old) => {
                self.by_age.remove(&(old.last, old.seq));
                old.failures.saturating_add(1)
            }
            None => 1,
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        let last = now;
        self.by_age.insert((last, seq), key.clone());
        self.entries.insert(
            key,
            Entry {
                failures,
                last,
                seq,
            },
        );
        while self.entries.len() > cfg.max_entries {
            self.evict_oldest();
        }
    }

    fn expire(&mut self, now: Instant, forget_after: Duration) {
        while self
            .by_age
            .first_key_value()
            .is_some_and(|(&(last, _), _)| now.saturating_duration_since(last) >= forget_after)
        {
            self.evict_oldest();
        }
    }

    fn evict_oldest(&mut self) {
        if let Some((_, key)) = self.by_age.pop_first() {
            self.entries.remove(&key);
        }
    }

    fn remove(&mut self, key: &K) {
        if let Some(e) = self.entries.remove(key) {
            self.by_age.remove(&(e.last, e.seq));
        }
    }
}

/// Failed-login counters by user and by address.
#[derive(Debug)]
pub struct Throttle {
    cfg: ThrottleConfig,
    users: Table<String>,
    addrs: Table<IpAddr>,
}

impl Throttle {
    /// A throttle with these settings.
    pub fn new(cfg: ThrottleConfig) -> Throttle {
        Throttle {
            cfg,
            users: Table::new(),
            addrs: Table::new(),
        }
    }

    /// What to do with an attempt by `user` from `addr` at `now`.
    pub fn check(&self, user: &str, addr: IpAddr, now: Instant) -> Decision {
        let forget = self.cfg.forget_after;
        let by_user = self.users.live(&user_key(user), now, forget);
        let by_addr = self.addrs.live(&addr_key(addr), now, forget);
        let verdict = |e: Option<&Entry>| e.map_or(Decision::Allow, |e| self.decide(e, now));
        verdict(by_user).max(verdict(by_addr))
    }

    fn decide(&self, e: &Entry, now: Instant) -> Decision {
        if e.failures < self.cfg.captcha_after {
            return Decision::Allow;
        }
        let doublings = e.failures - self.cfg.captcha_after;
        let wait = 2u32
            .checked_pow(doublings)
            .and_then(|f| self.cfg.base_backoff.checked_mul(f))
            .map_or(self.cfg.max_backoff, |w| w.min(self.cfg.max_backoff));
        let left = (e.last + wait).saturating_duration_since(now);
        if left.is_zero() {
            Decision::NeedCaptcha
        } else {
            Decision::Backoff(left)
        }
    }

    /// Counts a failed login by `user` from `addr`.
    pub fn record_failure(&mut self, user: &str, addr: IpAddr, now: Instant) {
        self.users.fail(user_key(user), now, &self.cfg);
        self.addrs.fail(addr_key(addr), now, &self.cfg);
    }

    /// A successful login: clears the user's counter (not the address's, see the module docs).
    pub fn record_success(&mut self, user: &str, _addr: IpAddr) {
        self.users.remove(&user_key(user));
    }

    /// Counters held (users, addresses).
    pub fn len(&self) -> (usize, usize) {
        (self.users.entries.len(), self.addrs.entries.len())
    }

    /// Whether no counter is held.
    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }
}

/// User names compare case-insensitively and are cut to [`MAX_USER_KEY`] bytes.
fn user_key(user: &str) -> String {
    let mut end = user.len().min(MAX_USER_KEY);
    while !user.is_char_boundary(end) {
        end -= 1;
    }
    user[..end].to_lowercase()
}

/// IPv4 as is (also when IPv4-mapped), IPv6 by its /64.
fn addr_key(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => addr,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

#[cfg(test)]
#[path = "throttle_tests.rs"]
mod tests;
