#!/usr/bin/env bash
# Coverage-guided libFuzzer smoke on the stable toolchain.
#
# cargo-fuzz needs nightly only for -Zsanitizer (AddressSanitizer). Coverage guidance itself
# uses stable codegen flags: the SanitizerCoverage pass (-Cpasses=sancov-module) with inline
# 8-bit counters, PC tables and comparison tracing, exactly the flags cargo-fuzz passes. The
# Rust code under test forbids `unsafe`, so the loss of ASan is limited to C dependencies.
#
# Usage: fuzz/smoke.sh [SECONDS_PER_TARGET]   (default 10; FUZZ_TARGETS="a b" to choose)
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-10}"
triple="$(rustc -vV | sed -n 's/^host: //p')"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# --target keeps RUSTFLAGS off build scripts and proc macros, as cargo-fuzz does.
cargo build --locked --release --features libfuzzer --bins --target "$triple" --target-dir target/libfuzzer

targets="${FUZZ_TARGETS:-jcs claim_json compact markdown dns_txt sigchain_jsonl nostr_event identity nats_jwt nats_creds nkey}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
for target in $targets; do
  corpus="$work/corpus/$target"
  mkdir -p "$corpus" "$work/artifacts/$target"
  # Seed every target with every fixture input (each target takes arbitrary bytes), the
  # NATS fixtures and the upstream NATS vectors (JWTs, .creds, seeds) beside the checkout.
  find ../fixtures/cases -type f ! -name case.json ! -name '*.md' -size -64k -print0 |
    xargs -0 -I{} sh -c 'cp "{}" "$1/$(sha256sum "{}" | cut -c1-16)"' _ "$corpus"
  find ../fixtures/nats ../../shared/vectors/nats -type f -size -64k -print0 2>/dev/null |
    xargs -0 -I{} sh -c 'cp "{}" "$1/$(sha256sum "{}" | cut -c1-16)"' _ "$corpus"
  echo "== fuzz $target for ${seconds}s (seeds: $(ls "$corpus" | wc -l))"
  "target/libfuzzer/$triple/release/$target" "$corpus" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/$target/" 2>&1 | grep -E '^(stat::number_of_executed_units|stat::new_units_added|==|SUMMARY|ERROR)' || true
  if [ -n "$(ls "$work/artifacts/$target")" ]; then
    echo "error: fuzz target $target found a crash:" >&2
    for f in "$work/artifacts/$target"/*; do echo "--- $f" >&2; od -c "$f" | head -20 >&2; done
    exit 1
  fi
done
echo "fuzz smoke: every target ran ${seconds}s without a crash"
