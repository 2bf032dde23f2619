"""The two sides of a comparison: which results a selector picks, and how their series pair up.

A selector is ``key=value`` pairs joined by commas: ``commit=REV``, ``env=NAME`` (exact, else the
environments whose name contains it), ``python=3.12``, ``dep=numpy==2.x`` (the version's leading
components: ``2.x``, ``2.*`` and ``2`` take every 2.*, ``2.3.5`` only that; ``dep=numpy``: any
pinned version), ``machine=NAME``, e.g. ``python=3.11,dep=numpy==1.26.4``.

What the two selectors name is what is *compared*: a commit, a machine, an environment (env,
python and dep all pick environments). Every other dimension is *paired*: both sides are taken at
the newest commit with results on both (unless a commit is compared), and a series is matched
across the sides on its benchmark and parameters plus the paired dimensions. A compared commit or
machine must hold one value per side; compared environments are paired by everything the
selectors do not name (``python=3.11`` vs ``python=3.12``: numpy 2.3.5 with numpy 2.3.5), and two
environments of one side that only differ in what is named would be mixed: the error says how to
pick one. ``rekey`` then writes one label into the compared columns of both sides (``A → B``), so
``tools.detect.pairwise.compare_suite`` pairs the series as if they were two commits.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from tools.errors import ToolError
from tools.loader import commits_with_results
from tools.revisions import newest_commit, resolve_revision

KEYS = ("commit", "env", "python", "dep", "machine")
DIMS = ("machine", "environment", "commit")  # the table columns a selector can compare
_DEP = re.compile(r"^([A-Za-z0-9_.+-]+?)\s*(?:(?:==|=)\s*(\S+))?$")
_HINT = {"machine": "machine=NAME", "environment": "env=NAME (or python= / dep=)", "commit": "commit=REV"}


@dataclass(frozen=True)
class Selector:
    text: str
    commit: str | None = None
    env: str | None = None
    python: str | None = None
    deps: tuple[tuple[str, str | None], ...] = ()
    machine: str | None = None

    @property
    def dims(self) -> set[str]:
        """The table columns this selector constrains."""
        out = {"commit"} if self.commit else set()
        out |= {"machine"} if self.machine else set()
        return out | ({"environment"} if self.env or self.python or self.deps else set())


def parse_selector(text: str) -> Selector:
    """``"python=3.11,dep=numpy==2.x"`` -> Selector; ToolError naming what is wrong."""
    fields: dict[str, str] = {}
    deps: list[tuple[str, str | None]] = []
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    if not parts:
        raise ToolError(f"empty selector {text!r}: expected e.g. commit=HEAD, env=NAME, python=3.12, dep=numpy==2.x")
    for part in parts:
        key, sep, value = part.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep or not value or key not in KEYS:
            raise ToolError(f"selector {text!r}: {part!r} is not one of {', '.join(k + '=…' for k in KEYS)}")
        if key == "dep":
            m = _DEP.match(value)
            if not m:
                raise ToolError(f"selector {text!r}: dep={value!r}: expected NAME or NAME==VERSION (e.g. numpy==2.x)")
            deps.append((m.group(1).lower(), m.group(2)))
        elif key in fields:
            raise ToolError(f"selector {text!r}: {key}= given twice")
        else:
            fields[key] = value
    return Selector(str(text), deps=tuple(deps), **fields)


def version_matches(recorded: str, pattern: str | None) -> bool:
    """Whether ``pattern``'s components lead ``recorded``'s: ``2``, ``2.x``, ``2.*`` match 2.3.5,
    ``2.3.5`` only itself; None matches any pinned (non-empty) version."""
    if pattern is None:
        return bool(recorded)
    wild = re.sub(r"\.?[x*]$", "", pattern)
    return bool(wild) and (recorded == wild or recorded.startswith(wild + "."))


def _env_ok(sel: Selector, fact: Mapping) -> bool:
    if sel.python and not version_matches(str(fact.get("python", "")), sel.python):
        return False
    reqs = {str(k).lower(): str(v) for k, v in (fact.get("requirements") or {}).items()}
    return all(name in reqs and version_matches(reqs[name], pattern) for name, pattern in sel.deps)


def matching_environments(sel: Selector, envs: Sequence[str], facts: Mapping[tuple[str, str], Mapping]) -> list[str]:
    """The environments ``sel`` picks among ``envs`` (facts: (machine, env) -> python/requirements)."""
    chosen = list(envs)
    if sel.env:
        exact = [e for e in chosen if e == sel.env]
        chosen = exact or [e for e in chosen if sel.env in e]
    if sel.python or sel.deps:
        by_env: dict[str, list[Mapping]] = {}
        for (_, env), fact in facts.items():
            by_env.setdefault(env, []).append(fact)
        chosen = [e for e in chosen if any(_env_ok(sel, f) for f in by_env.get(e, []))]
    return chosen


def _describe_envs(envs: Sequence[str], facts: Mapping) -> str:
    seen = {}
    for (_, env), fact in facts.items():
        if env in envs and env not in seen:
            reqs = ", ".join(f"{k}=={v}" if v else k for k, v in sorted((fact.get("requirements") or {}).items()))
            seen[env] = f"{env} (python {fact.get('python') or '?'}; {reqs or 'no requirements'})"
    return "; ".join(seen.get(e, e) for e in sorted(envs))


def select_rows(table: pd.DataFrame, sel: Selector, facts: Mapping, repo=None) -> pd.DataFrame:
    """The rows ``sel`` picks (every commit unless it names one); ToolError when none."""
    rows = table
    if sel.machine:
        machines = sorted(table["machine"].astype(str).unique())
        rows = rows[rows["machine"].astype(str) == sel.machine]
        if rows.empty:
            raise ToolError(f"{sel.text}: no results for machine {sel.machine!r} (machines: {', '.join(machines)})")
    if sel.env or sel.python or sel.deps:
        envs = sorted(rows["environment"].astype(str).unique())
        chosen = matching_environments(sel, envs, facts)
        if not chosen:
            raise ToolError(f"{sel.text}: no environment matches; the environments are: {_describe_envs(envs, facts)}")
        rows = rows[rows["environment"].astype(str).isin(chosen)]
    if sel.commit:
        commit = resolve_revision(sel.commit, table, repo)
        rows = rows[rows["commit"].astype(str) == commit]
        if rows.empty:
            raise ToolError(f"{sel.text}: no results for commit {commit[:12]} in the other dimensions it names")
    return rows


@dataclass
class Side:
    """One side of a comparison: its selector and rows (one commit, after ``resolve_sides``)."""

    label: str  # "A" or "B"
    selector: Selector
    rows: pd.DataFrame
    values: dict[str, list[str]] = field(default_factory=dict)  # dim -> its values on this side

    def value(self, dim: str) -> str:
        return ", ".join(self.values.get(dim) or ["—"])


def _values(rows: pd.DataFrame, dim: str) -> list[str]:
    return sorted(rows[dim].astype(str).unique())


def common_commit(a: pd.DataFrame, b: pd.DataFrame, table: pd.DataFrame) -> str | None:
    """The newest commit (history order) with results on both sides."""
    both = set(commits_with_results(a)["commit"].astype(str)) & set(commits_with_results(b)["commit"].astype(str))
    ordered = [c for c in commits_with_results(table)["commit"].astype(str) if c in both]
    return ordered[-1] if ordered else None


def _at_commits(a: pd.DataFrame, b: pd.DataFrame, table: pd.DataFrame, compared: set[str], sels) -> tuple:
    if "commit" not in compared:
        commit = common_commit(a, b, table)
        if commit is None:
            raise ToolError(
                f"no commit has results on both sides ({sels[0].text} / {sels[1].text}): name one with commit=REV on each"
            )
        return a[a["commit"].astype(str) == commit], b[b["commit"].astype(str) == commit]
    picked = []
    for rows, sel in zip((a, b), sels):
        if not sel.commit:  # the newest commit of this side
            rows = rows[rows["commit"].astype(str) == newest_commit(rows)]
        picked.append(rows)
    return tuple(picked)


def _signature(env: str, facts: Mapping, named_python: bool, named_deps: set[str]) -> tuple:
    """What an environment is besides what the selectors name: its Python unless a selector names
    one, and every requirement no selector names."""
    fact = next((f for (_, e), f in facts.items() if e == env and f), {})
    reqs = tuple(sorted((k, v) for k, v in (fact.get("requirements") or {}).items() if k.lower() not in named_deps))
    return (None if named_python else fact.get("python"), reqs)


def pair_environments(a: Side, b: Side, facts: Mapping) -> list[tuple[str, str]]:
    """(environment of A, environment of B) pairs that agree in everything the selectors do not
    name: ``python=3.11`` vs ``python=3.12`` pairs numpy 2.3.5 with numpy 2.3.5."""
    envs_a, envs_b = a.values["environment"], b.values["environment"]
    if len(envs_a) == 1 and len(envs_b) == 1:
        return [(envs_a[0], envs_b[0])]
    named_python = bool(a.selector.python or b.selector.python)
    named_deps = {name for sel in (a.selector, b.selector) for name, _ in sel.deps}
    by_sig: dict[tuple, tuple[list[str], list[str]]] = {}
    for i, envs in enumerate((envs_a, envs_b)):
        for env in envs:
            by_sig.setdefault(_signature(env, facts, named_python, named_deps), ([], []))[i].append(env)
    for side, i in ((a, 0), (b, 1)):
        crowded = [envs[i] for envs in by_sig.values() if len(envs[i]) > 1 and envs[1 - i]]
        if crowded:
            raise ToolError(
                f"side {side.label} ({side.selector.text}) holds {len(crowded[0])} environments that differ only in "
                f"what the selectors name ({', '.join(crowded[0])}): they would be mixed; pick one with {_HINT['environment']}"
            )
    pairs = sorted((ea[0], eb[0]) for ea, eb in by_sig.values() if ea and eb)
    if not pairs:
        raise ToolError(
            f"no environment of {a.selector.text} ({', '.join(envs_a)}) matches one of {b.selector.text} "
            f"({', '.join(envs_b)}) in everything else (Python, other requirements): name one on each side with env="
        )
    return pairs


def _keep_envs(side: Side, envs: set[str]) -> Side:
    rows = side.rows[side.rows["environment"].astype(str).isin(envs)]
    return Side(side.label, side.selector, rows, {d: _values(rows, d) for d in DIMS})


def resolve_sides(table: pd.DataFrame, a: Selector, b: Selector, facts: Mapping, repo=None) -> tuple:
    """(side A, side B, compared dimensions, environment pairs): each side at one commit and one
    machine when machines are compared; environments paired by ``pair_environments`` when compared."""
    compared = a.dims | b.dims
    rows_a, rows_b = _at_commits(
        select_rows(table, a, facts, repo), select_rows(table, b, facts, repo), table, compared, (a, b)
    )
    side_a = Side("A", a, rows_a, {d: _values(rows_a, d) for d in DIMS})
    side_b = Side("B", b, rows_b, {d: _values(rows_b, d) for d in DIMS})
    for side in (side_a, side_b):
        for dim in (d for d in ("machine", "commit") if d in compared and len(side.values[d]) > 1):
            raise ToolError(
                f"side {side.label} ({side.selector.text}) holds {len(side.values[dim])} {dim}s ({side.value(dim)}): "
                f"they would be mixed; pick one with {_HINT[dim]}"
            )
    pairs = pair_environments(side_a, side_b, facts) if "environment" in compared else []
    if pairs:
        side_a, side_b = _keep_envs(side_a, {p[0] for p in pairs}), _keep_envs(side_b, {p[1] for p in pairs})
    if all(side_a.values[d] == side_b.values[d] for d in DIMS):
        raise ToolError(f"{a.text} and {b.text} select the same results: nothing to compare")
    return side_a, side_b, [d for d in DIMS if d in compared], pairs


def pair_labels(a: Side, b: Side, compared: Sequence[str], env_pairs: Sequence[tuple[str, str]]) -> tuple[dict, dict]:
    """{column: {value: label}} for side A and side B: the compared machine reads ``a → b`` on both
    sides, and so does each pair of compared environments."""
    la: dict[str, dict[str, str]] = {}
    lb: dict[str, dict[str, str]] = {}
    if "machine" in compared:
        ma, mb = a.value("machine"), b.value("machine")
        label = ma if ma == mb else f"{ma} → {mb}"
        la["machine"], lb["machine"] = {ma: label}, {mb: label}
    if "environment" in compared:
        la["environment"] = {ea: (ea if ea == eb else f"{ea} → {eb}") for ea, eb in env_pairs}
        lb["environment"] = {eb: (ea if ea == eb else f"{ea} → {eb}") for ea, eb in env_pairs}
    return la, lb


def rekey(rows: pd.DataFrame, labels: Mapping[str, Mapping[str, str]]) -> pd.DataFrame:
    """``rows`` with the values of each column of ``labels`` (the compared machine / environment)
    replaced by their label, so a series of side A and its twin on side B share one series key."""
    out = rows.copy()
    for column, mapping in labels.items():
        out[column] = out[column].astype(str).map(lambda v, m=mapping: m.get(v, v))
    return out
