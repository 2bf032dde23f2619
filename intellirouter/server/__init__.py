"""The IntelliRouter gateway: the library behind an OpenAI-compatible HTTP API.

Modules, one job each:

- ``config``   — ``router.yaml`` → :class:`~intellirouter.server.config.GatewayConfig` (validated)
- ``errors``   — OpenAI-shaped error bodies as values with status codes
- ``protocol`` — request validation and response shaping (OpenAI chat completions)
- ``asgi``     — the few ASGI helpers the apps need (body with a size limit, responses)
- ``state``    — conversation memory and usage counters, in-process or in Redis
- ``upstream`` — forwarding through one pooled ``httpx.AsyncClient`` with retries and fallback
- ``metrics``  — Prometheus metrics
- ``app``      — the gateway ASGI app (``create_app``)
- ``mock``     — the seeded OpenAI-compatible mock backend (``create_mock_app``)
- ``run``      — starting either app on uvicorn

Importing this package imports nothing heavy; the server extra (``pip install
intellirouter[server]``) provides uvicorn, httpx, prometheus_client, redis and pyyaml.
"""
