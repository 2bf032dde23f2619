"""History over real-world shapes: every environment, environment shifts, one count, git order.

A synthetic results tree of two environments and three components: in one environment the
runner changes at commit 12 (every timing series steps by 25-40%, instruction counts do not),
in the other a real +30% step lands at commit 20 in a single benchmark. The report must call
the first an environment shift (blaming no commit), blame the second, count it once everywhere
and exit 1 with --fail-on-regression.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest
from _tools_testkit import commit_all, git, write_results

from tools.__main__ import main
from tools.detect.finding import Finding
from tools.detect.shifts import find_shifts
from tools.loader import load_results
from tools.revisions import order_by, with_history_order

SCHEMA = Path(__file__).resolve().parent.parent / "docs" / "schema" / "regression_report.schema.json"
T0 = 1_767_225_600_000  # 2026-01-01
DAY = 86_400_000
N = 30
BENCHES = {
    f"{comp}_benchmarks.W.time_{name}": {"type": "time", "unit": "seconds", "version": "1", "params": [], "param_names": []}
    for comp in ("router", "memory", "rag")
    for name in ("a", "b")
} | {
    "router_benchmarks.W.track_a_instructions": {
        "type": "track", "unit": "instructions", "version": "1", "params": [], "param_names": [],
    },
}  # fmt: skip


def commit(i: int) -> str:
    return f"{i:03d}" + "f" * 37


def history_tree(root: Path, rng: np.random.Generator) -> Path:
    """Two environments of one machine; env 'py3.11' changes runner at 12, env 'py3.12' has a real step at 20."""
    results = root / "results"
    for env in ("virtualenv-py3.11", "virtualenv-py3.12"):
        runs = []
        for i in range(N):
            values = {}
            for k, name in enumerate(BENCHES):
                if name.endswith("_instructions"):
                    values[name] = [1e6]
                    continue
                level = 1e-4 * (1 + k)
                if env.endswith("3.11") and i >= 12:
                    level *= 1.25 + 0.03 * k  # a slower runner: every timing series, by its own amount
                if env.endswith("3.12") and i >= 20 and name == "rag_benchmarks.W.time_b":
                    level *= 1.30  # a real regression of one benchmark
                values[name] = list(level * np.exp(rng.normal(0, 0.01, 1)))
            runs.append({"commit": commit(i), "date": T0 + i * DAY, "values": values})
        write_results(results, BENCHES, runs, machine="ci-box", env=env)
    return results


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("shifts")
    results = history_tree(tmp, np.random.default_rng(7))
    args = ["regressions", "--results-dir", str(results), "--history", "--no-cache", "--site-url", "site"]
    code = main([*args, "--output", str(tmp / "report"), "--fail-on-regression"])
    md = (tmp / "report.md").read_text()
    return code, md, json.loads((tmp / "report.json").read_text())


def test_every_environment_is_analysed_and_named(report):
    _, md, data = report
    history = [r for r in data["results"] if r["mode"] == "history"]
    assert {r["environment"] for r in history} == {"virtualenv-py3.12"}  # the other env's steps are a shift
    assert "2 machine / environment series" in md
    assert "| machine / env |" in md.split("## History")[1]


def test_a_runner_change_is_one_environment_shift_and_blames_no_commit(report):
    _, md, data = report
    shifts = data["environment_shifts"]
    assert len(shifts) == 1
    shift = shifts[0]
    assert shift["environment"] == "virtualenv-py3.11" and shift["commit_after"] == commit(12)
    assert shift["series"] == shift["total"] == 6 and len(shift["components"]) == 3
    assert 20 < shift["median_change_pct"] < 45
    assert data["explained_by_shifts"] == 6
    assert "### Environment shifts" in md and "nothing to bisect" in md
    assert f"asv find {commit(11)[:12]}" not in md  # no bisect recommendation for a shift


def test_the_real_step_is_blamed_and_counted_once_everywhere(report):
    code, md, data = report
    history = [r for r in data["results"] if r["mode"] == "history" and r["verdict"] == "regressed"]
    assert [(r["benchmark"], r["commit_after"]) for r in history] == [("rag_benchmarks.W.time_b", commit(20))]
    assert data["counts"]["regressed"] == 1 == data["counts_by_mode"]["history"]["regressed"]
    assert "**1 regressed** (0 between base and head, 1 in the history)" in md
    assert code == 1  # --fail-on-regression: a history regression blamed on a commit fails the run
    assert history[0]["recommendations"]["asv_find"].startswith(f"asv find {commit(19)[:12]}..{commit(20)[:12]}")


def test_the_report_follows_its_json_schema(report):
    jsonschema.validate(report[2], json.loads(SCHEMA.read_text()))


def test_a_shift_that_moves_instruction_counts_is_code_not_machine():
    rows = []
    for i in range(12):
        for k, unit in enumerate(["seconds"] * 4 + ["instructions"]):
            rows.append({"machine": "m", "environment": "e", "commit": commit(i), "benchmark": f"c{k % 3}_benchmarks.W.x{k}",
                         "params": "", "component": f"c{k % 3}", "unit": unit, "commit_date": pd.Timestamp(T0 + i * DAY, unit="ms", tz="UTC"),
                         "started_at": pd.Timestamp(T0 + i * DAY, unit="ms", tz="UTC"), "value": 1.3 if i >= 6 else 1.0})  # fmt: skip
    table = pd.DataFrame(rows)
    step = [
        Finding(machine="m", environment="e", benchmark=f"c{k % 3}_benchmarks.W.x{k}", component=f"c{k % 3}",
                channel="instructions" if k == 4 else "wall", mode="history", verdict="regressed", change_pct=30.0)
        .with_evidence(commit_before=commit(5), commit_after=commit(6))
        for k in range(5)
    ]  # fmt: skip
    shifts, blamed = find_shifts(step, table)
    assert shifts == [] and len(blamed) == 5  # counts moved too: the commit changed the code
    shifts, blamed = find_shifts(step[:4], table)
    assert len(shifts) == 1 and blamed == []


def test_commits_follow_the_branch_history_not_their_dates(tmp_path, capsys):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    dates = ["2026-01-05T00:00:00+00:00", "2026-01-01T00:00:00+00:00", "2026-01-03T00:00:00+00:00"]
    hashes = [commit_all(repo, f"c{i}", d) for i, d in enumerate(dates)]  # committed in this order
    runs = [
        {"commit": h, "date": int(pd.Timestamp(d).value // 1_000_000), "values": {"router_benchmarks.W.time_a": [1e-4]}}
        for h, d in zip(hashes, dates)
    ]
    write_results(tmp_path / "r", {"router_benchmarks.W.time_a": BENCHES["router_benchmarks.W.time_a"]}, runs)
    table = load_results(tmp_path / "r")
    ordered = with_history_order(table, repo, "main")
    assert ordered.attrs["order"] == "git"
    assert list(ordered.sort_values("commit_order")["commit"]) == hashes
    from tools.revisions import newest_commit, previous_commit

    assert newest_commit(ordered) == hashes[-1]  # by date it would be hashes[0]
    assert previous_commit(ordered, hashes[-1], "m1", "virtualenv-py3.11") == hashes[1]
    by_date = with_history_order(table, tmp_path / "not-a-repo", "main")
    assert by_date.attrs["order"] == "date" and "commit date" in capsys.readouterr().err
    assert order_by(table, ["0" * 40], "main").attrs["order_note"].endswith("no commit with results is on main)")


def test_git_is_asked_for_first_parents_only(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    a = commit_all(repo, "a", "2026-01-01T00:00:00+00:00")
    git(repo, "checkout", "-q", "-b", "side")
    side = commit_all(repo, "side", "2026-01-02T00:00:00+00:00")
    git(repo, "checkout", "-q", "main")
    b = commit_all(repo, "b", "2026-01-03T00:00:00+00:00")
    subprocess.run(["git", "merge", "-q", "--no-ff", "-m", "merge", "side"], cwd=repo, check=True, capture_output=True,
                   env={"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e",
                        "PATH": "/usr/bin:/bin"})  # fmt: skip
    from tools.revisions import first_parent

    order = first_parent(repo, "main")
    assert order[:2] == [a, b] and side not in order and len(order) == 3


def test_the_reports_change_points_and_shifts_become_chart_marks(report, tmp_path):
    from tools.charts import marks_from_report
    from tools.commands.charts import read_marks
    from tools.errors import ToolError

    marks = marks_from_report(report[2])
    assert sorted((m.kind, m.environment, m.commit_after) for m in marks) == [
        ("regressed", "virtualenv-py3.12", commit(20)),
        ("shift", "virtualenv-py3.11", commit(12)),
    ]
    bad = tmp_path / "bad.json"
    bad.write_text('{"results": [], "environment_shifts": [{"machine": "m"}]}')
    with pytest.raises(ToolError, match="not a regression report with marks"):
        read_marks(bad)
    assert read_marks(None) == []
