//! The packet engine: one shard per core, each with its own event loop, sockets, buffers,
//! sessions and counters.

pub mod io;
pub mod ports;
pub mod stats;
