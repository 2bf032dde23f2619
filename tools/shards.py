"""Shards: a deterministic share of the benchmark suite for each of N parallel jobs.

The suite is cut into *units* that are never split: a benchmark, or every benchmark that shares
one ``setup_cache`` (asv runs a ``setup_cache`` once per run for the benchmarks selected with it;
split across two shards it would run in both). Units are weighed by the durations asv recorded for
their benchmarks in the newest results (``duration``: the seconds asv spent on a benchmark, all its
parameter combinations and rounds) and dealt by longest-processing-time first: heaviest unit
first, each to the lightest shard so far (ties: the lower shard number). A unit with no recorded
duration weighs the median of the known ones; with none known at all, units are dealt round-robin
in name order. The same inputs always give the same shards, so N jobs that each compute their own
share together run every benchmark exactly once.

A shard is handed to asv as one ``--bench`` regex. asv matches a parameterised benchmark as
``name(p1, p2)``, so every name is anchored as ``^name`` followed by ``(`` or the end. Exactly one
shard (the lightest) also takes every benchmark the assignment did not know (a negative
lookahead over all known names), so a benchmark added since the names were read still runs once.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tools.errors import ToolError

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Unit:
    """Benchmarks that run in the same shard, and their recorded seconds (None: never recorded)."""

    names: tuple[str, ...]
    seconds: float | None = None

    @property
    def key(self) -> str:
        return self.names[0]


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based
    count: int
    units: tuple[Unit, ...]
    seconds: float  # the weight dealt to it (recorded or estimated)
    catch_all: bool  # also runs every benchmark the assignment did not know
    known: tuple[str, ...]  # every name the assignment knew (for the catch-all)

    @property
    def names(self) -> list[str]:
        return sorted(n for u in self.units for n in u.names)

    def regex(self) -> str:
        return shard_regex(self.names, self.known if self.catch_all else None)


def parse_shard(text: str) -> tuple[int, int]:
    """``"k/N"`` -> (k, N) with 1 <= k <= N."""
    m = _SHARD.match(str(text))
    if not m:
        raise ToolError(f"--shard {text!r}: expected k/N, e.g. 1/2")
    k, n = int(m.group(1)), int(m.group(2))
    if n < 1 or not 1 <= k <= n:
        raise ToolError(f"--shard {text}: k must be between 1 and N (got {k}/{n})")
    return k, n


def units_of(benchmarks: Mapping[str, Mapping]) -> list[tuple[str, ...]]:
    """Benchmark names grouped by shared ``setup_cache`` (asv's ``setup_cache_key``), sorted."""
    groups: dict[str, list[str]] = {}
    for name in sorted(benchmarks):
        cache = benchmarks[name].get("setup_cache_key") if isinstance(benchmarks[name], Mapping) else None
        groups.setdefault(f"cache:{cache}" if cache else f"name:{name}", []).append(name)
    return sorted((tuple(sorted(v)) for v in groups.values()), key=lambda names: names[0])


def recorded_durations(table: pd.DataFrame) -> dict[str, float]:
    """{benchmark: seconds} from each benchmark's newest recorded run (latest ``started_at``; ties:
    the last environment by name), so the weights follow the suite as it is now."""
    if table is None or table.empty or "duration" not in table.columns:
        return {}
    rows = table[["benchmark", "environment", "started_at", "duration"]].copy()
    rows["duration"] = pd.to_numeric(rows["duration"], errors="coerce")
    rows = rows[np.isfinite(rows["duration"].to_numpy(float))]
    if rows.empty:
        return {}
    rows = rows.assign(benchmark=rows["benchmark"].astype(str), environment=rows["environment"].astype(str))
    rows = rows.sort_values(["benchmark", "started_at", "environment"], kind="stable", na_position="first")
    newest = rows.groupby("benchmark", sort=True).tail(1)
    return {str(b): float(d) for b, d in zip(newest["benchmark"], newest["duration"])}


def weigh(groups: Iterable[tuple[str, ...]], durations: Mapping[str, float]) -> list[Unit]:
    """Units with the sum of their members' recorded seconds (a member never recorded counts as
    the median of the recorded benchmarks; a unit with none recorded stays None)."""
    groups = list(groups)
    known = [durations[n] for names in groups for n in names if n in durations]
    fill = statistics.median(known) if known else None
    units = []
    for names in groups:
        if not any(n in durations for n in names):
            units.append(Unit(names, None))
            continue
        units.append(Unit(names, float(sum(durations.get(n, fill) for n in names))))
    return units


def assign(units: Sequence[Unit], count: int) -> list[Shard]:
    """Deal ``units`` to ``count`` shards: longest processing time first when any unit has a
    weight (units without one weigh the median of the others), else round-robin in name order."""
    if count < 1:
        raise ToolError(f"the number of shards must be at least 1 (got {count})")
    units = sorted(units, key=lambda u: u.key)
    weights = [u.seconds for u in units if u.seconds is not None]
    dealt: list[list[Unit]] = [[] for _ in range(count)]
    loads = [0.0] * count
    if not weights:
        for i, unit in enumerate(units):
            dealt[i % count].append(unit)
            loads[i % count] += 1.0
    else:
        fill = statistics.median(weights)
        weighted = [(u.seconds if u.seconds is not None else fill, u) for u in units]
        for w, unit in sorted(weighted, key=lambda x: (-x[0], x[1].key)):
            target = min(range(count), key=lambda s: (loads[s], s))
            dealt[target].append(unit)
            loads[target] += w
    lightest = min(range(count), key=lambda s: (loads[s], s))
    known = tuple(sorted(n for u in units for n in u.names))
    return [
        Shard(i + 1, count, tuple(sorted(dealt[i], key=lambda u: u.key)), loads[i], i == lightest, known)
        for i in range(count)
    ]


def _alternation(names: Iterable[str]) -> str:
    return "|".join(re.escape(n) for n in sorted(set(names)))


def shard_regex(names: Sequence[str], catch_all_known: Sequence[str] | None = None) -> str:
    """One regex for asv's ``--bench`` selecting exactly ``names`` (whole benchmarks, every
    parameter combination), plus any name outside ``catch_all_known`` when given."""
    parts = []
    if names:
        parts.append(f"^(?:{_alternation(names)})(?:\\(|$)")
    if catch_all_known is not None:
        parts.append(f"^(?!(?:{_alternation(catch_all_known)})(?:\\(|$))" if catch_all_known else "^")
    if not parts:
        return "^(?!)"  # matches nothing: more shards than benchmarks
    return parts[0] if len(parts) == 1 else "|".join(parts)


def selects(regex: str, name: str, param_values: Sequence[str] = ()) -> bool:
    """Whether asv would run ``name`` (with these parameter values) for ``--bench regex``."""
    full = f"{name}({', '.join(param_values)})" if param_values else name
    return re.search(regex, full) is not None


# ---------------------------------------------------------------- the suite's names

_DISCOVER = (
    "import io, json, sys\n"
    "from asv_runner.discovery import list_benchmarks\n"
    "out = io.StringIO()\n"
    "list_benchmarks(sys.argv[1], out)\n"
    "print(json.dumps({b['name']: {'setup_cache_key': b.get('setup_cache_key')} for b in json.loads(out.getvalue())}))\n"
)


def discover(root: Path, benchmark_dir: str = "benchmarks", timeout: float = 300) -> dict[str, dict]:
    """{name: {setup_cache_key}} of the suite in ``root/benchmark_dir``, discovered by asv_runner
    in a child process of this Python (the project's folder on its path, as in a checkout)."""
    bdir = (Path(root) / benchmark_dir).resolve()
    if not bdir.is_dir():
        raise ToolError(f"benchmark directory {bdir} not found (pass --from-results to use benchmarks.json)")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _DISCOVER, str(bdir)],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise ToolError(f"discovering the benchmarks in {bdir} took over {timeout:.0f} s") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ToolError(f"discovering the benchmarks in {bdir} failed: {last}")
    found = json.loads(proc.stdout.strip().splitlines()[-1])
    if not found:
        raise ToolError(f"no benchmarks discovered in {bdir}")
    return found


def summary(shard: Shard, shards: Sequence[Shard], recorded: bool) -> str:
    """One line for people: what this shard runs and its share of the weight."""
    total = sum(s.seconds for s in shards) or 1.0
    n = len(shard.names)
    how = (
        f"{shard.seconds:.0f} s of {total:.0f} s recorded ({100 * shard.seconds / total:.1f}%)"
        if recorded
        else f"{len(shard.units)} of {sum(len(s.units) for s in shards)} units, round-robin by name (no durations recorded)"
    )
    extra = "; also any benchmark not known yet" if shard.catch_all else ""
    return f"shard {shard.index}/{shard.count}: {n} benchmark(s), {how}{extra}"
