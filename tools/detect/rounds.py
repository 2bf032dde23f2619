"""Interleaved rounds: base and head measured alternately, one asv process per round.

Why not asv's own rounds: ``asv run --record-samples`` (and ``asv continuous``) run every round
of a benchmark in a fresh process but append each round's samples to one flat list in the result
file (``asv.results.Results.add_result(append_samples=True)``); with the default variable
``repeat`` the number of samples per round differs, so the rounds cannot be split again. The
process is the unit of noise, so here every round is its own ``asv run -a rounds=1`` whose result
file is moved into the session's ``round-<k>/<machine>/`` folder (with ``benchmarks.json``;
layout: ``tools.rounds_layout``) — ``tools.loader.load_results`` numbers them in the ``round`` column.

Order is ABBA (base, head / head, base / ...), so a slow drift of the machine hits both sides
alike. asv writes into a scratch results dir (a copy of the project's asv config with only
``results_dir``/``html_dir`` changed), so the project's history results are never touched;
environments and built wheels are shared.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tools import rounds_layout
from tools.config import read_asv_conf, write_scratch_asv_conf
from tools.detect import calibrate, pairwise, sequential, series
from tools.detect.calibrate import Noise
from tools.detect.finding import Finding
from tools.detect.verdict import DEFAULT_Q
from tools.errors import ToolError
from tools.loader import load_results
from tools.revisions import git_rev_parse

OK_EXIT_CODES = (0, 2)  # asv run: 2 = some benchmark failed, the rest was measured


@dataclass
class RoundsRun:
    """Where and how to run asv; ``runner`` is swappable so the orchestration is testable."""

    repo: Path = field(default_factory=Path.cwd)
    config: str = "asv.conf.json"
    machine: str | None = None
    asv_args: Sequence[str] = ()
    env: dict | None = None
    runner: Callable[[list[str], Path, dict | None], subprocess.CompletedProcess] | None = None
    log: Callable[[str], None] = lambda msg: print(msg, file=sys.stderr)

    def asv(self, *args: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "asv", *args]
        if self.runner is not None:
            return self.runner(cmd, self.repo, self.env)
        return subprocess.run(cmd, cwd=self.repo, env=self.env, capture_output=True, text=True)


def bench_regex(series: Sequence[Finding] | Sequence[str] | Sequence[tuple]) -> str:
    """One anchored regex selecting exactly these series (asv matches ``name(p1, p2)`` for params):
    findings (benchmark and its parameter values), (benchmark, parameter values) pairs or plain
    benchmark names."""
    names = []
    for s in series:
        if isinstance(s, str):
            bench, pv = s, ()
        elif isinstance(s, tuple):
            bench, pv = s[0], tuple(s[1] or ())
        else:
            bench, pv = s.benchmark, tuple(s.param_values or ())
        names.append(re.escape(f"{bench}({', '.join(pv)})" if pv else bench))
    return "^(?:" + "|".join(sorted(set(names))) + ")$"


def resolve(repo: Path, rev: str) -> str:
    full = git_rev_parse(rev, repo)
    if full is None:
        raise ToolError(f"unknown revision {rev!r} in {repo}")
    return full


def _scratch_config(run: RoundsRun, pair_dir: Path) -> Path:
    """The project's asv config with results/html redirected into ``pair_dir``;
    environments and the wheel cache stay shared."""
    src = run.repo / run.config
    if not src.is_file():
        raise ToolError(f"{src}: asv config not found (run from the repository root or pass --config)")
    return write_scratch_asv_conf(
        read_asv_conf(src),
        src.resolve().parent,
        pair_dir,
        results_dir=(pair_dir / "scratch-results").resolve(),
        html_dir=(pair_dir / "scratch-html").resolve(),
    )


def _machine_name(run: RoundsRun) -> str:
    if run.machine:
        proc = run.asv("machine", "--yes", "--machine", run.machine)
        if proc.returncode != 0:
            raise ToolError(
                f"asv machine --machine {run.machine} failed: {(proc.stderr or proc.stdout).strip()[-300:]}"
            )
        return run.machine
    import socket

    return socket.gethostname()


def _run_one(
    run: RoundsRun, conf: Path, machine: str, commit: str, regex: str | None, scratch: Path, round_dir: Path
) -> None:
    args = [
        "run",
        "--config",
        str(conf),
        "--machine",
        machine,
        "--record-samples",
        "-a",
        "rounds=1",
        "--show-stderr",
        *run.asv_args,
    ]
    if regex:
        args += ["--bench", regex]
    args.append(f"{commit}^!")
    proc = run.asv(*args)
    if proc.returncode not in OK_EXIT_CODES:
        tail = (proc.stderr or proc.stdout or "").strip().splitlines()[-3:]
        raise ToolError(f"asv run of {commit[:8]} failed (exit {proc.returncode}): {' | '.join(tail)}")
    src_machine = scratch / machine
    files = sorted(src_machine.glob(f"{commit[:8]}-*.json")) if src_machine.is_dir() else []
    if not files:
        raise ToolError(f"asv run of {commit[:8]} wrote no result file under {src_machine}")
    dest = round_dir / machine
    dest.mkdir(parents=True, exist_ok=True)
    for f in files:  # move, so the next round of this commit starts from an empty result
        shutil.move(str(f), dest / f.name)
    for meta, to in (
        (src_machine / "machine.json", dest / "machine.json"),
        (scratch / "benchmarks.json", round_dir / "benchmarks.json"),
    ):
        if meta.is_file():
            shutil.copyfile(meta, to)


DETERMINISTIC_CHANNELS = ("instructions", "memory")  # one run a side decides them


def _selection(table: pd.DataFrame) -> pd.DataFrame:
    """One row per series measured (machine, environment, benchmark, params, param values, channel)."""
    cols = ["machine", "environment", "benchmark", "params"]
    t = table.drop_duplicates(cols)
    return t.assign(channel=[series.channel_of(str(a), str(b)) for a, b in zip(t["type"], t["unit"])])


def is_deterministic(key: tuple, channel: str, noise: Mapping[tuple, Noise]) -> bool:
    """Measured once a side: instruction counts, peak memory, and series calibrated as identical
    in every round."""
    found = calibrate.lookup(noise, key)
    return channel in DETERMINISTIC_CHANNELS or bool(found is not None and found.deterministic)


def _noisy(table: pd.DataFrame, noise: Mapping[tuple, Noise]) -> list:
    """The selection rows (``_selection``) of every series of ``table`` that rounds must re-measure."""
    rows = _selection(table).itertuples(index=False)
    return [
        r for r in rows if not is_deterministic((r.machine, r.environment, r.benchmark, r.params), r.channel, noise)
    ]


def noisy_series(table: pd.DataFrame, noise: Mapping[tuple, Noise]) -> list[tuple[str, tuple]]:
    """(benchmark, parameter values) of every series of ``table`` that rounds must re-measure."""
    return [(r.benchmark, tuple(r.param_values or ())) for r in _noisy(table, noise)]


def noisy_keys(table: pd.DataFrame, noise: Mapping[tuple, Noise]) -> list[tuple]:
    """The series keys of ``noisy_series``."""
    return [(r.machine, r.environment, r.benchmark, r.params) for r in _noisy(table, noise)]


def _noisy_regex(table: pd.DataFrame, todo: Sequence[tuple], bench: str | None) -> str | None:
    """The ``--bench`` that re-measures ``todo`` (series of ``table``): ``bench`` itself when they
    are all the series it selected, else a regex of exactly them."""
    return bench if len(todo) == len(_selection(table)) else bench_regex(todo)


@dataclass
class RoundsOutcome:
    verdicts: list[Finding]  # compare_suite output
    table: pd.DataFrame  # every round loaded (tidy)
    pair_dir: Path
    rounds_run: int
    extra_rounds_run: int


class _Session:
    """One interleaved session of base against head: its folder, scratch config and rounds."""

    def __init__(self, run: RoundsRun, base: str, head: str):
        self.run, self.base, self.head = run, base, head
        self.machine = _machine_name(run)
        self.dir = rounds_layout.session_dir(run.repo / rounds_layout.ROUNDS_DIR, base, head)
        if self.dir.exists():
            shutil.rmtree(self.dir)  # our own generated folder: stale rounds must not mix in
        self.dir.mkdir(parents=True)
        self.conf = _scratch_config(run, self.dir)
        self.scratch = self.dir / "scratch-results"
        self.rounds: list[Path] = []
        self.seconds: dict[tuple[int, str], float] = {}  # (round folder, commit) -> seconds of its asv run

    @property
    def aa(self) -> bool:
        return self.base == self.head

    def measure(self, k: int, regex: str | None) -> None:
        """Round ``k``: base and head in ABBA order, one asv process each (one run for A/A)."""
        rd = rounds_layout.round_dir(self.dir, k)
        order = (self.base, self.head) if k % 2 == 0 else (self.head, self.base)
        for commit in dict.fromkeys(order):
            self.run.log(f"round {k}: {commit[:8]}" + (f" ({_describe(regex)})" if regex else ""))
            started = time.monotonic()
            _run_one(self.run, self.conf, self.machine, commit, regex, self.scratch, rd)
            self.seconds[(k, commit)] = time.monotonic() - started
        self.rounds.append(rd)

    def measure_sides(self, j: int, regex: str | None) -> None:
        """The j-th value of every selected series on each side: round j, or for A/A the rounds
        2j and 2j + 1 (one process each, playing base and head)."""
        for k in (2 * j, 2 * j + 1) if self.aa else (j,):
            self.measure(k, regex)

    def load(self) -> pd.DataFrame:
        return load_results([str(d) for d in self.rounds], machine=self.machine)

    def sides(self, table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        if self.aa:
            # A/A: even rounds play "base", odd rounds "head" (they alternate in ABBA order).
            return table[table["round"] % 2 == 0], table[table["round"] % 2 == 1]
        return table[table["commit"] == self.base], table[table["commit"] == self.head]

    def judge(self, q: float, **options) -> tuple[list[Finding], pd.DataFrame]:
        table = self.load()
        return pairwise.compare_suite(*self.sides(table), q=q, **options), table


def compare_rounds(
    base: str,
    head: str,
    *,
    rounds: int = 6,
    extra_rounds: int | None = None,
    batch: int = 2,
    bench: str | None = None,
    q: float = DEFAULT_Q,
    run: RoundsRun | None = None,
) -> RoundsOutcome:
    """Measure base and head interleaved for ``rounds`` rounds, then re-run only the inconclusive
    series for up to ``extra_rounds`` more rounds (``batch`` at a time), then compare_suite."""
    if rounds < 1:
        raise ToolError("--rounds must be at least 1")
    run, base_full, head_full = _prepare(run, base, head)
    extra_rounds = rounds if extra_rounds is None else extra_rounds
    session = _Session(run, base_full, head_full)
    first = 2 if session.aa else 1  # the rounds giving each side its one deterministic value
    noisy: str | None = bench
    for k in range(rounds):
        if k == first:  # deterministic channels: measured once a side, not every round
            measured = session.load()
            todo = noisy_series(measured, {})
            if not todo:
                break
            noisy = _noisy_regex(measured, todo, bench)
        session.measure(k, bench if k < first else noisy)
    verdicts, table = session.judge(q)
    extra = 0
    while extra < extra_rounds:
        todo = pairwise.inconclusive(verdicts)  # failed ones will not improve: not re-run
        if not todo:
            break
        run.log(f"{len(todo)} inconclusive: re-running them for more rounds")
        for _ in range(min(batch, extra_rounds - extra)):
            session.measure(rounds + extra, bench_regex(todo))
            extra += 1
        verdicts, table = session.judge(q)
    shutil.rmtree(session.scratch, ignore_errors=True)
    return RoundsOutcome(verdicts, table, session.dir, rounds, extra)


# ---------------------------------------------------------------- sequential rounds in a budget


MAX_PLANNED_ROUNDS = 30  # rounds a side a sequential check plans at most, unless told (--rounds)


@dataclass(frozen=True)
class Budget:
    """How long a sequential check may measure, and the most rounds a side it may plan."""

    seconds: float = math.inf
    max_rounds: int = MAX_PLANNED_ROUNDS


def _run_costs(session: _Session, table: pd.DataFrame) -> tuple[dict[tuple, float], float]:
    """({series key: seconds of its process}, seconds an asv run spends beyond its benchmarks): per
    series its benchmark's duration shared among the series measured with it, from its latest run."""
    cost: dict[tuple, float] = {}
    overheads = []
    runs = table.groupby(["round", "commit"], sort=True)
    for (k, commit), rows in runs:
        per = rows.drop_duplicates("benchmark").set_index("benchmark")["duration"].astype(float).fillna(0.0)
        counts = rows.groupby("benchmark").size()
        for r in rows.itertuples(index=False):
            cost[(r.machine, r.environment, r.benchmark, r.params)] = float(per[r.benchmark]) / counts[r.benchmark]
        spent = session.seconds.get((int(k), str(commit)))
        if spent is not None:
            overheads.append(max(0.0, spent - float(per.sum())))
    return cost, float(np.median(overheads)) if overheads else 0.0


def _round_seconds(keys, cost: Mapping[tuple, float], overhead: float) -> float:
    """Seconds of one more round of these series, both sides."""
    return 2.0 * (sum(cost.get(k, 0.0) for k in keys) + overhead)


@dataclass
class _Looks:
    """The looks of a sequential check: each series' plan, which are settled, and why."""

    plans: dict[tuple, sequential.Plan]  # per series: its planned rounds (1: measured once a side)
    noise: Mapping[tuple, Noise]
    q: float
    settled: dict[tuple, Finding] = field(default_factory=dict)
    previous: int = 0

    def plan_of(self, key: tuple) -> sequential.Plan:
        return self.plans.get(key, sequential.Plan(1))

    def look(self, session: _Session, n: int) -> tuple[list[Finding], pd.DataFrame]:
        """Judge every series after ``n`` rounds a side, each at its plan's share of the error;
        settle the decided, the futile and those whose plan ends here; return the findings (settled
        ones as they were settled) and the rounds."""
        table = session.load()
        keys = {(r.machine, r.environment, r.benchmark, r.params) for r in _selection(table).itertuples(index=False)}
        confidence = {k: self.plan_of(k).confidence_at(n, self.previous) for k in keys}
        base_rows, head_rows = session.sides(table)
        found = pairwise.compare_suite(base_rows, head_rows, q=self.q, noise=self.noise, confidence=confidence)
        for f in found:
            key = _key(f)
            if key not in self.settled:
                why = self._settles(f, base_rows, head_rows, n)
                if why is not None:
                    self.settled[key] = f.replace(rule=f.rule + why)
        self.previous = n
        return [self.settled.get(_key(f), f) for f in found], table

    def _settles(self, f: Finding, base_rows, head_rows, n: int) -> str | None:
        """Why ``f`` is settled after this look (its suffix), or None while rounds can still help."""
        plan = self.plan_of(_key(f))
        if f.verdict != "inconclusive" or f.basis in ("none", "exact", "single-run"):
            return f" [look after {n} of at most {plan.max_rounds} rounds a side]" if plan.max_rounds > 1 else ""
        if n >= plan.max_rounds:
            return _ONCE if plan.max_rounds == 1 else ""
        return self._futile(f, base_rows, head_rows, n, plan)

    def _futile(self, f: Finding, base_rows, head_rows, n: int, plan: sequential.Plan) -> str | None:
        """Why more rounds cannot settle ``f`` within its plan (conditional power), or None."""
        key = _key(f)
        values = tuple(_series_values(rows, key) for rows in (base_rows, head_rows))
        if any(not (np.isfinite(v).all() and (v > 0).all()) for v in values):
            return None  # zeros or failed rounds: no log scale to project on
        logs = tuple(np.log(v) for v in values)
        noise = calibrate.lookup(self.noise, key) or calibrate.default_noise(f.channel)
        power = sequential.futility(f.change_pct, f.floor_pct, logs, noise, plan)
        if power is None or power >= plan.futility:
            return None
        return sequential.futility_text(n, plan, power)


_ONCE = (
    " [measured once a side: at the rounds the budget allows its noise leaves an MDE above "
    f"{sequential.WORTH_MDE_PCT:g}%, so only a change far beyond it is decided]"
)


def _describe(regex: str) -> str:
    """A --bench regex as a progress line shows it: the count of the names it lists, or itself."""
    if regex.startswith("^(?:") and regex.endswith(")$"):
        names = re.split(r"(?<!\\)[|]", regex[4:-2])  # re.escape keeps a | inside a name escaped
        return f"{len(names)} benchmarks"
    return regex if len(regex) <= 80 else regex[:77] + "..."


def _key(f: Finding) -> tuple:
    return (f.machine, f.environment, f.benchmark, f.params)


def _series_values(rows: pd.DataFrame, key: tuple) -> np.ndarray:
    m = (
        (rows["machine"] == key[0])
        & (rows["environment"] == key[1])
        & (rows["benchmark"] == key[2])
        & (rows["params"] == key[3])
    )
    return series.usable(rows[m])["value"].to_numpy(float)


def _open(findings: Sequence[Finding], looks: _Looks) -> list[Finding]:
    """Series the next round must measure: not settled, with a result on both sides."""
    return [f for f in pairwise.inconclusive(findings) if _key(f) not in looks.settled]


def _plans(table: pd.DataFrame, noise: Mapping[tuple, Noise], budget: Budget, elapsed: float, session) -> dict:
    """Each noisy series' plan after round 0 (``sequential.plan_rounds``): the rounds a side the budget
    allows for the series worth them, 1 for the others; an uncalibrated metric gets 2, so a second
    round can show whether it is deterministic."""
    cost, overhead = _run_costs(session, table)
    sel = _selection(table).set_index(["machine", "environment", "benchmark", "params"])
    noisy = noisy_keys(table, noise)
    sigmas = {}
    for k in noisy:
        found = calibrate.lookup(noise, k)
        channel = str(sel.loc[k, "channel"])
        sigmas[k] = found.sigma if found is not None else sequential.PLANNING_SIGMA.get(channel, 0.25)
    n, worth = sequential.plan_rounds(
        budget.seconds, elapsed, overhead, {k: cost.get(k, 0.0) for k in noisy}, sigmas, cap=budget.max_rounds
    )
    plans = {k: sequential.Plan(n) for k in worth}
    for k in noisy:
        if k not in plans and n > 1 and sel.loc[k, "channel"] == "metric" and calibrate.lookup(noise, k) is None:
            plans[k] = sequential.Plan(2)
    return plans


@dataclass
class SequentialOutcome(RoundsOutcome):
    planned: int = 1  # rounds a side planned for the series worth them
    worth: int = 0  # series planned for more than one round
    seconds: float = 0.0
    stopped_by: str = ""  # what ended the rounds: 'all settled', 'planned rounds', 'budget'


def sequential_rounds(
    base: str,
    head: str,
    *,
    budget: Budget = Budget(),
    bench: str | None = None,
    q: float = DEFAULT_Q,
    run: RoundsRun | None = None,
    noise: Mapping[tuple, Noise] | None = None,
) -> SequentialOutcome:
    """Measure base and head interleaved within ``budget``: round 0 measures everything once a side
    (deterministic channels only then); after it the rounds measure only the noisy series worth more
    rounds and still open, each round followed by a look (``tools.detect.sequential``) that settles
    the decided and the futile. The plans are fixed after round 0 from its measured cost."""
    run, base_full, head_full = _prepare(run, base, head)
    started, noise = time.monotonic(), dict(noise or {})
    session = _Session(run, base_full, head_full)
    session.measure_sides(0, bench)
    plans = _plans(session.load(), noise, budget, time.monotonic() - started, session)
    planned = max((p.max_rounds for p in plans.values()), default=1)
    run.log(f"planned {planned} rounds a side for {len(plans)} series; the others measured once a side")
    looks = _Looks(plans, noise, q)
    verdicts, table = looks.look(session, 1)
    n, stopped_by = 1, "planned rounds"
    while n < planned:
        todo = _open(verdicts, looks)
        if not todo:
            stopped_by = "all settled"
            break
        cost, overhead = _run_costs(session, table)
        if time.monotonic() - started + _round_seconds([_key(f) for f in todo], cost, overhead) > budget.seconds:
            stopped_by = "budget"
            break
        run.log(f"{len(todo)} open: round {n}")
        session.measure_sides(n, bench_regex(todo))
        n += 1
        verdicts, table = looks.look(session, n)
    shutil.rmtree(session.scratch, ignore_errors=True)
    seconds = time.monotonic() - started
    return SequentialOutcome(verdicts, table, session.dir, n, 0, planned, len(plans), seconds, stopped_by)


def calibrated_sequential_rounds(
    base: str,
    head: str,
    *,
    stored: pd.DataFrame | None,
    rounds_root: Path,
    machine: str | None,
    budget: Budget = Budget(),
    bench: str | None = None,
    q: float = DEFAULT_Q,
    run: RoundsRun | None = None,
) -> tuple[SequentialOutcome, str]:
    """``sequential_rounds`` judged against the noise of one run calibrated from the stored history
    (``stored``, None without one) and the sessions kept under ``rounds_root`` (``calibrate.gather``),
    never from the session about to be measured: its rounds would otherwise calibrate themselves.
    Returns the outcome and the sentence saying where the noise came from."""
    run = run or RoundsRun()
    base_full, head_full = resolve(Path(run.repo), base), resolve(Path(run.repo), head)
    noise, source = calibrate.gather(stored, rounds_root, machine, head_full, skip_session=(base_full, head_full))
    outcome = sequential_rounds(base_full, head_full, budget=budget, bench=bench, q=q, run=run, noise=noise)
    return outcome, source


def _prepare(run: RoundsRun | None, base: str, head: str) -> tuple[RoundsRun, str, str]:
    run = run or RoundsRun()
    run.repo = Path(run.repo).resolve()
    base_full, head_full = resolve(run.repo, base), resolve(run.repo, head)
    if base_full == head_full:
        run.log(f"note: base and head are the same commit {base_full[:8]} (an A/A comparison)")
    return run, base_full, head_full


def confirm_change(
    base: str,
    head: str,
    series: Sequence[Finding] | Sequence[str],
    *,
    rounds: int = 6,
    extra_rounds: int = 0,
    run: RoundsRun | None = None,
    q: float = DEFAULT_Q,
) -> list[Finding]:
    """Re-run two boundary commits interleaved for just these series (findings or benchmark
    names); their pairwise findings."""
    outcome = compare_rounds(
        base, head, rounds=rounds, extra_rounds=extra_rounds, bench=bench_regex(series), q=q, run=run
    )
    return outcome.verdicts


def make_confirmer(
    *, rounds: int = 6, extra_rounds: int = 0, run: RoundsRun | None = None, q: float = DEFAULT_Q
) -> Callable[[str, str, Sequence[Finding]], list]:
    """A ``history_suite(confirm=...)`` hook: a change holds when the interleaved re-run of its two
    boundary commits gives the same verdict (regressed / improved)."""

    def confirm(before: str, after: str, changes: Sequence[Finding]) -> list:
        found = confirm_change(before, after, changes, rounds=rounds, extra_rounds=extra_rounds, run=run, q=q)
        by_key = {(f.benchmark, f.params): f.verdict for f in found}
        return [
            by_key[(c.benchmark, c.params)] == c.verdict if (c.benchmark, c.params) in by_key else None for c in changes
        ]

    return confirm
