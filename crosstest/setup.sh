#!/usr/bin/env bash
# Installs what the interop harness needs besides the Rust toolchain, idempotently:
#   - Chromium (Debian package `chromium`), for the HTML report test (tests/html_report.rs);
#   - the Node implementation's dependencies (npm ci in crosstest/impls/node).
# The Rust adapter (`kez-verify adapter`) is built by cargo: `cargo build -p kez-verify`.
# Run from anywhere; scripts/test.sh calls it before the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -x /usr/bin/chromium ]; then
  echo "chromium: $(/usr/bin/chromium --version 2>/dev/null || echo present)"
else
  if ! command -v apt-get >/dev/null; then
    echo "error: /usr/bin/chromium is missing and apt-get is not available; install Chromium so that /usr/bin/chromium exists" >&2
    exit 2
  fi
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
  fi
  echo "chromium: installing (apt-get install -y --no-install-recommends chromium)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium
fi

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "error: node (>= 20.19) and npm are needed for the Node implementation (crosstest/impls/node)" >&2
  exit 2
fi
echo "node: $(node --version)"
(cd crosstest/impls/node && npm ci --no-audit --no-fund)
