"""Router: creation, refresh from the registry, candidate filtering, routing per strategy.

Registry sizes sweep 10 → 10,000 models. Creation and refresh are O(n) (a snapshot of
the routable models with their indexes). Filtering is O(c) in the candidates a request's
filter leaves (a provider filter starts from its index bucket; a preferred model that
qualifies is O(1)). Each strategy then makes one O(c) pass (plain round-robin, and
load-balanced while a model is idle, are O(1)).
A custom metric tracks what the cost strategy saves: the price per 1k tokens it picks; another,
declared higher-is-better, how often the cost and latency strategies pick a known-best model.
"""

from __future__ import annotations

from benchmarks.fixtures import (
    SELECTIVITY_PROVIDERS,
    complex_model_filter,
    make_mixed_requests,
    make_registry,
    make_router,
    make_routing_requests,
    require,
    routing_objective,
    routing_quality_cases,
    shared_registry,
    shared_router,
)
from benchmarks.framework import BenchmarkConfig, BenchmarkType, asv_benchmark, metric, relative_time, resource_channel

SIZES = [10, 1_000, 10_000]
EDGE_SIZES = [10, 10_000]  # where a sweep adds little beyond its two ends
STRATEGIES = [
    "round_robin",
    "weighted_round_robin",
    "content_based",
    "cost_optimized",
    "latency_optimized",
    "load_balanced",
    "priority",
]
FILTER_CASES = ["no_filter", "provider", "complex", "excluded", "preferred"]


class _Budget:
    """Short budgets: every parameter combination costs a fresh process per round."""

    rounds = 2
    repeat = (3, 10, 0.5)
    warmup_time = 0.05


@relative_time("time_create_router", "time_update_from_registry")
class RouterLifecycle(_Budget):
    params = [SIZES]
    param_names = ["n_models"]

    def setup(self, n_models):
        self.Router, self.RouterConfig = require("intellirouter.router", "Router", "RouterConfig")
        self.registry = shared_registry(n_models)
        self.config = self.RouterConfig()
        self.router = shared_router(n_models)

    def time_create_router(self, n_models):
        self.Router(self.config, self.registry)

    def time_update_from_registry(self, n_models):
        self.router.update_from_registry()


def _filter_request(case: str, router):
    """The seeded request for one get_filtered_models case."""
    ModelFilter = require("intellirouter.registry", "ModelFilter")
    view = router.models
    fields = {
        "no_filter": {},
        "provider": {"model_filter": ModelFilter(provider=SELECTIVITY_PROVIDERS["10%"])},
        "complex": {"model_filter": complex_model_filter()},
        "excluded": {"excluded_model_ids": frozenset(m.id for m in view[::10])},  # 10 % excluded
        "preferred": {"preferred_model_id": view[len(view) // 2].id},
    }[case]
    return make_routing_requests(1, **fields)[0]


@relative_time("time_get_filtered_models")
class GetFilteredModels(_Budget):
    """The filtering paths at 10,000 models (the unfiltered path at 10 models is part of
    every Route benchmark there)."""

    params = [[10_000], FILTER_CASES]
    param_names = ["n_models", "case"]

    def setup(self, n_models, case):
        self.router = shared_router(n_models)
        self.request = _filter_request(case, self.router)
        if not self.router.get_filtered_models(self.request):  # the workload must route
            raise RuntimeError(f"{case} left no candidates at {n_models} models")

    def time_get_filtered_models(self, n_models, case):
        self.router.get_filtered_models(self.request)


@relative_time("time_route")
class Route(_Budget):
    """route() of one seeded request (a code question) with each strategy, no filter."""

    params = [STRATEGIES, EDGE_SIZES]
    param_names = ["strategy", "n_models"]

    def setup(self, strategy, n_models):
        self.router = shared_router(n_models, strategy)
        self.request = make_routing_requests(1)[0]

    def time_route(self, strategy, n_models):
        self.router.route(self.request)


class _RoundRobinRoute:
    """Round-robin routing on 100 models: small and deterministic, so it carries the
    instruction-count channel for the router."""

    config = BenchmarkConfig(
        name="route_round_robin",
        description="route() with plain round-robin over 100 models",
        benchmark_type=BenchmarkType.LATENCY,
        sample_size=10,
        measurement_time=0.5,
        count_instructions=True,
        relative_time=True,
    )
    rounds = 2
    instruction_iterations = 2000  # amortises start-up noise in (B - A) / iterations

    def setup(self):
        self.router = make_router(make_registry(100), "round_robin")
        self.request = make_routing_requests(1)[0]

    def run_iteration(self):
        self.router.route(self.request)


RoundRobinRoute = asv_benchmark(_RoundRobinRoute)


class _CostOptimizedRoute:
    """route() with the cost strategy over 1,000 models: one scan of every candidate, deterministic,
    so it carries the instruction-count channel for the scanning strategies."""

    config = BenchmarkConfig(
        name="route_cost_optimized",
        description="route() with cost_optimized over 1,000 models",
        benchmark_type=BenchmarkType.LATENCY,
        sample_size=5,
        measurement_time=0.3,
        count_instructions=True,
        relative_time=True,
    )
    rounds = 1
    instruction_iterations = 100  # ~90 µs a route

    def setup(self):
        self.router = make_router(make_registry(1_000), "cost_optimized")
        self.request = make_routing_requests(1)[0]

    def run_iteration(self):
        self.router.route(self.request)


CostOptimizedRoute = asv_benchmark(_CostOptimizedRoute)


class CostStrategyMetrics:
    """What the cost strategy buys: the blended price of the models it picks.

    200 seeded requests (varied length, answer size, tools, streaming, language) routed
    over 1,000 seeded models; the value is total estimated cost / total estimated tokens
    × 1000. A change means the strategy, the filtering or the estimate changed its picks.
    """

    rounds = 1
    repeat = 1

    def setup(self):
        require("intellirouter.router", "Router")
        self.router = make_router(make_registry(1_000, "cost-metric"), "cost_optimized")
        self.requests = make_mixed_requests(200, "cost-metric")

    def track_cost_per_1k_tokens(self):
        cost = tokens = 0.0
        for request in self.requests:
            meta = self.router.route(request).metadata
            cost += meta.details["estimated_cost_usd"]
            tokens += meta.estimated_input_tokens + meta.estimated_output_tokens
        return cost / tokens * 1000.0

    track_cost_per_1k_tokens.unit = "USD/1k tokens"


class RoutingQuality:
    """Routing decision quality: the share of 300 seeded requests (mixed answer lengths, tools,
    streaming, a language filter) routed to a known-best model, the cheapest (cost_optimized) or
    fastest known (latency_optimized) of the models that can serve the request, found by brute
    force over 1,000 seeded models (``fixtures.routing_quality_cases``). 1.0: every pick optimal."""

    params = [["cost_optimized", "latency_optimized"]]
    param_names = ["strategy"]

    def setup(self, strategy):
        registry = make_registry(1_000, "route-quality")
        self.router = make_router(registry, strategy)
        self.cases = routing_quality_cases(registry, strategy, 300)

    @metric("accuracy", higher_is_better=True)
    def track_known_best_share(self, strategy):
        route, hits = self.router.route, 0
        for request, input_tokens, output_tokens, best in self.cases:
            hits += routing_objective(route(request).model, strategy, input_tokens, output_tokens) == best
        return hits / len(self.cases)


def _route_with(strategy: str):
    router = shared_router(1_000, strategy)
    request = make_routing_requests(1)[0]
    return lambda: router.route(request)


def _route_cost_optimized():
    return _route_with("cost_optimized")


def _route_content_based():
    return _route_with("content_based")


@resource_channel
class Resources:
    """CPU, peak RSS, I/O and context switches per route() over 1,000 models with the two
    scanning strategies (cost and content)."""

    workloads = {"route_cost_optimized": (_route_cost_optimized, 1_000), "route_content_based": (_route_content_based, 1_000)}
