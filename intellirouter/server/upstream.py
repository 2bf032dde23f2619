"""Forwarding to model backends: one pooled ``httpx.AsyncClient``, retries, then fallback.

An attempt returns a :class:`Reply` or a :class:`Failure` (errors as values). :func:`forward`
retries a model ``config.retries`` times on retryable failures (connection errors, timeouts,
429 and 5xx), then asks the router for the next model with the failed ones excluded while
``config.fallback`` is on. A backend's other 4xx is the client's problem and is passed on
at once. When every attempt failed the last failure decides the status: timeout → 504,
unreachable → 502, backend 503 → 503, other backend errors → 502.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import orjson

from intellirouter.server.config import GatewayConfig, ModelRoute
from intellirouter.server.errors import ApiError
from intellirouter.server.protocol import ChatRequest, upstream_error
from intellirouter.server.routing import ModelPicker

__all__ = ["Reply", "Failure", "Upstream", "forward"]

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


@dataclass(slots=True)
class Reply:
    route: ModelRoute
    body: bytes  # whole body (non-streaming); b"" while streaming
    response: httpx.Response | None  # the open streaming response, to be closed by the caller
    backend_s: float  # time spent waiting for the backend over every attempt
    attempts: int


@dataclass(slots=True)
class Failure:
    route: ModelRoute
    kind: str  # timeout | unreachable | status | rejected
    status: int | None = None
    body: bytes = b""

    @property
    def retryable(self) -> bool:
        return self.kind != "rejected"


def failure_error(failure: Failure | None) -> ApiError:
    if failure is None:
        return ApiError(503, "no model backend is available", "no_backend")
    name = failure.route.id
    if failure.kind == "rejected":
        return upstream_error(failure.status or 400, failure.body)
    if failure.kind == "timeout":
        return ApiError(504, f"the model backend for {name!r} timed out", "backend_timeout")
    if failure.kind == "unreachable":
        return ApiError(502, f"the model backend for {name!r} is unreachable", "backend_unreachable")
    if failure.status == 503:
        return ApiError(503, f"the model backend for {name!r} is unavailable (HTTP 503)", "backend_unavailable")
    return ApiError(502, f"the model backend for {name!r} failed (HTTP {failure.status})", "backend_error")


class Upstream:
    """The pooled client and one attempt against one model."""

    def __init__(self, config: GatewayConfig, transport: httpx.AsyncBaseTransport | None = None) -> None:
        limits = httpx.Limits(max_connections=config.max_connections, max_keepalive_connections=config.max_connections)
        timeout = httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s)
        self.client = httpx.AsyncClient(limits=limits, timeout=timeout, transport=transport)
        self._urls = {m.id: f"{m.endpoint}/chat/completions" for m in config.models}
        self._headers = {m.id: _headers(m) for m in config.models}

    async def attempt(self, route: ModelRoute, payload: bytes, stream: bool) -> Reply | Failure:
        request = self.client.build_request(
            "POST", self._urls[route.id], content=payload, headers=self._headers[route.id]
        )
        try:
            response = await self.client.send(request, stream=stream)
        except httpx.TimeoutException:
            return Failure(route, "timeout")
        except httpx.TransportError:
            return Failure(route, "unreachable")
        if response.status_code == 200:
            return Reply(route, b"" if stream else response.content, response if stream else None, 0.0, 1)
        body = await _drain(response) if stream else response.content
        kind = "status" if response.status_code in RETRYABLE_STATUS else "rejected"
        return Failure(route, kind, response.status_code, body)

    async def aclose(self) -> None:
        await self.client.aclose()


def _headers(route: ModelRoute) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    if route.api_key:
        headers["authorization"] = f"Bearer {route.api_key}"
    return headers


async def _drain(response: httpx.Response) -> bytes:
    try:
        return await response.aread()
    except httpx.HTTPError:
        return b""
    finally:
        await response.aclose()


def payload_for(request: ChatRequest, route: ModelRoute, messages: list[dict]) -> bytes:
    body = request.body
    body["model"] = route.upstream_model
    body["messages"] = messages
    return orjson.dumps(body)


async def forward(
    upstream: Upstream,
    picker: ModelPicker,
    request: ChatRequest,
    messages: list[dict],
    config: GatewayConfig,
    on_failure: Callable[[Failure], None] = lambda f: None,
) -> Reply:
    """Try models in the router's order until one answers; raise the last failure as ApiError."""
    excluded: list[str] = []
    last: Failure | None = None
    waited = 0.0
    attempts = 0
    while (route := picker.pick(request, messages, excluded)) is not None:
        payload = payload_for(request, route, messages)
        for _ in range(1 + config.retries):
            attempts += 1
            t0 = time.perf_counter()
            result = await upstream.attempt(route, payload, request.stream)
            waited += time.perf_counter() - t0
            if isinstance(result, Reply):
                result.backend_s, result.attempts = waited, attempts
                return result
            last = result
            on_failure(result)
            if not result.retryable:
                raise failure_error(result)
        excluded.append(route.id)
        if not config.fallback:
            break
    raise failure_error(last)
