//! Protect and unprotect allocate nothing per packet, in every profile and backend: a counting
//! global allocator watches a loop of packets after the contexts exist.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use ferry::srtp::{Config, Context, GcmBackend, MasterKey, Profile};

struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: defers to the system allocator; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn no_allocation_per_packet() {
    for p in Profile::ALL {
        for backend in [GcmBackend::Ring, GcmBackend::RustCrypto] {
            let key = MasterKey::new(p, &vec![1; p.key_len()], &vec![2; p.salt_len()]).unwrap();
            let cfg = Config {
                gcm_backend: backend,
                ..Config::default()
            };
            let (mut tx, mut rx) = (
                Context::new(p, &key, &cfg).unwrap(),
                Context::new(p, &key, &cfg).unwrap(),
            );
            let mut buf = [0u8; 1500];
            ALLOCS.store(0, Ordering::Relaxed);
            COUNTING.store(true, Ordering::Relaxed);
            for seq in 0..2000u16 {
                buf[..12].copy_from_slice(&[
                    0x80,
                    0,
                    (seq >> 8) as u8,
                    seq as u8,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    (seq % 3) as u8,
                ]);
                let n = tx.protect_rtp(&mut buf, 200).unwrap();
                rx.unprotect_rtp(&mut buf[..n]).unwrap();
                buf[..8].copy_from_slice(&[0x80, 201, 0, 1, 0, 0, 0, 5]);
                let n = tx.protect_rtcp(&mut buf, 8).unwrap();
                rx.unprotect_rtcp(&mut buf[..n]).unwrap();
            }
            COUNTING.store(false, Ordering::Relaxed);
            assert_eq!(ALLOCS.load(Ordering::Relaxed), 0, "{p} {backend:?}");
        }
    }
}
