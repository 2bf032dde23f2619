"""The router: narrows the registry's models to those that fit a request, then lets a strategy pick.

``Router(config, registry)`` takes a snapshot of the registry's routable models (with the
registry's indexes) and keeps it until ``update_from_registry()``; routing never sees a
half-applied registry change. ``route(request)`` =
``get_filtered_models(request)`` (filter → exclusions → suitability → preferred model) and
then the configured strategy, falling back along ``config.fallback_strategies``.

Complexity per ``route``: O(c) for c candidates left by the model filter (the filter itself
starts from the smallest provider/type/status index bucket), O(1) when the preferred model
qualifies.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from intellirouter.errors import NoSuitableModelError, RoutingError
from intellirouter.registry import ModelFilter, ModelMetadata, ModelRegistry, ModelStatus
from intellirouter.strategies import (
    DEFAULT_CATEGORY_TAGS,
    DEFAULT_CONTENT_KEYWORDS,
    ContentBasedStrategy,
    CostOptimizedStrategy,
    LatencyOptimizedStrategy,
    LoadBalancedStrategy,
    LoadTracker,
    PriorityStrategy,
    RoundRobinStrategy,
    RoutingContext,
    RoutingStrategy,
    StrategyFailed,
)

__all__ = [
    "RouterConfig",
    "RoutingRequest",
    "RoutingMetadata",
    "RoutingResult",
    "Router",
    "RoutingStrategy",
    "estimate_tokens",
    "message_text",
]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class RouterConfig:
    """How the router decides. Invalid settings raise RoutingError at construction."""

    strategy: RoutingStrategy = RoutingStrategy.ROUND_ROBIN
    fallback_strategies: tuple[RoutingStrategy, ...] = ()
    weights: Mapping[str, int] = field(default_factory=dict)  # non-empty: weighted round-robin
    default_weight: int = 1  # for models absent from ``weights``
    model_priorities: Mapping[str, int] = field(default_factory=dict)  # 1 is tried first
    provider_priorities: Mapping[str, int] = field(default_factory=dict)
    content_keywords: Mapping[str, Sequence[str]] = field(default_factory=lambda: dict(DEFAULT_CONTENT_KEYWORDS))
    category_tags: Mapping[str, Sequence[str]] = field(default_factory=lambda: dict(DEFAULT_CATEGORY_TAGS))
    max_in_flight: int | None = None  # per model, for load_balanced
    routable_statuses: frozenset[ModelStatus] = frozenset({ModelStatus.AVAILABLE, ModelStatus.LIMITED})
    max_latency_ms: float | None = None  # suitability ceiling, applied where latency is known
    chars_per_token: float = 4.0  # token estimate for context fit and cost
    tokens_per_message: int = 4  # role/formatting overhead per message
    expected_output_tokens: int = 256  # when the request gives no max_tokens

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        try:
            set_(self, "strategy", RoutingStrategy(self.strategy))
            chain = tuple(RoutingStrategy(s) for s in self.fallback_strategies)
            set_(self, "routable_statuses", frozenset(ModelStatus(s) for s in self.routable_statuses))
        except ValueError as exc:
            raise RoutingError(f"invalid router config: {exc}") from None
        set_(self, "fallback_strategies", chain)
        for name in ("weights", "model_priorities", "provider_priorities"):
            for key, value in getattr(self, name).items():
                if not _is_int(value) or (name == "weights" and value < 0):
                    kind = "a non-negative integer" if name == "weights" else "an integer"
                    raise RoutingError(f"invalid router config: {name}[{key!r}] must be {kind} (got {value!r})")
        if not _is_int(self.default_weight) or self.default_weight < 0:
            raise RoutingError("invalid router config: default_weight must be a non-negative integer")
        if self.max_in_flight is not None and (not _is_int(self.max_in_flight) or self.max_in_flight < 1):
            raise RoutingError("invalid router config: max_in_flight must be a positive integer or None")
        if not (self.chars_per_token > 0) or not math.isfinite(self.chars_per_token):
            raise RoutingError("invalid router config: chars_per_token must be positive")
        if not _is_int(self.expected_output_tokens) or self.expected_output_tokens < 0:
            raise RoutingError("invalid router config: expected_output_tokens must be a non-negative integer")
        unknown = set(self.content_keywords) - set(self.category_tags)
        if unknown:
            raise RoutingError(f"invalid router config: categories {sorted(unknown)} have keywords but no tags")

    @functools.cached_property  # frozen dataclass: cached_property writes __dict__ directly
    def strategy_chain(self) -> tuple[RoutingStrategy, ...]:
        """Primary strategy then fallbacks, each once, in order."""
        return tuple(dict.fromkeys((self.strategy, *self.fallback_strategies)))


@dataclass(frozen=True)
class RoutingRequest:
    messages: Sequence[Any] = ()  # str, {"content": ...} or objects with .content
    model_filter: ModelFilter | None = None
    preferred_model_id: str | None = None
    excluded_model_ids: frozenset[str] = frozenset()
    stream: bool = False
    tools: Sequence[Any] = ()
    max_tokens: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.messages, str):  # one prompt, not a sequence of one-character messages
            object.__setattr__(self, "messages", (self.messages,))
        excluded = self.excluded_model_ids
        if isinstance(excluded, str):
            excluded = (excluded,)
        object.__setattr__(self, "excluded_model_ids", frozenset(excluded))
        if self.max_tokens is not None and (not _is_int(self.max_tokens) or self.max_tokens < 1):
            raise RoutingError(f"max_tokens must be a positive integer (got {self.max_tokens!r})")


@dataclass(frozen=True)
class RoutingMetadata:
    strategy: RoutingStrategy | None  # the strategy that chose; None when the preferred model was taken
    requested_strategy: RoutingStrategy
    fallbacks_tried: tuple[tuple[RoutingStrategy, str], ...]  # (strategy, why it could not decide)
    models_considered: int  # candidates after filtering
    elapsed_seconds: float
    estimated_input_tokens: int
    estimated_output_tokens: int
    preferred_model_used: bool
    details: Mapping[str, Any]  # strategy-specific: cost, score, latency, weight, ...


@dataclass(frozen=True)
class RoutingResult:
    model: ModelMetadata
    metadata: RoutingMetadata


def message_text(message: Any) -> str:
    if isinstance(message, str):
        return message
    if isinstance(message, (dict, Mapping)):  # dict first: the ABC check is the slow path
        content = message.get("content", "")
    else:
        content = getattr(message, "content", "")
    return content if isinstance(content, str) else ("" if content is None else str(content))


def estimate_tokens(messages: Sequence[Any], chars_per_token: float = 4.0, tokens_per_message: int = 4) -> int:
    """A cheap, tokenizer-free estimate: characters / chars_per_token plus per-message overhead."""
    return _estimate([message_text(m) for m in messages], chars_per_token, tokens_per_message)


def _estimate(texts: list[str], chars_per_token: float, tokens_per_message: int) -> int:
    chars = sum(map(len, texts))
    return math.ceil(chars / chars_per_token) + tokens_per_message * len(texts)


@dataclass(frozen=True)
class _View:
    models: ModelRegistry
    ordered: tuple[ModelMetadata, ...]  # shared, never copied: route() reads it as is
    min_context: int  # lets the context check skip its pass when every model fits
    registry_size: int


class Router:
    def __init__(self, config: RouterConfig, registry: ModelRegistry) -> None:
        if not isinstance(config, RouterConfig):
            raise RoutingError(f"config must be a RouterConfig (got {type(config).__name__})")
        self.config = config
        self.registry = registry
        self.load = LoadTracker()
        self._round_robin = RoundRobinStrategy(config.weights, config.default_weight)
        self._strategies = {
            RoutingStrategy.ROUND_ROBIN: self._round_robin,
            RoutingStrategy.CONTENT_BASED: ContentBasedStrategy(config.content_keywords, config.category_tags),
            RoutingStrategy.COST_OPTIMIZED: CostOptimizedStrategy(),
            RoutingStrategy.LATENCY_OPTIMIZED: LatencyOptimizedStrategy(),
            RoutingStrategy.LOAD_BALANCED: LoadBalancedStrategy(self.load, config.max_in_flight),
            RoutingStrategy.PRIORITY: PriorityStrategy(config.model_priorities, config.provider_priorities),
        }
        self._view = _View(ModelRegistry(), (), 0, 0)
        self.update_from_registry()

    # -- view and counters --
    def update_from_registry(self) -> int:
        """Re-read the registry's routable models; drop counters of models that left. Returns the count."""
        snapshot = self.registry.snapshot(self.config.routable_statuses)
        models = tuple(snapshot.list())
        min_context = min((m.capabilities.max_context_length for m in models), default=0)
        self._view = _View(snapshot, models, min_context, len(self.registry))
        keep = {m.id for m in models}
        self._round_robin.forget(keep)
        self.load.forget(keep)
        return len(models)

    @property
    def models(self) -> list[ModelMetadata]:
        return list(self._view.ordered)

    def begin(self, model_id: str) -> int:
        """Count a request in flight on ``model_id`` (load_balanced reads this)."""
        return self.load.begin(model_id)

    def finish(self, model_id: str) -> int:
        return self.load.finish(model_id)

    def in_flight(self, model_id: str) -> int:
        return self.load.in_flight.get(model_id, 0)

    def route_counts(self) -> dict[str, int]:
        """How many routes each model got since it entered the view."""
        return self.load.routed_counts()

    @contextlib.contextmanager
    def dispatch(self, request: RoutingRequest) -> Iterator[RoutingResult]:
        """Route, hold the chosen model in flight for the ``with`` body, then release it."""
        result = self.route(request)
        self.begin(result.model.id)
        try:
            yield result
        finally:
            self.finish(result.model.id)

    # -- filtering --
    def _output_tokens(self, request: RoutingRequest) -> int:
        return request.max_tokens if request.max_tokens is not None else self.config.expected_output_tokens

    def _needed_context(self, request: RoutingRequest, input_tokens: int) -> int:
        return input_tokens + (request.max_tokens or 0)

    def _suitability_checks(self, request: RoutingRequest, input_tokens: int, view: _View) -> list:
        """(name, predicate, explanation(remaining)) for each suitability rule this request triggers."""
        checks = []
        needed = self._needed_context(request, input_tokens)
        if needed > view.min_context:
            checks.append(
                (
                    "context length",
                    lambda m: m.capabilities.max_context_length >= needed,
                    lambda rest: (
                        f"the request needs ~{needed} tokens of context (input ~{input_tokens}"
                        f" + max_tokens {request.max_tokens or 0}) but the largest remaining context is "
                        f"{max(m.capabilities.max_context_length for m in rest)}"
                    ),
                )
            )
        if request.max_tokens is not None:
            want = request.max_tokens
            checks.append(
                (
                    "max_tokens",
                    lambda m: m.capabilities.max_tokens_to_generate >= want,
                    lambda rest: f"no remaining model can generate {want} tokens",
                )
            )
        if request.stream:
            checks.append(
                ("streaming", lambda m: m.capabilities.supports_streaming, lambda rest: "none supports streaming")
            )
        if request.tools:
            checks.append(
                (
                    "tools",
                    lambda m: m.capabilities.supports_function_calling,
                    lambda rest: f"the request has {len(request.tools)} tools and none supports function calling",
                )
            )
        if self.config.max_latency_ms is not None:
            lim = self.config.max_latency_ms
            checks.append(
                (
                    "latency ceiling",
                    lambda m: (lat := m.capabilities.performance.known_latency_ms) is None or lat <= lim,
                    lambda rest: f"every remaining model's known latency exceeds {lim} ms",
                )
            )
        return checks

    def _passes(self, model: ModelMetadata, request: RoutingRequest, checks) -> bool:
        flt = request.model_filter
        return (
            model.id not in request.excluded_model_ids
            and (flt is None or flt.matches(model))
            and all(pred(model) for _, pred, _ in checks)
        )

    def _filter(self, request: RoutingRequest, input_tokens: int) -> tuple[Sequence[ModelMetadata], bool]:
        view = self._view
        checks = self._suitability_checks(request, input_tokens, view)
        preferred = request.preferred_model_id
        if preferred is not None and preferred in view.models:
            model = view.models.get(preferred)
            if self._passes(model, request, checks):  # O(1): the preferred model fits, nothing to scan
                return [model], True

        if not view.ordered:
            raise NoSuitableModelError(
                f"no suitable model: the router's view is empty ({view.registry_size} models in the registry at the "
                f"last update_from_registry(), none with status in {sorted(s.value for s in self.config.routable_statuses)})"
            )
        flt = request.model_filter
        candidates = view.models.find_models(flt) if flt is not None else view.ordered
        if not candidates:
            raise NoSuitableModelError(self._explain_filter(flt, list(view.ordered)))
        excluded = request.excluded_model_ids
        if excluded:
            before = len(candidates)
            candidates = [m for m in candidates if m.id not in excluded]
            if not candidates:
                raise NoSuitableModelError(
                    f"no suitable model: excluded_model_ids removed all {before} candidates left by the model filter"
                )
        if checks:
            preds = [pred for _, pred, _ in checks]
            kept = [m for m in candidates if all(p(m) for p in preds)]
            if not kept:
                raise NoSuitableModelError(self._explain_suitability(checks, candidates))
            candidates = kept
        # A preferred model that did not qualify (else the fast path took it) is ignored.
        return candidates, False

    @staticmethod
    def _explain_filter(flt: ModelFilter, models: list[ModelMetadata]) -> str:
        remaining = models
        kept_by = []
        for _, desc, pred in flt.criteria():
            narrowed = [m for m in remaining if pred(m)]
            if not narrowed:
                before = f" (after {', '.join(kept_by)} left {len(remaining)})" if kept_by else ""
                return (
                    f"no suitable model: model_filter criterion {desc} left no candidates among "
                    f"{len(models)} routable models{before}"
                )
            remaining = narrowed
            kept_by.append(desc)
        return f"no suitable model: model_filter ({flt.describe()}) matched nothing"  # unreachable in practice

    @staticmethod
    def _explain_suitability(checks, candidates: list[ModelMetadata]) -> str:
        remaining = candidates
        for name, pred, explain in checks:
            narrowed = [m for m in remaining if pred(m)]
            if not narrowed:
                return (
                    f"no suitable model: {name}: {explain(remaining)} ({len(remaining)} candidates before this check)"
                )
            remaining = narrowed
        return "no suitable model: suitability checks removed every candidate"

    def get_filtered_models(self, request: RoutingRequest) -> list[ModelMetadata]:
        """Candidates for ``request`` in registration order; [preferred] when it qualifies.

        Raises NoSuitableModelError naming the constraint that emptied the list.
        """
        cfg = self.config
        input_tokens = estimate_tokens(request.messages, cfg.chars_per_token, cfg.tokens_per_message)
        return list(self._filter(request, input_tokens)[0])

    # -- routing --
    def _select(self, candidates: Sequence[ModelMetadata], ctx: RoutingContext):
        """Try the strategy chain in order: (model, details, strategy used, [(failed, why)])."""
        tried: list[tuple[RoutingStrategy, str]] = []
        for name in self.config.strategy_chain:
            try:
                chosen, details = self._strategies[name].select(candidates, ctx)
            except StrategyFailed as exc:
                tried.append((name, str(exc)))
                continue
            return chosen, details, name, tried
        reasons = "; ".join(reason for _, reason in tried)
        raise RoutingError(f"every routing strategy failed on {len(candidates)} candidates: {reasons}")

    def route(self, request: RoutingRequest) -> RoutingResult:
        """Choose a model for ``request``; see the module docstring for the order of decisions."""
        start = time.perf_counter()
        cfg = self.config
        texts = [message_text(m) for m in request.messages]
        input_tokens = _estimate(texts, cfg.chars_per_token, cfg.tokens_per_message)
        candidates, preferred_used = self._filter(request, input_tokens)
        ctx = RoutingContext(
            text="\n".join(texts),
            input_tokens=input_tokens,
            output_tokens=self._output_tokens(request),
        )
        if preferred_used:  # the caller's explicit choice qualified: no strategy second-guesses it
            chosen, details, used, tried = candidates[0], {}, None, []
        else:
            chosen, details, used, tried = self._select(candidates, ctx)
        self.load.record_route(chosen.id)
        meta = RoutingMetadata(
            strategy=used,
            requested_strategy=cfg.strategy,
            fallbacks_tried=tuple(tried),
            models_considered=len(candidates),
            elapsed_seconds=time.perf_counter() - start,
            estimated_input_tokens=input_tokens,
            estimated_output_tokens=ctx.output_tokens,
            preferred_model_used=preferred_used,
            details=details,
        )
        return RoutingResult(chosen, meta)
