"""Multiple testing across a suite: Benjamini–Hochberg q-values (scipy)."""

from __future__ import annotations

import numpy as np
from scipy import stats


def bh_qvalues(p_values) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values) of ``p_values``.

    NaN p-values (no test was possible) stay NaN and do not count as tests, so a suite
    with untestable benchmarks is not penalised for them. Uses
    ``scipy.stats.false_discovery_control(method="bh")``.
    """
    p = np.asarray(p_values, dtype=float)
    q = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    if finite.any():
        q[finite] = stats.false_discovery_control(np.clip(p[finite], 0.0, 1.0), method="bh")
    return q
