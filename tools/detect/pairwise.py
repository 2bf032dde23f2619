"""Pairwise mode: base vs head, one value per independent round (process) of each commit.

The unit of noise on a shared machine is the process, not the sample: samples taken inside one
process share its memory layout, CPU frequency and neighbours. So every statistic here works on
one value per round (asv's median of that round's samples), never on pooled samples.

Statistics, per series (benchmark x params), from ``tools.detect.robust``:

* **effect**: the Hodges–Lehmann shift of log-values, median(log head_j - log base_i) over all
  pairs, reported as a percentage ``exp(shift) - 1``. Robust: one wild round moves it little.
* **interval**: the distribution-free Moses/Lehmann confidence interval for that shift, i.e. the
  inversion of the Mann–Whitney test, at 99.5% (``verdict.CONFIDENCE``). It exists only from 6
  rounds per side at 99.5% (4 at 95%).
* **p-value**: two-sided Mann–Whitney U on the log-values; q-values by Benjamini–Hochberg across
  the suite (``compare_suite``).
* **floor**: the smallest change worth a verdict, 2% (``series.DEFAULT_FLOOR_PCT``); resource
  metrics have their own, with an absolute part in their unit (``series.floor_of``): a base below
  it is judged on the raw scale relative to it, so an operation that reads 0 bytes is
  *unchanged* at 0 and *regressed* when it starts reading.

Verdict: ``tools.detect.verdict.decide`` (significant and beyond the floor). Direction comes from
``tools.schema.lower_is_better`` (ops/s going down is a regression).

The speed-normalised channel (unit ``relative``, ``track_*_relative``: wall time divided by a
reference kernel timed beside it, see ``benchmarks/framework/relative.py``) is judged exactly
as wall time, one value per round; its between-process noise is 4-6x smaller here.

The instruction channel (unit ``instructions``) is deterministic under cachegrind with a fixed
hash seed: a change of at least the floor (0.5%, or the measured absolute jitter if larger) is
decisive with one run per side; it takes no part in BH (there is no sampling error to adjust).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tools.detect import anomalies, calibrate, robust, series, verdict
from tools.detect.calibrate import Noise
from tools.detect.finding import Finding
from tools.detect.series import CHANNELS, DEFAULT_FLOOR_PCT, INSTRUCTION_FLOOR_PCT, INSTRUCTION_JITTER
from tools.detect.verdict import CONFIDENCE, DECISION_RULE, DEFAULT_Q
from tools.schema import SERIES_KEY, component_of
from tools.schema import lower_is_better as schema_lower_is_better

RANK_METHOD = "hodges-lehmann log-shift, Moses CI, Mann–Whitney"
RAW_METHOD = "hodges-lehmann raw shift, Moses CI, Mann–Whitney"
CALIBRATED_METHOD = "hodges-lehmann log-shift, t interval from the calibrated between-process noise"


def _exact(b: np.ndarray, h: np.ndarray, common: dict, *, floor_pct: float, what: str) -> Finding:
    """Exact-count comparison: the range of all head/base ratios against ±floor, n=1 suffices.

    Also the fallback for peak memory with fewer than 4 rounds a side (no interval exists):
    memory is near-deterministic per process, so a wider floor (5%) stands in for the interval.
    """
    basis, kind = (
        ("exact", "deterministic") if what != "memory" else ("single-run", "single run per side, near-deterministic")
    )
    ratios = 100.0 * (np.divide.outer(h, b).ravel() - 1.0)
    base_med, head_med = float(np.median(b)), float(np.median(h))
    change = 100.0 * (head_med / base_med - 1.0)
    lo, hi = float(ratios.min()), float(ratios.max())
    n_txt = "n=1" if len(b) == len(h) == 1 else f"range over {len(b)}×{len(h)} runs [{lo:+.2f}, {hi:+.2f}]"
    fmt = (
        (lambda v: f"{v:,.0f}") if what == "instructions" or min(base_med, head_med) >= 1000 else (lambda v: f"{v:.4g}")
    )
    shown = f"{what} {change:+.2f}% ({fmt(base_med)} → {fmt(head_med)}, {n_txt})"
    decided = verdict.decide_exact(lo, hi, floor_pct, lower_is_better=common["lower_is_better"])
    rule = {
        "regressed": f"{shown} ≥ floor {floor_pct:.2f}%: {kind}, decisive",
        "improved": f"{shown} beyond -floor {floor_pct:.2f}%: {kind}, decisive",
        "unchanged": f"{shown} within ±floor {floor_pct:.2f}%: {kind}",
        "inconclusive": f"{shown}: runs disagree by more than the floor {floor_pct:.2f}%",
    }[decided]
    method = "deterministic" if basis == "exact" else "single-run"
    return Finding(
        **common, basis=basis, verdict=decided, change_pct=change, ci_low_pct=lo, ci_high_pct=hi,
        floor_pct=floor_pct, n_base=len(b), n_head=len(h), rule=rule, method=method,
    )  # fmt: skip


def _statistical(b: np.ndarray, h: np.ndarray, common: dict, *, floor: series.Floor, q_value, alpha, rule) -> Finding:
    """HL shift, Moses interval and Mann–Whitney p, on log-values when every value is positive and
    the base is not below the floor's absolute part."""
    nb, nh, confidence, base = len(b), len(h), common["confidence"], common["base_value"]
    floor_pct = floor.pct_at(base)
    sides = dict(n_base=nb, n_head=nh, floor_pct=floor_pct, decision_rule=rule or DECISION_RULE)
    if (b > 0).all() and (h > 0).all() and abs(base) >= floor.absolute:
        lb, lh = np.log(b), np.log(h)
        lo, hi = robust.shift_interval(lb, lh, confidence)
        change, ci_lo, ci_hi = robust.to_pct(robust.hodges_lehmann(lb, lh)), robust.to_pct(lo), robust.to_pct(hi)
        p, method = robust.mann_whitney_p(lb, lh), RANK_METHOD
    else:
        # Zero or negative values (e.g. rss growth), or a base below the absolute floor (an operation
        # that reads 0 bytes): shift on the raw scale, relative to |base median| or that floor.
        ref, p, method = series.reference(base, floor.absolute), robust.mann_whitney_p(b, h), RAW_METHOD
        if ref == 0 or np.ptp(np.concatenate([b, h])) == 0:
            return _zero_base(b, h, common, sides, p, q_value, method)
        if ref > abs(base):
            method += f", relative to the absolute floor {floor.absolute:g} (the base is below it)"
        lo, hi = robust.shift_interval(b, h, confidence)
        change, ci_lo, ci_hi = 100 * robust.hodges_lehmann(b, h) / ref, 100 * lo / ref, 100 * hi / ref
    q = p if q_value is None else q_value
    decided, text = verdict.decide(
        change, ci_lo, ci_hi, q, floor_pct, lower_is_better=common["lower_is_better"], alpha=alpha,
        confidence=confidence, n_base=nb, n_head=nh, rule=rule,
    )  # fmt: skip
    return Finding(
        **common, **sides, basis="rank", verdict=decided, change_pct=change, ci_low_pct=ci_lo, ci_high_pct=ci_hi,
        p_value=p, q_value=q, rule=text, method=method,
    )  # fmt: skip


def _calibrated(b, h, common: dict, *, noise: Noise, floor: float, q_value, alpha, rule, target_pct) -> Finding:
    """Too few rounds for a rank interval: the HL shift of log-values against the calibrated noise
    of one run (or this comparison's own spread when larger), a t interval and p-value."""
    nb, nh, confidence = len(b), len(h), common["confidence"]
    lb, lh = np.log(b), np.log(h)
    used = calibrate.with_session(noise, lb, lh)
    shift, se = robust.hodges_lehmann(lb, lh), calibrate.shift_se(used.sigma, nb, nh)
    crit = calibrate.critical_value(confidence, used.df)
    reference = calibrate.critical_value(CONFIDENCE, math.inf)  # MDE and rounds: one look at 99.5%, normal
    p = 1.0 if se == 0 else float(2 * calibrate.t_sf(abs(shift) / se, used.df))
    q = p if q_value is None else q_value
    lo, hi = robust.to_pct(shift - crit * se), robust.to_pct(shift + crit * se)
    finding = Finding(
        **common, n_base=nb, n_head=nh, floor_pct=floor, decision_rule=rule or DECISION_RULE, basis="calibrated",
        change_pct=robust.to_pct(shift), ci_low_pct=lo, ci_high_pct=hi, p_value=p, q_value=q, method=CALIBRATED_METHOD,
    ).with_evidence(
        noise_sd_pct=used.pct, noise_source=used.source, noise_df=used.df,
        mde_pct=calibrate.mde_pct(used.sigma, nb, nh, floor, reference),
        rounds_needed=calibrate.rounds_for(used.sigma, floor, target_pct, reference),
    )  # fmt: skip
    return verdict.judge(finding, q, alpha=alpha)


def _zero_base(b, h, common: dict, sides: dict, p: float, q_value, method: str) -> Finding:
    """Identical values on both sides are unchanged; otherwise a base median of 0 has no relative change."""
    if np.ptp(np.concatenate([b, h])) == 0:
        return Finding(
            **common, **sides, basis="rank", verdict="unchanged", change_pct=0.0, ci_low_pct=0.0, ci_high_pct=0.0,
            p_value=1.0, q_value=1.0 if q_value is None else q_value,
            rule=f"identical values (all {float(b[0]):g}) on both sides", method=method,
        )  # fmt: skip
    return Finding(
        **common, **sides, basis="rank", verdict="inconclusive", p_value=p, q_value=p if q_value is None else q_value,
        rule="base median is 0: a relative change is undefined", method=method,
    )  # fmt: skip


def compare(
    base,
    head,
    *,
    lower_is_better: bool = True,
    floor_pct: float | None = None,
    floor_abs: float = 0.0,
    channel: str = "wall",
    q_value: float | None = None,
    alpha: float = DEFAULT_Q,
    confidence: float = CONFIDENCE,
    instruction_jitter: float = INSTRUCTION_JITTER,
    rule: str | None = None,
    noise: Noise | None = None,
    target_pct: float = anomalies.TARGET_EFFECT_PCT,
) -> Finding:
    """Compare one value per round of base against one value per round of head.

    ``q_value`` is the suite-adjusted p-value when known (``compare_suite`` passes it); alone,
    a single comparison uses its own p-value. NaN/inf values (failed rounds) are ignored.
    ``noise`` (``tools.detect.calibrate``): with too few rounds for a rank interval at ``confidence``,
    wall time, speed-normalised time and metrics are judged against it (``basis="calibrated"``); a
    deterministic one like an instruction count; without it they stay inconclusive. ``floor_abs`` is
    the floor's absolute part in the unit (``series.Floor``; resource metrics).
    """
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}; expected one of {CHANNELS}")
    b, h = robust.finite(base), robust.finite(head)
    nb, nh = len(b), len(h)
    common = dict(
        channel=channel, lower_is_better=lower_is_better, confidence=confidence,
        base_value=float(np.median(b)) if nb else math.nan, head_value=float(np.median(h)) if nh else math.nan,
    )  # fmt: skip
    if nb == 0 or nh == 0:
        missing = "base" if nb == 0 else "head"
        floor = floor_pct if floor_pct is not None else DEFAULT_FLOOR_PCT
        return Finding(
            **common, basis="none", verdict="inconclusive", floor_pct=floor, n_base=nb, n_head=nh,
            rule=f"no result for {missing} (failed, skipped or not run)", method="none",
        )  # fmt: skip
    positive = bool((b > 0).all() and (h > 0).all())
    if channel == "instructions" and positive:
        jitter_pct = 100.0 * instruction_jitter / common["base_value"]
        floor = max(floor_pct if floor_pct is not None else INSTRUCTION_FLOOR_PCT, jitter_pct)
        return _exact(b, h, common, floor_pct=floor, what="instructions")
    no_interval = robust.mann_whitney_critical(nb, nh, confidence) is None
    if channel == "memory" and positive and no_interval:
        floor = max(floor_pct if floor_pct is not None else DEFAULT_FLOOR_PCT, series.MEMORY_SINGLE_RUN_FLOOR_PCT)
        return _exact(b, h, common, floor_pct=floor, what="memory")
    floor = series.Floor(floor_pct if floor_pct is not None else DEFAULT_FLOOR_PCT, floor_abs)
    at_base = floor.pct_at(common["base_value"])
    if noise is not None and positive and noise.deterministic:
        return _exact(b, h, common, floor_pct=at_base, what="deterministic value")
    # the calibrated rule works on log-values: a base below the absolute floor stays with the raw rule
    logs_ok = positive and common["base_value"] >= floor.absolute
    if noise is not None and logs_ok and no_interval and channel in calibrate.STATISTICAL_CHANNELS:
        return _calibrated(
            b, h, common, noise=noise, floor=at_base, q_value=q_value, alpha=alpha, rule=rule, target_pct=target_pct
        )
    return _statistical(b, h, common, floor=floor, q_value=q_value, alpha=alpha, rule=rule)


# ---------------------------------------------------------------- suite


def _identity(key: tuple, meta: pd.Series) -> dict:
    """The series fields of a finding from its key and one of its tidy rows."""
    return dict(
        machine=key[0], environment=key[1], benchmark=key[2], params=key[3],
        component=meta["component"] if "component" in meta.index else component_of(key[2]),
        param_values=meta["param_values"] if "param_values" in meta.index else (),
        type=str(meta["type"]), unit=str(meta["unit"]),
    )  # fmt: skip


@dataclass(frozen=True)
class _SuiteOptions:
    q: float
    confidence: float | Mapping[tuple, float]
    instruction_jitter: float
    target_pct: float
    noise: Mapping[tuple, Noise] | None

    def confidence_of(self, key: tuple) -> float:
        """The interval's confidence for this series (a sequential look gives each its own)."""
        if isinstance(self.confidence, Mapping):
            return float(self.confidence.get(key, CONFIDENCE))
        return float(self.confidence)


def _values(rows: pd.DataFrame | None) -> np.ndarray:
    return rows["value"].to_numpy(float) if rows is not None else np.array([])


def _noise_for(key: tuple, channel: str, b_vals, h_vals, opts: _SuiteOptions) -> Noise | None:
    """The series' calibrated noise (or the channel's default); deterministic when this comparison
    saw identical values in every round of each side (two or more)."""
    if opts.noise is None:
        return None
    if channel == "metric" and calibrate.session_deterministic([b_vals, h_vals]):
        return Noise(0.0, math.inf, "identical in every round of this comparison", deterministic=True)
    found = calibrate.lookup(opts.noise, key)
    return found if found is not None else calibrate.default_noise(channel)


def failed_rounds(b_raw: pd.DataFrame | None, h_raw: pd.DataFrame | None) -> str:
    """'base round 2; head rounds 0, 3': the rounds in which the benchmark failed, by side."""
    parts = []
    for side, rows in (("base", b_raw), ("head", h_raw)):
        if rows is None:
            continue
        bad = rows[series.failed(rows)]
        if len(bad):
            ks = sorted({int(k) for k in bad["round"]}) if "round" in bad.columns else []
            parts.append(f"{side} round{'s' if len(ks) > 1 else ''} {', '.join(map(str, ks))}" if ks else side)
    return "; ".join(parts)


def _compare_series(key, meta, rows: tuple, opts: _SuiteOptions) -> Finding:
    """One series: its finding with anomalies, failed rounds and (inconclusive) what it would take.
    ``rows``: (base usable, head usable, base raw, head raw)."""
    btype, unit = str(meta["type"]), str(meta["unit"])
    channel, floor = series.channel_of(btype, unit), series.floor_of(btype, unit, key[2])
    b_vals, h_vals = _values(rows[0]), _values(rows[1])
    res = compare(
        b_vals, h_vals, lower_is_better=schema_lower_is_better(btype, unit), channel=channel, alpha=opts.q,
        confidence=opts.confidence_of(key), instruction_jitter=opts.instruction_jitter, target_pct=opts.target_pct,
        floor_pct=floor.pct, floor_abs=floor.absolute, noise=_noise_for(key, channel, b_vals, h_vals, opts),
    )  # fmt: skip
    label, mde, needed = "", res.evidence.mde_pct, res.evidence.rounds_needed
    # "too noisy" keeps its margin over the floor where a metric's floor is above the default
    target = max(opts.target_pct, res.floor_pct + opts.target_pct - DEFAULT_FLOOR_PCT)
    if channel != "instructions" and res.basis not in ("calibrated", "exact"):
        label, mde = anomalies.pair_label(
            b_vals, h_vals, series.samples_of(rows[0]), series.samples_of(rows[1]), floor_pct=res.floor_pct,
            target_pct=target, confidence=CONFIDENCE, rule=DECISION_RULE,
        )  # fmt: skip
        needed = robust.rounds_needed(
            robust.robust_sigma(b_vals, h_vals), res.floor_pct, target, confidence=CONFIDENCE,
            rule=DECISION_RULE,
        )  # fmt: skip
    failed = failed_rounds(rows[2], rows[3])
    label = ", ".join(x for x in (label, f"failed in {failed}" if failed else "") if x)
    return res.replace(**_identity(key, meta)).with_evidence(
        anomaly=label, mde_pct=mde, rounds_needed=needed, failed_rounds=failed
    )


def with_what_it_takes(f: Finding, target_pct: float = anomalies.TARGET_EFFECT_PCT) -> Finding:
    """An inconclusive finding's rule, ending with its MDE at the rounds spent and the rounds a
    side the target effect would take."""
    if f.verdict != "inconclusive" or f.basis == "none":
        return f
    extra = verdict.what_it_takes(f.evidence.mde_pct, f.evidence.rounds_needed, f.n_base, f.n_head, target_pct)
    return f.replace(rule=f.rule + extra) if extra else f


def compare_suite(
    base: pd.DataFrame,
    head: pd.DataFrame,
    *,
    q: float = DEFAULT_Q,
    confidence: float | Mapping[tuple, float] = CONFIDENCE,
    instruction_jitter: float = INSTRUCTION_JITTER,
    target_pct: float = anomalies.TARGET_EFFECT_PCT,
    noise: Mapping[tuple, Noise] | None = None,
) -> list[Finding]:
    """Tidy rows of the base commit and of the head commit -> one finding per series, sorted by key.

    Each row of ``base`` / ``head`` is one round of one series (``load_results`` over the
    interleaved round dirs gives one row per round). Benjamini–Hochberg at ``q`` runs over every
    statistical comparison of the suite (instruction counts excluded: they are exact).
    ``noise`` ({series key: ``calibrate.Noise``}, e.g. ``calibrate.calibrate(stored, kept)``; {} for
    the channels' defaults) judges series with too few rounds for a rank interval; without it
    (None) they stay inconclusive. ``confidence``: one for all, or per series key (a sequential
    look's share of the error; 99.5% for a key it lacks).
    """
    need = SERIES_KEY + ["value", "type", "unit"]
    series.require_columns(base, need, "base rows")
    series.require_columns(head, need, "head rows")
    base_s, head_s = series.group_series(series.usable(base)), series.group_series(series.usable(head))
    base_raw, head_raw = series.group_series(base), series.group_series(head)
    meta_s = {**head_raw, **base_raw}  # failed rows still give type/unit
    keys = sorted(meta_s, key=lambda k: tuple(str(x) for x in k))
    opts = _SuiteOptions(q, confidence, instruction_jitter, target_pct, noise)
    found = [
        _compare_series(
            key, meta_s[key].iloc[0], (base_s.get(key), head_s.get(key), base_raw.get(key), head_raw.get(key)), opts
        )
        for key in keys
    ]
    return [with_what_it_takes(f, target_pct) for f in verdict.judge_all(found, alpha=q)]


def inconclusive(findings: list[Finding]) -> list[Finding]:
    """The findings more rounds could settle: inconclusive, with a result on both sides."""
    return [f for f in findings if f.verdict == "inconclusive" and f.n_base > 0 and f.n_head > 0]
