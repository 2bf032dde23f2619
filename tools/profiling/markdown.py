"""``diff.md``: the human reading of ``diff.json`` (pure: the JSON document in, Markdown out)."""

from __future__ import annotations

from tools.humanize import human_pct
from tools.profiling.report import TABLE_ROWS, TITLES, fmt_for
from tools.render import md_code, md_table

TOTAL_LABELS = {
    "time": ("time per call (cProfile)", "time"),
    "time_normalised": ("time per call, head ÷ its speed factor", "time"),
    "bytecodes": ("Python bytecodes per call", "bytecodes"),
    "machine_instructions": ("machine instructions per call (cachegrind)", "bytecodes"),
    "memory": ("memory left allocated by one call", "memory"),
    "memory_peak": ("peak traced memory during one call", "memory"),
}

READING = """\
- **Time** is cProfile's, on its wall clock, in rounds of ~5 ms: a round counts only when the
  process kept its core throughout (waiting for a core lands on whichever function runs, in
  milliseconds at a time). Base and head run at the same time; what still moves every
  function at once (a process on a busier core runs slower) is taken out by the head's
  speed factor, measured on the functions whose exact bytecode counts and calls did not
  change. cProfile's own cost per call is included: bodies of many tiny calls look slower than
  they are, at both revisions alike. Self = in the function itself; cumulative = with what
  it calls.
- **Bytecodes** are exact and repeat run to run (fixed hash seed): every executed Python
  bytecode instruction, counted per call stack. Work inside C functions (``sorted``, numpy,
  dict and string operations) is invisible to them: a C call costs the few bytecodes that
  make it. When time or machine instructions moved but bytecodes did not, the change is in
  C code or in memory behaviour.
- **Machine instructions** are the instruction channel's count (cachegrind, the body's own
  instructions per call, start-up cancelled): exact, and the truth for C-heavy code, but only
  per C function of the interpreter (every Python function runs inside
  ``_PyEval_EvalFrameDefault``).
- **Memory** (memory benchmarks only) is what one call left allocated, by allocation site and
  stack (tracemalloc); the peak during the call is a total only.
- Flame graphs: width = share of the total; the differential graph is the head's, red where a
  frame's own cost grew, blue where it shrank. Hover for values.
"""


def _num(value, metric: str) -> str:
    return "—" if value is None else fmt_for(metric)(value)


def _signed(value, metric: str) -> str:
    if value is None:
        return "—"
    text = fmt_for(metric)(abs(value))
    return ("+" if value >= 0 else "−") + text


def _where(row: dict) -> str:
    if row["file"] in ("~", "(C)"):
        return ""
    return f"{row['file']}:{row['line']}" if row.get("line") else row["file"]


def _change_cells(r: dict, metric: str) -> list[str]:
    pct = human_pct(r["delta_pct"]) if r["delta_pct"] is not None else "new" if not r["base"] else "—"
    return [_signed(r["delta"], metric), pct]


def _rows_table(rows: list[dict], metric: str, single: bool) -> str:
    if single:
        headers = ["#", "function", "where", "per call"]
        body = [[i + 1, md_code(r["function"]), _where(r), _num(r["head"], metric)] for i, r in enumerate(rows)]
        return md_table(headers, body, [True, False, False, True])
    scaled = any("speed" in r for r in rows)  # time: the change is read with head ÷ its speed factor
    work = any("same_work" in r for r in rows)  # time: did the function do the same work?
    headers = ["#", "function", "where", "base", "head"] + (["head ÷ speed"] if scaled else [])
    headers += ["change", "change %"] + (["work"] if work else [])
    body = []
    for i, r in enumerate(rows):
        cells = [i + 1, md_code(r["function"]), _where(r), _num(r["base"], metric), _num(r["head"], metric)]
        cells += [_num(r["head"] / r["speed"], metric)] if scaled else []
        cells += _change_cells(r, metric)
        cells += [{True: "same", False: "changed"}.get(r.get("same_work"), "")] if work else []
        body.append(cells)
    return md_table(headers, body, [True, False, False] + [True] * (len(headers) - 3 - work) + [False] * work)


def _totals_table(doc: dict, single: bool) -> str:
    rows = []
    for key, values in doc["totals"].items():
        label, metric = TOTAL_LABELS.get(key, (key, "bytecodes"))
        if single:
            rows.append([label, _num(next(iter(values.values())), metric)])
        else:
            pct = human_pct(values["delta_pct"]) if values.get("delta_pct") is not None else "—"
            rows.append(
                [
                    label,
                    _num(values["base"], metric),
                    _num(values["head"], metric),
                    _signed(values["delta"], metric),
                    pct,
                ]
            )
    if single:
        return md_table(["measure", "value"], rows, [False, True])
    return md_table(["measure", "base", "head", "change", "change %"], rows, [False, True, True, True, True])


def _top_lines(doc: dict) -> list[str]:
    lines = []
    for metric, row in doc["top"].items():
        if row is None:
            continue
        where = f" ({_where(row)})" if _where(row) else ""
        if doc["mode"] == "single":
            lines.append(
                f"- {TITLES[metric]}: {md_code(row['function'])}{where}, {_num(row['head'], metric)} of its own per call"
            )
        else:
            pct = f", {human_pct(row['delta_pct'])}" if row["delta_pct"] is not None else ", new"
            same = " — same calls and bytecodes at both revisions: C-level work, memory or noise"
            lines.append(
                f"- {TITLES[metric]}: {md_code(row['function'])}{where} {_signed(row['delta'], metric)}{pct} (self)"
                + (same if row.get("same_work") else "")
            )
    return lines or ["- no function's own cost grew"]


def _header(doc: dict) -> list[str]:
    sides = doc["sides"]
    title = doc["benchmark"] + (f"({doc['params']})" if doc["params"] else "")
    if doc["mode"] == "single":
        role = next(r for r, s in sides.items() if not s["skipped"])
        what = f"revision {md_code(sides[role]['commit'][:12])}"
    else:
        what = f"base {md_code(sides['base']['commit'][:12])} → head {md_code(sides['head']['commit'][:12])}"
    lines = [
        f"# Profile: {md_code(title)}",
        "",
        f"{what}; body profiled: {md_code(doc['profiled'])}; took {doc['seconds']:.0f} s.",
        "",
        f"- cProfile clock: {doc['clock']} ({'thread CPU time' if doc['clock'] == 'cpu' else 'wall time'})",
    ]
    factor = doc["totals"].get("time_normalised", {}).get("speed")
    if factor:
        lines.append(
            f"- head process speed factor {factor:.3f} (time of the functions whose work did not change, head ÷ base); "
            "time changes are read with head ÷ that factor"
        )
    for role, side in sides.items():
        if side["skipped"]:
            lines.append(f"- {role} not profiled: {side['skipped']}")
        if side["machine_skipped"]:
            lines.append(f"- machine instructions at {role} not counted: {side['machine_skipped']}")
        lines.append(f"- calls measured at {role}: " + ", ".join(f"{k} {v:,}" for k, v in side["calls"].items()))
        rounds = side.get("time_rounds") or {}
        if rounds.get("rounds"):
            note = "" if rounds.get("clean") else "; too few: every round counts, scaled by its CPU / wall time"
            lines.append(f"  - cProfile rounds kept at {role}: {rounds['kept']:,} of {rounds['rounds']:,}{note}")
    return lines


def render_md(doc: dict) -> str:
    single = doc["mode"] == "single"
    out = [*_header(doc), "", _totals_table(doc, single), "", "## Top " + ("functions" if single else "changes"), ""]
    out += _top_lines(doc)
    for metric, tables in doc["functions"].items():
        if metric == "machine":
            out += ["", "## Machine instructions per call by C function (cachegrind)", ""]
            out.append(_rows_table(tables["self"][:TABLE_ROWS], "bytecodes", single))
            continue
        for kind in ("self", "cumulative", "sites"):
            if kind in tables:
                out += ["", f"## {TITLES[metric]} — {kind}", "", _rows_table(tables[kind][:TABLE_ROWS], metric, single)]
    out += ["", "## Flame graphs", ""]
    for metric, files in doc["flamegraphs"].items():
        out.append(f"- {TITLES[metric]}: " + ", ".join(f"[{k}]({v})" for k, v in files.items()))
    out += ["", "## How to read this", "", READING]
    return "\n".join(out)
