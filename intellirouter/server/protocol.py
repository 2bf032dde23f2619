"""OpenAI chat-completions requests: validation into :class:`ChatRequest`, nothing else.

Besides OpenAI's fields the gateway reads three of its own, removed before forwarding:
``conversation_id`` (server-side memory), ``routing_strategy`` (overrides the configured
strategy for this request) and ``rag`` (prepend retrieved context). With the ``openai``
client they go in ``extra_body``. ``model: "auto"`` lets the router choose; a registered
model id is a preference the router honours while that model qualifies.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from intellirouter.server.errors import ApiError, bad_request
from intellirouter.strategies import RoutingStrategy

__all__ = ["ChatRequest", "parse_chat_request", "message_text", "AUTO_MODEL", "EXTENSION_FIELDS"]

AUTO_MODEL = "auto"
EXTENSION_FIELDS = ("conversation_id", "routing_strategy", "rag")
ROLES = frozenset({"system", "user", "assistant", "tool", "developer", "function"})
MAX_CONVERSATION_ID = 256


@dataclass(slots=True)
class ChatRequest:
    body: dict[str, Any]  # what is forwarded (extension fields removed; model and messages set per attempt)
    model: str  # as asked: a model id or "auto"
    messages: list[dict[str, Any]]
    stream: bool
    max_tokens: int | None
    conversation_id: str | None
    strategy: RoutingStrategy | None
    rag: bool


def message_text(message: dict[str, Any]) -> str:
    """The text of one message: a string content, or the text parts of a content list."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def _check_message(i: int, message: Any) -> None:
    where = f"messages[{i}]"
    if not isinstance(message, dict):
        raise bad_request(f"{where} must be an object with 'role' and 'content'", where)
    role = message.get("role")
    if role is None:
        raise bad_request(f"missing required field '{where}.role'", f"{where}.role")
    if role not in ROLES:
        raise bad_request(f"{where}.role must be one of {', '.join(sorted(ROLES))}, got {role!r}", f"{where}.role")
    content = message.get("content")
    if content is None and role != "assistant":
        raise bad_request(f"missing required field '{where}.content'", f"{where}.content")
    if content is not None and not isinstance(content, (str, list)):
        raise bad_request(f"{where}.content must be a string or a list of content parts", f"{where}.content")


def _messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    messages = body.get("messages")
    if messages is None:
        raise bad_request("missing required field 'messages'", "messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("'messages' must be a non-empty array", "messages")
    for i, m in enumerate(messages):
        _check_message(i, m)
    return messages


def _optional(body: dict[str, Any], key: str, kind: type, what: str) -> Any:
    value = body.get(key)
    if value is not None and (not isinstance(value, kind) or (kind is int and isinstance(value, bool))):
        raise bad_request(f"'{key}' must be {what}, got {value!r}", key)
    return value


def _max_tokens(body: dict[str, Any]) -> int | None:
    for key in ("max_completion_tokens", "max_tokens"):
        value = _optional(body, key, int, "a positive integer")
        if value is not None:
            if value < 1:
                raise bad_request(f"'{key}' must be a positive integer, got {value}", key)
            return value
    return None


def _strategy(body: dict[str, Any]) -> RoutingStrategy | None:
    name = _optional(body, "routing_strategy", str, "a routing strategy name")
    if name is None:
        return None
    try:
        return RoutingStrategy(name)
    except ValueError:
        names = ", ".join(s.value for s in RoutingStrategy)
        raise bad_request(f"unknown routing_strategy {name!r} (one of {names})", "routing_strategy") from None


def _conversation_id(body: dict[str, Any]) -> str | None:
    cid = _optional(body, "conversation_id", str, "a string")
    if cid is not None and not (0 < len(cid) <= MAX_CONVERSATION_ID):
        raise bad_request(f"'conversation_id' must have 1 to {MAX_CONVERSATION_ID} characters", "conversation_id")
    return cid


def parse_chat_request(raw: bytes) -> ChatRequest:
    """Validate a request body; raises :class:`ApiError` (400) naming the offending field."""
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise bad_request(f"request body is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(body, dict):
        raise bad_request("request body must be a JSON object")
    model = body.get("model")
    if model is None:
        raise bad_request("missing required field 'model'", "model")
    if not isinstance(model, str) or not model:
        raise bad_request("'model' must be a non-empty string", "model")
    messages = _messages(body)
    stream = bool(_optional(body, "stream", bool, "true or false"))
    req = ChatRequest(
        body=body,
        model=model,
        messages=messages,
        stream=stream,
        max_tokens=_max_tokens(body),
        conversation_id=_conversation_id(body),
        strategy=_strategy(body),
        rag=bool(_optional(body, "rag", bool, "true or false")),
    )
    for key in EXTENSION_FIELDS:
        body.pop(key, None)
    return req


def upstream_error(status: int, raw: bytes) -> ApiError:
    """A backend's 4xx passed on to the client: its message when it sent an OpenAI error body."""
    message = f"the model backend rejected the request (HTTP {status})"
    try:
        err = orjson.loads(raw).get("error")
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            message = f"the model backend rejected the request: {err['message'][:500]}"
    except (orjson.JSONDecodeError, AttributeError):
        pass
    return ApiError(status, message, "upstream_rejected")
