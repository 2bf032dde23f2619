"""What the detectors found, for the dashboard: run them here, or read a regression report.

Both give a ``Detection``: findings (pairwise ones carry their base and head commits in
``evidence.commit_before`` / ``commit_after``; history change points as the detector placed
them; anomalies with ``mode="anomaly"``) and the environment shifts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from tools.detect import pairwise
from tools.detect.finding import Finding, from_record
from tools.detect.series import on_series
from tools.detect.shifts import Shift
from tools.errors import ToolError
from tools.revisions import newest_commit, previous_commit


@dataclass(frozen=True)
class Detection:
    findings: tuple[Finding, ...] = ()
    shifts: tuple[Shift, ...] = ()
    source: str = ""  # where they came from, for the page's footer


def _newest_pairs(table: pd.DataFrame) -> list[tuple[str, str, str, str]]:
    """(machine, environment, base, head) per machine + environment: its newest commit with
    results and the one before it (pairs without an earlier commit are left out)."""
    out = []
    for (machine, env), sub in table.groupby(["machine", "environment"], observed=True):
        head = newest_commit(sub)
        base = previous_commit(table, head, str(machine), str(env))
        if base is not None:
            out.append((str(machine), str(env), base, head))
    return out


def pairwise_newest(table: pd.DataFrame, *, q: float) -> list[Finding]:
    """``compare_suite`` of each machine + environment's newest commit against its previous one."""
    found = []
    for machine, env, base, head in _newest_pairs(table):
        rows = on_series(table, [(machine, env)])
        commits = rows["commit"].astype(str)
        for f in pairwise.compare_suite(rows[commits == base], rows[commits == head], q=q):
            found.append(f.with_evidence(commit_before=base, commit_after=head))
    return found


def run_detectors(table: pd.DataFrame, *, q: float = 0.05, history: bool = True) -> Detection:
    """Pairwise verdicts at the newest commits, and (``history``) change points, shifts, anomalies."""
    found = pairwise_newest(table, q=q)
    shifts: tuple[Shift, ...] = ()
    what = "pairwise (newest vs previous commit)"
    if history:
        from tools.history_report import build_history

        h = build_history(table, None, q=q)
        found += list(h.changes or ()) + [a.replace(mode="anomaly") for a in h.anomalies]
        shifts = h.shifts
        what += " and history" if h.changes is not None else f"; {h.note[:1].lower()}{h.note[1:]}"
    return Detection(tuple(found), shifts, f"detectors run by the dashboard: {what}")


# ---------------------------------------------------------------- a regression report's JSON

_SHIFT_FIELDS = {f.name for f in dataclasses.fields(Shift)}


def _shift(row: Mapping) -> Shift:
    values = {k: row.get(k) for k in _SHIFT_FIELDS}
    values["components"] = tuple(values["components"] or ())
    values["evidence"] = tuple(values["evidence"] or ())
    values["median_change_pct"] = float("nan") if values["median_change_pct"] is None else values["median_change_pct"]
    return Shift(**values)


def _result(row: Mapping) -> Finding:
    f = from_record(row)
    if row.get("mode") == "pairwise" or "head_commit" in row:
        f = f.replace(mode="pairwise").with_evidence(
            commit_before=row.get("base_commit"), commit_after=row.get("head_commit")
        )
    return f


def from_report(report: Mapping) -> Detection:
    """The findings and shifts of a regression report (``docs/schema/regression_report.schema.json``)."""
    rows = report.get("results")
    if not isinstance(rows, list):
        raise ToolError("regression report JSON has no list of results (expected a 'results' key)")
    found = [_result(r) for r in rows if isinstance(r, Mapping)]
    found += [from_record(a).replace(mode="anomaly") for a in report.get("history_anomalies") or []]
    shifts = tuple(_shift(s) for s in report.get("environment_shifts") or [])
    return Detection(tuple(found), shifts, "regression report")
