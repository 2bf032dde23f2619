"""asv results (formats 1 and 2) -> the tidy table of ``tools.schema``.

asv's own reader (``asv.results.Results.load``) builds one object per file and then one
call per benchmark and statistic, and refuses format-1 files until ``asv update`` has
rewritten them. This module parses the JSON directly (``tools.asv_formats``: format 1 is
converted in memory exactly as ``asv update`` would), builds the columns with list
``extend`` per benchmark (``tools.result_rows``) and repeats the per-file and
per-benchmark constants with numpy at the end.

Bad input is reported, not fatal, wherever the rest is still useful: an unreadable file is
skipped, and so is a malformed entry inside an otherwise good file; the warnings are
summarised by kind, one line each, naming the first file (and benchmark) concerned.
Nothing usable at all (missing dir, no files, every file bad, no ``benchmarks.json``,
unknown machine) raises ``ToolError``.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from tools.asv_formats import MALFORMED, UNREADABLE, FileProblem, read_result_file
from tools.errors import ToolError
from tools.result_rows import Columns, ParamCache, add_file, assemble
from tools.rounds_layout import round_dirs, round_number, session_dirs
from tools.schema import TIDY_COLUMNS

SKIP_FILES = {"machine.json", "benchmarks.json"}

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
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ToolError(f"{path}: not valid JSON ({exc})") from None
    except OSError as exc:
        raise ToolError(f"{path}: cannot read benchmarks.json ({exc.strerror})") from None
    if not isinstance(data, dict):
        raise ToolError(f"{path}: expected a JSON object of benchmarks")
    return {k: v for k, v in data.items() if k != "version" and isinstance(v, dict)}


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
    Warnings (skipped files and entries, stale results; one line per kind) go to ``warn``
    (default: stderr) and are kept in ``table.attrs["warnings"]``. With ``cache_dir``, rows
    of files unchanged since the last load (same size and mtime) come from a pickle there;
    only new files are parsed.
    """
    dirs = [Path(results_dir)] if isinstance(results_dir, (str, os.PathLike)) else [Path(d) for d in results_dir]
    _check_dirs(dirs)
    bench_path = _find_benchmarks_json(dirs, benchmarks_json)
    benchmarks = read_benchmarks_json(bench_path)
    files = _files_of(dirs, machine)
    cache = _TableCache(cache_dir, dirs, bench_path) if cache_dir is not None else None
    batch = _Batch(cache.read() if cache is not None else None, ParamCache(benchmarks))
    with _gc_paused():
        for path, round_no, name in files:
            batch.add(path, round_no, name)
        warnings = batch.log.lines()
        for line in warnings:
            (warn or _stderr_warn)(line)
        if batch.n_bad == len(files):
            where = ", ".join(str(d) for d in dirs)
            raise ToolError(f"none of the {len(files)} result file(s) in {where} could be read (see warnings above)")
        table = batch.table()
    if cache is not None:
        cache.write(table, batch.signatures, batch.kept_paths + batch.new_paths)
    table.attrs["warnings"] = warnings
    table.attrs["benchmarks"] = _ReadOnlyDict(benchmarks)
    return table


class _ReadOnlyDict(dict):
    """benchmarks.json as kept in ``table.attrs``. pandas deep-copies ``attrs`` into every frame
    derived from the table; this dict (every benchmark's metadata and code) is only read after
    loading, so its copy is itself: on a long history the copies had cost more than the statistics."""

    def __deepcopy__(self, memo):
        return self


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Parsed JSON is many small containers and holds no reference cycles, and a load keeps
    hundreds of thousands of sample tuples: the cyclic collector's passes over them cost about
    10% of a 4,000-file load (they doubled it while all parsed lists were kept to the end).
    Reference counting still frees everything; the collector resumes afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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

    def __init__(self, cached: dict | None, params: ParamCache):
        self.cached, self.params, self.cols = cached, params, Columns()
        self.kept: list[tuple[int, int]] = []  # (start, stop) row slices of the cached table
        self.signatures: dict[str, tuple] = {}
        self.kept_paths: list[str] = []
        self.new_paths: list[str] = []
        self.log = _ProblemLog()
        self.n_bad = 0

    def add(self, path: Path, round_no: int, machine: str) -> None:
        try:
            st = path.stat()
        except OSError as exc:
            self._bad(path, FileProblem(UNREADABLE, exc.strerror or type(exc).__name__))
            return
        sig = (st.st_size, st.st_mtime_ns, round_no)
        hit = self.cached["files"].get(str(path)) if self.cached is not None else None
        if hit is not None and hit[0] == sig:
            _, start, stop, stale, issues = hit
            self.kept.append((start, stop))
            self.kept_paths.append(str(path))
        else:
            try:
                stop, stale, issues = self._parse(path, round_no, machine)
            except FileProblem as problem:
                self._bad(path, problem)
                return
            except Exception as exc:  # a case no check foresaw: still one warning, not a traceback
                self._bad(path, FileProblem(MALFORMED, f"{type(exc).__name__}: {exc}"))
                return
            start = 0
            self.new_paths.append(str(path))
        self.signatures[str(path)] = (sig, stop - start, stale, issues)
        self.log.file_done(path, stale, issues)

    def _parse(self, path: Path, round_no: int, machine: str) -> tuple[int, int, list]:
        data, issues = read_result_file(path)
        constants = {
            "machine": str(data.get("params", {}).get("machine") or machine),
            "environment": data["env_name"],
            "commit": data["commit_hash"],
            "commit_date": data["date"],
            "round": round_no,
            "rounded": data.get("converted_from") == 1,  # asv's conversion rounds statistics
        }
        n_rows, stale, more = add_file(self.cols, data, constants, self.params)
        return n_rows, stale, issues + more

    def _bad(self, path: Path, problem: FileProblem) -> None:
        self.n_bad += 1
        self.log.add("file", problem.kind, str(path), problem.detail)

    def table(self) -> pd.DataFrame:
        table = assemble(self.cols)
        if not self.kept:
            return table
        old = self.cached["table"]
        index = np.concatenate([np.arange(a, b) for a, b in self.kept])
        return _concat([old.iloc[index], table]) if len(table) else old.iloc[index].reset_index(drop=True)


class _ProblemLog:
    """Skipped files and entries grouped by kind, and stale results: one warning line each,
    with the count and the first file (and benchmark) concerned."""

    PLURAL = {"file": "files", "entry": "entries"}

    def __init__(self):
        self.groups: dict[tuple[str, str], list] = {}  # (unit, kind) -> [count, where, detail]
        self.stale_rows = self.stale_files = 0
        self.first_stale: Path | None = None

    def add(self, unit: str, kind: str, where: str, detail: str) -> None:
        self.groups.setdefault((unit, kind), [0, where, detail])[0] += 1

    def file_done(self, path: Path, stale: int, issues: list) -> None:
        for benchmark, kind, detail in issues:
            self.add("entry", kind, f"{path}: {benchmark}", detail)
        if stale:
            self.stale_rows += stale
            self.stale_files += 1
            self.first_stale = self.first_stale or path

    def lines(self) -> list[str]:
        out = []
        for (unit, kind), (count, where, detail) in self.groups.items():
            noun = unit if count == 1 else self.PLURAL[unit]
            first = "" if count == 1 else "first: "
            out.append(f"{count} {noun} skipped: {kind} ({first}{where}{': ' + detail if detail else ''})")
        if self.stale_rows:
            out.append(
                f"{self.stale_rows} result(s) in {self.stale_files} file(s) recorded with older benchmark code "
                f"(version differs from benchmarks.json, or the benchmark is gone): kept and flagged stale "
                f"(first: {self.first_stale})"
            )
        return out


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
    """The last loaded table with each file's (size, mtime, round), row range, stale rows
    and skipped entries (so a cached load warns as a fresh one does).

    Keyed by the results dirs and benchmarks.json (its stale flags depend on it); a
    cache that cannot be read is ignored, one that cannot be written is skipped.
    """

    FORMAT = 2

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
            sig, n_rows, stale, issues = signatures[p]
            entries[p] = (sig, start, start + n_rows, stale, issues)
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
