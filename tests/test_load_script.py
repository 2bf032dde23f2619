"""scripts/load_test.sh: a bounded smoke run writes the CSV and the load report, and every server it
started is gone afterwards, also after Ctrl-C."""

from __future__ import annotations

import csv
import importlib.util
import os
import signal
import subprocess
import time

import psutil
import pytest
from _gateway_testkit import ROOT

# Whether locust is installed, without importing it: importing locust monkey-patches the whole
# test process with gevent (threads become greenlets), and the script runs it in its own process.
if importlib.util.find_spec("locust") is None:
    pytest.skip("locust is not installed (the load extra)", allow_module_level=True)
SCRIPT = ROOT / "scripts" / "load_test.sh"
COLUMNS = "target,users,requests,failures,rps,p50_ms,p95_ms,p99_ms,overhead_p50_ms,overhead_p95_ms,overhead_p99_ms,cpu_pct,rss_mb"


def descendants(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def cmdline(p: psutil.Process) -> str:
    """The process's command line; "" once it has exited or is a zombie not yet reaped."""
    try:
        return " ".join(p.cmdline())
    except psutil.Error:
        return ""


def running(p: psutil.Process) -> bool:
    """Alive and not a zombie (an exited process its new parent has not reaped yet)."""
    try:
        return p.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def assert_all_gone(procs: list[psutil.Process]) -> None:
    _, alive = psutil.wait_procs(procs, timeout=15)
    alive = [p for p in alive if running(p)]
    assert not alive, [cmdline(p) or f"pid {p.pid}" for p in alive]


@pytest.mark.slow
def test_smoke_run_writes_csv_and_report(tmp_path):
    out = tmp_path / "metrics"
    args = [
        "bash",
        str(SCRIPT),
        "--users",
        "3",
        "--duration",
        "2",
        "--workers",
        "1",
        "--max-requests",
        "300",
        "--out",
        str(out),
    ]
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen: list[psutil.Process] = []
    lines = []
    for line in proc.stdout:
        lines.append(line)
        seen += descendants(proc.pid)
    assert proc.wait(180) == 0, "".join(lines)
    assert_all_gone(seen)
    progress = [ln for ln in lines if ln.startswith("[")]
    assert len(progress) == 2 and "direct" in progress[0] and "gateway" in progress[1]  # a line per step
    (path,) = (out / "load").glob("load_results_*.csv")
    rows = list(csv.DictReader(path.open()))
    assert ",".join(rows[0].keys()) == COLUMNS
    assert [(r["target"], r["users"]) for r in rows] == [("direct", "3"), ("gateway", "3")]
    assert all(int(r["requests"]) > 0 and int(r["failures"]) == 0 for r in rows)
    assert float(rows[1]["overhead_p50_ms"]) >= 0 and rows[0]["overhead_p50_ms"] in ("", "nan")
    (report,) = (out / "reports").glob("load_report_*.md")
    assert "RPS per core" in report.read_text()
    assert (out / "charts" / "load_throughput.png").stat().st_size > 0


@pytest.mark.slow
def test_ctrl_c_stops_every_server(tmp_path):
    args = ["bash", str(SCRIPT), "--users", "2", "--duration", "30", "--no-report", "--out", str(tmp_path)]
    proc = subprocess.Popen(
        args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        seen: list[psutil.Process] = []
        while time.monotonic() < deadline:  # until the mock, the gateway and Locust are all up
            seen = descendants(proc.pid)
            names = " ".join(cmdline(p) for p in seen)
            if "locust" in names and "serve" in names:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the load run did not start its servers and Locust")
        time.sleep(1)
        seen = descendants(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        assert proc.wait(60) != 0
        assert_all_gone(seen)
        assert not list((tmp_path / "load").glob("*.csv"))  # nothing half-written
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
