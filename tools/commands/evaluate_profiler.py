"""``python -m tools evaluate-profiler``: inject slowdowns into known library functions (in a
throwaway clone) and check the differential profile ranks them first."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

from tools.config import OUTPUT_DIR

NAME = "evaluate-profiler"
HELP = (
    "measure the profiler: slow known library functions down by +5%%/+20%% in a throwaway clone and "
    "check they rank first in the differential profile (time and bytecodes)"
)
DEFAULT_OUT = OUTPUT_DIR / "profiler-evaluation"


def add_arguments(parser) -> None:
    parser.add_argument("--base", metavar="REV", default="HEAD", help="revision to inject into (default: HEAD)")
    parser.add_argument(
        "--sizes", default="5,20", help="slowdowns in %% of the body's time, comma-separated (default: 5,20)"
    )
    parser.add_argument(
        "--case", action="append", default=None, help="only this component (repeatable), e.g. 'registry filter'"
    )
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall", help="cProfile's clock (default: wall)")
    parser.add_argument("--no-aa", action="store_true", help="skip the A/A profile of every case")
    parser.add_argument("--repeat", type=int, default=1, help="run every case this many times (default: 1)")
    parser.add_argument(
        "--seconds", type=float, default=2.0, help="seconds of cProfile sampling per revision (default: 2)"
    )
    parser.add_argument("--no-cachegrind", action="store_true", help="skip the machine-instruction counts (faster)")
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per profile (default: %(default)s)")
    parser.add_argument(
        "--out", metavar="DIR", type=Path, default=None, help=f"where the results go (default: {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--config", metavar="PATH", default=None, help="asv configuration file (default: ./asv.conf.json)"
    )


def _sizes(text: str) -> tuple[float, ...]:
    from tools.errors import ToolError

    try:
        sizes = tuple(float(x) / 100 for x in text.split(",") if x.strip())
    except ValueError:
        raise ToolError(f"--sizes {text!r}: expected percentages such as 5,20") from None
    if not sizes or any(s <= 0 for s in sizes):
        raise ToolError(f"--sizes {text!r}: expected positive percentages such as 5,20")
    return sizes


def _cases(names):
    from tools.errors import ToolError
    from tools.profiling.evaluate import CASES

    if not names:
        return CASES
    known = {c.component: c for c in CASES}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ToolError(f"unknown case {unknown[0]!r}; valid: {', '.join(known)}")
    return tuple(known[n] for n in names)


def run(args) -> int:
    from tools.io import atomic_write_text
    from tools.profiling.api import Options, load_project
    from tools.profiling.evaluate import evaluate, markdown, summary

    sizes, cases = _sizes(args.sizes), _cases(args.case)
    project = load_project(args.config)
    options = Options(budget_s=args.budget, clock=args.clock, time_s=args.seconds, machine=not args.no_cachegrind)
    trials = evaluate(project, args.base, cases, sizes, options=options, aa=not args.no_aa, repeat=max(args.repeat, 1))
    given = sys.argv[1:] if sys.argv[1:2] == [NAME] else [NAME]
    command = "python -m tools " + " ".join(shlex.quote(a) for a in given)
    out = args.out or DEFAULT_OUT
    doc = {"command": command, "clock": args.clock, "summary": summary(trials), "trials": [t.as_json() for t in trials]}
    atomic_write_text(out / "evaluation.json", json.dumps(doc, indent=1) + "\n")
    atomic_write_text(out / "evaluation.md", markdown(trials, command, args.clock) + "\n")
    s = doc["summary"]
    first = f"time {s['time_first']}/{s['injections']}, bytecodes {s['bytecodes_first']}/{s['injections']}"
    print(f"injected function first: {first}")
    print(f"wrote {out / 'evaluation.md'} and evaluation.json")
    return 0
