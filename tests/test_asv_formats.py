"""tools.asv_formats: reading asv result files of either format -- the format-1 conversion is
asv's own (checked against ``asv.results.Results.update_to_2`` on real files), the rounding asv
applies is reproduced bit for bit, NaN/Infinity survive the fast parser, and versions this
module cannot read are named accurately."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from asv.results import Results
from asv.util import truncate_float_list
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.asv_formats import (
    RECORDED_STATS,
    ROUNDED_COLUMNS,
    V2_COLUMNS,
    FileProblem,
    from_v1,
    parse_json,
    read_result_file,
    round_like_asv,
)

V1 = Path(__file__).parent / "data" / "asv_results_v1"
FOREIGN = Path(__file__).resolve().parents[2] / "shared" / "foreign" / "pvlib-benchmarks" / "results"


def v1_files(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*/*-*.json"))


def as_asv_writes_it(d2: dict) -> dict:
    """Our conversion without what it adds to asv's (recorded statistics, the duration from
    ended_at, the marker) and with asv's rounding applied where the loader applies it."""
    d2 = json.loads(json.dumps(d2))
    del d2["converted_from"], d2["version"]
    d2["result_columns"] = d2["result_columns"][: len(V2_COLUMNS)]
    rounded = [V2_COLUMNS.index(k) for k in ROUNDED_COLUMNS]
    for row in d2["results"].values():
        del row[len(V2_COLUMNS) :]
        for i in rounded:
            if i < len(row):
                row[i] = truncate_float_list(row[i])
        if len(row) > 4:
            row[4] = None  # asv's conversion keeps no duration: it reads no ended_at
        while row and row[-1] is None:
            row.pop()
    return d2


def assert_converted_like_asv(path: Path) -> None:
    ours, issues = from_v1(json.loads(path.read_text()))
    theirs = Results.update_to_2(json.loads(path.read_text()))
    assert issues == []
    assert json.dumps(as_asv_writes_it(ours), sort_keys=True) == json.dumps(theirs, sort_keys=True)


@pytest.mark.parametrize("path", v1_files(V1), ids=lambda p: p.name[:8] + p.name[14:24])
def test_v1_conversion_is_asvs_own(path):
    assert_converted_like_asv(path)


@pytest.mark.skipif(not FOREIGN.is_dir(), reason="the pvlib results tree is not beside the repository")
def test_v1_conversion_is_asvs_own_across_a_real_history():
    files = v1_files(FOREIGN)
    assert len(files) > 1000
    for path in files[::20]:  # every era and environment, in a few seconds
        assert_converted_like_asv(path)


def test_v1_extras_are_what_the_file_recorded():
    path = v1_files(V1)[-1]
    raw = json.loads(path.read_text())
    d2, _ = from_v1(json.loads(path.read_text()))
    columns = d2["result_columns"]
    name, entry = next((k, v) for k, v in sorted(raw["results"].items()) if isinstance(v, dict) and v.get("stats"))
    row = d2["results"][name]
    for column, key in RECORDED_STATS.items():
        assert row[columns.index(column)] == [s[key] for s in entry["stats"]]
    expected = (raw["ended_at"][name] - raw["started_at"][name]) / 1000
    assert row[columns.index("duration")] == pytest.approx(expected, rel=1e-12)


def test_a_malformed_v1_entry_costs_only_itself():
    data = json.loads(v1_files(V1)[0].read_text())
    names = sorted(k for k, v in data["results"].items() if isinstance(v, dict) and v.get("stats"))
    del data["results"][names[0]]["result"]
    data["results"][names[1]]["stats"][0] = {"q_25": 1.0}  # no ci_99
    data["results"][names[2]]["stats"][0]["ci_99"] = [1.0]
    data["results"][names[3]]["stats"] = [17]
    d2, issues = from_v1(data)
    assert issues == [
        (names[0], "missing keys", "no 'result' key"),
        (names[1], "missing keys", "no 'ci_99' key"),
        (names[2], "arrays of different lengths", "'ci_99' does not hold two bounds"),
        (names[3], "wrong type", "'int' object is not subscriptable"),
    ]
    assert set(d2["results"]) == set(data["results"]) - set(names[:4])


def test_v1_files_need_what_asvs_conversion_needs(tmp_path):
    data = json.loads(v1_files(V1)[0].read_text())
    del data["python"]
    (tmp_path / "x.json").write_text(json.dumps(data))
    with pytest.raises(FileProblem, match="missing keys: python"):
        read_result_file(tmp_path / "x.json")


def test_v1_env_name_is_computed_as_asv_does_when_absent():
    data = json.loads(v1_files(V1)[0].read_text())
    expected = data.pop("env_name")
    d2, _ = from_v1(data)
    assert d2["env_name"] == Results.update_to_2(json.loads(json.dumps(data)))["env_name"]
    assert expected.startswith("conda-") and d2["env_name"] == expected.removeprefix("conda-")


# ---------------------------------------------------------------- asv's rounding


def _bits(values) -> np.ndarray:
    return np.asarray(values, dtype=float).view(np.int64)


def test_round_like_asv_on_edge_cases():
    values = [1.00005, 1.00015, 0.123455, 99999.5, 9.99995, 12345.5, 2.5e-5, 1e-17, 1e26, 5e-324, 1.7e308]
    values += [0.0, -0.0, -3.14159265, math.inf, -math.inf]
    assert (_bits(round_like_asv(np.array(values))) == _bits(truncate_float_list(values))).all()
    assert np.isnan(round_like_asv(np.array([math.nan]))).all()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_nan=False), min_size=1, max_size=50))
def test_round_like_asv_is_asvs_truncation_bit_for_bit(values):
    assert (_bits(round_like_asv(np.array(values))) == _bits(truncate_float_list(values))).all()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(10_000_000, 99_999_999), min_size=1, max_size=20), st.integers(-20, 20))
def test_round_like_asv_on_ties_and_near_ties(digits, exponent):
    values = [d * 10.0**exponent for d in digits]  # the sixth digit is often exactly 5
    assert (_bits(round_like_asv(np.array(values))) == _bits(truncate_float_list(values))).all()


# ---------------------------------------------------------------- parsing


def test_nan_and_infinity_come_back_as_asv_wrote_them():
    pytest.importorskip("orjson")
    data = parse_json(b'{"a": [NaN, Infinity, -Infinity, 1.5, null]}')
    assert data == {"a": ["NaN", "Infinity", "-Infinity", 1.5, None]}  # the loader reads these as floats


def test_a_token_inside_a_string_is_left_alone():
    data = parse_json(b'{"a": [NaN, -Infinity], "b": "NaN inside a string"}')
    # quoting it would break the string: the standard library parser reads such a file
    assert data["b"] == "NaN inside a string" and math.isnan(data["a"][0]) and data["a"][1] == -math.inf


def test_integers_beyond_a_float_do_not_overflow_later():
    data = parse_json(b'{"a": [' + b"9" * 400 + b", 7]}")
    assert data["a"] == [math.inf, 7]
