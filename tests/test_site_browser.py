"""The published asv site, made offline by `python -m tools site`, in headless Chromium.

Builds a toy asv project (3 commits, 2 benchmarks, a deliberate regression in the last
commit), runs asv on it in the current interpreter, publishes, vendors the libraries, serves
the site on 127.0.0.1 and checks that the grid, one graph page and the regressions page render
with data, with no JavaScript error and no request leaving 127.0.0.1. Screenshots go to
``test-artifacts/site/``.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "site"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# Flags from ASV_NOTES: no sandbox (root in containers), nothing that phones home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MACHINE = "toy-machine"
BENCH_GRAPH = "bench.TimeSuite.time_sleep"

pytestmark = pytest.mark.slow


def _need_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{CHROMIUM} missing in CI: install it (apt-get install -y chromium)")
    pytest.skip(f"{CHROMIUM} not installed (apt-get install -y chromium); required when CI=true")


# asv --python=same runs the working tree's benchmarks and labels the results with
# --set-commit-hash, so no environment is built. The benchmark *code* must stay the same
# across commits (asv publish drops results of other benchmark versions); what changes is the
# workload file the "library" commit ships.
BENCH_CODE = """
import json
import time
from pathlib import Path

WORKLOAD = json.loads((Path(__file__).parent / "workload.json").read_text())


class TimeSuite:
    params = [1, 2]
    param_names = ["size"]
    number = 1
    repeat = (1, 3, 1.0)
    rounds = 1
    warmup_time = 0

    def time_sleep(self, size):
        time.sleep(WORKLOAD["delay"] * size)


def track_queue_length():
    return WORKLOAD["length"]
track_queue_length.unit = "items"
"""
COMMITS = [  # (delay seconds, tracked value); the third commit regresses both
    (0.002, 10),
    (0.002, 10),
    (0.008, 40),
]


def _run(cmd, cwd, env):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def published_site(tmp_path_factory, request):
    _need_chromium()
    proj = tmp_path_factory.mktemp("toy")
    home = proj / "home"
    home.mkdir()
    env = {
        **os.environ,
        "HOME": str(home),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    repo = proj / "repo"
    (repo / "benchmarks").mkdir(parents=True)
    (repo / "benchmarks" / "__init__.py").write_text("")
    (repo / "asv.conf.json").write_text(
        json.dumps(
            {
                "version": 1,
                "project": "toy",
                "project_url": "http://127.0.0.1/",
                "repo": ".",
                "branches": ["main"],
                "dvcs": "git",
                "environment_type": "virtualenv",
                "benchmark_dir": "benchmarks",
                "results_dir": ".asv/results",
                "html_dir": ".asv/html",
                "env_dir": ".asv/env",
            }
        )
    )
    asv = [sys.executable, "-m", "asv"]
    _run(["git", "init", "-q", "-b", "main"], repo, env)
    _run(asv + ["machine", "--yes", "--machine", MACHINE], repo, env)
    for i, (delay, length) in enumerate(COMMITS):
        (repo / "benchmarks" / "bench.py").write_text(BENCH_CODE)
        (repo / "benchmarks" / "workload.json").write_text(json.dumps({"delay": delay, "length": length}))
        _run(["git", "add", "-A"], repo, env)
        # distinct commit dates: the site orders commits by date
        date = f"2026-01-0{i + 1}T12:00:00+00:00"
        _run(
            ["git", "commit", "-q", "-m", f"commit {i}"],
            repo,
            {**env, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date},
        )
        sha = _run(["git", "rev-parse", "HEAD"], repo, env).strip()
        _run(
            asv
            + [
                "run",
                "--python=same",
                f"--set-commit-hash={sha}",
                "--machine",
                MACHINE,
                "--launch-method",
                "forkserver",
            ],
            repo,
            env,
        )
    _run(asv + ["publish"], repo, env)
    html = repo / ".asv" / "html"
    # npm's download is kept between runs in pytest's cache dir (git-ignored) when there is one
    cache_plugin = getattr(request.config, "cache", None)
    cache = Path(cache_plugin.mkdir("asv-vendor-cache")) if cache_plugin else tmp_path_factory.mktemp("vendor-cache")
    out = _run(
        [sys.executable, "-m", "tools", "site", "--html-dir", str(html), "--cache-dir", str(cache)], ROOT, os.environ
    )
    assert "works offline" in out
    return html


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """``directory`` served on 127.0.0.1 at a free port (its URL), stopped on exit."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def server(published_site):
    with serve(published_site) as url:
        yield url


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep pytest output readable
        pass


@pytest.fixture(scope="module")
def browser():
    _need_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class PageWatch:
    """Every request, failed response, console error and page error of one page."""

    def __init__(self, page, origin):
        self.origin = origin
        self.requests: list[str] = []
        self.bad: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("requestfailed", lambda r: self.bad.append(f"{r.url}: {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.bad.append(f"{r.url}: HTTP {r.status}"))
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def check(self):
        outside = [u for u in self.requests if not (u.startswith(self.origin + "/") or u.startswith("data:"))]
        assert outside == [], f"requests left 127.0.0.1: {outside}"
        assert self.bad == [], f"failed requests: {self.bad}"
        assert self.errors == [], f"JavaScript errors: {self.errors}"


@pytest.fixture()
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    watch = PageWatch(pg, server)
    yield pg, watch, server
    context.close()


def _shot(pg, name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


def test_index_has_no_cdn_left(published_site):
    text = (published_site / "index.html").read_text()
    assert "cdnjs" not in text and "jsdelivr" not in text and "code.jquery.com" not in text
    assert (published_site / "vendor" / "jquery@3.3.1" / "dist" / "jquery.min.js").is_file()


def test_grid_renders_every_benchmark(page):
    pg, watch, origin = page
    pg.goto(origin + "/", wait_until="networkidle")
    pg.wait_for_selector(".benchmark-text", timeout=15_000)
    names = pg.locator(".benchmark-text").all_inner_texts()
    assert any("time_sleep" in n for n in names) and any("track_queue_length" in n for n in names), names
    assert pg.url.endswith("/") or "error.html" not in pg.url
    # the small summary plots are drawn from data (flot canvases)
    pg.wait_for_function(
        "document.querySelectorAll('.benchmark-container canvas, canvas.flot-base').length > 0", timeout=15_000
    )
    _shot(pg, "grid")
    assert any("/graphs/summary/" in u for u in watch.requests)
    watch.check()


def test_graph_page_plots_data(page):
    pg, watch, origin = page
    pg.goto(f"{origin}/#{BENCH_GRAPH}", wait_until="networkidle")
    pg.wait_for_selector("#main-graph canvas.flot-base", timeout=15_000)
    assert (
        pg.locator("#title").inner_text().strip().endswith(BENCH_GRAPH.split(".")[-1])
        or BENCH_GRAPH in pg.locator("#title").inner_text()
    )
    graph_json = [u for u in watch.requests if "/graphs/" in u and "time_sleep" in u and "summary" not in u]
    assert graph_json, watch.requests
    # flot keeps the plotted series: 3 commits in each line
    n_points = pg.evaluate(
        "() => { const p = $('#main-graph').data('plot'); "
        "return p ? p.getData().map(s => s.data.filter(d => d[1] !== null).length) : null; }"
    )
    assert n_points and max(n_points) == len(COMMITS), n_points
    _shot(pg, "graph")
    watch.check()


def test_regressions_page_lists_the_regression(page):
    pg, watch, origin = page
    pg.goto(f"{origin}/#regressions", wait_until="networkidle")
    pg.wait_for_selector("#regressions-body table tbody tr", timeout=15_000)
    rows = pg.locator("#regressions-body table tbody tr").all_inner_texts()
    # the tracked value is deterministic (10 -> 40): asv's step detection must flag it
    row = next((r for r in rows if "bench.track_queue_length" in r), None)
    assert row is not None, rows
    assert "4.00x" in row and "10.0 items" in row and "40.0 items" in row, row
    _shot(pg, "regressions")
    watch.check()
