"""Load run driver (``scripts/load_test.sh`` calls it): servers up, Locust per step, CSV out.

For each user count, every target in turn (interleaved, so the machine's noise hits them
alike): ``direct`` (the mock backend itself, the floor), ``gateway`` (this gateway in front
of the same mock) and, with ``--peer litellm``, ``litellm`` (LiteLLM's proxy in front of it).
A step is one headless Locust run (a master and ``--workers`` worker processes) bounded by
``--duration`` seconds and ``--max-requests`` requests, against 127.0.0.1 only.

Output: ``<out>/load_results_<UTC ts>.csv`` (columns ``COLUMNS``; latency percentiles
from every request's own response time, not Locust's rounded buckets) and a ``.json``
beside it with the run's settings. Every server is stopped on exit, on failure and on
Ctrl-C (SIGINT/SIGTERM).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import os
import signal
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import procs
import targets

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
from tools.io import atomic_write_text  # noqa: E402
from tools.load_report import COLUMNS  # noqa: E402  (the load CSV's columns, one definition)

SCENARIOS = {"mix": "locustfile_mix.py", "short": "locustfile_short.py", "memory": "locustfile_memory.py"}


class UsageError(Exception):
    """Bad command-line input: one line, exit 2."""


def _users(text: str) -> list[int]:
    try:
        users = [int(u) for u in text.split(",") if u.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--users takes comma-separated integers, got {text!r}") from None
    if not users or any(u < 1 or u > 2000 for u in users):
        raise argparse.ArgumentTypeError(f"--users: each count must be 1..2000, got {text!r}")
    return users


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="load_test.sh", description="Locust load run: mock backend vs this gateway (vs LiteLLM)."
    )
    p.add_argument("--users", type=_users, default=[1, 8, 32, 128], help="user counts, e.g. 1,8,32,128")
    p.add_argument("--duration", type=int, default=20.0, help="seconds per step (1..600)")
    p.add_argument(
        "--workers", type=int, default=1, help="Locust worker processes under one master (0: one local process)"
    )
    p.add_argument("--gateway-workers", type=int, default=1, help="worker processes of each gateway under test")
    p.add_argument("--peer", choices=["litellm"], default=None, help="also load LiteLLM's proxy on the same mock")
    p.add_argument(
        "--litellm", type=Path, default=ROOT / ".venv-litellm" / "bin" / "litellm", help="the litellm executable"
    )
    p.add_argument("--scenario", choices=sorted(SCENARIOS), default="mix")
    p.add_argument("--redis", action="store_true", help="run a redis-server and give the gateway REDIS_URL")
    p.add_argument(
        "--httpx", action="store_true", help="also load the gateway with http_client: httpx (target gateway-httpx)"
    )
    p.add_argument("--latency-ms", type=float, default=50.0, help="the mock backend's fixed latency")
    p.add_argument("--max-requests", type=int, default=200_000, help="cap on requests per step")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", type=Path, default=ROOT / "metrics" / "performance" / "load")
    args = p.parse_args(argv)
    if not 1 <= args.duration <= 600 or not 0 <= args.workers <= 16 or not 1 <= args.gateway_workers <= 16:
        raise UsageError("--duration must be 1..600 s, --workers 0..16, --gateway-workers 1..16")
    if args.max_requests < 1 or args.latency_ms < 0:
        raise UsageError("--max-requests must be >= 1 and --latency-ms >= 0")
    if args.peer == "litellm" and not args.litellm.exists():
        raise UsageError(f"LiteLLM not found at {args.litellm} (scripts/load_test.sh --peer litellm installs it)")
    return args


def locust_env(args: argparse.Namespace, target: str, samples: Path, processes: int) -> dict[str, str]:
    env = {"LOAD_MODEL": targets.MODEL, "LOAD_SAMPLES_FILE": str(samples), "LOAD_SEED": str(args.seed)}
    env["LOAD_MAX_REQUESTS"] = str(max(1, args.max_requests // processes))
    if target == "litellm":
        env["LOAD_API_KEY"] = targets.LITELLM_MASTER_KEY
    return env


def run_locust(args: argparse.Namespace, target: str, port: int, users: int, step_dir: Path) -> Path:
    """One headless Locust run (master + workers); returns the CSV prefix it wrote."""
    locustfile = str(HERE / SCENARIOS[args.scenario])
    prefix = step_dir / "locust"
    env = locust_env(args, target, step_dir / "samples.json", max(args.workers, 1))
    common = [sys.executable, "-m", "locust", "-f", locustfile, "--loglevel", "WARNING", "--skip-log-setup"]
    master_args = [
        *common,
        "--headless",
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        f"{round(args.duration)}s",
        "--host",
        f"http://{procs.LOOPBACK}:{port}",
    ]
    master_args += ["--csv", str(prefix), "--only-summary", "--exit-code-on-error", "0", "--stop-timeout", "2"]
    workers: list[procs.Proc] = []
    if args.workers:
        mport = procs.free_port()
        master_args += [
            "--master",
            "--master-bind-host",
            procs.LOOPBACK,
            "--master-bind-port",
            str(mport),
            "--expect-workers",
            str(args.workers),
        ]
        worker_args = [*common, "--worker", "--master-host", procs.LOOPBACK, "--master-port", str(mport)]
    master = procs.start("locust-master", master_args, step_dir / "master.log", env=env)
    try:
        for k in range(args.workers):
            workers.append(procs.start(f"locust-worker-{k}", worker_args, step_dir / f"worker{k}.log", env=env))
        code = master.popen.wait(args.duration + 60)
        if code != 0:
            raise RuntimeError(f"locust exited with {code}: {procs.tail(master.log)}")
    finally:
        for proc in (master, *workers):
            procs.stop(proc, grace=5)
    return prefix


def locust_totals(prefix: Path) -> tuple[int, int, float]:
    """(requests, failures, requests/s) from the Aggregated row of Locust's stats CSV."""
    with open(f"{prefix}_stats.csv", newline="") as f:
        for row in csv.DictReader(f):
            if row["Name"] == "Aggregated":
                return int(row["Request Count"]), int(row["Failure Count"]), float(row["Requests/s"])
    raise RuntimeError(f"no Aggregated row in {prefix}_stats.csv")


def percentiles(values: list[float]) -> list[float]:
    if not values:
        return [math.nan] * 3
    return [float(v) for v in np.percentile(np.asarray(values, dtype=float), [50, 95, 99])]


def step_row(target: str, users: int, prefix: Path, samples_file: Path, usage: procs.Usage) -> dict:
    requests, failures, rps = locust_totals(prefix)
    samples = json.loads(samples_file.read_text()) if samples_file.exists() else []
    latency = percentiles([rt for rt, _ in samples])
    overhead = percentiles([oh for _, oh in samples if oh is not None])
    values = [requests, failures, rps, *latency, *overhead, usage.cpu_pct, usage.rss_mb]
    return {"target": target, "users": users, **dict(zip(COLUMNS[2:], values))}


def progress(i: int, n: int, row: dict) -> str:
    oh = row["overhead_p99_ms"]
    extra = "" if math.isnan(oh) else f"  overhead p99 {oh:.2f} ms"
    return (
        f"[{i}/{n}] {row['target']:<13} users={row['users']:<4} {row['requests']:>7} req {row['failures']:>5} fail "
        f"{row['rps']:8.1f} rps  p50 {row['p50_ms']:.1f}  p95 {row['p95_ms']:.1f}  p99 {row['p99_ms']:.1f} ms{extra}  cpu {row['cpu_pct']:.0f}%"
    )


def warm_up(target: str, server: procs.Proc, n: int = 30) -> None:
    """A few requests before measuring: lazy imports and first connections are not the load's."""
    body = json.dumps({"model": targets.MODEL, "messages": [{"role": "user", "content": "warm up"}], "max_tokens": 8})
    headers = {"content-type": "application/json"}
    if target == "litellm":
        headers["authorization"] = f"Bearer {targets.LITELLM_MASTER_KEY}"
    url = f"http://{procs.LOOPBACK}:{server.port}/v1/chat/completions"
    for _ in range(n):
        request = urllib.request.Request(url, data=body.encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                response.read()
        except (urllib.error.URLError, TimeoutError) as exc:
            raise RuntimeError(f"{target} does not answer a chat completion: {exc}") from None


def run_steps(args: argparse.Namespace, servers: dict[str, procs.Proc], work: Path) -> list[dict]:
    for target, server in servers.items():
        warm_up(target, server)
    rows = []
    plan = [(u, t) for u in args.users for t in servers]
    for i, (users, target) in enumerate(plan, 1):
        step_dir = work / f"step{i:02d}-{target}-{users}"
        step_dir.mkdir()
        server = servers[target]
        with procs.Usage(server.pid, args.duration) as usage:
            prefix = run_locust(args, target, server.port, users, step_dir)
        row = step_row(target, users, prefix, step_dir / "samples.json", usage)
        print(progress(i, len(plan), row), flush=True)
        rows.append(row)
    return rows


def start_servers(args: argparse.Namespace, work: Path, started: list[procs.Proc]) -> dict[str, procs.Proc]:
    mock = targets.start_mock(work, args.latency_ms, args.seed)
    started.append(mock)
    redis = targets.start_redis(work) if args.redis else None
    if redis:
        started.append(redis)
    gateway = targets.start_gateway(work, mock.port, args.gateway_workers, redis)
    started.append(gateway)
    servers = {"direct": mock, "gateway": gateway}
    if args.httpx:
        servers["gateway-httpx"] = targets.start_gateway(work, mock.port, args.gateway_workers, redis, "httpx")
        started.append(servers["gateway-httpx"])
    if args.peer == "litellm":
        print("starting LiteLLM's proxy (its start-up takes a while)...", flush=True)
        servers["litellm"] = targets.start_litellm(work, mock.port, args.gateway_workers, args.litellm)
        started.append(servers["litellm"])
    return servers


def write_results(args: argparse.Namespace, rows: list[dict], argv: list[str]) -> Path:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d_%H-%M-%S")
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.3f}" if isinstance(v, float) else v) for k, v in row.items()})
    path = args.out / f"load_results_{stamp}.csv"
    meta = {
        # as typed (scripts/load_test.sh passes it), else this driver's own arguments
        "command": os.environ.get("LOAD_TEST_COMMAND") or "benchmarks/load/run_load.py " + " ".join(argv),
        "scenario": args.scenario,
        "duration_s": args.duration,
        "locust_workers": args.workers,
        "gateway_workers": args.gateway_workers,
        "mock_latency_ms": args.latency_ms,
        "redis": args.redis,
        "cpus": os.cpu_count(),
        "loadavg_1m_at_end": round(os.getloadavg()[0], 2),  # other work on a shared machine
    }
    atomic_write_text(path.with_suffix(".json"), json.dumps(meta, indent=2) + "\n")
    return atomic_write_text(path, buf.getvalue())


def _terminate(signum, frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = parse_args(argv)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _terminate)
    started: list[procs.Proc] = []
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="intellirouter-load-") as tmp:
        try:
            servers = start_servers(args, Path(tmp), started)
            rows = run_steps(args, servers, Path(tmp))
        except KeyboardInterrupt:
            print("interrupted: servers stopped, no results written", file=sys.stderr)
            return 130
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            for proc in reversed(started):
                procs.stop(proc)
    path = write_results(args, rows, argv)
    print(f"wrote {path} ({time.monotonic() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
