"""The regression report: verdict tables (from ``tools.detect``) -> Markdown and JSON (pure).

Per verdict it shows the effect, its interval and the rule that decided (the detector
writes the rule text); wall time beside its witnesses (speed-normalised time and
instruction counts) and where they disagree;
a noisy-benchmarks section; and recommendations a developer can paste: ``asv find`` over
the range, ``asv profile`` at both commits, the graph in the asv site.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from tools.humanize import human_interval, human_pct, human_value
from tools.render import asv_find_command, asv_profile_command, graph_link, md_code, md_table
from tools.schema import twin_of, workload_of

VERDICT_ORDER = ("regressed", "improved", "inconclusive", "unchanged")


@dataclass(frozen=True)
class Side:
    commit: str
    date: pd.Timestamp | None = None

    def as_json(self) -> dict:
        return {"commit": self.commit, "date": self.date.isoformat() if self.date is not None else None}

    def text(self) -> str:
        when = f" ({self.date:%Y-%m-%d %H:%M} UTC)" if self.date is not None and not pd.isna(self.date) else ""
        return f"{md_code(self.commit[:12])}{when}"


@dataclass
class ReportContext:
    base: Side
    head: Side
    generated: str
    mode: str  # how base and head were measured
    site: str  # asv site root (URL or path) for graph links
    param_names: Mapping[str, Sequence[str]] = field(default_factory=dict)
    machines: Sequence[str] = ()
    environments: Sequence[str] = ()
    notes: Sequence[str] = ()


# ---------------------------------------------------------------- pieces


def _short(benchmark: str) -> str:
    parts = str(benchmark).split(".")
    return ".".join(parts[1:]) if len(parts) > 1 else str(benchmark)


def _pv(row) -> tuple[str, ...]:
    pv = row.get("param_values")
    return tuple(pv) if isinstance(pv, (tuple, list)) else ()


def recommendations(row: Mapping, ctx: ReportContext, base: str | None = None, head: str | None = None) -> dict:
    """The commands and link for one regressed series."""
    base = base or ctx.base.commit
    head = head or ctx.head.commit
    pv = _pv(row)
    lib = bool(row.get("lower_is_better", True))
    bench = str(row["benchmark"])
    names = ctx.param_names.get(bench, ())
    target = profile_target(bench, ctx.param_names)
    return {
        "asv_find": asv_find_command(
            base, head, bench, pv, lower_is_better=lib, machine=str(row.get("machine") or "") or None
        ),
        "asv_profile_base": asv_profile_command(target, base, pv),
        "asv_profile_head": asv_profile_command(target, head, pv),
        "graph_url": graph_link(ctx.site, bench, str(row.get("machine") or "") or None, names, pv),
    }


def profile_target(benchmark: str, known: Mapping[str, Sequence[str]]) -> str:
    """What to profile: for ``track_x_instructions`` / ``_throughput`` / ``_relative`` the timed
    ``time_x`` twin (profiling the counter would profile valgrind or the rate loop)."""
    timed = twin_of(benchmark, "time") if benchmark.rpartition(".")[2].startswith("track_") else None
    return timed if timed in known else benchmark


def _stem(benchmark: str) -> tuple[str, str] | None:
    """(mod.Cls, x) of ``time_x`` and of its twins: what pairs wall time with its witnesses."""
    workload = workload_of(benchmark)
    return workload[:2] if workload else None


WITNESSES = ("relative", "instructions")  # the low-noise channels a wall-time verdict is read against


def _reading(witness: str, w: str, i: str, mde) -> str:
    changed = {"regressed", "improved"}
    name = "speed-normalised time" if witness == "relative" else "instruction count"
    if w in changed and i == "unchanged":
        if witness == "relative":
            return (
                f"wall {w} but speed-normalised time unchanged: the machine ran slower or faster, "
                "not the code (the reference kernel timed beside it moved alike)"
            )
        return (
            f"wall {w} but instruction count unchanged: not more work — memory/cache behaviour, "
            "allocation, I/O or the machine; wall time is what users feel"
        )
    if i in changed and w in ("unchanged", "inconclusive"):
        mde_txt = f" (wall MDE {mde:.1f}%)" if isinstance(mde, float) and math.isfinite(mde) else ""
        what = "time" if witness == "relative" else "work"
        return f"{name} {i} but wall time {w}: a real change in {what}, below wall-time noise{mde_txt}"
    if w in changed and i in changed:
        return f"wall time and {name} moved in opposite directions"
    return f"wall {w}, {name} {i}"


def channel_disagreements(verdicts: pd.DataFrame) -> pd.DataFrame:
    """Wall-time rows paired with their witnesses (``track_x_relative``, ``track_x_instructions``)
    where the verdicts differ and at least one found a change, with a one-line reading."""
    cols = [
        "benchmark",
        "params",
        "witness",
        "wall_verdict",
        "wall_change_pct",
        "witness_verdict",
        "witness_change_pct",
        "note",
    ]
    if verdicts.empty:
        return pd.DataFrame(columns=cols)
    v = verdicts.assign(_stem=verdicts["benchmark"].map(_stem))
    v = v[v["_stem"].notna()]
    key = ["machine", "environment", "_stem", "params"]
    wall = v[v["channel"] == "wall"]
    out = []
    changed = {"regressed", "improved"}
    for witness in WITNESSES:
        pairs = wall.merge(v[v["channel"] == witness], on=key, suffixes=("_w", "_i"))
        for _, p in pairs.iterrows():
            w, i = p["verdict_w"], p["verdict_i"]
            if w == i or not ({w, i} & changed):
                continue
            out.append(
                [
                    p["benchmark_w"],
                    p["params"],
                    witness,
                    w,
                    p["change_pct_w"],
                    i,
                    p["change_pct_i"],
                    _reading(witness, w, i, p.get("mde_pct_w")),
                ]
            )
    return pd.DataFrame(out, columns=cols)


def _verdict_rows(rows: pd.DataFrame, ctx: ReportContext, with_rule: bool = True) -> str:
    multi = len(ctx.machines) > 1 or len(ctx.environments) > 1
    headers = ["benchmark", "params", "channel", "base", "head", "change", "interval", "q", "n (base/head)"]
    if with_rule:
        headers.append("rule (what decided)")
    if multi:
        headers.insert(0, "machine / env")
    body = []
    for _, r in rows.iterrows():
        unit = str(r["unit"])
        q = r["q_value"]
        cells = [
            md_code(_short(r["benchmark"])),
            str(r["params"]) or "—",
            str(r["channel"]),
            human_value(r["base_value"], unit),
            human_value(r["head_value"], unit),
            human_pct(r["change_pct"]),
            human_interval(r["ci_low_pct"], r["ci_high_pct"]),
            f"{q:.3g}" if isinstance(q, float) and math.isfinite(q) else "—",
            f"{int(r['n_base'])}/{int(r['n_head'])}",
        ]
        if with_rule:
            cells.append(str(r["rule"]))
        if multi:
            cells.insert(0, f"{r['machine']} / {r['environment']}")
        body.append(cells)
    numeric = [False, False, False, True, True, True, False, True, True] + ([False] if with_rule else [])
    return md_table(headers, body, ([False] if multi else []) + numeric)


def _sorted(rows: pd.DataFrame) -> pd.DataFrame:
    worse = rows["change_pct"].where(rows["lower_is_better"].astype(bool), -rows["change_pct"])
    return rows.assign(_w=worse.abs()).sort_values("_w", ascending=False, na_position="last").drop(columns="_w")


def counts_table(verdicts: pd.DataFrame) -> pd.DataFrame:
    c = pd.crosstab(verdicts["channel"], verdicts["verdict"]).reindex(columns=list(VERDICT_ORDER), fill_value=0)
    c.loc["all"] = c.sum()
    return c


# ---------------------------------------------------------------- the report

RULE_TEXT = (
    "Each benchmark is compared on one value per independent round (process) of each commit. "
    "Effect: the Hodges–Lehmann shift of log-values as a %; interval: its distribution-free "
    "(Moses) 99.5% confidence interval; p: Mann–Whitney, adjusted to q across the suite "
    "(Benjamini–Hochberg, q < 0.05). **regressed / improved**: the shift lies beyond the "
    "benchmark's effect floor (≥ 2%, or its measured same-commit noise), the interval excludes 0 "
    "and q < 0.05; **unchanged**: the whole interval lies within ±floor; otherwise **inconclusive** "
    "(too few rounds — a 99.5% interval needs ≥ 6 per side — or not significant). Speed-normalised "
    "time (`track_*_relative`) follows the same rule with 4–6× less noise. Instruction "
    "counts (cachegrind, fixed hash seed) are exact: a change beyond 0.5% decides with one run per "
    "side. Peak memory with fewer than 6 rounds uses a 5% floor on single values."
)


def regression_report(
    verdicts: pd.DataFrame, ctx: ReportContext, history: pd.DataFrame | None = None, history_note: str | None = None
) -> tuple[str, dict]:
    """(Markdown, JSON-able dict) for a ``compare_suite`` verdict table."""
    base8, head8 = ctx.base.commit[:8], ctx.head.commit[:8]
    counts = counts_table(verdicts) if len(verdicts) else pd.DataFrame()
    n = {v: int((verdicts["verdict"] == v).sum()) for v in VERDICT_ORDER}
    lines = [f"# Regression report: {base8} → {head8}", ""]
    facts = [
        ("Base", ctx.base.text()),
        ("Head", ctx.head.text()),
        ("Machine(s)", ", ".join(ctx.machines) or "—"),
        ("Environment(s)", ", ".join(ctx.environments) or "—"),
        ("Measured", ctx.mode),
        ("Generated", ctx.generated),
    ]
    lines += [md_table(["", ""], facts), ""]
    headline = (
        f"**{n['regressed']} regressed**, {n['improved']} improved, {n['inconclusive']} inconclusive, "
        f"{n['unchanged']} unchanged — {len(verdicts)} series compared."
    )
    lines += ["## Summary", "", headline, ""]
    if len(counts):
        lines += [
            md_table(
                ["channel", *counts.columns],
                [[ch, *map(int, r)] for ch, r in counts.iterrows()],
                [False] + [True] * len(counts.columns),
            ),
            "",
        ]
    lines += ["How a verdict is decided: " + RULE_TEXT, ""]
    lines += [f"- {note}" for note in ctx.notes]
    if ctx.notes:
        lines.append("")

    results_json = []
    for verdict in ("regressed", "improved", "inconclusive"):
        rows = verdicts[verdicts["verdict"] == verdict]
        if rows.empty:
            continue
        title = {"regressed": "Regressions", "improved": "Improvements", "inconclusive": "Inconclusive"}[verdict]
        lines += [f"## {title} ({len(rows)})", "", _verdict_rows(_sorted(rows), ctx), ""]

    disagreements = channel_disagreements(verdicts)
    lines += ["## Wall time and its witnesses", ""]
    n_by = {w: int((verdicts["channel"] == w).sum()) if len(verdicts) else 0 for w in WITNESSES}
    lines += [
        f"Speed-normalised time (`track_*_relative`, wall time in units of a reference kernel timed "
        f"beside it: the machine's speed cancels): {n_by['relative'] or 'no'} series. Instruction counts "
        f"(`track_*_instructions`, exact under cachegrind): {n_by['instructions'] or 'no'} series"
        + ("" if n_by["instructions"] else " (valgrind absent or none selected)")
        + ".",
        "",
    ]
    if disagreements.empty:
        lines += ["Where a benchmark has wall time and a witness, their verdicts agree.", ""]
    else:
        lines += [
            "Where they disagree:",
            "",
            md_table(
                ["benchmark", "params", "wall", "witness", "reading"],
                [
                    [
                        md_code(_short(d.benchmark)),
                        d.params or "—",
                        f"{d.wall_verdict} {human_pct(d.wall_change_pct)}",
                        f"{d.witness}: {d.witness_verdict} {human_pct(d.witness_change_pct)}",
                        d.note,
                    ]
                    for d in disagreements.itertuples()
                ],
            ),
            "",
        ]

    noisy = verdicts[verdicts["anomaly"].fillna("").astype(str) != ""] if len(verdicts) else verdicts
    lines += ["## Noisy benchmarks", ""]
    if noisy.empty:
        lines += ["None flagged: no outlier rounds, bimodal samples or benchmarks too noisy to judge.", ""]
    else:
        lines += [
            "Measurements to read with care. An anomaly alone never makes a regression (only the "
            "interval rule above does); MDE is the smallest change this comparison could detect.",
            "",
            md_table(
                ["benchmark", "params", "channel", "anomaly", "MDE", "verdict"],
                [
                    [
                        md_code(_short(r.benchmark)),
                        r.params or "—",
                        r.channel,
                        r.anomaly,
                        human_pct(r.mde_pct, signed=False),
                        r.verdict,
                    ]
                    for r in noisy.itertuples()
                ],
            ),
            "",
        ]

    lines += ["## Recommendations", ""]
    regressed = _sorted(verdicts[verdicts["verdict"] == "regressed"]) if len(verdicts) else verdicts
    if regressed.empty:
        lines += ["Nothing regressed between these commits.", ""]
    for _, r in regressed.iterrows():
        rec = recommendations(r, ctx)
        label = f"{_short(r['benchmark'])}" + (f" ({r['params']})" if r["params"] else "")
        lines += [
            f"### {label}: {human_pct(r['change_pct'])} {human_interval(r['ci_low_pct'], r['ci_high_pct'])}",
            "",
            "Bisect the range (asv builds and measures the commits in between):",
            "",
            "```sh",
            rec["asv_find"],
            "```",
            "",
            "Profile it at both commits and compare:",
            "",
            "```sh",
            rec["asv_profile_base"],
            rec["asv_profile_head"],
            "```",
            "",
            f"Its history in the asv site: [{r['benchmark']}]({rec['graph_url']})",
            "",
        ]
    inconclusive = verdicts[verdicts["verdict"] == "inconclusive"] if len(verdicts) else verdicts
    if len(inconclusive):
        lines += [
            f"{len(inconclusive)} inconclusive series: measure base and head interleaved over more "
            "rounds (only those are re-run when still inconclusive):",
            "",
            "```sh",
            f"python -m tools regressions --base {ctx.base.commit[:12]} --head {ctx.head.commit[:12]} --rounds 6",
            "```",
            "",
        ]

    for _, r in verdicts.iterrows():
        row = _json_row(r)
        row["mode"] = "pairwise"
        row["base_commit"], row["head_commit"] = ctx.base.commit, ctx.head.commit
        if r["verdict"] == "regressed":
            row["recommendations"] = recommendations(r, ctx)
        results_json.append(row)

    if history is not None or history_note:
        lines += ["## History (change points)", ""]
        if history_note:
            lines += [history_note, ""]
        if history is not None and len(history):
            lines += [
                md_table(
                    [
                        "benchmark",
                        "params",
                        "channel",
                        "between",
                        "change",
                        "interval",
                        "q",
                        "verdict",
                        "confirmed",
                        "rule",
                    ],
                    [
                        [
                            md_code(_short(h.benchmark)),
                            h.params or "—",
                            h.channel,
                            f"{str(h.commit_before)[:8]}..{str(h.commit_after)[:8]}",
                            human_pct(h.change_pct),
                            human_interval(h.ci_low_pct, h.ci_high_pct),
                            f"{h.q_value:.3g}" if isinstance(h.q_value, float) and math.isfinite(h.q_value) else "—",
                            h.verdict,
                            {True: "yes", False: "no"}.get(h.confirmed, "not re-run"),
                            h.rule,
                        ]
                        for h in history.itertuples()
                    ],
                ),
                "",
            ]
            for _, h in history[history["verdict"] == "regressed"].iterrows():
                rec = recommendations(h, ctx, base=str(h["commit_before"]), head=str(h["commit_after"]))
                lines += [
                    f"- `{_short(h['benchmark'])}`{' (' + h['params'] + ')' if h['params'] else ''}: "
                    f"`{rec['asv_find']}` · [graph]({rec['graph_url']})"
                ]
                row = _json_row(h)
                row["mode"] = "history"
                row["recommendations"] = rec
                results_json.append(row)
            for _, h in history[history["verdict"] != "regressed"].iterrows():
                row = _json_row(h)
                row["mode"] = "history"
                results_json.append(row)
            lines.append("")
        elif history is not None:
            lines += ["No change points found in the history.", ""]

    report = {
        "generated": ctx.generated,
        "base": ctx.base.as_json(),
        "head": ctx.head.as_json(),
        "machines": list(ctx.machines),
        "environments": list(ctx.environments),
        "mode": ctx.mode,
        "counts": n,
        "rule": RULE_TEXT,
        "notes": list(ctx.notes),
        "results": results_json,
        "disagreements": [_json_row(d) for _, d in disagreements.iterrows()],
        "noisy": [_json_row(r) for _, r in noisy.iterrows()],
    }
    return "\n".join(lines), report


def _json_value(v):
    if isinstance(v, (pd.Timestamp,)):
        return v.isoformat()
    if isinstance(v, tuple):
        return list(v)
    if hasattr(v, "item") and not isinstance(v, (list, dict, str)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if v is pd.NA or v is pd.NaT:
        return None
    return v


def _json_row(r) -> dict:
    return {str(k): _json_value(v) for k, v in r.items() if not str(k).startswith("_")}
