"""Processes a load run starts: on 127.0.0.1 at free ports, each stopped by its PID.

Every child is started in its own session (a Ctrl-C reaches only the driver, which then
stops the children in order) and with a parent-death signal, so even a driver killed with
SIGKILL leaves no server behind. ``stop`` sends SIGTERM to the child's whole session
(uvicorn's and Locust's worker processes included), then SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

LOOPBACK = "127.0.0.1"
_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    os.setsid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path
    port: int | None = None

    @property
    def pid(self) -> int:
        return self.popen.pid


def start(name: str, args: list[str], log: Path, env: dict[str, str] | None = None, port: int | None = None) -> Proc:
    out = open(log, "wb")  # noqa: SIM115 - the child keeps it; closed when the driver exits
    popen = subprocess.Popen(
        args, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}, preexec_fn=_die_with_parent
    )
    out.close()
    return Proc(name, popen, log, port)


def wait_ready(proc: Proc, timeout: float = 60.0) -> None:
    """Until ``proc.port`` accepts connections; RuntimeError (with the log's tail) if it dies or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode}: {tail(proc.log)}")
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, proc.port), timeout=0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{proc.name} did not listen on {LOOPBACK}:{proc.port} within {timeout:.0f} s: {tail(proc.log)}")


def tail(log: Path, n: int = 400) -> str:
    with contextlib.suppress(OSError):
        return log.read_bytes()[-n:].decode(errors="replace").strip().replace("\n", " | ")
    return "(no log)"


def stop(proc: Proc, grace: float = 10.0) -> None:
    """SIGTERM to the child's session, SIGKILL to whatever is left after ``grace`` seconds."""
    if proc.popen.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.popen.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # stragglers of the session (workers), if any
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.popen.wait(5)


def _tree(pid: int) -> list[psutil.Process]:
    with contextlib.suppress(psutil.NoSuchProcess):
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    return []


def _cpu_seconds(procs: list[psutil.Process]) -> dict[int, float]:
    out = {}
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            t = p.cpu_times()
            out[p.pid] = t.user + t.system
    return out


def _rss_mb(procs: list[psutil.Process]) -> float:
    total = 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += p.memory_info().rss
    return total / 2**20


@dataclass
class Usage:
    """CPU and peak RSS of a server's process tree during a step.

    ``cpu_s`` is the CPU time the tree used between enter and exit; ``cpu_pct`` divides it
    by ``duration`` (the load's own length: an idle server around it costs next to nothing),
    so ``rps / (cpu_pct / 100)`` is requests per CPU-second, RPS per core.
    """

    pid: int
    duration: float
    interval: float = 0.5
    cpu_s: float = 0.0
    cpu_pct: float = 0.0
    rss_mb: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> Usage:
        self._procs = _tree(self.pid)
        self._cpu0 = _cpu_seconds(self._procs)
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.rss_mb = max(self.rss_mb, _rss_mb(self._procs))

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        cpu1 = _cpu_seconds(self._procs)
        self.cpu_s = sum(cpu1[p] - self._cpu0[p] for p in cpu1 if p in self._cpu0)
        self.cpu_pct = 100.0 * self.cpu_s / self.duration
        self.rss_mb = max(self.rss_mb, _rss_mb(self._procs))
