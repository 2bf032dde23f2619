"""The history part of the regression report: change points, environment shifts, anomalies.

``build_history`` analyses every machine + environment of a results table (with the kept
interleaved rounds): change points (``detect.history``, ``detect.sessions``), the environment
shifts among them (``detect.shifts``: those blame no commit), anomalies (``detect.anomalies``).
The result, ``HistoryResult``, is rendered here as Markdown lines and JSON. Change points blamed
on a commit get an ``asv find`` recommendation; environment shifts never do.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from tools.detect import anomalies, finding, history, sessions, shifts
from tools.detect.finding import Finding
from tools.detect.series import machine_environments, on_series
from tools.detect.shifts import Shift
from tools.humanize import human_interval, human_pct
from tools.render import json_record, md_code, md_table, short_name

HISTORY_RECORD = [*finding.HISTORY_COLUMNS, "param_values"]
MIN_COMMITS = 8  # per machine + environment: fewer cannot show a level before and after a step
TOO_NOISY_SHOWN = 10  # the noisiest series listed; the rest counted

Recommend = Callable[[dict, str, str], dict]  # (change point record, before, after) -> commands and links


@dataclass(frozen=True)
class HistoryResult:
    """The history's verdicts: change points blamed on commits, the shifts that explain the others."""

    note: str
    changes: tuple[Finding, ...] | None = None  # None: the history was not analysed
    shifts: tuple[Shift, ...] = ()
    attributed: tuple[Finding, ...] = ()  # change points a shift explains: blamed on no commit
    anomalies: tuple[Finding, ...] = field(default=())

    @property
    def explained(self) -> int:
        return len(self.attributed)

    def count(self, verdict: str) -> int:
        return sum(f.verdict == verdict for f in self.changes or ())


# ---------------------------------------------------------------- the analysis


def history_rows(table: pd.DataFrame, rounds: pd.DataFrame | None) -> tuple[pd.DataFrame, int]:
    """The history's rows (only commits on the branch when its order is known), plus the
    interleaved rounds of commits already in that history: a commit re-measured as base or head
    then counts every round."""
    rows = table[table["commit_order"].notna()] if "commit_order" in table.columns else table
    if rounds is None or rounds.empty:
        return rows, 0
    extra = on_series(rounds, machine_environments(rows))
    extra = extra[extra["commit"].astype(str).isin(set(rows["commit"].astype(str)))]
    if extra.empty:
        return rows, 0
    return pd.concat([rows, extra[[c for c in rows.columns if c in extra.columns]]], ignore_index=True), len(extra)


def _long_enough(rows: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The rows of machine + environments with at least MIN_COMMITS commits, and the others named."""
    n = rows.groupby(["machine", "environment"], observed=True)["commit"].nunique()
    keep = [(str(m), str(e)) for (m, e), k in n.items() if k >= MIN_COMMITS]
    short = [f"{m} / {e} ({k})" for (m, e), k in n.items() if 0 < k < MIN_COMMITS]
    return on_series(rows, keep), short


def _placeable_sessions(rows: pd.DataFrame, kept: pd.DataFrame) -> int:
    in_history = set(rows["commit"].astype(str))
    return sum(sessions.placeable(set(c.astype(str)), in_history) for _, c in kept.groupby("session")["commit"])


def _with_param_values(found: list[Finding], rows: pd.DataFrame) -> list[Finding]:
    """History findings with their parameter values (for the asv find / profile regexes)."""
    if "param_values" not in rows.columns:
        return found
    lookup = dict(zip(zip(rows["benchmark"].astype(str), rows["params"].astype(str)), rows["param_values"]))
    return [f.replace(param_values=lookup.get((str(f.benchmark), str(f.params)), ())) for f in found]


def _one_per_step(found: list[Finding]) -> list[Finding]:
    """A step found by both the pooled rounds and the sessions is one change point: the pooled one,
    located at a commit, is kept when it lies in the range of the sessions straddling the step."""
    series = lambda f: (f.machine, f.environment, f.benchmark, f.params)  # noqa: E731
    pooled = [f for f in found if f.mode == "history"]

    def seen(s: Finding) -> bool:
        lo, hi = s.evidence.before_position, s.evidence.position
        return any(series(p) == series(s) and lo < p.evidence.position <= hi for p in pooled)

    return [f for f in found if f.mode != "sessions" or not seen(f)]


def _note(rows: pd.DataFrame, n_extra: int, n_sessions: int, short: list[str], order: str) -> str:
    pairs = rows.groupby(["machine", "environment"], observed=True).ngroups
    text = f"{rows['commit'].nunique()} commits analysed over {pairs} machine / environment series"
    if n_extra:
        text += f", with {n_extra} results of interleaved rounds (every round of a commit is tested)"
    if n_sessions:
        text += (
            f"; steps also judged by within-session comparisons of {n_sessions} interleaved "
            f"session{'s' if n_sessions != 1 else ''} (method 'interleaved sessions': immune to "
            "day-to-day machine differences)"
        )
    text += f" ({order})" if order else ""
    if short:
        text += f"; too few commits (< {MIN_COMMITS}) to analyse: " + ", ".join(short)
    return text + (
        "; changes are located at the commit where the step happened. 'not re-run' means the boundary "
        "commits were not re-measured interleaved (`python -m tools regressions --base <before> --head "
        "<after> --rounds 6` confirms one)."
    )


def build_history(table: pd.DataFrame, rounds: pd.DataFrame | None, *, q: float, confirm=None) -> HistoryResult:
    """Change points, environment shifts and anomalies over every machine + environment of ``table``."""
    order = table.attrs.get("order_note", "")
    rows, n_extra = history_rows(table, rounds)
    rows, short = _long_enough(rows)
    if rows.empty:
        why = ", ".join(short) or "no results"
        return HistoryResult(
            f"History not analysed: at least {MIN_COMMITS} commits per machine / environment needed ({why})."
        )
    found = history.history_suite(rows, q=q)
    kept = on_series(rounds, machine_environments(rows)) if rounds is not None and not rounds.empty else None
    n_sessions = _placeable_sessions(rows, kept) if kept is not None and not kept.empty else 0
    if n_sessions:  # steps judged by within-session comparisons only: free of day-to-day machine effects
        found += sessions.sessions_suite(rows, kept, q=q)
    found = _one_per_step(_with_param_values(found, rows))
    shifted, blamed = shifts.find_shifts(found, rows)
    if confirm is not None:  # re-measure the regressions only: they are what would open an issue
        checked = iter(history.confirmed([f for f in blamed if f.verdict == "regressed"], confirm))
        blamed = [next(checked) if f.verdict == "regressed" else f for f in blamed]
    return HistoryResult(
        note=_note(rows, n_extra, n_sessions, short, order), changes=tuple(blamed), shifts=tuple(shifted),
        attributed=tuple(f for f in found if not any(f is b for b in blamed)), anomalies=tuple(anomalies.anomaly_suite(rows)),
    )  # fmt: skip


# ---------------------------------------------------------------- Markdown


def _fmt_q(q) -> str:
    return f"{q:.3g}" if isinstance(q, float) and math.isfinite(q) else "—"


def _change_table(records) -> str:
    headers = ["machine / env", "benchmark", "params", "channel", "between", "change", "interval", "q"]
    headers += ["verdict", "confirmed", "rule"]
    body = [
        [
            f"{h.machine} / {h.environment}",
            md_code(short_name(h.benchmark)),
            h.params or "—",
            h.channel,
            f"{str(h.commit_before)[:8]}..{str(h.commit_after)[:8]}",
            human_pct(h.change_pct),
            human_interval(h.ci_low_pct, h.ci_high_pct),
            _fmt_q(h.q_value),
            h.verdict,
            {True: "yes", False: "no"}.get(h.confirmed, "not re-run"),
            h.rule,
        ]  # fmt: skip
        for h in records.itertuples()
    ]
    return md_table(headers, body)


def _shift_lines(h: HistoryResult) -> list[str]:
    if not h.shifts:
        return []
    body = [
        [
            f"{s.machine} / {s.environment}",
            f"{s.commit_before[:8]}..{s.commit_after[:8]}",
            f"{s.series} of {s.total}" if s.total else str(s.series),
            ", ".join(s.components) or "—",
            human_pct(s.median_change_pct),
            "; ".join(s.evidence),
        ]  # fmt: skip
        for s in h.shifts
    ]
    table = md_table(["machine / env", "between", "series stepping", "components", "median change", "evidence"], body)
    return [
        "### Environment shifts",
        "",
        "Steps the machine or environment made, not a commit: no commit is blamed for them and there is "
        f"nothing to bisect. {h.explained} change point(s) at these boundaries are attributed to the shifts.",
        "",
        table,
        "",
    ]


def _anomaly_lines(h: HistoryResult) -> list[str]:
    if not h.anomalies:
        return []
    events = [a for a in h.anomalies if a.evidence.anomaly != "too noisy"]
    noisy = sorted((a for a in h.anomalies if a.evidence.anomaly == "too noisy"), key=lambda a: -a.evidence.mde_pct)
    lines = ["### Anomalies in the history", "", "Measurements to read with care; never counted as regressions.", ""]
    if events:
        body = [
            [f"{a.machine} / {a.environment}", md_code(short_name(a.benchmark)), a.params or "—", a.evidence.anomaly,
             str(a.evidence.commit_after or "")[:8], "" if a.evidence.round is None else str(a.evidence.round), a.rule]
            for a in events
        ]  # fmt: skip
        lines += [md_table(["machine / env", "benchmark", "params", "kind", "commit", "round", "detail"], body), ""]
    if noisy:
        shown = ", ".join(
            f"`{short_name(a.benchmark)}`{f' ({a.params})' if a.params else ''} {a.rule}"
            for a in noisy[:TOO_NOISY_SHOWN]
        )
        more = f" and {len(noisy) - TOO_NOISY_SHOWN} more" if len(noisy) > TOO_NOISY_SHOWN else ""
        lines += [f"Too noisy for a 5% step within 5 commits ({len(noisy)} series): {shown}{more}.", ""]
    return lines


def history_markdown(h: HistoryResult | None, recommend: Recommend) -> list[str]:
    """The report's history section."""
    if h is None:
        return []
    lines = ["## History (change points)", "", h.note, ""]
    if h.changes is None:
        return lines
    lines += _shift_lines(h)
    records = finding.frame(h.changes, HISTORY_RECORD)
    if not len(records):
        lines += ["No change points blamed on a commit in the history.", ""]
    else:
        lines += [_change_table(records), ""]
        for _, r in records[records["verdict"] == "regressed"].iterrows():
            rec = recommend(r, str(r["commit_before"]), str(r["commit_after"]))
            params = f" ({r['params']})" if r["params"] else ""
            links = f"[graph]({rec['graph_url']})" + (
                f" · [dashboard]({rec['dashboard_url']})" if "dashboard_url" in rec else ""
            )
            prof = rec.get("profile")
            if prof:
                links += (
                    f" · no profile: {prof['reason']}"
                    if prof.get("reason")
                    else f" · profile: [{prof.get('top') or 'diff'}]({prof['diff']})"
                )
            lines.append(f"- `{short_name(r['benchmark'])}`{params}: `{rec['asv_find']}` · {links}")
        lines.append("")
    return lines + _anomaly_lines(h)


def _shift_json(s: Shift) -> dict:
    return {
        "machine": s.machine, "environment": s.environment, "commit_before": s.commit_before,
        "commit_after": s.commit_after, "series": s.series, "total": s.total, "share": s.share if s.total else None,
        "components": list(s.components), "median_change_pct": s.median_change_pct if math.isfinite(s.median_change_pct) else None,
        "evidence": list(s.evidence),
    }  # fmt: skip


def history_results(h: HistoryResult | None, recommend: Recommend) -> list[dict]:
    """The change points as JSON result rows (mode "history"; regressions with recommendations)."""
    if h is None or not h.changes:
        return []
    records = finding.frame(h.changes, HISTORY_RECORD)
    out = []
    for _, r in records[records["verdict"] == "regressed"].iterrows():
        rec = recommend(r, str(r["commit_before"]), str(r["commit_after"]))
        out.append({**json_record(r), "mode": "history", "recommendations": rec})
    out += [{**json_record(r), "mode": "history"} for _, r in records[records["verdict"] != "regressed"].iterrows()]
    return out


def history_extras(h: HistoryResult | None) -> dict:
    """The JSON keys beside the results: environment shifts and the history's anomalies."""
    if h is None or h.changes is None:
        return {}
    anomalies = [json_record(finding.to_record(a)) for a in h.anomalies]
    return {
        "environment_shifts": [_shift_json(s) for s in h.shifts],
        "explained_by_shifts": h.explained,
        "history_anomalies": anomalies,
    }


def counted(changes: Sequence[Finding]) -> dict[str, int]:
    return {v: sum(f.verdict == v for f in changes) for v in finding.CHANGED}
