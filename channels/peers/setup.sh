#!/usr/bin/env bash
# Installs the real peers the channel tests start on loopback, idempotently:
#   - knot, an authoritative DNS server (Debian; its service is never started by apt),
#   - the Fedify ActivityPub server's npm dependencies,
#   - the ATProto PDS and PLC directory's npm dependencies (@atproto/dev-env).
# The nostr relay, the recorded GitHub API and the sigchain source run in-process (Rust).
# scripts/test.sh calls it before the tests; CI may run it on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")"
bash knot/setup.sh
bash fedify/setup.sh
bash pds/setup.sh
