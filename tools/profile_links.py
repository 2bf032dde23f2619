"""Profiles of what the regression check flags: produced (bounded) and linked from the reports.

For every regression blamed on a commit — pairwise (base vs head) and history (the commits either
side of a change point) — ``profile_regressions`` asks ``tools.profiling.profile_flagged`` for a
differential profile, at most ``cap`` workloads per run, each within its time budget; a failure to
profile is a reason, never an error. ``ProfileLink`` is what the reports show: the diff's path
(relative to the report) and the top changed function, or why there is no profile.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tools.detect.finding import Finding

DEFAULT_CAP = 3


@dataclass(frozen=True)
class ProfileLink:
    diff: str = ""  # diff.md, relative to the report's folder
    top: str = ""  # the function whose own cost grew most, e.g. "find_models (registry.py:412) +31% time"
    reason: str = ""  # why there is no profile

    def as_json(self) -> dict:
        return {"diff": self.diff or None, "top": self.top or None, "reason": self.reason or None}

    def markdown(self) -> str:
        if self.reason:
            return f"no profile: {self.reason}"
        return f"[{self.top or 'profile'}]({self.diff})"


def key_of(f: Finding) -> tuple[str, str, str, str]:
    """The profile a finding's regression has: its workload at its two commits."""
    if f.mode in ("history", "sessions"):
        return str(f.benchmark), str(f.params), str(f.evidence.commit_before), str(f.evidence.commit_after)
    return str(f.benchmark), str(f.params), "", ""


def _top_text(outcome) -> str:
    for metric in ("time", "bytecodes", "memory"):
        for t in outcome.top:
            if t.metric == metric and t.delta_pct is not None:
                where = f"{Path(t.file).name}:{t.line}" if t.line else Path(t.file).name
                return f"{t.function} ({where}) {t.delta_pct:+.0f}% {metric}"
    return ""


def _link(outcome, reports_dir: Path) -> ProfileLink:
    if not outcome.ok:
        return ProfileLink(reason=str(outcome.reason))
    return ProfileLink(diff=os.path.relpath(outcome.diff_md, reports_dir), top=_top_text(outcome))


def profile_regressions(
    pairwise: Sequence[Finding],
    history: Sequence[Finding],
    base: str | None,
    head: str,
    out_dir: Path,
    reports_dir: Path,
    *,
    cap: int = DEFAULT_CAP,
    config: str | Path | None = None,
) -> dict[tuple[str, str, str, str], ProfileLink]:
    """{``key_of(finding)``: link} for every regressed finding, the worst first, ``cap`` workloads in all."""
    from tools.profiling import profile_flagged

    groups: dict[tuple[str, str], list[Finding]] = {}
    if base:
        groups[(base, head)] = [f for f in pairwise if f.verdict == "regressed"]
    for f in history:
        if f.verdict == "regressed":
            groups.setdefault((str(f.evidence.commit_before), str(f.evidence.commit_after)), []).append(f)
    links: dict[tuple[str, str, str, str], ProfileLink] = {}
    left = cap
    for (before, after), found in groups.items():
        found = sorted(found, key=lambda f: -abs(f.change_pct) if f.change_pct == f.change_pct else 0.0)
        rows = [{"benchmark": f.benchmark, "params": f.params} for f in found]
        folder = Path(out_dir) / f"{before[:8]}-{after[:8]}"
        outcomes = profile_flagged(rows, before, after, folder, cap=max(left, 0), config=config) if rows else {}
        left -= len({o.folder for o in outcomes.values() if o.ok})
        for f in found:
            outcome = outcomes.get((str(f.benchmark), str(f.params)))
            if outcome is not None:
                links[key_of(f)] = _link(outcome, reports_dir)
    return links
