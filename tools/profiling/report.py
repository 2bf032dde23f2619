"""``diff.json`` of one profile: totals, functions ranked by change, the top change (pure).

Rows are ``diff.Change`` as JSON: ``file``, ``function``, ``line``, ``base``, ``head``, ``delta``,
``delta_pct`` (``base``/``delta`` null in a single-revision report). Per metric there is a
``self`` and a ``cumulative`` table (and ``sites`` for memory); ``machine`` holds the C
functions of the cachegrind count.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from tools.humanize import human_bytes, human_time
from tools.profiling import diff
from tools.profiling.result import METRICS, ProfileResult, SideResult

TABLE_ROWS = 25  # rows per table in diff.md
JSON_ROWS = 200  # rows per table in diff.json
TITLES = {
    "time": "Time per call (cProfile)",
    "bytecodes": "Python bytecodes per call (deterministic)",
    "memory": "Memory left allocated by one call (tracemalloc)",
}


def fmt_for(metric: str) -> Callable[[float], str]:
    if metric == "time":
        return human_time
    if metric == "memory":
        return human_bytes
    return lambda v: f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}".rstrip("0").rstrip(".")


def folder_name(result: ProfileResult) -> str:
    """``<benchmark>`` or ``<benchmark>--<params as safe characters>``."""
    name = result.target.requested
    if result.target.params:
        plain = re.sub(r"""['"\s]""", "", result.target.params)  # quotes and spaces say nothing here
        slug = re.sub(r"[^\w.=,+-]+", "_", plain).strip("_")
        name = f"{name}--{slug}"
    return name


def _change_json(c: diff.Change, single: bool) -> dict:
    row = c.as_json()
    if single:
        row.update(base=None, delta=None, delta_pct=None)
    return row


def speed(result: ProfileResult) -> float:
    """The head process's speed factor for time (1.0 unless both revisions were profiled)."""
    if not result.compared:
        return 1.0
    return diff.speed_factor(result.sides["base"].profiles, result.sides["head"].profiles)


def _tables(result: ProfileResult, metric: str) -> dict[str, list[diff.Change]]:
    if result.compared:
        base, head = (result.sides[r].profiles.get(metric) for r in ("base", "head"))
        if base is None or head is None:
            return {}
        factor = speed(result) if metric == "time" else 1.0
        tables = {kind: diff.changes(base, head, kind, factor) for kind in ("self", "cumulative")}
        if metric == "time" and all("bytecodes" in result.sides[r].profiles for r in ("base", "head")):
            b_bc, h_bc = (result.sides[r].profiles["bytecodes"] for r in ("base", "head"))
            same = set(diff.unchanged_functions(base, head, b_bc, h_bc))
            tables = {kind: diff.mark_same_work(rows, same) for kind, rows in tables.items()}
        if metric == "memory":
            tables["sites"] = diff.site_changes(base, head)
        return tables
    profile = result.shown.profiles.get(metric)
    if profile is None:
        return {}
    tables = {kind: diff.single(profile, kind) for kind in ("self", "cumulative")}
    if metric == "memory":
        tables["sites"] = diff.single_sites(profile)
    return tables


def _totals(result: ProfileResult) -> dict:
    out = {}
    roles = ("base", "head") if result.compared else (result.shown.role,)
    for metric in METRICS:
        values = {r: result.sides[r].profiles[metric].total for r in roles if metric in result.sides[r].profiles}
        if values:
            out[metric] = values
    machine = {r: result.sides[r].machine["total"] for r in roles if result.sides[r].machine}
    if machine:
        out["machine_instructions"] = machine
    peaks = {r: result.sides[r].profiles["memory"].extra["peak"] for r in roles if "memory" in result.sides[r].profiles}
    if peaks:
        out["memory_peak"] = peaks
    out = {k: _with_delta(v) for k, v in out.items()}
    factor = speed(result)
    if "time" in out and factor != 1.0:  # the time change with the head process's speed factor taken out
        out["time_normalised"] = _with_delta({"base": out["time"]["base"], "head": out["time"]["head"] / factor})
        out["time_normalised"]["speed"] = factor
    return out


def _with_delta(values: dict) -> dict:
    if "base" in values and "head" in values:
        b, h = values["base"], values["head"]
        values = {**values, "delta": h - b, "delta_pct": (h / b - 1) * 100 if b else None}
    return values


def _c_functions(result: ProfileResult) -> list[diff.Change]:
    """C functions by change in machine instructions per call (cachegrind)."""
    roles = ("base", "head") if result.compared else (result.shown.role,)
    tables = {r: (result.sides[r].machine or {}).get("functions", {}) for r in roles}
    if not all(result.sides[r].machine for r in roles):
        return []
    base = tables.get("base", {})
    head = tables[roles[-1]]
    rows = [diff.Change("(C)", fn, None, base.get(fn, 0.0), head.get(fn, 0.0)) for fn in set(base) | set(head)]
    key = (lambda c: -c.delta) if result.compared else (lambda c: -c.head)
    return sorted(rows, key=lambda c: (key(c), c.function))


def top_changes(result: ProfileResult) -> dict[str, diff.Change | None]:
    """Per metric, the function whose own (self) value grew most (or the largest, single side)."""
    top = {}
    for metric in METRICS:
        rows = _tables(result, metric).get("self", [])
        first = rows[0] if rows else None
        if first is not None and result.compared and first.delta <= 0:
            first = None  # nothing grew
        top[metric] = first
    return top


def _side_json(side: SideResult) -> dict:
    return {
        "commit": side.commit,
        "skipped": side.skipped,
        "machine_skipped": side.machine_skipped,
        "time_rounds": side.timing,
        "calls": {m: p.calls for m, p in side.profiles.items()}
        | ({"machine": side.machine["calls"]} if side.machine else {}),
    }


def report_json(result: ProfileResult, graphs: dict) -> dict:
    single = not result.compared
    functions = {}
    for metric in METRICS:
        tables = _tables(result, metric)
        if tables:
            unit = result.shown.profiles[metric].unit
            functions[metric] = {"unit": unit} | {
                k: [_change_json(c, single) for c in v[:JSON_ROWS]] for k, v in tables.items()
            }
    c_rows = _c_functions(result)
    if c_rows:
        functions["machine"] = {"unit": "instructions", "self": [_change_json(c, single) for c in c_rows]}
    top = top_changes(result)
    return {
        "benchmark": result.target.requested,
        "params": result.target.params,
        "profiled": result.target.body,
        "mode": "single" if single else "diff",
        "clock": result.plan.clock if result.plan else None,
        "sides": {role: _side_json(side) for role, side in result.sides.items()},
        "totals": _totals(result),
        "functions": functions,
        "top": {m: (_change_json(c, single) if c else None) for m, c in top.items()},
        "flamegraphs": graphs,
        "seconds": round(result.seconds, 2),
        "phases": result.phases,
    }
