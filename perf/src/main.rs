//! `ferry-perf`: load generator for a running Ferry engine.
//!
//! The load generator arrives with the engine; today this crate carries the criterion benches
//! (`cargo bench -p ferry-perf`).

fn main() -> std::process::ExitCode {
    eprintln!("ferry-perf: the load generator needs the engine, which is not built yet.");
    eprintln!("Benchmarks: cargo bench -p ferry-perf");
    std::process::ExitCode::from(2)
}
