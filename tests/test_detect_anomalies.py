"""Anomalies (outliers, bimodal samples, too noisy to judge) on synthetic data (tools/detect/anomalies.py)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tools.detect import anomalies as an
from tools.detect import pairwise as pw
from tools.detect import robust
from tools.errors import ToolError


def lognormal(seed: int, n: int, shift_pct: float = 0.0, sigma: float = 0.03) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.exp(rng.normal(math.log1p(shift_pct / 100), sigma, n))


def test_robust_z_and_a_3x_round_is_an_outlier():
    z = robust.robust_z([1.0, 2.0, 3.0, 4.0, 100.0])
    assert z[2] == 0 and z[4] > 50  # median 3, MAD 1 -> (100-3)/1.4826
    values = lognormal(1, 10)
    assert not an.outlier_mask(values).any()
    values[6] *= 3
    assert list(np.flatnonzero(an.outlier_mask(values))) == [6]
    assert not an.outlier_mask(values[:5]).any()  # too few rounds to call anything an outlier
    assert list(np.flatnonzero(an.outlier_mask([5.0] * 7 + [5.5]))) == [7]  # identical rounds, one off


def test_dip_test_separates_bimodal_from_unimodal_samples():
    rng = np.random.default_rng(2)
    two = np.exp(np.r_[rng.normal(0, 0.01, 15), rng.normal(0.3, 0.01, 15)])
    one = np.exp(rng.normal(0, 0.05, 30))
    assert an.dip_test(two)[1] < 0.01
    assert an.dip_test(one)[1] > 0.05
    assert math.isnan(an.dip_test([1.0, 2.0, 3.0])[1])  # < 10 distinct samples: no test
    assert an.is_bimodal([one, two])[0] and not an.is_bimodal([one, one])[0]


def test_dip_statistics_of_many_groups_agree_with_one_dip_test_each():
    rng = np.random.default_rng(3)
    groups = [tuple(np.exp(rng.normal(0, 0.05, 12))) for _ in range(40)]
    groups += [tuple(np.exp(np.r_[rng.normal(0, 0.01, 8), rng.normal(0.4, 0.01, 8)])) for _ in range(5)]
    groups += [(1.0, 2.0, 3.0), (), tuple(rng.normal(0, 1, 14)), (math.nan,) + tuple(np.exp(rng.normal(0, 1, 11)))]
    groups += [(1.0,) * 12, (0.0,) + tuple(np.exp(rng.normal(0, 1, 11)))]  # one value; a zero (no logs)
    dips, sizes = an.dip_statistics(groups)
    one_by_one = [an.dip_test(g) for g in groups]
    np.testing.assert_array_equal(dips, [d for d, _ in one_by_one])
    ps = [p for _, p in one_by_one]
    finite_ps = [p for p in ps if math.isfinite(p)]
    alpha = 0.01 / len(finite_ps)
    expected = [(i, p) for i, p in enumerate(ps) if math.isfinite(p) and p < alpha]
    assert an._significant_dips(dips, sizes, alpha) == expected
    assert {i for i, _ in expected} == set(range(40, 45))  # the five two-level groups, nothing else


def test_minimum_detectable_effect_matches_the_formula_and_the_rule():
    # floor 2%, sigma 3%, 20 rounds per side: log MDE = log(1.02) + (1.95996 + 1.28155) * sqrt(pi/3) * .03 * sqrt(.1)
    expected = 100 * math.expm1(math.log(1.02) + 3.24151 * math.sqrt(math.pi / 3) * 0.03 * math.sqrt(0.1))
    mde = an.minimum_detectable_effect(0.03, 20, 20, 2.0)
    assert mde == pytest.approx(expected, rel=1e-4)
    # And it is what the pairwise rule achieves: ~90% of shifts of exactly the MDE are flagged.
    hits = sum(
        pw.compare(lognormal(s, 20), lognormal(5000 + s, 20, mde), rule="interval", confidence=0.95).verdict
        == "regressed"
        for s in range(200)
    )
    assert 0.78 <= hits / 200 <= 0.97
    # The default rule (estimate beyond the floor, 99.5% interval excluding 0): its own formula.
    se = math.sqrt(math.pi / 3) * 0.03 * math.sqrt(0.1)
    est = an.minimum_detectable_effect(0.03, 20, 20, 2.0, confidence=0.995, rule="estimate")
    assert est == pytest.approx(
        100 * math.expm1(max(math.log(1.02) + 1.28155 * se, (2.80703 + 1.28155) * se)), rel=1e-4
    )
    hits = sum(pw.compare(lognormal(s, 20), lognormal(7000 + s, 20, est)).verdict == "regressed" for s in range(200))
    assert 0.78 <= hits / 200 <= 0.97
    # rounds_needed is the smallest n whose MDE reaches the target.
    n = robust.rounds_needed(0.03, 2.0, 5.0)
    assert an.minimum_detectable_effect(0.03, n, n, 2.0) <= 5.0 < an.minimum_detectable_effect(0.03, n - 1, n - 1, 2.0)
    assert robust.rounds_needed(0.03, 6.0, 5.0) == math.inf
    assert math.isnan(an.minimum_detectable_effect(math.nan, 5, 5, 2.0))


def test_pair_label():
    label, mde = an.pair_label(lognormal(3, 20, sigma=0.005), lognormal(4, 20, sigma=0.005), floor_pct=2.0)
    assert label == "" and 2.0 < mde < 3.0
    noisy, mde = an.pair_label(lognormal(5, 6, sigma=0.15), lognormal(6, 6, sigma=0.15), floor_pct=2.0)
    assert noisy == f"too noisy (MDE {mde:.0f}%)"
    rng = np.random.default_rng(7)
    bimodal = [np.exp(np.r_[rng.normal(0, 0.01, 10), rng.normal(0.4, 0.01, 10)])]
    assert (
        "bimodal"
        in an.pair_label(lognormal(8, 8, sigma=0.005), lognormal(9, 8, sigma=0.005), bimodal, [], floor_pct=2.0)[0]
    )
    assert an.pair_label([1.0], [1.1], floor_pct=2.0) == ("", pytest.approx(math.nan, nan_ok=True))


def _history(values, samples=None, bench="a_benchmarks.A.time_x"):
    n = len(values)
    return pd.DataFrame(
        {
            "machine": "m",
            "environment": "e",
            "benchmark": bench,
            "params": "",
            "commit": [f"{i:04d}" + "d" * 36 for i in range(n)],
            "commit_date": pd.to_datetime(1_700_000_000 + 3600 * np.arange(n), unit="s", utc=True),
            "round": 0,
            "type": "time",
            "unit": "seconds",
            "value": values,
            "failed": False,
            "samples": samples if samples is not None else [None] * n,
        }
    )


def test_anomaly_suite_reports_spikes_noise_and_bimodal_runs():
    quiet = lognormal(10, 40, sigma=0.005)
    quiet[12] *= 3
    rng = np.random.default_rng(11)
    samples = [tuple(np.exp(rng.normal(0, 0.005, 12))) for _ in range(40)]
    samples[30] = tuple(np.exp(np.r_[rng.normal(0, 0.005, 10), rng.normal(0.5, 0.005, 10)]))
    t = pd.concat([_history(quiet, samples), _history(lognormal(12, 40, sigma=0.2), bench="a_benchmarks.A.time_noisy")])
    out = an.anomaly_suite(t)
    assert all(f.mode == "anomaly" and not f.changed for f in out)
    spikes = [f for f in out if f.evidence.anomaly == "outlier"]
    assert [f.evidence.commit_after for f in spikes] == ["0012" + "d" * 36]
    assert spikes[0].evidence.statistic == pytest.approx(3.0, rel=0.05)
    noisy = [f for f in out if f.evidence.anomaly == "too noisy"]
    assert [f.benchmark for f in noisy] == ["a_benchmarks.A.time_noisy"]
    assert noisy[0].evidence.mde_pct > 5 and noisy[0].evidence.rounds_needed > 5
    bimodal = [f for f in out if f.evidence.anomaly == "bimodal"]
    assert [f.evidence.commit_after for f in bimodal] == ["0030" + "d" * 36]


def test_history_spikes_are_lone_and_never_the_newest_commit():
    y = np.log(lognormal(20, 30, sigma=0.01))
    y[10] += 1.0  # a spike
    y[28:] += 0.3  # a step with two commits after it
    assert list(np.flatnonzero(an.history_outliers(y))) == [10]
    y[-1] += 1.0  # the newest commit cannot be told from the start of a step
    assert not an.history_outliers(y)[-1]


def test_a_real_step_is_not_an_outlier():
    y = lognormal(13, 40, sigma=0.01)
    y[20:] *= 1.5
    out = an.anomaly_suite(_history(y))
    assert not [f for f in out if f.evidence.anomaly == "outlier"]


def test_anomaly_suite_rejects_bad_tables():
    with pytest.raises(ToolError, match="missing column"):
        an.anomaly_suite(pd.DataFrame({"value": [1.0]}))
