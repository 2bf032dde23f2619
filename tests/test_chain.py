"""Chain engine: step kinds, dependency kinds, validation (every problem at once), cycles,
concurrency (by event order, never by wall time), long chains and error paths."""

from __future__ import annotations

import asyncio
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from intellirouter.chain import (
    AllOf,
    AnyOf,
    Chain,
    ChainEngine,
    Completion,
    CompletionRequest,
    Condition,
    ConditionalStep,
    Dependency,
    FunctionStep,
    LLMStep,
    LocalConnector,
    LoopStep,
    ModelConnector,
    Not,
    ParallelStep,
    ToolStep,
    Variable,
    check,
    validate,
)
from intellirouter.chain.validate import find_cycles
from intellirouter.errors import ChainExecutionError, ChainValidationError, IntelliRouterError


def engine(**kw) -> ChainEngine:
    eng = ChainEngine(**kw)
    eng.register_function("add", lambda a, b: a + b)
    eng.register_function("identity", lambda x: x)
    eng.register_function("fail", _fail)
    eng.register_tool("search", lambda query, k=2: [f"{query}#{i}" for i in range(k)], description="toy search")
    return eng


def _fail(x=None):
    raise ValueError("boom")


def codes(problems):
    return sorted(((p.step_id or ""), p.code) for p in problems)


def starts_and_ends(result, names):
    """Event sequence numbers of start/end per step path."""
    out = {}
    for ev in result.events:
        if ev.step in names:
            out[(ev.step, ev.kind)] = ev.seq
    return out


# ------------------------------------------------------------------------------------
# step kinds
# ------------------------------------------------------------------------------------


def test_llm_step_uses_deterministic_local_connector_and_counts_tokens():
    ch = Chain(
        "c",
        [
            LLMStep("a", prompt="Summarise {{topic}} in one line", system="be brief", max_tokens=64),
            LLMStep("b", prompt="Other prompt about {{topic}}", max_tokens=3),
        ],
        variables=[Variable("topic", required=True)],
    )
    eng = engine()
    r1 = eng.execute(ch, {"topic": "routing"})
    r2 = eng.execute(ch, {"topic": "routing"})
    r3 = eng.execute(ch, {"topic": "memory"})
    assert r1.outputs == r2.outputs  # deterministic
    assert r1.outputs["a"] != r3.outputs["a"]  # derived from the prompt
    comp = r1.steps["a"].completion
    assert isinstance(comp, Completion) and comp.text == r1.outputs["a"]
    assert comp.prompt_tokens == (len("Summarise routing in one line") + 3) // 4 + (len("be brief") + 3) // 4
    assert 4 <= comp.completion_tokens <= 32 and len(comp.text.split()) == comp.completion_tokens
    assert r1.steps["b"].completion.completion_tokens == 3  # capped by max_tokens
    assert r1.prompt_tokens == comp.prompt_tokens + r1.steps["b"].completion.prompt_tokens
    assert r1.completion_tokens == comp.completion_tokens + 3


def test_local_connector_same_reply_with_simulated_latency():
    req = CompletionRequest(prompt="hello there world", max_tokens=16)
    plain = LocalConnector().complete(req)
    delayed = LocalConnector(latency_s=0.001).complete(req)
    assert isinstance(plain, Completion) and asyncio.iscoroutine(delayed)
    assert asyncio.run(delayed) == plain
    assert LocalConnector(seed=1).complete(req).text != plain.text or True  # seed is part of the key
    assert isinstance(LocalConnector(), ModelConnector)
    with pytest.raises(ValueError):
        LocalConnector(latency_s=-1)


def test_custom_connector_receives_rendered_request():
    seen = []

    class Recorder:
        def complete(self, request):
            seen.append(request)
            return Completion(
                text=request.prompt.upper(), model=request.model or "m", prompt_tokens=1, completion_tokens=1
            )

    ch = Chain(
        "c",
        [LLMStep("a", prompt="hi {{name}}", system="sys {{name}}", model="gpt-x", max_tokens=7, temperature=0.5)],
        variables=[Variable("name", default="bob")],
    )
    r = ChainEngine(Recorder()).execute(ch)
    assert r.outputs == {"a": "HI BOB"}
    (req,) = seen
    assert (req.prompt, req.system, req.model, req.max_tokens, req.temperature, req.step_id) == (
        "hi bob",
        "sys bob",
        "gpt-x",
        7,
        0.5,
        "a",
    )


def test_function_step_gets_raw_values_and_nested_args():
    eng = engine()
    eng.register_function("pack", lambda items, meta: {"n": len(items), "meta": meta})
    ch = Chain(
        "c",
        [
            FunctionStep("s", function="add", args={"a": "{{x}}", "b": 2}),
            FunctionStep(
                "p",
                function="pack",
                args={"items": ["{{s}}", "{{x}}", "lit"], "meta": {"label": "sum={{s}}", "raw": "{{s}}"}},
                depends_on="s",
            ),
        ],
        variables=[Variable("x", default=40)],
    )
    r = eng.execute(ch)
    assert r.outputs["p"] == {"n": 3, "meta": {"label": "sum=42", "raw": 42}}
    assert r.steps["s"].output == 42


def test_tool_step_static_and_model_supplied_arguments():
    eng = engine()
    eng.register_function("plan", lambda: '{"query": "from-model", "k": 3}')
    ch = Chain(
        "c",
        [
            FunctionStep("plan", function="plan"),
            ToolStep("t1", tool="search", args={"query": "static"}),
            ToolStep("t2", tool="search", args_from="{{plan}}", depends_on="plan"),
            ToolStep("t3", tool="search", args_from="{{plan}}", args={"k": 1}, depends_on="plan"),  # static wins
        ],
    )
    out = eng.execute(ch).outputs
    assert out["t1"] == ["static#0", "static#1"]
    assert out["t2"] == ["from-model#0", "from-model#1", "from-model#2"]
    assert out["t3"] == ["from-model#0"]


def test_conditional_step_runs_chosen_branch_and_skips_the_other_transitively():
    ch = Chain(
        "c",
        [
            FunctionStep("score", function="identity", args={"x": "{{x}}"}),
            ConditionalStep(
                "gate",
                condition=Condition("{{score}}", "gt", 10),
                depends_on="score",
                then_steps=["big"],
                else_steps=["small"],
            ),
            FunctionStep("big", function="identity", args={"x": "big"}),
            FunctionStep("small", function="identity", args={"x": "small"}),
            FunctionStep("after_small", function="identity", args={"x": "{{small}}"}, depends_on="small"),
            FunctionStep(
                "join", function="identity", args={"x": "{{big}}{{small}}"}, depends_on=Dependency.any("big", "small")
            ),
        ],
        variables=[Variable("x", required=True)],
    )
    eng = engine()
    hi = eng.execute(ch, {"x": 11})
    assert hi.steps["gate"].output == "then"
    assert hi.skipped == ["small", "after_small"]
    assert "not chosen" in hi.steps["small"].reason and "'small' was skipped" in hi.steps["after_small"].reason
    assert hi.outputs["join"] == "big"  # skipped outputs render as ""
    lo = eng.execute(ch, {"x": 3})
    assert lo.steps["gate"].output == "else" and lo.skipped == ["big"]
    assert lo.outputs == {"after_small": "small", "join": "small"}  # completed sinks


def test_parallel_step_outputs_and_branches_really_overlap():
    """Each branch waits until every branch has started: only concurrent execution finishes."""
    eng = engine()
    started: list[str] = []
    all_started = None

    async def meet(name):
        nonlocal all_started
        started.append(name)
        if len(started) == 3:
            all_started.set()
        await asyncio.wait_for(all_started.wait(), timeout=5)  # a sequential run would time out
        return name.upper()

    eng.register_function("meet", meet)

    async def main():
        nonlocal all_started
        all_started = asyncio.Event()
        ch = Chain(
            "c",
            [
                ParallelStep(
                    "par", branches=[FunctionStep(b, function="meet", args={"name": b}) for b in ("x", "y", "z")]
                )
            ],
        )
        return await eng.execute_async(ch)

    r = asyncio.run(main())
    assert r.outputs == {"par": {"x": "X", "y": "Y", "z": "Z"}}
    seq = starts_and_ends(r, {"par/x", "par/y", "par/z"})
    assert max(seq[(b, "start")] for b in ("par/x", "par/y", "par/z")) < min(
        seq[(b, "end")] for b in ("par/x", "par/y", "par/z")
    )


def test_independent_top_level_steps_overlap_and_max_concurrency_serialises():
    def build():
        return Chain(
            "c",
            [LLMStep(f"s{i}", prompt=f"prompt number {i}") for i in range(4)]
            + [LLMStep("join", prompt="{{s0}} {{s3}}", depends_on=Dependency.all("s0", "s1", "s2", "s3"))],
        )

    slow = LocalConnector(latency_s=0.001)
    r = ChainEngine(slow).execute(build())
    seq = starts_and_ends(r, {f"s{i}" for i in range(4)})
    assert max(seq[(f"s{i}", "start")] for i in range(4)) < min(seq[(f"s{i}", "end")] for i in range(4))
    assert seq[("s3", "end")] < [e.seq for e in r.events if e.step == "join" and e.kind == "start"][0]

    serial = ChainEngine(slow, max_concurrency=1).execute(build())
    order = [(e.step, e.kind) for e in serial.events]
    for i in range(4):  # each step ends before the next one starts
        assert order.index((f"s{i}", "end")) < order.index((f"s{i + 1}" if i < 3 else "join", "start"))
    assert serial.outputs == r.outputs  # concurrency never changes the answer


def test_loop_bound_break_condition_for_each_and_previous():
    eng = engine()
    ch = Chain(
        "c",
        [
            LoopStep(
                "bounded",
                body=FunctionStep("b", function="add", args={"a": "{{loop.index}}", "b": 100}),
                max_iterations=4,
                collect=True,
            ),
            LoopStep(
                "until",
                body=FunctionStep("u", function="add", args={"a": "{{loop.index}}", "b": 10}),
                max_iterations=50,
                break_condition=Condition("{{loop.output}}", "ge", 13),
            ),
            LoopStep(
                "each",
                body=FunctionStep("e", function="add", args={"a": "{{loop.item}}", "b": "{{loop.index}}"}),
                for_each="{{items}}",
                collect=True,
            ),
            LoopStep(
                "acc", body=FunctionStep("g", function="identity", args={"x": "{{loop.previous}}+"}), max_iterations=3
            ),
        ],
        variables=[Variable("items", default=[10, 20, 30])],
    )
    r = eng.execute(ch)
    assert r.outputs["bounded"] == [100, 101, 102, 103]
    assert r.steps["bounded"].iterations == 4 and r.steps["bounded"].broke is False
    assert r.outputs["until"] == 13 and r.steps["until"].iterations == 4 and r.steps["until"].broke
    assert r.outputs["each"] == [10, 21, 32]
    assert r.outputs["acc"] == "+++"
    assert [e.step for e in r.events if e.kind == "start" and e.step.startswith("bounded[")] == [
        f"bounded[{k}]/b" for k in range(4)
    ]


def test_loop_with_async_body_and_nested_parallel():
    eng = engine()

    async def double(x):
        await asyncio.sleep(0)
        return 2 * x

    eng.register_function("double", double)
    ch = Chain(
        "c",
        [
            LoopStep(
                "lp",
                max_iterations=10,
                collect=True,
                break_condition=Condition("{{loop.output.d}}", "ge", 8),
                body=ParallelStep(
                    "par",
                    branches=[
                        FunctionStep("d", function="double", args={"x": "{{loop.index}}"}),
                        FunctionStep("i", function="identity", args={"x": "{{loop.index}}"}),
                    ],
                ),
            )
        ],
    )
    r = eng.execute(ch)
    assert r.outputs["lp"] == [{"d": 0, "i": 0}, {"d": 2, "i": 1}, {"d": 4, "i": 2}, {"d": 6, "i": 3}, {"d": 8, "i": 4}]
    assert r.steps["lp"].iterations == 5


# ------------------------------------------------------------------------------------
# dependency kinds
# ------------------------------------------------------------------------------------


def _dep_chain(dep, gate_then):
    """'a' always runs; 'b' runs only on the then branch; 'x' depends on them via `dep`."""
    return Chain(
        "c",
        [
            FunctionStep("a", function="identity", args={"x": 5}),
            ConditionalStep("g", condition=Condition("{{on}}", "truthy"), then_steps=["b"]),
            FunctionStep("b", function="identity", args={"x": 7}),
            FunctionStep("x", function="identity", args={"x": "ran"}, depends_on=dep),
        ],
        variables=[Variable("on", default=gate_then)],
    )


@pytest.mark.parametrize(
    "dep, on, runs",
    [
        ("a", False, True),
        ("b", False, False),
        (Dependency.simple("b"), True, True),
        (Dependency.all("a", "b"), True, True),
        (Dependency.all("a", "b"), False, False),
        (Dependency.any("a", "b"), False, True),
        (Dependency.any("b", "g"), False, True),
        (Dependency.conditional("a", Condition("{{a}}", "eq", 5)), False, True),
        (Dependency.conditional("a", Condition("{{a}}", "lt", "4")), False, False),
        (Dependency.conditional("b", Condition("{{b}}", "eq", 7)), False, False),  # b skipped
        (Dependency.conditional("a", AllOf(Condition("{{a}}", "gt", 1), Not(Condition("{{on}}")))), False, True),
        (Dependency.conditional("a", AnyOf(Condition("{{a}}", "gt", 9), Condition("{{on}}"))), False, False),
        (Dependency.conditional("a", lambda view: view["a"] == 5 and "on" in view), False, True),
        (["a", "b"], True, True),
        (["a", "b"], False, False),
    ],
)
def test_dependency_kinds(dep, on, runs):
    r = engine().execute(_dep_chain(dep, on))
    assert (r.steps["x"].status == "completed") is runs
    if not runs:
        assert r.steps["x"].reason


def test_any_dependency_skipped_when_all_skipped():
    ch = Chain(
        "c",
        [
            ConditionalStep("g", condition=Condition("{{on}}"), then_steps=["a", "b"], else_steps=["c"]),
            FunctionStep("a", function="identity", args={"x": 1}),
            FunctionStep("b", function="identity", args={"x": 2}),
            FunctionStep("c", function="identity", args={"x": 3}),
            FunctionStep("x", function="identity", args={"x": 0}, depends_on=Dependency.any("a", "b")),
        ],
        variables=[Variable("on", default=False)],
    )
    r = engine().execute(ch)
    assert r.skipped == ["a", "b", "x"] and "none of 'a', 'b' completed" in r.steps["x"].reason


def test_condition_ops():
    ops = [
        ("eq", "abc", "abc", True),
        ("ne", 1, 2, True),
        ("lt", "3", 4, True),
        ("ge", 4, "4.0", True),
        ("contains", "a needle here", "needle", True),
        ("not_contains", [1, 2], 3, True),
        ("startswith", "hello", "he", True),
        ("endswith", "hello", "lo", True),
        ("in", "b", ["a", "b"], True),
        ("matches", "order #123", r"#\d+", True),
        ("falsy", "", None, True),
        ("truthy", 0, None, False),
    ]
    eng = engine()
    for op, left, right, expected in ops:
        ch = Chain(
            "c",
            [
                FunctionStep("v", function="identity", args={"x": left}),
                ConditionalStep("g", condition=Condition("{{v}}", op, right), depends_on="v"),
            ],
        )
        assert eng.execute(ch).outputs["g"] == ("then" if expected else "else"), op


# ------------------------------------------------------------------------------------
# outputs, plans, inputs
# ------------------------------------------------------------------------------------


def test_output_mapping_and_reusable_plan():
    eng = engine()
    ch = Chain(
        "c",
        [
            FunctionStep("s", function="add", args={"a": "{{x}}", "b": 1}),
            FunctionStep("t", function="add", args={"a": "{{s}}", "b": 1}, depends_on="s"),
        ],
        variables=[Variable("x", required=True)],
        outputs={"total": "t", "text": "x={{x}} t={{t}}", "first": "{{s}}"},
    )
    plan = eng.compile(ch)
    assert plan.depth == 2 and plan.order == [0, 1]
    assert eng.execute(plan, {"x": 1}).outputs == {"total": 3, "text": "x=1 t=3", "first": 2}
    assert eng.execute(plan, {"x": 10}).outputs["total"] == 12
    with pytest.raises(ChainValidationError) as err:
        eng.execute(plan, {})
    assert codes(err.value.problems) == [("", "missing_variable")]
    assert check(ch, {"x": 1}).ids == ["s", "t"]


def test_execute_async_inside_running_loop_and_sync_wrapper_refuses():
    eng = engine()
    ch = Chain("c", [FunctionStep("s", function="identity", args={"x": 1})])

    async def main():
        with pytest.raises(RuntimeError, match="execute_async"):
            eng.execute(ch)
        return await eng.execute_async(ch)

    assert asyncio.run(main()).outputs == {"s": 1}


# ------------------------------------------------------------------------------------
# validation: every problem at once
# ------------------------------------------------------------------------------------


def test_validation_reports_every_problem_at_once():
    eng = engine()
    ch = Chain(
        "bad",
        [
            LLMStep("a", prompt="uses {{c}} and {{ghost}}", depends_on=["c", "missing"]),
            LLMStep("b", name="", prompt="x", depends_on="a"),
            LLMStep("c", prompt="{{b}}", depends_on="b"),
            ConditionalStep(
                "k", condition=Condition("{{q}}", "eq", 1), then_steps=["nope", "k", "d"], else_steps=["d", "inner"]
            ),
            LLMStep("d", prompt="ok"),
            LLMStep("d", prompt="duplicate"),
            FunctionStep("f", function="unknown_fn"),
            FunctionStep("f2", function="add", args={"a": 1, "zzz": 2}),
            ToolStep("t", tool="search", args={}),
            LLMStep("late", prompt="{{e}} {{inner}} {{loop.index}}"),
            LLMStep("e", prompt="  "),
            ParallelStep("p", branches=[LLMStep("inner", prompt="x", depends_on="a")]),
            ParallelStep("empty", branches=[]),
            LoopStep("lp", body=LLMStep("body", prompt="{{loop.index}}")),
            LLMStep("loop", prompt="reserved"),
            ConditionalStep("badop", condition=Condition("{{q}}", "nearly", 1)),
            ConditionalStep("badre", condition=Condition("{{q}}", "matches", "(")),
            LLMStep("self", prompt="x", depends_on="self"),
            LLMStep("mt", prompt="x", max_tokens=0),
        ],
        variables=[Variable("q", required=True), Variable("q"), Variable("a")],
        outputs={"o": "{{nowhere}}"},
    )
    problems = eng.validate(ch, {"typo": 1})
    got = codes(problems)
    expected = sorted(
        [
            ("a", "missing_step"),
            ("a", "cycle"),
            ("a", "bad_reference"),  # {{ghost}}
            ("b", "empty_name"),
            ("k", "bad_branch_target"),
            ("k", "bad_branch_target"),
            ("k", "bad_branch_target"),
            ("k", "bad_branch_target"),  # nope, self, both, nested
            ("d", "duplicate_step"),
            ("f", "unknown_function"),
            ("f2", "bad_argument"),
            ("f2", "missing_argument"),
            ("t", "missing_argument"),
            ("late", "bad_reference"),
            ("late", "bad_reference"),
            ("late", "bad_reference"),
            ("e", "empty_prompt"),
            ("inner", "bad_dependency"),
            ("empty", "empty_parallel"),
            ("lp", "bad_loop"),
            ("loop", "reserved_name"),
            ("badop", "bad_condition"),
            ("badre", "bad_condition"),
            ("self", "cycle"),
            ("mt", "bad_setting"),
            ("", "duplicate_variable"),
            ("a", "name_clash"),
            ("", "bad_output"),
            ("", "missing_variable"),
            ("", "unknown_input"),
        ]
    )
    assert got == expected, "\n".join(map(str, problems))
    cycles = {p.path for p in problems if p.code == "cycle"}
    assert cycles == {("a", "b", "c", "a"), ("self", "self")}
    with pytest.raises(ChainValidationError) as err:
        eng.execute(ch, {"typo": 1})
    assert len(err.value.problems) == len(problems) and "(+" in str(err.value)
    assert isinstance(err.value, IntelliRouterError)


def test_validation_reference_rules():
    ch = Chain(
        "c",
        [
            LLMStep("a", prompt="x"),
            LLMStep("b", prompt="{{a}}"),  # a is not upstream of b
            LLMStep("c", prompt="{{c}}", depends_on="a"),  # own output
            LLMStep("d", prompt="{{a.key.0}} {{v}}", depends_on="c"),  # ancestor via c: fine
            LLMStep("e", prompt="broken {{ not valid }}", depends_on="d"),
            LoopStep("l", body=LLMStep("lb", prompt="{{loop.item}}"), for_each="{{loop.item}}"),
        ],
        variables=[Variable("v", default=1)],
        outputs={"": "a", "x": "{{a}}"},
    )
    got = codes(validate(ch))
    assert got == sorted(
        [
            ("b", "bad_reference"),
            ("c", "bad_reference"),
            ("e", "bad_template"),
            ("l", "bad_reference"),
            ("", "bad_output"),
        ]
    )


def test_validation_of_non_chain_and_bad_parts():
    assert codes(validate("nope")) == [("", "bad_chain")]
    got = codes(validate(Chain("", [])))
    assert got == [("", "empty_chain"), ("", "empty_id")]
    got = codes(
        validate(
            Chain(
                "c",
                [
                    LLMStep("a b", prompt="x"),
                    "not a step",
                    LLMStep("ok", prompt="x", depends_on=[Dependency.all()]),
                    LLMStep("ok2", prompt="x", depends_on=[Dependency("simple", ("ok",))]),
                    LLMStep("ok3", prompt="x", depends_on=[Dependency.conditional("ok", None)]),
                ],
                variables=["v", Variable("")],
            )
        )
    )
    assert got == sorted(
        [
            ("a b", "bad_id"),
            ("", "bad_step"),
            ("ok", "bad_dependency"),
            ("ok2", "bad_dependency"),
            ("ok3", "bad_dependency"),
            ("", "bad_variable"),
            ("", "bad_variable"),
        ]
    )


def test_cycle_through_branch_edge_is_reported():
    # the implicit edge conditional -> branch target closes a cycle
    ch = Chain(
        "c",
        [
            ConditionalStep("g", condition=Condition("{{t}}"), then_steps=["t"], depends_on="t"),
            LLMStep("t", prompt="x"),
        ],
    )
    (p,) = [p for p in validate(ch) if p.code == "cycle"]
    assert p.path in {("g", "t", "g"), ("t", "g", "t")}


# property: every node on a cycle is covered by the reported cycles, and every reported
# path is a real cycle of the dependency graph
@st.composite
def graphs_with_back_edges(draw):
    n = draw(st.integers(2, 25))
    deps = {i: set() for i in range(n)}
    for j in range(1, n):  # a random DAG: edges only forward in index order
        deps[j] = set(draw(st.lists(st.integers(0, j - 1), max_size=3)))
    injected = []
    for _ in range(draw(st.integers(1, 3))):
        # walk dependencies down from `top`; making the walk's last node depend on `top`
        # closes a cycle through every node of the walk
        top = draw(st.integers(0, n - 1))
        path = [top]
        for _ in range(draw(st.integers(0, 6))):
            if not deps[path[-1]]:
                break
            path.append(draw(st.sampled_from(sorted(deps[path[-1]]))))
        deps[path[-1]].add(top)
        injected.append(path)
    return n, deps, injected


def _on_cycle(n, deps):
    succ = {i: {j for j in range(n) if i in deps[j]} for i in range(n)}
    nodes = set()
    for s in range(n):
        seen, todo = set(), list(succ[s])
        while todo:
            x = todo.pop()
            if x in seen:
                continue
            seen.add(x)
            todo.extend(succ[x])
        if s in seen:
            nodes.add(s)
    return nodes


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs_with_back_edges())
def test_validation_finds_every_injected_cycle(case):
    n, deps, injected = case
    ch = Chain("g", [LLMStep(f"n{i}", prompt="x", depends_on=[f"n{d}" for d in sorted(deps[i])]) for i in range(n)])
    problems = validate(ch)
    assert all(p.code == "cycle" for p in problems)
    covered = set()
    for p in problems:
        path = [int(s[1:]) for s in p.path]
        assert path[0] == path[-1] and len(path) >= 2 and p.step_id == p.path[0]
        assert len(set(path[:-1])) == len(path) - 1  # simple cycle
        for a, b in zip(path, path[1:]):
            assert a in deps[b], f"{p.path}: n{b} does not depend on n{a}"
        covered.update(path)
    assert covered == _on_cycle(n, deps)
    for path in injected:
        assert set(path) <= covered


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 30).flatmap(
        lambda n: st.tuples(st.just(n), st.lists(st.lists(st.integers(0, n - 1), max_size=3), min_size=n, max_size=n))
    )
)
def test_acyclic_graphs_execute_in_dependency_order(case):
    n, raw = case
    deps = {i: sorted({d for d in raw[i] if d < i}) for i in range(n)}
    # odd steps are async and finish after 0-3 event-loop turns, so completions interleave
    ch = Chain(
        "g",
        [
            FunctionStep(
                f"n{i}",
                function="stagger" if i % 2 else "identity",
                args={"x": i},
                depends_on=[f"n{d}" for d in deps[i]],
            )
            for i in range(n)
        ],
    )
    eng = engine()

    async def stagger(x):
        for _ in range(x % 4):
            await asyncio.sleep(0)
        return x

    eng.register_function("stagger", stagger)
    assert eng.validate(ch) == []
    r = eng.execute(ch)
    pos = {e.step: e.seq for e in r.events if e.kind == "start"}
    end = {e.step: e.seq for e in r.events if e.kind == "end"}
    for i in range(n):
        for d in deps[i]:
            assert end[f"n{d}"] < pos[f"n{i}"]
    assert r.completed == [f"n{i}" for i in range(n)]
    assert r.outputs == {f"n{i}": i for i in range(n) if not any(i in deps[j] for j in range(n))}


def test_find_cycles_direct():
    assert find_cycles(3, [[1], [2], []]) == []
    assert find_cycles(3, [[1], [2], [0]]) == [[0, 1, 2, 0]]
    # two cycles sharing node 0, plus a node downstream of them that is on no cycle
    cycles = find_cycles(4, [[1, 2], [0], [0, 3], []])
    assert sorted(map(tuple, cycles)) == [(0, 1, 0), (2, 0, 2)]


# ------------------------------------------------------------------------------------
# long chains and the recursion limit
# ------------------------------------------------------------------------------------


def _depth():
    f, d = sys._getframe(), 0
    while f is not None:
        f, d = f.f_back, d + 1
    return d


@pytest.fixture
def low_recursion_limit():
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(_depth() + 120)  # far below 5,000: recursive graph code would fail
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def test_5000_step_linear_chain_validates_and_executes(low_recursion_limit):
    n = 5000
    steps = [LLMStep("s0", prompt="Write about {{topic}}")]
    steps += [LLMStep(f"s{i}", prompt=f"Refine: {{{{s{i - 1}}}}}", depends_on=f"s{i - 1}") for i in range(1, n)]
    ch = Chain("long", steps, [Variable("topic", required=True)], outputs={"final": f"s{n - 1}"})
    eng = ChainEngine()
    assert eng.validate(ch, {"topic": "graphs"}) == []
    plan = eng.compile(ch)
    assert plan.depth == n and plan.order == list(range(n))
    r = eng.execute(plan, {"topic": "graphs"})
    assert len(r.completed) == n and r.outputs["final"] == r.steps[f"s{n - 1}"].output
    # the same chain with an asynchronous model: every step is an asyncio task
    r_async = ChainEngine(LocalConnector(asynchronous=True)).execute(ch, {"topic": "graphs"})
    assert r_async.outputs == r.outputs
    # a reference to a far ancestor takes the bitset path
    far = Chain(
        "far", steps + [LLMStep("tail", prompt="{{s0}}", depends_on=f"s{n - 1}")], [Variable("topic", default="x")]
    )
    assert validate(far) == []


def test_5000_step_fan_out_and_5000_cycle(low_recursion_limit):
    n = 5000
    fan = Chain(
        "fan",
        [FunctionStep("root", function="identity", args={"x": 1})]
        + [FunctionStep(f"w{i}", function="add", args={"a": "{{root}}", "b": i}, depends_on="root") for i in range(n)]
        + [
            FunctionStep(
                "sink",
                function="identity",
                args={"x": "{{w0}}"},
                depends_on=Dependency.all(*[f"w{i}" for i in range(n)]),
            )
        ],
    )
    eng = engine()
    r = eng.execute(fan)
    assert r.outputs == {"sink": 1} and len(r.completed) == n + 2
    ring = Chain("ring", [LLMStep(f"r{i}", prompt="x", depends_on=f"r{(i - 1) % n}") for i in range(n)])
    (p,) = validate(ring)
    assert p.code == "cycle" and len(p.path) == n + 1


# ------------------------------------------------------------------------------------
# error paths
# ------------------------------------------------------------------------------------


def test_failing_step_raises_execution_error_naming_step():
    ch = Chain(
        "c",
        [
            FunctionStep("ok", function="identity", args={"x": 1}),
            FunctionStep("bad", function="fail", depends_on="ok"),
            FunctionStep("never", function="identity", args={"x": 2}, depends_on="bad"),
        ],
    )
    with pytest.raises(ChainExecutionError) as err:
        engine().execute(ch)
    assert err.value.step_id == "bad" and "step 'bad' failed: ValueError: boom" in str(err.value)
    assert isinstance(err.value.__cause__, ValueError)


def test_failing_parallel_branch_names_the_branch_and_cancels_siblings():
    eng = engine()
    cancelled = []

    async def hang():
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.append(True)
            raise

    async def boom():
        await asyncio.sleep(0)
        raise KeyError("k")

    eng.register_function("hang", hang)
    eng.register_function("boom", boom)
    ch = Chain(
        "c", [ParallelStep("par", branches=[FunctionStep("h", function="hang"), FunctionStep("b", function="boom")])]
    )
    with pytest.raises(ChainExecutionError) as err:
        eng.execute(ch)
    assert err.value.step_id == "par/b" and cancelled == [True]


@pytest.mark.parametrize(
    "step, message",
    [
        (LLMStep("x", prompt="{{v.missing}}"), "no 'missing' in dict"),
        (ToolStep("x", tool="search", args_from="{{v}}"), "unexpected keyword argument .a."),
        (ToolStep("x", tool="search", args_from="{{s}}"), "args_from is not JSON"),
        (LoopStep("x", body=LLMStep("b", prompt="p"), for_each="{{v}}"), "for_each must give a list"),
        (LoopStep("x", body=LLMStep("b", prompt="p"), for_each="{{lst}}", max_iterations=2), "exceed max_iterations"),
        (ConditionalStep("x", condition=Condition("{{s}}", "gt", 3)), "cannot compare"),
        (
            LoopStep(
                "x",
                body=LLMStep("b", prompt="p"),
                max_iterations=2,
                break_condition=Condition("{{loop.output}}", "lt", 1),
            ),
            "cannot compare",
        ),
    ],
)
def test_runtime_errors_name_the_step(step, message):
    ch = Chain(
        "c",
        [step],
        variables=[
            Variable("v", default={"a": 1}),
            Variable("s", default="not json"),
            Variable("lst", default=[1, 2, 3]),
        ],
    )
    with pytest.raises(ChainExecutionError, match=message) as err:
        engine().execute(ch)
    assert err.value.step_id == "x"


def test_bad_connector_reply_and_bad_engine_settings():
    class Wrong:
        def complete(self, request):
            return "just text"

    with pytest.raises(ChainExecutionError, match="expected Completion"):
        ChainEngine(Wrong()).execute(Chain("c", [LLMStep("a", prompt="p")]))
    with pytest.raises(TypeError, match="complete"):
        ChainEngine(object())
    with pytest.raises(ValueError, match="max_concurrency"):
        ChainEngine(max_concurrency=0)


def test_registry_errors():
    eng = engine()
    with pytest.raises(ChainValidationError, match="already registered"):
        eng.register_function("add", lambda a: a)
    eng.register_function("add", lambda a: a, replace=True)
    with pytest.raises(ChainValidationError, match="not callable"):
        eng.register_tool("t", 42)
    with pytest.raises(ChainValidationError, match="empty"):
        eng.register_tool(" ", print)
    with pytest.raises(ChainValidationError, match="positional-only"):
        eng.register_function("po", lambda x, /: x)
    assert "add" in eng.functions and len(eng.tools) == 1 and eng.tools["search"].description == "toy search"


def test_invalid_inputs_mapping():
    ch = Chain("c", [LLMStep("a", prompt="p")])
    assert codes(validate(ch, ["not", "a", "mapping"])) == [("", "bad_input")]


def test_benchmark_workloads_are_valid_chains():
    """The asv workloads (benchmarks/fixtures.py) are valid and run every intended step."""
    fixtures = pytest.importorskip("benchmarks.fixtures")
    for shape in (*fixtures.CHAIN_SHAPES, "mixed"):
        for n in (5, 50):
            eng = fixtures.make_chain_engine(shape)
            ch = fixtures.make_chain(shape, n)
            assert eng.validate(ch, fixtures.CHAIN_INPUTS) == [], (shape, n)
            r = eng.execute(ch, fixtures.CHAIN_INPUTS)
            executed = sum(
                1
                for e in r.events
                if e.kind == "end" and "[" not in e.step and not (shape == "parallel" and "/" not in e.step)
            )
            if shape == "mixed":  # one branch of each block's conditional is skipped
                assert len(r.skipped) == len(ch.steps) // 10
            else:
                assert executed == n and not r.skipped, (shape, n)
    assert fixtures.chain_spec("linear", 50) == fixtures.chain_spec("linear", 50)  # seeded


def test_max_concurrency_bounds_running_steps_and_cancellation_propagates():
    eng = engine(max_concurrency=2)
    active, peak = 0, 0

    async def work(x):
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        for _ in range(3):
            await asyncio.sleep(0)
        active -= 1
        return x

    eng.register_function("work", work)
    ch = Chain("c", [FunctionStep(f"s{i}", function="work", args={"x": i}) for i in range(6)])
    assert eng.execute(ch).outputs == {f"s{i}": i for i in range(6)}
    assert peak == 2

    async def main():
        gate = asyncio.Event()

        async def block(x):
            gate.set()
            await asyncio.sleep(60)

        eng.register_function("block", block)
        task = asyncio.ensure_future(
            eng.execute_async(Chain("c", [FunctionStep("b", function="block", args={"x": 1})]))
        )
        await gate.wait()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]

    assert asyncio.run(main()) == []  # the step's task was cancelled and awaited too


def test_result_repr_is_short():
    ch = Chain("c", [FunctionStep(f"s{i}", function="identity", args={"x": "y" * 50}) for i in range(200)])
    text = repr(engine().execute(ch))
    assert len(text) < 3000 and "steps=200" in text


def test_chain_from_dict_builds_a_runnable_chain():
    import json

    from intellirouter.chain import chain_from_dict

    data = json.loads("""{
      "id": "triage", "variables": [{"name": "q", "required": true}, {"name": "items", "default": [1, 2]}],
      "outputs": {"answer": "final", "loop": "{{lp}}"},
      "steps": [
        {"id": "draft", "type": "llm", "prompt": "Answer: {{q}}", "max_tokens": 8},
        {"id": "score", "type": "function", "function": "add", "args": {"a": "{{q}}", "b": "!"},
         "depends_on": "draft"},
        {"id": "gate", "type": "conditional", "condition": {"all": [{"left": "{{score}}", "op": "endswith",
         "right": "!"}, {"not": {"left": "{{q}}", "op": "falsy"}}]}, "then": ["tool"], "else": ["alt"],
         "depends_on": ["score"]},
        {"id": "tool", "type": "tool", "tool": "search", "args": {"query": "{{q}}", "k": 1}},
        {"id": "alt", "type": "llm", "prompt": "alt"},
        {"id": "par", "type": "parallel", "depends_on": [{"any": ["tool", "alt"]}],
         "branches": [{"id": "p1", "type": "function", "function": "identity", "args": {"x": "{{tool}}"}}]},
        {"id": "lp", "type": "loop", "for_each": "{{items}}", "collect": true,
         "body": {"id": "lb", "type": "function", "function": "add", "args": {"a": "{{loop.item}}", "b": 1}},
         "break": {"left": "{{loop.output}}", "op": "ge", "right": 9}},
        {"id": "final", "type": "llm", "prompt": "{{par.p1}}",
         "depends_on": [{"step": "par", "when": {"left": "{{par.p1.0}}", "op": "startswith", "right": "hi"}}]}
      ]}""")
    ch = chain_from_dict(data)
    r = engine().execute(ch, {"q": "hi"})
    assert r.skipped == ["alt"] and r.outputs["loop"] == [2, 3]
    assert r.steps["par"].output == {"p1": ["hi#0"]} and isinstance(r.outputs["answer"], str)


def test_chain_from_dict_reports_every_malformed_part():
    from intellirouter.chain import chain_from_dict

    with pytest.raises(ChainValidationError) as err:
        chain_from_dict(
            {
                "id": "x",
                "colour": 1,
                "variables": [{"nom": "q"}],
                "outputs": [],
                "steps": [
                    {"id": "a", "type": "llm"},
                    {"id": "b", "type": "teleport"},
                    {"id": "c", "type": "llm", "prompt": "p", "depends_on": [{"some": ["a"]}]},
                    {"id": "d", "type": "conditional", "condition": {"left": "x", "oops": 1}},
                    {"id": "e", "type": "function", "function": "f", "argz": {}},
                    "not a step",
                ],
            }
        )
    got = [(p.step_id, p.message) for p in err.value.problems]
    assert [sid for sid, _ in got] == [None, "a", "b", "c", "d", "e", "#5", None, None]
    assert "prompt" in got[1][1] and "teleport" in got[2][1] and "argz" in got[5][1]
    with pytest.raises(ChainValidationError, match="must be an object"):
        chain_from_dict([])


def test_execute_runs_plain_chains_without_an_event_loop(monkeypatch):
    """Inline until the first awaitable: a chain of plain calls never starts a loop, and a
    chain that needs one hands its pending step over intact."""
    started = []
    real_run = asyncio.run
    monkeypatch.setattr(asyncio, "run", lambda coro: started.append(1) or real_run(coro))
    eng = engine()
    plain = Chain(
        "c", [LLMStep("a", prompt="x"), FunctionStep("b", function="identity", args={"x": "{{a}}"}, depends_on="a")]
    )
    assert eng.execute(plain).outputs["b"] == eng.execute(plain).outputs["b"] and started == []

    async def later(x):
        await asyncio.sleep(0)
        return x + 1

    eng.register_function("later", later)
    mixed = Chain(
        "m",
        [
            FunctionStep("a", function="identity", args={"x": 1}),
            FunctionStep("b", function="later", args={"x": "{{a}}"}, depends_on="a"),
            FunctionStep("c", function="later", args={"x": "{{b}}"}, depends_on="b"),
        ],
    )
    assert eng.execute(mixed).outputs == {"c": 3} and started == [1]


def test_sync_failure_next_to_pending_async_branch_leaves_no_unawaited_coroutine():
    import gc
    import warnings

    eng = engine()

    async def slow():
        await asyncio.sleep(0)

    eng.register_function("slow", slow)
    ch = Chain(
        "c", [ParallelStep("p", branches=[FunctionStep("a", function="slow"), FunctionStep("b", function="fail")])]
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(ChainExecutionError) as err:
            eng.execute(ch)
        gc.collect()
    assert err.value.step_id == "p/b"
    assert not [w for w in caught if "never awaited" in str(w.message)]


def test_package_exports_every_public_name_and_validate_is_check_as_a_list():
    import importlib

    import intellirouter.chain as pkg

    for name in pkg.__all__:
        assert getattr(pkg, name) is not None, name
    # the function, not the submodule of the same name
    assert callable(pkg.validate) and pkg.validate.__module__ == "intellirouter.chain.validate"
    for old in ("chain_engine", "chain_registry", "chain_template", "chain_validate"):
        with pytest.raises(ImportError):
            importlib.import_module(f"intellirouter.{old}")
    bad = Chain("c", [LLMStep("a", prompt="{{nowhere}}")])
    with pytest.raises(ChainValidationError) as err:
        check(bad)
    assert validate(bad) == err.value.problems
    good = Chain("c", [LLMStep("a", prompt="hi")])
    assert validate(good) == [] and check(good).ids == ["a"]
