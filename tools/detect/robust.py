"""Robust statistics the detectors share, one copy each.

* scales: finite values, log-values where every value is positive, percentages of log shifts;
* spread: the MAD (scaled to a normal sd), modified z-scores, a pooled MAD-based sd of log-values;
* two-sample location: the Hodges–Lehmann shift, its distribution-free Moses/Lehmann interval
  (the inversion of the Mann–Whitney test) and the Mann–Whitney p-value (scipy);
* power: the minimum detectable effect of the pairwise rule and the rounds it needs;
* many tests: Benjamini–Hochberg q-values (scipy), and the effective number of independent looks
  of a scan from simulated null maxima.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import stats

MAD_SCALE = 1.4826  # MAD -> standard deviation for normal data
POWER = 0.90


# ---------------------------------------------------------------- scales


def finite(values) -> np.ndarray:
    """The finite values of ``values`` as a flat float array (failed rounds, NaN, inf dropped)."""
    a = np.asarray(values if values is not None else [], dtype=float).ravel()
    return a[np.isfinite(a)]


def log_scale(values) -> tuple[np.ndarray, bool]:
    """(log-values, True) of the finite values when all are positive, else (the values, False):
    shifts of log-values are ratios, and a scale with zeros or negatives has no logarithm."""
    a = finite(values)
    return (np.log(a), True) if len(a) and (a > 0).all() else (a, False)


def positive_logs(values) -> np.ndarray:
    """Log-values of the finite, positive values only (the rest cannot be a ratio)."""
    a = finite(values)
    return np.log(a[a > 0])


def to_pct(log_shift: float) -> float:
    """A shift of log-values as a percentage change; infinite bounds ("no interval") stay infinite."""
    if math.isinf(log_shift) or log_shift > 700:  # beyond a float's range: no upper bound
        return math.inf if log_shift > 0 else log_shift
    return 100.0 * math.expm1(log_shift)


# ---------------------------------------------------------------- spread


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


def mad_sigma(x) -> float:
    """The MAD of ``x`` about its median, scaled to a normal standard deviation."""
    x = np.asarray(x, dtype=float)
    return float(np.median(np.abs(x - np.median(x))) * MAD_SCALE)


def robust_sigma(*groups) -> float:
    """Pooled MAD-based standard deviation of log-values around each group's own median."""
    res = []
    for g in groups:
        x, _ = log_scale(g)
        if len(x) >= 3:
            res.append(x - np.median(x))
    if not res:
        return math.nan
    return float(np.median(np.abs(np.concatenate(res))) * MAD_SCALE)


# ---------------------------------------------------------------- two-sample location


def hodges_lehmann(base: np.ndarray, head: np.ndarray) -> float:
    """Median of all pairwise differences head_j - base_i (the two-sample HL estimator)."""
    return float(np.median(np.subtract.outer(head, base)))


@functools.lru_cache(maxsize=65536)
def _p_for_u(m: int, n: int, u: int) -> float:
    """scipy's two-sided Mann–Whitney p-value for statistic U = u with sizes (m, n), no ties.

    Without ties the p-value depends only on (m, n, U), so it is asked of
    ``scipy.stats.mannwhitneyu`` once, on a tie-free configuration shifted to exactly that U,
    and cached (scipy's call overhead dominated history mode otherwise).
    """
    base = np.arange(m, dtype=float)
    head = np.arange(n, dtype=float) * math.sqrt(2.0) + 0.1234  # all pairwise differences distinct
    diffs = np.sort(np.subtract.outer(head, base).ravel())
    k = m * n - u  # a shift d with exactly k differences below it leaves U = #{D > d} = u
    d = diffs[0] - 1.0 if k == 0 else diffs[-1] + 1.0 if k == m * n else (diffs[k - 1] + diffs[k]) / 2.0
    return float(stats.mannwhitneyu(head - d, base, alternative="two-sided").pvalue)


@functools.lru_cache(maxsize=512)
def mann_whitney_critical(m: int, n: int, confidence: float) -> int | None:
    """Largest c with two-sided Mann–Whitney p(U = c) <= 1 - confidence, or None if none exists.

    The Moses interval is then [D_(c+1), D_(mn-c)] of the sorted pairwise differences (the
    inversion of the test: shifts it would not reject). The null distribution of U does not
    depend on the data, so c comes from scipy's p-values for each candidate U (binary search).
    """
    if m < 1 or n < 1:
        return None
    alpha = 1.0 - confidence
    if _p_for_u(m, n, 0) > alpha:
        return None
    lo, hi = 0, (m * n) // 2  # p is increasing in U on [0, mn/2]
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _p_for_u(m, n, mid) <= alpha:
            lo = mid
        else:
            hi = mid - 1
    return lo


def min_rounds(confidence: float) -> int:
    """Fewest rounds per side (equal sides) for which a Moses interval exists at ``confidence``."""
    n = 1
    while mann_whitney_critical(n, n, round(confidence, 6)) is None:
        n += 1
    return n


def shift_interval(base: np.ndarray, head: np.ndarray, confidence: float) -> tuple[float, float]:
    """Moses/Lehmann distribution-free interval for the shift head - base; (-inf, inf) if n too small."""
    c = mann_whitney_critical(len(base), len(head), round(confidence, 6))
    if c is None:
        return -math.inf, math.inf
    diffs = np.sort(np.subtract.outer(head, base).ravel())
    return float(diffs[c]), float(diffs[len(diffs) - 1 - c])


def mann_whitney_p(base: np.ndarray, head: np.ndarray) -> float:
    """Two-sided Mann–Whitney U p-value of head vs base (scipy; cached by U when there are no ties)."""
    if len(base) < 1 or len(head) < 1:
        return math.nan
    pooled = np.concatenate([base, head])
    if np.ptp(pooled) == 0:
        return 1.0  # all identical: no evidence of any shift
    if len(np.unique(pooled)) == len(pooled):
        u = int(np.count_nonzero(np.subtract.outer(head, base) > 0))
        return _p_for_u(len(base), len(head), u)
    p = float(stats.mannwhitneyu(head, base, alternative="two-sided").pvalue)
    return p if math.isfinite(p) else 1.0


# ---------------------------------------------------------------- power


def z_two_sided(confidence: float) -> float:
    """The normal critical value of a two-sided interval at ``confidence``."""
    return float(stats.norm.ppf(1 - (1 - confidence) / 2))


def mde_from_se(se: float, floor_pct: float, crit: float, *, power: float = POWER, rule: str = "interval") -> float:
    """Smallest true change (%) a rule with critical value ``crit`` flags with ``power``, when its
    log-shift estimate has standard error ``se``.

    ``rule="interval"`` (the whole interval beyond the floor): floor + (crit + z_power)·SE.
    ``rule="estimate"`` (estimate beyond the floor, interval excluding 0): the larger of
    floor + z_power·SE and (crit + z_power)·SE, on the log scale.
    """
    z_p = float(stats.norm.ppf(power))
    floor = math.log1p(floor_pct / 100)
    if rule == "estimate":
        return 100.0 * math.expm1(max(floor + z_p * se, (crit + z_p) * se))
    return 100.0 * math.expm1(floor + (crit + z_p) * se)


def rounds_for_mde(
    sigma_log: float, floor_pct: float, target_pct: float, crit: float, *, power: float = POWER, rule: str = "interval"
) -> float:
    """Rounds per side for an MDE of ``target_pct`` (``mde_from_se`` with the HL shift's SE; inf
    when the floor is already at or above it)."""
    target, floor = math.log1p(target_pct / 100), math.log1p(floor_pct / 100)
    gap = target - floor
    if not math.isfinite(sigma_log) or gap <= 0:
        return math.inf
    k = 2 * (math.pi / 3) * sigma_log**2
    z_p = float(stats.norm.ppf(power))
    if rule == "estimate":
        return float(math.ceil(k * max(((crit + z_p) / target) ** 2, (z_p / gap) ** 2)))
    return float(math.ceil(k * ((crit + z_p) / gap) ** 2))


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
    """Smallest true change (%) the pairwise rule flags with ``power`` at these round counts
    (``mde_from_se`` at the normal critical value of ``confidence``).

    SE = sqrt(pi/3) · sigma · sqrt(1/m + 1/n), the large-sample standard error of the HL shift.
    """
    if not math.isfinite(sigma_log) or n_base < 1 or n_head < 1:
        return math.nan
    se = math.sqrt(math.pi / 3) * sigma_log * math.sqrt(1 / n_base + 1 / n_head)
    return mde_from_se(se, floor_pct, z_two_sided(confidence), power=power, rule=rule)


def rounds_needed(sigma_log: float, floor_pct: float, target_pct: float, *, confidence: float = 0.95, rule: str = "interval") -> float:  # fmt: skip
    """Rounds per side for an MDE of ``target_pct`` at ``POWER`` (inf when the floor is already above it)."""
    return rounds_for_mde(sigma_log, floor_pct, target_pct, z_two_sided(confidence), rule=rule)


# ---------------------------------------------------------------- many tests


def bh_qvalues(p_values) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values) of ``p_values``.

    NaN p-values (no test was possible) stay NaN and do not count as tests, so a suite
    with untestable benchmarks is not penalised for them. Uses
    ``scipy.stats.false_discovery_control(method="bh")``.
    """
    p = np.asarray(p_values, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = np.isfinite(p)
    if ok.any():
        q[ok] = stats.false_discovery_control(np.clip(p[ok], 0.0, 1.0), method="bh")
    return q


def looks_from_maxima(maxima: np.ndarray, alpha: float, cap: float) -> float:
    """Effective looks from simulated null maxima of |z| over a family of tests: the (1 - alpha)
    quantile c of the maxima is the family's critical value, alpha / P(|Z| > c) the number of
    independent tests Bonferroni would need to reach it; between 1 and ``cap`` (Bonferroni)."""
    critical = float(np.quantile(maxima, 1 - alpha))
    return float(min(cap, max(1.0, alpha / (2 * stats.norm.sf(critical)))))
