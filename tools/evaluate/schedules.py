"""Schedules on recorded noise: what a check decides, in how many rounds, and how long it takes.

Single run a side (stored ``asv continuous`` results)
    Per series and trial: 48 disjoint processes calibrate the noise of one run (a kept daily
    session: 24 rounds of two commits, consecutive differences, ``calibrate.sigma_from_differences``),
    then one process for base and one for head, the effect injected into head. Ours: ``compare``
    with that noise (the single-run rule); also with the channel's stated default (no calibration);
    asv's continuous rule on the same two processes' samples.

Schedules (a PR check, the daily session)
    Per series and trial, the same draws for every schedule: the *old* PR schedule (6 rounds a
    side, then 2 more at a time for the inconclusive up to 30, judged again each time without
    correction), the *old* daily one (24 rounds, one look) and the *new* sequential ones
    (``tools.detect.sequential``: the rounds a side the budget allows, planned from the measured cost
    of this suite, for the series whose calibrated noise lets them help, each look at its share of
    the error, stopping on a verdict or futility). Each run records the verdict, the rounds a side
    it measured and, for the suite's time, at which round every series stopped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tools.evaluate import baselines, inject
from tools.evaluate.config import RELATIVE, EvalConfig
from tools.evaluate.corpus import NoiseCorpus, SeriesNoise, twin_of_series

CALIBRATION_PROCESSES = 48
SINGLE_RUN_SCENARIOS = (
    inject.AA,
    inject.Scenario("+5%", "step", 5.0),
    inject.Scenario("+20%", "step", 20.0),
    inject.Scenario("+100%", "step", 100.0),
    inject.Scenario("x5", "step", 400.0),
)
SCHEDULE_SCENARIOS = (
    inject.AA,
    inject.Scenario("+5%", "step", 5.0),
    inject.Scenario("+10%", "step", 10.0),
    inject.Scenario("+20%", "step", 20.0),
)
OLD_PR = (6, 2, 30)  # first rounds, rounds added at a time, most rounds (the PR workflow's 6 + 24)
OLD_DAILY = 24


@dataclass(frozen=True)
class SuiteCost:
    """The measured cost of this suite on this machine: seconds per process of one series by channel,
    of an asv run beyond its benchmarks, and the number of series per channel."""

    per_series: dict
    overhead: float
    series: dict

    def full_side(self) -> float:
        return self.overhead + sum(self.series[c] * self.per_series[c] for c in self.series)


# One A/A side-run of the whole suite at commit 4fd9e87 on this 2-core VM, load 5 (`python -m tools
# compare-rounds --base HEAD --head HEAD --rounds 1 --extra-rounds 0`, asv's duration per benchmark
# shared among its parameter combinations): 136.5 s, of which 123.6 s in benchmarks.
MEASURED_COST = SuiteCost(
    per_series={"wall": 33.44 / 80, "relative": 43.40 / 75, "metric": 12.06 / 18, "instructions": 34.35 / 4,
                "memory": 0.36},
    overhead=12.9,
    series={"wall": 80, "relative": 75, "metric": 18, "instructions": 4, "memory": 1},
)  # fmt: skip
BUDGETS = {"PR": 600.0, "daily": 1500.0}  # seconds: the PR check 10 min; the daily session 25 of its 30


def _calibration(s: SeriesNoise, idx: np.ndarray):
    from tools.detect import calibrate

    sigma, df = calibrate.sigma_from_differences(np.diff(np.log(s.process_values()[idx])))
    return calibrate.Noise(sigma, df, f"kept rounds: {len(idx)} processes")


def _head(values: np.ndarray, sc: inject.Scenario) -> np.ndarray:
    return inject.apply(sc, values, float(np.median(values)))


# ---------------------------------------------------------------- single run a side


def run_single_run(corpus: NoiseCorpus, cfg: EvalConfig, names: list[str]) -> tuple[pd.DataFrame, list[bool]]:
    """One process a side against a calibrated (or default) noise, and asv's rule, per series; and
    per trial whether a whole-suite A/A check (every series at once, BH across them) flags anything."""
    records, aa = [], {}
    for si, name in enumerate(names):
        for series, channel in _channels(corpus, name, cfg):
            recs, found = _single_run_series(series, channel, si, cfg)
            records += recs
            for t, f in found.items():
                aa.setdefault(t, []).append(f)
    return pd.DataFrame.from_records(records), [_suite_flags(found) for _, found in sorted(aa.items())]


def _suite_flags(found: list) -> bool:
    from tools.detect.verdict import judge_all

    return any(f.verdict in ("regressed", "improved") for f in judge_all(found))


def _channels(corpus: NoiseCorpus, name: str, cfg: EvalConfig) -> list[tuple[SeriesNoise, str]]:
    out = [(corpus.series[name], "wall")]
    twin = twin_of_series(corpus, name) if cfg.relative else None
    return out + ([(twin, "relative")] if twin is not None else [])


def _single_run_series(s: SeriesNoise, channel: str, si: int, cfg: EvalConfig) -> tuple[list[dict], dict]:
    """Records of one series (every scenario, trial and method) and its calibrated A/A findings by trial."""
    from tools.detect import calibrate
    from tools.detect.pairwise import compare

    values, records, aa = s.process_values(), [], {}
    default = calibrate.default_noise(channel)
    for ci, sc in enumerate(SINGLE_RUN_SCENARIOS):
        rng = np.random.default_rng([cfg.seed, si, ci, 11, int(channel == "wall")])
        for t in range(cfg.pairwise_trials):
            drawn = inject.draw_disjoint(rng, s.n_processes, [CALIBRATION_PROCESSES, 1, 1])
            if drawn is None:
                return records, aa  # too few recorded processes for a calibration and two runs
            cal, b, h = drawn
            bv, hv = values[b], _head(values[h], sc)
            base = dict(series=s.name, channel=channel, scenario=sc.name, kind=sc.kind, pct=sc.pct, trial=t)
            for method, noise in (("ours, calibrated", _calibration(s, cal)), ("ours, channel default", default)):
                f = compare(bv, hv, channel=channel, noise=noise)
                records.append({**base, "method": method, "verdict": f.verdict})
                if sc.kind == "none" and method == "ours, calibrated":
                    aa[t] = f
            asv = baselines.asv_pr_regressed(s.processes[b[0]], inject.apply(sc, s.processes[h[0]], s.centre()))
            records.append({**base, "method": "asv continuous rule", "verdict": "regressed" if asv else "-"})
    return records, aa


def single_run_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per channel and method: A/A false alarms (regressed) per benchmark, the worst benchmark's, and
    recall per effect."""
    from tools.evaluate.metrics import Rate

    rows = []
    for (channel, method), g in df.groupby(["channel", "method"], sort=False):
        aa = g[g.kind == "none"]
        per = aa.groupby("series").verdict.apply(lambda v: float((v == "regressed").mean()))
        row = {"channel": RELATIVE if channel == "relative" else channel, "method": method}
        row["A/A false alarms"] = Rate.of(aa.verdict == "regressed")
        row["worst benchmark A/A"] = f"{100 * per.max():.1f}%"
        for sc in SINGLE_RUN_SCENARIOS[1:]:
            row[f"recall {sc.name}"] = Rate.of(g[g.scenario == sc.name].verdict == "regressed")
        rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------- schedules


def corpus_sigmas(corpus: NoiseCorpus) -> dict[str, list[float]]:
    """Each channel's per-workload noise of one run over the whole corpus (for planning the suite)."""
    from tools.detect import calibrate

    out: dict[str, list[float]] = {"wall": [], "relative": []}
    for s in corpus.series.values():
        if s.channel in out:
            out[s.channel].append(calibrate.sigma_from_differences(np.diff(np.log(s.process_values())))[0])
    return out


def suite_plan(cost: SuiteCost, budget_s: float, sigmas: dict[str, list[float]], cap: int = 36) -> tuple[int, dict]:
    """(rounds a side, series worth them per channel) the runner would plan for this suite: its series
    take the corpus's noise per channel in turn (metrics wall time's), costs as measured, round 0 the
    whole suite on both sides (``sequential.plan_rounds``)."""
    from tools.detect import calibrate, sequential

    costs, noise = {}, {}
    for channel in ("wall", "relative", "metric"):
        # a corpus without this channel plans it at the channel's stated default noise
        pool = sigmas["wall" if channel == "metric" else channel] or [calibrate.default_noise(channel).sigma]
        for i in range(cost.series[channel]):
            costs[(channel, i)], noise[(channel, i)] = cost.per_series[channel], pool[i % len(pool)]
    n, worth = sequential.plan_rounds(budget_s, 2 * cost.full_side(), cost.overhead, costs, noise, cap=cap)
    return n, {c: sum(1 for k in worth if k[0] == c) for c in ("wall", "relative", "metric")}


def simulate_sequential(b: np.ndarray, h: np.ndarray, channel: str, noise, plan) -> tuple[str, int]:
    """(verdict, rounds a side) of one series under a sequential plan, as ``rounds.sequential_rounds``
    judges it: a look after every round at its share of the error, stopping on a verdict or futility."""
    from tools.detect import sequential
    from tools.detect.pairwise import compare

    f = None
    for n in range(1, plan.max_rounds + 1):
        f = compare(b[:n], h[:n], channel=channel, noise=noise, confidence=plan.confidence_at(n, n - 1))
        if f.verdict != "inconclusive":
            return f.verdict, n
        power = sequential.futility(f.change_pct, f.floor_pct, (np.log(b[:n]), np.log(h[:n])), noise, plan)
        if power is not None and power < plan.futility:
            return "inconclusive", n
    return f.verdict, plan.max_rounds


def simulate_old_pr(b: np.ndarray, h: np.ndarray, channel: str) -> tuple[str, int]:
    """The previous PR schedule: 6 rounds a side, then 2 more at a time while inconclusive, up to 30,
    each time judged again at the full 99.5% (the rank rule)."""
    from tools.detect.pairwise import compare

    first, step, most = OLD_PR
    n = first
    while True:
        verdict = compare(b[:n], h[:n], channel=channel).verdict
        if verdict != "inconclusive" or n >= most:
            return verdict, n
        n = min(most, n + step)


def run_schedules(corpus: NoiseCorpus, cfg: EvalConfig, names: list[str]) -> tuple[pd.DataFrame, dict]:
    """Every schedule on the same draws of every series (and twin): one record per schedule."""
    from tools.detect import sequential

    sigmas = corpus_sigmas(corpus)
    plans = {name: suite_plan(MEASURED_COST, budget, sigmas) for name, budget in BUDGETS.items()}
    records = []
    for si, name in enumerate(names):
        for series, channel in _channels(corpus, name, cfg):
            records += _schedule_series(series, channel, si, cfg, {k: v[0] for k, v in plans.items()}, sequential)
    return pd.DataFrame.from_records(records), plans


def _schedule_series(s: SeriesNoise, channel: str, si: int, cfg: EvalConfig, rounds: dict, sequential) -> list[dict]:
    from tools.detect.pairwise import compare

    values, records = s.process_values(), []
    longest = max(OLD_PR[2], OLD_DAILY, *rounds.values())
    for ci, sc in enumerate(SCHEDULE_SCENARIOS):
        rng = np.random.default_rng([cfg.seed, si, ci, 12, int(channel == "wall")])
        for t in range(cfg.pairwise_trials):
            drawn = inject.draw_disjoint(rng, s.n_processes, [CALIBRATION_PROCESSES, longest, longest])
            if drawn is None:
                return records  # too few recorded processes for a calibration and the longest schedule
            cal, b, h = drawn
            bv, hv = values[b], _head(values[h], sc)
            base = dict(series=s.name, channel=channel, scenario=sc.name, kind=sc.kind, pct=sc.pct, trial=t)
            noise = _calibration(s, cal)
            runs = [("old PR: 6 + 2 at a time to 30", *simulate_old_pr(bv, hv, channel))]
            runs.append(
                (
                    f"old daily: {OLD_DAILY} rounds",
                    compare(bv[:OLD_DAILY], hv[:OLD_DAILY], channel=channel).verdict,
                    OLD_DAILY,
                )
            )
            for check, n in rounds.items():
                worth = sequential.planning_mde_pct(noise.sigma, n) <= sequential.WORTH_MDE_PCT
                plan = sequential.Plan(n if worth else 1)
                runs.append(
                    (
                        f"new {check}: sequential, {BUDGETS[check] / 60:g} min",
                        *simulate_sequential(bv, hv, channel, noise, plan),
                    )
                )
            records += [{**base, "schedule": k, "verdict": v, "rounds": n} for k, v, n in runs]
    return records


def _open_share(g: pd.DataFrame, k: int) -> float:
    """Share of this channel's runs still measured in round ``k`` (0-based)."""
    return float((g["rounds"] > k).mean()) if len(g) else 0.0


def schedule_minutes(g: pd.DataFrame, schedule: str, cost: SuiteCost = MEASURED_COST) -> float:
    """Expected minutes of the whole suite under ``schedule``, from the measured cost and the share of
    each channel's series still measured in every round (metrics as wall time's; deterministic
    channels in round 0 only under the new schedules, every round under the old)."""
    by = {c: g[g.channel == c] for c in ("wall", "relative")}
    full = 2 * cost.full_side()
    if schedule.startswith("old daily"):
        return OLD_DAILY * full / 60
    first, rest = (OLD_PR[0], OLD_PR[2]) if schedule.startswith("old PR") else (1, int(g["rounds"].max()))
    seconds = first * full
    for k in range(first, rest):
        share = {c: _open_share(by[c], k) for c in by}
        share["metric"] = share["wall"] if schedule.startswith("old") else float(k == 1 and rest > 1)
        busy = sum(cost.series[c] * cost.per_series[c] * share[c] for c in share)
        expected_open = sum(cost.series[c] * share[c] for c in share)
        seconds += 2 * (busy + cost.overhead * min(1.0, expected_open))
    return seconds / 60


def schedule_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per schedule and channel: A/A false alarms and unchanged, recall per effect, rounds a side on
    A/A, and the suite's expected minutes (A/A, and with +5% everywhere)."""
    from tools.evaluate.metrics import Rate

    rows = []
    for schedule, g in df.groupby("schedule", sort=False):
        for channel, c in g.groupby("channel", sort=False):
            aa = c[c.kind == "none"]
            row = {"schedule": schedule, "channel": RELATIVE if channel == "relative" else channel}
            row["A/A false alarms"] = Rate.of(aa.verdict == "regressed")
            row["A/A unchanged"] = Rate.of(aa.verdict == "unchanged")
            for sc in SCHEDULE_SCENARIOS[1:]:
                row[f"recall {sc.name}"] = Rate.of(c[c.scenario == sc.name].verdict == "regressed")
            row["rounds a side, A/A (mean)"] = float(aa["rounds"].mean())
            rows.append(row)
        rows[-1]["suite minutes, A/A"] = schedule_minutes(g[g.kind == "none"], schedule)
        rows[-1]["suite minutes, +5%"] = schedule_minutes(g[g.scenario == "+5%"], schedule)
    return pd.DataFrame(rows)


def unchanged_share(df: pd.DataFrame, schedule: str, cost: SuiteCost = MEASURED_COST) -> float:
    """Expected share of the suite's series ending *unchanged* on A/A: each noisy channel at its
    simulated rate (metrics as wall time), the deterministic channels always (they are exact)."""
    g = df[(df.schedule == schedule) & (df.kind == "none")]
    rate = {c: float((g[g.channel == c].verdict == "unchanged").mean()) for c in ("wall", "relative")}
    rate |= {"metric": rate["wall"], "instructions": 1.0, "memory": 1.0}
    return sum(cost.series[c] * rate[c] for c in cost.series) / sum(cost.series.values())
