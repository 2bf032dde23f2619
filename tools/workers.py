"""Independent work split across processes: one function over many items, results in order.

The history's change points are found series by series, and chart pages are drawn page by
page, each without the others. On a long history that is most of a run, so ``map_ordered``
spreads it over the CPUs this process may use (``concurrent.futures`` on forked workers, which
share the loaded table without copying it). It stays in this process when the work is small
(``split`` false), on one CPU, off Linux (fork is only the safe default there), with
``INTELLIROUTER_BENCH_JOBS=1``, or once gevent has patched the threading module (locust does so
on import; the pool's threads would be greenlets and hang). The results are the same either
way: each item is computed by the same function on the same input.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from tools.errors import ToolError

JOBS_ENV = "INTELLIROUTER_BENCH_JOBS"

T = TypeVar("T")
R = TypeVar("R")


def jobs() -> int:
    """Worker processes to use: ``INTELLIROUTER_BENCH_JOBS`` when set, else the CPUs this process
    may run on (its affinity, as a container or ``taskset`` limits it)."""
    given = os.environ.get(JOBS_ENV, "").strip()
    if given:
        if not given.isdigit() or int(given) < 1:
            raise ToolError(f"{JOBS_ENV}={given!r}: expected a whole number of processes, 1 or more")
        return int(given)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _threads_are_greenlets() -> bool:
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and monkey.is_module_patched("threading")


def map_ordered(fn: Callable[[T], R], items: Sequence[T], *, split: bool = True) -> list[R]:
    """``[fn(item) for item in items]``, computed in worker processes when ``split`` and more
    than one job are given and there is more than one item (``fn`` must be a module-level
    function). A worker that dies (e.g. out of memory) is one clear error."""
    n = min(jobs(), len(items))
    if not split or n < 2 or not sys.platform.startswith("linux") or _threads_are_greenlets():
        return [fn(item) for item in items]
    chunk = max(1, len(items) // (4 * n))  # a few chunks per worker: long and short items even out
    pool = ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("fork"))
    try:
        return list(pool.map(fn, items, chunksize=chunk))
    except BrokenProcessPool as exc:
        raise ToolError(
            f"a worker process died while computing {len(items)} items ({exc}); {JOBS_ENV}=1 runs them in one process"
        ) from None
    finally:  # after an error or Ctrl-C, chunks not started yet are dropped, not computed
        pool.shutdown(wait=True, cancel_futures=True)
