"""History from interleaved sessions on synthetic days with known answers (tools/detect/sessions.py)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from tools.detect import finding, robust
from tools.detect import sessions as ses
from tools.detect.verdict import judge
from tools.errors import ToolError


def days(
    seed: int,
    n: int = 35,
    step_at: int | None = None,
    pct: float = 0.0,
    rounds: int = 6,
    within: float = 0.06,
    day_sd: float = 0.0,
    lag: int = 5,
    own: int = 2,
):
    """(sessions, every round per commit) of ``n`` daily commits: day d interleaves commit
    max(0, d - lag) with d, ``rounds`` each, and runs d alone ``own`` times; a day effect (sd
    ``day_sd``) multiplies everything measured that day."""
    rng = np.random.default_rng(seed)
    level = [math.log1p(pct / 100) if step_at is not None and c >= step_at else 0.0 for c in range(n)]
    per = [[] for _ in range(n)]
    sessions = []
    for d in range(n):
        e = rng.normal(0, day_sd)
        per[d] += list(1e-3 * np.exp(level[d] + e + rng.normal(0, within, own)))
        if d == 0:
            continue
        a = max(0, d - lag)
        base = 1e-3 * np.exp(level[a] + e + rng.normal(0, within, rounds))
        head = 1e-3 * np.exp(level[d] + e + rng.normal(0, within, rounds))
        sessions.append(ses.Session(a, d, base, head))
        per[a] += list(base)
        per[d] += list(head)
    return sessions, [np.array(r) for r in per]


def judged(cands: list[dict]) -> list[dict]:
    return [c for c in cands if judge(c, c.p_value).changed]


def test_van_elteren_known_answers():
    rng = np.random.default_rng(1)
    base, head = np.exp(rng.normal(0, 0.05, 12)), np.exp(rng.normal(0.1, 0.05, 12))
    one = ses.stratum(base, head)
    # One session: the HL shift and (at the same confidence) the Moses interval.
    shift, lo, hi, z = ses.stratified_shift([one], float(stats.norm.isf(0.025)))
    assert shift == pytest.approx(robust.hodges_lehmann(np.log(base), np.log(head)), abs=1e-3)
    mlo, mhi = robust.shift_interval(np.log(base), np.log(head), 0.95)
    assert lo == pytest.approx(mlo, abs=0.01) and hi == pytest.approx(mhi, abs=0.01)
    # Complete separation of 6 vs 6: U = 36, z = 18 / sqrt(36 * 13 / 12).
    sep = ses.stratum(np.ones(6), np.full(6, 2.0))
    assert ses.stratified_shift([sep], 3.0)[3] == pytest.approx(18 / math.sqrt(39))
    # Two such sessions: z adds up as Stouffer's (equal sizes); the shift is their common one.
    assert ses.stratified_shift([sep, sep], 3.0)[3] == pytest.approx(math.sqrt(2) * 18 / math.sqrt(39))
    # A wild session (one side 1000x) counts like any complete separation, no more.
    wild = ses.stratum(np.ones(6), np.full(6, 1000.0))
    assert ses.stratified_shift([wild], 3.0)[3] == pytest.approx(18 / math.sqrt(39))
    # Too narrow to bracket: the interval is unbounded rather than invented.
    assert ses.stratified_shift([sep], 10.0)[1:3] == (-math.inf, math.inf)
    # Non-positive or missing rounds are dropped; a side with none makes no stratum.
    assert ses.stratum([1.0, -1.0, math.nan], [2.0]).diffs.tolist() == [pytest.approx(math.log(2))]
    assert ses.stratum([], [2.0]) is None


def test_null_z_is_standard_normal_whatever_the_noise():
    rng = np.random.default_rng(2)

    # Slow and fast phases (a 1.5x mode in a third of the processes): ranks do not care.
    def bimodal(k):
        return np.exp(rng.normal(0, 0.05, k) + np.log(1.5) * (rng.random(k) < 0.33))

    zs = [ses.stratified_shift([ses.stratum(bimodal(6), bimodal(6)) for _ in range(5)], 3.0)[3] for _ in range(3000)]
    assert np.mean(zs) == pytest.approx(0.0, abs=0.06) and np.std(zs) == pytest.approx(1.0, abs=0.05)
    assert np.mean(np.abs(zs) > 2.576) == pytest.approx(0.01, abs=0.006)


def test_straddling_sessions():
    s = [ses.Session(0, 2, np.ones(1), np.ones(1)), ses.Session(2, 3, np.ones(1), np.ones(1))]
    m = ses.straddles(s, 4)  # splits 1, 2, 3
    assert m.tolist() == [[True, False], [True, False], [False, True]]


def test_session_looks_known_answers():
    # Lag 1: every split has its own session, independent tests -> looks = splits (Bonferroni).
    lag1 = tuple((d - 1, d) for d in range(1, 31))
    assert ses.session_looks(lag1, 31, 0.005) == pytest.approx(30, rel=0.1)
    # Lag 5: neighbouring splits share 4 of 5 sessions -> fewer effective looks.
    lag5 = tuple((max(0, d - 5), d) for d in range(1, 31))
    assert 1 < ses.session_looks(lag5, 31, 0.005) < 0.95 * 30
    assert ses.session_looks(((0, 1),), 2, 0.005) == 1.0


def test_a_step_is_found_at_its_commit_by_the_sessions_that_straddle_it():
    sessions, _ = days(2, step_at=30, pct=10, rounds=10, within=0.03)
    found = judged(ses.detect_sessions(35, sessions))
    assert len(found) == 1 and found[0].evidence.position == 30 and found[0].evidence.before_position == 29
    c = found[0]
    assert c.n_base == 5 and c.evidence.rounds_base == 50 and c.evidence.rounds_head == 50
    assert c.ci_low_pct < 10 < c.ci_high_pct and 5 < c.change_pct < 15
    judged_c = judge(c, c.p_value)
    assert judged_c.verdict == "regressed" and "5 interleaved sessions straddling the step" in judged_c.rule
    assert "effective looks" in judged_c.rule


def test_day_effects_neither_raise_alarms_nor_hide_steps():
    # 20% day-to-day machine differences: every session shares its day's, so within-session
    # comparisons see neither false steps nor a blurred real one.
    alarms = sum(len(judged(ses.detect_sessions(35, days(100 + seed, day_sd=0.2)[0]))) for seed in range(20))
    assert alarms == 0
    sessions, _ = days(5, step_at=30, pct=10, rounds=10, within=0.03, day_sd=0.2)
    assert [c.evidence.position for c in judged(ses.detect_sessions(35, sessions))] == [30]


def test_flat_histories_raise_no_alarm():
    alarms = sum(len(judged(ses.detect_sessions(35, days(200 + seed)[0]))) for seed in range(40))
    assert alarms <= 1


def rounds_frame(sessions: list[ses.Session], commits: list[str], bench: str = "m_benchmarks.C.time_x") -> pd.DataFrame:
    rows = []
    for k, s in enumerate(sessions):
        for pos, values in ((s.before, s.base), (s.after, s.head)):
            for r, v in enumerate(values):
                rows.append(
                    {
                        "machine": "m",
                        "environment": "e",
                        "benchmark": bench,
                        "params": "",
                        "commit": commits[pos],
                        "round": r,
                        "value": v,
                        "type": "time",
                        "unit": "seconds",
                        "failed": False,
                        "session": f"s{k:03d}",
                    }
                )
    return pd.DataFrame(rows)


def test_sessions_suite_reports_rows_of_the_history_table():
    sessions, per = days(3, step_at=30, pct=10, rounds=10, within=0.03)
    commits = [f"{i:04d}" + "c" * 36 for i in range(35)]
    history = pd.DataFrame(
        [
            {
                "machine": "m",
                "environment": "e",
                "benchmark": "m_benchmarks.C.time_x",
                "params": "",
                "commit": commits[i],
                "commit_date": pd.Timestamp(1_700_000_000 + 86_400 * i, unit="s", tz="UTC"),
                "round": 0,
                "value": float(np.median(per[i])),
                "type": "time",
                "unit": "seconds",
                "failed": False,
            }
            for i in range(35)
        ]
    )
    rounds = rounds_frame(sessions, commits)
    # A session of a commit outside this history (a PR) is not placed, and changes nothing.
    stray = rounds[rounds["session"] == "s000"].assign(
        session="stray", commit=lambda f: f["commit"].where(f["commit"] != commits[0], "f" * 40)
    )
    found = ses.sessions_suite(history, pd.concat([rounds, stray], ignore_index=True))
    out = finding.frame(found, finding.HISTORY_COLUMNS)
    assert list(out["verdict"]) == ["regressed"] and out["commit_after"].iloc[0] == commits[30]
    assert out["method"].iloc[0].startswith("interleaved sessions") and "sessions straddling" in out["rule"].iloc[0]
    with pytest.raises(ToolError, match="session"):
        ses.sessions_suite(history, rounds.drop(columns="session"))
