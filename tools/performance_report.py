"""The performance report (Markdown): pure function of the tidy table at one commit."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from tools.detect.finding import Finding
from tools.humanize import human_value
from tools.render import md_code, md_table, short_name
from tools.schema import RESOURCE_METRICS, better, resource_metric_of
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


def _row_cells(r, stats_row, tput) -> list[str]:
    unit = str(r["unit"])
    ci = (
        f"{human_value(r['ci_low'], unit)} – {human_value(r['ci_high'], unit)}"
        if pd.notna(r["ci_low"]) and pd.notna(r["ci_high"])
        else "—"
    )
    n = int(stats_row["n_samples"])
    return [
        md_code(short_name(r["benchmark"])),
        str(r["params"]) or "—",
        str(r["type"]),
        better(str(r["type"]), unit),
        human_value(r["value"], unit) if not (r["failed"] or r["skipped"]) else "—",
        human_value(stats_row["mean"], unit),
        human_value(stats_row["std_dev"], unit),
        human_value(stats_row["min"], unit),
        human_value(stats_row["max"], unit),
        human_value(tput, "ops/s") if pd.notna(tput) else "—",
        ci,
        str(n) if n else "—",
        _status(r),
    ]


def component_table(rows: pd.DataFrame) -> str:
    """One row per result: machine and environment always (results of two never mix), the
    commit too when several are reported."""
    stats = sample_stats(rows["samples"])
    tput = throughput_column(rows)
    commits = rows["commit"].nunique() > 1
    headers = ["machine / env" + (" / commit" if commits else ""), "benchmark", "params", "type", "better", "median"]
    headers += ["mean"]
    headers += ["std dev", "min", "max", "throughput", "99% CI", "n", "status"]
    body = []
    for i in rows.sort_values(["machine", "environment", "benchmark", "params"], kind="stable").index:
        r = rows.loc[i]
        where = f"{r['machine']} / {r['environment']}" + (f" / {str(r['commit'])[:8]}" if commits else "")
        body.append([where, *_row_cells(r, stats.loc[i], tput.at[i])])
    numeric = [False, False, False, False, False] + [True] * 6 + [False, True, False]
    return md_table(headers, body, numeric)


_RESOURCE_HEADERS = {
    "cpu_user": "CPU user",
    "cpu_system": "CPU system",
    "peak_rss": "peak RSS",
    "io_read_bytes": "read",
    "io_write_bytes": "written",
    "ctx_switches_voluntary": "waits",
    "ctx_switches_involuntary": "preemptions",
}


def resource_table(rows: pd.DataFrame) -> str | None:
    """The resource channel of one component as one line per workload (per machine / env and
    commit): per operation CPU seconds, bytes read and written, context switches (waits:
    voluntary, preemptions: involuntary), and the peak RSS above the start. None without it."""
    metric = pd.Series([resource_metric_of(b) for b in rows["benchmark"].astype(str)], index=rows.index, dtype=object)
    part = rows.assign(metric=metric)[metric.notna() & ~rows["failed"] & ~rows["skipped"]]
    if part.empty:
        return None
    workload = part["params"].astype(str).str.removeprefix("workload=").str.strip("'\"")
    part = part.assign(where=part["machine"].astype(str) + " / " + part["environment"].astype(str), params=workload)
    if part["commit"].nunique() > 1:
        part["where"] += " / " + part["commit"].astype(str).str[:8]
    keys = ["where", "params"]
    cells = {
        (w, p, m): human_value(v, u)
        for w, p, m, v, u in part[[*keys, "metric", "value", "unit"]].itertuples(index=False)
    }
    body = [
        [w, p, *(cells.get((w, p, m), "—") for m in RESOURCE_METRICS)]
        for w, p in sorted(set(map(tuple, part[keys].astype(str).values)))
    ]
    headers = ["machine / env", "workload", *(_RESOURCE_HEADERS[m] for m in RESOURCE_METRICS)]
    return md_table(headers, body, [False, False] + [True] * len(RESOURCE_METRICS))


def anomaly_section(anomalies: Sequence[Finding], commits: set[str]) -> list[str]:
    """Outlier runs and bimodal rounds at the reported commits, and how many series are too noisy
    for a 5% step (``tools.detect.anomalies``)."""
    events = [a for a in anomalies if a.evidence.anomaly != "too noisy" and str(a.evidence.commit_after) in commits]
    noisy = [a for a in anomalies if a.evidence.anomaly == "too noisy"]
    if not events and not noisy:
        return []
    lines = ["## Anomalies", "", "Measurements to read with care (the regression report judges changes).", ""]
    if events:
        body = [[f"{a.machine} / {a.environment}", md_code(short_name(a.benchmark)), a.params or "—",
                 a.evidence.anomaly, a.rule] for a in events]  # fmt: skip
        lines += [md_table(["machine / env", "benchmark", "params", "kind", "detail"], body), ""]
    if noisy:
        worst = sorted(noisy, key=lambda a: -a.evidence.mde_pct)[:5]
        named = ", ".join(
            f"`{short_name(a.benchmark)}`{f' ({a.params})' if a.params else ''} (MDE {a.evidence.mde_pct:.0f}%)"
            for a in worst
        )
        lines += [
            f"{len(noisy)} series are too noisy over their history to show a 5% step within 5 commits; the noisiest: {named}.",
            "",
        ]
    return lines


def _charts_md(alt: str, refs: str | list[tuple[str, str]]) -> list[str]:
    """One chart (a relative PNG path), or a chart's pages ((path, caption) pairs), as Markdown."""
    pages = [(refs, "")] if isinstance(refs, str) else refs
    out = []
    for i, (path, caption) in enumerate(pages, start=1):
        out += [f"![{alt}{f', page {i}' if i > 1 else ''}]({path})", ""] + ([caption, ""] if caption else [])
    return out


def performance_report_md(
    rows: pd.DataFrame,
    machines: dict[str, dict],
    generated: str,
    chart_refs: dict[str, str | list[tuple[str, str]]],
    anomalies: Sequence[Finding] = (),
    configurations: Sequence[str] = (),
) -> str:
    """``rows``: the tidy rows of the reported commit(s); ``chart_refs``: {component or
    'summary': relative PNG path, or its pages as (path, caption) pairs} to embed; ``anomalies``:
    the history's (``anomaly_suite``); ``configurations``: the Markdown lines of the section
    comparing the configurations of the newest commit (none when it has one configuration)."""
    head = rows.sort_values("commit_date").iloc[-1]
    lines = [f"# Performance report — {str(head['commit'])[:12]}", ""]
    lines += summary_section(rows, machines, generated)
    if configurations:
        lines += ["", *configurations]
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
        resources = resource_table(part)
        if resources is not None:
            lines += ["Resources per operation (the resource channel; peak RSS is above the RSS before the calls):", ""]
            lines += [resources, ""]
        lines += [component_table(part), ""]
    lines += anomaly_section(anomalies, set(rows["commit"].astype(str)))
    return "\n".join(lines)
