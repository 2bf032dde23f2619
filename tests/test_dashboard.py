"""The dashboard's Python side: families, the data builder (a pure function of table and findings),
the packed points, both sources of findings, links, the writer's guards and the command.

``make_project`` is also the browser tests' fixture (tests/test_dashboard_browser.py): a git repo
whose commits carry results of two environments, a step in the history, a regressed instruction
count at the newest commit, a benchmark named ``<script>``, load results and a profile.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from _tools_testkit import commit_all, git, write_results

from tools.dashboard import data as dashboard_data
from tools.dashboard import encode, extras, families, links, writer
from tools.dashboard.detection import from_report, run_detectors
from tools.errors import ToolError
from tools.loader import load_results
from tools.revisions import with_history_order

ROOT = Path(__file__).resolve().parents[1]
MACHINE = "ci-box"
ENVS = ("virtualenv-py3.11", "virtualenv-py3.12")
N_COMMITS = 20
STEP_AT = 13  # time_route(strategy='cost') is 30% slower from this commit on
SHIFT_AT = 6  # the second environment's timings all step +25% here (a new runner): a shift
EVIL = "evil_benchmarks.<script>alert(1)</script>.time_x"
EVIL_PARAM = "'<img src=x onerror=alert(2)>'"
EVIL_MESSAGE = "Fix <script>alert(3)</script> & friends"
ROUTE = "router_benchmarks.Route.time_route"
BENCHMARKS = {
    ROUTE: {"type": "time", "unit": "seconds", "params": [["'cost'", "'latency'"]], "param_names": ["strategy"]},
    "router_benchmarks.Route.track_route_relative": {
        "type": "track", "unit": "relative", "params": [["'cost'", "'latency'"]], "param_names": ["strategy"]},
    "router_benchmarks.Route.track_route_instructions": {
        "type": "track", "unit": "instructions", "params": [["'cost'", "'latency'"]], "param_names": ["strategy"]},
    "memory_benchmarks.Memory.peakmem_add": {"type": "peakmem", "unit": "bytes", "params": [], "param_names": []},
    EVIL: {"type": "time", "unit": "seconds", "params": [[EVIL_PARAM]], "param_names": ["<b>name</b>"]},
}  # fmt: skip
for _name, _meta in BENCHMARKS.items():
    _meta.update(name=_name, version="1")


def _values(commit: int, env: int, rng: np.random.Generator) -> dict[str, list[float]]:
    shift = 1.25 if env == 1 and commit >= SHIFT_AT else 1.0
    noise = lambda: shift * float(rng.lognormal(0, 0.01))  # noqa: E731
    step = 1.3 if commit >= STEP_AT else 1.0
    last = commit == N_COMMITS - 1
    return {
        ROUTE: [1e-3 * step * noise(), 2e-3 * noise()],
        "router_benchmarks.Route.track_route_relative": [5.0 * step * noise(), 9.0 * noise()],
        "router_benchmarks.Route.track_route_instructions": [1e6 * (1.1 if last else 1.0), 2e6],
        "memory_benchmarks.Memory.peakmem_add": [50e6 * noise()],
        EVIL: [3e-6 * noise()],
    }


def make_project(root: Path) -> tuple[Path, list[str]]:
    """A git repo with results of N_COMMITS commits on two environments, load results and a profile."""
    repo = root / "proj"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    hashes = []
    for i in range(N_COMMITS):
        (repo / "file.txt").write_text(str(i))
        message = EVIL_MESSAGE if i == N_COMMITS - 1 else f"change {i}"
        hashes.append(commit_all(repo, message, f"2026-01-{i + 1:02d}T12:00:00+00:00"))
    (repo / "asv.conf.json").write_text(
        json.dumps({"version": 1, "project": "toy <i>project</i>", "repo": ".", "branches": ["main"],
                    "results_dir": "results", "html_dir": "html", "show_commit_url": "https://example.org/c/"})
    )  # fmt: skip
    rng = np.random.default_rng(1)
    for e, env in enumerate(ENVS):
        runs = [
            {"commit": h, "date": 1767268800000 + i * 86_400_000, "values": _values(i, e, rng)}
            for i, h in enumerate(hashes)
        ]
        write_results(repo / "results", BENCHMARKS, runs, machine=MACHINE, env=env)
    _write_extras(repo / "metrics" / "performance")
    return repo, hashes


def _write_extras(out: Path) -> None:
    (out / "load").mkdir(parents=True)
    lines = ["target,users,requests,failures,rps,p50_ms,p95_ms,p99_ms,overhead_p50_ms,overhead_p95_ms,"
             "overhead_p99_ms,cpu_pct,rss_mb"]  # fmt: skip
    for target, scale in (("gateway", 1.0), ("direct <b>", 0.8)):
        for users in (1, 2, 4, 8):
            lat = scale * (10 + users)
            lines.append(f"{target},{users},{users * 100},0,{users * 90 / scale:.1f},{lat},{lat * 2},{lat * 3},"
                         f"1.0,2.0,3.0,{users * 10},{100 + users}")  # fmt: skip
    (out / "load" / "load_results_2026-01-01_00-00-00.csv").write_text("\n".join(lines) + "\n")
    prof = out / "profiles" / f"{ROUTE}--strategy=cost"
    prof.mkdir(parents=True)
    (prof / "diff.md").write_text("# profile diff\n")
    (prof / "diff.json").write_text(json.dumps({"benchmark": ROUTE, "params": "strategy='cost'"}))
    (prof / "head.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("dash"))


@pytest.fixture(scope="module")
def table(project):
    repo, _ = project
    return with_history_order(load_results(repo / "results"), repo, "main")


@pytest.fixture(scope="module")
def detection(table):
    return run_detectors(table, q=0.05, history=True)


@pytest.fixture(scope="module")
def built(table, detection, project):
    repo, hashes = project
    profiles, _ = extras.find_profiles(repo / "metrics" / "performance" / "profiles")
    load = extras.read_load(extras.newest_load_csv(repo / "metrics" / "performance" / "load"))
    more = dashboard_data.Extras(messages=extras.commit_messages(repo, hashes), profiles=profiles, load=load)
    return dashboard_data.build_data(table, detection, more)


def _series(meta: dict, benchmark: str, params: str, env: str) -> int:
    s = meta["series"]
    b = meta["benchmarks"]["name"].index(benchmark)
    e = meta["envs"]["environment"].index(env)
    return next(
        i for i in range(len(s["env"])) if s["benchmark"][i] == b and s["params"][i] == params and s["env"][i] == e
    )


# ---------------------------------------------------------------- families


def test_families_group_a_workload_and_its_channels():
    assert families.family_of(ROUTE) == families.family_of("router_benchmarks.Route.track_route_instructions")
    assert families.family_of("a.B.peakmem_x") == families.family_of("a.B.track_x_cpu_time") == "a.B.x"
    assert families.family_of("a.B.track_top3_hit_rate") == "a.B.top3_hit_rate"
    assert families.family_of("weird name") == "weird name"
    members = [(ROUTE, "time", "seconds"), ("m.C.track_route_relative", "track", "relative"),
               ("m.C.track_route_instructions", "track", "instructions"), ("m.C.peakmem_route", "peakmem", "bytes"),
               ("m.C.track_route_throughput", "track", "ops/s")]  # fmt: skip
    assert families.labels_of(members) == ["wall time", "speed-normalised", "instructions", "memory", "throughput"]
    assert families.labels_of([("m.C.track_a", "track", "x"), ("m.C.track_a", "track", "y")]) == ["track_a", "track_a"]


# ---------------------------------------------------------------- the data


def test_data_is_json_and_columnar(built):
    text = json.dumps(built, allow_nan=False)
    assert EVIL in text
    meta = built["meta"]
    for name in ("commits", "envs", "families", "benchmarks", "series", "findings", "shifts", "heads", "load"):
        lengths = {len(v) for v in meta[name].values()}
        assert len(lengths) == 1, (name, {k: len(v) for k, v in meta[name].items()})


def test_commits_in_history_order_with_messages(built, project):
    _, hashes = project
    commits = built["meta"]["commits"]
    assert commits["hash"] == hashes
    assert commits["message"][-1] == EVIL_MESSAGE and commits["message"][0] == "change 0"
    assert commits["date"][0] == 1767268800


def test_points_are_per_commit_values_and_round_trip(built, table):
    meta, pts = built["meta"], built["points"]
    assert len(pts["offsets"]) == len(meta["series"]["env"]) + 1
    s = _series(meta, ROUTE, "strategy='cost'", ENVS[1])
    a, b = pts["offsets"][s], pts["offsets"][s + 1]
    assert pts["commit"][a:b] == list(range(N_COMMITS))
    rows = table[
        (table["benchmark"] == ROUTE) & (table["params"] == "strategy='cost'") & (table["environment"] == ENVS[1])
    ]
    expected = rows.sort_values("commit_order")["value"].to_numpy()
    assert np.allclose(pts["value"][a:b], expected, rtol=1e-5)
    unpacked = encode.unpack_points(encode.pack_points(pts), pts["offsets"])
    assert unpacked["commit"].tolist() == pts["commit"]
    assert np.allclose(unpacked["value"], np.array(pts["value"], dtype=float), rtol=1e-6)
    assert np.isnan(unpacked["lo"]).all()  # write_results keeps no interval and one round per commit


def test_verdicts_change_points_and_links(built, project):
    meta = built["meta"]
    _, hashes = project
    f, s = meta["findings"], meta["series"]
    instr = _series(meta, "router_benchmarks.Route.track_route_instructions", "strategy='cost'", ENVS[0])
    assert f["verdict"][s["pairwise"][instr]] == "regressed"
    assert f["before"][s["pairwise"][instr]] == N_COMMITS - 2 and f["after"][s["pairwise"][instr]] == N_COMMITS - 1
    steps = {
        (meta["benchmarks"]["name"][s["benchmark"][f["series"][i]]], f["after"][i])
        for i, m in enumerate(f["mode"])
        if m == "history" and f["verdict"][i] == "regressed" and s["env"][f["series"][i]] == 0
    }
    assert steps == {(ROUTE, STEP_AT), ("router_benchmarks.Route.track_route_relative", STEP_AT),
                     ("router_benchmarks.Route.track_route_instructions", N_COMMITS - 1)}  # fmt: skip
    shifts = meta["shifts"]
    # the detector places the step within a commit of where it was made
    assert shifts["env"] == [1] and shifts["after"][0] in (SHIFT_AT, SHIFT_AT + 1)
    assert shifts["before"][0] == shifts["after"][0] - 1
    assert shifts["series"][0] >= 3 and 20 < shifts["median_change_pct"][0] < 30
    route = _series(meta, ROUTE, "strategy='cost'", ENVS[0])
    assert s["graph"][route] == f"{ROUTE}?machine={MACHINE}&p-strategy='cost'"
    assert s["last"][route] == N_COMMITS - 1 and 0 < s["noise_pct"][route] < 5
    assert meta["heads"] == {"env": [0, 1], "head": [N_COMMITS - 1] * 2, "base": [N_COMMITS - 2] * 2}
    b = meta["benchmarks"]
    assert b["label"][b["name"].index("router_benchmarks.Route.track_route_relative")] == "speed-normalised"
    assert (
        b["family"][b["name"].index(ROUTE)]
        == b["family"][b["name"].index("router_benchmarks.Route.track_route_relative")]
    )


def test_extras_profiles_and_load(built):
    meta = built["meta"]
    assert meta["profiles"] == {
        ROUTE: [{"params": "strategy='cost'", "files": [f"profiles/{ROUTE}--strategy=cost/{n}" for n in ("diff.md", "diff.json", "head.svg")]}]
    }  # fmt: skip
    load = meta["load"]
    assert load["target"] == ["direct <b>"] * 4 + ["gateway"] * 4
    assert load["users"] == [1, 2, 4, 8] * 2 and load["p99_ms"][4] == 33


def test_a_regression_report_gives_the_same_verdicts(project, table, detection, tmp_path, monkeypatch):
    from tools.__main__ import main

    repo, _ = project
    monkeypatch.chdir(repo)
    out = tmp_path / "report"
    assert main(["regressions", "--no-cache", "--history", "--output", str(out)]) == 0
    report = json.loads(out.with_suffix(".json").read_text())
    from_json = dashboard_data.build_data(table, from_report(report))["meta"]
    direct = dashboard_data.build_data(table, detection)["meta"]
    key = lambda m: sorted(  # noqa: E731
        (m["findings"]["series"][i], m["findings"]["mode"][i], m["findings"]["verdict"][i], m["findings"]["after"][i])
        for i in range(len(m["findings"]["series"]))
        if m["findings"]["mode"][i] != "pairwise" or m["series"]["env"][m["findings"]["series"][i]] == 0
    )
    # the report compares the newest commit on every environment, like the dashboard
    assert key(from_json) == key(direct)
    # and links each regression to its view in the dashboard beside the asv site
    rec = next(r["recommendations"] for r in report["results"] if r.get("recommendations") and r["benchmark"] == ROUTE)
    assert rec["dashboard_url"] == links.dashboard_link(
        os.path.relpath(repo / "html", out.parent), ROUTE, "strategy='cost'", MACHINE, ENVS[0]
    )
    md = out.with_suffix(".md").read_text()
    assert f"[dashboard]({rec['dashboard_url']})" in md  # the history's change point
    pairwise = next(r for r in report["results"] if r.get("recommendations") and r["mode"] == "pairwise")
    assert f"[in the dashboard]({pairwise['recommendations']['dashboard_url']})" in md


def test_empty_findings_and_no_extras(table):
    meta = dashboard_data.build_data(table, run_detectors(table.iloc[:0], history=False))["meta"]
    assert meta["findings"]["series"] == [] and meta["load"] is None and meta["profiles"] == {}
    assert all(p == -1 for p in meta["series"]["pairwise"])


def test_noise_of_a_series():
    rng = np.random.default_rng(0)
    v = np.exp(rng.normal(0, 0.05, 2000))
    assert 4.0 < dashboard_data.noise_pct(v[-60:]) < 6.5
    assert math.isnan(dashboard_data.noise_pct(np.array([1.0, 2.0])))


# ---------------------------------------------------------------- links


def test_dashboard_link():
    url = links.dashboard_link("https://o.github.io/r/", ROUTE, "strategy='cost'", MACHINE, ENVS[0])
    assert url == (
        "https://o.github.io/r/dashboard/index.html#view=bench&b=router_benchmarks.Route.time_route"
        "&p=strategy%3D'cost'&m=ci-box&e=virtualenv-py3.11"
    )
    assert links.dashboard_link("../../html", "a b") == "../../html/dashboard/index.html#view=bench&b=a%20b"
    assert links.dashboard_link("site/index.html", "x").startswith("site/dashboard/index.html#")


def test_asv_site_gets_one_dashboard_link():
    import asv

    page = (Path(asv.__file__).parent / "www" / "index.html").read_text(encoding="utf-8")
    once = links.link_asv_site(page, "dashboard/index.html")
    assert once.count('id="nav-li-dashboard"') == 1 and links.link_asv_site(once, "dashboard/index.html") == once
    assert once.index("nav-li-regressions") < once.index("nav-li-dashboard") < once.index("nav-li-graphdisplay")
    other = links.link_asv_site(once, 'x/"y".html')
    assert other.count("nav-li-dashboard") == 1 and 'href="x/&quot;y&quot;.html"' in other


# ---------------------------------------------------------------- the page's files


def test_page_scripts_never_parse_html():
    forbidden = ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function")
    for name in writer.STATIC_FILES:
        text = (writer.STATIC_DIR / name).read_text(encoding="utf-8")
        assert not [f for f in forbidden if f in text], name


def test_every_static_file_is_written_and_referenced():
    index = (writer.STATIC_DIR / "index.html").read_text(encoding="utf-8")
    assert writer.MARKER in index
    for name in writer.STATIC_FILES[1:]:
        assert f'"{name}"' in index, name
    assert "http://" not in index and "https://" not in index
    for placeholder, *_ in writer.VENDORED:
        assert placeholder is None or placeholder in index


def test_writer_refuses_a_folder_that_is_not_a_dashboard(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ToolError, match="not empty and holds no dashboard"):
        writer.write_dashboard(tmp_path, {"meta": {}, "points": {}})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_vendoring_checks_the_pinned_hash(tmp_path):
    versions = {"uplot": "1.6.32"}
    pkg = tmp_path / "cache" / "node_modules" / "uplot"
    (pkg / "dist").mkdir(parents=True)
    (pkg / "package.json").write_text(json.dumps({"version": versions["uplot"]}))
    (pkg / "dist" / "uPlot.iife.min.js").write_text("window.uPlot = 'not the real one';")
    with pytest.raises(ToolError, match="differs from the pinned file"):
        writer.vendor(tmp_path / "out", tmp_path / "cache")


def test_pinned_version_matches_package_json():
    from tools import site

    declared = json.loads((writer.ASSETS_DIR / "package.json").read_text())["dependencies"]
    assert site.pinned_versions(writer.ASSETS_DIR / "package-lock.json") == declared


# ---------------------------------------------------------------- the command


def npm_cache(request, tmp_path_factory) -> Path:
    """npm's download of uPlot, kept between runs in pytest's cache dir; skip without npm outside CI."""
    if not shutil.which("npm"):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("npm missing in CI: install it (apt-get install -y npm)")
        pytest.skip("npm not installed (apt-get install -y npm); required when CI=true")
    plugin = getattr(request.config, "cache", None)
    return Path(plugin.mkdir("dashboard-vendor-cache")) if plugin else tmp_path_factory.mktemp("npm")


def test_command_writes_the_site_beside_asv_and_links_both(project, tmp_path, monkeypatch, request, tmp_path_factory):
    from tools.__main__ import main

    cache = npm_cache(request, tmp_path_factory)
    repo, _ = project
    work = tmp_path / "proj"
    shutil.copytree(repo, work)
    (work / "html").mkdir()
    (work / "html" / "index.html").write_text('<ul class="nav navbar-nav navbar-left">\n</ul>\n</body>')
    monkeypatch.chdir(work)
    assert main(["dashboard", "--no-cache", "--no-history", "--cache-dir", str(cache)]) == 0
    out = work / "html" / "dashboard"
    assert (out / "vendor" / "uplot@1.6.32" / "dist" / "uPlot.iife.min.js").is_file()
    assert (out / "profiles" / f"{ROUTE}--strategy=cost" / "head.svg").is_file()
    assert 'href="dashboard/index.html"' in (work / "html" / "index.html").read_text()
    meta_js = (out / "data" / "meta.js").read_text()
    meta = json.loads(meta_js.split("=", 1)[1].rstrip().rstrip(";"))
    assert meta["links"] == {"asv_site": "../index.html", "commit_url": "https://example.org/c/"}
    # names travel as JSON in a script file, never as HTML: the page puts them in as text
    assert meta["title"] == "toy <i>project</i>" and EVIL in meta["benchmarks"]["name"] and meta_js.isascii()
    assert main(["dashboard", "--no-cache", "--no-history", "--cache-dir", str(cache)]) == 0  # again: replaced


def test_foreign_results_in_format_1_converted_with_asv(tmp_path, request, tmp_path_factory, monkeypatch):
    """pvlib's published results (asv format 1), a slice converted with asv's own Results.update."""
    from asv.results import Results

    from tools.__main__ import main

    src = ROOT.parent / "shared" / "foreign" / "pvlib-benchmarks" / "results"
    if not src.is_dir():
        pytest.skip(f"{src} not present")
    cache = npm_cache(request, tmp_path_factory)
    machine = next(p for p in src.iterdir() if p.is_dir())
    dest = tmp_path / "results" / machine.name
    dest.mkdir(parents=True)
    shutil.copy(src / "benchmarks.json", tmp_path / "results")
    shutil.copy(machine / "machine.json", dest)
    for f in sorted(p for p in machine.glob("*.json") if p.name != "machine.json")[:80]:
        shutil.copy(f, dest)
        Results.update(str(dest / f.name))
    monkeypatch.chdir(tmp_path)
    args = ["--results-dir", "results", "--no-cache", "--cache-dir", str(cache), "--out", "dash"]
    assert main(["dashboard", *args]) == 0
    meta = json.loads((tmp_path / "dash" / "data" / "meta.js").read_text().split("=", 1)[1].rstrip().rstrip(";"))
    assert len(meta["envs"]["environment"]) > 1 and len(meta["series"]["env"]) > 30
    assert any(n.startswith("irradiance.") for n in meta["benchmarks"]["name"])


# ---------------------------------------------------------------- wiring


def test_the_main_job_and_the_workflows_build_it_beside_the_site():
    import yaml

    script = (ROOT / "scripts" / "run_benchmarks.sh").read_text(encoding="utf-8")
    assert script.index("python -m tools site") < script.index("tool dashboard") and '--report "$REPORT_JSON"' in script
    main_wf = yaml.safe_load((ROOT / ".github" / "workflows" / "benchmarks.yml").read_text(encoding="utf-8"))
    steps = main_wf["jobs"]["report"]["steps"]  # the job that builds the site from the merged shards
    assert any((s.get("with") or {}).get("path") == ".asv/dashboard-vendor-cache" for s in steps)
    assert any("html/dashboard/index.html" in s.get("run", "") for s in steps)
    pages = next(s for s in steps if str(s.get("uses", "")).startswith("actions/upload-pages-artifact@"))
    assert pages["with"]["path"] == ".asv/html"  # the dashboard is published inside the site
    pr_wf = yaml.safe_load((ROOT / ".github" / "workflows" / "pr-benchmarks.yml").read_text(encoding="utf-8"))
    step = next(s for s in pr_wf["jobs"]["compare"]["steps"] if "tools dashboard" in s.get("run", ""))
    assert step["continue-on-error"] is True and "--report" in step["run"]
    assert any((s.get("with") or {}).get("name") == "pr-benchmark-dashboard" for s in pr_wf["jobs"]["compare"]["steps"])
