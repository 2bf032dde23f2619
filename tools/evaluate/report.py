"""The evaluation table as Markdown (for people and the README) and CSV (for tools)."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pandas as pd

from tools.evaluate.config import LOCATION_TOLERANCE, EvalConfig, prefix_grid
from tools.evaluate.corpus import NoiseCorpus
from tools.evaluate.daily import daily_table
from tools.evaluate.harness import (
    Outcome,
    history_series_table,
    history_table,
    instruction_table,
    pairwise_table,
    per_series_table,
    suite_table,
)
from tools.evaluate.metrics import FOUND_WITHIN, Rate, commits_to_detection, found_within, histories_with_alarm
from tools.evaluate.shifts import SHIFT_AT, SHIFT_COMMITS, SPREAD, STEP_AT, shift_table
from tools.humanize import human_value
from tools.io import atomic_write_text


def _cell(x) -> str:
    if isinstance(x, Rate):
        return x.fmt()
    if isinstance(x, float):
        if math.isinf(x):
            return "> 20" if x > 0 else "-∞"
        if math.isnan(x):
            return "–"
        return f"{x:.3g}" if abs(x) < 1e-3 else f"{x:.1f}" if abs(x) >= 10 else f"{x:.2f}"
    return str(x)


def markdown_table(df: pd.DataFrame) -> str:
    if df.empty:
        return "_(nothing evaluated)_\n"
    cols = list(df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in df.iterrows():
        lines.append("| " + " | ".join(_cell(row[c]).replace("|", "\\|") for c in cols) + " |")
    return "\n".join(lines) + "\n"


def corpus_section(corpus: NoiseCorpus) -> str:
    rows = pd.DataFrame(corpus.summary_rows())
    meta = corpus.meta
    lines = [
        f"- recorded: {meta.get('recorded_utc', '?')} at commit `{str(meta.get('commit', '?'))[:10]}`, "
        f"Python {meta.get('python', '?')}, {meta.get('cpus', '?')} CPUs, {meta.get('platform', '?')}",
        f"- how: `{meta.get('how', '?')}` ({meta.get('seconds', '?')} s)",
    ]
    if meta.get("note"):
        lines.append(f"- {meta['note']}")
    for channel, label in (
        ("wall", "wall time"),
        ("relative", "speed-normalised time (`track_*_relative`, the same asv runs as the wall-time series)"),
    ):
        g = rows[rows.channel == channel]
        if len(g):
            within = f"within-process CV median {g.cv_within_pct.median():.1f}%, " if channel == "wall" else ""
            lines.append(
                f"- {label}: {len(g)} series, {int(g.processes.min())}–{int(g.processes.max())} processes each; "
                f"between-process CV median {g.cv_between_pct.median():.1f}% "
                f"(range {g.cv_between_pct.min():.1f}–{g.cv_between_pct.max():.1f}%), "
                f"{within}max/min of process values median {g.max_over_min.median():.2f}"
            )
    ir = rows[rows.channel == "instructions"]
    if len(ir):
        lines.append(
            f"- instruction counts: {len(ir)} series, {int(ir.processes.min())}–{int(ir.processes.max())} processes each; "
            f"max/min − 1 between processes: median {100 * (ir.max_over_min.median() - 1):.2f}% "
            f"(range {100 * (ir.max_over_min.min() - 1):.3f}–{100 * (ir.max_over_min.max() - 1):.2f}%)"
        )
    return "\n".join(lines) + "\n"


PER_SERIES_HISTORIES = 5  # fewer histories per benchmark and scenario say nothing per benchmark


def history_series_section(out: Outcome, cfg: EvalConfig, n_bench: int) -> str:
    """The per-benchmark history table, when each benchmark got enough histories to mean something."""
    need = PER_SERIES_HISTORIES * max(1, n_bench)
    if cfg.history_trials < need:
        return (
            f"(Per-benchmark history table: with `--history-trials {need}` or more, i.e. at least "
            f"{PER_SERIES_HISTORIES} histories per benchmark and scenario.)"
        )
    return "\n\n".join(
        [
            f"Per benchmark (ours, no confirmation; {cfg.history_trials} histories per scenario taken in turn "
            f"over the benchmarks): histories with an A/A alarm, and steps found within {FOUND_WITHIN} commits.",
            markdown_table(history_series_table(out)),
        ]
    )


def daily_section(out: Outcome, cfg: EvalConfig) -> str:
    """Daily history with day effects (tools.evaluate.daily): pooled rounds vs sessions."""
    if out.daily is None or out.daily.empty:
        return "(Daily history with day effects: skipped, `--daily-trials 0`.)"
    sd = "measured day sd per channel" if cfg.day_sd is None else f"day sd {100 * cfg.day_sd:g}%"
    return "\n\n".join(
        [
            f"## Daily history with day effects: {cfg.daily_trials} histories per scenario, {sd}",
            f"One commit a day, {cfg.before} days before the change. Each day has its own machine: a day effect "
            "(log-normal, the day sd below, measured between two recorded sessions on two VMs) multiplies "
            f"everything measured that day — the commit's asv run ({cfg.commit_rounds} processes) and a session "
            f"interleaving it with the commit {cfg.anchor_lag} days back ({cfg.session_rounds} processes each). "
            "*ours, pooled* tests every round of each commit (history mode without sessions); *ours, sessions* "
            "judges steps only by within-session comparisons (`tools.detect.sessions`); asv and Otava see the daily "
            f"asv values. Found = a regression reported within ±{LOCATION_TOLERANCE} commits of the change.",
            markdown_table(daily_table(out.daily, cfg)),
        ]
    )


def shift_section(out: Outcome, cfg: EvalConfig) -> str:
    """Environment shifts (tools.evaluate.shifts): runner changes against real steps."""
    if out.shifts is None or out.shifts.empty:
        return "(Environment shifts: skipped; `--shift-trials N` runs them.)"
    return "\n\n".join(
        [
            f"## Environment shifts: {cfg.shift_trials} suite histories per scenario",
            f"Every series of the corpus over {SHIFT_COMMITS} commits ({cfg.commit_rounds} processes each); a runner "
            f"change at commit {SHIFT_AT} multiplies each timing series by its own factor (the shift ×e^N(0, {SPREAD:g}); "
            "speed-normalised: the same to the power 0.23, the measured ratio of the two channels' day-to-day sd; "
            f"instruction counts unmoved); a real +20% step of one workload at commit {STEP_AT}. The whole history "
            "analysis runs on each (`history_report.build_history`). *Blaming a commit at the shift*: a change point "
            "within ±1 commit of it reported as the commit's; *without the shift rule*: every change point there. "
            f"*Real step blamed*: a regression of that workload within ±{LOCATION_TOLERANCE} commits of its commit.",
            markdown_table(shift_table(out.shifts)),
        ]
    )


def single_run_section(out: Outcome, cfg: EvalConfig) -> str:
    """One run a side (stored asv continuous results): the calibrated rule against asv's."""
    from tools.evaluate import schedules

    if out.single_run is None or out.single_run.empty:
        return "(One run a side: skipped, `--schedule-trials 0`.)"
    suite = Rate.of(out.single_run_suite)
    return "\n\n".join(
        [
            f"## One run a side (stored `asv continuous` results): {cfg.schedule_trials} trials per benchmark and effect",
            f"Per trial {schedules.CALIBRATION_PROCESSES} other processes of the benchmark calibrate the noise of one "
            "run (as a kept daily session would: consecutive differences, `tools.detect.calibrate`), then one process "
            "for base and one for head. *ours, calibrated*: the single-run rule against that noise; *ours, channel "
            "default*: against the stated default (no calibration); asv's continuous rule on the same two processes' "
            "samples. Flagged = `regressed`.",
            markdown_table(schedules.single_run_table(out.single_run)),
            f"Whole-suite A/A checks (every series of the corpus at once, BH across them): {suite.fmt()} with any "
            "verdict of change.",
        ]
    )


def schedule_section(out: Outcome, cfg: EvalConfig) -> str:
    """The PR check and the daily session: old schedules against the new sequential ones."""
    from tools.evaluate import schedules

    if out.schedules is None or out.schedules.empty:
        return "(Schedules: skipped, `--schedule-trials 0`.)"
    plans = "; ".join(
        f"{check} ({schedules.BUDGETS[check] / 60:g} min): {n} rounds a side for "
        + ", ".join(f"{k} {v} of {schedules.MEASURED_COST.series[k]}" for k, v in worth.items())
        for check, (n, worth) in out.plans.items()
    )
    shares = "; ".join(
        f"{name}: {100 * schedules.unchanged_share(out.schedules, name):.0f}%"
        for name in out.schedules.schedule.unique()
    )
    return "\n\n".join(
        [
            f"## Schedules: the PR check and the daily session, old and new ({cfg.schedule_trials} trials per benchmark and effect)",
            "The same draws for every schedule (calibration as above). Old: 6 rounds a side, then 2 more at a time "
            "for the inconclusive up to 30, judged again each time at 99.5% (the PR workflow's 6 + 24); the daily "
            "session's 24 rounds. New: `tools.detect.sequential` with the rounds this suite's measured cost leaves "
            f"in the budget ({plans}; the other series once a side), a look after every round at its share of the "
            "error, stopping on a verdict or on futility. Suite minutes: expected, from the measured cost of each "
            "series and overhead of each asv run (`tools.evaluate.schedules.MEASURED_COST`, load 5) and the share of "
            "each channel still measured in each round.",
            markdown_table(schedules.schedule_table(out.schedules)),
            f"Share of the whole suite ending *unchanged* on A/A (deterministic channels exact): {shares}.",
        ]
    )


def render_markdown(out: Outcome, corpus: NoiseCorpus, cfg: EvalConfig, command: str) -> str:
    pw = pairwise_table(out)
    hist = history_table(out, cfg)
    per = per_series_table(out, corpus, cfg)
    if len(per):
        per = per.assign(median=[human_value(v, u) for u, v in zip(per.unit, per["median"])]).drop(columns="unit")
    n_bench = per.series.nunique() if len(per) else 0
    parts = [
        "# Regression detector evaluation",
        f"Regenerate: `{command}` (seed {cfg.seed}; {out.seconds:.0f} s).",
        "Rates are percentages with 95% Wilson intervals. Effects are injected multiplicatively into "
        "real same-commit noise; base and head (and every commit of a history) use disjoint processes.",
        "## Noise corpus",
        corpus_section(corpus),
        f"## Pairwise (PR) mode: {cfg.pairwise_trials} trials per benchmark per scenario, {n_bench} benchmarks",
        f"*flagged* = reported as a regression (ours: verdict `regressed`, from {cfg.rounds} processes per side "
        f"plus {cfg.rounds} more when the first verdict is `inconclusive`; asv: `asv continuous` would fail). "
        "Target: ≤ 1% A/A false alarms per benchmark per comparison.",
        markdown_table(pw),
        markdown_table(suite_table(out)),
        single_run_section(out, cfg),
        schedule_section(out, cfg),
        f"## History (daily) mode: {cfg.before} commits before the change, up to {cfg.after} after, "
        f"{cfg.commit_rounds} processes per commit, {cfg.history_trials} histories per scenario",
        f"A detection counts when a regression is reported within ±{LOCATION_TOLERANCE} commits of the true change, "
        f"using only the commits known k commits after it (k in {prefix_grid(cfg)}). "
        "*ours + confirm* re-runs the two boundary commits interleaved "
        f"({cfg.rounds} fresh processes each) and alerts only if the pairwise verdict is `regressed`.",
        markdown_table(hist),
        history_series_section(out, cfg, n_bench),
        daily_section(out, cfg),
        shift_section(out, cfg),
        "## Instruction channel (cachegrind counts, one run per side)",
        "Counts of the same commit from separate processes; effects injected as above. asv keeps no "
        "samples for `track_*` results, so its rule is the factor 1.1 alone.",
        markdown_table(instruction_table(out)),
        f"## Per benchmark (ours, pairwise, {cfg.rounds} rounds per side)",
        "MDE: smallest injected step with ≥ 90% recall (`> 20` = none of the steps); the analytic "
        "column is the two-sample normal yardstick for the measured between-process noise.",
        markdown_table(per),
    ]
    if out.notes:
        parts += ["## Notes", "\n".join(f"- {n}" for n in out.notes)]
    return "\n\n".join(p.strip("\n") for p in parts) + "\n"


def _rate_record(table: str, method: str, scenario: str, metric: str, rate: Rate, **extra) -> dict:
    lo, hi = rate.ci
    return dict(
        table=table,
        method=method,
        scenario=scenario,
        metric=metric,
        k=rate.k,
        n=rate.n,
        rate=rate.value,
        ci_low=lo,
        ci_high=hi,
        **extra,
    )


def _history_records(
    table: str, method: str, scenario: str, g: pd.DataFrame, within_all: int | None = None
) -> list[dict]:
    """An A/A group's false-alarm rate, or a change's share found within ``FOUND_WITHIN`` commits
    (and within ``within_all``, every commit after it)."""
    if g.kind.iloc[0] == "none":
        return [_rate_record(table, method, scenario, "false alarm", histories_with_alarm(g.false_alarms))]
    med, _, _ = commits_to_detection(list(g.first_k))
    recs = [
        _rate_record(
            table,
            method,
            scenario,
            f"found within {FOUND_WITHIN} commits",
            found_within(g.first_k),
            median_commits=med,
        )
    ]
    if within_all is not None:
        recs.append(
            _rate_record(
                table,
                method,
                scenario,
                f"found within {within_all} commits",
                Rate.of(g.first_k.notna()),
                median_commits=med,
            )
        )
    return recs


def _shift_records(df: pd.DataFrame) -> list[dict]:
    recs = []
    for (scenario, shift), g in df.groupby(["scenario", "shift_pct"], sort=False):
        name = f"{scenario} (+{shift:g}%)" if shift else scenario
        if g["shift_reported"].notna().any():
            recs.append(
                _rate_record("shifts", "ours", name, "shift reported", Rate.of(g["shift_reported"].astype(bool)))
            )
            recs.append(
                _rate_record("shifts", "ours", name, "blamed a commit at the shift", Rate.of(g["blamed_at_shift"] > 0))
            )
            recs.append(
                _rate_record(
                    "shifts",
                    "without the shift rule",
                    name,
                    "blamed a commit at the shift",
                    Rate.of(g["blamed_without_rule"] > 0),
                )
            )
        if g["step_found"].notna().any():
            recs.append(
                _rate_record(
                    "shifts", "ours", name, "real step blamed on its commit", Rate.of(g["step_found"].astype(bool))
                )
            )
        elsewhere = Rate.of(g["shift_elsewhere"].astype(bool))
        recs.append(_rate_record("shifts", "ours", name, "a shift reported elsewhere", elsewhere))
    return recs


def _schedule_records(out: Outcome) -> list[dict]:
    """One run a side and the schedules: flagged, unchanged and rounds per method/schedule and scenario."""
    recs = []
    if out.single_run is not None and not out.single_run.empty:
        for (channel, method, scenario), g in out.single_run.groupby(["channel", "method", "scenario"], sort=False):
            recs.append(
                _rate_record(
                    "one run a side", f"{method} ({channel})", scenario, "flagged", Rate.of(g.verdict == "regressed")
                )
            )
    if out.schedules is not None and not out.schedules.empty:
        for (sched, channel, scenario), g in out.schedules.groupby(["schedule", "channel", "scenario"], sort=False):
            name = f"{sched} ({channel})"
            extra = {"rounds_mean": float(g["rounds"].mean())}
            recs.append(
                _rate_record("schedules", name, scenario, "flagged", Rate.of(g.verdict == "regressed"), **extra)
            )
            recs.append(
                _rate_record("schedules", name, scenario, "unchanged", Rate.of(g.verdict == "unchanged"), **extra)
            )
    return recs


def long_csv(out: Outcome, corpus: NoiseCorpus, cfg: EvalConfig) -> str:
    """Every rate, one row each: table, method, scenario, metric, k, n, rate, ci_low, ci_high, ..."""
    recs = []
    for (method, scenario), g in out.pairwise.groupby(["method", "scenario"], sort=False):
        recs.append(
            _rate_record(
                "pairwise",
                method,
                scenario,
                "flagged",
                Rate.of(g.flagged),
                processes_per_side=float(g.processes_per_side.mean()),
            )
        )
    if out.suite_aa is not None and not out.suite_aa.empty:
        for method, g in out.suite_aa.groupby("method", sort=False):
            recs.append(_rate_record("suite A/A", method, "A/A (whole suite)", "any flag", Rate.of(g.any_flag)))
    if out.instructions is not None and not out.instructions.empty:
        for (method, scenario), g in out.instructions.groupby(["method", "scenario"], sort=False):
            recs.append(_rate_record("instructions", method, scenario, "flagged", Rate.of(g.flagged)))
    for (method, scenario), g in out.history.groupby(["method", "scenario"], sort=False):
        recs += _history_records("history", method, scenario, g, within_all=cfg.after)
    if out.daily is not None and not out.daily.empty:
        for (channel, method, scenario), g in out.daily.groupby(["channel", "method", "scenario"], sort=False):
            recs += _history_records(
                "daily history", f"{method} ({channel}, day sd {100 * g.day_sd.iloc[0]:g}%)", scenario, g
            )
    if out.shifts is not None and not out.shifts.empty:
        recs += _shift_records(out.shifts)
    recs += _schedule_records(out)
    per = per_series_table(out, corpus, cfg)
    for _, row in per.iterrows():
        for col, val in row.items():
            if col != "series":
                recs.append(
                    dict(
                        table="per-benchmark",
                        method=f"ours, {row['channel']}",
                        scenario=row["series"],
                        metric=col,
                        rate=val if isinstance(val, (int, float)) else "",
                        text="" if isinstance(val, (int, float)) else str(val),
                    )
                )
    df = pd.DataFrame.from_records(recs)
    df[["k", "n"]] = df[["k", "n"]].astype("Int64")
    buf = io.StringIO()
    df.to_csv(buf, index=False)
    return buf.getvalue()


def write_outputs(
    out: Outcome, corpus: NoiseCorpus, cfg: EvalConfig, command: str, out_dir: Path, stamp: str
) -> tuple[Path, Path, str]:
    md = render_markdown(out, corpus, cfg, command)
    csv = long_csv(out, corpus, cfg)
    md_path = atomic_write_text(Path(out_dir) / f"evaluation_{stamp}.md", md)
    csv_path = atomic_write_text(Path(out_dir) / f"evaluation_{stamp}.csv", csv)
    return md_path, csv_path, md
