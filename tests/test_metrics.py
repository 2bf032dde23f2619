"""Custom metrics that mean what they say: the declared direction from the benchmark to the verdict.

A metric declares which way is better next to its definition (``benchmarks.framework.metric`` or
``BenchmarkConfig(higher_is_better=...)``); the harness writes it into the asv unit, asv keeps the
unit in benchmarks.json beside the results, and ``tools.schema.lower_is_better`` reads it for
detection, reports and charts. These tests follow that path end to end.
"""

from __future__ import annotations

import io
import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.framework import BenchmarkConfig, BenchmarkType, asv_benchmark, declared_unit, metric  # noqa: E402
from benchmarks.framework import metrics as harness_metrics  # noqa: E402
from tools import schema  # noqa: E402
from tools.detect import history, pairwise  # noqa: E402
from tools.humanize import human_value  # noqa: E402

MACHINE, ENV = "m1", "virtualenv-py3.11"
BASE, HEAD = "b" * 40, "c" * 40


# ---- the grammar: one mark, read in one place ------------------------------------------------


def test_harness_and_tools_use_the_same_marks():
    assert harness_metrics.HIGHER_MARK == schema.HIGHER_MARK
    assert harness_metrics.LOWER_MARK == schema.LOWER_MARK


@pytest.mark.parametrize(
    "bench_type, unit, lower",
    [
        ("track", "accuracy ↑", False),  # declared
        ("track", "recall@5 ↑", False),
        ("track", "% ↓", True),  # declared against the inferred direction
        ("track", "ops/s ↓", True),
        ("track", "accuracy", True),  # unmarked: today's behaviour, lower is better
        ("track", "widgets", True),
        ("track", "QPS", True),
        ("track", "ops/s", False),  # inferred as before
        ("track", "requests per second", False),
        ("track", "hit rate", False),
        ("track", "%", False),
        ("time", "seconds", True),
        ("peakmem", "bytes", True),
        ("track", "instructions", True),
    ],
)
def test_lower_is_better_reads_the_declaration_first(bench_type, unit, lower):
    assert schema.lower_is_better(bench_type, unit) is lower
    assert schema.better(bench_type, unit) == ("lower" if lower else "higher")


def test_units_are_formatted_without_losing_the_mark():
    assert schema.unit_without_mark("recall@5 ↑") == "recall@5"
    assert schema.unit_without_mark("ops/s") == "ops/s"
    assert human_value(2048, "bytes ↑") == "2.05 kB ↑"
    assert human_value(0.875, "accuracy ↑") == "0.875 accuracy ↑"


# ---- declaring it: the decorator and BenchmarkConfig ------------------------------------------


def test_metric_decorator_writes_the_direction_into_the_unit():
    class Quality:
        @metric("accuracy", higher_is_better=True)
        def track_accuracy(self):
            return 0.9

        @metric("errors", higher_is_better=False)
        def track_errors(self):
            return 3

        @metric("USD/1k tokens")
        def track_cost(self):
            return 0.2

    assert Quality.track_accuracy.unit == "accuracy ↑" and Quality.track_accuracy.higher_is_better is True
    assert Quality.track_errors.unit == "errors ↓"
    assert Quality.track_cost.unit == "USD/1k tokens"  # undeclared: inferred as before


@pytest.mark.parametrize(
    "unit, higher, fragment",
    [("", True, "non-empty"), ("instructions", True, "measurement channel"), ("relative", None, "measurement channel"),
     ("accuracy ↑", True, "direction mark"), ("accuracy", "yes", "True, False or None")],
)  # fmt: skip
def test_declared_unit_refuses_what_would_mislead(unit, higher, fragment):
    with pytest.raises(ValueError, match=fragment):
        declared_unit(unit, higher)


def test_metric_decorator_only_declares_track_methods():
    with pytest.raises(TypeError, match="track_"):

        @metric("accuracy", higher_is_better=True)
        def time_accuracy(self):
            pass


def _metric_config(**kwargs):
    return BenchmarkConfig(name="quality", benchmark_type=BenchmarkType.METRIC, **kwargs)


def test_config_unit_reaches_the_asv_unit():
    class _Quality:
        config = _metric_config(unit="accuracy", higher_is_better=True)

        def setup(self):
            self.value = 0.75

        def run_iteration(self):
            return self.value

    cls = asv_benchmark(_Quality)
    assert [n for n in vars(cls) if n.startswith("track_")] == ["track_quality"]
    assert cls.track_quality.unit == "accuracy ↑"
    bench = cls()
    bench.setup()
    assert bench.track_quality() == 0.75

    class _Rate:
        config = BenchmarkConfig(name="serve", benchmark_type=BenchmarkType.THROUGHPUT, unit="requests/s")

        def setup(self):
            pass

        def run_iteration(self):
            pass

    assert asv_benchmark(_Rate).track_serve_throughput.unit == "requests/s"
    assert BenchmarkConfig(name="t").recorded_unit == "seconds"
    assert BenchmarkConfig(name="t", benchmark_type=BenchmarkType.THROUGHPUT).recorded_unit == "ops/s"


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"unit": "bytes"}, "does not fit LATENCY"),
        ({"benchmark_type": BenchmarkType.THROUGHPUT, "unit": "seconds"}, "does not fit THROUGHPUT"),
        ({"benchmark_type": BenchmarkType.RESOURCE_USAGE, "unit": "bytes"}, "does not fit RESOURCE_USAGE"),
        ({"benchmark_type": BenchmarkType.METRIC}, "needs unit="),
        ({"benchmark_type": BenchmarkType.METRIC, "unit": "instructions"}, "measurement channel"),
        ({"higher_is_better": True}, "METRIC benchmarks only"),
        ({"benchmark_type": BenchmarkType.THROUGHPUT, "higher_is_better": False}, "METRIC benchmarks only"),
    ],
)
def test_a_unit_that_does_not_fit_the_type_is_an_error_at_definition(kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        BenchmarkConfig(name="x", **kwargs)


def test_a_metric_that_returns_no_number_fails_clearly():
    class _Broken:
        config = _metric_config(unit="accuracy")

        def setup(self):
            pass

        def run_iteration(self):
            return "0.9"

    bench = asv_benchmark(_Broken)()
    bench.setup()
    with pytest.raises(TypeError, match="returned str"):
        bench.track_quality()


# ---- kept with the results: asv's own discovery writes it into benchmarks.json ------------------

_SUITE = textwrap.dedent(
    """
    from benchmarks.framework import BenchmarkConfig, BenchmarkType, asv_benchmark, metric


    class Quality:
        @metric("accuracy", higher_is_better=True)
        def track_accuracy(self):
            return 0.9

        def track_widgets(self):
            return 1.0

        track_widgets.unit = "widgets"


    class _Recall:
        config = BenchmarkConfig(name="recall_at_5", benchmark_type=BenchmarkType.METRIC, unit="recall@5",
                                 higher_is_better=True)

        def setup(self):
            pass

        def run_iteration(self):
            return 0.8


    Recall = asv_benchmark(_Recall)
    """
)


@pytest.fixture()
def discovered(tmp_path, monkeypatch) -> dict[str, dict]:
    """benchmarks.json entries of a small suite, as asv_runner's discovery writes them."""
    from asv_runner.discovery import list_benchmarks

    pkg = tmp_path / "irmetric_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "quality_benchmarks.py").write_text(_SUITE)
    monkeypatch.syspath_prepend(str(tmp_path))
    out = io.StringIO()
    try:
        list_benchmarks(str(pkg), out)
    finally:
        for name in [m for m in sys.modules if m.startswith("irmetric_pkg")]:
            del sys.modules[name]
    return {b["name"]: b for b in json.loads(out.getvalue())}


def test_asv_records_the_declared_direction_in_benchmarks_json(discovered):
    units = {name.rsplit(".", 1)[-1]: b["unit"] for name, b in discovered.items()}
    assert units == {"track_accuracy": "accuracy ↑", "track_widgets": "widgets", "track_recall_at_5": "recall@5 ↑"}
    assert all(b["type"] == "track" for b in discovered.values())


def _write_round(root: Path, k: int, benchmarks: dict, values: dict[str, dict[str, float]]) -> Path:
    """One interleaved round: base and head results of every benchmark, with benchmarks.json."""
    round_dir = root / f"round-{k}"
    mdir = round_dir / MACHINE
    mdir.mkdir(parents=True)
    (round_dir / "benchmarks.json").write_text(json.dumps({**benchmarks, "version": 2}), encoding="utf-8")
    (mdir / "machine.json").write_text(json.dumps({"machine": MACHINE, "version": 1}))
    for i, commit in enumerate((BASE, HEAD)):
        results = {name: [[v[commit]], [], benchmarks[name]["version"], 1_767_225_600_000 + k, 0.1]
                   for name, v in values.items()}  # fmt: skip
        data = {
            "commit_hash": commit, "env_name": ENV, "date": 1_767_225_600_000 + i * 86_400_000,
            "params": {"machine": MACHINE}, "python": "3.11", "requirements": {}, "env_vars": {},
            "result_columns": ["result", "params", "version", "started_at", "duration"], "results": results,
            "durations": {}, "version": 2,
        }  # fmt: skip
        (mdir / f"{commit[:8]}-{ENV}.json").write_text(json.dumps(data))
    return round_dir


def _verdicts(tmp_path: Path, discovered: dict, factor: float) -> dict[str, str]:
    """Eight interleaved rounds where every metric moves by ``factor`` from base to head (0.3% noise),
    loaded from disk and judged by the pairwise detector."""
    from tools.loader import load_results

    rng = np.random.default_rng(7)
    dirs = []
    for k in range(8):
        noise = rng.normal(1.0, 0.003, size=(len(discovered), 2))
        values = {name: {BASE: 0.9 * n[0], HEAD: 0.9 * factor * n[1]} for name, n in zip(discovered, noise)}
        dirs.append(_write_round(tmp_path / f"x{factor}", k, discovered, values))
    table = load_results(dirs, warn=lambda _: None)
    commit = table["commit"].astype(str)
    found = pairwise.compare_suite(table[commit == BASE], table[commit == HEAD])
    return {f.benchmark.rsplit(".", 1)[-1]: f.verdict for f in found}


def test_a_higher_is_better_metric_that_drops_10pct_is_a_regression(tmp_path, discovered):
    verdicts = _verdicts(tmp_path, discovered, 0.9)
    assert verdicts["track_accuracy"] == "regressed"
    assert verdicts["track_recall_at_5"] == "regressed"
    assert verdicts["track_widgets"] == "improved"  # unmarked: lower is better, as before


def test_the_same_metric_rising_10pct_is_an_improvement(tmp_path, discovered):
    verdicts = _verdicts(tmp_path, discovered, 1.1)
    assert verdicts["track_accuracy"] == "improved"
    assert verdicts["track_recall_at_5"] == "improved"
    assert verdicts["track_widgets"] == "regressed"


def _history_table(unit: str, factor: float) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 20
    values = 0.9 * rng.normal(1.0, 0.003, n) * np.where(np.arange(n) >= 10, factor, 1.0)
    return pd.DataFrame(
        {
            "machine": MACHINE, "environment": ENV, "benchmark": "q_benchmarks.Q.track_q", "params": "",
            "commit": [f"{i:040x}" for i in range(n)], "value": values, "type": "track", "unit": unit,
            "commit_date": pd.to_datetime(1_767_225_600 + 86_400 * np.arange(n), unit="s", utc=True),
        }
    )  # fmt: skip


@pytest.mark.parametrize("unit, factor, expected", [
    ("accuracy ↑", 0.9, "regressed"), ("accuracy ↑", 1.1, "improved"),
    ("accuracy", 0.9, "improved"), ("accuracy", 1.1, "regressed"),
])  # fmt: skip
def test_history_mode_honours_the_declaration_too(unit, factor, expected):
    found = history.history_suite(_history_table(unit, factor))
    assert [f.verdict for f in found] == [expected]
    assert found[0].lower_is_better is (unit == "accuracy")


def test_summary_charts_count_a_drop_of_a_higher_is_better_metric_as_more_cost():
    from tools.charts import relative_cost

    points = pd.DataFrame(
        {
            "component": "q", "machine": MACHINE, "environment": ENV, "benchmark": "q_benchmarks.Q.track_q",
            "params": "", "type": "track", "unit": "accuracy ↑", "commit": ["a", "b"], "value": [0.9, 0.81],
            "commit_date": pd.to_datetime([1_767_225_600, 1_767_312_000], unit="s", utc=True),
        }
    )  # fmt: skip
    cost = relative_cost(points)["relative_cost"].to_numpy()
    assert cost == pytest.approx([1.0, 1 / 0.9])


# ---- floors that fit each resource metric --------------------------------------------------------


def test_floors_are_chosen_by_metric_with_the_unit_as_guard():
    from tools.detect.series import DEFAULT_FLOOR_PCT, Floor, floor_of

    assert floor_of("track", "bytes", "m_benchmarks.Resources.track_io_read_bytes") == Floor(2.0, 64)
    assert floor_of("track", "bytes", "m_benchmarks.Resources.track_peak_rss") == Floor(5.0, 65_536)
    assert floor_of("track", "bytes", "m_benchmarks.F.track_add_100k_messages_rss_growth") == Floor(5.0, 65_536)
    assert floor_of("track", "switches/op", "m_benchmarks.Resources.track_ctx_switches_involuntary").pct == 50.0
    assert floor_of("track", "seconds", "m_benchmarks.Resources.track_cpu_system") == Floor(10.0, 1e-6)
    assert floor_of("track", "hit rate", "m_benchmarks.Q.track_peak_rss") == Floor(DEFAULT_FLOOR_PCT)  # unit guard
    assert floor_of("time", "seconds", "m_benchmarks.C.time_x") == Floor(DEFAULT_FLOOR_PCT)
    assert floor_of("track", "instructions", "m_benchmarks.C.track_x_instructions").pct == 0.5
    assert Floor(5.0, 65_536).pct_at(0) == 100.0  # below the absolute part: relative to it
    assert Floor(5.0, 65_536).pct_at(10 * 65_536) == pytest.approx(10.0)
    assert Floor(5.0, 65_536).pct_at(100 * 65_536) == 5.0


def _resource_rows(name: str, unit: str, base: list[float], head: list[float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    def rows(commit, values):
        return pd.DataFrame(
            {
                "machine": MACHINE, "environment": ENV, "benchmark": f"c_benchmarks.Resources.{name}",
                "params": "workload='op'", "commit": commit, "round": range(len(values)), "value": values,
                "type": "track", "unit": unit,
            }
        )  # fmt: skip

    return rows(BASE, base), rows(HEAD, head)


@pytest.mark.parametrize(
    "name, unit, base, head, expected",
    [
        # exact zeros: no I/O before or after is unchanged, a new 4 kB read per operation is regressed
        ("track_io_read_bytes", "bytes", [0.0] * 8, [0.0] * 8, "unchanged"),
        ("track_io_read_bytes", "bytes", [0.0] * 8, [4096.0] * 8, "regressed"),
        # page noise of a peak near zero stays within the 64 kB absolute floor
        ("track_peak_rss", "bytes", [0, 12288, 0, 16384, 36864, 12288, 0, 8192],
         [4096, 0, 12288, 0, 8192, 0, 16384, 0], "unchanged"),
        # a workload that starts waiting on every operation
        ("track_ctx_switches_voluntary", "switches/op", [0.0] * 8, [1.0] * 8, "regressed"),
        # preemptions vary with the machine's load, not the code: tiny per op is unchanged
        ("track_ctx_switches_involuntary", "switches/op", [0.0016, 0.0017, 0.0017, 0.0019, 0.002, 0.0015, 0.0018, 0.0016],
         [0.0023, 0.0018, 0.0023, 0.0039, 0.0019, 0.0023, 0.002, 0.0021], "unchanged"),
        # system CPU of CPU-bound code: sporadic sub-microsecond blips around 0
        ("track_cpu_system", "seconds", [3e-7, 0, 0, 0, 2.4e-8, 0, 0, 1e-7], [0, 5.8e-9, 0, 0, 1.8e-8, 0, 2e-7, 0],
         "unchanged"),
    ],
)  # fmt: skip
def test_resource_metrics_near_zero_are_judged_against_their_absolute_floor(name, unit, base, head, expected):
    b, h = _resource_rows(name, unit, base, head)
    (found,) = pairwise.compare_suite(b, h)
    assert found.verdict == expected, found.rule


def test_history_finds_an_operation_that_starts_reading():
    table = _history_table("bytes", 1.0).assign(benchmark="c_benchmarks.Resources.track_io_read_bytes")
    table["value"] = np.where(np.arange(len(table)) >= 10, 4096.0, 0.0)
    found = history.history_suite(table)
    assert [f.verdict for f in found] == ["regressed"]
    flat = table.assign(value=0.0)
    assert history.history_suite(flat) == []


# ---- shown where people read: the CSV and the performance report -------------------------------


def _loaded(tmp_path: Path, benchmarks: dict, values: dict[str, float]) -> pd.DataFrame:
    from tools.loader import load_results

    both = {name: {BASE: v, HEAD: v} for name, v in values.items()}
    return load_results([_write_round(tmp_path, 0, benchmarks, both)], warn=lambda _: None)


def test_the_csv_says_which_way_is_better(tmp_path, discovered):
    from tools.commands.export import CSV_COLUMNS, export_frame

    frame = export_frame(_loaded(tmp_path, discovered, dict.fromkeys(discovered, 0.9)))
    better = dict(zip(frame["benchmark"].str.rsplit(".", n=1).str[-1], frame["better"]))
    assert better == {"track_accuracy": "higher", "track_recall_at_5": "higher", "track_widgets": "lower"}
    assert set(frame["unit"]) == {"accuracy ↑", "recall@5 ↑", "widgets"}  # BenchmarkConfig.unit reached the CSV
    assert "better" in CSV_COLUMNS


def _resource_benchmarks() -> dict:
    from benchmarks.framework.resource_channel import METRICS

    params = [["'find'", "'get'"]]
    return {
        f"r_benchmarks.Resources.track_{m}": {
            "name": f"r_benchmarks.Resources.track_{m}", "type": "track", "unit": unit, "params": params,
            "param_names": ["workload"], "version": "1",
        }
        for m, (unit, _) in METRICS.items()
    }  # fmt: skip


def test_the_performance_report_shows_the_resource_channel_per_workload(tmp_path):
    from tools.performance_report import performance_report_md

    benchmarks = _resource_benchmarks()
    assert [n.rsplit("track_", 1)[-1] for n in benchmarks] == list(schema.RESOURCE_METRICS)
    round_dir = tmp_path / "round-0"
    mdir = round_dir / MACHINE
    mdir.mkdir(parents=True)
    (round_dir / "benchmarks.json").write_text(json.dumps({**benchmarks, "version": 2}), encoding="utf-8")
    (mdir / "machine.json").write_text(json.dumps({"machine": MACHINE, "version": 1}))
    values = {"cpu_user": [6e-6, 8e-6], "peak_rss": [0, 3.5e6], "io_read_bytes": [0, 0]}
    results = {
        name: [values.get(name.rsplit("track_", 1)[-1], [0.001, 0.002]), meta["params"], "1", 1_767_225_600_000, 0.1]
        for name, meta in benchmarks.items()
    }  # fmt: skip
    data = {
        "commit_hash": HEAD, "env_name": ENV, "date": 1_767_225_600_000, "params": {"machine": MACHINE},
        "python": "3.11", "requirements": {}, "env_vars": {}, "result_columns": ["result", "params", "version",
        "started_at", "duration"], "results": results, "durations": {}, "version": 2,
    }  # fmt: skip
    (mdir / f"{HEAD[:8]}-{ENV}.json").write_text(json.dumps(data))
    from tools.loader import load_results

    md = performance_report_md(load_results([round_dir], warn=lambda _: None), {}, "now", {})
    assert (
        "| machine / env | workload | CPU user | CPU system | peak RSS | read | written | waits | preemptions |" in md
    )
    assert f"| {MACHINE} / {ENV} | get | 8.00 µs |" in md
    assert "3.50 MB" in md


# ---- the router's application metrics ------------------------------------------------------------


@pytest.fixture(scope="module")
def suite_units() -> dict[str, str]:
    """Every benchmark of the real suite with its recorded unit, as asv discovers them."""
    from asv_runner.discovery import list_benchmarks

    out = io.StringIO()
    list_benchmarks(str(ROOT / "benchmarks"), out)
    return {b["name"]: b["unit"] for b in json.loads(out.getvalue())}


@pytest.mark.parametrize(
    "name, unit",
    [
        ("router_benchmarks.RoutingQuality.track_known_best_share", "accuracy ↑"),
        ("memory_benchmarks.ContextHitRate.track_context_hit_rate", "hit rate ↑"),
        ("rag_manager_benchmarks.RetrievalRecall.track_recall_at_5", "recall@5 ↑"),
    ],
)
def test_application_metrics_are_declared_higher_is_better(suite_units, name, unit):
    assert suite_units[name] == unit
    assert schema.better("track", unit) == "higher"


def test_every_resource_track_of_the_suite_has_its_unit(suite_units):
    from benchmarks.framework.resource_channel import METRICS

    resources = {n: u for n, u in suite_units.items() if schema.resource_metric_of(n)}
    assert {n.split(".")[0] for n in resources} == {
        "model_registry_benchmarks", "router_benchmarks", "chain_engine_benchmarks", "memory_benchmarks",
        "rag_manager_benchmarks",
    }  # fmt: skip
    assert all(u == METRICS[schema.resource_metric_of(n)][0] for n, u in resources.items())


def test_the_known_best_assignment_tells_a_good_router_from_a_blind_one():
    from benchmarks.fixtures import make_registry, make_router, routing_objective, routing_quality_cases

    registry = make_registry(300, "route-quality-test")
    cases = routing_quality_cases(registry, "cost_optimized", 60)

    def share(router) -> float:
        hits = [routing_objective(router.route(r).model, "cost_optimized", i, o) == best for r, i, o, best in cases]
        return sum(hits) / len(hits)

    assert len(cases) > 40
    assert share(make_router(registry, "cost_optimized")) == 1.0
    assert share(make_router(registry, "round_robin")) < 0.2  # picks without looking at the price


# ---- the deterministic channel covers every component's hot paths ---------------------------------


def test_every_component_has_at_least_two_hot_paths_decided_exactly(suite_units):
    twins = [n for n, u in suite_units.items() if u == "instructions"]
    per_component = {}
    for name in twins:
        per_component.setdefault(schema.component_of(name), []).append(name)
        assert schema.twin_of(name, "time") in suite_units  # a twin of a timed series, read beside it
    assert set(per_component) == {"model_registry", "router", "chain_engine", "memory", "rag_manager"}
    assert all(len(names) >= 2 for names in per_component.values()), per_component


def test_summary_charts_leave_the_resource_channel_out():
    from tools.charts import relative_cost

    def series(benchmark, unit, values):
        return pd.DataFrame(
            {
                "component": "q", "machine": MACHINE, "environment": ENV, "benchmark": benchmark, "params": "",
                "type": "track", "unit": unit, "commit": ["a", "b"], "value": values,
                "commit_date": pd.to_datetime([1_767_225_600, 1_767_312_000], unit="s", utc=True),
            }
        )  # fmt: skip

    points = pd.concat(
        [
            series("q_benchmarks.Q.time_q", "seconds", [1.0, 1.1]),
            series("q_benchmarks.Resources.track_ctx_switches_involuntary", "switches/op", [0.002, 0.01]),
        ]
    )
    assert relative_cost(points)["relative_cost"].to_numpy() == pytest.approx([1.0, 1.1])
