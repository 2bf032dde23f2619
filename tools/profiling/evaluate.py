"""How well the differential profile finds an injected slowdown (``python -m tools evaluate-profiler``).

For each case (a library function and a benchmark whose body calls it) and each size (+5%,
+20% of the body's time), the evaluation commits, in a throwaway clone of the repository,
the base with the function slowed down by a loop (``inject.py``), profiles base against that
commit with the real pipeline, and checks where the injected function ranks in the self
table for time and for bytecodes. An A/A profile (base against itself) per case gives the
false top change and checks that the exact counts come out identical. The clone shares the
repository's objects read-only (``git clone --shared``) and is deleted at the end; the real
working tree and repository are never written.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from tools.profiling import diff, inject, pipeline, runner, trees
from tools.profiling.api import Options, Project
from tools.profiling.result import ProfileResult
from tools.profiling.targets import resolve_target


@dataclass(frozen=True)
class Case:
    component: str
    file: str  # repository-relative
    function: str  # qualified name
    benchmark: str
    params: str


CASES = (
    Case(
        "registry filter",
        "intellirouter/registry.py",
        "ModelRegistry.find_models",
        "model_registry_benchmarks.FindModels.time_find_models_indexed",
        "selectivity='10%'",
    ),
    Case(
        "routing strategy",
        "intellirouter/strategies.py",
        "CostOptimizedStrategy.select",
        "router_benchmarks.Route.time_route",
        "strategy='cost_optimized', n_models=10",
    ),
    Case(
        "memory retrieval",
        "intellirouter/memory.py",
        "InMemoryBackend.time_range",
        "memory_benchmarks.TimeRangeRetrieval.time_time_range",
        "n_entries=1000",
    ),
    Case(
        "RAG retrieval",
        "intellirouter/rag.py",
        "RAGManager._walk",
        "rag_manager_benchmarks.RetrieveContext.time_retrieve_context",
        "n_chunks=100",
    ),
)
SIZES = (0.05, 0.20)


@dataclass
class Trial:
    component: str
    function: str
    benchmark: str
    size: float | None  # None: A/A
    iterations: int
    calls: float  # calls of the function per body call
    time_rank: int | None  # 1 = ranked first in the self table (speed-normalised, as reported); None = absent
    time_rank_raw: int | None  # the same without the speed factor
    speed: float  # the head process's speed factor
    bytecode_rank: int | None
    time_change_pct: float | None  # measured change of the body's total (profiled time)
    time_change_normalised_pct: float | None  # the same with head ÷ its speed factor
    bytecode_change_pct: float | None
    machine_change_pct: float | None
    function_bytecode_delta: float | None  # the injected function's own bytecodes added per body call
    top_time: str
    top_bytecodes: str
    exact_equal: bool | None  # A/A only: bytecode and machine totals identical
    seconds: float

    def as_json(self) -> dict:
        return asdict(self)


def _git(repo: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "evaluate", "GIT_AUTHOR_EMAIL": "e@example.invalid"}
    env |= {"GIT_COMMITTER_NAME": "evaluate", "GIT_COMMITTER_EMAIL": "e@example.invalid"}
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env={**os.environ, **env})
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.strip()}")
    return proc.stdout.strip()


def injected_commit(clone: Path, base: str, case: Case, k: int) -> str:
    """A commit on ``base`` in ``clone`` with ``case.function`` slowed by ``k`` loop iterations."""
    _git(clone, "checkout", "-q", "--detach", base)
    path = clone / case.file
    path.write_text(inject.inject(path.read_text(encoding="utf-8"), case.function, k), encoding="utf-8")
    _git(clone, "commit", "-q", "-am", f"evaluate-profiler: {case.function} +{k} loop iterations per call")
    commit = _git(clone, "rev-parse", "HEAD")
    _git(clone, "checkout", "-q", "--detach", base)
    return commit


def _rank(rows: list[diff.Change], case: Case) -> int | None:
    for i, row in enumerate(rows, 1):
        if (row.file, row.function) == (case.file, case.function):
            return i
    return None


def _pct(result: ProfileResult, get: Callable) -> float | None:
    try:
        b, h = get(result.sides["base"]), get(result.sides["head"])
    except (KeyError, TypeError):
        return None
    return (h / b - 1) * 100 if b else None


@dataclass(frozen=True)
class Setting:
    """What every profile of one evaluation shares."""

    work: Project  # the throwaway clone
    base: str
    options: Options
    iteration_s: float  # CPU seconds of one injected loop iteration


def _profile(setting: Setting, target, commits: dict, machine: bool = True) -> ProfileResult:
    options = setting.options
    with trees.revision_trees(setting.work.repo, list(commits.values())) as tmap:
        sides = [runner.Side(role, c, tmap[c]) for role, c in commits.items()]
        return pipeline.profile_target(
            target,
            sides,
            setting.work.benchmark_dir,
            runner.Budget(options.budget_s),
            time_s=options.time_s,
            clock=options.clock,
            machine_counts=machine and options.machine,
        )


def body_cost(setting: Setting, target, case: Case) -> tuple[float, float]:
    """(CPU seconds per body call, calls of the case's function per body call) at base."""
    result = _profile(setting, target, {"head": setting.base}, machine=False)
    stats = result.sides["head"].profiles["time"].table.get((case.file, case.function))
    if stats is None or not stats.calls:
        raise RuntimeError(f"{case.benchmark}({case.params}) never calls {case.function}")
    return result.plan.call_s, stats.calls


def _own_delta(rows: list[diff.Change], case: Case) -> float | None:
    return next((r.delta for r in rows if (r.file, r.function) == (case.file, case.function)), None)


def judge(case: Case, size: float | None, k: int, calls: float, result: ProfileResult) -> Trial:
    """Where the injected function ranks, and how much the body's totals moved."""
    base, head = result.sides["base"], result.sides["head"]
    factor = diff.speed_factor(base.profiles, head.profiles)
    rows = {m: diff.changes(base.profiles[m], head.profiles[m], "self") for m in ("time", "bytecodes")}
    raw_time_rank = _rank(rows["time"], case)
    rows["time"] = diff.changes(base.profiles["time"], head.profiles["time"], "self", factor)
    machine = _pct(result, lambda s: s.machine["total"])
    exact = None
    if size is None:
        same_machine = base.machine is None or head.machine is None or base.machine["total"] == head.machine["total"]
        exact = base.profiles["bytecodes"].total == head.profiles["bytecodes"].total and same_machine
    return Trial(
        component=case.component,
        function=case.function,
        benchmark=f"{case.benchmark}({case.params})",
        size=size,
        iterations=k,
        calls=calls,
        time_rank=_rank(rows["time"], case),
        time_rank_raw=raw_time_rank,
        speed=round(factor, 4),
        bytecode_rank=_rank(rows["bytecodes"], case),
        time_change_pct=_pct(result, lambda s: s.profiles["time"].total),
        time_change_normalised_pct=_pct(result, lambda s: s.profiles["time"].total / (factor if s is head else 1.0)),
        bytecode_change_pct=_pct(result, lambda s: s.profiles["bytecodes"].total),
        machine_change_pct=machine,
        function_bytecode_delta=_own_delta(rows["bytecodes"], case),
        top_time=rows["time"][0].function if rows["time"] else "",
        top_bytecodes=rows["bytecodes"][0].function if rows["bytecodes"] and rows["bytecodes"][0].delta > 0 else "",
        exact_equal=exact,
        seconds=round(result.seconds, 1),
    )


def _clone(repo: Path, dest: Path) -> Path:
    """A clone sharing ``repo``'s objects (read-only use of them): commits land in the clone only."""
    proc = subprocess.run(
        ["git", "clone", "-q", "--shared", "--no-checkout", str(repo), str(dest)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(f"git clone failed: {proc.stderr.strip()}")
    return dest


def case_trials(setting: Setting, target, case: Case, sizes, aa: bool, progress: Callable[[str], None]) -> list[Trial]:
    """The A/A profile and one injected profile per size, for one case."""
    body_s, calls = body_cost(setting, target, case)
    progress(
        f"{case.component}: {case.function} in {target.display}: {body_s * 1e6:.1f} µs CPU per body call, {calls:g} calls"
    )
    trials = []
    heads = [(None, 0, setting.base)] if aa else []
    for size in sizes:
        k = inject.iterations_for(size, body_s, calls, setting.iteration_s)
        heads.append((size, k, injected_commit(setting.work.repo, setting.base, case, k)))
    for size, k, head in heads:
        result = _profile(setting, target, {"base": setting.base, "head": head})
        trials.append(judge(case, size, k, calls, result))
        progress(f"  {'A/A' if size is None else f'+{size:.0%}'}: {trials[-1]}")
    return trials


def evaluate(
    project: Project,
    base_rev: str,
    cases=CASES,
    sizes=SIZES,
    *,
    options: Options | None = None,
    aa: bool = True,
    repeat: int = 1,
    progress: Callable[[str], None] = print,
) -> list[Trial]:
    """Every case at every size (and A/A), ``repeat`` times, in a throwaway clone; see the
    module docstring."""
    base = trees.resolve_commit(project.repo, base_rev)
    tmp = Path(tempfile.mkdtemp(prefix="ir-evaluate-profiler-"))
    try:
        clone = _clone(project.repo, tmp / "clone")
        _git(clone, "checkout", "-q", "--detach", base)
        bench_dir = clone / project.benchmark_dir.relative_to(project.repo)
        setting = Setting(Project(clone, bench_dir), base, options or Options(), inject.iteration_seconds())
        catalog = pipeline.discover(bench_dir, clone)
        trials = []
        for _ in range(repeat):
            for case in cases:
                target = resolve_target(catalog, case.benchmark, case.params)
                trials += case_trials(setting, target, case, sizes, aa, progress)
        return trials
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _rank_text(rank: int | None) -> str:
    return "absent" if rank is None else f"{rank}"


def _pct_text(pct: float | None) -> str:
    return "—" if pct is None else f"{pct:+.1f}%"


def summary(trials: list[Trial]) -> dict:
    """How often the injected function ranked first, per metric, and the A/A checks."""
    injected = [t for t in trials if t.size is not None]
    aa = [t for t in trials if t.size is None]
    return {
        "injections": len(injected),
        "time_first": sum(t.time_rank == 1 for t in injected),
        "time_first_raw": sum(t.time_rank_raw == 1 for t in injected),
        "bytecodes_first": sum(t.bytecode_rank == 1 for t in injected),
        "aa_runs": len(aa),
        "aa_exact_equal": sum(bool(t.exact_equal) for t in aa),
        "max_seconds": max((t.seconds for t in trials), default=0.0),
    }


def markdown(trials: list[Trial], command: str, clock: str) -> str:
    """The results table (docs/profiling.md quotes it)."""
    from tools.render import md_code, md_table

    s = summary(trials)
    headers = ["component", "function", "benchmark", "injected", "loop k", "time rank", "(raw)", "bytecode rank"]
    headers += ["speed", "time Δ", "bytecodes Δ", "machine instr. Δ", "top time row", "s"]
    rows = [
        [
            t.component,
            md_code(t.function),
            md_code(t.benchmark),
            "A/A" if t.size is None else f"+{t.size:.0%}",
            t.iterations or "—",
            _rank_text(t.time_rank) if t.size is not None else "—",
            _rank_text(t.time_rank_raw) if t.size is not None else "—",
            _rank_text(t.bytecode_rank) if t.size is not None else ("identical" if t.exact_equal else "DIFFER"),
            f"{t.speed:.3f}",
            _pct_text(t.time_change_normalised_pct),
            _pct_text(t.bytecode_change_pct),
            _pct_text(t.machine_change_pct),
            md_code(t.top_time) if t.top_time else "—",
            f"{t.seconds:.0f}",
        ]  # fmt: skip
        for t in trials
    ]
    lines = [
        f"Command: {md_code(command)} (cProfile clock: {clock}).",
        "",
        f"- injected function ranked first by time: **{s['time_first']}/{s['injections']}** "
        f"(without the speed factor: {s['time_first_raw']}/{s['injections']}); "
        f"by bytecodes: **{s['bytecodes_first']}/{s['injections']}**",
        f"- A/A runs with identical bytecode and machine-instruction totals: {s['aa_exact_equal']}/{s['aa_runs']}",
        f"- slowest profile: {s['max_seconds']:.0f} s",
        "",
        md_table(headers, rows, [False] * 4 + [True] * 8 + [False, True]),
    ]
    return "\n".join(lines)
