"""The regression report: findings (from ``tools.detect``) -> report data -> Markdown and JSON.

``build_report`` gathers everything the report says (pure); ``render_markdown`` and
``render_json`` write it; the command renders the HTML from the Markdown. Per verdict it shows
the effect, its interval and the rule that decided (the detector writes the rule text); wall
time beside its witnesses (speed-normalised time and instruction counts) and where they
disagree; a noisy-benchmarks section; and recommendations a developer can paste: ``asv find``
over the range, ``asv profile`` at both commits, the graph in the asv site.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from tools.detect import finding
from tools.detect.finding import Finding
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


# ---------------------------------------------------------------- the report's data

RULE_TEXT = (
    "Each benchmark is compared on one value per independent round (process) of each commit. "
    "Effect: the Hodges–Lehmann shift of log-values as a %; interval: its distribution-free "
    "(Moses) 99.5% confidence interval; p: Mann–Whitney, adjusted to q across the suite "
    "(Benjamini–Hochberg, q < 0.05). **regressed / improved**: the shift lies beyond the "
    "effect floor (2%), the interval excludes 0 "
    "and q < 0.05; **unchanged**: the whole interval lies within ±floor; otherwise **inconclusive** "
    "(too few rounds — a 99.5% interval needs ≥ 6 per side — or not significant). Speed-normalised "
    "time (`track_*_relative`) follows the same rule with 4–6× less noise. Instruction "
    "counts (cachegrind, fixed hash seed) are exact: a change beyond 0.5% decides with one run per "
    "side. Peak memory with fewer than 6 rounds uses a 5% floor on single values."
)


@dataclass(frozen=True)
class ReportData:
    """Everything the regression report says, ready to render."""

    ctx: ReportContext
    verdicts: pd.DataFrame  # pairwise findings as records (finding.PAIRWISE_COLUMNS)
    counts: dict[str, int]  # verdict -> series
    by_channel: pd.DataFrame  # channel x verdict counts, with an 'all' row
    witnesses: dict[str, int]  # series of each witness channel
    disagreements: pd.DataFrame
    noisy: pd.DataFrame
    history: pd.DataFrame | None  # change points as records (finding.HISTORY_COLUMNS + param_values)
    history_note: str | None


def build_report(
    findings: Sequence[Finding],
    ctx: ReportContext,
    history: Sequence[Finding] | None = None,
    history_note: str | None = None,
) -> ReportData:
    """The report's data from pairwise ``findings`` (and history change points, when analysed)."""
    verdicts = finding.frame(findings, finding.PAIRWISE_COLUMNS)
    has = len(verdicts) > 0
    return ReportData(
        ctx=ctx,
        verdicts=verdicts,
        counts={v: int((verdicts["verdict"] == v).sum()) for v in VERDICT_ORDER},
        by_channel=counts_table(verdicts) if has else pd.DataFrame(),
        witnesses={w: int((verdicts["channel"] == w).sum()) if has else 0 for w in WITNESSES},
        disagreements=channel_disagreements(verdicts),
        noisy=verdicts[verdicts["anomaly"].fillna("").astype(str) != ""] if has else verdicts,
        history=None if history is None else finding.frame(history, HISTORY_RECORD),
        history_note=history_note,
    )


HISTORY_RECORD = [*finding.HISTORY_COLUMNS, "param_values"]


# ---------------------------------------------------------------- Markdown


def _header(data: ReportData) -> list[str]:
    ctx, n = data.ctx, data.counts
    facts = [
        ("Base", ctx.base.text()),
        ("Head", ctx.head.text()),
        ("Machine(s)", ", ".join(ctx.machines) or "—"),
        ("Environment(s)", ", ".join(ctx.environments) or "—"),
        ("Measured", ctx.mode),
        ("Generated", ctx.generated),
    ]
    lines = [f"# Regression report: {ctx.base.commit[:8]} → {ctx.head.commit[:8]}", ""]
    lines += [md_table(["", ""], facts), ""]
    headline = (
        f"**{n['regressed']} regressed**, {n['improved']} improved, {n['inconclusive']} inconclusive, "
        f"{n['unchanged']} unchanged — {len(data.verdicts)} series compared."
    )
    lines += ["## Summary", "", headline, ""]
    if len(data.by_channel):
        c = data.by_channel
        lines += [md_table(["channel", *c.columns], [[ch, *map(int, r)] for ch, r in c.iterrows()],
                           [False] + [True] * len(c.columns)), ""]  # fmt: skip
    lines += ["How a verdict is decided: " + RULE_TEXT, ""]
    lines += [f"- {note}" for note in ctx.notes]
    return lines + ([""] if ctx.notes else [])


def _verdict_sections(data: ReportData) -> list[str]:
    lines = []
    titles = {"regressed": "Regressions", "improved": "Improvements", "inconclusive": "Inconclusive"}
    for verdict, title in titles.items():
        rows = data.verdicts[data.verdicts["verdict"] == verdict]
        if not rows.empty:
            lines += [f"## {title} ({len(rows)})", "", _verdict_rows(_sorted(rows), data.ctx), ""]
    return lines


def _witness_section(data: ReportData) -> list[str]:
    n_by = data.witnesses
    lines = ["## Wall time and its witnesses", ""]
    lines += [
        f"Speed-normalised time (`track_*_relative`, wall time in units of a reference kernel timed "
        f"beside it: the machine's speed cancels): {n_by['relative'] or 'no'} series. Instruction counts "
        f"(`track_*_instructions`, exact under cachegrind): {n_by['instructions'] or 'no'} series"
        + ("" if n_by["instructions"] else " (valgrind absent or none selected)")
        + ".",
        "",
    ]
    if data.disagreements.empty:
        return lines + ["Where a benchmark has wall time and a witness, their verdicts agree.", ""]
    body = [
        [
            md_code(_short(d.benchmark)),
            d.params or "—",
            f"{d.wall_verdict} {human_pct(d.wall_change_pct)}",
            f"{d.witness}: {d.witness_verdict} {human_pct(d.witness_change_pct)}",
            d.note,
        ]
        for d in data.disagreements.itertuples()
    ]
    return lines + [
        "Where they disagree:",
        "",
        md_table(["benchmark", "params", "wall", "witness", "reading"], body),
        "",
    ]


def _noisy_section(data: ReportData) -> list[str]:
    lines = ["## Noisy benchmarks", ""]
    if data.noisy.empty:
        return lines + ["None flagged: no outlier rounds, bimodal samples or benchmarks too noisy to judge.", ""]
    body = [
        [
            md_code(_short(r.benchmark)),
            r.params or "—",
            r.channel,
            r.anomaly,
            human_pct(r.mde_pct, signed=False),
            r.verdict,
        ]
        for r in data.noisy.itertuples()
    ]
    return lines + [
        "Measurements to read with care. An anomaly alone never makes a regression (only the "
        "interval rule above does); MDE is the smallest change this comparison could detect.",
        "",
        md_table(["benchmark", "params", "channel", "anomaly", "MDE", "verdict"], body),
        "",
    ]


def _recommendation_section(data: ReportData) -> list[str]:
    ctx, v = data.ctx, data.verdicts
    lines = ["## Recommendations", ""]
    regressed = _sorted(v[v["verdict"] == "regressed"]) if len(v) else v
    if regressed.empty:
        lines += ["Nothing regressed between these commits.", ""]
    for _, r in regressed.iterrows():
        rec = recommendations(r, ctx)
        label = f"{_short(r['benchmark'])}" + (f" ({r['params']})" if r["params"] else "")
        lines += [
            f"### {label}: {human_pct(r['change_pct'])} {human_interval(r['ci_low_pct'], r['ci_high_pct'])}",
            "", "Bisect the range (asv builds and measures the commits in between):", "",
            "```sh", rec["asv_find"], "```", "", "Profile it at both commits and compare:", "",
            "```sh", rec["asv_profile_base"], rec["asv_profile_head"], "```", "",
            f"Its history in the asv site: [{r['benchmark']}]({rec['graph_url']})", "",
        ]  # fmt: skip
    n_open = int((v["verdict"] == "inconclusive").sum()) if len(v) else 0
    if n_open:
        lines += [
            f"{n_open} inconclusive series: measure base and head interleaved over more "
            "rounds (only those are re-run when still inconclusive):",
            "", "```sh",
            f"python -m tools regressions --base {ctx.base.commit[:12]} --head {ctx.head.commit[:12]} --rounds 6",
            "```", "",
        ]  # fmt: skip
    return lines


def _fmt_q(q) -> str:
    return f"{q:.3g}" if isinstance(q, float) and math.isfinite(q) else "—"


def _history_section(data: ReportData) -> list[str]:
    history, ctx = data.history, data.ctx
    if history is None and not data.history_note:
        return []
    lines = ["## History (change points)", ""] + ([data.history_note, ""] if data.history_note else [])
    if history is None:
        return lines
    if not len(history):
        return lines + ["No change points found in the history.", ""]
    headers = ["benchmark", "params", "channel", "between", "change", "interval", "q", "verdict", "confirmed", "rule"]
    body = [
        [
            md_code(_short(h.benchmark)),
            h.params or "—",
            h.channel,
            f"{str(h.commit_before)[:8]}..{str(h.commit_after)[:8]}",
            human_pct(h.change_pct),
            human_interval(h.ci_low_pct, h.ci_high_pct),
            _fmt_q(h.q_value),
            h.verdict,
            {True: "yes", False: "no"}.get(h.confirmed, "not re-run"),
            h.rule,
        ]  # fmt: skip
        for h in history.itertuples()
    ]
    lines += [md_table(headers, body), ""]
    for _, h in history[history["verdict"] == "regressed"].iterrows():
        rec = recommendations(h, ctx, base=str(h["commit_before"]), head=str(h["commit_after"]))
        params = f" ({h['params']})" if h["params"] else ""
        lines.append(f"- `{_short(h['benchmark'])}`{params}: `{rec['asv_find']}` · [graph]({rec['graph_url']})")
    return lines + [""]


def render_markdown(data: ReportData) -> str:
    sections = (_header, _verdict_sections, _witness_section, _noisy_section, _recommendation_section, _history_section)
    return "\n".join(line for section in sections for line in section(data))


# ---------------------------------------------------------------- JSON


def _json_results(data: ReportData) -> list[dict]:
    ctx, out = data.ctx, []
    for _, r in data.verdicts.iterrows():
        row = {**_json_row(r), "mode": "pairwise", "base_commit": ctx.base.commit, "head_commit": ctx.head.commit}
        if r["verdict"] == "regressed":
            row["recommendations"] = recommendations(r, ctx)
        out.append(row)
    if data.history is None or not len(data.history):
        return out
    h = data.history
    for _, r in h[h["verdict"] == "regressed"].iterrows():
        rec = recommendations(r, ctx, base=str(r["commit_before"]), head=str(r["commit_after"]))
        out.append({**_json_row(r), "mode": "history", "recommendations": rec})
    out += [{**_json_row(r), "mode": "history"} for _, r in h[h["verdict"] != "regressed"].iterrows()]
    return out


def render_json(data: ReportData) -> dict:
    ctx = data.ctx
    return {
        "generated": ctx.generated,
        "base": ctx.base.as_json(),
        "head": ctx.head.as_json(),
        "machines": list(ctx.machines),
        "environments": list(ctx.environments),
        "mode": ctx.mode,
        "counts": data.counts,
        "rule": RULE_TEXT,
        "notes": list(ctx.notes),
        "results": _json_results(data),
        "disagreements": [_json_row(d) for _, d in data.disagreements.iterrows()],
        "noisy": [_json_row(r) for _, r in data.noisy.iterrows()],
    }


def regression_report(
    findings: Sequence[Finding],
    ctx: ReportContext,
    history: Sequence[Finding] | None = None,
    history_note: str | None = None,
) -> tuple[str, dict]:
    """(Markdown, JSON-able dict) of pairwise findings and, optionally, history change points."""
    data = build_report(findings, ctx, history, history_note)
    return render_markdown(data), render_json(data)


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
