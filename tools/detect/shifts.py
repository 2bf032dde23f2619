"""Environment shifts: steps the machine made, not a commit.

A CI runner replaced by a faster one, a new Python, a re-run years later: every benchmark of a
machine + environment steps at the same commit boundary, and history mode (rightly) finds a
change point in many of them. Blaming the commit after that boundary would open dozens of false
regressions and send people bisecting innocent code. So, per machine + environment, the change
points of the history are gathered by boundary (positions within ±``NEAR`` commits of each other
are one boundary) and a boundary is an **environment shift** when:

* **the suite moved**: every timing series (wall and speed-normalised) is compared across the
  boundary — the median of its per-commit values over up to ``WINDOW`` commits after against
  those before — and the signs of those changes fail a sign test (binomial, p < ``SIGN_P``):
  at least ``MIN_SHARE`` of the series move the same way, across at least ``MIN_COMPONENTS``
  components, and the suite's median move is largest here among the boundaries within ``WINDOW`` (or, in a suite too small for the sign test, at least ``MIN_DETECTED_SHARE`` of the
  series — and ``MIN_SERIES`` — have a change point there, one direction). A machine moves the
  whole suite, most of each series within its noise; a commit moves the workloads whose code it
  touched. Unless the instruction counts (unmoved by hardware)
  step there too: then it is code, and blamed. Or
* **evidence**: the runs on either side differ in what asv recorded of the machine (cpu, os,
  cores, memory, arch) or Python, or were run out of order / far apart in time (a run-date jump
  against commit order: ``DATE_JUMP_DAYS`` and ``DATE_JUMP_FACTOR`` × the typical gap).

A change point at a shift is still blamed on its commit when the shift does not explain it: an
instruction-count step where the Python and machine are unchanged (hardware does not change
counts), or a step far from the suite's move in its own channel (robust z of its window change
> ``OUTLIER_Z`` among the channel's series, and at least ``OUTLIER_MIN_PCT`` away).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from tools.detect import robust
from tools.detect.finding import Finding

MIN_SHARE = 0.75
SIGN_P = 0.001
MIN_DETECTED_SHARE = 0.5
MIN_SERIES = 3
WINDOW = 10
MIN_COMPONENTS = 2
NEAR = 1
DATE_JUMP_DAYS = 7.0
DATE_JUMP_FACTOR = 10.0
OUTLIER_Z = 4.0
OUTLIER_MIN_PCT = 10.0
MACHINE_FIELDS = ("cpu", "os", "num_cpu", "ram", "arch", "python")


@dataclass(frozen=True)
class Shift:
    """One environment shift: a boundary of one machine + environment's history."""

    machine: str
    environment: str
    commit_before: str
    commit_after: str
    series: int  # series with a change point at this boundary
    total: int  # series with results on both sides of it
    components: tuple[str, ...]
    median_change_pct: float
    evidence: tuple[str, ...]  # why it is a shift, in words

    @property
    def share(self) -> float:
        return self.series / self.total if self.total else math.nan


@dataclass(frozen=True)
class _Boundary:
    """The change points of one machine + environment gathered at one boundary."""

    machine: str
    environment: str
    position: int  # index of the first commit after the boundary in the history order
    points: tuple[Finding, ...]


# ---------------------------------------------------------------- the history's commits


def commit_runs(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (machine, environment, commit) in history order: position, first run start."""
    cols = [c for c in ("commit_order", "commit_date") if c in table.columns]
    agg = {c: (c, "min") for c in cols}
    agg["started_at"] = ("started_at", "min")
    runs = table.groupby(["machine", "environment", "commit"], observed=True, sort=False).agg(**agg).reset_index()
    runs = runs.sort_values(["machine", "environment", *cols, "started_at"], kind="stable")
    runs["position"] = runs.groupby(["machine", "environment"], observed=True).cumcount()
    return runs.reset_index(drop=True)


def _series_spans(table: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Per series: first and last position with a result, its component and unit."""
    t = _positioned(table, runs)
    keys = ["machine", "environment", "benchmark", "params"]
    return (
        t.groupby(keys, observed=True, sort=False)
        .agg(
            first=("position", "min"),
            last=("position", "max"),
            component=("component", "first"),
            unit=("unit", "first"),
        )
        .reset_index()
    )


def _positioned(table: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    pos = runs.set_index(["machine", "environment", "commit"])["position"]
    keyed = table.set_index(["machine", "environment", "commit"]).index
    return table.assign(position=pos.reindex(keyed).to_numpy())


def levels(table: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Log of each timing series' median value per commit position: rows (machine, environment,
    benchmark, params, component, unit), one column per position (NaN where not measured)."""
    t = _positioned(table, runs)
    t = t[(t["unit"].astype(str).str.lower() != "instructions") & (pd.to_numeric(t["value"], errors="coerce") > 0)]
    t = t.assign(log=np.log(pd.to_numeric(t["value"], errors="coerce")))
    keys = ["machine", "environment", "benchmark", "params", "component", "unit"]
    return t.pivot_table(index=keys, columns="position", values="log", aggfunc="median", observed=True)


# ---------------------------------------------------------------- boundaries


def _boundaries(points: Sequence[Finding], runs: pd.DataFrame) -> list[_Boundary]:
    """Change points grouped by machine + environment and by position (±NEAR commits)."""
    pos = {
        (str(m), str(e), str(c)): int(p)
        for m, e, c, p in runs[["machine", "environment", "commit", "position"]].itertuples(index=False)
    }
    placed: dict[tuple[str, str], list[tuple[int, Finding]]] = {}
    for f in points:
        p = pos.get((str(f.machine), str(f.environment), str(f.evidence.commit_after)))
        if p is not None:
            placed.setdefault((str(f.machine), str(f.environment)), []).append((p, f))
    out = []
    for (machine, env), items in placed.items():
        items.sort(key=lambda x: x[0])
        group = [items[0]]
        for item in items[1:]:
            if item[0] - group[-1][0] <= NEAR:
                group.append(item)
                continue
            out.append(_boundary(machine, env, group))
            group = [item]
        out.append(_boundary(machine, env, group))
    return out


def _boundary(machine: str, env: str, group: list[tuple[int, Finding]]) -> _Boundary:
    positions = [p for p, _ in group]
    at = max(set(positions), key=lambda p: (positions.count(p), -p))  # the most common, earliest on ties
    return _Boundary(machine, env, at, tuple(f for _, f in group))


# ---------------------------------------------------------------- evidence


def _run_evidence(
    runs: pd.DataFrame, machine: str, env: str, position: int, info: pd.DataFrame | None
) -> tuple[list[str], list[str]]:
    """(run-date evidence, machine evidence) of the runs either side of a boundary."""
    mine = runs[(runs["machine"].astype(str) == machine) & (runs["environment"].astype(str) == env)]
    mine = mine.set_index("position")
    if position not in mine.index or position - 1 not in mine.index:
        return [], []
    before, after = mine.loc[position - 1], mine.loc[position]
    dates = _date_jump(mine["started_at"], before["started_at"], after["started_at"])
    changed = (
        _machine_change(info, machine, env, str(before["commit"]), str(after["commit"])) if info is not None else []
    )
    return dates, changed


def _date_jump(starts: pd.Series, before, after) -> list[str]:
    if pd.isna(before) or pd.isna(after):
        return []
    gap_days = (after - before).total_seconds() / 86400.0
    gaps = starts.sort_index().diff().dt.total_seconds().dropna() / 86400.0
    typical = float(np.median(np.abs(gaps))) if len(gaps) else 0.0
    if abs(gap_days) <= max(DATE_JUMP_DAYS, DATE_JUMP_FACTOR * typical):
        return []  # a batch of commits measured in one sitting, in any order, is one machine
    if gap_days < 0:
        return [f"run out of order: the commit after was measured {-gap_days:.0f} days before the one before"]
    return [f"run-date jump of {gap_days:.0f} days against commit order (typical gap {typical:.1f} days)"]


def _machine_change(info: pd.DataFrame, machine: str, env: str, before: str, after: str) -> list[str]:
    """Fields of the recorded machine or Python that differ between two commits' runs."""
    rows = info[(info["machine"].astype(str) == machine) & (info["environment"].astype(str) == env)]
    rows = rows.set_index(rows["commit"].astype(str))
    if before not in rows.index or after not in rows.index:
        return []
    a, b = rows.loc[before], rows.loc[after]
    out = []
    for name in MACHINE_FIELDS:
        if name in rows.columns and str(a[name]) != str(b[name]) and not (pd.isna(a[name]) and pd.isna(b[name])):
            out.append(f"{name} {a[name]} → {b[name]}")
    return out


def window_changes(lv: pd.DataFrame, machine: str, env: str, position: int) -> pd.Series:
    """Per timing series of one machine + environment: the change of its level across a boundary
    (log median of up to WINDOW commits after minus before); series without both sides left out."""
    try:
        mine = lv.xs((machine, env), level=("machine", "environment"))
    except KeyError:
        return pd.Series(dtype=float)
    cols = np.asarray(mine.columns, dtype=float)
    before = mine.loc[:, (cols >= position - WINDOW) & (cols < position)].median(axis=1)
    after = mine.loc[:, (cols >= position) & (cols < position + WINDOW)].median(axis=1)
    return (after - before).dropna()


def _share_evidence(b: _Boundary, lv: pd.DataFrame) -> tuple[list[str], int, int, tuple[str, ...], float]:
    """(evidence, series moving the suite's way, series compared, their components, median change %)."""
    d = window_changes(lv, b.machine, b.environment, b.position)
    d = d[d != 0]
    if len(d) < 2:
        return [], 0, len(d), (), math.nan
    up = int((d > 0).sum())
    majority = d[d > 0] if up * 2 >= len(d) else d[d < 0]
    p = float(stats.binomtest(len(majority), len(d), 0.5).pvalue)
    components = tuple(sorted(set(majority.index.get_level_values("component").astype(str))))
    n_components = d.index.get_level_values("component").nunique()
    median_pct = 100 * math.expm1(float(np.median(majority)))
    spread = len(components) >= min(MIN_COMPONENTS, n_components)
    signed = p < SIGN_P and len(majority) >= MIN_SHARE * len(d) and _strongest_here(b, lv)
    stepped = _stepped_share(b, len(d))
    if not (spread and (signed or stepped)):
        return [], len(majority), len(d), components, median_pct
    why = f"sign test p={p:.1g}" if signed else f"{stepped} of them with a change point here"
    what = (
        f"{len(majority)} of {len(d)} series ({100 * len(majority) / len(d):.0f}%) across {len(components)} "
        f"component(s) move {'up' if len(majority) == up else 'down'} here ({why}), median {median_pct:+.1f}%"
    )
    return [what], len(majority), len(d), components, median_pct


def _strongest_here(b: _Boundary, lv: pd.DataFrame) -> bool:
    """The suite's median move is largest at this boundary (±NEAR) among the boundaries whose
    windows overlap it: a window that merely reaches over a shift nearby also sees the suite move."""
    around = range(b.position - WINDOW + 1, b.position + WINDOW)
    moves = {q: window_changes(lv, b.machine, b.environment, q) for q in around}
    size = {q: abs(float(np.median(m))) for q, m in moves.items() if len(m)}
    return bool(size) and abs(max(size, key=size.get) - b.position) <= NEAR


def _stepped_share(b: _Boundary, compared: int) -> int:
    """Change points at the boundary, one direction, in at least MIN_DETECTED_SHARE of the series
    compared (a suite too small for the sign test can still show a shift this way); else 0."""
    timing = [f for f in b.points if f.channel != "instructions" and math.isfinite(f.change_pct)]
    up = {(f.benchmark, f.params) for f in timing if f.change_pct > 0}
    down = {(f.benchmark, f.params) for f in timing if f.change_pct < 0}
    n = max(len(up), len(down))
    return n if n >= MIN_SERIES and compared and n >= MIN_DETECTED_SHARE * compared else 0


def _counts_moved(b: _Boundary, spans: pd.DataFrame) -> bool:
    """Most instruction-count series spanning the boundary step at it: the code changed."""
    mine = spans[(spans["machine"].astype(str) == b.machine) & (spans["environment"].astype(str) == b.environment)]
    counts = mine[mine["unit"].astype(str).str.lower() == "instructions"]
    spanning = int(((counts["first"] < b.position) & (counts["last"] >= b.position)).sum())
    moved = {(f.benchmark, f.params) for f in b.points if f.channel == "instructions"}
    return spanning > 0 and len(moved) >= max(1, spanning / 2)


# ---------------------------------------------------------------- the suite


def find_shifts(
    changes: Sequence[Finding], table: pd.DataFrame, info: pd.DataFrame | None = None
) -> tuple[list[Shift], list[Finding]]:
    """(environment shifts, the change points blamed on commits) from a history's change points.

    ``changes``: judged history/sessions findings (regressed or improved); ``table``: the history
    rows they came from; ``info``: optional per-run machine facts (machine, environment, commit and
    any of ``MACHINE_FIELDS``).
    """
    if not changes:
        return [], []
    runs = commit_runs(table)
    spans = _series_spans(table, runs)
    lv = levels(table, runs)
    shifts, blamed = [], []
    for b in _boundaries(changes, runs):
        share, n_moved, total, components, median_pct = _share_evidence(b, lv)
        if share and _counts_moved(b, spans):
            share = []  # hardware does not change instruction counts: this step is code
        dates, machine = _run_evidence(runs, b.machine, b.environment, b.position, info)
        evidence = share + machine + dates
        if not evidence:
            blamed += b.points
            continue
        commits = runs[(runs["machine"].astype(str) == b.machine) & (runs["environment"].astype(str) == b.environment)]
        commits = commits.set_index("position")["commit"].astype(str)
        shifts.append(
            Shift(b.machine, b.environment, commits.get(b.position - 1, ""), commits.get(b.position, ""), n_moved,
                  total, components, median_pct, tuple(evidence))
        )  # fmt: skip
        d = window_changes(lv, b.machine, b.environment, b.position)
        blamed += unexplained(b.points, d, machine_changed=bool(machine))
    return shifts, blamed


def unexplained(points: Sequence[Finding], changes: pd.Series, *, machine_changed: bool = False) -> list[Finding]:
    """The change points at a shift that the shift does not explain (see the module docstring):
    ``changes`` are every timing series' window changes across the boundary (``window_changes``)."""
    out = []
    for f in points:
        if f.channel == "instructions":
            if not machine_changed:
                out.append(f)
            continue
        same = changes[changes.index.get_level_values("unit").astype(str) == str(f.unit)]
        key = (f.benchmark, f.params)
        mine = [v for k, v in same.items() if (k[0], k[1]) == key]
        if len(same) < 3 or not mine:
            continue
        z = (mine[0] - float(np.median(same))) / (robust.mad_sigma(same.to_numpy()) or math.inf)
        if abs(z) > OUTLIER_Z and abs(math.expm1(mine[0] - float(np.median(same)))) * 100 >= OUTLIER_MIN_PCT:
            out.append(f)
    return out
