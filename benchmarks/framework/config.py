"""What a benchmark author states: the kind of measurement, its budget and its parameters.

``BenchmarkConfig`` is the Python counterpart of the seed's Rust ``BenchmarkConfig``; the
adapter (``adapter.asv_benchmark``) turns it into asv attributes, so a benchmark says what it
measures and asv does the measuring.
"""

from __future__ import annotations

import enum
import keyword
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import ClassVar, Protocol, runtime_checkable

from .metrics import declared_unit

_SNAKE = re.compile(r"^[a-z][a-z0-9_]*$")


class BenchmarkType(enum.Enum):
    """Which asv methods the adapter generates (see ``adapter.asv_benchmark``)."""

    THROUGHPUT = "throughput"  # time_<name> + track_<name>_throughput (ops/s, or config.unit)
    LATENCY = "latency"  # time_<name>
    RESOURCE_USAGE = "resource_usage"  # peakmem_<name> + track_<name>_{cpu_time,rss_growth,io_*}
    METRIC = "metric"  # track_<name>: the value run_iteration() returns, in config.unit


# The unit each type reports when the config names none; METRIC must name one.
_DEFAULT_UNITS = {
    BenchmarkType.LATENCY: "seconds",
    BenchmarkType.THROUGHPUT: "ops/s",
    BenchmarkType.RESOURCE_USAGE: None,  # one unit per generated method (seconds, bytes)
    BenchmarkType.METRIC: None,
}


def _unit_error(config: BenchmarkConfig) -> str | None:
    """Why ``config.unit`` / ``higher_is_better`` cannot be what its type measures, or None."""
    btype, unit = config.benchmark_type, config.unit
    if config.higher_is_better is not None and btype is not BenchmarkType.METRIC:
        return (f"higher_is_better is declared by METRIC benchmarks only ({btype.name} has a fixed direction: "
                f"time and memory lower, throughput higher)")
    if unit is None:
        return "a METRIC benchmark needs unit=, the unit of the value run_iteration() returns" if (
            btype is BenchmarkType.METRIC) else None
    if not isinstance(unit, str) or not unit.strip():
        return f"unit must be a non-empty string, got {unit!r}"
    if btype is BenchmarkType.LATENCY and unit != "seconds":
        return f"unit {unit!r} does not fit LATENCY: asv measures time_<name> in seconds"
    if btype is BenchmarkType.THROUGHPUT and not unit.endswith("/s"):
        return f"unit {unit!r} does not fit THROUGHPUT: track_<name>_throughput is a rate such as 'ops/s'"
    if btype is BenchmarkType.RESOURCE_USAGE:
        return f"unit {unit!r} does not fit RESOURCE_USAGE: its methods report seconds and bytes; leave unit unset"
    return None


@dataclass(frozen=True)
class BenchmarkConfig:
    """One benchmark's intent. Validated at definition time so a typo fails ``asv check``."""

    name: str
    description: str = ""
    benchmark_type: BenchmarkType = BenchmarkType.LATENCY
    unit: str | None = None  # None: the type's own (seconds, ops/s); METRIC: required
    sample_size: int = 10
    warm_up_time: float = 0.05
    measurement_time: float = 1.0
    params: Mapping[str, Sequence] = field(default_factory=dict)
    count_instructions: bool = False
    relative_time: bool = False  # -> track_<name>_relative (speed-normalised wall time)
    higher_is_better: bool | None = None  # METRIC only: the declared direction (None: inferred from the unit)

    def __post_init__(self) -> None:
        where = f"BenchmarkConfig(name={self.name!r})"
        if not isinstance(self.name, str) or not _SNAKE.match(self.name) or keyword.iskeyword(self.name):
            raise ValueError(f"{where}: name must be a snake_case identifier (it becomes a method name)")
        if not isinstance(self.benchmark_type, BenchmarkType):
            raise ValueError(f"{where}: benchmark_type must be a BenchmarkType, got {self.benchmark_type!r}")
        problem = _unit_error(self)
        if problem is not None:
            raise ValueError(f"{where}: {problem}")
        if self.benchmark_type is BenchmarkType.METRIC:
            declared_unit(self.unit, self.higher_is_better, where=where)  # reserved units, marks, bool
        if not isinstance(self.sample_size, int) or self.sample_size < 1:
            raise ValueError(f"{where}: sample_size must be an integer >= 1, got {self.sample_size!r}")
        if not self.warm_up_time >= 0:
            raise ValueError(f"{where}: warm_up_time must be >= 0 seconds, got {self.warm_up_time!r}")
        if not self.measurement_time > 0:
            raise ValueError(f"{where}: measurement_time must be > 0 seconds, got {self.measurement_time!r}")
        if not isinstance(self.params, Mapping):
            raise ValueError(f"{where}: params must be a mapping of parameter name -> values")
        frozen: dict[str, tuple] = {}
        for key, values in self.params.items():
            if not isinstance(key, str) or not key.isidentifier():
                raise ValueError(f"{where}: parameter name {key!r} is not an identifier")
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or len(values) == 0:
                raise ValueError(f"{where}: parameter {key!r} needs a non-empty list of values")
            frozen[key] = tuple(values)
        # Freeze the parameter grid: the config is shared by every asv process of the class.
        object.__setattr__(self, "params", MappingProxyType(frozen))

    @property
    def recorded_unit(self) -> str | None:
        """The unit asv records for the benchmark's own value: the declared one (with its
        direction mark for a METRIC), else the type's; None for RESOURCE_USAGE (one per method)."""
        if self.unit is None:
            return _DEFAULT_UNITS[self.benchmark_type]
        if self.benchmark_type is BenchmarkType.METRIC:
            return declared_unit(self.unit, self.higher_is_better)
        return self.unit.strip()

    @property
    def param_names(self) -> list[str]:
        return list(self.params)

    @property
    def param_values(self) -> list[list]:
        return [list(v) for v in self.params.values()]


@runtime_checkable
class Benchmarkable(Protocol):
    """A workload: built by ``setup(*params)``, measured by ``run_iteration()``.

    ``setup`` receives the parameter values in ``config.params`` order and may raise
    ``NotImplementedError`` (asv then skips the benchmark, e.g. at an older commit).
    ``run_iteration`` is one operation; what it returns is ignored, except for a METRIC benchmark,
    whose ``track_<name>`` reports it (a number in ``config.unit``). ``teardown`` is optional.
    """

    config: ClassVar[BenchmarkConfig]

    def setup(self, *params) -> None: ...

    def run_iteration(self) -> object: ...

    def teardown(self) -> None: ...
