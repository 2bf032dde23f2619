"""merge-results: shards combined per benchmark, conflicts refused (exit 2, OUT untouched) or settled."""

from __future__ import annotations

import json
from pathlib import Path

from _tools_testkit import write_results

from tools.__main__ import main
from tools.loader import load_results

COMMIT = "a" * 40
BENCH = {
    "m_benchmarks.A.time_a": {"type": "time", "unit": "seconds", "params": [], "version": "1"},
    "m_benchmarks.B.time_b": {
        "type": "time",
        "unit": "seconds",
        "params": [["1", "2"]],
        "param_names": ["n"],
        "version": "1",
    },
    "m_benchmarks.C.track_c": {"type": "track", "unit": "ops/s", "params": [], "version": "1"},
}


def _tree(root: Path, values: dict, *, machine="m1", env="virtualenv-py3.11", commit=COMMIT, date=1_700_000_000_000):
    write_results(root, BENCH, [{"commit": commit, "date": date, "values": values}], machine=machine, env=env)
    return root


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _rows(root: Path) -> set[tuple]:
    t = load_results(root, warn=lambda m: None)
    return set(zip(t["machine"].astype(str), t["environment"].astype(str), t["commit"].astype(str),
                   t["benchmark"].astype(str), t["params"], t["value"]))  # fmt: skip


def _result_file(root: Path, machine="m1", env="virtualenv-py3.11") -> Path:
    return root / machine / f"{COMMIT[:8]}-{env}.json"


def test_shards_of_one_machine_commit_and_environment_are_combined_per_benchmark(tmp_path, capsys):
    a = _tree(tmp_path / "a", {"m_benchmarks.A.time_a": [1.0], "m_benchmarks.C.track_c": [50.0]})
    b = _tree(tmp_path / "b", {"m_benchmarks.B.time_b": [2.0, 3.0]})
    out = tmp_path / "out"
    assert main(["merge-results", str(out), str(a), str(b)]) == 0
    assert "1 combined from several inputs" in capsys.readouterr().out
    assert _rows(out) == _rows(a) | _rows(b)
    data = json.loads(_result_file(out).read_text())
    assert sorted(data["results"]) == sorted(BENCH) and data["version"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "out"]  # no temporary folder left


def test_identical_copies_are_one_result(tmp_path):
    a = _tree(tmp_path / "a", {"m_benchmarks.A.time_a": [1.0]})
    b = tmp_path / "b"
    b.mkdir()
    for p in a.rglob("*"):
        if p.is_file():
            (b / p.relative_to(a)).parent.mkdir(parents=True, exist_ok=True)
            (b / p.relative_to(a)).write_bytes(p.read_bytes())
    assert main(["merge-results", str(tmp_path / "out"), str(a), str(b)]) == 0
    assert _rows(tmp_path / "out") == _rows(a)


def test_two_values_for_one_benchmark_are_refused_naming_them_and_out_is_untouched(tmp_path, capsys):
    a = _tree(tmp_path / "a", {"m_benchmarks.A.time_a": [1.0]})
    b = _tree(tmp_path / "b", {"m_benchmarks.A.time_a": [1.5]})
    out = _tree(tmp_path / "out", {"m_benchmarks.C.track_c": [10.0]}, commit="c" * 40)
    before = _snapshot(out)
    assert main(["merge-results", str(out), str(a), str(b)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: 1 conflict(s), nothing written") and err.count("\n") == 1
    for part in ("machine m1", f"commit {COMMIT[:8]}", "env virtualenv-py3.11", "benchmark m_benchmarks.A.time_a"):
        assert part in err
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "out"]
    assert main(["merge-results", str(tmp_path / "new"), str(a), str(b)]) == 2
    assert not (tmp_path / "new").exists()


def test_prefer_newest_keeps_the_later_started_result(tmp_path):
    a = _tree(tmp_path / "a", {"m_benchmarks.A.time_a": [1.0], "m_benchmarks.C.track_c": [5.0]})
    b = _tree(tmp_path / "b", {"m_benchmarks.A.time_a": [1.5]})
    path = _result_file(a)
    data = json.loads(path.read_text())
    data["results"]["m_benchmarks.A.time_a"][3] += 60_000  # a started later than b
    path.write_text(json.dumps(data))
    out = tmp_path / "out"
    assert main(["merge-results", str(out), str(a), str(b), "--prefer", "newest"]) == 0
    values = {(bench, v) for *_, bench, _, v in _rows(out)}
    assert ("m_benchmarks.A.time_a", 1.0) in values and ("m_benchmarks.C.track_c", 5.0) in values


def test_conflicting_machine_json_is_refused_unless_newest_is_preferred(tmp_path, capsys):
    a = _tree(tmp_path / "a", {"m_benchmarks.A.time_a": [1.0]})
    b = _tree(tmp_path / "b", {"m_benchmarks.B.time_b": [2.0, 3.0]}, date=1_700_000_100_000)
    info = json.loads((b / "m1" / "machine.json").read_text())
    (b / "m1" / "machine.json").write_text(json.dumps({**info, "cpu": "another cpu"}))
    assert main(["merge-results", str(tmp_path / "out"), str(a), str(b)]) == 2
    assert "machine m1: conflicting machine.json files" in capsys.readouterr().err
    assert main(["merge-results", str(tmp_path / "out"), str(a), str(b), "--prefer", "newest"]) == 0
    assert json.loads((tmp_path / "out" / "m1" / "machine.json").read_text())["cpu"] == "another cpu"


def test_machines_environments_and_an_existing_out_merge(tmp_path):
    out = _tree(tmp_path / "out", {"m_benchmarks.A.time_a": [1.0]}, commit="b" * 40)
    a = _tree(tmp_path / "a", {"m_benchmarks.A.time_a": [2.0]}, machine="m2")
    b = _tree(tmp_path / "b", {"m_benchmarks.A.time_a": [3.0]}, env="virtualenv-py3.12")
    expected = _rows(out) | _rows(a) | _rows(b)
    assert main(["merge-results", str(out), str(a), str(b)]) == 0
    assert _rows(out) == expected


def test_benchmarks_json_is_the_union_and_differences_conflict(tmp_path, capsys):
    a = _tree(tmp_path / "a", {"m_benchmarks.A.time_a": [1.0]})
    b = _tree(tmp_path / "b", {"m_benchmarks.B.time_b": [2.0, 3.0]}, commit="b" * 40)
    bench = json.loads((b / "benchmarks.json").read_text())
    bench["m_benchmarks.Z.time_z"] = {**BENCH["m_benchmarks.A.time_a"], "name": "z"}
    (b / "benchmarks.json").write_text(json.dumps(bench))
    assert main(["merge-results", str(tmp_path / "out"), str(a), str(b)]) == 0
    merged = json.loads((tmp_path / "out" / "benchmarks.json").read_text())
    assert set(merged) == set(BENCH) | {"m_benchmarks.Z.time_z", "version"}
    bench["m_benchmarks.A.time_a"]["version"] = "2"
    (b / "benchmarks.json").write_text(json.dumps(bench))
    assert main(["merge-results", str(tmp_path / "out2"), str(a), str(b)]) == 2
    assert "benchmark m_benchmarks.A.time_a: described differently" in capsys.readouterr().err


def test_format_1_results_are_converted_with_asvs_own_update(tmp_path):
    a = _tree(tmp_path / "a", {"m_benchmarks.A.time_a": [1.0]})
    v1 = {
        "commit_hash": "d" * 40, "env_name": "virtualenv-py3.11", "date": 1_700_000_000_000, "python": "3.11",
        "params": {"machine": "m1"}, "requirements": {}, "version": 1,
        "results": {"m_benchmarks.A.time_a": {"result": [4.0], "stats": [{"ci_99": [3.9, 4.1]}], "params": []}},
        "started_at": {"m_benchmarks.A.time_a": 1_700_000_000_500}, "duration": {},
    }  # fmt: skip
    (a / "m1" / f"{'d' * 8}-virtualenv-py3.11.json").write_text(json.dumps(v1))
    assert main(["merge-results", str(tmp_path / "out"), str(a)]) == 0
    assert (("m1", "virtualenv-py3.11", "d" * 40, "m_benchmarks.A.time_a", "", 4.0)) in _rows(tmp_path / "out")


def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["merge-results", str(tmp_path / "out"), str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["merge-results", str(tmp_path / "out"), str(empty)]) == 2
    assert "not an asv results tree" in capsys.readouterr().err
    a = _tree(tmp_path / "a", {"m_benchmarks.A.time_a": [1.0]})
    _result_file(a).write_text('{"version": 2, "commit')
    assert main(["merge-results", str(tmp_path / "out"), str(a)]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_out_holding_other_files_is_refused(tmp_path, capsys):
    a = _tree(tmp_path / "a", {"m_benchmarks.A.time_a": [1.0]})
    out = _tree(tmp_path / "out", {"m_benchmarks.A.time_a": [1.0]}, commit="b" * 40)
    (out / "notes.txt").write_text("mine")
    assert main(["merge-results", str(out), str(a)]) == 2
    assert "notes.txt" in capsys.readouterr().err and (out / "notes.txt").read_text() == "mine"


def test_rounds_folders_merge_round_by_round(tmp_path):
    roots = []
    for name, bench in (("s1", "m_benchmarks.A.time_a"), ("s2", "m_benchmarks.C.track_c")):
        for k in range(2):
            _tree(tmp_path / name / "aaaaaaaa-bbbbbbbb" / f"round-{k}", {bench: [1.0 + k]})
        roots.append(tmp_path / name)
    out = tmp_path / "rounds"
    assert main(["merge-results", "--rounds", str(out), *map(str, roots)]) == 0
    for k in range(2):
        benches = {b for *_, b, _, _ in _rows(out / "aaaaaaaa-bbbbbbbb" / f"round-{k}")}
        assert benches == {"m_benchmarks.A.time_a", "m_benchmarks.C.track_c"}
