#!/usr/bin/env bash
# Installs the loopback PDS peer (channels/peers/pds): @atproto/dev-env and @atproto/pds at the
# versions pinned in package.json / package-lock.json, into ./node_modules.
#
# Idempotent and CI-safe (no prompts, no stdin): runs `npm ci` only when node_modules is
# missing, or when package-lock.json changed since the last successful install (a SHA-256
# stamp in node_modules/.kez-lock.sha256), or when the native better-sqlite3 module is
# missing. Needs Node 20 and npm; better-sqlite3 is built from source against the installed
# Node's headers (npm_config_nodedir=/usr), since no prebuilt binary can be downloaded.
# Takes about 2 minutes and 360 MB on a fresh machine; a few milliseconds afterwards.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "setup.sh: node and npm are needed (Node 20; Debian: apt-get install nodejs npm)" >&2
  exit 1
fi
NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$NODE_MAJOR" != "20" ]; then
  echo "setup.sh: warning: Node $NODE_MAJOR found; @atproto/dev-env@0.3.215 is tested on Node 20" >&2
fi

STAMP="node_modules/.kez-lock.sha256"
WANT="$(sha256sum package-lock.json | cut -d' ' -f1)"
HAVE="$(cat "$STAMP" 2>/dev/null || true)"
if [ -d node_modules ] && [ "$WANT" = "$HAVE" ] \
  && [ -f node_modules/better-sqlite3/build/Release/better_sqlite3.node ]; then
  echo "setup.sh: PDS peer already installed ($(pwd)/node_modules)"
  exit 0
fi

if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node.h ]; then
  export npm_config_nodedir=/usr
fi
export CI="${CI:-true}"
echo "setup.sh: installing the PDS peer with npm ci (about 2 minutes)" >&2
npm ci --no-audit --no-fund --loglevel=error </dev/null
# Checks that the native module loads, so a broken build fails here and not in a test.
node -e 'const D = require("better-sqlite3"); new D(":memory:").close()'
echo "$WANT" > "$STAMP"
echo "setup.sh: PDS peer installed ($(pwd)/node_modules)"
