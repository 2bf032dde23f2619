"""Benchmarks grouped into families: one workload seen through its channels.

The harness gives a workload ``x`` of a class several asv benchmarks: ``time_x`` (wall time),
``track_x_relative`` (speed-normalised), ``track_x_instructions``, ``peakmem_x`` (memory),
``track_x_throughput`` and resource counters. The dashboard shows them as one benchmark with a
channel switch; a benchmark without twins is a family of one.
"""

from __future__ import annotations

import re

from tools.detect.series import channel_of

_METHOD = re.compile(r"^(?P<owner>.*?)\.?(?P<prefix>time_|timeraw_|peakmem_|mem_|track_)(?P<stem>[^.]*)$")
# track_<stem>_<kind>: counters derived from the workload <stem>
TRACK_KINDS = ("relative", "instructions", "throughput", "cpu_time", "rss_growth", "io_read_bytes", "io_write_bytes")
CHANNEL_LABELS = {
    "wall": "wall time",
    "relative": "speed-normalised",
    "instructions": "instructions",
    "memory": "memory",
}


def family_of(benchmark: str) -> str:
    """``mod.Cls.time_x`` / ``mod.Cls.track_x_relative`` / ``mod.Cls.peakmem_x`` -> ``mod.Cls.x``;
    a name that is no asv method (e.g. a foreign suite's) is its own family."""
    m = _METHOD.match(str(benchmark))
    if not m:
        return str(benchmark)
    stem = m["stem"]
    if m["prefix"] == "track_":
        for kind in TRACK_KINDS:
            if stem.endswith("_" + kind) and len(stem) > len(kind) + 1:
                stem = stem[: -len(kind) - 1]
                break
    return f"{m['owner']}.{stem}" if m["owner"] else stem


def _own_label(benchmark: str) -> str:
    method = str(benchmark).rsplit(".", 1)[-1]
    for kind in TRACK_KINDS:
        if method.startswith("track_") and method.endswith("_" + kind):
            return kind.replace("_", " ")
    return method


def channel_label(benchmark: str, bench_type: str, unit: str) -> str:
    """What the channel switch calls this benchmark: wall time, speed-normalised, instructions,
    memory; a counter by its kind (throughput, cpu time, ...); anything else by its method."""
    return CHANNEL_LABELS.get(channel_of(bench_type, unit)) or _own_label(benchmark)


def labels_of(members: list[tuple[str, str, str]]) -> list[str]:
    """Labels for a family's members ``(benchmark, type, unit)``, unique within it (a clash falls
    back to the method name)."""
    labels = [channel_label(*m) for m in members]
    clash = {x for x in labels if labels.count(x) > 1}
    return [m[0].rsplit(".", 1)[-1] if x in clash else x for m, x in zip(members, labels)]
