"""Benchmark names and their twins (tools/schema.py)."""

from __future__ import annotations

import pytest

from tools.schema import twin_of, workload_of


def test_workloads_and_their_twins():
    assert workload_of("router_benchmarks.Route.time_route") == ("router_benchmarks.Route", "route", "time")
    assert workload_of("m.C.track_get_all_relative(10000)") == ("m.C", "get_all", "relative")
    assert workload_of("m.C.track_x_y_instructions") == ("m.C", "x_y", "instructions")
    assert workload_of("m.C.track_hit_rate") is None and workload_of("m.C.peakmem_x") is None
    assert twin_of("m.C.time_x('a', 1)", "relative") == "m.C.track_x_relative('a', 1)"
    assert twin_of("m.C.track_x_throughput", "time") == "m.C.time_x"
    assert twin_of("m.C.mem_x", "instructions") is None
    with pytest.raises(ValueError, match="unknown twin kind"):
        twin_of("m.C.time_x", "bogus")
