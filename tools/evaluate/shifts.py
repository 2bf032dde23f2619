"""Environment shifts in the evaluation: does a runner change get blamed on a commit, and does a
real step still get through?

Suite histories are built from the recorded noise (``NoiseCorpus``): every wall-time and
speed-normalised series of the corpus, and its instruction counts (exact: one constant value), over
``SHIFT_COMMITS`` commits of ``commit_rounds`` processes each — a tidy table like the one asv's
daily runs give — and the full history analysis runs on it (``history_report.build_history``:
change points, sessions-free, then ``detect.shifts``). Scenarios:

* **runner shift** — from commit ``SHIFT_AT`` on, every timing series is multiplied by its own
  factor: the shift size times a per-series spread (sd ``SPREAD``), for wall time; the
  speed-normalised channel moves by the same factor to the power ``RELATIVE_SHARE`` (the measured
  day-to-day sd ratio of the two channels: 5% / 22%); instruction counts do not move;
* **runner shift + real step** — the same, plus one workload (its wall, speed-normalised and
  instruction series) slower by ``step_pct`` from commit ``STEP_AT`` on;
* **real step, no shift** — the step alone.

Per history: was a shift reported at the runner change (±1 commit), how many change points were
blamed on the commit there (ours, and without the shift rule), and was the real step blamed on its
commit (±``LOCATION_TOLERANCE``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from tools.detect.shifts import NEAR
from tools.evaluate.config import LOCATION_TOLERANCE, EvalConfig
from tools.evaluate.corpus import NoiseCorpus, SeriesNoise
from tools.evaluate.metrics import Rate
from tools.history_report import build_history

SHIFT_COMMITS = 40
SHIFT_AT = 20
STEP_AT = 30
SPREAD = 0.05
RELATIVE_SHARE = 0.05 / 0.22
SCENARIOS = (
    ("runner shift", True, False),
    ("runner shift + real step", True, True),
    ("real step, no shift", False, True),
)
T0 = pd.Timestamp("2026-01-01", tz="UTC")


def _split(name: str) -> tuple[str, str]:
    """``mod.Cls.time_x('a', 1)`` -> (``mod.Cls.time_x``, ``'a', 1``)."""
    head, _, tail = name.partition("(")
    return head, tail[:-1] if tail else ""


def _commit(i: int) -> str:
    return f"{i:04d}" + "5" * 36


def _factor(s: SeriesNoise, shift: float, rng: np.random.Generator) -> float:
    if s.channel == "instructions":
        return 1.0
    size = shift * float(np.exp(rng.normal(0, SPREAD)))
    return size**RELATIVE_SHARE if s.channel == "relative" else size


def _series_rows(s: SeriesNoise, factors: tuple[float, float], cfg: EvalConfig, rng) -> list[dict]:
    """One series' rows: ``commit_rounds`` processes per commit, ``factors`` (shift, step) applied."""
    bench, params = _split(s.name)
    values = s.process_values()
    rows = []
    for c in range(SHIFT_COMMITS):
        level = (factors[0] if c >= SHIFT_AT else 1.0) * (factors[1] if c >= STEP_AT else 1.0)
        picks = rng.choice(len(values), cfg.commit_rounds, replace=len(values) < cfg.commit_rounds * SHIFT_COMMITS)
        for r, v in enumerate(values[picks]):
            rows.append({"commit": _commit(c), "round": r, "benchmark": bench, "params": params, "value": v * level,
                         "unit": s.unit, "commit_date": T0 + pd.Timedelta(days=c), "started_at": T0 + pd.Timedelta(days=c, hours=r)})  # fmt: skip
    return rows


def _workload(name: str) -> str:
    """The workload a series measures (its class and parameters), shared by its channels."""
    bench, params = _split(name)
    return f"{bench.rpartition('.')[0]}({params})" if not bench.endswith("_instructions") else bench.rsplit("_", 1)[0]


def suite_history(
    corpus: NoiseCorpus, cfg: EvalConfig, shift: float, step: tuple[str, float] | None, rng
) -> pd.DataFrame:
    """A tidy table of one simulated suite history (see the module docstring)."""
    rows = []
    for s in corpus.series.values():
        f_step = step[1] if step is not None and _workload(s.name) == step[0] else 1.0
        rows += _series_rows(s, (_factor(s, shift, rng), f_step), cfg, rng)
    t = pd.DataFrame(rows)
    t["machine"], t["environment"], t["failed"] = "sim", "env", False
    t["component"] = t["benchmark"].str.split(".").str[0].str.removesuffix("_benchmarks")
    t["type"] = np.where(t["benchmark"].str.contains(r"\.time_"), "time", "track")
    return t


def _near(found, at: int, tol: int) -> list:
    pos = {_commit(c): c for c in range(SHIFT_COMMITS)}
    return [f for f in found if abs(pos.get(str(f.evidence.commit_after), -99) - at) <= tol]


def trial(
    corpus: NoiseCorpus, cfg: EvalConfig, scenario: tuple[str, bool, bool], shift_pct: float, step_pct: float, rng
) -> dict:
    """One simulated history of one scenario, analysed; what happened at the shift and the step."""
    name, shifted, stepped = scenario
    walls = [n for n in corpus.names("wall")]
    target = _workload(walls[int(rng.integers(len(walls)))]) if stepped else None
    table = suite_history(
        corpus, cfg, 1 + shift_pct / 100 if shifted else 1.0, (target, 1 + step_pct / 100) if stepped else None, rng
    )
    h = build_history(table, None, q=0.05)
    blamed_at_shift = _near(h.changes, SHIFT_AT, NEAR) if shifted else []
    found_step = [
        f
        for f in _near(h.changes, STEP_AT, LOCATION_TOLERANCE)
        if f.verdict == "regressed" and _workload(f"{f.benchmark}({f.params})") == target
    ]
    return {
        "scenario": name, "shift_pct": shift_pct if shifted else 0.0,
        "shift_reported": bool([s for s in h.shifts if abs(int(s.commit_after[:4]) - SHIFT_AT) <= NEAR]) if shifted else math.nan,
        "blamed_at_shift": len(blamed_at_shift),
        "blamed_without_rule": len(blamed_at_shift) + len(_near(h.attributed, SHIFT_AT, NEAR)) if shifted else 0,
        "step_found": bool(found_step) if stepped else math.nan,
        "shift_elsewhere": any(abs(int(s.commit_after[:4]) - SHIFT_AT) > NEAR for s in h.shifts),
    }  # fmt: skip


def run_shifts(corpus: NoiseCorpus, cfg: EvalConfig, shift_pcts=(10.0, 25.0), step_pct: float = 20.0) -> pd.DataFrame:
    """``cfg.shift_trials`` histories per scenario and shift size; one record each."""
    records = []
    for si, shift in enumerate(shift_pcts):
        for ci, scenario in enumerate(SCENARIOS):
            if not scenario[1] and si:  # the no-shift scenario does not depend on the shift size
                continue
            rng = np.random.default_rng([cfg.seed, si, ci, 7])
            records += [trial(corpus, cfg, scenario, shift, step_pct, rng) for _ in range(cfg.shift_trials)]
    return pd.DataFrame.from_records(records)


def shift_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per scenario and shift size: shift reported, histories blaming a commit at the shift (with
    and without the shift rule), the real step found."""
    rows = []
    for (scenario, shift), g in df.groupby(["scenario", "shift_pct"], sort=False):
        row = {"scenario": scenario, "runner shift": f"+{shift:g}%" if shift else "—"}
        if g["shift_reported"].notna().any():
            row["shift reported"] = Rate.of(g["shift_reported"].astype(bool))
            row["histories blaming a commit at the shift"] = Rate.of(g["blamed_at_shift"] > 0)
            row["… without the shift rule"] = Rate.of(g["blamed_without_rule"] > 0)
        if g["step_found"].notna().any():
            row["real step (+20%) blamed on its commit"] = Rate.of(g["step_found"].astype(bool))
        row["a shift reported elsewhere"] = Rate.of(g["shift_elsewhere"].astype(bool))
        rows.append(row)
    return pd.DataFrame(rows)
