"""Functions ranked by how much they changed between base and head (pure).

For every function seen at either side: base and head values (self and cumulative, per body
call), the change in absolute terms and in percent. The ranking is by the absolute change,
largest increase first: "where did the extra time / bytecodes / bytes go". A function new
at head has no percentage (its base is 0) but still ranks by its absolute cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from tools.profiling.profiles import Func, FuncStats, Profile


@dataclass(frozen=True)
class Change:
    file: str
    function: str
    line: int | None
    base: float
    head: float

    @property
    def delta(self) -> float:
        return self.head - self.base

    @property
    def delta_pct(self) -> float | None:
        return (self.head / self.base - 1.0) * 100.0 if self.base else None

    def as_json(self) -> dict:
        return {**asdict(self), "delta": self.delta, "delta_pct": self.delta_pct}


def _line(func: Func, base: Profile | None, head: Profile | None) -> int | None:
    for side in (head, base):
        if side is not None and func in side.lines:
            return side.lines[func]
    return None


def changes(base: Profile, head: Profile, kind: str) -> list[Change]:
    """Every function's ``kind`` ('self' or 'cumulative') value at both sides, largest increase first."""
    zero = FuncStats(0.0, 0.0)
    out = []
    for func in set(base.table) | set(head.table):
        b = getattr(base.table.get(func, zero), kind)
        h = getattr(head.table.get(func, zero), kind)
        out.append(Change(func[0], func[1], _line(func, base, head), b, h))
    return sorted(out, key=lambda c: (-c.delta, c.file, c.function))


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
