"""Pairwise mode: base vs head, one value per independent round (process) of each commit.

The unit of noise on a shared machine is the process, not the sample: samples taken inside one
process share its memory layout, CPU frequency and neighbours. So every statistic here works on
one value per round (asv's median of that round's samples), never on pooled samples.

Statistics, per series (benchmark x params):

* **effect**: the Hodges–Lehmann shift of log-values, median(log head_j - log base_i) over all
  pairs, reported as a percentage ``exp(shift) - 1``. Robust: one wild round moves it little.
* **interval**: the distribution-free Moses/Lehmann confidence interval for that shift, i.e. the
  inversion of the Mann–Whitney test: pairwise differences between the k-th smallest and k-th
  largest, k from the null distribution of U (``scipy.stats.mannwhitneyu``), at 99.5%
  (``CONFIDENCE``). It exists only from 6 rounds per side at 99.5% (4 at 95%; ``min_rounds``).
* **p-value**: two-sided Mann–Whitney U on the log-values (``scipy.stats.mannwhitneyu``);
  q-values by Benjamini–Hochberg across the suite (``compare_suite``).
* **floor**: the smallest change worth a verdict: max(2%, the 95th percentile of same-commit
  shifts) when calibrated (``calibrate_floor``), else 2%.

Verdict (``decide``, rule ``"estimate"``, the default): *regressed* / *improved* when the
HL shift lies beyond the floor in the worse / better direction, the 99.5% interval excludes 0
and q < 0.05; *unchanged* when the whole interval lies within ±floor; otherwise *inconclusive*
(not significant, q too large after BH, or too few rounds). Rule ``"interval"`` (used by
history mode, at 95%) asks the whole interval to lie beyond the floor. Direction comes from ``tools.schema.lower_is_better`` (ops/s going down is a
regression).

The speed-normalised channel (unit ``relative``, ``track_*_relative``: wall time divided by a
reference kernel timed beside it, see ``benchmarks/framework/relative.py``) is judged exactly
as wall time, one value per round; its between-process noise is 4-6x smaller here.

The instruction channel (unit ``instructions``) is deterministic under cachegrind with a fixed
hash seed: a change of at least the floor (0.5%, or the measured absolute jitter if larger) is
decisive with one run per side; it takes no part in BH (there is no sampling error to adjust).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from tools.detect import anomalies
from tools.detect.multiple import bh_qvalues
from tools.errors import ToolError
from tools.schema import SERIES_KEY, component_of
from tools.schema import lower_is_better as schema_lower_is_better

VERDICTS = ("regressed", "improved", "unchanged", "inconclusive")
CHANNELS = ("wall", "relative", "instructions", "memory", "metric")

CONFIDENCE = 0.995
DEFAULT_Q = 0.05
DEFAULT_FLOOR_PCT = 2.0  # wall / metric / memory: below this a change is not worth a verdict
INSTRUCTION_FLOOR_PCT = 0.5  # deterministic channel
INSTRUCTION_JITTER = 100  # instructions (per reported value); run-to-run jitter allowance
MEMORY_SINGLE_RUN_FLOOR_PCT = 5.0  # peak memory with no interval (< 6 rounds at 99.5%): a wider floor
DECISION_RULES = ("interval", "estimate")
# Chosen by `python -m tools evaluate-detector` on the recorded noise (docs/evaluation.md): at
# 10+10 rounds "estimate" with a 99.5% interval held A/A false alarms at 0.7% per benchmark
# (budget 1%) and found +10% in 85% of comparisons, vs 75% for "interval" at 95%.
DECISION_RULE = "estimate"

SUITE_COLUMNS = [
    "machine",
    "environment",
    "component",
    "benchmark",
    "params",
    "param_values",
    "type",
    "unit",
    "channel",
    "base_value",
    "head_value",
    "change_pct",
    "ci_low_pct",
    "ci_high_pct",
    "p_value",
    "q_value",
    "floor_pct",
    "verdict",
    "rule",
    "n_base",
    "n_head",
    "anomaly",
    # added beyond the brief's contract:
    "lower_is_better",
    "method",
    "mde_pct",
]


@dataclass(frozen=True)
class PairwiseResult:
    verdict: str
    change_pct: float
    ci_low_pct: float
    ci_high_pct: float
    p_value: float
    q_value: float
    floor_pct: float
    n_base: int
    n_head: int
    rule: str
    # added fields (defaults keep the contract's positional order intact)
    channel: str = "wall"
    lower_is_better: bool = True
    base_value: float = math.nan
    head_value: float = math.nan
    method: str = "hodges-lehmann"
    confidence: float = CONFIDENCE
    decision_rule: str = DECISION_RULE


# ---------------------------------------------------------------- channel


def channel_of(bench_type: str, unit: str) -> str:
    """'instructions' for instruction counts, 'relative' for speed-normalised wall time
    (``track_*_relative``), 'wall' for time_*, 'memory' for peakmem_*/mem_*, else 'metric'.

    Only asv's own memory benchmarks are 'memory' (near-deterministic per process, judged from a
    single run per side). A ``track_*`` in bytes such as ``rss_growth`` is an allocator's mood, not a
    count: the same code measured 1,564,672 and 860,160 bytes in two processes here, so it is a
    'metric' and needs rounds like wall time."""
    unit = (unit or "").strip().lower()
    if unit == "instructions":
        return "instructions"
    if unit == "relative":
        return "relative"
    if bench_type == "time":
        return "wall"
    if bench_type in ("peakmem", "memory"):
        return "memory"
    return "metric"


# ---------------------------------------------------------------- statistics


def _clean(values) -> np.ndarray:
    a = np.asarray(values if values is not None else [], dtype=float).ravel()
    return a[np.isfinite(a)]


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
def mann_whitney_critical(m: int, n: int, confidence: float = CONFIDENCE) -> int | None:
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


def min_rounds(confidence: float = CONFIDENCE) -> int:
    """Fewest rounds per side (equal sides) for which a Moses interval exists at ``confidence``."""
    n = 1
    while mann_whitney_critical(n, n, round(confidence, 6)) is None:
        n += 1
    return n


def shift_interval(base: np.ndarray, head: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float]:
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


def _to_pct(log_shift: float) -> float:
    # Infinite bounds mean "no interval" (too few rounds) and stay infinite.
    return log_shift if math.isinf(log_shift) else 100.0 * math.expm1(log_shift)


# ---------------------------------------------------------------- verdicts


def _fmt_pct(x: float, sign: bool = True) -> str:
    if not math.isfinite(x):
        return "∞" if x > 0 else "-∞"
    return f"{x:+.1f}%" if sign else f"{x:.1f}%"


def _fmt_q(q: float) -> str:
    if not math.isfinite(q):
        return "n/a"
    return f"{q:.2g}" if q >= 0.001 else f"{q:.1e}"


def decide(
    change_pct: float,
    ci_low_pct: float,
    ci_high_pct: float,
    q_value: float,
    floor_pct: float,
    *,
    lower_is_better: bool = True,
    alpha: float = DEFAULT_Q,
    confidence: float = CONFIDENCE,
    n_base: int | None = None,
    n_head: int | None = None,
    rule: str | None = None,
) -> tuple[str, str]:
    """(verdict, rule text) for a statistical comparison.

    ``rule="interval"``: regressed / improved when the whole interval lies beyond ±floor and
    q < alpha. ``rule="estimate"``: when the estimate lies beyond ±floor, the interval excludes 0
    and q < alpha (significant *and* big enough, as Criterion.rs decides; more power for the same
    false-alarm rate when the interval is a 99% one). Both: *unchanged* when the whole interval
    lies within ±floor, else *inconclusive*.
    """
    rule = rule or DECISION_RULE
    if rule not in DECISION_RULES:
        raise ValueError(f"unknown decision rule {rule!r}; expected one of {DECISION_RULES}")
    conf = f"{confidence * 100:g}% CI"
    shown = f"HL shift {_fmt_pct(change_pct)} [{_fmt_pct(ci_low_pct)[:-1]}, {_fmt_pct(ci_high_pct)[:-1]}] ({conf})"
    direction = "" if lower_is_better else " (higher is better)"
    if not (math.isfinite(ci_low_pct) and math.isfinite(ci_high_pct)):
        counts = f" from {n_base} base / {n_head} head rounds" if n_base is not None else ""
        return "inconclusive", (
            f"HL shift {_fmt_pct(change_pct)}{counts}: too few for a {conf} "
            f"(≥{min_rounds(confidence)} rounds per side needed: python -m tools compare-rounds)"
        )
    # Orient so that positive means worse.
    worse_lo, worse_hi = (ci_low_pct, ci_high_pct) if lower_is_better else (-ci_high_pct, -ci_low_pct)
    significant = math.isfinite(q_value) and q_value < alpha
    qtxt = f"q={_fmt_q(q_value)}"
    worse_change = change_pct if lower_is_better else -change_pct
    if rule == "estimate":
        if worse_change > floor_pct and worse_lo > 0 and significant:
            cmp = f"> floor {floor_pct:.1f}%" if lower_is_better else f"< -floor {floor_pct:.1f}%"
            return "regressed", f"{shown}: shift {cmp}{direction}, interval excludes 0, {qtxt} < {alpha:g}"
        if worse_change < -floor_pct and worse_hi < 0 and significant:
            cmp = f"< -floor {floor_pct:.1f}%" if lower_is_better else f"> floor {floor_pct:.1f}%"
            return "improved", f"{shown}: shift {cmp}{direction}, interval excludes 0, {qtxt} < {alpha:g}"
    elif worse_lo > floor_pct and significant:
        cmp = f"> floor {floor_pct:.1f}%" if lower_is_better else f"< -floor {floor_pct:.1f}%"
        return "regressed", f"{shown} {cmp}{direction}, {qtxt} < {alpha:g}"
    elif worse_hi < -floor_pct and significant:
        cmp = f"< -floor {floor_pct:.1f}%" if lower_is_better else f"> floor {floor_pct:.1f}%"
        return "improved", f"{shown} {cmp}{direction}, {qtxt} < {alpha:g}"
    if ci_low_pct >= -floor_pct and ci_high_pct <= floor_pct:
        return "unchanged", f"{shown} within ±floor {floor_pct:.1f}%"
    if rule == "estimate" and (worse_lo > 0 or worse_hi < 0):
        if significant:  # a real change, but the shift itself is within the floor
            return "inconclusive", (
                f"{shown}: interval excludes 0 but the shift is within ±floor {floor_pct:.1f}% "
                f"and the interval reaches beyond it, {qtxt}; more rounds needed"
            )
        return "inconclusive", f"{shown} excludes 0 but {qtxt} ≥ {alpha:g} after BH; more rounds needed"
    if worse_lo > floor_pct or worse_hi < -floor_pct:
        return (
            "inconclusive",
            f"{shown} beyond floor {floor_pct:.1f}% but {qtxt} ≥ {alpha:g} after BH; more rounds needed",
        )
    return "inconclusive", f"{shown} straddles floor ±{floor_pct:.1f}%, {qtxt}; more rounds needed"


def _deterministic(
    b: np.ndarray, h: np.ndarray, *, lower_is_better: bool, floor_pct: float, what: str, channel: str, confidence: float
) -> PairwiseResult:
    """Exact-count comparison: the range of all head/base ratios against ±floor, n=1 suffices.

    Also the fallback for peak memory with fewer than 4 rounds a side (no interval exists):
    memory is near-deterministic per process, so a wider floor (5%) stands in for the interval.
    """
    kind, method = (
        ("deterministic", "deterministic")
        if what == "instructions"
        else ("single run per side, near-deterministic", "single-run")
    )
    ratios = 100.0 * (np.divide.outer(h, b).ravel() - 1.0)
    base_med, head_med = float(np.median(b)), float(np.median(h))
    change = 100.0 * (head_med / base_med - 1.0)
    lo, hi = float(ratios.min()), float(ratios.max())
    worse_lo, worse_hi = (lo, hi) if lower_is_better else (-hi, -lo)
    n_txt = "n=1" if len(b) == len(h) == 1 else f"range over {len(b)}×{len(h)} runs [{lo:+.2f}, {hi:+.2f}]"
    shown = f"{what} {change:+.2f}% ({base_med:,.0f} → {head_med:,.0f}, {n_txt})"
    if worse_lo >= floor_pct:
        verdict, rule = "regressed", f"{shown} ≥ floor {floor_pct:.2f}%: {kind}, decisive"
    elif worse_hi <= -floor_pct:
        verdict, rule = "improved", f"{shown} beyond -floor {floor_pct:.2f}%: {kind}, decisive"
    elif lo > -floor_pct and hi < floor_pct:
        verdict, rule = "unchanged", f"{shown} within ±floor {floor_pct:.2f}%: {kind}"
    else:
        verdict, rule = "inconclusive", f"{shown}: runs disagree by more than the floor {floor_pct:.2f}%"
    return PairwiseResult(
        verdict,
        change,
        lo,
        hi,
        math.nan,
        math.nan,
        floor_pct,
        len(b),
        len(h),
        rule,
        channel=channel,
        lower_is_better=lower_is_better,
        base_value=base_med,
        head_value=head_med,
        method=method,
        confidence=confidence,
    )


def compare(
    base,
    head,
    *,
    lower_is_better: bool = True,
    floor_pct: float | None = None,
    channel: str = "wall",
    q_value: float | None = None,
    alpha: float = DEFAULT_Q,
    confidence: float = CONFIDENCE,
    instruction_jitter: float = INSTRUCTION_JITTER,
    rule: str | None = None,
) -> PairwiseResult:
    """Compare one value per round of base against one value per round of head.

    ``q_value`` is the suite-adjusted p-value when known (``compare_suite`` passes it); alone,
    a single comparison uses its own p-value. NaN/inf values (failed rounds) are ignored.
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; expected one of {CHANNELS}")
    b, h = _clean(base), _clean(head)
    nb, nh = len(b), len(h)
    base_value = float(np.median(b)) if nb else math.nan
    head_value = float(np.median(h)) if nh else math.nan
    common = dict(
        channel=channel,
        lower_is_better=lower_is_better,
        base_value=base_value,
        head_value=head_value,
        confidence=confidence,
    )

    if nb == 0 or nh == 0:
        missing = "base" if nb == 0 else "head"
        floor = floor_pct if floor_pct is not None else DEFAULT_FLOOR_PCT
        return PairwiseResult(
            "inconclusive",
            math.nan,
            math.nan,
            math.nan,
            math.nan,
            math.nan,
            floor,
            nb,
            nh,
            f"no result for {missing} (failed, skipped or not run)",
            method="none",
            **common,
        )

    positive = bool((b > 0).all() and (h > 0).all())
    if channel == "instructions" and positive:
        jitter_pct = 100.0 * instruction_jitter / base_value
        floor = max(floor_pct if floor_pct is not None else INSTRUCTION_FLOOR_PCT, jitter_pct)
        return _deterministic(
            b,
            h,
            lower_is_better=lower_is_better,
            floor_pct=floor,
            what="instructions",
            channel=channel,
            confidence=confidence,
        )
    if channel == "memory" and positive and (mann_whitney_critical(nb, nh, confidence) is None):
        floor = max(floor_pct if floor_pct is not None else DEFAULT_FLOOR_PCT, MEMORY_SINGLE_RUN_FLOOR_PCT)
        return _deterministic(
            b,
            h,
            lower_is_better=lower_is_better,
            floor_pct=floor,
            what="memory",
            channel=channel,
            confidence=confidence,
        )

    floor = floor_pct if floor_pct is not None else DEFAULT_FLOOR_PCT
    if positive:
        lb, lh = np.log(b), np.log(h)
        shift = hodges_lehmann(lb, lh)
        lo, hi = shift_interval(lb, lh, confidence)
        change, ci_lo, ci_hi = _to_pct(shift), _to_pct(lo), _to_pct(hi)
        p = mann_whitney_p(lb, lh)
        method = "hodges-lehmann log-shift, Moses CI, Mann–Whitney"
    else:
        # Zero or negative values (e.g. rss growth): shift on the raw scale, relative to |base median|.
        ref = abs(base_value)
        p = mann_whitney_p(b, h)
        method = "hodges-lehmann raw shift, Moses CI, Mann–Whitney"
        if ref == 0:
            if np.ptp(np.concatenate([b, h])) == 0:
                return PairwiseResult(
                    "unchanged",
                    0.0,
                    0.0,
                    0.0,
                    1.0,
                    1.0 if q_value is None else q_value,
                    floor,
                    nb,
                    nh,
                    "identical values (all 0) on both sides",
                    method=method,
                    **common,
                )
            return PairwiseResult(
                "inconclusive",
                math.nan,
                math.nan,
                math.nan,
                p,
                p if q_value is None else q_value,
                floor,
                nb,
                nh,
                "base median is 0: a relative change is undefined",
                method=method,
                **common,
            )
        shift = hodges_lehmann(b, h)
        lo, hi = shift_interval(b, h, confidence)
        change, ci_lo, ci_hi = 100 * shift / ref, 100 * lo / ref, 100 * hi / ref
    q = p if q_value is None else q_value
    verdict, text = decide(
        change,
        ci_lo,
        ci_hi,
        q,
        floor,
        lower_is_better=lower_is_better,
        alpha=alpha,
        confidence=confidence,
        n_base=nb,
        n_head=nh,
        rule=rule,
    )
    return PairwiseResult(
        verdict,
        change,
        ci_lo,
        ci_hi,
        p,
        q,
        floor,
        nb,
        nh,
        text,
        method=method,
        decision_rule=rule or DECISION_RULE,
        **common,
    )


def redecide(result: PairwiseResult, q_value: float, alpha: float = DEFAULT_Q) -> PairwiseResult:
    """The same comparison judged with a suite-adjusted q-value (deterministic ones are unchanged)."""
    if result.method in ("deterministic", "single-run", "none") or not math.isfinite(result.p_value):
        return result
    if result.method.startswith("hodges-lehmann") and math.isfinite(result.change_pct):
        verdict, rule = decide(
            result.change_pct,
            result.ci_low_pct,
            result.ci_high_pct,
            q_value,
            result.floor_pct,
            lower_is_better=result.lower_is_better,
            alpha=alpha,
            confidence=result.confidence,
            n_base=result.n_base,
            n_head=result.n_head,
            rule=result.decision_rule,
        )
        return dataclasses.replace(result, q_value=q_value, verdict=verdict, rule=rule)
    return dataclasses.replace(result, q_value=q_value)


# ---------------------------------------------------------------- floors


def calibrate_floor(
    same_commit,
    *,
    percentile: float = 95.0,
    min_floor_pct: float = DEFAULT_FLOOR_PCT,
    n_splits: int = 200,
    seed: int = 0,
) -> float:
    """Effect floor (%) from same-commit noise: max(min_floor_pct, P95 of |same-commit shifts|).

    ``same_commit`` is either a list of groups (one array of per-round values per separate job of
    the same commit: the shifts are HL shifts between every pair of jobs, which captures job-to-job
    drift) or one flat array of per-round values (the shifts are HL shifts between random halves).
    Values must be positive (the shifts are of log-values). Too little data gives min_floor_pct.
    """
    is_groups = (
        isinstance(same_commit, (list, tuple)) and len(same_commit) > 0 and all(np.ndim(g) == 1 for g in same_commit)
    )
    shifts: list[float] = []
    if is_groups and len(same_commit) >= 2:
        logs = [np.log(g[g > 0]) for g in map(_clean, same_commit)]
        logs = [g for g in logs if len(g)]
        shifts = [
            abs(_to_pct(hodges_lehmann(logs[i], logs[j]))) for i in range(len(logs)) for j in range(i + 1, len(logs))
        ]
    else:
        flat = np.concatenate([_clean(g) for g in same_commit]) if is_groups else _clean(same_commit)
        flat = flat[flat > 0]
        if len(flat) >= 4:
            logs = np.log(flat)
            rng = np.random.default_rng(seed)
            half = len(logs) // 2
            for _ in range(n_splits):
                perm = rng.permutation(len(logs))
                shifts.append(abs(_to_pct(hodges_lehmann(logs[perm[:half]], logs[perm[half:]]))))
    if not shifts:
        return float(min_floor_pct)
    return float(max(min_floor_pct, np.percentile(shifts, percentile)))


def calibrate_floors(
    table: pd.DataFrame,
    *,
    percentile: float = 95.0,
    min_floor_pct: float = DEFAULT_FLOOR_PCT,
    group_by: str | None = None,
) -> dict[tuple, float]:
    """{series key tuple: floor %} from a tidy table of same-commit re-runs (an A/A corpus).

    Each row is one round. With ``group_by`` (e.g. ``"commit"`` when the corpus holds several
    jobs recorded under different hashes of identical code) the shifts are between groups;
    otherwise between random halves of each series' rounds. Instruction series are skipped
    (their floor is fixed by the deterministic rule).
    """
    _require_columns(table, SERIES_KEY + ["value", "unit"], "floor calibration table")
    floors: dict[tuple, float] = {}
    usable = table[np.isfinite(pd.to_numeric(table["value"], errors="coerce"))]
    for key, rows in usable.groupby(SERIES_KEY, sort=True, dropna=False):
        if str(rows["unit"].iloc[0]).lower() == "instructions":
            continue
        if group_by:
            data = [g["value"].to_numpy(float) for _, g in rows.groupby(group_by, sort=True)]
        else:
            data = rows["value"].to_numpy(float)
        floors[tuple(key)] = calibrate_floor(data, percentile=percentile, min_floor_pct=min_floor_pct)
    return floors


def _floor_for(floors: Mapping | None, key: tuple) -> float | None:
    """Look a floor up by full series key, then (benchmark, params), then benchmark name."""
    if not floors:
        return None
    machine, environment, benchmark, params = key
    for k in (key, (benchmark, params), benchmark):
        if k in floors:
            return float(floors[k])
    return None


# ---------------------------------------------------------------- suite


def _require_columns(df: pd.DataFrame, cols: Sequence[str], what: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise ToolError(f"{what}: expected a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ToolError(f"{what}: missing column(s) {', '.join(missing)} (expected the tidy table of tools.schema)")


def _usable(df: pd.DataFrame) -> pd.DataFrame:
    values = pd.to_numeric(df["value"], errors="coerce")
    keep = np.isfinite(values.to_numpy(float))
    if "failed" in df.columns:
        keep &= ~df["failed"].fillna(False).astype(bool).to_numpy()
    out = df[keep].copy()
    out["value"] = values[keep].astype(float)
    return out


def _group_series(df: pd.DataFrame) -> dict[tuple, pd.DataFrame]:
    return {tuple(k): g for k, g in df.groupby(SERIES_KEY, sort=False, dropna=False)}


def _samples_of(rows: pd.DataFrame | None) -> list[np.ndarray]:
    if rows is None or "samples" not in rows.columns:
        return []
    out = []
    for s in rows["samples"]:
        if s is not None and not (isinstance(s, float) and math.isnan(s)):
            arr = _clean(list(s))
            if len(arr):
                out.append(arr)
    return out


def compare_suite(
    base: pd.DataFrame,
    head: pd.DataFrame,
    *,
    q: float = DEFAULT_Q,
    floors: Mapping | None = None,
    confidence: float = CONFIDENCE,
    instruction_jitter: float = INSTRUCTION_JITTER,
    target_pct: float = anomalies.TARGET_EFFECT_PCT,
) -> pd.DataFrame:
    """Tidy rows of the base commit and of the head commit -> one verdict row per series.

    Each row of ``base`` / ``head`` is one round of one series (``load_results`` over the
    interleaved round dirs gives one row per round). Benjamini–Hochberg at ``q`` runs over every
    statistical comparison of the suite (instruction counts excluded: they are exact). ``floors``
    maps a series key tuple, ``(benchmark, params)`` or a benchmark name to a floor in %.
    """
    need = SERIES_KEY + ["value", "type", "unit"]
    _require_columns(base, need, "base rows")
    _require_columns(head, need, "head rows")
    base_s, head_s = _group_series(_usable(base)), _group_series(_usable(head))
    meta_s = {**_group_series(head), **_group_series(base)}  # failed rows still give type/unit
    keys = sorted(set(meta_s), key=lambda k: tuple(str(x) for x in k))

    results: list[PairwiseResult] = []
    rows_meta: list[dict] = []
    for key in keys:
        meta = meta_s[key].iloc[0]
        btype, unit = str(meta["type"]), str(meta["unit"])
        channel = channel_of(btype, unit)
        lib = schema_lower_is_better(btype, unit)
        b_rows, h_rows = base_s.get(key), head_s.get(key)
        b_vals = b_rows["value"].to_numpy(float) if b_rows is not None else np.array([])
        h_vals = h_rows["value"].to_numpy(float) if h_rows is not None else np.array([])
        res = compare(
            b_vals,
            h_vals,
            lower_is_better=lib,
            floor_pct=_floor_for(floors, key),
            channel=channel,
            alpha=q,
            confidence=confidence,
            instruction_jitter=instruction_jitter,
        )
        label, mde = "", math.nan
        if channel != "instructions":
            label, mde = anomalies.pair_label(
                b_vals,
                h_vals,
                _samples_of(b_rows),
                _samples_of(h_rows),
                floor_pct=res.floor_pct,
                target_pct=target_pct,
                confidence=confidence,
                rule=DECISION_RULE,
            )
        results.append(res)
        rows_meta.append(
            {
                "machine": key[0],
                "environment": key[1],
                "benchmark": key[2],
                "params": key[3],
                "component": meta["component"] if "component" in meta.index else component_of(key[2]),
                "param_values": meta["param_values"] if "param_values" in meta.index else (),
                "type": btype,
                "unit": unit,
                "anomaly": label,
                "mde_pct": mde,
            }
        )

    qs = bh_qvalues([r.p_value if r.method.startswith("hodges-lehmann") else math.nan for r in results])
    final = [redecide(r, qv, alpha=q) if math.isfinite(qv) else r for r, qv in zip(results, qs)]

    records = []
    for meta, r in zip(rows_meta, final):
        records.append(
            {
                **meta,
                "channel": r.channel,
                "base_value": r.base_value,
                "head_value": r.head_value,
                "change_pct": r.change_pct,
                "ci_low_pct": r.ci_low_pct,
                "ci_high_pct": r.ci_high_pct,
                "p_value": r.p_value,
                "q_value": r.q_value,
                "floor_pct": r.floor_pct,
                "verdict": r.verdict,
                "rule": r.rule,
                "n_base": r.n_base,
                "n_head": r.n_head,
                "lower_is_better": r.lower_is_better,
                "method": r.method,
            }
        )
    return pd.DataFrame.from_records(records, columns=SUITE_COLUMNS)


def inconclusive_benchmarks(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Rows of a ``compare_suite`` table whose verdict more rounds could settle."""
    return verdicts[verdicts["verdict"] == "inconclusive"]
