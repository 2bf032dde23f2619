"""``python -m tools compare A B``: two sides (commits, environments, machines) -> comparison_<ts>.{md,html,json}.

A and B are selectors (``tools.sides``): ``commit=REV``, ``env=NAME``, ``python=3.12``,
``dep=numpy==2.x``, ``machine=NAME``, comma-joined. Every series present on both sides gets the
ratio B/A with its interval and a verdict under the regression check's rule
(``tools.comparison``); the report starts with what differs between the sides.
"""

from __future__ import annotations

import json
from pathlib import Path

from tools import rounds_layout
from tools.comparison import compare_sides
from tools.comparison_report import comparison_report
from tools.config import add_common_arguments, load_table, settings_from_args, utc_stamp
from tools.errors import ToolError
from tools.io import atomic_write_text
from tools.loader import load_results
from tools.render import html_page
from tools.revisions import with_history_order
from tools.sides import parse_selector

NAME = "compare"
HELP = "compare two sides (commit=REV, env=NAME, python=X.Y, dep=NAME==VER, machine=NAME): ratios, verdicts and what differs"


def add_arguments(parser) -> None:
    parser.add_argument(
        "a", metavar="A", help="side A, e.g. python=3.11 or commit=main,env=virtualenv-py3.11-numpy1.26.4"
    )
    parser.add_argument("b", metavar="B", help="side B (plays the head: 'worse' means worse on B)")
    add_common_arguments(parser)
    parser.add_argument(
        "--rounds-dir",
        metavar="DIR",
        action="append",
        default=None,
        help="read the rounds of an interleaved session (.asv/rounds/<base8>-<head8>) instead of the "
        "stored results; repeatable. Wall-time verdicts need >= 6 rounds per side",
    )
    parser.add_argument(
        "--q", type=float, default=0.05, help="false discovery rate across the comparison (default 0.05)"
    )
    stem = "output path without suffix (default: <output-dir>/reports/comparison_<ts>)"
    parser.add_argument("--output", metavar="STEM", default=None, help=stem)


def _table(args, settings):
    if not args.rounds_dir:
        return load_table(settings), list(settings.results_dirs)
    dirs = []
    for d in args.rounds_dir:
        found = rounds_layout.round_dirs(Path(d), with_results=True)
        if not found:
            raise ToolError(f"{d}: no round-<k> results folders (expected an interleaved session)")
        dirs += found
    table = load_results(dirs, machine=settings.machine)
    return with_history_order(table, settings.repo, settings.branch), dirs + list(settings.results_dirs)


def run(args) -> int:
    a, b = parse_selector(args.a), parse_selector(args.b)
    settings = settings_from_args(args)
    table, dirs = _table(args, settings)
    c = compare_sides(table, a, b, dirs, repo=settings.repo, q=args.q)
    stamp = utc_stamp()
    md, data = comparison_report(c, f"{stamp[:10]} {stamp[11:].replace('-', ':')} UTC")
    stem = Path(args.output) if args.output else settings.reports_dir / f"comparison_{stamp}"
    paths = [
        atomic_write_text(stem.with_name(stem.name + ".json"), json.dumps(data, indent=2, allow_nan=False) + "\n"),
        atomic_write_text(stem.with_name(stem.name + ".md"), md),
        atomic_write_text(stem.with_name(stem.name + ".html"), html_page(f"Comparison {a.text} → {b.text}", md)),
    ]
    n = data["counts"]
    differ = ", ".join(d["what"] for d in data["differences"] if d["differs"]) or "nothing recorded"
    print(f"{a.text} → {b.text}: differs in {differ}")
    print(
        f"{n['regressed']} worse on B, {n['improved']} better, {n['inconclusive']} inconclusive, "
        f"{n['unchanged']} unchanged ({len(data['results'])} series on both sides)"
    )
    for p in paths:
        print(f"wrote {p}")
    return 0
