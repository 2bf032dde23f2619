"""Library code at a revision: REV -> commit, and that commit's files in a temporary folder.

A revision's tree is extracted with ``git archive`` (nothing in the repository changes: no
worktree metadata, no checkout) and put first on the child's ``sys.path``, while the benchmark
code stays the current one, as asv runs a commit's library with the current benchmarks.
This suits a pure-Python package at the repository root (``intellirouter/``); a compiled or
``src/``-layout project would need asv's environments instead.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from tools.errors import ToolError
from tools.revisions import git_rev_parse

_SHOW_REFS = 12  # branches/tags named in an unknown-revision error


def _git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=60)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def known_refs(repo: Path) -> list[str]:
    """Branch and tag names of ``repo`` (what an unknown revision error offers)."""
    out = _git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads", "refs/tags")
    return sorted(line for line in out.splitlines() if line)


def resolve_commit(repo: Path, rev: str) -> str:
    """Full hash of ``rev`` (hash, prefix, branch, tag, HEAD~1 ...); ToolError naming the choices."""
    rev = (rev or "").strip()
    if not rev:
        raise ToolError("empty revision")
    if not (repo / ".git").exists() and not _git(repo, "rev-parse", "--git-dir"):
        raise ToolError(f"{repo} is not a git repository: profiling needs the library's history")
    full = git_rev_parse(rev, repo)
    if full is None:
        refs = known_refs(repo)
        shown = ", ".join(refs[:_SHOW_REFS]) + (f" (+{len(refs) - _SHOW_REFS} more)" if len(refs) > _SHOW_REFS else "")
        raise ToolError(
            f"unknown revision {rev!r} in {repo}; valid: a commit hash or unique prefix, HEAD, HEAD~N, "
            f"or a branch/tag ({shown or 'none'})"
        )
    return full


def export_tree(repo: Path, commit: str, dest: Path) -> Path:
    """Extract the files of ``commit`` into ``dest`` (``git archive``, no checkout)."""
    dest.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(["git", "archive", "--format=tar", commit], cwd=repo, stdout=subprocess.PIPE)
    try:
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            try:
                tar.extractall(dest, filter="data")  # refuse links and paths leaving dest
            except TypeError:  # Python < 3.11.4: no filters; git archive of a commit is trusted input
                tar.extractall(dest)
    finally:
        proc.stdout.close()
        code = proc.wait()
    if code != 0:
        raise ToolError(f"git archive {commit[:12]} failed in {repo} (exit {code})")
    return dest


@contextlib.contextmanager
def revision_trees(repo: Path, commits: Sequence[str], parent: Path | None = None) -> Iterator[dict[str, Path]]:
    """{commit: folder with its files}, removed on exit (a commit asked twice is extracted once)."""
    tmp = Path(tempfile.mkdtemp(prefix="ir-profile-trees-", dir=parent))
    try:
        trees = {}
        for commit in dict.fromkeys(commits):
            trees[commit] = export_tree(repo, commit, tmp / commit[:12])
        yield trees
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
