"""The dashboard in headless Chromium, opened from ``file://`` as someone would open the folder.

Built by ``python -m tools dashboard`` from the project of ``test_dashboard.make_project`` (two
environments, a step, a shift, a regressed instruction count, a benchmark named ``<script>``, load
results, a profile). Every test fails on a console error, a page error, or any request that
leaves the dashboard's folder (all requests are routed; those outside are aborted and recorded).
A screenshot of each view goes to ``test-artifacts/dashboard/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_dashboard import EVIL, EVIL_MESSAGE, EVIL_PARAM, ROUTE, make_project, npm_cache
from test_site_browser import (  # noqa: F401 (browser, published_site: fixtures)
    _need_chromium,
    browser,
    published_site,
    serve,
)

from tools.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
READY = "document.documentElement.dataset.ready === '1'"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dashboard(tmp_path_factory, request) -> Path:
    _need_chromium()
    cache = npm_cache(request, tmp_path_factory)
    repo, _ = make_project(tmp_path_factory.mktemp("dash-browser"))
    mp = pytest.MonkeyPatch()
    mp.chdir(repo)
    try:
        assert main(["dashboard", "--no-cache", "--cache-dir", str(cache), "--out", "site/dashboard"]) == 0
    finally:
        mp.undo()
    return repo / "site" / "dashboard"


class Watch:
    """Every request outside the folder (aborted), console error, page error and dialog."""

    def __init__(self, context, page, folder: str):
        self.folder = folder
        self.outside: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        context.route("**/*", self._route)
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))

    def _route(self, route):
        url = route.request.url
        if url.startswith(self.folder) or url.startswith("data:"):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def check(self):
        assert self.outside == [], f"requests left the dashboard's folder: {self.outside}"
        assert self.errors == [], f"console / page errors: {self.errors}"
        assert self.dialogs == [], f"a dialog opened (script injection?): {self.dialogs}"


@pytest.fixture()
def page(browser, dashboard):  # noqa: F811 (browser: the fixture of test_site_browser)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    watch = Watch(context, pg, dashboard.as_uri() + "/")
    yield pg, watch, dashboard.as_uri() + "/index.html"
    watch.check()
    context.close()


def _open(pg, url: str) -> None:
    pg.goto(url)
    pg.wait_for_function(READY, timeout=20_000)


def _shot(pg, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _shown(pg, part: str, absent: bool = False) -> None:
    """Wait until the page has rendered a state whose hash has ``part`` (or lacks it): the hash
    changes first and the view re-renders on the hashchange event after it."""
    test = f"(document.documentElement.dataset.rendered || '').includes({part!r})"
    pg.wait_for_function(f"!{test}" if absent else test)


def _rows(pg) -> list[str]:
    return pg.locator("#view-overview table.data:not(.counts) tbody tr").all_inner_texts()


def test_overview_filters_and_shows_suite_health(page):
    pg, watch, url = page
    _open(pg, url)
    assert len(_rows(pg)) == 16  # 8 series on each of two environments
    health = pg.locator("section[aria-label='Suite health']").inner_text()
    assert "router" in health and "instructions" in health
    assert "virtualenv-py3.12" in pg.locator("section[aria-label='Environment shifts']").inner_text()
    _shot(pg, "overview")
    pg.fill("#f-q", "track_route_instructions")
    _shown(pg, "q=track_route_instructions")
    assert len(_rows(pg)) == 4
    pg.select_option("#f-verdict", "regressed")
    _shown(pg, "verdict=regressed")
    rows = _rows(pg)
    assert len(rows) == 2 and all("regressed" in r and "strategy='cost'" in r for r in rows)
    pg.click("#f-clear")
    _shown(pg, "verdict=", absent=True)
    assert len(_rows(pg)) == 16
    # one click from a count of the health table to the series it counts
    pg.locator("button.count.v-regressed").first.click()
    _shown(pg, "verdict=regressed")
    assert all("regressed" in r for r in _rows(pg))


def test_open_a_benchmark_and_switch_channel(page):
    pg, watch, url = page
    _open(pg, url + "#view=overview&q=time_route")
    pg.locator("#view-overview table.data:not(.counts) tbody tr a", has_text=ROUTE).first.click()
    pg.wait_for_selector("#history-chart canvas", timeout=10_000)
    assert "view=bench" in pg.evaluate("location.hash")
    assert pg.locator("#b-channel").input_value() == ROUTE
    assert pg.locator("fieldset.lines input[type=checkbox]").count() == 2
    links = pg.locator("p.links a").all_inner_texts()
    assert "graph in the asv site" in links and any(t.startswith("profile: diff.md") for t in links)
    _shot(pg, "benchmark")
    pg.select_option("#b-channel", label="instructions")
    _shown(pg, "track_route_instructions")
    pg.wait_for_selector("#history-chart canvas")
    assert "instructions" in pg.locator("#view-bench .subtitle").inner_text()
    assert pg.locator("#b-params").input_value() == "strategy='cost'"  # the parameters stay
    table = pg.locator("#view-bench table.data").inner_text()
    assert "regressed" in table and "+10%" in table
    # a line toggled off is remembered in the link
    pg.locator("fieldset.lines input[type=checkbox]").first.uncheck()
    _shown(pg, "hide=0")


def test_hover_shows_the_change_point_and_its_verdict(page):
    pg, watch, url = page
    _open(pg, url + f"#view=bench&b={ROUTE}&p=strategy%3D'cost'")
    box = pg.locator("#history-chart .u-over").bounding_box()
    text = ""
    for i in range(59, -1, -1):  # sweep from the newest commit until the cursor sits on the change point's
        pg.mouse.move(box["x"] + box["width"] * i / 59, box["y"] + box["height"] / 2)
        text = pg.locator("#view-bench .tooltip").inner_text()
        if "change point" in text:
            break
    assert "change point regressed" in text and "+3" in text, text
    _shot(pg, "benchmark-hover")


def test_deep_link_restores_the_view(page):
    pg, watch, url = page
    _open(pg, url + "#view=bench&b=router_benchmarks.Route.track_route_relative&p=strategy%3D'latency'&log=1&hide=1")
    assert pg.locator("#b-channel").input_value() == "router_benchmarks.Route.track_route_relative"
    assert pg.locator("#b-params").input_value() == "strategy='latency'"
    assert pg.locator("#b-log").is_checked()
    assert not pg.locator("#line-1").is_checked() and pg.locator("#line-0").is_checked()
    _open(pg, url + "#view=overview&q=Memory&chan=memory&sort=env&dir=asc")
    assert pg.locator("#f-q").input_value() == "Memory" and pg.locator("#f-chan").input_value() == "memory"
    assert pg.locator("th[aria-sort=ascending]").inner_text().startswith("machine")
    assert len(_rows(pg)) == 2
    pg.go_back()  # the browser's history walks the views
    pg.wait_for_selector("#history-chart canvas")


def test_compare_two_commits_sorted_and_filtered(page):
    pg, watch, url = page
    _open(pg, url + "#view=compare")
    rows = pg.locator("#view-compare tbody tr")
    assert rows.count() == 8
    assert "regressed" in pg.locator("#view-compare tbody").inner_text()  # the pair the detectors compared
    pg.click("#view-compare th button[data-key=ratio]")
    _shown(pg, "sort=ratio")
    first = rows.first.inner_text()
    assert "track_route_instructions" in first and "×1.100" in first
    # two environments at one commit
    pg.select_option("#c-be", label="ci-box / virtualenv-py3.12")
    _shown(pg, "be=")
    assert "×1.2" in pg.locator("#view-compare tbody").inner_text()  # the new runner's +25%
    pg.fill("#f-q", "peakmem")
    _shown(pg, "q=peakmem")
    assert rows.count() == 1
    _shot(pg, "compare")


def test_load_view(page):
    pg, watch, url = page
    _open(pg, url + "#view=load")
    sections = pg.locator("#view-load section h2").all_inner_texts()
    assert sections == ["Target: direct <b>", "Target: gateway"]
    assert pg.locator("#view-load canvas").count() >= 4
    _shot(pg, "load")


def test_names_params_and_messages_render_as_text(page):
    pg, watch, url = page
    _open(pg, url + "#view=overview&q=evil")
    link = pg.locator("#view-overview tbody a", has_text="<script>").first
    assert link.inner_text() == EVIL
    assert all(EVIL_PARAM in r for r in _rows(pg))
    link.click()
    pg.wait_for_selector("#history-chart canvas")
    assert pg.locator("#view-bench h2").inner_text() == "evil_benchmarks.<script>alert(1)</script>.x"
    assert pg.locator("#view-bench img").count() == 0
    assert pg.locator("main script").count() == 0
    newest = pg.locator("p.links a", has_text="(2026-01-20)")
    assert newest.get_attribute("title") == EVIL_MESSAGE
    assert pg.locator("#title").inner_text() == "toy <i>project</i> — benchmark dashboard"


def test_keyboard_and_labels(page):
    pg, watch, url = page
    _open(pg, url)
    unlabelled = pg.evaluate(
        """() => Array.from(document.querySelectorAll('input, select, button')).filter(
            (el) => !(el.labels && el.labels.length) && !el.getAttribute('aria-label') && !el.textContent.trim()
        ).map((el) => el.outerHTML.slice(0, 80))"""
    )
    assert unlabelled == []
    seen = []
    for _ in range(12):
        pg.keyboard.press("Tab")
        seen.append(pg.evaluate("document.activeElement.id || document.activeElement.textContent"))
    assert {"f-comp", "f-chan", "f-verdict", "f-q"} <= set(seen), seen
    first = pg.locator("#view-overview tbody a").first
    first.focus()
    pg.keyboard.press("Enter")
    pg.wait_for_selector("#history-chart canvas")
    pg.focus("#history-chart")
    width = "(() => { const x = Dash.currentChart.scales.x; return x.max - x.min; })()"
    full = pg.evaluate(width)
    pg.keyboard.press("+")
    assert pg.evaluate(width) < full
    low = "Dash.currentChart.scales.x.min"
    start = pg.evaluate(low)
    box = pg.locator("#history-chart .u-over").bounding_box()
    pg.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    pg.keyboard.down("Shift")
    pg.mouse.wheel(0, 100)  # shift + wheel pans
    pg.keyboard.up("Shift")
    pg.wait_for_function(f"{low} > {start}")
    pg.keyboard.press("ArrowLeft")
    pg.keyboard.press("0")
    assert pg.evaluate(width) == full
    _shot(pg, "keyboard")


# ---------------------------------------------------------------- beside a real asv site


@pytest.fixture(scope="module")
def site_with_dashboard(published_site, tmp_path_factory, request):  # noqa: F811 (the fixture imported above)
    """The toy site of test_site_browser (asv run + publish + offline step), then the dashboard
    built into it as the main job does, serving both on 127.0.0.1."""
    cache = npm_cache(request, tmp_path_factory)
    repo = published_site.parent.parent  # <repo>/.asv/html
    mp = pytest.MonkeyPatch()
    mp.chdir(repo)
    try:
        assert main(["dashboard", "--no-cache", "--cache-dir", str(cache)]) == 0
    finally:
        mp.undo()
    with serve(published_site) as url:
        yield url


def test_the_asv_site_and_the_dashboard_link_each_other(browser, site_with_dashboard):  # noqa: F811
    origin = site_with_dashboard
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    watch = Watch(context, pg, origin + "/")
    pg.goto(origin + "/")
    pg.wait_for_selector(".benchmark-text", timeout=15_000)
    pg.click("#nav-li-dashboard a")
    pg.wait_for_function(READY, timeout=20_000)
    assert pg.url.startswith(origin + "/dashboard/index.html")
    assert len(_rows(pg)) >= 3  # time_sleep(1), time_sleep(2), track_queue_length
    _shot(pg, "beside-asv-site")
    pg.click("#asv-link")
    pg.wait_for_selector(".benchmark-text", timeout=15_000)
    assert pg.url.rstrip("/") in (origin, origin + "/index.html")
    watch.check()
    context.close()
