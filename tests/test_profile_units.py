"""The profiler's pure parts, in process: targets and parameters, the bytecode tracer,
labels, pstats stacks, the ranking, flame graph escaping, injection, and the report files."""

from __future__ import annotations

import json
import marshal
import textwrap
import xml.etree.ElementTree as ET

import pytest

from tools.errors import ToolError
from tools.profiling import child, diff, flamegraph, inject, profiles, targets
from tools.profiling.output import write_profile
from tools.profiling.profiles import FuncStats, Profile
from tools.profiling.result import ProfileResult, SideResult
from tools.profiling.runner import Plan

CATALOG = targets.catalog_from_json(
    [
        {"name": "m.Work.time_work", "type": "time", "params": [["200", "2000"], ["'a'", "'b'"]], "param_names": ["n", "kind"]},
        {"name": "m.Work.track_work_instructions", "type": "track", "params": [["200", "2000"], ["'a'", "'b'"]], "param_names": ["n", "kind"]},
        {"name": "m.Foot.peakmem_fill", "type": "peakmemory", "params": [], "param_names": []},
        {"name": "m.Foot.track_fill_rss_growth", "type": "track", "params": [], "param_names": []},
        {"name": "m.time_plain", "type": "time", "params": [], "param_names": [], "setup_cache": True},
    ]
)  # fmt: skip


# ---------------------------------------------------------------- targets


@pytest.mark.parametrize("given", ["n=2000, kind='b'", "n=2000,kind='b'", "2000, 'b'", "(2000, 'b')", " 2000,'b' "])
def test_params_match_in_the_tools_and_asv_spellings(given):
    target = targets.resolve_target(CATALOG, "m.Work.time_work", given)
    assert target.param_index == 3 and target.param_values == ("2000", "'b'") and target.params == "n=2000, kind='b'"


def test_params_that_do_not_match_list_every_valid_combination():
    with pytest.raises(ToolError) as err:
        targets.resolve_target(CATALOG, "m.Work.time_work", "n=5")
    message = str(err.value)
    assert "\n" not in message and err.value.exit_code == 2
    assert "n=200, kind='a' | n=200, kind='b' | n=2000, kind='a' | n=2000, kind='b'" in message
    with pytest.raises(ToolError, match="needs --params"):
        targets.resolve_target(CATALOG, "m.Work.time_work", None)
    with pytest.raises(ToolError, match="takes no parameters"):
        targets.resolve_target(CATALOG, "m.time_plain", "n=1")


def test_unknown_benchmark_lists_the_valid_names():
    with pytest.raises(ToolError) as err:
        targets.resolve_target(CATALOG, "m.Work.time_wrok", None)
    assert "unknown benchmark 'm.Work.time_wrok'" in str(err.value) and "m.Work.time_work" in str(err.value)


def test_a_derived_channel_profiles_the_body_that_does_the_work():
    twin = targets.resolve_target(CATALOG, "m.Work.track_work_instructions", "200, 'a'")
    assert (twin.requested, twin.body, twin.param_index) == ("m.Work.track_work_instructions", "m.Work.time_work", 0)
    resource = targets.resolve_target(CATALOG, "m.Foot.track_fill_rss_growth", None)
    assert resource.body == "m.Foot.peakmem_fill" and resource.memory
    assert targets.resolve_target(CATALOG, "m.time_plain", "").setup_cache


# ---------------------------------------------------------------- the child's tracer and labels


def _loop(n):
    total = 0
    for i in range(n):
        total += i
    return total


def _traced(n):
    tracer = child.BytecodeTracer()
    start, stop = tracer.around()
    start()
    _loop(n)
    stop()
    return tracer


def test_bytecode_counts_repeat_exactly_and_grow_with_the_work():
    first, again, double = _traced(1000), _traced(1000), _traced(2000)
    assert first.count == again.count
    per_item = (double.count - first.count) / 1000
    assert per_item == int(per_item) and 4 <= per_item <= 10  # the loop body's bytecodes, exactly
    stacks = first.stacks(child.Labeler([]))
    assert len(stacks) == 1 and stacks[0][0][0][2] == "_loop" and stacks[0][1] == first.count


def test_labels_are_repository_relative_and_unique_per_file(tmp_path):
    src = tmp_path / "pkg" / "mod.py"
    src.parent.mkdir()
    src.write_text("class A:\n    def f(self):\n        return [lambda: 1, lambda: 2]\n\nx = [i for i in range(3)]\n")
    labeler = child.Labeler([(str(tmp_path), "")])
    assert labeler.path(str(src)) == "pkg/mod.py"
    assert labeler.name(str(src), 2, "f") == "A.f"
    names = {labeler.name(str(src), 3, "<lambda>")}
    assert names == {"A.f.<locals>.<lambda>"}  # both lambdas start on line 3: the first wins the key
    assert labeler.enclosing(str(src), 3) == ("A.f.<locals>.<lambda>", 3)
    assert labeler.enclosing(str(src), 3, outward=1) == ("A.f", 2)  # the frame calling a lambda on its line
    assert labeler.enclosing(str(src), 5) == ("<listcomp>", 5)


# ---------------------------------------------------------------- pstats stacks and the ranking


def _pstats():
    root, a, b = ("bench.py", 1, "body"), ("lib.py", 10, "a"), ("lib.py", 20, "b")
    return {
        root: (1, 1, 1.0, 10.0, {}),
        a: (2, 2, 4.0, 6.0, {root: (2, 2, 4.0, 6.0)}),
        b: (3, 3, 3.0, 3.0, {root: (1, 1, 1.0, 1.0), a: (2, 2, 2.0, 2.0)}),
    }


def test_time_stacks_rebuilt_from_pstats_keep_every_second(tmp_path):
    stacks = profiles.pstats_stacks(_pstats(), 10.0)
    body, a, b = ("bench.py", "body"), ("lib.py", "a"), ("lib.py", "b")
    assert stacks == {(body,): 1.0, (body, a): 4.0, (body, a, b): 2.0, (body, b): 1.0}
    path = tmp_path / "t.pstats"
    path.write_bytes(marshal.dumps(_pstats()))
    loaded = profiles.load_time(path, calls=2)
    assert loaded.table[a] == FuncStats(2.0, 3.0, 1.0) and loaded.total == 4.0


def _profile(metric, table, stacks=None):
    stacks = stacks or {(f,): v.self for f, v in table.items()}
    return Profile(metric, "bytecodes", 1, sum(v.self for v in table.values()), stacks, table, {f: 1 for f in table})


def test_changes_rank_the_largest_increase_first_and_new_functions_have_no_percentage():
    base = _profile("bytecodes", {("f.py", "big"): FuncStats(100, 100), ("f.py", "small"): FuncStats(10, 10)})
    head = _profile(
        "bytecodes",
        {("f.py", "big"): FuncStats(104, 104), ("f.py", "small"): FuncStats(20, 20), ("f.py", "new"): FuncStats(5, 5)},
    )
    rows = diff.changes(base, head, "self")
    assert [r.function for r in rows] == ["small", "new", "big"]
    assert rows[0].delta == 10 and rows[0].delta_pct == pytest.approx(100.0) and rows[1].delta_pct is None


# ---------------------------------------------------------------- flame graphs


EVIL = "<script>alert('x')</script>"


@pytest.mark.parametrize("kind", ["side", "diff"])
def test_flame_graphs_are_well_formed_svg_with_every_name_escaped(kind):
    stacks = {(("a.py", "body"),): 1.0, (("a.py", "body"), ("<b>&.py", EVIL)): 3.0}
    if kind == "side":
        svg = flamegraph.side_svg(stacks, title=f"t {EVIL}", subtitle="s", fmt=str)
    else:
        svg = flamegraph.diff_svg({(("a.py", "body"),): 2.0}, stacks, title=EVIL, subtitle="s", fmt=str)
    assert "<script" not in svg and "&lt;script&gt;" in svg and "&lt;b&gt;&amp;.py" in svg
    root = ET.fromstring(svg.split("\n", 1)[1])  # parses: every name escaped
    assert root.tag.endswith("svg") and len(root.findall(".//{http://www.w3.org/2000/svg}rect")) >= 3


def test_differential_flame_graph_colours_growth_red_and_shrinking_blue():
    base = {(("a.py", "body"), ("a.py", "grew")): 1.0, (("a.py", "body"), ("a.py", "shrank")): 3.0}
    head = {(("a.py", "body"), ("a.py", "grew")): 3.0, (("a.py", "body"), ("a.py", "shrank")): 1.0}
    svg = flamegraph.diff_svg(base, head, title="t", subtitle="s", fmt=str)
    assert 'fill="hsl(0, 90%, 54%)"' in svg and 'fill="hsl(220, 90%, 54%)"' in svg


# ---------------------------------------------------------------- injection


SOURCE = textwrap.dedent(
    '''
    class Store:
        def get(self, key):
            """Docstring stays first."""
            return key * 2

        @staticmethod
        def helper(x):
            return x + 1
    '''
)


def test_injection_keeps_results_and_adds_the_loop_to_the_function_itself():
    out = inject.inject(SOURCE, "Store.get", 50)
    ns: dict = {}
    exec(compile(out, "store.py", "exec"), ns)
    assert ns["Store"]().get(21) == 42 and ns["Store"].helper(1) == 2
    assert '"""Docstring stays first."""\n        for _injected_i in range(50):' in out
    assert inject.inject(SOURCE, "Store.helper", 3).count("range(3)") == 1
    with pytest.raises(ValueError, match="no Store.missing"):
        inject.inject(SOURCE, "Store.missing", 1)
    assert inject.iterations_for(0.05, 1e-3, 2, 25e-9) == 1000


# ---------------------------------------------------------------- the report files


def _side(role, work):
    table = {("lib.py", "work"): FuncStats(work, work, 1.0), ("bench.py", "body"): FuncStats(1.0, 1.0 + work, 1.0)}
    stacks = {(("bench.py", "body"),): 1.0, (("bench.py", "body"), ("lib.py", "work")): work}
    made = {
        m: Profile(m, u, 10, 1.0 + work, stacks, table, {f: 3 for f in table})
        for m, u in (("time", "seconds"), ("bytecodes", "bytecodes"))
    }
    return SideResult(
        role,
        role * 10,
        profiles=made,
        machine={"calls": 5, "total": 100.0 * work, "functions": {"_PyEval_EvalFrameDefault": 50.0 * work}},
        pstats=b"x",
    )


def test_report_folder_holds_json_markdown_flame_graphs_and_pstats(tmp_path):
    target = targets.resolve_target(CATALOG, "m.Work.time_work", "200, 'a'")
    plan = Plan(2.0, 1e-3, "cpu", 10, 5, False, 0.1, 1e-3)
    result = ProfileResult(target, {"base": _side("base", 2.0), "head": _side("head", 3.0)}, plan, seconds=12.3)
    folder = write_profile(result, tmp_path / "out")
    assert folder.name == "m.Work.time_work--n=200,kind=a"
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted(
        ["diff.json", "diff.md", "base.pstats", "head.pstats"]
        + [f"flame-{m}-{w}.svg" for m in ("time", "bytecodes") for w in ("base", "head", "diff")]
    )
    doc = json.loads((folder / "diff.json").read_text())
    assert doc["mode"] == "diff" and doc["clock"] == "cpu" and doc["params"] == "n=200, kind='a'"
    assert doc["totals"]["bytecodes"] == {"base": 3.0, "head": 4.0, "delta": 1.0, "delta_pct": pytest.approx(100 / 3)}
    top = doc["top"]["time"]
    assert (top["function"], top["file"], top["line"], top["delta"]) == ("work", "lib.py", 3, 1.0)
    assert doc["functions"]["bytecodes"]["self"][0]["delta_pct"] == pytest.approx(50.0)
    assert doc["functions"]["machine"]["self"][0]["function"] == "_PyEval_EvalFrameDefault"
    md = (folder / "diff.md").read_text()
    assert "# Profile: `m.Work.time_work(n=200, kind='a')`" in md and "| 1 | `work` | lib.py:3 |" in md
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".")]  # no staging left
    again = write_profile(result, tmp_path / "out")  # replaced whole
    assert again == folder and (folder / "diff.json").is_file()


def test_speed_factor_comes_from_the_functions_whose_work_did_not_change():
    same, grew = ("lib.py", "same"), ("lib.py", "grew")
    base_time = _profile("time", {same: FuncStats(8.0, 8.0, 1.0), grew: FuncStats(2.0, 2.0, 1.0)})
    # the head process runs 10% slower overall, and `grew` does 50% more work on top
    head_time = _profile("time", {same: FuncStats(8.8, 8.8, 1.0), grew: FuncStats(3.3, 3.3, 1.0)})
    base_bc = _profile("bytecodes", {same: FuncStats(100, 100), grew: FuncStats(20, 20)})
    head_bc = _profile("bytecodes", {same: FuncStats(100, 100), grew: FuncStats(30, 30)})
    factor = diff.speed_factor({"time": base_time, "bytecodes": base_bc}, {"time": head_time, "bytecodes": head_bc})
    assert factor == pytest.approx(1.1)
    raw = diff.changes(base_time, head_time, "self")
    assert [r.function for r in raw] == ["grew", "same"] and raw[1].delta == pytest.approx(0.8)
    rows = diff.changes(base_time, head_time, "self", factor)
    assert rows[0].function == "grew" and rows[0].delta_pct == pytest.approx(50.0) and rows[1].delta == pytest.approx(0)
    assert rows[0].as_json()["speed"] == pytest.approx(1.1) and "speed" not in raw[0].as_json()


def test_pstats_keys_lose_builtin_addresses_and_merged_entries_add_up(tmp_path):
    caller = ("/lib/x.py", 1, "f")
    a = ("~", 0, "<built-in method __new__ of type object at 0x7f00>")
    b = ("~", 0, "<built-in method __new__ of type object at 0x7f99>")
    stats = {
        caller: (1, 1, 1.0, 4.0, {}),
        a: (2, 2, 1.0, 1.0, {caller: (2, 2, 1.0, 1.0)}),
        b: (1, 1, 2.0, 2.0, {caller: (1, 1, 2.0, 2.0)}),
    }
    path = tmp_path / "t.pstats"
    child.write_pstats(child.rewrite_stats(stats, child.Labeler([("/lib", "")])), str(path))
    merged = profiles.read_pstats(path)
    key = ("~", 0, "<built-in method __new__ of type object>")
    assert merged[key] == (3, 3, 3.0, 3.0, {("x.py", 1, "f"): (3, 3, 3.0, 3.0)})


def test_call_counts_come_from_the_calibration():
    from dataclasses import replace

    from tools.profiling import runner

    cal = {"call_s": 1e-3, "setup_s": 0.5, "bytecodes_per_call": 10_000, "wall_s": 1.0, "measure_s": 0.2}
    plan = runner.plan_calls(cal, memory=False)
    # bytecodes: 2M target -> 200 calls, halved while the traced time would pass 2x the cProfile seconds
    assert (plan.bytecode_calls, plan.machine_calls, plan.time_calls) == (100, 12, 2000)
    assert plan.ready_s == pytest.approx(0.8) and replace(plan, time_s=5.0).time_calls == 5000
    fresh = runner.plan_calls({**cal, "fresh_setup": True}, memory=True)
    assert fresh.time_calls == 3 and fresh.memory  # 2 s / (1 ms call + 0.5 s setup)
