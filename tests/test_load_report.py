"""The load section: side-by-side arithmetic, the goal check, bad CSVs, the command's outputs."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from tools.__main__ import main
from tools.errors import ToolError
from tools.load_report import COLUMNS, read_load_csv, side_by_side, verdict


def row(target, users, rps, p50, p95, p99, cpu):
    return {
        "target": target,
        "users": users,
        "requests": int(rps * 20),
        "failures": 0,
        "rps": rps,
        "p50_ms": p50,
        "p95_ms": p95,
        "p99_ms": p99,
        "overhead_p50_ms": math.nan if target == "direct" else 0.2,
        "overhead_p95_ms": math.nan if target == "direct" else 0.3,
        "overhead_p99_ms": math.nan if target == "direct" else 0.5,
        "cpu_pct": cpu,
        "rss_mb": 50.0,
    }


TABLE = pd.DataFrame(
    [
        row("direct", 8, 150, 51, 55, 60, 5),
        row("gateway", 8, 140, 53, 58, 64, 14),
        row("litellm", 8, 90, 110, 130, 170, 90),
        row("direct", 64, 1100, 55, 65, 80, 30),
        row("gateway", 64, 900, 60, 75, 95, 60),
        row("litellm", 64, 100, 600, 700, 800, 100),
    ]
)


def test_side_by_side_is_relative_to_direct_at_the_same_users():
    sbs = side_by_side(TABLE).set_index(["target", "users"])
    assert sbs.loc[("gateway", 8), "added_p99_ms"] == 4
    assert sbs.loc[("litellm", 64), "added_p50_ms"] == 545
    assert sbs.loc[("gateway", 64), "rps_per_core"] == pytest.approx(1500)
    assert sbs.loc[("litellm", 8), "rps_per_core"] == pytest.approx(100)


def test_verdict_against_the_peer():
    lines = verdict(side_by_side(TABLE))
    assert "**15.0x**" in lines[0]  # 1500 / 100 RPS per core
    assert "gateway 4.0 ms, LiteLLM 110.0 ms" in lines[1] and "**0.04**" in lines[1]
    assert verdict(side_by_side(TABLE[TABLE["target"] != "litellm"])) == []


def test_bad_csvs_are_one_clear_error(tmp_path):
    missing = tmp_path / "load_results_x.csv"
    missing.write_text("target,users\ndirect,1\n")
    with pytest.raises(ToolError, match="missing column"):
        read_load_csv(missing)
    empty = tmp_path / "load_results_y.csv"
    empty.write_text(",".join(COLUMNS) + "\n")
    with pytest.raises(ToolError, match="no rows"):
        read_load_csv(empty)


def test_load_report_command(tmp_path, capsys):
    (tmp_path / "load").mkdir()
    TABLE.to_csv(tmp_path / "load" / "load_results_2026-01-01_00-00-00.csv", index=False)
    assert main(["load-report", "--output-dir", str(tmp_path)]) == 0
    (md,) = (tmp_path / "reports").glob("load_report_*.md")
    text = md.read_text()
    assert "## Load test" in text and "RPS per core" in text and "](../charts/load_throughput.png)" in text
    assert (tmp_path / "charts" / "load_latency.png").stat().st_size > 0
    (html,) = (tmp_path / "reports").glob("load_report_*.html")
    assert "data:image/png;base64," in html.read_text()
    assert main(["load-report", "--output-dir", str(tmp_path / "none")]) == 2
    assert "run scripts/load_test.sh first" in capsys.readouterr().err
