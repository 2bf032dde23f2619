"""Functions ranked by how much they changed between base and head (pure).

For every function seen at either side: base and head values (self and cumulative, per body
call), the change in absolute terms and in percent. The ranking is by the absolute change,
largest increase first: "where did the extra time / bytecodes / bytes go". A function new
at head has no percentage (its base is 0) but still ranks by its absolute cost.

Time needs one correction. Two processes of the same code on this shared 2-core machine run
at different speeds, measured up to 20% apart even in CPU time (cache and core sharing with
other tenants), and that factor moves every function at once: a +5% change in one function
drowns in it. The exact bytecode counts say which functions did *the same work* at both
revisions (same own bytecodes, same calls); their time ratio is the head process's speed
factor (``speed_factor``), and time changes are read with the head divided by it. The
measured head value stays in the tables beside the normalised change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace

from tools.profiling.profiles import Func, FuncStats, Profile

MIN_UNCHANGED_SHARE = 0.05  # below this share of base time the speed factor is not estimated


@dataclass(frozen=True)
class Change:
    file: str
    function: str
    line: int | None
    base: float
    head: float  # as measured
    speed: float = 1.0  # the head process's speed factor (time only): changes use head / speed
    same_work: bool | None = None  # time only: same calls and own bytecodes at both revisions

    @property
    def head_normalised(self) -> float:
        return self.head / self.speed

    @property
    def delta(self) -> float:
        return self.head_normalised - self.base

    @property
    def delta_pct(self) -> float | None:
        return (self.head_normalised / self.base - 1.0) * 100.0 if self.base else None

    def as_json(self) -> dict:
        row = {**asdict(self), "delta": self.delta, "delta_pct": self.delta_pct}
        for key, default in (("speed", 1.0), ("same_work", None)):
            if row[key] == default:
                del row[key]
        return row


def _line(func: Func, base: Profile | None, head: Profile | None) -> int | None:
    for side in (head, base):
        if side is not None and func in side.lines:
            return side.lines[func]
    return None


def changes(base: Profile, head: Profile, kind: str, speed: float = 1.0) -> list[Change]:
    """Every function's ``kind`` ('self' or 'cumulative') value at both sides, largest increase
    first; ``speed`` divides the head values for the change (see ``speed_factor``)."""
    zero = FuncStats(0.0, 0.0)
    out = []
    for func in set(base.table) | set(head.table):
        b = getattr(base.table.get(func, zero), kind)
        h = getattr(head.table.get(func, zero), kind)
        out.append(Change(func[0], func[1], _line(func, base, head), b, h, speed))
    return sorted(out, key=lambda c: (-c.delta, c.file, c.function))


def mark_same_work(rows: list[Change], same: set[Func]) -> list[Change]:
    """Time rows flagged with whether the function did the same work at both revisions: a
    time change there is C-level work, memory behaviour or noise, not more Python work."""
    return [replace(r, same_work=(r.file, r.function) in same) for r in rows]


def _same(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(a - b) <= 1e-9 * max(abs(a), abs(b), 1.0)


def unchanged_functions(base_time: Profile, head_time: Profile, base_bc: Profile, head_bc: Profile) -> list[Func]:
    """Functions that did the same work at both revisions: the same calls per body call and,
    for Python functions, the same own bytecodes (C functions have none)."""
    same = []
    for func, b in base_time.table.items():
        h = head_time.table.get(func)
        if h is None or not _same(b.calls, h.calls):
            continue
        b_bc, h_bc = base_bc.table.get(func), head_bc.table.get(func)
        if (b_bc is None) != (h_bc is None) or (b_bc is not None and not _same(b_bc.self, h_bc.self)):
            continue
        same.append(func)
    return same


def speed_factor(base: Mapping[str, Profile], head: Mapping[str, Profile]) -> float:
    """Head time / base time over the functions whose work did not change; 1.0 when they hold
    less than ``MIN_UNCHANGED_SHARE`` of the base time (nothing to measure the machine by)."""
    if not all(m in p for p in (base, head) for m in ("time", "bytecodes")):
        return 1.0
    funcs = unchanged_functions(base["time"], head["time"], base["bytecodes"], head["bytecodes"])
    b = sum(base["time"].table[f].self for f in funcs)
    h = sum(head["time"].table[f].self for f in funcs)
    if b <= 0 or h <= 0 or b < MIN_UNCHANGED_SHARE * base["time"].total:
        return 1.0
    return h / b


def single(profile: Profile, kind: str) -> list[Change]:
    """One side only (standalone profile): functions by ``kind`` value, largest first."""
    out = [Change(f[0], f[1], profile.lines.get(f), 0.0, getattr(s, kind)) for f, s in profile.table.items()]
    return sorted(out, key=lambda c: (-c.head, c.file, c.function))


def site_changes(base: Profile, head: Profile) -> list[Change]:
    """Memory allocation sites (file, function, line in function) by change in bytes retained."""
    b_sites: Mapping = base.extra.get("sites", {})
    h_sites: Mapping = head.extra.get("sites", {})
    out = []
    for key in set(b_sites) | set(h_sites):
        file, function, offset = key
        first = _line((file, function), base, head)
        line = first + offset if first is not None else None
        out.append(Change(file, function, line, b_sites.get(key, 0.0), h_sites.get(key, 0.0)))
    return sorted(out, key=lambda c: (-c.delta, c.file, c.function, c.line or 0))


def single_sites(profile: Profile) -> list[Change]:
    out = []
    for (file, function, offset), size in profile.extra.get("sites", {}).items():
        first = profile.lines.get((file, function))
        out.append(Change(file, function, first + offset if first is not None else None, 0.0, size))
    return sorted(out, key=lambda c: (-c.head, c.file, c.function, c.line or 0))
