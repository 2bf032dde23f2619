"""Conversation memory and usage counters for the gateway: in-process, or in Redis.

With ``REDIS_URL`` (or ``redis_url`` in the config) every worker process reads and writes
the same conversations and counters in Redis, through ``redis.asyncio`` and the layout and
Lua scripts of :mod:`intellirouter.memory` (so ``MemoryManager(RedisBackend(...))`` reads
what the gateway stored). Without it each process keeps its own, in a ``MemoryManager``.

Usage counters (requests, prompt and completion tokens per model) are counted in process
and, with Redis, added to a shared hash every ``flush_s`` seconds and at shutdown: one
round trip per second instead of one per request.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict

from intellirouter.errors import ConversationNotFoundError, DuplicateConversationError
from intellirouter.memory import (
    REDIS_APPEND_LUA,
    REDIS_PREFIX,
    InMemoryBackend,
    MemoryManager,
    redis_keys,
    redis_message,
    redis_payload,
)

__all__ = ["LocalState", "RedisState", "make_state"]

USAGE_FIELDS = ("requests", "prompt_tokens", "completion_tokens")


class _Usage:
    """Per-model counters not yet flushed (or, locally, for good)."""

    def __init__(self) -> None:
        self.counts: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0, 0])

    def add(self, model: str, prompt: int, completion: int) -> None:
        c = self.counts[model]
        c[0] += 1
        c[1] += prompt
        c[2] += completion

    def take(self) -> dict[str, list[int]]:
        out, self.counts = dict(self.counts), defaultdict(lambda: [0, 0, 0])
        return out

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {m: dict(zip(USAGE_FIELDS, c)) for m, c in self.counts.items()}


class LocalState:
    """This process only."""

    shared = False

    def __init__(self, window: int) -> None:
        self.memory = MemoryManager(InMemoryBackend(), default_window_size=window)
        self.usage = _Usage()

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def context(self, conversation_id: str) -> list[dict]:
        if conversation_id not in self.memory:
            return []
        return [{"role": m.role, "content": m.content} for m in self.memory.get_context(conversation_id)]

    async def remember(self, conversation_id: str, turns: list[tuple[str, str]]) -> None:
        if conversation_id not in self.memory:
            with contextlib.suppress(DuplicateConversationError):  # a concurrent request created it first
                self.memory.create_conversation(conversation_id)
        for role, content in turns:
            self.memory.add_message(conversation_id, role, content)

    async def conversation(self, conversation_id: str) -> list[dict] | None:
        try:
            stored = self.memory.get_messages(conversation_id)
        except ConversationNotFoundError:
            return None
        return [{"role": m.role, "content": m.content, "timestamp": m.timestamp} for m in stored]

    def count_usage(self, model: str, prompt: int, completion: int) -> None:
        self.usage.add(model, prompt, completion)

    async def usage_totals(self) -> dict[str, dict[str, int]]:
        return self.usage.as_dict()


class RedisState:
    """Shared by every process using the same Redis."""

    shared = True

    def __init__(self, url: str, window: int, prefix: str = REDIS_PREFIX, flush_s: float = 1.0) -> None:
        import redis.asyncio as aioredis

        self.redis = aioredis.Redis.from_url(url)
        self.window = window
        self.prefix = prefix
        self.flush_s = flush_s
        self.usage = _Usage()
        self._usage_key = f"{prefix}usage"
        self._ids, self._seq = f"{prefix}conversations", f"{prefix}conversation_seq"
        self._append = self.redis.register_script(REDIS_APPEND_LUA)
        self._flusher: asyncio.Task | None = None

    async def start(self) -> None:
        await self.redis.ping()  # fail at start-up, not on the first request
        self._flusher = asyncio.create_task(self._flush_every())

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        await self.flush()
        await self.redis.aclose()

    async def context(self, conversation_id: str) -> list[dict]:
        _, msgs = redis_keys(self.prefix, conversation_id)
        rows = await self.redis.zrange(msgs, -self.window, -1, withscores=True)
        return [{"role": m.role, "content": m.content} for m in (redis_message(r, s) for r, s in rows)]

    async def remember(self, conversation_id: str, turns: list[tuple[str, str]]) -> None:
        meta, msgs = redis_keys(self.prefix, conversation_id)
        args: list[str] = [conversation_id, "1", str(self.window), repr(time.time())]
        for role, content in turns:
            args += ["", redis_payload(role, content, {})]
        await self._append(keys=[meta, msgs, self._ids, self._seq], args=args)

    async def conversation(self, conversation_id: str) -> list[dict] | None:
        meta, msgs = redis_keys(self.prefix, conversation_id)
        if not await self.redis.exists(meta):
            return None
        rows = await self.redis.zrange(msgs, 0, -1, withscores=True)
        return [
            {"role": m.role, "content": m.content, "timestamp": m.timestamp}
            for m in (redis_message(r, s) for r, s in rows)
        ]

    def count_usage(self, model: str, prompt: int, completion: int) -> None:
        self.usage.add(model, prompt, completion)

    async def flush(self) -> None:
        pending = self.usage.take()
        if not pending:
            return
        pipe = self.redis.pipeline(transaction=False)
        for model, counts in pending.items():
            for name, n in zip(USAGE_FIELDS, counts):
                pipe.hincrby(self._usage_key, f"{model}\t{name}", n)
        try:
            await pipe.execute()
        except Exception:
            for model, (requests, prompt, completion) in pending.items():  # keep them for the next flush
                c = self.usage.counts[model]
                c[0], c[1], c[2] = c[0] + requests, c[1] + prompt, c[2] + completion
            raise

    async def _flush_every(self) -> None:
        while True:
            await asyncio.sleep(self.flush_s)
            with contextlib.suppress(Exception):  # Redis briefly away: the counts wait for the next flush
                await self.flush()

    async def usage_totals(self) -> dict[str, dict[str, int]]:
        await self.flush()
        out: dict[str, dict[str, int]] = {}
        for key, value in (await self.redis.hgetall(self._usage_key)).items():
            model, name = key.decode().split("\t")
            out.setdefault(model, dict.fromkeys(USAGE_FIELDS, 0))[name] = int(value)
        return out


def make_state(redis_url: str | None, window: int) -> LocalState | RedisState:
    return RedisState(redis_url, window) if redis_url else LocalState(window)
