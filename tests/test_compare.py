"""compare A B: sides by commit, environment (python, dep) or machine; what differs; verdicts with BH."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pandas as pd
import pytest
from _tools_testkit import write_results

from tools import sides
from tools.__main__ import main
from tools.errors import ToolError

C1, C2 = "1" * 40, "2" * 40
NP2 = "virtualenv-py3.11-numpy2.3.5"
NP1 = "virtualenv-py3.11-numpy1.26.4"
PY12 = "virtualenv-py3.12-numpy2.3.5"
BENCH = {
    "rag_benchmarks.Score.time_score": {"type": "time", "unit": "seconds", "params": [], "version": "1"},
    "rag_benchmarks.Fuse.time_fuse": {"type": "time", "unit": "seconds", "params": [["1", "2"]], "param_names": ["n"], "version": "1"},
    "rag_benchmarks.Index.peakmem_index": {"type": "peakmemory", "unit": "bytes", "params": [], "version": "1"},
}  # fmt: skip
FACTS = {NP2: ("3.11", "2.3.5"), NP1: ("3.11", "1.26.4"), PY12: ("3.12", "2.3.5")}


def _write(
    root: Path, env: str, commit: str, scale: float, rnd: random.Random, machine: str = "vm", cpu: str = "cpu-a"
):
    noise = lambda: 1 + rnd.uniform(-0.003, 0.003)  # noqa: E731
    values = {
        "rag_benchmarks.Score.time_score": [1e-3 * scale * noise()],
        "rag_benchmarks.Fuse.time_fuse": [2e-3 * noise(), 4e-3 * noise()],
        "rag_benchmarks.Index.peakmem_index": [5e7],
    }
    date = 1_700_000_000_000 + (0 if commit == C1 else 86_400_000)
    write_results(root, BENCH, [{"commit": commit, "date": date, "values": values}], machine=machine, env=env)
    path = root / machine / f"{commit[:8]}-{env}.json"
    data = json.loads(path.read_text())
    python, numpy = FACTS[env]
    data.update(python=python, requirements={"numpy": numpy, "scipy": ""})
    path.write_text(json.dumps(data))
    info = json.loads((root / machine / "machine.json").read_text())
    (root / machine / "machine.json").write_text(json.dumps({**info, "cpu": cpu, "num_cpu": "2", "ram": "4GB"}))


@pytest.fixture()
def session(tmp_path) -> Path:
    """6 interleaved rounds of two commits in three environments; time_score 30% slower with numpy 1.26."""
    rnd = random.Random(1)
    root = tmp_path / "rounds" / "11111111-22222222"
    for k in range(6):
        for env in FACTS:
            for commit in (C1, C2):
                _write(root / f"round-{k}", env, commit, 1.3 if env == NP1 else 1.0, rnd)
    return root


def _compare(tmp_path, *args) -> dict:
    out = tmp_path / "out" / "cmp"
    assert main(["compare", *args, "--output", str(out), "--no-cache"]) == 0
    assert out.with_suffix(".md").is_file() and out.with_suffix(".html").is_file()
    return json.loads(out.with_suffix(".json").read_text())


def _by_bench(data: dict) -> dict[tuple, dict]:
    return {(r["benchmark"], r["params"]): r for r in data["results"]}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("commit=HEAD", sides.Selector("commit=HEAD", commit="HEAD")),
        ("python=3.12", sides.Selector("python=3.12", python="3.12")),
        (
            "dep=numpy==2.x,machine=vm",
            sides.Selector("dep=numpy==2.x,machine=vm", deps=(("numpy", "2.x"),), machine="vm"),
        ),
        ("env=NAME, dep=scipy", sides.Selector("env=NAME, dep=scipy", env="NAME", deps=(("scipy", None),))),
    ],
)
def test_parse_selector(text, expected):
    assert sides.parse_selector(text) == expected


@pytest.mark.parametrize("text", ["", "HEAD", "cpu=x", "commit=", "commit=a,commit=b", "dep===2"])
def test_parse_selector_rejects(text):
    with pytest.raises(ToolError):
        sides.parse_selector(text)


@pytest.mark.parametrize(
    "recorded, pattern, ok",
    [("2.3.5", "2.x", True), ("2.3.5", "2.*", True), ("2.3.5", "2", True), ("1.26.4", "2.x", False),
     ("2.3.5", "2.3.5", True), ("2.3.5", "2.3", True), ("2.3.50", "2.3.5", False), ("", None, False),
     ("1.26.4", None, True), ("12.0", "1.x", False), ("1.0", "*", False)],
)  # fmt: skip
def test_version_matches(recorded, pattern, ok):
    assert sides.version_matches(recorded, pattern) is ok


def test_rekey_writes_one_label_into_the_compared_columns():
    rows = pd.DataFrame({"machine": ["a", "a", "a"], "environment": ["e1", "e1", "e3"], "benchmark": ["x", "y", "x"]})
    out = sides.rekey(rows, {"environment": {"e1": "e1 → e2", "e3": "e3 → e4"}})
    assert list(out["environment"]) == ["e1 → e2", "e1 → e2", "e3 → e4"] and list(out["machine"]) == ["a"] * 3
    assert list(rows["environment"]) == ["e1", "e1", "e3"]  # pure: the input is unchanged


def test_environments_compared_by_dependency(tmp_path, session):
    data = _compare(tmp_path, "dep=numpy==2.x,python=3.11", "dep=numpy==1.26.4", "--rounds-dir", str(session))
    assert data["compared"] == ["environment"] and data["a"]["commit"] == C2 and data["b"]["commit"] == C2
    differs = {d["what"]: (d["a"], d["b"]) for d in data["differences"] if d["differs"]}
    assert differs == {"environment": (NP2, NP1), "numpy": ("2.3.5", "1.26.4")}
    results = _by_bench(data)
    score = results[("rag_benchmarks.Score.time_score", "")]
    assert score["verdict"] == "regressed" and 1.28 < score["ratio"] < 1.32 and score["ratio_low"] > 1.2
    assert score["environment"] == f"{NP2} → {NP1}" and score["n_base"] == score["n_head"] == 6
    assert results[("rag_benchmarks.Fuse.time_fuse", "n=1")]["verdict"] == "unchanged"
    assert data["counts"]["regressed"] == 1 and len(data["results"]) == 4
    md = (tmp_path / "out" / "cmp.md").read_text()
    assert md.index("## What differs") < md.index("## Worse on B (1)") and "| **numpy** | 2.3.5 | 1.26.4 |" in md


def test_python_versions_and_commits(tmp_path, session):
    data = _compare(tmp_path, "python=3.11,dep=numpy==2.3.5", "python=3.12", "--rounds-dir", str(session))
    assert {d["what"] for d in data["differences"] if d["differs"]} == {"environment", "python"}
    assert data["counts"] == {"regressed": 0, "improved": 0, "inconclusive": 0, "unchanged": 4}
    data = _compare(tmp_path, f"commit={C1[:8]}", f"commit={C2[:8]}", "--rounds-dir", str(session))
    assert data["compared"] == ["commit"] and len(data["results"]) == 3 * 4  # paired per environment
    assert {r["environment"] for r in data["results"]} == set(FACTS)


def test_environments_pair_on_what_the_selectors_do_not_name(tmp_path, session):
    """python=3.11 holds two numpy configurations: the one with python 3.12's numpy pairs with it;
    dep=numpy==2.x holds Python 3.11 and 3.12: the one with numpy 1.26's Python pairs with it."""
    data = _compare(tmp_path, "python=3.11", "python=3.12", "--rounds-dir", str(session))
    assert {r["environment"] for r in data["results"]} == {f"{NP2} → {PY12}"}
    assert data["a"]["environment"] == NP2 and data["counts"]["unchanged"] == 4
    data = _compare(tmp_path, "dep=numpy==2", "dep=numpy==1.26.4", "--rounds-dir", str(session))
    assert {r["environment"] for r in data["results"]} == {f"{NP2} → {NP1}"} and data["counts"]["regressed"] == 1


def test_machines_compared_name_what_differs(tmp_path):
    rnd = random.Random(2)
    root = tmp_path / "results"
    _write(root, NP2, C1, 1.0, rnd, machine="vm")
    _write(root, NP2, C1, 1.0, rnd, machine="laptop", cpu="cpu-b")
    data = _compare(tmp_path, "machine=vm", "machine=laptop", "--results-dir", str(root))
    assert {d["what"]: (d["a"], d["b"]) for d in data["differences"] if d["differs"]} == {
        "machine": ("vm", "laptop"),
        "cpu": ("cpu-a", "cpu-b"),
    }
    assert data["a"]["rounds"] == 1 and all(r["machine"] == "vm → laptop" for r in data["results"])


@pytest.mark.parametrize(
    "a, b, message",
    [
        ("python=3", "python=3.12", "differ only in what the selectors name"),
        ("env=numpy", "python=3.12", "differ only in what the selectors name"),
        ("python=3.9", "python=3.12", "no environment matches"),
        ("machine=nope", "python=3.12", "no results for machine 'nope'"),
        ("python=3.12", "env=virtualenv-py3.12", "select the same results"),
        ("cpu=3", "python=3.12", "is not one of"),
    ],
)
def test_bad_sides_are_one_line_and_exit_2(tmp_path, session, capsys, a, b, message):
    assert main(["compare", a, b, "--rounds-dir", str(session), "--output", str(tmp_path / "x"), "--no-cache"]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("note: ")]
    assert len(errors) == 1 and errors[0].startswith("error: ") and message in errors[0]
    assert not list(tmp_path.glob("x*"))


def test_no_common_commit_says_how_to_choose(tmp_path, capsys):
    rnd = random.Random(3)
    root = tmp_path / "results"
    _write(root, NP2, C1, 1.0, rnd)
    _write(root, NP1, C2, 1.0, rnd)
    assert main(["compare", f"env={NP2}", f"env={NP1}", "--results-dir", str(root), "--no-cache"]) == 2
    assert "no commit has results on both sides" in capsys.readouterr().err
    data = _compare(tmp_path, f"env={NP2},commit={C1}", f"env={NP1},commit={C2}", "--results-dir", str(root))
    assert data["compared"] == ["environment", "commit"]


FOREIGN = Path(__file__).resolve().parents[2] / "shared" / "foreign" / "pvlib-benchmarks" / "results"


@pytest.mark.skipif(not FOREIGN.is_dir(), reason="../shared/foreign/pvlib-benchmarks is not here")
def test_foreign_results_of_13_environments(tmp_path):
    """pvlib's nightly results (asv format 1, converted by asv's own update in a copy)."""
    from asv.results import Results

    copy = tmp_path / "pvlib"
    shutil.copytree(FOREIGN, copy)
    for path in copy.glob("*/*.json"):
        if path.name != "machine.json":
            Results.update(str(path))
    data = _compare(tmp_path, "python=3.6", "python=3.8", "--results-dir", str(copy))
    differs = {d["what"]: (d["a"], d["b"]) for d in data["differences"] if d["differs"]}
    assert differs["python"] == ("3.6", "3.8") and "numpy" in differs
    assert not any(d["differs"] for d in data["differences"] if d["what"] in ("machine", "cpu", "cores", "ram", "os"))
    assert len(data["results"]) > 30 and data["counts"]["inconclusive"] == len(data["results"])  # one run a side


def _project(tmp_path: Path, session: Path) -> Path:
    """A folder with asv.conf.json whose results are one round of the session and whose
    .asv/rounds keeps the whole session."""
    shutil.copytree(session / "round-0", tmp_path / "proj" / "results")
    shutil.copytree(session, tmp_path / "proj" / ".asv" / "rounds" / session.name)
    conf = {"version": 1, "project": "p", "repo": ".", "results_dir": "results", "html_dir": "html"}
    (tmp_path / "proj" / "asv.conf.json").write_text(json.dumps(conf))
    return tmp_path / "proj"


def _report(proj: Path, capsys) -> str:
    args = ["report", "--config", str(proj / "asv.conf.json"), "--no-charts", "--no-cache"]
    assert main([*args, "--output-dir", str(proj / "out")]) == 0
    capsys.readouterr()
    return next((proj / "out" / "reports").glob("performance_report_*.md")).read_text()


def test_performance_report_compares_the_configurations_of_the_newest_commit(tmp_path, session, capsys):
    proj = _project(tmp_path, session)
    md = _report(proj, capsys)
    section = md[md.index("## Configurations") :].split("\n## ", 1)[0]
    assert "interleaved session(s) kept for it" in section  # 6 rounds a side: wall time decided
    row = next(line for line in section.splitlines() if line.startswith(f"| vm / {NP1}"))
    assert "numpy 2.3.5 → 1.26.4" in row and "| 1 / 0 / 3 / 0 |" in row and "Score.time_score" in row
    assert "python 3.11 → 3.12" in next(line for line in section.splitlines() if line.startswith(f"| vm / {PY12}"))
    shutil.rmtree(proj / ".asv")  # without kept rounds: the stored results, one round each
    shutil.rmtree(proj / "out")
    assert "its stored results (one round each" in _report(proj, capsys)


def test_one_configuration_has_no_configurations_section(tmp_path, session, capsys):
    proj = _project(tmp_path, session)
    for env in (NP1, PY12):
        for path in (proj / "results" / "vm").glob(f"*-{env}.json"):
            path.unlink()
    assert "## Configurations" not in _report(proj, capsys)


def test_asv_version_is_stamped_by_the_pipeline_and_shown(tmp_path):
    import time

    from tools import provenance

    rnd = random.Random(4)
    root = tmp_path / "results"
    _write(root, NP2, C1, 1.0, rnd, machine="vm")
    _write(root, NP2, C1, 1.0, rnd, machine="laptop")
    since = time.time() - 60
    assert [p.name for p in provenance.stamp_asv_version(root, "vm", since, version="0.6.6")] == [
        f"{C1[:8]}-{NP2}.json"
    ]
    assert provenance.stamp_asv_version(root, "vm", since, version="0.6.6") == []  # already stamped
    assert provenance.stamp_asv_version(root, "laptop", time.time() + 60) == []  # written before the run
    data = _compare(tmp_path, "machine=vm", "machine=laptop", "--results-dir", str(root))
    asv = next(d for d in data["differences"] if d["what"] == "asv")
    assert asv == {"what": "asv", "a": "0.6.6", "b": "results format 2 (asv 0.5 or later)", "differs": True}


def test_the_machine_is_registered_with_its_description(tmp_path):
    from tools import provenance

    info = provenance.register_machine("ci-box", str(tmp_path / "machine.json"))
    saved = json.loads((tmp_path / "machine.json").read_text())["ci-box"]
    assert saved == info and info["machine"] == "ci-box"
    assert all(info[k] for k in ("os", "arch", "cpu", "num_cpu", "ram"))
    assert provenance.ram_text("25276071936") == "23.5 GiB" and provenance.ram_text("8145244") == "7.8 GiB"
    assert provenance.ram_text("4GB") == "4GB"
