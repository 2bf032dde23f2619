"""The library's registry and router behind the gateway: which model serves a request.

One :class:`~intellirouter.router.Router` per routing strategy (built on first use) over one
registry built from the configuration, so a request may override the strategy without
disturbing the others' round-robin or load counters.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from intellirouter.errors import NoSuitableModelError, RoutingError
from intellirouter.registry import ModelCapabilities, ModelMetadata, ModelRegistry, PerformanceMetrics
from intellirouter.router import Router, RouterConfig, RoutingRequest
from intellirouter.server.config import GatewayConfig, ModelRoute
from intellirouter.server.errors import ApiError, not_found
from intellirouter.server.protocol import AUTO_MODEL, ChatRequest
from intellirouter.strategies import RoutingStrategy

__all__ = ["ModelPicker", "model_metadata"]


def model_metadata(route: ModelRoute) -> ModelMetadata:
    """The registry entry for a configured model."""
    caps = ModelCapabilities(
        max_context_length=route.max_context_length,
        supports_streaming=True,
        cost_per_1k_tokens_input=route.cost_per_1k_input,
        cost_per_1k_tokens_output=route.cost_per_1k_output,
        feature_flags=frozenset(route.tags),
        performance=PerformanceMetrics(avg_latency_ms=route.latency_ms),
    )
    return ModelMetadata(route.id, route.id, route.provider, "1", route.endpoint, capabilities=caps)


class ModelPicker:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self.routes = {m.id: m for m in config.models}
        self.registry = ModelRegistry(model_metadata(m) for m in config.models)
        priorities = {m.id: m.priority for m in config.models if m.priority is not None}
        self._router_config: dict[str, Any] = {
            "fallback_strategies": config.fallback_strategies,
            "model_priorities": priorities,
        }
        self._routers: dict[RoutingStrategy, Router] = {}

    def router(self, strategy: RoutingStrategy | None) -> Router:
        name = strategy or self.config.strategy
        router = self._routers.get(name)
        if router is None:
            router = Router(RouterConfig(strategy=name, **self._router_config), self.registry)
            self._routers[name] = router
        return router

    def check_model(self, request: ChatRequest) -> None:
        """404 for a model the gateway does not know ("auto" lets the router choose)."""
        if request.model != AUTO_MODEL and request.model not in self.routes:
            raise not_found(
                f"model {request.model!r} not found; GET /v1/models lists the models", "model_not_found", "model"
            )

    def pick(self, request: ChatRequest, messages: list[dict], excluded: Iterable[str]) -> ModelRoute | None:
        """The router's choice among the models not yet ``excluded``; None when none is left."""
        preferred = None if request.model == AUTO_MODEL else request.model
        routing = RoutingRequest(
            messages=messages,
            preferred_model_id=preferred,
            excluded_model_ids=frozenset(excluded),
            stream=request.stream,
            max_tokens=request.max_tokens,
        )
        try:
            return self.routes[self.router(request.strategy).route(routing).model.id]
        except NoSuitableModelError as exc:
            if excluded:
                return None  # every model that fits has failed: the caller reports the last failure
            raise ApiError(400, f"no model can serve this request: {exc}", "no_suitable_model") from None
        except RoutingError as exc:
            raise ApiError(503, f"routing failed: {exc}", "routing_failed") from None

    def models_body(self) -> dict:
        data = [{"id": m.id, "object": "model", "created": 0, "owned_by": m.provider} for m in self.config.models]
        return {"object": "list", "data": data}
