"""A seeded OpenAI-compatible model backend: the floor the load tests measure against.

``POST /v1/chat/completions`` answers after a latency drawn from a seeded distribution
(``fixed`` at ``latency_ms``, or ``lognormal`` with median ``latency_ms`` and shape
``sigma``), with ``completion_tokens`` tokens of filler text (fewer when the request's
``max_tokens`` asks for fewer) and token counts in ``usage``. With ``stream: true`` the
latency is the time to the first chunk and the tokens follow ``tokens_per_chunk`` at a time,
``chunk_interval_ms`` apart. ``error_rate`` of the requests answer 500 and ``timeout_rate``
of them hang for ``hang_s`` seconds (a client with a shorter timeout sees a timeout).
``GET /v1/models`` and ``GET /health`` answer at once.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
from dataclasses import asdict, dataclass

import orjson

from intellirouter.server import asgi
from intellirouter.server.asgi import Receive, Scope, Send
from intellirouter.server.errors import ApiError

__all__ = ["MockOptions", "MockBackend", "create_mock_app", "MOCK_ENV"]

MOCK_ENV = "INTELLIROUTER_MOCK_OPTIONS"
WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet")


@dataclass(frozen=True)
class MockOptions:
    latency: str = "fixed"  # fixed | lognormal
    latency_ms: float = 50.0  # the fixed value, or the lognormal median
    sigma: float = 0.25  # lognormal shape
    seed: int = 0
    completion_tokens: int = 32
    tokens_per_chunk: int = 1
    chunk_interval_ms: float = 5.0
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    hang_s: float = 120.0
    max_body_bytes: int = 8 << 20

    def check(self) -> MockOptions:
        if self.latency not in ("fixed", "lognormal"):
            raise ValueError(f"latency must be fixed or lognormal, got {self.latency!r}")
        for name in ("latency_ms", "sigma", "chunk_interval_ms", "hang_s"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("error_rate", "timeout_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)!r}")
        if self.completion_tokens < 1 or self.tokens_per_chunk < 1:
            raise ValueError("completion_tokens and tokens_per_chunk must be >= 1")
        return self

    def to_env(self) -> str:
        return json.dumps(asdict(self))


def _prompt_tokens(messages: object) -> int:
    """Four characters a token plus four per message, as the router estimates."""
    if not isinstance(messages, list):
        return 0
    chars = sum(len(m["content"]) for m in messages if isinstance(m, dict) and isinstance(m.get("content"), str))
    return math.ceil(chars / 4) + 4 * len(messages)


class MockBackend:
    def __init__(self, options: MockOptions) -> None:
        self.options = options.check()
        self.rng = random.Random(options.seed)  # every worker process draws the same seeded sequence
        self.served = 0

    def latency_s(self) -> float:
        o = self.options
        if o.latency == "fixed":
            return o.latency_ms / 1000
        return o.latency_ms * math.exp(o.sigma * self.rng.gauss(0.0, 1.0)) / 1000

    def _fate(self) -> str:
        o = self.options
        if not (o.error_rate or o.timeout_rate):
            return "ok"
        u = self.rng.random()
        return "error" if u < o.error_rate else "hang" if u < o.error_rate + o.timeout_rate else "ok"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await asgi.lifespan(receive, send, _nothing, _nothing)
            return
        if scope["type"] != "http":
            return
        try:
            await self._route(scope, receive, send)
        except asgi.ClientGone:
            return
        except ApiError as exc:
            await asgi.send_error(send, exc)

    async def _route(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        if path.endswith("/chat/completions") and method == "POST":
            await self.chat(scope, receive, send)
        elif path.endswith("/models") and method == "GET":
            data = [{"id": "mock-gpt", "object": "model", "created": 0, "owned_by": "mock"}]
            await asgi.send_body(send, 200, orjson.dumps({"object": "list", "data": data}))
        elif path == "/health":
            await asgi.send_body(send, 200, b'{"status":"ok"}')
        else:
            raise ApiError(404, f"no route {method} {path}", "not_found")

    async def chat(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = await asgi.read_body(scope, receive, self.options.max_body_bytes)
        try:
            body = orjson.loads(raw)
            model, messages = body["model"], body["messages"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise ApiError(400, "the body must be a JSON object with model and messages", "invalid_request") from None
        self.served += 1
        fate = self._fate()
        delay = self.latency_s()
        if fate == "hang":
            await asyncio.sleep(self.options.hang_s)
            raise ApiError(504, "mock backend: simulated timeout", "timeout")
        max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
        n = (
            min(self.options.completion_tokens, max_tokens)
            if isinstance(max_tokens, int) and max_tokens > 0
            else self.options.completion_tokens
        )
        await asyncio.sleep(delay)
        if fate == "error":
            raise ApiError(500, "mock backend: simulated error", "mock_error")
        rid = f"chatcmpl-mock{self.served}"
        if body.get("stream"):
            await asgi.send_stream(send, 200, self._chunks(rid, model, n))
            return
        text = " ".join(WORDS[i % len(WORDS)] for i in range(n))
        prompt = _prompt_tokens(messages)
        reply = {
            "id": rid,
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt, "completion_tokens": n, "total_tokens": prompt + n},
        }
        await asgi.send_body(send, 200, orjson.dumps(reply))

    async def _chunks(self, rid: str, model: str, n: int):
        o = self.options
        head = {"id": rid, "object": "chat.completion.chunk", "created": 0, "model": model}
        first = {
            **head,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
        }
        yield b"data: " + orjson.dumps(first) + b"\n\n"
        for start in range(0, n, o.tokens_per_chunk):
            if start and o.chunk_interval_ms:
                await asyncio.sleep(o.chunk_interval_ms / 1000)
            words = " ".join(WORDS[i % len(WORDS)] for i in range(start, min(n, start + o.tokens_per_chunk)))
            delta = {**head, "choices": [{"index": 0, "delta": {"content": words + " "}, "finish_reason": None}]}
            yield b"data: " + orjson.dumps(delta) + b"\n\n"
        last = {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        yield b"data: " + orjson.dumps(last) + b"\n\ndata: [DONE]\n\n"


async def _nothing() -> None:
    pass


def create_mock_app() -> MockBackend:
    """The uvicorn factory: options as JSON in ``INTELLIROUTER_MOCK_OPTIONS``."""
    raw = os.environ.get(MOCK_ENV)
    return MockBackend(MockOptions(**json.loads(raw)) if raw else MockOptions())
