"""The performance report (Markdown): pure function of the tidy table at one commit."""

from __future__ import annotations

import pandas as pd

from tools.humanize import human_value
from tools.render import md_code, md_table
from tools.stats import sample_stats, throughput_column


def _status(row) -> str:
    if row.failed:
        return "failed"
    if row.skipped:
        return "skipped"
    return "stale" if row.stale else "ok"


def _machine_line(name: str, info: dict) -> str:
    bits = [info.get(k) for k in ("os", "arch", "cpu", "num_cpu", "ram") if info.get(k)]
    return f"{name} ({', '.join(str(b) for b in bits)})" if bits else name


def summary_section(rows: pd.DataFrame, machines: dict[str, dict], generated: str) -> list[str]:
    commits = rows[["commit", "commit_date"]].drop_duplicates()
    lines = ["## Summary", ""]
    facts = [
        ("Generated", generated),
        (
            "Machine(s)",
            "; ".join(_machine_line(m, machines.get(m, {})) for m in sorted(rows["machine"].astype(str).unique())),
        ),
        ("Environment(s)", ", ".join(sorted(rows["environment"].astype(str).unique()))),
        (
            "Commit(s)",
            ", ".join(
                f"{md_code(str(c)[:12])} ({d:%Y-%m-%d %H:%M} UTC)"
                for c, d in zip(commits["commit"].astype(str), commits["commit_date"])
            ),
        ),
        (
            "Results",
            f"{int((~rows['failed'] & ~rows['skipped']).sum())} ok, {int(rows['failed'].sum())} failed, "
            f"{int(rows['skipped'].sum())} skipped, {int(rows['stale'].sum())} stale (older benchmark code)",
        ),
    ]
    lines.append(md_table(["", ""], facts))
    counts = rows.assign(type=rows["type"].astype(str), component=rows["component"].astype(str)).pivot_table(
        index="component", columns="type", values="value", aggfunc="size", fill_value=0
    )
    counts["total"] = counts.sum(axis=1)
    lines += [
        "",
        "Results by component and type:",
        "",
        md_table(
            ["component", *counts.columns],
            [[c, *map(int, r)] for c, r in counts.iterrows()],
            [False] + [True] * len(counts.columns),
        ),
    ]
    return lines


def component_table(rows: pd.DataFrame) -> str:
    stats = sample_stats(rows["samples"])
    tput = throughput_column(rows)
    multi = rows["machine"].nunique() > 1 or rows["environment"].nunique() > 1 or rows["commit"].nunique() > 1
    headers = [
        "benchmark",
        "params",
        "type",
        "median",
        "mean",
        "std dev",
        "min",
        "max",
        "throughput",
        "99% CI",
        "n",
        "status",
    ]
    if multi:
        headers = ["machine / env / commit"] + headers
    body = []
    order = rows.sort_values(["benchmark", "params"], kind="stable").index
    for i in order:
        r = rows.loc[i]
        unit = str(r["unit"])
        short = ".".join(str(r["benchmark"]).split(".")[1:]) or str(r["benchmark"])
        ci = (
            f"{human_value(r['ci_low'], unit)} – {human_value(r['ci_high'], unit)}"
            if pd.notna(r["ci_low"]) and pd.notna(r["ci_high"])
            else "—"
        )
        n = int(stats.at[i, "n_samples"])
        cells = [
            md_code(short),
            str(r["params"]) or "—",
            str(r["type"]),
            human_value(r["value"], unit) if not (r["failed"] or r["skipped"]) else "—",
            human_value(stats.at[i, "mean"], unit),
            human_value(stats.at[i, "std_dev"], unit),
            human_value(stats.at[i, "min"], unit),
            human_value(stats.at[i, "max"], unit),
            human_value(tput.at[i], "ops/s") if pd.notna(tput.at[i]) else "—",
            ci,
            str(n) if n else "—",
            _status(r),
        ]
        if multi:
            cells = [f"{r['machine']} / {r['environment']} / {str(r['commit'])[:8]}"] + cells
        body.append(cells)
    numeric = [False, False, False] + [True] * 6 + [False, True, False]
    return md_table(headers, body, ([False] if multi else []) + numeric)


def _charts_md(alt: str, refs: str | list[tuple[str, str]]) -> list[str]:
    """One chart (a relative PNG path), or a chart's pages ((path, caption) pairs), as Markdown."""
    pages = [(refs, "")] if isinstance(refs, str) else refs
    out = []
    for i, (path, caption) in enumerate(pages, start=1):
        out += [f"![{alt}{f', page {i}' if i > 1 else ''}]({path})", ""] + ([caption, ""] if caption else [])
    return out


def performance_report_md(
    rows: pd.DataFrame, machines: dict[str, dict], generated: str, chart_refs: dict[str, str | list[tuple[str, str]]]
) -> str:
    """``rows``: the tidy rows of the reported commit(s); ``chart_refs``: {component or
    'summary': relative PNG path, or its pages as (path, caption) pairs} to embed."""
    head = rows.sort_values("commit_date").iloc[-1]
    lines = [f"# Performance report — {str(head['commit'])[:12]}", ""]
    lines += summary_section(rows, machines, generated)
    if "summary" in chart_refs:
        lines += ["", "## Trend", "", *_charts_md("relative cost per component", chart_refs["summary"])]
    lines += [
        "",
        "Values are asv's results: the median of the samples for time benchmarks; mean, std dev, min "
        "and max come from the raw samples (— where asv kept none); the 99% CI is asv's interval of "
        "the median. Charts show each benchmark's median per commit over the whole history.",
        "",
    ]
    for component, part in rows.groupby(rows["component"].astype(str), sort=True):
        lines += [f"## {component}", ""]
        if component in chart_refs:
            lines += _charts_md(f"{component} trend", chart_refs[component])
        lines += [component_table(part), ""]
    return "\n".join(lines)
