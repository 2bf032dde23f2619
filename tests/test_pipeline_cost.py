"""The pipeline cost measurement (tools/pipeline_cost.py): its scratch project, its table, a real run."""

from __future__ import annotations

import json
import re

from _tools_testkit import synthesize_results

from tools import pipeline_cost as pc


def _figures(parse_cpu: float, steps: dict[str, float]) -> dict[str, dict]:
    out = {"parse": {"wall": parse_cpu, "cpu": parse_cpu, "rss_peak_mb": 70.0, "count": 12}}
    out.update({name: {"wall": cpu + 0.1, "cpu": cpu, "rss_peak_mb": 100.0 + cpu} for name, cpu in steps.items()})
    return out


def test_scratch_project_holds_the_results_beside_an_asv_conf(tmp_path):
    synthesize_results(tmp_path / "results", 2, 3)
    project = pc.scratch_project(tmp_path / "results", tmp_path / "scratch")
    assert json.loads((project / "asv.conf.json").read_text())["results_dir"] == "results"
    originals = sorted(p.relative_to(tmp_path / "results") for p in (tmp_path / "results").rglob("*.json"))
    assert sorted(p.relative_to(project / "results") for p in (project / "results").rglob("*.json")) == originals


def test_table_takes_the_best_run_of_each_step_by_cpu_and_relates_it_to_the_parse():
    names = [name for name, _ in pc.STEPS]
    slow = _figures(0.5, dict(zip(names, [4.0, 16.0, 12.0])))
    fast = _figures(0.4, dict(zip(names, [2.0, 10.0, 14.0])))
    lines = pc.table("results", [slow, fast])
    rows = {line.split(" | ")[0].strip("| "): line for line in lines if line.startswith("| ")}
    assert "| 2.00 |" in rows["export"] and "5.0x" in rows["export"]  # 2.0 / 0.4
    assert "| 12.00 |" in rows["report --marks"]  # the slow run's report was the faster one
    total = rows["**the three steps**"]
    assert "| 24.30 | 24.00 | 112 |" in total and total.endswith(", 60.0x** |")  # walls 2.1 + 10.1 + 12.1; CPU 24 / 0.4
    assert "best of 2" in lines[0] and "12 result files" in lines[0]


def test_a_missing_results_dir_is_one_clear_error(tmp_path, capsys):
    assert pc.main([str(tmp_path / "nowhere")]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_a_run_times_every_step_of_the_main_job(tmp_path, capsys):
    synthesize_results(tmp_path / "results", 4, 3)
    assert pc.main([str(tmp_path / "results"), "--parts"]) == 0
    out = capsys.readouterr().out
    for step in ["parse", "export", "regressions --history", "report --marks", "the three steps"]:
        assert f"| {step}" in out or f"| **{step}" in out
    assert "`" + str(tmp_path / "results") + "`: 4 result files" in out
    assert re.search(r"Parts, CPU s in one process \([1-9]\d* series, [1-9]\d* chart pages\)", out)
    assert "| the trend charts" in out
