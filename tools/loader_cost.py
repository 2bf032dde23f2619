"""What a cold load costs, side by side: ``python -m tools.loader_cost RESULTS_DIR [...]``.

For each results dir, three ways to read every result file, each in a fresh interpreter so
that its peak RSS is its own:

- ``parse``: read and parse every result file (orjson, as the loader does: NaN/Infinity
  quoted first, the standard library when orjson rejects a file) and nothing else -- the
  floor of any reader;
- ``load``: ``tools.loader.load_results`` without its cache (the tidy table);
- ``asv``: asv's own reader, ``asv.results.iter_results_for_machine`` and ``get_result_value``
  / ``get_result_stats`` / ``get_result_samples`` per benchmark, building the same rows into a
  DataFrame. asv refuses format-1 files, so a dir holding them is first copied and converted
  with asv's ``Results.update`` (what ``asv update`` runs); that conversion is not timed;
- ``asv update+read`` (dirs holding format-1 files only): the same, with the conversion timed
  -- what it costs asv to read such a history from the files as they are;
- ``load, asv's copy`` (the same dirs only): ``load`` on the copy ``asv update`` rewrote, which
  is what ``asv`` reads (smaller: format 2 is more compact, and asv's conversion drops data).

Prints a Markdown table: wall and CPU seconds, peak RSS (and RSS after the imports), rows,
and each reader's time relative to ``load``; with ``--phases``, also where a load's CPU time
goes, step by step, as ``tools.loader`` takes them for a file whose entries pass the checks.
Not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

METHODS = ("parse", "load", "asv", "asv update+read", "load, asv's copy")
_SKIP = {"machine.json", "benchmarks.json"}


def _result_paths(root: Path) -> list[Path]:
    return sorted(p for p in root.glob("*/*.json") if p.name not in _SKIP)


def _parse_all(root: Path) -> int:
    from tools.asv_formats import parse_json

    paths = _result_paths(root)
    for path in paths:
        parse_json(path.read_bytes())
    return len(paths)


def _load(root: Path) -> int:
    from tools.loader import load_results

    return len(load_results(root, warn=lambda message: None))


def _asv_rows(root: Path) -> int:
    """asv's reader building one row per benchmark x params, as the tidy table has them."""
    import pandas as pd
    from asv.results import iter_results_for_machine

    rows = []
    for machine_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for res in iter_results_for_machine(str(root), machine_dir.name):
            const = (res.params.get("machine"), res.env_name, res.commit_hash, res.date)
            for key in res.get_all_result_keys():
                params = res.get_result_params(key)
                values = res.get_result_value(key, params)
                stats = res.get_result_stats(key, params)
                samples = res.get_result_samples(key, params)
                per_bench = (res.started_at.get(key), res.duration.get(key), res.benchmark_version.get(key))
                for combo, value, stat, sample in zip(itertools.product(*params), values, stats, samples):
                    stat = stat or {}
                    rows.append(
                        (*const, key, combo, value, stat.get("ci_99_a"), stat.get("ci_99_b"), stat.get("q_25"))
                        + (stat.get("q_75"), stat.get("number"), stat.get("repeat"), sample, *per_bench)
                    )
    columns = ["machine", "environment", "commit", "date", "benchmark", "param_values", "value", "ci_low"]
    columns += ["ci_high", "q25", "q75", "number", "repeat", "samples", "started_at", "duration", "version"]
    return len(pd.DataFrame(rows, columns=columns))


def _update_and_read(root: Path) -> int:
    """``asv update`` on every format-1 file of ``root`` (a scratch copy), then asv's reader."""
    from asv.results import Results

    for path in _result_paths(root):
        Results.update(str(path))  # leaves format-2 files as they are
    return _asv_rows(root)


def _measure_one(method: str, root: Path) -> dict:
    """Run one reader in this process; its figures as a dict (printed as JSON by the child)."""
    import pandas  # noqa: F401 - imported before the clock starts, as every reader needs it

    if method.startswith("asv"):
        import asv.results  # noqa: F401
    else:
        import tools.loader  # noqa: F401
    rss_after_imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    wall, cpu = time.perf_counter(), time.process_time()
    readers = {"parse": _parse_all, "load": _load, "asv": _asv_rows, "asv update+read": _update_and_read}
    readers["load, asv's copy"] = _load
    count = readers[method](root)
    return {
        "method": method,
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_imports_mb": rss_after_imports,
        "count": count,
    }


def _child(args: list[str]) -> str:
    """The last line this script prints when run with ``args`` in a fresh interpreter."""
    proc = subprocess.run(
        [sys.executable, "-m", "tools.loader_cost", *args],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip().splitlines()[-1]


def run_reader(method: str, root: Path) -> dict:
    """One reader's figures (``_measure_one``) from a fresh interpreter."""
    return json.loads(_child(["--one", method, str(root.resolve())]))


def phases(root: Path) -> dict[str, float]:
    """CPU seconds of each step of a cold load of ``root`` (garbage collector paused, as in
    ``load_results``): read, parse, convert (format 1), append, check, flush, assemble."""
    import gc

    from tools import asv_formats, result_rows
    from tools.loader import read_benchmarks_json

    cols = result_rows.Columns()
    params = result_rows.ParamCache(read_benchmarks_json(root / "benchmarks.json"))
    spent = dict.fromkeys(["read", "parse", "convert", "append", "check", "flush", "assemble"], 0.0)
    gc.disable()
    try:
        for path in _result_paths(root):
            clock = [time.process_time()]
            raw = path.read_bytes()
            clock.append(time.process_time())
            data = asv_formats.parse_json(raw)
            clock.append(time.process_time())
            data = asv_formats.from_v1(data)[0] if data.get("version") == 1 else data
            clock.append(time.process_time())
            lay, mark = result_rows.Layout(data["result_columns"], cols), cols.mark()
            counts = [result_rows.add_entry(cols, n, row, lay, params) for n, row in data["results"].items()]
            clock.append(time.process_time())
            result_rows.stretch_ok(cols, mark)
            clock.append(time.process_time())
            _flush(cols, lay, counts, data)
            clock.append(time.process_time())
            for step, start, stop in zip(list(spent)[:6], clock, clock[1:]):
                spent[step] += stop - start
        start = time.process_time()
        result_rows.assemble(cols)
        spent["assemble"] = time.process_time() - start
    finally:
        gc.enable()
    return spent


def _flush(cols, lay, counts: list, data: dict) -> None:
    from tools import result_rows

    rows = sum(n for n, _ in counts)
    lay.fill_absent(rows)
    if len(cols.row["value"]) >= result_rows.FLUSH_ROWS:
        cols.flush()
    constants = {"machine": "", "environment": data["env_name"], "commit": data["commit_hash"]}
    constants |= {"commit_date": data["date"], "round": 0, "rounded": data.get("converted_from") == 1}
    for key, value in constants.items():
        cols.file[key].append(value)
    cols.file_n.append(rows)
    cols.file_b.append(len(counts))


def _phase_lines(roots: list[Path]) -> list[str]:
    lines = ["", "| results | " + " | ".join(STEPS) + " | total |", "|---|" + "---:|" * (len(STEPS) + 1)]
    for root in roots:
        spent = json.loads(_child(["--phases-of", str(root.resolve())]))
        cells = " | ".join(f"{spent[s]:.2f} ({spent[s] / sum(spent.values()):.0%})" for s in STEPS)
        lines.append(f"| `{root}` | {cells} | {sum(spent.values()):.2f} |")
    return lines


STEPS = ("read", "parse", "convert", "append", "check", "flush", "assemble")


def _copies(root: Path, scratch: Path) -> dict[str, Path]:
    """The dir each reader reads: ``root`` itself, or for asv a converted copy (asv update's way,
    untimed) and an unconverted one for ``asv update+read`` -- when ``root`` has format-1 files."""
    from asv.results import Results

    from tools.asv_formats import parse_json

    old = [p for p in _result_paths(root) if parse_json(p.read_bytes()).get("version") != 2]
    dirs = {"parse": root, "load": root, "asv": root}
    if old:
        dirs["asv"] = shutil.copytree(root, scratch / "converted")
        for path in old:
            Results.update(str(dirs["asv"] / path.relative_to(root)))
        dirs["asv update+read"] = scratch / "as-is"
        dirs["load, asv's copy"] = dirs["asv"]
    return dirs


def _fresh(dirs: dict[str, Path], method: str, root: Path) -> Path:
    """The dir for one run; ``asv update+read`` rewrites its copy, so it gets a new one each time."""
    if method == "asv update+read":
        shutil.rmtree(dirs[method], ignore_errors=True)
        shutil.copytree(root, dirs[method])
    return dirs[method]


def measure(roots: list[Path], repeat: int) -> list[str]:
    """The Markdown table of every dir x reader (best of ``repeat`` by CPU time)."""
    lines = [
        "| results | files | rows | reader | wall s | CPU s | peak RSS MB (after imports) | wall, CPU vs load |",
        "|---|---:|---:|---|---:|---:|---:|---:|",
    ]
    for root in roots:
        with tempfile.TemporaryDirectory() as scratch:
            dirs = _copies(root, Path(scratch))
            best = {
                m: min((run_reader(m, _fresh(dirs, m, root)) for _ in range(repeat)), key=_cpu)
                for m in METHODS
                if m in dirs
            }
        n_files, n_rows = best["parse"]["count"], best["load"]["count"]
        for m in best:
            r = best[m]
            lines.append(
                f"| `{root}` | {n_files:,} | {n_rows:,} | {m} | {r['wall']:.2f} | {r['cpu']:.2f} | "
                f"{r['rss_peak_mb']:.0f} ({r['rss_imports_mb']:.0f}) | "
                f"{r['wall'] / best['load']['wall']:.2f}x, {r['cpu'] / best['load']['cpu']:.2f}x |"
            )
    return lines


def _cpu(result: dict) -> float:
    return result["cpu"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.loader_cost", description=__doc__.splitlines()[0])
    parser.add_argument("results_dirs", nargs="+", type=Path, metavar="RESULTS_DIR")
    parser.add_argument("--repeat", type=int, default=1, help="runs per reader; the best by CPU time is shown")
    parser.add_argument("--phases", action="store_true", help="also the CPU time of each step of a load")
    parser.add_argument("--one", choices=METHODS, help=argparse.SUPPRESS)  # the child processes
    parser.add_argument("--phases-of", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(_measure_one(args.one, args.results_dirs[0])))
        return 0
    if args.phases_of:
        print(json.dumps(phases(args.results_dirs[0])))
        return 0
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print("\n".join(measure(args.results_dirs, args.repeat)))
    if args.phases:
        print("\n".join(_phase_lines(args.results_dirs)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
