#!/usr/bin/env bash
# Ferry's whole test suite: formatting, lints, then every test in the workspace.
# Long soaks, fuzzing and full benchmarks are separate (see README.md, "Testing").
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

# The end-to-end tests (tests/browser_calls.rs, tests/trunk_features.rs, tests/sip_bad_input.rs)
# run the real binary with sipp, and real Chromium in network namespaces: they need root,
# chromium, node (npm ci --prefix tests/browser), sipp, dumpcap and tshark, and fail naming what
# is missing.
# FERRY_SKIP_BROWSER=1 skips only the browser ones, for quick local runs.
step "cargo test (workspace${FERRY_SKIP_BROWSER:+; browser tests skipped: FERRY_SKIP_BROWSER=$FERRY_SKIP_BROWSER})"
cargo test --workspace --locked
