#!/usr/bin/env bash
# Create .venv (once) and install the project with its dev and bench extras.
# Sourced by scripts/test.sh and scripts/run_benchmarks.sh so both set themselves up.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.venv"
# sha1sum on Linux, shasum on macOS (the CI matrix runs both)
if command -v sha1sum >/dev/null 2>&1; then SHA1=(sha1sum); else SHA1=(shasum -a 1); fi
STAMP="$VENV/.installed-$("${SHA1[@]}" "$ROOT/pyproject.toml" | cut -c1-12)"
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ]; then
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e "${ROOT}[dev]"
    # Otava is a baseline of `tools evaluate-detector` only. Its wheel pins numpy 2.2 / scipy<1.17
    # and pulls cloud and database clients; its analysis code needs just numpy and scipy.
    "$VENV/bin/python" -m pip install --quiet --no-deps "apache-otava==0.8.0" \
        || echo "warning: apache-otava not installed; the evaluation reports Otava as unavailable" >&2
    rm -f "$VENV"/.installed-* && touch "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
