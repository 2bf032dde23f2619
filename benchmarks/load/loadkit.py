"""What every locustfile here shares: seeded prompts, the request cap, and per-request samples.

Not a locustfile itself (no User classes). Locust puts the locustfile's folder on
``sys.path``, so ``import loadkit`` works from each of them. This folder has no
``__init__.py`` on purpose: asv discovers packages under ``benchmarks/`` and must never
import Locust (it monkey-patches the standard library with gevent).

Environment (set by ``run_load.py``):
  LOAD_MODEL            model name sent in every request (default mock-gpt)
  LOAD_API_KEY          Bearer key, when the target wants one (LiteLLM's master key)
  LOAD_MAX_REQUESTS     per-process cap on requests; users stop when it is reached
  LOAD_SAMPLES_FILE     where the master (or a lone process) writes the samples as JSON
  LOAD_SEED             seed of the prompt generator (default 7)

Samples are (response time ms, overhead ms or NaN) per successful request, taken from
Locust's request event: ``x-intellirouter-overhead-ms`` from this gateway,
``x-litellm-overhead-duration-ms`` from LiteLLM's proxy, none from the bare backend.
"""

from __future__ import annotations

import json
import math
import os
import random

from locust import events
from locust.exception import StopUser

MODEL = os.environ.get("LOAD_MODEL", "mock-gpt")
API_KEY = os.environ.get("LOAD_API_KEY", "")
MAX_REQUESTS = int(os.environ.get("LOAD_MAX_REQUESTS", "1000000"))
SAMPLES_FILE = os.environ.get("LOAD_SAMPLES_FILE", "")
OVERHEAD_HEADERS = ("x-intellirouter-overhead-ms", "x-litellm-overhead-duration-ms")
MAX_SAMPLES = 500_000  # per process: bounded memory whatever the run length

HEADERS = {"content-type": "application/json", **({"authorization": f"Bearer {API_KEY}"} if API_KEY else {})}
_rng = random.Random(int(os.environ.get("LOAD_SEED", "7")))
_VOCAB = [f"w{i}" for i in range(2000)] + ["route", "model", "latency", "python", "function", "story", "poem"]
_samples: list[tuple[float, float]] = []
_sent = 0


def words(n: int) -> str:
    return " ".join(_rng.choices(_VOCAB, k=n))


def chat_body(messages: list[dict], max_tokens: int = 32, stream: bool = False) -> str:
    return json.dumps({"model": MODEL, "messages": messages, "max_tokens": max_tokens, "stream": stream})


def post_chat(user, body: str, name: str, stream: bool = False) -> str | None:
    """POST one chat completion; the reply text (None when streamed or failed).

    A streamed answer is read to its end: its response time is the whole stream."""
    global _sent
    if _sent >= MAX_REQUESTS:
        raise StopUser()
    _sent += 1
    with user.client.post("/v1/chat/completions", data=body, headers=HEADERS, name=name, catch_response=True) as resp:
        if resp.status_code != 200:
            resp.failure(f"HTTP {resp.status_code}")
            return None
        if stream:
            if b"[DONE]" not in resp.content:
                resp.failure("stream ended without [DONE]")
            return None
        try:
            return resp.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            resp.failure("not an OpenAI chat completion")
            return None


@events.request.add_listener
def _record(response_time, exception, response=None, **_kw) -> None:
    if exception is not None or response is None or len(_samples) >= MAX_SAMPLES:
        return
    overhead = math.nan
    headers = getattr(response, "headers", None) or {}
    for name in OVERHEAD_HEADERS:
        value = headers.get(name)
        if value:
            try:
                overhead = float(value)
            except ValueError:
                pass
            break
    _samples.append((float(response_time), overhead))


@events.report_to_master.add_listener
def _ship(client_id, data, **_kw) -> None:
    data["load_samples"] = _samples[:]
    _samples.clear()


@events.worker_report.add_listener
def _collect(client_id, data, **_kw) -> None:
    room = MAX_SAMPLES * 8 - len(_samples)
    _samples.extend(data.get("load_samples", [])[: max(room, 0)])


@events.quitting.add_listener
def _write(environment, **_kw) -> None:
    from locust.runners import WorkerRunner

    if SAMPLES_FILE and not isinstance(environment.runner, WorkerRunner):
        tmp = f"{SAMPLES_FILE}.tmp"
        with open(tmp, "w") as f:
            json.dump([[rt, None if math.isnan(oh) else oh] for rt, oh in _samples], f)
        os.replace(tmp, SAMPLES_FILE)
