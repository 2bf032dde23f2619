"""``Finding``: the one result every detector returns, and its records in reports.

A finding says, for one series (benchmark x params on a machine and environment), what changed
between two sides, by how much (effect and interval in %), how sure we are (p, q) and the verdict
with the rule that decided it. Where the two sides come from differs by ``mode``:

* ``pairwise`` — base vs head rounds (``n_base``/``n_head`` rounds);
* ``history`` — the commits before vs after a change point (``n_base``/``n_head`` commits, with
  ``evidence.rounds_*`` rounds);
* ``sessions`` — a change point judged only by interleaved sessions straddling it
  (``n_base``/``n_head`` sessions);
* ``anomaly`` — a measurement to read with care (``evidence.anomaly``), never a verdict of change.

``basis`` says how the effect was measured, and is what the judge (``tools.detect.verdict``)
reads: ``rank`` (Hodges–Lehmann shift, Moses interval, Mann–Whitney p), ``window`` (HL shift
t-test of every round in a history window), ``sessions`` (van Elteren's stratified test),
``calibrated`` (HL shift against a calibrated between-process noise: too few rounds for a
rank interval, ``tools.detect.calibrate``), ``exact`` (deterministic counts), ``single-run``
(near-deterministic memory, one run a side), ``none`` (nothing to compare). Standard library only: the CI posting step imports it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

VERDICTS = ("regressed", "improved", "unchanged", "inconclusive")
CHANGED = ("regressed", "improved")
MODES = ("pairwise", "history", "sessions", "anomaly")
BASES = ("rank", "window", "sessions", "calibrated", "exact", "single-run", "none")


@dataclass(frozen=True)
class Evidence:
    """What a history change point or a noisy measurement rests on (empty for a plain pairwise one)."""

    commit_before: str | None = None  # last commit of the old level
    commit_after: str | None = None  # first commit of the new level
    position: int | None = None  # index of commit_after in the series
    before_position: int | None = None
    date_after: Any = None  # commit date of commit_after (a pandas Timestamp when known)
    rounds_base: int = 0  # rounds behind the sides (history: every round of their commits)
    rounds_head: int = 0
    design_effect: float = 1.0  # Kish's, of rounds clustered in commits (inf: one value per commit)
    looks: float = 1.0  # effective independent looks the p-value was corrected for
    anomaly: str = ""  # outlier / bimodal / too noisy (MDE x%), or ''
    mde_pct: float = math.nan  # smallest change this comparison could detect
    confirmed: bool | None = None  # re-measured interleaved: did it hold (None: not re-run)
    round: int | None = None  # the round an anomaly was seen in
    statistic: float = math.nan  # an anomaly's size: spike ratio, dip statistic or noise sd
    rounds_needed: float = math.nan  # rounds per side for the target effect (too noisy, or inconclusive)
    noise_sd_pct: float = math.nan  # calibrated between-process noise of one run (basis calibrated)
    noise_source: str = ""  # where that noise came from (kept rounds, history, default)
    noise_df: float = math.nan  # degrees of freedom of its t critical value (inf: a stated default)
    failed_rounds: str = ""  # rounds in which the benchmark failed, e.g. 'head round 3'


@dataclass(frozen=True)
class Finding:
    benchmark: str = ""
    params: str = ""
    machine: str = ""
    environment: str = ""
    channel: str = "wall"
    mode: str = "pairwise"
    basis: str = "rank"
    change_pct: float = math.nan
    ci_low_pct: float = math.nan
    ci_high_pct: float = math.nan
    p_value: float = math.nan
    q_value: float = math.nan
    floor_pct: float = math.nan
    verdict: str = "inconclusive"
    rule: str = ""  # the decision in words: what decided and why
    lower_is_better: bool = True
    base_value: float = math.nan
    head_value: float = math.nan
    n_base: int = 0
    n_head: int = 0
    method: str = ""  # the statistics used, for people
    confidence: float = 0.995
    decision_rule: str = "estimate"  # tools.detect.verdict.DECISION_RULES
    component: str = ""
    type: str = ""
    unit: str = ""
    param_values: tuple = ()
    evidence: Evidence = field(default_factory=Evidence)

    def replace(self, **changes) -> Finding:
        return dataclasses.replace(self, **changes)

    def with_evidence(self, **changes) -> Finding:
        return dataclasses.replace(self, evidence=dataclasses.replace(self.evidence, **changes))

    @property
    def changed(self) -> bool:
        return self.verdict in CHANGED


# ---------------------------------------------------------------- records

# The columns of a pairwise record and of a history record, in report order.
PAIRWISE_COLUMNS = [
    "machine", "environment", "component", "benchmark", "params", "param_values", "type", "unit",
    "channel", "base_value", "head_value", "change_pct", "ci_low_pct", "ci_high_pct", "p_value",
    "q_value", "floor_pct", "verdict", "rule", "n_base", "n_head", "anomaly", "lower_is_better",
    "method", "mde_pct", "rounds_needed", "noise_sd_pct", "noise_source", "failed_rounds",
]  # fmt: skip
HISTORY_COLUMNS = [
    "machine", "environment", "benchmark", "params", "component", "type", "unit", "channel",
    "commit_before", "commit_after", "change_pct", "ci_low_pct", "ci_high_pct", "p_value", "q_value",
    "floor_pct", "verdict", "method", "confirmed", "position", "n_before", "n_after", "date_after",
    "value_before", "value_after", "rule", "rounds_before", "rounds_after", "design_effect", "looks",
]  # fmt: skip

ANOMALY_COLUMNS = [
    "machine", "environment", "component", "benchmark", "params", "unit", "kind", "commit", "round", "detail",
    "statistic", "p_value", "mde_pct", "rounds_needed",
]  # fmt: skip

# record column -> (where it lives in a Finding): a field, or an evidence field, renamed.
_RENAMED = {
    "detail": "rule",
    "n_before": "n_base",
    "n_after": "n_head",
    "value_before": "base_value",
    "value_after": "head_value",
}
_EVIDENCE_RENAMED = {
    "rounds_before": "rounds_base",
    "rounds_after": "rounds_head",
    "kind": "anomaly",
    "commit": "commit_after",
}
_EVIDENCE = {f.name for f in dataclasses.fields(Evidence)}
_FIELDS = {f.name for f in dataclasses.fields(Finding)}


def _get(f: Finding, column: str):
    name = _RENAMED.get(column, column)
    if name in _FIELDS:
        return getattr(f, name)
    name = _EVIDENCE_RENAMED.get(column, column)
    if name in _EVIDENCE:
        return getattr(f.evidence, name)
    raise KeyError(column)


def columns_of(f: Finding) -> list[str]:
    """The record layout of a finding: history columns for change points, anomaly columns for
    anomalies, else pairwise."""
    if f.mode == "anomaly":
        return ANOMALY_COLUMNS
    return HISTORY_COLUMNS if f.mode in ("history", "sessions") else PAIRWISE_COLUMNS


def to_record(f: Finding, columns: list[str] | None = None) -> dict[str, Any]:
    """The finding as a flat dict in its record layout (the report's JSON rows and tables)."""
    return {c: _get(f, c) for c in (columns or columns_of(f))}


def from_record(row: Mapping[str, Any]) -> Finding:
    """A finding from a record (e.g. a regression report's JSON row); unknown keys are ignored."""
    top, ev = {}, {}
    for key, value in row.items():
        name = _RENAMED.get(key, key)
        if name in _FIELDS and name != "evidence":
            top[name] = tuple(value) if name == "param_values" and isinstance(value, list) else value
            continue
        name = _EVIDENCE_RENAMED.get(key, key)
        if name in _EVIDENCE:
            ev[name] = value
    if "mode" not in top and ("commit_after" in row and "head_commit" not in row):
        top["mode"] = "history"
    floats = ("change_pct", "ci_low_pct", "ci_high_pct", "p_value", "q_value", "floor_pct", "base_value", "head_value")
    for name in floats:  # JSON writes NaN as null
        if top.get(name) is None and name in top:
            top[name] = math.nan
    return Finding(**top, evidence=Evidence(**ev))


def frame(findings, columns: list[str]):
    """A pandas DataFrame of ``findings`` in the record layout ``columns`` (for tables and merges)."""
    import pandas as pd

    return pd.DataFrame.from_records([to_record(f, columns) for f in findings], columns=columns)
