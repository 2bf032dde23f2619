"""Machine instructions per body call under cachegrind, the instruction channel's way.

As ``benchmarks/framework/instructions.py`` does for ``track_*_instructions`` (and with its
command and environment: ``cachegrind_prefix``, ``child_env``, ``PYTHONHASHSEED=0``), each side
runs two children under ``valgrind --tool=cachegrind --cache-sim=no``: A does start-up,
setup and warm-up, B the same plus ``calls`` body calls; ``(B - A) / calls`` is the body's
own count, everything shared cancelling exactly. cachegrind also attributes instructions to
C functions of the interpreter and its extensions; the same difference per C function says
where in C the work went (``list_sort_impl``, ``dict_subscript`` ...). Python functions are
invisible at that level (Python 3.11 runs every Python frame inside one C function), which
is why Python-level attribution comes from the bytecode counts instead.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from tools.profiling.channel import instructions
from tools.profiling.runner import Budget, Child, Plan, ProfileFailed, SideRun, job_for, run_children
from tools.profiling.targets import Target

# wall seconds per cachegrind child vs native, measured 28-35x here at load 6-9 (a child that
# runs past the budget is killed, so an optimistic estimate costs time, never the budget)
VALGRIND_SLOWDOWN = 30.0
TOP_C_FUNCTIONS = 40
WRITE_RESERVE_S = 3.0  # of the budget, kept for loading the profiles and writing the report


def valgrind() -> str | None:
    return instructions().valgrind_path()


def estimate_s(plan: Plan, sides: int) -> float:
    """Wall seconds the cachegrind children should take: 2 per side, 2 cores."""
    one = VALGRIND_SLOWDOWN * (plan.ready_s + (1 + plan.machine_calls) * plan.call_s)
    return one * max(1.0, 2 * sides / 2)


def would_run(plan: Plan, sides: int, seconds_left: float) -> bool:
    """Whether the cachegrind step should fit in ``seconds_left`` (valgrind installed, estimate)."""
    return valgrind() is not None and estimate_s(plan, sides) <= seconds_left - WRITE_RESERVE_S


def parse_cachegrind(path: Path) -> tuple[int, dict[str, int]]:
    """(total, {C function: instructions}) of a cachegrind output file (``--cache-sim=no``)."""
    counts: dict[str, int] = defaultdict(int)
    total = None
    fn = "???"
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if line.startswith("fn="):
                fn = line[3:].strip()
            elif line[:1].isdigit():
                parts = line.split()
                if len(parts) >= 2:
                    counts[fn] += int(parts[1])
            elif line.startswith("summary:"):
                total = int(line.split()[1])
    if total is None:
        raise ProfileFailed(f"no 'summary:' line in cachegrind output {path}")
    return total, dict(counts)


def per_call(a: tuple[int, dict], b: tuple[int, dict], calls: int) -> dict:
    """{calls, total, functions}: B - A per call, C functions with the largest counts."""
    functions = {fn: (b[1].get(fn, 0) - a[1].get(fn, 0)) / calls for fn in set(a[1]) | set(b[1])}
    top = sorted((kv for kv in functions.items() if kv[1] != 0), key=lambda kv: (-abs(kv[1]), kv[0]))
    return {"calls": calls, "total": (b[0] - a[0]) / calls, "functions": dict(top[:TOP_C_FUNCTIONS])}


def _children(target: Target, runs: list[SideRun], plan: Plan, benchmark_dir: Path, tool: str) -> list[Child]:
    cachegrind_prefix = instructions().cachegrind_prefix
    children = []
    for run in runs:
        for tag, body in (("a", 0), ("b", 1)):
            # Same-length job and paths in A and B: parsing them costs the same instructions.
            job = job_for("count", target, run, benchmark_dir, calls=f"{plan.machine_calls:09d}", run_body=str(body))
            out = run.out / f"cachegrind.{tag}.out"
            prefix = cachegrind_prefix(tool, str(out), str(run.out / f"valgrind.{tag}.log"))
            children.append(Child(job, run.cwd, run.out / f"count.{tag}.log", tuple(prefix)))
    return children


def machine_counts(target: Target, runs: list[SideRun], plan: Plan, benchmark_dir: Path, budget: Budget) -> None:
    """Fill ``run.machine`` at every side, or ``run.machine_skipped`` with the reason."""
    tool = valgrind()
    live = [r for r in runs if r.skipped is None]
    left = budget.remaining() - WRITE_RESERVE_S  # reading the results and writing the report come after
    reason = None
    if tool is None:
        reason = "valgrind is not installed"
    elif estimate_s(plan, len(live)) > left:
        reason = f"cachegrind would need ~{estimate_s(plan, len(live)):.0f} s, {max(left, 0):.0f} s of the budget left"
    if reason:
        for run in live:
            run.machine_skipped = reason
        return
    try:
        run_children(_children(target, live, plan, benchmark_dir, tool), Budget(left), "cachegrind")
    except ProfileFailed as exc:
        for run in live:
            run.machine_skipped = str(exc)
        return
    for run in live:
        a = parse_cachegrind(run.out / "cachegrind.a.out")
        b = parse_cachegrind(run.out / "cachegrind.b.out")
        run.machine = per_call(a, b, plan.machine_calls)
