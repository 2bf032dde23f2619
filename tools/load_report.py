"""The load section of the reports: pure functions of a ``load_results_<ts>.csv`` table.

The CSV (written by ``scripts/load_test.sh``) has a row per target × user count. Targets:
``direct`` (the mock backend itself, the floor), ``gateway`` (this gateway) and, when it was
loaded, ``litellm``. From it: the raw table, and the side-by-side table of what matters for a
gateway: RPS per gateway core (requests per CPU-second of the gateway's processes) and the
latency it adds (its percentiles minus the direct ones at the same user count, same run).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from tools.errors import ToolError
from tools.render import md_code, md_table

COLUMNS = [
    "target",
    "users",
    "requests",
    "failures",
    "rps",
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "overhead_p50_ms",
    "overhead_p95_ms",
    "overhead_p99_ms",
    "cpu_pct",
    "rss_mb",
]
FLOOR = "direct"
CHECK_USERS = 8  # the added-p99 comparison is made at this user count
TARGET_RATIO = 5.0  # the gateway's goal against LiteLLM: 5x RPS per core, 1/5 of the added p99


def newest_load_csv(load_dir: Path) -> Path | None:
    found = sorted(Path(load_dir).glob("load_results_*.csv"))
    return found[-1] if found else None


def read_load_csv(path: Path) -> pd.DataFrame:
    """The table; ToolError naming what is wrong with an unreadable or malformed file."""
    try:
        df = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise ToolError(f"{path}: not a readable load results CSV ({exc})") from None
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ToolError(f"{path}: missing column(s) {', '.join(missing)}")
    if df.empty:
        raise ToolError(f"{path}: no rows")
    return df[COLUMNS]


def read_meta(csv_path: Path) -> dict:
    meta = Path(csv_path).with_suffix(".json")
    try:
        return json.loads(meta.read_text())
    except (OSError, ValueError):
        return {}


def rps_per_core(row: pd.Series) -> float:
    return row["rps"] / (row["cpu_pct"] / 100) if row["cpu_pct"] > 0 else math.nan


def side_by_side(df: pd.DataFrame) -> pd.DataFrame:
    """Per gateway target and user count: RPS, RPS per core, added p50/p95/p99 vs direct."""
    floor = df[df["target"] == FLOOR].set_index("users")
    rows = []
    for _, r in df[df["target"] != FLOOR].iterrows():
        base = floor.loc[r["users"]] if r["users"] in floor.index else None
        added = [r[f"p{q}_ms"] - base[f"p{q}_ms"] if base is not None else math.nan for q in (50, 95, 99)]
        rows.append([r["target"], int(r["users"]), r["rps"], r["cpu_pct"], rps_per_core(r), *added])
    cols = ["target", "users", "rps", "cpu_pct", "rps_per_core", "added_p50_ms", "added_p95_ms", "added_p99_ms"]
    return pd.DataFrame(rows, columns=cols)


def _fmt(value: float, digits: int = 1) -> str:
    return "—" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:,.{digits}f}"


def verdict(sbs: pd.DataFrame) -> list[str]:
    """The gateway's goal against LiteLLM, when both were loaded in this run."""
    gw, peer = sbs[sbs["target"] == "gateway"], sbs[sbs["target"] == "litellm"]
    if gw.empty or peer.empty:
        return []
    core = gw["rps_per_core"].max() / peer["rps_per_core"].max()
    lines = [f"- RPS per core, best step of each: gateway / LiteLLM = **{core:.1f}x** (goal ≥ {TARGET_RATIO:g}x)"]
    at = sbs[sbs["users"] == CHECK_USERS].set_index("target")
    if {"gateway", "litellm"} <= set(at.index):
        g, p = at.loc["gateway", "added_p99_ms"], at.loc["litellm", "added_p99_ms"]
        ratio = g / p if p > 0 else math.nan
        lines.append(
            f"- Added p99 at {CHECK_USERS} users: gateway {_fmt(g)} ms, LiteLLM {_fmt(p)} ms, "
            f"ratio **{_fmt(ratio, 2)}** (goal ≤ {1 / TARGET_RATIO:g})"
        )
    return lines


SETTINGS = ("scenario", "duration_s", "locust_workers", "gateway_workers", "mock_latency_ms", "redis", "cpus",
            "loadavg_1m_at_end")  # fmt: skip
STEP_HEADS = ["target", "users", "requests", "failures", "RPS", "p50 ms", "p95 ms", "p99 ms", "overhead p50", "p95",
              "p99", "CPU %", "RSS MB"]  # fmt: skip


def _header_lines(meta: dict, source: str) -> list[str]:
    lines = ["## Load test", ""]
    if meta.get("command"):
        lines += [f"Command: {md_code(meta['command'])} — results {md_code(source)}.", ""]
    settings = [f"{k}={meta[k]}" for k in SETTINGS if k in meta]
    return lines + (["Settings: " + ", ".join(settings) + ".", ""] if settings else [])


def _side_by_side_lines(sbs: pd.DataFrame) -> list[str]:
    if sbs.empty:
        return []
    body = [
        [r.target, r.users, _fmt(r.rps), _fmt(r.cpu_pct, 0), _fmt(r.rps_per_core, 0), _fmt(r.added_p50_ms),
         _fmt(r.added_p95_ms), _fmt(r.added_p99_ms)]
        for r in sbs.itertuples()
    ]  # fmt: skip
    heads = ["gateway", "users", "RPS", "CPU %", "RPS per core", "added p50 ms", "added p95 ms", "added p99 ms"]
    return [
        "Side by side (added = the gateway's percentile minus the direct one at the same user count):",
        "",
        md_table(heads, body, [False] + [True] * 7),
        "",
    ]


def _step_lines(df: pd.DataFrame) -> list[str]:
    raw = [
        [r.target, r.users, r.requests, r.failures, _fmt(r.rps), _fmt(r.p50_ms), _fmt(r.p95_ms), _fmt(r.p99_ms),
         _fmt(r.overhead_p50_ms, 2), _fmt(r.overhead_p95_ms, 2), _fmt(r.overhead_p99_ms, 2), _fmt(r.cpu_pct, 0),
         _fmt(r.rss_mb, 0)]
        for r in df.itertuples()
    ]  # fmt: skip
    return [
        "Every step (overhead: the gateway's own time per request from its response header):",
        "",
        md_table(STEP_HEADS, raw, [False] + [True] * 12),
        "",
    ]


def load_section_md(df: pd.DataFrame, meta: dict, source: str, chart_refs: dict[str, str]) -> list[str]:
    """The Markdown lines of the load section (a ``##`` heading and what follows)."""
    lines = _header_lines(meta, source)
    sbs = side_by_side(df)
    checks = verdict(sbs)
    lines += [*checks, ""] if checks else []
    lines += _side_by_side_lines(sbs)
    for ref, alt in (("load_throughput", "throughput vs users"), ("load_latency", "latency percentiles vs users")):
        if ref in chart_refs:
            lines += [f"![{alt}]({chart_refs[ref]})", ""]
    return lines + _step_lines(df)
