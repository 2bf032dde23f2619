"""Custom metrics that say which way is better: the unit and the direction, next to the definition.

asv keeps a benchmark's ``unit`` in ``benchmarks.json`` beside every run's results, but no other
attribute of a method (asv_runner copies only the fields of its own Benchmark object). So the
declared direction travels inside the unit: a trailing mark, the one the tools read
(``tools.schema.declared_direction``; the marks are the same characters, a test keeps them so):

    "recall@5 ↑"    higher is better (an accuracy, a hit rate, queries per second)
    "errors ↓"      lower is better, said explicitly
    "USD/1k tokens" no mark: the tools infer the direction from the unit, as before
                    (time, bytes, counts lower; ``.../s``, ``%``, ``hit rate``, ``ratio``,
                    ``recall`` higher)

Declare a plain asv metric with the ``metric`` decorator, or a Benchmarkable's with
``BenchmarkConfig(benchmark_type=BenchmarkType.METRIC, unit=..., higher_is_better=...)``::

    @metric("recall@5", higher_is_better=True)
    def track_recall_at_5(self):
        ...

The units of the measurement channels (``instructions``, ``relative``) are reserved: a custom
metric in them would be judged by that channel's rule.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

HIGHER_MARK = "↑"  # same characters as tools.schema.HIGHER_MARK / LOWER_MARK
LOWER_MARK = "↓"
RESERVED_UNITS = frozenset({"instructions", "relative"})


def declared_unit(unit: object, higher_is_better: bool | None, *, where: str = "metric") -> str:
    """The unit asv records: ``unit`` plus the direction mark (none when ``higher_is_better`` is None).

    Raises ValueError for an empty or reserved unit, a unit that already carries a mark, or a
    direction that is not a bool (or None)."""
    if not isinstance(unit, str) or not unit.strip():
        raise ValueError(f"{where}: unit must be a non-empty string, got {unit!r}")
    text = unit.strip()
    if text.endswith((HIGHER_MARK, LOWER_MARK)):
        raise ValueError(f"{where}: unit {unit!r} carries a direction mark; declare it with higher_is_better=")
    if text.lower() in RESERVED_UNITS:
        raise ValueError(f"{where}: unit {text!r} belongs to a measurement channel; a custom metric needs its own")
    if higher_is_better is None:
        return text
    if not isinstance(higher_is_better, bool):
        raise ValueError(f"{where}: higher_is_better must be True, False or None, got {higher_is_better!r}")
    return f"{text} {HIGHER_MARK if higher_is_better else LOWER_MARK}"


def metric(unit: str, *, higher_is_better: bool | None = None) -> Callable[[Any], Any]:
    """Decorator for a ``track_*`` method: set its asv ``unit`` with the declared direction."""
    text = declared_unit(unit, higher_is_better)

    def decorate(fn: Any) -> Any:
        name = getattr(fn, "__name__", "")
        if not callable(fn) or not name.startswith("track_"):
            raise TypeError(f"metric() declares a track_* method, not {name or fn!r}")
        fn.unit = text
        fn.higher_is_better = higher_is_better
        return fn

    return decorate


__all__ = ["HIGHER_MARK", "LOWER_MARK", "RESERVED_UNITS", "declared_unit", "metric"]
