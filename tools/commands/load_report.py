"""``python -m tools load-report``: load_report_<ts>.md/.html and the load charts, from a load CSV."""

from __future__ import annotations

import os
from pathlib import Path

from tools.config import OUTPUT_DIR, utc_stamp
from tools.errors import ToolError
from tools.io import atomic_write_bytes, atomic_write_text

NAME = "load-report"
HELP = "write reports/load_report_<ts>.{md,html} and charts/load_*.png from load/load_results_<ts>.csv"


def add_arguments(parser) -> None:
    parser.add_argument(
        "--csv", metavar="FILE", default=None, help="a load_results CSV (default: the newest under <output-dir>/load)"
    )
    parser.add_argument(
        "--output-dir", metavar="DIR", default=str(OUTPUT_DIR), help=f"where outputs go (default: {OUTPUT_DIR})"
    )


def load_section(output_dir: Path, csv_path: Path | None, reports_dir: Path) -> tuple[list[str], dict[str, bytes]]:
    """The load section's Markdown lines and {relative ref: PNG} (charts written under output_dir/charts).

    No CSV → ([], {}): the performance report then has no load section."""
    from tools.load_charts import load_chart_pngs
    from tools.load_report import load_section_md, newest_load_csv, read_load_csv, read_meta

    path = csv_path or newest_load_csv(output_dir / "load")
    if path is None:
        return [], {}
    df = read_load_csv(path)
    refs, images = {}, {}
    for name, data in load_chart_pngs(df).items():
        written = atomic_write_bytes(output_dir / "charts" / name, data)
        refs[written.stem] = os.path.relpath(written, reports_dir)
        images[refs[written.stem]] = data
    return load_section_md(df, read_meta(path), os.path.relpath(path, reports_dir), refs), images


def run(args) -> int:
    from tools.render import html_page

    output_dir = Path(args.output_dir)
    csv_path = Path(args.csv) if args.csv else None
    if csv_path is not None and not csv_path.is_file():
        raise ToolError(f"no such load results file: {csv_path}")
    reports = output_dir / "reports"
    lines, images = load_section(output_dir, csv_path, reports)
    if not lines:
        raise ToolError(f"no load results under {output_dir / 'load'}: run scripts/load_test.sh first")
    md = "\n".join(["# Load report", "", *lines])
    stamp = utc_stamp()
    for path in (
        atomic_write_text(reports / f"load_report_{stamp}.md", md),
        atomic_write_text(reports / f"load_report_{stamp}.html", html_page("Load report", md, images)),
    ):
        print(f"wrote {path}")
    return 0
