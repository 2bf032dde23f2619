"""The anchors, reproduced exactly: what asv, pandas' asv-runner and Otava would decide.

Each function takes plain arrays (raw samples, or one value per commit) and answers with
what the tool would report. Where the tool's own code is importable we call it (asv's
``_is_result_better`` and Mann-Whitney, asv's ``compute_stats``, ``step_detect``, Otava's
``compute_change_points``); pandas' rule lives in a service script, so it is re-stated here
line for line from pandas-dev/asv-runner (``detect_regression``, window 21, tol 0.95).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

# ---- asv: pull-request rule (asv continuous / asv compare) ----

ASV_FACTOR = 1.1  # asv continuous --factor default


def asv_result(samples: Sequence[float]) -> tuple[float, dict]:
    """What asv stores for a run: median of the pooled samples and its stats (ci_99, q_25, ...)."""
    from asv_runner.statistics import compute_stats

    return compute_stats(list(map(float, samples)), 1)


class _KeepMemo(dict):
    """asv's exact Mann-Whitney memo that is never cleared.

    asv clears its memo once it holds 100k entries; for 20-vs-20 samples (asv's default of
    2 rounds x 10) one exact p-value needs more, so every call restarts from scratch (~0.3 s).
    Keeping the table changes no result, only the speed.
    """

    def clear(self) -> None:
        pass


_MEMO = _KeepMemo()


@contextlib.contextmanager
def _asv_memo() -> Iterator[None]:
    from asv import _stats

    saved = _stats._mann_whitney_u_memo
    _stats._mann_whitney_u_memo = _MEMO
    try:
        yield
    finally:
        _stats._mann_whitney_u_memo = saved


def asv_pr_regressed(base_samples: Sequence[float], head_samples: Sequence[float], factor: float = ASV_FACTOR) -> bool:
    """asv continuous' verdict 'got worse': head/base > factor *and* Mann-Whitney p < 0.002.

    ``base_samples`` / ``head_samples`` are all raw samples asv pooled for that commit
    (every round), exactly what it passes to ``_is_result_better``.
    """
    from asv.commands.compare import _is_result_better

    base = list(map(float, base_samples))
    head = list(map(float, head_samples))
    b_val, b_stats = asv_result(base)
    h_val, h_stats = asv_result(head)
    # compare.py: worsened = _is_result_better(time_1, time_2, ss_1, ss_2, factor), ss = (stats, samples)
    with _asv_memo():
        return bool(_is_result_better(b_val, h_val, (b_stats, base), (h_stats, head), factor))


# ---- asv: history step detection (the site's Regressions page) ----

ASV_REGRESSION_THRESHOLD = 0.05  # asv.conf.json regressions_thresholds default


def asv_history_regressions(
    commit_samples: Sequence[Sequence[float]], threshold: float = ASV_REGRESSION_THRESHOLD
) -> list[int]:
    """Indices of the first commit after each regression the asv site would list.

    Per commit asv graphs the stored result (median of pooled samples) weighted by
    ``2 / width of its 99% CI`` (``_stats.get_weight``); ``detect_steps`` fits a piecewise-
    constant model and ``detect_regressions`` keeps upward steps that explain the gap
    between the best and the latest value.
    """
    from asv import _stats
    from asv.step_detect import detect_regressions, detect_steps

    y, w = [], []
    for samples in commit_samples:
        val, stats = asv_result(samples)
        y.append(val)
        w.append(_stats.get_weight(stats))
    steps = detect_steps(y, w)
    _, _, jumps = detect_regressions(steps, threshold)
    # jump = (last index before, first index after, value before, best value after)
    return [int(j[1]) for j in (jumps or []) if j[1] is not None]


# ---- pandas asv-runner rule ----

PANDAS_WINDOW = 21
PANDAS_TOL = 0.95


def pandas_regressions(values: Sequence[float], window: int = PANDAS_WINDOW, tol: float = PANDAS_TOL) -> list[int]:
    """pandas-dev/asv-runner's ``detect_regression`` for one series.

    A commit is a regression when the centred rolling max of the ``window`` commits
    *before* it stays below ``tol`` x the centred rolling min of the ``window`` commits
    starting at it: the worst 'before' beats the best 'after' by 5%. Only the first commit
    of each such run is reported. Centred windows need a full window, so the rule can only
    speak once ``window`` (21) commits from the change on exist.
    """
    s = pd.Series(np.asarray(values, dtype=float)).dropna().reset_index(drop=True)
    worst = s.rolling(window, center=True).max()
    best = s.rolling(window, center=True).min()
    mask = worst.shift(window) < tol * best
    mask = mask & ~mask.shift(1, fill_value=False)
    mask = mask.shift(-(window - 1) // 2, fill_value=False)
    return [int(i) for i in np.flatnonzero(mask.to_numpy(dtype=bool))]


# ---- Apache Otava (formerly Hunter), default options ----

OTAVA_WINDOW = 50  # otava.series.AnalysisOptions defaults
OTAVA_PVALUE = 0.001
OTAVA_MIN_MAGNITUDE = 0.0


def otava_available() -> str | None:
    """None when Otava's analysis imports; else the reason it does not."""
    try:
        import otava.analysis  # noqa: F401
    except Exception as exc:  # ImportError, or its pinned numpy/scipy clashing
        return f"{exc.__class__.__name__}: {exc}"
    return None


def otava_regressions(values: Sequence[float], window: int = OTAVA_WINDOW, pvalue: float = OTAVA_PVALUE) -> list[int]:
    """Change points Otava's default analysis reports where the mean went up (slower)."""
    from otava.analysis import compute_change_points

    cps, _ = compute_change_points(
        list(map(float, values)), window_len=window, max_pvalue=pvalue, min_magnitude=OTAVA_MIN_MAGNITUDE
    )
    return [int(cp.index) for cp in cps if cp.stats.mean_2 > cp.stats.mean_1]
