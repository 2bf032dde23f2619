"""The comparison report: a ``tools.comparison.Comparison`` -> report data -> Markdown and JSON.

``build_report`` gathers what the report says (pure); ``render_markdown`` and ``render_json``
write it; the command renders the HTML from the Markdown. At the top: the two sides and what
differs between them (Python, dependency versions, machine, asv); then per verdict every series
present on both sides with the ratio B/A, its interval, q and the rule that decided.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from tools.comparison import Comparison, geometric_ratio
from tools.detect import finding
from tools.humanize import human_value
from tools.render import json_record, md_code, md_table, short_name

VERDICTS = ("regressed", "improved", "inconclusive", "unchanged")
TITLES = {
    "regressed": "Worse on B",
    "improved": "Better on B",
    "inconclusive": "Inconclusive",
    "unchanged": "Unchanged",
}
RULE_TEXT = (
    "B plays the head and A the base of the regression check, with the same rule: one value per "
    "independent round (process) of each side; effect: the Hodges–Lehmann shift of log-values, "
    "shown as the ratio B/A with its distribution-free (Moses) 99.5% interval; p: Mann–Whitney, "
    "adjusted to q across the comparison (Benjamini–Hochberg, q < 0.05). **worse / better on B**: "
    "the shift lies beyond the 2% floor, the interval excludes 1 and q < 0.05 (for rates such as "
    "ops/s, higher is better); **unchanged**: the whole interval lies within ±2%; otherwise "
    "**inconclusive** (a 99.5% interval needs ≥ 6 rounds per side: stored single runs decide "
    "instruction counts and memory, not wall time — measure rounds and pass them with --rounds-dir). "
    "Series are paired on benchmark and parameters plus every dimension the sides do not compare."
)


@dataclass(frozen=True)
class ComparisonData:
    a_text: str
    b_text: str
    generated: str
    compared: list[str]
    sides: list[dict]  # per side: label, selector, commit, machine, environment, rounds
    differences: list[dict]
    verdicts: pd.DataFrame  # finding records + ratio, ratio_low, ratio_high
    counts: dict[str, int]
    wall_ratio: float
    only_a: list[str]
    only_b: list[str]


def _ratio(pct: float) -> float:
    return 1.0 + pct / 100.0 if isinstance(pct, float) and math.isfinite(pct) else math.nan


def _side_record(side) -> dict:
    rounds = int(side.rows["round"].nunique()) if len(side.rows) else 0
    return {
        "label": side.label,
        "selector": side.selector.text,
        **{d: side.value(d) for d in ("commit", "machine", "environment")},
        "rounds": rounds,
    }


def build_report(c: Comparison, generated: str) -> ComparisonData:
    verdicts = finding.frame(c.findings, finding.PAIRWISE_COLUMNS)
    if len(verdicts):
        verdicts = verdicts.assign(
            ratio=[_ratio(x) for x in verdicts["change_pct"]],
            ratio_low=[_ratio(x) for x in verdicts["ci_low_pct"]],
            ratio_high=[_ratio(x) for x in verdicts["ci_high_pct"]],
        )
    counts = {v: int((verdicts["verdict"] == v).sum()) if len(verdicts) else 0 for v in VERDICTS}
    return ComparisonData(
        a_text=c.a.selector.text, b_text=c.b.selector.text, generated=generated, compared=list(c.compared),
        sides=[_side_record(c.a), _side_record(c.b)], differences=c.differences, verdicts=verdicts,
        counts=counts, wall_ratio=geometric_ratio(c.findings), only_a=c.only_a, only_b=c.only_b,
    )  # fmt: skip


def headline(data: ComparisonData) -> str:
    n = data.counts
    text = (
        f"**{n['regressed']} worse on B**, {n['improved']} better, {n['inconclusive']} inconclusive, "
        f"{n['unchanged']} unchanged — {len(data.verdicts)} series on both sides"
    )
    if math.isfinite(data.wall_ratio):
        text += f"; wall time B/A, geometric mean of the medians: ×{data.wall_ratio:.3f}"
    return text + "."


def _ratio_text(r) -> str:
    return f"×{r:.3f}" if isinstance(r, float) and math.isfinite(r) else "—"


def _interval_text(lo, hi) -> str:
    if not (isinstance(lo, float) and isinstance(hi, float) and math.isfinite(lo) and math.isfinite(hi)):
        return "—"
    return f"[{lo:.3f}, {hi:.3f}]"


def _verdict_table(rows: pd.DataFrame) -> str:
    headers = ["A → B: machine / env", "benchmark", "params", "channel", "A", "B", "B/A", "99.5% interval", "q"]
    headers += ["rounds (A/B)", "rule (what decided)"]
    body = []
    for _, r in rows.iterrows():
        unit, q = str(r["unit"]), r["q_value"]
        body.append([
            f"{r['machine']} / {r['environment']}", md_code(short_name(r["benchmark"])), str(r["params"]) or "—",
            str(r["channel"]), human_value(r["base_value"], unit), human_value(r["head_value"], unit),
            _ratio_text(r["ratio"]), _interval_text(r["ratio_low"], r["ratio_high"]),
            f"{q:.3g}" if isinstance(q, float) and math.isfinite(q) else "—", f"{int(r['n_base'])}/{int(r['n_head'])}",
            str(r["rule"]),
        ])  # fmt: skip
    return md_table(headers, body, [False, False, False, False, True, True, True, False, True, True, False])


def _sorted(rows: pd.DataFrame) -> pd.DataFrame:
    size = rows["ratio"].map(lambda r: abs(math.log(r)) if isinstance(r, float) and r > 0 else -1.0)
    return (
        rows.assign(_s=size)
        .sort_values(["_s", "benchmark", "params"], ascending=[False, True, True])
        .drop(columns="_s")
    )


def _sides_section(data: ComparisonData) -> list[str]:
    body = [
        [
            s["label"],
            md_code(s["selector"]),
            md_code(s["commit"][:12]),
            s["machine"],
            s["environment"],
            str(s["rounds"]),
        ]
        for s in data.sides
    ]
    lines = [f"# Comparison: {data.a_text} → {data.b_text}", ""]
    lines += [md_table(["side", "selector", "commit", "machine", "environment", "rounds"], body), ""]
    compared = ", ".join(data.compared) or "—"
    return lines + [f"Compared: {compared}. Generated {data.generated}.", ""]


def _differences_section(data: ComparisonData) -> list[str]:
    body = [
        [f"**{d['what']}**" if d["differs"] else d["what"], d["a"], d["b"], "differs" if d["differs"] else "same"]
        for d in data.differences
    ]
    return ["## What differs", "", md_table(["", "A", "B", ""], body), ""]


def _summary_section(data: ComparisonData) -> list[str]:
    lines = ["## Summary", "", headline(data), "", "How a verdict is decided: " + RULE_TEXT, ""]
    for label, names in (("A", data.only_a), ("B", data.only_b)):
        if names:
            shown = ", ".join(md_code(n) for n in names[:10]) + (
                f" and {len(names) - 10} more" if len(names) > 10 else ""
            )
            lines += [f"- Only on {label} ({len(names)} series, not compared): {shown}"]
    return lines + ([""] if data.only_a or data.only_b else [])


def _verdict_sections(data: ComparisonData) -> list[str]:
    lines = []
    for verdict in VERDICTS:
        rows = data.verdicts[data.verdicts["verdict"] == verdict] if len(data.verdicts) else data.verdicts
        if len(rows):
            lines += [f"## {TITLES[verdict]} ({len(rows)})", "", _verdict_table(_sorted(rows)), ""]
    if not len(data.verdicts):
        lines += ["No series has results on both sides.", ""]
    return lines


def render_markdown(data: ComparisonData) -> str:
    sections = (_sides_section, _differences_section, _summary_section, _verdict_sections)
    return "\n".join(line for section in sections for line in section(data))


def render_json(data: ComparisonData) -> dict:
    results = [json_record(r) for _, r in data.verdicts.iterrows()] if len(data.verdicts) else []
    return {
        "generated": data.generated,
        "a": data.sides[0],
        "b": data.sides[1],
        "compared": data.compared,
        "differences": data.differences,
        "counts": data.counts,
        "wall_ratio_geomean": data.wall_ratio if math.isfinite(data.wall_ratio) else None,
        "rule": RULE_TEXT,
        "results": results,
        "only_a": data.only_a,
        "only_b": data.only_b,
    }


def comparison_report(c: Comparison, generated: str) -> tuple[str, dict]:
    """(Markdown, JSON-able dict) of a comparison."""
    data = build_report(c, generated)
    return render_markdown(data), render_json(data)


def configurations_markdown(summaries: Sequence, reference: tuple[str, str], source: str) -> list[str]:
    """The performance report's section: every configuration of the newest commit against the
    reference (``tools.comparison.compare_configurations``)."""
    if not summaries:
        return []
    lines = ["## Configurations", ""]
    lines += [
        f"Every configuration B of this commit against the reference A = {md_code(reference[0] + ' / ' + reference[1])} "
        f"(the most results; among equals the machine with the longest history, the lowest Python, the newest dependencies), series paired on benchmark and parameters; {source}. "
        "Verdicts as in the comparison report (`python -m tools compare`): worse / better on the configuration.",
        "",
    ]
    body = []
    for s in summaries:
        n = s.counts
        top = "; ".join(
            f"{md_code(short_name(f.benchmark))}{f' ({f.params})' if f.params else ''} {_ratio_text(_ratio(f.change_pct))}"
            for f in s.notable
        )
        body.append([
            f"{s.machine} / {s.environment}", "; ".join(s.differs) or "—", str(s.n_series),
            _ratio_text(s.wall_ratio), f"{n['regressed']} / {n['improved']} / {n['unchanged']} / {n['inconclusive']}",
            top or "—",
        ])  # fmt: skip
    ref = f"{reference[0]} / {reference[1]}"
    headers = [f"configuration B (A: {ref})", "differs from A", "series", "wall B/A (geo. mean)"]
    headers += ["worse / better / unchanged / inconclusive on B", "largest decided differences (B/A)"]
    return lines + [md_table(headers, body, [False, False, True, True, False, False]), ""]
