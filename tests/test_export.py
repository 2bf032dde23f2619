"""The tracking CSV: exact columns, statistics from raw samples (never invented), throughput,
commit selection, the file name."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _tools_testkit import DATA, RECORDED_COMMITS, write_results

from tools.__main__ import main
from tools.commands.export import CSV_COLUMNS, export_frame
from tools.loader import load_results
from tools.stats import sample_stats, throughput_column

V1 = Path(__file__).parent / "data" / "asv_results_v1"

EXPECTED = [
    "timestamp",
    "commit",
    "commit_date",
    "machine",
    "environment",
    "component",
    "benchmark",
    "params",
    "type",
    "unit",
    "status",
    "median",
    "mean",
    "std_dev",
    "min",
    "max",
    "throughput",
    "ci_low",
    "ci_high",
    "samples",
    "better",
]


@pytest.fixture(scope="module")
def table():
    return load_results(DATA)


@pytest.fixture(scope="module")
def v1_export():
    table = load_results(V1, warn=lambda m: None)
    return table, export_frame(table)


def test_columns_are_exactly_the_documented_ones(table):
    assert list(CSV_COLUMNS) == EXPECTED
    assert list(export_frame(table).columns) == EXPECTED


def test_statistics_come_from_the_samples(table):
    frame = export_frame(table[table["commit"] == RECORDED_COMMITS[-1]])
    row = frame[(frame["benchmark"] == "toy_benchmarks.Work.time_work") & (frame["params"] == "n=200, kind='a'")].iloc[
        0
    ]
    src = table[
        (table["commit"] == RECORDED_COMMITS[-1])
        & (table["benchmark"] == "toy_benchmarks.Work.time_work")
        & (table["params"] == "n=200, kind='a'")
    ].iloc[0]
    s = np.array(src["samples"])
    assert row["median"] == src["value"]
    assert row["mean"] == pytest.approx(s.mean())
    assert row["std_dev"] == pytest.approx(s.std(ddof=1))
    assert row["min"] == s.min() and row["max"] == s.max()
    assert row["samples"] == len(s)
    assert row["ci_low"] == src["ci_low"] and row["ci_high"] == src["ci_high"]


def test_a_single_value_is_its_own_mean(table):
    frame = export_frame(table)
    mem = frame[frame["benchmark"] == "toy_benchmarks.peakmem_list"]  # asv measures peak memory once
    assert mem["median"].notna().all()
    assert (mem["mean"] == mem["median"]).all() and (mem["min"] == mem["median"]).all()
    assert (mem["max"] == mem["median"]).all() and (mem["samples"] == 1).all()
    assert mem[["std_dev", "throughput"]].isna().all().all()
    failed = frame[frame["benchmark"] == "toy_benchmarks.time_fails"]
    assert failed[["median", "mean", "std_dev", "min", "max", "samples"]].isna().all().all()
    assert (failed["status"] == "failed").all()


def test_several_samples_not_kept_give_no_mean(table):
    """A time result of several samples whose samples asv did not keep: its median is no mean."""
    timed = table[(table["benchmark"] == "toy_benchmarks.time_plain")].copy()
    timed["samples"] = None
    frame = export_frame(timed)
    assert frame["median"].notna().all() and frame[["mean", "std_dev", "min", "max", "samples"]].isna().all().all()
    one = timed.assign(repeat=pd.array([1] * len(timed), dtype="Int64"))  # asv --quick: one sample
    assert (export_frame(one)["mean"] == export_frame(one)["median"]).all()


def test_status_of_every_row(table):
    frame = export_frame(table.assign(stale=table["benchmark"] == "toy_benchmarks.track_rate"))
    by = frame.groupby("benchmark")["status"].agg(set)
    assert by["toy_benchmarks.time_fails"] == {"failed"}
    assert by["toy_benchmarks.track_rate"] == {"stale"}
    assert by["toy_benchmarks.Work.time_work"] == {"ok", "skipped"}
    assert by["toy_benchmarks.time_plain"] == {"ok"}


def test_recorded_statistics_of_format_1_fill_the_row(v1_export):
    table, frame = v1_export
    rows = table[table["recorded_mean"].notna() & table["samples"].isna()]
    out = frame.set_index(["commit", "environment", "benchmark", "params"])
    for r in rows.head(40).itertuples():
        got = out.loc[(str(r.commit), str(r.environment), str(r.benchmark), r.params)]
        n = int(r.repeat)
        assert got["mean"] == r.recorded_mean and got["min"] == r.recorded_min and got["max"] == r.recorded_max
        assert got["std_dev"] == pytest.approx(r.recorded_std * np.sqrt(n / (n - 1)))  # divisor n -> n-1
        assert got["samples"] == n


def test_sample_stats_edge_cases():
    s = pd.Series([(1.0, 2.0, 3.0), None, (5.0,), ()], dtype=object)
    st = sample_stats(s)
    assert st.loc[0, "mean"] == 2.0 and st.loc[0, "std_dev"] == pytest.approx(1.0)
    assert np.isnan(st.loc[1, "mean"]) and st.loc[1, "n_samples"] == 0
    assert st.loc[2, "mean"] == 5.0 and np.isnan(st.loc[2, "std_dev"])  # one sample: no spread
    assert np.isnan(st.loc[3, "min"])


def test_throughput_from_rate_rows_and_siblings(tmp_path):
    benches = {
        "r_benchmarks.Lookup.time_lookup": {
            "type": "time",
            "unit": "seconds",
            "version": "1",
            "params": [["10", "100"]],
            "param_names": ["n"],
        },
        "r_benchmarks.Lookup.track_lookup_throughput": {
            "type": "track",
            "unit": "ops/s",
            "version": "1",
            "params": [["10", "100"]],
            "param_names": ["n"],
        },
        "r_benchmarks.time_other": {"type": "time", "unit": "seconds", "version": "1", "params": [], "param_names": []},
    }
    write_results(
        tmp_path,
        benches,
        [
            {
                "commit": "c" * 40,
                "date": 1_700_000_000_000,
                "values": {
                    "r_benchmarks.Lookup.time_lookup": [1e-6, 1e-5],
                    "r_benchmarks.Lookup.track_lookup_throughput": [9.5e5, 9.6e4],
                    "r_benchmarks.time_other": [2.0],
                },
            }
        ],
    )
    t = load_results(tmp_path)
    tp = throughput_column(t)
    by = dict(zip(zip(t["benchmark"].astype(str), t["params"]), tp))
    assert by[("r_benchmarks.Lookup.time_lookup", "n=10")] == 9.5e5
    assert by[("r_benchmarks.Lookup.time_lookup", "n=100")] == 9.6e4
    assert by[("r_benchmarks.Lookup.track_lookup_throughput", "n=100")] == 9.6e4
    assert np.isnan(by[("r_benchmarks.time_other", "")])


def test_cli_default_is_the_newest_commit(tmp_path, capsys):
    assert main(["export", "--results-dir", str(DATA), "--output-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    files = list(tmp_path.glob("benchmark_results_*.csv"))
    assert len(files) == 1
    assert re.fullmatch(r"benchmark_results_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d\.csv", files[0].name)
    assert str(files[0]) in out
    csv = pd.read_csv(files[0], keep_default_na=False)
    assert list(csv.columns) == EXPECTED
    assert set(csv["commit"]) == {RECORDED_COMMITS[-1]}
    assert len(csv) == 8


def test_cli_commit_selection_and_all(tmp_path):
    one = tmp_path / "one.csv"
    assert (
        main(
            [
                "export",
                "--results-dir",
                str(DATA),
                "--commit",
                RECORDED_COMMITS[0][:7],
                "--commit",
                RECORDED_COMMITS[2],
                "--output",
                str(one),
            ]
        )
        == 0
    )
    assert set(pd.read_csv(one)["commit"]) == {RECORDED_COMMITS[0], RECORDED_COMMITS[2]}
    every = tmp_path / "all.csv"
    assert main(["export", "--results-dir", str(DATA), "--all", "--output", str(every)]) == 0
    csv = pd.read_csv(every)
    assert set(csv["commit"]) == set(RECORDED_COMMITS) and len(csv) == 32
    assert list(csv["commit_date"].drop_duplicates()) == sorted(csv["commit_date"].unique())  # oldest first


def test_cli_leaves_stale_results_out_unless_asked(tmp_path, capsys):
    default, every = tmp_path / "default.csv", tmp_path / "every.csv"
    assert main(["export", "--results-dir", str(V1), "--all", "--output", str(default)]) == 0
    out = capsys.readouterr().out
    assert main(["export", "--results-dir", str(V1), "--all", "--include-stale", "--output", str(every)]) == 0
    kept, all_rows = pd.read_csv(default), pd.read_csv(every)
    stale = all_rows[all_rows["status"] == "stale"]
    assert len(stale) > 0 and "stale" not in set(kept["status"])
    assert len(kept) == len(all_rows) - len(stale)
    assert f"{len(stale)} stale result(s) left out, --include-stale keeps them" in out
    assert kept["mean"].notna().sum() == kept["median"].notna().sum()  # format 1 recorded every mean


def test_cli_only_stale_results_is_an_error(tmp_path, capsys):
    results = tmp_path / "r"
    shutil.copytree(DATA, results)
    bench = json.loads((results / "benchmarks.json").read_text())
    for meta in bench.values():
        if isinstance(meta, dict):
            meta["version"] = "changed since"
    (results / "benchmarks.json").write_text(json.dumps(bench))
    code = main(["export", "--results-dir", str(results), "--output", str(tmp_path / "x.csv")])
    assert code == 2 and "--include-stale keeps them" in capsys.readouterr().err
    assert not (tmp_path / "x.csv").exists()
