"""Revisions: REV -> full commit hash, and which commits have results.

A revision is resolved against the commits in the results first (a unique hash prefix
works without a git checkout, e.g. on copied results), then with ``git rev-parse``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd

from tools.errors import ToolError
from tools.loader import commits_with_results


def git_rev_parse(rev: str, repo: Path) -> str | None:
    """Full hash of ``rev`` in ``repo``, or None when git does not know it (or no git)."""
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"],
            cwd=repo,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    out = proc.stdout.strip()
    return out if proc.returncode == 0 and out else None


def resolve_revision(rev: str, table: pd.DataFrame, repo: Path | None = None) -> str:
    """REV (hash, prefix, branch, tag, HEAD~1 ...) -> the full hash of a commit that has results."""
    rev = rev.strip()
    if not rev:
        raise ToolError("empty revision")
    known = [str(c) for c in pd.unique(table["commit"].astype(str))]
    matches = [c for c in known if c.startswith(rev.lower())] if len(rev) >= 4 else []
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise ToolError(f"revision {rev!r} is ambiguous: {', '.join(m[:12] for m in matches[:5])}")
    full = git_rev_parse(rev, repo) if repo is not None else None
    if full is None:
        where = f" in {repo}" if repo is not None else ""
        raise ToolError(f"unknown revision {rev!r}: not a commit{where} and no results for a commit with that prefix")
    if full not in known:
        raise ToolError(f"no results for revision {rev!r} ({full[:12]}); run `asv run {full[:12]}^!` first")
    return full


def newest_commit(table: pd.DataFrame) -> str:
    """The commit with results and the latest commit date (ties: the latest run)."""
    commits = commits_with_results(table)
    if commits.empty:  # every benchmark failed or skipped: still the newest commit measured
        if table.empty:
            raise ToolError("no results at all")
        return str(table.sort_values(["commit_date", "started_at"], kind="stable").iloc[-1]["commit"])
    return str(commits.iloc[-1]["commit"])


def previous_commit(table: pd.DataFrame, head: str, machine: str, environment: str, lag: int = 1) -> str | None:
    """The ``lag``-th newest commit before ``head`` (by commit date) with results on the same
    machine and environment (the oldest one when fewer exist); None when ``head`` is the first."""
    if lag < 1:
        raise ValueError(f"lag must be >= 1 (got {lag})")
    commits = commits_with_results(table)
    same = commits[(commits["machine"].astype(str) == machine) & (commits["environment"].astype(str) == environment)]
    same = same.reset_index(drop=True)
    at = same.index[same["commit"].astype(str) == head]
    if len(at) == 0:
        return None
    head_date = same.loc[at[0], "commit_date"]
    earlier = same[(same["commit_date"] < head_date) & (same["commit"].astype(str) != head)]
    if earlier.empty:  # same commit date (e.g. a fast series of commits): fall back to run order
        earlier = same.iloc[: at[0]]
        earlier = earlier[earlier["commit"].astype(str) != head]
    return str(earlier.iloc[-min(lag, len(earlier))]["commit"]) if not earlier.empty else None


def head_series(table: pd.DataFrame, head: str) -> list[tuple[str, str]]:
    """(machine, environment) pairs that have results for ``head``."""
    rows = table[table["commit"].astype(str) == head]
    pairs = rows[["machine", "environment"]].astype(str).drop_duplicates()
    return [tuple(x) for x in pairs.itertuples(index=False, name=None)]
