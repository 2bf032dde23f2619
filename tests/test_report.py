"""The performance report (Markdown + self-contained HTML) and the unit humanising."""

from __future__ import annotations

import math

import pytest
from _tools_testkit import DATA, RECORDED_COMMITS

from tools.__main__ import main
from tools.humanize import digits_for_range, human_interval, human_pct, human_value
from tools.loader import load_results
from tools.performance_report import performance_report_md


@pytest.mark.parametrize(
    "value, unit, text",
    [
        (1.23e-5, "seconds", "12.3 µs"),
        (4.5e-9, "seconds", "4.50 ns"),
        (0.25, "seconds", "250 ms"),
        (2.0, "seconds", "2.00 s"),
        (999.9e-6, "seconds", "1.00 ms"),
        (1.2e6, "bytes", "1.20 MB"),
        (512, "bytes", "512 B"),
        (45600, "ops/s", "45.6k ops/s"),
        (218_722_196, "instructions", "219M instr"),
        (3.5, "hit rate", "3.50 hit rate"),
        (float("nan"), "seconds", "—"),
        (None, "bytes", "—"),
    ],
)
def test_human_value(value, unit, text):
    assert human_value(value, unit) == text


def test_percentages_and_intervals():
    assert human_pct(5.234) == "+5.2%"
    assert human_pct(-3.0) == "−3.0%"
    assert human_interval(1.0, 9.5) == "[+1.0%, +9.5%]"
    assert human_interval(-math.inf, math.inf) == "—"
    assert digits_for_range(25.33e6, 25.37e6) > 3  # narrow ranges get more digits


def test_report_markdown_contents():
    table = load_results(DATA)
    rows = table[table["commit"] == RECORDED_COMMITS[-1]]
    md = performance_report_md(
        rows,
        {"toymachine": {"os": "Linux", "cpu": "Xeon"}},
        "2026-01-05 10:00:00 UTC",
        {"summary": "../charts/summary.png", "toy": "../charts/toy.png"},
    )
    assert md.startswith(f"# Performance report — {RECORDED_COMMITS[-1][:12]}")
    assert "toymachine (Linux, Xeon)" in md
    assert "6 ok, 1 failed, 1 skipped, 0 stale" in md
    assert "| toy | 1 | 6 | 1 | 8 |" in md  # counts by component and type
    assert "![toy trend](../charts/toy.png)" in md and "](../charts/summary.png)" in md
    # humanised units, the failed and skipped rows, throughput
    assert " µs |" in md and " MB |" in md and "1.23k ops/s" in md
    assert "| failed |" in md and "| skipped |" in md
    assert "`Work.time_work` | n=200, kind='a' | time |" in md


def test_cli_writes_md_and_self_contained_html(tmp_path, capsys):
    assert main(["report", "--results-dir", str(DATA), "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    md = list((tmp_path / "reports").glob("performance_report_*.md"))
    html = list((tmp_path / "reports").glob("performance_report_*.html"))
    assert len(md) == 1 and len(html) == 1
    assert str(md[0]) in out and str(html[0]) in out
    page = html[0].read_text()
    assert page.count("data:image/png;base64,") == 2  # summary + the one component
    assert "<table>" in page and "12" not in page[:0]
    assert (tmp_path / "charts" / "toy.png").is_file()
    assert "../charts/toy.png" in md[0].read_text()


def test_cli_no_charts(tmp_path):
    assert main(["report", "--results-dir", str(DATA), "--output-dir", str(tmp_path), "--no-charts"]) == 0
    assert not (tmp_path / "charts").exists()
    html = next((tmp_path / "reports").glob("*.html")).read_text()
    assert "data:image/png" not in html
