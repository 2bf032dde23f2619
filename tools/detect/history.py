"""History mode: change points along each benchmark series, one value per commit.

1. **Locate** candidate steps with asv's own step detection (``asv.step_detect``: an L1
   piecewise-constant "Potts" fit whose penalty is chosen by an information criterion). It fits
   medians, so a lone spike rarely becomes a step; we ask it for more candidates than asv's
   default penalty (``beta_scale``) because each candidate is then tested.
2. **Spikes are not steps**: lone spikes (``anomalies.history_outliers``: far from the 3 commits
   before and the 3 after, same side) are set aside first, and any remaining one-commit segment
   is merged into the segment after it.
3. **Test** each candidate on a window of up to ``window`` commits on each side, clipped at the
   neighbouring candidates: Hodges–Lehmann shift of log-values, Moses 95% interval, Mann–Whitney
   p (the pairwise statistics, ``tools.detect.pairwise``), Benjamini–Hochberg across every
   candidate of the suite, and the same decision: the whole interval beyond the floor (2%) and
   q < 0.05. Only regressions and improvements are reported, at the commit range
   (last commit before, first commit after].
4. Instruction counts are exact: a change point is any consecutive pair of commits whose counts
   differ by at least the instruction floor.
5. **Confirm** (optional): a ``confirm`` hook re-runs the two boundary commits interleaved
   (``tools.detect.rounds.make_confirmer``) and the row says whether it held.
"""

from __future__ import annotations

import math
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
from asv import step_detect

from tools.detect import anomalies, pairwise
from tools.detect.multiple import bh_qvalues
from tools.errors import ToolError
from tools.schema import SERIES_KEY, component_of, lower_is_better as schema_lower_is_better

# History mode keeps the 95% "interval" rule: its windows are tested at every position, and the
# boundary re-run (pairwise mode) confirms before an alert.
HISTORY_CONFIDENCE = 0.95
HISTORY_RULE = "interval"

DEFAULT_WINDOW = 10
BETA_SCALE = 0.5  # x asv's default Potts penalty 4 ln(n)/n: more candidates, each one then tested
PRUNE_P = 0.05    # candidates weaker than this (unadjusted Mann–Whitney p) are merged away
NOISE_FLOOR_Z = 1.96  # floor >= the 95th percentile of same-level window shifts

HISTORY_COLUMNS = [
    "machine", "environment", "benchmark", "params", "component", "type", "unit", "channel",
    "commit_before", "commit_after", "change_pct", "ci_low_pct", "ci_high_pct", "p_value", "q_value",
    "floor_pct", "verdict", "method", "confirmed",
    # beyond the brief's contract:
    "position", "n_before", "n_after", "date_after", "value_before", "value_after", "rule",
]

ConfirmHook = Callable[[str, str, pd.DataFrame], Sequence]


def _positive_logs(y: np.ndarray) -> tuple[np.ndarray, bool]:
    return (np.log(y), True) if len(y) and (y > 0).all() else (y.astype(float), False)


def candidate_boundaries(y: Sequence[float], *, beta_scale: float = BETA_SCALE) -> list[int]:
    """Indices where a new level starts (asv's Potts fit), one-commit segments merged forward."""
    y = [float(v) for v in y]
    n = len(y)
    if n < 3:
        return []
    beta = beta_scale * 4 * math.log(n) / n
    right, _, _, _ = step_detect.solve_potts_autogamma(y, [1.0] * n, beta=beta)
    bounds = [int(r) for r in right[:-1]]
    # Merge one-commit segments into the following segment (a spike is not a level).
    merged: list[int] = []
    for b in bounds:
        if merged and b - merged[-1] < 2:
            continue
        merged.append(b)
    return merged


def _test_window(before: np.ndarray, after: np.ndarray, logs: bool, confidence: float) -> tuple[float, float, float, float]:
    """(change %, ci low %, ci high %, p) of after vs before."""
    shift = pairwise.hodges_lehmann(before, after)
    lo, hi = pairwise.shift_interval(before, after, confidence)
    p = pairwise.mann_whitney_p(before, after)
    if logs:
        return pairwise._to_pct(shift), pairwise._to_pct(lo), pairwise._to_pct(hi), p
    ref = abs(float(np.median(before))) or math.nan
    return 100 * shift / ref, 100 * lo / ref, 100 * hi / ref, p


def detect_series(values: Sequence[float], *, lower_is_better: bool = True, channel: str = "wall",
                  floor_pct: float | None = None, window: int = DEFAULT_WINDOW, confidence: float = HISTORY_CONFIDENCE,
                  beta_scale: float = BETA_SCALE, instruction_jitter: float = pairwise.INSTRUCTION_JITTER,
                  prune_p: float = PRUNE_P) -> list[dict]:
    """Candidate change points of one series (one value per commit, in commit order).

    Returns dicts with ``position`` (index of the first commit after the change), change and
    interval in %, ``p_value``, ``n_before``/``n_after`` and ``method``; the verdict is made by
    ``judge`` (after BH across the suite). Non-finite values are skipped (``position`` refers to
    the original indices).
    """
    raw = np.asarray(values, dtype=float)
    idx = np.flatnonzero(np.isfinite(raw))
    y_all = raw[idx]
    if len(y_all) < 2:
        return []
    y, logs = _positive_logs(y_all)
    out = []
    if channel == "instructions" and logs:
        floor = floor_pct if floor_pct is not None else pairwise.INSTRUCTION_FLOOR_PCT
        for i in range(1, len(y_all)):
            change = 100.0 * (y_all[i] / y_all[i - 1] - 1.0)
            jitter_floor = max(floor, 100.0 * instruction_jitter / y_all[i - 1])
            if abs(change) >= jitter_floor:
                out.append({"position": int(idx[i]), "before_position": int(idx[i - 1]), "change_pct": change,
                            "ci_low_pct": change, "ci_high_pct": change, "p_value": math.nan,
                            "n_before": 1, "n_after": 1, "floor_pct": jitter_floor,
                            "value_before": float(y_all[i - 1]), "value_after": float(y_all[i]),
                            "method": "instructions: consecutive commits, deterministic"})
        return out
    # Lone spikes are set aside (they are reported by anomalies.anomaly_suite): left in, they
    # attract a Potts boundary that clips the windows of real candidates nearby.
    keep = ~anomalies.history_outliers(y) if logs else np.ones(len(y), dtype=bool)
    y, y_all, idx = y[keep], y_all[keep], idx[keep]
    if len(y) < 2:
        return out
    bounds = candidate_boundaries(y, beta_scale=beta_scale)
    # The floor also covers this series' own noise: the 95th percentile of |HL shift| between two
    # windows of the same level (1.96 standard errors; sigma from consecutive differences). The
    # candidates were chosen by the data that test them, so a floor of 2% alone is not enough
    # on a noisy series (measured: 10% of flat 30-commit series at 10% noise alarmed without it).
    sigma = anomalies.history_sigma(y) if logs else math.nan
    base_floor = floor_pct if floor_pct is not None else pairwise.DEFAULT_FLOOR_PCT

    def floor_for(m: int, n: int) -> float:
        if not math.isfinite(sigma) or m < 1 or n < 1:
            return base_floor
        se = math.sqrt(math.pi / 3) * sigma * math.sqrt(1 / m + 1 / n)
        return max(base_floor, 100 * math.expm1(NOISE_FLOOR_Z * se))

    memo: dict[tuple[int, int, int], tuple] = {}  # elimination re-tests only changed windows

    def tested(bounds: list[int]) -> list[dict]:
        edges = [0] + bounds + [len(y)]
        res = []
        for k, b in enumerate(bounds, start=1):
            lo_edge, hi_edge = max(edges[k - 1], b - window), min(edges[k + 1], b + window)
            before, after = y[lo_edge:b], y[b:hi_edge]
            if (lo_edge, b, hi_edge) not in memo:
                memo[(lo_edge, b, hi_edge)] = _test_window(before, after, logs, confidence)
            change, ci_lo, ci_hi, p = memo[(lo_edge, b, hi_edge)]
            res.append({"position": int(idx[b]), "before_position": int(idx[b - 1]), "change_pct": change,
                        "ci_low_pct": ci_lo, "ci_high_pct": ci_hi, "p_value": p,
                        "n_before": len(before), "n_after": len(after),
                        "floor_pct": floor_for(len(before), len(after)),
                        "value_before": float(np.median(y_all[lo_edge:b])),
                        "value_after": float(np.median(y_all[b:hi_edge])),
                        "method": "asv Potts step + HL/Moses/Mann–Whitney window"})
        return res

    # Backward elimination: a spurious candidate would clip its neighbours' windows, so drop the
    # weakest (largest p) while it is not significant on its own, and re-test the rest.
    res = tested(bounds)
    while res:
        worst = max(range(len(res)), key=lambda i: (res[i]["p_value"] if math.isfinite(res[i]["p_value"]) else 2.0))
        if math.isfinite(res[worst]["p_value"]) and res[worst]["p_value"] < prune_p:
            break
        del bounds[worst]
        res = tested(bounds)
    out.extend(res)
    return out


def judge(candidate: dict, q_value: float, *, lower_is_better: bool = True, alpha: float = pairwise.DEFAULT_Q,
          confidence: float = HISTORY_CONFIDENCE) -> tuple[str, str]:
    """(verdict, rule) of one candidate: deterministic ones by the floor, others as in pairwise."""
    if candidate["method"].startswith("instructions"):
        worse = candidate["change_pct"] if lower_is_better else -candidate["change_pct"]
        verdict = "regressed" if worse > 0 else "improved"
        return verdict, (f"instructions {candidate['change_pct']:+.2f}% between consecutive commits "
                         f"≥ floor {candidate['floor_pct']:.2f}%: deterministic")
    verdict, rule = pairwise.decide(candidate["change_pct"], candidate["ci_low_pct"], candidate["ci_high_pct"],
                                    q_value, candidate["floor_pct"], lower_is_better=lower_is_better,
                                    alpha=alpha, confidence=confidence, rule=HISTORY_RULE)
    return verdict, f"{rule} ({candidate['n_before']} commits before vs {candidate['n_after']} after)"


def per_commit_series(table: pd.DataFrame) -> Iterator[tuple[tuple, pd.DataFrame]]:
    """(series key, frame of commit, commit_date, value) per series: the median over rounds of each
    commit, in commit order (commit date, then first start time). ``frame.attrs`` holds type/unit."""
    t = table
    values = pd.to_numeric(t["value"], errors="coerce")
    keep = np.isfinite(values.to_numpy(float))
    if "failed" in t.columns:
        keep &= ~t["failed"].fillna(False).astype(bool).to_numpy()
    t = t[keep].assign(value=values[keep].astype(float))
    order_cols = [c for c in ("commit_date", "started_at") if c in t.columns]
    for key, g in t.groupby(SERIES_KEY, sort=True, dropna=False):
        agg = {"value": ("value", "median")}
        for c in order_cols:
            agg[c] = (c, "min")
        per = g.groupby("commit", sort=False).agg(**agg).reset_index()
        if order_cols:
            per = per.sort_values(order_cols + ["commit"], kind="stable").reset_index(drop=True)
        per.attrs["type"] = str(g["type"].iloc[0]) if "type" in g.columns else ""
        per.attrs["unit"] = str(g["unit"].iloc[0])
        yield tuple(key), per


def history_suite(table: pd.DataFrame, *, q: float = pairwise.DEFAULT_Q, floors: Mapping | None = None,
                  window: int = DEFAULT_WINDOW, confidence: float = HISTORY_CONFIDENCE,
                  beta_scale: float = BETA_SCALE, instruction_jitter: float = pairwise.INSTRUCTION_JITTER,
                  confirm: ConfirmHook | None = None, include_inconclusive: bool = False) -> pd.DataFrame:
    """Tidy history table -> one row per detected change point (regressed or improved).

    ``confirm(commit_before, commit_after, rows) -> [True/False/None per row]`` re-runs the two
    boundary commits; without it ``confirmed`` is None (not checked). With
    ``include_inconclusive`` candidates that did not pass are returned too (verdict
    'inconclusive' / 'unchanged'), e.g. for evaluation.
    """
    need = SERIES_KEY + ["commit", "value", "unit", "type"]
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise ToolError(f"history table: missing column(s) {', '.join(missing)} (expected the tidy table of tools.schema)")
    records = []
    for key, per in per_commit_series(table):
        btype, unit = per.attrs["type"], per.attrs["unit"]
        channel = pairwise.channel_of(btype, unit)
        lib = schema_lower_is_better(btype, unit)
        floor = pairwise._floor_for(floors, key)
        cands = detect_series(per["value"].to_numpy(float), lower_is_better=lib, channel=channel, floor_pct=floor,
                              window=window, confidence=confidence, beta_scale=beta_scale,
                              instruction_jitter=instruction_jitter)
        for c in cands:
            date_after = per["commit_date"].iloc[c["position"]] if "commit_date" in per.columns else None
            records.append({
                "machine": key[0], "environment": key[1], "benchmark": key[2], "params": key[3],
                "component": component_of(key[2]), "type": btype, "unit": unit, "channel": channel,
                "commit_before": per["commit"].iloc[c["before_position"]], "commit_after": per["commit"].iloc[c["position"]],
                "change_pct": c["change_pct"], "ci_low_pct": c["ci_low_pct"], "ci_high_pct": c["ci_high_pct"],
                "p_value": c["p_value"], "floor_pct": c["floor_pct"], "method": c["method"],
                "position": c["position"], "n_before": c["n_before"], "n_after": c["n_after"],
                "date_after": date_after, "value_before": c["value_before"], "value_after": c["value_after"],
                "_lib": lib, "_cand": c,
            })
    qs = bh_qvalues([r["p_value"] for r in records])
    kept = []
    for r, qv in zip(records, qs):
        verdict, rule = judge(r["_cand"], qv, lower_is_better=r["_lib"], alpha=q, confidence=confidence)
        if verdict in ("regressed", "improved") or include_inconclusive:
            r.update(q_value=qv, verdict=verdict, rule=rule, confirmed=None)
            kept.append(r)
    out = pd.DataFrame.from_records(kept, columns=HISTORY_COLUMNS)
    if confirm is not None and len(out):
        out["confirmed"] = out["confirmed"].astype(object)
        for (before, after), rows in out.groupby(["commit_before", "commit_after"], sort=False):
            flags = list(confirm(before, after, rows))
            if len(flags) != len(rows):
                raise ToolError(f"confirmation of {before[:8]}..{after[:8]} answered {len(flags)} flags for {len(rows)} changes")
            for i, flag in zip(rows.index, flags):
                out.at[i, "confirmed"] = None if flag is None else bool(flag)
    return out
