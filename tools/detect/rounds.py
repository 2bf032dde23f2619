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

import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from tools import rounds_layout
from tools.config import read_asv_conf, write_scratch_asv_conf
from tools.detect import pairwise
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


def bench_regex(series: Sequence[Finding] | Sequence[str]) -> str:
    """One anchored regex selecting exactly these series (asv matches ``name(p1, p2)`` for params):
    findings (benchmark and its parameter values) or plain benchmark names."""
    names = []
    for s in series:
        bench, pv = (s, ()) if isinstance(s, str) else (s.benchmark, tuple(s.param_values or ()))
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

    def measure(self, k: int, regex: str | None) -> None:
        """Round ``k``: base and head in ABBA order, one asv process each (one run for A/A)."""
        rd = rounds_layout.round_dir(self.dir, k)
        order = (self.base, self.head) if k % 2 == 0 else (self.head, self.base)
        for commit in dict.fromkeys(order):
            self.run.log(f"round {k}: {commit[:8]}" + (f" ({regex})" if regex else ""))
            _run_one(self.run, self.conf, self.machine, commit, regex, self.scratch, rd)
        self.rounds.append(rd)

    def judge(self, q: float) -> tuple[list[Finding], pd.DataFrame]:
        table = load_results([str(d) for d in self.rounds], machine=self.machine)
        if self.base == self.head:
            # A/A: even rounds play "base", odd rounds "head" (they alternate in ABBA order).
            base_rows, head_rows = table[table["round"] % 2 == 0], table[table["round"] % 2 == 1]
        else:
            base_rows, head_rows = table[table["commit"] == self.base], table[table["commit"] == self.head]
        return pairwise.compare_suite(base_rows, head_rows, q=q), table


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
    run = run or RoundsRun()
    run.repo = Path(run.repo).resolve()
    base_full, head_full = resolve(run.repo, base), resolve(run.repo, head)
    if base_full == head_full:
        run.log(f"note: base and head are the same commit {base_full[:8]} (an A/A comparison)")
    extra_rounds = rounds if extra_rounds is None else extra_rounds
    session = _Session(run, base_full, head_full)
    for k in range(rounds):
        session.measure(k, bench)
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
