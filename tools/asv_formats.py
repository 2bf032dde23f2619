"""One asv result file, in either format asv has written, as a format-2 dict.

asv has two result formats. Version 1 (asv < 0.5) keeps one dict per benchmark
(``{"result": [...], "stats": [{...}], "params": [...], "samples": ...}``) and per-benchmark
maps at the top (``started_at``, ``ended_at``, ``benchmark_version``, ``profiles``); version 2
(asv >= 0.5) keeps one row per benchmark whose positions ``result_columns`` names. asv's own
reader refuses version 1 until ``asv update`` has rewritten the files in place.

This module reads both. A version-1 file is converted in memory to what
``asv.results.Results.update_to_2`` (the conversion ``asv update`` runs) returns for it: same
columns, same values; asv's rounding of the statistics to 5 significant digits
(``truncate_float_list``) is left to the loader, which applies ``round_like_asv`` -- bit for
bit the same -- to whole columns at once. The tests check the result against asv's conversion
and asv's reader on real version-1 files. asv's function itself is not called: it converts a
whole file or fails on its first malformed entry, and it costs about six times the parse of
the file (2.0 s against 0.3 s for a 1,059-file history), mostly rounding value by value. This
module converts entry by entry, so one malformed benchmark costs only itself, reuses asv's
``get_env_name`` for files without an environment name, and keeps two things asv's conversion
drops: the duration (``ended_at - started_at``) and the mean, std, min and max asv 0.4
recorded for each result (extra ``stats_mean``, ``stats_std``, ``stats_min``, ``stats_max``
columns; ``std`` is asv 0.4's, with divisor n).

Problems are reported, never raised as anything but ``FileProblem`` (the whole file is
unusable) or collected as ``(benchmark, kind, detail)`` entry issues.
"""

from __future__ import annotations

import json
import math
from operator import itemgetter
from pathlib import Path

import numpy as np

try:  # optional: a faster JSON parser (bench extra); the standard library works too
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised where orjson is absent
    _orjson = None

CURRENT_VERSION = 2
READABLE_VERSIONS = (1, 2)

# Kinds of problem, the words of the warning summaries.
LENGTHS = "arrays of different lengths"
WRONG_TYPE = "wrong type"
NOT_NUMERIC = "non-numeric value"
BAD_DATE = "unparseable date"
MISSING_KEYS = "missing keys"
MALFORMED = "malformed result file"
CORRUPT = "corrupt or truncated JSON"
NOT_UTF8 = "not UTF-8 text"
NOT_RESULTS = "not an asv result file"
UNREADABLE = "unreadable file"
VERSION = "unsupported asv results format version"

# The columns asv's update_to_2 writes, in its order.
V2_COLUMNS = [
    "result",
    "params",
    "version",
    "started_at",
    "duration",
    "stats_ci_99_a",
    "stats_ci_99_b",
    "stats_q_25",
    "stats_q_75",
    "stats_number",
    "stats_repeat",
    "samples",
    "profile",
]
# asv 0.4's own statistics, kept from a version-1 file after asv's columns.
RECORDED_STATS = {"stats_mean": "mean", "stats_std": "std", "stats_min": "min", "stats_max": "max"}
V1_PER_BENCHMARK = ("started_at", "ended_at", "duration", "benchmark_version", "profiles")
_V1_FILE_KEYS = ("commit_hash", "date", "params", "python", "requirements", "results")
_V2_FILE_KEYS = ("commit_hash", "env_name", "result_columns", "results")
# Timestamps pandas can hold (datetime64[ns]), in asv's milliseconds.
MAX_EPOCH_MS = 9.2e15


class FileProblem(ValueError):
    """The whole file is unusable: ``kind`` names the problem, ``detail`` says where."""

    def __init__(self, kind: str, detail: str):
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind, self.detail = kind, detail


# ---------------------------------------------------------------- parsing


def parse_json(raw: bytes):
    """orjson when installed (several times faster here); asv writes NaN/Infinity, which strict
    JSON parsers reject, so they are quoted first when present (a quote inserted inside a
    string always makes the JSON invalid, so this never silently changes a string: such files
    fall back to the standard library parser). The quoted tokens come back as the strings
    ``"NaN"``, ``"Infinity"``, ``"-Infinity"``; the loader reads them as floats."""
    if _orjson is not None:
        try:
            return _orjson.loads(_quote_tokens(raw))
        except _orjson.JSONDecodeError:
            pass
    # integers beyond 64 bits become floats (inf beyond a float's range) here, not errors later
    return json.loads(raw, parse_int=_int_or_float)


def _quote_tokens(raw: bytes) -> bytes:
    if b"Infinity" in raw:
        raw = raw.replace(b"Infinity", b'"Infinity"').replace(b'-"Infinity"', b'"-Infinity"')
    if b"NaN" in raw:
        raw = raw.replace(b"NaN", b'"NaN"')
    return raw


def _int_or_float(text: str) -> int | float:
    if len(text) > 20:  # also spares int() its 4,300-digit limit
        return float(text)
    value = int(text)
    return value if -(2**63) <= value < 2**64 else float(text)


def read_result_file(path: Path) -> tuple[dict, list[tuple[str, str, str]]]:
    """(format-2 dict, entry issues) of one result file; ``FileProblem`` when unusable."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FileProblem(UNREADABLE, exc.strerror or type(exc).__name__) from None
    try:
        data = parse_json(raw)
    except json.JSONDecodeError as exc:
        raise FileProblem(CORRUPT, f"{exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except UnicodeDecodeError:
        raise FileProblem(NOT_UTF8, "") from None
    except (ValueError, RecursionError) as exc:
        raise FileProblem(CORRUPT, str(exc) or "nested too deeply") from None
    if not isinstance(data, dict):
        raise FileProblem(NOT_RESULTS, f"expected a JSON object, found {_type_name(data)}")
    version = check_version(data.get("version", _MISSING))
    if version == 1:
        return from_v1(data)
    check_v2_file(data)
    return data, []


_MISSING = object()


def check_version(version) -> int:
    """The format version if this module reads it; otherwise a message that says what to do."""
    if type(version) is int and version in READABLE_VERSIONS:
        return version
    if version is _MISSING:
        raise FileProblem(VERSION, "the file has no 'version' key")
    if type(version) is int and version > CURRENT_VERSION:
        raise FileProblem(
            VERSION,
            f"version {version} is newer than the versions this loader reads (1 and 2); "
            "it was written by a newer asv, whose format these tools do not know yet",
        )
    raise FileProblem(VERSION, f"version {version!r} is not one asv has written (this loader reads 1 and 2)")


def check_v2_file(data: dict) -> None:
    missing = [k for k in _V2_FILE_KEYS if k not in data]
    if missing:
        raise FileProblem(MISSING_KEYS, ", ".join(missing))
    _check_common(data)
    columns = data["result_columns"]
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise FileProblem(WRONG_TYPE, "'result_columns' is not a list of names")


def _check_common(data: dict) -> None:
    """Keys both formats share: the ones every row of the file takes its constants from."""
    if not isinstance(data["results"], dict):
        raise FileProblem(WRONG_TYPE, f"'results' is {_type_name(data['results'])}, expected an object")
    for key in ("commit_hash", "env_name"):
        if not isinstance(data.get(key, ""), str):
            raise FileProblem(WRONG_TYPE, f"{key!r} is {_type_name(data[key])}, expected a string")
    if not isinstance(data.get("params", {}), dict):
        raise FileProblem(WRONG_TYPE, f"'params' is {_type_name(data['params'])}, expected an object")
    if not is_epoch_ms(data.get("date")):
        raise FileProblem(BAD_DATE, f"commit date {data.get('date')!r} is not milliseconds since 1970")


def is_epoch_ms(value) -> bool:
    return type(value) in (int, float) and -MAX_EPOCH_MS < value < MAX_EPOCH_MS


def _type_name(value) -> str:
    return {dict: "an object", list: "a list", str: "a string", type(None): "null", bool: "a boolean"}.get(
        type(value), "a number"
    )


# ---------------------------------------------------------------- version 1


def from_v1(d: dict) -> tuple[dict, list[tuple[str, str, str]]]:
    """A version-1 file as format 2 (``asv update``'s conversion entry by entry, plus the
    recorded statistics and durations), with the entries that could not be converted."""
    _check_v1_file(d)
    per_bench = {k: d.get(k) or {} for k in V1_PER_BENCHMARK}
    rows, issues = {}, []
    for name in sorted(d["results"]):
        try:
            rows[name] = v1_row(name, d["results"][name], per_bench)
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            issues.append((name, *_v1_issue(exc)))
    d2 = v1_header(d)
    d2["result_columns"] = V2_COLUMNS + list(RECORDED_STATS)
    d2["results"] = rows
    d2["durations"] = {k: v for k, v in per_bench["duration"].items() if k.startswith("<")}
    d2["version"] = CURRENT_VERSION
    d2["converted_from"] = 1  # not asv's: tells the loader to round the statistics as asv does
    return d2, issues


def _check_v1_file(d: dict) -> None:
    missing = [k for k in _V1_FILE_KEYS if k not in d]
    if missing:  # asv's conversion needs these too ("missing key")
        raise FileProblem(MISSING_KEYS, ", ".join(missing))
    _check_common(d)
    if not isinstance(d["requirements"], dict):
        raise FileProblem(WRONG_TYPE, f"'requirements' is {_type_name(d['requirements'])}, expected an object")
    for key in V1_PER_BENCHMARK:
        if not isinstance(d.get(key) or {}, dict):
            raise FileProblem(WRONG_TYPE, f"{key!r} is {_type_name(d[key])}, expected an object")


def v1_header(d: dict) -> dict:
    """The file-level keys as asv's update_to_2 writes them (env_name computed when absent)."""
    env_name = d.get("env_name")
    if env_name is None:
        from asv.environment import get_env_name

        env_name = get_env_name("", d["python"], d["requirements"], {})
    return {
        "commit_hash": d["commit_hash"],
        "date": d["date"],
        "env_name": env_name,
        "params": d["params"],
        "python": d["python"],
        "requirements": d["requirements"],
        "env_vars": d.get("env_vars", {}),
    }


def _v1_entry(value) -> tuple[list, list, object, object]:
    """(result, params, samples, stats) of a version-1 entry, with asv's backward compatibility:
    a bare value is a one-result benchmark, a bare result or stats dict a one-element list."""
    if not isinstance(value, dict):
        return [value], [], None, None
    result = value["result"]
    if not isinstance(result, list):
        result = [result]
    stats = value.get("stats")
    if "stats" in value and not isinstance(stats, list):
        stats = [stats]
    params = value.get("params", [])
    return result, [] if params is None else params, value.get("samples"), stats


def v1_row(name: str, value, per_bench: dict) -> list:
    """One benchmark's format-2 row: the columns of asv's update_to_2, then ``RECORDED_STATS``.

    Statistics and duration are not yet rounded to asv's 5 significant digits: the loader
    rounds whole columns at once (``round_like_asv``), which is many times faster."""
    result, params, samples, stats = _v1_entry(value)
    started_at = per_bench["started_at"].get(name)
    duration = per_bench["duration"].get(name)
    if duration is None:  # asv's conversion reads no ended_at; the duration is still known
        duration = _v1_duration(started_at, per_bench["ended_at"].get(name))
    version, profile = per_bench["benchmark_version"].get(name), per_bench["profiles"].get(name)
    ci_a, ci_b, q25, q75, number, repeat, *recorded = _v1_stats(stats)
    row = [_nulls(result), params]  # scalars (version, ...) are tested first: this runs per entry
    row += [x if type(x) is not list else _nulls(x) for x in (version, started_at, duration)]
    row += [ci_a, ci_b, q25, q75, number, repeat, _nulls(samples)]
    row += [profile if type(profile) is not list else _nulls(profile), *recorded]
    while row and row[-1] is None:
        row.pop()
    return row


_NO_STATS = (None,) * 10
_STAT_KEYS = ("q_25", "q_75", "number", "repeat", *RECORDED_STATS.values())
_ALL_STATS = itemgetter(*_STAT_KEYS)


def _v1_stats(stats) -> list:
    """asv's six statistics columns, then asv 0.4's mean, std, min and max: each a list with
    one value per parameter combination, or None for nothing but nulls (asv's rule). One pass
    over the per-combination dicts, as this is the bulk of a version-1 file; a missing
    ``ci_99`` raises (asv's conversion fails on it too), other missing keys read as null."""
    if not stats:
        return list(_NO_STATS)
    try:
        per_combo = [_NO_STATS if z is None else (z["ci_99"][0], z["ci_99"][1], *_ALL_STATS(z)) for z in stats]
    except KeyError:  # some statistics absent (older asv): the slower lookup that allows it
        per_combo = [
            _NO_STATS if z is None else (z["ci_99"][0], z["ci_99"][1], *(z.get(k) for k in _STAT_KEYS)) for z in stats
        ]
    if len(per_combo) == 1:  # most benchmarks have no parameters: no transposition needed
        return [None if v is None else [v] for v in per_combo[0]]
    return [None if col.count(None) == len(col) else list(col) for col in zip(*per_combo)]


# The float columns asv's conversion rounds to 5 significant digits (truncate_float_list;
# it leaves integers such as stats_number alone): the loader rounds them with round_like_asv.
ROUNDED_COLUMNS = ("duration", "stats_ci_99_a", "stats_ci_99_b", "stats_q_25", "stats_q_75")


def _nulls(value):
    """asv's rule: a list of nothing but nulls is stored as one null."""
    if type(value) is list and value.count(None) == len(value):
        return None
    return value


def _v1_duration(started_at, ended_at) -> float | None:
    if type(started_at) in (int, float) and type(ended_at) in (int, float) and ended_at >= started_at:
        seconds = (ended_at - started_at) / 1000
        return seconds if math.isfinite(seconds) else None
    return None


def _v1_issue(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, KeyError):
        return MISSING_KEYS, f"no {exc.args[0]!r} key"
    if isinstance(exc, IndexError):
        return LENGTHS, "'ci_99' does not hold two bounds"
    return WRONG_TYPE, str(exc)


def round_like_asv(values: np.ndarray) -> np.ndarray:
    """``float(f"{x:.4e}")`` of every element -- asv's ``truncate_float_list`` -- bit for bit,
    vectorised.

    For x = m * 10**e (10**4 <= m < 10**5 once scaled by 10**k, k = 4 - e), the rounded value
    is the double nearest to rint(m) * 10**-k. With |k| <= 22, 10**|k| is an exact double, so
    scaling by it and the final division or multiplication are each one correctly rounded
    operation: the scaled value is off by at most 1e-11, rint picks the right integer unless
    the fraction is that close to .5, and the last operation gives the nearest double, as
    ``float(str)`` does. Elements outside that range, near a tie or near a power of ten fall
    back to formatting (asv's own way).
    """
    x = np.asarray(values, dtype=float)
    out = x.copy()
    mag = np.abs(x)
    ok = np.isfinite(x) & (mag >= 1e-17) & (mag < 1e26)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = np.where(ok, 4 - np.floor(np.log10(np.where(ok, mag, 1.0))), 0).astype(np.int64)
        pow10 = 10.0 ** np.abs(k)
        scaled = np.where(k >= 0, mag * pow10, mag / pow10)
        rounded = np.rint(scaled)
        near_tie = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-9
        ok &= (scaled >= 1e4) & (scaled < 1e5) & ~near_tie & (np.abs(k) <= 22)
        fast = np.where(k >= 0, rounded / pow10, rounded * pow10)
    out[ok] = np.copysign(fast[ok], x[ok])
    slow = np.flatnonzero(~ok & np.isfinite(x) & (x != 0))
    out[slow] = [float(f"{v:.4e}") for v in x[slow]]
    return out
