"""One side's measurements as call stacks and per-function tables, per body call (pure).

A function is identified by ``(file, qualified name)``: repository-relative files and
qualified names (``ModelFilter.criteria.<locals>.<lambda>#2``) are what the child writes, so
the same function matches at two revisions even when its lines moved. Values are per call
of the benchmark body: seconds (cProfile), bytecodes (the deterministic tracer), bytes
(tracemalloc, one call).

Stacks are ``{(func, func, ...): self value}``, root first. The tracer and tracemalloc
record real stacks; cProfile records only caller -> callee edges, so time stacks are
rebuilt from them (``pstats_stacks``): exact one level down, proportional beyond.
"""

from __future__ import annotations

import json
import marshal
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

Func = tuple[str, str]  # (file, qualified name); builtins: ('~', '<built-in method ...>')
Stacks = dict[tuple[Func, ...], float]

MAX_DEPTH = 64
MIN_SHARE = 1e-4  # rebuilt time paths below this share of the total stay in their parent's self


@dataclass(frozen=True)
class FuncStats:
    self: float
    cumulative: float
    calls: float | None = None  # calls per body call, where known (cProfile)


@dataclass
class Profile:
    """One measurement at one side."""

    metric: str  # time | bytecodes | memory
    unit: str  # seconds | bytecodes | bytes
    calls: int  # body calls measured
    total: float  # per body call
    stacks: Stacks
    table: dict[Func, FuncStats]
    lines: dict[Func, int]  # first line of each function
    extra: dict = field(default_factory=dict)  # memory: peak, retained, sites


def table_from_stacks(stacks: Mapping[tuple[Func, ...], float]) -> dict[Func, FuncStats]:
    """Self = value of the stacks a function ends; cumulative = of the stacks it is in (once each)."""
    own: dict[Func, float] = defaultdict(float)
    cum: dict[Func, float] = defaultdict(float)
    for stack, value in stacks.items():
        own[stack[-1]] += value
        for func in set(stack):
            cum[func] += value
    return {f: FuncStats(own.get(f, 0.0), cum[f]) for f in cum}


def _frames(raw: list) -> tuple[tuple[Func, ...], dict[Func, int]]:
    funcs, lines = [], {}
    for file, line, name in raw:
        func = (str(file), str(name))
        funcs.append(func)
        lines[func] = int(line)
    return tuple(funcs), lines


def load_bytecodes(path: Path) -> Profile:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    calls = max(int(data["calls"]), 1)
    stacks: Stacks = defaultdict(float)
    lines: dict[Func, int] = {}
    for raw, count in data["stacks"]:
        stack, where = _frames(raw)
        stacks[stack] += count / calls
        lines.update(where)
    stacks = dict(stacks)
    return Profile("bytecodes", "bytecodes", calls, data["total"] / calls, stacks, table_from_stacks(stacks), lines)


def load_memory(path: Path) -> Profile:
    """tracemalloc of one call: stacks of what the call left allocated; sites by line."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    stacks: Stacks = defaultdict(float)
    sites: dict[tuple[str, str, int], float] = defaultdict(float)  # (file, function, line - first line)
    lines: dict[Func, int] = {}
    for raw, size, leaf_line in data["stacks"]:
        stack, where = _frames(raw)
        stacks[stack] += size
        lines.update(where)
        sites[(*stack[-1], int(leaf_line) - where[stack[-1]])] += size
    extra = {"peak": data["peak"], "retained": data["retained"], "sites": dict(sites)}
    stacks = dict(stacks)
    total = float(data["retained"])
    return Profile("memory", "bytes", 1, total, stacks, table_from_stacks(stacks), lines, extra)


def _pstats_func(key: tuple) -> Func:
    file, _, name = key
    return (str(file), str(name))


def read_pstats(path: Path) -> dict:
    with open(path, "rb") as fh:
        return marshal.load(fh)


def pstats_stacks(stats: Mapping, total: float) -> Stacks:
    """Time stacks rebuilt from cProfile's caller -> callee edges (see the module docstring)."""
    children: dict[tuple, list] = defaultdict(list)
    for key, (_, _, _, _, callers) in stats.items():
        for caller, edge in callers.items():
            children[caller].append((key, edge[3]))
    out: Stacks = defaultdict(float)
    floor = MIN_SHARE * total

    def walk(key: tuple, path: tuple, value: float) -> None:
        cumulative = stats[key][3]
        scale = value / cumulative if cumulative > 0 else 0.0
        here = path + (_pstats_func(key),)
        own = stats[key][2] * scale
        for child, edge_ct in sorted(children.get(key, ()), key=lambda c: c[0]):
            share = edge_ct * scale
            if _pstats_func(child) in here or share < floor or len(here) >= MAX_DEPTH:
                own += share if _pstats_func(child) not in here else 0.0
                continue
            walk(child, here, share)
        out[here] += own

    for key in sorted(k for k, v in stats.items() if not v[4]):  # roots: called from outside
        walk(key, (), stats[key][3])
    return dict(out)


def load_time(path: Path, calls: int) -> Profile:
    """cProfile's pstats file: the function table is cProfile's own (self = tottime,
    cumulative = cumtime), per body call; stacks are rebuilt for the flame graph."""
    stats = read_pstats(path)
    calls = max(int(calls), 1)
    table: dict[Func, FuncStats] = {}
    lines: dict[Func, int] = {}
    for key, (_, nc, tt, ct, _) in stats.items():
        func = _pstats_func(key)
        prev = table.get(func)  # cProfile merges nothing by name: add same-named entries up
        table[func] = FuncStats(
            tt / calls + (prev.self if prev else 0.0),
            ct / calls + (prev.cumulative if prev else 0.0),
            nc / calls + ((prev.calls or 0.0) if prev else 0.0),
        )
        lines.setdefault(func, int(key[1]))
    total = sum(v[2] for v in stats.values()) / calls
    stacks = {k: v / calls for k, v in pstats_stacks(stats, total * calls).items()}
    return Profile("time", "seconds", calls, total, stacks, table, lines)
