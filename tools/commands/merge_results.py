"""``python -m tools merge-results OUT DIR...``: asv results trees merged into one (``tools.merge``).

OUT, when it already holds results, takes part as the first input. The merged tree is written
into a temporary folder beside OUT and renamed into place, so a conflict or a failure leaves OUT
as it was.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from tools import merge
from tools.errors import ToolError

NAME = "merge-results"
HELP = "merge asv results trees (shards, machines) into OUT; conflicting results are refused (exit 2) unless --prefer newest"


def add_arguments(parser) -> None:
    parser.add_argument("out", metavar="OUT", help="the merged results tree (created, or merged into when it exists)")
    parser.add_argument("dirs", metavar="DIR", nargs="+", help="results trees to merge (asv results_dir layout)")
    parser.add_argument(
        "--prefer",
        choices=merge.PREFER,
        default=None,
        help="settle conflicts instead of refusing them: the newer result (started_at), machine.json "
        "and benchmarks.json of the input whose results started last",
    )
    parser.add_argument(
        "--rounds",
        action="store_true",
        help="the trees are interleaved-rounds folders (.asv/rounds): every <session>/round-<k> is merged",
    )


def _inputs(out: Path, dirs: list[str]) -> list[Path]:
    if out.exists() and not out.is_dir():
        raise ToolError(f"{out} exists and is not a directory")
    inputs = [Path(d) for d in dirs]
    if out.is_dir() and any(out.iterdir()):
        inputs = [out] + [d for d in inputs if d.resolve() != out.resolve()]
    seen, unique = set(), []
    for d in inputs:
        if d.resolve() not in seen:
            seen.add(d.resolve())
            unique.append(d)
    return unique


def _left_out(out: Path, merged: merge.Merged, rounds: bool) -> list[str]:
    """Files in OUT that the merged tree would drop (anything that is not asv results)."""
    if not out.is_dir():
        return []
    kept = set(merged.written)
    dropped = []
    for p in sorted(out.rglob("*")):
        rel = p.relative_to(out).as_posix()
        if p.is_dir() or rel in kept or (rounds and "/scratch-" in f"/{rel}"):
            continue
        dropped.append(rel)
    return dropped


def _swap(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` onto ``out`` (the old ``out`` kept aside until the new one is in place)."""
    if not out.exists():
        tmp.rename(out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
    old.rmdir()
    out.rename(old)
    try:
        tmp.rename(out)
    except OSError:
        old.rename(out)
        raise
    shutil.rmtree(old, ignore_errors=True)


def run(args) -> int:
    out = Path(args.out)
    inputs = _inputs(out, args.dirs)
    plan = merge.plan_rounds_merge if args.rounds else merge.plan_merge
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.merge-", dir=out.parent))
    try:
        merged = plan(inputs, args.prefer, tmp)
        dropped = _left_out(out, merged, args.rounds)
        if dropped:
            shown = ", ".join(dropped[:3]) + (f" and {len(dropped) - 3} more" if len(dropped) > 3 else "")
            raise ToolError(f"{out} holds files that are not asv results ({shown}); merge into a new or empty OUT")
        _swap(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    n = len(merged.written)
    print(f"merged {len(inputs)} tree(s) into {out}: {n} file(s), {merged.combined} combined from several inputs")
    return 0
