"""Fixtures shared by the test modules: a two-commit git project for the interleaved runner."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest


def _git(repo: Path, *args: str) -> str:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    repo = tmp_path / "proj"
    repo.mkdir()
    (repo / "asv.conf.json").write_text(
        json.dumps({"version": 1, "project": "p", "repo": ".", "results_dir": ".asv/results", "env_dir": ".asv/env"})
    )
    _git(repo, "init", "-q", "-b", "main")
    hashes = []
    for i in range(2):
        (repo / "f.txt").write_text(str(i))
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", f"c{i}")
        hashes.append(_git(repo, "rev-parse", "HEAD"))
    return repo, hashes
