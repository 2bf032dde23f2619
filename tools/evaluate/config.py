"""The evaluation's settings (``EvalConfig``) and the constants its experiments and tables share."""

from __future__ import annotations

from dataclasses import dataclass

# A history detection counts when the reported change lies within ± this many commits of the true one.
LOCATION_TOLERANCE = 2
# Commits after the change at which the history detectors look (see ``prefix_grid``).
PREFIX_GRID = (1, 2, 3, 5, 10, 21, 30)
# The pairwise target: at most this share of A/A comparisons flagged, per benchmark and comparison.
FA_BUDGET = 0.01
# Channel label of the speed-normalised twins (track_*_relative) of the wall-time series.
RELATIVE = "speed-normalised"
# Day-to-day sd of the log level per channel, for the daily history: between two recorded sessions
# on two VMs (same code, 120 vs 24 processes per benchmark), the sd across the 18 benchmarks of the
# shift of their median, log scale.
DAY_SD = {"wall": 0.22, RELATIVE: 0.05}


@dataclass
class EvalConfig:
    seed: int = 20261126
    rounds: int = 10  # processes per side for our detector (and asv at the same budget)
    asv_default_rounds: int = 2  # asv continuous' default
    pairwise_trials: int = 30  # per series per scenario
    history_trials: int = 30  # per scenario, the series taken in turn
    before: int = 30
    after: int = 30
    commit_rounds: int = 2  # processes per commit in a history (asv run's default rounds)
    rerun_inconclusive: bool = True
    max_series: int | None = None
    prefix_grid: tuple[int, ...] = PREFIX_GRID
    history_methods: tuple[str, ...] = ("ours", "ours + confirm", "asv step_detect", "pandas rule", "Otava")
    relative: bool = True  # also judge each benchmark's speed-normalised twin (track_*_relative)
    rule: str | None = None  # decision rule of tools.detect.pairwise.decide (None: its default)
    confidence: float | None = None  # interval confidence (None: tools.detect.pairwise.CONFIDENCE)
    # Daily history with day effects (tools.evaluate.daily): histories per scenario (0: skip),
    # the daily session's anchor lag and rounds per side, day-to-day sd (None: measured DAY_SD).
    daily_trials: int = 30
    anchor_lag: int = 5
    session_rounds: int = 6
    day_sd: float | None = None
    # Environment shifts (tools.evaluate.shifts): suite histories per scenario and shift size (0: skip).
    shift_trials: int = 0
    # One run a side and the check schedules, old vs new (tools.evaluate.schedules): trials per series
    # and scenario (0: skip).
    schedule_trials: int = 30

    @classmethod
    def quick(cls) -> EvalConfig:
        return cls(
            pairwise_trials=4, history_trials=3, max_series=3, after=21, prefix_grid=(5, 21), daily_trials=2,
            schedule_trials=3,
        )  # fmt: skip

    def day_sd_of(self, channel: str) -> float:
        """The daily history's day-to-day sd for ``channel``: the one set, else the measured one."""
        return self.day_sd if self.day_sd is not None else DAY_SD[channel]


def prefix_grid(cfg: EvalConfig) -> list[int]:
    """Commits after the change at which the detectors look (always including the last)."""
    grid = [k for k in cfg.prefix_grid if k <= cfg.after]
    return grid + ([cfg.after] if cfg.after not in grid else [])
