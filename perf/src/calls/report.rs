//! The report of a `calls` run: rate, failures by cause, latency percentiles (HdrHistogram) and
//! the CPU that Ferry's processes and this tool spent, so setups can be priced per CPU second.
//!
//! CPU comes from `/proc/PID/stat` (utime + stime, which include threads that already exited),
//! sampled before the first call and after the last one ends: it covers setup *and* teardown of
//! every call, which is what a call costs.

use std::collections::BTreeMap;
use std::fs;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

use super::call::Outcome;

/// Clock ticks per second of /proc's utime/stime.
fn clk_tck() -> f64 {
    // SAFETY: sysconf reads a constant and has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

/// utime + stime of a process, in ticks (fields 14 and 15 of /proc/PID/stat, counted after the
/// parenthesised comm, which may itself contain spaces).
fn process_ticks(pid: &str) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// A label for a process passed by number: its Ferry role, else its `comm` (e.g. `sipp`).
fn label(pid: &str) -> String {
    ferry_role(pid).unwrap_or_else(|| {
        fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|c| c.trim_end().to_string())
            .unwrap_or_else(|_| format!("pid {pid}"))
    })
}

/// `engine`, `signal` or `up` for a running `ferry` process, from its command line.
fn ferry_role(pid: &str) -> Option<String> {
    let cmd = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let mut args = cmd.split(|b| *b == 0).map(String::from_utf8_lossy);
    let exe = args.next()?;
    let role = args.next()?;
    let is_ferry = exe.rsplit('/').next() == Some("ferry");
    (is_ferry && ["engine", "signal", "up"].contains(&role.as_ref())).then(|| role.into_owned())
}

/// CPU counters sampled at the start of a run.
#[derive(Debug)]
pub struct CpuProbe {
    procs: Vec<(String, String, u64)>,
    tool: u64,
}

impl CpuProbe {
    /// Samples `pids`, or every `ferry engine|signal|up` process when none are given.
    pub fn start(pids: &[u32]) -> Self {
        let ids: Vec<String> = if pids.is_empty() {
            fs::read_dir("/proc")
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|n| n.bytes().all(|b| b.is_ascii_digit()) && ferry_role(n).is_some())
                .collect()
        } else {
            pids.iter().map(u32::to_string).collect()
        };
        let procs = ids
            .into_iter()
            .filter_map(|pid| {
                let ticks = process_ticks(&pid)?;
                let role = label(&pid);
                Some((pid, role, ticks))
            })
            .collect();
        Self {
            procs,
            tool: process_ticks("self").unwrap_or(0),
        }
    }

    /// CPU seconds since [`Self::start`], per process and for this tool.
    pub fn finish(self) -> Cpu {
        let tck = clk_tck();
        let secs = |a: u64, b: u64| b.saturating_sub(a) as f64 / tck;
        let processes = self
            .procs
            .into_iter()
            .map(|(pid, role, before)| ProcCpu {
                seconds: process_ticks(&pid).map_or(0.0, |now| secs(before, now)),
                pid: pid.parse().unwrap_or(0),
                role,
            })
            .collect();
        Cpu {
            processes,
            tool_seconds: secs(self.tool, process_ticks("self").unwrap_or(self.tool)),
        }
    }
}

/// One process's CPU over the run.
#[derive(Debug, Serialize)]
pub struct ProcCpu {
    /// Process id.
    pub pid: u32,
    /// `engine`, `signal`, `up`, or the `comm` of another process passed by number.
    pub role: String,
    /// CPU seconds (user + system).
    pub seconds: f64,
}

/// CPU over the run.
#[derive(Debug, Serialize)]
pub struct Cpu {
    /// Ferry's processes.
    pub processes: Vec<ProcCpu>,
    /// This tool.
    pub tool_seconds: f64,
}

/// What was asked for.
#[derive(Debug, Serialize)]
pub struct Params {
    /// Request-URI user.
    pub dest: String,
    /// Calls placed.
    pub calls: u32,
    /// In flight at most.
    pub concurrency: u32,
    /// New calls per second at most (0 = unpaced).
    pub rate: f64,
    /// Hold time.
    pub hold_ms: u64,
    /// Whether a setup needed an SRTP echo.
    pub media: bool,
}

/// Percentiles in milliseconds.
#[derive(Debug, Serialize)]
pub struct Percentiles {
    p50: f64,
    p90: f64,
    p99: f64,
    p999: f64,
    max: f64,
}

fn percentiles(h: &Histogram<u64>) -> Percentiles {
    let ms = |us: u64| us as f64 / 1000.0;
    Percentiles {
        p50: ms(h.value_at_quantile(0.5)),
        p90: ms(h.value_at_quantile(0.9)),
        p99: ms(h.value_at_quantile(0.99)),
        p999: ms(h.value_at_quantile(0.999)),
        max: ms(h.max()),
    }
}

/// The summary of a run.
#[derive(Debug, Serialize)]
pub struct Report {
    params: Params,
    setups: u64,
    failed: u64,
    failures: BTreeMap<String, u64>,
    teardown_failures: BTreeMap<String, u64>,
    /// First INVITE's start to the last completed setup.
    window_s: f64,
    setups_per_s: f64,
    /// Start to the end of the last call (teardown included).
    run_s: f64,
    /// INVITE sent -> each step done, in milliseconds.
    latency_ms: BTreeMap<&'static str, Percentiles>,
    dtls_retransmits: u64,
    cpu: Cpu,
    /// CPU milliseconds per setup, per Ferry process role and for the tool.
    cpu_ms_per_setup: BTreeMap<String, f64>,
    /// Setups per CPU second of Ferry's processes together.
    setups_per_ferry_cpu_s: f64,
}

impl Report {
    /// Aggregates the outcomes.
    pub fn build(
        params: Params,
        start: Instant,
        end: Instant,
        outcomes: &[Outcome],
        cpu: Cpu,
    ) -> Self {
        let hist = || Histogram::<u64>::new_with_bounds(1, 120_000_000, 3).expect("static bounds");
        let names = ["1_answered", "2_ice", "3_dtls_setup", "4_srtp_echo"];
        let mut h: Vec<Histogram<u64>> = names.iter().map(|_| hist()).collect();
        let (mut failures, mut teardown) = (BTreeMap::new(), BTreeMap::new());
        let (mut setups, mut retrans, mut last) = (0u64, 0u64, start);
        for o in outcomes {
            match &o.setup {
                Ok(t) => {
                    setups += 1;
                    retrans += u64::from(t.dtls_retransmits);
                    last = last.max(o.done_at);
                    let steps = [Some(t.answered), Some(t.ice), Some(t.dtls), t.media];
                    for (h, d) in h.iter_mut().zip(steps) {
                        if let Some(d) = d {
                            h.saturating_record(d.as_micros().max(1) as u64);
                        }
                    }
                }
                Err(f) => *failures.entry(f.cause()).or_insert(0u64) += 1,
            }
            if let Some(Err(f)) = &o.teardown {
                *teardown.entry(f.cause()).or_insert(0u64) += 1;
            }
        }
        let window = last.duration_since(start).max(Duration::from_micros(1));
        let latency_ms = names
            .iter()
            .zip(&h)
            .filter(|(_, h)| !h.is_empty())
            .map(|(n, h)| (*n, percentiles(h)))
            .collect();
        let per = |s: f64| {
            if setups > 0 {
                s * 1000.0 / setups as f64
            } else {
                0.0
            }
        };
        let mut cpu_ms_per_setup = BTreeMap::new();
        for p in &cpu.processes {
            *cpu_ms_per_setup.entry(p.role.clone()).or_insert(0.0) += per(p.seconds);
        }
        cpu_ms_per_setup.insert("ferry-perf".into(), per(cpu.tool_seconds));
        let ferry_s: f64 = cpu
            .processes
            .iter()
            .filter(|p| ["engine", "signal", "up"].contains(&p.role.as_str()))
            .map(|p| p.seconds)
            .sum();
        Report {
            failed: outcomes.len() as u64 - setups,
            setups,
            failures,
            teardown_failures: teardown,
            window_s: window.as_secs_f64(),
            setups_per_s: setups as f64 / window.as_secs_f64(),
            run_s: end.duration_since(start).as_secs_f64(),
            latency_ms,
            dtls_retransmits: retrans,
            setups_per_ferry_cpu_s: if ferry_s > 0.0 {
                setups as f64 / ferry_s
            } else {
                0.0
            },
            cpu_ms_per_setup,
            cpu,
            params,
        }
    }

    /// The human summary.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut o = String::new();
        let p = &self.params;
        let _ = writeln!(
            o,
            "dest {} calls {} concurrency {} rate {} hold {} ms media {}",
            p.dest, p.calls, p.concurrency, p.rate, p.hold_ms, p.media
        );
        let _ = writeln!(
            o,
            "setups {} failed {} in {:.2} s: {:.1} setups/s (run {:.2} s, dtls retransmits {})",
            self.setups,
            self.failed,
            self.window_s,
            self.setups_per_s,
            self.run_s,
            self.dtls_retransmits
        );
        for (cause, n) in &self.failures {
            let _ = writeln!(o, "  failed: {cause}: {n}");
        }
        for (cause, n) in &self.teardown_failures {
            let _ = writeln!(o, "  teardown failed: {cause}: {n}");
        }
        for (step, l) in &self.latency_ms {
            let _ = writeln!(
                o,
                "  {step:<13} ms p50 {:.2} p90 {:.2} p99 {:.2} p99.9 {:.2} max {:.2}",
                l.p50, l.p90, l.p99, l.p999, l.max
            );
        }
        for pc in &self.cpu.processes {
            let _ = writeln!(o, "  cpu {} (pid {}): {:.2} s", pc.role, pc.pid, pc.seconds);
        }
        let _ = writeln!(o, "  cpu ferry-perf: {:.2} s", self.cpu.tool_seconds);
        for (role, ms) in &self.cpu_ms_per_setup {
            let _ = writeln!(o, "  cpu per setup {role}: {ms:.3} ms");
        }
        let _ = writeln!(
            o,
            "  setups per ferry CPU second: {:.1}",
            self.setups_per_ferry_cpu_s
        );
        o
    }
}
