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

step "cargo test (workspace)"
cargo test --workspace --locked
