"""Which benchmark body to profile, with which parameters (pure: a catalog in, a target out).

The catalog is asv's own view of the current benchmark code (``child.py`` discover mode):
names, types, parameter lists as asv's repr strings. A name is a full asv name
(``model_registry_benchmarks.FindModels.time_find_models_full_scan``); parameters are given
the way the tools print them (``selectivity='10%'``, the ``params`` column of the CSV and
reports) or as asv prints them (``'10%'``, values in order, with or without parentheses).

The body profiled is where the work is: for a derived channel (``track_x_instructions``,
``_relative``, ``_throughput``) the timed ``time_x`` twin, for a resource counter of a
Benchmarkable (``track_x_cpu_time``, ``_rss_growth``, ``_io_*``) its ``peakmem_x``;
anything else is profiled itself.
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from tools.errors import ToolError
from tools.schema import twin_of

RESOURCE_TWINS = ("cpu_time", "rss_growth", "io_read_bytes", "io_write_bytes")
MEMORY_TYPES = ("peakmemory", "memory")  # asv types of peakmem_* and mem_* benchmarks
LIST_ALL_UP_TO = 40  # an unknown name lists every valid one up to this many, else close matches


@dataclass(frozen=True)
class Benchmark:
    """One benchmark as asv discovered it."""

    name: str
    type: str
    params: tuple[tuple[str, ...], ...] = ()
    param_names: tuple[str, ...] = ()
    setup_cache: bool = False

    @classmethod
    def from_json(cls, data: Mapping) -> Benchmark:
        return cls(
            name=str(data["name"]),
            type=str(data["type"]),
            params=tuple(tuple(str(v) for v in values) for values in data.get("params") or ()),
            param_names=tuple(str(n) for n in data.get("param_names") or ()),
            setup_cache=bool(data.get("setup_cache")),
        )

    def combinations(self) -> list[tuple[str, ...]]:
        """Every parameter combination in asv's order (its parameter index is the position)."""
        return list(itertools.product(*self.params)) if self.params else [()]

    def label(self, combo: Sequence[str]) -> str:
        """``n_models=100, strategy='cost'`` (the tools' params column); '' without parameters."""
        return ", ".join(f"{n}={v}" for n, v in zip(self.param_names, combo))


@dataclass(frozen=True)
class Target:
    """What one profile runs: the requested benchmark and the body that does its work."""

    requested: str  # the name asked for (may be a derived channel)
    body: str  # the asv benchmark whose function is called
    body_type: str  # its asv type: time, track, peakmem, memory
    params: str  # the combination as the tools print it ('' when none)
    param_values: tuple[str, ...]
    param_index: int | None  # asv's index of the combination; None when unparameterised
    setup_cache: bool = False

    @property
    def memory(self) -> bool:
        """A memory benchmark: tracemalloc allocation sites are profiled too."""
        return self.body_type in MEMORY_TYPES

    @property
    def display(self) -> str:
        return f"{self.requested}({', '.join(self.param_values)})" if self.param_values else self.requested


def catalog_from_json(entries: Sequence[Mapping]) -> dict[str, Benchmark]:
    return {b.name: b for b in (Benchmark.from_json(e) for e in entries)}


def body_of(name: str, catalog: Mapping[str, Benchmark]) -> str:
    """The benchmark that does ``name``'s work (see the module docstring)."""
    timed = twin_of(name, "time") if name.rpartition(".")[2].startswith("track_") else None
    if timed in catalog:
        return timed
    m = re.match(rf"^(?P<cls>.*)\.track_(?P<stem>\w+?)_(?:{'|'.join(RESOURCE_TWINS)})$", name)
    if m and f"{m['cls']}.peakmem_{m['stem']}" in catalog:
        return f"{m['cls']}.peakmem_{m['stem']}"
    return name


def _normalise(text: str) -> str:
    """Whitespace and one pair of outer parentheses do not matter when matching parameters."""
    text = re.sub(r"\s+", "", text.strip())
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    return text.rstrip(",")


def match_params(bench: Benchmark, params: str | None) -> tuple[int | None, tuple[str, ...]]:
    """(asv parameter index, values) of ``params`` for ``bench``; ToolError listing the valid ones."""
    combos = bench.combinations()
    if not bench.params:
        if params and _normalise(params):
            raise ToolError(f"{bench.name} takes no parameters (got --params {params!r})")
        return None, ()
    wanted = _normalise(params or "")
    for i, combo in enumerate(combos):
        if wanted and wanted in (_normalise(bench.label(combo)), _normalise(", ".join(combo))):
            return i, combo
    valid = " | ".join(bench.label(c) for c in combos)
    what = f"params {params!r} do not match" if wanted else "needs --params: one of the combinations of"
    raise ToolError(f"{what} {bench.name}; valid: {valid}")


def unknown_benchmark(name: str, catalog: Mapping[str, Benchmark]) -> ToolError:
    names = sorted(catalog)
    if len(names) <= LIST_ALL_UP_TO:
        return ToolError(f"unknown benchmark {name!r}; valid: {', '.join(names)}")
    close = difflib.get_close_matches(name, names, n=8, cutoff=0.5)
    hint = f"close matches: {', '.join(close)}; " if close else ""
    return ToolError(
        f"unknown benchmark {name!r}; {hint}{len(names)} benchmarks in all (list them: python -m tools profile --list)"
    )


def resolve_target(catalog: Mapping[str, Benchmark], name: str, params: str | None) -> Target:
    """The body to run for benchmark ``name`` at ``params``; ToolError when either is unknown."""
    name = name.strip()
    if name not in catalog:
        raise unknown_benchmark(name, catalog)
    index, values = match_params(catalog[name], params)
    body = catalog[body_of(name, catalog)]
    if body.params != catalog[name].params:  # a twin always shares its workload's parameters
        body = catalog[name]
    return Target(
        requested=name,
        body=body.name,
        body_type=body.type,
        params=catalog[name].label(values),
        param_values=tuple(values),
        param_index=index,
        setup_cache=body.setup_cache,
    )


def listing(catalog: Mapping[str, Benchmark]) -> list[str]:
    """One line per benchmark with its parameter combinations (``profile --list``)."""
    lines = []
    for name in sorted(catalog):
        bench = catalog[name]
        combos = " | ".join(bench.label(c) for c in bench.combinations()) if bench.params else ""
        lines.append(f"{name}  [{combos}]" if combos else name)
    return lines
