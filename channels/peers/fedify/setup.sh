#!/usr/bin/env bash
# Installs the Fedify ActivityPub peer (server.mjs) for the ap channel tests
# (channels/peers/src/fedify.rs): `npm ci` from the committed package-lock.json, pinned to
# @fedify/fedify 1.5.9 (the last release for Node 20). Idempotent: does nothing when
# node_modules already matches the lock file. Unattended; needs node >= 20 and the npm registry.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "fedify: node and npm are needed (Node 20)" >&2
    exit 1
fi

stamp=node_modules/.kez-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d node_modules/@fedify/fedify ]; then
    echo "fedify: already installed"
    exit 0
fi

npm ci --no-audit --no-fund --loglevel=error </dev/null
echo "$want" > "$stamp"
echo "fedify: installed @fedify/fedify $(node -p 'require("./node_modules/@fedify/fedify/package.json").version')"
