"""The real asv suite: ``asv check`` passes and a quick smoke pass of every benchmark succeeds.

This is how CI catches a broken benchmark: every benchmark module under ``benchmarks/`` is
discovered by asv (no list of modules anywhere) and run once in the current interpreter.
asv runs with ``HOME`` in a temp dir so its global machine file never collides.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
MACHINE = "smoke"


def _asv_command() -> list[str]:
    exe = Path(sys.executable).with_name("asv")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "asv"]


def _asv(*args: str, home: Path, timeout: float) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["HOME"] = str(home)
    # Instruction counts take seconds each under valgrind; the harness tests cover them.
    env["INTELLIROUTER_INSTRUCTIONS"] = "off"
    return subprocess.run(
        [*_asv_command(), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _discovered_names() -> list[str]:
    """Every benchmark asv_runner discovers in benchmarks/, found the way asv finds them."""
    import io
    import json

    from asv_runner.discovery import list_benchmarks

    out = io.StringIO()
    list_benchmarks(str(ROOT / "benchmarks"), out)
    return sorted(b["name"] for b in json.loads(out.getvalue()))


def _reported(name: str, lines: list[str]) -> bool:
    """asv prints each benchmark once, shortening long names from the left with '...'."""
    for line in lines:
        if name in line:
            return True
        match = re.search(r"···\s+\.\.\.(\S+)", line)
        if match and name.endswith(match.group(1)):
            return True
    return False


def test_asv_check_passes(tmp_path):
    proc = _asv("check", "--python=same", home=tmp_path, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "No problems found" in out, out


def test_quick_smoke_run_of_the_whole_suite_has_no_failures(tmp_path):
    names = _discovered_names()
    modules = {name.split(".", 1)[0] for name in names}
    assert {p.stem for p in (ROOT / "benchmarks").glob("*_benchmarks.py")} <= modules
    machine = _asv("machine", "--yes", "--machine", MACHINE, home=tmp_path, timeout=120)
    assert machine.returncode == 0, machine.stdout + machine.stderr
    proc = _asv(
        "run",
        "--python=same",
        "--quick",
        "--dry-run",
        "--show-stderr",
        "--machine",
        MACHINE,
        home=tmp_path,
        timeout=900,
    )
    out = proc.stdout + proc.stderr
    failed = [line for line in out.splitlines() if re.search(r"\bfailed\b", line)]
    assert not failed, "benchmarks failed:\n" + "\n".join(failed) + "\n\n" + out[-6000:]
    assert proc.returncode == 0, out[-6000:]  # asv run exits 2 when any benchmark failed
    lines = [line for line in out.splitlines() if "···" in line]
    missing = [name for name in names if not _reported(name, lines)]
    assert not missing, "benchmarks that did not run: " + ", ".join(missing)
