#!/usr/bin/env bash
# Installs knot (an authoritative DNS server) and dnsutils (dig) for the dns channel tests
# (channels/peers/src/knot.rs). Idempotent: does nothing when knotd, knotc and dig are present.
# Runs unattended (CI=true, no stdin); uses sudo when not root. No daemon is started: a
# policy-rc.d that forbids service starts is written first (if none exists) and removed again
# if this script wrote it.
set -euo pipefail

if command -v knotd >/dev/null 2>&1 && command -v knotc >/dev/null 2>&1 && command -v dig >/dev/null 2>&1; then
    echo "knot: already installed ($(knotd --version 2>&1 | head -n1))"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo -n)
else
    echo "knot: not root and no sudo; install knot and dnsutils by hand" >&2
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive

wrote_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
    wrote_policy=1
fi
cleanup() {
    if [ "$wrote_policy" -eq 1 ]; then
        "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d
    fi
}
trap cleanup EXIT

"${SUDO[@]}" apt-get update -qq </dev/null
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends knot dnsutils </dev/null

echo "knot: installed ($(knotd --version 2>&1 | head -n1))"
