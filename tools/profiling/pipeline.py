"""One benchmark, one or two revisions: run the children, read the results back.

``discover`` asks asv (in a child, with the current benchmark code) which benchmarks exist;
``profile_target`` runs every step of ``runner`` and ``machine`` for one target within its
budget and returns a ``ProfileResult``. Revision trees are made by the caller
(``trees.revision_trees``), so several benchmarks share one extraction.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from tools.errors import ToolError
from tools.profiling import machine, runner
from tools.profiling.result import ProfileResult, side_result
from tools.profiling.targets import Benchmark, Target, catalog_from_json

DISCOVERY_TIMEOUT_S = 120.0
LONGER_TIME = 2.5  # at most this many times the cProfile seconds when cachegrind will not run anyway


def discover(benchmark_dir: Path, library_root: Path) -> dict[str, Benchmark]:
    """asv's discovery of the benchmarks in ``benchmark_dir`` (``library_root`` importable)."""
    if not (benchmark_dir / "__init__.py").is_file():
        raise ToolError(f"{benchmark_dir} is not a benchmark package (no __init__.py)")
    with tempfile.TemporaryDirectory(prefix="ir-profile-discover-") as tmp:
        work = Path(tmp)
        job = {"mode": "discover", "benchmark_dir": str(benchmark_dir), "library_root": str(library_root), "out": tmp}
        try:
            runner.run_children(
                [runner.Child(job, work, work / "discover.log")], runner.Budget(DISCOVERY_TIMEOUT_S), "discovery"
            )
        except runner.ProfileFailed as exc:
            raise ToolError(f"cannot list the benchmarks in {benchmark_dir}: {exc}") from None
        return catalog_from_json(json.loads((work / "discover.json").read_text(encoding="utf-8")))


def profile_target(
    target: Target,
    sides: list[runner.Side],
    benchmark_dir: Path,
    budget: runner.Budget,
    *,
    keep: Path | None = None,
    time_s: float = runner.TIME_TARGET_S,
    clock: str = runner.DEFAULT_CLOCK,
    machine_counts: bool = True,
) -> ProfileResult:
    """Profile ``target`` at every side; raises ``runner.ProfileFailed`` when nothing could run.

    The children's raw files live in a temporary folder, removed afterwards (``keep``: made
    inside that folder and left in place, for debugging)."""
    work = Path(tempfile.mkdtemp(prefix="ir-profile-", dir=keep))
    phases: dict[str, float] = {}

    def lap(name: str) -> None:  # wall seconds per step, for the report and the budget figures
        phases[name] = round(budget.spent() - sum(phases.values()), 2)

    lap("before")  # what the budget spent before: discovery and extraction, for the command
    try:
        runs = runner.new_runs(sides, work)
        runner.setup_caches(target, runs, benchmark_dir, budget)
        lap("setup_cache")
        plan = runner.plan_calls(runner.calibrate(target, runs, benchmark_dir, budget), target.memory, time_s, clock)
        live = [r for r in runs if r.skipped is None]
        plan = _longer_time(plan, len(live), budget, machine_counts)
        lap("calibrate")
        runner.profile_children(target, live, plan, benchmark_dir, budget)
        lap("profile")
        if machine_counts:
            machine.machine_counts(target, [r for r in live if r.skipped is None], plan, benchmark_dir, budget)
            lap("cachegrind")
        result = ProfileResult(target, {r.side.role: side_result(r) for r in runs}, plan, phases=phases)
        result.seconds = budget.spent()
        return result
    finally:
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)


def _longer_time(plan: runner.Plan, sides: int, budget: runner.Budget, machine_counts: bool) -> runner.Plan:
    """When cachegrind was asked for but will not fit, its budget goes to cProfile: up to
    ``LONGER_TIME`` times the seconds, as far as the rest of the profile step leaves room."""
    other = runner.profile_other_s(plan)
    if not machine_counts or machine.would_run(plan, sides, budget.remaining() - other - plan.time_s):
        return plan
    room = budget.remaining() - other - machine.WRITE_RESERVE_S
    return replace(plan, time_s=min(max(room, plan.time_s), plan.time_s * LONGER_TIME))
