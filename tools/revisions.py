"""Revisions: REV -> full commit hash, which commits have results, and their order.

A revision is resolved against the commits in the results first (a unique hash prefix
works without a git checkout, e.g. on copied results), then with ``git rev-parse``.

Commits are ordered by the branch's first-parent history (``git rev-list --first-parent``) when
the project repository is at hand, as asv orders its graphs; commit dates can disagree with that
order (rebases, merges of old branches). Without the repository, by commit date, said once.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from tools.errors import ToolError
from tools.loader import commits_with_results


def _git(repo: Path, *args: str, timeout: float = 60) -> str | None:
    """git's standard output in ``repo``, or None when git fails or is missing."""
    try:
        proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def git_rev_parse(rev: str, repo: Path) -> str | None:
    """Full hash of ``rev`` in ``repo``, or None when git does not know it (or no git)."""
    out = (_git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", timeout=30) or "").strip()
    return out or None


def first_parent(repo: Path, branch: str = "HEAD") -> list[str] | None:
    """Full hashes of ``branch``'s first-parent history, oldest first; None without git or repo."""
    out = _git(repo, "rev-list", "--first-parent", "--reverse", branch, "--")
    return out.split() if out is not None else None


def order_by(table: pd.DataFrame, history: list[str] | None, branch: str) -> pd.DataFrame:
    """``table`` with ``commit_order`` (position in ``history``, the first-parent history of
    ``branch``; NaN off it) and ``attrs["order"]`` ("git" or "date") with a one-line
    ``attrs["order_note"]``. When no commit with results is on ``history``, commit dates order them."""
    position = {c: i for i, c in enumerate(history or ())}
    order = table["commit"].astype(str).map(position).astype(float)
    if history and order.notna().any():
        out = table.assign(commit_order=order)
        out.attrs = {**table.attrs, "order": "git", "order_note": f"commits in the first-parent order of {branch}"}
        return out
    why = "no git repository at hand" if history is None else f"no commit with results is on {branch}"
    out = table.copy()
    out.attrs = {**table.attrs, "order": "date", "order_note": f"commits ordered by commit date ({why})"}
    return out


def with_history_order(table: pd.DataFrame, repo: Path, branch: str = "HEAD") -> pd.DataFrame:
    """``order_by`` the branch's first-parent history of ``repo``; a note on stderr when dates
    have to stand in for it."""
    out = order_by(table, first_parent(repo, branch), branch)
    if out.attrs["order"] == "date":
        print(f"note: {out.attrs['order_note']} in {repo}", file=sys.stderr)
    return out


def _sort_keys(frame: pd.DataFrame) -> list[str]:
    return (["commit_order"] if "commit_order" in frame.columns else []) + ["commit_date", "started_at"]


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
    """The newest commit with results: last in the history order (ties: the latest run)."""
    commits = commits_with_results(table)
    if commits.empty:  # every benchmark failed or skipped: still the newest commit measured
        if table.empty:
            raise ToolError("no results at all")
        return str(table.sort_values(_sort_keys(table), kind="stable", na_position="first").iloc[-1]["commit"])
    return str(commits.iloc[-1]["commit"])


def previous_commit(table: pd.DataFrame, head: str, machine: str, environment: str, lag: int = 1) -> str | None:
    """The ``lag``-th commit before ``head`` in history order with results on the same machine and
    environment (the oldest one when fewer exist); None when ``head`` is the first."""
    if lag < 1:
        raise ValueError(f"lag must be >= 1 (got {lag})")
    commits = commits_with_results(table)
    same = commits[(commits["machine"].astype(str) == machine) & (commits["environment"].astype(str) == environment)]
    same = same.reset_index(drop=True)
    at = same.index[same["commit"].astype(str) == head]
    if len(at) == 0:
        return None
    earlier = same.iloc[: at[0]]
    earlier = earlier[earlier["commit"].astype(str) != head]
    if "commit_order" in same.columns and pd.notna(same.loc[at[0], "commit_order"]):
        earlier = earlier[earlier["commit_order"].notna()]  # a commit off the branch is no base
    return str(earlier.iloc[-min(lag, len(earlier))]["commit"]) if not earlier.empty else None


def head_series(table: pd.DataFrame, head: str) -> list[tuple[str, str]]:
    """(machine, environment) pairs that have results for ``head``."""
    rows = table[table["commit"].astype(str) == head]
    pairs = rows[["machine", "environment"]].astype(str).drop_duplicates()
    return [tuple(x) for x in pairs.itertuples(index=False, name=None)]
