"""The speed-normalised channel: measure_relative, the relative_time decorator, the adapter flag.

Timing is faked with a clock that the workload and the reference advance, so the answers are
exact: what is tested is the arithmetic and the wiring, not this machine's speed.
"""

from __future__ import annotations

import io
import json
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.framework import BenchmarkConfig, BenchmarkType, asv_benchmark, relative_time  # noqa: E402
from benchmarks.framework import relative as rel  # noqa: E402


class FakeMachine:
    """A clock and two workloads whose cost is ``cost`` units times the machine's slowness."""

    def __init__(self, slowness):
        self.now = 0.0
        self.slowness = slowness  # callable: call index -> factor (the machine's speed over time)
        self.calls = 0

    def clock(self):
        return self.now

    def _spend(self, units):
        self.now += units * self.slowness(self.calls)
        self.calls += 1

    def workload(self, units):
        return lambda: self._spend(units)


def test_ratio_is_exact_on_a_steady_machine():
    m = FakeMachine(lambda i: 1.0)
    got = rel.measure_relative(
        m.workload(3e-6), reference=m.workload(1e-6), clock=m.clock, warm_up_time=0, samples=10, sample_time=1e-4
    )
    assert got == pytest.approx(3.0)


def test_a_slow_phase_of_the_machine_cancels():
    # The machine slows by 1.8x for a stretch of calls (another tenant): wall time moves, the ratio does not.
    m = FakeMachine(lambda i: 1.8 if 400 <= i < 4_000 else 1.0)
    ratios = rel.relative_samples(
        m.workload(2e-6), reference=m.workload(1e-6), clock=m.clock, warm_up_time=0, samples=20, sample_time=1e-4
    )
    assert len(ratios) == 20
    steady = [r for r in ratios if r == pytest.approx(2.0, rel=1e-9)]
    assert len(steady) >= 14  # samples inside one phase are exact; only the boundary samples mix
    assert rel.measure_relative(
        m.workload(2e-6), reference=m.workload(1e-6), clock=m.clock, warm_up_time=0, samples=20, sample_time=1e-4
    ) == pytest.approx(2.0)


def test_a_slower_workload_raises_the_value_by_the_same_factor():
    m = FakeMachine(lambda i: 1.0 + 0.3 * ((i // 50) % 2))
    base = rel.measure_relative(
        m.workload(5e-6), reference=m.workload(1e-6), clock=m.clock, warm_up_time=0, samples=15, sample_time=1e-4
    )
    head = rel.measure_relative(
        m.workload(5.25e-6), reference=m.workload(1e-6), clock=m.clock, warm_up_time=0, samples=15, sample_time=1e-4
    )
    assert head / base == pytest.approx(1.05, rel=0.01)


def test_sampling_stops_at_the_time_budget_after_the_minimum():
    m = FakeMachine(lambda i: 1.0)
    ratios = rel.relative_samples(
        m.workload(0.2),
        reference=m.workload(0.001),
        clock=m.clock,
        warm_up_time=0,
        samples=30,
        sample_time=0.005,
        max_time=1.0,
        min_samples=5,
    )
    assert len(ratios) == 5  # a 200 ms call: the 1 s budget is spent by the 5th sample


def test_bad_arguments_and_unmeasurable_reference_fail_clearly():
    with pytest.raises(ValueError, match="samples"):
        rel.relative_samples(lambda: None, samples=0)
    m = FakeMachine(lambda i: 1.0)
    with pytest.raises(RuntimeError, match="reference kernel took no measurable time"):
        rel.measure_relative(
            m.workload(1e-6), reference=lambda: None, clock=m.clock, warm_up_time=0, samples=3, sample_time=1e-4
        )


def test_the_real_reference_kernel_runs_and_is_deterministic():
    assert rel.reference_kernel() == rel.reference_kernel()
    assert rel.measure_relative(lambda: sum(range(50)), samples=3, warm_up_time=0, max_time=0.05) > 0


# ---- the decorator on plain asv classes -----------------------------------------------------


def _plain():
    class Work:
        params = [[1, 2]]
        param_names = ["n"]
        rounds = 2

        def setup(self, n):
            self.data = list(range(100 * n))
            self.seen = []

        def time_sum(self, n):
            self.seen.append(n)
            sum(self.data)

    return Work


def test_decorator_adds_a_twin_that_times_the_same_call_after_setup():
    Work = relative_time("time_sum")(_plain())
    twin = Work.track_sum_relative
    assert (twin.unit, twin.rounds, twin.__name__) == ("relative", 1, "track_sum_relative")
    assert "sum(self.data)" in twin.pretty_source
    w = Work()
    w.setup(2)
    assert w.track_sum_relative(2) > 0
    assert set(w.seen) == {2}  # the time_ method ran with the same parameters


def test_twin_version_follows_the_timed_code():
    a = relative_time("time_sum")(_plain()).track_sum_relative.version

    class Other:
        def setup(self, n):
            self.data = list(range(100 * n))

        def time_sum(self, n):
            sum(self.data) + 1

    b = relative_time("time_sum")(Other).track_sum_relative.version
    assert a != b and len(a) == 64
    assert a == relative_time("time_sum")(_plain()).track_sum_relative.version


@pytest.mark.parametrize(
    "names, fragment",
    [((), "needs the names"), (("time_missing",), "mirrors existing"), (("setup",), "mirrors existing")],
)
def test_decorator_rejects_what_it_cannot_mirror(names, fragment):
    with pytest.raises(TypeError, match=fragment):
        relative_time(*names)(_plain())


def test_decorator_refuses_number_one_classes():
    Work = _plain()
    Work.number = 1
    with pytest.raises(TypeError, match="number = 1"):
        relative_time("time_sum")(Work)


def test_adapter_flag_adds_track_relative():
    class _Work:
        config = BenchmarkConfig(
            name="work", benchmark_type=BenchmarkType.LATENCY, relative_time=True, params={"n": [3]}
        )

        def setup(self, n):
            self.n = n

        def run_iteration(self):
            return sum(range(self.n))

    cls = asv_benchmark(_Work)
    assert cls.track_work_relative.unit == "relative"
    obj = cls()
    obj.setup(3)
    assert obj.track_work_relative(3) > 0


def test_asv_discovers_twins_with_their_unit_and_params(tmp_path, monkeypatch):
    from asv_runner.discovery import list_benchmarks

    pkg = tmp_path / "relsuite_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "work_benchmarks.py").write_text(
        textwrap.dedent(
            """
        from benchmarks.framework import relative_time

        @relative_time("time_sum")
        class Work:
            params = [[1, 2]]
            param_names = ["n"]

            def setup(self, n):
                self.data = list(range(10 * n))

            def time_sum(self, n):
                sum(self.data)
        """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    out = io.StringIO()
    list_benchmarks(str(pkg), out)
    found = {b["name"]: b for b in json.loads(out.getvalue())}
    twin = found["work_benchmarks.Work.track_sum_relative"]
    assert (twin["type"], twin["unit"], twin["param_names"], twin["rounds"]) == ("track", "relative", ["n"], 1)
    for name in [m for m in sys.modules if m.startswith("relsuite_pkg")]:
        del sys.modules[name]


# ---- the tools read the channel ------------------------------------------------------------


def test_detector_treats_relative_as_its_own_statistical_channel():
    import numpy as np

    from tools.detect.pairwise import compare
    from tools.detect.series import channel_of

    assert channel_of("track", "relative") == "relative"
    rng = np.random.default_rng(1)
    base = 3.0 * np.exp(rng.normal(0, 0.01, 10))
    res = compare(base, base * 1.10, channel="relative")
    assert (res.verdict, res.channel, res.basis) == ("regressed", "relative", "rank")
    assert compare(base, base[::-1].copy(), channel="relative").verdict in ("unchanged", "inconclusive")


def test_report_reads_wall_against_the_relative_witness():
    import pandas as pd

    from tools.regression_report import channel_disagreements

    def row(bench, channel, verdict, change):
        return {
            "machine": "m",
            "environment": "e",
            "benchmark": bench,
            "params": "",
            "channel": channel,
            "verdict": verdict,
            "change_pct": change,
            "mde_pct": 30.0,
        }

    v = pd.DataFrame(
        [
            row("mod.C.time_x", "wall", "regressed", 25.0),
            row("mod.C.track_x_relative", "relative", "unchanged", 0.3),
            row("mod.C.time_y", "wall", "inconclusive", 4.0),
            row("mod.C.track_y_relative", "relative", "regressed", 5.1),
        ]
    )
    d = channel_disagreements(v).set_index("benchmark")
    assert d.loc["mod.C.time_x", "witness"] == "relative"
    assert "the machine" in d.loc["mod.C.time_x", "note"]
    assert "below wall-time noise (wall MDE 30.0%)" in d.loc["mod.C.time_y", "note"]
