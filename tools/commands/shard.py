"""``python -m tools shard --shard k/N``: the asv ``--bench`` regex of one share of the suite.

The names come from the suite itself (asv_runner's discovery of ``benchmark_dir``, as asv finds
them) or, with ``--from-results``, from the results' ``benchmarks.json``; the weights from the
durations recorded in the newest results (``tools.shards``).
"""

from __future__ import annotations

import sys
from dataclasses import replace

from tools import shards
from tools.config import add_common_arguments, load_table, read_asv_conf, settings_from_args
from tools.errors import ToolError
from tools.loader import read_benchmarks_json

NAME = "shard"
HELP = "print the asv --bench regex of shard k/N: a deterministic share of the suite balanced by recorded durations"


def add_arguments(parser) -> None:
    add_common_arguments(parser)
    add_shard_argument(parser, required=True)
    parser.add_argument(
        "--from-results",
        action="store_true",
        help="take the benchmark names from the results' benchmarks.json instead of discovering the suite",
    )
    parser.add_argument(
        "--list",
        action="store_true",
        help="print the shard's units (seconds, then the benchmarks that run together) instead",
    )


def add_shard_argument(parser, required: bool = False) -> None:
    """``--shard k/N`` for every command that measures."""
    parser.add_argument(
        "--shard",
        metavar="k/N",
        required=required,
        default=None,
        help="run only shard k of N: a deterministic share of the suite, balanced by the durations "
        "recorded in earlier results (round-robin by name when none)",
    )


def _names(settings, from_results: bool, table) -> dict[str, dict]:
    if from_results:
        if table is not None and table.attrs.get("benchmarks"):
            return dict(table.attrs["benchmarks"])
        return read_benchmarks_json(settings.results_dirs[0] / "benchmarks.json")
    conf = read_asv_conf(settings.config_path) if settings.config_path else {}
    return shards.discover(settings.root, str(conf.get("benchmark_dir", "benchmarks")))


def _table(settings):
    """The recorded results: of ``--machine`` when it has some, else of every machine, else None
    (no results yet: round-robin by name)."""
    for attempt in (settings, replace(settings, machine=None)):
        try:
            return load_table(attempt)
        except ToolError:
            if attempt.machine is None:
                return None
    return None


def plan(settings, spec: str, *, from_results: bool = False) -> tuple[shards.Shard, list[shards.Shard], bool]:
    """(this shard, every shard, whether durations were recorded) for ``--shard spec``."""
    k, n = shards.parse_shard(spec)
    table = _table(settings)
    names = _names(settings, from_results, table)
    durations = shards.recorded_durations(table) if table is not None else {}
    units = shards.weigh(shards.units_of(names), durations)
    every = shards.assign(units, n)
    recorded = any(u.seconds is not None for u in units)
    return every[k - 1], every, recorded


def bench_regex(settings, spec: str) -> str:
    """The ``--bench`` regex of ``--shard spec`` (for the commands that measure), said on stderr."""
    shard, every, recorded = plan(settings, spec)
    print(shards.summary(shard, every, recorded), file=sys.stderr)
    return shard.regex()


def run(args) -> int:
    settings = settings_from_args(args)
    shard, every, recorded = plan(settings, args.shard, from_results=args.from_results)
    print(shards.summary(shard, every, recorded), file=sys.stderr)
    if args.list:  # one line per unit (benchmarks sharing a setup_cache stay together)
        for unit in shard.units:
            print(f"{'' if unit.seconds is None else f'{unit.seconds:.1f}'}\t{' '.join(unit.names)}")
        return 0
    print(shard.regex())
    return 0
