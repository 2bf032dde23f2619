"""Model registry: registration, lookup throughput, filtering with the index and without.

Sizes sweep 10 → 10,000 models where growth is the point (registration is O(n) in total,
lookup should stay flat). Filtering runs at 10,000 models and three selectivities (1 %,
10 %, 50 % of the registry share the provider), each answered twice: by ``find_models``
(starts from the provider index bucket) and by a full predicate scan over ``list()`` (what
``find_models`` would cost without indexes). The gap between the two is the index's worth.
"""

from __future__ import annotations

import functools

from benchmarks.fixtures import SELECTIVITY_PROVIDERS, require, rng, shared_models, shared_registry
from benchmarks.framework import BenchmarkConfig, BenchmarkType, asv_benchmark, relative_time, resource_channel

FILTER_SIZE = 10_000


class _Budget:
    """Short budgets: every parameter combination costs a fresh process per round."""

    rounds = 2
    repeat = (3, 10, 0.5)
    warmup_time = 0.05


class Registration(_Budget):
    """register() of n models one by one into an empty registry (validation + 3 indexes each).

    ``number = 1`` makes asv run ``setup`` before every sample, so each sample starts from
    a fresh, empty registry; the models themselves are built once per process.
    """

    params = [[10, 1_000, 10_000]]
    param_names = ["n_models"]
    number = 1
    warmup_time = 0  # older asv_runner warm-ups skip setup: a second call would hit duplicates

    def setup(self, n_models):
        ModelRegistry = require("intellirouter.registry", "ModelRegistry")
        self.models = shared_models(n_models)
        self.registry = ModelRegistry()

    def time_register(self, n_models):
        register = self.registry.register
        for model in self.models:
            register(model)


@functools.cache
def _shuffled_ids(n_models: int) -> tuple:
    ids = [m.id for m in shared_registry(n_models).list()]
    rng(f"lookup:{n_models}").shuffle(ids)
    return tuple(ids)


class _Lookup:
    config = BenchmarkConfig(
        name="lookup",
        description="get(model_id) by id in seeded random order: O(1), flat across registry sizes",
        benchmark_type=BenchmarkType.THROUGHPUT,
        params={"n_models": [100, 10_000]},
        sample_size=10,
        measurement_time=0.5,
        relative_time=True,
    )
    rounds = 2

    def setup(self, n_models):
        require("intellirouter.registry", "ModelRegistry")
        self.get = shared_registry(n_models).get
        self.ids = _shuffled_ids(n_models)
        self.i = 0

    def run_iteration(self):
        self.get(self.ids[self.i])
        self.i = (self.i + 1) % len(self.ids)


Lookup = asv_benchmark(_Lookup)


class _GetBatch:
    """100 lookups per iteration: long enough to time one call per sample (asv's number=1
    under a setup), where a single get() would be mostly timer overhead."""

    config = BenchmarkConfig(
        name="get_100_by_id",
        description="100 get(model_id) calls on a 1,000-model registry",
        benchmark_type=BenchmarkType.LATENCY,
        sample_size=10,
        measurement_time=0.5,
        relative_time=True,
        count_instructions=True,  # -> track_get_100_by_id_instructions (~9 µs a batch: 200 batches)
    )
    rounds = 2
    instruction_iterations = 200

    def setup(self):
        require("intellirouter.registry", "ModelRegistry")
        self.get = shared_registry(1_000).get
        self.batch = _shuffled_ids(1_000)[:100]

    def run_iteration(self):
        get = self.get
        for model_id in self.batch:
            get(model_id)


GetBatch = asv_benchmark(_GetBatch)


@relative_time("time_find_models_indexed", "time_find_models_full_scan")
class FindModels(_Budget):
    """find_models(provider=...) on 10,000 models vs the same predicate over a full scan."""

    params = [list(SELECTIVITY_PROVIDERS)]
    param_names = ["selectivity"]

    def setup(self, selectivity):
        ModelFilter = require("intellirouter.registry", "ModelFilter")
        self.registry = shared_registry(FILTER_SIZE)
        self.filter = ModelFilter(provider=SELECTIVITY_PROVIDERS[selectivity])
        self.predicate = self.filter.predicate()

    def time_find_models_indexed(self, selectivity):
        self.registry.find_models(self.filter)

    def time_find_models_full_scan(self, selectivity):
        predicate = self.predicate
        [m for m in self.registry.list() if predicate(m)]


@relative_time("time_update_status")
class StatusChange(_Budget):
    """update_status on a 10,000-model registry: O(1), moves the model between status buckets.

    Toggles one model between AVAILABLE and LIMITED so the registry stays in a steady state.
    """

    def setup(self):
        ModelStatus = require("intellirouter.registry", "ModelStatus")
        self.registry = shared_registry(FILTER_SIZE, "status-change")  # private: this benchmark mutates it
        self.model_id = _shuffled_ids(FILTER_SIZE)[0]
        self.states = (ModelStatus.AVAILABLE, ModelStatus.LIMITED)
        self.flip = 0

    def time_update_status(self):
        self.flip ^= 1
        self.registry.update_status(self.model_id, self.states[self.flip])


class _FindModelsProvider:
    """find_models(provider=...) on 1,000 models, 10% selectivity: the registry filter through its
    provider index. Small and seeded without numpy, so it carries the instruction-count channel."""

    config = BenchmarkConfig(
        name="find_models_provider",
        description="find_models by provider (10% of 1,000 models)",
        benchmark_type=BenchmarkType.LATENCY,
        sample_size=5,
        measurement_time=0.3,
        relative_time=True,
        count_instructions=True,
    )
    rounds = 1
    instruction_iterations = 500  # ~7 µs a call

    def setup(self):
        ModelFilter = require("intellirouter.registry", "ModelFilter")
        self.registry = shared_registry(1_000)
        self.filter = ModelFilter(provider=SELECTIVITY_PROVIDERS["10%"])

    def run_iteration(self):
        self.registry.find_models(self.filter)


FindModelsProvider = asv_benchmark(_FindModelsProvider)


RESOURCE_SIZE = 1_000  # the resource channel's registry: built once per asv run, in setup_cache


def _find_models_10pct():
    ModelFilter = require("intellirouter.registry", "ModelFilter")
    registry = shared_registry(RESOURCE_SIZE)
    model_filter = ModelFilter(provider=SELECTIVITY_PROVIDERS["10%"])
    return lambda: registry.find_models(model_filter)


def _get_100_by_id():
    get = shared_registry(RESOURCE_SIZE).get
    batch = _shuffled_ids(RESOURCE_SIZE)[:100]
    return lambda: [get(model_id) for model_id in batch]


@resource_channel
class Resources:
    """CPU, peak RSS, I/O and context switches per operation of the registry's hot paths on
    1,000 models: find_models by provider (10%), and 100 lookups by id."""

    workloads = {"find_models_10pct": (_find_models_10pct, 15_000), "get_100_by_id": (_get_100_by_id, 10_000)}
