//! The control channel between signaling and the engine.
//!
//! A Unix stream socket carrying length-prefixed, versioned, typed binary messages
//! ([`Message`]). Signaling owns SIP, SDP and DTLS; the engine sees only these messages. The
//! first frame each way is [`Message::Hello`]; a version or layout mismatch closes the channel.
//! Key material travels in [`Secret`], zeroized on drop and redacted in `Debug`.

pub mod client;
pub mod codec;
pub mod message;

use std::io::{self, Read, Write};

pub use client::Client;
pub use codec::DecodeError;
pub use message::*;

/// Bytes before the body: length (u32), type (u16), request id (u32).
pub const FRAME_HEADER: usize = 10;

/// A decoded frame: the request id it answers or carries (0 for events) and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Request id; replies echo it; events use 0.
    pub id: u32,
    /// The message.
    pub msg: Message,
}

/// Encodes a frame ready to write to the socket.
pub fn encode_frame(id: u32, msg: &Message) -> Vec<u8> {
    let mut w = codec::Writer::new();
    w.u32(0);
    w.u16(msg.type_id());
    w.u32(id);
    msg.encode_body(&mut w);
    let mut out = w.into_inner();
    let len = (out.len() - 4) as u32;
    out[..4].copy_from_slice(&len.to_be_bytes());
    out
}

/// Decodes one complete frame (header included).
pub fn decode_frame(bytes: &[u8]) -> Result<Frame, DecodeError> {
    let mut r = codec::Reader::new(bytes);
    let len = r.u32("frame length")? as usize;
    let mut r = r.sub(len, "frame")?;
    let type_id = r.u16("message type")?;
    let id = r.u32("request id")?;
    let body = r.take(r.remaining(), "body")?;
    Ok(Frame {
        id,
        msg: Message::decode_body(type_id, body)?,
    })
}

/// Reads one frame from a blocking stream. `Ok(None)` on a clean end of stream between frames.
pub fn read_frame(stream: &mut impl Read) -> io::Result<Option<Frame>> {
    let mut len = [0u8; 4];
    match stream.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let n = u32::from_be_bytes(len);
    if !(6..=MAX_FRAME).contains(&n) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("frame length {n} out of range"),
        ));
    }
    let mut buf = vec![0u8; 4 + n as usize];
    buf[..4].copy_from_slice(&len);
    stream.read_exact(&mut buf[4..])?;
    decode_frame(&buf)
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Writes one frame to a blocking stream.
pub fn write_frame(stream: &mut impl Write, id: u32, msg: &Message) -> io::Result<()> {
    stream.write_all(&encode_frame(id, msg))
}

#[cfg(test)]
mod tests;
