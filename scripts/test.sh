#!/usr/bin/env bash
# Install fsgate with its dev extra into .venv and run the whole test suite.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'  # dev includes the server extra
# Bytecode ahead of time: a helper starts in a read-only sandbox and cannot write .pyc, so
# without this every helper would compile fsgate from source again.
.venv/bin/python -m compileall -q client service
# The Node.js client's packages, exactly from its lock file, when it changed (the Node test
# runs it too; without node/npm that test is skipped and says so).
if command -v npm >/dev/null 2>&1 && \
   [ ! clients/node/node_modules/.package-lock.json -nt clients/node/package-lock.json ]; then
  (cd clients/node && npm ci --no-audit --no-fund --loglevel=error)
fi
# The third-party MCP programs tests/mcp runs (the Inspector CLI and the reference filesystem
# server), the same way.
if command -v npm >/dev/null 2>&1 && \
   [ ! tests/mcp/node/node_modules/.package-lock.json -nt tests/mcp/node/package-lock.json ]; then
  (cd tests/mcp/node && npm ci --no-audit --no-fund --loglevel=error)
fi
exec .venv/bin/python -m pytest "$@"
