"""The dashboard at scale: 1,000 commits x 300 results in headless Chromium, from ``file://``.

The measurement behind docs/measurements.md (run it with ``-s`` to see the figures):

    .venv/bin/python -m pytest -m slow tests/test_dashboard_scale.py -s

It synthesises the results (``_tools_testkit.synthesize_results``), builds the dashboard with
pairwise verdicts (``--no-history``: change points add a few kB of findings, not load time, and
take a minute on this machine), then opens it cold in a new browser context three times per view
and reads when the page became interactive (``window.DASHBOARD_READY_MS``, ms since navigation
start: data decoded, view rendered, handlers attached). Pan/zoom: the benchmark chart redrawn at
40 zoom and pan steps, each timed synchronously (``uPlot.batch``). Targets: interactive in
<= 2 s (the median of a view's three loads), data <= 10 MB, a redraw well inside a 60 Hz frame. Figures go to
``test-artifacts/dashboard/scale.json``.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest
from _tools_testkit import synthesize_results
from test_dashboard import npm_cache
from test_dashboard_browser import ARTIFACTS, READY, Watch
from test_site_browser import CHROMIUM, CHROMIUM_ARGS, _need_chromium

from tools.__main__ import main

N_COMMITS, N_RESULTS = 1000, 304  # synthesize_results: 152 plain + 38 x 4 parameterised
BENCH = "comp0_benchmarks.Param0.time_sized0"
ZOOM_STEPS = """async () => {
  const u = Dash.currentChart, n = u.data[0].length, times = [];
  for (let i = 0; i < 40; i++) {
    const w = i < 20 ? n - i * (n / 25) : n / 5, lo = i < 20 ? i * (n / 50) : (i - 20) * (n / 30);
    const t0 = performance.now();
    u.batch(() => u.setScale("x", { min: lo, max: lo + w }));
    times.push(performance.now() - t0);
    await new Promise(requestAnimationFrame);
  }
  return times;
}"""

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def big_dashboard(tmp_path_factory, request) -> Path:
    _need_chromium()
    cache = npm_cache(request, tmp_path_factory)
    work = tmp_path_factory.mktemp("dash-scale")
    synthesize_results(work / "results", N_COMMITS, N_RESULTS, samples=0)
    args = ["--results-dir", str(work / "results"), "--no-cache", "--no-history", "--cache-dir", str(cache)]
    assert main(["dashboard", *args, "--out", str(work / "dashboard")]) == 0
    return work / "dashboard"


def _ready_ms(browser, url: str, folder: str) -> float:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    watch = Watch(context, page, folder)
    page.goto(url)
    page.wait_for_function(READY, timeout=30_000)
    ms = page.evaluate("window.DASHBOARD_READY_MS")
    watch.check()
    context.close()
    return ms


def test_thousand_commits_three_hundred_results(big_dashboard):
    from playwright.sync_api import sync_playwright

    data_bytes = sum(p.stat().st_size for p in (big_dashboard / "data").iterdir())
    folder = big_dashboard.as_uri() + "/"
    views = {"overview": "#view=overview", "benchmark": f"#view=bench&b={BENCH}", "compare": "#view=compare"}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            ready = {
                v: [_ready_ms(browser, folder + "index.html" + h, folder) for _ in range(3)] for v, h in views.items()
            }
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            page.goto(folder + "index.html" + views["benchmark"])
            page.wait_for_function(READY, timeout=30_000)
            redraw = page.evaluate(ZOOM_STEPS)
            context.close()
        finally:
            browser.close()
    figures = {
        "commits": N_COMMITS,
        "results": N_RESULTS,
        "data_mb": round(data_bytes / 1e6, 2),
        "ready_ms": {v: [round(x) for x in xs] for v, xs in ready.items()},
        "redraw_ms": {"median": round(statistics.median(redraw), 1), "max": round(max(redraw), 1)},
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "scale.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures))
    assert data_bytes <= 10e6
    # the target holds for the median of each view's three cold loads: one load slowed by a busy
    # shared machine is recorded in scale.json, but does not by itself fail the check
    assert max(statistics.median(xs) for xs in ready.values()) <= 2000, figures
    assert statistics.median(redraw) <= 16, figures
