"""asv results (format version 2) -> the tidy table of ``tools.schema``.

asv's own reader (``asv.results.Results.load``) builds one object per file and then one
call per benchmark and statistic; at 1,000 commits x 300 results that is tens of seconds.
The format is simple and documented (``result_columns`` names the positions of each row,
values are flat lists in ``itertools.product(*params)`` order), so this module reads the
JSON directly and builds the columns with list ``extend`` per benchmark, repeating the
per-file and per-benchmark constants with numpy at the end.

Bad input is reported, not fatal, wherever the rest is still useful: a corrupt or
truncated file is skipped with one warning line naming it. Nothing usable at all
(missing dir, no files, every file bad, no ``benchmarks.json``, unknown machine) raises
``ToolError``.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

try:  # optional: a faster JSON parser (bench extra); the standard library works too
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised where orjson is absent
    _orjson = None

from tools.errors import ToolError
from tools.rounds_layout import round_dirs, round_number, session_dirs
from tools.schema import TIDY_COLUMNS, component_of

RESULTS_API_VERSION = 2
SKIP_FILES = {"machine.json", "benchmarks.json"}

# asv's ``type`` -> the schema's short name (asv writes "peakmemory" for peakmem_*).
_TYPE_ALIASES = {"peakmemory": "peakmem"}
_PREFIX_TYPES = (
    ("time_", "time", "seconds"),
    ("peakmem_", "peakmem", "bytes"),
    ("mem_", "memory", "bytes"),
    ("track_", "track", "unit"),
)

Warn = Callable[[str], None]


def _stderr_warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


# ---------------------------------------------------------------- benchmarks.json


def read_benchmarks_json(path: str | os.PathLike) -> dict[str, dict]:
    """``benchmarks.json`` -> {name: {type, unit, params, param_names, version}}."""
    path = Path(path)
    if not path.is_file():
        raise ToolError(f"{path}: benchmarks.json is missing (run `asv run` first; it is written with the results)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ToolError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ToolError(f"{path}: expected a JSON object of benchmarks")
    return {k: v for k, v in data.items() if k != "version" and isinstance(v, dict)}


def _meta_for(name: str, benchmarks: dict[str, dict]) -> tuple[str, str, list[str], str | None]:
    """(type, unit, param_names, version) for a result name; inferred from the name when
    the benchmark no longer exists in benchmarks.json (removed or renamed since)."""
    meta = benchmarks.get(name)
    if meta is not None:
        btype = str(meta.get("type", ""))
        return (
            _TYPE_ALIASES.get(btype, btype),
            str(meta.get("unit", "")),
            list(meta.get("param_names") or []),
            meta.get("version"),
        )
    method = name.rsplit(".", 1)[-1]
    for prefix, btype, unit in _PREFIX_TYPES:
        if method.startswith(prefix):
            return btype, unit, [], None
    return "", "", [], None


# ---------------------------------------------------------------- discovery


def machine_dirs(results_dir: Path) -> list[Path]:
    """Machine folders of a results dir: sub-folders holding result JSON files."""

    def holds_results(p: Path) -> bool:
        return (p / "machine.json").exists() or any(
            f.suffix == ".json" and f.name not in SKIP_FILES for f in p.iterdir()
        )

    return sorted(p for p in results_dir.iterdir() if p.is_dir() and holds_results(p))


def read_machine_json(machine_dir: Path) -> dict:
    try:
        data = json.loads((machine_dir / "machine.json").read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError, UnicodeDecodeError):
        return {}


def load_machines(results_dir: str | os.PathLike) -> dict[str, dict]:
    """{machine name: machine.json contents (os, cpu, num_cpu, ram, ...)} of a results dir."""
    root = Path(results_dir)
    if not root.is_dir():
        return {}
    out = {}
    for d in machine_dirs(root):
        info = read_machine_json(d)
        out[str(info.get("machine") or d.name)] = info
    return out


# ---------------------------------------------------------------- parameters


def _format_param_names(param_names: Sequence[str], combo: Sequence[str]) -> str:
    return ", ".join(f"{n}={v}" for n, v in zip(param_names, combo))


class _ParamCache:
    """Parameter expansion and benchmark metadata are the same for every commit: compute
    them once per benchmark (re-checked when a file's params differ, e.g. older code)."""

    def __init__(self, benchmarks: dict[str, dict]):
        self._benchmarks = benchmarks
        self._meta: dict[str, tuple] = {}
        self._params: dict[str, tuple] = {}

    def meta(self, name: str) -> tuple[str, str, list[str], str | None]:
        hit = self._meta.get(name)
        if hit is None:
            hit = self._meta[name] = _meta_for(name, self._benchmarks)
        return hit

    def expand(self, name: str, params, param_names: list[str]) -> tuple[list[str], list[tuple]]:
        hit = self._params.get(name)
        if hit is None or hit[0] != params:
            if params:
                lists = [[str(v) for v in p] for p in params]
                names = param_names if len(param_names) == len(lists) else [f"p{i}" for i in range(len(lists))]
                combos = list(itertools.product(*lists))
                hit = (params, [_format_param_names(names, c) for c in combos], combos)
            else:
                hit = (params, [""], [()])
            self._params[name] = hit
        return hit[1], hit[2]


# ---------------------------------------------------------------- one file

_STAT_COLUMNS = {
    "stats_ci_99_a": "ci_low",
    "stats_ci_99_b": "ci_high",
    "stats_q_25": "q25",
    "stats_q_75": "q75",
    "stats_number": "number",
    "stats_repeat": "repeat",
    "samples": "samples",
}
_PER_ROW = ["value", "ci_low", "ci_high", "q25", "q75", "number", "repeat", "samples", "params", "param_values"]
_PER_BENCH = ["benchmark", "type", "unit", "version", "stale", "started_at", "duration"]
_PER_FILE = ["machine", "environment", "commit", "commit_date", "round"]


class _Columns:
    """Column lists filled per benchmark; per-benchmark and per-file constants are stored
    once with their row counts and repeated with numpy at the end."""

    def __init__(self):
        self.row = {k: [] for k in _PER_ROW}
        self.bench = {k: [] for k in _PER_BENCH}
        self.bench_n: list[int] = []
        self.file = {k: [] for k in _PER_FILE}
        self.file_n: list[int] = []


def _add_file(cols: _Columns, data: dict, machine: str, round_no: int, cache: _ParamCache) -> tuple[int, int]:
    """Append one result file's rows; returns (rows added, stale rows)."""
    names = data["result_columns"]
    width = len(names)
    missing = width  # rows are padded with one None: absent columns point at it
    where = {k: i for i, k in enumerate(names)}
    i_result, i_params, i_version = (where.get(k, missing) for k in ("result", "params", "version"))
    i_started, i_duration = where.get("started_at", missing), where.get("duration", missing)
    stat_cols = [(where.get(k, missing), cols.row[c]) for k, c in _STAT_COLUMNS.items()]
    r, b = cols.row, cols.bench
    values, labels_col, combos_col = r["value"], r["params"], r["param_values"]
    file_rows = stale_rows = 0
    for name, row in data["results"].items():
        row = list(row) + [None] * (width + 1 - len(row))
        btype, unit, param_names, current_version = cache.meta(name)
        labels, combos = cache.expand(name, row[i_params] or [], param_names)
        n = len(combos)
        result = row[i_result]
        if result is None:  # the whole benchmark failed (all combinations)
            values.extend([None] * n)
        elif len(result) == n:
            values.extend(result)
        else:
            raise ValueError(f"{name}: {len(result)} results for {n} parameter combinations")
        for i, col in stat_cols:
            stat = row[i]
            col.extend(stat if stat is not None and len(stat) == n else [None] * n)
        labels_col.extend(labels)
        combos_col.extend(combos)
        version = row[i_version]
        stale = current_version is None or (version is not None and version != current_version)
        b["benchmark"].append(name)
        b["type"].append(btype)
        b["unit"].append(unit)
        b["version"].append(version or "")
        b["stale"].append(stale)
        b["started_at"].append(row[i_started])
        b["duration"].append(row[i_duration])
        cols.bench_n.append(n)
        file_rows += n
        if stale:
            stale_rows += n
    f = cols.file
    f["machine"].append(str(data.get("params", {}).get("machine") or machine))
    f["environment"].append(str(data["env_name"]))
    f["commit"].append(str(data["commit_hash"]))
    f["commit_date"].append(data.get("date"))
    f["round"].append(round_no)
    cols.file_n.append(file_rows)
    return file_rows, stale_rows


def _parse_json(raw: bytes):
    """orjson when installed (2x faster here); asv writes NaN/Infinity, which strict JSON
    parsers reject, so they are quoted first (a quote inserted inside a string always makes
    the JSON invalid, so this never silently changes a string: such files fall back to the
    standard library parser)."""
    if _orjson is not None:
        try:
            return _orjson.loads(
                raw.replace(b"-Infinity", b'"-Infinity"')
                .replace(b"Infinity", b'"Infinity"')
                .replace(b'-"Infinity"', b'"-Infinity"')
                .replace(b"NaN", b'"NaN"')
            )
        except _orjson.JSONDecodeError:
            pass
    return json.loads(raw)


def _read_result_file(path: Path) -> dict:
    """Parse and validate one result file; ValueError with a short reason when unusable."""
    try:
        data = _parse_json(path.read_bytes())
    except json.JSONDecodeError as exc:
        raise ValueError(f"corrupt or truncated JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    if not isinstance(data, dict):
        raise ValueError("not an asv result file (expected a JSON object)")
    version = data.get("version")
    if version != RESULTS_API_VERSION:
        raise ValueError(
            f"asv results format version {version!r}, expected {RESULTS_API_VERSION} "
            "(run `asv update` to upgrade old results)"
        )
    missing = [k for k in ("commit_hash", "env_name", "result_columns", "results") if k not in data]
    if missing:
        raise ValueError(f"missing key(s) {', '.join(missing)}")
    if not isinstance(data["results"], dict) or not isinstance(data["result_columns"], list):
        raise ValueError("malformed 'results' or 'result_columns'")
    return data


# ---------------------------------------------------------------- the table


def _round_number(path: Path, position: int) -> int:
    k = round_number(path)
    return position if k is None else k


def _find_benchmarks_json(dirs: list[Path], explicit) -> Path:
    if explicit is not None:
        return Path(explicit)
    for d in dirs:  # asv writes it into every results dir; any of the given ones will do
        if (d / "benchmarks.json").is_file():
            return d / "benchmarks.json"
    return dirs[0] / "benchmarks.json"


def load_results(
    results_dir: str | os.PathLike | Sequence[str | os.PathLike],
    machine: str | None = None,
    benchmarks_json: str | os.PathLike | None = None,
    *,
    warn: Warn | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> pd.DataFrame:
    """Every result of every machine (or ``machine``), environment and commit as the tidy table.

    ``results_dir`` may be a list of results dirs (e.g. the interleaved rounds
    ``.asv/rounds/<id>/round-<k>/``): each is numbered in the ``round`` column, from a
    ``round-<k>`` folder name when it has one, else from its position in the list.
    Warnings (skipped files, stale results) go to ``warn`` (default: stderr) and are kept
    in ``table.attrs["warnings"]``. With ``cache_dir``, rows of files unchanged since the
    last load (same size and mtime) come from a pickle there; only new files are parsed.
    """
    dirs = [Path(results_dir)] if isinstance(results_dir, (str, os.PathLike)) else [Path(d) for d in results_dir]
    _check_dirs(dirs)
    warnings: list[str] = []

    def _warn(msg: str) -> None:
        warnings.append(msg)
        (warn or _stderr_warn)(msg)

    bench_path = _find_benchmarks_json(dirs, benchmarks_json)
    benchmarks = read_benchmarks_json(bench_path)
    files = _files_of(dirs, machine)
    cache = _TableCache(cache_dir, dirs, bench_path) if cache_dir is not None else None
    batch = _Batch(cache.read() if cache is not None else None, _ParamCache(benchmarks))
    for path, round_no, name in files:
        batch.add(path, round_no, name, _warn)
    if batch.n_bad == len(files):
        where = ", ".join(str(d) for d in dirs)
        raise ToolError(f"none of the {len(files)} result file(s) in {where} could be read (see warnings above)")
    _warn_stale(batch.stale_files, _warn)
    table = batch.table()
    if cache is not None:
        cache.write(table, batch.signatures, batch.kept_paths + batch.new_paths)
    table.attrs["warnings"] = warnings
    table.attrs["benchmarks"] = benchmarks
    return table


def _check_dirs(dirs: list[Path]) -> None:
    if not dirs:
        raise ToolError("no results directory given")
    for d in dirs:
        if not d.exists():
            raise ToolError(f"results directory {d} does not exist (run `asv run` first, or pass --results-dir)")
        if not d.is_dir():
            raise ToolError(f"results directory {d} is not a directory")


def _files_of(dirs: list[Path], machine: str | None) -> list[tuple[Path, int, str]]:
    """The result files to read; a clear error for an unknown machine or no files at all."""
    files, seen_machines = _result_files(dirs, machine)
    where = ", ".join(str(d) for d in dirs)
    if machine is not None and machine not in seen_machines:
        known = ", ".join(sorted(seen_machines)) or "none"
        raise ToolError(f"unknown machine {machine!r} in {where} (machines with results: {known})")
    if not files:
        raise ToolError(f"no asv result files in {where} (run `asv run` first)")
    return files


class _Batch:
    """One load: rows of unchanged files taken from the cached table, new files parsed."""

    def __init__(self, cached: dict | None, params: _ParamCache):
        self.cached, self.params, self.cols = cached, params, _Columns()
        self.kept: list[tuple[int, int]] = []  # (start, stop) row slices of the cached table
        self.signatures: dict[str, tuple] = {}
        self.kept_paths: list[str] = []
        self.new_paths: list[str] = []
        self.stale_files: list[tuple[Path, int]] = []
        self.n_bad = 0

    def add(self, path: Path, round_no: int, name: str, warn: Warn) -> None:
        st = path.stat()
        sig = (st.st_size, st.st_mtime_ns, round_no)
        hit = self.cached["files"].get(str(path)) if self.cached is not None else None
        if hit is not None and hit[0] == sig:
            _, start, stop, stale = hit
            self.kept.append((start, stop))
            self.kept_paths.append(str(path))
        else:
            try:
                data = _read_result_file(path)
                n_rows, stale = _add_file(self.cols, data, name, round_no, self.params)
            except (ValueError, KeyError, TypeError) as exc:
                self.n_bad += 1
                why = (
                    str(exc) if isinstance(exc, ValueError) else f"malformed result file ({type(exc).__name__}: {exc})"
                )
                warn(f"skipping {path}: {why}")
                return
            start, stop = 0, n_rows
            self.new_paths.append(str(path))
        self.signatures[str(path)] = (sig, stop - start, stale)
        if stale:
            self.stale_files.append((path, stale))

    def table(self) -> pd.DataFrame:
        table = _assemble(self.cols)
        if not self.kept:
            return table
        old = self.cached["table"]
        index = np.concatenate([np.arange(a, b) for a, b in self.kept])
        return _concat([old.iloc[index], table]) if len(table) else old.iloc[index].reset_index(drop=True)


def _warn_stale(stale_files: list[tuple[Path, int]], warn: Warn) -> None:
    for path, count in stale_files[:5]:
        warn(
            f"{path}: {count} result(s) recorded with older benchmark code (version differs from "
            "benchmarks.json); kept and flagged stale"
        )
    if len(stale_files) > 5:
        warn(f"... and {len(stale_files) - 5} more result file(s) with stale results")


def _result_files(dirs: list[Path], machine: str | None) -> tuple[list[tuple[Path, int, str]], set[str]]:
    """(path, round, machine name) of every result file, in a stable order."""
    files, seen = [], set()
    for position, d in enumerate(dirs):
        round_no = _round_number(d, position) if len(dirs) > 1 else 0
        for mdir in machine_dirs(d):
            name = str(read_machine_json(mdir).get("machine") or mdir.name)
            seen.add(name)
            if machine is not None and name != machine:
                continue
            files.extend((p, round_no, name) for p in sorted(mdir.glob("*.json")) if p.name not in SKIP_FILES)
    return files, seen


_CATEGORICAL = ["machine", "environment", "commit", "component", "benchmark", "type", "unit"]


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    table = pd.concat(parts, ignore_index=True)
    for col in _CATEGORICAL:  # concat of differing categories falls back to object
        if not isinstance(table[col].dtype, pd.CategoricalDtype):
            table[col] = table[col].astype("category")
    return table


class _TableCache:
    """The last loaded table with each file's (size, mtime, round) and row range.

    Keyed by the results dirs and benchmarks.json (its stale flags depend on it); a
    cache that cannot be read is ignored, one that cannot be written is skipped.
    """

    FORMAT = 1

    def __init__(self, cache_dir, dirs: list[Path], bench_path: Path):
        import hashlib

        key = "\0".join(str(d.resolve()) for d in dirs) + "\0" + str(bench_path.resolve())
        self.path = Path(cache_dir) / f"results-{hashlib.sha1(key.encode()).hexdigest()[:16]}.pickle"
        st = bench_path.stat()
        self.bench_sig = (st.st_size, st.st_mtime_ns, self.FORMAT, tuple(TIDY_COLUMNS))

    def read(self) -> dict | None:
        import pickle

        try:
            with open(self.path, "rb") as fh:
                data = pickle.load(fh)
        except Exception:  # missing, truncated or from another version: just reload
            return None
        return data if isinstance(data, dict) and data.get("bench_sig") == self.bench_sig else None

    def write(self, table: pd.DataFrame, signatures: dict[str, tuple], row_order: list[str]) -> None:
        """``row_order``: the files in the order of their rows (cached slices, then new files)."""
        import pickle

        from tools.io import atomic_write_bytes

        entries, start = {}, 0
        for p in row_order:
            sig, n_rows, stale = signatures[p]
            entries[p] = (sig, start, start + n_rows, stale)
            start += n_rows
        try:
            atomic_write_bytes(
                self.path,
                pickle.dumps(
                    {"bench_sig": self.bench_sig, "files": entries, "table": table.reset_index(drop=True)}, protocol=5
                ),
            )
        except OSError:
            pass


def _float_array(values: list, keep_inf: bool = False) -> np.ndarray:
    # None -> NaN; asv's +/-inf confidence bounds (one sample: no interval) -> NaN
    arr = np.array(values, dtype=float) if values else np.array([], dtype=float)
    if not keep_inf:
        arr[np.isinf(arr)] = np.nan
    return arr


def _assemble(cols: _Columns) -> pd.DataFrame:
    file_n = np.array(cols.file_n, dtype=np.int64)
    bench_n = np.array(cols.bench_n, dtype=np.int64)
    f, b, r = cols.file, cols.bench, cols.row

    def per_file(key, dtype=object):
        return np.repeat(np.array(f[key], dtype=dtype), file_n)

    def per_bench(key, dtype=object):
        return np.repeat(np.array(b[key], dtype=dtype), bench_n)

    raw = _object_array(r["value"])
    failed = np.equal(raw, None)  # asv's null: the benchmark failed
    value = _float_array(r["value"], keep_inf=True)
    skipped = np.isnan(value) & ~failed  # asv's NaN: skipped (NotImplementedError in setup)
    benchmark = pd.Categorical(per_bench("benchmark"))
    by_category = np.array([component_of(x) for x in benchmark.categories] or [""], dtype=object)
    component = pd.Categorical(by_category[benchmark.codes]) if len(benchmark) else pd.Categorical([])
    data = {
        "machine": pd.Categorical(per_file("machine")),
        "environment": pd.Categorical(per_file("environment")),
        "commit": pd.Categorical(per_file("commit")),
        "commit_date": pd.to_datetime(per_file("commit_date", float), unit="ms", utc=True),
        "round": per_file("round", np.int64),
        "component": component,
        "benchmark": benchmark,
        "params": np.array(r["params"], dtype=object),
        "param_values": _object_array(r["param_values"]),
        "type": pd.Categorical(per_bench("type")),
        "unit": pd.Categorical(per_bench("unit")),
        "value": value,
        "failed": failed,
        "ci_low": _float_array(r["ci_low"]),
        "ci_high": _float_array(r["ci_high"]),
        "q25": _float_array(r["q25"]),
        "q75": _float_array(r["q75"]),
        "number": _float_array(r["number"]),
        "repeat": _float_array(r["repeat"]),
        "samples": _object_array([tuple(s) if s is not None else None for s in r["samples"]]),
        "started_at": pd.to_datetime(per_bench("started_at", float), unit="ms", utc=True),
        "duration": per_bench("duration", float),
        "version": per_bench("version"),
        "stale": per_bench("stale", bool),
        "skipped": skipped,
    }
    table = pd.DataFrame(data)
    table["number"] = table["number"].astype("Int64")
    table["repeat"] = table["repeat"].astype("Int64")
    return table[list(TIDY_COLUMNS)]


def _object_array(items: list) -> np.ndarray:
    arr = np.empty(len(items), dtype=object)
    arr[:] = items
    return arr


def commits_with_results(table: pd.DataFrame) -> pd.DataFrame:
    """One row per (machine, environment, commit) that has any non-failed result, oldest first:
    in history order (``commit_order``, when the table has it; off-branch commits first), then by
    commit date and run."""
    ok = table[~table["failed"] & ~table["skipped"]]
    agg = {"commit_date": ("commit_date", "min"), "started_at": ("started_at", "max")}
    keys = ["commit_date", "started_at"]
    if "commit_order" in table.columns:
        agg["commit_order"] = ("commit_order", "min")
        keys = ["commit_order", *keys]
    grouped = ok.groupby(["machine", "environment", "commit"], observed=True).agg(**agg).reset_index()
    return grouped.sort_values(keys, kind="stable", na_position="first").reset_index(drop=True)


def load_sessions(rounds_root: str | os.PathLike, machine: str | None = None) -> pd.DataFrame | None:
    """Every round kept by interleaved runs under ``rounds_root`` (``tools.rounds_layout``), or
    None when there are none; the ``session`` column names the session (its folder) of each round."""
    parts = []
    for session in session_dirs(Path(rounds_root)):
        dirs = round_dirs(session, with_results=True)
        if dirs:
            parts.append(load_results(dirs, machine=machine).assign(session=session.name))
    return pd.concat(parts, ignore_index=True) if parts else None
