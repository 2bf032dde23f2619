"""Trend charts: small multiples in pages of at most 2,000 px, a line per machine + environment
with one colour each across every panel, dates with the year, change points and shifts marked."""

from __future__ import annotations

import re

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
import pytest
from _tools_testkit import DATA, write_results

import tools.charts as charts
from tools.__main__ import main
from tools.charts import (
    Mark,
    _use_log,
    chart_figures,
    chart_points,
    components,
    date_axis,
    ellipsize,
    line_names,
    line_styles,
    marks_from_findings,
    paginate,
    relative_cost,
    render_png,
    series_label,
    write_charts,
)
from tools.detect.finding import Evidence, Finding
from tools.humanize import unit_name
from tools.loader import load_results

PNG = b"\x89PNG\r\n\x1a\n"
KEYS = [("m1", "conda-py3.10-numpy"), ("m1", "conda-py3.11-numpy"), ("m2", "conda-py3.11-numpy")]


@pytest.fixture(scope="module")
def table():
    return load_results(DATA)


def _png_size(data: bytes) -> tuple[int, int]:
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def synthetic_table(n_benchmarks: int, n_commits: int, keys=KEYS, comps=("alpha", "beta")) -> pd.DataFrame:
    """A tidy table (the columns charts read): every benchmark on every machine + environment,
    a commit every five days from November 2021, so the history crosses a new year."""
    rng = np.random.default_rng(0)
    commits = [f"{i:04x}" + "c" * 36 for i in range(n_commits)]
    dates = pd.date_range("2021-11-01", periods=n_commits, freq="5D", tz="UTC")
    rows = []
    for b in range(n_benchmarks):
        comp = comps[b % len(comps)]
        bench, params = f"{comp}_benchmarks.Suite{b // 8}.time_a_rather_long_operation_name_{b}", ""
        if b % 2:
            params = f"n={10 ** (b % 3)}, kind='x'"
        for machine, env in keys:
            values = 10 ** rng.uniform(-6, -2) * rng.lognormal(0, 0.03, n_commits)
            rows += [(machine, env, c, d, comp, bench, params, v) for c, d, v in zip(commits, dates, values)]
    cols = ["machine", "environment", "commit", "commit_date", "component", "benchmark", "params", "value"]
    t = pd.DataFrame(rows, columns=cols)
    return t.assign(type="time", unit="seconds", ci_low=t["value"] * 0.95, ci_high=t["value"] * 1.05).assign(
        failed=False, skipped=False
    )


@pytest.fixture(scope="module")
def big():
    """72 benchmarks (36 a component: two full pages), three machine + environments."""
    return synthetic_table(72, 12)


@pytest.fixture(scope="module")
def big_pages(big):
    commits = sorted(big["commit"].unique())
    first = sorted(big["benchmark"].unique())[0]
    marks = [
        Mark("m1", "conda-py3.11-numpy", first, None, commits[6], "regressed", "+12.5%"),
        Mark("m2", "conda-py3.11-numpy", None, None, commits[9][:10], "shift", "new image"),
        Mark("m1", "conda-py3.10-numpy", first, None, "f" * 40, "improved", "not charted"),  # unknown commit
    ]
    return list(chart_figures(big, marks))


def _series_lines(ax) -> list:
    return [line for line in ax.get_lines() if line.get_gid() and "/" in line.get_gid()]


def test_cli_writes_pages_summary_and_index(tmp_path, capsys):
    assert main(["charts", "--results-dir", str(DATA), "--charts-dir", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.md", "summary.png", "toy.png"]
    for p in tmp_path.glob("*.png"):
        data = p.read_bytes()
        assert data.startswith(PNG)
        w, h = _png_size(data)
        assert w == 1600 and h <= charts.MAX_HEIGHT_PX
    assert "wrote" in capsys.readouterr().out
    assert "`toy_benchmarks.Work.time_work(n=200, kind='a')`" in (tmp_path / "index.md").read_text()


def test_a_panel_per_series_with_units_and_the_year(table):
    pages = list(chart_figures(table))
    assert [p.name for p, _ in pages] == ["toy.png", "summary.png"]
    page, fig = pages[0]
    # one panel per successful benchmark x params: the failed and the skipped one are not drawn
    titles = [ax.get_title(loc="left") for ax in fig.get_axes()]
    assert titles[0] == "1. Work.time_work(200, a)" and "5. time_plain" in titles and len(titles) == 6
    assert page.panels[0] == "toy_benchmarks.Work.time_work(n=200, kind='a')"
    render_png(fig)  # tick labels exist once drawn
    ax = fig.get_axes()[0]
    assert any(t.get_text().endswith("µs") for t in ax.get_yticklabels())
    dates = [t.get_text() for t in ax.get_xticklabels()] + [ax.xaxis.get_offset_text().get_text()]
    assert any(re.search(r"\b2026\b", d) for d in dates)  # the year is on the axis
    assert fig.legends and not ax.get_legend()  # the legend sits outside the panels


def test_a_long_unit_names_the_y_axis_instead_of_every_tick():
    t = synthetic_table(2, 6, keys=KEYS[:1], comps=("alpha",))
    t.loc[t["benchmark"] == t["benchmark"].iloc[0], ["type", "unit"]] = ["track", "USD/1k tokens"]
    (_, fig) = next(iter(chart_figures(t)))
    render_png(fig)
    axes = {ax.get_title(loc="left").split(". ", 1)[1]: ax for ax in fig.get_axes()}
    long_unit, seconds = (axes[k] for k in sorted(axes))  # benchmark 0 (track), benchmark 1 (time)
    ticks = [t.get_text() for t in long_unit.get_yticklabels() if t.get_text()]
    assert long_unit.get_ylabel() == "USD/1k tokens" and ticks
    assert all("USD" not in t and len(t) <= charts.MAX_TICK_CHARS for t in ticks)
    assert seconds.get_ylabel() == "" and all(t.get_text().endswith("s") for t in seconds.get_yticklabels())
    assert unit_name("relative") == "× ref" and unit_name("instructions") == "instr"  # as the ticks print them


def test_large_history_pages_stay_under_2000_px(big_pages):
    names = [page.name for page, _ in big_pages]
    assert names == ["alpha.png", "alpha-2.png", "beta.png", "beta-2.png", "summary.png"]
    for _, fig in big_pages:
        assert fig.get_figheight() * fig.dpi <= charts.MAX_HEIGHT_PX
    assert [page.first for page, _ in big_pages[:2]] == [1, 19]  # panel numbers run on across pages
    tallest = max(big_pages, key=lambda pf: pf[1].get_figheight())[1]
    w, h = _png_size(render_png(tallest))
    assert (w, h) == (1600, round(tallest.get_figheight() * tallest.dpi)) and h <= 2000


def test_one_line_per_machine_environment_same_colour_everywhere(big_pages):
    colour_of: dict[str, tuple] = {}
    for _, fig in big_pages:
        for ax in fig.get_axes():
            lines = _series_lines(ax)
            gids = sorted(line.get_gid() for line in lines)
            assert gids == sorted("/".join(k) for k in KEYS)  # never two environments in one line
            for line in lines:
                assert colour_of.setdefault(line.get_gid(), line.get_color()) == line.get_color()
    assert len(set(colour_of.values())) == len(KEYS)
    legend = {t.get_text() for t in big_pages[0][1].legends[0].get_texts()}
    assert {"m1 · py3.10", "m1 · py3.11", "m2 · py3.11"} <= legend  # tokens all environments share dropped


def test_marks_are_drawn_where_they_apply(big_pages):
    first_panel = big_pages[0][1].get_axes()[0]
    regressed = [ln for ln in first_panel.get_lines() if ln.get_gid() == "mark:regressed"]
    assert [ln.get_label() for ln in regressed] == ["+12.5%"]
    assert "+12.5%" in {t.get_text().strip() for t in first_panel.texts}
    all_axes = [ax for _, fig in big_pages for ax in fig.get_axes()]
    assert sum(ln.get_gid() == "mark:regressed" for ax in all_axes for ln in ax.get_lines()) == 2  # panel + summary
    # the shift shades every panel of m2 (each has an m2 line), summary panels included
    shaded = [ax for ax in all_axes if any(p.get_gid() == "mark:shift" for p in ax.patches)]
    assert len(shaded) == len(all_axes)
    assert not any(ln.get_label() == "not charted" for ax in all_axes for ln in ax.get_lines())
    labels = [t.get_text() for t in big_pages[0][1].legends[0].get_texts()]
    assert "regressed (change point)" in labels and "environment shift" in labels


def test_marks_from_findings():
    ev = Evidence(commit_before="a" * 40, commit_after="b" * 40)
    base = Finding(benchmark="c_benchmarks.time_x", machine="m", environment="e", mode="history", evidence=ev)
    findings = [
        base.replace(verdict="regressed", change_pct=12.34),
        base.replace(verdict="improved", change_pct=-8.0, mode="sessions", params="n=1"),
        base.replace(verdict="unchanged"),
        base.replace(verdict="regressed", mode="pairwise"),  # no commit to point at
        base.replace(verdict="regressed").with_evidence(confirmed=False),  # refuted by re-measuring
    ]
    marks = marks_from_findings(findings)
    assert marks == [
        Mark("m", "e", "c_benchmarks.time_x", "", "b" * 40, "regressed", "+12.3%"),
        Mark("m", "e", "c_benchmarks.time_x", "n=1", "b" * 40, "improved", "-8.0%"),
    ]
    with pytest.raises(ValueError, match="kind"):
        Mark("m", "e", None, None, "b" * 40, "slower")


def test_write_charts_names_pages_writes_index_and_drops_stale_pages(table, tmp_path, monkeypatch):
    monkeypatch.setattr(charts, "_MAX_ROWS", 1)  # three panels a page: toy's six make two pages
    (tmp_path / "toy-3.png").write_bytes(b"left from a longer history")
    (tmp_path / "toy-notes.png").write_bytes(b"not a page")
    written = write_charts(table, tmp_path)
    assert [p.name for p, _ in written] == ["toy.png", "toy-2.png", "summary.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "index.md",
        "summary.png",
        "toy-2.png",
        "toy-notes.png",
        "toy.png",
    ]
    index = (tmp_path / "index.md").read_text()
    assert "## toy-2.png" in index and "4. `toy_benchmarks.peakmem_list`" in index
    assert "| existing-py_python3 | `toymachine / existing-py_python3` |" in index  # what a legend entry means


def test_the_report_embeds_every_page_with_its_panel_names(tmp_path, monkeypatch):
    monkeypatch.setattr(charts, "_MAX_ROWS", 1)
    assert main(["report", "--results-dir", str(DATA), "--output-dir", str(tmp_path)]) == 0
    md = next((tmp_path / "reports").glob("performance_report_*.md")).read_text()
    assert "![toy trend](../charts/toy.png)" in md and "![toy trend, page 2](../charts/toy-2.png)" in md
    assert "Panels of `toy-2.png`: 4. `toy_benchmarks.peakmem_list`" in md
    html = next((tmp_path / "reports").glob("performance_report_*.html")).read_text()
    assert html.count("data:image/png;base64,") == 3  # summary + two pages


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
    rel = relative_cost(chart_points(load_results(tmp_path)))
    # time up by f, rate down by f: every series costs f more -> geometric mean f
    assert np.allclose(rel["relative_cost"].to_numpy(), [1.0, 1.1, 1.21])
    assert set(rel["machine"]) == {"m1"} and (rel["n_series"] == 3).all()


def test_helpers(table):
    assert series_label("router_benchmarks.Route.time_route", "n=1, s='cost'") == "Route.time_route(1, cost)"
    assert series_label("router_benchmarks.Route.time_route", "", with_class=False) == "time_route"
    long = series_label("m.C." + "x" * 100, "n=10, kind='a'")
    assert len(long) <= 60 and long.endswith("(10, a)")
    assert ellipsize("abcdefghij", 5) == "ab…ij"
    assert _use_log(np.array([1.0, 100.0])) and not _use_log(np.array([1.0, 2.0]))
    assert components(table) == ["toy"]
    assert [len(p) for p in paginate(list(range(25)), 18)] == [15, 10]
    assert [len(p) for p in paginate(list(range(7)), 18)] == [7]
    names = line_names([("m", "conda-py3.8-numpy"), ("m", "conda-py3.9-numpy")])
    assert names == {("m", "conda-py3.8-numpy"): "py3.8", ("m", "conda-py3.9-numpy"): "py3.9"}
    assert line_names([("m", "virtualenv-py3.11")]) == {("m", "virtualenv-py3.11"): "virtualenv-py3.11"}
    nov, mar = (mdates.date2num(pd.Timestamp(d)) for d in ("2021-11-01", "2022-03-26"))
    assert date_axis(nov, mar).labels[:3] == ["Nov", "Dec", "2022"] and date_axis(nov, mar).offset == "2021–2022"
    styles = line_styles([("m", f"env-{i:02d}") for i in range(17)])
    assert len({c for c, _ in styles.values()}) == 16 and styles[("m", "env-16")] == (styles[("m", "env-00")][0], "--")
