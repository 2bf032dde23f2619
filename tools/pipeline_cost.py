"""What the main job's analysis costs on a results tree, against merely parsing its files:
``python -m tools.pipeline_cost RESULTS_DIR [--repeat N]``.

The tree is put in a scratch project (hard links, or a copy across file systems) beside an
asv.conf.json, so the loader cache works as in a checkout. There each step runs as
``scripts/run_benchmarks.sh`` runs it, in a fresh interpreter, in this order:

- ``parse`` (``tools.loader_cost``'s): read and parse every result file with orjson, nothing
  else -- the floor of any reader; timed inside its process, without the interpreter's start;
- ``export``: the newest commit's CSV; its load is the cold one and fills the cache;
- ``regressions --history --profile-cap 0``: the regression report of the whole history (cached
  load, newest pair, change points, environment shifts, anomalies; md, html and json);
- ``report --marks <that json>``: the performance report (cached load, tables, anomalies,
  configurations, trend charts with the change points marked; md and html).

The three steps are timed whole (interpreter start, imports, writing the outputs): what a user
waits for. Prints a Markdown table: wall and CPU seconds (user + system, from ``wait4``), peak RSS,
each relative to the parse, and their total; with ``--repeat N``, the best of N by CPU per step.

``--parts`` also times, in one process over the loaded table, the parts no change to this code
removes: the interpreter with the libraries the steps import; asv's exact Potts solver inside the
penalty search of every series (and the whole search, and asv's own ``solve_potts_autogamma`` on
the same series for comparison); and the trend charts.
Not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools.loader_cost import run_reader

ROOT = Path(__file__).resolve().parents[1]
CONF = {"version": 1, "project": "cost", "repo": ".", "results_dir": "results", "html_dir": "html"}
STEPS = (
    ("export", ["export"]),
    ("regressions --history", ["regressions", "--history", "--profile-cap", "0"]),
    ("report --marks", ["report", "--marks"]),
)


def scratch_project(results: Path, where: Path) -> Path:
    """A project dir holding ``results`` as its results_dir (hard links when the file system allows)."""
    project = where / "project"
    try:
        shutil.copytree(results, project / "results", copy_function=os.link)
    except OSError:
        shutil.rmtree(project / "results", ignore_errors=True)
        shutil.copytree(results, project / "results")
    (project / "asv.conf.json").write_text(json.dumps(CONF))
    return project


def run_once(project: Path) -> dict[str, dict]:
    """Parse, then the three steps from a cold loader cache (the files themselves are in the
    page cache: a first read from disk would time the disk); figures per step."""
    shutil.rmtree(project / ".asv", ignore_errors=True)
    shutil.rmtree(project / "metrics", ignore_errors=True)
    run_reader("parse", project / "results")  # untimed: brings the files into the page cache
    figures = {"parse": run_reader("parse", project / "results")}
    report_json = None
    for name, args in STEPS:
        if name == "report --marks":
            args = [*args, report_json] if report_json else ["report"]
        figures[name] = _measured(args, project)
        for line in figures[name].pop("stdout").splitlines():
            if line.startswith("wrote ") and line.endswith(".json"):
                report_json = line[len("wrote ") :].strip()
    return figures


def _measured(args: list[str], cwd: Path) -> dict:
    """One tools command in a fresh interpreter: its wall time, and the CPU time and peak RSS of
    that process alone (``wait4``); exit 1 is a finding, not a failure."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryFile() as err:  # a file, not a pipe: a full stderr pipe would block the child
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "tools", *args], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=err
        )
        with proc.stdout:
            out = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)  # not proc.wait(): wait4 gives this child's rusage
        wall = time.perf_counter() - start
        code = proc.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must know
        if code not in (0, 1):
            err.seek(0)
            raise SystemExit(f"python -m tools {' '.join(args)} failed (exit {code}) in {cwd}:\n{err.read().decode()}")
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_peak_mb": usage.ru_maxrss / 1024,
        "stdout": out.decode(),
    }


def table(results: Path, runs: list[dict[str, dict]]) -> list[str]:
    """The Markdown table: the best run of each step by CPU, relative to the best parse."""
    best = {k: min((r[k] for r in runs), key=lambda f: f["cpu"]) for k in runs[0]}
    parse = best["parse"]
    lines = [
        f"`{results}`: {parse['count']:,} result files; best of {len(runs)} by CPU",
        "",
        "| step | wall s | CPU s | peak RSS MB | wall, CPU vs parse |",
        "|---|---:|---:|---:|---:|",
    ]
    steps = [name for name, _ in STEPS]
    for name in ["parse", *steps]:
        f = best[name]
        lines.append(
            f"| {name} | {f['wall']:.2f} | {f['cpu']:.2f} | {f['rss_peak_mb']:.0f} | "
            f"{f['wall'] / parse['wall']:.1f}x, {f['cpu'] / parse['cpu']:.1f}x |"
        )
    wall, cpu = sum(best[s]["wall"] for s in steps), sum(best[s]["cpu"] for s in steps)
    rss = max(best[s]["rss_peak_mb"] for s in steps)
    lines.append(
        f"| **the three steps** | {wall:.2f} | {cpu:.2f} | {rss:.0f} | "
        f"**{wall / parse['wall']:.1f}x, {cpu / parse['cpu']:.1f}x** |"
    )
    return lines


IMPORTS = "import pandas, numpy, scipy.stats, matplotlib.figure, asv.step_detect"


def parts(project: Path) -> dict[str, float]:
    """CPU seconds of the parts every run of the three steps pays, measured in this process."""
    from argparse import Namespace

    import numpy as np
    from asv import step_detect

    from tools import charts
    from tools.config import load_table, settings_from_args
    from tools.detect import history, potts, series

    os.chdir(project)
    table = load_table(settings_from_args(Namespace()))
    ys = [list(np.log(per["value"].to_numpy(float))) for _, per in series.per_commit_series(table)]
    ys = [y for y in ys if len(y) >= 3 and np.isfinite(y).all()]

    solver = {"cpu": 0.0}
    exact = step_detect.solve_potts

    def timed_solver(*args, **kwargs):
        start = time.process_time()
        try:
            return exact(*args, **kwargs)
        finally:
            solver["cpu"] += time.process_time() - start

    start = time.process_time()
    step_detect.solve_potts = timed_solver
    try:
        for y in ys:
            potts.potts_autogamma(y, history.potts_beta(len(y)))
    finally:
        step_detect.solve_potts = exact
    search = time.process_time() - start
    start = time.process_time()
    for y in ys:
        step_detect.solve_potts_autogamma(y, [1.0] * len(y), beta=history.potts_beta(len(y)))
    asvs = time.process_time() - start
    start = time.process_time()
    pages = sum(1 for _, fig in charts.chart_figures(table) if charts.render_png(fig))
    drawn = time.process_time() - start
    imports = subprocess.run(
        [sys.executable, "-c", f"import time; {IMPORTS}; print(time.process_time())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {
        "series": len(ys),
        "imports": float(imports.stdout.strip()),
        "solve_potts": solver["cpu"],
        "potts_autogamma": search,
        "asv_autogamma": asvs,
        "charts": drawn,
        "pages": pages,
    }


def parts_table(p: dict[str, float], parse_cpu: float) -> list[str]:
    """The parts as a Markdown table, each also as a multiple of the parse's CPU time."""

    def row(name: str, cpu: float) -> str:
        return f"| {name} | {cpu:.2f} | {cpu / parse_cpu:.1f}x |"

    return [
        "",
        f"Parts, CPU s in one process ({p['series']} series, {p['pages']} chart pages):",
        "",
        "| part | CPU s | vs parse |",
        "|---|---:|---:|",
        row("interpreter and libraries, once (`" + IMPORTS + "`)", p["imports"]),
        row("... once per step (3 steps)", 3 * p["imports"]),
        row("asv's exact Potts solver inside the penalty search of every series", p["solve_potts"]),
        row("the whole Potts search (`potts.potts_autogamma`)", p["potts_autogamma"]),
        row("asv's own `solve_potts_autogamma` on the same series, for comparison", p["asv_autogamma"]),
        row("the trend charts (`charts.chart_figures` + `render_png`)", p["charts"]),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.pipeline_cost", description=__doc__.splitlines()[0])
    parser.add_argument("results_dir", type=Path, metavar="RESULTS_DIR")
    parser.add_argument("--repeat", type=int, default=1, help="runs of the whole sequence; the best by CPU is shown")
    parser.add_argument("--parts", action="store_true", help="also the CPU time of the parts every run pays")
    parser.add_argument("--parts-of", action="store_true", help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args(argv)
    if args.parts_of:
        print(json.dumps(parts(args.results_dir)))
        return 0
    if not args.results_dir.is_dir():
        print(f"error: {args.results_dir} is not a directory", file=sys.stderr)
        return 2
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as scratch:
        project = scratch_project(args.results_dir, Path(scratch))
        runs = [run_once(project) for _ in range(max(1, args.repeat))]
        lines = table(args.results_dir, runs)
        if args.parts:
            child = [sys.executable, "-m", "tools.pipeline_cost", "--parts-of", str(project)]
            found = subprocess.run(child, cwd=ROOT, capture_output=True, text=True, check=True)
            parse_cpu = min(r["parse"]["cpu"] for r in runs)
            lines += parts_table(json.loads(found.stdout.strip().splitlines()[-1]), parse_cpu)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
