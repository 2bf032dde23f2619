"""``python -m tools profile BENCHMARK --head REV [--base REV]``: where a benchmark spends its
time, bytecodes and memory at one revision, or what changed between two."""

from __future__ import annotations

from pathlib import Path

from tools.config import OUTPUT_DIR

NAME = "profile"
HELP = (
    "profile one benchmark's body at --head (and --base): cProfile, exact bytecode counts, "
    "cachegrind, tracemalloc; writes diff.md, diff.json, flame graphs and pstats"
)
DEFAULT_OUT = OUTPUT_DIR / "profiles"


def add_arguments(parser) -> None:
    parser.add_argument(
        "benchmark", nargs="?", help="full asv name, e.g. model_registry_benchmarks.FindModels.time_find_models_indexed"
    )
    parser.add_argument(
        "--params", default=None, help="parameter combination: \"selectivity='10%%'\" or asv's \"'10%%'\""
    )
    parser.add_argument(
        "--head", metavar="REV", default=None, help="revision whose library code is profiled (required)"
    )
    parser.add_argument("--base", metavar="REV", default=None, help="revision to compare with: a differential profile")
    parser.add_argument("--out", metavar="DIR", type=Path, default=None, help=f"output folder (default: {DEFAULT_OUT})")
    parser.add_argument(
        "--budget", metavar="SECONDS", type=float, default=60.0, help="time allowed (default: %(default)s)"
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=2.0,
        help="seconds of cProfile sampling per revision (default: %(default)s; both revisions at once)",
    )
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="cProfile's clock: wall (default; short rounds, those in which the process lost its core left out) "
        "or the thread's CPU time (a system call per event here: heavy for bodies of many small calls)",
    )
    parser.add_argument(
        "--no-cachegrind", action="store_true", help="skip the machine-instruction count (the slowest part)"
    )
    parser.add_argument(
        "--config", metavar="PATH", default=None, help="asv configuration file (default: ./asv.conf.json)"
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and their parameter combinations")


def _list(args) -> int:
    from tools.profiling.api import load_project
    from tools.profiling.pipeline import discover
    from tools.profiling.targets import listing

    project = load_project(args.config)
    print("\n".join(listing(discover(project.benchmark_dir, project.repo))))
    return 0


def _summary(outcome) -> str:
    lines = [f"wrote {outcome.folder} (diff.md, diff.json, flame graphs; {outcome.seconds:.0f} s)"]
    for top in outcome.top:
        where = f" ({top.file}:{top.line})" if top.line else ""
        change = f" {top.delta_pct:+.1f}%" if top.delta_pct is not None else ""
        lines.append(f"  top {top.metric}: {top.function}{where}{change}")
    return "\n".join(lines)


def run(args) -> int:
    from tools.errors import ToolError
    from tools.profiling.api import Options, profile_benchmark

    if args.list:
        return _list(args)
    if not args.benchmark:
        raise ToolError("name a benchmark (python -m tools profile --list shows them)")
    if not args.head:
        raise ToolError("--head REV is required (the revision whose library code is profiled)")
    if args.budget <= 0 or args.seconds <= 0:
        raise ToolError(f"--budget and --seconds must be > 0 (got {args.budget}, {args.seconds})")
    out = args.out or DEFAULT_OUT
    outcome = profile_benchmark(
        args.benchmark,
        args.params,
        head=args.head,
        base=args.base,
        out_dir=out,
        config=args.config,
        options=Options(budget_s=args.budget, clock=args.clock, time_s=args.seconds, machine=not args.no_cachegrind),
    )
    print(_summary(outcome))
    return 0
