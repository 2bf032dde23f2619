"""Runs inside the profiled interpreter: one asv benchmark body under one kind of measurement.

Started as ``python -P tools/profiling/child.py JOB.json`` by ``tools.profiling.runner``, with
the library revision's source tree first on ``sys.path`` and the current benchmark code
imported from ``benchmark_dir`` as asv does (only the benchmark package from its folder).
Discovery is asv_runner's own; running a benchmark rebuilds what asv_runner builds (setups,
teardowns, setup_cache, params, skip_params) without importing it (see ``Loaded``). Standard
library only otherwise: the child must not import ``tools`` (the revision's tree has its
own, older ``tools`` package first on the path).

Modes (``job["mode"]``), each writing JSON or pstats files into ``job["out"]``:

    discover     every benchmark: name, type, params, param_names
    setup_cache  run the benchmark's setup_cache into cwd (asv's cache.pickle and any files)
    calibrate    setup, warm-up, then seconds and bytecodes per call of the body
    profile      cProfile (time.pstats), bytecode stacks (bytecodes.json), tracemalloc (memory.json)
    count        setup, warm-up, then ``calls`` bodies (or only their setups): run under cachegrind

Calls repeat on one setup, except for benchmarks that set ``number = 1`` (fresh state per
call, e.g. registration into an empty registry): those re-run setup before each call, outside
what is measured. The garbage collector is off during measured calls, as in asv's timing.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time

NFRAMES = 64  # tracemalloc traceback depth: the runner's own frames sit above the body


# ---------------------------------------------------------------- labels: code -> (file, line, name)


class Labeler:
    """Stable function labels across revisions: repository-relative file and qualified name.

    Paths under the library tree or the benchmark package lose that prefix, so the same file
    at two revisions has the same label; the qualified name gets ``#k`` when k earlier
    functions of the file share it (lambdas), so names stay unique when lines move.
    """

    def __init__(self, prefixes: list[tuple[str, str]]):
        self.prefixes = sorted(prefixes, key=lambda p: -len(p[0]))
        self._files: dict[str, dict] = {}

    def path(self, filename: str) -> str:
        for prefix, replacement in self.prefixes:
            if prefix and filename.startswith(prefix.rstrip("/") + "/"):
                return replacement + filename[len(prefix.rstrip("/")) + 1 :]
        return filename

    def _codes(self, filename: str) -> dict:
        """{(firstlineno, co_name): (qualname#k, line set)} of every function in the file."""
        if filename not in self._files:
            self._files[filename] = _file_codes(filename)
        return self._files[filename]

    def name(self, filename: str, firstlineno: int, co_name: str, qualname: str | None = None) -> str:
        hit = self._codes(filename).get((firstlineno, co_name))
        return hit[0] if hit else (qualname or co_name)

    def enclosing(self, filename: str, lineno: int, outward: int = 0) -> tuple[str, int]:
        """(label, firstlineno) of the innermost function holding ``lineno``, or the one
        ``outward`` levels out ('<module>', 0 when none): a frame whose callee runs on the same
        line is the comprehension's or lambda's parent, not the comprehension."""
        holding = sorted(
            ((first, label) for (first, _), (label, lines) in self._codes(filename).items() if lineno in lines),
            reverse=True,
        )
        if outward < len(holding):
            first, label = holding[outward]
            return label, first
        return "<module>", 0


def _file_codes(filename: str) -> dict:
    try:
        with open(filename, encoding="utf-8") as fh:
            code = compile(fh.read(), filename, "exec")
    except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
        return {}
    found = []
    todo = [code]
    while todo:
        co = todo.pop()
        todo.extend(c for c in co.co_consts if hasattr(c, "co_code"))
        if co is not code:
            found.append(co)
    found.sort(key=lambda co: co.co_firstlineno)
    seen: dict[str, int] = {}
    out = {}
    for co in found:
        k = seen.get(co.co_qualname, 0)
        seen[co.co_qualname] = k + 1
        label = co.co_qualname if k == 0 else f"{co.co_qualname}#{k}"
        lines = {line for _, _, line in co.co_lines() if line is not None}
        out.setdefault((co.co_firstlineno, co.co_name), (label, lines))  # same line and name: the first
    return out


# ---------------------------------------------------------------- the benchmark


def _import_package(benchmark_dir: str):
    """Make only the benchmark package importable, from its own folder (as asv_runner does):
    nothing else of the current tree may shadow the revision's library."""
    import importlib.util

    root = os.path.abspath(benchmark_dir)
    name = os.path.basename(root)

    class _Only:
        def find_spec(self, fullname, path, target=None):
            if fullname != name:
                return None
            init = os.path.join(root, "__init__.py")
            return importlib.util.spec_from_file_location(name, init, submodule_search_locations=[root])

    sys.meta_path.insert(0, _Only())
    return root, name


def _locate(benchmark_dir: str, name: str):
    """(module, class or None, attribute) of an asv name, found the way asv_runner's
    ``get_benchmark_from_name`` does: ``mod.func`` or ``mod.Class.method`` under the package."""
    import importlib

    root, package = _import_package(benchmark_dir)
    parts = name.split(".")
    for i in (1, 2):
        if len(parts) > i and os.path.isfile(os.path.join(root, *parts[:-i]) + ".py"):
            module = importlib.import_module(".".join([package, *parts[:-i]]))
            owner = getattr(module, parts[-i], None)
            if i == 1 and callable(owner):
                return module, None, parts[-1]
            if i == 2 and isinstance(owner, type) and hasattr(owner, parts[-1]):
                return module, owner, parts[-1]
    raise SystemExit(f"benchmark {name!r} not found under {benchmark_dir}")


def _attrs_ci(sources, name):
    """Every source's attribute named ``name`` in any case (asv's setup/teardown lookup)."""
    for source in sources:
        found = [getattr(source, key) for key in dir(source) if key.lower() == name]
        if len(found) > 1:
            raise SystemExit(f"{source!r} has more than one {name} attribute")
        if found:
            yield found[0]


def _first(sources, name, default):
    return next((v for v in (getattr(s, name, None) for s in sources) if v is not None), default)


class Loaded:
    """An asv benchmark at one parameter combination, built as asv_runner builds it
    (``discovery._get_benchmark``, ``benchmarks._base.Benchmark``) but without importing
    asv_runner: that import (pympler, a scan of every installed distribution) costs ~650M
    instructions, 4 s per child under valgrind."""

    def __init__(self, benchmark_dir: str, name: str, param_index: int | None):
        module, klass, attr = _locate(benchmark_dir, name)
        if klass is None:
            self.func = getattr(module, attr)
            sources = [self.func, module]
        else:
            instance = klass()
            self.func = getattr(instance, attr)
            sources = [self.func, instance, module]
        self.setups = list(_attrs_ci(sources, "setup"))[::-1]
        self.teardowns = list(_attrs_ci(sources, "teardown"))
        self.setup_cache = _first(sources, "setup_cache", None)
        self.number = int(_first(sources, "number", 0) or 0)
        params = list(_first(sources, "params", []))
        params = [params] if params and not isinstance(params[0], (tuple, list)) else [list(p) for p in params]
        self.current = ()
        if param_index is not None:
            import itertools

            self.current = next(itertools.islice(itertools.product(*params), param_index, None))
        self.skip = tuple(self.current) in [tuple(t) for t in _first(sources, "skip_params", [])]
        self.cache = None

    def params(self) -> tuple:
        """Call arguments: the setup_cache result first (when there is one), then the parameters."""
        return (self.cache, *self.current) if self.cache is not None else tuple(self.current)

    def do_setup(self) -> str | None:
        """Run the setups; the reason when the benchmark skips itself, else None."""
        if self.skip:
            return "parameters listed in skip_params"
        try:
            for fn in self.setups:
                fn(*self.params())
        except NotImplementedError as exc:
            return f"setup raised NotImplementedError (asv skips it at this revision): {exc}"
        return None

    def do_teardown(self) -> None:
        for fn in self.teardowns:
            fn(*self.params())


def load_benchmark(job: dict) -> Loaded:
    """The job's benchmark at its parameter index, with asv's cache.pickle read when it has a setup_cache."""
    bench = Loaded(job["benchmark_dir"], job["name"], job.get("param_index"))
    if bench.setup_cache is not None:
        import pickle

        with open("cache.pickle", "rb") as fh:
            bench.cache = pickle.load(fh)
    return bench


class Body:
    """Calls a set-up benchmark's body; re-runs setup first when each call needs fresh state."""

    def __init__(self, bench: Loaded):
        self.bench = bench
        self.fresh = bench.number == 1
        self.func = bench.func
        self.params = bench.params()
        self.first = True

    def prepare(self) -> None:
        """Before a call: a fresh setup when the benchmark asks for one (not before the first)."""
        if self.fresh and not self.first:
            self.bench.do_teardown()
            self.bench.do_setup()
        self.first = False

    def call(self):
        return self.func(*self.params)

    def run(self, n: int, around=None, call: bool = True) -> None:
        """``n`` calls; ``around`` is a (start, stop) pair wrapped around each call only. The
        body is called from this frame, so profilers started here see it as the root.
        ``call=False`` runs the same loop with only the setups (the cachegrind baseline)."""
        start, stop = around or (None, None)
        func, params = self.func, self.params
        for _ in range(n):
            self.prepare()
            if call:
                if start:
                    start()
                func(*params)
                if stop:
                    stop()


def setup(job: dict):
    """(Body, None) after setup and warm-up, or (None, reason) when setup skips itself."""
    bench = load_benchmark(job)
    skipped = bench.do_setup()
    if skipped:
        return None, skipped
    body = Body(bench)
    body.run(int(job.get("warm_up", 1)))
    return body, None


# ---------------------------------------------------------------- deterministic bytecode stacks


class BytecodeTracer:
    """Counts executed bytecode instructions per Python call stack (``sys.settrace`` with
    opcode events): exact and repeatable for a seeded workload, and blind to work done
    inside C functions (a builtin call counts as the few bytecodes that call it)."""

    def __init__(self):
        self.count = 0
        self.nodes: dict[tuple, int] = {}  # (parent node, code) -> node
        self.keys: list[tuple] = [(None, None)]  # node -> (parent node, code); node 0 is the root
        self.self_counts: list[int] = [0]
        self.stack = [0]
        self.mark = 0

    def _flush(self) -> None:
        self.self_counts[self.stack[-1]] += self.count - self.mark
        self.mark = self.count

    def _local(self, frame, event, arg):
        if event == "opcode":
            self.count += 1
        elif event == "return":
            self._flush()
            if len(self.stack) > 1:
                self.stack.pop()
        return self._local

    def _call(self, frame, event, arg):
        self._flush()
        key = (self.stack[-1], frame.f_code)
        node = self.nodes.get(key)
        if node is None:
            node = self.nodes[key] = len(self.keys)
            self.keys.append(key)
            self.self_counts.append(0)
        self.stack.append(node)
        frame.f_trace_lines = False
        frame.f_trace_opcodes = True
        return self._local

    def around(self) -> tuple:
        """(start, stop) for ``Body.run``: C calls, so no frame of the tracer is ever traced."""
        import functools

        return functools.partial(sys.settrace, self._call), functools.partial(sys.settrace, None)

    def stacks(self, labeler: Labeler) -> list[list]:
        """[[frame, ...], count] per stack with bytecodes of its own; frame = [file, line, name]."""
        out = []
        for node, count in enumerate(self.self_counts):
            if node == 0 or count == 0:
                continue
            frames = []
            while node:
                node, code = self.keys[node]
                frames.append(_code_frame(code, labeler))
            out.append([frames[::-1], count])
        return sorted(out, key=lambda s: (s[0], s[1]))


def _code_frame(code, labeler: Labeler) -> list:
    name = labeler.name(code.co_filename, code.co_firstlineno, code.co_name, code.co_qualname)
    return [labeler.path(code.co_filename), code.co_firstlineno, name]


# ---------------------------------------------------------------- the measurements


def _gc_off(fn):
    gc.collect()
    gc.disable()
    try:
        return fn()
    finally:
        gc.enable()


CLOCKS = ("wall", "cpu")
ROUND_S = 0.005  # wall seconds per profiled round (a round is at least one call)
MAX_STOLEN = 0.02  # wall clock: a round counts when preemption took at most 2% of it


def _profiler(clock: str):
    """cProfile on its own wall clock (cheap to read: ~0.1 µs here) or on the thread's CPU
    time (a system call here, ~1.5 µs per event, which swamps bodies of many small calls)."""
    import cProfile

    if clock == "cpu":
        return cProfile.Profile(time.thread_time_ns, 1e-9)
    if clock == "wall":
        return cProfile.Profile()
    raise SystemExit(f"unknown clock {clock!r}; expected one of {CLOCKS}")


MIN_CLEAN_ROUNDS = 10  # fewer whole rounds than this: every round counts, rescaled


class Rounds:
    """cProfile in short rounds, each with its own profiler. On the wall clock a round counts
    only when the process kept its core for the whole round (wall time less the thread's CPU
    time is at most ``MAX_STOLEN`` of it): on a shared machine the time a process waits for a
    core lands, in milliseconds at a time, on whichever function was running, and it is most
    of the noise. With fewer than ``MIN_CLEAN_ROUNDS`` such rounds (long calls on a busy
    machine) every round counts, its times scaled by its CPU / wall time: the waiting is then
    taken out on average, not function by function, and ``clean`` says so."""

    def __init__(self, clock: str):
        self.clock = clock
        self.clean: dict = {}
        self.scaled: dict = {}  # every round, times scaled by CPU / wall
        self.clean_calls = self.all_calls = self.rounds = self.kept = 0

    def run(self, body: Body, n: int) -> float:
        """One round of ``n`` calls; returns its wall seconds."""
        prof = _profiler(self.clock)
        w0, c0 = time.perf_counter(), time.thread_time()
        body.run(n, (prof.enable, prof.disable))
        wall, cpu = time.perf_counter() - w0, time.thread_time() - c0
        prof.create_stats()
        self.rounds += 1
        ratio = min(cpu / wall, 1.0) if wall > 0 and self.clock == "wall" else 1.0
        self.scaled = _merge(self.scaled, _scaled(prof.stats, ratio))
        self.all_calls += n
        if ratio >= 1.0 - MAX_STOLEN:
            self.clean = _merge(self.clean, prof.stats)
            self.clean_calls += n
            self.kept += 1
        return wall

    def result(self) -> tuple[dict, int, bool]:
        """(stats, calls, whether only whole rounds count)."""
        if self.kept >= MIN_CLEAN_ROUNDS or self.clock == "cpu":
            return self.clean, self.clean_calls, True
        return self.scaled, self.all_calls, False


def _scaled(stats: dict, ratio: float) -> dict:
    """cProfile stats with every time multiplied by ``ratio`` (counts unchanged)."""
    if ratio == 1.0:
        return stats
    out = {}
    for key, (cc, nc, tt, ct, callers) in stats.items():
        out[key] = (
            cc,
            nc,
            tt * ratio,
            ct * ratio,
            {k: (c, n, t * ratio, u * ratio) for k, (c, n, t, u) in callers.items()},
        )
    return out


def _merge(into: dict, stats: dict) -> dict:
    for key, entry in stats.items():
        into[key] = _add(into[key], entry) if key in into else entry
    return into


def profile_time(body: Body, seconds: float, most: int, clock: str, labeler: Labeler, out: str) -> dict:
    """cProfile rounds of ~``ROUND_S`` for about ``seconds`` (at least one call, at most
    ``most`` calls measured). Writes ``time.pstats`` (stable labels, the rounds that count);
    returns {calls, rounds, kept, clean}."""
    rounds = Rounds(clock)
    end = time.perf_counter() + seconds
    per_call = None
    gc.collect()
    gc.disable()  # once for the phase: a collection per round would cost more than the round
    try:
        while rounds.all_calls < most and (rounds.rounds == 0 or time.perf_counter() < end):
            n = 1 if per_call is None else max(1, min(int(ROUND_S / per_call), most - rounds.all_calls))
            per_call = rounds.run(body, n) / n
    finally:
        gc.enable()
    stats, calls, clean = rounds.result()
    write_pstats(rewrite_stats(stats, labeler), os.path.join(out, "time.pstats"))
    return {"calls": calls, "rounds": rounds.rounds, "kept": rounds.kept, "clean": clean}


_ADDRESS = None  # compiled lazily: " at 0x7f...>" in the names cProfile gives some builtins


def _pstats_key(key: tuple, labeler: Labeler) -> tuple:
    """Repository-relative file and qualified name; builtins lose the object address in their
    name (``<built-in method __new__ of type object at 0x7f...>``), which differs per process."""
    global _ADDRESS
    filename, line, name = key
    if filename == "~":
        if _ADDRESS is None:
            import re

            _ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
        return (filename, line, _ADDRESS.sub("", name))
    if not os.path.isabs(filename):
        return key
    return (labeler.path(filename), line, labeler.name(filename, line, name))


def _add(a: tuple, b: tuple) -> tuple:
    """Two pstats entries (cc, nc, tt, ct[, callers]) of what is now one key, added up."""
    summed = tuple(x + y for x, y in zip(a[:4], b[:4]))
    if len(a) == 4:
        return summed
    callers = dict(a[4])
    for k, v in b[4].items():
        callers[k] = _add(callers[k], v) if k in callers else v
    return (*summed, callers)


def rewrite_stats(stats: dict, labeler: Labeler) -> dict:
    """cProfile's stats with repository-relative, qualified keys (entries that now share a key
    are added up); the profiler's ``disable`` call is dropped."""

    def keep(key):
        return "_lsprof.Profiler" not in key[2]

    rewritten: dict = {}
    for key, (cc, nc, tt, ct, callers) in stats.items():
        if not keep(key):
            continue
        new_callers: dict = {}
        for k, v in callers.items():
            if keep(k):
                k = _pstats_key(k, labeler)
                new_callers[k] = _add(new_callers[k], v) if k in new_callers else v
        entry, new = (cc, nc, tt, ct, new_callers), _pstats_key(key, labeler)
        rewritten[new] = _add(rewritten[new], entry) if new in rewritten else entry
    return rewritten


def write_pstats(stats: dict, path: str) -> None:
    """pstats' own file format: the marshalled stats dict (``pstats.Stats(path)`` reads it)."""
    import marshal

    with open(path, "wb") as fh:
        marshal.dump(stats, fh)


def profile_bytecodes(body: Body, n: int, labeler: Labeler, out: str) -> int:
    tracer = BytecodeTracer()
    _gc_off(lambda: body.run(n, tracer.around()))
    _write_json(
        os.path.join(out, "bytecodes.json"), {"calls": n, "total": tracer.count, "stacks": tracer.stacks(labeler)}
    )
    return tracer.count


def profile_memory(body: Body, labeler: Labeler, out: str) -> None:
    """tracemalloc over one call: the peak above the start, and what the call left allocated
    by allocation stack (tracemalloc keeps no record of memory already freed)."""
    import tracemalloc

    body.prepare()
    tracemalloc.start(NFRAMES)
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    result = body.call()
    snapshot = tracemalloc.take_snapshot()
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del result
    stacks = _memory_stacks(snapshot, body.func, labeler)
    data = {"calls": 1, "peak": peak - base, "retained": current - base, "stacks": stacks}
    _write_json(os.path.join(out, "memory.json"), data)


def _memory_stacks(snapshot, func, labeler: Labeler) -> list[list]:
    """[[frame, ...], bytes, leaf line] per allocation traceback below the body's own frame."""
    code = getattr(func, "__func__", func).__code__
    out = []
    for stat in snapshot.statistics("traceback"):
        frames = list(stat.traceback)  # oldest first
        start = next(
            (i for i, f in enumerate(frames) if f.filename == code.co_filename and f.lineno >= code.co_firstlineno),
            None,
        )
        if start is None:
            continue
        frames = frames[start:]
        stack = []
        for i, f in enumerate(frames):
            same = 0  # callees on the same file and line: this frame is that many levels out
            while i + same + 1 < len(frames) and (frames[i + same + 1].filename, frames[i + same + 1].lineno) == (
                f.filename,
                f.lineno,
            ):
                same += 1
            name, first = labeler.enclosing(f.filename, f.lineno, same)
            stack.append([labeler.path(f.filename), first, name])
        out.append([stack, stat.size, frames[-1].lineno])
    return sorted(out, key=lambda s: (s[0], s[2], s[1]))


# ---------------------------------------------------------------- modes


def _write_json(path: str, data) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(data, fh)


def mode_discover(job: dict) -> None:
    from asv_runner.discovery import disc_benchmarks

    _import_package(job["benchmark_dir"])  # what asv_runner's own entry point sets up first
    found = []
    for bench in disc_benchmarks(job["benchmark_dir"]):
        found.append(
            {
                "name": bench.name,
                "type": bench.type,
                "params": bench.params,
                "param_names": bench.param_names,
                "setup_cache": bench.setup_cache_key is not None,
            }
        )
    _write_json(os.path.join(job["out"], "discover.json"), sorted(found, key=lambda b: b["name"]))


def _binds_no_arguments(fn) -> bool:
    import inspect

    try:
        inspect.signature(fn).bind()
    except (TypeError, ValueError):
        return False
    return True


def mode_setup_cache(job: dict) -> None:
    """asv's setup_cache step: parameter-free setups, then setup_cache; its result pickled
    into cwd as cache.pickle, beside any files it writes."""
    import inspect
    import pickle

    bench = Loaded(job["benchmark_dir"], job["name"], None)
    for fn in bench.setups:  # setup hooks callable without arguments run first (asv#1592)
        if not inspect.ismethod(fn) and _binds_no_arguments(fn):
            fn()
    cache = bench.setup_cache() if bench.setup_cache is not None else None
    with open("cache.pickle", "wb") as fh:
        pickle.dump(cache, fh)


def _time_calls(body: Body, budget_s: float = 0.3, most: int = 100_000) -> float:
    """CPU seconds per call (the thread's CPU time, which a busy machine does not inflate),
    over up to ``most`` calls or ``budget_s`` seconds. Calls needing a fresh setup are timed
    one by one (median), the setup left out; the others as one batch."""
    clock, end = time.thread_time, time.perf_counter() + budget_s
    if body.fresh:
        times = []
        while len(times) < min(most, 200) and (not times or time.perf_counter() < end):
            body.prepare()
            t0 = clock()
            body.call()
            times.append(clock() - t0)
        return sorted(times)[len(times) // 2]
    done, t0 = 0, clock()
    while done < most and (not done or time.perf_counter() < end):
        body.call()
        done += 1
    return (clock() - t0) / done


def mode_calibrate(job: dict) -> dict:
    """Bytecodes of the first call after warm-up (deterministic: it picks the deterministic
    call counts), then the median seconds per call."""
    t0 = time.perf_counter()
    body, skipped = setup(job)
    result = {"skipped": skipped, "setup_s": time.perf_counter() - t0}
    if body is not None:
        t1 = time.perf_counter()
        tracer = BytecodeTracer()
        _gc_off(lambda: body.run(1, tracer.around()))
        result.update(bytecodes_per_call=tracer.count, fresh_setup=body.fresh)
        result["call_s"] = _time_calls(body)
        result["measure_s"] = time.perf_counter() - t1
    _write_json(os.path.join(job["out"], "calibrate.json"), result)
    return result


def mode_profile(job: dict) -> None:
    body, skipped = setup(job)
    out = job["out"]
    if body is None:
        _write_json(os.path.join(out, "profile.json"), {"skipped": skipped})
        return
    labeler = Labeler([tuple(p) for p in job["prefixes"]])
    calls = job["calls"]
    # Bytecodes first: what runs before them must not depend on timing (the time phase's
    # call count does), or the exact counts would vary with the machine's speed.
    total = profile_bytecodes(body, calls["bytecodes"], labeler, out)
    timing = profile_time(body, float(job["time_s"]), calls["time"], job.get("clock", "wall"), labeler, out)
    if calls.get("memory"):
        profile_memory(body, labeler, out)
    calls = {**calls, "time": timing.pop("calls")}
    _write_json(
        os.path.join(out, "profile.json"), {"skipped": None, "bytecodes": total, "calls": calls, "time": timing}
    )


def mode_count(job: dict) -> None:
    """Under cachegrind: setup and warm-up, then ``calls`` bodies (``run_body`` 1) or only the
    setups those calls would need (``run_body`` 0); the difference of the two runs is the bodies."""
    body, skipped = setup(job)
    if body is None:
        raise SystemExit(f"skipped: {skipped}")
    n = int(job["calls"])
    _gc_off(lambda: body.run(n, call=bool(int(job["run_body"]))))


MODES = {
    "discover": mode_discover,
    "setup_cache": mode_setup_cache,
    "calibrate": mode_calibrate,
    "profile": mode_profile,
    "count": mode_count,
}


def main(argv: list[str]) -> None:
    with open(argv[1], encoding="utf-8") as fh:
        job = json.load(fh)
    if job.get("library_root"):
        sys.path.insert(0, job["library_root"])
    MODES[job["mode"]](job)


if __name__ == "__main__":
    main(sys.argv)
