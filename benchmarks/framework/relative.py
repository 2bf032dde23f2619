"""The speed-normalised channel: wall time in units of a reference kernel timed beside it.

On these shared machines a whole process runs fast or slow: a pure-Python reference loop
timed in one process differs from the same loop in another by 15-25% (CV), and the benchmark
workload in that process moves with it. Measured over 20 fresh processes (load ~1):

    between-process CV of           wall median   median of per-sample (wall / reference)
    FindModels full scan 10%           20.8%              3.8%
    StatusChange update_status         19.6%              4.0%
    Route cost_optimized, 10           20.8%              6.3%

so most of the between-process noise is a speed factor that the benchmark shares with any
CPU-bound code running next to it, and it cancels in the ratio. ``measure_relative`` times
the workload in short samples (~5 ms) and the reference kernel (~0.5 ms) between every two
samples; each sample is divided by the geometric mean of the reference timings on either
side of it, and the result is the median of those ratios: the workload's cost per call in
*reference units* (unit ``"relative"``). A slowdown of the workload by x% raises it by x%;
a slowdown of the machine cancels. Wall time stays the number users feel; this is the
low-noise witness for wall time, as instruction counts are the exact witness for work.

The reference kernel is fixed code of the harness (not of intellirouter), so it costs the
same at every commit: it mixes integer arithmetic, attribute and dict access, list appends
and calls, the operations the library's hot paths are made of. Changing it changes the
unit, so its source is part of every twin's asv ``version`` (history restarts).

``relative_time("time_a", "time_b")`` is a class decorator for plain asv classes: it adds
``track_a_relative`` and ``track_b_relative`` that measure exactly what ``time_a`` and
``time_b`` time, after the class's own ``setup``. The adapter adds ``track_<name>_relative``
for a Benchmarkable with ``BenchmarkConfig(relative_time=True)``.
"""

from __future__ import annotations

import functools
import gc
import math
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from .instructions import CHILD_VAR

# Bump when measure_relative changes what it reports: part of every twin's asv version.
RELATIVE_VERSION = "1"
UNIT = "relative"
SAMPLES = 30
SAMPLE_TIME = 0.005  # seconds per sample: short, so the reference brackets each sample closely
WARM_UP_TIME = 0.05
MIN_SAMPLES = 5
MAX_TIME = 1.0  # seconds of sampling at most: a 150 ms call gets MIN_SAMPLES, not SAMPLES
TIMEOUT = 120.0


class _Slot:
    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value


def _touch(slot: _Slot, table: dict, i: int) -> int:
    table[i & 63] = slot.value + i
    return table.get(i & 31, 0)


def reference_kernel() -> int:
    """Fixed pure-Python work, ~0.5 ms here: arithmetic, attributes, dict, list, calls."""
    acc = 0
    for i in range(2_000):
        acc += i * i
    slot, table, out = _Slot(1), {}, []
    for i in range(800):
        out.append(_touch(slot, table, i))
    return acc + len(out)


def _calibrate(fn: Callable[[], Any], sample_time: float, warm_up_time: float, clock) -> int:
    """Calls per sample so one sample lasts about ``sample_time`` (timeit.autorange-like)."""
    deadline = clock() + warm_up_time
    while clock() < deadline:
        fn()
    number = 1
    while True:
        start = clock()
        for _ in range(number):
            fn()
        took = clock() - start
        if took >= sample_time / 4 or number >= 1 << 24:
            break
        number *= 2
    return max(1, int(round(number * sample_time / took))) if took > 0 else number


def relative_samples(
    fn: Callable[[], Any],
    *,
    samples: int = SAMPLES,
    sample_time: float = SAMPLE_TIME,
    warm_up_time: float = WARM_UP_TIME,
    max_time: float = MAX_TIME,
    min_samples: int = MIN_SAMPLES,
    reference: Callable[[], Any] = reference_kernel,
    clock: Callable[[], float] = time.perf_counter,
) -> list[float]:
    """Per-sample ratios: time per call of ``fn`` / geometric mean of the bracketing references.

    Takes ``samples`` samples, or stops once ``max_time`` seconds of sampling are spent and at
    least ``min_samples`` were taken.
    """
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples!r}")
    number = _calibrate(fn, sample_time, warm_up_time, clock)
    for _ in range(3):  # the reference's own first-call effects
        reference()

    def timed_reference() -> float:
        start = clock()
        reference()
        return clock() - start

    gc_was_enabled = gc.isenabled()
    gc.disable()  # as timeit (and so asv's time_*) does
    try:
        ratios = []
        before = timed_reference()
        begun = clock()
        for i in range(samples):
            if i >= min_samples and clock() - begun >= max_time:
                break
            start = clock()
            for _ in range(number):
                fn()
            per_call = (clock() - start) / number
            after = timed_reference()
            ratios.append(per_call / math.sqrt(before * after) if before > 0 and after > 0 else math.nan)
            before = after
    finally:
        if gc_was_enabled:
            gc.enable()
    return ratios


def measure_relative(fn: Callable[[], Any], **kwargs) -> float:
    """Median per-sample cost of ``fn`` in reference units (see the module docstring)."""
    ratios = [r for r in relative_samples(fn, **kwargs) if math.isfinite(r)]
    if not ratios:
        raise RuntimeError("relative timing failed: the reference kernel took no measurable time")
    return statistics.median(ratios)


def source_text(fn: Any) -> str:
    """Source of a function or class for asv (``pretty_source``, versions); its name if unavailable."""
    import inspect

    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return getattr(fn, "__qualname__", repr(fn))


def twin_version(*parts: Any) -> str:
    """asv version of a twin: the timed code, the reference kernel and this module's rule."""
    import hashlib

    text = "\n".join([RELATIVE_VERSION, source_text(reference_kernel), source_text(_touch)] + [source_text(p) for p in parts])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def make_twin(call: Callable[[Any, tuple], Callable[[], Any]], *, version_of: tuple = (),
              pretty: Any = None) -> Callable:
    """A ``track_*_relative`` method; ``call(self, params)`` returns the zero-argument workload."""

    def track(self, *params):
        return measure_relative(call(self, params))

    track.unit = UNIT
    track.rounds = 1  # asv keeps one value per track result: a second round would overwrite it
    track.timeout = TIMEOUT
    if os.environ.get(CHILD_VAR) != "1":  # the instruction-count child skips inspect/hashlib work
        track.version = twin_version(*version_of)
        if pretty is not None:
            track.pretty_source = source_text(pretty)
    return track


def relative_time(*method_names: str):
    """Class decorator: add ``track_<stem>_relative`` for each named ``time_<stem>`` method."""
    if not method_names:
        raise TypeError("relative_time() needs the names of the time_* methods to mirror")

    def decorate(cls: type) -> type:
        if getattr(cls, "number", None) == 1:
            # number = 1 means a fresh setup before every call; a twin cannot honour that.
            raise TypeError(f"{cls.__qualname__}: relative_time needs a workload that repeats without "
                            f"a fresh setup (the class sets number = 1)")
        for name in method_names:
            method = getattr(cls, name, None)
            if not name.startswith("time_") or not callable(method):
                raise TypeError(f"{cls.__qualname__}.{name}: relative_time mirrors existing time_* methods")
            twin_name = f"track_{name[len('time_'):]}_relative"
            if twin_name in vars(cls):
                raise TypeError(f"{cls.__qualname__}.{twin_name} already exists")

            def call(self, params, _name=name):
                return functools.partial(getattr(self, _name), *params)

            twin = make_twin(call, version_of=(method, getattr(cls, "setup", None)), pretty=method)
            twin.__name__ = twin_name
            twin.__qualname__ = f"{cls.__qualname__}.{twin_name}"
            setattr(cls, twin_name, twin)
        return cls

    return decorate


__all__ = ["RELATIVE_VERSION", "UNIT", "make_twin", "measure_relative", "reference_kernel",
           "relative_samples", "relative_time", "twin_version"]
