"""``asv_benchmark``: turn a Benchmarkable into an asv benchmark class.

The generated class is a fresh class (asv names benchmarks by the class's ``__name__`` and
the module attribute it finds; both are the Benchmarkable's name without the leading
underscore, and the underscored original is invisible to asv's discovery). Its ``setup``
builds a new Benchmarkable instance and calls ``setup(*params)``, so each asv setup gets a
fresh workload; ``teardown`` forwards. The methods generated per ``BenchmarkType``:

    LATENCY         time_<name>
    THROUGHPUT      time_<name>, track_<name>_throughput            (ops/s)
    RESOURCE_USAGE  peakmem_<name>, track_<name>_cpu_time (seconds),
                    track_<name>_rss_growth, track_<name>_io_read_bytes,
                    track_<name>_io_write_bytes                      (bytes)
    METRIC          track_<name>: the number run_iteration() returns (config.unit, with the
                    declared direction: see metrics.py)
    count_instructions=True adds track_<name>_instructions           (instructions)
    relative_time=True adds track_<name>_relative                    (relative: see relative.py)

``config.unit`` reaches asv: the throughput's rate (default ops/s) and a METRIC's unit; a unit
that does not fit the type was already refused by ``BenchmarkConfig``.

Any ``time_*``, ``track_*``, ``peakmem_*`` or ``mem_*`` method written on the Benchmarkable
(a custom metric, e.g. ``def track_cost(self, *params): ...`` with ``track_cost.unit = "USD"``, or
declared with ``@metric("recall@5", higher_is_better=True)``) is forwarded to the instance with its attributes. asv attributes set on the Benchmarkable
class (``rounds``, ``repeat``, ``number``, ``timeout``, ``warmup_time``, ``sample_time``,
``min_run_count``, ``skip_params``, ``version``) override what the config implies.
"""

from __future__ import annotations

import gc
import itertools
import numbers
import os
import re
import time
from typing import Any

from .config import BenchmarkConfig, BenchmarkType
from .instructions import CHILD_VAR, DEFAULT_ITERATIONS, DEFAULT_WARM_UP, count_instructions
from .relative import make_twin, source_text
from .resources import measure_resources

HARNESS_VERSION = "1"
_ASV_METHOD = re.compile(r"^(time_|timeraw_|track_|peakmem_|mem_)")
_ASV_CLASS_ATTRS = (
    "rounds",
    "processes",
    "repeat",
    "number",
    "timeout",
    "warmup_time",
    "sample_time",
    "min_run_count",
    "skip_params",
    "version",
)
# asv kills a benchmark that runs longer than ``timeout``; setup counts too, so the kill
# budget is generous while ``repeat``'s max_time keeps sampling to measurement_time.
_MIN_TIMEOUT = 120.0
_INSTRUCTION_TIMEOUT = 600.0


# inspect and hashlib are imported where used: the instruction-count child imports every
# benchmark module under valgrind and needs neither (see _describe).


def _version(cls: type) -> str:
    """Changes when the workload's code changes, as asv's own version does for plain classes.

    asv hashes the benchmark method and setup; ours are generic, so hash the Benchmarkable's
    setup/run_iteration/teardown instead. Budgets and parameter lists are not part of it
    (changing them must not throw history away).
    """
    import hashlib
    import inspect

    parts = [HARNESS_VERSION]
    for attr in ("setup", "run_iteration", "teardown"):
        fn = getattr(cls, attr, None)
        if fn is not None:
            try:
                parts.append(inspect.getsource(fn))
            except (OSError, TypeError):
                parts.append(getattr(fn, "__qualname__", attr))
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def _throughput(bench: Any, config: BenchmarkConfig) -> float:
    """Operations per second of ``run_iteration`` in a loop of ~measurement_time seconds."""
    run = bench.run_iteration
    clock = time.perf_counter
    deadline = clock() + config.warm_up_time
    while clock() < deadline:
        run()
    gc_was_enabled = gc.isenabled()
    gc.disable()  # as timeit does, so time_* and throughput see the same conditions
    try:
        count = 0
        start = clock()
        deadline = start + config.measurement_time
        while True:
            run()
            count += 1
            now = clock()
            if now >= deadline:
                break
    finally:
        if gc_was_enabled:
            gc.enable()
    return count / (now - start)


def _metric_method(config: BenchmarkConfig) -> Any:
    """``track_<name>`` of a METRIC benchmark: the number ``run_iteration()`` returns."""

    def value(self, *params):
        result = self._bench.run_iteration()
        if isinstance(result, bool) or not isinstance(result, numbers.Real):
            raise TypeError(
                f"{config.name}: run_iteration() returned {type(result).__name__}; a METRIC reports a number "
                f"in {config.recorded_unit!r}"
            )
        return float(result)

    value.unit = config.recorded_unit
    value.rounds = 1  # asv keeps one value per track result: a second round would overwrite it
    return value


def _param_index(config: BenchmarkConfig, params: tuple) -> tuple[int, ...]:
    """Position of each parameter value in its list (the child rebuilds values from indices)."""
    index = []
    for values, value in zip(config.params.values(), params):
        for i, candidate in enumerate(values):
            if candidate is value or candidate == value:
                index.append(i)
                break
        else:
            raise ValueError(f"{config.name}: parameter value {value!r} is not in {list(values)!r}")
    return tuple(index)


def _forwarder(name: str, original: Any) -> Any:
    def method(self, *params):
        return getattr(self._bench, name)(*params)

    method.__name__ = name
    # asv reads unit, timeout, ... from the function first; keep the author's attributes.
    method.__dict__.update(getattr(original, "__dict__", {}))
    if not _in_instruction_child():
        import inspect

        try:
            method.pretty_source = inspect.getsource(original)
        except (OSError, TypeError):
            pass
    return method


def _in_instruction_child() -> bool:
    return os.environ.get(CHILD_VAR) == "1"


def _describe(cls: type) -> tuple[str, str]:
    """(version, source) for asv; skipped in the instruction-count child, where reading and
    parsing source files would only add start-up instructions to both runs."""
    if _in_instruction_child():
        return "", ""
    return _version(cls), source_text(cls)


def asv_benchmark(cls: type) -> type:
    """Return an asv benchmark class for the Benchmarkable ``cls`` (see the module docstring)."""
    config = getattr(cls, "config", None)
    if not isinstance(config, BenchmarkConfig):
        raise TypeError(f"{cls.__qualname__}: a Benchmarkable needs a class attribute config = BenchmarkConfig(...)")
    for needed in ("setup", "run_iteration"):
        if not callable(getattr(cls, needed, None)):
            raise TypeError(f"{cls.__qualname__}: a Benchmarkable needs a {needed}() method")
    name = cls.__name__.lstrip("_")
    if not name:
        raise TypeError(f"{cls.__qualname__}: cannot derive a class name")
    stem = config.name
    version, source = _describe(cls)

    def setup(self, *params):
        self._bench = cls()
        self._bench.setup(*params)

    def teardown(self, *params):
        bench = getattr(self, "_bench", None)
        self._bench = None
        if bench is not None and callable(getattr(bench, "teardown", None)):
            bench.teardown()

    ns: dict[str, Any] = {
        "__module__": cls.__module__,
        "__qualname__": name,
        "__doc__": config.description or cls.__doc__,
        "_benchmarkable": cls,
        "config": config,
        "setup": setup,
        "teardown": teardown,
        # sample_size -> repeat as (min, max, max_time): at most sample_size samples, and
        # sampling stops once measurement_time is spent (after at least min samples).
        "repeat": (min(3, config.sample_size), config.sample_size, config.measurement_time),
        "warmup_time": config.warm_up_time,
        "sample_time": max(config.measurement_time / config.sample_size, 1e-3),
        "timeout": max(_MIN_TIMEOUT, 20 * (config.warm_up_time + config.measurement_time)),
        "version": version,
    }
    if config.params:
        ns["params"] = config.param_values
        ns["param_names"] = config.param_names

    methods: dict[str, Any] = {}

    def run_once():  # a new function object per method: asv reads attributes off each
        def method(self, *params):
            self._bench.run_iteration()

        return method

    if config.benchmark_type in (BenchmarkType.LATENCY, BenchmarkType.THROUGHPUT):
        methods[f"time_{stem}"] = run_once()
    if config.benchmark_type is BenchmarkType.THROUGHPUT:

        def throughput(self, *params):
            return _throughput(self._bench, config)

        throughput.unit = config.recorded_unit
        methods[f"track_{stem}_throughput"] = throughput
    if config.benchmark_type is BenchmarkType.METRIC:
        methods[f"track_{stem}"] = _metric_method(config)
    if config.benchmark_type is BenchmarkType.RESOURCE_USAGE:
        methods[f"peakmem_{stem}"] = run_once()
        for field, unit in (
            ("cpu_time", "seconds"),
            ("rss_growth", "bytes"),
            ("io_read_bytes", "bytes"),
            ("io_write_bytes", "bytes"),
        ):

            def track(self, *params, _field=field):
                _, usage = measure_resources(self._bench.run_iteration)
                return getattr(usage, _field)

            track.unit = unit
            methods[f"track_{stem}_{field}"] = track
    if config.count_instructions:
        iterations = int(getattr(cls, "instruction_iterations", DEFAULT_ITERATIONS))
        warm_up = int(getattr(cls, "instruction_warm_up", DEFAULT_WARM_UP))

        def instructions(self, *params):
            # The child looks the Benchmarkable up by its own module-level name.
            return count_instructions(
                cls.__module__, cls.__name__, _param_index(config, params), iterations=iterations, warm_up=warm_up
            )

        instructions.unit = "instructions"
        instructions.timeout = _INSTRUCTION_TIMEOUT
        methods[f"track_{stem}_instructions"] = instructions

    if config.relative_time:
        methods[f"track_{stem}_relative"] = make_twin(
            lambda self, params: self._bench.run_iteration,
            version_of=tuple(f for f in (getattr(cls, a, None) for a in ("setup", "run_iteration")) if f))

    for attr, value in vars(cls).items():
        if _ASV_METHOD.match(attr) and callable(value):
            if attr in methods:
                raise TypeError(f"{cls.__qualname__}.{attr} clashes with a method the adapter generates")
            methods[attr] = _forwarder(attr, value)
        elif attr in _ASV_CLASS_ATTRS:
            ns[attr] = value

    for attr, fn in methods.items():
        fn.__name__ = attr
        fn.__qualname__ = f"{name}.{attr}"
        fn.__module__ = cls.__module__
        # The asv site shows this source and the version follows the workload, not this file.
        fn.__dict__.setdefault("pretty_source", source)
        ns[attr] = fn
    return type(name, (), ns)


def param_grid(config: BenchmarkConfig) -> list[tuple]:
    """Every parameter combination in asv's order (``itertools.product`` of the lists)."""
    return list(itertools.product(*config.param_values)) if config.params else [()]


__all__ = ["asv_benchmark", "param_grid", "HARNESS_VERSION"]
