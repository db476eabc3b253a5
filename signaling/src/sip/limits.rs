//! Input bounds: every parser stops here, so a peer cannot make Ferry allocate without limit.

/// Largest message accepted, header section and body together (64 KiB).
pub const MAX_MESSAGE: usize = 64 * 1024;
/// Most header fields in one message.
pub const MAX_HEADERS: usize = 200;
/// Longest header line, after unfolding continuation lines.
pub const MAX_LINE: usize = 8 * 1024;
