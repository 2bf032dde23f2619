"""Anomalies: things that are reported as such, never as regressions.

* **outlier** — a single round (pairwise) or a single commit's run (history) far from its
  neighbours: modified z-score |x - median| / (1.4826 MAD) of log-values above 3.5 among rounds
  (Iglewicz & Hoaglin), above 5 along a history (many points, so a stricter cut), where a
  history's residuals are taken from a centred rolling median of 7 commits (a step survives a
  median filter, a spike does not).
* **bimodal** — Hartigan's dip test (``diptest``) on the raw samples of one round (≥ 10 samples),
  and on the per-round values when there are ≥ 10 rounds; p < 0.01, Bonferroni over the rounds.
* **too noisy (MDE x%)** — the minimum detectable effect is above the effect we aim to catch
  (5%): MDE = floor + (z_{0.975} + z_{0.90}) · SE, SE = sqrt(pi/3) · sigma · sqrt(1/m + 1/n) (the
  large-sample standard error of the Hodges–Lehmann shift), sigma = pooled MAD-based standard
  deviation of the log-values of the same commit. That is the true shift our pairwise rule
  (whole 95% interval beyond the floor) flags with 90% power at m and n rounds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from tools.errors import ToolError
from tools.schema import SERIES_KEY, component_of

TARGET_EFFECT_PCT = 5.0  # the effect the system is meant to catch; above this MDE a benchmark is "too noisy"
OUTLIER_Z = 5.0  # modified z among rounds
HISTORY_OUTLIER_Z = 5.0  # modified z along a history
HISTORY_WINDOW = 7  # centred rolling median for history residuals
OUTLIER_MIN_DEVIATION = math.log(1.10)  # an outlier is also >= 10% from the median
BIMODAL_P = 0.01
MIN_DIP_SAMPLES = 10
POWER = 0.90
MAD_SCALE = 1.4826  # MAD -> standard deviation for normal data

ANOMALY_COLUMNS = [
    "machine",
    "environment",
    "component",
    "benchmark",
    "params",
    "unit",
    "kind",
    "commit",
    "round",
    "detail",
    "statistic",
    "p_value",
    "mde_pct",
    "rounds_needed",
]


def _logs(values) -> np.ndarray:
    a = np.asarray(values, dtype=float).ravel()
    a = a[np.isfinite(a)]
    return np.log(a) if len(a) and (a > 0).all() else a


def robust_z(x) -> np.ndarray:
    """Modified z-scores (x - median) / (1.4826 MAD); ±inf for deviations when MAD is 0."""
    x = np.asarray(x, dtype=float)
    med = np.median(x)
    mad = np.median(np.abs(x - med)) * MAD_SCALE
    dev = x - med
    if mad == 0:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(dev == 0, 0.0, np.sign(dev) * np.inf)
    return dev / mad


def outlier_mask(values, threshold: float = OUTLIER_Z, min_n: int = 6) -> np.ndarray:
    """True for rounds whose log-value is a single-run outlier (needs ``min_n`` rounds)."""
    x = _logs(values)
    if len(x) < min_n:
        return np.zeros(len(x), dtype=bool)
    z = robust_z(x)
    far = np.abs(x - np.median(x)) >= (OUTLIER_MIN_DEVIATION if (np.asarray(values, float) > 0).all() else 0.0)
    return (np.abs(z) > threshold) & far


def dip_test(samples) -> tuple[float, float]:
    """Hartigan's dip statistic and p-value of log-samples; (nan, nan) with < 10 distinct values."""
    x = _logs(samples)
    if len(np.unique(x)) < MIN_DIP_SAMPLES:
        return math.nan, math.nan
    import diptest  # deferred: only needed when samples were recorded

    dip, p = diptest.diptest(np.sort(x))
    return float(dip), float(p)


def is_bimodal(sample_groups: Sequence, alpha: float = BIMODAL_P) -> tuple[bool, float]:
    """Any group bimodal at alpha / (number of testable groups) (Bonferroni); (flag, min p)."""
    ps = [p for p in (dip_test(g)[1] for g in sample_groups) if math.isfinite(p)]
    if not ps:
        return False, math.nan
    pmin = min(ps)
    return pmin < alpha / len(ps), pmin


def robust_sigma(*groups) -> float:
    """Pooled MAD-based standard deviation of log-values around each group's own median."""
    res = []
    for g in groups:
        x = _logs(g)
        if len(x) >= 3:
            res.append(x - np.median(x))
    if not res:
        return math.nan
    return float(np.median(np.abs(np.concatenate(res))) * MAD_SCALE)


def _z_sum(confidence: float, power: float) -> float:
    return float(stats.norm.ppf(1 - (1 - confidence) / 2) + stats.norm.ppf(power))


def minimum_detectable_effect(
    sigma_log: float,
    n_base: int,
    n_head: int,
    floor_pct: float,
    *,
    confidence: float = 0.95,
    power: float = POWER,
    rule: str = "interval",
) -> float:
    """Smallest true change (%) the pairwise rule flags with ``power`` at these round counts.

    ``rule="interval"`` (the whole interval beyond the floor): floor + (z_conf + z_power)·SE.
    ``rule="estimate"`` (estimate beyond the floor, interval excluding 0): the larger of
    floor + z_power·SE and (z_conf + z_power)·SE, on the log scale.
    """
    if not math.isfinite(sigma_log) or n_base < 1 or n_head < 1:
        return math.nan
    se = math.sqrt(math.pi / 3) * sigma_log * math.sqrt(1 / n_base + 1 / n_head)
    floor = math.log1p(floor_pct / 100)
    if rule == "estimate":
        return 100.0 * math.expm1(max(floor + float(stats.norm.ppf(power)) * se, _z_sum(confidence, power) * se))
    return 100.0 * math.expm1(floor + _z_sum(confidence, power) * se)


def rounds_needed(
    sigma_log: float,
    floor_pct: float,
    target_pct: float = TARGET_EFFECT_PCT,
    *,
    confidence: float = 0.95,
    power: float = POWER,
    rule: str = "interval",
) -> float:
    """Rounds per side for an MDE of ``target_pct`` (inf when the floor is already above it)."""
    target, floor = math.log1p(target_pct / 100), math.log1p(floor_pct / 100)
    gap = target - floor
    if not math.isfinite(sigma_log) or gap <= 0:
        return math.inf
    k = 2 * (math.pi / 3) * sigma_log**2
    if rule == "estimate":
        z_p = float(stats.norm.ppf(power))
        return float(math.ceil(k * max((_z_sum(confidence, power) / target) ** 2, (z_p / gap) ** 2)))
    return float(math.ceil(k * (_z_sum(confidence, power) / gap) ** 2))


def pair_label(
    base_values,
    head_values,
    base_samples: Sequence = (),
    head_samples: Sequence = (),
    *,
    floor_pct: float,
    target_pct: float = TARGET_EFFECT_PCT,
    confidence: float = 0.95,
    rule: str = "interval",
) -> tuple[str, float]:
    """('' or 'outlier, bimodal, too noisy (MDE 12%)', MDE %) for one pairwise comparison."""
    labels = []
    if outlier_mask(base_values).any() or outlier_mask(head_values).any():
        labels.append("outlier")
    groups = list(base_samples) + list(head_samples)
    for values in (base_values, head_values):
        if len(np.ravel(values)) >= MIN_DIP_SAMPLES:
            groups.append(values)
    if is_bimodal(groups)[0]:
        labels.append("bimodal")
    nb, nh = len(_logs(base_values)), len(_logs(head_values))
    mde = math.nan
    if nb >= 3 and nh >= 3:
        mde = minimum_detectable_effect(
            robust_sigma(base_values, head_values), nb, nh, floor_pct, confidence=confidence, rule=rule
        )
        if math.isfinite(mde) and mde > target_pct:
            labels.append(f"too noisy (MDE {mde:.0f}%)")
    return ", ".join(labels), mde


def history_outliers(log_values, threshold: float = HISTORY_OUTLIER_Z, window: int = HISTORY_WINDOW) -> np.ndarray:
    """True for commits that are lone spikes: far from the median of the (up to 3) commits before
    *and* of the (up to 3) after, on the same side — by more than ``threshold`` robust z (scale:
    MAD of the residuals from a centred rolling median of ``window``) and by at least 10%.

    A step is not a spike (its neighbours after it agree with it), and neither is the newest
    commit (nothing after it to tell a spike from the start of a step).
    """
    y = np.asarray(log_values, dtype=float)
    n = len(y)
    flags = np.zeros(n, dtype=bool)
    if n < 5:
        return flags
    smooth = pd.Series(y).rolling(window, center=True, min_periods=1).median().to_numpy()
    resid = y - smooth
    scale = np.median(np.abs(resid - np.median(resid))) * MAD_SCALE
    bar = max(threshold * scale, OUTLIER_MIN_DEVIATION, np.finfo(float).eps)
    half = window // 2
    for i in range(1, n - 1):
        dl = y[i] - np.median(y[max(0, i - half) : i])
        dr = y[i] - np.median(y[i + 1 : i + 1 + half])
        flags[i] = dl * dr > 0 and min(abs(dl), abs(dr)) >= bar
    return flags


def history_sigma(log_values) -> float:
    """Run-to-run noise of a history: MAD of consecutive differences / sqrt(2) (steps barely move it)."""
    y = np.asarray(log_values, dtype=float)
    if len(y) < 4:
        return math.nan
    d = np.diff(y)
    return float(np.median(np.abs(d - np.median(d))) * MAD_SCALE / math.sqrt(2))


def anomaly_suite(
    table: pd.DataFrame,
    *,
    target_pct: float = TARGET_EFFECT_PCT,
    floor_pct: float = 2.0,
    window: int = 5,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Anomalies of a history table: one row per outlier run, bimodal round, or too-noisy series.

    ``too noisy`` uses the history's own noise: the MDE of comparing ``window`` commits before a
    change against ``window`` after (one value per commit) — the history rule's situation.
    """
    need = SERIES_KEY + ["commit", "value", "unit"]
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise ToolError(f"anomaly table: missing column(s) {', '.join(missing)} (expected the tidy table)")
    from tools.detect.history import per_commit_series  # local: history imports this module

    rows = []
    for key, series in per_commit_series(table):
        base = dict(zip(SERIES_KEY, key))
        base["component"] = component_of(key[2])
        base["unit"] = series.attrs.get("unit", "")
        y = series["value"].to_numpy(float)
        logs = np.log(y) if (y > 0).all() else y
        for i in np.flatnonzero(history_outliers(logs)):
            med = float(np.median(y[max(0, i - 3) : i + 4]))
            rows.append(
                {
                    **base,
                    "kind": "outlier",
                    "commit": series["commit"].iloc[i],
                    "round": None,
                    "detail": f"single run {y[i] / med:.2f}× its neighbours' median",
                    "statistic": float(y[i] / med),
                    "p_value": math.nan,
                    "mde_pct": math.nan,
                    "rounds_needed": math.nan,
                }
            )
        sigma = history_sigma(logs) if (y > 0).all() else math.nan
        if math.isfinite(sigma) and str(base["unit"]).lower() != "instructions":
            mde = minimum_detectable_effect(sigma, window, window, floor_pct, confidence=confidence)
            if mde > target_pct:
                rows.append(
                    {
                        **base,
                        "kind": "too noisy",
                        "commit": None,
                        "round": None,
                        "detail": f"too noisy (MDE {mde:.0f}%): run-to-run sd {100 * sigma:.1f}% (log)",
                        "statistic": sigma,
                        "p_value": math.nan,
                        "mde_pct": mde,
                        "rounds_needed": rounds_needed(sigma, floor_pct, target_pct, confidence=confidence),
                    }
                )
    if "samples" in table.columns:
        for key, g in table.groupby(SERIES_KEY, sort=True, dropna=False):
            groups = [
                (r.commit, getattr(r, "round", 0), s)
                for r, s in zip(g.itertuples(), g["samples"])
                if s is not None and not (isinstance(s, float) and math.isnan(s))
            ]
            tests = [(c, rd, dip_test(s)) for c, rd, s in groups]
            tests = [(c, rd, d, p) for c, rd, (d, p) in tests if math.isfinite(p)]
            for c, rd, d, p in tests:
                if p < BIMODAL_P / len(tests):
                    rows.append(
                        {
                            **dict(zip(SERIES_KEY, key)),
                            "component": component_of(key[2]),
                            "unit": str(g["unit"].iloc[0]),
                            "kind": "bimodal",
                            "commit": c,
                            "round": rd,
                            "detail": f"bimodal samples (dip {d:.3f}, p={p:.2g})",
                            "statistic": d,
                            "p_value": p,
                            "mde_pct": math.nan,
                            "rounds_needed": math.nan,
                        }
                    )
    return pd.DataFrame.from_records(rows, columns=ANOMALY_COLUMNS)
