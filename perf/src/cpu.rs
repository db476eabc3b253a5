//! CPU time of another process's threads, from /proc (schedstat: nanoseconds on CPU).
//!
//! The benchmarks compare CPU per packet, not wall-clock rates: the machine is shared, and
//! the kernel's UDP path dominates, so what matters is how much CPU each relayed packet costs.

use std::fs;

/// Total on-CPU nanoseconds of `pid`'s threads whose name starts with `prefix` (all threads
/// with an empty prefix).
pub fn threads_cpu_ns(pid: u32, prefix: &str) -> Option<u64> {
    let mut total = 0;
    let mut found = false;
    for task in fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        let path = task.path();
        let comm = fs::read_to_string(path.join("comm")).unwrap_or_default();
        if !comm.trim_end().starts_with(prefix) {
            continue;
        }
        // A thread may exit between listing and reading: skip it rather than fail.
        let Ok(stat) = fs::read_to_string(path.join("schedstat")) else {
            continue;
        };
        let Some(ns) = stat
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
        else {
            continue;
        };
        total += ns;
        found = true;
    }
    found.then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_threads_are_measured_and_grow() {
        let pid = std::process::id();
        let before = threads_cpu_ns(pid, "").unwrap();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(threads_cpu_ns(pid, "").unwrap() > before);
        assert_eq!(threads_cpu_ns(pid, "no-such-thread-name"), None);
    }
}
