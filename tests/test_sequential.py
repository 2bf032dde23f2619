"""Sequential rounds in a budget (tools/detect/sequential.py, rounds.sequential_rounds): the error
spent over the looks, conditional power, and the runner against a fake asv that writes real result
files (deterministic channels once a side, only open series re-measured, failures reported)."""

from __future__ import annotations

import json
import math
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from test_detect_rounds import COLUMNS, ENV, MACHINE, asv_call

from tools.detect import rounds, sequential
from tools.detect.calibrate import Noise
from tools.detect.verdict import CONFIDENCE

BENCHES = {
    "s_benchmarks.S.time_fast": ("time", "seconds"),  # head 30% slower, 5% noise
    "s_benchmarks.S.time_same": ("time", "seconds"),  # equal, 0.1% noise
    "s_benchmarks.S.time_wobbly": ("time", "seconds"),  # head 3% slower, 8% noise
    "s_benchmarks.S.track_count_instructions": ("track", "instructions"),  # head +2%, exact
    "s_benchmarks.S.track_hits": ("track", "hit rate"),  # deterministic, equal
    "s_benchmarks.S.time_flaky": ("time", "seconds"),  # head 15% slower, 5% noise, fails in head round 1
}


class FakeAsv:
    def __init__(self, head: str, seed: int = 0):
        self.head, self.runs, self.rng = head, [], np.random.default_rng(seed)

    def value(self, name: str, commit: str, k: int) -> float | None:
        slow = commit == self.head
        noise = {"time_fast": 0.05, "time_same": 0.001, "time_wobbly": 0.08, "time_flaky": 0.05}
        short = name.rpartition(".")[2]
        if short == "track_count_instructions":
            return 1_000_000.0 * (1.02 if slow else 1.0)
        if short == "track_hits":
            return 0.7
        if short == "time_flaky" and slow and k == 1:
            return None
        factor = {"time_fast": 1.3, "time_wobbly": 1.03, "time_flaky": 1.15}.get(short, 1.0) if slow else 1.0
        return 1e-4 * factor * math.exp(self.rng.normal(0, noise[short]))

    def __call__(self, cmd, cwd, env):
        call = asv_call(cmd, cwd)
        if call is None:
            return subprocess.CompletedProcess(cmd, 0, "", "")
        args, conf, regex, commit = call
        self.runs.append((commit, regex))
        out = Path(cwd / conf["results_dir"])
        (out / MACHINE).mkdir(parents=True, exist_ok=True)
        meta = {
            n: {"name": n, "type": t, "unit": u, "version": "1", "params": [], "param_names": []}
            for n, (t, u) in BENCHES.items()
        }
        (out / "benchmarks.json").write_text(json.dumps({**meta, "version": 2}))
        (out / MACHINE / "machine.json").write_text(json.dumps({"machine": MACHINE, "version": 1}))
        k = sum(1 for c, _ in self.runs if c == commit) - 1
        results = {}
        for name in BENCHES:
            if regex is None or re.search(regex, name):
                v = self.value(name, commit, k)
                results[name] = [[v], [], "1", 1_700_000_000_000, 0.5, [[v] * 3 if v else None]]
        data = {"commit_hash": commit, "env_name": ENV, "date": 1_700_000_000_000, "params": {"machine": MACHINE},
                "python": "3.11", "requirements": {}, "env_vars": {}, "result_columns": COLUMNS, "results": results,
                "durations": {}, "version": 2}  # fmt: skip
        (out / MACHINE / f"{commit[:8]}-{ENV}.json").write_text(json.dumps(data))
        return subprocess.CompletedProcess(cmd, 2 if any(v[0][0] is None for v in results.values()) else 0, "", "")


def test_the_error_spent_over_the_looks_adds_up_to_a_single_look():
    obf = sequential.Plan(8, spending="obf")
    shares = [1 - obf.confidence_at(n, n - 1) for n in range(1, 9)]
    assert sum(shares) == pytest.approx(1 - CONFIDENCE, rel=1e-6)
    assert shares[0] < 1e-10 < shares[3] < shares[-1] and shares == sorted(shares)  # early looks strict
    assert 1 - obf.confidence_at(8, 7) > 0.4 * (1 - CONFIDENCE)  # the last look keeps much of it
    linear = sequential.Plan(8, spending="linear")
    assert [1 - linear.confidence_at(n, n - 1) for n in range(1, 9)] == pytest.approx([(1 - CONFIDENCE) / 8] * 8)
    assert 1 - linear.confidence_at(3, 1) == pytest.approx(2 * (1 - CONFIDENCE) / 8)  # a skipped look's share
    assert sequential.Plan(1).confidence_at(1, 0) == pytest.approx(CONFIDENCE)


def test_plans_spend_rounds_only_where_noise_lets_them_help():
    costs = {"quiet": 1.0, "noisy": 1.0}
    sigmas = {"quiet": 0.02, "noisy": 0.4}
    assert sequential.plan_rounds(100, 0, 2, costs, sigmas, cap=30) == (17, ["quiet"])  # 16 more rounds of 6 s
    assert sequential.plan_rounds(math.inf, 0, 2, costs, sigmas, cap=30) == (30, ["quiet"])
    assert sequential.plan_rounds(5, 0, 2, costs, sigmas, cap=30) == (1, [])
    assert sequential.planning_mde_pct(0.12, 3) > sequential.WORTH_MDE_PCT > sequential.planning_mde_pct(0.12, 6)


def test_planning_noise_is_the_corpus_median():
    from tools.detect import calibrate
    from tools.evaluate.corpus import DEFAULT_CORPUS, load_corpus

    corpus = load_corpus(DEFAULT_CORPUS)
    for channel in ("wall", "relative"):
        sigmas = [
            calibrate.sigma_from_differences(np.diff(np.log(s.process_values())))[0]
            for s in corpus.series.values()
            if s.channel == channel
        ]
        assert sequential.PLANNING_SIGMA[channel] == pytest.approx(float(np.median(sigmas)), abs=0.006)


def test_conditional_power_stops_what_cannot_be_decided():
    cp = sequential.conditional_power
    floor, crit = math.log(1.02), 3.0
    assert cp(0.01, 2, 8, 0.3, floor, crit) < 0.05  # wall-like noise, a small estimate: hopeless
    assert cp(0.6, 2, 8, 0.3, floor, crit) > 0.5  # a big change carries on
    assert cp(0.0, 4, 30, 0.005, floor, crit) > 0.9  # quiet and flat: unchanged is within reach
    assert cp(0.5, 8, 8, 0.3, floor, crit) == 0.0


def _calibrated():
    """Kept rounds as a calibration would give them: the fake's noise per timing series."""
    sd = {"time_fast": 0.05, "time_same": 0.001, "time_wobbly": 0.08, "time_flaky": 0.05}
    return {(MACHINE, ENV, f"s_benchmarks.S.{k}", ""): Noise(v, 40, "kept rounds: test") for k, v in sd.items()}


def _sequential(repo, budget, seed=0, noise=None):
    path, (base, head) = repo
    fake = FakeAsv(head, seed)
    run = rounds.RoundsRun(repo=path, machine=MACHINE, runner=fake, log=lambda m: None)
    noise = _calibrated() if noise is None else noise
    return rounds.sequential_rounds(base, head, budget=budget, run=run, noise=noise), fake, (base, head)


def test_deterministic_channels_once_a_side_then_only_what_is_open(repo):
    out, fake, (base, head) = _sequential(repo, rounds.Budget(max_rounds=8))
    v = {f.benchmark.rpartition(".")[2]: f for f in out.verdicts}
    assert [r for _, r in fake.runs[:2]] == [None, None]  # round 0: everything, once a side
    later = [r for _, r in fake.runs[2:]]
    assert later and all("instructions" not in r for r in later)
    assert all("track_hits" not in r for r in later[2:])  # identical in rounds 0 and 1: deterministic
    assert v["track_count_instructions"].verdict == "regressed" and v["track_count_instructions"].n_base == 1
    assert v["track_hits"].verdict == "unchanged" and v["track_hits"].basis == "exact"
    assert v["time_fast"].verdict == "regressed" and "look after" in v["time_fast"].rule and v["time_fast"].n_base > 1
    assert v["time_same"].verdict == "unchanged"
    assert v["time_wobbly"].n_base < 8 and "[stopped after" in v["time_wobbly"].rule  # 8% noise, +3%: futile
    assert v["time_flaky"].evidence.failed_rounds == "head round 1"  # reported, not dropped
    assert "failed in head round 1" in v["time_flaky"].evidence.anomaly
    assert v["time_flaky"].n_head == v["time_flaky"].n_base - 1
    settled_at = {k: f.n_base for k, f in v.items()}
    for k, n in settled_at.items():  # a settled series is not measured again
        assert sum(1 for c, r in fake.runs if c == base and (r is None or k in r)) == n
    assert out.planned == 8 and out.worth == 5 and out.rounds_run <= 8  # 4 timing series and the metric


def test_a_budget_too_small_for_a_second_round_stops_after_the_first(repo):
    out, fake, _ = _sequential(repo, rounds.Budget(seconds=1e-3))
    assert len(fake.runs) == 2 and out.rounds_run == 1 and out.planned == 1
    assert out.stopped_by == "planned rounds"
    inst = next(f for f in out.verdicts if f.benchmark.endswith("instructions"))
    assert inst.verdict == "regressed"


def test_aa_runs_two_processes_per_round(repo):
    path, (base, _) = repo
    fake = FakeAsv("none")
    run = rounds.RoundsRun(repo=path, machine=MACHINE, runner=fake, log=lambda m: None)
    out = rounds.sequential_rounds(base, base, budget=rounds.Budget(max_rounds=4), run=run)
    assert [c for c, _ in fake.runs[:2]] == [base, base] and [r for _, r in fake.runs[:2]] == [None, None]
    assert not any(f.changed for f in out.verdicts)


def test_budget_option_errors_are_one_line(repo, capsys):
    from tools.__main__ import main

    path, (base, head) = repo
    with pytest.raises(SystemExit) as exc:
        main(["compare-rounds", "--base", base, "--head", head, "--budget", "ten minutes"])
    assert exc.value.code == 2 and "is not a duration" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["regressions", "--budget", "0s"])
    assert "longer than 0 s" in capsys.readouterr().err


def test_the_session_about_to_be_measured_never_calibrates_itself(repo):
    """``calibrated_sequential_rounds``: kept sessions calibrate the noise of one run, except the one
    of this very base and head, which the run replaces (its rounds would calibrate themselves)."""
    import shutil

    from tools.rounds_layout import ROUNDS_DIR

    path, (base, head) = repo
    root = path / ROUNDS_DIR

    def check():
        run = rounds.RoundsRun(repo=path, machine=MACHINE, runner=FakeAsv(head), log=lambda m: None)
        budget = rounds.Budget(max_rounds=4)
        return rounds.calibrated_sequential_rounds(
            base, head, stored=None, rounds_root=root, machine=MACHINE, budget=budget, run=run
        )

    kept, _, _ = _sequential(repo, rounds.Budget(max_rounds=4))  # a session of this pair, several rounds
    assert kept.rounds_run >= 2
    spare = shutil.copytree(kept.pair_dir, path / "spare-session")
    _, source = check()  # the kept session is this pair's own: it calibrates nothing (and is replaced)
    assert "(0 from kept interleaved rounds" in source
    spare.rename(root / "0123abcd-4567ef89")  # the same rounds, kept as another pair's
    _, source = check()
    assert re.search(r"\(([1-9]\d*) from kept interleaved rounds", source), source


@pytest.mark.parametrize("command", ["compare-rounds", "regressions"])
def test_both_commands_measure_within_a_budget(repo, monkeypatch, capsys, command):
    """``compare-rounds --budget`` and ``regressions --budget`` end to end against the fake asv: the
    exact regression is found, the report says how the check measured, and the rounds are kept."""
    from tools.__main__ import main

    path, (base, head) = repo
    fake = FakeAsv(head)
    monkeypatch.setattr(rounds.RoundsRun, "asv", lambda self, *args: fake([".", "-m", "asv", *args], self.repo, None))
    monkeypatch.chdir(path)
    argv = [command, "--base", base, "--head", head, "--budget", "1m", "--machine", MACHINE]
    if command == "regressions":
        argv += ["--profile-cap", "0", "--output", str(path / "report"), "--fail-on-regression"]
    assert main(argv) == 1  # the +2% instruction count decides with one run a side
    out = capsys.readouterr().out
    assert "regressed" in out and (path / ".asv" / "rounds" / f"{base[:8]}-{head[:8]}").is_dir()
    if command == "regressions":
        data = json.loads((path / "report.json").read_text())
        assert "sequential within a 1-minute budget" in data["mode"]
        assert any(n.startswith("one run's between-process noise calibrated") for n in data["notes"])
        assert {r["benchmark"] for r in data["results"] if r["verdict"] == "regressed"} >= {
            "s_benchmarks.S.track_count_instructions"
        }
