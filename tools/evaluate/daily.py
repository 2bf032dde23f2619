"""Daily history with day effects: pooled rounds vs interleaved sessions, on the same draws.

The history experiment (``harness.run_history``) draws every commit from one recorded session,
so commits differ only by process noise. Daily CI runs on a new machine each day, and the same
code measured in two sessions on two VMs here moved per benchmark (speed-normalised: -0.1% to
+16.8%, sd 5.1%; wall time: sd 22%; ``config.DAY_SD``). This experiment adds that.

One trial is one benchmark (taken in turn) and one scenario over ``before + after`` days, one new
commit a day. Day d has a day effect e_d ~ N(0, day sd) on the log scale, shared by everything
measured that day:

- the daily ``asv run`` of commit d: ``commit_rounds`` processes;
- a session interleaving the anchor ``max(0, d - anchor_lag)`` with d: ``session_rounds``
  processes each (``tools.detect.rounds``, as the daily workflow runs it).

Processes are drawn from the corpus with the change injected by commit. Detectors, looking at
the days known ``k`` days after the change:

- *ours, pooled* — ``history.detect_series`` with every round each commit has (its asv run and
  its sessions' rounds, whatever their day), as ``regressions`` does without sessions;
- *ours, sessions* — ``sessions.detect_sessions`` (only within-session comparisons);
- asv's ``step_detect`` and Otava on the daily asv values, as they would see the history.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pandas as pd

from tools.evaluate import baselines, inject
from tools.evaluate.config import RELATIVE, EvalConfig
from tools.evaluate.corpus import NoiseCorpus, SeriesNoise, twin_of_series
from tools.evaluate.metrics import FOUND_WITHIN, commits_to_detection, found_within, histories_with_alarm, score_history

METHODS = ("ours, pooled", "ours, sessions", "asv step_detect", "Otava")


def day_processes(
    s: SeriesNoise,
    centre: float,
    sc: inject.Scenario,
    commit: int,
    change_at: int,
    n: int,
    day_effect: float,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """``n`` processes of ``commit`` measured on a day with ``day_effect`` (log), change injected
    (``centre``: ``s.centre()``, passed in so it is computed once per series)."""
    idx = rng.integers(0, s.n_processes, n)
    return [inject.apply(sc, s.processes[i], centre, level=commit - change_at + 1) * math.exp(day_effect) for i in idx]


def simulate_days(
    series: list[SeriesNoise], sc: inject.Scenario, cfg: EvalConfig, day_sd: list[float], rng: np.random.Generator
) -> list[dict]:
    """Per channel (same days, same day shocks, same process draws): each day's asv run and its
    session (day, anchor, anchor rounds, head rounds), over ``cfg.before + cfg.after`` days."""
    n_days = cfg.before + cfg.after
    shocks = rng.standard_normal(n_days)
    seeds = rng.integers(0, 2**63, (n_days, 3))  # one draw per day and role, shared by the channels
    out = []
    for s, sd in zip(series, day_sd):
        centre = s.centre()
        runs, sessions = [], []
        for d in range(n_days):
            e = sd * shocks[d]
            runs.append(
                day_processes(s, centre, sc, d, cfg.before, cfg.commit_rounds, e, np.random.default_rng(seeds[d, 0]))
            )
            if d == 0:
                continue
            a = max(0, d - cfg.anchor_lag)
            base = day_processes(
                s, centre, sc, a, cfg.before, cfg.session_rounds, e, np.random.default_rng(seeds[d, 1])
            )
            head = day_processes(
                s, centre, sc, d, cfg.before, cfg.session_rounds, e, np.random.default_rng(seeds[d, 2])
            )
            sessions.append((d, a, np.array([np.median(p) for p in base]), np.array([np.median(p) for p in head])))
        out.append({"runs": runs, "sessions": sessions})
    return out


def known_rounds(days: dict, known: int) -> list[np.ndarray]:
    """Every round of commits 0..known-1 measured on days 0..known-1 (asv runs and sessions)."""
    per = [[float(np.median(p)) for p in procs] for procs in days["runs"][:known]]
    for d, a, base, head in days["sessions"]:
        if d < known:
            per[a] += list(base)
            per[d] += list(head)
    return [np.array(r) for r in per]


def detect(method: str, days: dict, known: int) -> list[int]:
    """First commits after each regression ``method`` reports from the first ``known`` days."""
    from tools.detect import history, sessions

    daily = [np.concatenate(procs) for procs in days["runs"][:known]]
    if method == "ours, pooled":
        per = known_rounds(days, known)
        found = history.regressed(history.detect_series([float(np.median(r)) for r in per], rounds=per))
        return [int(f.evidence.position) for f in found]
    if method == "ours, sessions":
        held = [sessions.Session(a, d, base, head) for d, a, base, head in days["sessions"] if d < known]
        return [int(f.evidence.position) for f in history.regressed(sessions.detect_sessions(known, held))]
    if method == "asv step_detect":
        return baselines.asv_history_regressions(daily)
    if method == "Otava":
        return baselines.otava_regressions([float(np.median(c)) for c in daily])
    raise ValueError(f"unknown daily-history method {method!r}")


def run_daily(corpus: NoiseCorpus, cfg: EvalConfig, names: list[str], notes: list[str]) -> pd.DataFrame:
    """One record per trial, channel and method: false alarms (A/A) or the first k that found it."""
    methods = [m for m in METHODS if m != "Otava" or baselines.otava_available() is None]
    if "Otava" not in methods:
        notes.append("daily history: Otava not evaluated (not installed)")
    records = []
    for ci, sc in enumerate([inject.AA, *inject.STEPS]):
        rng = np.random.default_rng([cfg.seed, ci, 5])
        for t in range(cfg.daily_trials):
            name = names[t % len(names)]
            channels = [("wall", corpus.series[name])]
            twin = twin_of_series(corpus, name) if cfg.relative else None
            if twin is not None:
                channels.append((RELATIVE, twin))
            sds = [cfg.day_sd_of(ch) for ch, _ in channels]
            sims = simulate_days([s for _, s in channels], sc, cfg, sds, rng)
            trial = {"scenario": sc.name, "kind": sc.kind, "pct": sc.pct, "trial": t}
            for (channel, _), days, sd in zip(channels, sims, sds):
                for method in methods:
                    rec = {"series": name, "channel": channel, "day_sd": sd, **trial, "method": method}
                    records.append({**rec, **score_history(functools.partial(detect, method, days), sc, cfg)})
    return pd.DataFrame.from_records(records)


def daily_table(df: pd.DataFrame, cfg: EvalConfig) -> pd.DataFrame:
    """Per channel and method: A/A histories with an alarm; per step, share found within ``FOUND_WITHIN`` days."""
    if df is None or df.empty:
        return pd.DataFrame()
    rows = []
    for (channel, method), g in df.groupby(["channel", "method"], sort=False):
        aa = g[g.kind == "none"]
        row = {
            "channel": channel,
            "day sd": f"{100 * g.day_sd.iloc[0]:g}%",
            "method": method,
            f"A/A histories with a false alarm ({cfg.before + cfg.after} days)": histories_with_alarm(aa.false_alarms),
        }
        for sc in inject.STEPS:
            h = g[g.scenario == sc.name]
            med, det, _ = commits_to_detection(list(h.first_k))
            k = f"median {med:g}" if det else "never"
            row[f"{sc.name} ≤ {FOUND_WITHIN} days; median k"] = f"{found_within(h.first_k).fmt()}; {k}"
        rows.append(row)
    return pd.DataFrame(rows)
