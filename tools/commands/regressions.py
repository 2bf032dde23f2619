"""``python -m tools regressions``: head vs base verdicts -> regression_report_<ts>.{md,html,json}.

Statistics are the detection engineer's (``tools.detect.pairwise.compare_suite``,
``tools.detect.history.history_suite``); this command chooses the commits, gathers the
rows, and writes the report with recommendations. Three ways to get rows per commit:

* stored results (default): what ``asv run`` recorded for base and head — usually one
  round each, which decides instruction counts and memory but leaves wall time
  inconclusive (a 99.5% interval needs >= 6 rounds per side);
* ``--rounds N``: measure base and head now, interleaved, N rounds each
  (``tools.detect.rounds.compare_rounds``), re-running only inconclusive benchmarks;
* ``--rounds-dir DIR``: reuse the ``round-<k>`` folders of an earlier interleaved run.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pandas as pd

from tools.config import add_common_arguments, load_table, settings_from_args, utc_stamp
from tools.detect.pairwise import min_rounds
from tools.errors import ToolError
from tools.io import atomic_write_text
from tools.revisions import head_series, newest_commit, previous_commit, resolve_revision

NAME = "regressions"
HELP = "compare head against base and write regression_report_<ts>.md/.html/.json (exit 1 with --fail-on-regression)"

HISTORY_MIN_COMMITS = 8


def add_arguments(parser) -> None:
    add_common_arguments(parser)
    parser.add_argument(
        "--base",
        metavar="REV",
        help="base revision (default: the previous commit with results on the same machine and environment as head)",
    )
    parser.add_argument("--head", metavar="REV", help="head revision (default: the newest commit with results)")
    parser.add_argument(
        "--base-lag",
        type=int,
        default=1,
        metavar="K",
        help="without --base: compare with the K-th previous commit with results (default 1). "
        "The daily job uses 5: its interleaved session then straddles every step of the "
        "last 5 commits, which history from sessions needs",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=0,
        metavar="N",
        help="measure base and head now, interleaved, N rounds each (>= 6 for a wall-time "
        "interval; 0 = use stored results, the default)",
    )
    parser.add_argument(
        "--extra-rounds",
        type=int,
        default=None,
        metavar="N",
        help="with --rounds: up to N more rounds for inconclusive benchmarks only (default: = --rounds)",
    )
    parser.add_argument("--bench", "-b", default=None, metavar="REGEX", help="with --rounds: only these benchmarks")
    parser.add_argument(
        "--asv-args",
        default="",
        metavar="ARGS",
        help='with --rounds: extra arguments for every asv run, e.g. "--launch-method forkserver"',
    )
    parser.add_argument(
        "--rounds-dir",
        metavar="DIR",
        default=None,
        help="reuse an interleaved run: a folder of round-<k> results dirs (.asv/rounds/<base8>-<head8>)",
    )
    parser.add_argument("--q", type=float, default=0.05, help="false discovery rate across the suite (default 0.05)")
    parser.add_argument(
        "--history",
        action="store_true",
        help=f"also locate change points over the stored history (needs >= {HISTORY_MIN_COMMITS} commits)",
    )
    parser.add_argument(
        "--history-rounds-dir",
        metavar="DIR",
        default=None,
        help="with --history: interleaved rounds to add to the commits they re-measured "
        "(default: .asv/rounds, if it exists)",
    )
    parser.add_argument(
        "--site-url",
        default=None,
        metavar="URL",
        help="asv site root for graph links (default: html_dir from asv.conf.json)",
    )
    parser.add_argument("--fail-on-regression", action="store_true", help="exit 1 when anything regressed (for CI)")
    parser.add_argument(
        "--output",
        metavar="STEM",
        default=None,
        help="output path without suffix (default: <output-dir>/reports/regression_report_<ts>)",
    )


def _side(table: pd.DataFrame, commit: str):
    from tools.regression_report import Side

    dates = table.loc[table["commit"].astype(str) == commit, "commit_date"]
    return Side(commit, dates.min() if len(dates) else None)


def _param_names(table: pd.DataFrame) -> dict[str, list[str]]:
    return {name: list(meta.get("param_names") or []) for name, meta in (table.attrs.get("benchmarks") or {}).items()}


def _stored_pairs(table: pd.DataFrame, args, settings) -> tuple[str, list[tuple[str, str, str]]]:
    """head and [(machine, environment, base)] from the stored results."""
    head = resolve_revision(args.head, table, settings.repo) if args.head else newest_commit(table)
    pairs = head_series(table, head)
    if not pairs:
        raise ToolError(f"no results for head {head[:12]}")
    if args.base:
        base = resolve_revision(args.base, table, settings.repo)
        return head, [(m, e, base) for m, e in pairs]
    lag = getattr(args, "base_lag", 1)
    if lag < 1:
        raise ToolError(f"--base-lag must be 1 or more (got {lag})")
    return head, [(m, e, b) for m, e in pairs if (b := previous_commit(table, head, m, e, lag)) is not None]


def _on_series(table: pd.DataFrame, series) -> pd.DataFrame:
    """The rows of ``table`` on these (machine, environment, ...) series."""
    keep = pd.Series(False, index=table.index)
    for m, e, *_ in series:
        keep |= (table["machine"].astype(str) == m) & (table["environment"].astype(str) == e)
    return table[keep]


def _compare_stored(table: pd.DataFrame, head: str, pairs, q: float) -> pd.DataFrame:
    from tools.detect.pairwise import compare_suite

    parts = []
    by_base: dict[str, list[tuple[str, str]]] = {}
    for m, e, b in pairs:
        by_base.setdefault(b, []).append((m, e))
    for base, series in by_base.items():
        rows = _on_series(table, series)
        parts.append(
            compare_suite(rows[rows["commit"].astype(str) == base], rows[rows["commit"].astype(str) == head], q=q)
        )
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def interleaved_rounds(rounds_root: Path, machine: str | None) -> pd.DataFrame | None:
    """Every round kept by interleaved runs (``<rounds_root>/<base8>-<head8>/round-<k>/``), or
    None; the ``session`` column names the interleaved run (its folder) each round belongs to."""
    from tools.loader import load_results

    if not rounds_root.is_dir():
        return None
    parts = []
    for session in sorted(p for p in rounds_root.iterdir() if p.is_dir()):
        dirs = sorted(p for p in session.glob("round-*") if p.is_dir() and any(p.glob("*/*.json")))
        if dirs:
            parts.append(load_results(dirs, machine=machine).assign(session=session.name))
    return pd.concat(parts, ignore_index=True) if parts else None


def _history_rows(table: pd.DataFrame, pairs, rounds: pd.DataFrame | None) -> tuple[pd.DataFrame, int]:
    """The history's rows (head's machines/environments), plus the interleaved rounds of commits
    already in that history: a commit re-measured as base or head then counts every round."""
    rows = _on_series(table, pairs)
    if rounds is None or rounds.empty:
        return rows, 0
    extra = _on_series(rounds, pairs)
    extra = extra[extra["commit"].astype(str).isin(set(rows["commit"].astype(str)))]
    if extra.empty:
        return rows, 0
    return pd.concat([rows, extra[[c for c in rows.columns if c in extra.columns]]], ignore_index=True), len(extra)


def _history(
    table: pd.DataFrame, pairs, q: float, rounds: pd.DataFrame | None = None
) -> tuple[pd.DataFrame | None, str | None]:
    from tools.detect.history import history_suite
    from tools.detect.sessions import placeable, sessions_suite

    rows, n_extra = _history_rows(table, pairs, rounds)
    n_commits = rows["commit"].nunique()
    if n_commits < HISTORY_MIN_COMMITS:
        return None, (
            f"History not analysed: {n_commits} commit(s) with results, at least {HISTORY_MIN_COMMITS} needed."
        )
    found = history_suite(rows, q=q)
    n_sessions = 0
    if rounds is not None and not rounds.empty:
        kept = _on_series(rounds, pairs)
        in_history = set(rows["commit"].astype(str))
        n_sessions = sum(placeable(set(c.astype(str)), in_history) for _, c in kept.groupby("session")["commit"])
        if n_sessions:
            # Steps judged by within-session comparisons only: free of day-to-day machine effects.
            by_sessions = sessions_suite(rows, kept, q=q)
            if len(by_sessions):
                found = pd.concat([found, by_sessions], ignore_index=True) if len(found) else by_sessions
    if len(found) and "param_values" not in found.columns:  # for the asv find / profile regexes
        lookup = dict(zip(zip(rows["benchmark"].astype(str), rows["params"].astype(str)), rows["param_values"]))
        found["param_values"] = [lookup.get((str(b), str(p)), ()) for b, p in zip(found["benchmark"], found["params"])]
    with_rounds = (
        f", with {n_extra} results of interleaved rounds (every round of a commit is tested)" if n_extra else ""
    )
    if n_sessions:
        with_rounds += (
            f"; steps also judged by within-session comparisons of {n_sessions} interleaved "
            f"session{'s' if n_sessions != 1 else ''} (method 'interleaved sessions': immune to "
            "day-to-day machine differences)"
        )
    return found, (
        f"{n_commits} commits analysed{with_rounds}; changes are located at the commit where the step happened. "
        "'not re-run' means the boundary commits were not re-measured interleaved "
        "(`python -m tools regressions --base <before> --head <after> --rounds 6` confirms one)."
    )


def _kept_rounds(settings, args) -> pd.DataFrame | None:
    from tools.detect.rounds import ROUNDS_DIR

    given = getattr(args, "history_rounds_dir", None)
    root = Path(given) if given else settings.root / ROUNDS_DIR
    if given and not root.is_dir():
        raise ToolError(f"--history-rounds-dir {root}: not a directory")
    return interleaved_rounds(root, settings.machine) if root.is_dir() else None


def _local_site(settings, args) -> str:
    """The published site relative to the report, so the link works from the report's folder
    (serve it with `asv preview` for the graphs to load)."""
    import os

    reports = Path(args.output).parent if args.output else settings.reports_dir
    return os.path.relpath(settings.html_dir, reports)


def run(args) -> int:
    from tools.regression_report import ReportContext, regression_report
    from tools.render import html_page

    settings = settings_from_args(args)
    notes: list[str] = []
    history = history_note = None
    if args.rounds and args.rounds_dir:
        raise ToolError("--rounds and --rounds-dir exclude each other")

    if args.rounds:
        from tools.detect.rounds import RoundsRun, compare_rounds, resolve

        stored = None
        try:
            stored = load_table(settings)
        except ToolError:
            pass  # interleaved mode needs no stored history when both revisions are given
        if stored is not None and not (args.base and args.head):
            head, pairs = _stored_pairs(stored, args, settings)
            if not pairs:
                print(f"no previous results to compare {head[:12]} with; pass --base")
                return 0
            base = pairs[0][2]
        elif args.base and args.head:
            base, head = resolve(settings.root, args.base), resolve(settings.root, args.head)
        else:
            raise ToolError("--rounds without stored results needs both --base and --head")
        run_cfg = RoundsRun(
            repo=settings.root,
            config=str(settings.config_path or "asv.conf.json"),
            machine=args.machine,
            asv_args=shlex.split(args.asv_args),
        )
        outcome = compare_rounds(
            base, head, rounds=args.rounds, extra_rounds=args.extra_rounds, bench=args.bench, q=args.q, run=run_cfg
        )
        verdicts, table = outcome.verdicts, outcome.table
        mode = (
            f"interleaved now: {outcome.rounds_run} rounds per side (ABBA, one process each)"
            + (f", plus {outcome.extra_rounds_run} for inconclusive benchmarks" if outcome.extra_rounds_run else "")
            + f"; rounds kept in {outcome.pair_dir}"
        )
        if args.history and stored is not None:
            history, history_note = _history(
                stored, head_series(stored, head) or [], args.q, _kept_rounds(settings, args)
            )
    else:
        if args.rounds_dir:
            from tools.loader import load_results

            rd = Path(args.rounds_dir)
            dirs = (
                sorted((p for p in rd.glob("round-*") if p.is_dir()), key=lambda p: int(p.name.split("-")[-1]))
                if rd.is_dir()
                else []
            )
            if not dirs:
                raise ToolError(f"{rd}: no round-<k> results folders (expected the output of an interleaved run)")
            table = load_results(dirs, machine=settings.machine)
        else:
            table = load_table(settings)
        head, pairs = _stored_pairs(table, args, settings)
        if not pairs:
            print(
                f"no previous results to compare {head[:12]} with: it is the first commit with results on "
                f"{', '.join(f'{m}/{e}' for m, e in head_series(table, head))}; nothing to report"
            )
            return 0
        bases = sorted({b for *_, b in pairs})
        if len(bases) > 1:
            notes.append("Base differs by machine/environment: " + ", ".join(f"{m}/{e}: {b[:8]}" for m, e, b in pairs))
        base = bases[0]
        verdicts = _compare_stored(table, head, pairs, args.q)
        n_rounds = (
            table[table["commit"].astype(str).isin([base, head])].groupby("commit", observed=True)["round"].nunique()
        )
        source = (
            f"interleaved rounds from {args.rounds_dir}"
            if args.rounds_dir
            else f"stored results ({', '.join(map(str, settings.results_dirs))})"
        )
        mode = f"{source}; rounds per side: {int(n_rounds.get(base, 0))} base, {int(n_rounds.get(head, 0))} head"
        need = min_rounds()
        if int(n_rounds.min()) < need:
            notes.append(
                f"Fewer than {need} rounds per side: wall-time verdicts cannot be decided from these results "
                "(they show as inconclusive); use --rounds 6 to measure base and head interleaved."
            )
        if args.history:
            history, history_note = _history(table, pairs, args.q, _kept_rounds(settings, args))

    machines = sorted(verdicts["machine"].astype(str).unique()) if len(verdicts) else []
    environments = sorted(verdicts["environment"].astype(str).unique()) if len(verdicts) else []
    stamp = utc_stamp()
    ctx = ReportContext(
        base=_side(table, base),
        head=_side(table, head),
        generated=f"{stamp[:10]} {stamp[11:].replace('-', ':')} UTC",
        mode=mode,
        site=args.site_url or _local_site(settings, args),
        param_names=_param_names(table),
        machines=machines,
        environments=environments,
        notes=notes,
    )
    md, data = regression_report(verdicts, ctx, history, history_note)
    stem = Path(args.output) if args.output else settings.reports_dir / f"regression_report_{stamp}"
    paths = [
        atomic_write_text(stem.with_name(stem.name + ".json"), json.dumps(data, indent=2, allow_nan=False) + "\n"),
        atomic_write_text(stem.with_name(stem.name + ".md"), md),
        atomic_write_text(
            stem.with_name(stem.name + ".html"), html_page(f"Regression report {base[:8]}..{head[:8]}", md)
        ),
    ]
    counts = data["counts"]
    print(
        f"{base[:8]} → {head[:8]}: {counts['regressed']} regressed, {counts['improved']} improved, "
        f"{counts['inconclusive']} inconclusive, {counts['unchanged']} unchanged"
    )
    for p in paths:
        print(f"wrote {p}")
    if args.fail_on_regression and counts["regressed"] > 0:
        return 1
    return 0
