"""The golden results set: a fixed asv results tree whose outputs are pinned by hash.

``tests/data/golden/`` was written once by ``python tests/golden_fixture.py`` and is committed;
``tests/test_golden.py`` runs export, report and regressions on it and compares the outputs'
SHA-256 with the pinned ones, so a refactoring that changes what the tools write fails there.

The tree is synthetic but shaped like this suite's results: 12 daily commits of one machine
and environment with every channel the tools judge (wall time, speed-normalised, instructions,
peak memory, throughput, a higher-is-better metric, an RSS-growth metric), a skipped parameter
combination, a benchmark that fails at one commit, a lone spike, a +30% step at commit 8 and,
under ``rounds/``, two interleaved sessions (8 rounds a side) whose newest one carries a +20%
regression of ``time_add_entry`` at the head commit.

Run it again only to change the fixture on purpose; then re-pin the hashes in test_golden.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from tools.asv_formats import V2_COLUMNS

OUT = Path(__file__).parent / "data" / "golden"
MACHINE = "goldenbox"
ENV = "virtualenv-py3.11"
COLUMNS = V2_COLUMNS
N_COMMITS = 12
STEP_AT = 8  # first commit of the +30% step
SPIKE_AT = 5  # a lone 1.6x spike of time_add_entry
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z in ms
DAY = 86_400_000

ROUTE_PARAMS = [["'round_robin'", "'cost_optimized'"], ["10", "1000"]]
BENCHMARKS = {
    "router_benchmarks.Route.time_route": ("time", "seconds", ROUTE_PARAMS, ["strategy", "n_models"]),
    "router_benchmarks.Route.track_route_relative": ("track", "relative", ROUTE_PARAMS, ["strategy", "n_models"]),
    "router_benchmarks.Route.track_route_instructions": (
        "track",
        "instructions",
        ROUTE_PARAMS,
        ["strategy", "n_models"],
    ),
    "memory_benchmarks.AddEntry.time_add_entry": ("time", "seconds", [], []),
    "memory_benchmarks.AddEntry.track_add_entry_throughput": ("track", "ops/s", [], []),
    "memory_benchmarks.AddEntry.track_add_entry_rss_growth": ("track", "bytes", [], []),
    "memory_benchmarks.Footprint.peakmem_conversation": ("peakmemory", "bytes", [], []),
    "rag_manager_benchmarks.Retrieve.time_retrieve": ("time", "seconds", [["100", "1000"]], ["n_chunks"]),
    "chain_engine_benchmarks.Execute.time_execute": ("time", "seconds", [], []),
    "model_registry_benchmarks.Find.track_hit_rate": ("track", "%", [], []),
}


def commit_hash(i: int) -> str:
    return f"{i:02x}" * 20


def centre(name: str, combo: int, commit: int, head_regressed: bool) -> float:
    """The true value of one benchmark x parameter combination at one commit."""
    base = {
        "time_route": 2e-5 * (1 + 3 * combo),
        "track_route_relative": 4.0 * (1 + 3 * combo),
        "track_route_instructions": 95_000.0 * (1 + combo),
        "time_add_entry": 2.2e-6,
        "track_add_entry_throughput": 450_000.0,
        "track_add_entry_rss_growth": 1_200_000.0,
        "peakmem_conversation": 52_000_000.0,
        "time_retrieve": 8e-4 * (1 + 9 * combo),
        "time_execute": 0.15,
        "track_hit_rate": 92.0,
    }[name.rsplit(".", 1)[-1]]
    method = name.rsplit(".", 1)[-1]
    if commit >= STEP_AT and combo == 3 and method in ("time_route", "track_route_relative"):
        base *= 1.30
    if commit >= STEP_AT and combo == 3 and method == "track_route_instructions":
        base *= 1.03
    if commit >= STEP_AT and method == "track_hit_rate":
        base *= 0.85  # higher is better: a drop is a regression
    if head_regressed and method in ("time_add_entry",):
        base *= 1.20
    if head_regressed and method == "track_add_entry_throughput":
        base /= 1.20
    return base


def noise(name: str, rng: np.random.Generator) -> float:
    unit = BENCHMARKS[name][1]
    sd = {"seconds": 0.03, "relative": 0.01, "instructions": 0.0, "bytes": 0.002, "ops/s": 0.03, "%": 0.0}[unit]
    return float(np.exp(rng.normal(0, sd))) if sd else 1.0


def result_row(
    name: str, commit: int, rng: np.random.Generator, started: int, *, head_regressed: bool, samples: bool
) -> list:
    btype, unit, params, _ = BENCHMARKS[name]
    n = int(np.prod([len(p) for p in params])) if params else 1
    values, smp = [], []
    for combo in range(n):
        method = name.rsplit(".", 1)[-1]
        if method == "time_retrieve" and combo == 1:
            values.append(float("nan"))  # skipped: NotImplementedError in setup
            smp.append(None)
            continue
        if method == "time_execute" and commit == 3:
            values.append(None)  # failed
            smp.append(None)
            continue
        v = centre(name, combo, commit, head_regressed) * noise(name, rng)
        if method == "time_add_entry" and commit == SPIKE_AT:
            v *= 1.6
        if unit == "instructions":
            v = round(v, 3)
        values.append(v)
        smp.append([v * float(np.exp(rng.normal(0, 0.02))) for _ in range(5)] if samples and btype == "time" else None)
    ci_a = [None if v is None or v != v else v * 0.97 for v in values]
    ci_b = [None if v is None or v != v else v * 1.03 for v in values]
    row = [
        values,
        params,
        f"v-{name.rsplit('.', 1)[-1]}",
        started,
        1.25,
        ci_a,
        ci_b,
        [None if v is None or v != v else v * 0.99 for v in values],
        [None if v is None or v != v else v * 1.01 for v in values],
        [100 if btype == "time" else None] * n,
        [5 if btype == "time" else None] * n,
    ]
    if samples and any(s is not None for s in smp):
        row.append(smp)
    return row


def write_file(
    mdir: Path,
    commit: int,
    rng: np.random.Generator,
    started: int,
    *,
    head_regressed: bool = False,
    samples: bool = True,
) -> None:
    h = commit_hash(commit)
    results = {
        name: result_row(name, commit, rng, started, head_regressed=head_regressed, samples=samples)
        for name in BENCHMARKS
    }
    data = {
        "commit_hash": h,
        "env_name": ENV,
        "date": T0 + commit * DAY,
        "params": {"machine": MACHINE, "python": "3.11"},
        "python": "3.11",
        "requirements": {"numpy": "", "scipy": ""},
        "env_vars": {},
        "result_columns": COLUMNS,
        "results": results,
        "durations": {},
        "version": 2,
    }
    mdir.mkdir(parents=True, exist_ok=True)
    (mdir / f"{h[:8]}-{ENV}.json").write_text(json.dumps(data, sort_keys=True) + "\n")


def benchmarks_json() -> dict:
    out = {
        name: {
            "name": name,
            "type": t,
            "unit": u,
            "params": p,
            "param_names": pn,
            "version": f"v-{name.rsplit('.', 1)[-1]}",
        }
        for name, (t, u, p, pn) in BENCHMARKS.items()
    }
    return {**out, "version": 2}


MACHINE_JSON = {
    "machine": MACHINE,
    "os": "Linux 6.1",
    "arch": "x86_64",
    "cpu": "Golden CPU @ 2.0GHz",
    "num_cpu": "2",
    "ram": "24GB",
    "version": 1,
}


def write_tree(root: Path) -> None:
    rng = np.random.default_rng(20261203)
    results = root / "results"
    for i in range(N_COMMITS):
        write_file(results / MACHINE, i, rng, T0 + i * DAY + 3_600_000, head_regressed=i == N_COMMITS - 1)
    (results / "benchmarks.json").write_text(json.dumps(benchmarks_json(), sort_keys=True, indent=1) + "\n")
    (results / MACHINE / "machine.json").write_text(json.dumps(MACHINE_JSON, sort_keys=True, indent=1) + "\n")
    # Two interleaved sessions: the newest commit against the one before it, and 9 against 6.
    for base, head in ((N_COMMITS - 2, N_COMMITS - 1), (STEP_AT - 2, STEP_AT + 1)):
        session = root / "rounds" / f"{commit_hash(base)[:8]}-{commit_hash(head)[:8]}"
        for k in range(8):
            rd = session / f"round-{k}"
            order = (base, head) if k % 2 == 0 else (head, base)
            for j, c in enumerate(order):
                write_file(
                    rd / MACHINE,
                    c,
                    rng,
                    T0 + (N_COMMITS + 1) * DAY + (2 * k + j) * 60_000,
                    head_regressed=c == N_COMMITS - 1,
                    samples=False,
                )
            (rd / "benchmarks.json").write_text(json.dumps(benchmarks_json(), sort_keys=True, indent=1) + "\n")
            (rd / MACHINE / "machine.json").write_text(json.dumps(MACHINE_JSON, sort_keys=True, indent=1) + "\n")


if __name__ == "__main__":
    if OUT.exists():
        shutil.rmtree(OUT)
    write_tree(OUT)
    print(f"wrote {OUT}")
