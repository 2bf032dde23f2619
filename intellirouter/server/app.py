"""The gateway ASGI app: ``POST /v1/chat/completions`` and friends over the IntelliRouter library.

A chat request is read (size limit → 413), authorised (API keys → 401), validated (400 naming
the field; unknown model → 404), given its conversation context (memory) and retrieved
context (RAG) when asked, routed by the router, and forwarded by :mod:`upstream` with
retries and fallback. The backend's OpenAI-shaped answer is returned as is, with
``x-intellirouter-model`` and ``x-intellirouter-overhead-ms`` (the time spent in the gateway,
backend excluded; for a stream, up to the response headers). Every error is an OpenAI-shaped
JSON body; an unexpected exception is logged and answered with a generic 500.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable

import orjson

from intellirouter.server import asgi
from intellirouter.server.asgi import Receive, Scope, Send
from intellirouter.server.config import GatewayConfig, load_config
from intellirouter.server.errors import ApiError, bad_request, internal_error, not_found
from intellirouter.server.metrics import CONTENT_TYPE_LATEST, GatewayMetrics
from intellirouter.server.protocol import ChatRequest, message_text, parse_chat_request
from intellirouter.server.routing import ModelPicker
from intellirouter.server.sse import DeltaCollector
from intellirouter.server.state import make_state
from intellirouter.server.upstream import Failure, Reply, StreamBroken, forward, make_upstream

__all__ = ["Gateway", "create_app", "CONFIG_ENV"]

CONFIG_ENV = "INTELLIROUTER_CONFIG"
CONVERSATIONS = "/v1/conversations/"
log = logging.getLogger("intellirouter.gateway")
Handler = Callable[[Scope, Receive, Send], Awaitable[None]]


def _build_rag(config: GatewayConfig):
    if not config.rag_sources:
        return None
    from intellirouter.rag import RAGManager

    rag = RAGManager()
    for source in config.rag_sources:
        rag.add_text(source.name, source.text)
    rag.build_index()
    return rag


class _TrackedSend:
    """``send`` that remembers whether the response has started (then no error body can follow)."""

    __slots__ = ("send", "started")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    async def __call__(self, message: dict) -> None:
        self.started = True
        await self.send(message)


class Gateway:
    def __init__(self, config: GatewayConfig, transport=None) -> None:
        """``transport``: an httpx transport for the upstream client (tests: httpx.MockTransport)."""
        self.config = config
        self.picker = ModelPicker(config)
        self.state = make_state(config.redis_url, config.memory_window)
        self.metrics = GatewayMetrics()
        self.rag = _build_rag(config)
        self.upstream = None  # made at start-up, inside the server's event loop
        self._transport = transport
        self._keys = frozenset(f"Bearer {k}".encode() for k in config.api_keys)
        self._routes: dict[str, dict[str, Handler]] = {
            "/v1/chat/completions": {"POST": self.chat},
            "/chat/completions": {"POST": self.chat},
            "/v1/models": {"GET": self.models},
            "/v1/usage": {"GET": self.usage},
            "/health": {"GET": self.health},
            "/metrics": {"GET": self.prometheus},
        }

    # -- lifecycle --
    async def startup(self) -> None:
        self.upstream = make_upstream(self.config, self._transport)
        await self.state.start()

    async def shutdown(self) -> None:
        """After the server drained in-flight requests: close the pool, flush shared counters."""
        if self.upstream is not None:
            await self.upstream.aclose()
        await self.state.close()

    async def __aenter__(self) -> Gateway:
        await self.startup()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.shutdown()

    # -- ASGI --
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await asgi.lifespan(receive, send, self.startup, self.shutdown)

    def _handler(self, scope: Scope) -> Handler:
        path = scope["path"]
        methods = self._routes.get(path)
        if methods is None and path.startswith(CONVERSATIONS):
            methods = {"GET": self.conversation}
        if methods is None:
            raise not_found(f"no route {path}; the gateway serves /v1/chat/completions, /v1/models, /health, /metrics")
        handler = methods.get(scope["method"])
        if handler is None:
            raise ApiError(
                405, f"{scope['method']} is not allowed on {path} (allowed: {', '.join(methods)})", "method_not_allowed"
            )
        return handler

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        tracked = _TrackedSend(send)
        try:
            await self._handler(scope)(scope, receive, tracked)
        except asgi.ClientGone:
            return
        except ApiError as exc:
            if scope["path"].endswith("/chat/completions"):
                self.metrics.requests.labels("", str(exc.status)).inc()
            if not tracked.started:
                await asgi.send_error(send, exc)
        except Exception as exc:
            if tracked.started and isinstance(exc, OSError):
                return  # the client went away in the middle of the response: nothing to answer
            log.exception("unexpected error on %s %s", scope["method"], scope["path"])
            if not tracked.started:
                await asgi.send_error(send, internal_error())

    def _authorize(self, scope: Scope) -> None:
        if self._keys and asgi.header(scope, b"authorization") not in self._keys:
            raise ApiError(401, "missing or invalid API key: send 'Authorization: Bearer <key>'", "invalid_api_key")

    # -- chat completions --
    async def chat(self, scope: Scope, receive: Receive, send: Send) -> None:
        t0 = time.perf_counter()
        self._authorize(scope)
        request = parse_chat_request(await asgi.read_body(scope, receive, self.config.max_body_bytes))
        self.picker.check_model(request)
        messages = await self._prompt(request)
        self.metrics.in_flight.inc()
        try:
            reply = await forward(self.upstream, self.picker, request, messages, self.config, self._failed)
            if request.stream:
                await self._stream(send, request, reply, t0)
            else:
                await self._complete(send, request, reply, t0)
        finally:
            self.metrics.in_flight.dec()

    def _failed(self, failure: Failure) -> None:
        self.metrics.failures.labels(failure.route.id, failure.kind).inc()

    async def _prompt(self, request: ChatRequest) -> list[dict]:
        """The messages sent to the model: stored conversation context, then RAG context."""
        messages = request.messages
        if request.conversation_id is not None:
            messages = [*await self.state.context(request.conversation_id), *messages]
        if request.rag:
            if self.rag is None:
                raise bad_request("'rag' was asked for but the gateway has no RAG sources configured", "rag")
            query = next((message_text(m) for m in reversed(request.messages) if m.get("role") == "user"), "")
            cfg = self.config
            messages = self.rag.inject_context(
                messages, query, max_chunks=cfg.rag_max_chunks, max_chars=cfg.rag_max_chars
            )
        return messages

    async def _remember(self, request: ChatRequest, reply_text: str) -> None:
        """Store the request's own turns (system prompts excluded) and the model's answer."""
        if request.conversation_id is None:
            return
        turns = [(m["role"], message_text(m)) for m in request.messages if m["role"] != "system"]
        await self.state.remember(request.conversation_id, [*turns, ("assistant", reply_text)])

    def _headers(self, reply: Reply, t0: float) -> list[tuple[bytes, bytes]]:
        overhead = time.perf_counter() - t0 - reply.backend_s
        self.metrics.overhead.observe(overhead)
        self.metrics.backend.labels(reply.route.id).observe(reply.backend_s)
        return [
            (b"x-intellirouter-model", reply.route.id.encode()),
            (b"x-intellirouter-overhead-ms", f"{overhead * 1000:.3f}".encode()),
        ]

    def _usage(self, model: str, usage: dict | None, completion_default: int) -> None:
        usage = usage or {}
        prompt = usage.get("prompt_tokens") if isinstance(usage.get("prompt_tokens"), int) else 0
        completion = usage.get("completion_tokens")
        completion = completion if isinstance(completion, int) else completion_default
        self.state.count_usage(model, prompt, completion)
        self.metrics.tokens.labels(model, "prompt").inc(prompt)
        self.metrics.tokens.labels(model, "completion").inc(completion)

    async def _complete(self, send: Send, request: ChatRequest, reply: Reply, t0: float) -> None:
        try:
            data = orjson.loads(reply.body)
            choice = data["choices"][0]
            text = message_text(choice["message"]) if isinstance(choice, dict) else ""
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
            raise ApiError(
                502, f"the model backend for {reply.route.id!r} sent an invalid response", "backend_invalid_response"
            ) from None
        self._usage(reply.route.id, data.get("usage") if isinstance(data, dict) else None, 0)
        await self._remember(request, text)
        await asgi.send_body(send, 200, reply.body, self._headers(reply, t0))
        self.metrics.requests.labels(reply.route.id, "200").inc()

    async def _stream(self, send: Send, request: ChatRequest, reply: Reply, t0: float) -> None:
        collector = DeltaCollector()
        held = b""  # with memory, [DONE] waits until the turn is stored: the next turn must see it
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", asgi.SSE), (b"cache-control", b"no-cache"), *self._headers(reply, t0)],
            }
        )
        try:
            async for chunk in reply.chunks:
                collector.feed(chunk)
                if request.conversation_id is not None and collector.done:
                    held += chunk
                    continue
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except StreamBroken:
            err = ApiError(
                502, f"the model backend for {reply.route.id!r} broke off the stream", "backend_stream_error"
            )
            held += b"data: " + err.body() + b"\n\n"
        finally:
            await reply.aclose()
        self._usage(reply.route.id, collector.usage, collector.deltas)
        await self._remember(request, collector.text)
        await send({"type": "http.response.body", "body": held})
        self.metrics.requests.labels(reply.route.id, "200").inc()

    # -- the rest --
    async def models(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._authorize(scope)
        await asgi.send_body(send, 200, orjson.dumps(self.picker.models_body()))

    async def usage(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._authorize(scope)
        body = {"object": "usage", "shared": self.state.shared, "models": await self.state.usage_totals()}
        await asgi.send_body(send, 200, orjson.dumps(body))

    async def conversation(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._authorize(scope)
        cid = scope["path"][len(CONVERSATIONS) :]
        messages = await self.state.conversation(cid) if cid else None
        if messages is None:
            raise not_found(f"conversation {cid!r} not found", "conversation_not_found")
        await asgi.send_body(send, 200, orjson.dumps({"id": cid, "object": "conversation", "messages": messages}))

    async def health(self, scope: Scope, receive: Receive, send: Send) -> None:
        await asgi.send_body(
            send,
            200,
            orjson.dumps(
                {
                    "status": "ok",
                    "models": len(self.picker.routes),
                    "shared_state": self.state.shared,
                    "pid": os.getpid(),
                }
            ),
        )

    async def prometheus(self, scope: Scope, receive: Receive, send: Send) -> None:
        await asgi.send_body(send, 200, self.metrics.render(), content_type=CONTENT_TYPE_LATEST.encode())


def create_app() -> Gateway:
    """The uvicorn factory: the configuration file named by ``INTELLIROUTER_CONFIG``."""
    return Gateway(load_config(os.environ[CONFIG_ENV]))
