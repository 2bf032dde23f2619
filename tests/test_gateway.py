"""The gateway end to end: the official openai client against `intellirouter serve` in front of
`intellirouter mock-llm` (real processes on loopback ports), and every error case in process."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import threading
import time

import httpx
import pytest
import yaml
from _gateway_testkit import ROOT, cli, free_port, running, stop, wait_port

from intellirouter.server.app import Gateway
from intellirouter.server.config import parse_config

openai = pytest.importorskip("openai")
KEY = "sk-test-key"


def mock_args(port: int, *extra: str) -> list[str]:
    return cli(
        "mock-llm",
        "--port",
        str(port),
        "--latency-ms",
        "5",
        "--completion-tokens",
        "8",
        "--chunk-interval-ms",
        "1",
        *extra,
    )


@pytest.fixture(scope="module")
def mocks(tmp_path_factory):
    """Ports of four mock backends: good, always 500, always hanging, slow (800 ms)."""
    tmp = tmp_path_factory.mktemp("mocks")
    specs = {
        "good": (),
        "broken": ("--error-rate", "1"),
        "hang": ("--timeout-rate", "1", "--hang-s", "30"),
        "slow": ("--latency-ms", "800"),
    }
    ports = {name: free_port() for name in specs}
    procs = [
        subprocess.Popen(
            mock_args(ports[n], *extra), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(tmp / f"{n}.log", "wb")
        )
        for n, extra in specs.items()
    ]  # noqa: SIM115
    try:
        for proc, port in zip(procs, ports.values()):
            wait_port(port, proc)
        yield ports
    finally:
        for proc in procs:
            stop(proc)


def model(mid: str, port: int) -> dict:
    return {"id": mid, "endpoint": f"http://127.0.0.1:{port}/v1"}


@pytest.fixture(scope="module")
def gateway(mocks, tmp_path_factory):
    """`intellirouter serve` with an API key; yields its base URL."""
    tmp = tmp_path_factory.mktemp("gateway")
    config = tmp / "router.yaml"
    models = [{**model("mock-gpt", mocks["good"]), "priority": 1}, {**model("slow", mocks["slow"]), "priority": 9}]
    config.write_text(yaml.safe_dump({"api_keys": [KEY], "models": models}))
    port = free_port()
    with running(
        cli("serve", "--config", str(config), "--port", str(port)), port, env={"REDIS_URL": ""}, log=tmp / "gw.log"
    ):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def client(gateway):
    with openai.OpenAI(base_url=f"{gateway}/v1", api_key=KEY, max_retries=0, timeout=20) as c:
        yield c


# --- the official client ------------------------------------------------------------------
def test_openai_client_non_streaming(client):
    raw = client.chat.completions.with_raw_response.create(
        model="mock-gpt", messages=[{"role": "user", "content": "hello"}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content.split() == [
        "alpha",
        "bravo",
        "charlie",
        "delta",
        "echo",
        "foxtrot",
        "golf",
        "hotel",
    ]
    assert completion.usage.completion_tokens == 8
    assert raw.headers["x-intellirouter-model"] == "mock-gpt"
    assert float(raw.headers["x-intellirouter-overhead-ms"]) >= 0


def test_openai_client_streaming(client):
    stream = client.chat.completions.create(
        model="mock-gpt", messages=[{"role": "user", "content": "hi"}], stream=True, max_tokens=3
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text.split() == ["alpha", "bravo", "charlie"]


def test_openai_client_models_and_auto_routing(client):
    assert [m.id for m in client.models.list()] == ["mock-gpt", "slow"]
    raw = client.chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": "x"}], extra_body={"routing_strategy": "priority"}
    )
    assert raw.headers["x-intellirouter-model"] == "mock-gpt"  # priority: "slow" is ranked 9


def test_openai_client_errors_are_typed(gateway, client):
    with pytest.raises(openai.NotFoundError, match="not found"):
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError, match="messages"):
        client.chat.completions.create(model="mock-gpt", messages=[])
    with openai.OpenAI(base_url=f"{gateway}/v1", api_key="wrong", max_retries=0) as bad:
        with pytest.raises(openai.AuthenticationError):
            bad.models.list()
    assert httpx.post(f"{gateway}/v1/chat/completions", json={}).status_code == 401  # no key at all


def test_conversation_memory_and_metrics(gateway, client):
    for turn in ("first", "second"):
        client.chat.completions.create(
            model="mock-gpt", messages=[{"role": "user", "content": turn}], extra_body={"conversation_id": "conv-1"}
        )
    stored = httpx.get(f"{gateway}/v1/conversations/conv-1", headers={"authorization": f"Bearer {KEY}"}).json()[
        "messages"
    ]
    assert [(m["role"], m["content"].split()[0]) for m in stored] == [
        ("user", "first"),
        ("assistant", "alpha"),
        ("user", "second"),
        ("assistant", "alpha"),
    ]
    metrics = httpx.get(f"{gateway}/metrics").text
    assert 'intellirouter_requests_total{model="mock-gpt",status="200"}' in metrics
    assert "intellirouter_overhead_seconds_bucket" in metrics
    assert httpx.get(f"{gateway}/health").json()["status"] == "ok"


def test_streamed_turns_are_remembered(gateway, client):
    stream = client.chat.completions.create(
        model="mock-gpt",
        messages=[{"role": "user", "content": "stream me"}],
        stream=True,
        max_tokens=2,
        extra_body={"conversation_id": "conv-stream"},
    )
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices).split() == ["alpha", "bravo"]
    # [DONE] came only after the turn was stored: it is there at once
    r = httpx.get(f"{gateway}/v1/conversations/conv-stream", headers={"authorization": f"Bearer {KEY}"})
    assert [(m["role"], m["content"].strip()) for m in r.json()["messages"]] == [
        ("user", "stream me"),
        ("assistant", "alpha bravo"),
    ]


def in_flight(port: int) -> bool:
    """Whether the gateway's /metrics counts a chat completion in flight."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics").text
    return re.search(r"^intellirouter_in_flight\s+1(\.0)?$", text, re.M) is not None


def test_graceful_shutdown_drains_in_flight(mocks, tmp_path):
    config = tmp_path / "router.yaml"
    config.write_text(yaml.safe_dump({"models": [model("slow", mocks["slow"])]}))
    port = free_port()
    proc = subprocess.Popen(
        cli("serve", "--config", str(config), "--port", str(port)),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_port(port, proc)
        result = {}
        body = {"model": "slow", "messages": [{"role": "user", "content": "x"}]}
        t = threading.Thread(
            target=lambda: result.update(
                r=httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body, timeout=20)
            )
        )
        t.start()
        # stop the server once the request is in flight (waiting on the 800 ms backend), not after a guess
        deadline = time.monotonic() + 10
        while t.is_alive() and time.monotonic() < deadline and not in_flight(port):
            time.sleep(0.02)
        assert t.is_alive(), "the request ended before the server was stopped: nothing was left to drain"
        proc.send_signal(signal.SIGTERM)
        t.join(20)
        assert "r" in result, "the in-flight request got no response"
        assert result["r"].status_code == 200
        assert proc.wait(20) in (0, -signal.SIGTERM)  # uvicorn exits by the signal it drained on
    finally:
        stop(proc)
        proc.stderr.close()


# --- every error case, in process ---------------------------------------------------------
def call(
    config: dict,
    *,
    body=None,
    raw: bytes | None = None,
    headers=None,
    method="POST",
    path="/v1/chat/completions",
    transport=None,
    patch=None,
):
    """One request through a Gateway app (ASGI, no server); returns (status, json body, headers)."""

    async def go():
        gw = Gateway(parse_config(config), transport=transport)
        if patch:
            patch(gw)
        async with gw, httpx.AsyncClient(transport=httpx.ASGITransport(app=gw), base_url="http://gw") as c:
            content = raw if raw is not None else (None if body is None else json.dumps(body).encode())
            r = await c.request(method, path, content=content, headers=headers or {})
            return r.status_code, r.json(), r.headers

    return asyncio.run(go())


CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def ok(mocks):
    return {"models": [model("m", mocks["good"])]}


@pytest.mark.parametrize(
    "raw, param, text",
    [
        (b"{not json", None, "not valid JSON"),
        (b"[1, 2]", None, "JSON object"),
        (b'{"messages": [{"role": "user", "content": "x"}]}', "model", "missing required field 'model'"),
        (b'{"model": "m"}', "messages", "missing required field 'messages'"),
        (b'{"model": "m", "messages": [{"content": "x"}]}', "messages[0].role", "messages[0].role"),
        (b'{"model": "m", "messages": [{"role": "user"}]}', "messages[0].content", "messages[0].content"),
        (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}', "max_tokens", "positive"),
        (
            b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "routing_strategy": "best"}',
            "routing_strategy",
            "unknown",
        ),
        (b'{"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": "yes"}', "stream", "true or false"),
    ],
)
def test_bad_requests_are_400_naming_the_field(ok, raw, param, text):
    status, body, _ = call(ok, raw=raw)
    assert status == 400
    assert body["error"]["param"] == param and text in body["error"]["message"]
    assert body["error"]["type"] == "invalid_request_error"


def test_unknown_model_path_and_method(ok):
    assert call(ok, body={**CHAT, "model": "gpt-9"})[:2][1]["error"]["code"] == "model_not_found"
    assert call(ok, body={**CHAT, "model": "gpt-9"})[0] == 404
    assert call(ok, method="GET", path="/v2/nothing")[0] == 404
    assert call(ok, method="GET")[0] == 405


def test_body_over_the_limit_is_413(ok):
    status, body, _ = call(
        {**ok, "max_body_bytes": 1000}, body={**CHAT, "messages": [{"role": "user", "content": "x" * 2000}]}
    )
    assert status == 413 and body["error"]["code"] == "request_too_large"


def test_api_keys(ok):
    cfg = {**ok, "api_keys": ["k1"]}
    assert call(cfg, body=CHAT)[0] == 401
    assert call(cfg, body=CHAT, headers={"authorization": "Bearer k2"})[1]["error"]["type"] == "authentication_error"
    assert call(cfg, body=CHAT, headers={"authorization": "Bearer k1"})[0] == 200
    assert call(cfg, method="GET", path="/health")[0] == 200  # health needs no key


def test_backend_down_is_502_after_fallback():
    dead = [model("a", free_port()), model("b", free_port())]
    status, body, _ = call({"models": dead, "retries": 1}, body={**CHAT, "model": "auto"})
    assert status == 502 and body["error"]["code"] == "backend_unreachable"


def test_backend_errors_fall_back_to_the_next_model(mocks):
    cfg = {"models": [model("broken", mocks["broken"]), model("good", mocks["good"])], "retries": 0}
    status, _, headers = call(cfg, body={**CHAT, "model": "broken"})
    assert status == 200 and headers["x-intellirouter-model"] == "good"
    status, body, _ = call({**cfg, "fallback": False}, body={**CHAT, "model": "broken"})
    assert status == 502 and body["error"]["code"] == "backend_error"


def test_backend_timeout_is_504(mocks):
    status, body, _ = call({"models": [model("m", mocks["hang"])], "timeout_s": 0.3, "retries": 0}, body=CHAT)
    assert status == 504 and body["error"]["type"] == "timeout_error"


def test_backend_503_and_4xx(ok):
    def backend(status):
        return httpx.MockTransport(lambda req: httpx.Response(status, json={"error": {"message": "bad temperature"}}))

    assert call(ok, body=CHAT, transport=backend(503))[0] == 503
    status, body, _ = call(ok, body=CHAT, transport=backend(422))  # the client's fault: passed on, no retry
    assert status == 422 and "bad temperature" in body["error"]["message"]


def test_unexpected_errors_are_a_bare_500(ok, caplog):
    def explode(gw):
        def pick(*a, **k):
            raise RuntimeError("secret internal detail")

        gw.picker.pick = pick

    status, body, _ = call(ok, body=CHAT, patch=explode)
    assert status == 500 and "secret" not in str(body) and body["error"]["type"] == "server_error"
    assert "secret internal detail" in caplog.text  # logged for the operator


def test_rag_context_is_prepended(mocks):
    seen = {}

    def backend(req):
        seen.update(json.loads(req.content))
        return httpx.Response(200, json={"choices": [{"message": {"role": "assistant", "content": "ok"}}]})

    cfg = {
        "models": [model("m", mocks["good"])],
        "rag": {"sources": [{"name": "kb", "text": "The gateway listens on port 8000 by default."}]},
    }
    assert (
        call(
            cfg,
            body={**CHAT, "messages": [{"role": "user", "content": "which port"}], "rag": True},
            transport=httpx.MockTransport(backend),
        )[0]
        == 200
    )
    assert seen["messages"][0]["role"] == "system" and "port 8000" in seen["messages"][0]["content"]
    assert "rag" not in seen  # extension fields are not forwarded
    assert call({"models": cfg["models"]}, body={**CHAT, "rag": True})[0] == 400  # no sources configured


def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys):
    from intellirouter.cli import main

    bad = tmp_path / "router.yaml"
    bad.write_text("models: [{id: m}]\n")
    taken = free_port()
    cases = {
        ("serve", "--config", str(bad)): "models[0].endpoint: required",
        ("serve", "--config", str(tmp_path / "none.yaml")): "cannot read config",
        ("mock-llm", "--error-rate", "3"): "error_rate must be in [0, 1]",
    }
    for args, text in cases.items():
        assert main(list(args)) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and text in err and len(err.strip().splitlines()) == 1, err
    # and as a process, through the console entry point: one line, no traceback
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", taken))
        s.listen()
        r = subprocess.run(cli("mock-llm", "--port", str(taken)), cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert (
        r.returncode == 2 and r.stderr.strip() == f"error: cannot listen on 127.0.0.1:{taken}: Address already in use"
    )
