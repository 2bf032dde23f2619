"""Calibrated between-process noise: how far one run of a benchmark scatters on this machine.

A single run per side (what ``asv continuous`` or a daily ``asv run`` stores) has no interval of
its own: its noise must come from somewhere else. Per series (machine x environment x benchmark x
params) it comes from, in this order of preference:

* **kept interleaved rounds** (``.asv/rounds``): consecutive rounds of the same commit within one
  session differ only by process noise;
* **the stored history**: consecutive commits' single runs differ by process noise, the machine's
  day, and rarely a real step;
* **a stated default** per channel when neither exists: the largest noise of the recorded corpus
  (``tests/data/noise_corpus.json.gz``: 120 processes per benchmark on this project's 2-core VM).

From differences ``d`` of log-values (each the difference of two runs, variance 2 sigma^2) the
noise is ``sigma = max(1.4826 median|d|, sqrt(mean d^2)) / sqrt(2)``: the MAD keeps a few real
steps from inflating it, the root mean square keeps a heavy tail (rare slow processes) from hiding
in it; the larger one is taken. Its uncertainty enters as the degrees of freedom of a Student t
critical value, a third of the number of differences (the MAD's efficiency is about 37%); the
default has none (``inf``), being a stated assumption. With both rounds and history, the larger
sigma is used (a comparison of two days carries the day, which only the history includes).

A series is **deterministic** when every kept session measured it identically in each of its
rounds of a commit (two or more rounds): its verdict needs one run per side, like an instruction
count.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from tools.detect import robust, series
from tools.schema import SERIES_KEY

# log-sd of one process's value, the largest per channel over the recorded corpus's 18 workloads
# (tests/test_calibrate.py recomputes them): wall 0.446, speed-normalised 0.311.
DEFAULT_SIGMA = {"wall": 0.45, "relative": 0.31, "metric": 0.45}
MIN_DIFFERENCES = 4  # fewer differences than this calibrate nothing
STATISTICAL_CHANNELS = ("wall", "relative", "metric")


@dataclass(frozen=True)
class Noise:
    """One run's between-process noise of a series, on the log scale, and where it came from."""

    sigma: float
    df: float = math.inf  # of the t critical value (inf: a stated default, no estimate)
    source: str = ""
    deterministic: bool = False

    @property
    def pct(self) -> float:
        """The noise as a percentage (one sd of log-values)."""
        return 100.0 * math.expm1(self.sigma)


def default_noise(channel: str) -> Noise:
    """The stated default of a channel (no calibration at hand)."""
    sigma = DEFAULT_SIGMA.get(channel, DEFAULT_SIGMA["wall"])
    return Noise(sigma, math.inf, f"default for {channel}: the noisiest recorded workload, no calibration here")


def sigma_from_differences(d: Iterable[float]) -> tuple[float, float]:
    """(sigma, df) from differences of log-values of two runs each; (nan, 0) with too few."""
    d = np.asarray(list(d), dtype=float)
    d = d[np.isfinite(d)]
    if len(d) < MIN_DIFFERENCES:
        return math.nan, 0.0
    spread = max(1.4826 * float(np.median(np.abs(d))), math.sqrt(float(np.mean(d**2))))
    return spread / math.sqrt(2.0), float(max(2, len(d) // 3))


# ---------------------------------------------------------------- sources


def _logs(values: np.ndarray) -> np.ndarray | None:
    v = np.asarray(values, dtype=float)
    return np.log(v) if len(v) and (v > 0).all() else None


def from_rounds(kept: pd.DataFrame | None) -> dict[tuple, Noise]:
    """Per series: noise from consecutive rounds of one commit within one kept session, and whether
    every such group was identical (deterministic)."""
    if kept is None or kept.empty or "round" not in kept.columns:
        return {}
    t = series.usable(kept)
    if "session" not in t.columns:
        t = t.assign(session="")
    t = t.sort_values([*SERIES_KEY, "session", "commit", "round"], kind="stable")
    out = {}
    for key, g in t.groupby(SERIES_KEY, sort=False, dropna=False, observed=True):
        groups = [grp["value"].to_numpy(float) for _, grp in g.groupby(["session", "commit"], sort=False)]
        groups = [v for v in groups if len(v) >= 2]
        if not groups:
            continue
        if all(np.ptp(v) == 0 for v in groups):
            out[tuple(key)] = Noise(0.0, math.inf, f"kept rounds: identical in {len(groups)} session(s)", True)
            continue
        logs = [x for x in (_logs(v) for v in groups) if x is not None]
        sigma, df = sigma_from_differences(np.concatenate([np.diff(x) for x in logs]) if logs else [])
        if math.isfinite(sigma):
            n = sum(len(x) - 1 for x in logs)
            out[tuple(key)] = Noise(sigma, df, f"kept rounds: {n} differences in {len(logs)} session(s)")
    return out


def from_history(stored: pd.DataFrame | None) -> dict[tuple, Noise]:
    """Per series: noise from consecutive commits of the stored history (one value per commit)."""
    if stored is None or stored.empty:
        return {}
    out = {}
    for key, per in series.per_commit_series(stored):
        logs = _logs(per["value"].to_numpy(float))
        if logs is None:
            continue
        sigma, df = sigma_from_differences(np.diff(logs))
        if math.isfinite(sigma):
            out[tuple(key)] = Noise(sigma, df, f"history: {len(logs)} commits on {key[0]}")
    return out


def combine(*sources: Mapping[tuple, Noise]) -> dict[tuple, Noise]:
    """Per series the most cautious source: deterministic only when no source saw it vary, else
    the largest sigma (with that source's degrees of freedom)."""
    out: dict[tuple, Noise] = {}
    for src in sources:
        for key, noise in src.items():
            have = out.get(key)
            if have is None or (have.deterministic and not noise.deterministic) or noise.sigma > have.sigma:
                out[key] = noise
    return out


def calibrate(stored: pd.DataFrame | None = None, kept: pd.DataFrame | None = None) -> dict[tuple, Noise]:
    """The noise of every series the stored history or kept rounds can calibrate."""
    return combine(from_rounds(kept), from_history(stored))


def lookup(noise: Mapping[tuple, Noise], key: tuple) -> Noise | None:
    """The series' own noise, else the largest of the same benchmark x params on another machine
    or environment (e.g. a PR runner calibrated from the daily runner's history), else None."""
    if key in noise:
        return noise[key]
    others = [n for k, n in noise.items() if tuple(k[2:]) == tuple(key[2:])]
    if not others:
        return None
    best = max(others, key=lambda n: (not n.deterministic, n.sigma))
    return Noise(best.sigma, best.df, best.source + " (another machine or environment)", best.deterministic)


def session_deterministic(values_by_side: Iterable[np.ndarray]) -> bool:
    """True when each side has two or more values and all of them are identical."""
    sides = [np.asarray(v, dtype=float) for v in values_by_side]
    return all(len(v) >= 2 and np.ptp(v) == 0 for v in sides)


def with_session(noise: Noise, *sides: np.ndarray) -> Noise:
    """The noise to judge a comparison by, once its own rounds can say something: the calibration
    pooled with the spread of consecutive rounds within each side (variances weighted by their
    degrees of freedom, which add up), so a machine noisier today widens the interval without a few
    rounds' rough estimate (2-3 degrees of freedom, a t quantile of 10-30 at a strict look) replacing
    the calibration; a stated default gives way to the session's own spread as soon as it exists."""
    d = [np.diff(np.asarray(x, dtype=float)) for x in sides if len(x) >= 2]
    sigma, df = sigma_from_differences(np.concatenate(d) if d else [])
    if not math.isfinite(sigma):
        return noise
    n = sum(len(x) for x in d)
    own = Noise(sigma, df, f"this comparison's own rounds ({n} differences)")
    if math.isinf(noise.df):
        return own
    df_all = noise.df + df
    pooled = math.sqrt((noise.df * noise.sigma**2 + df * sigma**2) / df_all)
    return Noise(pooled, df_all, f"{noise.source}, pooled with {own.source}")


def critical_value(confidence: float, df: float) -> float:
    """Two-sided critical value of a t with ``df`` degrees of freedom (normal when infinite)."""
    if math.isinf(df):
        return robust.z_two_sided(confidence)
    return float(stats.t.ppf(1.0 - (1.0 - confidence) / 2.0, df))


def shift_se(sigma: float, n_base: int, n_head: int) -> float:
    """Standard error of the HL shift of log-values: sigma sqrt(1/m + 1/n), times sqrt(pi/3) (its
    large-sample efficiency against the mean) unless it is a single difference."""
    factor = 1.0 if n_base == n_head == 1 else math.sqrt(math.pi / 3.0)
    return factor * sigma * math.sqrt(1.0 / n_base + 1.0 / n_head)


def mde_pct(sigma: float, n_base: int, n_head: int, floor_pct: float, crit: float, power: float = 0.90) -> float:
    """Smallest true change (%) the estimate rule flags with ``power`` at these runs
    (``robust.mde_from_se`` with this module's standard error, which a single difference keeps whole)."""
    return robust.mde_from_se(shift_se(sigma, n_base, n_head), floor_pct, crit, power=power, rule="estimate")


def rounds_for(sigma: float, floor_pct: float, target_pct: float, crit: float, power: float = 0.90) -> float:
    """Rounds a side for an MDE of ``target_pct`` (inf when the floor is at or above it)."""
    return robust.rounds_for_mde(sigma, floor_pct, target_pct, crit, power=power, rule="estimate")


def t_sf(z: float, df: float) -> float:
    """Upper tail of a t with ``df`` degrees of freedom (normal when infinite)."""
    return float(stats.norm.sf(z) if math.isinf(df) else stats.t.sf(z, df))


def gather(
    stored: pd.DataFrame | None,
    rounds_root: Path,
    machine: str | None,
    head: str,
    skip_session: tuple[str, str] | None = None,
) -> tuple[dict[tuple, Noise], str]:
    """The noise of every series the stored history (without ``head``, the commit being judged) and
    the kept sessions under ``rounds_root`` (without the session ``skip_session`` about to be
    measured) can calibrate; and a sentence saying where it came from."""
    from tools.loader import load_sessions
    from tools.rounds_layout import session_name

    history = stored[stored["commit"].astype(str) != head] if stored is not None else None
    kept = load_sessions(rounds_root, machine) if Path(rounds_root).is_dir() else None
    if kept is not None and skip_session is not None:
        kept = kept[kept["session"] != session_name(*skip_session)]
    by_rounds, by_history = from_rounds(kept), from_history(history)
    text = (
        f"one run's between-process noise calibrated for {len(combine(by_rounds, by_history))} series "
        f"({len(by_rounds)} from kept interleaved rounds, {len(by_history)} from the stored history); the others "
        "use their channel's default until their own rounds can say more"
    )
    return combine(by_rounds, by_history), text
