"""Conversation memory: messages, conversations with a context window, time-range retrieval.

Storage model
-------------
A conversation is stored column-wise: four parallel Python lists (roles, contents,
timestamps, metadata). Adding a message appends one item to each list (amortised O(1), no
copy of the history), and the timestamp list is kept sorted because timestamps are
required to be non-decreasing per conversation. That makes time-range retrieval two
``bisect`` calls plus a slice: O(log n + k). ``Message`` objects are materialised only for
what a read returns, so a bulk replay of a million entries costs list extends, not a million
object constructions.

Window size
-----------
``window_size`` is a *retrieval* limit, not a retention limit. Every message is stored until
the conversation is deleted, so :meth:`MemoryManager.get_messages` and
:meth:`MemoryManager.get_messages_in_range` see the full history. The window bounds what goes
into a model prompt: :meth:`MemoryManager.get_context` returns the last ``window_size``
messages and :meth:`MemoryManager.get_last_n` never returns more than ``window_size``.
``window_size=None`` means unbounded.

Timestamps
----------
POSIX seconds as ``float`` (``int`` is accepted and stored as ``float``). A caller may supply
them (replay, tests); a supplied timestamp earlier than the conversation's last one raises
:class:`NonMonotonicTimestampError`. Without one the manager uses ``time.time()`` clamped to
the last stored timestamp, so a wall-clock step backwards never breaks the ordering.
Every error leaves the stored state exactly as it was.

Redis
-----
:class:`RedisBackend` keeps the same contract in Redis so that several gateway worker
processes share conversations. A conversation is a hash (window, created_at, metadata, an
entry sequence) and a sorted set of entries scored by timestamp; each member is a 16-digit
hex sequence number followed by the JSON ``[role, content, metadata]``, so equal timestamps
keep insertion order and time-range retrieval is ``ZRANGEBYSCORE`` (O(log n + k)). Writes
run as Lua scripts: the monotonic check and the insert are one atomic step. The layout and
scripts (``redis_*`` below) are shared with the gateway's asyncio store.
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from abc import ABC, abstractmethod
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from intellirouter.errors import (
    ConversationNotFoundError,
    DuplicateConversationError,
    IntelliRouterError,
    InvalidMessageError,
    InvalidTimeRangeError,
    NonMonotonicTimestampError,
)

__all__ = [
    "Message",
    "ConversationInfo",
    "MemoryBackend",
    "InMemoryBackend",
    "MemoryManager",
    "RedisBackend",
]


class _ReadOnlyDict(dict):
    """Message metadata: a dict that refuses mutation, so stored history cannot be edited
    through a returned Message. Unlike ``MappingProxyType`` it pickles."""

    __slots__ = ()

    def _readonly(self, *args, **kwargs):
        raise TypeError("message metadata is read-only; build a new dict instead")

    __setitem__ = __delitem__ = __ior__ = _readonly
    clear = pop = popitem = setdefault = update = _readonly

    def __reduce__(self):
        return (_ReadOnlyDict, (dict(self),))

    def __repr__(self) -> str:
        return dict.__repr__(self)


_EMPTY: Mapping[str, Any] = _ReadOnlyDict()


class Message(NamedTuple):
    """One conversation entry. Immutable; a read returns a snapshot of what is stored."""

    role: str
    content: str
    timestamp: float
    metadata: Mapping[str, Any] = _EMPTY


@dataclass(frozen=True)
class ConversationInfo:
    conversation_id: str
    window_size: int | None
    created_at: float
    message_count: int
    metadata: Mapping[str, Any]


# --- validation (pure functions; raise before anything is stored) -------------------------
def _check_role(role: object) -> str:
    if not isinstance(role, str) or not role:
        raise InvalidMessageError(f"message role must be a non-empty str, got {role!r}")
    return role


def _check_content(content: object) -> str:
    if not isinstance(content, str):
        raise InvalidMessageError(f"message content must be a str, got {type(content).__name__}")
    return content


def _check_timestamp(ts: object, what: str = "timestamp") -> float:
    # bool is an int subclass; True as a timestamp is always a bug
    if isinstance(ts, bool) or not isinstance(ts, (int, float)):
        raise InvalidMessageError(f"{what} must be a finite number of seconds, got {ts!r}")
    value = float(ts)
    if not math.isfinite(value):
        raise InvalidMessageError(f"{what} must be finite, got {ts!r}")
    return value


def _freeze_metadata(metadata: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if metadata is None:
        return _EMPTY
    if not isinstance(metadata, Mapping):
        raise InvalidMessageError(f"metadata must be a mapping, got {type(metadata).__name__}")
    # copy: a caller mutating its dict later must not rewrite stored history
    return _ReadOnlyDict(metadata) if metadata else _EMPTY


def _check_window(window_size: object) -> int | None:
    if window_size is None:
        return None
    if isinstance(window_size, bool) or not isinstance(window_size, int) or window_size < 1:
        raise InvalidMessageError(f"window_size must be an int >= 1 or None, got {window_size!r}")
    return window_size


def _range_bound(value: object, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise InvalidTimeRangeError(f"{name} must be a number of seconds or None, got {value!r}")
    return float(value)


def _check_columns(roles: Sequence, contents: Sequence, timestamps: Sequence) -> list[float]:
    """Validate bulk columns; return the timestamps as floats. Raises on the first bad entry.

    The common case is checked at C speed (type sets, numpy); only a failure walks the
    entries one by one to name the offending index.
    """
    if not set(map(type, roles)) <= {str} or "" in roles:
        for i, r in enumerate(roles):
            if not isinstance(r, str) or not r:
                raise InvalidMessageError(f"entry {i}: role must be a non-empty str, got {r!r}")
    if not set(map(type, contents)) <= {str}:
        for i, c in enumerate(contents):
            if not isinstance(c, str):
                raise InvalidMessageError(f"entry {i}: content must be a str, got {type(c).__name__}")
    import numpy as np  # deferred: only bulk import needs it, not a plain add/read session

    stamp_types = set(map(type, timestamps))
    if not stamp_types <= {int, float}:
        for i, t in enumerate(timestamps):
            _check_timestamp(t, f"entry {i}: timestamp")
    arr = np.asarray(timestamps, dtype=np.float64)
    finite = np.isfinite(arr)
    if not finite.all():
        i = int(np.argmin(finite))
        raise InvalidMessageError(f"entry {i}: timestamp must be finite, got {timestamps[i]!r}")
    drops = np.flatnonzero(arr[1:] < arr[:-1])
    if drops.size:
        i = int(drops[0]) + 1
        raise NonMonotonicTimestampError(
            f"entry {i}: timestamp {arr[i]!r} is earlier than entry {i - 1} ({arr[i - 1]!r})"
        )
    # all floats already: a list copy is ~10x cheaper than converting back from numpy
    return list(timestamps) if stamp_types <= {float} else arr.tolist()


# --- backends ----------------------------------------------------------------------------
class MemoryBackend(ABC):
    """Storage behind :class:`MemoryManager`.

    The manager validates types and values; a backend stores columns and answers reads.
    Contract: ``append``/``extend`` reject (atomically, state unchanged) a first timestamp
    earlier than the conversation's last one; ``time_range`` returns entries with
    ``start <= t < end`` in chronological order; unknown ids raise
    :class:`ConversationNotFoundError`.
    """

    @abstractmethod
    def create(
        self, conversation_id: str, window_size: int | None, created_at: float, metadata: Mapping[str, Any]
    ) -> None: ...

    @abstractmethod
    def delete(self, conversation_id: str) -> None: ...

    @abstractmethod
    def exists(self, conversation_id: str) -> bool: ...

    @abstractmethod
    def list_ids(self) -> list[str]: ...

    @abstractmethod
    def info(self, conversation_id: str) -> ConversationInfo: ...

    @abstractmethod
    def append(
        self, conversation_id: str, role: str, content: str, timestamp: float | None, metadata: Mapping[str, Any]
    ) -> Message:
        """Store one entry; ``timestamp=None`` means now, clamped to the last timestamp."""

    @abstractmethod
    def extend(
        self,
        conversation_id: str,
        roles: list[str],
        contents: list[str],
        timestamps: list[float],
        metadata: list[Mapping[str, Any]],
    ) -> None:
        """Store validated, non-decreasing columns, all or nothing."""

    @abstractmethod
    def count(self, conversation_id: str) -> int: ...

    @abstractmethod
    def slice(self, conversation_id: str, start: int, stop: int) -> list[Message]:
        """Entries ``start:stop`` (Python slice semantics on the chronological list)."""

    @abstractmethod
    def time_range(self, conversation_id: str, start: float | None, end: float | None) -> list[Message]: ...


class _Columns:
    """One conversation's storage: parallel lists, timestamps sorted."""

    __slots__ = ("window_size", "created_at", "metadata", "roles", "contents", "timestamps", "metas")

    def __init__(self, window_size, created_at, metadata):
        self.window_size = window_size
        self.created_at = created_at
        self.metadata = metadata
        self.roles: list[str] = []
        self.contents: list[str] = []
        self.timestamps: list[float] = []
        self.metas: list[Mapping[str, Any]] = []

    def rows(self, i: int, j: int) -> list[Message]:
        return list(map(Message, self.roles[i:j], self.contents[i:j], self.timestamps[i:j], self.metas[i:j]))


class InMemoryBackend(MemoryBackend):
    """Process-local storage; one lock makes each operation atomic across threads."""

    def __init__(self) -> None:
        self._convs: dict[str, _Columns] = {}
        self._lock = threading.Lock()

    # pickling (asv setup_cache, multiprocessing): everything but the lock
    def __getstate__(self) -> dict:
        with self._lock:
            return {"_convs": self._convs}

    def __setstate__(self, state: dict) -> None:
        self._convs = state["_convs"]
        self._lock = threading.Lock()

    def _get(self, conversation_id: str) -> _Columns:
        try:
            return self._convs[conversation_id]
        except (KeyError, TypeError):
            raise ConversationNotFoundError(f"conversation {conversation_id!r} not found") from None

    def create(self, conversation_id, window_size, created_at, metadata):
        with self._lock:
            if conversation_id in self._convs:
                raise DuplicateConversationError(f"conversation {conversation_id!r} already exists")
            self._convs[conversation_id] = _Columns(window_size, created_at, metadata)

    def delete(self, conversation_id):
        with self._lock:
            self._get(conversation_id)
            del self._convs[conversation_id]

    def exists(self, conversation_id):
        return conversation_id in self._convs

    def list_ids(self):
        with self._lock:
            return list(self._convs)

    def info(self, conversation_id):
        with self._lock:
            c = self._get(conversation_id)
            return ConversationInfo(conversation_id, c.window_size, c.created_at, len(c.timestamps), c.metadata)

    def append(self, conversation_id, role, content, timestamp, metadata):
        with self._lock:
            c = self._get(conversation_id)
            ts = c.timestamps
            if timestamp is None:
                timestamp = time.time()
                if ts and timestamp < ts[-1]:
                    timestamp = ts[-1]  # wall clock stepped back: keep the order
            elif ts and timestamp < ts[-1]:
                raise NonMonotonicTimestampError(
                    f"timestamp {timestamp!r} is earlier than the last entry "
                    f"({ts[-1]!r}) of conversation {conversation_id!r}"
                )
            c.roles.append(role)
            c.contents.append(content)
            ts.append(timestamp)
            c.metas.append(metadata)
            return Message(role, content, timestamp, metadata)

    def extend(self, conversation_id, roles, contents, timestamps, metadata):
        with self._lock:
            c = self._get(conversation_id)
            if timestamps and c.timestamps and timestamps[0] < c.timestamps[-1]:
                raise NonMonotonicTimestampError(
                    f"first timestamp {timestamps[0]!r} is earlier than the last entry "
                    f"({c.timestamps[-1]!r}) of conversation {conversation_id!r}"
                )
            c.roles.extend(roles)
            c.contents.extend(contents)
            c.timestamps.extend(timestamps)
            c.metas.extend(metadata)

    def count(self, conversation_id):
        return len(self._get(conversation_id).timestamps)

    def slice(self, conversation_id, start, stop):
        with self._lock:
            return self._get(conversation_id).rows(start, stop)

    def time_range(self, conversation_id, start, end):
        with self._lock:
            c = self._get(conversation_id)
            ts = c.timestamps
            i = 0 if start is None else bisect_left(ts, start)
            j = len(ts) if end is None else bisect_left(ts, end)  # end exclusive
            return c.rows(i, j) if i < j else []


# --- Redis layout, shared with intellirouter.server.state -------------------------------
REDIS_PREFIX = "intellirouter:"

# KEYS: meta, ids, seq. ARGV: id, window ('' = unbounded), created_at, metadata JSON.
REDIS_CREATE_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.error_reply('DUPLICATE') end
redis.call('HSET', KEYS[1], 'window', ARGV[2], 'created_at', ARGV[3], 'metadata', ARGV[4], 'seq', 0)
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
return 1
"""

# KEYS: meta, msgs, ids, seq. ARGV: id, auto-create ('1'/'0'), window for a created
# conversation, now; then (timestamp or '' for now, payload) per entry. Returns the stored
# timestamps as strings (full precision: a clamped one is the score Redis gave back).
REDIS_APPEND_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[2] ~= '1' then return redis.error_reply('NOTFOUND') end
  redis.call('HSET', KEYS[1], 'window', ARGV[3], 'created_at', ARGV[4], 'metadata', '{}', 'seq', 0)
  redis.call('ZADD', KEYS[3], redis.call('INCR', KEYS[4]), ARGV[1])
end
local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
local prev_s = last[2]
local prev_n = prev_s and tonumber(prev_s) or nil
local stamps = {}
for i = 5, #ARGV, 2 do
  local s = ARGV[i]
  local clamp = (s == '')
  if clamp then s = ARGV[4] end
  local n = tonumber(s)
  if prev_n and n < prev_n then
    if not clamp then return redis.error_reply('NONMONOTONIC ' .. s .. ' ' .. prev_s) end
    s, n = prev_s, prev_n
  end
  stamps[#stamps + 1] = s
  prev_s, prev_n = s, n
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', #stamps) - #stamps
local j = 0
for i = 5, #ARGV, 2 do
  j = j + 1
  redis.call('ZADD', KEYS[2], stamps[j], string.format('%016x', seq + j) .. ARGV[i + 1])
end
return stamps
"""

# KEYS: meta, msgs, ids. ARGV: id.
REDIS_DELETE_LUA = """
if redis.call('DEL', KEYS[1]) == 0 then return redis.error_reply('NOTFOUND') end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
"""


def redis_keys(prefix: str, conversation_id: str) -> tuple[str, str]:
    """(meta hash, entries sorted set) of one conversation."""
    return f"{prefix}conv:{conversation_id}:meta", f"{prefix}conv:{conversation_id}:msgs"


def _redis_json(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidMessageError(f"metadata stored in Redis must be JSON-serialisable: {exc}") from None


def redis_payload(role: str, content: str, metadata: Mapping[str, Any]) -> str:
    return _redis_json([role, content, dict(metadata)])


def redis_message(member: bytes | str, score: float) -> Message:
    """Decode one sorted-set member (16 hex digits of sequence, then the JSON payload)."""
    role, content, meta = json.loads(member[16:])
    return Message(role, content, float(score), _ReadOnlyDict(meta) if meta else _EMPTY)


def redis_stamp(value: float | None) -> str:
    return "" if value is None else repr(float(value))


class RedisBackend(MemoryBackend):
    """Conversations in Redis (redis-py, synchronous): shared by every process on one server.

    ``client`` is a ``redis.Redis``; or give ``url`` (``redis://127.0.0.1:6379/0``).
    """

    def __init__(self, client: Any = None, *, url: str | None = None, prefix: str = REDIS_PREFIX) -> None:
        if client is None:
            import redis

            client = redis.Redis.from_url(url or "redis://127.0.0.1:6379/0")
        self._r = client
        self.prefix = prefix
        self._ids = f"{prefix}conversations"
        self._seq = f"{prefix}conversation_seq"
        self._create = client.register_script(REDIS_CREATE_LUA)
        self._append = client.register_script(REDIS_APPEND_LUA)
        self._delete = client.register_script(REDIS_DELETE_LUA)

    def _script(self, script, keys, args):
        import redis

        try:
            return script(keys=keys, args=args)
        except redis.ResponseError as exc:
            raise _redis_error(str(exc), args[0]) from None

    def _meta(self, conversation_id: str) -> dict:
        meta = self._r.hgetall(redis_keys(self.prefix, conversation_id)[0])
        if not meta:
            raise ConversationNotFoundError(f"conversation {conversation_id!r} not found")
        return {k.decode() if isinstance(k, bytes) else k: v for k, v in meta.items()}

    def create(self, conversation_id, window_size, created_at, metadata):
        meta, _ = redis_keys(self.prefix, conversation_id)
        args = [conversation_id, "" if window_size is None else str(window_size), repr(created_at)]
        self._script(self._create, [meta, self._ids, self._seq], [*args, _redis_json(dict(metadata))])

    def delete(self, conversation_id):
        meta, msgs = redis_keys(self.prefix, conversation_id)
        self._script(self._delete, [meta, msgs, self._ids], [conversation_id])

    def exists(self, conversation_id):
        return bool(self._r.exists(redis_keys(self.prefix, conversation_id)[0]))

    def list_ids(self):
        return [i.decode() if isinstance(i, bytes) else i for i in self._r.zrange(self._ids, 0, -1)]

    def info(self, conversation_id):
        m = self._meta(conversation_id)
        window = m["window"].decode() if isinstance(m["window"], bytes) else m["window"]
        return ConversationInfo(
            conversation_id,
            int(window) if window else None,
            float(m["created_at"]),
            self._r.zcard(redis_keys(self.prefix, conversation_id)[1]),
            _ReadOnlyDict(json.loads(m["metadata"])) if m["metadata"] not in (b"{}", "{}") else _EMPTY,
        )

    def _write(self, conversation_id, entries: list[tuple[float | None, str]]) -> list[float]:
        meta, msgs = redis_keys(self.prefix, conversation_id)
        args = [conversation_id, "0", "", repr(time.time())]
        for ts, payload in entries:
            args += [redis_stamp(ts), payload]
        return [float(s) for s in self._script(self._append, [meta, msgs, self._ids, self._seq], args)]

    def append(self, conversation_id, role, content, timestamp, metadata):
        (ts,) = self._write(conversation_id, [(timestamp, redis_payload(role, content, metadata))])
        return Message(role, content, ts, metadata)

    def extend(self, conversation_id, roles, contents, timestamps, metadata):
        payloads = [redis_payload(r, c, m) for r, c, m in zip(roles, contents, metadata)]
        if not payloads:
            self._meta(conversation_id)  # unknown ids still raise
            return
        self._write(conversation_id, list(zip(timestamps, payloads)))

    def count(self, conversation_id):
        meta, msgs = redis_keys(self.prefix, conversation_id)
        exists, n = self._r.pipeline(transaction=False).exists(meta).zcard(msgs).execute()
        if not exists:
            raise ConversationNotFoundError(f"conversation {conversation_id!r} not found")
        return n

    def slice(self, conversation_id, start, stop):
        meta, msgs = redis_keys(self.prefix, conversation_id)
        n = self.count(conversation_id)
        i, j, _ = slice(start, stop).indices(n)
        if i >= j:
            return []
        rows = self._r.zrange(msgs, i, j - 1, withscores=True)
        return [redis_message(m, s) for m, s in rows]

    def time_range(self, conversation_id, start, end):
        _, msgs = redis_keys(self.prefix, conversation_id)
        self.count(conversation_id)  # unknown ids raise
        lo = "-inf" if start is None else repr(start)
        hi = "+inf" if end is None else f"({end!r}"  # end exclusive
        return [redis_message(m, s) for m, s in self._r.zrangebyscore(msgs, lo, hi, withscores=True)]


def _redis_error(text: str, conversation_id: str) -> IntelliRouterError:
    if text.startswith("NOTFOUND"):
        return ConversationNotFoundError(f"conversation {conversation_id!r} not found")
    if text.startswith("DUPLICATE"):
        return DuplicateConversationError(f"conversation {conversation_id!r} already exists")
    if text.startswith("NONMONOTONIC"):
        _, ts, last = text.split()[:3]
        return NonMonotonicTimestampError(
            f"timestamp {float(ts)!r} is earlier than the last entry ({float(last)!r}) of conversation {conversation_id!r}"
        )
    return IntelliRouterError(f"redis: {text}")


# --- manager -----------------------------------------------------------------------------
class MemoryManager:
    """Conversation memory over a :class:`MemoryBackend` (in-memory by default)."""

    def __init__(self, backend: MemoryBackend | None = None, *, default_window_size: int | None = None) -> None:
        self._backend = backend if backend is not None else InMemoryBackend()
        self._default_window = _check_window(default_window_size)

    @property
    def backend(self) -> MemoryBackend:
        return self._backend

    # conversations
    def create_conversation(
        self,
        conversation_id: str | None = None,
        *,
        window_size: int | None = ...,
        metadata: Mapping[str, Any] | None = None,
    ) -> str:
        """Create a conversation and return its id (a random hex id when none is given).

        ``window_size`` defaults to the manager's ``default_window_size``; pass ``None``
        explicitly for an unbounded window.
        """
        if conversation_id is None:
            conversation_id = uuid.uuid4().hex
        elif not isinstance(conversation_id, str) or not conversation_id:
            raise InvalidMessageError(f"conversation id must be a non-empty str, got {conversation_id!r}")
        window = self._default_window if window_size is ... else _check_window(window_size)
        self._backend.create(conversation_id, window, time.time(), _freeze_metadata(metadata))
        return conversation_id

    def delete_conversation(self, conversation_id: str) -> None:
        self._backend.delete(conversation_id)

    def list_conversations(self) -> list[str]:
        """Conversation ids in creation order."""
        return self._backend.list_ids()

    def get_conversation(self, conversation_id: str) -> ConversationInfo:
        return self._backend.info(conversation_id)

    def message_count(self, conversation_id: str) -> int:
        return self._backend.count(conversation_id)

    def __contains__(self, conversation_id: object) -> bool:
        return isinstance(conversation_id, str) and self._backend.exists(conversation_id)

    # writes
    def add_message(
        self,
        conversation_id: str,
        role: str,
        content: str,
        *,
        timestamp: float | None = None,
        metadata: Mapping[str, Any] | None = None,
    ) -> Message:
        """Append one entry (amortised O(1)) and return it as stored."""
        _check_role(role)
        _check_content(content)
        ts = None if timestamp is None else _check_timestamp(timestamp)
        return self._backend.append(conversation_id, role, content, ts, _freeze_metadata(metadata))

    def add_messages(self, conversation_id: str, messages: Iterable[Message]) -> int:
        """Append many entries (replay), all or nothing; each needs a timestamp."""
        rows = list(messages)
        for i, m in enumerate(rows):
            if not isinstance(m, tuple) or len(m) not in (3, 4):
                raise InvalidMessageError(
                    f"entry {i}: expected Message or (role, content, timestamp[, metadata]), got {m!r}"
                )
        roles = [r[0] for r in rows]
        contents = [r[1] for r in rows]
        stamps = [r[2] for r in rows]
        metas = [r[3] if len(r) == 4 else None for r in rows]
        return self.import_columns(conversation_id, roles, contents, stamps, metas)

    def import_columns(
        self,
        conversation_id: str,
        roles: Sequence[str],
        contents: Sequence[str],
        timestamps: Sequence[float],
        metadata: Sequence[Mapping[str, Any] | None] | None = None,
    ) -> int:
        """Bulk replay from parallel columns, all or nothing: O(k) for k entries.

        Every timestamp is required and the sequence must be non-decreasing (and not start
        before the conversation's last entry).
        """
        n = len(timestamps)
        if len(roles) != n or len(contents) != n or (metadata is not None and len(metadata) != n):
            raise InvalidMessageError(
                "import_columns: roles, contents, timestamps (and metadata) must have equal lengths"
            )
        stamps = _check_columns(roles, contents, timestamps)
        if metadata is None:
            metas = [_EMPTY] * n
        else:
            metas = []
            for i, m in enumerate(metadata):
                try:
                    metas.append(_freeze_metadata(m))
                except InvalidMessageError as exc:
                    raise InvalidMessageError(f"entry {i}: {exc}") from None
        self._backend.extend(conversation_id, list(roles), list(contents), stamps, metas)
        return n

    # reads
    def get_messages(self, conversation_id: str) -> list[Message]:
        """The full stored history, chronological (not limited by the window)."""
        return self._backend.slice(conversation_id, 0, self._backend.count(conversation_id))

    def get_last_n(self, conversation_id: str, n: int) -> list[Message]:
        """The last ``min(n, window_size)`` messages, chronological."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise InvalidMessageError(f"n must be an int >= 0, got {n!r}")
        window = self._backend.info(conversation_id).window_size
        if window is not None:
            n = min(n, window)
        if n == 0:
            return []
        return self._backend.slice(conversation_id, -n, None)

    def get_context(self, conversation_id: str) -> list[Message]:
        """What a prompt should see: the last ``window_size`` messages (all if unbounded)."""
        window = self._backend.info(conversation_id).window_size
        if window is None:
            return self.get_messages(conversation_id)
        return self._backend.slice(conversation_id, -window, None)

    def get_messages_in_range(
        self, conversation_id: str, start: float | None = None, end: float | None = None
    ) -> list[Message]:
        """Entries with ``start <= timestamp < end``, chronological, in O(log n + k).

        ``None`` leaves that side unbounded; ``start > end`` raises InvalidTimeRangeError,
        ``start == end`` is a valid empty range.
        """
        lo = _range_bound(start, "start")
        hi = _range_bound(end, "end")
        if lo is not None and hi is not None and lo > hi:
            raise InvalidTimeRangeError(f"start ({lo!r}) is after end ({hi!r})")
        return self._backend.time_range(conversation_id, lo, hi)
