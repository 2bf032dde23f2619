"""Every bad-input case of the tools issue: one clear message naming what and where, the
good files still processed, exit code 2 when nothing useful can be produced, and no
half-written output file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from _tools_testkit import DATA, RECORDED_COMMITS
from malformed_fixture import CASES, commit_of

from tools.__main__ import main
from tools.errors import ToolError
from tools.io import atomic_write_with
from tools.loader import load_results

ENV = "existing-py_python3"
MALFORMED = Path(__file__).parent / "data" / "malformed"


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
    assert warnings == [
        f"1 file skipped: corrupt or truncated JSON ({path}: Unterminated string starting at (line 1, column 647))"
    ]
    assert set(table["commit"].astype(str)) == set(RECORDED_COMMITS) - {RECORDED_COMMITS[1]}
    assert table.attrs["warnings"] == warnings


def test_corrupt_json_and_wrong_shape(results):
    result_file(results, 0).write_text("{not json")
    result_file(results, 2).write_text("[1, 2, 3]")
    warnings: list[str] = []
    table = load_results(results, warn=warnings.append)
    assert len(warnings) == 2
    assert any("not an asv result file" in w for w in warnings)
    assert table["commit"].nunique() == 2


@pytest.mark.parametrize(
    ("version", "says"),
    [
        (3, "version 3 is newer than the versions this loader reads (1 and 2)"),
        (0, "version 0 is not one asv has written (this loader reads 1 and 2)"),
        ("2", "version '2' is not one asv has written"),
        (None, "version None is not one asv has written"),
    ],
)
def test_unknown_format_version_is_named_accurately(results, version, says):
    path = result_file(results, 0)
    data = json.loads(path.read_text())
    data["version"] = version
    path.write_text(json.dumps(data))
    warnings: list[str] = []
    load_results(results, warn=warnings.append)
    assert len(warnings) == 1 and str(path) in warnings[0] and says in warnings[0]
    assert "asv update" not in warnings[0]  # it would not help: only older files are updated


def test_missing_format_version_is_named(results):
    path = result_file(results, 0)
    data = json.loads(path.read_text())
    del data["version"]
    path.write_text(json.dumps(data))
    warnings: list[str] = []
    load_results(results, warn=warnings.append)
    assert warnings == [
        f"1 file skipped: unsupported asv results format version ({path}: the file has no 'version' key)"
    ]


def _rows(table, case: str) -> dict:
    """{(benchmark, params): (value, samples, ci_low, started_at)} of one malformed-fixture case."""
    rows = table[table["commit"] == commit_of(case)]
    return {
        (str(r.benchmark), r.params): (repr(r.value), r.samples, repr(r.ci_low), r.started_at)
        for r in rows.itertuples()
    }


@pytest.fixture(scope="module")
def malformed():
    warnings: list[str] = []
    return load_results(MALFORMED, warn=warnings.append), warnings


@pytest.mark.parametrize("case", [c for c, (bench, _, _) in CASES.items() if bench is not None])
def test_a_malformed_entry_costs_only_itself(malformed, case):
    table, _ = malformed
    broken = CASES[case][0]
    clean, rows = _rows(table, "clean"), _rows(table, case)
    assert rows == {k: v for k, v in clean.items() if k[0] != broken}


def test_a_malformed_file_key_costs_the_file(malformed):
    table, _ = malformed
    loaded = set(table["commit"].astype(str))
    for case, (bench, kind, _) in CASES.items():
        assert (commit_of(case) in loaded) == (bench is not None or kind is None), case


def test_malformed_entries_are_summarised_one_line_per_kind(malformed):
    _, warnings = malformed
    where = {case: MALFORMED / "toymachine" / f"{commit_of(case)[:8]}-{ENV}.json" for case in CASES}
    assert warnings == [
        f"2 entries skipped: arrays of different lengths (first: {where['short-result']}: "
        "toy_benchmarks.Work.time_work: 'result' has 3 values for 4 parameter combinations)",
        f"3 entries skipped: non-numeric value (first: {where['string-result']}: "
        "toy_benchmarks.time_plain: 'result' holds 'fast')",
        f"1 entry skipped: unparseable date ({where['string-date']}: toy_benchmarks.time_plain: "
        "'started_at' is '2026-01-01T12:00:00Z', expected milliseconds since 1970)",
        f"2 entries skipped: wrong type (first: {where['entry-not-list']}: toy_benchmarks.track_rate: "
        "the entry is 'oops', expected a list)",
        f"1 file skipped: unparseable date ({where['file-date']}: commit date 'yesterday' is not milliseconds since 1970)",
        f"1 file skipped: unsupported asv results format version ({where['file-version-3']}: version 3 is newer "
        "than the versions this loader reads (1 and 2); it was written by a newer asv, whose format these tools "
        "do not know yet)",
    ]


def test_malformed_entries_give_no_traceback_on_the_command_line(tmp_path, capsys):
    out = tmp_path / "all.csv"
    code, stdout, err = cli(capsys, "export", "--results-dir", str(MALFORMED), "--all", "--output", str(out))
    assert code == 0 and "Traceback" not in err
    assert err.count("warning: ") == 6
    assert out.is_file() and f"wrote {out}" in stdout


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
    assert f"warning: 1 file skipped: corrupt or truncated JSON ({result_file(results, 3)}: " in err
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
