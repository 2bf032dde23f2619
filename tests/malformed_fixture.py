"""Result files with one malformed entry each: the loader must skip that entry and keep the rest.

``tests/data/malformed/`` was written by ``python tests/malformed_fixture.py`` and is committed.
Every file is the recorded result file of ``tests/data/asv_results`` (commit ``ad3d2286``) with
one change, saved under a commit hash of its own so that each case is one commit of the table:
``CASES`` says which entry was broken and how, and the kind of warning it must give. Two
files break whole-file keys instead (their commit date, their format version): those files are
skipped. ``clean`` is the unchanged file, for comparison.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

SOURCE = Path(__file__).parent / "data" / "asv_results"
OUT = Path(__file__).parent / "data" / "malformed"
MACHINE = "toymachine"
ORIGINAL = "ad3d2286-existing-py_python3.json"
WORK, PLAIN, RATE = "toy_benchmarks.Work.time_work", "toy_benchmarks.time_plain", "toy_benchmarks.track_rate"
# result_columns positions of the recorded files
RESULT, PARAMS, STARTED_AT, Q25, SAMPLES = 0, 1, 3, 7, 11

# case -> (benchmark broken or None for the whole file, warning kind, what was done)
CASES = {
    "clean": (None, None, "nothing"),
    "short-result": (WORK, "arrays of different lengths", "3 results for 4 parameter combinations"),
    "short-stat": (WORK, "arrays of different lengths", "stats_q_25 with 2 values for 4 combinations"),
    "string-result": (PLAIN, "non-numeric value", 'result ["fast"]'),
    "bool-result": (RATE, "non-numeric value", "result [true]"),
    "string-sample": (PLAIN, "non-numeric value", "a sample that is a string"),
    "string-date": (PLAIN, "unparseable date", 'started_at "2026-01-01T12:00:00Z"'),
    "entry-not-list": (RATE, "wrong type", 'the entry is the string "oops"'),
    "params-not-lists": (WORK, "wrong type", 'params "n, kind"'),
    "file-date": (None, "unparseable date", 'the commit date is "yesterday": file skipped'),
    "file-version-3": (None, "unsupported asv results format version", "version 3: file skipped"),
}


def commit_of(case: str) -> str:
    """A 40-hex commit hash per case, ordered as ``CASES``."""
    return f"{list(CASES).index(case) + 1:02x}" * 20


def _break(case: str, data: dict) -> None:
    r = data["results"]
    if case == "short-result":
        r[WORK][RESULT] = r[WORK][RESULT][:3]
    elif case == "short-stat":
        r[WORK][Q25] = r[WORK][Q25][:2]
    elif case == "string-result":
        r[PLAIN][RESULT] = ["fast"]
    elif case == "bool-result":
        r[RATE][RESULT] = [True]
    elif case == "string-sample":
        r[PLAIN][SAMPLES][0][1] = "0.00001"
    elif case == "string-date":
        r[PLAIN][STARTED_AT] = "2026-01-01T12:00:00Z"
    elif case == "entry-not-list":
        r[RATE] = "oops"
    elif case == "params-not-lists":
        r[WORK][PARAMS] = "n, kind"
    elif case == "file-date":
        data["date"] = "yesterday"
    elif case == "file-version-3":
        data["version"] = 3


def main() -> None:
    original = (SOURCE / MACHINE / ORIGINAL).read_text()
    if OUT.exists():
        shutil.rmtree(OUT)
    (OUT / MACHINE).mkdir(parents=True)
    shutil.copy(SOURCE / "benchmarks.json", OUT / "benchmarks.json")
    shutil.copy(SOURCE / MACHINE / "machine.json", OUT / MACHINE / "machine.json")
    for case in CASES:
        data = json.loads(original)
        data["commit_hash"] = commit_of(case)
        data["date"] += list(CASES).index(case) * 3_600_000  # an hour apart, in CASES order
        _break(case, data)
        (OUT / MACHINE / f"{commit_of(case)[:8]}-{data['env_name']}.json").write_text(json.dumps(data))


if __name__ == "__main__":
    main()
