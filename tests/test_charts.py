"""Trend charts: one PNG per component plus summary.png; log scale and relative cost."""

from __future__ import annotations

import numpy as np
import pytest
from _tools_testkit import DATA, RECORDED_COMMITS, write_results

from tools.__main__ import main
from tools.charts import (
    _use_log,
    commit_axis,
    component_figure,
    components,
    relative_cost,
    series_label,
    summary_figure,
)
from tools.loader import load_results

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def table():
    return load_results(DATA)


def _png_size(data: bytes) -> tuple[int, int]:
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_cli_writes_one_png_per_component_and_a_summary(tmp_path, capsys):
    assert main(["charts", "--results-dir", str(DATA), "--charts-dir", str(tmp_path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["summary.png", "toy.png"]
    for p in tmp_path.iterdir():
        data = p.read_bytes()
        assert data.startswith(PNG)
        w, h = _png_size(data)
        assert w >= 1200 and h >= 600  # large enough to print legibly
    assert "wrote" in capsys.readouterr().out


def test_component_figure_panels_scale_and_labels(table):
    fig = component_figure(table, "toy")
    axes = fig.get_axes()
    assert len(axes) == 3  # bytes, ops/s, seconds
    by_unit = {ax.get_ylabel().split("(")[-1].split(",")[0].rstrip(")"): ax for ax in axes}
    assert set(by_unit) == {"bytes", "ops/s", "seconds"}
    assert by_unit["seconds"].get_yscale() == "log"  # 10 µs .. 1.3 ms spans > 20x
    assert by_unit["bytes"].get_yscale() == "linear"
    labels = [t.get_text() for t in by_unit["seconds"].get_legend().get_texts()]
    assert "Work.time_work(200, a)" in labels and "time_plain" in labels
    ticks = [t.get_text() for t in by_unit["seconds"].get_xticklabels()]
    assert ticks[0].startswith(RECORDED_COMMITS[0][:8]) and ticks[-1].startswith(RECORDED_COMMITS[-1][:8])
    # one line per successful series; the failed and the skipped one are not drawn
    assert len(by_unit["seconds"].get_lines()) == 4
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_relative_cost_geometric_mean(tmp_path):
    benches = {
        n: {"type": t, "unit": u, "version": "1", "params": [], "param_names": []}
        for n, t, u in [
            ("c_benchmarks.time_a", "time", "seconds"),
            ("c_benchmarks.time_b", "time", "seconds"),
            ("c_benchmarks.track_rate", "track", "ops/s"),
        ]
    }
    runs = [
        {
            "commit": f"{i}" * 40,
            "date": 1_700_000_000_000 + i * 1000,
            "values": {
                "c_benchmarks.time_a": [1.0 * f],
                "c_benchmarks.time_b": [2.0 * f],
                "c_benchmarks.track_rate": [100.0 / f],
            },
        }
        for i, f in enumerate([1.0, 1.1, 1.21])
    ]
    write_results(tmp_path, benches, runs)
    rel = relative_cost(load_results(tmp_path))
    # time up by f, rate down by f: every series costs f more -> geometric mean f
    assert np.allclose(rel["relative_cost"].to_numpy(), [1.0, 1.1, 1.21])
    fig = summary_figure(load_results(tmp_path))
    assert "relative" in fig.get_axes()[0].get_ylabel()


def test_helpers(table):
    assert series_label("router_benchmarks.Route.time_route", "n=1, s='cost'") == "Route.time_route(1, cost)"
    assert series_label("router_benchmarks.Route.time_route", "", with_class=False) == "time_route"
    long = series_label("m.C." + "x" * 100, "n=10, kind='a'")
    assert len(long) <= 60 and long.endswith("(10, a)")
    assert _use_log(np.array([1.0, 100.0])) and not _use_log(np.array([1.0, 2.0]))
    axis = commit_axis(table)
    assert list(axis["commit"]) == RECORDED_COMMITS
    assert components(table) == ["toy"]
