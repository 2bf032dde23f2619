"""Evaluation harness: injection math, baselines with known answers, metrics, the command."""

from __future__ import annotations

import gzip
import json
import math

import numpy as np
import pandas as pd
import pytest

from tools.__main__ import main
from tools.errors import ToolError
from tools.evaluate import baselines, inject
from tools.evaluate.config import EvalConfig
from tools.evaluate.corpus import (
    DEFAULT_CORPUS,
    NoiseCorpus,
    SeriesNoise,
    load_corpus,
    save_corpus,
    split_rounds,
)
from tools.evaluate.harness import evaluate, pairwise_table
from tools.evaluate.metrics import Rate, analytic_mde, min_detectable_effect, wilson


def synthetic_corpus(n_series=2, n_proc=40, sd_between=0.03, seed=0) -> NoiseCorpus:
    rng = np.random.default_rng(seed)
    series = {}
    for i in range(n_series):
        name = f"toy_benchmarks.T{i}.time_x"
        procs = [
            1e-4 * (i + 1) * math.exp(rng.normal(0, sd_between)) * np.exp(rng.normal(0, 0.01, 10))
            for _ in range(n_proc)
        ]
        series[name] = SeriesNoise(name, "seconds", "wall", procs)
    return NoiseCorpus(series, {"how": "synthetic (tests)"})


# ---- injection ----


def test_step_is_multiplicative_on_every_sample():
    s = np.array([1.0, 2.0, 4.0])
    assert np.allclose(inject.slow_down(s, 5), [1.05, 2.1, 4.2])
    assert np.allclose(inject.apply(inject.STEPS[2], s, centre=2.0), s * 1.05)
    assert np.allclose(inject.apply(inject.STEPS[2], s, centre=2.0, level=0), s)  # before the change


def test_gradual_adds_a_step_per_commit_and_stops():
    s = np.array([10.0])
    g = inject.GRADUAL
    assert [round(float(inject.apply(g, s, 10.0, level=k)[0]), 6) for k in (0, 1, 2, 3, 4)] == [
        10.0,
        10.2,
        10.404,
        10.61208,
        10.61208,
    ]
    assert g.total_pct == pytest.approx(6.1208)
    assert g.is_change and not inject.VARIANCE.is_change and not inject.AA.is_change


def test_variance_only_keeps_the_median_and_doubles_log_spread():
    rng = np.random.default_rng(1)
    s = np.exp(rng.normal(0, 0.1, 2001)) * 3.0
    centre = float(np.median(s))
    w = inject.widen(s, centre, 2.0)
    assert np.median(w) == pytest.approx(centre, rel=1e-9)
    assert np.std(np.log(w)) == pytest.approx(2 * np.std(np.log(s)), rel=1e-9)
    assert (w > 0).all()


def test_draws_are_disjoint_and_refuse_when_too_few():
    rng = np.random.default_rng(0)
    groups = inject.draw_disjoint(rng, 20, [5, 5, 5])
    flat = np.concatenate(groups)
    assert len(set(flat.tolist())) == 15 and flat.max() < 20
    assert inject.draw_disjoint(rng, 9, [5, 5]) is None


# ---- baselines with known answers ----


def test_asv_rule_fires_at_2x_not_at_5_percent():
    rng = np.random.default_rng(2)
    base = 1.0 + rng.normal(0, 0.002, 20)
    assert baselines.asv_pr_regressed(base, 2.0 + rng.normal(0, 0.004, 20))
    # Perfectly separated samples, but 5% is under asv's factor 1.1
    assert not baselines.asv_pr_regressed(base, 1.05 + rng.normal(0, 0.002, 20))
    # A big ratio on overlapping samples is not significant
    assert not baselines.asv_pr_regressed([1.0, 3.0, 1.0, 3.0], [3.0, 1.0, 3.3, 1.1])


def test_asv_rule_keeps_asv_memo_policy_outside():
    from asv import _stats

    before = _stats._mann_whitney_u_memo
    baselines.asv_pr_regressed(np.linspace(1, 2, 20), np.linspace(3, 4, 20))
    assert _stats._mann_whitney_u_memo is before


def test_pandas_rule_is_blind_at_5_percent_and_needs_21_commits_after():
    flat = np.ones(30)
    assert baselines.pandas_regressions(np.r_[flat, flat * 1.05]) == []
    assert baselines.pandas_regressions(np.r_[flat, flat * 1.10]) == [30]
    assert baselines.pandas_regressions(np.r_[flat, np.ones(20) * 1.10]) == []  # 20 after: not yet
    assert baselines.pandas_regressions(np.r_[flat, np.ones(21) * 1.10]) == [30]
    assert baselines.pandas_regressions(np.r_[flat * 1.10, flat]) == []  # an improvement


def test_asv_step_detect_finds_a_clean_step_and_nothing_on_flat():
    rng = np.random.default_rng(3)
    commits = [1.0 + rng.normal(0, 0.001, 10) for _ in range(30)]
    stepped = commits[:20] + [c * 1.3 for c in commits[20:]]
    assert baselines.asv_history_regressions(stepped) == [20]
    assert baselines.asv_history_regressions(commits) == []


@pytest.mark.skipif(baselines.otava_available() is not None, reason="apache-otava not installed")
def test_otava_reports_upward_change_points_only():
    rng = np.random.default_rng(4)
    y = np.r_[np.ones(30), np.ones(30) * 1.2] * (1 + rng.normal(0, 0.005, 60))
    assert baselines.otava_regressions(y) == [30]
    assert baselines.otava_regressions(y[::-1]) == []  # a speed-up is not a regression


# ---- metrics ----


def test_wilson_interval_known_values():
    lo, hi = wilson(0, 100)
    assert lo == 0 and hi == pytest.approx(0.0370, abs=1e-4)
    lo, hi = wilson(50, 100)
    assert (lo, hi) == (pytest.approx(0.4038, abs=1e-4), pytest.approx(0.5962, abs=1e-4))
    assert all(math.isnan(x) for x in wilson(0, 0))
    with pytest.raises(ValueError):
        wilson(5, 4)


def test_rate_formatting_and_mde():
    r = Rate.of([True] * 9 + [False])
    assert (r.k, r.n, r.value) == (9, 10, 0.9)
    assert r.fmt().startswith("90.0% [")
    assert Rate(0, 0).fmt() == "n/a"
    assert min_detectable_effect({2: 0.1, 5: 0.95, 10: 1.0}) == 5
    assert min_detectable_effect({2: 0.1, 5: 0.5}) == math.inf
    v = np.exp(np.random.default_rng(5).normal(0, 0.1, 200))
    assert analytic_mde(v, 40) < analytic_mde(v, 10) < analytic_mde(v, 2)


# ---- corpus ----


def test_corpus_round_trip_and_summary(tmp_path):
    c = synthetic_corpus()
    path = save_corpus(c, tmp_path / "c.json.gz")
    back = load_corpus(path)
    assert back.names() == c.names()
    s0, b0 = c.series[c.names()[0]], back.series[c.names()[0]]
    assert np.allclose(s0.process_values(), b0.process_values(), rtol=1e-4)
    rows = back.summary_rows()
    assert rows[0]["processes"] == 40 and rows[0]["samples_per_process"] == 10
    assert 1.0 < rows[0]["cv_between_pct"] < 6.0


@pytest.mark.parametrize(
    "content, message",
    [
        (b"not gzip and not json", "cannot read"),
        (gzip.compress(b'{"format": 99}'), "not a noise corpus"),
        (gzip.compress(b'{"format": 1, "series": {}}'), "no series"),
        (gzip.compress(json.dumps({"format": 1, "series": {"a": {"processes": [[1.0]] * 3}}}).encode()), "at least 4"),
        (
            gzip.compress(
                json.dumps({"format": 1, "series": {"a": {"processes": [[1.0], [-2.0], [1], [1]]}}}).encode()
            ),
            "positive numbers",
        ),
    ],
)
def test_bad_corpus_is_one_clear_error(tmp_path, content, message):
    p = tmp_path / "bad.json.gz"
    p.write_bytes(content)
    with pytest.raises(ToolError, match=message):
        load_corpus(p)


def test_split_rounds_needs_equal_rounds():
    assert split_rounds([1, 2, 3, 4, 5, 6], 3) == [[1, 2], [3, 4], [5, 6]]
    assert split_rounds([1, 2, 3, 4, 5], 2) is None


# ---- the harness and the command ----


def test_evaluation_is_seeded_and_honest_on_aa():
    c = synthetic_corpus(n_series=1, n_proc=40, sd_between=0.01)
    cfg = EvalConfig(
        pairwise_trials=3,
        history_trials=1,
        after=21,
        prefix_grid=(21,),
        history_methods=("pandas rule",),
        daily_trials=1,
    )
    a, b = evaluate(c, cfg), evaluate(c, cfg)
    assert a.pairwise.equals(b.pairwise)
    assert a.daily.equals(b.daily) and set(a.daily.method) >= {"ours, sessions", "ours, pooled"}
    table = pairwise_table(a).set_index("method")
    ours = [m for m in table.index if m.startswith("ours")][0]
    # 1% between-process noise, 10 processes per side: 20% is always found, A/A never flagged
    assert table.loc[ours, "recall +20%"].value == 1.0
    assert table.loc[ours, "A/A false alarms"].k == 0


def test_quick_run_on_the_stored_corpus_writes_the_table(tmp_path, capsys):
    assert DEFAULT_CORPUS.is_file(), "tests/data/noise_corpus.json.gz is the recorded corpus"
    out = tmp_path / "eval"
    assert main(["evaluate-detector", "--quick", "--output-dir", str(out)]) == 0
    md = sorted(out.glob("evaluation_*.md"))
    csv = sorted(out.glob("evaluation_*.csv"))
    assert len(md) == 1 and len(csv) == 1
    text = md[0].read_text()
    for needle in (
        "## Pairwise",
        "## History",
        "asv continuous rule",
        "pandas rule",
        "A/A false alarms",
        "(Per-benchmark history table: with `--history-trials 15` or more",
        "## Daily history with day effects",
        "ours, sessions",
    ):
        assert needle in text
    assert "asv step_detect" in capsys.readouterr().out
    df = pd.read_csv(csv[0])
    pw = df[df.table == "pairwise"]
    assert set(pw.scenario) >= {"A/A", "+5%", "+20%"}
    assert set(df[df.table == "daily history"].scenario) >= {"A/A", "+5%"}
    assert ((pw.ci_low <= pw.rate) & (pw.rate <= pw.ci_high)).all()


def test_missing_corpus_is_an_error_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "eval"
    code = main(["evaluate-detector", "--corpus", str(tmp_path / "nope.json.gz"), "--output-dir", str(out)])
    assert code == 2
    assert "error: noise corpus not found" in capsys.readouterr().err
    assert not out.exists()


def test_unmatched_series_filter_is_an_error(tmp_path, capsys):
    p = save_corpus(synthetic_corpus(), tmp_path / "c.json.gz")
    assert (
        main(["evaluate-detector", "--corpus", str(p), "--series", "nothing_matches", "--output-dir", str(tmp_path)])
        == 2
    )
    assert "no corpus series matches" in capsys.readouterr().err


def test_instruction_channel_exact_counts_catch_1_percent_and_no_aa():
    from tools.evaluate.harness import Outcome, instruction_table, run_instructions

    procs = [np.array([1_000_000.0])] * 5
    c = NoiseCorpus(
        {
            "toy_benchmarks.T.track_x_instructions": SeriesNoise(
                "toy_benchmarks.T.track_x_instructions", "instructions", "instructions", procs
            )
        }
    )
    df = run_instructions(c, EvalConfig(pairwise_trials=5), [])
    table = instruction_table(Outcome(pd.DataFrame(), pd.DataFrame(), {}, instructions=df)).set_index("method")
    ours = table.loc["ours (instructions, 1 run per side, default floor)"]
    assert ours["A/A false alarms"].k == 0 and ours["recall +1%"].value == 1.0
    assert table.loc["asv continuous rule (instructions)", "recall +2%"].k == 0  # under asv's factor 1.1


def test_our_history_finds_a_clean_step_where_it_happened():
    from tools.evaluate.harness import ours_history_candidates

    rng = np.random.default_rng(6)
    commits = [np.exp(rng.normal(0, 0.002, 10)) for _ in range(40)]
    stepped = commits[:30] + [c * 1.3 for c in commits[30:]]
    assert [after for _, after in ours_history_candidates(stepped)] == [30]
    assert ours_history_candidates(commits) == []


def test_rounds_beyond_the_corpus_is_an_error(tmp_path, capsys):
    p = save_corpus(synthetic_corpus(n_proc=12), tmp_path / "c.json.gz")
    out = tmp_path / "eval"
    assert main(["evaluate-detector", "--corpus", str(p), "--rounds", "10", "--output-dir", str(out)]) == 2
    assert "--rounds 10 needs 20 processes" in capsys.readouterr().err
    assert not out.exists()


def test_missing_otava_becomes_a_note_not_a_crash(monkeypatch):
    monkeypatch.setattr(baselines, "otava_available", lambda: "ModuleNotFoundError: No module named 'otava'")
    c = synthetic_corpus(n_series=1, n_proc=40)
    cfg = EvalConfig(
        pairwise_trials=1,
        history_trials=1,
        after=21,
        prefix_grid=(21,),
        history_methods=("pandas rule", "Otava"),
        daily_trials=0,
    )
    out = evaluate(c, cfg)
    assert set(out.history.method) == {"pandas rule"}
    assert any(n.startswith("Otava: not evaluated") for n in out.notes)


def _with_twins(wall_sd=0.25, twin_sd=0.01, n_proc=48, seed=3) -> NoiseCorpus:
    """Wall series with a large per-process speed factor; the twin sees only the residual."""
    rng = np.random.default_rng(seed)
    series = {}
    for i in range(2):
        speed = np.exp(rng.normal(0, wall_sd, n_proc))
        resid = np.exp(rng.normal(0, twin_sd, n_proc))
        name = f"toy_benchmarks.T{i}.time_x(10)"
        twin = f"toy_benchmarks.T{i}.track_x_relative(10)"
        series[name] = SeriesNoise(
            name, "seconds", "wall", [1e-4 * f * r * np.exp(rng.normal(0, 0.01, 10)) for f, r in zip(speed, resid)]
        )
        series[twin] = SeriesNoise(twin, "relative", "relative", [np.array([3.0 * r]) for r in resid])
    return NoiseCorpus(series, {"how": "synthetic (tests)"})


def test_twin_pairs_with_its_wall_series_and_is_judged_on_the_same_processes():
    from tools.evaluate.corpus import relative_name
    from tools.evaluate.harness import history_table, per_series_table, suite_table

    assert relative_name("m.C.time_x('a', 1)") == "m.C.track_x_relative('a', 1)"
    c = _with_twins()
    cfg = EvalConfig(
        pairwise_trials=6,
        history_trials=2,
        after=10,
        prefix_grid=(5, 10),
        history_methods=("ours", "pandas rule"),
        daily_trials=0,
    )
    out = evaluate(c, cfg)
    table = pairwise_table(out).set_index("method")
    wall = table.loc["ours (10+10 rounds, re-run if inconclusive)"]
    rel = table.loc["ours, speed-normalised (10+10 rounds, re-run if inconclusive)"]
    # 25% wall noise hides +5%; the twin's 1% residual shows it every time, A/A stays quiet.
    assert rel["recall +5%"].value == 1.0 and rel["A/A false alarms"].k == 0
    assert wall["recall +5%"].value < 0.5
    assert any(m.startswith("ours, speed-normalised") for m in suite_table(out).method)
    assert "ours, speed-normalised" in set(history_table(out, cfg).method)
    per = per_series_table(out, c, cfg)
    assert sorted(per.channel.unique()) == ["speed-normalised", "wall"]
    assert len(per) == 4 and set(per.series) == {"toy_benchmarks.T0.time_x(10)", "toy_benchmarks.T1.time_x(10)"}


def test_estimate_rule_is_selectable_and_changes_power_not_the_aa_rate():
    c = _with_twins(twin_sd=0.04)
    out_i = evaluate(
        c,
        EvalConfig(
            pairwise_trials=20,
            history_trials=1,
            after=5,
            prefix_grid=(5,),
            history_methods=("pandas rule",),
            rule="interval",
            daily_trials=0,
        ),
    )
    out_e = evaluate(
        c,
        EvalConfig(
            pairwise_trials=20,
            history_trials=1,
            after=5,
            prefix_grid=(5,),
            history_methods=("pandas rule",),
            rule="estimate",
            confidence=0.99,
            daily_trials=0,
        ),
    )
    m = "ours, speed-normalised (10+10 rounds, re-run if inconclusive)"
    ti, te = pairwise_table(out_i).set_index("method").loc[m], pairwise_table(out_e).set_index("method").loc[m]
    assert te["recall +5%"].value > ti["recall +5%"].value
    assert te["A/A false alarms"].k <= 1


def test_recording_rejects_too_few_rounds(tmp_path):
    from tools.errors import ToolError
    from tools.evaluate.corpus import record_with_asv

    with pytest.raises(ToolError, match="--record-rounds must be at least 4"):
        record_with_asv(tmp_path / "c.json.gz", rounds=3)
    assert not (tmp_path / "c.json.gz").exists()


@pytest.mark.slow
def test_recording_pairs_each_wall_series_with_its_twin_from_the_same_runs(tmp_path):
    from tools.evaluate.corpus import load_corpus, record_with_asv

    out = tmp_path / "corpus.json.gz"
    rec = record_with_asv(
        out,
        bench=[r"^model_registry_benchmarks\.GetBatch\.time_get_100_by_id$"],
        rounds=4,
        repeat=3,
        log=lambda *_: None,
    )
    c = load_corpus(out)
    wall = c.series["model_registry_benchmarks.GetBatch.time_get_100_by_id"]
    twin = c.series["model_registry_benchmarks.GetBatch.track_get_100_by_id_relative"]
    assert (wall.channel, twin.channel, twin.unit) == ("wall", "relative", "relative")
    assert wall.n_processes == twin.n_processes == 4  # one process of each per asv run
    assert all(len(p) == 3 for p in wall.processes) and all(len(p) == 1 for p in twin.processes)
    assert "and its track_*_relative twin" in rec.meta["how"]


def test_history_series_table_counts_per_benchmark_and_channel():
    from tools.evaluate.harness import Outcome, history_series_table

    recs = [
        dict(series="s1", scenario="A/A", kind="none", pct=0, trial=0, method="ours", false_alarms=1, first_k=math.nan),
        dict(series="s1", scenario="+5%", kind="step", pct=5, trial=0, method="ours", false_alarms=math.nan, first_k=3),
        dict(
            series="s1", scenario="+5%", kind="step", pct=5, trial=1, method="ours", false_alarms=math.nan, first_k=10
        ),
        dict(
            series="s1",
            scenario="+5%",
            kind="step",
            pct=5,
            trial=0,
            method="ours, speed-normalised",
            false_alarms=math.nan,
            first_k=math.nan,
        ),
        dict(
            series="s1",
            scenario="+5%",
            kind="step",
            pct=5,
            trial=0,
            method="ours + confirm",
            false_alarms=math.nan,
            first_k=1,
        ),
    ]
    t = history_series_table(Outcome(pd.DataFrame(), pd.DataFrame(recs), {}))
    assert list(t.channel) == ["speed-normalised", "wall"]  # confirmation rows are not counted
    wall = t[t.channel == "wall"].iloc[0]
    assert wall["A/A alarms"] == "1/1" and wall["+5% ≤ 5 commits"] == "1/2" and wall["+2% ≤ 5 commits"] == "0/0"


def test_daily_days_share_their_day_effect_within_a_session():
    from tools.evaluate import daily

    corpus = synthetic_corpus(n_series=1, n_proc=60, sd_between=0.01)
    s = next(iter(corpus.series.values()))
    cfg = EvalConfig(before=8, after=4, commit_rounds=2, session_rounds=4, anchor_lag=3)
    flat = daily.simulate_days([s], inject.AA, cfg, [0.0], np.random.default_rng(1))[0]
    shaken = daily.simulate_days([s], inject.AA, cfg, [0.5], np.random.default_rng(1))[0]
    assert len(shaken["runs"]) == 12 and [len(r) for r in shaken["runs"]] == [2] * 12
    assert [(d, a) for d, a, *_ in shaken["sessions"]] == [(d, max(0, d - 3)) for d in range(1, 12)]
    # Same draws, day effects on top: each session's two sides move together, so its shift is the same.
    for (_, _, b0, h0), (_, _, b1, h1) in zip(flat["sessions"], shaken["sessions"]):
        assert np.log(np.median(h1) / np.median(b1)) == pytest.approx(np.log(np.median(h0) / np.median(b0)))
    assert not np.allclose(
        [np.median(np.concatenate(r)) for r in flat["runs"]], [np.median(np.concatenate(r)) for r in shaken["runs"]]
    )
    # Every round known by day 5: the commit's own run and its sessions' rounds so far.
    per = daily.known_rounds(shaken, 5)
    assert len(per) == 5 and len(per[4]) == 2 + 4 and len(per[0]) == 2 + 3 * 4
    for method in daily.METHODS[:3]:
        assert isinstance(daily.detect(method, shaken, 12), list)
    with pytest.raises(ValueError, match="unknown daily-history method"):
        daily.detect("nope", shaken, 12)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--daily-trials", "-1"], "--daily-trials must be 0 or more"),
        (["--day-sd", "1.5"], "--day-sd must lie in [0, 1)"),
    ],
)
def test_daily_options_are_checked(tmp_path, capsys, args, message):
    assert main(["evaluate-detector", "--quick", *args, "--output-dir", str(tmp_path / "e")]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "e").exists()


def test_a_simulated_runner_change_is_a_shift_and_a_real_step_still_counts():
    """tools.evaluate.shifts on the stored corpus: a +25% runner change at commit 20 is reported as
    a shift and blamed on no commit; a +20% step of one workload at commit 30 is still blamed."""
    import numpy as np

    from tools.evaluate import shifts
    from tools.evaluate.config import EvalConfig
    from tools.evaluate.corpus import DEFAULT_CORPUS, load_corpus

    corpus = load_corpus(DEFAULT_CORPUS)
    rec = shifts.trial(corpus, EvalConfig(), shifts.SCENARIOS[1], 25.0, 20.0, np.random.default_rng(3))
    assert rec["shift_reported"] is True and rec["blamed_at_shift"] == 0 and rec["blamed_without_rule"] > 0
    assert rec["step_found"] is True and rec["shift_elsewhere"] is False
    table = shifts.shift_table(__import__("pandas").DataFrame([rec]))
    assert list(table["scenario"]) == ["runner shift + real step"]
