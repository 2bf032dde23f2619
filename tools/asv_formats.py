"""One asv result file as a format-2 dict, or the reason it cannot be used.

``read_result_file`` parses (orjson when installed) and checks the keys every row of the file
takes its constants from; the entries themselves are checked by ``tools.result_rows``.
Problems are reported, never raised as anything but ``FileProblem`` (the whole file is
unusable, with a ``kind`` for the warning summaries and a ``detail``).
"""

from __future__ import annotations

import json
from pathlib import Path

try:  # optional: a faster JSON parser (bench extra); the standard library works too
    import orjson as _orjson
except ImportError:  # pragma: no cover - exercised where orjson is absent
    _orjson = None

CURRENT_VERSION = 2
READABLE_VERSIONS = (2,)

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
    check_version(data.get("version", _MISSING))
    check_v2_file(data)
    return data, []


_MISSING = object()


def check_version(version) -> int:
    """The format version if this module reads it; otherwise a message that says what to do."""
    if type(version) is int and version in READABLE_VERSIONS:
        return version
    if version is _MISSING:
        raise FileProblem(VERSION, "the file has no 'version' key")
    if version == 1:
        raise FileProblem(VERSION, "version 1 was written by asv < 0.5; run `asv update` to rewrite it as version 2")
    if type(version) is int and version > CURRENT_VERSION:
        raise FileProblem(
            VERSION,
            f"version {version} is newer than the version this loader reads (2); "
            "it was written by a newer asv, whose format these tools do not know yet",
        )
    raise FileProblem(VERSION, f"version {version!r} is not one asv has written (this loader reads 2)")


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
