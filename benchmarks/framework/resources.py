"""Resource usage of one operation, measured around it: CPU, memory and I/O.

The seed's ``ResourceUsage`` was a placeholder that always read 0. Here every field is read
from the operating system before and after the operation:

- CPU time (user and system) from ``getrusage`` (microsecond resolution; psutil's
  ``cpu_times`` comes from ``/proc/<pid>/stat`` in 10 ms clock ticks, too coarse for one call).
- RSS from psutil before and after; peak RSS during the operation from ``VmHWM`` after
  resetting it through ``/proc/self/clear_refs`` (Linux); ``None`` where that is unavailable
  and the operation did not raise the process's lifetime peak.
- I/O from ``/proc/self/io`` on Linux (psutil's ``io_counters`` elsewhere): ``io_read_bytes``/
  ``io_write_bytes`` are bytes passed through read/write system calls (``rchar``/``wchar``: what
  the operation asked for, page cache or not); ``disk_read_bytes``/``disk_write_bytes`` are what
  reached storage (often 0 when the page cache absorbs it). On Linux the file is read directly,
  not through psutil, for one reason: reading it is itself a read of known size, subtracted so an
  operation without I/O reads exactly 0 (psutil reads it too, but does not say how many bytes).
  On platforms without ``read_chars`` both fall back to the storage counters.
- Context switches from psutil's ``num_ctx_switches``: voluntary (the process waited: I/O, a
  lock, a sleep) and involuntary (the scheduler took the CPU away: the machine's load).

``measure_operations`` runs an operation a fixed number of times inside one monitor and reports
the usage per operation: the resource channel (``resource_channel.resource_channel``) is built on it.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_PROC_STATUS = "/proc/self/status"
_CLEAR_REFS = "/proc/self/clear_refs"


@dataclass(frozen=True)
class ResourceUsage:
    wall_time: float  # seconds
    cpu_user: float  # seconds
    cpu_system: float  # seconds
    rss_before: int  # bytes
    rss_after: int  # bytes
    peak_rss: int | None  # bytes, highest RSS while the operation ran; None if unknown
    io_read_bytes: int  # bytes read through system calls
    io_write_bytes: int  # bytes written through system calls
    disk_read_bytes: int  # bytes fetched from storage
    disk_write_bytes: int  # bytes sent to storage
    ctx_voluntary: int = 0  # context switches: the process gave up the CPU (waited)
    ctx_involuntary: int = 0  # context switches: the scheduler preempted it

    @property
    def cpu_time(self) -> float:
        """User + system CPU seconds."""
        return self.cpu_user + self.cpu_system

    @property
    def rss_growth(self) -> int:
        """RSS after minus before, in bytes (negative when the operation freed memory)."""
        return self.rss_after - self.rss_before


def _reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark to the current RSS (Linux >= 4.0); False if not possible."""
    try:
        with open(_CLEAR_REFS, "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _vm_hwm() -> int | None:
    try:
        with open(_PROC_STATUS) as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _maxrss_bytes() -> int:
    # ru_maxrss is KiB on Linux, bytes on macOS.
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value if sys.platform == "darwin" else value * 1024


_PROC_IO = "/proc/self/io"


def _io_linux() -> tuple[tuple[int, int, int, int], int] | None:
    """Counters from /proc/self/io and the bytes this read itself added to ``rchar``."""
    try:
        with open(_PROC_IO, "rb", buffering=0) as fh:
            raw = fh.read(4096)
    except OSError:
        return None
    fields = dict(line.split(b": ") for line in raw.splitlines() if b": " in line)
    try:
        counters = (int(fields[b"rchar"]), int(fields[b"wchar"]), int(fields[b"read_bytes"]), int(fields[b"write_bytes"]))
    except (KeyError, ValueError):
        return None
    return counters, len(raw)


def _io(proc: Any) -> tuple[tuple[int, int, int, int], int]:
    """((syscall read, syscall write, storage read, storage write), bytes the probe itself read).

    Reading the counters is itself a read: on Linux we read /proc/self/io directly so that we
    know its size and can subtract it. Zeros where the platform has no I/O counters.
    """
    linux = _io_linux()
    if linux is not None:
        return linux
    import psutil

    try:
        io = proc.io_counters()
    except (AttributeError, psutil.Error, NotImplementedError):
        return (0, 0, 0, 0), 0
    read_chars = getattr(io, "read_chars", io.read_bytes)
    write_chars = getattr(io, "write_chars", io.write_bytes)
    return (read_chars, write_chars, io.read_bytes, io.write_bytes), 0


class ResourceMonitor:
    """Context manager: ``with ResourceMonitor() as mon: work()`` then ``mon.usage``."""

    def __init__(self) -> None:
        # Imported here, not at module level: the instruction-count child imports this
        # package, and psutil's import parses /proc files whose contents change per run.
        import psutil

        self._proc = psutil.Process()
        self.usage: ResourceUsage | None = None

    def __enter__(self) -> ResourceMonitor:
        self._hwm_reset = _reset_peak_rss()
        self._maxrss0 = _maxrss_bytes()
        self._rss0 = self._proc.memory_info().rss
        self._ctx0 = self._proc.num_ctx_switches()
        # Last before the clock starts: between the two /proc/self/io reads only the operation
        # may read or write (the probes above read /proc files too).
        self._io0, self._probe_bytes = _io(self._proc)
        self._ru0 = resource.getrusage(resource.RUSAGE_SELF)
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        t1 = time.perf_counter()
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        io1, _ = _io(self._proc)
        ctx1 = self._proc.num_ctx_switches()
        rss1 = self._proc.memory_info().rss
        peak: int | None = None
        if self._hwm_reset:
            peak = _vm_hwm()
        if peak is None:
            maxrss1 = _maxrss_bytes()
            # The lifetime peak only tells us something if the operation raised it.
            peak = maxrss1 if maxrss1 > self._maxrss0 else None
        self.usage = ResourceUsage(
            wall_time=t1 - self._t0,
            cpu_user=ru1.ru_utime - self._ru0.ru_utime,
            cpu_system=ru1.ru_stime - self._ru0.ru_stime,
            rss_before=self._rss0,
            rss_after=rss1,
            peak_rss=peak,
            io_read_bytes=io1[0] - self._io0[0] - self._probe_bytes,
            io_write_bytes=io1[1] - self._io0[1],
            disk_read_bytes=io1[2] - self._io0[2],
            disk_write_bytes=io1[3] - self._io0[3],
            ctx_voluntary=ctx1.voluntary - self._ctx0.voluntary,
            ctx_involuntary=ctx1.involuntary - self._ctx0.involuntary,
        )


def measure_resources(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, ResourceUsage]:
    """Run ``fn(*args, **kwargs)`` once; return its result and the resources it used."""
    with ResourceMonitor() as mon:
        result = fn(*args, **kwargs)
    assert mon.usage is not None
    return result, mon.usage


# ---------------------------------------------------------------- per operation


@dataclass(frozen=True)
class OperationUsage:
    """Resources of one operation, from ``operations`` calls measured together."""

    operations: int
    cpu_user: float  # seconds per operation
    cpu_system: float  # seconds per operation
    peak_rss: int | None  # bytes: highest RSS while the calls ran above the RSS before them; None if unknown
    io_read_bytes: float  # per operation, through system calls
    io_write_bytes: float  # per operation
    ctx_switches_voluntary: float  # context switches per operation
    ctx_switches_involuntary: float  # per operation

    def as_dict(self) -> dict[str, float | int | None]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


def measure_operations(op: Callable[[], Any], calls: int, *, warm_up: int | None = None) -> OperationUsage:
    """Call ``op`` ``calls`` times inside one ``ResourceMonitor`` and return the usage per call.

    A fixed count, not a time budget: every run does the same work, so a workload whose state
    grows with each call (appends) reaches the same peak on a fast and a slow machine. ``warm_up``
    calls (default 1% of ``calls``, at least one) run first, then one full garbage collection;
    during the calls the collector runs as it would in use (its work is part of the cost).
    """
    import gc

    if not isinstance(calls, int) or calls < 1:
        raise ValueError(f"calls must be an integer >= 1, got {calls!r}")
    for _ in range(max(1, calls // 100) if warm_up is None else warm_up):
        op()
    gc.collect()
    with ResourceMonitor() as mon:
        for _ in range(calls):
            op()
    usage = mon.usage
    assert usage is not None
    return OperationUsage(
        operations=calls,
        cpu_user=usage.cpu_user / calls,
        cpu_system=usage.cpu_system / calls,
        peak_rss=None if usage.peak_rss is None else max(0, usage.peak_rss - usage.rss_before),
        io_read_bytes=usage.io_read_bytes / calls,
        io_write_bytes=usage.io_write_bytes / calls,
        ctx_switches_voluntary=usage.ctx_voluntary / calls,
        ctx_switches_involuntary=usage.ctx_involuntary / calls,
    )
