"""tools.loader on results written by a real asv run (recorded under tests/data) and on
synthetic files: every column, failed/skipped rows, rounds, stale flags, the cache, and
agreement with asv's own reader."""

from __future__ import annotations

import itertools
import json
import math
import shutil
from pathlib import Path

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


# ---------------------------------------------------------------- format 1 (asv < 0.5)

V1 = Path(__file__).parent / "data" / "asv_results_v1"
FOREIGN = Path(__file__).resolve().parents[2] / "shared" / "foreign" / "pvlib-benchmarks" / "results"


def asv_reader_rows(results_dir: Path, files: list[Path]) -> dict:
    """{(commit, environment, benchmark, param values): row} as asv's own reader gives them,
    after asv's own conversion (``Results.update``, what ``asv update`` runs) of a copy."""
    import tempfile

    from asv.results import Results, iter_results_for_machine

    rows = {}
    with tempfile.TemporaryDirectory() as scratch:
        for path in files:
            copy = Path(scratch) / path.parent.name / path.name
            copy.parent.mkdir(exist_ok=True)
            shutil.copy(path, copy)
            if path.name != "machine.json":
                Results.update(str(copy))
        for machine in sorted(p.name for p in Path(scratch).iterdir()):
            for res in iter_results_for_machine(scratch, machine):
                for key in res.get_all_result_keys():
                    params = res.get_result_params(key)
                    parts = [res.get_result_value(key, params), res.get_result_stats(key, params)]
                    parts.append(res.get_result_samples(key, params))
                    for combo, value, stats, samples in zip(itertools.product(*params), *parts):
                        extra = (res.started_at.get(key), res.benchmark_version.get(key))
                        rows[(res.commit_hash, res.env_name, key, combo)] = (value, stats or {}, samples, *extra)
    return rows


def same_number(ours, theirs) -> bool:
    if theirs is None or (isinstance(theirs, float) and (math.isnan(theirs) or math.isinf(theirs))):
        return ours is None or ours is pd.NA or math.isnan(ours) or ours == theirs
    return ours == theirs


def assert_agrees_with_asv(table: pd.DataFrame, theirs: dict) -> None:
    """Every row of asv's reader is in the table with the same value, statistics, samples,
    start time and version, and the table has no other row."""
    ours = {(str(r.commit), str(r.environment), str(r.benchmark), r.param_values): r for r in table.itertuples()}
    assert set(ours) == set(theirs)
    stats = {"ci_low": "ci_99_a", "ci_high": "ci_99_b", "q25": "q_25", "q75": "q_75"}
    stats |= {"number": "number", "repeat": "repeat"}
    for key, (value, stat, samples, started_at, version) in theirs.items():
        row = ours[key]
        assert same_number(row.value, value) and row.failed == (value is None), key
        for column, name in stats.items():
            assert same_number(getattr(row, column), stat.get(name)), (key, column)
        assert (row.samples is None) == (samples is None) and list(row.samples or []) == list(samples or [])
        assert row.started_at == pd.Timestamp(started_at, unit="ms", tz="UTC") and row.version == (version or "")


def test_v1_fixture_stays_small():
    assert sum(p.stat().st_size for p in V1.rglob("*") if p.is_file()) < 200_000


@pytest.fixture(scope="module")
def v1_table():
    warnings: list[str] = []
    return load_results(V1, warn=warnings.append), warnings


def test_v1_files_load_without_asv_update(v1_table):
    table, warnings = v1_table
    assert table["commit"].nunique() == 3 and table["environment"].nunique() == 4
    assert len(warnings) == 1 and "flagged stale" in warnings[0]  # a long history has older versions
    assert table["failed"].any() and table["params"].ne("").any() and table["stale"].any()
    recorded = table[table["recorded_mean"].notna()]
    assert len(recorded) > 100 and (recorded["recorded_min"] <= recorded["recorded_max"]).all()
    assert table["duration"].notna().all() and (table["duration"] > 0).all()


def test_v1_agrees_with_asvs_reader_after_asv_update(v1_table):
    table, _ = v1_table
    assert_agrees_with_asv(table, asv_reader_rows(V1, sorted(V1.glob("*/*.json"))))


@pytest.mark.skipif(not FOREIGN.is_dir(), reason="the pvlib results tree is not beside the repository")
def test_a_real_v1_history_loads_whole_and_agrees_with_asv():
    warnings: list[str] = []
    table = load_results(FOREIGN, warn=warnings.append)
    files = sorted(p for p in FOREIGN.glob("*/*.json") if p.name != "machine.json")
    assert len(files) == 1059 and table.groupby(["commit", "environment"], observed=True).ngroups == len(files)
    assert [w for w in warnings if "skipped" in w] == []
    sample = files[::25] + [FOREIGN.glob("*/machine.json").__next__()]  # every era and environment
    runs = {(d["commit_hash"], d["env_name"]) for d in (json.loads(p.read_text()) for p in sample) if "env_name" in d}
    mine = table[[run in runs for run in zip(table["commit"].astype(str), table["environment"].astype(str))]]
    assert_agrees_with_asv(mine, asv_reader_rows(FOREIGN, sample))


def test_frames_derived_from_the_table_share_its_benchmarks_metadata(table):
    """pandas deep-copies attrs into every derived frame: benchmarks.json is shared, not copied."""
    derived = table[table["value"].notna()].groupby("benchmark").head(1)
    assert derived.attrs["benchmarks"] is table.attrs["benchmarks"]
    assert derived.attrs["benchmarks"] == table.attrs["benchmarks"] and len(table.attrs["benchmarks"]) > 0
