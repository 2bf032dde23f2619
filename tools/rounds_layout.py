"""Where interleaved rounds live on disk: one module owns the layout.

An interleaved run of base against head (``tools.detect.rounds``) is a *session*::

    .asv/rounds/<base8>-<head8>/            the session (its folder name is its id)
        round-<k>/                          one round: base and head, one asv process each
            benchmarks.json
            <machine>/machine.json
            <machine>/<commit8>-<env>.json  asv result files (format 2)

``tools.loader`` numbers the rounds from their folder names; ``regressions`` reads sessions
kept by earlier runs; ``compact-rounds`` rewrites their result files.
"""

from __future__ import annotations

import re
from pathlib import Path

ROUNDS_DIR = Path(".asv") / "rounds"
_ROUND = re.compile(r"round[-_]?(\d+)$")


def session_name(base: str, head: str) -> str:
    return f"{base[:8]}-{head[:8]}"


def session_dir(root: Path, base: str, head: str) -> Path:
    """The folder of the session interleaving ``base`` and ``head`` under ``root``."""
    return Path(root) / session_name(base, head)


def round_dir(session: Path, k: int) -> Path:
    return Path(session) / f"round-{k}"


def round_number(path: Path) -> int | None:
    """k of a ``round-<k>`` folder (also ``round_<k>``, ``round<k>``); None for any other name."""
    m = _ROUND.search(Path(path).name)
    return int(m.group(1)) if m else None


def round_dirs(session: Path, *, with_results: bool = False) -> list[Path]:
    """The round folders of a session in round order (only those holding result files)."""
    session = Path(session)
    if not session.is_dir():
        return []
    found = [p for p in session.iterdir() if p.is_dir() and round_number(p) is not None]
    if with_results:
        found = [p for p in found if any(p.glob("*/*.json"))]
    return sorted(found, key=lambda p: (round_number(p), p.name))


def session_dirs(root: Path) -> list[Path]:
    """Every session folder under ``root`` (sorted by name), [] when ``root`` does not exist."""
    root = Path(root)
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def result_files(root: Path) -> list[Path]:
    """Every asv result file of every kept round under ``root`` (machine.json excluded)."""
    return sorted(p for p in Path(root).glob("*/round-*/*/*.json") if p.name != "machine.json")
