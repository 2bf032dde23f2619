"""``python -m tools report``: performance_report_<ts>.md and .html with tables and trend charts."""

from __future__ import annotations

import os

from tools.commands.charts import add_marks_argument, read_marks
from tools.config import add_common_arguments, load_table, settings_from_args, utc_stamp
from tools.errors import ToolError
from tools.io import atomic_write_text
from tools.loader import load_machines

NAME = "report"
HELP = "write metrics/performance/reports/performance_report_<ts>.md and .html (tables + trend charts)"


def add_arguments(parser) -> None:
    add_common_arguments(parser)
    which = "commit(s) to tabulate (default: the newest with results); charts always show the history"
    parser.add_argument("--commit", metavar="REV", action="append", default=None, help=which)
    parser.add_argument("--no-charts", action="store_true", help="tables only (skip drawing the trend charts)")
    add_marks_argument(parser)


def run(args) -> int:
    from tools.commands.export import select_commits
    from tools.detect.anomalies import anomaly_suite
    from tools.performance_report import performance_report_md
    from tools.render import html_page

    settings = settings_from_args(args)
    table = load_table(settings)
    rows = select_commits(table, args.commit, False, settings.repo)
    if rows.empty:
        raise ToolError("nothing to report: no results for the selected commit(s)")
    stamp = utc_stamp()
    reports = settings.reports_dir
    images: dict[str, bytes] = {}
    refs: dict[str, list[tuple[str, str]]] = {}
    from tools.charts import components, page_index_md, write_charts

    if not args.no_charts and not components(table):
        print("note: no successful results to chart (every benchmark failed or was skipped); tables only")
    elif not args.no_charts:
        for path, page in write_charts(table, settings.charts_dir, marks=read_marks(args.marks)):
            print(f"wrote {path}")
            ref = os.path.relpath(path, reports)
            refs.setdefault(page.group, []).append((ref, page_index_md(page)))
            images[ref] = path.read_bytes()
    machines = {}
    for d in settings.results_dirs:
        machines.update(load_machines(d))
    found = anomaly_suite(table) if table["commit"].nunique() > 1 else []
    md = performance_report_md(rows, machines, f"{stamp[:10]} {stamp[11:].replace('-', ':')} UTC", refs, found)
    # the newest load run (scripts/load_test.sh), when there is one: its own section and charts
    from tools.commands.load_report import load_section

    load_lines, load_images = load_section(settings.output_dir, None, reports)
    md = "\n".join([md, *load_lines]) if load_lines else md
    images.update(load_images)
    md_path = atomic_write_text(reports / f"performance_report_{stamp}.md", md)
    html_path = atomic_write_text(
        reports / f"performance_report_{stamp}.html", html_page("Performance report", md, images)
    )
    print(f"wrote {md_path}")
    print(f"wrote {html_path}")
    return 0
