"""The evaluation of one run a side and of the check schedules (tools.evaluate.schedules), on a
synthetic corpus whose noise is known: the rates must follow from it, not be fixed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tools.evaluate import schedules
from tools.evaluate.config import EvalConfig
from tools.evaluate.corpus import NoiseCorpus, SeriesNoise

N_PROCESSES = 120  # 48 to calibrate, then 36 a side for the longest schedule


def _series(name: str, sd: float, seed: int) -> SeriesNoise:
    """Lognormal between-process noise of ``sd`` around 1 ms, 5 samples per process."""
    rng = np.random.default_rng(seed)
    levels = 1e-3 * np.exp(rng.normal(0.0, sd, N_PROCESSES))
    return SeriesNoise(name, "seconds", "wall", [lv * (1 + 0.001 * rng.standard_normal(5)) for lv in levels])


@pytest.fixture(scope="module")
def corpus() -> NoiseCorpus:
    return NoiseCorpus(
        {"quiet.time_q": _series("quiet.time_q", 0.01, 1), "noisy.time_n": _series("noisy.time_n", 0.4, 2)}
    )


def _cfg(trials: int) -> EvalConfig:
    return EvalConfig(relative=False, pairwise_trials=trials)


def test_one_run_a_side_decides_what_is_far_beyond_its_calibrated_noise(corpus):
    df, suite = schedules.run_single_run(corpus, _cfg(10), corpus.names())
    ours = df[df.method == "ours, calibrated"]
    flagged = ours.groupby(["series", "scenario"]).verdict.apply(lambda v: float((v == "regressed").mean()))
    assert flagged[("quiet.time_q", "A/A")] == 0 and flagged[("noisy.time_n", "A/A")] == 0
    assert flagged[("quiet.time_q", "+20%")] == 1.0  # 20% is 20 sd of a 1% noise
    assert flagged[("noisy.time_n", "+20%")] < 0.5  # and half an sd of a 40% one
    assert flagged[("quiet.time_q", "x5")] == 1.0
    # x5 is log 1.6, four sd of a 40% noise: one run a side is then not far beyond it
    assert flagged[("noisy.time_n", "x5")] < flagged[("quiet.time_q", "x5")]
    assert len(suite) == 10 and not any(suite)
    table = schedules.single_run_table(df)
    assert set(table.method) == {"ours, calibrated", "ours, channel default", "asv continuous rule"}


def test_schedules_run_on_the_same_draws_and_the_sequential_one_stops_early(corpus):
    df, plans = schedules.run_schedules(corpus, _cfg(4), corpus.names())
    assert set(plans) == set(schedules.BUDGETS)
    names = set(df.schedule)
    assert {"old PR: 6 + 2 at a time to 30", f"old daily: {schedules.OLD_DAILY} rounds"} <= names
    quiet = df[(df.series == "quiet.time_q") & (df.scenario == "+20%")]
    assert (quiet.verdict == "regressed").all()  # every schedule finds 20 sd
    new = quiet[quiet.schedule.str.startswith("new")]
    old_pr = quiet[quiet.schedule.str.startswith("old PR")]
    assert (old_pr.rounds == 6).all() and new.rounds.mean() < 6  # fewer rounds for the same verdict
    assert (new.rounds <= max(n for n, _ in plans.values())).all()
    old_daily = df[df.schedule.str.startswith("old daily")]
    assert (old_daily.rounds == schedules.OLD_DAILY).all()
    assert not (df[df.kind == "none"].verdict == "regressed").any()


def test_suite_minutes_follow_the_measured_cost():
    cost = schedules.SuiteCost(
        per_series={"wall": 1.0, "relative": 1.0, "metric": 1.0},
        overhead=10.0,
        series={"wall": 30, "relative": 0, "metric": 0},
    )
    g = pd.DataFrame({"channel": ["wall"] * 4, "rounds": [1, 1, 3, 3]})
    assert schedules.schedule_minutes(g, "old daily: 24 rounds", cost) == pytest.approx(24 * 2 * 40 / 60)
    # new: round 0 everything (80 s both sides); rounds 1 and 2 half the series + the overhead
    assert schedules.schedule_minutes(g, "new PR", cost) == pytest.approx((80 + 2 * 2 * (15 + 10)) / 60)
