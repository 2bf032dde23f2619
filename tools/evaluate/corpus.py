"""The noise corpus: the same commit measured again and again, one entry per process.

A process (an asv round) is the unit of noise on a shared machine: samples inside one
process agree with each other far better than two processes agree, so the corpus keeps the
raw samples grouped by the process that took them. Injection and every detector in the
evaluation draw whole processes from here.

Stored as gzip'd JSON (small enough for ``tests/data``)::

    {"format": 1, "meta": {...how it was recorded...},
     "series": {"<benchmark>(<params>)": {"unit": "seconds", "channel": "wall",
                                          "processes": [[s, s, ...], [s, ...], ...]}}}

Recorded with asv itself (``record_with_asv``): one ``asv run --python=same`` of the current
commit with ``rounds=R`` and a fixed ``repeat``, so asv starts R fresh processes per
benchmark and appends each round's samples; the fixed repeat lets us split them back.
"""

from __future__ import annotations

import gzip
import itertools
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from tools.config import read_asv_conf, write_scratch_asv_conf
from tools.errors import ToolError
from tools.io import atomic_write_bytes
from tools.revisions import git_rev_parse
from tools.schema import twin_of, workload_of

FORMAT = 1
DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "tests" / "data" / "noise_corpus.json.gz"

# The recorded selection: every component, microsecond- and millisecond-scale workloads, small
# parameters so one process costs about a second (a round of this list is ~30 s here).
DEFAULT_SELECTION = [
    r"^memory_benchmarks\.ManagerCreation\.time_create_manager$",
    r"^memory_benchmarks\.AddEntry\.time_add_entry$",
    r"^memory_benchmarks\.GetMessages\.time_get_last_n\(1000\)$",
    r"^memory_benchmarks\.GetAllMessages\.time_get_all\(10000\)$",
    r"^memory_benchmarks\.TimeRangeRetrieval\.time_time_range\(1000\)$",
    r"^rag_manager_benchmarks\.AddSource\.time_add_source$",
    r"^rag_manager_benchmarks\.RetrieveContext\.time_retrieve_context\(10000\)$",
    r"^rag_manager_benchmarks\.FuseContext\.time_fuse_context\(100\)$",
    r"^model_registry_benchmarks\.Lookup\.time_lookup\(100\)$",
    r"^model_registry_benchmarks\.GetBatch\.time_get_100_by_id$",
    r"^model_registry_benchmarks\.FindModels\.time_find_models_full_scan\('10%'\)$",
    r"^model_registry_benchmarks\.StatusChange\.time_update_status$",
    r"^router_benchmarks\.Route\.time_route\('cost_optimized', 10\)$",
    r"^router_benchmarks\.Route\.time_route\('content_based', 10000\)$",
    r"^router_benchmarks\.RoundRobinRoute\.time_route_round_robin$",
    r"^router_benchmarks\.GetFilteredModels\.time_get_filtered_models\(10000, 'complex'\)$",
    r"^chain_engine_benchmarks\.Validate\.time_validate\(500\)$",
    r"^chain_engine_benchmarks\.ExecuteChain\.time_execute\('linear', 500\)$",
]


@dataclass
class SeriesNoise:
    """Raw samples of one benchmark x params, grouped by the process that took them."""

    name: str
    unit: str
    channel: str  # 'wall' | 'instructions'
    processes: list[np.ndarray] = field(default_factory=list)

    @property
    def n_processes(self) -> int:
        return len(self.processes)

    def process_values(self) -> np.ndarray:
        """One value per process: the median of its samples (what asv reports for a run)."""
        return np.array([float(np.median(p)) for p in self.processes])

    def centre(self) -> float:
        """The median of the per-process values: the series' level, and the centre a variance-only
        effect widens around (``inject.apply``)."""
        return float(np.median(self.process_values()))

    def cv(self) -> float:
        """Coefficient of variation of the per-process values: the noise a comparison faces."""
        v = self.process_values()
        return float(np.std(v, ddof=1) / np.mean(v)) if len(v) > 1 else float("nan")

    def within_cv(self) -> float:
        """Median coefficient of variation of samples inside one process (for contrast)."""
        cvs = [np.std(p, ddof=1) / np.mean(p) for p in self.processes if len(p) > 1]
        return float(np.median(cvs)) if cvs else float("nan")

    def max_min_ratio(self) -> float:
        v = self.process_values()
        return float(v.max() / v.min()) if len(v) else float("nan")


@dataclass
class NoiseCorpus:
    series: dict[str, SeriesNoise]
    meta: dict = field(default_factory=dict)

    def names(self, channel: str | None = None) -> list[str]:
        return [n for n, s in self.series.items() if channel is None or s.channel == channel]

    def summary_rows(self) -> list[dict]:
        rows = []
        for name, s in self.series.items():
            v = s.process_values()
            rows.append(
                {
                    "series": name,
                    "channel": s.channel,
                    "unit": s.unit,
                    "processes": s.n_processes,
                    "samples_per_process": int(np.median([len(p) for p in s.processes])),
                    "median": float(np.median(v)),
                    "cv_between_pct": 100 * s.cv(),
                    "cv_within_pct": 100 * s.within_cv(),
                    "max_over_min": s.max_min_ratio(),
                }
            )
        return rows


# ---- reading and writing ----


def to_json(corpus: NoiseCorpus, digits: int = 5) -> dict:
    def rnd(x: float) -> float:
        # Significant digits, not decimals: values span nanoseconds to billions of instructions.
        return float(f"{x:.{digits}g}")

    return {
        "format": FORMAT,
        "meta": corpus.meta,
        "series": {
            name: {
                "unit": s.unit,
                "channel": s.channel,
                # Instruction counts are compared at 0.5% and below: keep every digit that matters.
                "processes": [
                    [rnd(x) if s.channel in ("wall", "relative") else float(f"{x:.12g}") for x in p]
                    for p in s.processes
                ],
            }
            for name, s in corpus.series.items()
        },
    }


def from_json(data: object, where: str = "corpus") -> NoiseCorpus:
    """Validate and build a corpus; ToolError names what is wrong and where."""
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ToolError(f'{where}: not a noise corpus (expected an object with "format": {FORMAT})')
    raw = data.get("series")
    if not isinstance(raw, dict) or not raw:
        raise ToolError(f"{where}: no series in the corpus")
    series: dict[str, SeriesNoise] = {}
    for name, entry in raw.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("processes"), list):
            raise ToolError(f"{where}: series {name!r} has no process list")
        procs = []
        for i, p in enumerate(entry["processes"]):
            try:
                arr = np.asarray(p, dtype=float)
            except (TypeError, ValueError):
                raise ToolError(f"{where}: series {name!r} process {i} holds non-numbers") from None
            if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
                raise ToolError(f"{where}: series {name!r} process {i} must be a non-empty list of positive numbers")
            procs.append(arr)
        if len(procs) < 4:
            raise ToolError(f"{where}: series {name!r} has {len(procs)} processes; at least 4 are needed")
        series[name] = SeriesNoise(
            name=name,
            unit=str(entry.get("unit", "seconds")),
            channel=str(entry.get("channel", "wall")),
            processes=procs,
        )
    return NoiseCorpus(series=series, meta=dict(data.get("meta") or {}))


def load_corpus(path: str | os.PathLike) -> NoiseCorpus:
    path = Path(path)
    if not path.is_file():
        raise ToolError(f"noise corpus not found: {path}")
    try:
        raw = path.read_bytes()
        text = gzip.decompress(raw).decode("utf-8") if raw[:2] == b"\x1f\x8b" else raw.decode("utf-8")
        data = json.loads(text)
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError, gzip.BadGzipFile) as exc:
        raise ToolError(f"{path}: cannot read the noise corpus ({exc.__class__.__name__}: {exc})") from None
    return from_json(data, where=str(path))


def save_corpus(corpus: NoiseCorpus, path: str | os.PathLike) -> Path:
    text = json.dumps(to_json(corpus), separators=(",", ":"), sort_keys=True)
    # mtime=0: the same corpus gives the same bytes (no spurious diffs when re-saved).
    return atomic_write_bytes(path, gzip.compress(text.encode("utf-8"), mtime=0))


# ---- recording with asv ----


def _series_name(benchmark: str, param_values: tuple, param_names: list[str]) -> str:
    if not param_values:
        return benchmark
    return f"{benchmark}({', '.join(str(v) for v in param_values)})"


def split_rounds(samples: list, rounds: int) -> list[list[float]] | None:
    """asv appends each round's samples; with a fixed repeat they split back evenly."""
    clean = [float(x) for x in samples if x is not None and not (isinstance(x, float) and math.isnan(x))]
    if rounds <= 0 or len(clean) == 0 or len(clean) % rounds:
        return None
    k = len(clean) // rounds
    return [clean[i * k : (i + 1) * k] for i in range(rounds)]


def corpus_from_asv_results(results_dir: Path, rounds: int, machine: str) -> dict[str, SeriesNoise]:
    """Read every result of ``machine`` in ``results_dir`` into per-process series."""
    from asv import results as asv_results

    bench_meta = {}
    bj = results_dir / "benchmarks.json"
    if bj.is_file():
        bench_meta = json.loads(bj.read_text())
    out: dict[str, SeriesNoise] = {}
    for res in asv_results.iter_results_for_machine(str(results_dir), machine):  # one file: one commit
        for key in res.get_result_keys(bench_meta):
            params = res.get_result_params(key)
            samples = res.get_result_samples(key, params)
            meta = bench_meta.get(key, {})
            unit = meta.get("unit", "seconds")
            channel = "instructions" if unit == "instructions" else "wall"
            combos = list(itertools.product(*params)) if params else [()]
            for combo, s in zip(combos, samples):
                if not s:
                    continue
                procs = split_rounds(s, rounds)
                if procs is None:
                    continue  # a round timed out or failed: its samples cannot be attributed
                name = _series_name(key, combo, meta.get("param_names", []))
                out[name] = SeriesNoise(name, unit, channel, [np.asarray(p) for p in procs])
    return out


def _current_branch(repo_root: Path) -> str:
    proc = subprocess.run(["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=repo_root, capture_output=True, text=True)
    name = proc.stdout.strip()
    return name if proc.returncode == 0 and name and name != "HEAD" else "main"


def _asv_config(repo_root: Path, tmp: Path) -> Path:
    """A copy of the project's asv.conf.json whose outputs all go to ``tmp``."""
    src = repo_root / "asv.conf.json"
    conf = read_asv_conf(src) if src.is_file() else {}
    conf.update(
        {
            "version": 1,
            "project": conf.get("project", "intellirouter"),
            "environment_type": conf.get("environment_type", "virtualenv"),  # unused with --python=same, but required
            "branches": conf.get("branches", [_current_branch(repo_root)]),
        }
    )
    return write_scratch_asv_conf(
        conf, repo_root, tmp, repo=repo_root, results_dir=tmp / "results", html_dir=tmp / "html", env_dir=tmp / "env"
    )


DEFAULT_INSTRUCTION_SELECTION = [r"^[a-z_]+_benchmarks\.[A-Za-z]+\.track_[a-z0-9_]+_instructions$"]


def _git_head(repo_root: Path) -> str:
    sha = git_rev_parse("HEAD", repo_root)
    if sha is None:
        raise ToolError(f"cannot read the HEAD commit of {repo_root}")
    return sha


MACHINE = "evaluate-noise"


@dataclass
class _AsvRecorder:
    """``asv run --python=same`` of one commit of the checkout, one run at a time, into a scratch
    directory (its config, machine file and results)."""

    tmp: Path
    conf: Path
    repo_root: Path
    python: str
    sha: str
    launch_method: str | None
    launch_used: str  # the launch method asv uses: the one asked for, else asv.conf.json's

    @classmethod
    def start(cls, tmp: Path, repo_root: Path, python: str, sha: str, launch_method: str | None) -> _AsvRecorder:
        """Write the scratch config and register the machine (once, in ``tmp``)."""
        conf = _asv_config(repo_root, tmp)
        launch_used = launch_method or json.loads(conf.read_text()).get("launch_method", "spawn")
        subprocess.run(
            [python, "-m", "asv", "machine", "--yes", "--machine", MACHINE, "--config", str(conf)],
            cwd=tmp,
            env=dict(os.environ, HOME=str(tmp)),
            capture_output=True,
            text=True,
        )
        return cls(tmp, conf, repo_root, python, sha, launch_method, launch_used)

    def run(self, bench: list[str], attrs: list[str], log) -> Path:
        """One run of the ``bench`` regexes with asv attributes ``attrs``; its results dir (emptied first)."""
        results = self.tmp / "results"
        shutil.rmtree(results, ignore_errors=True)
        env = dict(os.environ, HOME=str(self.tmp))  # asv's machine file is global: keep ours private
        cmd = self._command(bench, attrs)
        log("recording: " + " ".join(cmd[2:]))
        proc = subprocess.run(cmd, cwd=self.repo_root, env=env, capture_output=True, text=True)
        if proc.returncode not in (0, 2):  # asv exits 2 when some benchmark failed
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise ToolError(f"asv run failed (exit {proc.returncode}): {' | '.join(tail)}")
        return results

    def _command(self, bench: list[str], attrs: list[str]) -> list[str]:
        cmd = [self.python, "-m", "asv", "run", "--config", str(self.conf), "--python=same", "--record-samples"]
        cmd += ["--set-commit-hash", self.sha, "--machine", MACHINE]
        for a in attrs:
            cmd += ["-a", a]
        if self.launch_method:
            cmd += ["--launch-method", self.launch_method]
        for regex in bench:
            cmd += ["--bench", regex]
        return cmd


def _values_from_asv_results(results_dir: Path) -> dict[str, tuple[str, float]]:
    """{series name: (unit, value)} of the single result file in ``results_dir`` (track benchmarks)."""
    from asv import results as asv_results

    bj = results_dir / "benchmarks.json"
    bench_meta = json.loads(bj.read_text()) if bj.is_file() else {}
    out = {}
    for res in asv_results.iter_results_for_machine(str(results_dir), MACHINE):
        for key in res.get_result_keys(bench_meta):
            params = res.get_result_params(key)
            values = res.get_result_value(key, params)
            combos = list(itertools.product(*params)) if params else [()]
            for combo, v in zip(combos, values):
                if v is not None and math.isfinite(v) and v > 0:
                    out[_series_name(key, combo, [])] = (bench_meta.get(key, {}).get("unit", ""), float(v))
    return out


def relative_twin_pattern(pattern: str) -> str:
    """The asv --bench regex of a time_* selection's speed-normalised twin (track_*_relative)."""
    return re.sub(r"\\\.time_([a-z0-9_]+)", r"\\.track_\1_relative", pattern)


def relative_name(name: str) -> str | None:
    """``mod.Class.time_x(p)`` -> ``mod.Class.track_x_relative(p)`` (its speed-normalised twin)."""
    workload = workload_of(name)
    return twin_of(name, "relative") if workload and workload[2] == "time" else None


def twin_of_series(corpus: NoiseCorpus, name: str) -> SeriesNoise | None:
    """The speed-normalised twin recorded beside wall series ``name``, if the corpus has it
    (with as many processes: the twins are judged on the same process draws)."""
    twin = corpus.series.get(relative_name(name) or "")
    return twin if twin is not None and twin.n_processes == corpus.series[name].n_processes else None


def record_with_asv(
    out_path: Path,
    *,
    bench: str | list[str] = DEFAULT_SELECTION,
    rounds: int = 48,
    repeat: int = 10,
    relative: bool = True,
    instruction_bench: list[str] | None = None,
    instruction_runs: int = 5,
    launch_method: str | None = None,
    repo_root: Path | None = None,
    python: str = sys.executable,
    log=print,
) -> NoiseCorpus:
    """Record the corpus at HEAD and store it.

    ``rounds`` separate ``asv run -a rounds=1 -a repeat=<repeat>`` invocations of the wall-time
    selection and (``relative``) its ``track_*_relative`` twins: each run starts one fresh
    process per benchmark, so every series gets one process per run, and a wall series and
    its twin are measured in the same minute of the same run (their noise is compared on
    equal terms). asv keeps no per-round values for ``track_*`` benchmarks, hence one run per
    process. Instruction counts (``instruction_bench``): ``instruction_runs`` more runs.
    """
    repo_root = repo_root or Path(__file__).resolve().parents[2]
    bench = [bench] if isinstance(bench, str) else list(bench)
    if bench and rounds < 4:
        raise ToolError(f"--record-rounds must be at least 4 (got {rounds})")
    if instruction_bench and instruction_runs < 4:
        raise ToolError(f"--instruction-runs must be at least 4 (got {instruction_runs})")
    sha = _git_head(repo_root)
    started = datetime.now(UTC)
    selection = bench + ([relative_twin_pattern(b) for b in bench] if relative else [])
    with tempfile.TemporaryDirectory(prefix="noise-corpus-") as tmpdir:
        asv = _AsvRecorder.start(Path(tmpdir), repo_root, python, sha, launch_method)
        series = _record_wall(asv, selection, rounds if bench else 0, repeat, log)
        wall_seconds = (datetime.now(UTC) - started).total_seconds()
        series.update(_record_instructions(asv, instruction_bench, instruction_runs if instruction_bench else 0, log))
    series = {n: s for n, s in series.items() if s.n_processes >= 4}
    elapsed = (datetime.now(UTC) - started).total_seconds()
    if not series:
        raise ToolError(f"asv recorded no splittable samples for --bench {bench!r}")
    how = _how_recorded(rounds, repeat, asv.launch_used, relative, instruction_bench, instruction_runs)
    meta = {
        "recorded_utc": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": sha,
        "how": how,
        "bench": bench,
        "instruction_bench": instruction_bench or [],
        "rounds": rounds,
        "repeat": repeat,
        "seconds": round(elapsed, 1),
        "wall_seconds": round(wall_seconds, 1),
        **_machine_meta(),
    }
    corpus = NoiseCorpus(series=dict(sorted(series.items())), meta=meta)
    save_corpus(corpus, out_path)
    return corpus


def _record_wall(asv: _AsvRecorder, selection: list[str], runs: int, repeat: int, log) -> dict[str, SeriesNoise]:
    """``runs`` runs of the wall-time selection (and twins), one process each: the raw samples of
    every wall series and the value of every speed-normalised twin, one process per run."""
    series: dict[str, SeriesNoise] = {}
    for k in range(runs):
        log(f"run {k + 1}/{runs}")
        results = asv.run(selection, ["rounds=1", f"repeat={repeat}"], log if k == 0 else (lambda *_: None))
        for name, s in corpus_from_asv_results(results, 1, MACHINE).items():
            series.setdefault(name, SeriesNoise(name, s.unit, s.channel)).processes.extend(s.processes)
        for name, (unit, value) in _values_from_asv_results(results).items():
            if unit == "relative":
                series.setdefault(name, SeriesNoise(name, unit, "relative")).processes.append(np.array([value]))
    return series


def _record_instructions(asv: _AsvRecorder, bench: list[str] | None, runs: int, log) -> dict[str, SeriesNoise]:
    """``runs`` runs of the instruction-count benchmarks: one count per run of every series that
    got at least 4."""
    counts: dict[str, list] = {}
    for _ in range(runs):
        for name, (unit, value) in _values_from_asv_results(asv.run(bench, ["rounds=1"], log)).items():
            counts.setdefault(name, []).append((unit, value))
    return {
        name: SeriesNoise(name, got[0][0] or "instructions", "instructions", [np.array([v]) for _, v in got])
        for name, got in counts.items()
        if len(got) >= 4
    }


def _how_recorded(
    rounds: int, repeat: int, launch: str, relative: bool, instruction_bench: list[str] | None, instruction_runs: int
) -> str:
    """The recording as asv commands, for the corpus' meta."""
    return (
        f"{rounds} x asv run --python=same --record-samples -a rounds=1 -a repeat={repeat} "
        f"--launch-method {launch} --set-commit-hash HEAD --bench <each of 'bench'>"
        + (" and its track_*_relative twin" if relative else "")
        + (
            f"; instruction counts: {instruction_runs} x asv run -a rounds=1 --bench <instruction_bench>"
            if instruction_bench
            else ""
        )
    )


def _machine_meta() -> dict:
    """Where the corpus was recorded: Python, CPUs, platform and load."""
    return {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(terse=True),
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


def subset(corpus: NoiseCorpus, pattern: str | None) -> NoiseCorpus:
    if not pattern:
        return corpus
    rx = re.compile(pattern)
    chosen = {n: s for n, s in corpus.series.items() if rx.search(n)}
    if not chosen:
        raise ToolError(f"no corpus series matches --bench {pattern!r}")
    return NoiseCorpus(series=chosen, meta=corpus.meta)
