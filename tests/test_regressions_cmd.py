"""``python -m tools regressions``: commit selection, the three report files, verdict
sections with effect / interval / rule, channel disagreement, noisy benchmarks,
recommendations (asv find / asv profile / graph link) and --fail-on-regression."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from _tools_testkit import DATA, RECORDED_COMMITS, write_results

from tools.__main__ import main
from tools.render import asv_find_command, asv_profile_command, asv_regex, graph_link, shell_quote

BASE, HEAD = "b" * 40, "e" * 40
T0 = 1_767_225_600_000  # 2026-01-01


def _benches():
    def b(t, u, params=(), names=()):
        return {"type": t, "unit": u, "version": "1", "params": [list(p) for p in params], "param_names": list(names)}

    return {
        "router_benchmarks.Route.time_route": b("time", "seconds", [["10", "100"]], ["n_models"]),
        "router_benchmarks.Route.track_route_instructions": b("track", "instructions", [["10", "100"]], ["n_models"]),
        "memory_benchmarks.Store.time_add": b("time", "seconds"),
    }


def _rounds(tmp_path, slow=1.30, instr_change=1.0):
    """6 interleaved rounds per side: Route(n=100) slower by ``slow`` in wall time only."""
    base_t = [1.00, 1.01, 0.99, 1.02, 0.98, 1.005]
    pair = tmp_path / "pair"
    for k in range(6):
        noise = base_t[k]
        runs = [
            {
                "commit": BASE,
                "date": T0,
                "values": {
                    "router_benchmarks.Route.time_route": [1e-5 * noise, 1e-4 * noise],
                    "router_benchmarks.Route.track_route_instructions": [150_000.0, 1_500_000.0],
                    "memory_benchmarks.Store.time_add": [2e-6 * noise],
                },
            },
            {
                "commit": HEAD,
                "date": T0 + 86_400_000,
                "values": {
                    "router_benchmarks.Route.time_route": [1e-5 * base_t[-1 - k], 1e-4 * slow * base_t[-1 - k]],
                    "router_benchmarks.Route.track_route_instructions": [150_000.0, 1_500_000.0 * instr_change],
                    "memory_benchmarks.Store.time_add": [2e-6 * base_t[-1 - k]],
                },
            },
        ]
        write_results(pair / f"round-{k}", _benches(), runs, machine="ci-box")
    return pair


def _run(capsys, *args):
    code = main(["regressions", *args])
    out, err = capsys.readouterr()
    return code, out, err


def _report(out_dir):
    files = sorted((out_dir / "reports").glob("regression_report_*"))
    assert sorted(f.suffix for f in files) == [".html", ".json", ".md"]
    assert len({f.stem for f in files}) == 1
    by = {f.suffix: f for f in files}
    return by[".md"].read_text(), json.loads(by[".json"].read_text()), by[".html"].read_text()


def test_interleaved_rounds_regression_is_named_and_fails_ci(tmp_path, capsys):
    pair = _rounds(tmp_path)
    code, out, err = _run(
        capsys,
        "--rounds-dir",
        str(pair),
        "--output-dir",
        str(tmp_path / "o"),
        "--site-url",
        "https://bench.example.org",
        "--fail-on-regression",
    )
    assert code == 1, err
    assert f"{BASE[:8]} → {HEAD[:8]}: 1 regressed" in out
    md, data, html = _report(tmp_path / "o")
    assert data["base"]["commit"] == BASE and data["head"]["commit"] == HEAD
    assert data["counts"]["regressed"] == 1
    reg = [r for r in data["results"] if r["verdict"] == "regressed"]
    assert len(reg) == 1 and reg[0]["benchmark"] == "router_benchmarks.Route.time_route"
    assert reg[0]["params"] == "n_models=100" and reg[0]["mode"] == "pairwise"
    assert 25 < reg[0]["change_pct"] < 35 and reg[0]["ci_low_pct"] > 2 and reg[0]["rule"]
    # every verdict row shows effect, interval and the deciding rule
    section = md.split("## Regressions (1)")[1].split("##")[0]
    assert "`Route.time_route` | n_models=100 | wall |" in section
    assert re.search(r"\+\d+\.\d% \| \[\+\d+\.\d%, \+\d+\.\d%\]", section)
    assert reg[0]["rule"] in section
    # recommendations: bisect, profile at both commits, graph link
    rec = reg[0]["recommendations"]
    assert rec["asv_find"] == (
        f'asv find {BASE[:12]}..{HEAD[:12]} "^router_benchmarks\\.Route\\.time_route\\(100\\)" --machine ci-box'
    )
    assert rec["asv_profile_base"] == f'asv profile "^router_benchmarks\\.Route\\.time_route\\(100\\)" {BASE[:12]}'
    assert rec["asv_profile_head"].endswith(HEAD[:12])
    assert (
        rec["graph_url"]
        == "https://bench.example.org/#router_benchmarks.Route.time_route?machine=ci-box&p-n_models=100"
    )
    for text in rec.values():
        if isinstance(text, str):
            assert text in md
    # the commits are not in a repository: no profile, the check still decides and says why
    assert rec["profile"]["diff"] is None and "not profiled" in rec["profile"]["reason"]
    assert f"No profile: {rec['profile']['reason']}" in md
    # wall regressed while instructions stayed put: the report says so
    assert data["disagreements"] and data["disagreements"][0]["witness_verdict"] == "unchanged"
    assert "not more work" in md
    assert "<h2" in html and "Regressions (1)" in html


def test_without_fail_flag_exit_is_zero(tmp_path, capsys):
    pair = _rounds(tmp_path)
    code, _, _ = _run(capsys, "--rounds-dir", str(pair), "--output-dir", str(tmp_path / "o"))
    assert code == 0


def test_instruction_change_decides_and_agrees(tmp_path, capsys):
    pair = _rounds(tmp_path, slow=1.0, instr_change=1.02)
    code, out, _ = _run(capsys, "--rounds-dir", str(pair), "--output-dir", str(tmp_path / "o"), "--fail-on-regression")
    md, data, _ = _report(tmp_path / "o")
    reg = [r for r in data["results"] if r["verdict"] == "regressed"]
    assert code == 1
    assert [r["benchmark"] for r in reg] == ["router_benchmarks.Route.track_route_instructions"]
    assert reg[0]["channel"] == "instructions"
    assert "below wall-time noise" in md  # instructions up, wall time not


def test_stored_results_default_selection(tmp_path, capsys):
    code, out, _ = _run(
        capsys, "--results-dir", str(DATA), "--output-dir", str(tmp_path / "o"), "--fail-on-regression", "--history"
    )
    # One run per side: the last commit is ~3x slower, far beyond one run's noise (no history to
    # calibrate it here: the wall-time default), so two of its benchmarks are decided regressed.
    assert code == 1
    md, data, _ = _report(tmp_path / "o")
    regressed = [r for r in data["results"] if r["verdict"] == "regressed"]
    assert {r["benchmark"] for r in regressed} == {"toy_benchmarks.Work.time_work", "toy_benchmarks.time_plain"}
    assert all("runs against the between-process noise of one run" in r["rule"] for r in regressed)
    assert all(r["noise_source"].startswith("default for wall") for r in regressed)
    open_ = [r for r in data["results"] if r["verdict"] == "inconclusive" and r["channel"] == "wall" and r["n_base"]]
    assert open_ and all("would take" in r["rule"] and r["rounds_needed"] > 1 for r in open_)
    assert data["base"]["commit"] == RECORDED_COMMITS[2] and data["head"]["commit"] == RECORDED_COMMITS[3]
    assert data["head"]["date"].startswith("2026-01-04")
    assert sum(data["counts"].values()) == 8 == len([r for r in data["results"] if r["mode"] == "pairwise"])
    assert "Fewer than 6 rounds per side" in md
    assert f"--base {RECORDED_COMMITS[2][:12]} --head {RECORDED_COMMITS[3][:12]} --budget 10m" in md
    assert "## Noisy benchmarks" in md and "## Wall time and its witnesses" in md
    assert "History not analysed: at least 8 commits per machine / environment needed" in md
    assert "toymachine / existing-py_python3 (4)" in md


def test_explicit_base_and_head(tmp_path, capsys):
    code, out, _ = _run(
        capsys,
        "--results-dir",
        str(DATA),
        "--output-dir",
        str(tmp_path / "o"),
        "--base",
        RECORDED_COMMITS[0][:8],
        "--head",
        RECORDED_COMMITS[1][:10],
    )
    assert code == 0
    _, data, _ = _report(tmp_path / "o")
    assert (data["base"]["commit"], data["head"]["commit"]) == (RECORDED_COMMITS[0], RECORDED_COMMITS[1])


def test_first_commit_has_nothing_to_compare(tmp_path, capsys):
    shutil.copytree(DATA, tmp_path / "r")
    for f in (tmp_path / "r" / "toymachine").glob("*-*.json"):
        if not f.name.startswith(RECORDED_COMMITS[0][:8]):
            f.unlink()
    code, out, _ = _run(
        capsys, "--results-dir", str(tmp_path / "r"), "--output-dir", str(tmp_path / "o"), "--fail-on-regression"
    )
    assert code == 0 and "(first results)" in out
    md, data, _ = _report(tmp_path / "o")  # a first run still writes its report, saying why it is empty
    assert data["base"] is None and data["head"]["commit"] == RECORDED_COMMITS[0]
    assert data["counts"] == {"regressed": 0, "improved": 0, "inconclusive": 0, "unchanged": 0}
    assert "first results at" in md and "No earlier results on toymachine" in md
    assert "run_benchmarks.sh HEAD~5..HEAD" in md


def test_rounds_dir_without_rounds_is_an_error(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, _, err = _run(capsys, "--rounds-dir", str(tmp_path / "empty"), "--output-dir", str(tmp_path / "o"))
    assert code == 2 and "no round-<k> results folders" in err


@pytest.mark.parametrize(
    "name, pv, regex",
    [
        ("m.C.time_x", (), "^m\\.C\\.time_x$"),
        ("m.C.time_x", ("100", "'cost'"), "^m\\.C\\.time_x\\(100, 'cost'\\)"),
    ],
)
def test_asv_regex(name, pv, regex):
    assert asv_regex(name, pv) == regex
    assert re.search(regex, f"{name}({', '.join(pv)})" if pv else name)


def test_commands_quote_safely():
    assert shell_quote("^a\\.b\\(1\\)") == '"^a\\.b\\(1\\)"'
    assert shell_quote('x"$y') == "'x\"$y'"
    assert asv_find_command("a" * 40, "b" * 40, "m.C.track_rate", (), lower_is_better=False).endswith("--invert")
    assert (
        asv_profile_command("m.C.time_x", "c" * 40, ("'a b'",))
        == "asv profile \"^m\\.C\\.time_x\\('a b'\\)\" cccccccccccc"
    )
    assert (
        graph_link(".asv/html", "m.C.time_x", "box", ["kind"], ["'a b'"])
        == ".asv/html/index.html#m.C.time_x?machine=box&p-kind='a%20b'"
    )


def test_history_section_locates_a_step(tmp_path, capsys):
    benches = {
        "router_benchmarks.Route.time_route": {
            "type": "time",
            "unit": "seconds",
            "version": "1",
            "params": [],
            "param_names": [],
        },
        "memory_benchmarks.Store.time_add": {
            "type": "time",
            "unit": "seconds",
            "version": "1",
            "params": [],
            "param_names": [],
        },
    }
    wiggle = [1.0, 1.004, 0.997, 1.002, 0.999, 1.003, 0.998, 1.001, 1.0, 0.996, 1.002, 0.999, 1.001, 1.0]
    commits = [f"{i:02d}" * 20 for i in range(len(wiggle))]
    runs = [
        {
            "commit": c,
            "date": T0 + i * 86_400_000,
            "values": {
                "router_benchmarks.Route.time_route": [1e-4 * w * (1.25 if i >= 7 else 1.0)],
                "memory_benchmarks.Store.time_add": [2e-6 * w],
            },
        }
        for i, (c, w) in enumerate(zip(commits, wiggle))
    ]
    write_results(tmp_path / "r", benches, runs)
    code, out, _ = _run(capsys, "--results-dir", str(tmp_path / "r"), "--output-dir", str(tmp_path / "o"), "--history")
    assert code == 0
    md, data, _ = _report(tmp_path / "o")
    hist = [r for r in data["results"] if r["mode"] == "history"]
    assert [(r["benchmark"], r["verdict"]) for r in hist] == [("router_benchmarks.Route.time_route", "regressed")]
    assert hist[0]["commit_before"] == commits[6] and hist[0]["commit_after"] == commits[7]
    assert "asv find" in hist[0]["recommendations"]["asv_find"]
    section = md.split("## History (change points)")[1]
    assert f"{commits[6][:8]}..{commits[7][:8]}" in section and "regressed" in section
    assert "| rule |" in section and "commits before vs" in section and "looks" in section  # the rule that decided


def test_profile_targets_the_timed_twin_of_a_counter():
    from tools.regression_report import profile_target

    known = {"m.C.time_x": [], "m.C.track_x_instructions": [], "m.C.track_y_instructions": []}
    assert profile_target("m.C.track_x_instructions", known) == "m.C.time_x"
    assert profile_target("m.C.track_y_instructions", known) == "m.C.track_y_instructions"  # no twin
    assert profile_target("m.C.time_x", known) == "m.C.time_x"


def test_history_counts_the_interleaved_rounds_of_its_commits(tmp_path, capsys):
    from tools.history_report import history_rows
    from tools.loader import load_sessions

    benches = {
        "router_benchmarks.Route.time_route": {
            "type": "time",
            "unit": "seconds",
            "version": "1",
            "params": [],
            "param_names": [],
        }
    }
    commits = [f"{i:02d}" * 20 for i in range(10)]
    runs = [
        {"commit": c, "date": T0 + i * 86_400_000, "values": {"router_benchmarks.Route.time_route": [1e-4]}}
        for i, c in enumerate(commits)
    ]
    write_results(tmp_path / "r", benches, runs, machine="ci-box")
    # Two interleaved runs kept: the last two commits (3 rounds each), and a PR commit not on main.
    outsider = "f" * 40
    for pair, (a, b) in {"p1": (commits[-2], commits[-1]), "p2": (commits[-1], outsider)}.items():
        for k in range(3):
            write_results(
                tmp_path / "kept" / pair / f"round-{k}",
                benches,
                [
                    {
                        "commit": c,
                        "date": T0 + 20 * 86_400_000,
                        "values": {"router_benchmarks.Route.time_route": [1e-4]},
                    }
                    for c in (a, b)
                ],
                machine="ci-box",
            )
    from tools.loader import load_results

    table = load_results(tmp_path / "r")
    rounds = load_sessions(tmp_path / "kept", None)
    assert sorted(rounds["session"].unique()) == ["p1", "p2"]  # which interleaved run each round came from
    rows, n_extra = history_rows(table, rounds)
    assert n_extra == 9  # 3 rounds of commits[-2], 6 of commits[-1]; the outsider is not history
    assert outsider not in set(rows["commit"]) and (rows["commit"] == commits[-1]).sum() == 7
    assert load_sessions(tmp_path / "nothing-here", None) is None

    code, out, _ = _run(
        capsys,
        "--results-dir",
        str(tmp_path / "r"),
        "--output-dir",
        str(tmp_path / "o"),
        "--history",
        "--history-rounds-dir",
        str(tmp_path / "kept"),
    )
    assert code == 0
    md, _, _ = _report(tmp_path / "o")
    assert "with 9 results of interleaved rounds" in md
    assert "within-session comparisons of 1 interleaved session (" in md  # p2 is not on main
    code, _, err = _run(
        capsys,
        "--results-dir",
        str(tmp_path / "r"),
        "--output-dir",
        str(tmp_path / "o2"),
        "--history",
        "--history-rounds-dir",
        str(tmp_path / "missing"),
    )
    assert code != 0 and "--history-rounds-dir" in err and "not a directory" in err


def test_base_lag_compares_with_the_kth_previous_commit(tmp_path, capsys):
    benches = {
        "router_benchmarks.Route.time_route": {
            "type": "time",
            "unit": "seconds",
            "version": "1",
            "params": [],
            "param_names": [],
        }
    }
    commits = [f"{i:02d}" * 20 for i in range(6)]
    write_results(
        tmp_path / "r",
        benches,
        [
            {"commit": c, "date": T0 + i * 86_400_000, "values": {"router_benchmarks.Route.time_route": [1e-4]}}
            for i, c in enumerate(commits)
        ],
        machine="ci-box",
    )
    code, out, _ = _run(
        capsys, "--results-dir", str(tmp_path / "r"), "--output-dir", str(tmp_path / "o"), "--base-lag", "3"
    )
    assert code == 0 and f"{commits[2][:8]} → {commits[5][:8]}" in out
    # Fewer commits than the lag: the oldest one is the anchor.
    code, out, _ = _run(
        capsys, "--results-dir", str(tmp_path / "r"), "--output-dir", str(tmp_path / "o"), "--base-lag", "40"
    )
    assert code == 0 and f"{commits[0][:8]} → {commits[5][:8]}" in out
    code, _, err = _run(
        capsys, "--results-dir", str(tmp_path / "r"), "--output-dir", str(tmp_path / "o"), "--base-lag", "0"
    )
    assert code != 0 and "--base-lag must be 1 or more" in err


def test_history_reports_a_step_the_interleaved_sessions_straddle(tmp_path, capsys):
    import numpy as np

    name = "router_benchmarks.Route.time_route"
    benches = {name: {"type": "time", "unit": "seconds", "version": "1", "params": [], "param_names": []}}
    commits = [f"{i:02d}" * 20 for i in range(14)]
    rng = np.random.default_rng(4)
    level = [1e-4 * (1.3 if i >= 9 else 1.0) for i in range(14)]
    # Daily results: one run per commit on its own day, each day 40% off the last (machines differ).
    day = np.exp(rng.normal(0, 0.4, 14))
    write_results(
        tmp_path / "r",
        benches,
        [
            {"commit": c, "date": T0 + i * 86_400_000, "values": {name: [level[i] * day[i]]}}
            for i, c in enumerate(commits)
        ],
        machine="ci-box",
    )
    # Each day's session: the commit and the one 5 back, 8 rounds each, sharing that day's machine.
    for d in range(1, 14):
        a = max(0, d - 5)
        for k in range(8):
            write_results(
                tmp_path / "kept" / f"{commits[a][:8]}-{commits[d][:8]}" / f"round-{k}",
                benches,
                [
                    {
                        "commit": commits[i],
                        "date": T0 + i * 86_400_000,
                        "values": {name: [level[i] * day[d] * float(np.exp(rng.normal(0, 0.02)))]},
                    }
                    for i in (a, d)
                ],
                machine="ci-box",
            )
    code, _, _ = _run(
        capsys,
        "--results-dir",
        str(tmp_path / "r"),
        "--output-dir",
        str(tmp_path / "o"),
        "--history",
        "--history-rounds-dir",
        str(tmp_path / "kept"),
    )
    assert code == 0
    md, data, _ = _report(tmp_path / "o")
    assert "within-session comparisons of 13 interleaved sessions" in md
    rows = [r for r in data["results"] if r.get("mode") == "history" and r["method"].startswith("interleaved sessions")]
    assert [(r["commit_before"], r["commit_after"], r["verdict"]) for r in rows] == [
        (commits[8], commits[9], "regressed")
    ]
    assert 20 < rows[0]["change_pct"] < 40 and "interleaved sessions straddling the step" in rows[0]["rule"]


def _as_machine(pair, machine: str):
    """The same rounds as measured on another machine (folder, machine.json, result params)."""
    for rd in pair.iterdir():
        (rd / "ci-box").rename(rd / machine)
        for f in (rd / machine).glob("*.json"):
            data = json.loads(f.read_text())
            data["machine"] = machine
            if "params" in data and isinstance(data["params"], dict):
                data["params"]["machine"] = machine
            f.write_text(json.dumps(data))
    return pair


def test_rounds_dirs_of_several_machines_judge_together(tmp_path, capsys):
    """--rounds-dir repeated: e.g. the sessions of two OS runners, merged from shards by CI."""
    linux = _rounds(tmp_path / "linux")
    mac = _as_machine(_rounds(tmp_path / "mac", slow=1.0), "mac-box")
    code, out, err = _run(
        capsys, "--rounds-dir", str(linux), "--rounds-dir", str(mac), "--output-dir", str(tmp_path / "o")
    )
    assert code == 0, err
    md, data, _ = _report(tmp_path / "o")
    assert data["machines"] == ["ci-box", "mac-box"] and data["counts"]["regressed"] == 1
    reg = [r for r in data["results"] if r["verdict"] == "regressed"]
    assert [r["machine"] for r in reg] == ["ci-box"]


def test_shard_goes_with_rounds(tmp_path, capsys):
    code, _, err = _run(capsys, "--shard", "1/2", "--results-dir", str(DATA), "--no-cache")
    assert code == 2 and "--shard goes with --rounds or --budget" in err
