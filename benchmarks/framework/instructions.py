"""The deterministic channel: instructions executed per iteration, counted under cachegrind.

Wall time on a shared machine varies 10-15% between processes; the number of instructions
the interpreter executes for a fixed workload with a fixed hash seed does not. We run the
workload in a child interpreter under ``valgrind --tool=cachegrind --cache-sim=no`` twice:

    run A: start-up, import, setup(*params), ``warm_up`` iterations, gc.collect()
    run B: the same, then ``iterations`` more with the garbage collector off

and report ``(B - A) / iterations``. Everything both runs share (interpreter start-up,
imports, setup, the first-call effects absorbed by the warm-up) cancels exactly, so the
number is the workload's own cost per iteration. ``PYTHONHASHSEED=0`` fixes string hashing,
which would otherwise change dict/set layouts and so the instruction stream, per process.
What else had to be pinned (each one measured to move the count): no directory on the
child's import path may change between the runs (``python -P``, no .pyc writes), BLAS
threads spin while idle (one thread), and psutil/asv_runner parse /proc at import (the
harness imports them lazily). Heap state left by start-up still shifts a workload's count
by ~0.1% when unrelated imports change; far below the 1% the channel is used for.

The child imports the benchmark module the way asv does (only the benchmark package is made
importable from its parent directory), then looks the class up by name, so the workload is
exactly the one asv times. valgrind slows Python down ~35x: keep ``iterations`` x the native
time per iteration to a few tens of milliseconds (class attribute ``instruction_iterations``).
"""

from __future__ import annotations

import os
import sys

# json, shutil, subprocess and tempfile are imported where used: the child imports this
# module under valgrind and needs none of them.

DEFAULT_ITERATIONS = 10
DEFAULT_WARM_UP = 1
HASH_SEED = "0"
# Set to "off" (or 0/no/false) to skip every instruction count, e.g. in a smoke pass.
SWITCH_VAR = "INTELLIROUTER_INSTRUCTIONS"
# Set in the child: the harness then skips work only asv's discovery needs.
CHILD_VAR = "INTELLIROUTER_INSTRUCTION_CHILD"


def _skip(reason: str) -> NotImplementedError:
    """The exception asv records as a skip (NaN) when raised inside a benchmark body.

    Imported lazily: ``asv_runner.benchmarks`` imports pympler and numpy, which the
    instruction-count child must not pay for (or be perturbed by).
    """
    try:
        from asv_runner.benchmarks.mark import SkipNotImplemented
    except ImportError:  # outside asv the distinction does not matter
        return NotImplementedError(reason)
    return SkipNotImplemented(reason)


# Runs inside the child interpreter: argv[1] is a JSON job description.
_CHILD = r"""
import importlib, importlib.util, json, os, sys
job = json.loads(sys.argv[1])
root = job["package_root"]
if root:
    name = os.path.basename(root)
    class _Only:  # import only the benchmark package, from its own directory, as asv_runner does
        def find_spec(self, fullname, path, target=None):
            if fullname != name:
                return None
            return importlib.util.spec_from_file_location(
                name, os.path.join(root, "__init__.py"), submodule_search_locations=[root])
    sys.meta_path.insert(0, _Only())
module = importlib.import_module(job["module"])
cls = getattr(module, job["cls"])
cls = getattr(cls, "_benchmarkable", cls)
grid = [list(v) for v in cls.config.params.values()]
params = [values[i] for values, i in zip(grid, job["param_index"])]
bench = cls()
bench.setup(*params)
for _ in range(job["warm_up"]):
    bench.run_iteration()
# Counted iterations run with the collector off, as asv's timing does: otherwise when a
# collection falls, and what it traverses, depends on everything imported before.
import gc
gc.collect()
gc.disable()
for _ in range(int(job["iterations"])):
    bench.run_iteration()
gc.enable()
teardown = getattr(bench, "teardown", None)
if teardown is not None:
    teardown()
"""


class InstructionCountError(RuntimeError):
    """The child process failed under valgrind; the message carries its stderr tail."""


def valgrind_path() -> str | None:
    import shutil

    return shutil.which("valgrind")


def _package_root(module_name: str) -> str | None:
    """Directory of the top-level package of ``module_name`` (the asv benchmark dir)."""
    top = sys.modules.get(module_name.split(".", 1)[0])
    path = getattr(top, "__path__", None)
    return os.path.abspath(list(path)[0]) if path else None


def cachegrind_total(out_file: str) -> int:
    """Instructions executed by the whole process: the ``summary:`` line of a cachegrind file."""
    with open(out_file) as fh:
        for line in fh:
            if line.startswith("summary:"):
                return int(line.split()[1])
    raise InstructionCountError(f"no 'summary:' line in cachegrind output {out_file}")


def cachegrind_prefix(valgrind: str, out_file: str, log_file: str) -> list[str]:
    """The valgrind part of a counted command: instructions only (no cache simulation)."""
    return [
        valgrind,
        "--tool=cachegrind",
        "--cache-sim=no",
        f"--cachegrind-out-file={out_file}",
        f"--log-file={log_file}",
    ]


def _child_command(job: dict, valgrind: str, out_file: str, log_file: str) -> list[str]:
    import json

    return [
        *cachegrind_prefix(valgrind, out_file, log_file),
        # The interpreter binary itself (venv symlinks are fine: valgrind follows exec).
        # -P: no script/cwd directory on sys.path, so no directory whose contents change
        # between the two runs is ever listed by the import system.
        sys.executable,
        "-P",
        "-c",
        _CHILD,
        json.dumps(job),
    ]


def child_env() -> dict[str, str]:
    """The environment every counted child runs in (fixed hash seed, no .pyc writes, one BLAS
    thread); ``tools.profiling`` runs its profiled children in it too."""
    env = dict(os.environ)
    env["PYTHONHASHSEED"] = HASH_SEED
    # The child must not write .pyc files: a directory that changes between the two runs
    # changes what the import system does, and so the count.
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env[CHILD_VAR] = "1"
    # BLAS worker threads spin while idle; their instructions depend on scheduling.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        env[var] = "1"
    for var in ("PYTHONMALLOC", "PYTHONSTARTUP", "PYTHONSAFEPATH", "PYTHONPROFILEIMPORTTIME"):
        env.pop(var, None)
    return env


def _run_children(jobs: list[dict], valgrind: str, tmpdir: str) -> list[int]:
    """Run the jobs concurrently under valgrind; return each one's instruction total."""
    import subprocess

    env = child_env()
    started = []
    for k, job in enumerate(jobs):
        out_file = os.path.join(tmpdir, f"cachegrind.{k}.out")
        log_file = os.path.join(tmpdir, f"valgrind.{k}.log")
        proc = subprocess.Popen(
            _child_command(job, valgrind, out_file, log_file),
            env=env,
            cwd=tmpdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append((job, proc, out_file, log_file))
    # Wait for every child before judging any: raising while a sibling still writes into
    # ``tmpdir`` made its cleanup fail ("Directory not empty") instead of reporting the error.
    finished = [(job, proc, proc.communicate()[1], out_file, log_file) for job, proc, out_file, log_file in started]
    totals = []
    for job, proc, stderr, out_file, log_file in finished:
        if proc.returncode != 0:
            tail = "\n".join(stderr.strip().splitlines()[-15:])
            raise InstructionCountError(
                f"{job['module']}.{job['cls']} params {job['param_index']}: "
                f"child exited {proc.returncode} under valgrind (log: {log_file}):\n{tail}"
            )
        totals.append(cachegrind_total(out_file))
    return totals


def count_instructions(
    module: str,
    cls_name: str,
    param_index: tuple[int, ...] = (),
    *,
    iterations: int = DEFAULT_ITERATIONS,
    warm_up: int = DEFAULT_WARM_UP,
) -> float:
    """Instructions per ``run_iteration()`` of ``module.cls_name`` at the given parameter indices.

    Raises ``SkipNotImplemented`` (a ``NotImplementedError``; asv records the benchmark as
    skipped) when valgrind is absent or ``INTELLIROUTER_INSTRUCTIONS=off``, and
    ``InstructionCountError`` when the workload fails in the child.
    """
    if os.environ.get(SWITCH_VAR, "").strip().lower() in {"0", "off", "no", "false"}:
        raise _skip(f"instruction counts switched off by {SWITCH_VAR}")
    valgrind = valgrind_path()
    if valgrind is None:
        raise _skip("valgrind is not installed: instruction counts unavailable")
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    job = {
        "module": module,
        "cls": cls_name,
        "param_index": list(param_index),
        "package_root": _package_root(module),
        "warm_up": warm_up,
        # Same width in both runs, so parsing the job costs the same.
        "iterations": f"{0:09d}",
    }
    work = {**job, "iterations": f"{iterations:09d}"}
    import tempfile

    with tempfile.TemporaryDirectory(prefix="ir-cachegrind-") as tmpdir:
        base, total = _run_children([job, work], valgrind, tmpdir)
    return (total - base) / iterations
