"""tools.asv_formats: NaN/Infinity survive the fast parser, and integers beyond a float's range
do not overflow later."""

from __future__ import annotations

import math

import pytest

from tools.asv_formats import parse_json


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
