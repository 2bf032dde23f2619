"""Interleaved rounds orchestration (tools/detect/rounds.py) with asv replaced by a fake that
writes real asv result files, so ordering, re-runs and loading are tested without minutes of asv."""

from __future__ import annotations

import json
import math
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from tools.__main__ import main as tools_main
from tools.detect import rounds
from tools.detect.finding import Finding
from tools.errors import ToolError

MACHINE = "fakebox"
ENV = "virtualenv-py3.11"
BENCHES = {
    "t_benchmarks.T.time_fast": {"params": [], "param_names": []},
    "t_benchmarks.T.time_same": {"params": [], "param_names": []},
    "t_benchmarks.T.time_wobbly": {"params": [["1", "2"]], "param_names": ["n"]},
}
COLUMNS = ["result", "params", "version", "started_at", "duration", "samples"]


def asv_call(cmd: list[str], cwd: Path):
    """What a fake ``asv`` sees of the runner's call: None for ``asv machine``, else (its arguments,
    the asv.conf.json it names, the --bench regex or None, the commit of ``<commit>^!``)."""
    args = cmd[3:]
    if args[0] == "machine":
        return None
    conf = json.loads((cwd / args[args.index("--config") + 1]).read_text())
    regex = args[args.index("--bench") + 1] if "--bench" in args else None
    return args, conf, regex, args[-1].removesuffix("^!")


class FakeAsv:
    """Answers `asv machine` and `asv run ... <commit>^!` like asv would, into the config's results_dir."""

    def __init__(self, repo: Path, head: str):
        self.repo, self.head = repo, head
        self.runs: list[tuple[str, str | None]] = []
        self.rng = np.random.default_rng(0)

    def value(self, name: str, idx: int, commit: str) -> float:
        slow = commit == self.head
        if name.endswith("time_fast"):
            return 1e-4 * (1.3 if slow else 1.0) * math.exp(self.rng.normal(0, 0.01))
        if name.endswith("time_same"):
            return 1e-4 * math.exp(self.rng.normal(0, 0.001))
        return 1e-4 * (1.03 if slow else 1.0) * math.exp(self.rng.normal(0, 0.05))  # wobbly: inconclusive

    def __call__(self, cmd, cwd, env):
        call = asv_call(cmd, cwd)
        if call is None:
            return subprocess.CompletedProcess(cmd, 0, "", "")
        args, conf, regex, commit = call
        assert args[args.index("-a") + 1] == "rounds=1" and "--record-samples" in args
        self.runs.append((commit, regex))
        results_dir = cwd / conf["results_dir"]
        (results_dir / MACHINE).mkdir(parents=True, exist_ok=True)
        (results_dir / "benchmarks.json").write_text(
            json.dumps(
                {
                    **{
                        n: {"name": n, "type": "time", "unit": "seconds", "version": "1", **m}
                        for n, m in BENCHES.items()
                    },
                    "version": 2,
                }
            )
        )
        (results_dir / MACHINE / "machine.json").write_text(json.dumps({"machine": MACHINE, "version": 1}))
        results = {}
        for name, meta in BENCHES.items():
            labels = [f"{name}({v})" for v in meta["params"][0]] if meta["params"] else [name]
            chosen = [regex is None or re.search(regex, lab) is not None for lab in labels]
            if not any(chosen):
                continue
            vals = [self.value(name, i, commit) if c else None for i, c in enumerate(chosen)]
            results[name] = [vals, meta["params"], "1", 1_700_000_000_000, 1.0, [[v] * 5 if v else None for v in vals]]
        data = {
            "commit_hash": commit,
            "env_name": ENV,
            "date": 1_700_000_000_000,
            "params": {"machine": MACHINE},
            "python": "3.11",
            "requirements": {},
            "env_vars": {},
            "result_columns": COLUMNS,
            "results": results,
            "durations": {},
            "version": 2,
        }
        (results_dir / MACHINE / f"{commit[:8]}-{ENV}.json").write_text(json.dumps(data))
        return subprocess.CompletedProcess(cmd, 0, "", "")


def test_abba_rounds_then_only_inconclusive_rerun(repo):
    path, (base, head) = repo
    fake = FakeAsv(path, head)
    run = rounds.RoundsRun(repo=path, machine=MACHINE, runner=fake, log=lambda m: None)
    # 6 rounds: with 4 the smallest exact Mann–Whitney p (2/70) cannot pass BH across 4 tests.
    out = rounds.compare_rounds(base, head, rounds=6, extra_rounds=2, run=run)

    first = [c for c, _ in fake.runs[:12]]
    assert first == [base, head, head, base] * 3  # ABBA
    assert all(r is None for _, r in fake.runs[:12])
    extra = fake.runs[12:]
    assert len(extra) == 4 and out.extra_rounds_run == 2
    regex = extra[0][1]
    assert regex is not None and "time_wobbly" in regex and "time_fast" not in regex
    assert re.search(regex, "t_benchmarks.T.time_wobbly(1)") or re.search(regex, "t_benchmarks.T.time_wobbly(2)")
    assert not re.search(regex, "t_benchmarks.T.time_wobbly(10)")

    v = {(f.benchmark, f.params): f for f in out.verdicts}
    assert v[("t_benchmarks.T.time_fast", "")].verdict == "regressed"
    assert v[("t_benchmarks.T.time_same", "")].verdict == "unchanged"
    assert v[("t_benchmarks.T.time_fast", "")].n_base == 6  # not re-run: decided
    wobbly = v[("t_benchmarks.T.time_wobbly", "n=1")]
    assert wobbly.n_base == 8 and wobbly.n_head == 8
    assert sorted(out.table["round"].unique()) == list(range(8))
    assert (out.pair_dir / "round-0" / "benchmarks.json").is_file()
    assert (out.pair_dir / "round-7" / MACHINE / "machine.json").is_file()
    assert not (path / ".asv" / "results").exists()  # the project's own history is untouched
    assert not (out.pair_dir / "scratch-results").exists()


def test_aa_uses_one_run_per_round(repo):
    path, (base, _) = repo
    fake = FakeAsv(path, head="none")
    run = rounds.RoundsRun(repo=path, machine=MACHINE, runner=fake, log=lambda m: None)
    out = rounds.compare_rounds(base, base, rounds=4, extra_rounds=0, run=run)
    assert [c for c, _ in fake.runs] == [base] * 4
    assert not any(f.changed for f in out.verdicts)


def test_bench_regex_escapes_names_and_params():
    rows = [Finding(benchmark="a.B.time_x", param_values=("10", "'cost'")), Finding(benchmark="a.B.time_y")]
    rx = rounds.bench_regex(rows)
    assert rounds.bench_regex(["a.B.time_y"]) == "^(?:a\\.B\\.time_y)$"
    assert re.search(rx, "a.B.time_x(10, 'cost')") and re.search(rx, "a.B.time_y")
    assert not re.search(rx, "a.B.time_x(100, 'cost')") and not re.search(rx, "aXB.time_y")


def test_confirmer_maps_verdicts_to_history_rows(repo, monkeypatch):
    path, (base, head) = repo
    fake = FakeAsv(path, head)
    run = rounds.RoundsRun(repo=path, machine=MACHINE, runner=fake, log=lambda m: None)
    confirm = rounds.make_confirmer(rounds=6, run=run)
    changes = [
        Finding(benchmark="t_benchmarks.T.time_fast", verdict="regressed", mode="history"),
        Finding(benchmark="t_benchmarks.T.time_same", verdict="regressed", mode="history"),
    ]
    assert confirm(base, head, changes) == [True, False]
    assert all(r is not None and "time_wobbly" not in r for _, r in fake.runs)


def test_errors_are_one_line(repo, tmp_path, capsys, monkeypatch):
    path, (base, head) = repo
    monkeypatch.chdir(path)
    assert tools_main(["compare-rounds", "--base", "nope", "--head", head]) == 2
    assert "error: unknown revision 'nope'" in capsys.readouterr().err
    assert tools_main(["compare-rounds", "--base", base, "--head", head, "--rounds", "0"]) == 2
    with pytest.raises(ToolError, match="asv config not found"):
        rounds.compare_rounds(
            base,
            head,
            rounds=1,
            run=rounds.RoundsRun(
                repo=path, config="missing.json", machine=MACHINE, runner=FakeAsv(path, head), log=lambda m: None
            ),
        )

    def failing(cmd, cwd, env):
        if cmd[3] == "machine":
            return subprocess.CompletedProcess(cmd, 0, "", "")
        return subprocess.CompletedProcess(cmd, 1, "", "Traceback...\nasv.util.UserError: boom")

    with pytest.raises(ToolError, match=r"asv run of [0-9a-f]{8} failed \(exit 1\).*boom"):
        rounds.compare_rounds(
            base, head, rounds=1, run=rounds.RoundsRun(repo=path, machine=MACHINE, runner=failing, log=lambda m: None)
        )


@pytest.mark.slow
def test_real_asv_rounds_are_separate_processes_and_load_as_rounds(tmp_path):
    """Real asv on a toy project: 2 interleaved rounds per side, rounds kept apart, samples recorded."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from _tools_testkit import PACKAGE_SLOW, PACKAGE_V1, asv_env, make_toy_project

    repo, (base, head) = make_toy_project(tmp_path, [PACKAGE_V1, PACKAGE_SLOW])
    home = tmp_path / "home"
    home.mkdir()
    run = rounds.RoundsRun(
        repo=repo, machine="toymachine", env=asv_env(home), asv_args=["-a", "repeat=3"], log=lambda m: None
    )
    out = rounds.compare_rounds(base, head, rounds=2, extra_rounds=0, bench=r"time_plain$", run=run)
    t = out.table
    assert sorted(t["round"].unique()) == [0, 1]
    assert set(t["commit"]) == {base, head} and set(t["benchmark"]) == {"toy_benchmarks.time_plain"}
    assert all(len(s) == 3 for s in t["samples"])  # one round's samples per file, not several mixed
    row = out.verdicts[0]
    assert row.n_base == row.n_head == 2 and row.verdict == "inconclusive" and "too few" in row.rule
    assert not (repo / ".asv" / "results").exists()


def test_compact_rounds_keeps_values_and_drops_samples(tmp_path, capsys):
    from _tools_testkit import write_results

    from tools.__main__ import main
    from tools.commands.compact_rounds import compact_rounds
    from tools.loader import load_results

    benches = {
        "r_benchmarks.R.time_x": {"type": "time", "unit": "seconds", "version": "1", "params": [], "param_names": []}
    }
    root = tmp_path / "rounds"
    for k in range(2):
        write_results(
            root / "aaaaaaaa-bbbbbbbb" / f"round-{k}",
            benches,
            [
                {
                    "commit": c * 40,
                    "date": 1_767_225_600_000,
                    "values": {"r_benchmarks.R.time_x": [1e-4 + k * 1e-6]},
                    "samples": {"r_benchmarks.R.time_x": [[1e-4] * 50]},
                }
                for c in "ab"
            ],
            machine="ci",
        )
    dirs = sorted(root.glob("*/round-*"))
    before = load_results(dirs)
    n, saved = compact_rounds(root)
    assert n == 4 and saved > 0
    after = load_results(dirs)
    assert list(after["value"]) == list(before["value"]) and list(after["round"]) == list(before["round"])
    assert compact_rounds(root) == (0, 0)  # idempotent
    assert main(["compact-rounds", str(root)]) == 0 and "0 result file(s) rewritten" in capsys.readouterr().out


def test_compact_rounds_refuses_a_corrupt_file_and_changes_nothing(tmp_path, capsys):
    from _tools_testkit import write_results

    from tools.__main__ import main

    benches = {
        "r_benchmarks.R.time_x": {"type": "time", "unit": "seconds", "version": "1", "params": [], "param_names": []}
    }
    root = tmp_path / "rounds"
    write_results(
        root / "p" / "round-0",
        benches,
        [
            {
                "commit": "a" * 40,
                "date": 1,
                "values": {"r_benchmarks.R.time_x": [1.0]},
                "samples": {"r_benchmarks.R.time_x": [[1.0, 1.0]]},
            }
        ],
        machine="ci",
    )
    good = next((root / "p" / "round-0" / "ci").glob("aaaaaaaa-*.json"))
    text = good.read_text()
    (root / "p" / "round-1" / "ci").mkdir(parents=True)
    (root / "p" / "round-1" / "ci" / "bad.json").write_text("{not json")
    assert main(["compact-rounds", str(root)]) != 0
    err = capsys.readouterr().err
    assert "bad.json" in err and "not an asv result file" in err
    assert good.read_text() == text  # nothing rewritten
    assert main(["compact-rounds", str(tmp_path / "missing")]) != 0
    assert "no such directory" in capsys.readouterr().err


def test_progress_lines_count_the_benchmarks_a_round_selects_instead_of_printing_the_regex():
    from tools.detect.rounds import _describe, bench_regex

    assert _describe(bench_regex(["a.T.time_x", "b.T.time_y(1, 'p|q')", "c.T.track_z"])) == "3 benchmarks"
    assert _describe("Route") == "Route"
    assert _describe("x" * 200).endswith("...") and len(_describe("x" * 200)) == 80
