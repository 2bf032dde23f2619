"""Sequential rounds: judge after every round, stop measuring what is decided or cannot be.

An interleaved check measures base and head round after round. Judging after each round and
stopping a benchmark as soon as it is *regressed* or *improved* would test it again and again at
the full level, and false alarms would pile up over the looks. So the error a benchmark may make is
**spent over its looks** (Lan–DeMets): with ``t`` the share of the planned rounds measured, look
``k`` uses the interval at ``1 - (alpha*(t_k) - alpha*(t_{k-1}))``. The shares add up to ``alpha``
(0.005, the 99.5% of a single look), so by the union bound a benchmark's false alarms over all its
looks stay within ``alpha`` whatever stops it. The default is the O'Brien–Fleming type,
``alpha*(t) = 2 - 2 Phi(z_{1-alpha/2} / sqrt t)``: early looks are very strict (only huge changes
stop there) and the last keeps most of the error, so the planned rounds lose little power against
a single look (measured: ``evaluate-detector``, docs/detection.md). ``linear`` (``alpha t``: with a
look after every round, Bonferroni over the planned looks) leaves less unspent when a budget ends
the rounds early, at more cost to the last look.

*Unchanged* (the whole interval within ±floor) is the same interval's equivalence decision and
stops a benchmark too. From half its planned rounds on, a benchmark also stops, **inconclusive**,
when its conditional power is spent: assuming its current estimate is the truth, the chance that
the planned rounds end in any decision is below ``FUTILITY`` (10%). Stopping for futility never adds a false alarm (it only
withholds verdicts), so it needs no correction. The planned rounds ``max_rounds`` are fixed before
the first look, from time alone (the budget and the measured cost of a round), never from results.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats

from tools.detect import calibrate, robust
from tools.detect.verdict import CONFIDENCE

FUTILITY = 0.10


@dataclass(frozen=True)
class Plan:
    """The planned rounds a side and the error to spend over the looks at them."""

    max_rounds: int
    alpha: float = 1.0 - CONFIDENCE
    futility: float = FUTILITY
    spending: str = "obf"  # or "linear"

    def spent(self, rounds: int) -> float:
        """alpha*(t): the error spent by the look after ``rounds`` rounds, t = rounds / max_rounds:
        ``linear`` alpha t (each look an equal share, Bonferroni over the planned looks: a budget that
        ends the rounds early leaves little unspent), ``obf`` the O'Brien–Fleming type 2 - 2 Phi(z / sqrt t)
        (almost everything kept for the last look)."""
        if rounds <= 0:
            return 0.0
        t = min(1.0, rounds / self.max_rounds)
        if self.spending == "linear":
            return self.alpha * t
        z = stats.norm.ppf(1.0 - self.alpha / 2.0)
        return float(2.0 - 2.0 * stats.norm.cdf(z / math.sqrt(t)))

    def confidence_at(self, rounds: int, previous: int) -> float:
        """The interval's confidence at the look after ``rounds`` rounds, the previous look having
        been after ``previous``: one minus the error spent between them."""
        share = self.spent(rounds) - self.spent(previous)
        return 1.0 - max(share, 1e-15)


def conditional_power(shift: float, n: int, n_max: int, sigma: float, floor_log: float, crit: float) -> float:
    """Chance that the planned ``n_max`` rounds a side end in a verdict (regressed, improved or
    unchanged), if the current estimate ``shift`` (log scale, from ``n`` rounds a side) is the truth.

    The final estimate is the mean of the ``n`` rounds' and ``n_max - n`` new rounds' estimates:
    normal around ``shift`` with sd sqrt(2 sigma^2 (pi/3) (n_max - n)) / n_max; a verdict of change
    needs it beyond both the floor and ``crit`` standard errors, *unchanged* needs it within the floor
    less the final half-width."""
    if n >= n_max or not (math.isfinite(sigma) and sigma > 0):
        return 0.0
    se_final = calibrate.shift_se(sigma, n_max, n_max)
    spread = math.sqrt(2.0 * sigma**2 * (math.pi / 3.0) * (n_max - n)) / n_max
    beyond = max(floor_log, crit * se_final)
    change = stats.norm.sf((beyond - shift) / spread) + stats.norm.cdf((-beyond - shift) / spread)
    room = floor_log - crit * se_final
    same = 0.0
    if room > 0:
        same = stats.norm.cdf((room - shift) / spread) - stats.norm.cdf((-room - shift) / spread)
    return float(min(1.0, change + same))


# Rounds are spent only on series whose noise lets the planned rounds show a change smaller than this
# (an MDE at 99.5% and 90% power); the others are decided by their first round alone (large changes).
WORTH_MDE_PCT = 50.0
# Noise assumed for planning when a series has no calibration: the median over the recorded corpus's
# workloads (tests/test_sequential.py recomputes them); only for planning, never for a verdict.
PLANNING_SIGMA = {"wall": 0.25, "relative": 0.06, "metric": 0.25}


def planning_mde_pct(sigma: float, rounds: int) -> float:
    """MDE (%) of ``rounds`` a side at noise ``sigma``: one look at 99.5%, 90% power, normal, no floor."""
    se = calibrate.shift_se(sigma, rounds, rounds)
    return robust.mde_from_se(se, 0.0, robust.z_two_sided(CONFIDENCE), power=0.90, rule="estimate")


def plan_rounds(
    budget_s: float, elapsed_s: float, overhead_s: float, costs: dict, sigmas: dict, *, cap: int
) -> tuple[int, list]:
    """(rounds a side, the series worth them): the most rounds ``n`` (at most ``cap``) such that the
    series whose MDE at ``n`` rounds is at most ``WORTH_MDE_PCT`` can be measured ``n - 1`` more times
    (both sides, ``overhead_s`` per asv run) within the budget; ``costs`` and ``sigmas`` per series
    key. (1, []) when not even a second round fits. From times and calibrations only, never from
    this comparison's results."""
    for n in range(cap, 1, -1):
        worth = [k for k in costs if planning_mde_pct(sigmas[k], n) <= WORTH_MDE_PCT]
        if not worth:
            continue
        round_s = 2.0 * (overhead_s + sum(costs[k] for k in worth))
        if not math.isfinite(budget_s) or elapsed_s + (n - 1) * round_s <= budget_s:
            return n, worth
    return 1, []


def futility(change_pct: float, floor_pct: float, logs: tuple, noise, plan: Plan) -> float | None:
    """The conditional power of an open comparison (``logs``: base and head log-values so far) to
    reach any verdict by its plan's last round, judged at the noise it would be judged by; None before
    half the planned rounds (an estimate from one or two rounds is too rough to give up on), when that
    noise is a stated default (no measurement: never a reason to stop) or nothing is left."""
    n = min(len(x) for x in logs)
    if not math.isfinite(change_pct) or n >= plan.max_rounds or 2 * n < plan.max_rounds:
        return None  # only from half the planned rounds on: one or two rounds say too little
    used = calibrate.with_session(noise, *logs)
    if math.isinf(used.df):
        return None
    last = plan.max_rounds
    # a calibration keeps its degrees of freedom; the comparison's own spread gains them with rounds
    df = used.df if used.source.startswith(("kept", "history")) else max(used.df, (2 * (last - 1)) // 3)
    crit = calibrate.critical_value(plan.confidence_at(last, last - 1), df)
    return conditional_power(math.log1p(change_pct / 100.0), n, last, used.sigma, math.log1p(floor_pct / 100.0), crit)


def futility_text(n: int, plan: Plan, power: float) -> str:
    return (
        f" [stopped after {n} rounds a side: at the planned {plan.max_rounds} it would reach a verdict "
        f"with {100 * power:.0f}% chance, if its current estimate held]"
    )
