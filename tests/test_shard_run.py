"""Sharding end to end on real asv (slow): the toy suite split into 2 shards, both run, merged:
exactly the benchmark x params set of an unsharded run, and the merged tree publishes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _tools_testkit import MACHINE, PACKAGE_V1, asv_env, make_toy_project

from tools.loader import load_results

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow

# Enough benchmarks for a split to mean something: the toy suite plus a class with a setup_cache
# (its two benchmarks must land in one shard) and a parameterised one.
BENCHMARKS = """
import os
import sys

try:  # with --python=same asv drops PYTHONPATH: import from the checkout
    import toypkg
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import toypkg


class Work:
    params = ([200, 2000], ["a", "b"])
    param_names = ["n", "kind"]

    def setup(self, n, kind):
        if kind == "b" and n == 2000:
            raise NotImplementedError("not at this size")

    def time_work(self, n, kind):
        toypkg.work(n)


class Cached:
    def setup_cache(self):
        return list(range(1000))

    def time_sum(self, data):
        sum(data)

    def time_max(self, data):
        max(data)


def time_plain():
    toypkg.work(100)


def track_rate():
    return 1234.5
track_rate.unit = "ops/s"


def peakmem_list():
    [0] * 100000


def time_fails():
    raise ValueError("boom")
"""


def _run(repo: Path, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**asv_env(home), "PYTHONPATH": os.pathsep.join([str(ROOT), str(repo)])}
    return subprocess.run([*args], cwd=repo, env=env, capture_output=True, text=True, timeout=600)


def _asv_run(repo: Path, home: Path, commit: str, out: Path, bench: str | None = None) -> None:
    """One same-Python asv run of ``commit`` (optionally one shard), its results moved to ``out``."""
    args = [sys.executable, "-m", "asv", "run", "--python=same", "--set-commit-hash", commit, "--quick"]
    args += ["--machine", MACHINE] + (["--bench", bench] if bench else [])
    proc = _run(repo, home, *args)
    assert proc.returncode in (0, 2), proc.stdout + proc.stderr  # 2: time_fails fails on purpose
    shutil.move(str(repo / ".asv" / "results"), str(out))


def _set(results: Path) -> set[tuple[str, str]]:
    table = load_results(results, warn=lambda m: None)
    return set(zip(table["benchmark"].astype(str), table["params"]))


def test_two_shards_merged_give_exactly_the_unsharded_set(tmp_path):
    repo, hashes = make_toy_project(tmp_path, [PACKAGE_V1], benchmarks=BENCHMARKS)
    home = tmp_path / "home"
    home.mkdir()
    assert _run(repo, home, sys.executable, "-m", "asv", "machine", "--yes", "--machine", MACHINE).returncode == 0
    _asv_run(repo, home, hashes[0], tmp_path / "whole")
    shards = []
    for k in (1, 2):
        # the shard's durations come from the unsharded run's results, as in CI from the history
        proc = _run(repo, home, sys.executable, "-m", "tools", "shard", "--shard", f"{k}/2",
                    "--results-dir", str(tmp_path / "whole"), "--no-cache")  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        regex = proc.stdout.strip()
        _asv_run(repo, home, hashes[0], tmp_path / f"shard{k}", regex)
        shards.append(_set(tmp_path / f"shard{k}"))
    assert shards[0] and shards[1] and not shards[0] & shards[1]
    cached = {"toy_benchmarks.Cached.time_sum", "toy_benchmarks.Cached.time_max"}
    assert any(cached <= {b for b, _ in s} for s in shards)  # one setup_cache, one shard
    merged = tmp_path / "merged"
    proc = _run(repo, home, sys.executable, "-m", "tools", "merge-results", str(merged),
                str(tmp_path / "shard1"), str(tmp_path / "shard2"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    whole = _set(tmp_path / "whole")
    assert _set(merged) == whole and len(whole) == 10
    # the merged tree is an asv results tree: asv publishes it
    conf = json.loads((repo / "asv.conf.json").read_text())
    conf.update(results_dir=str(merged), html_dir=str(tmp_path / "html"))
    (repo / "asv.conf.json").write_text(json.dumps(conf))
    proc = _run(repo, home, sys.executable, "-m", "asv", "publish")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    index = json.loads((tmp_path / "html" / "index.json").read_text())
    assert {b for b, _ in whole} <= set(index["benchmarks"])
