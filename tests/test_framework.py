"""The benchmark harness: Benchmarkable -> asv class mapping, ResourceUsage, instruction counts."""

from __future__ import annotations

import gc
import importlib
import inspect
import io
import json
import os
import re
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.framework import (  # noqa: E402
    BenchmarkConfig,
    BenchmarkType,
    InstructionCountError,
    ResourceMonitor,
    asv_benchmark,
    count_instructions,
    measure_operations,
    measure_resources,
    param_grid,
    resource_channel,
)
from benchmarks.framework import adapter as adapter_mod  # noqa: E402
from benchmarks.framework import instructions as instr_mod  # noqa: E402

channel_mod = importlib.import_module("benchmarks.framework.resource_channel")

MB = 1024 * 1024


def _methods(cls) -> set[str]:
    return {n for n, v in vars(cls).items() if callable(v) and n.split("_")[0] in {"time", "track", "peakmem", "mem"}}


def _make(btype=BenchmarkType.LATENCY, **cfg):
    log = []

    class _Work:
        config = BenchmarkConfig(name="work", benchmark_type=btype, **cfg)

        def setup(self, *params):
            log.append(("setup", id(self), params))
            self.params = params
            self.calls = 0

        def run_iteration(self):
            self.calls += 1
            return sum(range(100))

        def teardown(self):
            log.append(("teardown", id(self)))

    return _Work, log


# ---- config ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"name": "Bad Name"}, "snake_case"),
        ({"name": "class"}, "snake_case"),
        ({"name": "x", "sample_size": 0}, "sample_size"),
        ({"name": "x", "measurement_time": 0}, "measurement_time"),
        ({"name": "x", "warm_up_time": -1}, "warm_up_time"),
        ({"name": "x", "params": {"n": []}}, "non-empty"),
        ({"name": "x", "params": {"n": "abc"}}, "non-empty"),
        ({"name": "x", "params": {"not valid": [1]}}, "identifier"),
        ({"name": "x", "benchmark_type": "latency"}, "BenchmarkType"),
    ],
)
def test_config_rejects_bad_values_with_a_clear_message(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        BenchmarkConfig(**kwargs)


def test_config_freezes_params_in_order():
    values = [10, 100]
    cfg = BenchmarkConfig(name="x", params={"n": values, "mode": ("a", "b")})
    values.append(1000)  # later mutation of the caller's list must not leak in
    assert cfg.param_names == ["n", "mode"]
    assert cfg.param_values == [[10, 100], ["a", "b"]]
    assert param_grid(cfg) == [(10, "a"), (10, "b"), (100, "a"), (100, "b")]
    with pytest.raises(TypeError):
        cfg.params["m"] = [1]  # type: ignore[index]


# ---- adapter mapping ------------------------------------------------------------------------


def test_latency_maps_to_time_method_with_budget_attributes():
    work, _ = _make(BenchmarkType.LATENCY, sample_size=7, warm_up_time=0.2, measurement_time=0.5)
    cls = asv_benchmark(work)
    assert cls.__name__ == "Work" and cls.__qualname__ == "Work"
    assert cls.__module__ == work.__module__
    assert _methods(cls) == {"time_work"}
    assert cls.repeat == (3, 7, 0.5)  # (min, max samples, max seconds of sampling)
    assert cls.warmup_time == 0.2
    assert cls.sample_time == pytest.approx(0.5 / 7)
    assert cls.timeout >= 60  # kill budget well above the sampling budget
    assert not hasattr(cls, "params")


def test_throughput_maps_to_time_and_ops_per_second_track():
    work, _ = _make(BenchmarkType.THROUGHPUT, params={"n": [1, 2], "kind": ["a", "b", "c"]})
    cls = asv_benchmark(work)
    assert _methods(cls) == {"time_work", "track_work_throughput"}
    assert cls.track_work_throughput.unit == "ops/s"
    assert cls.params == [[1, 2], ["a", "b", "c"]]
    assert cls.param_names == ["n", "kind"]


def test_resource_usage_maps_to_peakmem_and_resource_tracks_with_units():
    work, _ = _make(BenchmarkType.RESOURCE_USAGE)
    cls = asv_benchmark(work)
    assert _methods(cls) == {
        "peakmem_work",
        "track_work_cpu_time",
        "track_work_rss_growth",
        "track_work_io_read_bytes",
        "track_work_io_write_bytes",
    }
    assert cls.track_work_cpu_time.unit == "seconds"
    for name in ("rss_growth", "io_read_bytes", "io_write_bytes"):
        assert getattr(cls, f"track_work_{name}").unit == "bytes"


def test_count_instructions_adds_an_instructions_track():
    work, _ = _make(BenchmarkType.LATENCY, count_instructions=True)
    cls = asv_benchmark(work)
    assert _methods(cls) == {"time_work", "track_work_instructions"}
    assert cls.track_work_instructions.unit == "instructions"
    assert cls.track_work_instructions.timeout > cls.timeout


def test_setup_builds_a_fresh_instance_with_params_and_teardown_forwards():
    work, log = _make(BenchmarkType.THROUGHPUT, params={"n": [3], "mode": ["x"]}, measurement_time=0.01, warm_up_time=0)
    cls = asv_benchmark(work)
    bench = cls()
    bench.setup(3, "x")
    first = bench._bench
    assert isinstance(first, work) and first.params == (3, "x")
    bench.time_work(3, "x")
    assert first.calls == 1
    ops = bench.track_work_throughput(3, "x")
    assert ops > 0 and first.calls > 1
    bench.teardown(3, "x")
    bench.setup(3, "x")
    assert bench._bench is not first  # one Benchmarkable per asv setup
    assert [entry[0] for entry in log] == ["setup", "teardown", "setup"]


def test_resource_tracks_return_measured_values():
    class _Alloc:
        config = BenchmarkConfig(name="alloc", benchmark_type=BenchmarkType.RESOURCE_USAGE)

        def setup(self):
            self.keep = None

        def run_iteration(self):
            self.keep = bytearray(b"x" * (30 * MB))  # touched pages: RSS really grows

    cls = asv_benchmark(_Alloc)
    bench = cls()
    bench.setup()
    assert bench.track_alloc_rss_growth() > 20 * MB
    bench.setup()
    assert bench.track_alloc_cpu_time() > 0
    bench.setup()
    assert bench.track_alloc_io_write_bytes() == 0


def test_custom_metrics_and_asv_attributes_are_forwarded():
    class _Custom:
        config = BenchmarkConfig(name="custom")
        rounds = 4
        repeat = 5
        number = 1

        def setup(self, *params):
            self.value = 0.25

        def run_iteration(self):
            pass

        def track_hit_rate(self):
            return self.value

        track_hit_rate.unit = "ratio"

    cls = asv_benchmark(_Custom)
    assert _methods(cls) == {"time_custom", "track_hit_rate"}
    assert cls.track_hit_rate.unit == "ratio"
    assert "self.value" in cls.track_hit_rate.pretty_source
    assert (cls.rounds, cls.repeat, cls.number) == (4, 5, 1)  # author overrides win
    bench = cls()
    bench.setup()
    assert bench.track_hit_rate() == 0.25


def test_version_follows_the_workload_code_not_the_budget():
    a, _ = _make(BenchmarkType.LATENCY, sample_size=3)
    b, _ = _make(BenchmarkType.LATENCY, sample_size=9)

    class _Other:
        config = BenchmarkConfig(name="work")

        def setup(self):
            pass

        def run_iteration(self):
            return 1

    assert asv_benchmark(a).version == asv_benchmark(b).version
    assert asv_benchmark(a).version != asv_benchmark(_Other).version


def test_adapter_rejects_incomplete_benchmarkables():
    class _NoConfig:
        def setup(self):
            pass

        def run_iteration(self):
            pass

    class _NoRun:
        config = BenchmarkConfig(name="x")

        def setup(self):
            pass

    class _Clash:
        config = BenchmarkConfig(name="x")

        def setup(self):
            pass

        def run_iteration(self):
            pass

        def time_x(self):
            pass

    with pytest.raises(TypeError, match="config"):
        asv_benchmark(_NoConfig)
    with pytest.raises(TypeError, match="run_iteration"):
        asv_benchmark(_NoRun)
    with pytest.raises(TypeError, match="clashes"):
        asv_benchmark(_Clash)


# ---- asv discovery and running, through asv_runner itself ---------------------------------

_SUITE_MODULE = textwrap.dedent(
    """
    from benchmarks.framework import BenchmarkConfig, BenchmarkType, asv_benchmark


    class _LookupThroughput:
        config = BenchmarkConfig(
            name="lookup", benchmark_type=BenchmarkType.THROUGHPUT,
            params={"n": [10, 20], "mode": ["dict", "list"]},
            sample_size=3, warm_up_time=0.0, measurement_time=0.02, count_instructions=True,
        )

        def setup(self, n, mode):
            if mode == "list" and n == 20:
                raise NotImplementedError("not at this commit")
            self.data = dict.fromkeys(range(n)) if mode == "dict" else list(range(n))

        def run_iteration(self):
            return 5 in self.data


    LookupThroughput = asv_benchmark(_LookupThroughput)
    """
)


@pytest.fixture()
def suite(tmp_path, monkeypatch):
    """A throwaway asv benchmark package that imports the real harness."""
    pkg = tmp_path / "irsuite_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "lookup_benchmarks.py").write_text(_SUITE_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    # Children (valgrind) find the harness through PYTHONPATH; asv itself maps the package.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    yield pkg
    for name in [m for m in sys.modules if m == "irsuite_pkg" or m.startswith("irsuite_pkg.")]:
        del sys.modules[name]


def test_asv_discovers_names_types_units_and_params(suite):
    from asv_runner.discovery import list_benchmarks

    out = io.StringIO()
    list_benchmarks(str(suite), out)
    found = {b["name"]: b for b in json.loads(out.getvalue())}
    assert set(found) == {
        "lookup_benchmarks.LookupThroughput.time_lookup",
        "lookup_benchmarks.LookupThroughput.track_lookup_throughput",
        "lookup_benchmarks.LookupThroughput.track_lookup_instructions",
    }  # the underscored Benchmarkable itself is invisible to asv
    thr = found["lookup_benchmarks.LookupThroughput.track_lookup_throughput"]
    assert (thr["type"], thr["unit"]) == ("track", "ops/s")
    assert thr["param_names"] == ["n", "mode"]
    assert thr["params"] == [["10", "20"], ["'dict'", "'list'"]]
    assert found["lookup_benchmarks.LookupThroughput.time_lookup"]["type"] == "time"
    assert found["lookup_benchmarks.LookupThroughput.track_lookup_instructions"]["unit"] == "instructions"


def test_asv_runner_runs_and_skips_adapted_benchmarks(suite, monkeypatch):
    from asv_runner.discovery import get_benchmark_from_name

    monkeypatch.setenv(instr_mod.SWITCH_VAR, "off")
    name = "lookup_benchmarks.LookupThroughput"
    timed = get_benchmark_from_name(str(suite), f"{name}.time_lookup-0")
    assert timed.do_setup() is False
    result = timed.do_run()
    timed.do_teardown()
    assert len(result["samples"]) >= 1 and all(s > 0 for s in result["samples"])

    skipped = get_benchmark_from_name(str(suite), f"{name}.time_lookup-3")  # (20, 'list')
    assert skipped.do_setup() is True  # NotImplementedError in setup -> asv skip

    counted = get_benchmark_from_name(str(suite), f"{name}.track_lookup_instructions-0")
    assert counted.do_setup() is False
    from asv_runner.benchmarks.mark import SkipNotImplemented

    with pytest.raises(SkipNotImplemented):  # what asv records as a skip, not a failure
        counted.do_run()


def test_instruction_track_skips_cleanly_without_valgrind(monkeypatch):
    monkeypatch.setattr(instr_mod, "valgrind_path", lambda: None)
    monkeypatch.delenv(instr_mod.SWITCH_VAR, raising=False)
    with pytest.raises(NotImplementedError, match="valgrind"):
        count_instructions("anything", "Anything")


def test_instruction_track_passes_parameter_indices(monkeypatch):
    seen = {}

    def fake(module, cls_name, index, *, iterations, warm_up):
        seen.update(module=module, cls=cls_name, index=index, iterations=iterations, warm_up=warm_up)
        return 123.0

    monkeypatch.setattr(adapter_mod, "count_instructions", fake)
    work, _ = _make(BenchmarkType.LATENCY, params={"n": [10, 20], "mode": ["a", "b"]}, count_instructions=True)
    work.instruction_iterations = 4
    cls = asv_benchmark(work)
    assert cls().track_work_instructions(20, "a") == 123.0
    assert seen == {"module": work.__module__, "cls": "_Work", "index": (1, 0), "iterations": 4, "warm_up": 1}


# ---- ResourceUsage: real numbers ------------------------------------------------------------


def test_resource_usage_sees_cpu_burn():
    def burn():
        total = 0
        for i in range(3_000_000):
            total += i * i
        return total

    _, usage = measure_resources(burn)
    assert usage.cpu_time > 0.02  # ~0.1-0.5 s of pure Python arithmetic
    assert usage.cpu_time == pytest.approx(usage.cpu_user + usage.cpu_system)
    assert usage.io_write_bytes == 0


def test_resource_usage_sees_memory_growth_and_peak():
    gc.collect()
    _, kept = measure_resources(lambda: bytearray(b"\x01" * (50 * MB)))
    assert kept.rss_growth > 40 * MB
    assert kept.peak_rss is None or kept.peak_rss >= kept.rss_before + 40 * MB

    def transient():
        block = bytearray(b"\x01" * (50 * MB))
        del block

    _, freed = measure_resources(transient)
    assert freed.rss_growth < 20 * MB  # returned to the OS
    if freed.peak_rss is not None:  # Linux: VmHWM reset through /proc/self/clear_refs
        assert freed.peak_rss >= freed.rss_before + 40 * MB


def test_resource_usage_sees_file_io(tmp_path):
    path = tmp_path / "blob.bin"
    payload = os.urandom(4 * MB)

    def write():
        with open(path, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())

    def read():
        with open(path, "rb") as fh:
            return fh.read()

    _, wrote = measure_resources(write)
    assert wrote.io_write_bytes >= 4 * MB
    assert wrote.io_read_bytes < 64 * 1024
    data, red = measure_resources(read)
    assert data == payload
    assert red.io_read_bytes >= 4 * MB
    assert red.io_write_bytes < 64 * 1024


def test_resource_monitor_does_not_count_its_own_probes():
    with ResourceMonitor() as mon:
        pass
    assert mon.usage is not None
    assert mon.usage.io_read_bytes == 0 and mon.usage.io_write_bytes == 0


def test_resource_usage_counts_context_switches():
    import time

    _, slept = measure_resources(lambda: [time.sleep(0.002) for _ in range(5)])
    assert slept.ctx_voluntary >= 5  # every sleep gives the CPU up
    assert slept.ctx_involuntary >= 0


def test_measure_operations_reports_per_operation(tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(os.urandom(64 * 1024))

    def read():
        with open(path, "rb") as fh:
            return fh.read()

    per_op = measure_operations(read, 5)
    assert per_op.operations == 5
    assert 64 * 1024 <= per_op.io_read_bytes < 64 * 1024 + 4096  # one file's bytes per call, not the loop's
    assert per_op.io_write_bytes == 0
    quiet = measure_operations(lambda: sum(range(1000)), 2_000)
    assert quiet.io_read_bytes == 0 and quiet.io_write_bytes == 0  # the probes do not count
    assert quiet.cpu_user + quiet.cpu_system > 0
    assert quiet.ctx_switches_voluntary < 1
    assert set(quiet.as_dict()) == {f"{m}" for m in channel_mod.METRICS} | {"operations"}


def test_measure_operations_sees_the_peak_of_a_transient_allocation():
    per_op = measure_operations(lambda: bytearray(b"\x01" * (40 * MB)), 2, warm_up=0)
    if per_op.peak_rss is not None:  # Linux: VmHWM reset through /proc/self/clear_refs
        assert per_op.peak_rss >= 30 * MB


def _channel(module: str, **workloads):
    """A resource channel class as a component module would write it (one per module)."""
    return resource_channel(type("Resources", (), {"__module__": module, "workloads": workloads}))


def test_resource_channel_generates_one_track_per_metric_with_units():
    def _sum():
        data = list(range(1000))
        return lambda: sum(data)

    def _missing():
        raise NotImplementedError("not at this commit")

    cls = _channel("irchannel_a", sum_1000=(_sum, 2000), missing=(_missing, 1))
    assert cls.params == [["sum_1000", "missing"]] and cls.param_names == ["workload"]
    assert cls.rounds == 1
    assert {n: getattr(cls, n).unit for n in vars(cls) if n.startswith("track_")} == {
        f"track_{m}": unit for m, (unit, _) in channel_mod.METRICS.items()
    }
    measured = cls().setup_cache()
    assert measured["missing"] == {"skipped": "not at this commit"}
    bench = cls()
    bench.setup(measured, "sum_1000")
    # The kernel splits CPU time into user and system by clock ticks, so a short run may
    # show all of it on one side; their sum is precise.
    cpu = bench.track_cpu_user(measured, "sum_1000") + bench.track_cpu_system(measured, "sum_1000")
    assert cpu > 0
    assert bench.track_io_read_bytes(measured, "sum_1000") == 0
    with pytest.raises(NotImplementedError, match="not at this commit"):
        bench.setup(measured, "missing")  # asv records a skip
    versions = {getattr(cls, f"track_{m}").version for m in channel_mod.METRICS}
    assert len(versions) == 1 and "_sum" in cls.track_cpu_user.pretty_source
    assert measured["sum_1000"]["operations"] == 2000


def test_resource_channel_keys_its_cache_by_module_and_refuses_a_second_one():
    from asv_runner.benchmarks._base import get_setup_cache_key

    def _op():
        return lambda: None

    a, b = _channel("irpkg.irchannel_b", op=(_op, 1)), _channel("irpkg.irchannel_c", op=(_op, 1))
    for mod in ("irpkg.irchannel_b", "irpkg.irchannel_c"):
        sys.modules.setdefault(mod, type(sys)(mod))
    try:
        assert get_setup_cache_key(a().setup_cache) != get_setup_cache_key(b().setup_cache)
    finally:
        for mod in ("irpkg.irchannel_b", "irpkg.irchannel_c"):
            del sys.modules[mod]
    with pytest.raises(TypeError, match="already has a resource channel"):
        resource_channel(type("Other", (), {"__module__": "irpkg.irchannel_b", "workloads": {"op": (_op, 1)}}))
    assert _channel("irpkg.irchannel_b", op=(_op, 1)).params == [["op"]]  # the same class again (a re-import)
    with pytest.raises(TypeError, match="workloads"):
        _channel("irchannel_d")
    with pytest.raises(TypeError, match="calls >= 1"):
        _channel("irchannel_f", op=_op)
    with pytest.raises(TypeError, match="clashes"):
        resource_channel(type("R", (), {"__module__": "irchannel_e", "workloads": {"op": (_op, 1)}, "setup": _op}))


# ---- instruction counts under valgrind ------------------------------------------------------

needs_valgrind = pytest.mark.skipif(instr_mod.valgrind_path() is None, reason="valgrind not installed")

_COUNT_MODULE = textwrap.dedent(
    """
    from benchmarks.framework import BenchmarkConfig


    class _Sum:
        config = BenchmarkConfig(name="sum", params={"n": [2000, 2020]})

        def setup(self, n):
            self.data = list(range(n))

        def run_iteration(self):
            total = 0
            for x in self.data:
                total += x
            return total
    """
)


@pytest.mark.slow
@needs_valgrind
def test_instruction_counts_are_deterministic_and_track_work(tmp_path, monkeypatch):
    pkg = tmp_path / "ircount_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "count_mod.py").write_text(_COUNT_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    # The child finds the harness through a directory that holds only it: a directory whose
    # listing changes between the two valgrind runs would change the import work they do.
    harness_dir = tmp_path / "harness_path"
    harness_dir.mkdir()
    (harness_dir / "benchmarks").symlink_to(ROOT / "benchmarks")
    monkeypatch.setenv("PYTHONPATH", str(harness_dir))
    monkeypatch.delenv(instr_mod.SWITCH_VAR, raising=False)
    importlib.import_module("ircount_pkg.count_mod")
    try:
        first = count_instructions("ircount_pkg.count_mod", "_Sum", (0,), iterations=3)
        second = count_instructions("ircount_pkg.count_mod", "_Sum", (0,), iterations=3)
        more = count_instructions("ircount_pkg.count_mod", "_Sum", (1,), iterations=3)  # +1% work
    finally:
        for name in [m for m in sys.modules if m.startswith("ircount_pkg")]:
            del sys.modules[name]
    assert first == second  # exact, not approximately
    assert first > 10 * 2000  # a Python loop step is dozens of instructions
    assert 1.005 < more / first < 1.015  # a 1% larger workload shows as ~1% more instructions


@pytest.mark.slow
@needs_valgrind
def test_instruction_count_failure_in_child_is_reported(tmp_path, monkeypatch):
    monkeypatch.delenv(instr_mod.SWITCH_VAR, raising=False)
    with pytest.raises(InstructionCountError, match="no_such_module_xyz"):
        count_instructions("no_such_module_xyz", "Nope", iterations=1)


def test_adapter_module_has_no_benchmark_lookalikes():
    # asv imports benchmarks/framework during discovery: nothing there may look like a benchmark.
    import benchmarks.framework as fw

    for module in (fw, adapter_mod, instr_mod, importlib.import_module("benchmarks.framework.resources")):
        for name, obj in vars(module).items():
            if name.startswith("_"):
                continue
            if inspect.isfunction(obj):
                assert not name.startswith(("time_", "track_", "peakmem_", "mem_", "timeraw_")), name
            if inspect.isclass(obj):
                for attr in dir(obj):
                    assert not attr.startswith(("time_", "track_", "peakmem_", "mem_", "timeraw_")), (name, attr)


# ---- asv.conf.json ----------------------------------------------------------------------------


def _asv_conf() -> dict:
    return json.loads((ROOT / "asv.conf.json").read_text())


def test_asv_conf_lists_every_runtime_dependency_in_the_matrix():
    import tomllib

    # Built with --no-deps: a dependency missing from matrix.req breaks every asv environment.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needed = {re.split(r"[<>=!~\[; ]", dep, maxsplit=1)[0].lower() for dep in project["dependencies"]}
    conf = _asv_conf()
    req = {name.lower() for name in conf["matrix"]["req"]}
    assert needed | {"psutil", "setuptools", "wheel"} <= req
    assert all("--no-deps" in cmd for cmd in conf["build_command"] + conf["install_command"])
    assert conf["benchmark_dir"] == "benchmarks" and conf["branches"] == ["main"]
    assert all(conf[key].startswith(".asv/") for key in ("env_dir", "results_dir", "html_dir"))


@pytest.mark.parametrize(
    "entry, threshold",
    [
        ("router_benchmarks.Route.time_route(100, 'cost')", 0.10),
        ("model_registry_benchmarks.Lookup.track_lookup_throughput(10)", 0.10),
        ("memory_benchmarks.AddFootprint.peakmem_add_100k_messages", 0.05),
        ("memory_benchmarks.AddFootprint.track_add_100k_messages_rss_growth", 0.05),
        ("router_benchmarks.RoundRobinRoute.track_route_round_robin_instructions", 0.01),
        ("router_benchmarks.Route.track_route_relative('cost_optimized', 10)", 0.05),
    ],
)
def test_regression_thresholds_pick_the_intended_value(entry, threshold):
    # asv's rule (plugins/regressions.py): the largest threshold whose regex re.match()es.
    matching = [float(t) for rx, t in _asv_conf()["regressions_thresholds"].items() if re.match(rx, entry)]
    assert matching and max(matching) == threshold
