"""The gateway's request path (intellirouter.server), so a commit that slows it is caught.

- ``GatewayRequest.time_chat_completion``: one chat completion through the ASGI app in
  process (validate, route, memory, response and headers, metrics); the backend is a canned
  in-process reply, so only the gateway's own work is timed.
- ``GatewayLoopback.track_*``: a small bounded loopback run. A mock backend and the gateway
  run on uvicorn in one background event loop on 127.0.0.1 (free ports); a pooled client
  sends ``REQUESTS`` requests, ``CONCURRENCY`` at a time, through the gateway. RPS and p99
  of that run: the whole HTTP path, backend latency 0.

Commits before the gateway lack ``intellirouter.server``: setup raises NotImplementedError.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

from benchmarks.fixtures import require

REQUESTS = 200
CONCURRENCY = 8
BODY = json.dumps(
    {"model": "m", "messages": [{"role": "user", "content": "How do I route a request?"}], "max_tokens": 16}
)
REPLY = json.dumps(
    {
        "id": "c1",
        "object": "chat.completion",
        "created": 0,
        "model": "m",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Use a router."}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16},
    }
).encode()


class _CannedUpstream:
    """Stands in for the pooled client: every attempt answers REPLY at once."""

    def __init__(self, reply_type):
        self._reply = reply_type

    async def attempt(self, route, payload, stream):
        return self._reply(route, REPLY)

    async def aclose(self):
        pass


def _config(port: int):
    parse_config = require("intellirouter.server.config", "parse_config")
    return parse_config({"models": [{"id": "m", "endpoint": f"http://127.0.0.1:{port}/v1"}]}, env={})


class GatewayRequest:
    params = [["plain", "memory"]]
    param_names = ["kind"]
    rounds = 2
    repeat = (3, 10, 0.5)

    def setup(self, kind):
        Gateway = require("intellirouter.server.app", "Gateway")
        Reply = require("intellirouter.server.upstream", "Reply")
        self.loop = asyncio.new_event_loop()
        self.app = Gateway(_config(9))
        self.loop.run_until_complete(self.app.startup())
        self.loop.run_until_complete(self.app.upstream.aclose())
        self.app.upstream = _CannedUpstream(Reply)
        body = json.loads(BODY)
        if kind == "memory":
            body["conversation_id"] = "bench"
        self.body = json.dumps(body).encode()
        self.scope = {
            "type": "http",
            "method": "POST",
            "path": "/v1/chat/completions",
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(self.body)).encode())],
        }

    def teardown(self, kind):
        self.loop.run_until_complete(self.app.shutdown())
        self.loop.close()

    def time_chat_completion(self, kind):
        sent = []

        async def receive():
            return {"type": "http.request", "body": self.body, "more_body": False}

        async def send(message):
            sent.append(message)

        self.loop.run_until_complete(self.app(self.scope, receive, send))
        assert sent[0]["status"] == 200, sent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GatewayLoopback:
    rounds = 2
    repeat = 1
    number = 1
    timeout = 120

    def setup(self):
        Gateway = require("intellirouter.server.app", "Gateway")
        MockBackend, MockOptions = require("intellirouter.server.mock", "MockBackend", "MockOptions")
        try:
            import uvicorn
        except ImportError as exc:  # an environment without the server extra
            raise NotImplementedError(f"uvicorn is not installed: {exc}") from exc
        mock_port, gateway_port = _free_port(), _free_port()
        apps = [
            (MockBackend(MockOptions(latency_ms=0.0, completion_tokens=8)), mock_port),
            (Gateway(_config(mock_port)), gateway_port),
        ]
        self.servers = [
            uvicorn.Server(
                uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", access_log=False, lifespan="on")
            )
            for app, port in apps
        ]
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        for server in self.servers:
            asyncio.run_coroutine_threadsafe(server.serve(), self.loop)
        deadline = time.monotonic() + 20
        while not all(s.started for s in self.servers):
            if time.monotonic() > deadline:
                raise RuntimeError("the loopback servers did not start within 20 s")
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{gateway_port}/v1/chat/completions"
        self.result = None

    def teardown(self):
        for server in self.servers:
            server.should_exit = True
        time.sleep(0.3)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    async def _run(self):
        import aiohttp

        latencies = []
        async with aiohttp.ClientSession() as session:

            async def user(n):
                for _ in range(n):
                    t = time.perf_counter()
                    async with session.post(self.url, data=BODY, headers={"content-type": "application/json"}) as r:
                        await r.read()
                        assert r.status == 200
                    latencies.append(time.perf_counter() - t)

            t0 = time.perf_counter()
            await asyncio.gather(*(user(REQUESTS // CONCURRENCY) for _ in range(CONCURRENCY)))
            wall = time.perf_counter() - t0
        latencies.sort()
        return len(latencies) / wall, latencies[int(0.99 * (len(latencies) - 1))] * 1000

    def _measure(self):
        if self.result is None:  # one bounded run per process serves both track_ methods
            self.result = asyncio.run_coroutine_threadsafe(self._run(), self.loop).result(60)
        return self.result

    def track_rps(self):
        return self._measure()[0]

    track_rps.unit = "requests/s"

    def track_p99_ms(self):
        return self._measure()[1]

    track_p99_ms.unit = "ms"
