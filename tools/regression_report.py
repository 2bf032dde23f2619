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

from tools.dashboard.links import dashboard_link
from tools.detect import finding
from tools.detect.finding import Finding
from tools.history_report import HistoryResult, counted, history_extras, history_markdown, history_results
from tools.humanize import human_interval, human_pct, human_value
from tools.profile_links import ProfileLink
from tools.render import asv_find_command, asv_profile_command, graph_link, json_record, md_code, md_table, short_name
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
    base: Side | None  # None: the first results on this machine, nothing to compare with
    head: Side
    generated: str
    mode: str  # how base and head were measured
    site: str  # asv site root (URL or path) for graph links
    param_names: Mapping[str, Sequence[str]] = field(default_factory=dict)
    machines: Sequence[str] = ()
    environments: Sequence[str] = ()
    notes: Sequence[str] = ()
    profiles: Mapping[tuple[str, str, str, str], ProfileLink] = field(default_factory=dict)  # profile_links.key_of


# ---------------------------------------------------------------- pieces


def _pv(row) -> tuple[str, ...]:
    pv = row.get("param_values")
    return tuple(pv) if isinstance(pv, (tuple, list)) else ()


def profile_of(row: Mapping, ctx: ReportContext, base: str = "", head: str = "") -> ProfileLink | None:
    """The profile made for a regressed series (history: at its change point's commits), if any."""
    return ctx.profiles.get((str(row["benchmark"]), str(row.get("params") or ""), base, head))


def recommendations(row: Mapping, ctx: ReportContext, base: str | None = None, head: str | None = None) -> dict:
    """The commands and links for one regressed series (its profile's too, when one was made)."""
    link = profile_of(row, ctx, base or "", head or "")
    base = base or ctx.base.commit  # a pairwise regression always has a base
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
        "dashboard_url": dashboard_link(
            ctx.site,
            bench,
            str(row.get("params") or ""),
            str(row.get("machine") or ""),
            str(row.get("environment") or ""),
        ),
        **({"profile": link.as_json()} if link is not None else {}),
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
        "machine",
        "environment",
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
                    p["machine"],
                    p["environment"],
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


def _verdict_rows(rows: pd.DataFrame, ctx: ReportContext, profiles: bool = False) -> str:
    """One row per series: machine and environment always (series of two never mix); with
    ``profiles``, the top changed function of each row's profile inline."""
    headers = ["machine / env", "benchmark", "params", "channel", "base", "head", "change", "interval", "q"]
    headers += ["n (base/head)", "rule (what decided)"] + (["profile (top change)"] if profiles else [])
    body = []
    for _, r in rows.iterrows():
        unit = str(r["unit"])
        q = r["q_value"]
        body.append(
            [
                f"{r['machine']} / {r['environment']}",
                md_code(short_name(r["benchmark"])),
                str(r["params"]) or "—",
                str(r["channel"]),
                human_value(r["base_value"], unit),
                human_value(r["head_value"], unit),
                human_pct(r["change_pct"]),
                human_interval(r["ci_low_pct"], r["ci_high_pct"]),
                f"{q:.3g}" if isinstance(q, float) and math.isfinite(q) else "—",
                f"{int(r['n_base'])}/{int(r['n_head'])}",
                str(r["rule"]),
                *([_profile_cell(r, ctx)] if profiles else []),
            ]
        )
    numeric = [False, False, False, False, True, True, True, False, True, True, False] + [False] * profiles
    return md_table(headers, body, numeric)


def _profile_cell(row, ctx: ReportContext) -> str:
    link = profile_of(row, ctx)
    return link.markdown() if link is not None else "—"


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
    "side. Peak memory with fewer than 6 rounds uses a 5% floor on single values. With too few rounds "
    "for a rank interval (e.g. one stored run a side), wall time, speed-normalised time and metrics are "
    "judged against the calibrated between-process noise of one run (from the kept interleaved rounds or "
    "the stored history of the machine; a stated default per channel otherwise): the HL shift with a t "
    "interval, decided by the same rule, so only changes far beyond that noise are decided. A metric "
    "identical in every round is judged like a count. Each inconclusive verdict ends with its minimum "
    "detectable effect at the rounds spent and the rounds a side a 5% change would take."
)


@dataclass(frozen=True)
class ReportData:
    """Everything the regression report says, ready to render."""

    ctx: ReportContext
    verdicts: pd.DataFrame  # pairwise findings as records (finding.PAIRWISE_COLUMNS)
    pairwise: dict[str, int]  # verdict -> series, between base and head
    counts: dict[str, int]  # the report's one count: pairwise plus history change points blamed on a commit
    by_channel: pd.DataFrame  # channel x verdict counts, with an 'all' row
    witnesses: dict[str, int]  # series of each witness channel
    disagreements: pd.DataFrame
    noisy: pd.DataFrame
    history: HistoryResult | None


def build_report(findings: Sequence[Finding], ctx: ReportContext, history: HistoryResult | None = None) -> ReportData:
    """The report's data from pairwise ``findings`` and what the history analysis found."""
    verdicts = finding.frame(findings, finding.PAIRWISE_COLUMNS)
    has = len(verdicts) > 0
    pairwise = {v: int((verdicts["verdict"] == v).sum()) for v in VERDICT_ORDER}
    counts = dict(pairwise)
    for v in finding.CHANGED:
        counts[v] += history.count(v) if history is not None else 0
    return ReportData(
        ctx=ctx,
        verdicts=verdicts,
        pairwise=pairwise,
        counts=counts,
        by_channel=counts_table(verdicts) if has else pd.DataFrame(),
        witnesses={w: int((verdicts["channel"] == w).sum()) if has else 0 for w in WITNESSES},
        disagreements=channel_disagreements(verdicts),
        noisy=verdicts[verdicts["anomaly"].fillna("").astype(str) != ""] if has else verdicts,
        history=history,
    )


def headline(data: ReportData) -> str:
    """The one count, in words: the same numbers as the JSON ``counts`` and the exit code."""
    n, pw, h = data.counts, data.pairwise, data.history
    split = ""
    if h is not None and h.changes is not None:
        split = f" ({pw['regressed']} between base and head, {h.count('regressed')} in the history)"
    text = (
        f"**{n['regressed']} regressed**{split}, {n['improved']} improved, {n['inconclusive']} inconclusive, "
        f"{n['unchanged']} unchanged — {len(data.verdicts)} series compared"
    )
    if h is not None and h.shifts:
        text += f"; {len(h.shifts)} environment shift(s) in the history, blamed on no commit"
    return text + "."


# ---------------------------------------------------------------- Markdown


def _title(ctx: ReportContext) -> str:
    if ctx.base is None:
        return f"# Regression report: first results at {ctx.head.commit[:8]}"
    return f"# Regression report: {ctx.base.commit[:8]} → {ctx.head.commit[:8]}"


def _header(data: ReportData) -> list[str]:
    ctx = data.ctx
    facts = [
        ("Base", ctx.base.text() if ctx.base is not None else "— (no earlier results)"),
        ("Head", ctx.head.text()),
        ("Machine(s)", ", ".join(ctx.machines) or "—"),
        ("Environment(s)", ", ".join(ctx.environments) or "—"),
        ("Measured", ctx.mode),
        ("Generated", ctx.generated),
    ]
    lines = [_title(ctx), "", md_table(["", ""], facts), "", "## Summary", "", headline(data), ""]
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
            with_profiles = verdict == "regressed" and bool(data.ctx.profiles)
            lines += [f"## {title} ({len(rows)})", "", _verdict_rows(_sorted(rows), data.ctx, with_profiles), ""]
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
            f"{d.machine} / {d.environment}",
            md_code(short_name(d.benchmark)),
            d.params or "—",
            f"{d.wall_verdict} {human_pct(d.wall_change_pct)}",
            f"{d.witness}: {d.witness_verdict} {human_pct(d.witness_change_pct)}",
            d.note,
        ]
        for d in data.disagreements.itertuples()
    ]
    table = md_table(["machine / env", "benchmark", "params", "wall", "witness", "reading"], body)
    return lines + ["Where they disagree:", "", table, ""]


def _noisy_section(data: ReportData) -> list[str]:
    lines = ["## Noisy benchmarks", ""]
    if data.noisy.empty:
        return lines + ["None flagged: no outlier rounds, bimodal samples or benchmarks too noisy to judge.", ""]
    body = [
        [f"{r.machine} / {r.environment}", md_code(short_name(r.benchmark)), r.params or "—", r.channel, r.anomaly,
         human_pct(r.mde_pct, signed=False), r.verdict]
        for r in data.noisy.itertuples()
    ]  # fmt: skip
    return lines + [
        "Measurements to read with care. An anomaly alone never makes a regression (only the "
        "interval rule above does); MDE is the smallest change this comparison could detect.",
        "",
        md_table(["machine / env", "benchmark", "params", "channel", "anomaly", "MDE", "verdict"], body),
        "",
    ]


def _profile_lines(rec: dict) -> list[str]:
    """The profile made at both commits: its top changed function and where the diff is."""
    prof = rec.get("profile")
    if not prof:
        return []
    if prof.get("reason"):
        return [f"No profile: {prof['reason']}", ""]
    return [f"Profiled at both commits: [{prof.get('top') or 'the differential profile'}]({prof['diff']})", ""]


def _recommendation_section(data: ReportData) -> list[str]:
    ctx, v = data.ctx, data.verdicts
    lines = ["## Recommendations", ""]
    if ctx.base is None:
        return lines + [FIRST_RUN_HINT, ""]
    regressed = _sorted(v[v["verdict"] == "regressed"]) if len(v) else v
    if regressed.empty:
        lines += ["Nothing regressed between these commits.", ""]
    for _, r in regressed.iterrows():
        rec = recommendations(r, ctx)
        label = f"{short_name(r['benchmark'])}" + (f" ({r['params']})" if r["params"] else "")
        lines += [
            f"### {label}: {human_pct(r['change_pct'])} {human_interval(r['ci_low_pct'], r['ci_high_pct'])}",
            "", "Bisect the range (asv builds and measures the commits in between):", "",
            "```sh", rec["asv_find"], "```", "", "Profile it at both commits and compare:", "",
            "```sh", rec["asv_profile_base"], rec["asv_profile_head"], "```", "",
            *_profile_lines(rec),
            f"Its history in the asv site: [{r['benchmark']}]({rec['graph_url']}) · [in the dashboard]({rec['dashboard_url']})", "",
        ]  # fmt: skip
    n_open = int((v["verdict"] == "inconclusive").sum()) if len(v) else 0
    if n_open:
        lines += [
            f"{n_open} inconclusive series (each rule above ends with what it would take): measure base and "
            "head interleaved within a time budget (deterministic channels once a side, then rounds of the open "
            "series only, each stopping once decided):",
            "", "```sh",
            f"python -m tools regressions --base {ctx.base.commit[:12]} --head {ctx.head.commit[:12]} --budget 10m",
            "```", "",
        ]  # fmt: skip
    return lines


FIRST_RUN_HINT = (
    "There is no earlier result on this machine to compare with: this is its first commit with results. "
    "Measure a few earlier commits to get a base and a history, e.g. "
    "`bash scripts/run_benchmarks.sh HEAD~5..HEAD` (or `asv run HEAD~5..HEAD`), then run this check again."
)


def _recommend(ctx: ReportContext):
    return lambda row, before, after: recommendations(row, ctx, base=before, head=after)


def render_markdown(data: ReportData) -> str:
    sections = (_header, _verdict_sections, _witness_section, _noisy_section, _recommendation_section)
    lines = [line for section in sections for line in section(data)]
    lines += history_markdown(data.history, _recommend(data.ctx))
    return "\n".join(lines)


# ---------------------------------------------------------------- JSON


def _json_results(data: ReportData) -> list[dict]:
    ctx, out = data.ctx, []
    for _, r in data.verdicts.iterrows():
        row = {**json_record(r), "mode": "pairwise", "base_commit": ctx.base.commit, "head_commit": ctx.head.commit}
        if r["verdict"] == "regressed":
            row["recommendations"] = recommendations(r, ctx)
        out.append(row)
    return out + history_results(data.history, _recommend(ctx))


def render_json(data: ReportData) -> dict:
    ctx = data.ctx
    h = data.history
    return {
        "generated": ctx.generated,
        "base": ctx.base.as_json() if ctx.base is not None else None,
        "head": ctx.head.as_json(),
        "machines": list(ctx.machines),
        "environments": list(ctx.environments),
        "mode": ctx.mode,
        "counts": data.counts,
        "counts_by_mode": {
            "pairwise": data.pairwise,
            "history": counted(h.changes or ()) if h is not None else {},
        },
        "rule": RULE_TEXT,
        "notes": list(ctx.notes),
        "results": _json_results(data),
        "disagreements": [json_record(d) for _, d in data.disagreements.iterrows()],
        "noisy": [json_record(r) for _, r in data.noisy.iterrows()],
        **history_extras(h),
    }


def regression_report(
    findings: Sequence[Finding], ctx: ReportContext, history: HistoryResult | None = None
) -> tuple[str, dict]:
    """(Markdown, JSON-able dict) of pairwise findings and what the history analysis found."""
    data = build_report(findings, ctx, history)
    return render_markdown(data), render_json(data)
