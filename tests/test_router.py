"""Router: filtering, each strategy, fallbacks, errors that name the emptying constraint,
thread-safe counters, and round-robin fairness properties (hypothesis)."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intellirouter.errors import IntelliRouterError, NoSuitableModelError, RoutingError
from intellirouter.registry import (
    ModelCapabilities,
    ModelFilter,
    ModelMetadata,
    ModelRegistry,
    ModelStatus,
    PerformanceMetrics,
)
from intellirouter.router import Router, RouterConfig, RoutingRequest, estimate_tokens, message_text
from intellirouter.strategies import RoutingStrategy, score_categories


def mk(model_id, provider="openai", status=ModelStatus.AVAILABLE, cost=None, latency=None, p95=None, tags=(), **caps):
    return ModelMetadata(
        id=model_id,
        name=model_id,
        provider=provider,
        version="1",
        endpoint=f"https://example.test/{model_id}",
        capabilities=ModelCapabilities(
            cost_per_1k_tokens_input=cost,
            cost_per_1k_tokens_output=None if cost is None else cost * 2,
            performance=PerformanceMetrics(avg_latency_ms=latency, p95_latency_ms=p95),
            feature_flags=tags,
            **caps,
        ),
        status=status,
    )


def registry(*models):
    return ModelRegistry(models)


def router(reg, **config):
    return Router(RouterConfig(**config), reg)


def ask(text="hello", **fields):
    return RoutingRequest(messages=[{"role": "user", "content": text}], **fields)


@pytest.fixture
def reg():
    return registry(
        mk(
            "a",
            "openai",
            supports_streaming=True,
            supports_function_calling=True,
            cost=0.01,
            latency=300,
            tags={"code"},
        ),
        mk("b", "anthropic", max_context_length=100_000, cost=0.002, latency=900, tags={"creative", "writing"}),
        mk("c", "openai", status=ModelStatus.LIMITED, latency=150, p95=400, tags={"technical"}),
        mk("d", "local", status=ModelStatus.MAINTENANCE, cost=0.0001, latency=10),
    )


# ---- config and request -------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(strategy="fastest"), "invalid router config"),
        (dict(fallback_strategies=["nope"]), "invalid router config"),
        (dict(weights={"a": -1}), r"weights\['a'\] must be a non-negative integer"),
        (dict(weights={"a": 1.5}), r"weights\['a'\]"),
        (dict(model_priorities={"a": "high"}), r"model_priorities\['a'\] must be an integer"),
        (dict(max_in_flight=0), "max_in_flight"),
        (dict(chars_per_token=0), "chars_per_token"),
        (dict(expected_output_tokens=-1), "expected_output_tokens"),
        (dict(routable_statuses=["sleepy"]), "invalid router config"),
        (dict(content_keywords={"math": ("integral",)}), r"categories \['math'\] have keywords but no tags"),
    ],
)
def test_router_config_rejects_bad_settings(kwargs, message):
    with pytest.raises(RoutingError, match=message):
        RouterConfig(**kwargs)


def test_router_requires_a_config(reg):
    with pytest.raises(RoutingError, match="RouterConfig"):
        Router({"strategy": "priority"}, reg)


def test_config_strategy_chain_dedupes_in_order():
    cfg = RouterConfig(strategy="cost_optimized", fallback_strategies=["priority", "cost_optimized", "round_robin"])
    assert cfg.strategy is RoutingStrategy.COST_OPTIMIZED
    assert cfg.strategy_chain == ("cost_optimized", "priority", "round_robin")


def test_request_normalises_exclusions_and_checks_max_tokens():
    assert ask(excluded_model_ids=["a", "b", "a"]).excluded_model_ids == frozenset({"a", "b"})
    assert ask(excluded_model_ids="a").excluded_model_ids == frozenset({"a"})
    assert RoutingRequest(messages="hello").messages == ("hello",)
    with pytest.raises(RoutingError, match="max_tokens must be a positive integer"):
        ask(max_tokens=0)


class Msg:
    def __init__(self, content):
        self.content = content


def test_message_text_and_token_estimate():
    assert message_text("hi") == "hi"
    assert message_text({"role": "user", "content": "abc"}) == "abc"
    assert message_text(Msg("xyz")) == "xyz" and message_text(Msg(None)) == ""
    assert estimate_tokens(["a" * 40, {"content": "b" * 3}]) == 11 + 8  # ceil(43/4) + 2 messages x 4


# ---- filtering ----------------------------------------------------------------------------


def ids(models):
    return [m.id for m in models]


def test_view_holds_routable_statuses_only(reg):
    r = router(reg)
    assert ids(r.models) == ["a", "b", "c"]  # d is in maintenance
    assert ids(router(reg, routable_statuses={ModelStatus.AVAILABLE}).models) == ["a", "b"]


def test_get_filtered_models_applies_filter_exclusions_and_suitability(reg):
    r = router(reg)
    assert ids(r.get_filtered_models(ask())) == ["a", "b", "c"]
    assert ids(r.get_filtered_models(ask(model_filter=ModelFilter(provider="openai")))) == ["a", "c"]
    assert ids(r.get_filtered_models(ask(excluded_model_ids={"a"}))) == ["b", "c"]
    assert ids(r.get_filtered_models(ask(stream=True))) == ["a"]
    assert ids(r.get_filtered_models(ask(tools=[{"name": "f"}]))) == ["a"]
    assert ids(r.get_filtered_models(ask("x" * 40_000))) == ["b"]  # ~10k tokens fit only b's context


def test_max_tokens_needs_generation_room_and_context():
    reg = registry(
        *(mk(i, max_context_length=32768, max_tokens_to_generate=g) for i, g in (("small", 512), ("big", 4096)))
    )
    r = router(reg)
    assert ids(r.get_filtered_models(ask(max_tokens=1000))) == ["big"]
    with pytest.raises(NoSuitableModelError, match="max_tokens: no remaining model can generate 5000 tokens"):
        r.get_filtered_models(ask(max_tokens=5000))


def test_latency_ceiling_applies_where_known(reg):
    r = router(reg, max_latency_ms=400)
    assert ids(r.get_filtered_models(ask())) == ["a", "c"]
    reg.register(mk("e"))  # no latency data: passes the ceiling
    r.update_from_registry()
    assert ids(r.get_filtered_models(ask())) == ["a", "c", "e"]


def test_preferred_model_wins_when_it_qualifies(reg):
    r = router(reg, strategy="cost_optimized")
    assert ids(r.get_filtered_models(ask(preferred_model_id="c"))) == ["c"]
    res = r.route(ask(preferred_model_id="c"))
    assert res.model.id == "c" and res.metadata.preferred_model_used and res.metadata.models_considered == 1
    assert res.metadata.strategy is None  # c is unpriced: no strategy chose it, the caller did


@pytest.mark.parametrize(
    "fields",
    [dict(preferred_model_id="a", excluded_model_ids={"a"}), dict(preferred_model_id="d"),
     dict(preferred_model_id="zz"), dict(preferred_model_id="a", model_filter=ModelFilter(provider="anthropic"))],
)  # fmt: skip
def test_preferred_model_that_does_not_qualify_is_ignored(reg, fields):
    r = router(reg, strategy="cost_optimized")
    res = r.route(ask(**fields))
    assert not res.metadata.preferred_model_used
    assert res.model.id != fields["preferred_model_id"]


# ---- errors name the constraint ---------------------------------------------------------


def test_empty_view_is_explained():
    r = router(registry(mk("x", status=ModelStatus.DEPRECATED)))
    with pytest.raises(NoSuitableModelError, match=r"view is empty \(1 models in the registry .* none with status in"):
        r.route(ask())


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(model_filter=ModelFilter(provider="nobody")), "model_filter criterion provider='nobody' left no candidates"),
        (dict(model_filter=ModelFilter(provider="openai", supports_vision=True)),
         r"criterion supports_vision=True left no candidates among 3 routable models \(after provider='openai' left 2\)"),
        (dict(model_filter=ModelFilter(status=ModelStatus.MAINTENANCE)), "criterion status='maintenance'"),
        (dict(excluded_model_ids={"a", "b", "c"}), "excluded_model_ids removed all 3 candidates"),
        (dict(model_filter=ModelFilter(provider="openai"), stream=True, excluded_model_ids={"a"}),
         r"streaming: none supports streaming \(1 candidates before this check\)"),
        (dict(model_filter=ModelFilter(provider="anthropic"), tools=[1, 2]),
         "tools: the request has 2 tools and none supports function calling"),
        (dict(messages=["x" * 800_000]), r"context length: the request needs ~200004 tokens .* largest remaining context is 100000"),
    ],
)  # fmt: skip
def test_no_suitable_model_names_the_constraint(reg, fields, message):
    r = router(reg)
    request = RoutingRequest(**{"messages": ["hi"], **fields})
    with pytest.raises(NoSuitableModelError, match=message) as exc:
        r.route(request)
    assert isinstance(exc.value, IntelliRouterError)


# ---- strategies -------------------------------------------------------------------------


def test_round_robin_cycles_in_order(reg):
    r = router(reg)
    assert [r.route(ask()).model.id for _ in range(7)] == ["a", "b", "c", "a", "b", "c", "a"]


def test_weighted_round_robin_is_smooth():
    reg = registry(mk("a"), mk("b"), mk("c"))
    r = router(reg, weights={"a": 5, "b": 1, "c": 1})
    # nginx's smooth WRR sequence for 5,1,1: interleaved, never five a's in a row
    assert "".join(r.route(ask()).model.id for _ in range(14)) == "aabacaa" * 2


def test_weighted_round_robin_zero_weight_and_all_zero_falls_back():
    reg = registry(mk("a"), mk("b"))
    r = router(reg, weights={"a": 0})
    assert {r.route(ask()).model.id for _ in range(4)} == {"b"}
    r = router(reg, weights={"a": 0, "b": 0}, fallback_strategies=["priority", "load_balanced"])
    res = r.route(ask())
    assert res.metadata.strategy is RoutingStrategy.LOAD_BALANCED
    assert [s for s, _ in res.metadata.fallbacks_tried] == ["round_robin", "priority"]
    assert "all 2 candidates have weight 0" in res.metadata.fallbacks_tried[0][1]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Please debug this python function", "a"),
        ("Write a poem and a short story", "b"),
        ("Explain the algorithm complexity of this database", "c"),
        ("Write a python script that tells a story", "a"),  # code 2 = creative 2: the earlier candidate wins
    ],
)
def test_content_based_matches_capability_tags(reg, text, expected):
    r = router(reg, strategy="content_based")
    res = r.route(ask(text))
    assert res.model.id == expected and res.metadata.strategy is RoutingStrategy.CONTENT_BASED
    assert res.metadata.details["score"] > 0


def test_content_based_without_signal_falls_back(reg):
    r = router(reg, strategy="content_based", fallback_strategies=["cost_optimized"])
    res = r.route(ask("hello there"))
    assert res.metadata.strategy is RoutingStrategy.COST_OPTIMIZED
    assert "matches no content category" in res.metadata.fallbacks_tried[0][1]
    untagged = router(registry(mk("x"), mk("y")), strategy="content_based", fallback_strategies=["round_robin"])
    res = untagged.route(ask("debug python"))
    assert "no candidate has a capability tag for categories ['code']" in res.metadata.fallbacks_tried[0][1]


def test_score_categories_counts_whole_words():
    index = {"code": ("code",), "poem": ("creative",)}
    assert score_categories("Code, code! poems and a poem", index) == {"code": 2, "creative": 1}


def test_cost_optimized_uses_estimated_tokens_and_skips_unpriced():
    reg = registry(
        mk("cheap-in", cost=0.001, max_context_length=32768),  # output 0.002
        ModelMetadata("cheap-out", "x", "p", "1", "e", capabilities=ModelCapabilities(
            max_context_length=32768, cost_per_1k_tokens_input=0.01, cost_per_1k_tokens_output=0.0005)),
        mk("unpriced", max_context_length=32768),
    )  # fmt: skip
    r = router(reg, strategy="cost_optimized")
    # long prompt, short answer: input price dominates
    res = r.route(ask("x" * 40_000, max_tokens=10))
    assert res.model.id == "cheap-in"
    tin = res.metadata.estimated_input_tokens
    assert res.metadata.details["estimated_cost_usd"] == pytest.approx((tin * 0.001 + 10 * 0.002) / 1000)
    # short prompt, long answer: output price dominates
    assert r.route(ask("hi", max_tokens=2000)).model.id == "cheap-out"
    only_unpriced = router(registry(mk("u1"), mk("u2")), strategy="cost_optimized")
    with pytest.raises(RoutingError, match="none of the 2 candidates has a known price"):
        only_unpriced.route(ask())


def test_latency_optimized_known_latency_then_p95():
    reg = registry(
        mk("slow", latency=500),
        mk("p95-only", p95=120),
        mk("tie-worse-tail", latency=100, p95=900),
        mk("tie-better-tail", latency=100, p95=300),
        mk("unknown"),
    )
    r = router(reg, strategy="latency_optimized")
    res = r.route(ask())
    assert res.model.id == "tie-better-tail" and res.metadata.details["latency_ms"] == 100
    assert r.route(ask(excluded_model_ids={"tie-worse-tail", "tie-better-tail"})).model.id == "p95-only"
    with pytest.raises(RoutingError, match="none of the 1 candidates has latency data"):
        router(registry(mk("u")), strategy="latency_optimized").route(ask())


def test_load_balanced_follows_in_flight_counts():
    reg = registry(mk("a"), mk("b"), mk("c"))
    r = router(reg, strategy="load_balanced", max_in_flight=2, fallback_strategies=["priority"])
    first = [r.route(ask()).model.id for _ in range(3)]
    assert first == ["a", "b", "c"]  # idle everywhere: round-robin among the idle
    r.begin("a"), r.begin("a"), r.begin("b")
    assert r.in_flight("a") == 2 and r.route(ask()).model.id == "c"
    r.begin("c"), r.begin("c"), r.begin("b")
    with pytest.raises(RoutingError, match="all 3 candidates are at max_in_flight=2"):
        r.route(ask())
    r.finish("b")
    assert r.route(ask()).model.id == "b"
    with pytest.raises(RoutingError, match=r"finish\('zz'\) without a matching begin"):
        r.finish("zz")


def test_dispatch_holds_the_model_in_flight():
    r = router(registry(mk("a"), mk("b")), strategy="load_balanced")
    with r.dispatch(ask()) as res:
        assert r.in_flight(res.model.id) == 1
        with r.dispatch(ask()) as res2:
            assert res2.model.id != res.model.id
    assert r.in_flight("a") == r.in_flight("b") == 0


def test_priority_model_beats_provider_and_missing_fails(reg):
    r = router(reg, strategy="priority", provider_priorities={"anthropic": 1, "openai": 2}, model_priorities={"c": 0})
    assert r.route(ask()).model.id == "c"
    assert r.route(ask(excluded_model_ids={"c"})).model.id == "b"
    plain = router(reg, strategy="priority")
    with pytest.raises(RoutingError, match=r"every routing strategy failed on 3 candidates: priority: none of the 3"):
        plain.route(ask())


def test_route_metadata(reg):
    r = router(reg, strategy="cost_optimized")
    res = r.route(ask("hello world", max_tokens=100))
    m = res.metadata
    assert res.model.id == "b"  # c is unpriced
    assert m.strategy is m.requested_strategy is RoutingStrategy.COST_OPTIMIZED
    assert m.fallbacks_tried == () and m.models_considered == 3 and m.elapsed_seconds >= 0
    assert (
        m.estimated_input_tokens == estimate_tokens([{"content": "hello world"}]) and m.estimated_output_tokens == 100
    )
    assert r.route_counts() == {"b": 1}


def test_view_is_a_snapshot_until_update(reg):
    r = router(reg)
    reg.update_status("a", ModelStatus.UNAVAILABLE)
    reg.register(mk("e"))
    assert ids(r.models) == ["a", "b", "c"]
    assert r.update_from_registry() == 3
    assert ids(r.models) == ["b", "c", "e"]


def test_update_from_registry_forgets_departed_models():
    reg = registry(mk("a"), mk("b"))
    r = router(reg, strategy="load_balanced")
    r.route(ask()), r.route(ask())
    r.begin("a")
    reg.remove("a")
    r.update_from_registry()
    assert r.route_counts() == {"b": 1}
    assert r.finish("a") == 0  # a request still running on a removed model can finish


# ---- threads and properties -------------------------------------------------------------


@pytest.mark.parametrize("weights", [{}, {"m0": 3, "m1": 1}])
def test_concurrent_routing_keeps_exact_counts(weights):
    models = [mk(f"m{i}") for i in range(5)]
    r = router(registry(*models), weights=weights)
    cycle = sum(weights.get(m.id, 1) for m in models)
    per_thread = cycle * 40
    results: list[str] = []
    lock = threading.Lock()

    def worker():
        local = [r.route(ask()).model.id for _ in range(per_thread)]
        with lock:
            results.extend(local)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = Counter(results)
    assert counts == {m.id: 160 * weights.get(m.id, 1) for m in models}
    assert r.route_counts() == dict(counts)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 12), k=st.integers(1, 6))
def test_round_robin_visits_every_candidate_equally(n, k):
    r = router(registry(*[mk(f"m{i}") for i in range(n)]))
    counts = Counter(r.route(ask()).model.id for _ in range(k * n))
    assert counts == {f"m{i}": k for i in range(n)}


@settings(max_examples=60, deadline=None)
@given(weights=st.lists(st.integers(0, 6), min_size=1, max_size=8), cycles=st.integers(1, 3))
def test_weighted_round_robin_exact_over_full_cycles(weights, cycles):
    if sum(weights) == 0:
        weights = weights[:-1] + [1]
    models = [mk(f"m{i}") for i in range(len(weights))]
    r = router(registry(*models), weights={m.id: w for m, w in zip(models, weights)})
    total = sum(weights)
    picks = [r.route(ask()).model.id for _ in range(total * cycles)]
    for c in range(cycles):
        window = Counter(picks[c * total : (c + 1) * total])
        assert window == {m.id: w for m, w in zip(models, weights) if w}


# ---- the benchmark workloads route (cheap sizes; asv runs the real ones) ---------------


def test_benchmark_workloads_are_exact_and_routable(monkeypatch):
    from collections import Counter as C
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1]))  # plain `pytest` too
    from benchmarks import fixtures as fx
    from benchmarks import router_benchmarks as rb

    shares = C(m.provider for m in fx.make_models(1_000))
    assert shares["provider-major"] == 500 and shares["provider-mid"] == 100 and shares["provider-minor-00"] == 10
    assert fx.make_models(50) == fx.make_models(50)  # seeded
    for case in rb.FILTER_CASES:
        bench = rb.GetFilteredModels()
        bench.setup(10, case)  # raises if the case leaves no candidates
        bench.time_get_filtered_models(10, case)
    for strategy in rb.STRATEGIES:
        bench = rb.Route()
        bench.setup(strategy, 10)
        expected = "round_robin" if strategy == "weighted_round_robin" else strategy
        assert bench.router.route(bench.request).metadata.strategy == expected  # no silent fallback
    metric = rb.CostStrategyMetrics()
    metric.setup()
    first = metric.track_cost_per_1k_tokens()
    assert 0 < first < 0.06 and first == metric.track_cost_per_1k_tokens()


@settings(max_examples=60, deadline=None)
@given(
    busy=st.lists(st.integers(0, 3), min_size=1, max_size=8),
    limit=st.none() | st.integers(1, 4),
    turns=st.integers(0, 10),
)
def test_load_balanced_picks_a_least_loaded_model_under_the_limit(busy, limit, turns):
    models = [mk(f"m{i}") for i in range(len(busy))]
    r = router(registry(*models), strategy="load_balanced", max_in_flight=limit)
    for _ in range(turns):
        r.route(ask())  # advances the rotation only
    for m, b in zip(models, busy):
        for _ in range(b):
            r.begin(m.id)
    allowed = [b for b in busy if limit is None or b < limit]
    if not allowed:
        with pytest.raises(RoutingError, match="max_in_flight"):
            r.route(ask())
        return
    chosen = r.route(ask()).model.id
    assert busy[int(chosen[1:])] == min(allowed)
