"""The dashboard's data: a pure function of the tidy table and the detectors' findings.

``build_data(table, detection, extras)`` returns ``{"meta": ..., "points": ...}``, both JSON-able
and columnar (a dict of equal-length lists per table, indices between tables):

* ``commits`` — every commit with results, in history order (``commit_order``, else date);
* ``envs`` — machine + environment pairs; ``families`` — workloads (``families.family_of``);
  ``benchmarks`` — asv benchmarks with their family, channel label, unit and parameter names;
* ``series`` — benchmark x params x machine + environment, with its verdict at the newest commit
  (index into ``findings``), its noise and the fragment of its graph in the asv site;
* ``findings`` — pairwise verdicts, history change points and anomalies; ``shifts`` — environment
  shifts; ``heads`` — the newest commit and its base per machine + environment;
* ``points`` — per series (``offsets``), one point per commit: the median over the commit's rounds
  and asv's 99% interval (median of the rounds' bounds; the rounds' range when asv gave none).

The format is described in docs/dashboard.md; ``encode`` packs ``points`` for the browser.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tools.dashboard.detection import Detection
from tools.dashboard.families import family_of, labels_of
from tools.detect.finding import Finding
from tools.detect.series import channel_of, usable
from tools.render import graph_link
from tools.schema import SERIES_KEY, component_of, lower_is_better

FORMAT = 1
NOISE_WINDOW = 60  # the noise of a series is read over its newest commits
LOAD_COLUMNS = (
    "target", "users", "requests", "failures", "rps", "p50_ms", "p95_ms", "p99_ms",
    "overhead_p50_ms", "overhead_p95_ms", "overhead_p99_ms", "cpu_pct", "rss_mb",
)  # fmt: skip


@dataclass(frozen=True)
class Extras:
    """What the page shows beside the table: commit messages, links, profiles and load results."""

    messages: Mapping[str, str] = field(default_factory=dict)  # commit -> subject line
    profiles: Mapping[str, Sequence[Mapping]] = field(default_factory=dict)  # benchmark -> [{params, files}]
    load: pd.DataFrame | None = None  # the load-test CSV (LOAD_COLUMNS)
    load_source: str = ""
    asv_site: str = "../index.html"  # the asv site's page, relative to the dashboard or a URL
    commit_url: str = ""  # prefix of a commit's web page (asv's show_commit_url)
    title: str = "Benchmarks"
    generated: str = ""


def _num(x, digits: int = 6):
    """A JSON number (rounded to ``digits`` significant digits) or None for NaN / missing."""
    if x is None or isinstance(x, (str, bytes)):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return float(f"{v:.{digits}g}") if math.isfinite(v) else None


def _nums(values, digits: int = 6) -> list:
    return [_num(v, digits) for v in values]


# ---------------------------------------------------------------- commits and points


def commit_table(table: pd.DataFrame) -> pd.DataFrame:
    """One row per commit (``commit``, ``date``), oldest first: history order, then date, then run."""
    t = table.assign(commit=table["commit"].astype(str))
    agg = {"date": ("commit_date", "min"), "started": ("started_at", "max")}
    keys = ["date", "started"]
    if "commit_order" in t.columns:
        agg["order"] = ("commit_order", "min")
        keys = ["order", *keys]
    per = t.groupby("commit", sort=False).agg(**agg).reset_index()
    return per.sort_values([*keys, "commit"], kind="stable", na_position="first").reset_index(drop=True)


def point_table(table: pd.DataFrame, commit_index: Mapping[str, int]) -> pd.DataFrame:
    """One row per series x commit: ``value`` (median over rounds), ``lo``/``hi`` and ``c`` (commit
    index), sorted by series then commit."""
    t = usable(table)
    t = t.assign(**{k: t[k].astype(str) for k in [*SERIES_KEY, "commit"]})
    g = t.groupby([*SERIES_KEY, "commit"], sort=False)
    per = g.agg(
        value=("value", "median"), lo=("ci_low", "median"), hi=("ci_high", "median"),
        vmin=("value", "min"), vmax=("value", "max"), n=("value", "size"),
    ).reset_index()  # fmt: skip
    several = per["n"] > 1
    per["lo"] = per["lo"].where(per["lo"].notna() | ~several, per["vmin"])
    per["hi"] = per["hi"].where(per["hi"].notna() | ~several, per["vmax"])
    per["c"] = per["commit"].map(commit_index).astype(np.int64)
    return per.sort_values([*SERIES_KEY, "c"], kind="stable").reset_index(drop=True)


def noise_pct(values: np.ndarray) -> float:
    """A series' commit-to-commit noise in %: the robust sd (1.4826 MAD) of the log-changes between
    consecutive commits over the newest ``NOISE_WINDOW``, divided by sqrt(2) (each change holds the
    noise of two commits); NaN below 5 positive values."""
    v = values[-NOISE_WINDOW:]
    v = v[np.isfinite(v) & (v > 0)]
    if len(v) < 5:
        return math.nan
    d = np.diff(np.log(v))
    return float(100.0 * 1.4826 * np.median(np.abs(d - np.median(d))) / math.sqrt(2))


# ---------------------------------------------------------------- the dimension tables


def _benchmark_tables(table: pd.DataFrame, names: list[str]) -> tuple[dict, dict]:
    """(benchmarks, families) columns for ``names`` (sorted)."""
    first = table.drop_duplicates("benchmark").assign(benchmark=lambda d: d["benchmark"].astype(str))
    meta = first.set_index("benchmark")[["type", "unit"]].astype(str).to_dict("index")
    known = table.attrs.get("benchmarks") or {}
    fam_names = sorted({family_of(b) for b in names})
    fam_index = {f: i for i, f in enumerate(fam_names)}
    members: dict[str, list[int]] = {}
    for i, b in enumerate(names):
        members.setdefault(family_of(b), []).append(i)
    labels = [""] * len(names)
    for idx in members.values():
        for i, label in zip(idx, labels_of([(names[i], meta[names[i]]["type"], meta[names[i]]["unit"]) for i in idx])):
            labels[i] = label
    benchmarks = {
        "name": names,
        "family": [fam_index[family_of(b)] for b in names],
        "label": labels,
        "channel": [channel_of(meta[b]["type"], meta[b]["unit"]) for b in names],
        "type": [meta[b]["type"] for b in names],
        "unit": [meta[b]["unit"] for b in names],
        "lower_is_better": [lower_is_better(meta[b]["type"], meta[b]["unit"]) for b in names],
        "param_names": [list((known.get(b) or {}).get("param_names") or []) for b in names],
    }
    families = {"name": fam_names, "component": [component_of(names[members[f][0]]) for f in fam_names]}
    return benchmarks, families


def _series_frame(points: pd.DataFrame) -> pd.DataFrame:
    """One row per series (in the points' order) with its first and last point."""
    key = points[SERIES_KEY]
    if key.empty:
        return key.assign(start=pd.Series(dtype=np.int64), stop=pd.Series(dtype=np.int64))
    starts = np.flatnonzero(np.r_[True, (key.iloc[1:].to_numpy() != key.iloc[:-1].to_numpy()).any(axis=1)])
    frame = key.iloc[starts].reset_index(drop=True)
    frame["start"] = starts
    frame["stop"] = np.r_[starts[1:], len(points)]
    return frame


def _param_values(table: pd.DataFrame) -> dict[tuple[str, str], tuple]:
    pairs = table.drop_duplicates(["benchmark", "params"])
    return dict(zip(zip(pairs["benchmark"].astype(str), pairs["params"].astype(str)), pairs["param_values"]))


def _series_columns(frame, points, env_index, bench, pv, pairwise_of) -> dict:
    names = bench["name"]
    b_index = {b: i for i, b in enumerate(names)}
    values = points["value"].to_numpy(float)
    graph = []
    for r in frame.itertuples(index=False):
        i = b_index[r.benchmark]
        link = graph_link("", r.benchmark, r.machine, bench["param_names"][i], pv.get((r.benchmark, r.params)) or ())
        graph.append(link.split("#", 1)[1])
    keys = list(frame[SERIES_KEY].itertuples(index=False, name=None))
    return {
        "env": [env_index[(m, e)] for m, e, *_ in keys],
        "benchmark": [b_index[b] for _, _, b, _ in keys],
        "params": [p for *_, p in keys],
        "graph": graph,
        "noise_pct": _nums([noise_pct(values[a:b]) for a, b in zip(frame["start"], frame["stop"])], 4),
        "last": [int(c) for c in points["c"].to_numpy()[frame["stop"].to_numpy() - 1]] if len(frame) else [],
        "pairwise": [pairwise_of.get(k, -1) for k in keys],
    }


# ---------------------------------------------------------------- findings


def _finding_columns(found: Sequence[Finding], series_index, commit_index) -> tuple[dict, dict]:
    """(findings columns, {series key: index of its pairwise finding}); findings on series that
    have no points are left out."""
    cols = {k: [] for k in ("series", "mode", "verdict", "kind", "change_pct", "ci_low_pct", "ci_high_pct")}
    cols |= {k: [] for k in ("q_value", "before", "after", "rule", "confirmed")}
    pairwise_of = {}
    for f in found:
        key = (str(f.machine), str(f.environment), str(f.benchmark), str(f.params))
        s = series_index.get(key)
        if s is None:
            continue
        if f.mode == "pairwise":
            pairwise_of[key] = len(cols["series"])
        ev = f.evidence
        cols["series"].append(s)
        cols["mode"].append(f.mode)
        cols["verdict"].append("" if f.mode == "anomaly" else f.verdict)
        cols["kind"].append(ev.anomaly or "")
        for k in ("change_pct", "ci_low_pct", "ci_high_pct"):
            cols[k].append(_num(getattr(f, k), 5))
        cols["q_value"].append(_num(f.q_value, 3))
        cols["before"].append(commit_index.get(str(ev.commit_before)) if ev.commit_before else None)
        cols["after"].append(commit_index.get(str(ev.commit_after)) if ev.commit_after else None)
        cols["rule"].append(str(f.rule or ""))
        cols["confirmed"].append(ev.confirmed)
    return cols, pairwise_of


def _shift_columns(detection: Detection, env_index, commit_index) -> dict:
    shifts = [s for s in detection.shifts if (s.machine, s.environment) in env_index]
    return {
        "env": [env_index[(s.machine, s.environment)] for s in shifts],
        "before": [commit_index.get(s.commit_before) for s in shifts],
        "after": [commit_index.get(s.commit_after) for s in shifts],
        "series": [int(s.series) for s in shifts],
        "total": [int(s.total) for s in shifts],
        "median_change_pct": [_num(s.median_change_pct, 4) for s in shifts],
        "components": [list(s.components) for s in shifts],
        "evidence": [list(s.evidence) for s in shifts],
    }


def _heads(found: Sequence[Finding], env_index, commit_index, points, frame) -> dict:
    """Per machine + environment: its newest commit and the base its pairwise verdicts compared with."""
    base = {}
    for f in found:
        if f.mode == "pairwise" and f.evidence.commit_before:
            base.setdefault((str(f.machine), str(f.environment)), commit_index.get(str(f.evidence.commit_before)))
    last = {}
    for r, stop in zip(frame[["machine", "environment"]].itertuples(index=False, name=None), frame["stop"]):
        last[r] = max(last.get(r, -1), int(points["c"].iat[stop - 1]))
    envs = sorted(env_index, key=env_index.get)
    return {
        "env": [env_index[e] for e in envs],
        "head": [last.get(e) for e in envs],
        "base": [base.get(e) for e in envs],
    }


# ---------------------------------------------------------------- load results


def load_columns(load: pd.DataFrame | None) -> dict | None:
    """The load-test table as columns (targets, then users ascending), or None."""
    if load is None or load.empty or "target" not in load.columns or "users" not in load.columns:
        return None
    rows = load.sort_values(["target", "users"], kind="stable")
    out = {}
    for col in LOAD_COLUMNS:
        if col not in rows.columns:
            continue
        out[col] = [str(v) for v in rows[col]] if col == "target" else _nums(rows[col])
    return out


# ---------------------------------------------------------------- the whole


def build_data(table: pd.DataFrame, detection: Detection, extras: Extras = Extras()) -> dict:
    """``{"meta": ..., "points": ...}`` of ``table`` and ``detection`` (see the module docstring)."""
    commits = commit_table(table)
    commit_index = {c: i for i, c in enumerate(commits["commit"])}
    points = point_table(table, commit_index)
    frame = _series_frame(points)
    envs = sorted({(str(m), str(e)) for m, e in zip(frame["machine"], frame["environment"])})
    env_index = {e: i for i, e in enumerate(envs)}
    bench, families = _benchmark_tables(table, sorted(set(frame["benchmark"])))
    keys = list(frame[SERIES_KEY].itertuples(index=False, name=None))
    found, pairwise_of = _finding_columns(detection.findings, {k: i for i, k in enumerate(keys)}, commit_index)
    meta = {
        "format": FORMAT,
        "title": extras.title,
        "generated": extras.generated,
        "source": detection.source,
        "links": {"asv_site": extras.asv_site, "commit_url": extras.commit_url},
        "commits": {
            "hash": list(commits["commit"]),
            "date": [None if pd.isna(d) else int(d.timestamp()) for d in commits["date"]],
            "message": [str(extras.messages.get(c, "")) for c in commits["commit"]],
        },
        "envs": {"machine": [m for m, _ in envs], "environment": [e for _, e in envs]},
        "families": families,
        "benchmarks": bench,
        "series": _series_columns(frame, points, env_index, bench, _param_values(table), pairwise_of),
        "findings": found,
        "shifts": _shift_columns(detection, env_index, commit_index),
        "heads": _heads(detection.findings, env_index, commit_index, points, frame),
        "profiles": {b: [dict(p) for p in v] for b, v in extras.profiles.items() if b in set(bench["name"])},
        "load": load_columns(extras.load),
        "load_source": extras.load_source,
    }
    return {"meta": meta, "points": _points_columns(points, frame)}


def _points_columns(points: pd.DataFrame, frame: pd.DataFrame) -> dict:
    return {
        "offsets": [int(x) for x in frame["start"]] + [len(points)],
        "commit": [int(c) for c in points["c"]],
        "value": _nums(points["value"]),
        "lo": _nums(points["lo"]),
        "hi": _nums(points["hi"]),
    }
