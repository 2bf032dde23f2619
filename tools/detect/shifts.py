"""Environment shifts: steps the machine made, not a commit.

A CI runner replaced by a faster one, a new Python, a re-run years later: every benchmark of a
machine + environment steps at the same commit boundary, and history mode (rightly) finds a
change point in each. Blaming the commit after that boundary would open dozens of false
regressions and send people bisecting innocent code. So, per machine + environment, the change
points of the history are gathered by boundary (positions within ±``NEAR`` commits of each other
are one boundary) and a boundary is an **environment shift** when:

* **share**: at least ``MIN_SHARE`` of the series with results on both sides (and at least
  ``MIN_SERIES``) step there, across at least ``MIN_COMPONENTS`` components — one commit rarely
  moves unrelated components at once, a machine always does — unless the instruction counts
  (unmoved by hardware) step there too: then it is code, and blamed; or
* **evidence**: the runs on either side differ in what asv recorded of the machine (cpu, os,
  cores, memory, arch) or Python, or were run out of order / far apart in time (a run-date jump
  against commit order: ``DATE_JUMP_DAYS`` and ``DATE_JUMP_FACTOR`` × the typical gap).

A change point at a shift is still blamed on its commit when the shift does not explain it: an
instruction-count step where the Python and machine are unchanged (hardware does not change
counts), or a step far from the shift's own size (robust z of its log change > ``OUTLIER_Z``
among the shift's change points and at least ``OUTLIER_MIN_PCT`` away).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tools.detect import robust
from tools.detect.finding import Finding

MIN_SHARE = 0.25
MIN_SERIES = 3
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
    """Per series: first and last position with a result, its component and channel."""
    pos = runs.set_index(["machine", "environment", "commit"])["position"]
    keyed = table.set_index(["machine", "environment", "commit"]).index
    t = table.assign(position=pos.reindex(keyed).to_numpy())
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
    if gap_days < 0:
        return [f"run out of order: the commit after was measured {-gap_days:.1f} days before the one before"]
    if gap_days > max(DATE_JUMP_DAYS, DATE_JUMP_FACTOR * typical):
        return [f"run-date jump of {gap_days:.0f} days against commit order (typical gap {typical:.1f} days)"]
    return []


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


def _share_evidence(b: _Boundary, spans: pd.DataFrame) -> tuple[list[str], int, int, tuple[str, ...]]:
    """(evidence, series stepping, series spanning, components) of the timing channels at a boundary."""
    mine = spans[(spans["machine"].astype(str) == b.machine) & (spans["environment"].astype(str) == b.environment)]
    timing = mine[mine["unit"].astype(str).str.lower() != "instructions"]
    total = int(((timing["first"] < b.position) & (timing["last"] >= b.position)).sum())
    moved = {(f.benchmark, f.params) for f in b.points if f.channel != "instructions"}
    components = tuple(sorted({f.component for f in b.points if f.channel != "instructions"}))
    n_components = mine["component"].nunique()
    need_components = min(MIN_COMPONENTS, n_components)
    enough = len(moved) >= MIN_SERIES and total and len(moved) / total >= MIN_SHARE
    if not (enough and len(components) >= need_components):
        return [], len(moved), total, components
    what = f"{len(moved)} of {total} series ({100 * len(moved) / total:.0f}%) across {len(components)} component(s) step here"
    return [what], len(moved), total, components


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
    shifts, blamed = [], []
    for b in _boundaries(changes, runs):
        share, n_moved, total, components = _share_evidence(b, spans)
        if share and _counts_moved(b, spans):
            share = []  # hardware does not change instruction counts: this step is code
        dates, machine = _run_evidence(runs, b.machine, b.environment, b.position, info)
        evidence = share + machine + dates
        if not evidence:
            blamed += b.points
            continue
        shifts.append(_shift(b, runs, n_moved, total, components, evidence))
        blamed += unexplained(b.points, machine_changed=bool(machine))
    return shifts, blamed


def _shift(b: _Boundary, runs, n_moved, total, components, evidence) -> Shift:
    mine = runs[(runs["machine"].astype(str) == b.machine) & (runs["environment"].astype(str) == b.environment)]
    commits = mine.set_index("position")["commit"].astype(str)
    timing = [f.change_pct for f in b.points if f.channel != "instructions" and math.isfinite(f.change_pct)]
    return Shift(
        machine=b.machine, environment=b.environment, commit_before=commits.get(b.position - 1, ""),
        commit_after=commits.get(b.position, ""), series=n_moved, total=total, components=components,
        median_change_pct=float(np.median(timing)) if timing else math.nan, evidence=tuple(evidence),
    )  # fmt: skip


def unexplained(points: Sequence[Finding], *, machine_changed: bool = False) -> list[Finding]:
    """The change points at a shift that the shift does not explain (see the module docstring)."""
    timing = [f for f in points if f.channel != "instructions" and math.isfinite(f.change_pct)]
    logs = np.array([math.log1p(f.change_pct / 100) for f in timing])
    centre = float(np.median(logs)) if len(logs) else 0.0
    z = robust.robust_z(logs) if len(logs) >= 3 else np.zeros(len(logs))
    far = {
        id(f)
        for f, zi, li in zip(timing, z, logs)
        if abs(zi) > OUTLIER_Z and abs(math.expm1(li - centre)) * 100 >= OUTLIER_MIN_PCT
    }
    return [f for f in points if id(f) in far or (f.channel == "instructions" and not machine_changed)]
