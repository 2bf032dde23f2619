"""Anomalies: measurements to read with care, reported as such and never as regressions.

* **outlier** — a single round (pairwise) or a single commit's run (history) far from its
  neighbours: modified z-score |x - median| / (1.4826 MAD) of log-values above 5 (``OUTLIER_Z``,
  ``HISTORY_OUTLIER_Z``) and at least 10% away, where a history's residuals are taken from a
  centred rolling median of 7 commits (a step survives a median filter, a spike does not).
* **bimodal** — Hartigan's dip test (``diptest``) on the raw samples of one round (≥ 10 samples),
  and on the per-round values when there are ≥ 10 rounds; p < 0.01, Bonferroni over the rounds.
* **too noisy (MDE x%)** — the minimum detectable effect (``robust.minimum_detectable_effect``)
  is above the effect we aim to catch (5%): the smallest true shift the decision rule flags with
  90% power at these rounds per side, from the pooled MAD-based sd of the log-values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from tools.detect import robust, series
from tools.detect.finding import Finding
from tools.detect.robust import minimum_detectable_effect, robust_sigma, robust_z
from tools.schema import SERIES_KEY, component_of

TARGET_EFFECT_PCT = 5.0  # the effect the system is meant to catch; above this MDE a benchmark is "too noisy"
OUTLIER_Z = 5.0  # modified z among rounds
HISTORY_OUTLIER_Z = 5.0  # modified z along a history
HISTORY_WINDOW = 7  # centred rolling median for history residuals
OUTLIER_MIN_DEVIATION = math.log(1.10)  # an outlier is also >= 10% from the median
BIMODAL_P = 0.01
MIN_DIP_SAMPLES = 10


def outlier_mask(values, threshold: float = OUTLIER_Z, min_n: int = 6) -> np.ndarray:
    """True for rounds whose log-value is a single-run outlier (needs ``min_n`` rounds)."""
    x, _ = robust.log_scale(values)
    if len(x) < min_n:
        return np.zeros(len(x), dtype=bool)
    z = robust_z(x)
    far = np.abs(x - np.median(x)) >= (OUTLIER_MIN_DEVIATION if (np.asarray(values, float) > 0).all() else 0.0)
    return (np.abs(z) > threshold) & far


def dip_test(samples) -> tuple[float, float]:
    """Hartigan's dip statistic and p-value of log-samples; (nan, nan) with < 10 distinct values."""
    x, _ = robust.log_scale(samples)
    if len(np.unique(x)) < MIN_DIP_SAMPLES:
        return math.nan, math.nan
    import diptest  # deferred: only needed when samples were recorded

    dip, p = diptest.diptest(np.sort(x))
    return float(dip), float(p)


def is_bimodal(sample_groups: Sequence, alpha: float = BIMODAL_P) -> tuple[bool, float]:
    """Any group bimodal at alpha / (number of testable groups) (Bonferroni); (flag, min p). The
    smallest p of each sample size is that of its largest dip (``dip_statistics``)."""
    dips, sizes = dip_statistics(sample_groups)
    testable = np.isfinite(dips)
    if not testable.any():
        return False, math.nan
    pmin = min(_dip_p(n, dips[testable & (sizes == n)].max()) for n in np.unique(sizes[testable]))
    return pmin < alpha / int(testable.sum()), pmin


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
    (base_logs, positive_base), (head_logs, positive_head) = (
        robust.log_scale(base_values),
        robust.log_scale(head_values),
    )
    nb, nh = len(base_logs), len(head_logs)
    mde = math.nan
    if nb >= 3 and nh >= 3 and positive_base and positive_head:  # an MDE in % needs log-values (no zeros)
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
    bar = max(threshold * robust.mad_sigma(y - smooth), OUTLIER_MIN_DEVIATION, np.finfo(float).eps)
    half = window // 2
    pad = np.full(half, np.nan)
    # medians of the (up to) ``half`` commits before and after each commit, all at once
    before = np.nanmedian(sliding_window_view(np.concatenate([pad, y]), half)[1 : n - 1], axis=1)
    after = np.nanmedian(sliding_window_view(np.concatenate([y, pad]), half)[2:n], axis=1)
    dl, dr = y[1:-1] - before, y[1:-1] - after
    flags[1:-1] = (dl * dr > 0) & (np.minimum(np.abs(dl), np.abs(dr)) >= bar)
    return flags


def history_sigma(log_values) -> float:
    """Run-to-run noise of a history: MAD of consecutive differences / sqrt(2) (steps barely move it)."""
    y = np.asarray(log_values, dtype=float)
    if len(y) < 4:
        return math.nan
    return robust.mad_sigma(np.diff(y)) / math.sqrt(2)


# ---------------------------------------------------------------- the suite


def _anomaly(key: tuple, unit: str, kind: str, detail: str, **evidence) -> Finding:
    """An anomaly finding: never a verdict of change, only a measurement to read with care."""
    return Finding(
        machine=key[0], environment=key[1], benchmark=key[2], params=key[3], component=component_of(key[2]),
        unit=unit, mode="anomaly", basis="none", verdict="inconclusive", rule=detail, method=kind,
        p_value=evidence.pop("p_value", math.nan),
    ).with_evidence(anomaly=kind, **evidence)  # fmt: skip


def _spikes_and_noise(key, per: pd.DataFrame, target_pct, floor_pct, window, confidence) -> list[Finding]:
    unit = per.attrs.get("unit", "")
    y = per["value"].to_numpy(float)
    logs = np.log(y) if (y > 0).all() else y
    out = []
    for i in np.flatnonzero(history_outliers(logs)):
        med = float(np.median(y[max(0, i - 3) : i + 4]))
        detail = f"single run {y[i] / med:.2f}× its neighbours' median"
        out.append(
            _anomaly(key, unit, "outlier", detail, commit_after=per["commit"].iloc[i], statistic=float(y[i] / med))
        )
    sigma = history_sigma(logs) if (y > 0).all() else math.nan
    if math.isfinite(sigma) and str(unit).lower() != "instructions":
        mde = minimum_detectable_effect(sigma, window, window, floor_pct, confidence=confidence)
        if mde > target_pct:
            needed = robust.rounds_needed(sigma, floor_pct, target_pct, confidence=confidence)
            detail = f"too noisy (MDE {mde:.0f}%): run-to-run sd {100 * sigma:.1f}% (log)"
            out.append(_anomaly(key, unit, "too noisy", detail, statistic=sigma, mde_pct=mde, rounds_needed=needed))
    return out


def dip_statistics(sample_groups: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """(dip, n) of every group's log-samples as ``dip_test`` takes them; dip NaN with fewer than
    10 distinct values. Groups of one length are taken through numpy together (log, sort, distinct
    count); only the dip itself is computed per group (diptest's C core). A history holds one group
    per commit and round: one ``dip_test`` call each spent nine tenths of their time around the dip."""
    import diptest  # deferred: only needed when samples were recorded

    k = len(sample_groups)
    dips, sizes = np.full(k, math.nan), np.zeros(k, dtype=int)
    by_length: dict[int, list[int]] = {}
    for i, s in enumerate(sample_groups):
        by_length.setdefault(len(s), []).append(i)
    for length, idx in by_length.items():
        raw = np.array([sample_groups[i] for i in idx], dtype=float).reshape(len(idx), length)
        whole = np.isfinite(raw).all(axis=1)
        for i in np.asarray(idx)[~whole]:  # failed samples among them: the one-group path drops them
            sizes[i] = len(robust.finite(sample_groups[i]))
            dips[i] = dip_test(sample_groups[i])[0]
        rows, idx = raw[whole], np.asarray(idx)[whole]
        positive = (rows > 0).all(axis=1, keepdims=True)
        x = np.where(positive, np.log(np.where(positive, rows, 1.0)), rows)
        x.sort(axis=1)
        distinct = 1 + (np.diff(x, axis=1) > 0).sum(axis=1) if length else np.zeros(len(idx), dtype=int)
        sizes[idx] = length
        for j in np.flatnonzero(distinct >= MIN_DIP_SAMPLES):
            dips[idx[j]] = diptest.dipstat(x[j], sort_x=False)
    return dips, sizes


def _dip_p(n, dip) -> float:
    """The dip test's p-value for a dip of ``n`` samples, as ``diptest.diptest`` interpolates it."""
    from diptest.consts import Consts

    return float(Consts.compute_pval_interpolation(int(n), float(dip)))


def _significant_dips(dips: np.ndarray, sizes: np.ndarray, alpha: float) -> list[tuple[int, float]]:
    """(index, p) of the groups whose dip test rejects unimodality at ``alpha``, in index order.

    The p-value is diptest's interpolation in its table of critical values, decreasing in the dip
    for a given sample size: each size's dips are visited from the largest and the first p at or
    above ``alpha`` ends that size."""
    found = []
    for n in np.unique(sizes[np.isfinite(dips)]):
        of_size = np.flatnonzero((sizes == n) & np.isfinite(dips))
        for i in of_size[np.argsort(-dips[of_size], kind="stable")]:
            p = _dip_p(n, dips[i])
            if p >= alpha:
                break
            found.append((int(i), p))
    return sorted(found)


def _bimodal_rounds(table: pd.DataFrame) -> list[Finding]:
    """Rounds whose raw samples are bimodal (Hartigan's dip), Bonferroni over each series' rounds."""
    has = np.fromiter(
        (s is not None and not (isinstance(s, float) and math.isnan(s)) for s in table["samples"]), bool, len(table)
    )
    out = []
    for key, g in table[has].groupby(SERIES_KEY, sort=True, dropna=False, observed=True):
        rounds = g["round"].tolist() if "round" in g.columns else [0] * len(g)
        commits = g["commit"].tolist()
        dips, sizes = dip_statistics(list(g["samples"]))
        testable, unit = int(np.isfinite(dips).sum()), str(g["unit"].iloc[0])
        for i, p in _significant_dips(dips, sizes, BIMODAL_P / max(testable, 1)):
            detail = f"bimodal samples (dip {dips[i]:.3f}, p={p:.2g})"
            evidence = dict(commit_after=commits[i], round=rounds[i], statistic=float(dips[i]), p_value=p)
            out.append(_anomaly(tuple(key), unit, "bimodal", detail, **evidence))
    return out


def anomaly_suite(
    table: pd.DataFrame,
    *,
    target_pct: float = TARGET_EFFECT_PCT,
    floor_pct: float = 2.0,
    window: int = 5,
    confidence: float = 0.95,
) -> list[Finding]:
    """Anomalies of a history table: one finding per outlier run, bimodal round, or too-noisy series.

    ``too noisy`` uses the history's own noise: the MDE of comparing ``window`` commits before a
    change against ``window`` after (one value per commit) — the history rule's situation.
    """
    series.require_columns(table, SERIES_KEY + ["commit", "value", "unit"], "anomaly table")
    out = []
    for key, per in series.per_commit_series(table):
        out += _spikes_and_noise(key, per, target_pct, floor_pct, window, confidence)
    if "samples" in table.columns:
        out += _bimodal_rounds(table)
    return out
