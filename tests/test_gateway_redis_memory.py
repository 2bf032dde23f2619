"""RedisBackend: the memory contract in a real redis-server, shared by two clients."""

from __future__ import annotations

import pytest
from _gateway_testkit import redis_server

from intellirouter.errors import ConversationNotFoundError, DuplicateConversationError, NonMonotonicTimestampError
from intellirouter.memory import InMemoryBackend, MemoryManager, RedisBackend

redis = pytest.importorskip("redis")


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def client(redis_url):
    c = redis.Redis.from_url(redis_url)
    c.flushdb()
    yield c
    c.close()


def test_same_answers_as_in_memory(client):
    managers = [
        MemoryManager(InMemoryBackend(), default_window_size=3),
        MemoryManager(RedisBackend(client), default_window_size=3),
    ]
    for m in managers:
        m.create_conversation("c", metadata={"team": "a"})
        for i in range(7):
            m.add_message("c", "user" if i % 2 else "assistant", f"m{i}", timestamp=100.0 + i // 2, metadata={"i": i})
        m.add_messages("c", [("user", "bulk", 104.0), ("assistant", "bulk2", 104.5, {"k": "v"})])
    local, shared = managers
    for read in (
        lambda m: m.get_messages("c"),
        lambda m: m.get_context("c"),
        lambda m: m.get_last_n("c", 2),
        lambda m: m.get_messages_in_range("c", 101.0, 103.0),
        lambda m: m.get_messages_in_range("c", None, 101.0),
        lambda m: m.message_count("c"),
        lambda m: m.list_conversations(),
    ):
        assert read(shared) == read(local)
    info = shared.get_conversation("c")
    assert (info.window_size, info.message_count, dict(info.metadata)) == (3, 9, {"team": "a"})


def test_errors_match_the_contract(client):
    m = MemoryManager(RedisBackend(client))
    m.create_conversation("c")
    m.add_message("c", "user", "x", timestamp=50.0)
    with pytest.raises(DuplicateConversationError):
        m.create_conversation("c")
    with pytest.raises(NonMonotonicTimestampError):
        m.add_message("c", "user", "y", timestamp=49.0)
    with pytest.raises(NonMonotonicTimestampError):  # bulk: all or nothing
        m.add_messages("c", [("user", "ok", 60.0), ("user", "bad", 59.0)])
    assert [x.content for x in m.get_messages("c")] == ["x"]
    auto = m.add_message("c", "user", "now")  # no timestamp: now, never before the last entry
    assert auto.timestamp >= 50.0
    m.delete_conversation("c")
    for call in (
        lambda: m.get_messages("c"),
        lambda: m.add_message("c", "user", "z"),
        lambda: m.delete_conversation("c"),
    ):
        with pytest.raises(ConversationNotFoundError):
            call()


def test_two_clients_see_one_conversation(redis_url, client):
    a = MemoryManager(RedisBackend(redis.Redis.from_url(redis_url)))
    b = MemoryManager(RedisBackend(redis.Redis.from_url(redis_url)))
    a.create_conversation("shared")
    a.add_message("shared", "user", "hello from a")
    b.add_message("shared", "assistant", "hello from b")
    assert [x.content for x in a.get_messages("shared")] == ["hello from a", "hello from b"]
