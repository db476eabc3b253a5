//! SRTP and SRTCP (RFC 3711, RFC 7714), in place on the caller's buffer.
//!
//! A [`Context`] is one direction of one session: it protects what we send or unprotects what
//! we receive, for every SSRC in that direction. Keys are derived and ciphers keyed once, when
//! the context is made; per packet there is no allocation and no key schedule.
//!
//! Rollover counter (RFC 3711 §3.3.1, Appendix A): the index of a received packet is estimated
//! from the highest sequence number seen, and the stream state moves only after the packet
//! authenticates. A stream that resumes after more than 2^15 lost packets (the "11-minute"
//! one-way-audio bug: 2^15 packets at 50 pps) would be estimated one ROC short; when a packet
//! that is far from the expected sequence number (or follows an authentication failure) does
//! not authenticate at the estimated index, the neighbouring ROCs are tried too.
//! Authentication makes this safe: a wrong guess can only fail.
//!
//! Not supported: MKI, key derivation rates other than 0 (neither is used by WebRTC).

mod keys;
mod profile;
mod replay;
mod stream;

use std::fmt;

pub use keys::{Label, SessionKeys};
pub use profile::{MasterKey, Profile};
pub use replay::{ReplayWindow, WINDOW as REPLAY_WINDOW};

use keys::Transform;
use stream::{Stream, StreamTable};

/// Why a packet could not be protected or unprotected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The authentication tag did not verify.
    #[error("authentication failed")]
    AuthFailed,
    /// Already received, or older than the replay window.
    #[error("replayed packet")]
    Replay,
    /// Shorter than a header plus tag.
    #[error("packet too short")]
    TooShort,
    /// The SSRC is not allowed (fixed list) or the stream table is full.
    #[error("unknown SSRC")]
    UnknownSsrc,
    /// The RTP/RTCP header is malformed (bad version, CSRC or extension length).
    #[error("malformed header")]
    Malformed,
    /// The buffer has no room for the tag (and SRTCP index).
    #[error("buffer too small for the tag")]
    BufferTooSmall,
    /// A master key of the wrong length.
    #[error("key length {got}, expected {expected}")]
    KeyLength {
        /// Expected bytes.
        expected: usize,
        /// Given bytes.
        got: usize,
    },
    /// A master salt of the wrong length.
    #[error("salt length {got}, expected {expected}")]
    SaltLength {
        /// Expected bytes.
        expected: usize,
        /// Given bytes.
        got: usize,
    },
}

/// Which AES-GCM implementation keys the GCM profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GcmBackend {
    /// ring (the default: about 2x faster than RustCrypto in a generic build here; see
    /// perf/BENCHMARKS.md).
    #[default]
    Ring,
    /// RustCrypto `aes-gcm`.
    RustCrypto,
}

/// Which SSRCs a context accepts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SsrcPolicy {
    /// Any SSRC; a stream is created on its first authenticated packet, up to `max_streams`.
    #[default]
    Any,
    /// Only these SSRCs.
    List(Vec<u32>),
}

/// Context options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// GCM implementation.
    pub gcm_backend: GcmBackend,
    /// Accepted SSRCs.
    pub ssrcs: SsrcPolicy,
    /// Most streams (SSRCs) tracked; a browser sends audio, video, RTX and FEC SSRCs.
    pub max_streams: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            gcm_backend: GcmBackend::default(),
            ssrcs: SsrcPolicy::Any,
            max_streams: 16,
        }
    }
}

/// Sequence-number distance beyond which a failed packet is retried at neighbouring ROCs.
const RETRY_DISTANCE: u16 = 1024;
/// Largest packet that can be retried with a GCM backend (which destroys the ciphertext on a
/// failed open, so a copy is kept on the stack for the retry).
const RETRY_MAX: usize = 2048;

/// One direction of SRTP/SRTCP for a session.
///
/// Laid out for the per-packet path: the SRTP cipher state and the first streams come first and
/// are contiguous ([`Context::hot_bytes`] says how far), so one packet touches a handful of
/// adjacent cache lines of its context; SRTCP state and the SSRC policy live further away or
/// behind a pointer (one SRTCP packet per second or so).
#[repr(C)]
pub struct Context {
    profile: Profile,
    /// Fixed capacity (`max_streams`), allocated once.
    streams: StreamTable,
    rtp: Transform,
    rtcp: Box<Transform>,
    policy: SsrcPolicy,
    max_streams: usize,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("profile", &self.profile)
            .field("streams", &self.streams.len())
            .finish_non_exhaustive()
    }
}

/// Length of the RTP header (fixed part, CSRCs, extension) at the start of `pkt`.
#[inline]
fn rtp_header_len(pkt: &[u8]) -> Result<usize, Error> {
    if pkt.len() < 12 {
        return Err(Error::TooShort);
    }
    if pkt[0] >> 6 != 2 {
        return Err(Error::Malformed);
    }
    let mut len = 12 + 4 * usize::from(pkt[0] & 0x0f);
    if pkt[0] & 0x10 != 0 {
        let ext = pkt.get(len + 2..len + 4).ok_or(Error::Malformed)?;
        len += 4 + 4 * usize::from(u16::from_be_bytes([ext[0], ext[1]]));
    }
    if len > pkt.len() {
        Err(Error::Malformed)
    } else {
        Ok(len)
    }
}

/// RFC 7714 §9.1: the SRTCP IV parts are SSRC, then 16 zero bits and the 32-bit E=0 index.
#[inline]
fn rtcp_iv(ssrc: u32, index: u32) -> (u32, u32, u16) {
    (ssrc, index >> 16, index as u16)
}

#[inline]
fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

impl Context {
    /// A context for `key`'s profile.
    pub fn new(profile: Profile, key: &MasterKey, config: &Config) -> Result<Self, Error> {
        if key.profile() != profile {
            return Err(Error::KeyLength {
                expected: profile.key_len(),
                got: key.key().len(),
            });
        }
        let rtp = SessionKeys::derive(key, Label::Rtp);
        let rtcp = SessionKeys::derive(key, Label::Rtcp);
        Self::with_session_keys(profile, &rtp, &rtcp, config)
    }

    /// A context keyed with session keys directly instead of deriving them from a master key:
    /// for published test vectors (RFC 7714 §16-17 give session keys).
    pub fn with_session_keys(
        profile: Profile,
        rtp: &SessionKeys,
        rtcp: &SessionKeys,
        config: &Config,
    ) -> Result<Self, Error> {
        let max_streams = config.max_streams.max(1);
        Ok(Self {
            profile,
            rtp: Transform::from_keys(profile, rtp, config.gcm_backend)?,
            rtcp: Box::new(Transform::from_keys(profile, rtcp, config.gcm_backend)?),
            policy: config.ssrcs.clone(),
            max_streams,
            streams: StreamTable::with_capacity(max_streams),
        })
    }

    /// Sets the next SRTCP index to send for `ssrc` (test vectors; resuming a sender).
    pub fn set_rtcp_index(&mut self, ssrc: u32, index: u32) -> Result<(), Error> {
        let (i, mut s) = self.slot(ssrc)?;
        s.rtcp_next = index & 0x7fff_ffff;
        self.commit(i, s);
        Ok(())
    }

    /// The profile.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// Bytes `protect_rtp` adds.
    pub fn overhead_rtp(&self) -> usize {
        self.profile.rtp_tag_len()
    }

    /// Bytes `protect_rtcp` adds (tag and SRTCP index).
    pub fn overhead_rtcp(&self) -> usize {
        self.profile.rtcp_tag_len() + 4
    }

    /// What the SRTP (not SRTCP) path reads of a context, as byte ranges from its start, for a
    /// prefetch: the profile and the first [`stream::INLINE`] streams, then the SRTP cipher
    /// state (the GCM key is inline; the CM key is behind a pointer).
    pub const HOT: [std::ops::Range<usize>; 2] = [
        0..std::mem::offset_of!(Context, rtp),
        std::mem::offset_of!(Context, rtp)..std::mem::offset_of!(Context, rtcp),
    ];

    /// The rollover counter of a stream, if known.
    pub fn roc(&self, ssrc: u32) -> Option<u32> {
        self.streams
            .iter()
            .find(|s| s.ssrc == ssrc && s.started)
            .map(|s| s.roc)
    }

    /// Index of `ssrc`'s stream, or where a new one would go. Never allocates: the table has
    /// fixed capacity.
    #[inline]
    fn slot(&self, ssrc: u32) -> Result<(usize, Stream), Error> {
        if let Some(i) = self.streams.position(ssrc) {
            return Ok((i, *self.streams.get(i)));
        }
        Ok((self.new_slot(ssrc)?, Stream::new(ssrc)))
    }

    /// Where a stream for the unknown `ssrc` would go, if the policy and capacity allow one.
    fn new_slot(&self, ssrc: u32) -> Result<usize, Error> {
        let allowed = match &self.policy {
            SsrcPolicy::Any => true,
            SsrcPolicy::List(l) => l.contains(&ssrc),
        };
        if !allowed || self.streams.len() >= self.max_streams {
            return Err(Error::UnknownSsrc);
        }
        Ok(self.streams.len())
    }

    /// The stream for `ssrc`, created if the policy allows (sending side: nothing to verify).
    #[inline]
    fn stream_mut(&mut self, ssrc: u32) -> Result<&mut Stream, Error> {
        let i = match self.streams.position(ssrc) {
            Some(i) => i,
            None => {
                let (i, s) = self.slot(ssrc)?;
                self.streams.push(s);
                i
            }
        };
        Ok(self.streams.get_mut(i))
    }

    #[inline]
    fn commit(&mut self, i: usize, s: Stream) {
        if i == self.streams.len() {
            self.streams.push(s);
        } else {
            *self.streams.get_mut(i) = s;
        }
    }

    /// Protects the RTP packet in `buf[..len]`; `buf` must have room for the tag. Returns the
    /// SRTP length.
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        let pkt = buf.get(..len).ok_or(Error::BufferTooSmall)?;
        let hdr = rtp_header_len(pkt)?;
        let tag_len = self.profile.rtp_tag_len();
        if buf.len() < len + tag_len {
            return Err(Error::BufferTooSmall);
        }
        let (ssrc, seq) = (be32(&buf[8..12]), u16::from_be_bytes([buf[2], buf[3]]));
        let s = self.stream_mut(ssrc)?;
        // The sender's own index: the same estimate, so a reordered send keeps its ROC.
        let v = u32::try_from(s.estimate(seq)).unwrap_or(0);
        s.advance(v, seq);
        let index = (u64::from(v) << 16) | u64::from(seq);
        if self.profile.is_aead() {
            let (head, rest) = buf.split_at_mut(hdr);
            let tag = self
                .rtp
                .gcm_seal((ssrc, v, seq), head, &mut rest[..len - hdr])?;
            buf[len..len + 16].copy_from_slice(&tag);
        } else {
            self.rtp.cm_crypt(ssrc, index, &mut buf[hdr..len]);
            let tag = self.rtp.cm_tag(&buf[..len], &v.to_be_bytes());
            buf[len..len + tag_len].copy_from_slice(&tag[..tag_len]);
        }
        Ok(len + tag_len)
    }

    /// Unprotects the SRTP packet that is exactly `buf`. Returns the RTP length.
    pub fn unprotect_rtp(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let tag_len = self.profile.rtp_tag_len();
        if buf.len() < 12 + tag_len {
            return Err(Error::TooShort);
        }
        let len = buf.len() - tag_len;
        let hdr = rtp_header_len(&buf[..len])?;
        let (ssrc, seq) = (be32(&buf[8..12]), u16::from_be_bytes([buf[2], buf[3]]));
        // The stream is read in place (a copy of it costs more than the checks themselves); a
        // new SSRC gets a stream only once its first packet authenticates.
        let (i, fresh) = match self.streams.position(ssrc) {
            Some(i) => (i, None),
            None => (self.new_slot(ssrc)?, Some(Stream::new(ssrc))),
        };
        let s = fresh.as_ref().unwrap_or_else(|| self.streams.get(i));
        let v = s.estimate(seq);
        let retry = s.suspect
            || (s.started && seq.wrapping_sub(s.s_l).min(s.s_l.wrapping_sub(seq)) > RETRY_DISTANCE);
        let mut result = self.open_rtp_at(s, v, buf, hdr, len, retry);
        if result == Err(Error::AuthFailed) && retry {
            // The sender may be up to two rollovers ahead (a gap of up to ~2^17 packets, 43
            // minutes at 50 pps), or the packet a late one from the previous rollover.
            let r = i64::from(s.roc);
            for (n, alt) in [r, r + 1, r + 2, r - 1]
                .into_iter()
                .filter(|a| *a != v)
                .enumerate()
            {
                result = self.open_rtp_at(s, alt, buf, hdr, len, n < 2);
                if result != Err(Error::AuthFailed) {
                    break;
                }
            }
        }
        match result {
            Ok(v) => {
                if let Some(f) = fresh {
                    self.streams.push(f);
                }
                let s = self.streams.get_mut(i);
                s.rtp_window.accept((u64::from(v) << 16) | u64::from(seq));
                s.advance(v, seq);
                s.suspect = false;
                Ok(len)
            }
            Err(e) => {
                if e == Error::AuthFailed && fresh.is_none() {
                    self.streams.get_mut(i).suspect = true;
                }
                Err(e)
            }
        }
    }

    /// Checks replay and authenticates/decrypts at ROC `v`; returns `v` as the accepted ROC.
    /// With `keep`, GCM ciphertext is saved first so a later attempt can start over.
    #[inline]
    fn open_rtp_at(
        &self,
        s: &Stream,
        v: i64,
        buf: &mut [u8],
        hdr: usize,
        len: usize,
        keep: bool,
    ) -> Result<u32, Error> {
        let v = u32::try_from(v).map_err(|_| Error::AuthFailed)?;
        let seq = u16::from_be_bytes([buf[2], buf[3]]);
        let index = (u64::from(v) << 16) | u64::from(seq);
        if !s.rtp_window.check(index) {
            return Err(Error::Replay);
        }
        let ssrc = s.ssrc;
        if self.profile.is_aead() {
            if keep && buf.len() <= RETRY_MAX {
                // Only on the rare retry path: a stack copy to restore after a failed open.
                let mut saved = [0u8; RETRY_MAX];
                let n = buf.len();
                saved[..n].copy_from_slice(buf);
                let r = self.gcm_open_rtp(v, seq, ssrc, buf, hdr, len);
                if r.is_err() {
                    buf.copy_from_slice(&saved[..n]);
                }
                return r.map(|()| v);
            }
            self.gcm_open_rtp(v, seq, ssrc, buf, hdr, len).map(|()| v)
        } else {
            let tag = self.rtp.cm_tag(&buf[..len], &v.to_be_bytes());
            if !Transform::tags_equal(&tag, &buf[len..]) {
                return Err(Error::AuthFailed);
            }
            self.rtp.cm_crypt(ssrc, index, &mut buf[hdr..len]);
            Ok(v)
        }
    }

    #[inline]
    fn gcm_open_rtp(
        &self,
        v: u32,
        seq: u16,
        ssrc: u32,
        buf: &mut [u8],
        hdr: usize,
        len: usize,
    ) -> Result<(), Error> {
        let (head, rest) = buf.split_at_mut(hdr);
        let (data, tag) = rest.split_at_mut(len - hdr);
        self.rtp.gcm_open((ssrc, v, seq), head, data, tag)
    }

    /// Protects the RTCP compound packet in `buf[..len]` (encrypted, E = 1); `buf` must have
    /// room for the tag and SRTCP index. Returns the SRTCP length.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        if len < 8 || buf.len() < len {
            return Err(Error::TooShort);
        }
        if buf[0] >> 6 != 2 {
            return Err(Error::Malformed);
        }
        let tag_len = self.profile.rtcp_tag_len();
        if buf.len() < len + 4 + tag_len {
            return Err(Error::BufferTooSmall);
        }
        let ssrc = be32(&buf[4..8]);
        let (i, mut s) = self.slot(ssrc)?;
        let index = s.rtcp_next & 0x7fff_ffff;
        s.rtcp_next = (index + 1) & 0x7fff_ffff;
        self.commit(i, s);
        let trailer = (0x8000_0000 | index).to_be_bytes();
        if self.profile.is_aead() {
            // RFC 7714 §9.2: AAD = first 8 octets || E+index; tag then trailer follow the data.
            let mut aad = [0u8; 12];
            aad[..8].copy_from_slice(&buf[..8]);
            aad[8..].copy_from_slice(&trailer);
            let tag = self
                .rtcp
                .gcm_seal(rtcp_iv(ssrc, index), &aad, &mut buf[8..len])?;
            buf[len..len + 16].copy_from_slice(&tag);
            buf[len + 16..len + 20].copy_from_slice(&trailer);
        } else {
            self.rtcp.cm_crypt(ssrc, u64::from(index), &mut buf[8..len]);
            buf[len..len + 4].copy_from_slice(&trailer);
            let tag = self.rtcp.cm_tag(&buf[..len + 4], &[]);
            buf[len + 4..len + 4 + tag_len].copy_from_slice(&tag[..tag_len]);
        }
        Ok(len + 4 + tag_len)
    }

    /// Unprotects the SRTCP packet that is exactly `buf`. Returns the RTCP length.
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let tag_len = self.profile.rtcp_tag_len();
        if buf.len() < 8 + 4 + tag_len {
            return Err(Error::TooShort);
        }
        if buf[0] >> 6 != 2 {
            return Err(Error::Malformed);
        }
        let ssrc = be32(&buf[4..8]);
        let (i, mut s) = self.slot(ssrc)?;
        let aead = self.profile.is_aead();
        // CM: data || E+index || tag. AEAD: data || tag || E+index.
        let (data_end, trailer_at) = if aead {
            (buf.len() - 4 - tag_len, buf.len() - 4)
        } else {
            (buf.len() - 4 - tag_len, buf.len() - 4 - tag_len)
        };
        let trailer = be32(&buf[trailer_at..trailer_at + 4]);
        let (encrypted, index) = (trailer & 0x8000_0000 != 0, trailer & 0x7fff_ffff);
        if !s.rtcp_window.check(u64::from(index)) {
            return Err(Error::Replay);
        }
        if aead {
            let mut aad = [0u8; 12];
            aad[..8].copy_from_slice(&buf[..8]);
            aad[8..].copy_from_slice(&buf[trailer_at..trailer_at + 4]);
            if encrypted {
                let (head, rest) = buf.split_at_mut(data_end);
                self.rtcp
                    .gcm_open(rtcp_iv(ssrc, index), &aad, &mut head[8..], &rest[..tag_len])?;
            } else {
                // RFC 7714 §9.2: unencrypted SRTCP authenticates header, data and E+index as
                // AAD with an empty plaintext; the AAD must be contiguous, hence the copy.
                let mut whole = [0u8; RETRY_MAX];
                let n = data_end + 4;
                if n > RETRY_MAX {
                    return Err(Error::Malformed);
                }
                whole[..data_end].copy_from_slice(&buf[..data_end]);
                whole[data_end..n].copy_from_slice(&buf[trailer_at..trailer_at + 4]);
                self.rtcp.gcm_open(
                    rtcp_iv(ssrc, index),
                    &whole[..n],
                    &mut [],
                    &buf[data_end..data_end + tag_len],
                )?;
            }
        } else {
            let tag = self.rtcp.cm_tag(&buf[..data_end + 4], &[]);
            if !Transform::tags_equal(&tag, &buf[data_end + 4..]) {
                return Err(Error::AuthFailed);
            }
            if encrypted {
                self.rtcp
                    .cm_crypt(ssrc, u64::from(index), &mut buf[8..data_end]);
            }
        }
        s.rtcp_window.accept(u64::from(index));
        self.commit(i, s);
        Ok(data_end)
    }
}

#[cfg(test)]
mod tests;
