"""tools.loader on results written by a real asv run (recorded under tests/data) and on
synthetic files: every column, failed/skipped rows, rounds, stale flags, the cache, and
agreement with asv's own reader."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pandas as pd
import pytest
from _tools_testkit import DATA, RECORDED_COMMITS, synthesize_results, write_results

from tools.loader import commits_with_results, load_results
from tools.schema import TIDY_COLUMNS


@pytest.fixture(scope="module")
def table():
    return load_results(DATA)


def test_columns_and_shape(table):
    assert list(table.columns) == list(TIDY_COLUMNS)
    # 4 commits x (4 param combos of time_work + 4 plain benchmarks)
    assert len(table) == 4 * 8
    assert set(table["commit"].astype(str)) == set(RECORDED_COMMITS)
    assert set(table["machine"].astype(str)) == {"toymachine"}
    assert (table["round"] == 0).all()


def test_commit_dates_come_from_the_result_files(table):
    dates = table.groupby("commit", observed=True)["commit_date"].first()
    assert dates[RECORDED_COMMITS[0]] == pd.Timestamp("2026-01-01 12:00", tz="UTC")
    assert dates[RECORDED_COMMITS[3]] == pd.Timestamp("2026-01-04 12:00", tz="UTC")
    assert str(table["commit_date"].dt.tz) == "UTC"


def test_failed_and_skipped_rows_are_kept(table):
    fails = table[table["benchmark"] == "toy_benchmarks.time_fails"]
    assert len(fails) == 4 and fails["failed"].all() and fails["value"].isna().all()
    skipped = table[(table["benchmark"] == "toy_benchmarks.Work.time_work") & (table["params"] == "n=2000, kind='b'")]
    assert len(skipped) == 4 and skipped["skipped"].all() and not skipped["failed"].any()
    ok = table[~table["failed"] & ~table["skipped"]]
    assert ok["value"].notna().all()


def test_params_types_units_and_components(table):
    work = table[table["benchmark"] == "toy_benchmarks.Work.time_work"]
    assert set(work["params"]) == {"n=200, kind='a'", "n=200, kind='b'", "n=2000, kind='a'", "n=2000, kind='b'"}
    assert ("200", "'a'") in set(work["param_values"])
    by_name = table.drop_duplicates("benchmark").set_index(table.drop_duplicates("benchmark")["benchmark"].astype(str))
    assert by_name.loc["toy_benchmarks.peakmem_list", "type"] == "peakmem"
    assert by_name.loc["toy_benchmarks.peakmem_list", "unit"] == "bytes"
    assert by_name.loc["toy_benchmarks.track_rate", "unit"] == "ops/s"
    assert by_name.loc["toy_benchmarks.time_plain", "params"] == ""
    assert set(table["component"].astype(str)) == {"toy"}


def test_samples_stats_and_intervals(table):
    timed = table[(table["type"] == "time") & ~table["failed"] & ~table["skipped"]]
    for _, row in timed.iterrows():
        assert isinstance(row["samples"], tuple) and len(row["samples"]) == row["repeat"] > 1
        assert row["value"] == pytest.approx(float(np.median(row["samples"])), rel=1e-9)
        assert row["ci_low"] <= row["value"] <= row["ci_high"]
        assert row["q25"] <= row["value"] <= row["q75"]
        assert row["number"] >= 1
    assert table.loc[table["benchmark"] == "toy_benchmarks.peakmem_list", "samples"].isna().all()


def test_agrees_with_asv_reader(table):
    """Every value equals what asv's own Results API returns for the same file."""
    from asv.results import Results

    for path in sorted((DATA / "toymachine").glob("*-*.json")):
        res = Results.load(str(path))
        rows = table[table["commit"] == res.commit_hash]
        for name in res.get_all_result_keys():
            values = res.get_result_value(name, res.get_result_params(name))
            ours = rows[rows["benchmark"] == name]["value"].tolist()
            assert len(ours) == len(values)
            for a, b in zip(ours, values):
                assert (a is None or math.isnan(a)) if (b is None or math.isnan(b)) else a == b
            samples = res.get_result_samples(name, res.get_result_params(name))
            for ours_s, theirs in zip(rows[rows["benchmark"] == name]["samples"], samples):
                assert (ours_s is None) == (theirs is None)
                if theirs is not None:
                    assert list(ours_s) == list(theirs)


def test_commits_with_results_is_date_ordered(table):
    commits = commits_with_results(table)
    assert list(commits["commit"].astype(str)) == RECORDED_COMMITS


def test_several_dirs_are_numbered_as_rounds(tmp_path):
    for k in range(3):
        shutil.copytree(DATA, tmp_path / "pair" / f"round-{k}")
    t = load_results([tmp_path / "pair" / f"round-{k}" for k in (2, 0, 1)])
    assert sorted(t["round"].unique()) == [0, 1, 2]
    assert len(t) == 3 * 32
    one = load_results([tmp_path / "pair" / "round-1"])
    assert (one["round"] == 0).all()  # a single dir is round 0


def test_machine_filter(tmp_path):
    shutil.copytree(DATA, tmp_path / "r")
    synthesize_results(tmp_path / "other", 2, 8, machine="other")
    shutil.copytree(tmp_path / "other" / "other", tmp_path / "r" / "other")
    both = load_results(tmp_path / "r")
    assert set(both["machine"].astype(str)) == {"toymachine", "other"}
    only = load_results(tmp_path / "r", machine="other")
    assert set(only["machine"].astype(str)) == {"other"}


def test_stale_results_are_flagged_with_a_warning(tmp_path):
    shutil.copytree(DATA, tmp_path / "r")
    path = tmp_path / "r" / "toymachine" / f"{RECORDED_COMMITS[0][:8]}-existing-py_python3.json"
    data = json.loads(path.read_text())
    data["results"]["toy_benchmarks.time_plain"][2] = "0" * 64  # recorded with older benchmark code
    path.write_text(json.dumps(data))
    warnings: list[str] = []
    t = load_results(tmp_path / "r", warn=warnings.append)
    stale = t[t["stale"]]
    assert set(stale["benchmark"].astype(str)) == {"toy_benchmarks.time_plain"}
    assert set(stale["commit"].astype(str)) == {RECORDED_COMMITS[0]}
    assert any(path.name in w and "older benchmark code" in w for w in warnings)


def test_removed_benchmark_is_kept_as_stale_with_inferred_type(tmp_path):
    benches = {
        "m_benchmarks.time_a": {"type": "time", "unit": "seconds", "params": [], "param_names": [], "version": "1"}
    }
    write_results(
        tmp_path,
        {**benches, "m_benchmarks.peakmem_old": {"version": "1"}},
        [
            {
                "commit": "a" * 40,
                "date": 1_700_000_000_000,
                "values": {"m_benchmarks.time_a": [1.0], "m_benchmarks.peakmem_old": [5.0]},
            }
        ],
    )
    (tmp_path / "benchmarks.json").write_text(json.dumps(benches))  # the benchmark was removed since
    t = load_results(tmp_path, warn=lambda m: None)
    old = t[t["benchmark"] == "m_benchmarks.peakmem_old"].iloc[0]
    assert old["stale"] and old["type"] == "peakmem" and old["unit"] == "bytes" and old["value"] == 5.0


def test_cache_gives_the_same_table_and_sees_changes(tmp_path):
    synthesize_results(tmp_path / "r", 6, 12, samples=3)
    cache = tmp_path / "cache"
    key = ["commit", "benchmark", "params"]
    fresh = load_results(tmp_path / "r")
    first = load_results(tmp_path / "r", cache_dir=cache)
    assert any(cache.iterdir())
    second = load_results(tmp_path / "r", cache_dir=cache)
    for t in (first, second):
        pd.testing.assert_frame_equal(
            t.sort_values(key).reset_index(drop=True), fresh.sort_values(key).reset_index(drop=True)
        )
    # a new commit and a re-measured one: both seen through the cache
    synthesize_results(tmp_path / "new", 7, 12, samples=3, seed=9)
    newest = sorted((tmp_path / "new" / "synth").glob("00000006*.json"))[0]
    shutil.copy(newest, tmp_path / "r" / "synth" / newest.name)
    changed = sorted((tmp_path / "new" / "synth").glob("00000000*.json"))[0]
    shutil.copy(changed, tmp_path / "r" / "synth" / changed.name)
    third = load_results(tmp_path / "r", cache_dir=cache)
    expected = load_results(tmp_path / "r")
    pd.testing.assert_frame_equal(
        third.sort_values(key).reset_index(drop=True), expected.sort_values(key).reset_index(drop=True)
    )
    assert third["commit"].nunique() == 7


def test_synthetic_scale_small(tmp_path):
    benches = synthesize_results(tmp_path, 5, 40, samples=4)
    t = load_results(tmp_path)
    assert len(t) == 5 * 40
    assert t["samples"].map(len).eq(4).all()
    assert t["benchmark"].nunique() == len(benches)
