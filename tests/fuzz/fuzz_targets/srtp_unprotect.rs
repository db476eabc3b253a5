#![no_main]
//! SRTP and SRTCP unprotect, every profile, on arbitrary bytes: errors, never panics. The
//! first byte picks the profile so the fuzzer explores all four.
use ferry::srtp::{Config, Context, MasterKey, Profile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let p = Profile::ALL[usize::from(sel) % 4];
    let key = MasterKey::new(p, &vec![7u8; p.key_len()], &vec![9u8; p.salt_len()]).unwrap();
    let mut c = Context::new(p, &key, &Config::default()).unwrap();
    let mut a = rest.to_vec();
    let _ = c.unprotect_rtp(&mut a);
    let mut b = rest.to_vec();
    let _ = c.unprotect_rtcp(&mut b);
});
