"""Comparisons across commits, environments and machines: two sides -> findings and what differs.

``compare_sides`` picks the two sides (``tools.sides``), pairs their series on benchmark and
parameters (plus whatever is not compared) and judges every series present on both sides with
``tools.detect.pairwise.compare_suite``: one value per round, Hodges–Lehmann ratio with its
interval, Benjamini–Hochberg across the comparison; the same rule as the regression check, B in
the role of head. ``differences`` lists what the two sides were measured with.
``compare_configurations`` does it for every configuration of one commit against a reference.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tools import provenance, sides
from tools.detect import pairwise
from tools.detect.finding import Finding
from tools.detect.verdict import DEFAULT_Q
from tools.schema import SERIES_KEY


@dataclass
class Comparison:
    a: sides.Side
    b: sides.Side
    compared: list[str]  # the dimensions that differ by selection: machine, environment, commit
    findings: list[Finding]
    only_a: list[str]  # series (benchmark(params)) with results on one side only
    only_b: list[str]
    differences: list[dict]  # what / a / b / differs


def _series_names(keys) -> list[str]:
    return sorted(f"{b}({p})" if p else str(b) for _, _, b, p in keys)


def _keys(rows: pd.DataFrame) -> set[tuple]:
    return set(rows[SERIES_KEY].astype(str).itertuples(index=False, name=None))


def pair_rows(
    a: sides.Side, b: sides.Side, compared: Sequence[str], env_pairs: Sequence[tuple[str, str]] = ()
) -> tuple[pd.DataFrame, pd.DataFrame, list, list]:
    """Both sides re-keyed to shared series keys, cut to the series present on both; and the
    series only one side has."""
    la, lb = sides.pair_labels(a, b, compared, env_pairs)
    ra, rb = sides.rekey(a.rows, la), sides.rekey(b.rows, lb)
    ka, kb = _keys(ra), _keys(rb)
    both = ka & kb

    def keep(rows: pd.DataFrame) -> pd.DataFrame:
        mask = [k in both for k in rows[SERIES_KEY].astype(str).itertuples(index=False, name=None)]
        return rows[np.asarray(mask, dtype=bool)] if len(rows) else rows

    return keep(ra), keep(rb), _series_names(ka - kb), _series_names(kb - ka)


def compare_sides(
    table: pd.DataFrame,
    a: sides.Selector,
    b: sides.Selector,
    results_dirs: Sequence[Path],
    *,
    repo=None,
    q: float = DEFAULT_Q,
) -> Comparison:
    """Side A against side B (B plays head: a "regressed" series is worse on B)."""
    pairs = table[["machine", "environment"]].astype(str).drop_duplicates().itertuples(index=False, name=None)
    facts = provenance.environment_facts(results_dirs, list(pairs))
    side_a, side_b, compared, env_pairs = sides.resolve_sides(table, a, b, facts, repo)
    rows_a, rows_b, only_a, only_b = pair_rows(side_a, side_b, compared, env_pairs)
    findings = pairwise.compare_suite(rows_a, rows_b, q=q) if len(rows_a) and len(rows_b) else []
    diffs = differences(_side_facts(results_dirs, side_a), _side_facts(results_dirs, side_b))
    return Comparison(side_a, side_b, compared, findings, only_a, only_b, diffs)


def _side_facts(results_dirs, side: sides.Side) -> list[dict]:
    triples = side.rows[["machine", "commit", "environment"]].astype(str).drop_duplicates()
    return provenance.side_facts(results_dirs, triples.itertuples(index=False, name=None))


FACT_ROWS = (
    ("commit", "commit"), ("machine", "machine"), ("os", "os"), ("arch", "arch"), ("cpu", "cpu"),
    ("cores", "num_cpu"), ("ram", "ram"), ("environment", "environment"), ("python", "python"),
)  # fmt: skip


def _joined(values) -> str:
    vals = sorted({str(v) for v in values if v is not None and str(v) != ""})
    return ", ".join(vals) if vals else "—"


def differences(facts_a: Sequence[Mapping], facts_b: Sequence[Mapping]) -> list[dict]:
    """One row per fact (commit, machine, os, cpu, cores, ram, environment, python, each dependency,
    asv) with both sides' values; rows that differ first."""
    rows = []
    for what, key in FACT_ROWS:
        va, vb = _joined(f.get(key) for f in facts_a), _joined(f.get(key) for f in facts_b)
        if key == "commit":
            va, vb = _joined(str(f.get(key))[:12] for f in facts_a), _joined(str(f.get(key))[:12] for f in facts_b)
        rows.append({"what": what, "a": va, "b": vb})
    deps = sorted({d for f in (*facts_a, *facts_b) for d in (f.get("requirements") or {})})
    for dep in deps:
        va = _joined(_dep_text(f, dep) for f in facts_a)
        vb = _joined(_dep_text(f, dep) for f in facts_b)
        rows.append({"what": dep, "a": va, "b": vb})
    rows.append(
        {"what": "asv", "a": _joined(f.get("asv") for f in facts_a), "b": _joined(f.get("asv") for f in facts_b)}
    )
    for r in rows:
        r["differs"] = r["a"] != r["b"]
    return sorted(rows, key=lambda r: not r["differs"])


def _dep_text(fact: Mapping, dep: str) -> str | None:
    reqs = fact.get("requirements") or {}
    if dep not in reqs:
        return "(not installed)"
    return reqs[dep] or "(unpinned)"


# ---------------------------------------------------------------- configurations of one commit


@dataclass
class ConfigSummary:
    """One configuration of a commit against the reference configuration."""

    machine: str
    environment: str
    differs: list[str]  # "python 3.11 → 3.12", "numpy 2.3.5 → 1.26.4", "machine a → b"
    counts: dict[str, int]
    wall_ratio: float  # geometric mean of B/A medians over wall-time series (nan: none)
    n_series: int
    notable: list[Finding]  # the largest decided differences


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", str(text))[:4])


def configurations(
    rows: pd.DataFrame, facts: Mapping[tuple[str, str], Mapping] | None = None, history: pd.DataFrame | None = None
) -> list[tuple[str, str]]:
    """(machine, environment) of ``rows``, the reference first: the most results; among equals the
    machine with the longest ``history`` (commits with results), then the lowest Python with the
    highest dependency versions (``facts``: (machine, env) -> python/requirements), then by name."""
    ok = rows[~rows["failed"].astype(bool) & ~rows["skipped"].astype(bool)]
    sizes = ok.groupby(["machine", "environment"], observed=True).size()
    hist = history if history is not None else rows
    commits = hist.groupby(hist["machine"].astype(str), observed=True)["commit"].nunique()
    facts = facts or {}

    def key(pair: tuple[str, str]):
        fact = facts.get(pair) or {}
        reqs = fact.get("requirements") or {}
        deps = tuple(tuple(-x for x in _version_key(reqs[d])) for d in sorted(reqs))
        python = _version_key(fact.get("python", ""))
        return (-int(sizes.loc[pair]), -int(commits.get(pair[0], 0)), python, deps, pair)

    return sorted(((str(m), str(e)) for m, e in sizes.index), key=key)


def geometric_ratio(findings: Sequence[Finding], channel: str = "wall") -> float:
    vals = [
        f.head_value / f.base_value for f in findings if f.channel == channel and f.base_value > 0 and f.head_value > 0
    ]
    return float(np.exp(np.mean(np.log(vals)))) if vals else math.nan


def reference_order(rows: pd.DataFrame, results_dirs: Sequence[Path], history=None) -> list[tuple[str, str]]:
    """``configurations`` of ``rows`` with the Python and requirements recorded in their files."""
    pairs = rows[["machine", "environment"]].astype(str).drop_duplicates().itertuples(index=False, name=None)
    return configurations(rows, provenance.environment_facts(results_dirs, list(pairs)), history)


def _config_side(label: str, rows: pd.DataFrame, machine: str, env: str) -> sides.Side:
    mine = rows[(rows["machine"].astype(str) == machine) & (rows["environment"].astype(str) == env)]
    sel = sides.Selector(f"machine={machine},env={env}", env=env, machine=machine)
    return sides.Side(label, sel, mine, {d: sorted(mine[d].astype(str).unique()) for d in sides.DIMS})


def _notable(findings: Sequence[Finding], n: int) -> list[Finding]:
    decided = [f for f in findings if f.changed and math.isfinite(f.change_pct)]
    return sorted(decided, key=lambda f: (-abs(f.change_pct), f.benchmark, f.params))[:n]


def compare_configurations(
    rows: pd.DataFrame,
    results_dirs: Sequence[Path],
    *,
    history: pd.DataFrame | None = None,
    q: float = DEFAULT_Q,
    notable: int = 3,
) -> list[ConfigSummary]:
    """Every configuration (machine x environment) of ``rows`` (one commit) against the reference
    (the first of ``configurations``): [] when there is only one."""
    pairs = reference_order(rows, results_dirs, history)
    if len(pairs) < 2:
        return []
    ref = _config_side("A", rows, *pairs[0])
    ref_facts = _side_facts(results_dirs, ref)
    out = []
    for machine, env in pairs[1:]:
        other = _config_side("B", rows, machine, env)
        compared = [d for d in ("machine", "environment") if ref.values[d] != other.values[d]]
        ra, rb, _, _ = pair_rows(ref, other, compared, [(pairs[0][1], env)])
        found = pairwise.compare_suite(ra, rb, q=q) if len(ra) and len(rb) else []
        diffs = differences(ref_facts, _side_facts(results_dirs, other))
        text = [f"{d['what']} {d['a']} → {d['b']}" for d in diffs if d["differs"] and d["what"] != "environment"]
        counts = {v: sum(f.verdict == v for f in found) for v in ("regressed", "improved", "unchanged", "inconclusive")}
        out.append(
            ConfigSummary(machine, env, text, counts, geometric_ratio(found), len(found), _notable(found, notable))
        )
    return out
