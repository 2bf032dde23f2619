"""``python -m tools export``: the tracking CSV (one row per benchmark x params x commit x
machine x environment [x round])."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tools.config import add_common_arguments, load_table, settings_from_args, utc_stamp
from tools.errors import ToolError
from tools.io import atomic_write_with
from tools.revisions import newest_commit, resolve_revision
from tools.schema import better
from tools.stats import status_column, throughput_column, value_stats

NAME = "export"
HELP = "write metrics/performance/benchmark_results_<UTC timestamp>.csv from the asv results"

# Column -> meaning (docs/tools.md documents these).
CSV_COLUMNS: dict[str, str] = {
    "timestamp": "when asv ran the benchmark (UTC, ISO 8601)",
    "commit": "full commit hash",
    "commit_date": "commit date (UTC, ISO 8601)",
    "machine": "asv machine name",
    "environment": "asv environment name",
    "component": "benchmark module without _benchmarks (router, model_registry, ...)",
    "benchmark": "full asv benchmark name",
    "params": "parameter combination, e.g. n_models=100, strategy='cost' (empty when none)",
    "type": "asv type: time, track, peakmem",
    "unit": "unit of median/mean/std_dev/min/max/ci_*: seconds, bytes, ops/s, instructions, ...",
    "status": "ok, failed, skipped (the benchmark skipped itself) or stale (older benchmark code; only with --include-stale)",
    "median": "asv's result (the median of the samples for time benchmarks); empty when failed or skipped",
    "mean": "mean of the measurements: raw samples, else what asv < 0.5 recorded, else the one value; "
    "empty only when asv took several samples and kept none",
    "std_dev": "standard deviation (n-1) of the measurements; empty with fewer than 2",
    "min": "smallest measurement (as mean)",
    "max": "largest measurement (as mean)",
    "throughput": "ops/s: the value of ops/s benchmarks, and for time_x the value of its track_x_throughput sibling; empty otherwise",
    "ci_low": "lower end of asv's 99% confidence interval of the median; empty when asv gave none",
    "ci_high": "upper end of asv's 99% confidence interval of the median",
    "samples": "number of measurements behind mean/std_dev/min/max (empty when they are empty)",
    "better": "lower or higher: which way the value improves (a metric's declared direction, else its unit)",
}


def add_arguments(parser) -> None:
    add_common_arguments(parser)
    sel = parser.add_mutually_exclusive_group()
    which = "commit(s) to export (hash, prefix, branch, tag); repeatable; default: the newest with results"
    sel.add_argument("--commit", metavar="REV", action="append", default=None, help=which)
    sel.add_argument("--all", action="store_true", help="export every commit")
    where = "CSV path (default: <output-dir>/benchmark_results_<UTC YYYY-MM-DD_HH-MM-SS>.csv)"
    parser.add_argument("--output", metavar="PATH", default=None, help=where)
    stale = "keep results recorded with older benchmark code (status stale); left out by default, as asv does"
    parser.add_argument("--include-stale", action="store_true", help=stale)


def _iso(ts: pd.Series) -> pd.Series:
    # format each distinct time once (a commit's rows share it): strftime is slow per row
    codes, uniques = pd.factorize(ts)
    text = pd.Series(uniques).dt.strftime("%Y-%m-%dT%H:%M:%SZ").fillna("").to_numpy(dtype=object)
    return pd.Series(np.where(codes >= 0, text[np.maximum(codes, 0)] if len(text) else "", ""), index=ts.index)


def export_frame(table: pd.DataFrame) -> pd.DataFrame:
    """The tidy table -> the CSV's columns (pure)."""
    stats = value_stats(table)
    n = stats["n_samples"].astype("Int64").where(stats["n_samples"] > 0, pd.NA)
    out = pd.DataFrame(
        {
            "timestamp": _iso(table["started_at"]),
            "commit": table["commit"].astype(str),
            "commit_date": _iso(table["commit_date"]),
            "machine": table["machine"].astype(str),
            "environment": table["environment"].astype(str),
            "component": table["component"].astype(str),
            "benchmark": table["benchmark"].astype(str),
            "params": table["params"].astype(str),
            "type": table["type"].astype(str),
            "unit": table["unit"].astype(str),
            "status": status_column(table),
            "median": table["value"].where(~table["failed"] & ~table["skipped"]),
            "mean": stats["mean"],
            "std_dev": stats["std_dev"],
            "min": stats["min"],
            "max": stats["max"],
            "throughput": throughput_column(table),
            "ci_low": table["ci_low"],
            "ci_high": table["ci_high"],
            "samples": n,
            "better": better_column(table),
        }
    )
    # oldest commit first; within a commit, the order asv wrote (sorting strings is slow)
    order = np.argsort(table["commit_date"].to_numpy(), kind="stable")
    return out.iloc[order][list(CSV_COLUMNS)].reset_index(drop=True)


def better_column(table: pd.DataFrame) -> pd.Series:
    """'lower' / 'higher' per row (``tools.schema.better``), computed once per (type, unit)."""
    pairs = table[["type", "unit"]].astype(str)
    words = {key: better(*key) for key in set(pairs.itertuples(index=False, name=None))}
    return pd.Series([words[key] for key in pairs.itertuples(index=False, name=None)], index=table.index, dtype=object)


def select_commits(table: pd.DataFrame, revs: list[str] | None, everything: bool, repo: Path | None) -> pd.DataFrame:
    if everything:
        return table
    commits = [resolve_revision(r, table, repo) for r in revs] if revs else [newest_commit(table)]
    return table[table["commit"].astype(str).isin(commits)]


def without_stale(chosen: pd.DataFrame) -> pd.DataFrame:
    """Results of the current benchmark code only, as asv shows them; an error when none is left."""
    fresh = chosen[~chosen["stale"]]
    if fresh.empty:
        raise ToolError(
            "nothing to export: every result of the selected commit(s) was recorded with older benchmark "
            "code (stale); --include-stale keeps them"
        )
    return fresh


def run(args) -> int:
    settings = settings_from_args(args)
    table = load_table(settings)
    chosen = select_commits(table, args.commit, args.all, settings.repo)
    if chosen.empty:
        raise ToolError("nothing to export: no results for the selected commit(s)")
    kept = chosen if args.include_stale else without_stale(chosen)
    frame = export_frame(kept)
    path = Path(args.output) if args.output else settings.output_dir / f"benchmark_results_{utc_stamp()}.csv"
    atomic_write_with(path, lambda tmp: frame.to_csv(tmp, index=False, na_rep=""))
    commits = frame["commit"].nunique()
    left_out = len(chosen) - len(kept)
    note = f"; {left_out} stale result(s) left out, --include-stale keeps them" if left_out else ""
    print(f"wrote {path} ({len(frame)} rows, {commits} commit(s){note})")
    return 0
