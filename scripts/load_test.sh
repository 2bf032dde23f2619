#!/usr/bin/env bash
# Load test: Locust against the mock backend directly (the floor), this gateway, and with
# --peer litellm LiteLLM's proxy, all on the same mock, at each user count; then the load
# report and charts.
#
# Usage: scripts/load_test.sh [--users 1,8,32,128] [--duration 20] [--workers K] [--peer litellm]
#                             [--scenario mix|short|memory] [--redis] [--httpx] [--gateway-workers N]
#                             [--latency-ms 50] [--max-requests N] [--out DIR] [--no-report]
#   --users        user counts, one step per count and target (default 1,8,32,128)
#   --duration     seconds per step (default 20); every step is also capped at --max-requests
#   --workers K    Locust worker processes under one master (default 1; 0 = one local process)
#   --peer litellm also load LiteLLM's proxy; installs litellm[proxy] into .venv-litellm on first use
#   --scenario     which locustfile in benchmarks/load (default mix: short, long, streamed, multi-turn)
#   --redis        start a redis-server and give the gateway REDIS_URL (shared memory and counters)
#   --httpx        also load a second gateway whose upstream client is httpx (target gateway-httpx)
#   --gateway-workers N  worker processes of the gateway and of LiteLLM (default 1)
#   --out DIR      output root (default metrics/performance)
# Writes DIR/load/load_results_<ts>.csv (+ .json with the settings) and
# DIR/reports/load_report_<ts>.{md,html} with charts in DIR/charts/.
# Every server listens on 127.0.0.1 and is stopped on exit, on failure and on Ctrl-C.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# the command as typed, for the results' .json and the report ("every figure names its command")
LOAD_TEST_COMMAND="scripts/load_test.sh${*:+ $*}"
export LOAD_TEST_COMMAND
REPORT=1
PEER=""
OUT=metrics/performance
args=()
while [ $# -gt 0 ]; do
    case "$1" in
        -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
        --no-report) REPORT=0 ;;
        --out) OUT="${2:?--out needs a folder}"; shift ;;
        --peer) PEER="${2:-}"; args+=("$1" "${2:-}"); shift ;;
        *) args+=("$1") ;;
    esac
    shift
done

source scripts/bootstrap_venv.sh

# LiteLLM's proxy pins many packages (its own uvicorn, fastapi, openai ...): it gets a venv of
# its own so that it cannot change what the gateway under test runs on. Only on demand: huge.
LITELLM_SPEC="${LITELLM_SPEC:-litellm[proxy]==1.108.7}"
if [ "$PEER" = litellm ] && [ ! -x .venv-litellm/bin/litellm ]; then
    echo "installing $LITELLM_SPEC into .venv-litellm (once; a few minutes)" >&2
    python3 -m venv .venv-litellm
    .venv-litellm/bin/python -m pip install --quiet --upgrade pip
    .venv-litellm/bin/python -m pip install --quiet "$LITELLM_SPEC" \
        || { echo "error: could not install $LITELLM_SPEC" >&2; rm -rf .venv-litellm; exit 1; }
fi

DRIVER=""
cleanup() {
    if [ -n "$DRIVER" ] && kill -0 "$DRIVER" 2>/dev/null; then
        kill -TERM "$DRIVER" 2>/dev/null || true  # the driver stops its servers, then exits
        wait "$DRIVER" 2>/dev/null || true
    fi
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

python benchmarks/load/run_load.py "${args[@]}" --out "$OUT/load" &
DRIVER=$!
status=0
wait "$DRIVER" || status=$?
DRIVER=""
[ "$status" -eq 0 ] || exit "$status"

if [ "$REPORT" = 1 ]; then
    python -m tools load-report --output-dir "$OUT"
fi
