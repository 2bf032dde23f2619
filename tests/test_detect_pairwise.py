"""Pairwise detection on synthetic data with known answers (tools/detect/pairwise.py)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tools.detect import finding, robust, series
from tools.detect import pairwise as pw
from tools.detect import verdict as vd
from tools.detect.robust import bh_qvalues
from tools.errors import ToolError

SIGMA = 0.03  # log-normal noise of 3% per round


def lognormal(seed: int, n: int, shift_pct: float = 0.0, sigma: float = SIGMA) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 1e-4 * np.exp(rng.normal(math.log1p(shift_pct / 100), sigma, n))


def rows(
    bench: str,
    values,
    commit: str,
    *,
    btype: str = "time",
    unit: str = "seconds",
    params: str = "",
    param_values: tuple = (),
    samples=None,
) -> pd.DataFrame:
    """Tidy rows, one per round."""
    n = len(values)
    return pd.DataFrame(
        {
            "machine": "m",
            "environment": "e",
            "commit": commit,
            "round": range(n),
            "component": bench.split("_benchmarks")[0],
            "benchmark": bench,
            "params": params,
            "param_values": [param_values] * n,
            "type": btype,
            "unit": unit,
            "value": list(values),
            "failed": [not math.isfinite(v) for v in values],
            "samples": samples if samples is not None else [None] * n,
        }
    )


# ---------------------------------------------------------------- building blocks


def test_hodges_lehmann_is_median_of_pairwise_differences():
    # differences head-base: 1,0,-1,3,2,1 -> median 1
    assert robust.hodges_lehmann(np.array([1.0, 2.0, 3.0]), np.array([2.0, 4.0])) == 1.0


@pytest.mark.parametrize("m,n,expected", [(4, 4, 0), (5, 5, 2), (10, 10, 23), (3, 20, 8), (8, 6, 8)])
def test_moses_critical_values_match_the_mann_whitney_table(m, n, expected):  # at 95%, as printed
    # Two-sided 0.05 critical values of U from standard tables.
    assert robust.mann_whitney_critical(m, n, 0.95) == expected


@pytest.mark.parametrize("m,n", [(4, 4), (5, 7), (10, 10), (3, 20), (40, 35)])
def test_cached_mann_whitney_p_equals_scipy(m, n):
    from scipy import stats

    rng = np.random.default_rng(m * 100 + n)
    for _ in range(3):
        a, b = rng.normal(0, 1, m), rng.normal(0.4, 1, n)
        assert robust.mann_whitney_p(a, b) == pytest.approx(stats.mannwhitneyu(b, a).pvalue, abs=1e-12)
    tied_a, tied_b = np.array([1.0, 1, 2, 2, 3]), np.array([2.0, 3, 3, 4, 4])  # ties: scipy directly
    assert robust.mann_whitney_p(tied_a, tied_b) == pytest.approx(stats.mannwhitneyu(tied_b, tied_a).pvalue)


def test_too_few_rounds_have_no_interval_and_are_inconclusive():
    assert robust.mann_whitney_critical(3, 3, vd.CONFIDENCE) is None
    r = pw.compare([1.0, 1.01, 0.99], [2.0, 2.1, 1.9])
    assert r.verdict == "inconclusive"
    assert math.isinf(r.ci_low_pct) and math.isinf(r.ci_high_pct)
    assert "too few" in r.rule and "3 base / 3 head" in r.rule


def test_bh_qvalues_match_hand_computation_and_skip_nan():
    # sorted p: .005 .01 .03 .04 (m=4): p*m/rank = .02 .02 .04 .04, running min from the top.
    q = bh_qvalues([0.01, 0.04, 0.03, np.nan, 0.005])
    np.testing.assert_allclose(q[[0, 1, 2, 4]], [0.02, 0.04, 0.04, 0.02])
    assert math.isnan(q[3])
    # Ordering: q-values are monotone in p.
    p = np.random.default_rng(0).uniform(size=50)
    qq = bh_qvalues(p)
    assert (np.diff(qq[np.argsort(p)]) >= -1e-12).all()


# ---------------------------------------------------------------- verdicts


def test_five_percent_slowdown_with_enough_rounds_is_regressed():
    verdicts = [pw.compare(lognormal(s, 30), lognormal(10_000 + s, 30, 5.0)) for s in range(60)]
    hits = sum(v.verdict == "regressed" for v in verdicts)
    assert hits >= 0.9 * len(verdicts)
    r = verdicts[0]
    assert 2.0 < r.change_pct < 8.0 and r.ci_low_pct < r.change_pct < r.ci_high_pct
    assert r.rule.startswith("HL shift +") and "(99.5% CI): shift > floor 2.0%, interval excludes 0" in r.rule
    assert "q=" in r.rule


def test_aa_comparisons_rarely_alarm_and_never_when_equal():
    alarms = 0
    for s in range(500):
        r = pw.compare(lognormal(2 * s, 10), lognormal(2 * s + 1, 10))
        assert r.verdict in finding.VERDICTS
        alarms += r.verdict in ("regressed", "improved")
    assert alarms / 500 <= 0.015
    same = lognormal(7, 30)
    assert pw.compare(same, same).verdict == "unchanged"


def test_precise_aa_is_unchanged():
    r = pw.compare(lognormal(1, 40, sigma=0.005), lognormal(2, 40, sigma=0.005))
    assert r.verdict == "unchanged" and "within ±floor 2.0%" in r.rule


def test_throughput_going_down_is_a_regression():
    base, head = lognormal(3, 20), lognormal(4, 20, -10.0)
    assert pw.compare(base, head, lower_is_better=False).verdict == "regressed"
    assert pw.compare(base, head, lower_is_better=True).verdict == "improved"
    up = pw.compare(base, lognormal(5, 20, 10.0), lower_is_better=False)
    assert up.verdict == "improved" and "higher is better" in up.rule


def test_one_wild_round_does_not_flip_the_verdict():
    base, head = lognormal(11, 12), lognormal(12, 12)
    clean = pw.compare(base, head).verdict
    head_out = head.copy()
    head_out[3] *= 3.0
    assert pw.compare(base, head_out).verdict == clean != "regressed"
    slow = lognormal(13, 30, 8.0)
    base_out = lognormal(14, 30)
    base_out[0] *= 3.0
    assert pw.compare(base_out, slow).verdict == "regressed"


def test_interval_within_floor_but_significant_is_unchanged():
    base, head = lognormal(21, 60, sigma=0.002), lognormal(22, 60, 0.8, sigma=0.002)
    r = pw.compare(base, head)
    assert r.p_value < 0.001 and r.verdict == "unchanged"


def test_straddling_the_floor_is_inconclusive():
    r = pw.compare(lognormal(31, 8, sigma=0.05), lognormal(32, 8, 3.0, sigma=0.05))
    assert r.verdict == "inconclusive" and "more rounds needed" in r.rule


def test_calibrated_floor_raises_the_bar():
    base, head = lognormal(41, 30), lognormal(42, 30, 5.0)
    assert pw.compare(base, head).verdict == "regressed"
    assert pw.compare(base, head, floor_pct=8.0).verdict != "regressed"


# ---------------------------------------------------------------- instruction channel


def test_instructions_one_percent_change_is_decisive_with_one_run():
    r = pw.compare([218_722_196], [220_909_418], channel="instructions")
    assert r.verdict == "regressed" and r.method == "deterministic"
    assert r.n_base == r.n_head == 1 and "deterministic" in r.rule and "218,722,196" in r.rule
    assert pw.compare([218_722_196], [216_535_000], channel="instructions").verdict == "improved"


def test_instructions_aa_and_jitter_are_unchanged():
    assert pw.compare([218_722_196], [218_722_196], channel="instructions").verdict == "unchanged"
    assert pw.compare([218_722_196], [218_722_396], channel="instructions").verdict == "unchanged"
    # A small workload: 80 instructions on 10,000 is 0.8% but within the absolute allowance (100).
    assert pw.compare([10_000], [10_080], channel="instructions").verdict == "unchanged"
    assert pw.compare([10_000], [10_080], channel="instructions", instruction_jitter=0).verdict == "regressed"


def test_instructions_that_disagree_between_runs_are_inconclusive():
    r = pw.compare([1_000_000, 1_000_000], [1_000_000, 1_020_000], channel="instructions")
    assert r.verdict == "inconclusive"


# ---------------------------------------------------------------- odd inputs


def test_zero_and_negative_values_use_a_raw_scale():
    assert pw.compare([0.0] * 5, [0.0] * 5).verdict == "unchanged"
    r = pw.compare([0.0] * 5, [0.0, 1.0, 0.0, 2.0, 0.0])
    assert r.verdict == "inconclusive" and "base median is 0" in r.rule
    r = pw.compare([-10.0, 10, 100, 105, 98, 101], [300.0, 310, 320, 305, 299, 315], channel="memory")
    assert r.verdict == "regressed"


def test_peak_memory_with_one_run_per_side_uses_a_wider_floor():
    r = pw.compare([5.0e7], [5.5e7], channel="memory")
    assert r.verdict == "regressed" and r.floor_pct == 5.0 and "single run per side" in r.rule
    assert pw.compare([5.0e7], [5.1e7], channel="memory").verdict == "unchanged"


def test_missing_side_is_inconclusive():
    r = pw.compare([1.0, 2.0], [])
    assert r.verdict == "inconclusive" and "no result for head" in r.rule
    with pytest.raises(ValueError, match="unknown channel"):
        pw.compare([1.0], [1.0], channel="bogus")


# ---------------------------------------------------------------- floors


def test_calibrate_floor_is_at_least_two_percent_and_grows_with_noise():
    quiet = series.calibrate_floor(lognormal(51, 40, sigma=0.002))
    noisy = series.calibrate_floor(lognormal(52, 40, sigma=0.10))
    assert quiet == 2.0
    assert noisy > 3.0
    # Between-job groups: jobs alternating between two levels 6% apart give a floor near 6%.
    jobs = [lognormal(60 + k, 6, sigma=0.002) * (1.06 if k % 2 else 1.0) for k in range(4)]
    assert 5.0 < series.calibrate_floor(jobs) < 7.0
    assert series.calibrate_floor([1.0, 2.0]) == 2.0  # too little data: the minimum


# ---------------------------------------------------------------- suite


def suite(base, head, **kw) -> pd.DataFrame:
    """compare_suite's findings as a table of their records."""
    return finding.frame(pw.compare_suite(base, head, **kw), finding.PAIRWISE_COLUMNS)


def test_compare_suite_columns_channels_and_directions():
    base = pd.concat(
        [
            rows("router_benchmarks.R.time_route", lognormal(81, 20), "b"),
            rows("router_benchmarks.R.track_route_throughput", lognormal(82, 20), "b", btype="track", unit="ops/s"),
            rows("router_benchmarks.R.track_route_instructions", [1e8], "b", btype="track", unit="instructions"),
            rows("router_benchmarks.R.peakmem_route", [5e7], "b", btype="peakmem", unit="bytes"),
        ]
    )
    head = pd.concat(
        [
            rows("router_benchmarks.R.time_route", lognormal(83, 20), "h"),
            rows(
                "router_benchmarks.R.track_route_throughput", lognormal(84, 20, -15.0), "h", btype="track", unit="ops/s"
            ),
            rows("router_benchmarks.R.track_route_instructions", [1.01e8], "h", btype="track", unit="instructions"),
            rows("router_benchmarks.R.peakmem_route", [5e7], "h", btype="peakmem", unit="bytes"),
        ]
    )
    out = suite(base, head)
    leading = [
        "machine",
        "environment",
        "component",
        "benchmark",
        "params",
        "param_values",
        "type",
        "unit",
        "channel",
        "base_value",
        "head_value",
        "change_pct",
        "ci_low_pct",
        "ci_high_pct",
        "p_value",
        "q_value",
        "floor_pct",
        "verdict",
        "rule",
        "n_base",
        "n_head",
        "anomaly",
    ]
    assert list(out.columns[: len(leading)]) == leading
    got = dict(zip(out["benchmark"].str.rsplit(".", n=1).str[-1], zip(out["channel"], out["verdict"])))
    assert got["time_route"][0] == "wall" and got["time_route"][1] != "regressed"
    assert got["track_route_throughput"] == ("metric", "regressed")
    assert got["track_route_instructions"] == ("instructions", "regressed")
    assert got["peakmem_route"] == ("memory", "unchanged")
    assert series.channel_of("track", "bytes") == "metric"  # e.g. track_*_rss_growth: noisy, needs rounds
    assert series.channel_of("memory", "bytes") == "memory"
    assert (out["component"] == "router").all()
    assert math.isnan(out.loc[out["channel"] == "instructions", "q_value"].iloc[0])


def test_compare_suite_applies_benjamini_hochberg():
    # 6 vs 6 rounds, complete separation: exact p = 2/924 = 0.0022 — significant alone...
    b0, h0 = [1.0, 1.01, 0.99, 1.005, 0.995, 1.002], [1.2, 1.21, 1.19, 1.205, 1.195, 1.202]
    alone = suite(rows("x_benchmarks.X.time_a", b0, "b"), rows("x_benchmarks.X.time_a", h0, "h"))
    assert alone["verdict"].iloc[0] == "regressed"
    assert alone["q_value"].iloc[0] == pytest.approx(2 / 924)
    # ...but not among 29 other tests with unremarkable p-values: q = p * 30 / 1 = 0.065.
    base = [rows("x_benchmarks.X.time_a", b0, "b")]
    head = [rows("x_benchmarks.X.time_a", h0, "h")]
    for k in range(29):
        base.append(rows(f"x_benchmarks.X.time_n{k}", lognormal(100 + k, 4), "b"))
        head.append(rows(f"x_benchmarks.X.time_n{k}", lognormal(200 + k, 4), "h"))
    out = suite(pd.concat(base), pd.concat(head)).set_index("benchmark")
    row = out.loc["x_benchmarks.X.time_a"]
    assert row["p_value"] == pytest.approx(2 / 924)
    np.testing.assert_allclose(out["q_value"].to_numpy(), bh_qvalues(out["p_value"].to_numpy()))
    assert row["q_value"] > 0.05 and row["verdict"] == "inconclusive" and "after BH" in row["rule"]


def test_compare_suite_marks_outliers_noise_and_missing_sides():
    noisy_b, noisy_h = lognormal(90, 6, sigma=0.15), lognormal(91, 6, sigma=0.15)
    spiky = lognormal(92, 12)
    spiky[4] *= 3
    base = pd.concat(
        [
            rows("n_benchmarks.N.time_noisy", noisy_b, "b"),
            rows("n_benchmarks.N.time_spiky", lognormal(93, 12), "b"),
            rows("n_benchmarks.N.time_gone", [1.0] * 5, "b"),
        ]
    )
    head = pd.concat(
        [
            rows("n_benchmarks.N.time_noisy", noisy_h, "h"),
            rows("n_benchmarks.N.time_spiky", spiky, "h"),
            rows("n_benchmarks.N.time_gone", [float("nan")] * 5, "h"),
        ]
    )
    out = suite(base, head).set_index("benchmark")
    assert out.loc["n_benchmarks.N.time_noisy", "anomaly"].startswith("too noisy (MDE ")
    assert out.loc["n_benchmarks.N.time_noisy", "mde_pct"] > 5
    assert "outlier" in out.loc["n_benchmarks.N.time_spiky", "anomaly"]
    assert out.loc["n_benchmarks.N.time_spiky", "verdict"] != "regressed"
    gone = out.loc["n_benchmarks.N.time_gone"]
    assert gone["verdict"] == "inconclusive" and gone["n_head"] == 0 and "no result for head" in gone["rule"]


def test_compare_suite_rejects_a_table_without_the_tidy_columns():
    with pytest.raises(ToolError, match="missing column"):
        suite(pd.DataFrame({"benchmark": ["a"]}), pd.DataFrame({"benchmark": ["a"]}))
    empty = rows("a_benchmarks.A.time_x", [], "b")
    assert suite(empty, empty).empty


def test_estimate_rule_texts_name_what_held_the_verdict_back():
    # Significant, but the shift (1%) is within the 2% floor while the interval reaches beyond it.
    verdict, text = vd.decide(1.0, 0.5, 3.0, 0.01, 2.0, rule="estimate")
    assert verdict == "inconclusive" and "interval excludes 0 but the shift is within ±floor 2.0%" in text
    # Beyond the floor and excluding 0, but not significant after BH.
    verdict, text = vd.decide(5.0, 1.0, 9.0, 0.2, 2.0, rule="estimate")
    assert verdict == "inconclusive" and "excludes 0 but q=0.2 ≥ 0.05 after BH" in text
    assert vd.decide(5.0, 1.0, 9.0, 0.01, 2.0, rule="estimate")[0] == "regressed"
