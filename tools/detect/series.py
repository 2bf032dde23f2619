"""Series of the tidy table as the detectors see them.

A series is everything measured for one benchmark x params on one machine and environment
(``tools.schema.SERIES_KEY``). This module turns tidy rows into series (one value per round,
or one value per commit with every round kept), checks the columns a detector needs, names the
channel a benchmark belongs to, and holds the effect floors below which no change is worth a
verdict: fixed per channel, and per metric for the resource metrics of the 'metric' channel
(``METRIC_FLOORS``, ``floor_of``); the evaluation calibrates its own from recorded same-commit
noise (``calibrate_floor``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from tools.detect import robust
from tools.errors import ToolError
from tools.schema import SERIES_KEY

CHANNELS = ("wall", "relative", "instructions", "memory", "metric")

DEFAULT_FLOOR_PCT = 2.0  # wall / metric / memory: below this a change is not worth a verdict
INSTRUCTION_FLOOR_PCT = 0.5  # deterministic channel
INSTRUCTION_JITTER = 100  # instructions (per reported value); run-to-run jitter allowance
MEMORY_SINGLE_RUN_FLOOR_PCT = 5.0  # peak memory with no interval (< 6 rounds at 99.5%): a wider floor


class Floor(NamedTuple):
    """The smallest change worth a verdict: ``pct`` of the base, and at least ``absolute`` in the
    metric's unit. A base below ``absolute`` (an operation that reads 0 bytes, never waits) is
    measured against ``absolute`` instead, so values near zero are judged, not 'undefined'."""

    pct: float
    absolute: float = 0.0

    def pct_at(self, base: float) -> float:
        """The floor in % of ``base``: max(pct, 100 × absolute / max(|base|, absolute))."""
        ref = reference(base, self.absolute)
        return max(self.pct, 100.0 * self.absolute / ref) if ref > 0 else self.pct


def reference(base: float, absolute: float) -> float:
    """What a change is a percentage of: |base|, or the absolute floor when |base| is smaller."""
    return max(abs(base), absolute) if math.isfinite(base) else absolute


# Floors of the 'metric' channel's resource metrics (the resource channel's track_<metric> and
# RESOURCE_USAGE's track_<name>_<metric>), by method suffix; the unit guards the match. One unit
# holds metrics of different noise (I/O bytes are exact, RSS bytes move by pages and allocator
# arenas; user CPU follows the code, system CPU is mostly interrupts and page faults), so the
# suffix decides. Measured same-commit noise behind each: docs/detection.md#resource-metrics.
METRIC_FLOORS: dict[str, tuple[str, Floor]] = {
    "_cpu_user": ("seconds", Floor(2.0)),  # follows the code, as wall time (a 1.3 µs add_message too)
    "_cpu_system": ("seconds", Floor(10.0, 1e-6)),  # sporadic faults/interrupts: ~0 for CPU-bound code
    "_cpu_time": ("seconds", Floor(2.0)),
    "_peak_rss": ("bytes", Floor(5.0, 65_536)),  # 0-40 kB of page noise per run here
    "_rss_growth": ("bytes", Floor(5.0, 65_536)),
    "_io_read_bytes": ("bytes", Floor(2.0, 64)),  # exact: 0 without I/O, so 64 B/op is a real read
    "_io_write_bytes": ("bytes", Floor(2.0, 64)),
    "_ctx_switches_voluntary": ("switches/op", Floor(10.0, 0.01)),  # 0 unless the code waits
    "_ctx_switches_involuntary": ("switches/op", Floor(50.0, 0.05)),  # preemptions: the machine's load
}


def floor_of(bench_type: str, unit: str, benchmark: str = "") -> Floor:
    """The effect floor of a series: instruction counts 0.5% (plus their jitter allowance, see
    ``pairwise.compare``), a resource metric its ``METRIC_FLOORS`` entry, everything else 2%."""
    channel = channel_of(bench_type, unit)
    if channel == "instructions":
        return Floor(INSTRUCTION_FLOOR_PCT)
    if channel == "metric":
        method = str(benchmark).split("(", 1)[0].rsplit(".", 1)[-1]
        text = (unit or "").strip()
        for suffix, (floor_unit, floor) in METRIC_FLOORS.items():
            if method.endswith(suffix) and text == floor_unit:
                return floor
    return Floor(DEFAULT_FLOOR_PCT)


def channel_of(bench_type: str, unit: str) -> str:
    """'instructions' for instruction counts, 'relative' for speed-normalised wall time
    (``track_*_relative``), 'wall' for time_*, 'memory' for peakmem_*/mem_*, else 'metric'.

    Only asv's own memory benchmarks are 'memory' (near-deterministic per process, judged from a
    single run per side). A ``track_*`` in bytes such as ``rss_growth`` is an allocator's mood, not a
    count: the same code measured 1,564,672 and 860,160 bytes in two processes here, so it is a
    'metric' and needs rounds like wall time."""
    unit = (unit or "").strip().lower()
    if unit == "instructions":
        return "instructions"
    if unit == "relative":
        return "relative"
    if bench_type == "time":
        return "wall"
    if bench_type in ("peakmem", "memory"):
        return "memory"
    return "metric"


# ---------------------------------------------------------------- rows


def require_columns(df: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    """A clear error when ``df`` is not a tidy table with ``cols``."""
    if not isinstance(df, pd.DataFrame):
        raise ToolError(f"{what}: expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ToolError(f"{what}: missing column(s) {', '.join(missing)} (expected the tidy table of tools.schema)")


def on_series(table: pd.DataFrame, pairs) -> pd.DataFrame:
    """The rows of ``table`` on these (machine, environment, ...) pairs."""
    keep = pd.Series(False, index=table.index)
    for m, e, *_ in pairs:
        keep |= (table["machine"].astype(str) == m) & (table["environment"].astype(str) == e)
    return table[keep]


def machine_environments(table: pd.DataFrame) -> list[tuple[str, str]]:
    """Every (machine, environment) of the table, sorted."""
    pairs = table[["machine", "environment"]].astype(str).drop_duplicates()
    return sorted(tuple(x) for x in pairs.itertuples(index=False, name=None))


def failed(df: pd.DataFrame) -> np.ndarray:
    """Which rows failed (a table without a ``failed`` column: none)."""
    if "failed" not in df.columns:
        return np.zeros(len(df), dtype=bool)
    return df["failed"].fillna(False).astype(bool).to_numpy()


def usable(df: pd.DataFrame) -> pd.DataFrame:
    """Rows with a finite value that did not fail, ``value`` as float."""
    values = pd.to_numeric(df["value"], errors="coerce")
    keep = np.isfinite(values.to_numpy(float)) & ~failed(df)
    out = df[keep].copy()
    out["value"] = values[keep].astype(float)
    return out


def group_series(df: pd.DataFrame) -> dict[tuple, pd.DataFrame]:
    """{series key: its rows}, in the table's order."""
    return {tuple(k): g for k, g in df.groupby(SERIES_KEY, sort=False, dropna=False)}


def samples_of(rows: pd.DataFrame | None) -> list[np.ndarray]:
    """The raw samples of each row that kept them (asv --record-samples)."""
    if rows is None or "samples" not in rows.columns:
        return []
    out = []
    for s in rows["samples"]:
        if s is not None and not (isinstance(s, float) and math.isnan(s)):
            arr = robust.finite(list(s))
            if len(arr):
                out.append(arr)
    return out


def per_commit_series(table: pd.DataFrame) -> Iterator[tuple[tuple, pd.DataFrame]]:
    """(series key, frame of commit, commit_date, value, rounds) per series, in commit order (history
    order when the table has ``commit_order``, then commit date, then first start time): ``value``
    is the median over the commit's rows (its rounds: the daily result and any interleaved
    re-runs), ``rounds`` all of them. ``frame.attrs`` holds type/unit.

    Grouped once for the whole table (pandas' own aggregations, and the rounds split with numpy):
    a 250k-row history would spend minutes in per-group Python otherwise."""
    t = usable(table)
    if t.empty:
        return
    order_cols = [c for c in ("commit_order", "commit_date", "started_at") if c in t.columns]
    g = t.groupby([*SERIES_KEY, "commit"], observed=True, sort=False, dropna=False)
    agg = {"value": ("value", "median"), "unit": ("unit", "first")}
    agg |= {c: (c, "min") for c in order_cols}
    if "type" in t.columns:
        agg["type"] = ("type", "first")
    per = g.agg(**agg).reset_index()
    per["rounds"] = _rounds_of(g.ngroup().to_numpy(), t["value"].to_numpy(float), len(per))
    per = per.sort_values([*SERIES_KEY, *order_cols, "commit"], kind="stable")
    for key, one in per.groupby(SERIES_KEY, sort=True, dropna=False, observed=True):
        frame = one[["commit", *order_cols, "value", "rounds"]].reset_index(drop=True)
        frame.attrs["type"] = str(one["type"].iloc[0]) if "type" in one.columns else ""
        frame.attrs["unit"] = str(one["unit"].iloc[0])
        yield tuple(key), frame


def _rounds_of(group: np.ndarray, values: np.ndarray, n_groups: int) -> list[np.ndarray]:
    """The values of each group (``group``: the group number of every row), in row order."""
    order = np.argsort(group, kind="stable")
    bounds = np.searchsorted(group[order], np.arange(n_groups + 1))
    ordered = values[order]
    return [ordered[bounds[k] : bounds[k + 1]] for k in range(n_groups)]


# ---------------------------------------------------------------- floors


def calibrate_floor(
    same_commit,
    *,
    percentile: float = 95.0,
    min_floor_pct: float = DEFAULT_FLOOR_PCT,
    n_splits: int = 200,
    seed: int = 0,
) -> float:
    """Effect floor (%) from same-commit noise: max(min_floor_pct, P95 of |same-commit shifts|).

    ``same_commit`` is either a list of groups (one array of per-round values per separate job of
    the same commit: the shifts are HL shifts between every pair of jobs, which captures job-to-job
    drift) or one flat array of per-round values (the shifts are HL shifts between random halves).
    Values must be positive (the shifts are of log-values). Too little data gives min_floor_pct.
    """
    is_groups = (
        isinstance(same_commit, (list, tuple)) and len(same_commit) > 0 and all(np.ndim(g) == 1 for g in same_commit)
    )
    if is_groups and len(same_commit) >= 2:
        logs = [g for g in (robust.positive_logs(g) for g in same_commit) if len(g)]
        shifts = [
            abs(robust.to_pct(robust.hodges_lehmann(logs[i], logs[j])))
            for i in range(len(logs))
            for j in range(i + 1, len(logs))
        ]
    else:
        flat = np.concatenate([robust.finite(g) for g in same_commit]) if is_groups else robust.finite(same_commit)
        shifts = _half_split_shifts(robust.positive_logs(flat), n_splits, seed)
    if not shifts:
        return float(min_floor_pct)
    return float(max(min_floor_pct, np.percentile(shifts, percentile)))


def _half_split_shifts(logs: np.ndarray, n_splits: int, seed: int) -> list[float]:
    """|HL shift| in % between random halves of one commit's rounds (none with < 4 rounds)."""
    if len(logs) < 4:
        return []
    rng = np.random.default_rng(seed)
    half = len(logs) // 2
    shifts = []
    for _ in range(n_splits):
        perm = rng.permutation(len(logs))
        shifts.append(abs(robust.to_pct(robust.hodges_lehmann(logs[perm[:half]], logs[perm[half:]]))))
    return shifts
