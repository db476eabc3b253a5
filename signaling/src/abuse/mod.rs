//! Abuse controls for the click-to-call product, sans-IO (the caller passes the time):
//!
//! - [`captcha`]: a self-hosted proof-of-work CAPTCHA for anonymous mode (a visitor gives a
//!   display name and solves a puzzle in the page, `assets/pow.js`; no third-party service).
//!   Challenges are stateless and signed; redemption is verified server side and single-use.
//! - [`throttle`]: failed-login counters for subscriber mode: after three failures for a user or
//!   from an address a CAPTCHA is required, with exponential backoff between attempts, in
//!   bounded memory.
//!
//! Both hold plain state behind `&mut self`: the task that owns them (or a mutex) serializes
//! access.

pub mod captcha;
pub mod throttle;

pub use captcha::{Captcha, CaptchaError, Challenge};
pub use throttle::{Decision, Throttle, ThrottleConfig};
