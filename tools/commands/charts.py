"""``python -m tools charts``: PNG trend charts under metrics/performance/charts/."""

from __future__ import annotations

from pathlib import Path

from tools.config import add_common_arguments, load_table, settings_from_args
from tools.errors import ToolError
from tools.io import atomic_write_bytes

NAME = "charts"
HELP = "draw one PNG trend chart per component plus summary.png (matplotlib, headless)"


def add_arguments(parser) -> None:
    add_common_arguments(parser)
    parser.add_argument(
        "--charts-dir", metavar="DIR", default=None, help="where the PNGs go (default: <output-dir>/charts)"
    )
    parser.add_argument("--last", metavar="N", type=int, default=None, help="only the N newest commits (default: all)")


def last_commits(table, n: int | None):
    if not n:
        return table
    dates = table.groupby("commit", observed=True)["commit_date"].min().sort_values()
    keep = set(dates.index[-n:].astype(str))
    return table[table["commit"].astype(str).isin(keep)]


def write_charts(table, charts_dir: Path) -> list[Path]:
    from tools.charts import chart_pngs

    pngs = chart_pngs(table)
    if not pngs:
        raise ToolError("nothing to chart: every result failed or was skipped")
    return [atomic_write_bytes(charts_dir / name, data) for name, data in pngs.items()]


def run(args) -> int:
    settings = settings_from_args(args)
    table = last_commits(load_table(settings), args.last)
    charts_dir = Path(args.charts_dir) if args.charts_dir else settings.charts_dir
    for path in write_charts(table, charts_dir):
        print(f"wrote {path}")
    return 0
