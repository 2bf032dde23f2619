"""Forwarding to model backends: one pooled async HTTP client, retries, then fallback.

An attempt returns a :class:`Reply` or a :class:`Failure` (errors as values). :func:`forward`
retries a model ``config.retries`` times on retryable failures (connection errors, timeouts,
429 and 5xx), then asks the router for the next model with the failed ones excluded while
``config.fallback`` is on. A backend's other 4xx is the client's problem and is passed on
at once. When every attempt failed the last failure decides the status: timeout → 504,
unreachable → 502, backend 503 → 503, other backend errors → 502.

Two clients implement the attempt, chosen by ``http_client`` in the configuration:
``aiohttp`` (the default) and ``httpx``. Both keep one connection pool per process. The
default is aiohttp because the client is most of the gateway's CPU per request: in one load
run the gateway carried 2.5-13x more requests per CPU-second with aiohttp than with httpx,
whose tail latency ran to seconds from 32 concurrent requests (docs/gateway.md).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import orjson

from intellirouter.server.config import GatewayConfig, ModelRoute
from intellirouter.server.errors import ApiError
from intellirouter.server.protocol import ChatRequest, upstream_error
from intellirouter.server.routing import ModelPicker

__all__ = ["Reply", "Failure", "StreamBroken", "AiohttpUpstream", "HttpxUpstream", "make_upstream", "forward"]

RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})


class StreamBroken(Exception):
    """The backend broke off a stream after it had started (no fallback is possible then)."""


async def _nothing() -> None:
    pass


@dataclass(slots=True)
class Reply:
    route: ModelRoute
    body: bytes  # whole body (non-streaming); b"" while streaming
    chunks: AsyncIterator[bytes] | None = None  # the stream; raises StreamBroken if cut off
    aclose: Callable[[], Awaitable[None]] = _nothing  # releases a streaming response
    backend_s: float = 0.0  # time spent waiting for the backend over every attempt
    attempts: int = 1


@dataclass(slots=True)
class Failure:
    route: ModelRoute
    kind: str  # timeout | unreachable | status | rejected
    status: int | None = None
    body: bytes = b""

    @property
    def retryable(self) -> bool:
        return self.kind != "rejected"


def status_failure(route: ModelRoute, status: int, body: bytes) -> Failure:
    return Failure(route, "status" if status in RETRYABLE_STATUS else "rejected", status, body)


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


class AiohttpUpstream:
    """aiohttp: one ``ClientSession`` with one ``TCPConnector`` pool."""

    def __init__(self, config: GatewayConfig) -> None:
        import aiohttp

        self._aiohttp = aiohttp
        connector = aiohttp.TCPConnector(limit=config.max_connections, limit_per_host=0, ttl_dns_cache=300)
        timeout = aiohttp.ClientTimeout(sock_connect=config.connect_timeout_s, sock_read=config.timeout_s)
        self.session = aiohttp.ClientSession(
            connector=connector, timeout=timeout, auto_decompress=False, skip_auto_headers=("User-Agent",)
        )
        self._urls = {m.id: f"{m.endpoint}/chat/completions" for m in config.models}
        self._headers = {m.id: _headers(m) for m in config.models}

    async def attempt(self, route: ModelRoute, payload: bytes, stream: bool) -> Reply | Failure:
        aiohttp = self._aiohttp
        try:
            response = await self.session.post(self._urls[route.id], data=payload, headers=self._headers[route.id])
            if response.status != 200 or not stream:
                body = await response.read()
                response.release()
                return Reply(route, body) if response.status == 200 else status_failure(route, response.status, body)
        except TimeoutError:
            return Failure(route, "timeout")
        except aiohttp.ClientError:
            return Failure(route, "unreachable")
        return Reply(route, b"", self._chunks(response), _closer(response))

    async def _chunks(self, response) -> AsyncIterator[bytes]:
        try:
            async for chunk in response.content.iter_any():
                yield chunk
        except (TimeoutError, self._aiohttp.ClientError) as exc:
            raise StreamBroken(str(exc)) from None

    async def aclose(self) -> None:
        await self.session.close()


def _closer(response) -> Callable[[], Awaitable[None]]:
    async def close() -> None:
        response.release()

    return close


class HttpxUpstream:
    """httpx: one ``AsyncClient`` (``transport`` lets tests inject httpx.MockTransport)."""

    def __init__(self, config: GatewayConfig, transport=None) -> None:
        import httpx

        self._httpx = httpx
        limits = httpx.Limits(max_connections=config.max_connections, max_keepalive_connections=config.max_connections)
        timeout = httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s)
        self.client = httpx.AsyncClient(limits=limits, timeout=timeout, transport=transport)
        self._urls = {m.id: f"{m.endpoint}/chat/completions" for m in config.models}
        self._headers = {m.id: _headers(m) for m in config.models}

    async def attempt(self, route: ModelRoute, payload: bytes, stream: bool) -> Reply | Failure:
        httpx = self._httpx
        request = self.client.build_request(
            "POST", self._urls[route.id], content=payload, headers=self._headers[route.id]
        )
        try:
            response = await self.client.send(request, stream=stream)
            if response.status_code != 200 and stream:
                await response.aread()
                await response.aclose()
        except httpx.TimeoutException:
            return Failure(route, "timeout")
        except httpx.TransportError:
            return Failure(route, "unreachable")
        if response.status_code != 200:
            return status_failure(route, response.status_code, response.content)
        if not stream:
            return Reply(route, response.content)
        return Reply(route, b"", self._chunks(response), response.aclose)

    async def _chunks(self, response) -> AsyncIterator[bytes]:
        try:
            async for chunk in response.aiter_raw():
                yield chunk
        except self._httpx.HTTPError as exc:
            raise StreamBroken(str(exc)) from None

    async def aclose(self) -> None:
        await self.client.aclose()


def make_upstream(config: GatewayConfig, transport=None) -> AiohttpUpstream | HttpxUpstream:
    if config.http_client == "httpx" or transport is not None:
        return HttpxUpstream(config, transport)
    return AiohttpUpstream(config)


def _headers(route: ModelRoute) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    if route.api_key:
        headers["authorization"] = f"Bearer {route.api_key}"
    return headers


def payload_for(request: ChatRequest, route: ModelRoute, messages: list[dict]) -> bytes:
    body = request.body
    body["model"] = route.upstream_model
    body["messages"] = messages
    return orjson.dumps(body)


async def forward(
    upstream: AiohttpUpstream | HttpxUpstream,
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
