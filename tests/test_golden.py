"""Outputs pinned on a fixed results set: a refactoring must not change what the tools write.

The fixture is ``tests/data/golden/`` (written by ``tests/golden_fixture.py``). Each command runs
in a copy of it with ``SOURCE_DATE_EPOCH`` fixed; the outputs' SHA-256 must equal the pinned ones.
On a mismatch the outputs are kept in ``test-artifacts/golden/`` to diff. A change that is meant
to alter an output re-pins its hash here and says why in its commit message.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from tools.__main__ import main

GOLDEN = Path(__file__).parent / "data" / "golden"
ARTIFACTS = Path(__file__).parent.parent / "test-artifacts" / "golden"
EPOCH = "1767225600"  # 2026-01-01T00:00:00Z
SESSION = "rounds/0a0a0a0a-0b0b0b0b"

PINNED = {
    "export.csv": "df36f63fb4c8f2eef0ef24eb0c8e4faabc5e4227e556dd5a6ae37a76b16d08c3",
    "performance_report.md": "08222bef1b6e12db418b7ec360f27e504fedb8f7c358ddc8aaa50de4d77764e9",
    "pairwise.json": "1ed3cc824fe5cf9518665b9ff774b874faac5d9e002621d58a18235451b56bae",
    "history.json": "ecec7960932b379d8a2c248562731fdf9da98724d009c07e1e3e5f6782e5ea36",
}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("golden")
    shutil.copytree(GOLDEN, work, dirs_exist_ok=True)
    mp = pytest.MonkeyPatch()
    mp.chdir(work)
    mp.setenv("SOURCE_DATE_EPOCH", EPOCH)
    common = ["--results-dir", "results", "--no-cache"]
    regressions = ["regressions", *common, "--site-url", "site", "--profile-cap", "0"]  # no repository to profile
    try:
        assert main(["export", *common, "--all", "--output", "out/export.csv"]) == 0
        assert main(["report", *common, "--output-dir", "out", "--no-charts"]) == 0
        assert main([*regressions, "--rounds-dir", SESSION, "--output", "out/pairwise"]) == 0
        assert main([*regressions, "--history", "--history-rounds-dir", "rounds", "--output", "out/history"]) == 0
    finally:
        mp.undo()
    return {
        "export.csv": work / "out" / "export.csv",
        "performance_report.md": work / "out" / "reports" / "performance_report_2026-01-01_00-00-00.md",
        "pairwise.json": work / "out" / "pairwise.json",
        "history.json": work / "out" / "history.json",
    }


@pytest.mark.parametrize("name", sorted(PINNED))
def test_output_is_byte_identical(outputs, name):
    data = outputs[name].read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != PINNED[name]:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / name).write_bytes(data)
    assert digest == PINNED[name], (
        f"{name} changed (sha256 {digest}); the output is in {ARTIFACTS / name}. "
        "If the change is intended, re-pin it in tests/test_golden.py and say why."
    )


def test_golden_outputs_say_what_they_found(outputs):
    """The pinned outputs are not empty shells: the fixture's regressions are in them."""
    pairwise = outputs["pairwise.json"].read_text()
    history = outputs["history.json"].read_text()
    assert '"regressed": 2' in pairwise
    assert "memory_benchmarks.AddEntry.time_add_entry" in pairwise
    assert "07070707" in history and "08080808" in history  # the +30% step at commit 8
    assert "2026-01-01 00:00:00 UTC" in history
