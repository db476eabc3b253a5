//! SIP messages (RFC 3261), transactions and dialogs, sans-IO.
//!
//! - Codec: [`Message::parse`] takes one whole datagram or WebSocket frame, [`frame_len`] frames
//!   a TCP stream, [`Message::to_bytes`] writes CRLF and a correct Content-Length. Input is
//!   bounded by [`limits`]; nothing here panics on any input. Header values are kept as
//!   received, and typed views ([`Uri`], [`NameAddr`], [`Via`]) are parsed on demand.
//! - [`ParseError::bad_request`] builds the 400 (or 416/505/513) owed to a salvageable request.
//! - [`txn`]: the four RFC 3261 §17 transaction machines and a table of them.
//! - [`dialog`]: RFC 3261 §12 dialogs and in-dialog request building.
//! - [`auth`]: Digest challenges, answers and checks.
//! - [`util`] mints branches, tags and Call-IDs from a caller-supplied RNG.
//!
//! Nothing in this module reads a clock, opens a socket or keeps global state.

pub mod auth;
pub mod dialog;
mod error;
mod header;
pub mod limits;
mod message;
mod method;
mod name_addr;
mod parse;
mod reject;
mod syntax;
pub mod txn;
mod uri;
pub mod util;
mod via;

#[cfg(test)]
mod tests;

pub use error::ParseError;
pub use header::{Headers, expand_compact};
pub use message::{Message, Request, Response};
pub use method::Method;
pub use name_addr::NameAddr;
pub use parse::{Frame, PONG, frame, frame_len};
pub use syntax::Params;
pub use uri::Uri;
pub use via::{BRANCH_COOKIE, Via};
