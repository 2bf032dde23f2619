"""``python -m tools compare-rounds --base REV --head REV --rounds N``: interleaved pairwise mode.

Runs ``asv run -a rounds=1 --record-samples`` alternately on base and head (ABBA), one process per
round, re-runs only the inconclusive benchmarks for extra rounds, then prints one verdict per
benchmark with its effect, interval and the rule that decided. Exit code 1 when something
regressed (as ``asv continuous``), 0 otherwise, 2 on bad input.
"""

from __future__ import annotations

import shlex
from collections import Counter
from pathlib import Path

from tools.commands.shard import add_shard_argument
from tools.config import load_table_if_any, parse_duration
from tools.detect import finding
from tools.detect import rounds as rounds_mod
from tools.detect.finding import Finding
from tools.errors import ToolError
from tools.humanize import human_pct
from tools.io import atomic_write_with
from tools.rounds_layout import ROUNDS_DIR

NAME = "compare-rounds"
HELP = "Measure base and head interleaved over N independent rounds and judge each benchmark (pairwise mode)."


def add_arguments(parser) -> None:
    parser.add_argument("--base", required=True, help="base revision (e.g. main or a hash)")
    parser.add_argument("--head", required=True, help="head revision (e.g. HEAD)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="interleaved rounds per side (default 6; ≥4 for a 95%% interval); with --budget the most to plan (default 30)",
    )
    parser.add_argument(
        "--extra-rounds",
        type=int,
        default=None,
        help="at most this many extra rounds for inconclusive benchmarks only (default: = --rounds; 0 = none)",
    )
    parser.add_argument(
        "--budget",
        type=parse_duration,
        default=None,
        metavar="DURATION",
        help="sequential within this time (e.g. 10m): everything once a side, then rounds of the noisy series "
        "still open, judged after each round; --rounds is then the most rounds a side to plan (default 30)",
    )
    parser.add_argument("--bench", "-b", default=None, help="regex of benchmarks to run (as asv --bench)")
    parser.add_argument(
        "--machine", default=None, help="asv machine name (runs `asv machine --yes --machine NAME` first)"
    )
    parser.add_argument("--config", default="asv.conf.json", help="asv config file (default asv.conf.json)")
    parser.add_argument(
        "--asv-args", default="", help='extra arguments for every `asv run`, e.g. "-E virtualenv:3.11 -a repeat=10"'
    )
    parser.add_argument(
        "--q", type=float, default=0.05, help="Benjamini–Hochberg false discovery rate across the suite (default 0.05)"
    )
    parser.add_argument("--output", default=None, help="also write the verdict table as CSV to this path")
    add_shard_argument(parser)


def _bench(args) -> str | None:
    """--bench, or the regex of --shard k/N (durations from the results asv.conf.json names)."""
    if not args.shard:
        return args.bench
    if args.bench:
        raise ToolError("--shard replaces --bench: give one of them")
    from tools.commands.shard import bench_regex

    return bench_regex(_settings(args), args.shard)


def format_verdicts(findings: list[Finding]) -> str:
    """One verdict per series with its effect and the rule that decided, then the counts."""
    lines = []
    for f in findings:
        name = f.benchmark + (f"({f.params})" if f.params else "")
        extra = f"  [{f.evidence.anomaly}]" if f.evidence.anomaly else ""
        lines.append(
            f"{f.verdict:<12} {human_pct(f.change_pct, ascii=True):>8}  {name}  ({f.channel}, {f.n_base}/{f.n_head} rounds)"
            f"\n             {f.rule}{extra}"
        )
    counts = Counter(f.verdict for f in findings)
    summary = ", ".join(f"{counts.get(v, 0)} {v}" for v in ("regressed", "improved", "unchanged", "inconclusive"))
    return "\n".join(lines + [f"{len(findings)} benchmarks: {summary}"])


def _settings(args):
    """The project's settings from --config and --machine (results dirs, repository)."""
    from argparse import Namespace

    from tools.config import settings_from_args

    return settings_from_args(Namespace(config=args.config, machine=args.machine))


def _measure(args, run_cfg):
    if args.budget:
        outcome, _ = rounds_mod.calibrated_sequential_rounds(
            args.base, args.head, stored=load_table_if_any(_settings(args)), rounds_root=run_cfg.repo / ROUNDS_DIR,
            machine=args.machine, budget=rounds_mod.Budget(args.budget, args.rounds or rounds_mod.MAX_PLANNED_ROUNDS),
            bench=args.bench, q=args.q, run=run_cfg,
        )  # fmt: skip
        return outcome
    return rounds_mod.compare_rounds(
        args.base, args.head, rounds=args.rounds or 6, extra_rounds=args.extra_rounds, bench=args.bench, q=args.q,
        run=run_cfg,
    )  # fmt: skip


def run(args) -> int:
    if args.rounds is not None and args.rounds < 1:
        raise ToolError("--rounds must be at least 1")
    if args.extra_rounds is not None and args.extra_rounds < 0:
        raise ToolError("--extra-rounds must be 0 or more")
    if not 0 < args.q < 1:
        raise ToolError("--q must be between 0 and 1")
    run_cfg = rounds_mod.RoundsRun(
        repo=Path.cwd(), config=args.config, machine=args.machine, asv_args=shlex.split(args.asv_args)
    )
    args.bench = _bench(args)
    outcome = _measure(args, run_cfg)
    if not outcome.verdicts:
        raise ToolError(f"no benchmark results in {outcome.pair_dir} (did --bench match anything?)")
    print(format_verdicts(outcome.verdicts))
    print(f"rounds: {outcome.rounds_run} + {outcome.extra_rounds_run} extra, results in {outcome.pair_dir}")
    if args.output:
        table = finding.frame(outcome.verdicts, finding.PAIRWISE_COLUMNS)
        atomic_write_with(args.output, lambda p: table.to_csv(p, index=False))
    return 1 if any(f.verdict == "regressed" for f in outcome.verdicts) else 0
