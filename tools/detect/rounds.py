"""Interleaved rounds: base and head measured alternately, one asv process per round.

Why not asv's own rounds: ``asv run --record-samples`` (and ``asv continuous``) run every round
of a benchmark in a fresh process but append each round's samples to one flat list in the result
file (``asv.results.Results.add_result(append_samples=True)``); with the default variable
``repeat`` the number of samples per round differs, so the rounds cannot be split again. The
process is the unit of noise, so here every round is its own ``asv run -a rounds=1`` whose result
file is moved to ``.asv/rounds/<base8>-<head8>/round-<k>/<machine>/`` (with ``benchmarks.json``)
— ``tools.loader.load_results`` numbers those folders in the ``round`` column.

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

from tools.config import read_asv_conf, write_scratch_asv_conf
from tools.detect import pairwise
from tools.errors import ToolError
from tools.revisions import git_rev_parse

ROUNDS_DIR = Path(".asv") / "rounds"
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


def bench_regex(rows: pd.DataFrame) -> str:
    """One anchored regex selecting exactly these series (asv matches ``name(p1, p2)`` for params)."""
    names = []
    for bench, pv in zip(
        rows["benchmark"], rows["param_values"] if "param_values" in rows.columns else [()] * len(rows)
    ):
        pv = tuple(pv) if isinstance(pv, (tuple, list)) else ()
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


def _load(round_dirs: list[Path], machine: str) -> pd.DataFrame:
    from tools.loader import load_results

    return load_results([str(d) for d in round_dirs], machine=machine)


@dataclass
class RoundsOutcome:
    verdicts: pd.DataFrame  # compare_suite output
    table: pd.DataFrame  # every round loaded (tidy)
    pair_dir: Path
    rounds_run: int
    extra_rounds_run: int


def compare_rounds(
    base: str,
    head: str,
    *,
    rounds: int = 6,
    extra_rounds: int | None = None,
    batch: int = 2,
    bench: str | None = None,
    q: float = pairwise.DEFAULT_Q,
    floors=None,
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
    machine = _machine_name(run)
    pair_dir = run.repo / ROUNDS_DIR / f"{base_full[:8]}-{head_full[:8]}"
    if pair_dir.exists():
        shutil.rmtree(pair_dir)  # our own generated folder: stale rounds must not mix in
    pair_dir.mkdir(parents=True)
    conf = _scratch_config(run, pair_dir)
    scratch = pair_dir / "scratch-results"
    round_dirs: list[Path] = []

    def do_round(k: int, regex: str | None) -> None:
        rd = pair_dir / f"round-{k}"
        order = (base_full, head_full) if k % 2 == 0 else (head_full, base_full)  # ABBA
        for commit in dict.fromkeys(order):  # A/A: one run per round
            run.log(f"round {k}: {commit[:8]}" + (f" ({regex})" if regex else ""))
            _run_one(run, conf, machine, commit, regex, scratch, rd)
        round_dirs.append(rd)

    for k in range(rounds):
        do_round(k, bench)
    verdicts, table = _verdicts(round_dirs, machine, base_full, head_full, q, floors)
    extra = 0
    while extra < extra_rounds:
        todo = pairwise.inconclusive_benchmarks(verdicts)
        todo = todo[todo["n_base"].gt(0) & todo["n_head"].gt(0)]  # failed ones will not improve
        if todo.empty:
            break
        regex = bench_regex(todo)
        run.log(f"{len(todo)} inconclusive: re-running them for more rounds")
        for _ in range(min(batch, extra_rounds - extra)):
            do_round(rounds + extra, regex)
            extra += 1
        verdicts, table = _verdicts(round_dirs, machine, base_full, head_full, q, floors)
    shutil.rmtree(scratch, ignore_errors=True)
    return RoundsOutcome(verdicts, table, pair_dir, rounds, extra)


def _verdicts(round_dirs, machine, base_full, head_full, q, floors):
    table = _load(round_dirs, machine)
    if base_full == head_full:
        # A/A: even rounds play "base", odd rounds "head" (they alternate in ABBA order).
        base_rows, head_rows = table[table["round"] % 2 == 0], table[table["round"] % 2 == 1]
    else:
        base_rows, head_rows = table[table["commit"] == base_full], table[table["commit"] == head_full]
    return pairwise.compare_suite(base_rows, head_rows, q=q, floors=floors), table


def confirm_change(
    base: str,
    head: str,
    benchmarks: pd.DataFrame | Sequence[str],
    *,
    rounds: int = 6,
    extra_rounds: int = 0,
    run: RoundsRun | None = None,
    q: float = pairwise.DEFAULT_Q,
) -> pd.DataFrame:
    """Re-run two boundary commits interleaved for just these series; compare_suite verdicts.

    ``benchmarks``: rows with ``benchmark`` (and ``param_values``) columns, or benchmark names.
    """
    rows = benchmarks if isinstance(benchmarks, pd.DataFrame) else pd.DataFrame({"benchmark": list(benchmarks)})
    outcome = compare_rounds(
        base, head, rounds=rounds, extra_rounds=extra_rounds, bench=bench_regex(rows), q=q, run=run
    )
    return outcome.verdicts


def make_confirmer(
    *, rounds: int = 6, extra_rounds: int = 0, run: RoundsRun | None = None, q: float = pairwise.DEFAULT_Q
) -> Callable[[str, str, pd.DataFrame], list]:
    """A ``history_suite(confirm=...)`` hook: a change holds when the interleaved re-run of its two
    boundary commits gives the same verdict (regressed / improved)."""

    def confirm(before: str, after: str, changes: pd.DataFrame) -> list:
        verdicts = confirm_change(before, after, changes, rounds=rounds, extra_rounds=extra_rounds, run=run, q=q)
        by_key = {(b, p): v for b, p, v in zip(verdicts["benchmark"], verdicts["params"], verdicts["verdict"])}
        return [
            by_key.get((b, p)) == v if (b, p) in by_key else None
            for b, p, v in zip(changes["benchmark"], changes["params"], changes["verdict"])
        ]

    return confirm


# ---------------------------------------------------------------- keeping rounds for history

HEAVY_COLUMNS = ("samples", "profile")  # what history mode never reads: raw samples, profiler output


def compact_rounds(root: Path) -> tuple[int, int]:
    """Drop raw samples and profiles from every kept round result under ``root``
    (``<pair>/round-<k>/<machine>/*.json``), keeping each round's value and statistics — all that
    history mode reads. Returns (files rewritten, bytes saved); idempotent.

    Every file is read and checked before any is rewritten, each rewrite is atomic: a corrupt
    file stops the command with its path and leaves every file as it was.
    """
    import json

    from tools.io import atomic_write_text

    root = Path(root)
    if not root.is_dir():
        raise ToolError(f"{root}: no such directory (the interleaved rounds live in {ROUNDS_DIR})")
    files = sorted(p for p in root.glob("*/round-*/*/*.json") if p.name != "machine.json")
    parsed = []
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            columns = data["result_columns"]
            results = data["results"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ToolError(f"{path}: not an asv result file ({exc.__class__.__name__}: {exc})") from None
        heavy = [columns.index(c) for c in HEAVY_COLUMNS if c in columns]
        parsed.append((path, data, results, heavy))
    rewritten = saved = 0
    for path, data, results, heavy in parsed:
        if not any(i < len(row) and row[i] is not None for row in results.values() for i in heavy):
            continue
        for name, row in results.items():
            results[name] = [None if i in heavy else v for i, v in enumerate(row)]
        before = path.stat().st_size
        atomic_write_text(path, json.dumps(data, separators=(",", ":")))
        rewritten += 1
        saved += before - path.stat().st_size
    return rewritten, saved
