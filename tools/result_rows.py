"""Format-2 result rows -> the columns of the tidy table, a malformed entry costing only itself.

Each file is first appended whole without per-value checks, then the stretch it added to
each column is type-checked at once (the set of value types: a few microseconds per file).
Only when that fails -- an exception, a string where a number belongs, arrays of different
lengths -- are the file's rows rolled back and its entries re-added one by one, each checked;
a malformed entry is then skipped and described as ``(benchmark, kind, detail)``. So valid
files pay almost nothing for the checks, and no bad value reaches the column conversion,
where it would end in a pandas traceback naming no file.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Sequence

import numpy as np
import pandas as pd

from tools.asv_formats import (
    BAD_DATE,
    LENGTHS,
    MAX_EPOCH_MS,
    NOT_NUMERIC,
    ROUNDED_COLUMNS,
    WRONG_TYPE,
    round_like_asv,
)
from tools.schema import TIDY_COLUMNS, component_of

# result_columns name -> table column, for the per-row numbers besides the result itself.
ROW_NUMBERS = {
    "stats_ci_99_a": "ci_low",
    "stats_ci_99_b": "ci_high",
    "stats_q_25": "q25",
    "stats_q_75": "q75",
    "stats_number": "number",
    "stats_repeat": "repeat",
    "stats_mean": "recorded_mean",
    "stats_std": "recorded_std",
    "stats_min": "recorded_min",
    "stats_max": "recorded_max",
}
_WHOLE = ("number", "repeat")  # stored as Int64: whole numbers only
NUMERIC_ROW = ["value", *ROW_NUMBERS.values()]
NUMERIC_BENCH = ["started_at", "duration"]
PER_ROW = ["value", *ROW_NUMBERS.values(), "samples", "params", "param_values"]
PER_BENCH = ["benchmark", "type", "unit", "version", "stale", "started_at", "duration"]
PER_FILE = ["machine", "environment", "commit", "commit_date", "round", "rounded"]
_GROWING_INDEX = {k: i for i, k in enumerate([*PER_ROW, *PER_BENCH])}  # Columns._growing's order
FLUSH_ROWS = 8192  # rows buffered before they become numpy chunks: numpy's per-call cost amortised

_NUMBER_TYPES = frozenset({float, int, type(None)})
# asv writes NaN and +/-Infinity; parse_json hands them over as these strings.
TOKENS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}

# asv's ``type`` -> the schema's short name (asv writes "peakmemory" for peakmem_*).
_TYPE_ALIASES = {"peakmemory": "peakmem"}
_PREFIX_TYPES = (
    ("time_", "time", "seconds"),
    ("peakmem_", "peakmem", "bytes"),
    ("mem_", "memory", "bytes"),
    ("track_", "track", "unit"),
)


class EntryProblem(ValueError):
    """One benchmark entry is malformed: ``kind`` (a word of the summary) and ``detail``."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind, self.detail = kind, detail


# ---------------------------------------------------------------- metadata and parameters


def meta_for(name: str, benchmarks: dict[str, dict]) -> tuple[str, str, list[str], str | None]:
    """(type, unit, param_names, version) for a result name; inferred from the name when
    the benchmark no longer exists in benchmarks.json (removed or renamed since)."""
    meta = benchmarks.get(name)
    if meta is not None:
        btype = str(meta.get("type") or "")
        names = meta.get("param_names")
        names = [str(n) for n in names] if isinstance(names, list) else []
        version = meta.get("version")
        return _TYPE_ALIASES.get(btype, btype), str(meta.get("unit") or ""), names, version
    method = name.rsplit(".", 1)[-1]
    for prefix, btype, unit in _PREFIX_TYPES:
        if method.startswith(prefix):
            return btype, unit, [], None
    return "", "", [], None


def _expand(params, param_names: list[str]) -> tuple[list[str], list[tuple]]:
    """Labels (``n=10, kind='a'``) and value tuples of every combination, in asv's order."""
    if type(params) is not list or any(type(p) is not list for p in params):
        raise EntryProblem(WRONG_TYPE, "'params' is not a list of lists")
    if not params:
        return [""], [()]
    lists = [[str(v) for v in p] for p in params]
    names = param_names if len(param_names) == len(lists) else [f"p{i}" for i in range(len(lists))]
    combos = list(itertools.product(*lists))
    return [", ".join(f"{n}={v}" for n, v in zip(names, c)) for c in combos], combos


class ParamCache:
    """Parameter expansion and benchmark metadata are the same for every commit: compute
    them once per benchmark (re-checked when a file's params differ, e.g. older code)."""

    def __init__(self, benchmarks: dict[str, dict]):
        self._benchmarks = benchmarks
        self._meta: dict[str, tuple] = {}
        self._params: dict[str, tuple] = {}

    def meta(self, name: str) -> tuple[str, str, list[str], str | None]:
        hit = self._meta.get(name)
        if hit is None:
            hit = self._meta[name] = meta_for(name, self._benchmarks)
        return hit

    def expand(self, name: str, params, param_names: list[str]) -> tuple[list[str], list[tuple]]:
        hit = self._params.get(name)
        if hit is None or hit[0] != params:
            hit = self._params[name] = (params, *_expand(params, param_names))
        return hit[1], hit[2]


# ---------------------------------------------------------------- columns


class Columns:
    """The rows of the last files read, in lists filled per benchmark (``row``, ``bench``);
    ``flush`` turns them into numpy chunks every ``FLUSH_ROWS`` rows, so that the parsed floats
    of a few files at a time are alive (only the samples stay Python objects: the table keeps
    them as tuples). Per-benchmark and per-file constants are stored once with their row
    counts, repeated at the end."""

    def __init__(self):
        self.row = {k: [] for k in PER_ROW}
        self.bench = {k: [] for k in PER_BENCH}
        self.bench_n: list[int] = []
        self.file = {k: [] for k in PER_FILE}
        self.file_n: list[int] = []
        self.file_b: list[int] = []  # benchmarks per file
        self.done = {k: [] for k in [*PER_ROW, *PER_BENCH, "failed", "numbers", "bench_numbers", "bench_n"]}
        self._growing = [*self.row.values(), *self.bench.values(), self.bench_n]

    def mark(self) -> list[int]:
        return [len(c) for c in self._growing]

    def rollback(self, mark: list[int]) -> None:
        for col, length in zip(self._growing, mark):
            del col[length:]

    def since(self, mark: list[int], key: str) -> list:
        """What ``key`` (a per-row or per-benchmark column) gained since ``mark``."""
        i = _GROWING_INDEX[key]
        return self._growing[i][mark[i] :]

    def flush(self) -> None:
        """Move the file's rows into the chunks: the numbers as one 2-D array per file (one
        conversion call rather than one per column), samples as tuples."""
        row, bench, done = self.row, self.bench, self.done
        values = row["value"]
        done["failed"].append(np.fromiter(map(operator.is_, values, _NULLS), dtype=bool, count=len(values)))
        done["numbers"].append(_floats([row[k] for k in NUMERIC_ROW]))
        done["bench_numbers"].append(_floats([bench[k] for k in NUMERIC_BENCH]))
        done["samples"].extend(_tuples(row["samples"]))
        for key in ("params", "param_values", "benchmark", "type", "unit", "version", "stale"):
            done[key].extend(row[key] if key in row else bench[key])
        done["bench_n"].extend(self.bench_n)
        for buffer in self._growing:
            buffer.clear()


class Layout:
    """Where each column sits in a file's rows (``result_columns``), bound to the lists of
    ``cols`` it fills. Columns the file does not have are filled with nulls once per file
    (``fill_absent``), not per benchmark; other lookups past the row's end hit its padding."""

    def __init__(self, names: Sequence[str], cols: Columns):
        where = {k: i for i, k in enumerate(names)}
        missing = len(names)
        self.pad = [None] * (missing + 1)
        self.params, self.version, self.started_at, self.duration = (
            where.get(k, missing) for k in ("params", "version", "started_at", "duration")
        )
        per_row = {"result": "value", **ROW_NUMBERS, "samples": "samples"}
        self.present = [(where[k], k, cols.row[c]) for k, c in per_row.items() if k in where]
        self.absent = [cols.row[c] for k, c in per_row.items() if k not in where]

    def fill_absent(self, rows: int) -> None:
        for col in self.absent:
            col.extend([None] * rows)


def _shape_problem(what: str, values, n: int) -> EntryProblem:
    if type(values) is list:
        return EntryProblem(LENGTHS, f"{what!r} has {len(values)} values for {n} parameter combinations")
    return EntryProblem(WRONG_TYPE, f"{what!r} is {values!r:.40}, expected a list")


def add_entry(cols: Columns, name: str, row, lay: Layout, params: ParamCache) -> tuple[int, bool]:
    """Append one benchmark's rows unchecked; returns (rows, stale). Raises on a malformed
    entry, possibly half-appended: callers roll back."""
    row = row + lay.pad  # TypeError unless the entry is a list
    btype, unit, param_names, current = params.meta(name)
    labels, combos = params.expand(name, row[lay.params] or [], param_names)
    n = len(combos)
    nulls = [None] * n
    for i, key, col in lay.present:  # the hot loop of a load: kept flat
        values = row[i]
        if type(values) is list and len(values) == n:
            col.extend(values)
        elif values is None:
            col.extend(nulls)
        else:
            raise _shape_problem(key, values, n)
    r = cols.row
    r["params"].extend(labels)
    r["param_values"].extend(combos)
    version = row[lay.version]
    stale = current is None or (version is not None and version != current)
    b = cols.bench
    b["benchmark"].append(name)
    b["type"].append(btype)
    b["unit"].append(unit)
    b["version"].append("" if version is None else version)
    b["stale"].append(stale)
    b["started_at"].append(row[lay.started_at])
    b["duration"].append(row[lay.duration])
    cols.bench_n.append(n)
    return n, stale


# ---------------------------------------------------------------- checks


def numbers_ok(values: list) -> bool:
    """Numbers, nulls and asv's NaN/Infinity only (never a bool, a string, a list, ...)."""
    types = set(map(type, values))
    if types <= _NUMBER_TYPES:
        return True
    return types - _NUMBER_TYPES == {str} and all(v in TOKENS for v in values if type(v) is str)


def _whole_ok(values: list) -> bool:
    if float not in set(map(type, values)):  # asv writes integers: the common case
        return True
    return all(v.is_integer() or v != v for v in values if type(v) is float)


def _samples_ok(values: list) -> bool:
    """Each row's samples: null or a list of numbers (NaN/Infinity strings become floats here)."""
    if not set(map(type, values)) <= {list, type(None)}:
        return False
    types = set(map(type, itertools.chain.from_iterable(filter(None, values))))
    if types <= {float, int}:
        return True
    lists = [s for s in values if s]
    if types - {float, int} != {str} or not all(x in TOKENS for s in lists for x in s if type(x) is str):
        return False
    for s in lists:
        s[:] = [TOKENS[x] if type(x) is str else x for x in s]
    return True


def dates_ok(values: list) -> bool:
    """Nulls or milliseconds since 1970 that pandas can hold (asv's started_at, date)."""
    if not set(map(type, values)) <= _NUMBER_TYPES:
        return False
    known = [v for v in values if v is not None]
    return not known or (-MAX_EPOCH_MS < min(known) and max(known) < MAX_EPOCH_MS)


def _bench_ok(cols: Columns, mark: list[int]) -> bool:
    return (
        dates_ok(cols.since(mark, "started_at"))
        and numbers_ok(cols.since(mark, "duration"))
        and set(map(type, cols.since(mark, "version"))) <= {str}
    )


def stretch_ok(cols: Columns, mark: list[int]) -> bool:
    """Whether everything appended since ``mark`` converts cleanly to the table's dtypes."""
    numbers = [cols.since(mark, "value")] + [cols.since(mark, c) for c in ROW_NUMBERS.values()]
    return (
        (set(map(type, itertools.chain.from_iterable(numbers))) <= _NUMBER_TYPES or numbers_ok(sum(numbers, [])))
        and all(_whole_ok(cols.since(mark, c)) for c in _WHOLE)
        and _samples_ok(cols.since(mark, "samples"))
        and _bench_ok(cols, mark)
    )


def describe(row, lay: Layout, exc: Exception | None) -> tuple[str, str]:
    """(kind, detail) of an entry that failed ``add_entry`` (``exc``) or ``stretch_ok``."""
    if isinstance(exc, EntryProblem):
        return exc.kind, exc.detail
    if type(row) is not list:
        return WRONG_TYPE, f"the entry is {row!r:.40}, expected a list"
    row = row + lay.pad
    for i, key, _ in lay.present:
        values = row[i] or []
        if key == "samples":
            if not _samples_ok(values):
                return NOT_NUMERIC, f"'samples' holds {values!r:.40}, expected lists of numbers"
            continue
        bad = [v for v in values if not numbers_ok([v])]
        if bad:
            return NOT_NUMERIC, f"{key!r} holds {bad[0]!r:.40}"
        if ROW_NUMBERS.get(key) in _WHOLE and not _whole_ok(values):
            return NOT_NUMERIC, f"{key!r} holds {values!r:.40}, expected whole numbers"
    if not dates_ok([row[lay.started_at]]):
        return BAD_DATE, f"'started_at' is {row[lay.started_at]!r:.40}, expected milliseconds since 1970"
    if not numbers_ok([row[lay.duration]]):
        return NOT_NUMERIC, f"'duration' is {row[lay.duration]!r:.40}"
    if row[lay.version] is not None and type(row[lay.version]) is not str:
        return WRONG_TYPE, f"'version' is {row[lay.version]!r:.40}, expected a string"
    return WRONG_TYPE, f"{type(exc).__name__}: {exc}" if exc is not None else "malformed entry"


# ---------------------------------------------------------------- one file


def add_file(cols: Columns, data: dict, constants: dict, params: ParamCache) -> tuple[int, int, list]:
    """Append one format-2 file's rows; returns (rows, stale rows, [(benchmark, kind, detail)]).

    ``constants``: the file's machine, environment, commit, commit_date, round and rounded
    (True for a converted version-1 file, whose statistics get asv's rounding)."""
    lay = Layout(data["result_columns"], cols)
    entries = data["results"]
    mark = cols.mark()
    try:
        counts = [add_entry(cols, name, row, lay, params) for name, row in entries.items()]
        issues = [] if stretch_ok(cols, mark) else None
    except Exception:  # whatever failed is found and described entry by entry below
        issues = None
    if issues is None:
        cols.rollback(mark)
        counts, issues = _add_checked(cols, entries, lay, params)
    rows = sum(n for n, _ in counts)
    lay.fill_absent(rows)
    if len(cols.row["value"]) >= FLUSH_ROWS:
        cols.flush()
    for key, value in constants.items():
        cols.file[key].append(value)
    cols.file_n.append(rows)
    cols.file_b.append(len(counts))
    return rows, sum(n for n, stale in counts if stale), issues


def _add_checked(cols: Columns, entries: dict, lay: Layout, params: ParamCache) -> tuple[list, list]:
    """The slow path: entry by entry, each checked; malformed ones rolled back and described."""
    counts, issues = [], []
    for name, row in entries.items():
        mark = cols.mark()
        exc = None
        try:
            count = add_entry(cols, name, row, lay, params)
            if stretch_ok(cols, mark):
                counts.append(count)
                continue
        except Exception as caught:  # whatever it is, it is this entry's problem: described, skipped
            exc = caught
        cols.rollback(mark)
        issues.append((name, *describe(row, lay, exc)))
    return counts, issues


# ---------------------------------------------------------------- the table


_NULLS = itertools.repeat(None)


def _tuples(samples: list) -> list:
    try:
        return list(map(tuple, samples))  # every row has samples: no per-row test
    except TypeError:  # some rows have none
        return [tuple(s) if s is not None else None for s in samples]


def _floats(columns: list[list]) -> np.ndarray:
    """Equal-length columns as one 2-D float array: None -> NaN, asv's "NaN"/"Infinity"
    strings -> floats (checked before: nothing else gets here). A column of nothing but
    nulls (a statistic the file does not record) is filled without per-item conversion."""
    out = np.full((len(columns), len(columns[0]) if columns else 0), np.nan)
    filled = [i for i, col in enumerate(columns) if any(map(operator.is_not, col, _NULLS))]
    if filled:
        out[filled] = np.array([columns[i] for i in filled], dtype=float)
    return out


def _no_inf(arr: np.ndarray) -> np.ndarray:
    arr[np.isinf(arr)] = np.nan  # asv's +/-inf confidence bounds (one sample: no interval) -> NaN
    return arr


def _object_array(items: list) -> np.ndarray:
    arr = np.empty(len(items), dtype=object)
    arr[:] = items
    return arr


def _categorical(values: list, counts: np.ndarray) -> pd.Categorical:
    """``values`` (strings, one per file or benchmark) repeated ``counts`` times, as a
    categorical with sorted categories (as ``pd.Categorical`` sorts them) -- hashing the few
    values rather than sorting or factorising the repeated ones."""
    codes, uniques = pd.factorize(_object_array(values))
    order = np.argsort(uniques.astype(object), kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    categories = pd.Index(np.asarray(uniques, dtype=object)[order])
    return pd.Categorical.from_codes(np.repeat(rank[codes], counts), categories=categories)


def _timestamps(ms: np.ndarray, counts: np.ndarray) -> pd.DatetimeIndex:
    return pd.to_datetime(ms, unit="ms", utc=True).repeat(counts)


def _joined(chunks: list[np.ndarray], rows: int) -> np.ndarray:
    return np.concatenate(chunks, axis=1) if chunks else np.empty((rows, 0))


def _round_converted(cols: Columns, numbers: dict, per_bench: dict) -> None:
    """asv's 5-significant-digit rounding on the rows of converted version-1 files."""
    flags = np.array(cols.file["rounded"], dtype=bool)
    if not flags.any():
        return
    rows, benches = np.repeat(flags, cols.file_n), np.repeat(flags, cols.file_b)
    for key in ROUNDED_COLUMNS:
        target, mask = (numbers, rows) if key in ROW_NUMBERS else (per_bench, benches)
        col = target[ROW_NUMBERS.get(key, key)]
        col[mask] = round_like_asv(col[mask])


def assemble(cols: Columns) -> pd.DataFrame:
    """The tidy table (``TIDY_COLUMNS``) of every file added."""
    cols.flush()
    file_n = np.array(cols.file_n, dtype=np.int64)
    done, f = cols.done, cols.file
    bench_n = np.array(done["bench_n"], dtype=np.int64)
    numbers = dict(zip(NUMERIC_ROW, _joined(done["numbers"], len(NUMERIC_ROW))))
    per_bench = dict(zip(NUMERIC_BENCH, _joined(done["bench_numbers"], len(NUMERIC_BENCH))))
    _round_converted(cols, numbers, per_bench)
    value = numbers.pop("value")  # keeps asv's +/-inf results; the statistics do not
    numbers = {k: _no_inf(v) for k, v in numbers.items()}
    failed = np.concatenate(done["failed"]) if done["failed"] else np.zeros(0, dtype=bool)
    benchmark = _categorical(done["benchmark"], bench_n)
    by_category = np.array([component_of(x) for x in benchmark.categories] or [""], dtype=object)
    data = {
        "machine": _categorical(f["machine"], file_n),
        "environment": _categorical(f["environment"], file_n),
        "commit": _categorical(f["commit"], file_n),
        "commit_date": _timestamps(np.array(f["commit_date"], dtype=float), file_n),
        "round": np.repeat(np.array(f["round"], dtype=np.int64), file_n),
        "component": pd.Categorical(by_category[benchmark.codes]) if len(benchmark) else pd.Categorical([]),
        "benchmark": benchmark,
        "params": np.array(done["params"], dtype=object),
        "param_values": _object_array(done["param_values"]),
        "type": _categorical(done["type"], bench_n),
        "unit": _categorical(done["unit"], bench_n),
        "value": value,
        "failed": failed,  # asv's null: the benchmark failed
        **{c: numbers[c] for c in ("ci_low", "ci_high", "q25", "q75")},  # inf bounds (one sample) -> NaN
        "number": pd.array(numbers["number"], dtype="Int64"),
        "repeat": pd.array(numbers["repeat"], dtype="Int64"),
        "samples": _object_array(done["samples"]),
        "started_at": _timestamps(per_bench["started_at"], bench_n),
        "duration": np.repeat(per_bench["duration"], bench_n),
        "version": np.repeat(_object_array(done["version"]), bench_n),
        "stale": np.repeat(np.array(done["stale"], dtype=bool), bench_n),
        "skipped": np.isnan(value) & ~failed,  # asv's NaN: skipped (NotImplementedError in setup)
        **{c: numbers[c] for c in ("recorded_mean", "recorded_std", "recorded_min", "recorded_max")},
    }
    return pd.DataFrame(data)[list(TIDY_COLUMNS)]
