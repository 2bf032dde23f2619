"""``python -m tools compact-rounds``: shrink the kept interleaved rounds before they are saved.

History mode reads only each round's value and statistics (``tools.detect.history``), so the
daily workflow drops the raw samples and profiles of ``.asv/rounds`` before it commits them to
the ``asv-results`` branch (about 52 kB → 21 kB per result file here).
"""

from __future__ import annotations

import json
from pathlib import Path

from tools.errors import ToolError
from tools.io import atomic_write_text
from tools.rounds_layout import ROUNDS_DIR, result_files

NAME = "compact-rounds"
HELP = "drop raw samples and profiles from kept interleaved rounds (.asv/rounds); history mode needs only the values"


HEAVY_COLUMNS = ("samples", "profile")  # what history mode never reads: raw samples, profiler output


def compact_rounds(root: Path) -> tuple[int, int]:
    """Drop raw samples and profiles from every kept round result under ``root``
    (``tools.rounds_layout``), keeping each round's value and statistics — all that
    history mode reads. Returns (files rewritten, bytes saved); idempotent.

    Every file is read and checked before any is rewritten, each rewrite is atomic: a corrupt
    file stops the command with its path and leaves every file as it was.
    """
    root = Path(root)
    if not root.is_dir():
        raise ToolError(f"{root}: no such directory (the interleaved rounds live in {ROUNDS_DIR})")
    files = result_files(root)
    parsed = []
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            columns = data["result_columns"]
            results = data["results"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ToolError(f"{path}: not an asv result file ({exc.__class__.__name__}: {exc})") from None
        heavy = [columns.index(c) for c in HEAVY_COLUMNS if c in columns]
        parsed.append((path, data, results, heavy))
    rewritten = saved = 0
    for path, data, results, heavy in parsed:
        if not any(i < len(row) and row[i] is not None for row in results.values() for i in heavy):
            continue
        for name, row in results.items():
            results[name] = [None if i in heavy else v for i, v in enumerate(row)]
        before = path.stat().st_size
        atomic_write_text(path, json.dumps(data, separators=(",", ":")))
        rewritten += 1
        saved += before - path.stat().st_size
    return rewritten, saved


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
