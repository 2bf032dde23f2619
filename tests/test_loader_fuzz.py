"""The loader under mutated result files (hypothesis): whatever one entry or one file key holds,
``load_results`` raises nothing but ``ToolError``, every other entry loads exactly as before, and
the export of what loaded works.

The files mutated are real ones: the recorded format-2 results of ``tests/data/asv_results`` and
the format-1 files of ``tests/data/asv_results_v1``. A mutation replaces a value anywhere in one
entry (a whole entry, a column, a list element, a stats dict's key), shortens or lengthens one
of its lists, or drops one of its keys -- with any JSON: nulls, booleans, huge integers,
NaN/Infinity, strings, nested lists and objects.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from pathlib import Path

import pytest
from _tools_testkit import DATA
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tools.commands.export import export_frame
from tools.errors import ToolError
from tools.loader import load_results

V1 = Path(__file__).parent / "data" / "asv_results_v1"
TREES = {"v2": DATA, "v1": V1}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=6)
    | st.sampled_from(["NaN", "Infinity", "1.5", ""]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=3),
    max_leaves=6,
)


def _paths(node, path=()):
    """Every (path, value) inside a JSON value, the value itself included."""
    yield path, node
    if isinstance(node, list):
        for i, child in enumerate(node):
            yield from _paths(child, (*path, i))
    elif isinstance(node, dict):
        for key, child in node.items():
            yield from _paths(child, (*path, key))


def _mutate(entry, draw):
    """A changed copy of one entry: one place in it replaced, resized or removed."""
    places = list(_paths(entry))
    path, node = places[draw(st.integers(0, len(places) - 1))]
    how = draw(st.sampled_from(["replace", "shorten", "lengthen", "drop"]))
    if not path:
        return draw(json_values)
    parent = entry
    for step in path[:-1]:
        parent = parent[step]
    if how == "shorten" and isinstance(node, list) and node:
        parent[path[-1]] = node[:-1]
    elif how == "lengthen" and isinstance(node, list):
        parent[path[-1]] = node + [draw(json_values)]
    elif how == "drop" and isinstance(parent, dict):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(json_values)
    return entry


def _snapshot(table) -> dict:
    """{(commit, environment, benchmark, params): every column} with NaN made comparable."""

    def same(x):
        return "nan" if isinstance(x, float) and math.isnan(x) else x

    out = {}
    for row in table.itertuples(index=False):
        d = row._asdict()
        out[(d["commit"], d["environment"], d["benchmark"], d["params"])] = tuple(same(v) for v in d.values())
    return out


@pytest.fixture(scope="module")
def clean():
    return {name: _snapshot(load_results(tree, warn=lambda m: None)) for name, tree in TREES.items()}


@pytest.fixture(scope="module")
def copies():
    """A scratch copy of each tree; the file a test mutates is restored after every example."""
    with tempfile.TemporaryDirectory() as scratch:
        yield {name: shutil.copytree(tree, Path(scratch) / name) for name, tree in TREES.items()}


def _load_mutated(root: Path, change, which: int) -> tuple[object, list[str], str, str]:
    """Apply ``change(data) -> benchmark or None`` to result file ``which`` of ``root``, load."""
    files = sorted(p for p in root.glob("*/*-*.json"))
    path = files[which % len(files)]  # not only the first: others follow rows already appended
    original = path.read_text()
    data = json.loads(original)
    commit = data["commit_hash"]
    benchmark = change(data)
    path.write_text(json.dumps(data))
    warnings: list[str] = []
    try:
        table = load_results(root, warn=warnings.append)
    except ToolError:
        table = None
    finally:
        path.write_text(original)
    return table, warnings, commit, benchmark


def _check_kept(table, before: dict, commit, benchmark) -> None:
    """Every entry but the mutated one is in the table, unchanged; the table exports."""
    if table is None:
        return
    after = _snapshot(table)
    for key, row in before.items():
        if key[0] == commit and key[2] == benchmark:
            continue
        if key[0] == commit and benchmark is None:  # a file key: the file may be gone
            continue
        assert after.get(key) == row, key
    export_frame(table)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=st.sampled_from(sorted(TREES)), data=st.data())
def test_one_mutated_entry_never_costs_another(clean, copies, tree, data):
    def change(doc):
        name = data.draw(st.sampled_from(sorted(doc["results"])))
        doc["results"][name] = _mutate(json.loads(json.dumps(doc["results"][name])), data.draw)
        return name

    table, warnings, commit, benchmark = _load_mutated(copies[tree], change, data.draw(st.integers(0, 3)))
    assert table is not None  # the other files and entries are good
    _check_kept(table, clean[tree], commit, benchmark)
    assert all("\n" not in w for w in warnings)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=st.sampled_from(sorted(TREES)), data=st.data())
def test_one_mutated_file_key_never_costs_another_file(clean, copies, tree, data):
    def change(doc):
        keys = sorted(k for k in doc if k != "results")
        key = data.draw(st.sampled_from(keys))
        if key in ("started_at", "ended_at", "benchmark_version", "profiles") and doc[key] and data.draw(st.booleans()):
            name = data.draw(st.sampled_from(sorted(doc[key])))
            doc[key][name] = data.draw(json_values)  # one benchmark's entry in a version-1 map
            return name
        doc[key] = _mutate(json.loads(json.dumps(doc[key])), data.draw)
        return None

    table, _, commit, benchmark = _load_mutated(copies[tree], change, data.draw(st.integers(0, 3)))
    _check_kept(table, clean[tree], commit, benchmark)
