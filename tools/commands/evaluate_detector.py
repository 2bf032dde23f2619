"""``python -m tools evaluate-detector``: our detector vs asv, pandas' rule and Otava on real noise."""

from __future__ import annotations

import shlex
import sys
from datetime import UTC, datetime
from pathlib import Path

from tools.errors import ToolError
from tools.evaluate import corpus as corpus_mod
from tools.evaluate.config import EvalConfig
from tools.evaluate.harness import evaluate
from tools.evaluate.report import write_outputs

NAME = "evaluate-detector"
HELP = (
    "measure recall and false alarms of our regression detector and of asv's, pandas' and Otava's "
    "rules on effects injected into recorded same-commit noise; print and write the table"
)

DEFAULT_OUT = Path("metrics/performance/evaluation")


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise ValueError(text) from None
        if value <= 0:
            raise ValueError(text)
        return value

    parse.__name__ = kind.__name__
    return parse


def add_arguments(parser) -> None:
    _run_arguments(parser)
    _corpus_arguments(parser)
    _recording_arguments(parser)
    _detector_arguments(parser)
    _pairwise_arguments(parser)
    _history_arguments(parser)
    _daily_arguments(parser)
    _shift_arguments(parser)
    _schedule_arguments(parser)


def _schedule_arguments(parser) -> None:
    g = parser.add_argument_group("one run a side, and the check schedules (old vs new)")
    what = "trials per series and scenario of both (tools.evaluate.schedules; 0: skip; default 30, --quick 3)"
    g.add_argument("--schedule-trials", type=int, default=None, help=what)


def _shift_arguments(parser) -> None:
    g = parser.add_argument_group("environment shifts")
    what = "suite histories per scenario with a runner change and/or a real step (tools.evaluate.shifts; 0: skip, the default)"
    g.add_argument("--shift-trials", type=int, default=None, help=what)


def _run_arguments(parser) -> None:
    parser.add_argument(
        "--quick", action="store_true", help="few trials and series (seconds; for tests and a smoke check)"
    )
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: 20261126)")
    parser.add_argument(
        "--output-dir", type=Path, default=DEFAULT_OUT, help="where evaluation_<ts>.md/.csv go (default: %(default)s)"
    )


def _corpus_arguments(parser) -> None:
    g = parser.add_argument_group("noise corpus")
    g.add_argument(
        "--corpus",
        type=Path,
        default=corpus_mod.DEFAULT_CORPUS,
        help="noise corpus (gzip'd JSON) to read, or to write with --record (default: tests/data/noise_corpus.json.gz)",
    )
    g.add_argument("--series", default=None, help="only corpus series matching this regex")


def _recording_arguments(parser) -> None:
    g = parser.add_argument_group("recording the corpus (--record)")
    g.add_argument(
        "--record",
        action="store_true",
        help="first re-record the corpus at HEAD (--record-rounds separate asv runs at HEAD, --python=same; ~30 min here)",
    )
    g.add_argument(
        "--bench",
        action="append",
        default=None,
        help="with --record: asv --bench regex of a wall-time benchmark to record; repeatable "
        "(default: the 18 workloads of tools.evaluate.corpus.DEFAULT_SELECTION)",
    )
    g.add_argument(
        "--record-rounds",
        type=_positive(int),
        default=120,
        help="with --record: processes per benchmark, one separate asv run each (default: %(default)s)",
    )
    g.add_argument(
        "--repeat",
        type=_positive(int),
        default=10,
        help="with --record: samples per process (asv repeat, default: %(default)s)",
    )
    g.add_argument(
        "--instruction-runs",
        type=int,
        default=5,
        help="with --record: separate asv runs of the track_*_instructions benchmarks (0: skip; default: %(default)s)",
    )
    g.add_argument(
        "--launch-method",
        choices=["spawn", "forkserver"],
        default=None,
        help="with --record: asv launch method (default: the one in asv.conf.json)",
    )


def _detector_arguments(parser) -> None:
    g = parser.add_argument_group("our detector")
    g.add_argument(
        "--rule",
        choices=["interval", "estimate"],
        default=None,
        help="our decision rule (tools.detect.pairwise.decide; default: the detector's own)",
    )
    g.add_argument(
        "--confidence",
        type=float,
        default=None,
        help="confidence of our intervals, e.g. 0.95 (default: the detector's own)",
    )
    g.add_argument(
        "--no-relative",
        action="store_true",
        help="do not judge the speed-normalised twins (track_*_relative) of the corpus",
    )


def _pairwise_arguments(parser) -> None:
    g = parser.add_argument_group("pairwise (PR) mode")
    g.add_argument(
        "--rounds",
        type=_positive(int),
        default=None,
        help="processes per side in pairwise mode for ours and for asv at equal budget (default: 10)",
    )
    g.add_argument(
        "--trials",
        type=_positive(int),
        default=None,
        help="pairwise trials per benchmark per scenario (default: 30; --quick: 4)",
    )


def _history_arguments(parser) -> None:
    g = parser.add_argument_group("history mode")
    g.add_argument(
        "--history-trials", type=_positive(int), default=None, help="histories per scenario (default: 30; --quick: 3)"
    )
    g.add_argument(
        "--commit-rounds",
        type=_positive(int),
        default=None,
        help="processes per commit in history mode (default: 2, what asv run stores)",
    )


def _daily_arguments(parser) -> None:
    g = parser.add_argument_group("daily history with day effects")
    g.add_argument(
        "--daily-trials",
        type=int,
        default=None,
        help="daily histories with day effects per scenario (0: skip; default: 30; --quick: 2)",
    )
    g.add_argument(
        "--anchor-lag",
        type=_positive(int),
        default=None,
        help="daily history: the session interleaves each commit with the one this many days back (default: 5)",
    )
    g.add_argument(
        "--session-rounds",
        type=_positive(int),
        default=None,
        help="daily history: processes per side of each day's session (default: 6, the daily workflow's --rounds)",
    )
    g.add_argument(
        "--day-sd",
        type=float,
        default=None,
        help="daily history: day-to-day sd of log level, e.g. 0.05 (default: measured, per channel)",
    )


def _config(args) -> EvalConfig:
    cfg = EvalConfig.quick() if args.quick else EvalConfig()
    if args.rounds is not None:
        cfg.rounds = args.rounds
    if args.trials is not None:
        cfg.pairwise_trials = args.trials
    if args.history_trials is not None:
        cfg.history_trials = args.history_trials
    if args.seed is not None:
        cfg.seed = args.seed
    if args.commit_rounds is not None:
        cfg.commit_rounds = args.commit_rounds
    if args.confidence is not None and not 0.5 < args.confidence < 1:
        raise ToolError(f"--confidence must lie between 0.5 and 1 (got {args.confidence})")
    if args.shift_trials is not None:
        if args.shift_trials < 0:
            raise ToolError(f"--shift-trials must be 0 or more (got {args.shift_trials})")
        cfg.shift_trials = args.shift_trials
    if args.schedule_trials is not None:
        if args.schedule_trials < 0:
            raise ToolError(f"--schedule-trials must be 0 or more (got {args.schedule_trials})")
        cfg.schedule_trials = args.schedule_trials
    if args.daily_trials is not None:
        if args.daily_trials < 0:
            raise ToolError(f"--daily-trials must be 0 or more (got {args.daily_trials})")
        cfg.daily_trials = args.daily_trials
    if args.anchor_lag is not None:
        cfg.anchor_lag = args.anchor_lag
    if args.session_rounds is not None:
        cfg.session_rounds = args.session_rounds
    if args.day_sd is not None and not 0 <= args.day_sd < 1:
        raise ToolError(f"--day-sd must lie in [0, 1) (got {args.day_sd})")
    if args.day_sd is not None:
        cfg.day_sd = args.day_sd
    cfg.rule, cfg.confidence, cfg.relative = args.rule, args.confidence, not args.no_relative
    return cfg


def run(args) -> int:
    cfg = _config(args)
    if args.record:
        rec = corpus_mod.record_with_asv(
            args.corpus,
            bench=args.bench or corpus_mod.DEFAULT_SELECTION,
            rounds=args.record_rounds,
            repeat=args.repeat,
            launch_method=args.launch_method,
            instruction_bench=corpus_mod.DEFAULT_INSTRUCTION_SELECTION if args.instruction_runs > 0 else None,
            instruction_runs=args.instruction_runs,
            log=lambda m: print(m, file=sys.stderr),
        )
        print(f"recorded {len(rec.series)} series x {args.record_rounds} processes into {args.corpus}", file=sys.stderr)
    corpus = corpus_mod.subset(corpus_mod.load_corpus(args.corpus), args.series)
    if not corpus.names("wall"):
        raise ToolError(f"{args.corpus}: no wall-time series to evaluate")
    outcome = evaluate(corpus, cfg)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    shown = (
        ["python", "-m", "tools", NAME] + [a for a in sys.argv[2:] if a != "--record"]
        if sys.argv[1:2] == [NAME]
        else ["python", "-m", "tools", NAME]
    )
    md_path, csv_path, md = write_outputs(outcome, corpus, cfg, shlex.join(shown), args.output_dir, stamp)
    print(md)
    print(f"wrote {md_path} and {csv_path}", file=sys.stderr)
    return 0
