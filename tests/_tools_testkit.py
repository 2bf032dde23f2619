"""Helpers for the tools tests: a toy asv project run by real asv, and synthetic results.

``make_toy_project`` writes a tiny package + benchmarks + asv.conf.json in a git repo;
``run_asv`` runs asv in it with ``HOME`` pointed at a temp dir (asv's machine file is
global). ``synthesize_results`` writes asv format-2 result files for loader scale
measurements and for bad-input cases.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tools.asv_formats import V2_COLUMNS

MACHINE = "toymachine"

PACKAGE_V1 = """
def work(n):
    total = 0
    for i in range(n):
        total += i * i
    return total
"""

# The deliberate slowdown: the same result with ~3x the work per item.
PACKAGE_SLOW = """
def work(n):
    total = 0
    for i in range(n):
        for _ in range(3):
            x = i * i
        total += x
    return total
"""

BENCHMARKS = """
import os
import sys

try:  # installed in asv's virtualenv; with --python=same, from the checked-out tree
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

PYPROJECT = """
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "toypkg"
version = "0.1"

[tool.setuptools]
packages = ["toypkg"]
"""


def asv_conf(env_type: str = "virtualenv") -> dict:
    return {
        "version": 1,
        "project": "toypkg",
        "repo": ".",
        "dvcs": "git",
        "branches": ["main"],
        "environment_type": env_type,
        "benchmark_dir": "benchmarks",
        "env_dir": ".asv/env",
        "results_dir": ".asv/results",
        "html_dir": ".asv/html",
        "build_command": ["python -m pip wheel --no-deps --no-build-isolation -w {build_cache_dir} {build_dir}"],
        "install_command": ["in-dir={env_dir} python -m pip install --no-deps --force-reinstall {wheel_file}"],
        "matrix": {"req": {}},  # virtualenv seeds setuptools for Python 3.11: nothing to download
        "launch_method": "forkserver",
    }


def _git_env(date: str | None = None) -> dict:
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    return env


def git(repo: Path, *args: str, date: str | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, env=_git_env(date), check=True, capture_output=True, text=True
    ).stdout.strip()


def commit_all(repo: Path, message: str, date: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message, date=date)
    return git(repo, "rev-parse", "HEAD")


ONE_BENCHMARK = """
import toypkg


class Work:
    params = [3000]
    param_names = ["n"]
    repeat = 5          # keep the slow test short: 5 samples per round
    warmup_time = 0.0

    def time_work(self, n):
        toypkg.work(n)
"""


def make_toy_project(root: Path, versions: list[str], benchmarks: str = BENCHMARKS) -> tuple[Path, list[str]]:
    """A git repo with one commit per package source in ``versions``; returns (repo, hashes)."""
    repo = root / "toy"
    (repo / "toypkg").mkdir(parents=True)
    (repo / "benchmarks").mkdir()
    (repo / "pyproject.toml").write_text(PYPROJECT)
    (repo / "benchmarks" / "__init__.py").write_text("")
    (repo / "benchmarks" / "toy_benchmarks.py").write_text(textwrap.dedent(benchmarks))
    (repo / "asv.conf.json").write_text(json.dumps(asv_conf(), indent=2))
    (repo / ".gitignore").write_text(".asv/\nmetrics/\n")
    git(repo, "init", "-q", "-b", "main")
    hashes = []
    for i, source in enumerate(versions):
        (repo / "toypkg" / "__init__.py").write_text(textwrap.dedent(source))
        hashes.append(commit_all(repo, f"version {i}", f"2026-01-{i + 1:02d}T12:00:00+00:00"))
    return repo, hashes


def asv_env(home: Path) -> dict:
    bindir = str(Path(sys.executable).parent)
    return {**os.environ, "HOME": str(home), "PATH": bindir + os.pathsep + os.environ.get("PATH", "")}


def run_asv(repo: Path, home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    home.mkdir(parents=True, exist_ok=True)
    env = asv_env(home)
    subprocess.run(
        [sys.executable, "-m", "asv", "machine", "--yes", "--machine", MACHINE],
        cwd=repo,
        env=env,
        check=True,
        capture_output=True,
    )
    proc = subprocess.run(
        [sys.executable, "-m", "asv", *args, "--machine", MACHINE], cwd=repo, env=env, capture_output=True, text=True
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"asv {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def run_same_python(repo: Path, home: Path, commits: list[str]) -> Path:
    """Record results of the current interpreter under each commit hash (fast: no env builds).

    The toy package is imported from the repo checkout via PYTHONPATH, so the numbers are
    real asv measurements of real code; only the package version is the working tree's.
    """
    os.environ.setdefault("PYTHONPATH", "")
    for commit in commits:
        env_home = home
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "asv",
                "run",
                "--python=same",
                "--set-commit-hash",
                commit,
                "--record-samples",
                "--quick",
                "--machine",
                MACHINE,
            ],
            cwd=repo,
            env={**asv_env(env_home), "PYTHONPATH": str(repo)},
            capture_output=True,
            text=True,
        )
        if proc.returncode not in (0, 2):  # 2: some benchmark failed (time_fails does, on purpose)
            raise AssertionError(f"asv run failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return repo / ".asv" / "results"


# ---------------------------------------------------------------- synthetic results

COLUMNS = V2_COLUMNS  # asv result_columns, in its order


def synth_benchmarks(n_results: int) -> dict:
    """``n_results`` result rows: half plain time benchmarks, the rest 4-way parameterised."""
    benches = {}
    n_plain = n_results // 2
    for i in range(n_plain):
        name = f"comp{i % 5}_benchmarks.Suite{i // 10}.time_op{i}"
        benches[name] = {
            "name": name,
            "type": "time",
            "unit": "seconds",
            "params": [],
            "param_names": [],
            "version": f"v{i}",
        }
    for i in range((n_results - n_plain) // 4):
        name = f"comp{i % 5}_benchmarks.Param{i // 10}.time_sized{i}"
        benches[name] = {
            "name": name,
            "type": "time",
            "unit": "seconds",
            "params": [["10", "100"], ["'x'", "'y'"]],
            "param_names": ["n", "kind"],
            "version": f"p{i}",
        }
    return benches


def synthesize_results(
    results_dir: Path,
    n_commits: int,
    n_results: int,
    machine: str = "synth",
    env: str = "virtualenv-py3.11",
    samples: int = 10,
    seed: int = 0,
) -> dict:
    import random

    rnd = random.Random(seed)
    benches = synth_benchmarks(n_results)
    mdir = results_dir / machine
    mdir.mkdir(parents=True, exist_ok=True)
    (results_dir / "benchmarks.json").write_text(json.dumps({**benches, "version": 2}))
    (mdir / "machine.json").write_text(
        json.dumps({"machine": machine, "os": "Linux", "cpu": "synthetic", "num_cpu": "2", "ram": "4GB", "version": 1})
    )
    t0 = 1_700_000_000_000
    for c in range(n_commits):
        commit = f"{c:08x}" + "ab" * 16
        results = {}
        for name, meta in benches.items():
            n = 4 if meta["params"] else 1
            smp = [[rnd.lognormvariate(-9, 0.1) for _ in range(max(samples, 1))] for _ in range(n)]
            med = [sorted(s)[len(s) // 2] for s in smp]
            results[name] = [
                med,
                meta["params"],
                meta["version"],
                t0 + c * 3_600_000,
                1.5,
                [m * 0.9 for m in med],
                [m * 1.1 for m in med],
                [m * 0.95 for m in med],
                [m * 1.05 for m in med],
                [100] * n,
                [max(samples, 1)] * n,
            ]
            if samples:
                results[name].append(smp)
        data = {
            "commit_hash": commit,
            "env_name": env,
            "date": t0 + c * 3_600_000,
            "params": {"machine": machine, "python": "3.11"},
            "python": "3.11",
            "requirements": {},
            "env_vars": {},
            "result_columns": COLUMNS,
            "results": results,
            "durations": {},
            "version": 2,
        }
        (mdir / f"{commit[:8]}-{env}.json").write_text(json.dumps(data))
    return benches


# ---------------------------------------------------------------- hand-made result files

DATA = Path(__file__).parent / "data" / "asv_results"  # recorded from a real asv run (see tests/data/README)
RECORDED_COMMITS = [  # oldest first; the last one carries the deliberate ~3x slowdown
    "ad3d2286813e46fdbb64d53588871f73fe4c91c2",
    "f86dea00c1f3e9598c4a30dbabdec003d35a1f54",
    "59716590e011178fa6bba8b22ff53520fb073aa0",
    "14494bd7e21e168a7dd35ce8d99b24bfac4eb337",
]


def write_results(
    results_dir: Path, benchmarks: dict, runs: list[dict], machine: str = "m1", env: str = "virtualenv-py3.11"
) -> None:
    """Write a results dir: ``benchmarks`` as benchmarks.json, and per run
    ``{"commit", "date" (ms), "values": {name: [values]}, "samples": {name: [[...]]}}``."""
    mdir = results_dir / machine
    mdir.mkdir(parents=True, exist_ok=True)
    (results_dir / "benchmarks.json").write_text(json.dumps({**benchmarks, "version": 2}))
    (mdir / "machine.json").write_text(json.dumps({"machine": machine, "os": "Linux", "cpu": "test", "version": 1}))
    for run in runs:
        results = {}
        for name, values in run["values"].items():
            meta = benchmarks[name]
            samples = run.get("samples", {}).get(name)
            row = [
                values,
                meta.get("params", []),
                run.get("versions", {}).get(name, meta["version"]),
                run["date"] + 1000,
                0.5,
            ]
            if samples is not None:
                row += [None, None, None, None, None, None, samples]
            results[name] = row
        cols = COLUMNS if any(len(r) > 5 for r in results.values()) else COLUMNS[:5]
        data = {
            "commit_hash": run["commit"],
            "env_name": env,
            "date": run["date"],
            "params": {"machine": machine},
            "python": "3.11",
            "requirements": {},
            "env_vars": {},
            "result_columns": cols,
            "results": results,
            "durations": {},
            "version": 2,
        }
        (mdir / f"{run['commit'][:8]}-{env}.json").write_text(json.dumps(data))
