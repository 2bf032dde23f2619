"""The decision rule, and the judge that applies it to a finding after false-discovery control.

``decide`` turns an effect, its interval and a suite-adjusted q-value into a verdict with the
rule in words (Criterion.rs style: significant *and* big enough). ``judge`` re-decides a
``Finding`` once Benjamini–Hochberg has given its q-value, by its fields: the ``basis`` says
whether the effect is statistical (rank / window / sessions: decided here) or exact (counts and
single memory runs: decided when measured, nothing to adjust).
"""

from __future__ import annotations

import math

from tools.detect import robust
from tools.detect.finding import Finding
from tools.humanize import human_pct

CONFIDENCE = 0.995
DEFAULT_Q = 0.05
DECISION_RULES = ("interval", "estimate")
# Chosen by `python -m tools evaluate-detector` on the recorded noise (docs/detection.md): at
# 10+10 rounds "estimate" with a 99.5% interval held A/A false alarms at 0.7% per benchmark
# (budget 1%) and found +10% in 85% of comparisons, vs 75% for "interval" at 95%.
DECISION_RULE = "estimate"
STATISTICAL = ("rank", "window", "sessions", "calibrated")  # bases whose verdict depends on q


def _fmt_q(q: float) -> str:
    if not math.isfinite(q):
        return "n/a"
    return f"{q:.2g}" if q >= 0.001 else f"{q:.1e}"


def _pct(x: float) -> str:
    return human_pct(x, ascii=True)


def _beyond(lower_is_better: bool, worse: bool, floor_pct: float) -> str:
    """'> floor 2.0%' / '< -floor 2.0%' as the direction of a worse or better change reads."""
    if worse == lower_is_better:
        return f"> floor {floor_pct:.1f}%"
    return f"< -floor {floor_pct:.1f}%"


def confidence_label(confidence: float) -> str:
    """'99.5% CI', or for the very strict intervals of early sequential looks 'CI at error 2e-08'."""
    error = 1.0 - confidence
    return f"{confidence * 100:g}% CI" if error >= 1e-4 else f"CI at error {error:.1g}"


def _too_few(change_pct: float, conf: str, confidence: float, n_base: int | None, n_head: int | None) -> str:
    counts = f" from {n_base} base / {n_head} head rounds" if n_base is not None else ""
    return (
        f"HL shift {_pct(change_pct)}{counts}: too few for a {conf} "
        f"(≥{robust.min_rounds(confidence)} rounds per side needed: python -m tools compare-rounds)"
    )


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
    conf = confidence_label(confidence)
    if not (math.isfinite(ci_low_pct) and math.isfinite(ci_high_pct)):
        return "inconclusive", _too_few(change_pct, conf, confidence, n_base, n_head)
    shown = f"HL shift {_pct(change_pct)} [{_pct(ci_low_pct)[:-1]}, {_pct(ci_high_pct)[:-1]}] ({conf})"
    direction = "" if lower_is_better else " (higher is better)"
    # Orient so that positive means worse.
    worse_lo, worse_hi = (ci_low_pct, ci_high_pct) if lower_is_better else (-ci_high_pct, -ci_low_pct)
    worse_change = change_pct if lower_is_better else -change_pct
    significant = math.isfinite(q_value) and q_value < alpha
    qtxt = f"q={_fmt_q(q_value)}"
    passed = f"{qtxt} < {alpha:g}"
    if rule == "estimate" and significant and worse_lo > 0 and worse_change > floor_pct:
        return (
            "regressed",
            f"{shown}: shift {_beyond(lower_is_better, True, floor_pct)}{direction}, interval excludes 0, {passed}",
        )
    if rule == "estimate" and significant and worse_hi < 0 and worse_change < -floor_pct:
        return (
            "improved",
            f"{shown}: shift {_beyond(lower_is_better, False, floor_pct)}{direction}, interval excludes 0, {passed}",
        )
    if rule == "interval" and significant and worse_lo > floor_pct:
        return "regressed", f"{shown} {_beyond(lower_is_better, True, floor_pct)}{direction}, {passed}"
    if rule == "interval" and significant and worse_hi < -floor_pct:
        return "improved", f"{shown} {_beyond(lower_is_better, False, floor_pct)}{direction}, {passed}"
    if ci_low_pct >= -floor_pct and ci_high_pct <= floor_pct:
        return "unchanged", f"{shown} within ±floor {floor_pct:.1f}%"
    return "inconclusive", _open_reason(shown, rule, worse_lo, worse_hi, significant, qtxt, alpha, floor_pct)


def _open_reason(shown, rule, worse_lo, worse_hi, significant, qtxt, alpha, floor_pct) -> str:
    """Why a comparison stays inconclusive, and that more rounds may settle it."""
    if rule == "estimate" and (worse_lo > 0 or worse_hi < 0):
        if significant:  # a real change, but the shift itself is within the floor
            return (
                f"{shown}: interval excludes 0 but the shift is within ±floor {floor_pct:.1f}% "
                f"and the interval reaches beyond it, {qtxt}; more rounds needed"
            )
        return f"{shown} excludes 0 but {qtxt} ≥ {alpha:g} after BH; more rounds needed"
    if worse_lo > floor_pct or worse_hi < -floor_pct:
        return f"{shown} beyond floor {floor_pct:.1f}% but {qtxt} ≥ {alpha:g} after BH; more rounds needed"
    return f"{shown} straddles floor ±{floor_pct:.1f}%, {qtxt}; more rounds needed"


def decide_exact(ratios_low: float, ratios_high: float, floor_pct: float, *, lower_is_better: bool = True) -> str:
    """The verdict of deterministic measurements from the range of every head/base ratio (%):
    the whole range beyond ±floor decides; within it, unchanged; otherwise the runs disagree."""
    worse_lo, worse_hi = (ratios_low, ratios_high) if lower_is_better else (-ratios_high, -ratios_low)
    if worse_lo >= floor_pct:
        return "regressed"
    if worse_hi <= -floor_pct:
        return "improved"
    if ratios_low > -floor_pct and ratios_high < floor_pct:
        return "unchanged"
    return "inconclusive"


# ---------------------------------------------------------------- the judge


def evidence_text(f: Finding) -> str:
    """What a history or sessions verdict rests on, appended to its rule."""
    e = f.evidence
    if f.basis == "sessions":
        return (
            f" ({f.n_base} interleaved sessions straddling the step, {e.rounds_base} vs {e.rounds_head} rounds; "
            f"corrected for {e.looks:.3g} effective looks)"
        )
    rounds = ""
    if (e.rounds_base, e.rounds_head) != (f.n_base, f.n_head):
        rounds = f", {e.rounds_base} vs {e.rounds_head} rounds"
    extra = f"; corrected for {e.looks:.3g} effective looks" if e.looks > 1 else ""
    if e.design_effect == math.inf:
        extra += "; commits vary beyond their rounds: one value per commit tested"
    elif e.design_effect > 1.0:
        extra += f" and design effect {e.design_effect:.2f}"
    return f" ({f.n_base} commits before vs {f.n_head} after{rounds}{extra})"


def calibrated_text(f: Finding) -> str:
    """What a calibrated verdict rests on: the runs, and the noise they were judged against."""
    e = f.evidence
    df = "normal" if not math.isfinite(e.noise_df) else f"t({e.noise_df:g})"
    return (
        f" ({f.n_base} vs {f.n_head} runs against the between-process noise of one run, sd "
        f"{e.noise_sd_pct:.1f}%: {e.noise_source}; {df})"
    )


def what_it_takes(mde_pct: float, rounds_needed: float, n_base: int, n_head: int, target_pct: float) -> str:
    """For an inconclusive verdict: the smallest change these rounds could show, and the rounds a
    side the target effect would need ('' when unknown)."""
    if not math.isfinite(mde_pct):
        return ""
    size = f"{mde_pct:.3g}%" if mde_pct < 100 else f"×{1 + mde_pct / 100:.3g}"
    text = f"; MDE {size} at {n_base}/{n_head} rounds"
    if math.isfinite(rounds_needed) and rounds_needed > max(n_base, n_head):
        text += f", {target_pct:g}% would take ≈{rounds_needed:,.0f} rounds a side"
    elif not math.isfinite(rounds_needed):
        text += f", {target_pct:g}% is below this comparison's floor"
    return text


def judge(f: Finding, q_value: float, *, alpha: float = DEFAULT_Q) -> Finding:
    """``f`` decided with its suite-adjusted ``q_value``. Exact findings were decided when measured
    and keep their verdict; a statistical one without an effect only takes the q-value."""
    if f.basis not in STATISTICAL or not math.isfinite(f.p_value):
        return f.replace(q_value=q_value) if f.basis in STATISTICAL else f
    if not math.isfinite(f.change_pct):
        return f.replace(q_value=q_value)
    pairwise = f.basis == "rank"
    verdict, rule = decide(
        f.change_pct,
        f.ci_low_pct,
        f.ci_high_pct,
        q_value,
        f.floor_pct,
        lower_is_better=f.lower_is_better,
        alpha=alpha,
        confidence=f.confidence,
        n_base=f.n_base if pairwise else None,
        n_head=f.n_head if pairwise else None,
        rule=f.decision_rule,
    )
    if f.basis == "calibrated":
        return f.replace(q_value=q_value, verdict=verdict, rule=rule + calibrated_text(f))
    return f.replace(q_value=q_value, verdict=verdict, rule=rule if pairwise else rule + evidence_text(f))


def judge_all(findings: list[Finding], *, alpha: float = DEFAULT_Q) -> list[Finding]:
    """Benjamini–Hochberg across ``findings`` (those with a p-value), then ``judge`` each."""
    qs = robust.bh_qvalues([f.p_value if f.basis in STATISTICAL else math.nan for f in findings])
    return [judge(f, q, alpha=alpha) if math.isfinite(q) else f for f, q in zip(findings, qs)]
