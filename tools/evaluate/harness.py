"""The experiments: every detector on the same resampled real noise, same run, same seed.

Pairwise (a PR: base vs head)
    For each wall-time series of the corpus, scenario and trial, draw disjoint processes for
    base and head (plus, for our detector, a second disjoint batch used only when the first
    verdict is *inconclusive*, as the PR job re-runs exactly those). The head processes get the
    injected effect on every raw sample. Every method sees the same draws:
    ours (``tools.detect.pairwise.compare`` on one value per process, floor calibrated from
    the corpus) and asv's ``continuous`` rule on the pooled raw samples, at asv's default of
    2 rounds and at the same budget ours gets.

History (daily runs)
    A series of ``before + after`` commits, each commit ``commit_rounds`` processes drawn from
    the corpus (ours tests every process of a commit as a round; the baselines see the pooled
    samples, as asv stores them); the change lands at commit ``before``. Each detector runs on the history as
    known after ``k`` commits of the change (k on a grid); commits-to-detection is the first k
    at which it reports a regression within ±``LOCATION_TOLERANCE`` commits of the true
    change. A/A histories give the false alarms.

Also: a whole-suite A/A (every benchmark at once, BH across the suite, as one PR job), and the
instruction channel (cachegrind counts, one run per side, 0.5-2% steps).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tools.evaluate import baselines, inject
from tools.evaluate.config import FA_BUDGET, RELATIVE, EvalConfig
from tools.evaluate.corpus import NoiseCorpus, SeriesNoise, twin_of_series
from tools.evaluate.daily import run_daily
from tools.evaluate.metrics import (
    FOUND_WITHIN,
    Rate,
    analytic_mde,
    commits_to_detection,
    found_within,
    histories_with_alarm,
    min_detectable_effect,
    score_history,
)
from tools.evaluate.shifts import run_shifts


@dataclass
class Outcome:
    """Raw per-trial records; the tables are aggregations of these."""

    pairwise: pd.DataFrame
    history: pd.DataFrame
    floors: dict[str, float]
    notes: list[str] = field(default_factory=list)
    instructions: pd.DataFrame | None = None
    suite_aa: pd.DataFrame | None = None
    daily: pd.DataFrame | None = None
    shifts: pd.DataFrame | None = None
    single_run: pd.DataFrame | None = None  # one run a side (tools.evaluate.schedules)
    single_run_suite: list[bool] = field(default_factory=list)  # whole-suite A/A checks with any flag
    schedules: pd.DataFrame | None = None  # old vs new check schedules
    plans: dict = field(default_factory=dict)  # check -> (rounds a side, series worth them per channel)
    seconds: float = 0.0


# ---------------------------------------------------------------- our detector


def _ours_pairwise(base_vals, head_vals, floor, cfg: EvalConfig, channel="wall"):
    """Our verdict with the evaluation's decision rule and confidence (the detector's defaults if unset)."""
    from tools.detect.pairwise import compare

    decision = {k: v for k, v in (("rule", cfg.rule), ("confidence", cfg.confidence)) if v is not None}
    return compare(base_vals, head_vals, lower_is_better=True, floor_pct=floor, channel=channel, **decision)


def _floor_for(series: SeriesNoise) -> float:
    from tools.detect.series import calibrate_floor

    return calibrate_floor(series.process_values())


def ours_history_available() -> str | None:
    try:
        from tools.detect import history  # noqa: F401
    except Exception as exc:
        return f"tools.detect.history not importable ({exc.__class__.__name__}: {exc})"
    return None


def ours_history_candidates(
    commit_samples: list[np.ndarray], floor: float | None = None, rounds: list[np.ndarray] | None = None
) -> list[tuple[int, int]]:
    """(last commit before, first commit after) of each regression our history mode reports.

    Mirrors ``history_suite`` for a single series: ``detect_series`` on one value per commit
    (median of its samples) with every round of each commit (``rounds``: one value per process;
    without it, each commit is one round), Benjamini-Hochberg over its candidates, ``judge``.
    """
    from tools.detect import history

    values = [float(np.median(s)) for s in commit_samples]
    found = history.regressed(history.detect_series(values, rounds=rounds, floor_pct=floor))
    return [(int(f.evidence.before_position), int(f.evidence.position)) for f in found]


# ---------------------------------------------------------------- pairwise


def _pooled(
    series: SeriesNoise, idx: np.ndarray, scenario: inject.Scenario, centre: float, head: bool
) -> list[np.ndarray]:
    procs = [series.processes[i] for i in idx]
    if head:
        procs = [inject.apply(scenario, p, centre) for p in procs]
    return procs


def _values(s: SeriesNoise, idx, sc: inject.Scenario, centre: float, head: bool) -> np.ndarray:
    return np.array([np.median(p) for p in _pooled(s, idx, sc, centre, head)])


def _ours_adaptive(
    s: SeriesNoise, groups, sc, floor: float, cfg: EvalConfig, extra: int, channel: str
) -> tuple[str, int]:
    """Our PR verdict: R rounds a side, then R more of each side only if *inconclusive*."""
    centre = s.centre()
    b, h = _values(s, groups[0], sc, centre, False), _values(s, groups[1], sc, centre, True)
    verdict = _ours_pairwise(b, h, floor, cfg, channel).verdict
    if verdict == "inconclusive" and extra:
        b = np.r_[b, _values(s, groups[2], sc, centre, False)]
        h = np.r_[h, _values(s, groups[3], sc, centre, True)]
        return _ours_pairwise(b, h, floor, cfg, channel).verdict, 2 * cfg.rounds
    return verdict, cfg.rounds


def run_pairwise(
    corpus: NoiseCorpus, cfg: EvalConfig, series_names: list[str], notes: list[str]
) -> tuple[pd.DataFrame, dict]:
    """Every method on the same base/head draws of every series (and its twin); the floors calibrated."""
    records = []
    floors = {}
    for si, name in enumerate(series_names):
        s = corpus.series[name]
        twin = twin_of_series(corpus, name) if cfg.relative else None
        # Every series gets its floor, skipped or not: history mode uses it too.
        floors[name] = _floor_for(s)
        if twin is not None:
            floors[twin.name] = _floor_for(twin)
        if s.n_processes < 2 * cfg.rounds:
            notes.append(f"{name}: {s.n_processes} processes < 2 x {cfg.rounds}; skipped in pairwise mode")
            continue
        records += _pairwise_series(name, s, twin, si, floors, cfg)
    return pd.DataFrame.from_records(records), floors


PAIRWISE_SCENARIOS = (inject.AA, *inject.STEPS, inject.VARIANCE)


def _pairwise_series(
    name: str, s: SeriesNoise, twin: SeriesNoise | None, si: int, floors: dict[str, float], cfg: EvalConfig
) -> list[dict]:
    """The records of one series: every scenario and trial, one record per method."""
    R = cfg.rounds
    extra = R if cfg.rerun_inconclusive and s.n_processes >= 4 * R else 0
    centre = s.centre()
    records = []
    for ci, sc in enumerate(PAIRWISE_SCENARIOS):
        rng = np.random.default_rng([cfg.seed, si, ci, 1])
        for t in range(cfg.pairwise_trials):
            groups = inject.draw_disjoint(rng, s.n_processes, [R, R] + ([R, R] if extra else []))
            base = dict(series=name, scenario=sc.name, kind=sc.kind, pct=sc.pct, trial=t)
            verdicts = _ours_draw(name, s, twin, groups, sc, floors, cfg, extra) + _asv_draw(s, groups, sc, centre, cfg)
            records += [_pairwise_record(base, method, verdict, used) for method, verdict, used in verdicts]
    return records


def _pairwise_record(base: dict, method: str, verdict: str, processes_per_side: int) -> dict:
    """One method's result on one draw; *flagged* = reported as a regression."""
    return {
        **base,
        "method": method,
        "flagged": verdict == "regressed",
        "verdict": verdict,
        "processes_per_side": processes_per_side,
    }


def _ours_draw(
    name: str,
    s: SeriesNoise,
    twin: SeriesNoise | None,
    groups: list[np.ndarray],
    sc: inject.Scenario,
    floors: dict[str, float],
    cfg: EvalConfig,
    extra: int,
) -> list[tuple[str, str, int]]:
    """(method, verdict, processes per side) of ours on one draw: wall time, then the twin's values
    of the same processes."""
    R = cfg.rounds
    label = f"{R}+{R} rounds, re-run if inconclusive" if extra else f"{R} rounds"
    out = [(f"ours ({label})", *_ours_adaptive(s, groups, sc, floors[name], cfg, extra, "wall"))]
    if twin is not None:
        verdict, used = _ours_adaptive(twin, groups, sc, floors[twin.name], cfg, extra, "relative")
        out.append((f"ours, {RELATIVE} ({label})", verdict, used))
    return out


def _asv_draw(
    s: SeriesNoise, groups: list[np.ndarray], sc: inject.Scenario, centre: float, cfg: EvalConfig
) -> list[tuple[str, str, int]]:
    """(method, verdict, processes per side) of asv's rule on the same draw's pooled raw samples, at
    our budget and at asv's default rounds; its verdict is 'regressed' or '-'."""
    R, R0 = cfg.rounds, cfg.asv_default_rounds
    b_procs = _pooled(s, groups[0], sc, centre, head=False)
    h_procs = _pooled(s, groups[1], sc, centre, head=True)
    return [
        (f"asv continuous rule ({R} rounds)", _asv_verdict(b_procs, h_procs), R),
        (f"asv continuous rule ({R0} rounds, asv default)", _asv_verdict(b_procs[:R0], h_procs[:R0]), R0),
    ]


def _asv_verdict(b_procs: list[np.ndarray], h_procs: list[np.ndarray]) -> str:
    return "regressed" if _asv_flags(b_procs, h_procs) else "-"


def _asv_flags(b_procs: list[np.ndarray], h_procs: list[np.ndarray]) -> bool:
    """asv continuous' rule on the processes' samples pooled, as asv stores them."""
    return baselines.asv_pr_regressed(np.concatenate(b_procs), np.concatenate(h_procs))


# ---------------------------------------------------------------- whole-suite A/A


def run_suite_aa(corpus: NoiseCorpus, cfg: EvalConfig, names: list[str], floors: dict[str, float]) -> pd.DataFrame:
    """Whole-suite A/A: every benchmark compared with itself at once, as one PR job would.

    Ours: per-benchmark ``compare`` then Benjamini-Hochberg across the suite (``verdict.judge_all``,
    as ``compare_suite`` does); a trial fails if any benchmark is *regressed* or *improved*.
    asv: ``asv continuous`` fails if any benchmark is worse by its rule.
    """
    R, R0 = cfg.rounds, cfg.asv_default_rounds
    rng = np.random.default_rng([cfg.seed, 5])
    usable = [n for n in names if corpus.series[n].n_processes >= 2 * R]
    # One value per process of each twin, computed once: the trials only index into it.
    twin_values = {}
    for name in usable if cfg.relative else []:
        twin = twin_of_series(corpus, name)
        if twin is not None:
            twin_values[name] = (twin.name, twin.process_values())
    records = []
    for t in range(cfg.pairwise_trials):
        ours, relative, asv_any, asv_default_any = _suite_trial(corpus, usable, twin_values, floors, cfg, rng)
        counts = [(f"ours ({R} rounds, BH across the suite)", _n_flagged(ours))]
        if relative:
            counts.append((f"ours, {RELATIVE} ({R} rounds, BH across the suite)", _n_flagged(relative)))
        counts.append((f"asv continuous rule ({R} rounds)", int(asv_any)))
        counts.append((f"asv continuous rule ({R0} rounds, asv default)", int(asv_default_any)))
        records += [
            {"trial": t, "benchmarks": len(usable), "method": method, "any_flag": n > 0, "n_flagged": n}
            for method, n in counts
        ]
    return pd.DataFrame.from_records(records)


def _suite_trial(
    corpus: NoiseCorpus,
    usable: list[str],
    twin_values: dict[str, tuple[str, np.ndarray]],
    floors: dict[str, float],
    cfg: EvalConfig,
    rng: np.random.Generator,
) -> tuple[list, list, bool, bool]:
    """One A/A run of the suite: our findings per benchmark (wall, speed-normalised) and whether
    asv's rule flags any benchmark (at our budget, at its default rounds)."""
    R0 = cfg.asv_default_rounds
    ours, relative, asv_any, asv_default_any = [], [], False, False
    for name in usable:
        s = corpus.series[name]
        b_idx, h_idx = inject.draw_disjoint(rng, s.n_processes, [cfg.rounds, cfg.rounds])
        b_procs, h_procs = [s.processes[i] for i in b_idx], [s.processes[i] for i in h_idx]
        b_vals, h_vals = np.array([np.median(p) for p in b_procs]), np.array([np.median(p) for p in h_procs])
        ours.append(_ours_pairwise(b_vals, h_vals, floors[name], cfg))
        if name in twin_values:
            twin_name, tv = twin_values[name]
            relative.append(_ours_pairwise(tv[b_idx], tv[h_idx], floors[twin_name], cfg, "relative"))
        asv_any |= _asv_flags(b_procs, h_procs)
        asv_default_any |= _asv_flags(b_procs[:R0], h_procs[:R0])
    return ours, relative, asv_any, asv_default_any


def _n_flagged(findings: list) -> int:
    """Benchmarks *regressed* or *improved* after Benjamini-Hochberg across the suite (``judge_all``,
    as ``compare_suite`` judges them)."""
    from tools.detect.verdict import judge_all

    return sum(f.verdict in ("regressed", "improved") for f in judge_all(findings))


def suite_table(out: Outcome) -> pd.DataFrame:
    df = out.suite_aa
    if df is None or df.empty:
        return pd.DataFrame()
    n = int(df.benchmarks.iloc[0])
    return pd.DataFrame(
        [
            {"method": m, f"A/A runs of the whole suite ({n} benchmarks) with any flag": Rate.of(g.any_flag)}
            for m, g in df.groupby("method", sort=False)
        ]
    )


INSTRUCTION_STEPS = (
    inject.Scenario("+0.5%", "step", 0.5),
    inject.Scenario("+1%", "step", 1.0),
    inject.Scenario("+2%", "step", 2.0),
)


def run_instructions(corpus: NoiseCorpus, cfg: EvalConfig, notes: list[str]) -> pd.DataFrame:
    """Instruction counts: one run per side (the channel is exact), ours vs asv's rule.

    asv keeps no samples for ``track_*`` results, so its rule falls back to the factor alone.
    """
    from tools.detect.pairwise import compare

    names = corpus.names("instructions")
    if not names:
        notes.append("instruction channel: no instruction-count series in the corpus; not evaluated")
        return pd.DataFrame()
    from tools.detect.series import INSTRUCTION_FLOOR_PCT

    records = []
    for si, name in enumerate(names):
        s = corpus.series[name]
        v = s.process_values()
        # A floor a quarter above the largest same-commit difference measured (in-sample: the
        # corpus is the calibration, as it would be for a real floor file).
        spread_floor = max(INSTRUCTION_FLOOR_PCT, 125.0 * (v.max() / v.min() - 1.0))
        for ci, sc in enumerate([inject.AA, *INSTRUCTION_STEPS]):
            rng = np.random.default_rng([cfg.seed, si, ci, 4])
            for t in range(cfg.pairwise_trials):
                b_idx, h_idx = inject.draw_disjoint(rng, s.n_processes, [1, 1])
                b, h = v[b_idx], inject.apply(sc, v[h_idx], float(np.median(v)))
                base = dict(series=name, scenario=sc.name, kind=sc.kind, pct=sc.pct, trial=t)
                ours = compare(b, h, channel="instructions").verdict
                records.append(
                    {
                        **base,
                        "method": "ours (instructions, 1 run per side, default floor)",
                        "flagged": ours == "regressed",
                    }
                )
                cal = compare(b, h, channel="instructions", floor_pct=spread_floor).verdict
                records.append(
                    {
                        **base,
                        "method": "ours (instructions, floor = 1.25 x measured same-commit spread)",
                        "flagged": cal == "regressed",
                    }
                )
                asv = baselines.asv_pr_regressed(b, h)
                records.append({**base, "method": "asv continuous rule (instructions)", "flagged": asv})
    return pd.DataFrame.from_records(records)


def instruction_table(out: Outcome) -> pd.DataFrame:
    df = out.instructions
    if df is None or df.empty:
        return pd.DataFrame()
    rows = []
    for method, g in df.groupby("method", sort=False):
        row = {"method": method, "A/A false alarms": Rate.of(g[g.kind == "none"].flagged)}
        for sc in INSTRUCTION_STEPS:
            row[f"recall {sc.name}"] = Rate.of(g[g.scenario == sc.name].flagged)
        rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- history


# (pooled samples per commit, one value per process per commit) -> first commits after each alarm
Detector = Callable[[list[np.ndarray], list[np.ndarray]], list[int]]


def _history_detectors(notes: list[str], wanted: tuple[str, ...]) -> dict[str, Callable[..., Detector]]:
    """name -> factory(series, scenario, floor, rng, cfg, cache) -> detector over a history's commits.

    ``cache`` is shared by the methods of one history: ours with and without confirmation
    run the same detection once per prefix.
    """
    det: dict[str, Callable[..., Detector]] = {}

    def ours_factory(confirmed: bool):
        def factory(s, sc, floor, rng, cfg, cache):
            confirm = _confirmer(s, sc, floor, rng, cfg) if confirmed else None

            def detect(cs, rounds):
                key = len(cs)
                if key not in cache:
                    cache[key] = ours_history_candidates(cs, floor, rounds)
                return [after for before, after in cache[key] if confirm is None or confirm(before, after)]

            return detect

        return factory

    for name in wanted:
        if name in ("ours", "ours + confirm"):
            why = ours_history_available()
            if why:
                notes.append(f"history mode, {name}: not evaluated — {why}")
                continue
            det[name] = ours_factory(name == "ours + confirm")
        elif name == "asv step_detect":
            det[name] = lambda *a: lambda cs, _rounds: baselines.asv_history_regressions(cs)
        elif name == "pandas rule":
            det[name] = lambda *a: lambda cs, _rounds: baselines.pandas_regressions([float(np.median(c)) for c in cs])
        elif name == "Otava":
            why = baselines.otava_available()
            if why:
                notes.append(f"Otava: not evaluated — {why} (install: pip install --no-deps apache-otava)")
                continue
            det[name] = lambda *a: lambda cs, _rounds: baselines.otava_regressions([float(np.median(c)) for c in cs])
    return det


def _confirmer(s: SeriesNoise, sc: inject.Scenario, floor: float, rng: np.random.Generator, cfg: EvalConfig):
    """Re-run the two boundary commits interleaved: fresh processes, pairwise verdict must be 'regressed'."""
    centre = s.centre()

    def confirm(before_pos: int, after_pos: int) -> bool:
        groups = inject.draw_disjoint(rng, s.n_processes, [cfg.rounds, cfg.rounds])
        if groups is None:
            return True  # cannot re-run: keep the alert
        lv_b, lv_a = before_pos - cfg.before + 1, after_pos - cfg.before + 1
        b = [np.median(inject.apply(sc, s.processes[i], centre, level=lv_b)) for i in groups[0]]
        a = [np.median(inject.apply(sc, s.processes[i], centre, level=lv_a)) for i in groups[1]]
        return _ours_pairwise(np.array(b), np.array(a), floor, cfg).verdict == "regressed"

    return confirm


def history_index(s: SeriesNoise, cfg: EvalConfig, rng: np.random.Generator) -> np.ndarray:
    """Which corpus processes make up a history's commits, ``commit_rounds`` each, in order."""
    need = (cfg.before + cfg.after) * cfg.commit_rounds
    # Without replacement while the corpus allows it; beyond that processes recur (still A/A-honest).
    return rng.permutation(s.n_processes) if need <= s.n_processes else rng.integers(0, s.n_processes, need)


def history_processes(
    s: SeriesNoise,
    sc: inject.Scenario,
    cfg: EvalConfig,
    rng: np.random.Generator | None = None,
    idx: np.ndarray | None = None,
) -> list[list[np.ndarray]]:
    """Commits of one history: each ``commit_rounds`` processes' samples, the change injected."""
    centre = s.centre()
    idx = history_index(s, cfg, rng) if idx is None else idx
    commits = []
    for c in range(cfg.before + cfg.after):
        procs = [s.processes[i] for i in idx[c * cfg.commit_rounds : (c + 1) * cfg.commit_rounds]]
        level = c - cfg.before + 1  # 1 at the first changed commit
        commits.append([inject.apply(sc, p, centre, level=level) for p in procs])
    return commits


def history_views(processes: list[list[np.ndarray]]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per commit: its processes' samples pooled (what asv stores, for the baselines) and one value
    per process, its median (the rounds our history mode tests)."""
    return (
        [np.concatenate(procs) for procs in processes],
        [np.array([float(np.median(p)) for p in procs]) for procs in processes],
    )


def run_history(
    corpus: NoiseCorpus, cfg: EvalConfig, series_names: list[str], notes: list[str], floors: dict[str, float]
) -> pd.DataFrame:
    """Every history method on the same histories, one record per history and method."""
    scenarios = [inject.AA, *inject.STEPS, inject.GRADUAL]
    factories = _history_detectors(notes, cfg.history_methods)
    records = []
    for ci, sc in enumerate(scenarios):
        rng = np.random.default_rng([cfg.seed, ci, 2])
        for t in range(cfg.history_trials):
            name = series_names[t % len(series_names)]  # round robin: every benchmark alike often
            caches: dict = {}
            for mi, (mname, factory, series, (pooled, rounds), fname) in enumerate(
                _history_runs(corpus, name, sc, cfg, factories, rng)
            ):
                cache = caches.setdefault(fname, {})
                det = factory(
                    series, sc, floors.get(fname), np.random.default_rng([cfg.seed, ci, t, mi, 3]), cfg, cache
                )
                rec = dict(series=name, scenario=sc.name, kind=sc.kind, pct=sc.pct, trial=t, method=mname)
                records.append({**rec, **score_history(_on_prefix(det, pooled, rounds), sc, cfg)})
    return pd.DataFrame.from_records(records)


def _history_runs(
    corpus: NoiseCorpus,
    name: str,
    sc: inject.Scenario,
    cfg: EvalConfig,
    factories: dict[str, Callable[..., Detector]],
    rng: np.random.Generator,
) -> list[tuple]:
    """One history of ``name`` (and of its twin) drawn: (method, factory, series, its commits' views,
    floor key) for each method; the twin gets our methods only."""
    series = corpus.series[name]
    idx = history_index(series, cfg, rng)
    commits = history_views(history_processes(series, sc, cfg, idx=idx))
    runs = [(mname, factory, series, commits, name) for mname, factory in factories.items()]
    twin = twin_of_series(corpus, name) if cfg.relative else None
    if twin is not None:
        # The twin's history is built from the same processes: the channels see the same runs.
        twin_commits = history_views(history_processes(twin, sc, cfg, idx=idx))
        runs += [
            (f"{mname.replace('ours', f'ours, {RELATIVE}', 1)}", factory, twin, twin_commits, twin.name)
            for mname, factory in factories.items()
            if mname.startswith("ours")
        ]
    return runs


def _on_prefix(det: Detector, pooled: list[np.ndarray], rounds: list[np.ndarray]) -> Callable[[int], list[int]]:
    """``det`` on the first ``known`` commits of a history."""
    return lambda known: det(pooled[:known], rounds[:known])


# ---------------------------------------------------------------- run and tables


def select_series(corpus: NoiseCorpus, cfg: EvalConfig) -> list[str]:
    names = corpus.names("wall")
    if cfg.max_series and len(names) > cfg.max_series:
        # Spread the pick over the noise range: sort by CV and take evenly spaced series.
        names = sorted(names, key=lambda n: corpus.series[n].cv())
        pick = np.unique(np.linspace(0, len(names) - 1, cfg.max_series).round().astype(int))
        names = [names[i] for i in pick]
    return names


def evaluate(corpus: NoiseCorpus, cfg: EvalConfig) -> Outcome:
    started = time.perf_counter()
    notes: list[str] = []
    names = select_series(corpus, cfg)
    if not names:
        from tools.errors import ToolError

        raise ToolError("the noise corpus has no wall-time series to evaluate")
    fewest = min(corpus.series[n].n_processes for n in names)
    if 2 * cfg.rounds > max(corpus.series[n].n_processes for n in names):
        from tools.errors import ToolError

        raise ToolError(
            f"--rounds {cfg.rounds} needs {2 * cfg.rounds} processes per benchmark; "
            f"the corpus has {fewest}–{max(corpus.series[n].n_processes for n in names)}"
        )
    pairwise, floors = run_pairwise(corpus, cfg, names, notes)
    history = run_history(corpus, cfg, names, notes, floors)
    instructions = run_instructions(corpus, cfg, notes)
    suite_aa = run_suite_aa(corpus, cfg, names, floors)
    daily = run_daily(corpus, cfg, names, notes) if cfg.daily_trials > 0 else None
    shifted = run_shifts(corpus, cfg) if cfg.shift_trials > 0 else None
    out = Outcome(
        pairwise, history, floors, notes, instructions=instructions, suite_aa=suite_aa, daily=daily, shifts=shifted
    )
    if cfg.schedule_trials > 0:
        _run_schedules(out, corpus, cfg, names)
    out.seconds = time.perf_counter() - started
    return out


def _run_schedules(out: Outcome, corpus: NoiseCorpus, cfg: EvalConfig, names: list[str]) -> None:
    """One run a side and the check schedules, old vs new, with their own trial count."""
    from dataclasses import replace

    from tools.evaluate import schedules

    trial_cfg = replace(cfg, pairwise_trials=cfg.schedule_trials)
    out.single_run, out.single_run_suite = schedules.run_single_run(corpus, trial_cfg, names)
    out.schedules, out.plans = schedules.run_schedules(corpus, trial_cfg, names)


def pairwise_table(out: Outcome) -> pd.DataFrame:
    """One row per method: A/A false alarms, recall per step, variance-only flags."""
    rows = []
    df = out.pairwise
    for method, g in df.groupby("method", sort=False):
        row = {"method": method}
        aa = g[g.kind == "none"]
        row["A/A false alarms"] = Rate.of(aa.flagged)
        row["within 1% budget"] = "yes" if row["A/A false alarms"].value <= FA_BUDGET else "no"
        for pct in inject.STEP_PCTS:
            row[f"recall +{pct:g}%"] = Rate.of(g[(g.kind == "step") & (g.pct == pct)].flagged)
        row["variance-only flagged"] = Rate.of(g[g.kind == "variance"].flagged)
        row["processes/side (mean)"] = float(g.processes_per_side.mean())
        rows.append(row)
    return pd.DataFrame(rows)


def history_table(out: Outcome, cfg: EvalConfig) -> pd.DataFrame:
    """One row per method: A/A false alarms; per change, share found within ``FOUND_WITHIN`` commits and median k."""
    rows = []
    df = out.history
    if df.empty:
        return pd.DataFrame()
    n_commits = cfg.before + cfg.after
    for method, g in df.groupby("method", sort=False):
        aa = g[g.kind == "none"]
        row = {
            "method": method,
            f"A/A histories with a false alarm ({n_commits} commits)": histories_with_alarm(aa.false_alarms),
        }
        for sc in [*inject.STEPS, inject.GRADUAL]:
            h = g[g.scenario == sc.name]
            med, det, tot = commits_to_detection(list(h.first_k))
            k = f"median {med:g} commits" if det else "never"
            cell = f"{found_within(h.first_k).fmt()}; {k} ({det}/{tot})"
            row[f"{sc.name}: found ≤ {FOUND_WITHIN} commits; median k (found)"] = cell
        rows.append(row)
    return pd.DataFrame(rows)


def history_series_table(out: Outcome) -> pd.DataFrame:
    """Per benchmark and channel (ours, without confirmation): A/A alarms and the share of steps
    found within ``FOUND_WITHIN`` commits — the history target is met benchmark by benchmark, where noise
    allows."""
    df = out.history
    if df.empty:
        return pd.DataFrame()
    rows = []
    ours = df[df.method.isin(["ours", f"ours, {RELATIVE}"])]
    for (name, method), g in ours.groupby(["series", "method"], sort=True):
        aa = g[g.kind == "none"]
        row = {
            "series": name,
            "channel": RELATIVE if method != "ours" else "wall",
            "A/A alarms": _k_of_n(histories_with_alarm(aa.false_alarms)),
        }
        for sc in inject.STEPS:
            row[f"{sc.name} ≤ {FOUND_WITHIN} commits"] = _k_of_n(found_within(g[g.scenario == sc.name].first_k))
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["channel", "series"], kind="stable").reset_index(drop=True)


def _k_of_n(rate: Rate) -> str:
    return f"{rate.k}/{rate.n}"


def per_series_table(out: Outcome, corpus: NoiseCorpus, cfg: EvalConfig) -> pd.DataFrame:
    """Per benchmark and channel: noise, calibrated floor, our recall per step, MDE (empirical and analytic)."""
    rows = []
    df = out.pairwise
    for (name, method), g in df[df.method.str.startswith("ours")].groupby(["series", "method"], sort=False):
        relative = method.startswith(f"ours, {RELATIVE}")
        s = twin_of_series(corpus, name) if relative else corpus.series[name]
        rec = {p: float(g[(g.kind == "step") & (g.pct == p)].flagged.mean()) for p in inject.STEP_PCTS}
        aa = g[g.kind == "none"]
        rows.append(
            {
                "series": name,
                "channel": RELATIVE if relative else "wall",
                "processes": s.n_processes,
                "median": s.centre(),
                "unit": s.unit,
                "CV between processes %": 100 * s.cv(),
                "CV within a process %": math.nan if relative else 100 * s.within_cv(),
                "floor %": out.floors.get(s.name, math.nan),
                "A/A flagged": f"{int(aa.flagged.sum())}/{len(aa)}",
                **{f"recall +{p:g}%": rec[p] for p in inject.STEP_PCTS},
                "MDE % (≥90% recall)": min_detectable_effect(rec),
                f"MDE % analytic ({cfg.rounds} rounds)": analytic_mde(s.process_values(), cfg.rounds),
            }
        )
    return pd.DataFrame(rows)
