"""The one data model every tool reads: the tidy results table.

One row per benchmark x parameter combination x commit x machine x environment
(x round, when interleaved rounds were recorded). ``tools.loader`` builds it from
asv results; export, detection, charts and reports are pure functions of it.
"""

from __future__ import annotations

import re

# Column -> meaning. Order is the table's column order.
TIDY_COLUMNS: dict[str, str] = {
    "machine": "asv machine name",
    "environment": "asv environment name (e.g. virtualenv-py3.11-numpy-scipy)",
    "commit": "full commit hash",
    "commit_date": "commit date, tz-aware UTC pandas Timestamp",
    "round": "interleaved round number (0 when results come from a single asv run)",
    "component": "benchmark module without the _benchmarks suffix (router, model_registry, ...)",
    "benchmark": "full asv name, e.g. router_benchmarks.RouteStrategy.time_route",
    "params": "human parameter string, e.g. \"n_models=100, strategy='cost'\"; '' when none",
    "param_values": "tuple of asv repr strings in param_names order, e.g. ('100', \"'cost'\")",
    "type": "asv type: time | track | peakmem",
    "unit": "asv unit: seconds | bytes | instructions | ops/s | ...",
    "value": "asv's result (median for time); NaN when the run failed",
    "failed": "True when asv recorded null for this combination",
    "ci_low": "lower end of asv's 99% confidence interval (stats_ci_99_a)",
    "ci_high": "upper end of asv's 99% confidence interval (stats_ci_99_b)",
    "q25": "25th percentile of samples (stats_q_25)",
    "q75": "75th percentile of samples (stats_q_75)",
    "number": "iterations per sample (stats_number)",
    "repeat": "samples taken (stats_repeat)",
    "samples": "tuple of raw samples when asv recorded them (--record-samples), else None",
    "started_at": "when the benchmark started, tz-aware UTC Timestamp",
    "duration": "seconds asv spent on this benchmark",
    "version": "benchmark code version recorded with the result",
    "stale": "True when the result's version differs from benchmarks.json (older benchmark code)",
    "skipped": "True when asv recorded NaN: the benchmark skipped itself (NotImplementedError in setup)",
    # asv < 0.5 (result format 1) recorded these with every result; asv >= 0.5 keeps samples instead
    "recorded_mean": "mean of the samples as asv recorded it (result format 1 only; NaN otherwise)",
    "recorded_std": "standard deviation of the samples as asv recorded it, divisor n (format 1 only; NaN otherwise)",
    "recorded_min": "smallest sample as asv recorded it (format 1 only; NaN otherwise)",
    "recorded_max": "largest sample as asv recorded it (format 1 only; NaN otherwise)",
}

# A series is everything measured for one benchmark x params on one machine and environment.
SERIES_KEY = ["machine", "environment", "benchmark", "params"]


# track_<workload>_<kind>: a channel derived from the timed workload time_<workload> of the same class.
TWIN_KINDS = ("instructions", "relative", "throughput")
_WORKLOAD = re.compile(
    r"^(?P<cls>.*)\.(?:time_(?P<timed>[a-z0-9_]+)|track_(?P<tracked>[a-z0-9_]+?)_(?P<kind>"
    + "|".join(TWIN_KINDS)
    + r"))(?P<params>\(.*\))?$"
)


def workload_of(benchmark: str) -> tuple[str, str, str] | None:
    """(class path, workload, kind) of ``mod.Cls.time_x`` (kind "time") or of its twins
    ``mod.Cls.track_x_instructions`` / ``_relative`` / ``_throughput``; None for anything else.
    A trailing ``(params)`` (the corpus' series names) is ignored."""
    m = _WORKLOAD.match(str(benchmark))
    if not m:
        return None
    if m["timed"]:
        return m["cls"], m["timed"], "time"
    return m["cls"], m["tracked"], m["kind"]


def twin_of(benchmark: str, kind: str) -> str | None:
    """``mod.Cls.time_x(p)`` -> ``mod.Cls.track_x_<kind>(p)`` (or back with kind "time"); None
    when ``benchmark`` is not a workload of ``workload_of``."""
    if kind != "time" and kind not in TWIN_KINDS:
        raise ValueError(f"unknown twin kind {kind!r}; expected 'time' or one of {TWIN_KINDS}")
    m = _WORKLOAD.match(str(benchmark))
    if not m:
        return None
    cls, work = m["cls"], m["timed"] or m["tracked"]
    method = f"time_{work}" if kind == "time" else f"track_{work}_{kind}"
    return f"{cls}.{method}{m['params'] or ''}"


# The resource channel's metrics (benchmarks/framework/resource_channel.py), in report order:
# ``mod.Resources.track_<metric>`` with the workload as its one parameter.
RESOURCE_METRICS = (
    "cpu_user",
    "cpu_system",
    "peak_rss",
    "io_read_bytes",
    "io_write_bytes",
    "ctx_switches_voluntary",
    "ctx_switches_involuntary",
)
_RESOURCE = re.compile(r"^(?P<cls>.*)\.track_(?P<metric>" + "|".join(RESOURCE_METRICS) + r")$")


def resource_metric_of(benchmark: str) -> str | None:
    """``mod.Resources.track_peak_rss`` -> ``peak_rss``; None for anything else."""
    m = _RESOURCE.match(str(benchmark))
    return m["metric"] if m else None


def component_of(benchmark: str) -> str:
    """``router_benchmarks.RouteStrategy.time_route`` -> ``router``."""
    module = benchmark.split(".", 1)[0]
    return module[: -len("_benchmarks")] if module.endswith("_benchmarks") else module


# Direction of a metric. A unit may end with a declared direction, written there by the benchmark
# harness from the metric's definition (``benchmarks.framework.metric``, ``BenchmarkConfig(
# higher_is_better=...)``): "recall@5 ↑" is higher-is-better, "errors ↓" lower-is-better. asv keeps
# the unit in benchmarks.json beside every run's results, so the declaration travels with them (and
# into each interleaved round's copy). Without a mark, the unit decides as it always did.
HIGHER_MARK = "↑"
LOWER_MARK = "↓"
_RATE_SUFFIXES = ("/s", "per second")
_HIGHER_UNITS = frozenset({"%", "hit rate", "ratio", "recall"})


def declared_direction(unit: str) -> str | None:
    """'higher' / 'lower' when ``unit`` ends with a direction mark, else None."""
    text = (unit or "").strip()
    if text.endswith(HIGHER_MARK):
        return "higher"
    if text.endswith(LOWER_MARK):
        return "lower"
    return None


def unit_without_mark(unit: str) -> str:
    """``"recall@5 ↑"`` -> ``"recall@5"``: the unit a number is formatted in."""
    text = (unit or "").strip()
    return text[:-1].rstrip() if declared_direction(text) else text


def lower_is_better(bench_type: str, unit: str) -> bool:
    """The one place every tool asks which way is better.

    A declared direction (a trailing ↑ / ↓ on the unit) wins; otherwise time, memory, instruction
    counts and every other unit improve downwards, while rates (``.../s``) and the tracked units
    ``%``, ``hit rate``, ``ratio`` and ``recall`` improve upwards."""
    declared = declared_direction(unit)
    if declared is not None:
        return declared == "lower"
    text = (unit or "").strip().lower()
    if bench_type == "track" and (text.endswith(_RATE_SUFFIXES) or text in _HIGHER_UNITS):
        return False
    return True


def better(bench_type: str, unit: str) -> str:
    """'lower' or 'higher': ``lower_is_better`` as a word (the CSV's ``better`` column)."""
    return "lower" if lower_is_better(bench_type, unit) else "higher"
