"""The resource channel: CPU, memory, I/O and context switches per operation, as asv ``track_*``.

A component module names its representative workloads in a class and decorates it::

    @resource_channel
    class Resources:
        workloads = {"route_cost_optimized": (_route_cost_optimized, 1_000)}  # name -> (builder, calls)

A builder takes no argument, builds its workload (``require(...)`` may raise NotImplementedError
at an older commit) and returns the operation, a zero-argument callable; ``calls`` is how many
calls are measured (pick ~0.1 s of them: the CPU split is sampled at the kernel's tick, and a
fixed count makes every run do the same work). The decorator adds, for each workload (the asv
parameter ``workload``), seven ``track_*`` methods with their units:

    track_cpu_user, track_cpu_system          seconds of CPU per operation (getrusage)
    track_peak_rss                            bytes: highest RSS while the operations ran, above
                                              the RSS before them (VmHWM, reset first; Linux)
    track_io_read_bytes, track_io_write_bytes bytes per operation through read/write calls
    track_ctx_switches_voluntary,             context switches per operation (psutil): the process
    track_ctx_switches_involuntary            waited / the scheduler preempted it

Cost: asv's ``setup_cache`` runs once per asv run and measures every workload of the class
(``measure_operations``: 1% warm-up calls, then ``calls``); each ``track_*`` process only reads
its number from the cache, ~40 ms here. A result is one measurement (``rounds = 1``); the
interleaved runner's rounds are separate asv runs, each measuring afresh.

asv keys a ``setup_cache`` by its function's module and first line. The generated one lives
here, so only its module tells two classes apart: one resource channel per module.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

from .instructions import CHILD_VAR, _skip
from .resources import measure_operations

RESOURCE_VERSION = "1"  # bump when what a metric means changes: part of every track's asv version
TIMEOUT = 300.0  # setup_cache builds every workload of the class
# metric -> (asv unit, what it is): the names the tools know (tools/schema.py RESOURCE_METRICS)
METRICS: dict[str, tuple[str, str]] = {
    "cpu_user": ("seconds", "user CPU seconds per operation"),
    "cpu_system": ("seconds", "system CPU seconds per operation"),
    "peak_rss": ("bytes", "highest RSS while the operations ran, above the RSS before them"),
    "io_read_bytes": ("bytes", "bytes read through system calls per operation"),
    "io_write_bytes": ("bytes", "bytes written through system calls per operation"),
    "ctx_switches_voluntary": ("switches/op", "voluntary context switches per operation (waits)"),
    "ctx_switches_involuntary": ("switches/op", "involuntary context switches per operation (preemptions)"),
}
_CHANNELS: dict[str, str] = {}  # module -> the qualified name of its channel class


Workloads = Mapping[str, tuple[Callable[[], Callable[[], Any]], int]]


def measure_workloads(workloads: Workloads) -> dict:
    """{workload: {metric: value}} or {workload: {"skipped": reason}} when its builder raised
    NotImplementedError (a component the commit lacks). Each workload is dropped before the next
    is built, so it does not weigh on the next one's peak."""
    out: dict[str, dict] = {}
    for name, (build, calls) in workloads.items():
        try:
            op = build()
        except NotImplementedError as exc:
            out[name] = {"skipped": str(exc) or "not available at this commit"}
            continue
        out[name] = measure_operations(op, calls).as_dict()
        del op
    return out


def _version(cls: type, workloads: Workloads) -> str:
    import hashlib

    from .relative import source_text

    parts = [RESOURCE_VERSION, source_text(measure_operations), source_text(measure_workloads)]
    parts += [f"{name} x {calls}\n{source_text(build)}" for name, (build, calls) in workloads.items()]
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()


def _shown(workloads: Workloads) -> str:
    from .relative import source_text

    return "\n".join(
        f"# workload {name!r}, {calls} calls\n{source_text(build)}" for name, (build, calls) in workloads.items()
    )


def _track(metric: str, unit: str, doc: str) -> Callable:
    def track(self, measured, workload):
        value = measured[workload].get(metric)
        if value is None:  # peak RSS where the kernel cannot reset its mark
            raise _skip(f"{metric} is not measurable here")
        return value

    track.unit = unit
    track.__doc__ = doc
    return track


def _well_formed(name: object, entry: object) -> bool:
    if not isinstance(name, str) or not name.isidentifier() or not isinstance(entry, tuple) or len(entry) != 2:
        return False
    build, calls = entry
    return callable(build) and isinstance(calls, int) and not isinstance(calls, bool) and calls >= 1


def _check(cls: type) -> Workloads:
    workloads = getattr(cls, "workloads", None)
    if not isinstance(workloads, Mapping) or not workloads:
        raise TypeError(f"{cls.__qualname__}: a resource channel needs workloads = {{name: (builder, calls)}}")
    for name, entry in workloads.items():
        if not _well_formed(name, entry):
            raise TypeError(f"{cls.__qualname__}: workload {name!r} needs an identifier name and (builder, calls >= 1)")
    if _CHANNELS.get(cls.__module__, cls.__qualname__) != cls.__qualname__:  # a re-import may redo the same one
        raise TypeError(f"{cls.__qualname__}: {cls.__module__} already has a resource channel (asv keys "
                        "setup_cache by module and line: one channel per module)")
    clash = [a for a in ("setup", "setup_cache", *(f"track_{m}" for m in METRICS)) if a in vars(cls)]
    if clash:
        raise TypeError(f"{cls.__qualname__}.{clash[0]} clashes with a method the channel generates")
    return workloads


def resource_channel(cls: type) -> type:
    """Class decorator: the resource channel of ``cls.workloads`` (see the module docstring)."""
    workloads = _check(cls)
    _CHANNELS[cls.__module__] = cls.__qualname__

    def setup_cache(self):
        return measure_workloads(workloads)

    def setup(self, measured, workload):
        skipped = measured.get(workload, {}).get("skipped")
        if skipped is not None:
            raise NotImplementedError(skipped)

    setup_cache.__module__ = setup.__module__ = cls.__module__  # asv: the cache key's module
    setup_cache.timeout = TIMEOUT
    child = os.environ.get(CHILD_VAR) == "1"  # the instruction-count child skips inspect/hashlib
    version = "" if child else _version(cls, workloads)
    shown = "" if child else _shown(workloads)
    for attr, value in (("setup_cache", setup_cache), ("setup", setup), ("params", [list(workloads)]),
                        ("param_names", ["workload"]), ("rounds", 1), ("timeout", TIMEOUT)):
        setattr(cls, attr, value)
    for metric, (unit, doc) in METRICS.items():
        track = _track(metric, unit, doc)
        track.__name__ = f"track_{metric}"
        track.__qualname__ = f"{cls.__qualname__}.track_{metric}"
        track.__module__ = cls.__module__
        if not child:
            track.version = version
            track.pretty_source = shown  # the asv site shows what is measured
        setattr(cls, track.__name__, track)
    return cls


__all__ = ["METRICS", "RESOURCE_VERSION", "measure_workloads", "resource_channel"]
