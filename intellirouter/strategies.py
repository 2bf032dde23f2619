"""Routing strategies: each picks one model from a non-empty candidate list.

A strategy either returns ``(model, details)`` or raises ``StrategyFailed`` with the reason
it cannot decide (no priced model, no latency data, every weight zero, ...); the router then
tries the next strategy in its fallback chain. Stateful strategies (round-robin, load
tracking) guard their counters with a lock, so one router may serve many threads.

Every strategy is O(c) per call in the number of candidates c, except plain round-robin
(O(1)) and load-balanced while some candidate is idle (O(1)).
"""

from __future__ import annotations

import enum
import math
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from intellirouter.errors import RoutingError
from intellirouter.registry import ModelMetadata

__all__ = [
    "RoutingStrategy",
    "StrategyFailed",
    "RoutingContext",
    "RoundRobinStrategy",
    "ContentBasedStrategy",
    "CostOptimizedStrategy",
    "LatencyOptimizedStrategy",
    "LoadBalancedStrategy",
    "PriorityStrategy",
    "LoadTracker",
    "DEFAULT_CONTENT_KEYWORDS",
    "DEFAULT_CATEGORY_TAGS",
    "score_categories",
]


class RoutingStrategy(enum.StrEnum):
    ROUND_ROBIN = "round_robin"
    CONTENT_BASED = "content_based"
    COST_OPTIMIZED = "cost_optimized"
    LATENCY_OPTIMIZED = "latency_optimized"
    LOAD_BALANCED = "load_balanced"
    PRIORITY = "priority"


class StrategyFailed(RoutingError):
    """A strategy cannot choose among these candidates; the message says why."""


@dataclass(frozen=True, slots=True)
class RoutingContext:
    """What a strategy may know about the request beyond the candidates."""

    text: str  # all message contents, joined
    input_tokens: int  # estimated
    output_tokens: int  # requested max_tokens or the configured expectation


# ---- round-robin --------------------------------------------------------------------


class RoundRobinStrategy:
    """Plain round-robin over the candidates, or smooth weighted round-robin.

    Weighted mode is nginx's smooth WRR: each call adds every candidate's weight to its
    running score, picks the highest score and subtracts the total weight from it. Over
    sum(weights) calls with a fixed candidate set each model is chosen exactly its weight
    times, interleaved (weights 5,1,1 give a a b a c a a, not a a a a a b c).
    """

    name = RoutingStrategy.ROUND_ROBIN

    def __init__(self, weights: Mapping[str, int] | None = None, default_weight: int = 1) -> None:
        self._weights = dict(weights or {})
        self._default_weight = default_weight
        self._lock = threading.Lock()
        self._counter = 0
        self._current: dict[str, int] = {}

    @property
    def weighted(self) -> bool:
        return bool(self._weights)

    def select(self, candidates: Sequence[ModelMetadata], ctx: RoutingContext) -> tuple[ModelMetadata, dict]:
        if not self._weights:
            with self._lock:
                turn = self._counter
                self._counter += 1
            return candidates[turn % len(candidates)], {"turn": turn}
        weights, default = self._weights, self._default_weight
        with self._lock:
            current = self._current
            total = 0
            best = None
            best_score = 0
            for model in candidates:
                w = weights.get(model.id, default)
                if w <= 0:
                    continue
                score = current.get(model.id, 0) + w
                current[model.id] = score
                total += w
                if best is None or score > best_score:
                    best, best_score = model, score
            if best is None:
                raise StrategyFailed(f"round_robin: all {len(candidates)} candidates have weight 0")
            current[best.id] = best_score - total
        return best, {"weight": weights.get(best.id, default)}

    def forget(self, keep_ids) -> None:
        """Drop scores of models that left the router's view."""
        with self._lock:
            self._current = {k: v for k, v in self._current.items() if k in keep_ids}


# ---- content-based ---------------------------------------------------------------------

DEFAULT_CONTENT_KEYWORDS: Mapping[str, tuple[str, ...]] = {
    "code": (
        "code", "function", "python", "javascript", "typescript", "rust", "java", "golang", "sql",
        "bug", "debug", "compile", "compiler", "refactor", "class", "method", "regex", "script",
        "stacktrace", "exception", "api", "unittest", "git",
    ),
    "technical": (
        "algorithm", "architecture", "performance", "database", "network", "protocol", "system",
        "latency", "throughput", "kubernetes", "server", "math", "equation", "proof", "physics",
        "analysis", "analyze", "explain", "derive", "statistics", "complexity", "security",
    ),
    "creative": (
        "story", "poem", "poetry", "write", "creative", "imagine", "novel", "song", "lyrics",
        "character", "fiction", "plot", "joke", "haiku", "fantasy", "dialogue", "essay",
    ),
}  # fmt: skip

# Which capability tags (ModelCapabilities.feature_flags) serve each category.
DEFAULT_CATEGORY_TAGS: Mapping[str, tuple[str, ...]] = {
    "code": ("code", "coding"),
    "technical": ("technical", "reasoning"),
    "creative": ("creative", "writing"),
}

_WORD = re.compile(r"[a-z0-9_+#]+")


def score_categories(text: str, keyword_to_categories: Mapping[str, tuple[str, ...]]) -> dict[str, int]:
    """Keyword hits per category in ``text`` (case-insensitive, whole words)."""
    scores: dict[str, int] = {}
    for word in _WORD.findall(text.lower()):
        for category in keyword_to_categories.get(word, ()):
            scores[category] = scores.get(category, 0) + 1
    return scores


class ContentBasedStrategy:
    """Scores the request text per category, then each model by the categories its tags serve.

    model score = sum of the request's category scores over categories for which the model
    has at least one serving tag. Highest score wins; ties go to the earlier candidate.
    """

    name = RoutingStrategy.CONTENT_BASED

    def __init__(
        self,
        keywords: Mapping[str, Sequence[str]] = DEFAULT_CONTENT_KEYWORDS,
        category_tags: Mapping[str, Sequence[str]] = DEFAULT_CATEGORY_TAGS,
    ) -> None:
        index: dict[str, tuple[str, ...]] = {}
        for category, words in keywords.items():
            for word in words:
                index[word.lower()] = index.get(word.lower(), ()) + (category,)
        self._keyword_index = index
        self._tags = {c: frozenset(t) for c, t in category_tags.items()}

    def select(self, candidates: Sequence[ModelMetadata], ctx: RoutingContext) -> tuple[ModelMetadata, dict]:
        scores = score_categories(ctx.text, self._keyword_index)
        wanted = [(self._tags.get(c, frozenset()), s) for c, s in scores.items()]
        if not wanted:
            raise StrategyFailed("content_based: the request matches no content category keywords")
        best, best_score = None, 0
        for model in candidates:
            flags = model.capabilities.feature_flags
            score = 0
            for tags, s in wanted:
                if not tags.isdisjoint(flags):
                    score += s
            if score > best_score:
                best, best_score = model, score
        if best is None:
            raise StrategyFailed(f"content_based: no candidate has a capability tag for categories {sorted(scores)}")
        return best, {"categories": scores, "score": best_score}


# ---- cost and latency ------------------------------------------------------------------


class CostOptimizedStrategy:
    """Cheapest estimated request (input tokens × input price + output tokens × output price)."""

    name = RoutingStrategy.COST_OPTIMIZED

    def select(self, candidates: Sequence[ModelMetadata], ctx: RoutingContext) -> tuple[ModelMetadata, dict]:
        tin, tout = ctx.input_tokens, ctx.output_tokens
        best, best_cost = None, math.inf
        for model in candidates:
            caps = model.capabilities
            cin, cout = caps.cost_per_1k_tokens_input, caps.cost_per_1k_tokens_output
            if cin is None or cout is None:
                continue
            cost = tin * cin + tout * cout
            if cost < best_cost:
                best, best_cost = model, cost
        if best is None:
            raise StrategyFailed(f"cost_optimized: none of the {len(candidates)} candidates has a known price")
        cost_usd = best_cost / 1000.0
        tokens = tin + tout
        per_1k = cost_usd * 1000.0 / tokens if tokens else 0.0
        return best, {"estimated_cost_usd": cost_usd, "cost_per_1k_tokens": per_1k}


class LatencyOptimizedStrategy:
    """Lowest known latency (average, else p95, else p99); ties broken by the lower p95."""

    name = RoutingStrategy.LATENCY_OPTIMIZED

    def select(self, candidates: Sequence[ModelMetadata], ctx: RoutingContext) -> tuple[ModelMetadata, dict]:
        inf = math.inf
        best, best_latency, best_p95 = None, inf, inf
        for model in candidates:
            perf = model.capabilities.performance
            latency = perf.avg_latency_ms
            if latency is None:
                latency = perf.known_latency_ms
                if latency is None:
                    continue
            if latency <= best_latency:
                p95 = perf.p95_latency_ms
                p95 = inf if p95 is None else p95
                if latency < best_latency or p95 < best_p95 or best is None:
                    best, best_latency, best_p95 = model, latency, p95
        if best is None:
            raise StrategyFailed(f"latency_optimized: none of the {len(candidates)} candidates has latency data")
        return best, {"latency_ms": best_latency}


# ---- load ------------------------------------------------------------------------------


class LoadTracker:
    """Thread-safe in-flight and routed counters per model id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.in_flight: dict[str, int] = {}
        self.routed: dict[str, int] = {}

    def begin(self, model_id: str) -> int:
        with self._lock:
            n = self.in_flight.get(model_id, 0) + 1
            self.in_flight[model_id] = n
            return n

    def finish(self, model_id: str) -> int:
        with self._lock:
            n = self.in_flight.get(model_id, 0)
            if n <= 0:
                raise RoutingError(f"finish({model_id!r}) without a matching begin()")
            if n == 1:
                del self.in_flight[model_id]
            else:
                self.in_flight[model_id] = n - 1
            return n - 1

    def routed_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self.routed)

    def record_route(self, model_id: str) -> None:
        with self._lock:
            self.routed[model_id] = self.routed.get(model_id, 0) + 1

    def forget(self, keep_ids) -> None:
        """Drop routed counts of models that left the view; in-flight ones stay until finish."""
        with self._lock:
            self.routed = {k: v for k, v in self.routed.items() if k in keep_ids}


class LoadBalancedStrategy:
    """Fewest in-flight requests; among equally loaded models, round-robin.

    The scan starts at a rotating offset and stops at the first idle model (nothing beats
    zero), so with idle capacity a pick is O(1) and successive picks spread over the
    candidates even when callers never report begin/finish; when every model is busy it is
    one O(c) pass. With ``max_in_flight`` set, saturated models are skipped; all saturated
    is a failure.
    """

    name = RoutingStrategy.LOAD_BALANCED

    def __init__(self, tracker: LoadTracker, max_in_flight: int | None = None) -> None:
        self._tracker = tracker
        self._max = max_in_flight
        self._lock = threading.Lock()
        self._turn = 0

    def select(self, candidates: Sequence[ModelMetadata], ctx: RoutingContext) -> tuple[ModelMetadata, dict]:
        with self._lock:
            turn = self._turn
            self._turn += 1
        in_flight = self._tracker.in_flight
        limit = self._max
        n = len(candidates)
        start = turn % n
        best, best_busy = None, None
        for k in range(n):
            model = candidates[(start + k) % n]
            busy = in_flight.get(model.id, 0)
            if limit is not None and busy >= limit:
                continue
            if best_busy is None or busy < best_busy:
                best, best_busy = model, busy
                if busy == 0:
                    break
        if best is None:
            raise StrategyFailed(f"load_balanced: all {len(candidates)} candidates are at max_in_flight={limit}")
        return best, {"in_flight": best_busy}


# ---- priority --------------------------------------------------------------------------


class PriorityStrategy:
    """Lowest priority number wins (1 before 2); a model's own priority beats its provider's."""

    name = RoutingStrategy.PRIORITY

    def __init__(self, model_priorities: Mapping[str, int], provider_priorities: Mapping[str, int]) -> None:
        self._models = dict(model_priorities)
        self._providers = dict(provider_priorities)

    def priority_of(self, model: ModelMetadata) -> Any:
        p = self._models.get(model.id)
        return self._providers.get(model.provider) if p is None else p

    def select(self, candidates: Sequence[ModelMetadata], ctx: RoutingContext) -> tuple[ModelMetadata, dict]:
        best, best_p = None, None
        for model in candidates:
            p = self.priority_of(model)
            if p is not None and (best_p is None or p < best_p):
                best, best_p = model, p
        if best is None:
            raise StrategyFailed(f"priority: none of the {len(candidates)} candidates has a configured priority")
        return best, {"priority": best_p}
