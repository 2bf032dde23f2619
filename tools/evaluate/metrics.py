"""Rates with their confidence: recall, false alarms, commits to detection, MDE."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from tools.evaluate.config import LOCATION_TOLERANCE, EvalConfig, prefix_grid
from tools.evaluate.inject import Scenario

CONFIDENCE = 0.95
# A change counts as found early when found at most this many commits (days) after it.
FOUND_WITHIN = 5


def wilson(k: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials (scipy's binomtest); (nan, nan) if n == 0."""
    if n <= 0:
        return math.nan, math.nan
    if not 0 <= k <= n:
        raise ValueError(f"k={k} outside 0..n={n}")
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


@dataclass(frozen=True)
class Rate:
    """k of n, as a proportion with its Wilson interval."""

    k: int
    n: int

    @property
    def value(self) -> float:
        return self.k / self.n if self.n else math.nan

    @property
    def ci(self) -> tuple[float, float]:
        return wilson(self.k, self.n)

    def fmt(self) -> str:
        """'93.2% [90.1, 95.4]' (percent, 95% Wilson interval); 'n/a' without trials."""
        if not self.n:
            return "n/a"
        lo, hi = self.ci
        return f"{100 * self.value:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]"

    @staticmethod
    def of(flags: Iterable[bool]) -> Rate:
        flags = [bool(f) for f in flags]
        return Rate(sum(flags), len(flags))


def commits_to_detection(first_k: Sequence[float | None]) -> tuple[float, int, int]:
    """(median commits to detection among detected, detected, total); None/NaN = never detected."""
    ks = [float(k) for k in first_k if k is not None and not (isinstance(k, float) and math.isnan(k))]
    med = float(np.median(ks)) if ks else math.nan
    return med, len(ks), len(first_k)


def score_history(detect: Callable[[int], list[int]], sc: Scenario, cfg: EvalConfig) -> dict[str, float]:
    """One detector on one history: ``false_alarms`` (A/A) or ``first_k`` (a change), the other NaN.

    ``detect(known)`` answers with the first commit after each regression it reports from the
    first ``known`` commits. A/A: how many it reports on the whole history. A change landing at
    commit ``cfg.before`` (over ``sc.steps`` commits): the first k of the prefix grid at which it
    reports one within ±``LOCATION_TOLERANCE`` commits of the change; NaN if it never does.
    """
    s0 = cfg.before
    if not sc.is_change:
        return {"false_alarms": len(detect(s0 + cfg.after)), "first_k": math.nan}
    lo, hi = s0 - LOCATION_TOLERANCE, s0 + (sc.steps - 1) + LOCATION_TOLERANCE
    for k in prefix_grid(cfg):
        if any(lo <= f <= hi for f in detect(s0 + k)):
            return {"false_alarms": math.nan, "first_k": k}
    return {"false_alarms": math.nan, "first_k": math.nan}


def histories_with_alarm(false_alarms: Iterable[float]) -> Rate:
    """A/A histories in which the detector reported any regression."""
    return Rate.of(n > 0 for n in false_alarms)


def found_within(first_k: Iterable[float], within: int = FOUND_WITHIN) -> Rate:
    """Histories whose change was found at most ``within`` commits after it (NaN: never found)."""
    return Rate.of(k <= within for k in first_k)


def min_detectable_effect(recall_by_effect: dict[float, float], target: float = 0.9) -> float:
    """Smallest injected effect (%) whose recall reaches ``target``; inf when none does."""
    for eff in sorted(recall_by_effect):
        if recall_by_effect[eff] >= target:
            return float(eff)
    return math.inf


def analytic_mde(process_values: np.ndarray, rounds: int, alpha: float = 0.05, power: float = 0.9) -> float:
    """Two-sample normal-approximation MDE (%) of log-values with ``rounds`` processes per side.

    (z_{1-alpha/2} + z_power) * sd(log values) * sqrt(2 / rounds): what the noise allows any
    unbiased detector at that budget, as a yardstick for the empirical MDE.
    """
    logs = np.log(np.asarray(process_values, dtype=float))
    if len(logs) < 3 or rounds < 1:
        return math.nan
    sd = float(np.std(logs, ddof=1))
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return 100.0 * math.expm1(z * sd * math.sqrt(2.0 / rounds))
