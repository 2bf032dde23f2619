"""Conversation memory: every manager operation, its error paths, and time-range properties."""

from __future__ import annotations

import threading
from bisect import bisect_left

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from intellirouter.errors import (
    ConversationNotFoundError,
    DuplicateConversationError,
    IntelliRouterError,
    InvalidMessageError,
    InvalidTimeRangeError,
    NonMonotonicTimestampError,
)
from intellirouter.memory import InMemoryBackend, MemoryBackend, MemoryManager, Message


def snapshot(mgr: MemoryManager):
    """Everything observable about a manager, to prove errors leave state unchanged."""
    return {cid: (mgr.get_conversation(cid), mgr.get_messages(cid)) for cid in mgr.list_conversations()}


@pytest.fixture
def mgr():
    m = MemoryManager()
    m.create_conversation("c", window_size=3)
    for i, role in enumerate(["user", "assistant", "user", "assistant", "user"]):
        m.add_message("c", role, f"m{i}", timestamp=10.0 + i, metadata={"i": i})
    return m


# --- conversations -----------------------------------------------------------------------
def test_create_list_delete_and_info():
    m = MemoryManager(default_window_size=4)
    a = m.create_conversation()
    m.create_conversation("b", window_size=None, metadata={"user": "u1"})
    assert isinstance(a, str) and len(a) == 32
    assert m.list_conversations() == [a, "b"]
    assert m.get_conversation(a).window_size == 4  # manager default
    info = m.get_conversation("b")
    assert info.window_size is None and info.metadata == {"user": "u1"} and info.message_count == 0
    assert "b" in m and "zzz" not in m and 3 not in m
    m.delete_conversation(a)
    assert m.list_conversations() == ["b"]
    with pytest.raises(ConversationNotFoundError):
        m.get_messages(a)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "3"])
def test_bad_window_rejected(bad):
    m = MemoryManager()
    with pytest.raises(InvalidMessageError, match="window_size"):
        m.create_conversation("x", window_size=bad)
    assert m.list_conversations() == []
    with pytest.raises(InvalidMessageError):
        MemoryManager(default_window_size=bad)


def test_duplicate_and_bad_ids(mgr):
    before = snapshot(mgr)
    with pytest.raises(DuplicateConversationError, match="'c' already exists"):
        mgr.create_conversation("c")
    for bad in ("", 5):
        with pytest.raises(InvalidMessageError, match="conversation id"):
            mgr.create_conversation(bad)
    assert snapshot(mgr) == before


def test_unknown_conversation_everywhere(mgr):
    before = snapshot(mgr)
    calls = [
        lambda: mgr.add_message("nope", "user", "x"),
        lambda: mgr.add_messages("nope", [Message("user", "x", 1.0)]),
        lambda: mgr.add_messages("nope", []),
        lambda: mgr.get_messages("nope"),
        lambda: mgr.get_last_n("nope", 2),
        lambda: mgr.get_context("nope"),
        lambda: mgr.get_messages_in_range("nope", 0, 1),
        lambda: mgr.delete_conversation("nope"),
        lambda: mgr.get_conversation("nope"),
        lambda: mgr.message_count("nope"),
    ]
    for call in calls:
        with pytest.raises(ConversationNotFoundError, match="'nope' not found"):
            call()
    assert snapshot(mgr) == before
    assert issubclass(ConversationNotFoundError, IntelliRouterError)


# --- writes --------------------------------------------------------------------------------
def test_add_message_returns_stored_and_copies_metadata():
    m = MemoryManager()
    m.create_conversation("c")
    meta = {"k": 1}
    msg = m.add_message("c", "user", "hello", timestamp=5, metadata=meta)
    meta["k"] = 2  # caller's later mutation must not rewrite history
    assert msg == Message("user", "hello", 5.0, {"k": 1})
    assert isinstance(msg.timestamp, float)
    assert m.get_messages("c")[0].metadata == {"k": 1}
    with pytest.raises(TypeError):
        m.get_messages("c")[0].metadata["k"] = 3  # read-only view


def test_auto_timestamps_are_monotonic_even_after_a_future_entry():
    m = MemoryManager()
    m.create_conversation("c")
    far_future = 4_000_000_000.0
    m.add_message("c", "user", "replayed", timestamp=far_future)
    auto = m.add_message("c", "assistant", "live")  # wall clock is behind the replayed entry
    assert auto.timestamp == far_future
    t1 = m.add_message("c", "user", "again").timestamp
    assert t1 >= auto.timestamp


def test_equal_timestamps_are_allowed(mgr):
    mgr.add_message("c", "user", "same", timestamp=14.0)  # equals the last one
    assert [x.content for x in mgr.get_messages_in_range("c", 14.0, 14.5)] == ["m4", "same"]


@pytest.mark.parametrize(
    "kwargs, error, text",
    [
        ({"role": "", "content": "x"}, InvalidMessageError, "role"),
        ({"role": None, "content": "x"}, InvalidMessageError, "role"),
        ({"role": "user", "content": b"x"}, InvalidMessageError, "content"),
        ({"role": "user", "content": "x", "timestamp": 13.9}, NonMonotonicTimestampError, "earlier"),
        ({"role": "user", "content": "x", "timestamp": float("nan")}, InvalidMessageError, "finite"),
        ({"role": "user", "content": "x", "timestamp": float("inf")}, InvalidMessageError, "finite"),
        ({"role": "user", "content": "x", "timestamp": True}, InvalidMessageError, "timestamp"),
        ({"role": "user", "content": "x", "timestamp": "15"}, InvalidMessageError, "timestamp"),
        ({"role": "user", "content": "x", "metadata": [1]}, InvalidMessageError, "metadata"),
    ],
)
def test_add_message_errors_leave_state_unchanged(mgr, kwargs, error, text):
    before = snapshot(mgr)
    with pytest.raises(error, match=text):
        mgr.add_message("c", **kwargs)
    assert snapshot(mgr) == before


def test_add_messages_bulk_and_all_or_nothing(mgr):
    n = mgr.add_messages("c", [Message("user", "a", 20.0), ("assistant", "b", 21, {"x": 1})])
    assert n == 2 and mgr.message_count("c") == 7
    assert mgr.get_messages("c")[-1] == Message("assistant", "b", 21.0, {"x": 1})
    before = snapshot(mgr)
    bad_batches = [
        ([Message("user", "a", 22.0), Message("user", "b", 21.5)], NonMonotonicTimestampError, "entry 1"),
        ([Message("user", "a", 20.5)], NonMonotonicTimestampError, "earlier than the last"),
        ([Message("user", "a", 30.0), Message("", "b", 31.0)], InvalidMessageError, "entry 1: role"),
        ([Message("user", 7, 30.0)], InvalidMessageError, "entry 0: content"),
        ([("user", "a", None)], InvalidMessageError, "entry 0: timestamp"),
        ([("user", "a", float("nan"))], InvalidMessageError, "entry 0: timestamp must be finite"),
        (["not a message"], InvalidMessageError, "entry 0: expected"),
        ([("user", "a", 30.0, ["not", "a", "mapping"])], InvalidMessageError, "entry 0: metadata"),
    ]
    for batch, error, text in bad_batches:
        with pytest.raises(error, match=text):
            mgr.add_messages("c", batch)
        assert snapshot(mgr) == before


def test_import_columns_checks_lengths(mgr):
    before = snapshot(mgr)
    with pytest.raises(InvalidMessageError, match="equal lengths"):
        mgr.import_columns("c", ["user"], ["a", "b"], [30.0, 31.0])
    assert snapshot(mgr) == before
    assert mgr.import_columns("c", ["user", "tool"], ["a", "b"], [30, 31.5], [None, {"t": 1}]) == 2
    assert mgr.get_messages("c")[-2:] == [Message("user", "a", 30.0), Message("tool", "b", 31.5, {"t": 1})]


# --- reads ---------------------------------------------------------------------------------
def test_get_messages_is_full_history_not_window(mgr):
    msgs = mgr.get_messages("c")
    assert [x.content for x in msgs] == ["m0", "m1", "m2", "m3", "m4"]
    assert msgs[0] == Message("user", "m0", 10.0, {"i": 0})


def test_last_n_and_context_respect_window(mgr):
    assert [x.content for x in mgr.get_last_n("c", 2)] == ["m3", "m4"]
    assert [x.content for x in mgr.get_last_n("c", 10)] == ["m2", "m3", "m4"]  # window 3
    assert mgr.get_last_n("c", 0) == []
    assert [x.content for x in mgr.get_context("c")] == ["m2", "m3", "m4"]
    for bad in (-1, 1.5, True):
        with pytest.raises(InvalidMessageError):
            mgr.get_last_n("c", bad)


def test_unbounded_window_and_empty_conversation():
    m = MemoryManager()
    m.create_conversation("u")
    assert m.get_messages("u") == [] and m.get_last_n("u", 3) == [] and m.get_context("u") == []
    assert m.get_messages_in_range("u", 0, 100) == []
    m.import_columns("u", ["user"] * 5, list("abcde"), [1, 2, 3, 4, 5])
    assert [x.content for x in m.get_last_n("u", 10)] == list("abcde")
    assert [x.content for x in m.get_context("u")] == list("abcde")


def test_time_range_bounds(mgr):
    contents = lambda r: [x.content for x in r]  # noqa: E731
    assert contents(mgr.get_messages_in_range("c", 11.0, 13.0)) == ["m1", "m2"]  # end exclusive
    assert contents(mgr.get_messages_in_range("c", 11.5, 13.5)) == ["m2", "m3"]
    assert contents(mgr.get_messages_in_range("c", None, 12)) == ["m0", "m1"]
    assert contents(mgr.get_messages_in_range("c", 13, None)) == ["m3", "m4"]
    assert contents(mgr.get_messages_in_range("c")) == ["m0", "m1", "m2", "m3", "m4"]
    assert mgr.get_messages_in_range("c", 12, 12) == []  # empty range is valid
    assert mgr.get_messages_in_range("c", 100, 200) == []


@pytest.mark.parametrize(
    "start, end, text",
    [
        (13, 12, "after end"),
        (float("nan"), 1, "start"),
        (1, float("nan"), "end"),
        ("1", 2, "start"),
        (1, [2], "end"),
        (True, 2, "start"),
    ],
)
def test_bad_time_ranges(mgr, start, end, text):
    before = snapshot(mgr)
    with pytest.raises(InvalidTimeRangeError, match=text):
        mgr.get_messages_in_range("c", start, end)
    assert snapshot(mgr) == before


@settings(max_examples=150, deadline=None)
@given(
    gaps=st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 7.25]), max_size=60),
    start=st.one_of(st.none(), st.floats(-5, 120, allow_nan=False)),
    width=st.one_of(st.none(), st.floats(0, 80, allow_nan=False)),
    via_bulk=st.booleans(),
)
def test_time_range_equals_brute_force(gaps, start, width, via_bulk):
    m = MemoryManager()
    m.create_conversation("p", window_size=2)
    stamps, t = [], 0.0
    for g in gaps:  # repeated gaps of 0.0 give runs of equal timestamps
        t += g
        stamps.append(t)
    if via_bulk:
        m.import_columns("p", ["user"] * len(stamps), [str(i) for i in range(len(stamps))], stamps)
    else:
        for i, s in enumerate(stamps):
            m.add_message("p", "user", str(i), timestamp=s)
    end = None if width is None or start is None else start + width
    got = m.get_messages_in_range("p", start, end)
    expected = [str(i) for i, s in enumerate(stamps) if (start is None or s >= start) and (end is None or s < end)]
    assert [x.content for x in got] == expected
    assert [x.timestamp for x in got] == sorted(x.timestamp for x in got)


# --- backend contract ----------------------------------------------------------------------
def test_backend_is_an_interface():
    assert issubclass(InMemoryBackend, MemoryBackend)
    with pytest.raises(TypeError):
        MemoryBackend()  # abstract
    backend = InMemoryBackend()
    m = MemoryManager(backend)
    assert m.backend is backend
    m.create_conversation("x")
    assert backend.list_ids() == ["x"] and backend.count("x") == 0


def test_concurrent_adds_keep_columns_consistent():
    m = MemoryManager()
    m.create_conversation("t")

    def worker(k):
        for i in range(500):
            m.add_message("t", "user", f"{k}:{i}")

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    msgs = m.get_messages("t")
    assert len(msgs) == 2000 == m.message_count("t")
    stamps = [x.timestamp for x in msgs]
    assert stamps == sorted(stamps)
    # each thread's own messages stay in its order
    for k in range(4):
        mine = [int(x.content.split(":")[1]) for x in msgs if x.content.startswith(f"{k}:")]
        assert mine == list(range(500))
    mid = stamps[1000]
    assert len(m.get_messages_in_range("t", mid, None)) == 2000 - bisect_left(stamps, mid)


def test_pickle_round_trip_keeps_history_and_read_only_metadata():
    import pickle

    m = MemoryManager()
    m.create_conversation("p", window_size=2, metadata={"user": "u"})
    m.add_message("p", "user", "a", timestamp=1.0, metadata={"k": [1]})
    m.add_message("p", "assistant", "b", timestamp=2.0)
    clone = pickle.loads(pickle.dumps(m))
    assert snapshot(clone) == snapshot(m)
    msg = clone.get_messages("p")[0]
    assert pickle.loads(pickle.dumps(msg)) == msg
    with pytest.raises(TypeError, match="read-only"):
        msg.metadata["k"] = 2
    with pytest.raises(TypeError):
        msg.metadata.update(k=3)
    clone.add_message("p", "user", "c", timestamp=3.0)  # the clone has its own working lock
    assert m.message_count("p") == 2 and clone.message_count("p") == 3
