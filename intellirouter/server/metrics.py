"""Prometheus metrics of the gateway (prometheus_client), in the text exposition format.

With several worker processes ``intellirouter serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` and
``/metrics`` aggregates every worker's samples (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["GatewayMetrics", "CONTENT_TYPE_LATEST"]

# sub-millisecond to 100 ms for the gateway's own time; up to a minute for backends
OVERHEAD_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25)
BACKEND_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.requests = Counter(
            "intellirouter_requests", "Chat completion requests by model and status", ["model", "status"], registry=reg
        )
        self.overhead = Histogram(
            "intellirouter_overhead_seconds",
            "Time spent in the gateway per request, backend excluded",
            buckets=OVERHEAD_BUCKETS,
            registry=reg,
        )
        self.backend = Histogram(
            "intellirouter_backend_seconds",
            "Backend time per request (every attempt)",
            ["model"],
            buckets=BACKEND_BUCKETS,
            registry=reg,
        )
        self.failures = Counter(
            "intellirouter_backend_failures",
            "Failed backend attempts by model and kind",
            ["model", "kind"],
            registry=reg,
        )
        self.tokens = Counter(
            "intellirouter_tokens", "Tokens by model and kind (prompt, completion)", ["model", "kind"], registry=reg
        )
        self.in_flight = Gauge(
            "intellirouter_in_flight", "Chat completion requests in flight", registry=reg, multiprocess_mode="livesum"
        )

    def render(self) -> bytes:
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
