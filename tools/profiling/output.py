"""Write one profile's files: into a hidden staging folder, then renamed into place.

``<out>/<folder>/`` receives ``diff.json``, ``diff.md``, ``base.pstats`` / ``head.pstats`` (or
the one side's) and the flame graphs ``flame-<metric>-<base|head|diff>.svg``. A failure while
writing leaves no folder behind; an older report of the same benchmark is replaced whole.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from tools.profiling import flamegraph
from tools.profiling.markdown import render_md
from tools.profiling.report import TITLES, fmt_for, folder_name, report_json, speed
from tools.profiling.result import METRICS, ProfileResult


def _title(result: ProfileResult, metric: str, what: str) -> str:
    params = f"({result.target.params})" if result.target.params else ""
    return f"{result.target.requested}{params} — {TITLES[metric]} — {what}"


def _lines(result: ProfileResult, metric: str) -> dict:
    lines: dict = {}
    for side in result.sides.values():
        if metric in side.profiles:
            lines.update(side.profiles[metric].lines)
    return lines


def flame_graphs(result: ProfileResult) -> dict[str, dict[str, str]]:
    """{file name: SVG text} of every flame graph, and the JSON index {metric: {which: file}}."""
    files: dict[str, str] = {}
    index: dict[str, dict[str, str]] = {}
    roles = ("base", "head") if result.compared else (result.shown.role,)
    for metric in METRICS:
        profiles = {r: result.sides[r].profiles.get(metric) for r in roles}
        if any(p is None for p in profiles.values()):
            continue
        fmt, lines = fmt_for(metric), _lines(result, metric)
        for role, profile in profiles.items():
            name = f"flame-{metric}-{role}.svg"
            sub = f"{role} {result.sides[role].commit[:12]}: {fmt(profile.total)} per call, {profile.calls:,} calls"
            files[name] = flamegraph.side_svg(
                profile.stacks, title=_title(result, metric, role), subtitle=sub, fmt=fmt, lines=lines
            )
            index.setdefault(metric, {})[role] = name
        if result.compared:
            name = f"flame-{metric}-diff.svg"
            files[name] = _diff_graph(result, metric, profiles["base"], profiles["head"], lines)
            index[metric]["diff"] = name
    return {"files": files, "index": index}


def _diff_graph(result: ProfileResult, metric: str, base, head, lines: dict) -> str:
    """The differential flame graph; for time the head is divided by its speed factor, as in
    the tables, so a process that ran slower overall does not colour every frame red."""
    fmt = fmt_for(metric)
    factor = speed(result) if metric == "time" else 1.0
    stacks = {k: v / factor for k, v in head.stacks.items()} if factor != 1.0 else head.stacks
    sub = f"head {fmt(head.total / factor)} vs base {fmt(base.total)} per call; red: own cost grew, blue: shrank"
    if factor != 1.0:
        sub += f"; head ÷ its speed factor {factor:.3f}"
    title = _title(result, metric, "base → head")
    return flamegraph.diff_svg(base.stacks, stacks, title=title, subtitle=sub, fmt=fmt, lines=lines)


def write_profile(result: ProfileResult, out_dir: Path) -> Path:
    """Write every file of ``result`` into ``out_dir/<folder>``; returns that folder."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / folder_name(result)
    graphs = flame_graphs(result)
    doc = report_json(result, graphs["index"])
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=out_dir))
    try:
        for name, text in graphs["files"].items():
            (stage / name).write_text(text, encoding="utf-8")
        for role, side in result.sides.items():
            if side.pstats is not None:
                (stage / f"{role}.pstats").write_bytes(side.pstats)
        (stage / "diff.json").write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n", encoding="utf-8")
        (stage / "diff.md").write_text(render_md(doc) + "\n", encoding="utf-8")
        os.chmod(stage, 0o755)  # mkdtemp makes 0700; outputs are ordinary folders
        _replace_dir(stage, target)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return target


def _replace_dir(stage: Path, target: Path) -> None:
    """Rename ``stage`` onto ``target``; an existing ``target`` is moved aside first, then removed."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    os.replace(stage, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
