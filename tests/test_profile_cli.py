"""``python -m tools profile`` and ``profile_flagged`` on a toy git repository: bad input is one
line and exit 2 with nothing written; a real profile at two revisions ranks the function that
was slowed down first (time and bytecodes; machine instructions when valgrind is installed)."""

from __future__ import annotations

import json

import pytest
from _tools_testkit import make_toy_project

from tools.__main__ import main
from tools.profiling import Options, profile_flagged
from tools.profiling.machine import valgrind

HELPERS = """
def helper(n):
    total = 0
    for i in range(n):
        total += i
    return total


def fill(n):
    return [str(i) * 3 for i in range(n)]
"""

BASE = (
    HELPERS
    + """

def work(n):
    total = 0
    for i in range(n):
        total += i * i
    return total + helper(n)
"""
)

# the same results, with two more loop turns per item inside work() itself
SLOW = (
    HELPERS
    + """

def work(n):
    total = 0
    for i in range(n):
        total += i * i
        for _ in range(2):
            total += 0
    return total + helper(n)
"""
)

BENCHMARKS = """
import toypkg


class Work:
    params = [[300, 3000]]
    param_names = ["n"]

    def time_work(self, n):
        toypkg.work(n)

    def track_work_instructions(self, n):  # a derived channel: its work is time_work's
        return 1.0


def time_plain():
    toypkg.helper(100)


def peakmem_fill():
    return toypkg.fill(20000)
"""


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    repo, (base, head) = make_toy_project(tmp_path_factory.mktemp("profile"), [BASE, SLOW], benchmarks=BENCHMARKS)
    return repo, base, head


def cli(capsys, toy, out, *args):
    repo = toy[0]
    code = main(["profile", *args, "--out", str(out), "--config", str(repo / "asv.conf.json")])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    "args, expected",
    [
        (["toy_benchmarks.Work.time_wrok", "--params", "n=300"], "unknown benchmark 'toy_benchmarks.Work.time_wrok'; valid: "),
        (["toy_benchmarks.Work.time_work", "--params", "n=5"], "params 'n=5' do not match toy_benchmarks.Work.time_work; valid: n=300 | n=3000"),
        (["toy_benchmarks.Work.time_work"], "needs --params: one of the combinations of toy_benchmarks.Work.time_work; valid: n=300 | n=3000"),
        (["toy_benchmarks.time_plain", "--params", "n=1"], "toy_benchmarks.time_plain takes no parameters"),
    ],
)  # fmt: skip
def test_bad_benchmark_or_params_is_one_line_exit_2_and_nothing_written(capsys, toy, tmp_path, args, expected):
    out = tmp_path / "out"
    code, stdout, err = cli(capsys, toy, out, *args, "--head", "HEAD")
    assert code == 2 and stdout == ""
    assert err.startswith(f"error: {expected}") and err.count("\n") == 1
    if "unknown benchmark" in expected:
        names = ["Work.time_work", "Work.track_work_instructions", "peakmem_fill", "time_plain"]
        assert "valid: " + ", ".join(f"toy_benchmarks.{n}" for n in names) + "\n" in err
    assert not out.exists()


@pytest.mark.parametrize("flag", ["--head", "--base"])
def test_unknown_revision_is_one_line_exit_2_naming_the_choices(capsys, toy, tmp_path, flag):
    out = tmp_path / "out"
    args = ["toy_benchmarks.time_plain", "--head", "HEAD", flag, "no-such-rev"]
    code, stdout, err = cli(capsys, toy, out, *args)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("error: unknown revision 'no-such-rev'") and "branch/tag (main)" in err
    assert not out.exists()


def test_profile_flagged_never_raises_and_says_why(toy, tmp_path):
    repo = toy[0]
    rows = [{"benchmark": "toy_benchmarks.time_plain", "params": ""}]
    outcomes = profile_flagged(rows, "no-such-rev", "HEAD", tmp_path / "out", config=repo / "asv.conf.json")
    outcome = outcomes[("toy_benchmarks.time_plain", "")]
    assert not outcome.ok and "unknown revision 'no-such-rev'" in outcome.reason and outcome.diff_md is None
    assert profile_flagged(None, "HEAD", "HEAD", tmp_path / "out")[("?", "")].reason.startswith("unreadable rows")
    assert not (tmp_path / "out").exists()


def _rank(rows, function):
    return next(i for i, r in enumerate(rows, 1) if r["function"] == function)


@pytest.mark.slow
def test_differential_profile_ranks_the_slowed_function_first(capsys, toy, tmp_path):
    repo, base, head = toy
    out = tmp_path / "out"
    # a budget well above the ~8 s this takes, so a busy machine cannot make it skip cachegrind
    args = ["toy_benchmarks.Work.time_work", "--params", "300", "--base", base, "--head", head, "--seconds", "0.5"]
    args += ["--budget", "300"]
    code, stdout, err = cli(capsys, toy, out, *args)
    assert code == 0, err
    folder = out / "toy_benchmarks.Work.time_work--n=300"
    assert f"wrote {folder}" in stdout and "top bytecodes: work (toypkg/__init__.py:13)" in stdout
    doc = json.loads((folder / "diff.json").read_text())
    assert doc["mode"] == "diff" and doc["sides"]["base"]["commit"] == base and doc["sides"]["head"]["commit"] == head
    for metric in ("time", "bytecodes"):
        rows = doc["functions"][metric]["self"]
        assert _rank(rows, "work") == 1, (metric, rows[:3])
        assert rows[0]["file"] == "toypkg/__init__.py" and rows[0]["delta_pct"] > 50
        assert doc["top"][metric]["function"] == "work"
    helper = next(r for r in doc["functions"]["bytecodes"]["self"] if r["function"] == "helper")
    assert helper["delta"] == 0  # exact: the untouched function counts the same at both revisions
    assert doc["totals"]["bytecodes"]["delta_pct"] > 50
    if valgrind():
        assert doc["totals"]["machine_instructions"]["delta_pct"] > 20
    else:
        assert "valgrind is not installed" in doc["sides"]["head"]["machine_skipped"]
    assert {"flame-time-diff.svg", "flame-bytecodes-diff.svg", "base.pstats", "head.pstats", "diff.md"} <= {
        p.name for p in folder.iterdir()
    }
    assert doc["seconds"] < 300


@pytest.mark.slow
def test_one_revision_alone_gives_a_flame_graph_and_the_top_functions(capsys, toy, tmp_path):
    out = tmp_path / "out"
    code, stdout, err = cli(
        capsys, toy, out, "toy_benchmarks.time_plain", "--head", toy[1], "--no-cachegrind", "--seconds", "0.3"
    )
    assert code == 0, err
    folder = out / "toy_benchmarks.time_plain"
    doc = json.loads((folder / "diff.json").read_text())
    assert doc["mode"] == "single" and list(doc["sides"]) == ["head"]
    assert doc["top"]["bytecodes"]["function"] == "helper" and doc["top"]["bytecodes"]["base"] is None
    assert sorted(p.name for p in folder.glob("*.svg")) == ["flame-bytecodes-head.svg", "flame-time-head.svg"]
    assert "# Profile: `toy_benchmarks.time_plain`" in (folder / "diff.md").read_text()


@pytest.mark.slow
def test_profile_flagged_profiles_each_workload_once_and_respects_the_cap(toy, tmp_path):
    repo, base, head = toy
    rows = [
        {"benchmark": "toy_benchmarks.Work.time_work", "params": "n=300"},
        {"benchmark": "toy_benchmarks.Work.track_work_instructions", "params": "n=300"},  # same workload
        {"benchmark": "toy_benchmarks.time_plain", "params": ""},  # over the cap
        {"benchmark": "toy_benchmarks.Gone.time_x", "params": ""},
    ]
    options = Options(time_s=0.3, machine=False)
    outcomes = profile_flagged(
        rows, base, head, tmp_path / "out", cap=1, config=repo / "asv.conf.json", options=options
    )
    first = outcomes[("toy_benchmarks.Work.time_work", "n=300")]
    assert first.ok and first.diff_md.is_file() and first.diff_json.is_file() and first.seconds < 60
    assert outcomes[("toy_benchmarks.Work.track_work_instructions", "n=300")] is first
    top = {t.metric: t for t in first.top}
    assert top["bytecodes"].function == "work" and top["bytecodes"].file == "toypkg/__init__.py"
    assert top["bytecodes"].delta_pct > 50 and top["bytecodes"].line == 13
    assert "only the first 1" in outcomes[("toy_benchmarks.time_plain", "")].reason
    assert "unknown benchmark" in outcomes[("toy_benchmarks.Gone.time_x", "")].reason


@pytest.mark.slow
def test_a_memory_benchmark_gets_its_allocation_sites(capsys, toy, tmp_path):
    out = tmp_path / "out"
    code, stdout, err = cli(
        capsys, toy, out, "toy_benchmarks.peakmem_fill", "--head", toy[1], "--no-cachegrind", "--seconds", "0.3"
    )
    assert code == 0, err
    folder = out / "toy_benchmarks.peakmem_fill"
    doc = json.loads((folder / "diff.json").read_text())
    memory = doc["functions"]["memory"]
    assert memory["unit"] == "bytes" and doc["totals"]["memory_peak"]["head"] > 1_000_000
    site = memory["sites"][0]
    assert (site["file"], site["function"], site["line"]) == ("toypkg/__init__.py", "fill.<locals>.<listcomp>", 10)
    assert site["head"] > 1_000_000 and doc["top"]["memory"]["function"] == "fill.<locals>.<listcomp>"
    assert "## Memory left allocated by one call (tracemalloc) — sites" in (folder / "diff.md").read_text()
    assert (folder / "flame-memory-head.svg").is_file()
