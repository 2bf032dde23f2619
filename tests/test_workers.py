"""Work split across processes (tools/workers.py), and the two analyses that use it: the
history's series and the chart pages give the same results split as in one process."""

from __future__ import annotations

import os
import sys

import pytest
from test_charts import synthetic_table
from test_detect_history import series, table

from tools import charts, workers
from tools.detect import history
from tools.errors import ToolError


def _pid_and_square(x: int) -> tuple[int, int]:
    return os.getpid(), x * x


def _dies(x: int) -> int:
    if x == 3:
        os._exit(1)  # a worker killed mid-task, as by the out-of-memory killer
    return x


def test_split_work_comes_back_in_order_from_other_processes(monkeypatch):
    monkeypatch.setenv(workers.JOBS_ENV, "2")
    out = workers.map_ordered(_pid_and_square, list(range(40)))
    assert [sq for _, sq in out] == [x * x for x in range(40)]
    assert os.getpid() not in {pid for pid, _ in out}


@pytest.mark.parametrize("setting, split", [("1", True), ("2", False)])
def test_one_job_or_small_work_stays_in_this_process(monkeypatch, setting, split):
    monkeypatch.setenv(workers.JOBS_ENV, setting)
    out = workers.map_ordered(_pid_and_square, list(range(10)), split=split)
    assert {pid for pid, _ in out} == {os.getpid()}


@pytest.mark.parametrize("setting", ["0", "two", "-1"])
def test_a_bad_job_count_is_one_clear_error(monkeypatch, setting):
    monkeypatch.setenv(workers.JOBS_ENV, setting)
    with pytest.raises(ToolError, match=f"{workers.JOBS_ENV}=.*whole number"):
        workers.map_ordered(_pid_and_square, [1, 2])


def test_a_dead_worker_is_one_clear_error(monkeypatch):
    monkeypatch.setenv(workers.JOBS_ENV, "2")
    with pytest.raises(ToolError, match="worker process died.*=1 runs them in one process"):
        workers.map_ordered(_dies, list(range(8)))


def test_history_split_across_processes_finds_what_one_process_finds(monkeypatch):
    t = table({f"b{i}": series(i, 60, step_at=30 if i % 2 else None, pct=20.0) for i in range(12)})
    monkeypatch.setenv(workers.JOBS_ENV, "1")
    alone = history.history_suite(t, include_inconclusive=True)
    monkeypatch.setenv(workers.JOBS_ENV, "2")
    monkeypatch.setattr(history, "SPLIT_COMMITS", 0)
    split = history.history_suite(t, include_inconclusive=True)
    assert repr(split) == repr(alone)
    assert sum(f.verdict == "regressed" for f in split) == 6


def test_chart_pages_drawn_across_processes_are_the_same_files(monkeypatch, tmp_path):
    t = synthetic_table(40, 30)
    monkeypatch.setenv(workers.JOBS_ENV, "1")
    alone = charts.write_charts(t, tmp_path / "one")
    monkeypatch.setenv(workers.JOBS_ENV, "2")
    split = charts.write_charts(t, tmp_path / "two")
    assert len(split) >= charts.SPLIT_PAGES
    assert [page for _, page in split] == [page for _, page in alone]
    assert all(a.read_bytes() == b.read_bytes() for (a, _), (b, _) in zip(alone, split))


def test_work_stays_in_this_process_once_gevent_patched_threading(monkeypatch):
    class Monkey:  # gevent.monkey as locust leaves it
        @staticmethod
        def is_module_patched(name: str) -> bool:
            return name == "threading"

    monkeypatch.setitem(sys.modules, "gevent.monkey", Monkey)
    monkeypatch.setenv(workers.JOBS_ENV, "2")
    assert {pid for pid, _ in workers.map_ordered(_pid_and_square, list(range(10)))} == {os.getpid()}
