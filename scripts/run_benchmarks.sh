#!/usr/bin/env bash
# The one-shot benchmark pipeline (the README's main job), from a fresh clone:
#   venv -> asv machine -> asv run --record-samples -> export CSV -> regression report against
#   the previous results -> performance report + charts (marking the report's change points and
#   environment shifts) -> asv publish -> offline site -> dashboard (in the site's dashboard/).
#
# Usage: scripts/run_benchmarks.sh [--quick] [--rounds N] [--extra-rounds N] [--base-lag K] [--skip-existing] [--machine NAME] [RANGE]
#   RANGE          asv range to measure (default: HEAD^!, the current commit); e.g. main~5..main, NEW
#   --quick        asv --quick: one sample per benchmark (smoke run; numbers are rough)
#   --rounds N     regression check measures base and head interleaved, N rounds each (default 0:
#                  compare the stored results; wall-time verdicts then stay inconclusive)
#   --extra-rounds N  with --rounds: up to N more rounds for inconclusive benchmarks (default: = N)
#   --base-lag K   compare with the K-th previous commit with results (default 1); the daily
#                  job uses 5 so that its interleaved sessions straddle every recent step
#   --skip-existing  do not re-measure commits that already have results (asv --skip-existing-commits);
#                  without it, a commit measured again overwrites its result file
#   --machine NAME asv machine name (default: $ASV_MACHINE or the host name)
# Exit status: non-zero when a step fails (a benchmark that fails on its own is reported, not fatal).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

QUICK=0
ROUNDS=0
EXTRA_ROUNDS=""
BASE_LAG=1
SKIP_EXISTING=0
MACHINE="${ASV_MACHINE:-$(hostname)}"
RANGE=""
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --rounds) ROUNDS="${2:?--rounds needs a number}"; shift ;;
        --extra-rounds) EXTRA_ROUNDS="${2:?--extra-rounds needs a number}"; shift ;;
        --base-lag) BASE_LAG="${2:?--base-lag needs a number}"; shift ;;
        --skip-existing) SKIP_EXISTING=1 ;;
        --machine) MACHINE="${2:?--machine needs a name}"; shift ;;
        -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) [ -z "$RANGE" ] || { echo "error: one RANGE only (got '$RANGE' and '$1')" >&2; exit 2; }
           RANGE="$1" ;;
    esac
    shift
done
RANGE="${RANGE:-HEAD^!}"

step() { printf '\n==> %s\n' "$*" >&2; }
OUTPUTS=()
# run a tools command, echo its output, remember every "wrote <path>"
tool() {
    local out
    out="$(python -m tools "$@")" || { echo "$out"; return 1; }
    echo "$out"
    while IFS= read -r line; do
        case "$line" in wrote\ *) line="${line#wrote }"; OUTPUTS+=("${line%% (*}") ;; esac
    done <<<"$out"
}

step "environment (.venv)"
source scripts/bootstrap_venv.sh

step "asv machine: $MACHINE"
asv machine --yes --machine "$MACHINE" >/dev/null

step "asv run $RANGE"
RUN_ARGS=(--record-samples --machine "$MACHINE" --launch-method forkserver)
[ "$QUICK" = 1 ] && RUN_ARGS+=(--quick)
[ "$SKIP_EXISTING" = 1 ] && RUN_ARGS+=(--skip-existing-commits)
set +e
asv run "${RUN_ARGS[@]}" "$RANGE"
rc=$?
set -e
# asv exits 2 when some benchmark failed: the others were measured and the reports show the failures
if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then
    echo "error: asv run failed (exit $rc)" >&2
    exit "$rc"
fi
[ "$rc" -eq 2 ] && echo "note: some benchmarks failed; they are listed as failed in the reports" >&2

step "export (CSV)"
tool export --machine "$MACHINE"

step "regressions against the previous results"
REG_ARGS=(--machine "$MACHINE" --history --base-lag "$BASE_LAG")
[ "$ROUNDS" -gt 0 ] && REG_ARGS+=(--rounds "$ROUNDS")
[ -n "$EXTRA_ROUNDS" ] && REG_ARGS+=(--extra-rounds "$EXTRA_ROUNDS")
tool regressions "${REG_ARGS[@]}"
REPORT_JSON=""
for p in "${OUTPUTS[@]}"; do
    case "$p" in *regression_report_*.json) REPORT_JSON="$p" ;; esac
done

step "performance report and charts (change points and environment shifts marked)"
if [ -n "$REPORT_JSON" ]; then
    tool report --machine "$MACHINE" --marks "$REPORT_JSON"
else
    tool report --machine "$MACHINE"
fi

step "asv publish"
asv publish >/dev/null
HTML_DIR="$(python - <<'EOF'
from argparse import Namespace
from tools.config import settings_from_args
print(settings_from_args(Namespace()).html_dir)
EOF
)"
OUTPUTS+=("$HTML_DIR/index.html (asv site)")

if [ -f tools/commands/site.py ]; then
    step "offline site (vendored JavaScript)"
    python -m tools site
fi

# The dashboard goes into the site's dashboard/ folder (asv publish rebuilt the site, so after it),
# with the regression report's verdicts; the site's navigation bar gets a link to it.
if [ -f tools/commands/dashboard.py ]; then
    step "dashboard (beside the asv site)"
    DASH_ARGS=()
    [ -n "$REPORT_JSON" ] && DASH_ARGS+=(--report "$REPORT_JSON")
    tool dashboard "${DASH_ARGS[@]}"
fi

step "outputs"
for p in "${OUTPUTS[@]}"; do
    echo "  $p"
done
