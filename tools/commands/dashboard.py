"""``python -m tools dashboard``: the interactive dashboard, a static folder beside the asv site.

Reads the tidy table and what the detectors found (run here, or a regression report's JSON with
``--report``), writes ``<out>/index.html`` with its scripts and data (``tools.dashboard``), and
adds a "Dashboard" link to the asv site's navigation bar when the site is there.
"""

from __future__ import annotations

import os
from pathlib import Path

from tools.config import add_common_arguments, load_table, read_asv_conf, settings_from_args, utc_stamp
from tools.dashboard import data as dashboard_data
from tools.dashboard import extras, links, writer
from tools.dashboard.detection import from_report, run_detectors
from tools.github import load_report
from tools.io import atomic_write_text

NAME = "dashboard"
HELP = (
    "write the interactive dashboard (a static site: overview, benchmark histories, compare, load) beside the asv site"
)


def add_arguments(parser) -> None:
    add_common_arguments(parser)
    parser.add_argument("--out", metavar="DIR", default=None, help="output folder (default: <html_dir>/dashboard)")
    g = parser.add_argument_group("what the detectors found")
    g.add_argument(
        "--report", metavar="PATH", default=None, help="read a regression report JSON instead of running the detectors"
    )
    g.add_argument(
        "--no-history", action="store_true", help="without --report: pairwise verdicts only, no change points"
    )
    g.add_argument("--q", type=float, default=0.05, help="false discovery rate across the suite (default 0.05)")
    g = parser.add_argument_group("links and extras")
    g.add_argument(
        "--site-url", metavar="URL", default=None, help="the asv site (default: its index.html relative to --out)"
    )
    g.add_argument(
        "--commit-url",
        metavar="URL",
        default=None,
        help="prefix of a commit's web page (default: show_commit_url of asv.conf.json)",
    )
    g.add_argument(
        "--profiles-dir", metavar="DIR", default=None, help="profiles to link (default: <output-dir>/profiles)"
    )
    g.add_argument("--load-dir", metavar="DIR", default=None, help="load results (default: <output-dir>/load)")
    g.add_argument("--no-link-site", action="store_true", help="leave the asv site's index.html untouched")
    g.add_argument("--cache-dir", type=Path, metavar="DIR", default=writer.DEFAULT_CACHE_DIR, help="where npm installs uPlot once (default: %(default)s)")  # fmt: skip


def _extras(args, settings, out_dir: Path, table, conf: dict) -> tuple[dashboard_data.Extras, dict]:
    profiles, copies = extras.find_profiles(
        Path(args.profiles_dir) if args.profiles_dir else settings.output_dir / "profiles"
    )
    load_csv = extras.newest_load_csv(Path(args.load_dir) if args.load_dir else settings.output_dir / "load")
    stamp = utc_stamp()
    site = args.site_url or os.path.relpath(settings.html_dir / "index.html", out_dir)
    commits = table["commit"].astype(str).unique()
    return dashboard_data.Extras(
        messages=extras.commit_messages(settings.repo, commits), profiles=profiles,
        load=extras.read_load(load_csv) if load_csv else None, load_source=load_csv.name if load_csv else "",
        asv_site=site, commit_url=args.commit_url or str(conf.get("show_commit_url") or ""),
        title=str(conf.get("project") or "Benchmarks"), generated=f"{stamp[:10]} {stamp[11:].replace('-', ':')} UTC",
    ), copies  # fmt: skip


def _link_site(html_dir: Path, out_dir: Path) -> Path | None:
    index = html_dir / "index.html"
    if not index.is_file():
        return None
    href = Path(os.path.relpath(out_dir / "index.html", html_dir)).as_posix()
    text = index.read_text(encoding="utf-8")
    new = links.link_asv_site(text, href)
    return atomic_write_text(index, new) if new != text else index


def run(args) -> int:
    settings = settings_from_args(args)
    conf = read_asv_conf(settings.config_path) if settings.config_path else {}
    out_dir = Path(args.out) if args.out else settings.html_dir / links.DASHBOARD_SUBDIR
    table = load_table(settings)
    if args.report:
        detection = from_report(load_report(Path(args.report)))
    else:
        detection = run_detectors(table, q=args.q, history=not args.no_history)
    extra, copies = _extras(args, settings, out_dir, table, conf)
    data = dashboard_data.build_data(table, detection, extra)
    written = writer.write_dashboard(out_dir, data, cache_dir=args.cache_dir, profile_files=copies)
    size = sum(p.stat().st_size for p in written if p.parent.name == "data")
    meta = data["meta"]
    print(
        f"wrote {written[0]} ({len(meta['series']['env'])} series, {len(meta['commits']['hash'])} commits, "
        f"{len(meta['findings']['series'])} findings; data {size / 1e6:.2f} MB)"
    )
    linked = None if args.no_link_site else _link_site(settings.html_dir, out_dir)
    if linked is not None:
        print(f"linked the asv site {linked} to the dashboard")
    return 0
