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
     widened by the design effect (``design_effect``, Kish) estimated from the window itself, and
     commits that differ beyond their rounds are tested as one value each;
   - *selection*: the candidate is where the data looked most like a step, so p is multiplied
     and the interval widened (Bonferroni) by the *effective* number of looks
     (``effective_looks``): what the series' splits, tested each on its window, are worth as
     independent tests. Neighbouring splits share most of their data, so that is about half of
     the splits (19 of 34 at 35 commits), calibrated by simulating the scan of a flat series.
   Weak candidates are eliminated backwards (their neighbours re-tested), survivors moved to the
   split of least L1 cost within ±``REFINE`` commits, then Benjamini–Hochberg across every candidate of the suite and the pairwise decision rule
   (``pairwise.decide``: estimate beyond the floor, 99.5% interval excluding 0, q < 0.05).
   Only regressions and improvements are reported, at the commit range
   (last commit before, first commit after].
4. Instruction counts are exact: a change point is any consecutive pair of commits whose counts
   differ by at least the instruction floor.
5. **Confirm** (optional): a ``confirm`` hook re-runs the two boundary commits interleaved
   (``tools.detect.rounds.make_confirmer``) and the row says whether it held.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
from asv import step_detect
from scipy import stats

from tools.detect import anomalies, pairwise
from tools.detect.multiple import bh_qvalues
from tools.errors import ToolError
from tools.schema import SERIES_KEY, component_of
from tools.schema import lower_is_better as schema_lower_is_better

# The pairwise decision (estimate beyond the floor, 99.5% interval excluding 0, q < 0.05); what
# makes it honest here is the correction for looking at every split of the series (``_test_window``).
HISTORY_CONFIDENCE = pairwise.CONFIDENCE
HISTORY_RULE = pairwise.DECISION_RULE

DEFAULT_WINDOW = 20  # commits each side: a long settled "before" is what finds a step 5 commits old
BETA_SCALE = 0.25  # x asv's default Potts penalty 4 ln(n)/n: many candidates, elimination then tests them
CLUSTER_P = 0.05  # commits differing beyond their rounds (ANOVA F-test): test one value per commit
REFINE = 2  # commits either side a surviving candidate may move to (refinement)
PRUNE_P = 0.05  # candidates weaker than this (p corrected for looks) are merged away
SCAN_SIMS = 100_000  # flat series simulated per length to count the effective looks (±5% on them)
SCAN_SEED = 20261202  # fixed: the same history always gets the same verdicts
SCAN_MAX_COMMITS = 400  # beyond this the looks grow in proportion to the splits (windows far apart)

HISTORY_COLUMNS = [
    "machine",
    "environment",
    "benchmark",
    "params",
    "component",
    "type",
    "unit",
    "channel",
    "commit_before",
    "commit_after",
    "change_pct",
    "ci_low_pct",
    "ci_high_pct",
    "p_value",
    "q_value",
    "floor_pct",
    "verdict",
    "method",
    "confirmed",
    # beyond the brief's contract:
    "position",
    "n_before",
    "n_after",
    "date_after",
    "value_before",
    "value_after",
    "rule",
    "rounds_before",
    "rounds_after",
    "design_effect",
    "looks",
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


def clustering(*sides: Sequence[np.ndarray]) -> tuple[float, float]:
    """(Kish's design effect 1 + (n̄ - 1)·ICC, F-test p of a between-commit variance) of rounds
    clustered in commits.

    The intra-class correlation comes from a one-way random-effects ANOVA of the rounds by
    commit, each side (before / after a candidate step) about its own mean: between-commit
    variance (MSB - MSW) / n0, clipped at 0. Rounds of one commit share that run's machine; if
    commits differ by more than their rounds explain, a test that counts rounds as independent
    is too confident by this factor (in variance). Values are winsorised at 5 MADs from their
    side's median first, so one wild round cannot fake a between-commit variance.
    """
    ssb = ssw = 0.0
    k = total = 0
    sq_sizes = 0.0
    for side in sides:
        groups = [np.asarray(g, dtype=float) for g in side if len(g)]
        if not groups:
            continue
        pooled = np.concatenate(groups)
        med = float(np.median(pooled))
        mad = float(np.median(np.abs(pooled - med))) * anomalies.MAD_SCALE
        if mad > 0:
            groups = [np.clip(g, med - 5 * mad, med + 5 * mad) for g in groups]
        centre = float(np.concatenate(groups).mean())
        ssb += sum(len(g) * (g.mean() - centre) ** 2 for g in groups)
        ssw += sum(((g - g.mean()) ** 2).sum() for g in groups)
        k += len(groups)
        total += len(pooled)
        sq_sizes += sum(len(g) ** 2 for g in groups) / len(pooled)
    df_b, df_w = k - len([s for s in sides if len(s)]), total - k
    if df_b < 1 or df_w < 1:
        return 1.0, 1.0  # one round per commit, or too few commits: nothing to correct / to tell
    msb, msw = ssb / df_b, ssw / df_w
    if msw == 0.0:
        return (total / k, 0.0) if msb > 0 else (1.0, 1.0)
    p_between = float(stats.f.sf(msb / msw, df_b, df_w))
    n0 = (total - sq_sizes) / df_b
    between = max(0.0, (msb - msw) / n0)
    if between == 0.0:
        return 1.0, p_between
    return 1.0 + (total / k - 1.0) * between / (between + msw), p_between


def design_effect(*sides: Sequence[np.ndarray]) -> float:
    """Kish's design effect of ``clustering`` alone."""
    return clustering(*sides)[0]


def looks_from_maxima(maxima: np.ndarray, alpha: float, cap: float) -> float:
    """Effective looks from simulated null maxima of |z| over a family of tests: the (1 - alpha)
    quantile c of the maxima is the family's critical value, alpha / P(|Z| > c) the number of
    independent tests Bonferroni would need to reach it; between 1 and ``cap`` (Bonferroni)."""
    critical = float(np.quantile(maxima, 1 - alpha))
    return float(min(cap, max(1.0, alpha / (2 * stats.norm.sf(critical)))))


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
    return looks_from_maxima(np.concatenate(maxima), alpha, splits)


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
    lo95, hi95 = pairwise.shift_interval(b, a, 0.95)
    if m + n < 3 or not (math.isfinite(lo95) and math.isfinite(hi95)):
        return -math.inf, math.inf, 1.0  # too few values for a 95% interval: nothing to say
    se = (hi95 - lo95) / (2 * stats.norm.isf(0.025)) * math.sqrt(deff)
    if se == 0:
        return shift, shift, (0.0 if shift != 0 else 1.0)
    df = m + n - 2
    p = min(1.0, 2 * float(stats.t.sf(abs(shift) / se, df)) * looks)
    half = float(stats.t.isf((1 - confidence) / (2 * looks), df)) * se
    if not half < 10.0:  # wider than a factor e^10 either way: no interval worth the name
        return -math.inf, math.inf, p
    return shift - half, shift + half, p


def _test_window(
    before: Sequence[np.ndarray], after: Sequence[np.ndarray], logs: bool, confidence: float, looks: float = 1.0
) -> tuple[float, float, float, float, float]:
    """(change %, ci low %, ci high %, p, design effect) of the rounds after vs the rounds before.

    Every round of every commit in the window counts (HL shift of the pooled rounds, ``shift_test``
    with the design effect) while the commits do not differ among themselves beyond what their
    rounds explain. When they do differ (ANOVA F-test p < ``CLUSTER_P``), a few commits
    are a few independent observations however many rounds each has: the window is then tested
    on one value per commit (the median of its rounds), and the design effect reported is inf.
    """
    deff, p_between = clustering(before, after)
    if p_between < CLUSTER_P:
        before = [np.array([np.median(r)]) for r in before]
        after = [np.array([np.median(r)]) for r in after]
        deff = math.inf
    b, a = np.concatenate(before), np.concatenate(after)
    shift = pairwise.hodges_lehmann(b, a)
    lo, hi, p = shift_test(b, a, shift, 1.0 if deff == math.inf else deff, confidence, looks)
    if logs:
        return pairwise._to_pct(shift), pairwise._to_pct(lo), pairwise._to_pct(hi), p, deff
    ref = abs(float(np.median(b))) or math.nan
    return 100 * shift / ref, 100 * lo / ref, 100 * hi / ref, p, deff


def detect_series(
    values: Sequence[float],
    *,
    rounds: Sequence[Sequence[float]] | None = None,
    lower_is_better: bool = True,
    channel: str = "wall",
    floor_pct: float | None = None,
    window: int = DEFAULT_WINDOW,
    confidence: float = HISTORY_CONFIDENCE,
    beta_scale: float = BETA_SCALE,
    instruction_jitter: float = pairwise.INSTRUCTION_JITTER,
    prune_p: float = PRUNE_P,
) -> list[dict]:
    """Candidate change points of one series (one value per commit, in commit order).

    ``rounds`` (optional, one sequence per commit) are every round measured at each commit; the
    windows are then tested on all of them (``_test_window``), while locating candidates and
    setting spikes aside use the one value per commit. Without it each commit is one round.
    Returns dicts with ``position`` (index of the first commit after the change), change and
    interval in %, ``p_value``, ``n_before``/``n_after`` and ``method``; the verdict is made by
    ``judge`` (after BH across the suite). Non-finite values are skipped (``position`` refers to
    the original indices).
    """
    raw = np.asarray(values, dtype=float)
    if rounds is not None and len(rounds) != len(raw):
        raise ToolError(f"history: {len(rounds)} round lists for {len(raw)} commits")
    idx = np.flatnonzero(np.isfinite(raw))
    y_all = raw[idx]
    if len(y_all) < 2:
        return []
    y, logs = _positive_logs(y_all)
    per_round = [np.asarray(rounds[i], dtype=float) if rounds is not None else np.array([raw[i]]) for i in idx]
    per_round = [r[np.isfinite(r) & (r > 0)] if logs else r[np.isfinite(r)] for r in per_round]
    per_round = [(np.log(r) if logs else r) if len(r) else np.array([y[j]]) for j, r in enumerate(per_round)]
    out = []
    if channel == "instructions" and logs:
        floor = floor_pct if floor_pct is not None else pairwise.INSTRUCTION_FLOOR_PCT
        for i in range(1, len(y_all)):
            change = 100.0 * (y_all[i] / y_all[i - 1] - 1.0)
            jitter_floor = max(floor, 100.0 * instruction_jitter / y_all[i - 1])
            if abs(change) >= jitter_floor:
                out.append(
                    {
                        "position": int(idx[i]),
                        "before_position": int(idx[i - 1]),
                        "change_pct": change,
                        "ci_low_pct": change,
                        "ci_high_pct": change,
                        "p_value": math.nan,
                        "n_before": 1,
                        "n_after": 1,
                        "rounds_before": 1,
                        "rounds_after": 1,
                        "design_effect": 1.0,
                        "looks": 1,
                        "floor_pct": jitter_floor,
                        "value_before": float(y_all[i - 1]),
                        "value_after": float(y_all[i]),
                        "method": "instructions: consecutive commits, deterministic",
                    }
                )
        return out
    # Lone spikes are set aside (they are reported by anomalies.anomaly_suite): left in, they
    # attract a Potts boundary that clips the windows of real candidates nearby.
    keep = ~anomalies.history_outliers(y) if logs else np.ones(len(y), dtype=bool)
    y, y_all, idx = y[keep], y_all[keep], idx[keep]
    per_round = [r for r, k in zip(per_round, keep) if k]
    if len(y) < 2:
        return out
    bounds = candidate_boundaries(y, beta_scale=beta_scale)
    floor = floor_pct if floor_pct is not None else pairwise.DEFAULT_FLOOR_PCT

    memo: dict[tuple[int, int, int], tuple] = {}  # elimination re-tests only changed windows
    looks = effective_looks(len(y), window, 1 - confidence)  # the candidate could have been any split

    def tested(bounds: list[int]) -> list[dict]:
        edges = [0] + bounds + [len(y)]
        res = []
        for k, b in enumerate(bounds, start=1):
            lo_edge, hi_edge = max(edges[k - 1], b - window), min(edges[k + 1], b + window)
            before, after = per_round[lo_edge:b], per_round[b:hi_edge]
            if (lo_edge, b, hi_edge) not in memo:
                memo[(lo_edge, b, hi_edge)] = _test_window(before, after, logs, confidence, looks)
            change, ci_lo, ci_hi, p, deff = memo[(lo_edge, b, hi_edge)]
            res.append(
                {
                    "position": int(idx[b]),
                    "before_position": int(idx[b - 1]),
                    "change_pct": change,
                    "ci_low_pct": ci_lo,
                    "ci_high_pct": ci_hi,
                    "p_value": p,
                    "n_before": len(before),
                    "n_after": len(after),
                    "rounds_before": int(sum(map(len, before))),
                    "rounds_after": int(sum(map(len, after))),
                    "design_effect": deff,
                    "floor_pct": floor,
                    "looks": looks,
                    "value_before": float(np.median(y_all[lo_edge:b])),
                    "value_after": float(np.median(y_all[b:hi_edge])),
                    "method": "asv Potts step + HL shift t-test of every round in the window",
                }
            )
        return res

    # Backward elimination: a spurious candidate would clip its neighbours' windows, so drop the
    # weakest (largest p) while it is not significant on its own, and re-test the rest.
    res = tested(bounds)
    while res:
        worst = max(range(len(res)), key=lambda i: res[i]["p_value"] if math.isfinite(res[i]["p_value"]) else 2.0)
        if math.isfinite(res[worst]["p_value"]) and res[worst]["p_value"] < prune_p:
            break
        del bounds[worst]
        res = tested(bounds)
    # Refine: the Potts fit merged one-commit segments, so a survivor may sit a commit or two off
    # the true step; move each to the split of its neighbourhood with the least L1 cost (the Potts
    # objective: absolute deviations of every round from its side's median). Not by p: the HL shift shrugs off a
    # commit of the other level, so a misplaced split with more commits can have the smaller p.
    for k in range(len(bounds)):
        left = bounds[k - 1] if k else 0
        right = bounds[k + 1] if k + 1 < len(bounds) else len(y)

        def cost(b: int) -> float:  # over every round of the two segments
            segs = (np.concatenate(per_round[left:b]), np.concatenate(per_round[b:right]))
            return float(sum(np.abs(x - np.median(x)).sum() for x in segs))

        options = range(max(left + 1, bounds[k] - REFINE), min(right - 1, bounds[k] + REFINE) + 1)
        bounds[k] = min(options, key=lambda b: (cost(b), abs(b - bounds[k])))
    out.extend(tested(bounds))
    return out


def judge(
    candidate: dict,
    q_value: float,
    *,
    lower_is_better: bool = True,
    alpha: float = pairwise.DEFAULT_Q,
    confidence: float = HISTORY_CONFIDENCE,
) -> tuple[str, str]:
    """(verdict, rule) of one candidate: deterministic ones by the floor, others as in pairwise."""
    if candidate["method"].startswith("instructions"):
        worse = candidate["change_pct"] if lower_is_better else -candidate["change_pct"]
        verdict = "regressed" if worse > 0 else "improved"
        return verdict, (
            f"instructions {candidate['change_pct']:+.2f}% between consecutive commits "
            f"≥ floor {candidate['floor_pct']:.2f}%: deterministic"
        )
    verdict, rule = pairwise.decide(
        candidate["change_pct"],
        candidate["ci_low_pct"],
        candidate["ci_high_pct"],
        q_value,
        candidate["floor_pct"],
        lower_is_better=lower_is_better,
        alpha=alpha,
        confidence=confidence,
        rule=HISTORY_RULE,
    )
    if candidate["method"].startswith("interleaved sessions"):
        return verdict, (
            f"{rule} ({candidate['n_before']} interleaved sessions straddling the step, "
            f"{candidate['rounds_before']} vs {candidate['rounds_after']} rounds; corrected for "
            f"{candidate['looks']:.3g} effective looks)"
        )
    rounds = ""
    if (candidate["rounds_before"], candidate["rounds_after"]) != (candidate["n_before"], candidate["n_after"]):
        rounds = f", {candidate['rounds_before']} vs {candidate['rounds_after']} rounds"
    extra = f"; corrected for {candidate['looks']:.3g} effective looks" if candidate["looks"] > 1 else ""
    deff = candidate["design_effect"]
    if deff == math.inf:
        extra += "; commits vary beyond their rounds: one value per commit tested"
    elif deff > 1.0:
        extra += f" and design effect {deff:.2f}"
    return verdict, (f"{rule} ({candidate['n_before']} commits before vs {candidate['n_after']} after{rounds}{extra})")


def per_commit_series(table: pd.DataFrame) -> Iterator[tuple[tuple, pd.DataFrame]]:
    """(series key, frame of commit, commit_date, value, rounds) per series, in commit order (commit
    date, then first start time): ``value`` is the median over the commit's rows (its rounds: the
    daily result and any interleaved re-runs), ``rounds`` all of them. ``frame.attrs`` holds type/unit."""
    t = table
    values = pd.to_numeric(t["value"], errors="coerce")
    keep = np.isfinite(values.to_numpy(float))
    if "failed" in t.columns:
        keep &= ~t["failed"].fillna(False).astype(bool).to_numpy()
    t = t[keep].assign(value=values[keep].astype(float))
    order_cols = [c for c in ("commit_date", "started_at") if c in t.columns]
    for key, g in t.groupby(SERIES_KEY, sort=True, dropna=False):
        agg = {"value": ("value", "median"), "rounds": ("value", tuple)}
        for c in order_cols:
            agg[c] = (c, "min")
        per = g.groupby("commit", sort=False).agg(**agg).reset_index()
        if order_cols:
            per = per.sort_values(order_cols + ["commit"], kind="stable").reset_index(drop=True)
        per.attrs["type"] = str(g["type"].iloc[0]) if "type" in g.columns else ""
        per.attrs["unit"] = str(g["unit"].iloc[0])
        yield tuple(key), per


def candidate_records(key: tuple, per: pd.DataFrame, cands: Sequence[dict]) -> list[dict]:
    """One HISTORY_COLUMNS record per candidate of one series (``per`` from ``per_commit_series``)."""
    btype, unit = per.attrs["type"], per.attrs["unit"]
    records = []
    for c in cands:
        date_after = per["commit_date"].iloc[c["position"]] if "commit_date" in per.columns else None
        records.append(
            {
                "machine": key[0],
                "environment": key[1],
                "benchmark": key[2],
                "params": key[3],
                "component": component_of(key[2]),
                "type": btype,
                "unit": unit,
                "channel": pairwise.channel_of(btype, unit),
                "commit_before": per["commit"].iloc[c["before_position"]],
                "commit_after": per["commit"].iloc[c["position"]],
                "change_pct": c["change_pct"],
                "ci_low_pct": c["ci_low_pct"],
                "ci_high_pct": c["ci_high_pct"],
                "p_value": c["p_value"],
                "floor_pct": c["floor_pct"],
                "method": c["method"],
                "position": c["position"],
                "n_before": c["n_before"],
                "n_after": c["n_after"],
                "date_after": date_after,
                "value_before": c["value_before"],
                "value_after": c["value_after"],
                "rounds_before": c["rounds_before"],
                "rounds_after": c["rounds_after"],
                "design_effect": c["design_effect"],
                "looks": c["looks"],
                "_lib": schema_lower_is_better(btype, unit),
                "_cand": c,
            }
        )
    return records


def judge_records(
    records: list[dict],
    *,
    q: float = pairwise.DEFAULT_Q,
    confidence: float = HISTORY_CONFIDENCE,
    include_inconclusive: bool = False,
) -> list[dict]:
    """Benjamini–Hochberg across ``records`` (the whole suite), then ``judge`` each; keeps the
    regressions and improvements (everything with ``include_inconclusive``)."""
    qs = bh_qvalues([r["p_value"] for r in records])
    kept = []
    for r, qv in zip(records, qs):
        verdict, rule = judge(r["_cand"], qv, lower_is_better=r["_lib"], alpha=q, confidence=confidence)
        if verdict in ("regressed", "improved") or include_inconclusive:
            r.update(q_value=qv, verdict=verdict, rule=rule, confirmed=None)
            kept.append(r)
    return kept


def regressed_candidates(cands: Sequence[dict], *, lower_is_better: bool = True) -> list[dict]:
    """The candidates of one series judged ``regressed`` after Benjamini–Hochberg across them
    (``history_suite`` for a lone series, as the evaluation runs it)."""
    qs = bh_qvalues([c["p_value"] for c in cands])
    return [c for c, q in zip(cands, qs) if judge(c, q, lower_is_better=lower_is_better)[0] == "regressed"]


def history_suite(
    table: pd.DataFrame,
    *,
    q: float = pairwise.DEFAULT_Q,
    floors: Mapping | None = None,
    window: int = DEFAULT_WINDOW,
    confidence: float = HISTORY_CONFIDENCE,
    beta_scale: float = BETA_SCALE,
    instruction_jitter: float = pairwise.INSTRUCTION_JITTER,
    confirm: ConfirmHook | None = None,
    include_inconclusive: bool = False,
) -> pd.DataFrame:
    """Tidy history table -> one row per detected change point (regressed or improved).

    ``confirm(commit_before, commit_after, rows) -> [True/False/None per row]`` re-runs the two
    boundary commits; without it ``confirmed`` is None (not checked). With
    ``include_inconclusive`` candidates that did not pass are returned too (verdict
    'inconclusive' / 'unchanged'), e.g. for evaluation.
    """
    need = SERIES_KEY + ["commit", "value", "unit", "type"]
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise ToolError(
            f"history table: missing column(s) {', '.join(missing)} (expected the tidy table of tools.schema)"
        )
    records = []
    for key, per in per_commit_series(table):
        btype, unit = per.attrs["type"], per.attrs["unit"]
        channel = pairwise.channel_of(btype, unit)
        floor = pairwise._floor_for(floors, key)
        cands = detect_series(
            per["value"].to_numpy(float),
            rounds=list(per["rounds"]),
            lower_is_better=schema_lower_is_better(btype, unit),
            channel=channel,
            floor_pct=floor,
            window=window,
            confidence=confidence,
            beta_scale=beta_scale,
            instruction_jitter=instruction_jitter,
        )
        records += candidate_records(key, per, cands)
    kept = judge_records(records, q=q, confidence=confidence, include_inconclusive=include_inconclusive)
    out = pd.DataFrame.from_records(kept, columns=HISTORY_COLUMNS)
    if confirm is not None and len(out):
        out["confirmed"] = out["confirmed"].astype(object)
        for (before, after), rows in out.groupby(["commit_before", "commit_after"], sort=False):
            flags = list(confirm(before, after, rows))
            if len(flags) != len(rows):
                raise ToolError(
                    f"confirmation of {before[:8]}..{after[:8]} answered {len(flags)} flags for {len(rows)} changes"
                )
            for i, flag in zip(rows.index, flags):
                out.at[i, "confirmed"] = None if flag is None else bool(flag)
    return out
