"""Benchmark harness: state what a benchmark measures, let asv measure it.

Example (one file under ``benchmarks/``, nothing else to edit)::

    from benchmarks.fixtures import require
    from benchmarks.framework import BenchmarkConfig, BenchmarkType, asv_benchmark

    class _LookupThroughput:
        config = BenchmarkConfig(
            name="lookup",
            description="get() on a registry of n models",
            benchmark_type=BenchmarkType.THROUGHPUT,
            params={"n_models": [10, 1_000]},
            count_instructions=True,
        )

        def setup(self, n_models):
            ModelRegistry = require("intellirouter.registry", "ModelRegistry")
            ...

        def run_iteration(self):
            self.registry.get(self.ids[self.i % len(self.ids)])

    LookupThroughput = asv_benchmark(_LookupThroughput)
    # asv: <module>.LookupThroughput.time_lookup, .track_lookup_throughput,
    #      .track_lookup_instructions

This package holds no benchmarks itself (asv imports it during discovery and finds none).
"""

from .adapter import asv_benchmark, param_grid
from .config import Benchmarkable, BenchmarkConfig, BenchmarkType
from .instructions import InstructionCountError, count_instructions
from .metrics import declared_unit, metric
from .relative import measure_relative, relative_time
from .resource_channel import resource_channel
from .resources import OperationUsage, ResourceMonitor, ResourceUsage, measure_operations, measure_resources

__all__ = [
    "BenchmarkConfig",
    "BenchmarkType",
    "Benchmarkable",
    "InstructionCountError",
    "OperationUsage",
    "ResourceMonitor",
    "ResourceUsage",
    "asv_benchmark",
    "count_instructions",
    "declared_unit",
    "measure_operations",
    "measure_relative",
    "measure_resources",
    "metric",
    "param_grid",
    "relative_time",
    "resource_channel",
]
