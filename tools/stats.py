"""Descriptive statistics of the tidy table (not detection: that is ``tools.detect``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tools.schema import twin_of, workload_of


def sample_stats(samples: pd.Series) -> pd.DataFrame:
    """mean, std_dev (n-1), min, max and n of each row's raw samples; NaN where none.

    Vectorised over the whole column: the samples are flattened once and reduced per
    row with ``ufunc.reduceat``, so 300,000 rows take well under a second.
    """
    index = samples.index
    lengths = np.fromiter((len(s) if s is not None else 0 for s in samples), dtype=np.int64, count=len(samples))
    out = pd.DataFrame(
        {"mean": np.nan, "std_dev": np.nan, "min": np.nan, "max": np.nan, "n_samples": lengths}, index=index
    )
    has = lengths > 0
    if not has.any():
        return out
    flat = np.fromiter((x for s in samples[has] for x in s), dtype=float, count=int(lengths[has].sum()))
    n = lengths[has]
    starts = np.concatenate([[0], np.cumsum(n)[:-1]])
    sums = np.add.reduceat(flat, starts)
    mean = sums / n
    dev = flat - np.repeat(mean, n)
    ss = np.add.reduceat(dev * dev, starts)
    with np.errstate(invalid="ignore", divide="ignore"):
        std = np.where(n > 1, np.sqrt(ss / np.maximum(n - 1, 1)), np.nan)
    out.loc[has, "mean"] = mean
    out.loc[has, "std_dev"] = std
    out.loc[has, "min"] = np.minimum.reduceat(flat, starts)
    out.loc[has, "max"] = np.maximum.reduceat(flat, starts)
    return out


def value_stats(table: pd.DataFrame) -> pd.DataFrame:
    """mean, std_dev (n-1), min, max and n of each row, from the best source it has:

    1. its raw samples (``sample_stats``);
    2. else the statistics asv < 0.5 recorded with the result (format 1: ``recorded_*``), the
       standard deviation converted from asv's divisor n to n-1 with n = ``repeat``;
    3. else, when the value is a single measurement -- one sample (``repeat`` 1), or a
       benchmark asv measures once (no statistics, not a time benchmark: track, peakmem) --
       the value itself: mean = min = max = value, n = 1, no std_dev;
    4. else NaN: asv took several samples and kept neither them nor their mean (asv >= 0.5
       without ``--record-samples``); the median alone says nothing of the mean.
    Failed and skipped rows have no value, hence no statistics.
    """
    out = sample_stats(table["samples"])
    has_value = ~table["failed"] & ~table["skipped"] & table["value"].notna()
    left = out["n_samples"].eq(0) & has_value
    repeat = table["repeat"].astype(float)
    recorded = left & table.get("recorded_mean", pd.Series(np.nan, index=table.index)).notna()
    if recorded.any():
        n = repeat[recorded]
        with np.errstate(invalid="ignore", divide="ignore"):
            std = table.loc[recorded, "recorded_std"] * np.sqrt(n / (n - 1))
        out.loc[recorded, "mean"] = table.loc[recorded, "recorded_mean"]
        out.loc[recorded, "std_dev"] = std.where(n > 1)
        out.loc[recorded, "min"] = table.loc[recorded, "recorded_min"]
        out.loc[recorded, "max"] = table.loc[recorded, "recorded_max"]
        out.loc[recorded, "n_samples"] = n.fillna(0).astype(np.int64)
    single = left & ~recorded & (repeat.eq(1) | (repeat.isna() & table["type"].astype(str).ne("time")))
    for col in ("mean", "min", "max"):
        out.loc[single, col] = table.loc[single, "value"]
    out.loc[single, "n_samples"] = 1
    return out


def status_column(table: pd.DataFrame) -> pd.Series:
    """ok / failed / skipped / stale per row; the first that applies, in that order of
    failed, skipped, stale (the performance report's order)."""
    status = np.select([table["failed"], table["skipped"], table["stale"]], ["failed", "skipped", "stale"], "ok")
    return pd.Series(status, index=table.index, dtype=object)


def throughput_sibling(benchmark: str) -> str | None:
    """``mod.Cls.track_x_throughput`` -> ``mod.Cls.time_x`` (the harness pairs them)."""
    workload = workload_of(benchmark)
    return twin_of(benchmark, "time") if workload and workload[2] == "throughput" else None


def throughput_column(table: pd.DataFrame) -> pd.Series:
    """ops/s per row: the value of rows in ops/s, and for a ``time_x`` row the value of its
    ``track_x_throughput`` sibling at the same commit, params, machine, environment, round."""
    out = pd.Series(np.nan, index=table.index, dtype=float)
    rate = table["unit"].astype(str).str.strip().str.lower().isin(["ops/s", "op/s", "ops per second"])
    out[rate & ~table["failed"]] = table.loc[rate & ~table["failed"], "value"]
    siblings = table.loc[rate, "benchmark"].astype(str).map(throughput_sibling)
    siblings = siblings.dropna()
    if siblings.empty:
        return out
    key = ["machine", "environment", "commit", "round", "params"]
    src = (
        table.loc[siblings.index, key]
        .astype(str)
        .assign(benchmark=siblings.values, rate=table.loc[siblings.index, "value"].values)
    )
    dst = table[key].astype(str).assign(benchmark=table["benchmark"].astype(str).values, _row=table.index)
    merged = dst.merge(src, on=[*key, "benchmark"], how="inner")
    out.loc[merged["_row"].values] = merged["rate"].values
    return out


def per_commit_median(table: pd.DataFrame) -> pd.DataFrame:
    """One value per series and commit: the median over rounds of asv's value (and of its
    99% interval bounds), with the commit date, for trend charts and reports."""
    ok = table[~table["failed"] & ~table["skipped"] & table["value"].notna()]
    keys = ["machine", "environment", "component", "benchmark", "params", "type", "unit", "commit"]
    g = ok.groupby(keys, observed=True, sort=False)
    return (
        g.agg(
            commit_date=("commit_date", "min"),
            value=("value", "median"),
            ci_low=("ci_low", "median"),
            ci_high=("ci_high", "median"),
        )
        .reset_index()
        .sort_values("commit_date", kind="stable")
    )
