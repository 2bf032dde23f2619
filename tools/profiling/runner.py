"""Run the profiled children for one benchmark at one or two revisions, within a time budget.

Per revision ("side") the steps are: ``setup_cache`` (when the benchmark has one, in the
side's own working folder, as asv does per commit), then one ``profile`` child (bytecode
stacks, cProfile, tracemalloc for memory benchmarks) and two cachegrind children (the
machine-instruction total, ``machine.py``). Call counts are fixed once, from a calibration of
the first side, and used at both sides, so both measure the same number of body calls.

Both sides run at the same time (2 cores): wall-clock profiles of base and head then see
the same machine load, which matters more than a little speed. Every child inherits the
instruction channel's environment (``PYTHONHASHSEED=0``, one BLAS thread, no .pyc writes:
``benchmarks.framework.instructions.child_env``), which makes the bytecode counts exact.
A child that fails or outlives the budget is killed and reported, never left running.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path

from tools.profiling.channel import instructions
from tools.profiling.targets import Target

CHILD = Path(__file__).with_name("child.py")
TIME_TARGET_S = 2.0  # wall seconds of body calls under cProfile, per side (both sides at once)
BYTECODE_TARGET = 2_000_000  # bytecodes traced per side (~0.3-1 s with the tracer)
MAX_CALLS = 100_000
DEFAULT_CLOCK = "wall"  # cProfile on its own clock, rounds with preemption left out (child.Rounds)
# cachegrind counts exactly, so a few calls suffice: ~500k bytecodes (~40M instructions, a
# fraction of the interpreter's start-up under valgrind), at most 20 ms of native body time
MACHINE_BYTECODES = 500_000
MACHINE_NATIVE_S = 0.02
TRACE_SLOWDOWN = 40.0  # the bytecode tracer's measured slowdown is 20-30x; with a margin
# (the bytecode phase aims at about 2x the cProfile seconds at most, but counts one call at least)


class ProfileFailed(Exception):
    """A child failed, a side could not run, or the budget ran out: the message says which."""


@dataclass
class Budget:
    """Seconds allowed for one benchmark's profile, counted from creation."""

    seconds: float
    start: float = field(default_factory=time.monotonic)

    def spent(self) -> float:
        return time.monotonic() - self.start

    def remaining(self) -> float:
        return self.seconds - self.spent()


@dataclass(frozen=True)
class Side:
    """One revision's library code: ``role`` is 'base' or 'head'."""

    role: str
    commit: str
    tree: Path


@dataclass(frozen=True)
class Plan:
    """Body calls per measurement, the same at every side."""

    time_s: float  # seconds of cProfile rounds
    per_call_s: float  # native seconds per call, its setup included when each call needs a fresh one
    clock: str  # cProfile's clock: wall (preempted rounds left out) or cpu (thread CPU time)
    bytecode_calls: int
    machine_calls: int
    memory: bool
    ready_s: float  # start-up + setup + warm-up of one child, native
    call_s: float

    @property
    def time_calls(self) -> int:
        """At most this many cProfile calls (the rounds stop after ``time_s`` seconds anyway)."""
        return _clamp(self.time_s / self.per_call_s)


@dataclass
class SideRun:
    side: Side
    out: Path  # time.pstats, bytecodes.json, memory.json, profile.json
    cwd: Path  # the child's working folder (setup_cache files)
    skipped: str | None = None
    profile: dict | None = None  # profile.json: calls made per measurement
    machine: dict | None = None
    machine_skipped: str | None = None


@dataclass
class Child:
    job: dict
    cwd: Path
    log: Path
    prefix: tuple[str, ...] = ()  # e.g. the valgrind command in front of the interpreter


def label_prefixes(tree: Path, benchmark_dir: Path) -> list[list[str]]:
    """Path prefixes the child strips from file names, so both revisions' labels match."""
    paths = sysconfig.get_paths()
    return [
        [str(tree), ""],
        [str(benchmark_dir.parent), ""],
        [paths["purelib"], "<site-packages>/"],
        [paths["platlib"], "<site-packages>/"],
        [paths["stdlib"], "<stdlib>/"],
    ]


def _child_env() -> dict[str, str]:
    return instructions().child_env()


def _tail(path: Path, lines: int = 12) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""
    return " | ".join(text.splitlines()[-lines:])


def run_children(children: list[Child], budget: Budget, what: str) -> None:
    """Start every child at once and wait for all; kill them all when the budget runs out.

    Raises ProfileFailed naming the first child that failed, with its stderr tail."""
    env = _child_env()
    procs = []
    for child in children:
        job_path = child.log.with_suffix(".job.json")
        job_path.write_text(json.dumps(child.job), encoding="utf-8")
        argv = [*child.prefix, sys.executable, "-P", str(CHILD), str(job_path)]
        with open(child.log, "w", encoding="utf-8") as log:
            procs.append(
                subprocess.Popen(argv, cwd=child.cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            )
    try:
        for proc in procs:
            proc.wait(timeout=max(budget.remaining(), 0.1))
    except subprocess.TimeoutExpired:
        raise ProfileFailed(f"{what} did not finish within the {budget.seconds:.0f} s budget") from None
    finally:
        for proc in procs:  # only our own children, by handle
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for child, proc in zip(children, procs):
        if proc.returncode != 0:
            raise ProfileFailed(f"{what} failed (exit {proc.returncode}): {_tail(child.log)}")


def job_for(mode: str, target: Target, run: SideRun, benchmark_dir: Path, **extra) -> dict:
    return {
        "mode": mode,
        "benchmark_dir": str(benchmark_dir),
        "library_root": str(run.side.tree),
        "name": target.body,
        "param_index": target.param_index,
        "warm_up": 1,
        "out": str(run.out),
        **extra,
    }


def new_runs(sides: list[Side], workdir: Path) -> list[SideRun]:
    runs = []
    for side in sides:
        run = SideRun(side, out=workdir / side.role / "out", cwd=workdir / side.role / "cwd")
        run.out.mkdir(parents=True, exist_ok=True)
        run.cwd.mkdir(parents=True, exist_ok=True)
        runs.append(run)
    return runs


def setup_caches(target: Target, runs: list[SideRun], benchmark_dir: Path, budget: Budget) -> None:
    """asv's setup_cache at every side (it builds workloads with that side's library)."""
    if not target.setup_cache:
        return
    children = [
        Child(job_for("setup_cache", target, run, benchmark_dir), run.cwd, run.out / "setup_cache.log") for run in runs
    ]
    run_children(children, budget, "setup_cache")


def calibrate(target: Target, runs: list[SideRun], benchmark_dir: Path, budget: Budget) -> dict:
    """Calibration of the first side whose setup runs; sides whose setup skips are marked."""
    for run in runs:
        t0 = time.monotonic()
        child = Child(job_for("calibrate", target, run, benchmark_dir), run.cwd, run.out / "calibrate.log")
        run_children([child], budget, f"calibration at {run.side.role}")
        result = json.loads((run.out / "calibrate.json").read_text(encoding="utf-8"))
        if result.get("skipped"):
            run.skipped = result["skipped"]
            continue
        result["wall_s"] = time.monotonic() - t0
        return result
    raise ProfileFailed("; ".join(f"{r.side.role} ({r.side.commit[:12]}): {r.skipped}" for r in runs))


def _clamp(x: float, low: int = 1, high: int = MAX_CALLS) -> int:
    return int(min(max(x, low), high))


def plan_calls(cal: dict, memory: bool, time_target_s: float = TIME_TARGET_S, clock: str = DEFAULT_CLOCK) -> Plan:
    """Call counts from the calibration: bytecode and machine counts from the (exact)
    bytecodes per call, so they repeat run to run; the cProfile count from seconds per call."""
    call_s = max(float(cal["call_s"]), 1e-7)
    per_call = call_s + (float(cal["setup_s"]) if cal.get("fresh_setup") else 0.0)
    bytecodes = max(int(cal.get("bytecodes_per_call") or 0), 1)
    bytecode_calls = _clamp(math.ceil(BYTECODE_TARGET / bytecodes), high=5_000)
    while bytecode_calls > 1 and bytecode_calls * call_s * TRACE_SLOWDOWN > 2 * time_target_s:
        bytecode_calls //= 2  # long calls: the count is exact with fewer of them
    machine_calls = _clamp(math.ceil(MACHINE_BYTECODES / bytecodes), high=1_000)
    while machine_calls > 1 and machine_calls * call_s > MACHINE_NATIVE_S:
        machine_calls //= 2
    return Plan(
        time_s=time_target_s,
        per_call_s=per_call,
        clock=clock,
        bytecode_calls=bytecode_calls,
        machine_calls=machine_calls,
        memory=memory,
        ready_s=max(float(cal["wall_s"]) - float(cal.get("measure_s", 0.0)), 0.0),
        call_s=call_s,
    )


def profile_other_s(plan: Plan) -> float:
    """Seconds the profile step should take besides its cProfile rounds: start-up and setup,
    the traced bytecode calls, a tracemalloc call; doubled, for a busy machine."""
    traced = plan.bytecode_calls * plan.call_s * TRACE_SLOWDOWN / 2  # the tracer's typical slowdown
    return 2 * (plan.ready_s + traced + (3 * plan.call_s if plan.memory else 0.0))


def profile_children(target: Target, runs: list[SideRun], plan: Plan, benchmark_dir: Path, budget: Budget) -> None:
    """The profile child at every side, all at once."""
    calls = {"time": plan.time_calls, "bytecodes": plan.bytecode_calls, "memory": int(plan.memory)}
    children = []
    for run in runs:
        prefixes = label_prefixes(run.side.tree, benchmark_dir)
        job = job_for(
            "profile", target, run, benchmark_dir, calls=calls, time_s=plan.time_s, clock=plan.clock, prefixes=prefixes
        )
        children.append(Child(job, run.cwd, run.out / "profile.log"))
    run_children(children, budget, "profiling")
    for run in runs:
        run.profile = json.loads((run.out / "profile.json").read_text(encoding="utf-8"))
        run.skipped = run.profile.get("skipped")
