"""Starting the gateway or the mock backend on uvicorn (uvloop and httptools when installed).

The parent process validates everything first, so a bad configuration or a taken port is
one line and exit 2, never a worker's traceback. Workers import the app by name
(``factory=True``) and read their settings from the environment. SIGINT/SIGTERM stop
accepting connections, let in-flight requests finish (up to ``graceful_s``), then run the
app's shutdown (the connection pool closes, shared counters are flushed).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from pathlib import Path

from intellirouter.server.app import CONFIG_ENV
from intellirouter.server.config import load_config
from intellirouter.server.mock import MOCK_ENV, MockOptions

__all__ = ["serve_gateway", "serve_mock", "StartError"]


class StartError(Exception):
    """The server cannot start; the message is one line for the user."""


def _check_bind(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise StartError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _uvicorn(app: str, host: str, port: int, workers: int, log_level: str, graceful_s: float) -> None:
    try:
        import uvicorn
    except ImportError:
        raise StartError("uvicorn is not installed: pip install 'intellirouter[server]'") from None
    _check_bind(host, port)
    uvicorn.run(
        app,
        factory=True,
        host=host,
        port=port,
        workers=workers if workers > 1 else None,
        log_level=log_level,
        access_log=False,  # a log line per request costs more than the gateway's own work
        timeout_graceful_shutdown=graceful_s,
        timeout_keep_alive=30,
        backlog=4096,
    )


@contextlib.contextmanager
def _multiprocess_metrics(workers: int):
    """With several workers, prometheus_client's multiprocess mode in a private temp dir."""
    if workers <= 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        yield
        return
    path = tempfile.mkdtemp(prefix="intellirouter-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    try:
        yield
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        shutil.rmtree(path, ignore_errors=True)


def serve_gateway(
    config_path: str, host: str, port: int, workers: int = 1, log_level: str = "warning", graceful_s: float = 30.0
) -> None:
    """Validate ``config_path`` (ConfigError on a bad one), then serve until a signal."""
    path = Path(config_path).resolve()
    config = load_config(path)
    if config.redis_url:
        _check_redis(config.redis_url)
    os.environ[CONFIG_ENV] = str(path)
    with _multiprocess_metrics(workers):
        _uvicorn("intellirouter.server.app:create_app", host, port, workers, log_level, graceful_s)


def _check_redis(url: str) -> None:
    try:
        import redis
    except ImportError:
        raise StartError(
            "REDIS_URL is set but redis-py is not installed: pip install 'intellirouter[server]'"
        ) from None
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except (redis.RedisError, ValueError) as exc:
        raise StartError(f"cannot reach Redis at {url}: {exc}") from None


def serve_mock(options: MockOptions, host: str, port: int, workers: int = 1, log_level: str = "warning") -> None:
    try:
        options.check()
    except ValueError as exc:
        raise StartError(str(exc)) from None
    os.environ[MOCK_ENV] = options.to_env()
    # a mock may hold hanging requests (timeout_rate): do not wait long for them on shutdown
    _uvicorn("intellirouter.server.mock:create_mock_app", host, port, workers, log_level, 1.0)
