"""Every bad-input case of the tools issue: one clear message naming what and where, the
good files still processed, exit code 2 when nothing useful can be produced, and no
half-written output file."""

from __future__ import annotations

import json
import shutil

import pytest
from _tools_testkit import DATA, RECORDED_COMMITS

from tools.__main__ import main
from tools.errors import ToolError
from tools.io import atomic_write_with
from tools.loader import load_results

ENV = "existing-py_python3"


@pytest.fixture
def results(tmp_path):
    dest = tmp_path / "results"
    shutil.copytree(DATA, dest)
    return dest


def result_file(results, i):
    return results / "toymachine" / f"{RECORDED_COMMITS[i][:8]}-{ENV}.json"


def cli(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_truncated_json_is_skipped_with_a_warning(results):
    path = result_file(results, 1)
    path.write_bytes(path.read_bytes()[:700])  # truncated mid-write
    warnings: list[str] = []
    table = load_results(results, warn=warnings.append)
    assert len(warnings) == 1 and str(path) in warnings[0] and "corrupt or truncated JSON" in warnings[0]
    assert set(table["commit"].astype(str)) == set(RECORDED_COMMITS) - {RECORDED_COMMITS[1]}


def test_corrupt_json_and_wrong_shape(results):
    result_file(results, 0).write_text("{not json")
    result_file(results, 2).write_text("[1, 2, 3]")
    warnings: list[str] = []
    table = load_results(results, warn=warnings.append)
    assert len(warnings) == 2
    assert any("not an asv result file" in w for w in warnings)
    assert table["commit"].nunique() == 2


def test_old_format_version_is_named(results):
    path = result_file(results, 0)
    data = json.loads(path.read_text())
    data["version"] = 1
    path.write_text(json.dumps(data))
    warnings: list[str] = []
    load_results(results, warn=warnings.append)
    assert any(str(path) in w and "format version 1, expected 2" in w for w in warnings)


def test_all_files_bad_is_fatal(results):
    for i in range(4):
        result_file(results, i).write_text("")
    with pytest.raises(ToolError, match="none of the 4 result file"):
        load_results(results, warn=lambda m: None)


def test_missing_and_empty_dirs(tmp_path):
    with pytest.raises(ToolError, match="does not exist"):
        load_results(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "benchmarks.json").write_text("{}")
    with pytest.raises(ToolError, match="no asv result files"):
        load_results(tmp_path / "empty")


def test_missing_or_corrupt_benchmarks_json(results):
    (results / "benchmarks.json").unlink()
    with pytest.raises(ToolError, match="benchmarks.json is missing"):
        load_results(results)
    (results / "benchmarks.json").write_text("{")
    with pytest.raises(ToolError, match="benchmarks.json: not valid JSON"):
        load_results(results)


def test_unknown_machine_lists_known_ones(results):
    with pytest.raises(ToolError, match=r"unknown machine 'ghost'.*toymachine"):
        load_results(results, machine="ghost")


@pytest.mark.parametrize("command", ["export", "report", "charts", "regressions"])
def test_cli_missing_results_dir_exits_2_without_output(tmp_path, capsys, command):
    out_dir = tmp_path / "out"
    code, out, err = cli(capsys, command, "--results-dir", str(tmp_path / "missing"), "--output-dir", str(out_dir))
    assert code == 2
    assert err.startswith("error: results directory") and "does not exist" in err
    assert not out_dir.exists() or not any(out_dir.rglob("*.*"))


@pytest.mark.parametrize("command", ["export", "report", "regressions"])
def test_cli_unknown_revision(results, tmp_path, capsys, command):
    opt = "--head" if command == "regressions" else "--commit"
    code, _, err = cli(
        capsys, command, "--results-dir", str(results), "--output-dir", str(tmp_path / "o"), opt, "deadbeefcafe"
    )
    assert code == 2
    assert "unknown revision 'deadbeefcafe'" in err
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").rglob("*.*"))


def test_cli_unknown_machine(results, tmp_path, capsys):
    code, _, err = cli(
        capsys, "export", "--results-dir", str(results), "--machine", "ghost", "--output-dir", str(tmp_path / "o")
    )
    assert code == 2 and "unknown machine 'ghost'" in err


def test_cli_corrupt_file_still_exports_the_rest(results, tmp_path, capsys):
    result_file(results, 3).write_text('{"version": 2, "results": ')
    out = tmp_path / "x.csv"
    code, stdout, err = cli(capsys, "export", "--results-dir", str(results), "--output", str(out))
    assert code == 0
    assert f"warning: skipping {result_file(results, 3)}" in err
    # the newest readable commit is exported
    assert RECORDED_COMMITS[2] in out.read_text() and RECORDED_COMMITS[3] not in out.read_text()


def test_failed_write_leaves_nothing_behind(tmp_path):
    target = tmp_path / "report.md"

    def boom(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write_with(target, boom)
    assert list(tmp_path.iterdir()) == []


def test_run_benchmarks_script_rejects_bad_usage():
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "run_benchmarks.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    bad = subprocess.run(["bash", str(script), "--bogus"], capture_output=True, text=True)
    assert bad.returncode == 2 and "unknown option --bogus" in bad.stderr
    two = subprocess.run(["bash", str(script), "a..b", "c..d"], capture_output=True, text=True)
    assert two.returncode == 2 and "one RANGE only" in two.stderr
    usage = subprocess.run(["bash", str(script), "--help"], capture_output=True, text=True)
    assert usage.returncode == 0 and "Usage: scripts/run_benchmarks.sh" in usage.stdout
    for args, message in (
        (["--shard", "1/2", "--no-measure"], "give one of them"),
        (["--shard", "first"], "expected k/N"),
        (["--rounds-dir", "x"], "--rounds-dir goes with --no-measure"),
        (["--no-measure", "--rounds", "6", "--rounds-dir", "x"], "--rounds-dir goes with --no-measure"),
    ):
        proc = subprocess.run(["bash", str(script), *args], capture_output=True, text=True)
        assert proc.returncode == 2 and message in proc.stderr, (args, proc.stderr)
