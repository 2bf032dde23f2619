"""Chain engine: creating chains, validating them, executing them by shape and size.

Sizes sweep 5 → 5,000 steps so the site shows how each operation grows (all should be
linear in steps + edges). Shapes (``fixtures.chain_spec``): ``linear`` (a 5,000-deep
dependency path, the recursion-limit case), ``fan_out_in`` (root → n-2 workers → one join
reading every worker) and ``parallel`` (groups of 10 concurrent branches whose model calls
are asynchronous, so the asyncio task path is what is measured). Execution times a
compiled plan: validation has its own benchmark. The model is the deterministic local
connector, so the same work is done on every run, commit and machine.
"""

from __future__ import annotations

import time

from benchmarks.fixtures import (
    CHAIN_INPUTS,
    CHAIN_SHAPES,
    CHAIN_SIZES,
    build_chain,
    chain_spec,
    make_chain,
    make_chain_engine,
    make_chain_registries,
    require,
)
from benchmarks.framework import BenchmarkConfig, BenchmarkType, asv_benchmark, relative_time, resource_channel


class _Budget:
    """Short budgets: every parameter combination costs one process per round, and a
    5,000-step execution alone takes ~0.2 s (asv still calibrates ``number`` for the
    microsecond-scale 5-step cases)."""

    rounds = 2
    repeat = (2, 5, 0.4)
    warmup_time = 0.02


@relative_time("time_create_chain")
class ChainCreation(_Budget):
    """Building the Step objects and the Chain of an n-step linear chain (prompts drawn in setup)."""

    params = [CHAIN_SIZES]
    param_names = ["n_steps"]

    def setup(self, n_steps):
        self.spec = chain_spec("linear", n_steps)
        build_chain(self.spec[:1])  # raises NotImplementedError where the chain engine is absent

    def time_create_chain(self, n_steps):
        build_chain(self.spec)


class _Validate:
    """validate(chain, inputs) on a linear chain: every check, cycle detection, references."""

    config = BenchmarkConfig(
        name="validate",
        description="validate() of an n-step linear chain with its inputs (O(V + E + placeholders))",
        benchmark_type=BenchmarkType.THROUGHPUT,
        params={"n_steps": CHAIN_SIZES},
        sample_size=5,
        warm_up_time=0.02,
        measurement_time=0.4,
        relative_time=True,
    )
    rounds = 2

    def setup(self, n_steps):
        self.engine = make_chain_engine()
        self.chain = make_chain("linear", n_steps)

    def run_iteration(self):
        problems = self.engine.validate(self.chain, CHAIN_INPUTS)
        if problems:
            raise AssertionError(problems[0])


Validate = asv_benchmark(_Validate)


class _ValidateMixed:
    """Validation of a 500-step chain using every step and dependency kind (function and
    tool names and arguments checked against the registries). Deterministic, so it also
    carries the instruction-count channel."""

    config = BenchmarkConfig(
        name="validate_mixed_500",
        description="validate() of a 500-step chain with every step and dependency kind",
        benchmark_type=BenchmarkType.LATENCY,
        sample_size=5,
        warm_up_time=0.02,
        measurement_time=0.3,
        count_instructions=True,
        relative_time=True,
    )
    rounds = 2
    instruction_iterations = 2  # deterministic: two iterations give the exact per-call count

    def setup(self):
        self.validate = require("intellirouter.chain", "validate")
        self.functions, self.tools = make_chain_registries()
        self.chain = make_chain("mixed", 500)

    def run_iteration(self):
        problems = self.validate(self.chain, CHAIN_INPUTS, functions=self.functions, tools=self.tools)
        if problems:
            raise AssertionError(problems[0])


ValidateMixed = asv_benchmark(_ValidateMixed)


@relative_time("time_execute")
class ExecuteChain(_Budget):
    """execute() of a compiled plan: scheduling, gates, template rendering, model calls."""

    params = [CHAIN_SHAPES, CHAIN_SIZES]
    param_names = ["shape", "n_steps"]

    def setup(self, shape, n_steps):
        self.engine = make_chain_engine(shape)
        self.plan = self.engine.compile(make_chain(shape, n_steps))

    def time_execute(self, shape, n_steps):
        self.engine.execute(self.plan, CHAIN_INPUTS)


class _ExecuteLinear50:
    """execute() of a compiled 50-step linear plan with the deterministic local model: scheduling,
    template rendering and model calls, small enough to carry the instruction-count channel."""

    config = BenchmarkConfig(
        name="execute_linear_50",
        description="execute() of a compiled 50-step linear chain",
        benchmark_type=BenchmarkType.LATENCY,
        sample_size=5,
        warm_up_time=0.02,
        measurement_time=0.3,
        count_instructions=True,
        relative_time=True,
    )
    rounds = 1
    instruction_iterations = 20  # ~1 ms an execution

    def setup(self):
        self.engine = make_chain_engine("linear")
        self.plan = self.engine.compile(make_chain("linear", 50))

    def run_iteration(self):
        self.engine.execute(self.plan, CHAIN_INPUTS)


ExecuteLinear50 = asv_benchmark(_ExecuteLinear50)


class ExecutionRate:
    """Steps executed per second on the 5,000-step chains (parallel branches counted):
    comparable across shapes, and it falls if the per-step cost grows."""

    params = [CHAIN_SHAPES]
    param_names = ["shape"]
    rounds = 2
    n_steps = 5_000

    def setup(self, shape):
        self.engine = make_chain_engine(shape)
        self.plan = self.engine.compile(make_chain(shape, self.n_steps))

    def track_steps_per_second(self, shape):
        execute, plan = self.engine.execute, self.plan
        execute(plan, CHAIN_INPUTS)  # warm-up
        runs, start = 0, time.perf_counter()
        while True:
            execute(plan, CHAIN_INPUTS)
            runs += 1
            elapsed = time.perf_counter() - start
            if runs >= 2 and elapsed >= 0.3:
                return runs * self.n_steps / elapsed

    track_steps_per_second.unit = "steps/s"


def _execute(shape: str, n_steps: int = 500):
    engine = make_chain_engine(shape)
    plan = engine.compile(make_chain(shape, n_steps))
    return lambda: engine.execute(plan, CHAIN_INPUTS)


def _execute_linear_500():
    return _execute("linear")


def _execute_parallel_500():
    return _execute("parallel")  # 50 groups of 10 asyncio branches


@resource_channel
class Resources:
    """CPU, peak RSS, I/O and context switches per execute() of a compiled 500-step plan:
    linear, and parallel groups whose model calls are asynchronous."""

    workloads = {"execute_linear_500": (_execute_linear_500, 10), "execute_parallel_500": (_execute_parallel_500, 6)}
