"""``python -m tools compact-rounds``: shrink the kept interleaved rounds before they are saved.

History mode reads only each round's value and statistics (``tools.detect.history``), so the
daily workflow drops the raw samples and profiles of ``.asv/rounds`` before it commits them to
the ``asv-results`` branch (about 52 kB → 21 kB per result file here).
"""

from __future__ import annotations

from pathlib import Path

from tools.detect.rounds import ROUNDS_DIR, compact_rounds

NAME = "compact-rounds"
HELP = "drop raw samples and profiles from kept interleaved rounds (.asv/rounds); history mode needs only the values"


def add_arguments(parser) -> None:
    parser.add_argument(
        "rounds_dir",
        nargs="?",
        type=Path,
        default=ROUNDS_DIR,
        help="folder of <base8>-<head8>/round-<k>/ results (default: %(default)s)",
    )


def run(args) -> int:
    n, saved = compact_rounds(args.rounds_dir)
    print(f"compact-rounds: {n} result file(s) rewritten under {args.rounds_dir}, {saved / 1024:.0f} kB saved")
    return 0
