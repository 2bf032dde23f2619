"""``router.yaml`` → :class:`GatewayConfig`, validated with one clear message per problem.

Example (every key but ``models`` is optional)::

    strategy: round_robin            # any intellirouter.strategies.RoutingStrategy value
    fallback_strategies: [priority]
    retries: 1                       # extra attempts on the same model after a backend error
    fallback: true                   # then try the next model the router picks
    timeout_s: 30                    # per backend attempt (read); connect_timeout_s: 2
    max_body_bytes: 1048576          # larger request bodies get 413
    api_keys: [sk-local-1]           # Bearer keys; empty or absent = no auth
    http_client: aiohttp             # or httpx: the pooled client that forwards
    memory: {window: 20}             # conversation context sent to the model
    redis_url: redis://127.0.0.1:6379/0   # the REDIS_URL environment variable wins
    rag:
      max_chunks: 3
      max_chars: 2000
      sources: [{name: handbook, text: "..."}, {name: faq, file: faq.md}]
    models:
      - id: mock-gpt
        endpoint: http://127.0.0.1:9000/v1   # OpenAI-compatible base URL
        upstream_model: gpt-4o-mini          # the name the backend knows (default: id)
        provider: mock
        api_key: sk-backend                  # sent to the backend, never logged
        max_context_length: 8192
        tags: [code]
        priority: 1
        latency_ms: 50
        cost_per_1k_input: 0.15
        cost_per_1k_output: 0.6
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from intellirouter.errors import IntelliRouterError
from intellirouter.strategies import RoutingStrategy

__all__ = ["ConfigError", "ModelRoute", "RagSource", "GatewayConfig", "load_config", "parse_config"]


class ConfigError(IntelliRouterError, ValueError):
    """The gateway configuration is invalid; the message names the key."""


@dataclass(frozen=True)
class ModelRoute:
    id: str
    endpoint: str  # base URL, e.g. http://127.0.0.1:9000/v1
    upstream_model: str
    provider: str = "openai-compatible"
    api_key: str | None = field(default=None, repr=False)
    max_context_length: int = 8192
    tags: tuple[str, ...] = ()
    priority: int | None = None
    latency_ms: float | None = None
    cost_per_1k_input: float | None = None
    cost_per_1k_output: float | None = None


@dataclass(frozen=True)
class RagSource:
    name: str
    text: str


@dataclass(frozen=True)
class GatewayConfig:
    models: tuple[ModelRoute, ...]
    strategy: RoutingStrategy = RoutingStrategy.ROUND_ROBIN
    fallback_strategies: tuple[RoutingStrategy, ...] = ()
    retries: int = 1
    fallback: bool = True
    timeout_s: float = 30.0
    connect_timeout_s: float = 2.0
    max_body_bytes: int = 1 << 20
    api_keys: frozenset[str] = field(default=frozenset(), repr=False)
    memory_window: int = 20
    redis_url: str | None = None
    rag_sources: tuple[RagSource, ...] = ()
    rag_max_chunks: int = 3
    rag_max_chars: int = 2000
    max_connections: int = 1000  # pooled connections to all backends together
    http_client: str = "aiohttp"  # or httpx (see intellirouter.server.upstream)


# --- typed getters: each raises ConfigError naming the key --------------------------------
def _get(data: Mapping, key: str, kind: type | tuple, default: Any, where: str) -> Any:
    value = data.get(key, default)
    if value is default:
        return value
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if not isinstance(value, kind) or (isinstance(value, bool) and bool not in kinds):
        raise ConfigError(f"{where}{key}: expected {_kind_name(kind)}, got {value!r}")
    return value


def _kind_name(kind: type | tuple) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(k.__name__ for k in kinds)


def _positive(data: Mapping, key: str, kind: type | tuple, default: Any, where: str = "") -> Any:
    value = _get(data, key, kind, default, where)
    if value is not None and value <= 0:
        raise ConfigError(f"{where}{key}: must be > 0, got {value!r}")
    return value


def _strategy(value: Any, where: str) -> RoutingStrategy:
    try:
        return RoutingStrategy(value)
    except ValueError:
        names = ", ".join(s.value for s in RoutingStrategy)
        raise ConfigError(f"{where}: unknown routing strategy {value!r} (one of {names})") from None


def _model(data: Any, i: int) -> ModelRoute:
    where = f"models[{i}]."
    if not isinstance(data, Mapping):
        raise ConfigError(f"models[{i}]: expected a mapping, got {data!r}")
    model_id = _get(data, "id", str, None, where)
    endpoint = _get(data, "endpoint", str, None, where)
    if not model_id:
        raise ConfigError(f"{where}id: required (a non-empty string)")
    if not endpoint or not endpoint.startswith(("http://", "https://")):
        raise ConfigError(f"{where}endpoint: required, an http(s) base URL such as http://127.0.0.1:9000/v1")
    tags = _get(data, "tags", list, [], where)
    return ModelRoute(
        id=model_id,
        endpoint=endpoint.rstrip("/"),
        upstream_model=_get(data, "upstream_model", str, model_id, where),
        provider=_get(data, "provider", str, "openai-compatible", where),
        api_key=_get(data, "api_key", str, None, where),
        max_context_length=_positive(data, "max_context_length", int, 8192, where),
        tags=tuple(str(t) for t in tags),
        priority=_positive(data, "priority", int, None, where),
        latency_ms=_positive(data, "latency_ms", (int, float), None, where),
        cost_per_1k_input=_get(data, "cost_per_1k_input", (int, float), None, where),
        cost_per_1k_output=_get(data, "cost_per_1k_output", (int, float), None, where),
    )


def _rag_sources(rag: Mapping, base: Path) -> tuple[RagSource, ...]:
    out = []
    for i, src in enumerate(_get(rag, "sources", list, [], "rag.")):
        where = f"rag.sources[{i}]."
        if not isinstance(src, Mapping):
            raise ConfigError(f"rag.sources[{i}]: expected a mapping with name and text or file")
        name = _get(src, "name", str, None, where)
        text, file = _get(src, "text", str, None, where), _get(src, "file", str, None, where)
        if not name or (text is None) == (file is None):
            raise ConfigError(f"rag.sources[{i}]: needs a name and exactly one of text or file")
        if file is not None:
            path = base / file
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise ConfigError(f"{where}file: cannot read {path}: {exc.strerror}") from None
        out.append(RagSource(name, text))
    return tuple(out)


def _http_client(data: Mapping) -> str:
    name = _get(data, "http_client", str, "aiohttp", "")
    if name not in ("aiohttp", "httpx"):
        raise ConfigError(f"http_client: aiohttp or httpx, got {name!r}")
    return name


def parse_config(data: Any, base: Path = Path("."), env: Mapping[str, str] = os.environ) -> GatewayConfig:
    """Validate a parsed YAML document; ``base`` resolves relative RAG files."""
    if not isinstance(data, Mapping):
        raise ConfigError("the configuration must be a mapping with a 'models' list")
    models = _get(data, "models", list, None, "")
    if not models:
        raise ConfigError("models: required, a non-empty list of {id, endpoint}")
    routes = tuple(_model(m, i) for i, m in enumerate(models))
    ids = [m.id for m in routes]
    if len(set(ids)) != len(ids):
        raise ConfigError(f"models: duplicate id {next(i for i in ids if ids.count(i) > 1)!r}")
    memory = _get(data, "memory", dict, {}, "")
    rag = _get(data, "rag", dict, {}, "")
    keys = _get(data, "api_keys", list, [], "")
    env_keys = [k for k in env.get("INTELLIROUTER_API_KEYS", "").split(",") if k]
    retries = _get(data, "retries", int, 1, "")
    if retries < 0:
        raise ConfigError(f"retries: must be >= 0, got {retries}")
    return GatewayConfig(
        models=routes,
        strategy=_strategy(data.get("strategy", "round_robin"), "strategy"),
        fallback_strategies=tuple(
            _strategy(s, "fallback_strategies") for s in _get(data, "fallback_strategies", list, [], "")
        ),
        retries=retries,
        fallback=_get(data, "fallback", bool, True, ""),
        timeout_s=_positive(data, "timeout_s", (int, float), 30.0),
        connect_timeout_s=_positive(data, "connect_timeout_s", (int, float), 2.0),
        max_body_bytes=_positive(data, "max_body_bytes", int, 1 << 20),
        api_keys=frozenset(str(k) for k in keys) | frozenset(env_keys),
        memory_window=_positive(memory, "window", int, 20, "memory."),
        redis_url=env.get("REDIS_URL") or _get(data, "redis_url", str, None, ""),
        rag_sources=_rag_sources(rag, base),
        rag_max_chunks=_positive(rag, "max_chunks", int, 3, "rag."),
        rag_max_chars=_positive(rag, "max_chars", int, 2000, "rag."),
        max_connections=_positive(data, "max_connections", int, 1000),
        http_client=_http_client(data),
    )


def load_config(path: str | os.PathLike, env: Mapping[str, str] = os.environ) -> GatewayConfig:
    """Read and validate ``path``; every failure is a one-line :class:`ConfigError`."""
    import yaml

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {p}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"config {p} is not valid YAML{at}") from None
    return parse_config(data, p.parent, env)
