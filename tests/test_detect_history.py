"""History mode on synthetic series with known change points (tools/detect/history.py)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tools.detect import finding
from tools.detect import history as hist
from tools.errors import ToolError


def series(seed: int, n: int = 50, step_at: int | None = None, pct: float = 0.0, sigma: float = 0.02) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = rng.normal(0, sigma, n)
    if step_at is not None:
        y[step_at:] += math.log1p(pct / 100)
    return 1e-3 * np.exp(y)


def commit(i: int) -> str:
    return f"{i:04d}" + "c" * 36


def table(
    values_by_bench: dict[str, np.ndarray], *, btype: str = "time", unit: str = "seconds", rounds: int = 1
) -> pd.DataFrame:
    frames = []
    for bench, values in values_by_bench.items():
        n = len(values)
        for r in range(rounds):
            frames.append(
                pd.DataFrame(
                    {
                        "machine": "m",
                        "environment": "e",
                        "commit": [commit(i) for i in range(n)],
                        "commit_date": pd.to_datetime(1_700_000_000 + 3600 * np.arange(n), unit="s", utc=True),
                        "round": r,
                        "benchmark": bench,
                        "params": "",
                        "type": btype,
                        "unit": unit,
                        "value": values,
                        "failed": False,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def suite(t: pd.DataFrame, **kw) -> pd.DataFrame:
    """history_suite's findings as a table of their records."""
    return finding.frame(hist.history_suite(t, **kw), finding.HISTORY_COLUMNS)


def test_a_step_is_found_at_its_commit_with_size_and_interval():
    out = suite(table({"r_benchmarks.R.time_x": series(1, step_at=30, pct=10)}))
    assert len(out) == 1
    row = out.iloc[0]
    assert row["verdict"] == "regressed"
    assert (row["commit_before"], row["commit_after"]) == (commit(29), commit(30))
    assert row["ci_low_pct"] < 10 < row["ci_high_pct"] and 6 < row["change_pct"] < 14
    assert row["p_value"] < 0.01 and row["q_value"] < 0.05 and row["component"] == "r"
    assert "asv Potts" in row["method"] and row["confirmed"] is None
    assert "commits before vs" in row["rule"] and row["floor_pct"] == 2.0


def test_an_improvement_is_reported_as_improved():
    out = suite(table({"r_benchmarks.R.time_x": series(2, step_at=25, pct=-12)}))
    assert list(out["verdict"]) == ["improved"] and out["commit_after"].iloc[0] == commit(25)


def test_a_single_spike_is_not_a_change_point():
    for seed in range(15):
        y = series(100 + seed)
        y[20] *= 3.0
        assert suite(table({"r_benchmarks.R.time_x": y})).empty, seed
    # Not even a spike at the very end (one commit cannot show a level).
    y = series(7)
    y[-1] *= 3.0
    assert suite(table({"r_benchmarks.R.time_x": y})).empty


def test_a_spike_next_to_a_step_does_not_hide_it():
    y = series(12, step_at=30, pct=10)
    y[27] *= 3.0
    out = suite(table({"r_benchmarks.R.time_x": y}))
    assert list(out["commit_after"]) == [commit(30)] and list(out["verdict"]) == ["regressed"]


def test_flat_series_rarely_alarm():
    data = {f"f_benchmarks.F.time_{k}": series(200 + k, n=50) for k in range(60)}
    out = suite(table(data))
    assert len(out) <= 1  # the evaluation's A/A histories: docs/detection.md


def test_throughput_drop_is_a_regression():
    y = 1e6 / series(3, step_at=30, pct=10)  # ops/s: 10% more time = ~9% fewer ops
    out = suite(table({"r_benchmarks.R.track_x_throughput": y}, btype="track", unit="ops/s"))
    assert list(out["verdict"]) == ["regressed"] and out["change_pct"].iloc[0] < -5


def test_instruction_counts_change_exactly_at_the_commit():
    y = np.full(20, 218_722_196.0)
    y[10:] *= 1.01
    y[15] += 200  # jitter below the floor is not a change
    out = suite(table({"r_benchmarks.R.track_x_instructions": y}, btype="track", unit="instructions"))
    assert len(out) == 1
    row = out.iloc[0]
    assert (row["commit_before"], row["commit_after"]) == (commit(9), commit(10))
    assert row["verdict"] == "regressed" and row["change_pct"] == pytest.approx(1.0)
    assert row["channel"] == "instructions" and "deterministic" in row["rule"]
    flat = suite(table({"r_benchmarks.R.track_x_instructions": np.full(20, 1e8)}, btype="track", unit="instructions"))
    assert flat.empty


def test_commit_order_comes_from_dates_and_rounds_are_medianed():
    t = table({"r_benchmarks.R.time_x": series(4, step_at=30, pct=15)}, rounds=3)
    shuffled = t.sample(frac=1.0, random_state=0)
    out = suite(shuffled)
    assert list(out["commit_after"]) == [commit(30)]


def test_failed_runs_are_skipped():
    y = series(5, step_at=30, pct=15)
    t = table({"r_benchmarks.R.time_x": y})
    t.loc[[10, 31], "value"] = np.nan
    t.loc[[10, 31], "failed"] = True
    out = suite(t)
    assert list(out["commit_after"]) == [commit(30)]


def test_confirmation_hook_is_called_per_boundary_pair():
    data = {
        "r_benchmarks.R.time_a": series(6, step_at=30, pct=15),
        "r_benchmarks.R.time_b": series(8, step_at=30, pct=15),
        "r_benchmarks.R.time_c": series(9),
    }
    calls = []

    def confirm(before, after, found):
        calls.append((before, after, sorted(f.benchmark for f in found)))
        return [f.benchmark.endswith("time_a") for f in found]

    out = {f.benchmark: f for f in hist.history_suite(table(data), confirm=confirm)}
    assert calls == [(commit(29), commit(30), ["r_benchmarks.R.time_a", "r_benchmarks.R.time_b"])]
    assert out["r_benchmarks.R.time_a"].evidence.confirmed is True
    assert out["r_benchmarks.R.time_b"].evidence.confirmed is False
    with pytest.raises(ToolError, match="answered 0 flags"):
        suite(table(data), confirm=lambda b, a, rows: [])


def test_bad_tables_are_rejected_and_short_series_give_nothing():
    with pytest.raises(ToolError, match="missing column"):
        suite(pd.DataFrame({"benchmark": ["x"]}))
    assert suite(table({"r_benchmarks.R.time_x": series(1, n=2)})).empty
    assert hist.detect_series([1.0]) == []


def test_candidates_merge_one_commit_segments():
    y = np.log(series(10, n=40))
    y[20] += 1.0
    bounds = hist.candidate_boundaries(y)
    assert all(b2 - b1 >= 2 for b1, b2 in zip(bounds, bounds[1:]))


# ---------------------------------------------------------------- every round of a commit


def rounds_history(
    seed: int,
    n: int = 45,
    r: int = 8,
    step_at: int | None = None,
    pct: float = 0.0,
    within: float = 0.06,
    between: float = 0.0,
) -> list[np.ndarray]:
    """Per commit, ``r`` round values: a per-commit offset (sd ``between``) plus round noise."""
    rng = np.random.default_rng(seed)
    out = []
    for c in range(n):
        level = math.log1p(pct / 100) if step_at is not None and c >= step_at else 0.0
        out.append(1e-3 * np.exp(level + rng.normal(0, between) + rng.normal(0, within, r)))
    return out


def deff(*sides) -> float:
    return hist.clustering(*sides)[0]


def test_design_effect_known_answers():
    rng = np.random.default_rng(0)
    same = [np.full(5, v) for v in rng.normal(0, 1, 30)]  # rounds identical within a commit: ICC = 1
    assert deff(same) == pytest.approx(5.0)
    independent = [rng.normal(0, 1, 5) for _ in range(200)]  # no commit effect: ICC ~ 0
    assert deff(independent) < 1.1
    clustered = [rng.normal(rng.normal(0, 1), 1, 5) for _ in range(400)]  # ICC = 0.5 -> 1 + 4 * 0.5
    assert deff(clustered) == pytest.approx(3.0, abs=0.4)
    # One round per commit: nothing to correct; the sides are centred on their own means.
    assert deff([np.array([1.0])] * 10) == 1.0
    assert deff([np.zeros(4)] * 10, [np.ones(4)] * 10) == 1.0


def test_every_round_of_a_commit_is_tested():
    rounds = rounds_history(1, step_at=40, pct=5)
    values = [float(np.median(r)) for r in rounds]
    cands = hist.detect_series(values, rounds=rounds)
    # Located within a commit: at 6% round noise a commit's 8 rounds leave ±2% on its level.
    hit = [c for c in cands if 39 <= c.evidence.position <= 41]
    assert len(hit) == 1 and hit[0].evidence.rounds_base == 20 * 8
    assert hit[0].evidence.rounds_head == 8 * (45 - hit[0].evidence.position)
    assert 0 < hit[0].ci_low_pct < 5 < hit[0].ci_high_pct < 12
    out = suite(rounds_table({"r_benchmarks.R.time_x": rounds}))
    assert list(out["verdict"]) == ["regressed"] and out["position"].iloc[0] in (39, 40, 41)
    assert "rounds" in out["rule"].iloc[0] and f"{hist.effective_looks(45):.3g} effective looks" in out["rule"].iloc[0]


def test_commits_that_differ_among_themselves_do_not_pass_for_independent_rounds():
    # Each commit's machine differs by 3% while its rounds agree within 1%: counting rounds as
    # independent would call many flat histories changed; the design effect keeps them quiet.
    alarms = 0
    for seed in range(20):
        rounds = rounds_history(50 + seed, within=0.01, between=0.03)
        alarms += len(suite(rounds_table({"r_benchmarks.R.time_x": rounds})))
    assert alarms <= 1
    values = [float(np.median(r)) for r in rounds]
    assert all(c.evidence.design_effect == math.inf for c in hist.detect_series(values, rounds=rounds))


def test_round_lists_must_match_the_commits():
    with pytest.raises(ToolError, match="round lists"):
        hist.detect_series([1.0, 2.0, 3.0], rounds=[[1.0]])


def rounds_table(rounds_by_bench: dict[str, list[np.ndarray]]) -> pd.DataFrame:
    frames = []
    for bench, rounds in rounds_by_bench.items():
        for c, vals in enumerate(rounds):
            frames.append(
                pd.DataFrame(
                    {
                        "machine": "m",
                        "environment": "e",
                        "commit": commit(c),
                        "commit_date": pd.Timestamp(1_700_000_000 + 3600 * c, unit="s", tz="UTC"),
                        "round": np.arange(len(vals)),
                        "benchmark": bench,
                        "params": "",
                        "type": "time",
                        "unit": "seconds",
                        "value": vals,
                        "failed": False,
                    }
                )
            )
    return pd.concat(frames, ignore_index=True)


def test_shift_test_known_answers():
    rng = np.random.default_rng(3)
    b, a = rng.normal(0, 1, 400), rng.normal(0.5, 1, 400)
    shift = float(np.median(np.subtract.outer(a, b)))
    lo, hi, p = hist.shift_test(b, a, shift, 1.0, 0.95, 1)
    assert lo < 0.5 < hi and hi - lo == pytest.approx(2 * 1.96 * 1.02 * math.sqrt(2 / 400), rel=0.15)
    assert p < 1e-6
    # Looks multiply p and widen the interval; a design effect widens it by its square root.
    lo10, hi10, p10 = hist.shift_test(b, a, shift, 1.0, 0.95, 10)
    assert p10 == pytest.approx(10 * p) and hi10 - lo10 > hi - lo
    lo4, hi4, _ = hist.shift_test(b, a, shift, 4.0, 0.95, 1)
    assert hi4 - lo4 == pytest.approx(2 * (hi - lo), rel=0.05)
    # Too few values for a 95% interval: nothing to say.
    assert hist.shift_test(np.array([0.0, 1.0]), np.array([5.0]), 4.5, 1.0, 0.95, 1) == (-math.inf, math.inf, 1.0)
    # A null shift is not significant.
    null_b, null_a = rng.normal(0, 1, 50), rng.normal(0, 1, 50)
    assert (
        hist.shift_test(null_b, null_a, float(np.median(np.subtract.outer(null_a, null_b))), 1.0, 0.995, 49)[2] > 0.05
    )


def scan_exceedances(n: int, window: int, critical: float, sims: int, seed: int) -> float:
    """Fraction of flat series whose largest window |z| over all splits exceeds ``critical``
    (written out split by split, independently of effective_looks' vectorised scan)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((sims, n))
    worst = np.zeros(sims)
    for b in range(1, n):
        before, after = x[:, max(0, b - window) : b], x[:, b : min(n, b + window)]
        z = (after.mean(axis=1) - before.mean(axis=1)) / math.sqrt(1 / before.shape[1] + 1 / after.shape[1])
        worst = np.maximum(worst, np.abs(z))
    return float((worst > critical).mean())


def test_effective_looks_are_calibrated_and_bounded():
    # Critical value from the effective looks -> "any split" false alarms at the nominal 0.5%
    # (20,000 fresh flat series: ±0.15% is 3 standard errors); Bonferroni over every split is
    # stricter than it needs to be (about twice the looks at 35 commits).
    for n in (12, 35):
        looks = hist.effective_looks(n, 20, 0.005)
        assert 1 < looks < n - 1
        assert n != 35 or looks < 0.6 * (n - 1)
        rate = scan_exceedances(n, 20, stats.norm.isf(0.005 / (2 * looks)), 20_000, seed=n)
        assert rate == pytest.approx(0.005, abs=0.0015)
        assert scan_exceedances(n, 20, stats.norm.isf(0.005 / (2 * (n - 1))), 20_000, seed=n) <= rate
    # More splits, more looks; far apart windows add looks in proportion; never below 1.
    assert hist.effective_looks(2) == 1.0 and hist.effective_looks(3) >= 1.0
    assert hist.effective_looks(20) < hist.effective_looks(60) < hist.effective_looks(200)
    assert hist.effective_looks(1000) == pytest.approx(hist.effective_looks(400) * 999 / 399)
    assert hist.effective_looks(35) == hist.effective_looks.__wrapped__(35)  # deterministic


def test_a_large_step_is_found_with_one_round_per_commit_and_few_commits():
    # 7 commits each side, 0.3% noise, +25%: a rank test's p could never beat 2/C(14, 7) x 13 looks.
    y = series(21, n=14, step_at=7, pct=25, sigma=0.003)
    out = suite(table({"r_benchmarks.R.time_x": y}))
    assert list(out["verdict"]) == ["regressed"] and out["commit_after"].iloc[0] == commit(7)


def test_stored_looks_are_the_simulation_itself():
    """tools/detect/effective_looks.json is written by the same simulation with the same seed."""
    hist._looks_table.cache_clear()
    table = hist._looks_table()
    assert len(table) == hist.SCAN_MAX_COMMITS - 2
    for n in (12, 35):
        stored = table[(n, hist.DEFAULT_WINDOW, round(1 - hist.HISTORY_CONFIDENCE, 12))]
        assert stored == hist.simulate_looks(n, hist.DEFAULT_WINDOW, 1 - hist.HISTORY_CONFIDENCE)


def test_one_round_per_commit_has_no_clustering_to_correct():
    one_each = [np.array([1.0 + 0.01 * i]) for i in range(10)]
    assert hist.clustering(one_each[:5], one_each[5:]) == (1.0, 1.0)
