"""History from interleaved sessions: steps judged only by comparisons made within one session.

Why: rounds of one daily run share that day's machine. Between two sessions on two VMs (same
code, same suite) the speed-normalised time of a benchmark moved by -0.1% to +16.8%, sd 5.1%
across the 18 recorded benchmarks (wall time: sd 22%), while a session's own processes scatter
by 3-9%. Pooled across days (``history``), those day effects are noise at best and false steps
at worst. A session that interleaves two commits (``tools.detect.rounds``: ABBA, one process per
round) shares its day effect between them, so its shift is free of it.

The daily job interleaves HEAD with an *anchor* a few commits back (``regressions --base-lag``): a step at
commit c is then straddled by the sessions of days c .. c + lag - 1, each measuring it, and
nothing else measures it. Per benchmark:

1. each session is a stratum: the cross-differences log(head round) - log(base round);
2. each split b of the history (between commit b - 1 and b) is tested on the sessions that
   straddle it (base before b, head at or after b) with van Elteren's stratified rank-sum test
   (``stratified_shift``): Mann–Whitney within each session, weighted 1/(m + n + 1), summed.
   Under "no step at b" every straddling session is exchangeable within itself whatever its day
   and whatever the shape of the noise — which matters: wall time's processes fall into slow and
   fast phases, and a shift estimate with a normal-theory standard error alarmed in 7% of A/A
   histories; ranks bound what one session can contribute. The shift and its interval are the
   weighted median and quantiles of the cross-differences (the stratified Moses interval);
3. selection: p is multiplied and the interval widened by the effective looks of this
   history's design (``session_looks``: the scan over splits simulated on its sessions);
4. candidates are taken strongest first; splits sharing a session with a taken one are the
   same step seen off-centre and are dropped;
5. Benjamini–Hochberg across the suite and the decision rule (``verdict.judge``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Container, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from tools.detect import history, robust, series, verdict
from tools.detect.finding import Finding
from tools.detect.series import DEFAULT_FLOOR_PCT
from tools.errors import ToolError
from tools.schema import SERIES_KEY

LOOKS_SIMS = 100_000  # flat designs simulated per session layout (±5% on the looks)...
LOOKS_WORK = 400_000_000  # ...fewer for long histories: sims x sessions x splits at most this
LOOKS_SEED = 20261202


@dataclass(frozen=True)
class Session:
    """Two commits measured interleaved in one session: positions in the history, and rounds."""

    before: int
    after: int
    base: np.ndarray
    head: np.ndarray


@dataclass(frozen=True)
class Stratum:
    """One session as a stratum of van Elteren's test: its cross-differences head_j - base_i of
    log-values, their weight 1 / (m + n + 1), and the null variance of its weighted U."""

    diffs: np.ndarray
    weight: float
    variance: float
    m: int
    n: int


def stratum(base: Sequence[float], head: Sequence[float]) -> Stratum | None:
    """The session as a stratum, or None without a usable round on either side."""
    lb, la = robust.positive_logs(base), robust.positive_logs(head)
    m, n = len(lb), len(la)
    if not m or not n:
        return None
    w = 1.0 / (m + n + 1)
    return Stratum(np.subtract.outer(la, lb).ravel(), w, w * w * m * n * (m + n + 1) / 12.0, m, n)


def stratified_shift(strata: Sequence[Stratum], critical: float) -> tuple[float, float, float, float]:
    """(shift, low, high, z) of van Elteren's stratified rank-sum test over ``strata``.

    T(δ) = Σ_s w_s (#{d > δ} + ½#{d = δ} - m_s n_s / 2) over every cross-difference d of each
    stratum; under "no shift" T(0) has mean 0 and variance Σ w_s² m_s n_s (m_s + n_s + 1) / 12
    whatever the noise's shape (ranks within a session are exchangeable). z = T(0)/√var; the
    estimate is where T crosses 0 — the weighted median of all cross-differences — and the
    interval is where |T(δ)| < critical·√var: weighted quantiles (Moses' interval, stratified).
    """
    d = np.concatenate([s.diffs for s in strata])
    w = np.concatenate([np.full(len(s.diffs), s.weight) for s in strata])
    total = float(w.sum())
    sd = math.sqrt(sum(s.variance for s in strata))
    t0 = float(w[d > 0].sum() + 0.5 * w[d == 0].sum()) - total / 2
    order = np.argsort(d, kind="stable")
    d, cw = d[order], np.cumsum(w[order])

    def quantile(level: float) -> float:
        if level <= 0 or level >= 1:
            return -math.inf if level <= 0 else math.inf
        return float(d[min(len(d) - 1, int(np.searchsorted(cw, level * total)))])

    half = critical * sd / total
    return quantile(0.5), quantile(0.5 - half), quantile(0.5 + half), (t0 / sd if sd > 0 else 0.0)


def straddles(sessions: Sequence[Session], n: int) -> np.ndarray:
    """Boolean (splits x sessions): split b (1..n-1) lies in (before, after] of the session."""
    b = np.arange(1, n)[:, None]
    before = np.array([s.before for s in sessions])[None, :]
    after = np.array([s.after for s in sessions])[None, :]
    return (before < b) & (b <= after)


@functools.lru_cache(maxsize=256)
def session_looks(spans: tuple[tuple[int, int], ...], n: int, alpha: float) -> float:
    """Effective number of independent looks of the scan over splits for this session layout.

    Each session is a unit-variance null statistic (equal weights: the layout, not the noise, sets
    how much neighbouring splits share); split b's z is the sum over its straddling sessions /
    √count; the (1 - alpha) quantile c of max |z| gives alpha / P(|Z| > c). Capped at the
    number of testable splits, at least 1 (``robust.looks_from_maxima``); deterministic (fixed seed).
    """
    fake = [Session(lo, hi, np.empty(0), np.empty(0)) for lo, hi in spans]
    m = straddles(fake, n).astype(float)
    counts = m.sum(axis=1)
    m, counts = m[counts > 0], counts[counts > 0]
    if len(counts) <= 1:
        return 1.0
    weights = m.T / np.sqrt(counts)[None, :]  # sessions x testable splits
    rng = np.random.default_rng(LOOKS_SEED)
    sims = max(20_000, min(LOOKS_SIMS, LOOKS_WORK // weights.size))
    maxima = []
    for start in range(0, sims, 5000):
        x = rng.standard_normal((min(5000, sims - start), len(spans)))
        maxima.append(np.abs(x @ weights).max(axis=1))
    return robust.looks_from_maxima(np.concatenate(maxima), alpha, len(counts))


def split_tests(sessions: Sequence[Session], n: int, confidence: float) -> list[dict]:
    """Per testable split: van Elteren's test over its straddling sessions, corrected for looks."""
    usable = [(s, st) for s in sessions if (st := stratum(s.base, s.head)) is not None]
    if not usable or n < 2:
        return []
    looks = session_looks(tuple((s.before, s.after) for s, _ in usable), n, 1 - confidence)
    critical = float(stats.norm.isf((1 - confidence) / (2 * looks)))
    m = straddles([s for s, _ in usable], n)
    out = []
    for k in np.flatnonzero(m.any(axis=1)):
        on = np.flatnonzero(m[k])
        strata = [usable[i][1] for i in on]
        shift, lo, hi, z = stratified_shift(strata, critical)
        out.append(
            {
                "split": int(k) + 1,
                "sessions": on,
                "shift": shift,
                "low": lo,
                "high": hi,
                "z": z,
                "p_value": min(1.0, 2 * float(stats.norm.sf(abs(z))) * looks),
                "looks": looks,
                "rounds_before": int(sum(st.m for st in strata)),
                "rounds_after": int(sum(st.n for st in strata)),
                # the step lies in (latest base, earliest head] of the sessions that straddle it
                "span": (max(usable[i][0].before for i in on), min(usable[i][0].after for i in on)),
            }
        )
    return out


SESSIONS_METHOD = "interleaved sessions: van Elteren rank-sum test of the {} sessions straddling the split"


def _candidate(t: dict, floor: float, confidence: float) -> Finding:
    n = len(t["sessions"])
    return Finding(
        mode="sessions", basis="sessions", change_pct=robust.to_pct(t["shift"]), ci_low_pct=robust.to_pct(t["low"]),
        ci_high_pct=robust.to_pct(t["high"]), p_value=t["p_value"], floor_pct=floor, n_base=n, n_head=n,
        method=SESSIONS_METHOD.format(n), confidence=confidence, decision_rule=verdict.DECISION_RULE,
    ).with_evidence(
        position=t["span"][1], before_position=t["span"][0], rounds_base=t["rounds_before"],
        rounds_head=t["rounds_after"], looks=t["looks"],
    )  # fmt: skip


def detect_sessions(
    n: int,
    sessions: Sequence[Session],
    *,
    floor_pct: float | None = None,
    confidence: float = verdict.CONFIDENCE,
    prune_p: float = 0.05,
) -> list[Finding]:
    """Candidate steps of one benchmark's history of ``n`` commits from its interleaved sessions.

    Returns findings shaped like ``history.detect_series``' (the step lies between
    ``evidence.before_position`` and ``evidence.position``: the latest base and the earliest head of
    the sessions straddling it; ``n_base``/``n_head`` count sessions), for ``verdict.judge`` after BH across the
    suite. Splits weaker than ``prune_p`` (corrected) are not candidates.
    """
    floor = floor_pct if floor_pct is not None else DEFAULT_FLOOR_PCT
    taken: list[Finding] = []
    used: set[int] = set()
    for t in sorted(split_tests(sessions, n, confidence), key=lambda t: (t["p_value"], -abs(t["z"]))):
        if t["p_value"] >= prune_p:
            break
        if used & set(t["sessions"].tolist()):
            continue  # the same step seen from a split beside it
        used |= set(t["sessions"].tolist())
        taken.append(_candidate(t, floor, confidence))
    return sorted(taken, key=lambda c: c.evidence.position)


def placeable(commits: set[str], history: Container[str]) -> bool:
    """A session compares exactly two commits, both in the history: only then can it be placed."""
    return len(commits) == 2 and all(c in history for c in commits)


def series_sessions(per_commits: Sequence[str], rounds: pd.DataFrame) -> list[Session]:
    """Sessions of one series: ``rounds`` (its kept interleaved rounds, with a ``session`` column)
    grouped by session; each must hold exactly two commits of the history ``per_commits`` (in
    order), else it is not a comparison this history can place and is left out."""
    pos = {str(c): i for i, c in enumerate(per_commits)}
    out = []
    for _, g in rounds.groupby("session", sort=True):
        commits = {str(c) for c in g["commit"].unique()}
        if not placeable(commits, pos):
            continue
        first, second = sorted(commits, key=pos.__getitem__)
        values = pd.to_numeric(g["value"], errors="coerce")
        side = g["commit"].astype(str)
        out.append(
            Session(
                pos[first], pos[second], values[side == first].to_numpy(float), values[side == second].to_numpy(float)
            )
        )
    return out


def sessions_suite(
    history_table: pd.DataFrame,
    rounds: pd.DataFrame,
    *,
    q: float = verdict.DEFAULT_Q,
    confidence: float = verdict.CONFIDENCE,
    include_inconclusive: bool = False,
) -> list[Finding]:
    """History table + kept interleaved rounds (``session`` column: one id per interleaved run)
    -> one finding per step found by within-session comparisons (``detect_sessions``), BH across
    the suite. The instruction channel is left to ``history`` (exact counts need no session).
    Commit order is the history's (``series.per_commit_series``)."""
    if "session" not in rounds.columns:
        raise ToolError(
            "sessions: the interleaved rounds have no 'session' column (load them with "
            "tools.rounds_layout.load_sessions)"
        )
    rounds = rounds[~series.failed(rounds)]
    by_series = {tuple(k): g for k, g in rounds.groupby(SERIES_KEY, sort=False, dropna=False)}
    found = []
    for key, per in series.per_commit_series(history_table):
        if key not in by_series or series.channel_of(per.attrs["type"], per.attrs["unit"]) == "instructions":
            continue
        held = series_sessions(list(per["commit"]), by_series[key])
        values = per["value"].to_numpy(float)
        floor = series.floor_of(per.attrs["type"], per.attrs["unit"], key[2]).pct_at(float(np.median(values)))
        cands = [
            c.replace(
                base_value=float(values[c.evidence.before_position]), head_value=float(values[c.evidence.position])
            )
            for c in (detect_sessions(len(per), held, floor_pct=floor, confidence=confidence) if held else [])
        ]
        found += history.place(key, per, cands)
    return history.reported(verdict.judge_all(found, alpha=q), include_inconclusive)
