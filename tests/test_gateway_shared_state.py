"""With REDIS_URL, the gateway's worker processes share conversations and usage counters."""

from __future__ import annotations

import subprocess
import time

import httpx
import pytest
import yaml
from _gateway_testkit import ROOT, cli, free_port, redis_server, running, stop, wait_port

pytest.importorskip("redis")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A private Redis, a mock backend, and a config pointing at the mock."""
    tmp = tmp_path_factory.mktemp("shared")
    mock_port = free_port()
    mock = subprocess.Popen(
        cli("mock-llm", "--port", str(mock_port), "--latency-ms", "1"),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(mock_port, mock)
        config = tmp / "router.yaml"
        config.write_text(yaml.safe_dump({"models": [{"id": "m", "endpoint": f"http://127.0.0.1:{mock_port}/v1"}]}))
        with redis_server(tmp) as url:
            yield config, url, tmp
    finally:
        stop(mock)


def turn(base: str, cid: str, text: str) -> httpx.Response:
    body = {"model": "m", "messages": [{"role": "user", "content": text}], "conversation_id": cid}
    with httpx.Client(base_url=base, timeout=10) as c:  # a new connection: any worker may take it
        r = c.post("/v1/chat/completions", json=body)
    assert r.status_code == 200, r.text
    return r


def seen_by_worker(base: str, cid: str) -> tuple[int, int]:
    """(worker pid, messages it sees) over one fresh connection (one worker answers both)."""
    with httpx.Client(base_url=base, timeout=10) as c:
        pid = c.get("/health").json()["pid"]
        return pid, len(c.get(f"/v1/conversations/{cid}").json()["messages"])


@pytest.fixture
def fresh(setup):
    """Each test starts on an empty Redis (the first test's workers flush their counts on exit)."""
    import redis

    config, url, tmp = setup
    with redis.Redis.from_url(url) as r:
        r.flushdb()
    return setup


def test_two_worker_processes_see_the_same_conversation(fresh):
    config, url, tmp = fresh
    port = free_port()
    args = cli("serve", "--config", str(config), "--port", str(port), "--workers", "2")
    with running(args, port, env={"REDIS_URL": url}, log=tmp / "gw2.log"):
        base = f"http://127.0.0.1:{port}"
        for i in range(6):
            turn(base, "conv-shared", f"turn {i}")
        views = {}
        # The kernel spreads new connections over the workers that are accepting; the second may
        # still be starting when the first answers, so ask until both have (bounded in time).
        deadline = time.monotonic() + 30
        while len(views) < 2 and time.monotonic() < deadline:
            pid, n = seen_by_worker(base, "conv-shared")
            views.setdefault(pid, set()).add(n)
            time.sleep(0.01)
        assert len(views) == 2, f"only one worker answered: {views}"
        assert all(counts == {12} for counts in views.values()), views  # 6 turns x (user + assistant)


def test_two_gateways_share_memory_and_usage(fresh):
    config, url, tmp = fresh
    ports = [free_port(), free_port()]
    env = {"REDIS_URL": url}
    with running(cli("serve", "--config", str(config), "--port", str(ports[0])), ports[0], env=env, log=tmp / "a.log"):
        with running(
            cli("serve", "--config", str(config), "--port", str(ports[1])), ports[1], env=env, log=tmp / "b.log"
        ):
            a, b = (f"http://127.0.0.1:{p}" for p in ports)
            turn(a, "conv-ab", "hello from a")
            prompt_b = turn(b, "conv-ab", "hello from b").json()["usage"]["prompt_tokens"]
            prompt_fresh = turn(b, "conv-new", "hello from b").json()["usage"]["prompt_tokens"]
            assert prompt_b > prompt_fresh  # b sent a's turn as context to the model
            contents = [m["content"] for m in httpx.get(f"{a}/v1/conversations/conv-ab").json()["messages"]]
            assert contents[0] == "hello from a" and contents[2] == "hello from b"
            usage = httpx.get(f"{a}/v1/usage").json()
            assert usage["shared"] is True
            # a's own count is flushed when asked; b's within a second (its periodic flush)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                if httpx.get(f"{a}/v1/usage").json()["models"]["m"]["requests"] == 3:
                    break
                time.sleep(0.1)
            assert httpx.get(f"{a}/v1/usage").json()["models"]["m"]["requests"] == 3
