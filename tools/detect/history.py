"""History mode: change points along each benchmark series, every round of every commit.

1. **Locate** candidate steps with asv's own step detection (``asv.step_detect``: an L1
   piecewise-constant "Potts" fit whose penalty is chosen by an information criterion). It fits
   medians, so a lone spike rarely becomes a step; we ask it for more candidates than asv's
   default penalty (``beta_scale``) because each candidate is then tested.
2. **Spikes are not steps**: lone spikes (``anomalies.history_outliers``: far from the 3 commits
   before and the 3 after, same side) are set aside first, and any remaining one-commit segment
   is merged into the segment after it.
3. **Test** each candidate on a window of up to ``window`` commits on each side, clipped at the
   neighbouring candidates, on **every round** of those commits (a daily run's own rounds plus
   the interleaved rounds it re-measured; ``per_commit_series``): Hodges–Lehmann shift of
   log-values, its standard error from the 95% Moses interval, Student's t (``shift_test``).
   Two corrections keep that honest:
   - *clustering*: rounds of one commit share a machine and a day, so the standard error is
     widened by the design effect (``clustering``, Kish) estimated from the window itself, and
     commits that differ beyond their rounds are tested as one value each;
   - *selection*: the candidate is where the data looked most like a step, so p is multiplied
     and the interval widened (Bonferroni) by the *effective* number of looks
     (``effective_looks``): what the series' splits, tested each on its window, are worth as
     independent tests. Neighbouring splits share most of their data, so that is about half of
     the splits (19 of 34 at 35 commits), calibrated by simulating the scan of a flat series.
   Weak candidates are eliminated backwards (their neighbours re-tested), survivors moved to the
   split of least L1 cost within ±``REFINE`` commits, then Benjamini–Hochberg across every
   candidate of the suite and the decision rule (``verdict.judge``: estimate beyond the floor,
   99.5% interval excluding 0, q < 0.05).
   Only regressions and improvements are reported, at the commit range
   (last commit before, first commit after].
4. Instruction counts are exact: a change point is any consecutive pair of commits whose counts
   differ by at least the instruction floor.
5. **Confirm** (optional): a ``confirm`` hook re-runs the two boundary commits interleaved
   (``tools.detect.rounds.make_confirmer``, ``regressions --history --confirm-rounds N``) and the
   finding says whether it held.

Steps 1-4 look at one series at a time: on a long history (``SPLIT_COMMITS``) the series are
spread over worker processes (``tools.workers``), with the same findings.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import special, stats

from tools import workers
from tools.detect import anomalies, potts, robust, series, verdict
from tools.detect.finding import Evidence, Finding
from tools.detect.series import DEFAULT_FLOOR_PCT, INSTRUCTION_FLOOR_PCT, INSTRUCTION_JITTER
from tools.detect.verdict import DEFAULT_Q
from tools.errors import ToolError
from tools.schema import SERIES_KEY, component_of
from tools.schema import lower_is_better as schema_lower_is_better

# The pairwise decision (estimate beyond the floor, 99.5% interval excluding 0, q < 0.05); what
# makes it honest here is the correction for looking at every split of the series (``_test_window``).
HISTORY_CONFIDENCE = verdict.CONFIDENCE
HISTORY_RULE = verdict.DECISION_RULE

DEFAULT_WINDOW = 20  # commits each side: a long settled "before" is what finds a step 5 commits old
BETA_SCALE = 0.25  # x asv's default Potts penalty 4 ln(n)/n: many candidates, elimination then tests them
Z_975 = float(stats.norm.isf(0.025))  # the 95% normal quantile of the Moses-interval standard error
CLUSTER_P = 0.05  # commits differing beyond their rounds (ANOVA F-test): test one value per commit
REFINE = 2  # commits either side a surviving candidate may move to (refinement)
PRUNE_P = 0.05  # candidates weaker than this (p corrected for looks) are merged away
SCAN_SIMS = 100_000  # flat series simulated per length to count the effective looks (±5% on them)
SCAN_SEED = 20261202  # fixed: the same history always gets the same verdicts
SCAN_MAX_COMMITS = 400  # beyond this the looks grow in proportion to the splits (windows far apart)
SPLIT_COMMITS = 20_000  # commits over all series from which worker processes pay for their start
WINDOW_METHOD = "asv Potts step + HL shift t-test of every round in the window"
EXACT_METHOD = "instructions: consecutive commits, deterministic"

ConfirmHook = Callable[[str, str, Sequence[Finding]], Sequence]


def potts_beta(n: int, beta_scale: float = BETA_SCALE) -> float:
    """The information criterion's penalty per step for ``n`` commits: ``beta_scale`` x asv's
    default 4 ln(n) / n."""
    return beta_scale * 4 * math.log(n) / n


def candidate_boundaries(y: Sequence[float], *, beta_scale: float = BETA_SCALE) -> list[int]:
    """Indices where a new level starts (asv's Potts fit), one-commit segments merged forward."""
    y = [float(v) for v in y]
    n = len(y)
    if n < 3:
        return []
    right = potts.potts_autogamma(y, potts_beta(n, beta_scale))
    merged: list[int] = []
    for b in (int(r) for r in right[:-1]):
        if merged and b - merged[-1] < 2:
            continue  # a one-commit segment (a spike) is not a level: merge it forward
        merged.append(b)
    return merged


def _anova_side(side: Sequence[np.ndarray]) -> tuple[float, float, int, int, float] | None:
    """(between SS, within SS, groups, rounds, Σn²/N) of one side's rounds grouped by commit,
    winsorised at 5 MADs from the side's median (one wild round cannot fake a commit effect)."""
    groups = [np.asarray(g, dtype=float) for g in side if len(g)]
    if not groups:
        return None
    pooled = np.concatenate(groups)
    med = float(np.median(pooled))
    mad = robust.mad_sigma(pooled)
    if mad > 0:
        groups = [np.clip(g, med - 5 * mad, med + 5 * mad) for g in groups]
    centre = float(np.concatenate(groups).mean())
    ssb = sum(len(g) * (g.mean() - centre) ** 2 for g in groups)
    ssw = sum(((g - g.mean()) ** 2).sum() for g in groups)
    return ssb, ssw, len(groups), len(pooled), sum(len(g) ** 2 for g in groups) / len(pooled)


def clustering(*sides: Sequence[np.ndarray]) -> tuple[float, float]:
    """(Kish's design effect 1 + (n̄ - 1)·ICC, F-test p of a between-commit variance) of rounds
    clustered in commits.

    The intra-class correlation comes from a one-way random-effects ANOVA of the rounds by
    commit, each side (before / after a candidate step) about its own mean: between-commit
    variance (MSB - MSW) / n0, clipped at 0. Rounds of one commit share that run's machine; if
    commits differ by more than their rounds explain, a test that counts rounds as independent
    is too confident by this factor (in variance).
    """
    sizes = [len(g) for s in sides for g in s if len(g)]
    n_sides = len([s for s in sides if len(s)])
    if len(sizes) - n_sides < 1 or sum(sizes) - len(sizes) < 1:
        return 1.0, 1.0  # one round per commit, or too few commits (an asv history: one run each)
    parts = [a for a in (_anova_side(s) for s in sides) if a is not None]
    ssb = sum(a[0] for a in parts)
    ssw = sum(a[1] for a in parts)
    k, total = sum(a[2] for a in parts), sum(a[3] for a in parts)
    sq_sizes = sum(a[4] for a in parts)
    df_b, df_w = k - n_sides, total - k
    msb, msw = ssb / df_b, ssw / df_w
    if msw == 0.0:
        return (total / k, 0.0) if msb > 0 else (1.0, 1.0)
    p_between = float(stats.f.sf(msb / msw, df_b, df_w))
    n0 = (total - sq_sizes) / df_b
    between = max(0.0, (msb - msw) / n0)
    if between == 0.0:
        return 1.0, p_between
    return 1.0 + (total / k - 1.0) * between / (between + msw), p_between


@functools.lru_cache(maxsize=512)
def effective_looks(n: int, window: int = DEFAULT_WINDOW, alpha: float = 1 - HISTORY_CONFIDENCE) -> float:
    """How many independent two-sided tests the n - 1 splits of an n-commit series are worth at
    level ``alpha``, each split tested on up to ``window`` commits either side.

    Bonferroni over every split is valid but pays for splits that share most of their data. The
    scan is simulated instead: flat Gaussian series (one value per commit), each split's z of the
    window means after vs before, the largest |z| of each series; its (1 - alpha) quantile c is
    the critical value of "any split at all", and alpha / P(|Z| > c) the looks that Bonferroni would
    need to reach it. Capped at the number of splits (never stricter than Bonferroni) and
    deterministic (fixed seed). The detector tests fewer splits than the scan (Potts candidates
    only), so this is conservative for it; the evaluation's A/A histories measure the result.
    """
    splits = n - 1
    if splits <= 1:
        return 1.0
    if n > SCAN_MAX_COMMITS:
        return effective_looks(SCAN_MAX_COMMITS, window, alpha) * splits / (SCAN_MAX_COMMITS - 1)
    stored = _looks_table().get((n, window, round(alpha, 12)))
    return stored if stored is not None else simulate_looks(n, window, alpha)


LOOKS_TABLE = Path(__file__).with_name("effective_looks.json")


@functools.cache
def _looks_table() -> dict[tuple[int, int, float], float]:
    """``effective_looks`` for the default window and level, simulated once for every length up to
    SCAN_MAX_COMMITS by ``python -m tools.detect.history`` (the same simulation, the same seed):
    a long history of many series lengths spent a quarter of its analysis simulating."""
    try:
        data = json.loads(LOOKS_TABLE.read_text())
    except (OSError, ValueError):
        return {}
    key = (int(data["window"]), round(float(data["alpha"]), 12))
    return {(int(n), *key): float(v) for n, v in data["looks"].items()}


def simulate_looks(n: int, window: int, alpha: float) -> float:
    """The simulation behind ``effective_looks`` (see there)."""
    splits = n - 1
    b = np.arange(1, n)
    lo, hi = np.maximum(0, b - window), np.minimum(n, b + window)
    scale = np.sqrt(1.0 / (b - lo) + 1.0 / (hi - b))
    rng = np.random.default_rng(SCAN_SEED)
    maxima = []
    for start in range(0, SCAN_SIMS, 5000):
        x = rng.standard_normal((min(5000, SCAN_SIMS - start), n))
        c = np.concatenate([np.zeros((len(x), 1)), np.cumsum(x, axis=1)], axis=1)
        diff = (c[:, hi] - c[:, b]) / (hi - b) - (c[:, b] - c[:, lo]) / (b - lo)
        maxima.append(np.abs(diff / scale).max(axis=1))
    return robust.looks_from_maxima(np.concatenate(maxima), alpha, splits)


def shift_test(
    b: np.ndarray, a: np.ndarray, shift: float, deff: float, confidence: float, looks: float
) -> tuple[float, float, float]:
    """(ci low, ci high, p) of the HL shift ``a - b``, Bonferroni-corrected for ``looks``.

    Standard error from the distribution-free 95% Moses interval, (high - low) / (2·1.96) (its
    width estimates the HL estimator's spread whatever the noise's shape), times √deff; then
    Student's t with m + n - 2 degrees of freedom (effective sizes m/deff, n/deff). Why not the
    rank test's exact p: it cannot go below 2/C(m+n, n), so with one round per commit and a few
    commits after a step no split could pass once multiplied by the looks, however large the step.
    """
    m, n = len(b) / deff, len(a) / deff
    lo95, hi95 = robust.shift_interval(b, a, 0.95)
    if m + n < 3 or not (math.isfinite(lo95) and math.isfinite(hi95)):
        return -math.inf, math.inf, 1.0  # too few values for a 95% interval: nothing to say
    se = (hi95 - lo95) / (2 * Z_975) * math.sqrt(deff)
    if se == 0:
        return shift, shift, (0.0 if shift != 0 else 1.0)
    df = m + n - 2
    # Student's t through scipy.special (the same functions scipy.stats.t calls, without its
    # per-call argument checking: this runs for every window of every series)
    p = min(1.0, 2 * float(special.stdtr(df, -abs(shift) / se)) * looks)
    half = -float(special.stdtrit(df, (1 - confidence) / (2 * looks))) * se
    if not half < 10.0:  # wider than a factor e^10 either way: no interval worth the name
        return -math.inf, math.inf, p
    return shift - half, shift + half, p


def _test_window(
    before: Sequence[np.ndarray],
    after: Sequence[np.ndarray],
    logs: bool,
    confidence: float,
    looks: float = 1.0,
    ref_min: float = 0.0,
) -> tuple[float, float, float, float, float]:
    """(change %, ci low %, ci high %, p, design effect) of the rounds after vs the rounds before.

    Every round of every commit in the window counts (HL shift of the pooled rounds, ``shift_test``
    with the design effect) while the commits do not differ among themselves beyond what their
    rounds explain. When they do differ (ANOVA F-test p < ``CLUSTER_P``), a few commits
    are a few independent observations however many rounds each has: the window is then tested
    on one value per commit (the median of its rounds), and the design effect reported is inf.
    On the raw scale the change is relative to |median before|, or to ``ref_min`` (the floor's
    absolute part, ``series.Floor``) when that is larger.
    """
    deff, p_between = clustering(before, after)
    if p_between < CLUSTER_P:
        before = [np.array([np.median(r)]) for r in before]
        after = [np.array([np.median(r)]) for r in after]
        deff = math.inf
    b, a = np.concatenate(before), np.concatenate(after)
    shift = robust.hodges_lehmann(b, a)
    lo, hi, p = shift_test(b, a, shift, 1.0 if deff == math.inf else deff, confidence, looks)
    if logs:
        return robust.to_pct(shift), robust.to_pct(lo), robust.to_pct(hi), p, deff
    ref = series.reference(float(np.median(b)), ref_min) or math.nan
    return 100 * shift / ref, 100 * lo / ref, 100 * hi / ref, p, deff


# ---------------------------------------------------------------- one series


def _instruction_steps(y_all: np.ndarray, idx: np.ndarray, floor: float, jitter: float, lib: bool) -> list[Finding]:
    """Exact counts: every consecutive pair of commits that differs by at least the floor."""
    out = []
    for i in range(1, len(y_all)):
        change = 100.0 * (y_all[i] / y_all[i - 1] - 1.0)
        jitter_floor = max(floor, 100.0 * jitter / y_all[i - 1])
        if abs(change) < jitter_floor:
            continue
        worse = change if lib else -change
        out.append(
            Finding(
                mode="history", basis="exact", channel="instructions", verdict="regressed" if worse > 0 else "improved",
                rule=f"instructions {change:+.2f}% between consecutive commits ≥ floor {jitter_floor:.2f}%: deterministic",
                change_pct=change, ci_low_pct=change, ci_high_pct=change, floor_pct=jitter_floor, lower_is_better=lib,
                n_base=1, n_head=1, base_value=float(y_all[i - 1]), head_value=float(y_all[i]), method=EXACT_METHOD,
            ).with_evidence(position=int(idx[i]), before_position=int(idx[i - 1]), rounds_base=1, rounds_head=1, looks=1)
        )  # fmt: skip
    return out


class _Windows:
    """Tests of candidate splits of one series, each on its window of rounds (memoised: backward
    elimination re-tests only the windows it changed)."""

    def __init__(self, y_all, idx, per_round, logs, *, window, confidence, floor, lib, channel, floor_abs=0.0):
        self.y_all, self.idx, self.per_round, self.logs = y_all, idx, per_round, logs
        self.window, self.confidence, self.floor, self.lib, self.channel = window, confidence, floor, lib, channel
        self.floor_abs = floor_abs
        self.looks = effective_looks(len(y_all), window, 1 - confidence)  # the candidate could have been any split
        self.memo: dict[tuple[int, int, int], tuple] = {}

    def p_values(self, bounds: list[int]) -> list[float]:
        """The corrected p of each candidate split (what backward elimination needs, no findings built)."""
        edges = [0, *bounds, len(self.y_all)]
        return [self._window(edges[k - 1], b, edges[k + 1])[1][3] for k, b in enumerate(bounds, start=1)]

    def p_value(self, left: int, b: int, right: int) -> float:
        """The corrected p of the split at ``b`` between its neighbours ``left`` and ``right``."""
        return self._window(left, b, right)[1][3]

    def test(self, bounds: list[int]) -> list[Finding]:
        edges = [0, *bounds, len(self.y_all)]
        return [self._one(edges[k - 1], b, edges[k + 1]) for k, b in enumerate(bounds, start=1)]

    def _window(self, left: int, b: int, right: int) -> tuple[tuple[int, int], tuple]:
        lo_edge, hi_edge = max(left, b - self.window), min(right, b + self.window)
        if (lo_edge, b, hi_edge) not in self.memo:
            before, after = self.per_round[lo_edge:b], self.per_round[b:hi_edge]
            self.memo[(lo_edge, b, hi_edge)] = _test_window(
                before, after, self.logs, self.confidence, self.looks, self.floor_abs
            )
        return (lo_edge, hi_edge), self.memo[(lo_edge, b, hi_edge)]

    def _one(self, left: int, b: int, right: int) -> Finding:
        (lo_edge, hi_edge), (change, ci_lo, ci_hi, p, deff) = self._window(left, b, right)
        before, after = self.per_round[lo_edge:b], self.per_round[b:hi_edge]
        evidence = Evidence(
            position=int(self.idx[b]), before_position=int(self.idx[b - 1]), design_effect=deff, looks=self.looks,
            rounds_base=int(sum(map(len, before))), rounds_head=int(sum(map(len, after))),
        )  # fmt: skip
        return Finding(
            mode="history", basis="window", channel=self.channel, change_pct=change, ci_low_pct=ci_lo,
            ci_high_pct=ci_hi, p_value=p, floor_pct=self.floor, lower_is_better=self.lib, n_base=len(before),
            n_head=len(after), base_value=float(np.median(self.y_all[lo_edge:b])),
            head_value=float(np.median(self.y_all[b:hi_edge])), method=WINDOW_METHOD, confidence=self.confidence,
            decision_rule=HISTORY_RULE, evidence=evidence,
        )  # fmt: skip


def _eliminate(windows: _Windows, bounds: list[int], prune_p: float) -> list[int]:
    """Backward elimination: a spurious candidate would clip its neighbours' windows, so drop the
    weakest (largest p) while it is not significant on its own, and re-test the rest."""
    ps = windows.p_values(bounds)
    while ps:
        worst = max(range(len(ps)), key=lambda i: ps[i] if math.isfinite(ps[i]) else 2.0)
        if math.isfinite(ps[worst]) and ps[worst] < prune_p:
            break
        del bounds[worst], ps[worst]
        # a split's window reaches only to its neighbours: only the two beside the gap change
        edges = [0, *bounds, len(windows.y_all)]
        for k in (worst - 1, worst):
            if 0 <= k < len(bounds):
                ps[k] = windows.p_value(edges[k], bounds[k], edges[k + 2])
    return bounds


def _l1_cost(per_round: list[np.ndarray], left: int, b: int, right: int) -> float:
    """Absolute deviations of every round of the two segments from their segment's median."""
    segs = (np.concatenate(per_round[left:b]), np.concatenate(per_round[b:right]))
    return float(sum(np.abs(x - np.median(x)).sum() for x in segs))


def _refine(bounds: list[int], per_round: list[np.ndarray], n: int) -> list[int]:
    """Move each survivor to the split of least L1 cost (the Potts objective) within ±REFINE.

    The Potts fit merged one-commit segments, so a survivor may sit a commit or two off the true
    step. Not by p: the HL shift shrugs off a commit of the other level, so a misplaced split with
    more commits can have the smaller p.
    """
    for k in range(len(bounds)):
        left = bounds[k - 1] if k else 0
        right = bounds[k + 1] if k + 1 < len(bounds) else n
        options = range(max(left + 1, bounds[k] - REFINE), min(right - 1, bounds[k] + REFINE) + 1)
        here = bounds[k]
        bounds[k] = min(
            options, key=lambda b, lt=left, rt=right, at=here: (_l1_cost(per_round, lt, b, rt), abs(b - at))
        )
    return bounds


def _rounds_scale(raw: np.ndarray, idx: np.ndarray, rounds, y: np.ndarray, logs: bool) -> list[np.ndarray]:
    """Every round of each kept commit on the series' scale (logs when positive); a commit
    without a usable round keeps its one value."""
    per_round = [np.asarray(rounds[i], dtype=float) if rounds is not None else np.array([raw[i]]) for i in idx]
    per_round = [r[np.isfinite(r) & (r > 0)] if logs else r[np.isfinite(r)] for r in per_round]
    return [(np.log(r) if logs else r) if len(r) else np.array([y[j]]) for j, r in enumerate(per_round)]


def detect_series(
    values: Sequence[float],
    *,
    rounds: Sequence[Sequence[float]] | None = None,
    lower_is_better: bool = True,
    channel: str = "wall",
    floor_pct: float | None = None,
    floor_abs: float = 0.0,
    window: int = DEFAULT_WINDOW,
    confidence: float = HISTORY_CONFIDENCE,
    beta_scale: float = BETA_SCALE,
    instruction_jitter: float = INSTRUCTION_JITTER,
    prune_p: float = PRUNE_P,
) -> list[Finding]:
    """Candidate change points of one series (one value per commit, in commit order).

    ``rounds`` (optional, one sequence per commit) are every round measured at each commit; the
    windows are then tested on all of them (``_test_window``), while locating candidates and
    setting spikes aside use the one value per commit. Without it each commit is one round.
    Returns findings in history mode (``evidence.position``: index of the first commit after
    the change); a statistical one is decided by ``verdict.judge`` after BH across the suite, an
    exact one (instruction counts) already is. Non-finite values are skipped (positions refer to
    the original indices). ``floor_abs`` is the floor's absolute part in the unit (``series.Floor``,
    resource metrics): a series below it is judged on the raw scale, relative to it.
    """
    raw = np.asarray(values, dtype=float)
    if rounds is not None and len(rounds) != len(raw):
        raise ToolError(f"history: {len(rounds)} round lists for {len(raw)} commits")
    idx = np.flatnonzero(np.isfinite(raw))
    y_all = raw[idx]
    if len(y_all) < 2:
        return []
    y, logs = robust.log_scale(y_all)
    if floor_abs and abs(float(np.median(y_all))) < floor_abs:
        y, logs = y_all, False  # near zero: ratios of tiny values are noise, the absolute floor decides
    if channel == "instructions" and logs:
        floor = floor_pct if floor_pct is not None else INSTRUCTION_FLOOR_PCT
        return _instruction_steps(y_all, idx, floor, instruction_jitter, lower_is_better)
    per_round = _rounds_scale(raw, idx, rounds, y, logs)
    # Lone spikes are set aside (anomalies.anomaly_suite reports them): left in, they attract a
    # Potts boundary that clips the windows of real candidates nearby.
    keep = ~anomalies.history_outliers(y) if logs else np.ones(len(y), dtype=bool)
    y, y_all, idx = y[keep], y_all[keep], idx[keep]
    per_round = [r for r, k in zip(per_round, keep) if k]
    if len(y) < 2:
        return []
    windows = _Windows(
        y_all, idx, per_round, logs, window=window, confidence=confidence, lib=lower_is_better, channel=channel,
        floor=series.Floor(DEFAULT_FLOOR_PCT if floor_pct is None else floor_pct, floor_abs).pct_at(np.median(y_all)),
        floor_abs=floor_abs,
    )  # fmt: skip
    bounds = _eliminate(windows, candidate_boundaries(y, beta_scale=beta_scale), prune_p)
    return windows.test(_refine(bounds, per_round, len(y)))


def regressed(findings: Sequence[Finding]) -> list[Finding]:
    """The findings of one series judged ``regressed`` after Benjamini–Hochberg across them
    (``history_suite`` for a lone series, as the evaluation runs it)."""
    return [f for f in verdict.judge_all(list(findings)) if f.verdict == "regressed"]


# ---------------------------------------------------------------- the suite


def place(key: tuple, per: pd.DataFrame, found: Sequence[Finding]) -> list[Finding]:
    """``found`` (positions in ``per``, from ``per_commit_series``) with the series' identity and
    the commits and date of each change."""
    btype, unit = per.attrs["type"], per.attrs["unit"]
    ident = dict(
        machine=key[0], environment=key[1], benchmark=key[2], params=key[3], component=component_of(key[2]),
        type=btype, unit=unit, channel=series.channel_of(btype, unit), lower_is_better=schema_lower_is_better(btype, unit),
    )  # fmt: skip
    out = []
    for f in found:
        pos = f.evidence.position
        date_after = per["commit_date"].iloc[pos] if "commit_date" in per.columns else None
        out.append(
            f.replace(**ident).with_evidence(
                commit_before=per["commit"].iloc[f.evidence.before_position],
                commit_after=per["commit"].iloc[pos],
                date_after=date_after,
            )
        )
    return out


def reported(findings: Sequence[Finding], include_inconclusive: bool = False) -> list[Finding]:
    """Regressions and improvements (every finding with ``include_inconclusive``)."""
    return [f for f in findings if f.changed or include_inconclusive]


def _detect_task(task: tuple) -> list[Finding]:
    """``detect_series`` of one series: (values, rounds, options), as ``history_suite`` splits them."""
    values, rounds, options = task
    return detect_series(values, rounds=rounds, **options)


def history_suite(
    table: pd.DataFrame,
    *,
    q: float = DEFAULT_Q,
    window: int = DEFAULT_WINDOW,
    confidence: float = HISTORY_CONFIDENCE,
    beta_scale: float = BETA_SCALE,
    instruction_jitter: float = INSTRUCTION_JITTER,
    confirm: ConfirmHook | None = None,
    include_inconclusive: bool = False,
) -> list[Finding]:
    """Tidy history table -> one finding per detected change point (regressed or improved).

    ``confirm(commit_before, commit_after, findings) -> [True/False/None per finding]`` re-runs
    the two boundary commits; without it ``evidence.confirmed`` is None (not checked). With
    ``include_inconclusive`` candidates that did not pass are returned too (verdict
    'inconclusive' / 'unchanged'), e.g. for evaluation.
    """
    series.require_columns(table, SERIES_KEY + ["commit", "value", "unit", "type"], "history table")
    grouped = list(series.per_commit_series(table))
    tasks = []
    for key, per in grouped:
        btype, unit = per.attrs["type"], per.attrs["unit"]
        floor = series.floor_of(btype, unit, key[2])
        options = dict(
            lower_is_better=schema_lower_is_better(btype, unit), channel=series.channel_of(btype, unit), window=window,
            confidence=confidence, beta_scale=beta_scale, instruction_jitter=instruction_jitter,
            floor_pct=floor.pct, floor_abs=floor.absolute,
        )  # fmt: skip
        tasks.append((per["value"].to_numpy(float), list(per["rounds"]), options))
    split = sum(len(values) for values, _, _ in tasks) >= SPLIT_COMMITS
    found = []
    for (key, per), cands in zip(grouped, workers.map_ordered(_detect_task, tasks, split=split)):
        found += place(key, per, cands)
    kept = reported(verdict.judge_all(found, alpha=q), include_inconclusive)
    return confirmed(kept, confirm) if confirm is not None else kept


def confirmed(findings: list[Finding], confirm: ConfirmHook) -> list[Finding]:
    """Each finding with ``evidence.confirmed`` from re-running its two boundary commits."""
    groups: dict[tuple[str, str], list[int]] = {}
    for i, f in enumerate(findings):
        groups.setdefault((f.evidence.commit_before, f.evidence.commit_after), []).append(i)
    out = list(findings)
    for (before, after), members in groups.items():
        flags = list(confirm(before, after, [findings[i] for i in members]))
        if len(flags) != len(members):
            raise ToolError(
                f"confirmation of {before[:8]}..{after[:8]} answered {len(flags)} flags for {len(members)} changes"
            )
        for i, flag in zip(members, flags):
            out[i] = out[i].with_evidence(confirmed=None if flag is None else bool(flag))
    return out


def write_looks_table(path: Path = LOOKS_TABLE) -> Path:
    """Simulate ``effective_looks`` for lengths 3..SCAN_MAX_COMMITS at the default window and level."""
    from tools.io import atomic_write_text

    alpha = 1 - HISTORY_CONFIDENCE
    looks = {str(n): simulate_looks(n, DEFAULT_WINDOW, alpha) for n in range(3, SCAN_MAX_COMMITS + 1)}
    text = json.dumps({"window": DEFAULT_WINDOW, "alpha": alpha, "sims": SCAN_SIMS, "seed": SCAN_SEED, "looks": looks})
    return atomic_write_text(path, text + "\n")


if __name__ == "__main__":
    print(f"wrote {write_looks_table()}")
