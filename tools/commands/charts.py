"""``python -m tools charts``: PNG trend charts under metrics/performance/charts/."""

from __future__ import annotations

from pathlib import Path

from tools.config import add_common_arguments, load_table, settings_from_args
from tools.errors import ToolError

NAME = "charts"
HELP = "draw PNG trend charts: <component>.png (+ <component>-2.png, ... when long) and summary.png"


def add_arguments(parser) -> None:
    add_common_arguments(parser)
    parser.add_argument(
        "--charts-dir", metavar="DIR", default=None, help="where the PNGs go (default: <output-dir>/charts)"
    )
    parser.add_argument("--last", metavar="N", type=int, default=None, help="only the N newest commits (default: all)")
    add_marks_argument(parser)


def add_marks_argument(parser) -> None:
    what = "mark the change points and environment shifts of this regression report JSON (regressions --history)"
    parser.add_argument("--marks", metavar="REPORT_JSON", type=Path, default=None, help=what)


def read_marks(path: Path | None) -> list:
    """The marks of a regression report JSON; [] without one. A clear error for a bad file."""
    if path is None:
        return []
    from tools.charts import marks_from_report
    from tools.github import load_report

    try:
        return marks_from_report(load_report(path))
    except (KeyError, TypeError, ValueError) as exc:
        raise ToolError(f"{path}: not a regression report with marks ({exc.__class__.__name__}: {exc})") from None


def last_commits(table, n: int | None):
    if not n:
        return table
    dates = table.groupby("commit", observed=True)["commit_date"].min().sort_values()
    keep = set(dates.index[-n:].astype(str))
    return table[table["commit"].astype(str).isin(keep)]


def run(args) -> int:
    from tools.charts import write_charts

    settings = settings_from_args(args)
    table = last_commits(load_table(settings), args.last)
    charts_dir = Path(args.charts_dir) if args.charts_dir else settings.charts_dir
    for path, _ in write_charts(table, charts_dir, marks=read_marks(args.marks)):
        print(f"wrote {path}")
    print(f"wrote {charts_dir / 'index.md'}")
    return 0
