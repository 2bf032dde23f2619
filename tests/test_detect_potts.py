"""The Potts fit of long histories (tools/detect/potts.py) against asv's own functions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from asv import step_detect

from tools.detect import history, potts


def _series(seed: int, n: int) -> list[float]:
    """Log-times with noise, a few steps, a spike, repeated values (ties) and a flat stretch."""
    rng = np.random.default_rng(seed)
    y = rng.normal(0, rng.choice([0.005, 0.03, 0.1]), n)
    for at in rng.integers(1, n, 3):
        y[at:] += rng.normal(0, 0.1)
    y[rng.integers(0, n)] += 0.5
    y = np.round(y, int(rng.integers(2, 5)))  # coarse values tie
    y[: n // 5] = y[0]
    return [float(v) for v in y]


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("n", [3, 25, 140, 400])
def test_merge_pieces_is_asvs_at_every_penalty(seed, n):
    y = _series(seed, n)
    w = [1.0] * n
    mu_dist = step_detect.get_mu_dist(y, w)
    scale = mu_dist.dist(0, n - 1) or 1.0
    for gamma in scale * np.exp(np.linspace(math.log(0.01 / n), 0.5, 7)):
        right, values, dists = step_detect.solve_potts(y, w, gamma, min_size=1, max_size=20, mu_dist=mu_dist)
        ours = potts.merge_pieces(gamma, right, mu_dist, 20)
        asvs = step_detect.merge_pieces(gamma, right, values, dists, mu_dist, max_size=20)
        assert ours == tuple(asvs)


@pytest.mark.parametrize("seed", range(8))
def test_potts_autogamma_finds_asvs_steps(seed):
    n = [30, 120, 300, 700][seed % 4]
    y = _series(100 + seed, n)
    beta = history.potts_beta(n)
    w = [1.0] * n
    right, _, _, _ = step_detect.solve_potts_autogamma(y, w, beta=beta)
    assert potts.potts_autogamma(y, beta) == list(right)
