"""The profiling API: one benchmark (``profile_benchmark``, raises on bad input) and the
flagged benchmarks of a regression report (``profile_flagged``, never raises).

``profile_flagged(rows, base, head, out_dir)`` is what a report calls for its regressions: it
profiles at most ``cap`` distinct workloads (a ``time_x`` and its ``track_x_instructions`` twin
are one workload), each within ``budget_s`` seconds, and returns for every row's
``(benchmark, params)`` a ``ProfileOutcome``: the paths of ``diff.md``/``diff.json``, the
function whose own cost grew most per metric, or why there is no profile.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from tools.config import DEFAULT_CONFIG, read_asv_conf
from tools.errors import ToolError
from tools.profiling import pipeline, runner, trees
from tools.profiling.output import write_profile
from tools.profiling.report import top_changes
from tools.profiling.result import ProfileResult
from tools.profiling.targets import Benchmark, Target, resolve_target

DEFAULT_BUDGET_S = 60.0
DEFAULT_CAP = 5


@dataclass(frozen=True)
class Project:
    """Where the library's history and the current benchmark code are."""

    repo: Path
    benchmark_dir: Path


@dataclass(frozen=True)
class Options:
    """How one profile runs."""

    budget_s: float = DEFAULT_BUDGET_S  # everything for one benchmark, both revisions
    clock: str = runner.DEFAULT_CLOCK  # cProfile's clock: cpu or wall
    time_s: float = runner.TIME_TARGET_S  # seconds of cProfile sampling per side
    machine: bool = True  # count machine instructions under cachegrind (when it fits the budget)


@dataclass(frozen=True)
class TopFunction:
    metric: str  # time | bytecodes | memory
    function: str
    file: str
    line: int | None
    base: float | None  # None in a single-revision profile
    head: float
    delta: float | None
    delta_pct: float | None


@dataclass(frozen=True)
class ProfileOutcome:
    """One flagged benchmark's profile, or why there is none (``reason``)."""

    folder: Path | None = None
    diff_md: Path | None = None
    diff_json: Path | None = None
    top: tuple[TopFunction, ...] = ()
    reason: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.reason is None


def load_project(config: str | Path | None = None) -> Project:
    """``repo`` and ``benchmark_dir`` from asv.conf.json (default ./asv.conf.json, else the cwd)."""
    path = Path(config) if config else Path(DEFAULT_CONFIG)
    if config and not path.is_file():
        raise ToolError(f"asv configuration {path} not found")
    conf = read_asv_conf(path) if path.is_file() else {}
    root = path.resolve().parent if path.is_file() else Path.cwd()
    repo = str(conf.get("repo", "."))
    if "://" in repo or repo.startswith("git@"):
        repo = "."  # a remote URL: asv mirrors it; the profile reads the local checkout
    return Project((root / repo).resolve(), (root / str(conf.get("benchmark_dir", "benchmarks"))).resolve())


def _outcome(result: ProfileResult, folder: Path) -> ProfileOutcome:
    tops = []
    for metric, c in top_changes(result).items():
        if c is not None:
            single = not result.compared
            tops.append(
                TopFunction(
                    metric,
                    c.function,
                    c.file,
                    c.line,
                    None if single else c.base,
                    c.head,
                    None if single else c.delta,
                    None if single else c.delta_pct,
                )  # fmt: skip
            )
    return ProfileOutcome(folder, folder / "diff.md", folder / "diff.json", tuple(tops), None, result.seconds)


def run_profile(
    project: Project,
    target: Target,
    commits: Mapping[str, str],
    out_dir: Path,
    options: Options = Options(),
    tree_map: Mapping[str, Path] | None = None,
    budget: runner.Budget | None = None,
) -> ProfileOutcome:
    """Profile ``target`` at ``commits`` ({'base': hash, 'head': hash}, either may be absent)
    and write its files; raises ``runner.ProfileFailed`` when nothing could be profiled.
    ``budget``: one already running (default: ``options.budget_s`` from now)."""
    budget = budget or runner.Budget(options.budget_s)

    def with_trees(tmap: Mapping[str, Path]) -> ProfileOutcome:
        sides = [runner.Side(role, c, tmap[c]) for role, c in commits.items()]
        result = pipeline.profile_target(
            target,
            sides,
            project.benchmark_dir,
            budget,
            time_s=options.time_s,
            clock=options.clock,
            machine_counts=options.machine,
        )
        return _outcome(result, write_profile(result, out_dir))

    if tree_map is not None:
        return with_trees(tree_map)
    with trees.revision_trees(project.repo, list(commits.values())) as tmap:
        return with_trees(tmap)


def profile_benchmark(
    benchmark: str,
    params: str | None,
    *,
    head: str,
    base: str | None = None,
    out_dir: Path,
    config: str | Path | None = None,
    options: Options = Options(),
) -> ProfileOutcome:
    """Command-line use: ToolError (exit 2) for an unknown benchmark, revision or params, before
    anything is written; ToolError exit 1 when the profile itself fails. The budget covers
    discovery and the revisions' extraction too."""
    budget = runner.Budget(options.budget_s)
    project = load_project(config)
    commits = {"base": trees.resolve_commit(project.repo, base)} if base else {}
    commits["head"] = trees.resolve_commit(project.repo, head)
    catalog = pipeline.discover(project.benchmark_dir, project.repo)
    target = resolve_target(catalog, benchmark, params)
    try:
        return run_profile(project, target, commits, Path(out_dir), options, budget=budget)
    except runner.ProfileFailed as exc:
        raise ToolError(f"profiling {target.display} failed: {exc}", exit_code=1) from None


# ---------------------------------------------------------------- flagged benchmarks of a report


def _records(rows) -> list[Mapping]:
    if hasattr(rows, "to_dict"):  # a pandas DataFrame of report rows
        return rows.to_dict("records")
    return list(rows)


def _key(row: Mapping) -> tuple[str, str]:
    params = row.get("params")
    return str(row["benchmark"]), "" if params is None or params != params else str(params)


def _targets(keys: list[tuple[str, str]], catalog: Mapping[str, Benchmark]) -> dict:
    """{key: Target or the reason it has none}."""
    out: dict = {}
    for key in keys:
        try:
            out[key] = resolve_target(catalog, key[0], key[1])
        except ToolError as exc:
            out[key] = str(exc)
    return out


def _profile_each(project, targets: dict, commits, out_dir, cap: int, options: Options, tmap) -> dict:
    done: dict[tuple, ProfileOutcome] = {}  # (body, param_index) -> outcome: twins share one profile
    outcomes = {}
    for key, target in targets.items():
        if isinstance(target, str):
            outcomes[key] = ProfileOutcome(reason=target)
            continue
        work = (target.body, target.param_index)
        if work not in done:
            if len(done) >= cap:
                outcomes[key] = ProfileOutcome(reason=f"not profiled: only the first {cap} flagged workloads are")
                continue
            t0 = time.monotonic()
            try:
                done[work] = run_profile(project, target, commits, out_dir, options, tree_map=tmap)
            except Exception as exc:  # a failed profile is an outcome, never an exception
                done[work] = ProfileOutcome(reason=f"profiling failed: {exc}", seconds=time.monotonic() - t0)
        outcomes[key] = done[work]
    return outcomes


def profile_flagged(
    rows: Iterable[Mapping],
    base: str,
    head: str,
    out_dir: Path,
    *,
    cap: int = DEFAULT_CAP,
    budget_s: float = DEFAULT_BUDGET_S,
    config: str | Path | None = None,
    options: Options | None = None,
) -> dict[tuple[str, str], ProfileOutcome]:
    """Profile the flagged rows (``benchmark`` and ``params`` keys, in priority order) at ``base``
    and ``head``: {(benchmark, params): ProfileOutcome}. Never raises; every failure (bad
    revision, unknown benchmark, a child that fails or runs out of budget) is a ``reason``.
    ``options`` tune the profile (``budget_s`` wins over its budget)."""
    options = replace(options or Options(), budget_s=budget_s)
    try:
        keys = list(dict.fromkeys(_key(r) for r in _records(rows)))
    except Exception as exc:
        return {("?", ""): ProfileOutcome(reason=f"unreadable rows: {exc}")}
    try:
        project = load_project(config)
        commits = {"base": trees.resolve_commit(project.repo, base), "head": trees.resolve_commit(project.repo, head)}
        catalog = pipeline.discover(project.benchmark_dir, project.repo)
        with trees.revision_trees(project.repo, list(commits.values())) as tmap:
            return _profile_each(project, _targets(keys, catalog), commits, Path(out_dir), cap, options, tmap)
    except Exception as exc:
        return {key: ProfileOutcome(reason=f"not profiled: {exc}") for key in keys}
