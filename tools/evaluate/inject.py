"""Injected effects on resampled real noise.

Every comparison draws *disjoint* processes of the corpus for base and head (and for each
commit of a history), so an A/A comparison faces exactly the between-process noise that a
real base-vs-head comparison faces; an effect is then applied multiplicatively to every raw
sample of the head processes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Scenario:
    """What happens to the head side (pairwise) or after the change (history)."""

    name: str
    kind: str  # 'none' | 'step' | 'gradual' | 'variance'
    pct: float = 0.0  # slowdown per step, percent
    steps: int = 1  # gradual: number of consecutive commits each adding ``pct``
    spread: float = 1.0  # variance-only: factor on the deviation from the centre

    @property
    def total_pct(self) -> float:
        """The full slowdown once every step has landed."""
        return 100.0 * ((1 + self.pct / 100.0) ** self.steps - 1) if self.kind in ("step", "gradual") else 0.0

    @property
    def is_change(self) -> bool:
        """True when a detector *should* report a regression."""
        return self.kind in ("step", "gradual") and self.pct > 0


AA = Scenario("A/A", "none")
STEP_PCTS = (2.0, 3.0, 5.0, 10.0, 20.0)
STEPS = tuple(Scenario(f"+{p:g}%", "step", p) for p in STEP_PCTS)
GRADUAL = Scenario("3 x +2% (gradual)", "gradual", 2.0, steps=3)
VARIANCE = Scenario("variance x2, same median", "variance", spread=2.0)


def draw_disjoint(rng: np.random.Generator, n_available: int, sizes: list[int]) -> list[np.ndarray] | None:
    """Indices of ``len(sizes)`` disjoint groups of processes; None if there are too few."""
    need = sum(sizes)
    if need > n_available:
        return None
    perm = rng.permutation(n_available)
    out, start = [], 0
    for k in sizes:
        out.append(perm[start : start + k])
        start += k
    return out


def slow_down(samples: np.ndarray, pct: float) -> np.ndarray:
    """A multiplicative slowdown of ``pct`` percent (every sample takes that much longer)."""
    return np.asarray(samples, dtype=float) * (1.0 + pct / 100.0)


def widen(samples: np.ndarray, centre: float, spread: float) -> np.ndarray:
    """Scale the deviation from ``centre`` by ``spread``: same median, more variance.

    Works in log space so values stay positive and a factor 2 means twice the relative spread.
    """
    logs = np.log(np.asarray(samples, dtype=float))
    return np.exp(np.log(centre) + spread * (logs - np.log(centre)))


def apply(scenario: Scenario, samples: np.ndarray, centre: float, level: int = 1) -> np.ndarray:
    """Head-side samples under ``scenario``.

    ``level`` is how many steps of a gradual change have landed (history mode); a step
    scenario is fully present from level 1 on; level 0 is 'before the change'.
    """
    if level <= 0 or scenario.kind == "none":
        return np.asarray(samples, dtype=float)
    if scenario.kind == "step":
        return slow_down(samples, scenario.pct)
    if scenario.kind == "gradual":
        k = min(level, scenario.steps)
        return np.asarray(samples, dtype=float) * (1.0 + scenario.pct / 100.0) ** k
    if scenario.kind == "variance":
        return widen(samples, centre, scenario.spread)
    raise ValueError(f"unknown scenario kind {scenario.kind!r}")
