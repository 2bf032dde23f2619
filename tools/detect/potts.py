"""asv's Potts step fit (``asv.step_detect``), with its penalty chosen by information criterion, at
the cost of a long history.

``potts_autogamma`` is ``asv.step_detect.solve_potts_autogamma`` with unit weights: a golden-section
search over the penalty, each trial an approximate Potts solve (``solve_potts_approx``: asv's exact
solver on pieces of at most 20 commits, then neighbouring pieces merged while that lowers the cost).
Two of asv's pure-Python loops are done here in fewer steps, with the same result:

* the noise objective of each trial (numpy instead of a loop over every commit);
* ``merge_pieces``: asv rescans the pieces from the first after every merge, so a trial penalty
  that leaves hundreds of pieces costs hundreds of scans. The scan's state (the best merge so far)
  depends only on the pieces it has passed, and a merge changes only the pieces from the merged
  boundary on, so each rescan resumes where the change begins, from the state it had there.

``tests/test_detect_potts.py`` checks both against asv's functions on random series.
"""

from __future__ import annotations

import math

import numpy as np
from asv import step_detect


def _merge_change(dist, right: list[int], j: int, gamma: float) -> float:
    """Cost change of merging the two pieces either side of boundary j - 1 (asv's criterion, its
    arithmetic in its order: the same floats)."""
    lo = right[j - 2] if j >= 2 else 0
    return dist(lo, right[j] - 1) - (dist(lo, right[j - 1] - 1) + dist(right[j - 1], right[j] - 1) + gamma)


def _merge_greedy(right: list[int], gamma: float, dist) -> list[int]:
    """asv's merge loop: scan the boundaries from the left, keep the most negative cost change
    (ties: the later), stop two boundaries past it; drop that boundary; repeat until no merge
    lowers the cost. ``states[j]`` is the scan's (best change, its index) after boundary j, kept
    so that the scan after a merge resumes at the first boundary the merge changed."""
    right = list(right)
    states: list[tuple[float, int]] = [(0.0, len(right))]  # before boundary 1: nothing found
    j = 1
    while True:
        min_change, min_j = states[j - 1]
        while j < len(right) and not min_j < j - 2:
            change = _merge_change(dist, right, j, gamma)
            if change <= min_change:
                min_change, min_j = change, j - 1
            states.append((min_change, min_j))
            j += 1
        if min_j >= len(right):
            return right
        del right[min_j]
        j = max(1, min_j)  # boundaries before min_j saw the same pieces: their states stand
        del states[j:]


def _perturb(right: list[int], dist, max_size: int) -> list[int]:
    """asv's boundary refinement: move each boundary, left to right, to the offset within
    ±``max_size`` (inside its two pieces) of least cost; the first best offset wins."""
    right = list(right)
    lo = 0
    for j in range(1, len(right)):
        best = dist(lo, right[j - 1] - 1) + dist(right[j - 1], right[j] - 1)
        new_off = 0
        for off in range(max(-max_size, lo + 1 - right[j - 1]), min(max_size, right[j] - 1 - right[j - 1]) + 1):
            if off == 0:
                continue
            score = dist(lo, right[j - 1] + off - 1) + dist(right[j - 1] + off, right[j] - 1)
            if score < best:
                new_off, best = off, score
        right[j - 1] += new_off
        lo = right[j - 1]
    return right


def merge_pieces(gamma: float, right, mu_dist, max_size: int) -> tuple[list[int], list[float], list[float]]:
    """``asv.step_detect.merge_pieces``: (right edges, piece medians, piece costs) after merging and
    refining the pieces of a restricted Potts solve."""
    right = _perturb(_merge_greedy(list(right), gamma, mu_dist.dist), mu_dist.dist, max_size)
    lefts = [0, *right[:-1]]
    return (
        right,
        [mu_dist.mu(a, b - 1) for a, b in zip(lefts, right)],
        [mu_dist.dist(a, b - 1) for a, b in zip(lefts, right)],
    )


def solve_potts_approx(y: list[float], w: list[float], gamma: float, mu_dist) -> tuple[list[int], list[float]]:
    """``asv.step_detect.solve_potts_approx`` (min_size 1, so pieces of at most 20 commits first):
    (right edges, piece medians)."""
    max_size = 20
    right, _, _ = step_detect.solve_potts(y, w, gamma, min_size=1, max_size=max_size, mu_dist=mu_dist)
    right, values, _ = merge_pieces(gamma, right, mu_dist, max_size)
    return right, values


def potts_autogamma(y: list[float], beta: float) -> list[int]:
    """Right edges of asv's Potts fit with its penalty chosen by information criterion
    (``asv.step_detect.solve_potts_autogamma``, unit weights)."""
    n = len(y)
    arr = np.asarray(y, dtype=float)
    w = [1.0] * n
    mu_dist = step_detect.get_mu_dist(y, w)
    gamma_0 = mu_dist.dist(0, n - 1) or 1.0  # zero variance: any scale
    best: dict = {"obj": math.inf, "right": None}

    def objective(x: float) -> float:
        right, values = solve_potts_approx(y, w, gamma_0 * math.exp(x), mu_dist)
        resid = arr - np.repeat(values, np.diff([0, *right]))

        def sigma_star(rho: float) -> float:  # |E_0| + sum_j |E_j - rho E_(j-1)|
            return float(abs(resid[0]) + np.abs(resid[1:] - rho * resid[:-1]).sum())

        rho = step_detect.golden_search(sigma_star, -1, 1, xatol=0.05, expand_bounds=True)
        gaps = np.abs(np.diff(values))
        sigma_0 = max(1e-300, 0.1 * gaps.min() if len(values) > 2 else 0.001 * min(abs(v) for v in values))
        obj = beta * len(right) + math.log(sigma_0 + sigma_star(rho))
        if obj < best["obj"]:
            best.update(obj=obj, right=right)
        return obj

    a = math.log(0.1 / n)
    step_detect.golden_search(objective, a, 0.0, xatol=abs(a) * 0.1, ftol=0, expand_bounds=True)
    return list(best["right"])
