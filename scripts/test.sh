#!/usr/bin/env bash
# Runs every check and test of kez-verify. Idempotent; needs only the Rust toolchain and
# ../shared/vectors (upstream test vectors) beside the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

# Disk is a budget: CI machines may have only a few GB free (see the profiles in Cargo.toml).
# No incremental caches in this one-shot run, and on CI (CI=true) each build's output is
# removed as soon as no later step needs it. Every step header shows what is left.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"
step() {
  printf '\n== %s\n' "$*"
  printf '   (disk: %s free; target/ %s)\n' "$(df -h --output=avail . | tail -1 | tr -d ' ')" \
    "$(du -sh target 2>/dev/null | cut -f1 || echo 0)"
}
ci_prune() {
  if [ "${CI:-}" = true ]; then rm -rf "$@"; fi
}

step "toolchain"
cargo --version
rustc --version

if [ ! -d ../shared/vectors ] && [ ! -d fixtures/vectors ]; then
  echo "error: upstream test vectors not found at ../shared/vectors or fixtures/vectors" >&2
  exit 2
fi

step "setup: Chromium and the Node implementation's dependencies (crosstest/setup.sh)"
bash crosstest/setup.sh

step "setup: nats-server, nats-py and Python nkeys in .venv-nats (crosstest/nats/setup.sh)"
bash crosstest/nats/setup.sh

step "setup: real peers for the channel tests: knot, Fedify, an ATProto PDS (channels/peers/setup.sh)"
bash channels/peers/setup.sh

step "format"
cargo fmt --all -- --check

step "lint"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "docs"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

# Lint metadata is not reused by the test build.
ci_prune target/debug

step "tests (unit, vectors, fixtures, SPEC coverage, CLI, adapters, interop matrix, channels against real peers)"
# The interop matrix drives target/debug/kez-verify as the Rust adapter.
cargo build -p kez-verify --locked
cargo test --workspace --locked --no-run
# insta snapshots are checked, never written, and a snapshot no test reads fails the run.
command -v cargo-insta >/dev/null || cargo install cargo-insta --version 1.49.0 --locked
KEZ_CROSSTEST_NODE=1 KEZ_CROSSTEST_REQUIRED=crosstest/required.txt \
  cargo insta test --workspace --check --unreferenced=reject

step "second implementation's own tests (Node, crosstest/impls/node)"
(cd crosstest/impls/node && npm test)

ci_prune target/debug

step "fuzz targets (stable smoke over seeds and mutations)"
cargo test --manifest-path fuzz/Cargo.toml --locked
ci_prune fuzz/target/debug

step "fuzz targets (coverage-guided libFuzzer on the stable toolchain, 10 s each)"
bash fuzz/smoke.sh 10
ci_prune fuzz/target

step "benchmarks compile"
cargo bench --workspace --locked --no-run
step "done"
