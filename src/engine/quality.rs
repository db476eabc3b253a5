//! Per-leg media quality from the RTCP the engine relays (RFC 3550 §6.4).
//!
//! Ferry forwards RTCP, it does not originate it. Each leg keeps a [`Tracker`]: the report blocks
//! the leg's peer sends say how the media Ferry sends on that leg arrives there (fraction lost,
//! cumulative lost, interarrival jitter), and the SRs Ferry forwards *to* that peer are timed as
//! they leave, so the peer's echo of one (LSR, DLSR) gives the round trip between Ferry and that
//! peer, both ends timed on Ferry's clock.
//!
//! Jitter arrives in RTP timestamp units. Ferry does not transcode, so the stream a peer reports
//! on is the one the other peer sends, and the SRs of that sender, forwarded to this peer, pair
//! NTP and RTP time: two of them give the clock rate, snapped to a usual audio rate. Until two
//! have passed, 8000 Hz is assumed (G.711, Ferry's default codecs).
//!
//! RTCP is a few packets per second per call: a fixed-size struct per leg, no allocation, no
//! lock. A compound packet that does not walk or whose SR/RR does not parse contributes what
//! came before the bad part; the packet itself is relayed as before.

use std::time::{Duration, Instant};

use crate::control::LegQuality;
use crate::wire::rtcp::{Compound, ReportBlock, View};

/// SRs remembered per leg for matching an LSR: peers echo the latest, a few cover reordering.
const SENT_SRS: usize = 4;
/// Clock rate assumed until forwarded SRs show another (G.711).
const DEFAULT_CLOCK: u32 = 8000;
/// Rates an estimate snaps to.
const CLOCKS: [u32; 6] = [8000, 16000, 24000, 32000, 44100, 48000];

/// The sender info of an SR seen in a compound packet, to time when it is forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrSeen {
    ssrc: u32,
    ntp: u64,
    rtp: u32,
}

/// One leg's quality state.
#[derive(Debug, Clone)]
pub struct Tracker {
    latest: Option<(ReportBlock, Instant)>,
    reports: u32,
    rtt: Option<Duration>,
    /// `(LSR, forwarded at)` of the latest SRs forwarded to this leg's peer, a ring.
    sent: [Option<(u32, Instant)>; SENT_SRS],
    next: usize,
    /// The previous SR forwarded to this leg, for the clock rate.
    last_sr: Option<SrSeen>,
    clock: u32,
}

impl Default for Tracker {
    fn default() -> Self {
        Self {
            latest: None,
            reports: 0,
            rtt: None,
            sent: [None; SENT_SRS],
            next: 0,
            last_sr: None,
            clock: DEFAULT_CLOCK,
        }
    }
}

impl Tracker {
    /// Takes in a plain (already unprotected) compound packet that this leg's peer sent, at
    /// `now`; returns the first SR's sender info, for [`Tracker::on_sr_forwarded`] on the leg
    /// it goes out on.
    pub fn on_rtcp(&mut self, compound: &[u8], now: Instant) -> Option<SrSeen> {
        let mut sr = None;
        // RFC 3550 §6.1 compound, or RFC 5506 reduced-size: every packet is looked at.
        for packet in Compound::new(compound) {
            let Ok(view) = packet.and_then(|p| p.view()) else {
                break;
            };
            match view {
                View::SenderReport(v) => {
                    let info = v.sender_info();
                    sr.get_or_insert(SrSeen {
                        ssrc: v.ssrc().0,
                        ntp: info.ntp_timestamp,
                        rtp: info.rtp_timestamp,
                    });
                    v.report_blocks().for_each(|b| self.on_block(b, now));
                }
                View::ReceiverReport(v) => v.report_blocks().for_each(|b| self.on_block(b, now)),
                _ => {}
            }
        }
        sr
    }

    /// Records that an SR went out to this leg's peer at `now`.
    pub fn on_sr_forwarded(&mut self, sr: SrSeen, now: Instant) {
        // RFC 3550 §6.4.1: LSR is the middle 32 bits of the SR's NTP timestamp.
        let lsr = (sr.ntp >> 16) as u32;
        self.sent[self.next] = Some((lsr, now));
        self.next = (self.next + 1) % SENT_SRS;
        if let Some(prev) = self.last_sr.filter(|p| p.ssrc == sr.ssrc && p.ntp < sr.ntp) {
            if let Some(rate) = clock_rate(prev, sr) {
                self.clock = rate;
            }
        }
        self.last_sr = Some(sr);
    }

    fn on_block(&mut self, block: ReportBlock, now: Instant) {
        self.reports = self.reports.saturating_add(1);
        if block.last_sr != 0 {
            let sent = self
                .sent
                .iter()
                .flatten()
                .find(|(lsr, _)| *lsr == block.last_sr);
            if let Some(&(_, at)) = sent {
                // RFC 3550 §6.4.1: RTT = A - LSR - DLSR, with A and LSR both timed at Ferry.
                let dlsr = Duration::from_nanos(
                    u64::from(block.delay_since_last_sr) * 1_000_000_000 / 65_536,
                );
                self.rtt = Some(now.saturating_duration_since(at).saturating_sub(dlsr));
            }
        }
        self.latest = Some((block, now));
    }

    /// What the leg reports to signaling, once a report block has arrived.
    pub fn info(&self, now: Instant) -> Option<LegQuality> {
        let (block, at) = self.latest?;
        let us = |d: Duration| u32::try_from(d.as_micros()).unwrap_or(u32::MAX);
        Some(LegQuality {
            fraction_lost: block.fraction_lost,
            cumulative_lost: block.cumulative_lost,
            // RFC 3550 §6.4.1: jitter is in timestamp units.
            jitter_us: (u64::from(block.jitter) * 1_000_000 / u64::from(self.clock))
                .try_into()
                .unwrap_or(u32::MAX),
            rtt_us: self.rtt.map(us),
            reports: self.reports,
            last_report_ms_ago: now.saturating_duration_since(at).as_millis() as u64,
        })
    }

    /// The clock rate jitter is converted with.
    pub fn clock_rate(&self) -> u32 {
        self.clock
    }
}

/// The RTP clock rate two SRs of one sender imply (RFC 3550 §6.4.1: NTP and RTP timestamps of
/// the same instant), if it is within 5% of a usual audio rate and the SRs are 0.5 s apart or
/// more.
fn clock_rate(a: SrSeen, b: SrSeen) -> Option<u32> {
    // NTP timestamps are 32.32 fixed point seconds.
    let dt = (b.ntp - a.ntp) as f64 / 4_294_967_296.0;
    if !(0.5..=3600.0).contains(&dt) {
        return None;
    }
    let rate = f64::from(b.rtp.wrapping_sub(a.rtp)) / dt;
    CLOCKS
        .into_iter()
        .find(|&c| (rate - f64::from(c)).abs() <= f64::from(c) * 0.05)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::rtcp::{
        CnameChunk, ReceiverReportRepr, SdesRepr, SenderInfo, SenderReportRepr,
    };
    use crate::wire::rtp::Ssrc;

    fn block(fraction_lost: u8, lost: i32, jitter: u32, lsr: u32, dlsr: u32) -> ReportBlock {
        ReportBlock {
            ssrc: Ssrc(0xaaaa),
            fraction_lost,
            cumulative_lost: lost,
            highest_seq: 1000,
            jitter,
            last_sr: lsr,
            delay_since_last_sr: dlsr,
        }
    }

    fn rr(blocks: &[ReportBlock]) -> Vec<u8> {
        let repr = ReceiverReportRepr {
            ssrc: Ssrc(0xbbbb),
            reports: blocks.into(),
        };
        let mut buf = vec![0; repr.buffer_len()];
        repr.emit(&mut buf).unwrap();
        buf
    }

    fn sr(ntp: u64, rtp: u32, blocks: &[ReportBlock]) -> Vec<u8> {
        let repr = SenderReportRepr {
            ssrc: Ssrc(0xaaaa),
            sender_info: SenderInfo {
                ntp_timestamp: ntp,
                rtp_timestamp: rtp,
                packet_count: 10,
                octet_count: 1600,
            },
            reports: blocks.into(),
        };
        let mut buf = vec![0; repr.buffer_len()];
        repr.emit(&mut buf).unwrap();
        buf
    }

    #[test]
    fn receiver_report_gives_loss_and_jitter() {
        let t0 = Instant::now();
        let mut q = Tracker::default();
        assert_eq!(q.info(t0), None, "nothing before a report");
        assert_eq!(q.on_rtcp(&rr(&[block(64, 12, 160, 0, 0)]), t0), None);
        let got = q.info(t0 + Duration::from_millis(250)).unwrap();
        assert_eq!(
            got,
            LegQuality {
                fraction_lost: 64,
                cumulative_lost: 12,
                jitter_us: 20_000, // 160 / 8000 Hz
                rtt_us: None,
                reports: 1,
                last_report_ms_ago: 250,
            }
        );
    }

    #[test]
    fn round_trip_from_lsr_and_dlsr_of_a_forwarded_sr() {
        let t0 = Instant::now();
        let mut from_trunk = Tracker::default();
        let mut to_browser = Tracker::default();
        let ntp = 0x1234_5678_9abc_def0;
        let seen = from_trunk.on_rtcp(&sr(ntp, 0, &[]), t0).unwrap();
        to_browser.on_sr_forwarded(seen, t0);
        // The browser holds it 0.5 s (DLSR 32768/65536) and its RR arrives 0.58 s after.
        let lsr = 0x5678_9abc;
        let at = t0 + Duration::from_millis(580);
        to_browser.on_rtcp(&rr(&[block(0, 0, 0, lsr, 32_768)]), at);
        let rtt = to_browser.info(at).unwrap().rtt_us.unwrap();
        assert!((79_000..=81_000).contains(&rtt), "{rtt}");
        // An LSR Ferry never forwarded gives no RTT (and keeps the last one).
        to_browser.on_rtcp(&rr(&[block(0, 0, 0, 0x1111_1111, 0)]), at);
        assert_eq!(to_browser.info(at).unwrap().rtt_us, Some(rtt));
        assert_eq!(to_browser.info(at).unwrap().reports, 2);
    }

    #[test]
    fn clock_rate_comes_from_two_forwarded_srs() {
        let t0 = Instant::now();
        let mut q = Tracker::default();
        let one_s = 1u64 << 32;
        let mk = |ntp, rtp| SrSeen { ssrc: 1, ntp, rtp };
        q.on_sr_forwarded(mk(10 * one_s, 1_000), t0);
        assert_eq!(q.clock_rate(), 8000);
        q.on_sr_forwarded(mk(15 * one_s, 1_000 + 5 * 48_000 + 300), t0);
        assert_eq!(q.clock_rate(), 48_000);
        q.on_rtcp(&rr(&[block(0, 0, 480, 0, 0)]), t0);
        assert_eq!(q.info(t0).unwrap().jitter_us, 10_000);
        // A rate that is nothing usual leaves the estimate alone.
        q.on_sr_forwarded(mk(16 * one_s, 1_000 + 5 * 48_000 + 300 + 12_345), t0);
        assert_eq!(q.clock_rate(), 48_000);
    }

    #[test]
    fn compound_with_sdes_and_sr_blocks_and_the_firefox_capture() {
        let t0 = Instant::now();
        let mut q = Tracker::default();
        let mut buf = sr(5 << 32, 0, &[block(3, -1, 8, 0, 0)]);
        let chunk = [CnameChunk {
            ssrc: Ssrc(0xaaaa),
            cname: Some(b"x@y"),
        }];
        let sdes = SdesRepr {
            chunks: (&chunk[..]).into(),
        };
        let at = buf.len();
        buf.resize(at + sdes.buffer_len(), 0);
        sdes.emit(&mut buf[at..]).unwrap();
        buf.extend(rr(&[block(9, 40, 80, 0, 0)]));
        assert!(q.on_rtcp(&buf, t0).is_some());
        let got = q.info(t0).unwrap();
        assert_eq!(
            (got.fraction_lost, got.cumulative_lost),
            (9, 40),
            "latest wins"
        );
        assert_eq!((got.jitter_us, got.reports), (10_000, 2));
        // RR block from a Firefox dump: lost 0/0, jitter 273.
        let ff = hex::decode(concat!(
            "81c90007902f9e2e",
            "bc5e9a40000000000000",
            "46e10000011109f36432",
            "00024a79"
        ))
        .unwrap();
        q.on_rtcp(&ff, t0);
        let got = q.info(t0).unwrap();
        assert_eq!((got.fraction_lost, got.jitter_us), (0, 34_125));
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_rtcp_never_panics(
            head in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
        ) {
            // A valid-looking SR or RR header in front of random bytes reaches the typed views.
            let t0 = Instant::now();
            let mut q = Tracker::default();
            for pt in [200u8, 201] {
                let mut buf = vec![0x80 | (tail.len() as u8 & 0x1f), pt];
                buf.extend(((tail.len() / 4) as u16).to_be_bytes());
                buf.extend(&tail);
                if let Some(sr) = q.on_rtcp(&buf, t0) {
                    q.on_sr_forwarded(sr, t0);
                }
                q.on_rtcp(&head, t0);
            }
            let _ = q.info(t0);
        }
    }

    #[test]
    fn malformed_rtcp_is_ignored_without_panic() {
        let t0 = Instant::now();
        let mut q = Tracker::default();
        let good = rr(&[block(1, 1, 8, 0, 0)]);
        for cut in 0..good.len() {
            q.on_rtcp(&good[..cut], t0);
        }
        let mut lying = good.clone();
        lying[0] = 0x85; // RC 5 with one block
        q.on_rtcp(&lying, t0);
        assert_eq!(q.info(t0), None);
        // A bad packet after a good one: the good one counts.
        let mut tail = good.clone();
        tail.extend([0x80, 201, 0xff, 0xff]);
        q.on_rtcp(&tail, t0);
        assert_eq!(q.info(t0).unwrap().reports, 1);
    }
}
