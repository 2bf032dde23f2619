#!/usr/bin/env bash
# The one-shot benchmark pipeline (the README's main job), from a fresh clone:
#   venv -> asv machine -> asv run --record-samples -> export CSV -> regression report against
#   the previous results -> performance report + charts (marking the report's change points and
#   environment shifts) -> asv publish -> offline site -> dashboard (in the site's dashboard/).
#
# Usage: scripts/run_benchmarks.sh [--quick] [--rounds N] [--extra-rounds N] [--budget D] [--base-lag K] [--skip-existing]
#                                   [--machine NAME] [--env NAME]... [--shard k/N | --no-measure [--rounds-dir DIR]...] [RANGE]
#   RANGE          asv range to measure (default: HEAD^!, the current commit); e.g. main~5..main, NEW
#   --quick        asv --quick: one sample per benchmark (smoke run; numbers are rough)
#   --rounds N     regression check measures base and head interleaved, N rounds each (default 0:
#                  compare the stored results; wall-time verdicts then stay inconclusive)
#   --extra-rounds N  with --rounds: up to N more rounds for inconclusive benchmarks (default: = N)
#   --budget D     regression check measures base and head sequentially within D (e.g. 10m): everything
#                  once a side, then rounds only for the noisy series still open (regressions --budget)
#   --base-lag K   compare with the K-th previous commit with results (default 1); the daily
#                  job uses 5 so that its interleaved sessions straddle every recent step
#   --skip-existing  do not re-measure commits that already have results (asv --skip-existing-commits);
#                  without it, a commit measured again overwrites its result file
#   --machine NAME asv machine name (default: $ASV_MACHINE or the host name)
#   --env NAME     only this asv environment of the matrix (asv -E; repeatable), e.g. to keep a local run small
#   --shard k/N    measure only shard k of N (python -m tools shard): asv run and, with --rounds, the
#                  interleaved rounds of its benchmarks; no reports (merge the shards, then --no-measure)
#   --no-measure   measure nothing: CSV, reports, regressions (from --rounds-dir DIR..., e.g. merged
#                  shards, else the stored results), site, of every machine unless --machine is given
# Exit status: non-zero when a step fails (a benchmark that fails on its own is reported, not fatal).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

QUICK=0
ROUNDS=0
EXTRA_ROUNDS=""
BUDGET=""
BASE_LAG=1
SKIP_EXISTING=0
MACHINE="${ASV_MACHINE:-$(hostname)}"
MACHINE_GIVEN=0
SHARD=""
NO_MEASURE=0
ENVS=()
ROUNDS_DIRS=()
RANGE=""
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --rounds) ROUNDS="${2:?--rounds needs a number}"; shift ;;
        --extra-rounds) EXTRA_ROUNDS="${2:?--extra-rounds needs a number}"; shift ;;
        --budget) BUDGET="${2:?--budget needs a duration, e.g. 10m}"; shift ;;
        --base-lag) BASE_LAG="${2:?--base-lag needs a number}"; shift ;;
        --skip-existing) SKIP_EXISTING=1 ;;
        --machine) MACHINE="${2:?--machine needs a name}"; MACHINE_GIVEN=1; shift ;;
        --env) ENVS+=("${2:?--env needs an environment name}"); shift ;;
        --shard) SHARD="${2:?--shard needs k/N}"; shift ;;
        --no-measure) NO_MEASURE=1 ;;
        --rounds-dir) ROUNDS_DIRS+=("${2:?--rounds-dir needs a folder}"); shift ;;
        -h|--help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "error: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) [ -z "$RANGE" ] || { echo "error: one RANGE only (got '$RANGE' and '$1')" >&2; exit 2; }
           RANGE="$1" ;;
    esac
    shift
done
RANGE="${RANGE:-HEAD^!}"
if [ -n "$SHARD" ] && [ "$NO_MEASURE" = 1 ]; then
    echo "error: --shard measures a share of the suite, --no-measure measures nothing: give one of them" >&2
    exit 2
fi
if [ -n "$SHARD" ] && ! [[ "$SHARD" =~ ^[0-9]+/[0-9]+$ ]]; then
    echo "error: --shard $SHARD: expected k/N, e.g. 1/2" >&2
    exit 2
fi
if [ ${#ROUNDS_DIRS[@]} -gt 0 ] && { [ "$NO_MEASURE" = 0 ] || [ "$ROUNDS" -gt 0 ] || [ -n "$BUDGET" ]; }; then
    echo "error: --rounds-dir goes with --no-measure (and not with --rounds or --budget)" >&2
    exit 2
fi

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

# The machine's results, or every machine's (a merged tree) when measuring nothing and none is named.
MACHINE_ARGS=(--machine "$MACHINE")
[ "$NO_MEASURE" = 1 ] && [ "$MACHINE_GIVEN" = 0 ] && MACHINE_ARGS=()
ENV_ARGS=()
for e in ${ENVS[@]+"${ENVS[@]}"}; do ENV_ARGS+=(-E "$e"); done

measure() {
    step "asv machine: $MACHINE"
    # asv machine --yes --machine NAME records the name alone: record os, arch, cpu, cores and ram too
    python -m tools.provenance machine "$MACHINE"
    local run_args=(--record-samples --machine "$MACHINE" --launch-method forkserver ${ENV_ARGS[@]+"${ENV_ARGS[@]}"})
    [ "$QUICK" = 1 ] && run_args+=(--quick)
    [ "$SKIP_EXISTING" = 1 ] && run_args+=(--skip-existing-commits)
    if [ -n "$SHARD" ]; then
        step "shard $SHARD of the suite"
        local regex
        regex="$(python -m tools shard --shard "$SHARD" --machine "$MACHINE")"
        run_args+=(--bench "$regex")
    fi
    step "asv run $RANGE"
    local started rc
    started="$(python -c 'import time; print(time.time())')"
    set +e
    asv run "${run_args[@]}" "$RANGE"
    rc=$?
    set -e
    # asv exits 2 when some benchmark failed: the others were measured and the reports show the failures
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then
        echo "error: asv run failed (exit $rc)" >&2
        exit "$rc"
    fi
    [ "$rc" -eq 2 ] && echo "note: some benchmarks failed; they are listed as failed in the reports" >&2
    # asv does not record its own version: stamp it into the result files this run wrote
    python -m tools.provenance stamp "$MACHINE" "$started"
}

regression_args() {
    REG_ARGS=(${MACHINE_ARGS[@]+"${MACHINE_ARGS[@]}"} --base-lag "$BASE_LAG")
    [ -z "$SHARD" ] && REG_ARGS+=(--history)
    [ "$ROUNDS" -gt 0 ] && REG_ARGS+=(--rounds "$ROUNDS")
    [ -n "$EXTRA_ROUNDS" ] && REG_ARGS+=(--extra-rounds "$EXTRA_ROUNDS")
    [ -n "$BUDGET" ] && REG_ARGS+=(--budget "$BUDGET")
    [ -n "$SHARD" ] && { [ "$ROUNDS" -gt 0 ] || [ -n "$BUDGET" ]; } && REG_ARGS+=(--shard "$SHARD")
    [ ${#ENV_ARGS[@]} -gt 0 ] && REG_ARGS+=(--asv-args "${ENV_ARGS[*]}")
    for d in ${ROUNDS_DIRS[@]+"${ROUNDS_DIRS[@]}"}; do REG_ARGS+=(--rounds-dir "$d"); done
    return 0
}

[ "$NO_MEASURE" = 1 ] || measure

if [ -n "$SHARD" ]; then
    if [ "$ROUNDS" -gt 0 ] || [ -n "$BUDGET" ]; then
        step "shard $SHARD: base and head interleaved (${BUDGET:+budget $BUDGET}${BUDGET:-$ROUNDS rounds each})"
        regression_args
        tool regressions "${REG_ARGS[@]}"
    fi
    step "shard $SHARD measured"
    echo "  results: .asv/results (rounds: .asv/rounds); merge the shards with" >&2
    echo "  python -m tools merge-results .asv/results <shard results>... then run this script with --no-measure" >&2
    exit 0
fi

step "export (CSV)"
tool export ${MACHINE_ARGS[@]+"${MACHINE_ARGS[@]}"}

step "regressions against the previous results"
regression_args
tool regressions "${REG_ARGS[@]}"
REPORT_JSON=""
for p in "${OUTPUTS[@]}"; do
    case "$p" in *regression_report_*.json) REPORT_JSON="$p" ;; esac
done

step "performance report and charts (change points and environment shifts marked)"
if [ -n "$REPORT_JSON" ]; then
    tool report ${MACHINE_ARGS[@]+"${MACHINE_ARGS[@]}"} --marks "$REPORT_JSON"
else
    tool report ${MACHINE_ARGS[@]+"${MACHINE_ARGS[@]}"}
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
