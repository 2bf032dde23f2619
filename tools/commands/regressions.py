"""``python -m tools regressions``: head vs base verdicts -> regression_report_<ts>.{md,html,json}.

The statistics live in ``tools.detect`` (``pairwise.compare_suite``, ``history.history_suite``,
``sessions.sessions_suite``); this command chooses the commits, gathers the rows, and writes the
report with recommendations. Three ways to get rows per commit:

* stored results (default): what ``asv run`` recorded for base and head — usually one
  round each, which decides instruction counts and memory but leaves wall time
  inconclusive (a 99.5% interval needs >= 6 rounds per side);
* ``--rounds N``: measure base and head now, interleaved, N rounds each
  (``tools.detect.rounds.compare_rounds``), re-running only inconclusive benchmarks;
* ``--rounds-dir DIR``: reuse the ``round-<k>`` folders of an earlier interleaved run.
"""

from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from tools import rounds_layout
from tools.commands.shard import add_shard_argument, bench_regex
from tools.config import (
    Settings,
    add_common_arguments,
    load_table,
    load_table_if_any,
    parse_duration,
    settings_from_args,
    utc_stamp,
)
from tools.detect import calibrate, pairwise, robust
from tools.detect.finding import Finding
from tools.detect.series import on_series
from tools.detect.verdict import CONFIDENCE
from tools.errors import ToolError
from tools.history_report import MIN_COMMITS, build_history
from tools.io import atomic_write_text
from tools.loader import load_results, load_sessions
from tools.profile_links import DEFAULT_CAP, profile_regressions
from tools.regression_report import ReportContext, Side, regression_report
from tools.render import html_page
from tools.revisions import head_series, newest_commit, previous_commit, resolve_revision

NAME = "regressions"
HELP = "compare head against base and write regression_report_<ts>.md/.html/.json (exit 1 with --fail-on-regression)"


def add_arguments(parser) -> None:
    add_common_arguments(parser)
    _commit_arguments(parser)
    _measure_arguments(parser)
    _history_arguments(parser)
    _profile_arguments(parser)
    _output_arguments(parser)


def _commit_arguments(parser) -> None:
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
    parser.add_argument("--q", type=float, default=0.05, help="false discovery rate across the suite (default 0.05)")


def _measure_arguments(parser) -> None:
    g = parser.add_argument_group("measuring now (interleaved rounds)")
    g.add_argument(
        "--rounds",
        type=int,
        default=0,
        metavar="N",
        help="measure base and head now, interleaved, N rounds each (>= 6 for a wall-time "
        "interval; 0 = use stored results, the default)",
    )
    g.add_argument(
        "--budget",
        type=parse_duration,
        default=None,
        metavar="DURATION",
        help="measure base and head now, sequentially within this time (e.g. 10m): everything once a side, "
        "then rounds of the noisy series still open until each is decided, cannot be, or the time is up; "
        "--rounds is then the most rounds a side to plan (default 30)",
    )
    g.add_argument(
        "--extra-rounds",
        type=int,
        default=None,
        metavar="N",
        help="with --rounds: up to N more rounds for inconclusive benchmarks only (default: = --rounds)",
    )
    g.add_argument("--bench", "-b", default=None, metavar="REGEX", help="with --rounds: only these benchmarks")
    g.add_argument(
        "--asv-args",
        default="",
        metavar="ARGS",
        help='with --rounds: extra arguments for every asv run, e.g. "--launch-method forkserver"',
    )
    g.add_argument(
        "--rounds-dir",
        metavar="DIR",
        action="append",
        default=None,
        help="reuse an interleaved run: a folder of round-<k> results dirs (.asv/rounds/<base8>-<head8>); "
        "repeatable (e.g. the sessions of several machines, merged from shards)",
    )
    add_shard_argument(g)


def _history_arguments(parser) -> None:
    g = parser.add_argument_group("history")
    g.add_argument(
        "--history",
        action="store_true",
        help=f"also locate change points over the stored history of every machine and environment (>= {MIN_COMMITS} commits each)",
    )
    g.add_argument(
        "--history-rounds-dir",
        metavar="DIR",
        default=None,
        help="with --history: interleaved rounds to add to the commits they re-measured "
        "(default: .asv/rounds, if it exists)",
    )
    g.add_argument(
        "--confirm-rounds",
        type=int,
        default=0,
        metavar="N",
        help="with --history: re-measure the two boundary commits of every regressed change point "
        "interleaved, N rounds a side, and say whether it held (0 = not re-run, the default; a "
        "regression issue is opened for a history change point only once confirmed)",
    )


def _profile_arguments(parser) -> None:
    what = (
        f"profile the regressions at their two commits (tools/profiling): at most N workloads a run, "
        f"each within 60 s, linked from the report (default {DEFAULT_CAP}; 0 = none)"
    )
    parser.add_argument("--profile-cap", type=int, default=DEFAULT_CAP, metavar="N", help=what)


def _output_arguments(parser) -> None:
    site = "asv site root for graph links (default: html_dir from asv.conf.json)"
    parser.add_argument("--site-url", default=None, metavar="URL", help=site)
    parser.add_argument("--fail-on-regression", action="store_true", help="exit 1 when anything regressed (for CI)")
    stem = "output path without suffix (default: <output-dir>/reports/regression_report_<ts>)"
    parser.add_argument("--output", metavar="STEM", default=None, help=stem)


# ---------------------------------------------------------------- what to compare


@dataclass
class Comparison:
    """Base, head and the pairwise findings between them, with how they were measured."""

    base: str | None  # None: the head is the first commit with results, nothing to compare with
    head: str
    findings: list[Finding]
    table: pd.DataFrame  # the rows the findings came from (for dates and parameter names)
    mode: str
    stored: pd.DataFrame | None = None  # the stored history, when loaded
    notes: list[str] = field(default_factory=list)


def _stored_pairs(table: pd.DataFrame, args, settings: Settings) -> tuple[str, list[tuple[str, str, str]]]:
    """head and [(machine, environment, base)] from the stored results."""
    head = resolve_revision(args.head, table, settings.repo) if args.head else newest_commit(table)
    pairs = head_series(table, head)
    if not pairs:
        raise ToolError(f"no results for head {head[:12]}")
    if args.base:
        base = resolve_revision(args.base, table, settings.repo)
        return head, [(m, e, base) for m, e in pairs]
    if args.base_lag < 1:
        raise ToolError(f"--base-lag must be 1 or more (got {args.base_lag})")
    return head, [(m, e, b) for m, e in pairs if (b := previous_commit(table, head, m, e, args.base_lag)) is not None]


def _compare_stored(table: pd.DataFrame, head: str, pairs, q: float, noise) -> list[Finding]:
    by_base: dict[str, list[tuple[str, str]]] = {}
    for m, e, b in pairs:
        by_base.setdefault(b, []).append((m, e))
    found = []
    for base, series in by_base.items():
        rows = on_series(table, series)
        commits = rows["commit"].astype(str)
        found += pairwise.compare_suite(rows[commits == base], rows[commits == head], q=q, noise=noise)
    return found


def _calibration(settings: Settings, stored: pd.DataFrame | None, head: str) -> tuple[dict, str]:
    """The between-process noise of one run per series (``calibrate.gather``) from the stored
    history (``stored``, None without one) and the kept interleaved rounds of this project."""
    root = settings.root / rounds_layout.ROUNDS_DIR
    return calibrate.gather(stored, root, settings.machine, head)


def _measured_now(args, settings: Settings) -> Comparison:
    """--rounds: base and head measured now, interleaved."""
    from tools.detect.rounds import compare_rounds, resolve

    stored = load_table_if_any(settings)  # interleaved mode needs none when both revisions are given
    if stored is not None and not (args.base and args.head):
        head, pairs = _stored_pairs(stored, args, settings)
        if not pairs:
            return _first_results(head, stored, "interleaved rounds not run: no earlier commit with results")
        base = pairs[0][2]
    elif args.base and args.head:
        base, head = resolve(settings.root, args.base), resolve(settings.root, args.head)
    else:
        raise ToolError("--rounds without stored results needs both --base and --head")
    if args.budget:
        return _sequential(base, head, args, settings, stored)
    outcome = compare_rounds(
        base, head, rounds=args.rounds, extra_rounds=args.extra_rounds, bench=args.bench, q=args.q,
        run=_rounds_run(args, settings),
    )  # fmt: skip
    mode = f"interleaved now: {outcome.rounds_run} rounds per side (ABBA, one process each)"
    if outcome.extra_rounds_run:
        mode += f", plus {outcome.extra_rounds_run} for inconclusive benchmarks"
    mode += f"; rounds kept in {outcome.pair_dir}"
    return Comparison(base, head, outcome.verdicts, outcome.table, mode, stored)


def _sequential(base: str, head: str, args, settings: Settings, stored) -> Comparison:
    """--budget: base and head measured now, sequentially within the budget."""
    from tools.detect.rounds import MAX_PLANNED_ROUNDS, Budget, calibrated_sequential_rounds

    outcome, source = calibrated_sequential_rounds(
        base, head, stored=stored, rounds_root=settings.root / rounds_layout.ROUNDS_DIR, machine=settings.machine,
        budget=Budget(args.budget, args.rounds or MAX_PLANNED_ROUNDS), bench=args.bench, q=args.q,
        run=_rounds_run(args, settings),
    )  # fmt: skip
    return Comparison(
        base, head, outcome.verdicts, outcome.table, sequential_mode(outcome, args.budget), stored, [source]
    )


def sequential_mode(outcome, budget_s: float) -> str:
    """How a sequential check measured, in one line of the report."""
    return (
        f"interleaved now, sequential within a {budget_s / 60:g}-minute budget: {outcome.rounds_run} of "
        f"{outcome.planned} planned rounds a side (ABBA, one process each) for the {outcome.worth} series whose "
        "noise lets rounds help, once a side for the rest (deterministic channels included); each round only "
        f"the series still open; {outcome.seconds / 60:.1f} min, ended by {outcome.stopped_by}; rounds kept in "
        f"{outcome.pair_dir}"
    )


def _first_results(head: str, table: pd.DataFrame, mode: str) -> Comparison:
    """The head is the first commit with results on its machine(s): a report that says so."""
    where = ", ".join(f"{m} / {e}" for m, e in head_series(table, head))
    return Comparison(None, head, [], table, mode, table, [f"No earlier results on {where}."])


def _rounds_run(args, settings: Settings):
    from tools.detect.rounds import RoundsRun

    return RoundsRun(
        repo=settings.root, config=str(settings.config_path or "asv.conf.json"), machine=args.machine,
        asv_args=shlex.split(args.asv_args),
    )  # fmt: skip


def _load_rounds_dir(rounds_dirs: list[str], settings: Settings) -> pd.DataFrame:
    dirs = []
    for rounds_dir in rounds_dirs:
        found = rounds_layout.round_dirs(Path(rounds_dir))
        if not found:
            raise ToolError(f"{rounds_dir}: no round-<k> results folders (expected the output of an interleaved run)")
        dirs += found
    return load_results(dirs, machine=settings.machine)


def _from_results(args, settings: Settings) -> Comparison:
    """Stored results, or the rounds of an earlier interleaved run (--rounds-dir)."""
    table = _load_rounds_dir(args.rounds_dir, settings) if args.rounds_dir else load_table(settings)
    head, pairs = _stored_pairs(table, args, settings)
    if not pairs:
        return _first_results(head, table, "stored results: the first commit with results here")
    bases = sorted({b for *_, b in pairs})
    notes = []
    if len(bases) > 1:
        notes.append("Base differs by machine/environment: " + ", ".join(f"{m}/{e}: {b[:8]}" for m, e, b in pairs))
    base = bases[0]
    at = table[table["commit"].astype(str).isin([base, head])]
    n_rounds = at.groupby("commit", observed=True)["round"].nunique()
    source = (
        f"interleaved rounds from {', '.join(args.rounds_dir)}"
        if args.rounds_dir
        else f"stored results ({', '.join(map(str, settings.results_dirs))})"
    )
    mode = f"{source}; rounds per side: {int(n_rounds.get(base, 0))} base, {int(n_rounds.get(head, 0))} head"
    need = robust.min_rounds(CONFIDENCE)
    # with --rounds-dir the stored results (read once) calibrate and make the history, not the rounds
    stored = load_table_if_any(settings) if args.rounds_dir else table
    noise, source = _calibration(settings, stored, head)
    if int(n_rounds.min()) < need:
        notes.append(
            f"Fewer than {need} rounds per side: wall time, speed-normalised time and metrics are judged "
            f"against the between-process noise of one run ({source}), so only changes far beyond it are "
            "decided; the rule of each says what more rounds would take (--budget 10m measures base and head "
            "interleaved)."
        )
    findings = _compare_stored(table, head, pairs, args.q, noise)
    history = stored if args.rounds_dir and args.history else table
    return Comparison(base, head, findings, table, mode, history, notes)


# ---------------------------------------------------------------- history


def _kept_rounds(settings: Settings, args) -> pd.DataFrame | None:
    given = args.history_rounds_dir
    root = Path(given) if given else settings.root / rounds_layout.ROUNDS_DIR
    if given and not root.is_dir():
        raise ToolError(f"--history-rounds-dir {root}: not a directory")
    return load_sessions(root, settings.machine) if root.is_dir() else None


def _confirmer(args, settings: Settings):
    if not args.confirm_rounds:
        return None
    from tools.detect.rounds import make_confirmer

    return make_confirmer(rounds=args.confirm_rounds, q=args.q, run=_rounds_run(args, settings))


# ---------------------------------------------------------------- the report


def _local_site(settings: Settings, args) -> str:
    """The published site relative to the report, so the link works from the report's folder
    (serve it with `asv preview` for the graphs to load)."""
    reports = Path(args.output).parent if args.output else settings.reports_dir
    return os.path.relpath(settings.html_dir, reports)


def _side(table: pd.DataFrame, commit: str) -> Side:
    dates = table.loc[table["commit"].astype(str) == commit, "commit_date"]
    return Side(commit, dates.min() if len(dates) else None)


def _param_names(table: pd.DataFrame) -> dict[str, list[str]]:
    return {name: list(meta.get("param_names") or []) for name, meta in (table.attrs.get("benchmarks") or {}).items()}


def _profiles(c: Comparison, history, args, settings: Settings, reports: Path) -> dict:
    """Profiles of the regressions blamed on a commit (none with --profile-cap 0)."""
    if args.profile_cap <= 0:
        return {}
    changes = list(history.changes or ()) if history is not None else []
    if not any(f.verdict == "regressed" for f in [*c.findings, *changes]):
        return {}
    out = settings.output_dir / "profiles"
    links = profile_regressions(
        c.findings, changes, c.base, c.head, out, reports, cap=args.profile_cap, config=settings.config_path
    )
    print(f"profiled {sum(1 for v in links.values() if not v.reason)} regression(s) into {out}")
    return links


def _write_report(c: Comparison, history, args, settings: Settings) -> dict:
    stamp = utc_stamp()
    on_head = head_series(c.table, c.head)
    stem = Path(args.output) if args.output else settings.reports_dir / f"regression_report_{stamp}"
    ctx = ReportContext(
        base=_side(c.table, c.base) if c.base else None, head=_side(c.table, c.head),
        generated=f"{stamp[:10]} {stamp[11:].replace('-', ':')} UTC", mode=c.mode,
        site=args.site_url or _local_site(settings, args), param_names=_param_names(c.table),
        machines=sorted({str(f.machine) for f in c.findings} or {m for m, _ in on_head}),
        environments=sorted({str(f.environment) for f in c.findings} or {e for _, e in on_head}),
        notes=c.notes, profiles=_profiles(c, history, args, settings, stem.parent),
    )  # fmt: skip
    md, data = regression_report(c.findings, ctx, history)
    title = f"Regression report {(c.base or '')[:8]}..{c.head[:8]}"
    paths = [
        atomic_write_text(stem.with_name(stem.name + ".json"), json.dumps(data, indent=2, allow_nan=False) + "\n"),
        atomic_write_text(stem.with_name(stem.name + ".md"), md),
        atomic_write_text(stem.with_name(stem.name + ".html"), html_page(title, md)),
    ]
    counts = data["counts"]
    base = c.base[:8] if c.base else "(first results)"
    print(
        f"{base} → {c.head[:8]}: {counts['regressed']} regressed, {counts['improved']} improved, "
        f"{counts['inconclusive']} inconclusive, {counts['unchanged']} unchanged"
    )
    for p in paths:
        print(f"wrote {p}")
    return counts


def run(args) -> int:
    settings = settings_from_args(args)
    if args.rounds and args.rounds_dir:
        raise ToolError("--rounds and --rounds-dir exclude each other")
    if args.shard:
        if args.bench or not (args.rounds or args.budget):
            raise ToolError("--shard goes with --rounds or --budget (it chooses what is measured) and replaces --bench")
        args.bench = bench_regex(settings, args.shard)
    if args.confirm_rounds and not args.history:
        raise ToolError("--confirm-rounds goes with --history")
    if args.budget and args.rounds_dir:
        raise ToolError("--budget and --rounds-dir exclude each other")
    c = _measured_now(args, settings) if (args.rounds or args.budget) else _from_results(args, settings)
    history = None
    if args.history and c.stored is not None:
        history = build_history(c.stored, _kept_rounds(settings, args), q=args.q, confirm=_confirmer(args, settings))
    counts = _write_report(c, history, args, settings)
    return 1 if args.fail_on_regression and counts["regressed"] > 0 else 0
