"""The servers of a load run: mock backend, this gateway, Redis, and LiteLLM's proxy.

Each ``start_*`` writes what the server needs into ``work`` (a temp folder), starts it on a
free loopback port and returns a :class:`procs.Proc` that is listening.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import yaml
from procs import LOOPBACK, Proc, free_port, start, wait_ready

MODEL = "mock-gpt"
LITELLM_MASTER_KEY = "sk-load-test"  # loopback-only throwaway key LiteLLM insists on


def _cli() -> list[str]:
    return [sys.executable, "-m", "intellirouter"]


def start_mock(work: Path, latency_ms: float, seed: int) -> Proc:
    port = free_port()
    args = [
        *_cli(),
        "mock-llm",
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--latency-ms",
        str(latency_ms),
        "--seed",
        str(seed),
    ]
    proc = start("mock", args, work / "mock.log", port=port)
    wait_ready(proc)
    return proc


def start_redis(work: Path) -> Proc:
    exe = shutil.which("redis-server")
    if exe is None:
        raise RuntimeError("redis-server is not installed (apt-get install -y redis-server)")
    port = free_port()
    args = [exe, "--bind", LOOPBACK, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(work)]
    proc = start("redis", args, work / "redis.log", port=port)
    wait_ready(proc)
    return proc


def gateway_config(mock_port: int, http_client: str = "aiohttp") -> dict:
    return {
        "http_client": http_client,
        "strategy": "round_robin",
        "retries": 1,
        "fallback": True,
        "timeout_s": 30,
        "models": [{"id": MODEL, "endpoint": f"http://{LOOPBACK}:{mock_port}/v1", "provider": "mock"}],
    }


def start_gateway(work: Path, mock_port: int, workers: int, redis: Proc | None, http_client: str = "aiohttp") -> Proc:
    config = work / f"router-{http_client}.yaml"
    config.write_text(yaml.safe_dump(gateway_config(mock_port, http_client)))
    port = free_port()
    args = [
        *_cli(),
        "serve",
        "--config",
        str(config),
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    env = {"REDIS_URL": f"redis://{LOOPBACK}:{redis.port}/0"} if redis else {"REDIS_URL": ""}
    proc = start(f"gateway-{http_client}", args, work / f"gateway-{http_client}.log", env=env, port=port)
    wait_ready(proc)
    return proc


def litellm_config(mock_port: int) -> dict:
    """LiteLLM's proxy on the same mock: one deployment, no background checks, no database."""
    params = {"model": f"openai/{MODEL}", "api_base": f"http://{LOOPBACK}:{mock_port}/v1", "api_key": "sk-mock"}
    return {
        "model_list": [{"model_name": MODEL, "litellm_params": params}],
        "general_settings": {"master_key": LITELLM_MASTER_KEY, "background_health_checks": False},
        "litellm_settings": {"telemetry": False, "drop_params": True},
    }


def start_litellm(work: Path, mock_port: int, workers: int, litellm_exe: Path) -> Proc:
    config = work / "litellm.yaml"
    config.write_text(yaml.safe_dump(litellm_config(mock_port)))
    port = free_port()
    args = [
        str(litellm_exe),
        "--config",
        str(config),
        "--host",
        LOOPBACK,
        "--port",
        str(port),
        "--num_workers",
        str(workers),
    ]
    env = {
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",  # no download of the cost map at start-up
        "LITELLM_LOG": "ERROR",
        "DISABLE_SCHEMA_UPDATE": "True",
        "NO_DOCS": "True",
    }
    proc = start("litellm", args, work / "litellm.log", env=env, port=port)
    wait_ready(proc, timeout=180.0)  # its start-up imports take tens of seconds
    return proc
