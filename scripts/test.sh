#!/usr/bin/env bash
# The test command: sets up .venv and the system tools the tests need, then runs pytest.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# The browser test needs Debian's Chromium and npm (the offline site vendors its scripts
# from the npm registry), the instruction channel needs valgrind, and actionlint checks
# workflow scripts with shellcheck, and the gateway's shared-state tests start their own
# redis-server (Debian's). Install them when we can (root with apt-get, as in CI);
# otherwise the tests that need them skip, outside CI.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v valgrind >/dev/null 2>&1 || missing+=(valgrind)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ ${#missing[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]} (apt-get)" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

source scripts/bootstrap_venv.sh
# Lint and format first (pyproject.toml [tool.ruff]): a finding fails the run like a failed test.
ruff check --quiet .
ruff format --check --quiet .
python -m pytest "$@"
