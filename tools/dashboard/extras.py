"""What the dashboard shows beside the results, read from disk: commit subjects (git), profiles
(``python -m tools profile``: ``<profiles>/<benchmark>[--<params>]/diff.md|diff.json|*.svg``) and
the newest load-test CSV (``<load>/load_results_<ts>.csv``). Each is optional: missing means
the page leaves it out.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from tools.errors import ToolError

PROFILE_FILES = ("diff.md", "diff.json")


def commit_messages(repo: Path, commits: Iterable[str]) -> dict[str, str]:
    """{commit: subject line} for the commits git knows in ``repo``; {} without git or repo."""
    wanted = set(commits)
    try:
        proc = subprocess.run(
            ["git", "log", "--all", "--format=%H%x1f%s"], cwd=repo, capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.SubprocessError):
        return {}
    if proc.returncode != 0:
        return {}
    pairs = (line.split("\x1f", 1) for line in proc.stdout.splitlines() if "\x1f" in line)
    return {h: s for h, s in pairs if h in wanted}


def _profile_of(folder: Path) -> tuple[str, str]:
    """(benchmark, params) of a profile folder: from its diff.json, else from its name."""
    try:
        info = json.loads((folder / "diff.json").read_text(encoding="utf-8"))
        if isinstance(info, dict) and info.get("benchmark"):
            return str(info["benchmark"]), str(info.get("params") or "")
    except (OSError, ValueError):
        pass
    return folder.name.partition("--")[0], ""


def find_profiles(profiles_dir: Path | None) -> tuple[dict[str, list[dict]], dict[str, Path]]:
    """({benchmark: [{"params", "files"}]}, {path in the dashboard: source file}) of every profile
    folder under ``profiles_dir``; files are the diff (md, json) and the flame graphs (svg)."""
    found: dict[str, list[dict]] = {}
    copies: dict[str, Path] = {}
    if profiles_dir is None or not Path(profiles_dir).is_dir():
        return found, copies
    for folder in sorted(p for p in Path(profiles_dir).iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = [folder / n for n in PROFILE_FILES if (folder / n).is_file()] + sorted(folder.glob("*.svg"))
        if not files:
            continue
        benchmark, params = _profile_of(folder)
        rels = [f"profiles/{folder.name}/{f.name}" for f in files]
        copies.update(zip(rels, files))
        found.setdefault(benchmark, []).append({"params": params, "files": rels})
    return found, copies


def newest_load_csv(load_dir: Path | None) -> Path | None:
    if load_dir is None or not Path(load_dir).is_dir():
        return None
    found = sorted(Path(load_dir).glob("load_results_*.csv"))  # UTC timestamps sort as text
    return found[-1] if found else None


def read_load(path: Path) -> pd.DataFrame:
    """The load-test CSV; it needs at least ``target`` and ``users``."""
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise ToolError(f"{path}: cannot read the load results ({exc})") from exc
    missing = [c for c in ("target", "users") if c not in frame.columns]
    if missing:
        raise ToolError(f"{path}: not a load-results CSV (missing column(s) {', '.join(missing)})")
    return frame
