#!/usr/bin/env bash
# The test command: sets up .venv and system tools it needs, then runs pytest.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/bootstrap_venv.sh
python -m pytest "$@"
