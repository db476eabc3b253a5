//! RTCP properties: arbitrary bytes never panic; random Reprs emit, then parse back equal, and
//! rtc-rtcp (webrtc-rs) reads what we emit the same way; our TWCC decoder agrees with rtc-rtcp's
//! encoder.

use super::*;
use crate::wire::rtp::SeqNo;
use proptest::collection::vec;
use proptest::prelude::*;

/// Calls every accessor and iterator of a view; only the absence of panics matters.
fn touch(view: &View<'_>) {
    match view {
        View::SenderReport(v) => {
            let _ = (v.ssrc(), v.sender_info(), v.report_block(40));
            let _ = (v.report_blocks().count(), v.profile_extension().len());
            let _ = SenderReportRepr::parse(v).buffer_len();
        }
        View::ReceiverReport(v) => {
            let _ = (
                v.ssrc(),
                v.report_blocks().count(),
                v.profile_extension().len(),
            );
            let _ = ReceiverReportRepr::parse(v).buffer_len();
        }
        View::Sdes(v) => {
            for c in v.chunks() {
                let _ = (c.cname(), c.items().count());
            }
            let _ = SdesRepr::parse(v).buffer_len();
        }
        View::Bye(v) => {
            let _ = (v.sources().count(), v.reason());
            let _ = ByeRepr::parse(v).buffer_len();
        }
        View::App(v) => {
            let _ = (v.subtype(), v.ssrc(), v.name(), v.data().len());
        }
        View::Nack(v) => {
            let _ = (
                v.sender_ssrc(),
                v.media_ssrc(),
                v.pairs().count(),
                v.lost().count(),
            );
            let _ = NackRepr::parse(v).buffer_len();
        }
        View::TransportCc(v) => {
            let _ = (
                v.base_sequence_number(),
                v.reference_time(),
                v.fb_pkt_count(),
            );
            let _ = (v.packets().count(), v.chunks_and_deltas().len());
        }
        View::Pli(v) => {
            let _ = PliRepr::parse(v);
        }
        View::Fir(v) => {
            let _ = (v.entries().count(), FirRepr::parse(v).buffer_len());
        }
        View::Remb(v) => {
            let _ = (
                v.bitrate(),
                v.ssrcs().count(),
                RembRepr::parse(v).buffer_len(),
            );
        }
        View::Other(p) => {
            let _ = (p.body().len(), p.padding_len());
        }
    }
}

fn touch_all(bytes: &[u8]) {
    let _ = first_sender_ssrc(bytes);
    for packet in Compound::new(bytes).flatten() {
        let _ = (
            packet.sender_ssrc(),
            packet.media_ssrc(),
            packet.body().len(),
        );
        if let Ok(view) = packet.view() {
            touch(&view);
        }
    }
    // The same walk, rewriting every SSRC the engine would.
    let mut copy = bytes.to_vec();
    for mut packet in CompoundMut::new(&mut copy).flatten() {
        packet.set_sender_ssrc(Ssrc(1));
        packet.set_media_ssrc(Ssrc(2));
    }
    // Unchecked typed views on the raw bytes, too.
    let _ = ReceiverReport::new_unchecked(bytes).report_blocks().count();
    let _ = SenderReport::new_unchecked(bytes).sender_info();
    let _ = Sdes::new_unchecked(bytes).chunks().count();
    let _ = TransportCc::new_unchecked(bytes).packets().count();
    let _ = Remb::new_unchecked(bytes).ssrcs().count();
    let _ = Bye::new_unchecked(bytes).reason();
}

/// One RTCP-looking packet: version 2, a known type, a correct length field, random body.
fn rtcp_like() -> impl Strategy<Value = Vec<u8>> {
    (0u8..=0x3f, 200u8..=207, vec(any::<u8>(), 0..=30)).prop_map(|(flags, pt, words)| {
        let mut body = words;
        body.resize(body.len() / 4 * 4, 0);
        let mut p = vec![0x80 | flags, pt];
        p.extend_from_slice(&((body.len() / 4) as u16).to_be_bytes());
        p.extend_from_slice(&body);
        p
    })
}

fn report_block() -> impl Strategy<Value = ReportBlock> {
    let lost = -0x80_0000i32..=0x7f_ffff;
    (any::<[u32; 5]>(), any::<u8>(), lost).prop_map(|(w, fraction_lost, cumulative_lost)| {
        ReportBlock {
            ssrc: Ssrc(w[0]),
            fraction_lost,
            cumulative_lost,
            highest_seq: w[1],
            jitter: w[2],
            last_sr: w[3],
            delay_since_last_sr: w[4],
        }
    })
}

fn ssrcs(max: usize) -> impl Strategy<Value = Vec<Ssrc>> {
    vec(any::<u32>().prop_map(Ssrc), 0..=max)
}

/// Emits with `emit`, walks the result as a compound and returns the single view.
fn emit_and_view(len: usize, emit: impl FnOnce(&mut [u8]) -> Result<usize>) -> Vec<u8> {
    let mut buf = vec![0u8; len + 3];
    let n = emit(&mut buf).unwrap();
    assert_eq!(n, len);
    buf.truncate(n);
    buf
}

fn single_view(bytes: &[u8]) -> View<'_> {
    let mut walk = Compound::new(bytes);
    let view = walk.next().unwrap().unwrap().view().unwrap();
    assert!(walk.next().is_none());
    view
}

/// rtc-rtcp's parse of a single packet we emitted.
fn theirs<P: 'static + Clone>(bytes: &[u8]) -> P {
    let packets = rtc_rtcp::packet::unmarshal(&mut &bytes[..]).unwrap();
    assert_eq!(packets.len(), 1);
    packets[0].as_any().downcast_ref::<P>().unwrap().clone()
}

fn same_blocks(ours: &[ReportBlock], theirs: &[rtc_rtcp::reception_report::ReceptionReport]) {
    assert_eq!(ours.len(), theirs.len());
    for (a, b) in ours.iter().zip(theirs) {
        assert_eq!(a.ssrc.0, b.ssrc);
        assert_eq!(a.fraction_lost, b.fraction_lost);
        assert_eq!(a.cumulative_lost as u32 & 0xff_ffff, b.total_lost);
        assert_eq!(a.highest_seq, b.last_sequence_number);
        assert_eq!(a.jitter, b.jitter);
        assert_eq!(a.last_sr, b.last_sender_report);
        assert_eq!(a.delay_since_last_sr, b.delay);
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..=1500)) {
        touch_all(&bytes);
    }

    #[test]
    fn rtcp_like_compounds_never_panic(packets in vec(rtcp_like(), 1..=6)) {
        touch_all(&packets.concat());
    }

    #[test]
    fn sr_round_trip(
        ssrc in any::<u32>(),
        info in any::<(u64, u32, u32, u32)>(),
        blocks in vec(report_block(), 0..=31),
    ) {
        let repr = SenderReportRepr {
            ssrc: Ssrc(ssrc),
            sender_info: SenderInfo {
                ntp_timestamp: info.0,
                rtp_timestamp: info.1,
                packet_count: info.2,
                octet_count: info.3,
            },
            reports: List::Items(&blocks),
        };
        let bytes = emit_and_view(repr.buffer_len(), |b| repr.emit(b));
        let View::SenderReport(view) = single_view(&bytes) else { panic!() };
        prop_assert_eq!(SenderReportRepr::parse(&view), repr);
        let t: rtc_rtcp::sender_report::SenderReport = theirs(&bytes);
        prop_assert_eq!((t.ssrc, t.ntp_time, t.rtp_time), (ssrc, info.0, info.1));
        prop_assert_eq!((t.packet_count, t.octet_count), (info.2, info.3));
        same_blocks(&blocks, &t.reports);
    }

    #[test]
    fn rr_round_trip(ssrc in any::<u32>(), blocks in vec(report_block(), 0..=31)) {
        let repr = ReceiverReportRepr { ssrc: Ssrc(ssrc), reports: List::Items(&blocks) };
        let bytes = emit_and_view(repr.buffer_len(), |b| repr.emit(b));
        let View::ReceiverReport(view) = single_view(&bytes) else { panic!() };
        prop_assert_eq!(ReceiverReportRepr::parse(&view), repr);
        let t: rtc_rtcp::receiver_report::ReceiverReport = theirs(&bytes);
        prop_assert_eq!(t.ssrc, ssrc);
        same_blocks(&blocks, &t.reports);
    }

    #[test]
    fn sdes_round_trip(
        chunks in vec((any::<u32>(), proptest::option::of(vec(any::<u8>(), 0..=255))), 0..=31),
    ) {
        let cnames: Vec<CnameChunk<'_>> = chunks
            .iter()
            .map(|(ssrc, cname)| CnameChunk { ssrc: Ssrc(*ssrc), cname: cname.as_deref() })
            .collect();
        let repr = SdesRepr { chunks: List::Items(&cnames) };
        let bytes = emit_and_view(repr.buffer_len(), |b| repr.emit(b));
        let View::Sdes(view) = single_view(&bytes) else { panic!() };
        prop_assert_eq!(SdesRepr::parse(&view), repr);
        if !chunks.is_empty() {
            let t: rtc_rtcp::source_description::SourceDescription = theirs(&bytes);
            prop_assert_eq!(t.chunks.len(), chunks.len());
            for (c, (ssrc, cname)) in t.chunks.iter().zip(&chunks) {
                prop_assert_eq!(c.source, *ssrc);
                let text: Vec<Vec<u8>> = c.items.iter().map(|i| i.text.to_vec()).collect();
                prop_assert_eq!(text, cname.iter().cloned().collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn bye_round_trip(
        sources in ssrcs(31),
        reason in proptest::option::of(vec(any::<u8>(), 0..=255)),
    ) {
        let repr = ByeRepr { sources: List::Items(&sources), reason: reason.as_deref() };
        let bytes = emit_and_view(repr.buffer_len(), |b| repr.emit(b));
        let View::Bye(view) = single_view(&bytes) else { panic!() };
        prop_assert_eq!(ByeRepr::parse(&view), repr);
        let t: rtc_rtcp::goodbye::Goodbye = theirs(&bytes);
        prop_assert_eq!(t.sources, sources.iter().map(|s| s.0).collect::<Vec<_>>());
        prop_assert_eq!(t.reason.to_vec(), reason.unwrap_or_default());
    }

    #[test]
    fn nack_round_trip(
        sender in any::<u32>(),
        media in any::<u32>(),
        pairs in vec(any::<(u16, u16)>(), 1..=40),
    ) {
        let pairs: Vec<NackPair> =
            pairs.iter().map(|&(pid, blp)| NackPair { pid: SeqNo(pid), blp }).collect();
        let repr = NackRepr {
            sender_ssrc: Ssrc(sender),
            media_ssrc: Ssrc(media),
            pairs: List::Items(&pairs),
        };
        let bytes = emit_and_view(repr.buffer_len(), |b| repr.emit(b));
        let View::Nack(view) = single_view(&bytes) else { panic!() };
        prop_assert_eq!(NackRepr::parse(&view), repr);
        let t: rtc_rtcp::transport_feedbacks::transport_layer_nack::TransportLayerNack =
            theirs(&bytes);
        prop_assert_eq!((t.sender_ssrc, t.media_ssrc), (sender, media));
        let their_lost: Vec<u16> = t.nacks.iter().flat_map(|n| n.packet_list()).collect();
        let our_lost: Vec<u16> = view.lost().map(|s| s.0).collect();
        prop_assert_eq!(our_lost, their_lost);
    }

    #[test]
    fn pli_round_trip(sender in any::<u32>(), media in any::<u32>()) {
        let repr = PliRepr { sender_ssrc: Ssrc(sender), media_ssrc: Ssrc(media) };
        let bytes = emit_and_view(repr.buffer_len(), |b| repr.emit(b));
        let View::Pli(view) = single_view(&bytes) else { panic!() };
        prop_assert_eq!(PliRepr::parse(&view), repr);
        let t: rtc_rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication =
            theirs(&bytes);
        prop_assert_eq!((t.sender_ssrc, t.media_ssrc), (sender, media));
    }

    #[test]
    fn fir_round_trip(sender in any::<u32>(), entries in vec(any::<(u32, u8)>(), 1..=20)) {
        let entries: Vec<FirEntry> =
            entries.iter().map(|&(s, n)| FirEntry { ssrc: Ssrc(s), seq_nr: n }).collect();
        let repr = FirRepr { sender_ssrc: Ssrc(sender), entries: List::Items(&entries) };
        let bytes = emit_and_view(repr.buffer_len(), |b| repr.emit(b));
        let View::Fir(view) = single_view(&bytes) else { panic!() };
        prop_assert_eq!(FirRepr::parse(&view), repr);
        let t: rtc_rtcp::payload_feedbacks::full_intra_request::FullIntraRequest = theirs(&bytes);
        prop_assert_eq!((t.sender_ssrc, t.media_ssrc), (sender, 0));
        let theirs: Vec<(u32, u8)> = t.fir.iter().map(|e| (e.ssrc, e.sequence_number)).collect();
        let ours: Vec<(u32, u8)> = entries.iter().map(|e| (e.ssrc.0, e.seq_nr)).collect();
        prop_assert_eq!(ours, theirs);
    }

    #[test]
    fn remb_round_trip(
        sender in any::<u32>(),
        mantissa in 0u64..(1 << 18),
        exp in 0u32..=46,
        ssrcs in ssrcs(40),
    ) {
        // Only values an 18-bit mantissa and 6-bit exponent express survive exactly.
        let bitrate = mantissa << exp;
        let repr = RembRepr { sender_ssrc: Ssrc(sender), bitrate, ssrcs: List::Items(&ssrcs) };
        let bytes = emit_and_view(repr.buffer_len(), |b| repr.emit(b));
        let View::Remb(view) = single_view(&bytes) else { panic!() };
        prop_assert_eq!(RembRepr::parse(&view), repr);
        let t: rtc_rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate =
            theirs(&bytes);
        prop_assert_eq!(t.sender_ssrc, sender);
        prop_assert_eq!(t.bitrate as u64, bitrate);
        prop_assert_eq!(t.ssrcs, ssrcs.iter().map(|s| s.0).collect::<Vec<_>>());
    }

    #[test]
    fn remb_emit_rounds_down(bitrate in any::<u64>()) {
        let repr = RembRepr { sender_ssrc: Ssrc(1), bitrate, ssrcs: List::Items(&[]) };
        let bytes = emit_and_view(repr.buffer_len(), |b| repr.emit(b));
        let View::Remb(view) = single_view(&bytes) else { panic!() };
        // The largest representable value not above the input: within one part in 2^17.
        prop_assert!(view.bitrate() <= bitrate);
        prop_assert!(bitrate - view.bitrate() <= bitrate >> 17);
    }

    #[test]
    fn compound_of_reprs_walks_back(
        blocks in vec(report_block(), 0..=3),
        cname in vec(any::<u8>(), 1..=40),
        lost in vec(any::<(u16, u16)>(), 1..=3),
    ) {
        // An RR + SDES + NACK compound, as Chromium sends, emitted back to back.
        let rr = ReceiverReportRepr { ssrc: Ssrc(1), reports: List::Items(&blocks) };
        let chunk = [CnameChunk { ssrc: Ssrc(1), cname: Some(&cname) }];
        let sdes = SdesRepr { chunks: List::Items(&chunk) };
        let pairs: Vec<NackPair> =
            lost.iter().map(|&(p, b)| NackPair { pid: SeqNo(p), blp: b }).collect();
        let nack = NackRepr { sender_ssrc: Ssrc(1), media_ssrc: Ssrc(2), pairs: List::Items(&pairs) };
        let mut buf = vec![0u8; 2048];
        let mut at = rr.emit(&mut buf).unwrap();
        at += sdes.emit(&mut buf[at..]).unwrap();
        at += nack.emit(&mut buf[at..]).unwrap();
        buf.truncate(at);
        let views: Vec<_> = Compound::new(&buf).map(|p| p.unwrap().view().unwrap()).collect();
        prop_assert_eq!(views.len(), 3);
        let View::ReceiverReport(v) = &views[0] else { panic!() };
        prop_assert_eq!(ReceiverReportRepr::parse(v), rr);
        let View::Sdes(v) = &views[1] else { panic!() };
        prop_assert_eq!(SdesRepr::parse(v), sdes);
        let View::Nack(v) = &views[2] else { panic!() };
        prop_assert_eq!(NackRepr::parse(v), nack);
        prop_assert_eq!(rtc_rtcp::packet::unmarshal(&mut &buf[..]).unwrap().len(), 3);
    }

    #[test]
    fn twcc_decodes_what_rtc_rtcp_encodes(
        base in any::<u16>(),
        ref_time in 0u32..(1 << 24),
        fb_count in any::<u8>(),
        statuses in vec((0u8..3, any::<u8>(), any::<i16>()), 1..=60),
        run_first in any::<bool>(),
    ) {
        use rtc_rtcp::transport_feedbacks::transport_layer_cc as cc;
        let symbol = |s: u8| match s {
            0 => cc::SymbolTypeTcc::PacketNotReceived,
            1 => cc::SymbolTypeTcc::PacketReceivedSmallDelta,
            _ => cc::SymbolTypeTcc::PacketReceivedLargeDelta,
        };
        let mut chunks = Vec::new();
        let mut rest = &statuses[..];
        if run_first {
            // A run length chunk of the first status repeated as long as it lasts.
            let n = rest.iter().take_while(|s| s.0 == rest[0].0).count();
            chunks.push(cc::PacketStatusChunk::RunLengthChunk(cc::RunLengthChunk {
                type_tcc: cc::StatusChunkTypeTcc::RunLengthChunk,
                packet_status_symbol: symbol(rest[0].0),
                run_length: n as u16,
            }));
            rest = &rest[n..];
        }
        for group in rest.chunks(7) {
            let mut list: Vec<_> = group.iter().map(|s| symbol(s.0)).collect();
            list.resize(7, cc::SymbolTypeTcc::PacketNotReceived);
            chunks.push(cc::PacketStatusChunk::StatusVectorChunk(cc::StatusVectorChunk {
                type_tcc: cc::StatusChunkTypeTcc::StatusVectorChunk,
                symbol_size: cc::SymbolSizeTypeTcc::TwoBit,
                symbol_list: list,
            }));
        }
        let recv_deltas = statuses
            .iter()
            .filter(|s| s.0 != 0)
            .map(|&(s, small, large)| cc::RecvDelta {
                type_tcc_packet: symbol(s),
                delta: 250 * if s == 1 { i64::from(small) } else { i64::from(large) },
            })
            .collect();
        let theirs = cc::TransportLayerCc {
            sender_ssrc: 1,
            media_ssrc: 2,
            base_sequence_number: base,
            packet_status_count: statuses.len() as u16,
            reference_time: ref_time,
            fb_pkt_count: fb_count,
            packet_chunks: chunks,
            recv_deltas,
        };
        let bytes = rtc_shared::marshal::Marshal::marshal(&theirs).unwrap();
        let View::TransportCc(view) = single_view(&bytes) else { panic!() };
        prop_assert_eq!(view.base_sequence_number(), SeqNo(base));
        prop_assert_eq!(view.reference_time(), ref_time);
        prop_assert_eq!(view.fb_pkt_count(), fb_count);
        let got: Vec<_> = view.packets().collect();
        prop_assert_eq!(got.len(), statuses.len());
        for (i, (p, &(s, small, large))) in got.iter().zip(&statuses).enumerate() {
            prop_assert_eq!(p.seq, SeqNo(base).wrapping_add(i as u16));
            let want = match s {
                0 => (Status::NotReceived, None),
                1 => (Status::SmallDelta, Some(i16::from(small))),
                _ => (Status::LargeDelta, Some(large)),
            };
            prop_assert_eq!((p.status, p.delta), want);
        }
    }
}
