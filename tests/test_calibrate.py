"""Calibrated between-process noise (tools/detect/calibrate.py) and the rule that judges a single run
per side against it (pairwise.compare with ``noise``)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tools.detect import calibrate, pairwise
from tools.detect.calibrate import Noise


def test_sigma_from_differences_recovers_a_normal_sd():
    rng = np.random.default_rng(1)
    v = rng.normal(0, 0.1, 2001)
    sigma, df = calibrate.sigma_from_differences(np.diff(v))
    assert sigma == pytest.approx(0.1, rel=0.08)
    assert df == 666
    assert math.isnan(calibrate.sigma_from_differences([0.1, 0.2])[0])


def test_a_heavy_tail_is_not_hidden_by_the_mad():
    rng = np.random.default_rng(2)
    v = np.where(rng.random(400) < 0.05, 1.0, 0.0) + rng.normal(0, 0.05, 400)  # 5% of runs far off
    sigma, _ = calibrate.sigma_from_differences(np.diff(v))
    mad_only = 1.4826 * np.median(np.abs(np.diff(v))) / math.sqrt(2)
    assert sigma > 3 * mad_only


def test_defaults_are_the_noisiest_recorded_workload_per_channel():
    from tools.evaluate.corpus import DEFAULT_CORPUS, load_corpus

    corpus = load_corpus(DEFAULT_CORPUS)
    for channel in ("wall", "relative"):
        largest = max(
            calibrate.sigma_from_differences(np.diff(np.log(s.process_values())))[0]
            for s in corpus.series.values()
            if s.channel == channel
        )
        assert calibrate.DEFAULT_SIGMA[channel] == pytest.approx(largest, abs=0.005)


def _rows(values_by_commit: dict, bench="m.C.time_x", session="s1") -> pd.DataFrame:
    rows = []
    for commit, values in values_by_commit.items():
        for k, v in enumerate(values):
            rows.append(
                dict(machine="box", environment="env", benchmark=bench, params="", commit=commit, round=k, value=v,
                     failed=False, session=session, type="time", unit="seconds", commit_date=pd.Timestamp("2026-01-01"))
            )  # fmt: skip
    return pd.DataFrame(rows)


def test_rounds_calibrate_and_recognise_deterministic_series():
    rng = np.random.default_rng(3)
    noisy = _rows({"a": np.exp(rng.normal(0, 0.05, 12)), "b": np.exp(rng.normal(0, 0.05, 12))})
    same = _rows({"a": [7.0] * 4, "b": [9.0] * 3}, bench="m.C.track_hits")
    got = calibrate.from_rounds(pd.concat([noisy, same]))
    key = ("box", "env", "m.C.time_x", "")
    assert got[key].sigma == pytest.approx(0.05, rel=0.5) and not got[key].deterministic
    assert "22 differences" in got[key].source
    assert got[("box", "env", "m.C.track_hits", "")].deterministic


def test_history_calibrates_from_consecutive_commits_and_combine_is_cautious():
    rng = np.random.default_rng(4)
    commits = {f"c{i:02d}": [math.exp(rng.normal(0, 0.2))] for i in range(31)}
    t = _rows(commits)
    t["commit_date"] = pd.to_datetime([f"2026-01-{1 + i % 28:02d}" for i in range(31)])
    t["commit_date"] += pd.to_timedelta(range(31), unit="h")
    hist = calibrate.from_history(t)
    key = ("box", "env", "m.C.time_x", "")
    assert hist[key].sigma == pytest.approx(0.2, rel=0.4) and hist[key].df == 10
    small = {key: Noise(0.01, 50, "rounds")}
    assert calibrate.combine(small, hist)[key] is hist[key]
    other = calibrate.lookup(hist, ("pr-box", "env", "m.C.time_x", ""))
    assert other.sigma == hist[key].sigma and "another machine" in other.source


def test_one_run_a_side_decides_only_far_beyond_the_noise():
    noise = Noise(0.25, 10, "history: 31 commits")
    big = pairwise.compare([1.0], [5.0], noise=noise)  # x5: log 1.61 against 0.25 * sqrt 2
    assert big.verdict == "regressed" and big.basis == "calibrated"
    assert "1 vs 1 runs against the between-process noise of one run, sd 28.4%: history: 31 commits; t(10)" in big.rule
    small = pairwise.compare([1.0], [1.3], noise=noise)
    assert small.verdict == "inconclusive"
    assert small.evidence.rounds_needed > 100 and small.evidence.mde_pct > 100
    assert pairwise.compare([1.0], [5.0]).verdict == "inconclusive"  # no noise given: too few rounds, as before


def test_the_default_gives_way_to_the_comparisons_own_spread():
    rng = np.random.default_rng(5)
    b, h = np.exp(rng.normal(0, 0.02, 5)), np.exp(rng.normal(0.3, 0.02, 5))
    f = pairwise.compare(b, h, noise=calibrate.default_noise("wall"))
    assert f.verdict == "regressed" and "this comparison's own rounds (8 differences)" in f.rule


def test_deterministic_values_are_judged_like_counts():
    f = pairwise.compare([0.70], [0.60], channel="metric", lower_is_better=False, noise=Noise(0, math.inf, "", True))
    assert f.verdict == "regressed" and f.basis == "exact" and "deterministic value -14.29% (0.7 → 0.6" in f.rule


def test_aa_false_alarms_of_single_runs_stay_under_half_a_percent_on_normal_noise():
    rng = np.random.default_rng(6)
    flagged = 0
    for _ in range(4000):
        history = rng.normal(0, 0.2, 31)
        sigma, df = calibrate.sigma_from_differences(np.diff(history))
        b, h = np.exp(rng.normal(0, 0.2, 2))
        flagged += pairwise.compare([b], [h], noise=Noise(sigma, df, "sim")).verdict == "regressed"
    assert flagged / 4000 < 0.005


def test_suite_marks_the_rounds_a_benchmark_failed_in():
    rows = []
    for side, commit in (("base", "a"), ("head", "b")):
        for k in range(6):
            failed = side == "head" and k == 3
            rows.append(
                dict(machine="box", environment="env", benchmark="m.C.time_x", params="", param_values=(), commit=commit,
                     round=k, value=math.nan if failed else 1.0 + 0.01 * k, failed=failed, type="time", unit="seconds")
            )  # fmt: skip
    t = pd.DataFrame(rows)
    (f,) = pairwise.compare_suite(t[t.commit == "a"], t[t.commit == "b"], noise={})
    assert f.evidence.failed_rounds == "head round 3" and "failed in head round 3" in f.evidence.anomaly
    assert (f.n_base, f.n_head) == (6, 5)


def test_a_comparisons_own_rounds_are_pooled_with_the_calibration():
    rng = np.random.default_rng(3)
    base, head = rng.normal(0.0, 0.20, 4), rng.normal(0.0, 0.20, 4)  # a machine noisier today
    own_sigma, own_df = calibrate.sigma_from_differences(np.concatenate([np.diff(base), np.diff(head)]))
    calibrated = Noise(0.05, 15.0, "kept rounds")
    used = calibrate.with_session(calibrated, base, head)
    assert used.df == 15.0 + own_df  # degrees of freedom add up: no t quantile of 2-3 df
    assert 0.05 < used.sigma < own_sigma  # widened, not replaced by a rough estimate
    assert used.sigma == pytest.approx(math.sqrt((15 * 0.05**2 + own_df * own_sigma**2) / (15 + own_df)))
    default = calibrate.default_noise("wall")  # a stated default gives way to the rounds' own spread
    assert calibrate.with_session(default, base, head).sigma == pytest.approx(own_sigma)
    assert calibrate.with_session(calibrated, base[:1], head[:1]) == calibrated  # one run a side: nothing to pool
