"""Conversation memory: creation, add-entry throughput, reads and time-range retrieval.

Sizes sweep 1k → 1M entries in one conversation so the site shows how each read grows:
last-n and time-range retrieval should stay flat (O(k) and O(log n + k)), get-all is O(n).
Workloads are built by bulk import from seeded columns (``fixtures.make_memory``) once per
run in ``setup_cache`` and loaded from a pickle by each asv process.
"""

from __future__ import annotations

from benchmarks.fixtures import (
    MEMORY_RANGE_K,
    MEMORY_T0,
    MEMORY_WINDOW,
    make_memory,
    memory_back_references,
    memory_columns,
    memory_range,
    require,
    small_memory,
)
from benchmarks.framework import BenchmarkConfig, BenchmarkType, asv_benchmark, metric, relative_time, resource_channel

SIZES = [1_000, 100_000, 1_000_000]
GET_ALL_SIZES = [1_000, 10_000, 100_000]  # get-all is O(n) Message builds: 1M would take seconds


class _Budget:
    """Short measurement budgets: each parameter combination costs a process per round."""

    rounds = 2
    repeat = (3, 10, 0.5)
    warmup_time = 0.05


class _Conversations(_Budget):
    """Shares one setup_cache (asv keys it by this function, so it runs once per commit):
    every size is built once and pickled beside the benchmark processes, which load only
    the size they measure (loading a million entries is ~2-3x cheaper than rebuilding)."""

    timeout = 300

    def setup_cache(self):
        import pickle

        for n in sorted(set(SIZES) | set(GET_ALL_SIZES)):
            try:
                manager, cid, stamps = make_memory(n)
            except NotImplementedError:
                return  # an older commit: no pickles, so setup() skips every size
            mid = stamps[n // 2]
            # a range of MEMORY_RANGE_K entries in the middle, and an empty one (gaps are >= 1 ms)
            ranges = (memory_range(stamps, MEMORY_RANGE_K), (mid + 1e-4, mid + 2e-4))
            with open(f"memory-{n}.pickle", "wb") as fh:
                pickle.dump((manager, cid, ranges), fh, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def load(n_entries):
        import pickle

        require("intellirouter.memory", "MemoryManager")
        try:
            with open(f"memory-{n_entries}.pickle", "rb") as fh:
                return pickle.load(fh)
        except FileNotFoundError:
            raise NotImplementedError("setup_cache built no memory workload at this commit") from None


@relative_time("time_create_manager")
class ManagerCreation(_Budget):
    """A manager plus one conversation: the fixed cost of starting a session's memory."""

    def setup(self):
        self.MemoryManager = require("intellirouter.memory", "MemoryManager")

    def time_create_manager(self):
        manager = self.MemoryManager()
        manager.create_conversation("c", window_size=50)


class _AddEntry:
    """One add_message with a supplied (replayed) timestamp: deterministic, so it also
    carries the instruction-count channel."""

    config = BenchmarkConfig(
        name="add_entry",
        description="add_message to one growing conversation (amortised O(1))",
        benchmark_type=BenchmarkType.THROUGHPUT,
        sample_size=10,
        measurement_time=0.5,
        count_instructions=True,
        relative_time=True,
    )
    instruction_iterations = 200

    def setup(self):
        MemoryManager = require("intellirouter.memory", "MemoryManager")
        self.manager = MemoryManager()
        self.cid = self.manager.create_conversation("c", window_size=50)
        # fixed rows, no numpy: the instruction channel runs this setup under valgrind
        self.rows = [("user" if k % 2 == 0 else "assistant", f"message {k} " * (1 + k % 9))
                     for k in range(256)]
        self.i = 0

    def run_iteration(self):
        i = self.i
        self.i = i + 1
        role, content = self.rows[i & 255]
        self.manager.add_message(self.cid, role, content, timestamp=MEMORY_T0 + i)


AddEntry = asv_benchmark(_AddEntry)


@relative_time("time_get_last_n")
class GetMessages(_Conversations):
    """The window-bounded read a prompt makes: the last 50 messages (window 50)."""

    params = [SIZES]
    param_names = ["n_entries"]

    def setup(self, n_entries):
        self.manager, self.cid, _ = self.load(n_entries)

    def time_get_last_n(self, n_entries):
        self.manager.get_last_n(self.cid, 50)


@relative_time("time_get_all")
class GetAllMessages(_Conversations):
    """The full history read (O(n): every stored entry becomes a Message)."""

    params = [GET_ALL_SIZES]
    param_names = ["n_entries"]

    def setup(self, n_entries):
        self.manager, self.cid, _ = self.load(n_entries)

    def time_get_all(self, n_entries):
        self.manager.get_messages(self.cid)


@relative_time("time_time_range", "time_time_range_empty")
class TimeRangeRetrieval(_Conversations):
    """[start, end) retrieval by bisection: 100 entries from the middle, and an empty range
    (the pure O(log n) search)."""

    params = [SIZES]
    param_names = ["n_entries"]

    def setup(self, n_entries):
        self.manager, self.cid, ((self.start, self.end), self.empty) = self.load(n_entries)

    def time_time_range(self, n_entries):
        self.manager.get_messages_in_range(self.cid, self.start, self.end)

    def time_time_range_empty(self, n_entries):
        self.manager.get_messages_in_range(self.cid, *self.empty)


class _RetrievalSmall:
    """The window read (get_last_n(50)) and a 100-entry time range on a 10,000-entry conversation
    built without numpy: the retrieval paths on the instruction-count channel."""

    config = BenchmarkConfig(
        name="read_10k",
        description="get_last_n(50) / get_messages_in_range of 100 entries, 10,000 entries",
        benchmark_type=BenchmarkType.LATENCY,
        params={"read": ["last_50", "time_range_100"]},
        sample_size=5,
        measurement_time=0.3,
        count_instructions=True,
        relative_time=True,
    )
    rounds = 1
    instruction_iterations = 200  # ~20-30 µs a read

    def setup(self, read):
        manager, cid, stamps = small_memory(10_000)
        if read == "last_50":
            self.read = lambda: manager.get_last_n(cid, 50)
        else:
            start, end = memory_range(stamps, MEMORY_RANGE_K)
            self.read = lambda: manager.get_messages_in_range(cid, start, end)

    def run_iteration(self):
        self.read()


RetrievalSmall = asv_benchmark(_RetrievalSmall)


class _AddFootprint:
    """Memory and CPU of appending 100k messages one by one to a fresh conversation."""

    config = BenchmarkConfig(
        name="add_100k_messages",
        description="RSS growth, CPU time and peak memory of 100k add_message calls",
        benchmark_type=BenchmarkType.RESOURCE_USAGE,
        sample_size=1,
    )

    def setup(self):
        MemoryManager = require("intellirouter.memory", "MemoryManager")
        self.manager = MemoryManager()
        roles, contents, stamps = memory_columns(100_000, salt="footprint")
        self.rows = list(zip(roles, contents, stamps))
        self.n = 0

    def run_iteration(self):
        self.n += 1
        manager = self.manager
        cid = manager.create_conversation(f"c{self.n}", window_size=50)
        add = manager.add_message
        for role, content, ts in self.rows:
            add(cid, role, content, timestamp=ts)


AddFootprint = asv_benchmark(_AddFootprint)


class ContextHitRate:
    """Memory hit rate: the share of 400 seeded back-references (a turn referring to what was said
    d turns earlier, ``fixtures.memory_back_references``) whose referenced message is still in
    the context a prompt sees, ``get_context`` with a 50-message window, over 2,000 turns."""

    def setup(self):
        self.MemoryManager = require("intellirouter.memory", "MemoryManager")
        if not hasattr(self.MemoryManager, "get_context"):
            raise NotImplementedError("MemoryManager lacks get_context at this commit")
        self.refs = memory_back_references()

    @metric("hit rate", higher_is_better=True)
    def track_context_hit_rate(self):
        manager = self.MemoryManager()
        cid = manager.create_conversation("c", window_size=MEMORY_WINDOW)
        refs, hits, k = self.refs, 0, 0
        for turn in range(refs[-1][0] + 1):
            manager.add_message(cid, "user" if turn % 2 == 0 else "assistant", f"turn {turn}", timestamp=MEMORY_T0 + turn)
            while k < len(refs) and refs[k][0] == turn:
                held = {m.timestamp for m in manager.get_context(cid)}
                hits += (MEMORY_T0 + refs[k][1]) in held
                k += 1
        return hits / len(refs)


def _time_range_100_of_10k():
    manager, cid, stamps = make_memory(10_000)
    start, end = memory_range(stamps, MEMORY_RANGE_K)
    return lambda: manager.get_messages_in_range(cid, start, end)


def _add_message():
    MemoryManager = require("intellirouter.memory", "MemoryManager")
    manager = MemoryManager()
    cid = manager.create_conversation("c", window_size=50)
    roles, contents, stamps = memory_columns(4_096, salt="resources")
    rows = list(zip(roles, contents))
    state = {"i": 0}

    def add():
        i = state["i"]
        state["i"] = i + 1
        role, content = rows[i & 4095]
        manager.add_message(cid, role, content, timestamp=MEMORY_T0 + i)

    return add


@resource_channel
class Resources:
    """CPU, peak RSS, I/O and context switches per operation: a time-range read of 100 entries
    from a 10,000-entry conversation, and add_message to a growing one."""

    workloads = {"time_range_100_of_10k": (_time_range_100_of_10k, 3_000), "add_message": (_add_message, 50_000)}


def _measure_realistic() -> None:
    """Print one-off CPU-time measurements at 1M entries (``python -m benchmarks.memory_benchmarks``).

    CPU time (``time.process_time``), not wall time, so a busy shared machine distorts less.
    """
    import time
    import timeit

    from intellirouter.memory import MemoryManager

    def best(fn, number, repeat=5):
        return min(timeit.repeat(fn, number=number, repeat=repeat, timer=time.process_time)) / number

    n = 1_000_000
    roles, contents, stamps = memory_columns(n)
    manager = MemoryManager()
    cid = manager.create_conversation("c", window_size=50)
    add = manager.add_message
    t = time.process_time()
    for role, content, ts in zip(roles, contents, stamps):
        add(cid, role, content, timestamp=ts)
    print(f"add_message x {n:,}: {(time.process_time() - t) / n * 1e6:.2f} us/op")
    bulk = MemoryManager()
    bulk_id = bulk.create_conversation("c")
    t = time.process_time()
    bulk.import_columns(bulk_id, roles, contents, stamps)
    print(f"import_columns {n:,}: {time.process_time() - t:.2f} s")
    print(f"get_last_n(50): {best(lambda: manager.get_last_n(cid, 50), 200) * 1e6:.1f} us")
    for k in (0, 100, 10_000):
        start, end = memory_range(stamps, k) if k else (stamps[n // 2] + 1e-4, stamps[n // 2] + 2e-4)
        number = 10 if k > 1000 else 200
        took = best(lambda s=start, e=end: manager.get_messages_in_range(cid, s, e), number)
        print(f"time range, {k:,} results: {took * 1e6:.1f} us")


if __name__ == "__main__":
    _measure_realistic()
